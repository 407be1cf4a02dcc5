/*
 * testutil.h — helpers shared by the Criterion test binaries.
 */
#ifndef ENGRAVE_TESTUTIL_H
#define ENGRAVE_TESTUTIL_H

#include <stddef.h>

/*
 * Path of a file under ../shared (or $SHARED), e.g. "fixtures/wiki/x.bz2",
 * in a static buffer; NULL when it does not exist (the test should then
 * cr_skip_test). Not thread-safe.
 */
const char *test_shared_path(const char *rel);
/* A fresh empty directory under $TMPDIR (or /tmp); caller frees. */
char *test_tmpdir(const char *tag);
/* rm -rf; ignores errors. */
void test_rmtree(const char *path);
/* Peak resident set size of this process in KiB (VmHWM). */
long test_peak_rss_kib(void);
/* Project root (where the Makefile is), from $ENGRAVE_ROOT or the cwd. */
const char *test_root(void);

#endif
