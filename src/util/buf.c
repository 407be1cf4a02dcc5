/*
 * buf.c — the growable byte buffer (see buf.h for its invariants).
 *
 * Growth doubles the capacity; an empty buffer points at a static "" so
 * that data is never NULL without allocating. Allocation failure aborts
 * (xrealloc, the bookkeeping policy of xalloc.h): a buffer is bounded by
 * its `max`, which is what turns runaway input into an error.
 */
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char buf_empty[1];

void buf_init(struct buf *b, size_t max)
{
	b->data = buf_empty;
	b->len = b->cap = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	if (!b)
		return;
	if (b->cap)
		free(b->data);
	buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->cap)
		b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra, struct err *e)
{
	if (extra > SIZE_MAX / 2 - b->len)
		return err_set(e, ERR_NOSPACE, "buffer of %zu bytes cannot grow by %zu more", b->len, extra);
	size_t need = b->len + extra + 1;
	if (b->max && need > b->max + 1)
		return err_set(e, ERR_IO, "buffer limit of %zu bytes exceeded", b->max);
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	char *p = b->cap ? xrealloc(b->data, cap) : xmalloc(cap);
	if (!b->cap)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t len, struct err *e)
{
	if (buf_reserve(b, len, e))
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s, struct err *e)
{
	return buf_append(b, s, strlen(s), e);
}

static int buf_vprintf(struct buf *b, struct err *e, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return err_set(e, ERR_INTERNAL, "bad format string '%s'", fmt);
	if (buf_reserve(b, (size_t)n, e))
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, struct err *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = buf_vprintf(b, e, fmt, ap);
	va_end(ap);
	return rc;
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p;
	if (!b->cap) {
		p = xmalloc(1);
		p[0] = '\0';
	} else {
		p = b->data;
	}
	if (len)
		*len = b->len;
	buf_init(b, b->max);
	return p;
}
