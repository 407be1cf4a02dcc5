/*
 * test_target_engram.c — the engram driver against tools/engram-server.
 *
 * Each test starts its own contract server on a free port (--port 0
 * --port-file) with the options it needs (auth, dedup, hot cap) and stops
 * it by pid. Covers every route the driver uses, both error shapes (JSON
 * ApiError and plain-text rejections), auth, the 768-dim rejection, the
 * dedup loss and hot-tier eviction that ingest verification must surface,
 * and compares the server's response key sets with the real responses in
 * ../shared/fixtures/engram/ (skipped when absent).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/engine.h"
#include "engrave/envlist.h"
#include "engrave/err.h"
#include "engrave/http.h"
#include "engrave/target.h"
#include "targets/target_int.h"
#include "../lib/testutil.h"
#include "../lib/server_proc.h"

#define DIM 768

static struct server_proc srv;

static void start_server(const char *a1, const char *a2, const char *a3, const char *a4)
{
	char bin[1024];
	snprintf(bin, sizeof(bin), "%s/tools/engram-server", server_proc_build_dir());
	char *argv[12] = { bin, "--port", "0", "--port-file", "{PORTFILE}", "--threads", "2" };
	int n = 7;
	const char *extra[] = { a1, a2, a3, a4 };
	for (int i = 0; i < 4; i++)
		if (extra[i])
			argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	cr_assert_eq(server_proc_start(&srv, argv, 0, 5000), 0, "engram-server did not start (%s)", bin);
}

static void stop_server(void)
{
	if (srv.pid > 0)
		cr_expect_eq(server_proc_stop(&srv), 0, "engram-server should exit 0 on SIGTERM");
}

static struct target *open_engram(const char *space, const char *bearer_env, uint32_t dim)
{
	struct target_config cfg = { .driver = "engram", .url = srv.url, .space = space,
				     .bearer_env = bearer_env, .dim = dim, .retries = 1 };
	struct target *t = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(target_open(&cfg, &t, &e), 0, "open: %s", e.msg);
	return t;
}

/* Deterministic pseudo-random unit vectors (splitmix64 -> [-1,1)). */
static void rand_vec(uint64_t seed, float *v, int dim)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
	double n = 0;
	for (int i = 0; i < dim; i++) {
		uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
		z ^= z >> 31;
		v[i] = (float)((double)(z >> 11) / 4503599627370496.0 - 1.0);
		n += (double)v[i] * v[i];
	}
	for (int i = 0; i < dim; i++)
		v[i] = (float)(v[i] / sqrt(n));
}

static void store_n(struct target *t, int n, int seed0, float conf0, float dconf)
{
	float *vecs = malloc((size_t)n * DIM * sizeof(float));
	struct target_record *recs = calloc((size_t)n, sizeof(*recs));
	char (*ids)[32] = calloc((size_t)n, 32);
	char (*texts)[64] = calloc((size_t)n, 64);
	struct target_store_result *res = calloc((size_t)n, sizeof(*res));
	for (int i = 0; i < n; i++) {
		rand_vec((uint64_t)(seed0 + i), vecs + (size_t)i * DIM, DIM);
		snprintf(ids[i], 32, "v%d", seed0 + i);
		snprintf(texts[i], 64, "memory number %d about %s", seed0 + i, i % 2 ? "apples" : "Pears");
		recs[i] = (struct target_record){ ids[i], vecs + (size_t)i * DIM, texts[i],
						  conf0 + dconf * (float)i, 0 };
	}
	struct err e = ERR_INIT;
	cr_assert_eq(target_store_batch(t, recs, (size_t)n, res, &e), 0, "store: %s", e.msg);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(res[i].status, TARGET_STORED, "record %d: %s", i, res[i].reason);
		cr_assert_eq(res[i].http_status, 201);
		cr_assert_str_eq(res[i].server_id, ids[i]);
	}
	free(vecs);
	free(recs);
	free(ids);
	free(texts);
	free(res);
}

static uint64_t count_of(struct target *t)
{
	uint64_t n = 0;
	struct err e = ERR_INIT;
	cr_assert_eq(target_count(t, &n, &e), 0, "count: %s", e.msg);
	return n;
}

Test(target_engram, health_count_store_recall, .fini = stop_server)
{
	start_server("--no-dedup", NULL, NULL, NULL);
	struct target *t = open_engram("default", NULL, 0);
	char ver[64];
	struct err e = ERR_INIT;
	cr_assert_eq(target_health(t, ver, sizeof(ver), &e), 0, "%s", e.msg);
	cr_assert_str_eq(ver, "0.1.0");
	cr_assert_eq(count_of(t), 0);
	cr_assert_eq(target_has_http(t), 1);
	cr_assert_eq(target_max_batch(t), 1);

	store_n(t, 40, 100, 0.5f, 0.01f);
	cr_assert_eq(count_of(t), 40);

	struct target_info info;
	cr_assert_eq(target_describe(t, &info, &e), 0, "%s", e.msg);
	cr_assert_str_eq(info.driver, "engram");
	cr_assert_eq(info.count, 40);

	/* recall of a stored vector: itself first with score ~1, k respected */
	float q[DIM];
	rand_vec(117, q, DIM);
	struct target_hits h;
	target_hits_init(&h);
	cr_assert_eq(target_recall(t, q, 5, 0.0f, &h, &e), 0, "recall: %s", e.msg);
	cr_assert_eq(h.n, 5);
	cr_assert_str_eq(h.v[0].id, "v117");
	cr_assert_float_eq(h.v[0].score, 1.0f, 1e-4);
	for (size_t i = 1; i < h.n; i++)
		cr_assert_leq(h.v[i].score, h.v[i - 1].score, "hits sorted by score");
	/* random unit vectors in 768-d have cosine ~0: threshold 0.5 keeps only the self-hit */
	cr_assert_eq(target_recall(t, q, 10, 0.5f, &h, &e), 0, "recall: %s", e.msg);
	cr_assert_eq(h.n, 1);
	cr_assert_str_eq(h.v[0].id, "v117");

	/* text search: substring scoring, 0.9 case-sensitive, 0.7 insensitive */
	cr_assert_eq(target_search(t, "memory number 105 ", 10, &h, &e), 0, "search: %s", e.msg);
	cr_assert_eq(h.n, 1);
	cr_assert_str_eq(h.v[0].id, "v105");
	cr_assert_float_eq(h.v[0].score, 0.9f, 1e-6);
	cr_assert_eq(target_search(t, "pears", 100, &h, &e), 0, "search: %s", e.msg);
	cr_assert_eq(h.n, 20);
	cr_assert_float_eq(h.v[0].score, 0.7f, 1e-6);
	target_hits_release(&h);
	target_close(t);
}

Test(target_engram, wrong_dimension_is_rejected_with_engram_message, .fini = stop_server)
{
	start_server(NULL, NULL, NULL, NULL);
	struct target *t = open_engram("default", NULL, 3);
	float v[3] = { 1, 2, 3 };
	struct target_record r = { "short", v, "three floats", 0.7f, 0 };
	struct target_store_result res;
	struct err e = ERR_INIT;
	cr_assert_eq(target_store_batch(t, &r, 1, &res, &e), 0, "%s", e.msg);
	cr_assert_eq(res.status, TARGET_REJECTED);
	cr_assert_eq(res.http_status, 400);
	cr_assert(strstr(res.reason, "/api/v1/memories/remember: 400 INVALID_MEMORY_INPUT: Embedding must be exactly 768 dimensions, got 3"),
		  "reason: %s", res.reason);
	cr_assert_eq(count_of(t), 0);

	/* the same through recall: an error naming driver, method, status and code */
	struct target_hits h;
	target_hits_init(&h);
	cr_assert_eq(target_recall(t, v, 3, 0.5f, &h, &e), -1);
	cr_assert_eq(e.cls, ERR_NET);
	cr_assert(strstr(e.msg, "engram GET http://127.0.0.1:"), "%s", e.msg);
	cr_assert(strstr(e.msg, "400 INVALID_MEMORY_INPUT: Embedding must be exactly 768 dimensions, got 3"), "%s", e.msg);
	target_hits_release(&h);
	target_close(t);
}

/* Raw request through the sync client, for the error shapes the driver never provokes. */
static void raw(const char *method, const char *path, const char *ctype, const char *body,
		size_t len, struct http_response *rs)
{
	struct http_client *c;
	struct err e = ERR_INIT;
	cr_assert_eq(http_client_new(&c, &e), 0, "%s", e.msg);
	char url[256];
	snprintf(url, sizeof(url), "%s%s", srv.url, path);
	struct http_header h[1] = { { "Content-Type", ctype } };
	struct http_request rq = { .method = method, .url = url, .headers = h,
				   .n_headers = ctype ? 1 : 0, .body = body, .body_len = len };
	cr_assert_eq(http_do(c, &rq, rs, &e), 0, "%s", e.msg);
	http_client_free(c);
}

Test(target_engram, error_shapes_json_and_plain_text, .fini = stop_server)
{
	start_server(NULL, NULL, NULL, NULL);
	struct http_response rs;
	http_response_init(&rs);
	char what[512];

	raw("POST", "/api/v1/memories/remember", "text/plain", "{\"content\":\"x\"}", 15, &rs);
	cr_assert_eq(rs.status, 415);
	target_format_http_error(&rs, what, sizeof(what));
	cr_assert_str_eq(what, "415 Expected request with `Content-Type: application/json`");

	raw("POST", "/api/v1/memories/remember", "application/json", "{\"content\":", 11, &rs);
	cr_assert_eq(rs.status, 400);
	target_format_http_error(&rs, what, sizeof(what));
	cr_assert(strncmp(what, "400 Failed to parse the request body as JSON", 44) == 0, "%s", what);

	raw("POST", "/api/v1/memories/remember", "application/json", "{\"id\":\"x\"}", 10, &rs);
	cr_assert_eq(rs.status, 422);
	target_format_http_error(&rs, what, sizeof(what));
	cr_assert(strstr(what, "422 Failed to deserialize the JSON body") && strstr(what, "missing field `content`"),
		  "%s", what);

	size_t big = 2u * 1024 * 1024 + 10;
	char *body = malloc(big);
	memset(body, ' ', big);
	raw("POST", "/api/v1/memories/remember", "application/json", body, big, &rs);
	free(body);
	cr_assert_eq(rs.status, 413);

	raw("POST", "/api/v1/memories/remember", "application/json", "{\"content\":\"   \"}", 17, &rs);
	cr_assert_eq(rs.status, 400);
	target_format_http_error(&rs, what, sizeof(what));
	cr_assert(strncmp(what, "400 INVALID_MEMORY_INPUT: Memory content cannot be empty", 56) == 0, "%s", what);

	raw("GET", "/api/v1/memories/nope", NULL, NULL, 0, &rs);
	cr_assert_eq(rs.status, 404);
	target_format_http_error(&rs, what, sizeof(what));
	cr_assert(strncmp(what, "404 MEMORY_NOT_FOUND: Memory 'nope' not found", 45) == 0, "%s", what);

	raw("GET", "/api/v1/memories?tier=bogus", NULL, NULL, 0, &rs);
	cr_assert_eq(rs.status, 400);
	raw("GET", "/api/v1/memories?tier=warm", NULL, NULL, 0, &rs);
	cr_assert_eq(rs.status, 501);
	raw("GET", "/api/v1/memories/recall", NULL, NULL, 0, &rs);
	cr_assert_eq(rs.status, 400);
	raw("GET", "/api/v1/memories/search", NULL, NULL, 0, &rs);
	cr_assert_eq(rs.status, 400);
	raw("GET", "/api/v1/system/health?space=NO!", NULL, NULL, 0, &rs);
	cr_assert_eq(rs.status, 422);
	raw("GET", "/health/alive", NULL, NULL, 0, &rs);
	cr_assert_eq(rs.status, 200);

	/* the legacy POST /api/v1/memories stores, but drops the embedding: [0.5; 768] */
	const char *legacy = "{\"content\":\"legacy\",\"embedding\":[1,2,3],\"confidence\":0.9}";
	raw("POST", "/api/v1/memories", "application/json", legacy, strlen(legacy), &rs);
	cr_assert_eq(rs.status, 201, "%s", rs.body.data);
	http_response_release(&rs);

	struct target *t = open_engram("default", NULL, 0);
	struct target_vectors all;
	target_vectors_init(&all, DIM);
	struct err e = ERR_INIT;
	cr_assert_eq(target_fetch_all(t, 0, &all, &e), 0, "%s", e.msg);
	cr_assert_eq(all.n, 1);
	for (int i = 0; i < DIM; i++)
		cr_assert_eq(all.vecs[i], 0.5f);
	target_vectors_release(&all);
	target_close(t);
}

Test(target_engram, auth_bearer_from_environment, .fini = stop_server)
{
	start_server("--api-key", "s3cret-key", NULL, NULL);
	struct err e = ERR_INIT;
	char ver[64];

	struct target *t = open_engram("default", NULL, 0);
	cr_assert_eq(target_health(t, ver, sizeof(ver), &e), -1);
	cr_assert(strstr(e.msg, "401 UNAUTHORIZED: Missing Authorization header"), "%s", e.msg);
	cr_assert(strstr(e.hint, "bearer_env"), "hint: %s", e.hint);
	target_close(t);

	setenv("ENGRAVE_TEST_KEY", "wrong", 1);
	t = open_engram("default", "ENGRAVE_TEST_KEY", 0);
	cr_assert_eq(target_health(t, ver, sizeof(ver), &e), -1);
	cr_assert(strstr(e.msg, "401 UNAUTHORIZED: API key not found"), "%s", e.msg);
	cr_assert_null(strstr(e.msg, "wrong"), "the secret never appears in messages");
	/* a token was sent: the hint says the server refused it, not "set bearer_env" */
	cr_assert(strstr(e.hint, "refused the token in $ENGRAVE_TEST_KEY"), "hint: %s", e.hint);
	cr_assert_null(strstr(e.hint, "set target.auth.bearer_env"), "hint: %s", e.hint);
	target_close(t);

	setenv("ENGRAVE_TEST_KEY", "s3cret-key", 1);
	t = open_engram("default", "ENGRAVE_TEST_KEY", 0);
	cr_assert_eq(target_health(t, ver, sizeof(ver), &e), 0, "%s", e.msg);
	store_n(t, 3, 1, 0.7f, 0);
	cr_assert_eq(count_of(t), 3);
	target_close(t);

	/* a named variable that is not set: refuse at open, naming it */
	unsetenv("ENGRAVE_TEST_NOPE");
	struct target_config cfg = { .driver = "engram", .url = srv.url, .bearer_env = "ENGRAVE_TEST_NOPE" };
	cr_assert_eq(target_open(&cfg, &t, &e), -1);
	cr_assert_eq(e.cls, ERR_USAGE);
	cr_assert(strstr(e.msg, "ENGRAVE_TEST_NOPE is not set"), "%s", e.msg);
	/* set but empty is said so */
	setenv("ENGRAVE_TEST_NOPE", "", 1);
	cr_assert_eq(target_open(&cfg, &t, &e), -1);
	cr_assert_eq(e.cls, ERR_USAGE);
	cr_assert(strstr(e.msg, "ENGRAVE_TEST_NOPE is empty"), "%s", e.msg);
	unsetenv("ENGRAVE_TEST_NOPE");
}

Test(target_engram, dedup_loss_is_visible_in_count, .fini = stop_server)
{
	start_server(NULL, NULL, NULL, NULL); /* dedup on, like Engram */
	struct target *t = open_engram("dedup-space", NULL, 0);
	float a[DIM], b[DIM];
	rand_vec(5, a, DIM);
	memcpy(b, a, sizeof(a));
	b[0] += 0.01f; /* cosine ~0.99995 */
	struct target_record r[2] = { { "near-1", a, "first", 0.6f, 0 }, { "near-2", b, "second", 0.9f, 0 } };
	struct target_store_result res[2];
	struct err e = ERR_INIT;
	cr_assert_eq(target_store_batch(t, r, 2, res, &e), 0, "%s", e.msg);
	cr_assert_eq(res[0].status, TARGET_STORED);
	cr_assert_eq(res[1].status, TARGET_STORED, "Engram answers 201 for a duplicate too");
	cr_assert_str_eq(res[1].server_id, "near-2");
	cr_assert_eq(count_of(t), 1, "the duplicate did not grow the count");
	/* KeepHighestConfidence: the more confident newcomer replaced the old one */
	const char *ids[2] = { "near-1", "near-2" };
	struct target_vectors got;
	target_vectors_init(&got, DIM);
	cr_assert_eq(target_get_vectors(t, ids, 2, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(got.n, 2);
	cr_assert_eq(got.found[0], 0);
	cr_assert_eq(got.found[1], 1);
	cr_assert_eq(memcmp(got.vecs + DIM, b, sizeof(b)), 0, "read-back is bit-exact");
	target_vectors_release(&got);
	/* other spaces are independent */
	struct target *t2 = open_engram("other-space", NULL, 0);
	cr_assert_eq(count_of(t2), 0);
	target_close(t2);
	target_close(t);
}

Test(target_engram, hot_tier_cap_evicts_lowest_confidence, .fini = stop_server)
{
	start_server("--no-dedup", "--hot-cap", "5", NULL);
	struct target *t = open_engram("default", NULL, 0);
	store_n(t, 8, 0, 0.1f, 0.1f); /* v0 (0.1) .. v7 (0.8) */
	cr_assert_eq(count_of(t), 5, "capped at 5");
	struct target_vectors all;
	target_vectors_init(&all, DIM);
	struct err e = ERR_INIT;
	cr_assert_eq(target_fetch_all(t, 0, &all, &e), 0, "%s", e.msg);
	cr_assert_eq(all.n, 5);
	for (size_t i = 0; i < all.n; i++) {
		int num = atoi(all.ids[i] + 1);
		cr_assert_geq(num, 3, "the three least confident were evicted, found %s", all.ids[i]);
		float v[DIM];
		rand_vec((uint64_t)num, v, DIM);
		cr_assert_eq(memcmp(all.vecs + i * DIM, v, sizeof(v)), 0, "vector of %s bit-exact", all.ids[i]);
	}
	target_vectors_release(&all);
	cr_assert_eq(target_reset(t, &e), -1);
	cr_assert_eq(e.cls, ERR_UNSUPPORTED);
	target_close(t);
}

Test(target_engram, paging_and_get_vectors, .fini = stop_server)
{
	start_server("--no-dedup", NULL, NULL, NULL);
	struct target *t = open_engram("default", NULL, 0);
	store_n(t, 1203, 0, 0.7f, 0);
	struct target_vectors pg;
	target_vectors_init(&pg, DIM);
	struct err e = ERR_INIT;
	cr_assert_eq(target_fetch_embeddings(t, 1000, 1000, &pg, &e), 0, "%s", e.msg);
	cr_assert_eq(pg.n, 203);
	target_vectors_release(&pg);
	/* more than the server's 1000-row clamp: the driver pages for us */
	cr_assert_eq(target_fetch_embeddings(t, 100, 1500, &pg, &e), 0, "%s", e.msg);
	cr_assert_eq(pg.n, 1103);
	target_vectors_release(&pg);
	cr_assert_eq(target_fetch_all(t, 0, &pg, &e), 0, "%s", e.msg);
	cr_assert_eq(pg.n, 1203);
	target_vectors_release(&pg);
	const char *ids[3] = { "v1202", "missing", "v0" };
	cr_assert_eq(target_get_vectors(t, ids, 3, &pg, &e), 0, "%s", e.msg);
	cr_assert_eq(pg.n, 3);
	cr_assert(pg.found[0] && !pg.found[1] && pg.found[2]);
	float v[DIM];
	rand_vec(1202, v, DIM);
	cr_assert_eq(memcmp(pg.vecs, v, sizeof(v)), 0);
	target_vectors_release(&pg);
	target_close(t);
}

struct async_ctx {
	struct target *t;
	struct target_req *rq;
	int stored, failed;
};

struct one {
	struct async_ctx *ctx;
	int i;
};

static void on_store(void *user, const struct http_response *rs, mono_ns sent, mono_ns done)
{
	(void)sent;
	(void)done;
	struct one *o = user;
	struct target_store_result r;
	struct err e = ERR_INIT;
	target_parse_store(o->ctx->t, &o->ctx->rq[o->i], rs, &r, &e);
	if (r.status == TARGET_STORED)
		o->ctx->stored++;
	else
		o->ctx->failed++;
}

Test(target_engram, async_builders_through_the_engine, .fini = stop_server)
{
	start_server("--no-dedup", NULL, NULL, NULL);
	struct target *t = open_engram("async", NULL, 0);
	enum { N = 200 };
	static float vecs[N][DIM];
	static char ids[N][16];
	struct target_req *rq = calloc(N, sizeof(*rq));
	struct one *ones = calloc(N, sizeof(*ones));
	struct async_ctx ctx = { t, rq, 0, 0 };
	struct engine *en;
	struct engine_opts o = { .max_connections = 16, .max_in_flight = 64 };
	struct err e = ERR_INIT;
	cr_assert_eq(engine_new(&o, &en, &e), 0, "%s", e.msg);
	for (int i = 0; i < N; i++) {
		rand_vec((uint64_t)i + 5000, vecs[i], DIM);
		snprintf(ids[i], sizeof(ids[i]), "a%d", i);
		struct target_record r = { ids[i], vecs[i], "async", 0.7f, 1700000000000000000LL };
		target_req_init(&rq[i]);
		cr_assert_eq(target_build_store(t, &r, 1, &rq[i], &e), 0, "%s", e.msg);
		ones[i] = (struct one){ &ctx, i };
		while (engine_submit(en, &rq[i].http, on_store, &ones[i], &e) != 0)
			cr_assert_geq(engine_poll(en, clock_mono_now() + NS_PER_MS, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(engine_drain(en, &e), 0, "%s", e.msg);
	cr_assert_eq(ctx.stored, N);
	cr_assert_eq(ctx.failed, 0);
	cr_assert_eq(count_of(t), N);

	/* recall through the builder/parser pair */
	struct target_req q;
	target_req_init(&q);
	cr_assert_eq(target_build_recall(t, vecs[42], 3, 0.5f, &q, &e), 0, "%s", e.msg);
	struct http_client *c;
	struct http_response rs;
	http_response_init(&rs);
	cr_assert_eq(http_client_new(&c, &e), 0, "%s", e.msg);
	cr_assert_eq(http_do(c, &q.http, &rs, &e), 0, "%s", e.msg);
	struct target_hits h;
	target_hits_init(&h);
	cr_assert_eq(target_parse_recall(t, &q, &rs, &h, &e), 0, "%s", e.msg);
	cr_assert_eq(h.n, 1);
	cr_assert_str_eq(h.v[0].id, "a42");
	target_hits_release(&h);
	http_response_release(&rs);
	http_client_free(c);
	target_req_release(&q);
	for (int i = 0; i < N; i++)
		target_req_release(&rq[i]);
	engine_free(en);
	free(rq);
	free(ones);
	target_close(t);
}

/* Every key path of `want` must exist in `got` with the same JSON type. */
static void same_shape(json_t *want, json_t *got, const char *path)
{
	cr_assert_not_null(got, "missing key %s", path);
	int wt = json_typeof(want), gt = json_typeof(got);
	int wnum = wt == JSON_REAL || wt == JSON_INTEGER, gnum = gt == JSON_REAL || gt == JSON_INTEGER;
	int wb = wt == JSON_TRUE || wt == JSON_FALSE, gb = gt == JSON_TRUE || gt == JSON_FALSE;
	cr_assert(wt == gt || (wnum && gnum) || (wb && gb), "type of %s differs", path);
	if (json_is_object(want)) {
		const char *k;
		json_t *v;
		json_object_foreach(want, k, v) {
			char sub[256];
			snprintf(sub, sizeof(sub), "%s.%s", path, k);
			same_shape(v, json_object_get(got, k), sub);
		}
		cr_assert_eq(json_object_size(want), json_object_size(got), "key count of %s differs", path);
	} else if (json_is_array(want) && json_array_size(want) && json_array_size(got)) {
		char sub[256];
		snprintf(sub, sizeof(sub), "%s[0]", path);
		same_shape(json_array_get(want, 0), json_array_get(got, 0), sub);
	}
}

Test(target_engram, response_shapes_match_real_engram, .fini = stop_server)
{
	const char *fs = test_shared_path("fixtures/engram/scenario_1.2_store.json");
	const char *fr0 = test_shared_path("fixtures/engram/scenario_1.2_recall.json");
	if (!fs || !fr0)
		cr_skip_test("../shared/fixtures/engram not present");
	char fr[4096];
	snprintf(fr, sizeof(fr), "%s", fr0);
	char fsc[4096];
	snprintf(fsc, sizeof(fsc), "%s", test_shared_path("fixtures/engram/scenario_1.2_store.json"));
	json_error_t je;
	json_t *want_store = json_load_file(fsc, 0, &je);
	json_t *want_recall = json_load_file(fr, 0, &je);
	cr_assert(want_store && want_recall);

	start_server(NULL, NULL, NULL, NULL);
	struct http_response rs;
	http_response_init(&rs);
	const char *body = "{\"content\":\"The mitochondria is the powerhouse of the cell\",\"confidence\":0.85,"
			   "\"timestamp\":\"2024-01-04T08:15:00Z\"}";
	raw("POST", "/api/v1/memories/remember", "application/json", body, strlen(body), &rs);
	cr_assert_eq(rs.status, 201);
	json_t *got = json_loadb(rs.body.data, rs.body.len, 0, &je);
	same_shape(want_store, got, "remember");
	const char *mid = json_string_value(json_object_get(got, "memory_id"));
	cr_assert(mid && strncmp(mid, "mem_", 4) == 0 && strlen(mid) == 12, "default id is mem_ + 8 hex: %s", mid);
	cr_assert_str_eq(json_string_value(json_object_get(got, "observed_at")), "2024-01-04T08:15:00Z");
	json_decref(got);

	raw("GET", "/api/v1/memories/recall?query=mitochondria", NULL, NULL, 0, &rs);
	cr_assert_eq(rs.status, 200);
	got = json_loadb(rs.body.data, rs.body.len, 0, &je);
	same_shape(want_recall, got, "recall");
	json_decref(got);
	json_decref(want_store);
	json_decref(want_recall);
	http_response_release(&rs);
}

Test(target_engram, unknown_driver_and_unreachable_server)
{
	struct target_config cfg = { .driver = "engarm", .url = "http://127.0.0.1:9" };
	struct target *t = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(target_open(&cfg, &t, &e), -1);
	cr_assert_eq(e.cls, ERR_SPEC);
	cr_assert(strstr(e.hint, "did you mean 'engram'"), "%s", e.hint);

	int port = server_proc_free_port();
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	cfg.driver = "engram";
	cfg.url = url;
	cfg.retries = 1;
	cr_assert_eq(target_open(&cfg, &t, &e), 0, "%s", e.msg);
	char ver[64];
	cr_assert_eq(target_health(t, ver, sizeof(ver), &e), -1);
	cr_assert_eq(e.cls, ERR_NET);
	cr_assert(strstr(e.msg, url), "names the URL: %s", e.msg);
	cr_assert(strstr(e.hint, "engram server running"), "hint: %s", e.hint);
	target_close(t);
}

/*
 * Read-back pages carry each memory's content: 700 memories of 99,000 bytes
 * make a 1000-row page of about 70 MB, over the 64 MiB response limit. The
 * driver halves its page until the answer fits instead of failing with
 * "is the engram server running?" (it is).
 */
Test(target_engram, read_back_pages_shrink_to_the_response_limit, .fini = stop_server, .timeout = 120)
{
	start_server("--no-dedup", NULL, NULL, NULL);
	struct target *t = open_engram("big", NULL, DIM);
	const int n = 700;
	const size_t len = 99000;
	char *text = malloc(len + 1);
	float *v = malloc(DIM * sizeof(float));
	struct err e = ERR_INIT;
	for (int i = 0; i < n; i++) {
		memset(text, 'a' + i % 26, len);
		text[len] = '\0';
		char id[32];
		snprintf(id, sizeof(id), "big%d", i);
		rand_vec((uint64_t)(5000 + i), v, DIM);
		struct target_record r = { id, v, text, 0.8f, 0 };
		struct target_store_result res;
		cr_assert_eq(target_store_batch(t, &r, 1, &res, &e), 0, "store %d: %s", i, e.msg);
		cr_assert_eq(res.status, TARGET_STORED, "record %d: %s", i, res.reason);
	}
	struct target_vectors all;
	target_vectors_init(&all, DIM);
	cr_assert_eq(target_fetch_all(t, 0, &all, &e), 0, "fetch_all: %s (%s)", e.msg, e.hint);
	cr_assert_eq(all.n, (size_t)n);
	cr_assert(t->page_rows > 0 && t->page_rows < 1000, "page shrank to %u", t->page_rows);
	target_vectors_release(&all);
	free(text);
	free(v);
	target_close(t);
}

/* describe_env: the server's /health as target.* keys; a server that is not
 * there is "unavailable: why", with the config's keys still there. */
Test(target_engram, describes_itself_and_says_when_it_cannot, .fini = stop_server)
{
	start_server(NULL, NULL, NULL, NULL);
	struct target *t = open_engram("envspace", NULL, DIM);
	static struct envlist l;
	envlist_init(&l);
	target_describe_env(t, &l);
	static const char *const want[][2] = { { "target.driver", "engram" }, { "target.namespace", "envspace" },
					       { "target.dim", "768" },        { "target.version", "0.1.0" },
					       { "target.service", "engram" }, { "target.health", "healthy" } };
	cr_assert_eq(l.n, 6);
	for (int i = 0; i < 6; i++) {
		cr_assert_str_eq(l.v[i].key, want[i][0]);
		cr_assert_str_eq(l.v[i].value, want[i][1], "%s", want[i][0]);
	}
	target_close(t);

	struct target_config cfg = { .driver = "engram", .url = "http://127.0.0.1:1", .dim = DIM };
	struct err e = ERR_INIT;
	cr_assert_eq(target_open(&cfg, &t, &e), 0, "%s", e.msg);
	envlist_init(&l);
	target_describe_env(t, &l);
	cr_assert_str_eq(envlist_get(&l, "target.driver")->value, "engram");
	const struct envlist_item *why = envlist_get(&l, "target.describe");
	cr_assert_not_null(why);
	cr_assert(!strncmp(why->value, "unavailable: ", 13) && strstr(why->value, "127.0.0.1:1"), "%s", why->value);
	target_close(t);
}
