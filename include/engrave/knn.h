/*
 * knn.h — exact k nearest neighbours, for ground truth.
 *
 * For each query, the k base vectors with the highest score, best first,
 * ties broken by the lower base index. Scores:
 *   KNN_COSINE  q.b / (|q| |b|)   (0 when either norm is 0)
 *   KNN_IP      q.b
 *   KNN_L2      -||q - b||^2      (so "higher is better" everywhere; the
 *                                  distance is -score)
 * Results with a score below `threshold` are dropped (pass -INFINITY for no
 * threshold), so a query may get fewer than k: n_out[i] says how many.
 * Engram scores max(0, cosine) and drops scores < threshold; with
 * threshold > 0 KNN_COSINE returns exactly the set Engram should return.
 *
 * Scores are computed exactly (vec_dot_f64, fixed order, double) for every
 * candidate that sgemm puts within vec_margin() of the current k-th score,
 * so ids and scores are the same bits on any machine and thread count, and
 * for any way of splitting the base into blocks.
 *
 * Output layout: ids_out and scores_out are nq * k, row i for query i, the
 * first n_out[i] entries valid (the rest: id UINT32_MAX, score -INFINITY).
 */
#ifndef ENGRAVE_KNN_H
#define ENGRAVE_KNN_H

#include <stddef.h>
#include <stdint.h>

struct err;

enum knn_metric { KNN_COSINE = 0, KNN_L2 = 1, KNN_IP = 2 };

/* "cosine" | "l2" | "ip" -> 0, or -1 (ERR_USAGE) with the valid names. */
int knn_metric_parse(const char *s, enum knn_metric *m, struct err *e);
const char *knn_metric_name(enum knn_metric m);

/* The exact score of one pair, the value the results carry (as a double). */
double knn_score(enum knn_metric m, const float *q, const float *b, uint32_t d);

/* Whole base in memory (processed in blocks on one worker per CPU: bounded scratch). */
int knn_exact(const float *q, size_t nq, const float *base, size_t nb, uint32_t d, uint32_t k,
	      enum knn_metric m, float threshold, uint32_t *ids_out, float *scores_out,
	      uint32_t *n_out, struct err *e);

/*
 * The base read block by block through `fetch`: rows [row0, row0 + n) of
 * the nbase rows (row ids are the base row numbers). fetch reads them into
 * `buf` (room for n rows of d floats) or returns rows it already holds; it
 * returns NULL with `e` set to stop the search (that error, of the lowest
 * failing block, is returned). It is called from several threads at once,
 * each with its own `worker` number (0 .. threads-1) and its own buf, in no
 * particular block order. The result is the same for any threads and
 * block_rows. Memory: per worker one block plus nq * k; never the base.
 */
typedef const float *(*knn_fetch_fn)(void *ctx, unsigned worker, uint64_t row0, size_t n, float *buf,
				     struct err *e);
struct knn_opts {
	unsigned threads;           /* workers; 0: one per online CPU */
	size_t block_rows;          /* rows per fetch; 0: 8192 */
	const char *progress_label; /* non-NULL: draw a progress line with this label */
};
void knn_opts_init(struct knn_opts *o);
int knn_exact_fetch(const float *q, size_t nq, uint32_t d, uint32_t k, enum knn_metric m, float threshold,
		    uint64_t nbase, knn_fetch_fn fetch, void *ctx, const struct knn_opts *o, uint32_t *ids_out,
		    float *scores_out, uint32_t *n_out, struct err *e);

#endif
