/*
 * buf.h — one growable byte buffer for the whole program.
 *
 * Invariants (like git's strbuf): after buf_init() `data` is never NULL and
 * is always NUL-terminated at data[len]; `max` (0 = unlimited) bounds the
 * size so a runaway response body fails cleanly instead of eating RAM
 * (curl's dynbuf). buf_detach() is the only way to take the memory; the
 * caller then frees it with free(). Appending may move `data`: never keep a
 * pointer into it across an append. Out of memory aborts (xalloc.h); the
 * errors returned are `max` exceeded and sizes past the address space.
 */
#ifndef ENGRAVE_BUF_H
#define ENGRAVE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct err;

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0: unlimited */
};

void buf_init(struct buf *b, size_t max);
/* Free the contents; the buffer may be reused after buf_init. NULL-safe. */
void buf_release(struct buf *b);
/* Empty it, keeping the allocation. */
void buf_reset(struct buf *b);
/* Grow so that `extra` more bytes fit. -1 (ERR_IO "too large") past max. */
int buf_reserve(struct buf *b, size_t extra, struct err *e);
int buf_append(struct buf *b, const void *data, size_t len, struct err *e);
int buf_append_str(struct buf *b, const char *s, struct err *e);
int buf_printf(struct buf *b, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Take ownership of the bytes (NUL-terminated); `b` is re-initialised. */
char *buf_detach(struct buf *b, size_t *len);

#endif
