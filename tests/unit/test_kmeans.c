/*
 * test_kmeans.c — k-means (planted clusters, determinism across BLAS
 * threads and runs) and the vec kernels it rests on.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/err.h"
#include "engrave/kmeans.h"
#include "engrave/rng.h"
#include "engrave/synth.h"
#include "engrave/vec.h"

/* ---- vec ---------------------------------------------------------------- */

Test(vec, exact_kernels_match_naive)
{
	uint32_t dims[] = { 1, 7, 8, 9, 64, 100, 768 };
	float a[768], b[768];
	rng_normal_fill(1, 1, 0, 768, a);
	rng_normal_fill(1, 2, 0, 768, b);
	for (int t = 0; t < 7; t++) {
		uint32_t d = dims[t];
		double dot = 0, l2 = 0, nn = 0;
		for (uint32_t j = 0; j < d; j++) {
			dot += (double)a[j] * b[j];
			l2 += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
			nn += (double)a[j] * a[j];
		}
		cr_assert(fabs(vec_dot_f64(a, b, d) - dot) < 1e-12 * (1 + fabs(dot)), "d=%u", d);
		cr_assert(fabs(vec_sqdist_f64(a, b, d) - l2) < 1e-12 * (1 + l2), "d=%u", d);
		cr_assert(fabs(vec_sqnorm_f64(a, d) - nn) < 1e-12 * (1 + nn), "d=%u", d);
		cr_assert(fabs(vec_dot(a, b, d) - dot) < 1e-4 * (1 + sqrt(nn) * 30), "d=%u", d);
		cr_assert(fabs(vec_norm(a, d) - sqrt(nn)) < 1e-5 * sqrt(nn));
	}
	float r[3 * 9];
	rng_normal_fill(2, 1, 0, 27, r);
	memset(r + 9, 0, 9 * sizeof *r); /* zero row stays zero */
	vec_normalize_rows(r, 3, 9);
	cr_assert(fabs(vec_norm(r, 9) - 1) < 1e-6);
	cr_assert_eq(vec_norm(r + 9, 9), 0);
	cr_assert(fabs(vec_norm(r + 18, 9) - 1) < 1e-6);
}

Test(vec, blocks_match_exact_and_are_thread_invariant)
{
	const size_t na = 3000, nb = 700;
	const uint32_t d = 256;
	float *a = malloc(na * d * sizeof *a), *b = malloc(nb * d * sizeof *b);
	float *o1 = malloc(na * nb * sizeof *o1), *o2 = malloc(na * nb * sizeof *o2);
	float *an = malloc(na * sizeof *an), *bn = malloc(nb * sizeof *bn);
	rng_normal_fill(3, 1, 0, na * d, a);
	rng_normal_fill(3, 2, 0, nb * d, b);
	vec_sqnorms(a, na, d, an);
	vec_sqnorms(b, nb, d, bn);
	int saved = vec_get_threads();
	vec_set_threads(1);
	cr_assert_eq(vec_get_threads(), 1);
	vec_sqdist_block(a, na, an, b, nb, bn, d, o1);
	vec_set_threads(2);
	vec_sqdist_block(a, na, an, b, nb, bn, d, o2);
	/* OpenBLAS does not promise the same bits for 1 and 2 threads (its
	 * Haswell kernels, which 0.3.21 uses on Zen 5, sum edge tiles in another
	 * order), so callers settle anything within vec_margin() exactly; what
	 * must hold is that both stay within that bound of each other. */
	double M = vec_margin(d);
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			cr_assert(fabs((double)o1[i * nb + j] - o2[i * nb + j]) <= 8 * M * (an[i] + bn[j]),
				  "(%zu,%zu): 1 thread %g vs 2 threads %g", i, j, o1[i * nb + j], o2[i * nb + j]);
	for (size_t i = 0; i < na; i += 97)
		for (size_t j = 0; j < nb; j += 31) {
			double ex = vec_sqdist_f64(a + i * d, b + j * d, d);
			cr_assert(fabs(o1[i * nb + j] - ex) <= 4 * M * (an[i] + bn[j]),
				  "(%zu,%zu): %f vs %f", i, j, o1[i * nb + j], ex);
		}
	vec_set_threads(1);
	vec_ip_block(a, na, b, nb, d, o1);
	vec_set_threads(2);
	vec_ip_block(a, na, b, nb, d, o2);
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			cr_assert(fabs((double)o1[i * nb + j] - o2[i * nb + j]) <= 4 * M * (an[i] + bn[j]),
				  "ip (%zu,%zu): 1 thread %g vs 2 threads %g", i, j, o1[i * nb + j], o2[i * nb + j]);
	for (size_t i = 0; i < na; i++)
		an[i] = sqrtf(an[i]);
	for (size_t j = 0; j < nb; j++)
		bn[j] = sqrtf(bn[j]);
	vec_cos_block(a, 5, an, b, 5, bn, d, o1);
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 5; j++) {
			double c = vec_dot_f64(a + i * d, b + j * d, d) / (an[i] * (double)bn[j]);
			cr_assert(fabs(o1[i * 5 + j] - c) < 1e-5);
		}
	vec_set_threads(saved);
	free(a), free(b), free(o1), free(o2), free(an), free(bn);
}

/* ---- k-means ---------------------------------------------------------------- */

/* k well-separated centres (norm 10), m points each with noise 0.1; point i
 * belongs to cluster i % k. */
static float *planted(uint32_t k, uint32_t d, size_t m, float **centres)
{
	float *c = malloc((size_t)k * d * sizeof *c);
	rng_normal_fill(11, 1, 0, (size_t)k * d, c);
	vec_normalize_rows(c, k, d);
	for (size_t i = 0; i < (size_t)k * d; i++)
		c[i] *= 10;
	size_t n = (size_t)k * m;
	float *x = malloc(n * d * sizeof *x);
	rng_normal_fill(11, 2, 0, n * d, x);
	for (size_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < d; j++)
			x[i * d + j] = c[(i % k) * d + j] + 0.1f * x[i * d + j];
	*centres = c;
	return x;
}

static void check_planted(enum kmeans_algo algo)
{
	const uint32_t k = 8, d = 32;
	const size_t m = 250, n = k * m;
	float *truth, *x = planted(k, d, m, &truth);
	struct kmeans_opts o;
	kmeans_opts_init(&o, k);
	o.algo = algo;
	o.max_iter = algo == KMEANS_LLOYD ? 50 : 20;
	o.batch_size = 256;
	float cent[8 * 32];
	uint64_t sizes[8];
	double inertia;
	struct err e = ERR_INIT;
	cr_assert_eq(kmeans_run(x, n, d, &o, cent, sizes, &inertia, &e), 0, "%s", e.msg);
	/* every true centre has exactly one found centroid next to it */
	int used[8] = { 0 };
	for (uint32_t t = 0; t < k; t++) {
		int hit = -1;
		for (uint32_t c = 0; c < k; c++)
			if (vec_sqdist_f64(truth + t * d, cent + c * d, d) < 0.01)
				hit = (int)c;
		cr_assert(hit >= 0, "true centre %u not found", t);
		cr_assert(!used[hit]);
		used[hit] = 1;
		cr_assert_eq(sizes[hit], m, "cluster %d has %llu points", hit,
			     (unsigned long long)sizes[hit]);
	}
	/* inertia ~ n d sigma^2 */
	double expect = (double)n * d * 0.01;
	cr_assert(inertia > 0.9 * expect && inertia < 1.1 * expect, "inertia %f, expected ~%f",
		  inertia, expect);
	free(x), free(truth);
}

Test(kmeans, lloyd_finds_planted_clusters) { check_planted(KMEANS_LLOYD); }
Test(kmeans, minibatch_finds_planted_clusters) { check_planted(KMEANS_MINIBATCH); }

static void run_big(enum kmeans_algo algo, int threads, float *cent, uint64_t *sizes, double *in)
{
	const uint32_t k = 40, d = 64;
	const size_t n = 20000;
	float *c = malloc((size_t)k * d * sizeof *c);
	rng_normal_fill(21, 1, 0, (size_t)k * d, c);
	vec_normalize_rows(c, k, d);
	struct synth_opts so;
	synth_opts_init(&so, n);
	so.std_dev = 0.3f; /* overlapping clusters: many near-ties */
	float *x = malloc(n * d * sizeof *x);
	synth_generate(&so, c, k, d, 0, n, x, NULL, NULL);
	struct kmeans_opts o;
	kmeans_opts_init(&o, k);
	o.algo = algo;
	o.max_iter = algo == KMEANS_LLOYD ? 10 : 3;
	o.batch_size = 512;
	vec_set_threads(threads);
	struct err e = ERR_INIT;
	cr_assert_eq(kmeans_run(x, n, d, &o, cent, sizes, in, &e), 0, "%s", e.msg);
	free(c), free(x);
}

static void check_deterministic(enum kmeans_algo algo)
{
	const size_t kd = 40 * 64;
	float *c1 = malloc(kd * sizeof *c1), *c2 = malloc(kd * sizeof *c2), *c3 = malloc(kd * 4);
	uint64_t s1[40], s2[40], s3[40];
	double i1, i2, i3;
	int saved = vec_get_threads();
	run_big(algo, 1, c1, s1, &i1);
	run_big(algo, 2, c2, s2, &i2);
	run_big(algo, 2, c3, s3, &i3);
	vec_set_threads(saved);
	cr_assert(memcmp(c1, c2, kd * sizeof *c1) == 0, "centroids differ between 1 and 2 threads");
	cr_assert(memcmp(c2, c3, kd * sizeof *c1) == 0, "centroids differ between runs");
	cr_assert_arr_eq(s1, s2, sizeof s1);
	cr_assert_arr_eq(s2, s3, sizeof s1);
	cr_assert(memcmp(&i1, &i2, sizeof i1) == 0 && memcmp(&i2, &i3, sizeof i1) == 0);
	uint64_t tot = 0;
	for (int c = 0; c < 40; c++)
		tot += s1[c];
	cr_assert_eq(tot, 20000);
	free(c1), free(c2), free(c3);
}

Test(kmeans, lloyd_bit_identical_across_threads_and_runs) { check_deterministic(KMEANS_LLOYD); }
Test(kmeans, minibatch_bit_identical_across_threads_and_runs)
{
	check_deterministic(KMEANS_MINIBATCH);
}

Test(kmeans, seed_changes_result_and_errors)
{
	const uint32_t k = 4, d = 8;
	float x[100 * 8];
	rng_normal_fill(5, 5, 0, 800, x);
	struct kmeans_opts o;
	kmeans_opts_init(&o, k);
	float a[32], b[32];
	double ia, ib;
	cr_assert_eq(kmeans_run(x, 100, d, &o, a, NULL, &ia, NULL), 0);
	o.seed = 43;
	cr_assert_eq(kmeans_run(x, 100, d, &o, b, NULL, &ib, NULL), 0);
	cr_assert(memcmp(a, b, sizeof a) != 0);
	struct err e = ERR_INIT;
	o.k = 200;
	cr_assert_eq(kmeans_run(x, 100, d, &o, a, NULL, NULL, &e), -1);
	cr_assert_eq(e.cls, ERR_INPUT);
	enum kmeans_algo al;
	cr_assert_eq(kmeans_algo_parse("minibatch", &al, NULL), 0);
	cr_assert_eq(al, KMEANS_MINIBATCH);
	cr_assert_eq(kmeans_algo_parse("elkan", &al, &e), -1);
	cr_assert_eq(e.cls, ERR_USAGE);
}

Test(kmeans, duplicates_and_empty_clusters)
{
	/* 3 distinct points repeated, k = 5: k-means++ must cope with zero
	 * distances and Lloyd with clusters that stay empty */
	const uint32_t d = 4, k = 5;
	float x[60 * 4];
	for (int i = 0; i < 60; i++)
		for (uint32_t j = 0; j < d; j++)
			x[i * d + j] = (float)((i % 3) * 10 + (j == 0));
	struct kmeans_opts o;
	kmeans_opts_init(&o, k);
	float c[20];
	uint64_t sizes[5];
	double in;
	struct err e = ERR_INIT;
	cr_assert_eq(kmeans_run(x, 60, d, &o, c, sizes, &in, &e), 0, "%s", e.msg);
	uint64_t tot = 0;
	for (uint32_t i = 0; i < k; i++)
		tot += sizes[i];
	cr_assert_eq(tot, 60);
	cr_assert(in < 1e-9, "inertia %g", in);
}

Test(vec, sse2_and_avx2_kernels_give_the_same_bits)
{
	enum { D = 771 };
	static float a[D], b[D], r1[4 * D], r2[4 * D], v1[D], v2[D];
	rng_normal_fill(8, 1, 0, D, a);
	rng_normal_fill(8, 2, 0, D, b);
	rng_normal_fill(8, 3, 0, 4 * D, r1);
	memcpy(r2, r1, sizeof r1);
	memcpy(v1, a, sizeof a);
	memcpy(v2, a, sizeof a);
	double x[4], y[4];
	float f[2];
	vec_set_simd(1);
	x[0] = vec_dot_f64(a, b, D), x[1] = vec_sqdist_f64(a, b, D), x[2] = vec_sqnorm_f64(a, D);
	f[0] = vec_dot(a, b, D);
	vec_normalize_rows(r1, 4, D);
	vec_add_scaled(v1, b, 0.3f, D);
	vec_set_simd(0);
	y[0] = vec_dot_f64(a, b, D), y[1] = vec_sqdist_f64(a, b, D), y[2] = vec_sqnorm_f64(a, D);
	f[1] = vec_dot(a, b, D);
	vec_normalize_rows(r2, 4, D);
	vec_add_scaled(v2, b, 0.3f, D);
	vec_set_simd(1);
	cr_assert(memcmp(x, y, 3 * sizeof *x) == 0);
	cr_assert(memcmp(&f[0], &f[1], sizeof *f) == 0);
	cr_assert_arr_eq(r1, r2, sizeof r1);
	cr_assert_arr_eq(v1, v2, sizeof v1);
}

/* init random: k distinct points of x as the start, the same for the same
 * seed, different for another, and Lloyd from there finds the planted
 * well-separated clusters as k-means++ does. */
Test(kmeans, random_init_is_seeded_and_converges)
{
	const uint32_t k = 4, d = 8;
	const size_t n = 400;
	float x[400 * 8];
	for (size_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < d; j++)
			x[i * d + j] = (j == (i % k) ? 10.0f : 0.0f) + 0.01f * (float)((i * 7 + j) % 13);
	struct kmeans_opts o;
	kmeans_opts_init(&o, k);
	o.init_random = 1;
	o.max_iter = 1; /* one pass: the start still shows */
	float c1[4 * 8], c2[4 * 8], cpp[4 * 8];
	double i1, ipp;
	uint64_t s1[4];
	struct err e = ERR_INIT;
	cr_assert_eq(kmeans_run(x, n, d, &o, c1, s1, &i1, &e), 0, "%s", e.msg);
	cr_assert_eq(kmeans_run(x, n, d, &o, c2, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert(memcmp(c1, c2, sizeof c1) == 0, "same seed, same centres");
	o.init_random = 0;
	o.max_iter = 20;
	cr_assert_eq(kmeans_run(x, n, d, &o, cpp, NULL, &ipp, &e), 0, "%s", e.msg);
	o.init_random = 1;
	cr_assert_eq(kmeans_run(x, n, d, &o, c1, s1, &i1, &e), 0, "%s", e.msg);
	uint64_t tot = 0;
	for (uint32_t c = 0; c < k; c++)
		tot += s1[c];
	cr_assert_eq(tot, n);
	/* random starts may land two centres in one cluster; 20 Lloyd passes with
	 * empty-cluster repair still reach a finite inertia no worse than 100x */
	cr_assert(i1 >= 0 && i1 <= ipp * 100 + 1, "inertia %g vs k-means++ %g", i1, ipp);
}
