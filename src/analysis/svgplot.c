/*
 * svgplot.c — SVG percentile and trend plots, written by hand (svgplot.h).
 *
 * Layout: an 860x500 canvas, a plot area with fixed margins, axes with
 * "nice" linear ticks (1, 2, 5 x 10^k) for values, and for the percentile
 * plot ticks at 0%, 90%, 99%, ... on the log10(1/(1-p)) axis. Each series
 * is sampled at 400 x positions up to log10(n) (past that the nearest-rank
 * percentile is the maximum). Coordinates are printed with one decimal so
 * the output is byte-stable. Text goes through xml_text(), which escapes
 * the five XML specials.
 */
#include "engrave/svgplot.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/stats.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define W 860
#define H 500
#define ML 80
#define MR 200
#define MT 50
#define MB 70
#define PW (W - ML - MR)
#define PH (H - MT - MB)

static const char *const palette[] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
				       "#8c564b", "#e377c2", "#7f7f7f" };

static int xml_text(struct buf *b, const char *s, struct err *e)
{
	for (; s && *s; s++) {
		const char *r = NULL;
		switch (*s) {
		case '<': r = "&lt;"; break;
		case '>': r = "&gt;"; break;
		case '&': r = "&amp;"; break;
		case '"': r = "&quot;"; break;
		case '\'': r = "&apos;"; break;
		}
		if (r ? buf_append_str(b, r, e) : buf_append(b, s, 1, e))
			return -1;
	}
	return 0;
}

static double nice_step(double range, int ticks)
{
	if (!(range > 0))
		return 1;
	double raw = range / ticks, mag = pow(10, floor(log10(raw))), f = raw / mag;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static int open_doc(struct buf *b, const char *title, struct err *e)
{
	if (buf_printf(b, e,
		       "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		       "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
		       "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		       "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
		       "<text x=\"%d\" y=\"28\" font-size=\"16\" text-anchor=\"middle\">",
		       W, H, W, H, W, H, ML + PW / 2) ||
	    xml_text(b, title, e) || buf_printf(b, e, "</text>\n"))
		return -1;
	return buf_printf(b, e, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
			  ML, MT, PW, PH);
}

/* Horizontal grid and labels for y in [y0, y1]. */
static int y_axis(struct buf *b, double y0, double y1, const char *label, struct err *e)
{
	double st = nice_step(y1 - y0, 6);
	for (double v = ceil(y0 / st) * st; v <= y1 + st * 1e-9; v += st) {
		double py = MT + PH - (v - y0) / (y1 - y0) * PH;
		if (buf_printf(b, e,
			       "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
			       "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
			       ML, py, ML + PW, py, ML - 6, py + 4, fabs(v) < st * 1e-9 ? 0.0 : v))
			return -1;
	}
	if (buf_printf(b, e, "<text x=\"18\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 18 %d)\">", MT + PH / 2,
		       MT + PH / 2) ||
	    xml_text(b, label, e))
		return -1;
	return buf_printf(b, e, "</text>\n");
}

int svgplot_percentiles(const char *title, const struct svgplot_series *s, size_t ns, struct buf *out,
			struct err *e)
{
	size_t nmax = 0;
	double ymax = 0;
	for (size_t i = 0; i < ns; i++) {
		if (s[i].n > nmax)
			nmax = s[i].n;
		if (s[i].n && s[i].sorted[s[i].n - 1] > ymax)
			ymax = s[i].sorted[s[i].n - 1];
	}
	if (!nmax)
		return err_set(e, ERR_INPUT, "percentile plot: no samples to draw");
	double xmax = ceil(log10((double)nmax));
	if (xmax < 2)
		xmax = 2;
	if (xmax > 6)
		xmax = 6;
	if (!(ymax > 0))
		ymax = 1;
	ymax *= 1.05;
	if (open_doc(out, title, e) || y_axis(out, 0, ymax, "latency (ms)", e))
		return -1;
	static const char *const xl[] = { "0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%" };
	for (int k = 0; k <= (int)xmax; k++) {
		double px = ML + k / xmax * PW;
		if (buf_printf(out, e,
			       "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n"
			       "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			       px, MT, px, MT + PH, px, MT + PH + 18, xl[k]))
			return -1;
	}
	if (buf_printf(out, e, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">percentile (log scale of 1/(1-p))</text>\n",
		       ML + PW / 2, MT + PH + 44))
		return -1;
	for (size_t i = 0; i < ns; i++) {
		const char *col = palette[i % (sizeof(palette) / sizeof(palette[0]))];
		if (!s[i].n)
			continue;
		double xs = log10((double)s[i].n);
		if (xs > xmax)
			xs = xmax;
		if (buf_printf(out, e, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col))
			return -1;
		for (int k = 0; k <= 400; k++) {
			double x = xs * k / 400.0, p = 100.0 * (1.0 - pow(10, -x));
			double v = k == 0 ? s[i].sorted[0] : stats_percentile(s[i].sorted, s[i].n, p > 0 ? p : 1e-9);
			if (buf_printf(out, e, "%s%.1f,%.1f", k ? " " : "", ML + x / xmax * PW, MT + PH - v / ymax * PH))
				return -1;
		}
		double ly = MT + 10 + 36.0 * (double)i;
		char stat[96];
		snprintf(stat, sizeof(stat), "p50 %.3g  p99 %.3g  max %.3g ms", stats_percentile(s[i].sorted, s[i].n, 50),
			 stats_percentile(s[i].sorted, s[i].n, 99), s[i].sorted[s[i].n - 1]);
		if (buf_printf(out, e,
			       "\"/>\n<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>\n"
			       "<text x=\"%d\" y=\"%.1f\" font-size=\"11\">",
			       ML + PW + 10, ly, ML + PW + 28, ly, col, ML + PW + 32, ly + 4) ||
		    xml_text(out, s[i].label, e) ||
		    buf_printf(out, e, "</text>\n<text x=\"%d\" y=\"%.1f\" font-size=\"10\" fill=\"#555\">%s</text>\n",
			       ML + PW + 32, ly + 18, stat))
			return -1;
	}
	return buf_printf(out, e, "</svg>\n");
}

int svgplot_trend(const struct svgplot_trend *t, struct buf *out, struct err *e)
{
	if (!t->n)
		return err_set(e, ERR_INPUT, "trend plot: no points to draw");
	double lo = t->y[0], hi = t->y[0];
	for (size_t i = 1; i < t->n; i++) {
		if (t->y[i] < lo)
			lo = t->y[i];
		if (t->y[i] > hi)
			hi = t->y[i];
	}
	double pad = (hi - lo) * 0.1;
	if (!(pad > 0))
		pad = fabs(hi) > 0 ? fabs(hi) * 0.1 : 1;
	int nonneg = lo >= 0;
	lo -= pad;
	hi += pad;
	if (nonneg && lo < 0)
		lo = 0; /* latencies and rates never go below zero */
	if (open_doc(out, t->title, e) || y_axis(out, lo, hi, t->ylabel, e))
		return -1;
	double dx = t->n > 1 ? (double)PW / (double)(t->n - 1) : 0;
	for (size_t k = 0; k < t->n_marks; k++) {
		size_t i = t->marks[k];
		if (i >= t->n)
			continue;
		double px = ML + dx * ((double)i - 0.5);
		if (buf_printf(out, e,
			       "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#d62728\" "
			       "stroke-dasharray=\"4 3\"/>\n<text x=\"%.1f\" y=\"%d\" fill=\"#d62728\" font-size=\"10\">step at ",
			       px, MT, px, MT + PH, px + 3, MT + 12 + 12 * (int)(k % 3)) ||
		    xml_text(out, t->labels ? t->labels[i] : "", e) || buf_printf(out, e, "</text>\n"))
			return -1;
	}
	if (buf_printf(out, e, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\""))
		return -1;
	for (size_t i = 0; i < t->n; i++)
		if (buf_printf(out, e, "%s%.1f,%.1f", i ? " " : "", t->n > 1 ? ML + dx * (double)i : ML + PW / 2.0,
			       MT + PH - (t->y[i] - lo) / (hi - lo) * PH))
			return -1;
	if (buf_printf(out, e, "\"/>\n"))
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		double px = t->n > 1 ? ML + dx * (double)i : ML + PW / 2.0, py = MT + PH - (t->y[i] - lo) / (hi - lo) * PH;
		if (buf_printf(out, e, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#1f77b4\"><title>", px, py) ||
		    xml_text(out, t->labels ? t->labels[i] : "", e) ||
		    buf_printf(out, e, ": %g</title></circle>\n", t->y[i]))
			return -1;
	}
	/* first and last run ids under the axis */
	if (t->labels) {
		if (buf_printf(out, e, "<text x=\"%d\" y=\"%d\" font-size=\"10\">", ML, MT + PH + 18) ||
		    xml_text(out, t->labels[0], e) ||
		    buf_printf(out, e, "</text>\n<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">", ML + PW,
			       MT + PH + 18) ||
		    xml_text(out, t->labels[t->n - 1], e) || buf_printf(out, e, "</text>\n"))
			return -1;
	}
	if (buf_printf(out, e, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">runs in time order (%zu)</text>\n",
		       ML + PW / 2, MT + PH + 44, t->n))
		return -1;
	return buf_printf(out, e, "</svg>\n");
}
