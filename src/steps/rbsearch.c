/*
 * rbsearch.c — one search phase of a runbook: open-loop searches at a fixed
 * rate, whatever the writes running beside it are doing.
 *
 * The schedule is net/sched.c's (constant rate, every operation a recall by
 * vector, query i % queries), sent by net/loadgen.c, so latency runs from
 * the intended time and late sends and drops are counted, as in the load
 * test. HTTP drivers build requests per in-flight slot; the embedded driver
 * runs them in-process. What each search returned is kept as keys (set <<
 * RB_SET_SHIFT | row) for the ground truth of rbresult.c.
 *
 * Output: artifact "runbook_search" v1 {records (records.h, index order),
 * hits (k u64 keys per request, RB_NO_KEY padded, by request index)} with
 * meta phase, k, queries, t0_unix (the unix time of the schedule's t0:
 * send times are t0_unix + record.sent), journaled under RB_SEARCHES so a
 * resumed run keeps a finished phase.
 */
#include "runbook_int.h"
#include "engrave/err.h"
#include "engrave/loadgen.h"
#include "engrave/log.h"
#include "engrave/records.h"
#include "engrave/sched.h"
#include "engrave/store.h"
#include "engrave/target.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB_NO_THRESHOLD -3.0e38f /* keep every hit: the ground truth has no threshold */

struct rbs {
	struct rb *R;
	const struct spec_phase *ph;
	uint32_t k;
	uint64_t n_queries;
	uint64_t n_ops;
	uint64_t *hits;          /* n_ops * k keys */
	struct target_req *rq;   /* per slot (HTTP) */
	unsigned n_slots;
};

static const float *query_of(const struct rbs *S, uint64_t arg)
{
	const struct vecs *q = &S->R->queries;
	return q->v + (arg % S->n_queries % q->rows) * q->dim;
}

static void keep(struct rbs *S, const struct sched_op *op, const struct target_hits *h, struct record *r)
{
	const char *ids[64];
	size_t n = h->n < 64 ? h->n : 64;
	for (size_t i = 0; i < n; i++)
		ids[i] = h->v[i].id;
	records_ids_digest(ids, n, r->ids);
	r->n_ids = (uint32_t)h->n;
	for (size_t i = 0; op->index < S->n_ops && i < S->k && i < h->n; i++)
		S->hits[op->index * S->k + i] = rb_id_key(S->R, h->v[i].id);
}

static int rbs_build(void *ctx, unsigned slot, const struct sched_op *op, struct http_request *rq, struct err *e)
{
	struct rbs *S = ctx;
	target_req_release(&S->rq[slot]);
	target_req_init(&S->rq[slot]);
	if (target_build_recall(S->R->t, query_of(S, op->arg), (int)S->k, RB_NO_THRESHOLD, &S->rq[slot], e))
		return -1;
	*rq = S->rq[slot].http;
	return 0;
}

static void rbs_response(void *ctx, unsigned slot, const struct sched_op *op, const struct http_response *rs,
			 struct record *r)
{
	struct rbs *S = ctx;
	if (r->err != RECORD_ERR_NONE)
		return;
	struct target_hits h;
	target_hits_init(&h);
	struct err pe = ERR_INIT;
	if (target_parse_recall(S->R->t, &S->rq[slot], rs, &h, &pe))
		r->err = RECORD_ERR_PARSE;
	else
		keep(S, op, &h, r);
	target_hits_release(&h);
}

static unsigned rbs_exec(void *ctx, unsigned slot, const struct sched_op *op, struct record *r)
{
	(void)slot;
	struct rbs *S = ctx;
	struct target_hits h;
	target_hits_init(&h);
	struct err e = ERR_INIT;
	int bad = target_exec_recall(S->R->t, query_of(S, op->arg), (int)S->k, RB_NO_THRESHOLD, &h, &e);
	if (!bad)
		keep(S, op, &h, r);
	target_hits_release(&h);
	return bad ? RECORD_STATUS_ERROR : 200;
}

/* The async path (pgvector): the driver's own connections in the engine's loop. */
struct rbs_async {
	struct rbs *S;
	struct target_async *ta;
};

static void *rbs_async_open(void *ctx, struct engine *en, unsigned worker, int max_in_flight, int connections,
			    struct err *e)
{
	(void)worker;
	struct rbs *S = ctx;
	struct rbs_async *ra = xcalloc(1, sizeof(*ra));
	ra->S = S;
	if (target_async_open(S->R->t, en, max_in_flight, connections, &ra->ta, e)) {
		free(ra);
		return NULL;
	}
	return ra;
}

static int rbs_async_submit(void *conn, unsigned slot, const struct sched_op *op, engine_done_fn done, void *user,
			    struct err *e)
{
	(void)slot;
	struct rbs_async *ra = conn;
	return target_async_recall(ra->ta, query_of(ra->S, op->arg), (int)ra->S->k, RB_NO_THRESHOLD, done, user, e);
}

static void rbs_async_close(void *conn)
{
	struct rbs_async *ra = conn;
	target_async_close(ra->ta);
	free(ra);
}

/* The phase's records and hits as its artifact, journaled. */
static int put_search(struct rbs *S, size_t p, struct loadgen_result *res, struct err *e)
{
	struct rb *R = S->R;
	records_sort_by_index(&res->records);
	uint8_t *enc = xalloc_try_array(res->records.n ? res->records.n : 1, RECORDS_SIZE, "the search records", e);
	if (!enc)
		return -1;
	records_encode(res->records.v, res->records.n, enc);
	struct digest rd, hd, out;
	struct artifact a;
	artifact_init(&a, "runbook_search", 1);
	int rc = obj_put(R->c->store, enc, res->records.n * RECORDS_SIZE, &rd, e) ||
		 obj_put(R->c->store, S->hits, S->n_ops * S->k * 8, &hd, e) ||
		 artifact_add_part(&a, "records", &rd, res->records.n * RECORDS_SIZE, e) ||
		 artifact_add_part(&a, "hits", &hd, S->n_ops * S->k * 8, e) ||
		 artifact_set_int(&a, "phase", (int64_t)p, e) || artifact_set_int(&a, "k", S->k, e) ||
		 artifact_set_int(&a, "queries", (int64_t)S->n_queries, e) ||
		 artifact_set_int(&a, "t0_unix", res->t0_unix, e) ||
		 artifact_set_int(&a, "scheduled", (int64_t)res->scheduled, e) ||
		 artifact_set_int(&a, "dropped", (int64_t)res->dropped, e) ||
		 artifact_set_int(&a, "late", (int64_t)res->late, e) || artifact_put(R->c->store, &a, &out, e);
	artifact_release(&a);
	free(enc);
	uint8_t key[2] = { (uint8_t)(p >> 8), (uint8_t)p };
	if (!rc)
		rc = rb_journal_put(R, RB_SEARCHES, key, 2, out.b, DIGEST_LEN, e);
	if (!rc) {
		R->search[p] = out;
		R->search_done[p] = 1;
	}
	return rc;
}

int rb_search_phase(struct rb *R, size_t p, struct err *e)
{
	const struct spec_phase *ph = &R->book->phases[p];
	struct rbs S = { .R = R, .ph = ph, .k = (uint32_t)ph->k };
	if (!R->have_queries)
		return err_set(e, ERR_MISSING, "runbook: phase %zu searches, and the run has no queries", p);
	S.n_queries = ph->queries ? ph->queries : R->queries.rows;
	struct sched_params sp = { .pattern = SCHED_CONSTANT, .rate = ph->rate, .duration_ns = ph->duration_ns,
				   .seed = R->c->spec->seed + p, .n_queries = S.n_queries };
	sp.weight[OP_RECALL] = 1;
	struct sched sc;
	if (sched_init(&sc, &sp, e))
		return err_prefix(e, "runbook: phase %zu", p);
	S.n_ops = sched_count(&sc);
	if (!(S.hits = xalloc_try_array(xalloc_mul((size_t)S.n_ops, S.k), 8, "the search hits", e)))
		return -1;
	memset(S.hits, 0xff, S.n_ops * S.k * 8);
	struct loadgen_opts lo = { .max_in_flight = (int)R->book->max_in_flight, .live = 1, .label = "runbook",
				   .stop = steps_stop_flag() };
	struct loadgen_target tg = { .ctx = &S };
	if (target_has_http(R->t)) {
		tg.build = rbs_build;
		tg.response = rbs_response;
		S.n_slots = (unsigned)R->book->max_in_flight;
		S.rq = xcalloc(S.n_slots, sizeof(*S.rq));
		for (unsigned i = 0; i < S.n_slots; i++)
			target_req_init(&S.rq[i]);
	} else if (target_has_async(R->t)) {
		tg.async_open = rbs_async_open;
		tg.async_submit = rbs_async_submit;
		tg.async_close = rbs_async_close;
		tg.async_transport = target_driver(R->t);
		tg.response = rbs_response;
		S.n_slots = (unsigned)R->book->max_in_flight; /* rbs_response reads rq[slot] */
		S.rq = xcalloc(S.n_slots, sizeof(*S.rq));
		for (unsigned i = 0; i < S.n_slots; i++)
			target_req_init(&S.rq[i]);
	} else {
		tg.exec = rbs_exec;
		if (lo.max_in_flight > LOADGEN_MAX_THREADS)
			lo.max_in_flight = LOADGEN_MAX_THREADS;
	}
	struct loadgen_result res;
	memset(&res, 0, sizeof(res));
	int rc = loadgen_run(&sc, &tg, &lo, &res, e);
	if (!rc && res.saturated)
		log_warn("runbook: phase %zu: the client may have limited the searches: %s", p, res.saturation);
	if (!rc)
		rc = put_search(&S, p, &res, e);
	loadgen_result_release(&res);
	for (unsigned i = 0; i < S.n_slots; i++)
		target_req_release(&S.rq[i]);
	free(S.rq);
	free(S.hits);
	return rc;
}
