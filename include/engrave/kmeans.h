/*
 * kmeans.h — seeded k-means (full Lloyd or mini-batch), deterministic.
 *
 * Initialisation is k-means++ (D^2 sampling) on a seeded subsample of
 * init_sample points. Lloyd runs max_iter full passes; mini-batch follows
 * scikit-learn's MiniBatchKMeans: max_iter epochs of n / batch_size steps,
 * batches drawn with replacement, per-centre learning rate 1/count, early
 * stop when the smoothed batch inertia has not improved for
 * max_no_improvement steps or the centres moved less than tol, and random
 * reassignment (every 10 k samples, centres with < 1% of the largest count
 * jump to a seeded batch point; reassignment_ratio 0.01).
 *
 * The result (centroids, sizes, inertia) is the same bits for any OpenBLAS
 * thread count, on repeated runs and on other x86-64 CPUs: distances come
 * from sgemm (vec.h) but near-ties are settled with exact fixed-order
 * arithmetic, and centroid sums are double, accumulated in point order.
 */
#ifndef ENGRAVE_KMEANS_H
#define ENGRAVE_KMEANS_H

#include <stddef.h>
#include <stdint.h>

struct err;

enum kmeans_algo { KMEANS_LLOYD = 0, KMEANS_MINIBATCH = 1 };

#define KMEANS_STREAM_INIT 0x4b4d4e49ULL  /* "KMNI": subsample + k-means++ */
#define KMEANS_STREAM_BATCH 0x4b4d4e42ULL /* "KMNB": mini-batch draws */

struct kmeans_opts {
	uint32_t k;
	enum kmeans_algo algo;
	uint32_t max_iter;           /* Lloyd: passes; mini-batch: epochs */
	uint32_t batch_size;         /* mini-batch only */
	double tol;                  /* stop when sum of squared centre moves <= tol * mean
					per-dimension variance of x (sklearn); 0: off */
	uint32_t max_no_improvement; /* mini-batch; 0: off */
	uint64_t seed;
	uint32_t init_sample;        /* k-means++ on this many points; 0: min(n, 32 k) */
	int init_random;             /* 1: k distinct seeded points instead of k-means++ */
	int progress;                /* draw a progress line (log.h) */
};

/* Defaults: k, Lloyd, max_iter 20, batch 1024, tol 0, max_no_improvement 10, seed 42. */
void kmeans_opts_init(struct kmeans_opts *o, uint32_t k);
/* "lloyd" | "minibatch" -> 0, else -1 (ERR_USAGE). */
int kmeans_algo_parse(const char *s, enum kmeans_algo *a, struct err *e);

/*
 * x: n x d row-major. Writes centroids_out (k x d), sizes_out (k: points of
 * x nearest to each final centroid; may be NULL) and inertia_out (sum of
 * squared distances of all points to their nearest final centroid, double;
 * may be NULL). The number of passes/steps run is logged at debug level.
 * -1 with ERR_INPUT when n < k, ERR_USAGE on bad options.
 */
int kmeans_run(const float *x, size_t n, uint32_t d, const struct kmeans_opts *o, float *centroids_out,
	       uint64_t *sizes_out, double *inertia_out, struct err *e);

#endif
