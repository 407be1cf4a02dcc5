/*
 * runexport.h — stored load tests, ground truth and runs, read from the
 * store and written in the layouts of exportfmt.h (for `engrave export`).
 *
 * Streams: records and ground truth are read in blocks and written as they
 * are read, so a million-request load test or a big ground truth takes a
 * block of memory, not its whole size. The hgrm needs the values sorted:
 * 8 bytes per counted record (the same scratch metrics.h takes).
 * Errors: ERR_CORRUPT for parts that disagree with their meta, ERR_IO for
 * writes (naming `what`, the output's name), ERR_MISSING for a run without
 * the step an export needs.
 */
#ifndef ENGRAVE_RUNEXPORT_H
#define ENGRAVE_RUNEXPORT_H

#include <stdio.h>

struct artifact;
struct buf;
struct err;
struct run_record;
struct store;

/* Every record of a "loadtest" artifact (warm-up and dropped ones too), in
 * stored (repeat, index) order, as CSV with a header line or as JSONL. */
int runexport_records(struct store *st, const struct artifact *lt, int jsonl, FILE *f, const char *what,
		      struct err *e);

/*
 * The HdrHistogram percentile distribution (exportfmt_hgrm) of a "loadtest"
 * artifact's measured, sent records (metrics_record_timed: warm-up and
 * dropped excluded, errors kept), of one operation (op >= 0: enum op_kind)
 * or all (-1), latency from the intended time or, with `service`, from the
 * send. ERR_MISSING when no record is counted.
 */
int runexport_hgrm(struct store *st, const struct artifact *lt, int op, int service, int ticks, struct buf *out,
		   struct err *e);

/* A "groundtruth" artifact, one query per line (JSONL) or row (ivecs). Ids
 * are base rows: the row numbers of the ingested sets back to back. */
int runexport_groundtruth(struct store *st, const struct artifact *gt, int ivecs, FILE *f, const char *what,
			  struct err *e);

/* The "loadtest" artifact of a run, or of phase `phase` of a sweep run
 * (phase < 0: none chosen). ERR_MISSING when the run has no finished
 * loadtest step; ERR_USAGE for a sweep without a phase (listing its phases
 * and values), a phase it does not have, or a phase of a run that is not a
 * sweep. Caller releases. */
int runexport_run_loadtest(struct store *st, const struct run_record *rec, int phase, struct artifact *out,
			   struct err *e);

/* VectorDBBench's TestResult JSON for a run (the mapping is in exportfmt.c). */
int runexport_vdbb(struct store *st, const struct run_record *rec, struct buf *out, struct err *e);

#endif
