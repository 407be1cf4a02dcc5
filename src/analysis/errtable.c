/*
 * errtable.c — failed requests grouped by (op, status, class) (errtable.h).
 *
 * The key is packed into 32 bits (op << 24 | class << 16 | status); one
 * pass finds or adds each failed record's group in a small array (there are
 * few groups: a handful of statuses per op), then the groups are sorted and
 * given their recorded message or a fallback.
 */
#include "engrave/errtable.h"
#include "engrave/xalloc.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	uint16_t status;
	const char *reason;
} reasons[] = {
	{ RECORD_STATUS_TRANSPORT, "no HTTP response (connection failed or reset)" },
	{ RECORD_STATUS_TIMEOUT, "timed out" },
	{ RECORD_STATUS_DROPPED, "never sent: the in-flight cap was full" },
	{ RECORD_STATUS_ERROR, "the in-process operation failed" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
	{ 405, "Method Not Allowed" }, { 408, "Request Timeout" }, { 409, "Conflict" }, { 413, "Payload Too Large" },
	{ 422, "Unprocessable Entity" }, { 429, "Too Many Requests" }, { 500, "Internal Server Error" },
	{ 501, "Not Implemented" }, { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" }, { 507, "Insufficient Storage" },
};

const char *errtable_fallback(uint16_t status, uint8_t err)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	switch (err) {
	case RECORD_ERR_PARSE: return "the response could not be understood";
	case RECORD_ERR_CLIENT: return "the request could not be built";
	case RECORD_ERR_CONNECT: return "could not connect";
	case RECORD_ERR_TLS: return "TLS failed";
	default: return records_err_name((enum record_err)err);
	}
}

static int cmp_row(const void *a, const void *b)
{
	const struct errtable_row *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	uint32_t kx = (uint32_t)x->op << 24 | (uint32_t)x->err << 16 | x->status;
	uint32_t ky = (uint32_t)y->op << 24 | (uint32_t)y->err << 16 | y->status;
	return (kx > ky) - (kx < ky);
}

static struct errtable_row *group_of(struct errtable *t, size_t *cap, const struct record *x)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->rows[i].op == x->op && t->rows[i].err == x->err && t->rows[i].status == x->status)
			return &t->rows[i];
	if (t->n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		t->rows = xrealloc(t->rows, *cap * sizeof(*t->rows)); /* bounded by the distinct codes */
	}
	struct errtable_row *g = &t->rows[t->n++];
	memset(g, 0, sizeof(*g));
	g->op = x->op;
	g->err = x->err;
	g->status = x->status;
	return g;
}

void errtable_build(const struct record *r, size_t n, const struct runrecs_msg *m, size_t nm, struct errtable *t)
{
	memset(t, 0, sizeof(*t));
	size_t cap = 0;
	for (size_t i = 0; i < n; i++) {
		if (r[i].err == RECORD_ERR_NONE)
			continue;
		struct errtable_row *g = group_of(t, &cap, &r[i]);
		if (r[i].flags & RECORD_F_WARMUP) {
			g->warmup++;
		} else {
			g->count++;
			t->total++;
		}
	}
	if (t->n)
		qsort(t->rows, t->n, sizeof(*t->rows), cmp_row);
	for (size_t i = 0; i < t->n; i++) {
		struct errtable_row *g = &t->rows[i];
		for (size_t k = 0; k < nm && !g->from_target; k++)
			if (m[k].op == g->op && m[k].err == g->err && m[k].status == g->status && m[k].msg[0]) {
				memcpy(g->msg, m[k].msg, sizeof(g->msg));
				g->from_target = 1;
			}
		if (!g->from_target) {
			const char *f = errtable_fallback(g->status, g->err);
			size_t len = strlen(f) < LOADGEN_ERR_MSG ? strlen(f) : LOADGEN_ERR_MSG;
			memcpy(g->msg, f, len);
			g->msg[len] = '\0';
		}
	}
}

void errtable_release(struct errtable *t)
{
	if (!t)
		return;
	free(t->rows);
	memset(t, 0, sizeof(*t));
}
