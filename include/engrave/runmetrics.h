/*
 * runmetrics.h — a run's load-test metrics, computed from what it stored.
 *
 * The loadtest step stores every request's record and what each recall
 * returned; this module (analysis layer) turns them into the run's metrics
 * under the names checks use: p50_ms .. p9999_ms, max_ms, mean_ms,
 * service_p50_ms, service_p99_ms, <op>_p50_ms / <op>_p99_ms / <op>_count,
 * throughput, goodput, error_rate, late_rate, drop_rate, requests,
 * client_saturated, client_wakeup_p50_us / _p99_us / _max_us (the
 * client's wake-up error, part of every latency), and, when the run has queries and groundtruth steps,
 * recall / recall_p05 (recall.h: scored against the exact ground truth over
 * what the target held), recall_scored and recall_no_truth (recalls scored,
 * and not scored for want of a neighbour above the threshold), and
 * recall_unscored (enum recall_unscored) when none could be scored. A load test repeated N > 1 times
 * (loadtest.repeat) pools the measured records of every repeat into those
 * same metrics (throughput over N windows) and adds "repeats" = N; recall
 * is scored over every repeat's recalls at once (a store id written again
 * in a later repeat counts from its first acknowledgement).
 * Every load test (a sweep too) also carries the machine's noise floor over
 * its measured phase(s), recorded by the step (sysnoise.h): noise.load1_before,
 * noise.load1_after, noise.ncpu, noise.cpu_mhz (absent when unknown),
 * noise.steal_pct, noise.other_cpu_pct, noise.mem_available_mb. A sweep gives per-phase keys
 * "sweep.<rate|concurrency>=<value>.{p50_ms,p99_ms,throughput,error_rate}",
 * "sweep_phases" and, for a rate ramp with an SLO, "max_rate_under_slo".
 * Because it reads only the store, metrics can be
 * recomputed for any stored run.
 */
#ifndef ENGRAVE_RUNMETRICS_H
#define ENGRAVE_RUNMETRICS_H

#include <stddef.h>

struct store;
struct run_record;
struct err;

/* The first output of a finished (ran, cached or resumed) step of a run, NULL if none. */
struct digest;
const struct digest *runmetrics_step_output(const struct run_record *r, const char *step);
/* Add (or replace) the metrics in `rec` (not saved: the caller run_put's
 * it). A run without a finished loadtest step gets nothing and returns 0. */
int runmetrics_compute(struct store *st, struct run_record *rec, struct err *e);
/*
 * The metrics a finished run of `sp` must have (a load test: throughput,
 * error_rate, p50_ms, p99_ms; a sweep: sweep_phases) that `rec` lacks,
 * comma-separated into `out`. Returns how many are missing; 0 for a spec
 * without a load test. A run that lacks one is not "done".
 */
struct spec;
int runmetrics_missing(const struct spec *sp, const struct run_record *rec, char *out, size_t cap);
/*
 * Engram's loadtest report JSON (reference/engram.md section 4.5) for the
 * run, so Engram's compare_m17_performance.sh can read engrave results.
 * Appended to `out`. ERR_MISSING when the run has no finished loadtest.
 */
struct buf;
int runmetrics_engram_report(struct store *st, const struct run_record *rec, struct buf *out, struct err *e);
/* The exact metrics (metrics.h) of one "loadtest" artifact, pooled over its
 * repeats, as runmetrics_compute computes them. */
struct metrics;
int runmetrics_phase(struct store *st, const struct digest *loadtest, struct metrics *m, struct err *e);

#endif
