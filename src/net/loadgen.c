/*
 * loadgen.c — the open-loop executor (contract in loadgen.h).
 *
 * One loop on the caller's thread, in the style of wrk2's event loop:
 *
 *   next = sched_next_due(i)           <- the only place a due time is made
 *   wait in engine_poll() until the spin margin before t0 + next.due_ns
 *     (or a completion, or the next live tick), then spin to it;
 *     completions run their callbacks meanwhile
 *   due: if the cap has room, submit (sent is read inside engine_submit);
 *        else wait for a completion, up to due + drop_after, then DROP it
 *
 * The due offset is copied into the in-flight slot and from there into the
 * record; the send decision above and the latency origin (record.intended)
 * both read that copy. Requests are sent strictly in index order (within
 * a worker, below), so a request never overtakes an earlier one, and a
 * backlog at the cap is drained as fast as the target answers (they are
 * late, not slow: their service time stays small while their latency
 * grows).
 *
 * Slots: max_in_flight `struct slot`s on a free list; a slot holds the op,
 * its partly filled record and the request (for error messages) while the
 * engine owns the transfer. Completion callbacks classify the outcome
 * (status, curl code), let the driver refine it, append the record and
 * free the slot: no allocation per request once the records array has
 * grown (it is reserved for the whole schedule up front when that is
 * under 1 GiB).
 *
 * Worker threads (opts.threads > 1, HTTP only): worker w runs the same
 * loop over requests w, w + K, w + 2K, ... with its own engine, its own
 * max_in_flight / K slots (ids w * cap ...) and its own result and records;
 * nothing is shared on the hot path. All workers use one t0 (set 1 ms
 * ahead so they start together); after the join the per-worker records are
 * concatenated and the counters summed. Once a second each worker adds its
 * interval histogram and counts to a mutex-protected accumulator, printed
 * by the last worker to add (hist_add: the merge HDR histograms exist for). A
 * sink, when given, is called under that mutex. The cap is per worker, so
 * "held back by the cap" is judged per worker too.
 *
 * Waiting for a due time (both paths): sleep with an absolute deadline
 * (engine_poll -> epoll_pwait2, or clock_nanosleep TIMER_ABSTIME; timer
 * slack 1 us) until `margin` before it, then spin on the clock (the HTTP
 * path polls its sockets without waiting meanwhile, so completions are
 * still reaped). A sleeping thread wakes 20-100 us late in a VM, and that
 * would show as latency of the target; spinning only the last margin costs
 * margin/interval of a core (at 2000/s and 100 us, 20%) and nothing between
 * requests at low rates. The margin (struct waker) tracks the 98th
 * percentile of the measured sleep overshoot with a stochastic quantile
 * estimate (+9.8 us when a wake-up overshot it, -0.2 us when not), within
 * [MARGIN_MIN_NS, MARGIN_MAX_NS]; opts.spin_ns fixes it instead. It is
 * capped at half the gap between two due times: a client spinning through
 * a dense schedule would take the core the target needs (on two cores, an
 * evenly spaced 70,000/s saturated a server that kept up when each late
 * wake-up sent the few requests it found due together).
 *
 * Held or not (the one rule for "whose fault is a late send"): a request
 * is held when it waited at a full cap, or when it became due while the
 * request before it was held and not yet sent (queued behind it). A held
 * request's lateness is the cap's; any other request's lateness is the
 * client's own, flagged RECORD_F_ROOM, and those of the measured records
 * form the wake-up error distribution (a histogram per worker, merged).
 * finish_record() applies the lateness bound once: RECORD_F_LATE, `late`,
 * and late_free or cap_waits by the held bit.
 *
 * The async path (async_open/async_submit) is the HTTP path with the send
 * replaced: the driver writes the op on one of its own connections, which
 * it attached to the worker's engine (engine_watch), and completes it
 * through on_done from inside engine_poll. Engines and those connections
 * are set up before t0 is taken (workers_prepare), so connecting is never
 * the first requests' lateness.
 *
 * The in-process path (exec) runs a leader/follower pool (Schmidt's
 * pattern): one thread, the leader, claims the next request and waits for
 * its due time; at the start of the spin margin it hands leadership to an
 * idle follower (a condition variable; a new thread when none is idle and
 * fewer than max_in_flight exist), spins to the due time and executes. The
 * new leader claims the next request meanwhile, so a slow operation never
 * holds back the next one while the cap has room, and only the thread
 * about to execute spins. When every thread is busy the role stays vacant until one
 * finishes: the requests due meanwhile are held (cap waits). The calling
 * thread is slot 0; the pool grows to the concurrency the run needs (two
 * threads at a low rate). Records, counters and the live line are kept
 * under the pool's mutex, which is never held across a wait or an exec.
 */
#include "engrave/loadgen.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "engrave/engine.h"
#include "engrave/err.h"
#include "engrave/hist.h"
#include "engrave/log.h"
#include "engrave/secret.h"
#include "engrave/spec.h"
#include "engrave/xalloc.h"

#define DEF_MAX_IN_FLIGHT 256
#define DEF_DROP_AFTER_NS (10 * NS_PER_S)
#define DEF_TIMEOUT_NS (30 * NS_PER_S)
#define RESERVE_MAX_BYTES (1ULL << 30)
#define MARGIN_INIT_NS (150 * NS_PER_US) /* the spin margin before any wake-up was measured */
#define MARGIN_MIN_NS (20 * NS_PER_US)
#define MARGIN_MAX_NS (500 * NS_PER_US)
#define MARGIN_STEP_NS 10000.0          /* quantile estimate: +0.98 step on a miss, -0.02 else */
#define MARGIN_Q 0.98

struct run;

/* What the workers share: the live line's accumulators and the sink. */
struct shared {
	pthread_mutex_t lock;
	int nthreads;
	struct hist live;          /* merged interval histogram */
	int live_ok;
	uint64_t completed, errors;/* this interval, all workers */
	int deposits;              /* workers that added this interval so far */
	int in_flight[LOADGEN_MAX_THREADS]; /* per worker, as of its last tick */
	uint64_t late[LOADGEN_MAX_THREADS], dropped[LOADGEN_MAX_THREADS]; /* per worker, cumulative */
};

struct slot {
	struct run *run;
	unsigned id;
	struct sched_op op;
	struct record rec;
	struct http_request rq;
	int held;                  /* see "Held or not" above */
	struct slot *next_free;
};

/* The spin margin: fixed (opts.spin_ns) or the running 98th percentile of
 * the sleep overshoot. */
struct waker {
	double margin_ns;
	int fixed;
};

struct run {
	struct shared *sh;
	unsigned w, stride;        /* worker w sends requests w, w + stride, ... */
	int cap;                   /* this worker's share of max_in_flight */
	unsigned slot_base;        /* its slot ids start here */
	struct err err;            /* why run_http failed */
	int rc;
	const struct sched *s;
	const struct loadgen_target *t;
	struct loadgen_opts o;
	struct loadgen_result *res;
	struct engine *en;
	void *async;               /* the async path's connections on this engine */
	struct slot *slots;
	struct slot *free_slots;
	int in_flight;
	mono_ns t0;
	struct hist live;          /* latency of the last second */
	int live_ok;
	struct hist wake;          /* the measured RECORD_F_ROOM records' lateness */
	int wake_ok;
	struct waker wk;
	mono_ns next_tick;
	uint64_t tick_completed, tick_errors;
	int oom;                   /* records could not grow: stop */
	struct err oom_err;
};

/* ---- records ------------------------------------------------------------- */

static void note_error(struct run *r, const struct record *rec, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note_error(struct run *r, const struct record *rec, const char *fmt, ...)
{
	char *dst = r->res->first_error[rec->err < RECORD_ERR_COUNT ? rec->err : 0];
	if (rec->err == RECORD_ERR_NONE || dst[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, sizeof(r->res->first_error[0]), fmt, ap);
	va_end(ap);
}

/* The first message of rec's (op, status, class) group (loadgen.h): `len`
 * bytes of `msg`, control bytes shown as spaces, secrets redacted. */
static void note_group(struct loadgen_result *res, const struct record *rec, const char *msg, size_t len)
{
	if (rec->err == RECORD_ERR_NONE || res->n_err_groups >= LOADGEN_ERR_GROUPS)
		return;
	for (int i = 0; i < res->n_err_groups; i++) {
		const struct loadgen_err_group *g = &res->err_groups[i];
		if (g->op == rec->op && g->err == rec->err && g->status == rec->status)
			return;
	}
	struct loadgen_err_group *g = &res->err_groups[res->n_err_groups++];
	g->op = rec->op;
	g->err = rec->err;
	g->status = rec->status;
	if (!msg)
		len = 0;
	len = len > LOADGEN_ERR_MSG ? LOADGEN_ERR_MSG : len;
	for (size_t i = 0; i < len; i++)
		g->msg[i] = (unsigned char)msg[i] < 0x20 || msg[i] == 0x7f ? ' ' : msg[i];
	g->msg[len] = '\0';
	secret_redact(g->msg, sizeof(g->msg));
}

/*
 * The one place the lateness bound is applied: RECORD_F_LATE, `late`, and
 * late_free or cap_waits by whether the request was held (see the top).
 */
static void finish_record(struct run *r, struct record *rec, int held)
{
	struct loadgen_result *res = r->res;
	if (rec->intended < r->s->p.warmup_ns)
		rec->flags |= RECORD_F_WARMUP;
	if (rec->status != RECORD_STATUS_DROPPED) {
		uint64_t late = record_lateness_ns(rec);
		if (!held)
			rec->flags |= RECORD_F_ROOM;
		if (late > r->o.late_ns) {
			rec->flags |= RECORD_F_LATE;
			res->late++;
			if (held)
				res->cap_waits++;
			else
				res->late_free++;
		}
		if (late > res->late_max_ns)
			res->late_max_ns = late;
		if (!held && !(rec->flags & RECORD_F_WARMUP) && r->wake_ok)
			hist_record(&r->wake, late);
		res->completed++;
		r->tick_completed++;
		if (r->live_ok)
			hist_record(&r->live, record_latency_ns(rec));
		if (rec->done > res->elapsed_ns)
			res->elapsed_ns = rec->done;
	} else {
		res->cap_waits++;
	}
	if (rec->err != RECORD_ERR_NONE) {
		res->errors++;
		r->tick_errors++;
	}
	res->recorded++;
	if (r->o.sink) {
		if (r->sh->nthreads > 1)
			pthread_mutex_lock(&r->sh->lock);
		r->o.sink(r->o.sink_ctx, rec);
		if (r->sh->nthreads > 1)
			pthread_mutex_unlock(&r->sh->lock);
	} else if (records_push(&res->records, rec, &r->oom_err) < 0)
		r->oom = 1;
}

static uint64_t since_t0(const struct run *r, mono_ns t)
{
	return t > r->t0 ? t - r->t0 : 0;
}

static void record_unsent(struct run *r, const struct sched_op *op, mono_ns now, uint16_t status,
			  enum record_err cls, const char *why, int held)
{
	struct record rec;
	memset(&rec, 0, sizeof(rec));
	rec.index = op->index;
	rec.op = (uint8_t)op->kind;
	rec.intended = op->due_ns;
	rec.sent = rec.done = since_t0(r, now);
	rec.status = status;
	rec.err = (uint8_t)cls;
	if (cls == RECORD_ERR_DROPPED)
		r->res->dropped++;
	note_error(r, &rec, "request %llu (%s): %s", (unsigned long long)op->index,
		   sched_op_name(op->kind), why);
	note_group(r->res, &rec, why, strlen(why));
	finish_record(r, &rec, held);
}

/* ---- waiting for a due time ------------------------------------------------- */

static void waker_init(struct waker *w, uint64_t spin_ns)
{
	w->fixed = spin_ns != 0;
	w->margin_ns = (double)(spin_ns ? spin_ns : MARGIN_INIT_NS);
}

static uint64_t waker_margin(const struct waker *w)
{
	return (uint64_t)w->margin_ns;
}

/* A sleep meant to end at `until` ended `overshoot` ns after it. */
static void waker_learn(struct waker *w, uint64_t overshoot)
{
	if (w->fixed)
		return;
	if ((double)overshoot > w->margin_ns)
		w->margin_ns += MARGIN_STEP_NS * MARGIN_Q;
	else
		w->margin_ns -= MARGIN_STEP_NS * (1 - MARGIN_Q);
	if (w->margin_ns < (double)MARGIN_MIN_NS)
		w->margin_ns = (double)MARGIN_MIN_NS;
	if (w->margin_ns > (double)MARGIN_MAX_NS)
		w->margin_ns = (double)MARGIN_MAX_NS;
}

/*
 * When to stop sleeping for `due`, `gap` ns after the previous due time:
 * the margin before it, but at most half the gap, so the client spins at
 * most half its time; a denser schedule sleeps nearly to each due time,
 * and the requests a late wake-up finds due leave together (their
 * lateness is the client's, in the wake-up error).
 */
static mono_ns waker_wake_at(const struct waker *w, mono_ns due, uint64_t gap)
{
	uint64_t m = waker_margin(w);
	if (!w->fixed && m > gap / 2)
		m = gap / 2; /* a margin the caller fixed is kept as it is */
	return due > m ? due - m : 0;
}

/* ---- live line ------------------------------------------------------------ */

/*
 * Each worker adds its interval figures to the shared accumulators once a
 * second; the last of the workers to do so for that second prints the line
 * and resets them (every worker ticks on the same 1 s grid from the shared
 * t0, so a line covers the same second of every worker).
 */
static void live_tick(struct run *r, mono_ns now)
{
	if (now < r->next_tick)
		return;
	struct shared *sh = r->sh;
	pthread_mutex_lock(&sh->lock);
	if (sh->live_ok && r->live_ok)
		hist_add(&sh->live, &r->live);
	sh->completed += r->tick_completed;
	sh->errors += r->tick_errors;
	sh->in_flight[r->w] = r->in_flight;
	sh->late[r->w] = r->res->late;
	sh->dropped[r->w] = r->res->dropped;
	if (++sh->deposits >= sh->nthreads) {
		sh->deposits = 0;
		if (r->o.live) {
			char p50[32] = "-", p99[32] = "-";
			int inf = 0;
			uint64_t late = 0, dropped = 0;
			for (int k = 0; k < sh->nthreads; k++) {
				inf += sh->in_flight[k];
				late += sh->late[k];
				dropped += sh->dropped[k];
			}
			if (sh->live_ok && hist_count(&sh->live)) {
				clock_format_duration(hist_percentile(&sh->live, 50), p50, sizeof(p50));
				clock_format_duration(hist_percentile(&sh->live, 99), p99, sizeof(p99));
			}
			log_info("%s: %llu/s done, %d in flight, p50 %s p99 %s (last second), %llu errors, "
				 "%llu late, %llu dropped",
				 r->o.label, (unsigned long long)sh->completed, inf, p50, p99,
				 (unsigned long long)sh->errors, (unsigned long long)late,
				 (unsigned long long)dropped);
		}
		if (sh->live_ok)
			hist_reset(&sh->live);
		sh->completed = sh->errors = 0;
	}
	pthread_mutex_unlock(&sh->lock);
	if (r->live_ok)
		hist_reset(&r->live);
	r->tick_completed = r->tick_errors = 0;
	while (r->next_tick <= now)
		r->next_tick += NS_PER_S;
}

/* ---- HTTP path ------------------------------------------------------------ */

static void classify_transport(struct record *rec, const struct http_response *rs)
{
	rec->detail = (uint16_t)rs->transport_error;
	switch (rs->transport_error) {
	case CURLE_OPERATION_TIMEDOUT:
		rec->status = RECORD_STATUS_TIMEOUT;
		rec->err = RECORD_ERR_TIMEOUT;
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		rec->status = RECORD_STATUS_TRANSPORT;
		rec->err = RECORD_ERR_CONNECT;
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		rec->status = RECORD_STATUS_TRANSPORT;
		rec->err = RECORD_ERR_TLS;
		break;
	default:
		rec->status = RECORD_STATUS_TRANSPORT;
		rec->err = RECORD_ERR_TRANSPORT;
	}
}

static void on_done(void *user, const struct http_response *rs, mono_ns sent, mono_ns done)
{
	struct slot *sl = user;
	struct run *r = sl->run;
	struct record *rec = &sl->rec;
	rec->sent = since_t0(r, sent);
	rec->done = since_t0(r, done);
	rec->bytes_in = rs->body.len > UINT32_MAX ? UINT32_MAX : (uint32_t)rs->body.len;
	if (rs->status == 0) {
		classify_transport(rec, rs);
	} else {
		rec->status = rs->status > 0xffff ? 0xffff : (uint16_t)rs->status;
		rec->err = (uint8_t)records_err_of_status((unsigned)rs->status);
	}
	if (r->t->response)
		r->t->response(r->t->ctx, sl->id, &sl->op, rs, rec);
	if (rec->err != RECORD_ERR_NONE && !r->res->first_error[rec->err][0]) {
		if (!sl->rq.url) /* the async path: no HTTP request */
			note_error(r, rec, "request %llu (%s): %ld: %.120s", (unsigned long long)sl->op.index,
				   sched_op_name(sl->op.kind), rs->status, rs->status == 0 ? rs->error : rs->body.data);
		else if (rs->status == 0)
			note_error(r, rec, "%s %s: %s", http_method_of(&sl->rq), sl->rq.url, rs->error);
		else
			note_error(r, rec, "%s %s: %ld: %.120s", http_method_of(&sl->rq), sl->rq.url,
				   rs->status, rs->body.data);
	}
	if (rec->err != RECORD_ERR_NONE)
		note_group(r->res, rec, rs->status == 0 ? rs->error : rs->body.data,
			   rs->status == 0 ? strlen(rs->error) : rs->body.len);
	finish_record(r, rec, sl->held);
	r->in_flight--;
	sl->next_free = r->free_slots;
	r->free_slots = sl;
}

/* Try to send `op` now. 1 sent (or failed and recorded), 0 the cap is full. */
static int try_send(struct run *r, const struct sched_op *op, int held)
{
	if (!r->free_slots)
		return 0;
	struct slot *sl = r->free_slots;
	struct err be = ERR_INIT;
	sl->op = *op;
	sl->held = held;
	memset(&sl->rec, 0, sizeof(sl->rec));
	sl->rec.index = op->index;
	sl->rec.op = (uint8_t)op->kind;
	sl->rec.intended = op->due_ns;
	memset(&sl->rq, 0, sizeof(sl->rq));
	if (r->async) {
		r->free_slots = sl->next_free;
		if (r->t->async_submit(r->async, sl->id, op, on_done, sl, &be) < 0) {
			sl->next_free = r->free_slots;
			r->free_slots = sl;
			record_unsent(r, op, clock_mono_now(), RECORD_STATUS_TRANSPORT,
				      be.cls == ERR_NET ? RECORD_ERR_CONNECT : RECORD_ERR_CLIENT, be.msg, held);
			return 1;
		}
		goto sent;
	}
	if (r->t->build(r->t->ctx, sl->id, op, &sl->rq, &be) < 0) {
		record_unsent(r, op, clock_mono_now(), RECORD_STATUS_ERROR, RECORD_ERR_CLIENT,
			      be.msg[0] ? be.msg : "the driver could not build the request", held);
		return 1;
	}
	if (!sl->rq.timeout_ns)
		sl->rq.timeout_ns = r->o.timeout_ns;
	sl->rec.bytes_out = sl->rq.body_len > UINT32_MAX ? UINT32_MAX : (uint32_t)sl->rq.body_len;
	r->free_slots = sl->next_free;
	if (engine_submit(r->en, &sl->rq, on_done, sl, &be) < 0) {
		/* engine_full cannot happen (we cap first); anything else fails the request */
		sl->next_free = r->free_slots;
		r->free_slots = sl;
		record_unsent(r, op, clock_mono_now(), RECORD_STATUS_TRANSPORT, RECORD_ERR_CLIENT, be.msg,
			      held);
		return 1;
	}
sent:
	r->res->sent++;
	r->in_flight++;
	if (r->in_flight > r->res->max_in_flight_seen)
		r->res->max_in_flight_seen = r->in_flight;
	return 1;
}

static int stopped(const struct run *r)
{
	return (r->o.stop && *r->o.stop) || r->oom;
}

/*
 * Wait a little for `due` (not yet reached at `now`, `gap` after the previous
 * due time): sleep in the engine until the margin before it (or the next
 * live tick), learning how late that sleep ended; within the margin, one
 * pass over the sockets without waiting (the spin). Completions are reaped
 * either way.
 */
static int http_wait(struct run *r, mono_ns due, uint64_t gap, mono_ns now, struct err *e)
{
	mono_ns wake = waker_wake_at(&r->wk, due, gap);
	if (now >= wake)
		return engine_poll(r->en, 0, e) < 0 ? -1 : 0;
	mono_ns until = wake < r->next_tick ? wake : r->next_tick;
	int got = engine_poll(r->en, until, e);
	if (got < 0)
		return -1;
	mono_ns after = clock_mono_now();
	if (got == 0 && after >= until)
		waker_learn(&r->wk, after - until);
	return 0;
}

static int http_setup(struct run *r, struct err *e)
{
	struct engine_opts eo = { 0 };
	eo.max_in_flight = r->cap;
	eo.native = r->o.transport != LOADGEN_CURL;
	eo.max_connections = r->o.max_connections ? r->o.max_connections / (int)r->stride : r->cap;
	if (eo.max_connections < 1)
		eo.max_connections = 1;
	if (engine_new(&eo, &r->en, e) < 0)
		return err_prefix(e, "loadtest");
	int conns = r->o.max_connections ? (r->o.max_connections / (int)r->stride > 0
					    ? r->o.max_connections / (int)r->stride : 1) : 0;
	if (r->t->async_open && !(r->async = r->t->async_open(r->t->ctx, r->en, r->w, r->cap, conns, e)))
		return err_prefix(e, "loadtest");
	r->slots = xalloc_try_zeroed((size_t)r->cap, sizeof(*r->slots), "requests in flight", e);
	if (!r->slots)
		return err_prefix(e, "loadtest");
	for (int k = r->cap - 1; k >= 0; k--) {
		r->slots[k].run = r;
		r->slots[k].id = r->slot_base + (unsigned)k;
		r->slots[k].next_free = r->free_slots;
		r->free_slots = &r->slots[k];
	}
	return 0;
}

static int run_http(struct run *r, struct err *e)
{
	uint64_t n = sched_count(r->s), i = r->w;
	struct sched_op op;
	if (i < n)
		sched_next_due(r->s, i, &op);
	int waited_cap = 0; /* the current op found the cap full */
	int prev_held = 0;  /* the previous op was held ... */
	mono_ns prev_sent = 0; /* ... and left (or was dropped) then */
	uint64_t prev_due = 0; /* its due offset */
	r->next_tick = r->t0 + NS_PER_S;
	while (i < n && !stopped(r)) {
		mono_ns now = clock_mono_now();
		live_tick(r, now);
		mono_ns due = r->t0 + op.due_ns;
		if (now < due) {
			if (http_wait(r, due, op.due_ns - prev_due, now, e) < 0)
				return err_prefix(e, "loadtest");
			continue;
		}
		int held = waited_cap || (prev_held && due <= prev_sent);
		if (!try_send(r, &op, held)) {
			waited_cap = 1;
			if (now - due <= r->o.drop_after_ns) {
				mono_ns until = due + r->o.drop_after_ns + 1;
				if (r->next_tick < until)
					until = r->next_tick;
				if (engine_poll(r->en, until, e) < 0)
					return err_prefix(e, "loadtest");
				continue;
			}
			record_unsent(r, &op, now, RECORD_STATUS_DROPPED, RECORD_ERR_DROPPED,
				      "not sent within drop_after: max_in_flight reached", 1);
			held = 1;
		}
		prev_held = held;
		prev_sent = now;
		prev_due = op.due_ns;
		waited_cap = 0;
		i += r->stride;
		if (i < n)
			sched_next_due(r->s, i, &op);
	}
	while (r->in_flight > 0) {
		mono_ns now = clock_mono_now();
		live_tick(r, now);
		if (engine_poll(r->en, r->next_tick, e) < 0)
			return err_prefix(e, "loadtest");
	}
	return 0;
}

/* ---- in-process path: a leader/follower pool ---------------------------------- */

struct pool;

struct pool_thread {
	struct pool *p;
	unsigned slot;
	pthread_t th;
};

struct pool {
	struct run *r;               /* the one run: records, counters, live line, waker */
	pthread_mutex_t lock;
	pthread_cond_t follow;       /* idle followers wait here for leadership */
	uint64_t next, n;            /* the next request to claim, the schedule's count */
	int leader;                  /* a thread is waiting for request `next - 1` */
	int threads, idle, busy, cap;
	int done;
	int vacant;                  /* the leader role was left empty: every thread was busy */
	int prev_held;               /* the previous claim was held ... */
	mono_ns prev_claim;          /* ... and made then */
	uint64_t prev_due;           /* its due offset */
	struct pool_thread th[LOADGEN_MAX_THREADS];
};

static void *pool_main(void *arg);

/* Hand the leader role on (lock held): to an idle follower, to a new thread,
 * or nobody when all max_in_flight threads are busy (vacant). */
static void pool_promote(struct pool *p)
{
	p->leader = 0;
	if (p->idle > 0) {
		pthread_cond_signal(&p->follow);
		return;
	}
	if (p->threads < p->cap) {
		struct pool_thread *t = &p->th[p->threads];
		t->p = p;
		t->slot = (unsigned)p->threads;
		if (pthread_create(&t->th, NULL, pool_main, t) == 0) {
			p->threads++;
			return;
		}
		p->cap = p->threads; /* no more threads: run with those */
	}
	p->vacant = 1;
}

/*
 * The leader sleeps (lock released) until the margin before `due`, in
 * segments that end at the live ticks. Lock held on entry and return; -1
 * when the run was stopped meanwhile.
 */
static int pool_sleep(struct pool *p, mono_ns due, uint64_t gap)
{
	struct run *r = p->r;
	for (;;) {
		mono_ns now = clock_mono_now();
		live_tick(r, now);
		if (stopped(r))
			return -1;
		mono_ns wake = waker_wake_at(&r->wk, due, gap);
		if (now >= wake)
			return 0;
		mono_ns until = wake < r->next_tick ? wake : r->next_tick;
		pthread_mutex_unlock(&p->lock);
		clock_sleep_until(until);
		mono_ns after = clock_mono_now();
		pthread_mutex_lock(&p->lock);
		waker_learn(&r->wk, after > until ? after - until : 0);
	}
}

/* Execute `op` on `slot` (lock released around the spin and the call). */
static void pool_exec(struct pool *p, unsigned slot, const struct sched_op *op, int held)
{
	struct run *r = p->r;
	if (++p->busy > r->res->max_in_flight_seen)
		r->res->max_in_flight_seen = p->busy;
	r->in_flight = p->busy;
	pthread_mutex_unlock(&p->lock);
	mono_ns due = r->t0 + op->due_ns;
	while (clock_mono_now() < due)
		; /* the spin: the last margin before the due time */
	struct record rec;
	memset(&rec, 0, sizeof(rec));
	rec.index = op->index;
	rec.op = (uint8_t)op->kind;
	rec.intended = op->due_ns;
	mono_ns sent = clock_mono_now();
	unsigned st = r->t->exec(r->t->ctx, slot, op, &rec);
	mono_ns done = clock_mono_now();
	rec.sent = since_t0(r, sent);
	rec.done = since_t0(r, done);
	rec.status = st > 0xffff ? 0xffff : (uint16_t)st;
	if (rec.err == RECORD_ERR_NONE)
		rec.err = (uint8_t)records_err_of_status(st);
	pthread_mutex_lock(&p->lock);
	r->in_flight = --p->busy;
	r->res->sent++;
	note_error(r, &rec, "request %llu (%s): status %u", (unsigned long long)op->index,
		   sched_op_name(op->kind), st);
	if (rec.err != RECORD_ERR_NONE) { /* format only for failures: this runs under the pool lock */
		char why[64];
		note_group(r->res, &rec, why,
			   (size_t)snprintf(why, sizeof(why), "the in-process operation returned %u", st));
	}
	finish_record(r, &rec, held);
}

/*
 * One pool thread: follow while another leads; lead otherwise: claim the
 * next request, decide whether it is held (it is due already and the role
 * was vacant, or it queued behind a held one), drop it past drop_after,
 * else sleep towards it, hand the role on, spin and execute.
 */
static void pool_work(struct pool *p, unsigned slot)
{
	struct run *r = p->r;
	pthread_mutex_lock(&p->lock);
	while (!p->done) {
		if (p->leader) {
			p->idle++;
			pthread_cond_wait(&p->follow, &p->lock);
			p->idle--;
			continue;
		}
		if (p->next >= p->n || stopped(r)) {
			p->done = 1;
			pthread_cond_broadcast(&p->follow);
			break;
		}
		struct sched_op op;
		sched_next_due(r->s, p->next++, &op);
		mono_ns due = r->t0 + op.due_ns, now = clock_mono_now();
		int held = now > due && (p->vacant || (p->prev_held && due <= p->prev_claim));
		uint64_t gap = op.due_ns - p->prev_due;
		p->vacant = 0;
		p->prev_held = held;
		p->prev_claim = now;
		p->prev_due = op.due_ns;
		if (now > due && now - due > r->o.drop_after_ns) {
			record_unsent(r, &op, now, RECORD_STATUS_DROPPED, RECORD_ERR_DROPPED,
				      "not executed within drop_after: every in-process executor thread "
				      "was busy", held);
			continue;
		}
		p->leader = 1;
		if (pool_sleep(p, due, gap) < 0) {
			p->next--; /* not executed: the run was stopped */
			p->leader = 0;
			continue;
		}
		pool_promote(p);
		pool_exec(p, slot, &op, held);
	}
	pthread_mutex_unlock(&p->lock);
}

static void *pool_main(void *arg)
{
	struct pool_thread *t = arg;
	pool_work(t->p, t->slot);
	return NULL;
}

static int run_exec(struct run *r, struct err *e)
{
	(void)e;
	struct pool *p = xcalloc(1, sizeof(*p)); /* one per run */
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->follow, NULL);
	p->r = r;
	p->n = sched_count(r->s);
	p->cap = r->cap < LOADGEN_MAX_THREADS ? r->cap : LOADGEN_MAX_THREADS;
	p->threads = 1; /* the calling thread is slot 0 */
	r->next_tick = r->t0 + NS_PER_S;
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* 1 us, as the engine; threads inherit it */
	pool_work(p, 0);
	pthread_mutex_lock(&p->lock);
	int threads = p->threads;
	pthread_mutex_unlock(&p->lock);
	for (int k = 1; k < threads; k++)
		pthread_join(p->th[k].th, NULL);
	pthread_cond_destroy(&p->follow);
	pthread_mutex_destroy(&p->lock);
	free(p);
	return 0;
}

/* ---- API ------------------------------------------------------------------- */

/* The saturation verdict, from the counts finish_record() made with the run's
 * lateness bound (the same `late` as the records' flag and the metrics). */
static void judge_saturation(struct loadgen_result *res, int max_in_flight, int in_process)
{
	char *out = res->saturation, bound[32];
	size_t cap = sizeof(res->saturation), len = 0;
	clock_format_duration(res->late_ns, bound, sizeof(bound));
	if (res->sent && res->late_free * 100 > res->sent) {
		len += (size_t)snprintf(out + len, cap - len,
					"%.1f%% of sends were later than the lateness bound (%s) although "
					"the in-flight cap had room: the client could not keep up with the rate",
					100.0 * (double)res->late_free / (double)res->sent, bound);
		res->saturated = 1;
	}
	if (res->cap_waits && len < cap && in_process) {
		len += (size_t)snprintf(out + len, cap - len,
					"%s%llu requests were sent later than the lateness bound (%s), or "
					"dropped, because all %d in-process executor threads (max_in_flight) "
					"were busy: their latency includes queueing behind slower ones",
					len ? "; " : "", (unsigned long long)res->cap_waits, bound,
					max_in_flight);
		res->saturated = 1;
	} else if (res->cap_waits && len < cap) {
		len += (size_t)snprintf(out + len, cap - len,
					"%s%llu requests were held back by the in-flight cap (%d) past the "
					"lateness bound (%s), or dropped: their latency includes client "
					"queueing (the target was slower than the cap allows); raise "
					"max_in_flight to see the target alone",
					len ? "; " : "", (unsigned long long)res->cap_waits, max_in_flight,
					bound);
		res->saturated = 1;
	}
}

static void *worker_main(void *arg)
{
	struct run *r = arg;
	err_clear(&r->err);
	r->rc = run_http(r, &r->err);
	return NULL;
}

static void merge_result(struct loadgen_result *dst, const struct loadgen_result *src)
{
	dst->recorded += src->recorded;
	dst->sent += src->sent;
	dst->completed += src->completed;
	dst->dropped += src->dropped;
	dst->errors += src->errors;
	dst->late += src->late;
	dst->late_free += src->late_free;
	dst->cap_waits += src->cap_waits;
	dst->max_in_flight_seen += src->max_in_flight_seen;
	if (src->late_max_ns > dst->late_max_ns)
		dst->late_max_ns = src->late_max_ns;
	if (src->elapsed_ns > dst->elapsed_ns)
		dst->elapsed_ns = src->elapsed_ns;
	for (int k = 0; k < RECORD_ERR_COUNT; k++)
		if (!dst->first_error[k][0] && src->first_error[k][0])
			memcpy(dst->first_error[k], src->first_error[k], sizeof(dst->first_error[k]));
	for (int k = 0; k < src->n_err_groups; k++) {
		const struct loadgen_err_group *g = &src->err_groups[k];
		struct record key = { .op = g->op, .err = g->err, .status = g->status };
		note_group(dst, &key, g->msg, strlen(g->msg));
	}
}

/*
 * loadgen_run in phases: defaults, setup (the shared live line and one
 * `struct run` per worker), execute (in-process, the calling thread, or
 * worker threads), collect (per-worker teardown and the merge of their
 * records), finish (saturation verdict, transport, interruption).
 */
struct workers {
	struct shared sh;
	struct run *runs;
	struct loadgen_result *parts; /* per worker; `res` itself with one worker */
	int nt;
};

static void opts_with_defaults(const struct loadgen_opts *o, int in_process, struct loadgen_opts *oo)
{
	memset(oo, 0, sizeof(*oo));
	if (o)
		*oo = *o;
	if (oo->max_in_flight <= 0)
		oo->max_in_flight = in_process ? 1 : DEF_MAX_IN_FLIGHT;
	if (in_process && oo->max_in_flight > LOADGEN_MAX_THREADS)
		oo->max_in_flight = LOADGEN_MAX_THREADS;
	if (!oo->late_ns)
		oo->late_ns = LOADGEN_LATE_NS;
	if (!oo->drop_after_ns)
		oo->drop_after_ns = DEF_DROP_AFTER_NS;
	if (!oo->timeout_ns)
		oo->timeout_ns = DEF_TIMEOUT_NS;
	if (!oo->label)
		oo->label = "loadtest";
}

/* Setup, part 1: the worker count, the shared live line, the runs. */
static void workers_new(struct workers *wk, const struct loadgen_target *t,
			const struct loadgen_opts *oo, struct loadgen_result *res)
{
	int nt = (t->build || t->async_open) && oo->threads > 1 ? oo->threads : 1;
	if (nt > oo->max_in_flight)
		nt = oo->max_in_flight;
	if (nt > LOADGEN_MAX_THREADS)
		nt = LOADGEN_MAX_THREADS;
	memset(wk, 0, sizeof(*wk));
	wk->nt = nt;
	pthread_mutex_init(&wk->sh.lock, NULL);
	wk->sh.nthreads = nt;
	wk->sh.live_ok = hist_init(&wk->sh.live, NULL) == 0;
	wk->runs = xcalloc((size_t)nt, sizeof(*wk->runs)); /* nt <= LOADGEN_MAX_THREADS */
	wk->parts = nt > 1 ? xcalloc((size_t)nt, sizeof(*wk->parts)) : res;
}

/* Setup, part 2: t0 and each worker's run and records. */
static int workers_prepare(struct workers *wk, const struct sched *s, const struct loadgen_target *t,
			   const struct loadgen_opts *oo, struct loadgen_result *res, struct err *e)
{
	int nt = wk->nt;
	int rc = 0;
	for (int w = 0; w < nt; w++) {
		struct run *r = &wk->runs[w];
		r->sh = &wk->sh;
		r->w = (unsigned)w;
		r->stride = (unsigned)nt;
		r->cap = oo->max_in_flight / nt;
		r->slot_base = (unsigned)(w * r->cap);
		r->s = s;
		r->t = t;
		r->o = *oo;
		r->res = &wk->parts[w];
		if (nt > 1)
			records_init(&wk->parts[w].records);
		err_clear(&r->oom_err);
		uint64_t mine = res->scheduled / (uint64_t)nt + 1;
		if (!oo->sink && mine * sizeof(struct record) <= RESERVE_MAX_BYTES &&
		    records_reserve(&r->res->records, mine, e) < 0)
			rc = -1;
		r->live_ok = hist_init(&r->live, NULL) == 0;
		r->wake_ok = hist_init(&r->wake, NULL) == 0;
		waker_init(&r->wk, oo->spin_ns);
		/* engines and the async path's connections before t0: connecting
		 * (a database's handshake, prepared statements) is not the
		 * schedule's time */
		if (rc == 0 && (t->build || t->async_open) && http_setup(r, e) < 0)
			rc = -1;
	}
	/* all workers share t0: a little in the future so they start together */
	mono_ns t0 = clock_mono_now() + (nt > 1 ? NS_PER_MS : 0);
	res->t0 = t0;
	res->t0_unix = clock_unix_now() + (unix_ns)(nt > 1 ? NS_PER_MS : 0);
	for (int w = 0; w < nt; w++)
		wk->runs[w].t0 = t0;
	res->late_ns = oo->late_ns;
	return rc;
}

/* Execute: in-process, on the calling thread, or one thread per worker. */
static int workers_execute(struct workers *wk, const struct loadgen_target *t, struct err *e)
{
	if (!t->build && !t->async_open)
		return run_exec(&wk->runs[0], e);
	if (wk->nt == 1)
		return run_http(&wk->runs[0], e);
	pthread_t th[LOADGEN_MAX_THREADS];
	int started = 0, rc = 0;
	for (int w = 0; w < wk->nt; w++) {
		if (pthread_create(&th[w], NULL, worker_main, &wk->runs[w]) != 0) {
			rc = err_set(e, ERR_INTERNAL, "loadtest: cannot start worker thread %d", w);
			break;
		}
		started++;
	}
	for (int w = 0; w < started; w++)
		pthread_join(th[w], NULL);
	for (int w = 0; w < started && rc == 0; w++)
		if (wk->runs[w].rc < 0) {
			if (e)
				*e = wk->runs[w].err;
			rc = -1;
		}
	return rc;
}

/* The wake-up error figures: the workers' histograms merged into the first. */
static void collect_wakeup(struct workers *wk, struct loadgen_result *res)
{
	struct run *r0 = &wk->runs[0];
	for (int w = 1; w < wk->nt; w++) {
		if (r0->wake_ok && wk->runs[w].wake_ok)
			hist_add(&r0->wake, &wk->runs[w].wake);
		hist_release(&wk->runs[w].wake);
	}
	if (r0->wake_ok && hist_count(&r0->wake)) {
		res->wakeup_count = hist_count(&r0->wake);
		res->wakeup_p50_ns = hist_percentile(&r0->wake, 50);
		res->wakeup_p99_ns = hist_percentile(&r0->wake, 99);
		res->wakeup_max_ns = r0->wake.max;
	}
	hist_release(&r0->wake);
}

/* Collect: free each worker's engine and slots, merge their records and counters
 * into res, free everything. Returns -1 when rc was, or records ran out of memory. */
static int workers_collect(struct workers *wk, struct loadgen_result *res, int rc, struct err *e)
{
	int oom = 0;
	collect_wakeup(wk, res);
	for (int w = 0; w < wk->nt; w++) {
		struct run *r = &wk->runs[w];
		if (r->oom && !oom) {
			oom = 1;
			if (e && rc == 0)
				*e = r->oom_err;
		}
		hist_release(&r->live);
		if (r->en) {
			struct engine_stats es;
			engine_get_stats(r->en, &es);
			res->sent_native += es.native;
		}
		if (r->async)
			r->t->async_close(r->async);
		engine_free(r->en);
		free(r->slots);
	}
	if (wk->nt > 1) {
		size_t total = 0;
		for (int w = 0; w < wk->nt; w++)
			total += wk->parts[w].records.n;
		if (rc == 0 && !oom && records_reserve(&res->records, total, e) < 0)
			rc = -1;
		for (int w = 0; w < wk->nt; w++) {
			if (rc == 0 && !oom) {
				memcpy(res->records.v + res->records.n, wk->parts[w].records.v,
				       wk->parts[w].records.n * sizeof(struct record));
				res->records.n += wk->parts[w].records.n;
			}
			merge_result(res, &wk->parts[w]);
			records_release(&wk->parts[w].records);
		}
		free(wk->parts);
	}
	free(wk->runs);
	hist_release(&wk->sh.live);
	pthread_mutex_destroy(&wk->sh.lock);
	return rc < 0 || oom ? -1 : 0;
}

/* Finish: the saturation verdict, the transport used, an interruption. */
static int finish_run(struct loadgen_result *res, const struct loadgen_target *t,
		      const struct loadgen_opts *oo, struct err *e)
{
	int inproc = !t->build && !t->async_open;
	judge_saturation(res, oo->max_in_flight, inproc);
	snprintf(res->transport, sizeof(res->transport), "%s",
		 t->async_open ? (t->async_transport ? t->async_transport : "async")
		 : inproc ? "in-process"
		 : res->sent_native == 0 ? "libcurl"
		 : res->sent_native >= res->sent ? "native" : "native+libcurl");
	if (res->recorded < res->scheduled) {
		res->interrupted = 1;
		return err_set(e, ERR_INTERRUPTED,
			       "loadtest interrupted after %llu of %llu requests",
			       (unsigned long long)res->recorded, (unsigned long long)res->scheduled);
	}
	return 0;
}

int loadgen_run(const struct sched *s, const struct loadgen_target *t,
		const struct loadgen_opts *o, struct loadgen_result *res, struct err *e)
{
	memset(res, 0, sizeof(*res));
	records_init(&res->records);
	res->scheduled = sched_count(s);
	if (!t || (!t->build && !t->exec && !(t->async_open && t->async_submit && t->async_close)))
		return err_set(e, ERR_INTERNAL, "loadtest: the target gives neither build, async nor exec");
	struct loadgen_opts oo;
	opts_with_defaults(o, !t->build && !t->async_open, &oo);
	struct workers wk;
	workers_new(&wk, t, &oo, res);
	int rc = workers_prepare(&wk, s, t, &oo, res, e);
	if (rc == 0)
		rc = workers_execute(&wk, t, e);
	if (workers_collect(&wk, res, rc, e) < 0)
		return -1;
	return finish_run(res, t, &oo, e);
}

void loadgen_opts_from_spec(const struct spec_loadtest *lt, struct loadgen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_in_flight = lt->max_in_flight > 1000000 ? 1000000 : (int)lt->max_in_flight;
	o->max_connections = lt->connections > 10000 ? 10000 : (int)lt->connections;
	o->late_ns = lt->lateness_bound_ns;
}

void loadgen_result_release(struct loadgen_result *res)
{
	if (!res)
		return;
	records_release(&res->records);
}
