/*
 * steps.h — the pipeline: step definitions, action keys and the DAG runner.
 *
 * The pipeline is the fixed sequence of DESIGN.md section 3 (corpus, embed,
 * centroids, synthetic, queries, groundtruth, ingest, loadtest, runbook); a spec
 * selects a subset and the edges between them follow from the spec (embed
 * reads corpus, centroids reads embed, ...). Pure steps are memoized by the
 * action cache: key = SHA-256 of {step name, step version, the step's
 * resolved params (spec_step_params), the digests of its inputs}. Effectful
 * steps (ingest, loadtest) are journaled per run and resumable.
 *
 * The runner writes the run record after every step, so `engrave show`
 * sees a live run and a killed run keeps what it finished.
 */
#ifndef ENGRAVE_STEPS_H
#define ENGRAVE_STEPS_H

#include <signal.h>
#include <stdint.h>
#include "engrave/hash.h"
#include "engrave/spec.h"
#include "engrave/synth.h"

struct store;
struct err;
struct run_record;
struct target;
struct remote;
struct sched_segment;

#define STEP_MAX_OUT 8
#define STEP_MAX_IN 4

/* The steps, in pipeline order (the order of spec_step_names). */
enum step_id {
	STEP_CORPUS, STEP_EMBED, STEP_CENTROIDS, STEP_SYNTHETIC, STEP_QUERIES, STEP_GROUNDTRUTH, STEP_INGEST,
	STEP_LOADTEST, STEP_RUNBOOK, STEP_COUNT
};

/* The first output of each step that finished earlier in this run. Read it
 * through step_input() and the role helpers below, never by index. */
struct step_outputs {
	struct digest out[STEP_COUNT];
	int has[STEP_COUNT];
};

struct step_ctx {
	struct store *store;
	const struct spec *spec;
	struct run_record *run;          /* live run record (steps may add metrics) */
	const char *run_id;
	int resume;                      /* resuming an interrupted run */
	int verify_all;                  /* runner_opts.verify_all */
	const char *between_phases;      /* runner_opts.between_phases */
	const struct sched_segment *segment; /* runner_opts.segment */
	int (*before_load)(void *ctx, struct err *e); /* runner_opts.before_load */
	void *before_load_ctx;
	struct step_outputs done;        /* outputs of the earlier steps (step_input) */
	struct digest action;            /* this step's action key */
	struct target *target;           /* the spec's target, opened once per run (steps_target) */
	/* set by the step */
	struct digest out[STEP_MAX_OUT];
	int n_out;
	char summary[256];               /* one line for the report */
};

struct step_def {
	const char *name;
	uint32_t version;                /* bump when the output for the same inputs changes */
	int effectful;                   /* 1: journaled per run, not memoized */
	int (*run)(struct step_ctx *c, struct err *e);
};

/* The definition of step i (spec_step_names order). */
const struct step_def *steps_def(int i);

/* The output of step `id` in this run; NULL when the step is absent from
 * the spec or has not finished. */
const struct digest *step_input(const struct step_ctx *c, enum step_id id);
/* The corpus vectors (a "vectors" artifact), whichever step made them; NULL: none. */
const struct digest *step_corpus_vectors(const struct step_ctx *c);
/* The vectors of an ingest set; NULL: none. */
const struct digest *step_set_vectors(const struct step_ctx *c, enum spec_set set);
/*
 * The base: the sets whose vectors the ground truth covers and base rows
 * number, in order — the ingest sets in spec order, or every vector set when
 * the spec has no ingest step. Returns how many (a set may still have no
 * step: steps_set_step_name NULL). The name of the step that makes a set's
 * vectors, NULL when the spec has none; analysis finds its output in the run.
 */
size_t steps_base_sets(const struct spec *sp, enum spec_set out[2]);
const char *steps_set_step_name(const struct spec *sp, enum spec_set set);

/*
 * Action key of step i given the digests of its inputs (in the order of
 * steps_inputs in pipeline.c) and extra bytes (e.g. the digest of a source file).
 */
int steps_action_key(const struct spec *sp, int i, const struct digest *inputs, int n_inputs,
		     const struct digest *extra, struct digest *key, struct err *e);

enum step_state {
	STEP_PENDING, STEP_CACHED, STEP_RAN, STEP_RESUMED, STEP_FAILED, STEP_SKIPPED, STEP_WILL_RUN,
	STEP_BLOCKED, STEP_MISSING_INPUT
};
const char *steps_state_name(enum step_state s);

struct plan_row {
	int step;
	enum step_state state;           /* CACHED, WILL_RUN, BLOCKED (waits on an upstream),
					    MISSING_INPUT (its source file is absent: see note) */
	char note[256];
	struct digest action;            /* valid when has_action */
	int has_action;
	int n_out;
	struct digest out[STEP_MAX_OUT];
};

/* What `engrave run` would do (reads the store only). rows has SPEC_NSTEPS
 * entries; *n_rows gets the number of present steps. */
int steps_plan(struct store *st, const struct spec *sp, struct plan_row *rows, int *n_rows,
	       struct err *e);

struct runner_opts {
	const char *resume_run;          /* id of a run to resume, or NULL for a new run */
	int force;                       /* ignore the action cache */
	/*
	 * Called once every step has finished, before the run is marked done
	 * (the CLI computes the run's metrics here: the analysis layer sits
	 * above this one). 0: done; 1: the run lacks data it must have, `e`
	 * says what: status "incomplete"; -1: status "failed". May be NULL.
	 */
	int (*finish)(struct store *st, struct run_record *rec, void *ctx, struct err *e);
	void *finish_ctx;
	int verify_all;                  /* ingest: check every record's id, not only a sample */
	/* A shell command run before each phase of a load-test sweep (after an
	 * ef_search sweep has set the value), with ENGRAVE_SWEEP_KEY,
	 * ENGRAVE_SWEEP_VALUE and ENGRAVE_SWEEP_PHASE (1-based) in its
	 * environment; the phase waits for the target's health after it. NULL: none. */
	const char *between_phases;
	/* A remote store (remote.h) or NULL: a pure step the local action cache
	 * lacks is looked up there before it runs, and a pure step that ran is
	 * written back. The remote failing only warns: the run goes on locally. */
	struct remote *remote;
	/* An execution segment (sched.h) or NULL: the load test sends only that
	 * segment's requests of the schedule (a shard of a distributed run). */
	const struct sched_segment *segment;
	/* Called by the load test once, right before its first request (after
	 * ingest): a shard's start barrier. Non-zero fails the step. NULL: none. */
	int (*before_load)(void *ctx, struct err *e);
	void *before_load_ctx;
};

/*
 * Run the spec. Creates (or resumes) a run record in the store, executes or
 * reuses each present step in order and leaves the final record in *rec
 * (caller releases with run_record_release). Returns 0 when every step
 * finished and o->finish accepted the run; -1 with `e` set otherwise (the
 * record says which step failed, and its status is "failed", "interrupted"
 * or "incomplete"). A refusal before the run starts (resuming a run made
 * from another spec) writes nothing and leaves rec->id empty.
 */
int steps_run(struct store *st, const struct spec *sp, const struct runner_opts *o,
	      struct run_record *rec, struct err *e);

/* The generator options of the synthetic step (synth.h) for this spec:
 * row i of its output is synth_generate(opts, centroids, ..., i, 1, ...). */
void steps_synth_opts(const struct spec *sp, struct synth_opts *o);

/* Digest of the corpus source file (when the spec names one). */
int steps_source_digest(const struct spec *sp, struct digest *out, int *has, struct err *e);

/* Set by SIGINT/SIGTERM handlers; steps poll it between chunks. */
void steps_request_stop(void);
int steps_stop_requested(void);
/* The flag itself, for loops that poll a sig_atomic_t (net/loadgen.c). */
volatile sig_atomic_t *steps_stop_flag(void);

/* The spec's target, opened on first use and kept for the rest of the run
 * (the embedded index lives in memory, so ingest and loadtest must share
 * it). Closed by steps_run. */
int steps_target(struct step_ctx *c, struct target **out, struct err *e);
/* Another handle on the same target, for a thread that makes synchronous
 * calls while others use the run's handle (the embedded index is shared by
 * name). Caller closes it with target_close. */
int steps_target_open_more(struct step_ctx *c, struct target **out, struct err *e);
/* Add or replace a metric in the run record. */
void steps_metric(struct step_ctx *c, const char *key, double value);

/*
 * The fresh vectors the load test stores: vector j is a pure function of
 * (spec seed, j, centroids), from its own RNG stream, so analysis can
 * regenerate them to score recall. cent may be NULL (then unit vectors).
 */
struct steps_loadvec {
	struct synth_opts so;
	const float *cent;
	uint32_t k, dim;
};
void steps_loadvec_init(struct steps_loadvec *lv, const struct spec *sp, const float *cent, uint32_t k,
			uint32_t dim);
/* text may be NULL. */
void steps_load_vector(const struct steps_loadvec *lv, uint64_t j, float *out, char *text, size_t cap);
/* Ids of load-test stores: "<prefix><j>", prefix "load-<seed>-". */
#define STEPS_STORE_FLAG (1ULL << 63)
/* The loadtest artifact's "hits" entries are [u64 key][k x u64 mapped ids] with
 * key = request index | repeat << STEPS_HITS_REPEAT_SHIFT (a schedule holds
 * fewer than 2^40 requests), so repeat 0's keys are the bare indices. */
#define STEPS_HITS_REPEAT_SHIFT 40

/* Step bodies (src/steps/<name>.c). */
int step_corpus_run(struct step_ctx *c, struct err *e);
int step_embed_run(struct step_ctx *c, struct err *e);
int step_centroids_run(struct step_ctx *c, struct err *e);
int step_synthetic_run(struct step_ctx *c, struct err *e);
int step_queries_run(struct step_ctx *c, struct err *e);
int step_groundtruth_run(struct step_ctx *c, struct err *e);
int step_ingest_run(struct step_ctx *c, struct err *e);
int step_loadtest_run(struct step_ctx *c, struct err *e);
int step_runbook_run(struct step_ctx *c, struct err *e);

/*
 * The ingest receipt's "window" part: the adaptive window over time (pump.h's
 * pump_sample, a row a second), INGEST_WINDOW_ROW little-endian bytes a row:
 * t_ms u32, window u16, min_window u16, in_flight u16, 2 zero bytes,
 * latency_ms u32, completed u64, 4 zero bytes.
 */
#define INGEST_WINDOW_ROW 28

/*
 * The loadtest artifact's "errors" part (absent in artifacts from before it
 * and when nothing failed): the first message of each (op, status, error
 * class) group of failed requests (loadgen.h's err_groups; over repeats, the
 * first repeat's), a row each: op u8, err u8, status u16 LE, len u16 LE,
 * then len bytes of message (no NUL), len <= LOADGEN_ERR_MSG.
 */
#define LOADTEST_ERRORS_PART "errors"
#define LOADTEST_ERRORS_HEAD 6

#endif
