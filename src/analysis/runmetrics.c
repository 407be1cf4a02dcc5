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
 * client's own). Recall@k scores each
 * measured recall against the exact top-k over the data the target held
 * when the query was sent: the ingested sets (the groundtruth artifact,
 * computed over them) merged with the load test's own stores that were
 * acknowledged before the query left, keeping only scores >= the recall
 * threshold (Engram returns max(0, cos) >= t). The store vectors are
 * regenerated bit-exactly from the spec (steps_load_vector), and their
 * scores against the distinct queries come from one block product, so a
 * minute-long 1000 ops/s run scores in about a second. recall@k =
 * |returned ∩ truth| / |truth|; recalls whose truth is empty are not scored
 * (recall_scored says how many were).
 */
#include "engrave/runmetrics.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/metrics.h"
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

static const struct digest *step_out(const struct run_record *r, const char *name)
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
/* recall@k                                                           */

struct cand {
	float score;
	uint64_t id;
};

static int cand_better(const struct cand *a, const struct cand *b)
{
	return a->score > b->score || (a->score == b->score && a->id < b->id);
}

static void topk_insert(struct cand *top, int *n, int k, struct cand c)
{
	if (*n == k && !cand_better(&c, &top[k - 1]))
		return;
	int i = *n < k ? (*n)++ : k - 1;
	while (i > 0 && cand_better(&c, &top[i - 1])) {
		top[i] = top[i - 1];
		i--;
	}
	top[i] = c;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct recall_in {
	const struct spec *sp;
	const struct sched *S;
	const struct record *rec;
	size_t n_rec;
	const uint64_t *hits;        /* [index][k ids] entries */
	size_t n_hits;
	int k;
	float threshold;
	const float *q;              /* queries nq x dim */
	uint64_t nq;
	uint32_t dim;
	const uint64_t *gids;        /* groundtruth nq x gk */
	const float *gsc;
	const uint32_t *gcnt;
	int gk;
	const float *cent;           /* for regenerating store vectors (may be NULL) */
	uint32_t n_cent;
};

static int score_recall(const struct recall_in *in, double *mean, double *p05, uint64_t *scored, struct err *e)
{
	*scored = 0;
	int k = in->k;
	size_t stride = (size_t)k + 1;
	uint64_t n_ops = sched_count(in->S);
	/* acknowledged stores: op index == store ordinal */
	uint64_t *done_of = calloc(n_ops + 1, 8);
	if (!done_of)
		return err_set(e, ERR_NOSPACE, "recall: out of memory for %llu operations", (unsigned long long)n_ops);
	uint64_t n_st = 0;
	for (size_t i = 0; i < in->n_rec; i++) {
		const struct record *r = &in->rec[i];
		if (r->op == OP_STORE && r->err == RECORD_ERR_NONE && r->index < n_ops) {
			done_of[r->index] = r->done + 1;
			n_st++;
		}
	}
	/* sized by the run's stores, records and queries: checked, an error */
	int rc = -1;
	float *qn = NULL, *sn = NULL;
	uint64_t *st_ord = malloc(xalloc_mul(n_st + 1, 8));
	float *st_vec = malloc(xalloc_mul(xalloc_mul(n_st ? n_st : 1, in->dim), 4));
	double *vals = malloc(xalloc_mul(in->n_rec + 1, sizeof(double)));
	struct cand *top = xmalloc_array((size_t)k, sizeof(*top));
	float *sc = n_st ? malloc(xalloc_mul(xalloc_mul(in->nq, n_st), 4)) : NULL;
	if (!st_ord || !st_vec || !vals || (n_st && !sc)) {
		err_set(e, ERR_NOSPACE, "recall: out of memory scoring %llu queries against %llu stored vectors",
			(unsigned long long)in->nq, (unsigned long long)n_st);
		goto out;
	}
	struct steps_loadvec lv;
	steps_loadvec_init(&lv, in->sp, in->cent, in->n_cent, in->dim);
	uint64_t m = 0;
	for (uint64_t j = 0; j < n_ops && m < n_st; j++)
		if (done_of[j]) {
			st_ord[m] = j;
			steps_load_vector(&lv, j, st_vec + m * in->dim, NULL, 0);
			m++;
		}
	if (n_st) {
		enum spec_space space = in->sp->target.hnsw.space;
		if (space == SPEC_SPACE_COSINE) {
			qn = malloc(xalloc_mul(in->nq + 1, 4));
			sn = malloc(xalloc_mul(n_st + 1, 4));
			if (!qn || !sn) {
				err_set(e, ERR_NOSPACE, "recall: out of memory for the norms of %llu vectors",
					(unsigned long long)(in->nq + n_st));
				goto out;
			}
			vec_sqnorms(in->q, (size_t)in->nq, in->dim, qn);
			vec_sqnorms(st_vec, n_st, in->dim, sn);
			for (uint64_t i = 0; i < in->nq; i++)
				qn[i] = sqrtf(qn[i]);
			for (uint64_t i = 0; i < n_st; i++)
				sn[i] = sqrtf(sn[i]);
			vec_cos_block(in->q, (size_t)in->nq, qn, st_vec, n_st, sn, in->dim, sc);
		} else {
			vec_ip_block(in->q, (size_t)in->nq, st_vec, n_st, in->dim, sc);
			if (space == SPEC_SPACE_L2)
				for (uint64_t i = 0; i < in->nq; i++) {
					double qq = vec_sqnorm_f64(in->q + i * in->dim, in->dim);
					for (uint64_t j = 0; j < n_st; j++) {
						double ss = vec_sqnorm_f64(st_vec + j * in->dim, in->dim);
						sc[i * n_st + j] = (float)-(qq + ss - 2.0 * sc[i * n_st + j]);
					}
				}
		}
	}
	size_t nv = 0;
	for (size_t h = 0; h < in->n_hits; h++) {
		const uint64_t *e = in->hits + h * stride;
		uint64_t idx = e[0];
		const uint64_t *got = e + 1;
		/* find the record of request idx (records are sorted by index) */
		size_t lo = 0, hi = in->n_rec;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (in->rec[mid].index < idx)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo >= in->n_rec || in->rec[lo].index != idx)
			continue;
		const struct record *r = &in->rec[lo];
		if (r->op != OP_RECALL || r->err != RECORD_ERR_NONE || (r->flags & RECORD_F_WARMUP))
			continue;
		struct sched_op op;
		if (sched_next_due(in->S, idx, &op))
			continue;
		uint64_t q = op.arg % in->nq;
		int nt = 0;
		for (int j = 0; j < (int)in->gcnt[q] && j < in->gk; j++) {
			float s = in->gsc[q * (uint64_t)in->gk + (uint64_t)j];
			if (s >= in->threshold)
				topk_insert(top, &nt, k, (struct cand){ s, in->gids[q * (uint64_t)in->gk + (uint64_t)j] });
		}
		for (uint64_t j = 0; j < n_st; j++) {
			if (done_of[st_ord[j]] - 1 >= r->sent) /* acknowledged after this query left */
				continue;
			float s = sc[q * n_st + j];
			if (s >= in->threshold)
				topk_insert(top, &nt, k, (struct cand){ s, st_ord[j] | STEPS_STORE_FLAG });
		}
		if (nt == 0)
			continue;
		int hit = 0;
		for (int a = 0; a < nt; a++)
			for (int b = 0; b < k; b++)
				if (got[b] == top[a].id) {
					hit++;
					break;
				}
		vals[nv++] = (double)hit / nt;
	}
	if (nv) {
		double sum = 0;
		for (size_t i = 0; i < nv; i++)
			sum += vals[i];
		*mean = sum / (double)nv;
		qsort(vals, nv, sizeof(double), cmp_double);
		*p05 = vals[(size_t)(0.05 * (double)(nv - 1))];
		*scored = nv;
	}
	rc = 0;
out:
	free(qn);
	free(sn);
	free(done_of);
	free(st_ord);
	free(st_vec);
	free(vals);
	free(top);
	free(sc);
	return rc;
}

/* Exact metrics of one phase artifact (records part). */
static int phase_metrics(struct store *st, const struct digest *d, struct metrics *m, struct err *e)
{
	struct artifact a;
	if (artifact_get(st, d, &a, e))
		return -1;
	struct records recs;
	records_init(&recs);
	uint64_t size = 0;
	int64_t warm = 0, dur = 0;
	artifact_get_int(&a, "warmup_ns", &warm);
	artifact_get_int(&a, "duration_ns", &dur);
	void *rb = read_part(st, &a, "records", &size, e);
	int rc = !rb || records_decode(rb, (size_t)size, &recs, e) ||
		 metrics_from_records(recs.v, recs.n, (uint64_t)warm, (uint64_t)dur, m, e);
	free(rb);
	records_release(&recs);
	artifact_release(&a);
	return rc ? -1 : 0;
}

/*
 * A sweep: per phase "sweep.<kind>=<value>.{p50_ms,p99_ms,throughput,
 * error_rate}"; for a rate sweep with an SLO, "max_rate_under_slo" = the
 * highest swept rate whose exact p99 is within the SLO with no errors.
 */
static int sweep_metrics(struct store *st, struct run_record *rec, const struct artifact *sw, struct err *e)
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
		struct metrics m;
		if (!d || phase_metrics(st, d, &m, e))
			return d ? -1 : err_set(e, ERR_CORRUPT, "sweep artifact lacks phase %d", (int)i);
		double p99 = (double)m.all.latency.pct[3] / 1e6;
		const char *k = by_rate ? "rate" : "concurrency";
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

int runmetrics_engram_report(struct store *st, const struct run_record *rec, struct buf *out, struct err *e)
{
	const struct digest *ld = step_out(rec, "loadtest");
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
	if (phase_metrics(st, ld, &m, e))
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
	const char *const *need = sp->loadtest.n_concurrency || sp->loadtest.n_rates ? sweep : phase;
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

int runmetrics_compute(struct store *st, struct run_record *rec, struct err *e)
{
	const struct digest *ld = step_out(rec, "loadtest");
	if (!ld)
		return 0;
	int rc = -1;
	struct spec *sp = NULL;
	struct artifact la;
	int have_la = 0;
	struct records recs;
	records_init(&recs);
	void *rbytes = NULL, *hits = NULL, *gids = NULL, *gsc = NULL, *gcnt = NULL;
	float *q = NULL, *cent = NULL;
	if (!rec->spec_text || target_spec_load_stored(rec->spec_text, strlen(rec->spec_text), rec->id, &sp, e))
		goto out;
	if (artifact_get(st, ld, &la, e))
		goto out;
	have_la = 1;
	if (!strcmp(la.type, "loadtest-sweep")) {
		rc = sweep_metrics(st, rec, &la, e);
		goto out;
	}
	uint64_t size = 0;
	if (!(rbytes = read_part(st, &la, "records", &size, e)) || records_decode(rbytes, (size_t)size, &recs, e))
		goto out;
	records_sort_by_index(&recs);
	int64_t warm = 0, dur = 0, sched_n = 0, sat = 0, k = 0;
	double thr = 0;
	artifact_get_int(&la, "warmup_ns", &warm);
	artifact_get_int(&la, "duration_ns", &dur);
	artifact_get_int(&la, "scheduled", &sched_n);
	artifact_get_int(&la, "saturated", &sat);
	artifact_get_int(&la, "k", &k);
	artifact_get_f64(&la, "threshold", &thr);
	struct metrics m;
	if (metrics_from_records(recs.v, recs.n, (uint64_t)warm, (uint64_t)dur, &m, e))
		goto out;
	put_metrics(rec, &m, (uint64_t)sched_n, (int)sat);

	const struct digest *qd = step_out(rec, "queries"), *gd = step_out(rec, "groundtruth");
	if (!qd || !gd || k <= 0 || !artifact_part(&la, "hits")) {
		rc = 0;
		goto out;
	}
	uint64_t nq = 0, hsize = 0;
	uint32_t dim = 0;
	if (!(q = read_vectors(st, qd, &nq, &dim, e)) || !(hits = read_part(st, &la, "hits", &hsize, e)))
		goto out;
	struct artifact ga;
	if (artifact_get(st, gd, &ga, e))
		goto out;
	int64_t gk = 0, gnq = 0;
	artifact_get_int(&ga, "k", &gk);
	artifact_get_int(&ga, "nq", &gnq);
	uint64_t s1, s2, s3;
	gids = read_part(st, &ga, "ids", &s1, e);
	gsc = gids ? read_part(st, &ga, "scores", &s2, e) : NULL;
	gcnt = gsc ? read_part(st, &ga, "counts", &s3, e) : NULL;
	artifact_release(&ga);
	if (!gcnt)
		goto out;
	if ((uint64_t)gnq != nq || gk < k) {
		log_warn("recall not scored: ground truth has %lld queries of depth %lld, the run asked k=%lld of %llu",
			 (long long)gnq, (long long)gk, (long long)k, (unsigned long long)nq);
		rc = 0;
		goto out;
	}
	uint64_t n_cent = 0;
	uint32_t cdim = 0;
	const struct digest *cd = step_out(rec, "centroids");
	if (cd && !(cent = read_vectors(st, cd, &n_cent, &cdim, e)))
		goto out;
	struct sched_params spp;
	sched_params_from_spec(&sp->loadtest, sp->seed, &spp);
	spp.n_queries = nq;
	struct sched S;
	if (sched_init(&S, &spp, e))
		goto out;
	struct recall_in in = { sp, &S, recs.v, recs.n, hits, (size_t)(hsize / (((uint64_t)k + 1) * 8)), (int)k,
				(float)thr, q, nq, dim, gids, gsc, gcnt, (int)gk, cent, (uint32_t)n_cent };
	double mean = NAN, p05 = NAN;
	uint64_t scored = 0;
	if (score_recall(&in, &mean, &p05, &scored, e))
		goto out;
	if (scored) {
		run_metric_set(rec, "recall", mean);
		run_metric_set(rec, "recall_p05", p05);
	}
	run_metric_set(rec, "recall_scored", (double)scored);
	rc = 0;
out:
	free(rbytes);
	free(hits);
	free(gids);
	free(gsc);
	free(gcnt);
	free(q);
	free(cent);
	records_release(&recs);
	if (have_la)
		artifact_release(&la);
	spec_free(sp);
	return rc;
}
