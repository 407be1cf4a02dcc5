/*
 * runbook_int.h — what the files of the runbook step share (src/steps only).
 *
 * runbook.c   the step: its inputs, the journal, stages of phases, the
 *             write phases (one thread each) and waits;
 * rbsearch.c  a search phase: open-loop searches through loadgen, stored
 *             as a "runbook_search" artifact;
 * rbready.c   readiness tracers: time from an acknowledged write until a
 *             search finds (insert) or stops finding (delete) its record;
 * rbresult.c  from the journal of acknowledged writes: the versions of
 *             every id over time, the exact top-k of each search at its send
 *             time (knn_timed), recall, latency and rates per phase, stored
 *             as run metrics and a "runbook" artifact.
 *
 * A record is named by its key: set << RB_SET_SHIFT | row (set 0 corpus,
 * 1 synthetic); its id on the target is the set's prefix + row (synthetic)
 * or + its article id (corpus), as ingest writes them, so a runbook can
 * delete what ingest loaded.
 */
#ifndef ENGRAVE_RUNBOOK_INT_H
#define ENGRAVE_RUNBOOK_INT_H

#include <pthread.h>
#include <stdint.h>

#include "artio.h"
#include "engrave/clock.h"
#include "engrave/hmap.h"
#include "engrave/spec.h"
#include "engrave/steps.h"

struct target;

#define RB_SET_SHIFT 40
#define RB_NO_KEY UINT64_MAX
#define RB_ACKS "runbook.acks"     /* journal: (phase u16 BE, batch u32 BE) -> ack u64, sent u64 (unix ns LE) */
#define RB_SEARCHES "runbook.search" /* journal: phase u16 BE -> digest of its runbook_search artifact */
#define RB_READY "runbook.ready"   /* journal: (phase u16 BE, tracer u32 BE) -> kind u8, ms f64, ok u8 */

struct rb_set {
	int present;
	struct vecs v;
	char prefix[32];
};

/* One tracer: a record written by a phase, probed until searchable / gone. */
struct rb_tracer {
	uint16_t phase;
	uint32_t n;            /* its number within the phase */
	int is_delete;
	uint64_t key;
	const float *vec;      /* the vector it was written with (insert) or had (delete) */
	unix_ns ack;
};

struct rb {
	struct step_ctx *c;
	const struct spec_runbook *book;
	struct target *t;              /* the run's target (searches) */
	uint32_t dim;
	struct rb_set sets[2];         /* by enum spec_set */
	struct vecs queries;
	int have_queries;
	struct hmap corpus_ids;        /* corpus: id string -> row (only when a phase names corpus) */
	char **corpus_names;           /* owned keys of corpus_ids */
	uint8_t *acked[SPEC_PHASES_MAX]; /* per write phase: batches acknowledged (journal) */
	uint64_t n_batches[SPEC_PHASES_MAX];
	uint64_t *order[SPEC_PHASES_MAX];  /* insert: rows in sending order; NULL: from..to */
	struct digest search[SPEC_PHASES_MAX]; /* per search phase: its artifact, when done */
	int search_done[SPEC_PHASES_MAX];
	pthread_mutex_t journal_lock;  /* one writer at a time into the store */
	/* readiness tracers: pending ones, probed by rbready.c's thread */
	pthread_mutex_t tr_lock;
	struct rb_tracer *tr;
	size_t n_tr, cap_tr;
	int tr_stop;
	uint64_t tr_pending;
};

/* The key's id on the target into out. */
void rb_key_id(const struct rb *R, uint64_t key, char *out, size_t cap);
/* A returned id back to its key, RB_NO_KEY when it is none of the runbook's. */
uint64_t rb_id_key(const struct rb *R, const char *id);
/* The vector of a key (set row). */
const float *rb_key_vec(const struct rb *R, uint64_t key);
/* Write phase p's batch b: the keys it writes (n into keys) and, for a
 * replace, the keys whose vectors they get (into with; NULL otherwise). */
size_t rb_batch_keys(const struct rb *R, size_t p, uint64_t b, uint64_t *keys, uint64_t *with);
/* Journal helpers (serialised by journal_lock). */
int rb_journal_put(struct rb *R, const char *stream, const void *key, size_t kl, const void *val, size_t vl,
		   struct err *e);

/* rbsearch.c: run search phase p (t: its own target handle) and journal its artifact. */
int rb_search_phase(struct rb *R, size_t p, struct err *e);

/* rbready.c: the tracer thread of a stage, and how writers hand it tracers. */
void rb_tracer_add(struct rb *R, const struct rb_tracer *tr);
void *rb_tracer_main(void *arg);
/* Wait until no tracer is pending (wait: until indexed), at most timeout. 0 ok, -1 timed out. */
int rb_tracers_drain(struct rb *R, uint64_t timeout_ns);

/* rbresult.c: everything measured into run metrics and the "runbook" artifact (c->out[0]). */
int rb_results(struct rb *R, struct err *e);

#endif
