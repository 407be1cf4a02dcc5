/*
 * synthrun — write one synthetic finished run into a store, for the shell
 * tests of the analysis commands (history, diff, check) that need runs with
 * known metrics and no live load test.
 *
 *   synthrun --store DIR --spec FILE --id RUN_ID --p99 MS
 *            [--requests N] [--spread S] [--seed S] [--no-records]
 *
 * The run claims to come from the spec in FILE (its text is stored, so
 * analysis loads and digests it like any run's). N requests (12000) are
 * scheduled every 5 ms, the first 10% in warm-up; latency is lognormal,
 * exp(S * N(0,1)) (S = 0.5, normals from engrave's Philox stream for the
 * seed), scaled so the measured records' nearest-rank p99 is exactly MS
 * (to the nanosecond). Records go through the real encoding into a
 * "loadtest" artifact, and the metrics come from runmetrics_compute, as a
 * real load test would leave them. --no-records stores only the run
 * record with p99_ms = MS (a run without request records). Prints the
 * run id. Run ids sort as their order in time (history reads id order).
 */
#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/hash.h"
#include "engrave/records.h"
#include "engrave/rng.h"
#include "engrave/runmetrics.h"
#include "engrave/spec.h"
#include "engrave/stats.h"
#include "engrave/store.h"
#include "engrave/target.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_LAT 0x4c4154ULL   /* "LAT" */
#define INTERVAL_NS 5000000ULL   /* 200 requests a second */

struct synth_opts {
	const char *store, *spec, *id;
	double p99, spread;
	size_t requests;
	uint64_t seed;
	int no_records;
};

static int usage(void)
{
	fprintf(stderr, "usage: synthrun --store DIR --spec FILE --id RUN_ID --p99 MS [--requests N] "
			"[--spread S] [--seed S] [--no-records]\n");
	return 2;
}

static int parse(int argc, char **argv, struct synth_opts *o)
{
	*o = (struct synth_opts){ NULL, NULL, NULL, 0, 0.5, 12000, 1, 0 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--no-records")) {
			o->no_records = 1;
			continue;
		}
		if (!v)
			return -1;
		i++;
		if (!strcmp(a, "--store"))
			o->store = v;
		else if (!strcmp(a, "--spec"))
			o->spec = v;
		else if (!strcmp(a, "--id"))
			o->id = v;
		else if (!strcmp(a, "--p99"))
			o->p99 = atof(v);
		else if (!strcmp(a, "--spread"))
			o->spread = atof(v);
		else if (!strcmp(a, "--requests"))
			o->requests = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--seed"))
			o->seed = strtoull(v, NULL, 10);
		else
			return -1;
	}
	return o->store && o->spec && o->id && o->p99 > 0 && o->requests >= 100 ? 0 : -1;
}

/* The records: latencies scaled so the measured p99 is o->p99 ms. */
static struct record *make_records(const struct synth_opts *o, uint64_t warm)
{
	size_t n = o->requests, m = 0;
	struct record *v = xcalloc(n, sizeof(*v));
	double *base = xcalloc(n, sizeof(*base)), *meas = xcalloc(n, sizeof(*meas));
	for (size_t i = 0; i < n; i++) {
		base[i] = exp(o->spread * rng_normal(o->seed, STREAM_LAT, i));
		if ((uint64_t)i * INTERVAL_NS >= warm)
			meas[m++] = base[i];
	}
	stats_sort(meas, m);
	double scale = o->p99 / stats_percentile(meas, m, 99);
	for (size_t i = 0; i < n; i++) {
		v[i].index = i;
		v[i].intended = (uint64_t)i * INTERVAL_NS;
		v[i].sent = v[i].intended + 20000;
		v[i].done = v[i].intended + (uint64_t)llround(base[i] * scale * 1e6);
		v[i].status = 200;
		if (v[i].intended < warm)
			v[i].flags |= RECORD_F_WARMUP;
	}
	free(base);
	free(meas);
	return v;
}

/* The loadtest artifact of the records, its digest into *out. */
static int put_loadtest(struct store *st, const struct synth_opts *o, struct digest *out, struct err *e)
{
	uint64_t warm = (uint64_t)(o->requests / 10) * INTERVAL_NS;
	struct record *v = make_records(o, warm);
	void *bytes = xmalloc_array(o->requests, RECORDS_SIZE);
	records_encode(v, o->requests, bytes);
	struct digest od;
	struct artifact a;
	artifact_init(&a, "loadtest", 1);
	int rc = obj_put(st, bytes, o->requests * RECORDS_SIZE, &od, e) ||
		 artifact_add_part(&a, "records", &od, o->requests * RECORDS_SIZE, e) ||
		 artifact_set_int(&a, "warmup_ns", (int64_t)warm, e) ||
		 artifact_set_int(&a, "duration_ns", (int64_t)(o->requests * INTERVAL_NS), e) ||
		 artifact_set_int(&a, "scheduled", (int64_t)o->requests, e) || artifact_put(st, &a, out, e);
	artifact_release(&a);
	free(bytes);
	free(v);
	return rc ? -1 : 0;
}

static int write_run(struct store *st, const struct synth_opts *o, const char *text, const struct spec *sp,
		     struct err *e)
{
	struct run_record r;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", o->id);
	snprintf(r.spec_name, sizeof(r.spec_name), "%s", sp->name);
	spec_digest(sp, &r.spec_digest);
	r.spec_text = xstrdup(text);
	snprintf(r.status, sizeof(r.status), "done");
	snprintf(r.host, sizeof(r.host), "synthrun");
	r.created = r.updated = clock_unix_now();
	int rc = -1;
	if (o->no_records) {
		run_metric_set(&r, "p99_ms", o->p99);
	} else {
		struct run_step *s = &r.steps[r.n_steps++];
		snprintf(s->name, sizeof(s->name), "loadtest");
		snprintf(s->state, sizeof(s->state), "ran");
		s->n_out = 1;
		if (put_loadtest(st, o, &s->out[0], e) || runmetrics_compute(st, &r, e))
			goto out;
	}
	rc = run_put(st, &r, e);
out:
	run_record_release(&r);
	return rc;
}

static char *read_text(const char *path, struct err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		err_set(e, ERR_IO, "%s: cannot open", path);
		return NULL;
	}
	char *t = xmalloc(1 << 20);
	size_t n = fread(t, 1, (1 << 20) - 1, f);
	fclose(f);
	t[n] = 0;
	return t;
}

int main(int argc, char **argv)
{
	struct synth_opts o;
	if (parse(argc, argv, &o))
		return usage();
	struct err e = ERR_INIT;
	struct store *st = NULL;
	struct spec *sp = NULL;
	char *text = read_text(o.spec, &e);
	/* loaded as analysis loads a stored run's spec: nothing of it is run here */
	int rc = !text || target_spec_load_stored(text, strlen(text), o.spec, &sp, &e) ||
		 store_open(o.store, 0, &st, &e) || write_run(st, &o, text, sp, &e);
	if (rc)
		fprintf(stderr, "synthrun: %s\n", e.msg);
	else
		printf("%s\n", o.id);
	store_close(st);
	spec_free(sp);
	free(text);
	return rc ? 1 : 0;
}
