/*
 * remote.c — `engrave remote add NAME URL | list | remove NAME`, and how
 * every command finds its remote.
 *
 * A configured remote is the ref "remote/NAME" whose value is its URL, so
 * it lives in the store beside the baselines and needs no config file.
 * URLs never hold credentials: those come from ENGRAVE_REMOTE_TOKEN or
 * ENGRAVE_REMOTE_USER/ENGRAVE_REMOTE_PASSWORD (remote.h).
 *
 * cli_remote_url picks the remote of a command: the --remote argument (a
 * URL or a NAME), else $ENGRAVE_REMOTE (same), else the spec's `remote:`
 * (for run), else the remote named "origin", else the only one configured.
 */
#include "cli.h"
#include "engrave/remote.h"
#include "engrave/store.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define REMOTE_PREFIX "remote/"

struct only_ctx {
	int n;
	char url[512];
};

static int only_one(const char *name, const char *value, void *vctx)
{
	(void)name;
	struct only_ctx *c = vctx;
	if (c->n++ == 0)
		snprintf(c->url, sizeof(c->url), "%s", value);
	return 0;
}

int cli_remote_url(struct store *st, const char *arg, const char *spec_remote, char *url, size_t cap,
		   struct err *e)
{
	const char *want = arg && *arg ? arg : getenv("ENGRAVE_REMOTE");
	if (!(want && *want))
		want = spec_remote;
	if (want && *want) {
		if (strstr(want, "://")) {
			snprintf(url, cap, "%s", want);
			return 0;
		}
		char ref[256];
		snprintf(ref, sizeof(ref), REMOTE_PREFIX "%s", want);
		if (!st || ref_get(st, ref, url, cap, e)) {
			err_set(e, ERR_MISSING, "no remote named '%s'", want);
			return err_hint(e, "add it with 'engrave remote add %s URL', or give a URL", want);
		}
		return 0;
	}
	if (st && !ref_get(st, REMOTE_PREFIX "origin", url, cap, NULL))
		return 0;
	struct only_ctx c = { 0, "" };
	if (st && ref_list(st, REMOTE_PREFIX, only_one, &c, e) < 0)
		return -1;
	if (c.n == 1) {
		snprintf(url, cap, "%s", c.url);
		return 0;
	}
	err_set(e, ERR_USAGE, c.n ? "%d remotes are configured and none is named 'origin'" : "no remote configured",
		c.n);
	return err_hint(e, "give --remote NAME|URL, set ENGRAVE_REMOTE, or 'engrave remote add origin URL'");
}

static int remote_add(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_help help = {
		"remote add", "engrave remote add NAME URL",
		"Remember a remote store (a Bazel HTTP cache: nginx WebDAV, bazel-remote) as NAME.",
		"URL is http(s)://host[:port][/prefix], without credentials: they are read from\n"
		"ENGRAVE_REMOTE_TOKEN (bearer) or ENGRAVE_REMOTE_USER and ENGRAVE_REMOTE_PASSWORD\n"
		"(basic) when the remote is used. Adding an existing NAME replaces its URL."
	};
	const struct cli_opt opts[] = { { NULL, 0, OPT_END, NULL, NULL, NULL } };
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc - pos != 2)
		return cli_usage_error(&help, "expected NAME and URL");
	if (!cli_valid_name(argv[pos], 100))
		return cli_usage_error(&help, "bad remote name '%s' (letters, digits, '.', '_', '-')", argv[pos]);
	struct err e = ERR_INIT;
	struct remote *r;
	if (remote_open(argv[pos + 1], &r, &e)) /* checks the URL's shape; sends nothing */
		return cli_fail(&e);
	remote_close(r);
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	char ref[256];
	snprintf(ref, sizeof(ref), REMOTE_PREFIX "%s", argv[pos]);
	if (ref_set(ctx->store, ref, argv[pos + 1], &e))
		return cli_fail(&e);
	printf("remote %s -> %s\n", argv[pos], argv[pos + 1]);
	return 0;
}

struct list_ctx {
	json_t *arr;
	int n;
};

static int list_one(const char *name, const char *value, void *vctx)
{
	struct list_ctx *c = vctx;
	name += strlen(REMOTE_PREFIX);
	if (c->arr) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(name));
		json_object_set_new(o, "url", json_string(value));
		json_array_append_new(c->arr, o);
	} else {
		printf("%-16s %s\n", name, value);
	}
	c->n++;
	return 0;
}

static int remote_list(int argc, char **argv, struct cli_ctx *ctx)
{
	int json = 0;
	static const struct cli_help help = { "remote list", "engrave remote list [--json]",
					      "List the configured remotes.", NULL };
	const struct cli_opt opts[] = {
		{ "json", 0, OPT_FLAG, &json, NULL, "print a JSON array of {name, url}" },
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
	struct list_ctx c = { json ? json_array() : NULL, 0 };
	if (ref_list(ctx->store, REMOTE_PREFIX, list_one, &c, &e) < 0) {
		json_decref(c.arr);
		return cli_fail(&e);
	}
	if (json)
		cli_json_print(c.arr);
	else if (!c.n)
		fprintf(stderr, "no remotes; add one with 'engrave remote add NAME URL'\n");
	return 0;
}

static int remote_remove(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_help help = { "remote remove", "engrave remote remove NAME",
					      "Forget remote NAME (nothing on the server changes).", NULL };
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
	snprintf(ref, sizeof(ref), REMOTE_PREFIX "%s", argv[pos]);
	if (ref_del(ctx->store, ref, &e)) {
		if (e.cls == ERR_MISSING) {
			err_set(&e, ERR_MISSING, "no remote '%s'", argv[pos]);
			err_hint(&e, "'engrave remote list' shows the remotes");
		}
		return cli_fail(&e);
	}
	printf("removed remote %s\n", argv[pos]);
	return 0;
}

int cmd_remote(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_sub subs[] = {
		{ "add", remote_add, "remember a remote store as NAME", CMD_NEEDS_STORE },
		{ "list", remote_list, "list the configured remotes", CMD_READS_STORE },
		{ "remove", remote_remove, "forget a remote", CMD_NEEDS_STORE },
		{ NULL, NULL, NULL, 0 },
	};
	return cli_dispatch_sub(argc, argv, ctx, "remote", subs);
}
