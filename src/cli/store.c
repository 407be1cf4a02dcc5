/*
 * store.c — `engrave store`: stats, verify, gc, cat, put, refs, runs.
 *
 * Plumbing and porcelain over include/engrave/store.h, with a sub-command
 * table like git's builtin/commit-graph.c. Every rule lives in src/store/;
 * this file parses options, prints reports on stdout (text, or JSON with
 * --json) and errors on stderr.
 *
 * Exit codes: 0 ok, 1 corruption found (verify) or corrupt data read (cat),
 * 2 usage, 3 missing (no store, no such digest/ref), 4 store failure.
 * Commands that only read open the store read-only, so inspecting a store
 * never creates one.
 */
#include "cli.h"
#include "engrave/hash.h"
#include "engrave/store.h"
#include "engrave/text.h"
#include "engrave/xalloc.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_json(json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
}

static json_t *hex_json(const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(d, hex);
	return json_string(hex);
}

/* ---- stats ---- */

static const struct cli_help stats_help = {
	"store stats", "engrave store stats [--json]",
	"count what the store holds and how much space it takes",
	"objects are chunked data (vectors, records), chunks the distinct blobs they\n"
	"are made of; the dedup ratio is logical bytes over stored chunk bytes. The\n"
	"map is LMDB's memory map: 'used' is the data file's high-water mark.",
};

static int store_stats_cmd(int argc, char **argv, struct cli_ctx *ctx)
{
	int json = 0;
	const struct cli_opt opts[] = {
		{ "json", 0, OPT_FLAG, &json, NULL, "print the counts as JSON" },
		{ 0 },
	};
	int first, done, rc = cli_parse(argc, argv, &stats_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first < argc)
		return cli_usage_error(&stats_help, "unexpected argument '%s'", argv[first]);
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct store *s = ctx->store;
	struct err e = ERR_INIT;
	struct store_stats st;
	if (store_stats(s, &st, &e))
		return cli_fail(&e);
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "store", json_string(store_path(s)));
		json_object_set_new(o, "objects", json_integer((json_int_t)st.objects));
		json_object_set_new(o, "chunks", json_integer((json_int_t)st.chunks));
		json_object_set_new(o, "chunk_bytes", json_integer((json_int_t)st.chunk_bytes));
		json_object_set_new(o, "logical_bytes", json_integer((json_int_t)st.logical_bytes));
		json_object_set_new(o, "dedup_ratio", json_real(st.dedup_ratio));
		json_object_set_new(o, "blobs", json_integer((json_int_t)st.blobs));
		json_object_set_new(o, "bytes", json_integer((json_int_t)st.blob_bytes));
		json_object_set_new(o, "artifacts", json_integer((json_int_t)st.artifacts));
		json_object_set_new(o, "runs", json_integer((json_int_t)st.runs));
		json_object_set_new(o, "refs", json_integer((json_int_t)st.refs));
		json_object_set_new(o, "actions", json_integer((json_int_t)st.actions));
		json_object_set_new(o, "journal_entries", json_integer((json_int_t)st.journal_entries));
		json_object_set_new(o, "map_size", json_integer((json_int_t)st.map_size));
		json_object_set_new(o, "map_used", json_integer((json_int_t)st.map_used));
		print_json(o);
	} else {
		char a[32], b[32];
		printf("store:        %s\n", store_path(s));
		text_format_bytes(st.logical_bytes, a, sizeof(a));
		printf("objects:      %llu (%s logical)\n", (unsigned long long)st.objects, a);
		text_format_bytes(st.chunk_bytes, a, sizeof(a));
		printf("chunks:       %llu (%s)\n", (unsigned long long)st.chunks, a);
		printf("dedup ratio:  %.2f\n", st.dedup_ratio);
		text_format_bytes(st.blob_bytes, a, sizeof(a));
		printf("blobs:        %llu (%s)\n", (unsigned long long)st.blobs, a);
		printf("artifacts:    %llu\n", (unsigned long long)st.artifacts);
		printf("runs:         %llu\n", (unsigned long long)st.runs);
		printf("refs:         %llu\n", (unsigned long long)st.refs);
		printf("actions:      %llu\n", (unsigned long long)st.actions);
		printf("journal:      %llu entries\n", (unsigned long long)st.journal_entries);
		text_format_bytes(st.map_used, a, sizeof(a));
		text_format_bytes(st.map_size, b, sizeof(b));
		printf("map:          %s used of %s\n", a, b);
	}
	return 0;
}

/* ---- verify ---- */

static const struct cli_help verify_help = {
	"store verify", "engrave store verify [--repair] [--json]",
	"re-hash every blob and check that everything named exists (like git fsck)",
	"Walks LMDB's B-trees in a child process (a damaged page is reported, not a\n"
	"crash), checks every CAS blob against its digest, decodes manifests,\n"
	"artifacts, run records and action-cache values, checks the checksums of run\n"
	"records and journal entries, and checks that the chunks, parts and outputs\n"
	"they name are present. Keeps going past problems and lists each one with its\n"
	"sub-database and key. Exit 1 if anything is wrong.\n\n"
	"--repair then drops what cannot be trusted so that re-running the specs\n"
	"rebuilds it: blobs that do not hash to their key, and the action-cache entries\n"
	"and refs that lead to them or to missing data. Run records and journals are\n"
	"kept; the runs that name dropped data are listed (re-run their spec). Refused\n"
	"while a run is in progress.",
};

struct verify_out {
	int json;
	json_t *arr;
	json_t *fixes;
};

static int on_fix(const struct store_repair_item *it, void *ctx)
{
	struct verify_out *o = ctx;
	if (o->json) {
		json_t *j = json_object();
		json_object_set_new(j, "action", json_string(it->dropped ? "dropped" : "kept"));
		json_object_set_new(j, "db", json_string(it->db));
		json_object_set_new(j, "key", json_string(it->key));
		json_object_set_new(j, "detail", json_string(it->detail));
		json_array_append_new(o->fixes, j);
	} else {
		printf("%s %s %s: %s\n", it->dropped ? "dropped" : "damaged-run", it->db, it->key, it->detail);
	}
	return 0;
}

static int on_problem(const struct store_problem *p, void *ctx)
{
	struct verify_out *o = ctx;
	if (o->json) {
		json_t *j = json_object();
		json_object_set_new(j, "kind", json_string(store_problem_name(p->kind)));
		json_object_set_new(j, "db", json_string(p->db));
		json_object_set_new(j, "key", json_string(p->key));
		json_object_set_new(j, "detail", json_string(p->detail));
		json_array_append_new(o->arr, j);
	} else {
		printf("%s %s %s: %s\n", store_problem_name(p->kind), p->db, p->key, p->detail);
	}
	return 0;
}

static int store_verify_cmd(int argc, char **argv, struct cli_ctx *ctx)
{
	int json = 0, repair = 0;
	const struct cli_opt opts[] = {
		{ "repair", 0, OPT_FLAG, &repair, NULL, "drop damaged blobs and the cache entries and refs that lead to them" },
		{ "json", 0, OPT_FLAG, &json, NULL, "print the result as JSON" },
		{ 0 },
	};
	int first, done, rc = cli_parse(argc, argv, &verify_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first < argc)
		return cli_usage_error(&verify_help, "unexpected argument '%s'", argv[first]);
	if (repair && ctx->store_dir && access(ctx->store_dir, F_OK) == 0)
		ctx->flags &= ~(unsigned)CMD_STORE_READONLY; /* repair writes (a missing store stays exit 3) */
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct store *s = ctx->store;
	struct err e = ERR_INIT;
	struct store_verify_result r;
	struct store_repair_result rr;
	memset(&rr, 0, sizeof(rr));
	struct verify_out o = { json, json ? json_array() : NULL, json ? json_array() : NULL };
	if (repair ? store_verify_repair(s, on_problem, on_fix, &o, &r, &rr, &e) : store_verify(s, on_problem, &o, &r, &e)) {
		json_decref(o.arr);
		json_decref(o.fixes);
		return cli_fail(&e);
	}
	char bytes[32];
	text_format_bytes(r.bytes, bytes, sizeof(bytes));
	if (json) {
		json_t *j = json_object();
		json_object_set_new(j, "ok", json_boolean(r.problems == 0));
		json_object_set_new(j, "blobs", json_integer((json_int_t)r.blobs));
		json_object_set_new(j, "bytes", json_integer((json_int_t)r.bytes));
		json_object_set_new(j, "objects", json_integer((json_int_t)r.objects));
		json_object_set_new(j, "artifacts", json_integer((json_int_t)r.artifacts));
		json_object_set_new(j, "runs", json_integer((json_int_t)r.runs));
		json_object_set_new(j, "actions", json_integer((json_int_t)r.actions));
		json_object_set_new(j, "refs", json_integer((json_int_t)r.refs));
		json_object_set_new(j, "journal_entries", json_integer((json_int_t)r.journal_entries));
		json_object_set_new(j, "problems", o.arr);
		if (repair)
			json_object_set_new(j, "repair", o.fixes);
		else
			json_decref(o.fixes);
		print_json(j);
	} else {
		printf("checked %llu blobs (%s), %llu objects, %llu artifacts, %llu runs, %llu actions, %llu refs, "
		       "%llu journal entries: ",
		       (unsigned long long)r.blobs, bytes, (unsigned long long)r.objects,
		       (unsigned long long)r.artifacts, (unsigned long long)r.runs, (unsigned long long)r.actions,
		       (unsigned long long)r.refs, (unsigned long long)r.journal_entries);
		if (!r.problems) {
			printf("ok\n");
		} else {
			printf("%llu problem%s (", (unsigned long long)r.problems, r.problems == 1 ? "" : "s");
			const char *sep = "";
			for (unsigned k = 1; k <= STORE_PROB_CHECKSUM; k <<= 1)
				if (r.mask & k) {
					printf("%s%s", sep, store_problem_name(k));
					sep = ", ";
				}
			printf(")\n");
		}
	}
	if (repair && !json)
		printf("repair: dropped %llu blob%s, %llu action-cache entr%s, %llu ref%s; %llu run%s name dropped or "
		       "missing data\n",
		       (unsigned long long)rr.blobs, rr.blobs == 1 ? "" : "s", (unsigned long long)rr.actions,
		       rr.actions == 1 ? "y" : "ies", (unsigned long long)rr.refs, rr.refs == 1 ? "" : "s",
		       (unsigned long long)rr.runs, rr.runs == 1 ? "" : "s");
	if (r.problems) {
		fflush(stdout);
		if (repair) {
			fprintf(stderr, "error: store '%s' was corrupt; what could not be trusted was dropped\n",
				ctx->store_dir);
			fprintf(stderr, "hint: re-run the specs of the runs listed to rebuild what they name, re-import "
					"dropped imported data, then 'engrave store verify' again\n");
		} else {
			fprintf(stderr, "error: store '%s' is corrupt\n", ctx->store_dir);
			fprintf(stderr, "hint: 'engrave store verify --repair' drops damaged blobs and the cache entries "
					"that lead to them, so re-running their specs rebuilds them; restore imported "
					"data from its source\n");
		}
		return 1;
	}
	return 0;
}

/* ---- gc ---- */

static const struct cli_help gc_help = {
	"store gc", "engrave store gc [--dry-run] [--grace DURATION] [--json]",
	"drop blobs that no run, ref or cached action reaches",
	"Roots: run records (spec and step outputs), refs holding a digest, and the\n"
	"outputs of cached actions; from them gc follows artifacts to their objects\n"
	"and manifests to their chunks. Blobs stored less than --grace ago (default\n"
	"1h) are kept, and so is everything stored since the oldest run in progress\n"
	"began (runs hold a lease while they run), whatever the grace. Writers wait\n"
	"while gc runs.",
};

struct dropped {
	struct digest *d;
	uint64_t *size;
	size_t n, cap;
};

static int on_drop(const struct digest *d, uint64_t size, void *ctx)
{
	struct dropped *x = ctx;
	if (x->n == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 256;
		struct digest *nd = xalloc_try_resize(x->d, nc, sizeof(*nd), "the list of dropped blobs", NULL);
		uint64_t *ns = nd ? xalloc_try_resize(x->size, nc, sizeof(*ns), "the list of dropped blobs", NULL) : NULL;
		if (nd)
			x->d = nd;
		if (!nd || !ns)
			return 0; /* listing is best effort; the counts stay right */
		x->size = ns;
		x->cap = nc;
	}
	x->d[x->n] = *d;
	x->size[x->n++] = size;
	return 0;
}

static int store_gc_cmd(int argc, char **argv, struct cli_ctx *ctx)
{
	int json = 0, dry = 0;
	const char *grace = "1h";
	const struct cli_opt opts[] = {
		{ "dry-run", 'n', OPT_FLAG, &dry, NULL, "list what would be dropped, drop nothing" },
		{ "grace", 0, OPT_STRING, &grace, "DURATION", "keep unreachable blobs younger than this (default 1h; 0 = none)" },
		{ "json", 0, OPT_FLAG, &json, NULL, "print the result as JSON" },
		{ 0 },
	};
	int first, done, rc = cli_parse(argc, argv, &gc_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first < argc)
		return cli_usage_error(&gc_help, "unexpected argument '%s'", argv[first]);
	unsigned long long grace_ns;
	if (text_parse_duration_ns(grace, &grace_ns))
		return cli_usage_error(&gc_help, "--grace expects a duration like 30s, 10m or 1h, got '%s'", grace);
	if (dry)
		ctx->flags |= CMD_STORE_READONLY; /* a dry run only reads */
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct store *s = ctx->store;
	struct err e = ERR_INIT;
	struct store_gc_result r;
	struct dropped x = { 0 };
	if (store_gc(s, dry, grace_ns, on_drop, &x, &r, &e)) {
		free(x.d);
		free(x.size);
		return cli_fail(&e);
	}
	char bytes[32];
	text_format_bytes(r.dropped_bytes, bytes, sizeof(bytes));
	if (json) {
		json_t *j = json_object(), *arr = json_array();
		json_object_set_new(j, "dry_run", json_boolean(dry));
		json_object_set_new(j, "dropped", json_integer((json_int_t)r.dropped));
		json_object_set_new(j, "dropped_bytes", json_integer((json_int_t)r.dropped_bytes));
		json_object_set_new(j, "reachable", json_integer((json_int_t)r.reachable));
		json_object_set_new(j, "young", json_integer((json_int_t)r.young));
		json_object_set_new(j, "live", json_integer((json_int_t)r.live));
		json_object_set_new(j, "live_runs", json_integer(r.live_runs));
		for (size_t i = 0; i < x.n; i++) {
			json_t *b = json_object();
			json_object_set_new(b, "digest", hex_json(&x.d[i]));
			json_object_set_new(b, "size", json_integer((json_int_t)x.size[i]));
			json_array_append_new(arr, b);
		}
		json_object_set_new(j, "blobs", arr);
		print_json(j);
	} else {
		if (dry || ctx->verbose)
			for (size_t i = 0; i < x.n; i++) {
				char hex[DIGEST_HEX_LEN + 1];
				digest_to_hex(&x.d[i], hex);
				printf("%s %s %llu\n", dry ? "would drop" : "dropped", hex, (unsigned long long)x.size[i]);
			}
		printf("%s %llu blob%s (%s); kept %llu reachable, %llu younger than %s",
		       dry ? "would drop" : "dropped", (unsigned long long)r.dropped, r.dropped == 1 ? "" : "s", bytes,
		       (unsigned long long)r.reachable, (unsigned long long)r.young, grace);
		if (r.live_runs)
			printf(", %llu stored since live run %s began (%d run%s in progress)", (unsigned long long)r.live,
			       r.oldest_live, r.live_runs, r.live_runs == 1 ? "" : "s");
		printf("\n");
	}
	free(x.d);
	free(x.size);
	return 0;
}

/* ---- cat ---- */

static const struct cli_help cat_help = {
	"store cat", "engrave store cat [--raw] DIGEST|REF",
	"write an object's (or blob's) bytes to stdout",
	"An object is reassembled from its chunks, each re-hashed on the way; --raw\n"
	"prints the stored blob itself (for an object: its msgpack manifest).",
};

static int store_cat_cmd(int argc, char **argv, struct cli_ctx *ctx)
{
	int raw = 0;
	const struct cli_opt opts[] = {
		{ "raw", 0, OPT_FLAG, &raw, NULL, "print the blob as stored, not the object it describes" },
		{ 0 },
	};
	int first, done, rc = cli_parse(argc, argv, &cat_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first != argc - 1)
		return cli_usage_error(&cat_help, "expected exactly one DIGEST or REF");
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct store *s = ctx->store;
	struct err e = ERR_INIT;
	struct digest d;
	if (store_resolve_digest(s, argv[first], &d, &e))
		goto fail;
	if (raw) {
		struct buf b;
		buf_init(&b, 0);
		if (cas_get(s, &d, &b, 1, &e)) {
			buf_release(&b);
			goto fail;
		}
		fwrite(b.data, 1, b.len, stdout);
		buf_release(&b);
	} else {
		struct obj_reader *r;
		if (obj_reader_open(s, &d, &r, &e))
			goto fail;
		char *tmp = xmalloc(1 << 20);
		size_t got;
		int ok = 1;
		while (ok && !(rc = obj_read(r, tmp, 1 << 20, &got, &e)) && got)
			if (fwrite(tmp, 1, got, stdout) != got)
				ok = 0;
		free(tmp);
		obj_reader_close(r);
		if (rc)
			goto fail;
	}
	return 0;
fail:
	return cli_fail(&e);
}

/* ---- put ---- */

static const struct cli_help put_help = {
	"store put", "engrave store put [--ref NAME] FILE|-",
	"store a file (or stdin) as an object and print its digest",
	"The file is streamed in 4 MiB chunks; the digest printed is the object's\n"
	"(its manifest's), which depends only on the content. --ref NAME also points\n"
	"a ref at it, which keeps it from 'engrave store gc'.",
};

static int store_put_cmd(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *ref = NULL;
	const struct cli_opt opts[] = {
		{ "ref", 0, OPT_STRING, &ref, "NAME", "also set ref NAME to the digest" },
		{ 0 },
	};
	int first, done, rc = cli_parse(argc, argv, &put_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first != argc - 1)
		return cli_usage_error(&put_help, "expected exactly one FILE (or - for stdin)");
	const char *path = argv[first];
	struct err e = ERR_INIT;
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		err_set_errno(&e, errno == ENOENT ? ERR_MISSING : ERR_IO, errno, "cannot open '%s'", path);
		return cli_fail(&e);
	}
	if ((rc = cli_setup(ctx, 0, NULL))) {
		if (f != stdin)
			fclose(f);
		return rc;
	}
	struct store *s = ctx->store;
	struct obj_writer *w = NULL;
	char *tmp = xmalloc(1 << 20);
	struct digest d;
	if (obj_writer_open(s, &w, &e))
		goto fail;
	size_t n;
	while ((n = fread(tmp, 1, 1 << 20, f)) > 0)
		if (obj_write(w, tmp, n, &e))
			goto fail;
	if (ferror(f)) {
		err_set_errno(&e, ERR_IO, errno, "cannot read '%s'", path);
		goto fail;
	}
	rc = obj_writer_finish(w, &d, &e);
	w = NULL;
	if (rc)
		goto fail;
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(&d, hex);
	if (ref && ref_set(s, ref, hex, &e))
		goto fail;
	printf("%s\n", hex);
	free(tmp);
	if (f != stdin)
		fclose(f);
	return 0;
fail:
	obj_writer_abort(w);
	free(tmp);
	if (f != stdin)
		fclose(f);
	return cli_fail(&e);
}

/* ---- refs, runs ---- */

static const struct cli_help refs_help = {
	"store refs", "engrave store refs [PREFIX] [--json]",
	"list refs (names pointing at runs or digests), optionally under PREFIX",
	NULL,
};

static int print_ref(const char *name, const char *value, void *ctx)
{
	json_t *arr = ctx;
	if (arr) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(name));
		json_object_set_new(o, "value", json_string(value));
		json_array_append_new(arr, o);
	} else {
		printf("%s %s\n", name, value);
	}
	return 0;
}

static int store_refs_cmd(int argc, char **argv, struct cli_ctx *ctx)
{
	int json = 0;
	const struct cli_opt opts[] = {
		{ "json", 0, OPT_FLAG, &json, NULL, "print the refs as JSON" },
		{ 0 },
	};
	int first, done, rc = cli_parse(argc, argv, &refs_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first < argc - 1)
		return cli_usage_error(&refs_help, "at most one PREFIX");
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct store *s = ctx->store;
	struct err e = ERR_INIT;
	json_t *arr = json ? json_array() : NULL;
	rc = ref_list(s, first < argc ? argv[first] : NULL, print_ref, arr, &e);
	if (rc) {
		json_decref(arr);
		return cli_fail(&e);
	}
	if (arr)
		print_json(arr);
	return 0;
}

static const struct cli_help runs_help = {
	"store runs", "engrave store runs [--json]",
	"list run records, oldest first: id, status, spec name, start time",
	NULL,
};

static int print_run(const struct run_record *r, void *ctx)
{
	json_t *arr = ctx;
	char when[32];
	clock_format_iso8601(r->created, when, sizeof(when));
	if (arr) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(r->id));
		json_object_set_new(o, "status", json_string(r->status));
		json_object_set_new(o, "spec", json_string(r->spec_name));
		json_object_set_new(o, "spec_digest", hex_json(&r->spec_digest));
		json_object_set_new(o, "created", json_string(when));
		json_array_append_new(arr, o);
	} else {
		printf("%s  %-11s %-24s %s\n", r->id, r->status, r->spec_name, when);
	}
	return 0;
}

static int store_runs_cmd(int argc, char **argv, struct cli_ctx *ctx)
{
	int json = 0;
	const struct cli_opt opts[] = {
		{ "json", 0, OPT_FLAG, &json, NULL, "print the runs as JSON" },
		{ 0 },
	};
	int first, done, rc = cli_parse(argc, argv, &runs_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first < argc)
		return cli_usage_error(&runs_help, "unexpected argument '%s'", argv[first]);
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct store *s = ctx->store;
	struct err e = ERR_INIT;
	json_t *arr = json ? json_array() : NULL;
	rc = run_list(s, print_run, arr, &e);
	if (rc) {
		json_decref(arr);
		return cli_fail(&e);
	}
	if (arr)
		print_json(arr);
	return 0;
}

static const struct cli_sub store_subs[] = {
	{ "cat", store_cat_cmd, "write an object or blob to stdout", CMD_READS_STORE },
	{ "gc", store_gc_cmd, "drop blobs that no run, ref or cached action reaches", CMD_NEEDS_STORE },
	{ "put", store_put_cmd, "store a file as an object and print its digest", CMD_NEEDS_STORE },
	{ "refs", store_refs_cmd, "list refs", CMD_READS_STORE },
	{ "runs", store_runs_cmd, "list run records", CMD_READS_STORE },
	{ "stats", store_stats_cmd, "count objects, chunks, bytes, runs, refs, actions", CMD_READS_STORE },
	{ "verify", store_verify_cmd, "re-hash every blob and check references (exit 1 on corruption)",
	  CMD_READS_STORE },
	{ NULL, NULL, NULL, 0 },
};

int cmd_store(int argc, char **argv, struct cli_ctx *ctx)
{
	return cli_dispatch_sub(argc, argv, ctx, "store", store_subs);
}
