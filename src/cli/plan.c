/*
 * plan.c — `engrave plan SPEC`: which steps would run, which are cached.
 *
 * A dry run of the DAG runner: the action key of each step is computed from
 * the spec and its cached inputs and looked up in the action cache; nothing
 * is built. Steps downstream of one that must run are "blocked" (their key
 * is not known until their inputs exist).
 */
#include "cli.h"
#include "engrave/spec.h"
#include "engrave/steps.h"
#include "engrave/store.h"

#include <jansson.h>
#include <string.h>

int cmd_plan(int argc, char **argv, struct cli_ctx *ctx)
{
	int json = 0;
	struct cli_list sets = { .n = 0 };
	static const struct cli_help help = {
		"plan", "engrave plan SPEC [--set KEY=VALUE]... [--json]",
		"Show which steps of a spec would run and which would be reused from the cache.",
		"states: cached (reused as is), will-run, blocked (waits for an upstream step),\n"
		"missing (its input file is absent).\n\n" CLI_SET_DETAILS
		"\n\nThe plan (and its --json) lists the overrides.",
	};
	const struct cli_opt opts[] = {
		CLI_SET_OPT(&sets),
		{ "json", 0, OPT_FLAG, &json, NULL, "print the plan as JSON" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc - pos != 1)
		return cli_usage_error(&help, "expected one SPEC file");
	struct err e = ERR_INIT;
	ctx->spec_path = argv[pos];
	ctx->spec_sets = &sets;
	if ((rc = cli_setup(ctx, 0, NULL))) /* no store yet: everything will run */
		return rc;
	const struct spec *sp = ctx->spec;
	struct plan_row rows[SPEC_NSTEPS];
	int n = 0;
	if (steps_plan(ctx->store, sp, rows, &n, &e))
		return cli_fail(&e);
	struct digest sd;
	spec_digest(sp, &sd);
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(&sd, hex);
	if (json) {
		json_t *o = json_object(), *arr = json_array();
		json_object_set_new(o, "spec", json_string(sp->name));
		json_object_set_new(o, "spec_digest", json_string(hex));
		if (sets.n) {
			json_t *ov = json_array();
			for (int i = 0; i < sets.n; i++)
				json_array_append_new(ov, json_string(sets.items[i]));
			json_object_set_new(o, "overrides", ov);
		}
		for (int i = 0; i < n; i++) {
			json_t *r = json_object();
			json_object_set_new(r, "step", json_string(spec_step_names[rows[i].step]));
			json_object_set_new(r, "state", json_string(steps_state_name(rows[i].state)));
			if (rows[i].note[0])
				json_object_set_new(r, "note", json_string(rows[i].note));
			if (rows[i].step == STEP_LOADTEST && sp->loadtest.repeat > 1)
				json_object_set_new(r, "repeat", json_integer((json_int_t)sp->loadtest.repeat));
			if (rows[i].has_action) {
				digest_to_hex(&rows[i].action, hex);
				json_object_set_new(r, "action", json_string(hex));
			}
			json_array_append_new(arr, r);
		}
		json_object_set_new(o, "steps", arr);
		char *s = json_dumps(o, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(o);
	} else {
		printf("spec %s (%.12s)\n", sp->name, hex);
		for (int i = 0; i < sets.n; i++)
			printf("  --set %s\n", sets.items[i]);
		printf("\n  %-12s %-10s %s\n", "step", "state", "action");
		for (int i = 0; i < n; i++) {
			char ah[DIGEST_HEX_LEN + 1] = "-";
			if (rows[i].has_action)
				digest_to_hex(&rows[i].action, ah);
			ah[12] = '\0';
			const struct step_def *d = steps_def(rows[i].step);
			if (rows[i].state == STEP_MISSING_INPUT)
				printf("  %-12s %-10s %s  %s\n", d->name, "missing", ah, rows[i].note);
			else if (rows[i].step == STEP_LOADTEST && sp->loadtest.repeat > 1)
				printf("  %-12s %-10s %s  repeated %llu times (steps.loadtest.repeat)\n", d->name,
				       steps_state_name(rows[i].state), ah, (unsigned long long)sp->loadtest.repeat);
			else
				printf("  %-12s %-10s %s\n", d->name, steps_state_name(rows[i].state), ah);
		}
	}
	return 0;
}
