/*
 * test_perflog.c — PERFORMANCE_LOG.md rendering against golden files
 * (tests/golden/perflog-*.md). The first entry reproduces Engram's Task 005
 * numbers (reference/engram.md 5.3) with run ids for file names.
 * ENGRAVE_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/check.h"
#include "engrave/perflog.h"
#include "engrave/store.h"
#include "engrave/verdict.h"
#include "../lib/testutil.h"

static void golden(const char *name, const struct buf *got)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/golden/%s", test_root(), name);
	const char *up = getenv("ENGRAVE_UPDATE_GOLDEN");
	if (up && !strcmp(up, "1")) {
		FILE *f = fopen(path, "w");
		cr_assert(f, "cannot write %s", path);
		fwrite(got->data, 1, got->len, f);
		fclose(f);
		return;
	}
	FILE *f = fopen(path, "r");
	cr_assert(f, "missing golden file %s (ENGRAVE_UPDATE_GOLDEN=1 creates it)", path);
	struct buf want;
	buf_init(&want, 0);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&want, chunk, n, NULL);
	fclose(f);
	cr_assert_str_eq(got->data, want.data ? want.data : "", "output differs from %s", path);
	buf_release(&want);
}

static struct perflog_side side(const char *id, double p50, double p95, double p99, double thr)
{
	struct perflog_side s = { 1, "", p50, p95, p99, thr };
	snprintf(s.run_id, sizeof(s.run_id), "%s", id);
	return s;
}

static struct perflog_change chg(double change, enum verdict_kind kind, double lo, double hi)
{
	struct perflog_change c = { 1, change, lo, hi, (int)kind, 0 };
	return c;
}

Test(perflog, entries_match_golden)
{
	struct err e = ERR_INIT;
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(perflog_header(&b, &e), 0);
	/* Engram's Task 005: P99 -6.11%, an improvement */
	struct perflog_entry en = { .spec = "m17-binding", .run_status = "done", .pass = 1 };
	en.before = side("20251109T232213Z-005aaa", 0.417, 0.561, 0.606, 999.91);
	en.after = side("20251112T134836Z-005bbb", 0.409, 0.521, 0.569, 999.93);
	en.chg[PERFLOG_P50] = chg(-1.92, VERDICT_SAME, -4.1, 0.3);
	en.chg[PERFLOG_P95] = chg(-7.13, VERDICT_IMPROVEMENT, -9.0, -5.2);
	en.chg[PERFLOG_P99] = chg(-6.11, VERDICT_IMPROVEMENT, -9.1, -3.0);
	en.chg[PERFLOG_THROUGHPUT] = chg(0.0, VERDICT_SAME, -0.1, 0.1);
	cr_assert_eq(perflog_entry(&en, &b, &e), 0);
	/* Task 007: +1.35% within target, but an ungated p50 regression */
	en.before = side("20251113T080000Z-007aaa", 0.300, 0.480, 0.519, 999.90);
	en.after = side("20251113T090000Z-007bbb", 0.330, 0.482, 0.526, 999.93);
	en.chg[PERFLOG_P50] = chg(10.0, VERDICT_REGRESSION, 7.5, 12.1);
	en.chg[PERFLOG_P95] = chg(0.42, VERDICT_SAME, -1.0, 2.0);
	en.chg[PERFLOG_P99] = chg(1.35, VERDICT_SAME, -2.0, 4.1);
	snprintf(en.ungated, sizeof(en.ungated), "P50 +10.00%%");
	cr_assert_eq(perflog_entry(&en, &b, &e), 0);
	/* a regression */
	en.pass = 0;
	en.ungated[0] = 0;
	snprintf(en.reason, sizeof(en.reason), "p99_ms +12.00%% beyond +5%%, 95%% CI excludes 0");
	en.before = side("20251114T080000Z-008aaa", 0.300, 0.480, 0.500, 1000.00);
	en.after = side("20251114T090000Z-008bbb", 0.320, 0.500, 0.560, 930.00);
	en.chg[PERFLOG_P99] = chg(12.0, VERDICT_REGRESSION, 8.0, 15.9);
	en.chg[PERFLOG_THROUGHPUT] = chg(-7.0, VERDICT_REGRESSION, NAN, NAN);
	cr_assert_eq(perflog_entry(&en, &b, &e), 0);
	/* no baseline, interrupted run */
	struct perflog_entry nb = { .spec = "quickstart", .run_status = "interrupted", .pass = 1 };
	nb.after = side("20251115T000000Z-00cccc", 0.170, 1.525, 1.903, 200.0);
	cr_assert_eq(perflog_entry(&nb, &b, &e), 0);
	cr_assert_eq(perflog_summary(4, 3, 0, &b, &e), 0);
	golden("perflog-log.md", &b);
	/* spot checks independent of the golden file */
	cr_assert(strstr(b.data, "- Before: P50=0.417ms, P95=0.561ms, P99=0.606ms, Throughput=999.91 ops/s\n"));
	cr_assert(strstr(b.data, "- Change: P50 -1.92% (no change, CI -4.1..+0.3%), P95 -7.13% (improvement, CI "
				 "-9.0..-5.2%), P99 -6.11% (improvement, CI -9.1..-3.0%), Throughput +0.00% (no change, "
				 "CI -0.1..+0.1%)\n"));
	cr_assert(strstr(b.data, "- Status: \u2705 PASS (no gated regression; not gated: P50 +10.00% regression)\n"));
	cr_assert(strstr(b.data, "P99 +12.00% (regression, CI +8.0..+15.9%), Throughput -7.00% (regression)\n"));
	cr_assert(strstr(b.data, "- Runs: `20251109T232213Z-005aaa`, `20251112T134836Z-005bbb`\n"));
	/* one status line per entry: the run's own state is "Run", not a second "Status" */
	cr_assert(strstr(b.data, "**Run**: Complete\n"));
	cr_assert_null(strstr(b.data, "**Status**"));
	cr_assert_null(strstr(b.data, "--rebuild"));
	buf_release(&b);
}

Test(perflog, fill_from_runs_and_check)
{
	struct run_record base, run;
	memset(&base, 0, sizeof(base));
	memset(&run, 0, sizeof(run));
	snprintf(base.id, sizeof(base.id), "20260101T000000Z-000001");
	snprintf(run.id, sizeof(run.id), "20260101T000100Z-000002");
	snprintf(run.spec_name, sizeof(run.spec_name), "synth");
	snprintf(run.status, sizeof(run.status), "done");
	static const char *const k[] = { "p50_ms", "p95_ms", "p99_ms", "throughput" };
	double vb[] = { 1, 2, 3, 100 }, vr[] = { 1.1, 2.2, 3.6, 99 };
	for (int i = 0; i < 4; i++) {
		snprintf(base.metrics[i].key, 64, "%s", k[i]);
		base.metrics[i].value = vb[i];
		snprintf(run.metrics[i].key, 64, "%s", k[i]);
		run.metrics[i].value = vr[i];
	}
	base.n_metrics = run.n_metrics = 4;
	struct check_row rows[2];
	memset(rows, 0, sizeof(rows));
	snprintf(rows[0].metric, 64, "p99_ms");
	rows[0].relative = 1;
	rows[0].value = 3.6;
	rows[0].baseline = 3;
	rows[0].change_pct = 20;
	snprintf(rows[0].threshold, 32, "+10%%");
	rows[0].verdict = CHECK_FAIL;
	rows[0].has_verdict = 1;
	rows[0].v.method = VERDICT_BY_BLOCKS;
	snprintf(rows[1].metric, 64, "throughput");
	rows[1].relative = 1;
	snprintf(rows[1].threshold, 32, "-3%%");
	rows[1].verdict = CHECK_PASS;
	struct check_result cr = { rows, 2, 1, "", "", 0, 0, "", 0 };
	/* the engine's verdicts for the figures: p50 +10% is an ungated regression */
	struct verdict vv[4];
	memset(vv, 0, sizeof(vv));
	static const enum verdict_kind kinds[] = { VERDICT_REGRESSION, VERDICT_SAME, VERDICT_REGRESSION, VERDICT_SAME };
	for (int i = 0; i < 4; i++) {
		snprintf(vv[i].metric, sizeof(vv[i].metric), "%s", k[i]);
		vv[i].a = vb[i];
		vv[i].b = vr[i];
		vv[i].change = (vr[i] - vb[i]) / vb[i] * 100;
		vv[i].kind = kinds[i];
		vv[i].ci_lo = vv[i].ci_hi = NAN;
		vv[i].gated = i >= 2;
	}
	struct verdict_set vs = { vv, 4, "" };
	struct perflog_entry en;
	perflog_fill(&en, &run, &base, &cr, &vs);
	cr_assert_eq(en.pass, 0);
	cr_assert_str_eq(en.reason, "p99_ms +20.00% beyond +10%, 95% CI excludes 0");
	cr_assert_str_eq(en.ungated, "P50 +10.00%");
	cr_assert_float_eq(en.after.p99, 3.6, 1e-12);
	cr_assert_float_eq(en.before.throughput, 100, 1e-12);
	cr_assert_str_eq(en.before.run_id, base.id);
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(perflog_entry(&en, &b, NULL), 0);
	cr_assert(strstr(b.data, "## synth: run 20260101T000100Z-000002\n"));
	cr_assert(strstr(b.data, "- Change: P50 +10.00% (regression), P95 +10.00% (no change), P99 +20.00% "
				 "(regression), Throughput -1.00% (no change)\n"), "%s", b.data);
	cr_assert(strstr(b.data, "- Status: \u274c FAIL (p99_ms +20.00% beyond +10%, 95% CI excludes 0); not gated: "
				 "P50 +10.00% regression\n"), "%s", b.data);
	buf_release(&b);
}
