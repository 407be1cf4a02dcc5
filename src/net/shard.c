/*
 * shard.c — a run group's bookkeeping on a remote store: the segment
 * sequence, the start barrier and the finished shards (shard.h has the
 * protocol and why the barrier needs no compare-and-set: every shard
 * writes only its own entries, and the start is a function of all of them).
 */
#include "engrave/shard.h"
#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/remote.h"
#include "engrave/sched.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_NS (200 * NS_PER_MS)

int shard_sequence_segments(const char *sequence, char out[][64], int cap, int *n, struct err *e)
{
	*n = 0;
	const char *prev = NULL;
	size_t prev_len = 0;
	for (const char *p = sequence; *p;) {
		size_t len = strcspn(p, ",");
		if (prev) {
			char seg[64];
			snprintf(seg, sizeof(seg), "%.*s:%.*s", (int)prev_len, prev, (int)len, p);
			struct sched_segment g;
			if (*n >= cap)
				return err_set(e, ERR_USAGE, "segment sequence '%s': more than %d segments", sequence, cap);
			if (sched_segment_parse(seg, sequence, &g, e))
				return -1;
			snprintf(out[(*n)++], 64, "%s", g.text);
		}
		prev = p, prev_len = len;
		p += len + (p[len] == ',');
	}
	if (*n < 1)
		return err_set(e, ERR_USAGE, "segment sequence '%s' has no segment", sequence);
	return 0;
}

void shard_default_sequence(uint64_t den, char *out, size_t cap)
{
	size_t o = (size_t)snprintf(out, cap, "0");
	for (uint64_t k = 1; k <= den && o < cap; k++)
		o += (size_t)snprintf(out + o, cap - o, k == den ? ",1" : ",%" PRIu64 "/%" PRIu64, k, den);
}

static void key_of(char *key, size_t cap, const char *group, const char *what, const char *segment)
{
	snprintf(key, cap, "group/%.100s/%.10s%s%.63s", group, what, segment ? "/" : "", segment ? segment : "");
}

/* The largest proposal once every segment has one: 1, 0 not yet, -1 error. */
static int all_ready(struct remote *r, const char *group, char segs[][64], int n, int64_t *start, struct err *e)
{
	struct buf v;
	buf_init(&v, 0);
	int64_t best = 0;
	int rc = 1;
	for (int i = 0; i < n && rc == 1; i++) {
		char key[256];
		key_of(key, sizeof(key), group, "ready", segs[i]);
		rc = remote_entry_get(r, key, &v, e);
		if (rc == 1) {
			int64_t t = strtoll(v.data, NULL, 10);
			if (t > best)
				best = t;
		}
	}
	buf_release(&v);
	*start = best;
	return rc;
}

static void sleep_until_unix(int64_t t)
{
	struct timespec ts = { (time_t)(t / (int64_t)NS_PER_S), (long)(t % (int64_t)NS_PER_S) };
	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int shard_barrier(struct remote *r, const char *group, const char *segment, const char *sequence,
		  const struct shard_wait *w, struct shard_clock *clk, struct err *e)
{
	char segs[SHARD_MAX][64], key[256], val[64];
	int n;
	memset(clk, 0, sizeof(*clk));
	if (shard_sequence_segments(sequence, segs, SHARD_MAX, &n, e) ||
	    remote_clock_offset(r, &clk->offset_ns, &clk->uncertainty_ns, e))
		return -1;
	key_of(key, sizeof(key), group, "sequence", NULL);
	if (remote_entry_put(r, key, sequence, strlen(sequence), e))
		return -1;
	snprintf(val, sizeof(val), "%" PRId64,
		 w->start_unix_ns > 0 ? w->start_unix_ns : clock_unix_now() + clk->offset_ns + (int64_t)w->lead_ns);
	key_of(key, sizeof(key), group, "ready", segment);
	if (remote_entry_put(r, key, val, strlen(val), e))
		return -1;
	log_info("shard %s of group %s: clock offset to the remote %+.1f ms (+- %.1f ms); waiting for %d shard(s)",
		 segment, group, (double)clk->offset_ns / 1e6, (double)clk->uncertainty_ns / 1e6, n);
	mono_ns deadline = clock_mono_now() + w->timeout_ns;
	int rc;
	while ((rc = all_ready(r, group, segs, n, &clk->start_remote_ns, e)) == 0) {
		if (w->stop && *w->stop)
			return err_set(e, ERR_INTERRUPTED, "group %s: stopped while waiting for the other shards", group);
		if (clock_mono_now() > deadline) {
			err_set(e, ERR_NET, "group %s: not every shard of '%s' arrived within %.0f s", group, sequence,
				(double)w->timeout_ns / 1e9);
			return err_hint(e, "start every segment of the sequence, with the same --group");
		}
		sleep_until_unix(clock_unix_now() + (int64_t)POLL_NS);
	}
	if (rc < 0)
		return -1;
	int64_t local = clk->start_remote_ns - clk->offset_ns;
	if (local < clock_unix_now())
		log_warn("group %s: the agreed start passed %.1f ms ago; starting now", group,
			 (double)(clock_unix_now() - local) / 1e6);
	sleep_until_unix(local);
	clk->skew_ns = clock_unix_now() + clk->offset_ns - clk->start_remote_ns;
	return 0;
}

int shard_register_run(struct remote *r, const char *group, const char *segment, const char *run_id,
		       const struct shard_clock *clk, struct err *e)
{
	char key[256], val[160];
	key_of(key, sizeof(key), group, "run", segment);
	snprintf(val, sizeof(val), "%s %" PRId64 " %" PRIu64 " %" PRId64, run_id, clk->offset_ns, clk->uncertainty_ns,
		 clk->skew_ns);
	return remote_entry_put(r, key, val, strlen(val), e);
}

int shard_group_sequence(struct remote *r, const char *group, char *seq, size_t cap, struct err *e)
{
	char key[256];
	key_of(key, sizeof(key), group, "sequence", NULL);
	struct buf v;
	buf_init(&v, 0);
	int rc = remote_entry_get(r, key, &v, e);
	if (rc == 1)
		snprintf(seq, cap, "%s", v.data);
	buf_release(&v);
	return rc;
}

int shard_group_run(struct remote *r, const char *group, const char *segment, char *run_id, size_t cap,
		    struct shard_clock *clk, struct err *e)
{
	char key[256], id[64];
	key_of(key, sizeof(key), group, "run", segment);
	struct buf v;
	buf_init(&v, 0);
	int rc = remote_entry_get(r, key, &v, e);
	memset(clk, 0, sizeof(*clk));
	if (rc == 1 && sscanf(v.data, "%63s %" SCNd64 " %" SCNu64 " %" SCNd64, id, &clk->offset_ns,
			      &clk->uncertainty_ns, &clk->skew_ns) != 4)
		rc = err_set(e, ERR_CORRUPT, "remote entry %s: not a shard's run", key);
	if (rc == 1)
		snprintf(run_id, cap, "%s", id);
	buf_release(&v);
	return rc;
}
