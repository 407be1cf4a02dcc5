/*
 * fuzz_artifact.c — libFuzzer harness: decoding of the store's msgpack blobs.
 *
 * Every CAS blob the store reads back as a structure goes through one of
 * these decoders: artifacts (artifact_decode, what `artifact get` and
 * every step's input use), chunk manifests and artifact part lists (the
 * walks gc, verify and repair use, store_int.h) and action-cache values
 * (ac_value_decode). The input is one blob; each decoder reads it, and an
 * artifact that decodes is read through the public accessors.
 */
#include "fuzzlib.h"

#include "engrave/err.h"
#include "engrave/store.h"
#include "store/store_int.h"

static int count_one(const struct digest *d, void *ctx)
{
	(void)d;
	++*(size_t *)ctx;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_init();
	struct err e = ERR_INIT;
	struct artifact a;
	if (artifact_decode(data, n, &a, &e) == 0) {
		int64_t i;
		double f;
		for (int k = 0; k < a.n_meta; k++) {
			artifact_get_int(&a, a.meta[k].key, &i);
			artifact_get_f64(&a, a.meta[k].key, &f);
			artifact_get_str(&a, a.meta[k].key);
		}
		for (int k = 0; k < a.n_parts; k++)
			artifact_part(&a, a.parts[k].name);
		artifact_release(&a);
	}
	size_t count = 0;
	uint64_t size;
	store_blob_kind(data, n);
	store_manifest_walk(data, n, &size, count_one, &count, &e);
	store_artifact_walk(data, n, count_one, &count, &e);
	struct digest outs[4];
	int n_out;
	uint64_t elapsed;
	ac_value_decode(data, n, outs, 4, &n_out, &elapsed, &e);
	return 0;
}
