/*
 * xalloc.h — memory allocation, and what happens when it fails.
 *
 * Two kinds of allocation, two behaviours (docs/HACKING.md, "Allocation"):
 *
 *   - Bookkeeping — structs, handles, names, fixed-size buffers, arrays
 *     bounded by a constant or by the number of steps, options or runs —
 *     uses the x functions. They never return NULL: out of memory prints
 *     "engrave: out of memory allocating N bytes" and aborts, as git's
 *     xmalloc dies. Nothing useful can be done there, and a check at every
 *     such site is noise that is never tested.
 *
 *   - Sizes that come from input or data — spec counts, rows x dim, file,
 *     artifact and record sizes — use the xalloc_try functions. They
 *     multiply with an overflow check and return NULL with ERR_NOSPACE
 *     ("out of memory for <what>: N x M bytes"), so an experiment too large
 *     for the machine fails with a message and exit 4 instead of a crash.
 *
 * Everything is released with free().
 */
#ifndef ENGRAVE_XALLOC_H
#define ENGRAVE_XALLOC_H

#include <stddef.h>

struct err;

/* ---- bookkeeping: abort on failure, never NULL ------------------------- */

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
/* At most n bytes of s, NUL-terminated (strndup). */
char *xstrndup(const char *s, size_t n);
/* n * size bytes; an overflowing product aborts like a failed allocation. */
void *xmalloc_array(size_t n, size_t size);
void *xrealloc_array(void *p, size_t n, size_t size);

/* ---- sizes from input or data: NULL + ERR_NOSPACE on failure ----------- */

/* n * size bytes, uninitialised. `what` names the data in the message. */
void *xalloc_try_array(size_t n, size_t size, const char *what, struct err *e);
/* The same, zeroed. */
void *xalloc_try_zeroed(size_t n, size_t size, const char *what, struct err *e);
/* Resize `p` to n * size bytes; on failure `p` is left as it was. */
void *xalloc_try_resize(void *p, size_t n, size_t size, const char *what, struct err *e);
/*
 * n * size, or SIZE_MAX when the product overflows, which no allocation can
 * satisfy: malloc(xalloc_mul(xalloc_mul(rows, dim), sizeof(float))) is a
 * checked size, for a group of allocations that share one error message.
 * Never add to the result (SIZE_MAX + 1 wraps to 0).
 */
size_t xalloc_mul(size_t n, size_t size);

#endif
