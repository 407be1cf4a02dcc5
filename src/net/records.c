/*
 * records.c — the per-request record array and its fixed-size encoding.
 *
 * The layout table lives in records.h. Encoding is explicit byte shuffling
 * (no memcpy of the struct), so the stored form does not depend on the
 * compiler's padding or the host's byte order. Decoding validates the
 * fields that index tables (op, err) and the version byte, so a corrupt
 * chunk is reported with the offset of the first bad record instead of
 * turning into out-of-range reads in the metrics code.
 */
#include "engrave/records.h"

#include <stdlib.h>
#include <string.h>

#include "engrave/err.h"
#include "engrave/hash.h"
#include "engrave/xalloc.h"

static const char *const err_names[RECORD_ERR_COUNT] = {
	"none", "connect", "tls", "timeout", "transport", "http-4xx", "http-5xx", "parse",
	"dropped", "client",
};

void records_init(struct records *a)
{
	memset(a, 0, sizeof(*a));
}

void records_release(struct records *a)
{
	if (!a)
		return;
	free(a->v);
	memset(a, 0, sizeof(*a));
}

int records_reserve(struct records *a, size_t extra, struct err *e)
{
	if (a->n + extra <= a->cap)
		return 0;
	size_t cap = a->cap ? a->cap : 1024;
	while (cap < a->n + extra)
		cap *= 2;
	struct record *v = xalloc_try_resize(a->v, cap, sizeof(*v), "run records", e);
	if (!v)
		return -1;
	a->v = v;
	a->cap = cap;
	return 0;
}

int records_push(struct records *a, const struct record *r, struct err *e)
{
	if (a->n == a->cap && records_reserve(a, 1, e) < 0)
		return -1;
	a->v[a->n++] = *r;
	return 0;
}

static int cmp_repeat_index(const void *x, const void *y)
{
	const struct record *a = x, *b = y;
	if (a->repeat != b->repeat)
		return a->repeat < b->repeat ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

void records_sort_by_index(struct records *a)
{
	if (a->n > 1)
		qsort(a->v, a->n, sizeof(*a->v), cmp_repeat_index);
}

static void put(uint8_t *b, uint64_t v, int n)
{
	for (int k = 0; k < n; k++)
		b[k] = (uint8_t)(v >> (8 * k));
}

static uint64_t get(const uint8_t *b, int n)
{
	uint64_t v = 0;
	for (int k = n - 1; k >= 0; k--)
		v = v << 8 | b[k];
	return v;
}

void records_encode(const struct record *r, size_t n, void *out)
{
	uint8_t *b = out;
	for (size_t i = 0; i < n; i++, r++, b += RECORDS_SIZE) {
		put(b + 0, r->index, 8);
		put(b + 8, r->intended, 8);
		put(b + 16, r->sent, 8);
		put(b + 24, r->done, 8);
		put(b + 32, r->bytes_out, 4);
		put(b + 36, r->bytes_in, 4);
		put(b + 40, r->status, 2);
		b[42] = r->op;
		b[43] = r->flags;
		b[44] = r->err;
		b[45] = RECORDS_VERSION;
		put(b + 46, r->detail, 2);
		memcpy(b + 48, r->ids, 8);
		put(b + 56, r->n_ids, 4);
		put(b + 60, r->repeat, 4);
	}
}

int records_decode(const void *in, size_t len, struct records *a, struct err *e)
{
	if (len % RECORDS_SIZE)
		return err_set(e, ERR_CORRUPT,
			       "records: %zu bytes is not a multiple of the %d-byte record size", len,
			       RECORDS_SIZE);
	size_t n = len / RECORDS_SIZE;
	if (records_reserve(a, n, e) < 0)
		return -1;
	const uint8_t *b = in;
	for (size_t i = 0; i < n; i++, b += RECORDS_SIZE) {
		if (b[45] != RECORDS_VERSION)
			return err_set(e, ERR_CORRUPT, "records: record %zu (offset %zu): version %u, want %d",
				       i, i * RECORDS_SIZE, b[45], RECORDS_VERSION);
		if (b[42] >= OP_KIND_COUNT || b[44] >= RECORD_ERR_COUNT)
			return err_set(e, ERR_CORRUPT,
				       "records: record %zu (offset %zu): op %u / error class %u out of range",
				       i, i * RECORDS_SIZE, b[42], b[44]);
		struct record *r = &a->v[a->n + i];
		r->index = get(b + 0, 8);
		r->intended = get(b + 8, 8);
		r->sent = get(b + 16, 8);
		r->done = get(b + 24, 8);
		r->bytes_out = (uint32_t)get(b + 32, 4);
		r->bytes_in = (uint32_t)get(b + 36, 4);
		r->status = (uint16_t)get(b + 40, 2);
		r->op = b[42];
		r->flags = b[43];
		r->err = b[44];
		r->detail = (uint16_t)get(b + 46, 2);
		memcpy(r->ids, b + 48, 8);
		r->n_ids = (uint32_t)get(b + 56, 4);
		r->repeat = (uint32_t)get(b + 60, 4);
	}
	a->n += n;
	return 0;
}

void records_ids_digest(const char *const *ids, size_t n, uint8_t out[8])
{
	struct hash_ctx h;
	struct digest d;
	hash_init(&h);
	for (size_t i = 0; i < n; i++) {
		hash_update(&h, ids[i], strlen(ids[i]));
		hash_update(&h, "\n", 1);
	}
	hash_final(&h, &d);
	memcpy(out, d.b, 8);
}

const char *records_err_name(enum record_err c)
{
	return (unsigned)c < RECORD_ERR_COUNT ? err_names[c] : "?";
}

enum record_err records_err_of_status(unsigned status)
{
	if (status >= 200 && status < 400)
		return RECORD_ERR_NONE;
	if (status >= 400 && status < 500)
		return RECORD_ERR_HTTP4XX;
	if (status >= 500 && status < 600)
		return RECORD_ERR_HTTP5XX;
	if (status == RECORD_STATUS_TIMEOUT)
		return RECORD_ERR_TIMEOUT;
	if (status == RECORD_STATUS_DROPPED)
		return RECORD_ERR_DROPPED;
	if (status == RECORD_STATUS_ERROR)
		return RECORD_ERR_CLIENT;
	return RECORD_ERR_TRANSPORT;
}
