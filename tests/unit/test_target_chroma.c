/*
 * test_target_chroma.c — the chroma driver against a real Chroma server.
 *
 * Starts tools/chroma/node_modules/.bin/chroma (the pinned npm install) on a
 * free port with its data in a temp dir, loads 8K 768-d vectors through the
 * driver, and checks count, a bit-exact read-back sample, nearest-neighbour
 * recall of a perturbed stored vector, paging, reset and the server's
 * dimension error. Skipped when Chroma is not installed. The ingest rate is
 * printed (stderr), never asserted.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engrave/clock.h"
#include "engrave/engine.h"
#include "engrave/err.h"
#include "engrave/target.h"
#include "../lib/server_proc.h"
#include "../lib/testutil.h"

#define DIM 768
#define N 8000

static struct server_proc srv;
static char *datadir;

static void start_chroma(void)
{
	char bin[4096];
	snprintf(bin, sizeof(bin), "%s/tools/chroma/node_modules/.bin/chroma", test_root());
	if (access(bin, X_OK) != 0)
		cr_skip_test("chroma not installed (run tools/install-deps.sh --chroma)");
	datadir = test_tmpdir("chroma");
	int port = server_proc_free_port();
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	char *argv[] = { bin, "run", "--path", datadir, "--host", "127.0.0.1", "--port", ps, NULL };
	cr_assert_eq(server_proc_start(&srv, argv, port, 30000), 0, "chroma did not start");
}

static void stop_chroma(void)
{
	if (srv.pid > 0)
		server_proc_stop(&srv);
	if (datadir) {
		test_rmtree(datadir);
		free(datadir);
		datadir = NULL;
	}
}

static void rand_vec(uint64_t seed, float *v, int dim)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 7;
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

/* Distance in units in the last place between two floats of the same sign. */
static int ulp_diff(float a, float b)
{
	int32_t x, y;
	memcpy(&x, &a, 4);
	memcpy(&y, &b, 4);
	if ((x < 0) != (y < 0))
		return a == b ? 0 : 1 << 30;
	int64_t d = (int64_t)x - y;
	return (int)(d < 0 ? -d : d);
}

struct job {
	struct target *t;
	struct target_req rq;
	struct target_store_result *res;
	int done;
};

static void on_done(void *user, const struct http_response *rs, mono_ns sent, mono_ns done)
{
	(void)sent;
	(void)done;
	struct job *j = user;
	struct err e = ERR_INIT;
	target_parse_store(j->t, &j->rq, rs, j->res, &e);
	j->done = 1;
}

/* Store n records in batches of `batch` with up to `par` requests in flight
 * (engine + target_build_store/target_parse_store); returns the peak in flight. */
static size_t ingest_async(struct target *t, const struct target_record *recs, size_t n,
			   struct target_store_result *res, size_t batch, int par)
{
	struct engine *en;
	struct engine_opts o = { .max_connections = par, .max_in_flight = par };
	struct err e = ERR_INIT;
	cr_assert_eq(engine_new(&o, &en, &e), 0, "%s", e.msg);
	size_t nb = (n + batch - 1) / batch, peak = 0;
	struct job *jobs = calloc(nb, sizeof(*jobs));
	for (size_t b = 0; b < nb; b++) {
		size_t m = n - b * batch < batch ? n - b * batch : batch;
		jobs[b].t = t;
		jobs[b].res = res + b * batch;
		target_req_init(&jobs[b].rq);
		cr_assert_eq(target_build_store(t, recs + b * batch, m, &jobs[b].rq, &e), 0, "%s", e.msg);
		while (engine_submit(en, &jobs[b].rq.http, on_done, &jobs[b], &e) != 0)
			cr_assert_geq(engine_poll(en, clock_mono_now() + 50 * NS_PER_MS, &e), 0, "%s", e.msg);
		if ((size_t)engine_in_flight(en) > peak)
			peak = (size_t)engine_in_flight(en);
		/* free bodies of finished batches early */
		for (size_t k = 0; k < b; k++)
			if (jobs[k].done == 1) {
				target_req_release(&jobs[k].rq);
				jobs[k].done = 2;
			}
	}
	cr_assert_eq(engine_drain(en, &e), 0, "%s", e.msg);
	for (size_t b = 0; b < nb; b++) {
		cr_assert(jobs[b].done, "batch %zu completed", b);
		if (jobs[b].done == 1)
			target_req_release(&jobs[b].rq);
	}
	free(jobs);
	engine_free(en);
	return peak;
}

static struct target *open_chroma(uint32_t dim)
{
	struct target_config cfg = { .driver = "chroma", .url = srv.url, .space = "engrave-test",
				     .dim = dim, .metric = "cosine", .hnsw_ef_construction = 64,
				     .hnsw_max_neighbors = 16, .hnsw_ef_search = 128 };
	struct target *t = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(target_open(&cfg, &t, &e), 0, "%s", e.msg);
	return t;
}

Test(target_chroma, load_8k_verify_and_query, .fini = stop_chroma, .timeout = 240)
{
	start_chroma();
	struct target *t = open_chroma(DIM);
	struct err e = ERR_INIT;
	char ver[64];
	cr_assert_eq(target_health(t, ver, sizeof(ver), &e), 0, "%s", e.msg);
	cr_assert_str_eq(ver, "1.0.0");
	cr_assert_eq(target_reset(t, &e), 0, "%s", e.msg);
	uint64_t n = 99;
	cr_assert_eq(target_count(t, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 0);
	cr_assert_gt(target_max_batch(t), 1000, "max_batch_size from pre-flight-checks");

	float *vecs = malloc((size_t)N * DIM * sizeof(float));
	struct target_record *recs = calloc(N, sizeof(*recs));
	char (*ids)[16] = calloc(N, 16);
	struct target_store_result *res = calloc(N, sizeof(*res));
	for (int i = 0; i < N; i++) {
		rand_vec((uint64_t)i, vecs + (size_t)i * DIM, DIM);
		snprintf(ids[i], 16, "c%d", i);
		recs[i] = (struct target_record){ ids[i], vecs + (size_t)i * DIM, NULL, -1, 0 };
	}
	/* the first batch through the synchronous path, the rest through the
	 * async builders on the engine with a few batches in flight */
	mono_ns t0 = clock_mono_now();
	cr_assert_eq(target_store_batch(t, recs, 1000, res, &e), 0, "%s", e.msg);
	size_t inflight = ingest_async(t, recs + 1000, N - 1000, res + 1000, 1000, 3);
	double secs = (double)(clock_mono_now() - t0) / 1e9;
	fprintf(stderr, "chroma ingest: %d x %d-d vectors in %.2f s = %.0f vectors/s (batches of 1000, %zu in flight, base64)\n",
		N, DIM, secs, N / secs, inflight);
	for (int i = 0; i < N; i++)
		cr_assert_eq(res[i].status, TARGET_STORED, "record %d: %s", i, res[i].reason);

	cr_assert_eq(target_count(t, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, N);

	/* a read-back sample is bit-exact */
	enum { S = 200 };
	const char *sample[S + 1];
	for (int i = 0; i < S; i++)
		sample[i] = ids[(i * 9973) % N];
	sample[S] = "no-such-id";
	struct target_vectors got;
	target_vectors_init(&got, DIM);
	cr_assert_eq(target_get_vectors(t, sample, S + 1, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(got.n, S + 1);
	/* Chroma's JSON /get prints some float32 values with one digit too few
	 * (e.g. -0.013790041f comes back as -0.01379004, 1 ulp away), and it has
	 * no base64 output: so the sample must match within 1 ulp, and we count
	 * how much of it is bit-exact. */
	size_t exact = 0, total = 0;
	int worst = 0;
	for (int i = 0; i < S; i++) {
		int k = (i * 9973) % N;
		cr_assert(got.found[i], "%s found", sample[i]);
		for (int d = 0; d < DIM; d++) {
			int u = ulp_diff(got.vecs[(size_t)i * DIM + d], vecs[(size_t)k * DIM + d]);
			if (u > worst)
				worst = u;
			exact += u == 0;
			total++;
		}
	}
	fprintf(stderr, "chroma read-back: %zu of %zu floats bit-exact, worst %d ulp\n", exact, total, worst);
	cr_assert_leq(worst, 1, "read-back within 1 ulp");
	cr_assert_gt(exact, total / 2, "most floats come back bit-exact");
	cr_assert_eq(got.found[S], 0);
	target_vectors_release(&got);

	/* which ids it holds, by id only, across more than one request chunk */
	enum { H = 2500 };
	const char **ask = calloc(H, sizeof(*ask));
	unsigned char *found = calloc(H, 1);
	char (*absent)[32] = calloc(H, 32);
	for (int i = 0; i < H; i++) {
		if (i % 5 == 4) {
			snprintf(absent[i], 32, "absent-%d", i);
			ask[i] = absent[i];
		} else {
			ask[i] = ids[(i * 7919) % N];
		}
	}
	cr_assert_eq(target_has_ids(t, ask, H, found, &e), 0, "%s", e.msg);
	for (int i = 0; i < H; i++)
		cr_assert_eq(found[i], i % 5 != 4, "%s: found %d", ask[i], found[i]);
	free(ask);
	free(found);
	free(absent);

	/* nearest neighbour of a stored vector plus tiny noise is that vector */
	struct target_hits h;
	target_hits_init(&h);
	float q[DIM];
	for (int probe = 0; probe < 5; probe++) {
		int k = (1234 + probe * 3001) % N;
		float noise[DIM];
		rand_vec(900000 + (uint64_t)probe, noise, DIM);
		for (int d = 0; d < DIM; d++)
			q[d] = vecs[(size_t)k * DIM + d] + 0.001f * noise[d];
		cr_assert_eq(target_recall(t, q, 10, 0.0f, &h, &e), 0, "%s", e.msg);
		cr_assert_eq(h.n, 10);
		cr_assert_str_eq(h.v[0].id, ids[k]);
		cr_assert_gt(h.v[0].score, 0.99f);
		cr_assert_lt(h.v[1].score, 0.5f, "random vectors are far apart");
	}
	/* threshold filtering happens in the parser */
	cr_assert_eq(target_recall(t, q, 10, 0.5f, &h, &e), 0, "%s", e.msg);
	cr_assert_eq(h.n, 1);

	/* paging */
	struct target_vectors pg;
	target_vectors_init(&pg, DIM);
	cr_assert_eq(target_fetch_embeddings(t, N - 10, 100, &pg, &e), 0, "%s", e.msg);
	cr_assert_eq(pg.n, 10);
	target_vectors_release(&pg);

	/* no text search in chroma */
	cr_assert_eq(target_search(t, "anything", 5, &h, &e), -1);
	cr_assert_eq(e.cls, ERR_UNSUPPORTED);
	target_hits_release(&h);

	/* a wrong dimension is rejected per record with the server's message */
	struct target *t3 = open_chroma(3);
	float v3[3] = { 1, 2, 3 };
	struct target_record r3 = { "short", v3, NULL, -1, 0 };
	struct target_store_result rr;
	cr_assert_eq(target_store_batch(t3, &r3, 1, &rr, &e), 0, "%s", e.msg);
	cr_assert_eq(rr.status, TARGET_REJECTED);
	cr_assert(strstr(rr.reason, "400 InvalidArgumentError: Collection expecting embedding with dimension of 768, got 3"),
		  "%s", rr.reason);
	target_close(t3);

	/* reset empties the collection */
	cr_assert_eq(target_reset(t, &e), 0, "%s", e.msg);
	cr_assert_eq(target_count(t, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 0);

	free(vecs);
	free(recs);
	free(ids);
	free(res);
	target_close(t);
}
