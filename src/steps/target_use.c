/*
 * target_use.c — the spec's target for the effectful steps, and run metrics.
 *
 * The target is opened lazily from spec.target on the first step that needs
 * it and kept in the step context until the run ends, because the embedded
 * driver's index lives in this process: ingest fills it and loadtest then
 * queries the same one. The target's reported version goes into the run
 * record's environment. The spec was resolved against the driver table when
 * it was loaded (target_spec_load_*), so its url and namespace are the
 * driver's defaults when not written.
 *
 * The vector dimension comes from the spec where it says one (embed.dim,
 * random centroids' dim); a vector-file corpus carries its own, so then it
 * is read from the run's vectors (the corpus vectors, else the centroids).
 */
#include "engrave/steps.h"
#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/store.h"
#include "engrave/target.h"

#include <stdio.h>
#include <string.h>

/* The run's vector dimension: the spec's, else the data's; 0 when unknown. */
static uint32_t run_vector_dim(struct step_ctx *c)
{
	uint64_t d = spec_vector_dim(c->spec);
	if (d)
		return (uint32_t)d;
	const struct digest *from[] = { step_corpus_vectors(c), step_input(c, STEP_CENTROIDS),
					step_input(c, STEP_SYNTHETIC) };
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		struct artifact a;
		if (!from[i] || artifact_get(c->store, from[i], &a, NULL))
			continue;
		int64_t dim = 0;
		artifact_get_int(&a, "dim", &dim);
		artifact_release(&a);
		if (dim > 0 && dim <= UINT32_MAX)
			return (uint32_t)dim;
	}
	return 0;
}

static void target_config_of(struct step_ctx *c, struct target_config *cfg);

int steps_target(struct step_ctx *c, struct target **out, struct err *e)
{
	if (c->target) {
		*out = c->target;
		return 0;
	}
	const struct spec *sp = c->spec;
	if (!sp->target.present)
		return err_set(e, ERR_SPEC, "this step needs a 'target:' section in the spec");
	struct target_config cfg;
	target_config_of(c, &cfg);
	if (target_open(&cfg, &c->target, e))
		return -1;
	char version[64] = "";
	struct err herr = ERR_INIT;
	if (target_health(c->target, version, sizeof(version), &herr)) {
		*e = herr;
		target_close(c->target);
		c->target = NULL;
		return err_prefix(e, "target %s at %s is not healthy", cfg.driver, cfg.url ? cfg.url : "(in-process)");
	}
	snprintf(c->run->target_version, sizeof(c->run->target_version), "%.16s %.40s", cfg.driver, version);
	*out = c->target;
	return 0;
}

/* The run's target configuration, from the spec (strings point into it). */
static void target_config_of(struct step_ctx *c, struct target_config *cfg)
{
	const struct spec *sp = c->spec;
	memset(cfg, 0, sizeof(*cfg));
	cfg->driver = sp->target.driver;
	cfg->url = sp->target.url;
	cfg->space = target_spec_namespace(sp);
	cfg->bearer_env = sp->target.auth_bearer_env;
	cfg->timeout_ns = sp->target.timeout_ns;
	cfg->dim = run_vector_dim(c);
	cfg->metric = spec_space_names[sp->target.hnsw.space];
	cfg->hnsw_ef_construction = (int)sp->target.hnsw.ef_construction;
	cfg->hnsw_max_neighbors = (int)sp->target.hnsw.m;
	cfg->hnsw_ef_search = (int)sp->target.hnsw.ef_search;
	cfg->index_type = spec_index_type_names[sp->target.index.type];
	cfg->ivf_lists = (int)sp->target.index.lists;
	cfg->ivf_probes = (int)sp->target.index.probes;
	cfg->index_before_load = sp->target.index.build == 1;
	cfg->retries = sp->ingest.present ? (int)sp->ingest.retries + 1 : 0;
}

int steps_target_open_more(struct step_ctx *c, struct target **out, struct err *e)
{
	struct target *first;
	if (steps_target(c, &first, e)) /* checks the spec and the target's health once */
		return -1;
	struct target_config cfg;
	target_config_of(c, &cfg);
	return target_open(&cfg, out, e);
}

void steps_metric(struct step_ctx *c, const char *key, double value)
{
	if (run_metric_set(c->run, key, value))
		log_warn("run record is full; metric '%s' not kept", key);
}
