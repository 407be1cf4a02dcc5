/*
 * runmetrics.c — the metrics of a stored run: exact percentiles from its
 * request records, and recall@k from what each recall returned.
 *
 * Percentiles, throughput and error rates come from analysis/metrics.c over
 * the loadtest artifact's records (warm-up excluded); so do late_rate (the
 * records' RECORD_F_LATE flag: the run's lateness bound, the same count as
 * the step's summary and the executor's saturation verdict) and the
 * client's wake-up error (client_wakeup_{p50,p99,max}_us, the lateness of
 * the records the executor had room for: how much of each latency is the
 * client's own). Recall@k is scored by
 * analysis/recall.c (its rules are in recall.h); this file gathers its
 * inputs from the run: the measured recalls that answered (query row from
 * the schedule, sent/done times, returned ids from the "hits" part), the
 * groundtruth artifact (exact top of the ingested sets per query), the load
 * test's stores (acknowledged, or failed in a way that may have applied
 * them) with their vectors regenerated bit-exactly from the spec
 * (steps_load_vector) and scored against the distinct queries in one block
 * product, so a minute-long 1000 ops/s run scores in about a second, and the
 * exact score (knn_score) of every returned base row outside the ground
 * truth's list, read row by row from the ingested sets. When nothing can be
 * scored, `recall_unscored` records why (recall_unscored_why turns it into
 * words for check, show and run).
 */
#include "engrave/runmetrics.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/knn.h"
#include "engrave/log.h"
#include "engrave/metrics.h"
#include "engrave/recall.h"
#include "engrave/records.h"
#include "engrave/sched.h"
#include "engrave/spec.h"
#include "engrave/steps.h"
#include "engrave/store.h"
#include "engrave/target.h"
#include "engrave/vec.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct digest *runmetrics_step_output(const struct run_record *r, const char *name)
{
	for (int i = 0; i < r->n_steps; i++)
		if (!strcmp(r->steps[i].name, name) && r->steps[i].n_out > 0 &&
		    (!strcmp(r->steps[i].state, "ran") || !strcmp(r->steps[i].state, "cached") ||
		     !strcmp(r->steps[i].state, "resumed")))
			return &r->steps[i].out[0];
	return NULL;
}

/* Read a whole part into a malloc'd buffer of exactly its size. */
static void *read_part(struct store *st, const struct artifact *a, const char *part, uint64_t *size, struct err *e)
{
	const struct digest *d = artifact_part(a, part);
	if (!d) {
		err_set(e, ERR_CORRUPT, "%s artifact has no '%s' part", a->type, part);
		return NULL;
	}
	struct obj_reader *r;
	if (obj_reader_open(st, d, &r, e))
		return NULL;
	*size = obj_reader_size(r);
	void *p = xalloc_try_array((size_t)*size + 8, 1, part, e);
	if (p && *size && obj_read_at(r, 0, p, (size_t)*size, e)) {
		free(p);
		p = NULL;
	}
	obj_reader_close(r);
	return p;
}

static void *read_vectors(struct store *st, const struct digest *d, uint64_t *rows, uint32_t *dim, struct err *e)
{
	struct artifact a;
	if (artifact_get(st, d, &a, e))
		return NULL;
	int64_t r = 0, dm = 0;
	artifact_get_int(&a, "rows", &r);
	artifact_get_int(&a, "dim", &dm);
	uint64_t size = 0;
	float *v = read_part(st, &a, "vectors", &size, e);
	artifact_release(&a);
	if (v && size != (uint64_t)r * (uint64_t)dm * 4) {
		free(v);
		err_set(e, ERR_CORRUPT, "vectors artifact: %llu bytes for %lld x %lld", (unsigned long long)size,
			(long long)r, (long long)dm);
		return NULL;
	}
	*rows = (uint64_t)r;
	*dim = (uint32_t)dm;
	return v;
}

static void put_metrics(struct run_record *rec, const struct metrics *m, uint64_t scheduled, int saturated)
{
	static const char *pk[METRICS_NPCT] = { "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "p9999_ms" };
	run_metric_set(rec, "requests", (double)scheduled);
	run_metric_set(rec, "measured_requests", (double)m->all.measured);
	if (m->all.measured == 0)
		return; /* nothing measured: no latency, rate or error figure exists (never 0) */
	for (int i = 0; i < METRICS_NPCT; i++)
		run_metric_set(rec, pk[i], (double)m->all.latency.pct[i] / 1e6);
	run_metric_set(rec, "max_ms", (double)m->all.latency.max / 1e6);
	run_metric_set(rec, "mean_ms", m->all.latency.mean / 1e6);
	run_metric_set(rec, "service_p50_ms", (double)m->all.service.pct[0] / 1e6);
	run_metric_set(rec, "service_p99_ms", (double)m->all.service.pct[3] / 1e6);
	static const char *opn[OP_KIND_COUNT] = { "store", "recall", "search" };
	char key[64];
	for (int k = 0; k < OP_KIND_COUNT; k++) {
		if (!m->op[k].measured)
			continue;
		snprintf(key, sizeof(key), "%s_p50_ms", opn[k]);
		run_metric_set(rec, key, (double)m->op[k].latency.pct[0] / 1e6);
		snprintf(key, sizeof(key), "%s_p99_ms", opn[k]);
		run_metric_set(rec, key, (double)m->op[k].latency.pct[3] / 1e6);
		snprintf(key, sizeof(key), "%s_count", opn[k]);
		run_metric_set(rec, key, (double)m->op[k].measured);
	}
	run_metric_set(rec, "throughput", m->throughput);
	run_metric_set(rec, "goodput", m->goodput);
	run_metric_set(rec, "error_rate", m->error_rate);
	double measured = m->all.measured ? (double)m->all.measured : 1;
	run_metric_set(rec, "late_rate", (double)m->all.late / measured);
	run_metric_set(rec, "drop_rate", (double)m->all.dropped / measured);
	run_metric_set(rec, "client_saturated", saturated ? 1 : 0);
	if (m->wakeup.count) { /* records from before RECORD_F_ROOM have none */
		run_metric_set(rec, "client_wakeup_p50_us", (double)m->wakeup.pct[0] / 1e3);
		run_metric_set(rec, "client_wakeup_p99_us", (double)m->wakeup.pct[3] / 1e3);
		run_metric_set(rec, "client_wakeup_max_us", (double)m->wakeup.max / 1e3);
	}
}

/* ---------------------------------------------------------------- */
/* recall@k: the scorer's inputs (recall.h) from what the run stored   */

/* Everything recall scoring reads or builds; released by rc_release. */
struct rc_data {
	float *q;                     /* queries nq x dim */
	uint64_t nq;
	uint32_t dim;
	uint64_t *hits;               /* [index][k ids] entries */
	size_t n_hits;
	uint64_t *gids, *gsorted;     /* ground truth nq x gk, and each row sorted */
	float *gsc;
	uint32_t *gcnt;
	int64_t gk;
	float *cent;                  /* for regenerating store vectors (may be NULL) */
	uint64_t n_cent;
	uint64_t *st_id, *st_acked, *st_maybe;
	size_t n_st;
	float *st_sc;                 /* nq x n_st */
	uint64_t *x_q, *x_id;         /* extra base rows (returned, outside the lists) */
	float *x_sc;
	size_t n_x;
	struct recall_answer *ans;
	size_t n_ans;
};

static void rc_release(struct rc_data *d)
{
	free(d->q);
	free(d->hits);
	free(d->gids);
	free(d->gsorted);
	free(d->gsc);
	free(d->gcnt);
	free(d->cent);
	free(d->st_id);
	free(d->st_acked);
	free(d->st_maybe);
	free(d->st_sc);
	free(d->x_q);
	free(d->x_id);
	free(d->x_sc);
	free(d->ans);
}

static enum knn_metric knn_metric_of(enum spec_space s)
{
	return s == SPEC_SPACE_L2 ? KNN_L2 : s == SPEC_SPACE_IP ? KNN_IP : KNN_COSINE;
}

/* A store that failed this way may still have been applied by the target. */
static int maybe_applied(uint8_t err)
{
	return err == RECORD_ERR_TIMEOUT || err == RECORD_ERR_TRANSPORT || err == RECORD_ERR_HTTP5XX ||
	       err == RECORD_ERR_PARSE;
}

/*
 * The load test's stores the target held or may have held: acknowledged
 * ones, and sent ones that failed in a way that may have applied them. Their
 * vectors are regenerated from the spec, their scores against every query
 * come from one block product (float; the scorer's slack covers it).
 */
static int cmp_store(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return x[0] < y[0] ? -1 : x[0] > y[0];
}

static int rc_stores(struct rc_data *d, const struct spec *sp, const struct records *recs, struct err *e)
{
	size_t n = 0;
	for (size_t i = 0; i < recs->n; i++) {
		const struct record *r = &recs->v[i];
		n += r->op == OP_STORE && (r->err == RECORD_ERR_NONE || maybe_applied(r->err));
	}
	if (!n)
		return 0;
	/* (id, acked, maybe-from) per store record; a repeated load test writes
	 * the same ids again, so each id keeps its earliest times */
	uint64_t *tri = xalloc_try_array(n, 3 * 8, "the load test's stores", e);
	if (!tri)
		return err_prefix(e, "recall");
	size_t m = 0;
	for (size_t i = 0; i < recs->n; i++) {
		const struct record *r = &recs->v[i];
		if (r->op != OP_STORE || !(r->err == RECORD_ERR_NONE || maybe_applied(r->err)))
			continue;
		tri[3 * m] = r->index | STEPS_STORE_FLAG;
		tri[3 * m + 1] = r->err == RECORD_ERR_NONE ? r->done : UINT64_MAX;
		tri[3 * m + 2] = r->sent;
		m++;
	}
	qsort(tri, n, 3 * 8, cmp_store);
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		if (u && tri[3 * (u - 1)] == tri[3 * i]) {
			uint64_t *k = tri + 3 * (u - 1);
			k[1] = tri[3 * i + 1] < k[1] ? tri[3 * i + 1] : k[1];
			k[2] = tri[3 * i + 2] < k[2] ? tri[3 * i + 2] : k[2];
			continue;
		}
		memmove(tri + 3 * u, tri + 3 * i, 3 * 8);
		u++;
	}
	n = u;
	d->n_st = n;
	float *vec = NULL, *qn = NULL, *sn = NULL;
	d->st_id = malloc(xalloc_mul(n, 8));
	d->st_acked = malloc(xalloc_mul(n, 8));
	d->st_maybe = malloc(xalloc_mul(n, 8));
	vec = malloc(xalloc_mul(xalloc_mul(n, d->dim), 4));
	d->st_sc = malloc(xalloc_mul(xalloc_mul(d->nq, n), 4));
	if (!d->st_id || !d->st_acked || !d->st_maybe || !vec || !d->st_sc) {
		free(vec);
		free(tri);
		return err_set(e, ERR_NOSPACE, "recall: out of memory scoring %llu queries against %zu stored vectors",
			       (unsigned long long)d->nq, n);
	}
	struct steps_loadvec lv;
	steps_loadvec_init(&lv, sp, d->cent, (uint32_t)d->n_cent, d->dim);
	for (size_t j = 0; j < n; j++) { /* ids sorted */
		d->st_id[j] = tri[3 * j];
		d->st_acked[j] = tri[3 * j + 1];
		d->st_maybe[j] = tri[3 * j + 2];
		steps_load_vector(&lv, tri[3 * j] & ~STEPS_STORE_FLAG, vec + j * d->dim, NULL, 0); /* a store's arg is its index */
	}
	free(tri);
	enum spec_space space = sp->target.hnsw.space;
	int rc = 0;
	if (space == SPEC_SPACE_COSINE) {
		qn = malloc(xalloc_mul(d->nq + 1, 4));
		sn = malloc(xalloc_mul(n + 1, 4));
		if (!qn || !sn) {
			rc = err_set(e, ERR_NOSPACE, "recall: out of memory for the norms of %llu vectors",
				     (unsigned long long)(d->nq + n));
			goto out;
		}
		vec_sqnorms(d->q, (size_t)d->nq, d->dim, qn);
		vec_sqnorms(vec, n, d->dim, sn);
		for (uint64_t i = 0; i < d->nq; i++)
			qn[i] = sqrtf(qn[i]);
		for (size_t i = 0; i < n; i++)
			sn[i] = sqrtf(sn[i]);
		vec_cos_block(d->q, (size_t)d->nq, qn, vec, n, sn, d->dim, d->st_sc);
	} else {
		vec_ip_block(d->q, (size_t)d->nq, vec, n, d->dim, d->st_sc);
		if (space == SPEC_SPACE_L2)
			for (uint64_t i = 0; i < d->nq; i++) {
				double qq = vec_sqnorm_f64(d->q + i * d->dim, d->dim);
				for (size_t j = 0; j < n; j++) {
					double ss = vec_sqnorm_f64(vec + j * d->dim, d->dim);
					d->st_sc[i * n + j] = (float)-(qq + ss - 2.0 * d->st_sc[i * n + j]);
				}
			}
	}
out:
	free(vec);
	free(qn);
	free(sn);
	return rc;
}

/* The measured recalls that answered: (query, times, returned ids). */
static int rc_answers(struct rc_data *d, const struct sched *S, const struct records *recs, int k, struct err *e)
{
	size_t stride = (size_t)k + 1;
	if (!(d->ans = xalloc_try_array(d->n_hits + 1, sizeof(*d->ans), "the recall answers", e)))
		return err_prefix(e, "recall");
	for (size_t h = 0; h < d->n_hits; h++) {
		const uint64_t *ent = d->hits + h * stride;
		/* the key: request index | repeat << STEPS_HITS_REPEAT_SHIFT (steps.h) */
		uint64_t idx = ent[0] & ((1ULL << STEPS_HITS_REPEAT_SHIFT) - 1), rep = ent[0] >> STEPS_HITS_REPEAT_SHIFT;
		size_t lo = 0, hi = recs->n; /* its record: records are sorted by (repeat, index) */
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			const struct record *x = &recs->v[mid];
			if (x->repeat < rep || (x->repeat == rep && x->index < idx))
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo >= recs->n || recs->v[lo].index != idx || recs->v[lo].repeat != rep)
			continue;
		const struct record *r = &recs->v[lo];
		struct sched_op op;
		if (r->op != OP_RECALL || r->err != RECORD_ERR_NONE || (r->flags & RECORD_F_WARMUP) ||
		    sched_next_due(S, idx, &op))
			continue;
		d->ans[d->n_ans++] = (struct recall_answer){ op.arg % d->nq, r->sent, r->done, r->n_ids, ent + 1 };
	}
	return 0;
}

static int cmp_pair(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Whether base row id is in the ground-truth list of query q. */
static int row_listed(const struct rc_data *d, uint64_t q, uint64_t id)
{
	size_t n = d->gcnt[q] < d->gk ? d->gcnt[q] : (size_t)d->gk;
	return bsearch(&id, d->gsorted + q * (uint64_t)d->gk, n, 8, cmp_u64) != NULL;
}

/* The base sets' vectors, to score single rows (struct base_rows). */
struct base_rows {
	struct obj_reader *r[2];
	uint64_t rows[2];
	size_t n;
};

static int base_open(struct base_rows *b, struct store *st, const struct run_record *rec, const struct spec *sp,
		     uint32_t dim, struct err *e)
{
	memset(b, 0, sizeof(*b));
	enum spec_set sets[2];
	size_t n = steps_base_sets(sp, sets);
	for (size_t i = 0; i < n; i++) {
		const char *name = steps_set_step_name(sp, sets[i]);
		const struct digest *vd = name ? runmetrics_step_output(rec, name) : NULL;
		if (!vd)
			continue;
		struct artifact a;
		if (artifact_get(st, vd, &a, e))
			return -1;
		int64_t rows = 0, dm = 0;
		artifact_get_int(&a, "rows", &rows);
		artifact_get_int(&a, "dim", &dm);
		const struct digest *part = artifact_part(&a, "vectors");
		int rc = !part || (uint32_t)dm != dim
				 ? err_set(e, ERR_CORRUPT, "recall: the %s step's output is not a %u-d vectors artifact", name, dim)
				 : obj_reader_open(st, part, &b->r[b->n], e);
		artifact_release(&a);
		if (rc)
			return -1;
		b->rows[b->n++] = (uint64_t)rows;
	}
	return 0;
}

static void base_close(struct base_rows *b)
{
	for (size_t i = 0; i < b->n; i++)
		obj_reader_close(b->r[i]);
}

static int base_read(struct base_rows *b, uint64_t row, float *out, uint32_t dim, struct err *e)
{
	for (size_t i = 0; i < b->n; row -= b->rows[i], i++)
		if (row < b->rows[i])
			return obj_read_at(b->r[i], row * dim * 4, out, (size_t)dim * 4, e);
	return err_set(e, ERR_CORRUPT, "recall: base row %llu is past the ingested sets", (unsigned long long)row);
}

/*
 * The returned base rows outside the ground-truth list of their query get
 * their exact score (knn_score, the bits the groundtruth step would give), so
 * a row tied with the k-th one beyond the list's depth is scored right.
 */
static int rc_extras(struct rc_data *d, struct store *st, const struct run_record *rec, const struct spec *sp,
		     int k, struct err *e)
{
	size_t n = 0, cap = 0;
	uint64_t *pairs = NULL;
	for (size_t i = 0; i < d->n_ans; i++) {
		const struct recall_answer *a = &d->ans[i];
		for (uint32_t j = 0; j < a->n_got && j < (uint32_t)k; j++) {
			uint64_t id = a->got[j];
			if (id == RECALL_NONE || (id & STEPS_STORE_FLAG) || row_listed(d, a->q, id))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				uint64_t *np = xalloc_try_resize(pairs, cap, 16, "the returned rows to score", e);
				if (!np) {
					free(pairs);
					return err_prefix(e, "recall");
				}
				pairs = np;
			}
			pairs[2 * n] = a->q;
			pairs[2 * n + 1] = id;
			n++;
		}
	}
	if (!n)
		return 0;
	qsort(pairs, n, 16, cmp_pair);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (!u || cmp_pair(pairs + 2 * i, pairs + 2 * (u - 1)))
			memmove(pairs + 2 * u++, pairs + 2 * i, 16);
	struct base_rows b;
	float *row = xmalloc_array(d->dim, sizeof(float)); /* one vector */
	int rc = -1;
	d->x_q = malloc(xalloc_mul(u, 8));
	d->x_id = malloc(xalloc_mul(u, 8));
	d->x_sc = malloc(xalloc_mul(u, 4));
	if (!d->x_q || !d->x_id || !d->x_sc) {
		err_set(e, ERR_NOSPACE, "recall: out of memory for %zu returned rows", u);
		goto out;
	}
	if (base_open(&b, st, rec, sp, d->dim, e))
		goto close;
	enum knn_metric m = knn_metric_of(sp->target.hnsw.space);
	for (size_t i = 0; i < u; i++) {
		if (base_read(&b, pairs[2 * i + 1], row, d->dim, e))
			goto close;
		d->x_q[i] = pairs[2 * i];
		d->x_id[i] = pairs[2 * i + 1];
		d->x_sc[i] = (float)knn_score(m, d->q + pairs[2 * i] * d->dim, row, d->dim);
	}
	d->n_x = u;
	rc = 0;
close:
	base_close(&b);
out:
	free(row);
	free(pairs);
	return rc;
}

/* Read the queries, what the recalls returned and the ground truth. */
static int rc_read(struct rc_data *d, struct store *st, const struct artifact *la, const struct digest *qd,
		   const struct digest *gd, int k, struct err *e)
{
	uint64_t hsize = 0, s1, s2, s3;
	if (!(d->q = read_vectors(st, qd, &d->nq, &d->dim, e)) || !(d->hits = read_part(st, la, "hits", &hsize, e)))
		return -1;
	d->n_hits = (size_t)(hsize / (((uint64_t)k + 1) * 8));
	struct artifact ga;
	if (artifact_get(st, gd, &ga, e))
		return -1;
	int64_t gnq = 0;
	artifact_get_int(&ga, "k", &d->gk);
	artifact_get_int(&ga, "nq", &gnq);
	d->gids = read_part(st, &ga, "ids", &s1, e);
	d->gsc = d->gids ? read_part(st, &ga, "scores", &s2, e) : NULL;
	d->gcnt = d->gsc ? read_part(st, &ga, "counts", &s3, e) : NULL;
	artifact_release(&ga);
	if (!d->gcnt)
		return -1;
	uint64_t cells = (uint64_t)gnq * (uint64_t)(d->gk > 0 ? d->gk : 0);
	if ((uint64_t)gnq != d->nq || s1 != cells * 8 || s2 != cells * 4 || s3 != (uint64_t)gnq * 4)
		return err_set(e, ERR_CORRUPT, "groundtruth artifact: %lld queries of depth %lld in %llu/%llu/%llu bytes, "
			       "the queries step made %llu", (long long)gnq, (long long)d->gk, (unsigned long long)s1,
			       (unsigned long long)s2, (unsigned long long)s3, (unsigned long long)d->nq);
	if (!(d->gsorted = xalloc_try_array((size_t)cells + 1, 8, "the sorted ground truth", e)))
		return err_prefix(e, "recall");
	memcpy(d->gsorted, d->gids, (size_t)cells * 8);
	for (uint64_t i = 0; i < d->nq; i++)
		qsort(d->gsorted + i * (uint64_t)d->gk, d->gcnt[i] < d->gk ? d->gcnt[i] : (size_t)d->gk, 8, cmp_u64);
	return 0;
}

/*
 * recall, recall_p05, recall_scored, recall_no_truth, and recall_unscored
 * (enum recall_unscored) when nothing could be scored. A spec without
 * queries and groundtruth steps gets no recall metric: recall_unscored_why
 * says so from the spec.
 */
/* rec's metric `prefix` + `name` (a sweep phase's "sweep.ef_search=64." or ""). */
static void set_prefixed(struct run_record *rec, const char *prefix, const char *name, double v)
{
	char key[96];
	snprintf(key, sizeof(key), "%s%s", prefix, name);
	run_metric_set(rec, key, v);
}

static int recall_metrics(struct store *st, struct run_record *rec, const struct spec *sp, const struct artifact *la,
			  const struct records *recs, const char *prefix, struct err *e)
{
	int64_t k = 0;
	double thr = 0;
	artifact_get_int(la, "k", &k);
	artifact_get_f64(la, "threshold", &thr);
	const struct digest *qd = runmetrics_step_output(rec, "queries"), *gd = runmetrics_step_output(rec, "groundtruth");
	if (!qd || !gd || k <= 0 || !artifact_part(la, "hits"))
		return 0;
	struct rc_data d;
	memset(&d, 0, sizeof(d));
	int rc = -1;
	if (rc_read(&d, st, la, qd, gd, (int)k, e))
		goto out;
	if (d.gk < k) {
		set_prefixed(rec, prefix, "recall_scored", 0);
		set_prefixed(rec, prefix, "recall_unscored", RECALL_UNSCORED_SHALLOW);
		rc = 0;
		goto out;
	}
	uint32_t cdim = 0;
	const struct digest *cd = runmetrics_step_output(rec, "centroids");
	if (cd && !(d.cent = read_vectors(st, cd, &d.n_cent, &cdim, e)))
		goto out;
	struct sched_params spp;
	sched_params_from_spec(&sp->loadtest, sp->seed, &spp);
	spp.n_queries = d.nq;
	struct sched S;
	if (sched_init(&S, &spp, e) || rc_answers(&d, &S, recs, (int)k, e) || rc_extras(&d, st, rec, sp, (int)k, e) ||
	    rc_stores(&d, sp, recs, e))
		goto out;
	struct recall_input in = {
		.space = sp->target.hnsw.space, .k = (int)k, .threshold = (float)thr, .tol = 4 * vec_margin(d.dim),
		.nq = d.nq, .depth = (uint32_t)d.gk, .ids = d.gids, .scores = d.gsc, .counts = d.gcnt,
		.n_extra = d.n_x, .extra_q = d.x_q, .extra_id = d.x_id, .extra_score = d.x_sc,
		.n_st = d.n_st, .st_id = d.st_id, .st_acked = d.st_acked, .st_maybe_from = d.st_maybe,
		.st_scores = d.st_sc, .n_ans = d.n_ans, .ans = d.ans,
	};
	struct recall_result res;
	if (recall_score(&in, &res, NULL, e))
		goto out;
	if (res.scored) {
		set_prefixed(rec, prefix, "recall", res.mean);
		set_prefixed(rec, prefix, "recall_p05", res.p05);
	} else {
		set_prefixed(rec, prefix, "recall_unscored", d.n_ans ? RECALL_UNSCORED_NO_TRUTH : RECALL_UNSCORED_NO_ANSWERS);
	}
	set_prefixed(rec, prefix, "recall_scored", (double)res.scored);
	set_prefixed(rec, prefix, "recall_no_truth", (double)res.no_truth);
	if (res.foreign)
		log_warn("recall: the target returned %llu ids that are neither ingested rows nor this run's stores "
			 "(counted as misses): does its space hold other data?", (unsigned long long)res.foreign);
	rc = 0;
out:
	rc_release(&d);
	return rc;
}

/* A loadtest artifact's records, in (repeat, index) order, and where each of
 * its repeats started (part "repeat_t0"; an artifact from before repeats has
 * neither it nor "repeats": one repeat at 0). */
struct lt_records {
	struct records recs;
	uint64_t *t0_ns;
	uint32_t repeats;
	int64_t warm, dur;
};

static void lt_records_release(struct lt_records *l)
{
	records_release(&l->recs);
	free(l->t0_ns);
	memset(l, 0, sizeof(*l));
}

/* Part "repeat_t0": n little-endian u64, each repeat's start in ns after t0. */
/*
 * Where each repeat started, from records sorted by (repeat, index): the
 * schedule is the same in every repeat, so request i of repeat r was due
 * exactly t0[r] after request i of repeat 0. For artifacts written without
 * a "repeat_t0" part.
 */
static int derive_repeat_t0(const struct records *a, uint64_t *t0, uint32_t n, struct err *e)
{
	size_t n0 = 0;
	while (n0 < a->n && a->v[n0].repeat == 0)
		n0++;
	for (size_t i = n0; i < a->n; i++) {
		const struct record *x = &a->v[i];
		if (x->repeat >= n || (i > n0 && a->v[i - 1].repeat == x->repeat))
			continue; /* metrics_from_repeats reports the first; only each repeat's first counts */
		size_t lo = 0, hi = n0;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (a->v[mid].index < x->index)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == n0 || a->v[lo].index != x->index || x->intended < a->v[lo].intended)
			return err_set(e, ERR_CORRUPT, "loadtest artifact: repeat %u's request %llu has no match in repeat 0",
				       x->repeat, (unsigned long long)x->index);
		t0[x->repeat] = x->intended - a->v[lo].intended;
	}
	return 0;
}

/* Part "repeat_t0": n little-endian u64, each repeat's start in ns after t0. */
static int read_repeat_t0(struct store *st, const struct artifact *a, uint64_t *t0, int64_t n, struct err *e)
{
	uint64_t size = 0;
	uint8_t *t = read_part(st, a, "repeat_t0", &size, e);
	if (!t)
		return -1;
	int rc = size == (uint64_t)n * 8 ? 0
					 : err_set(e, ERR_CORRUPT, "loadtest artifact: %llu bytes of repeat starts for %lld repeats",
						   (unsigned long long)size, (long long)n);
	for (int64_t r = 0; !rc && r < n; r++)
		for (int b = 7; b >= 0; b--)
			t0[r] = t0[r] << 8 | t[8 * r + b];
	free(t);
	return rc;
}

static int lt_records_load(struct store *st, const struct artifact *a, struct lt_records *l, struct err *e)
{
	memset(l, 0, sizeof(*l));
	records_init(&l->recs);
	int64_t n = 1;
	artifact_get_int(a, "repeats", &n);
	artifact_get_int(a, "warmup_ns", &l->warm);
	artifact_get_int(a, "duration_ns", &l->dur);
	if (n < 1 || n > 100000)
		return err_set(e, ERR_CORRUPT, "loadtest artifact: %lld repeats", (long long)n);
	l->repeats = (uint32_t)n;
	l->t0_ns = xcalloc((size_t)n, sizeof(uint64_t)); /* bounded just above */
	uint64_t size = 0;
	void *rb = read_part(st, a, "records", &size, e);
	int rc = !rb || records_decode(rb, (size_t)size, &l->recs, e) ? -1 : 0;
	free(rb);
	if (rc)
		return -1;
	records_sort_by_index(&l->recs);
	if (artifact_part(a, "repeat_t0"))
		return read_repeat_t0(st, a, l->t0_ns, n, e);
	return n > 1 ? derive_repeat_t0(&l->recs, l->t0_ns, l->repeats, e) : 0;
}

/* Exact metrics of one phase artifact (records part), pooled over its repeats;
 * with `rec`, its recall too, as metrics named `prefix` + "recall"... */
static int phase_metrics(struct store *st, const struct digest *d, struct metrics *m, struct run_record *rec,
			 const struct spec *sp, const char *prefix, struct err *e)
{
	struct artifact a;
	if (artifact_get(st, d, &a, e))
		return -1;
	struct lt_records l;
	int rc = lt_records_load(st, &a, &l, e) ||
		 metrics_from_repeats(l.recs.v, l.recs.n, (uint64_t)l.warm, (uint64_t)l.dur, l.t0_ns, l.repeats, m, e) ||
		 (rec && sp && recall_metrics(st, rec, sp, &a, &l.recs, prefix, e));
	lt_records_release(&l);
	artifact_release(&a);
	return rc ? -1 : 0;
}

/*
 * A sweep: per phase "sweep.<kind>=<value>.{p50_ms,p99_ms,throughput,
 * error_rate}" and, where queries and ground truth exist, its recall
 * ("sweep.<kind>=<value>.recall", ...: the recall-QPS curve of an
 * ef_search sweep); for a rate sweep with an SLO, "max_rate_under_slo" = the
 * highest swept rate whose exact p99 is within the SLO with no errors.
 */
static int sweep_metrics(struct store *st, struct run_record *rec, const struct spec *sp, const struct artifact *sw,
			 struct err *e)
{
	const char *kind = artifact_get_str(sw, "kind");
	int64_t phases = 0;
	double slo = 0, best = -1;
	artifact_get_int(sw, "phases", &phases);
	artifact_get_f64(sw, "slo_p99_ms", &slo);
	int by_rate = kind && !strcmp(kind, "rate");
	char name[32], key[64];
	for (int64_t i = 0; i < phases; i++) {
		snprintf(name, sizeof(name), "phase-%02d", (int)i);
		const struct digest *d = artifact_part(sw, name);
		double value = 0;
		snprintf(name, sizeof(name), "value-%02d", (int)i);
		artifact_get_f64(sw, name, &value);
		const char *k = kind ? kind : "concurrency";
		char prefix[64];
		snprintf(prefix, sizeof(prefix), "sweep.%s=%g.", k, value);
		struct metrics m;
		if (!d || phase_metrics(st, d, &m, rec, sp, prefix, e))
			return d ? -1 : err_set(e, ERR_CORRUPT, "sweep artifact lacks phase %d", (int)i);
		double p99 = (double)m.all.latency.pct[3] / 1e6;
		snprintf(key, sizeof(key), "sweep.%s=%g.p50_ms", k, value);
		run_metric_set(rec, key, (double)m.all.latency.pct[0] / 1e6);
		snprintf(key, sizeof(key), "sweep.%s=%g.p99_ms", k, value);
		run_metric_set(rec, key, p99);
		snprintf(key, sizeof(key), "sweep.%s=%g.throughput", k, value);
		run_metric_set(rec, key, m.throughput);
		snprintf(key, sizeof(key), "sweep.%s=%g.error_rate", k, value);
		run_metric_set(rec, key, m.error_rate);
		if (by_rate && slo > 0 && p99 <= slo && m.error_rate == 0 && value > best)
			best = value;
	}
	if (by_rate && slo > 0)
		run_metric_set(rec, "max_rate_under_slo", best > 0 ? best : 0);
	run_metric_set(rec, "sweep_phases", (double)phases);
	return 0;
}

int runmetrics_phase(struct store *st, const struct digest *loadtest, struct metrics *m, struct err *e)
{
	return phase_metrics(st, loadtest, m, NULL, NULL, "", e);
}

int runmetrics_engram_report(struct store *st, const struct run_record *rec, struct buf *out, struct err *e)
{
	const struct digest *ld = runmetrics_step_output(rec, "loadtest");
	if (!ld) {
		err_set(e, ERR_MISSING, "run %s has no finished loadtest step", rec->id);
		return err_hint(e, "only runs whose spec has steps.loadtest can be exported as an Engram report");
	}
	struct artifact la;
	if (artifact_get(st, ld, &la, e))
		return -1;
	if (!strcmp(la.type, "loadtest-sweep")) {
		artifact_release(&la);
		err_set(e, ERR_UNSUPPORTED, "run %s is a sweep; Engram's report describes one load phase", rec->id);
		return err_hint(e, "run the phase you want as a spec without loadtest.concurrency/rates");
	}
	artifact_release(&la);
	struct metrics m;
	if (phase_metrics(st, ld, &m, NULL, NULL, "", e))
		return -1;
	return metrics_engram_report_json(&m, rec->spec_name, out, e);
}

int runmetrics_missing(const struct spec *sp, const struct run_record *rec, char *out, size_t cap)
{
	static const char *const phase[] = { "throughput", "error_rate", "p50_ms", "p99_ms", NULL };
	static const char *const sweep[] = { "sweep_phases", NULL };
	if (cap)
		out[0] = '\0';
	if (!sp || !sp->loadtest.present)
		return 0;
	const char *const *need = spec_loadtest_sweeps(&sp->loadtest) ? sweep : phase;
	int missing = 0;
	size_t used = 0;
	for (; *need; need++) {
		int have = 0;
		for (int i = 0; i < rec->n_metrics && !have; i++)
			have = !strcmp(rec->metrics[i].key, *need) && isfinite(rec->metrics[i].value);
		if (have)
			continue;
		missing++;
		if (used < cap) {
			int w = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", *need);
			used = w > 0 ? used + (size_t)w : used;
		}
	}
	for (int i = 0; missing && i < rec->n_metrics; i++)
		if (!strcmp(rec->metrics[i].key, "measured_requests") && rec->metrics[i].value == 0 && used < cap)
			snprintf(out + used, cap - used, " (the load test measured no request after warm-up)");
	return missing;
}

/* The machine's noise floor the loadtest step recorded (util/sysnoise.h),
 * under the same names; a field it could not read is absent. */
static void put_noise_metrics(struct run_record *rec, const struct artifact *a)
{
	static const char *const keys[] = { "noise.load1_before", "noise.load1_after", "noise.ncpu",
					    "noise.cpu_mhz", "noise.steal_pct", "noise.other_cpu_pct",
					    "noise.mem_available_mb", "noise.cpu_speed_before", "noise.cpu_speed_after" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		double v;
		if (!artifact_get_f64(a, keys[i], &v))
			run_metric_set(rec, keys[i], v);
	}
}

int runmetrics_compute(struct store *st, struct run_record *rec, struct err *e)
{
	const struct digest *ld = runmetrics_step_output(rec, "loadtest");
	if (!ld)
		return 0;
	int rc = -1;
	struct spec *sp = NULL;
	struct artifact la;
	int have_la = 0;
	struct lt_records l;
	memset(&l, 0, sizeof(l));
	if (!rec->spec_text || target_spec_load_stored(rec->spec_text, strlen(rec->spec_text), rec->id, &sp, e))
		goto out;
	if (artifact_get(st, ld, &la, e))
		goto out;
	have_la = 1;
	put_noise_metrics(rec, &la);
	if (!strcmp(la.type, "loadtest-sweep")) {
		rc = sweep_metrics(st, rec, sp, &la, e);
		goto out;
	}
	if (lt_records_load(st, &la, &l, e))
		goto out;
	int64_t sched_n = 0, sat = 0;
	artifact_get_int(&la, "scheduled", &sched_n);
	artifact_get_int(&la, "saturated", &sat);
	struct metrics m;
	if (metrics_from_repeats(l.recs.v, l.recs.n, (uint64_t)l.warm, (uint64_t)l.dur, l.t0_ns, l.repeats, &m, e))
		goto out;
	put_metrics(rec, &m, (uint64_t)sched_n, (int)sat);
	if (l.repeats > 1)
		run_metric_set(rec, "repeats", (double)l.repeats);

	rc = recall_metrics(st, rec, sp, &la, &l.recs, "", e);
out:
	lt_records_release(&l);
	if (have_la)
		artifact_release(&la);
	spec_free(sp);
	return rc;
}
