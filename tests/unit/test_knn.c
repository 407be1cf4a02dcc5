/*
 * test_knn.c — exact kNN against a brute-force reference; blocked and
 * threaded search (block sizes that do not divide the base, ties across
 * blocks and workers), thresholds, BLAS thread invariance, fetch errors.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/err.h"
#include "engrave/knn.h"
#include "engrave/rng.h"
#include "engrave/vec.h"

static float *randn(size_t n, uint32_t d, uint64_t seed)
{
	float *x = malloc(n * d * sizeof *x);
	cr_assert_not_null(x);
	rng_normal_fill(seed, 5, 0, n * d, x);
	return x;
}

struct ref {
	double s;
	uint32_t id;
};

static int ref_cmp(const void *pa, const void *pb)
{
	const struct ref *a = pa, *b = pb;
	if (a->s != b->s)
		return a->s > b->s ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* Naive double-precision reference. */
static uint32_t reference(const float *q, const float *b, size_t nb, uint32_t d, uint32_t k,
			  enum knn_metric m, double thr, struct ref *out)
{
	struct ref *all = malloc(nb * sizeof *all);
	size_t kept = 0;
	for (size_t j = 0; j < nb; j++) {
		double dot = 0, qq = 0, bb = 0, l2 = 0;
		for (uint32_t t = 0; t < d; t++) {
			double x = q[t], y = b[j * d + t];
			dot += x * y, qq += x * x, bb += y * y, l2 += (x - y) * (x - y);
		}
		double s = m == KNN_IP ? dot : m == KNN_L2 ? -l2 : dot / (sqrt(qq) * sqrt(bb));
		if (s < thr)
			continue;
		all[kept].s = s;
		all[kept].id = (uint32_t)j;
		kept++;
	}
	qsort(all, kept, sizeof *all, ref_cmp);
	uint32_t n = kept < k ? (uint32_t)kept : k;
	memcpy(out, all, n * sizeof *out);
	free(all);
	return n;
}

static void check_against_reference(enum knn_metric m, float thr)
{
	const size_t nq = 23, nb = 5003;
	const uint32_t d = 37, k = 10;
	float *q = randn(nq, d, 1), *b = randn(nb, d, 2);
	uint32_t *ids = malloc(nq * k * sizeof *ids), nout[23];
	float *sc = malloc(nq * k * sizeof *sc);
	struct err e = ERR_INIT;
	cr_assert_eq(knn_exact(q, nq, b, nb, d, k, m, thr, ids, sc, nout, &e), 0, "%s", e.msg);
	struct ref r[10];
	for (size_t i = 0; i < nq; i++) {
		uint32_t n = reference(q + i * d, b, nb, d, k, m, thr, r);
		cr_assert_eq(nout[i], n, "%s q%zu: %u results, wanted %u", knn_metric_name(m), i,
			     nout[i], n);
		for (uint32_t t = 0; t < n; t++) {
			cr_assert_eq(ids[i * k + t], r[t].id, "%s q%zu rank %u", knn_metric_name(m), i,
				     t);
			cr_assert(fabs(sc[i * k + t] - r[t].s) <= 1e-5 * (1 + fabs(r[t].s)),
				  "score %f vs %f", sc[i * k + t], r[t].s);
			if (t)
				cr_assert(sc[i * k + t] <= sc[i * k + t - 1]);
		}
		for (uint32_t t = n; t < k; t++) {
			cr_assert_eq(ids[i * k + t], UINT32_MAX);
			cr_assert(isinf(sc[i * k + t]) && sc[i * k + t] < 0);
		}
	}
	free(q), free(b), free(ids), free(sc);
}

Test(knn, cosine_matches_reference) { check_against_reference(KNN_COSINE, -INFINITY); }
Test(knn, ip_matches_reference) { check_against_reference(KNN_IP, -INFINITY); }
Test(knn, l2_matches_reference) { check_against_reference(KNN_L2, -INFINITY); }
Test(knn, threshold_matches_reference)
{
	/* d=37 random vectors: cosine > 0.3 is rare, so some queries get < k */
	check_against_reference(KNN_COSINE, 0.3f);
	check_against_reference(KNN_IP, 8.0f);
}

Test(knn, threshold_drops_and_counts)
{
	const uint32_t d = 4, k = 5;
	float b[] = { 1, 0, 0, 0, /* cos 1 */
		      0.6f, 0.8f, 0, 0, /* 0.6 */
		      0, 1, 0, 0, /* 0 */
		      -1, 0, 0, 0, /* -1 */
		      0.8f, 0.6f, 0, 0 /* 0.8 */ };
	float q[] = { 2, 0, 0, 0 };
	uint32_t ids[5], n;
	float sc[5];
	cr_assert_eq(knn_exact(q, 1, b, 5, d, k, KNN_COSINE, 0.5f, ids, sc, &n, NULL), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(ids[0], 0);
	cr_assert_eq(ids[1], 4);
	cr_assert_eq(ids[2], 1);
	cr_assert_float_eq(sc[0], 1.0f, 1e-6);
	cr_assert_float_eq(sc[1], 0.8f, 1e-6);
	cr_assert_float_eq(sc[2], 0.6f, 1e-6);
	/* threshold exactly at a score keeps it */
	cr_assert_eq(knn_exact(q, 1, b, 5, d, k, KNN_COSINE, 0.0f, ids, sc, &n, NULL), 0);
	cr_assert_eq(n, 4);
	/* no threshold: all five, the opposite vector last */
	cr_assert_eq(knn_exact(q, 1, b, 5, d, k, KNN_COSINE, -INFINITY, ids, sc, &n, NULL), 0);
	cr_assert_eq(n, 5);
	cr_assert_eq(ids[4], 3);
}

Test(knn, ties_go_to_lower_index)
{
	const uint32_t d = 16, k = 4;
	float *b = randn(10, d, 3);
	/* rows 7, 2 and 5 are the same vector; the query is that vector */
	memcpy(b + 2 * d, b + 7 * d, d * sizeof *b);
	memcpy(b + 5 * d, b + 7 * d, d * sizeof *b);
	float q[16];
	memcpy(q, b + 7 * d, sizeof q);
	uint32_t ids[4], n;
	for (int m = 0; m < 3; m++) {
		cr_assert_eq(knn_exact(q, 1, b, 10, d, k, (enum knn_metric)m, -INFINITY, ids, NULL,
				       &n, NULL),
			     0);
		cr_assert_eq(n, 4);
		if (m != KNN_IP) { /* ip favours longer vectors, not equal ones */
			cr_assert_eq(ids[0], 2);
			cr_assert_eq(ids[1], 5);
			cr_assert_eq(ids[2], 7);
		}
	}
	free(b);
}

/* ---- blocked, threaded: knn_exact_fetch ------------------------------- */

struct fetch_ctx {
	const float *base;
	uint32_t d;
	uint64_t fail_from; /* rows at or past this fail (UINT64_MAX: none) */
	unsigned max_worker;
	int calls;
};

static const float *fetch_copy(void *ctx, unsigned worker, uint64_t row0, size_t n, float *buf, struct err *e)
{
	struct fetch_ctx *f = ctx;
	__atomic_fetch_add(&f->calls, 1, __ATOMIC_RELAXED);
	if (worker > f->max_worker)
		__atomic_store_n(&f->max_worker, worker, __ATOMIC_RELAXED);
	if (row0 + n > f->fail_from) {
		err_set(e, ERR_CORRUPT, "block at row %llu is bad", (unsigned long long)row0);
		return NULL;
	}
	memcpy(buf, f->base + row0 * f->d, n * f->d * sizeof(float));
	return buf;
}

/*
 * A base with deliberate ties: row j copies row j % 97 for j >= 97 past
 * some rows (exact duplicates, so equal exact scores across blocks and
 * workers), plus scaled copies for ip. Every query equals a base row, so
 * the duplicates tie at the top.
 */
static float *tied_base(size_t nb, uint32_t d, uint64_t seed)
{
	float *b = randn(nb, d, seed);
	for (size_t j = 97; j < nb; j++)
		if (j % 7 == 0 || j % 11 == 0)
			memcpy(b + j * d, b + (j % 97) * d, d * sizeof(float));
	return b;
}

static void check_fetch_equals_naive(enum knn_metric m, float thr)
{
	const size_t nq = 29, nb = 10007; /* prime: no block size divides it */
	const uint32_t d = 24, k = 12;
	float *b = tied_base(nb, d, 11);
	float *q = malloc(nq * d * sizeof *q);
	for (size_t i = 0; i < nq; i++) /* queries: base rows that have duplicates, and random ones */
		memcpy(q + i * d, b + (i % 2 ? (i * 7) % 97 : 5000 + i) * d, d * sizeof(float));
	struct ref r[29][12]; /* the naive answer, once */
	uint32_t rn[29];
	for (size_t i = 0; i < nq; i++)
		rn[i] = reference(q + i * d, b, nb, d, k, m, thr, r[i]);
	uint32_t ids[29 * 12], nout[29];
	float sc[29 * 12];
	const size_t blocks[] = { 1, 13, 4096, 4097, 9999, 20000 };
	const unsigned threads[] = { 1, 2, 3, 5 };
	for (size_t bi = 0; bi < sizeof blocks / sizeof *blocks; bi++)
		for (size_t ti = 0; ti < sizeof threads / sizeof *threads; ti++) {
			if (blocks[bi] == 1 && threads[ti] != 3)
				continue; /* one row a block is slow: one thread count is enough */
			struct fetch_ctx f = { b, d, UINT64_MAX, 0, 0 };
			struct knn_opts o;
			knn_opts_init(&o);
			o.threads = threads[ti];
			o.block_rows = blocks[bi];
			struct err e = ERR_INIT;
			cr_assert_eq(knn_exact_fetch(q, nq, d, k, m, thr, nb, fetch_copy, &f, &o, ids, sc, nout, &e), 0,
				     "%s", e.msg);
			cr_assert_eq(f.calls, (int)((nb + blocks[bi] - 1) / blocks[bi]));
			cr_assert(f.max_worker < threads[ti]);
			for (size_t i = 0; i < nq; i++) {
				uint32_t n = rn[i];
				cr_assert_eq(nout[i], n, "%s block %zu threads %u q%zu", knn_metric_name(m), blocks[bi],
					     threads[ti], i);
				for (uint32_t t = 0; t < n; t++) {
					cr_assert_eq(ids[i * k + t], r[i][t].id, "%s block %zu threads %u q%zu rank %u: id %u, naive %u",
						     knn_metric_name(m), blocks[bi], threads[ti], i, t, ids[i * k + t], r[i][t].id);
					/* the exact score, as the whole-base search gives it */
					cr_assert_eq(sc[i * k + t], (float)knn_score(m, q + i * d, b + (size_t)r[i][t].id * d, d));
				}
			}
		}
	free(q), free(b);
}

Test(knn, blocked_threaded_equals_naive_with_ties)
{
	check_fetch_equals_naive(KNN_COSINE, -INFINITY);
	check_fetch_equals_naive(KNN_L2, -INFINITY);
	check_fetch_equals_naive(KNN_IP, -INFINITY);
	check_fetch_equals_naive(KNN_COSINE, 0.2f);
}

Test(knn, ties_break_to_lower_ids_across_blocks_and_workers)
{
	/* 40 copies of one vector spread over many blocks: the top k are the
	 * lowest ids among them, whatever worker saw which block */
	const size_t nb = 3001;
	const uint32_t d = 8, k = 10;
	float *b = randn(nb, d, 21);
	for (size_t c = 0; c < 40; c++)
		memcpy(b + (2999 - c * 73) * d, b + 3000 * d, d * sizeof(float));
	uint32_t ids[10], n;
	for (unsigned t = 1; t <= 4; t++) {
		struct fetch_ctx f = { b, d, UINT64_MAX, 0, 0 };
		struct knn_opts o;
		knn_opts_init(&o);
		o.threads = t;
		o.block_rows = 77;
		cr_assert_eq(knn_exact_fetch(b + 3000 * d, 1, d, k, KNN_L2, -INFINITY, nb, fetch_copy, &f, &o, ids,
					     NULL, &n, NULL),
			     0);
		cr_assert_eq(n, k);
		for (uint32_t r = 0; r < k; r++) /* copies sit at 2999 - 73c; the lowest are c = 39, 38, ... */
			cr_assert_eq(ids[r], 2999 - (39 - r) * 73, "threads %u rank %u: %u", t, r, ids[r]);
	}
	free(b);
}

Test(knn, blas_threads_do_not_matter)
{
	const size_t nq = 40, nb = 12000;
	const uint32_t d = 64, k = 15;
	float *q = randn(nq, d, 4), *b = randn(nb, d, 5);
	uint32_t ids_a[40 * 15], ids_b[40 * 15], na[40], nbo[40];
	float sa[40 * 15], sb[40 * 15];
	vec_set_threads(1);
	struct knn_opts o;
	knn_opts_init(&o);
	o.threads = 1;
	struct fetch_ctx f = { b, d, UINT64_MAX, 0, 0 };
	cr_assert_eq(knn_exact_fetch(q, nq, d, k, KNN_L2, -INFINITY, nb, fetch_copy, &f, &o, ids_a, sa, na, NULL), 0);
	vec_set_threads(2);
	cr_assert_eq(knn_exact_fetch(q, nq, d, k, KNN_L2, -INFINITY, nb, fetch_copy, &f, &o, ids_b, sb, nbo, NULL), 0);
	cr_assert_eq(vec_get_threads(), 2, "a one-worker search keeps the BLAS threads");
	cr_assert_arr_eq(ids_a, ids_b, sizeof ids_a);
	cr_assert_arr_eq(sa, sb, sizeof sa);
	cr_assert_arr_eq(na, nbo, sizeof na);
	o.threads = 2;
	cr_assert_eq(knn_exact_fetch(q, nq, d, k, KNN_L2, -INFINITY, nb, fetch_copy, &f, &o, ids_b, sb, nbo, NULL), 0);
	cr_assert_eq(vec_get_threads(), 2, "the BLAS threads are restored after the workers");
	cr_assert_arr_eq(ids_a, ids_b, sizeof ids_a);
	cr_assert_arr_eq(sa, sb, sizeof sa);
	free(q), free(b);
}

Test(knn, a_failed_fetch_is_the_error)
{
	const size_t nb = 5000;
	const uint32_t d = 8, k = 3;
	float *b = randn(nb, d, 31), *q = randn(2, d, 32);
	uint32_t ids[6], n[2];
	for (unsigned t = 1; t <= 3; t++) {
		struct fetch_ctx f = { b, d, 2500, 0, 0 };
		struct knn_opts o;
		knn_opts_init(&o);
		o.threads = t;
		o.block_rows = 1000;
		struct err e = ERR_INIT;
		cr_assert_eq(knn_exact_fetch(q, 2, d, k, KNN_COSINE, -INFINITY, nb, fetch_copy, &f, &o, ids, NULL, n, &e),
			     -1);
		cr_assert_eq(e.cls, ERR_CORRUPT);
		cr_assert(strstr(e.msg, "block at row 2000") != NULL, "%s", e.msg);
	}
	free(b), free(q);
}

Test(knn, fewer_base_rows_than_k_and_errors)
{
	const uint32_t d = 8;
	float *b = randn(3, d, 6), *q = randn(2, d, 7);
	uint32_t ids[2 * 5], n[2];
	cr_assert_eq(knn_exact(q, 2, b, 3, d, 5, KNN_IP, -INFINITY, ids, NULL, n, NULL), 0);
	cr_assert_eq(n[0], 3);
	cr_assert_eq(n[1], 3);
	cr_assert_eq(ids[3], UINT32_MAX);
	struct err e = ERR_INIT;
	cr_assert_eq(knn_exact(q, 2, b, 3, d, 0, KNN_IP, -INFINITY, ids, NULL, n, &e), -1);
	cr_assert_eq(e.cls, ERR_USAGE);
	enum knn_metric m;
	cr_assert_eq(knn_metric_parse("l2", &m, NULL), 0);
	cr_assert_eq(m, KNN_L2);
	cr_assert_eq(knn_metric_parse("euclid", &m, &e), -1);
	cr_assert(strstr(e.hint, "cosine") != NULL);
	free(b), free(q);
}
