/*
 * test_store.c — the store layer: CAS, objects, artifacts, action cache,
 * refs, runs, journals, verify, gc, map growth and concurrent writers.
 *
 * Each test opens a fresh store in its own temp directory. The >1 GiB
 * streaming test lives in test_store_big.c (its own binary, so its peak-RSS
 * probe is not disturbed).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engrave/store.h"
#include "store/store_int.h"
#include "../lib/testutil.h"

static char *dir;
static struct store *st;

static void open_store(void)
{
	struct err e = ERR_INIT;
	dir = test_tmpdir("store");
	cr_assert_eq(store_open(dir, 0, &st, &e), 0, "%s", e.msg);
}

static void close_store(void)
{
	store_close(st);
	st = NULL;
	test_rmtree(dir);
	free(dir);
}

TestSuite(store, .init = open_store, .fini = close_store);

static void fill(void *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
	unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		c[i] = (unsigned char)x;
	}
}

Test(store, cas_round_trip)
{
	struct err e = ERR_INIT;
	struct digest d, want;
	const char *msg = "hello store";
	cr_assert_eq(cas_put(st, msg, strlen(msg), &d, &e), 0, "%s", e.msg);
	hash_bytes(msg, strlen(msg), &want);
	cr_assert(digest_equal(&d, &want), "digest is SHA-256 of the bytes");
	cr_assert_eq(cas_put(st, msg, strlen(msg), &d, &e), 0, "re-put is fine");
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(cas_get(st, &d, &b, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(b.len, strlen(msg));
	cr_assert_str_eq(b.data, msg);
	cr_assert_eq(cas_has(st, &d, &e), 1);
	uint64_t sz = 0;
	cr_assert_eq(cas_size(st, &d, &sz, &e), 0);
	cr_assert_eq(sz, strlen(msg));

	struct digest none;
	hash_bytes("absent", 6, &none);
	cr_assert_eq(cas_has(st, &none, &e), 0);
	cr_assert_eq(cas_get(st, &none, &b, 0, &e), -1);
	cr_assert_eq(e.cls, ERR_MISSING);
	cr_assert(strstr(e.msg, "cas"), "names the sub-database: %s", e.msg);
	/* empty blob */
	cr_assert_eq(cas_put(st, "", 0, &d, &e), 0);
	cr_assert_eq(cas_get(st, &d, &b, 1, &e), 0);
	cr_assert_eq(b.len, 0);
	buf_release(&b);
}

Test(store, object_round_trip_and_determinism)
{
	struct err e = ERR_INIT;
	size_t n = 2 * OBJ_CHUNK_SIZE + 12345;
	char *data = malloc(n), *back = malloc(n);
	fill(data, n, 7);
	struct digest d1, d2;
	cr_assert_eq(obj_put(st, data, n, &d1, &e), 0, "%s", e.msg);
	/* Written in odd pieces: same content, same digest. */
	struct obj_writer *w;
	cr_assert_eq(obj_writer_open(st, &w, &e), 0);
	for (size_t off = 0; off < n;) {
		size_t k = 1 + (off * 7919) % 1000003;
		if (k > n - off)
			k = n - off;
		cr_assert_eq(obj_write(w, data + off, k, &e), 0, "%s", e.msg);
		off += k;
	}
	cr_assert_eq(obj_writer_size(w), n);
	cr_assert_eq(obj_writer_finish(w, &d2, &e), 0, "%s", e.msg);
	cr_assert(digest_equal(&d1, &d2), "digest depends only on content");

	struct obj_reader *r;
	cr_assert_eq(obj_reader_open(st, &d1, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(obj_reader_size(r), n);
	size_t got, total = 0;
	do {
		cr_assert_eq(obj_read(r, back + total, 999999, &got, &e), 0, "%s", e.msg);
		total += got;
	} while (got);
	cr_assert_eq(total, n);
	cr_assert_eq(memcmp(data, back, n), 0);
	/* random access across a chunk boundary */
	char tmp[100];
	cr_assert_eq(obj_read_at(r, OBJ_CHUNK_SIZE - 50, tmp, 100, &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(tmp, data + OBJ_CHUNK_SIZE - 50, 100), 0);
	cr_assert_eq(obj_read_at(r, n - 10, tmp, 11, &e), -1, "past the end fails");
	obj_reader_close(r);

	/* empty object, and a plain blob read as an object */
	struct digest de, db;
	cr_assert_eq(obj_put(st, "", 0, &de, &e), 0);
	cr_assert_eq(obj_reader_open(st, &de, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(obj_reader_size(r), 0);
	cr_assert_eq(obj_read(r, tmp, 10, &got, &e), 0);
	cr_assert_eq(got, 0);
	obj_reader_close(r);
	cr_assert_eq(cas_put(st, "plain", 5, &db, &e), 0);
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(obj_get(st, &db, &b, &e), 0, "%s", e.msg);
	cr_assert_str_eq(b.data, "plain");
	buf_release(&b);

	struct store_stats ss;
	cr_assert_eq(store_stats(st, &ss, &e), 0, "%s", e.msg);
	cr_assert_eq(ss.objects, 2, "two manifests (the object and the empty one)");
	cr_assert_eq(ss.chunks, 3);
	cr_assert_eq(ss.logical_bytes, n);
	cr_assert_eq(ss.chunk_bytes, n);
	free(data);
	free(back);
}

/* Objects of many chunks are stored by the chunk threads (cas.c): whatever
 * the write pattern (whole chunks from the caller's memory, odd pieces
 * copied into the writer's buffers, a mix), the digest is the same and the
 * chunks read back in order. */
Test(store, object_chunk_threads_keep_order_and_digest)
{
	struct err e = ERR_INIT;
	size_t n = 11 * (size_t)OBJ_CHUNK_SIZE + 4321;
	char *data = malloc(n), *back = malloc(n);
	fill(data, n, 11);
	struct digest whole, pieces, mixed;
	cr_assert_eq(obj_put(st, data, n, &whole, &e), 0, "%s", e.msg);
	size_t steps[2][3] = { { 1000003, 77777, 999 }, { 3u << 20, 5u << 20, 9u << 20 } };
	for (int pass = 0; pass < 2; pass++) {
		struct obj_writer *w;
		cr_assert_eq(obj_writer_open(st, &w, &e), 0);
		for (size_t off = 0, i = 0; off < n; i++) {
			size_t k = steps[pass][i % 3];
			if (k > n - off)
				k = n - off;
			cr_assert_eq(obj_write(w, data + off, k, &e), 0, "%s", e.msg);
			off += k;
		}
		cr_assert_eq(obj_writer_finish(w, pass ? &mixed : &pieces, &e), 0, "%s", e.msg);
	}
	cr_assert(digest_equal(&whole, &pieces), "pieces give the same digest");
	cr_assert(digest_equal(&whole, &mixed), "a mix of whole chunks and pieces gives the same digest");
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(obj_get(st, &whole, &b, &e), 0, "%s", e.msg);
	cr_assert_eq(b.len, n);
	cr_assert_eq(memcmp(b.data, data, n), 0, "chunks come back in order");
	buf_release(&b);
	/* an aborted writer leaves nothing half-done behind it */
	struct obj_writer *w;
	cr_assert_eq(obj_writer_open(st, &w, &e), 0);
	cr_assert_eq(obj_write(w, back, 5 * (size_t)OBJ_CHUNK_SIZE + 1, &e), 0, "%s", e.msg);
	obj_writer_abort(w);
	struct store_verify_result vr;
	cr_assert_eq(store_verify(st, NULL, NULL, &vr, &e), 0, "%s", e.msg);
	cr_assert_eq(vr.problems, 0);
	free(data);
	free(back);
}

Test(store, dedup_ratio)
{
	struct err e = ERR_INIT;
	size_t n = 3 * OBJ_CHUNK_SIZE;
	char *data = malloc(n);
	fill(data, OBJ_CHUNK_SIZE, 3);
	memcpy(data + OBJ_CHUNK_SIZE, data, OBJ_CHUNK_SIZE);
	memcpy(data + 2 * OBJ_CHUNK_SIZE, data, OBJ_CHUNK_SIZE);
	struct digest d;
	cr_assert_eq(obj_put(st, data, n, &d, &e), 0);
	struct store_stats ss;
	cr_assert_eq(store_stats(st, &ss, &e), 0);
	cr_assert_eq(ss.chunks, 1);
	cr_assert_float_eq(ss.dedup_ratio, 3.0, 1e-9);
	cr_assert_gt(ss.map_size, 0);
	cr_assert_gt(ss.map_used, 0);
	free(data);
}

Test(store, artifacts)
{
	struct err e = ERR_INIT;
	struct digest o1, o2, id1, id2;
	cr_assert_eq(obj_put(st, "vectors", 7, &o1, &e), 0);
	cr_assert_eq(obj_put(st, "ids", 3, &o2, &e), 0);
	struct artifact a, b, g;
	artifact_init(&a, "vectors", 2);
	hash_bytes("action", 6, &a.action);
	cr_assert_eq(artifact_add_part(&a, "data", &o1, 7, &e), 0);
	cr_assert_eq(artifact_add_part(&a, "ids", &o2, 3, &e), 0);
	cr_assert_eq(artifact_set_int(&a, "dim", 768, &e), 0);
	cr_assert_eq(artifact_set_int(&a, "neg", -5, &e), 0);
	cr_assert_eq(artifact_set_f64(&a, "norm", 0.5, &e), 0);
	cr_assert_eq(artifact_set_str(&a, "dtype", "float32", &e), 0);
	cr_assert_eq(artifact_put(st, &a, &id1, &e), 0, "%s", e.msg);

	/* same content in another order: same id */
	artifact_init(&b, "vectors", 2);
	b.action = a.action;
	artifact_set_str(&b, "dtype", "float32", &e);
	artifact_set_f64(&b, "norm", 0.5, &e);
	artifact_set_int(&b, "neg", -5, &e);
	artifact_set_int(&b, "dim", 1, &e);
	artifact_set_int(&b, "dim", 768, &e); /* replaces */
	artifact_add_part(&b, "ids", &o2, 3, &e);
	artifact_add_part(&b, "data", &o1, 7, &e);
	cr_assert_eq(artifact_put(st, &b, &id2, &e), 0);
	cr_assert(digest_equal(&id1, &id2), "canonical encoding");

	cr_assert_eq(artifact_get(st, &id1, &g, &e), 0, "%s", e.msg);
	cr_assert_str_eq(g.type, "vectors");
	cr_assert_eq(g.version, 2);
	cr_assert(digest_equal(&g.action, &a.action));
	cr_assert(digest_equal(artifact_part(&g, "ids"), &o2));
	cr_assert_null(artifact_part(&g, "nope"));
	int64_t iv;
	double fv;
	cr_assert_eq(artifact_get_int(&g, "dim", &iv), 0);
	cr_assert_eq(iv, 768);
	cr_assert_eq(artifact_get_int(&g, "neg", &iv), 0);
	cr_assert_eq(iv, -5);
	cr_assert_eq(artifact_get_f64(&g, "norm", &fv), 0);
	cr_assert_float_eq(fv, 0.5, 1e-12);
	cr_assert_str_eq(artifact_get_str(&g, "dtype"), "float32");
	cr_assert_eq(artifact_get_int(&g, "missing", &iv), -1);
	struct store_stats ss;
	cr_assert_eq(store_stats(st, &ss, &e), 0);
	cr_assert_eq(ss.artifacts, 1);
	artifact_release(&a);
	artifact_release(&b);
	artifact_release(&g);
	/* a non-artifact blob is reported corrupt, not crashed on */
	struct digest raw;
	cas_put(st, "xyz", 3, &raw, &e);
	cr_assert_eq(artifact_get(st, &raw, &g, &e), -1);
	cr_assert_eq(e.cls, ERR_CORRUPT);
}

Test(store, artifact_find_prefix)
{
	struct err e = ERR_INIT;
	struct digest ids[40], blob, found[4];
	char hex[DIGEST_HEX_LEN + 1];
	for (int i = 0; i < 40; i++) { /* 40 artifacts: some share their first hex digit */
		struct artifact a;
		artifact_init(&a, "vectors", 1);
		cr_assert_eq(artifact_set_int(&a, "n", i, &e), 0);
		cr_assert_eq(artifact_put(st, &a, &ids[i], &e), 0, "%s", e.msg);
		artifact_release(&a);
	}
	cr_assert_eq(cas_put(st, "plain bytes", 11, &blob, &e), 0);
	size_t n;
	digest_to_hex(&ids[3], hex);
	for (size_t len = 6; len <= DIGEST_HEX_LEN; len += 29) { /* even and odd lengths */
		char pre[DIGEST_HEX_LEN + 1];
		snprintf(pre, sizeof(pre), "%.*s", (int)len, hex);
		cr_assert_eq(artifact_find_prefix(st, pre, found, 4, &n, &e), 0, "%s", e.msg);
		cr_assert_eq(n, 1, "%s: %zu", pre, n);
		cr_assert(digest_equal(&found[0], &ids[3]));
	}
	/* one hex digit: every artifact starting with it, and never a plain blob */
	char one[2] = { hex[0], 0 };
	size_t want = 0;
	for (int i = 0; i < 40; i++) {
		char h[DIGEST_HEX_LEN + 1];
		digest_to_hex(&ids[i], h);
		want += h[0] == hex[0];
	}
	cr_assert_eq(artifact_find_prefix(st, one, found, 4, &n, &e), 0);
	cr_assert_eq(n, want);
	digest_to_hex(&blob, hex);
	cr_assert_eq(artifact_find_prefix(st, hex, found, 4, &n, &e), 0);
	cr_assert_eq(n, 0, "a plain blob is not an artifact");
	cr_assert_eq(artifact_find_prefix(st, "xyz123", found, 4, &n, &e), -1);
	cr_assert_eq(e.cls, ERR_USAGE);
}

Test(store, action_cache)
{
	struct err e = ERR_INIT;
	struct digest k, outs[2], back[4];
	hash_bytes("step", 4, &k);
	hash_bytes("o1", 2, &outs[0]);
	hash_bytes("o2", 2, &outs[1]);
	struct buf v;
	buf_init(&v, 0);
	cr_assert_eq(ac_get(st, &k, &v, &e), 0, "miss");
	cr_assert_eq(ac_value_encode(outs, 2, 12345, &v, &e), 0);
	cr_assert_eq(ac_put(st, &k, v.data, v.len, &e), 0);
	buf_reset(&v);
	cr_assert_eq(ac_get(st, &k, &v, &e), 1, "hit");
	int n = 0;
	uint64_t el = 0;
	cr_assert_eq(ac_value_decode(v.data, v.len, back, 4, &n, &el, &e), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(el, 12345);
	cr_assert(digest_equal(&back[1], &outs[1]));
	buf_release(&v);
}

static int collect_refs(const char *name, const char *value, void *ctx)
{
	struct buf *b = ctx;
	buf_printf(b, NULL, "%s=%s;", name, value);
	return 0;
}

Test(store, refs)
{
	struct err e = ERR_INIT;
	char v[128];
	cr_assert_eq(ref_get(st, "baseline/x", v, sizeof(v), &e), -1);
	cr_assert_eq(e.cls, ERR_MISSING);
	cr_assert_eq(ref_set(st, "baseline/m17-1k", "20261124T083015Z-a1b2c3", &e), 0);
	cr_assert_eq(ref_set(st, "baseline/m17-1m", "r2", &e), 0);
	cr_assert_eq(ref_set(st, "other", "r3", &e), 0);
	cr_assert_eq(ref_set(st, "baseline/m17-1m", "r4", &e), 0, "overwrite");
	cr_assert_eq(ref_get(st, "baseline/m17-1m", v, sizeof(v), &e), 0);
	cr_assert_str_eq(v, "r4");
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(ref_list(st, "baseline/", collect_refs, &b, &e), 0);
	cr_assert_str_eq(b.data, "baseline/m17-1k=20261124T083015Z-a1b2c3;baseline/m17-1m=r4;");
	buf_reset(&b);
	cr_assert_eq(ref_del(st, "other", &e), 0);
	cr_assert_eq(ref_del(st, "other", &e), -1);
	cr_assert_eq(e.cls, ERR_MISSING);
	cr_assert_eq(ref_list(st, NULL, collect_refs, &b, &e), 0);
	cr_assert_str_eq(b.data, "baseline/m17-1k=20261124T083015Z-a1b2c3;baseline/m17-1m=r4;");
	buf_release(&b);
}

static void make_run(struct run_record *r, const char *id, const struct digest *out)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->spec_name, sizeof(r->spec_name), "m17");
	snprintf(r->status, sizeof(r->status), "done");
	r->spec_text = strdup("name: m17\nseed: 42\n");
	hash_bytes(r->spec_text, strlen(r->spec_text), &r->spec_digest);
	r->created = 1700000000000000000LL;
	r->updated = r->created + 5;
	run_env_fill(r);
	r->n_steps = 2;
	snprintf(r->steps[0].name, sizeof(r->steps[0].name), "corpus");
	snprintf(r->steps[0].state, sizeof(r->steps[0].state), "ran");
	r->steps[0].elapsed_ns = 42;
	if (out) {
		r->steps[0].n_out = 1;
		r->steps[0].out[0] = *out;
	}
	snprintf(r->steps[1].name, sizeof(r->steps[1].name), "ingest");
	snprintf(r->steps[1].state, sizeof(r->steps[1].state), "failed");
	snprintf(r->steps[1].message, sizeof(r->steps[1].message), "target unreachable");
	r->n_metrics = 2;
	snprintf(r->metrics[0].key, sizeof(r->metrics[0].key), "p99_ms");
	r->metrics[0].value = 12.5;
	snprintf(r->metrics[1].key, sizeof(r->metrics[1].key), "error_rate");
	r->metrics[1].value = 0;
}

static int collect_runs(const struct run_record *r, void *ctx)
{
	buf_printf(ctx, NULL, "%s,", r->id);
	return 0;
}

Test(store, runs)
{
	struct err e = ERR_INIT;
	char id1[48], id2[48];
	cr_assert_eq(run_new_id(id1, sizeof(id1)), 0);
	cr_assert_eq(strlen(id1), 23, "%s", id1);
	cr_assert_eq(id1[8], 'T');
	cr_assert_eq(id1[15], 'Z');
	run_new_id(id2, sizeof(id2));
	cr_assert_str_neq(id1, id2);

	static struct run_record r, g;
	struct digest out;
	hash_bytes("x", 1, &out);
	make_run(&r, "20261124T083015Z-bbbbbb", &out);
	cr_assert_eq(run_put(st, &r, &e), 0, "%s", e.msg);
	run_record_release(&r);
	make_run(&r, "20261124T083014Z-aaaaaa", NULL);
	cr_assert_eq(run_put(st, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(run_get(st, "20261124T083015Z-bbbbbb", &g, &e), 0, "%s", e.msg);
	cr_assert_str_eq(g.spec_name, "m17");
	cr_assert_str_eq(g.spec_text, r.spec_text);
	cr_assert(digest_equal(&g.spec_digest, &r.spec_digest));
	cr_assert_eq(g.created, r.created);
	cr_assert_eq(g.updated, r.updated);
	cr_assert_str_eq(g.host, r.host);
	cr_assert_str_eq(g.cpu, r.cpu);
	cr_assert_eq(g.n_steps, 2);
	cr_assert_str_eq(g.steps[0].name, "corpus");
	cr_assert_eq(g.steps[0].n_out, 1);
	cr_assert(digest_equal(&g.steps[0].out[0], &out));
	cr_assert_eq(g.steps[0].elapsed_ns, 42);
	cr_assert_str_eq(g.steps[1].message, "target unreachable");
	cr_assert_eq(g.n_metrics, 2);
	cr_assert_str_eq(g.metrics[0].key, "error_rate", "metrics come back sorted");
	cr_assert_float_eq(g.metrics[1].value, 12.5, 1e-12);
	run_record_release(&g);
	run_record_release(&r);

	cr_assert_eq(run_get(st, "nope", &g, &e), -1);
	cr_assert_eq(e.cls, ERR_MISSING);
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(run_list(st, collect_runs, &b, &e), 0);
	cr_assert_str_eq(b.data, "20261124T083014Z-aaaaaa,20261124T083015Z-bbbbbb,");
	buf_release(&b);
}

struct jctx {
	struct buf out;
	struct store *s;
};

static int collect_journal(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct jctx *j = ctx;
	buf_printf(&j->out, NULL, "%.*s=%.*s;", (int)kl, (const char *)k, (int)vl, (const char *)v);
	/* callbacks may write: the scan holds no transaction */
	return ref_set(j->s, "touched", "yes", NULL);
}

Test(store, journals)
{
	struct err e = ERR_INIT;
	struct journal_batch *b;
	cr_assert_eq(journal_batch_begin(st, "run1", "ingest", &b, &e), 0);
	journal_batch_put(b, "k2", 2, "v2", 2, &e);
	journal_batch_put(b, "k1", 2, "v1", 2, &e);
	cr_assert_eq(journal_batch_len(b), 2);
	cr_assert_eq(journal_batch_commit(b, &e), 0, "%s", e.msg);
	cr_assert_eq(journal_batch_begin(st, "run1", "ingest", &b, &e), 0);
	journal_batch_put(b, "k3", 2, "lost", 4, &e);
	journal_batch_abort(b);
	cr_assert_eq(journal_batch_begin(st, "run1", "ingest2", &b, &e), 0);
	journal_batch_put(b, "k9", 2, "other stream", 12, &e);
	cr_assert_eq(journal_batch_commit(b, &e), 0);

	struct buf v;
	buf_init(&v, 0);
	cr_assert_eq(journal_get(st, "run1", "ingest", "k1", 2, &v, &e), 1);
	cr_assert_str_eq(v.data, "v1");
	cr_assert_eq(journal_get(st, "run1", "ingest", "k3", 2, &v, &e), 0, "aborted batch left nothing");
	cr_assert_eq(journal_get(st, "run2", "ingest", "k1", 2, &v, &e), 0);
	uint64_t n = 0;
	cr_assert_eq(journal_count(st, "run1", "ingest", &n, &e), 0);
	cr_assert_eq(n, 2);
	struct jctx j = { .s = st };
	buf_init(&j.out, 0);
	cr_assert_eq(journal_iter(st, "run1", "ingest", collect_journal, &j, &e), 0, "%s", e.msg);
	cr_assert_str_eq(j.out.data, "k1=v1;k2=v2;");
	buf_release(&j.out);
	buf_release(&v);

	/* many entries across scan pages */
	cr_assert_eq(journal_batch_begin(st, "run2", "load", &b, &e), 0);
	for (uint32_t i = 0; i < 3000; i++) {
		unsigned char k[4] = { (unsigned char)(i >> 24), (unsigned char)(i >> 16), (unsigned char)(i >> 8),
				       (unsigned char)i };
		cr_assert_eq(journal_batch_put(b, k, 4, &i, sizeof(i), &e), 0);
	}
	cr_assert_eq(journal_batch_commit(b, &e), 0, "%s", e.msg);
	cr_assert_eq(journal_count(st, "run2", "load", &n, &e), 0);
	cr_assert_eq(n, 3000);
}

static int count_problem(const struct store_problem *p, void *ctx)
{
	struct buf *b = ctx;
	buf_printf(b, NULL, "%s %s %s: %s\n", store_problem_name(p->kind), p->db, p->key, p->detail);
	return 0;
}

Test(store, verify_finds_corruption)
{
	struct err e = ERR_INIT;
	size_t n = OBJ_CHUNK_SIZE + 100;
	char *data = malloc(n);
	fill(data, n, 11);
	struct digest obj, blob;
	cr_assert_eq(obj_put(st, data, n, &obj, &e), 0);
	cr_assert_eq(cas_put(st, "good blob", 9, &blob, &e), 0);

	struct store_verify_result vr;
	struct buf pb;
	buf_init(&pb, 0);
	cr_assert_eq(store_verify(st, count_problem, &pb, &vr, &e), 0, "%s", e.msg);
	cr_assert_eq(vr.problems, 0, "%s", pb.data);
	cr_assert_eq(vr.blobs, 4); /* 2 chunks, manifest, blob */
	cr_assert_eq(vr.objects, 1);

	/* corrupt the second chunk of the object in place */
	struct digest chunk;
	hash_bytes(data + OBJ_CHUNK_SIZE, 100, &chunk);
	data[OBJ_CHUNK_SIZE] ^= 1;
	cr_assert_eq(store_debug_put_raw(st, "cas", chunk.b, DIGEST_LEN, data + OBJ_CHUNK_SIZE, 100, &e), 0);
	/* and drop a blob a run names */
	static struct run_record r;
	struct digest gone;
	hash_bytes("never stored", 12, &gone);
	make_run(&r, "20261124T000000Z-000000", &gone);
	cr_assert_eq(run_put(st, &r, &e), 0);
	run_record_release(&r);

	buf_reset(&pb);
	cr_assert_eq(store_verify(st, count_problem, &pb, &vr, &e), 0, "%s", e.msg);
	cr_assert_eq(vr.problems, 2, "%s", pb.data);
	cr_assert(vr.mask & STORE_PROB_HASH);
	cr_assert(vr.mask & STORE_PROB_MISSING);
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(&chunk, hex);
	cr_assert(strstr(pb.data, hex), "lists the bad key: %s", pb.data);
	cr_assert(strstr(pb.data, "hash-mismatch cas"), "%s", pb.data);

	/* reads notice too */
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(cas_get(st, &chunk, &b, 1, &e), -1);
	cr_assert_eq(e.cls, ERR_CORRUPT);
	cr_assert_eq(cas_get(st, &chunk, &b, 0, &e), 0, "unverified read returns the bytes");
	cr_assert_eq(obj_get(st, &obj, &b, &e), -1);
	cr_assert_eq(e.cls, ERR_CORRUPT);
	cr_assert(strstr(e.msg, "chunk 1"), "%s", e.msg);
	buf_release(&b);
	buf_release(&pb);
	free(data);
}

/* ---- gc ---- */

static int count_drop(const struct digest *d, uint64_t size, void *ctx)
{
	(void)d, (void)size;
	(*(int *)ctx)++;
	return 0;
}

Test(store, gc_keeps_reachable)
{
	struct err e = ERR_INIT;
	struct digest via_run, via_ref, via_ac, art_obj, art, junk1, junk2, junk_obj;
	char big[OBJ_CHUNK_SIZE / 2 * 3];
	fill(big, sizeof(big), 5);
	cr_assert_eq(obj_put(st, big, sizeof(big), &art_obj, &e), 0);
	struct artifact a;
	artifact_init(&a, "vectors", 1);
	artifact_add_part(&a, "data", &art_obj, sizeof(big), &e);
	cr_assert_eq(artifact_put(st, &a, &art, &e), 0);
	artifact_release(&a);
	cas_put(st, "run output", 10, &via_run, &e);
	cas_put(st, "ref target", 10, &via_ref, &e);
	cas_put(st, "ac output", 9, &via_ac, &e);
	cas_put(st, "junk 1", 6, &junk1, &e);
	cas_put(st, "junk 2", 6, &junk2, &e);
	big[0] ^= 1;
	cr_assert_eq(obj_put(st, big, sizeof(big), &junk_obj, &e), 0); /* first chunk differs, second shared */

	static struct run_record r;
	make_run(&r, "20261124T000001Z-111111", &via_run);
	r.steps[1].n_out = 1;
	r.steps[1].out[0] = art;
	cr_assert_eq(run_put(st, &r, &e), 0);
	run_record_release(&r);
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(&via_ref, hex);
	ref_set(st, "keep", hex, &e);
	ref_set(st, "a-run", "20261124T000001Z-111111", &e);
	struct digest key;
	hash_bytes("action", 6, &key);
	struct buf v;
	buf_init(&v, 0);
	ac_value_encode(&via_ac, 1, 1, &v, &e);
	ac_put(st, &key, v.data, v.len, &e);
	buf_release(&v);

	struct store_stats before, after;
	store_stats(st, &before, &e);
	struct store_gc_result gr;
	int dropped = 0;
	/* fresh blobs are protected by the grace period */
	cr_assert_eq(store_gc(st, 0, STORE_GC_GRACE_DEFAULT, count_drop, &dropped, &gr, &e), 0, "%s", e.msg);
	cr_assert_eq(gr.dropped, 0);
	cr_assert_eq(gr.young, 4); /* junk1, junk2, junk manifest, junk's first chunk */
	/* dry run lists but keeps */
	cr_assert_eq(store_gc(st, 1, 0, count_drop, &dropped, &gr, &e), 0, "%s", e.msg);
	cr_assert_eq(dropped, 4);
	cr_assert_eq(gr.dropped, 4);
	store_stats(st, &after, &e);
	cr_assert_eq(after.blobs, before.blobs, "dry run changed nothing");

	dropped = 0;
	cr_assert_eq(store_gc(st, 0, 0, count_drop, &dropped, &gr, &e), 0, "%s", e.msg);
	cr_assert_eq(gr.dropped, 4);
	cr_assert_eq(dropped, 4);
	cr_assert_eq(cas_has(st, &junk1, &e), 0);
	cr_assert_eq(cas_has(st, &junk2, &e), 0);
	cr_assert_eq(cas_has(st, &junk_obj, &e), 0);
	cr_assert_eq(cas_has(st, &via_run, &e), 1);
	cr_assert_eq(cas_has(st, &via_ref, &e), 1);
	cr_assert_eq(cas_has(st, &via_ac, &e), 1);
	cr_assert_eq(cas_has(st, &art, &e), 1);
	struct buf b;
	buf_init(&b, 0);
	big[0] ^= 1;
	cr_assert_eq(obj_get(st, &art_obj, &b, &e), 0, "artifact's object is whole: %s", e.msg);
	cr_assert_eq(memcmp(b.data, big, sizeof(big)), 0);
	buf_release(&b);
	struct store_verify_result vr;
	cr_assert_eq(store_verify(st, NULL, NULL, &vr, &e), 0);
	cr_assert_eq(vr.problems, 0);
	/* nothing left to drop */
	cr_assert_eq(store_gc(st, 0, 0, NULL, NULL, &gr, &e), 0);
	cr_assert_eq(gr.dropped, 0);
}

/* ---- issue 11: repair, leases, verified cache hits, checksums ---- */

/* Read a raw stored value (copy) of sub-database `db`. */
static void raw_get(struct store *s, enum store_db db, const void *k, size_t kl, struct buf *out)
{
	struct err e = ERR_INIT;
	MDB_txn *txn;
	MDB_val v;
	cr_assert_eq(store_rtxn_begin(s, &txn, &e), 0, "%s", e.msg);
	cr_assert_eq(store_get_in(s, txn, db, k, kl, &v, &e), 1, "raw value present");
	buf_reset(out);
	buf_append(out, v.mv_data, v.mv_size, NULL);
	store_rtxn_end(s, txn);
}

/* Flip one byte of a stored value, bypassing every check. */
static void flip_raw(struct store *s, enum store_db db, const void *k, size_t kl, size_t at)
{
	struct err e = ERR_INIT;
	struct buf v;
	buf_init(&v, 0);
	raw_get(s, db, k, kl, &v);
	cr_assert_lt(at, v.len);
	v.data[at] ^= 0x20;
	cr_assert_eq(store_debug_put_raw(s, store_db_names[db], k, kl, v.data, v.len, &e), 0, "%s", e.msg);
	buf_release(&v);
}

Test(store, put_replaces_a_damaged_blob)
{
	struct err e = ERR_INIT;
	struct digest d, d2;
	cr_assert_eq(cas_put(st, "the good bytes", 14, &d, &e), 0);
	cr_assert_eq(store_debug_put_raw(st, "cas", d.b, DIGEST_LEN, "the bad! bytes", 14, &e), 0);
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(cas_get(st, &d, &b, 1, &e), -1, "damaged");
	cr_assert_eq(e.cls, ERR_CORRUPT);
	cr_assert_eq(cas_put(st, "the good bytes", 14, &d2, &e), 0, "%s", e.msg);
	cr_assert(digest_equal(&d, &d2));
	cr_assert_eq(cas_get(st, &d, &b, 1, &e), 0, "the put replaced the damaged bytes: %s", e.msg);
	cr_assert_str_eq(b.data, "the good bytes");
	/* the same for a chunk of an object: storing the content again repairs it */
	size_t n = OBJ_CHUNK_SIZE + 77;
	char *data = malloc(n);
	fill(data, n, 21);
	struct digest obj, chunk;
	cr_assert_eq(obj_put(st, data, n, &obj, &e), 0);
	hash_bytes(data, OBJ_CHUNK_SIZE, &chunk);
	flip_raw(st, DB_CAS, chunk.b, DIGEST_LEN, 12345);
	cr_assert_eq(obj_get(st, &obj, &b, &e), -1);
	cr_assert_eq(obj_put(st, data, n, &obj, &e), 0, "%s", e.msg);
	cr_assert_eq(obj_get(st, &obj, &b, &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(b.data, data, n), 0);
	buf_release(&b);
	free(data);
}

/* An object of 2 chunks in an artifact, and an action-cache entry naming it. */
static void cached_artifact(struct digest *key, struct digest *art, struct digest *obj, struct digest *chunk0,
			    char **data, size_t *n)
{
	struct err e = ERR_INIT;
	*n = OBJ_CHUNK_SIZE + 99;
	*data = malloc(*n);
	fill(*data, *n, 31);
	cr_assert_eq(obj_put(st, *data, *n, obj, &e), 0);
	hash_bytes(*data, OBJ_CHUNK_SIZE, chunk0);
	struct artifact a;
	artifact_init(&a, "vectors", 1);
	artifact_add_part(&a, "data", obj, *n, &e);
	cr_assert_eq(artifact_put(st, &a, art, &e), 0);
	artifact_release(&a);
	hash_bytes("a step", 6, key);
	struct buf v;
	buf_init(&v, 0);
	ac_value_encode(art, 1, 1, &v, &e);
	cr_assert_eq(ac_put(st, key, v.data, v.len, &e), 0);
	buf_release(&v);
}

Test(store, ac_get_verified_misses_damaged_outputs)
{
	struct err e = ERR_INIT;
	struct digest key, art, obj, chunk0;
	char *data;
	size_t n;
	cached_artifact(&key, &art, &obj, &chunk0, &data, &n);
	struct buf v;
	buf_init(&v, 0);
	cr_assert_eq(ac_get_verified(st, &key, &v, &e), 1, "whole: a hit (%s)", e.msg);
	/* a chunk of the wrong size (truncated in place) */
	cr_assert_eq(store_debug_put_raw(st, "cas", chunk0.b, DIGEST_LEN, data, 1000, &e), 0);
	cr_assert_eq(ac_get(st, &key, &v, &e), 1, "the plain lookup still hits");
	cr_assert_eq(ac_get_verified(st, &key, &v, &e), 0, "a damaged output is a miss, not a failure");
	/* a damaged manifest (small: re-hashed) */
	cr_assert_eq(obj_put(st, data, n, &obj, &e), 0, "repair the chunk: %s", e.msg);
	cr_assert_eq(ac_get_verified(st, &key, &v, &e), 1);
	flip_raw(st, DB_CAS, obj.b, DIGEST_LEN, 20);
	cr_assert_eq(ac_get_verified(st, &key, &v, &e), 0);
	/* an output that was never stored (or that gc dropped) */
	struct digest k2, never;
	hash_bytes("another step", 12, &k2);
	hash_bytes("never stored", 12, &never);
	ac_value_encode(&never, 1, 1, &v, &e);
	cr_assert_eq(ac_put(st, &k2, v.data, v.len, &e), 0);
	cr_assert_eq(ac_get(st, &k2, &v, &e), 1);
	cr_assert_eq(ac_get_verified(st, &k2, &v, &e), 0);
	/* an absent key is a plain miss */
	hash_bytes("no such step", 12, &k2);
	cr_assert_eq(ac_get_verified(st, &k2, &v, &e), 0);
	buf_release(&v);
	free(data);
}

Test(store, verify_repair_drops_damage_and_what_leads_to_it)
{
	struct err e = ERR_INIT;
	struct digest key, art, obj, chunk0;
	char *data;
	size_t n;
	cached_artifact(&key, &art, &obj, &chunk0, &data, &n);
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(&art, hex);
	cr_assert_eq(ref_set(st, "loads/x", hex, &e), 0);
	cr_assert_eq(ref_set(st, "baseline/y", "20261124T000002Z-222222", &e), 0);
	static struct run_record r;
	make_run(&r, "20261124T000002Z-222222", &art);
	cr_assert_eq(run_put(st, &r, &e), 0);
	run_record_release(&r);
	struct digest other;
	cr_assert_eq(cas_put(st, "unrelated", 9, &other, &e), 0);

	flip_raw(st, DB_CAS, chunk0.b, DIGEST_LEN, 4242);
	struct store_verify_result vr;
	struct store_repair_result rr;
	struct buf pb;
	buf_init(&pb, 0);
	cr_assert_eq(store_verify_repair(st, count_problem, NULL, &pb, &vr, &rr, &e), 0, "%s", e.msg);
	cr_assert_eq(vr.problems, 1, "%s", pb.data);
	cr_assert_eq(rr.blobs, 1, "the damaged chunk");
	cr_assert_eq(rr.actions, 1, "the cache entry that leads to it");
	cr_assert_eq(rr.refs, 1, "the ref that leads to it");
	cr_assert_eq(rr.runs, 1, "the run that names it is reported");
	cr_assert_eq(cas_has(st, &chunk0, &e), 0);
	cr_assert_eq(cas_has(st, &art, &e), 1, "whole blobs are kept");
	cr_assert_eq(cas_has(st, &other, &e), 1);
	struct buf v;
	buf_init(&v, 0);
	cr_assert_eq(ac_get(st, &key, &v, &e), 0, "entry dropped");
	char val[80];
	cr_assert_eq(ref_get(st, "loads/x", val, sizeof(val), &e), -1);
	cr_assert_eq(ref_get(st, "baseline/y", val, sizeof(val), &e), 0, "a ref naming a run is kept");
	cr_assert_eq(run_get(st, "20261124T000002Z-222222", &r, &e), 0, "run records are kept");
	run_record_release(&r);
	/* storing the content again makes the store whole */
	cr_assert_eq(obj_put(st, data, n, &obj, &e), 0);
	buf_reset(&pb);
	cr_assert_eq(store_verify(st, count_problem, &pb, &vr, &e), 0);
	cr_assert_eq(vr.problems, 0, "%s", pb.data);
	buf_release(&pb);
	buf_release(&v);
	free(data);
}

/* A child that takes run `id`'s lease, reports, and waits to be killed. */
static pid_t lease_holder(const char *d, const char *id)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		struct store *s;
		struct run_lease *l;
		struct err e = ERR_INIT;
		char ok = store_open(d, 0, &s, &e) || run_lease_acquire(s, id, &l, &e) ? 'n' : 'y';
		if (write(p[1], &ok, 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(p[1]);
	char ok = 0;
	cr_assert_eq(read(p[0], &ok, 1), 1);
	close(p[0]);
	cr_assert_eq(ok, 'y', "the child took the lease");
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int count_live(const struct run_lease_info *li, void *ctx)
{
	(void)li;
	(*(int *)ctx)++;
	return 0;
}

Test(store, run_leases_are_exclusive_and_die_with_their_holder)
{
	struct err e = ERR_INIT;
	pid_t pid = lease_holder(dir, "20261124T000003Z-333333");
	struct run_lease *l = NULL;
	cr_assert_eq(run_lease_acquire(st, "20261124T000003Z-333333", &l, &e), -1);
	cr_assert_eq(e.cls, ERR_BUSY);
	char want[64];
	snprintf(want, sizeof(want), "pid %ld on host ", (long)pid);
	cr_assert(strstr(e.msg, want), "names the holder: %s", e.msg);
	cr_assert(strstr(e.msg, "since 20"), "and since when: %s", e.msg);
	cr_assert(e.hint[0]);
	int live = 0;
	cr_assert_eq(run_lease_list(st, 0, count_live, &live, &e), 0);
	cr_assert_eq(live, 1);
	/* another run is free */
	cr_assert_eq(run_lease_acquire(st, "20261124T000004Z-444444", &l, &e), 0, "%s", e.msg);
	struct run_lease *again;
	cr_assert_eq(run_lease_acquire(st, "20261124T000004Z-444444", &again, &e), 0, "this process holds it");
	run_lease_release(again);
	run_lease_release(l);
	/* the lease dies with its holder */
	reap(pid);
	cr_assert_eq(run_lease_acquire(st, "20261124T000003Z-333333", &l, &e), 0, "%s", e.msg);
	run_lease_release(l);
	live = 0;
	cr_assert_eq(run_lease_list(st, 1, count_live, &live, &e), 0);
	cr_assert_eq(live, 0);
	cr_assert_eq(run_lease_acquire(st, "../escape", &l, &e), -1, "run ids are checked");
}

Test(store, gc_keeps_what_a_live_run_stores)
{
	struct err e = ERR_INIT;
	struct digest before, during;
	cr_assert_eq(cas_put(st, "before the run", 14, &before, &e), 0);
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	pid_t pid = lease_holder(dir, "20261124T000005Z-555555");
	cr_assert_eq(cas_put(st, "a live run's chunk", 18, &during, &e), 0);
	struct store_gc_result gr;
	cr_assert_eq(store_gc(st, 0, 0, NULL, NULL, &gr, &e), 0, "%s", e.msg);
	cr_assert_eq(gr.live_runs, 1);
	cr_assert_str_eq(gr.oldest_live, "20261124T000005Z-555555");
	cr_assert_eq(gr.live, 1, "kept: stored since the live run began");
	cr_assert_eq(gr.dropped, 1, "dropped: unreachable and older than every live run");
	cr_assert_eq(cas_has(st, &during, &e), 1);
	cr_assert_eq(cas_has(st, &before, &e), 0);
	reap(pid);
	cr_assert_eq(store_gc(st, 0, 0, NULL, NULL, &gr, &e), 0, "%s", e.msg);
	cr_assert_eq(gr.live_runs, 0);
	cr_assert_eq(gr.dropped, 1, "with the run gone, its unreachable blob goes");
	cr_assert_eq(cas_has(st, &during, &e), 0);
}

static int count_entry(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	(void)k, (void)kl, (void)v, (void)vl;
	(*(int *)ctx)++;
	return 0;
}

Test(store, journal_entries_carry_a_checksum)
{
	int n5 = 0;
	struct err e = ERR_INIT;
	struct journal_batch *b;
	cr_assert_eq(journal_batch_begin(st, "20261124T000006Z-666666", "ingest", &b, &e), 0);
	for (uint64_t i = 0; i < 10; i++) {
		unsigned char k[8];
		for (int j = 0; j < 8; j++)
			k[j] = (unsigned char)(i >> (56 - 8 * j));
		cr_assert_eq(journal_batch_put(b, k, 8, "receipt!", 8, &e), 0);
	}
	cr_assert_eq(journal_batch_put(b, "", 0, "x", 1, &e), -1, "empty keys are refused");
	cr_assert_eq(journal_batch_commit(b, &e), 0, "%s", e.msg);
	struct store_verify_result vr;
	struct buf pb, v;
	buf_init(&pb, 0);
	buf_init(&v, 0);
	cr_assert_eq(store_verify(st, count_problem, &pb, &vr, &e), 0);
	cr_assert_eq(vr.problems, 0, "%s", pb.data);
	cr_assert_eq(vr.journal_entries, 10);
	unsigned char k5[8] = { 0, 0, 0, 0, 0, 0, 0, 5 };
	cr_assert_eq(journal_get(st, "20261124T000006Z-666666", "ingest", k5, 8, &v, &e), 1);
	cr_assert_eq(v.len, 8, "the trailer is stripped");
	/* flip a byte of receipt 5 */
	char full[64];
	size_t fl = (size_t)snprintf(full, sizeof(full), "20261124T000006Z-666666%cingest%c", 0, 0);
	memcpy(full + fl, k5, 8);
	flip_raw(st, DB_JOURNAL, full, fl + 8, 2);
	cr_assert_eq(journal_get(st, "20261124T000006Z-666666", "ingest", k5, 8, &v, &e), -1);
	cr_assert_eq(e.cls, ERR_CORRUPT);
	cr_assert(strstr(e.msg, "20261124T000006Z-666666/ingest/"), "%s", e.msg);
	cr_assert_eq(journal_iter(st, "20261124T000006Z-666666", "ingest", count_entry, &n5, &e), -1, "iteration stops");
	cr_assert_eq(n5, 5, "at the damaged entry");
	buf_reset(&pb);
	cr_assert_eq(store_verify(st, count_problem, &pb, &vr, &e), 0);
	cr_assert_eq(vr.problems, 1, "%s", pb.data);
	cr_assert(vr.mask & STORE_PROB_CHECKSUM);
	cr_assert(strstr(pb.data, "run 20261124T000006Z-666666 stream ingest"), "%s", pb.data);
	/* a value without the trailer in a run that must have one */
	memcpy(full + fl, "plain", 5);
	cr_assert_eq(store_debug_put_raw(st, "journal", full, fl + 5, "old", 3, &e), 0);
	cr_assert_eq(journal_get(st, "20261124T000006Z-666666", "ingest", "plain", 5, &v, &e), -1);
	buf_release(&pb);
	buf_release(&v);
}

Test(store, run_records_carry_a_checksum)
{
	struct err e = ERR_INIT;
	static struct run_record r;
	make_run(&r, "20261124T000007Z-777777", NULL);
	cr_assert_eq(run_put(st, &r, &e), 0);
	run_record_release(&r);
	struct buf raw;
	buf_init(&raw, 0);
	raw_get(st, DB_RUNS, "20261124T000007Z-777777", 23, &raw);
	char *at = memmem(raw.data, raw.len, "target unreachable", 18);
	cr_assert(at, "the step message is in the record");
	flip_raw(st, DB_RUNS, "20261124T000007Z-777777", 23, (size_t)(at - raw.data));
	cr_assert_eq(run_get(st, "20261124T000007Z-777777", &r, &e), -1, "a flipped letter still decodes, but is caught");
	cr_assert_eq(e.cls, ERR_CORRUPT);
	struct store_verify_result vr;
	struct buf pb;
	buf_init(&pb, 0);
	cr_assert_eq(store_verify(st, count_problem, &pb, &vr, &e), 0);
	cr_assert_eq(vr.problems, 1, "%s", pb.data);
	cr_assert(strstr(pb.data, "checksum-mismatch runs 20261124T000007Z-777777"), "%s", pb.data);
	/* a record stored under another run's id */
	make_run(&r, "20261124T000008Z-888888", NULL);
	cr_assert_eq(run_put(st, &r, &e), 0);
	run_record_release(&r);
	raw_get(st, DB_RUNS, "20261124T000008Z-888888", 23, &raw);
	cr_assert_eq(store_debug_put_raw(st, "runs", "20261124T000009Z-999999", 23, raw.data, raw.len, &e), 0);
	cr_assert_eq(run_get(st, "20261124T000009Z-999999", &r, &e), -1);
	cr_assert_eq(e.cls, ERR_CORRUPT);
	buf_release(&raw);
	buf_release(&pb);
}

/* ---- map growth and concurrency (own suite: tiny map via the env var) ---- */

Test(store_grow, map_grows_and_keeps_everything)
{
	struct err e = ERR_INIT;
	char *d = test_tmpdir("grow");
	setenv("ENGRAVE_STORE_MAPSIZE", "262144", 1);
	struct store *s;
	cr_assert_eq(store_open(d, 0, &s, &e), 0, "%s", e.msg);
	struct store_stats ss;
	store_stats(s, &ss, &e);
	cr_assert_eq(ss.map_size, 262144);
	size_t n = 3 * OBJ_CHUNK_SIZE + 7;
	char *data = malloc(n);
	fill(data, n, 1);
	struct digest obj, small[200];
	cr_assert_eq(obj_put(s, data, n, &obj, &e), 0, "%s", e.msg);
	struct journal_batch *b;
	cr_assert_eq(journal_batch_begin(s, "r", "s", &b, &e), 0);
	for (int i = 0; i < 200; i++) {
		char v[600];
		fill(v, sizeof(v), (uint64_t)i + 100);
		cr_assert_eq(cas_put(s, v, sizeof(v), &small[i], &e), 0, "%s", e.msg);
		journal_batch_put(b, &i, sizeof(i), v, sizeof(v), &e);
	}
	cr_assert_eq(journal_batch_commit(b, &e), 0, "one batch larger than the map: %s", e.msg);
	store_stats(s, &ss, &e);
	cr_assert_gt(ss.map_size, 3 * OBJ_CHUNK_SIZE, "map grew: %llu", (unsigned long long)ss.map_size);
	store_close(s);
	unsetenv("ENGRAVE_STORE_MAPSIZE");

	cr_assert_eq(store_open(d, STORE_RDONLY, &s, &e), 0, "%s", e.msg);
	struct buf back;
	buf_init(&back, 0);
	cr_assert_eq(obj_get(s, &obj, &back, &e), 0, "%s", e.msg);
	cr_assert_eq(back.len, n);
	cr_assert_eq(memcmp(back.data, data, n), 0);
	for (int i = 0; i < 200; i++)
		cr_assert_eq(cas_has(s, &small[i], &e), 1);
	uint64_t cnt;
	cr_assert_eq(journal_count(s, "r", "s", &cnt, &e), 0);
	cr_assert_eq(cnt, 200);
	struct store_verify_result vr;
	cr_assert_eq(store_verify(s, NULL, NULL, &vr, &e), 0);
	cr_assert_eq(vr.problems, 0);
	cr_assert_eq(cas_put(s, "x", 1, NULL, &e), -1, "read-only store refuses writes");
	buf_release(&back);
	store_close(s);
	test_rmtree(d);
	free(d);
	free(data);
}

static int writer_child(const char *d, int who)
{
	struct err e = ERR_INIT;
	struct store *s;
	if (store_open(d, 0, &s, &e)) {
		fprintf(stderr, "writer %d: %s\n", who, e.msg);
		return 10;
	}
	for (int i = 0; i < 400; i++) {
		char v[2000];
		fill(v, sizeof(v), (uint64_t)who * 100000 + (uint64_t)i);
		if (cas_put(s, v, sizeof(v), NULL, &e))
			return 11;
		if (i % 50 == 0) {
			struct journal_batch *b;
			char run[16];
			snprintf(run, sizeof(run), "w%d", who);
			if (journal_batch_begin(s, run, "s", &b, &e))
				return 12;
			for (int j = 0; j < 20; j++)
				journal_batch_put(b, &j, sizeof(j), v, 100, &e);
			if (journal_batch_commit(b, &e))
				return 13;
		}
		if (i % 100 == 0) {
			char *big = malloc(OBJ_CHUNK_SIZE + 64);
			fill(big, OBJ_CHUNK_SIZE + 64, (uint64_t)who * 7 + (uint64_t)i);
			struct digest od;
			if (obj_put(s, big, OBJ_CHUNK_SIZE + 64, &od, &e))
				return 14;
			free(big);
		}
	}
	store_close(s);
	return 0;
}

Test(store_grow, concurrent_writers)
{
	struct err e = ERR_INIT;
	char *d = test_tmpdir("conc");
	setenv("ENGRAVE_STORE_MAPSIZE", "1048576", 1);
	struct store *s;
	cr_assert_eq(store_open(d, 0, &s, &e), 0, "%s", e.msg); /* create it first */
	store_close(s);
	pid_t p[2];
	for (int w = 0; w < 2; w++) {
		p[w] = fork();
		if (p[w] == 0)
			_exit(writer_child(d, w));
	}
	for (int w = 0; w < 2; w++) {
		int status;
		cr_assert_eq(waitpid(p[w], &status, 0), p[w]);
		cr_assert(WIFEXITED(status), "writer %d died", w);
		cr_assert_eq(WEXITSTATUS(status), 0, "writer %d failed with %d", w, WEXITSTATUS(status));
	}
	unsetenv("ENGRAVE_STORE_MAPSIZE");
	cr_assert_eq(store_open(d, 0, &s, &e), 0, "%s", e.msg);
	struct store_stats ss;
	cr_assert_eq(store_stats(s, &ss, &e), 0);
	cr_assert_eq(ss.blobs, 2 * 400 + 2 * 4 * 3, "every blob of both writers: %llu",
		     (unsigned long long)ss.blobs);
	cr_assert_eq(ss.journal_entries, 2 * 20);
	struct store_verify_result vr;
	cr_assert_eq(store_verify(s, NULL, NULL, &vr, &e), 0);
	cr_assert_eq(vr.problems, 0);
	store_close(s);
	test_rmtree(d);
	free(d);
}

Test(store_grow, errors_have_context)
{
	struct err e = ERR_INIT;
	struct store *s;
	cr_assert_eq(store_open("/nonexistent/engrave-store", STORE_RDONLY, &s, &e), -1);
	cr_assert_eq(e.cls, ERR_MISSING);
	cr_assert(strstr(e.msg, "/nonexistent/engrave-store"), "%s", e.msg);
	cr_assert_eq(store_open("/proc/engrave-store", 0, &s, &e), -1);
	cr_assert(e.cls == ERR_IO || e.cls == ERR_STORE, "%d %s", e.cls, e.msg);
	/* a directory that is not a store */
	char *d = test_tmpdir("notstore");
	cr_assert_eq(store_open(d, STORE_RDONLY, &s, &e), -1);
	test_rmtree(d);
	free(d);
}

/* ---- failures are reported, not papered over ---- */

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

/*
 * A file-size limit makes the data file's writes fail like a full disk
 * (EFBIG instead of ENOSPC; both are ERR_NOSPACE). Writes an object of
 * `chunks` chunks under a `limit`-byte limit: it must fail with an error that
 * contains `names` and says what to do, and what was committed before must
 * be intact.
 */
static void check_disk_full(const char *name, long limit, size_t chunks, const char *names)
{
	struct err e = ERR_INIT;
	char *d = test_tmpdir(name);
	struct store *s;
	cr_assert_eq(store_open(d, 0, &s, &e), 0, "%s", e.msg);
	struct digest small;
	cr_assert_eq(cas_put(s, "before", 6, &small, &e), 0);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit rl = { (rlim_t)limit, (rlim_t)limit };
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	size_t n = chunks * OBJ_CHUNK_SIZE;
	char *data = malloc(n);
	fill(data, n, chunks);
	struct digest obj;
	cr_assert_eq(obj_put(s, data, n, &obj, &e), -1, "writes past the limit fail");
	cr_assert_eq(e.cls, ERR_NOSPACE, "class %d: %s", e.cls, e.msg);
	cr_assert(strstr(e.msg, names), "names '%s': %s", names, e.msg);
	cr_assert(e.hint[0], "says what to do");
	store_close(s);
	rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
	setrlimit(RLIMIT_FSIZE, &rl);
	/* what was committed before is intact */
	cr_assert_eq(store_open(d, 0, &s, &e), 0, "%s", e.msg);
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(cas_get(s, &small, &b, 1, &e), 0, "%s", e.msg);
	cr_assert_str_eq(b.data, "before");
	struct store_verify_result vr;
	cr_assert_eq(store_verify(s, NULL, NULL, &vr, &e), 0);
	cr_assert_eq(vr.problems, 0);
	buf_release(&b);
	store_close(s);
	test_rmtree(d);
	free(d);
	free(data);
}

Test(store_grow, disk_full_is_reported)
{
	check_disk_full("full", 1 << 20, 3, "cas"); /* the first chunk fails: names the sub-database */
}

/* The same, when the chunk that hits the limit is stored by a chunk thread. */
Test(store_grow, disk_full_in_a_chunk_thread_is_reported)
{
	check_disk_full("full-threads", 26 << 20, 12, "object chunk");
}

/* Resident page-cache bytes of a store's data file (mincore on a fresh
 * read-only mapping, which faults nothing in). */
static size_t data_file_resident(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	int fd = open(path, O_RDONLY);
	cr_assert(fd >= 0);
	struct stat stt;
	cr_assert_eq(fstat(fd, &stt), 0);
	size_t len = (size_t)stt.st_size, pg = (size_t)sysconf(_SC_PAGESIZE);
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert(m != MAP_FAILED);
	unsigned char *vec = malloc(len / pg + 1);
	cr_assert_eq(mincore(m, len, vec), 0);
	size_t res = 0;
	for (size_t i = 0; i < (len + pg - 1) / pg; i++)
		res += vec[i] & 1;
	free(vec);
	munmap(m, len);
	close(fd);
	return res * pg;
}

static size_t resident_after_bulk_write(const char *write_behind)
{
	setenv("ENGRAVE_STORE_WRITE_BEHIND", write_behind, 1);
	struct err e = ERR_INIT;
	char *d = test_tmpdir("wb");
	struct store *s;
	cr_assert_eq(store_open(d, 0, &s, &e), 0, "%s", e.msg);
	unsetenv("ENGRAVE_STORE_WRITE_BEHIND");
	size_t n = 48 * (size_t)OBJ_CHUNK_SIZE; /* 192 MiB */
	char *data = malloc(n);
	fill(data, n, 48);
	struct digest obj;
	cr_assert_eq(obj_put(s, data, n, &obj, &e), 0, "%s", e.msg);
	size_t res = data_file_resident(d);
	store_close(s);
	test_rmtree(d);
	free(d);
	free(data);
	return res;
}

/* A bulk write keeps a bounded window of the data file in the page cache
 * (env.c, write-behind); with it off, the whole object stays cached. */
Test(store_grow, bulk_write_keeps_a_bounded_page_cache_window, .timeout = 120)
{
	size_t on = resident_after_bulk_write("1"), off = resident_after_bulk_write("0");
	cr_log_info("resident after a 192 MiB write: %zu MiB with write-behind, %zu MiB without", on >> 20,
		    off >> 20);
	cr_assert_lt(on, (size_t)100 << 20, "write-behind left %zu MiB cached", on >> 20);
	cr_assert_gt(off, (size_t)150 << 20, "control: without write-behind %zu MiB cached", off >> 20);
}

Test(store_grow, garbage_data_file_is_corrupt)
{
	struct err e = ERR_INIT;
	char *d = test_tmpdir("garbage");
	char path[4096];
	snprintf(path, sizeof(path), "%s/data.mdb", d);
	FILE *f = fopen(path, "wb");
	char junk[65536];
	fill(junk, sizeof(junk), 3);
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	struct store *s;
	cr_assert_eq(store_open(d, 0, &s, &e), -1);
	cr_assert_eq(e.cls, ERR_CORRUPT, "class %d: %s", e.cls, e.msg);
	cr_assert(strstr(e.msg, d), "names the store: %s", e.msg);
	test_rmtree(d);
	free(d);
}

struct thr {
	struct store *s;
	int who;
	int fails;
};

static void *thr_write(void *arg)
{
	struct thr *t = arg;
	struct err e = ERR_INIT;
	for (int i = 0; i < 300; i++) {
		char v[3000];
		fill(v, sizeof(v), (uint64_t)t->who * 1000 + (uint64_t)i);
		struct digest d;
		if (cas_put(t->s, v, sizeof(v), &d, &e) || cas_has(t->s, &d, &e) != 1)
			t->fails++;
	}
	return NULL;
}

static void *thr_read(void *arg)
{
	struct thr *t = arg;
	struct err e = ERR_INIT;
	struct store_stats ss;
	for (int i = 0; i < 50; i++)
		if (store_stats(t->s, &ss, &e))
			t->fails++;
	return NULL;
}

Test(store_grow, threads_share_a_store_while_it_grows)
{
	struct err e = ERR_INIT;
	char *d = test_tmpdir("threads");
	setenv("ENGRAVE_STORE_MAPSIZE", "131072", 1);
	struct store *s;
	cr_assert_eq(store_open(d, 0, &s, &e), 0, "%s", e.msg);
	unsetenv("ENGRAVE_STORE_MAPSIZE");
	pthread_t th[3];
	struct thr t[3] = { { s, 0, 0 }, { s, 1, 0 }, { s, 2, 0 } };
	pthread_create(&th[0], NULL, thr_write, &t[0]);
	pthread_create(&th[1], NULL, thr_write, &t[1]);
	pthread_create(&th[2], NULL, thr_read, &t[2]);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(t[i].fails, 0, "thread %d failed", i);
	struct store_stats ss;
	cr_assert_eq(store_stats(s, &ss, &e), 0);
	cr_assert_eq(ss.blobs, 600);
	cr_assert_gt(ss.map_size, 131072);
	store_close(s);
	test_rmtree(d);
	free(d);
}

Test(store_grow, adopts_a_map_grown_by_another_process)
{
	struct err e = ERR_INIT;
	char *d = test_tmpdir("resized");
	setenv("ENGRAVE_STORE_MAPSIZE", "1048576", 1);
	struct store *s;
	cr_assert_eq(store_open(d, 0, &s, &e), 0, "%s", e.msg);
	struct store_stats ss;
	cr_assert_eq(store_stats(s, &ss, &e), 0);
	cr_assert_eq(ss.map_size, 1048576);
	/* another process grows the map to hold 12 MiB */
	pid_t p = fork();
	if (p == 0) {
		struct store *c;
		struct err ce = ERR_INIT;
		char *big = malloc(3 * OBJ_CHUNK_SIZE);
		fill(big, 3 * OBJ_CHUNK_SIZE, 77);
		struct digest od;
		int rc = store_open(d, 0, &c, &ce) || obj_put(c, big, 3 * OBJ_CHUNK_SIZE, &od, &ce) ||
			 ref_set(c, "from-child", "x", &ce);
		store_close(c);
		_exit(rc ? 1 : 0);
	}
	int status;
	waitpid(p, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child writer failed");
	unsetenv("ENGRAVE_STORE_MAPSIZE");
	/* this process still has the 1 MiB map: reads and writes adopt the new size */
	char v[16];
	cr_assert_eq(ref_get(s, "from-child", v, sizeof(v), &e), 0, "%s", e.msg);
	cr_assert_str_eq(v, "x");
	cr_assert_eq(cas_put(s, "after", 5, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(store_stats(s, &ss, &e), 0, "%s", e.msg);
	cr_assert_gt(ss.map_size, 3 * OBJ_CHUNK_SIZE);
	cr_assert_eq(ss.logical_bytes, 3 * OBJ_CHUNK_SIZE);
	store_close(s);
	test_rmtree(d);
	free(d);
}

/* issue 11, item 8: a damaged data file is reported, never mapped blindly
 * (SIGBUS) and never re-initialised. */
Test(store_grow, damaged_data_files_are_reported)
{
	struct err e = ERR_INIT;
	char *d = test_tmpdir("damaged");
	struct store *s;
	cr_assert_eq(store_open(d, 0, &s, &e), 0, "%s", e.msg);
	char *big = malloc(3 * OBJ_CHUNK_SIZE);
	fill(big, 3 * OBJ_CHUNK_SIZE, 8);
	struct digest od;
	cr_assert_eq(obj_put(s, big, 3 * OBJ_CHUNK_SIZE, &od, &e), 0);
	store_close(s);
	free(big);
	char path[4200];
	snprintf(path, sizeof(path), "%s/data.mdb", d);
	struct stat sb;
	cr_assert_eq(stat(path, &sb), 0);
	/* truncated */
	cr_assert_eq(truncate(path, sb.st_size / 2), 0);
	cr_assert_eq(store_open(d, STORE_RDONLY, &s, &e), -1);
	cr_assert_eq(e.cls, ERR_CORRUPT, "%d %s", e.cls, e.msg);
	cr_assert(strstr(e.msg, "store damaged: ") && strstr(e.msg, "truncated"), "%s", e.msg);
	cr_assert_eq(store_open(d, 0, &s, &e), -1);
	/* empty */
	cr_assert_eq(truncate(path, 0), 0);
	cr_assert_eq(store_open(d, 0, &s, &e), -1, "an empty data.mdb is not a new store");
	cr_assert_eq(e.cls, ERR_CORRUPT);
	cr_assert(strstr(e.msg, "empty"), "%s", e.msg);
	cr_assert(e.hint[0]);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_size, 0, "left as it was");
	/* gone, lock file left */
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(store_open(d, 0, &s, &e), -1);
	cr_assert_eq(e.cls, ERR_CORRUPT, "%s", e.msg);
	cr_assert_eq(access(path, F_OK), -1, "no new data file");
	test_rmtree(d);
	free(d);
	/* a directory holding something else */
	d = test_tmpdir("notes");
	snprintf(path, sizeof(path), "%s/notes.txt", d);
	FILE *f = fopen(path, "w");
	fputs("mine", f);
	fclose(f);
	cr_assert_eq(store_open(d, 0, &s, &e), -1);
	cr_assert_eq(e.cls, ERR_USAGE, "%s", e.msg);
	cr_assert(strstr(e.msg, "notes.txt"), "%s", e.msg);
	test_rmtree(d);
	free(d);
}

Test(store, run_env_round_trips_in_order)
{
	struct err e = ERR_INIT;
	static struct run_record r, g;
	make_run(&r, "20261124T000009Z-999999", NULL);
	envlist_set(&r.env, "cpu.model", "AMD EPYC 7B13");
	envlist_set_num(&r.env, "cpu.cores", 2);
	envlist_set(&r.env, "load.before", "0.52 0.40 0.33");
	envlist_set_num(&r.env, "target.hnsw.resize_factor", 1.2);
	envlist_set(&r.env, "a.last", "sorted keys would put me first");
	cr_assert_eq(run_put(st, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(run_get(st, r.id, &g, &e), 0, "%s", e.msg);
	cr_assert_eq(g.env.n, 5);
	for (int i = 0; i < 5; i++) {
		cr_assert_str_eq(g.env.v[i].key, r.env.v[i].key, "order kept at %d", i);
		cr_assert_str_eq(g.env.v[i].value, r.env.v[i].value, "%s", r.env.v[i].key);
		cr_assert_eq(g.env.v[i].is_num, r.env.v[i].is_num, "%s", r.env.v[i].key);
	}
	cr_assert_str_eq(g.host, r.host, "the fixed fields are kept beside the list");
	run_record_release(&g);
	run_record_release(&r);
}

/* A record as written before the env map existed (and before checksums). */
Test(store, run_record_without_env_still_decodes)
{
	struct err e = ERR_INIT;
	struct mpack m;
	mpack_init(&m);
	msgpack_pack_map(&m.pk, 5);
	mpack_str(&m, "cpu");
	mpack_str(&m, "AMD EPYC x2");
	mpack_str(&m, "host");
	mpack_str(&m, "vm");
	mpack_str(&m, "id");
	mpack_str(&m, "20250101T000000Z-000001");
	mpack_str(&m, "status");
	mpack_str(&m, "done");
	mpack_str(&m, "target_version");
	mpack_str(&m, "engram 0.1.0");
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(mpack_to_buf(&m, &b, &e), 0);
	mpack_release(&m);
	static struct run_record g;
	cr_assert_eq(run_record_decode(b.data, b.len, &g, &e), 0, "%s", e.msg);
	cr_assert_str_eq(g.id, "20250101T000000Z-000001");
	cr_assert_str_eq(g.cpu, "AMD EPYC x2");
	cr_assert_str_eq(g.target_version, "engram 0.1.0");
	cr_assert_eq(g.env.n, 0, "no env: an empty list");
	run_record_release(&g);

	/* an env that is not a map of text or numbers is corrupt, not ignored */
	mpack_init(&m);
	msgpack_pack_map(&m.pk, 2);
	mpack_str(&m, "env");
	msgpack_pack_map(&m.pk, 1);
	mpack_str(&m, "cpu.model");
	msgpack_pack_array(&m.pk, 0);
	mpack_str(&m, "id");
	mpack_str(&m, "20250101T000000Z-000002");
	buf_reset(&b);
	cr_assert_eq(mpack_to_buf(&m, &b, &e), 0);
	mpack_release(&m);
	cr_assert_eq(run_record_decode(b.data, b.len, &g, &e), -1);
	cr_assert_eq(e.cls, ERR_CORRUPT);
	cr_assert(strstr(e.msg, "env 'cpu.model'"), "%s", e.msg);
	buf_release(&b);
}

static int count_refs(const char *name, const char *value, void *ctx)
{
	(void)name;
	(void)value;
	++*(int *)ctx;
	return 0;
}

/* Rewrite the size of the leaf node holding `key` in data.mdb (LMDB's node:
 * u16 lo, u16 hi of the data size, u16 flags, u16 key size, key, data). */
static void set_node_size(const char *dir_, const char *key, uint32_t size, long *value_off)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/data.mdb", dir_);
	FILE *f = fopen(path, "r+b");
	cr_assert(f);
	static char file[1 << 20];
	size_t n = fread(file, 1, sizeof(file), f);
	size_t kl = strlen(key);
	char *hit = memmem(file, n, key, kl);
	cr_assert(hit && hit - file >= 8, "the key is in the file");
	unsigned char *node = (unsigned char *)hit - 8;
	cr_assert_eq(node[6] | node[7] << 8, kl, "a leaf node header precedes the key");
	node[0] = size & 0xff, node[1] = size >> 8 & 0xff, node[2] = size >> 16 & 0xff, node[3] = size >> 24;
	fseek(f, (long)(node - (unsigned char *)file), SEEK_SET);
	cr_assert_eq(fwrite(node, 1, 4, f), 4);
	fclose(f);
	*value_off = (long)(hit - file) + (long)kl;
}

/* issue 18: the fuzzer found `store verify`'s walk reading a value whose
 * damaged node claimed 1 MiB (past its page, into the heap). A key or value
 * must lie in the used part of the map: a size that fits the file but runs
 * off its end, or one larger than the file, is damage, reported as such by
 * the read paths and by verify's walk, before anything reads the bytes. */
Test(store, a_value_running_off_the_data_file_is_damage)
{
	struct err e = ERR_INIT;
	cr_assert_eq(ref_set(st, "baseline/past-the-end", "20260101T000000Z-00f00d", &e), 0, "%s", e.msg);
	store_close(st);
	struct stat sb;
	char path[4200];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	cr_assert_eq(stat(path, &sb), 0);
	uint32_t sizes[2];
	long voff;
	set_node_size(dir, "baseline/past-the-end", 23, &voff); /* as it was: find where the value starts */
	sizes[0] = (uint32_t)(sb.st_size - voff + 4096); /* fits in the file's size, ends past it */
	sizes[1] = 1u << 20;                               /* what the fuzzer's input made: larger than the file */
	cr_assert_lt(sizes[0], (uint32_t)sb.st_size);
	for (int i = 0; i < 2; i++) {
		set_node_size(dir, "baseline/past-the-end", sizes[i], &voff);
		cr_assert_eq(store_open(dir, STORE_RDONLY, &st, &e), 0, "%s", e.msg);
		int n = 0;
		cr_assert_eq(ref_list(st, "", count_refs, &n, &e), -1, "size %u", sizes[i]);
		cr_assert_eq(e.cls, ERR_CORRUPT, "%d %s", e.cls, e.msg);
		cr_assert(strstr(e.msg, "a value in 'refs'") && strstr(e.msg, "lies outside"), "%s", e.msg);
		char why[512];
		cr_assert_eq(store_btree_check(st, why, sizeof(why)), 1, "size %u: %s", sizes[i], why);
		cr_assert(strstr(why, "the 'refs' B-tree, entry 1: its value") && strstr(why, "lies outside"), "%s", why);
		store_close(st);
	}
	cr_assert_eq(store_open(dir, 0, &st, &e), 0, "%s", e.msg); /* for the suite's fini */
}

/* Where data.mdb is mapped comes from /proc/self/maps, matched by device
 * and inode or, where those are another layer's (overlayfs), by path; when
 * neither matches nothing is known and only sizes are checked, so a healthy
 * store is never called damaged for want of its map. */
Test(store, the_map_is_found_by_inode_or_by_path)
{
	struct err e = ERR_INIT;
	cr_assert_eq(ref_set(st, "baseline/m", "x", &e), 0, "%s", e.msg);
	struct store_maps m = st->maps;
	cr_assert(m.known && m.n >= 1, "the store's map is listed");
	MDB_envinfo info;
	cr_assert_eq(mdb_env_info(st->env, &info), 0);
	cr_assert_eq(m.r[0].hi - m.r[0].lo, info.me_mapsize, "one mapping, the map's size");
	m.ino = 0; /* no file has inode 0 (a neighbour could be lock.mdb, mapped too) */
	store_maps_refresh(&m);
	cr_assert(m.known && m.n >= 1, "found by its path");
	m.path[0] = '\0';
	store_maps_refresh(&m);
	cr_assert(!m.known && m.n == 0, "nothing names it");
	st->maps = m; /* the read paths then check sizes only */
	char v[64];
	cr_assert_eq(ref_get(st, "baseline/m", v, sizeof(v), &e), 0, "%s", e.msg);
	int n = 0;
	cr_assert_eq(ref_list(st, "", count_refs, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 1);
}
