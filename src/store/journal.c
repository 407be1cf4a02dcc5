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
 *
 * Checksums. A journal decides what a resumed step sends again, so a value
 * that changed on disk must not be believed: every value is stored with a
 * 12-byte trailer, the first 8 bytes of SHA-256(full key || value) and the
 * magic JV_MAGIC. journal_get and journal_iter check and strip it (a
 * mismatch is ERR_CORRUPT naming run, stream and key) and `store verify`
 * checks every entry. Stores written before checksums existed hold values
 * without a trailer; the format entry (key "\0format", which no run id can
 * start with) says from which run id on values must have one: "" for a
 * store created with checksums, the UTC second of the first open by this
 * version for an older store (run ids start with their UTC second, so runs
 * created from then on are checked strictly and older runs' values are
 * taken as they are unless they carry a trailer). Without a format entry
 * (an old store opened read-only) every trailer-less value is taken as is.
 * The key is part of the sum, so a flipped key byte is caught too.
 */
#include "store_int.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const unsigned char jv_magic[JV_MAGIC_LEN] = { 0xa7, 'J', 'v', '1' };
static const char format_key[] = "\0format";
#define FORMAT_KEY_LEN (sizeof(format_key) - 1)
#define FORMAT_PREFIX "engrave-journal-v2 strict-from="

static void jv_sum(const void *k, size_t kl, const void *v, size_t vl, unsigned char out[JV_SUM_LEN])
{
	struct hash_ctx h;
	struct digest d;
	hash_init(&h);
	hash_update(&h, k, kl);
	hash_update(&h, v, vl);
	hash_final(&h, &d);
	memcpy(out, d.b, JV_SUM_LEN);
}

int journal_is_format_key(const void *k, size_t kl)
{
	return kl == FORMAT_KEY_LEN && !memcmp(k, format_key, kl);
}

/* The run id a journal key starts with must have checksummed values. */
static int strict_for(const struct store *s, const void *k, size_t kl)
{
	if (s->jformat == JFORMAT_NONE)
		return 0;
	if (s->jformat == JFORMAT_DAMAGED)
		return 1;
	const char *nul = memchr(k, '\0', kl);
	size_t rl = nul ? (size_t)(nul - (const char *)k) : kl;
	size_t fl = strlen(s->jstrict_from);
	int c = memcmp(k, s->jstrict_from, rl < fl ? rl : fl);
	return c > 0 || (c == 0 && rl >= fl);
}

int journal_value_check(const struct store *s, const void *k, size_t kl, const void *v, size_t vl, size_t *ulen,
			const char **why)
{
	const unsigned char *p = v;
	if (vl >= JV_TRAILER && !memcmp(p + vl - JV_MAGIC_LEN, jv_magic, JV_MAGIC_LEN)) {
		unsigned char sum[JV_SUM_LEN];
		jv_sum(k, kl, v, vl - JV_TRAILER, sum);
		if (memcmp(sum, p + vl - JV_TRAILER, JV_SUM_LEN)) {
			*why = "checksum mismatch (the entry changed on disk)";
			return -1;
		}
		*ulen = vl - JV_TRAILER;
		return 0;
	}
	if (strict_for(s, k, kl)) {
		*why = "no checksum trailer (the entry changed on disk)";
		return -1;
	}
	*ulen = vl;
	return 0;
}

/* "run/stream/key" for messages; the key as text when printable, else hex. */
void journal_key_text(const void *k, size_t kl, char *out, size_t cap)
{
	const char *p = k, *a = memchr(p, '\0', kl);
	const char *b = a ? memchr(a + 1, '\0', kl - (size_t)(a + 1 - p)) : NULL;
	if (!a || !b) {
		store_key_text(k, kl, out, cap);
		return;
	}
	const unsigned char *uk = (const unsigned char *)b + 1;
	size_t ul = kl - (size_t)(b + 1 - p), printable = 1;
	for (size_t i = 0; i < ul; i++)
		printable &= uk[i] >= 0x20 && uk[i] < 0x7f;
	int n = snprintf(out, cap, "%.*s/%.*s/", (int)(a - p), p, (int)(b - a - 1), a + 1);
	for (size_t i = 0; n > 0 && (size_t)n + 3 < cap && i < ul; i++)
		n += snprintf(out + n, cap - (size_t)n, printable ? "%c" : "%02x", uk[i]);
}

int journal_format_check(const void *v, size_t vl, char *strict_from, size_t cap)
{
	size_t pl = strlen(FORMAT_PREFIX);
	if (vl < pl || vl - pl >= cap || memcmp(v, FORMAT_PREFIX, pl))
		return -1;
	memcpy(strict_from, (const char *)v + pl, vl - pl);
	strict_from[vl - pl] = '\0';
	for (size_t i = 0; i < vl - pl; i++)
		if (strict_from[i] < 0x20 || strict_from[i] > 0x7e)
			return -1;
	return 0;
}

static int read_format(struct store *s, int *journal_empty, struct err *e)
{
	MDB_txn *txn;
	MDB_val v;
	if (store_rtxn_begin(s, &txn, e))
		return -1;
	int rc = store_get_in(s, txn, DB_JOURNAL, format_key, FORMAT_KEY_LEN, &v, e);
	if (rc == 1)
		s->jformat = journal_format_check(v.mv_data, v.mv_size, s->jstrict_from, sizeof(s->jstrict_from))
				     ? JFORMAT_DAMAGED
				     : JFORMAT_FROM;
	else
		s->jformat = JFORMAT_NONE;
	MDB_stat ms;
	if (rc >= 0 && journal_empty)
		*journal_empty = mdb_stat(txn, s->dbi[DB_JOURNAL], &ms) == 0 && ms.ms_entries == 0;
	store_rtxn_end(s, txn);
	return rc < 0 ? -1 : 0;
}

int journal_format_open(struct store *s, struct err *e)
{
	int empty = 0;
	if (read_format(s, &empty, e))
		return -1;
	if (s->jformat != JFORMAT_NONE || s->rdonly)
		return 0;
	/* first open by a version with checksums: strict from now on */
	char val[80], from[24] = "";
	if (!empty) {
		time_t t = (time_t)(clock_unix_now() / (int64_t)NS_PER_S);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(from, sizeof(from), "%Y%m%dT%H%M%SZ", &tm);
	}
	int n = snprintf(val, sizeof(val), "%s%s", FORMAT_PREFIX, from);
	struct wop op = { WOP_PUT_NEW, DB_JOURNAL, format_key, FORMAT_KEY_LEN, val, (size_t)n };
	if (store_write(s, &op, 1, "cannot record the journal format", e))
		return -1;
	return read_format(s, NULL, e);
}

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
	if (klen == 0)
		return err_set(e, ERR_INTERNAL, "journal keys must not be empty");
	size_t kl = b->plen + klen, vl = vlen + JV_TRAILER, at = b->data.len + 2 * sizeof(size_t);
	if (buf_append(&b->data, &kl, sizeof(kl), e) || buf_append(&b->data, &vl, sizeof(vl), e) ||
	    buf_append(&b->data, b->prefix, b->plen, e) || buf_append(&b->data, key, klen, e) ||
	    buf_append(&b->data, val, vlen, e))
		return -1;
	unsigned char trailer[JV_TRAILER];
	jv_sum(b->data.data + at, kl, b->data.data + at + kl, vlen, trailer);
	memcpy(trailer + JV_SUM_LEN, jv_magic, JV_MAGIC_LEN);
	if (buf_append(&b->data, trailer, sizeof(trailer), e))
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

static int corrupt_entry(struct err *e, const void *k, size_t kl, const char *why)
{
	char t[400];
	journal_key_text(k, kl, t, sizeof(t));
	err_set(e, ERR_CORRUPT, "journal %s: %s", t, why);
	return err_hint(e, "run 'engrave store verify' to list the damage; the run cannot be resumed from this "
			   "journal: start a new run of its spec");
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
	size_t ulen = 0;
	const char *why = NULL;
	if (rc == 1 && journal_value_check(s, k, plen + klen, v.mv_data, v.mv_size, &ulen, &why))
		rc = -2;
	if (rc == 1) {
		buf_reset(val);
		if (buf_append(val, v.mv_data, ulen, e))
			rc = -1;
	}
	store_rtxn_end(s, txn);
	if (rc == -2)
		return corrupt_entry(e, k, plen + klen, why);
	return rc;
}

struct iter_ctx {
	size_t plen;
	int (*cb)(const void *k, size_t kl, const void *v, size_t vl, void *ctx);
	void *ctx;
	uint64_t count;
	struct store *s;
	struct err *e;
};

static int iter_one(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct iter_ctx *c = ctx;
	size_t ulen;
	const char *why;
	if (journal_value_check(c->s, k, kl, v, vl, &ulen, &why))
		return corrupt_entry(c->e, k, kl, why);
	return c->cb((const char *)k + c->plen, kl - c->plen, v, ulen, c->ctx);
}

int journal_iter(struct store *s, const char *run_id, const char *stream,
		 int (*cb)(const void *k, size_t kl, const void *v, size_t vl, void *ctx), void *ctx, struct err *e)
{
	char p[2 * NAME_MAX_LEN + 2];
	struct iter_ctx c = { 0, cb, ctx, 0, s, e };
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
	struct iter_ctx c = { 0, NULL, NULL, 0, s, e };
	if (make_prefix(run_id, stream, p, &c.plen, e))
		return -1;
	if (store_scan(s, DB_JOURNAL, p, c.plen, 0, count_one, &c, e))
		return -1;
	*n = c.count;
	return 0;
}
