/*
 * reporthtml.c — `engrave report RUN [--baseline REF|RUN ...] [-o FILE.html]`
 * and `engrave report --history SPEC [--metric M ...] -o FILE.html`.
 *
 * One self-contained HTML file: inline CSS and SVG (svgplot.h), no script,
 * nothing fetched, so it opens from a CI artifact or an e-mail. The page is
 * built in memory and written at the end (a failure leaves no half file);
 * it holds nothing but the run's own data, so the same run gives the same
 * bytes. Sections, in order, each <section id=...>: spec, environment,
 * steps, ingest, latency, timeline, recall, errors, verdicts (reporthtml.h
 * has who writes which). Runs and baselines are named by id, unique id
 * prefix, or baseline ref; without --baseline the spec's checks.baseline
 * ref is used when it exists. --history draws each metric over a spec's
 * runs with the steps `engrave history` finds.
 */
#include "cli.h"
#include "html.h"
#include "report.h"
#include "reporthtml.h"
#include "engrave/buf.h"
#include "engrave/compare.h"
#include "engrave/history.h"
#include "engrave/spec.h"
#include "engrave/svgplot.h"
#include "engrave/target.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char css[] =
	"<style>\n"
	"body{font-family:'DejaVu Sans',sans-serif;margin:2em auto;max-width:1100px;color:#222;font-size:14px}\n"
	"h1{font-size:22px}h2{border-bottom:2px solid #1f77b4;padding-bottom:4px;margin-top:2em}\n"
	"table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
	"text-align:left;vertical-align:top}\n"
	"th{background:#f0f4f8}td.num{text-align:right;white-space:nowrap}table.kv td:first-child{font-weight:bold}\n"
	"tr.bad td{background:#fde0e0}tr.missing td{background:#fff4d0}\n"
	"pre{background:#f6f6f6;padding:8px;overflow-x:auto}p.none{color:#777;font-style:italic}\n"
	"figure{margin:0.5em 0}figure svg{max-width:100%;height:auto}nav a{margin-right:1em}\n"
	"</style>\n";

static const char *const sections[] = { "spec", "environment", "steps", "ingest", "latency",
					"timeline", "recall", "runbook", "errors", "verdicts" };
#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

static int write_file(const char *path, const struct buf *b, struct err *e)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!f)
		return err_set_errno(e, ERR_IO, errno, "cannot open '%s'", path);
	int bad = fwrite(b->data, 1, b->len, f) != b->len;
	if (f != stdout)
		bad |= fclose(f) != 0;
	return bad ? err_set_errno(e, ERR_IO, errno, "cannot write '%s'", path) : 0;
}

static int page_open(struct buf *b, const char *title, struct err *e)
{
	return buf_append_str(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", e) ||
	       html_text(b, title, e) || buf_append_str(b, "</title>\n", e) || buf_append_str(b, css, e) ||
	       buf_append_str(b, "</head>\n<body>\n<h1>", e) || html_text(b, title, e) ||
	       buf_append_str(b, "</h1>\n", e);
}

/* RUN: an id, a unique prefix, or a baseline ref. */
static int find_any(struct store *st, const char *name, struct run_record *out, struct err *e)
{
	struct err be = ERR_INIT;
	if (!compare_find_baseline(st, name, out, &be))
		return 0;
	return compare_find_run(st, name, out, e);
}

static int load_baselines(struct report_ctx *c, const struct cli_list *names, struct err *e)
{
	const char *def = NULL;
	if (!names->n && c->sp && c->sp->baseline.present && c->sp->baseline.ref)
		def = c->sp->baseline.ref;
	if (!names->n && !def) {
		snprintf(c->base_note, sizeof(c->base_note), "no baseline: none named and the spec has no checks.baseline ref");
		return 0;
	}
	for (int i = 0; i < (def ? 1 : names->n) && c->n_base < REPORT_MAX_BASE; i++) {
		const char *n = def ? def : names->items[i];
		struct run_record *r = &c->base[c->n_base];
		struct err be = ERR_INIT;
		char id[sizeof(r->id)];
		if (!compare_find_baseline(c->st, n, r, &be)) {
			memcpy(id, r->id, sizeof(id));
			snprintf(c->base_label[c->n_base++], sizeof(c->base_label[0]), "baseline %.60s: %s", n, id);
			continue;
		}
		if (def) { /* the spec's default may not exist yet: say so, no error */
			snprintf(c->base_note, sizeof(c->base_note), "no baseline: the spec's checks.baseline ref '%.60s' is not set (%.100s)",
				 n, be.msg);
			return 0;
		}
		if (compare_find_run(c->st, n, r, e))
			return -1;
		memcpy(id, r->id, sizeof(id));
		snprintf(c->base_label[c->n_base++], sizeof(c->base_label[0]), "run %s", id);
	}
	return 0;
}

static int run_page(struct report_ctx *c, struct err *e)
{
	static int (*const writers[])(struct report_ctx *, struct err *) = {
		report_sec_spec, report_sec_env, report_sec_steps, report_sec_ingest, report_sec_latency,
		report_sec_timeline, report_sec_recall, report_sec_runbook, report_sec_errors, report_sec_verdicts,
	};
	char title[256];
	snprintf(title, sizeof(title), "engrave report: %s, run %s", c->run->spec_name, c->run->id);
	struct buf *b = c->out;
	const char *created = json_string_value(json_object_get(c->j, "created"));
	if (page_open(b, title, e) || buf_append_str(b, "<p>status <b>", e) || html_text(b, c->run->status, e) ||
	    buf_append_str(b, "</b>, started ", e) || html_text(b, created, e) || buf_append_str(b, "</p>\n<nav>", e))
		return -1;
	for (size_t i = 0; i < N_SECTIONS; i++)
		if (buf_printf(b, e, "<a href=\"#%s\">%s</a>", sections[i], sections[i]))
			return -1;
	if (buf_append_str(b, "</nav>\n", e))
		return -1;
	for (size_t i = 0; i < N_SECTIONS; i++)
		if (writers[i](c, e))
			return err_prefix(e, "report section %s", sections[i]);
	return buf_append_str(b, "</body>\n</html>\n", e);
}

static int history_metric(struct buf *b, struct store *st, const char *spec, const char *metric, int required,
			  struct err *e)
{
	struct history h;
	struct history_opts o = { 0, 0.05, 0 };
	if (history_collect(st, spec, metric, &o, &h, e))
		return -1;
	int rc = 0;
	if (!h.n) {
		rc = required ? report_none(b, "no finished run of this spec has this metric", e) : 0;
		history_release(&h);
		return rc;
	}
	struct buf svg;
	buf_init(&svg, 0);
	rc = buf_append_str(b, "<h3>", e) || html_text(b, metric, e) || buf_append_str(b, "</h3>\n", e) ||
	     svgplot_history(spec, metric, &h, &svg, e) || html_svg(b, &svg, e);
	for (size_t i = 0; !rc && i < h.n_steps; i++) {
		char line[256];
		snprintf(line, sizeof(line), "step at run %s (after %s): %.4g -> %.4g", h.steps[i].run_id,
			 h.steps[i].prev_id, h.steps[i].s.before, h.steps[i].s.after);
		rc = html_elem(b, "p", line, e);
	}
	buf_release(&svg);
	history_release(&h);
	return rc;
}

static int history_page(struct store *st, const char *spec, const struct cli_list *metrics, struct buf *b,
			struct err *e)
{
	static const char *const defaults[] = { "p50_ms", "p99_ms", "throughput", "recall" };
	char title[256];
	snprintf(title, sizeof(title), "engrave history report: %s", spec);
	if (page_open(b, title, e) || html_section(b, "history", "History", e))
		return -1;
	int n = metrics->n ? metrics->n : 4;
	for (int i = 0; i < n; i++)
		if (history_metric(b, st, spec, metrics->n ? metrics->items[i] : defaults[i], metrics->n || i < 3, e))
			return -1;
	return html_section_end(b, e) || buf_append_str(b, "</body>\n</html>\n", e);
}

static int report_one(struct cli_ctx *ctx, const char *name, const struct cli_list *bases, struct buf *b,
		      struct report_ctx *c, struct err *e)
{
	struct run_record run;
	struct spec *sp = NULL;
	if (find_any(ctx->store, name, &run, e))
		return -1;
	memset(c, 0, sizeof(*c));
	c->st = ctx->store;
	c->run = &run;
	c->out = b;
	snprintf(c->run_id, sizeof(c->run_id), "%s", run.id);
	struct err se = ERR_INIT; /* a stored spec that no longer loads: no checks, still a report */
	if (run.spec_text && target_spec_load_stored(run.spec_text, strlen(run.spec_text), run.id, &sp, &se))
		sp = NULL;
	c->sp = sp;
	c->j = report_run_json(&run, sp);
	struct err re = ERR_INIT;
	c->have_recs = !runrecs_load(ctx->store, &run, &c->rr, &re);
	if (!c->have_recs)
		snprintf(c->no_recs, sizeof(c->no_recs), "no request records: %.200s", re.msg);
	int rc = load_baselines(c, bases, e) || run_page(c, e);
	for (int i = 0; i < c->n_base; i++)
		run_record_release(&c->base[i]);
	runrecs_release(&c->rr);
	json_decref(c->j);
	spec_free(sp);
	run_record_release(&run);
	c->run = NULL;
	return rc;
}

int cmd_report(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *outp = "report.html", *hist = NULL;
	int json = 0;
	struct cli_list bases = { { 0 }, 0 }, metrics = { { 0 }, 0 };
	static const struct cli_help help = {
		"report",
		"engrave report RUN [--baseline REF|RUN ...] [-o FILE.html] [--json]\n"
		"engrave report --history SPEC [--metric M ...] -o FILE.html",
		"Write one self-contained HTML report of a run (or of a spec's history).",
		"The report is a single file with inline SVG plots and CSS, no script and nothing\n"
		"fetched. Sections: spec (name, digest, text, overrides), environment, steps\n"
		"(state, time, artifact digests), ingest (records/s and the adaptive window over\n"
		"time, retries, timeouts, window cuts, verification), latency (by percentile on an\n"
		"HDR axis, per operation, baselines overlaid), timeline (per second: throughput, p50,\n"
		"p99, errors, late and dropped sends), recall, errors (by op, status and class with\n"
		"the first message of each group) and verdicts (the `engrave check` engine against\n"
		"each baseline: change, 95% CI, noise floor; MISSING where data is missing).\n"
		"RUN and baselines are run ids, unique id prefixes or baseline refs; without\n"
		"--baseline the spec's checks.baseline ref is used when it exists. The same run\n"
		"gives the same file. --history SPEC plots each metric (default p50_ms, p99_ms,\n"
		"throughput and recall when measured) over the spec's finished runs with the steps\n"
		"'engrave history' finds marked. -o - writes to stdout.\n\n"
		"exit codes: 0 written, 2 usage, 3 missing run, baseline or runs, 4 cannot write",
	};
	const struct cli_opt opts[] = {
		{ "output", 'o', OPT_STRING, &outp, "FILE", "the HTML file to write (default report.html)" },
		{ "baseline", 'b', OPT_LIST, &bases, "REF|RUN", "compare against this baseline (repeatable, at most 4)" },
		{ "history", 0, OPT_STRING, &hist, "SPEC", "a history report of this spec's runs" },
		{ "metric", 'm', OPT_LIST, &metrics, "M", "with --history: a metric to plot (repeatable)" },
		{ "json", 0, OPT_FLAG, &json, NULL, "print what was written as JSON" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (hist ? argc != pos || bases.n : argc - pos != 1)
		return cli_usage_error(&help, hist ? "--history takes a SPEC name and no RUN or --baseline" : "expected one RUN");
	if (!hist && metrics.n)
		return cli_usage_error(&help, "--metric goes with --history");
	if (bases.n > REPORT_MAX_BASE)
		return cli_usage_error(&help, "at most %d baselines", REPORT_MAX_BASE);
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct err e = ERR_INIT;
	struct buf b;
	buf_init(&b, 0);
	struct report_ctx c;
	memset(&c, 0, sizeof(c));
	rc = hist ? history_page(ctx->store, hist, &metrics, &b, &e) : report_one(ctx, argv[pos], &bases, &b, &c, &e);
	if (!rc)
		rc = write_file(outp, &b, &e);
	if (!rc && json) {
		json_t *o = json_pack("{s:s, s:s, s:I}", "file", outp, hist ? "spec" : "run", hist ? hist : c.run_id,
				      "bytes", (json_int_t)b.len);
		json_t *bl = json_array(), *secs = json_array();
		for (int i = 0; i < c.n_base; i++)
			json_array_append_new(bl, json_string(c.base_label[i]));
		for (size_t i = 0; !hist && i < N_SECTIONS; i++)
			json_array_append_new(secs, json_string(sections[i]));
		json_object_set_new(o, "baselines", bl);
		json_object_set_new(o, "sections", hist ? json_pack("[s]", "history") : secs);
		report_print_json(o);
	} else if (!rc && strcmp(outp, "-")) {
		printf("wrote %s\n", outp);
	}
	buf_release(&b);
	return rc ? cli_fail(&e) : 0;
}
