/*
 * reporthtml.h — `engrave report`'s HTML sections (cli layer only).
 *
 * reporthtml.c parses the command line, loads the run, its baselines and
 * its records into a struct report_ctx and writes the page around the
 * sections; report_sec.c writes the tables (spec, environment, steps,
 * recall, errors, verdicts) and report_plots.c the plotted ones (ingest,
 * latency, timeline). Each section is <section id="NAME"> with an <h2>,
 * always present: when its data is missing it says so in a
 * <p class="none">, so a reader (and the browser test) can tell "nothing
 * happened" from "not measured".
 */
#ifndef ENGRAVE_CLI_REPORTHTML_H
#define ENGRAVE_CLI_REPORTHTML_H

#include <jansson.h>

#include "engrave/runrecs.h"
#include "engrave/store.h"

struct spec;
struct buf;
struct err;

#define REPORT_MAX_BASE 4

struct report_ctx {
	struct store *st;
	const struct run_record *run;
	const struct spec *sp;                 /* the run's stored spec; NULL when it does not load */
	json_t *j;                             /* report_run_json of the run */
	struct run_record base[REPORT_MAX_BASE];
	char base_label[REPORT_MAX_BASE][128]; /* "baseline NAME: ID" or "run ID" */
	int n_base;
	char base_note[256];                   /* why there is no baseline, or "" */
	struct runrecs rr;                     /* the run's load-test records */
	int have_recs;
	char no_recs[256];                     /* why not */
	struct buf *out;
	char run_id[48];                       /* the run's id, kept after it is released */
};

/* report_sec.c */
int report_sec_spec(struct report_ctx *c, struct err *e);
int report_sec_env(struct report_ctx *c, struct err *e);
int report_sec_steps(struct report_ctx *c, struct err *e);
int report_sec_recall(struct report_ctx *c, struct err *e);
int report_sec_runbook(struct report_ctx *c, struct err *e);
int report_sec_errors(struct report_ctx *c, struct err *e);
int report_sec_verdicts(struct report_ctx *c, struct err *e);
/* report_plots.c */
int report_sec_ingest(struct report_ctx *c, struct err *e);
int report_sec_latency(struct report_ctx *c, struct err *e);
int report_sec_timeline(struct report_ctx *c, struct err *e);
/* A <p class="none"> saying why a section is empty. */
int report_none(struct buf *b, const char *why, struct err *e);
/* A metric of the run, NAN when absent. */
double report_metric(const struct run_record *r, const char *key);

#endif
