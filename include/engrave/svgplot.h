/*
 * svgplot.h — hand-written SVG plots (no plotting library).
 *
 *  - svgplot_percentiles: HDR-histogram style latency-by-percentile plot;
 *    the x axis is log10(1/(1-p)), so 90%, 99%, 99.9%... are equally
 *    spaced and the tail is visible; the latency axis is logarithmic too
 *    (ticks at 1, 2, 5 x 10^k ms), so a 4 ms baseline stays readable beside
 *    a 1 s curve; one line per series (run).
 *  - svgplot_lines: x-y lines (per-second timelines, ingest rates, recall
 *    by sweep value), a linear or logarithmic y axis.
 *  - svgplot_trend: a metric over runs, with vertical markers at detected
 *    steps.
 *
 * Every plot has a legend sized to its text and kept inside the plot area
 * (labels too long for it are cut with "..."), and numbers without
 * exponents ("1030 ms", "1.03 s", "12.5k"). Output is a standalone SVG 1.1
 * document (UTF-8, XML-escaped text) appended to `out`, with the legend's
 * box as <rect class="legend">; deterministic for the same input.
 */
#ifndef ENGRAVE_SVGPLOT_H
#define ENGRAVE_SVGPLOT_H

#include <stddef.h>

struct buf;
struct err;

#define SVGPLOT_WIDTH 860
#define SVGPLOT_HEIGHT 500

struct svgplot_series {
	const char *label;       /* e.g. "RUN (spec)" */
	const double *sorted;    /* samples (ms), ascending */
	size_t n;
};

/* ERR_INPUT when no series has a sample. */
int svgplot_percentiles(const char *title, const struct svgplot_series *s, size_t ns, struct buf *out,
			struct err *e);

struct svgplot_line {
	const char *label;
	const double *x, *y;     /* n points; a NAN y breaks the line */
	size_t n;
};

enum svgplot_unit { SVGPLOT_NUMBER, SVGPLOT_MS };

struct svgplot_xy {
	const char *title;
	const char *xlabel, *ylabel;
	enum svgplot_unit yunit; /* how y ticks read: "12.5k" or "250 ms" / "1.5 s" */
	int log_y;               /* logarithmic y (values <= 0 are left out) */
	const struct svgplot_line *lines;
	size_t n_lines;
};

/* ERR_INPUT when no line has a finite point (a positive one with log_y). */
int svgplot_lines(const struct svgplot_xy *p, struct buf *out, struct err *e);

struct svgplot_trend {
	const char *title;
	const char *ylabel;
	const char *const *labels; /* n point labels (run ids) */
	const double *y;           /* n values */
	size_t n;
	const size_t *marks;       /* indices where a step starts */
	size_t n_marks;
};

/* ERR_INPUT when n == 0. */
int svgplot_trend(const struct svgplot_trend *t, struct buf *out, struct err *e);

struct history;
/* svgplot_trend of a history (history.h): its points labelled by run id, its
 * detected steps marked, titled "SPEC: METRIC over N runs". */
int svgplot_history(const char *spec, const char *metric, const struct history *h, struct buf *out,
		    struct err *e);

/* A latency for people, never with an exponent: milliseconds below one
 * second ("0.042 ms", "4.20 ms", "250 ms"), seconds from there ("1.03 s",
 * "12.5 s", "125 s"). */
void svgplot_format_ms(double ms, char *out, size_t cap);
/* A count or rate: "0.25", "12", "1030", "12.5k", "3.2M". */
void svgplot_format_num(double v, char *out, size_t cap);

#endif
