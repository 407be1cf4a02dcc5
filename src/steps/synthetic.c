/*
 * synthetic.c — the synthetic step: seeded vectors clustered around the
 * centroids, streamed into the store.
 *
 * data/synth.c generates rows as a pure function of (seed, row index), in
 * parallel, and hands them back in order; this step appends each chunk to
 * four chunked objects (vectors, ids, labels, confidence), so memory stays
 * at a few chunks whatever the count, and the artifact digest is the same
 * for any thread count or chunk size. Ids are row numbers; the driver
 * prefixes them with meta "id_prefix" (steps.synthetic.id_prefix).
 * steps_synth_opts() is the one mapping from the spec to the generator's
 * options: the queries step regenerates sampled rows through it.
 */
#include "engrave/steps.h"
#include "artio.h"
#include "engrave/err.h"
#include "engrave/store.h"
#include "engrave/synth.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_PER_CHUNK 16384

struct synth_sink_ctx {
	struct vecs_writer *vw;
	uint64_t *ids;
	struct err *e;
};

static int sink(void *ctx, uint64_t start, uint64_t n, const float *vecs, const uint32_t *labels,
		const float *conf)
{
	struct synth_sink_ctx *s = ctx;
	for (uint64_t i = 0; i < n; i++)
		s->ids[i] = start + i;
	if (vecs_writer_add(s->vw, vecs, (size_t)n, s->ids, labels, conf, s->e))
		return -1;
	if (steps_stop_requested())
		return err_set(s->e, ERR_INTERRUPTED, "synthetic: interrupted at row %llu (a rerun regenerates the same rows)",
			       (unsigned long long)(start + n));
	return 0;
}

void steps_synth_opts(const struct spec *sp, struct synth_opts *o)
{
	const struct spec_synthetic *ss = &sp->synthetic;
	synth_opts_init(o, ss->count);
	o->seed = sp->seed;
	o->std_dev = (float)ss->std_dev;
	o->normalize = ss->normalize;
	o->conf_base = (float)ss->confidence_base;
	o->conf_jitter = (float)ss->confidence_jitter;
	o->id_base = 0;
}

int step_synthetic_run(struct step_ctx *c, struct err *e)
{
	const struct spec_synthetic *ss = &c->spec->synthetic;
	struct vecs cent;
	const struct digest *cd = step_input(c, STEP_CENTROIDS);
	if (!cd)
		return err_set(e, ERR_INTERNAL, "synthetic: the centroids step has no output");
	if (vecs_load(c->store, cd, &cent, e))
		return -1;
	struct synth_opts so;
	steps_synth_opts(c->spec, &so);
	so.progress = 1;
	struct vecs_writer vw;
	int rc = -1;
	uint64_t *ids = xmalloc_array(ROWS_PER_CHUNK, sizeof(uint64_t));
	if (vecs_writer_open(&vw, c->store, cent.dim, VW_IDS | VW_LABELS | VW_CONF, e))
		goto out;
	struct synth_sink_ctx sc = { &vw, ids, e };
	struct err serr = ERR_INIT;
	if (synth_run(&so, cent.v, (uint32_t)cent.rows, cent.dim, ROWS_PER_CHUNK, sink, &sc, &serr)) {
		if (e && e->cls == ERR_NONE)
			*e = serr;
		vecs_writer_abort(&vw);
		goto out;
	}
	struct artifact a;
	artifact_init(&a, "vectors", 1);
	a.action = c->action;
	rc = artifact_set_str(&a, "id_prefix", ss->id_prefix ? ss->id_prefix : "syn-", e) ||
		     artifact_set_str(&a, "source", "synthetic", e) ||
		     artifact_set_f64(&a, "std_dev", ss->std_dev, e) ||
		     vecs_writer_finish(&vw, &a, &c->out[0], e)
		     ? -1
		     : 0;
	artifact_release(&a);
	if (!rc) {
		c->n_out = 1;
		snprintf(c->summary, sizeof(c->summary), "%llu vectors around %llu centroids, std %.3g%s",
			 (unsigned long long)ss->count, (unsigned long long)cent.rows, ss->std_dev,
			 ss->normalize ? ", normalised" : "");
	}
out:
	free(ids);
	vecs_free(&cent);
	return rc;
}
