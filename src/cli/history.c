/*
 * history.c — `engrave history --spec NAME --metric M [--json]`: a metric
 * over a spec's runs in time order, with asv-style step detection.
 *
 * src/analysis/history.c collects the series and fits it with a piecewise-
 * constant function; each jump at least --min-change percent is printed
 * against the first run of the new level. Several jumps the same way read
 * as a gradual drift and are summarised as one.
 */
#include "cli.h"
#include "engrave/history.h"
#include "engrave/store.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

int cmd_history(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *spec = NULL, *metric = NULL;
	double min_change = 5;
	int json = 0, all = 0;
	static const struct cli_help help = {
		"history", "engrave history --spec NAME --metric M [--min-change PCT] [--all] [--json]",
		"A metric over a spec's runs in time order, with steps and drifts pointed to by run id.",
		"Steps are found as in asv: the series is fitted with a piecewise-constant function\n"
		"(L1 cost, number of levels chosen by a BIC-like penalty) and jumps of at least\n"
		"--min-change percent (default 5) are reported at the first run of the new level.\n"
		"Only runs with status done count unless --all.\n\n"
		"exit codes: 0 (steps or not), 2 usage, 3 no run of that spec has the metric",
	};
	const struct cli_opt opts[] = {
		{ "spec", 0, OPT_STRING, &spec, "NAME", "the spec name (required)" },
		{ "metric", 'm', OPT_STRING, &metric, "M", "the metric, e.g. p99_ms, throughput (required)" },
		{ "min-change", 0, OPT_DOUBLE, &min_change, "PCT", "smallest step to report, percent (5)" },
		{ "all", 0, OPT_FLAG, &all, NULL, "include runs that did not finish" },
		{ "json", 0, OPT_FLAG, &json, NULL, "print the series and steps as JSON" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc != pos)
		return cli_usage_error(&help, "unexpected argument '%s'", argv[pos]);
	if (!spec || !metric)
		return cli_usage_error(&help, "--spec and --metric are required");
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct err e = ERR_INIT;
	struct history h;
	memset(&h, 0, sizeof(h));
	if (history_collect(ctx->store, spec, metric, all, min_change / 100.0, &h, &e))
		return cli_fail(&e);
	if (!h.n) {
		err_set(&e, ERR_MISSING, "no %srun of spec '%s' has metric '%s'", all ? "" : "finished ", spec, metric);
		err_hint(&e, "'engrave runs --spec %s' lists its runs; 'engrave show RUN' its metrics", spec);
		history_release(&h);
		return cli_fail(&e);
	}
	if (json) {
		json_t *o = json_object(), *pts = json_array(), *steps = json_array();
		json_object_set_new(o, "spec", json_string(spec));
		json_object_set_new(o, "metric", json_string(metric));
		for (size_t i = 0; i < h.n; i++) {
			json_t *p = json_object();
			char ts[32];
			clock_format_iso8601(h.pts[i].created, ts, sizeof(ts));
			json_object_set_new(p, "run", json_string(h.pts[i].run_id));
			json_object_set_new(p, "created", json_string(ts));
			json_object_set_new(p, "value", json_real(h.pts[i].value));
			json_array_append_new(pts, p);
		}
		for (size_t i = 0; i < h.n_steps; i++) {
			json_t *s = json_object();
			json_object_set_new(s, "run", json_string(h.steps[i].run_id));
			json_object_set_new(s, "previous_run", json_string(h.steps[i].prev_id));
			json_object_set_new(s, "index", json_integer((json_int_t)h.steps[i].s.index));
			json_object_set_new(s, "before", json_real(h.steps[i].s.before));
			json_object_set_new(s, "after", json_real(h.steps[i].s.after));
			json_object_set_new(s, "change_pct", json_real(h.steps[i].s.rel * 100.0));
			json_array_append_new(steps, s);
		}
		json_object_set_new(o, "points", pts);
		json_object_set_new(o, "steps", steps);
		char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		json_decref(o);
		if (s)
			puts(s);
		free(s);
	} else {
		printf("%s of spec %s over %zu run(s)\n\n  %-24s %-20s %12s\n", metric, spec, h.n, "run", "created", metric);
		size_t k = 0;
		for (size_t i = 0; i < h.n; i++) {
			char ts[32], mark[160] = "";
			clock_format_iso8601(h.pts[i].created, ts, sizeof(ts));
			if (k < h.n_steps && h.steps[k].s.index == i) {
				snprintf(mark, sizeof(mark), "  <- step %+.1f%% (%.4g -> %.4g)", h.steps[k].s.rel * 100.0,
					 h.steps[k].s.before, h.steps[k].s.after);
				k++;
			}
			printf("  %-24s %-20s %12.6g%s\n", h.pts[i].run_id, ts, h.pts[i].value, mark);
		}
		printf("\n");
		if (!h.n_steps)
			printf("no step of %g%% or more\n", min_change);
		for (size_t i = 0; i < h.n_steps; i++)
			printf("step at run %s (after %s): %.4g -> %.4g (%+.1f%%)\n", h.steps[i].run_id, h.steps[i].prev_id,
			       h.steps[i].s.before, h.steps[i].s.after, h.steps[i].s.rel * 100.0);
		if (h.n_steps >= 2) {
			int same = 1;
			for (size_t i = 1; i < h.n_steps; i++)
				same &= (h.steps[i].s.rel > 0) == (h.steps[0].s.rel > 0);
			if (same)
				printf("drift: %zu steps the same way from run %s to run %s: %.4g -> %.4g (%+.1f%%)\n",
				       h.n_steps, h.steps[0].run_id, h.steps[h.n_steps - 1].run_id, h.steps[0].s.before,
				       h.steps[h.n_steps - 1].s.after,
				       h.steps[0].s.before ? (h.steps[h.n_steps - 1].s.after - h.steps[0].s.before) /
							     fabs(h.steps[0].s.before) * 100.0
							   : 0.0);
		}
	}
	history_release(&h);
	return 0;
}
