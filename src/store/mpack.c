/*
 * mpack.c — canonical MessagePack on top of msgpack-c, and blob shapes.
 *
 * Canonical means: map keys are written in bytewise-sorted order (callers
 * write them in order; every encoder in src/store/ lists its keys sorted),
 * integers take msgpack-c's smallest encoding (msgpack_pack_uint64 and
 * msgpack_pack_int64 already pick it), floats are always float64, digests
 * are bin 32. Equal values therefore encode to equal bytes and equal digests.
 *
 * Decoding uses msgpack_unpack_next into a zone-backed object tree; the
 * small accessors below turn "wrong type" into -1 so decoders can report
 * ERR_CORRUPT with the field name.
 *
 * The blob shapes: a manifest starts with fixmap(4) "chunk", an artifact
 * with fixmap(6) "action"; store_blob_kind checks that prefix before parsing,
 * so gc and stats never try to parse 4 MiB chunks of vectors.
 */
#include "store_int.h"
#include "engrave/xalloc.h"

#include <stdlib.h>
#include <string.h>

void mpack_init(struct mpack *m)
{
	msgpack_sbuffer_init(&m->sb);
	msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

void mpack_release(struct mpack *m)
{
	msgpack_sbuffer_destroy(&m->sb);
}

void mpack_str(struct mpack *m, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(&m->pk, n);
	msgpack_pack_str_body(&m->pk, s, n);
}

void mpack_bin(struct mpack *m, const void *p, size_t n)
{
	msgpack_pack_bin(&m->pk, n);
	msgpack_pack_bin_body(&m->pk, p, n);
}

void mpack_digest(struct mpack *m, const struct digest *d)
{
	mpack_bin(m, d->b, DIGEST_LEN);
}

int mpack_to_buf(struct mpack *m, struct buf *out, struct err *e)
{
	buf_reset(out);
	return buf_append(out, m->sb.data, m->sb.size, e);
}

static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * msgpack-c allocates an array's or map's elements when it reads the
 * count, before the elements: 5 bytes claiming 2^32 entries ask for 96 GiB
 * (found by tests/fuzz/fuzz_artifact). Every value takes at least one byte,
 * so a document whose pending values outnumber its remaining bytes is
 * refused here, before msgpack-c sees it: the allocation is then bounded by
 * the input's size. Walks the headers only (no recursion, no allocation).
 */
static int mpack_counts_fit(const unsigned char *p, size_t len)
{
	uint64_t need = 1;
	size_t pos = 0;
	while (need) {
		if (pos >= len || need > len - pos)
			return 0;
		unsigned b = p[pos];
		uint64_t h = 1, body = 0, kids = 0;
		if (b >= 0x80 && b <= 0x8f)
			kids = 2 * (uint64_t)(b & 0x0f);
		else if (b >= 0x90 && b <= 0x9f)
			kids = b & 0x0f;
		else if (b >= 0xa0 && b <= 0xbf)
			body = b & 0x1f;
		else if (b >= 0xc4 && b <= 0xdf) {
			static const unsigned char hdr[] = { /* 0xc4..0xdf: header bytes after the type, kind */
				1, 2, 4, 1, 2, 4, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8, 2, 3, 5, 9, 17, 1, 2, 4, 2, 4, 2, 4
			};
			unsigned n = hdr[b - 0xc4];
			if (b <= 0xc6 || (b >= 0xd9 && b <= 0xdb)) { /* bin, str: n length bytes */
				h = 1 + n;
				if (pos + h > len)
					return 0;
				body = be(p + pos + 1, (int)n);
			} else if (b <= 0xc9) { /* ext 8/16/32: length, then a type byte */
				h = 2 + n;
				if (pos + h > len)
					return 0;
				body = be(p + pos + 1, (int)n);
			} else if (b >= 0xdc) { /* array16/32, map16/32 */
				h = 1 + n;
				if (pos + h > len)
					return 0;
				kids = be(p + pos + 1, (int)n) * (b >= 0xde ? 2 : 1);
			} else { /* floats, ints, fixext: fixed size */
				h = 1 + n;
			}
		} else if (b == 0xc1) {
			return 0;
		}
		if (h > len - pos || body > len - pos - h)
			return 0;
		pos += h + body;
		need = need - 1 + kids;
	}
	return 1;
}

int mpack_parse(const void *data, size_t len, msgpack_unpacked *u, const char *what, struct err *e)
{
	msgpack_unpacked_init(u);
	size_t off = 0;
	msgpack_unpack_return r = mpack_counts_fit(data, len) ? msgpack_unpack_next(u, data, len, &off)
							      : MSGPACK_UNPACK_PARSE_ERROR;
	if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
		msgpack_unpacked_destroy(u);
		msgpack_unpacked_init(u);
		return err_set(e, ERR_CORRUPT, "%s: not a valid msgpack value (%zu bytes)", what, len);
	}
	return 0;
}

void mpack_done(msgpack_unpacked *u)
{
	msgpack_unpacked_destroy(u);
}

const msgpack_object *mpack_map_get(const msgpack_object *map, const char *key)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	size_t n = strlen(key);
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
		    !memcmp(kv->key.via.str.ptr, key, n))
			return &kv->val;
	}
	return NULL;
}

int mpack_get_digest(const msgpack_object *o, struct digest *d)
{
	if (!o || o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != DIGEST_LEN)
		return -1;
	memcpy(d->b, o->via.bin.ptr, DIGEST_LEN);
	return 0;
}

int mpack_get_u64(const msgpack_object *o, uint64_t *v)
{
	if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	*v = o->via.u64;
	return 0;
}

int mpack_get_i64(const msgpack_object *o, int64_t *v)
{
	if (!o)
		return -1;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX) {
		*v = (int64_t)o->via.u64;
		return 0;
	}
	return -1;
}

int mpack_get_f64(const msgpack_object *o, double *v)
{
	if (!o)
		return -1;
	switch (o->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*v = o->via.f64;
		return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*v = (double)o->via.u64;
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*v = (double)o->via.i64;
		return 0;
	default:
		return -1;
	}
}

int mpack_get_str(const msgpack_object *o, char *dst, size_t cap)
{
	if (!o || o->type != MSGPACK_OBJECT_STR || cap == 0)
		return -1;
	size_t n = o->via.str.size;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, o->via.str.ptr, n);
	dst[n] = '\0';
	return 0;
}

char *mpack_dup_str(const msgpack_object *o)
{
	if (!o || o->type != MSGPACK_OBJECT_STR)
		return NULL;
	char *s = xmalloc((size_t)o->via.str.size + 1);
	memcpy(s, o->via.str.ptr, o->via.str.size);
	s[o->via.str.size] = '\0';
	return s;
}

int mpack_str_eq(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && !memcmp(o->via.str.ptr, s, n);
}

/* ---- blob shapes ---- */

static const unsigned char manifest_prefix[] = { 0x84, 0xa5, 'c', 'h', 'u', 'n', 'k' };
static const unsigned char artifact_prefix[] = { 0x86, 0xa6, 'a', 'c', 't', 'i', 'o', 'n' };

enum blob_kind store_blob_kind(const void *data, size_t len)
{
	enum blob_kind want;
	if (len > sizeof(manifest_prefix) && !memcmp(data, manifest_prefix, sizeof(manifest_prefix)))
		want = BLOB_MANIFEST;
	else if (len > sizeof(artifact_prefix) && !memcmp(data, artifact_prefix, sizeof(artifact_prefix)))
		want = BLOB_ARTIFACT;
	else
		return BLOB_RAW;
	msgpack_unpacked u;
	if (mpack_parse(data, len, &u, "blob", NULL))
		return BLOB_RAW;
	const msgpack_object *kind = mpack_map_get(&u.data, "kind");
	int ok = mpack_str_eq(kind, want == BLOB_MANIFEST ? "manifest" : "artifact");
	mpack_done(&u);
	return ok ? want : BLOB_RAW;
}

int store_manifest_walk(const void *data, size_t len, uint64_t *size,
			int (*fn)(const struct digest *chunk, void *ctx), void *ctx, struct err *e)
{
	msgpack_unpacked u;
	if (mpack_parse(data, len, &u, "manifest", e))
		return -1;
	const msgpack_object *m = &u.data;
	const msgpack_object *chunks = mpack_map_get(m, "chunks");
	uint64_t sz, csz;
	int ret = 0;
	if (!mpack_str_eq(mpack_map_get(m, "kind"), "manifest") || mpack_get_u64(mpack_map_get(m, "size"), &sz) ||
	    mpack_get_u64(mpack_map_get(m, "chunk"), &csz) || !chunks || chunks->type != MSGPACK_OBJECT_ARRAY ||
	    csz == 0 || (sz + csz - 1) / csz != chunks->via.array.size) {
		ret = err_set(e, ERR_CORRUPT, "manifest: fields missing or inconsistent");
		goto out;
	}
	if (size)
		*size = sz;
	for (uint32_t i = 0; fn && i < chunks->via.array.size; i++) {
		struct digest d;
		if (mpack_get_digest(&chunks->via.array.ptr[i], &d)) {
			ret = err_set(e, ERR_CORRUPT, "manifest: chunk %u is not a digest", i);
			goto out;
		}
		ret = fn(&d, ctx);
		if (ret)
			goto out;
	}
out:
	mpack_done(&u);
	return ret;
}

int store_artifact_walk(const void *data, size_t len, int (*fn)(const struct digest *obj, void *ctx), void *ctx,
			struct err *e)
{
	msgpack_unpacked u;
	if (mpack_parse(data, len, &u, "artifact", e))
		return -1;
	int ret = 0;
	const msgpack_object *parts = mpack_map_get(&u.data, "parts");
	if (!parts || parts->type != MSGPACK_OBJECT_MAP) {
		ret = err_set(e, ERR_CORRUPT, "artifact: no parts map");
		goto out;
	}
	for (uint32_t i = 0; i < parts->via.map.size; i++) {
		const msgpack_object *v = &parts->via.map.ptr[i].val;
		struct digest d;
		if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != 2 ||
		    mpack_get_digest(&v->via.array.ptr[0], &d)) {
			ret = err_set(e, ERR_CORRUPT, "artifact: part %u malformed", i);
			goto out;
		}
		ret = fn(&d, ctx);
		if (ret)
			goto out;
	}
out:
	mpack_done(&u);
	return ret;
}
