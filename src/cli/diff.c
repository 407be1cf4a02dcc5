/*
 * diff.c — `engrave diff A B [--json]`: what changed from run A to run B.
 *
 * src/analysis/compare.c builds the diff as JSON; this file prints it as
 * four sections (spec values by key path, artifact digests per step, the
 * environment -- keys whose values differ named first, conditions of the
 * moment such as load apart --, metrics with their change, 95% CI and the verdict engine's
 * verdict) or dumps the JSON for CI. The exit code is 0
 * whatever differs: diff reports, `engrave check` judges.
 */
#include "cli.h"
#include "engrave/buf.h"
#include "engrave/compare.h"
#include "engrave/store.h"

#include <jansson.h>
#include <string.h>

static void print_value(json_t *v)
{
	if (!v || json_is_null(v)) {
		printf("(absent)");
		return;
	}
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	printf("%s", s ? s : "?");
	free(s);
}

static void short_hex(json_t *v, char *out, size_t cap)
{
	if (json_is_string(v))
		snprintf(out, cap, "%.12s", json_string_value(v));
	else if (json_is_array(v) && json_array_size(v))
		snprintf(out, cap, "%.12s+%zu", json_string_value(json_array_get(v, 0)), json_array_size(v) - 1);
	else
		snprintf(out, cap, "-");
}

/* The environment: differing keys by name, the record's fixed fields
 * always, the rest summed up; conditions (load, steal) on their own lines,
 * keys one run lacks in one line. */
static void print_env(json_t *d)
{
	json_t *diff = json_object_get(d, "env_different"), *v;
	size_t i, n_same = 0;
	struct buf only;
	buf_init(&only, 0);
	if (json_array_size(diff))
		printf("\nenvironment: %zu key%s DIFFERENT: machine, build or target configuration changed\n",
		       json_array_size(diff), json_array_size(diff) == 1 ? "" : "s");
	else
		printf("\nenvironment:\n");
	json_array_foreach(json_object_get(d, "env"), i, v) {
		const char *key = json_string_value(json_object_get(v, "key"));
		const char *a = json_string_value(json_object_get(v, "a")), *b = json_string_value(json_object_get(v, "b"));
		int same = json_is_true(json_object_get(v, "same"));
		if (!a || !b)
			buf_printf(&only, NULL, "%s%s", only.len ? ", " : "", key);
		else if (json_is_true(json_object_get(v, "condition")))
			printf("  %-28s %s -> %s  (condition of the run)\n", key, a, b);
		else if (!same)
			printf("  %-28s DIFFERENT  %s -> %s\n", key, a, b);
		else if (i < 5) /* the record's fixed fields */
			printf("  %-28s same  (%s)\n", key, a);
		else
			n_same++;
	}
	if (n_same)
		printf("  %zu more key%s the same ('--json' lists them)\n", n_same, n_same == 1 ? "" : "s");
	if (only.len)
		printf("  recorded by one run only: %s\n", only.data);
	buf_release(&only);
}

static void print_text(json_t *d)
{
	json_t *spec = json_object_get(d, "spec"), *v;
	size_t i;
	printf("diff %s -> %s\n\nspec: %s\n", json_string_value(json_object_get(d, "a")),
	       json_string_value(json_object_get(d, "b")),
	       json_is_true(json_object_get(spec, "same")) ? "same" : "differs");
	json_array_foreach(json_object_get(spec, "changes"), i, v) {
		printf("  %s: ", json_string_value(json_object_get(v, "path")));
		print_value(json_object_get(v, "a"));
		printf(" -> ");
		print_value(json_object_get(v, "b"));
		printf("\n");
	}
	printf("\nartifacts:\n");
	json_array_foreach(json_object_get(d, "artifacts"), i, v) {
		char a[40], b[40];
		short_hex(json_object_get(v, "a"), a, sizeof(a));
		short_hex(json_object_get(v, "b"), b, sizeof(b));
		int same = json_is_true(json_object_get(v, "same"));
		printf("  %-12s %-9s %s%s%s\n", json_string_value(json_object_get(v, "step")), same ? "same" : "DIFFERENT",
		       a, same ? "" : " -> ", same ? "" : b);
	}
	print_env(d);
	json_t *busy = json_object_get(d, "machine_busy");
	printf("\nmetrics (rule: %s)\n", json_string_value(json_object_get(d, "rule")));
	if (json_is_string(busy))
		printf("machine busy: %s: a regression below is untrusted\n", json_string_value(busy));
	printf("\n  %-22s %12s %12s %9s  %-22s %-12s %s\n", "metric", "a", "b", "change", "95% CI", "verdict", "why");
	json_array_foreach(json_object_get(d, "metrics"), i, v) {
		char a[32] = "-", b[32] = "-", ch[32] = "-", ci[48] = "-";
		json_t *x;
		const char *unit = json_string_value(json_object_get(v, "unit"));
		if (json_is_number(x = json_object_get(v, "a")))
			snprintf(a, sizeof(a), "%.6g", json_number_value(x));
		if (json_is_number(x = json_object_get(v, "b")))
			snprintf(b, sizeof(b), "%.6g", json_number_value(x));
		if (json_is_number(x = json_object_get(v, "change")))
			snprintf(ch, sizeof(ch), "%+.2f%s", json_number_value(x), unit ? unit : "%");
		if (json_is_number(json_object_get(v, "ci_lo")))
			snprintf(ci, sizeof(ci), "%+.3g..%+.3g%s", json_number_value(json_object_get(v, "ci_lo")),
				 json_number_value(json_object_get(v, "ci_hi")), unit ? unit : "%");
		json_t *vd = json_object_get(v, "verdict");
		const char *why = json_string_value(json_object_get(v, "why"));
		printf("  %-22s %12s %12s %9s  %-22s %-12s %s\n", json_string_value(json_object_get(v, "metric")), a, b, ch,
		       json_is_string(vd) ? ci : "", json_is_string(vd) ? json_string_value(vd) : "",
		       json_is_string(vd) && why ? why : "");
	}
}

int cmd_diff(int argc, char **argv, struct cli_ctx *ctx)
{
	int json = 0;
	static const struct cli_help help = {
		"diff", "engrave diff A B [--json]",
		"Show what differs between two runs: spec values, artifact digests, environment, metrics.",
		"Spec values are compared on the canonical form, by key path. Every metric the runs\n"
		"share gets the verdict engine's verdict, the same as `engrave check` and `engrave log`:\n"
		"  regression = worse than the tolerance (B's spec, else 5%), the 95% CI of the change\n"
		"  excludes 0, and the change exceeds the runs' noise floor.\n"
		"The CI comes from the runs' repeats (loadtest.repeat >= 3) or from a bootstrap of\n"
		"blocks of time of the stored request records ('threshold only' without records).\n"
		"Environment keys (machine, build, target settings) whose values differ are named, so runs\n"
		"from different machines are never compared silently; conditions of the moment (load,\n"
		"steal) are shown apart, and keys only one run recorded are listed.\n\n"
		"exit codes: 0 compared (whatever differs), 3 missing run",
	};
	const struct cli_opt opts[] = {
		{ "json", 0, OPT_FLAG, &json, NULL, "print the diff as JSON" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc - pos != 2)
		return cli_usage_error(&help, "expected two runs A and B");
	if ((rc = cli_setup(ctx, 2, &argv[pos])))
		return rc;
	struct err e = ERR_INIT;
	json_t *d = NULL;
	rc = -1;
	if (compare_runs_json(ctx->store, &ctx->run[0], &ctx->run[1], &d, &e))
		goto out;
	if (json) {
		char *s = json_dumps(d, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		if (s)
			puts(s);
		free(s);
	} else {
		print_text(d);
	}
	rc = 0;
out:
	if (rc < 0)
		rc = cli_fail(&e);
	json_decref(d);
	return rc;
}
