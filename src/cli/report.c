/*
 * report.c — printing a run record as a table or as JSON.
 *
 * Shared by `engrave run` (the report at the end of a run) and later by
 * `engrave show`; and the runner's finish hook that gives run and replay
 * their metrics (a run lacking the ones its spec implies is "incomplete").
 * The JSON form is built with jansson and is stable for CI:
 * {"id","spec","spec_digest","status","created","env":{...},
 *  "steps":[{"name","state","action","outputs":[...],"elapsed_s","message"}],
 *  "metrics":{key: value}, "notes"?:[text]}; a note says why a recall
 * the spec asked for was not scored (recall.h), in text too. "env" is flat:
 * the record's host/kernel/cpu/engrave_version/target_version, then its
 * captured keys (sysinfo.h, "target.*") in order, numbers as numbers.
 */
#include "cli.h"
#include "report.h"
#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/recall.h"
#include "engrave/runmetrics.h"
#include "engrave/spec.h"
#include "engrave/store.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static json_t *hex_json(const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(d, hex);
	return json_string(hex);
}

/* A number when the item is one (integral values as JSON integers), else text. */
static json_t *env_value_json(const struct envlist_item *it)
{
	if (!it->is_num)
		return json_string(it->value);
	double v = strtod(it->value, NULL);
	if (v == floor(v) && fabs(v) < 9e15)
		return json_integer((json_int_t)v);
	return json_real(v);
}

json_t *report_env_json(const struct run_record *r)
{
	json_t *env = json_object();
	json_object_set_new(env, "host", json_string(r->host));
	json_object_set_new(env, "kernel", json_string(r->kernel));
	json_object_set_new(env, "cpu", json_string(r->cpu));
	json_object_set_new(env, "engrave_version", json_string(r->engrave_version));
	json_object_set_new(env, "target_version", json_string(r->target_version));
	for (int i = 0; i < r->env.n; i++)
		json_object_set_new(env, r->env.v[i].key, env_value_json(&r->env.v[i]));
	return env;
}

void report_env_text(FILE *out, const struct run_record *r)
{
	fprintf(out, "  env: host %s, kernel %s\n       cpu %s\n       engrave %s, target %s\n", r->host, r->kernel,
		r->cpu, r->engrave_version, r->target_version[0] ? r->target_version : "-");
	for (int i = 0; i < r->env.n; i++)
		fprintf(out, "       %-28s %s\n", r->env.v[i].key, r->env.v[i].value);
}

json_t *report_run_json(const struct run_record *r, const struct spec *sp)
{
	json_t *o = json_object();
	char ts[32];
	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "spec", json_string(r->spec_name));
	json_object_set_new(o, "spec_digest", hex_json(&r->spec_digest));
	json_t *ov = json_array(); /* --set KEY=VALUE as given; the digest is the overridden spec's */
	for (int i = 0; i < r->n_overrides; i++)
		json_array_append_new(ov, json_string(r->overrides[i]));
	json_object_set_new(o, "overrides", ov);
	json_object_set_new(o, "status", json_string(r->status));
	clock_format_iso8601(r->created, ts, sizeof(ts));
	json_object_set_new(o, "created", json_string(ts));
	clock_format_iso8601(r->updated, ts, sizeof(ts));
	json_object_set_new(o, "updated", json_string(ts));
	json_object_set_new(o, "env", report_env_json(r));
	json_t *steps = json_array();
	for (int i = 0; i < r->n_steps; i++) {
		const struct run_step *s = &r->steps[i];
		json_t *js = json_object();
		json_object_set_new(js, "name", json_string(s->name));
		json_object_set_new(js, "state", json_string(s->state));
		if (!digest_is_zero(&s->action))
			json_object_set_new(js, "action", hex_json(&s->action));
		json_t *outs = json_array();
		for (int k = 0; k < s->n_out; k++)
			json_array_append_new(outs, hex_json(&s->out[k]));
		json_object_set_new(js, "outputs", outs);
		json_object_set_new(js, "elapsed_s", json_real((double)s->elapsed_ns / 1e9));
		json_object_set_new(js, "message", json_string(s->message));
		json_array_append_new(steps, js);
	}
	json_object_set_new(o, "steps", steps);
	json_t *m = json_object();
	for (int i = 0; i < r->n_metrics; i++)
		json_object_set_new(m, r->metrics[i].key, json_real(r->metrics[i].value));
	json_object_set_new(o, "metrics", m);
	char why[160], note[192];
	if (recall_unscored_why(sp, r, why, sizeof(why))) {
		snprintf(note, sizeof(note), "recall not scored: %s", why);
		json_object_set_new(o, "notes", json_pack("[s]", note));
	}
	return o;
}

int report_print_json(json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(o);
	if (!s)
		return -1;
	puts(s);
	free(s);
	return 0;
}

static const struct run_metric *metric_of(const struct run_record *r, const char *key)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (!strcmp(r->metrics[i].key, key))
			return &r->metrics[i];
	return NULL;
}

/* The client's share of the latencies, in words beside them (when the run
 * measured it: records from before the wake-up flag have none). */
static void report_wakeup_line(FILE *out, const struct run_record *r)
{
	const struct run_metric *p50 = metric_of(r, "client_wakeup_p50_us"),
				*p99 = metric_of(r, "client_wakeup_p99_us"),
				*lat = metric_of(r, "p50_ms");
	if (!p50 || !p99)
		return;
	fprintf(out, "\n  client wake-up error p50 %.1f us, p99 %.1f us (part of every latency above", p50->value,
		p99->value);
	if (lat && lat->value > 0)
		fprintf(out, "; %.1f%% of the p50", 100.0 * p50->value / (lat->value * 1e3));
	fprintf(out, ")\n");
}

void report_run_text(FILE *out, const struct run_record *r, const struct spec *sp)
{
	char ts[32];
	clock_format_iso8601(r->created, ts, sizeof(ts));
	fprintf(out, "run %s  spec %s  status %s  started %s\n", r->id, r->spec_name, r->status, ts);
	for (int i = 0; i < r->n_overrides; i++)
		fprintf(out, "  %s --set %s\n", i ? "    " : "with", r->overrides[i]);
	fprintf(out, "\n  %-12s %-10s %10s  %-14s %s\n", "step", "state", "time", "output", "summary");
	for (int i = 0; i < r->n_steps; i++) {
		const struct run_step *s = &r->steps[i];
		char dur[32] = "-", hex[DIGEST_HEX_LEN + 1] = "-";
		if (s->elapsed_ns)
			clock_format_duration(s->elapsed_ns, dur, sizeof(dur));
		if (s->n_out > 0)
			digest_to_hex(&s->out[0], hex);
		hex[12] = '\0';
		fprintf(out, "  %-12s %-10s %10s  %-14s %s\n", s->name, s->state, dur, hex, s->message);
	}
	if (r->n_metrics) {
		fprintf(out, "\n  %-28s %s\n", "metric", "value");
		for (int i = 0; i < r->n_metrics; i++)
			fprintf(out, "  %-28s %.6g\n", r->metrics[i].key, r->metrics[i].value);
		report_wakeup_line(out, r);
	}
	char why[160];
	if (recall_unscored_why(sp, r, why, sizeof(why)))
		fprintf(out, "\n  note: recall not scored: %s\n", why);
}

/* The runner's finish hook: the run's metrics (analysis layer), and a run
 * that lacks the ones its spec implies is "incomplete", never "done". */
int report_finish_run(struct store *st, struct run_record *rec, void *ctx, struct err *e)
{
	const struct spec *sp = ctx;
	if (runmetrics_compute(st, rec, e))
		return -1;
	char missing[256];
	if (runmetrics_missing(sp, rec, missing, sizeof(missing))) {
		err_set(e, ERR_MISSING, "run %s finished its steps but lacks the metrics %s", rec->id, missing);
		if (strstr(missing, "no request"))
			err_hint(e, "raise steps.loadtest.arrival.rate x (duration - warmup) to at least one request");
		else
			err_hint(e, "its load-test records are missing or unreadable: 'engrave store verify', then run the spec again");
		return 1;
	}
	return 0;
}
