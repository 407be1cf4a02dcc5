/*
 * text.c — edit distance for suggestions, and duration/size formatting.
 */
#include "engrave/text.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t text_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xmalloc_array(lb + 1, sizeof(*row));
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = diag + cost;
			if (up + 1 < best) best = up + 1;
			if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	size_t d = row[lb];
	free(row);
	return d;
}

const char *text_suggest(const char *word, const char *const *candidates)
{
	size_t limit = strlen(word) / 3;
	if (limit < 2)
		limit = 2;
	const char *best = NULL;
	size_t best_d = limit + 1;
	for (; *candidates; candidates++) {
		size_t d = text_edit_distance(word, *candidates);
		if (d < best_d) {
			best_d = d;
			best = *candidates;
		}
	}
	return best;
}

int text_parse_duration_ns(const char *s, unsigned long long *out_ns)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	double mult;
	if (!*end || !strcmp(end, "s")) mult = 1e9;
	else if (!strcmp(end, "ms")) mult = 1e6;
	else if (!strcmp(end, "us")) mult = 1e3;
	else if (!strcmp(end, "ns")) mult = 1;
	else if (!strcmp(end, "m")) mult = 60e9;
	else if (!strcmp(end, "h")) mult = 3600e9;
	else return -1;
	/* NaN, infinity and anything past 2^64 ns (584 years) are not durations:
	 * converting them to an integer is undefined (fuzz_spec found "7700421h") */
	double ns = v * mult + 0.5;
	if (!(ns < 18446744073709551616.0)) /* 2^64 */
		return -1;
	*out_ns = (unsigned long long)ns;
	return 0;
}

void text_format_bytes(unsigned long long n, char *out, size_t cap)
{
	static const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)n;
	int i = 0;
	while (v >= 1024 && i < 6) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(out, cap, "%llu B", n);
	else
		snprintf(out, cap, "%.1f %s", v, u[i]);
}
