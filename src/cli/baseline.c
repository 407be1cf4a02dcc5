/*
 * baseline.c — `engrave baseline set NAME RUN | list | rm NAME`.
 *
 * A baseline is the ref "baseline/NAME" whose value is a run id; `check`,
 * `log` and `plot` resolve it with compare_find_baseline. `set` checks that
 * the run exists (and stores its full id when given a prefix); `list` shows
 * each baseline with its run's spec, status and p99/throughput.
 */
#include "cli.h"
#include "engrave/compare.h"
#include "engrave/store.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

static const char *strip(const char *n)
{
	return strncmp(n, "baseline/", 9) ? n : n + 9;
}

static int baseline_set(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_help help = { "baseline set", "engrave baseline set NAME RUN",
					      "Point baseline NAME (ref baseline/NAME) at a run.", NULL };
	const struct cli_opt opts[] = { { NULL, 0, OPT_END, NULL, NULL, NULL } };
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc - pos != 2)
		return cli_usage_error(&help, "expected NAME and RUN");
	const char *name = strip(argv[pos]);
	if (!cli_valid_name(name, 200))
		return cli_usage_error(&help, "bad baseline name '%s' (letters, digits, '.', '_', '-')", name);
	if ((rc = cli_setup(ctx, 1, &argv[pos + 1])))
		return rc;
	struct err e = ERR_INIT;
	const struct run_record *r = &ctx->run[0];
	char ref[256];
	snprintf(ref, sizeof(ref), "baseline/%s", name);
	rc = ref_set(ctx->store, ref, r->id, &e);
	if (!rc)
		printf("baseline %s -> run %s (%s)\n", name, r->id, r->spec_name);
	return rc ? cli_fail(&e) : 0;
}

struct list_ctx {
	struct store *st;
	int json, n;
	json_t *arr;
};

static double metric(const struct run_record *r, const char *k)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (!strcmp(r->metrics[i].key, k))
			return r->metrics[i].value;
	return NAN;
}

static int list_one(const char *name, const char *value, void *vctx)
{
	struct list_ctx *c = vctx;
	struct run_record r;
	struct err e = ERR_INIT;
	int have = !run_get(c->st, value, &r, &e);
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(name + 9));
		json_object_set_new(o, "run", json_string(value));
		json_object_set_new(o, "spec", have ? json_string(r.spec_name) : json_null());
		json_object_set_new(o, "exists", json_boolean(have));
		json_array_append_new(c->arr, o);
	} else {
		if (!c->n)
			printf("%-20s %-24s %-16s %-8s %9s %10s\n", "baseline", "run", "spec", "status", "p99_ms", "ops/s");
		if (have)
			printf("%-20s %-24s %-16s %-8s %9.3f %10.1f\n", name + 9, value, r.spec_name, r.status,
			       metric(&r, "p99_ms"), metric(&r, "throughput"));
		else
			printf("%-20s %-24s (run missing)\n", name + 9, value);
	}
	if (have)
		run_record_release(&r);
	c->n++;
	return 0;
}

static int baseline_list(int argc, char **argv, struct cli_ctx *ctx)
{
	int json = 0;
	static const struct cli_help help = { "baseline list", "engrave baseline list [--json]",
					      "List baselines and the runs they name.", NULL };
	const struct cli_opt opts[] = {
		{ "json", 0, OPT_FLAG, &json, NULL, "print a JSON array" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc != pos)
		return cli_usage_error(&help, "unexpected argument '%s'", argv[pos]);
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct err e = ERR_INIT;
	struct list_ctx c = { ctx->store, json, 0, json ? json_array() : NULL };
	if (ref_list(c.st, "baseline/", list_one, &c, &e) < 0) {
		json_decref(c.arr);
		return cli_fail(&e);
	}
	if (json)
		cli_json_print(c.arr);
	else if (!c.n)
		fprintf(stderr, "no baselines; set one with 'engrave baseline set NAME RUN'\n");
	return 0;
}

static int baseline_rm(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_help help = { "baseline rm", "engrave baseline rm NAME", "Remove baseline NAME.",
					      NULL };
	const struct cli_opt opts[] = { { NULL, 0, OPT_END, NULL, NULL, NULL } };
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc - pos != 1)
		return cli_usage_error(&help, "expected NAME");
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct err e = ERR_INIT;
	char ref[256];
	snprintf(ref, sizeof(ref), "baseline/%s", strip(argv[pos]));
	if (ref_del(ctx->store, ref, &e)) {
		if (e.cls == ERR_MISSING) {
			err_set(&e, ERR_MISSING, "no baseline '%s'", strip(argv[pos]));
			err_hint(&e, "'engrave baseline list' shows the baselines");
		}
		return cli_fail(&e);
	}
	printf("removed baseline %s\n", strip(argv[pos]));
	return 0;
}

int cmd_baseline(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_sub subs[] = {
		{ "list", baseline_list, "list baselines and the runs they name", CMD_READS_STORE },
		{ "rm", baseline_rm, "remove a baseline", CMD_NEEDS_STORE },
		{ "set", baseline_set, "point baseline NAME at a run", CMD_NEEDS_STORE | CMD_NEEDS_RUN },
		{ NULL, NULL, NULL, 0 },
	};
	return cli_dispatch_sub(argc, argv, ctx, "baseline", subs);
}
