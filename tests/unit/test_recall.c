/*
 * test_recall.c — recall@k scoring (recall.h) against an independent brute
 * force on random small cases with a fixed seed, targeted cases for each
 * rule (ties at the k-th score, thresholds, fewer than k above it, none
 * above it, ids missing from the ground truth, duplicates, empty answers,
 * stores in flight, the slack), and the reason a run gives when recall
 * could not be scored, down to the failed check.
 *
 * The brute force scores every answer from the vectors themselves: all base
 * rows and all stores, sorted, O(n) per answer, with no ground-truth list,
 * heap or binary search; the scorer gets what a run stores (the exact top
 * of the base per query, extra rows, store scores). A stored run built by
 * hand (artifacts, records, what each recall returned) checks how
 * runmetrics gathers those inputs against the same brute force.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/check.h"
#include "engrave/err.h"
#include "engrave/recall.h"
#include "engrave/records.h"
#include "engrave/runmetrics.h"
#include "engrave/sched.h"
#include "engrave/spec.h"
#include "engrave/steps.h"
#include "engrave/store.h"
#include "engrave/vec.h"
#include "../lib/testutil.h"

#define FLAG (1ULL << 63) /* store ids, as the load test maps them */
#define NEVER UINT64_MAX

static uint64_t rnd_state;

static uint64_t rnd(void) /* splitmix64 */
{
	uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n) { return rnd() % n; }

/* ---- a small world: vectors, times, answers ------------------------------- */

struct world {
	enum spec_space space;
	int k;
	float t;
	double tol;
	uint32_t d, depth;
	size_t nb, ns, nq, na;
	float *base, *stv, *qv;
	uint64_t *st_id, *acked, *maybe_from;
	uint64_t *got;  /* na x k */
	struct recall_answer *ans;
};

static double raw_score(enum spec_space sp, const float *a, const float *b, uint32_t d)
{
	double dot = 0, na = 0, nb = 0, dist = 0;
	for (uint32_t i = 0; i < d; i++) {
		dot += (double)a[i] * b[i];
		na += (double)a[i] * a[i];
		nb += (double)b[i] * b[i];
		dist += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	}
	if (sp == SPEC_SPACE_IP)
		return dot;
	if (sp == SPEC_SPACE_L2)
		return -dist;
	return na > 0 && nb > 0 ? dot / (sqrt(na) * sqrt(nb)) : 0;
}

/* The score as the scorer sees it: float32, like the stored ground truth. */
static double score_of(const struct world *w, size_t q, uint64_t id)
{
	const float *v = id & FLAG ? w->stv + (id & ~FLAG) * w->d : w->base + id * w->d;
	return (double)(float)raw_score(w->space, w->qv + q * w->d, v, w->d);
}

static double eff(const struct world *w, double s)
{
	return w->space == SPEC_SPACE_COSINE ? fmax(0.0, s) : s;
}

static double slack_of(double tol, double x) { return tol * fmax(1.0, fabs(x)); }

/* ---- the brute force ------------------------------------------------------- */

static int dcmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x > y ? -1 : x < y;
}

/* held: 1, maybe held: 2, not held: 0 (base rows are always held) */
static int status(const struct world *w, const struct recall_answer *a, uint64_t id)
{
	if (!(id & FLAG))
		return id < w->nb;
	uint64_t j = id & ~FLAG;
	if (j >= w->ns)
		return 0;
	return w->acked[j] < a->sent ? 1 : w->maybe_from[j] < a->done ? 2 : 0;
}

static int returned(const struct world *w, const struct recall_answer *a, uint64_t id)
{
	for (uint32_t i = 0; i < a->n_got && i < (uint32_t)w->k; i++)
		if (a->got[i] == id)
			return 1;
	return 0;
}

static double brute(const struct world *w, const struct recall_answer *a)
{
	double need = w->space == SPEC_SPACE_L2 ? -INFINITY : (double)w->t + slack_of(w->tol, w->t);
	double *r = malloc((w->nb + w->ns + 1) * sizeof(double));
	size_t n = 0;
	for (size_t i = 0; i < w->nb; i++) {
		double e = eff(w, score_of(w, a->q, i));
		if (e >= need)
			r[n++] = e;
	}
	for (size_t j = 0; j < w->ns; j++) {
		int st = status(w, a, j | FLAG);
		double e = eff(w, score_of(w, a->q, j | FLAG));
		if ((st == 1 || (st == 2 && returned(w, a, j | FLAG))) && e >= need)
			r[n++] = e;
	}
	qsort(r, n, sizeof(double), dcmp_desc);
	size_t m = n < (size_t)w->k ? n : (size_t)w->k;
	if (!m) {
		free(r);
		return NAN;
	}
	double sk = r[m - 1], lo = sk - slack_of(w->tol, sk), hi = sk + slack_of(w->tol, sk);
	size_t above = 0;
	for (size_t i = 0; i < n; i++)
		above += r[i] > hi;
	free(r);
	size_t fa = 0, fb = 0;
	for (uint32_t i = 0; i < a->n_got && i < (uint32_t)w->k; i++) {
		uint64_t id = a->got[i];
		int dup = 0;
		for (uint32_t j = 0; j < i; j++)
			dup |= a->got[j] == id;
		if (dup || id == RECALL_NONE || !status(w, a, id))
			continue;
		double e = eff(w, score_of(w, a->q, id));
		fa += e > hi;
		fb += e >= lo && e <= hi;
	}
	size_t c = fa + (fb < m - above ? fb : m - above);
	return (double)(c < m ? c : m) / (double)m;
}

/* ---- what a run stores, built for the scorer -------------------------------- */

struct stored {
	uint64_t *gids, *xq, *xid;
	float *gsc, *xsc, *ssc;
	uint32_t *gcnt;
	size_t nx;
};

struct pair {
	double s;
	uint64_t id;
};

static int pair_cmp(const void *pa, const void *pb)
{
	const struct pair *a = pa, *b = pb;
	if (a->s != b->s)
		return a->s > b->s ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* The exact top `depth` of the base per query (ties: lower row first, as
 * knn.c), extra rows for the returned ones outside it (unless no_extra),
 * store scores. */
static void store_world(const struct world *w, struct stored *s, int no_extra)
{
	memset(s, 0, sizeof(*s));
	s->gids = calloc(w->nq * w->depth + 1, 8);
	s->gsc = calloc(w->nq * w->depth + 1, 4);
	s->gcnt = calloc(w->nq + 1, 4);
	struct pair *all = malloc((w->nb + 1) * sizeof(*all));
	for (size_t q = 0; q < w->nq; q++) {
		for (size_t i = 0; i < w->nb; i++)
			all[i] = (struct pair){ score_of(w, q, i), i };
		qsort(all, w->nb, sizeof(*all), pair_cmp);
		size_t c = w->nb < w->depth ? w->nb : w->depth;
		for (size_t j = 0; j < c; j++) {
			s->gids[q * w->depth + j] = all[j].id;
			s->gsc[q * w->depth + j] = (float)all[j].s;
		}
		s->gcnt[q] = (uint32_t)c;
	}
	free(all);
	s->ssc = calloc(w->nq * w->ns + 1, 4);
	for (size_t q = 0; q < w->nq; q++)
		for (size_t j = 0; j < w->ns; j++)
			s->ssc[q * w->ns + j] = (float)score_of(w, q, j | FLAG);
	/* extra rows: (q, id) sorted and distinct; quadratic, small worlds */
	size_t cap = w->na * (size_t)w->k + 1;
	s->xq = calloc(cap, 8);
	s->xid = calloc(cap, 8);
	s->xsc = calloc(cap, 4);
	for (size_t q = 0; q < w->nq && !no_extra; q++)
		for (size_t id = 0; id < w->nb; id++) {
			int listed = 0, asked = 0;
			for (uint32_t j = 0; j < s->gcnt[q]; j++)
				listed |= s->gids[q * w->depth + j] == id;
			for (size_t a = 0; a < w->na && !listed && !asked; a++)
				asked = w->ans[a].q == q && returned(w, &w->ans[a], id);
			if (!listed && asked) {
				s->xq[s->nx] = q;
				s->xid[s->nx] = id;
				s->xsc[s->nx++] = (float)score_of(w, q, id);
			}
		}
}

static void stored_free(struct stored *s)
{
	free(s->gids);
	free(s->gsc);
	free(s->gcnt);
	free(s->ssc);
	free(s->xq);
	free(s->xid);
	free(s->xsc);
}

static struct recall_input input_of(const struct world *w, const struct stored *s)
{
	return (struct recall_input){
		.space = w->space, .k = w->k, .threshold = w->t, .tol = w->tol,
		.nq = w->nq, .depth = w->depth, .ids = s->gids, .scores = s->gsc, .counts = s->gcnt,
		.n_extra = s->nx, .extra_q = s->xq, .extra_id = s->xid, .extra_score = s->xsc,
		.n_st = w->ns, .st_id = w->st_id, .st_acked = w->acked, .st_maybe_from = w->maybe_from,
		.st_scores = s->ssc, .n_ans = w->na, .ans = w->ans,
	};
}

static void world_alloc(struct world *w)
{
	w->base = calloc(w->nb * w->d + 1, 4);
	w->stv = calloc(w->ns * w->d + 1, 4);
	w->qv = calloc(w->nq * w->d + 1, 4);
	w->st_id = calloc(w->ns + 1, 8);
	w->acked = calloc(w->ns + 1, 8);
	w->maybe_from = calloc(w->ns + 1, 8);
	w->got = malloc((w->na * (size_t)w->k + 1) * 8);
	w->ans = calloc(w->na + 1, sizeof(*w->ans));
	for (size_t i = 0; i < w->na * (size_t)w->k; i++)
		w->got[i] = RECALL_NONE;
	for (size_t j = 0; j < w->ns; j++) {
		w->st_id[j] = j | FLAG;
		w->acked[j] = w->maybe_from[j] = NEVER;
	}
	for (size_t a = 0; a < w->na; a++)
		w->ans[a].got = w->got + a * (size_t)w->k;
}

static void world_free(struct world *w)
{
	free(w->base);
	free(w->stv);
	free(w->qv);
	free(w->st_id);
	free(w->acked);
	free(w->maybe_from);
	free(w->got);
	free(w->ans);
}

/* ---- random cases ----------------------------------------------------------- */

/* style 0: uniform in [-1, 1]; 1: integers in [-2, 2] (exact ties); 2: the
 * same moved by up to 2e-4 (near ties, inside and outside the slack) */
static void fill(float *v, size_t n, int style)
{
	for (size_t i = 0; i < n; i++) {
		if (style == 0)
			v[i] = (float)((double)below(2001) / 1000.0 - 1.0);
		else
			v[i] = (float)((int)below(5) - 2) + (style == 2 ? (float)((int)below(5) - 2) * 1e-4f : 0.0f);
	}
}

/* A random world of the given vector style. */
static void random_world(struct world *w, enum spec_space sp, int style)
{
	static const float thr[] = { -0.5f, 0.0f, 0.3f, 0.6f, 0.9f, 0.99f };
	memset(w, 0, sizeof(*w));
	w->space = sp;
	w->k = 1 + (int)below(6);
	w->t = thr[below(6)];
	w->tol = below(3) == 0 ? 1e-3 : 0;
	w->d = 2 + (uint32_t)below(4);
	w->nb = 1 + below(25);
	w->ns = below(12);
	w->nq = 1 + below(4);
	w->na = 1 + below(12);
	w->depth = (uint32_t)w->k + (uint32_t)below(3);
	world_alloc(w);
	fill(w->base, w->nb * w->d, style);
	fill(w->stv, w->ns * w->d, style);
	fill(w->qv, w->nq * w->d, style);
	for (size_t j = 0; j < w->ns; j++) {
		uint64_t sent = below(1000), kind = below(10);
		if (kind < 7) { /* acknowledged */
			w->acked[j] = sent + below(60);
			w->maybe_from[j] = sent;
		} else if (kind < 9) { /* failed, may have been applied */
			w->maybe_from[j] = sent;
		} /* else: failed before it could be applied */
	}
	for (size_t a = 0; a < w->na; a++) {
		struct recall_answer *x = &w->ans[a];
		x->q = below(w->nq);
		x->sent = below(1100);
		x->done = x->sent + below(60);
		x->n_got = (uint32_t)below((uint64_t)w->k + 1);
		for (uint32_t i = 0; i < x->n_got; i++) {
			uint64_t c = below(10), *g = w->got + a * (size_t)w->k + i;
			if (c < 5) /* a base row, often a good one */
				*g = below(c < 3 ? (w->nb < 4 ? w->nb : 4) : w->nb);
			else if (c < 8 && w->ns)
				*g = below(w->ns) | FLAG;
			else if (c < 9 && i)
				*g = w->got[a * (size_t)w->k + below(i)]; /* a duplicate */
			else
				*g = RECALL_NONE;
		}
	}
}

static void check_against_brute(struct world *w, const char *what, int iter)
{
	struct stored s;
	store_world(w, &s, 0);
	struct recall_input in = input_of(w, &s);
	struct recall_result res;
	struct err e = ERR_INIT;
	double *vals = malloc((w->na + 1) * sizeof(double));
	cr_assert_eq(recall_score(&in, &res, vals, &e), 0, "%s", e.msg);
	double sum = 0;
	size_t scored = 0;
	uint64_t foreign = 0;
	for (size_t a = 0; a < w->na; a++) {
		double b = brute(w, &w->ans[a]);
		for (uint32_t i = 0; i < w->ans[a].n_got; i++)
			foreign += w->ans[a].got[i] == RECALL_NONE;
		cr_assert((isnan(b) && isnan(vals[a])) || b == vals[a],
			  "%s case %d answer %zu: brute %g, scorer %g (space %d k %d t %g tol %g)", what, iter, a, b,
			  vals[a], (int)w->space, w->k, (double)w->t, w->tol);
		if (!isnan(b)) {
			sum += b;
			scored++;
		}
	}
	cr_assert_eq(res.scored, scored);
	cr_assert_eq(res.no_truth, w->na - scored);
	cr_assert_eq(res.foreign, foreign);
	if (scored)
		cr_assert_float_eq(res.mean, sum / (double)scored, 1e-12);
	else
		cr_assert(isnan(res.mean) && isnan(res.p05));
	free(vals);
	stored_free(&s);
}

Test(recall, random_cases_match_the_brute_force)
{
	rnd_state = 20260412;
	static const enum spec_space sp[] = { SPEC_SPACE_COSINE, SPEC_SPACE_IP, SPEC_SPACE_L2 };
	static const char *const style[] = { "floats", "ints", "near ints" };
	for (int iter = 0; iter < 4500; iter++) {
		struct world w;
		random_world(&w, sp[(iter / 3) % 3], iter % 3);
		check_against_brute(&w, style[iter % 3], iter);
		world_free(&w);
	}
}

/* ---- targeted cases ------------------------------------------------------------ */

/* One query against nb rows of dimension d, every answer sent at 100 and
 * complete at 110, the list as deep as the base (at least k). */
static void small_world(struct world *w, enum spec_space sp, uint32_t d, const float *rows, size_t nb,
			const float *q, int k, float t, size_t na)
{
	memset(w, 0, sizeof(*w));
	w->space = sp;
	w->k = k;
	w->t = t;
	w->d = d;
	w->nb = nb;
	w->nq = 1;
	w->na = na;
	w->depth = (uint32_t)(nb > (size_t)k ? nb : (size_t)k);
	world_alloc(w);
	memcpy(w->base, rows, nb * d * 4);
	memcpy(w->qv, q, d * 4);
	for (size_t a = 0; a < na; a++)
		w->ans[a].sent = 100, w->ans[a].done = 110;
}

/* Rows of the given values against the query [1] (d = 1): ip scores = values. */
static void line_world(struct world *w, enum spec_space sp, const float *vals, size_t nb, int k, float t, size_t na)
{
	static const float one[] = { 1 };
	small_world(w, sp, 1, vals, nb, one, k, t, na);
}

/* Rows at the given cosines to the query [1, 0]. */
static void cos_world(struct world *w, const float *cosines, size_t nb, int k, float t, size_t na)
{
	static const float x[] = { 1, 0 };
	float rows[2 * 16];
	cr_assert_leq(nb, 16);
	for (size_t i = 0; i < nb; i++) {
		rows[2 * i] = cosines[i];
		rows[2 * i + 1] = sqrtf(1 - cosines[i] * cosines[i]);
	}
	small_world(w, SPEC_SPACE_COSINE, 2, rows, nb, x, k, t, na);
}

/* Replace the stores of a line world by n of the given values and times. */
static void line_stores(struct world *w, const float *vals, const uint64_t *acked, const uint64_t *from, size_t n)
{
	w->ns = n;
	w->stv = realloc(w->stv, n * 4);
	w->st_id = realloc(w->st_id, n * 8);
	w->acked = realloc(w->acked, n * 8);
	w->maybe_from = realloc(w->maybe_from, n * 8);
	cr_assert(w->stv && w->st_id && w->acked && w->maybe_from);
	for (size_t j = 0; j < n; j++) {
		w->stv[j] = vals[j];
		w->st_id[j] = j | FLAG;
		w->acked[j] = acked[j];
		w->maybe_from[j] = from[j];
	}
}

/* Each answer's recall as expected (NAN: not scored). */
static void expect(const double *got, const double *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert((isnan(want[i]) && isnan(got[i])) || fabs(got[i] - want[i]) < 1e-15,
			  "answer %zu: recall %g, expected %g", i, got[i], want[i]);
}

static void answer(struct world *w, size_t a, const uint64_t *ids, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		w->got[a * (size_t)w->k + i] = ids[i];
	w->ans[a].n_got = n;
}

/* Scores of every answer (with extra rows unless no_extra), checked against the brute force too. */
static struct recall_result run(struct world *w, double *vals, int no_extra)
{
	struct stored s;
	store_world(w, &s, no_extra);
	struct recall_input in = input_of(w, &s);
	struct recall_result res;
	struct err e = ERR_INIT;
	cr_assert_eq(recall_score(&in, &res, vals, &e), 0, "%s", e.msg);
	for (size_t a = 0; a < w->na && !no_extra; a++) {
		double b = brute(w, &w->ans[a]);
		cr_assert((isnan(b) && isnan(vals[a])) || b == vals[a], "answer %zu: brute %g, scorer %g", a, b, vals[a]);
	}
	stored_free(&s);
	return res;
}

Test(recall, ties_at_the_kth_score)
{
	/* values 3, 2, 2, 2, 1: top-2 is row 0 and any one of rows 1..3 */
	static const float v[] = { 3, 2, 2, 2, 1 };
	struct world w;
	line_world(&w, SPEC_SPACE_IP, v, 5, 2, -1.0f, 6);
	answer(&w, 0, (uint64_t[]){ 0, 3 }, 2); /* the exact order keeps row 1; row 3 ties */
	answer(&w, 1, (uint64_t[]){ 1, 2 }, 2); /* two tied rows, row 0 missed */
	answer(&w, 2, (uint64_t[]){ 0, 4 }, 2); /* below the tie */
	answer(&w, 3, (uint64_t[]){ 3, 0 }, 2); /* order does not matter */
	answer(&w, 4, (uint64_t[]){ 2 }, 1);    /* one tied row only */
	answer(&w, 5, (uint64_t[]){ 0, 1 }, 2);
	double r[6];
	struct recall_result res = run(&w, r, 0);
	expect(r, (double[]){ 1.0, 0.5, 0.5, 1.0, 0.5, 1.0 }, 6);
	cr_assert_eq(res.scored, 6);
	cr_assert_float_eq(res.mean, 4.5 / 6, 1e-12);
	cr_assert_eq(res.p05, 0.5);
	world_free(&w);
}

Test(recall, ties_beyond_the_ground_truth_depth)
{
	/* depth 2 lists rows 0 and 1; row 3 ties row 1. The run gives the
	 * returned row's exact score (an extra row), so it is correct; without
	 * it the scorer cannot know and counts a miss. */
	static const float v[] = { 3, 2, 2, 2, 1 };
	struct world w;
	line_world(&w, SPEC_SPACE_IP, v, 5, 2, -1.0f, 2);
	w.depth = 2;
	answer(&w, 0, (uint64_t[]){ 0, 3 }, 2);
	answer(&w, 1, (uint64_t[]){ 0, 4 }, 2);
	double r[2];
	run(&w, r, 0);
	expect(r, (double[]){ 1.0, 0.5 }, 2);
	run(&w, r, 1);
	expect(r, (double[]){ 0.5, 0.5 }, 2);
	world_free(&w);
}

Test(recall, threshold_and_fewer_than_k_above_it)
{
	static const float c[] = { 0.95f, 0.85f, 0.6f, 0.3f, -0.5f };
	struct world w;
	cos_world(&w, c, 5, 4, 0.8f, 5); /* two rows above 0.8: m = 2 */
	answer(&w, 0, (uint64_t[]){ 0, 1 }, 2);
	answer(&w, 1, (uint64_t[]){ 0, 2 }, 2);       /* a row below the threshold is no neighbour */
	answer(&w, 2, (uint64_t[]){ 1, 0, 2, 3 }, 4); /* extra rows below it do not hurt */
	answer(&w, 3, (uint64_t[]){ 0 }, 1);
	answer(&w, 4, NULL, 0); /* nothing returned: 0 */
	double r[5];
	struct recall_result res = run(&w, r, 0);
	expect(r, (double[]){ 1.0, 0.5, 1.0, 0.5, 0.0 }, 5);
	cr_assert_eq(res.scored, 5);
	cr_assert_eq(res.p05, 0.0);
	world_free(&w);
}

Test(recall, nothing_above_the_threshold_is_not_scored)
{
	static const float c[] = { 0.95f, 0.85f, 0.6f };
	struct world w;
	cos_world(&w, c, 3, 2, 0.99f, 2);
	answer(&w, 0, NULL, 0);                 /* the right answer: nothing */
	answer(&w, 1, (uint64_t[]){ 0, 1 }, 2); /* a target ignoring the threshold */
	double r[2];
	struct recall_result res = run(&w, r, 0);
	expect(r, (double[]){ NAN, NAN }, 2);
	cr_assert_eq(res.scored, 0);
	cr_assert_eq(res.no_truth, 2);
	cr_assert(isnan(res.mean) && isnan(res.p05));
	world_free(&w);
}

Test(recall, cosine_scores_below_zero_tie_at_zero)
{
	/* Engram's max(0, cos): with t = 0 every row qualifies, rows 1 and 2 at 0 */
	static const float c[] = { 0.9f, -0.5f, -0.7f };
	struct world w;
	cos_world(&w, c, 3, 2, 0.0f, 2);
	answer(&w, 0, (uint64_t[]){ 0, 2 }, 2);
	answer(&w, 1, (uint64_t[]){ 1, 2 }, 2);
	double r[2];
	run(&w, r, 0);
	expect(r, (double[]){ 1.0, 0.5 }, 2);
	world_free(&w);
}

Test(recall, l2_has_no_threshold)
{
	/* -|q - v|^2 is below any threshold; the drivers apply none to distances */
	static const float v[] = { 1.0f, 1.5f, 3.0f, -4.0f };
	struct world w;
	line_world(&w, SPEC_SPACE_L2, v, 4, 2, 0.5f, 2);
	answer(&w, 0, (uint64_t[]){ 0, 1 }, 2);
	answer(&w, 1, (uint64_t[]){ 0, 2 }, 2);
	double r[2];
	struct recall_result res = run(&w, r, 0);
	expect(r, (double[]){ 1.0, 0.5 }, 2);
	cr_assert_eq(res.scored, 2);
	world_free(&w);
}

Test(recall, ids_missing_from_the_ground_truth_and_duplicates)
{
	static const float v[] = { 5, 4, 3, 2, 1 };
	struct world w;
	line_world(&w, SPEC_SPACE_IP, v, 5, 3, 0.0f, 4);
	answer(&w, 0, (uint64_t[]){ 0, RECALL_NONE, RECALL_NONE }, 3); /* ids the run cannot map */
	answer(&w, 1, (uint64_t[]){ 0, 0, 0 }, 3);                     /* one id three times */
	answer(&w, 2, (uint64_t[]){ 0, 1, 77 | FLAG }, 3);             /* a store that never was */
	answer(&w, 3, (uint64_t[]){ 2, 1, 0 }, 3);
	double r[4];
	struct recall_result res = run(&w, r, 0);
	expect(r, (double[]){ 1.0 / 3, 1.0 / 3, 2.0 / 3, 1.0 }, 4);
	cr_assert_eq(res.foreign, 2);
	world_free(&w);
}

Test(recall, stores_held_maybe_held_and_not_held)
{
	/* base rows score 5, 4, 3; stores: s0 = 10 acknowledged before the recall
	 * left, s1 = 9 acknowledged after it left but sent before it completed
	 * (in flight), s2 = 8 sent after it completed */
	static const float v[] = { 5, 4, 3 }, sv[] = { 10, 9, 8 };
	static const uint64_t ack[] = { 50, 120, 250 }, from[] = { 40, 90, 200 };
	struct world w;
	line_world(&w, SPEC_SPACE_IP, v, 3, 2, 0.0f, 6);
	line_stores(&w, sv, ack, from, 3);
	/* sent 100, done 110 (line_world) */
	answer(&w, 0, (uint64_t[]){ 0 | FLAG, 0 }, 2);        /* s0 and row 0: right */
	answer(&w, 1, (uint64_t[]){ 0, 1 }, 2);               /* missed the held s0 */
	answer(&w, 2, (uint64_t[]){ 0 | FLAG, 1 | FLAG }, 2); /* in-flight s1: it had it */
	answer(&w, 3, (uint64_t[]){ 1 | FLAG, 0 }, 2);        /* s1 counted held: then s0 is missed */
	answer(&w, 4, (uint64_t[]){ 0 | FLAG, 2 | FLAG }, 2); /* s2 was not there yet */
	answer(&w, 5, (uint64_t[]){ 0 | FLAG, RECALL_NONE }, 2);
	double r[6];
	run(&w, r, 0);
	expect(r, (double[]){ 1.0, 0.5, 1.0, 0.5, 0.5, 0.5 }, 6);
	world_free(&w);
}

Test(recall, slack_absorbs_float_rounding_only)
{
	/* rows 1.0, 0.5002, 0.5: with tol 1e-3 rows 1 and 2 tie; 0.45 does not */
	static const float v[] = { 1.0f, 0.5002f, 0.5f, 0.45f };
	struct world w;
	line_world(&w, SPEC_SPACE_IP, v, 4, 2, 0.0f, 2);
	w.tol = 1e-3;
	answer(&w, 0, (uint64_t[]){ 0, 2 }, 2);
	answer(&w, 1, (uint64_t[]){ 0, 3 }, 2);
	double r[2];
	run(&w, r, 0);
	expect(r, (double[]){ 1.0, 0.5 }, 2);
	w.tol = 0;
	run(&w, r, 0);
	cr_assert_eq(r[0], 0.5);
	world_free(&w);
}

Test(recall, a_query_row_out_of_range_is_corrupt)
{
	static const float v[] = { 1 };
	struct world w;
	line_world(&w, SPEC_SPACE_IP, v, 1, 1, 0.0f, 1);
	w.ans[0].q = 3;
	struct stored s;
	store_world(&w, &s, 1);
	struct recall_input in = input_of(&w, &s);
	struct recall_result res;
	struct err e = ERR_INIT;
	cr_assert_eq(recall_score(&in, &res, NULL, &e), -1);
	cr_assert_eq(e.cls, ERR_CORRUPT);
	cr_assert(strstr(e.msg, "query 3 of 1"), "%s", e.msg);
	stored_free(&s);
	world_free(&w);
}

/* ---- why a run has no recall, and the check that asked for it ------------------ */

static const char spec_gt[] = "name: rc\nseed: 1\ntarget: {driver: embedded}\nsteps:\n"
			      "  corpus: {source: sample, limit: 30}\n  embed: {embedder: hashing, dim: 16}\n"
			      "  queries: {count: 5, source: corpus}\n  groundtruth: {k: 10}\n  ingest: {}\n"
			      "  loadtest:\n    duration: 1s\n    arrival: {pattern: constant, rate: 10}\n"
			      "    recall: {k: 10, threshold: 0.9}\n";

static struct spec *load(const char *body, const char *checks)
{
	char txt[1024];
	snprintf(txt, sizeof(txt), "%s%s", body, checks);
	struct spec *sp = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(spec_load_string(txt, strlen(txt), "rc", &sp, &e), 0, "%s", e.msg);
	return sp;
}

/* A run record whose load test finished, with the given recall metrics. */
static void finished_run(struct run_record *r, double scored, double code)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "20260101T000000Z-000001");
	r->n_steps = 1;
	snprintf(r->steps[0].name, sizeof(r->steps[0].name), "loadtest");
	snprintf(r->steps[0].state, sizeof(r->steps[0].state), "ran");
	r->steps[0].n_out = 1;
	r->steps[0].out[0].b[0] = 1;
	run_metric_set(r, "throughput", 10);
	if (scored >= 0)
		run_metric_set(r, "recall_scored", scored);
	if (code > 0)
		run_metric_set(r, "recall_unscored", code);
}

Test(recall, the_run_says_why_it_has_no_recall)
{
	struct spec *sp = load(spec_gt, "");
	struct run_record r;
	char why[160];
	finished_run(&r, 0, RECALL_UNSCORED_NO_TRUTH);
	cr_assert_eq(recall_unscored_why(sp, &r, why, sizeof(why)), 1);
	cr_assert_str_eq(why, "no query had a ground-truth neighbour with score >= 0.9 (cosine)");
	finished_run(&r, 0, RECALL_UNSCORED_NO_ANSWERS);
	cr_assert_eq(recall_unscored_why(sp, &r, why, sizeof(why)), 1);
	cr_assert(strstr(why, "no recall was answered"), "%s", why);
	finished_run(&r, 0, RECALL_UNSCORED_SHALLOW);
	cr_assert_eq(recall_unscored_why(sp, &r, why, sizeof(why)), 1);
	cr_assert(strstr(why, "steps.groundtruth.k = 10 is less than steps.loadtest.recall.k = 10"), "%s", why);
	/* scored: nothing to say */
	finished_run(&r, 5, 0);
	run_metric_set(&r, "recall", 0.8);
	cr_assert_eq(recall_unscored_why(sp, &r, why, sizeof(why)), 0);
	cr_assert_str_eq(why, "");
	/* a load test that did not finish measured nothing: missing data, not this */
	finished_run(&r, 0, RECALL_UNSCORED_NO_TRUTH);
	snprintf(r.steps[0].state, sizeof(r.steps[0].state), "failed");
	cr_assert_eq(recall_unscored_why(sp, &r, why, sizeof(why)), 0);
	spec_free(sp);
	/* not asked: no groundtruth step and no recall check */
	static const char plain[] = "name: rc\nseed: 1\ntarget: {driver: embedded}\nsteps:\n"
				    "  loadtest:\n    duration: 1s\n    arrival: {pattern: constant, rate: 10}\n";
	sp = load(plain, "");
	finished_run(&r, -1, 0);
	cr_assert_eq(recall_unscored_why(sp, &r, why, sizeof(why)), 0);
	spec_free(sp);
	/* asked by a check, structurally impossible */
	sp = load(plain, "checks:\n  recall: \">= 0.9\"\n");
	cr_assert_eq(recall_unscored_why(sp, &r, why, sizeof(why)), 1);
	cr_assert(strstr(why, "no groundtruth step"), "%s", why);
	spec_free(sp);
	/* the l2 wording: there is no threshold */
	const char *steps = strstr(spec_gt, "steps:");
	char l2[1024];
	snprintf(l2, sizeof(l2), "name: rc\nseed: 1\ntarget: {driver: embedded, hnsw: {space: l2}}\n%s", steps);
	sp = load(l2, "");
	finished_run(&r, 0, RECALL_UNSCORED_NO_TRUTH);
	cr_assert_eq(recall_unscored_why(sp, &r, why, sizeof(why)), 1);
	cr_assert(strstr(why, "held no vector"), "%s", why);
	spec_free(sp);
}

Test(recall, a_recall_check_on_an_unscored_run_fails_with_the_reason)
{
	struct spec *sp = load(spec_gt, "checks:\n  recall: \">= 0.9\"\n  throughput: \"> 1\"\n");
	struct run_record r;
	finished_run(&r, 0, RECALL_UNSCORED_NO_TRUTH);
	struct check_result c;
	struct err e = ERR_INIT;
	cr_assert_eq(check_run(NULL, &r, sp, NULL, NULL, &c, &e), 0, "%s", e.msg);
	const struct check_row *row = NULL;
	for (size_t i = 0; i < c.n; i++)
		if (!strcmp(c.rows[i].metric, "recall"))
			row = &c.rows[i];
	cr_assert_not_null(row);
	cr_assert_eq(row->verdict, CHECK_FAIL);
	cr_assert(strstr(row->note, "not scored: no query had a ground-truth neighbour with score >= 0.9"), "%s",
		  row->note);
	cr_assert_eq(c.failures, 1);
	cr_assert_eq(c.missing, 0);
	cr_assert_eq(check_exit_code(&c), 1);
	check_result_release(&c);
	/* the load test did not finish: no verdict, as for any metric */
	snprintf(r.steps[0].state, sizeof(r.steps[0].state), "failed");
	cr_assert_eq(check_run(NULL, &r, sp, NULL, NULL, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(c.missing, 1);
	cr_assert_eq(check_exit_code(&c), 3);
	check_result_release(&c);
	spec_free(sp);
}

/* ---- a stored run, scored by runmetrics ---------------------------------------- */

static const char spec_run[] = "name: rcrun\nseed: 5\ntarget: {driver: embedded, hnsw: {space: ip}}\nsteps:\n"
			       "  corpus: {source: sample, limit: 30}\n  embed: {embedder: hashing, dim: 4}\n"
			       "  queries: {count: 3, source: corpus}\n  groundtruth: {k: 3}\n  ingest: {}\n"
			       "  loadtest:\n    duration: 6s\n    warmup: 1s\n    arrival: {pattern: constant, rate: 40}\n"
			       "    mix: {store: 1, recall: 1, search: 0}\n    recall: {k: 3, threshold: 0.5, queries: 3}\n";

static struct digest put_blob(struct store *st, const void *p, size_t n)
{
	struct digest d;
	struct err e = ERR_INIT;
	cr_assert_eq(obj_put(st, p, n, &d, &e), 0, "%s", e.msg);
	return d;
}

static struct digest put_vectors(struct store *st, const float *v, size_t rows, uint32_t d)
{
	struct err e = ERR_INIT;
	struct digest vd = put_blob(st, v, rows * d * 4), ad;
	struct artifact a;
	artifact_init(&a, "vectors", 1);
	cr_assert_eq(artifact_add_part(&a, "vectors", &vd, rows * d * 4, &e) || artifact_set_int(&a, "rows", (int64_t)rows, &e) ||
			     artifact_set_int(&a, "dim", d, &e) || artifact_put(st, &a, &ad, &e),
		     0, "%s", e.msg);
	artifact_release(&a);
	return ad;
}

/*
 * What a plausible target returns: the best k of what it held (rows, held
 * stores, in-flight ones half the time), ties broken at random, then now and
 * then one id swapped for a row, a recent op taken for a store, or none.
 */
static void target_answer(const struct world *w, const struct recall_answer *a, uint64_t *got)
{
	size_t n = 0;
	struct pair *c = malloc((w->nb + w->ns + 1) * sizeof(*c));
	for (uint64_t id = 0; id < w->nb + w->ns; id++) {
		uint64_t cid = id < w->nb ? id : (id - w->nb) | FLAG;
		int st = status(w, a, cid);
		double v = eff(w, score_of(w, a->q, cid));
		if ((st == 1 || (st == 2 && below(2))) && v >= w->t)
			c[n++] = (struct pair){ v + (double)below(1000) * 1e-9, cid }; /* random tie-break */
	}
	qsort(c, n, sizeof(*c), pair_cmp);
	for (int j = 0; j < w->k; j++)
		got[j] = (size_t)j < n ? c[j].id : RECALL_NONE;
	free(c);
	uint64_t r = below(8), j = below((uint64_t)w->k), i = a->sent / 25000000; /* about the op index */
	if (r == 0)
		got[j] = below(w->nb);
	else if (r == 1)
		got[j] = (i - below(i < 12 ? i + 1 : 12)) | FLAG;
	else if (r == 2)
		got[j] = RECALL_NONE;
}

static void add_step(struct run_record *r, const char *name, const char *state, struct digest out)
{
	struct run_step *s = &r->steps[r->n_steps++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->state, sizeof(s->state), "%s", state);
	s->out[0] = out;
	s->n_out = 1;
}

static double metric(const struct run_record *r, const char *key)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (!strcmp(r->metrics[i].key, key))
			return r->metrics[i].value;
	return NAN;
}

Test(recall, a_stored_run_is_scored_like_the_brute_force)
{
	struct err e = ERR_INIT;
	char *dir = test_tmpdir("recall");
	struct store *st;
	cr_assert_eq(store_open(dir, 0, &st, &e), 0, "%s", e.msg);
	struct spec *sp = load(spec_run, "");
	rnd_state = 77;

	/* the world: rows in {-1, 0, 1}^4, queries 2 e_a + e_b; the load's stores are
	 * axis vectors, so stores and rows tie often (exact ip, integers) */
	struct world w;
	memset(&w, 0, sizeof(w));
	w.space = SPEC_SPACE_IP;
	w.k = 3;
	w.t = 0.5f;
	w.tol = 4 * vec_margin(4);
	w.d = 4;
	w.nb = 12;
	w.nq = 3;
	w.depth = 3;
	struct sched_params spp;
	sched_params_from_spec(&sp->loadtest, sp->seed, &spp);
	spp.n_queries = w.nq;
	struct sched S;
	cr_assert_eq(sched_init(&S, &spp, &e), 0, "%s", e.msg);
	size_t n_ops = (size_t)sched_count(&S);
	w.ns = n_ops; /* store ids are op indices: non-store ops are never held */
	w.na = n_ops;
	world_alloc(&w);
	for (size_t i = 0; i < w.nb * w.d; i++)
		w.base[i] = (float)((int)below(3) - 1);
	for (size_t q = 0; q < w.nq; q++) {
		w.qv[q * w.d + q] = 2;
		w.qv[q * w.d + (q + 1) % w.d] = 1;
	}
	struct steps_loadvec lv;
	steps_loadvec_init(&lv, sp, NULL, 0, w.d);

	/* records: stores acknowledged fast or slow (in flight across recalls),
	 * one timed out (maybe applied), one refused (never); recalls answered
	 * or failed; what each answered recall returned */
	struct record *rec = calloc(n_ops, sizeof(*rec));
	uint64_t *hits = calloc(n_ops * (size_t)(w.k + 1), 8);
	size_t nh = 0, na = 0;
	for (size_t i = 0; i < n_ops; i++) {
		struct sched_op op;
		cr_assert_eq(sched_next_due(&S, i, &op), 0);
		struct record *r = &rec[i];
		r->index = i;
		r->intended = op.due_ns;
		r->sent = op.due_ns + 1000;
		r->done = r->sent + (below(3) ? 20000000 : 250000000);
		r->op = (uint8_t)op.kind;
		r->status = 200;
		r->flags = op.warmup ? RECORD_F_WARMUP : 0;
		if (op.kind == OP_STORE) {
			uint64_t c = below(8);
			r->err = c == 0 ? RECORD_ERR_TIMEOUT : c == 1 ? RECORD_ERR_HTTP4XX : RECORD_ERR_NONE;
			steps_load_vector(&lv, op.arg, w.stv + i * w.d, NULL, 0);
			w.acked[i] = r->err == RECORD_ERR_NONE ? r->done : NEVER;
			w.maybe_from[i] = r->err != RECORD_ERR_HTTP4XX ? r->sent : NEVER;
			continue;
		}
		r->err = below(6) ? RECORD_ERR_NONE : RECORD_ERR_HTTP5XX;
	}
	for (size_t i = 0; i < n_ops; i++) {
		struct record *r = &rec[i];
		if (r->op != OP_RECALL || r->err != RECORD_ERR_NONE)
			continue;
		struct sched_op op;
		sched_next_due(&S, i, &op);
		uint64_t *h = hits + nh++ * (size_t)(w.k + 1), *got = h + 1;
		h[0] = i;
		struct recall_answer x = { op.arg % w.nq, r->sent, r->done, 0, got };
		target_answer(&w, &x, got);
		x.n_got = r->n_ids = (uint32_t)(w.k - (int)below(2)); /* now and then one short */
		for (uint32_t j = x.n_got; j < (uint32_t)w.k; j++)
			got[j] = RECALL_NONE;
		if (!op.warmup) { /* what runmetrics must score */
			memcpy(w.got + na * (size_t)w.k, got, (size_t)w.k * 8);
			x.got = w.got + na * (size_t)w.k;
			w.ans[na++] = x;
		}
	}
	w.na = na;

	/* the artifacts: base (the embed step's output), queries, ground truth, load test */
	struct stored sd;
	store_world(&w, &sd, 1);
	struct run_record r;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "20260101T000000Z-0000aa");
	r.spec_text = strdup(spec_run);
	add_step(&r, "embed", "cached", put_vectors(st, w.base, w.nb, w.d));
	add_step(&r, "queries", "cached", put_vectors(st, w.qv, w.nq, w.d));
	struct digest gi = put_blob(st, sd.gids, w.nq * w.depth * 8), gs = put_blob(st, sd.gsc, w.nq * w.depth * 4),
		      gc = put_blob(st, sd.gcnt, w.nq * 4), ld, gd, rd, hd;
	struct artifact a;
	artifact_init(&a, "groundtruth", 1);
	cr_assert_eq(artifact_add_part(&a, "ids", &gi, w.nq * w.depth * 8, &e) ||
			     artifact_add_part(&a, "scores", &gs, w.nq * w.depth * 4, &e) ||
			     artifact_add_part(&a, "counts", &gc, w.nq * 4, &e) || artifact_set_int(&a, "k", w.depth, &e) ||
			     artifact_set_int(&a, "nq", (int64_t)w.nq, &e) || artifact_put(st, &a, &gd, &e),
		     0, "%s", e.msg);
	artifact_release(&a);
	add_step(&r, "groundtruth", "cached", gd);
	void *rb = malloc(n_ops * RECORDS_SIZE);
	records_encode(rec, n_ops, rb);
	rd = put_blob(st, rb, n_ops * RECORDS_SIZE);
	hd = put_blob(st, hits, nh * (size_t)(w.k + 1) * 8);
	artifact_init(&a, "loadtest", 1);
	cr_assert_eq(artifact_add_part(&a, "records", &rd, n_ops * RECORDS_SIZE, &e) ||
			     artifact_add_part(&a, "hits", &hd, nh * (size_t)(w.k + 1) * 8, &e) ||
			     artifact_set_int(&a, "warmup_ns", (int64_t)sp->loadtest.warmup_ns, &e) ||
			     artifact_set_int(&a, "duration_ns", (int64_t)sp->loadtest.duration_ns, &e) ||
			     artifact_set_int(&a, "scheduled", (int64_t)n_ops, &e) || artifact_set_int(&a, "k", w.k, &e) ||
			     artifact_set_f64(&a, "threshold", w.t, &e) || artifact_put(st, &a, &ld, &e),
		     0, "%s", e.msg);
	artifact_release(&a);
	add_step(&r, "loadtest", "ran", ld);

	cr_assert_eq(runmetrics_compute(st, &r, &e), 0, "%s", e.msg);
	double sum = 0;
	size_t scored = 0;
	for (size_t i = 0; i < w.na; i++) {
		double b = brute(&w, &w.ans[i]);
		if (!isnan(b))
			sum += b, scored++;
	}
	cr_assert_gt(scored, 10);
	cr_assert_lt(sum, (double)scored, "the case should have misses");
	cr_assert_eq(metric(&r, "recall_scored"), (double)scored);
	cr_assert_eq(metric(&r, "recall_no_truth"), (double)(w.na - scored));
	cr_assert_float_eq(metric(&r, "recall"), sum / (double)scored, 1e-12);
	cr_assert(isnan(metric(&r, "recall_unscored")));

	/* the same run had its recalls sent with a threshold nothing reaches: no recall, and why */
	r.n_metrics = 0;
	artifact_init(&a, "loadtest", 1);
	cr_assert_eq(artifact_add_part(&a, "records", &rd, n_ops * RECORDS_SIZE, &e) ||
			     artifact_add_part(&a, "hits", &hd, nh * (size_t)(w.k + 1) * 8, &e) ||
			     artifact_set_int(&a, "k", w.k, &e) || artifact_set_f64(&a, "threshold", 99, &e) ||
			     artifact_put(st, &a, &r.steps[r.n_steps - 1].out[0], &e),
		     0, "%s", e.msg);
	artifact_release(&a);
	cr_assert_eq(runmetrics_compute(st, &r, &e), 0, "%s", e.msg);
	cr_assert(isnan(metric(&r, "recall")));
	cr_assert_eq(metric(&r, "recall_scored"), 0);
	cr_assert_eq(metric(&r, "recall_unscored"), RECALL_UNSCORED_NO_TRUTH);

	run_record_release(&r);
	stored_free(&sd);
	free(rb);
	free(rec);
	free(hits);
	world_free(&w);
	spec_free(sp);
	store_close(st);
	test_rmtree(dir);
	free(dir);
}
