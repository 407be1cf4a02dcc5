/*
 * test_stats.c — Mann-Whitney U against scipy's values, the bootstrap CI
 * (deterministic per seed, covers a known shift), nearest-rank percentiles
 * and step detection: planted steps found at the right index, issue 12's
 * p99 20140 -> 775.8 -> 64.5 ms as two steps (one and several runs per
 * level), plain noise and single outliers left alone, a 10% step found
 * under a small uncertainty and not under a large one, short series.
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

/* steps of x (sigma NULL or per point) at min_rel, into o; asserts success */
static void detect(const double *x, const double *sigma, size_t n, double min_rel, struct stats_steps *o)
{
	struct err e = ERR_INIT;
	cr_assert_eq(stats_detect_steps(x, sigma, n, min_rel, o, &e), 0, "%s", e.msg);
}

Test(stats, planted_step_is_found)
{
	double x[40];
	uint64_t s = 5;
	for (int i = 0; i < 40; i++)
		x[i] = (i < 23 ? 10.0 : 13.0) + 0.1 * sm_normal(&s);
	struct stats_steps o;
	detect(x, NULL, 40, 0.05, &o);
	cr_assert_eq(o.n_steps, 1);
	cr_assert_eq(o.fill, STATS_FILL_SERIES);
	cr_assert_eq(o.steps[0].index, 23);
	cr_assert_float_eq(o.steps[0].before, 10.0, 0.1);
	cr_assert_float_eq(o.steps[0].after, 13.0, 0.1);
	cr_assert_float_eq(o.steps[0].rel, 0.3, 0.02);
	cr_assert_eq(o.steps[0].n_before, 23);
	cr_assert_eq(o.steps[0].n_after, 17);
	cr_assert_gt(o.steps[0].z, 20);
	stats_steps_release(&o);
	/* two steps, down then up */
	for (int i = 0; i < 40; i++)
		x[i] = (i < 10 ? 5.0 : i < 30 ? 4.0 : 6.0) + 0.05 * sm_normal(&s);
	detect(x, NULL, 40, 0.05, &o);
	cr_assert_eq(o.n_steps, 2);
	cr_assert_eq(o.steps[0].index, 10);
	cr_assert_lt(o.steps[0].rel, 0);
	cr_assert_eq(o.steps[1].index, 30);
	cr_assert_gt(o.steps[1].rel, 0);
	stats_steps_release(&o);
}

/* issue 12: p99 20140 -> 775.8 -> 64.5 ms was "no step of 5% or more" */
Test(stats, orders_of_magnitude_one_run_per_level)
{
	double x[] = { 20140, 775.8, 64.5 };
	double sig[] = { 20140 * 0.03, 775.8 * 0.02, 64.5 * 0.04 }; /* block standard errors */
	struct stats_steps o;
	detect(x, sig, 3, 0.05, &o);
	cr_assert(o.log_scale);
	cr_assert_eq(o.fill, STATS_FILL_NONE);
	cr_assert_eq(o.n_steps, 2);
	cr_assert_eq(o.steps[0].index, 1);
	cr_assert_float_eq(o.steps[0].rel, 775.8 / 20140 - 1, 1e-9); /* -96.1% */
	cr_assert_float_eq(o.steps[0].before, 20140, 1e-6);
	cr_assert_float_eq(o.steps[0].after, 775.8, 1e-6);
	cr_assert_eq(o.steps[1].index, 2);
	cr_assert_float_eq(o.steps[1].rel, 64.5 / 775.8 - 1, 1e-9); /* -91.7% */
	cr_assert_gt(o.steps[0].z, 30);
	cr_assert_eq(o.outlier[1], 0);
	stats_steps_release(&o);
	/* no uncertainty at all: the assumed 10% still calls 26x a step */
	detect(x, NULL, 3, 0.05, &o);
	cr_assert_eq(o.fill, STATS_FILL_ASSUMED);
	cr_assert_eq(o.n_steps, 2);
	stats_steps_release(&o);
	/* one known sigma: the others take it (asv's median rule) */
	double one[] = { NAN, 775.8 * 0.02, NAN };
	detect(x, one, 3, 0.05, &o);
	cr_assert_eq(o.fill, STATS_FILL_KNOWN);
	cr_assert_eq(o.n_steps, 2);
	stats_steps_release(&o);
}

Test(stats, orders_of_magnitude_few_runs_per_level)
{
	double lv[] = { 20140, 775.8, 64.5 }, x[12];
	uint64_t s = 12;
	for (int i = 0; i < 12; i++)
		x[i] = lv[i / 4] * exp(0.03 * sm_normal(&s));
	struct stats_steps o;
	detect(x, NULL, 12, 0.05, &o);
	cr_assert_eq(o.n_steps, 2);
	cr_assert_eq(o.steps[0].index, 4);
	cr_assert_eq(o.steps[1].index, 8);
	cr_assert_float_eq(o.steps[0].rel, -0.96, 0.01);
	cr_assert_float_eq(o.steps[1].rel, -0.917, 0.01);
	cr_assert_eq(o.steps[0].n_before, 4);
	stats_steps_release(&o);
}

Test(stats, noise_is_not_a_step)
{
	double x[40], sig[40];
	uint64_t s = 3;
	for (int i = 0; i < 40; i++) {
		x[i] = 100.0 * exp(0.05 * sm_normal(&s));
		sig[i] = 5.0;
	}
	struct stats_steps o;
	detect(x, NULL, 40, 0.05, &o);
	cr_assert_eq(o.n_steps, 0, "found %zu steps, first at %zu", o.n_steps, o.n_steps ? o.steps[0].index : 0);
	cr_assert_null(o.steps);
	stats_steps_release(&o);
	detect(x, sig, 40, 0.05, &o);
	cr_assert_eq(o.n_steps, 0);
	stats_steps_release(&o);
	/* a claimed 1% uncertainty under 5% run-to-run noise: tau widens it */
	for (int i = 0; i < 40; i++)
		sig[i] = 1.0;
	detect(x, sig, 40, 0.05, &o);
	cr_assert_eq(o.n_steps, 0);
	cr_assert_gt(o.tau, 0.03);
	stats_steps_release(&o);
}

Test(stats, one_outlier_is_not_a_step)
{
	double x[60], sig[60];
	uint64_t s = 9;
	for (int i = 0; i < 60; i++) {
		x[i] = 10.0 + 0.3 * sm_normal(&s);
		sig[i] = 0.3;
	}
	x[31] = 14.0;
	struct stats_steps o;
	detect(x, NULL, 60, 0.05, &o);
	cr_assert_eq(o.n_steps, 0, "found %zu steps, first at %zu", o.n_steps, o.n_steps ? o.steps[0].index : 0);
	stats_steps_release(&o);
	detect(x, sig, 60, 0.05, &o);
	cr_assert_eq(o.n_steps, 0);
	cr_assert_eq(o.outlier[31], 1);
	for (int i = 0; i < 60; i++)
		cr_assert(i == 31 || !o.outlier[i], "point %d", i);
	stats_steps_release(&o);
	/* a lone point in a three-run series whose neighbours agree */
	double three[] = { 100, 180, 101 }, s3[] = { 1, 1, 1 };
	detect(three, s3, 3, 0.05, &o);
	cr_assert_eq(o.n_steps, 0);
	cr_assert_eq(o.outlier[1], 1);
	stats_steps_release(&o);
}

Test(stats, step_against_its_uncertainty)
{
	double x[16], sig[16];
	uint64_t s = 21;
	for (int i = 0; i < 16; i++) {
		x[i] = (i < 8 ? 100.0 : 110.0) * exp(0.01 * sm_normal(&s));
		sig[i] = 0.01 * x[i];
	}
	struct stats_steps o;
	detect(x, sig, 16, 0.05, &o);
	cr_assert_eq(o.n_steps, 1);
	cr_assert_eq(o.steps[0].index, 8);
	cr_assert_float_eq(o.steps[0].rel, 0.10, 0.02);
	cr_assert_gt(o.steps[0].z, 5);
	stats_steps_release(&o);
	/* the same values, each said to be uncertain by 20%: not a step */
	for (int i = 0; i < 16; i++)
		sig[i] = 0.2 * x[i];
	detect(x, sig, 16, 0.05, &o);
	cr_assert_eq(o.n_steps, 0);
	stats_steps_release(&o);
}

Test(stats, short_series_and_thresholds)
{
	struct stats_steps o;
	double two[] = { 100, 300 }, s2[] = { 2, 6 };
	detect(two, s2, 2, 0.05, &o);
	cr_assert_eq(o.n_steps, 1);
	cr_assert_eq(o.steps[0].index, 1);
	cr_assert_float_eq(o.steps[0].rel, 2.0, 1e-9);
	stats_steps_release(&o);
	double close[] = { 100, 103 }, sc[] = { 2, 2 };
	detect(close, sc, 2, 0.01, &o);
	cr_assert_eq(o.n_steps, 0);
	stats_steps_release(&o);
	double one[] = { 5 };
	detect(one, NULL, 1, 0.05, &o);
	cr_assert_eq(o.n_steps, 0);
	stats_steps_release(&o);
	detect(one, NULL, 0, 0.05, &o);
	cr_assert_eq(o.n_steps, 0);
	stats_steps_release(&o);
	/* small steps below min_rel are not reported */
	double x[60];
	uint64_t s = 9;
	for (int i = 0; i < 60; i++)
		x[i] = (i < 30 ? 10.0 : 10.2) + 0.001 * sm_normal(&s);
	detect(x, NULL, 60, 0.05, &o);
	cr_assert_eq(o.n_steps, 0);
	stats_steps_release(&o);
	detect(x, NULL, 60, 0.01, &o);
	cr_assert_eq(o.n_steps, 1);
	cr_assert_eq(o.steps[0].index, 30);
	stats_steps_release(&o);
	/* values at or below zero: fitted as they are */
	double d[12];
	for (int i = 0; i < 12; i++)
		d[i] = (i < 6 ? -1.0 : 4.0) + 0.01 * sm_normal(&s);
	detect(d, NULL, 12, 0.05, &o);
	cr_assert_eq(o.log_scale, 0);
	cr_assert_eq(o.n_steps, 1);
	cr_assert_eq(o.steps[0].index, 6);
	stats_steps_release(&o);
}
