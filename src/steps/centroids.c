/*
 * centroids.c — the centroids step: k-means over the embedded corpus.
 *
 * from: store   k-means (data/kmeans.c: k-means++ init, Lloyd or mini-batch,
 *               seeded, thread-count independent) over the embed step's
 *               vectors, loaded whole (50K x 768 floats is 150 MB);
 * from: target  k-means over every embedding the target holds, paged out of
 *               it (Engram: GET /api/v1/memories?include_embeddings=true),
 *               as the original plan's extract_centroids.py meant to; rows
 *               are sorted by id first because servers page in unstable
 *               order. Not memoized (the target can change under the same
 *               spec): the runner treats it as effectful.
 * from: random  k centres drawn uniformly from [-1,1]^dim by the
 *               counter-based RNG (what Engram's loadtest generator does),
 *               for specs with no corpus.
 * Output: artifact "centroids" v1 {vectors (k x dim f32), sizes (u64 per
 * cluster)} with meta k, dim, rows (= k), inertia. Buffers sized by k x dim
 * (or by the target's row count) are checked allocations: ERR_NOSPACE, not
 * an abort, when they do not fit.
 */
#include "engrave/steps.h"
#include "artio.h"
#include "engrave/err.h"
#include "engrave/kmeans.h"
#include "engrave/rng.h"
#include "engrave/xalloc.h"
#include "engrave/log.h"
#include "engrave/store.h"
#include "engrave/target.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_RANDOM_CENTRES 0x43454e52ULL /* "CENR" */

static int put_centroids(struct step_ctx *c, const float *cent, const uint64_t *sizes, uint32_t k, uint32_t d,
			 double inertia, const char *how, struct err *e)
{
	struct vecs_writer vw;
	if (vecs_writer_open(&vw, c->store, d, 0, e))
		return -1;
	if (vecs_writer_add(&vw, cent, k, NULL, NULL, NULL, e)) {
		vecs_writer_abort(&vw);
		return -1;
	}
	struct artifact a;
	artifact_init(&a, "centroids", 1);
	a.action = c->action;
	struct digest sd;
	int rc = obj_put(c->store, sizes, k * sizeof(uint64_t), &sd, e) ||
		 artifact_add_part(&a, "sizes", &sd, k * sizeof(uint64_t), e) ||
		 artifact_set_int(&a, "k", k, e) || artifact_set_f64(&a, "inertia", inertia, e) ||
		 artifact_set_str(&a, "method", how, e) || vecs_writer_finish(&vw, &a, &c->out[0], e);
	if (rc)
		vecs_writer_abort(&vw);
	artifact_release(&a);
	if (rc)
		return -1;
	c->n_out = 1;
	return 0;
}

static const struct target_vectors *sort_tv;

static int by_id(const void *a, const void *b)
{
	return strcmp(sort_tv->ids[*(const size_t *)a], sort_tv->ids[*(const size_t *)b]);
}

/* Every vector the target holds, sorted by id, as an in-memory `struct vecs`. */
static int load_from_target(struct step_ctx *c, struct vecs *v, struct err *e)
{
	struct target *t;
	if (steps_target(c, &t, e))
		return -1;
	memset(v, 0, sizeof(*v));
	artifact_init(&v->art, "vectors", 1);
	struct target_vectors tv;
	target_vectors_init(&tv, target_dim(t));
	if (target_fetch_all(t, 0, &tv, e)) {
		target_vectors_release(&tv);
		return -1;
	}
	size_t *order = xalloc_try_array(tv.n, sizeof(size_t), "the fetched vectors' order", e);
	v->v = order ? xalloc_try_array(tv.n, xalloc_mul(tv.dim, sizeof(float)), "the fetched vectors", e) : NULL;
	if (!v->v) {
		free(order);
		target_vectors_release(&tv);
		vecs_free(v);
		return err_prefix(e, "centroids: %zu vectors from the target", tv.n);
	}
	for (size_t i = 0; i < tv.n; i++)
		order[i] = i;
	sort_tv = &tv; /* the step runs on one thread */
	qsort(order, tv.n, sizeof(size_t), by_id);
	for (size_t i = 0; i < tv.n; i++)
		memcpy(v->v + i * tv.dim, tv.vecs + order[i] * tv.dim, tv.dim * sizeof(float));
	v->rows = tv.n;
	v->dim = tv.dim;
	free(order);
	target_vectors_release(&tv);
	log_info("centroids: fetched %llu embeddings from %s at %s", (unsigned long long)v->rows, target_driver(t),
		 target_url(t) ? target_url(t) : "(in-process)");
	return 0;
}

int step_centroids_run(struct step_ctx *c, struct err *e)
{
	const struct spec_centroids *sc = &c->spec->centroids;
	uint32_t k = (uint32_t)sc->k;
	if (sc->from == SPEC_FROM_RANDOM) {
		uint32_t d = (uint32_t)sc->dim;
		float *cent = xalloc_try_array(k, xalloc_mul(d, sizeof(float)), "the centroids", e);
		uint64_t *sizes = cent ? xalloc_try_zeroed(k, sizeof(uint64_t), "the cluster sizes", e) : NULL;
		if (!sizes) {
			free(cent);
			return err_hint(e, "lower steps.centroids.k or steps.centroids.dim (%u x %u floats)", k, d);
		}
		for (uint64_t i = 0; i < (uint64_t)k * d; i++)
			cent[i] = 2.0f * rng_uniform_f32(c->spec->seed, STREAM_RANDOM_CENTRES, i) - 1.0f;
		int rc = put_centroids(c, cent, sizes, k, d, 0, "random", e);
		free(cent);
		free(sizes);
		if (!rc)
			snprintf(c->summary, sizeof(c->summary), "%u random %u-d centres", k, d);
		return rc;
	}
	struct vecs v;
	if (sc->from == SPEC_FROM_TARGET) {
		if (load_from_target(c, &v, e))
			return -1;
	} else {
		const struct digest *vd = step_corpus_vectors(c);
		if (!vd)
			return err_set(e, ERR_INTERNAL, "centroids: no corpus vectors to cluster");
		if (vecs_load(c->store, vd, &v, e))
			return -1;
	}
	if (v.rows < k) {
		vecs_free(&v);
		err_set(e, ERR_SPEC, "steps.centroids.k is %u but the %s has only %llu vectors", k,
			sc->from == SPEC_FROM_TARGET ? "target" : "corpus", (unsigned long long)v.rows);
		return err_hint(e, "lower k or load more vectors first");
	}
	struct kmeans_opts ko;
	kmeans_opts_init(&ko, k);
	ko.algo = sc->algorithm == SPEC_KMEANS_MINIBATCH ? KMEANS_MINIBATCH : KMEANS_LLOYD;
	ko.max_iter = (uint32_t)sc->max_iter;
	ko.batch_size = (uint32_t)sc->batch_size;
	ko.tol = sc->tol;
	ko.seed = c->spec->seed;
	ko.init_random = sc->init == SPEC_INIT_RANDOM;
	ko.progress = 1;
	float *cent = xalloc_try_array(k, xalloc_mul(v.dim, sizeof(float)), "the centroids", e);
	uint64_t *sizes = cent ? xalloc_try_zeroed(k, sizeof(uint64_t), "the cluster sizes", e) : NULL;
	double inertia = 0;
	int rc = sizes ? kmeans_run(v.v, (size_t)v.rows, v.dim, &ko, cent, sizes, &inertia, e)
		       : err_hint(e, "lower steps.centroids.k (%u x %u floats)", k, v.dim);
	if (!rc)
		rc = put_centroids(c, cent, sizes, k, v.dim, inertia,
				   ko.algo == KMEANS_MINIBATCH ? "minibatch" : "lloyd", e);
	if (!rc)
		snprintf(c->summary, sizeof(c->summary), "k=%u over %llu vectors, inertia %.6g", k,
			 (unsigned long long)v.rows, inertia);
	free(cent);
	free(sizes);
	vecs_free(&v);
	return rc;
}
