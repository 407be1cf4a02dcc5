/*
 * cli.h — the command layer: one file per command, one table in main.c.
 *
 * Adding a command (the checklist, after git's builtin.h):
 *   1. write src/cli/<name>.c defining `int cmd_<name>(int argc, char **argv,
 *      struct cli_ctx *ctx)`, with a `struct cli_help` and an option table
 *      parsed by cli_parse() so that `--help` and the parser cannot drift;
 *   2. declare it below and add `{ "<name>", cmd_<name>, "summary", CMD_... }`
 *      to commands[] in src/cli/main.c (kept sorted by name); the flags say
 *      what the command needs (a store, read-only or not; runs named on the
 *      command line; a SPEC file), and once its arguments are valid the
 *      command calls cli_setup() and finds them in ctx->store, ctx->run[]
 *      and ctx->spec;
 *   3. the Makefile picks the file up by itself;
 *   4. add a test under tests/cli/ (tests/cli/0001-help.sh already checks
 *      that `engrave <name> --help` exits 0 for every command);
 *   5. document it in README.md and CHANGELOG.md.
 *
 * Commands return an exit code: 0 ok, 1 a check failed or corruption found,
 * 2 usage/spec error, 3 missing data, 4 runtime failure. Errors from lower
 * layers come back as `struct err`; cli_fail() prints one and returns its
 * exit code. Only this layer prints to stdout.
 */
#ifndef ENGRAVE_CLI_H
#define ENGRAVE_CLI_H

#include <jansson.h>
#include <stdio.h>
#include "engrave/err.h"
#include "engrave/store.h"

#include "engrave/version.h"

/*
 * Setup flags of a command (or sub-command) table entry: what cli_setup()
 * prepares. Setup waits until the command has parsed its options and
 * checked its arguments, so `--help` and usage errors (exit 2) never touch
 * the store, and a command that writes never creates a store for a
 * command line it then rejects.
 */
enum cli_cmd_flags {
	CMD_NEEDS_STORE = 1 << 0,    /* open ctx->store_dir into ctx->store (created if absent) */
	CMD_STORE_READONLY = 1 << 1, /* ...read-only: a missing store is exit 3 and is never created */
	CMD_STORE_IF_EXISTS = 1 << 2, /* ...only if the directory exists; else ctx->store stays NULL */
	CMD_NEEDS_RUN = 1 << 3,      /* resolve the run ids (or unique prefixes) given to cli_setup */
	CMD_NEEDS_SPEC = 1 << 4,     /* load ctx->spec_path into ctx->spec (driver rules), before the store */
};
#define CMD_READS_STORE (CMD_NEEDS_STORE | CMD_STORE_READONLY)

#define CLI_MAX_RUNS 2

struct spec;

/* Global options, parsed by main before dispatch, and the setup. */
struct cli_ctx {
	const char *store_dir; /* --store, $ENGRAVE_STORE, or ".engrave" */
	int verbose;           /* -v count */
	int quiet;             /* -q */
	const char *spec_path; /* CMD_NEEDS_SPEC: the SPEC argument, set by the command */
	const struct cli_list *spec_sets; /* CMD_NEEDS_SPEC: its --set overrides (may be NULL) */

	/* Filled by cli_setup() from `flags` (the table entry's, which a command
	 * may adjust before setup, e.g. `store gc --dry-run` reads only);
	 * released by main after the command returns, so commands never close
	 * the store or release these runs themselves. A command may take the
	 * spec (set ctx->spec to NULL and free it itself). */
	unsigned flags;
	struct spec *spec;
	struct store *store;
	struct run_record run[CLI_MAX_RUNS];
	int n_runs;
	int set_up;
};

enum opt_type { OPT_END = 0, OPT_FLAG, OPT_STRING, OPT_INT, OPT_DOUBLE, OPT_LIST };

/*
 * One option. `dest` points at an int (FLAG: set to 1, counted), a
 * const char * (STRING), a long (INT), a double (DOUBLE), or a
 * struct cli_list (LIST: repeated string option). `argname` is shown in
 * help ("N", "FILE"); `help` is one line.
 */
struct cli_opt {
	const char *long_name;
	char short_name;
	enum opt_type type;
	void *dest;
	const char *argname;
	const char *help;
};

struct cli_list {
	const char *items[32];
	int n;
};

/* --set KEY=VALUE, shared by the commands that load a SPEC: the option's
 * line and a paragraph for the command's details. */
#define CLI_SET_OPT(list) \
	{ "set", 0, OPT_LIST, (list), "KEY=VALUE", "override a spec key, e.g. steps.loadtest.duration=10s (repeatable)" }
#define CLI_SET_DETAILS \
	"--set KEY=VALUE overrides one key of the spec (repeat it for more), applied to\n" \
	"the YAML document before it is checked, in order. KEY is the key's path as the\n" \
	"YAML nests it (steps.loadtest.arrival.rate, target.url, checks.p99_ms); the\n" \
	"form without 'steps.' (loadtest.arrival.rate) is taken too. VALUE is YAML: a\n" \
	"scalar, or a flow list or map that replaces what the key held\n" \
	"(--set steps.loadtest.mix='{store: 0.5, recall: 0.5, search: 0}'); a check's\n" \
	"comparison needs YAML quotes (--set 'checks.p99_ms=\"< 40\"'). Errors name the\n" \
	"argument (\"--set KEY: ...\"). The digest, plan and checks are the effective\n" \
	"spec's: the file as if edited to say what the overrides say."

struct cli_help {
	const char *name;      /* "store verify" */
	const char *usage;     /* "engrave store verify [--json]" (may hold several lines) */
	const char *summary;   /* one line */
	const char *details;   /* paragraphs after the options, may be NULL */
};

/*
 * Parse argv (argv[0] is the command name). `--help`/`-h` prints help and
 * returns 0 with *done set; an unknown option prints the error and usage and
 * returns 2. On success returns 0 and leaves the positional arguments in
 * argv[*first_pos .. argc). Options may follow positionals.
 */
int cli_parse(int argc, char **argv, const struct cli_help *help, const struct cli_opt *opts,
	      int *first_pos, int *done);
void cli_print_help(FILE *out, const struct cli_help *help, const struct cli_opt *opts);
/* 1 when `n` is 1..max characters of letters, digits, '.', '_' and '-' (names of
 * baselines, remotes, run groups), else 0. */
int cli_valid_name(const char *n, size_t max);
/* Print `v` indented (2) on stdout, then json_decref it; NULL-safe. */
void cli_json_print(json_t *v);
/* "error: ..." (+ "hint: ...") on stderr; returns err_exit_code(e->cls). */
int cli_fail(const struct err *e);
/* Usage error: prints "error: <msg>" and the usage line; returns 2. */
int cli_usage_error(const struct cli_help *help, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The common setup of src/cli/main.c, called by a command once its options
 * and arguments are valid: with CMD_NEEDS_SPEC loads ctx->spec_path into
 * ctx->spec (first, so a bad spec never creates a store), opens the store as
 * ctx->flags ask and, with CMD_NEEDS_RUN, resolves runs[0..n_runs) (ids or
 * unique prefixes, at most CLI_MAX_RUNS) into ctx->run[]. Returns 0, or
 * prints the error and returns its exit code (2 spec error, 3 no store, no
 * such run or no spec file, 4 store failure), which the command returns as
 * is. Called at most once per command.
 */
int cli_setup(struct cli_ctx *ctx, int n_runs, char *const *runs);

/*
 * Sub-command table for nested commands (engrave store verify); `flags`
 * as in the command table, per sub-command.
 */
struct cli_sub {
	const char *name;
	int (*fn)(int argc, char **argv, struct cli_ctx *ctx);
	const char *summary;
	unsigned flags; /* CMD_* */
};
/* Dispatch argv[1] among subs (argv[0] is the parent). Handles help. */
int cli_dispatch_sub(int argc, char **argv, struct cli_ctx *ctx, const char *parent,
		     const struct cli_sub *subs);

/* Commands. */
int cmd_help(int argc, char **argv, struct cli_ctx *ctx);
int cmd_version(int argc, char **argv, struct cli_ctx *ctx);
int cmd_store(int argc, char **argv, struct cli_ctx *ctx);
int cmd_spec(int argc, char **argv, struct cli_ctx *ctx);
int cmd_run(int argc, char **argv, struct cli_ctx *ctx);
int cmd_plan(int argc, char **argv, struct cli_ctx *ctx);
int cmd_export(int argc, char **argv, struct cli_ctx *ctx);
int cmd_import(int argc, char **argv, struct cli_ctx *ctx);
int cmd_runs(int argc, char **argv, struct cli_ctx *ctx);
int cmd_show(int argc, char **argv, struct cli_ctx *ctx);
int cmd_diff(int argc, char **argv, struct cli_ctx *ctx);
int cmd_replay(int argc, char **argv, struct cli_ctx *ctx);
int cmd_baseline(int argc, char **argv, struct cli_ctx *ctx);
int cmd_check(int argc, char **argv, struct cli_ctx *ctx);
int cmd_history(int argc, char **argv, struct cli_ctx *ctx);
int cmd_log(int argc, char **argv, struct cli_ctx *ctx);
int cmd_plot(int argc, char **argv, struct cli_ctx *ctx);
int cmd_report(int argc, char **argv, struct cli_ctx *ctx);
int cmd_remote(int argc, char **argv, struct cli_ctx *ctx);
int cmd_push(int argc, char **argv, struct cli_ctx *ctx);
int cmd_pull(int argc, char **argv, struct cli_ctx *ctx);
int cmd_merge(int argc, char **argv, struct cli_ctx *ctx);

/*
 * The remote a command uses (src/cli/remote.c): `arg` (--remote: a URL or
 * a configured NAME), else $ENGRAVE_REMOTE, else `spec_remote` (the spec's
 * remote: key, may be NULL), else the remote "origin", else the only one
 * configured. `st` may be NULL (then only URLs resolve). The URL into url.
 */
int cli_remote_url(struct store *st, const char *arg, const char *spec_remote, char *url, size_t cap,
		   struct err *e);

/* Command table access (for help and tests). */
struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct cli_ctx *ctx);
	const char *summary;
	unsigned flags; /* CMD_*: what cli_setup() prepares */
};
extern const struct cli_cmd cli_commands[];

#endif
