/*
 * embed_http.c — the `http` embedder over the net engine.
 *
 * embed_http_batch() cuts the input into jobs of batch_size texts, builds
 * each job's JSON body once (jsonf_write_string, so no JSON tree is built
 * for megabytes of article text), and hands them to the retrying pump
 * (pump.h) with at most `concurrency` requests in flight. The pump owns the
 * sending, the backoff and the attempt limit; this file only says what an
 * answer means: a 2xx is parsed into the output rows, an attempt worth
 * retrying (retry_should: transport error, 429, 5xx) is retried, anything
 * else, or the last attempt failing, fails the batch naming the status.
 *
 * Responses are read with jsonf's structural reader and float parser rather
 * than jansson: a batch of 64 x 768 floats is ~700 KB of JSON, which jansson
 * decodes at ~211 µs per vector (reference/platform.md section 5) while
 * jsonf parses it several times faster. OpenAI answers carry an "index" per
 * item, honoured so results land in input order; Ollama answers are
 * positional. Every vector's length is checked against the spec's dim
 * before anything is written, so a wrong model fails with the two numbers
 * side by side instead of producing garbage.
 */
#include "engrave/embed_http.h"
#include "engrave/buf.h"
#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/jsonf.h"
#include "engrave/log.h"
#include "engrave/pump.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRATCH_FLOATS (1u << 16) /* longest vector we can report the size of */

struct embed_http {
	enum embed_http_api api;
	char *url, *model, *auth;
	int dim, batch_size, concurrency;
	uint64_t timeout_ns;
	struct retry_policy retry;
	char *identity;
	struct embed_http_stats st;
	float *scratch;
};

struct job {
	struct embed_http *eh;
	size_t first, count;
	struct buf body;
	float *out; /* eh output base */
};

int embed_http_api_parse(const char *name, enum embed_http_api *out, struct err *e)
{
	if (name && !strcmp(name, "openai")) {
		*out = EMBED_HTTP_OPENAI;
		return 0;
	}
	if (name && !strcmp(name, "ollama")) {
		*out = EMBED_HTTP_OLLAMA;
		return 0;
	}
	err_set(e, ERR_SPEC, "unknown embedding API '%s'", name ? name : "(null)");
	return err_hint(e, "use \"openai\" (POST /v1/embeddings) or \"ollama\" (POST /api/embed)");
}

static const char *embed_http_api_name(enum embed_http_api api)
{
	return api == EMBED_HTTP_OLLAMA ? "ollama" : "openai";
}

int embed_http_new(const struct embed_http_opts *o, struct embed_http **out, struct err *e)
{
	*out = NULL;
	if (!o->url || strncmp(o->url, "http", 4))
		return err_set(e, ERR_SPEC, "embedder url '%s' is not an http(s) URL",
			       o->url ? o->url : "(none)");
	if (!o->model || !*o->model)
		return err_set(e, ERR_SPEC, "embedder model is not set");
	if (o->dim <= 0 || (unsigned)o->dim > SCRATCH_FLOATS)
		return err_set(e, ERR_SPEC, "embedder dim %d is out of range (1..%u)", o->dim,
			       SCRATCH_FLOATS);
	if (o->api != EMBED_HTTP_OPENAI && o->api != EMBED_HTTP_OLLAMA)
		return err_set(e, ERR_SPEC, "unknown embedding API %d", (int)o->api);
	struct embed_http *eh = xcalloc(1, sizeof(*eh));
	eh->api = o->api;
	/* a URL with no path gets the API's default endpoint */
	const char *after_scheme = strstr(o->url, "://");
	const char *path = after_scheme ? strchr(after_scheme + 3, '/') : NULL;
	if (!path || !strcmp(path, "/")) {
		struct buf u;
		buf_init(&u, 0);
		buf_append(&u, o->url, path ? (size_t)(path - o->url) : strlen(o->url), NULL);
		buf_append_str(&u, o->api == EMBED_HTTP_OLLAMA ? "/api/embed" : "/v1/embeddings", NULL);
		eh->url = buf_detach(&u, NULL);
	} else {
		eh->url = xstrdup(o->url);
	}
	eh->model = xstrdup(o->model);
	if (o->api_key && *o->api_key) {
		size_t n = strlen(o->api_key) + 8;
		eh->auth = xmalloc(n);
		snprintf(eh->auth, n, "Bearer %s", o->api_key);
	}
	eh->dim = o->dim;
	eh->batch_size = o->batch_size > 0 ? o->batch_size : 32;
	eh->concurrency = o->concurrency > 0 ? o->concurrency : 4;
	eh->timeout_ns = o->timeout_ns ? o->timeout_ns : 120 * NS_PER_S;
	if (o->retry.max_attempts > 0) {
		eh->retry = o->retry;
	} else {
		struct retry_policy def = RETRY_POLICY_DEFAULT;
		eh->retry = def;
	}
	struct buf id;
	buf_init(&id, 0);
	buf_printf(&id, NULL, "http:%s %s model=%s dim=%d", embed_http_api_name(eh->api), eh->url,
		   eh->model, eh->dim);
	eh->identity = buf_detach(&id, NULL);
	eh->scratch = xmalloc_array(SCRATCH_FLOATS, sizeof(float));
	*out = eh;
	return 0;
}

void embed_http_free(struct embed_http *eh)
{
	if (!eh)
		return;
	free(eh->url);
	free(eh->model);
	free(eh->auth);
	free(eh->identity);
	free(eh->scratch);
	free(eh);
}

const char *embed_http_identity(const struct embed_http *eh)
{
	return eh->identity;
}

int embed_http_dim(const struct embed_http *eh)
{
	return eh->dim;
}

void embed_http_get_stats(const struct embed_http *eh, struct embed_http_stats *out)
{
	*out = eh->st;
}

/* ------------------------------------------------------- response parsing */

/* Parse one vector at p into row `row` of the job; returns after it or NULL (error set). */
static const char *take_vector(struct job *j, const char *p, const char *lim, size_t row,
			       struct err *e)
{
	struct embed_http *eh = j->eh;
	size_t n;
	const char *end;
	p = jsonf_skip_ws(p, lim);
	int rc = jsonf_parse_f32_array(p, (size_t)(lim - p), eh->scratch, SCRATCH_FLOATS, &n, &end);
	if (rc != JSONF_OK) {
		err_set(e, ERR_INPUT, "POST %s: embedding %zu of the response: %s at byte %zu",
			eh->url, j->first + row, jsonf_strerror(rc), (size_t)(end - p));
		return NULL;
	}
	if (n != (size_t)eh->dim) {
		err_set(e, ERR_SPEC, "model %s returned %zu-dim vectors, spec says %d", eh->model, n,
			eh->dim);
		err_hint(e, "set dim: %zu in the spec, or use the model the spec was written for", n);
		return NULL;
	}
	memcpy(j->out + (j->first + row) * (size_t)eh->dim, eh->scratch, n * sizeof(float));
	return end;
}

static int bad_json(struct job *j, const char *what, struct err *e)
{
	return err_set(e, ERR_INPUT, "POST %s: unexpected response: %s", j->eh->url, what);
}

/*
 * One item of OpenAI's "data" at v: {"object":"embedding","embedding":[...],"index":i}.
 * The row is `index` when given, else the item's position. Returns after the
 * item, or NULL (error set).
 */
static const char *take_openai_item(struct job *j, const char *v, const char *lim, size_t pos,
				    unsigned char *seen, struct err *e)
{
	if (*v != '{') {
		bad_json(j, "an item of \"data\" is not an object", e);
		return NULL;
	}
	const char *q = jsonf_skip_ws(v + 1, lim), *vec = NULL;
	long idx = -1;
	while (q < lim && *q != '}') {
		const char *k1 = jsonf_match_string(q, lim, "embedding");
		const char *k2 = k1 ? NULL : jsonf_match_string(q, lim, "index");
		const char *ke = k1 ? k1 : k2 ? k2 : jsonf_skip_value(q, lim);
		if (!ke || *q != '"')
			break;
		q = jsonf_skip_ws(ke, lim);
		if (q >= lim || *q != ':')
			break;
		q = jsonf_skip_ws(q + 1, lim);
		if (k1)
			vec = q;
		if (k2) {
			char *end;
			idx = strtol(q, &end, 10);
		}
		q = jsonf_skip_value(q, lim);
		if (!q)
			break;
		q = jsonf_skip_ws(q, lim);
		if (q < lim && *q == ',')
			q = jsonf_skip_ws(q + 1, lim);
	}
	if (!q || q >= lim || *q != '}' || !vec) {
		bad_json(j, "an item of \"data\" has no \"embedding\" array", e);
		return NULL;
	}
	size_t row = idx >= 0 ? (size_t)idx : pos;
	if (row >= j->count || seen[row]) {
		err_set(e, ERR_INPUT, "POST %s: embedding index %ld is %s", j->eh->url, idx,
			row >= j->count ? "out of range" : "repeated");
		return NULL;
	}
	if (!take_vector(j, vec, lim, row, e))
		return NULL;
	seen[row] = 1;
	return q + 1;
}

/* The embeddings array at v (just after its '['): every row once. Returns after
 * the closing ']', or NULL (error set). */
static const char *take_embeddings(struct job *j, const char *v, const char *lim,
				   unsigned char *seen, size_t *got, struct err *e)
{
	struct embed_http *eh = j->eh;
	size_t pos = 0;
	while (v < lim && *v != ']') {
		if (pos >= j->count) {
			err_set(e, ERR_INPUT, "POST %s: %zu texts sent, more embeddings returned",
				eh->url, j->count);
			return NULL;
		}
		if (eh->api == EMBED_HTTP_OLLAMA) {
			if (!(v = take_vector(j, v, lim, pos, e)))
				return NULL;
			seen[pos] = 1;
		} else if (!(v = take_openai_item(j, v, lim, pos, seen, e))) {
			return NULL;
		}
		(*got)++;
		pos++;
		v = jsonf_skip_ws(v, lim);
		if (v < lim && *v == ',')
			v = jsonf_skip_ws(v + 1, lim);
		else if (v < lim && *v != ']') {
			bad_json(j, "malformed embeddings array", e);
			return NULL;
		}
	}
	if (v >= lim) {
		bad_json(j, "truncated embeddings array", e);
		return NULL;
	}
	return v + 1;
}

/* Read an OpenAI or Ollama response body into the job's rows. */
static int parse_response(struct job *j, const char *p, const char *lim, struct err *e)
{
	struct embed_http *eh = j->eh;
	unsigned char *seen = xcalloc(j->count, 1); /* count <= batch_size (spec max 100000) */
	size_t got = 0;
	int rc = -1;
	p = jsonf_skip_ws(p, lim);
	if (p >= lim || *p != '{') {
		bad_json(j, "not a JSON object", e);
		goto out;
	}
	p = jsonf_skip_ws(p + 1, lim);
	int found = 0;
	while (p < lim && *p != '}') {
		const char *key = p, *v;
		const char *want = eh->api == EMBED_HTTP_OLLAMA ? "embeddings" : "data";
		const char *after = jsonf_match_string(key, lim, want);
		const char *kend = after ? after : jsonf_skip_value(key, lim);
		if (!kend || *key != '"') {
			bad_json(j, "malformed object", e);
			goto out;
		}
		v = jsonf_skip_ws(kend, lim);
		if (v >= lim || *v != ':') {
			bad_json(j, "malformed object", e);
			goto out;
		}
		v = jsonf_skip_ws(v + 1, lim);
		if (after) {
			found = 1;
			if (v >= lim || *v != '[') {
				bad_json(j, eh->api == EMBED_HTTP_OLLAMA ? "\"embeddings\" is not an array"
									 : "\"data\" is not an array", e);
				goto out;
			}
			if (!(p = take_embeddings(j, jsonf_skip_ws(v + 1, lim), lim, seen, &got, e)))
				goto out;
		} else if (!(p = jsonf_skip_value(v, lim))) {
			bad_json(j, "malformed JSON", e);
			goto out;
		}
		p = jsonf_skip_ws(p, lim);
		if (p < lim && *p == ',')
			p = jsonf_skip_ws(p + 1, lim);
	}
	if (!found) {
		bad_json(j, eh->api == EMBED_HTTP_OLLAMA ? "no \"embeddings\" member"
							  : "no \"data\" member", e);
		goto out;
	}
	if (got != j->count) {
		err_set(e, ERR_INPUT, "POST %s: %zu texts sent, %zu embeddings returned", eh->url,
			j->count, got);
		goto out;
	}
	rc = 0;
out:
	free(seen);
	return rc;
}

/* -------------------------------------------------------------- the batch */

struct run {
	struct embed_http *eh;
	struct job *jobs;
	size_t n_jobs, next_job;
	struct http_header hdrs[2];
	int n_hdrs;
	int failed;
};

static int job_next(void *ctx, void **job, struct err *e)
{
	(void)e;
	struct run *r = ctx;
	if (r->next_job >= r->n_jobs)
		return 0;
	*job = &r->jobs[r->next_job++];
	return 1;
}

static int job_build(void *ctx, void *job, struct http_request *rq, struct err *e)
{
	(void)e;
	struct run *r = ctx;
	struct job *j = job;
	*rq = (struct http_request){ .method = "POST", .url = r->eh->url, .headers = r->hdrs,
				     .n_headers = r->n_hdrs, .body = j->body.data,
				     .body_len = j->body.len, .timeout_ns = r->eh->timeout_ns };
	r->eh->st.requests++;
	return 0;
}

/* Out of attempts, or not worth retrying: the batch fails with the last answer. */
static int job_exhausted(void *ctx, void *job, const struct pump_outcome *o, struct err *e)
{
	(void)job;
	struct run *r = ctx;
	struct embed_http *eh = r->eh;
	const struct http_response *rs = o->rs;
	r->failed = 1;
	if (rs->status == 0) {
		err_set(e, ERR_NET, "POST %s: %s (after %d attempts)", eh->url, rs->error,
			o->attempt);
		err_hint(e, "is the embedding server running? check the embedder url");
	} else {
		int n = (int)(rs->body.len > 300 ? 300 : rs->body.len);
		err_set(e, ERR_NET, "POST %s: HTTP %ld after %d attempt%s: %.*s", eh->url, rs->status,
			o->attempt, o->attempt == 1 ? "" : "s", n, rs->body.data);
	}
	return -1;
}

static enum pump_verdict job_outcome(void *ctx, void *job, const struct pump_outcome *o,
				     struct err *e)
{
	struct run *r = ctx;
	struct job *j = job;
	struct embed_http *eh = r->eh;
	const struct http_response *rs = o->rs;
	if (r->failed)
		return PUMP_GIVE_UP; /* draining after a failure */
	int transport = rs->status == 0;
	if (!transport && rs->status >= 200 && rs->status < 300) {
		if (parse_response(j, rs->body.data, rs->body.data + rs->body.len, e) < 0) {
			r->failed = 1;
			return PUMP_FAIL;
		}
		eh->st.texts += j->count;
		return PUMP_DONE;
	}
	if (!retry_should(rs, transport)) {
		job_exhausted(ctx, job, o, e);
		return PUMP_FAIL;
	}
	if (!o->last) {
		eh->st.retries++;
		if (transport)
			log_debug("POST %s: %s; retry %d in %.3f s", eh->url, rs->error, o->attempt,
				  (double)o->retry_in_ns / 1e9);
		else
			log_debug("POST %s: HTTP %ld; retry %d in %.3f s", eh->url, rs->status,
				  o->attempt, (double)o->retry_in_ns / 1e9);
	}
	return PUMP_RETRY;
}

static const struct pump_ops job_ops = {
	.next = job_next,
	.build = job_build,
	.outcome = job_outcome,
	.exhausted = job_exhausted,
};

static int build_body(struct embed_http *eh, struct job *j, const char *const *texts,
		      const size_t *lens, struct err *e)
{
	struct buf *b = &j->body;
	if (buf_append_str(b, "{\"model\":", e) < 0 ||
	    jsonf_write_string(b, eh->model, strlen(eh->model), e) < 0 ||
	    buf_append_str(b, ",\"input\":[", e) < 0)
		return -1;
	for (size_t i = 0; i < j->count; i++) {
		const char *t = texts[j->first + i];
		size_t len = lens ? lens[j->first + i] : strlen(t);
		if ((i && buf_append(b, ",", 1, e) < 0) || jsonf_write_string(b, t, len, e) < 0)
			return -1;
	}
	return buf_append_str(b, "]}", e);
}

int embed_http_batch(struct embed_http *eh, const char *const *texts, const size_t *lens,
		     size_t n, float *out, struct err *e)
{
	if (n == 0)
		return 0;
	struct run r = { .eh = eh };
	r.n_jobs = (n + (size_t)eh->batch_size - 1) / (size_t)eh->batch_size;
	r.jobs = xalloc_try_zeroed(r.n_jobs, sizeof(*r.jobs), "embedding requests", e);
	if (!r.jobs)
		return err_prefix(e, "embedder: %zu texts", n);
	int rc = -1;
	for (size_t i = 0; i < r.n_jobs; i++) {
		struct job *j = &r.jobs[i];
		j->eh = eh;
		j->first = i * (size_t)eh->batch_size;
		j->count = n - j->first < (size_t)eh->batch_size ? n - j->first : (size_t)eh->batch_size;
		j->out = out;
		buf_init(&j->body, 0);
		if (build_body(eh, j, texts, lens, e) < 0)
			goto out;
	}
	r.hdrs[r.n_hdrs++] = (struct http_header){ "Content-Type", "application/json" };
	if (eh->auth)
		r.hdrs[r.n_hdrs++] = (struct http_header){ "Authorization", eh->auth };
	struct pump_opts po = { .max_in_flight = eh->concurrency, .retry = eh->retry };
	struct pump *p;
	if (pump_new(&po, &job_ops, &r, &p, e) < 0)
		goto out;
	rc = pump_run(p, e);
	pump_free(p);
out:
	for (size_t i = 0; i < r.n_jobs; i++)
		buf_release(&r.jobs[i].body);
	free(r.jobs);
	return rc;
}
