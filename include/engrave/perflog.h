/*
 * perflog.h — PERFORMANCE_LOG.md entries in the format of Engram's M17 log
 * (reference/engram.md section 5.3), with run ids where Engram names
 * result files:
 *
 *   ## <spec>: run <id>
 *
 *   **Status**: Complete
 *
 *   Results:
 *   - Before: P50=0.417ms, P95=0.561ms, P99=0.606ms, Throughput=999.91 ops/s
 *   - After: P50=0.409ms, P95=0.521ms, P99=0.569ms, Throughput=999.93 ops/s
 *   - Change: P99 -6.11% (improvement), Throughput +0.00%
 *   - Status: ✅ PASS (improvement exceeds typical variance)
 *   - Runs: `<baseline id>`, `<run id>`
 *
 *   ---
 *
 * Rendering is a pure function of the struct, so golden files pin it.
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

struct perflog_entry {
	char spec[128];
	char run_status[16];        /* the run's status: "done" prints "Complete" */
	struct perflog_side before; /* the baseline (present = 0: none) */
	struct perflog_side after;  /* the run */
	double p99_tol;             /* +5: allowed P99 growth, % */
	double thr_tol;             /* -5: allowed throughput change, % */
	int pass;                   /* the check verdict (check.h) */
	char reason[160];           /* why it failed, "" when it passed */
	int missing;                /* no verdict: the run is not done, or a check's metric is not
				       measured (reason says which); never printed as PASS */
};

struct check_result;
/* Fill an entry from a run, its baseline (NULL: none) and the check of the
 * run against it (check.h): tolerances from the p99_ms/throughput rows
 * (else +5/-5), pass = no failed row, reason = the first failed row. */
void perflog_fill(struct perflog_entry *en, const struct run_record *run, const struct run_record *base,
		  const struct check_result *cr);
/* Append one entry. */
int perflog_entry(const struct perflog_entry *en, struct buf *out, struct err *e);
/* The file header (title, regression target) for a rebuilt log. */
int perflog_header(struct buf *out, struct err *e);
/* The closing "Summary" section. */
/* `missing`: entries with no verdict (perflog_entry.missing), counted apart. */
int perflog_summary(size_t entries, size_t passed, size_t missing, struct buf *out, struct err *e);

#endif
