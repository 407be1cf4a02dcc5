/*
 * history.h — one metric of one spec over the stored runs, in time order,
 * with asv-style step detection (stats_detect_steps) pointing at the run
 * where a step or a drift begins.
 */
#ifndef ENGRAVE_HISTORY_H
#define ENGRAVE_HISTORY_H

#include <stddef.h>

#include "engrave/clock.h"
#include "engrave/stats.h"

struct store;
struct err;

struct history_point {
	char run_id[48];
	unix_ns created;
	double value;
};

struct history_step {
	struct stats_step s;      /* s.index indexes pts */
	char run_id[48];          /* the first run at the new level */
	char prev_id[48];         /* the last run before it */
};

struct history {
	struct history_point *pts;   /* malloc'd, in run id (= time) order */
	size_t n;
	struct history_step *steps;  /* malloc'd, may be NULL */
	size_t n_steps;
};

/*
 * Runs of spec `spec_name` whose status is "done" (all statuses when
 * all_status) and that have `metric`, then step detection with relative
 * threshold min_rel (e.g. 0.05). Caller releases with history_release.
 * No matching run is not an error (n == 0).
 */
int history_collect(struct store *st, const char *spec_name, const char *metric, int all_status,
		    double min_rel, struct history *out, struct err *e);
void history_release(struct history *h); /* NULL-safe */

#endif
