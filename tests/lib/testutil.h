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
/* For a libmicrohttpd handler: 1 while the request is still arriving (the
 * first call, and body pieces, which are discarded): return MHD_YES then. */
int test_mhd_receiving(void **con_cls, size_t *upload_size);
/* Project root (where the Makefile is), from $ENGRAVE_ROOT or the cwd. */
const char *test_root(void);

#endif
