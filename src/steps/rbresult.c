/*
 * rbresult.c — a runbook's results, from its journal and stored searches.
 *
 * Versions: every key's life on the target, from the acknowledged writes in
 * acknowledgement order (RB_ACKS; an ingest step's sets are live from the
 * start). An insert opens a version with the key's vector, a replace closes
 * the live one and opens one with the new vector, a delete closes it. A
 * write counts from its acknowledgement: a search sent while a write was in
 * flight is scored without it (the target may or may not show it yet).
 *
 * Per search phase: each answered search's exact top-k over the versions
 * live at its send time (t0_unix + sent) is knn_timed's; its recall is the
 * share of that truth it returned (|hits ∩ truth| / |truth|, by key), and
 * the phase's recall the mean over its answered searches. Latency
 * percentiles (nearest rank over every record, errors and drops included:
 * DESIGN section 5) and throughput (answered searches per second of the
 * phase) sit beside it. Write phases report the rate they achieved.
 * Readiness: the tracers' journal (rbready.c).
 *
 * Output: run metrics runbook.<phase>.{recall,p50_ms,p99_ms,qps,errors},
 * runbook.<phase>.write_rate, runbook.recall_avg (big-ann's figure: the mean
 * over search phases), runbook.{searchable,gone}_{p50,p99,max}_ms and
 * runbook.tracers_timed_out; and artifact "runbook" v1 {steps.csv (one row
 * per phase), truth.<phase> (k u64 keys per record of that phase's search,
 * in its records' order, RB_NO_KEY padded)}.
 */
#include "runbook_int.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/knn_timed.h"
#include "engrave/log.h"
#include "engrave/records.h"
#include "engrave/sched.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ver {
	uint64_t key, vec_key;
	int64_t on, off;
};

struct versions {
	struct rb *R;
	struct ver *v;
	size_t n, cap;
	int64_t *live[2];          /* per set row: its live version, -1 none */
	int64_t *on, *off;         /* split out for knn_timed */
	/* per write phase: first send, last ack, batches */
	int64_t first_sent[SPEC_PHASES_MAX], last_ack[SPEC_PHASES_MAX];
	uint64_t batches[SPEC_PHASES_MAX];
	int64_t t_begin;           /* the earliest time seen: CSV times are after it */
};

struct ack_ev {
	int64_t ack, sent;
	uint16_t p;
	uint32_t b;
};

struct ev_list {
	struct ack_ev *v;
	size_t n, cap;
};

static int collect_ack(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct ev_list *l = ctx;
	if (kl != 6 || vl < 16)
		return 0;
	const uint8_t *kb = k;
	struct ack_ev ev = { 0, 0, (uint16_t)(kb[0] << 8 | kb[1]),
			     (uint32_t)kb[2] << 24 | (uint32_t)kb[3] << 16 | (uint32_t)kb[4] << 8 | kb[5] };
	memcpy(&ev.ack, v, 8);
	memcpy(&ev.sent, (const uint8_t *)v + 8, 8);
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = ev;
	return 0;
}

static int cmp_ev(const void *a, const void *b)
{
	const struct ack_ev *x = a, *y = b;
	if (x->ack != y->ack)
		return x->ack < y->ack ? -1 : 1;
	return x->p != y->p ? (x->p < y->p ? -1 : 1) : (x->b < y->b ? -1 : x->b > y->b);
}

static void close_live(struct versions *V, uint64_t key, int64_t t)
{
	int64_t *live = &V->live[key >> RB_SET_SHIFT][key & ((1ULL << RB_SET_SHIFT) - 1)];
	if (*live >= 0)
		V->v[*live].off = t;
	*live = -1;
}

static void open_version(struct versions *V, uint64_t key, uint64_t vec_key, int64_t t)
{
	close_live(V, key, t);
	if (V->n == V->cap) {
		V->cap = V->cap ? 2 * V->cap : 4096;
		V->v = xrealloc(V->v, V->cap * sizeof(*V->v));
	}
	V->live[key >> RB_SET_SHIFT][key & ((1ULL << RB_SET_SHIFT) - 1)] = (int64_t)V->n;
	V->v[V->n++] = (struct ver){ key, vec_key, t, INT64_MAX };
}

/* Apply one acknowledged batch. */
static void apply_batch(struct versions *V, const struct ack_ev *ev, uint64_t *keys, uint64_t *with)
{
	const struct spec_phase *ph = &V->R->book->phases[ev->p];
	size_t n = rb_batch_keys(V->R, ev->p, ev->b, keys, ph->kind == SPEC_PHASE_REPLACE ? with : NULL);
	for (size_t i = 0; i < n; i++) {
		if (ph->kind == SPEC_PHASE_DELETE)
			close_live(V, keys[i], ev->ack);
		else
			open_version(V, keys[i], ph->kind == SPEC_PHASE_REPLACE ? with[i] : keys[i], ev->ack);
	}
}

static int build_versions(struct versions *V, struct err *e)
{
	struct rb *R = V->R;
	for (unsigned s = 0; s < 2; s++) {
		uint64_t rows = R->sets[s].present ? R->sets[s].v.rows : 0;
		V->live[s] = xmalloc_array(rows ? (size_t)rows : 1, sizeof(int64_t));
		memset(V->live[s], 0xff, (rows ? (size_t)rows : 1) * sizeof(int64_t));
	}
	const struct spec *sp = R->c->spec;
	for (size_t i = 0; sp->ingest.present && i < sp->ingest.n_sets; i++) { /* loaded before the runbook */
		unsigned s = sp->ingest.sets[i];
		for (uint64_t r = 0; R->sets[s].present && r < R->sets[s].v.rows; r++)
			open_version(V, (uint64_t)s << RB_SET_SHIFT | r, (uint64_t)s << RB_SET_SHIFT | r, INT64_MIN);
	}
	struct ev_list l = { 0 };
	if (journal_iter(R->c->store, R->c->run_id, RB_ACKS, collect_ack, &l, e)) {
		free(l.v);
		return -1;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_ev);
	size_t bs = (size_t)R->book->batch_size;
	uint64_t *keys = xmalloc_array(bs, 2 * sizeof(uint64_t));
	V->t_begin = INT64_MAX;
	for (size_t i = 0; i < SPEC_PHASES_MAX; i++)
		V->first_sent[i] = INT64_MAX, V->last_ack[i] = INT64_MIN;
	for (size_t i = 0; i < l.n; i++) {
		const struct ack_ev *ev = &l.v[i];
		if (ev->p >= R->book->n_phases || ev->b >= R->n_batches[ev->p])
			continue;
		apply_batch(V, ev, keys, keys + bs);
		V->first_sent[ev->p] = ev->sent < V->first_sent[ev->p] ? ev->sent : V->first_sent[ev->p];
		V->last_ack[ev->p] = ev->ack > V->last_ack[ev->p] ? ev->ack : V->last_ack[ev->p];
		V->batches[ev->p]++;
		V->t_begin = ev->sent < V->t_begin ? ev->sent : V->t_begin;
	}
	free(keys);
	free(l.v);
	V->on = xmalloc_array(V->n ? V->n : 1, sizeof(int64_t));
	V->off = xmalloc_array(V->n ? V->n : 1, sizeof(int64_t));
	for (size_t i = 0; i < V->n; i++)
		V->on[i] = V->v[i].on, V->off[i] = V->v[i].off;
	return 0;
}

static const float *version_vec(void *ctx, size_t i)
{
	const struct versions *V = ctx;
	return rb_key_vec(V->R, V->v[i].vec_key);
}

static void versions_release(struct versions *V)
{
	free(V->v);
	free(V->live[0]);
	free(V->live[1]);
	free(V->on);
	free(V->off);
}

/* ---- one search phase ---------------------------------------------------------------- */

struct phase_res {
	int64_t start, end;        /* unix ns */
	uint64_t ops, errors;
	double throughput, p50_ms, p99_ms, recall;
	int has_recall;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(const uint64_t *sorted, size_t n, double q)
{
	if (!n)
		return 0;
	size_t rank = (size_t)ceil(q * (double)n);
	return (double)sorted[(rank ? rank : 1) - 1] / 1e6;
}

/* Latency percentiles and throughput of a phase's records. */
static void phase_latency(const struct records *rs, int64_t t0, uint64_t span_ns, struct phase_res *out)
{
	uint64_t *lat = xmalloc_array(rs->n ? rs->n : 1, sizeof(uint64_t));
	uint64_t ok = 0, last = 0;
	for (size_t i = 0; i < rs->n; i++) {
		lat[i] = record_latency_ns(&rs->v[i]);
		ok += rs->v[i].err == RECORD_ERR_NONE;
		last = rs->v[i].done > last ? rs->v[i].done : last;
	}
	qsort(lat, rs->n, sizeof(uint64_t), cmp_u64);
	out->ops = rs->n;
	out->errors = rs->n - ok;
	out->p50_ms = pct_ms(lat, rs->n, 0.50);
	out->p99_ms = pct_ms(lat, rs->n, 0.99);
	out->throughput = span_ns ? (double)ok / ((double)span_ns / 1e9) : 0;
	out->start = t0;
	out->end = t0 + (int64_t)(last > span_ns ? last : span_ns);
	free(lat);
}

/* The query of each answered record, its send time, then the exact truth
 * and the recall of what it returned. truth gets rs->n * k keys. */
static int phase_recall(struct versions *V, size_t p, const struct records *rs, const uint64_t *hits,
			int64_t t0, uint64_t *truth, struct phase_res *out, struct err *e)
{
	struct rb *R = V->R;
	const struct spec_phase *ph = &R->book->phases[p];
	uint32_t k = (uint32_t)ph->k, d = R->dim;
	uint64_t nq = ph->queries ? ph->queries : R->queries.rows;
	struct sched_params sp = { .pattern = SCHED_CONSTANT, .rate = ph->rate, .duration_ns = ph->duration_ns,
				   .seed = R->c->spec->seed + p, .n_queries = nq };
	sp.weight[OP_RECALL] = 1;
	struct sched sc;
	if (sched_init(&sc, &sp, e))
		return -1;
	size_t n = rs->n;
	float *q = xalloc_try_array(xalloc_mul(n ? n : 1, d), sizeof(float), "the runbook's queries", e);
	int64_t *qt = q ? xalloc_try_array(n ? n : 1, sizeof(int64_t), "the query times", e) : NULL;
	uint32_t *ids = qt ? xalloc_try_array(xalloc_mul(n ? n : 1, k), sizeof(uint32_t), "the ground truth", e) : NULL;
	uint32_t *nout = ids ? xalloc_try_array(n ? n : 1, sizeof(uint32_t), "the ground truth", e) : NULL;
	size_t *which = nout ? xalloc_try_array(n ? n : 1, sizeof(size_t), "the ground truth", e) : NULL;
	int rc = which ? 0 : -1;
	size_t m = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		struct sched_op op;
		if (rs->v[i].err != RECORD_ERR_NONE || sched_next_due(&sc, rs->v[i].index, &op))
			continue;
		memcpy(q + m * d, R->queries.v + (op.arg % nq % R->queries.rows) * d, d * sizeof(float));
		qt[m] = t0 + (int64_t)rs->v[i].sent;
		which[m++] = i;
	}
	enum spec_space space = R->c->spec->target.hnsw.space;
	enum knn_metric metric = space == SPEC_SPACE_L2 ? KNN_L2 : space == SPEC_SPACE_IP ? KNN_IP : KNN_COSINE;
	if (!rc)
		rc = knn_timed(q, qt, m, version_vec, V, V->on, V->off, V->n, d, k, metric, ids, nout, e);
	double sum = 0;
	for (size_t j = 0; !rc && j < m; j++) {
		size_t i = which[j];
		uint64_t *tr = truth + i * k;
		uint32_t hit = 0;
		for (uint32_t a = 0; a < nout[j]; a++) {
			tr[a] = V->v[ids[j * k + a]].key;
			for (uint32_t b = 0; b < k; b++)
				if (hits[rs->v[i].index * k + b] == tr[a]) {
					hit++;
					break;
				}
		}
		sum += nout[j] ? (double)hit / nout[j] : 1.0;
	}
	out->recall = m ? sum / (double)m : 0;
	out->has_recall = m > 0;
	free(q);
	free(qt);
	free(ids);
	free(nout);
	free(which);
	return rc;
}

static int search_results(struct versions *V, size_t p, struct artifact *outa, struct phase_res *out,
			  struct err *e)
{
	struct rb *R = V->R;
	struct artifact a;
	if (artifact_get(R->c->store, &R->search[p], &a, e))
		return -1;
	const struct digest *rd = artifact_part(&a, "records"), *hd = artifact_part(&a, "hits");
	struct buf rb, hb;
	buf_init(&rb, 0);
	buf_init(&hb, 0);
	struct records rs;
	records_init(&rs);
	int64_t t0 = 0, k = 0;
	artifact_get_int(&a, "t0_unix", &t0);
	artifact_get_int(&a, "k", &k);
	int rc = !rd || !hd ? err_set(e, ERR_CORRUPT, "runbook: phase %zu's searches lack records or hits", p) : 0;
	rc = rc || obj_get(R->c->store, rd, &rb, e) || obj_get(R->c->store, hd, &hb, e) ||
	     records_decode(rb.data, rb.len, &rs, e);
	uint64_t *truth = NULL;
	if (!rc && !(truth = xalloc_try_array(xalloc_mul(rs.n ? rs.n : 1, (size_t)k), 8, "the ground truth", e)))
		rc = -1;
	if (!rc) {
		memset(truth, 0xff, rs.n * (size_t)k * 8);
		phase_latency(&rs, t0, R->book->phases[p].duration_ns, out);
		rc = phase_recall(V, p, &rs, (const uint64_t *)hb.data, t0, truth, out, e);
	}
	char part[32];
	snprintf(part, sizeof(part), "truth.%zu", p);
	struct digest td;
	if (!rc)
		rc = obj_put(R->c->store, truth, rs.n * (size_t)k * 8, &td, e) ||
		     artifact_add_part(outa, part, &td, rs.n * (uint64_t)k * 8, e);
	free(truth);
	records_release(&rs);
	buf_release(&rb);
	buf_release(&hb);
	artifact_release(&a);
	return rc;
}

/* ---- readiness ------------------------------------------------------------------------ */

struct ready_acc {
	double *ms[2];
	size_t n[2], cap[2];
	uint64_t timed_out;
};

static int collect_ready(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	(void)k, (void)kl;
	struct ready_acc *a = ctx;
	if (vl != 10)
		return 0;
	const uint8_t *b = v;
	int del = b[0] != 0;
	if (!b[9]) {
		a->timed_out++;
		return 0;
	}
	if (a->n[del] == a->cap[del]) {
		a->cap[del] = a->cap[del] ? 2 * a->cap[del] : 64;
		a->ms[del] = xrealloc(a->ms[del], a->cap[del] * sizeof(double));
	}
	memcpy(&a->ms[del][a->n[del]++], b + 1, 8);
	return 0;
}

static int cmp_f64(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int readiness(struct rb *R, struct err *e)
{
	struct ready_acc a = { 0 };
	if (journal_iter(R->c->store, R->c->run_id, RB_READY, collect_ready, &a, e))
		return -1;
	static const char *const name[2] = { "searchable", "gone" };
	for (int d = 0; d < 2; d++) {
		if (!a.n[d])
			continue;
		qsort(a.ms[d], a.n[d], sizeof(double), cmp_f64);
		char key[64];
		size_t r50 = (size_t)ceil(0.5 * (double)a.n[d]), r99 = (size_t)ceil(0.99 * (double)a.n[d]);
		snprintf(key, sizeof(key), "runbook.%s_p50_ms", name[d]);
		steps_metric(R->c, key, a.ms[d][(r50 ? r50 : 1) - 1]);
		snprintf(key, sizeof(key), "runbook.%s_p99_ms", name[d]);
		steps_metric(R->c, key, a.ms[d][(r99 ? r99 : 1) - 1]);
		snprintf(key, sizeof(key), "runbook.%s_max_ms", name[d]);
		steps_metric(R->c, key, a.ms[d][a.n[d] - 1]);
		free(a.ms[d]);
	}
	if (a.n[0] || a.n[1] || a.timed_out)
		steps_metric(R->c, "runbook.tracers_timed_out", (double)a.timed_out);
	return 0;
}

/* ---- all of it ------------------------------------------------------------------------ */

static int csv_row(struct buf *csv, const struct rb *R, size_t p, const struct phase_res *r, int64_t t_begin,
		   uint64_t written, double write_rate, struct err *e)
{
	const struct spec_phase *ph = &R->book->phases[p];
	char rec[32] = "";
	if (r->has_recall)
		snprintf(rec, sizeof(rec), "%.6f", r->recall);
	double start = r->start ? (double)(r->start - t_begin) / 1e9 : 0, end = r->end ? (double)(r->end - t_begin) / 1e9 : 0;
	return buf_printf(csv, e, "%zu,%s,%d,%.3f,%.3f,%llu,%llu,%.3f,%.3f,%.3f,%s,%llu,%.1f\n", p,
			  spec_phase_kind_names[ph->kind], ph->concurrent, start, end > start ? end - start : 0,
			  (unsigned long long)r->ops, (unsigned long long)r->errors, r->throughput, r->p50_ms, r->p99_ms,
			  rec, (unsigned long long)written, write_rate);
}

#define RB_CSV_HEADER "phase,kind,concurrent,start_s,duration_s,searches,errors,qps,p50_ms,p99_ms,recall,written,write_rate\n"

int rb_results(struct rb *R, struct err *e)
{
	struct versions V = { .R = R };
	struct artifact out;
	artifact_init(&out, "runbook", 1);
	struct buf csv;
	buf_init(&csv, 0);
	struct phase_res res[SPEC_PHASES_MAX];
	memset(res, 0, sizeof(res));
	int rc = build_versions(&V, e) || buf_append_str(&csv, RB_CSV_HEADER, e);
	double recall_sum = 0;
	int n_recall = 0;
	for (size_t p = 0; !rc && p < R->book->n_phases; p++) {
		if (R->book->phases[p].kind != SPEC_PHASE_SEARCH || !R->search_done[p])
			continue;
		if ((rc = search_results(&V, p, &out, &res[p], e)))
			break;
		V.t_begin = res[p].start < V.t_begin ? res[p].start : V.t_begin;
		recall_sum += res[p].recall;
		n_recall += res[p].has_recall;
	}
	for (size_t p = 0; !rc && p < R->book->n_phases; p++) {
		const struct spec_phase *ph = &R->book->phases[p];
		uint64_t written = 0;
		double rate = 0;
		char key[64];
		if (ph->kind != SPEC_PHASE_SEARCH && ph->kind != SPEC_PHASE_WAIT && V.batches[p]) {
			written = ph->to - ph->from;
			res[p].start = V.first_sent[p];
			res[p].end = V.last_ack[p];
			rate = res[p].end > res[p].start ? (double)written / ((double)(res[p].end - res[p].start) / 1e9) : 0;
			snprintf(key, sizeof(key), "runbook.%zu.write_rate", p);
			steps_metric(R->c, key, rate);
		}
		if (ph->kind == SPEC_PHASE_SEARCH) {
			static const char *const f[] = { "recall", "p50_ms", "p99_ms", "qps", "errors" };
			double v[] = { res[p].recall, res[p].p50_ms, res[p].p99_ms, res[p].throughput, (double)res[p].errors };
			for (size_t i = 0; i < 5; i++) {
				snprintf(key, sizeof(key), "runbook.%zu.%s", p, f[i]);
				if (i || res[p].has_recall)
					steps_metric(R->c, key, v[i]);
			}
		}
		rc = csv_row(&csv, R, p, &res[p], V.t_begin == INT64_MAX ? 0 : V.t_begin, written, rate, e);
	}
	if (n_recall)
		steps_metric(R->c, "runbook.recall_avg", recall_sum / n_recall);
	struct digest cd;
	rc = rc || readiness(R, e) || obj_put(R->c->store, csv.data, csv.len, &cd, e) ||
	     artifact_add_part(&out, "steps.csv", &cd, csv.len, e) ||
	     artifact_set_f64(&out, "recall_avg", n_recall ? recall_sum / n_recall : 0, e) ||
	     artifact_put(R->c->store, &out, &R->c->out[0], e);
	if (!rc) {
		R->c->n_out = 1;
		snprintf(R->c->summary, sizeof(R->c->summary), "%zu phases, recall %.4f averaged over %d search phase%s",
			 R->book->n_phases, n_recall ? recall_sum / n_recall : 0, n_recall, n_recall == 1 ? "" : "s");
	}
	artifact_release(&out);
	buf_release(&csv);
	versions_release(&V);
	return rc;
}
