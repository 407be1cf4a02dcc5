/*
 * metrics.h — load-test metrics computed exactly from the records.
 *
 * No histogram: the values of each distribution are copied, sorted, and
 * read at their nearest rank. Percentile definition (nearest rank): the
 * p-th percentile of n sorted values v[1..n] is v[ceil(p/100 * n)] (rank
 * clamped to [1, n]; hist_rank() in hist.h is the shared implementation),
 * so every reported percentile is a value that was actually measured; p100
 * is the max. The mean is the arithmetic mean.
 *
 * Which records count (the measured set): every record without
 * RECORD_F_WARMUP (warm-up records are stored, not counted; the flag, set
 * by the executor in every repeat's warm-up, decides, never the times).
 *   latency       done - intended, over records that were sent (any status,
 *                 errors included: an error is kept with its latency)
 *   service       done - sent, over the same records
 *   dropped       never sent; counted in `dropped` and in the error rate,
 *                 not in the latency distributions (they have no completion)
 *   errors        records whose error class is not none (dropped included)
 *   throughput    completed (sent, any status) / window, where the window
 *                 runs from the warm-up end to the later of (warm-up end +
 *                 duration) and the last completion of a measured request:
 *                 a target that falls behind stretches the window and shows
 *                 a lower throughput instead of hiding its backlog. A load
 *                 test repeated N times (records.h `repeat`) has one such
 *                 window per repeat, measured from that repeat's start; the
 *                 pooled window is their sum (N x duration without backlog)
 *   goodput       completed without error / window
 *   late          sent later than the run's lateness bound (RECORD_F_LATE, set by
 *                 the executor with the bound it ran with)
 *   wakeup        the client's wake-up error: sent - intended over the sent
 *                 records flagged RECORD_F_ROOM (the executor had room for
 *                 them: not held back by the in-flight cap), the part of
 *                 their latency that is the client's own (loadgen.h)
 *
 * Times in the structs are nanoseconds; the emitters convert.
 */
#ifndef ENGRAVE_METRICS_H
#define ENGRAVE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/records.h"
#include "engrave/sched.h"

struct buf;
struct err;

#define METRICS_NPCT 6
/* 50, 90, 95, 99, 99.9, 99.99 */
extern const double metrics_pct[METRICS_NPCT];
/* "p50", "p90", "p95", "p99", "p99.9", "p99.99" */
extern const char *const metrics_pct_names[METRICS_NPCT];

struct metrics_dist {
	uint64_t count;
	uint64_t pct[METRICS_NPCT];  /* ns, nearest rank */
	uint64_t min, max;           /* ns */
	double mean;                 /* ns */
};

struct metrics_op {
	uint64_t measured;           /* records in the measured set */
	uint64_t completed;          /* sent and finished, any status */
	uint64_t ok;                 /* completed with error class none */
	uint64_t errors;             /* error class != none (dropped included) */
	uint64_t dropped;
	uint64_t late;
	uint64_t late_max_ns;        /* largest sent - intended */
	uint64_t err_by_class[RECORD_ERR_COUNT];
	struct metrics_dist latency; /* from intended */
	struct metrics_dist service; /* from sent */
};

struct metrics {
	uint64_t records;            /* all records given, warm-up included */
	uint64_t warmup_records;
	uint64_t warmup_ns, duration_ns;
	uint64_t window_ns;          /* see above */
	double throughput;           /* completed / window, per second */
	double goodput;              /* ok / window, per second */
	double error_rate;           /* errors / measured, 0 when nothing measured */
	struct metrics_dist wakeup;  /* the client's wake-up error (count 0: no flagged record) */
	struct metrics_op all;       /* pooled over every operation */
	struct metrics_op op[OP_KIND_COUNT];
};

/*
 * 1 when `r` is in the latency and service distributions: measured (no
 * RECORD_F_WARMUP) and sent (not dropped). The rule of the list above, for
 * code that reads records itself (exports).
 */
int metrics_record_timed(const struct record *r);
/* 1 when `r` was never sent (dropped by the in-flight cap). */
int metrics_record_dropped(const struct record *r);

/*
 * Compute metrics over r[0..n) (any order). `warmup_ns` and `duration_ns`
 * are the schedule's. Allocates scratch (8 bytes per record, twice);
 * ERR_NOSPACE when that fails. Thread-safe (no shared state).
 */
int metrics_from_records(const struct record *r, size_t n, uint64_t warmup_ns,
			 uint64_t duration_ns, struct metrics *m, struct err *e);
/*
 * The same over the records of a load test repeated n_repeats times:
 * t0_ns[k] is where repeat k started (ns after the run's t0; t0_ns[0] = 0)
 * and a record's `repeat` picks its window (see above). The window sums the
 * windows of the repeats that have a record in r[0..n), so the records of
 * one repeat (with the same t0_ns) give that repeat's figures. ERR_CORRUPT
 * when a record names a repeat >= n_repeats; ERR_NOSPACE for the scratch.
 * metrics_from_records is this with one repeat starting at 0.
 */
int metrics_from_repeats(const struct record *r, size_t n, uint64_t warmup_ns, uint64_t duration_ns,
			 const uint64_t *t0_ns, uint32_t n_repeats, struct metrics *m, struct err *e);

/*
 * The metrics as one JSON object appended to `out` (jansson; keys sorted,
 * times in milliseconds as numbers, e.g. "latency_ms": {"p50": 1.25, ...}),
 * indent 0 = compact. Schema in metrics.c. 0, or -1 ERR_NOSPACE/ERR_INTERNAL.
 */
int metrics_json(const struct metrics *m, int indent, struct buf *out, struct err *e);

/* A human table (one row per operation plus "all") appended to `out`. */
int metrics_table(const struct metrics *m, struct buf *out, struct err *e);

/*
 * Engram's `loadtest` report JSON (reference/engram.md section 4.5):
 * config_name, elapsed_seconds, total_operations, total_errors,
 * overall_throughput, overall_error_rate, p50/p95/p99_latency_ms and
 * per_operation_stats {Store, Recall, Search} with count, success_count,
 * error_count, p50/p95/p99/p999_latency_us, mean_latency_us, max_latency_us.
 * Differences, on purpose: our overall percentiles are POOLED over every
 * operation (Engram reports the max of the per-operation values), latencies
 * run from the intended send time, no value is dropped above 60 ms, and
 * operations with no measured record are left out. Pretty-printed.
 */
int metrics_engram_report_json(const struct metrics *m, const char *config_name,
			       struct buf *out, struct err *e);

#endif
