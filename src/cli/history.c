/*
 * history.c — `engrave history --spec NAME --metric M [--json]`: a metric
 * over a spec's runs in time order, grouped by spec, with asv-style step
 * detection weighted by each run's uncertainty.
 *
 * src/analysis/history.c collects the series, each run's standard error
 * (from its request records) and canonical spec digest, and fits every
 * group of runs with one spec; this file prints the table (one row a run,
 * a header a group naming the key paths that changed), then one line a
 * step with its values, change, significance and runs, one line a spec
 * change, and what the fit assumed where a run had no uncertainty. Several
 * steps the same way within a group read as a drift, summarised as one.
 * --json gives the same as one object.
 */
#include "cli.h"
#include "engrave/buf.h"
#include "engrave/history.h"
#include "engrave/store.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#define HISTORY_RULE                                                                                \
	"a step is a jump of the piecewise-constant f minimising sum |ln x - f| / sigma + (3 + ln n) per " \
	"level (asv's fit, sigma = each run's uncertainty)"

static const char *fill_text(enum stats_fill f)
{
	switch (f) {
	case STATS_FILL_KNOWN:
		return "the median uncertainty of the other runs";
	case STATS_FILL_SERIES:
		return "the series' own noise (successive differences)";
	case STATS_FILL_ASSUMED:
		return "an assumed 10% (too few runs to measure the noise)";
	default:
		return "their own";
	}
}

static const char *fill_key(enum stats_fill f)
{
	static const char *const k[] = { "none", "median-of-known", "series", "assumed" };
	return k[f];
}

/* "path a -> b; path a -> b" into b */
static void changes_text(json_t *changes, struct buf *b)
{
	size_t i;
	json_t *c;
	json_array_foreach(changes, i, c) {
		char *va = json_dumps(json_object_get(c, "a"), JSON_ENCODE_ANY | JSON_COMPACT);
		char *vb = json_dumps(json_object_get(c, "b"), JSON_ENCODE_ANY | JSON_COMPACT);
		buf_printf(b, NULL, "%s%s %s -> %s", i ? "; " : "", json_string_value(json_object_get(c, "path")),
			   va ? va : "(absent)", vb ? vb : "(absent)");
		free(va);
		free(vb);
	}
	if (!b->len)
		buf_printf(b, NULL, "(no key path: the spec digests differ)");
}

static double rel_change(double a, double b) { return a != 0 ? (b - a) / fabs(a) * 100.0 : 0; }

static json_t *step_json(const struct history_step *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "run", json_string(s->run_id));
	json_object_set_new(o, "previous_run", json_string(s->prev_id));
	json_object_set_new(o, "index", json_integer((json_int_t)s->s.index));
	json_object_set_new(o, "group", json_integer((json_int_t)s->group));
	json_object_set_new(o, "before", json_real(s->s.before));
	json_object_set_new(o, "after", json_real(s->s.after));
	json_object_set_new(o, "change_pct", json_real(s->s.rel * 100.0));
	json_object_set_new(o, "z", json_real(s->s.z));
	json_object_set_new(o, "runs_before", json_integer((json_int_t)s->s.n_before));
	json_object_set_new(o, "runs_after", json_integer((json_int_t)s->s.n_after));
	return o;
}

static json_t *group_json(const struct history *h, size_t g)
{
	const struct history_group *gr = &h->groups[g];
	json_t *o = json_object();
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(&gr->spec, hex);
	json_object_set_new(o, "spec_digest", json_string(hex));
	json_object_set_new(o, "first_run", json_string(h->pts[gr->first].run_id));
	json_object_set_new(o, "last_run", json_string(h->pts[gr->first + gr->n - 1].run_id));
	json_object_set_new(o, "runs", json_integer((json_int_t)gr->n));
	json_object_set_new(o, "unknown_sigma_fill", json_string(fill_key(gr->fill)));
	json_object_set_new(o, "between_run_noise", json_real(gr->tau));
	json_object_set_new(o, "log_scale", json_boolean(gr->log_scale));
	if (gr->changes)
		json_object_set(o, "changes", gr->changes);
	return o;
}

static void print_json(const struct history *h, const char *spec, const char *metric, double min_change, int across)
{
	json_t *o = json_object(), *pts = json_array(), *steps = json_array(), *groups = json_array(),
	       *sc = json_array();
	json_object_set_new(o, "spec", json_string(spec));
	json_object_set_new(o, "metric", json_string(metric));
	json_object_set_new(o, "min_change_pct", json_real(min_change));
	json_object_set_new(o, "across_specs", json_boolean(across));
	json_object_set_new(o, "rule", json_string(HISTORY_RULE));
	for (size_t i = 0; i < h->n; i++) {
		const struct history_point *p = &h->pts[i];
		json_t *j = json_object();
		char ts[32];
		clock_format_iso8601(p->created, ts, sizeof(ts));
		json_object_set_new(j, "run", json_string(p->run_id));
		json_object_set_new(j, "created", json_string(ts));
		json_object_set_new(j, "value", json_real(p->value));
		json_object_set_new(j, "sigma", isnan(p->sigma) ? json_null() : json_real(p->sigma));
		json_object_set_new(j, "group", json_integer((json_int_t)p->group));
		json_object_set_new(j, "outlier", json_boolean(p->outlier));
		json_array_append_new(pts, j);
	}
	for (size_t g = 0; g < h->n_groups; g++) {
		json_array_append_new(groups, group_json(h, g));
		if (!g)
			continue;
		const struct history_point *a = &h->pts[h->groups[g].first - 1], *b = &h->pts[h->groups[g].first];
		json_t *c = json_object();
		json_object_set_new(c, "run", json_string(b->run_id));
		json_object_set_new(c, "previous_run", json_string(a->run_id));
		json_object_set(c, "changes", h->groups[g].changes);
		json_object_set_new(c, "before", json_real(a->value));
		json_object_set_new(c, "after", json_real(b->value));
		json_object_set_new(c, "change_pct", json_real(rel_change(a->value, b->value)));
		json_array_append_new(sc, c);
	}
	for (size_t i = 0; i < h->n_steps; i++)
		json_array_append_new(steps, step_json(&h->steps[i]));
	json_object_set_new(o, "points", pts);
	json_object_set_new(o, "groups", groups);
	json_object_set_new(o, "steps", steps);
	json_object_set_new(o, "spec_changes", sc);
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(o);
	if (s)
		puts(s);
	free(s);
}

/* The uncertainty column: relative for positive values, "-" when unknown. */
static void sigma_text(const struct history_point *p, char *out, size_t cap)
{
	if (isnan(p->sigma))
		snprintf(out, cap, "-");
	else if (p->value > 0)
		snprintf(out, cap, "%.1f%%", p->sigma / p->value * 100.0);
	else
		snprintf(out, cap, "%.3g", p->sigma);
}

static void print_table(const struct history *h, const char *metric)
{
	printf("  %-24s %-20s %12s  %6s\n", "run", "created", metric, "+-se");
	size_t k = 0;
	for (size_t i = 0; i < h->n; i++) {
		const struct history_point *p = &h->pts[i];
		const struct history_group *g = &h->groups[p->group];
		if (i == g->first) {
			char hex[DIGEST_HEX_LEN + 1];
			struct buf b;
			buf_init(&b, 0);
			digest_to_hex(&g->spec, hex);
			if (g->changes)
				changes_text(g->changes, &b);
			printf("  spec %.12s, %zu run%s%s%.*s\n", hex, g->n, g->n == 1 ? "" : "s",
			       g->changes ? "; changed: " : "", (int)b.len, b.len ? b.data : "");
			buf_release(&b);
		}
		char ts[32], sg[32], mark[96] = "";
		clock_format_iso8601(p->created, ts, sizeof(ts));
		sigma_text(p, sg, sizeof(sg));
		if (k < h->n_steps && h->steps[k].s.index == i) {
			snprintf(mark, sizeof(mark), "  <- step %+.1f%%", h->steps[k].s.rel * 100.0);
			k++;
		} else if (p->outlier) {
			snprintf(mark, sizeof(mark), "  (outlier, left out of the fit)");
		}
		printf("  %-24s %-20s %12.6g  %6s%s\n", p->run_id, ts, p->value, sg, mark);
	}
	printf("\n");
}

/* Several steps the same way within one group: one drift line. */
static void print_drift(const struct history *h, size_t first, size_t n)
{
	if (n < 2)
		return;
	const struct history_step *a = &h->steps[first], *z = &h->steps[first + n - 1];
	for (size_t i = first + 1; i < first + n; i++)
		if ((h->steps[i].s.rel > 0) != (a->s.rel > 0))
			return;
	printf("drift: %zu steps the same way from run %s to run %s: %.6g -> %.6g (%+.1f%%)\n", n, a->run_id,
	       z->run_id, a->s.before, z->s.after, rel_change(a->s.before, z->s.after));
}

static void print_steps(const struct history *h, const char *metric, double min_change, int across)
{
	for (size_t i = 0; i < h->n_steps; i++) {
		const struct history_step *s = &h->steps[i];
		printf("step at run %s (after %s): %.6g -> %.6g (%+.1f%%), z = %.1f, %zu run%s -> %zu run%s\n",
		       s->run_id, s->prev_id, s->s.before, s->s.after, s->s.rel * 100.0, s->s.z, s->s.n_before,
		       s->s.n_before == 1 ? "" : "s", s->s.n_after, s->s.n_after == 1 ? "" : "s");
	}
	if (!h->n_steps)
		printf("no step of %g%% or more%s\n", min_change, across || h->n_groups < 2 ? "" : " within a spec group");
	for (size_t i = 0, j; i < h->n_steps; i = j) {
		for (j = i + 1; j < h->n_steps && (across || h->steps[j].group == h->steps[i].group); j++)
			;
		print_drift(h, i, j - i);
	}
	for (size_t g = 1; g < h->n_groups; g++) {
		const struct history_point *a = &h->pts[h->groups[g].first - 1], *b = &h->pts[h->groups[g].first];
		struct buf t;
		buf_init(&t, 0);
		changes_text(h->groups[g].changes, &t);
		printf("spec changed at run %s (after %s): %.*s; %s %.6g -> %.6g (%+.1f%%) %s\n", b->run_id, a->run_id,
		       (int)t.len, t.len ? t.data : "", metric, a->value, b->value, rel_change(a->value, b->value),
		       across ? "(fitted across: --across-specs)" : "across it, not fitted as a step (--across-specs fits across)");
		buf_release(&t);
	}
}

static void print_noise(const struct history *h)
{
	if (h->n_unknown)
		printf("%zu of %zu runs have no uncertainty of their own (-: no request records, or not a latency "
		       "percentile or mean)\n",
		       h->n_unknown, h->n);
	for (size_t g = 0; g < h->n_groups; g++) {
		const struct history_group *gr = &h->groups[g];
		const char *in = h->n_groups > 1 ? " in spec group " : "";
		char gn[24] = "";
		if (h->n_groups > 1)
			snprintf(gn, sizeof(gn), "%zu", g + 1);
		if (gr->fill != STATS_FILL_NONE)
			printf("  the fit%s%s gave them %s\n", in, gn, fill_text(gr->fill));
		if (gr->tau > 0)
			printf("  noise between runs%s%s beyond their own uncertainty: %.3g%s, added to every run's\n", in,
			       gn, gr->log_scale ? gr->tau * 100.0 : gr->tau, gr->log_scale ? "%" : "");
	}
}

int cmd_history(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *spec = NULL, *metric = NULL;
	double min_change = 5;
	int json = 0, all = 0, across = 0;
	static const struct cli_help help = {
		"history",
		"engrave history --spec NAME --metric M [--min-change PCT] [--across-specs] [--all] [--json]",
		"A metric over a spec's runs in time order, grouped by spec, with steps pointed to by run id.",
		"Rule: " HISTORY_RULE ".\n"
		"Steps under --min-change are not shown; x replaces ln x when a value is not positive.\n"
		"Each run's uncertainty is the standard error of the metric over 4 to 30 time blocks of\n"
		"its request records (latency metrics), widened by the noise between runs the series\n"
		"shows; runs without one take the others' median, or the series' own noise. Runs whose\n"
		"canonical spec digest differs from the run before start a new group: steps are found\n"
		"within a group, and the boundary is shown as a spec change with the key paths that\n"
		"changed (--across-specs fits across groups). A lone run off a level its neighbours\n"
		"share is an outlier, not two steps. Only runs with status done count unless --all.\n\n"
		"exit codes: 0 (steps or not), 2 usage, 3 no run of that spec has the metric",
	};
	const struct cli_opt opts[] = {
		{ "spec", 0, OPT_STRING, &spec, "NAME", "the spec name (required)" },
		{ "metric", 'm', OPT_STRING, &metric, "M", "the metric, e.g. p99_ms, throughput (required)" },
		{ "min-change", 0, OPT_DOUBLE, &min_change, "PCT", "smallest step to report, percent (5)" },
		{ "across-specs", 0, OPT_FLAG, &across, NULL, "fit steps across runs whose specs differ" },
		{ "all", 0, OPT_FLAG, &all, NULL, "include runs that did not finish" },
		{ "json", 0, OPT_FLAG, &json, NULL, "print the series, groups and steps as JSON" },
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
	struct history_opts o = { all, min_change / 100.0, across };
	if (history_collect(ctx->store, spec, metric, &o, &h, &e))
		return cli_fail(&e);
	if (!h.n) {
		err_set(&e, ERR_MISSING, "no %srun of spec '%s' has metric '%s'", all ? "" : "finished ", spec, metric);
		err_hint(&e, "'engrave runs --spec %s' lists its runs; 'engrave show RUN' its metrics", spec);
		history_release(&h);
		return cli_fail(&e);
	}
	if (json) {
		print_json(&h, spec, metric, min_change, across);
	} else {
		printf("%s of spec %s over %zu run%s in %zu spec group%s\n\n", metric, spec, h.n, h.n == 1 ? "" : "s",
		       h.n_groups, h.n_groups == 1 ? "" : "s");
		print_table(&h, metric);
		print_steps(&h, metric, min_change, across);
		print_noise(&h);
	}
	history_release(&h);
	return 0;
}
