/*
 * push.c — `engrave push [RUN|REF...]` and `engrave pull RUN|REF`.
 *
 * push sends runs (record, outputs, spec blob, the action-cache entries of
 * their steps) and refs to a remote (remote.h); with no argument every run
 * and every ref but the remote/ ones. An argument is a ref when the store
 * has it (NAME or baseline/NAME), else a run id or unique prefix. A ref's
 * run (or digest) goes up before the ref. Refs follow "last writer wins":
 * when the remote held another value, push says which one it replaced.
 *
 * pull brings one run, by full id, or one ref (NAME, or baseline/NAME)
 * with the run or digest it names; the ref is then set locally too.
 * Transfers are resumable: running either again sends only what is
 * missing. Both print one line per item and a summary (or --json).
 */
#include "cli.h"
#include "engrave/compare.h"
#include "engrave/remote.h"
#include "engrave/store.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct xfer {
	struct store *st;
	struct remote *r;
	int json;
	json_t *items;
	struct err *e;
};

static void note(struct xfer *x, const char *kind, const char *name, const char *value, const char *replaced)
{
	if (x->json) {
		json_t *o = json_object();
		json_object_set_new(o, "kind", json_string(kind));
		json_object_set_new(o, "name", json_string(name));
		if (value)
			json_object_set_new(o, "value", json_string(value));
		if (replaced && *replaced)
			json_object_set_new(o, "replaced", json_string(replaced));
		json_array_append_new(x->items, o);
		return;
	}
	printf("%s %s%s%s\n", kind, name, value ? " -> " : "", value ? value : "");
	if (replaced && *replaced && value && strcmp(replaced, value))
		printf("  the remote's %s was %s (last writer wins: now %s)\n", name, replaced, value);
}

static int is_digest(const char *v)
{
	struct digest d;
	return strlen(v) == DIGEST_HEX_LEN && !digest_from_hex(v, &d, NULL);
}

/* A run id (or digest) that a ref names, to the remote. */
static int push_target(struct xfer *x, const char *value)
{
	if (is_digest(value)) {
		struct digest d;
		digest_from_hex(value, &d, NULL);
		return remote_push_blobs(x->r, x->st, &d, 1, x->e);
	}
	return remote_push_run(x->r, x->st, value, x->e);
}

static int push_ref(struct xfer *x, const char *name, const char *value)
{
	char prev[512];
	if (push_target(x, value) || remote_ref_set(x->r, name, value, prev, sizeof(prev), x->e))
		return -1;
	note(x, "ref", name, value, prev);
	return 0;
}

static int push_all_refs(const char *name, const char *value, void *vctx)
{
	if (!strncmp(name, "remote/", 7))
		return 0;
	return push_ref(vctx, name, value);
}

static int push_all_runs(const struct run_record *r, void *vctx)
{
	struct xfer *x = vctx;
	if (remote_push_run(x->r, x->st, r->id, x->e))
		return -1;
	note(x, "run", r->id, NULL, NULL);
	return 0;
}

static int push_one(struct xfer *x, const char *arg)
{
	char value[512], name[512];
	snprintf(name, sizeof(name), "%s", arg);
	if (ref_get(x->st, name, value, sizeof(value), NULL)) {
		snprintf(name, sizeof(name), "baseline/%s", arg);
		if (ref_get(x->st, name, value, sizeof(value), NULL))
			name[0] = '\0';
	}
	if (name[0])
		return push_ref(x, name, value);
	struct run_record rec;
	if (compare_find_run(x->st, arg, &rec, x->e)) {
		if (x->e->cls == ERR_MISSING)
			err_hint(x->e, "push takes run ids (or unique prefixes) and ref names");
		return -1;
	}
	int rc = remote_push_run(x->r, x->st, rec.id, x->e);
	if (!rc)
		note(x, "run", rec.id, NULL, NULL);
	run_record_release(&rec);
	return rc;
}

static void summary(struct xfer *x, const char *verb)
{
	const struct remote_stats *s = remote_get_stats(x->r);
	if (x->json) {
		json_t *o = json_object();
		json_object_set_new(o, "remote", json_string(remote_url(x->r)));
		json_object_set_new(o, "items", x->items);
		json_object_set_new(o, "blobs_sent", json_integer((json_int_t)s->sent));
		json_object_set_new(o, "bytes_sent", json_integer((json_int_t)s->sent_bytes));
		json_object_set_new(o, "blobs_fetched", json_integer((json_int_t)s->fetched));
		json_object_set_new(o, "bytes_fetched", json_integer((json_int_t)s->fetched_bytes));
		json_object_set_new(o, "blobs_present", json_integer((json_int_t)s->present));
		json_object_set_new(o, "entries", json_integer((json_int_t)s->entries));
		cli_json_print(o);
		return;
	}
	printf("%s %s: %llu blobs sent (%llu bytes), %llu fetched (%llu bytes), %llu already there, %llu entries\n",
	       verb, remote_url(x->r), (unsigned long long)s->sent, (unsigned long long)s->sent_bytes,
	       (unsigned long long)s->fetched, (unsigned long long)s->fetched_bytes, (unsigned long long)s->present,
	       (unsigned long long)s->entries);
}

/*
 * What push and pull share: options, set-up, the remote, one call of `one`
 * per argument (or `all` without any), the summary. `want_args`: at least
 * one argument is required.
 */
static int xfer_cmd(int argc, char **argv, struct cli_ctx *ctx, const struct cli_help *help, int want_args,
		    int (*one)(struct xfer *x, const char *arg), int (*all)(struct xfer *x), const char *verb)
{
	const char *remote_arg = NULL;
	long jobs = REMOTE_MAX_IN_FLIGHT_DEFAULT;
	int json = 0;
	const struct cli_opt opts[] = {
		{ "remote", 0, OPT_STRING, &remote_arg, "NAME|URL",
		  "the remote (default: $ENGRAVE_REMOTE, else origin, else the only one)" },
		{ "jobs", 'j', OPT_INT, &jobs, "N", "transfers in flight (default 8)" },
		{ "json", 0, OPT_FLAG, &json, NULL, "print what was transferred as JSON" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (want_args && pos == argc)
		return cli_usage_error(help, "expected RUN or REF");
	if (jobs < 1 || jobs > 256)
		return cli_usage_error(help, "--jobs must be 1..256");
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct err e = ERR_INIT;
	char url[512];
	struct xfer x = { ctx->store, NULL, json, json ? json_array() : NULL, &e };
	if (cli_remote_url(ctx->store, remote_arg, NULL, url, sizeof(url), &e) || remote_open(url, &x.r, &e)) {
		json_decref(x.items);
		return cli_fail(&e);
	}
	remote_set_max_in_flight(x.r, (int)jobs);
	remote_set_progress(x.r, !json && !ctx->quiet);
	if (pos == argc)
		rc = all(&x) != 0;
	for (int i = pos; i < argc && !rc; i++)
		rc = one(&x, argv[i]) != 0;
	if (!rc)
		summary(&x, verb);
	else
		json_decref(x.items);
	remote_close(x.r);
	return rc ? cli_fail(&e) : 0;
}

static int push_all(struct xfer *x)
{
	return run_list(x->st, push_all_runs, x, x->e) < 0 || ref_list(x->st, NULL, push_all_refs, x, x->e) < 0;
}

int cmd_push(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_help help = {
		"push", "engrave push [--remote NAME|URL] [-j N] [--json] [RUN|REF...]",
		"Send runs and refs (with everything they name) to a remote store.",
		"A run goes up with its record, every step's outputs, its spec and the action-cache\n"
		"entries of its steps; a ref with the run or artifact it names. With no argument,\n"
		"every run and every ref. Each blob is HEADed first and only missing ones are sent,\n"
		"children before parents, so an interrupted push resumes where it stopped.\n"
		"Refs: last writer wins; push prints the value it replaced on the remote.\n"
		"Credentials: ENGRAVE_REMOTE_TOKEN, or ENGRAVE_REMOTE_USER and ENGRAVE_REMOTE_PASSWORD."
	};
	return xfer_cmd(argc, argv, ctx, &help, 0, push_one, push_all, "pushed to");
}

static int looks_like_run_id(const char *s)
{
	/* 20261124T083015Z-a1b2c3 */
	if (strlen(s) != 23 || s[8] != 'T' || s[15] != 'Z' || s[16] != '-')
		return 0;
	for (int i = 0; i < 23; i++)
		if (i != 8 && i != 15 && i != 16 && !isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int pull_one(struct xfer *x, const char *arg)
{
	if (looks_like_run_id(arg)) {
		if (remote_pull_run(x->r, x->st, arg, x->e))
			return -1;
		note(x, "run", arg, NULL, NULL);
		return 0;
	}
	char name[512], value[512];
	snprintf(name, sizeof(name), "%s", arg);
	int got = remote_ref_get(x->r, name, value, sizeof(value), x->e);
	if (got == 0 && !strchr(arg, '/')) {
		snprintf(name, sizeof(name), "baseline/%s", arg);
		got = remote_ref_get(x->r, name, value, sizeof(value), x->e);
	}
	if (got < 0)
		return -1;
	if (got == 0) {
		err_set(x->e, ERR_MISSING, "the remote %s has no run or ref '%s'", remote_url(x->r), arg);
		return err_hint(x->e, "give a full run id, or a ref pushed with 'engrave push REF'");
	}
	int rc;
	if (is_digest(value)) {
		struct digest d;
		digest_from_hex(value, &d, NULL);
		rc = remote_pull_blobs(x->r, x->st, &d, 1, x->e);
	} else {
		rc = remote_pull_run(x->r, x->st, value, x->e);
	}
	if (!rc)
		rc = ref_set(x->st, name, value, x->e);
	if (!rc)
		note(x, "ref", name, value, NULL);
	return rc;
}

int cmd_pull(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_help help = {
		"pull", "engrave pull [--remote NAME|URL] [-j N] [--json] RUN|REF...",
		"Fetch runs or refs (with everything they name) from a remote store.",
		"RUN is a full run id; REF a ref name (NAME is also tried as baseline/NAME). Every\n"
		"blob is verified against its digest before it is stored, and parents are stored\n"
		"after their children. A ref is set locally to the value the remote holds.\n"
		"Credentials: ENGRAVE_REMOTE_TOKEN, or ENGRAVE_REMOTE_USER and ENGRAVE_REMOTE_PASSWORD."
	};
	return xfer_cmd(argc, argv, ctx, &help, 1, pull_one, NULL, "pulled from");
}
