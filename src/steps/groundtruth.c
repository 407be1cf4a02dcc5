/*
 * groundtruth.c — the groundtruth step: exact top-k of every query over the
 * vectors the target will hold after ingest.
 *
 * The base is the concatenation of the ingest sets in spec order (corpus
 * vectors, then synthetic); it is streamed into data/knn.c block by block
 * from the store (bounded memory: one block plus the running top-k), with the
 * target's metric (target.hnsw.space). No threshold is applied here: scores
 * are kept, so analysis can honour whatever threshold a recall used.
 * Output: artifact "groundtruth" v1 {ids (u64 global base row, nq x k),
 * scores (f32, nq x k), counts (u32 per query)} with meta k, nq, base_rows,
 * metric. The nq x k result arrays are checked allocations (ERR_NOSPACE).
 */
#include "engrave/steps.h"
#include "artio.h"
#include "engrave/err.h"
#include "engrave/knn.h"
#include "engrave/xalloc.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_ROWS 8192

static int feed_set(struct step_ctx *c, struct knn_stream *ks, const struct digest *set, uint32_t d,
		    uint64_t *rows_out, struct err *e)
{
	struct artifact a;
	if (artifact_get(c->store, set, &a, e))
		return -1;
	int64_t rows = 0, dim = 0;
	artifact_get_int(&a, "rows", &rows);
	artifact_get_int(&a, "dim", &dim);
	const struct digest *vd = artifact_part(&a, "vectors");
	if (!vd || (uint32_t)dim != d) {
		artifact_release(&a);
		return err_set(e, ERR_CORRUPT, "groundtruth: base set is not a %u-d vectors artifact", d);
	}
	struct obj_reader *r;
	if (obj_reader_open(c->store, vd, &r, e)) {
		artifact_release(&a);
		return -1;
	}
	float *blk = xalloc_try_array(BLOCK_ROWS, xalloc_mul(d, sizeof(float)), "a block of base vectors", e);
	int rc = blk ? 0 : err_prefix(e, "groundtruth");
	for (int64_t done = 0; done < rows && !rc;) {
		size_t n = rows - done < BLOCK_ROWS ? (size_t)(rows - done) : BLOCK_ROWS;
		rc = obj_read_at(r, (uint64_t)done * d * sizeof(float), blk, n * d * sizeof(float), e) ||
		     knn_stream_add(ks, blk, n, e);
		done += (int64_t)n;
		if (!rc && steps_stop_requested())
			rc = err_set(e, ERR_INTERRUPTED, "groundtruth: interrupted");
	}
	*rows_out += (uint64_t)rows;
	free(blk);
	obj_reader_close(r);
	artifact_release(&a);
	return rc;
}

int step_groundtruth_run(struct step_ctx *c, struct err *e)
{
	const struct digest *qd = step_input(c, STEP_QUERIES);
	if (!qd)
		return err_set(e, ERR_INTERNAL, "groundtruth: the queries step has no output");
	struct vecs q;
	if (vecs_load(c->store, qd, &q, e))
		return -1;
	uint32_t k = (uint32_t)c->spec->groundtruth.k;
	enum spec_space sp = c->spec->target.hnsw.space;
	enum knn_metric m = sp == SPEC_SPACE_L2 ? KNN_L2 : sp == SPEC_SPACE_IP ? KNN_IP : KNN_COSINE;
	struct knn_stream *ks = knn_stream_new(q.v, (size_t)q.rows, q.dim, k, m, -INFINITY, e);
	if (!ks) {
		vecs_free(&q);
		return -1;
	}
	uint64_t base_rows = 0;
	int rc = 0;
	/* the base: what ingest loads, in its order; else every vector set */
	enum spec_set sets[2];
	size_t n_sets = steps_base_sets(c->spec, sets);
	for (size_t i = 0; i < n_sets && !rc; i++) {
		const struct digest *set = step_set_vectors(c, sets[i]);
		if (set)
			rc = feed_set(c, ks, set, q.dim, &base_rows, e);
	}
	size_t nk = xalloc_mul((size_t)q.rows, k);
	uint32_t *ids32 = NULL, *counts = NULL;
	uint64_t *ids = NULL;
	float *scores = NULL;
	if (!rc && (!(ids32 = xalloc_try_array(nk, sizeof(uint32_t), "neighbour ids", e)) ||
		    !(ids = xalloc_try_array(nk, sizeof(uint64_t), "neighbour ids", e)) ||
		    !(scores = xalloc_try_array(nk, sizeof(float), "neighbour scores", e)) ||
		    !(counts = xalloc_try_array((size_t)q.rows, sizeof(uint32_t), "neighbour counts", e))))
		rc = err_prefix(e, "groundtruth: %llu queries x k=%u", (unsigned long long)q.rows, k);
	if (!rc)
		rc = knn_stream_finish(ks, ids32, scores, counts, e);
	if (!rc) {
		for (size_t i = 0; i < nk; i++)
			ids[i] = ids32[i];
		struct artifact a;
		artifact_init(&a, "groundtruth", 1);
		a.action = c->action;
		struct digest di, ds, dc;
		rc = obj_put(c->store, ids, nk * sizeof(uint64_t), &di, e) ||
		     obj_put(c->store, scores, nk * sizeof(float), &ds, e) ||
		     obj_put(c->store, counts, (size_t)q.rows * sizeof(uint32_t), &dc, e) ||
		     artifact_add_part(&a, "ids", &di, nk * sizeof(uint64_t), e) ||
		     artifact_add_part(&a, "scores", &ds, nk * sizeof(float), e) ||
		     artifact_add_part(&a, "counts", &dc, (size_t)q.rows * sizeof(uint32_t), e) ||
		     artifact_set_int(&a, "k", k, e) || artifact_set_int(&a, "nq", (int64_t)q.rows, e) ||
		     artifact_set_int(&a, "base_rows", (int64_t)base_rows, e) ||
		     artifact_set_str(&a, "metric", knn_metric_name(m), e) ||
		     artifact_put(c->store, &a, &c->out[0], e);
		artifact_release(&a);
		if (!rc) {
			c->n_out = 1;
			snprintf(c->summary, sizeof(c->summary), "exact top-%u (%s) of %llu queries over %llu vectors",
				 k, knn_metric_name(m), (unsigned long long)q.rows, (unsigned long long)base_rows);
		}
	}
	free(ids32);
	free(ids);
	free(scores);
	free(counts);
	knn_stream_free(ks);
	vecs_free(&q);
	return rc;
}
