/*
 * timeline.h — a load test second by second, from its records.
 *
 * Each record falls in the bucket of its intended send time (the open-loop
 * schedule's clock, so a backlog shows where it was caused, not where it
 * drained). Per bucket: requests due, completed (sent, any status) per
 * second, latency p50 and p99 (from the intended time, nearest rank, over
 * the completed ones), errors (error class not none, drops included), late
 * sends (RECORD_F_LATE) and drops. Warm-up records are counted like the
 * others and the bucket says how many there were, so a report can shade
 * the warm-up.
 */
#ifndef ENGRAVE_TIMELINE_H
#define ENGRAVE_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/records.h"

struct err;

struct timeline_bucket {
	double t_s;                /* start of the bucket, seconds after t0 */
	uint64_t due, completed, errors, late, dropped, warmup;
	double throughput;         /* completed / bucket length, per second */
	double p50_ms, p99_ms;     /* NAN when nothing completed */
};

struct timeline {
	struct timeline_bucket *b; /* malloc'd, in time order, none skipped */
	size_t n;
	double bucket_s;
};

#define TIMELINE_MAX_BUCKETS 3600 /* longer runs get wider buckets (whole seconds) */

/*
 * Buckets of 1 s (wider, a whole number of seconds, when the records span
 * more than TIMELINE_MAX_BUCKETS seconds) over r[0..n), any order.
 * ERR_NOSPACE when scratch memory fails. n == 0 gives an empty timeline.
 * Caller releases with timeline_release.
 */
int timeline_from_records(const struct record *r, size_t n, struct timeline *out, struct err *e);
void timeline_release(struct timeline *t); /* NULL-safe */

#endif
