/*
 * queries.c — the queries step: the recall cue set for the load test.
 *
 * source corpus|synthetic: `count` rows drawn (with replacement) from the
 * embed or synthetic vectors by the counter-based RNG, plus optional
 * Gaussian noise (steps.queries.noise, then L2-renormalised) so that a cue is
 * near, not identical to, a stored vector. source heldout: fresh vectors
 * around the centroids from a separate RNG stream, never loaded into the
 * target. Output: a vectors artifact whose ids are the source row indices
 * (heldout: the generated row numbers). The count comes from the spec, so
 * the buffers are checked allocations: too large is ERR_NOSPACE (exit 4), a
 * failed step a resumed run redoes, never an abort.
 *
 * The source set is never loaded whole (at 1M x 768 it is 3 GB): synthetic
 * picks are regenerated row by row (data/synth.c is counter-based, so row r
 * is a pure function of the spec, the centroids and r), with one picked row
 * read back from the stored set to prove they are its bytes; corpus picks,
 * and synthetic ones if that check fails, are read by offset from the
 * stored set (artio.c: in row order, each store chunk once). Either way a
 * query is bit-identical to its source row, so the output is the same
 * artifact as when the whole set was loaded.
 */
#include "engrave/steps.h"
#include "artio.h"
#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/rng.h"
#include "engrave/store.h"
#include "engrave/synth.h"
#include "engrave/vec.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_QUERY_PICK 0x51525950ULL  /* "QRYP" */
#define STREAM_QUERY_NOISE 0x5152594eULL /* "QRYN" */
#define HELDOUT_SEED_XOR 0x484f4c444f5554ULL /* "HOLDOUT" */

/* Row r of the source set for pick i (the same draw for any source size). */
static uint64_t pick_row(uint64_t seed, uint64_t i, uint64_t rows)
{
	return rows <= UINT32_MAX ? rng_below(seed, STREAM_QUERY_PICK, i, (uint32_t)rows)
				  : (uint64_t)rng_u32(seed, STREAM_QUERY_PICK, i) % rows;
}

/*
 * The picked synthetic rows, regenerated (synth_generate is the definition
 * of the set: row r is a pure function of the spec, the centroids and r).
 * 1: done; 0: not applicable or not the stored bytes — the caller reads the
 * rows from the artifact instead; -1: error. One picked row is read back from
 * the artifact and compared, so a set made with other options (or by
 * another generator) is never silently replaced by regenerated rows.
 */
static int regenerate_synthetic(struct step_ctx *c, struct vecs_rows *src, const uint64_t *ids, uint64_t n,
				float *q, struct err *e)
{
	const struct digest *cd = step_input(c, STEP_CENTROIDS);
	if (!cd || !c->spec->synthetic.present || n == 0)
		return 0;
	struct vecs cent;
	if (vecs_load(c->store, cd, &cent, e))
		return -1;
	struct synth_opts so;
	steps_synth_opts(c->spec, &so);
	int rc = 0;
	if (cent.dim == src->dim && cent.rows > 0 && cent.rows <= UINT32_MAX && so.count == src->rows) {
		uint32_t d = src->dim;
		for (uint64_t i = 0; i < n; i++)
			synth_generate(&so, cent.v, (uint32_t)cent.rows, d, ids[i], 1, q + i * d, NULL, NULL);
		float *stored = xmalloc_array(d, sizeof(float)); /* one row */
		rc = vecs_rows_read(src, ids, 1, stored, e) ? -1 : memcmp(stored, q, d * sizeof(float)) == 0;
		if (rc == 0)
			log_warn("queries: the synthetic set is not what the generator makes for this spec; "
				 "reading the %llu picked rows from it", (unsigned long long)n);
		free(stored);
	}
	vecs_free(&cent);
	return rc;
}

int step_queries_run(struct step_ctx *c, struct err *e)
{
	const struct spec_queries *sq = &c->spec->queries;
	uint64_t n = sq->count, seed = c->spec->seed;
	const char *from = sq->source == SPEC_QSRC_SYNTHETIC ? "synthetic"
			   : sq->source == SPEC_QSRC_HELDOUT ? "centroid"
							     : "corpus";
	const struct digest *src_d = sq->source == SPEC_QSRC_CORPUS      ? step_corpus_vectors(c)
				     : sq->source == SPEC_QSRC_SYNTHETIC ? step_input(c, STEP_SYNTHETIC)
									 : step_input(c, STEP_CENTROIDS);
	if (!src_d)
		return err_set(e, ERR_INTERNAL, "queries: the %s vectors are missing", from);
	/* heldout: the centroids, whole (k x dim); else the source set's rows by offset */
	struct vecs cent = { 0 };
	struct vecs_rows src = { 0 };
	if (sq->source == SPEC_QSRC_HELDOUT ? vecs_load(c->store, src_d, &cent, e)
					    : vecs_rows_open(c->store, src_d, &src, e))
		return -1;
	uint32_t d = sq->source == SPEC_QSRC_HELDOUT ? cent.dim : src.dim;
	int rc = -1;
	float *noise = xmalloc_array(d, sizeof(float)); /* one row */
	float *q = NULL;
	uint64_t *ids = NULL;
	if (sq->source != SPEC_QSRC_HELDOUT && src.rows == 0) {
		err_set(e, ERR_INPUT, "queries: the %s set is empty", from);
		goto out;
	}
	q = xalloc_try_array((size_t)n, xalloc_mul(d, sizeof(float)), "the query vectors", e);
	ids = q ? xalloc_try_array((size_t)n, sizeof(uint64_t), "the query ids", e) : NULL;
	if (!ids) {
		err_hint(e, "lower steps.queries.count (%llu x %u floats)", (unsigned long long)n, d);
		goto out;
	}
	if (sq->source == SPEC_QSRC_HELDOUT) {
		struct synth_opts so;
		synth_opts_init(&so, n);
		so.seed = seed ^ HELDOUT_SEED_XOR;
		so.std_dev = c->spec->synthetic.present ? (float)c->spec->synthetic.std_dev : 0.1f;
		so.normalize = 1;
		synth_generate(&so, cent.v, (uint32_t)cent.rows, d, 0, n, q, NULL, NULL);
		for (uint64_t i = 0; i < n; i++)
			ids[i] = i;
	} else {
		for (uint64_t i = 0; i < n; i++)
			ids[i] = pick_row(seed, i, src.rows);
		int got = sq->source == SPEC_QSRC_SYNTHETIC ? regenerate_synthetic(c, &src, ids, n, q, e) : 0;
		if (got < 0 || (!got && vecs_rows_read(&src, ids, (size_t)n, q, e))) {
			err_prefix(e, "queries: reading the picked %s rows", from);
			goto out;
		}
		if (sq->noise > 0)
			for (uint64_t i = 0; i < n; i++) {
				float *row = q + i * d;
				rng_normal_fill(seed, STREAM_QUERY_NOISE, i * d, d, noise);
				for (uint32_t j = 0; j < d; j++)
					row[j] += (float)sq->noise * noise[j];
				vec_normalize_rows(row, 1, d);
			}
	}
	struct vecs_writer vw;
	if (vecs_writer_open(&vw, c->store, d, VW_IDS, e))
		goto out;
	if (vecs_writer_add(&vw, q, (size_t)n, ids, NULL, NULL, e)) {
		vecs_writer_abort(&vw);
		goto out;
	}
	struct artifact a;
	artifact_init(&a, "vectors", 1);
	a.action = c->action;
	rc = artifact_set_str(&a, "source", spec_query_source_names[sq->source], e) ||
		     artifact_set_f64(&a, "noise", sq->noise, e) || vecs_writer_finish(&vw, &a, &c->out[0], e)
		     ? -1
		     : 0;
	artifact_release(&a);
	if (!rc) {
		c->n_out = 1;
		snprintf(c->summary, sizeof(c->summary), "%llu %s queries (noise %.3g)", (unsigned long long)n,
			 spec_query_source_names[sq->source], sq->noise);
	}
out:
	free(noise);
	free(q);
	free(ids);
	vecs_free(&cent);
	vecs_rows_close(&src);
	return rc;
}
