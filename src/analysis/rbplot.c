/*
 * rbplot.c — recall and p99 per runbook phase as an SVG (rbplot.h).
 *
 * The CSV is parsed line by line with sscanf into a fixed array (a runbook
 * has at most SPEC_PHASES_MAX phases). The chart is plain SVG text: an x
 * axis in seconds from the runbook's start, write phases as grey spans,
 * recall as a blue polyline with points (left axis, 0..1) and p99 as an
 * orange polyline (right axis, 0..max rounded up). No library: the format
 * is a few elements, written in one pass.
 */
#include "engrave/rbplot.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/store.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define RBP_MAX 64
#define W 720.0
#define H 360.0
#define L 60.0 /* margins */
#define R 70.0
#define T 40.0
#define B 50.0

struct rbp_row {
	char kind[16];
	double start, dur, p99, recall;
	int has_recall;
};

static size_t parse(const char *csv, size_t len, struct rbp_row *rows)
{
	size_t n = 0;
	const char *p = csv, *end = csv + len;
	p = memchr(p, '\n', (size_t)(end - p)); /* header */
	while (p && ++p < end && n < RBP_MAX) {
		char line[512];
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		snprintf(line, sizeof(line), "%.*s", (int)(l < sizeof(line) - 1 ? l : sizeof(line) - 1), p);
		struct rbp_row *r = &rows[n];
		char rec[32] = "";
		unsigned ph;
		int conc;
		double qps, p50;
		unsigned long long ops, errs;
		if (sscanf(line, "%u,%15[^,],%d,%lf,%lf,%llu,%llu,%lf,%lf,%lf,%31[^,]", &ph, r->kind, &conc, &r->start,
			   &r->dur, &ops, &errs, &qps, &p50, &r->p99, rec) >= 10) {
			r->has_recall = rec[0] && sscanf(rec, "%lf", &r->recall) == 1;
			n++;
		}
		p = nl;
	}
	return n;
}

static int axes(struct buf *o, double tmax, double pmax, const char *title, struct err *e)
{
	int rc = buf_printf(o, e,
			    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
			    "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
			    "<text x=\"%.0f\" y=\"22\" font-size=\"15\">%s</text>\n"
			    "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n"
			    "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n"
			    "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
			    W, H, L, title, L, H - B, W - R, H - B, L, T, L, H - B, W - R, T, W - R, H - B);
	for (int i = 0; !rc && i <= 4; i++) {
		double y = H - B - (H - T - B) * i / 4.0;
		rc = buf_printf(o, e,
				"<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" fill=\"#1f77b4\">%.2f</text>\n"
				"<text x=\"%.0f\" y=\"%.0f\" fill=\"#ff7f0e\">%.3g</text>\n"
				"<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%.3g</text>\n",
				L - 6, y + 4, i / 4.0, W - R + 6, y + 4, pmax * i / 4.0, L + (W - L - R) * i / 4.0, H - B + 16,
				tmax * i / 4.0);
	}
	return rc || buf_printf(o, e,
				"<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">seconds from the runbook's start</text>\n"
				"<text x=\"14\" y=\"%.0f\" fill=\"#1f77b4\" transform=\"rotate(-90 14 %.0f)\" "
				"text-anchor=\"middle\">recall@k</text>\n"
				"<text x=\"%.0f\" y=\"%.0f\" fill=\"#ff7f0e\" transform=\"rotate(90 %.0f %.0f)\" "
				"text-anchor=\"middle\">p99 latency (ms)</text>\n",
				(W + L - R) / 2, H - 12, (H + T - B) / 2, (H + T - B) / 2, W - 14, (H + T - B) / 2, W - 14,
				(H + T - B) / 2);
}

static int series(struct buf *o, const struct rbp_row *rows, size_t n, double tmax, double pmax, int p99,
		  struct err *e)
{
	const char *color = p99 ? "#ff7f0e" : "#1f77b4";
	int rc = buf_printf(o, e, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
	char pts[RBP_MAX][48];
	size_t m = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (strcmp(rows[i].kind, "search") || (!p99 && !rows[i].has_recall))
			continue;
		double x = L + (W - L - R) * (rows[i].start + rows[i].dur / 2) / tmax;
		double v = p99 ? rows[i].p99 / pmax : rows[i].recall;
		snprintf(pts[m++], sizeof(pts[0]), "%.1f,%.1f", x, H - B - (H - T - B) * v);
		rc = buf_printf(o, e, "%s ", pts[m - 1]);
	}
	rc = rc || buf_append_str(o, "\"/>\n", e);
	for (size_t i = 0; i < m && !rc; i++) {
		double x, y;
		sscanf(pts[i], "%lf,%lf", &x, &y);
		rc = buf_printf(o, e, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", x, y, color);
	}
	return rc;
}

int rbplot_svg(const char *csv, size_t len, const char *title, struct buf *out, struct err *e)
{
	struct rbp_row rows[RBP_MAX];
	size_t n = parse(csv, len, rows), searches = 0;
	double tmax = 0, pmax = 0;
	for (size_t i = 0; i < n; i++) {
		tmax = fmax(tmax, rows[i].start + rows[i].dur);
		if (!strcmp(rows[i].kind, "search"))
			searches++, pmax = fmax(pmax, rows[i].p99);
	}
	if (!searches)
		return err_set(e, ERR_INPUT, "rbplot: the runbook has no search phase to plot");
	tmax = tmax > 0 ? tmax : 1;
	if (pmax > 0) { /* the axis ends at the next round value: 1, 2, ... 10 times a power of ten */
		double mag = pow(10, floor(log10(pmax * 1.05)));
		pmax = ceil(pmax * 1.05 / mag) * mag;
	} else {
		pmax = 1;
	}
	int rc = axes(out, tmax, pmax, title, e);
	for (size_t i = 0; i < n && !rc; i++)
		if (strcmp(rows[i].kind, "search") && strcmp(rows[i].kind, "wait") && rows[i].dur > 0)
			rc = buf_printf(out, e,
					"<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" fill=\"#ddd\" opacity=\"0.6\"/>\n"
					"<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" fill=\"#666\">%s</text>\n",
					L + (W - L - R) * rows[i].start / tmax, T, fmax(1, (W - L - R) * rows[i].dur / tmax),
					H - T - B, L + (W - L - R) * rows[i].start / tmax + 2, T + 12, rows[i].kind);
	rc = rc || series(out, rows, n, tmax, pmax, 0, e) || series(out, rows, n, tmax, pmax, 1, e) ||
	     buf_append_str(out, "</svg>\n", e);
	return rc;
}

/* The runbook step's steps.csv of a run, into out. ERR_MISSING without one. */
int rbplot_run_csv(struct store *st, const struct run_record *run, struct buf *out, struct err *e)
{
	for (int i = 0; i < run->n_steps; i++) {
		if (strcmp(run->steps[i].name, "runbook") || run->steps[i].n_out < 1)
			continue;
		struct artifact a;
		if (artifact_get(st, &run->steps[i].out[0], &a, e))
			return -1;
		const struct digest *d = artifact_part(&a, "steps.csv");
		int rc = d ? obj_get(st, d, out, e) : err_set(e, ERR_CORRUPT, "run %s: runbook result has no steps.csv", run->id);
		artifact_release(&a);
		return rc;
	}
	err_set(e, ERR_MISSING, "run %s has no finished runbook step", run->id);
	return err_hint(e, "a spec with steps.runbook makes one; see experiments/runbook_*.yaml");
}
