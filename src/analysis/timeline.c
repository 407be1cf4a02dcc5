/*
 * timeline.c — a load test second by second (timeline.h).
 *
 * One pass finds the span and counts per bucket; the latencies of the
 * completed records are then copied into one array grouped by bucket (a
 * counting sort on the bucket: offsets from the counts), and each bucket's
 * slice is sorted and read at its nearest rank with stats_percentile, the
 * rule metrics.h uses. 8 bytes of scratch per record.
 */
#include "engrave/timeline.h"
#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/stats.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void count(struct timeline *t, const struct record *x, uint64_t width)
{
	struct timeline_bucket *b = &t->b[x->intended / width];
	b->due++;
	b->warmup += (x->flags & RECORD_F_WARMUP) != 0;
	b->errors += x->err != RECORD_ERR_NONE;
	b->late += (x->flags & RECORD_F_LATE) != 0;
	if (x->status == RECORD_STATUS_DROPPED)
		b->dropped++;
	else
		b->completed++;
}

/* Percentiles per bucket from the completed records' latencies. */
static int percentiles(struct timeline *t, const struct record *r, size_t n, uint64_t width, struct err *e)
{
	size_t *off = xalloc_try_zeroed(t->n + 1, sizeof(size_t), "timeline offsets", e);
	double *lat = off ? xalloc_try_array(n ? n : 1, sizeof(double), "timeline latencies", e) : NULL;
	if (!lat) {
		free(off);
		return -1;
	}
	for (size_t i = 0; i < t->n; i++)
		off[i + 1] = off[i] + t->b[i].completed;
	for (size_t i = 0; i < n; i++)
		if (r[i].status != RECORD_STATUS_DROPPED)
			lat[off[r[i].intended / width]++] = (double)record_latency_ns(&r[i]) / 1e6;
	for (size_t i = 0, start = 0; i < t->n; start += t->b[i].completed, i++) {
		struct timeline_bucket *b = &t->b[i];
		b->p50_ms = b->p99_ms = NAN;
		if (!b->completed)
			continue;
		qsort(lat + start, b->completed, sizeof(double), cmp_double);
		b->p50_ms = stats_percentile(lat + start, b->completed, 50);
		b->p99_ms = stats_percentile(lat + start, b->completed, 99);
	}
	free(off);
	free(lat);
	return 0;
}

int timeline_from_records(const struct record *r, size_t n, struct timeline *t, struct err *e)
{
	memset(t, 0, sizeof(*t));
	uint64_t last = 0;
	for (size_t i = 0; i < n; i++)
		last = r[i].intended > last ? r[i].intended : last;
	uint64_t secs = last / NS_PER_S + 1, per = (secs + TIMELINE_MAX_BUCKETS - 1) / TIMELINE_MAX_BUCKETS;
	uint64_t width = per * NS_PER_S;
	t->bucket_s = (double)per;
	if (!n)
		return 0;
	t->n = (size_t)(last / width + 1);
	t->b = xalloc_try_zeroed(t->n, sizeof(*t->b), "timeline buckets", e);
	if (!t->b)
		return -1;
	for (size_t i = 0; i < n; i++)
		count(t, &r[i], width);
	for (size_t i = 0; i < t->n; i++) {
		t->b[i].t_s = (double)i * t->bucket_s;
		t->b[i].throughput = (double)t->b[i].completed / t->bucket_s;
	}
	if (percentiles(t, r, n, width, e)) {
		timeline_release(t);
		return -1;
	}
	return 0;
}

void timeline_release(struct timeline *t)
{
	if (!t)
		return;
	free(t->b);
	memset(t, 0, sizeof(*t));
}
