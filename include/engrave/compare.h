/*
 * compare.h — what differs between two runs (`engrave diff`), and a run's
 * stored request records as latency samples.
 *
 * A diff covers: spec values by key path (each run's stored spec text is
 * loaded and rendered canonically, and the two JSON trees are compared),
 * each step's output digests, the environment, every metric with absolute
 * and relative change and the verdict engine's verdict (verdict.h), the
 * same one `check` gives.
 *
 * Latency metric names: [service_|store_|recall_|search_]pNN[N..]_ms
 * (p50, p90, p95, p99, p999 = 99.9, p9999 = 99.99), max_ms, mean_ms.
 * service_ reads done - sent; the rest done - intended; an op prefix keeps
 * that operation's records only. Warm-up and dropped records are excluded
 * (the measured set of metrics.h).
 */
#ifndef ENGRAVE_COMPARE_H
#define ENGRAVE_COMPARE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>


struct store;
struct run_record;
struct err;

/* 1 and fills *pct (0 for mean_ms, 100 for max_ms) when `metric` is a
 * latency metric, else 0. */
int compare_is_latency(const char *metric, double *pct);

/* A run's measured load-test records, loaded once. */
struct compare_recs;
/* ERR_MISSING when the run has no finished loadtest step. Caller frees with
 * compare_recs_free. */
int compare_recs_load(struct store *st, const struct run_record *r, struct compare_recs **out,
		      struct err *e);
void compare_recs_free(struct compare_recs *c); /* NULL-safe */
/* A sweep's phases (loadtest.concurrency, rates or ef_search), each loaded
 * as compare_recs_load would load a plain run; compare_recs_load itself
 * refuses a sweep (ERR_MISSING): pooling its phases would compare nothing.
 * ERR_MISSING when the run is not a sweep. Free with compare_sweep_free. */
struct compare_sweep {
	char kind[32];                /* "concurrency", "rate", "ef_search" */
	size_t n;
	double *value;                /* each phase's value (NaN when not recorded) */
	struct compare_recs **phase;
};
int compare_sweep_load(struct store *st, const struct run_record *r, struct compare_sweep *out, struct err *e);
void compare_sweep_free(struct compare_sweep *sw); /* NULL-safe; leaves it empty */
/* The metric's samples in ms, sorted ascending; *v is malloc'd (caller
 * frees; NULL when n == 0). ERR_USAGE for a non-latency metric. */
int compare_recs_values(const struct compare_recs *c, const char *metric, double **v, size_t *n,
			struct err *e);

/*
 * The diff of runs a -> b as JSON (caller json_decref's *out):
 * {"a","b","spec":{"same","changes":[{"path","a","b"}]},
 *  "artifacts":[{"step","a","b","same"}],
 *  "env":[{"key","a","b","same","condition"}], "env_different":[key],
 *  "rule","machine_busy", "metrics":[verdict_json + "abs","rel_pct"]}:
 * env has the record's fixed fields, then every captured key of a, then
 * those only b has (a missing side is null and never "same"); "condition"
 * marks the keys of the moment (load, steal, ...: sysinfo_key_is_condition)
 * and env_different lists the other keys both runs hold with different
 * values: a machine, build or target configuration that changed.
 * every metric the two runs share, with the verdict engine's verdict
 * (verdict.h; b's spec supplies the tolerances, as in `check`). Missing
 * records only lower a verdict to "threshold only". -1 on a store error.
 */
int compare_runs_json(struct store *st, const struct run_record *a, const struct run_record *b, json_t **out,
		      struct err *e);

/*
 * The spec key paths that differ from run a to run b, as the diff's
 * "spec.changes" array [{"path","a","b"}] (empty when the canonical specs
 * agree; one pseudo-path naming the digests when a stored spec text does
 * not load). New reference: the caller json_decref's it.
 */
json_t *compare_spec_changes(const struct run_record *a, const struct run_record *b);

/*
 * Load a run by id or by a unique id prefix into *out (caller
 * run_record_release's it). ERR_MISSING "no run 'X'" with a hint naming
 * `engrave runs`; ERR_USAGE when a prefix is ambiguous.
 */
int compare_find_run(struct store *st, const char *id, struct run_record *out, struct err *e);
/*
 * The run a baseline names: `name` is "NAME" or "baseline/NAME" (ref
 * "baseline/NAME"). ERR_MISSING "no baseline 'NAME'" (hint: engrave
 * baseline set) or, if the ref names a run that is gone, "no run".
 */
int compare_find_baseline(struct store *st, const char *name, struct run_record *out, struct err *e);

#endif
