/*
 * shardmerge.h — the load tests of a run group's shards (each an execution
 * segment of one schedule, sched.h) merged into one "loadtest" artifact, so
 * the merged run's percentiles are computed exactly over every shard's
 * records by the ordinary metrics code (runmetrics.h).
 *
 * Checked before anything is written: every shard ran a plain load test
 * (not a sweep) of the same schedule (schedule digest, request count,
 * repeats), and together their records hold every request index of every
 * repeat exactly once (ERR_CHECK naming the first index missing or doubled:
 * the segments overlap or leave a gap).
 */
#ifndef ENGRAVE_SHARDMERGE_H
#define ENGRAVE_SHARDMERGE_H

#include <stdint.h>

#include "engrave/hash.h"

struct store;
struct run_record;
struct err;

struct shardmerge_report {
	int shards;
	uint64_t scheduled;          /* requests of the whole schedule (one repeat) */
	uint64_t records;            /* records merged (scheduled x repeats) */
	char schedule_digest[DIGEST_HEX_LEN + 1];
	char segments[512];          /* "0/1:1/3 1/3:2/3 2/3:1/1" as the shards ran them */
};

/* The shard runs' loadtest outputs -> one artifact (*out). */
int shardmerge_loadtest(struct store *st, const struct run_record *shards, int n, struct digest *out,
			struct shardmerge_report *rep, struct err *e);

#endif
