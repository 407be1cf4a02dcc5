/*
 * test_verdict.c — the verdict engine on SYNTHETIC runs (stored records
 * with known distributions, fixed seeds, no timing):
 *  - latency correlated in time (each second at its own level) does not
 *    make a rerun of the same build a regression: the block bootstrap
 *    widens the interval where a per-request test would not;
 *  - a real +20% is a regression, a -20% an improvement, with a CI that
 *    excludes 0;
 *  - the client's wake-up error is a noise floor at the matching rank;
 *  - with repeats the spread between repeats decides (method "repeats");
 *  - a metric missing on one side is MISSING, not a pass;
 *  - a busy machine makes a regression untrusted (check: exit 1 with its
 *    own word, 3 with strict_noise);
 *  - check, diff and log give the same verdict for every metric they share.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/check.h"
#include "engrave/compare.h"
#include "engrave/perflog.h"
#include "engrave/spec.h"
#include "engrave/store.h"
#include "engrave/verdict.h"
#include "../lib/synthrun.h"
#include "../lib/testutil.h"

static struct store *st;
static char *dir;
static struct spec *sp;

static void setup(void)
{
	struct err e = ERR_INIT;
	dir = test_tmpdir("verdict");
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

TestSuite(verdict, .init = setup, .fini = teardown);

static void run_of(const char *id, uint64_t seed, double factor, size_t repeats, double rep_sd, double drift,
		   struct run_record *r)
{
	struct synth_opts o = { seed, factor, 12000, repeats, rep_sd, drift };
	make_run_ex(st, id, &o, r);
}

static const struct verdict *get(const struct verdict_set *s, const char *m)
{
	const struct verdict *v = verdict_find(s, m);
	cr_assert(v, "no verdict for %s", m);
	return v;
}

Test(verdict, correlated_noise_is_not_a_regression)
{
	/* every second at its own level (sd 20%): 20 reruns of one build */
	struct err e = ERR_INIT;
	struct run_record base;
	run_of("20260101T000000Z-000000", 1, 1.0, 1, 0, 0.2, &base);
	int flagged = 0, breaches = 0;
	for (int i = 1; i <= 20; i++) {
		struct run_record r;
		char id[48];
		snprintf(id, sizeof(id), "20260101T0001%02dZ-0000%02d", i, i);
		run_of(id, 100 + (uint64_t)i, 1.0, 1, 0, 0.2, &r);
		struct verdict_set vs;
		cr_assert_eq(verdict_pair(st, &base, &r, sp, NULL, &vs, &e), 0, "%s", e.msg);
		const struct verdict *v = get(&vs, "p99_ms");
		breaches += v->breach;
		flagged += v->kind == VERDICT_REGRESSION;
		if (v->breach)
			cr_assert_eq(v->method, VERDICT_BY_BLOCKS, "%s", v->why);
		verdict_set_release(&vs);
		run_record_release(&r);
	}
	/* the drift moves p99 beyond 5% often; the verdict must not follow it */
	cr_assert_geq(breaches, 5, "the test's noise is too small to mean anything (%d breaches)", breaches);
	cr_assert_leq(flagged, 1, "%d of 20 reruns of the same build flagged", flagged);
	run_record_release(&base);
}

Test(verdict, real_changes_both_ways)
{
	struct err e = ERR_INIT;
	struct run_record base, slow, fast;
	run_of("20260101T000000Z-000001", 1, 1.0, 1, 0, 0.05, &base);
	run_of("20260101T000100Z-000002", 2, 1.2, 1, 0, 0.05, &slow);
	run_of("20260101T000200Z-000003", 3, 0.8, 1, 0, 0.05, &fast);
	struct verdict_set a, b;
	cr_assert_eq(verdict_pair(st, &base, &slow, sp, NULL, &a, &e), 0, "%s", e.msg);
	const struct verdict *v = get(&a, "p99_ms");
	cr_assert_eq(v->kind, VERDICT_REGRESSION, "%s", v->why);
	cr_assert(v->gated);
	cr_assert_gt(v->ci_lo, 0);
	cr_assert(v->ci_lo <= v->change && v->change <= v->ci_hi, "change %g outside its CI %g..%g", v->change,
		  v->ci_lo, v->ci_hi);
	cr_assert(strstr(v->why, "excludes 0"), "%s", v->why);
	cr_assert_eq(verdict_pair(st, &base, &fast, sp, NULL, &b, &e), 0, "%s", e.msg);
	v = get(&b, "p99_ms");
	cr_assert_eq(v->kind, VERDICT_IMPROVEMENT, "%s", v->why);
	cr_assert_lt(v->ci_hi, 0);
	/* throughput did not move: no change, within its tolerance */
	cr_assert_eq(get(&b, "throughput")->kind, VERDICT_SAME);
	verdict_set_release(&a);
	verdict_set_release(&b);
	run_record_release(&base);
	run_record_release(&slow);
	run_record_release(&fast);
}

/* The client's wake-up error is a floor at the matching rank: one stall
 * (a wake-up p99 far above every latency) hides a p99 change but not a
 * shift of the median, which is judged against the wake-up p50. */
Test(verdict, wakeup_floor_matches_the_rank)
{
	struct err e = ERR_INIT;
	struct run_record base, slow;
	run_of("20260101T000000Z-000011", 1, 1.0, 1, 0, 0.05, &base);
	run_of("20260101T000100Z-000012", 2, 1.3, 1, 0, 0.05, &slow);
	/* the synthetic spec with a p50 tolerance beside the p99 one */
	static const char p50_check[] = "baseline: {ref: synth-base, p50_ms: \"+5%\", p99_ms:";
	const char *at = strstr(synth_spec, "baseline: {ref: synth-base, p99_ms:");
	cr_assert(at);
	char text[1024];
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - synth_spec), synth_spec, p50_check,
		 at + strlen("baseline: {ref: synth-base, p99_ms:"));
	struct spec *sp50;
	cr_assert_eq(spec_load_string(text, strlen(text), "synth", &sp50, &e), 0, "%s", e.msg);
	struct verdict_set vs;
	cr_assert_eq(verdict_pair(st, &base, &slow, sp50, NULL, &vs, &e), 0, "%s", e.msg);
	double p50 = get(&vs, "p50_ms")->a, p99 = get(&vs, "p99_ms")->a;
	cr_assert_eq(get(&vs, "p50_ms")->kind, VERDICT_REGRESSION, "%s", get(&vs, "p50_ms")->why);
	cr_assert_eq(get(&vs, "p99_ms")->kind, VERDICT_REGRESSION, "%s", get(&vs, "p99_ms")->why);
	verdict_set_release(&vs);
	/* a stall in the slow run: wake-up p99 = 100x its p99, p50 tiny */
	run_metric_set(&slow, "client_wakeup_p50_us", p50 * 1000.0 * 0.01);
	run_metric_set(&slow, "client_wakeup_p99_us", p99 * 1000.0 * 100.0);
	cr_assert_eq(verdict_pair(st, &base, &slow, sp50, NULL, &vs, &e), 0, "%s", e.msg);
	const struct verdict *v50 = get(&vs, "p50_ms"), *v99 = get(&vs, "p99_ms");
	cr_assert_eq(v50->kind, VERDICT_REGRESSION, "median judged against the wake-up p50: %s", v50->why);
	cr_assert_lt(v50->noise, 5.0, "p50 floor %g%%", v50->noise);
	cr_assert_neq(v99->kind, VERDICT_REGRESSION, "p99 inside the stall: %s", v99->why);
	cr_assert_gt(v99->noise, 1000.0, "p99 floor %g%%", v99->noise);
	verdict_set_release(&vs);
	spec_free(sp50);
	run_record_release(&base);
	run_record_release(&slow);
}

Test(verdict, repeats_use_the_spread_between_runs)
{
	struct err e = ERR_INIT;
	struct run_record base, same, slow, wbase, wild;
	/* 5 repeats, each repeat at its own level (sd 2%) */
	run_of("20260101T000000Z-000001", 1, 1.0, 5, 0.02, 0, &base);
	run_of("20260101T000100Z-000002", 2, 1.0, 5, 0.02, 0, &same);
	run_of("20260101T000200Z-000003", 3, 1.15, 5, 0.02, 0, &slow);
	/* repeats that disagree by 30% on both sides: a +10% cannot be told from that */
	run_of("20260101T000300Z-000004", 4, 1.0, 5, 0.3, 0, &wbase);
	run_of("20260101T000400Z-000005", 5, 1.1, 5, 0.3, 0, &wild);
	struct verdict_set a, b, c;
	cr_assert_eq(verdict_pair(st, &base, &same, sp, NULL, &a, &e), 0, "%s", e.msg);
	cr_assert_neq(get(&a, "p99_ms")->kind, VERDICT_REGRESSION, "%s", get(&a, "p99_ms")->why);
	cr_assert_eq(verdict_pair(st, &base, &slow, sp, NULL, &b, &e), 0, "%s", e.msg);
	const struct verdict *v = get(&b, "p99_ms");
	cr_assert_eq(v->method, VERDICT_BY_REPEATS);
	cr_assert_eq(v->n_a, 5);
	cr_assert_eq(v->n_b, 5);
	cr_assert_eq(v->kind, VERDICT_REGRESSION, "%s", v->why);
	cr_assert_gt(v->noise, 0);
	struct verdict_opts o;
	verdict_opts_default(&o);
	o.always_ci = 1;
	cr_assert_eq(verdict_pair(st, &wbase, &wild, sp, &o, &c, &e), 0, "%s", e.msg);
	v = get(&c, "p99_ms");
	cr_assert_eq(v->method, VERDICT_BY_REPEATS);
	cr_assert_neq(v->kind, VERDICT_REGRESSION, "%s", v->why);
	verdict_set_release(&a);
	verdict_set_release(&b);
	verdict_set_release(&c);
	run_record_release(&base);
	run_record_release(&same);
	run_record_release(&slow);
	run_record_release(&wild);
	run_record_release(&wbase);
}

Test(verdict, missing_and_threshold_only)
{
	struct err e = ERR_INIT;
	struct run_record base, r;
	run_of("20260101T000000Z-000001", 1, 1.0, 1, 0, 0, &base);
	run_of("20260101T000100Z-000002", 2, 1.0, 1, 0, 0, &r);
	/* the run lost p99; a recall figure exists on both sides without records */
	for (int i = 0; i < r.n_metrics; i++)
		if (!strcmp(r.metrics[i].key, "p99_ms"))
			snprintf(r.metrics[i].key, sizeof(r.metrics[i].key), "lost");
	run_metric_set(&base, "recall", 0.99);
	run_metric_set(&r, "recall", 0.80);
	struct verdict_opts o;
	verdict_opts_default(&o);
	o.all_metrics = 1;
	struct verdict_set vs;
	cr_assert_eq(verdict_pair(st, &base, &r, sp, &o, &vs, &e), 0, "%s", e.msg);
	cr_assert_eq(get(&vs, "p99_ms")->kind, VERDICT_MISSING);
	const struct verdict *v = get(&vs, "recall");
	cr_assert_eq(v->worse_sign, -1);
	cr_assert_eq(v->method, VERDICT_BY_THRESHOLD);
	cr_assert_eq(v->kind, VERDICT_REGRESSION, "%s", v->why);
	cr_assert(strstr(v->why, "threshold only"), "%s", v->why);
	verdict_set_release(&vs);
	run_record_release(&base);
	run_record_release(&r);
}

Test(verdict, busy_machine_makes_a_regression_untrusted)
{
	struct err e = ERR_INIT;
	struct run_record base, slow;
	run_of("20260101T000000Z-000001", 1, 1.0, 1, 0, 0, &base);
	run_of("20260101T000100Z-000002", 2, 1.3, 1, 0, 0, &slow);
	run_metric_set(&slow, "noise.other_cpu_pct", 55);
	char why[160];
	cr_assert(verdict_machine_busy(&slow, why, sizeof(why)));
	cr_assert(strstr(why, "55%"), "%s", why);
	cr_assert_not(verdict_machine_busy(&base, why, sizeof(why)));
	struct check_result c;
	cr_assert_eq(check_run(st, &slow, sp, &base, NULL, &c, &e), 0, "%s", e.msg);
	cr_assert_geq(c.failures, 1);
	cr_assert_eq(c.untrusted, c.failures);
	cr_assert(strstr(c.busy, "other processes"), "%s", c.busy);
	cr_assert_eq(check_exit_code(&c), 1);
	cr_assert_str_eq(check_summary_word(&c), "UNTRUSTED REGRESSION (machine busy)");
	c.strict_noise = 1;
	cr_assert_eq(check_exit_code(&c), 3);
	check_result_release(&c);
	/* steal counts too */
	run_metric_set(&slow, "noise.other_cpu_pct", 1);
	run_metric_set(&slow, "noise.steal_pct", 9);
	cr_assert(verdict_machine_busy(&slow, why, sizeof(why)));
	run_record_release(&base);
	run_record_release(&slow);
}

/* check, diff (compare_runs_json) and log (perflog_fill) on the same pairs */
Test(verdict, check_diff_and_log_agree)
{
	struct err e = ERR_INIT;
	struct run_record base;
	run_of("20260101T000000Z-000001", 1, 1.0, 1, 0, 0.1, &base);
	static const double factors[] = { 1.0, 1.08, 1.25, 0.75 };
	static const char *const figs[] = { "p50_ms", "p95_ms", "p99_ms", "throughput" };
	for (int f = 0; f < 4; f++) {
		struct run_record r;
		char id[48];
		snprintf(id, sizeof(id), "20260101T0002%02dZ-0000%02d", f, f);
		run_of(id, 50 + (uint64_t)f, factors[f], 1, 0, 0.1, &r);
		struct check_result c;
		cr_assert_eq(check_run(st, &r, sp, &base, NULL, &c, &e), 0, "%s", e.msg);
		json_t *d = NULL;
		cr_assert_eq(compare_runs_json(st, &base, &r, &d, &e), 0, "%s", e.msg);
		struct verdict_opts o;
		verdict_opts_default(&o);
		o.all_metrics = 1;
		struct verdict_set vs;
		cr_assert_eq(verdict_pair(st, &base, &r, sp, &o, &vs, &e), 0, "%s", e.msg);
		struct perflog_entry en;
		perflog_fill(&en, &r, &base, &c, &vs);
		/* every gated metric: check's row == diff's verdict */
		for (size_t i = 0; i < c.n; i++) {
			const struct check_row *w = &c.rows[i];
			if (!w->relative)
				continue;
			json_t *m = NULL, *x;
			size_t k;
			json_array_foreach(json_object_get(d, "metrics"), k, x)
				if (!strcmp(json_string_value(json_object_get(x, "metric")), w->metric))
					m = x;
			cr_assert(m, "diff lacks %s", w->metric);
			const char *dv = json_string_value(json_object_get(m, "verdict"));
			cr_assert_str_eq(dv, verdict_kind_name(w->v.kind), "factor %g %s: check %s, diff %s", factors[f],
					 w->metric, verdict_kind_name(w->v.kind), dv);
			cr_assert_eq(w->verdict == CHECK_FAIL, w->v.kind == VERDICT_REGRESSION);
		}
		/* every figure of the log entry: the log's verdict == diff's */
		for (int g = 0; g < 4; g++) {
			json_t *m = NULL, *x;
			size_t k;
			json_array_foreach(json_object_get(d, "metrics"), k, x)
				if (!strcmp(json_string_value(json_object_get(x, "metric")), figs[g]))
					m = x;
			cr_assert(m && en.chg[g].present, "factor %g: %s missing", factors[f], figs[g]);
			cr_assert_str_eq(verdict_kind_name((enum verdict_kind)en.chg[g].kind),
					 json_string_value(json_object_get(m, "verdict")), "factor %g: %s", factors[f],
					 figs[g]);
		}
		/* the log fails exactly when check fails */
		cr_assert_eq(en.pass, check_exit_code(&c) != 1);
		if (factors[f] > 1.2)
			cr_assert_eq(check_exit_code(&c), 1, "factor %g not flagged", factors[f]);
		json_decref(d);
		verdict_set_release(&vs);
		check_result_release(&c);
		run_record_release(&r);
	}
	run_record_release(&base);
}

Test(verdict, run_sigma_from_blocks_and_repeats)
{
	struct err e = ERR_INIT;
	struct run_record one, five;
	run_of("20260101T000000Z-000001", 1, 1.0, 1, 0, 0, &one);
	run_of("20260101T000100Z-000002", 2, 1.0, 5, 0.05, 0, &five);
	double s1 = NAN, s5 = NAN, none = 0;
	cr_assert_eq(verdict_run_sigma(st, &one, "p99_ms", NULL, &s1, &e), 0, "%s", e.msg);
	cr_assert_eq(verdict_run_sigma(st, &five, "p99_ms", NULL, &s5, &e), 0, "%s", e.msg);
	cr_assert_eq(verdict_run_sigma(st, &one, "requests", NULL, &none, &e), 0, "%s", e.msg);
	/* p99 of ~11000 lognormal(0.5) samples: a few % of ~3.2 ms */
	cr_assert(s1 > 0.01 && s1 < 0.5, "sigma %g", s1);
	cr_assert(s5 > 0, "sigma %g", s5);
	cr_assert(isnan(none));
	run_record_release(&one);
	run_record_release(&five);
}

/* a machine that slowed down between (or during) the runs: untrusted */
Test(verdict, machine_speed_change_makes_a_regression_untrusted)
{
	struct err e = ERR_INIT;
	struct run_record base, slow;
	run_of("20260101T000000Z-000001", 1, 1.0, 1, 0, 0, &base);
	run_of("20260101T000100Z-000002", 2, 1.3, 1, 0, 0, &slow);
	run_metric_set(&base, "noise.cpu_speed_before", 600);
	run_metric_set(&base, "noise.cpu_speed_after", 610);
	run_metric_set(&slow, "noise.cpu_speed_before", 605);
	run_metric_set(&slow, "noise.cpu_speed_after", 598);
	char why[160];
	cr_assert_not(verdict_speed_changed(&base, &slow, why, sizeof(why)), "%s", why);
	struct check_result c;
	cr_assert_eq(check_run(st, &slow, sp, &base, NULL, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(c.untrusted, 0);
	cr_assert_eq(check_exit_code(&c), 1);
	check_result_release(&c);
	/* 15% slower machine during the second run */
	run_metric_set(&slow, "noise.cpu_speed_before", 520);
	run_metric_set(&slow, "noise.cpu_speed_after", 515);
	cr_assert(verdict_speed_changed(&base, &slow, why, sizeof(why)));
	cr_assert(strstr(why, "slower"), "%s", why);
	cr_assert_eq(check_run(st, &slow, sp, &base, NULL, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(c.untrusted, c.failures);
	c.strict_noise = 1;
	cr_assert_eq(check_exit_code(&c), 3);
	check_result_release(&c);
	/* a change inside one run counts too */
	run_metric_set(&slow, "noise.cpu_speed_before", 610);
	run_metric_set(&slow, "noise.cpu_speed_after", 540);
	cr_assert(verdict_speed_changed(&base, &slow, why, sizeof(why)));
	cr_assert(strstr(why, "during run"), "%s", why);
	run_record_release(&base);
	run_record_release(&slow);
}
