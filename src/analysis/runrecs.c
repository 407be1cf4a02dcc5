/*
 * runrecs.c — a run's load-test records as one array (runrecs.h).
 *
 * The loadtest step's output is read as the store wrote it: a "loadtest"
 * artifact directly, or a "loadtest-sweep" whose phase-NN parts name one
 * such artifact each. Every phase's "records" part is decoded onto the
 * array after shifting its times by the elapsed time of the phases before
 * it (each phase has its own t0); the optional "errors" part (steps.h) adds
 * its groups' first messages, first phase first, one per (op, status,
 * class).
 */
#include "engrave/runrecs.h"
#include "engrave/err.h"
#include "engrave/runmetrics.h"
#include "engrave/steps.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole part into a malloc'd buffer; NULL (and no error) when absent. */
static void *part_bytes(struct store *st, const struct artifact *a, const char *part, uint64_t *size, struct err *e)
{
	const struct digest *d = artifact_part(a, part);
	*size = 0;
	if (!d)
		return NULL;
	struct obj_reader *r;
	if (obj_reader_open(st, d, &r, e))
		return NULL;
	*size = obj_reader_size(r);
	void *p = xalloc_try_array((size_t)*size + 1, 1, part, e);
	if (p && *size && obj_read_at(r, 0, p, (size_t)*size, e)) {
		free(p);
		p = NULL;
	}
	obj_reader_close(r);
	return p;
}

static void add_msg(struct runrecs *rr, const uint8_t *row, size_t len)
{
	struct runrecs_msg m = { row[0], row[1], (uint16_t)(row[2] | row[3] << 8), "" };
	for (size_t i = 0; i < rr->n_msgs; i++)
		if (rr->msgs[i].op == m.op && rr->msgs[i].err == m.err && rr->msgs[i].status == m.status)
			return;
	memcpy(m.msg, row + LOADTEST_ERRORS_HEAD, len);
	m.msg[len] = '\0';
	rr->msgs = xrealloc(rr->msgs, (rr->n_msgs + 1) * sizeof(*rr->msgs)); /* at most LOADGEN_ERR_GROUPS a phase */
	rr->msgs[rr->n_msgs++] = m;
}

static int read_msgs(struct store *st, const struct artifact *a, struct runrecs *rr, struct err *e)
{
	uint64_t size;
	err_clear(e);
	uint8_t *b = part_bytes(st, a, LOADTEST_ERRORS_PART, &size, e);
	if (!b)
		return e->cls == ERR_NONE ? 0 : -1;
	rr->has_msgs = 1;
	for (uint64_t off = 0; off + LOADTEST_ERRORS_HEAD <= size;) {
		size_t len = (size_t)(b[off + 4] | b[off + 5] << 8);
		if (len > LOADGEN_ERR_MSG || off + LOADTEST_ERRORS_HEAD + len > size)
			break; /* a damaged tail: keep what was readable */
		add_msg(rr, b + off, len);
		off += LOADTEST_ERRORS_HEAD + len;
	}
	free(b);
	return 0;
}

/* One "loadtest" artifact's records, shifted by *clock, which moves past them. */
static int add_phase(struct store *st, const struct digest *d, uint64_t *clock, struct runrecs *rr, struct err *e)
{
	struct artifact a;
	if (artifact_get(st, d, &a, e))
		return -1;
	int64_t warm = 0, dur = 0, elapsed = 0;
	artifact_get_int(&a, "warmup_ns", &warm);
	artifact_get_int(&a, "duration_ns", &dur);
	artifact_get_int(&a, "elapsed_ns", &elapsed);
	rr->warmup_ns = (uint64_t)warm;
	rr->duration_ns = (uint64_t)dur;
	uint64_t size;
	size_t first = rr->recs.n;
	err_clear(e);
	void *b = part_bytes(st, &a, "records", &size, e);
	int rc = !b ? err_set(e, e->cls == ERR_NONE ? ERR_CORRUPT : e->cls, "loadtest artifact: no readable 'records' part")
		    : records_decode(b, (size_t)size, &rr->recs, e);
	free(b);
	if (!rc)
		rc = read_msgs(st, &a, rr, e);
	artifact_release(&a);
	uint64_t last = 0;
	for (size_t i = first; !rc && i < rr->recs.n; i++) {
		struct record *x = &rr->recs.v[i];
		x->intended += *clock;
		x->sent += *clock;
		x->done += *clock;
		last = x->done > last ? x->done : last;
	}
	*clock = last > *clock + (uint64_t)elapsed ? last : *clock + (uint64_t)elapsed;
	rr->phases++;
	return rc;
}

int runrecs_load(struct store *st, const struct run_record *r, struct runrecs *rr, struct err *e)
{
	memset(rr, 0, sizeof(*rr));
	records_init(&rr->recs);
	const struct digest *ld = runmetrics_step_output(r, "loadtest");
	if (!ld)
		return err_set(e, ERR_MISSING, "run %s has no finished loadtest step: no request records", r->id);
	struct artifact a;
	if (artifact_get(st, ld, &a, e))
		return err_prefix(e, "run %s loadtest artifact", r->id);
	uint64_t clock = 0;
	int rc = 0;
	if (!strcmp(a.type, "loadtest-sweep")) {
		int64_t phases = 0;
		artifact_get_int(&a, "phases", &phases);
		for (int64_t i = 0; !rc && i < phases; i++) {
			char name[32];
			snprintf(name, sizeof(name), "phase-%02d", (int)i);
			const struct digest *d = artifact_part(&a, name);
			rc = d ? add_phase(st, d, &clock, rr, e) : err_set(e, ERR_CORRUPT, "sweep artifact lacks %s", name);
		}
	} else {
		rc = add_phase(st, ld, &clock, rr, e);
	}
	artifact_release(&a);
	if (rc) {
		err_prefix(e, "run %s", r->id);
		runrecs_release(rr);
	}
	return rc;
}

void runrecs_release(struct runrecs *rr)
{
	if (!rr)
		return;
	records_release(&rr->recs);
	free(rr->msgs);
	memset(rr, 0, sizeof(*rr));
}
