/*
 * fuzz_run_record.c — libFuzzer harness: run record decoding.
 *
 * The input is a stored run record (run_record_decode, what `runs`, `show`,
 * `diff`, `check` and `store verify` read). A stored record ends in a
 * SHA-256 checksum trailer that random bytes never match, so an input
 * starting with 'S' has that byte dropped and a valid trailer appended: the
 * fuzzer then reaches the decoder behind the checksum as well as the
 * strict path for records without one.
 */
#include "fuzzlib.h"

#include "engrave/err.h"
#include "engrave/hash.h"
#include "engrave/store.h"

#include <stdlib.h>
#include <string.h>

static const unsigned char run_magic[4] = { 0xa7, 'R', 'r', '1' }; /* run.c */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_init();
	uint8_t *rec = malloc(n + 12);
	size_t len = n;
	memcpy(rec, data, n);
	if (n && data[0] == 'S') {
		len = n - 1;
		memmove(rec, rec + 1, len);
		struct digest d;
		hash_bytes(rec, len, &d);
		memcpy(rec + len, d.b, 8);
		memcpy(rec + len + 8, run_magic, 4);
		len += 12;
	}
	struct run_record r;
	struct err e = ERR_INIT;
	if (run_record_decode(rec, len, &r, &e) == 0) {
		volatile size_t sink = strlen(r.id) + strlen(r.status) + (r.spec_text ? strlen(r.spec_text) : 0);
		for (int i = 0; i < r.n_overrides; i++)
			sink += strlen(r.overrides[i]);
		for (int i = 0; i < r.n_steps; i++)
			sink += strlen(r.steps[i].name) + (size_t)r.steps[i].n_out;
		(void)sink;
	}
	run_record_release(&r);
	free(rec);
	return 0;
}
