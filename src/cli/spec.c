/*
 * spec.c — `engrave spec`: check, show, import-scenario, keys.
 *
 * A thin shell over include/engrave/spec.h: every rule lives in src/spec/,
 * this file only parses options, prints results on stdout and errors on
 * stderr. `check` goes on through every file so one run reports each bad
 * spec, then exits with the first failure's code (2 for an invalid spec,
 * 3 for a missing file). `keys` prints the reference generated from the
 * validator's own key table (docs/spec.md is `spec keys --markdown`).
 */
#include "cli.h"
#include "engrave/buf.h"
#include "engrave/hash.h"
#include "engrave/spec.h"
#include "engrave/target.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_help check_help = {
	"spec check", "engrave spec check [--set KEY=VALUE]... FILE...",
	"validate experiment specs and print each one's digest",
	"Prints \"FILE: ok (digest HEX)\" for each valid spec (and how many times its\n"
	"load test repeats, when steps.loadtest.repeat > 1). Errors name\n"
	"file:line:col, the key path and the reason. Exit 2 if any spec is invalid,\n"
	"3 if a file is missing.\n\n" CLI_SET_DETAILS "\n\n"
	"Each FILE gets the same overrides; an error a --set causes names the FILE too.",
};

static int spec_check(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	struct cli_list sets = { .n = 0 };
	const struct cli_opt opts[] = { CLI_SET_OPT(&sets), { 0 } };
	int first, done;
	int rc = cli_parse(argc, argv, &check_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first >= argc)
		return cli_usage_error(&check_help, "no spec file given");
	int code = 0;
	for (int i = first; i < argc; i++) {
		struct err e = ERR_INIT;
		struct spec *s;
		if (target_spec_load_file_sets(argv[i], sets.items, (size_t)sets.n, &s, &e)) {
			if (!strncmp(e.msg, "--set ", 6)) /* which FILE it was said of */
				err_prefix(&e, "%s", argv[i]);
			int c = cli_fail(&e);
			if (!code)
				code = c;
			continue;
		}
		struct digest d;
		char hex[DIGEST_HEX_LEN + 1];
		spec_digest(s, &d);
		digest_to_hex(&d, hex);
		if (s->loadtest.present && s->loadtest.repeat > 1)
			printf("%s: ok (digest %s), loadtest repeated %llu times\n", argv[i], hex,
			       (unsigned long long)s->loadtest.repeat);
		else
			printf("%s: ok (digest %s)\n", argv[i], hex);
		spec_free(s);
	}
	return code;
}

static const struct cli_help show_help = {
	"spec show", "engrave spec show FILE [--set KEY=VALUE]... [--canonical | --digest | --json]",
	"print a spec as engrave reads it: every default filled in",
	"Without options: readable YAML (keys sorted, defaults filled, keys that do not\n"
	"apply left out), headed by its digest. --canonical prints the exact bytes the\n"
	"digest is computed over (compact JSON); --digest prints only the digest;\n"
	"--json prints {\"file\", \"digest\", \"spec\"}.\n\n" CLI_SET_DETAILS,
};

static int spec_show(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	int canonical = 0, digest_only = 0, json = 0;
	struct cli_list sets = { .n = 0 };
	const struct cli_opt opts[] = {
		CLI_SET_OPT(&sets),
		{ "canonical", 0, OPT_FLAG, &canonical, NULL, "print the canonical form (what the digest hashes)" },
		{ "digest", 0, OPT_FLAG, &digest_only, NULL, "print only the digest" },
		{ "json", 0, OPT_FLAG, &json, NULL, "print a JSON object with file, digest and spec" },
		{ 0 },
	};
	int first, done;
	int rc = cli_parse(argc, argv, &show_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first != argc - 1)
		return cli_usage_error(&show_help, "give exactly one spec file");
	if (canonical + digest_only + json > 1)
		return cli_usage_error(&show_help, "--canonical, --digest and --json exclude each other");
	struct err e = ERR_INIT;
	struct spec *s;
	if (target_spec_load_file_sets(argv[first], sets.items, (size_t)sets.n, &s, &e))
		return cli_fail(&e);
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1];
	spec_digest(s, &d);
	digest_to_hex(&d, hex);
	struct buf b;
	buf_init(&b, 0);
	if (digest_only) {
		printf("%s\n", hex);
	} else if (canonical) {
		rc = spec_canonical(s, &b, &e);
		fwrite(b.data, 1, b.len, stdout);
	} else if (json) {
		rc = spec_canonical(s, &b, &e);
		/* the canonical form is JSON already; the file name is escaped
		 * the simple way (paths with quotes are rare) */
		printf("{\"file\":\"");
		for (const char *p = argv[first]; *p; p++)
			if (*p == '"' || *p == '\\')
				printf("\\%c", *p);
			else if ((unsigned char)*p < 0x20)
				printf("\\u%04x", (unsigned char)*p);
			else
				putchar(*p);
		printf("\",\"digest\":\"%s\",\"spec\":", hex);
		if (b.len && b.data[b.len - 1] == '\n')
			b.len--;
		fwrite(b.data, 1, b.len, stdout);
		printf("}\n");
	} else {
		rc = spec_canonical_yaml(s, &b, &e);
		printf("# %s, defaults filled in\n", argv[first]);
		for (int i = 0; i < sets.n; i++)
			printf("#   --set %s\n", sets.items[i]);
		printf("# digest: %s\n", hex);
		fwrite(b.data, 1, b.len, stdout);
	}
	buf_release(&b);
	spec_free(s);
	return rc ? cli_fail(&e) : 0;
}

static const struct cli_help import_help = {
	"spec import-scenario", "engrave spec import-scenario FILE.toml [-o OUT.yaml] [--seed N]",
	"convert an Engram loadtest scenario (TOML) into an engrave spec",
	"Every scenario key is mapped or named on stderr (\"warning: chaos.enabled: not\n"
	"supported, dropped\"). num_nodes becomes a synthetic set that is ingested\n"
	"before the load test (Engram's loadtest never loaded it); a clustered\n"
	"embedding_distribution becomes random centroids and their std_dev. The\n"
	"output passes 'engrave spec check' unless the driver refuses a value (a\n"
	"warning says which).",
};

static int spec_import(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	const char *out_path = NULL, *seed_s = NULL;
	const struct cli_opt opts[] = {
		{ "output", 'o', OPT_STRING, &out_path, "OUT", "write the YAML here instead of stdout" },
		{ "seed", 0, OPT_STRING, &seed_s, "N", "seed of the spec (decimal or 0x hex; default: the TOML's or 42)" },
		{ 0 },
	};
	int first, done;
	int rc = cli_parse(argc, argv, &import_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first != argc - 1)
		return cli_usage_error(&import_help, "give exactly one scenario file");
	unsigned long long seed = 0;
	if (seed_s) {
		char *end;
		errno = 0;
		seed = strtoull(seed_s, &end, 0);
		if (end == seed_s || *end || errno || seed_s[0] == '-')
			return cli_usage_error(&import_help, "--seed expects a non-negative integer, got '%s'", seed_s);
	}
	const char *path = argv[first];
	struct err e = ERR_INIT;
	FILE *f = fopen(path, "rb");
	if (!f) {
		err_set_errno(&e, errno == ENOENT ? ERR_MISSING : ERR_IO, errno, "cannot open scenario '%s'", path);
		return cli_fail(&e);
	}
	struct buf in, yaml, warn;
	buf_init(&in, 4u << 20);
	buf_init(&yaml, 0);
	buf_init(&warn, 0);
	char chunk[65536];
	size_t n;
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&in, chunk, n, &e))
			rc = err_prefix(&e, "%s", path);
	fclose(f);
	if (!rc)
		rc = spec_import_scenario(in.data, in.len, path, seed_s != NULL, seed, &yaml, &warn, &e);
	int code = 0;
	if (rc) {
		code = cli_fail(&e);
		goto out;
	}
	for (char *line = warn.data, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line) - 1;
		fprintf(stderr, "warning: %.*s\n", (int)(nl - line), line);
	}
	/* the spec layer proved it a spec; the driver's rules may still refuse
	 * it (e.g. an embedding_dim Engram does not take) */
	struct spec *chk;
	struct err ce = ERR_INIT;
	if (target_spec_load_string(yaml.data, yaml.len, "<imported spec>", &chk, &ce))
		fprintf(stderr, "warning: the spec will not pass 'engrave spec check': %s%s%s\n", ce.msg,
			ce.hint[0] ? "; " : "", ce.hint);
	else
		spec_free(chk);
	if (out_path) {
		FILE *o = fopen(out_path, "wb");
		if (!o || fwrite(yaml.data, 1, yaml.len, o) != yaml.len || fclose(o)) {
			err_set_errno(&e, ERR_IO, errno, "cannot write '%s'", out_path);
			code = cli_fail(&e);
			goto out;
		}
		fprintf(stderr, "wrote %s\n", out_path);
	} else {
		fwrite(yaml.data, 1, yaml.len, stdout);
	}
out:
	buf_release(&in);
	buf_release(&yaml);
	buf_release(&warn);
	return code;
}

static const struct cli_help keys_help = {
	"spec keys", "engrave spec keys [--markdown]",
	"print every spec key with its type, default and meaning",
	"Generated from the table the validator uses; docs/spec.md is the --markdown output.",
};

static int spec_keys(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	int markdown = 0;
	const struct cli_opt opts[] = {
		{ "markdown", 0, OPT_FLAG, &markdown, NULL, "Markdown tables (docs/spec.md)" },
		{ 0 },
	};
	int first, done;
	int rc = cli_parse(argc, argv, &keys_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first != argc)
		return cli_usage_error(&keys_help, "unexpected argument '%s'", argv[first]);
	struct buf b;
	buf_init(&b, 0);
	struct err e = ERR_INIT;
	if (target_spec_keys_doc(&b, markdown, &e)) {
		buf_release(&b);
		return cli_fail(&e);
	}
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
	return 0;
}

static const struct cli_sub spec_subs[] = {
	{ "check", spec_check, "validate specs and print their digests", 0 },
	{ "import-scenario", spec_import, "convert an Engram loadtest scenario (TOML) to a spec", 0 },
	{ "keys", spec_keys, "print the reference of every spec key", 0 },
	{ "show", spec_show, "print a spec with defaults filled in (or its canonical form, digest)", 0 },
	{ NULL, NULL, NULL, 0 },
};

int cmd_spec(int argc, char **argv, struct cli_ctx *ctx)
{
	return cli_dispatch_sub(argc, argv, ctx, "spec", spec_subs);
}
