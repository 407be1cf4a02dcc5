/*
 * artifact.c — typed, versioned records naming their data objects.
 *
 * An artifact is a caller-owned struct (fixed arrays: at most 16 parts, 48
 * meta keys; meta strings are heap copies freed by artifact_release) that is
 * stored as one canonical msgpack blob in the CAS:
 *
 *   {"action": bin32, "kind": "artifact", "meta": {key: int|float64|str},
 *    "parts": {name: [bin32, size]}, "type": str, "version": uint}
 *
 * Keys are emitted sorted (top level literally, meta and parts by sorting
 * copies of the arrays), so the same content always has the same id. The
 * fixed leading bytes (fixmap 6, "action") let gc recognise an artifact
 * without parsing every blob; artifact_find_prefix scans the CAS keys that
 * share a short hex prefix (an LMDB range, not the whole store) with it.
 */
#include "store_int.h"
#include "engrave/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void artifact_init(struct artifact *a, const char *type, uint32_t version)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->type, sizeof(a->type), "%s", type ? type : "");
	a->version = version;
}

void artifact_release(struct artifact *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->n_meta; i++)
		free(a->meta[i].s);
	a->n_meta = 0;
	a->n_parts = 0;
}

int artifact_add_part(struct artifact *a, const char *name, const struct digest *obj, uint64_t size,
		      struct err *e)
{
	if (strlen(name) >= sizeof(a->parts[0].name))
		return err_set(e, ERR_INTERNAL, "artifact part name '%s' is too long (max %zu)", name,
			       sizeof(a->parts[0].name) - 1);
	int i;
	for (i = 0; i < a->n_parts; i++)
		if (!strcmp(a->parts[i].name, name))
			break;
	if (i == a->n_parts) {
		if (a->n_parts >= ARTIFACT_MAX_PARTS)
			return err_set(e, ERR_INTERNAL, "artifact '%s' has more than %d parts", a->type,
				       ARTIFACT_MAX_PARTS);
		a->n_parts++;
	}
	snprintf(a->parts[i].name, sizeof(a->parts[i].name), "%s", name);
	a->parts[i].obj = *obj;
	a->parts[i].size = size;
	return 0;
}

static struct artifact_meta *meta_slot(struct artifact *a, const char *key, struct err *e)
{
	if (strlen(key) >= sizeof(a->meta[0].key)) {
		err_set(e, ERR_INTERNAL, "artifact meta key '%s' is too long", key);
		return NULL;
	}
	for (int i = 0; i < a->n_meta; i++)
		if (!strcmp(a->meta[i].key, key)) {
			free(a->meta[i].s);
			a->meta[i].s = NULL;
			return &a->meta[i];
		}
	if (a->n_meta >= ARTIFACT_MAX_META) {
		err_set(e, ERR_INTERNAL, "artifact '%s' has more than %d meta keys", a->type, ARTIFACT_MAX_META);
		return NULL;
	}
	struct artifact_meta *m = &a->meta[a->n_meta++];
	memset(m, 0, sizeof(*m));
	snprintf(m->key, sizeof(m->key), "%s", key);
	return m;
}

int artifact_set_int(struct artifact *a, const char *key, int64_t v, struct err *e)
{
	struct artifact_meta *m = meta_slot(a, key, e);
	if (!m)
		return -1;
	m->type = 'i';
	m->i = v;
	return 0;
}

int artifact_set_f64(struct artifact *a, const char *key, double v, struct err *e)
{
	struct artifact_meta *m = meta_slot(a, key, e);
	if (!m)
		return -1;
	m->type = 'f';
	m->f = v;
	return 0;
}

int artifact_set_str(struct artifact *a, const char *key, const char *v, struct err *e)
{
	struct artifact_meta *m = meta_slot(a, key, e);
	if (!m)
		return -1;
	m->type = 's';
	m->s = xstrdup(v ? v : "");
	return 0;
}

static int cmp_part(const void *x, const void *y)
{
	return strcmp(((const struct artifact_part *)x)->name, ((const struct artifact_part *)y)->name);
}

static int cmp_meta(const void *x, const void *y)
{
	return strcmp(((const struct artifact_meta *)x)->key, ((const struct artifact_meta *)y)->key);
}

static int artifact_encode(const struct artifact *a, struct buf *out, struct err *e)
{
	struct artifact_part parts[ARTIFACT_MAX_PARTS];
	struct artifact_meta meta[ARTIFACT_MAX_META];
	int np = a->n_parts, nm = a->n_meta;
	if (np < 0 || np > ARTIFACT_MAX_PARTS || nm < 0 || nm > ARTIFACT_MAX_META)
		return err_set(e, ERR_INTERNAL, "artifact '%s': bad part/meta counts", a->type);
	memcpy(parts, a->parts, (size_t)np * sizeof(parts[0]));
	memcpy(meta, a->meta, (size_t)nm * sizeof(meta[0]));
	qsort(parts, (size_t)np, sizeof(parts[0]), cmp_part);
	qsort(meta, (size_t)nm, sizeof(meta[0]), cmp_meta);

	struct mpack m;
	mpack_init(&m);
	msgpack_pack_map(&m.pk, 6);
	mpack_str(&m, "action");
	mpack_digest(&m, &a->action);
	mpack_str(&m, "kind");
	mpack_str(&m, "artifact");
	mpack_str(&m, "meta");
	msgpack_pack_map(&m.pk, (size_t)nm);
	for (int i = 0; i < nm; i++) {
		mpack_str(&m, meta[i].key);
		if (meta[i].type == 'i')
			msgpack_pack_int64(&m.pk, meta[i].i);
		else if (meta[i].type == 'f')
			msgpack_pack_double(&m.pk, meta[i].f);
		else
			mpack_str(&m, meta[i].s ? meta[i].s : "");
	}
	mpack_str(&m, "parts");
	msgpack_pack_map(&m.pk, (size_t)np);
	for (int i = 0; i < np; i++) {
		mpack_str(&m, parts[i].name);
		msgpack_pack_array(&m.pk, 2);
		mpack_digest(&m, &parts[i].obj);
		msgpack_pack_uint64(&m.pk, parts[i].size);
	}
	mpack_str(&m, "type");
	mpack_str(&m, a->type);
	mpack_str(&m, "version");
	msgpack_pack_uint32(&m.pk, a->version);
	int ret = mpack_to_buf(&m, out, e);
	mpack_release(&m);
	return ret;
}

int artifact_put(struct store *s, const struct artifact *a, struct digest *out, struct err *e)
{
	struct buf b;
	buf_init(&b, 0);
	int ret = artifact_encode(a, &b, e);
	if (!ret)
		ret = cas_put(s, b.data, b.len, out, e);
	buf_release(&b);
	if (ret)
		err_prefix(e, "artifact '%s'", a->type);
	return ret;
}

static int decode(const void *data, size_t len, struct artifact *out, struct err *e)
{
	msgpack_unpacked u;
	if (mpack_parse(data, len, &u, "artifact", e))
		return -1;
	const msgpack_object *m = &u.data;
	const msgpack_object *meta = mpack_map_get(m, "meta");
	const msgpack_object *parts = mpack_map_get(m, "parts");
	uint64_t ver;
	int ret = 0;
	if (!mpack_str_eq(mpack_map_get(m, "kind"), "artifact") ||
	    mpack_get_str(mpack_map_get(m, "type"), out->type, sizeof(out->type)) ||
	    mpack_get_u64(mpack_map_get(m, "version"), &ver) || ver > UINT32_MAX ||
	    mpack_get_digest(mpack_map_get(m, "action"), &out->action) || !meta || meta->type != MSGPACK_OBJECT_MAP ||
	    !parts || parts->type != MSGPACK_OBJECT_MAP || parts->via.map.size > ARTIFACT_MAX_PARTS ||
	    meta->via.map.size > ARTIFACT_MAX_META) {
		ret = err_set(e, ERR_CORRUPT, "artifact: missing or malformed fields");
		goto out;
	}
	out->version = (uint32_t)ver;
	for (uint32_t i = 0; i < parts->via.map.size; i++) {
		const msgpack_object_kv *kv = &parts->via.map.ptr[i];
		struct artifact_part *p = &out->parts[i];
		uint64_t sz;
		if (mpack_get_str(&kv->key, p->name, sizeof(p->name)) || kv->val.type != MSGPACK_OBJECT_ARRAY ||
		    kv->val.via.array.size != 2 || mpack_get_digest(&kv->val.via.array.ptr[0], &p->obj) ||
		    mpack_get_u64(&kv->val.via.array.ptr[1], &sz)) {
			ret = err_set(e, ERR_CORRUPT, "artifact: part %u malformed", i);
			goto out;
		}
		p->size = sz;
		out->n_parts++;
	}
	for (uint32_t i = 0; i < meta->via.map.size; i++) {
		const msgpack_object_kv *kv = &meta->via.map.ptr[i];
		struct artifact_meta *mt = &out->meta[i];
		memset(mt, 0, sizeof(*mt));
		if (mpack_get_str(&kv->key, mt->key, sizeof(mt->key))) {
			ret = err_set(e, ERR_CORRUPT, "artifact: meta key %u malformed", i);
			goto out;
		}
		out->n_meta++;
		if (kv->val.type == MSGPACK_OBJECT_STR) {
			mt->type = 's';
			mt->s = mpack_dup_str(&kv->val);
			if (!mt->s) {
				ret = err_set(e, ERR_INTERNAL, "out of memory");
				goto out;
			}
		} else if (kv->val.type == MSGPACK_OBJECT_FLOAT64 || kv->val.type == MSGPACK_OBJECT_FLOAT32) {
			mt->type = 'f';
			mt->f = kv->val.via.f64;
		} else if (!mpack_get_i64(&kv->val, &mt->i)) {
			mt->type = 'i';
		} else {
			ret = err_set(e, ERR_CORRUPT, "artifact: meta '%s' has an unsupported type", mt->key);
			goto out;
		}
	}
out:
	mpack_done(&u);
	return ret;
}

int artifact_decode(const void *data, size_t len, struct artifact *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (decode(data, len, out, e)) {
		artifact_release(out);
		return -1;
	}
	return 0;
}

int artifact_get(struct store *s, const struct digest *d, struct artifact *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct buf b;
	buf_init(&b, 0);
	int ret = cas_get(s, d, &b, 1, e);
	if (!ret && artifact_decode(b.data, b.len, out, e)) {
		char hex[DIGEST_HEX_LEN + 1];
		digest_to_hex(d, hex);
		err_prefix(e, "cas %s", hex);
		ret = -1;
	}
	buf_release(&b);
	return ret;
}

const struct digest *artifact_part(const struct artifact *a, const char *name)
{
	for (int i = 0; i < a->n_parts; i++)
		if (!strcmp(a->parts[i].name, name))
			return &a->parts[i].obj;
	return NULL;
}

static const struct artifact_meta *meta_find(const struct artifact *a, const char *key)
{
	for (int i = 0; i < a->n_meta; i++)
		if (!strcmp(a->meta[i].key, key))
			return &a->meta[i];
	return NULL;
}

int artifact_get_int(const struct artifact *a, const char *key, int64_t *out)
{
	const struct artifact_meta *m = meta_find(a, key);
	if (!m || m->type != 'i')
		return -1;
	*out = m->i;
	return 0;
}

const char *artifact_get_str(const struct artifact *a, const char *key)
{
	const struct artifact_meta *m = meta_find(a, key);
	return m && m->type == 's' ? m->s : NULL;
}

int artifact_get_f64(const struct artifact *a, const char *key, double *out)
{
	const struct artifact_meta *m = meta_find(a, key);
	if (!m)
		return -1;
	if (m->type == 'f')
		*out = m->f;
	else if (m->type == 'i')
		*out = (double)m->i;
	else
		return -1;
	return 0;
}

/* ---- artifacts by digest prefix ---- */

struct prefix_scan {
	const char *hex;
	size_t hex_len;
	struct digest *out;
	size_t cap, n;
};

static int prefix_one(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct prefix_scan *p = ctx;
	if (kl != DIGEST_LEN)
		return 0;
	struct digest d;
	memcpy(d.b, k, DIGEST_LEN);
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(&d, hex);
	if (strncasecmp(hex, p->hex, p->hex_len) || store_blob_kind(v, vl) != BLOB_ARTIFACT)
		return 0;
	if (p->n < p->cap)
		p->out[p->n] = d;
	p->n++;
	return 0;
}

int artifact_find_prefix(struct store *s, const char *hex, struct digest *out, size_t cap, size_t *n,
			 struct err *e)
{
	size_t len = strlen(hex);
	*n = 0;
	if (len == 0 || len > DIGEST_HEX_LEN || strspn(hex, "0123456789abcdefABCDEF") != len)
		return err_set(e, ERR_USAGE, "'%s' is not a hex digest prefix", hex);
	uint8_t key[DIGEST_LEN];
	for (size_t i = 0; i + 1 < len; i += 2) {
		char two[3] = { hex[i], hex[i + 1], 0 };
		key[i / 2] = (uint8_t)strtoul(two, NULL, 16);
	}
	struct prefix_scan p = { hex, len, out, cap, 0 };
	if (store_scan(s, DB_CAS, key, len / 2, 0, prefix_one, &p, e) < 0)
		return -1;
	*n = p.n;
	return 0;
}
