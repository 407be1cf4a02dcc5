/*
 * cas.c — content-addressed blobs and the chunked objects built on them.
 *
 * A blob is stored under the SHA-256 of its bytes in "cas"; cas_put hashes
 * before it opens the write transaction (hashing is the slow part and needs
 * no lock) and writes with MDB_NOOVERWRITE, so storing known bytes is cheap
 * and never rewrites them. Each put also stamps "born" with the time, which
 * gc's grace period reads (a re-put refreshes it).
 *
 * Objects: the writer fills one OBJ_CHUNK_SIZE buffer, stores each full
 * chunk as a blob (one small transaction per chunk, so a huge import commits
 * progressively and memory stays at one chunk) and keeps only the chunk
 * digests (32 bytes per 4 MiB). finish() stores the last partial chunk and
 * the manifest {"chunk", "chunks", "kind": "manifest", "size"}; the object
 * digest is the manifest's. Because chunk boundaries are fixed, the digest is
 * a function of the content alone. Data arriving in whole chunks is stored
 * straight from the caller's memory.
 *
 * The reader loads one chunk at a time into its buffer (copied out of the
 * map inside a short read transaction, then re-hashed unless OBJ_NOVERIFY),
 * serves sequential and random reads from it, and forgets the mapped pages.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- blobs ---- */

static int put_digest(struct store *s, const struct digest *d, const void *data, size_t len, struct err *e)
{
	int64_t now = clock_unix_now();
	uint8_t stamp[8];
	for (int i = 0; i < 8; i++)
		stamp[i] = (uint8_t)((uint64_t)now >> (56 - 8 * i)); /* big-endian */
	struct wop ops[2] = {
		{ WOP_PUT_NEW, DB_CAS, d->b, DIGEST_LEN, data, len },
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

struct obj_writer {
	struct store *s;
	char *chunk;
	size_t fill;
	uint64_t total;
	struct digest *digests;
	size_t n, cap;
};

int obj_writer_open(struct store *s, struct obj_writer **w, struct err *e)
{
	struct obj_writer *o = calloc(1, sizeof(*o));
	if (o)
		o->chunk = malloc(OBJ_CHUNK_SIZE);
	if (!o || !o->chunk) {
		if (o)
			free(o);
		*w = NULL;
		return err_set(e, ERR_INTERNAL, "out of memory for an object chunk buffer");
	}
	o->s = s;
	*w = o;
	return 0;
}

static int store_chunk(struct obj_writer *w, const void *data, size_t len, struct err *e)
{
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 64;
		struct digest *p = realloc(w->digests, nc * sizeof(*p));
		if (!p)
			return err_set(e, ERR_INTERNAL, "out of memory for chunk digests");
		w->digests = p;
		w->cap = nc;
	}
	struct digest d;
	if (cas_put(w->s, data, len, &d, e))
		return err_prefix(e, "object chunk %zu", w->n);
	w->digests[w->n++] = d;
	return 0;
}

int obj_write(struct obj_writer *w, const void *data, size_t len, struct err *e)
{
	const char *p = data;
	while (len) {
		if (w->fill == 0 && len >= OBJ_CHUNK_SIZE) {
			if (store_chunk(w, p, OBJ_CHUNK_SIZE, e))
				return -1;
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
			if (store_chunk(w, w->chunk, w->fill, e))
				return -1;
			w->fill = 0;
		}
	}
	return 0;
}

uint64_t obj_writer_size(const struct obj_writer *w)
{
	return w->total;
}

void obj_writer_abort(struct obj_writer *w)
{
	if (!w)
		return;
	free(w->chunk);
	free(w->digests);
	free(w);
}

int obj_writer_finish(struct obj_writer *w, struct digest *out, struct err *e)
{
	int ret = -1;
	struct mpack m;
	mpack_init(&m);
	if (w->fill && store_chunk(w, w->chunk, w->fill, e))
		goto out;
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
	struct obj_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(e, ERR_INTERNAL, "out of memory");
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
		r->chunks = calloc(n ? n : 1, sizeof(*r->chunks));
		if (!r->chunks) {
			err_set(e, ERR_INTERNAL, "out of memory");
			goto fail;
		}
		if (store_manifest_walk(man.data, man.len, &r->size, collect_chunk, r, e))
			goto fail_corrupt;
	} else {
		/* A plain blob reads as a one-chunk object. */
		r->chunk_size = r->size ? r->size : 1;
		r->chunks = malloc(sizeof(*r->chunks));
		if (!r->chunks) {
			err_set(e, ERR_INTERNAL, "out of memory");
			goto fail;
		}
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

static int load_chunk(struct obj_reader *r, size_t i, struct err *e)
{
	if (r->cur == i)
		return 0;
	uint64_t want = r->chunk_size;
	if (i == r->n_chunks - 1)
		want = r->size - (uint64_t)i * r->chunk_size;
	if (!r->buf || r->buf_cap < want) {
		free(r->buf);
		r->buf = malloc(want ? want : 1);
		r->buf_cap = want;
		if (!r->buf)
			return err_set(e, ERR_INTERNAL, "out of memory for a %llu-byte chunk", (unsigned long long)want);
	}
	r->cur = SIZE_MAX;
	MDB_txn *txn;
	MDB_val v;
	if (store_rtxn_begin(r->s, &txn, e))
		return -1;
	int rc = store_get_in(r->s, txn, DB_CAS, r->chunks[i].b, DIGEST_LEN, &v, e);
	size_t got = 0;
	if (rc == 1) {
		got = v.mv_size;
		if (got == want)
			memcpy(r->buf, v.mv_data, got);
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
		hash_bytes(r->buf, want, &d);
		if (!digest_equal(&d, &r->chunks[i])) {
			err_set(e, ERR_CORRUPT, "object %s: chunk %zu (cas %s) does not hash to its key", ohex, i, hex);
			return err_hint(e, "run 'engrave store verify' to list all damage");
		}
	}
	r->cur = i;
	r->cur_len = want;
	return 0;
}

static int read_span(struct obj_reader *r, uint64_t off, void *dst, size_t len, struct err *e)
{
	char *o = dst;
	while (len) {
		size_t i = (size_t)(off / r->chunk_size);
		size_t in = (size_t)(off % r->chunk_size);
		if (load_chunk(r, i, e))
			return -1;
		size_t n = r->cur_len - in;
		if (n > len)
			n = len;
		memcpy(o, r->buf + in, n);
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
