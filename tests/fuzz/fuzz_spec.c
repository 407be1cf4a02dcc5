/*
 * fuzz_spec.c — libFuzzer harness: spec parse + validate + canonical form.
 *
 * The input is a YAML spec as `engrave spec check` reads it, resolved
 * against the driver table (target_spec_load_string, as every command loads
 * one). An input whose first line is "#set KEY=VALUE" is loaded with that
 * line as a --set override (spec_load_string_sets, then
 * target_spec_resolve), so the override path (set.c) is fuzzed with the
 * same documents. A spec that loads is rendered every way the program
 * renders one: canonical JSON, canonical YAML, digest and each step's
 * params (what action keys hash).
 */
#include "fuzzlib.h"

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/spec.h"
#include "engrave/target.h"

#include <stdlib.h>
#include <string.h>

static void render(struct spec *sp)
{
	struct buf b;
	struct err e = ERR_INIT;
	struct digest d;
	buf_init(&b, 0);
	spec_canonical(sp, &b, &e);
	buf_reset(&b);
	spec_canonical_yaml(sp, &b, &e);
	spec_digest(sp, &d);
	for (int i = 0; spec_step_names[i]; i++) {
		buf_reset(&b);
		spec_step_params(sp, spec_step_names[i], &b, &e);
	}
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_init();
	const char *text = (const char *)data;
	char *set = NULL;
	if (n > 5 && !memcmp(data, "#set ", 5)) {
		const char *nl = memchr(data, '\n', n);
		size_t len = nl ? (size_t)(nl - text) - 5 : n - 5;
		set = malloc(len + 1);
		memcpy(set, text + 5, len);
		set[len] = '\0';
	}
	struct spec *sp = NULL;
	struct err e = ERR_INIT;
	const char *sets[1] = { set };
	int rc = set ? spec_load_string_sets(text, n, "fuzz.yaml", sets, 1, &sp, &e) ||
			       target_spec_resolve(sp, &e)
		     : target_spec_load_string(text, n, "fuzz.yaml", &sp, &e);
	if (!rc)
		render(sp);
	spec_free(sp);
	free(set);
	return 0;
}
