/*
 * test_jsonf.c — float32 <-> JSON text: exact round trips over millions of
 * random bit patterns (every finite float class: normals, subnormals,
 * zeros), shortest output compared with printf("%.Ng"), correct rounding
 * of arbitrary decimal text, arrays, base64 and the structural reader.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/jsonf.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t bits_of(float f)
{
	uint32_t b;
	memcpy(&b, &f, 4);
	return b;
}

static float float_of(uint32_t b)
{
	float f;
	memcpy(&f, &b, 4);
	return f;
}

Test(jsonf, known_values)
{
	char s[JSONF_F32_MAX];
	struct { float v; const char *want; } cases[] = {
		{ 0.0f, "0" }, { -0.0f, "-0" }, { 1.0f, "1" }, { -2.5f, "-2.5" }, { 0.1f, "0.1" },
		{ 1e-7f, "1e-7" }, { 123456.0f, "123456" }, { 1e9f, "1e9" }, { 0.3f, "0.3" },
		{ 3.4028235e38f, "3.4028235e38" }, { 1.1754944e-38f, "1.1754944e-38" },
		{ 1e-45f, "1e-45" }, { 0.00001f, "0.00001" }, { 100000000.0f, "100000000" },
		{ 16777216.0f, "16777216" }, { 0.33333334f, "0.33333334" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = jsonf_write_f32(s, cases[i].v);
		cr_assert_str_eq(s, cases[i].want);
		cr_assert_eq(n, strlen(cases[i].want));
	}
	cr_assert_eq(jsonf_write_f32(s, NAN), 4);
	cr_assert_str_eq(s, "null");
}

Test(jsonf, two_million_random_floats_round_trip_exactly_and_shortest)
{
	char s[JSONF_F32_MAX], ref[32];
	size_t checked = 0;
	for (int i = 0; i < 2000000; i++) {
		uint32_t b = (uint32_t)next();
		if (((b >> 23) & 0xff) == 0xff)
			continue;
		float f = float_of(b);
		size_t n = jsonf_write_f32(s, f);
		cr_assert_lt(n, (size_t)JSONF_F32_MAX);
		float back = strtof(s, NULL);
		if (bits_of(back) != b)
			cr_assert_fail("%08x formatted as %s reads back as %08x", b, s, bits_of(back));
		float mine;
		const char *end;
		cr_assert_eq(jsonf_parse_f32(s, s + n, &mine, &end), JSONF_OK);
		cr_assert_eq(end, s + n);
		if (bits_of(mine) != b)
			cr_assert_fail("%s parsed as %08x, want %08x", s, bits_of(mine), b);
		if (i % 16 == 0) { /* shortest: no printf precision that round-trips is shorter */
			int p;
			for (p = 1; p < 9; p++) {
				snprintf(ref, sizeof(ref), "%.*g", p, f);
				if (strtof(ref, NULL) == f)
					break;
			}
			int nd = 0, started = 0;
			for (const char *c = s; *c && *c != 'e'; c++) {
				started |= *c >= '1' && *c <= '9';
				nd += started && *c >= '0' && *c <= '9';
			}
			if (!strchr(s, '.') && !strchr(s, 'e'))
				for (const char *c = s + n; c > s && c[-1] == '0'; c--)
					nd--;
			if (f != 0 && nd > p)
				cr_assert_fail("%s has %d digits, %%.%dg = %s round-trips", s, nd, p, ref);
		}
		checked++;
	}
	cr_assert_gt(checked, 1900000);
}

Test(jsonf, all_subnormals_and_float_boundaries)
{
	char s[JSONF_F32_MAX];
	/* every 97th subnormal, plus the first and last 1000 of each binade edge */
	for (uint32_t b = 1; b < 0x800000; b += 97) {
		jsonf_write_f32(s, float_of(b));
		cr_assert_eq(bits_of(strtof(s, NULL)), b, "%08x -> %s", b, s);
	}
	for (uint32_t e = 1; e < 255; e++)
		for (int d = -3; d <= 3; d++) {
			uint32_t b = (e << 23) + (uint32_t)d;
			jsonf_write_f32(s, float_of(b));
			cr_assert_eq(bits_of(strtof(s, NULL)), b, "%08x -> %s", b, s);
		}
}

Test(jsonf, parser_rounds_arbitrary_decimals_like_strtof)
{
	char t[64];
	for (int i = 0; i < 500000; i++) {
		int nd = 1 + (int)(next() % 22), pos = (int)(next() % (uint64_t)(nd + 1));
		char *p = t;
		if (next() & 1)
			*p++ = '-';
		for (int k = 0; k < nd; k++) {
			if (k == pos && k > 0)
				*p++ = '.';
			*p++ = (char)('0' + next() % 10);
		}
		if (next() % 3 == 0)
			p += sprintf(p, "e%d", (int)(next() % 100) - 50);
		*p = 0;
		float want = strtof(t, NULL), got;
		const char *end;
		cr_assert_eq(jsonf_parse_f32(t, p, &got, &end), JSONF_OK, "%s", t);
		cr_assert_eq(end, p);
		if (bits_of(want) != bits_of(got))
			cr_assert_fail("%s: strtof %a, jsonf %a", t, want, got);
	}
	/* exact halfway between 1 and the next float: ties to even (1) */
	float f;
	const char *end;
	const char *half = "1.000000059604644775390625";
	cr_assert_eq(jsonf_parse_f32(half, half + strlen(half), &f, &end), JSONF_OK);
	cr_assert_eq(f, 1.0f);
	const char *above = "1.0000000596046447753906251";
	cr_assert_eq(jsonf_parse_f32(above, above + strlen(above), &f, &end), JSONF_OK);
	cr_assert_eq(bits_of(f), 0x3f800001u);
	/* a 300-digit number takes the slow path and still rounds right */
	char longnum[320] = "0.";
	memset(longnum + 2, '3', 300);
	longnum[302] = 0;
	cr_assert_eq(jsonf_parse_f32(longnum, longnum + 302, &f, &end), JSONF_OK);
	cr_assert_eq(end, longnum + 302);
	cr_assert_eq(f, 1.0f / 3.0f);
}

Test(jsonf, arrays)
{
	float v[5] = { 0.5f, -1e-7f, 3.0f, 0.1f, 1e30f }, out[8];
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(jsonf_write_f32_array(&b, v, 5), 0);
	cr_assert_str_eq(b.data, "[0.5,-1e-7,3,0.1,1e30]");
	size_t n;
	const char *end;
	cr_assert_eq(jsonf_parse_f32_array(b.data, b.len, out, 8, &n, &end), JSONF_OK);
	cr_assert_eq(n, 5);
	cr_assert_eq(end, b.data + b.len);
	cr_assert_eq(memcmp(v, out, sizeof(v)), 0);

	const char *ws = " [ 1 ,\n 2.5e+1\t, -0.0 ] tail";
	cr_assert_eq(jsonf_parse_f32_array(ws, strlen(ws), out, 8, &n, &end), JSONF_OK);
	cr_assert_eq(n, 3);
	cr_assert_eq(out[1], 25.0f);
	cr_assert(signbit(out[2]));
	cr_assert_str_eq(end, " tail");

	cr_assert_eq(jsonf_parse_f32_array("[]", 2, out, 8, &n, &end), JSONF_OK);
	cr_assert_eq(n, 0);
	cr_assert_eq(jsonf_parse_f32_array("[1,2,3]", 7, out, 2, &n, &end), JSONF_ECAP);
	cr_assert_eq(jsonf_parse_f32_array("[1,,2]", 6, out, 8, &n, &end), JSONF_ESYNTAX);
	cr_assert_eq(*end, ',');
	cr_assert_eq(jsonf_parse_f32_array("[1, x]", 6, out, 8, &n, &end), JSONF_ESYNTAX);
	cr_assert_eq(*end, 'x');
	cr_assert_eq(jsonf_parse_f32_array("[1, 2", 5, out, 8, &n, &end), JSONF_ESYNTAX);
	cr_assert_eq(jsonf_parse_f32_array("[1.]", 4, out, 8, &n, &end), JSONF_ESYNTAX);

	/* non-finite values have no JSON form */
	buf_reset(&b);
	float bad[2] = { 1.0f, INFINITY };
	cr_assert_eq(jsonf_write_f32_array(&b, bad, 2), -1);
	/* the buffer's limit is honoured */
	struct buf small;
	buf_init(&small, 16);
	cr_assert_eq(jsonf_write_f32_array(&small, v, 5), -1);
	buf_release(&small);
	buf_release(&b);
	cr_assert_str_eq(jsonf_strerror(JSONF_ECAP), "more values than expected");
}

Test(jsonf, large_vector_round_trip)
{
	enum { N = 768 };
	float v[N], out[N];
	for (int i = 0; i < N; i++)
		v[i] = (float)((double)(int64_t)next() / 9.3e18);
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(jsonf_write_f32_array(&b, v, N), 0);
	size_t n;
	cr_assert_eq(jsonf_parse_f32_array(b.data, b.len, out, N, &n, NULL), JSONF_OK);
	cr_assert_eq(n, N);
	cr_assert_eq(memcmp(v, out, sizeof(v)), 0);
	buf_release(&b);
}

Test(jsonf, strings)
{
	struct buf b;
	buf_init(&b, 0);
	const char s[] = "a\"b\\c\nd\x01\xc3\xa9";
	cr_assert_eq(jsonf_write_string(&b, s, sizeof(s) - 1, NULL), 0);
	cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\"");
	buf_release(&b);
}

Test(jsonf, base64)
{
	float v[3] = { 1.0f, -2.0f, 0.5f }, out[4];
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(jsonf_b64_f32(&b, v, 1, NULL), 0);
	cr_assert_str_eq(b.data, "AACAPw=="); /* 00 00 80 3f */
	buf_reset(&b);
	cr_assert_eq(jsonf_b64_f32(&b, v, 3, NULL), 0);
	cr_assert_str_eq(b.data, "AACAPwAAAMAAAAA/");
	size_t n;
	cr_assert_eq(jsonf_unb64_f32(b.data, b.len, out, 4, &n), JSONF_OK);
	cr_assert_eq(n, 3);
	cr_assert_eq(memcmp(v, out, sizeof(v)), 0);
	cr_assert_eq(jsonf_unb64_f32(b.data, b.len, out, 2, &n), JSONF_ECAP);
	cr_assert_eq(jsonf_unb64_f32("AAC*Pw==", 8, out, 4, &n), JSONF_ESYNTAX);
	cr_assert_eq(jsonf_unb64_f32("AACAP", 5, out, 4, &n), JSONF_ESYNTAX);

	/* a long vector crosses the internal chunking */
	enum { N = 1000 };
	float big[N], back[N];
	for (int i = 0; i < N; i++)
		big[i] = float_of((uint32_t)next() & 0x7f7fffffu);
	buf_reset(&b);
	cr_assert_eq(jsonf_b64_f32(&b, big, N, NULL), 0);
	cr_assert_eq(b.len, (N * 4 + 2) / 3 * 4);
	cr_assert_eq(jsonf_unb64_f32(b.data, b.len, back, N, &n), JSONF_OK);
	cr_assert_eq(n, N);
	cr_assert_eq(memcmp(big, back, sizeof(big)), 0);
	buf_release(&b);
}

Test(jsonf, structural_reader)
{
	const char *j = "{\"object\":\"list\",\"data\":[{\"embedding\":[1,2],\"index\":0}],"
			"\"x\":{\"a\":[true,false,null,\"s\\\"]\"]},\"n\":-1.5e3} ";
	const char *lim = j + strlen(j);
	const char *p = jsonf_skip_value(j, lim);
	cr_assert_not_null(p);
	cr_assert_str_eq(p, " ");
	p = jsonf_skip_ws(j + 1, lim);
	cr_assert_null(jsonf_match_string(p, lim, "data"));
	const char *after = jsonf_match_string(p, lim, "object");
	cr_assert_not_null(after);
	cr_assert_eq(*after, ':');
	cr_assert_null(jsonf_skip_value("{\"a\":}", j + 0 + 6));
	cr_assert_null(jsonf_skip_value("[1,2", (const char *)"[1,2" + 4));
	cr_assert_null(jsonf_skip_value("\"abc", (const char *)"\"abc" + 4));
}
