/*
 * test_stats.c — Mann-Whitney U against scipy's values, the bootstrap CI
 * (deterministic per seed, covers a known shift), nearest-rank percentiles
 * and step detection (a planted step found at the right index, plain
 * noise and single outliers left alone).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "engrave/err.h"
#include "engrave/stats.h"

static uint64_t sm_next(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double sm_normal(uint64_t *x)
{
	double u1 = ((double)(sm_next(x) >> 11) + 0.5) / 9007199254740992.0;
	double u2 = ((double)(sm_next(x) >> 11) + 0.5) / 9007199254740992.0;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

Test(stats, percentile_nearest_rank)
{
	double v[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	cr_assert_float_eq(stats_percentile(v, 10, 50), 5, 1e-12);
	cr_assert_float_eq(stats_percentile(v, 10, 90), 9, 1e-12);
	cr_assert_float_eq(stats_percentile(v, 10, 99), 10, 1e-12);
	cr_assert_float_eq(stats_percentile(v, 10, 100), 10, 1e-12);
	cr_assert_float_eq(stats_percentile(v, 10, 0.1), 1, 1e-12);
	cr_assert_float_eq(stats_percentile(v, 0, 50), 0, 1e-12);
	double w[] = { 3, 1, 2 };
	stats_sort(w, 3);
	cr_assert(w[0] == 1 && w[1] == 2 && w[2] == 3);
}

Test(stats, mann_whitney_matches_scipy)
{
	struct err e = ERR_INIT;
	struct stats_mw r;
	double a[] = { 1, 2, 3, 4, 5 }, b[] = { 6, 7, 8, 9, 10 };
	cr_assert_eq(stats_mann_whitney(a, 5, b, 5, &r, &e), 0);
	cr_assert_float_eq(r.u, 0, 1e-12);
	cr_assert_float_eq(r.p, 0.012185780355344813, 1e-9);
	cr_assert_lt(r.z, 0); /* a is smaller */
	/* with ties (tie-corrected variance) */
	double c[] = { 1, 2, 2, 3, 5, 5 }, d[] = { 2, 3, 3, 4, 5, 6, 7 };
	cr_assert_eq(stats_mann_whitney(c, 6, d, 7, &r, &e), 0);
	cr_assert_float_eq(r.u, 12, 1e-12);
	cr_assert_float_eq(r.p, 0.216901110617298, 1e-9);
	/* identical samples: p = 1 */
	cr_assert_eq(stats_mann_whitney(a, 5, a, 5, &r, &e), 0);
	cr_assert_float_eq(r.p, 1.0, 1e-12);
	cr_assert_eq(stats_mann_whitney(a, 0, b, 5, &r, &e), -1);
	cr_assert_eq(e.cls, ERR_INPUT);
}

static double *sample(uint64_t seed, size_t n, double shift)
{
	double *v = malloc(n * sizeof(*v));
	uint64_t x = seed;
	for (size_t i = 0; i < n; i++)
		v[i] = exp(0.5 * sm_normal(&x)) + shift;
	stats_sort(v, n);
	return v;
}

Test(stats, bootstrap_ci_deterministic_and_covering)
{
	struct err e = ERR_INIT;
	double *a = sample(1, 5000, 0), *b = sample(2, 5000, 0.5), *c = sample(3, 5000, 0);
	struct stats_ci r1, r2, r3;
	cr_assert_eq(stats_bootstrap_pct_diff(a, 5000, b, 5000, 99, 0.99, 2000, 7, &r1, &e), 0, "%s", e.msg);
	cr_assert_eq(stats_bootstrap_pct_diff(a, 5000, b, 5000, 99, 0.99, 2000, 7, &r2, &e), 0);
	cr_assert(r1.lo == r2.lo && r1.hi == r2.hi, "same seed, same interval");
	cr_assert_float_eq(r1.est, stats_percentile(b, 5000, 99) - stats_percentile(a, 5000, 99), 1e-12);
	cr_assert(r1.lo <= r1.est && r1.est <= r1.hi);
	/* a shift of 0.5 at every percentile: the interval holds it and excludes 0 */
	cr_assert(r1.lo < 0.5 && 0.5 < r1.hi, "CI %g..%g", r1.lo, r1.hi);
	cr_assert_gt(r1.lo, 0);
	/* same distribution: the interval holds 0 */
	cr_assert_eq(stats_bootstrap_pct_diff(a, 5000, c, 5000, 99, 0.99, 2000, 7, &r3, &e), 0);
	cr_assert(r3.lo < 0 && 0 < r3.hi, "CI %g..%g", r3.lo, r3.hi);
	/* the median's interval is much narrower than p99's */
	struct stats_ci m;
	cr_assert_eq(stats_bootstrap_pct_diff(a, 5000, c, 5000, 50, 0.99, 2000, 7, &m, &e), 0);
	cr_assert_lt(m.hi - m.lo, r3.hi - r3.lo);
	cr_assert_eq(stats_bootstrap_pct_diff(a, 5000, c, 5000, 0, 0.99, 2000, 7, &m, &e), -1);
	free(a);
	free(b);
	free(c);
}

Test(stats, planted_step_is_found)
{
	struct err e = ERR_INIT;
	double x[40];
	uint64_t s = 5;
	for (int i = 0; i < 40; i++)
		x[i] = (i < 23 ? 10.0 : 13.0) + 0.1 * sm_normal(&s);
	struct stats_step *st = NULL;
	size_t n = 0;
	cr_assert_eq(stats_detect_steps(x, 40, 0.05, &st, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 1);
	cr_assert_eq(st[0].index, 23);
	cr_assert_float_eq(st[0].before, 10.0, 0.1);
	cr_assert_float_eq(st[0].after, 13.0, 0.1);
	cr_assert_float_eq(st[0].rel, 0.3, 0.02);
	free(st);
	/* two steps, down then up */
	for (int i = 0; i < 40; i++)
		x[i] = (i < 10 ? 5.0 : i < 30 ? 4.0 : 6.0) + 0.05 * sm_normal(&s);
	cr_assert_eq(stats_detect_steps(x, 40, 0.05, &st, &n, &e), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(st[0].index, 10);
	cr_assert_lt(st[0].rel, 0);
	cr_assert_eq(st[1].index, 30);
	cr_assert_gt(st[1].rel, 0);
	free(st);
}

Test(stats, noise_and_outliers_are_not_steps)
{
	struct err e = ERR_INIT;
	double x[60];
	uint64_t s = 9;
	for (int i = 0; i < 60; i++)
		x[i] = 10.0 + 0.3 * sm_normal(&s);
	x[31] = 14.0; /* one outlier */
	struct stats_step *st = NULL;
	size_t n = 0;
	cr_assert_eq(stats_detect_steps(x, 60, 0.05, &st, &n, &e), 0);
	cr_assert_eq(n, 0, "found %zu steps, first at %zu", n, n ? st[0].index : 0);
	cr_assert_null(st);
	/* small steps below the threshold are not reported */
	for (int i = 0; i < 60; i++)
		x[i] = (i < 30 ? 10.0 : 10.2) + 0.001 * sm_normal(&s);
	cr_assert_eq(stats_detect_steps(x, 60, 0.05, &st, &n, &e), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(stats_detect_steps(x, 60, 0.01, &st, &n, &e), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(st[0].index, 30);
	free(st);
	/* two points never make a step */
	double two[] = { 1, 2 };
	cr_assert_eq(stats_detect_steps(two, 2, 0.05, &st, &n, &e), 0);
	cr_assert_eq(n, 0);
}
