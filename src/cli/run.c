/*
 * run.c — `engrave run SPEC`: execute an experiment end to end.
 *
 * Loads and validates the spec, opens the store, and hands both to the DAG
 * runner (src/steps/pipeline.c), which reuses cached steps, runs the rest and
 * records the run. SIGINT/SIGTERM ask the running step to stop at its next
 * commit point; the run is then marked "interrupted" and exits 130, and
 * `engrave run SPEC --resume` continues it. A second signal kills at once
 * (the journal keeps what was committed).
 *
 * `--set KEY=VALUE` overrides reach the spec layer through cli_setup: the
 * run stores the effective spec (its document with them applied) and the
 * overrides themselves, which `show` prints.
 */
#include "cli.h"
#include "report.h"
#include "shard_cli.h"
#include "engrave/check.h"
#include "engrave/compare.h"
#include "engrave/log.h"
#include "engrave/remote.h"
#include "engrave/runmetrics.h"
#include "engrave/spec.h"
#include "engrave/steps.h"
#include "engrave/store.h"
#include "engrave/target.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void on_signal(int sig)
{
	steps_request_stop();
	signal(sig, SIG_DFL);
}

struct find_ctx {
	struct digest spec;
	char id[48];
};

static int find_unfinished(const struct run_record *r, void *ctx)
{
	struct find_ctx *f = ctx;
	if (digest_equal(&r->spec_digest, &f->spec) && strcmp(r->status, "done"))
		snprintf(f->id, sizeof(f->id), "%s", r->id); /* keep the newest */
	return 0;
}

/* The run's remote, when --remote, $ENGRAVE_REMOTE or the spec names one. */
static int open_remote(struct store *st, const char *arg, const char *spec_remote, struct remote **out,
		       struct err *e)
{
	*out = NULL;
	const char *env = getenv("ENGRAVE_REMOTE");
	if (!(arg && *arg) && !(env && *env) && !spec_remote)
		return 0;
	char url[512];
	if (cli_remote_url(st, arg, spec_remote, url, sizeof(url), e) || remote_open(url, out, e))
		return -1;
	log_info("remote cache: %s", url);
	return 0;
}

int cmd_run(int argc, char **argv, struct cli_ctx *ctx)
{
	int json = 0, resume = 0, force = 0, verify_all = 0;
	const char *between = NULL, *remote_arg = NULL;
	long start_s = 0;
	struct cli_shard sh;
	memset(&sh, 0, sizeof(sh));
	long repeat = -1; /* -1: as the spec says */
	const char *run_id = NULL;
	struct cli_list sets = { .n = 0 };
	static const struct cli_help help = {
		"run", "engrave run SPEC [--set KEY=VALUE]... [--resume | --run ID] [--repeat N] [--force] [--remote NAME|URL]\n"
		"                 [--json]",
		"Run an experiment spec: build or reuse every step's artifacts, ingest, load-test, record the run.",
		"Pure steps (corpus, embed, centroids, synthetic, queries, groundtruth) are reused\n"
		"from the action cache when their inputs and params are unchanged. Effectful steps\n"
		"(ingest, loadtest) are journaled: an interrupted run (Ctrl-C, kill) resumes with\n"
		"--resume (the newest unfinished run of this spec) or --run ID.\n\n"
		"The spec's absolute checks (p99_ms: \"< 50\", ...) are evaluated at the end and\n"
		"printed with the report; baseline checks need 'engrave check RUN'.\n\n"
		"--verify-all asks the target for the id of every ingested record after the load\n"
		"(by id where the driver can; Engram pages its hot tier), beside the count and the\n"
		"sampled read-back.\n\n"
		"--between-phases CMD runs CMD with /bin/sh before each phase of a sweep, with\n"
		"ENGRAVE_SWEEP_KEY, ENGRAVE_SWEEP_VALUE and ENGRAVE_SWEEP_PHASE set; the phase\n"
		"starts once the target answers its health check. Chroma 1.0 applies a changed\n"
		"ef_search when it loads the collection's index: restart it here (the index is\n"
		"reloaded from disk, nothing is re-ingested). A failing CMD stops the run (exit 4).\n\n"
		"--repeat N runs the load test N times with the same schedule, as\n"
		"steps.loadtest.repeat: N in the spec would: the run stores the spec with it\n"
		"(its canonical form) and its digest says it; resume such a run with --repeat N.\n\n"
		CLI_SET_DETAILS "\n\nThe run stores the effective spec and its overrides\n"
		"('engrave show RUN' lists them); resume it with the same --set arguments.\n"
		"One spec, two targets:\n"
		"  engrave run experiments/m17_baseline_1k.yaml --set target.driver=chroma \\\n"
		"      --set target.url=http://127.0.0.1:8000 --set steps.loadtest.mix.search=0\n\n"
		"--segment A:B makes the run one shard of a distributed load test: its load test\n"
		"sends only that execution segment of the schedule (requests striped over the\n"
		"sequence's least common denominator), waits at a start barrier on the remote\n"
		"for every segment of --segment-sequence, then pushes its run under --group;\n"
		"'engrave merge GROUP' makes one run of them. Needs a remote.\n\n"
		"--remote NAME|URL (or $ENGRAVE_REMOTE, or the spec's remote: URL) shares pure\n"
		"steps' results through a remote store: a step the local cache lacks is fetched\n"
		"from it (verified) before it is computed, and a step computed here is sent\n"
		"back. The remote failing only warns. See 'engrave push --help'.\n\n"
		"exit codes: 0 done and checks pass, 1 a check failed or the target lost data,\n"
		"2 spec error, 3 missing input or metric (the run is 'incomplete'), 4 runtime\n"
		"failure, 130 interrupted",
	};
	const struct cli_opt opts[] = {
		CLI_SET_OPT(&sets),
		{ "resume", 0, OPT_FLAG, &resume, NULL, "resume the newest unfinished run of this spec" },
		{ "run", 0, OPT_STRING, &run_id, "ID", "resume this run" },
		{ "force", 'f', OPT_FLAG, &force, NULL, "ignore the action cache and rebuild every step" },
		{ "repeat", 0, OPT_INT, &repeat, "N", "run the load test N times (sets steps.loadtest.repeat)" },
		{ "verify-all", 0, OPT_FLAG, &verify_all, NULL,
		  "after ingest, ask the target for every record's id (not only a sample)" },
		{ "between-phases", 0, OPT_STRING, &between, "CMD",
		  "run CMD (a shell command) before each phase of a load-test sweep" },
		{ "remote", 0, OPT_STRING, &remote_arg, "NAME|URL",
		  "share pure steps' results through this remote store (default: $ENGRAVE_REMOTE, the spec's remote)" },
		{ "segment", 0, OPT_STRING, &sh.segment, "A:B",
		  "run one execution segment of the load (e.g. 1/3:2/3), a shard of a run group" },
		{ "segment-sequence", 0, OPT_STRING, &sh.sequence_arg, "SEQ",
		  "every shard's segment ends (default: equal parts, 0,1/3,2/3,1)" },
		{ "group", 0, OPT_STRING, &sh.group_arg, "ID", "the run group of the shards ('engrave merge ID')" },
		{ "start", 0, OPT_INT, &start_s, "UNIX_S",
		  "shards: start the load at this time (the group defaults to spec digest + it)" },
		{ "json", 0, OPT_FLAG, &json, NULL, "print the run record as JSON" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc - pos != 1)
		return cli_usage_error(&help, "expected one SPEC file");

	struct err e = ERR_INIT;
	struct run_record rec;
	memset(&rec, 0, sizeof(rec));
	int have_rec = 0;
	ctx->spec_path = argv[pos];
	ctx->spec_sets = &sets;
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct spec *sp = ctx->spec; /* main frees it */
	struct store *st = ctx->store;
	if (repeat != -1 && spec_set_loadtest_repeat(sp, repeat > 0 ? (uint64_t)repeat : 0, &e)) {
		err_prefix(&e, "--repeat %ld", repeat);
		goto fail;
	}
	struct find_ctx f;
	memset(&f, 0, sizeof(f));
	if (resume && !run_id) {
		spec_digest(sp, &f.spec);
		if (run_list(st, find_unfinished, &f, &e))
			goto fail;
		if (!f.id[0]) {
			err_set(&e, ERR_MISSING, "no unfinished run of spec '%s' to resume", sp->name);
			err_hint(&e, "run it without --resume to start a new run");
			goto fail;
		}
		run_id = f.id;
		log_info("resuming run %s", run_id);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct runner_opts ro = { run_id, force, report_finish_run, sp, verify_all, between, NULL };
	sh.start_s = start_s;
	if (open_remote(st, remote_arg, sp->remote, &ro.remote, &e) || cli_shard_prepare(&sh, sp, ro.remote, &ro, &e)) {
		remote_close(ro.remote);
		goto fail;
	}
	have_rec = 1;
	int failed = steps_run(st, sp, &ro, &rec, &e);
	if (!failed && cli_shard_finish(&sh, st, &rec, &e))
		failed = 1;
	remote_close(ro.remote);
	/* a busy run (another live process owns it) leaves rec empty: nothing is written */
	if (failed && rec.id[0] && e.cls != ERR_BUSY && strcmp(rec.status, "incomplete")) {
		/* what a failed or interrupted run measured, best effort */
		struct err me = ERR_INIT;
		if (runmetrics_compute(st, &rec, &me) || run_put(st, &rec, &me))
			log_warn("cannot compute the run's metrics: %s", me.msg);
	}
	/* the spec's absolute checks (baselines: engrave check RUN) */
	struct check_result cres;
	memset(&cres, 0, sizeof(cres));
	int checked = 0;
	if (!failed && sp->n_checks > 0) {
		struct verdict_opts co;
		verdict_opts_default(&co);
		struct err ce = ERR_INIT;
		if (check_run(st, &rec, sp, NULL, &co, &cres, &ce))
			log_warn("cannot evaluate the spec's checks: %s", ce.msg);
		else
			checked = 1;
	}
	if (json) {
		json_t *o = report_run_json(&rec, sp);
		if (checked)
			json_object_set_new(o, "checks", check_json(&cres));
		report_print_json(o);
	} else {
		printf("\n");
		report_run_text(stdout, &rec, sp);
		if (checked) {
			struct buf tab;
			buf_init(&tab, 0);
			if (!check_table(&cres, &tab, NULL))
				printf("\n%s", tab.data);
			buf_release(&tab);
		}
	}
	if (checked && cres.failures) {
		err_set(&e, ERR_CHECK, "%d of the spec's checks failed for run %s", cres.failures, rec.id);
		err_hint(&e, "the run is stored: 'engrave show %s'", rec.id);
		failed = 1;
	} else if (checked && cres.missing) {
		err_set(&e, ERR_MISSING, "%d of the spec's checks name a metric run %s did not measure", cres.missing,
			rec.id);
		err_hint(&e, "no verdict: see the MISSING rows above");
		failed = 1;
	}
	if (checked)
		check_result_release(&cres);
	if (failed)
		goto fail;
	run_record_release(&rec);
	return 0;
fail:
	if (have_rec && rec.id[0] && e.cls != ERR_NONE && !e.hint[0]) {
		if (e.cls == ERR_INTERRUPTED)
			err_hint(&e, "continue with 'engrave run %s --resume'", argv[pos]);
	}
	rc = cli_fail(&e);
	if (have_rec)
		run_record_release(&rec);
	return rc;
}
