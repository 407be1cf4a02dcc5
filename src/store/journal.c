/*
 * journal.c — per-run, per-stream journals for resumable effectful steps.
 *
 * One sub-database, "journal", keyed "run_id \0 stream \0 key", so a run's
 * stream is one contiguous key range: iteration is a prefix scan in key
 * order and a resumed step finds what it already did by key (an ingest
 * receipt per batch, a load record per request index). Callers choose keys
 * that sort usefully (big-endian integers).
 *
 * A batch copies its entries into one buffer (full key then value, with
 * their lengths) and commits them in a single store_write, i.e. one LMDB
 * transaction: either every entry of the batch is durable or none is. Small
 * batches (hundreds of entries) keep the writer lock short for the others.
 */
#include "store_int.h"
#include "engrave/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 127

struct journal_batch {
	struct store *s;
	char prefix[2 * NAME_MAX_LEN + 2];
	size_t plen;
	struct buf data; /* repeated: size_t klen, size_t vlen, key (prefix+key), value */
	size_t n;
};

static int make_prefix(const char *run_id, const char *stream, char *out, size_t *plen, struct err *e)
{
	size_t a = strlen(run_id), b = strlen(stream);
	if (!a || a > NAME_MAX_LEN || !b || b > NAME_MAX_LEN)
		return err_set(e, ERR_INTERNAL, "journal: bad run id '%s' or stream '%s' (1..%d bytes)", run_id, stream,
			       NAME_MAX_LEN);
	memcpy(out, run_id, a + 1);
	memcpy(out + a + 1, stream, b + 1);
	*plen = a + b + 2;
	return 0;
}

int journal_batch_begin(struct store *s, const char *run_id, const char *stream, struct journal_batch **b,
			struct err *e)
{
	*b = NULL;
	struct journal_batch *j = xcalloc(1, sizeof(*j));
	if (make_prefix(run_id, stream, j->prefix, &j->plen, e)) {
		free(j);
		return -1;
	}
	j->s = s;
	buf_init(&j->data, 0);
	*b = j;
	return 0;
}

int journal_batch_put(struct journal_batch *b, const void *key, size_t klen, const void *val, size_t vlen,
		      struct err *e)
{
	if (b->plen + klen > 511)
		return err_set(e, ERR_INTERNAL, "journal key of %zu bytes is too long (LMDB keys are at most 511)",
			       b->plen + klen);
	size_t kl = b->plen + klen;
	if (buf_append(&b->data, &kl, sizeof(kl), e) || buf_append(&b->data, &vlen, sizeof(vlen), e) ||
	    buf_append(&b->data, b->prefix, b->plen, e) || buf_append(&b->data, key, klen, e) ||
	    buf_append(&b->data, val, vlen, e))
		return -1;
	b->n++;
	return 0;
}

size_t journal_batch_len(const struct journal_batch *b)
{
	return b->n;
}

void journal_batch_abort(struct journal_batch *b)
{
	if (!b)
		return;
	buf_release(&b->data);
	free(b);
}

int journal_batch_commit(struct journal_batch *b, struct err *e)
{
	int ret = 0;
	if (b->n) {
		struct wop *ops = xcalloc(b->n, sizeof(*ops));
		size_t off = 0;
		for (size_t i = 0; i < b->n; i++) {
			size_t kl, vl;
			memcpy(&kl, b->data.data + off, sizeof(kl));
			memcpy(&vl, b->data.data + off + sizeof(kl), sizeof(vl));
			off += sizeof(kl) + sizeof(vl);
			ops[i] = (struct wop){ WOP_PUT, DB_JOURNAL, b->data.data + off, kl, b->data.data + off + kl, vl };
			off += kl + vl;
		}
		ret = store_write(b->s, ops, b->n, "cannot commit journal batch", e);
		if (ret)
			err_prefix(e, "journal %s/%s", b->prefix, b->prefix + strlen(b->prefix) + 1);
		free(ops);
	}
	journal_batch_abort(b);
	return ret;
}

int journal_get(struct store *s, const char *run_id, const char *stream, const void *key, size_t klen,
		struct buf *val, struct err *e)
{
	char k[512];
	size_t plen;
	if (make_prefix(run_id, stream, k, &plen, e))
		return -1;
	if (plen + klen > 511)
		return 0;
	memcpy(k + plen, key, klen);
	MDB_txn *txn;
	MDB_val v;
	if (store_rtxn_begin(s, &txn, e))
		return -1;
	int rc = store_get_in(s, txn, DB_JOURNAL, k, plen + klen, &v, e);
	if (rc == 1) {
		buf_reset(val);
		if (buf_append(val, v.mv_data, v.mv_size, e))
			rc = -1;
	}
	store_rtxn_end(s, txn);
	return rc;
}

struct iter_ctx {
	size_t plen;
	int (*cb)(const void *k, size_t kl, const void *v, size_t vl, void *ctx);
	void *ctx;
	uint64_t count;
};

static int iter_one(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct iter_ctx *c = ctx;
	return c->cb((const char *)k + c->plen, kl - c->plen, v, vl, c->ctx);
}

int journal_iter(struct store *s, const char *run_id, const char *stream,
		 int (*cb)(const void *k, size_t kl, const void *v, size_t vl, void *ctx), void *ctx, struct err *e)
{
	char p[2 * NAME_MAX_LEN + 2];
	struct iter_ctx c = { 0, cb, ctx, 0 };
	if (make_prefix(run_id, stream, p, &c.plen, e))
		return -1;
	return store_scan(s, DB_JOURNAL, p, c.plen, 1, iter_one, &c, e);
}

static int count_one(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	(void)k, (void)kl, (void)v, (void)vl;
	((struct iter_ctx *)ctx)->count++;
	return 0;
}

int journal_count(struct store *s, const char *run_id, const char *stream, uint64_t *n, struct err *e)
{
	char p[2 * NAME_MAX_LEN + 2];
	struct iter_ctx c = { 0, NULL, NULL, 0 };
	if (make_prefix(run_id, stream, p, &c.plen, e))
		return -1;
	if (store_scan(s, DB_JOURNAL, p, c.plen, 0, count_one, &c, e))
		return -1;
	*n = c.count;
	return 0;
}
