/*
 * show.c — `engrave show RUN [--json]`: everything a run recorded.
 *
 * The spec (canonical YAML of the stored text), the environment, each step
 * with its state (cached, ran, resumed...), output digests and time, the
 * metrics, and the checks: the spec's absolute thresholds and, when the
 * spec names a baseline that exists, the baseline tolerances. A missing
 * baseline is noted, not an error (that is `engrave check`'s job).
 * `--runbook` prints the run's runbook results instead, one CSV row per
 * phase, and `--svg FILE` writes their recall and p99 chart (rbplot.h).
 */
#include "cli.h"
#include "report.h"
#include "engrave/buf.h"
#include "engrave/check.h"
#include "engrave/compare.h"
#include "engrave/rbplot.h"
#include "engrave/spec.h"
#include "engrave/store.h"
#include "engrave/target.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int show_runbook(struct store *st, const struct run_record *run, const char *svg, struct err *e)
{
	struct buf csv, plot;
	buf_init(&csv, 0);
	buf_init(&plot, 0);
	int rc = rbplot_run_csv(st, run, &csv, e);
	if (!rc && svg) {
		char title[256];
		snprintf(title, sizeof(title), "%s: recall and p99 per phase (run %s)", run->spec_name, run->id);
		rc = rbplot_svg(csv.data, csv.len, title, &plot, e);
		FILE *f = rc ? NULL : fopen(svg, "w");
		if (!rc && (!f || fwrite(plot.data, 1, plot.len, f) != plot.len))
			rc = err_set_errno(e, ERR_IO, errno, "cannot write %s", svg);
		if (f && fclose(f) && !rc)
			rc = err_set_errno(e, ERR_IO, errno, "cannot write %s", svg);
	}
	if (!rc)
		fwrite(csv.data, 1, csv.len, stdout);
	buf_release(&csv);
	buf_release(&plot);
	return rc;
}

int cmd_show(int argc, char **argv, struct cli_ctx *ctx)
{
	int json = 0, runbook = 0;
	const char *svg = NULL;
	static const struct cli_help help = {
		"show", "engrave show RUN [--json | --runbook [--svg FILE]]",
		"Show a run: its spec, environment, steps (cached, ran, resumed), artifact digests, metrics and checks.",
		"RUN is a run id or a unique prefix of one (see 'engrave runs').\n"
		"--runbook prints the run's runbook results as CSV, one row per phase: phase, kind,\n"
		"concurrent, start_s, duration_s, searches, errors, qps, p50_ms, p99_ms, recall (exact\n"
		"top-k over the ids live at each search's send time), written, write_rate.\n\n"
		"exit codes: 0 shown, 3 no such run (or, with --runbook, no runbook in it)",
	};
	const struct cli_opt opts[] = {
		{ "json", 0, OPT_FLAG, &json, NULL, "print the run as JSON" },
		{ "runbook", 0, OPT_FLAG, &runbook, NULL, "print the runbook's per-phase results as CSV" },
		{ "svg", 0, OPT_STRING, &svg, "FILE", "with --runbook: also write recall and p99 per phase as an SVG chart" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc - pos != 1)
		return cli_usage_error(&help, "expected one RUN");
	if (svg && !runbook)
		return cli_usage_error(&help, "--svg goes with --runbook");
	if (runbook && json)
		return cli_usage_error(&help, "--runbook prints CSV; leave out --json");
	if ((rc = cli_setup(ctx, 1, &argv[pos])))
		return rc;
	struct err e = ERR_INIT;
	if (runbook)
		return show_runbook(ctx->store, &ctx->run[0], svg, &e) ? cli_fail(&e) : 0;
	struct store *st = ctx->store;
	struct spec *sp = NULL;
	struct run_record run = ctx->run[0], base; /* run: borrowed, main releases it */
	int have_base = 0;
	struct check_result res;
	memset(&res, 0, sizeof(res));
	struct buf yaml, tab;
	buf_init(&yaml, 0);
	buf_init(&tab, 0);
	char base_note[600] = "";
	rc = -1;
	struct err se = ERR_INIT;
	if (run.spec_text &&
	    (target_spec_load_stored(run.spec_text, strlen(run.spec_text), run.id, &sp, &se) || spec_canonical_yaml(sp, &yaml, &se)))
		snprintf(base_note, sizeof(base_note), "stored spec does not load: %.500s", se.msg);
	if (sp && sp->baseline.present && sp->baseline.ref) {
		struct err be = ERR_INIT;
		if (compare_find_baseline(st, sp->baseline.ref, &base, &be))
			snprintf(base_note, sizeof(base_note), "baseline not checked: %.500s", be.msg);
		else
			have_base = 1;
	}
	if (check_run(st, &run, sp, have_base ? &base : NULL, NULL, &res, &e))
		goto out;
	if (json) {
		json_t *o = report_run_json(&run, sp);
		json_object_set_new(o, "spec_yaml", yaml.data ? json_string(yaml.data) : json_null());
		json_object_set_new(o, "spec_text", run.spec_text ? json_string(run.spec_text) : json_null());
		json_object_set_new(o, "checks", check_json(&res));
		if (base_note[0])
			json_object_set_new(o, "note", json_string(base_note));
		report_print_json(o);
	} else {
		char ts[32];
		clock_format_iso8601(run.updated, ts, sizeof(ts));
		report_run_text(stdout, &run, sp);
		printf("\n  updated %s\n", ts);
		report_env_text(stdout, &run);
		printf("\n  artifacts:\n");
		for (int i = 0; i < run.n_steps; i++)
			for (int k = 0; k < run.steps[i].n_out; k++) {
				char hex[DIGEST_HEX_LEN + 1];
				digest_to_hex(&run.steps[i].out[k], hex);
				printf("  %-12s %s\n", k ? "" : run.steps[i].name, hex);
			}
		if (yaml.data)
			printf("\nspec (canonical):\n%s", yaml.data);
		if (res.n) {
			if (check_table(&res, &tab, &e))
				goto out;
			printf("\nchecks%s%s:\n%s", have_base ? " against baseline " : "", have_base ? base.id : "", tab.data);
			printf("checks: %s\n", check_exit_code(&res) == 0 ? "pass" : check_summary_word(&res));
		}
		if (base_note[0])
			printf("\nnote: %s\n", base_note);
	}
	rc = 0;
out:
	if (rc < 0)
		rc = cli_fail(&e);
	buf_release(&yaml);
	buf_release(&tab);
	check_result_release(&res);
	if (have_base)
		run_record_release(&base);
	spec_free(sp);
	return rc;
}
