/*
 * ingest.c — the ingest step: load vector sets into the target, exactly
 * once, resumably, and verify what the target really holds.
 *
 * Records are the rows of the ingest sets in spec order (corpus vectors,
 * then synthetic), numbered 0..N-1 globally. Each gets a stable client id
 * (meta id_prefix + row id, e.g. "wiki-12", "syn-41"), so a retried or
 * resumed send is idempotent.
 *
 * Sending: HTTP drivers go through the retrying pump (pump.h; the engine's
 * native HTTP/1.1 transport for plain http://, libcurl for https and
 * proxies) with `concurrency` requests in flight, each carrying up to
 * batch_size records (the driver's native batch, 1 for Engram). The pump
 * owns backoff, Retry-After and the attempt limit; the callbacks here own
 * the meaning: the records of a response the driver did not store or
 * reject (a transport error, 5xx or 429) are re-read and retried, up to
 * `retries` times; then they get a FAILED receipt and the step fails naming
 * how many were not stored. The embedded driver stores in-process.
 *
 * Receipts (status, attempts, HTTP status, latency, server id) are journaled
 * per record in the run's "ingest" stream, committed in small transactions;
 * on resume (`engrave run --resume`) records with a receipt are skipped.
 *
 * Verification: the target's count is compared with count-before + stored
 * receipts, and a seeded sample of stored records is read back (or, where
 * the driver cannot read vectors back, recalled by its own vector), so a
 * success the server did not keep — Engram's semantic dedup, its hot-tier
 * cap, dropped embeddings — is reported as lost, never as success.
 *
 * Reuse: a verified load is recorded under ref "loads/<load key>" (driver,
 * URL, space, set digests). A later run whose target still shows that count
 * and passes the sample check reuses it instead of loading again.
 *
 * The step runs as prepare (sets, record numbering, load key), begin (resume
 * from receipts, or reuse a verified load), send, verify, record (metrics,
 * receipt artifact) and verdict (not stored, rejected, lost), one function each.
 */
#include "engrave/steps.h"
#include "artio.h"
#include "engrave/article.h"
#include "engrave/buf.h"
#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/pump.h"
#include "engrave/retry.h"
#include "engrave/rng.h"
#include "engrave/store.h"
#include "engrave/synth.h"
#include "engrave/xalloc.h"
#include "engrave/target.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM "ingest"
#define META_STREAM "ingest-meta"
#define STREAM_VERIFY 0x56455249ULL /* "VERI" */
#define ID_LEN 64
#define COMMIT_EVERY 2048
#define COMMIT_NS (250 * NS_PER_MS)

/* Record states. R_PRESENT: the target held it before this run sent it
 * (journaled like a receipt). R_RESEND: acknowledged earlier but not held
 * now, so sent again (never journaled: its next receipt replaces the old). */
enum { R_NONE = 0, R_STORED = 1, R_REJECTED = 2, R_FAILED = 3, R_PRESENT = 4, R_RESEND = 5 };

static int to_send(uint8_t s)
{
	return s == R_NONE || s == R_RESEND;
}

static int held(uint8_t s)
{
	return s == R_STORED || s == R_PRESENT;
}

struct ing_set {
	struct digest vectors;   /* the vectors artifact */
	struct artifact art;
	uint64_t base, rows;
	uint32_t dim;
	char prefix[32];
	uint64_t *ids;
	uint32_t *labels;
	float *conf;
	struct obj_reader *vr;
	int is_corpus;
	struct buf content;      /* corpus: row i's text at content_off[i] */
	size_t content_max;      /* text bytes per record the driver takes */
	uint64_t *content_off;
	struct synth_opts so;    /* synthetic: content strings */
};

struct ing;

struct ing_req {
	struct ing *g;
	uint64_t *idx;           /* global record indices */
	size_t n;
	float *vecs;
	char *idbuf;
	char *textbuf;
	struct target_record *recs;
	struct target_store_result *res;
	struct target_req rq;
};

struct ing {
	struct step_ctx *c;
	struct err *e;
	struct target *t;
	struct ing_set sets[2];
	int n_sets;
	uint64_t total;
	uint8_t *state;          /* R_* per record */
	uint64_t cursor;
	size_t batch;
	int max_attempts;
	struct retry_policy policy;
	struct journal_batch *jb;
	mono_ns last_commit;
	struct progress prog;
	uint64_t stored, rejected, failed, retries;
	uint64_t acked_now;            /* stored or rejected by this run's sends (once each) */
	int pumped;                    /* sent through the pump: pst and series are set */
	struct pump_stats pst;
	struct pump_sample *series;    /* the window over time, a sample a second */
	size_t n_series;
	uint64_t present;        /* held before this run sent them (not sent) */
	uint64_t resent;         /* acknowledged earlier, not held, stored again */
	uint64_t resend_due;     /* found lost at resume, to send again */
	int failed_hard;         /* an error was recorded in e */
	char first_reject[256];
	char first_fail[256];
	char refname[96];        /* "loads/<load key>": where a verified load is recorded */
	uint64_t count_before;   /* the target's count before this run's first send */
	uint64_t elapsed_ns;     /* sending time of this process */
	double index_build_s;    /* the target's separate index build (before or after sending); < 0: none */
	struct verify_result *vr; /* where a --verify-all census counts */
};

/* What verification found (ingest_verify). */
struct verify_result {
	uint64_t checked, missing, mismatched;
	int method_readback;
	char first_problem[256];
	uint64_t count_after;
	int64_t expected, lost;
	int by_id;               /* every held record's id was asked for (--verify-all) */
	uint64_t absent;         /* of those, not held */
	char first_absent[ID_LEN];
};

/* ---------------------------------------------------------------- */
/* records                                                            */

static struct ing_set *set_of(struct ing *g, uint64_t idx, uint64_t *row)
{
	for (int s = 0; s < g->n_sets; s++)
		if (idx < g->sets[s].base + g->sets[s].rows) {
			*row = idx - g->sets[s].base;
			return &g->sets[s];
		}
	BUG("record %llu out of range", (unsigned long long)idx);
}

static void record_id(const struct ing_set *s, uint64_t row, char *out)
{
	snprintf(out, ID_LEN, "%s%llu", s->prefix, (unsigned long long)(s->ids ? s->ids[row] : row));
}

static int req_fill(struct ing *g, struct ing_req *r)
{
	for (size_t i = 0; i < r->n; i++) {
		uint64_t row;
		struct ing_set *s = set_of(g, r->idx[i], &row);
		float *v = r->vecs + i * s->dim;
		if (obj_read_at(s->vr, row * s->dim * sizeof(float), v, s->dim * sizeof(float), g->e))
			return -1;
		char *id = r->idbuf + i * ID_LEN;
		record_id(s, row, id);
		struct target_record *tr = &r->recs[i];
		tr->id = id;
		tr->vec = v;
		if (s->is_corpus) {
			tr->content = s->content.data + s->content_off[row];
			tr->confidence = s->conf ? s->conf[row] : -1;
		} else {
			char *txt = r->textbuf + i * 128;
			synth_text(&s->so, row, s->labels ? s->labels[row] : 0, txt, 128);
			tr->content = txt;
			tr->confidence = s->conf ? s->conf[row] : -1;
		}
		tr->timestamp = 0;
	}
	return 0;
}

static void req_free(struct ing_req *r);

/* A batch of `cap` records (the spec's batch size or sample), or NULL with g->e set. */
static struct ing_req *req_new(struct ing *g, size_t cap)
{
	struct ing_req *r = xcalloc(1, sizeof(*r));
	uint32_t dim = g->sets[0].dim;
	r->g = g;
	target_req_init(&r->rq);
	r->idx = malloc(xalloc_mul(cap, sizeof(uint64_t)));
	r->vecs = malloc(xalloc_mul(xalloc_mul(cap, dim), sizeof(float)));
	r->idbuf = malloc(xalloc_mul(cap, ID_LEN));
	r->textbuf = malloc(xalloc_mul(cap, 128));
	r->recs = calloc(cap, sizeof(*r->recs));
	r->res = calloc(cap, sizeof(*r->res));
	if (!r->idx || !r->vecs || !r->idbuf || !r->textbuf || !r->recs || !r->res) {
		req_free(r);
		err_set(g->e, ERR_NOSPACE, "ingest: out of memory for a batch of %zu %u-d records", cap, dim);
		return NULL;
	}
	return r;
}

static void req_free(struct ing_req *r)
{
	if (!r)
		return;
	target_req_release(&r->rq);
	free(r->idx);
	free(r->vecs);
	free(r->idbuf);
	free(r->textbuf);
	free(r->recs);
	free(r->res);
	free(r);
}

/* The next batch of records without a receipt, within one set. */
static struct ing_req *next_batch(struct ing *g)
{
	while (g->cursor < g->total && !to_send(g->state[g->cursor]))
		g->cursor++;
	if (g->cursor >= g->total)
		return NULL;
	uint64_t row;
	struct ing_set *s = set_of(g, g->cursor, &row);
	uint64_t end = s->base + s->rows;
	struct ing_req *r = req_new(g, g->batch);
	if (!r) {
		g->failed_hard = 1;
		return NULL;
	}
	while (r->n < g->batch && g->cursor < end) {
		if (to_send(g->state[g->cursor]))
			r->idx[r->n++] = g->cursor;
		g->cursor++;
	}
	if (req_fill(g, r)) {
		req_free(r);
		g->failed_hard = 1;
		return NULL;
	}
	return r;
}

/* ---------------------------------------------------------------- */
/* receipts                                                           */

static void be64(uint64_t v, uint8_t out[8])
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static int journal_commit(struct ing *g, int force)
{
	mono_ns now = clock_mono_now();
	if (!g->jb || (!force && journal_batch_len(g->jb) < COMMIT_EVERY && now - g->last_commit < COMMIT_NS))
		return 0;
	int rc = journal_batch_commit(g->jb, g->e);
	g->jb = NULL;
	g->last_commit = now;
	if (rc)
		return -1;
	return journal_batch_begin(g->c->store, g->c->run_id, STREAM, &g->jb, g->e);
}

static int receipt(struct ing *g, uint64_t idx, int status, int attempts, int http, uint64_t latency_ns,
		   const char *server_id)
{
	uint8_t key[8], val[8 + 1 + TARGET_ID_MAX];
	be64(idx, key);
	uint32_t lat_us = latency_ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(latency_ns / 1000);
	val[0] = (uint8_t)status;
	val[1] = (uint8_t)(attempts > 255 ? 255 : attempts);
	val[2] = (uint8_t)http;
	val[3] = (uint8_t)(http >> 8);
	for (int i = 0; i < 4; i++)
		val[4 + i] = (uint8_t)(lat_us >> (8 * i));
	size_t idl = server_id ? strnlen(server_id, TARGET_ID_MAX - 1) : 0;
	val[8] = (uint8_t)idl;
	if (idl)
		memcpy(val + 9, server_id, idl);
	if (g->state[idx] == R_RESEND && status == R_STORED)
		g->resent++;
	g->state[idx] = (uint8_t)status;
	if (journal_batch_put(g->jb, key, 8, val, 9 + idl, g->e))
		return -1;
	return journal_commit(g, 0);
}

static int load_receipt(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct ing *g = ctx;
	if (kl != 8 || vl < 9)
		return 0;
	const uint8_t *kb = k, *vb = v;
	uint64_t idx = 0;
	for (int i = 0; i < 8; i++)
		idx = idx << 8 | kb[i];
	if (idx >= g->total)
		return 0;
	int st = vb[0];
	if (st == R_FAILED)
		st = R_NONE; /* failed before: try again */
	g->state[idx] = (uint8_t)st;
	if (st == R_STORED)
		g->stored++;
	else if (st == R_REJECTED)
		g->rejected++;
	else if (st == R_PRESENT)
		g->present++;
	return 0;
}

/* ---------------------------------------------------------------- */
/* sending                                                            */

/* The pump's callbacks (pump.h): one job is one ing_req, a batch of records. */
static int on_next(void *ctx, void **job, struct err *e)
{
	(void)e;
	struct ing *g = ctx;
	struct ing_req *r = next_batch(g);
	if (!r)
		return g->failed_hard ? -1 : 0;
	*job = r;
	return 1;
}

static int on_build(void *ctx, void *job, struct http_request *rq, struct err *e)
{
	struct ing *g = ctx;
	struct ing_req *r = job;
	target_req_release(&r->rq);
	target_req_init(&r->rq);
	if (target_build_store(g->t, r->recs, r->n, &r->rq, e))
		return -1;
	*rq = r->rq.http;
	return 0;
}

/* Receipts for what the target stored or rejected; the rest of the batch is retried. */
static enum pump_verdict on_outcome(void *ctx, void *job, const struct pump_outcome *o, struct err *e)
{
	(void)e;
	struct ing *g = ctx;
	struct ing_req *r = job;
	const struct http_response *rs = o->rs;
	struct err perr = ERR_INIT;
	int parse_failed = target_parse_store(g->t, &r->rq, rs, r->res, &perr) != 0;
	if (parse_failed && (rs->status == 401 || rs->status == 403)) {
		/* the key, not the records: stop with a runtime error (exit 4) and
		 * write no receipt, so --resume sends them once the key is fixed */
		if (e)
			*e = perr;
		err_prefix(e, "ingest");
		req_free(r);
		return PUMP_FAIL;
	}
	size_t n_retry = 0;
	for (size_t i = 0; i < r->n; i++) {
		int st = parse_failed ? TARGET_FAILED : (int)r->res[i].status;
		if (st == TARGET_STORED || st == TARGET_REJECTED) {
			g->acked_now++;
			if (st == TARGET_STORED)
				g->stored++;
			else {
				g->rejected++;
				if (!g->first_reject[0])
					snprintf(g->first_reject, sizeof(g->first_reject), "%.60s: %.180s", r->recs[i].id,
						 r->res[i].reason);
			}
			if (receipt(g, r->idx[i], st == TARGET_STORED ? R_STORED : R_REJECTED, o->attempt,
				    (int)rs->status, o->done - o->sent, r->res[i].server_id))
				g->failed_hard = 1;
		} else {
			r->idx[n_retry++] = r->idx[i];
		}
	}
	progress_add(&g->prog, r->n - n_retry, 0, 0);
	if (n_retry && !g->first_fail[0])
		snprintf(g->first_fail, sizeof(g->first_fail), "%.250s",
			 parse_failed ? perr.msg : r->res[0].reason[0] ? r->res[0].reason : "failed");
	r->n = n_retry;
	if (n_retry && o->last)
		return PUMP_RETRY; /* out of attempts: on_exhausted writes the FAILED receipts */
	if (n_retry && !g->failed_hard) {
		g->retries++;
		progress_add(&g->prog, 0, 0, 1);
		if (req_fill(g, r) == 0) /* re-read the remaining records in order */
			return PUMP_RETRY;
		g->failed_hard = 1;
	}
	req_free(r);
	return g->failed_hard ? PUMP_FAIL : PUMP_DONE;
}

static int on_exhausted(void *ctx, void *job, const struct pump_outcome *o, struct err *e)
{
	(void)e;
	struct ing *g = ctx;
	struct ing_req *r = job;
	for (size_t i = 0; i < r->n; i++) {
		g->failed++;
		if (receipt(g, r->idx[i], R_FAILED, o->attempt, (int)o->rs->status, o->done - o->sent, NULL))
			g->failed_hard = 1;
	}
	progress_add(&g->prog, 0, r->n, 0);
	req_free(r);
	return g->failed_hard ? -1 : 0;
}

static void on_drop(void *ctx, void *job)
{
	(void)ctx;
	req_free(job);
}

static const struct pump_ops ingest_pump = {
	.next = on_next,
	.build = on_build,
	.outcome = on_outcome,
	.exhausted = on_exhausted,
	.drop = on_drop,
};

static int send_http(struct ing *g)
{
	const struct spec_ingest *si = &g->c->spec->ingest;
	struct pump_opts po = { .max_in_flight = (int)si->concurrency,
				.native = 1,
				.retry = g->policy,
				.stop = steps_stop_flag(),
				.adaptive = si->adaptive };
	struct pump *p;
	if (pump_new(&po, &ingest_pump, g, &p, g->e))
		return -1;
	int rc = pump_run(p, g->e);
	pump_get_stats(p, &g->pst);
	size_t n = 0;
	const struct pump_sample *ss = pump_series(p, &n);
	g->series = xmalloc_array(n ? n : 1, sizeof(*g->series));
	memcpy(g->series, ss, n * sizeof(*ss));
	g->n_series = n;
	g->pumped = 1;
	pump_free(p);
	return rc || g->failed_hard ? -1 : 0;
}

static int send_inprocess(struct ing *g)
{
	struct ing_req *r;
	while ((r = next_batch(g)) != NULL) {
		mono_ns t0 = clock_mono_now();
		int rc = target_exec_store(g->t, r->recs, r->n, r->res, g->e);
		uint64_t lat = clock_mono_now() - t0;
		for (size_t i = 0; !rc && i < r->n; i++) {
			int st = r->res[i].status == TARGET_STORED ? R_STORED : R_REJECTED;
			g->acked_now++;
			if (st == R_STORED)
				g->stored++;
			else {
				g->rejected++;
				if (!g->first_reject[0])
					snprintf(g->first_reject, sizeof(g->first_reject), "%.60s: %.180s", r->recs[i].id,
						 r->res[i].reason);
			}
			rc = receipt(g, r->idx[i], st, 1, 0, lat, r->res[i].server_id);
		}
		progress_add(&g->prog, r->n, 0, 0);
		req_free(r);
		if (rc)
			return -1;
		if (steps_stop_requested())
			break;
	}
	return g->failed_hard ? -1 : 0;
}

/* ---------------------------------------------------------------- */
/* sets                                                               */

static int add_corpus_text(const struct article_view *v, void *ctx)
{
	struct ing_set *s = ctx;
	return buf_append(&s->content, v->title, v->title_len, NULL) || buf_append(&s->content, "\n\n", 2, NULL) ||
			       buf_append(&s->content, v->text,
					  article_utf8_prefix(v->text, v->text_len, s->content_max), NULL) ||
			       buf_append(&s->content, "", 1, NULL)
		       ? -1
		       : 0;
}

static int open_set(struct ing *g, struct ing_set *s, const struct digest *d, int is_corpus, struct err *e)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->content, 0);
	s->vectors = *d;
	if (artifact_get(g->c->store, d, &s->art, e))
		return -1;
	int64_t rows = 0, dim = 0;
	artifact_get_int(&s->art, "rows", &rows);
	artifact_get_int(&s->art, "dim", &dim);
	s->rows = (uint64_t)rows;
	s->dim = (uint32_t)dim;
	s->is_corpus = is_corpus;
	const char *pfx = artifact_get_str(&s->art, "id_prefix");
	snprintf(s->prefix, sizeof(s->prefix), "%s", pfx ? pfx : is_corpus ? "wiki-" : "syn-");
	const struct digest *vd = artifact_part(&s->art, "vectors");
	if (!vd)
		return err_set(e, ERR_CORRUPT, "ingest: set has no vectors part");
	if (obj_reader_open(g->c->store, vd, &s->vr, e))
		return -1;
	size_t n = (size_t)s->rows;
	if (artifact_part(&s->art, "ids")) {
		if (!(s->ids = xalloc_try_array(n, 8, "a set's ids", e)))
			return err_prefix(e, "ingest");
		if (artio_read_part(g->c->store, &s->art, "ids", s->ids, n * 8, e))
			return -1;
	}
	if (artifact_part(&s->art, "labels")) {
		if (!(s->labels = xalloc_try_array(n, 4, "a set's labels", e)))
			return err_prefix(e, "ingest");
		if (artio_read_part(g->c->store, &s->art, "labels", s->labels, n * 4, e))
			return -1;
	}
	if (artifact_part(&s->art, "confidence")) {
		if (!(s->conf = xalloc_try_array(n, 4, "a set's confidences", e)))
			return err_prefix(e, "ingest");
		if (artio_read_part(g->c->store, &s->art, "confidence", s->conf, n * 4, e))
			return -1;
	}
	synth_opts_init(&s->so, s->rows ? s->rows : 1);
	s->so.seed = g->c->spec->seed;
	s->content_max = target_content_max(g->t);
	const struct digest *articles = is_corpus ? step_input(g->c, STEP_CORPUS) : NULL;
	if (articles) {
		struct artifact corpus;
		if (artifact_get(g->c->store, articles, &corpus, e))
			return -1;
		int rc = 0;
		if (!strcmp(corpus.type, "corpus") && artifact_part(&corpus, "articles"))
			rc = artio_each_article(g->c->store, &corpus, add_corpus_text, s, e);
		artifact_release(&corpus);
		if (rc)
			return -1;
	}
	if (is_corpus) {
		/* offsets of the NUL-separated texts; rows without text use their id */
		if (!(s->content_off = xalloc_try_zeroed(n, sizeof(uint64_t), "the corpus text offsets", e)))
			return err_prefix(e, "ingest");
		uint64_t off = 0;
		for (size_t i = 0; i < n; i++) {
			if (off >= s->content.len) {
				char id[ID_LEN];
				record_id(s, i, id);
				uint64_t at = s->content.len;
				buf_append(&s->content, id, strlen(id) + 1, NULL);
				s->content_off[i] = at;
				off = s->content.len;
				continue;
			}
			s->content_off[i] = off;
			off += strlen(s->content.data + off) + 1;
		}
		/* corpus confidence by content length, the driver's rule (< 0: server default) */
		if (!(s->conf = xalloc_try_array(n, 4, "the corpus confidences", e)))
			return err_prefix(e, "ingest");
		for (size_t i = 0; i < n; i++)
			s->conf[i] = target_corpus_confidence(g->t, strlen(s->content.data + s->content_off[i]));
	}
	return 0;
}

static void close_set(struct ing_set *s)
{
	obj_reader_close(s->vr);
	free(s->ids);
	free(s->labels);
	free(s->conf);
	free(s->content_off);
	buf_release(&s->content);
	artifact_release(&s->art);
}

/* ---------------------------------------------------------------- */
/* verification                                                       */

static int verify_sample(struct ing *g, uint64_t want, struct verify_result *vr)
{
	memset(vr, 0, sizeof(*vr));
	uint64_t n_held = g->stored + g->present;
	if (want == 0 || n_held == 0)
		return 0;
	if (want > n_held)
		want = n_held;
	struct ing_req *r = req_new(g, (size_t)want);
	if (!r)
		return -1;
	uint64_t seed = g->c->spec->seed;
	for (uint64_t draw = 0; r->n < want && draw < want * 8; draw++) {
		uint64_t idx = ((uint64_t)rng_u32(seed, STREAM_VERIFY, 2 * draw) << 32 |
				rng_u32(seed, STREAM_VERIFY, 2 * draw + 1)) % g->total;
		if (held(g->state[idx]))
			r->idx[r->n++] = idx;
	}
	if (req_fill(g, r)) {
		req_free(r);
		return -1;
	}
	uint32_t dim = g->sets[0].dim;
	const char **ids = xalloc_try_array(r->n, sizeof(char *), "the ids to verify", g->e);
	if (!ids) {
		req_free(r);
		return -1;
	}
	for (size_t i = 0; i < r->n; i++)
		ids[i] = r->recs[i].id;
	struct target_vectors tv;
	target_vectors_init(&tv, dim);
	struct err ve = ERR_INIT;
	int rc = target_get_vectors(g->t, ids, r->n, &tv, &ve);
	if (rc == 0) {
		vr->method_readback = 1;
		for (size_t i = 0; i < r->n && i < tv.n; i++) {
			vr->checked++;
			if (!tv.found[i]) {
				vr->missing++;
				if (!vr->first_problem[0])
					snprintf(vr->first_problem, sizeof(vr->first_problem), "%s is not in the target", ids[i]);
				continue;
			}
			const float *a = r->vecs + i * dim, *b = tv.vecs + i * dim;
			for (uint32_t j = 0; j < dim; j++)
				if (fabsf(a[j] - b[j]) > 1e-6f * fmaxf(1.0f, fabsf(a[j]))) {
					vr->mismatched++;
					if (!vr->first_problem[0])
						snprintf(vr->first_problem, sizeof(vr->first_problem),
							 "%s: dimension %u is %.9g, sent %.9g", ids[i], j, b[j], a[j]);
					break;
				}
		}
	} else if (ve.cls == ERR_UNSUPPORTED) {
		/* no read-back by id (Engram): recall each vector, expect itself first */
		for (size_t i = 0; i < r->n; i++) {
			struct target_hits h;
			target_hits_init(&h);
			if (target_recall(g->t, r->vecs + i * dim, 1, 0.0f, &h, g->e)) {
				target_hits_release(&h);
				rc = -1;
				break;
			}
			vr->checked++;
			if (h.n == 0 || strcmp(h.v[0].id, ids[i])) {
				vr->missing++;
				if (!vr->first_problem[0])
					snprintf(vr->first_problem, sizeof(vr->first_problem),
						 "recall of %s's own vector returned %s", ids[i], h.n ? h.v[0].id : "nothing");
			}
			target_hits_release(&h);
		}
		rc = rc ? -1 : 0;
	} else {
		*g->e = ve;
	}
	target_vectors_release(&tv);
	free(ids);
	req_free(r);
	return rc;
}

/* ---------------------------------------------------------------- */

static void load_key(struct ing *g, struct digest *out)
{
	const struct spec_target *st = &g->c->spec->target;
	struct hash_ctx h;
	hash_init(&h);
	hash_update(&h, "engrave-load-v1", 16);
	const char *f[3] = { st->driver, st->url, target_space(g->t) };
	for (int i = 0; i < 3; i++)
		hash_update(&h, f[i] ? f[i] : "", strlen(f[i] ? f[i] : "") + 1);
	for (int s = 0; s < g->n_sets; s++)
		hash_update(&h, g->sets[s].vectors.b, DIGEST_LEN);
	hash_final(&h, out);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void window_row_encode(const struct pump_sample *s, uint8_t row[INGEST_WINDOW_ROW])
{
	memset(row, 0, INGEST_WINDOW_ROW);
	put_le(row, s->t_ms, 4);
	put_le(row + 4, s->window, 2);
	put_le(row + 6, s->min_window, 2);
	put_le(row + 8, s->in_flight, 2);
	put_le(row + 12, s->latency_ms, 4);
	put_le(row + 16, s->completed, 8);
}

/* The pump's window over time as the receipt's "window" part: rows of
 * INGEST_WINDOW_ROW little-endian bytes (steps.h). */
static int write_window_series(struct ing *g, struct digest *out, uint64_t *size)
{
	struct obj_writer *w;
	if (obj_writer_open(g->c->store, &w, g->e))
		return -1;
	for (size_t i = 0; i < g->n_series; i++) {
		uint8_t row[INGEST_WINDOW_ROW];
		window_row_encode(&g->series[i], row);
		if (obj_write(w, row, sizeof(row), g->e)) {
			obj_writer_abort(w);
			return -1;
		}
	}
	*size = obj_writer_size(w);
	return obj_writer_finish(w, out, g->e);
}

static int write_receipts(struct ing *g, uint64_t count_before, uint64_t count_after, int64_t lost,
			  const struct verify_result *vr, uint64_t elapsed_ns, struct digest *out)
{
	struct obj_writer *w;
	if (obj_writer_open(g->c->store, &w, g->e))
		return -1;
	uint8_t buf[4096];
	for (uint64_t i = 0; i < g->total;) {
		size_t n = 0;
		while (n < sizeof(buf) && i < g->total)
			buf[n++] = g->state[i++];
		if (obj_write(w, buf, n, g->e)) {
			obj_writer_abort(w);
			return -1;
		}
	}
	struct digest od, wd;
	uint64_t size = obj_writer_size(w), wsize = 0;
	if (obj_writer_finish(w, &od, g->e))
		return -1;
	if (g->pumped && write_window_series(g, &wd, &wsize))
		return -1;
	const struct spec_target *st = &g->c->spec->target;
	struct artifact a;
	artifact_init(&a, "ingest-receipt", 1);
	a.action = g->c->action;
	int rc = artifact_add_part(&a, "status", &od, size, g->e) ||
		 artifact_set_str(&a, "driver", st->driver, g->e) ||
		 artifact_set_str(&a, "url", st->url ? st->url : "", g->e) ||
		 artifact_set_str(&a, "space", target_space(g->t), g->e) ||
		 artifact_set_str(&a, "run", g->c->run_id, g->e) ||
		 artifact_set_int(&a, "records", (int64_t)g->total, g->e) ||
		 artifact_set_int(&a, "stored", (int64_t)g->stored, g->e) ||
		 artifact_set_int(&a, "rejected", (int64_t)g->rejected, g->e) ||
		 artifact_set_int(&a, "failed", (int64_t)g->failed, g->e) ||
		 artifact_set_int(&a, "count_before", (int64_t)count_before, g->e) ||
		 artifact_set_int(&a, "count_after", (int64_t)count_after, g->e) ||
		 artifact_set_int(&a, "lost", lost, g->e) ||
		 artifact_set_int(&a, "sample_checked", (int64_t)vr->checked, g->e) ||
		 artifact_set_int(&a, "sample_missing", (int64_t)vr->missing, g->e) ||
		 artifact_set_int(&a, "sample_mismatched", (int64_t)vr->mismatched, g->e) ||
		 artifact_set_int(&a, "elapsed_ns", (int64_t)elapsed_ns, g->e) ||
		 (g->pumped && artifact_add_part(&a, "window", &wd, wsize, g->e)) ||
		 artifact_put(g->c->store, &a, out, g->e);
	artifact_release(&a);
	return rc ? -1 : 0;
}

static int try_reuse(struct ing *g, const char *refname, struct err *e)
{
	char hex[DIGEST_HEX_LEN + 1];
	struct err re = ERR_INIT;
	if (ref_get(g->c->store, refname, hex, sizeof(hex), &re))
		return 0;
	struct digest d;
	struct artifact a;
	if (digest_from_hex(hex, &d, NULL) || artifact_get(g->c->store, &d, &a, NULL))
		return 0;
	int64_t want = -1, stored = 0;
	artifact_get_int(&a, "count_after", &want);
	artifact_get_int(&a, "stored", &stored);
	uint64_t now = 0;
	if (target_count(g->t, &now, e)) {
		artifact_release(&a);
		return -1;
	}
	int ok = want >= 0 && now == (uint64_t)want;
	if (ok) {
		/* the records of that load count as stored for the sample check */
		for (uint64_t i = 0; i < g->total; i++)
			g->state[i] = R_STORED;
		g->stored = g->total;
		struct verify_result vr;
		if (verify_sample(g, g->c->spec->ingest.verify_sample, &vr)) {
			artifact_release(&a);
			return -1;
		}
		ok = vr.missing == 0 && vr.mismatched == 0;
		if (!ok)
			log_info("ingest: not reusing the earlier load: %s", vr.first_problem);
		memset(g->state, R_NONE, g->total);
		g->stored = 0;
	} else {
		log_info("ingest: not reusing the earlier load: the target holds %llu vectors, the load left %lld",
			 (unsigned long long)now, (long long)want);
	}
	if (ok) {
		g->c->out[0] = d;
		g->c->n_out = 1;
		const char *run = artifact_get_str(&a, "run");
		snprintf(g->c->summary, sizeof(g->c->summary),
			 "reused the verified load of run %.60s (%lld vectors, count and sample match)", run ? run : "?",
			 (long long)stored);
	}
	artifact_release(&a);
	return ok;
}

/* ---------------------------------------------------------------- */
/* the step: prepare, begin (resume or reuse), send, verify, record   */

/* Open the target and the sets, number the records, name the load. */
static int ingest_prepare(struct ing *g, struct err *e)
{
	struct step_ctx *c = g->c;
	const struct spec_ingest *si = &c->spec->ingest;
	if (steps_target(c, &g->t, e))
		return -1;
	for (size_t k = 0; k < si->n_sets; k++) {
		int is_corpus = si->sets[k] == SPEC_SET_CORPUS;
		const struct digest *vectors = step_set_vectors(c, si->sets[k]);
		struct ing_set *s = &g->sets[g->n_sets];
		if (!vectors)
			continue;
		if (open_set(g, s, vectors, is_corpus, e)) {
			close_set(s);
			return -1;
		}
		s->base = g->total;
		g->total += s->rows;
		g->n_sets++;
		if (s->dim != g->sets[0].dim)
			return err_set(e, ERR_SPEC, "ingest: sets have different dimensions (%u and %u)", g->sets[0].dim,
				       s->dim);
	}
	if (g->n_sets == 0 || g->total == 0)
		return err_set(e, ERR_SPEC, "ingest: nothing to load (steps.ingest.sets is empty)");
	if (g->sets[0].dim != target_dim(g->t))
		return err_set(e, ERR_SPEC, "ingest: the vectors are %u-d but the %s target was opened for %u-d",
			       g->sets[0].dim, target_driver(g->t), target_dim(g->t));
	g->state = xalloc_try_zeroed((size_t)g->total, 1, "the state of each record", e);
	if (!g->state)
		return err_prefix(e, "ingest");
	struct digest lk;
	load_key(g, &lk);
	char lkhex[DIGEST_HEX_LEN + 1];
	digest_to_hex(&lk, lkhex);
	snprintf(g->refname, sizeof(g->refname), "loads/%.64s", lkhex);
	return 0;
}

/*
 * Census: which records the target holds, by id (target_has_ids). `pick`
 * selects the records asked about; `on` is called for each with found 0/1.
 */
static int census(struct ing *g, int (*pick)(uint8_t), int (*on)(struct ing *, uint64_t, int), struct err *e)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < g->total; i++)
		n += pick(g->state[i]) != 0;
	if (n == 0)
		return 0;
	uint64_t *idx = xalloc_try_array(n, sizeof(*idx), "ingest census indices", e);
	const char **ids = idx ? xalloc_try_array(n, sizeof(*ids), "ingest census ids", e) : NULL;
	char *idbuf = ids ? xalloc_try_array(n, ID_LEN, "ingest census id text", e) : NULL;
	unsigned char *found = idbuf ? xalloc_try_array(n, 1, "ingest census answers", e) : NULL;
	int rc = found ? 0 : -1;
	for (uint64_t i = 0, k = 0; !rc && i < g->total; i++) {
		if (!pick(g->state[i]))
			continue;
		uint64_t row = 0;
		const struct ing_set *s = set_of(g, i, &row);
		record_id(s, row, idbuf + k * ID_LEN);
		ids[k] = idbuf + k * ID_LEN;
		idx[k++] = i;
	}
	if (!rc)
		rc = target_has_ids(g->t, ids, (size_t)n, found, e);
	for (uint64_t k = 0; !rc && k < n; k++)
		rc = on(g, idx[k], found[k]);
	free(found);
	free(idbuf);
	free(ids);
	free(idx);
	return rc;
}

static int pick_unsent(uint8_t s)
{
	return s == R_NONE;
}

/* A record the target already holds is not sent: its receipt says so. */
static int mark_present(struct ing *g, uint64_t i, int found)
{
	if (!found)
		return 0;
	g->present++;
	return receipt(g, i, R_PRESENT, 0, 0, 0, NULL);
}

/* --verify-all: an acknowledged record the target does not hold is lost. */
static int count_absent(struct ing *g, uint64_t i, int found)
{
	if (found)
		return 0;
	if (!g->vr->absent++) {
		uint64_t row = 0;
		record_id(set_of(g, i, &row), row, g->vr->first_absent);
	}
	return 0;
}

/* An acknowledged record the target no longer holds is sent again. */
static int mark_lost(struct ing *g, uint64_t i, int found)
{
	if (found)
		return 0;
	if (g->state[i] == R_STORED)
		g->stored--;
	else
		g->present--;
	g->state[i] = R_RESEND;
	g->resend_due++;
	return 0;
}

/* Records the target holds before the first send are marked present (one
 * census, journaled), so a re-run against a target that holds the data
 * sends nothing and expects nothing new. */
static int ingest_find_present(struct ing *g, struct err *e)
{
	if (g->count_before == 0)
		return 0; /* an empty target holds none of them */
	if (journal_batch_begin(g->c->store, g->c->run_id, STREAM, &g->jb, e))
		return -1;
	int rc = census(g, pick_unsent, mark_present, e);
	if (!rc)
		rc = journal_batch_commit(g->jb, e);
	else
		journal_batch_abort(g->jb);
	g->jb = NULL;
	if (!rc && g->present)
		log_info("ingest: %llu of %llu records are already in the target; they are not sent again",
			 (unsigned long long)g->present, (unsigned long long)g->total);
	return rc;
}

/* On resume, acknowledged records the target does not hold (a target that
 * did not outlive the process, or one that dropped them) are sent again. */
static int ingest_find_lost(struct ing *g, struct err *e)
{
	int persistent = target_can(g->t, TARGET_CAP_PERSISTENT);
	if (!persistent && target_count(g->t, &g->count_before, e))
		return -1; /* a new in-process index: what it holds now is the base */
	if (g->stored + g->present == 0)
		return 0;
	if (census(g, held, mark_lost, e))
		return -1;
	if (g->resend_due)
		log_info("ingest: resuming: %llu acknowledged records are not in the %s target%s; sending them again",
			 (unsigned long long)g->resend_due, target_driver(g->t),
			 persistent ? "" : " (it does not outlive the process)");
	return 0;
}

/*
 * Where this run stands: the receipts of an interrupted attempt, and the
 * target's count before the first send (journaled, so a resume compares
 * with the same base). A fresh run first tries to reuse a verified load,
 * else finds the records the target already holds; a resume finds the
 * acknowledged records the target lost. Returns 1 when reused (the step's
 * output is set), 0 to send, -1 on error.
 */
static int ingest_begin(struct ing *g, struct err *e)
{
	struct step_ctx *c = g->c;
	if (journal_iter(c->store, c->run_id, STREAM, load_receipt, g, e))
		return -1;
	struct buf mv;
	buf_init(&mv, 0);
	int have_before = journal_get(c->store, c->run_id, META_STREAM, "count_before", 12, &mv, e);
	if (have_before > 0 && mv.len == 8)
		memcpy(&g->count_before, mv.data, 8);
	buf_release(&mv);
	if (have_before < 0)
		return -1;
	if (have_before) {
		if (g->stored || g->rejected || g->present)
			log_info("ingest: resuming: %llu records already have a receipt",
				 (unsigned long long)(g->stored + g->rejected + g->present));
		return ingest_find_lost(g, e);
	}
	int reused = try_reuse(g, g->refname, e);
	if (reused)
		return reused;
	if (target_count(g->t, &g->count_before, e))
		return -1;
	struct journal_batch *mb;
	if (journal_batch_begin(c->store, c->run_id, META_STREAM, &mb, e) ||
	    journal_batch_put(mb, "count_before", 12, &g->count_before, 8, e) || journal_batch_commit(mb, e))
		return -1;
	return ingest_find_present(g, e);
}

/* Send every record without a receipt; every receipt gathered is committed,
 * also when sending fails or is interrupted (resume). A target that builds
 * its index separately (pgvector) builds it before or after, as its
 * configuration says: ingest.index_build_s. */
static int ingest_send(struct ing *g, struct err *e)
{
	struct step_ctx *c = g->c;
	const struct spec_ingest *si = &c->spec->ingest;
	size_t mb = target_max_batch(g->t);
	g->batch = si->batch_size < mb ? si->batch_size : mb;
	if (g->batch == 0)
		g->batch = 1;
	g->max_attempts = (int)si->retries + 1;
	struct retry_policy rp = RETRY_POLICY_DEFAULT;
	rp.seed = c->spec->seed;
	rp.max_attempts = g->max_attempts;
	g->policy = rp;
	if (journal_batch_begin(c->store, c->run_id, STREAM, &g->jb, e))
		return -1;
	g->last_commit = clock_mono_now();
	progress_start(&g->prog, "ingest", g->total, "records");
	progress_set(&g->prog, g->stored + g->rejected);
	if (target_build_index(g->t, TARGET_BEFORE_LOAD, &g->index_build_s, e))
		return -1;
	mono_ns t0 = clock_mono_now();
	int send_rc = target_has_http(g->t) ? send_http(g) : send_inprocess(g);
	g->elapsed_ns = clock_mono_now() - t0;
	progress_finish(&g->prog);
	if (journal_commit(g, 1) && !send_rc)
		send_rc = -1;
	if (send_rc)
		return -1;
	if (steps_stop_requested())
		return err_set(e, ERR_INTERRUPTED, "ingest: interrupted with %llu of %llu records stored",
			       (unsigned long long)g->stored, (unsigned long long)g->total);
	double after_s;
	if (target_build_index(g->t, TARGET_AFTER_LOAD, &after_s, e))
		return -1;
	if (after_s >= 0)
		g->index_build_s = after_s;
	return 0;
}

/* Compare what the target holds with what it acknowledged. */
static int ingest_verify(struct ing *g, struct verify_result *vr, struct err *e)
{
	uint64_t count_after = 0;
	if (target_count(g->t, &count_after, e))
		return -1;
	if (verify_sample(g, g->c->spec->ingest.verify_sample, vr))
		return -1;
	vr->count_after = count_after;
	vr->expected = (int64_t)(g->count_before + g->stored);
	vr->lost = vr->expected - (int64_t)count_after;
	if (g->c->verify_all) {
		g->vr = vr;
		int rc = census(g, held, count_absent, e);
		g->vr = NULL;
		if (rc)
			return -1;
		vr->by_id = 1;
		if ((int64_t)vr->absent > vr->lost)
			vr->lost = (int64_t)vr->absent; /* by id is exact where the count can hide a loss */
	}
	return 0;
}

/* Metrics, the receipt artifact and the one-line summary. */
static int ingest_record(struct ing *g, const struct verify_result *vr)
{
	struct step_ctx *c = g->c;
	double secs = (double)g->elapsed_ns / NS_PER_S;
	steps_metric(c, "ingest.records", (double)g->total);
	steps_metric(c, "ingest.stored", (double)g->stored);
	steps_metric(c, "ingest.rejected", (double)g->rejected);
	steps_metric(c, "ingest.failed", (double)g->failed);
	steps_metric(c, "ingest.retries", (double)g->retries);
	steps_metric(c, "ingest.present", (double)g->present);
	steps_metric(c, "ingest.resent", (double)g->resent);
	if (secs > 0 && g->acked_now) /* acknowledged records, a retried one once */
		steps_metric(c, "ingest.records_per_s", (double)g->acked_now / secs);
	if (g->index_build_s >= 0)
		steps_metric(c, "ingest.index_build_s", g->index_build_s);
	steps_metric(c, "ingest.count_after", (double)vr->count_after);
	steps_metric(c, "ingest.lost", (double)(vr->lost > 0 ? vr->lost : 0));
	steps_metric(c, "ingest.sample_checked", (double)vr->checked);
	if (vr->by_id)
		steps_metric(c, "ingest.absent_by_id", (double)vr->absent);
	steps_metric(c, "ingest.sample_missing", (double)vr->missing);
	steps_metric(c, "ingest.sample_mismatched", (double)vr->mismatched);
	if (g->pumped) {
		steps_metric(c, "ingest.window_final", (double)g->pst.window);
		steps_metric(c, "ingest.window_max", (double)g->pst.max_window);
		steps_metric(c, "ingest.window_min", (double)g->pst.min_window);
		steps_metric(c, "ingest.window_cuts", (double)g->pst.cuts);
		steps_metric(c, "ingest.timeouts", (double)g->pst.timeouts);
		steps_metric(c, "ingest.congestion", (double)g->pst.congestion);
		if (g->pst.max_timeout_ns)
			steps_metric(c, "ingest.timeout_max_s", (double)g->pst.max_timeout_ns / NS_PER_S);
	}
	if (write_receipts(g, g->count_before, vr->count_after, vr->lost, vr, g->elapsed_ns, &c->out[0]))
		return -1;
	c->n_out = 1;
	char extra[96] = "";
	if (g->present || g->resent)
		snprintf(extra, sizeof(extra), " (%llu re-sent), %llu already present", (unsigned long long)g->resent,
			 (unsigned long long)g->present);
	snprintf(c->summary, sizeof(c->summary),
		 "%llu stored%s, %llu rejected, %llu failed, %llu retries; target count %llu (expected %lld); sample %llu/%llu ok",
		 (unsigned long long)g->stored, extra, (unsigned long long)g->rejected, (unsigned long long)g->failed,
		 (unsigned long long)g->retries, (unsigned long long)vr->count_after, (long long)vr->expected,
		 (unsigned long long)(vr->checked - vr->missing - vr->mismatched), (unsigned long long)vr->checked);
	return 0;
}

/* The three failure verdicts, in order: not stored, rejected, lost. A load
 * with none is recorded under its ref for reuse by later runs. */
static int ingest_verdict(struct ing *g, const struct verify_result *vr, struct err *e)
{
	if (g->failed) {
		err_set(e, ERR_NET, "ingest: %llu of %llu records were not stored after %d attempts each (first: %s)",
			(unsigned long long)g->failed, (unsigned long long)g->total, g->max_attempts, g->first_fail);
		return err_hint(e, "fix the target and continue with 'engrave run SPEC --resume': records the target holds are not sent again");
	}
	if (g->rejected)
		return err_set(e, ERR_CHECK, "ingest: the target rejected %llu records (first: %s)",
			       (unsigned long long)g->rejected, g->first_reject);
	if (vr->lost > 0 || vr->missing || vr->mismatched) {
		err_set(e, ERR_CHECK,
			"ingest: the target acknowledged %llu records but holds %llu (expected %lld: %lld lost); sample read-back: %llu missing, %llu different of %llu%s%s",
			(unsigned long long)g->stored, (unsigned long long)vr->count_after, (long long)vr->expected,
			(long long)(vr->lost > 0 ? vr->lost : 0), (unsigned long long)vr->missing,
			(unsigned long long)vr->mismatched, (unsigned long long)vr->checked,
			vr->first_problem[0] ? "; first: " : "", vr->first_problem);
		if (vr->by_id && vr->absent)
			err_prefix(e, "%llu acknowledged records are not in the target by id (first: %s)",
				   (unsigned long long)vr->absent, vr->first_absent);
		return err_hint(e, "%s", target_unheld_hint(g->t));
	}
	char dhex[DIGEST_HEX_LEN + 1];
	digest_to_hex(&g->c->out[0], dhex);
	return ref_set(g->c->store, g->refname, dhex, e);
}

int step_ingest_run(struct step_ctx *c, struct err *e)
{
	struct ing g;
	memset(&g, 0, sizeof(g));
	g.c = c;
	g.e = e;
	struct verify_result vr;
	int rc = ingest_prepare(&g, e);
	if (!rc)
		rc = ingest_begin(&g, e);
	if (rc == 1) { /* reused a verified load */
		rc = 0;
	} else if (!rc) {
		rc = ingest_send(&g, e) || ingest_verify(&g, &vr, e) || ingest_record(&g, &vr) ||
				     ingest_verdict(&g, &vr, e)
			     ? -1
			     : 0;
	}
	if (g.jb)
		journal_batch_abort(g.jb);
	for (int s = 0; s < g.n_sets; s++)
		close_set(&g.sets[s]);
	free(g.state);
	free(g.series);
	return rc;
}
