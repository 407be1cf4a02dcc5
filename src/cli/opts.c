/*
 * opts.c — one option table drives both the parser and the help text.
 *
 * Built on getopt_long: the table is translated into a `struct option`
 * array and a short-option string, so every command gets GNU-style parsing
 * (--name=value, --name value, -x value, bundled flags, options after
 * positionals) and a help page generated from the same entries.
 */
#include "cli.h"
#include "engrave/text.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTS 64

void cli_print_help(FILE *out, const struct cli_help *help, const struct cli_opt *opts)
{
	fprintf(out, "usage: %s\n\n%s\n", help->usage, help->summary);
	int have = opts && opts[0].type != OPT_END;
	fprintf(out, "\noptions:\n");
	for (const struct cli_opt *o = opts; have && o->type != OPT_END; o++) {
		char left[64];
		int n = 0;
		if (o->short_name)
			n = snprintf(left, sizeof(left), "-%c, ", o->short_name);
		else
			n = snprintf(left, sizeof(left), "    ");
		if (o->type == OPT_FLAG)
			snprintf(left + n, sizeof(left) - (size_t)n, "--%s", o->long_name);
		else
			snprintf(left + n, sizeof(left) - (size_t)n, "--%s %s", o->long_name,
				 o->argname ? o->argname : "VALUE");
		fprintf(out, "  %-28s %s\n", left, o->help);
	}
	fprintf(out, "  %-28s %s\n", "-h, --help", "show this help and exit");
	if (help->details)
		fprintf(out, "\n%s\n", help->details);
}

int cli_fail(const struct err *e)
{
	fflush(stdout);
	fprintf(stderr, "error: %s\n", e->msg[0] ? e->msg : err_class_name(e->cls));
	if (e->hint[0])
		fprintf(stderr, "hint: %s\n", e->hint);
	int code = err_exit_code(e->cls);
	return code ? code : 4;
}

int cli_usage_error(const struct cli_help *help, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	fprintf(stderr, "usage: %s\n(see 'engrave %s --help')\n", help->usage, help->name);
	return 2;
}

static int set_value(const struct cli_help *help, const struct cli_opt *o, const char *arg)
{
	char *end;
	switch (o->type) {
	case OPT_FLAG:
		(*(int *)o->dest)++;
		return 0;
	case OPT_STRING:
		*(const char **)o->dest = arg;
		return 0;
	case OPT_INT: {
		long v = strtol(arg, &end, 10);
		if (end == arg || *end)
			return cli_usage_error(help, "--%s expects an integer, got '%s'", o->long_name, arg);
		*(long *)o->dest = v;
		return 0;
	}
	case OPT_DOUBLE: {
		double v = strtod(arg, &end);
		if (end == arg || *end)
			return cli_usage_error(help, "--%s expects a number, got '%s'", o->long_name, arg);
		*(double *)o->dest = v;
		return 0;
	}
	case OPT_LIST: {
		struct cli_list *l = o->dest;
		if (l->n >= (int)(sizeof(l->items) / sizeof(l->items[0])))
			return cli_usage_error(help, "too many --%s options", o->long_name);
		l->items[l->n++] = arg;
		return 0;
	}
	case OPT_END:
		break;
	}
	return 0;
}

int cli_parse(int argc, char **argv, const struct cli_help *help, const struct cli_opt *opts,
	      int *first_pos, int *done)
{
	struct option lo[MAX_OPTS + 2];
	char so[MAX_OPTS * 2 + 4];
	int nl = 0, ns = 0;
	*done = 0;
	so[ns++] = ':'; /* report missing args as ':' */
	for (const struct cli_opt *o = opts; o && o->type != OPT_END; o++) {
		if (nl >= MAX_OPTS)
			BUG("too many options for %s", help->name);
		lo[nl].name = o->long_name;
		lo[nl].has_arg = o->type == OPT_FLAG ? no_argument : required_argument;
		lo[nl].flag = NULL;
		lo[nl].val = 256 + nl;
		nl++;
		if (o->short_name) {
			so[ns++] = o->short_name;
			if (o->type != OPT_FLAG)
				so[ns++] = ':';
		}
	}
	lo[nl++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[nl] = (struct option){ 0, 0, 0, 0 };
	so[ns++] = 'h';
	so[ns] = '\0';

	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		if (c == 'h') {
			cli_print_help(stdout, help, opts);
			*done = 1;
			return 0;
		}
		if (c == '?') {
			if (optopt)
				return cli_usage_error(help, "unknown option '-%c'", optopt);
			return cli_usage_error(help, "unknown option '%s'", argv[optind - 1]);
		}
		if (c == ':')
			return cli_usage_error(help, "option '%s' needs a value", argv[optind - 1]);
		const struct cli_opt *o = NULL;
		if (c >= 256)
			o = &opts[c - 256];
		else
			for (const struct cli_opt *p = opts; p && p->type != OPT_END; p++)
				if (p->short_name == c)
					o = p;
		if (!o)
			BUG("getopt returned unknown option %d", c);
		int rc = set_value(help, o, optarg);
		if (rc)
			return rc;
	}
	*first_pos = optind;
	return 0;
}

int cli_dispatch_sub(int argc, char **argv, struct cli_ctx *ctx, const char *parent,
		     const struct cli_sub *subs)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		FILE *out = argc < 2 ? stderr : stdout;
		fprintf(out, "usage: engrave %s <subcommand> [options]\n\nsubcommands:\n", parent);
		for (const struct cli_sub *s = subs; s->name; s++)
			fprintf(out, "  %-18s %s\n", s->name, s->summary);
		fprintf(out, "\nRun 'engrave %s <subcommand> --help' for details.\n", parent);
		return argc < 2 ? 2 : 0;
	}
	const char *names[64];
	int n = 0;
	for (const struct cli_sub *s = subs; s->name; s++) {
		if (!strcmp(s->name, argv[1])) {
			ctx->flags = s->flags;
			return s->fn(argc - 1, argv + 1, ctx);
		}
		if (n < 63)
			names[n++] = s->name;
	}
	names[n] = NULL;
	fprintf(stderr, "error: '%s' is not an 'engrave %s' subcommand\n", argv[1], parent);
	const char *sug = text_suggest(argv[1], names);
	if (sug)
		fprintf(stderr, "hint: did you mean 'engrave %s %s'?\n", parent, sug);
	return 2;
}

void cli_json_print(json_t *v)
{
	if (!v)
		return;
	char *s = json_dumps(v, JSON_INDENT(2));
	json_decref(v);
	if (s)
		puts(s);
	free(s);
}

int cli_valid_name(const char *n, size_t max)
{
	if (!*n || strlen(n) > max)
		return 0;
	for (const char *p = n; *p; p++)
		if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')))
			return 0;
	return 1;
}
