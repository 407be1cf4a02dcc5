/*
 * shard_cli.h — `run --segment` (src/cli/shard.c): the shard's options and
 * state, prepared before steps_run and finished after it.
 */
#ifndef ENGRAVE_CLI_SHARD_H
#define ENGRAVE_CLI_SHARD_H

#include <stdint.h>

#include "engrave/sched.h"
#include "engrave/shard.h"

struct remote;
struct runner_opts;
struct spec;
struct store;
struct run_record;
struct err;

struct cli_shard {
	/* options */
	const char *segment;      /* --segment A:B, NULL: not a shard */
	const char *sequence_arg; /* --segment-sequence */
	const char *group_arg;    /* --group */
	int64_t start_s;          /* --start UNIX_SECONDS, 0: none */
	/* state */
	struct sched_segment seg;
	char sequence[256];
	char group[128];
	struct remote *remote;    /* borrowed */
	struct shard_clock clk;
};

/* With --segment: check the options, resolve the group, hook the segment
 * and the start barrier into `ro`. Needs the remote (ERR_USAGE without). */
int cli_shard_prepare(struct cli_shard *sh, const struct spec *sp, struct remote *r, struct runner_opts *ro,
		      struct err *e);
/* After a done run: its clock in the environment, the run pushed and
 * registered under the group. No-op when not a shard. */
int cli_shard_finish(struct cli_shard *sh, struct store *st, struct run_record *rec, struct err *e);

#endif
