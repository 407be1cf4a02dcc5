/*
 * pgvector_int.h — what pgvector.c (the driver, synchronous calls) and
 * pgvector_async.c (the load test's connections in the engine's event loop)
 * share. Never included outside src/targets/.
 */
#ifndef ENGRAVE_TARGETS_PGVECTOR_INT_H
#define ENGRAVE_TARGETS_PGVECTOR_INT_H

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <pthread.h>

#include "targets/pgcodec.h"
#include "targets/target_int.h"

/* One libpq connection and what engrave made in its session. */
struct pgc {
	PGconn *c;
	unsigned serial;   /* this process's connection number */
	char tag[32];      /* "<pid>_<serial>": names its statements and staging table (PGlite runs one
	                    * session for every connection, and keeps it after a client is gone) */
	int prepared;      /* engrave_recall_<tag>, engrave_upsert_<tag> exist */
	int staged;        /* engrave_stage_<tag> exists */
	int ef_applied;    /* the hnsw.ef_search its session has */
};

/* The driver's state (target->priv). */
struct pgv {
	pthread_mutex_t lock; /* the synchronous connection */
	struct pgc sync;
	int schema_ready;     /* extension and table checked; vector_oid known */
	Oid vector_oid;
	int pglite;           /* the server is PGlite: no COPY FROM STDIN (pgvector.c) */
};

static inline struct pgc *sync_conn(struct target *t)
{
	return &((struct pgv *)t->priv)->sync;
}

/* Open pc (closing what it held): connect with t->url, session settings;
 * nonblocking for the async path. Statements are prepared by pgc_prepare. */
int pgc_open(struct target *t, struct pgc *pc, int nonblocking, struct err *e);
void pgc_close(struct pgc *pc); /* NULL-safe on a closed one */
/* Prepare the recall and upsert statements (needs the schema: call a
 * synchronous operation first). Blocking. */
int pgc_prepare(struct target *t, struct pgc *pc, struct err *e);
/* ERR_NET "pgvector TABLE: what: server message" (from r, else the connection); -1. */
int pgv_err(struct target *t, PGconn *c, const PGresult *r, const char *what, struct err *e);
/* The recall statement's two binary parameters in b: vals/lens point into it. */
int pgv_recall_params(struct target *t, const float *vec, int k, struct buf *b, const char *vals[2], int lens[2],
		      struct err *e);
/* Extension, table and the synchronous connection's statements checked (blocking). */
int pgv_schema_ready(struct target *t, struct err *e);
/* Hits from a recall result (id, float8 distance), threshold applied (not for l2). */
int pgv_hits_from(struct target *t, const PGresult *r, float threshold, struct target_hits *out, struct err *e);

/* pgvector_async.c: the target_ops async hooks (target.h "the async hot path"). */
void *pgva_open(struct target *t, struct engine *en, int connections, struct err *e);
int pgva_store(void *h, const struct target_record *rec, engine_done_fn fn, void *user, struct err *e);
int pgva_recall(void *h, const float *vec, int k, float threshold, engine_done_fn fn, void *user, struct err *e);
void pgva_close(void *h);

#endif
