/*
 * cas.c — content-addressed blobs and the chunked objects built on them.
 *
 * A blob is stored under the SHA-256 of its bytes in "cas"; cas_put hashes
 * before it opens the write transaction (hashing is the slow part and needs
 * no lock) and writes with MDB_NOOVERWRITE, so storing known bytes never
 * rewrites them. When the key exists, the stored bytes are compared with
 * the new ones (a memcmp, cheaper than hashing them again; equal bytes
 * under a SHA-256 key are the bytes that hash to it): different bytes are
 * a damaged blob, and the put replaces them (WOP_PUT_CAS), so re-running
 * the step or re-importing the file that made a blob repairs it. Each put
 * also stamps "born" with the time, which gc's grace period reads (a re-put
 * refreshes it).
 *
 * Objects: the writer fills one OBJ_CHUNK_SIZE buffer, stores each full
 * chunk as a blob (one small transaction per chunk, so a huge import commits
 * progressively and memory stays at one chunk) and keeps only the chunk
 * digests (32 bytes per 4 MiB). finish() stores the last partial chunk and
 * the manifest {"chunk", "chunks", "kind": "manifest", "size"}; the object
 * digest is the manifest's. Because chunk boundaries are fixed, the digest is
 * a function of the content alone. Data arriving in whole chunks is stored
 * straight from the caller's memory. From the second full chunk on, chunks
 * are hashed and committed by a few threads (see "chunk storing threads"
 * below), which changes the order of commits but not a single digest.
 *
 * The reader loads one chunk at a time into its buffer (copied out of the
 * map inside a short read transaction, then re-hashed unless OBJ_NOVERIFY),
 * serves sequential and random reads from it, and forgets the mapped pages.
 * A read that covers a whole chunk copies it straight into the caller's
 * memory and hashes it there (one copy instead of two).
 */
#include "store_int.h"
#include "engrave/xalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- blobs ---- */

static int put_digest(struct store *s, const struct digest *d, const void *data, size_t len, struct err *e)
{
	int64_t now = clock_unix_now();
	uint8_t stamp[8];
	for (int i = 0; i < 8; i++)
		stamp[i] = (uint8_t)((uint64_t)now >> (56 - 8 * i)); /* big-endian */
	struct wop ops[2] = {
		{ WOP_PUT_CAS, DB_CAS, d->b, DIGEST_LEN, data, len },
		{ WOP_PUT, DB_BORN, d->b, DIGEST_LEN, stamp, sizeof(stamp) },
	};
	return store_write(s, ops, 2, "cannot store blob", e);
}

int cas_put(struct store *s, const void *data, size_t len, struct digest *out, struct err *e)
{
	struct digest d;
	hash_bytes(data, len, &d);
	if (put_digest(s, &d, data, len, e))
		return -1;
	if (out)
		*out = d;
	return 0;
}

static int digest_err(struct err *e, enum err_class cls, const struct digest *d, const char *fmt, const char *db)
{
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(d, hex);
	return err_set(e, cls, fmt, db, hex);
}

int cas_get(struct store *s, const struct digest *d, struct buf *out, int verify, struct err *e)
{
	MDB_txn *txn;
	MDB_val v;
	if (store_rtxn_begin(s, &txn, e))
		return -1;
	int rc = store_get_in(s, txn, DB_CAS, d->b, DIGEST_LEN, &v, e);
	if (rc == 1) {
		buf_reset(out);
		if (buf_append(out, v.mv_data, v.mv_size, e))
			rc = -1;
		store_drop_pages(v.mv_data, v.mv_size);
	}
	store_rtxn_end(s, txn);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return digest_err(e, ERR_MISSING, d, "no blob in %s with digest %s", "cas");
	if (verify) {
		struct digest got;
		hash_bytes(out->data, out->len, &got);
		if (!digest_equal(&got, d)) {
			digest_err(e, ERR_CORRUPT, d, "corrupt blob in %s: %s does not hash to its key", "cas");
			return err_hint(e, "run 'engrave store verify' to list all damage");
		}
	}
	return 0;
}

int cas_has(struct store *s, const struct digest *d, struct err *e)
{
	MDB_txn *txn;
	MDB_val v;
	if (store_rtxn_begin(s, &txn, e))
		return -1;
	int rc = store_get_in(s, txn, DB_CAS, d->b, DIGEST_LEN, &v, e);
	store_rtxn_end(s, txn);
	return rc;
}

int cas_size(struct store *s, const struct digest *d, uint64_t *size, struct err *e)
{
	MDB_txn *txn;
	MDB_val v;
	if (store_rtxn_begin(s, &txn, e))
		return -1;
	int rc = store_get_in(s, txn, DB_CAS, d->b, DIGEST_LEN, &v, e);
	if (rc == 1)
		*size = v.mv_size;
	store_rtxn_end(s, txn);
	if (rc == 0)
		return digest_err(e, ERR_MISSING, d, "no blob in %s with digest %s", "cas");
	return rc < 0 ? -1 : 0;
}

/* ---- object writer ---- */

/*
 * Chunk storing threads. Hashing runs at about 1.9 GB/s per core with SHA
 * instructions, so one thread hashing and committing every chunk of a
 * 2.9 GB object is the slowest stage of the synthesize step. From the
 * second full chunk on, the writer stores chunks on a small pool of
 * threads: each job hashes one chunk and commits it (cas_put; LMDB
 * serialises the commits, the hashing overlaps), and writes its digest into
 * slot `index` of the writer's list, so the manifest (and the object
 * digest) is the same as with one thread. Jobs either own one of POOL_BUFS
 * chunk buffers (data that came in pieces, copied as before) or borrow the
 * caller's memory (whole chunks passed to obj_write), in which case
 * obj_write waits for them before it returns. The first error stops
 * further jobs and is returned by the next obj_write or by finish.
 */
#define POOL_MAX_THREADS 4
#define POOL_BUFS 4
#define POOL_QUEUE 16

struct chunk_job {
	size_t index;
	const char *data;
	size_t len;
	int owned; /* data is a pool buffer, returned to the free list when done */
};

struct chunk_pool {
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	struct chunk_job q[POOL_QUEUE];
	size_t q_head, q_len;
	int running;        /* jobs taken off the queue, not finished */
	int borrowed;       /* jobs on caller memory, queued or running */
	char *free_bufs[POOL_BUFS];
	int n_free;
	int stop;
	int failed;
	struct err err;
	pthread_t tid[POOL_MAX_THREADS];
	int n_threads;
};

struct obj_writer {
	struct store *s;
	char *chunk;
	size_t fill;
	uint64_t total;
	struct digest *digests; /* slot i = chunk i; written by pool threads under pool->mu */
	size_t n, cap;          /* chunks handed out so far */
	struct chunk_pool *pool;
};

static void *pool_thread(void *arg)
{
	struct obj_writer *w = arg;
	struct chunk_pool *p = w->pool;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->q_len && !p->stop)
			pthread_cond_wait(&p->work_cv, &p->mu);
		if (!p->q_len)
			break;
		struct chunk_job j = p->q[p->q_head];
		p->q_head = (p->q_head + 1) % POOL_QUEUE;
		p->q_len--;
		p->running++;
		int skip = p->failed;
		pthread_mutex_unlock(&p->mu);
		struct digest d;
		struct err e = ERR_INIT;
		int rc = skip ? 0 : cas_put(w->s, j.data, j.len, &d, &e);
		pthread_mutex_lock(&p->mu);
		if (rc && !p->failed) {
			p->failed = 1;
			p->err = e;
			err_prefix(&p->err, "object chunk %zu", j.index);
		} else if (!rc && !skip) {
			w->digests[j.index] = d;
		}
		if (j.owned)
			p->free_bufs[p->n_free++] = (char *)j.data;
		else
			p->borrowed--;
		p->running--;
		pthread_cond_broadcast(&p->done_cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static int pool_start(struct obj_writer *w, struct err *e)
{
	struct chunk_pool *p = xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->done_cv, NULL);
	w->pool = p;
	for (int i = 0; i < POOL_BUFS - 1; i++) /* the writer's own chunk is the last */
		p->free_bufs[p->n_free++] = xmalloc(OBJ_CHUNK_SIZE);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int want = cpus < 1 ? 1 : cpus > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)cpus;
	for (int i = 0; i < want; i++) {
		if (pthread_create(&p->tid[i], NULL, pool_thread, w) != 0)
			break;
		p->n_threads++;
	}
	if (!p->n_threads)
		return err_set(e, ERR_INTERNAL, "cannot start a chunk storing thread");
	return 0;
}

/* Wait until `cond` holds (called with p->mu held). */
#define POOL_WAIT(p, cond)                                      \
	do {                                                    \
		while (!(cond))                                 \
			pthread_cond_wait(&(p)->done_cv, &(p)->mu); \
	} while (0)

static int pool_error(struct chunk_pool *p, struct err *e)
{
	if (e)
		*e = p->err;
	return -1;
}

/* Stop the threads after the queue drains; frees everything. */
static void pool_stop(struct obj_writer *w)
{
	struct chunk_pool *p = w->pool;
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n_threads; i++)
		pthread_join(p->tid[i], NULL);
	for (int i = 0; i < p->n_free; i++)
		free(p->free_bufs[i]);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work_cv);
	pthread_cond_destroy(&p->done_cv);
	free(p);
	w->pool = NULL;
}

int obj_writer_open(struct store *s, struct obj_writer **w, struct err *e)
{
	(void)e;
	struct obj_writer *o = xcalloc(1, sizeof(*o));
	o->chunk = xmalloc(OBJ_CHUNK_SIZE);
	o->s = s;
	*w = o;
	return 0;
}

/* Claim slot w->n for a chunk (the list may move: pool threads write it under mu). */
static int claim_slot(struct obj_writer *w, size_t *index, struct err *e)
{
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 64;
		if (w->pool)
			pthread_mutex_lock(&w->pool->mu);
		struct digest *p = xalloc_try_resize(w->digests, nc, sizeof(*p), "an object's chunk digests", e);
		if (p) {
			w->digests = p;
			w->cap = nc;
		}
		if (w->pool)
			pthread_mutex_unlock(&w->pool->mu);
		if (!p)
			return -1;
	}
	*index = w->n++;
	return 0;
}

/*
 * Store one chunk: on the caller's thread while there is no pool (the first
 * chunk, and small objects), else as a pool job. `owned` says `data` is
 * w->chunk, which the job keeps (the writer takes a free buffer instead).
 */
static int store_chunk(struct obj_writer *w, const char *data, size_t len, int owned, struct err *e)
{
	size_t idx = 0;
	if (!w->pool && w->n >= 1 && len == OBJ_CHUNK_SIZE && pool_start(w, e))
		return -1;
	if (claim_slot(w, &idx, e))
		return -1;
	if (!w->pool) {
		struct digest d;
		if (cas_put(w->s, data, len, &d, e))
			return err_prefix(e, "object chunk %zu", idx);
		w->digests[idx] = d;
		return 0;
	}
	struct chunk_pool *p = w->pool;
	pthread_mutex_lock(&p->mu);
	POOL_WAIT(p, p->q_len < POOL_QUEUE || p->failed);
	if (p->failed) {
		pthread_mutex_unlock(&p->mu);
		return pool_error(p, e);
	}
	p->q[(p->q_head + p->q_len) % POOL_QUEUE] = (struct chunk_job){ idx, data, len, owned };
	p->q_len++;
	if (!owned)
		p->borrowed++;
	pthread_cond_signal(&p->work_cv);
	if (owned) { /* take a free buffer to go on filling */
		POOL_WAIT(p, p->n_free > 0);
		w->chunk = p->free_bufs[--p->n_free];
	}
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/* Wait for jobs on the caller's memory (obj_write must not return before). */
static int wait_borrowed(struct obj_writer *w, struct err *e)
{
	struct chunk_pool *p = w->pool;
	if (!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	POOL_WAIT(p, p->borrowed == 0);
	int failed = p->failed;
	pthread_mutex_unlock(&p->mu);
	return failed ? pool_error(p, e) : 0;
}

int obj_write(struct obj_writer *w, const void *data, size_t len, struct err *e)
{
	const char *p = data;
	int rc = 0;
	while (len && !rc) {
		if (w->fill == 0 && len >= OBJ_CHUNK_SIZE) {
			if ((rc = store_chunk(w, p, OBJ_CHUNK_SIZE, 0, e)))
				break;
			p += OBJ_CHUNK_SIZE;
			len -= OBJ_CHUNK_SIZE;
			w->total += OBJ_CHUNK_SIZE;
			continue;
		}
		size_t n = OBJ_CHUNK_SIZE - w->fill;
		if (n > len)
			n = len;
		memcpy(w->chunk + w->fill, p, n);
		w->fill += n;
		w->total += n;
		p += n;
		len -= n;
		if (w->fill == OBJ_CHUNK_SIZE) {
			rc = store_chunk(w, w->chunk, w->fill, 1, e);
			w->fill = 0;
		}
	}
	if (wait_borrowed(w, rc ? NULL : e))
		rc = -1;
	return rc;
}

uint64_t obj_writer_size(const struct obj_writer *w)
{
	return w->total;
}

void obj_writer_abort(struct obj_writer *w)
{
	if (!w)
		return;
	pool_stop(w);
	free(w->chunk);
	free(w->digests);
	free(w);
}

int obj_writer_finish(struct obj_writer *w, struct digest *out, struct err *e)
{
	int ret = -1;
	struct mpack m;
	mpack_init(&m);
	if (w->fill && store_chunk(w, w->chunk, w->fill, 0, e))
		goto out;
	if (w->pool) { /* every chunk committed before the manifest names it */
		struct chunk_pool *p = w->pool;
		pthread_mutex_lock(&p->mu);
		POOL_WAIT(p, (p->q_len == 0 && p->running == 0) || p->failed);
		int failed = p->failed;
		pthread_mutex_unlock(&p->mu);
		if (failed) {
			pool_error(p, e);
			goto out;
		}
	}
	msgpack_pack_map(&m.pk, 4);
	mpack_str(&m, "chunk");
	msgpack_pack_uint64(&m.pk, OBJ_CHUNK_SIZE);
	mpack_str(&m, "chunks");
	msgpack_pack_array(&m.pk, w->n);
	for (size_t i = 0; i < w->n; i++)
		mpack_digest(&m, &w->digests[i]);
	mpack_str(&m, "kind");
	mpack_str(&m, "manifest");
	mpack_str(&m, "size");
	msgpack_pack_uint64(&m.pk, w->total);
	if (cas_put(w->s, m.sb.data, m.sb.size, out, e)) {
		err_prefix(e, "object manifest");
		goto out;
	}
	ret = 0;
out:
	mpack_release(&m);
	obj_writer_abort(w);
	return ret;
}

int obj_put(struct store *s, const void *data, size_t len, struct digest *out, struct err *e)
{
	struct obj_writer *w;
	if (obj_writer_open(s, &w, e))
		return -1;
	if (obj_write(w, data, len, e)) {
		obj_writer_abort(w);
		return -1;
	}
	return obj_writer_finish(w, out, e);
}

/* ---- object reader ---- */

struct obj_reader {
	struct store *s;
	struct digest id;
	int verify;
	uint64_t size;
	uint64_t chunk_size;
	struct digest *chunks;
	size_t n_chunks;
	char *buf;
	size_t buf_cap;
	size_t cur;     /* loaded chunk index, or SIZE_MAX */
	size_t cur_len;
	uint64_t pos;   /* sequential position */
};

static int collect_chunk(const struct digest *d, void *ctx)
{
	struct obj_reader *r = ctx;
	r->chunks[r->n_chunks++] = *d;
	return 0;
}

int obj_reader_open_flags(struct store *s, const struct digest *d, int flags, struct obj_reader **out,
			  struct err *e)
{
	*out = NULL;
	struct obj_reader *r = xcalloc(1, sizeof(*r));
	r->s = s;
	r->id = *d;
	r->verify = !(flags & OBJ_NOVERIFY);
	r->cur = SIZE_MAX;
	struct buf man;
	buf_init(&man, 0);
	MDB_txn *txn;
	MDB_val v;
	int kind = BLOB_RAW;
	if (store_rtxn_begin(s, &txn, e))
		goto fail;
	int rc = store_get_in(s, txn, DB_CAS, d->b, DIGEST_LEN, &v, e);
	if (rc == 1) {
		kind = store_blob_kind(v.mv_data, v.mv_size);
		if (kind == BLOB_MANIFEST && buf_append(&man, v.mv_data, v.mv_size, e))
			rc = -1;
		r->size = v.mv_size;
	}
	store_rtxn_end(s, txn);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		digest_err(e, ERR_MISSING, d, "no object in %s with digest %s", "cas");
		goto fail;
	}
	if (kind == BLOB_MANIFEST) {
		struct digest got;
		hash_bytes(man.data, man.len, &got);
		if (!digest_equal(&got, d)) {
			digest_err(e, ERR_CORRUPT, d, "corrupt manifest in %s: %s does not hash to its key", "cas");
			goto fail;
		}
		msgpack_unpacked u;
		if (mpack_parse(man.data, man.len, &u, "manifest", e))
			goto fail_corrupt;
		uint64_t cs = 0, n = 0;
		const msgpack_object *ch = mpack_map_get(&u.data, "chunks");
		if (mpack_get_u64(mpack_map_get(&u.data, "chunk"), &cs) || cs == 0 || cs > (1u << 30) || !ch ||
		    ch->type != MSGPACK_OBJECT_ARRAY)
			n = UINT64_MAX;
		else
			n = ch->via.array.size;
		mpack_done(&u);
		if (n == UINT64_MAX) {
			err_set(e, ERR_CORRUPT, "manifest: bad chunk size");
			goto fail_corrupt;
		}
		r->chunk_size = cs;
		r->chunks = xalloc_try_zeroed(n, sizeof(*r->chunks), "an object's chunk list", e);
		if (!r->chunks)
			goto fail;
		if (store_manifest_walk(man.data, man.len, &r->size, collect_chunk, r, e))
			goto fail_corrupt;
	} else {
		/* A plain blob reads as a one-chunk object. */
		r->chunk_size = r->size ? r->size : 1;
		r->chunks = xmalloc(sizeof(*r->chunks));
		r->chunks[0] = *d;
		r->n_chunks = r->size ? 1 : 0;
	}
	buf_release(&man);
	*out = r;
	return 0;
fail_corrupt: {
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(d, hex);
	err_prefix(e, "object %s", hex);
}
fail:
	buf_release(&man);
	obj_reader_close(r);
	return -1;
}

int obj_reader_open(struct store *s, const struct digest *d, struct obj_reader **r, struct err *e)
{
	return obj_reader_open_flags(s, d, 0, r, e);
}

uint64_t obj_reader_size(const struct obj_reader *r)
{
	return r->size;
}

void obj_reader_close(struct obj_reader *r)
{
	if (!r)
		return;
	free(r->chunks);
	free(r->buf);
	free(r);
}

static uint64_t chunk_len(const struct obj_reader *r, size_t i)
{
	return i == r->n_chunks - 1 ? r->size - (uint64_t)i * r->chunk_size : r->chunk_size;
}

/* Copy chunk i (want bytes) out of LMDB into dst and check its digest. */
static int copy_chunk(struct obj_reader *r, size_t i, char *dst, uint64_t want, struct err *e)
{
	MDB_txn *txn;
	MDB_val v;
	if (store_rtxn_begin(r->s, &txn, e))
		return -1;
	int rc = store_get_in(r->s, txn, DB_CAS, r->chunks[i].b, DIGEST_LEN, &v, e);
	size_t got = 0;
	if (rc == 1) {
		got = v.mv_size;
		if (got == want)
			memcpy(dst, v.mv_data, got);
		store_drop_pages(v.mv_data, v.mv_size);
	}
	store_rtxn_end(r->s, txn);
	char hex[DIGEST_HEX_LEN + 1], ohex[DIGEST_HEX_LEN + 1];
	digest_to_hex(&r->chunks[i], hex);
	digest_to_hex(&r->id, ohex);
	if (rc < 0)
		return err_prefix(e, "object %s chunk %zu", ohex, i);
	if (rc == 0) {
		err_set(e, ERR_CORRUPT, "object %s: chunk %zu (cas %s) is missing", ohex, i, hex);
		return err_hint(e, "run 'engrave store verify'; the object must be imported or rebuilt again");
	}
	if (got != want) {
		err_set(e, ERR_CORRUPT, "object %s: chunk %zu (cas %s) has %zu bytes, manifest says %llu", ohex, i, hex,
			got, (unsigned long long)want);
		return err_hint(e, "run 'engrave store verify' to list all damage");
	}
	if (r->verify) {
		struct digest d;
		hash_bytes(dst, want, &d);
		if (!digest_equal(&d, &r->chunks[i])) {
			err_set(e, ERR_CORRUPT, "object %s: chunk %zu (cas %s) does not hash to its key", ohex, i, hex);
			return err_hint(e, "run 'engrave store verify' to list all damage");
		}
	}
	return 0;
}

static int load_chunk(struct obj_reader *r, size_t i, struct err *e)
{
	if (r->cur == i)
		return 0;
	uint64_t want = chunk_len(r, i);
	if (!r->buf || r->buf_cap < want) {
		free(r->buf);
		r->buf = xalloc_try_array(want, 1, "an object chunk", e);
		r->buf_cap = r->buf ? want : 0;
		if (!r->buf)
			return -1;
	}
	r->cur = SIZE_MAX;
	if (copy_chunk(r, i, r->buf, want, e))
		return -1;
	r->cur = i;
	r->cur_len = want;
	return 0;
}

/* A span that covers whole chunks goes straight from LMDB into dst (one copy,
 * hashed in place: the groundtruth step reads gigabytes this way); only the
 * partial chunks at its ends pass through the reader's chunk buffer. */
static int read_span(struct obj_reader *r, uint64_t off, void *dst, size_t len, struct err *e)
{
	char *o = dst;
	while (len) {
		size_t i = (size_t)(off / r->chunk_size);
		size_t in = (size_t)(off % r->chunk_size);
		uint64_t clen = chunk_len(r, i);
		size_t n;
		if (in == 0 && len >= clen && r->cur != i) {
			if (copy_chunk(r, i, o, clen, e))
				return -1;
			n = (size_t)clen;
		} else {
			if (load_chunk(r, i, e))
				return -1;
			n = r->cur_len - in;
			if (n > len)
				n = len;
			memcpy(o, r->buf + in, n);
		}
		o += n;
		off += n;
		len -= n;
	}
	return 0;
}

int obj_read(struct obj_reader *r, void *dst, size_t len, size_t *got, struct err *e)
{
	*got = 0;
	uint64_t left = r->size - r->pos;
	if (len > left)
		len = (size_t)left;
	if (!len)
		return 0;
	if (read_span(r, r->pos, dst, len, e))
		return -1;
	r->pos += len;
	*got = len;
	return 0;
}

int obj_read_full(struct obj_reader *r, const char *what, void *dst, size_t len, struct err *e)
{
	size_t got;
	if (obj_read(r, dst, len, &got, e))
		return -1;
	if (got < len)
		return err_set(e, ERR_CORRUPT, "artifact part '%s' is shorter than its meta says (%zu of %zu bytes)",
			       what, got, len);
	return 0;
}

int obj_read_at(struct obj_reader *r, uint64_t off, void *dst, size_t len, struct err *e)
{
	if (off > r->size || len > r->size - off)
		return err_set(e, ERR_INPUT, "read of %zu bytes at offset %llu is past the end of a %llu-byte object",
			       len, (unsigned long long)off, (unsigned long long)r->size);
	return read_span(r, off, dst, len, e);
}

int obj_get(struct store *s, const struct digest *d, struct buf *out, struct err *e)
{
	struct obj_reader *r;
	if (obj_reader_open(s, d, &r, e))
		return -1;
	buf_reset(out);
	int ret = buf_reserve(out, (size_t)r->size, e);
	if (!ret)
		ret = obj_read_at(r, 0, out->data, (size_t)r->size, e);
	if (!ret) {
		out->len = (size_t)r->size;
		out->data[out->len] = '\0';
	}
	obj_reader_close(r);
	return ret;
}
