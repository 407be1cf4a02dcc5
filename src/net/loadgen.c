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
 * both read that copy. Requests are sent strictly in index order, so a
 * request never overtakes an earlier one, and a backlog at the cap is
 * drained as fast as the target answers (they are late, not slow: their
 * service time stays small while their latency grows).
 *
 * Slots: max_in_flight `struct slot`s on a free list; a slot holds the op,
 * its partly filled record and the request (for error messages) while the
 * engine owns the transfer. Completion callbacks classify the outcome
 * (status, curl code), let the driver refine it, append the record and
 * free the slot: no allocation per request once the records array has
 * grown (it is reserved for the whole schedule up front when that is
 * under 1 GiB).
 *
 * The in-process path (exec) runs the same loop with one synchronous
 * request in flight, sleeping with clock_sleep_until() until each due time.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/engine.h"
#include "engrave/err.h"
#include "engrave/hist.h"
#include "engrave/log.h"
#include "engrave/spec.h"

#define DEF_MAX_IN_FLIGHT 256
#define DEF_LATE_NS NS_PER_MS
#define DEF_DROP_AFTER_NS (10 * NS_PER_S)
#define DEF_TIMEOUT_NS (30 * NS_PER_S)
#define FREE_LATE_NS NS_PER_MS     /* client-side lateness threshold for saturation */
#define RESERVE_MAX_BYTES (1ULL << 30)

struct run;

struct slot {
	struct run *run;
	unsigned id;
	struct sched_op op;
	struct record rec;
	struct http_request rq;
	struct slot *next_free;
};

struct run {
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
		uint64_t late = rec->sent > rec->intended ? rec->sent - rec->intended : 0;
		if (late > r->o.late_ns) {
			rec->flags |= RECORD_F_LATE;
			res->late++;
		}
		if (late > res->late_max_ns)
			res->late_max_ns = late;
		res->completed++;
		r->tick_completed++;
		if (r->live_ok)
			hist_record(&r->live, rec->done - rec->intended);
		if (rec->done > res->elapsed_ns)
			res->elapsed_ns = rec->done;
	}
	if (rec->err != RECORD_ERR_NONE) {
		res->errors++;
		r->tick_errors++;
	}
	res->recorded++;
	if (r->o.sink)
		r->o.sink(r->o.sink_ctx, rec);
	else if (records_push(&res->records, rec, &r->oom_err) < 0)
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

static void live_tick(struct run *r, mono_ns now)
{
	if (now < r->next_tick)
		return;
	if (r->o.live) {
		char p50[32] = "-", p99[32] = "-";
		if (r->live_ok && hist_count(&r->live)) {
			clock_format_duration(hist_percentile(&r->live, 50), p50, sizeof(p50));
			clock_format_duration(hist_percentile(&r->live, 99), p99, sizeof(p99));
		}
		log_info("%s: %llu/s done, %d in flight, p50 %s p99 %s (last second), %llu errors, "
			 "%llu late, %llu dropped",
			 r->o.label, (unsigned long long)r->tick_completed, r->in_flight, p50, p99,
			 (unsigned long long)r->tick_errors, (unsigned long long)r->res->late,
			 (unsigned long long)r->res->dropped);
	}
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
	eo.max_in_flight = r->o.max_in_flight;
	eo.max_connections = r->o.max_connections ? r->o.max_connections : r->o.max_in_flight;
	if (engine_new(&eo, &r->en, e) < 0)
		return err_prefix(e, "loadtest");
	r->slots = calloc((size_t)r->o.max_in_flight, sizeof(*r->slots));
	if (!r->slots)
		return err_set(e, ERR_NOSPACE, "loadtest: out of memory for %d slots", r->o.max_in_flight);
	for (int k = r->o.max_in_flight - 1; k >= 0; k--) {
		r->slots[k].run = r;
		r->slots[k].id = (unsigned)k;
		r->slots[k].next_free = r->free_slots;
		r->free_slots = &r->slots[k];
	}
	uint64_t n = sched_count(r->s), i = 0;
	struct sched_op op;
	if (n)
		sched_next_due(r->s, 0, &op);
	int waited_cap = 0; /* the current op already counted a cap wait */
	int backlog = 0;    /* earlier requests waited at the cap: lateness is inherited */
	r->t0 = clock_mono_now();
	r->res->t0 = r->t0;
	r->res->t0_unix = clock_unix_now();
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
		i++;
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
	r->t0 = clock_mono_now();
	r->res->t0 = r->t0;
	r->res->t0_unix = clock_unix_now();
	r->next_tick = r->t0 + NS_PER_S;
	r->res->max_in_flight_seen = 1;
	mono_ns last_done = 0;
	for (uint64_t i = 0; i < n && !stopped(r); i++) {
		sched_next_due(r->s, i, &op);
		mono_ns due = r->t0 + op.due_ns;
		mono_ns now = clock_mono_now();
		while (now < due) {
			live_tick(r, now);
			clock_sleep_until(due < r->next_tick ? due : r->next_tick);
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

static void judge_saturation(struct run *r)
{
	struct loadgen_result *res = r->res;
	char *out = res->saturation;
	size_t cap = sizeof(res->saturation), len = 0;
	if (res->sent && res->late_1ms_free * 100 > res->sent) {
		len += (size_t)snprintf(out + len, cap - len,
					"%.1f%% of sends were > 1 ms late with the in-flight cap not "
					"reached: the client could not keep up with the rate",
					100.0 * (double)res->late_1ms_free / (double)res->sent);
		res->saturated = 1;
	}
	if (res->cap_waits && len < cap) {
		len += (size_t)snprintf(out + len, cap - len,
					"%s%llu requests were held back by the in-flight cap (%d): "
					"their latency includes client queueing (the target was slower "
					"than the cap allows); raise max_in_flight to see the target alone",
					len ? "; " : "", (unsigned long long)res->cap_waits,
					r->t->build ? r->o.max_in_flight : 1);
		res->saturated = 1;
	}
}

int loadgen_run(const struct sched *s, const struct loadgen_target *t,
		const struct loadgen_opts *o, struct loadgen_result *res, struct err *e)
{
	memset(res, 0, sizeof(*res));
	records_init(&res->records);
	res->scheduled = sched_count(s);
	if (!t || (!t->build && !t->exec))
		return err_set(e, ERR_INTERNAL, "loadtest: the target gives neither build nor exec");

	struct run r;
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.t = t;
	r.res = res;
	if (o)
		r.o = *o;
	if (r.o.max_in_flight <= 0)
		r.o.max_in_flight = DEF_MAX_IN_FLIGHT;
	if (!r.o.late_ns)
		r.o.late_ns = DEF_LATE_NS;
	if (!r.o.drop_after_ns)
		r.o.drop_after_ns = DEF_DROP_AFTER_NS;
	if (!r.o.timeout_ns)
		r.o.timeout_ns = DEF_TIMEOUT_NS;
	if (!r.o.label)
		r.o.label = "loadtest";
	err_clear(&r.oom_err);
	if (!r.o.sink && res->scheduled * sizeof(struct record) <= RESERVE_MAX_BYTES &&
	    records_reserve(&res->records, res->scheduled, e) < 0)
		return -1;
	r.live_ok = hist_init(&r.live, NULL) == 0;

	int rc = t->build ? run_http(&r, e) : run_exec(&r, e);

	hist_release(&r.live);
	engine_free(r.en);
	free(r.slots);
	if (rc < 0)
		return -1;
	if (r.oom) {
		if (e)
			*e = r.oom_err;
		return -1;
	}
	judge_saturation(&r);
	if (res->recorded < res->scheduled) {
		res->interrupted = 1;
		return err_set(e, ERR_INTERRUPTED,
			       "loadtest interrupted after %llu of %llu requests",
			       (unsigned long long)res->recorded, (unsigned long long)res->scheduled);
	}
	return 0;
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
