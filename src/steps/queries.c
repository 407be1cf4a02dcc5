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
 */
#include "engrave/steps.h"
#include "artio.h"
#include "engrave/err.h"
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
	struct vecs src;
	if (vecs_load(c->store, src_d, &src, e))
		return -1;
	uint32_t d = src.dim;
	int rc = -1;
	float *noise = xmalloc_array(d, sizeof(float)); /* one row of src */
	float *q = xalloc_try_array((size_t)n, xalloc_mul(d, sizeof(float)), "the query vectors", e);
	uint64_t *ids = q ? xalloc_try_array((size_t)n, sizeof(uint64_t), "the query ids", e) : NULL;
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
		synth_generate(&so, src.v, (uint32_t)src.rows, d, 0, n, q, NULL, NULL);
		for (uint64_t i = 0; i < n; i++)
			ids[i] = i;
	} else {
		if (src.rows == 0) {
			vecs_free(&src);
			free(q);
			free(ids);
			free(noise);
			return err_set(e, ERR_INPUT, "queries: the %s set is empty", from);
		}
		for (uint64_t i = 0; i < n; i++) {
			uint64_t r = src.rows <= UINT32_MAX ? rng_below(seed, STREAM_QUERY_PICK, i, (uint32_t)src.rows)
							    : (uint64_t)rng_u32(seed, STREAM_QUERY_PICK, i) % src.rows;
			ids[i] = r;
			memcpy(q + i * d, src.v + r * d, d * sizeof(float));
			if (sq->noise > 0) {
				float *row = q + i * d;
				rng_normal_fill(seed, STREAM_QUERY_NOISE, i * d, d, noise);
				for (uint32_t j = 0; j < d; j++)
					row[j] += (float)sq->noise * noise[j];
				vec_normalize_rows(row, 1, d);
			}
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
	vecs_free(&src);
	return rc;
}
