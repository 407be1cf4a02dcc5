/*
 * store.c — the contract server's memory: spaces of hot memories, in RAM.
 *
 * Reproduces the behaviour of Engram's MemoryStore that a load harness can
 * observe (reference/engram.md sections 0 and 1):
 *   - a space is created on first use (any handler auto-creates it);
 *   - storing an id that exists overwrites it (the hot tier is keyed by id);
 *   - semantic dedup: a new memory whose cosine with any hot memory of the
 *     space is >= 0.95 does not grow the count; KeepHighestConfidence keeps
 *     whichever has the higher confidence (the newcomer replaces the old
 *     entry, under its own id, when it is more confident). The caller still
 *     answers 201 with the new id. Switchable off for benchmarks, and the
 *     O(N) scan runs only when it is on (as in Engram it is O(N) per store);
 *   - a hot-tier cap per space (100K in Engram): at the cap, one memory with
 *     the lowest confidence (oldest on ties) is evicted per insert.
 *
 * Layout per space: a row-major float32 matrix (768 per row) plus parallel
 * arrays of metadata, and an id -> row hmap (include/engrave/hmap.h) keyed
 * by the rows' own id strings. Removal swaps the last row into the hole. One rwlock per space; the space list has a
 * mutex. Rows are iterated in storage order (Engram's order is unspecified).
 */
#include "server.h"

#include "engrave/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t spaces_lock = PTHREAD_MUTEX_INITIALIZER;
static struct es_space *spaces;
static size_t hot_cap = 100000;
static int dedup_on = 1;

void es_store_config(size_t cap, int dedup)
{
	hot_cap = cap ? cap : 100000;
	dedup_on = dedup;
}

struct es_space *es_space_get(const char *id)
{
	pthread_mutex_lock(&spaces_lock);
	struct es_space *s = spaces;
	while (s && strcmp(s->id, id) != 0)
		s = s->next;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (s) {
			snprintf(s->id, sizeof(s->id), "%s", id);
			pthread_rwlock_init(&s->lock, NULL);
			s->next = spaces;
			spaces = s;
		}
	}
	pthread_mutex_unlock(&spaces_lock);
	return s;
}

size_t es_space_list(struct es_space **out, size_t max)
{
	pthread_mutex_lock(&spaces_lock);
	size_t n = 0;
	for (struct es_space *s = spaces; s && n < max; s = s->next)
		out[n++] = s;
	pthread_mutex_unlock(&spaces_lock);
	return n;
}

void es_store_free_all(void)
{
	pthread_mutex_lock(&spaces_lock);
	while (spaces) {
		struct es_space *s = spaces;
		spaces = s->next;
		for (size_t i = 0; i < s->n; i++) {
			free(s->mem[i].id);
			free(s->mem[i].content);
		}
		free(s->mem);
		free(s->vecs);
		hmap_release(&s->rows);
		pthread_rwlock_destroy(&s->lock);
		free(s);
	}
	pthread_mutex_unlock(&spaces_lock);
}

long es_find(const struct es_space *s, const char *id)
{
	const size_t *row = hmap_get(&s->rows, id);
	return row ? (long)*row : -1;
}

static void row_remove(struct es_space *s, size_t row)
{
	hmap_del(&s->rows, s->mem[row].id);
	free(s->mem[row].id);
	free(s->mem[row].content);
	size_t last = s->n - 1;
	if (row != last) {
		*hmap_get(&s->rows, s->mem[last].id) = row; /* the same key string moves with the row */
		s->mem[row] = s->mem[last];
		memcpy(s->vecs + row * ES_DIM, s->vecs + last * ES_DIM, ES_DIM * sizeof(float));
	}
	s->n--;
}

static float norm_of(const float *v)
{
	float acc = 0;
	for (int i = 0; i < ES_DIM; i++)
		acc += v[i] * v[i];
	return sqrtf(acc);
}

float es_cosine(const struct es_space *s, size_t row, const float *q, float qnorm)
{
	const float *v = s->vecs + row * ES_DIM;
	float dot = 0;
	for (int i = 0; i < ES_DIM; i++)
		dot += v[i] * q[i];
	float den = s->mem[row].norm * qnorm;
	return den > 0 ? dot / den : 0;
}

static void row_set(struct es_space *s, size_t row, struct es_new *nm)
{
	struct es_mem *m = &s->mem[row];
	m->id = nm->id;
	m->content = nm->content;
	nm->id = nm->content = NULL; /* ownership moved */
	m->confidence = nm->confidence;
	m->when_ns = nm->when_ns;
	m->stored_ns = nm->stored_ns;
	m->seq = ++s->seq;
	memcpy(s->vecs + row * ES_DIM, nm->embedding, ES_DIM * sizeof(float));
	m->norm = norm_of(nm->embedding);
}

int es_store(struct es_space *s, struct es_new *nm)
{
	int outcome = ES_INSERTED;
	pthread_rwlock_wrlock(&s->lock);
	long row = es_find(s, nm->id);
	if (row >= 0) { /* same id: overwrite in place */
		free(s->mem[row].content);
		char *old_id = s->mem[row].id;
		nm->id = (free(nm->id), old_id); /* keep the map's key string */
		s->mem[row].id = NULL;
		row_set(s, (size_t)row, nm);
		outcome = ES_OVERWRITTEN;
		goto out;
	}
	if (dedup_on && s->n) {
		float qn = norm_of(nm->embedding);
		long best = -1;
		float bs = -2;
		for (size_t i = 0; i < s->n; i++) {
			float c = es_cosine(s, i, nm->embedding, qn);
			if (c > bs) {
				bs = c;
				best = (long)i;
			}
		}
		if (best >= 0 && bs >= ES_DEDUP_COSINE) {
			if (nm->confidence > s->mem[best].confidence) {
				hmap_del(&s->rows, s->mem[best].id);
				free(s->mem[best].id);
				free(s->mem[best].content);
				row_set(s, (size_t)best, nm);
				outcome = ES_DEDUP_REPLACED;
				if (hmap_add(&s->rows, s->mem[best].id, (size_t)best, NULL) < 0)
					outcome = -1; /* not reached: one entry was just deleted */
			} else {
				outcome = ES_DEDUP_SKIPPED;
			}
			goto out;
		}
	}
	if (s->n >= hot_cap) { /* evict the lowest confidence, oldest first */
		size_t victim = 0;
		for (size_t i = 1; i < s->n; i++) {
			const struct es_mem *a = &s->mem[i], *b = &s->mem[victim];
			if (a->confidence < b->confidence ||
			    (a->confidence == b->confidence && a->seq < b->seq))
				victim = i;
		}
		row_remove(s, victim);
		s->evicted++;
	}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 1024;
		struct es_mem *nmv = xalloc_try_resize(s->mem, nc, sizeof(*nmv), "a space's rows", NULL);
		if (!nmv) {
			outcome = -1;
			goto out;
		}
		s->mem = nmv;
		float *nv = xalloc_try_resize(s->vecs, nc * ES_DIM, sizeof(float), "a space's vectors", NULL);
		if (!nv) {
			outcome = -1;
			goto out;
		}
		s->vecs = nv;
		s->cap = nc;
	}
	if (hmap_add(&s->rows, nm->id, s->n, NULL) < 0) { /* row_set moves nm->id into the row */
		outcome = -1;
		goto out;
	}
	row_set(s, s->n, nm);
	s->n++;
out:
	pthread_rwlock_unlock(&s->lock);
	return outcome;
}
