/*
 * runrecs.h — a run's load-test records as one array, for reports.
 *
 * A plain load test stores one "loadtest" artifact; a sweep stores a
 * "loadtest-sweep" whose parts phase-00, phase-01, ... are such artifacts,
 * each on its own clock. runrecs_load reads them all into one array on one
 * clock (phase k shifted by the elapsed time of the phases before it), so a
 * per-second timeline of a sweep shows its phases one after another, and
 * collects each phase's first error messages (the "errors" part, steps.h;
 * runs from before it have none and has_msgs stays 0).
 */
#ifndef ENGRAVE_RUNRECS_H
#define ENGRAVE_RUNRECS_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/loadgen.h"
#include "engrave/records.h"

struct store;
struct run_record;
struct err;

struct runrecs_msg {
	uint8_t op, err;           /* enum op_kind, enum record_err */
	uint16_t status;
	char msg[LOADGEN_ERR_MSG + 1];
};

struct runrecs {
	struct records recs;       /* every record, warm-up included, phase by phase */
	uint64_t warmup_ns;        /* one phase's warm-up and duration */
	uint64_t duration_ns;
	size_t phases;             /* 1, or a sweep's phase count */
	struct runrecs_msg *msgs;  /* malloc'd; first message per (op, status, class) */
	size_t n_msgs;
	int has_msgs;              /* some phase had an "errors" part */
};

/*
 * Load run r's records. ERR_MISSING when the run has no finished loadtest
 * step; ERR_CORRUPT for a damaged artifact; ERR_NOSPACE when the records do
 * not fit in memory. Caller releases with runrecs_release.
 */
int runrecs_load(struct store *st, const struct run_record *r, struct runrecs *out, struct err *e);
void runrecs_release(struct runrecs *rr); /* NULL-safe */

#endif
