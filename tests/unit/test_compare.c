/*
 * test_compare.c — diff of two runs (spec by key path, artifacts, env,
 * metrics, latency significance) on runs built from stored synthetic
 * records, plus the latency-metric name parser.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/compare.h"
#include "engrave/records.h"
#include "engrave/spec.h"
#include "engrave/stats.h"
#include "engrave/store.h"
#include "../lib/testutil.h"

#include "../lib/synthrun.h" /* synthetic runs: stored records, a loadtest artifact, a run record */

static struct store *st;
static char *dir;

static void setup(void)
{
	struct err e = ERR_INIT;
	dir = test_tmpdir("compare");
	cr_assert_eq(store_open(dir, 0, &st, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	store_close(st);
	test_rmtree(dir);
	free(dir);
}

TestSuite(compare, .init = setup, .fini = teardown);

static json_t *find_by(json_t *arr, const char *key, const char *val)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		if (!strcmp(json_string_value(json_object_get(v, key)), val))
			return v;
	}
	return NULL;
}

Test(compare, same_spec_shows_equal_artifacts)
{
	struct err e = ERR_INIT;
	struct run_record a, b;
	make_run(st, "20260101T000000Z-00000a", 1, 1.0, 5000, &a);
	make_run(st, "20260101T000100Z-00000b", 2, 1.0, 5000, &b);
	json_t *d = NULL;
	cr_assert_eq(compare_runs_json(st, &a, &b, &d, &e), 0, "%s", e.msg);
	json_t *spec = json_object_get(d, "spec");
	cr_assert(json_is_true(json_object_get(spec, "same")));
	cr_assert_eq(json_array_size(json_object_get(spec, "changes")), 0);
	json_t *arts = json_object_get(d, "artifacts");
	static const char *const pure[] = { "corpus", "embed", "centroids", "synthetic", "queries", "groundtruth" };
	for (int i = 0; i < 6; i++) {
		json_t *x = find_by(arts, "step", pure[i]);
		cr_assert(x, "%s missing", pure[i]);
		cr_assert(json_is_true(json_object_get(x, "same")), "%s differs", pure[i]);
	}
	/* the load test's records differ (different sample) */
	cr_assert(json_is_false(json_object_get(find_by(arts, "step", "loadtest"), "same")));
	json_t *env = json_object_get(d, "env");
	cr_assert(json_is_true(json_object_get(find_by(env, "key", "host"), "same")));
	/* same distribution: no change, with a block-bootstrap CI that holds 0 */
	json_t *p99 = find_by(json_object_get(d, "metrics"), "metric", "p99_ms");
	cr_assert_str_eq(json_string_value(json_object_get(p99, "verdict")), "no change");
	cr_assert_str_eq(json_string_value(json_object_get(p99, "method")), "block bootstrap");
	cr_assert_leq(json_number_value(json_object_get(p99, "ci_lo")), 0);
	cr_assert_geq(json_number_value(json_object_get(p99, "ci_hi")), 0);
	json_decref(d);
	run_record_release(&a);
	run_record_release(&b);
}

Test(compare, spec_values_by_key_path_metrics_and_significance)
{
	struct err e = ERR_INIT;
	struct run_record a, b;
	make_run(st, "20260101T000000Z-00000a", 1, 1.0, 5000, &a);
	make_run(st, "20260101T000100Z-00000b", 2, 1.5, 5000, &b);
	/* b: same spec with keys reordered (not a change) and a new rate */
	free(b.spec_text);
	b.spec_text = strdup("seed: 1\nname: synth\ntarget: {driver: embedded}\nsteps:\n  loadtest:\n"
			     "    warmup: 10s\n    duration: 100s\n    arrival: {rate: 300, pattern: constant}\n"
			     "checks:\n  p99_ms: \"< 50\"\n  error_rate: \"== 0\"\n"
			     "  baseline: {ref: synth-base, p99_ms: \"+5%\", throughput: \"-5%\"}\n");
	snprintf(b.kernel, sizeof(b.kernel), "Linux 9.9");
	json_t *d = NULL;
	cr_assert_eq(compare_runs_json(st, &a, &b, &d, &e), 0, "%s", e.msg);
	json_t *ch = json_object_get(json_object_get(d, "spec"), "changes");
	cr_assert_eq(json_array_size(ch), 1, "changes: %s", json_dumps(ch, 0));
	json_t *c0 = json_array_get(ch, 0);
	cr_assert_str_eq(json_string_value(json_object_get(c0, "path")), "steps.loadtest.arrival.rate");
	cr_assert_float_eq(json_number_value(json_object_get(c0, "a")), 200, 1e-9);
	cr_assert_float_eq(json_number_value(json_object_get(c0, "b")), 300, 1e-9);
	json_t *env = json_object_get(d, "env");
	cr_assert(json_is_false(json_object_get(find_by(env, "key", "kernel"), "same")));
	/* metrics: abs and rel change; +50% latency is significant and slower */
	json_t *p99 = find_by(json_object_get(d, "metrics"), "metric", "p99_ms");
	double va = json_number_value(json_object_get(p99, "a")), vb = json_number_value(json_object_get(p99, "b"));
	cr_assert_float_eq(json_number_value(json_object_get(p99, "abs")), vb - va, 1e-9);
	cr_assert_float_eq(json_number_value(json_object_get(p99, "rel_pct")), (vb - va) / va * 100, 1e-9);
	cr_assert_str_eq(json_string_value(json_object_get(p99, "verdict")), "regression");
	cr_assert(json_is_true(json_object_get(p99, "gated")));
	cr_assert_gt(json_number_value(json_object_get(p99, "ci_lo")), 0);
	/* a latency without a tolerance gets 5% and the same rule; counts get no verdict */
	json_t *p50 = find_by(json_object_get(d, "metrics"), "metric", "p50_ms");
	cr_assert_str_eq(json_string_value(json_object_get(p50, "verdict")), "regression");
	cr_assert(json_is_false(json_object_get(p50, "gated")));
	cr_assert_not_null(find_by(json_object_get(d, "metrics"), "metric", "error_rate"));
	json_decref(d);
	run_record_release(&a);
	run_record_release(&b);
}

/* Environment keys: a changed machine fact is named in env_different, a
 * changed condition (load) is not, and a key one run lacks is null there. */
Test(compare, env_keys_that_differ_are_listed)
{
	struct err e = ERR_INIT;
	struct run_record a, b;
	make_run(st, "20260101T000000Z-00000a", 1, 1.0, 5000, &a);
	make_run(st, "20260101T000100Z-00000b", 2, 1.0, 5000, &b);
	envlist_set_num(&a.env, "cpu.cores", 2);
	envlist_set_num(&b.env, "cpu.cores", 8);
	envlist_set(&a.env, "load.before", "0.10 0.10 0.10");
	envlist_set(&b.env, "load.before", "3.00 2.00 1.00");
	envlist_set(&a.env, "target.hnsw.space", "cosine");
	envlist_set(&b.env, "target.hnsw.space", "cosine");
	envlist_set(&b.env, "target.hnsw.ef_search", "100");
	json_t *d = NULL;
	cr_assert_eq(compare_runs_json(st, &a, &b, &d, &e), 0, "%s", e.msg);
	json_t *env = json_object_get(d, "env");
	json_t *cores = find_by(env, "key", "cpu.cores");
	cr_assert_str_eq(json_string_value(json_object_get(cores, "a")), "2");
	cr_assert_str_eq(json_string_value(json_object_get(cores, "b")), "8");
	cr_assert(json_is_false(json_object_get(cores, "same")));
	cr_assert(json_is_false(json_object_get(cores, "condition")));
	json_t *load = find_by(env, "key", "load.before");
	cr_assert(json_is_false(json_object_get(load, "same")));
	cr_assert(json_is_true(json_object_get(load, "condition")));
	cr_assert(json_is_true(json_object_get(find_by(env, "key", "target.hnsw.space"), "same")));
	json_t *ef = find_by(env, "key", "target.hnsw.ef_search");
	cr_assert(json_is_null(json_object_get(ef, "a")), "a did not record it");
	cr_assert(json_is_false(json_object_get(ef, "same")));
	json_t *diff = json_object_get(d, "env_different");
	cr_assert_eq(json_array_size(diff), 1, "%s", json_dumps(diff, 0));
	cr_assert_str_eq(json_string_value(json_array_get(diff, 0)), "cpu.cores");
	json_decref(d);
	run_record_release(&a);
	run_record_release(&b);
}

Test(compare, latency_metric_names)
{
	double p;
	cr_assert(compare_is_latency("p99_ms", &p));
	cr_assert_float_eq(p, 99, 1e-12);
	cr_assert(compare_is_latency("p999_ms", &p));
	cr_assert_float_eq(p, 99.9, 1e-9);
	cr_assert(compare_is_latency("service_p50_ms", &p));
	cr_assert_float_eq(p, 50, 1e-12);
	cr_assert(compare_is_latency("recall_p9999_ms", &p));
	cr_assert_float_eq(p, 99.99, 1e-9);
	cr_assert(compare_is_latency("max_ms", &p));
	cr_assert_float_eq(p, 100, 1e-12);
	cr_assert(compare_is_latency("mean_ms", &p));
	cr_assert_float_eq(p, 0, 1e-12);
	cr_assert_not(compare_is_latency("throughput", &p));
	cr_assert_not(compare_is_latency("error_rate", &p));
	cr_assert_not(compare_is_latency("recall", &p));
	cr_assert_not(compare_is_latency("ingest.stored", &p));
}

Test(compare, records_values_exclude_warmup_and_filter_by_op)
{
	struct err e = ERR_INIT;
	struct run_record a;
	make_run(st, "20260101T000000Z-00000a", 1, 1.0, 3000, &a);
	struct compare_recs *c = NULL;
	cr_assert_eq(compare_recs_load(st, &a, &c, &e), 0, "%s", e.msg);
	double *v = NULL;
	size_t n = 0;
	cr_assert_eq(compare_recs_values(c, "p99_ms", &v, &n, &e), 0);
	cr_assert_eq(n, 2700); /* 10% warm-up excluded */
	for (size_t i = 1; i < n; i++)
		cr_assert_leq(v[i - 1], v[i]);
	double p99 = NAN;
	for (int i = 0; i < a.n_metrics; i++)
		if (!strcmp(a.metrics[i].key, "p99_ms"))
			p99 = a.metrics[i].value;
	cr_assert_float_eq(stats_percentile(v, n, 99), p99, 1e-9);
	free(v);
	cr_assert_eq(compare_recs_values(c, "store_p99_ms", &v, &n, &e), 0);
	cr_assert_eq(n, 900);
	free(v);
	cr_assert_eq(compare_recs_values(c, "throughput", &v, &n, &e), -1);
	cr_assert_eq(e.cls, ERR_USAGE);
	compare_recs_free(c);
	/* a run without a loadtest step has no records */
	struct run_record empty;
	memset(&empty, 0, sizeof(empty));
	snprintf(empty.id, sizeof(empty.id), "x");
	cr_assert_eq(compare_recs_load(st, &empty, &c, &e), -1);
	cr_assert_eq(e.cls, ERR_MISSING);
	run_record_release(&a);
}
