/*
 * report.h — run records as text tables and JSON (cli layer only).
 */
#ifndef ENGRAVE_CLI_REPORT_H
#define ENGRAVE_CLI_REPORT_H

#include <jansson.h>
#include <stdio.h>

struct run_record;
struct spec;

/* `sp` (the run's spec, may be NULL) supplies the notes: why a recall the
 * spec asked for was not scored ("notes" in JSON, "note:" lines in text). */
json_t *report_run_json(const struct run_record *r, const struct spec *sp);
/* The run's environment as one flat object: host, kernel, cpu,
 * engrave_version, target_version, then every key of r->env in its order
 * (numbers as JSON numbers, the rest as strings). */
json_t *report_env_json(const struct run_record *r);
/* The same as text lines ("  env: host ...", then "key value" rows). */
void report_env_text(FILE *out, const struct run_record *r);
/* Prints and frees `o`. */
int report_print_json(json_t *o);
void report_run_text(FILE *out, const struct run_record *r, const struct spec *sp);
/* The runner's finish hook (runner_opts.finish, ctx = the run's spec):
 * computes the run's metrics; 1 ("incomplete") when it lacks the metrics its
 * spec implies. Used by run and replay. */
struct store;
struct err;
int report_finish_run(struct store *st, struct run_record *rec, void *ctx, struct err *e);

#endif
