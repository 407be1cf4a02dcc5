/*
 * synthrun.c — synthetic finished runs shared by the analysis tests.
 *
 * Latencies come from a private splitmix64 + Box-Muller stream so the
 * tests do not depend on the code under test for their data; records go
 * through the real records encoding and store, metrics through the real
 * metrics code, exactly as a load test would leave them.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engrave/check.h"
#include "engrave/compare.h"
#include "engrave/records.h"
#include "engrave/spec.h"
#include "engrave/stats.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"
#include "testutil.h"
#include "synthrun.h"

const char synth_spec[] =
	"name: synth\n"
	"seed: 1\n"
	"target: {driver: embedded}\n"
	"steps:\n"
	"  loadtest:\n"
	"    duration: 100s\n"
	"    warmup: 10s\n"
	"    arrival: {pattern: constant, rate: 200}\n"
	"checks:\n"
	"  error_rate: \"== 0\"\n"
	"  p99_ms: \"< 50\"\n"
	"  baseline: {ref: synth-base, p99_ms: \"+5%\", throughput: \"-5%\"}\n";

static uint64_t sm_next(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double sm_unif(uint64_t *x) { return ((double)(sm_next(x) >> 11) + 0.5) / 9007199254740992.0; }

static double sm_normal(uint64_t *x)
{
	double u1 = sm_unif(x), u2 = sm_unif(x);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void put_metric(struct run_record *r, const char *k, double v)
{
	snprintf(r->metrics[r->n_metrics].key, sizeof(r->metrics[0].key), "%s", k);
	r->metrics[r->n_metrics++].value = v;
}

void make_run(struct store *st, const char *id, uint64_t seed, double factor, size_t n,
		     struct run_record *r)
{
	struct synth_opts o = { seed, factor, n, 1, 0, 0 };
	make_run_ex(st, id, &o, r);
}

void make_run_ex(struct store *st, const char *id, const struct synth_opts *o, struct run_record *r)
{
	struct err e = ERR_INIT;
	size_t n = o->n, R = o->repeats > 1 ? o->repeats : 1, per = n / R;
	n = per * R;
	struct record *v = xcalloc(n, sizeof(*v));
	double *lat = xcalloc(n, sizeof(*lat));
	uint64_t x = o->seed, warm = (uint64_t)(per / 10) * 5000000ULL, span = (uint64_t)per * 5000000ULL;
	size_t m = 0;
	double level = 1, rep_level = 1;
	for (size_t i = 0; i < n; i++) {
		size_t rep = i / per, j = i % per;
		if (j == 0) /* each repeat: its own level (between-run spread) */
			rep_level = exp(o->rep_sd * sm_normal(&x));
		if (j % 200 == 0) /* each second: a level that holds for the second */
			level = exp(o->drift_sd * sm_normal(&x));
		double ms = exp(0.5 * sm_normal(&x)) * o->factor * level * rep_level;
		v[i].index = j;
		v[i].repeat = (uint32_t)rep;
		v[i].intended = (uint64_t)rep * (span + 1000000000ULL) + (uint64_t)j * 5000000ULL;
		v[i].sent = v[i].intended + 20000;
		v[i].done = v[i].intended + (uint64_t)(ms * 1e6);
		v[i].status = 200;
		v[i].op = (uint8_t)(i % 3);
		if ((uint64_t)j * 5000000ULL < warm)
			v[i].flags |= RECORD_F_WARMUP;
		else
			lat[m++] = (double)(v[i].done - v[i].intended) / 1e6;
	}
	void *bytes = xmalloc_array(n, RECORDS_SIZE);
	records_encode(v, n, bytes);
	struct digest od, ad;
	cr_assert_eq(obj_put(st, bytes, n * RECORDS_SIZE, &od, &e), 0, "%s", e.msg);
	struct artifact a;
	artifact_init(&a, "loadtest", 1);
	cr_assert_eq(artifact_add_part(&a, "records", &od, n * RECORDS_SIZE, &e), 0);
	cr_assert_eq(artifact_set_int(&a, "warmup_ns", (int64_t)warm, &e), 0);
	cr_assert_eq(artifact_set_int(&a, "duration_ns", (int64_t)span, &e), 0);
	if (R > 1)
		cr_assert_eq(artifact_set_int(&a, "repeats", (int64_t)R, &e), 0);
	cr_assert_eq(artifact_put(st, &a, &ad, &e), 0, "%s", e.msg);
	artifact_release(&a);

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->spec_name, sizeof(r->spec_name), "synth");
	r->spec_text = xstrdup(synth_spec);
	snprintf(r->status, sizeof(r->status), "done");
	snprintf(r->host, sizeof(r->host), "testhost");
	snprintf(r->cpu, sizeof(r->cpu), "testcpu");
	r->created = r->updated = 1700000000LL * 1000000000LL;
	static const char *const pure[] = { "corpus", "embed", "centroids", "synthetic", "queries", "groundtruth" };
	for (int i = 0; i < 6; i++) {
		struct run_step *s = &r->steps[r->n_steps++];
		snprintf(s->name, sizeof(s->name), "%s", pure[i]);
		snprintf(s->state, sizeof(s->state), "cached");
		hash_bytes(pure[i], strlen(pure[i]), &s->out[0]);
		s->n_out = 1;
	}
	struct run_step *s = &r->steps[r->n_steps++];
	snprintf(s->name, sizeof(s->name), "loadtest");
	snprintf(s->state, sizeof(s->state), "ran");
	s->out[0] = ad;
	s->n_out = 1;
	stats_sort(lat, m);
	put_metric(r, "p50_ms", stats_percentile(lat, m, 50));
	put_metric(r, "p95_ms", stats_percentile(lat, m, 95));
	put_metric(r, "p99_ms", stats_percentile(lat, m, 99));
	double mean = 0;
	for (size_t i = 0; i < m; i++)
		mean += lat[i] / (double)m;
	put_metric(r, "mean_ms", mean);
	put_metric(r, "throughput", (double)m / ((double)(span - warm) * (double)R / 1e9));
	put_metric(r, "error_rate", 0);
	cr_assert_eq(run_put(st, r, &e), 0, "%s", e.msg);
	free(bytes);
	free(v);
	free(lat);
}

