/*
 * loadtest.c — the loadtest step: an open-loop load against the target,
 * every request recorded, metrics computed exactly from the records.
 *
 * The schedule (net/sched.c) is a pure function of the spec: request i's
 * intended time, operation and argument. net/loadgen.c sends each request
 * at its due time under max_in_flight and records intended/sent/done times,
 * so latency runs from the intended time (coordinated omission corrected)
 * and service time from the actual send, with late sends and drops counted.
 * This step supplies the operations:
 *   store   a fresh synthetic vector j = op.arg around the centroids (its
 *           own RNG stream), id "load-<seed>-<j>", so it cannot collide with
 *           loaded data;
 *   recall  query vector op.arg of the queries step, k and threshold from
 *           loadtest.recall;
 *   search  a text query: a word of the synthetic content vocabulary.
 * HTTP drivers build requests per in-flight slot; the embedded driver runs
 * the operation in-process through the same scheduler.
 *
 * Recall@k: every recall's returned ids are mapped to base rows (corpus
 * ids via a sorted id table, synthetic ids by offset) or store ordinals and
 * kept, so analysis can score them against the data the target held when
 * the query was sent.
 *
 * Repeats (loadtest.repeat = N): the whole schedule, warm-up included, runs
 * N times back to back, each from a fresh t0 once the previous repeat has
 * drained; the target keeps what earlier repeats stored (the same ids are
 * written again). Each repeat's records are moved onto the first repeat's
 * clock and tagged with their repeat, so times increase over the whole
 * array, and are written as soon as the repeat ends (memory holds one).
 * A killed run resumes by running the step, every repeat, again.
 *
 * Noise floor: a /proc snapshot (util/sysnoise.c) before the first
 * measured phase and one after the last (a sweep: around all its phases)
 * give load, steal, memory, CPU frequency and the CPU share of processes
 * other than engrave and the target's own server (found by its loopback
 * listening port), stored as noise.* meta and noise_top.
 *
 * Output: artifact "loadtest" v1 {records (64-byte records, repeat then
 * index order), hits (what each recall returned, as base rows / store
 * ordinals; keys tagged with the repeat), repeat_t0 (each repeat's start,
 * u64 LE ns after t0), errors (when a request failed: the first message of
 * each (op, status, error class) group, steps.h)} with the schedule digest, `repeats` and counters
 * summed over the repeats (duration_ns is one repeat's). The analysis
 * layer (analysis/runmetrics.c) turns it into the run's metrics: exact
 * percentiles and recall@k.
 * Arrays sized by the spec (requests x k hit ids, the in-flight slots) are
 * checked allocations: too large is ERR_NOSPACE, a step to resume, not an abort.
 */
#include "engrave/steps.h"
#include "artio.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/hist.h"
#include "engrave/loadgen.h"
#include "engrave/log.h"
#include "engrave/records.h"
#include "engrave/sched.h"
#include "engrave/store.h"
#include "engrave/synth.h"
#include "engrave/sysnoise.h"
#include "engrave/target.h"
#include "engrave/vec.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOAD_SEED_XOR 0x4c4f414453544f52ULL /* "LOADSTOR" */
#define NO_ID UINT64_MAX
#define STORE_FLAG (1ULL << 63)
#define SWEEP_MAX 16 /* phases per sweep (artifact parts) */
#define BETWEEN_HEALTH_TRIES 600 /* --between-phases: wait up to 10 min for the target */
#define BETWEEN_HEALTH_WAIT_NS NS_PER_S
#define NOISE_BUSY_PCT 10.0 /* other processes' CPU share that makes the summary say so */

struct lt_slot {
	struct target_req rq;
	float *vec;
	char id[64];
	char text[160];
	struct target_record rec;
};

struct lt {
	struct step_ctx *c;
	const struct sched *S;         /* the phase's schedule (a segment of it for a shard) */
	struct target *t;
	uint32_t dim;
	struct vecs queries;           /* recall cues */
	struct vecs cent;              /* for fresh store vectors */
	int have_cent;
	struct steps_loadvec lv;       /* fresh store vectors */
	struct synth_opts so;          /* search words */
	int k;
	float threshold;
	struct lt_slot *slots;
	unsigned n_slots;
	/* id -> global base row: corpus ids sorted, synthetic = offset + row */
	uint64_t *corpus_ids;           /* (id, base row) pairs sorted by id */
	uint64_t n_corpus;
	char corpus_prefix[32], syn_prefix[32];
	uint64_t syn_base, n_syn;
	int has_corpus, has_syn;
	char load_prefix[48];
	/* per request: returned ids (k each) for recall ops */
	uint64_t n_ops;
	uint64_t *hit_ids;             /* n_ops * k, NO_ID padded */
	uint8_t *is_recall;
	/* the machine's noise floor: a snapshot before the first measured phase,
	 * the noise when the last one ended */
	struct sysnoise_snap noise0;
	int noise_started, noise_done;
	int sweeping;                  /* phases of a sweep: the noise is the sweep's */
	int server_pid;                /* the target's server on loopback, 0: none found */
	double speed_before;           /* sysnoise_cpu_speed at noise_begin */
	struct sysnoise_result noise;
};

/* ---------------------------------------------------------------- */

void steps_loadvec_init(struct steps_loadvec *lv, const struct spec *sp, const float *cent, uint32_t k,
			uint32_t dim)
{
	memset(lv, 0, sizeof(*lv));
	synth_opts_init(&lv->so, 1ULL << 40);
	lv->so.seed = sp->seed ^ LOAD_SEED_XOR;
	if (sp->synthetic.present) {
		lv->so.std_dev = (float)sp->synthetic.std_dev;
		lv->so.normalize = sp->synthetic.normalize;
	}
	lv->cent = cent;
	lv->k = k;
	lv->dim = dim;
}

void steps_load_vector(const struct steps_loadvec *lv, uint64_t j, float *out, char *text, size_t cap)
{
	if (lv->cent && lv->k) {
		uint32_t label = 0;
		synth_generate(&lv->so, lv->cent, lv->k, lv->dim, j, 1, out, &label, NULL);
		if (text)
			synth_text(&lv->so, j, label, text, cap);
	} else {
		for (uint32_t d = 0; d < lv->dim; d++)
			out[d] = d == (uint32_t)(j % lv->dim) ? 1.0f : 0.0f;
		if (text)
			snprintf(text, cap, "Load test memory %llu", (unsigned long long)j);
	}
}

static const float *query_vec(struct lt *L, uint64_t arg)
{
	return L->queries.v + (arg % L->queries.rows) * L->dim;
}

static void search_text(struct lt *L, uint64_t arg, char *out, size_t cap)
{
	char line[160];
	synth_text(&L->so, arg, (uint32_t)(arg % 12), line, sizeof(line));
	const char *w = strchr(line, ':');
	w = w ? w + 2 : line;
	size_t n = strcspn(w, " .");
	snprintf(out, cap, "%.*s", (int)n, w);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Map a returned id to a global base row, or a store ordinal | STORE_FLAG. */
static uint64_t map_id(const struct lt *L, const char *id)
{
	size_t pl;
	char *end;
	if ((pl = strlen(L->load_prefix)) && !strncmp(id, L->load_prefix, pl)) {
		unsigned long long j = strtoull(id + pl, &end, 10);
		return *end ? NO_ID : (uint64_t)j | STORE_FLAG;
	}
	if (L->has_syn && (pl = strlen(L->syn_prefix)) && !strncmp(id, L->syn_prefix, pl)) {
		unsigned long long r = strtoull(id + pl, &end, 10);
		return *end || r >= L->n_syn ? NO_ID : L->syn_base + r;
	}
	if (L->has_corpus && (pl = strlen(L->corpus_prefix)) && !strncmp(id, L->corpus_prefix, pl)) {
		unsigned long long a = strtoull(id + pl, &end, 10);
		if (*end)
			return NO_ID;
		size_t lo = 0, hi = L->n_corpus;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (L->corpus_ids[2 * mid] < a)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo < L->n_corpus && L->corpus_ids[2 * lo] == a ? L->corpus_ids[2 * lo + 1] : NO_ID;
	}
	return NO_ID;
}

static void keep_hits(struct lt *L, const struct sched_op *op, const struct target_hits *h, struct record *r)
{
	const char *ids[64];
	size_t n = h->n < 64 ? h->n : 64;
	for (size_t i = 0; i < n; i++)
		ids[i] = h->v[i].id;
	records_ids_digest(ids, n, r->ids);
	r->n_ids = (uint32_t)h->n;
	uint64_t li; /* this process's index of the request (a shard runs a segment) */
	if (op->kind == OP_RECALL && sched_local_index(L->S, op->index, &li) && li < L->n_ops) {
		L->is_recall[li] = 1;
		for (size_t i = 0; i < (size_t)L->k && i < h->n; i++)
			L->hit_ids[li * (uint64_t)L->k + i] = map_id(L, h->v[i].id);
	}
}

/* ---------------------------------------------------------------- */
/* HTTP path                                                          */

static int lt_build(void *ctx, unsigned slot, const struct sched_op *op, struct http_request *rq, struct err *e)
{
	struct lt *L = ctx;
	struct lt_slot *s = &L->slots[slot];
	target_req_release(&s->rq);
	target_req_init(&s->rq);
	int rc;
	if (op->kind == OP_STORE) {
		steps_load_vector(&L->lv, op->arg, s->vec, s->text, sizeof(s->text));
		snprintf(s->id, sizeof(s->id), "%s%llu", L->load_prefix, (unsigned long long)op->arg);
		s->rec = (struct target_record){ s->id, s->vec, s->text, -1.0f, 0 };
		rc = target_build_store(L->t, &s->rec, 1, &s->rq, e);
	} else if (op->kind == OP_RECALL) {
		rc = target_build_recall(L->t, query_vec(L, op->arg), L->k, L->threshold, &s->rq, e);
	} else {
		search_text(L, op->arg, s->text, sizeof(s->text));
		rc = target_build_search(L->t, s->text, L->k, &s->rq, e);
	}
	if (rc)
		return -1;
	*rq = s->rq.http;
	return 0;
}

static void lt_response(void *ctx, unsigned slot, const struct sched_op *op, const struct http_response *rs,
			struct record *r)
{
	struct lt *L = ctx;
	struct lt_slot *s = &L->slots[slot];
	if (r->err != RECORD_ERR_NONE)
		return;
	struct err pe = ERR_INIT;
	if (op->kind == OP_STORE) {
		struct target_store_result res;
		memset(&res, 0, sizeof(res));
		if (target_parse_store(L->t, &s->rq, rs, &res, &pe) || res.status != TARGET_STORED)
			r->err = res.status == TARGET_REJECTED ? RECORD_ERR_HTTP4XX : RECORD_ERR_PARSE;
		return;
	}
	struct target_hits h;
	target_hits_init(&h);
	int bad = op->kind == OP_RECALL ? target_parse_recall(L->t, &s->rq, rs, &h, &pe)
					: target_parse_search(L->t, &s->rq, rs, &h, &pe);
	if (bad)
		r->err = RECORD_ERR_PARSE;
	else
		keep_hits(L, op, &h, r);
	target_hits_release(&h);
}

/* ---------------------------------------------------------------- */
/* async path: the driver's own connections in the engine's loop      */

struct lt_async {
	struct lt *L;
	struct target_async *ta;
};

static void *lt_async_open(void *ctx, struct engine *en, unsigned worker, int max_in_flight, int connections,
			    struct err *e)
{
	(void)worker;
	struct lt *L = ctx;
	struct lt_async *la = xcalloc(1, sizeof(*la));
	la->L = L;
	if (target_async_open(L->t, en, max_in_flight, connections, &la->ta, e)) {
		free(la);
		return NULL;
	}
	return la;
}

static int lt_async_submit(void *conn, unsigned slot, const struct sched_op *op, engine_done_fn done, void *user,
			   struct err *e)
{
	struct lt_async *la = conn;
	struct lt *L = la->L;
	struct lt_slot *s = &L->slots[slot];
	if (op->kind == OP_STORE) {
		steps_load_vector(&L->lv, op->arg, s->vec, s->text, sizeof(s->text));
		snprintf(s->id, sizeof(s->id), "%s%llu", L->load_prefix, (unsigned long long)op->arg);
		s->rec = (struct target_record){ s->id, s->vec, s->text, -1.0f, 0 };
		return target_async_store(la->ta, &s->rec, done, user, e);
	}
	if (op->kind == OP_RECALL)
		return target_async_recall(la->ta, query_vec(L, op->arg), L->k, L->threshold, done, user, e);
	return err_set(e, ERR_UNSUPPORTED, "target %s has no text search", target_driver(L->t));
}

static void lt_async_close(void *conn)
{
	struct lt_async *la = conn;
	target_async_close(la->ta);
	free(la);
}

/* ---------------------------------------------------------------- */
/* in-process path                                                    */

static unsigned lt_exec(void *ctx, unsigned slot, const struct sched_op *op, struct record *r)
{
	struct lt *L = ctx;
	struct lt_slot *s = &L->slots[slot];
	struct err e = ERR_INIT;
	if (op->kind == OP_STORE) {
		steps_load_vector(&L->lv, op->arg, s->vec, s->text, sizeof(s->text));
		snprintf(s->id, sizeof(s->id), "%s%llu", L->load_prefix, (unsigned long long)op->arg);
		s->rec = (struct target_record){ s->id, s->vec, s->text, -1.0f, 0 };
		struct target_store_result res;
		memset(&res, 0, sizeof(res));
		if (target_exec_store(L->t, &s->rec, 1, &res, &e) || res.status != TARGET_STORED)
			return RECORD_STATUS_ERROR;
		return 201;
	}
	struct target_hits h;
	target_hits_init(&h);
	int bad;
	if (op->kind == OP_RECALL)
		bad = target_exec_recall(L->t, query_vec(L, op->arg), L->k, L->threshold, &h, &e);
	else {
		search_text(L, op->arg, s->text, sizeof(s->text));
		bad = target_exec_search(L->t, s->text, L->k, &h, &e);
	}
	if (!bad)
		keep_hits(L, op, &h, r);
	target_hits_release(&h);
	return bad ? RECORD_STATUS_ERROR : 200;
}

/* ---------------------------------------------------------------- */

static int load_id_maps(struct lt *L, struct err *e)
{
	snprintf(L->load_prefix, sizeof(L->load_prefix), "load-%llu-", (unsigned long long)L->c->spec->seed);
	const struct spec *sp = L->c->spec;
	uint64_t base = 0;
	for (size_t k = 0; sp->ingest.present && k < sp->ingest.n_sets; k++) {
		int is_corpus = sp->ingest.sets[k] == SPEC_SET_CORPUS;
		const struct digest *set = step_set_vectors(L->c, sp->ingest.sets[k]);
		if (!set)
			continue;
		struct artifact a;
		if (artifact_get(L->c->store, set, &a, e))
			return -1;
		int64_t rows = 0;
		artifact_get_int(&a, "rows", &rows);
		const char *pfx = artifact_get_str(&a, "id_prefix");
		if (is_corpus) {
			L->has_corpus = 1;
			snprintf(L->corpus_prefix, sizeof(L->corpus_prefix), "%s", pfx ? pfx : "wiki-");
			L->n_corpus = (uint64_t)rows;
			uint64_t *ids = xalloc_try_array((size_t)rows, 8, "the corpus ids", e);
			L->corpus_ids = ids ? xalloc_try_array((size_t)rows, 16, "the corpus id index", e) : NULL;
			if (!L->corpus_ids) {
				free(ids);
				artifact_release(&a);
				return err_prefix(e, "loadtest");
			}
			int rc = artifact_part(&a, "ids") ? artio_read_part(L->c->store, &a, "ids", ids, (uint64_t)rows * 8, e) : 0;
			for (int64_t i = 0; !rc && i < rows; i++) {
				L->corpus_ids[2 * i] = artifact_part(&a, "ids") ? ids[i] : (uint64_t)i;
				L->corpus_ids[2 * i + 1] = base + (uint64_t)i;
			}
			free(ids);
			if (rc) {
				artifact_release(&a);
				return -1;
			}
			qsort(L->corpus_ids, (size_t)rows, 16, cmp_u64); /* pairs sort by their first word */
		} else {
			L->has_syn = 1;
			snprintf(L->syn_prefix, sizeof(L->syn_prefix), "%s", pfx ? pfx : "syn-");
			L->syn_base = base;
			L->n_syn = (uint64_t)rows;
		}
		base += (uint64_t)rows;
		artifact_release(&a);
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* the noise floor (util/sysnoise.c)                                  */

/* Before the first measured phase: find the target's server when it runs on
 * this machine (its CPU time is part of the measurement, not noise), then
 * the "before" snapshot. */
static void noise_begin(struct lt *L)
{
	if (L->noise_started)
		return;
	const char *url = target_url(L->t);
	unsigned port;
	if (target_has_http(L->t) && url && sysnoise_loopback_port(url, &port)) {
		L->server_pid = sysnoise_listener_pid(port);
		if (!L->server_pid)
			log_debug("loadtest: no process of ours listens on port %u: the target's CPU time counts "
				  "as other processes' in noise.other_cpu_pct", port);
		else
			log_debug("loadtest: the target's server is pid %d (port %u)", L->server_pid, port);
	}
	sysnoise_snap(&L->noise0);
	L->noise_started = 1;
	L->speed_before = sysnoise_cpu_speed();
}

/* After the last measured phase: the noise since noise_begin (L->noise),
 * and a warning when other processes used 10% or more of the machine. */
static void noise_end(struct lt *L)
{
	struct sysnoise_snap now;
	sysnoise_snap(&now);
	int roots[2] = { (int)getpid(), L->server_pid };
	sysnoise_compare(&L->noise0, &now, roots, 2, sysconf(_SC_CLK_TCK), &L->noise);
	L->noise.cpu_speed_before = L->speed_before;
	L->noise.cpu_speed_after = sysnoise_cpu_speed();
	sysnoise_snap_release(&now);
	L->noise_done = 1;
	if (L->noise.other_cpu_pct >= NOISE_BUSY_PCT)
		log_warn("loadtest: other processes used %.0f%% of the machine's CPU during the load test (%s)",
			 L->noise.other_cpu_pct, L->noise.top);
}

/* The noise into the artifact's meta: noise.* named as the run metrics
 * (unknown ones left out) and noise_top. */
static int noise_put(const struct lt *L, struct artifact *a, struct err *e)
{
	const struct sysnoise_result *r = &L->noise;
	const struct {
		const char *key;
		double v;
	} f[] = {
		{ "noise.load1_before", r->load1_before }, { "noise.load1_after", r->load1_after },
		{ "noise.ncpu", (double)r->ncpu },         { "noise.cpu_mhz", r->cpu_mhz },
		{ "noise.steal_pct", r->steal_pct },       { "noise.other_cpu_pct", r->other_cpu_pct },
		{ "noise.mem_available_mb", r->mem_available_mb },
		{ "noise.cpu_speed_before", r->cpu_speed_before }, { "noise.cpu_speed_after", r->cpu_speed_after },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (isfinite(f[i].v) && artifact_set_f64(a, f[i].key, f[i].v, e))
			return -1;
	return artifact_set_str(a, "noise_top", r->top, e);
}

/* A busy machine said in the step's summary line (the run's report). */
static void noise_summary(struct lt *L)
{
	if (!L->noise_done || !(L->noise.other_cpu_pct >= NOISE_BUSY_PCT))
		return;
	size_t n = strlen(L->c->summary);
	snprintf(L->c->summary + n, sizeof(L->c->summary) - n, "; busy machine: others used %.0f%% CPU (%s)",
		 L->noise.other_cpu_pct, L->noise.top);
}

/* ---------------------------------------------------------------- */
/* the repeats of a phase                                             */

/*
 * What the repeats of one phase add up to: the "records" and "hits" streams
 * (written after each repeat, so memory holds one repeat's records), the
 * counters summed over the repeats, and where each repeat started.
 */
struct lt_acc {
	struct obj_writer *rec_w, *hit_w;
	uint32_t n;                  /* repeats added */
	mono_ns t0;                  /* repeat 0's t0: the run's t0 */
	uint64_t *t0_ns;             /* per repeat, ns after t0 */
	uint64_t scheduled, sent, completed, dropped, late, errors;
	uint64_t late_ns, late_free, cap_waits; /* the lateness bound; late sends by cause */
	uint64_t wakeup_count;       /* the client's wake-up error: counts summed, */
	uint64_t wakeup_p50_ns, wakeup_p99_ns, wakeup_max_ns; /* the worst repeat's figures (exact: run metrics) */
	uint64_t elapsed_ns;         /* t0 to the last completion of the last repeat */
	int saturated;
	char saturation[512];
	char transport[16];
	struct loadgen_err_group groups[LOADGEN_ERR_GROUPS]; /* first message per failing group */
	int n_groups;
};

static int acc_open(struct lt *L, struct lt_acc *a, uint32_t repeats, struct err *e)
{
	memset(a, 0, sizeof(*a));
	a->t0_ns = xmalloc_array(repeats, sizeof(uint64_t)); /* at most 100 (spec) */
	if (obj_writer_open(L->c->store, &a->rec_w, e))
		return -1;
	return obj_writer_open(L->c->store, &a->hit_w, e);
}

static void acc_release(struct lt_acc *a)
{
	obj_writer_abort(a->rec_w);
	obj_writer_abort(a->hit_w);
	free(a->t0_ns);
	memset(a, 0, sizeof(*a));
}

/* Repeat a->n's records, moved to the run's clock and tagged with the
 * repeat, in index order. */
static int add_records(struct lt_acc *a, struct loadgen_result *res, uint64_t base, struct err *e)
{
	records_sort_by_index(&res->records);
	uint8_t blk[RECORDS_SIZE * 1024];
	for (size_t i = 0; i < res->records.n; i += 1024) {
		size_t n = res->records.n - i < 1024 ? res->records.n - i : 1024;
		for (size_t j = i; j < i + n; j++) {
			struct record *r = &res->records.v[j];
			r->repeat = a->n;
			r->intended += base;
			r->sent += base;
			r->done += base;
		}
		records_encode(&res->records.v[i], n, blk);
		if (obj_write(a->rec_w, blk, n * RECORDS_SIZE, e))
			return -1;
	}
	return 0;
}

/* Repeat a->n's hits: for each recall that answered, [u64 request index |
 * repeat << STEPS_HITS_REPEAT_SHIFT][k x u64 mapped ids] (base row, store
 * ordinal | 1<<63, or UINT64_MAX), in index order. */
static int add_hits(struct lt *L, struct lt_acc *a, struct err *e)
{
	for (uint64_t i = 0; i < L->n_ops; i++) {
		if (!L->is_recall[i])
			continue;
		uint64_t key = sched_global_index(L->S, i) | (uint64_t)a->n << STEPS_HITS_REPEAT_SHIFT;
		if (obj_write(a->hit_w, &key, 8, e) ||
		    obj_write(a->hit_w, &L->hit_ids[i * (uint64_t)L->k], (size_t)L->k * 8, e))
			return -1;
	}
	return 0;
}

/* A repeat's first error messages: groups not seen in an earlier repeat. */
static void add_groups(struct lt_acc *a, const struct loadgen_result *res)
{
	for (int k = 0; k < res->n_err_groups && a->n_groups < LOADGEN_ERR_GROUPS; k++) {
		const struct loadgen_err_group *g = &res->err_groups[k];
		int seen = 0;
		for (int i = 0; i < a->n_groups && !seen; i++)
			seen = a->groups[i].op == g->op && a->groups[i].err == g->err && a->groups[i].status == g->status;
		if (!seen)
			a->groups[a->n_groups++] = *g;
	}
}

/* Part "errors" (steps.h): the first message of each failing group. */
static int put_errors(struct step_ctx *c, const struct lt_acc *a, struct digest *out, uint64_t *size, struct err *e)
{
	uint8_t row[LOADTEST_ERRORS_HEAD + LOADGEN_ERR_MSG];
	struct obj_writer *w;
	if (obj_writer_open(c->store, &w, e))
		return -1;
	for (int i = 0; i < a->n_groups; i++) {
		const struct loadgen_err_group *g = &a->groups[i];
		size_t len = strnlen(g->msg, LOADGEN_ERR_MSG);
		row[0] = g->op;
		row[1] = g->err;
		row[2] = (uint8_t)g->status;
		row[3] = (uint8_t)(g->status >> 8);
		row[4] = (uint8_t)len;
		row[5] = (uint8_t)(len >> 8);
		memcpy(row + LOADTEST_ERRORS_HEAD, g->msg, len);
		if (obj_write(w, row, LOADTEST_ERRORS_HEAD + len, e)) {
			obj_writer_abort(w);
			return -1;
		}
	}
	*size = obj_writer_size(w);
	return obj_writer_finish(w, out, e);
}

/* Add one finished repeat: its records and hits, its counters. */
static int acc_add(struct lt *L, struct lt_acc *a, struct loadgen_result *res, struct err *e)
{
	if (a->n == 0)
		a->t0 = res->t0;
	uint64_t base = res->t0 - a->t0; /* after the previous repeat drained */
	a->t0_ns[a->n] = base;
	if (add_records(a, res, base, e) || add_hits(L, a, e))
		return -1;
	a->scheduled += res->scheduled;
	a->sent += res->sent;
	a->completed += res->completed;
	a->dropped += res->dropped;
	a->late += res->late;
	a->errors += res->errors;
	a->late_ns = res->late_ns;
	a->late_free += res->late_free;
	a->cap_waits += res->cap_waits;
	a->wakeup_count += res->wakeup_count;
	a->wakeup_p50_ns = res->wakeup_p50_ns > a->wakeup_p50_ns ? res->wakeup_p50_ns : a->wakeup_p50_ns;
	a->wakeup_p99_ns = res->wakeup_p99_ns > a->wakeup_p99_ns ? res->wakeup_p99_ns : a->wakeup_p99_ns;
	a->wakeup_max_ns = res->wakeup_max_ns > a->wakeup_max_ns ? res->wakeup_max_ns : a->wakeup_max_ns;
	a->elapsed_ns = base + res->elapsed_ns;
	if (res->saturated && !a->saturated)
		snprintf(a->saturation, sizeof(a->saturation), "%s", res->saturation);
	a->saturated |= res->saturated;
	snprintf(a->transport, sizeof(a->transport), "%s", res->transport);
	add_groups(a, res);
	a->n++;
	return 0;
}

/* Part "repeat_t0": where each repeat started, u64 little-endian ns after t0. */
static int put_repeat_t0(struct step_ctx *c, const struct lt_acc *a, struct digest *out, uint64_t *size,
			 struct err *e)
{
	struct obj_writer *w;
	if (obj_writer_open(c->store, &w, e))
		return -1;
	for (uint32_t r = 0; r < a->n; r++) {
		uint8_t le[8];
		for (int b = 0; b < 8; b++)
			le[b] = (uint8_t)(a->t0_ns[r] >> (8 * b));
		if (obj_write(w, le, 8, e)) {
			obj_writer_abort(w);
			return -1;
		}
	}
	*size = obj_writer_size(w);
	return obj_writer_finish(w, out, e);
}

/* The phase's p99 latency from an HDR histogram (warm-up and drops excluded). */
static int p99_of(const struct loadgen_result *res, uint64_t *p99, struct err *e)
{
	struct hist h;
	if (hist_init(&h, e))
		return -1;
	for (size_t i = 0; i < res->records.n; i++) {
		const struct record *r = &res->records.v[i];
		if (!(r->flags & RECORD_F_WARMUP) && r->status != RECORD_STATUS_DROPPED)
			hist_record(&h, record_latency_ns(r));
	}
	*p99 = hist_count(&h) ? hist_percentile(&h, 99.0) : 0;
	hist_release(&h);
	return 0;
}

/* The phase's "loadtest" artifact: the records of every repeat (each in index
 * order), the mapped ids each recall returned, where each repeat started, and
 * the counters summed over the repeats (duration_ns is one repeat's). The
 * writers are finished here (and cleared, so acc_release does not abort them). */
static int put_phase(struct lt *L, const struct sched_params *sp, const struct loadgen_opts *lo,
		     const struct digest *sd, struct lt_acc *acc, struct digest *out, struct err *e)
{
	struct step_ctx *c = L->c;
	struct digest rd, hd, td, ed;
	uint64_t rsize = obj_writer_size(acc->rec_w), hsize = obj_writer_size(acc->hit_w), tsize = 0, esize = 0;
	int frc = obj_writer_finish(acc->rec_w, &rd, e);
	acc->rec_w = NULL;
	frc = frc || obj_writer_finish(acc->hit_w, &hd, e);
	acc->hit_w = NULL;
	if (frc || put_repeat_t0(c, acc, &td, &tsize, e) || (acc->n_groups && put_errors(c, acc, &ed, &esize, e)))
		return -1;
	struct artifact a;
	artifact_init(&a, "loadtest", 1);
	a.action = c->action;
	char sdhex[DIGEST_HEX_LEN + 1];
	digest_to_hex(sd, sdhex);
	int rc = artifact_add_part(&a, "records", &rd, rsize, e) || artifact_add_part(&a, "hits", &hd, hsize, e) ||
		     artifact_add_part(&a, "repeat_t0", &td, tsize, e) ||
		     (acc->n_groups && artifact_add_part(&a, LOADTEST_ERRORS_PART, &ed, esize, e)) ||
		     artifact_set_str(&a, "schedule_digest", sdhex, e) ||
		     (c->segment && (artifact_set_str(&a, "segment", c->segment->text, e) ||
				     artifact_set_int(&a, "segment_den", (int64_t)c->segment->den, e) ||
				     artifact_set_int(&a, "scheduled_all", (int64_t)L->S->n_all, e))) ||
		     artifact_set_int(&a, "repeats", (int64_t)acc->n, e) ||
		     artifact_set_int(&a, "scheduled", (int64_t)acc->scheduled, e) ||
		     artifact_set_int(&a, "sent", (int64_t)acc->sent, e) ||
		     artifact_set_int(&a, "completed", (int64_t)acc->completed, e) ||
		     artifact_set_int(&a, "dropped", (int64_t)acc->dropped, e) ||
		     artifact_set_int(&a, "late", (int64_t)acc->late, e) ||
		     artifact_set_int(&a, "lateness_bound_ns", (int64_t)acc->late_ns, e) ||
		     artifact_set_int(&a, "late_free", (int64_t)acc->late_free, e) ||
		     artifact_set_int(&a, "cap_waits", (int64_t)acc->cap_waits, e) ||
		     artifact_set_int(&a, "client_wakeup_count", (int64_t)acc->wakeup_count, e) ||
		     artifact_set_int(&a, "client_wakeup_p50_ns", (int64_t)acc->wakeup_p50_ns, e) ||
		     artifact_set_int(&a, "client_wakeup_p99_ns", (int64_t)acc->wakeup_p99_ns, e) ||
		     artifact_set_int(&a, "client_wakeup_max_ns", (int64_t)acc->wakeup_max_ns, e) ||
		     artifact_set_int(&a, "errors", (int64_t)acc->errors, e) ||
		     artifact_set_int(&a, "warmup_ns", (int64_t)sp->warmup_ns, e) ||
		     artifact_set_int(&a, "duration_ns", (int64_t)sp->duration_ns, e) ||
		     artifact_set_int(&a, "elapsed_ns", (int64_t)acc->elapsed_ns, e) ||
		     artifact_set_int(&a, "max_in_flight", lo->max_in_flight, e) ||
		     artifact_set_f64(&a, "rate", sp->rate, e) ||
		     artifact_set_int(&a, "k", L->k, e) || artifact_set_f64(&a, "threshold", L->threshold, e) ||
		     artifact_set_int(&a, "saturated", acc->saturated, e) ||
		     artifact_set_str(&a, "saturation", acc->saturation, e) ||
		     artifact_set_str(&a, "transport", acc->transport, e) || (L->noise_done && noise_put(L, &a, e)) ||
		     artifact_put(c->store, &a, out, e)
		     ? -1
		     : 0;
	artifact_release(&a);
	return rc;
}

/* The in-flight slots and the per-request hit tables of a phase (sized by
 * the schedule: checked, ERR_NOSPACE with a hint). */
static int slots_open(struct lt *L, const struct sched *S, const struct loadgen_opts *lo, struct err *e)
{
	L->n_ops = sched_count(S);
	L->hit_ids = xalloc_try_array(xalloc_mul((size_t)L->n_ops, (size_t)L->k), 8, "the recall hits of the load test", e);
	L->is_recall = L->hit_ids ? xalloc_try_zeroed((size_t)L->n_ops, 1, "the load test's operation kinds", e) : NULL;
	if (!L->is_recall)
		return err_hint(e, "shorten steps.loadtest.duration or lower the arrival rate (%llu requests)",
				(unsigned long long)L->n_ops);
	/* HTTP: one slot per request in flight; in-process: one per executor thread */
	int evented = target_has_http(L->t) || target_has_async(L->t);
	L->n_slots = (unsigned)(lo->max_in_flight > 0 ? lo->max_in_flight : evented ? 256 : 1);
	if (!evented && L->n_slots > LOADGEN_MAX_THREADS)
		L->n_slots = LOADGEN_MAX_THREADS;
	if (!(L->slots = xalloc_try_zeroed(L->n_slots, sizeof(*L->slots), "the request slots", e)))
		return err_prefix(e, "loadtest");
	for (unsigned i = 0; i < L->n_slots; i++) {
		target_req_init(&L->slots[i].rq);
		L->slots[i].vec = xmalloc_array(L->dim, sizeof(float));
	}
	return 0;
}

static void slots_close(struct lt *L)
{
	for (unsigned i = 0; L->slots && i < L->n_slots; i++) {
		target_req_release(&L->slots[i].rq);
		free(L->slots[i].vec);
	}
	free(L->slots);
	L->slots = NULL;
	free(L->hit_ids);
	free(L->is_recall);
	L->hit_ids = NULL;
	L->is_recall = NULL;
}

/* One repeat: the whole schedule (warm-up included) from a fresh t0, added to `acc`. */
static int run_repeat(struct lt *L, const struct sched *S, const struct loadgen_target *tg,
		      const struct loadgen_opts *lo, struct lt_acc *acc, uint64_t *p99_est, struct err *e)
{
	struct loadgen_result res;
	memset(&res, 0, sizeof(res));
	memset(L->hit_ids, 0xff, L->n_ops * (uint64_t)L->k * 8);
	memset(L->is_recall, 0, L->n_ops);
	int rc = -1;
	if (loadgen_run(S, tg, lo, &res, e))
		goto out;
	if (steps_stop_requested()) {
		err_set(e, ERR_INTERRUPTED, "loadtest: interrupted");
		goto out;
	}
	if (p99_est && p99_of(&res, p99_est, e))
		goto out;
	if (res.saturated)
		log_warn("loadtest: the client may have limited this run: %s", res.saturation);
	rc = acc_add(L, acc, &res, e);
out:
	loadgen_result_release(&res);
	return rc;
}

/*
 * One measured phase, `repeats` times with the same schedule: send, store the
 * records and hits as a "loadtest" artifact (`label` names the phase in logs,
 * "" for a plain run). *p99_est (may be NULL; sweeps, one repeat) gets the
 * phase's p99 latency from an HDR histogram (<= 0.1% error), which is all a
 * sweep needs to decide whether to go on; exact metrics are computed later
 * from the stored records.
 */
static int run_phase(struct lt *L, const struct sched_params *sp, const struct loadgen_opts *lo, uint32_t repeats,
		     const char *label, struct digest *out, uint64_t *p99_est, struct err *e)
{
	struct step_ctx *c = L->c;
	struct sched S;
	if (sched_init(&S, sp, e))
		return -1;
	if (c->segment)
		sched_set_segment(&S, c->segment);
	L->S = &S;
	struct lt_acc acc;
	int rc = -1;
	if (acc_open(L, &acc, repeats, e) || slots_open(L, &S, lo, e))
		goto out;
	struct loadgen_target tg;
	memset(&tg, 0, sizeof(tg));
	tg.ctx = L;
	if (target_has_http(L->t)) {
		tg.build = lt_build;
		tg.response = lt_response;
	} else if (target_has_async(L->t)) {
		tg.async_open = lt_async_open;
		tg.async_submit = lt_async_submit;
		tg.async_close = lt_async_close;
		tg.async_transport = target_driver(L->t);
		tg.response = lt_response;
	} else {
		tg.exec = lt_exec;
	}
	struct digest sd;
	sched_digest(&S, &sd);
	log_info("loadtest%s%s: %llu requests over %.1f s (%s), max %d in flight%s", *label ? " " : "", label,
		 (unsigned long long)L->n_ops, (double)sched_span_ns(&S) / 1e9, sched_pattern_name(sp->pattern),
		 lo->max_in_flight, repeats > 1 ? ", repeated" : "");
	if (c->before_load) { /* a shard's start barrier, once */
		int (*fn)(void *, struct err *) = c->before_load;
		c->before_load = NULL;
		if (fn(c->before_load_ctx, e))
			goto out;
	}
	noise_begin(L);
	for (uint32_t r = 0; r < repeats; r++) {
		if (repeats > 1)
			log_info("loadtest: repeat %u of %u", r + 1, repeats);
		if (run_repeat(L, &S, &tg, lo, &acc, p99_est, e))
			goto out;
	}
	if (!L->sweeping)
		noise_end(L);
	if (put_phase(L, sp, lo, &sd, &acc, out, e))
		goto out;
	rc = 0;
	int w = snprintf(c->summary, sizeof(c->summary), "%llu requests", (unsigned long long)acc.scheduled);
	if (repeats > 1 && w > 0)
		w += snprintf(c->summary + w, sizeof(c->summary) - (size_t)w, " (%u repeats)", repeats);
	char bound[32], wake[96] = "";
	clock_format_duration(acc.late_ns, bound, sizeof(bound));
	if (acc.wakeup_count)
		snprintf(wake, sizeof(wake), "; client wake-up error p50 %.1f us, p99 %.1f us",
			 (double)acc.wakeup_p50_ns / 1e3, (double)acc.wakeup_p99_ns / 1e3);
	if (w > 0 && (size_t)w < sizeof(c->summary))
		snprintf(c->summary + w, sizeof(c->summary) - (size_t)w,
			 " in %.1f s: %llu completed, %llu errors, %llu late (> %s), %llu dropped%s",
			 (double)acc.elapsed_ns / 1e9, (unsigned long long)acc.completed, (unsigned long long)acc.errors,
			 (unsigned long long)acc.late, bound, (unsigned long long)acc.dropped, wake);
	noise_summary(L);
out:
	acc_release(&acc);
	slots_close(L);
	return rc;
}

/*
 * Sweeps: one measured phase per value of loadtest.concurrency (the
 * in-flight cap, as VectorDBBench's concurrency sweep), loadtest.rates
 * (a constant-rate ramp, ascending) or loadtest.ef_search (the target's
 * HNSW search breadth, set in place before each phase and put back to
 * target.hnsw.ef_search after the last: ann-benchmarks' recall-QPS curve
 * under open-loop load, without re-ingesting). A rate ramp with slo_p99_ms stops at
 * the first rate whose p99 exceeds the SLO: the rate before it is the
 * highest sustainable one. Output: artifact "loadtest-sweep" whose parts
 * "phase-NN" are the phases' loadtest artifacts, with meta "kind",
 * "value-NN", "phases" and "slo_p99_ms".
 */
/* --between-phases: the user's command (e.g. restart the server so it loads
 * the index with the new ef_search), then wait until the target is healthy. */
static int between_phases(struct lt *L, const char *kind, double value, size_t phase, struct err *e)
{
	char v[32], ph[24];
	snprintf(v, sizeof(v), "%g", value);
	snprintf(ph, sizeof(ph), "%zu", phase);
	setenv("ENGRAVE_SWEEP_KEY", kind, 1);
	setenv("ENGRAVE_SWEEP_VALUE", v, 1);
	setenv("ENGRAVE_SWEEP_PHASE", ph, 1);
	log_info("loadtest: before phase %zu (%s %s): %s", phase, kind, v, L->c->between_phases);
	int st = system(L->c->between_phases);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return err_set(e, ERR_IO, "loadtest: --between-phases command failed before phase %zu (%s): %s",
			       phase, st == -1 ? "could not run it" : WIFEXITED(st) ? "non-zero exit" : "killed",
			       L->c->between_phases);
	char ver[64];
	struct err he = ERR_INIT;
	for (int tries = 0; tries < BETWEEN_HEALTH_TRIES; tries++) {
		err_clear(&he);
		if (!target_health(L->t, ver, sizeof(ver), &he))
			return 0;
		clock_sleep_until(clock_mono_now() + BETWEEN_HEALTH_WAIT_NS);
	}
	*e = he;
	return err_prefix(e, "loadtest: the target is not healthy after --between-phases (phase %zu)", phase);
}

static int run_sweep(struct lt *L, const struct sched_params *sp, const struct loadgen_opts *lo, struct err *e)
{
	const struct spec_loadtest *lt = &L->c->spec->loadtest;
	int by_rate = lt->n_rates > 0, by_ef = lt->n_ef_search > 0;
	size_t n = by_rate ? lt->n_rates : by_ef ? lt->n_ef_search : lt->n_concurrency;
	const char *kind = by_rate ? "rate" : by_ef ? "ef_search" : "concurrency";
	if ((lt->n_rates > 0) + (lt->n_concurrency > 0) + by_ef > 1)
		return err_set(e, ERR_SPEC, "loadtest: one sweep per spec: rates, concurrency or ef_search");
	struct artifact sw;
	artifact_init(&sw, "loadtest-sweep", 1);
	sw.action = L->c->action;
	L->sweeping = 1;
	int rc = artifact_set_str(&sw, "kind", kind, e) || artifact_set_f64(&sw, "slo_p99_ms", lt->slo_p99_ms, e);
	size_t done = 0;
	char name[32], label[96], line[160] = "";
	for (size_t i = 0; !rc && i < n; i++) {
		struct sched_params p = *sp;
		struct loadgen_opts o = *lo;
		double value;
		if (by_rate) {
			value = lt->rates[i];
			if (p.pattern != SCHED_POISSON)
				p.pattern = SCHED_CONSTANT;
			p.rate = value;
		} else if (by_ef) {
			value = (double)lt->ef_search[i];
			if (target_set_ef_search(L->t, (int)lt->ef_search[i], e)) {
				rc = -1;
				break;
			}
		} else {
			value = (double)lt->concurrency[i];
			o.max_in_flight = (int)lt->concurrency[i];
		}
		snprintf(label, sizeof(label), "phase %zu/%zu (%s %g)", i + 1, n, kind, value);
		if (L->c->between_phases && between_phases(L, kind, value, i + 1, e)) {
			rc = -1;
			break;
		}
		struct digest d;
		uint64_t p99 = 0;
		if (run_phase(L, &p, &o, 1, label, &d, &p99, e)) {
			rc = -1;
			break;
		}
		snprintf(name, sizeof(name), "phase-%02zu", i);
		rc = artifact_add_part(&sw, name, &d, 0, e);
		snprintf(name, sizeof(name), "value-%02zu", i);
		rc = rc || artifact_set_f64(&sw, name, value, e);
		done = i + 1;
		size_t len = strlen(line);
		snprintf(line + len, sizeof(line) - len, "%s%g: p99 %.3g ms", i ? ", " : "", value, (double)p99 / 1e6);
		if (by_rate && lt->slo_p99_ms > 0 && (double)p99 / 1e6 > lt->slo_p99_ms) {
			log_info("loadtest: p99 %.3g ms at %g/s is over the %.3g ms SLO: the ramp stops here",
				 (double)p99 / 1e6, value, lt->slo_p99_ms);
			break;
		}
	}
	/* leave the index searching as the spec's target section says */
	if (!rc && by_ef && L->c->spec->target.hnsw.ef_search &&
	    target_set_ef_search(L->t, (int)L->c->spec->target.hnsw.ef_search, e))
		rc = -1;
	if (!rc) {
		noise_end(L);
		rc = artifact_set_int(&sw, "phases", (int64_t)done, e) || noise_put(L, &sw, e) ||
		     artifact_put(L->c->store, &sw, &L->c->out[0], e);
	}
	artifact_release(&sw);
	if (rc)
		return -1;
	L->c->n_out = 1;
	snprintf(L->c->summary, sizeof(L->c->summary), "%s sweep, %zu phase%s: %s", kind, done, done == 1 ? "" : "s",
		 line);
	noise_summary(L);
	return 0;
}

int step_loadtest_run(struct step_ctx *c, struct err *e)
{
	const struct spec_loadtest *lt = &c->spec->loadtest;
	if (lt->n_concurrency + lt->n_rates + lt->n_ef_search > SWEEP_MAX) {
		err_set(e, ERR_SPEC, "loadtest: at most %d sweep values", SWEEP_MAX);
		return err_hint(e, "split the sweep into several specs");
	}
	struct lt L;
	memset(&L, 0, sizeof(L));
	L.c = c;
	L.k = (int)lt->recall_k;
	L.threshold = (float)lt->recall_threshold;
	int rc = -1;
	if (steps_target(c, &L.t, e))
		return -1;
	L.dim = target_dim(L.t);
	if (step_input(c, STEP_QUERIES)) {
		if (vecs_load(c->store, step_input(c, STEP_QUERIES), &L.queries, e))
			goto out;
	} else if (lt->mix_recall > 0) {
		err_set(e, ERR_SPEC, "loadtest: recall operations need a 'queries' step for their cue vectors");
		goto out;
	}
	if (step_input(c, STEP_CENTROIDS)) {
		if (vecs_load(c->store, step_input(c, STEP_CENTROIDS), &L.cent, e))
			goto out;
		L.have_cent = 1;
	}
	synth_opts_init(&L.so, 1ULL << 40);
	L.so.seed = c->spec->seed ^ LOAD_SEED_XOR;
	steps_loadvec_init(&L.lv, c->spec, L.have_cent ? L.cent.v : NULL, L.have_cent ? (uint32_t)L.cent.rows : 0,
			   L.dim);
	if (load_id_maps(&L, e))
		goto out;

	struct sched_params sp;
	sched_params_from_spec(lt, c->spec->seed, &sp);
	if (L.queries.rows)
		sp.n_queries = L.queries.rows;
	struct loadgen_opts lo;
	memset(&lo, 0, sizeof(lo));
	loadgen_opts_from_spec(lt, &lo);
	lo.live = 1;
	lo.stop = steps_stop_flag();
	if (spec_loadtest_sweeps(lt))
		rc = run_sweep(&L, &sp, &lo, e);
	else if (!(rc = run_phase(&L, &sp, &lo, (uint32_t)lt->repeat, "", &c->out[0], NULL, e)))
		c->n_out = 1;
out:
	free(L.corpus_ids);
	vecs_free(&L.queries);
	vecs_free(&L.cent);
	sysnoise_snap_release(&L.noise0);
	return rc;
}
