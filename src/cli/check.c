/*
 * check.c — `engrave check RUN [--baseline NAME] [--json]`: regression
 * checks for CI.
 *
 * The run's own stored spec supplies the absolute thresholds and the
 * tolerances (src/analysis/check.c decides); the baseline is --baseline,
 * else the spec's `checks.baseline.ref`, else none. Exit 0 pass, 1
 * regression, 3 missing data: a missing run or baseline, a run that did not
 * finish, a stored spec that does not load, a metric a check names that the
 * run or the baseline lacks, or nothing to check at all. A verdict is never
 * more confident than its data.
 */
#include "cli.h"
#include "engrave/buf.h"
#include "engrave/check.h"
#include "engrave/compare.h"
#include "engrave/spec.h"
#include "engrave/store.h"
#include "engrave/target.h"

#include <jansson.h>
#include <string.h>

int cmd_check(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *bname = NULL;
	int json = 0, strict_noise = 0;
	static const struct cli_help help = {
		"check", "engrave check RUN [--baseline NAME] [--strict-noise] [--json]",
		"Check a run against the spec's thresholds and a baseline run.",
		"Absolute checks come from the spec's `checks:` (p99_ms: \"< 50\", error_rate: \"== 0\").\n"
		"Baseline checks use `checks.baseline` tolerances, or Engram's compare-script defaults:\n"
		"p99_ms +5%, throughput -5%, and the error-rate gate (+5 points once either side is\n"
		"at 5%). The verdict rule (the same in diff, log and history):\n"
		"  regression = worse than the tolerance, the 95% CI of the change excludes 0, and\n"
		"  the change exceeds the runs' noise floor.\n"
		"The CI comes from the runs' repeats (loadtest.repeat >= 3: between-run spread, Welch)\n"
		"or from a bootstrap of blocks of time of the stored request records; a breach the\n"
		"statistics cannot confirm shows as 'noise' and passes. A regression on a run whose\n"
		"machine was busy (other processes >= 20% of the CPU, or steal >= 5%) is reported as\n"
		"UNTRUSTED. The baseline defaults to the spec's `checks.baseline.ref`.\n\n"
		"exit codes: 0 pass, 1 regression (also untrusted ones), 3 missing data (run or\n"
		"baseline not found or not finished, a metric a check names not measured, or nothing\n"
		"to check) or, with --strict-noise, a regression found only on a busy machine",
	};
	const struct cli_opt opts[] = {
		{ "baseline", 'b', OPT_STRING, &bname, "NAME", "baseline ref (baseline/NAME) to compare against" },
		{ "strict-noise", 0, OPT_FLAG, &strict_noise, NULL,
		  "no verdict (exit 3) when a regression was found only on a busy machine" },
		{ "json", 0, OPT_FLAG, &json, NULL, "print the result as JSON" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc - pos != 1)
		return cli_usage_error(&help, "expected one RUN");
	if ((rc = cli_setup(ctx, 1, &argv[pos])))
		return rc;
	struct err e = ERR_INIT;
	struct store *st = ctx->store;
	struct spec *sp = NULL;
	struct run_record run = ctx->run[0], base; /* run: borrowed, main releases it */
	int have_base = 0;
	struct check_result res;
	memset(&res, 0, sizeof(res));
	struct buf out;
	buf_init(&out, 0);
	rc = -1;
	if (strcmp(run.status, "done")) {
		err_set(&e, ERR_MISSING, "run %s is %s: its metrics are not complete, so there is nothing to judge",
			run.id, run.status[0] ? run.status : "unfinished");
		err_hint(&e, "finish it with 'engrave run SPEC --resume' or check a finished run ('engrave runs')");
		goto out;
	}
	if (!run.spec_text) {
		err_set(&e, ERR_MISSING, "run %s has no stored spec: its checks are unknown", run.id);
		goto out;
	}
	if (target_spec_load_stored(run.spec_text, strlen(run.spec_text), run.id, &sp, &e)) {
		e.cls = ERR_MISSING;
		err_prefix(&e, "the stored spec of run %s does not load, so its checks cannot be evaluated", run.id);
		goto out;
	}
	if (!bname && sp && sp->baseline.present && sp->baseline.ref)
		bname = sp->baseline.ref;
	if (bname) {
		if (compare_find_baseline(st, bname, &base, &e))
			goto out;
		have_base = 1;
	}
	if (check_run(st, &run, sp, have_base ? &base : NULL, NULL, &res, &e))
		goto out;
	res.strict_noise = strict_noise;
	if (json) {
		json_t *o = check_json(&res);
		char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		json_decref(o);
		if (s)
			puts(s);
		free(s);
	} else {
		printf("check run %s%s%s\n\n", run.id, have_base ? " against baseline " : " (no baseline)",
		       have_base ? base.id : "");
		if (check_table(&res, &out, &e))
			goto out;
		fputs(out.data ? out.data : "", stdout);
		if (res.n == 0)
			printf("NOTHING CHECKED: the spec has no checks and no baseline was named (--baseline NAME)\n");
		else if (res.missing && !res.failures)
			printf("\nMISSING DATA: %d of %zu checks could not be evaluated (not measured)\n", res.missing,
			       res.n);
		else
			printf("\n%s: %d of %zu checks failed%s\n", check_summary_word(&res), res.failures, res.n,
			       res.missing ? ", others could not be evaluated" : "");
		int by_blocks = 0;
		for (size_t i = 0; i < res.n; i++)
			by_blocks |= res.rows[i].has_verdict && res.rows[i].v.method == VERDICT_BY_BLOCKS;
		if (by_blocks)
			printf("note: one repeat per run: the intervals cover the variation inside each run, not between "
			       "runs;\n      `loadtest.repeat: 5` measures that too\n");
		if (res.untrusted)
			printf("the machine was busy: %s; re-run on a quiet machine before trusting %s\n", res.busy,
			       res.untrusted > 1 ? "these regressions" : "this regression");
		else if (res.busy[0])
			printf("note: the machine was busy (%s)\n", res.busy);
	}
	rc = check_exit_code(&res);
out:
	if (rc < 0)
		rc = cli_fail(&e);
	buf_release(&out);
	check_result_release(&res);
	if (have_base)
		run_record_release(&base);
	spec_free(sp);
	return rc;
}
