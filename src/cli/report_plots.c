/*
 * report_plots.c — the report's plotted sections: ingest, latency and
 * timeline (reporthtml.h).
 *
 * ingest   the receipt's "window" part (steps.h INGEST_WINDOW_ROW: a row a
 *          second of the pump's adaptive window, its in-flight count and the
 *          attempts completed so far) as records/s and window over time,
 *          beside the run's ingest.* metrics and the verification verdict;
 * latency  latency by percentile on the HDR axis (svgplot_percentiles: x is
 *          log10(1/(1-p)), y log ms), one plot per operation, the baselines
 *          overlaid, and a table of the same percentiles;
 * timeline timeline.h's per-second buckets (by intended time): throughput,
 *          p50/p99, and errors, late and dropped sends.
 * The data comes from the analysis layer; this file only lays it out.
 */
#include "cli.h"
#include "html.h"
#include "reporthtml.h"
#include "engrave/buf.h"
#include "engrave/compare.h"
#include "engrave/runmetrics.h"
#include "engrave/stats.h"
#include "engrave/steps.h"
#include "engrave/svgplot.h"
#include "engrave/timeline.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A plot, or a line saying there was nothing to draw (ERR_INPUT: no point). */
static int plot_lines(struct buf *b, const struct svgplot_xy *p, struct err *e)
{
	struct buf svg;
	buf_init(&svg, 0);
	struct err pe = ERR_INIT;
	int rc = svgplot_lines(p, &svg, &pe);
	if (rc && pe.cls == ERR_INPUT)
		rc = report_none(b, pe.msg, e);
	else if (rc)
		*e = pe;
	else
		rc = html_svg(b, &svg, e);
	buf_release(&svg);
	return rc;
}

/* ---- ingest --------------------------------------------------------------- */

static uint64_t le_at(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The receipt's "window" rows; *n = 0 when it has none. */
static uint8_t *window_rows(struct store *st, const struct run_record *r, size_t *n, struct err *e)
{
	*n = 0;
	const struct digest *d = runmetrics_step_output(r, "ingest");
	struct artifact a;
	if (!d || artifact_get(st, d, &a, e))
		return NULL;
	const struct digest *wd = artifact_part(&a, "window");
	struct obj_reader *rd = NULL;
	uint8_t *rows = NULL;
	if (wd && !obj_reader_open(st, wd, &rd, e)) {
		uint64_t size = obj_reader_size(rd);
		rows = xalloc_try_array((size_t)size + 1, 1, "ingest window rows", e);
		if (rows && size && obj_read_at(rd, 0, rows, (size_t)size, e)) {
			free(rows);
			rows = NULL;
		}
		*n = rows ? (size_t)(size / INGEST_WINDOW_ROW) : 0;
		obj_reader_close(rd);
	}
	artifact_release(&a);
	return rows;
}

static int ingest_plots(struct buf *b, const uint8_t *rows, size_t n, double records, struct err *e)
{
	double *t = xcalloc(n, sizeof(double)), *rate = xcalloc(n, sizeof(double)), *win = xcalloc(n, sizeof(double)),
	       *minw = xcalloc(n, sizeof(double)), *infl = xcalloc(n, sizeof(double)); /* a row a second */
	double last = (double)le_at(rows + (n - 1) * INGEST_WINDOW_ROW + 16, 8);
	double per = last > 0 && isfinite(records) ? records / last : 1; /* records per attempt, on average */
	for (size_t i = 0; i < n; i++) {
		const uint8_t *r = rows + i * INGEST_WINDOW_ROW;
		t[i] = (double)le_at(r, 4) / 1000;
		win[i] = (double)le_at(r + 4, 2);
		minw[i] = (double)le_at(r + 6, 2);
		infl[i] = (double)le_at(r + 8, 2);
		double dt = i ? t[i] - t[i - 1] : t[i], dc = (double)le_at(r + 16, 8) - (i ? (double)le_at(r - INGEST_WINDOW_ROW + 16, 8) : 0);
		rate[i] = dt > 0 ? dc * per / dt : NAN;
	}
	struct svgplot_line rl = { "records/s (attempts x mean records per attempt)", t, rate, n };
	struct svgplot_xy rp = { "ingest: records per second", "seconds", "records/s", SVGPLOT_NUMBER, 0, &rl, 1 };
	struct svgplot_line wl[] = { { "window", t, win, n }, { "smallest window in the second", t, minw, n },
				     { "in flight", t, infl, n } };
	struct svgplot_xy wp = { "ingest: adaptive window", "seconds", "requests", SVGPLOT_NUMBER, 0, wl, 3 };
	int rc = plot_lines(b, &rp, e) || plot_lines(b, &wp, e);
	free(t);
	free(rate);
	free(win);
	free(minw);
	free(infl);
	return rc;
}

static int ingest_table(struct buf *b, const struct run_record *r, struct err *e)
{
	double lost = report_metric(r, "ingest.lost"), miss = report_metric(r, "ingest.sample_missing"),
	       bad = report_metric(r, "ingest.sample_mismatched");
	const char *verdict = !isfinite(lost) ? "MISSING: not verified"
			      : lost > 0 || miss > 0 || bad > 0 ? "FAILED: records lost, missing or changed"
							       : "verified: count and sampled read-back match";
	if (buf_append_str(b, "<p class=\"verify\">", e) || html_text(b, verdict, e) ||
	    buf_append_str(b, "</p>\n<table>\n<tr><th>metric</th><th>value</th></tr>\n", e))
		return -1;
	for (int i = 0; i < r->n_metrics; i++) {
		if (strncmp(r->metrics[i].key, "ingest.", 7))
			continue;
		char v[32];
		svgplot_format_num(r->metrics[i].value, v, sizeof(v));
		const char *cells[] = { r->metrics[i].key, v };
		if (html_row(b, e, 2, cells))
			return -1;
	}
	return buf_append_str(b, "</table>\n", e);
}

int report_sec_ingest(struct report_ctx *c, struct err *e)
{
	struct buf *b = c->out;
	if (html_section(b, "ingest", "Ingest", e))
		return -1;
	if (!runmetrics_step_output(c->run, "ingest"))
		return report_none(b, "the run has no finished ingest step", e) || html_section_end(b, e);
	size_t n = 0;
	err_clear(e);
	uint8_t *rows = window_rows(c->st, c->run, &n, e);
	if (!rows && e->cls != ERR_NONE)
		return -1;
	int rc = n ? ingest_plots(b, rows, n, report_metric(c->run, "ingest.records"), e)
		   : report_none(b, "no window series: this ingest did not go through the adaptive pump", e);
	free(rows);
	return rc || ingest_table(b, c->run, e) || html_section_end(b, e);
}

/* ---- latency -------------------------------------------------------------- */

static const char *const lat_ops[] = { "", "store_", "recall_", "search_" };

static int lat_row(struct buf *b, const char *who, const double *v, size_t n, struct err *e)
{
	static const double pct[] = { 50, 90, 99, 99.9, 100 };
	char cell[6][32], cnt[24];
	snprintf(cnt, sizeof(cnt), "%zu", n);
	const char *cells[7] = { who, cnt };
	for (int k = 0; k < 5; k++) {
		svgplot_format_ms(stats_percentile(v, n, pct[k]), cell[k], sizeof(cell[k]));
		cells[2 + k] = cell[k];
	}
	return html_row(b, e, 7, cells);
}

/* One operation: a series per loaded record set (the run and each baseline
 * that has its samples, or a sweep's phases), labels[i] naming cr[i]. */
static int lat_op(struct report_ctx *c, struct compare_recs **cr, const char *const *labels, size_t n_sets,
		  const char *op, const char *what, struct err *e)
{
	struct buf *b = c->out;
	struct svgplot_series *s = xcalloc(n_sets, sizeof(*s));
	double **v = xcalloc(n_sets, sizeof(*v));
	size_t ns = 0;
	char metric[32], title[400];
	snprintf(metric, sizeof(metric), "%smax_ms", op);
	int rc = 0;
	for (size_t i = 0; !rc && i < n_sets; i++) {
		size_t n = 0;
		if (!cr[i] || compare_recs_values(cr[i], metric, &v[i], &n, e) || !n)
			continue;
		s[ns++] = (struct svgplot_series){ labels[i], v[i], n };
	}
	if (ns && cr[0] && v[0]) {
		char opname[16];
		snprintf(opname, sizeof(opname), "%.*s", *op ? (int)strlen(op) - 1 : 14, *op ? op : "all operations");
		snprintf(title, sizeof(title), "%s latency by percentile%s: %s, run %s", opname, what,
			 c->run->spec_name, c->run->id);
		struct buf svg;
		buf_init(&svg, 0);
		rc = buf_printf(b, e, "<h3>%s</h3>\n", opname) || svgplot_percentiles(title, s, ns, &svg, e) ||
		     html_svg(b, &svg, e) ||
		     buf_append_str(b, "<table>\n<tr><th></th><th>requests</th><th>p50</th><th>p90</th><th>p99</th>"
				       "<th>p99.9</th><th>max</th></tr>\n", e);
		for (size_t k = 0; !rc && k < ns; k++)
			rc = lat_row(b, s[k].label, s[k].sorted, s[k].n, e);
		rc = rc || buf_append_str(b, "</table>\n", e);
		buf_release(&svg);
	}
	for (size_t i = 0; i < n_sets; i++)
		free(v[i]);
	free(v);
	free(s);
	return rc;
}

static const char LAT_INTRO[] = "<p>Latency from each request's intended send time (coordinated omission "
				"corrected), warm-up and drops excluded; both axes logarithmic.";

/* A sweep: one series per phase, named by the swept value. */
static int latency_sweep(struct report_ctx *c, struct compare_sweep *sw, struct err *e)
{
	char (*lab)[64] = xcalloc(sw->n, sizeof(*lab));
	const char **labels = xcalloc(sw->n, sizeof(*labels));
	for (size_t i = 0; i < sw->n; i++) {
		if (isnan(sw->value[i]))
			snprintf(lab[i], sizeof(lab[i]), "phase %zu", i);
		else
			snprintf(lab[i], sizeof(lab[i]), "%s %g", sw->kind, sw->value[i]);
		labels[i] = lab[i];
	}
	char what[64];
	snprintf(what, sizeof(what), " by %s", sw->kind);
	int rc = buf_printf(c->out, e, "%s One line per phase of the %s sweep; baselines are not overlaid on a "
			    "sweep.</p>\n", LAT_INTRO, sw->kind);
	for (size_t k = 0; !rc && k < sizeof(lat_ops) / sizeof(lat_ops[0]); k++)
		rc = lat_op(c, sw->phase, labels, sw->n, lat_ops[k], what, e);
	free(labels);
	free(lab);
	return rc;
}

int report_sec_latency(struct report_ctx *c, struct err *e)
{
	struct buf *b = c->out;
	if (html_section(b, "latency", "Latency by percentile", e))
		return -1;
	struct compare_recs *cr[REPORT_MAX_BASE + 1] = { 0 };
	if (!c->have_recs)
		return report_none(b, c->no_recs, e) || html_section_end(b, e);
	struct compare_sweep sw;
	struct err se = ERR_INIT;
	if (compare_sweep_load(c->st, c->run, &sw, &se) == 0) {
		int rc = latency_sweep(c, &sw, e);
		compare_sweep_free(&sw);
		return rc || html_section_end(b, e);
	}
	if (se.cls != ERR_MISSING) {
		*e = se;
		return -1;
	}
	int rc = compare_recs_load(c->st, c->run, &cr[0], e);
	for (int i = 0; !rc && i < c->n_base; i++) {
		struct err be = ERR_INIT; /* a baseline without records is drawn without its line */
		compare_recs_load(c->st, &c->base[i], &cr[i + 1], &be);
	}
	char rl[160];
	snprintf(rl, sizeof(rl), "run %s", c->run->id);
	const char *labels[REPORT_MAX_BASE + 1] = { rl };
	for (int i = 0; i < c->n_base; i++)
		labels[i + 1] = c->base_label[i];
	rc = rc || buf_printf(b, e, "%s</p>\n", LAT_INTRO);
	for (size_t k = 0; !rc && k < sizeof(lat_ops) / sizeof(lat_ops[0]); k++)
		rc = lat_op(c, cr, labels, (size_t)c->n_base + 1, lat_ops[k], "", e);
	for (int i = 0; i <= c->n_base; i++)
		compare_recs_free(cr[i]);
	return rc || html_section_end(b, e);
}

/* ---- timeline ------------------------------------------------------------- */

static int timeline_table(struct buf *b, const struct timeline *t, struct err *e)
{
	if (buf_append_str(b,
			   "<details><summary>per-second table</summary>\n<table>\n<tr><th>second</th><th>due</th>"
			   "<th>completed/s</th><th>p50</th><th>p99</th><th>errors</th><th>late</th><th>dropped</th>"
			   "<th>warm-up</th></tr>\n",
			   e))
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct timeline_bucket *x = &t->b[i];
		char c[9][32];
		snprintf(c[0], 32, "%.0f", x->t_s);
		snprintf(c[1], 32, "%llu", (unsigned long long)x->due);
		svgplot_format_num(x->throughput, c[2], 32);
		svgplot_format_ms(x->p50_ms, c[3], 32);
		svgplot_format_ms(x->p99_ms, c[4], 32);
		snprintf(c[5], 32, "%llu", (unsigned long long)x->errors);
		snprintf(c[6], 32, "%llu", (unsigned long long)x->late);
		snprintf(c[7], 32, "%llu", (unsigned long long)x->dropped);
		snprintf(c[8], 32, "%llu", (unsigned long long)x->warmup);
		const char *cells[] = { c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8] };
		if (html_row(b, e, 9, cells))
			return -1;
	}
	return buf_append_str(b, "</table>\n</details>\n", e);
}

static int timeline_plots(struct buf *b, const struct timeline *t, struct err *e)
{
	size_t n = t->n;
	double *v = xcalloc(n * 7, sizeof(double)); /* seconds of a run: small */
	double *x = v, *thr = v + n, *p50 = v + 2 * n, *p99 = v + 3 * n, *er = v + 4 * n, *late = v + 5 * n,
	       *drop = v + 6 * n;
	for (size_t i = 0; i < n; i++) {
		x[i] = t->b[i].t_s;
		thr[i] = t->b[i].throughput;
		p50[i] = t->b[i].p50_ms;
		p99[i] = t->b[i].p99_ms;
		er[i] = (double)t->b[i].errors;
		late[i] = (double)t->b[i].late;
		drop[i] = (double)t->b[i].dropped;
	}
	struct svgplot_line tl = { "completed per second (by intended time)", x, thr, n };
	struct svgplot_xy tp = { "throughput over time", "seconds after t0", "requests/s", SVGPLOT_NUMBER, 0, &tl, 1 };
	struct svgplot_line ll[] = { { "p50", x, p50, n }, { "p99", x, p99, n } };
	struct svgplot_xy lp = { "latency over time", "seconds after t0", "latency (log scale)", SVGPLOT_MS, 1, ll, 2 };
	struct svgplot_line el[] = { { "errors", x, er, n }, { "late sends", x, late, n }, { "dropped", x, drop, n } };
	struct svgplot_xy ep = { "errors, late and dropped sends per second", "seconds after t0", "requests",
				 SVGPLOT_NUMBER, 0, el, 3 };
	int rc = plot_lines(b, &tp, e) || plot_lines(b, &lp, e) || plot_lines(b, &ep, e);
	free(v);
	return rc;
}

int report_sec_timeline(struct report_ctx *c, struct err *e)
{
	struct buf *b = c->out;
	if (html_section(b, "timeline", "Timeline", e))
		return -1;
	if (!c->have_recs)
		return report_none(b, c->no_recs, e) || html_section_end(b, e);
	struct timeline t;
	if (timeline_from_records(c->rr.recs.v, c->rr.recs.n, &t, e))
		return -1;
	int rc = 0;
	if (!t.n)
		rc = report_none(b, "the load test recorded no request", e);
	else
		rc = buf_printf(b, e, "<p>Each request in the %g-second bucket of its intended send time; the first %g s "
				      "are warm-up (counted here, not in the metrics).</p>\n",
				t.bucket_s, (double)c->rr.warmup_ns / 1e9) ||
		     timeline_plots(b, &t, e) || timeline_table(b, &t, e);
	timeline_release(&t);
	return rc || html_section_end(b, e);
}
