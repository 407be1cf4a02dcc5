/*
 * test_hist.c — the HDR-style histogram against exact sorting.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "engrave/err.h"
#include "engrave/hist.h"

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Log-uniform values between 1 us and 1 h. */
static uint64_t draw(uint64_t *s)
{
	double u = (double)(xs(s) >> 11) * 0x1.0p-53;
	return (uint64_t)exp(log(1e3) + u * (log(3.6e12) - log(1e3)));
}

Test(hist, rank_is_nearest_rank_in_integers)
{
	cr_assert_eq(hist_rank(1000, 99), 990);
	cr_assert_eq(hist_rank(1000, 50), 500);
	cr_assert_eq(hist_rank(1000, 99.9), 999);
	cr_assert_eq(hist_rank(1000, 99.99), 1000);
	cr_assert_eq(hist_rank(10, 95), 10);
	cr_assert_eq(hist_rank(10, 0), 1);
	cr_assert_eq(hist_rank(3, 100), 3);
	cr_assert_eq(hist_rank(1, 50), 1);
	cr_assert_eq(hist_rank(0, 50), 0);
	cr_assert_eq(hist_rank(7, 50), 4);
}

Test(hist, bucket_ranges_hold_the_error_bound)
{
	uint64_t s = 88172645463325252ULL;
	for (int i = 0; i < 200000; i++) {
		uint64_t v = i < 5000 ? (uint64_t)i : draw(&s), lo, hi;
		hist_bucket_range(v, &lo, &hi);
		cr_assert(lo <= v && v <= hi, "v=%llu not in [%llu,%llu]", (unsigned long long)v,
			  (unsigned long long)lo, (unsigned long long)hi);
		if (v < 2048)
			cr_assert_eq(lo, hi, "values below 2048 ns are exact");
		else
			cr_assert((double)(hi - lo + 1) / (double)lo <= 1.0 / 1024 + 1e-12);
	}
}

Test(hist, percentiles_within_0_1_percent_of_exact_sort)
{
	struct err e = ERR_INIT;
	struct hist h;
	cr_assert_eq(hist_init(&h, &e), 0);
	enum { N = 200000 };
	uint64_t *v = malloc(N * sizeof(*v)), s = 0x9e3779b97f4a7c15ULL;
	long double sum = 0;
	for (int i = 0; i < N; i++) {
		v[i] = draw(&s);
		sum += v[i];
		hist_record(&h, v[i]);
	}
	qsort(v, N, sizeof(*v), cmp);
	const double ps[] = { 0.001, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 99.999, 100 };
	for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		uint64_t exact = v[hist_rank(N, ps[k]) - 1], got = hist_percentile(&h, ps[k]);
		cr_assert(got >= exact, "p%g: %llu < exact %llu", ps[k], (unsigned long long)got,
			  (unsigned long long)exact);
		cr_assert((double)(got - exact) <= (double)exact / 1000.0,
			  "p%g: %llu vs exact %llu: more than 0.1%% off", ps[k], (unsigned long long)got,
			  (unsigned long long)exact);
	}
	cr_assert_eq(hist_percentile(&h, 100), v[N - 1]);
	cr_assert_eq(hist_percentile(&h, 0), v[0]);
	cr_assert_eq(hist_count(&h), N);
	cr_assert(fabs(hist_mean(&h) - (double)(sum / N)) < 1e-6 * (double)(sum / N));
	free(v);
	hist_release(&h);
}

Test(hist, merge_equals_recording_everything_in_one)
{
	struct hist a, b, all;
	cr_assert_eq(hist_init(&a, NULL), 0);
	cr_assert_eq(hist_init(&b, NULL), 0);
	cr_assert_eq(hist_init(&all, NULL), 0);
	uint64_t s = 12345;
	for (int i = 0; i < 50000; i++) {
		uint64_t x = draw(&s);
		hist_record(i % 3 ? &a : &b, x);
		hist_record(&all, x);
	}
	hist_add(&a, &b);
	cr_assert_eq(hist_count(&a), hist_count(&all));
	cr_assert_eq(a.min, all.min);
	cr_assert_eq(a.max, all.max);
	for (double p = 1; p < 100; p += 7.7)
		cr_assert_eq(hist_percentile(&a, p), hist_percentile(&all, p), "p%g", p);
	hist_reset(&a);
	cr_assert_eq(hist_count(&a), 0);
	cr_assert_eq(hist_percentile(&a, 99), 0);
	hist_record(&a, 5000);
	cr_assert_eq(hist_percentile(&a, 50), 5000);
	hist_release(&a);
	hist_release(&b);
	hist_release(&all);
	hist_release(NULL);
}

Test(hist, values_beyond_an_hour_are_clamped_and_counted)
{
	struct hist h;
	cr_assert_eq(hist_init(&h, NULL), 0);
	hist_record(&h, 1000);
	hist_record_n(&h, 5 * HIST_MAX_NS, 3);
	cr_assert_eq(h.overflow, 3);
	cr_assert_eq(h.max, 5 * HIST_MAX_NS, "max stays exact");
	cr_assert_eq(hist_percentile(&h, 100), 5 * HIST_MAX_NS);
	cr_assert_eq(hist_percentile(&h, 25), 1000);
	uint64_t p60 = hist_percentile(&h, 60);
	cr_assert(p60 >= HIST_MAX_NS && p60 <= HIST_MAX_NS + HIST_MAX_NS / 1000);
	hist_release(&h);
}
