/*
 * recall.h — recall@k of a load test's recalls against exact ground truth,
 * and why a run has no recall when it could not be scored.
 *
 * The scorer takes plain arrays (what the run stored, see runmetrics.c for
 * how they are assembled), so it is tested against a brute force without a
 * store (tests/unit/test_recall.c).
 *
 * Scores are "higher is better", raw per space: cosine q.v/(|q||v|) (0 when
 * a norm is 0), ip q.v, l2 -|q-v|^2 (knn.h). The effective score is what the
 * drivers rank and filter by: max(0, cosine) for cosine (Engram's rule), the
 * raw score for ip and l2. The threshold t keeps eff >= t for cosine and ip;
 * l2 has no threshold (the drivers apply none to distances).
 * slack(x) = tol * max(1, |x|) absorbs float32 rounding of the target's and
 * our own scores (tol 0: exact comparisons).
 *
 * Candidates of an answer (query q, sent at `sent`, complete at `done`):
 *   base rows     always held: the ground truth's list for q, plus `extra`
 *                 rows of q whose exact score is known;
 *   stores        held when acknowledged before the recall was sent
 *                 (acked < sent); "maybe held" when not, but possibly applied
 *                 before the recall completed (maybe_from < done): in flight
 *                 at the time, or failed in a way that may have applied them.
 *                 A maybe-held store the answer returned counts as held (the
 *                 target showed it had it); one it did not return, as not held.
 * Rules, per answer:
 *   1. R = held candidates with eff >= t + slack(t) (l2: every held one);
 *      m = min(k, |R|). m = 0: the answer is not scored: recall is undefined
 *      without a neighbour above the threshold, whatever the target returned
 *      (counted in no_truth; the run says so when no answer was scored).
 *   2. s_k = the m-th best eff in R; its band is [s_k - slack(s_k), s_k +
 *      slack(s_k)]. Ties: candidates above the band must each be returned;
 *      the remaining m - above places may be filled by any candidates in the
 *      band, whichever of the tied ones an exact ordering would keep.
 *   3. correct = (returned ids above the band) + min(returned ids in the
 *      band, m - |R above the band|), counting each distinct id once and
 *      only held or maybe-held ones with a known score. Not correct:
 *      RECALL_NONE (an id the run cannot map; counted in `foreign`), a store
 *      not held by then, a base row neither in the list nor in `extra` (its
 *      score is at most the list's last: a miss), a score below the band.
 *   4. recall = correct / m (at most 1). Ids past n_got or past k are ignored.
 * Over the answers: mean of the scored ones, p05 = the value at rank
 * floor(0.05 (n-1)) of their sorted values (the 5th percentile, low side).
 * The list must be the exact top of the base (depth >= k, as the
 * groundtruth step writes it), so R's top m is the true one.
 */
#ifndef ENGRAVE_RECALL_H
#define ENGRAVE_RECALL_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/spec.h"

struct err;
struct run_record;

#define RECALL_NONE UINT64_MAX /* no id, or one the run cannot map */

struct recall_answer {
	uint64_t q;                /* query row */
	uint64_t sent, done;       /* ns, the recall's record times */
	uint32_t n_got;            /* ids returned (only the first k are kept) */
	const uint64_t *got;       /* k entries, RECALL_NONE past n_got */
};

struct recall_input {
	enum spec_space space;
	int k;                     /* results asked per recall, >= 1 */
	float threshold;
	double tol;                /* slack factor, >= 0 */
	/* ground truth over the base: nq x depth, counts[q] valid entries per row */
	uint64_t nq;
	uint32_t depth;
	const uint64_t *ids;
	const float *scores;       /* raw */
	const uint32_t *counts;
	/* base rows outside the lists with known raw scores, sorted by (q, id) */
	size_t n_extra;
	const uint64_t *extra_q, *extra_id;
	const float *extra_score;
	/* the load test's stores, sorted by id (disjoint from base row ids) */
	size_t n_st;
	const uint64_t *st_id;
	const uint64_t *st_acked;      /* ns; UINT64_MAX: never acknowledged */
	const uint64_t *st_maybe_from; /* ns; UINT64_MAX: never possibly applied */
	const float *st_scores;        /* nq x n_st, raw */
	/* the answered recalls to score */
	size_t n_ans;
	const struct recall_answer *ans;
};

struct recall_result {
	double mean, p05;          /* NAN when nothing was scored */
	uint64_t scored;           /* answers with m > 0 */
	uint64_t no_truth;         /* answers with m = 0 */
	uint64_t foreign;          /* RECALL_NONE ids among the returned ones */
};

/*
 * Score every answer (rules above). values, when not NULL, gets n_ans
 * entries: each answer's recall, NAN when not scored. ERR_NOSPACE when the
 * scratch arrays do not fit; ERR_CORRUPT for a query row >= nq.
 */
int recall_score(const struct recall_input *in, struct recall_result *out, double *values, struct err *e);

/*
 * Why recall could not be scored, as the metric `recall_unscored` stores it
 * (runmetrics.c); 0 when it was.
 */
enum recall_unscored {
	RECALL_UNSCORED_NONE = 0,
	RECALL_UNSCORED_NO_ANSWERS = 1, /* no recall answered without error after the warm-up */
	RECALL_UNSCORED_NO_TRUTH = 2,   /* no answered recall had a neighbour above the threshold */
	RECALL_UNSCORED_SHALLOW = 3,    /* the ground truth is shallower than k */
};

/* "recall" and "recall_p05": the scores (recall_p99_ms etc. are latencies). */
int recall_is_score_metric(const char *metric);
/*
 * Why run `r` of spec `sp` has no recall score although it was asked for
 * one (the spec checks recall, or has a groundtruth step and recalls in its
 * load), written into `out` ("no query had a ground-truth neighbour with
 * score >= 0.9 (cosine)"). 0 (out = "") when the run has a recall, was not
 * asked for one, or its load test did not finish (then it measured nothing).
 */
int recall_unscored_why(const struct spec *sp, const struct run_record *r, char *out, size_t cap);

#endif
