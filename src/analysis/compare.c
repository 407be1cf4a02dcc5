/*
 * compare.c — diff of two run records, and a run's stored per-request
 * records (see include/engrave/compare.h).
 *
 * compare_recs (compare_int.h) holds a run's measured records as parallel
 * arrays (latency and service ms, intended time, repeat, op, sent, error),
 * read once from the loadtest artifact's "records" part; every latency
 * sample is cut from them, and the verdict engine cuts them into blocks. The
 * diff itself is built as a jansson tree so `engrave diff` can print it
 * as text or hand it to CI unchanged.
 *
 * The environment diff has a row per key either run recorded (the record's
 * fixed fields, then its env list); keys of the moment (load, steal:
 * sysinfo_key_is_condition) are marked so, and the other keys whose values
 * differ are listed once in "env_different", so a baseline from another
 * machine, build or target setting is never compared silently.
 *
 * The spec diff loads each run's stored spec text with target_spec_load_string
 * and compares spec_canonical() trees, so a reordered key or a default
 * written out is not a difference; paths read "steps.loadtest.duration".
 */
#include "engrave/compare.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/records.h"
#include "engrave/sched.h"
#include "engrave/spec.h"
#include "engrave/stats.h"
#include "engrave/store.h"
#include "engrave/sysinfo.h"
#include "engrave/target.h"
#include "engrave/verdict.h"
#include "engrave/xalloc.h"
#include "compare_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse a latency metric name: kind 0 latency / 1 service, op -1 all. */
static int parse_latency(const char *m, int *service, int *op, double *pct)
{
	*service = 0;
	*op = -1;
	static const char *const ops[] = { "store_", "recall_", "search_" };
	if (!strncmp(m, "service_", 8)) {
		*service = 1;
		m += 8;
	} else {
		for (int i = 0; i < 3; i++)
			if (!strncmp(m, ops[i], strlen(ops[i]))) {
				*op = i;
				m += strlen(ops[i]);
				break;
			}
	}
	if (!strcmp(m, "max_ms")) {
		*pct = 100;
		return 1;
	}
	if (!strcmp(m, "mean_ms")) {
		*pct = 0;
		return 1;
	}
	if (m[0] != 'p')
		return 0;
	size_t nd = strspn(m + 1, "0123456789");
	if (nd < 2 || strcmp(m + 1 + nd, "_ms"))
		return 0;
	double v = (m[1] - '0') * 10 + (m[2] - '0'), scale = 0.1;
	for (size_t i = 2; i < nd; i++, scale /= 10)
		v += (m[1 + i] - '0') * scale;
	if (v <= 0 || v > 100)
		return 0;
	*pct = v;
	return 1;
}

int compare_is_latency(const char *metric, double *pct)
{
	int s, op;
	double p;
	if (!parse_latency(metric, &s, &op, &p))
		return 0;
	if (pct)
		*pct = p;
	return 1;
}

void compare_recs_free(struct compare_recs *c)
{
	if (!c)
		return;
	free(c->lat);
	free(c->svc);
	free(c->t);
	free(c->rep);
	free(c->op);
	free(c->sent);
	free(c->err);
	free(c);
}

/* The run's finished loadtest step's artifact, or NULL. */
static const struct digest *loadtest_output(const struct run_record *r)
{
	const struct digest *ld = NULL;
	for (int i = 0; i < r->n_steps; i++)
		if (!strcmp(r->steps[i].name, "loadtest") && r->steps[i].n_out > 0 &&
		    (!strcmp(r->steps[i].state, "ran") || !strcmp(r->steps[i].state, "resumed") ||
		     !strcmp(r->steps[i].state, "cached")))
			ld = &r->steps[i].out[0];
	return ld;
}

/* The measured records of one "loadtest" artifact `ld` of run `id`. */
static int recs_of_artifact(struct store *st, const char *id, const struct digest *ld, struct compare_recs **out,
			    struct err *e)
{
	*out = NULL;
	struct artifact a;
	struct obj_reader *rd = NULL;
	struct records recs;
	records_init(&recs);
	void *bytes = NULL;
	struct compare_recs *c = NULL;
	int rc = -1;
	if (artifact_get(st, ld, &a, e))
		return err_prefix(e, "run '%s' loadtest artifact", id);
	if (!strcmp(a.type, "loadtest-sweep")) {
		int64_t phases = 0;
		artifact_get_int(&a, "phases", &phases);
		err_set(e, ERR_MISSING, "run '%s' is a sweep of %lld phases: its requests compare phase by phase "
			"(the sweep.* metrics), not pooled", id, (long long)phases);
		goto out;
	}
	const struct digest *pd = artifact_part(&a, "records");
	int64_t warm = 0, repeats = 1;
	artifact_get_int(&a, "warmup_ns", &warm);
	artifact_get_int(&a, "repeats", &repeats);
	if (!pd) {
		err_set(e, ERR_MISSING, "run '%s': loadtest artifact has no 'records' part", id);
		goto out;
	}
	if (obj_reader_open(st, pd, &rd, e))
		goto out;
	uint64_t size = obj_reader_size(rd);
	if (!(bytes = malloc(size ? size : 1))) {
		err_set(e, ERR_NOSPACE, "run '%s': out of memory for %llu bytes of records", id,
			(unsigned long long)size);
		goto out;
	}
	if ((size && obj_read_at(rd, 0, bytes, (size_t)size, e)) || records_decode(bytes, (size_t)size, &recs, e)) {
		err_prefix(e, "run '%s' records", id);
		goto out;
	}
	c = xcalloc(1, sizeof(*c));
	c->repeats = repeats > 1 ? (uint32_t)repeats : 1;
	size_t m = recs.n + 1;
	if (!(c->lat = malloc(xalloc_mul(m, sizeof(double)))) || !(c->svc = malloc(xalloc_mul(m, sizeof(double)))) ||
	    !(c->t = malloc(xalloc_mul(m, 8))) || !(c->rep = malloc(xalloc_mul(m, 4))) || !(c->op = malloc(m)) ||
	    !(c->sent = malloc(m)) || !(c->err = malloc(m))) {
		err_set(e, ERR_NOSPACE, "run '%s': out of memory for %zu records", id, recs.n);
		goto out;
	}
	for (size_t i = 0; i < recs.n; i++) {
		const struct record *x = &recs.v[i];
		/* the flag marks warm-up in every repeat; single-repeat records of
		 * older builds are also cut at the warm-up end */
		if ((x->flags & RECORD_F_WARMUP) || (c->repeats == 1 && x->intended < (uint64_t)warm))
			continue;
		int sent = x->status != RECORD_STATUS_DROPPED;
		c->lat[c->n] = sent ? (double)record_latency_ns(x) / 1e6 : 0;
		c->svc[c->n] = sent ? (double)record_service_ns(x) / 1e6 : 0;
		c->t[c->n] = x->intended;
		c->rep[c->n] = x->repeat < c->repeats ? x->repeat : c->repeats - 1;
		c->op[c->n] = x->op;
		c->sent[c->n] = (uint8_t)sent;
		c->err[c->n] = x->err != RECORD_ERR_NONE || !sent;
		c->n++;
	}
	*out = c;
	c = NULL;
	rc = 0;
out:
	compare_recs_free(c);
	free(bytes);
	records_release(&recs);
	obj_reader_close(rd);
	artifact_release(&a);
	return rc;
}

int compare_recs_load(struct store *st, const struct run_record *r, struct compare_recs **out, struct err *e)
{
	*out = NULL;
	const struct digest *ld = loadtest_output(r);
	if (!ld)
		return err_set(e, ERR_MISSING, "run '%s' has no finished loadtest step: no request records", r->id);
	return recs_of_artifact(st, r->id, ld, out, e);
}

void compare_sweep_free(struct compare_sweep *sw)
{
	if (!sw)
		return;
	for (size_t i = 0; i < sw->n; i++)
		compare_recs_free(sw->phase[i]);
	free(sw->phase);
	free(sw->value);
	memset(sw, 0, sizeof(*sw));
}

int compare_sweep_load(struct store *st, const struct run_record *r, struct compare_sweep *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	const struct digest *ld = loadtest_output(r);
	if (!ld)
		return err_set(e, ERR_MISSING, "run '%s' has no finished loadtest step: no request records", r->id);
	struct artifact a;
	if (artifact_get(st, ld, &a, e))
		return err_prefix(e, "run '%s' loadtest artifact", r->id);
	int rc = -1;
	int64_t phases = 0;
	if (strcmp(a.type, "loadtest-sweep")) {
		err_set(e, ERR_MISSING, "run '%s' is not a sweep", r->id);
		goto out;
	}
	artifact_get_int(&a, "phases", &phases);
	const char *kind = artifact_get_str(&a, "kind");
	snprintf(out->kind, sizeof(out->kind), "%s", kind ? kind : "phase");
	if (phases <= 0 || phases > 100000) {
		err_set(e, ERR_CORRUPT, "run '%s': a sweep of %lld phases", r->id, (long long)phases);
		goto out;
	}
	out->phase = xcalloc((size_t)phases, sizeof(*out->phase));
	out->value = xcalloc((size_t)phases, sizeof(*out->value));
	for (int64_t i = 0; i < phases; i++) {
		char name[32];
		snprintf(name, sizeof(name), "phase-%02d", (int)i);
		const struct digest *d = artifact_part(&a, name);
		if (!d) {
			err_set(e, ERR_CORRUPT, "run '%s': the sweep artifact lacks %s", r->id, name);
			goto out;
		}
		snprintf(name, sizeof(name), "value-%02d", (int)i);
		out->value[i] = NAN;
		artifact_get_f64(&a, name, &out->value[i]);
		if (recs_of_artifact(st, r->id, d, &out->phase[i], e))
			goto out;
		out->n = (size_t)i + 1;
	}
	rc = 0;
out:
	artifact_release(&a);
	if (rc)
		compare_sweep_free(out);
	return rc;
}

int compare_recs_values(const struct compare_recs *c, const char *metric, double **v, size_t *n, struct err *e)
{
	int service, op;
	double pct;
	*v = NULL;
	*n = 0;
	if (!parse_latency(metric, &service, &op, &pct))
		return err_set(e, ERR_USAGE, "'%s' is not a latency metric", metric);
	double *out = malloc(xalloc_mul(c->n + 1, sizeof(double)));
	if (!out)
		return err_set(e, ERR_NOSPACE, "out of memory for %zu samples", c->n);
	size_t k = 0;
	for (size_t i = 0; i < c->n; i++)
		if (c->sent[i] && (op < 0 || c->op[i] == op))
			out[k++] = service ? c->svc[i] : c->lat[i];
	stats_sort(out, k);
	if (!k) {
		free(out);
		out = NULL;
	}
	*v = out;
	*n = k;
	return 0;
}

/* ---- the diff ------------------------------------------------------------- */

static json_t *hex_json(const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(d, hex);
	return json_string(hex);
}

static void add_change(json_t *arr, const char *path, json_t *a, json_t *b)
{
	json_t *c = json_object();
	json_object_set_new(c, "path", json_string(path));
	json_object_set(c, "a", a ? a : json_null());
	json_object_set(c, "b", b ? b : json_null());
	json_array_append_new(arr, c);
}

static void diff_tree(json_t *arr, const char *path, json_t *a, json_t *b)
{
	char sub[512];
	if (a && b && json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *v;
		json_object_foreach(a, k, v) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
			diff_tree(arr, sub, v, json_object_get(b, k));
		}
		json_object_foreach(b, k, v) {
			if (json_object_get(a, k))
				continue;
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
			diff_tree(arr, sub, NULL, v);
		}
		return;
	}
	if (a && b && json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
		for (size_t i = 0; i < json_array_size(a); i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			diff_tree(arr, sub, json_array_get(a, i), json_array_get(b, i));
		}
		return;
	}
	if (a && b && json_equal(a, b))
		return;
	add_change(arr, path, a, b);
}

static json_t *canonical_tree(const struct run_record *r)
{
	if (!r->spec_text)
		return NULL;
	struct spec *sp = NULL;
	struct err e = ERR_INIT;
	struct buf b;
	buf_init(&b, 0);
	json_t *t = NULL;
	if (target_spec_load_stored(r->spec_text, strlen(r->spec_text), r->id, &sp, &e) || spec_canonical(sp, &b, &e))
		log_debug("run %s: stored spec does not load: %s", r->id, e.msg);
	else
		t = json_loadb(b.data, b.len, 0, NULL);
	buf_release(&b);
	spec_free(sp);
	return t;
}

static json_t *spec_diff(const struct run_record *a, const struct run_record *b)
{
	json_t *o = json_object(), *ch = json_array();
	json_t *ta = canonical_tree(a), *tb = canonical_tree(b);
	if (ta && tb) {
		diff_tree(ch, "", ta, tb);
	} else if (!digest_equal(&a->spec_digest, &b->spec_digest)) {
		json_t *x = hex_json(&a->spec_digest), *y = hex_json(&b->spec_digest);
		add_change(ch, "(spec digest; stored spec text unavailable)", x, y);
		json_decref(x);
		json_decref(y);
	}
	json_object_set_new(o, "same", json_boolean(json_array_size(ch) == 0));
	json_object_set_new(o, "changes", ch);
	json_decref(ta);
	json_decref(tb);
	return o;
}

json_t *compare_spec_changes(const struct run_record *a, const struct run_record *b)
{
	json_t *d = spec_diff(a, b), *ch = json_incref(json_object_get(d, "changes"));
	json_decref(d);
	return ch;
}

static const struct run_step *find_step(const struct run_record *r, const char *name)
{
	for (int i = 0; i < r->n_steps; i++)
		if (!strcmp(r->steps[i].name, name))
			return &r->steps[i];
	return NULL;
}

static json_t *outs_json(const struct run_step *s)
{
	if (!s || !s->n_out)
		return json_null();
	if (s->n_out == 1)
		return hex_json(&s->out[0]);
	json_t *arr = json_array();
	for (int k = 0; k < s->n_out; k++)
		json_array_append_new(arr, hex_json(&s->out[k]));
	return arr;
}

static json_t *artifacts_diff(const struct run_record *a, const struct run_record *b)
{
	json_t *arr = json_array();
	for (int i = 0; spec_step_names[i]; i++) {
		const struct run_step *sa = find_step(a, spec_step_names[i]), *sb = find_step(b, spec_step_names[i]);
		if (!sa && !sb)
			continue;
		int same = sa && sb && sa->n_out == sb->n_out;
		for (int k = 0; same && k < sa->n_out; k++)
			same = digest_equal(&sa->out[k], &sb->out[k]);
		json_t *o = json_object();
		json_object_set_new(o, "step", json_string(spec_step_names[i]));
		json_object_set_new(o, "a", outs_json(sa));
		json_object_set_new(o, "b", outs_json(sb));
		json_object_set_new(o, "same", json_boolean(same));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* One env row; a or b NULL when that run did not record the key. */
static void env_row(json_t *arr, json_t *different, const char *key, const char *a, const char *b)
{
	int same = a && b && !strcmp(a, b), cond = sysinfo_key_is_condition(key);
	json_t *o = json_object();
	json_object_set_new(o, "key", json_string(key));
	json_object_set_new(o, "a", a ? json_string(a) : json_null());
	json_object_set_new(o, "b", b ? json_string(b) : json_null());
	json_object_set_new(o, "same", json_boolean(same));
	json_object_set_new(o, "condition", json_boolean(cond));
	json_array_append_new(arr, o);
	if (a && b && !same && !cond)
		json_array_append_new(different, json_string(key));
}

/* The environment rows: the record's fixed fields, a's keys, then b's own. */
static void env_diff(const struct run_record *a, const struct run_record *b, json_t *d)
{
	json_t *env = json_array(), *different = json_array();
	env_row(env, different, "host", a->host, b->host);
	env_row(env, different, "kernel", a->kernel, b->kernel);
	env_row(env, different, "cpu", a->cpu, b->cpu);
	env_row(env, different, "engrave_version", a->engrave_version, b->engrave_version);
	env_row(env, different, "target_version", a->target_version, b->target_version);
	for (int i = 0; i < a->env.n; i++) {
		const struct envlist_item *y = envlist_get(&b->env, a->env.v[i].key);
		env_row(env, different, a->env.v[i].key, a->env.v[i].value, y ? y->value : NULL);
	}
	for (int i = 0; i < b->env.n; i++)
		if (!envlist_get(&a->env, b->env.v[i].key))
			env_row(env, different, b->env.v[i].key, NULL, b->env.v[i].value);
	json_object_set_new(d, "env", env);
	json_object_set_new(d, "env_different", different);
}

static struct spec *stored_spec(const struct run_record *r)
{
	struct spec *sp = NULL;
	struct err e = ERR_INIT;
	if (r->spec_text && target_spec_load_stored(r->spec_text, strlen(r->spec_text), r->id, &sp, &e))
		log_debug("run %s: stored spec does not load (default tolerances): %s", r->id, e.msg);
	return sp;
}

int compare_runs_json(struct store *st, const struct run_record *a, const struct run_record *b, json_t **out,
		      struct err *e)
{
	struct verdict_opts vo;
	verdict_opts_default(&vo);
	vo.all_metrics = 1;
	vo.always_ci = 1;
	struct spec *sp = stored_spec(b);
	struct verdict_set vs;
	int rc = verdict_pair(st, a, b, sp, &vo, &vs, e);
	spec_free(sp);
	if (rc)
		return -1;
	json_t *d = json_object();
	json_object_set_new(d, "a", json_string(a->id));
	json_object_set_new(d, "b", json_string(b->id));
	json_object_set_new(d, "spec", spec_diff(a, b));
	json_object_set_new(d, "artifacts", artifacts_diff(a, b));
	env_diff(a, b, d);
	json_object_set_new(d, "rule", json_string(verdict_rule_text));
	json_object_set_new(d, "machine_busy", vs.busy[0] ? json_string(vs.busy) : json_null());
	json_t *ms = json_array();
	for (size_t i = 0; i < vs.n; i++) {
		const struct verdict *v = &vs.v[i];
		json_t *m = verdict_json(v);
		if (!isnan(v->a) && !isnan(v->b)) {
			json_object_set_new(m, "abs", json_real(v->b - v->a));
			json_object_set_new(m, "rel_pct", fabs(v->a) >= 1e-12 ? json_real((v->b - v->a) / fabs(v->a) * 100.0)
									   : json_null());
		}
		json_array_append_new(ms, m);
	}
	json_object_set_new(d, "metrics", ms);
	verdict_set_release(&vs);
	*out = d;
	return 0;
}

/* ---- finding runs ------------------------------------------------------------ */

struct prefix_ctx {
	const char *prefix;
	size_t len;
	char found[48];
	int n;
};

static int prefix_visit(const struct run_record *r, void *ctx)
{
	struct prefix_ctx *p = ctx;
	if (!strncmp(r->id, p->prefix, p->len)) {
		if (!p->n)
			snprintf(p->found, sizeof(p->found), "%s", r->id);
		p->n++;
	}
	return 0;
}

int compare_find_run(struct store *st, const char *id, struct run_record *out, struct err *e)
{
	struct err le = ERR_INIT;
	if (!run_get(st, id, out, &le))
		return 0;
	if (le.cls != ERR_MISSING) {
		if (e)
			*e = le;
		return -1;
	}
	struct prefix_ctx p = { id, strlen(id), "", 0 };
	if (p.len >= 4 && run_list(st, prefix_visit, &p, e) < 0)
		return -1;
	if (p.n == 1)
		return run_get(st, p.found, out, e);
	if (p.n > 1) {
		err_set(e, ERR_USAGE, "run id prefix '%s' is ambiguous (%d runs)", id, p.n);
		return err_hint(e, "give more of the id; 'engrave runs' lists them");
	}
	err_set(e, ERR_MISSING, "no run '%s' in store '%s'", id, store_path(st));
	return err_hint(e, "'engrave runs' lists the stored runs");
}

int compare_find_baseline(struct store *st, const char *name, struct run_record *out, struct err *e)
{
	char ref[256], val[128];
	if (!strncmp(name, "baseline/", 9))
		name += 9;
	snprintf(ref, sizeof(ref), "baseline/%s", name);
	struct err le = ERR_INIT;
	if (ref_get(st, ref, val, sizeof(val), &le)) {
		if (le.cls != ERR_MISSING) {
			if (e)
				*e = le;
			return -1;
		}
		err_set(e, ERR_MISSING, "no baseline '%s' (ref '%s')", name, ref);
		return err_hint(e, "set one with 'engrave baseline set %s RUN'; 'engrave baseline list' shows them", name);
	}
	if (compare_find_run(st, val, out, e))
		return err_prefix(e, "baseline '%s'", name);
	return 0;
}
