/*
 * test_xalloc.c — the allocation policy: x functions never return NULL and
 * abort on an impossible size; xalloc_try functions return NULL with
 * ERR_NOSPACE and a message naming the data; xalloc_mul saturates.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/err.h"
#include "engrave/xalloc.h"

Test(xalloc, mul_saturates)
{
	cr_assert_eq(xalloc_mul(0, SIZE_MAX), 0);
	cr_assert_eq(xalloc_mul(3, 7), 21);
	cr_assert_eq(xalloc_mul(SIZE_MAX / 2, 2), SIZE_MAX - 1);
	cr_assert_eq(xalloc_mul(SIZE_MAX / 2 + 1, 2), SIZE_MAX);
	cr_assert_eq(xalloc_mul(xalloc_mul(SIZE_MAX, 2), 1), SIZE_MAX, "saturation composes");
}

Test(xalloc, bookkeeping_allocations)
{
	char *s = xstrdup("engrave");
	cr_assert_str_eq(s, "engrave");
	s = xrealloc(s, 64);
	cr_assert_str_eq(s, "engrave", "realloc keeps the bytes");
	free(s);
	s = xstrndup("engrave", 3);
	cr_assert_str_eq(s, "eng");
	free(s);
	s = xstrndup("ab", 8);
	cr_assert_str_eq(s, "ab", "n past the end stops at the NUL");
	free(s);
	int *z = xcalloc(16, sizeof(int));
	for (int i = 0; i < 16; i++)
		cr_assert_eq(z[i], 0);
	z = xrealloc_array(z, 32, sizeof(int));
	free(z);
	void *p = xmalloc(0);
	cr_assert_not_null(p, "zero bytes is still a pointer");
	free(p);
	free(xmalloc_array(0, 8));
}

Test(xalloc, array_overflow_aborts, .signal = SIGABRT)
{
	xmalloc_array(SIZE_MAX / 4, 8);
}

Test(xalloc, try_reports_what_and_how_much)
{
	struct err e = ERR_INIT;
	cr_assert_null(xalloc_try_array(SIZE_MAX / 4, 8, "the vectors", &e));
	cr_assert_eq(e.cls, ERR_NOSPACE);
	cr_assert(strstr(e.msg, "the vectors") && strstr(e.msg, "more than the address space"), "%s", e.msg);
	err_clear(&e);
	cr_assert_null(xalloc_try_zeroed(SIZE_MAX / 2, 4, "a table", &e));
	cr_assert_eq(e.cls, ERR_NOSPACE);
	cr_assert_null(xalloc_try_resize(NULL, 3, SIZE_MAX / 2, "a file", NULL), "e may be NULL");
	/* (sizes that do not overflow but cannot be had are left out: ASan
	 * aborts on those instead of returning NULL) */

	float *v = xalloc_try_zeroed(100, sizeof(float), "floats", &e);
	cr_assert_not_null(v);
	cr_assert_eq(v[99], 0.0f);
	float *keep = v;
	cr_assert_null(xalloc_try_resize(v, SIZE_MAX / 2, sizeof(float), "floats", &e));
	cr_assert_eq(keep[99], 0.0f, "a failed resize leaves the block");
	v = xalloc_try_resize(v, 200, sizeof(float), "floats", &e);
	cr_assert_not_null(v);
	v[199] = 1;
	free(v);
}
