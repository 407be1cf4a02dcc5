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
	cr_assert(strstr(sc.text.data, "latency (ms)"));
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
