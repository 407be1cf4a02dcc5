/*
 * pump.h — the retrying pump: many jobs through the engine, a bounded
 * number of HTTP requests in flight, failed attempts retried with backoff.
 *
 * The caller owns the jobs and what they mean; the pump owns the sending.
 * The caller supplies three callbacks (struct pump_ops): `next` yields the
 * next fresh job (or says there is none left), `build` turns a job into the
 * http_request of its next attempt, and `outcome` reads each completed
 * response and answers with a verdict: DONE, RETRY (send the job again
 * after backoff), GIVE_UP (finished without success; the pump goes on with
 * the others) or FAIL (stop the whole run; the callback has set `e`). A
 * caller can retry part of a job: ingest re-queues only the records of a
 * batch that failed, by shrinking its job before answering RETRY.
 *
 * The pump owns: one engine (engine.h; the native transport for plain
 * http:// when opts.native), at most `window` requests in flight (never
 * more than max_in_flight), the retry queue ordered by due time, backoff
 * with jitter honouring Retry-After (retry_delay_ns and opts.retry), the
 * attempt limit (a RETRY on the last attempt goes to ops.exhausted
 * instead), the stop flag (no new sends; what is in flight drains), and an
 * optional adaptive window (opts.adaptive, below), never above
 * max_in_flight nor below 1.
 *
 * The adaptive window (opts.adaptive), for targets that slow down under
 * load (a vector database indexing 1000-record batches on two cores):
 *  - halved on 429, 503 or a timeout, once per round trip (only responses
 *    to requests sent after the last cut cut again), as TCP does;
 *  - otherwise judged once per round (a window's worth of completions) by
 *    latency, as TCP Vegas does: with `base` the lowest latency per KiB of
 *    body seen and `srtt` the smoothed one, window x (1 - base/srtt)
 *    requests are waiting in the target; fewer than 1: one more in flight,
 *    more than 3: one fewer. Requests under 20 ms are not judged by latency
 *    (a fast target's noise is not a queue): the window grows to the most.
 *    It starts at opts.initial_window (default 2);
 *  - each attempt's timeout is the larger of the request's own and 4x what
 *    such a request takes now (smoothed latency per KiB x its size, at most
 *    10 minutes), so a target that slows with size is not timed out into a
 *    retry storm; a timed-out attempt counts as twice its time (censored);
 *  - a timed-out attempt may still be running on the server: its retry
 *    waits at least what such a request takes now (and Retry-After, as
 *    always, wins over the computed backoff).
 * The window over time is kept as one sample a second (pump_series).
 *
 * It never busy-waits: a retry that is due only shortens the wait when a
 * slot is free (with the window full the next completion wakes it), and
 * with nothing in flight the pump sleeps until the next due retry. The
 * stop flag is looked at least every PUMP_TICK_NS.
 *
 * Single-threaded: every callback runs on the thread inside pump_run().
 * Jobs are `void *`, owned by the caller throughout: after a DONE, GIVE_UP
 * or FAIL verdict, after ops.exhausted and after ops.drop the pump never
 * touches that job again (the callback may free it).
 */
#ifndef ENGRAVE_PUMP_H
#define ENGRAVE_PUMP_H

#include <signal.h>
#include <stdint.h>
#include "engrave/clock.h"
#include "engrave/http.h"
#include "engrave/retry.h"

struct err;

#define PUMP_TICK_NS (50 * NS_PER_MS) /* longest wait before the stop flag is looked at */

enum pump_verdict {
	PUMP_DONE = 0, /* finished */
	PUMP_RETRY,    /* send it again after backoff (ops.exhausted if no attempt remains) */
	PUMP_GIVE_UP,  /* finished without success; the other jobs go on */
	PUMP_FAIL,     /* stop the run: e is set; what is in flight drains */
};

/* One completed attempt, as `outcome` and `exhausted` see it. */
struct pump_outcome {
	const struct http_response *rs; /* valid during the callback only */
	mono_ns sent, done;             /* engine times (engine.h) */
	int attempt;                    /* 1 for the first try */
	int last;                       /* no attempt remains: RETRY now means exhausted */
	uint64_t retry_in_ns;           /* the backoff a RETRY would wait (0 when last) */
};

struct pump_ops {
	/* The next fresh job: 1 (*job set), 0 none left (not asked again this run),
	 * -1 error (e set; the run fails). */
	int (*next)(void *ctx, void **job, struct err *e);
	/* The request of the job's next attempt. Its body and the strings it points to
	 * must stay valid until that attempt's outcome. 0 or -1 (e set; the run fails). */
	int (*build)(void *ctx, void *job, struct http_request *rq, struct err *e);
	/* Required. On FAIL the callback has set e. */
	enum pump_verdict (*outcome)(void *ctx, void *job, const struct pump_outcome *o,
				     struct err *e);
	/* RETRY on the last attempt (max_attempts reached): 0 go on, -1 fail the run
	 * (e set). NULL: the job is simply forgotten. */
	int (*exhausted)(void *ctx, void *job, const struct pump_outcome *o, struct err *e);
	/* A job the run ends without finishing: waiting for a retry at a stop or a
	 * failure, in flight when the engine failed, or whose build/submit failed. NULL ok. */
	void (*drop)(void *ctx, void *job);
};

struct pump_opts {
	int max_in_flight;            /* requests in flight at most (and connections); 0 = 4 */
	int native;                   /* engine_opts.native: plain http:// natively */
	struct retry_policy retry;    /* max_attempts <= 0 = 1; base/max 0 = retry.h defaults.
	                               * Each job's jitter is seeded from retry.seed and the job's
	                               * sequence number, so jobs failing together spread out */
	volatile sig_atomic_t *stop;  /* when set non-zero: no new sends, drain; NULL = never */
	int adaptive;                 /* 1: adaptive window (above); 0: the window is max_in_flight */
	int initial_window;           /* adaptive: the starting window; 0 = 2 */
};

struct pump_stats {
	uint64_t sent;          /* requests submitted (attempts) */
	uint64_t completed;     /* responses and transport failures seen */
	uint64_t retries;       /* attempts queued for a retry */
	uint64_t done;          /* jobs answered DONE */
	uint64_t gave_up;       /* jobs answered GIVE_UP */
	uint64_t exhausted;     /* jobs out of attempts */
	uint64_t dropped;       /* jobs handed to ops.drop */
	uint64_t congestion;    /* 429, 503 and timeouts seen */
	uint64_t cuts;          /* adaptive: times the window was halved */
	uint64_t timeouts;      /* attempts that timed out */
	uint64_t grows;         /* adaptive: +1 steps (latency steady) */
	uint64_t shrinks;       /* adaptive: -1 steps (requests queued in the target) */
	double queued;          /* adaptive: the last estimate of requests queued in the target */
	uint64_t max_timeout_ns; /* adaptive: the longest per-request timeout given */
	int window;             /* current window */
	int max_window;         /* largest window so far */
	int min_window;         /* smallest window so far */
	int max_in_flight_seen; /* most requests in flight at once */
};

/* The window over time: one sample a second while pump_run runs, one at its end. */
struct pump_sample {
	uint32_t t_ms;          /* since the first pump_run */
	uint16_t window;        /* at the sample */
	uint16_t min_window;    /* smallest since the previous sample */
	uint16_t in_flight;
	uint32_t latency_ms;    /* adaptive: smoothed latency of a request of the last size (0 before any) */
	uint64_t completed;     /* attempts completed so far */
};

struct pump;

/* `o` may be NULL for defaults; `ops` and `ctx` are borrowed. Caller frees with pump_free. */
int pump_new(const struct pump_opts *o, const struct pump_ops *ops, void *ctx, struct pump **out,
	     struct err *e);
void pump_free(struct pump *p); /* NULL-safe */

/*
 * Run until every job is finished (or dropped at a stop). 0 when the run
 * ended by itself or by the stop flag (the caller knows its flag;
 * stats.dropped counts what was left), -1 when a callback failed it, or the
 * engine did (e set). Either way nothing is in flight on return. Callable
 * again for another batch of jobs.
 */
int pump_run(struct pump *p, struct err *e);

/* Counters since pump_new; callable from the callbacks (a live window). */
void pump_get_stats(const struct pump *p, struct pump_stats *out);
/* The samples so far (owned by the pump, valid until the next pump_run or pump_free). */
const struct pump_sample *pump_series(const struct pump *p, size_t *n);

#endif
