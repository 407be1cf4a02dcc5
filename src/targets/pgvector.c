/*
 * pgvector.c — the "pgvector" driver: PostgreSQL with the pgvector extension,
 * over libpq (the one module that links it).
 *
 * The target's url is a libpq connection URI (postgres://user@host:port/db);
 * the password comes only from PGPASSWORD or ~/.pgpass, which libpq reads
 * itself (a URL holding one is refused by spec check and again here). The
 * namespace is a table (target.table, default engrave_vectors):
 *
 *   CREATE TABLE t (id text PRIMARY KEY, embedding vector(dim) NOT NULL, content text)
 *
 * created with the extension on first use; an existing table of another
 * dimension is an error that says how to reset it. Statements (pgcodec.h has
 * the bytes):
 *
 *   store    BEGIN; COPY stage FROM STDIN (FORMAT binary) into a per-connection
 *            temp table; INSERT INTO t SELECT DISTINCT ON (id) ... ON CONFLICT
 *            (id) DO UPDATE; COMMIT. A retried batch is an upsert of the same
 *            rows: idempotent. A lost connection is reopened and the batch
 *            sent again (the target's retry policy); a data error (SQLSTATE
 *            class 22/23) rejects the batch's records with the server's words.
 *            PGlite cannot take COPY FROM STDIN over its socket (its backend
 *            stops), so there the staging table is filled from array
 *            parameters instead (unnest_batch); the upsert is the same.
 *   recall   prepared, binary parameters and results:
 *            SELECT id, embedding OP $1 FROM t ORDER BY embedding OP $1 LIMIT $2
 *            with OP <=> (cosine), <#> (ip) or <-> (l2); score as pgcodec_score.
 *   count    SELECT count(*); read back / has_ids: WHERE id = ANY($1);
 *            fetch: ORDER BY id LIMIT/OFFSET; reset: DROP TABLE.
 *   index    target.index: hnsw (m, ef_construction from target.hnsw), ivfflat
 *            (lists) or none, built before or after the load
 *            (target_build_index; ingest times it). Its name carries its
 *            settings (<table>_vidx_hnsw_cosine_m16_ef200), so a changed spec
 *            drops the old one and builds the new; `none` drops them all and
 *            every search is an exact scan.
 *   session  SET hnsw.ef_search, ivfflat.probes, statement_timeout on every
 *            connection (and again on each after target_set_ef_search).
 *
 * Connections: the synchronous calls share one (a mutex: the load test's
 * in-process threads may call exec_* at once). The load test proper uses
 * pgvector_async.c: libpq's async API, one socket per connection in the
 * engine's event loop. PGlite (the test server) runs every connection in one
 * session, even after a client is gone, so statement and temp-table names
 * carry the process id and a per-connection serial.
 */
#include "targets/pgvector_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engrave/hmap.h"
#include "engrave/log.h"
#include "engrave/secret.h"
#include "engrave/xalloc.h"

#define INT4OID 23
#define PGV_TABLE_MAX 32 /* leaves room for the index name's settings in 63 bytes */

static unsigned next_serial = 1;
static pthread_mutex_t serial_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- connections ------------------------------------------------------------ */

static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	log_debug("pgvector: server notice: %s", msg);
}

int pgv_err(struct target *t, PGconn *c, const PGresult *r, const char *what, struct err *e)
{
	const char *msg = r ? PQresultErrorMessage(r) : c ? PQerrorMessage(c) : "no connection";
	if (!msg || !*msg)
		msg = c ? PQerrorMessage(c) : "no answer";
	char m[400];
	snprintf(m, sizeof(m), "%s", msg);
	m[strcspn(m, "\n")] = '\0';
	secret_redact(m, sizeof(m));
	err_set(e, ERR_NET, "pgvector %s: %s: %s", t->space, what, m);
	if (!c || PQstatus(c) == CONNECTION_BAD)
		err_hint(e, "is PostgreSQL running at the spec's target.url? (the password comes from PGPASSWORD or ~/.pgpass)");
	return -1;
}

/* The session settings of every connection: search breadth, timeout. */
static int session_settings(struct target *t, struct pgc *pc, struct err *e)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SET hnsw.ef_search = %d; SET ivfflat.probes = %d; SET statement_timeout = %llu",
		 t->hnsw_ef_search > 0 ? t->hnsw_ef_search : 40, t->ivf_probes,
		 (unsigned long long)(t->timeout_ns / NS_PER_MS));
	PGresult *r = PQexec(pc->c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		pgv_err(t, pc->c, r, "session settings", e);
	PQclear(r);
	pc->ef_applied = t->hnsw_ef_search;
	return ok ? 0 : -1;
}

int pgc_open(struct target *t, struct pgc *pc, int nonblocking, struct err *e)
{
	pgc_close(pc);
	char timeout[24];
	snprintf(timeout, sizeof(timeout), "%llu", (unsigned long long)(t->timeout_ns / NS_PER_S + 1));
	const char *keys[] = { "dbname", "connect_timeout", "application_name", NULL };
	const char *vals[] = { t->url, timeout, "engrave", NULL };
	pc->c = PQconnectdbParams(keys, vals, 1);
	if (!pc->c || PQstatus(pc->c) != CONNECTION_OK) {
		pgv_err(t, pc->c, NULL, "connect", e);
		pgc_close(pc);
		return -1;
	}
	PQsetNoticeProcessor(pc->c, quiet_notice, NULL);
	pthread_mutex_lock(&serial_lock);
	pc->serial = next_serial++;
	pthread_mutex_unlock(&serial_lock);
	snprintf(pc->tag, sizeof(pc->tag), "%ld_%u", (long)getpid(), pc->serial);
	pc->prepared = 0;
	if (session_settings(t, pc, e)) {
		pgc_close(pc);
		return -1;
	}
	if (nonblocking && PQsetnonblocking(pc->c, 1)) {
		pgv_err(t, pc->c, NULL, "non-blocking mode", e);
		pgc_close(pc);
		return -1;
	}
	return 0;
}

void pgc_close(struct pgc *pc)
{
	if (pc->c)
		PQfinish(pc->c);
	pc->c = NULL;
	pc->prepared = 0;
}

/* One statement whose result must be `want`; the result to PQclear, or NULL (e set). */
static PGresult *pgc_exec(struct target *t, struct pgc *pc, const char *sql, ExecStatusType want,
			  const char *what, struct err *e)
{
	PGresult *r = PQexec(pc->c, sql);
	if (PQresultStatus(r) != want) {
		pgv_err(t, pc->c, r, what, e);
		PQclear(r);
		return NULL;
	}
	return r;
}

static int pgc_run(struct target *t, struct pgc *pc, const char *sql, const char *what, struct err *e)
{
	PGresult *r = pgc_exec(t, pc, sql, PGRES_COMMAND_OK, what, e);
	PQclear(r);
	return r ? 0 : -1;
}

int pgc_prepare(struct target *t, struct pgc *pc, struct err *e)
{
	struct pgv *p = t->priv;
	if (pc->prepared)
		return 0;
	char name[48], sql[512];
	const char *op = pgcodec_operator(t->metric);
	snprintf(name, sizeof(name), "engrave_recall_%s", pc->tag);
	snprintf(sql, sizeof(sql), "SELECT id, embedding %s $1 FROM %s ORDER BY embedding %s $1 LIMIT $2", op,
		 t->space, op);
	Oid types[2] = { p->vector_oid, INT4OID };
	PGresult *r = PQprepare(pc->c, name, sql, 2, types);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	snprintf(name, sizeof(name), "engrave_upsert_%s", pc->tag);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (id, embedding, content) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE "
		 "SET embedding = EXCLUDED.embedding, content = EXCLUDED.content", t->space);
	Oid utypes[3] = { 25, p->vector_oid, 25 };
	r = ok ? PQprepare(pc->c, name, sql, 3, utypes) : NULL;
	ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		pgv_err(t, pc->c, r, "preparing the recall and store statements", e);
	PQclear(r);
	pc->prepared = ok;
	return ok ? 0 : -1;
}

/* ---- the table ----------------------------------------------------------------- */

/* The extension, the table (checking an existing one's dimension), the vector type's oid. */
static int ensure_schema(struct target *t, struct err *e)
{
	struct pgv *p = t->priv;
	if (p->schema_ready)
		return 0;
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "CREATE EXTENSION IF NOT EXISTS vector; CREATE TABLE IF NOT EXISTS %s (id text PRIMARY KEY, "
		 "embedding vector(%u) NOT NULL, content text)", t->space, t->dim);
	if (pgc_run(t, &p->sync, sql, "creating the extension and the table", e))
		return err_hint(e, "the server needs the pgvector extension (CREATE EXTENSION vector) and a role "
				   "that may create tables");
	snprintf(sql, sizeof(sql),
		 "SELECT atttypmod, 'vector'::regtype::oid, version() LIKE '%%PGlite%%' FROM pg_attribute WHERE "
		 "attrelid = '%s'::regclass AND attname = 'embedding'", t->space);
	PGresult *r = pgc_exec(t, &p->sync, sql, PGRES_TUPLES_OK, "reading the table's dimension", e);
	if (!r)
		return -1;
	int have = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : -1;
	p->vector_oid = PQntuples(r) == 1 ? (Oid)strtoul(PQgetvalue(r, 0, 1), NULL, 10) : 0;
	p->pglite = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 2), "t");
	PQclear(r);
	if (have != (int)t->dim) {
		err_set(e, ERR_SPEC, "pgvector: table %s holds %d-d vectors, the run has %u-d", t->space, have, t->dim);
		return err_hint(e, "use another target.table, or drop the table (engrave reset, or DROP TABLE %s)",
				t->space);
	}
	p->schema_ready = 1;
	return 0;
}

/* Lock the synchronous connection, (re)connect, ensure the table. Unlock with pgv_unlock. */
static int pgv_lock(struct target *t, int schema, struct err *e)
{
	struct pgv *p = t->priv;
	pthread_mutex_lock(&p->lock);
	if ((!p->sync.c || PQstatus(p->sync.c) != CONNECTION_OK) && pgc_open(t, &p->sync, 0, e))
		goto fail;
	if (p->sync.ef_applied != t->hnsw_ef_search && session_settings(t, &p->sync, e))
		goto fail;
	if (schema && (ensure_schema(t, e) || pgc_prepare(t, &p->sync, e)))
		goto fail;
	return 0;
fail:
	pthread_mutex_unlock(&p->lock);
	return -1;
}

static void pgv_unlock(struct target *t)
{
	struct pgv *p = t->priv;
	pthread_mutex_unlock(&p->lock);
}

int pgv_schema_ready(struct target *t, struct err *e)
{
	if (pgv_lock(t, 1, e))
		return -1;
	pgv_unlock(t);
	return 0;
}

/* The name of the index the configuration asks for (none: ""). */
static void index_name(const struct target *t, char *out, size_t cap)
{
	if (!strcmp(t->index_type, "hnsw"))
		snprintf(out, cap, "%s_vidx_hnsw_%s_m%d_ef%d", t->space, t->metric,
			 t->hnsw_max_neighbors > 0 ? t->hnsw_max_neighbors : 16,
			 t->hnsw_ef_construction > 0 ? t->hnsw_ef_construction : 64);
	else if (!strcmp(t->index_type, "ivfflat"))
		snprintf(out, cap, "%s_vidx_ivfflat_%s_l%d", t->space, t->metric, t->ivf_lists);
	else
		out[0] = '\0';
}

/* Drop the table's engrave vector indexes other than `keep`. */
static int drop_other_indexes(struct target *t, const char *keep, struct err *e)
{
	struct pgv *p = t->priv;
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT indexname FROM pg_indexes WHERE tablename = '%s' AND indexname LIKE '%s\\_vidx\\_%%' "
		 "AND indexname <> '%s'", t->space, t->space, keep);
	PGresult *r = pgc_exec(t, &p->sync, sql, PGRES_TUPLES_OK, "listing the table's indexes", e);
	if (!r)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		snprintf(sql, sizeof(sql), "DROP INDEX IF EXISTS %s", PQgetvalue(r, i, 0));
		rc = pgc_run(t, &p->sync, sql, "dropping an index of other settings", e);
	}
	PQclear(r);
	return rc;
}

static int pgv_build_index(struct target *t, enum target_load_moment when, double *seconds, struct err *e)
{
	if ((when == TARGET_BEFORE_LOAD) != (t->index_before_load != 0))
		return 0; /* not its moment */
	if (pgv_lock(t, 1, e))
		return -1;
	char name[128], sql[512];
	index_name(t, name, sizeof(name));
	int rc = drop_other_indexes(t, name, e);
	if (!rc && name[0]) {
		if (!strcmp(t->index_type, "hnsw"))
			snprintf(sql, sizeof(sql),
				 "CREATE INDEX IF NOT EXISTS %s ON %s USING hnsw (embedding %s) WITH (m = %d, "
				 "ef_construction = %d)", name, t->space, pgcodec_opclass(t->metric),
				 t->hnsw_max_neighbors > 0 ? t->hnsw_max_neighbors : 16,
				 t->hnsw_ef_construction > 0 ? t->hnsw_ef_construction : 64);
		else
			snprintf(sql, sizeof(sql),
				 "CREATE INDEX IF NOT EXISTS %s ON %s USING ivfflat (embedding %s) WITH (lists = %d)",
				 name, t->space, pgcodec_opclass(t->metric), t->ivf_lists);
		mono_ns t0 = clock_mono_now();
		rc = pgc_run(t, sync_conn(t), sql, "building the index", e);
		*seconds = (double)(clock_mono_now() - t0) / NS_PER_S;
		if (!rc)
			log_info("pgvector: index %s built in %.2f s", name, *seconds);
	}
	pgv_unlock(t);
	return rc;
}

/* ---- open, health, count, describe ---------------------------------------- */

static int pgv_open(struct target *t, struct err *e)
{
	char why[200];
	if (pgcodec_url_check(t->url, why, sizeof(why))) {
		err_set(e, ERR_SPEC, "target pgvector: url: %s", why);
		return err_hint(e, "e.g. postgres://postgres@127.0.0.1:5432/postgres");
	}
	if (pgcodec_ident_check(t->space, why, sizeof(why)) || strlen(t->space) > PGV_TABLE_MAX)
		return err_set(e, ERR_SPEC, "target pgvector: table '%.80s': %s (at most %d bytes)", t->space, why,
			       PGV_TABLE_MAX);
	if (strcmp(t->index_type, "hnsw") && strcmp(t->index_type, "ivfflat") && strcmp(t->index_type, "none"))
		return err_set(e, ERR_SPEC, "target pgvector: unknown index type '%s' (hnsw, ivfflat or none)",
			       t->index_type);
	struct pgv *p = xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	t->priv = p;
	return 0;
}

static void pgv_close(struct target *t)
{
	struct pgv *p = t->priv;
	if (!p)
		return;
	pgc_close(&p->sync);
	pthread_mutex_destroy(&p->lock);
	free(p);
	t->priv = NULL;
}

static int pgv_health(struct target *t, char *version, size_t cap, struct err *e)
{
	if (pgv_lock(t, 0, e))
		return -1;
	struct pgv *p = t->priv;
	PGresult *r = pgc_exec(t, &p->sync,
			       "SELECT current_setting('server_version'), (SELECT extversion FROM pg_extension "
			       "WHERE extname = 'vector'), (SELECT default_version FROM pg_available_extensions "
			       "WHERE name = 'vector')",
			       PGRES_TUPLES_OK, "health", e);
	pgv_unlock(t);
	if (!r)
		return -1;
	int rc = 0;
	if (PQgetisnull(r, 0, 1) && PQgetisnull(r, 0, 2)) {
		rc = err_set(e, ERR_NET, "pgvector: PostgreSQL %s at %s has no pgvector extension", PQgetvalue(r, 0, 0),
			     t->url);
		err_hint(e, "install pgvector on the server (https://github.com/pgvector/pgvector)");
	} else if (version && cap) {
		snprintf(version, cap, "%s pgvector %s", PQgetvalue(r, 0, 0),
			 PQgetvalue(r, 0, PQgetisnull(r, 0, 1) ? 2 : 1));
	}
	PQclear(r);
	return rc;
}

static int pgv_count(struct target *t, uint64_t *n, struct err *e)
{
	if (pgv_lock(t, 1, e))
		return -1;
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", t->space);
	PGresult *r = pgc_exec(t, sync_conn(t), sql, PGRES_TUPLES_OK, "count", e);
	pgv_unlock(t);
	if (!r)
		return -1;
	*n = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

static int pgv_describe_env(struct target *t, struct envlist *out, struct err *e)
{
	if (pgv_lock(t, 1, e))
		return -1;
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT current_setting('server_version'), (SELECT extversion FROM pg_extension WHERE extname = "
		 "'vector'), current_setting('hnsw.ef_search', true), current_setting('ivfflat.probes', true), "
		 "(SELECT string_agg(indexdef, '; ') FROM pg_indexes WHERE tablename = '%s' AND indexname LIKE "
		 "'%s\\_vidx\\_%%'), version()", t->space, t->space);
	PGresult *r = pgc_exec(t, sync_conn(t), sql, PGRES_TUPLES_OK, "describe", e);
	pgv_unlock(t);
	if (!r)
		return -1;
	envlist_set(out, "version", PQgetvalue(r, 0, 0));
	envlist_set(out, "pgvector", PQgetvalue(r, 0, 1));
	envlist_set(out, "server", PQgetvalue(r, 0, 5));
	envlist_set(out, "metric", t->metric);
	envlist_set(out, "index.type", t->index_type);
	envlist_set(out, "index.build", t->index_before_load ? "before" : "after");
	envlist_set(out, "index", PQgetisnull(r, 0, 4) ? "none (exact scan)" : PQgetvalue(r, 0, 4));
	envlist_set(out, "hnsw.ef_search", PQgetvalue(r, 0, 2));
	envlist_set(out, "ivfflat.probes", PQgetvalue(r, 0, 3));
	PQclear(r);
	return 0;
}

static int pgv_set_ef_search(struct target *t, int ef, struct err *e)
{
	t->hnsw_ef_search = ef; /* every connection applies it before its next statement */
	if (pgv_lock(t, 0, e))
		return -1;
	pgv_unlock(t);
	return 0;
}

static int pgv_reset(struct target *t, struct err *e)
{
	if (pgv_lock(t, 0, e))
		return -1;
	struct pgv *p = t->priv;
	char sql[128];
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", t->space);
	int rc = pgc_run(t, &p->sync, sql, "reset", e);
	p->schema_ready = 0;
	pgv_unlock(t);
	return rc;
}

/* ---- store ------------------------------------------------------------------- */

/* The per-connection staging table, created once per connection. */
static int ensure_stage(struct target *t, struct pgc *pc, char *stage, size_t cap, struct err *e)
{
	snprintf(stage, cap, "engrave_stage_%s", pc->tag);
	if (pc->staged)
		return 0;
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "CREATE TEMP TABLE IF NOT EXISTS %s (id text, embedding vector(%u), content text) ON COMMIT "
		 "DELETE ROWS", stage, t->dim);
	if (pgc_run(t, pc, sql, "creating the staging table", e))
		return -1;
	pc->staged = 1;
	return 0;
}

/* COPY the batch into the staging table (inside the caller's transaction). */
static int copy_batch(struct target *t, struct pgc *pc, const char *stage, const struct buf *rows,
		      struct err *e)
{
	char sql[160];
	snprintf(sql, sizeof(sql), "COPY %s (id, embedding, content) FROM STDIN (FORMAT binary)", stage);
	PGresult *r = pgc_exec(t, pc, sql, PGRES_COPY_IN, "COPY into the staging table", e);
	if (!r)
		return -1;
	PQclear(r);
	if (PQputCopyData(pc->c, rows->data, (int)rows->len) != 1 || PQputCopyEnd(pc->c, NULL) != 1)
		return pgv_err(t, pc->c, NULL, "sending COPY data", e);
	int rc = 0;
	while ((r = PQgetResult(pc->c)) != NULL) {
		if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = pgv_err(t, pc->c, r, "COPY into the staging table", e);
		PQclear(r);
	}
	return rc;
}

/*
 * Fill the staging table without COPY: PGlite's socket server cannot take
 * COPY FROM STDIN (its one backend stops at the CopyData that follows), so
 * there the batch goes as three array parameters,
 *   INSERT INTO stage SELECT * FROM unnest($1::text[], $2::vector[], $3::text[])
 * with the vectors in pgvector's text form (shortest round-trip floats).
 */
static int unnest_batch(struct target *t, struct pgc *pc, const char *stage, const struct target_record *recs,
			size_t n, struct err *e)
{
	const char **ids = xmalloc_array(n, sizeof(*ids)), **texts = xmalloc_array(n, sizeof(*texts));
	struct buf a_ids, a_vecs, a_texts, v;
	buf_init(&a_ids, 0);
	buf_init(&a_vecs, 0);
	buf_init(&a_texts, 0);
	buf_init(&v, 0);
	int rc = buf_append(&a_vecs, "{", 1, e);
	for (size_t i = 0; i < n && !rc; i++) {
		ids[i] = recs[i].id;
		texts[i] = recs[i].content;
		buf_reset(&v);
		rc = (i && buf_append(&a_vecs, ",", 1, e)) || buf_append(&a_vecs, "\"", 1, e) ||
		     target_json_f32(&v, recs[i].vec, t->dim, e) || buf_append(&a_vecs, v.data, v.len, e) ||
		     buf_append(&a_vecs, "\"", 1, e);
	}
	rc = rc || buf_append(&a_vecs, "}", 2, e) || pgcodec_text_array(&a_ids, ids, n, e) ||
	     pgcodec_text_array(&a_texts, texts, n, e);
	if (!rc) {
		char sql[200];
		snprintf(sql, sizeof(sql),
			 "INSERT INTO %s (id, embedding, content) SELECT * FROM unnest($1::text[], $2::vector[], "
			 "$3::text[])", stage);
		const char *vals[3] = { a_ids.data, a_vecs.data, a_texts.data };
		PGresult *r = PQexecParams(pc->c, sql, 3, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = pgv_err(t, pc->c, r, "filling the staging table", e);
		PQclear(r);
	}
	buf_release(&a_ids);
	buf_release(&a_vecs);
	buf_release(&a_texts);
	buf_release(&v);
	free(ids);
	free(texts);
	return rc;
}

/* One attempt: 0 stored, -1 failed (e; sqlstate the server's code, "" for a lost connection). */
static int store_once(struct target *t, const struct target_record *recs, size_t n, const struct buf *rows,
		      char sqlstate[6], struct err *e)
{
	struct pgv *p = t->priv;
	char stage[48], sql[512];
	if (ensure_stage(t, &p->sync, stage, sizeof(stage), e) || pgc_run(t, &p->sync, "BEGIN", "BEGIN", e))
		goto fail;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (id, embedding, content) SELECT DISTINCT ON (id) id, embedding, content FROM %s "
		 "ORDER BY id ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding, content = "
		 "EXCLUDED.content", t->space, stage);
	if (p->pglite ? unnest_batch(t, &p->sync, stage, recs, n, e) : copy_batch(t, &p->sync, stage, rows, e))
		goto rollback;
	PGresult *r = PQexec(p->sync.c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(sqlstate, 6, "%s", st ? st : "");
		pgv_err(t, p->sync.c, r, "upsert from the staging table", e);
		PQclear(r);
		goto rollback;
	}
	PQclear(r);
	if (pgc_run(t, &p->sync, "COMMIT", "COMMIT", e))
		goto fail;
	return 0;
rollback:
	if (PQstatus(p->sync.c) == CONNECTION_OK)
		PQclear(PQexec(p->sync.c, "ROLLBACK"));
fail:
	if (PQstatus(p->sync.c) != CONNECTION_OK)
		pgc_close(&p->sync);
	return -1;
}

static int encode_batch(struct target *t, const struct target_record *recs, size_t n, struct buf *rows,
			struct err *e)
{
	if (pgcodec_copy_header(rows, e))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (pgcodec_copy_row(rows, recs[i].id, recs[i].vec, t->dim, recs[i].content, e))
			return err_prefix(e, "pgvector: record %s", recs[i].id);
	return pgcodec_copy_trailer(rows, e);
}

static void reject_all(size_t n, struct target_store_result *res, const struct err *why)
{
	for (size_t i = 0; i < n; i++) {
		res[i].status = TARGET_REJECTED;
		target_copy_str(res[i].reason, sizeof(res[i].reason), why->msg);
	}
}

/* One attempt under the lock: the COPY rows encoded on the first (the
 * server's kind is known once the schema is), then store_once. */
static int store_attempt(struct target *t, const struct target_record *recs, size_t n, struct buf *rows,
			 char sqlstate[6], struct err *e)
{
	sqlstate[0] = '\0';
	if (pgv_lock(t, 1, e))
		return -1;
	struct pgv *p = t->priv;
	int rc = !p->pglite && rows->len == 0 ? encode_batch(t, recs, n, rows, e) : 0;
	if (rc && e)
		snprintf(sqlstate, 6, "22000"); /* NaN or infinity: the data */
	if (!rc)
		rc = store_once(t, recs, n, rows, sqlstate, e);
	pgv_unlock(t);
	return rc;
}

static int pgv_store(struct target *t, const struct target_record *recs, size_t n,
		     struct target_store_result *res, struct err *e)
{
	memset(res, 0, n * sizeof(*res));
	struct buf rows;
	buf_init(&rows, 0);
	int rc = 0;
	for (int attempt = 1;; attempt++) {
		struct err ae = ERR_INIT;
		char sqlstate[6];
		if (store_attempt(t, recs, n, &rows, sqlstate, &ae) == 0)
			break;
		if (sqlstate[0] == '2' && (sqlstate[1] == '2' || sqlstate[1] == '3')) {
			reject_all(n, res, &ae); /* the data, not the server: sending again cannot help */
			break;
		}
		if (attempt >= t->retry.max_attempts) {
			if (e)
				*e = ae;
			rc = -1;
			break;
		}
		log_warn("pgvector: store of %zu records failed (attempt %d of %d), retrying: %s", n, attempt,
			 t->retry.max_attempts, ae.msg);
		long ms = 200L * attempt;
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	buf_release(&rows);
	return rc;
}

/* ---- recall and read back ----------------------------------------------------- */

int pgv_hits_from(struct target *t, const PGresult *r, float threshold, struct target_hits *out, struct err *e)
{
	int apply = strcmp(t->metric, "l2") != 0;
	for (int i = 0; i < PQntuples(r); i++) {
		if (PQgetlength(r, i, 1) != 8)
			return err_set(e, ERR_NET, "pgvector recall: a distance of %d bytes", PQgetlength(r, i, 1));
		float score = pgcodec_score(t->metric, pgcodec_f64_decode(PQgetvalue(r, i, 1)));
		if (apply && score < threshold)
			continue;
		if (target_hits_push(out, PQgetvalue(r, i, 0), score, e))
			return -1;
	}
	return 0;
}

int pgv_recall_params(struct target *t, const float *vec, int k, struct buf *b, const char *vals[2],
		      int lens[2], struct err *e)
{
	buf_reset(b);
	if (pgcodec_vector(b, vec, t->dim, e) || buf_reserve(b, 4, e))
		return -1;
	uint32_t kk = htonl((uint32_t)k);
	size_t vlen = b->len;
	memcpy(b->data + b->len, &kk, 4);
	b->len += 4;
	vals[0] = b->data;
	vals[1] = b->data + vlen;
	lens[0] = (int)vlen;
	lens[1] = 4;
	return 0;
}

static int pgv_recall(struct target *t, const float *vec, int k, float threshold, struct target_hits *out,
		      struct err *e)
{
	struct buf b;
	buf_init(&b, 0);
	const char *vals[2];
	int lens[2], fmts[2] = { 1, 1 };
	if (pgv_recall_params(t, vec, k, &b, vals, lens, e) || pgv_lock(t, 1, e)) {
		buf_release(&b);
		return -1;
	}
	struct pgv *p = t->priv;
	char name[48];
	snprintf(name, sizeof(name), "engrave_recall_%s", p->sync.tag);
	PGresult *r = PQexecPrepared(p->sync.c, name, 2, vals, lens, fmts, 1);
	int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? pgv_hits_from(t, r, threshold, out, e)
						      : pgv_err(t, p->sync.c, r, "recall", e);
	PQclear(r);
	pgv_unlock(t);
	buf_release(&b);
	return rc;
}

/* The async path's answers (pgvector_async.c): a recall's hits as
 * pgcodec_hit_encode wrote them; a store's status. */
static int pgv_parse_recall(struct target *t, const struct target_req *rq, const struct http_response *rs,
			    struct target_hits *out, struct err *e)
{
	(void)rq;
	if (rs->status < 200 || rs->status > 299)
		return err_set(e, ERR_NET, "pgvector %s: recall: %ld: %.200s", t->space, rs->status,
			       rs->status ? rs->body.data : rs->error);
	size_t pos = 0;
	char id[TARGET_ID_MAX];
	float score;
	int got;
	while ((got = pgcodec_hit_decode(rs->body.data, rs->body.len, &pos, id, sizeof(id), &score)) > 0)
		if (target_hits_push(out, id, score, e))
			return -1;
	if (got < 0)
		return err_set(e, ERR_NET, "pgvector %s: recall: a malformed answer at byte %zu", t->space, pos);
	return 0;
}

static int pgv_parse_store(struct target *t, const struct target_req *rq, const struct http_response *rs,
			   struct target_store_result *res, struct err *e)
{
	(void)t;
	(void)e;
	size_t n = rq && rq->n_records ? rq->n_records : 1;
	for (size_t i = 0; i < n; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		res[i].http_status = (int)rs->status;
		res[i].status = rs->status >= 200 && rs->status <= 299 ? TARGET_STORED
				: rs->status >= 400 && rs->status <= 499 ? TARGET_REJECTED : TARGET_FAILED;
		if (res[i].status != TARGET_STORED)
			snprintf(res[i].reason, sizeof(res[i].reason), "%.200s", rs->status ? rs->body.data : rs->error);
	}
	return 0;
}

/* Rows (id, embedding) of `sql` with one text parameter, binary results. */
static PGresult *select_rows(struct target *t, const char *sql, const char *param, const char *what, struct err *e)
{
	if (pgv_lock(t, 1, e))
		return NULL;
	struct pgv *p = t->priv;
	const char *vals[1] = { param };
	PGresult *r = PQexecParams(p->sync.c, sql, param ? 1 : 0, NULL, vals, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pgv_err(t, p->sync.c, r, what, e);
		PQclear(r);
		r = NULL;
	}
	pgv_unlock(t);
	return r;
}

/* Map the rows of r (id [, embedding]) onto ids[]: found[i], and vectors into out when given. */
static int rows_by_id(struct target *t, PGresult *r, const char *const *ids, size_t n, unsigned char *found,
		      struct target_vectors *out, struct err *e)
{
	struct hmap at = HMAP_INIT; /* id -> row of r */
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && !rc; i++)
		rc = hmap_add(&at, PQgetvalue(r, i, 0), (size_t)i, e) < 0 ? -1 : 0;
	float *vec = out ? xalloc_try_array(t->dim, sizeof(float), "a read-back vector", e) : NULL;
	if (out && !vec)
		rc = -1;
	for (size_t i = 0; i < n && !rc; i++) {
		const size_t *row = hmap_get(&at, ids[i]);
		if (found)
			found[i] = row != NULL;
		if (!out)
			continue;
		int ok = row && pgcodec_vector_decode(PQgetvalue(r, (int)*row, 1), (size_t)PQgetlength(r, (int)*row, 1),
						      vec, t->dim) == 0;
		if (row && !ok)
			rc = err_set(e, ERR_NET, "pgvector: the vector of %s does not decode as %u floats", ids[i], t->dim);
		else
			rc = target_vectors_push(out, ids[i], ok ? vec : NULL, e);
	}
	free(vec);
	hmap_release(&at);
	return rc;
}

static int by_ids(struct target *t, const char *const *ids, size_t n, unsigned char *found,
		  struct target_vectors *out, struct err *e)
{
	struct buf arr;
	buf_init(&arr, 0);
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT id%s FROM %s WHERE id = ANY($1::text[])", out ? ", embedding" : "",
		 t->space);
	int rc = pgcodec_text_array(&arr, ids, n, e);
	PGresult *r = rc ? NULL : select_rows(t, sql, arr.data, "read back by id", e);
	rc = r ? rows_by_id(t, r, ids, n, found, out, e) : -1;
	PQclear(r);
	buf_release(&arr);
	return rc;
}

static int pgv_get_vectors(struct target *t, const char *const *ids, size_t n, struct target_vectors *out,
			   struct err *e)
{
	return by_ids(t, ids, n, NULL, out, e);
}

static int pgv_has_ids(struct target *t, const char *const *ids, size_t n, unsigned char *found, struct err *e)
{
	return by_ids(t, ids, n, found, NULL, e);
}

static int pgv_fetch(struct target *t, uint64_t offset, uint32_t limit, struct target_vectors *out, struct err *e)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT id, embedding FROM %s ORDER BY id LIMIT %u OFFSET %llu", t->space, limit,
		 (unsigned long long)offset);
	PGresult *r = select_rows(t, sql, NULL, "fetching vectors", e);
	if (!r)
		return -1;
	int rc = 0;
	float *vec = xalloc_try_array(t->dim, sizeof(float), "a fetched vector", e);
	if (!vec)
		rc = -1;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		if (pgcodec_vector_decode(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1), vec, t->dim))
			rc = err_set(e, ERR_NET, "pgvector: the vector of %s does not decode", PQgetvalue(r, i, 0));
		else
			rc = target_vectors_push(out, PQgetvalue(r, i, 0), vec, e);
	}
	free(vec);
	PQclear(r);
	return rc;
}

/* Remove records by id: DELETE ... WHERE id = ANY($1) (ids it does not hold
 * are no error, as target_delete promises). */
static int pgv_delete(struct target *t, const char *const *ids, size_t n, struct err *e)
{
	struct buf arr;
	buf_init(&arr, 0);
	char sql[160];
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = ANY($1::text[])", t->space);
	int rc = pgcodec_text_array(&arr, ids, n, e);
	if (!rc && pgv_lock(t, 1, e) == 0) {
		struct pgv *p = t->priv;
		const char *vals[1] = { arr.data };
		PGresult *r = PQexecParams(p->sync.c, sql, 1, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = pgv_err(t, p->sync.c, r, "delete", e);
		PQclear(r);
		pgv_unlock(t);
	} else {
		rc = -1;
	}
	buf_release(&arr);
	return rc;
}

static size_t pgv_max_batch(struct target *t)
{
	(void)t;
	return 10000; /* records per COPY: bounded memory, one transaction each */
}

static int table_check(const char *ns, char *why, size_t cap)
{
	if (pgcodec_ident_check(ns, why, cap))
		return -1;
	if (strlen(ns) > PGV_TABLE_MAX) {
		snprintf(why, cap, "at most %d bytes (the index name adds its settings)", PGV_TABLE_MAX);
		return -1;
	}
	return 0;
}

static const struct target_ops pgvector_ops = {
	.open = pgv_open,
	.close = pgv_close,
	.health = pgv_health,
	.count = pgv_count,
	.max_batch = pgv_max_batch,
	.fetch_embeddings = pgv_fetch,
	.has_ids = pgv_has_ids,
	.get_vectors = pgv_get_vectors,
	.reset = pgv_reset,
	.set_ef_search = pgv_set_ef_search,
	.delete_ids = pgv_delete,
	.build_index = pgv_build_index,
	.describe_env = pgv_describe_env,
	.exec_store = pgv_store,
	.exec_recall = pgv_recall,
	.parse_store = pgv_parse_store,
	.parse_recall = pgv_parse_recall,
	.async_open = pgva_open,
	.async_store = pgva_store,
	.async_recall = pgva_recall,
	.async_close = pgva_close,
};

static const char *const pgvector_spec_keys[] = { "url", "table", "timeout", "hnsw.*", "index.*", NULL };

const struct target_driver target_pgvector = {
	.name = "pgvector",
	.default_url = "postgres://postgres@127.0.0.1:5432/postgres",
	.ns_key = "table",
	.ns_default = "engrave_vectors",
	.ns_check = table_check,
	.id_max = TARGET_ID_MAX - 1,
	.content_max = 0,
	.caps = TARGET_CAP_RESET | TARGET_CAP_COUNT | TARGET_CAP_READ_BY_ID | TARGET_CAP_PERSISTENT |
		TARGET_CAP_EF_SEARCH | TARGET_CAP_DELETE, /* no text search */
	.dim_min = 1,
	.dim_max = 16000,
	.unheld_hint = NULL,
	.spec_keys = pgvector_spec_keys,
	.corpus_confidence = NULL,
	.ops = &pgvector_ops,
};
