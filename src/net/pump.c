/*
 * pump.c — the retrying pump (contract in pump.h).
 *
 * One loop on the caller's thread:
 *
 *   fill:  while fewer than `window` requests are in flight, send the
 *          earliest retry that is due, else the next fresh job
 *   stop:  nothing in flight and nothing left (or stopping/failed)
 *   wait:  engine_poll() until a completion or the deadline: PUMP_TICK_NS,
 *          shortened to the earliest retry's due time only when a slot is
 *          free for it; with nothing in flight, clock_sleep_until() instead
 *
 * A due retry with the window full therefore waits for a completion
 * instead of waking the loop again and again (ingest once spun for 50 s of
 * CPU that way behind a stalled server), and an empty pump sleeps.
 *
 * Each job the caller hands over gets a `struct pjob` (attempts, due time,
 * sequence number), recycled through a free list, so steady state
 * allocates nothing. The retry queue is a list sorted by due time (FIFO on
 * ties); it holds at most the jobs that failed recently, a few windows'
 * worth. Engine callbacks decrement the in-flight count, feed the AIMD
 * controller, and ask the caller's `outcome` for a verdict; a RETRY gets
 * its due time from retry_delay_ns() with the job's own jitter seed.
 *
 * Stop and failure both drain: no new sends, completions still run their
 * callbacks (a caller keeps a true account of what the server did), and
 * the retries left in the queue go to ops.drop. Once the run has failed,
 * callbacks get a scratch error so the first error stays the one
 * reported.
 *
 * The adaptive window is the one place that reacts to an overloaded
 * server: additive increase, multiplicative decrease as TCP does, with a
 * cut at most once per round trip (a response to a request sent before
 * the last cut says nothing new). Its counters are in pump_stats.
 */
#include "engrave/pump.h"
#include "engrave/engine.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define DEF_MAX_IN_FLIGHT 4
#define ADAPTIVE_START 2           /* adaptive: the first window, unless opts say */
#define SRTT_GAIN 0.125            /* weight of a new latency in the smoothed one */
#define QUEUE_LOW 1.0              /* fewer waiting in the target: one more in flight */
#define QUEUE_HIGH 3.0             /* more waiting: one fewer */
#define FAST_NS (20 * NS_PER_MS)   /* requests this quick are not judged by latency */
#define TIMEOUT_EXPECTED_MULT 4    /* adaptive timeout: 4x what such a request takes now */
#define TIMEOUT_MAX_NS (600 * NS_PER_S)
#define PUMP_SAMPLE_NS NS_PER_S

enum { J_FREE = 0, J_FLIGHT, J_QUEUED };

struct pump;

struct pjob {
	struct pump *p;
	void *job;
	int attempts;
	int state;
	uint64_t seq;
	mono_ns due;
	size_t bytes;      /* the body of its last attempt (latency is judged per KiB) */
	struct pjob *next; /* retry queue or free list */
};

struct pump {
	struct pump_opts o;
	const struct pump_ops *ops;
	void *ctx;
	struct engine *en;
	int engine_broken;
	struct pjob *free_list, *retry_q;
	struct pjob **all;
	size_t n_all, cap_all;
	uint64_t seq;
	int in_flight;
	int more;               /* ops.next may still have jobs */
	int failed;             /* a callback or the engine failed this run */
	struct err *e;          /* the run's error (pump_run's e) */
	struct err scratch;     /* callbacks' error once the run has failed */
	int window;
	mono_ns last_cut;
	double base_cost;       /* adaptive: lowest latency per KiB of body seen (ns) */
	double srtt_cost;       /* adaptive: smoothed latency per KiB of successes (ns) */
	uint64_t round;         /* adaptive: completions since the window was last judged */
	mono_ns t_start, next_sample;
	int sample_min_window;  /* smallest window since the last sample */
	size_t last_bytes;      /* the body of the last attempt sent (the samples' latency size) */
	struct pump_sample *series;
	size_t n_series, cap_series;
	struct pump_stats st;
};

int pump_new(const struct pump_opts *o, const struct pump_ops *ops, void *ctx, struct pump **out,
	     struct err *e)
{
	*out = NULL;
	if (!ops || !ops->next || !ops->build || !ops->outcome)
		return err_set(e, ERR_INTERNAL, "pump: next, build and outcome are required");
	struct pump *p = xcalloc(1, sizeof(*p));
	if (o)
		p->o = *o;
	if (p->o.max_in_flight <= 0)
		p->o.max_in_flight = DEF_MAX_IN_FLIGHT;
	if (p->o.retry.max_attempts <= 0)
		p->o.retry.max_attempts = 1;
	p->ops = ops;
	p->ctx = ctx;
	p->window = p->o.max_in_flight;
	if (p->o.adaptive) {
		int w0 = p->o.initial_window > 0 ? p->o.initial_window : ADAPTIVE_START;
		if (w0 < p->window)
			p->window = w0;
	}
	p->sample_min_window = p->window;
	p->st.window = p->st.max_window = p->st.min_window = p->window;
	struct engine_opts eo = { .max_connections = p->o.max_in_flight,
				  .max_in_flight = p->o.max_in_flight,
				  .native = p->o.native };
	if (engine_new(&eo, &p->en, e) < 0) {
		free(p);
		return err_prefix(e, "pump");
	}
	*out = p;
	return 0;
}

void pump_free(struct pump *p)
{
	if (!p)
		return;
	engine_free(p->en);
	for (size_t i = 0; i < p->n_all; i++)
		free(p->all[i]);
	free(p->all);
	free(p->series);
	free(p);
}

void pump_get_stats(const struct pump *p, struct pump_stats *out)
{
	*out = p->st;
}

const struct pump_sample *pump_series(const struct pump *p, size_t *n)
{
	*n = p->n_series;
	return p->series;
}

/* ---- jobs ------------------------------------------------------------------ */

static struct pjob *pjob_get(struct pump *p, void *job)
{
	struct pjob *j = p->free_list;
	if (j) {
		p->free_list = j->next;
	} else {
		j = xmalloc(sizeof(*j));
		if (p->n_all == p->cap_all) {
			p->cap_all = p->cap_all ? p->cap_all * 2 : 16;
			p->all = xrealloc_array(p->all, p->cap_all, sizeof(*p->all));
		}
		p->all[p->n_all++] = j;
	}
	memset(j, 0, sizeof(*j));
	j->p = p;
	j->job = job;
	j->seq = p->seq++;
	return j;
}

static void pjob_put(struct pump *p, struct pjob *j)
{
	j->state = J_FREE;
	j->job = NULL;
	j->next = p->free_list;
	p->free_list = j;
}

static void pjob_drop(struct pump *p, struct pjob *j)
{
	p->st.dropped++;
	if (p->ops->drop)
		p->ops->drop(p->ctx, j->job);
	pjob_put(p, j);
}

/* Into the retry queue, ordered by due time, after any equal one. */
static void enqueue(struct pump *p, struct pjob *j)
{
	struct pjob **pp = &p->retry_q;
	while (*pp && (*pp)->due <= j->due)
		pp = &(*pp)->next;
	j->next = *pp;
	*pp = j;
	j->state = J_QUEUED;
}

static int timed_out(const struct http_response *rs)
{
	return rs->status == 0 && rs->transport_error == CURLE_OPERATION_TIMEDOUT;
}

static void fail(struct pump *p)
{
	p->failed = 1;
}

/* The error a callback should write to: the run's until it has failed. */
static struct err *cb_err(struct pump *p)
{
	if (!p->failed)
		return p->e;
	err_clear(&p->scratch);
	return &p->scratch;
}

/* ---- the adaptive window ---------------------------------------------------- */

static int congested(const struct http_response *rs)
{
	return rs->status == 429 || rs->status == 503 || timed_out(rs);
}

static void set_window(struct pump *p, int w)
{
	if (w < 1)
		w = 1;
	if (w > p->o.max_in_flight)
		w = p->o.max_in_flight;
	p->window = w;
	p->round = 0;
	p->st.window = w;
	if (w > p->st.max_window)
		p->st.max_window = w;
	if (w < p->st.min_window)
		p->st.min_window = w;
	if (w < p->sample_min_window)
		p->sample_min_window = w;
}

static double kib(size_t bytes)
{
	return bytes < 1024 ? 1.0 : (double)bytes / 1024.0;
}

/* What an attempt of this size is expected to take now (0: nothing seen yet). */
static uint64_t expected_ns(const struct pump *p, size_t bytes)
{
	return (uint64_t)(p->srtt_cost * kib(bytes));
}

/* Latency-based judgement, once per round (a window's worth of completions):
 * the requests waiting in the target's queue are window x (1 - base/srtt). */
static void judge_latency(struct pump *p, size_t bytes, uint64_t lat_ns)
{
	double cost = (double)lat_ns / kib(bytes);
	if (p->base_cost <= 0 || cost < p->base_cost)
		p->base_cost = cost;
	p->srtt_cost = p->srtt_cost > 0 ? p->srtt_cost + (cost - p->srtt_cost) * SRTT_GAIN : cost;
	if (++p->round < (uint64_t)p->window)
		return;
	p->round = 0;
	double queued = p->window * (1.0 - p->base_cost / p->srtt_cost);
	if (expected_ns(p, bytes) < FAST_NS)
		queued = 0; /* too fast to matter, and too noisy to read a queue from */
	p->st.queued = queued;
	if (queued < QUEUE_LOW && p->window < p->o.max_in_flight) {
		p->st.grows++;
		set_window(p, p->window + 1);
	} else if (queued > QUEUE_HIGH && p->window > 1) {
		p->st.shrinks++;
		set_window(p, p->window - 1);
	}
}

static void adapt(struct pump *p, const struct http_response *rs, const struct pjob *j, mono_ns sent,
		  mono_ns done)
{
	if (congested(rs))
		p->st.congestion++;
	if (timed_out(rs))
		p->st.timeouts++;
	if (!p->o.adaptive)
		return;
	if (timed_out(rs)) {
		/* censored: it would have taken longer than this; count it as twice
		 * as long, so the next attempts' timeouts move out of its way */
		double cost = 2.0 * (double)(done - sent) / kib(j->bytes);
		if (cost > p->srtt_cost)
			p->srtt_cost = cost;
	}
	if (congested(rs)) {
		if (sent >= p->last_cut) { /* sent after the last cut: news */
			p->last_cut = done;
			p->st.cuts++;
			set_window(p, p->window / 2);
		}
		return;
	}
	if (rs->status >= 200 && rs->status < 300)
		judge_latency(p, j->bytes, done - sent);
}

/* The series: one sample a second while the pump runs (and one at its end). */
static void sample(struct pump *p, mono_ns now)
{
	if (p->n_series == p->cap_series) {
		p->cap_series = p->cap_series ? p->cap_series * 2 : 64;
		p->series = xrealloc_array(p->series, p->cap_series, sizeof(*p->series));
	}
	struct pump_sample *s = &p->series[p->n_series++];
	s->t_ms = (uint32_t)((now - p->t_start) / NS_PER_MS);
	s->window = (uint16_t)p->window;
	s->min_window = (uint16_t)p->sample_min_window;
	s->in_flight = (uint16_t)p->in_flight;
	s->latency_ms = (uint32_t)(p->srtt_cost * kib(p->last_bytes) / NS_PER_MS);
	s->completed = p->st.completed;
	p->sample_min_window = p->window;
	p->next_sample = now + PUMP_SAMPLE_NS;
}

/* ---- one attempt --------------------------------------------------------------- */

static void on_done(void *user, const struct http_response *rs, mono_ns sent, mono_ns done)
{
	struct pjob *j = user;
	struct pump *p = j->p;
	p->in_flight--;
	p->st.completed++;
	adapt(p, rs, j, sent, done);
	struct pump_outcome o = { .rs = rs, .sent = sent, .done = done, .attempt = j->attempts,
				  .last = j->attempts >= p->o.retry.max_attempts };
	if (!o.last) {
		struct retry_policy rp = p->o.retry; /* the job's own jitter */
		rp.seed ^= (j->seq + 1) * 0x9e3779b97f4a7c15ULL;
		o.retry_in_ns = retry_delay_ns(&rp, j->attempts, rs);
		/* a timed-out attempt may still be running on the server: give it
		 * the time such an attempt takes before sending it again */
		uint64_t busy = expected_ns(p, j->bytes);
		if (timed_out(rs) && o.retry_in_ns < busy)
			o.retry_in_ns = busy;
	}
	enum pump_verdict v = p->ops->outcome(p->ctx, j->job, &o, cb_err(p));
	switch (v) {
	case PUMP_DONE:
		p->st.done++;
		break;
	case PUMP_GIVE_UP:
		p->st.gave_up++;
		break;
	case PUMP_FAIL:
		fail(p);
		break;
	case PUMP_RETRY:
		if (o.last) {
			p->st.exhausted++;
			if (p->ops->exhausted && p->ops->exhausted(p->ctx, j->job, &o, cb_err(p)) < 0)
				fail(p);
			break;
		}
		j->due = done + o.retry_in_ns;
		p->st.retries++;
		enqueue(p, j);
		return;
	}
	pjob_put(p, j);
}

/* Send the job's next attempt. -1 (e set, the job dropped) when it could not be. */
static int send_job(struct pump *p, struct pjob *j)
{
	struct http_request rq;
	memset(&rq, 0, sizeof(rq));
	if (p->ops->build(p->ctx, j->job, &rq, p->e) < 0) {
		pjob_drop(p, j);
		return -1;
	}
	j->bytes = rq.body_len;
	p->last_bytes = rq.body_len;
	if (p->o.adaptive) { /* a timeout relative to what such a request takes now */
		uint64_t base = rq.timeout_ns ? rq.timeout_ns : HTTP_TIMEOUT_DEFAULT_NS;
		uint64_t rel = TIMEOUT_EXPECTED_MULT * expected_ns(p, rq.body_len);
		if (rel > TIMEOUT_MAX_NS)
			rel = TIMEOUT_MAX_NS;
		rq.timeout_ns = rel > base ? rel : base;
		if (rq.timeout_ns > p->st.max_timeout_ns)
			p->st.max_timeout_ns = rq.timeout_ns;
	}
	if (engine_submit(p->en, &rq, on_done, j, p->e) < 0) {
		pjob_drop(p, j);
		return -1;
	}
	j->attempts++;
	j->state = J_FLIGHT;
	p->in_flight++;
	p->st.sent++;
	if (p->in_flight > p->st.max_in_flight_seen)
		p->st.max_in_flight_seen = p->in_flight;
	return 0;
}

/* Send due retries, then fresh jobs, while the window has room. */
static int fill(struct pump *p, mono_ns now)
{
	while (p->in_flight < p->window) {
		struct pjob *j = NULL;
		if (p->retry_q && p->retry_q->due <= now) {
			j = p->retry_q;
			p->retry_q = j->next;
		} else if (p->more) {
			void *job = NULL;
			int rc = p->ops->next(p->ctx, &job, p->e);
			if (rc < 0)
				return -1;
			if (rc == 0) {
				p->more = 0;
				break;
			}
			j = pjob_get(p, job);
		} else {
			break;
		}
		if (send_job(p, j) < 0)
			return -1;
	}
	return 0;
}

/* ---- the run -------------------------------------------------------------------- */

/* After the loop: queued retries (and, if the engine broke, requests in flight) dropped. */
static void cleanup(struct pump *p)
{
	while (p->retry_q) {
		struct pjob *j = p->retry_q;
		p->retry_q = j->next;
		pjob_drop(p, j);
	}
	if (!p->engine_broken)
		return;
	for (size_t i = 0; i < p->n_all; i++)
		if (p->all[i]->state == J_FLIGHT)
			pjob_drop(p, p->all[i]);
	p->in_flight = 0;
}

int pump_run(struct pump *p, struct err *e)
{
	if (p->engine_broken)
		return err_set(e, ERR_INTERNAL, "pump: the engine failed in an earlier run");
	p->e = e;
	p->more = 1;
	p->failed = 0;
	if (!p->t_start)
		p->t_start = p->next_sample = clock_mono_now();
	for (;;) {
		mono_ns now = clock_mono_now();
		if (now >= p->next_sample)
			sample(p, now);
		int stopping = p->failed || (p->o.stop && *p->o.stop);
		if (!stopping && fill(p, now) < 0) {
			fail(p);
			continue;
		}
		if (p->in_flight == 0 && (stopping || (!p->more && !p->retry_q)))
			break;
		mono_ns deadline = now + PUMP_TICK_NS;
		/* a due retry shortens the wait only if it can be sent: with the
		 * window full the next completion wakes us (no spinning) */
		if (!stopping && p->retry_q && p->in_flight < p->window && p->retry_q->due < deadline)
			deadline = p->retry_q->due;
		if (p->in_flight == 0) {
			clock_sleep_until(deadline);
			continue;
		}
		if (engine_poll(p->en, deadline, cb_err(p)) < 0) {
			fail(p);
			p->engine_broken = 1;
			break;
		}
	}
	cleanup(p);
	sample(p, clock_mono_now());
	p->e = NULL;
	return p->failed ? -1 : 0;
}
