/*
 * runbook.c — the runbook step: writes and searches in phases against a
 * live target, big-ann-benchmarks' streaming runbooks with engrave's
 * open-loop search.
 *
 * Phases run in stages: a phase starts a new stage unless it says
 * `concurrent: true`, then it runs with the stage before. Every phase of a
 * stage runs on its own thread, and the stage ends when all have:
 *   insert/delete/replace  batches of steps.runbook.batch_size keys, batch b
 *       due at (b * batch_size) / rate after the phase began (rate 0: one after
 *       the other), each on the phase's own target handle; an acknowledged
 *       batch is journaled at once (RB_ACKS: its ack and send times, unix ns).
 *       Which keys a batch writes is a pure function of the spec, so the
 *       journal holds times only;
 *   search  open-loop searches at a fixed rate (rbsearch.c);
 *   wait    a duration, or until every readiness tracer so far is resolved.
 * Readiness tracers (rbready.c) run on one more thread beside all stages.
 *
 * Resume: a killed run resumes from its journal. Acknowledged batches are
 * not sent again, finished search phases are kept, and stages whose phases
 * are all done are skipped. A target that does not outlive the process
 * (embedded) gets the acknowledged batches replayed, in acknowledgement
 * order, before the run continues, so it holds what the journal says.
 *
 * Ground truth, recall, latency and readiness figures are computed from the
 * journal and the stored search records at the end (rbresult.c).
 */
#include "runbook_int.h"
#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/rng.h"
#include "engrave/store.h"
#include "engrave/target.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB_ORDER_STREAM 0x52554e424f4f4bULL /* "RUNBOOK": the insert order's RNG stream */

/* ---- keys, ids, vectors ------------------------------------------------------ */

void rb_key_id(const struct rb *R, uint64_t key, char *out, size_t cap)
{
	unsigned set = (unsigned)(key >> RB_SET_SHIFT);
	uint64_t row = key & ((1ULL << RB_SET_SHIFT) - 1);
	const struct rb_set *s = &R->sets[set];
	uint64_t n = s->v.ids ? s->v.ids[row] : row;
	snprintf(out, cap, "%s%llu", s->prefix, (unsigned long long)n);
}

uint64_t rb_id_key(const struct rb *R, const char *id)
{
	for (unsigned set = 0; set < 2; set++) {
		const struct rb_set *s = &R->sets[set];
		size_t pl = strlen(s->prefix);
		if (!s->present || strncmp(id, s->prefix, pl))
			continue;
		if (set == SPEC_SET_CORPUS) {
			const size_t *row = R->corpus_names ? hmap_get(&R->corpus_ids, id) : NULL;
			if (row)
				return (uint64_t)*row;
			continue;
		}
		char *end;
		unsigned long long row = strtoull(id + pl, &end, 10);
		if (!*end && end != id + pl && row < s->v.rows)
			return (uint64_t)set << RB_SET_SHIFT | row;
	}
	return RB_NO_KEY;
}

const float *rb_key_vec(const struct rb *R, uint64_t key)
{
	const struct rb_set *s = &R->sets[key >> RB_SET_SHIFT];
	return s->v.v + (key & ((1ULL << RB_SET_SHIFT) - 1)) * s->v.dim;
}

size_t rb_batch_keys(const struct rb *R, size_t p, uint64_t b, uint64_t *keys, uint64_t *with)
{
	const struct spec_phase *ph = &R->book->phases[p];
	uint64_t n = ph->to - ph->from, bs = R->book->batch_size;
	uint64_t lo = b * bs, hi = lo + bs < n ? lo + bs : n;
	for (uint64_t i = lo; i < hi; i++) {
		uint64_t row = R->order[p] ? R->order[p][i] : ph->from + i;
		keys[i - lo] = (uint64_t)ph->set << RB_SET_SHIFT | row;
		if (with)
			with[i - lo] = (uint64_t)ph->with_set << RB_SET_SHIFT | (ph->with_from + i);
	}
	return (size_t)(hi - lo);
}

int rb_journal_put(struct rb *R, const char *stream, const void *key, size_t kl, const void *val, size_t vl,
		   struct err *e)
{
	pthread_mutex_lock(&R->journal_lock);
	struct journal_batch *jb;
	int rc = journal_batch_begin(R->c->store, R->c->run_id, stream, &jb, e);
	if (!rc && journal_batch_put(jb, key, kl, val, vl, e)) {
		journal_batch_abort(jb);
		rc = -1;
	} else if (!rc) {
		rc = journal_batch_commit(jb, e);
	}
	pthread_mutex_unlock(&R->journal_lock);
	return rc;
}

/* ---- insert order --------------------------------------------------------------- */

struct order_row {
	uint64_t rank, row;
};

static int cmp_order(const void *a, const void *b)
{
	const struct order_row *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/* shuffled: rows by a seeded random rank; clustered: by a seeded rank of
 * their centroid label, then by row. Sequential phases keep order[p] NULL. */
static int make_order(struct rb *R, size_t p, struct err *e)
{
	const struct spec_phase *ph = &R->book->phases[p];
	if (ph->kind != SPEC_PHASE_INSERT || ph->order == SPEC_ORDER_SEQUENTIAL)
		return 0;
	const struct vecs *v = &R->sets[ph->set].v;
	if (ph->order == SPEC_ORDER_CLUSTERED && !v->labels)
		return err_set(e, ERR_CORRUPT, "runbook: phase %zu: set has no centroid labels for clustered order", p);
	uint64_t n = ph->to - ph->from, seed = R->c->spec->seed, stream = RB_ORDER_STREAM + p;
	struct order_row *o = xalloc_try_array(n, sizeof(*o), "the insert order", e);
	R->order[p] = o ? xalloc_try_array(n, sizeof(uint64_t), "the insert order", e) : NULL;
	if (!R->order[p]) {
		free(o);
		return -1;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t row = ph->from + i;
		uint64_t r = ph->order == SPEC_ORDER_SHUFFLED ? row : v->labels[row];
		o[i].rank = (uint64_t)rng_u32(seed, stream, 2 * r) << 32 | rng_u32(seed, stream, 2 * r + 1);
		o[i].row = row;
	}
	qsort(o, n, sizeof(*o), cmp_order);
	for (uint64_t i = 0; i < n; i++)
		R->order[p][i] = o[i].row;
	free(o);
	return 0;
}

/* ---- inputs and the journal ------------------------------------------------------ */

static int load_inputs(struct rb *R, struct err *e)
{
	struct step_ctx *c = R->c;
	for (unsigned set = 0; set < 2; set++) {
		const struct digest *d = step_set_vectors(c, (enum spec_set)set);
		if (!d)
			continue;
		struct rb_set *s = &R->sets[set];
		if (vecs_load(c->store, d, &s->v, e))
			return -1;
		s->present = 1;
		const char *pfx = artifact_get_str(&s->v.art, "id_prefix");
		snprintf(s->prefix, sizeof(s->prefix), "%s", pfx ? pfx : set == SPEC_SET_CORPUS ? "wiki-" : "syn-");
		R->dim = s->v.dim;
	}
	const struct digest *q = step_input(c, STEP_QUERIES);
	if (q && vecs_load(c->store, q, &R->queries, e))
		return -1;
	R->have_queries = q != NULL;
	struct rb_set *corpus = &R->sets[SPEC_SET_CORPUS];
	if (corpus->present && corpus->v.ids) { /* returned corpus ids back to rows */
		R->corpus_names = xcalloc((size_t)corpus->v.rows ? (size_t)corpus->v.rows : 1, sizeof(char *));
		for (uint64_t r = 0; r < corpus->v.rows; r++) {
			char id[64];
			rb_key_id(R, (uint64_t)SPEC_SET_CORPUS << RB_SET_SHIFT | r, id, sizeof(id));
			R->corpus_names[r] = xstrdup(id);
			if (hmap_add(&R->corpus_ids, R->corpus_names[r], (size_t)r, e) < 0)
				return -1;
		}
	}
	return 0;
}

struct ack_scan {
	struct rb *R;
	struct rb_ack_ev { unix_ns ack; uint16_t p; uint32_t b; } *ev;
	size_t n, cap;
};

static int scan_ack(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct ack_scan *s = ctx;
	if (kl != 6 || vl < 16)
		return 0;
	const uint8_t *kb = k;
	uint16_t p = (uint16_t)(kb[0] << 8 | kb[1]);
	uint32_t b = (uint32_t)kb[2] << 24 | (uint32_t)kb[3] << 16 | (uint32_t)kb[4] << 8 | kb[5];
	if (p >= s->R->book->n_phases || b >= s->R->n_batches[p] || !s->R->acked[p])
		return 0;
	s->R->acked[p][b] = 1;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->ev = xrealloc(s->ev, s->cap * sizeof(*s->ev));
	}
	int64_t ack;
	memcpy(&ack, v, 8);
	s->ev[s->n++] = (struct rb_ack_ev){ ack, p, b };
	return 0;
}

static int scan_search(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct rb *R = ctx;
	const uint8_t *kb = k;
	size_t p = kl == 2 ? (size_t)(kb[0] << 8 | kb[1]) : SPEC_PHASES_MAX;
	if (p < R->book->n_phases && vl == DIGEST_LEN) {
		memcpy(R->search[p].b, v, DIGEST_LEN);
		R->search_done[p] = 1;
	}
	return 0;
}

static int cmp_ack(const void *a, const void *b)
{
	const struct rb_ack_ev *x = a, *y = b;
	if (x->ack != y->ack)
		return x->ack < y->ack ? -1 : 1;
	return x->p != y->p ? (x->p < y->p ? -1 : 1) : (x->b < y->b ? -1 : x->b > y->b);
}

static int send_batch(struct rb *R, struct target *t, size_t p, uint64_t b, struct err *e);

/* Read the journal; an in-process target gets the acknowledged writes again. */
static int resume_from_journal(struct rb *R, struct err *e)
{
	struct ack_scan s = { R, NULL, 0, 0 };
	int rc = journal_iter(R->c->store, R->c->run_id, RB_ACKS, scan_ack, &s, e) ||
		 journal_iter(R->c->store, R->c->run_id, RB_SEARCHES, scan_search, R, e);
	if (!rc && s.n && !target_can(R->t, TARGET_CAP_PERSISTENT)) {
		log_info("runbook: replaying %zu acknowledged batches into the in-process target", s.n);
		qsort(s.ev, s.n, sizeof(*s.ev), cmp_ack);
		for (size_t i = 0; i < s.n && !rc; i++)
			rc = send_batch(R, R->t, s.ev[i].p, s.ev[i].b, e);
	}
	free(s.ev);
	return rc;
}

/* ---- write phases ------------------------------------------------------------------ */

/* Send phase p's batch b on t (no journal). */
static int send_batch(struct rb *R, struct target *t, size_t p, uint64_t b, struct err *e)
{
	const struct spec_phase *ph = &R->book->phases[p];
	size_t bs = (size_t)R->book->batch_size;
	uint64_t *keys = xmalloc_array(bs, 2 * sizeof(uint64_t)), *with = keys + bs;
	char (*ids)[TARGET_ID_MAX] = xmalloc_array(bs, TARGET_ID_MAX);
	const char **idp = xmalloc_array(bs, sizeof(char *));
	struct target_record *recs = xcalloc(bs, sizeof(*recs));
	struct target_store_result *res = xcalloc(bs, sizeof(*res));
	size_t n = rb_batch_keys(R, p, b, keys, ph->kind == SPEC_PHASE_REPLACE ? with : NULL);
	for (size_t i = 0; i < n; i++) {
		rb_key_id(R, keys[i], ids[i], TARGET_ID_MAX);
		idp[i] = ids[i];
		recs[i] = (struct target_record){ ids[i], rb_key_vec(R, ph->kind == SPEC_PHASE_REPLACE ? with[i] : keys[i]),
						  NULL, -1.0f, 0 };
	}
	int rc;
	if (ph->kind == SPEC_PHASE_DELETE)
		rc = target_delete(t, idp, n, e);
	else
		rc = target_store_batch(t, recs, n, res, e);
	for (size_t i = 0; !rc && ph->kind != SPEC_PHASE_DELETE && i < n; i++)
		if (res[i].status != TARGET_STORED)
			rc = err_set(e, ERR_NET, "runbook: phase %zu: %s not stored: %s", p, ids[i], res[i].reason);
	free(keys);
	free(ids);
	free(idp);
	free(recs);
	free(res);
	return rc ? err_prefix(e, "runbook: phase %zu (%s), batch %llu", p, spec_phase_kind_names[ph->kind],
			       (unsigned long long)b)
		  : 0;
}

struct phase_job {
	struct rb *R;
	size_t p;
	struct err e;
	int rc;
	pthread_t th;
};

static void offer_tracer(struct rb *R, size_t p, uint64_t b, unix_ns ack)
{
	uint64_t nb = R->n_batches[p], want = R->book->tracers;
	uint64_t every = want ? (nb + want - 1) / want : 0;
	if (!every || b % every)
		return;
	const struct spec_phase *ph = &R->book->phases[p];
	if (ph->kind == SPEC_PHASE_REPLACE)
		return; /* the id stays searchable: nothing to time */
	uint64_t *keys = xmalloc_array((size_t)R->book->batch_size, sizeof(uint64_t));
	rb_batch_keys(R, p, b, keys, NULL); /* the tracer is its first key */
	struct rb_tracer tr = { (uint16_t)p, (uint32_t)(b / every), ph->kind == SPEC_PHASE_DELETE, keys[0],
				rb_key_vec(R, keys[0]), ack };
	free(keys);
	rb_tracer_add(R, &tr);
}

static int write_phase(struct rb *R, size_t p, struct err *e)
{
	const struct spec_phase *ph = &R->book->phases[p];
	struct target *t;
	if (steps_target_open_more(R->c, &t, e))
		return -1;
	mono_ns t0 = clock_mono_now();
	int rc = 0;
	uint64_t sent = 0;
	for (uint64_t b = 0; b < R->n_batches[p] && !rc; b++) {
		if (R->acked[p][b])
			continue;
		if (steps_stop_requested()) {
			rc = err_set(e, ERR_INTERRUPTED, "runbook: interrupted in phase %zu", p);
			break;
		}
		if (ph->rate > 0)
			clock_sleep_until(t0 + (mono_ns)((double)(b * R->book->batch_size) / ph->rate * 1e9));
		unix_ns at = clock_unix_now();
		if ((rc = send_batch(R, t, p, b, e)))
			break;
		unix_ns ack = clock_unix_now();
		uint8_t key[6] = { (uint8_t)(p >> 8), (uint8_t)p, (uint8_t)(b >> 24), (uint8_t)(b >> 16), (uint8_t)(b >> 8),
				   (uint8_t)b };
		int64_t val[2] = { ack, at };
		rc = rb_journal_put(R, RB_ACKS, key, 6, val, sizeof(val), e);
		R->acked[p][b] = 1;
		offer_tracer(R, p, b, ack);
		sent++;
	}
	log_info("runbook: phase %zu (%s) wrote %llu batches", p, spec_phase_kind_names[ph->kind],
		 (unsigned long long)sent);
	target_close(t);
	return rc;
}

static void *phase_main(void *arg)
{
	struct phase_job *j = arg;
	struct rb *R = j->R;
	const struct spec_phase *ph = &R->book->phases[j->p];
	j->e = (struct err)ERR_INIT;
	switch (ph->kind) {
	case SPEC_PHASE_SEARCH:
		j->rc = R->search_done[j->p] ? 0 : rb_search_phase(R, j->p, &j->e);
		break;
	case SPEC_PHASE_WAIT:
		if (ph->until_indexed) {
			j->rc = rb_tracers_drain(R, R->book->wait_timeout_ns);
			if (j->rc)
				log_warn("runbook: phase %zu: writes not all searchable after the wait timeout", j->p);
			j->rc = 0;
		} else {
			clock_sleep_until(clock_mono_now() + ph->duration_ns);
		}
		break;
	default:
		j->rc = write_phase(R, j->p, &j->e);
	}
	return NULL;
}

/* ---- stages ---------------------------------------------------------------------- */

static int phase_done(const struct rb *R, size_t p)
{
	const struct spec_phase *ph = &R->book->phases[p];
	if (ph->kind == SPEC_PHASE_SEARCH)
		return R->search_done[p];
	if (ph->kind == SPEC_PHASE_WAIT)
		return 1;
	for (uint64_t b = 0; b < R->n_batches[p]; b++)
		if (!R->acked[p][b])
			return 0;
	return 1;
}

/* Run phases [first, end) at once. */
static int run_stage(struct rb *R, size_t first, size_t end, struct err *e)
{
	int todo = 0;
	for (size_t p = first; p < end; p++)
		todo |= !phase_done(R, p);
	if (!todo)
		return 0;
	if (end - first > 1)
		log_info("runbook: phases %zu-%zu at once", first, end - 1);
	struct phase_job jobs[SPEC_PHASES_MAX];
	for (size_t p = first; p < end; p++) {
		jobs[p] = (struct phase_job){ .R = R, .p = p };
		if (pthread_create(&jobs[p].th, NULL, phase_main, &jobs[p]))
			BUG("runbook: cannot start a phase thread");
	}
	int rc = 0;
	for (size_t p = first; p < end; p++) {
		pthread_join(jobs[p].th, NULL);
		if (jobs[p].rc && !rc) {
			*e = jobs[p].e;
			rc = -1;
		}
	}
	return rc;
}

static int rb_prepare(struct rb *R, struct err *e)
{
	const struct spec_runbook *book = R->book;
	if (load_inputs(R, e) || steps_target(R->c, &R->t, e))
		return -1;
	for (size_t p = 0; p < book->n_phases; p++) {
		const struct spec_phase *ph = &book->phases[p];
		if (ph->kind == SPEC_PHASE_SEARCH || ph->kind == SPEC_PHASE_WAIT)
			continue;
		if (!R->sets[ph->set].present || !R->sets[ph->with_set].present)
			return err_set(e, ERR_MISSING, "runbook: phase %zu: the spec makes no %s vectors", p,
				       ph->set == SPEC_SET_SYNTHETIC ? "synthetic" : "corpus");
		R->n_batches[p] = (ph->to - ph->from + book->batch_size - 1) / book->batch_size;
		R->acked[p] = xcalloc((size_t)R->n_batches[p], 1);
		if (make_order(R, p, e))
			return -1;
	}
	return resume_from_journal(R, e);
}

static void rb_release(struct rb *R)
{
	for (unsigned s = 0; s < 2; s++)
		if (R->sets[s].present)
			vecs_free(&R->sets[s].v);
	if (R->have_queries)
		vecs_free(&R->queries);
	for (size_t p = 0; p < SPEC_PHASES_MAX; p++) {
		free(R->acked[p]);
		free(R->order[p]);
	}
	hmap_release(&R->corpus_ids);
	for (uint64_t r = 0; R->corpus_names && r < R->sets[SPEC_SET_CORPUS].v.rows; r++)
		free(R->corpus_names[r]);
	free(R->corpus_names);
	free(R->tr);
	pthread_mutex_destroy(&R->journal_lock);
	pthread_mutex_destroy(&R->tr_lock);
}

int step_runbook_run(struct step_ctx *c, struct err *e)
{
	struct rb *R = xcalloc(1, sizeof(*R));
	R->c = c;
	R->book = &c->spec->runbook;
	pthread_mutex_init(&R->journal_lock, NULL);
	pthread_mutex_init(&R->tr_lock, NULL);
	int rc = rb_prepare(R, e);
	pthread_t tracer; /* one tracer thread for the whole runbook */
	int have_tracer = !rc && R->book->tracers > 0 && !pthread_create(&tracer, NULL, rb_tracer_main, R);
	for (size_t first = 0; !rc && first < R->book->n_phases;) {
		size_t end = first + 1;
		while (end < R->book->n_phases && R->book->phases[end].concurrent)
			end++;
		rc = run_stage(R, first, end, e);
		first = end;
	}
	if (have_tracer) {
		if (!rc) /* the last writes' tracers, up to the timeout */
			rb_tracers_drain(R, R->book->wait_timeout_ns);
		__atomic_store_n(&R->tr_stop, 1, __ATOMIC_SEQ_CST);
		pthread_join(tracer, NULL);
	}
	if (!rc)
		rc = rb_results(R, e);
	rb_release(R);
	free(R);
	return rc;
}
