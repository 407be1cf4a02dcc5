/*
 * stats.h — the statistics behind diff, check and history.
 *
 *  - stats_percentile: nearest rank on a sorted array (metrics.h's rule).
 *  - stats_mann_whitney: two-sided Mann-Whitney U with the normal
 *    approximation, tie correction and continuity correction (what asv's
 *    `_stats.is_different` uses on raw samples).
 *  - stats_bootstrap_pct_diff: a seeded percentile-bootstrap confidence
 *    interval for pct(b) - pct(a). The k-th order statistic of a resample of
 *    n values drawn from a sample is x[ceil(n*U)] with U ~ Beta(k, n-k+1),
 *    so each replicate costs O(1) instead of a resample and a selection;
 *    the result is the same distribution as the classic bootstrap.
 *  - stats_detect_steps: asv's step detection: the series is fitted with a
 *    piecewise-constant function under an L1 (median) cost, the number of
 *    segments J minimising beta*J + log(sum |x - fit|), beta = 4 ln n / n,
 *    and the jumps between segments reported.
 *
 * Pure functions, no global state, thread-safe. Deterministic for a seed.
 */
#ifndef ENGRAVE_STATS_H
#define ENGRAVE_STATS_H

#include <stddef.h>
#include <stdint.h>

struct err;

/* Nearest-rank percentile (0 < pct <= 100) of sorted[0..n); 0 when n == 0. */
double stats_percentile(const double *sorted, size_t n, double pct);
/* Sort ascending in place. */
void stats_sort(double *v, size_t n);

struct stats_mw {
	size_t n1, n2;
	double u;        /* U of sample a */
	double z;        /* > 0: a tends to be larger than b */
	double p;        /* two-sided p value */
};

/* ERR_INPUT when either sample is empty; ERR_NOSPACE when out of memory. */
int stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb, struct stats_mw *out,
		       struct err *e);

struct stats_ci {
	double est;      /* pct(b) - pct(a) on the samples themselves */
	double lo, hi;   /* conf-level interval of the bootstrap replicates */
};

/*
 * a and b must be SORTED ascending. pct in (0, 100], conf in (0, 1) (e.g.
 * 0.99), iters replicates (e.g. 2000), seed for the generator.
 */
int stats_bootstrap_pct_diff(const double *a, size_t na, const double *b, size_t nb, double pct,
			     double conf, unsigned iters, uint64_t seed, struct stats_ci *out, struct err *e);

struct stats_step {
	size_t index;    /* first point of the new level */
	double before;   /* median of the segment before */
	double after;    /* median of the segment from index on */
	double rel;      /* (after - before) / |before|, 0 when before == 0 */
};

#define STATS_STEPS_MAX_POINTS 1000

/*
 * Steps in x[0..n) whose relative size is at least min_rel (e.g. 0.05),
 * in order. *steps is malloc'd (caller frees; NULL when none). Series
 * longer than STATS_STEPS_MAX_POINTS are analysed over their last
 * STATS_STEPS_MAX_POINTS points (indices stay those of x).
 */
int stats_detect_steps(const double *x, size_t n, double min_rel, struct stats_step **steps,
		       size_t *n_steps, struct err *e);

#endif
