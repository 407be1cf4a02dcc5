/*
 * fuzz_jsonf.c — libFuzzer harness: the hand-written JSON readers of jsonf.c.
 *
 * jsonf.c is the one hand-written JSON code on the response path (float
 * arrays, base64 float32, a structural skipper), so it gets its own
 * harness. The input goes through each reader; positions returned must lie
 * inside the input, and every float read must survive jsonf_write_f32 and
 * a second parse bit for bit (jsonf.h promises shortest round-trip text)
 * and equal what libc's strtof reads from the same token (correct
 * rounding).
 */
#include "fuzzlib.h"

#include "engrave/jsonf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CAP 64

static void check_pos(const char *p, const char *lo, const char *hi)
{
	if (p && (p < lo || p > hi))
		abort();
}

static void roundtrip(float v)
{
	if (!isfinite(v))
		return;
	char txt[JSONF_F32_MAX];
	size_t len = jsonf_write_f32(txt, v);
	if (len >= JSONF_F32_MAX || txt[len] != '\0')
		abort();
	float back;
	const char *end;
	if (jsonf_parse_f32(txt, txt + len, &back, &end) != JSONF_OK || end != txt + len ||
	    memcmp(&back, &v, sizeof(v)) != 0)
		abort();
}

/* jsonf.h: "reads any JSON number and rounds it correctly to float32":
 * libc's strtof is the reference where it gives a finite value. */
static void same_as_strtof(const char *a, const char *b, float v)
{
	char tok[512];
	size_t len = (size_t)(b - a);
	if (len >= sizeof(tok))
		return;
	memcpy(tok, a, len);
	tok[len] = '\0';
	float ref = strtof(tok, NULL);
	if (isfinite(ref) && memcmp(&ref, &v, sizeof(v)) != 0 && !(ref == 0 && v == 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	/* a private copy, unterminated: readers must stop at the limit */
	char *p = malloc(n ? n : 1);
	memcpy(p, data, n);
	const char *lim = p + n, *end = NULL;
	float out[CAP];
	size_t got = 0;
	if (jsonf_parse_f32_array(p, n, out, CAP, &got, &end) == JSONF_OK) {
		check_pos(end, p, lim);
		for (size_t i = 0; i < got; i++)
			roundtrip(out[i]);
	}
	float v;
	if (n && jsonf_parse_f32(p, lim, &v, &end) == JSONF_OK) {
		check_pos(end, p, lim);
		roundtrip(v);
		same_as_strtof(p, end, v);
	}
	if (jsonf_unb64_f32(p, n, out, CAP, &got) == JSONF_OK && got > CAP)
		abort();
	for (const char *q = jsonf_skip_ws(p, lim); q && q < lim;) {
		check_pos(q, p, lim);
		const char *k = jsonf_match_string(q, lim, "embedding");
		check_pos(k, p, lim);
		const char *nx = jsonf_skip_value(q, lim);
		check_pos(nx, p, lim);
		if (!nx || nx == q)
			break;
		q = jsonf_skip_ws(nx, lim);
		if (q && q < lim && (*q == ',' || *q == ':'))
			q = jsonf_skip_ws(q + 1, lim);
	}
	free(p);
	return 0;
}
