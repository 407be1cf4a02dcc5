/*
 * rbplot.h — a runbook's per-phase results as an SVG chart.
 *
 * Input: the runbook step's steps.csv (rbresult.c's header: phase, kind,
 * concurrent, start_s, duration_s, searches, errors, qps, p50_ms, p99_ms,
 * recall, written, write_rate). Output: a self-contained SVG with one
 * point per search phase at its start time: recall on the left axis (0..1),
 * p99 latency (ms) on the right axis, write phases as shaded spans behind.
 */
#ifndef ENGRAVE_RBPLOT_H
#define ENGRAVE_RBPLOT_H

#include <stddef.h>

struct buf;
struct err;
struct run_record;
struct store;

/* The runbook step's steps.csv of a run (the header above) into out.
 * ERR_MISSING when the run has no finished runbook step. */
int rbplot_run_csv(struct store *st, const struct run_record *run, struct buf *out, struct err *e);

/* Append the SVG to out. ERR_INPUT when the CSV has no search phase. */
int rbplot_svg(const char *csv, size_t len, const char *title, struct buf *out, struct err *e);

#endif
