/*
 * fuzz_store.c — libFuzzer harness: opening and reading a damaged store.
 *
 * A damaged store must not crash a command. At start-up the harness builds
 * a small store with the store's own writers (a chunked object, an
 * artifact naming it, a run record, a ref, an action-cache entry, a
 * journal) and keeps its data.mdb. Each input is a list of damages applied
 * to a fresh copy: records of (u32 offset modulo the file size, u8 length
 * 1..8, that many bytes XORed in there); an input whose first byte is 'T'
 * also truncates the file at the first offset. The copy is then opened as
 * the read-only commands open it and read the way `runs`, `show`,
 * `artifact get`, `refs` and `store stats` read it; every fourth input (by
 * its last byte) also runs `store verify`, whose B-tree walk runs in a
 * forked child. Errors are fine; crashes, leaks and UB are findings.
 */
#include "fuzzlib.h"

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUN_ID "20260101T000000Z-00f00d"

static uint8_t *base;   /* data.mdb of the undamaged store */
static size_t base_len;
static struct digest art_d, part_d, action_d;

static void die(const char *what, const struct err *e)
{
	fprintf(stderr, "fuzz_store: %s: %s\n", what, e ? e->msg : "failed");
	abort();
}

static void fill(struct store *s)
{
	struct err e = ERR_INIT;
	struct artifact a;
	static char data[9000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	artifact_init(&a, "vectors", 1);
	if (obj_put(s, data, sizeof(data), &part_d, &e) || artifact_add_part(&a, "data", &part_d, sizeof(data), &e) ||
	    artifact_set_int(&a, "rows", 9, &e) || artifact_set_str(&a, "note", "fuzz", &e) ||
	    artifact_put(s, &a, &art_d, &e))
		die("artifact", &e);
	artifact_release(&a);
	struct run_record r;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), RUN_ID);
	snprintf(r.status, sizeof(r.status), "done");
	r.n_steps = 1;
	snprintf(r.steps[0].name, sizeof(r.steps[0].name), "corpus");
	r.steps[0].n_out = 1;
	r.steps[0].out[0] = art_d;
	run_metric_set(&r, "p99_ms", 3.5);
	struct buf v;
	buf_init(&v, 0);
	hash_bytes("action", 6, &action_d);
	struct journal_batch *jb;
	if (run_put(s, &r, &e) || ref_set(s, "baseline/fuzz", RUN_ID, &e) ||
	    ac_value_encode(&art_d, 1, 1000, &v, &e) || ac_put(s, &action_d, v.data, v.len, &e) ||
	    journal_batch_begin(s, RUN_ID, "ingest", &jb, &e))
		die("store", &e);
	for (int i = 0; i < 40; i++) {
		char k[16];
		snprintf(k, sizeof(k), "rec%03d", i);
		if (journal_batch_put(jb, k, strlen(k), data, 32, &e))
			die("journal", &e);
	}
	if (journal_batch_commit(jb, &e))
		die("journal commit", &e);
	buf_release(&v);
	run_record_release(&r);
}

static void build_base(void)
{
	char dir[4096], path[4096];
	snprintf(dir, sizeof(dir), "%s/base", fuzz_tmpdir());
	struct store *s;
	struct err e = ERR_INIT;
	if (store_open(dir, 0, &s, &e))
		die("store_open", &e);
	fill(s);
	store_close(s);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	FILE *f = fopen(path, "rb");
	struct stat st;
	if (!f || fstat(fileno(f), &st))
		die(path, NULL);
	base_len = (size_t)st.st_size;
	base = malloc(base_len);
	if (fread(base, 1, base_len, f) != base_len)
		die(path, NULL);
	fclose(f);
}

static int on_run(const struct run_record *r, void *ctx)
{
	(void)ctx;
	return strlen(r->id) > sizeof(r->id) ? -1 : 0;
}

static int on_ref(const char *name, const char *value, void *ctx)
{
	(void)ctx;
	return strlen(name) + strlen(value) == 0;
}

static int on_journal(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	(void)k;
	(void)v;
	*(size_t *)ctx += kl + vl;
	return 0;
}

/* What the read-only commands do with a store. */
static void read_paths(struct store *s, int verify)
{
	struct err e = ERR_INIT;
	struct run_record r;
	struct artifact a;
	struct buf b;
	struct store_stats st;
	char val[128];
	size_t total = 0;
	buf_init(&b, 0);
	run_list(s, on_run, NULL, &e);
	if (run_get(s, RUN_ID, &r, &e) == 0)
		run_record_release(&r);
	if (artifact_get(s, &art_d, &a, &e) == 0)
		artifact_release(&a);
	obj_get(s, &part_d, &b, &e);
	ref_list(s, "", on_ref, NULL, &e);
	ref_get(s, "baseline/fuzz", val, sizeof(val), &e);
	ac_get_verified(s, &action_d, &b, &e);
	journal_iter(s, RUN_ID, "ingest", on_journal, &total, &e);
	store_stats(s, &st, &e);
	if (verify) {
		struct store_verify_result vr;
		store_verify(s, NULL, NULL, &vr, &e);
	}
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_init();
	if (!base)
		build_base();
	uint8_t *copy = malloc(base_len);
	memcpy(copy, base, base_len);
	size_t len = base_len;
	struct fuzz_in in = { data, n };
	int truncate_first = n && data[0] == 'T';
	if (truncate_first)
		fuzz_take_u8(&in);
	for (int first = 1; in.n >= 5; first = 0) {
		size_t off = fuzz_take_u32(&in) % base_len;
		size_t k = 1 + fuzz_take_u8(&in) % 8;
		if (first && truncate_first)
			len = off;
		for (size_t i = 0; i < k && in.n; i++)
			copy[(off + i) % base_len] ^= fuzz_take_u8(&in);
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/damaged", fuzz_tmpdir());
	fuzz_rmtree(dir);
	mkdir(dir, 0700);
	char name[64];
	snprintf(name, sizeof(name), "damaged/data.mdb");
	fuzz_file(name, copy, len);
	free(copy);
	/* a damaged page faults inside LMDB: store/fault.c jumps back here
	 * (what a command does instead is end with "store ... is damaged") */
	static sigjmp_buf back;
	static int closing;
	if (sigsetjmp(back, 1)) {
		struct store *hit = store_fault_abandon();
		if (hit && !closing) { /* a fault while closing it: leave it */
			closing = 1;
			store_close(hit);
		}
		closing = 0;
		store_fault_recover_at(NULL);
		return 0;
	}
	/* FUZZ_STORE_EXIT=1: no recovery point, so a damaged page ends the
	 * process as it ends a command (0900 checks the message and status) */
	if (!getenv("FUZZ_STORE_EXIT"))
		store_fault_recover_at(&back);
	struct store *s = NULL;
	struct err e = ERR_INIT;
	if (store_open(dir, STORE_RDONLY, &s, &e) == 0) {
		read_paths(s, n && data[n - 1] % 4 == 0);
		store_close(s);
	}
	store_fault_recover_at(NULL);
	return 0;
}
