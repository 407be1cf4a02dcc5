/*
 * hist.c — HDR-style log-linear histogram (see hist.h for the layout).
 *
 * Hand-written because no C HdrHistogram is packaged in Debian (only the
 * Java/Go/Rust ones are common); this is the small subset engrave needs:
 * fixed range 0..1 h in nanoseconds, 3 significant digits, O(1) record via
 * one count-leading-zeros, merge, reset and nearest-rank percentiles.
 *
 * Index arithmetic (HdrHistogram with unit magnitude 0, 2048 sub-buckets):
 *   bucket(v) = floor(log2(v | 2047)) - 10      (0 for v < 2048)
 *   sub(v)    = v >> bucket                     (1024..2047, or 0..2047 in bucket 0)
 *   index     = (bucket + 1) * 1024 + sub - 1024
 * A counter in bucket b covers 2^b consecutive values starting at
 * sub << b >= 1024 << b, hence the 1/1024 relative error bound.
 */
#include "engrave/hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/err.h"

#define HALF (1u << HIST_SUB_BITS)
#define MASK ((2u * HALF) - 1u)

static unsigned bucket_of(uint64_t v)
{
	return (unsigned)(63 - __builtin_clzll(v | MASK)) - HIST_SUB_BITS;
}

static size_t index_of(uint64_t v)
{
	unsigned b = bucket_of(v);
	uint64_t sub = v >> b;
	return ((size_t)(b + 1) << HIST_SUB_BITS) + (size_t)sub - HALF;
}

/* Lowest value of counter `idx` and the width of its range. */
static void range_of_index(size_t idx, uint64_t *lo, uint64_t *width)
{
	long b = (long)(idx >> HIST_SUB_BITS) - 1;
	uint64_t sub = (idx & (HALF - 1)) + HALF;
	if (b < 0) {
		sub -= HALF;
		b = 0;
	}
	*lo = sub << b;
	*width = 1ULL << b;
}

void hist_bucket_range(uint64_t ns, uint64_t *lo, uint64_t *hi)
{
	uint64_t l, w;
	if (ns > HIST_MAX_NS)
		ns = HIST_MAX_NS;
	range_of_index(index_of(ns), &l, &w);
	*lo = l;
	*hi = l + w - 1;
}

int hist_init(struct hist *h, struct err *e)
{
	memset(h, 0, sizeof(*h));
	h->counts = calloc(HIST_NCOUNTS, sizeof(uint64_t));
	if (!h->counts)
		return err_set(e, ERR_NOSPACE, "histogram: out of memory (%zu bytes)",
			       (size_t)HIST_NCOUNTS * sizeof(uint64_t));
	h->min = UINT64_MAX;
	return 0;
}

void hist_release(struct hist *h)
{
	if (!h)
		return;
	free(h->counts);
	memset(h, 0, sizeof(*h));
}

void hist_reset(struct hist *h)
{
	if (h->counts)
		memset(h->counts, 0, HIST_NCOUNTS * sizeof(uint64_t));
	h->total = 0;
	h->min = UINT64_MAX;
	h->max = 0;
	h->overflow = 0;
	h->sum = 0;
}

void hist_record_n(struct hist *h, uint64_t ns, uint64_t n)
{
	if (n == 0)
		return;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
	h->sum += (long double)ns * (long double)n;
	h->total += n;
	if (ns > HIST_MAX_NS) {
		h->overflow += n;
		ns = HIST_MAX_NS;
	}
	h->counts[index_of(ns)] += n;
}

void hist_record(struct hist *h, uint64_t ns)
{
	hist_record_n(h, ns, 1);
}

void hist_add(struct hist *dst, const struct hist *src)
{
	if (src->total == 0)
		return;
	for (size_t i = 0; i < HIST_NCOUNTS; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	dst->overflow += src->overflow;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_rank(uint64_t n, double p)
{
	if (n == 0)
		return 0;
	if (!(p > 0))
		return 1;
	if (p >= 100)
		return n;
	uint64_t ppm = (uint64_t)llround(p * 10000.0); /* parts per million */
	unsigned __int128 r = ((unsigned __int128)ppm * n + 999999u) / 1000000u;
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return (uint64_t)r;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	if (h->total == 0)
		return 0;
	uint64_t rank = hist_rank(h->total, p);
	if (rank == h->total)
		return h->max;
	if (rank == 1)
		return h->min;
	uint64_t seen = 0;
	for (size_t i = 0; i < HIST_NCOUNTS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t lo, w;
			range_of_index(i, &lo, &w);
			uint64_t v = lo + w - 1;
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->total ? (double)(h->sum / (long double)h->total) : 0.0;
}

uint64_t hist_count(const struct hist *h)
{
	return h->total;
}
