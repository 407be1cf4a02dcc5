/*
 * target_mem.c — a spec against the machine: the memory its steps would hold.
 *
 * The spec layer bounds every count on its own (rows x dim x 4 cannot wrap
 * around), but whether an experiment fits depends on the machine, so this is
 * checked where a spec is loaded to be run (target_spec_load_file/_string;
 * a stored spec is never checked, as it ran somewhere): each step's memory is
 * estimated from the spec and compared with the machine's RAM
 * (sysconf _SC_PHYS_PAGES, i.e. MemTotal). A spec that cannot fit is refused
 * with "file:line:col: key: the queries step would hold about 2.8 TiB in
 * memory (...), more than the 23.4 GiB this machine has", blaming the key of
 * the largest term, before a run record exists.
 *
 * The estimate is a lower bound: only the arrays each step allocates in
 * proportion to the spec's counts, as the step files allocate them today
 * (queries.c, centroids.c and data/kmeans.c, groundtruth.c and data/knn.c,
 * ingest.c, loadtest.c and net/loadgen.c); a vector-file corpus whose
 * dimension is only known when read counts as 1-d, and a corpus without a
 * limit as empty. Steps that stream (corpus, embed, synthetic) need none.
 * Sums and products saturate at UINT64_MAX. The load test's request count
 * is the scheduler's own (sched_init), per phase of a sweep.
 */
#include "engrave/target.h"
#include "targets/target_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engrave/err.h"
#include "engrave/records.h"
#include "engrave/sched.h"
#include "engrave/spec.h"
#include "engrave/text.h"

#define TERMS_MAX 8

struct term {
	const char *key;  /* the spec key to lower */
	uint64_t bytes;
	char what[128];   /* "1000000 queries x 768 floats" */
};

struct need {
	const char *step;
	struct term t[TERMS_MAX];
	int n;
};

static uint64_t mul(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void term(struct need *nd, const char *key, uint64_t bytes, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void term(struct need *nd, const char *key, uint64_t bytes, const char *fmt, ...)
{
	if (nd->n >= TERMS_MAX || bytes == 0)
		return;
	struct term *t = &nd->t[nd->n++];
	t->key = key;
	t->bytes = bytes;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->what, sizeof(t->what), fmt, ap);
	va_end(ap);
}

static uint64_t total(const struct need *nd)
{
	uint64_t s = 0;
	for (int i = 0; i < nd->n; i++)
		s = add(s, nd->t[i].bytes);
	return s;
}

static unsigned long long ull(uint64_t v) { return (unsigned long long)v; }

/* The load test's requests in its largest phase (a sweep runs one per value). */
static int loadtest_ops(const struct spec *sp, uint64_t *ops, const char **key, struct err *e)
{
	const struct spec_loadtest *lt = &sp->loadtest;
	struct sched_params base;
	sched_params_from_spec(lt, sp->seed, &base);
	size_t phases = lt->n_rates ? lt->n_rates : 1;
	*ops = 0;
	*key = lt->n_rates ? "steps.loadtest.rates" : "steps.loadtest.duration";
	for (size_t i = 0; i < phases; i++) {
		struct sched_params p = base;
		if (lt->n_rates) {
			if (p.pattern != SCHED_POISSON)
				p.pattern = SCHED_CONSTANT;
			p.rate = lt->rates[i];
		}
		struct sched s;
		struct err se = ERR_INIT;
		if (sched_init(&s, &p, &se))
			return spec_key_error(sp, *key, e, "%s", se.msg);
		if (sched_count(&s) > *ops)
			*ops = sched_count(&s);
	}
	return 0;
}

/* Every step's need; n_steps set. */
static int needs(const struct spec *sp, struct need *nd, int *n_steps, struct err *e)
{
	uint64_t d = spec_vector_dim(sp) ? spec_vector_dim(sp) : 1, vec = mul(d, 4);
	uint64_t corpus = sp->corpus.present ? sp->corpus.limit : 0; /* 0: unknown */
	uint64_t syn = sp->synthetic.present ? sp->synthetic.count : 0;
	uint64_t q = sp->queries.present ? sp->queries.count : 0;
	uint64_t k = sp->centroids.k;
	const struct target_driver *drv = sp->target.present ? target_driver_find(sp->target.driver) : NULL;
	int http = drv && drv->ops && drv->ops->build_store;
	int n = 0;
	memset(nd, 0, sizeof(*nd) * SPEC_NSTEPS);

	if (sp->centroids.present) {
		struct need *c = &nd[n++];
		c->step = "centroids";
		if (sp->centroids.from == SPEC_FROM_RANDOM) {
			term(c, "steps.centroids.k", mul(k, add(vec, 8)), "%llu centres x %llu floats", ull(k), ull(d));
		} else {
			/* the result, k-means' double master copy and its float copy */
			term(c, "steps.centroids.k", mul(k, add(mul(d, 16), 8)), "%llu centres x %llu floats, 3 copies",
			     ull(k), ull(d));
			if (sp->centroids.algorithm == SPEC_KMEANS_MINIBATCH)
				term(c, "steps.centroids.batch_size", mul(sp->centroids.batch_size, add(vec, 8)),
				     "mini-batches of %llu vectors", ull(sp->centroids.batch_size));
			if (sp->centroids.from == SPEC_FROM_STORE && corpus)
				term(c, "steps.corpus.limit", mul(corpus, add(vec, 8)), "%llu corpus vectors of %llu floats",
				     ull(corpus), ull(d));
		}
	}
	if (sp->synthetic.present) {
		struct need *c = &nd[n++];
		c->step = "synthetic"; /* streamed: only the centroids are held */
		term(c, "steps.centroids.k", mul(k, vec), "%llu centres x %llu floats", ull(k), ull(d));
	}
	if (sp->queries.present) {
		struct need *c = &nd[n++];
		c->step = "queries";
		term(c, "steps.queries.count", mul(q, add(vec, 8)), "%llu queries x %llu floats", ull(q), ull(d));
		if (sp->queries.source == SPEC_QSRC_SYNTHETIC)
			term(c, "steps.synthetic.count", mul(syn, add(vec, 16)), "the %llu synthetic vectors they are drawn from",
			     ull(syn));
		else if (sp->queries.source == SPEC_QSRC_CORPUS && corpus)
			term(c, "steps.corpus.limit", mul(corpus, add(vec, 8)), "the %llu corpus vectors they are drawn from",
			     ull(corpus));
		else if (sp->queries.source == SPEC_QSRC_HELDOUT)
			term(c, "steps.centroids.k", mul(k, vec), "%llu centres", ull(k));
	}
	if (sp->groundtruth.present) {
		struct need *c = &nd[n++];
		uint64_t gk = sp->groundtruth.k;
		c->step = "groundtruth";
		term(c, "steps.queries.count", mul(q, add(mul(vec, 2), 20)), "%llu queries x %llu floats, twice", ull(q),
		     ull(d));
		/* the running top-k (16 B a candidate) and the ids, ids and scores out */
		term(c, "steps.groundtruth.k", mul(mul(q, gk), 32), "top-%llu of %llu queries", ull(gk), ull(q));
	}
	if (sp->ingest.present) {
		struct need *c = &nd[n++];
		const struct spec_ingest *si = &sp->ingest;
		c->step = "ingest";
		uint64_t rows_all = 0;
		for (size_t i = 0; i < si->n_sets; i++) {
			int is_syn = si->sets[i] == SPEC_SET_SYNTHETIC;
			uint64_t rows = is_syn ? syn : corpus;
			rows_all = add(rows_all, rows);
			/* ids, labels, confidence, state; an in-process target holds the vectors too */
			uint64_t per = add(is_syn ? 17 : 25, http ? 0 : add(vec, 64));
			term(c, is_syn ? "steps.synthetic.count" : "steps.corpus.limit", mul(rows, per),
			     "%llu %s records%s", ull(rows), is_syn ? "synthetic" : "corpus", http ? "" : " held in process");
		}
		/* a request's records (vector, id, text, result); an HTTP driver may
		 * cap the batch, so only the in-process one counts */
		if (!http)
			term(c, "steps.ingest.batch_size", mul(si->batch_size, add(vec, 512)), "batches of %llu records",
			     ull(si->batch_size));
		uint64_t rb = si->verify_sample < rows_all ? si->verify_sample : rows_all;
		term(c, "steps.ingest.verify_sample", mul(rb, add(vec, 512)), "%llu records read back", ull(rb));
	}
	if (sp->loadtest.present) {
		struct need *c = &nd[n++];
		const struct spec_loadtest *lt = &sp->loadtest;
		c->step = "loadtest";
		uint64_t ops;
		const char *key;
		if (loadtest_ops(sp, &ops, &key, e))
			return -1;
		/* a record and k mapped hit ids per request */
		term(c, key, mul(ops, add(sizeof(struct record) + 1, mul(lt->recall_k, 8))),
		     "%llu requests with top-%llu hits", ull(ops), ull(lt->recall_k));
		uint64_t slots = lt->max_in_flight;
		for (size_t i = 0; i < lt->n_concurrency; i++)
			if (lt->concurrency[i] > slots)
				slots = lt->concurrency[i];
		if (http)
			term(c, lt->n_concurrency ? "steps.loadtest.concurrency" : "steps.loadtest.max_in_flight",
			     mul(slots, vec), "%llu requests in flight x %llu floats", ull(slots), ull(d));
		term(c, "steps.queries.count", mul(q, add(vec, 8)), "%llu recall cues", ull(q));
		if (corpus)
			term(c, "steps.corpus.limit", mul(corpus, 24), "%llu corpus ids", ull(corpus));
	}
	*n_steps = n;
	return 0;
}

int target_spec_check_memory(const struct spec *sp, uint64_t ram, struct err *e)
{
	struct need nd[SPEC_NSTEPS];
	int n;
	if (needs(sp, nd, &n, e))
		return -1;
	for (int i = 0; i < n; i++) {
		uint64_t sum = total(&nd[i]);
		if (sum <= ram || nd[i].n == 0)
			continue;
		const struct term *big = &nd[i].t[0];
		for (int j = 1; j < nd[i].n; j++)
			if (nd[i].t[j].bytes > big->bytes)
				big = &nd[i].t[j];
		char need_s[32], ram_s[32];
		text_format_bytes(sum, need_s, sizeof(need_s));
		text_format_bytes(ram, ram_s, sizeof(ram_s));
		spec_key_error(sp, big->key, e,
			       "the %s step would hold at least %s in memory (%s), more than the %s this machine has",
			       nd[i].step, need_s, big->what, ram_s);
		return err_hint(e, "lower %s, or run the spec on a machine with more memory", big->key);
	}
	return 0;
}

uint64_t target_machine_ram(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
	if (pages <= 0 || size <= 0)
		return UINT64_MAX; /* unknown: check nothing */
	return mul((uint64_t)pages, (uint64_t)size);
}
