/*
 * errtable.h — a load test's failed requests grouped by operation, status
 * and error class, each group with its count and its first message.
 *
 * Records hold codes only (status, error class, a transport detail code).
 * The words come from the loadtest artifact's "errors" part (runrecs.h: the
 * response body's first bytes or the transport's error string, recorded by
 * the load generator); a group without one (runs from before that part, or
 * past its group limit) gets the status's reason phrase or the class's
 * meaning instead, and `from_target` says which it is. Rows are ordered by
 * count (largest first), then op, status and class, so the same records
 * give the same table.
 */
#ifndef ENGRAVE_ERRTABLE_H
#define ENGRAVE_ERRTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/runrecs.h"

struct err;

struct errtable_row {
	uint8_t op, err;            /* enum op_kind, enum record_err */
	uint16_t status;
	uint64_t count;             /* measured records (warm-up excluded) */
	uint64_t warmup;            /* warm-up records of the group */
	char msg[LOADGEN_ERR_MSG + 1];
	int from_target;            /* msg is the recorded message, not a fallback */
};

struct errtable {
	struct errtable_row *rows;  /* malloc'd */
	size_t n;
	uint64_t total;             /* measured failed records */
};

/* Group the failed records of r[0..n) with messages m[0..nm) (may be NULL).
 * Cannot fail: the groups are few (bounded by the codes), kept with xrealloc. */
void errtable_build(const struct record *r, size_t n, const struct runrecs_msg *m, size_t nm, struct errtable *out);
void errtable_release(struct errtable *t); /* NULL-safe */

/* What a status or class means when nothing was recorded: "Internal Server
 * Error", "timed out", "never sent: the in-flight cap was full", ... */
const char *errtable_fallback(uint16_t status, uint8_t err);

#endif
