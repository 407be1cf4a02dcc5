/*
 * segment.c — execution segments of one schedule (sched.h), after k6's.
 *
 * A segment [a, b) with the sequence's least common denominator D owns the
 * request indexes whose residue mod D lies in [a*D, b*D): a contiguous run
 * of slots per stripe of D requests. So index mapping is O(1) both ways:
 *     local i -> global  (i / k) * D + lo + i % k        (k = hi - lo)
 *     global g -> local  (g / D) * k + (g % D - lo)      when lo <= g % D < hi
 * and the segment's count is (n / D) * k + clamp(n % D - lo, 0, k). Every
 * index of [0, n) falls in exactly one segment of a sequence, so the
 * segments' counts add up to n and their rates to the whole rate.
 */
#include "engrave/sched.h"
#include "engrave/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEN_MAX 1000000ULL

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* "N/M" or "N" -> reduced fraction in [0, 1]. */
static int parse_frac(const char *s, size_t len, uint64_t *num, uint64_t *den)
{
	char tmp[32];
	if (!len || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	char *end;
	unsigned long long n = strtoull(tmp, &end, 10), d = 1;
	if (end == tmp)
		return -1;
	if (*end == '/') {
		char *e2;
		d = strtoull(end + 1, &e2, 10);
		if (e2 == end + 1 || *e2)
			return -1;
	} else if (*end) {
		return -1;
	}
	if (d == 0 || d > DEN_MAX || n > d)
		return -1;
	uint64_t g = gcd(n, d);
	*num = n / (g ? g : 1);
	*den = d / (g ? g : 1);
	if (n == 0)
		*den = 1;
	return 0;
}

static uint64_t lcm(uint64_t a, uint64_t b, int *overflow)
{
	uint64_t l = a / gcd(a, b) * b;
	if (l > DEN_MAX)
		*overflow = 1;
	return l;
}

/* The sequence's ends: D, and whether a and b are neighbours in it. */
static int check_sequence(const char *seq, struct sched_segment *o, struct err *e)
{
	uint64_t prev_n = 0, prev_d = 1, den = 1;
	int overflow = 0, found = 0, first = 1, last_is_one = 0;
	for (const char *p = seq; *p;) {
		size_t len = strcspn(p, ",");
		uint64_t n, d;
		if (parse_frac(p, len, &n, &d))
			return err_set(e, ERR_USAGE, "segment sequence '%s': '%.*s' is not a fraction in [0, 1]", seq,
				       (int)len, p);
		if (first && n != 0)
			return err_set(e, ERR_USAGE, "segment sequence '%s' must start at 0", seq);
		if (!first && n * prev_d <= prev_n * d)
			return err_set(e, ERR_USAGE, "segment sequence '%s' must increase", seq);
		if (!first && prev_n == o->a_num && prev_d == o->a_den && n == o->b_num && d == o->b_den)
			found = 1;
		den = lcm(den, d, &overflow);
		prev_n = n, prev_d = d, first = 0;
		last_is_one = n == d;
		p += len + (p[len] == ',');
	}
	if (!last_is_one)
		return err_set(e, ERR_USAGE, "segment sequence '%s' must end at 1", seq);
	if (!found)
		return err_set(e, ERR_USAGE, "segment %s is not two neighbours of the sequence '%s'", o->text, seq);
	if (overflow)
		return err_set(e, ERR_USAGE, "segment sequence '%s': denominators too large", seq);
	o->den = den;
	return 0;
}

int sched_segment_parse(const char *text, const char *sequence, struct sched_segment *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	const char *colon = strchr(text, ':');
	if (!colon || parse_frac(text, (size_t)(colon - text), &out->a_num, &out->a_den) ||
	    parse_frac(colon + 1, strlen(colon + 1), &out->b_num, &out->b_den)) {
		err_set(e, ERR_USAGE, "segment '%s' is not A:B with fractions in [0, 1]", text);
		return err_hint(e, "e.g. --segment 1/3:2/3 (the second of three equal parts)");
	}
	if (out->a_num * out->b_den >= out->b_num * out->a_den)
		return err_set(e, ERR_USAGE, "segment '%s': its start must be below its end", text);
	snprintf(out->text, sizeof(out->text), "%llu/%llu:%llu/%llu", (unsigned long long)out->a_num,
		 (unsigned long long)out->a_den, (unsigned long long)out->b_num, (unsigned long long)out->b_den);
	if (sequence && *sequence)
		return check_sequence(sequence, out, e);
	int overflow = 0;
	out->den = lcm(out->a_den, out->b_den, &overflow);
	return overflow ? err_set(e, ERR_USAGE, "segment '%s': denominators too large", text) : 0;
}

void sched_set_segment(struct sched *s, const struct sched_segment *seg)
{
	uint64_t D = seg->den;
	s->seg_den = D;
	s->seg_lo = seg->a_num * (D / seg->a_den);
	s->seg_hi = seg->b_num * (D / seg->b_den);
	uint64_t k = s->seg_hi - s->seg_lo, r = s->n_all % D;
	uint64_t tail = r > s->seg_lo ? r - s->seg_lo : 0;
	s->n = s->n_all / D * k + (tail < k ? tail : k);
}

uint64_t sched_global_index(const struct sched *s, uint64_t i)
{
	uint64_t k = s->seg_hi - s->seg_lo;
	return i / k * s->seg_den + s->seg_lo + i % k;
}

int sched_local_index(const struct sched *s, uint64_t g, uint64_t *i)
{
	uint64_t r = g % s->seg_den, k = s->seg_hi - s->seg_lo;
	if (r < s->seg_lo || r >= s->seg_hi || g >= s->n_all)
		return 0;
	*i = g / s->seg_den * k + (r - s->seg_lo);
	return 1;
}
