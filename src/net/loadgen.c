/*
 * loadgen.c — the open-loop executor (contract in loadgen.h).
 *
 * One loop on the caller's thread, in the style of wrk2's event loop:
 *
 *   next = sched_next_due(i)           <- the only place a due time is made
 *   wait in engine_poll() until t0 + next.due_ns (or a completion, or the
 *     next live tick); completions run their callbacks meanwhile
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
 * The in-process path (exec) runs the same loop with one synchronous
 * request in flight, sleeping with clock_sleep_until() until 100 us before
 * each due time and spinning on the clock for the rest (timer slack 1 us):
 * in-process operations take microseconds, so a wake-up that is tens of us
 * late would otherwise dominate the latency it measures.
 * (One thread on purpose: the embedded index takes one writer at a time,
 * and callers may keep a single set of scratch buffers.)
 *
 * Waiting never busy-spins unless opts.spin_ns asks for it: then, when the
 * next due time is nearer than spin_ns, engine_poll() is called without a
 * timeout in a loop, saving the thread's wake-up latency (tens of us in a
 * VM) at the price of a core: for benchmarks against hot-looping tools.
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
#include "engrave/spec.h"
#include "engrave/xalloc.h"

#define DEF_MAX_IN_FLIGHT 256
#define DEF_LATE_NS NS_PER_MS
#define DEF_DROP_AFTER_NS (10 * NS_PER_S)
#define DEF_TIMEOUT_NS (30 * NS_PER_S)
#define FREE_LATE_NS NS_PER_MS     /* client-side lateness threshold for saturation */
#define RESERVE_MAX_BYTES (1ULL << 30)
#define EXEC_SPIN_NS (100 * NS_PER_US) /* in-process path: spin the last 100 us */

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
	struct slot *next_free;
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
	struct slot *slots;
	struct slot *free_slots;
	int in_flight;
	mono_ns t0;
	struct hist live;          /* latency of the last second */
	int live_ok;
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

static void finish_record(struct run *r, struct record *rec)
{
	struct loadgen_result *res = r->res;
	if (rec->intended < r->s->p.warmup_ns)
		rec->flags |= RECORD_F_WARMUP;
	if (rec->status != RECORD_STATUS_DROPPED) {
		uint64_t late = record_lateness_ns(rec);
		if (late > r->o.late_ns) {
			rec->flags |= RECORD_F_LATE;
			res->late++;
		}
		if (late > res->late_max_ns)
			res->late_max_ns = late;
		res->completed++;
		r->tick_completed++;
		if (r->live_ok)
			hist_record(&r->live, record_latency_ns(rec));
		if (rec->done > res->elapsed_ns)
			res->elapsed_ns = rec->done;
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
			  enum record_err cls, const char *why)
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
	finish_record(r, &rec);
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
		if (rs->status == 0)
			note_error(r, rec, "%s %s: %s", http_method_of(&sl->rq), sl->rq.url, rs->error);
		else
			note_error(r, rec, "%s %s: %ld: %.120s", http_method_of(&sl->rq), sl->rq.url,
				   rs->status, rs->body.data);
	}
	finish_record(r, rec);
	r->in_flight--;
	sl->next_free = r->free_slots;
	r->free_slots = sl;
}

/* Try to send `op` now. 1 sent (or failed and recorded), 0 the cap is full. */
static int try_send(struct run *r, const struct sched_op *op, struct err *e)
{
	if (!r->free_slots)
		return 0;
	struct slot *sl = r->free_slots;
	struct err be = ERR_INIT;
	sl->op = *op;
	memset(&sl->rec, 0, sizeof(sl->rec));
	sl->rec.index = op->index;
	sl->rec.op = (uint8_t)op->kind;
	sl->rec.intended = op->due_ns;
	memset(&sl->rq, 0, sizeof(sl->rq));
	if (r->t->build(r->t->ctx, sl->id, op, &sl->rq, &be) < 0) {
		record_unsent(r, op, clock_mono_now(), RECORD_STATUS_ERROR, RECORD_ERR_CLIENT,
			      be.msg[0] ? be.msg : "the driver could not build the request");
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
		record_unsent(r, op, clock_mono_now(), RECORD_STATUS_TRANSPORT, RECORD_ERR_CLIENT, be.msg);
		return 1;
	}
	(void)e;
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

static int run_http(struct run *r, struct err *e)
{
	struct engine_opts eo = { 0 };
	eo.max_in_flight = r->cap;
	eo.native = r->o.transport != LOADGEN_CURL;
	eo.max_connections = r->o.max_connections ? r->o.max_connections / (int)r->stride : r->cap;
	if (eo.max_connections < 1)
		eo.max_connections = 1;
	if (engine_new(&eo, &r->en, e) < 0)
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
	uint64_t n = sched_count(r->s), i = r->w;
	struct sched_op op;
	if (i < n)
		sched_next_due(r->s, i, &op);
	int waited_cap = 0; /* the current op already counted a cap wait */
	int backlog = 0;    /* earlier requests waited at the cap: lateness is inherited */
	r->next_tick = r->t0 + NS_PER_S;
	while (i < n && !stopped(r)) {
		mono_ns now = clock_mono_now();
		live_tick(r, now);
		mono_ns due = r->t0 + op.due_ns;
		if (now < due) {
			mono_ns until = due < r->next_tick ? due : r->next_tick;
			/* spin: poll without sleeping when the next event is near */
			if (r->o.spin_ns && until - now <= r->o.spin_ns)
				until = 0;
			if (engine_poll(r->en, until, e) < 0)
				return err_prefix(e, "loadtest");
			continue;
		}
		if (try_send(r, &op, e)) {
			if (now - due <= FREE_LATE_NS)
				backlog = 0;
			else if (waited_cap || backlog)
				r->res->cap_waits++;
			else
				r->res->late_1ms_free++; /* the cap had room: the client was slow */
		} else {
			backlog = 1;
			waited_cap = 1;
			if (now - due > r->o.drop_after_ns) {
				r->res->cap_waits++;
				record_unsent(r, &op, now, RECORD_STATUS_DROPPED, RECORD_ERR_DROPPED,
					      "not sent within drop_after: max_in_flight reached");
			} else {
				mono_ns until = due + r->o.drop_after_ns + 1;
				if (r->next_tick < until)
					until = r->next_tick;
				if (engine_poll(r->en, until, e) < 0)
					return err_prefix(e, "loadtest");
				continue;
			}
		}
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

/* ---- in-process path -------------------------------------------------------- */

static int run_exec(struct run *r, struct err *e)
{
	(void)e;
	uint64_t n = sched_count(r->s);
	struct sched_op op;
	r->next_tick = r->t0 + NS_PER_S;
	r->res->max_in_flight_seen = 1;
	mono_ns last_done = 0;
	uint64_t spin = r->o.spin_ns > EXEC_SPIN_NS ? r->o.spin_ns : EXEC_SPIN_NS;
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* 1 us, as the engine does */
	for (uint64_t i = 0; i < n && !stopped(r); i++) {
		sched_next_due(r->s, i, &op);
		mono_ns due = r->t0 + op.due_ns;
		mono_ns now = clock_mono_now();
		while (now < due) {
			live_tick(r, now);
			mono_ns until = due < r->next_tick ? due : r->next_tick;
			/* sleep to EXEC_SPIN_NS before the due time, then spin: a
			 * sleeping thread wakes tens of us late in a VM, and that
			 * would show as latency of the target */
			if (until - now > spin)
				clock_sleep_until(until - spin);
			now = clock_mono_now();
		}
		live_tick(r, now);
		if (now - due > FREE_LATE_NS) {
			/* busy with an earlier request that ended after this one was due:
			 * the cap of one held it back; otherwise the client was slow */
			if (last_done > due)
				r->res->cap_waits++;
			else
				r->res->late_1ms_free++;
		}
		if (now - due > r->o.drop_after_ns) {
			record_unsent(r, &op, now, RECORD_STATUS_DROPPED, RECORD_ERR_DROPPED,
				      "not executed within drop_after: the in-process executor was busy");
			continue;
		}
		struct record rec;
		memset(&rec, 0, sizeof(rec));
		rec.index = op.index;
		rec.op = (uint8_t)op.kind;
		rec.intended = op.due_ns;
		mono_ns sent = clock_mono_now();
		r->in_flight = 1;
		unsigned st = r->t->exec(r->t->ctx, &op, &rec);
		mono_ns done = clock_mono_now();
		last_done = done;
		r->in_flight = 0;
		r->res->sent++;
		rec.sent = since_t0(r, sent);
		rec.done = since_t0(r, done);
		rec.status = st > 0xffff ? 0xffff : (uint16_t)st;
		if (rec.err == RECORD_ERR_NONE)
			rec.err = (uint8_t)records_err_of_status(st);
		note_error(r, &rec, "request %llu (%s): status %u", (unsigned long long)op.index,
			   sched_op_name(op.kind), st);
		finish_record(r, &rec);
	}
	return 0;
}

/* ---- API ------------------------------------------------------------------- */

static void judge_saturation(struct loadgen_result *res, int max_in_flight, int in_process)
{
	char *out = res->saturation;
	size_t cap = sizeof(res->saturation), len = 0;
	if (res->sent && res->late_1ms_free * 100 > res->sent) {
		len += (size_t)snprintf(out + len, cap - len,
					"%.1f%% of sends were > 1 ms late with the in-flight cap not "
					"reached: the client could not keep up with the rate",
					100.0 * (double)res->late_1ms_free / (double)res->sent);
		res->saturated = 1;
	}
	if (res->cap_waits && len < cap && in_process) {
		len += (size_t)snprintf(out + len, cap - len,
					"%s%llu requests waited for the in-process executor (one request "
					"at a time): their latency includes queueing behind slower ones",
					len ? "; " : "", (unsigned long long)res->cap_waits);
		res->saturated = 1;
	} else if (res->cap_waits && len < cap) {
		len += (size_t)snprintf(out + len, cap - len,
					"%s%llu requests were held back by the in-flight cap (%d): "
					"their latency includes client queueing (the target was slower "
					"than the cap allows); raise max_in_flight to see the target alone",
					len ? "; " : "", (unsigned long long)res->cap_waits,
					max_in_flight);
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
	dst->late_1ms_free += src->late_1ms_free;
	dst->cap_waits += src->cap_waits;
	dst->max_in_flight_seen += src->max_in_flight_seen;
	if (src->late_max_ns > dst->late_max_ns)
		dst->late_max_ns = src->late_max_ns;
	if (src->elapsed_ns > dst->elapsed_ns)
		dst->elapsed_ns = src->elapsed_ns;
	for (int k = 0; k < RECORD_ERR_COUNT; k++)
		if (!dst->first_error[k][0] && src->first_error[k][0])
			memcpy(dst->first_error[k], src->first_error[k], sizeof(dst->first_error[k]));
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

static void opts_with_defaults(const struct loadgen_opts *o, struct loadgen_opts *oo)
{
	memset(oo, 0, sizeof(*oo));
	if (o)
		*oo = *o;
	if (oo->max_in_flight <= 0)
		oo->max_in_flight = DEF_MAX_IN_FLIGHT;
	if (!oo->late_ns)
		oo->late_ns = DEF_LATE_NS;
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
	int nt = t->build && oo->threads > 1 ? oo->threads : 1;
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
	/* all workers share t0: a little in the future so they start together */
	mono_ns t0 = clock_mono_now() + (nt > 1 ? NS_PER_MS : 0);
	res->t0 = t0;
	res->t0_unix = clock_unix_now() + (unix_ns)(nt > 1 ? NS_PER_MS : 0);
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
		r->t0 = t0;
		if (nt > 1)
			records_init(&wk->parts[w].records);
		err_clear(&r->oom_err);
		uint64_t mine = res->scheduled / (uint64_t)nt + 1;
		if (!oo->sink && mine * sizeof(struct record) <= RESERVE_MAX_BYTES &&
		    records_reserve(&r->res->records, mine, e) < 0)
			rc = -1;
		r->live_ok = hist_init(&r->live, NULL) == 0;
	}
	return rc;
}

/* Execute: in-process, on the calling thread, or one thread per worker. */
static int workers_execute(struct workers *wk, const struct loadgen_target *t, struct err *e)
{
	if (!t->build)
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

/* Collect: free each worker's engine and slots, merge their records and counters
 * into res, free everything. Returns -1 when rc was, or records ran out of memory. */
static int workers_collect(struct workers *wk, struct loadgen_result *res, int rc, struct err *e)
{
	int oom = 0;
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
	judge_saturation(res, t->build ? oo->max_in_flight : 1, !t->build);
	snprintf(res->transport, sizeof(res->transport), "%s",
		 !t->build ? "in-process"
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
	if (!t || (!t->build && !t->exec))
		return err_set(e, ERR_INTERNAL, "loadtest: the target gives neither build nor exec");
	struct loadgen_opts oo;
	opts_with_defaults(o, &oo);
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
	o->late_ns = lt->lateness_bound_ns;
}

void loadgen_result_release(struct loadgen_result *res)
{
	if (!res)
		return;
	records_release(&res->records);
}
