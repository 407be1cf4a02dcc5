/*
 * check.h — regression checks of a run: the spec's absolute thresholds and
 * tolerances relative to a baseline run.
 *
 * Absolute: each `checks:` entry (p99_ms < 50, error_rate == 0, ...) against
 * the run's metric. A metric the run (or the baseline) lacks is MISSING, not
 * a pass and not a regression: the caller reports missing data (exit 3).
 * One exception: a recall score (recall, recall_p05) that a run whose load
 * test finished could not produce fails, with the reason in the note
 * (recall_unscored_why in recall.h): the spec asked for recall.
 * Baseline-relative: the spec's `checks.baseline` tolerances, or when it
 * names none, Engram's compare-script defaults: p99_ms +5%, throughput -5%,
 * and the error-rate gate (fails when either side is >= 5% and the run's
 * rate exceeds the baseline's by more than 5 points). A +N% tolerance fails
 * when the metric grows by more than N%, a -N% one when it shrinks by more
 * than N%. The baseline-relative verdicts are the verdict engine's
 * (verdict.h: tolerance, 95% CI excluding 0, noise floor); a breach the
 * engine calls noise is CHECK_NOISE (passes), and the row's note says why.
 * When every failure is a regression on a busy machine (untrusted), the
 * exit code is 1 with a distinct word, or 3 when strict_noise is set.
 */
#ifndef ENGRAVE_CHECK_H
#define ENGRAVE_CHECK_H

#include <jansson.h>
#include <stddef.h>

#include "engrave/compare.h"
#include "engrave/verdict.h"

struct store;
struct spec;
struct run_record;
struct err;
struct buf;

enum check_verdict {
	CHECK_PASS, CHECK_FAIL, CHECK_NOISE /* breach inside the noise: passes */,
	CHECK_MISSING /* the metric is not measured on one side: no verdict */
};

struct check_row {
	char metric[64];
	int relative;        /* 0: absolute threshold, 1: against the baseline */
	double value;        /* the run's value (NAN when not measured) */
	double baseline;     /* relative rows: the baseline's value (NAN when absent) */
	double change_pct;   /* relative rows: (value - baseline) / |baseline| * 100, NAN if undefined */
	char threshold[32];  /* "< 50", "+5%", "+5pp" */
	int has_verdict;     /* relative rows: v is the engine's verdict */
	struct verdict v;
	enum check_verdict verdict;
	char note[192];
};

struct check_result {
	struct check_row *rows;   /* malloc'd */
	size_t n;
	int failures;             /* rows with CHECK_FAIL */
	char run_id[48];
	char baseline_id[48];     /* "" without a baseline */
	int missing;              /* rows with CHECK_MISSING */
	int untrusted;            /* CHECK_FAIL rows that are regressions on a busy machine */
	char busy[160];           /* "" or why a run's machine was busy (verdict_machine_busy) */
	int strict_noise;         /* set by the caller: only-untrusted failures give exit 3, not 1 */
};

/*
 * Evaluate `run` (its spec `sp`, which supplies checks and tolerances)
 * against `base` (may be NULL: absolute checks only). `o` may be NULL
 * (verdict_opts_default). Returns 0 when evaluated (pass or not: read
 * out->failures); -1 on a store error. Caller releases with
 * check_result_release.
 */
int check_run(struct store *st, const struct run_record *run, const struct spec *sp,
	      const struct run_record *base, const struct verdict_opts *o, struct check_result *out,
	      struct err *e);
void check_result_release(struct check_result *r); /* NULL-safe */
/* The overall verdict as an exit code: 1 when a check failed (3 instead
 * when every failure is untrusted and strict_noise is set), else 3 when a
 * metric was missing or nothing was checked, else 0. */
int check_exit_code(const struct check_result *r);
/* "REGRESSION", "UNTRUSTED REGRESSION (machine busy)", "NO VERDICT (machine
 * busy)", "MISSING DATA", "NOTHING CHECKED" or "PASS", matching check_exit_code. */
const char *check_summary_word(const struct check_result *r);

/* The result as a text table (metric, value, baseline, change, threshold,
 * verdict, note) appended to `out`. */
int check_table(const struct check_result *r, struct buf *out, struct err *e);
/* {"run","baseline","pass","verdict","failures","missing","untrusted",
 * "machine_busy","rule","rows":[{"metric","kind","value","baseline",
 * "change_pct","threshold","verdict","note","stats"?: verdict_json}]};
 * caller json_decref's. */
json_t *check_json(const struct check_result *r);

#endif
