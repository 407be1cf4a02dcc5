/*
 * test_history.c — a metric over a spec's runs: runs of other specs,
 * unfinished runs and runs without the metric are left out; a planted step
 * is found and named by the run where it starts; runs are grouped by their
 * canonical spec digest (a reordered spec text is the same spec) with the
 * changed key paths; a run's uncertainty comes from time blocks of its
 * records; issue 12's 20140 -> 775.8 -> 64.5 ms with real records.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/history.h"
#include "engrave/xalloc.h"
#include "engrave/store.h"
#include "../lib/synthrun.h"
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

static const struct history_opts done5 = { 0, 0.05, 0 }, all5 = { 1, 0.05, 0 };

static void plant_text(int i, const char *spec, const char *status, const char *metric, double v,
		       const char *text)
{
	struct run_record r;
	struct err e = ERR_INIT;
	memset(&r, 0, sizeof(r));
	r.spec_text = text ? xstrdup(text) : NULL;
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
	run_record_release(&r);
}

static void plant(int i, const char *spec, const char *status, const char *metric, double v)
{
	plant_text(i, spec, status, metric, v, NULL);
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
	cr_assert_eq(history_collect(st, "h", "p99_ms", &done5, &h, &e), 0, "%s", e.msg);
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
	cr_assert_eq(history_collect(st, "h", "p99_ms", &all5, &h, &e), 0);
	cr_assert_eq(h.n, 31);
	history_release(&h);
}

Test(history, flat_series_and_no_runs)
{
	struct err e = ERR_INIT;
	for (int i = 0; i < 25; i++)
		plant(200 + i, "flat", "done", "throughput", 1000.0 + 5.0 * jitter(i));
	struct history h;
	cr_assert_eq(history_collect(st, "flat", "throughput", &done5, &h, &e), 0);
	cr_assert_eq(h.n, 25);
	cr_assert_eq(h.n_steps, 0);
	history_release(&h);
	cr_assert_eq(history_collect(st, "nosuch", "throughput", &done5, &h, &e), 0);
	cr_assert_eq(h.n, 0);
	cr_assert_null(h.pts);
	history_release(&h);
}

static const char spec_a[] = "name: g\ntarget: {driver: embedded}\n"
			     "steps:\n  loadtest:\n    duration: 60s\n    arrival: {pattern: constant, rate: 200}\n";
/* the same spec: keys reordered, a default written out */
static const char spec_a2[] = "target: {driver: embedded}\nname: g\nseed: 42\n"
			      "steps:\n  loadtest:\n    arrival: {rate: 200, pattern: constant}\n    duration: 60s\n";
static const char spec_b[] = "name: g\ntarget: {driver: embedded}\n"
			     "steps:\n  loadtest:\n    duration: 60s\n    arrival: {pattern: constant, rate: 400}\n";

Test(history, groups_by_spec_digest)
{
	struct err e = ERR_INIT;
	const char *texts[] = { spec_a, spec_a2, spec_a, spec_b, spec_b, spec_a, spec_a };
	const double v[] = { 10, 10.1, 9.9, 20, 20.2, 10, 10.1 };
	for (int i = 0; i < 7; i++)
		plant_text(300 + i, "g", "done", "throughput", v[i], texts[i]);
	struct history h;
	cr_assert_eq(history_collect(st, "g", "throughput", &done5, &h, &e), 0, "%s", e.msg);
	cr_assert_eq(h.n, 7);
	cr_assert_eq(h.n_groups, 3, "a reordered spec is the same spec");
	cr_assert_eq(h.groups[0].first, 0);
	cr_assert_eq(h.groups[0].n, 3);
	cr_assert_null(h.groups[0].changes);
	cr_assert_eq(h.groups[1].first, 3);
	cr_assert_eq(h.groups[2].first, 5);
	cr_assert(digest_equal(&h.groups[0].spec, &h.groups[2].spec));
	json_t *c = h.groups[1].changes;
	cr_assert_eq(json_array_size(c), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(c, 0), "path")), "steps.loadtest.arrival.rate");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(c, 0), "b")), 400);
	cr_assert_eq(h.pts[4].group, 1);
	cr_assert_eq(h.n_steps, 0, "the doubling is a spec change, not a step");
	cr_assert_eq(h.n_unknown, 7);
	history_release(&h);
	const struct history_opts across = { 0, 0.05, 1 };
	cr_assert_eq(history_collect(st, "g", "throughput", &across, &h, &e), 0, "%s", e.msg);
	cr_assert_eq(h.n_groups, 3);
	cr_assert_eq(h.n_steps, 2);
	cr_assert_eq(h.steps[0].s.index, 3);
	cr_assert_eq(h.steps[0].group, 1);
	cr_assert_eq(h.steps[1].s.index, 5);
	cr_assert_float_eq(h.steps[0].s.rel, 1.0, 0.02);
	history_release(&h);
}

Test(history, point_sigma_from_the_verdict_engine)
{
	struct err e = ERR_INIT;
	struct run_record a, b;
	make_run(st, "20260101T000000Z-00000a", 7, 1.0, 20000, &a);
	make_run(st, "20260101T000100Z-00000b", 7, 2.0, 20000, &b);
	double sa, sb, s;
	cr_assert_eq(history_point_sigma(st, &a, "p99_ms", &sa, &e), 0, "%s", e.msg);
	cr_assert(isfinite(sa));
	double p99 = a.metrics[2].value; /* make_run: p50, p95, p99, ... */
	cr_assert_gt(sa / p99, 0.003);
	cr_assert_lt(sa / p99, 0.05);
	/* same seed, latencies doubled: the standard error doubles */
	cr_assert_eq(history_point_sigma(st, &b, "p99_ms", &sb, &e), 0);
	cr_assert_float_eq(sb / sa, 2.0, 0.01);
	cr_assert_eq(history_point_sigma(st, &a, "p50_ms", &s, &e), 0);
	cr_assert(isfinite(s) && s > 0 && s < sa);
	cr_assert_eq(history_point_sigma(st, &a, "mean_ms", &s, &e), 0);
	cr_assert(isfinite(s) && s > 0);
	cr_assert_eq(history_point_sigma(st, &a, "recall_p99_ms", &s, &e), 0);
	cr_assert(isfinite(s), "one operation's records");
	cr_assert_eq(history_point_sigma(st, &a, "throughput", &s, &e), 0);
	cr_assert(isnan(s), "not a latency metric");
	cr_assert_eq(history_point_sigma(st, &a, "max_ms", &s, &e), 0);
	cr_assert(isnan(s), "no block estimate for a maximum");
	run_record_release(&b);
	make_run(st, "20260101T000200Z-00000c", 7, 1.0, 600, &b);
	cr_assert_eq(history_point_sigma(st, &b, "p99_ms", &s, &e), 0);
	/* 540 measured records: an estimate, but a much wider one */
	cr_assert(isfinite(s) && s / b.metrics[2].value > 2 * sa / p99, "sigma %g of %g", s, b.metrics[2].value);
	b.n_steps = 0; /* no loadtest step: no records */
	cr_assert_eq(history_point_sigma(st, &b, "p99_ms", &s, &e), 0);
	cr_assert(isnan(s));
	run_record_release(&a);
	run_record_release(&b);
}

/* issue 12 with records: make_run's p99 is about 3.2 ms times the factor */
Test(history, issue12_drop_with_records)
{
	struct err e = ERR_INIT;
	const double p99[] = { 20140, 775.8, 64.5 };
	for (int i = 0; i < 3; i++) {
		struct run_record r;
		char id[48];
		snprintf(id, sizeof(id), "20260101T00000%dZ-00000%d", i, i);
		make_run(st, id, 11, p99[i] / 3.2, 20000, &r);
		run_record_release(&r);
	}
	struct history h;
	cr_assert_eq(history_collect(st, "synth", "p99_ms", &done5, &h, &e), 0, "%s", e.msg);
	cr_assert_eq(h.n, 3);
	cr_assert_eq(h.n_groups, 1);
	cr_assert_eq(h.n_unknown, 0);
	cr_assert_eq(h.n_steps, 2);
	cr_assert_eq(h.steps[0].s.index, 1);
	cr_assert_float_eq(h.steps[0].s.rel, 775.8 / 20140 - 1, 1e-4);
	cr_assert_float_eq(h.steps[1].s.rel, 64.5 / 775.8 - 1, 1e-4);
	cr_assert_gt(h.steps[0].s.z, 20);
	history_release(&h);
}
