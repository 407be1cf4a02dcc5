/*
 * fuzz_scenario.c — libFuzzer harness: Engram scenario (TOML) import.
 *
 * The input is a scenario file as `engrave spec import-scenario` reads it:
 * the TOML reader (toml.c) and the mapping to spec YAML (import.c), which
 * loads its own output back as a spec. The first input byte chooses whether
 * a --seed override is given, so both seed paths run.
 */
#include "fuzzlib.h"

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_init();
	int has_seed = n && (data[0] & 1);
	struct buf yaml, warnings;
	struct err e = ERR_INIT;
	buf_init(&yaml, 0);
	buf_init(&warnings, 0);
	spec_import_scenario((const char *)data, n, "fuzz.toml", has_seed, 0xdeadbeefULL, &yaml, &warnings, &e);
	buf_release(&yaml);
	buf_release(&warnings);
	return 0;
}
