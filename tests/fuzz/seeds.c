/*
 * seeds.c — writes the seed inputs that engrave's own code produces.
 *
 * `build-fuzz/fuzz-seeds DIR` writes, under DIR/<harness>/, inputs made by
 * the project's writers, so the fuzzer starts from the exact bytes engrave
 * reads in real use: .npy and .fvecs files (vecfile writers), JSON Lines
 * (jsonl_format_record), and the store's msgpack blobs — an artifact, a
 * chunk manifest, an action-cache value and a run record — taken out of a
 * scratch store after the store's own put functions wrote them. Text inputs
 * (specs, wiki pages, recorded server responses) are collected by
 * tests/fuzz/run.sh from the repository and the test servers.
 */
#include "fuzzlib.h"

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/jsonl.h"
#include "engrave/store.h"
#include "engrave/vecfile.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *outdir;

static void die(const char *what, const struct err *e)
{
	fprintf(stderr, "fuzz-seeds: %s: %s\n", what, e ? e->msg : "failed");
	exit(1);
}

static void put(const char *harness, const char *name, const void *data, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", outdir, harness);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, harness, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, n, f) != n || fclose(f))
		die(path, NULL);
}

static void put_file(const char *harness, const char *name, const char *src)
{
	struct buf b;
	buf_init(&b, 0);
	FILE *f = fopen(src, "rb");
	char chunk[4096];
	size_t got;
	while (f && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, got, NULL);
	if (f)
		fclose(f);
	put(harness, name, b.data, b.len);
	buf_release(&b);
}

static void vectors(enum vecfile_format fmt, const char *harness, const char *ext)
{
	static const uint32_t dims[] = { 1, 3, 8 };
	static const size_t rows[] = { 0, 1, 5 };
	for (size_t i = 0; i < 3; i++) {
		char name[64];
		snprintf(name, sizeof(name), "seed.%s", ext);
		const char *path = fuzz_file(name, (const uint8_t *)"", 0);
		struct vecfile_writer *w;
		struct err e = ERR_INIT;
		float v[5 * 8];
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			v[k] = (float)k * 0.25f - 1.5f;
		if (vecfile_writer_open(&w, path, fmt, dims[i], &e) ||
		    (rows[i] && vecfile_writer_write(w, v, rows[i], NULL, NULL, &e)) || vecfile_writer_close(w, &e))
			die(path, &e);
		snprintf(name, sizeof(name), "%ux%zu.%s", dims[i], rows[i], ext);
		put_file(harness, name, path);
	}
}

static void jsonl(void)
{
	struct buf b;
	struct err e = ERR_INIT;
	buf_init(&b, 0);
	const float emb[3] = { 0.5f, -0.25f, 1e-7f };
	if (jsonl_format_record(&b, "Ada Lovelace wrote the first program.", emb, 3, 0.7f, 1, &e) ||
	    jsonl_format_record(&b, "Caf\xc3\xa9 \"quoted\"\n", emb, 3, 0.9f, 2, &e) ||
	    jsonl_format_record(&b, NULL, NULL, 0, 0.5f, 3, &e))
		die("jsonl", &e);
	put("fuzz_jsonl", "records.jsonl", b.data, b.len);
	buf_release(&b);
}

struct raw {
	struct buf *out;
};

static int take_first(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	(void)k;
	(void)kl;
	buf_append(ctx, v, vl, NULL);
	return 1;
}

/* An artifact, its part's manifest, an action-cache value and a run record,
 * written by the store and read back raw. */
static void store_blobs(void)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/store", fuzz_tmpdir());
	struct store *s;
	struct err e = ERR_INIT;
	struct buf b;
	buf_init(&b, 0);
	if (store_open(dir, 0, &s, &e))
		die("store_open", &e);
	struct digest part = { 0 }, art = { 0 }, key;
	struct artifact a;
	artifact_init(&a, "vectors", 3);
	const char data[] = "0123456789abcdef";
	if (obj_put(s, data, sizeof(data), &part, &e) || artifact_add_part(&a, "data", &part, sizeof(data), &e) ||
	    artifact_set_int(&a, "rows", 4, &e) || artifact_set_f64(&a, "std_dev", 0.1, &e) ||
	    artifact_set_str(&a, "dtype", "f32", &e) || artifact_put(s, &a, &art, &e))
		die("artifact", &e);
	artifact_release(&a);
	if (cas_get(s, &art, &b, 1, &e))
		die("cas_get artifact", &e);
	put("fuzz_artifact", "artifact", b.data, b.len);
	buf_reset(&b);
	if (cas_get(s, &part, &b, 1, &e))
		die("cas_get manifest", &e);
	put("fuzz_artifact", "manifest", b.data, b.len);
	buf_reset(&b);
	if (ac_value_encode(&art, 1, 12345, &b, &e))
		die("ac_value_encode", &e);
	put("fuzz_artifact", "ac-value", b.data, b.len);
	hash_bytes("action", 6, &key);

	struct run_record r;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "20260101T000000Z-000001");
	snprintf(r.spec_name, sizeof(r.spec_name), "seed");
	snprintf(r.status, sizeof(r.status), "done");
	r.spec_text = (char *)"name: seed\nseed: 1\n";
	const char *ov[] = { "loadtest.arrival.rate=200" };
	r.n_steps = 1;
	snprintf(r.steps[0].name, sizeof(r.steps[0].name), "corpus");
	snprintf(r.steps[0].state, sizeof(r.steps[0].state), "ran");
	r.steps[0].n_out = 1;
	r.steps[0].out[0] = art;
	r.steps[0].action = key;
	run_metric_set(&r, "p99_ms", 12.5);
	envlist_set(&r.env, "cpu.model", "seed");
	run_record_set_overrides(&r, ov, 1);
	if (run_put(s, &r, &e))
		die("run_put", &e);
	buf_reset(&b);
	if (store_scan(s, DB_RUNS, "", 0, 1, take_first, &b, &e) < 0)
		die("store_scan runs", &e);
	put("fuzz_run_record", "run", b.data, b.len); /* with its checksum trailer */
	if (b.len > 12) { /* the encoding alone, behind 'S': the harness appends the trailer */
		char *sb = malloc(b.len - 11);
		sb[0] = 'S';
		memcpy(sb + 1, b.data, b.len - 12);
		put("fuzz_run_record", "run-S", sb, b.len - 11);
		free(sb);
	}
	r.spec_text = NULL;
	run_record_release(&r);
	buf_release(&b);
	store_close(s);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds DIR\n");
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	fuzz_init();
	vectors(VECFILE_NPY, "fuzz_npy", "npy");
	vectors(VECFILE_FVECS, "fuzz_fvecs", "fvecs");
	jsonl();
	store_blobs();
	return 0;
}
