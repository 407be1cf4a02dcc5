/*
 * hist.h — an HDR-style log-linear latency histogram (nanoseconds).
 *
 * Used for the live once-a-second lines of a load test and for merging
 * per-thread statistics; the reported metrics themselves are computed
 * exactly from the stored records (metrics.h), never from a histogram.
 *
 * Layout (HdrHistogram's): values are counted in buckets whose width
 * doubles every power of two, each power split into 1024 linear
 * sub-buckets, so a recorded value is known to within 1/1024 (< 0.1%) of
 * itself. Values 0..2047 ns are exact; the range is tracked up to
 * HIST_MAX_NS (1 hour) with that bound, larger values are clamped into the
 * top bucket and counted in `overflow` (max stays exact). Memory: one array
 * of HIST_NCOUNTS 64-bit counters (~264 KiB) per histogram.
 *
 * Percentiles use the nearest-rank definition (see metrics.h): the value of
 * rank ceil(p/100 * n) among the n recorded values; the histogram answers
 * with the highest value equivalent to that rank's bucket, so the answer v'
 * satisfies v <= v' <= v * (1 + 1/1024) for the exact value v.
 *
 * Not thread-safe: one histogram per thread, merged with hist_add().
 */
#ifndef ENGRAVE_HIST_H
#define ENGRAVE_HIST_H

#include <stddef.h>
#include <stdint.h>

struct err;

#define HIST_SUB_BITS 10                              /* 1024 sub-buckets per half */
#define HIST_MAX_NS (3600ULL * 1000000000ULL)         /* 1 h */
/* values < 2^42 ns: 32 doubling buckets of 1024 counters plus the first 1024 */
#define HIST_NCOUNTS ((43 - HIST_SUB_BITS) * (1u << HIST_SUB_BITS))

struct hist {
	uint64_t *counts;     /* HIST_NCOUNTS counters */
	uint64_t total;       /* values recorded */
	uint64_t min, max;    /* exact; min = UINT64_MAX when empty */
	uint64_t overflow;    /* values > HIST_MAX_NS (clamped) */
	long double sum;      /* exact-ish sum for the mean */
};

/* Allocate the counters (ERR_NOSPACE on failure). Release with hist_release. */
int hist_init(struct hist *h, struct err *e);
/* Free the counters; NULL-safe, and safe on a zeroed struct. */
void hist_release(struct hist *h);
/* Forget every value, keeping the allocation. */
void hist_reset(struct hist *h);

/* O(1). */
void hist_record(struct hist *h, uint64_t ns);
void hist_record_n(struct hist *h, uint64_t ns, uint64_t n);
/* dst += src (merge). */
void hist_add(struct hist *dst, const struct hist *src);

/* Nearest-rank percentile, p in [0, 100]; 0 when empty. p = 100 gives max. */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);
uint64_t hist_count(const struct hist *h);

/*
 * Nearest-rank: the 1-based rank of the p-th percentile among n values,
 * ceil(p/100 * n) clamped to [1, n], computed in integers (p is rounded to
 * 1e-4 percent) so 99% of 1000 is rank 990 and never 991. 0 when n = 0.
 * The one definition shared by hist_percentile and metrics.
 */
uint64_t hist_rank(uint64_t n, double p);

/* Bucket arithmetic, exposed for tests: the range [lo, hi] of values that
 * share `ns`'s counter. */
void hist_bucket_range(uint64_t ns, uint64_t *lo, uint64_t *hi);

#endif
