/*
 * test_svgplot.c — the SVG plots are well-formed XML (parsed with expat)
 * with the expected elements: an <svg> root with a viewBox, one polyline
 * per series, axis labels at 90%/99%/99.9%, escaped labels, step markers
 * on the trend; output is byte-identical for the same input.
 */
#include <criterion/criterion.h>
#include <expat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/stats.h"
#include "engrave/svgplot.h"

struct scan {
	int depth, max_depth;
	char root[32];
	int polylines, circles, lines, texts, has_viewbox;
	struct buf text;
};

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct scan *s = ud;
	if (s->depth++ == 0) {
		snprintf(s->root, sizeof(s->root), "%s", name);
		for (int i = 0; attrs[i]; i += 2)
			if (!strcmp(attrs[i], "viewBox"))
				s->has_viewbox = 1;
	}
	if (s->depth > s->max_depth)
		s->max_depth = s->depth;
	if (!strcmp(name, "polyline")) {
		s->polylines++;
		for (int i = 0; attrs[i]; i += 2)
			if (!strcmp(attrs[i], "points")) {
				/* every coordinate is a finite number */
				const char *p = attrs[i + 1];
				char *end;
				int n = 0;
				while (*p) {
					double v = strtod(p, &end);
					cr_assert(end != p && isfinite(v), "bad point list near '%.20s'", p);
					p = end;
					n++;
					while (*p == ',' || *p == ' ')
						p++;
				}
				cr_assert_geq(n, 2);
			}
	}
	s->circles += !strcmp(name, "circle");
	s->lines += !strcmp(name, "line");
	s->texts += !strcmp(name, "text");
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	(void)name;
	((struct scan *)ud)->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *t, int len)
{
	buf_append(&((struct scan *)ud)->text, t, (size_t)len, NULL);
}

static void parse(const struct buf *b, struct scan *s)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->text, 0);
	XML_Parser p = XML_ParserCreate("UTF-8");
	XML_SetUserData(p, s);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	int ok = XML_Parse(p, b->data, (int)b->len, 1) == XML_STATUS_OK;
	cr_assert(ok, "not well-formed: %s at line %lu", XML_ErrorString(XML_GetErrorCode(p)),
		  (unsigned long)XML_GetCurrentLineNumber(p));
	XML_ParserFree(p);
	cr_assert_eq(s->depth, 0);
}

Test(svgplot, percentile_plot_is_valid_svg)
{
	size_t n = 20000;
	double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		double u = ((double)i + 0.5) / (double)n;
		a[i] = -log(1 - u);           /* exponential, sorted */
		b[i] = -log(1 - u) * 1.3 + 0.1;
	}
	struct svgplot_series s[2] = { { "base <A&B>", a, n }, { "run-2", b, n } };
	struct buf out, again;
	buf_init(&out, 0);
	buf_init(&again, 0);
	struct err e = ERR_INIT;
	cr_assert_eq(svgplot_percentiles("latency \"by\" percentile", s, 2, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(svgplot_percentiles("latency \"by\" percentile", s, 2, &again, &e), 0);
	cr_assert_str_eq(out.data, again.data, "deterministic");
	struct scan sc;
	parse(&out, &sc);
	cr_assert_str_eq(sc.root, "svg");
	cr_assert(sc.has_viewbox);
	cr_assert_eq(sc.polylines, 2);
	cr_assert(strstr(sc.text.data, "base <A&B>"), "label unescaped by the parser");
	cr_assert(strstr(sc.text.data, "99.9%"));
	cr_assert(strstr(sc.text.data, "99.99%"));
	cr_assert(strstr(sc.text.data, "latency (log scale)"));
	cr_assert(strstr(out.data, "xmlns=\"http://www.w3.org/2000/svg\""));
	buf_release(&sc.text);
	buf_release(&out);
	buf_release(&again);
	/* nothing to draw */
	struct svgplot_series none = { "x", NULL, 0 };
	buf_init(&out, 0);
	cr_assert_eq(svgplot_percentiles("t", &none, 1, &out, &e), -1);
	cr_assert_eq(e.cls, ERR_INPUT);
	buf_release(&out);
	free(a);
	free(b);
}

Test(svgplot, trend_plot_marks_steps)
{
	double y[12];
	const char *labels[12];
	char ids[12][32];
	for (int i = 0; i < 12; i++) {
		y[i] = i < 7 ? 5.0 : 7.0;
		snprintf(ids[i], sizeof(ids[i]), "run-%02d", i);
		labels[i] = ids[i];
	}
	size_t marks[] = { 7 };
	struct svgplot_trend t = { "p99_ms & co", "p99_ms", labels, y, 12, marks, 1 };
	struct buf out;
	buf_init(&out, 0);
	struct err e = ERR_INIT;
	cr_assert_eq(svgplot_trend(&t, &out, &e), 0, "%s", e.msg);
	struct scan sc;
	parse(&out, &sc);
	cr_assert_str_eq(sc.root, "svg");
	cr_assert_eq(sc.polylines, 1);
	cr_assert_eq(sc.circles, 12);
	cr_assert(strstr(sc.text.data, "step at run-07"));
	cr_assert(strstr(sc.text.data, "p99_ms & co"));
	buf_release(&sc.text);
	buf_release(&out);
	struct svgplot_trend empty = { "t", "m", NULL, NULL, 0, NULL, 0 };
	buf_init(&out, 0);
	cr_assert_eq(svgplot_trend(&empty, &out, &e), -1);
	buf_release(&out);
}

/* The value a y tick label names, in ms ("20 ms", "1 s"); NAN if none. */
static double tick_ms(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	return !strcmp(end, " ms") ? v : !strcmp(end, " s") ? v * 1000 : NAN;
}

Test(svgplot, latency_axis_is_logarithmic_with_1_2_5_ticks)
{
	/* a 4 ms baseline and a 1 s run: both must stay readable */
	size_t n = 1000;
	double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		a[i] = 4.0 + (double)i / (double)n;
		b[i] = 900.0 + 300.0 * (double)i / (double)n;
	}
	struct svgplot_series s[2] = { { "base", a, n }, { "run", b, n } };
	struct buf out;
	buf_init(&out, 0);
	struct err e = ERR_INIT;
	cr_assert_eq(svgplot_percentiles("t", s, 2, &out, &e), 0, "%s", e.msg);
	cr_assert_null(strstr(out.data, "e+"), "no exponent in any label");
	double v[32], y[32];
	int nt = 0;
	for (const char *p = out.data; (p = strstr(p, "class=\"ytick\"")) && nt < 32; p++) {
		double py;
		char label[32];
		cr_assert_eq(sscanf(p, "class=\"ytick\" x=\"%*f\" y=\"%lf\" text-anchor=\"end\">%31[^<]", &py, label), 2);
		v[nt] = tick_ms(label);
		y[nt++] = py;
		cr_assert(isfinite(v[nt - 1]), "tick label '%s' is not a latency", label);
	}
	cr_assert_geq(nt, 7, "ticks over 3 decades: %d", nt);
	double px_per_decade = NAN;
	for (int i = 0; i < nt; i++) {
		double m = v[i] / pow(10, floor(log10(v[i]) + 1e-9));
		cr_assert(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9, "tick %g is not 1, 2 or 5 x 10^k", v[i]);
		if (i == 0)
			continue;
		cr_assert_gt(v[i], v[i - 1]);
		cr_assert_lt(y[i], y[i - 1], "higher values are higher up");
		/* pixel distance is proportional to the log of the ratio */
		double k = (y[i - 1] - y[i]) / log10(v[i] / v[i - 1]);
		if (isnan(px_per_decade))
			px_per_decade = k;
		cr_assert(fabs(k - px_per_decade) < 0.5, "tick %g: %.2f px a decade, not %.2f", v[i], k, px_per_decade);
	}
	cr_assert(strstr(out.data, ">1 s<") || strstr(out.data, ">2 s<"), "seconds read as seconds");
	buf_release(&out);
	free(a);
	free(b);
}

Test(svgplot, legend_box_stays_inside_for_long_labels)
{
	double a[3] = { 1, 2, 3 };
	char longlabel[400];
	memset(longlabel, 'x', sizeof(longlabel) - 1);
	longlabel[sizeof(longlabel) - 1] = '\0';
	struct svgplot_series s[2] = { { longlabel, a, 3 }, { "short", a, 3 } };
	struct buf out;
	buf_init(&out, 0);
	struct err e = ERR_INIT;
	cr_assert_eq(svgplot_percentiles("t", s, 2, &out, &e), 0, "%s", e.msg);
	const char *p = strstr(out.data, "class=\"legend\"");
	cr_assert_not_null(p);
	double x, y, w, h;
	cr_assert_eq(sscanf(p, "class=\"legend\" x=\"%lf\" y=\"%lf\" width=\"%lf\" height=\"%lf\"", &x, &y, &w, &h), 4);
	cr_assert_geq(x, 0);
	cr_assert_leq(x + w, SVGPLOT_WIDTH, "legend ends at %.1f, past the width %d", x + w, SVGPLOT_WIDTH);
	cr_assert(strstr(out.data, "xxx..."), "a label too long for the box is cut");
	/* a short label gets a small box, not a fixed one */
	struct svgplot_series one = { "ab", a, 3 };
	struct buf o2;
	buf_init(&o2, 0);
	cr_assert_eq(svgplot_percentiles("t", &one, 1, &o2, &e), 0);
	double w2;
	cr_assert_eq(sscanf(strstr(o2.data, "class=\"legend\""), "class=\"legend\" x=\"%*f\" y=\"%*f\" width=\"%lf\"", &w2), 1);
	cr_assert_lt(w2, w);
	buf_release(&o2);
	buf_release(&out);
}

Test(svgplot, numbers_read_without_exponents)
{
	char s[32];
	svgplot_format_ms(1030, s, sizeof(s));
	cr_assert_str_eq(s, "1.03 s");
	svgplot_format_ms(4.2, s, sizeof(s));
	cr_assert_str_eq(s, "4.20 ms");
	svgplot_format_ms(250, s, sizeof(s));
	cr_assert_str_eq(s, "250 ms");
	svgplot_format_num(1030, s, sizeof(s));
	cr_assert_str_eq(s, "1030");
	svgplot_format_num(12500, s, sizeof(s));
	cr_assert_str_eq(s, "12.5k");
}

Test(svgplot, line_plot_draws_points_and_breaks_at_nan)
{
	double x[5] = { 0, 1, 2, 3, 4 }, y[5] = { 10, 20, NAN, 40, 50 };
	struct svgplot_line l = { "p99", x, y, 5 };
	struct svgplot_xy p = { "latency over time", "s", "ms", SVGPLOT_MS, 1, &l, 1 };
	struct buf out;
	buf_init(&out, 0);
	struct err e = ERR_INIT;
	cr_assert_eq(svgplot_lines(&p, &out, &e), 0, "%s", e.msg);
	struct scan sc;
	parse(&out, &sc);
	cr_assert_eq(sc.polylines, 2, "the NAN splits the line");
	buf_release(&sc.text);
	buf_release(&out);
	double none[1] = { NAN };
	struct svgplot_line l0 = { "x", x, none, 1 };
	p.lines = &l0;
	buf_init(&out, 0);
	cr_assert_eq(svgplot_lines(&p, &out, &e), -1);
	cr_assert_eq(e.cls, ERR_INPUT);
	buf_release(&out);
}
