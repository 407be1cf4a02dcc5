/*
 * perflog.h — PERFORMANCE_LOG.md entries in the format of Engram's M17 log
 * (reference/engram.md section 5.3), with run ids where Engram names
 * result files:
 *
 *   ## <spec>: run <id>
 *
 *   **Run**: Complete
 *
 *   Results:
 *   - Before: P50=0.417ms, P95=0.561ms, P99=0.606ms, Throughput=999.91 ops/s
 *   - After: P50=0.409ms, P95=0.521ms, P99=0.569ms, Throughput=999.93 ops/s
 *   - Change: P50 -1.92% (no change), P95 ..., P99 -6.11% (improvement, CI
 *     -9.1..-3.0%), Throughput +0.00% (no change)
 *   - Status: ✅ PASS (no regression)
 *   - Runs: `<baseline id>`, `<run id>`
 *
 *   ---
 *
 * Each change carries the verdict engine's verdict (verdict.h), the same
 * that `engrave check` and `engrave diff` print for the pair; the Status
 * line is the check's overall verdict, and names regressions of figures the
 * spec does not gate. Rendering is a pure function of the struct, so
 * golden files pin it.
 */
#ifndef ENGRAVE_PERFLOG_H
#define ENGRAVE_PERFLOG_H

#include <stddef.h>

struct buf;
struct err;
struct run_record;

struct perflog_side {
	int present;
	char run_id[48];
	double p50, p95, p99, throughput;  /* ms, ops/s */
};

/* One figure's change with the engine's verdict. */
struct perflog_change {
	int present;                /* 0: not compared (no baseline, or not measured) */
	double change;              /* % */
	double ci_lo, ci_hi;        /* 95% CI, %; NAN without uncertainty */
	int kind;                   /* enum verdict_kind */
	int untrusted;
};

/* The figures of an entry, in this order. */
enum { PERFLOG_P50, PERFLOG_P95, PERFLOG_P99, PERFLOG_THROUGHPUT, PERFLOG_NFIG };

struct perflog_entry {
	char spec[128];
	char run_status[16];        /* the run's status: "done" prints "Complete" */
	struct perflog_side before; /* the baseline (present = 0: none) */
	struct perflog_side after;  /* the run */
	struct perflog_change chg[PERFLOG_NFIG];
	char ungated[160];          /* regressions of figures no check gates: "P50 +8.30%, P95 +11.40%" */
	int untrusted;              /* the failure is a regression on a busy machine */
	int pass;                   /* the check verdict (check.h) */
	char reason[160];           /* why it failed, "" when it passed */
	int missing;                /* no verdict: the run is not done, or a check's metric is not
				       measured (reason says which); never printed as PASS */
};

struct check_result;
struct verdict_set;
/* Fill an entry from a run, its baseline (NULL: none), the check of the run
 * against it (check.h: pass = no failed row, reason = the first failed row)
 * and the engine's verdicts for every metric (vs, NULL without baseline). */
void perflog_fill(struct perflog_entry *en, const struct run_record *run, const struct run_record *base,
		  const struct check_result *cr, const struct verdict_set *vs);
/* Append one entry. */
int perflog_entry(const struct perflog_entry *en, struct buf *out, struct err *e);
/* The file header (title, regression target) for a rebuilt log. */
int perflog_header(struct buf *out, struct err *e);
/* The closing "Summary" section. */
/* `missing`: entries with no verdict (perflog_entry.missing), counted apart. */
int perflog_summary(size_t entries, size_t passed, size_t missing, struct buf *out, struct err *e);

#endif
