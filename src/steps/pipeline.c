/*
 * pipeline.c — the step table, the edges between steps, action keys, and
 * the DAG runner behind `engrave run` and `engrave plan`.
 *
 * The DAG is small and fixed (DESIGN.md section 3), so it is a table in
 * pipeline order plus steps_inputs(), which derives the edges a given spec
 * implies; running in table order is a topological order.
 *
 * Action key (Bazel's AC key, DVC's run-cache key): SHA-256 over a framed,
 * length-prefixed encoding of
 *     "engrave-action-v1", step name, step version,
 *     spec_step_params() (canonical JSON of the step's resolved params),
 *     the spec seed, each input as (step name, digest), optional extra digest
 *     (corpus: its source file; groundtruth: the target's metric).
 * Framing every field with its length makes the encoding injective, so two
 * different actions cannot hash the same bytes.
 *
 * Pure steps: an action-cache hit reuses the outputs (state "cached");
 * a miss runs the step and records the outputs in the action cache. Hits
 * are verified (ac_get_verified): outputs gc or repair dropped are a miss.
 * With a remote (runner_opts.remote), a local miss asks the remote first
 * (its entry and outputs are pulled, verified, into the local store) and a
 * step that ran is pushed back; the remote failing is only a warning.
 * A run holds its lease (store.h) from the moment its record is known, so
 * a second process on the same run stops with ERR_BUSY before it runs
 * anything, and gc keeps what the run stores.
 * Effectful steps (ingest, loadtest) always run inside the run, journaling
 * their progress so that a resumed run continues where it stopped.
 * The run record is rewritten after every step.
 *
 * Environment: the machine (sysinfo.h) is captured into the record when
 * the run (or its resumption) starts, and at the end the conditions since
 * then (load after, steal) and the target's own description
 * (target_describe_env) are added, so every result carries what it was
 * measured on. None of it can fail a run.
 */
#include "engrave/steps.h"
#include "engrave/buf.h"
#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/remote.h"
#include "engrave/store.h"
#include "engrave/sysinfo.h"
#include "engrave/target.h"
#include "engrave/version.h"
#include "engrave/xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static const struct step_def step_table[STEP_COUNT] = {
	[STEP_CORPUS] = { "corpus", 1, 0, step_corpus_run },
	[STEP_EMBED] = { "embed", 1, 0, step_embed_run },
	[STEP_CENTROIDS] = { "centroids", 1, 0, step_centroids_run },
	[STEP_SYNTHETIC] = { "synthetic", 1, 0, step_synthetic_run },
	[STEP_QUERIES] = { "queries", 1, 0, step_queries_run },
	[STEP_GROUNDTRUTH] = { "groundtruth", 1, 0, step_groundtruth_run },
	[STEP_INGEST] = { "ingest", 1, 1, step_ingest_run },
	[STEP_LOADTEST] = { "loadtest", 1, 1, step_loadtest_run },
	[STEP_RUNBOOK] = { "runbook", 1, 1, step_runbook_run },
};
_Static_assert(STEP_COUNT == SPEC_NSTEPS, "one step_table row per spec step");

static volatile sig_atomic_t stop_requested;

void steps_request_stop(void) { stop_requested = 1; }
int steps_stop_requested(void) { return stop_requested != 0; }
volatile sig_atomic_t *steps_stop_flag(void) { return &stop_requested; }

const struct step_def *steps_def(int i)
{
	return i >= 0 && i < SPEC_NSTEPS ? &step_table[i] : NULL;
}

const char *steps_state_name(enum step_state s)
{
	static const char *names[] = { "pending", "cached", "ran", "resumed", "failed",
				       "skipped", "will-run", "blocked", "missing-input" };
	return names[s];
}

/*
 * Roles. "The corpus vectors" are made by whichever step the spec has for
 * them: embed when present, else the corpus step itself (a vector-file
 * corpus: npy, fvecs). -1 when the spec has no corpus vectors.
 */
static int steps_corpus_vectors_step(const struct spec *sp)
{
	if (sp->embed.present)
		return STEP_EMBED;
	if (sp->corpus.present && (sp->corpus.source == SPEC_SRC_NPY || sp->corpus.source == SPEC_SRC_FVECS))
		return STEP_CORPUS;
	return -1;
}

/* The step that makes the vectors of an ingest set (corpus or synthetic); -1: none. */
static int steps_set_step(const struct spec *sp, enum spec_set set)
{
	if (set == SPEC_SET_CORPUS)
		return steps_corpus_vectors_step(sp);
	return sp->synthetic.present ? STEP_SYNTHETIC : -1;
}

size_t steps_base_sets(const struct spec *sp, enum spec_set out[2])
{
	if (sp->ingest.present) {
		for (size_t i = 0; i < sp->ingest.n_sets && i < 2; i++)
			out[i] = sp->ingest.sets[i];
		return sp->ingest.n_sets < 2 ? sp->ingest.n_sets : 2;
	}
	out[0] = SPEC_SET_CORPUS;
	out[1] = SPEC_SET_SYNTHETIC;
	return 2;
}

const char *steps_set_step_name(const struct spec *sp, enum spec_set set)
{
	int s = steps_set_step(sp, set);
	return s < 0 ? NULL : step_table[s].name;
}

const struct digest *step_input(const struct step_ctx *c, enum step_id id)
{
	if ((int)id < 0 || id >= STEP_COUNT || !c->done.has[id])
		return NULL;
	return &c->done.out[id];
}

const struct digest *step_corpus_vectors(const struct step_ctx *c)
{
	int s = steps_corpus_vectors_step(c->spec);
	return s < 0 ? NULL : step_input(c, (enum step_id)s);
}

const struct digest *step_set_vectors(const struct step_ctx *c, enum spec_set set)
{
	int s = steps_set_step(c->spec, set);
	return s < 0 ? NULL : step_input(c, (enum step_id)s);
}

static void add_in(int *in, int *n, int step)
{
	if (step >= 0 && *n < STEP_MAX_IN)
		in[(*n)++] = step;
}

/*
 * The steps whose outputs step i reads, for this spec (indices, -1 ended),
 * e.g. embed -> {corpus}; groundtruth -> {queries, embed, synthetic}.
 */
static int steps_inputs(const struct spec *sp, int i, int inputs[STEP_MAX_IN])
{
	int n = 0;
	switch (i) {
	case STEP_EMBED:
		add_in(inputs, &n, STEP_CORPUS);
		break;
	case STEP_CENTROIDS:
		if (sp->centroids.from == SPEC_FROM_STORE)
			add_in(inputs, &n, steps_corpus_vectors_step(sp));
		break;
	case STEP_SYNTHETIC:
		add_in(inputs, &n, STEP_CENTROIDS);
		break;
	case STEP_QUERIES:
		if (sp->queries.source == SPEC_QSRC_CORPUS)
			add_in(inputs, &n, steps_corpus_vectors_step(sp));
		else if (sp->queries.source == SPEC_QSRC_SYNTHETIC)
			add_in(inputs, &n, STEP_SYNTHETIC);
		else
			add_in(inputs, &n, STEP_CENTROIDS);
		break;
	case STEP_GROUNDTRUTH:
		add_in(inputs, &n, STEP_QUERIES);
		if (sp->ingest.present) {
			for (size_t k = 0; k < sp->ingest.n_sets; k++)
				add_in(inputs, &n, steps_set_step(sp, sp->ingest.sets[k]));
		} else {
			add_in(inputs, &n, steps_corpus_vectors_step(sp));
			if (sp->synthetic.present)
				add_in(inputs, &n, STEP_SYNTHETIC);
		}
		break;
	case STEP_INGEST:
		for (size_t k = 0; k < sp->ingest.n_sets; k++)
			add_in(inputs, &n, steps_set_step(sp, sp->ingest.sets[k]));
		break;
	case STEP_LOADTEST:
		if (sp->ingest.present)
			add_in(inputs, &n, STEP_INGEST);
		if (sp->queries.present)
			add_in(inputs, &n, STEP_QUERIES);
		if (sp->groundtruth.present)
			add_in(inputs, &n, STEP_GROUNDTRUTH);
		if (sp->centroids.present)
			add_in(inputs, &n, STEP_CENTROIDS);
		break;
	case STEP_RUNBOOK: /* what it writes, the state before it, its queries */
		if (sp->ingest.present)
			add_in(inputs, &n, STEP_INGEST);
		if (sp->queries.present)
			add_in(inputs, &n, STEP_QUERIES);
		add_in(inputs, &n, steps_set_step(sp, SPEC_SET_SYNTHETIC));
		add_in(inputs, &n, steps_set_step(sp, SPEC_SET_CORPUS));
		break;
	default:
		break;
	}
	/* drop inputs whose step is absent from the spec (validated earlier) */
	int m = 0;
	for (int k = 0; k < n; k++)
		if (spec_step_present(sp, spec_step_names[inputs[k]]))
			inputs[m++] = inputs[k];
	for (int k = m; k < STEP_MAX_IN; k++)
		inputs[k] = -1;
	return m;
}

static void frame(struct hash_ctx *h, const void *p, size_t len)
{
	uint8_t l[8];
	for (int i = 0; i < 8; i++)
		l[i] = (uint8_t)((uint64_t)len >> (8 * i));
	hash_update(h, l, 8);
	hash_update(h, p, len);
}

static void frame_str(struct hash_ctx *h, const char *s)
{
	frame(h, s, strlen(s));
}

int steps_action_key(const struct spec *sp, int i, const struct digest *inputs, int n_inputs,
		     const struct digest *extra, struct digest *key, struct err *e)
{
	const struct step_def *d = steps_def(i);
	if (!d)
		return err_set(e, ERR_INTERNAL, "no step %d", i);
	struct buf params;
	buf_init(&params, 0);
	if (spec_step_params(sp, d->name, &params, e)) {
		buf_release(&params);
		return -1;
	}
	int in[STEP_MAX_IN];
	int n = steps_inputs(sp, i, in);
	if (n != n_inputs) {
		buf_release(&params);
		return err_set(e, ERR_INTERNAL, "step '%s' expects %d inputs, got %d", d->name, n, n_inputs);
	}
	struct hash_ctx h;
	hash_init(&h);
	frame_str(&h, "engrave-action-v1");
	frame_str(&h, d->name);
	char ver[16];
	snprintf(ver, sizeof(ver), "%u", d->version);
	frame_str(&h, ver);
	frame(&h, params.data, params.len);
	char seed[32];
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)sp->seed);
	frame_str(&h, seed);
	for (int k = 0; k < n; k++) {
		frame_str(&h, step_table[in[k]].name);
		frame(&h, inputs[k].b, DIGEST_LEN);
	}
	if (extra)
		frame(&h, extra->b, DIGEST_LEN);
	else
		frame(&h, "", 0);
	hash_final(&h, key);
	buf_release(&params);
	return 0;
}

/* strncpy that always terminates and never warns about truncation. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Effectful: changes or reads a live target, so never memoized. */
static int step_effectful(const struct spec *sp, int i)
{
	return step_table[i].effectful || (i == STEP_CENTROIDS && sp->centroids.from == SPEC_FROM_TARGET);
}

/* ------------------------------------------------------------------ */
/* The action cache holds {"outputs": [...], "elapsed_ns"} (store.h). */

static int ac_get_outputs(struct store *st, const struct digest *key, struct digest *out, int cap,
			  int *n, struct err *e)
{
	struct buf v;
	buf_init(&v, 0);
	*n = 0;
	int hit = ac_get_verified(st, key, &v, e);
	if (hit == 1) {
		uint64_t elapsed;
		if (ac_value_decode(v.data, v.len, out, cap, n, &elapsed, e))
			hit = -1;
		else if (*n > cap)
			*n = cap;
	}
	buf_release(&v);
	return hit;
}

static int ac_put_outputs(struct store *st, const struct digest *key, const struct digest *out, int n,
			  uint64_t elapsed_ns, struct err *e)
{
	struct buf v;
	buf_init(&v, 0);
	int rc = ac_value_encode(out, n, elapsed_ns, &v, e);
	if (!rc)
		rc = ac_put(st, key, v.data, v.len, e);
	buf_release(&v);
	return rc;
}

/* The local cache, then (on a miss) the remote's entry pulled into it. */
static int ac_lookup(struct store *st, const struct runner_opts *o, const char *step, const struct digest *key,
		     struct digest *out, int *n, struct err *e)
{
	int hit = ac_get_outputs(st, key, out, STEP_MAX_OUT, n, e);
	if (hit != 0 || !o || !o->remote)
		return hit;
	struct err re = ERR_INIT;
	int got = remote_fetch_action(o->remote, st, key, &re);
	if (got < 0)
		log_warn("%s: the remote cache failed, computing it here: %s", step, re.msg);
	if (got != 1)
		return 0;
	log_info("%-11s fetched from the remote %s", step, remote_url(o->remote));
	return ac_get_outputs(st, key, out, STEP_MAX_OUT, n, e);
}

/* A pure step's fresh result, written back to the remote (best effort). */
static void ac_share(struct store *st, const struct runner_opts *o, const char *step, const struct digest *key)
{
	struct err re = ERR_INIT;
	if (o && o->remote && remote_push_action(o->remote, st, key, &re))
		log_warn("%s: cannot write the result to the remote: %s", step, re.msg);
}

static int action_for(const struct spec *sp, int i, const struct step_outputs *done, struct digest *key,
		      int *ready, struct err *e)
{
	int in[STEP_MAX_IN];
	int n = steps_inputs(sp, i, in);
	struct digest ins[STEP_MAX_IN];
	*ready = 1;
	for (int k = 0; k < n; k++) {
		if (!done->has[in[k]]) {
			*ready = 0;
			return 0;
		}
		ins[k] = done->out[in[k]];
	}
	struct digest extra;
	int has_extra = 0;
	if (i == STEP_CORPUS && steps_source_digest(sp, &extra, &has_extra, e))
		return -1;
	if (i == STEP_GROUNDTRUTH) {
		/* the exact neighbours depend on the target's metric (target.hnsw.space),
		 * which is no groundtruth param: without it an l2 spec reused the cosine truth */
		char metric[32];
		int len = snprintf(metric, sizeof(metric), "metric:%s", spec_space_names[sp->target.hnsw.space]);
		hash_bytes(metric, (size_t)len, &extra);
		has_extra = 1;
	}
	return steps_action_key(sp, i, ins, n, has_extra ? &extra : NULL, key, e);
}

int steps_plan(struct store *st, const struct spec *sp, struct plan_row *rows, int *n_rows,
	       struct err *e)
{
	struct step_outputs done;
	memset(&done, 0, sizeof(done));
	int n = 0;
	for (int i = 0; i < SPEC_NSTEPS; i++) {
		if (!spec_step_present(sp, step_table[i].name))
			continue;
		struct plan_row *r = &rows[n++];
		memset(r, 0, sizeof(*r));
		r->step = i;
		int ready = 0;
		struct err ae = ERR_INIT;
		if (action_for(sp, i, &done, &r->action, &ready, &ae)) {
			if (ae.cls != ERR_MISSING) {
				if (e)
					*e = ae;
				return -1;
			}
			r->state = STEP_MISSING_INPUT; /* plan on: show the rest */
			copy_str(r->note, sizeof(r->note), ae.msg);
			continue;
		}
		r->has_action = ready;
		if (!ready) {
			r->state = STEP_BLOCKED;
			continue;
		}
		if (step_effectful(sp, i)) {
			r->state = STEP_WILL_RUN;
			continue;
		}
		int hit = st ? ac_get_outputs(st, &r->action, r->out, STEP_MAX_OUT, &r->n_out, e) : 0;
		if (hit < 0)
			return -1;
		if (hit && r->n_out > 0) {
			r->state = STEP_CACHED;
			done.out[i] = r->out[0];
			done.has[i] = 1;
		} else {
			r->state = STEP_WILL_RUN;
		}
	}
	*n_rows = n;
	return 0;
}

/* The process's peak resident set so far (getrusage), as metric
 * "rss_peak_mb.<step>" after each step that ran: where memory went. A
 * resumed run reports its own process's peak. */
static void record_peak_rss(struct step_ctx *c, const char *step)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return;
	char key[48];
	snprintf(key, sizeof(key), "rss_peak_mb.%s", step);
	steps_metric(c, key, (double)ru.ru_maxrss / 1024.0);
}

/* ------------------------------------------------------------------ */

static struct run_step *run_step_slot(struct run_record *rec, const char *name)
{
	for (int k = 0; k < rec->n_steps; k++)
		if (!strcmp(rec->steps[k].name, name))
			return &rec->steps[k];
	if (rec->n_steps >= (int)(sizeof(rec->steps) / sizeof(rec->steps[0])))
		BUG("too many steps in a run record");
	struct run_step *s = &rec->steps[rec->n_steps++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->state, sizeof(s->state), "pending");
	return s;
}

static void set_state(struct run_step *s, enum step_state st)
{
	snprintf(s->state, sizeof(s->state), "%s", steps_state_name(st));
}

static int save_run(struct store *st, struct run_record *rec, const char *status, struct err *e)
{
	if (status)
		snprintf(rec->status, sizeof(rec->status), "%s", status);
	rec->updated = clock_unix_now();
	return run_put(st, rec, e);
}

static int init_record(struct store *st, const struct spec *sp, const struct runner_opts *o,
		       struct run_record *rec, struct err *e)
{
	struct digest sd;
	spec_digest(sp, &sd);
	if (o && o->resume_run) {
		if (run_get(st, o->resume_run, rec, e)) {
			memset(rec, 0, sizeof(*rec));
			return -1;
		}
		if (!digest_equal(&rec->spec_digest, &sd)) {
			err_set(e, ERR_USAGE, "run %s was made from a different spec (%s)", o->resume_run,
				rec->spec_name);
			char sets[ERR_MSG_MAX / 2] = "";
			for (int k = 0, n = 0; k < rec->n_overrides && n < (int)sizeof(sets); k++)
				n += snprintf(sets + n, sizeof(sets) - (size_t)n, " --set %s", rec->overrides[k]);
			run_record_release(rec);
			memset(rec, 0, sizeof(*rec)); /* nothing of it may be written back */
			if (sets[0])
				return err_hint(e, "it was run with its overrides:%s; give the same ones to resume it", sets);
			return err_hint(e, "resume it with 'engrave replay %s', or start a new run", o->resume_run);
		}
		if (!strcmp(rec->status, "done")) {
			/* a finished run's measurements are history: never re-measured in place */
			err_set(e, ERR_USAGE, "run %s is done; its measurements are kept as they are", rec->id);
			run_record_release(rec);
			memset(rec, 0, sizeof(*rec));
			return err_hint(e, "start a new run of the spec, or 'engrave replay %s'", o->resume_run);
		}
		return 0;
	}
	memset(rec, 0, sizeof(*rec));
	run_new_id(rec->id, sizeof(rec->id));
	snprintf(rec->spec_name, sizeof(rec->spec_name), "%s", sp->name);
	rec->spec_digest = sd;
	rec->spec_text = xstrdup(spec_source_text(sp));
	const char *sets[RUN_MAX_OVERRIDES];
	run_record_set_overrides(rec, sets, spec_sets(sp, sets, RUN_MAX_OVERRIDES));
	run_env_fill(rec);
	snprintf(rec->engrave_version, sizeof(rec->engrave_version), "%s", ENGRAVE_VERSION);
	rec->created = clock_unix_now();
	for (int i = 0; i < SPEC_NSTEPS; i++)
		if (spec_step_present(sp, step_table[i].name))
			run_step_slot(rec, step_table[i].name);
	return save_run(st, rec, "running", e);
}

/* The run's end: the conditions since `start`, then the target's own
 * description (not after an interrupt: nothing more is sent then), and the
 * target is closed. */
static void finish_env(struct step_ctx *c, const struct sysinfo *start, int describe)
{
	struct sysinfo end;
	sysinfo_snap(&end);
	sysinfo_env_end(start, &end, &c->run->env);
	if (c->target && describe)
		target_describe_env(c->target, &c->run->env);
	target_close(c->target);
	c->target = NULL;
}

int steps_run(struct store *st, const struct spec *sp, const struct runner_opts *o,
	      struct run_record *rec, struct err *e)
{
	if (init_record(st, sp, o, rec, e))
		return -1;
	struct run_lease *lease; /* held until store_close: also covers the caller's last record writes */
	if (run_lease_acquire(st, rec->id, &lease, e)) {
		run_record_release(rec);
		memset(rec, 0, sizeof(*rec)); /* the live holder owns the record: write nothing */
		return -1;
	}
	log_info("run %s: spec '%s'", rec->id, sp->name);
	struct sysinfo sys0;
	sysinfo_snap(&sys0);
	sysinfo_env_start(&sys0, &rec->env);
	struct step_ctx c;
	memset(&c, 0, sizeof(c));
	c.store = st;
	c.spec = sp;
	c.run = rec;
	c.run_id = rec->id;
	c.resume = o && o->resume_run;
	c.verify_all = o && o->verify_all;
	c.between_phases = o ? o->between_phases : NULL;
	c.segment = o ? o->segment : NULL;
	c.before_load = o ? o->before_load : NULL;
	c.before_load_ctx = o ? o->before_load_ctx : NULL;
	int rc = 0;
	for (int i = 0; i < SPEC_NSTEPS && rc == 0; i++) {
		const struct step_def *d = &step_table[i];
		if (!spec_step_present(sp, d->name))
			continue;
		struct run_step *rs = run_step_slot(rec, d->name);
		int ready = 0;
		if (action_for(sp, i, &c.done, &c.action, &ready, e))
			goto failed;
		if (!ready)
			BUG("step '%s' has an input that did not run", d->name);
		rs->action = c.action;
		int effectful = step_effectful(sp, i);
		if (!effectful && !(o && o->force)) {
			int n_out = 0;
			int hit = ac_lookup(st, o, d->name, &c.action, c.out, &n_out, e);
			if (hit < 0)
				goto failed;
			if (hit && n_out > 0) {
				rs->n_out = n_out;
				memcpy(rs->out, c.out, sizeof(c.out[0]) * (size_t)n_out);
				set_state(rs, STEP_CACHED);
				c.done.out[i] = c.out[0];
				c.done.has[i] = 1;
				log_info("%-11s cached", d->name);
				if (save_run(st, rec, NULL, e))
					goto failed;
				continue;
			}
		}
		c.n_out = 0;
		c.summary[0] = '\0';
		mono_ns t0 = clock_mono_now();
		log_info("%-11s running", d->name);
		if (d->run(&c, e)) {
			rs->elapsed_ns = clock_mono_now() - t0;
			set_state(rs, STEP_FAILED);
			copy_str(rs->message, sizeof(rs->message), e ? e->msg : "failed");
			goto failed;
		}
		if (c.n_out < 1)
			BUG("step '%s' produced no output", d->name);
		rs->elapsed_ns = clock_mono_now() - t0;
		record_peak_rss(&c, d->name);
		rs->n_out = c.n_out;
		memcpy(rs->out, c.out, sizeof(c.out[0]) * (size_t)c.n_out);
		set_state(rs, c.resume && effectful ? STEP_RESUMED : STEP_RAN);
		copy_str(rs->message, sizeof(rs->message), c.summary);
		if (!effectful && ac_put_outputs(st, &c.action, c.out, c.n_out, rs->elapsed_ns, e))
			goto failed;
		if (!effectful)
			ac_share(st, o, d->name, &c.action);
		c.done.out[i] = c.out[0];
		c.done.has[i] = 1;
		char dur[32];
		clock_format_duration(rs->elapsed_ns, dur, sizeof(dur));
		log_info("%-11s done in %s%s%s", d->name, dur, c.summary[0] ? ": " : "", c.summary);
		if (save_run(st, rec, NULL, e))
			goto failed;
	}
	finish_env(&c, &sys0, 1);
	if (o && o->finish) {
		int f = o->finish(st, rec, o->finish_ctx, e);
		if (f > 0) {
			struct err ignored = ERR_INIT;
			save_run(st, rec, "incomplete", &ignored);
			return -1;
		}
		if (f < 0)
			goto failed;
	}
	return save_run(st, rec, "done", e);
failed:;
	finish_env(&c, &sys0, !(e && e->cls == ERR_INTERRUPTED) && !steps_stop_requested());
	struct err ignored = ERR_INIT;
	const char *status = e && e->cls == ERR_INTERRUPTED ? "interrupted" : "failed";
	save_run(st, rec, status, &ignored);
	return -1;
}
