/*
 * groundtruth.c — the groundtruth step: exact top-k of every query over the
 * vectors the target will hold after ingest.
 *
 * The base is the concatenation of the ingest sets in spec order (corpus
 * vectors, then synthetic; without an ingest step, every vector set). It is
 * never loaded whole: data/knn.c's workers (one per CPU) each fetch a block
 * of BLOCK_ROWS rows by offset from the store through readers of their own
 * (the read and its chunk hashing overlap the other workers' sgemm), score
 * it with the target's metric (target.hnsw.space) and keep their own top-k;
 * knn.c merges them. Memory: per worker one block, one store chunk and the
 * nq x k heaps. No threshold is applied here: scores
 * are kept, so analysis can honour whatever threshold a recall used.
 * Output: artifact "groundtruth" v1 {ids (u64 global base row, nq x k),
 * scores (f32, nq x k), counts (u32 per query)} with meta k, nq, base_rows,
 * metric. The nq x k result arrays are checked allocations (ERR_NOSPACE).
 */
#include "engrave/steps.h"
#include "artio.h"
#include "engrave/err.h"
#include "engrave/knn.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK_ROWS 8192
#define MAX_WORKERS 16

/* The base: the ingest sets back to back, each a "vectors" part in the
 * store; every worker reads through readers of its own (obj_reader is not
 * shared between threads; LMDB read transactions are per call). */
struct gt_base {
	struct store *st;
	uint32_t d;
	size_t n_sets;
	uint64_t row0[2], rows[2];
	struct digest vd[2];
	struct obj_reader **r; /* workers x n_sets, opened on first use */
};

static int base_add_set(struct gt_base *b, const struct digest *set, struct err *e)
{
	struct artifact a;
	if (artifact_get(b->st, set, &a, e))
		return -1;
	int64_t rows = 0, dim = 0;
	artifact_get_int(&a, "rows", &rows);
	artifact_get_int(&a, "dim", &dim);
	const struct digest *vd = artifact_part(&a, "vectors");
	if (!vd || (uint32_t)dim != b->d || rows < 0) {
		artifact_release(&a);
		return err_set(e, ERR_CORRUPT, "groundtruth: base set is not a %u-d vectors artifact", b->d);
	}
	size_t s = b->n_sets++;
	b->vd[s] = *vd;
	b->rows[s] = (uint64_t)rows;
	b->row0[s] = s ? b->row0[s - 1] + b->rows[s - 1] : 0;
	artifact_release(&a);
	/* the part must hold exactly rows x dim floats (else reads would fail mid-way) */
	struct obj_reader *r;
	if (obj_reader_open(b->st, &b->vd[s], &r, e))
		return -1;
	uint64_t size = obj_reader_size(r), want = (uint64_t)rows * b->d * sizeof(float);
	obj_reader_close(r);
	if (size != want)
		return err_set(e, ERR_CORRUPT, "groundtruth: a base set has %llu bytes of vectors, %llu x %u floats expected",
			       (unsigned long long)size, (unsigned long long)rows, b->d);
	return 0;
}

static const float *base_fetch(void *ctx, unsigned worker, uint64_t row0, size_t n, float *buf, struct err *e)
{
	struct gt_base *b = ctx;
	if (steps_stop_requested()) {
		err_set(e, ERR_INTERRUPTED, "groundtruth: interrupted");
		return NULL;
	}
	const size_t row_bytes = (size_t)b->d * sizeof(float);
	uint64_t end = row0 + n;
	for (size_t s = 0; s < b->n_sets; s++) {
		uint64_t lo = row0 > b->row0[s] ? row0 : b->row0[s];
		uint64_t hi = end < b->row0[s] + b->rows[s] ? end : b->row0[s] + b->rows[s];
		if (lo >= hi)
			continue;
		struct obj_reader **r = &b->r[worker * b->n_sets + s];
		if (!*r && obj_reader_open(b->st, &b->vd[s], r, e))
			return NULL;
		if (obj_read_at(*r, (lo - b->row0[s]) * row_bytes, buf + (lo - row0) * b->d, (size_t)(hi - lo) * row_bytes, e)) {
			err_prefix(e, "groundtruth: base rows %llu..%llu", (unsigned long long)lo,
				   (unsigned long long)(hi - 1));
			return NULL;
		}
	}
	return buf;
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
	struct knn_opts ko;
	knn_opts_init(&ko);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	ko.threads = cpus < 1 ? 1 : cpus > MAX_WORKERS ? MAX_WORKERS : (unsigned)cpus;
	ko.block_rows = BLOCK_ROWS;
	ko.progress_label = "groundtruth";
	struct gt_base base = { .st = c->store, .d = q.dim };
	int rc = 0;
	/* the base: what ingest loads, in its order; else every vector set */
	enum spec_set sets[2];
	size_t n_sets = steps_base_sets(c->spec, sets);
	for (size_t i = 0; i < n_sets && !rc; i++) {
		const struct digest *set = step_set_vectors(c, sets[i]);
		if (set)
			rc = base_add_set(&base, set, e);
	}
	uint64_t base_rows = base.n_sets ? base.row0[base.n_sets - 1] + base.rows[base.n_sets - 1] : 0;
	base.r = xcalloc(xalloc_mul(ko.threads, base.n_sets ? base.n_sets : 1), sizeof *base.r);
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
		rc = knn_exact_fetch(q.v, (size_t)q.rows, q.dim, k, m, -INFINITY, base_rows, base_fetch, &base, &ko, ids32,
				     scores, counts, e);
	for (size_t i = 0; i < (size_t)ko.threads * base.n_sets; i++)
		obj_reader_close(base.r[i]);
	free(base.r);
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
	vecs_free(&q);
	return rc;
}
