/*
 * xalloc.c — allocation with one policy for failure (include/engrave/xalloc.h).
 *
 * The x functions wrap malloc and friends and abort with the size that
 * could not be had: an abort (like BUG()) rather than exit(), because
 * library layers never exit, and a core file shows who asked. Zero-byte
 * requests are rounded up to one byte so NULL always means failure.
 *
 * The xalloc_try functions are for sizes taken from input: the product is
 * checked for overflow first (a wrapped size would allocate too little and
 * be overrun), and failure is an ordinary error for the caller to return.
 */
#include "engrave/xalloc.h"
#include "engrave/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n, size_t size)
{
	if (size == 1)
		fprintf(stderr, "engrave: out of memory allocating %zu bytes\n", n);
	else if (n && size > SIZE_MAX / n)
		fprintf(stderr, "engrave: out of memory allocating %zu x %zu bytes (more than the address space)\n", n,
			size);
	else
		fprintf(stderr, "engrave: out of memory allocating %zu bytes (%zu x %zu)\n", n * size, n, size);
	abort();
}

size_t xalloc_mul(size_t n, size_t size)
{
	return n && size > SIZE_MAX / n ? SIZE_MAX : n * size;
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		oom(size, 1);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n, size);
	return p;
}

void *xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);
	if (!q)
		oom(size, 1);
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom(strlen(s) + 1, 1);
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom(strnlen(s, n) + 1, 1);
	return p;
}

void *xmalloc_array(size_t n, size_t size)
{
	size_t bytes = xalloc_mul(n, size);
	void *p = bytes == SIZE_MAX ? NULL : malloc(bytes ? bytes : 1);
	if (!p)
		oom(n, size);
	return p;
}

void *xrealloc_array(void *p, size_t n, size_t size)
{
	size_t bytes = xalloc_mul(n, size);
	void *q = bytes == SIZE_MAX ? NULL : realloc(p, bytes ? bytes : 1);
	if (!q)
		oom(n, size);
	return q;
}

static void *try_fail(size_t n, size_t size, const char *what, struct err *e)
{
	if (n && size > SIZE_MAX / n)
		err_set(e, ERR_NOSPACE, "out of memory for %s: %zu x %zu bytes is more than the address space", what, n,
			size);
	else if (size == 1)
		err_set(e, ERR_NOSPACE, "out of memory for %s: %zu bytes", what, n);
	else
		err_set(e, ERR_NOSPACE, "out of memory for %s: %zu x %zu bytes", what, n, size);
	return NULL;
}

void *xalloc_try_array(size_t n, size_t size, const char *what, struct err *e)
{
	size_t bytes = xalloc_mul(n, size);
	void *p = bytes == SIZE_MAX ? NULL : malloc(bytes ? bytes : 1);
	return p ? p : try_fail(n, size, what, e);
}

void *xalloc_try_zeroed(size_t n, size_t size, const char *what, struct err *e)
{
	void *p = xalloc_mul(n, size) == SIZE_MAX ? NULL : calloc(n ? n : 1, size ? size : 1);
	return p ? p : try_fail(n, size, what, e);
}

void *xalloc_try_resize(void *p, size_t n, size_t size, const char *what, struct err *e)
{
	size_t bytes = xalloc_mul(n, size);
	void *q = bytes == SIZE_MAX ? NULL : realloc(p, bytes ? bytes : 1);
	return q ? q : try_fail(n, size, what, e);
}
