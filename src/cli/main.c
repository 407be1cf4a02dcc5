/*
 * main.c — engrave's entry point: global options, then the command table.
 *
 * Like git.c: cli_commands[] maps a name to a function in src/cli/<name>.c.
 * main() parses the global options that come before the command (--store,
 * -v, -q, --version, --help), dispatches, then flushes stdout and treats a
 * failed write (full disk, closed pipe) as an error so that a truncated
 * report never exits 0. An unknown command gets the closest suggestion.
 *
 * The common setup lives here too (git's RUN_SETUP): each table entry
 * carries CMD_* flags, and cli_setup() — called by the command once its
 * arguments are valid — loads the SPEC file, opens the store in the mode
 * they name and resolves the runs the command was given; main releases all
 * three after the command returns, before stdout is flushed.
 */
#include "cli.h"
#include "engrave/compare.h"
#include "engrave/log.h"
#include "engrave/spec.h"
#include "engrave/target.h"
#include "engrave/text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct cli_cmd cli_commands[] = {
	{ "baseline", cmd_baseline, "name runs as baselines (set, list, rm)", 0 },
	{ "check", cmd_check, "check a run against its spec's thresholds and a baseline; exit 1 on regression",
	  CMD_READS_STORE | CMD_NEEDS_RUN },
	{ "diff", cmd_diff, "compare two runs: spec, artifacts, environment, metrics with significance",
	  CMD_READS_STORE | CMD_NEEDS_RUN },
	{ "export", cmd_export, "write an artifact or run out as npy, fvecs, jsonl, csv or engram-loadtest-json",
	  CMD_READS_STORE },
	{ "help", cmd_help, "show help for engrave or one of its commands", 0 },
	{ "history", cmd_history, "a metric over the runs of a spec, with step detection", CMD_READS_STORE },
	{ "import", cmd_import, "import vectors or records (.npy, .fvecs, .jsonl) into the store", CMD_NEEDS_STORE },
	{ "log", cmd_log, "write PERFORMANCE_LOG.md entries from runs", CMD_READS_STORE | CMD_NEEDS_RUN },
	{ "merge", cmd_merge, "merge the shards of a distributed load test into one run", CMD_NEEDS_STORE },
	{ "plan", cmd_plan, "show which steps of a spec would run and which are cached",
	  CMD_NEEDS_SPEC | CMD_READS_STORE | CMD_STORE_IF_EXISTS },
	{ "plot", cmd_plot, "draw latency percentile or history plots as SVG", CMD_READS_STORE },
	{ "pull", cmd_pull, "fetch runs or refs, with everything they name, from a remote store", CMD_NEEDS_STORE },
	{ "push", cmd_push, "send runs and refs, with everything they name, to a remote store", CMD_READS_STORE },
	{ "remote", cmd_remote, "configure remote stores (add, list, remove)", 0 },
	{ "report", cmd_report, "write one self-contained HTML report of a run or of a spec's history",
	  CMD_READS_STORE },
	{ "replay", cmd_replay, "re-run a stored run's exact spec and compare artifact digests",
	  CMD_NEEDS_STORE | CMD_NEEDS_RUN },
	{ "run", cmd_run, "run an experiment spec end to end (resumable)", CMD_NEEDS_SPEC | CMD_NEEDS_STORE },
	{ "runs", cmd_runs, "list runs with their status and key metrics", CMD_READS_STORE },
	{ "show", cmd_show, "show one run: spec, environment, steps, artifacts, metrics",
	  CMD_READS_STORE | CMD_NEEDS_RUN },
	{ "spec", cmd_spec, "check, show, digest or import experiment specs", 0 },
	{ "store", cmd_store, "inspect, verify and garbage-collect the artifact store", 0 },
	{ "version", cmd_version, "print the engrave version", 0 },
	{ NULL, NULL, NULL, 0 },
};

int cli_setup(struct cli_ctx *ctx, int n_runs, char *const *runs)
{
	struct err e = ERR_INIT;
	unsigned f = ctx->flags;
	if (ctx->set_up)
		BUG("cli_setup called twice");
	if (n_runs < 0 || n_runs > CLI_MAX_RUNS || (n_runs && !(f & CMD_NEEDS_RUN)) ||
	    (f & CMD_NEEDS_RUN && !(f & CMD_NEEDS_STORE)) || (f & CMD_NEEDS_SPEC && !ctx->spec_path))
		BUG("cli_setup: %d run(s) for a command with flags %#x", n_runs, f);
	ctx->set_up = 1;
	if (f & CMD_NEEDS_SPEC &&
	    target_spec_load_file_sets(ctx->spec_path, ctx->spec_sets ? ctx->spec_sets->items : NULL,
				       ctx->spec_sets ? (size_t)ctx->spec_sets->n : 0, &ctx->spec, &e))
		return cli_fail(&e);
	if (f & CMD_NEEDS_STORE && !(f & CMD_STORE_IF_EXISTS && access(ctx->store_dir, F_OK) != 0) &&
	    store_open(ctx->store_dir, f & CMD_STORE_READONLY ? STORE_RDONLY : 0, &ctx->store, &e))
		return cli_fail(&e);
	for (; ctx->n_runs < n_runs; ctx->n_runs++)
		if (compare_find_run(ctx->store, runs[ctx->n_runs], &ctx->run[ctx->n_runs], &e))
			return cli_fail(&e);
	return 0;
}

static void cli_teardown(struct cli_ctx *ctx)
{
	for (int i = 0; i < ctx->n_runs; i++)
		run_record_release(&ctx->run[i]);
	ctx->n_runs = 0;
	store_close(ctx->store);
	ctx->store = NULL;
	spec_free(ctx->spec);
	ctx->spec = NULL;
}

static void print_main_usage(FILE *out)
{
	fprintf(out,
		"usage: engrave [--store DIR] [-v|-q] <command> [options] [args]\n\n"
		"Reproducible database performance experiments, declared in YAML and kept\n"
		"in a content-addressed store.\n\n"
		"commands:\n");
	for (const struct cli_cmd *c = cli_commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fprintf(out,
		"\nglobal options:\n"
		"  --store DIR   the store directory (default $ENGRAVE_STORE or .engrave)\n"
		"  -v, --verbose more output (repeat for debug)\n"
		"  -q, --quiet   errors only, no progress line\n"
		"  --version     print the version\n"
		"\nexit codes: 0 ok, 1 check failed or corruption, 2 usage or spec error,\n"
		"            3 missing data, 4 runtime failure, 130 interrupted (resumable)\n"
		"\nRun 'engrave <command> --help' for a command's options.\n");
}

int cmd_help(int argc, char **argv, struct cli_ctx *ctx)
{
	if (argc >= 2 && strcmp(argv[1], "--help") && strcmp(argv[1], "-h")) {
		for (const struct cli_cmd *c = cli_commands; c->name; c++)
			if (!strcmp(c->name, argv[1])) {
				char *hargv[] = { argv[1], "--help", NULL };
				return c->fn(2, hargv, ctx);
			}
		fprintf(stderr, "error: no command '%s'\n", argv[1]);
		return 2;
	}
	print_main_usage(stdout);
	return 0;
}

int cmd_version(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: engrave version\n\nprint the engrave version\n");
		return 0;
	}
	(void)argv;
	printf("engrave %s\n", ENGRAVE_VERSION);
	return 0;
}

static int finish(int code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "error: cannot write output: %s\n", strerror(errno));
		return code ? code : 4;
	}
	return code;
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx = { 0 };
	ctx.store_dir = getenv("ENGRAVE_STORE");
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--store") && i + 1 < argc)
			ctx.store_dir = argv[++i];
		else if (!strncmp(a, "--store=", 8))
			ctx.store_dir = a + 8;
		else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			ctx.verbose++;
		else if (!strcmp(a, "-vv"))
			ctx.verbose += 2;
		else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
			ctx.quiet = 1;
		else if (!strcmp(a, "--version"))
			return finish(cmd_version(1, argv + i, &ctx));
		else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			print_main_usage(stdout);
			return finish(0);
		} else {
			fprintf(stderr, "error: unknown global option '%s'\n", a);
			print_main_usage(stderr);
			return 2;
		}
	}
	if (!ctx.store_dir || !*ctx.store_dir)
		ctx.store_dir = ".engrave";
	log_set_level(ctx.quiet ? LOG_ERROR : ctx.verbose >= 2 ? LOG_DEBUG : LOG_INFO);
	if (i >= argc) {
		print_main_usage(stderr);
		return 2;
	}
	const char *name = argv[i];
	const char *names[64];
	int n = 0;
	for (const struct cli_cmd *c = cli_commands; c->name; c++) {
		if (!strcmp(c->name, name)) {
			ctx.flags = c->flags;
			int code = c->fn(argc - i, argv + i, &ctx);
			cli_teardown(&ctx);
			return finish(code);
		}
		if (n < 63)
			names[n++] = c->name;
	}
	names[n] = NULL;
	fprintf(stderr, "error: '%s' is not an engrave command\n", name);
	const char *sug = text_suggest(name, names);
	if (sug)
		fprintf(stderr, "hint: did you mean 'engrave %s'?\n", sug);
	else
		fprintf(stderr, "hint: see 'engrave help'\n");
	return 2;
}
