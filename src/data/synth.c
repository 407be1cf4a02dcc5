/*
 * synth.c — synthetic vectors: centroid + Gaussian noise, chunked and parallel.
 *
 * synth_generate() is the whole definition of the data (see synth.h): every
 * value comes from Philox by row or element index, never from generator
 * state, so a range is a pure function of its bounds. Rows are built one at
 * a time while they sit in L1: the row's d normals (rng_normal_fill, the
 * vectorised Box–Muller of rng.c), then v = c + std*z (vec_add_scaled),
 * then the fixed-order normalisation of vec.c.
 *
 * synth_run() is the parallel driver. Chunk c covers rows [c*R, (c+1)*R).
 * Workers claim chunk numbers in increasing order from a shared counter and
 * fill slot c % S of a ring of S = threads + 2 buffers; the calling thread
 * waits for chunk `next`, hands it to the sink, frees the slot and wakes the
 * workers. A worker may not claim chunk c until chunk c - S has been
 * delivered, so memory is bounded by S chunks whatever the sink's speed.
 * Since generation is pure, the bytes delivered do not depend on the thread
 * count or on R (tests/unit/test_synth.c compares digests).
 */
#include "engrave/synth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/rng.h"
#include "engrave/vec.h"
#include "engrave/xalloc.h"

void synth_opts_init(struct synth_opts *o, uint64_t count)
{
	memset(o, 0, sizeof *o);
	o->seed = 42;
	o->count = count;
	o->std_dev = 0.1f;
	o->normalize = 1;
	o->conf_base = 0.7f;
	o->conf_jitter = 0.1f;
}

void synth_generate(const struct synth_opts *o, const float *centroids, uint32_t k, uint32_t d,
		    uint64_t start, uint64_t n, float *vecs, uint32_t *labels, float *conf)
{
	const float sd = o->std_dev;
	for (uint64_t r = 0; r < n; r++) {
		uint64_t i = start + r;
		uint32_t lab = rng_below(o->seed, SYNTH_STREAM_LABEL, i, k);
		float *v = vecs + r * d;
		const float *c = centroids + (size_t)lab * d;
		rng_normal_fill(o->seed, SYNTH_STREAM_NOISE, i * d, d, v);
		vec_add_scaled(v, c, sd, d);
		if (o->normalize)
			vec_normalize_rows(v, 1, d);
		if (labels)
			labels[r] = lab;
		if (conf) {
			float u = rng_uniform_f32(o->seed, SYNTH_STREAM_CONF, i);
			float x = o->conf_base + o->conf_jitter * (2.0f * u - 1.0f);
			conf[r] = x < 0 ? 0 : x > 1 ? 1 : x;
		}
	}
}

/* ---- text ---------------------------------------------------------------- */

static const char *const topics[] = {
	"Physics",   "Biology",  "History",   "Music",     "Economics", "Geography",
	"Chemistry", "Medicine", "Astronomy", "Sport",     "Politics",  "Literature",
	"Computing", "Art",      "Religion",  "Geology",   "Film",      "Language",
	"Ecology",   "Law",
};
static const char *const verbs[] = {
	"explains", "describes", "shapes", "influences", "challenges", "supports",
	"reveals",  "connects",  "changes", "questions", "predicts",   "records",
};
static const char *const objects[] = {
	"the result",       "early theories", "modern practice", "a common pattern",
	"the main idea",    "local traditions", "new evidence",  "the wider field",
	"recent findings",  "its history",    "daily life",      "the debate",
	"several methods",  "key events",     "the data",        "future work",
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

size_t synth_text(const struct synth_opts *o, uint64_t i, uint32_t label, char *buf, size_t cap)
{
	const char *t = topics[label % NELEM(topics)];
	const char *v = verbs[rng_below(o->seed, SYNTH_STREAM_TEXT, 2 * i, NELEM(verbs))];
	const char *ob = objects[rng_below(o->seed, SYNTH_STREAM_TEXT, 2 * i + 1, NELEM(objects))];
	int len = snprintf(buf, cap, "Synthetic memory %07llu: %s %s %s.", (unsigned long long)i, t,
			   v, ob);
	return len < 0 ? 0 : (size_t)len;
}

/* ---- parallel driver ------------------------------------------------------- */

struct slot {
	float *vecs;
	uint32_t *labels;
	float *conf;
	int ready;
};

struct run {
	const struct synth_opts *o;
	const float *centroids;
	uint32_t k, d;
	uint64_t rows, nchunks;
	unsigned nslots;
	struct slot *slots;
	pthread_mutex_t mu;
	pthread_cond_t ready_cv, space_cv;
	uint64_t next_claim, next_deliver;
	int stop;
};

static void *worker(void *arg)
{
	struct run *r = arg;
	for (;;) {
		pthread_mutex_lock(&r->mu);
		while (!r->stop && r->next_claim < r->nchunks &&
		       r->next_claim >= r->next_deliver + r->nslots)
			pthread_cond_wait(&r->space_cv, &r->mu);
		if (r->stop || r->next_claim >= r->nchunks) {
			pthread_mutex_unlock(&r->mu);
			return NULL;
		}
		uint64_t c = r->next_claim++;
		pthread_mutex_unlock(&r->mu);

		struct slot *s = &r->slots[c % r->nslots];
		uint64_t start = c * r->rows;
		uint64_t n = r->o->count - start < r->rows ? r->o->count - start : r->rows;
		synth_generate(r->o, r->centroids, r->k, r->d, start, n, s->vecs, s->labels,
			       s->conf);

		pthread_mutex_lock(&r->mu);
		s->ready = 1;
		pthread_cond_broadcast(&r->ready_cv);
		pthread_mutex_unlock(&r->mu);
	}
}

int synth_run(const struct synth_opts *o, const float *centroids, uint32_t k, uint32_t d,
	      uint64_t rows_per_chunk, synth_sink_fn sink, void *ctx, struct err *e)
{
	if (k == 0 || d == 0 || rows_per_chunk == 0)
		return err_set(e, ERR_USAGE,
			       "synth: k, d and rows per chunk must be positive (k=%u d=%u rows=%llu)",
			       k, d, (unsigned long long)rows_per_chunk);
	if (o->count == 0)
		return 0;
	unsigned nthreads = o->threads;
	if (!nthreads) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = cpus > 2 ? (unsigned)cpus : 2;
	}
	if (nthreads > 256)
		nthreads = 256;
	struct run r = { .o = o, .centroids = centroids, .k = k, .d = d, .rows = rows_per_chunk };
	r.nchunks = (o->count + rows_per_chunk - 1) / rows_per_chunk;
	r.nslots = nthreads + 2;
	if (r.nslots > r.nchunks)
		r.nslots = (unsigned)r.nchunks;
	int rc = -1;
	unsigned started = 0;
	pthread_t *tid = xcalloc(nthreads, sizeof *tid);
	r.slots = xcalloc(r.nslots, sizeof *r.slots);
	for (unsigned s = 0; s < r.nslots; s++) { /* chunk buffers: sized by the caller's rows x d */
		r.slots[s].vecs = malloc(xalloc_mul(xalloc_mul(rows_per_chunk, d), sizeof(float)));
		r.slots[s].labels = malloc(xalloc_mul(rows_per_chunk, sizeof(uint32_t)));
		r.slots[s].conf = malloc(xalloc_mul(rows_per_chunk, sizeof(float)));
		if (!r.slots[s].vecs || !r.slots[s].labels || !r.slots[s].conf)
			goto oom;
	}
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.ready_cv, NULL);
	pthread_cond_init(&r.space_cv, NULL);

	struct progress p;
	if (o->progress)
		progress_start(&p, "synthesize", o->count, "vectors");
	for (; started < nthreads; started++)
		if (pthread_create(&tid[started], NULL, worker, &r) != 0)
			break;
	if (started == 0) {
		rc = err_set(e, ERR_INTERNAL, "synth: cannot start worker threads");
		goto join;
	}
	rc = 0;
	for (uint64_t c = 0; c < r.nchunks; c++) {
		struct slot *s = &r.slots[c % r.nslots];
		pthread_mutex_lock(&r.mu);
		while (!s->ready)
			pthread_cond_wait(&r.ready_cv, &r.mu);
		pthread_mutex_unlock(&r.mu);
		uint64_t start = c * r.rows;
		uint64_t n = o->count - start < r.rows ? o->count - start : r.rows;
		if (sink(ctx, start, n, s->vecs, s->labels, s->conf) != 0) {
			if (e && e->cls != ERR_NONE)
				err_prefix(e, "synth: rows %llu..%llu", (unsigned long long)start,
					   (unsigned long long)(start + n - 1));
			else
				err_set(e, ERR_INTERRUPTED, "synth: stopped by the consumer at row %llu",
					(unsigned long long)start);
			rc = -1;
			break;
		}
		if (o->progress)
			progress_add(&p, n, 0, 0);
		pthread_mutex_lock(&r.mu);
		s->ready = 0;
		r.next_deliver++;
		pthread_cond_broadcast(&r.space_cv);
		pthread_mutex_unlock(&r.mu);
	}
join:
	pthread_mutex_lock(&r.mu);
	r.stop = 1;
	pthread_cond_broadcast(&r.space_cv);
	pthread_mutex_unlock(&r.mu);
	for (unsigned t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	if (o->progress)
		progress_finish(&p);
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.ready_cv);
	pthread_cond_destroy(&r.space_cv);
	goto out;
oom:
	rc = err_set(e, ERR_NOSPACE, "synth: out of memory for %u chunks of %llu x %u floats",
		     r.nslots, (unsigned long long)rows_per_chunk, d);
out:
	if (r.slots)
		for (unsigned s = 0; s < r.nslots; s++) {
			free(r.slots[s].vecs);
			free(r.slots[s].labels);
			free(r.slots[s].conf);
		}
	free(r.slots);
	free(tid);
	return rc;
}
