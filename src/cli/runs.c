/*
 * runs.c — `engrave runs`: a table of the stored runs.
 *
 * Walks run_list (id order = time order), filters by spec name and status,
 * and prints id, spec, target (driver and URL from the run's stored spec)
 * and the key metrics. --json prints an array of the same fields plus each
 * run's environment (report_env_json: the same object as `show --json`).
 */
#include "cli.h"
#include "report.h"
#include "engrave/spec.h"
#include "engrave/store.h"
#include "engrave/target.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

struct runs_ctx {
	const char *spec, *status;
	int json;
	json_t *arr;
	int n;
};

static void target_of(const struct run_record *r, char *out, size_t cap)
{
	struct spec *sp = NULL;
	struct err e = ERR_INIT;
	snprintf(out, cap, "?");
	if (r->spec_text && !target_spec_load_stored(r->spec_text, strlen(r->spec_text), r->id, &sp, &e)) {
		if (!sp->target.present)
			snprintf(out, cap, "-");
		else if (sp->target.url)
			snprintf(out, cap, "%s %s", sp->target.driver, sp->target.url);
		else
			snprintf(out, cap, "%s", sp->target.driver);
	}
	spec_free(sp);
}

static double metric(const struct run_record *r, const char *k)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (!strcmp(r->metrics[i].key, k))
			return r->metrics[i].value;
	return NAN;
}

static void cell(char *out, size_t cap, double v, const char *fmt)
{
	if (isnan(v))
		snprintf(out, cap, "-");
	else
		snprintf(out, cap, fmt, v);
}

static int visit(const struct run_record *r, void *vctx)
{
	struct runs_ctx *c = vctx;
	if ((c->spec && strcmp(r->spec_name, c->spec)) || (c->status && strcmp(r->status, c->status)))
		return 0;
	char target[160];
	target_of(r, target, sizeof(target));
	static const char *const keys[] = { "p50_ms", "p99_ms", "throughput", "error_rate", "recall" };
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(r->id));
		json_object_set_new(o, "spec", json_string(r->spec_name));
		json_object_set_new(o, "target", json_string(target));
		json_object_set_new(o, "status", json_string(r->status));
		json_t *m = json_object();
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			double v = metric(r, keys[i]);
			if (!isnan(v))
				json_object_set_new(m, keys[i], json_real(v));
		}
		json_object_set_new(o, "metrics", m);
		json_object_set_new(o, "env", report_env_json(r));
		json_array_append_new(c->arr, o);
	} else {
		if (!c->n)
			printf("%-24s %-16s %-24s %-11s %9s %9s %10s %8s %7s\n", "id", "spec", "target", "status", "p50_ms",
			       "p99_ms", "ops/s", "errors", "recall");
		char v[5][32];
		cell(v[0], 32, metric(r, "p50_ms"), "%.3f");
		cell(v[1], 32, metric(r, "p99_ms"), "%.3f");
		cell(v[2], 32, metric(r, "throughput"), "%.1f");
		cell(v[3], 32, metric(r, "error_rate") * 100, "%.2f%%");
		cell(v[4], 32, metric(r, "recall"), "%.3f");
		printf("%-24s %-16s %-24s %-11s %9s %9s %10s %8s %7s\n", r->id, r->spec_name, target, r->status, v[0], v[1],
		       v[2], v[3], v[4]);
	}
	c->n++;
	return 0;
}

int cmd_runs(int argc, char **argv, struct cli_ctx *ctx)
{
	struct runs_ctx c = { NULL, NULL, 0, NULL, 0 };
	static const struct cli_help help = {
		"runs", "engrave runs [--spec NAME] [--status S] [--json]",
		"List the stored runs: id, spec, target, status and key metrics, oldest first.",
		"Status is one of running, interrupted, failed, done. Run ids (or a unique prefix of\n"
		"at least 4 characters) are what show, diff, check, replay, log and plot take.",
	};
	const struct cli_opt opts[] = {
		{ "spec", 0, OPT_STRING, &c.spec, "NAME", "only runs of this spec" },
		{ "status", 0, OPT_STRING, &c.status, "S", "only runs with this status" },
		{ "json", 0, OPT_FLAG, &c.json, NULL, "print a JSON array" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc != pos)
		return cli_usage_error(&help, "unexpected argument '%s'", argv[pos]);
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct err e = ERR_INIT;
	if (c.json)
		c.arr = json_array();
	if (run_list(ctx->store, visit, &c, &e) < 0) {
		json_decref(c.arr);
		return cli_fail(&e);
	}
	if (c.json) {
		char *s = json_dumps(c.arr, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		json_decref(c.arr);
		if (s)
			puts(s);
		free(s);
	} else if (!c.n) {
		fprintf(stderr, "no runs%s%s%s%s\n", c.spec ? " of spec " : "", c.spec ? c.spec : "",
			c.status ? " with status " : "", c.status ? c.status : "");
	}
	return 0;
}
