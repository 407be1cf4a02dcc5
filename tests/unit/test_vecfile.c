/*
 * test_vecfile.c — vector files (.npy, .fvecs, CSV) and JSON Lines records:
 * round trips that are bit-exact, and bad inputs that fail with messages a
 * user can act on (wrong dtype/order/dim, truncation, non-numeric values).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/jsonl.h"
#include "engrave/vecfile.h"
#include "../lib/testutil.h"

static char *dir;

static void setup(void) { dir = test_tmpdir("vecfile"); }
static void teardown(void)
{
	test_rmtree(dir);
	free(dir);
}

static const char *path_in(const char *name)
{
	static char p[4][4096];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	cr_assert(f);
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void fill(float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (float)sin((double)i * 0.37) * (i % 7 ? 1.0f : 1e-30f) + (float)(i % 3) * 1e6f;
}

/* Hand-made .npy with any header text and version. */
static void write_npy(const char *path, int version, const char *dict, const void *data, size_t len)
{
	unsigned char out[4096];
	size_t pre = version == 1 ? 10 : 12;
	size_t hl = strlen(dict) + 1;
	while ((pre + hl) % 64)
		hl++;
	memcpy(out, "\x93NUMPY", 6);
	out[6] = (unsigned char)version;
	out[7] = 0;
	if (version == 1) {
		out[8] = (unsigned char)(hl & 0xff);
		out[9] = (unsigned char)(hl >> 8);
	} else {
		uint32_t h32 = (uint32_t)hl;
		memcpy(out + 8, &h32, 4);
	}
	memset(out + pre, ' ', hl);
	memcpy(out + pre, dict, strlen(dict));
	out[pre + hl - 1] = '\n';
	memcpy(out + pre + hl, data, len);
	write_file(path, out, pre + hl + len);
}

static int open_err(const char *path, uint32_t dim, struct err *e)
{
	struct vecfile_reader *r = NULL;
	err_clear(e);
	int rc = vecfile_reader_open(&r, path, dim, e);
	vecfile_reader_close(r);
	return rc;
}

TestSuite(vecfile, .init = setup, .fini = teardown);
TestSuite(jsonl, .init = setup, .fini = teardown);

Test(vecfile, formats_from_names)
{
	cr_expect_eq(vecfile_format_from_path("a/b.NPY"), VECFILE_NPY);
	cr_expect_eq(vecfile_format_from_path("x.fvecs"), VECFILE_FVECS);
	cr_expect_eq(vecfile_format_from_path("x.csv"), VECFILE_CSV);
	cr_expect_eq(vecfile_format_from_path("dir.npy/file"), VECFILE_UNKNOWN);
	cr_expect_eq(vecfile_format_from_name("fvecs"), VECFILE_FVECS);
	cr_expect_str_eq(vecfile_format_name(VECFILE_NPY), "npy");
}

static void round_trip(enum vecfile_format fmt, const char *name)
{
	enum { ROWS = 1000, DIM = 37 };
	static float in[ROWS * DIM], out[ROWS * DIM];
	fill(in, ROWS * DIM);
	struct err e = ERR_INIT;
	struct vecfile_writer *w;
	const char *p = path_in(name);
	cr_assert_eq(vecfile_writer_open(&w, p, fmt, DIM, &e), 0, "%s", e.msg);
	cr_assert_eq(vecfile_writer_write(w, in, 300, NULL, NULL, &e), 0);
	cr_assert_eq(vecfile_writer_write(w, in + 300 * DIM, ROWS - 300, NULL, NULL, &e), 0);
	cr_expect_eq(vecfile_writer_rows(w), ROWS);
	cr_assert_eq(vecfile_writer_close(w, &e), 0, "%s", e.msg);

	struct vecfile_reader *r;
	cr_assert_eq(vecfile_reader_open(&r, p, DIM, &e), 0, "%s", e.msg);
	cr_expect_eq(vecfile_reader_rows(r), ROWS);
	cr_expect_eq(vecfile_reader_dim(r), DIM);
	cr_expect_eq(vecfile_reader_format(r), fmt);
	size_t got = 0;
	long n;
	while ((n = vecfile_reader_read(r, out + got * DIM, 128, &e)) > 0)
		got += (size_t)n;
	cr_expect_eq(n, 0, "%s", e.msg);
	cr_expect_eq(got, ROWS);
	cr_expect_eq(memcmp(in, out, sizeof(in)), 0, "bit-exact round trip");
	vecfile_reader_close(r);
}

Test(vecfile, npy_round_trip) { round_trip(VECFILE_NPY, "m.npy"); }
Test(vecfile, fvecs_round_trip) { round_trip(VECFILE_FVECS, "m.fvecs"); }

Test(vecfile, npy_header_is_numpy_v1)
{
	float v[6] = { 1, 2, 3, 4, 5, 6 };
	struct vecfile_writer *w;
	const char *p = path_in("h.npy");
	cr_assert_eq(vecfile_writer_open(&w, p, VECFILE_NPY, 3, NULL), 0);
	cr_assert_eq(vecfile_writer_write(w, v, 2, NULL, NULL, NULL), 0);
	cr_assert_eq(vecfile_writer_close(w, NULL), 0);
	const char *t = read_text(p);
	cr_expect_eq(memcmp(t, "\x93NUMPY\x01\x00", 8), 0);
	cr_expect(strstr(t + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
	cr_expect_eq(t[127], '\n', "header padded to 128 bytes");
}

Test(vecfile, npy_versions_2_and_3_and_unknown_extension)
{
	float v[4] = { 0.5f, -1.5f, 2.25f, 3 };
	write_npy(path_in("v2.npy"), 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", v, sizeof(v));
	write_npy(path_in("v3.data"), 3, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1, 4)}", v,
		  sizeof(v));
	struct vecfile_reader *r;
	struct err e = ERR_INIT;
	float out[4];
	cr_assert_eq(vecfile_reader_open(&r, path_in("v2.npy"), 0, &e), 0, "%s", e.msg);
	cr_expect_eq(vecfile_reader_rows(r), 2);
	cr_expect_eq(vecfile_reader_read(r, out, 10, &e), 2);
	cr_expect_eq(memcmp(out, v, sizeof(v)), 0);
	vecfile_reader_close(r);
	cr_assert_eq(vecfile_reader_open(&r, path_in("v3.data"), 4, &e), 0, "%s", e.msg);
	cr_expect_eq(vecfile_reader_format(r), VECFILE_NPY, "sniffed from the magic");
	cr_expect_eq(vecfile_reader_dim(r), 4);
	vecfile_reader_close(r);
}

Test(vecfile, npy_bad_inputs)
{
	float v[4] = { 0 };
	struct err e = ERR_INIT;
	write_npy(path_in("f8.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", v, 16);
	cr_expect_eq(open_err(path_in("f8.npy"), 0, &e), -1);
	cr_expect_eq(e.cls, ERR_INPUT);
	cr_expect(strstr(e.msg, "dtype '<f8' is not supported"), "%s", e.msg);
	cr_expect(strstr(e.hint, "astype('<f4')"), "%s", e.hint);

	write_npy(path_in("fo.npy"), 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", v, 16);
	cr_expect_eq(open_err(path_in("fo.npy"), 0, &e), -1);
	cr_expect(strstr(e.msg, "Fortran"), "%s", e.msg);

	write_npy(path_in("1d.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", v, 16);
	cr_expect_eq(open_err(path_in("1d.npy"), 0, &e), -1);
	cr_expect(strstr(e.msg, "1 dimension"), "%s", e.msg);

	write_npy(path_in("dim.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }", v, 16);
	cr_expect_eq(open_err(path_in("dim.npy"), 768, &e), -1);
	cr_expect_eq(e.cls, ERR_INPUT);
	cr_expect(strstr(e.msg, "dim.npy: vectors have dim 4 but dim 768 was expected"), "%s", e.msg);

	write_npy(path_in("short.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", v, 16);
	cr_expect_eq(open_err(path_in("short.npy"), 0, &e), -1);
	cr_expect(strstr(e.msg, "header says 3 x 4 float32 (48 bytes) but the file holds 16 data bytes"), "%s",
		  e.msg);

	write_file(path_in("junk.npy"), "\x93NUMPX......", 12);
	cr_expect_eq(open_err(path_in("junk.npy"), 0, &e), -1);
	cr_expect(strstr(e.msg, "not a .npy file"), "%s", e.msg);

	cr_expect_eq(open_err(path_in("absent.npy"), 0, &e), -1);
	cr_expect_eq(e.cls, ERR_MISSING);
}

Test(vecfile, fvecs_bad_inputs)
{
	struct err e = ERR_INIT;
	unsigned char b[64];
	int32_t d = 2;
	float f[2] = { 1, 2 };
	memcpy(b, &d, 4);
	memcpy(b + 4, f, 8);
	memcpy(b + 12, &d, 4);
	memcpy(b + 16, f, 8);
	write_file(path_in("cut.fvecs"), b, 20);
	cr_expect_eq(open_err(path_in("cut.fvecs"), 0, &e), -1);
	cr_expect(strstr(e.msg, "not a whole number of 2-dim rows"), "%s", e.msg);

	int32_t d3 = 3;
	memcpy(b + 12, &d3, 4); /* second row claims dim 3; 24 bytes is still 2 rows of 12 */
	write_file(path_in("mixed.fvecs"), b, 24);
	struct vecfile_reader *r;
	cr_assert_eq(vecfile_reader_open(&r, path_in("mixed.fvecs"), 0, &e), 0, "%s", e.msg);
	float out[4];
	cr_expect_eq(vecfile_reader_read(r, out, 2, &e), -1);
	cr_expect(strstr(e.msg, "row 1 has dim 3, the first row has 2"), "%s", e.msg);
	vecfile_reader_close(r);

	write_file(path_in("wide.fvecs"), b, 12);
	cr_expect_eq(open_err(path_in("wide.fvecs"), 768, &e), -1);
	cr_expect(strstr(e.msg, "dim 2 but dim 768 was expected"), "%s", e.msg);
}

Test(vecfile, csv_with_ids_and_labels)
{
	float v[4] = { 0.1f, -2.5f, 1e-7f, 3 };
	uint64_t ids[2] = { 10, 18446744073709551615ull };
	uint32_t labels[2] = { 0, 7 };
	struct vecfile_writer *w;
	const char *p = path_in("o.csv");
	cr_assert_eq(vecfile_writer_open(&w, p, VECFILE_CSV, 2, NULL), 0);
	cr_assert_eq(vecfile_writer_write(w, v, 2, ids, labels, NULL), 0);
	cr_assert_eq(vecfile_writer_close(w, NULL), 0);
	cr_expect_str_eq(read_text(p), "id,label,v0,v1\n10,0,0.100000001,-2.5\n18446744073709551615,7,1.00000001e-07,3\n");
	cr_assert_eq(vecfile_writer_open(&w, p, VECFILE_CSV, 2, NULL), 0);
	cr_assert_eq(vecfile_writer_write(w, v, 1, NULL, NULL, NULL), 0);
	cr_assert_eq(vecfile_writer_close(w, NULL), 0);
	cr_expect_str_eq(read_text(p), "v0,v1\n0.100000001,-2.5\n");
}

/* ---- jsonl ---------------------------------------------------------------- */

Test(jsonl, reads_records)
{
	const char *t = "{\"id\": 1, \"title\": \"A\", \"text\": \"alpha\", \"embedding\": [0.5, -1, 2e-3]}\n"
			"\n"
			"{\"id\": \"42\", \"content\": \"beta\", \"embedding\": [1, 2, 3], \"confidence\": 0.75}\r\n"
			"{\"title\": \"no id\", \"text\": \"gamma\"}";
	write_file(path_in("r.jsonl"), t, strlen(t));
	struct jsonl_reader *r;
	struct jsonl_record rec;
	struct err e = ERR_INIT;
	cr_assert_eq(jsonl_reader_open(&r, path_in("r.jsonl"), 0, &e), 0, "%s", e.msg);
	cr_assert_eq(jsonl_reader_next(r, &rec, &e), 1, "%s", e.msg);
	cr_expect_eq(rec.line, 1);
	cr_expect(rec.has_id);
	cr_expect_eq(rec.id, 1);
	cr_expect_str_eq(rec.title, "A");
	cr_expect_str_eq(rec.text, "alpha");
	cr_expect_eq(rec.dim, 3);
	cr_expect_eq(rec.embedding[0], 0.5f);
	cr_expect_eq(rec.embedding[1], -1.0f);
	cr_expect_eq(rec.embedding[2], 2e-3f);
	cr_assert_eq(jsonl_reader_next(r, &rec, &e), 1, "%s", e.msg);
	cr_expect_eq(rec.line, 3, "blank lines count for line numbers");
	cr_expect_eq(rec.id, 42);
	cr_expect_str_eq(rec.text, "beta");
	cr_expect(rec.has_confidence);
	cr_expect_eq(rec.confidence, 0.75f);
	cr_assert_eq(jsonl_reader_next(r, &rec, &e), 1, "%s", e.msg);
	cr_expect(!rec.has_id);
	cr_expect_null(rec.embedding);
	cr_expect_eq(jsonl_reader_next(r, &rec, &e), 0);
	cr_expect_eq(jsonl_reader_dim(r), 3);
	jsonl_reader_close(r);
}

static void expect_bad(const char *name, const char *text, uint32_t dim, const char *want)
{
	write_file(path_in(name), text, strlen(text));
	struct jsonl_reader *r;
	struct jsonl_record rec;
	struct err e = ERR_INIT;
	cr_assert_eq(jsonl_reader_open(&r, path_in(name), dim, &e), 0, "%s", e.msg);
	int rc;
	while ((rc = jsonl_reader_next(r, &rec, &e)) == 1)
		;
	cr_expect_eq(rc, -1, "%s accepted", name);
	cr_expect_eq(e.cls, ERR_INPUT);
	cr_expect(strstr(e.msg, want), "got '%s', want '%s'", e.msg, want);
	jsonl_reader_close(r);
}

Test(jsonl, rejects_bad_records_with_line_numbers)
{
	expect_bad("s.jsonl", "{\"id\":1,\"embedding\":[1,2]}\n{\"id\":2,\"embedding\":[1,\"2\"]}\n", 0,
		   "s.jsonl:2: 'embedding' must be an array of numbers (item 1 is a string)");
	expect_bad("b.jsonl", "{\"embedding\":[true]}\n", 0, "b.jsonl:1: 'embedding' must be an array of numbers (item 0 is a boolean)");
	expect_bad("o.jsonl", "{\"embedding\":\"0.1,0.2\"}\n", 0, "o.jsonl:1: 'embedding' must be an array of numbers (it is a string)");
	expect_bad("d.jsonl", "{\"embedding\":[1,2]}\n{\"embedding\":[1,2,3]}\n", 0,
		   "d.jsonl:2: 'embedding' has 3 numbers but 2 were expected");
	expect_bad("x.jsonl", "{\"embedding\":[1,2]}\n", 768, "x.jsonl:1: 'embedding' has 2 numbers but 768 were expected");
	expect_bad("j.jsonl", "{\"id\":1}\n{\"id\": 2,,}\n", 0, "j.jsonl:2:");
	expect_bad("a.jsonl", "[1,2]\n", 0, "a.jsonl:1: each line must be a JSON object");
	expect_bad("i.jsonl", "{\"id\":-4}\n", 0, "i.jsonl:1: 'id' must be a non-negative integer");
	expect_bad("t.jsonl", "{\"text\":5}\n", 0, "t.jsonl:1: 'text' must be a string (it is a number)");
	expect_bad("h.jsonl", "{\"embedding\":[1e300]}\n", 0, "out of float32 range");
}

Test(jsonl, writer_shape_and_exact_round_trip)
{
	struct buf b;
	buf_init(&b, 0);
	float v[3] = { 0.1f, -1.0f / 3.0f, 1e-38f };
	cr_assert_eq(jsonl_format_record(&b, "Say \"hi\"\n\ttab\\ é", v, 3, 0.7f, 123, NULL), 0);
	cr_expect_str_eq(b.data, "{\"content\":\"Say \\\"hi\\\"\\n\\ttab\\\\ é\",\"embedding\":[0.100000001,"
				 "-0.333333343,9.99999935e-39],\"confidence\":0.699999988,\"id\":123}\n");
	float bad[1] = { NAN };
	size_t len = b.len;
	struct err e = ERR_INIT;
	cr_expect_eq(jsonl_format_record(&b, "x", bad, 1, 0.5f, 9, &e), -1);
	cr_expect_eq(b.len, len, "failed record leaves the buffer as it was");
	cr_assert_eq(jsonl_format_record(&b, "\x01", NULL, 0, 1.0f, 7, NULL), 0);
	cr_expect(strstr(b.data + len, "{\"content\":\"\\u0001\",\"confidence\":1,\"id\":7}\n"), "%s", b.data + len);

	write_file(path_in("w.jsonl"), b.data, b.len);
	struct jsonl_reader *r;
	struct jsonl_record rec;
	cr_assert_eq(jsonl_reader_open(&r, path_in("w.jsonl"), 0, &e), 0);
	cr_assert_eq(jsonl_reader_next(r, &rec, &e), 1, "%s", e.msg);
	cr_expect_str_eq(rec.text, "Say \"hi\"\n\ttab\\ é");
	cr_expect_eq(memcmp(rec.embedding, v, sizeof(v)), 0, "floats survive %%.9g exactly");
	cr_expect_eq(rec.confidence, 0.7f);
	cr_expect_eq(rec.id, 123);
	jsonl_reader_close(r);
	buf_release(&b);
}
