/*
 * test_history.c — a metric over a spec's runs: runs of other specs,
 * unfinished runs and runs without the metric are left out; a planted step
 * is found and named by the run where it starts.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/history.h"
#include "engrave/store.h"
#include "../lib/testutil.h"

static struct store *st;
static char *dir;

static void setup(void)
{
	struct err e = ERR_INIT;
	dir = test_tmpdir("history");
	cr_assert_eq(store_open(dir, 0, &st, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	store_close(st);
	test_rmtree(dir);
	free(dir);
}

TestSuite(history, .init = setup, .fini = teardown);

static void plant(int i, const char *spec, const char *status, const char *metric, double v)
{
	struct run_record r;
	struct err e = ERR_INIT;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "20260101T%06dZ-%06x", i, i);
	snprintf(r.spec_name, sizeof(r.spec_name), "%s", spec);
	snprintf(r.status, sizeof(r.status), "%s", status);
	r.created = r.updated = (1700000000LL + i) * 1000000000LL;
	if (metric) {
		snprintf(r.metrics[0].key, sizeof(r.metrics[0].key), "%s", metric);
		r.metrics[0].value = v;
		r.n_metrics = 1;
	}
	cr_assert_eq(run_put(st, &r, &e), 0, "%s", e.msg);
}

/* deterministic jitter in [-1, 1] */
static double jitter(int i)
{
	return sin(i * 12.9898) * 0.999;
}

Test(history, finds_a_planted_step)
{
	struct err e = ERR_INIT;
	for (int i = 0; i < 30; i++) {
		plant(100 + 2 * i, "h", "done", "p99_ms", (i < 17 ? 5.0 : 7.0) + 0.05 * jitter(i));
		plant(101 + 2 * i, "other", "done", "p99_ms", 100.0 * (i + 1)); /* other spec */
	}
	plant(170, "h", "failed", "p99_ms", 50.0);   /* not finished: left out */
	plant(171, "h", "done", "throughput", 10.0); /* no p99_ms: left out */
	struct history h;
	cr_assert_eq(history_collect(st, "h", "p99_ms", 0, 0.05, &h, &e), 0, "%s", e.msg);
	cr_assert_eq(h.n, 30);
	for (size_t i = 1; i < h.n; i++)
		cr_assert_lt(strcmp(h.pts[i - 1].run_id, h.pts[i].run_id), 0, "time order");
	cr_assert_eq(h.n_steps, 1);
	char want[48], prev[48];
	snprintf(want, sizeof(want), "20260101T%06dZ-%06x", 100 + 2 * 17, 100 + 2 * 17);
	snprintf(prev, sizeof(prev), "20260101T%06dZ-%06x", 100 + 2 * 16, 100 + 2 * 16);
	cr_assert_str_eq(h.steps[0].run_id, want);
	cr_assert_str_eq(h.steps[0].prev_id, prev);
	cr_assert_eq(h.steps[0].s.index, 17);
	cr_assert_float_eq(h.steps[0].s.rel, 0.4, 0.03);
	history_release(&h);

	/* with --all the failed run counts too (an outlier at the end) */
	cr_assert_eq(history_collect(st, "h", "p99_ms", 1, 0.05, &h, &e), 0);
	cr_assert_eq(h.n, 31);
	history_release(&h);
}

Test(history, flat_series_and_no_runs)
{
	struct err e = ERR_INIT;
	for (int i = 0; i < 25; i++)
		plant(200 + i, "flat", "done", "throughput", 1000.0 + 5.0 * jitter(i));
	struct history h;
	cr_assert_eq(history_collect(st, "flat", "throughput", 0, 0.05, &h, &e), 0);
	cr_assert_eq(h.n, 25);
	cr_assert_eq(h.n_steps, 0);
	history_release(&h);
	cr_assert_eq(history_collect(st, "nosuch", "throughput", 0, 0.05, &h, &e), 0);
	cr_assert_eq(h.n, 0);
	cr_assert_null(h.pts);
	history_release(&h);
}
