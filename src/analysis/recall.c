/*
 * recall.c — recall@k scoring (rules in recall.h) and the reason a run
 * could not be scored.
 *
 * One answer at a time:
 *   - the returned ids, sorted and deduplicated into a scratch table, get
 *     their score from whichever candidate they are: list and extra rows by
 *     binary search of each row in the sorted returned ids, stores by binary
 *     search of each returned id in the sorted store ids;
 *   - R's m best effective scores go through a min-heap of at most k (the
 *     list, the extra rows, the held stores, the returned maybe-held ones):
 *     its root is s_k, and every score above s_k is in it, so "R above the
 *     band" is counted there;
 *   - the returned ids above and in the band give the correct ones.
 * Cost per answer: O((depth + extras + n_st) log k + k log n_st), the order
 * of scanning every store once, which scoring "held when the query left"
 * needs anyway. Scratch (k ids, scores, flags; the values) is allocated once.
 *
 * The reason text (recall_unscored_why) reads only the spec and the run
 * record: structural reasons (a sweep: scored per phase, no groundtruth step, no recalls in the
 * mix) come from the spec, data reasons from the `recall_unscored` metric
 * that runmetrics stores, so `check`, `show` and `run` say the same thing.
 */
#include "engrave/recall.h"
#include "engrave/err.h"
#include "engrave/runmetrics.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double slack(double tol, double x)
{
	return tol * (fabs(x) > 1 ? fabs(x) : 1);
}

static double eff_of(enum spec_space space, float raw)
{
	return space == SPEC_SPACE_COSINE && raw < 0 ? 0.0 : (double)raw;
}

/* Min-heap of the k best effective scores seen: h[0] is the k-th best. */
struct kbest {
	double *h;
	int n, k;
};

static void kbest_offer(struct kbest *b, double s)
{
	if (b->n == b->k) {
		if (!(s > b->h[0]))
			return;
		/* replace the root and sift down */
		int i = 0;
		for (;;) {
			int l = 2 * i + 1, r = l + 1, m = i;
			double mv = s;
			if (l < b->n && b->h[l] < mv)
				m = l, mv = b->h[l];
			if (r < b->n && b->h[r] < mv)
				m = r;
			if (m == i)
				break;
			b->h[i] = b->h[m];
			i = m;
		}
		b->h[i] = s;
		return;
	}
	int i = b->n++;
	while (i > 0 && b->h[(i - 1) / 2] > s) {
		b->h[i] = b->h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	b->h[i] = s;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The first index i of the sorted v[0..n) with v[i] >= id (n when none). */
static size_t lower_u64(const uint64_t *v, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of id in the sorted v[0..n), or -1. */
static ptrdiff_t find_u64(const uint64_t *v, size_t n, uint64_t id)
{
	size_t i = lower_u64(v, n, id);
	return i < n && v[i] == id ? (ptrdiff_t)i : -1;
}

struct scratch {
	struct kbest best;
	uint64_t *ids;   /* the answer's distinct returned ids, sorted */
	double *eff;     /* their effective scores, NAN: unknown or not held */
	char *maybe;     /* 1: a store held only maybe (not acknowledged before) */
};

/* The distinct returned ids of answer a, with their scores: u of them. */
static size_t returned_ids(const struct recall_input *in, const struct recall_answer *a, struct scratch *s,
			   size_t xlo, size_t xhi, uint64_t *foreign)
{
	const uint64_t q = a->q;
	const uint32_t cnt = in->counts[q] < in->depth ? in->counts[q] : in->depth;
	const uint64_t *lid = in->ids + q * (uint64_t)in->depth;
	const float *lsc = in->scores + q * (uint64_t)in->depth;
	size_t n = 0;
	uint32_t got = a->n_got < (uint32_t)in->k ? a->n_got : (uint32_t)in->k;
	for (uint32_t i = 0; i < got; i++) {
		if (a->got[i] == RECALL_NONE)
			(*foreign)++;
		else
			s->ids[n++] = a->got[i];
	}
	qsort(s->ids, n, sizeof(uint64_t), cmp_u64);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (!u || s->ids[i] != s->ids[u - 1])
			s->ids[u++] = s->ids[i];
	for (size_t i = 0; i < u; i++) {
		s->eff[i] = NAN;
		s->maybe[i] = 0;
	}
	for (uint32_t j = 0; j < cnt; j++) {
		ptrdiff_t p = find_u64(s->ids, u, lid[j]);
		if (p >= 0)
			s->eff[p] = eff_of(in->space, lsc[j]);
	}
	for (size_t j = xlo; j < xhi; j++) {
		ptrdiff_t p = find_u64(s->ids, u, in->extra_id[j]);
		if (p >= 0)
			s->eff[p] = eff_of(in->space, in->extra_score[j]);
	}
	for (size_t i = 0; i < u && in->n_st; i++) {
		ptrdiff_t p = isnan(s->eff[i]) ? find_u64(in->st_id, in->n_st, s->ids[i]) : -1;
		if (p < 0)
			continue;
		int held = in->st_acked[p] < a->sent;
		if (held || in->st_maybe_from[p] < a->done) {
			s->eff[i] = eff_of(in->space, in->st_scores[q * (uint64_t)in->n_st + (uint64_t)p]);
			s->maybe[i] = !held;
		}
	}
	return u;
}

/* The recall of one answer, NAN when it is not scored (m = 0). */
static double score_answer(const struct recall_input *in, const struct recall_answer *a, struct scratch *s,
			   uint64_t *foreign)
{
	const uint64_t q = a->q;
	const double t = (double)in->threshold;
	const double need = in->space == SPEC_SPACE_L2 ? -INFINITY : t + slack(in->tol, t);
	/* the extra rows of q: [xlo, xhi) of the (q, id)-sorted arrays */
	size_t xlo = lower_u64(in->extra_q, in->n_extra, q), xhi = lower_u64(in->extra_q, in->n_extra, q + 1);
	size_t u = returned_ids(in, a, s, xlo, xhi, foreign);

	/* R: held candidates above the threshold, and maybe-held stores the answer returned */
	const uint32_t cnt = in->counts[q] < in->depth ? in->counts[q] : in->depth;
	const float *lsc = in->scores + q * (uint64_t)in->depth;
	const float *ssc = in->n_st ? in->st_scores + q * (uint64_t)in->n_st : NULL;
	s->best.n = 0;
	for (uint32_t j = 0; j < cnt; j++) {
		double v = eff_of(in->space, lsc[j]);
		if (v >= need)
			kbest_offer(&s->best, v);
	}
	for (size_t j = xlo; j < xhi; j++) {
		double v = eff_of(in->space, in->extra_score[j]);
		if (v >= need)
			kbest_offer(&s->best, v);
	}
	for (size_t j = 0; j < in->n_st; j++) {
		double v = eff_of(in->space, ssc[j]);
		if (in->st_acked[j] < a->sent && v >= need) /* acknowledged before the recall left */
			kbest_offer(&s->best, v);
	}
	for (size_t i = 0; i < u; i++)
		if (s->maybe[i] && s->eff[i] >= need)
			kbest_offer(&s->best, s->eff[i]);
	const int m = s->best.n;
	if (m == 0)
		return NAN;

	/* the band of s_k; what is above it must be found, the band fills the rest */
	const double sk = s->best.h[0], lo = sk - slack(in->tol, sk), hi = sk + slack(in->tol, sk);
	int above = 0, found_above = 0, found_band = 0;
	for (int i = 0; i < m; i++)
		above += s->best.h[i] > hi; /* every score above s_k is in the heap */
	for (size_t i = 0; i < u; i++) {
		found_above += s->eff[i] > hi; /* NAN compares false */
		found_band += s->eff[i] >= lo && s->eff[i] <= hi;
	}
	int correct = found_above + (found_band < m - above ? found_band : m - above);
	return (double)(correct < m ? correct : m) / (double)m;
}

int recall_score(const struct recall_input *in, struct recall_result *out, double *values, struct err *e)
{
	memset(out, 0, sizeof(*out));
	out->mean = out->p05 = NAN;
	if (in->k < 1)
		return err_set(e, ERR_INTERNAL, "recall: k = %d", in->k);
	struct scratch s;
	s.best.k = in->k;
	s.best.n = 0;
	/* k <= 10000 (spec), the answers are the run's recalls: the latter is checked */
	s.best.h = xmalloc_array((size_t)in->k, sizeof(double));
	s.ids = xmalloc_array((size_t)in->k, sizeof(uint64_t));
	s.eff = xmalloc_array((size_t)in->k, sizeof(double));
	s.maybe = xmalloc_array((size_t)in->k, 1);
	double *vals = xalloc_try_array(in->n_ans + 1, sizeof(double), "the recall values", e);
	int rc = -1;
	if (!vals) {
		err_prefix(e, "recall: %zu answers", in->n_ans);
		goto out;
	}
	size_t nv = 0;
	for (size_t i = 0; i < in->n_ans; i++) {
		const struct recall_answer *a = &in->ans[i];
		if (a->q >= in->nq) {
			err_set(e, ERR_CORRUPT, "recall: answer %zu is for query %llu of %llu", i,
				(unsigned long long)a->q, (unsigned long long)in->nq);
			goto out;
		}
		double v = score_answer(in, a, &s, &out->foreign);
		if (values)
			values[i] = v;
		if (isnan(v))
			out->no_truth++;
		else
			vals[nv++] = v;
	}
	if (nv) {
		double sum = 0;
		for (size_t i = 0; i < nv; i++)
			sum += vals[i];
		out->mean = sum / (double)nv;
		qsort(vals, nv, sizeof(double), cmp_double);
		out->p05 = vals[(size_t)(0.05 * (double)(nv - 1))];
		out->scored = nv;
	}
	rc = 0;
out:
	free(s.best.h);
	free(s.ids);
	free(s.eff);
	free(s.maybe);
	free(vals);
	return rc;
}

/* ---------------------------------------------------------------- */
/* why a run has no recall                                            */

int recall_is_score_metric(const char *metric)
{
	return !strcmp(metric, "recall") || !strcmp(metric, "recall_p05");
}

static int run_metric(const struct run_record *r, const char *key, double *v)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (!strcmp(r->metrics[i].key, key)) {
			*v = r->metrics[i].value;
			return 1;
		}
	return 0;
}

static int checks_recall(const struct spec *sp)
{
	for (size_t i = 0; i < sp->n_checks; i++)
		if (recall_is_score_metric(sp->checks[i].metric))
			return 1;
	return 0;
}

int recall_unscored_why(const struct spec *sp, const struct run_record *r, char *out, size_t cap)
{
	double v = 0;
	if (cap)
		out[0] = '\0';
	if (!sp || !r || run_metric(r, "recall", &v) || !runmetrics_step_output(r, "loadtest"))
		return 0;
	const struct spec_loadtest *lt = &sp->loadtest;
	int sweep = spec_loadtest_sweeps(lt);
	if (!checks_recall(sp) && !(sp->groundtruth.present && lt->mix_recall > 0 && !sweep))
		return 0;
	double code = 0;
	run_metric(r, "recall_unscored", &code);
	if (sweep)
		snprintf(out, cap, "a sweep scores recall per phase (sweep.%s=<value>.recall), not as a whole",
			 strcmp(spec_loadtest_sweep_key(lt), "rates") ? spec_loadtest_sweep_key(lt) : "rate");
	else if (!sp->groundtruth.present)
		snprintf(out, cap, "the spec has no groundtruth step to score recalls against");
	else if (!(lt->mix_recall > 0))
		snprintf(out, cap, "the load test sends no recalls (steps.loadtest.mix.recall is 0)");
	else if (code == RECALL_UNSCORED_SHALLOW)
		snprintf(out, cap, "steps.groundtruth.k = %llu is less than steps.loadtest.recall.k = %llu",
			 (unsigned long long)sp->groundtruth.k, (unsigned long long)lt->recall_k);
	else if (code == RECALL_UNSCORED_NO_ANSWERS)
		snprintf(out, cap, "no recall was answered without error after the warm-up");
	else if (code == RECALL_UNSCORED_NO_TRUTH && sp->target.hnsw.space == SPEC_SPACE_L2)
		snprintf(out, cap, "the target held no vector when the recalls were sent");
	else if (code == RECALL_UNSCORED_NO_TRUTH)
		snprintf(out, cap, "no query had a ground-truth neighbour with score >= %g (%s)", lt->recall_threshold,
			 spec_space_names[sp->target.hnsw.space]);
	else
		snprintf(out, cap, "no recall was scored");
	return 1;
}
