/*
 * server.h — shared by the engram contract server's files (main.c, store.c).
 */
#ifndef ENGRAM_SERVER_H
#define ENGRAM_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engrave/hmap.h"

#define ES_DIM 768
#define ES_DEDUP_COSINE 0.95f

struct es_mem {
	char *id;
	char *content;
	float confidence;
	float norm;
	int64_t when_ns;    /* observed_at (request timestamp or store time) */
	int64_t stored_ns;
	uint64_t seq;       /* insertion order, for "oldest" */
};

struct es_space {
	char id[72];
	pthread_rwlock_t lock;
	struct es_mem *mem;
	float *vecs;        /* n * ES_DIM */
	size_t n, cap;
	struct hmap rows;   /* id -> row; keys are the mem[row].id strings */
	uint64_t seq;
	uint64_t evicted;
	struct es_space *next;
};

/* A memory to store: es_store takes ownership of id and content. */
struct es_new {
	char *id;
	char *content;
	float confidence;
	int64_t when_ns, stored_ns;
	const float *embedding;
};

enum { ES_INSERTED = 0, ES_OVERWRITTEN, ES_DEDUP_SKIPPED, ES_DEDUP_REPLACED };

void es_store_config(size_t hot_cap, int dedup);
/* Find or create; never freed until es_store_free_all. NULL on OOM. */
struct es_space *es_space_get(const char *id);
size_t es_space_list(struct es_space **out, size_t max);
void es_store_free_all(void);
/* An ES_* outcome, or -1 out of memory. Takes the write lock. */
int es_store(struct es_space *s, struct es_new *nm);
/* Under the caller's lock. */
long es_find(const struct es_space *s, const char *id);
float es_cosine(const struct es_space *s, size_t row, const float *q, float qnorm);

#endif
