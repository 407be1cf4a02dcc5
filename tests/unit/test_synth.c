/*
 * test_synth.c — synthetic vectors: purity, chunk/thread invariance, stats;
 * the queries step's sampled rows are the stored (and regenerated) rows.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/hash.h"
#include "engrave/rng.h"
#include "engrave/spec.h"
#include "engrave/steps.h"
#include "engrave/store.h"
#include "engrave/synth.h"
#include "engrave/target.h"
#include "engrave/vec.h"
#include "engrave/vecfile.h"
#include "../lib/testutil.h"

static float *make_centroids(uint32_t k, uint32_t d, uint64_t seed)
{
	float *c = malloc((size_t)k * d * sizeof *c);
	cr_assert_not_null(c);
	rng_normal_fill(seed, 99, 0, (size_t)k * d, c);
	vec_normalize_rows(c, k, d);
	return c;
}

struct digest_sink {
	struct hash_ctx h;
	uint64_t next;
	uint32_t d;
	uint64_t chunks;
	uint64_t stop_at; /* 0: never */
};

static int digest_cb(void *ctx, uint64_t start, uint64_t n, const float *vecs,
		     const uint32_t *labels, const float *conf)
{
	struct digest_sink *s = ctx;
	cr_assert_eq(start, s->next, "chunks out of order: %llu, wanted %llu",
		     (unsigned long long)start, (unsigned long long)s->next);
	hash_update(&s->h, vecs, n * s->d * sizeof(float));
	hash_update(&s->h, labels, n * sizeof(uint32_t));
	hash_update(&s->h, conf, n * sizeof(float));
	s->next += n;
	s->chunks++;
	return s->stop_at && s->next >= s->stop_at;
}

static void run_digest(const struct synth_opts *o, const float *c, uint32_t k, uint32_t d,
		       uint64_t rows, struct digest *out)
{
	struct digest_sink s = { .d = d };
	struct err e = ERR_INIT;
	hash_init(&s.h);
	int rc = synth_run(o, c, k, d, rows, digest_cb, &s, &e);
	cr_assert_eq(rc, 0, "synth_run: %s", e.msg);
	cr_assert_eq(s.next, o->count);
	cr_assert_eq(s.chunks, (o->count + rows - 1) / rows);
	hash_final(&s.h, out);
}

static void one_shot_digest(const struct synth_opts *o, const float *c, uint32_t k, uint32_t d,
			    struct digest *out)
{
	float *v = malloc(o->count * d * sizeof *v);
	uint32_t *l = malloc(o->count * sizeof *l);
	float *cf = malloc(o->count * sizeof *cf);
	cr_assert(v && l && cf);
	synth_generate(o, c, k, d, 0, o->count, v, l, cf);
	/* hashing vecs / labels / conf chunk-wise equals hashing them per chunk
	 * only when interleaved the same way: recompute with one chunk = all */
	struct hash_ctx h;
	hash_init(&h);
	hash_update(&h, v, o->count * d * sizeof *v);
	hash_update(&h, l, o->count * sizeof *l);
	hash_update(&h, cf, o->count * sizeof *cf);
	hash_final(&h, out);
	free(v), free(l), free(cf);
}

/* Chunked digests differ from one-shot ones (interleaving), so compare the
 * concatenated rows instead for different chunk sizes. */
struct concat_sink {
	float *v;
	uint32_t *l;
	float *c;
	uint32_t d;
	uint64_t next;
};

static int concat_cb(void *ctx, uint64_t start, uint64_t n, const float *vecs,
		     const uint32_t *labels, const float *conf)
{
	struct concat_sink *s = ctx;
	cr_assert_eq(start, s->next);
	memcpy(s->v + start * s->d, vecs, n * s->d * sizeof(float));
	memcpy(s->l + start, labels, n * sizeof(uint32_t));
	memcpy(s->c + start, conf, n * sizeof(float));
	s->next += n;
	return 0;
}

static void run_concat(const struct synth_opts *o, const float *c, uint32_t k, uint32_t d,
		       uint64_t rows, struct digest *out)
{
	struct concat_sink s = { .d = d };
	s.v = malloc(o->count * d * sizeof(float));
	s.l = malloc(o->count * sizeof(uint32_t));
	s.c = malloc(o->count * sizeof(float));
	cr_assert(s.v && s.l && s.c);
	struct err e = ERR_INIT;
	cr_assert_eq(synth_run(o, c, k, d, rows, concat_cb, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(s.next, o->count);
	struct hash_ctx h;
	hash_init(&h);
	hash_update(&h, s.v, o->count * d * sizeof(float));
	hash_update(&h, s.l, o->count * sizeof(uint32_t));
	hash_update(&h, s.c, o->count * sizeof(float));
	hash_final(&h, out);
	free(s.v), free(s.l), free(s.c);
}

Test(synth, identical_for_any_threads_and_chunks)
{
	const uint32_t k = 17, d = 96;
	float *c = make_centroids(k, d, 1);
	struct synth_opts o;
	synth_opts_init(&o, 70001);
	struct digest ref, got;
	one_shot_digest(&o, c, k, d, &ref);
	unsigned threads[] = { 1, 2, 3 };
	uint64_t chunks[] = { 1000, 4096, 65536 };
	for (int t = 0; t < 3; t++)
		for (int ch = 0; ch < 3; ch++) {
			o.threads = threads[t];
			run_concat(&o, c, k, d, chunks[ch], &got);
			cr_assert(digest_equal(&ref, &got), "threads=%u chunk=%llu differs", threads[t],
				  (unsigned long long)chunks[ch]);
		}
	/* the in-order digest sink sees the same chunk stream for any thread count */
	struct digest a, b;
	o.threads = 1;
	run_digest(&o, c, k, d, 4096, &a);
	o.threads = 3;
	run_digest(&o, c, k, d, 4096, &b);
	cr_assert(digest_equal(&a, &b));
	free(c);
}

Test(synth, odd_dimension_and_resume)
{
	const uint32_t k = 5, d = 50; /* rows straddle normal groups of 32 */
	float *c = make_centroids(k, d, 2);
	struct synth_opts o;
	synth_opts_init(&o, 1000);
	o.seed = 7;
	float *all = malloc(1000 * d * sizeof *all), *part = malloc(1000 * d * sizeof *part);
	uint32_t la[1000], lp[1000];
	float ca[1000], cp[1000];
	synth_generate(&o, c, k, d, 0, 1000, all, la, ca);
	uint64_t cuts[] = { 0, 1, 3, 333, 334, 999, 1000 };
	for (int i = 0; i + 1 < 7; i++)
		synth_generate(&o, c, k, d, cuts[i], cuts[i + 1] - cuts[i], part + cuts[i] * d,
			       lp + cuts[i], cp + cuts[i]);
	cr_assert_arr_eq(all, part, 1000 * d * sizeof *all);
	cr_assert_arr_eq(la, lp, sizeof la);
	cr_assert_arr_eq(ca, cp, sizeof ca);
	/* a different seed gives different data */
	o.seed = 8;
	synth_generate(&o, c, k, d, 0, 1000, part, lp, cp);
	cr_assert(memcmp(all, part, 1000 * d * sizeof *all) != 0);
	free(all), free(part), free(c);
}

Test(synth, statistics)
{
	const uint32_t k = 10, d = 128;
	const uint64_t n = 20000;
	float *c = make_centroids(k, d, 3);
	struct synth_opts o;
	synth_opts_init(&o, n);
	o.normalize = 0;
	o.std_dev = 0.25f;
	float *v = malloc(n * d * sizeof *v);
	uint32_t *lab = malloc(n * sizeof *lab);
	float *conf = malloc(n * sizeof *conf);
	synth_generate(&o, c, k, d, 0, n, v, lab, conf);
	double s1 = 0, s2 = 0, cs = 0;
	uint64_t per[10] = { 0 };
	for (uint64_t i = 0; i < n; i++) {
		cr_assert(lab[i] < k);
		per[lab[i]]++;
		cr_assert(conf[i] >= 0.6f - 1e-6f && conf[i] <= 0.8f + 1e-6f, "conf %f", conf[i]);
		cs += conf[i];
		for (uint32_t j = 0; j < d; j++) {
			double z = v[i * d + j] - c[lab[i] * d + j];
			s1 += z, s2 += z * z;
		}
	}
	double m = s1 / (n * d), sd = sqrt(s2 / (n * d) - m * m);
	cr_assert(fabs(m) < 0.002, "noise mean %f", m);
	cr_assert(fabs(sd - 0.25) < 0.002, "noise sd %f", sd);
	cr_assert(fabs(cs / n - 0.7) < 0.002, "conf mean %f", cs / n);
	for (uint32_t j = 0; j < k; j++)
		cr_assert(per[j] > n / k * 0.9 && per[j] < n / k * 1.1, "label %u: %llu", j,
			  (unsigned long long)per[j]);
	/* normalised: unit rows */
	o.normalize = 1;
	synth_generate(&o, c, k, d, 0, 100, v, lab, conf);
	for (int i = 0; i < 100; i++)
		cr_assert(fabs(vec_norm(v + i * d, d) - 1.0f) < 1e-5, "row %d norm %f", i,
			  vec_norm(v + i * d, d));
	/* confidence clipping */
	o.conf_base = 0.95f;
	o.conf_jitter = 0.2f;
	synth_generate(&o, c, k, d, 0, 1000, v, lab, conf);
	int ones = 0;
	for (int i = 0; i < 1000; i++) {
		cr_assert(conf[i] >= 0 && conf[i] <= 1);
		ones += conf[i] == 1.0f;
	}
	cr_assert(ones > 100, "expected clipped values, got %d", ones);
	free(v), free(lab), free(conf), free(c);
}

Test(synth, sink_can_stop)
{
	const uint32_t k = 3, d = 32;
	float *c = make_centroids(k, d, 4);
	struct synth_opts o;
	synth_opts_init(&o, 100000);
	o.threads = 2;
	struct digest_sink s = { .d = d, .stop_at = 3000 };
	hash_init(&s.h);
	struct err e = ERR_INIT;
	cr_assert_eq(synth_run(&o, c, k, d, 1000, digest_cb, &s, &e), -1);
	cr_assert_eq(e.cls, ERR_INTERRUPTED);
	cr_assert_eq(s.next, 3000);
	struct digest dummy;
	hash_final(&s.h, &dummy);
	/* bad options */
	cr_assert_eq(synth_run(&o, c, k, d, 0, digest_cb, &s, &e), -1);
	cr_assert_eq(e.cls, ERR_USAGE);
	free(c);
}

Test(synth, text)
{
	struct synth_opts o;
	synth_opts_init(&o, 10);
	char a[128], b[128];
	size_t n = synth_text(&o, 42, 3, a, sizeof a);
	cr_assert_eq(n, strlen(a));
	cr_assert(strncmp(a, "Synthetic memory 0000042: Music ", 32) == 0, "%s", a);
	cr_assert_eq(a[n - 1], '.');
	synth_text(&o, 42, 3, b, sizeof b);
	cr_assert_str_eq(a, b);
	/* truncation is safe and reports the full length */
	char small[10];
	cr_assert_eq(synth_text(&o, 42, 3, small, sizeof small), n);
	cr_assert_eq(strlen(small), 9);
}

Test(synth, golden_digest_and_simd_paths)
{
	/* Pins the bytes of a small synthetic set: if this changes, every
	 * synthetic artifact digest changes, so it must be deliberate. The same
	 * bytes must come out of the SSE2 baseline kernels. */
	const uint32_t k = 7, d = 72;
	float *c = make_centroids(k, d, 5);
	struct synth_opts o;
	synth_opts_init(&o, 3000);
	struct digest a, b;
	char hex[DIGEST_HEX_LEN + 1];
	one_shot_digest(&o, c, k, d, &a);
	rng_set_simd(0);
	vec_set_simd(0);
	one_shot_digest(&o, c, k, d, &b);
	rng_set_simd(1);
	vec_set_simd(1);
	digest_to_hex(&a, hex);
	cr_assert(digest_equal(&a, &b), "SSE2 and AVX2 paths differ");
	cr_assert_str_eq(hex, "47709a947c8e57fd03eb6ad027ba04e2a305e76cf12dde975fe317e44491dfe6", "golden digest now %s", hex);
	free(c);
}

/* ---- the queries step samples synthetic rows without loading the set ---- */

struct run_out {
	struct store *st;
	char *dir;
	struct spec *sp;
	struct run_record rec;
};

static void run_spec(struct run_out *r, const char *yaml)
{
	struct err e = ERR_INIT;
	memset(r, 0, sizeof *r);
	r->dir = test_tmpdir("synthq");
	cr_assert_eq(store_open(r->dir, 0, &r->st, &e), 0, "%s", e.msg);
	cr_assert_eq(target_spec_load_string(yaml, strlen(yaml), "q.yaml", &r->sp, &e), 0, "%s", e.msg);
	struct runner_opts ro;
	memset(&ro, 0, sizeof ro);
	cr_assert_eq(steps_run(r->st, r->sp, &ro, &r->rec, &e), 0, "%s", e.msg);
}

static void run_done(struct run_out *r)
{
	run_record_release(&r->rec);
	spec_free(r->sp);
	store_close(r->st);
	test_rmtree(r->dir);
	free(r->dir);
}

static const struct digest *output_of(const struct run_out *r, const char *step)
{
	for (int i = 0; i < r->rec.n_steps; i++)
		if (strcmp(r->rec.steps[i].name, step) == 0 && r->rec.steps[i].n_out > 0)
			return &r->rec.steps[i].out[0];
	cr_assert_fail("no output of step %s", step);
	return NULL;
}

/* A part of an artifact, whole, read straight from the store. */
static void *read_part(struct store *st, const struct digest *art, const char *part, int64_t *rows, int64_t *dim)
{
	struct artifact a;
	struct err e = ERR_INIT;
	cr_assert_eq(artifact_get(st, art, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(artifact_get_int(&a, "rows", rows), 0);
	cr_assert_eq(artifact_get_int(&a, "dim", dim), 0);
	const struct digest *pd = artifact_part(&a, part);
	cr_assert_not_null(pd, "no part %s", part);
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(obj_get(st, pd, &b, &e), 0, "%s", e.msg);
	artifact_release(&a);
	return b.data; /* a buf's data is malloc'd: free() it */
}

Test(synth, sampled_query_rows_are_the_synthetic_rows)
{
	/* 25000 x 96 floats: three store chunks, so picks come from several */
	struct run_out r;
	run_spec(&r, "name: q-rows\n"
		     "seed: 7\n"
		     "steps:\n"
		     "  centroids: {from: random, k: 5, dim: 96}\n"
		     "  synthetic: {count: 25000, std_dev: 0.2, normalize: true}\n"
		     "  queries: {count: 300, source: synthetic}\n");
	int64_t srows, sdim, qrows, qdim, crows, cdim;
	float *syn = read_part(r.st, output_of(&r, "synthetic"), "vectors", &srows, &sdim);
	float *q = read_part(r.st, output_of(&r, "queries"), "vectors", &qrows, &qdim);
	uint64_t *ids = read_part(r.st, output_of(&r, "queries"), "ids", &qrows, &qdim);
	float *cent = read_part(r.st, output_of(&r, "centroids"), "vectors", &crows, &cdim);
	cr_assert_eq(srows, 25000);
	cr_assert_eq(qrows, 300);
	cr_assert_eq(qdim, 96);
	/* the generator, set up here from the spec's values, not the step's */
	struct synth_opts o;
	synth_opts_init(&o, 25000);
	o.seed = 7;
	o.std_dev = 0.2f;
	float row[96];
	uint64_t lo = UINT64_MAX, hi = 0;
	for (int64_t i = 0; i < qrows; i++) {
		cr_assert_lt(ids[i], 25000);
		cr_assert(memcmp(q + i * 96, syn + ids[i] * 96, sizeof row) == 0,
			  "query %lld differs from the stored synthetic row %llu", (long long)i,
			  (unsigned long long)ids[i]);
		synth_generate(&o, cent, (uint32_t)crows, 96, ids[i], 1, row, NULL, NULL);
		cr_assert(memcmp(q + i * 96, row, sizeof row) == 0,
			  "query %lld differs from synthetic row %llu regenerated", (long long)i,
			  (unsigned long long)ids[i]);
		lo = ids[i] < lo ? ids[i] : lo;
		hi = ids[i] > hi ? ids[i] : hi;
	}
	cr_assert(lo < 10000 && hi > 20000, "picks span the chunks (%llu..%llu)", (unsigned long long)lo,
		  (unsigned long long)hi);
	free(syn), free(q), free(ids), free(cent);
	run_done(&r);
}

Test(synth, sampled_corpus_rows_are_read_by_offset)
{
	/* a vector-file corpus: the picks are read from the stored set by offset */
	char *dir = test_tmpdir("synthnpy");
	char path[512];
	snprintf(path, sizeof path, "%s/v.npy", dir);
	const uint32_t d = 40;
	const size_t n = 30000; /* 4.8 MB: two store chunks */
	float *v = malloc(n * d * sizeof *v);
	cr_assert_not_null(v);
	rng_normal_fill(3, 17, 0, n * d, v);
	struct vecfile_writer *w;
	struct err e = ERR_INIT;
	cr_assert_eq(vecfile_writer_open(&w, path, VECFILE_NPY, d, &e), 0, "%s", e.msg);
	cr_assert_eq(vecfile_writer_write(w, v, n, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vecfile_writer_close(w, &e), 0, "%s", e.msg);
	char yaml[1024];
	snprintf(yaml, sizeof yaml,
		 "name: q-corpus\n"
		 "steps:\n"
		 "  corpus: {source: npy, path: %s}\n"
		 "  queries: {count: 200, source: corpus}\n",
		 path);
	struct run_out r;
	run_spec(&r, yaml);
	int64_t qrows, qdim;
	float *q = read_part(r.st, output_of(&r, "queries"), "vectors", &qrows, &qdim);
	uint64_t *ids = read_part(r.st, output_of(&r, "queries"), "ids", &qrows, &qdim);
	cr_assert_eq(qrows, 200);
	for (int64_t i = 0; i < qrows; i++) {
		cr_assert_lt(ids[i], n);
		cr_assert(memcmp(q + i * d, v + ids[i] * d, d * sizeof(float)) == 0, "query %lld != corpus row %llu",
			  (long long)i, (unsigned long long)ids[i]);
	}
	free(q), free(ids), free(v);
	run_done(&r);
	test_rmtree(dir);
	free(dir);
}

Test(synth, a_synthetic_set_the_generator_does_not_make_is_read)
{
	/* The action cache says spec B's synthetic step made spec A's set (as a
	 * store from another engrave version might): the regenerated rows (std
	 * 0.3) fail the read-back check, and the picks come from the stored set. */
	const char *a_yaml = "name: q-a\nseed: 7\nsteps:\n"
			     "  centroids: {from: random, k: 5, dim: 96}\n"
			     "  synthetic: {count: 25000, std_dev: 0.2}\n";
	const char *b_yaml = "name: q-b\nseed: 7\nsteps:\n"
			     "  centroids: {from: random, k: 5, dim: 96}\n"
			     "  synthetic: {count: 25000, std_dev: 0.3}\n"
			     "  queries: {count: 100, source: synthetic}\n";
	struct run_out r;
	run_spec(&r, a_yaml);
	struct digest syn_a = *output_of(&r, "synthetic");
	struct spec *b;
	struct err e = ERR_INIT;
	cr_assert_eq(target_spec_load_string(b_yaml, strlen(b_yaml), "b.yaml", &b, &e), 0, "%s", e.msg);
	struct plan_row rows[SPEC_NSTEPS];
	int n = 0;
	cr_assert_eq(steps_plan(r.st, b, rows, &n, &e), 0, "%s", e.msg);
	int found = 0;
	for (int i = 0; i < n; i++)
		if (rows[i].step == STEP_SYNTHETIC) {
			cr_assert(rows[i].has_action);
			struct buf v;
			buf_init(&v, 0);
			cr_assert_eq(ac_value_encode(&syn_a, 1, 0, &v, &e), 0, "%s", e.msg);
			cr_assert_eq(ac_put(r.st, &rows[i].action, v.data, v.len, &e), 0, "%s", e.msg);
			buf_release(&v);
			found = 1;
		}
	cr_assert(found);
	struct run_record rb;
	struct runner_opts ro;
	memset(&ro, 0, sizeof ro);
	cr_assert_eq(steps_run(r.st, b, &ro, &rb, &e), 0, "%s", e.msg);
	struct run_record keep = r.rec;
	r.rec = rb;
	cr_assert(digest_equal(output_of(&r, "synthetic"), &syn_a), "the cache entry was not used");
	int64_t srows, sdim, qrows, qdim;
	float *syn = read_part(r.st, &syn_a, "vectors", &srows, &sdim);
	float *q = read_part(r.st, output_of(&r, "queries"), "vectors", &qrows, &qdim);
	uint64_t *ids = read_part(r.st, output_of(&r, "queries"), "ids", &qrows, &qdim);
	cr_assert_eq(qrows, 100);
	for (int64_t i = 0; i < qrows; i++)
		cr_assert(memcmp(q + i * 96, syn + ids[i] * 96, 96 * sizeof(float)) == 0,
			  "query %lld is not stored row %llu", (long long)i, (unsigned long long)ids[i]);
	free(syn), free(q), free(ids);
	run_record_release(&keep);
	spec_free(b);
	run_done(&r);
}
