/*
 * test_runbook.c — the runbook's ground truth against an independent brute
 * force.
 *
 * knn_timed: random versions with random lives, random query times; each
 * answer must be the top-k of a plain double-precision scan over the rows
 * live at the query's time.
 *
 * The step: a small runbook with inserts, deletes, replaces (one of them
 * beside a search) runs on the embedded target; the test rebuilds which ids
 * held which vector at every search's send time from the journal of
 * acknowledged writes alone, brute-forces the top-k, and compares it with
 * the truth the step stored, search by search. The embedded index is exact,
 * so phases with no write beside them must score recall 1.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/knn_timed.h"
#include "engrave/records.h"
#include "engrave/sched.h"
#include "engrave/spec.h"
#include "engrave/steps.h"
#include "engrave/store.h"
#include "engrave/target.h"
#include "../lib/testutil.h"

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

static double unif(uint64_t s) { return (double)(mix(s) >> 11) / 9007199254740992.0; }

static double cosine(const float *a, const float *b, uint32_t d)
{
	double ab = 0, aa = 0, bb = 0;
	for (uint32_t i = 0; i < d; i++)
		ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
	return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

/* top-k rows by cosine among live[] (brute force); returns how many. */
static uint32_t brute_topk(const float *q, const float *const *vec, const int *live, size_t n, uint32_t d, uint32_t k,
			   size_t *out)
{
	double *best = calloc(k, sizeof(double));
	uint32_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (!live[i])
			continue;
		double s = cosine(q, vec[i], d);
		if (m == k && s <= best[k - 1])
			continue;
		uint32_t p = m < k ? m++ : k - 1;
		while (p > 0 && s > best[p - 1]) {
			best[p] = best[p - 1];
			out[p] = out[p - 1];
			p--;
		}
		best[p] = s;
		out[p] = i;
	}
	free(best);
	return m;
}

static const float *row_of(void *ctx, size_t i) { return (const float *)ctx + i * 12; }

Test(runbook_truth, knn_timed_matches_brute_force)
{
	enum { NB = 600, NQ = 80, D = 12, K = 7 };
	float *base = malloc(NB * D * sizeof(float)), *q = malloc(NQ * D * sizeof(float));
	int64_t on[NB], off[NB], qt[NQ];
	for (size_t i = 0; i < NB * D; i++)
		base[i] = (float)(unif(i) * 2 - 1);
	for (size_t i = 0; i < NQ * D; i++)
		q[i] = (float)(unif(100000 + i) * 2 - 1);
	for (int i = 0; i < NB; i++) { /* a third always live, the rest born and dying in [0, 1000) */
		int64_t a = (int64_t)(unif(5000 + i) * 1000), b = (int64_t)(unif(7000 + i) * 1000);
		on[i] = i % 3 ? (a < b ? a : b) : INT64_MIN;
		off[i] = i % 3 == 1 ? (a < b ? b : a) : INT64_MAX;
	}
	for (int j = 0; j < NQ; j++)
		qt[j] = (int64_t)(unif(9000 + j) * 1000);
	uint32_t ids[NQ * K], n[NQ];
	struct err e = ERR_INIT;
	cr_assert_eq(knn_timed(q, qt, NQ, row_of, base, on, off, NB, D, K, KNN_COSINE, ids, n, &e), 0, "%s", e.msg);
	const float *vec[NB];
	int live[NB];
	for (int j = 0; j < NQ; j++) {
		for (int i = 0; i < NB; i++) {
			vec[i] = base + i * D;
			live[i] = on[i] <= qt[j] && off[i] > qt[j];
		}
		size_t want[K];
		uint32_t m = brute_topk(q + j * D, vec, live, NB, D, K, want);
		cr_assert_eq(n[j], m, "query %d: %u vs %u", j, n[j], m);
		for (uint32_t a = 0; a < m; a++)
			cr_assert_eq(ids[j * K + a], want[a], "query %d rank %u", j, a);
	}
	free(base);
	free(q);
}

/* ---- the step on the embedded target -------------------------------------------- */

static const char spec_yaml[] =
	"name: rb-truth\n"
	"seed: 11\n"
	"target: {driver: embedded}\n"
	"steps:\n"
	"  centroids: {from: random, k: 6, dim: 16}\n"
	"  synthetic: {count: 1500, std_dev: 0.3}\n"
	"  queries: {count: 40, source: heldout}\n"
	"  runbook:\n"
	"    batch_size: 50\n"
	"    tracers: 2\n"
	"    phases:\n"
	"      - insert: {from: 0, to: 1000}\n"
	"      - search: {rate: 200, duration: 500ms, k: 10}\n"
	"      - delete: {from: 0, to: 300, rate: 2000}\n"
	"      - search: {rate: 200, duration: 500ms, k: 10, concurrent: true}\n"
	"      - replace: {from: 300, to: 500, with_from: 1000}\n"
	"      - search: {rate: 200, duration: 500ms, k: 5}\n";

struct ev {
	int64_t ack;
	unsigned p, b;
};

struct evs {
	struct ev v[256];
	size_t n;
};

static int collect(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct evs *s = ctx;
	cr_assert_eq(kl, 6);
	cr_assert_geq(vl, 16);
	const unsigned char *kb = k;
	struct ev ev = { 0, (unsigned)(kb[0] << 8 | kb[1]), (unsigned)(kb[2] << 24 | kb[3] << 16 | kb[4] << 8 | kb[5]) };
	memcpy(&ev.ack, v, 8);
	cr_assert_lt(s->n, 256);
	s->v[s->n++] = ev;
	return 0;
}

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;
	return x->ack < y->ack ? -1 : x->ack > y->ack;
}

static void read_part(struct store *st, const struct artifact *a, const char *name, struct buf *out)
{
	struct err e = ERR_INIT;
	const struct digest *d = artifact_part(a, name);
	cr_assert_not_null(d, "part %s", name);
	cr_assert_eq(obj_get(st, d, out, &e), 0, "%s", e.msg);
}

/* vec_of[row] at time t: the vector row `row` holds (NULL: not live), from the acks alone. */
static void state_at(const struct spec *sp, const struct evs *ev, int64_t t, const float *syn, uint32_t d,
		     const float **vec_of)
{
	for (size_t r = 0; r < sp->synthetic.count; r++)
		vec_of[r] = NULL;
	for (size_t i = 0; i < ev->n && ev->v[i].ack <= t; i++) {
		const struct spec_phase *ph = &sp->runbook.phases[ev->v[i].p];
		uint64_t lo = ph->from + ev->v[i].b * sp->runbook.batch_size;
		uint64_t hi = lo + sp->runbook.batch_size < ph->to ? lo + sp->runbook.batch_size : ph->to;
		for (uint64_t r = lo; r < hi; r++)
			vec_of[r] = ph->kind == SPEC_PHASE_DELETE ? NULL
				    : ph->kind == SPEC_PHASE_REPLACE ? syn + (ph->with_from + r - ph->from) * d
								     : syn + r * d;
	}
}

static void check_phase(struct store *st, const struct spec *sp, const char *run, const struct artifact *rba,
			const struct evs *ev, const float *syn, const float *qv, uint32_t d, size_t p)
{
	struct err e = ERR_INIT;
	struct buf v, rb, tb;
	buf_init(&v, 0);
	buf_init(&rb, 0);
	buf_init(&tb, 0);
	unsigned char key[2] = { 0, (unsigned char)p };
	cr_assert_eq(journal_get(st, run, "runbook.search", key, 2, &v, &e), 1, "phase %zu searched", p);
	struct digest sd;
	memcpy(sd.b, v.data, DIGEST_LEN);
	struct artifact sa;
	cr_assert_eq(artifact_get(st, &sd, &sa, &e), 0, "%s", e.msg);
	int64_t t0 = 0;
	cr_assert_eq(artifact_get_int(&sa, "t0_unix", &t0), 0);
	read_part(st, &sa, "records", &rb);
	char part[32];
	snprintf(part, sizeof(part), "truth.%zu", p);
	read_part(st, rba, part, &tb);
	struct records rs;
	records_init(&rs);
	cr_assert_eq(records_decode(rb.data, rb.len, &rs, &e), 0, "%s", e.msg);
	const struct spec_phase *ph = &sp->runbook.phases[p];
	uint32_t k = (uint32_t)ph->k;
	cr_assert_eq(tb.len, rs.n * k * 8);
	cr_assert_gt(rs.n, 50, "phase %zu sent its searches", p);
	struct sched_params spp = { .pattern = SCHED_CONSTANT, .rate = ph->rate, .duration_ns = ph->duration_ns,
				    .seed = sp->seed + p, .n_queries = sp->queries.count };
	spp.weight[OP_RECALL] = 1;
	struct sched sc;
	cr_assert_eq(sched_init(&sc, &spp, &e), 0, "%s", e.msg);
	size_t nsyn = sp->synthetic.count;
	const float **vec_of = calloc(nsyn, sizeof(*vec_of));
	int *live = calloc(nsyn, sizeof(int));
	size_t *want = calloc(k, sizeof(size_t));
	size_t checked = 0;
	for (size_t i = 0; i < rs.n; i++) {
		struct sched_op op;
		cr_assert_eq(rs.v[i].err, RECORD_ERR_NONE);
		cr_assert_eq(sched_next_due(&sc, rs.v[i].index, &op), 0);
		state_at(sp, ev, t0 + (int64_t)rs.v[i].sent, syn, d, vec_of);
		for (size_t r = 0; r < nsyn; r++)
			live[r] = vec_of[r] != NULL;
		uint32_t m = brute_topk(qv + (op.arg % sp->queries.count) * d, vec_of, live, nsyn, d, k, want);
		const uint64_t *truth = (const uint64_t *)tb.data + i * k;
		for (uint32_t a = 0; a < k; a++) {
			uint64_t expect = a < m ? (1ULL << 40 | want[a]) : UINT64_MAX;
			cr_assert_eq(truth[a], expect, "phase %zu search %zu rank %u: %llx vs %llx", p, i, a,
				     (unsigned long long)truth[a], (unsigned long long)expect);
		}
		checked++;
	}
	cr_assert_eq(checked, rs.n);
	free(vec_of);
	free(live);
	free(want);
	records_release(&rs);
	artifact_release(&sa);
	buf_release(&v);
	buf_release(&rb);
	buf_release(&tb);
}

static const struct run_step *step_named(const struct run_record *rec, const char *name)
{
	for (int i = 0; i < rec->n_steps; i++)
		if (!strcmp(rec->steps[i].name, name))
			return &rec->steps[i];
	return NULL;
}

static double metric(const struct run_record *rec, const char *key)
{
	for (int i = 0; i < rec->n_metrics; i++)
		if (!strcmp(rec->metrics[i].key, key))
			return rec->metrics[i].value;
	cr_assert_fail("no metric %s", key);
	return 0;
}

Test(runbook_truth, step_truth_matches_brute_force, .timeout = 120)
{
	struct err e = ERR_INIT;
	char *dir = test_tmpdir("runbook");
	struct store *st;
	struct spec *sp;
	cr_assert_eq(store_open(dir, 0, &st, &e), 0, "%s", e.msg);
	cr_assert_eq(target_spec_load_string(spec_yaml, strlen(spec_yaml), "rb.yaml", &sp, &e), 0, "%s", e.msg);
	struct runner_opts ro;
	memset(&ro, 0, sizeof ro);
	struct run_record rec;
	cr_assert_eq(steps_run(st, sp, &ro, &rec, &e), 0, "%s", e.msg);

	struct evs ev = { .n = 0 };
	cr_assert_eq(journal_iter(st, rec.id, "runbook.acks", collect, &ev, &e), 0, "%s", e.msg);
	cr_assert_eq(ev.n, 20 + 6 + 4, "every batch acknowledged once");
	qsort(ev.v, ev.n, sizeof(ev.v[0]), cmp_ev);

	struct artifact syn, qa, rba;
	struct buf sb, qb;
	buf_init(&sb, 0);
	buf_init(&qb, 0);
	cr_assert_eq(artifact_get(st, &step_named(&rec, "synthetic")->out[0], &syn, &e), 0, "%s", e.msg);
	cr_assert_eq(artifact_get(st, &step_named(&rec, "queries")->out[0], &qa, &e), 0, "%s", e.msg);
	cr_assert_eq(artifact_get(st, &step_named(&rec, "runbook")->out[0], &rba, &e), 0, "%s", e.msg);
	read_part(st, &syn, "vectors", &sb);
	read_part(st, &qa, "vectors", &qb);
	for (size_t p = 1; p < 6; p += 2)
		check_phase(st, sp, rec.id, &rba, &ev, (const float *)sb.data, (const float *)qb.data, 16, p);

	/* the embedded index is exact: alone, a search phase finds the truth */
	cr_assert_eq(metric(&rec, "runbook.1.recall"), 1.0);
	cr_assert_eq(metric(&rec, "runbook.5.recall"), 1.0);
	cr_assert_geq(metric(&rec, "runbook.3.recall"), 0.9);
	cr_assert_gt(metric(&rec, "runbook.recall_avg"), 0.96);
	cr_assert_gt(metric(&rec, "runbook.1.p99_ms"), 0);
	cr_assert_geq(metric(&rec, "runbook.searchable_max_ms"), 0);
	cr_assert_geq(metric(&rec, "runbook.gone_max_ms"), 0);
	/* and the index holds what the journal says: 1000 inserted, 300 deleted */
	uint64_t n = 0;
	struct target *t;
	struct target_config cfg = { .driver = "embedded", .dim = 16 };
	cr_assert_eq(target_open(&cfg, &t, &e), 0, "%s", e.msg);
	cr_assert_eq(target_count(t, &n, &e), 0);
	cr_assert_eq(n, 700);
	target_close(t);

	artifact_release(&syn);
	artifact_release(&qa);
	artifact_release(&rba);
	buf_release(&sb);
	buf_release(&qb);
	run_record_release(&rec);
	spec_free(sp);
	store_close(st);
	test_rmtree(dir);
	free(dir);
}
