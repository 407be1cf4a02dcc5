/*
 * test_check.c — regression checks on runs built from stored SYNTHETIC
 * request records (deterministic: fixed seeds, no timing): a run with
 * injected extra latency is flagged, a rerun of the same build (same
 * distribution, different sample) is not, and a breach inside the noise
 * is reported as noise, not as a regression.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/check.h"
#include "engrave/compare.h"
#include "engrave/records.h"
#include "engrave/spec.h"
#include "engrave/stats.h"
#include "engrave/store.h"
#include "../lib/testutil.h"

#include "../lib/synthrun.h" /* synthetic runs: stored records, a loadtest artifact, a run record */

static struct store *st;
static char *dir;
static struct spec *sp;

static void setup(void)
{
	struct err e = ERR_INIT;
	dir = test_tmpdir("check");
	cr_assert_eq(store_open(dir, 0, &st, &e), 0, "%s", e.msg);
	cr_assert_eq(spec_load_string(synth_spec, strlen(synth_spec), "synth", &sp, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	spec_free(sp);
	store_close(st);
	test_rmtree(dir);
	free(dir);
}

static const struct check_row *row(const struct check_result *r, const char *metric, int relative)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->rows[i].metric, metric) && r->rows[i].relative == relative)
			return &r->rows[i];
	return NULL;
}

TestSuite(check, .init = setup, .fini = teardown);

Test(check, injected_latency_is_flagged_rerun_is_not)
{
	struct err e = ERR_INIT;
	struct run_record base, rerun, slow;
	make_run(st, "20260101T000000Z-000001", 1, 1.0, 20000, &base);
	make_run(st, "20260101T000100Z-000002", 2, 1.0, 20000, &rerun);
	make_run(st, "20260101T000200Z-000003", 3, 1.20, 20000, &slow);

	struct check_result a, b;
	cr_assert_eq(check_run(st, &rerun, sp, &base, NULL, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(a.failures, 0, "rerun of the same build flagged");
	const struct check_row *p = row(&a, "p99_ms", 1);
	cr_assert(p);
	cr_assert(fabs(p->change_pct) < 5, "rerun p99 change %g%%", p->change_pct);
	cr_assert_str_eq(a.baseline_id, base.id);

	cr_assert_eq(check_run(st, &slow, sp, &base, NULL, &b, &e), 0, "%s", e.msg);
	cr_assert_geq(b.failures, 1);
	p = row(&b, "p99_ms", 1);
	cr_assert(p);
	cr_assert_eq(p->verdict, CHECK_FAIL);
	cr_assert_gt(p->change_pct, 10, "p99 change %g%%", p->change_pct);
	cr_assert(p->has_verdict && p->v.kind == VERDICT_REGRESSION, "%s", p->note);
	cr_assert_eq(p->v.method, VERDICT_BY_BLOCKS);
	cr_assert_gt(p->v.ci_lo, 0, "ci %g..%g", p->v.ci_lo, p->v.ci_hi);
	/* the absolute checks still pass: p99 < 50 and no errors */
	cr_assert_eq(row(&b, "p99_ms", 0)->verdict, CHECK_PASS);
	cr_assert_eq(row(&b, "error_rate", 0)->verdict, CHECK_PASS);
	/* throughput did not move */
	cr_assert_eq(row(&b, "throughput", 1)->verdict, CHECK_PASS);

	json_t *j = check_json(&b);
	cr_assert(json_is_false(json_object_get(j, "pass")));
	json_decref(j);
	check_result_release(&a);
	check_result_release(&b);
	run_record_release(&base);
	run_record_release(&rerun);
	run_record_release(&slow);
}

Test(check, breach_inside_the_noise_is_not_a_regression)
{
	/* A +0% tolerance: any p99 growth breaches it. With few samples a rerun
	 * of the same distribution lands above the baseline by chance; the
	 * significance test must call that noise. */
	static const char txt[] = "name: synth\nseed: 1\ntarget: {driver: embedded}\nsteps:\n  loadtest:\n"
				  "    duration: 100s\n    warmup: 10s\n    arrival: {pattern: constant, rate: 200}\n"
				  "checks:\n  baseline: {ref: synth-base, p99_ms: \"+0.5%\"}\n";
	struct spec *tight = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(spec_load_string(txt, strlen(txt), "tight", &tight, &e), 0, "%s", e.msg);
	struct run_record base;
	make_run(st, "20260101T000000Z-000001", 1, 1.0, 2000, &base);
	double b99 = NAN;
	for (int i = 0; i < base.n_metrics; i++)
		if (!strcmp(base.metrics[i].key, "p99_ms"))
			b99 = base.metrics[i].value;
	int found = 0;
	for (uint64_t seed = 10; seed < 40 && !found; seed++) {
		struct run_record r;
		char id[48];
		snprintf(id, sizeof(id), "20260101T0010%02dZ-00000%d", (int)(seed % 60), (int)(seed % 10));
		make_run(st, id, seed, 1.0, 2000, &r);
		double r99 = NAN;
		for (int i = 0; i < r.n_metrics; i++)
			if (!strcmp(r.metrics[i].key, "p99_ms"))
				r99 = r.metrics[i].value;
		if (r99 > b99 * 1.02) {
			struct check_result c;
			cr_assert_eq(check_run(st, &r, tight, &base, NULL, &c, &e), 0, "%s", e.msg);
			const struct check_row *p = row(&c, "p99_ms", 1);
			cr_assert(p && p->has_verdict);
			cr_assert_eq(p->verdict, CHECK_NOISE, "seed %llu: change %g%%: %s", (unsigned long long)seed,
				     p->change_pct, p->note);
			cr_assert_eq(c.failures, 0);
			cr_assert(strstr(p->note, "includes 0"), "%s", p->note);
			check_result_release(&c);
			found = 1;
		}
		run_record_release(&r);
	}
	cr_assert(found, "no rerun landed above the baseline p99");
	run_record_release(&base);
	spec_free(tight);
}

Test(check, absolute_thresholds_and_missing_metrics)
{
	static const char txt[] = "name: synth\nseed: 1\ntarget: {driver: embedded}\nsteps:\n  loadtest:\n"
				  "    duration: 100s\n    arrival: {pattern: constant, rate: 200}\n"
				  "checks:\n  p99_ms: \"< 1\"\n  throughput: \"> 100\"\n  search_p99_ms: \"< 5\"\n"
				  "  recall: \">= 0.95\"\n";
	struct spec *s2 = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(spec_load_string(txt, strlen(txt), "abs", &s2, &e), 0, "%s", e.msg);
	struct run_record r;
	make_run(st, "20260101T000000Z-000001", 1, 1.0, 2000, &r);
	struct check_result c;
	cr_assert_eq(check_run(st, &r, s2, NULL, NULL, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(c.n, 4);
	cr_assert_eq(row(&c, "p99_ms", 0)->verdict, CHECK_FAIL);       /* p99 ~3.2 ms */
	cr_assert_eq(row(&c, "throughput", 0)->verdict, CHECK_PASS);   /* 200/s */
	cr_assert_eq(row(&c, "search_p99_ms", 0)->verdict, CHECK_MISSING); /* not measured: no verdict */
	cr_assert(strstr(row(&c, "search_p99_ms", 0)->note, "not measured"));
	/* recall the spec asks for but cannot score (no groundtruth step): a failure, with the reason */
	cr_assert_eq(row(&c, "recall", 0)->verdict, CHECK_FAIL);
	cr_assert(strstr(row(&c, "recall", 0)->note, "no groundtruth step"), "%s", row(&c, "recall", 0)->note);
	cr_assert_eq(c.failures, 2);
	cr_assert_eq(c.missing, 1);
	cr_assert_eq(check_exit_code(&c), 1); /* a real failure outranks missing data */
	cr_assert_str_eq(c.baseline_id, "");
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(check_table(&c, &b, &e), 0);
	cr_assert(strstr(b.data, "recall") && strstr(b.data, "FAIL") && strstr(b.data, "MISSING") && strstr(b.data, "< 1"));
	buf_release(&b);
	check_result_release(&c);
	run_record_release(&r);
	spec_free(s2);
}

Test(check, engram_defaults_without_spec_tolerances)
{
	static const char txt[] = "name: synth\nseed: 1\ntarget: {driver: embedded}\nsteps:\n  loadtest:\n"
				  "    duration: 100s\n    arrival: {pattern: constant, rate: 200}\n";
	struct spec *s2 = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(spec_load_string(txt, strlen(txt), "def", &s2, &e), 0, "%s", e.msg);
	struct run_record base, r;
	make_run(st, "20260101T000000Z-000001", 1, 1.0, 2000, &base);
	make_run(st, "20260101T000100Z-000002", 2, 1.0, 2000, &r);
	/* throughput drop of 10% and an error rate of 12% vs 0 */
	for (int i = 0; i < r.n_metrics; i++) {
		if (!strcmp(r.metrics[i].key, "throughput"))
			r.metrics[i].value *= 0.9;
		if (!strcmp(r.metrics[i].key, "error_rate"))
			r.metrics[i].value = 0.12;
	}
	struct check_result c;
	cr_assert_eq(check_run(st, &r, s2, &base, NULL, &c, &e), 0, "%s", e.msg);
	const struct check_row *p = row(&c, "p99_ms", 1), *t = row(&c, "throughput", 1), *er = row(&c, "error_rate", 1);
	cr_assert(p && t && er);
	cr_assert_str_eq(p->threshold, "+5%");
	cr_assert_str_eq(t->threshold, "-5%");
	cr_assert_eq(t->verdict, CHECK_FAIL);
	cr_assert_float_eq(t->change_pct, -10.0, 1e-9);
	cr_assert_eq(er->verdict, CHECK_FAIL);
	cr_assert_eq(c.failures, 2);
	check_result_release(&c);
	run_record_release(&base);
	run_record_release(&r);
	spec_free(s2);
}

Test(check, find_run_and_baseline_errors)
{
	struct err e = ERR_INIT;
	struct run_record r, out;
	make_run(st, "20260101T000000Z-000001", 1, 1.0, 500, &r);
	cr_assert_eq(compare_find_run(st, "20260101T000000Z", &out, &e), 0, "%s", e.msg); /* unique prefix */
	cr_assert_str_eq(out.id, r.id);
	run_record_release(&out);
	cr_assert_eq(compare_find_run(st, "nope-123", &out, &e), -1);
	cr_assert_eq(e.cls, ERR_MISSING);
	cr_assert(strstr(e.msg, "no run 'nope-123'"));
	cr_assert(strstr(e.hint, "engrave runs"));
	cr_assert_eq(compare_find_baseline(st, "synth-base", &out, &e), -1);
	cr_assert_eq(e.cls, ERR_MISSING);
	cr_assert(strstr(e.msg, "no baseline 'synth-base'"));
	cr_assert_eq(ref_set(st, "baseline/synth-base", r.id, &e), 0);
	cr_assert_eq(compare_find_baseline(st, "baseline/synth-base", &out, &e), 0, "%s", e.msg);
	cr_assert_str_eq(out.id, r.id);
	run_record_release(&out);
	run_record_release(&r);
}

/* A run that lost its metrics is never a pass: every check it cannot
 * evaluate is MISSING and the exit code is 3 (issue: "PASS: 0 of 0"). */
Test(check, missing_metrics_are_missing_data_not_a_pass)
{
	static const char txt[] = "name: synth\nseed: 1\ntarget: {driver: embedded}\nsteps:\n  loadtest:\n"
				  "    duration: 100s\n    arrival: {pattern: constant, rate: 200}\n"
				  "checks:\n  p99_ms: \"< 1\"\n  error_rate: \"== 0\"\n";
	struct spec *s2 = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(spec_load_string(txt, strlen(txt), "abs", &s2, &e), 0, "%s", e.msg);
	struct run_record r, base;
	make_run(st, "20260101T000000Z-000001", 1, 1.0, 2000, &base);
	make_run(st, "20260101T000100Z-000002", 2, 1.0, 2000, &r);
	r.n_metrics = 0; /* the run lost its metrics */
	struct check_result c;
	cr_assert_eq(check_run(st, &r, s2, NULL, NULL, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(c.n, 2);
	cr_assert_eq(c.failures, 0);
	cr_assert_eq(c.missing, 2);
	cr_assert_eq(check_exit_code(&c), 3);
	cr_assert_str_eq(check_summary_word(&c), "MISSING DATA");
	check_result_release(&c);
	/* against a baseline: the relative rows are missing too */
	cr_assert_eq(check_run(st, &r, NULL, &base, NULL, &c, &e), 0, "%s", e.msg);
	cr_assert_geq(c.missing, 2);
	cr_assert_eq(c.failures, 0);
	cr_assert_eq(check_exit_code(&c), 3);
	check_result_release(&c);
	/* nothing to check at all is not a pass either */
	cr_assert_eq(check_run(st, &r, NULL, NULL, NULL, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(c.n, 0);
	cr_assert_eq(check_exit_code(&c), 3);
	cr_assert_str_eq(check_summary_word(&c), "NOTHING CHECKED");
	check_result_release(&c);
	run_record_release(&base);
	run_record_release(&r);
	spec_free(s2);
}
