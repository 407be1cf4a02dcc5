/*
 * verdict.h — the one verdict engine: is run B worse, better or the same
 * as run A, metric by metric, and how sure can we be.
 *
 * `engrave check`, `diff`, `log` and `history` all take their verdicts
 * from here, so they cannot disagree. The rule, in one line:
 *
 *   regression: the metric is worse than its tolerance (e.g. p99 +5%), the
 *   95% confidence interval of the change excludes 0, and the change
 *   exceeds the runs' own noise floor; improvement: the mirror image;
 *   anything else is "no change".
 *
 * The uncertainty fits the data there is (verdict_method):
 *   REPEATS    both runs have >= 3 repeats (loadtest.repeat): the metric is
 *              computed per repeat, the CI is Welch's t interval of the
 *              difference of the repeat means, and the noise floor is the
 *              larger run-to-run coefficient of variation (asv, Bencher).
 *   BLOCKS     one repeat: the stored per-request records are cut into
 *              blocks of time (about 30 per run) and the blocks are
 *              resampled with replacement (a block bootstrap: requests close
 *              in time are correlated, so single requests are not
 *              independent samples of the build); the noise floor is the
 *              client's own wake-up error (client_wakeup_p99_us) at that
 *              metric's size.
 *   THRESHOLD  no records (imported or old runs) or a metric without a
 *              per-request form (recall, counts): the tolerance alone decides
 *              and the note says so.
 * Error rate keeps Engram's gate in percentage points (fails when either
 * side is >= 5% and the run's rate exceeds the baseline's by > 5 points).
 *
 * A regression on a run whose machine was busy (verdict_machine_busy), or
 * whose machine changed speed (verdict_speed_changed), is kept as a
 * regression but marked `untrusted`: check says so and exits 1
 * with a distinct message (3 with --strict-noise).
 *
 * Deterministic: the bootstrap is seeded.
 */
#ifndef ENGRAVE_VERDICT_H
#define ENGRAVE_VERDICT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct spec;
struct run_record;
struct err;

enum verdict_kind {
	VERDICT_SAME,         /* within tolerance, or not distinguishable from noise */
	VERDICT_REGRESSION,
	VERDICT_IMPROVEMENT,
	VERDICT_MISSING,      /* not measured on one side: no verdict */
	VERDICT_INFO,         /* a figure without a direction (counts, noise.*): no verdict */
};

enum verdict_method { VERDICT_BY_THRESHOLD, VERDICT_BY_BLOCKS, VERDICT_BY_REPEATS };

struct verdict {
	char metric[64];
	int gated;            /* a tolerance of the spec (or Engram's defaults): decides `check` */
	double a, b;          /* baseline and run values (NAN when absent) */
	double change;        /* (b - a) / |a| * 100, or percentage points when pp; NAN if undefined */
	int pp;               /* change and tolerance in percentage points (error_rate) */
	double tol;           /* tolerance in the worse direction, > 0 (5 = 5%) */
	int worse_sign;       /* +1: higher is worse (latency), -1: lower is worse (throughput, recall) */
	double ci_lo, ci_hi;  /* 95% CI of the change (same unit); NAN without uncertainty */
	double noise;         /* the runs' noise floor for the change (same unit), 0 when unknown */
	enum verdict_method method;
	int n_a, n_b;         /* repeats (REPEATS) or blocks (BLOCKS) per side */
	enum verdict_kind kind;
	int breach;           /* the change is beyond the tolerance in the worse direction */
	int untrusted;        /* a regression on a busy machine */
	char why[192];        /* one line: why this verdict */
};

struct verdict_set {
	struct verdict *v;    /* malloc'd: gated metrics first, in rule order, then the rest by name */
	size_t n;
	char busy[160];       /* "" or why a run's machine was busy */
};

struct verdict_opts {
	double conf;          /* CI level, 0.95 */
	unsigned iters;       /* bootstrap replicates, 2000 */
	uint64_t seed;        /* 1 */
	int all_metrics;      /* 1: every metric present on both sides (diff), 0: the gated ones (check) */
	int always_ci;        /* 1: uncertainty even when inside the tolerance (diff shows it) */
};
void verdict_opts_default(struct verdict_opts *o);

/* The rule, one line, for help texts and reports. */
extern const char verdict_rule_text[];

/*
 * Verdicts for run `run` against baseline `base`. The gated metrics are the
 * spec's `checks.baseline` tolerances (sp may be NULL), or Engram's
 * defaults p99_ms +5%, throughput -5%, error_rate +5pp. With all_metrics,
 * every other metric the two runs share follows, with 5% in its worse
 * direction for latencies, throughput, goodput and recall, and INFO for the
 * rest. Returns -1 only on a store error (missing records just fall back to
 * THRESHOLD). Caller releases with verdict_set_release.
 */
int verdict_pair(struct store *st, const struct run_record *base, const struct run_record *run,
		 const struct spec *sp, const struct verdict_opts *o, struct verdict_set *out, struct err *e);
void verdict_set_release(struct verdict_set *s); /* NULL-safe */
const struct verdict *verdict_find(const struct verdict_set *s, const char *metric);

/*
 * One run's own uncertainty of a metric, as a standard error in the
 * metric's unit (*sigma; NAN when the run has no records or the metric no
 * per-request form): the spread of the repeat values / sqrt(repeats) with
 * >= 3 repeats, else the standard deviation of the block bootstrap. For
 * `history`, which weighs each point by it. -1 only on a store error.
 */
int verdict_run_sigma(struct store *st, const struct run_record *r, const char *metric, const struct verdict_opts *o,
		      double *sigma, struct err *e);

/* "regression", "improvement", "no change", "MISSING", "" (info). */
const char *verdict_kind_name(enum verdict_kind k);
/* "repeats", "block bootstrap", "threshold only". */
const char *verdict_method_name(enum verdict_method m);
/* A short human form: "+8.30% (CI +5.1..+11.4%, block bootstrap) regression". */
void verdict_describe(const struct verdict *v, char *out, size_t cap);
json_t *verdict_json(const struct verdict *v);

/*
 * 1 when the run's noise metrics (noise.other_cpu_pct >= 20, or
 * noise.steal_pct >= 5) say its machine was busy, with the reason in why.
 */
#define VERDICT_BUSY_OTHER_CPU_PCT 20.0
#define VERDICT_BUSY_STEAL_PCT 5.0
int verdict_machine_busy(const struct run_record *r, char *why, size_t cap);
/*
 * 1 when the machine's own speed (noise.cpu_speed_before/_after, a fixed
 * CPU calibration around each load test) changed by VERDICT_SPEED_CHANGE_PCT
 * or more during either run or between the two: a virtual CPU that slows
 * down moves every latency with it, so a change measured across it is
 * not the target's. why says which and by how much.
 */
#define VERDICT_SPEED_CHANGE_PCT 5.0
int verdict_speed_changed(const struct run_record *base, const struct run_record *run, char *why, size_t cap);

#endif
