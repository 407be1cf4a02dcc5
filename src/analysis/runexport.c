/*
 * runexport.c — what a run stored, out to other tools' formats.
 *
 * The reading half of `engrave export` (exportfmt.c is the writing half):
 * a loadtest artifact's "records" part is read RECORDS_BLOCK records at a
 * time, decoded (records.h) and formatted line by line; a groundtruth
 * artifact's "ids", "scores" and "counts" parts are read GT_BLOCK queries
 * at a time, side by side. So memory does not grow with the run. The hgrm
 * collects the one value per counted record it must sort, selected by
 * metrics_record_timed so that its percentiles are the metrics' own. The
 * VectorDBBench result gathers the run's figures (exact metrics of the load
 * test, recall, ingest time) and its spec (driver, URL, HNSW settings).
 */
#include "engrave/runexport.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/exportfmt.h"
#include "engrave/metrics.h"
#include "engrave/records.h"
#include "engrave/runmetrics.h"
#include "engrave/spec.h"
#include "engrave/store.h"
#include "engrave/target.h"
#include "engrave/xalloc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RECORDS_BLOCK 4096
#define GT_BLOCK 1024

/* Exactly len bytes from r, or ERR_CORRUPT naming the part. */
static int write_out(FILE *f, struct buf *b, const char *what, struct err *e)
{
	if (b->len && fwrite(b->data, 1, b->len, f) != b->len)
		return err_set_errno(e, ERR_IO, errno, "%s: write", what);
	buf_reset(b);
	return 0;
}

static int open_records(struct store *st, const struct artifact *lt, struct obj_reader **r, uint64_t *n,
			struct err *e)
{
	const struct digest *d = artifact_part(lt, "records");
	if (strcmp(lt->type, "loadtest") || !d)
		return err_set(e, ERR_USAGE, "a '%s' artifact has no load-test records", lt->type);
	if (obj_reader_open(st, d, r, e))
		return -1;
	uint64_t size = obj_reader_size(*r);
	if (size % RECORDS_SIZE) {
		obj_reader_close(*r);
		*r = NULL;
		return err_set(e, ERR_CORRUPT, "loadtest 'records' part of %llu bytes is not whole %d-byte records",
			       (unsigned long long)size, RECORDS_SIZE);
	}
	*n = size / RECORDS_SIZE;
	return 0;
}

/* Calls fn on every record of `lt`, RECORDS_BLOCK at a time. */
static int each_record(struct store *st, const struct artifact *lt,
		       int (*fn)(const struct record *r, void *ctx, struct err *e), void *ctx, struct err *e)
{
	struct obj_reader *r;
	uint64_t n;
	if (open_records(st, lt, &r, &n, e))
		return -1;
	uint8_t *raw = xmalloc_array(RECORDS_BLOCK, RECORDS_SIZE);
	struct records recs;
	records_init(&recs);
	int rc = 0;
	for (uint64_t done = 0; done < n && !rc;) {
		size_t k = n - done < RECORDS_BLOCK ? (size_t)(n - done) : RECORDS_BLOCK;
		recs.n = 0;
		rc = obj_read_full(r, "records", raw, k * RECORDS_SIZE, e) || records_decode(raw, k * RECORDS_SIZE, &recs, e);
		for (size_t i = 0; !rc && i < recs.n; i++)
			rc = fn(&recs.v[i], ctx, e);
		done += k;
	}
	records_release(&recs);
	free(raw);
	obj_reader_close(r);
	return rc ? -1 : 0;
}

struct line_out {
	FILE *f;
	const char *what;
	int jsonl;
	struct buf b;
};

static int record_line(const struct record *r, void *ctx, struct err *e)
{
	struct line_out *o = ctx;
	if (o->jsonl ? exportfmt_record_jsonl(r, &o->b, e) : exportfmt_record_csv(r, &o->b, e))
		return -1;
	return o->b.len >= (1 << 16) ? write_out(o->f, &o->b, o->what, e) : 0;
}

int runexport_records(struct store *st, const struct artifact *lt, int jsonl, FILE *f, const char *what,
		      struct err *e)
{
	struct line_out o = { f, what, jsonl, { 0 } };
	buf_init(&o.b, 0);
	int rc = (!jsonl && buf_append_str(&o.b, EXPORTFMT_RECORD_FIELDS "\n", e)) ||
		 each_record(st, lt, record_line, &o, e) || write_out(f, &o.b, what, e);
	buf_release(&o.b);
	return rc ? -1 : 0;
}

/* ---- hgrm ---- */

struct hgrm_values {
	int op, service;
	uint64_t *v;
	size_t n, cap;
};

static int hgrm_take(const struct record *r, void *ctx, struct err *e)
{
	struct hgrm_values *h = ctx;
	if (!metrics_record_timed(r) || (h->op >= 0 && r->op != h->op))
		return 0;
	if (h->n == h->cap)
		return err_set(e, ERR_CORRUPT, "loadtest records grew while being read");
	h->v[h->n++] = h->service ? record_service_ns(r) : record_latency_ns(r);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int runexport_hgrm(struct store *st, const struct artifact *lt, int op, int service, int ticks, struct buf *out,
		   struct err *e)
{
	struct obj_reader *r;
	uint64_t n;
	if (open_records(st, lt, &r, &n, e))
		return -1;
	obj_reader_close(r);
	struct hgrm_values h = { op, service, NULL, 0, (size_t)n };
	if (!(h.v = xalloc_try_array((size_t)n + 1, sizeof(uint64_t), "the latencies to sort", e)))
		return -1;
	int rc = each_record(st, lt, hgrm_take, &h, e);
	if (!rc && h.n == 0)
		rc = err_set(e, ERR_MISSING, "the load test has no measured %s request to make a histogram of",
			     op >= 0 ? sched_op_name((enum op_kind)op) : "sent");
	if (!rc) {
		qsort(h.v, h.n, sizeof(uint64_t), cmp_u64);
		rc = exportfmt_hgrm(h.v, h.n, ticks, out, e);
	}
	free(h.v);
	return rc ? -1 : 0;
}

/* ---- ground truth ---- */

struct gt_parts {
	struct obj_reader *ids, *scores, *counts;
	uint64_t nq, k;
};

static int gt_open(struct store *st, const struct artifact *gt, struct gt_parts *p, struct err *e)
{
	int64_t k = 0, nq = 0;
	artifact_get_int(gt, "k", &k);
	artifact_get_int(gt, "nq", &nq);
	const struct digest *di = artifact_part(gt, "ids"), *ds = artifact_part(gt, "scores"),
			    *dc = artifact_part(gt, "counts");
	if (k <= 0 || k > (1 << 20) || nq < 0 || !di || !ds || !dc)
		return err_set(e, ERR_CORRUPT, "groundtruth artifact lacks ids/scores/counts or a valid k and nq");
	p->k = (uint64_t)k;
	p->nq = (uint64_t)nq;
	if (obj_reader_open(st, di, &p->ids, e) || obj_reader_open(st, ds, &p->scores, e) ||
	    obj_reader_open(st, dc, &p->counts, e))
		return -1;
	uint64_t cells = p->nq * p->k;
	if (obj_reader_size(p->ids) != cells * 8 || obj_reader_size(p->scores) != cells * 4 ||
	    obj_reader_size(p->counts) != p->nq * 4)
		return err_set(e, ERR_CORRUPT, "groundtruth artifact: parts do not hold %llu queries of depth %llu",
			       (unsigned long long)p->nq, (unsigned long long)p->k);
	return 0;
}

static void gt_close(struct gt_parts *p)
{
	obj_reader_close(p->ids);
	obj_reader_close(p->scores);
	obj_reader_close(p->counts);
}

int runexport_groundtruth(struct store *st, const struct artifact *gt, int ivecs, FILE *f, const char *what,
			  struct err *e)
{
	struct gt_parts p = { 0 };
	uint64_t *ids = NULL;
	float *sc = NULL;
	uint32_t *cnt = xmalloc_array(GT_BLOCK, sizeof(uint32_t));
	struct buf b;
	buf_init(&b, 0);
	int rc = -1;
	if (gt_open(st, gt, &p, e))
		goto out;
	if (!(ids = xalloc_try_array(xalloc_mul(GT_BLOCK, p.k), 8, "a block of ground truth ids", e)) ||
	    !(sc = xalloc_try_array(xalloc_mul(GT_BLOCK, p.k), 4, "a block of ground truth scores", e)))
		goto out;
	for (uint64_t q = 0; q < p.nq;) {
		size_t n = p.nq - q < GT_BLOCK ? (size_t)(p.nq - q) : GT_BLOCK;
		if (obj_read_full(p.ids, "ids", ids, n * p.k * 8, e) || obj_read_full(p.scores, "scores", sc, n * p.k * 4, e) ||
		    obj_read_full(p.counts, "counts", cnt, n * 4, e))
			goto out;
		for (size_t i = 0; i < n; i++) {
			uint32_t c = cnt[i] < p.k ? cnt[i] : (uint32_t)p.k;
			if (ivecs ? exportfmt_ivecs_row(ids + i * p.k, c, &b, e)
				  : exportfmt_groundtruth_jsonl(q + i, ids + i * p.k, sc + i * p.k, c, &b, e))
				goto out;
		}
		if (write_out(f, &b, what, e))
			goto out;
		q += n;
	}
	rc = 0;
out:
	gt_close(&p);
	buf_release(&b);
	free(ids);
	free(sc);
	free(cnt);
	return rc;
}

/* ---- runs ---- */

int runexport_run_loadtest(struct store *st, const struct run_record *rec, int phase, struct artifact *out,
			   struct err *e)
{
	memset(out, 0, sizeof(*out));
	const struct digest *ld = runmetrics_step_output(rec, "loadtest");
	if (!ld) {
		err_set(e, ERR_MISSING, "run %s has no finished loadtest step", rec->id);
		return err_hint(e, "records, hgrm and vdbb exports need a run whose spec has steps.loadtest");
	}
	if (artifact_get(st, ld, out, e))
		return -1;
	if (!strcmp(out->type, "loadtest")) {
		if (phase < 0)
			return 0;
		artifact_release(out);
		return err_set(e, ERR_USAGE, "run %s's load test is one phase, not a sweep: drop --phase", rec->id);
	}
	if (strcmp(out->type, "loadtest-sweep")) {
		err_set(e, ERR_CORRUPT, "run %s's load test is a '%s' artifact", rec->id, out->type);
		artifact_release(out);
		return -1;
	}
	int64_t phases = 0;
	artifact_get_int(out, "phases", &phases);
	const char *kind = artifact_get_str(out, "kind");
	if (phase < 0 || phase >= phases) {
		char list[512] = "";
		size_t len = 0;
		for (int64_t i = 0; i < phases && len < sizeof(list) - 40; i++) {
			char name[24];
			double v = NAN;
			snprintf(name, sizeof(name), "value-%02d", (int)i);
			artifact_get_f64(out, name, &v);
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%lld (%s %g)", i ? ", " : "",
						(long long)i, kind ? kind : "value", v);
		}
		if (phase < 0)
			err_set(e, ERR_USAGE, "run %s's load test is a sweep of %lld phases: export one", rec->id,
				(long long)phases);
		else
			err_set(e, ERR_USAGE, "run %s's sweep has no phase %d", rec->id, phase);
		artifact_release(out);
		return err_hint(e, "--phase N (records and hgrm), N one of %s", list);
	}
	char name[24];
	snprintf(name, sizeof(name), "phase-%02d", phase);
	const struct digest *pd = artifact_part(out, name);
	struct digest d;
	if (!pd) {
		artifact_release(out);
		return err_set(e, ERR_CORRUPT, "run %s: the sweep artifact lacks %s", rec->id, name);
	}
	d = *pd;
	artifact_release(out);
	if (artifact_get(st, &d, out, e))
		return -1;
	if (strcmp(out->type, "loadtest")) {
		artifact_release(out);
		return err_set(e, ERR_CORRUPT, "run %s: sweep %s is not a load test", rec->id, name);
	}
	return 0;
}

static double run_metric_or(const struct run_record *r, const char *key, double dflt)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (!strcmp(r->metrics[i].key, key))
			return r->metrics[i].value;
	return dflt;
}

static const struct run_step *run_step_named(const struct run_record *r, const char *name)
{
	for (int i = 0; i < r->n_steps; i++)
		if (!strcmp(r->steps[i].name, name))
			return &r->steps[i];
	return NULL;
}

static int64_t artifact_int_of(struct store *st, const struct digest *d, const char *key)
{
	struct artifact a;
	struct err ignore = ERR_INIT;
	int64_t v = 0;
	if (d && !artifact_get(st, d, &a, &ignore)) {
		artifact_get_int(&a, key, &v);
		artifact_release(&a);
	}
	return v;
}

/* host and port of an http(s)://host:port/... URL (host NULL-terminated in buf). */
static void url_host_port(const char *url, char *host, size_t cap, long *port)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, ":/");
	snprintf(host, cap, "%.*s", (int)n, p);
	*port = p[n] == ':' ? strtol(p + n + 1, NULL, 10) : !strncmp(url, "https", 5) ? 443 : 80;
}

/* What exportfmt_vdbb takes from the spec: db, metric, HNSW settings. */
static void vdbb_from_spec(const struct spec *sp, struct exportfmt_vdbb *v, char *host, size_t cap)
{
	static const char *const metric[] = { "COSINE", "L2", "IP" };
	const char *drv = sp->target.driver ? sp->target.driver : "";
	v->db = !strcmp(drv, "chroma") ? "Chroma" : !strcmp(drv, "pgvector") ? "PgVector" : "test";
	v->db_label = drv;
	v->metric_type = metric[sp->target.hnsw.space <= SPEC_SPACE_IP ? sp->target.hnsw.space : 0];
	v->hnsw_m = sp->target.hnsw.m;
	v->hnsw_ef_construction = sp->target.hnsw.ef_construction;
	v->hnsw_ef_search = sp->target.hnsw.ef_search;
	v->k = sp->loadtest.recall_k;
	v->task_label = sp->name;
	if (!strcmp(drv, "chroma") && sp->target.url) {
		url_host_port(sp->target.url, host, cap, &v->port);
		v->host = host;
	}
}

int runexport_vdbb(struct store *st, const struct run_record *rec, struct buf *out, struct err *e)
{
	struct artifact lt;
	if (runexport_run_loadtest(st, rec, -1, &lt, e))
		return -1;
	artifact_release(&lt);
	struct metrics m;
	struct spec *sp = NULL;
	if (runmetrics_phase(st, runmetrics_step_output(rec, "loadtest"), &m, e) || !rec->spec_text ||
	    target_spec_load_stored(rec->spec_text, strlen(rec->spec_text), rec->id, &sp, e))
		return rec->spec_text ? -1 : err_set(e, ERR_CORRUPT, "run %s has no stored spec", rec->id);
	char host[256] = "", note[300];
	struct exportfmt_vdbb v = { 0 };
	vdbb_from_spec(sp, &v, host, sizeof(host));
	snprintf(note, sizeof(note), "engrave run %s, driver %s%s%s", rec->id, v.db_label, sp->target.url ? ", " : "",
		 sp->target.url ? sp->target.url : "");
	v.run_id = rec->id;
	v.version = rec->target_version;
	v.note = note;
	v.timestamp = (double)rec->created / 1e9;
	double window_s = (double)m.window_ns / 1e9;
	uint64_t queries = m.op[OP_RECALL].completed + m.op[OP_SEARCH].completed;
	v.qps = window_s > 0 ? (double)queries / window_s : 0;
	v.serial_latency_p99 = m.all.measured ? (double)m.all.latency.pct[3] / 1e9 : 0;
	v.serial_latency_p95 = m.all.measured ? (double)m.all.latency.pct[2] / 1e9 : 0;
	v.recall = run_metric_or(rec, "recall", 0);
	const struct run_step *ing = run_step_named(rec, "ingest");
	v.load_duration = v.insert_duration = ing ? (double)ing->elapsed_ns / 1e9 : 0;
	v.dataset_name = sp->name;
	v.dataset_size = (uint64_t)artifact_int_of(st, runmetrics_step_output(rec, "ingest"), "records");
	v.dim = (uint32_t)artifact_int_of(st, runmetrics_step_output(rec, "queries"), "dim");
	int rc = exportfmt_vdbb_json(&v, out, e);
	spec_free(sp);
	return rc;
}
