/*
 * svgplot.c — SVG percentile, line and trend plots, written by hand (svgplot.h).
 *
 * Layout: an 860x500 canvas, a plot area with fixed margins and a frame
 * (struct frame) that maps data to pixels on each axis, linear or
 * logarithmic. Linear ticks are "nice" steps (1, 2, 5 x 10^k); logarithmic
 * ones sit at 1, 2 and 5 x 10^k over whole decades (powers of ten alone
 * past four decades), so tick positions are log-spaced and their labels
 * round. Tick and legend numbers go through svgplot_format_ms / _num: no
 * exponents ("1.03e+03" read as noise to users).
 *
 * The legend is a box in the plot's top-left corner, as wide as its
 * longest text (estimated at LEGEND_CHAR_W px a character, wide enough for
 * DejaVu Sans) and never wider than the plot: a label that does not fit is
 * cut with "...". The percentile plot samples each series at 400 x
 * positions up to log10(n) (past that the nearest-rank percentile is the
 * maximum). Coordinates are printed with one decimal so the output is
 * byte-stable; text goes through xml_text(), which escapes the five XML
 * specials.
 */
#include "engrave/svgplot.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/history.h"
#include "engrave/stats.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W SVGPLOT_WIDTH
#define H SVGPLOT_HEIGHT
#define ML 80
#define MR 30
#define MT 50
#define MB 70
#define PW (W - ML - MR)
#define PH (H - MT - MB)
#define LEGEND_CHAR_W 7.0 /* px per character at font-size 11 (DejaVu Sans averages ~6.5) */
#define LEGEND_MAX 8

static const char *const palette[] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
				       "#8c564b", "#e377c2", "#7f7f7f" };
#define PALETTE_N (sizeof(palette) / sizeof(palette[0]))

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

void svgplot_format_ms(double ms, char *out, size_t cap)
{
	double a = fabs(ms);
	if (!isfinite(ms))
		snprintf(out, cap, "-");
	else if (a >= 1000)
		snprintf(out, cap, a >= 100000 ? "%.0f s" : a >= 10000 ? "%.1f s" : "%.2f s", ms / 1000);
	else if (a >= 100 || a == 0)
		snprintf(out, cap, "%.0f ms", ms);
	else if (a >= 10)
		snprintf(out, cap, "%.1f ms", ms);
	else if (a >= 1)
		snprintf(out, cap, "%.2f ms", ms);
	else
		snprintf(out, cap, "%.3g ms", ms);
}

void svgplot_format_num(double v, char *out, size_t cap)
{
	double a = fabs(v);
	if (!isfinite(v))
		snprintf(out, cap, "-");
	else if (a >= 1e9)
		snprintf(out, cap, "%.3gG", v / 1e9);
	else if (a >= 1e6)
		snprintf(out, cap, "%.3gM", v / 1e6);
	else if (a >= 1e4)
		snprintf(out, cap, "%.3gk", v / 1e3);
	else if (a >= 100 || a == floor(a))
		snprintf(out, cap, "%.0f", v);
	else if (a >= 1)
		snprintf(out, cap, "%.3g", v);
	else
		snprintf(out, cap, "%.2g", v);
}

static void format_tick(double v, enum svgplot_unit u, char *out, size_t cap)
{
	if (u == SVGPLOT_MS && v >= 1000)
		snprintf(out, cap, "%g s", v / 1000); /* ticks are round: "1 s", "2 s", "20 s" */
	else if (u == SVGPLOT_MS)
		snprintf(out, cap, "%g ms", v);
	else
		svgplot_format_num(v, out, cap);
}

/* ---- frame: data to pixels ------------------------------------------------ */

struct frame {
	double x0, x1, y0, y1;
	int log_y;
};

static double px_x(const struct frame *f, double x)
{
	return ML + (f->x1 > f->x0 ? (x - f->x0) / (f->x1 - f->x0) : 0.5) * PW;
}

static double px_y(const struct frame *f, double y)
{
	double t = f->log_y ? (log10(y) - log10(f->y0)) / (log10(f->y1) - log10(f->y0)) : (y - f->y0) / (f->y1 - f->y0);
	return MT + PH - t * PH;
}

/* Whole decades around [lo, hi] (both > 0). */
static void log_range(double lo, double hi, double *y0, double *y1)
{
	*y0 = pow(10, floor(log10(lo) + 1e-9));
	*y1 = pow(10, ceil(log10(hi) - 1e-9));
	if (*y1 <= *y0)
		*y1 = *y0 * 10;
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
		       "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"12\">\n"
		       "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
		       "<text x=\"%d\" y=\"28\" font-size=\"16\" text-anchor=\"middle\">",
		       W, H, W, H, W, H, ML + PW / 2) ||
	    xml_text(b, title, e) || buf_printf(b, e, "</text>\n"))
		return -1;
	return buf_printf(b, e, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
			  ML, MT, PW, PH);
}

static int y_tick(struct buf *b, double py, const char *label, struct err *e)
{
	return buf_printf(b, e,
			  "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
			  "<text class=\"ytick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			  ML, py, ML + PW, py, ML - 6, py + 4, label);
}

/* Grid, tick labels and the axis title for y over the frame's range. */
static int y_axis(struct buf *b, const struct frame *f, enum svgplot_unit u, const char *label, struct err *e)
{
	char t[32];
	if (f->log_y) {
		static const double m125[] = { 1, 2, 5 };
		int decades = (int)lround(log10(f->y1 / f->y0)), nm = decades <= 4 ? 3 : 1;
		for (double d = f->y0; d <= f->y1 * (1 + 1e-9); d *= 10)
			for (int k = 0; k < nm; k++) {
				double v = d * m125[k];
				if (v > f->y1 * (1 + 1e-9))
					break;
				format_tick(v, u, t, sizeof(t));
				if (y_tick(b, px_y(f, v), t, e))
					return -1;
			}
	} else {
		double st = nice_step(f->y1 - f->y0, 6);
		for (double v = ceil(f->y0 / st) * st; v <= f->y1 + st * 1e-9; v += st) {
			format_tick(fabs(v) < st * 1e-9 ? 0.0 : v, u, t, sizeof(t));
			if (y_tick(b, px_y(f, v), t, e))
				return -1;
		}
	}
	if (buf_printf(b, e, "<text x=\"18\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 18 %d)\">", MT + PH / 2,
		       MT + PH / 2) ||
	    xml_text(b, label, e))
		return -1;
	return buf_printf(b, e, "</text>\n");
}

/* ---- legend ---------------------------------------------------------------- */

struct legend_entry {
	const char *label, *color;
	char sub[96]; /* a second, smaller line ("" none) */
};

/* Text cut to at most `max` characters ("..." ending), into out. */
static const char *fit(const char *s, size_t max, char *out, size_t cap)
{
	size_t n = strlen(s);
	if (n <= max || max < 4 || max + 1 > cap)
		return s;
	size_t k = max - 3;
	while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--; /* do not cut a UTF-8 sequence */
	snprintf(out, cap, "%.*s...", (int)k, s);
	return out;
}

static int legend(struct buf *b, const struct legend_entry *le, size_t n, struct err *e)
{
	if (!n)
		return 0;
	size_t chars = 0;
	int subs = 0;
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(le[i].label), c = (size_t)(strlen(le[i].sub) * 10.0 / 11.0) + 1;
		chars = a > chars ? a : chars;
		chars = c > chars ? c : chars;
		subs |= le[i].sub[0] != 0;
	}
	double inner = PW - 16 - 40; /* the box's room for text: plot width less margins and the swatch */
	size_t maxch = (size_t)(inner / LEGEND_CHAR_W);
	if (chars > maxch)
		chars = maxch;
	double bw = 40 + chars * LEGEND_CHAR_W, row = subs ? 30 : 17, bh = 8 + row * (double)n;
	double x = ML + 8, y = MT + 8;
	if (buf_printf(b, e,
		       "<rect class=\"legend\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" "
		       "fill-opacity=\"0.9\" stroke=\"#999\"/>\n",
		       x, y, bw, bh))
		return -1;
	for (size_t i = 0; i < n; i++) {
		char cut[256];
		double ly = y + 14 + row * (double)i;
		if (buf_printf(b, e,
			       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>\n"
			       "<text class=\"legend-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\">",
			       x + 8, ly - 4, x + 28, ly - 4, le[i].color, x + 34, ly) ||
		    xml_text(b, fit(le[i].label, chars, cut, sizeof(cut)), e) || buf_printf(b, e, "</text>\n"))
			return -1;
		if (le[i].sub[0] && (buf_printf(b, e, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#555\">", x + 34,
						ly + 13) ||
				     xml_text(b, fit(le[i].sub, chars * 11 / 10, cut, sizeof(cut)), e) ||
				     buf_printf(b, e, "</text>\n")))
			return -1;
	}
	return 0;
}

/* ---- percentile plot -------------------------------------------------------- */

static int percentile_line(struct buf *out, const struct frame *f, const struct svgplot_series *s, const char *col,
			   struct err *e)
{
	double xs = log10((double)s->n);
	if (xs > f->x1)
		xs = f->x1;
	if (buf_printf(out, e, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col))
		return -1;
	for (int k = 0; k <= 400; k++) {
		double x = xs * k / 400.0, p = 100.0 * (1.0 - pow(10, -x));
		double v = k == 0 ? s->sorted[0] : stats_percentile(s->sorted, s->n, p > 0 ? p : 1e-9);
		if (v < f->y0)
			v = f->y0; /* a zero latency sits on the axis */
		if (buf_printf(out, e, "%s%.1f,%.1f", k ? " " : "", px_x(f, x), px_y(f, v)))
			return -1;
	}
	return buf_printf(out, e, "\"/>\n");
}

int svgplot_percentiles(const char *title, const struct svgplot_series *s, size_t ns, struct buf *out,
			struct err *e)
{
	size_t nmax = 0;
	double ymax = 0, ymin = INFINITY;
	for (size_t i = 0; i < ns; i++) {
		if (s[i].n > nmax)
			nmax = s[i].n;
		for (size_t k = 0; k < s[i].n; k++)
			if (s[i].sorted[k] > 0) {
				ymin = s[i].sorted[k] < ymin ? s[i].sorted[k] : ymin;
				break;
			}
		if (s[i].n && s[i].sorted[s[i].n - 1] > ymax)
			ymax = s[i].sorted[s[i].n - 1];
	}
	if (!nmax)
		return err_set(e, ERR_INPUT, "percentile plot: no samples to draw");
	if (!(ymax > 0))
		ymax = ymin = 1;
	struct frame f = { 0, ceil(log10((double)nmax)), 0, 0, 1 };
	f.x1 = f.x1 < 2 ? 2 : f.x1 > 6 ? 6 : f.x1;
	log_range(ymin, ymax, &f.y0, &f.y1);
	if (open_doc(out, title, e) || y_axis(out, &f, SVGPLOT_MS, "latency (log scale)", e))
		return -1;
	static const char *const xl[] = { "0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%" };
	for (int k = 0; k <= (int)f.x1; k++) {
		double px = px_x(&f, k);
		if (buf_printf(out, e,
			       "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n"
			       "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			       px, MT, px, MT + PH, px, MT + PH + 18, xl[k]))
			return -1;
	}
	if (buf_printf(out, e, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">percentile (log scale of 1/(1-p))</text>\n",
		       ML + PW / 2, MT + PH + 44))
		return -1;
	struct legend_entry le[LEGEND_MAX];
	size_t nl = 0;
	for (size_t i = 0; i < ns; i++) {
		const char *col = palette[i % PALETTE_N];
		if (!s[i].n)
			continue;
		if (percentile_line(out, &f, &s[i], col, e))
			return -1;
		if (nl == LEGEND_MAX)
			continue;
		char p50[24], p99[24], mx[24];
		svgplot_format_ms(stats_percentile(s[i].sorted, s[i].n, 50), p50, sizeof(p50));
		svgplot_format_ms(stats_percentile(s[i].sorted, s[i].n, 99), p99, sizeof(p99));
		svgplot_format_ms(s[i].sorted[s[i].n - 1], mx, sizeof(mx));
		le[nl] = (struct legend_entry){ s[i].label ? s[i].label : "", col, "" };
		snprintf(le[nl++].sub, sizeof(le[0].sub), "p50 %s  p99 %s  max %s", p50, p99, mx);
	}
	if (legend(out, le, nl, e))
		return -1;
	return buf_printf(out, e, "</svg>\n");
}

/* ---- x-y lines -------------------------------------------------------------- */

static int usable(const struct svgplot_xy *p, double x, double y)
{
	return isfinite(x) && isfinite(y) && (!p->log_y || y > 0);
}

/* The data's range: 0 when nothing is drawable. */
static int xy_frame(const struct svgplot_xy *p, struct frame *f)
{
	double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	for (size_t i = 0; i < p->n_lines; i++)
		for (size_t k = 0; k < p->lines[i].n; k++) {
			double x = p->lines[i].x[k], y = p->lines[i].y[k];
			if (!usable(p, x, y))
				continue;
			x0 = x < x0 ? x : x0;
			x1 = x > x1 ? x : x1;
			y0 = y < y0 ? y : y0;
			y1 = y > y1 ? y : y1;
		}
	if (!(x1 >= x0))
		return 0;
	*f = (struct frame){ x0, x1 > x0 ? x1 : x0 + 1, 0, 0, p->log_y };
	if (p->log_y) {
		log_range(y0, y1, &f->y0, &f->y1);
		return 1;
	}
	double pad = (y1 - y0) * 0.05;
	f->y0 = y0 >= 0 ? 0 : y0 - pad; /* counts and rates start at zero */
	f->y1 = y1 + (pad > 0 ? pad : fabs(y1) > 0 ? fabs(y1) * 0.1 : 1);
	return 1;
}

static int x_axis(struct buf *b, const struct frame *f, const char *label, struct err *e)
{
	double st = nice_step(f->x1 - f->x0, 8);
	char t[32];
	for (double v = ceil(f->x0 / st) * st; v <= f->x1 + st * 1e-9; v += st) {
		svgplot_format_num(fabs(v) < st * 1e-9 ? 0.0 : v, t, sizeof(t));
		if (buf_printf(b, e,
			       "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>\n"
			       "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			       px_x(f, v), MT, px_x(f, v), MT + PH, px_x(f, v), MT + PH + 18, t))
			return -1;
	}
	if (buf_printf(b, e, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", ML + PW / 2, MT + PH + 44) ||
	    xml_text(b, label, e))
		return -1;
	return buf_printf(b, e, "</text>\n");
}

/* One line: a polyline per run of drawable points, dots when there are few. */
static int xy_line(struct buf *b, const struct svgplot_xy *p, const struct frame *f, const struct svgplot_line *l,
		   const char *col, struct err *e)
{
	int open = 0;
	for (size_t k = 0; k < l->n; k++) {
		int ok = usable(p, l->x[k], l->y[k]);
		if (!ok && open && buf_printf(b, e, "\"/>\n"))
			return -1;
		if (ok && !open &&
		    buf_printf(b, e, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col))
			return -1;
		if (ok && buf_printf(b, e, "%s%.1f,%.1f", open ? " " : "", px_x(f, l->x[k]), px_y(f, l->y[k])))
			return -1;
		open = ok;
	}
	if (open && buf_printf(b, e, "\"/>\n"))
		return -1;
	for (size_t k = 0; l->n <= 30 && k < l->n; k++)
		if (usable(p, l->x[k], l->y[k]) &&
		    buf_printf(b, e, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px_x(f, l->x[k]),
			       px_y(f, l->y[k]), col))
			return -1;
	return 0;
}

int svgplot_lines(const struct svgplot_xy *p, struct buf *out, struct err *e)
{
	struct frame f;
	if (!xy_frame(p, &f))
		return err_set(e, ERR_INPUT, "line plot '%s': no points to draw", p->title ? p->title : "");
	if (open_doc(out, p->title, e) || y_axis(out, &f, p->yunit, p->ylabel, e) || x_axis(out, &f, p->xlabel, e))
		return -1;
	struct legend_entry le[LEGEND_MAX];
	size_t nl = 0;
	for (size_t i = 0; i < p->n_lines; i++) {
		const char *col = palette[i % PALETTE_N];
		if (xy_line(out, p, &f, &p->lines[i], col, e))
			return -1;
		if (nl < LEGEND_MAX)
			le[nl++] = (struct legend_entry){ p->lines[i].label ? p->lines[i].label : "", col, "" };
	}
	if (legend(out, le, nl, e))
		return -1;
	return buf_printf(out, e, "</svg>\n");
}

/* ---- trend ------------------------------------------------------------------ */

static int trend_marks(struct buf *out, const struct svgplot_trend *t, double dx, struct err *e)
{
	for (size_t k = 0; k < t->n_marks; k++) {
		size_t i = t->marks[k];
		if (i >= t->n)
			continue;
		double px = ML + dx * ((double)i - 0.5);
		if (buf_printf(out, e,
			       "<line class=\"step\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#d62728\" "
			       "stroke-dasharray=\"4 3\"/>\n<text x=\"%.1f\" y=\"%d\" fill=\"#d62728\" font-size=\"10\">step at ",
			       px, MT, px, MT + PH, px + 3, MT + 12 + 12 * (int)(k % 3)) ||
		    xml_text(out, t->labels ? t->labels[i] : "", e) || buf_printf(out, e, "</text>\n"))
			return -1;
	}
	return 0;
}

int svgplot_trend(const struct svgplot_trend *t, struct buf *out, struct err *e)
{
	if (!t->n)
		return err_set(e, ERR_INPUT, "trend plot: no points to draw");
	double lo = t->y[0], hi = t->y[0];
	for (size_t i = 1; i < t->n; i++) {
		lo = t->y[i] < lo ? t->y[i] : lo;
		hi = t->y[i] > hi ? t->y[i] : hi;
	}
	double pad = (hi - lo) * 0.1;
	if (!(pad > 0))
		pad = fabs(hi) > 0 ? fabs(hi) * 0.1 : 1;
	struct frame f = { 0, t->n > 1 ? (double)(t->n - 1) : 1, lo - pad, hi + pad, 0 };
	if (lo >= 0 && f.y0 < 0)
		f.y0 = 0; /* latencies and rates never go below zero */
	if (open_doc(out, t->title, e) || y_axis(out, &f, SVGPLOT_NUMBER, t->ylabel, e))
		return -1;
	double dx = t->n > 1 ? (double)PW / (double)(t->n - 1) : 0;
	if (trend_marks(out, t, dx, e) ||
	    buf_printf(out, e, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\""))
		return -1;
	for (size_t i = 0; i < t->n; i++)
		if (buf_printf(out, e, "%s%.1f,%.1f", i ? " " : "", t->n > 1 ? ML + dx * (double)i : ML + PW / 2.0,
			       px_y(&f, t->y[i])))
			return -1;
	if (buf_printf(out, e, "\"/>\n"))
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		char v[32];
		svgplot_format_num(t->y[i], v, sizeof(v));
		double px = t->n > 1 ? ML + dx * (double)i : ML + PW / 2.0;
		if (buf_printf(out, e, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#1f77b4\"><title>", px,
			       px_y(&f, t->y[i])) ||
		    xml_text(out, t->labels ? t->labels[i] : "", e) || buf_printf(out, e, ": %s</title></circle>\n", v))
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

int svgplot_history(const char *spec, const char *metric, const struct history *h, struct buf *out,
		    struct err *e)
{
	const char **labels = xcalloc(h->n + 1, sizeof(*labels));
	double *y = xcalloc(h->n + 1, sizeof(*y));
	size_t *marks = xcalloc(h->n_steps + 1, sizeof(*marks));
	for (size_t i = 0; i < h->n; i++) {
		labels[i] = h->pts[i].run_id;
		y[i] = h->pts[i].value;
	}
	for (size_t i = 0; i < h->n_steps; i++)
		marks[i] = h->steps[i].s.index;
	char title[256];
	snprintf(title, sizeof(title), "%s: %s over %zu runs", spec, metric, h->n);
	struct svgplot_trend t = { title, metric, labels, y, h->n, marks, h->n_steps };
	int rc = svgplot_trend(&t, out, e);
	free(labels);
	free(y);
	free(marks);
	return rc;
}
