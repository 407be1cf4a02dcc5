/*
 * shard.h — one load test run by several machines, each an execution
 * segment (sched.h), coordinated through a remote store alone (remote.h):
 * no coordinator service.
 *
 * Entries of a run group G on the remote (keys of remote_entry_*):
 *   group/G/sequence        the segment sequence ("0,1/3,2/3,1"), written by
 *                           every shard (all write the same text);
 *   group/G/ready/<A:B>     a shard's proposed start, in the remote's clock
 *                           (unix ns, decimal): now + lead, as it arrives;
 *   group/G/run/<A:B>       a finished shard: "<run id> <clock offset ns>
 *                           <uncertainty ns> <start skew ns>".
 *
 * Start barrier: each shard measures its clock against the remote's Date
 * header (remote_clock_offset), writes its proposal, and polls until every
 * segment of the sequence has one; the start is the largest proposal, which
 * every shard computes alike, converted back to its own clock. So the last
 * shard to arrive still has `lead` to spare, and shards start together to
 * within their clock uncertainty (about half a round trip to the remote).
 * Intended times are per shard (each shard's t0 is that common start on its
 * own clock): a shard's latencies are exact on its clock, and clock error
 * only shifts when its share of the load was offered, by the skew reported.
 */
#ifndef ENGRAVE_SHARD_H
#define ENGRAVE_SHARD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "engrave/clock.h"

struct err;
struct remote;

#define SHARD_MAX 64 /* segments in a sequence */

struct shard_clock {
	int64_t offset_ns;        /* remote clock - local clock */
	uint64_t uncertainty_ns;  /* bound on offset's error */
	int64_t start_remote_ns;  /* the agreed start, remote clock (unix ns) */
	int64_t skew_ns;          /* when the load started here minus the agreed start, remote clock */
};

/* The segments of `sequence` as "A:B" strings (reduced, "1/3:2/3") into
 * out[0..*n). ERR_USAGE on a malformed sequence. */
int shard_sequence_segments(const char *sequence, char out[][64], int cap, int *n, struct err *e);
/* The default sequence of a segment: equal parts of its denominator D
 * ("0,1/3,2/3,1"), into out. */
void shard_default_sequence(uint64_t den, char *out, size_t cap);

struct shard_wait {
	uint64_t lead_ns;              /* proposal = now + lead (remote clock) ... */
	int64_t start_unix_ns;         /* ... or this time, when > 0 */
	uint64_t timeout_ns;           /* for every shard to arrive */
	volatile sig_atomic_t *stop;   /* non-zero: give up (ERR_INTERRUPTED); may be NULL */
};
/* Register and wait for the group's common start, then sleep until it
 * (the clock fields are filled; skew_ns after the sleep). */
int shard_barrier(struct remote *r, const char *group, const char *segment, const char *sequence,
		  const struct shard_wait *w, struct shard_clock *clk, struct err *e);
/* Record the shard's finished run. */
int shard_register_run(struct remote *r, const char *group, const char *segment, const char *run_id,
		       const struct shard_clock *clk, struct err *e);
/* A group's sequence (1 found, 0 absent, -1 error). */
int shard_group_sequence(struct remote *r, const char *group, char *seq, size_t cap, struct err *e);
/* A shard's run: 1 found (run id and clock), 0 not (yet) registered, -1 error. */
int shard_group_run(struct remote *r, const char *group, const char *segment, char *run_id, size_t cap,
		    struct shard_clock *clk, struct err *e);

#endif
