/*
 * svgplot.h — hand-written SVG plots (no plotting library).
 *
 *  - svgplot_percentiles: HDR-histogram style latency-by-percentile plot;
 *    the x axis is log10(1/(1-p)), so 90%, 99%, 99.9%... are equally
 *    spaced and the tail is visible; one line per series (run).
 *  - svgplot_trend: a metric over runs, with vertical markers at detected
 *    steps.
 *
 * Output is a standalone SVG 1.1 document (UTF-8, XML-escaped labels)
 * appended to `out`; deterministic for the same input.
 */
#ifndef ENGRAVE_SVGPLOT_H
#define ENGRAVE_SVGPLOT_H

#include <stddef.h>

struct buf;
struct err;

struct svgplot_series {
	const char *label;       /* e.g. a run id */
	const double *sorted;    /* samples (ms), ascending */
	size_t n;
};

/* ERR_INPUT when no series has a sample. */
int svgplot_percentiles(const char *title, const struct svgplot_series *s, size_t ns, struct buf *out,
			struct err *e);

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

#endif
