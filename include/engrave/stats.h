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
 *  - stats_detect_steps: asv's step detection with per-point uncertainty:
 *    the series (on ln x when every value is positive, so a step is a
 *    ratio) is fitted with the piecewise-constant f minimising
 *    sum_i |y_i - f_i| / sigma_i + gamma * (number of levels), sigma_i
 *    each point's uncertainty widened by the between-run noise the series
 *    shows, gamma = STATS_GAMMA0 + STATS_GAMMA1 ln n; a lone point whose
 *    neighbours agree is an outlier, not two steps. Rule and reasons in
 *    stats.c.
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
	double before;   /* level (weighted median) of the segment before */
	double after;    /* level of the segment from index on */
	double rel;      /* (after - before) / |before|, 0 when before == 0 */
	double z;        /* |jump| over its standard error (fit scale): the significance */
	size_t n_before, n_after;  /* points on the two levels, outliers left out */
};

/* How the points without an uncertainty got one. */
enum stats_fill {
	STATS_FILL_NONE = 0,  /* every point had its own */
	STATS_FILL_KNOWN,     /* the median of those that had one (asv's rule) */
	STATS_FILL_SERIES,    /* the series' own noise, from successive differences */
	STATS_FILL_ASSUMED,   /* under STATS_NOISE_MIN_POINTS points, none known: STATS_ASSUMED_REL */
};

struct stats_steps {
	struct stats_step *steps;  /* malloc'd, in order; NULL when none */
	size_t n_steps;
	unsigned char *outlier;    /* malloc'd [n]: 1 = a lone point left out of the fit */
	double *sigma;             /* malloc'd [n]: the uncertainty the fit used (relative on
				    * log scale, else in x's units); NAN before the window */
	int log_scale;             /* 1: fitted on ln x */
	double tau;                /* between-run noise added to every point (sigma's units) */
	double gamma;              /* penalty per level, in units of one sigma */
	enum stats_fill fill;
};

#define STATS_STEPS_MAX_POINTS 1000
#define STATS_GAMMA0 3.0
#define STATS_GAMMA1 1.0
#define STATS_NOISE_MIN_POINTS 6
#define STATS_ASSUMED_REL 0.10
#define STATS_SIGMA_FLOOR 0.01

/*
 * Steps in x[0..n) whose relative size is at least min_rel (e.g. 0.05).
 * sigma: each point's standard error in x's units, NAN where unknown, or
 * NULL when none is known. Series longer than STATS_STEPS_MAX_POINTS are
 * analysed over their last STATS_STEPS_MAX_POINTS points (indices stay
 * those of x). Caller releases *out with stats_steps_release (also after
 * an error). ERR_NOSPACE when out of memory.
 */
int stats_detect_steps(const double *x, const double *sigma, size_t n, double min_rel, struct stats_steps *out,
		       struct err *e);
void stats_steps_release(struct stats_steps *s); /* NULL-safe */

#endif
