/*
 * ac.c — the action cache and refs: two small key -> value tables.
 *
 * Action cache ("ac"): key = the caller's action digest (SHA-256 of the
 * canonical {step, version, params, input digests}), value = bytes the
 * runner chooses. gc treats the value as the msgpack map written by
 * ac_value_encode ({"elapsed_ns", "outputs": [bin32...]}) and keeps the
 * outputs alive; a value in any other shape roots nothing.
 *
 * ac_get_verified is the lookup for callers that will use the outputs: an
 * entry is only a hit when what it names is still whole (gc may have
 * dropped it, `store verify --repair` may have dropped a corrupt chunk, a
 * run may have been killed between its outputs and its entry). The check is
 * cheap: one read transaction; each output must exist; a manifest or
 * artifact (small) must hash to its key and decode, every object an
 * artifact names must exist, and every chunk a manifest names must exist
 * with the chunk sizes adding up to the object's size; other blobs up to
 * 1 MiB are re-hashed. Large chunks are not re-hashed here (that is what
 * reading an object does, and `store verify`); a damaged entry is a miss
 * (logged), so the step runs again and overwrites it.
 *
 * Refs ("refs"): a NUL-free name -> a NUL-free value string, usually a run id
 * or a 64-hex digest ("baseline/m17-1k" -> "20261124T083015Z-a1b2c3").
 * Keys are stored without a terminator, so prefix listing is a range scan.
 */
#include "store_int.h"
#include "engrave/log.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- action cache ---- */

int ac_get(struct store *s, const struct digest *key, struct buf *value, struct err *e)
{
	MDB_txn *txn;
	MDB_val v;
	if (store_rtxn_begin(s, &txn, e))
		return -1;
	int rc = store_get_in(s, txn, DB_AC, key->b, DIGEST_LEN, &v, e);
	if (rc == 1) {
		buf_reset(value);
		if (buf_append(value, v.mv_data, v.mv_size, e))
			rc = -1;
	}
	store_rtxn_end(s, txn);
	return rc;
}

/* ---- verified lookups ---- */

#define ACV_HASH_MAX (1u << 20) /* re-hash raw outputs up to this size */

struct acv {
	struct store *s;
	MDB_txn *txn;
	struct err *e;
	int state;       /* 0 whole so far, 1 damaged (why says how), -1 store error */
	uint64_t sum;    /* bytes of the chunks of the manifest being checked */
	char why[200];
};

/* `what` names the blob: "%s" is where its (short) digest goes. */
static int acv_damaged(struct acv *c, const char *what, const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(d, hex);
	hex[16] = '\0';
	snprintf(c->why, sizeof(c->why), what, hex);
	c->state = 1;
	return 1;
}

/* Fetch a blob; 1 found, 0 (state set) otherwise. */
static int acv_get(struct acv *c, const struct digest *d, MDB_val *v, const char *what)
{
	int rc = store_get_in(c->s, c->txn, DB_CAS, d->b, DIGEST_LEN, v, c->e);
	if (rc < 0) {
		c->state = -1;
		return 0;
	}
	if (rc == 0) {
		acv_damaged(c, what, d);
		return 0;
	}
	return 1;
}

static int acv_chunk(const struct digest *d, void *ctx)
{
	struct acv *c = ctx;
	MDB_val v;
	if (!acv_get(c, d, &v, "chunk %s is missing"))
		return 1;
	c->sum += v.mv_size;
	return 0;
}

static int acv_object(const struct digest *d, void *ctx);

static int acv_part(const struct digest *d, void *ctx)
{
	return acv_object(d, ctx);
}

/* Check one output (depth: artifact -> objects -> chunks); non-zero stops. */
static int acv_object(const struct digest *d, void *ctx)
{
	struct acv *c = ctx;
	MDB_val v;
	if (!acv_get(c, d, &v, "output %s is missing"))
		return 1;
	enum blob_kind kind = store_blob_kind(v.mv_data, v.mv_size);
	if (kind != BLOB_RAW || v.mv_size <= ACV_HASH_MAX) {
		struct digest got;
		hash_bytes(v.mv_data, v.mv_size, &got);
		if (!digest_equal(&got, d))
			return acv_damaged(c, "%s does not hash to its key", d);
	}
	if (kind == BLOB_MANIFEST) {
		uint64_t size = 0;
		c->sum = 0;
		if (store_manifest_walk(v.mv_data, v.mv_size, &size, acv_chunk, c, NULL) && !c->state)
			return acv_damaged(c, "manifest %s does not decode", d);
		if (!c->state && c->sum != size)
			return acv_damaged(c, "object %s has chunks of the wrong size", d);
	} else if (kind == BLOB_ARTIFACT) {
		if (store_artifact_walk(v.mv_data, v.mv_size, acv_part, c, NULL) && !c->state)
			return acv_damaged(c, "artifact %s does not decode", d);
	}
	return c->state != 0;
}

int ac_get_verified(struct store *s, const struct digest *key, struct buf *value, struct err *e)
{
	MDB_txn *txn;
	MDB_val v;
	if (store_rtxn_begin(s, &txn, e))
		return -1;
	struct acv c = { s, txn, e, 0, 0, "" };
	int rc = store_get_in(s, txn, DB_AC, key->b, DIGEST_LEN, &v, e);
	if (rc == 1) {
		int n = 0;
		if (ac_value_decode(v.mv_data, v.mv_size, NULL, 0, &n, NULL, NULL) || n < 0) {
			snprintf(c.why, sizeof(c.why), "its value does not decode");
			c.state = 1;
		} else {
			struct digest *outs = xalloc_try_array((size_t)(n ? n : 1), sizeof(*outs),
							       "an action's list of outputs", e);
			if (!outs) {
				c.state = -1;
			} else {
				ac_value_decode(v.mv_data, v.mv_size, outs, n, &n, NULL, NULL);
				for (int i = 0; i < n && !c.state; i++)
					acv_object(&outs[i], &c);
				free(outs);
			}
		}
		if (c.state == 0) {
			buf_reset(value);
			if (buf_append(value, v.mv_data, v.mv_size, e))
				c.state = -1;
		}
	}
	store_rtxn_end(s, txn);
	if (rc <= 0)
		return rc;
	if (c.state < 0)
		return -1;
	if (c.state > 0) {
		char hex[DIGEST_HEX_LEN + 1];
		digest_to_hex(key, hex);
		log_warn("action %.16s: the cached result is damaged (%s); running the step again", hex, c.why);
		return 0;
	}
	return 1;
}

int ac_put(struct store *s, const struct digest *key, const void *value, size_t len, struct err *e)
{
	struct wop op = { WOP_PUT, DB_AC, key->b, DIGEST_LEN, value, len };
	return store_write(s, &op, 1, "cannot record action", e);
}

int ac_value_encode(const struct digest *outputs, int n, uint64_t elapsed_ns, struct buf *out, struct err *e)
{
	struct mpack m;
	mpack_init(&m);
	msgpack_pack_map(&m.pk, 2);
	mpack_str(&m, "elapsed_ns");
	msgpack_pack_uint64(&m.pk, elapsed_ns);
	mpack_str(&m, "outputs");
	msgpack_pack_array(&m.pk, (size_t)(n > 0 ? n : 0));
	for (int i = 0; i < n; i++)
		mpack_digest(&m, &outputs[i]);
	int ret = mpack_to_buf(&m, out, e);
	mpack_release(&m);
	return ret;
}

int ac_value_decode(const void *value, size_t len, struct digest *outputs, int cap, int *n, uint64_t *elapsed_ns,
		    struct err *e)
{
	msgpack_unpacked u;
	if (mpack_parse(value, len, &u, "action cache value", e))
		return -1;
	int ret = 0;
	const msgpack_object *o = mpack_map_get(&u.data, "outputs");
	if (!o || o->type != MSGPACK_OBJECT_ARRAY) {
		ret = err_set(e, ERR_CORRUPT, "action cache value: no \"outputs\" array");
		goto out;
	}
	if (elapsed_ns) {
		uint64_t t = 0;
		mpack_get_u64(mpack_map_get(&u.data, "elapsed_ns"), &t);
		*elapsed_ns = t;
	}
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		struct digest d;
		if (mpack_get_digest(&o->via.array.ptr[i], &d)) {
			ret = err_set(e, ERR_CORRUPT, "action cache value: output %u is not a digest", i);
			goto out;
		}
		if ((int)i < cap)
			outputs[i] = d;
	}
	if (n)
		*n = (int)o->via.array.size;
out:
	mpack_done(&u);
	return ret;
}

/* ---- refs ---- */

static int check_name(const char *name, struct err *e)
{
	size_t n = strlen(name);
	if (n == 0 || n > 400)
		return err_set(e, ERR_USAGE, "bad ref name '%s' (1 to 400 bytes)", name);
	return 0;
}

int ref_set(struct store *s, const char *name, const char *value, struct err *e)
{
	if (check_name(name, e))
		return -1;
	if (strlen(value) > 400)
		return err_set(e, ERR_USAGE, "ref '%s': value longer than 400 bytes", name);
	struct wop op = { WOP_PUT, DB_REFS, name, strlen(name), value, strlen(value) };
	return store_write(s, &op, 1, "cannot set ref", e);
}

int ref_get(struct store *s, const char *name, char *value, size_t cap, struct err *e)
{
	if (check_name(name, e))
		return -1;
	MDB_txn *txn;
	MDB_val v;
	if (store_rtxn_begin(s, &txn, e))
		return -1;
	int rc = store_get_in(s, txn, DB_REFS, name, strlen(name), &v, e);
	if (rc == 1) {
		if (v.mv_size >= cap) {
			rc = -1;
			err_set(e, ERR_INTERNAL, "ref '%s': value of %zu bytes does not fit in %zu", name, v.mv_size, cap);
		} else {
			memcpy(value, v.mv_data, v.mv_size);
			value[v.mv_size] = '\0';
		}
	}
	store_rtxn_end(s, txn);
	if (rc == 0) {
		err_set(e, ERR_MISSING, "no ref '%s'", name);
		return err_hint(e, "list refs with 'engrave store refs'");
	}
	return rc < 0 ? -1 : 0;
}

int ref_del(struct store *s, const char *name, struct err *e)
{
	char tmp[8];
	struct err e2 = ERR_INIT;
	if (ref_get(s, name, tmp, sizeof(tmp), &e2) && e2.cls == ERR_MISSING) {
		if (e)
			*e = e2;
		return -1;
	}
	struct wop op = { WOP_DEL, DB_REFS, name, strlen(name), NULL, 0 };
	return store_write(s, &op, 1, "cannot delete ref", e);
}

struct ref_list_ctx {
	int (*cb)(const char *name, const char *value, void *ctx);
	void *ctx;
};

static int ref_list_one(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct ref_list_ctx *c = ctx;
	char name[512], value[512];
	if (kl >= sizeof(name) || vl >= sizeof(value))
		return 0; /* cannot be written by ref_set */
	memcpy(name, k, kl);
	name[kl] = '\0';
	memcpy(value, v, vl);
	value[vl] = '\0';
	return c->cb(name, value, c->ctx);
}

int ref_list(struct store *s, const char *prefix, int (*cb)(const char *name, const char *value, void *ctx),
	     void *ctx, struct err *e)
{
	struct ref_list_ctx c = { cb, ctx };
	return store_scan(s, DB_REFS, prefix ? prefix : "", prefix ? strlen(prefix) : 0, 1, ref_list_one, &c, e);
}

int store_resolve_digest(struct store *s, const char *arg, struct digest *d, struct err *e)
{
	if (strlen(arg) == DIGEST_HEX_LEN && !digest_from_hex(arg, d, NULL))
		return 0;
	char v[512];
	if (ref_get(s, arg, v, sizeof(v), e)) {
		if (e && e->cls == ERR_MISSING) {
			err_set(e, ERR_MISSING, "'%s' is neither a 64-hex digest nor a ref", arg);
			err_hint(e, "list refs with 'engrave store refs'");
		}
		return -1;
	}
	if (digest_from_hex(v, d, NULL)) {
		err_set(e, ERR_USAGE, "ref '%s' points at '%s', not at a digest", arg, v);
		return err_hint(e, "a ref naming a run is listed by 'engrave store runs'");
	}
	return 0;
}
