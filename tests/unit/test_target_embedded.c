/*
 * test_target_embedded.c — the in-process exact index against brute force.
 *
 * Recall must equal an independent double-precision brute-force top-k
 * (same ids in the same order, scores within float rounding) for cosine,
 * inner product and L2, honour Engram's max(0, cosine) threshold, overwrite
 * on a repeated id, page and read back bit-exactly, and survive one writer
 * with concurrent readers.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/envlist.h"
#include "engrave/err.h"
#include "engrave/target.h"

#define DIM 64
#define N 3000

static void rand_vec(uint64_t seed, float *v, int dim)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 3;
	for (int i = 0; i < dim; i++) {
		uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
		z ^= z >> 31;
		v[i] = (float)((double)(z >> 11) / 4503599627370496.0 - 1.0);
	}
}

static struct target *open_embedded(const char *space, const char *metric)
{
	struct target_config cfg = { .driver = "embedded", .space = space, .dim = DIM, .metric = metric };
	struct target *t = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(target_open(&cfg, &t, &e), 0, "%s", e.msg);
	cr_assert_eq(target_reset(t, &e), 0, "%s", e.msg);
	return t;
}

static float *load(struct target *t, int n)
{
	float *vecs = malloc((size_t)n * DIM * sizeof(float));
	struct target_record *recs = calloc((size_t)n, sizeof(*recs));
	char (*ids)[16] = calloc((size_t)n, 16);
	struct target_store_result *res = calloc((size_t)n, sizeof(*res));
	for (int i = 0; i < n; i++) {
		rand_vec((uint64_t)i, vecs + (size_t)i * DIM, DIM);
		snprintf(ids[i], 16, "e%d", i);
		recs[i] = (struct target_record){ ids[i], vecs + (size_t)i * DIM, i % 3 ? "blue sky" : "Red Sky", 0.7f, 0 };
	}
	struct err e = ERR_INIT;
	cr_assert_eq(target_exec_store(t, recs, (size_t)n, res, &e), 0, "%s", e.msg);
	for (int i = 0; i < n; i++)
		cr_assert_eq(res[i].status, TARGET_STORED);
	free(recs);
	free(ids);
	free(res);
	return vecs;
}

struct ref {
	int row;
	double score;
};

static int cmp_ref(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->row - y->row;
}

/* Independent brute force in double precision. */
static int brute(const float *vecs, int n, const float *q, int k, double thr, int metric,
		 struct ref *out)
{
	struct ref *all = malloc((size_t)n * sizeof(*all));
	int m = 0;
	for (int r = 0; r < n; r++) {
		const float *v = vecs + (size_t)r * DIM;
		double dot = 0, nv = 0, nq = 0, d2 = 0;
		for (int i = 0; i < DIM; i++) {
			dot += (double)v[i] * q[i];
			nv += (double)v[i] * v[i];
			nq += (double)q[i] * q[i];
			d2 += ((double)v[i] - q[i]) * ((double)v[i] - q[i]);
		}
		double s = metric == 0 ? fmax(0, dot / sqrt(nv * nq)) : metric == 1 ? dot : -sqrt(d2);
		if (metric != 2 && s < thr)
			continue;
		all[m].row = r;
		all[m].score = s;
		m++;
	}
	qsort(all, (size_t)m, sizeof(*all), cmp_ref);
	if (m > k)
		m = k;
	memcpy(out, all, (size_t)m * sizeof(*out));
	free(all);
	return m;
}

static void check_metric(const char *metric, int mcode, double thr)
{
	char space[32];
	snprintf(space, sizeof(space), "exact-%s", metric);
	struct target *t = open_embedded(space, metric);
	cr_assert_eq(target_has_http(t), 0);
	float *vecs = load(t, N);
	struct target_hits h;
	target_hits_init(&h);
	struct ref want[20];
	struct err e = ERR_INIT;
	for (int qi = 0; qi < 25; qi++) {
		float q[DIM];
		rand_vec(100000 + (uint64_t)qi, q, DIM);
		cr_assert_eq(target_recall(t, q, 20, (float)thr, &h, &e), 0, "%s", e.msg);
		int m = brute(vecs, N, q, 20, thr, mcode, want);
		cr_assert_eq((int)h.n, m, "%s query %d: %zu hits, brute force %d", metric, qi, h.n, m);
		for (int i = 0; i < m; i++) {
			char id[16];
			snprintf(id, sizeof(id), "e%d", want[i].row);
			/* adjacent near-ties could swap under float rounding; none at these gaps */
			cr_assert_str_eq(h.v[i].id, id, "%s query %d rank %d", metric, qi, i);
			cr_assert_float_eq(h.v[i].score, want[i].score, 1e-4 * fmax(1, fabs(want[i].score)));
		}
	}
	target_hits_release(&h);
	free(vecs);
	target_close(t);
}

Test(target_embedded, cosine_matches_brute_force) { check_metric("cosine", 0, 0.0); }
Test(target_embedded, cosine_threshold_matches_brute_force) { check_metric("cosine", 0, 0.2); }
Test(target_embedded, inner_product_matches_brute_force) { check_metric("ip", 1, -1e9); }
Test(target_embedded, l2_matches_brute_force) { check_metric("l2", 2, 0.0); }

Test(target_embedded, overwrite_fetch_get_search_reset)
{
	struct target *t = open_embedded("misc", "cosine");
	float *vecs = load(t, 100);
	struct err e = ERR_INIT;
	uint64_t n;
	cr_assert_eq(target_count(t, &n, &e), 0);
	cr_assert_eq(n, 100);

	/* storing an existing id overwrites it */
	float v[DIM];
	rand_vec(777, v, DIM);
	struct target_record r = { "e5", v, "changed", 0.7f, 0 };
	struct target_store_result res;
	cr_assert_eq(target_store_batch(t, &r, 1, &res, &e), 0);
	cr_assert_eq(target_count(t, &n, &e), 0);
	cr_assert_eq(n, 100);

	const char *ids[3] = { "e5", "e99", "nope" };
	struct target_vectors got;
	target_vectors_init(&got, DIM);
	cr_assert_eq(target_get_vectors(t, ids, 3, &got, &e), 0, "%s", e.msg);
	cr_assert(got.found[0] && got.found[1] && !got.found[2]);
	cr_assert_eq(memcmp(got.vecs, v, sizeof(v)), 0);
	cr_assert_eq(memcmp(got.vecs + DIM, vecs + 99 * DIM, sizeof(v)), 0);
	target_vectors_release(&got);

	cr_assert_eq(target_fetch_embeddings(t, 90, 50, &got, &e), 0);
	cr_assert_eq(got.n, 10);
	cr_assert_str_eq(got.ids[0], "e90");
	target_vectors_release(&got);
	cr_assert_eq(target_fetch_all(t, 0, &got, &e), 0);
	cr_assert_eq(got.n, 100);
	target_vectors_release(&got);

	/* a second target on the same space sees the same data (one run, two steps) */
	struct target_config cfg = { .driver = "embedded", .space = "misc", .dim = DIM };
	struct target *t2;
	cr_assert_eq(target_open(&cfg, &t2, &e), 0);
	cr_assert_eq(target_count(t2, &n, &e), 0);
	cr_assert_eq(n, 100);
	cfg.dim = DIM + 1;
	struct target *t3;
	cr_assert_eq(target_open(&cfg, &t3, &e), -1, "dimension mismatch on an existing space");
	target_close(t2);

	struct target_hits h;
	target_hits_init(&h);
	cr_assert_eq(target_search(t, "Red", 100, &h, &e), 0);
	cr_assert_eq(h.n, 34); /* "Red Sky": e0, e3, ..., e99 */
	cr_assert_float_eq(h.v[0].score, 0.9f, 1e-6);
	cr_assert_eq(target_search(t, "sky", 1000, &h, &e), 0);
	cr_assert_eq(h.n, 99, "65 'blue sky' (e5 now 'changed') + 34 'Red Sky', got %zu", h.n);
	cr_assert_float_eq(h.v[0].score, 0.9f, 1e-6); /* exact-case matches first */
	cr_assert_float_eq(h.v[98].score, 0.7f, 1e-6);
	target_hits_release(&h);

	struct target_info info;
	cr_assert_eq(target_describe(t, &info, &e), 0);
	cr_assert_str_eq(info.driver, "embedded");
	cr_assert_eq(target_reset(t, &e), 0);
	cr_assert_eq(target_count(t, &n, &e), 0);
	cr_assert_eq(n, 0);
	free(vecs);
	target_close(t);
}

struct reader_ctx {
	struct target *t;
	int failures;
};

static void *reader(void *arg)
{
	struct reader_ctx *c = arg;
	struct target_hits h;
	target_hits_init(&h);
	float q[DIM];
	for (int i = 0; i < 200; i++) {
		struct err e = ERR_INIT;
		rand_vec((uint64_t)i, q, DIM); /* e<i> once written: its own top hit */
		if (target_exec_recall(c->t, q, 5, 0.0f, &h, &e))
			c->failures++;
		for (size_t k = 1; k < h.n; k++)
			if (h.v[k].score > h.v[k - 1].score)
				c->failures++;
	}
	target_hits_release(&h);
	return NULL;
}

Test(target_embedded, one_writer_many_readers)
{
	struct target *t = open_embedded("concurrent", "cosine");
	struct reader_ctx rc = { t, 0 };
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, reader, &rc);
	float *vecs = load(t, 2000);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(rc.failures, 0);
	struct target_hits h;
	target_hits_init(&h);
	struct err e = ERR_INIT;
	cr_assert_eq(target_exec_recall(t, vecs + 1234 * DIM, 1, 0.0f, &h, &e), 0);
	cr_assert_str_eq(h.v[0].id, "e1234");
	cr_assert_float_eq(h.v[0].score, 1.0f, 1e-5);
	target_hits_release(&h);
	free(vecs);
	target_close(t);
}

/* describe_env: the in-process index's own parameters, never "unavailable". */
Test(target_embedded, describes_its_parameters)
{
	struct target *t = open_embedded("env-describe", "l2");
	float *v = load(t, 10);
	static struct envlist l;
	envlist_init(&l);
	target_describe_env(t, &l);
	cr_assert_str_eq(envlist_get(&l, "target.driver")->value, "embedded");
	cr_assert_str_eq(envlist_get(&l, "target.metric")->value, "l2");
	cr_assert_str_eq(envlist_get(&l, "target.index")->value, "exact scan, in process");
	cr_assert_str_eq(envlist_get(&l, "target.rows")->value, "10");
	cr_assert_eq(envlist_get(&l, "target.rows")->is_num, 1);
	cr_assert_null(envlist_get(&l, "target.namespace"), "the embedded driver has no namespace key");
	cr_assert_null(envlist_get(&l, "target.describe"));
	free(v);
	target_close(t);
}

/* Deleting ids: the rest stay findable by id and by vector, the deleted are
 * gone from count, read-back and recall, and an unknown id is ignored. */
Test(target_embedded, delete_by_id)
{
	struct target *t = open_embedded("del", "cosine");
	float *vecs = load(t, 50);
	const char *gone[] = { "e0", "e49", "e7", "nope" };
	struct err e = ERR_INIT;
	cr_assert(target_can(t, TARGET_CAP_DELETE));
	cr_assert_eq(target_delete(t, gone, 4, &e), 0, "%s", e.msg);
	uint64_t n = 0;
	cr_assert_eq(target_count(t, &n, &e), 0);
	cr_assert_eq(n, 47);
	struct target_hits h;
	target_hits_init(&h);
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(target_exec_recall(t, vecs + (size_t)i * DIM, 1, -1.0f, &h, &e), 0, "%s", e.msg);
		char id[16];
		snprintf(id, sizeof(id), "e%d", i);
		int deleted = i == 0 || i == 49 || i == 7;
		cr_assert_eq(h.n, 1);
		cr_assert_eq(strcmp(h.v[0].id, id) != 0, deleted, "%s -> %s", id, h.v[0].id);
	}
	const char *ask[] = { "e0", "e48", "e1" };
	unsigned char found[3] = { 9, 9, 9 };
	cr_assert_eq(target_has_ids(t, ask, 3, found, &e), 0, "%s", e.msg);
	cr_assert(!found[0] && found[1] && found[2]);
	target_hits_release(&h);
	free(vecs);
	target_close(t);
}
