/*
 * test_store_big.c — an object over 1 GiB streamed in and out with bounded
 * memory.
 *
 * Its own binary so that the peak-RSS probe (VmHWM) sees only this test.
 * Data comes from a cheap xorshift generator, 1 MiB at a time; the digest of
 * the stream is computed on the way in and again on the way out. Peak RSS
 * may grow by a few chunk buffers (the writer's, the reader's, LMDB's dirty
 * pages for one chunk), never by anything near the object's size.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/store.h"
#include "../lib/testutil.h"

#define PIECE (1u << 20)
#define TOTAL ((1ULL << 30) + 3 * PIECE + 12345) /* > 1 GiB, not chunk-aligned */

static void gen(uint64_t *state, void *p, size_t n)
{
	uint64_t x = *state, *w = p;
	for (size_t i = 0; i < n / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		w[i] = x;
	}
	*state = x;
}

Test(store_big, object_over_1gib_streams_with_bounded_memory, .timeout = 300)
{
	struct err e = ERR_INIT;
	char *dir = test_tmpdir("big");
	struct store *s;
	cr_assert_eq(store_open(dir, 0, &s, &e), 0, "%s", e.msg);
	char *piece = malloc(PIECE), *back = malloc(PIECE);
	memset(piece, 0, PIECE);
	memset(back, 0, PIECE);
	long rss0 = test_peak_rss_kib();

	struct obj_writer *w;
	cr_assert_eq(obj_writer_open(s, &w, &e), 0);
	struct hash_ctx hin, hout;
	hash_init(&hin);
	uint64_t state = 0x2545F4914F6CDD1DULL;
	for (uint64_t off = 0; off < TOTAL;) {
		size_t n = TOTAL - off < PIECE ? (size_t)(TOTAL - off) : PIECE;
		gen(&state, piece, PIECE);
		hash_update(&hin, piece, n);
		cr_assert_eq(obj_write(w, piece, n, &e), 0, "%s", e.msg);
		off += n;
	}
	struct digest id, din, dout;
	hash_final(&hin, &din);
	cr_assert_eq(obj_writer_finish(w, &id, &e), 0, "%s", e.msg);
	long rss_w = test_peak_rss_kib();

	struct obj_reader *r;
	cr_assert_eq(obj_reader_open(s, &id, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(obj_reader_size(r), TOTAL);
	hash_init(&hout);
	uint64_t total = 0;
	size_t got;
	do {
		cr_assert_eq(obj_read(r, back, PIECE, &got, &e), 0, "%s", e.msg);
		hash_update(&hout, back, got);
		total += got;
	} while (got);
	hash_final(&hout, &dout);
	obj_reader_close(r);
	long rss_r = test_peak_rss_kib();
	cr_assert_eq(total, TOTAL);
	cr_assert(digest_equal(&din, &dout), "read back the same bytes");

	struct store_stats st;
	cr_assert_eq(store_stats(s, &st, &e), 0);
	cr_assert_eq(st.logical_bytes, TOTAL);
	cr_log_info("peak RSS: start %ld KiB, after write %ld KiB, after read %ld KiB", rss0, rss_w, rss_r);
	/* 1 GiB object; allow 64 MiB of growth (a handful of 4 MiB buffers).
	 * Under AddressSanitizer the reads' checks touch the shadow of the
	 * mapped data file, one byte per 8 (128 MiB for 1 GiB): that is ASan's
	 * memory, not engrave's, so the read budget grows by exactly that. */
	long shadow_kib = 0;
#if defined(__SANITIZE_ADDRESS__)
	shadow_kib = (long)(TOTAL / 8 / 1024);
#endif
	cr_assert_lt(rss_w - rss0, 64 * 1024, "write grew RSS by %ld KiB", rss_w - rss0);
	cr_assert_lt(rss_r - rss0, 64 * 1024 + shadow_kib, "read grew RSS by %ld KiB", rss_r - rss0);
	store_close(s);
	test_rmtree(dir);
	free(dir);
	free(piece);
	free(back);
}
