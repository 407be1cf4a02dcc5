/*
 * test_runmetrics.c — a stored run's metrics recomputed from its loadtest
 * artifact: repeats pooled with one measured window per repeat, the
 * repeats' starts read from the records when the artifact has no
 * "repeat_t0" part, and the noise floor passed through as noise.* metrics.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/runmetrics.h"
#include "engrave/store.h"
#include "../lib/synthrun.h"
#include "../lib/testutil.h"

static struct store *st;
static char *dir;

static void setup(void)
{
	struct err e = ERR_INIT;
	dir = test_tmpdir("runmetrics");
	cr_assert_eq(store_open(dir, 0, &st, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	store_close(st);
	test_rmtree(dir);
	free(dir);
}

TestSuite(runmetrics, .init = setup, .fini = teardown);

static double metric(const struct run_record *r, const char *key)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (!strcmp(r->metrics[i].key, key))
			return r->metrics[i].value;
	return NAN;
}

/* synthrun: repeat r's request j is due r x (5 s + 1 s) + j x 5 ms; 1000 per
 * repeat, the first 100 in warm-up (0.5 s), duration_ns 5 s: each repeat's
 * window runs from its warm-up end for 5 s, 900 measured requests in it. */
Test(runmetrics, repeats_pool_with_a_window_each)
{
	struct run_record one, three;
	struct err e = ERR_INIT;
	struct synth_opts o = { 7, 1.0, 1000, 1, 0, 0 };
	make_run_ex(st, "20260101T000000Z-000001", &o, &one);
	o.n = 3000;
	o.repeats = 3;
	make_run_ex(st, "20260101T000000Z-000002", &o, &three);
	cr_assert_eq(runmetrics_compute(st, &one, &e), 0, "%s", e.msg);
	cr_assert_eq(runmetrics_compute(st, &three, &e), 0, "%s", e.msg);
	cr_assert(isnan(metric(&one, "repeats")), "one repeat: no repeats metric");
	cr_assert_eq(metric(&three, "repeats"), 3);
	cr_assert_eq(metric(&one, "measured_requests"), 900);
	cr_assert_eq(metric(&three, "measured_requests"), 2700);
	cr_assert_float_eq(metric(&one, "throughput"), 180.0, 1e-9);
	cr_assert_float_eq(metric(&three, "throughput"), 180.0, 1e-9, "N windows of 5 s: %g",
			   metric(&three, "throughput"));
	cr_assert(isnan(metric(&three, "noise.other_cpu_pct")), "no noise recorded, none made up");
	run_record_release(&one);
	run_record_release(&three);
}
