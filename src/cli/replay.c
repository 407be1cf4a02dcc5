/*
 * replay.c — `engrave replay RUN [--target-url URL] [--spec-dir DIR]`:
 * re-run the exact stored spec and prove the artifacts come out the same.
 *
 * The spec text stored in the run record is loaded (relative paths resolve
 * against --spec-dir, default the current directory: we chdir there after
 * the store is open), the target URL is optionally replaced, and the DAG
 * runner executes it as a new run with force=1 so every pure step is
 * recomputed rather than taken from the action cache (--cached reuses the
 * memoized steps instead, which only proves the cache is consistent).
 * Then each pure step's output digests (corpus, embed, centroids,
 * synthetic, queries, groundtruth) are compared with the original run's;
 * any mismatch is printed and the exit code is 1.
 */
#include "cli.h"
#include "report.h"
#include "engrave/compare.h"
#include "engrave/log.h"
#include "engrave/spec.h"
#include "engrave/steps.h"
#include "engrave/store.h"
#include "engrave/target.h"
#include "engrave/xalloc.h"

#include <jansson.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_signal(int sig)
{
	steps_request_stop();
	signal(sig, SIG_DFL);
}

static const char *const pure_steps[] = { "corpus", "embed", "centroids", "synthetic", "queries", "groundtruth",
					  NULL };

static const struct run_step *find_step(const struct run_record *r, const char *name)
{
	for (int i = 0; i < r->n_steps; i++)
		if (!strcmp(r->steps[i].name, name))
			return &r->steps[i];
	return NULL;
}

int cmd_replay(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *url = NULL, *dir = NULL;
	int json = 0, cached = 0;
	static const struct cli_help help = {
		"replay", "engrave replay RUN [--target-url URL] [--spec-dir DIR] [--cached] [--json]",
		"Re-run a stored run's exact spec (no YAML needed) and check the artifacts match.",
		"Every pure step (corpus, embed, centroids, synthetic, queries, groundtruth) is\n"
		"recomputed and its output digest compared with the original run's; ingest and the\n"
		"load test run again as a new run. Relative paths in the stored spec (corpus.path)\n"
		"resolve against --spec-dir (default: the current directory), so replay from where\n"
		"the spec file was, or point there. --cached reuses memoized steps instead.\n\n"
		"exit codes: 0 identical, 1 a digest differs, 3 missing run or input, 4 runtime failure",
	};
	const struct cli_opt opts[] = {
		{ "target-url", 0, OPT_STRING, &url, "URL", "send ingest and load to this target URL instead" },
		{ "spec-dir", 0, OPT_STRING, &dir, "DIR", "resolve the spec's relative paths against DIR" },
		{ "cached", 0, OPT_FLAG, &cached, NULL, "reuse memoized steps instead of recomputing them" },
		{ "json", 0, OPT_FLAG, &json, NULL, "print the comparison as JSON" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc - pos != 1)
		return cli_usage_error(&help, "expected one RUN");
	/* the store path must survive the chdir to --spec-dir */
	static char sdir[4096];
	char cwd[2048];
	if (ctx->store_dir[0] != '/' && getcwd(cwd, sizeof(cwd)))
		snprintf(sdir, sizeof(sdir), "%s/%s", cwd, ctx->store_dir);
	else
		snprintf(sdir, sizeof(sdir), "%s", ctx->store_dir);
	ctx->store_dir = sdir;
	if ((rc = cli_setup(ctx, 1, &argv[pos])))
		return rc;
	struct err e = ERR_INIT;
	struct store *st = ctx->store;
	struct spec *sp = NULL;
	struct run_record orig = ctx->run[0], rec; /* orig: borrowed, main releases it */
	int have_rec = 0;
	memset(&rec, 0, sizeof(rec));
	rc = -1;
	if (!orig.spec_text) {
		err_set(&e, ERR_MISSING, "run '%s' has no stored spec text to replay", orig.id);
		goto out;
	}
	if (dir && chdir(dir)) {
		err_set_errno(&e, ERR_MISSING, errno, "cannot enter --spec-dir '%s'", dir);
		goto out;
	}
	if (target_spec_load_string(orig.spec_text, strlen(orig.spec_text), orig.id, &sp, &e))
		goto out;
	if (url) {
		free(sp->target.url);
		sp->target.url = xstrdup(url);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct runner_opts ro = { NULL, !cached, report_finish_run, sp };
	have_rec = 1;
	int failed = steps_run(st, sp, &ro, &rec, &e);
	if (failed) {
		err_prefix(&e, "replay of run %s (new run %s)", orig.id, rec.id);
		goto out;
	}
	int mismatches = 0;
	json_t *arr = json ? json_array() : NULL;
	if (!json)
		printf("replay of run %s -> run %s\n\n  %-12s %-10s %s\n", orig.id, rec.id, "step", "digest", "");
	for (int i = 0; pure_steps[i]; i++) {
		const struct run_step *a = find_step(&orig, pure_steps[i]), *b = find_step(&rec, pure_steps[i]);
		if (!a && !b)
			continue;
		int same = a && b && a->n_out == b->n_out;
		for (int k = 0; same && k < a->n_out; k++)
			same = digest_equal(&a->out[k], &b->out[k]);
		char ha[DIGEST_HEX_LEN + 1] = "-", hb[DIGEST_HEX_LEN + 1] = "-";
		if (a && a->n_out)
			digest_to_hex(&a->out[0], ha);
		if (b && b->n_out)
			digest_to_hex(&b->out[0], hb);
		mismatches += !same;
		if (json) {
			json_t *o = json_object();
			json_object_set_new(o, "step", json_string(pure_steps[i]));
			json_object_set_new(o, "original", json_string(ha));
			json_object_set_new(o, "replay", json_string(hb));
			json_object_set_new(o, "same", json_boolean(same));
			json_object_set_new(o, "state", json_string(b ? b->state : "absent"));
			json_array_append_new(arr, o);
		} else if (same) {
			printf("  %-12s %-10s %.16s (%s)\n", pure_steps[i], "same", hb, b->state);
		} else {
			printf("  %-12s %-10s original %s\n  %-12s %-10s replay   %s\n", pure_steps[i], "MISMATCH", ha, "",
			       "", hb);
		}
	}
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "original", json_string(orig.id));
		json_object_set_new(o, "replay", json_string(rec.id));
		json_object_set_new(o, "mismatches", json_integer(mismatches));
		json_object_set_new(o, "steps", arr);
		char *s = json_dumps(o, JSON_INDENT(2));
		json_decref(o);
		if (s)
			puts(s);
		free(s);
	} else {
		printf("\n%s\n", mismatches ? "MISMATCH: regenerated artifacts differ from the original run"
					    : "ok: every regenerated artifact matches the original run");
	}
	if (mismatches)
		fprintf(stderr, "error: %d step(s) of run %s did not reproduce\n"
				"hint: compare inputs and versions with 'engrave diff %s %s'\n",
			mismatches, orig.id, orig.id, rec.id);
	rc = mismatches ? 1 : 0;
out:
	if (rc < 0)
		rc = cli_fail(&e);
	if (have_rec)
		run_record_release(&rec);
	spec_free(sp);
	return rc;
}
