/*
 * pgvector_async.c — the pgvector driver's load-test connections: libpq's
 * asynchronous API in the engine's event loop (target.h, "the async hot
 * path").
 *
 * Each connection is non-blocking and in pipeline mode, and its socket is
 * an engine watch (engine_watch), so one thread keeps N connections busy
 * and the open-loop scheduler's timing holds: nothing blocks per request.
 * An operation is PQsendQueryPrepared (the recall or upsert statement that
 * pgc_prepare made for that connection, binary vector parameter) followed
 * by PQpipelineSync, so each one is its own pipeline segment: a failed
 * statement aborts nothing else. Operations go to the connection with the
 * fewest outstanding (PostgreSQL runs one connection's statements one
 * after another, so that is where the wait is shortest).
 *
 * Per connection a FIFO of requests, in the order the server answers:
 *
 *   RESULT  waiting for the statement's result: when it arrives the
 *           request is complete (done is read then; the callback runs with
 *           a response made from it: 200 + encoded hits, 201 for a store,
 *           the SQLSTATE mapped to a status with the server's message);
 *   END     the NULL that ends the statement's results;
 *   SYNC    the PGRES_PIPELINE_SYNC of its segment; then it leaves the FIFO.
 *
 * Faults: a connection that fails (PQconsumeInput or a send fails) fails
 * every request on it that has not completed, with status 0 and curl's
 * "receive failure" code (56), and is closed; a request older than
 * target.timeout + 1 s (the session's statement_timeout should have
 * answered first) fails with the timeout code (28) together with the rest
 * of its connection, which is closed too (closing is the only cancel that
 * does not block). Those failures are delivered from inside engine_poll
 * (a watch deadline of "now"), never inside a submit. A closed connection is
 * reopened, blocking, by the next submit that finds none open: a fault the
 * run's records show as the late sends it causes.
 *
 * Statement timeouts come back as SQLSTATE 57014 and are recorded as
 * timeouts; class 22/23 (the data) as 400, 53/57/08 (the server's state)
 * as 503, anything else as 500.
 */
#include "targets/pgvector_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "engrave/engine.h"
#include "engrave/log.h"
#include "engrave/secret.h"
#include "engrave/xalloc.h"

#define CODE_TIMEOUT 28   /* CURLE_OPERATION_TIMEDOUT */
#define CODE_RECV 56      /* CURLE_RECV_ERROR */

enum stage { ST_RESULT, ST_END, ST_SYNC };

struct areq {
	engine_done_fn fn;    /* NULL once completed */
	void *user;
	mono_ns sent;
	int store;
	float threshold;
	enum stage stage;
	struct areq *next;
};

struct pga;

struct aconn {
	struct pga *a;
	struct pgc pc;
	int watch;            /* engine watch id; -1 when closed */
	uint32_t events;
	struct areq *head, *tail;
	int outstanding;      /* requests in the FIFO (completed ones until their sync) */
	int in_flight;        /* of those, not yet completed */
	char broken[256];     /* why it failed; "" = healthy */
	struct buf params;
};

struct pga {
	struct target *t;
	struct engine *en;
	struct aconn *c;
	int n;
	struct areq *free;
	struct http_response rs; /* the response handed to callbacks, reused */
	uint64_t grace_ns;
};

static int on_event(void *user, uint32_t events);

/* ---- requests ------------------------------------------------------------------- */

static struct areq *req_new(struct pga *a)
{
	struct areq *q = a->free;
	if (q)
		a->free = q->next;
	else
		q = xcalloc(1, sizeof(*q));
	memset(q, 0, sizeof(*q));
	return q;
}

static void req_free(struct pga *a, struct areq *q)
{
	q->next = a->free;
	a->free = q;
}

/* Complete q through its callback with a->rs as filled by the caller. */
static int complete(struct aconn *c, struct areq *q, mono_ns done)
{
	engine_done_fn fn = q->fn;
	q->fn = NULL;
	c->in_flight--;
	fn(q->user, &c->a->rs, q->sent, done);
	return 1;
}

/* ---- connections ------------------------------------------------------------------ */

static void conn_deadline(struct aconn *c)
{
	struct areq *q = c->head;
	while (q && !q->fn)
		q = q->next;
	engine_watch_deadline(c->a->en, c->watch, q ? q->sent + c->a->t->timeout_ns + c->a->grace_ns : 0);
}

static void conn_close(struct aconn *c)
{
	if (c->watch >= 0)
		engine_unwatch(c->a->en, c->watch);
	c->watch = -1;
	pgc_close(&c->pc);
}

/* Fail every request of c not yet completed (status 0, `code`, `why`), drop
 * the FIFO, close c. Returns the completions. */
static int conn_fail(struct aconn *c, int code, const char *why)
{
	struct pga *a = c->a;
	mono_ns now = clock_mono_now();
	int n = 0;
	while (c->head) {
		struct areq *q = c->head;
		c->head = q->next;
		if (q->fn) {
			http_response_reset(&a->rs);
			a->rs.status = 0;
			a->rs.transport_error = code;
			snprintf(a->rs.error, sizeof(a->rs.error), "%s", why);
			n += complete(c, q, now);
		}
		req_free(a, q);
	}
	c->tail = NULL;
	c->outstanding = c->in_flight = 0;
	conn_close(c);
	return n;
}

/* Mark c failed; its requests fail from inside the next engine_poll. */
static void conn_break(struct aconn *c, const char *what)
{
	if (c->broken[0])
		return;
	const char *m = c->pc.c ? PQerrorMessage(c->pc.c) : "no connection";
	snprintf(c->broken, sizeof(c->broken), "pgvector %s: %s: %s", c->a->t->space, what, m && *m ? m : "lost");
	c->broken[strcspn(c->broken, "\n")] = '\0';
	secret_redact(c->broken, sizeof(c->broken));
	if (c->watch >= 0)
		engine_watch_deadline(c->a->en, c->watch, 1); /* already past */
}

/* Connect (blocking), prepare, then non-blocking + pipeline mode + watched. */
static int conn_open(struct pga *a, struct aconn *c, struct err *e)
{
	conn_close(c);
	c->broken[0] = '\0';
	c->events = EPOLLIN;
	if (pgc_open(a->t, &c->pc, 0, e) || pgc_prepare(a->t, &c->pc, e))
		goto fail;
	if (PQsetnonblocking(c->pc.c, 1) || !PQenterPipelineMode(c->pc.c)) {
		pgv_err(a->t, c->pc.c, NULL, "non-blocking pipeline mode", e);
		goto fail;
	}
	int id = engine_watch(a->en, PQsocket(c->pc.c), c->events, on_event, c, e);
	if (id < 0)
		goto fail;
	c->watch = id;
	return 0;
fail:
	pgc_close(&c->pc);
	return -1;
}

/* Write what libpq buffered; watch for writability while some is left. */
static int conn_flush(struct aconn *c)
{
	int rc = PQflush(c->pc.c);
	if (rc < 0) {
		conn_break(c, "sending");
		return -1;
	}
	uint32_t want = rc == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN;
	if (want != c->events) {
		struct err e = ERR_INIT;
		if (engine_watch_events(c->a->en, c->watch, want, &e) < 0) {
			conn_break(c, e.msg);
			return -1;
		}
		c->events = want;
	}
	return 0;
}

/* ---- answers ------------------------------------------------------------------------ */

/* a->rs from a statement's result for q. */
static void response_of(struct pga *a, struct areq *q, PGresult *r)
{
	struct http_response *rs = &a->rs;
	http_response_reset(rs);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		rs->status = q->store ? 201 : 200;
		if (q->store)
			return;
		int apply = strcmp(a->t->metric, "l2") != 0;
		for (int i = 0; i < PQntuples(r); i++) {
			if (PQgetlength(r, i, 1) != 8) {
				buf_reset(&rs->body);
				buf_append_str(&rs->body, "\xff", NULL); /* malformed: the parser says so */
				return;
			}
			float score = pgcodec_score(a->t->metric, pgcodec_f64_decode(PQgetvalue(r, i, 1)));
			if (apply && score < q->threshold)
				continue;
			if (pgcodec_hit_encode(&rs->body, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0), score, NULL)) {
				rs->status = 0;
				rs->transport_error = CODE_RECV;
				snprintf(rs->error, sizeof(rs->error), "out of memory for the answer");
				return;
			}
		}
		return;
	}
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorMessage(r);
	char m[256];
	snprintf(m, sizeof(m), "%s%s%s", state ? state : "", state ? ": " : "", msg && *msg ? msg : "failed");
	m[strcspn(m, "\n")] = '\0';
	if (state && !strcmp(state, "57014")) {
		rs->status = 0;
		rs->transport_error = CODE_TIMEOUT;
		snprintf(rs->error, sizeof(rs->error), "statement timeout: %.200s", m);
		return;
	}
	if (state && (state[0] == '2' && (state[1] == '2' || state[1] == '3')))
		rs->status = 400;
	else if (state && ((state[0] == '5' && (state[1] == '3' || state[1] == '7')) || !strncmp(state, "08", 2)))
		rs->status = 503;
	else
		rs->status = 500;
	buf_append_str(&rs->body, m, NULL);
}

/* Take every result libpq has ready; returns the completions. */
static int drain_results(struct aconn *c)
{
	struct pga *a = c->a;
	int n = 0;
	while (c->head && !PQisBusy(c->pc.c)) {
		struct areq *q = c->head;
		PGresult *r = PQgetResult(c->pc.c);
		if (q->stage == ST_RESULT) {
			if (!r)
				break; /* nothing yet */
			ExecStatusType st = PQresultStatus(r);
			if (st == PGRES_PIPELINE_SYNC) { /* a segment without a result: cannot happen */
				PQclear(r);
				conn_break(c, "an answer out of order");
				break;
			}
			response_of(a, q, r);
			PQclear(r);
			n += complete(c, q, clock_mono_now());
			q->stage = ST_END;
		} else if (q->stage == ST_END) {
			if (r) { /* a second result of one statement: ignore it */
				PQclear(r);
				continue;
			}
			q->stage = ST_SYNC;
		} else {
			if (!r)
				break;
			ExecStatusType st = PQresultStatus(r);
			PQclear(r);
			if (st != PGRES_PIPELINE_SYNC)
				continue;
			c->head = q->next;
			if (!c->head)
				c->tail = NULL;
			c->outstanding--;
			req_free(a, q);
		}
	}
	return n;
}

static int on_event(void *user, uint32_t events)
{
	struct aconn *c = user;
	if (events == 0) { /* the deadline: broken, or its oldest request timed out */
		if (c->broken[0])
			return conn_fail(c, CODE_RECV, c->broken);
		char why[160];
		snprintf(why, sizeof(why), "pgvector %s: no answer within target.timeout (%.1f s) + 1 s",
			 c->a->t->space, (double)c->a->t->timeout_ns / 1e9);
		return conn_fail(c, CODE_TIMEOUT, why);
	}
	if (events & EPOLLOUT && conn_flush(c) < 0)
		return 0;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR) && !PQconsumeInput(c->pc.c)) {
		conn_break(c, "receiving");
		return 0;
	}
	int n = drain_results(c);
	if (!c->broken[0])
		conn_deadline(c);
	return n;
}

/* ---- the hooks ------------------------------------------------------------------------- */

void *pgva_open(struct target *t, struct engine *en, int connections, struct err *e)
{
	if (pgv_schema_ready(t, e))
		return NULL;
	if (connections < 1)
		connections = 1;
	struct pga *a = xcalloc(1, sizeof(*a));
	a->t = t;
	a->en = en;
	a->grace_ns = NS_PER_S;
	http_response_init(&a->rs);
	a->c = xcalloc((size_t)connections, sizeof(*a->c));
	for (int i = 0; i < connections; i++) {
		struct aconn *c = &a->c[i];
		c->a = a;
		c->watch = -1;
		buf_init(&c->params, 0);
		struct err ce = ERR_INIT;
		if (conn_open(a, c, &ce) == 0) {
			a->n = i + 1;
			continue;
		}
		buf_release(&c->params);
		if (i == 0) {
			if (e)
				*e = ce;
			pgva_close(a);
			return NULL;
		}
		log_warn("pgvector: the load test uses %d connections, not %d: %s", i, connections, ce.msg);
		break;
	}
	log_debug("pgvector: %d asynchronous connections in pipeline mode", a->n);
	return a;
}

/* The open connection with the fewest outstanding; reopens one when none is. */
static struct aconn *pick(struct pga *a, struct err *e)
{
	struct aconn *best = NULL;
	for (int i = 0; i < a->n; i++) {
		struct aconn *c = &a->c[i];
		if (c->watch >= 0 && !c->broken[0] && (!best || c->outstanding < best->outstanding))
			best = c;
	}
	if (best)
		return best;
	for (int i = 0; i < a->n; i++) {
		struct aconn *c = &a->c[i];
		if (c->watch < 0) /* closed, its requests already failed */
			return conn_open(a, c, e) == 0 ? c : NULL;
	}
	err_set(e, ERR_NET, "pgvector %s: every connection is failing: %s", a->t->space, a->c[0].broken);
	return NULL;
}

/* Queue q on c after a send: flush, note the time, arm the deadline. */
static int sent(struct aconn *c, struct areq *q, engine_done_fn fn, void *user, struct err *e)
{
	if (!PQpipelineSync(c->pc.c)) {
		conn_break(c, "sending");
		req_free(c->a, q);
		return err_set(e, ERR_NET, "%s", c->broken);
	}
	q->fn = fn;
	q->user = user;
	if (c->tail)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	c->outstanding++;
	c->in_flight++;
	conn_flush(c); /* a failure completes q from the next poll */
	q->sent = clock_mono_now();
	if (!c->broken[0] && c->in_flight == 1)
		conn_deadline(c);
	return 0;
}

/* Send statement engrave_<stmt>_<tag> with binary results. */
static int send_prepared(struct aconn *c, const char *stmt, int n, const char *const *vals, const int *lens,
			 const int *fmts, struct err *e)
{
	char name[48];
	snprintf(name, sizeof(name), "engrave_%s_%s", stmt, c->pc.tag);
	if (PQsendQueryPrepared(c->pc.c, name, n, vals, lens, fmts, 1))
		return 0;
	conn_break(c, stmt);
	return err_set(e, ERR_NET, "%s", c->broken);
}

int pgva_recall(void *h, const float *vec, int k, float threshold, engine_done_fn fn, void *user, struct err *e)
{
	struct pga *a = h;
	struct aconn *c = pick(a, e);
	if (!c)
		return -1;
	const char *vals[2];
	int lens[2], fmts[2] = { 1, 1 };
	if (pgv_recall_params(a->t, vec, k, &c->params, vals, lens, e))
		return -1;
	if (send_prepared(c, "recall", 2, vals, lens, fmts, e))
		return -1;
	struct areq *q = req_new(a);
	q->threshold = threshold;
	return sent(c, q, fn, user, e);
}

int pgva_store(void *h, const struct target_record *rec, engine_done_fn fn, void *user, struct err *e)
{
	struct pga *a = h;
	struct aconn *c = pick(a, e);
	if (!c)
		return -1;
	buf_reset(&c->params);
	if (pgcodec_vector(&c->params, rec->vec, a->t->dim, e))
		return -1;
	const char *vals[3] = { rec->id, c->params.data, rec->content };
	int lens[3] = { 0, (int)c->params.len, 0 }, fmts[3] = { 0, 1, 0 };
	if (send_prepared(c, "upsert", 3, vals, lens, fmts, e))
		return -1;
	struct areq *q = req_new(a);
	q->store = 1;
	return sent(c, q, fn, user, e);
}

void pgva_close(void *h)
{
	struct pga *a = h;
	if (!a)
		return;
	for (int i = 0; i < a->n; i++) {
		struct aconn *c = &a->c[i];
		while (c->head) {
			struct areq *q = c->head;
			c->head = q->next;
			free(q);
		}
		conn_close(c);
		buf_release(&c->params);
	}
	while (a->free) {
		struct areq *q = a->free;
		a->free = q->next;
		free(q);
	}
	http_response_release(&a->rs);
	free(a->c);
	free(a);
}
