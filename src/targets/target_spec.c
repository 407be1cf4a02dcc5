/*
 * target_spec.c — a spec's target section against the driver table.
 *
 * The spec layer sits below this one and knows no driver: it accepts any
 * `target.driver` string and every target.* key (type and range checked),
 * and remembers where each key was written. target_spec_resolve() applies
 * the drivers' facts from their descriptors (target.h), in the order a
 * reader would fix them:
 *
 *   1. the driver name (unknown: the same "unknown value" + did-you-mean the
 *      spec layer gives for any enum);
 *   2. the keys: each optional target.* key is either taken by the driver
 *      (its `spec_keys`) or refused when written ("only used with driver
 *      engram or chroma", the drivers that take it, from the table) and
 *      left out of the canonical form either way, so a spec's digest is
 *      what it was when these rules lived in the spec layer;
 *   3. defaults: url and the namespace (space / collection / table); the
 *      url's kind (http or postgres) must be the driver's;
 *   4. what the spec determines against what the driver can do: the
 *      namespace name, the vector dimension (embed.dim or a random centroid
 *      dim: a vector-file corpus is only known when read), text searches in
 *      the load mix, the length of synthetic ids;
 *   5. and, for a spec loaded to be run, the memory its steps would hold
 *      against the machine's (target_mem.c), then what the load test needs
 *      from the steps (recalls need a queries step).
 *
 * Every error is "file:line:col: key: reason" through spec_key_error, which
 * blames the key where it was written or its nearest written section. The
 * key reference gets the same facts (names, defaults, which drivers take a
 * key) through spec_keys_doc_noted, so docs/spec.md never restates them.
 */
#include "engrave/target.h"

#include <stdio.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/spec.h"
#include "engrave/text.h"

#define TKEYS_MAX 64
#define ID_DIGITS 20 /* a uint64 row number in decimal */

/* Does `d` take target key `rel` ("url", "auth.bearer_env")? A pattern
 * "x.*" takes the section x and everything in it. */
static int driver_takes(const struct target_driver *d, const char *rel)
{
	for (const char *const *p = d->spec_keys; p && *p; p++) {
		size_t n = strlen(*p);
		if (!strcmp(*p, rel))
			return 1;
		if (n > 2 && !strcmp(*p + n - 2, ".*") && !strncmp(rel, *p, n - 2) &&
		    (rel[n - 2] == '\0' || rel[n - 2] == '.'))
			return 1;
	}
	return 0;
}

/* "driver a", "driver a or b", "driver a, b or c": the drivers taking
 * `rel` (NULL: every driver). Returns how many there are. */
static size_t drivers_taking(const char *rel, char *out, size_t cap)
{
	const char *who[TARGET_DRIVERS_MAX];
	size_t n = 0;
	for (size_t i = 0; target_drivers[i] && n < TARGET_DRIVERS_MAX; i++)
		if (!rel || driver_takes(target_drivers[i], rel))
			who[n++] = target_drivers[i]->name;
	size_t w = (size_t)snprintf(out, cap, "driver");
	for (size_t i = 0; i < n && w < cap; i++)
		w += (size_t)snprintf(out + w, cap - w, "%s%s", i == 0 ? " " : i + 1 == n ? " or " : ", ", who[i]);
	return n;
}

static int unknown_driver(const struct spec *sp, struct err *e)
{
	const char *names[TARGET_DRIVERS_MAX + 1];
	char all[256] = "";
	target_driver_names(names, sizeof(names) / sizeof(names[0]));
	for (size_t i = 0, n = 0; names[i] && n < sizeof(all); i++)
		n += (size_t)snprintf(all + n, sizeof(all) - n, "%s%s", i ? ", " : "", names[i]);
	spec_key_error(sp, "target.driver", e, "unknown value '%.100s' (expected one of: %s)", sp->target.driver, all);
	const char *sug = text_suggest(sp->target.driver, names);
	if (sug)
		err_hint(e, "did you mean '%s'?", sug);
	return -1;
}

/* Step 2: refuse written keys the driver does not take, leave them all out. */
static int check_keys(struct spec *sp, const struct target_driver *d, struct err *e)
{
	const char *paths[TKEYS_MAX];
	size_t n = spec_section_keys("target", paths, TKEYS_MAX);
	if (n > TKEYS_MAX)
		return err_set(e, ERR_INTERNAL, "target_spec: %zu target keys (at most %d)", n, TKEYS_MAX);
	for (size_t i = 0; i < n; i++) {
		const char *rel = paths[i] + strlen("target.");
		if (!strcmp(rel, "driver") || driver_takes(d, rel))
			continue;
		/* A key inside a refused section was reported with its section
		 * (which comes first in table order). */
		char parent[128];
		snprintf(parent, sizeof(parent), "%s", rel);
		char *dot = strrchr(parent, '.');
		if (dot)
			*dot = '\0';
		if (spec_key_given(sp, paths[i]) && (!dot || driver_takes(d, parent))) {
			char who[128];
			drivers_taking(rel, who, sizeof(who));
			return spec_key_error(sp, paths[i], e, "only used with %s; remove it", who);
		}
		if (spec_key_omit(sp, paths[i], e))
			return -1;
	}
	return 0;
}

/* The kind of server a URL names: 1 a PostgreSQL connection URI, 0 HTTP. */
static int url_is_postgres(const char *url)
{
	return !strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13);
}

/* Step 3: the driver's defaults; the url's kind and the namespace name then checked. */
static int fill_defaults(struct spec *sp, const struct target_driver *d, struct err *e)
{
	if (d->default_url && !sp->target.url && spec_key_set_str(sp, "target.url", d->default_url, e))
		return -1;
	if (d->default_url && sp->target.url && url_is_postgres(sp->target.url) != url_is_postgres(d->default_url)) {
		spec_key_error(sp, "target.url", e, "driver %s does not speak %s", d->name,
			       url_is_postgres(sp->target.url) ? "the PostgreSQL protocol" : "HTTP");
		return err_hint(e, "give driver %s a URL like %s", d->name, d->default_url);
	}
	if (!d->ns_key)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "target.%s", d->ns_key);
	if (!spec_key_str(sp, path) && spec_key_set_str(sp, path, d->ns_default, e))
		return -1;
	const char *ns = spec_key_str(sp, path);
	char why[200];
	if (ns && d->ns_check && d->ns_check(ns, why, sizeof(why))) {
		spec_key_error(sp, path, e, "'%.100s' is not a name %s accepts", ns, d->name);
		return err_hint(e, "%s", why);
	}
	return 0;
}

/* Step 4: what the spec determines against what the driver can do. */
static int check_capabilities(struct spec *sp, const struct target_driver *d, struct err *e)
{
	uint64_t dim = spec_vector_dim(sp);
	if (dim && (dim < d->dim_min || dim > d->dim_max)) {
		const char *path = sp->embed.present ? "steps.embed.dim" : "steps.centroids.dim";
		if (d->dim_min == d->dim_max)
			spec_key_error(sp, path, e, "driver %s takes only %u-d vectors, got %llu", d->name, d->dim_min,
				       (unsigned long long)dim);
		else
			spec_key_error(sp, path, e, "driver %s takes %u..%u-d vectors, got %llu", d->name, d->dim_min,
				       d->dim_max, (unsigned long long)dim);
		return err_hint(e, "set %s to a dimension the target takes, or use another driver", path);
	}
	if (sp->loadtest.present && sp->loadtest.mix_search > 0 && !(d->caps & TARGET_CAP_TEXT_SEARCH)) {
		spec_key_error(sp, "steps.loadtest.mix.search", e, "driver %s has no text search (weight %g)", d->name,
			       sp->loadtest.mix_search);
		return err_hint(e, "%s%s",
				spec_key_given(sp, "steps.loadtest.mix.search")
					? "set steps.loadtest.mix.search to 0"
					: "the default mix sends searches: write steps.loadtest.mix.search: 0",
				spec_sets(sp, NULL, 0) ? " (--set steps.loadtest.mix.search=0)" : "");
	}
	if (sp->loadtest.present && sp->loadtest.n_ef_search && !(d->caps & TARGET_CAP_EF_SEARCH)) {
		spec_key_error(sp, "steps.loadtest.ef_search", e,
			       "driver %s has no search breadth to change in place", d->name);
		return err_hint(e, "remove the ef_search sweep, or sweep it on driver chroma or pgvector");
	}
	for (size_t i = 0; sp->runbook.present && i < sp->runbook.n_phases; i++) {
		enum spec_phase_kind k = sp->runbook.phases[i].kind;
		if ((k != SPEC_PHASE_DELETE && k != SPEC_PHASE_REPLACE) || (d->caps & TARGET_CAP_DELETE))
			continue;
		spec_key_error(sp, "steps.runbook.phases", e, "phase %zu (%s, line %d): driver %s cannot delete records",
			       i, spec_phase_kind_names[k], sp->runbook.phases[i].line, d->name);
		return err_hint(e, "a %s phase removes ids; run it on a driver that can delete (embedded, chroma), "
				   "or keep to insert, search and wait phases", spec_phase_kind_names[k]);
	}
	if (sp->synthetic.present && sp->synthetic.id_prefix &&
	    strlen(sp->synthetic.id_prefix) + ID_DIGITS > d->id_max)
		return spec_key_error(sp, "steps.synthetic.id_prefix", e,
				      "ids '%.40s...<row>' may be longer than the %zu bytes driver %s takes",
				      sp->synthetic.id_prefix, d->id_max, d->name);
	return 0;
}

/* Step 5b: what the load test needs from the steps. A recall sends a cue
 * vector from the queries step; without one the run would fail at the load
 * test, after the whole ingest. */
static int check_load_inputs(struct spec *sp, struct err *e)
{
	const struct spec_loadtest *l = &sp->loadtest;
	if (!l->present || !(l->mix_recall > 0) || sp->queries.present)
		return 0;
	spec_key_error(sp, "steps.loadtest.mix.recall", e,
		       "recalls (weight %g) need cue vectors, and the spec has no queries step", l->mix_recall);
	if (sp->synthetic.present)
		return err_hint(e, "add steps.queries: {source: heldout} (fresh vectors around the centroids) or "
				   "{source: synthetic} (stored ones)");
	if (sp->centroids.present)
		return err_hint(e, "add steps.queries: {source: heldout} (fresh vectors around the centroids)");
	if (sp->embed.present)
		return err_hint(e, "add steps.queries: {source: corpus}");
	return err_hint(e, "%s", spec_key_given(sp, "steps.loadtest.mix.recall")
					 ? "set steps.loadtest.mix.recall to 0, or add vectors and a queries step"
					 : "the default mix sends recalls: write steps.loadtest.mix.recall: 0, or add a queries step");
}

/* stored: a spec a run was made from is read back without the capability
 * checks, so a rule added later never hides an old run. */
static int resolve(struct spec *sp, int stored, struct err *e)
{
	if (!sp->target.present || sp->target.resolved)
		return 0;
	const struct target_driver *d = target_driver_find(sp->target.driver);
	if (!d)
		return unknown_driver(sp, e);
	if (check_keys(sp, d, e) || fill_defaults(sp, d, e) || (!stored && check_capabilities(sp, d, e)))
		return -1;
	sp->target.resolved = 1;
	return 0;
}

int target_spec_resolve(struct spec *sp, struct err *e)
{
	return resolve(sp, 0, e);
}

static int resolved(int rc, struct spec **out, int stored, struct err *e)
{
	if (rc)
		return -1;
	if (resolve(*out, stored, e) ||
	    (!stored && (target_spec_check_memory(*out, target_machine_ram(), e) || check_load_inputs(*out, e)))) {
		spec_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int target_spec_load_file(const char *path, struct spec **out, struct err *e)
{
	return resolved(spec_load_file(path, out, e), out, 0, e);
}

int target_spec_load_file_sets(const char *path, const char *const *sets, size_t n_sets, struct spec **out,
			       struct err *e)
{
	return resolved(spec_load_file_sets(path, sets, n_sets, out, e), out, 0, e);
}

int target_spec_load_string(const char *text, size_t len, const char *name_for_errors, struct spec **out,
			    struct err *e)
{
	return resolved(spec_load_string(text, len, name_for_errors, out, e), out, 0, e);
}

int target_spec_load_stored(const char *text, size_t len, const char *run_id, struct spec **out, struct err *e)
{
	return resolved(spec_load_string(text, len, run_id, out, e), out, 1, e);
}

const char *target_spec_namespace(const struct spec *sp)
{
	const struct target_driver *d = sp->target.present ? target_driver_find(sp->target.driver) : NULL;
	if (!d || !d->ns_key)
		return NULL;
	char path[64];
	snprintf(path, sizeof(path), "target.%s", d->ns_key);
	return spec_key_str(sp, path);
}

/* ---- the key reference --------------------------------------------------- */

static void note(const char *path, struct spec_key_note *nt, void *ctx)
{
	if (strncmp(path, "target.", 7))
		return;
	const char *rel = path + 7;
	if (!strcmp(rel, "driver")) {
		nt->names = ctx;
		return;
	}
	/* defaults that differ by driver: url, the namespace keys */
	size_t w = 0;
	int nsk = 0;
	for (size_t i = 0; target_drivers[i]; i++)
		nsk += target_drivers[i]->ns_key && !strcmp(target_drivers[i]->ns_key, rel);
	for (size_t i = 0; target_drivers[i] && w < sizeof(nt->def); i++) {
		const struct target_driver *d = target_drivers[i];
		if (!strcmp(rel, "url") && d->default_url)
			w += (size_t)snprintf(nt->def + w, sizeof(nt->def) - w, "%s%s: %s", w ? ", " : "", d->name,
					      d->default_url);
		else if (nsk == 1 && d->ns_key && !strcmp(d->ns_key, rel))
			w += (size_t)snprintf(nt->def + w, sizeof(nt->def) - w, "\"%s\"", d->ns_default);
		else if (nsk > 1 && d->ns_key && !strcmp(d->ns_key, rel))
			w += (size_t)snprintf(nt->def + w, sizeof(nt->def) - w, "%s%s: \"%s\"", w ? ", " : "", d->name,
					      d->ns_default);
	}
	/* which drivers take it, when that narrows its section's */
	char parent[128];
	snprintf(parent, sizeof(parent), "%s", rel);
	char *dot = strrchr(parent, '.');
	if (dot)
		*dot = '\0';
	char mine[128], theirs[128];
	size_t nm = drivers_taking(rel, mine, sizeof(mine));
	size_t np = drivers_taking(dot ? parent : NULL, theirs, sizeof(theirs));
	if (nm != np || strcmp(mine, theirs))
		snprintf(nt->applies, sizeof(nt->applies), "%s", mine);
}

int target_spec_keys_doc(struct buf *out, int markdown, struct err *e)
{
	const char *names[TARGET_DRIVERS_MAX + 1];
	target_driver_names(names, sizeof(names) / sizeof(names[0]));
	return spec_keys_doc_noted(out, markdown, note, (void *)names, e);
}
