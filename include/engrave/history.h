/*
 * history.h — one metric of one spec over the stored runs, in time order,
 * grouped by spec digest, with asv-style step detection weighted by each
 * run's uncertainty (stats_detect_steps) pointing at the run where a step
 * begins, and the spec key paths that changed between groups.
 *
 * A spec name is only a name: runs whose canonical spec differs are not one
 * experiment. Consecutive runs with the same canonical spec digest (the
 * stored spec text loaded and digested by the current code) form a group;
 * steps are found within a group, and the boundary between two groups is a
 * spec change listed with its key paths, never a step, unless across_specs.
 */
#ifndef ENGRAVE_HISTORY_H
#define ENGRAVE_HISTORY_H

#include <jansson.h>
#include <stddef.h>

#include "engrave/clock.h"
#include "engrave/hash.h"
#include "engrave/stats.h"

struct store;
struct run_record;
struct err;

struct history_point {
	char run_id[48];
	unix_ns created;
	double value;
	double sigma;             /* standard error in the metric's units; NAN unknown */
	size_t group;             /* index into groups */
	int outlier;              /* a lone point the step fit left out */
};

struct history_step {
	struct stats_step s;      /* s.index indexes pts */
	char run_id[48];          /* the first run at the new level */
	char prev_id[48];         /* the run before it */
	size_t group;
};

struct history_group {
	size_t first, n;          /* its points: pts[first .. first + n) */
	struct digest spec;       /* canonical spec digest */
	json_t *changes;          /* key paths changed from the group before, compare_spec_changes'
				   * [{"path","a","b"}]; NULL for the first group */
	enum stats_fill fill;     /* of the fit that covered the group */
	double tau;               /* between-run noise that fit found (relative on log scale) */
	int log_scale;
};

struct history {
	struct history_point *pts;   /* malloc'd, in run id (= time) order */
	size_t n;
	struct history_group *groups; /* malloc'd, in order; n_groups >= 1 when n >= 1 */
	size_t n_groups;
	struct history_step *steps;  /* malloc'd, may be NULL */
	size_t n_steps;
	size_t n_unknown;            /* points without a sigma of their own */
};

struct history_opts {
	int all_status;              /* every run, not only status "done" */
	double min_rel;              /* smallest step reported, e.g. 0.05 */
	int across_specs;            /* one fit over every group */
};

/*
 * Runs of spec `spec_name` that have `metric` (see history_opts), each
 * with its uncertainty (history_point_sigma), grouped and fitted. Caller
 * releases with history_release. No matching run is not an error (n == 0).
 */
int history_collect(struct store *st, const char *spec_name, const char *metric, const struct history_opts *o,
		    struct history *out, struct err *e);
void history_release(struct history *h); /* NULL-safe */

/*
 * The standard error of run r's `metric` in the metric's units: the
 * verdict engine's verdict_run_sigma (verdict.h: the spread of the
 * repeats / sqrt(repeats) with >= 3 repeats, else the standard deviation
 * of a bootstrap of blocks of time of the stored request records).
 * *sigma = NAN, not an error, for a metric that is not a latency
 * percentile or mean, or a run without records. -1 on a store error.
 */
int history_point_sigma(struct store *st, const struct run_record *r, const char *metric, double *sigma,
			struct err *e);

#endif
