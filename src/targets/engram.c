/*
 * engram.c — the "engram" driver: Engram's HTTP API (reference/engram.md
 * section 1, the contract tools/engram-server reproduces).
 *
 *   store    POST /api/v1/memories/remember, one record per request (Engram
 *            has no batch endpoint; the load engine keeps many in flight):
 *            {"id","content","embedding":[768],"confidence","timestamp"}.
 *            The plain POST /api/v1/memories would drop the embedding.
 *   recall   GET /api/v1/memories/recall?embedding=<urlencoded JSON array>
 *            &max_results=k&threshold=t; hits are memories.vivid followed by
 *            memories.associated (id, similarity_score), sorted by score.
 *   search   GET /api/v1/memories/search?query=...&limit=k
 *   count    GET /api/v1/memories?limit=1 -> tier_counts.hot (after dedup)
 *   health   GET /health -> version
 *   describe GET /health -> version, service, status (the run's environment;
 *            Engram exposes no index configuration)
 *   fetch    GET /api/v1/memories?tier=hot&include_embeddings=true&limit&offset
 *            (order is unstable: target_fetch_all de-duplicates by id)
 *
 * The space travels in the X-Memory-Space header on every request; the
 * bearer token in Authorization. A 201 is "stored" even though Engram may
 * have deduplicated the memory away (cosine >= 0.95): only count and
 * read-back verification can tell, which is why ingest verifies (the
 * descriptor's unheld_hint names both reasons). Errors are
 * reported from both of Engram's error shapes: its ApiError JSON and axum's
 * plain-text extractor rejections (see target_format_http_error).
 */
#include "targets/target_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engrave/jsonf.h"
#include "engrave/log.h"
#include "engrave/xalloc.h"

static void begin(struct target *t, struct target_req *rq, const char *method)
{
	target_req_begin(t, rq, method);
	target_req_header(rq, "X-Memory-Space", t->space);
	buf_reset(&rq->url);
}

static int engram_open(struct target *t, struct err *e)
{
	if (t->dim != 768)
		log_warn("engram target: dim %u; Engram rejects embeddings that are not exactly 768 floats", t->dim);
	(void)e;
	return 0;
}

/* GET url and parse JSON; non-2xx is an error. */
/* GET path as JSON; *too_large (may be NULL) says the answer passed the
 * response limit. */
static int get_json_sized(struct target *t, const char *path, json_t **out, int *too_large, struct err *e)
{
	struct target_req rq;
	struct http_response rs;
	target_req_init(&rq);
	http_response_init(&rs);
	begin(t, &rq, "GET");
	int rc = buf_printf(&rq.url, e, "%s%s", t->url, path);
	if (!rc)
		rc = target_send(t, &rq, &rs, e);
	if (too_large)
		*too_large = http_response_too_large(&rs);
	if (!rc && (rs.status < 200 || rs.status > 299))
		rc = target_err_http(t, &rq, &rs, e);
	if (!rc)
		rc = target_json_body(t, &rq, &rs, out, e);
	http_response_release(&rs);
	target_req_release(&rq);
	return rc;
}

static int get_json(struct target *t, const char *path, json_t **out, struct err *e)
{
	return get_json_sized(t, path, out, NULL, e);
}

static int engram_health(struct target *t, char *version, size_t cap, struct err *e)
{
	json_t *j;
	if (get_json(t, "/health", &j, e))
		return -1;
	const char *v = json_string_value(json_object_get(j, "version"));
	const char *status = json_string_value(json_object_get(j, "status"));
	const char *service = json_string_value(json_object_get(j, "service"));
	target_copy_str(version, cap, v ? v : "unknown");
	int rc = 0;
	if (service && strcmp(service, "engram") != 0) {
		/* Engram silently moves to another port when 7432 is taken: make
		 * sure the thing answering here is Engram */
		rc = err_set(e, ERR_NET, "engram GET %s/health: the server there is '%s', not engram",
			     t->url, service);
		err_hint(e, "check which port Engram printed (' HTTP API: http://...:PORT'); it moves on when 7432 is taken");
	} else if (status && strcmp(status, "unhealthy") == 0)
		rc = err_set(e, ERR_NET, "engram GET %s/health: server reports status 'unhealthy'", t->url);
	json_decref(j);
	return rc;
}

static int engram_describe_env(struct target *t, struct envlist *out, struct err *e)
{
	json_t *j;
	if (get_json(t, "/health", &j, e))
		return -1;
	static const char *const keys[] = { "version", "service", "status" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = json_string_value(json_object_get(j, keys[i]));
		envlist_set(out, i == 2 ? "health" : keys[i], v ? v : "unknown");
	}
	json_decref(j);
	return 0;
}

static int engram_count(struct target *t, uint64_t *n, struct err *e)
{
	json_t *j;
	if (get_json(t, "/api/v1/memories?limit=1", &j, e))
		return -1;
	json_t *hot = json_object_get(json_object_get(j, "tier_counts"), "hot");
	int rc = 0;
	if (!json_is_integer(hot))
		rc = err_set(e, ERR_NET, "engram GET %s/api/v1/memories?limit=1: no tier_counts.hot in the answer",
			     t->url);
	else
		*n = (uint64_t)json_integer_value(hot);
	json_decref(j);
	return rc;
}

static size_t engram_max_batch(struct target *t)
{
	(void)t;
	return 1;
}

static int read_f32_array(json_t *arr, float *out, uint32_t dim)
{
	if (!json_is_array(arr) || json_array_size(arr) != dim)
		return -1;
	for (uint32_t i = 0; i < dim; i++) {
		json_t *x = json_array_get(arr, i);
		if (!json_is_number(x))
			return -1;
		out[i] = (float)json_number_value(x);
	}
	return 0;
}

/* One server page (limit <= 1000); *got receives the rows returned. */
static int fetch_page(struct target *t, uint64_t offset, uint32_t limit, struct target_vectors *out,
		      size_t *got, int *too_large, struct err *e)
{
	char path[160];
	snprintf(path, sizeof(path), "/api/v1/memories?tier=hot&include_embeddings=true&limit=%u&offset=%llu",
		 limit, (unsigned long long)offset);
	json_t *j;
	*got = 0;
	if (get_json_sized(t, path, &j, too_large, e))
		return -1;
	json_t *mems = json_object_get(j, "memories");
	float *vec = xmalloc_array(t->dim, sizeof(float));
	int rc = 0;
	if (!json_is_array(mems))
		rc = err_set(e, ERR_NET, "engram GET %s%s: no 'memories' array in the answer", t->url, path);
	for (size_t i = 0; !rc && i < json_array_size(mems); i++) {
		json_t *m = json_array_get(mems, i);
		const char *id = json_string_value(json_object_get(m, "id"));
		if (!id || read_f32_array(json_object_get(m, "embedding"), vec, t->dim))
			rc = err_set(e, ERR_NET, "engram GET %s%s: memory %zu has no id or no %u-float embedding",
				     t->url, path, i, t->dim);
		else
			rc = target_vectors_push(out, id, vec, e);
	}
	if (!rc)
		*got = json_array_size(mems);
	free(vec);
	json_decref(j);
	return rc;
}

static int engram_fetch(struct target *t, uint64_t offset, uint32_t limit,
			struct target_vectors *out, struct err *e)
{
	/* the server clamps limit to 1000: ask in pages so a short answer
	 * really means the end. Pages carry each memory's content too, so with
	 * long texts (88 KB Wikipedia articles) 1000 rows pass the response
	 * limit: the page then halves until it fits, and keeps that size. */
	for (uint32_t done = 0; done < limit;) {
		uint32_t page = t->page_rows ? t->page_rows : 1000;
		uint32_t ask = limit - done < page ? limit - done : page;
		size_t got;
		int too_large = 0;
		size_t before = out->n;
		if (fetch_page(t, offset + done, ask, out, &got, &too_large, e)) {
			if (!too_large || ask == 1)
				return -1;
			while (out->n > before) /* drop a partly read page */
				free(out->ids[--out->n]);
			t->page_rows = ask / 2;
			log_info("engram: a page of %u memories is over the response limit; reading %u at a time", ask,
				 t->page_rows);
			continue;
		}
		done += (uint32_t)got;
		if (got < ask)
			break;
	}
	return 0;
}

static int engram_reset(struct target *t, struct err *e)
{
	err_set(e, ERR_UNSUPPORTED, "engram target %s: memories cannot be deleted (DELETE /api/v1/memories/{id} answers not_supported)",
		t->url);
	return err_hint(e, "use a fresh memory space (target.space) or restart Engram with an empty ENGRAM_DATA_DIR");
}

/* ---- store ------------------------------------------------------------- */

static void rfc3339(unix_ns t, char *out, size_t cap)
{
	time_t sec = (time_t)(t / 1000000000LL);
	long frac = (long)(t % 1000000000LL);
	if (frac < 0) {
		frac += 1000000000L;
		sec--;
	}
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n && n < cap)
		snprintf(out + n, cap - n, frac ? ".%09ldZ" : "Z", frac);
}

static int engram_build_store(struct target *t, const struct target_record *recs, size_t n,
			      struct target_req *rq, struct err *e)
{
	(void)n; /* always 1 (max_batch) */
	const struct target_record *r = &recs[0];
	begin(t, rq, "POST");
	target_req_header(rq, "Content-Type", "application/json");
	rq->n_records = 1;
	struct buf *b = &rq->body;
	if (buf_printf(&rq->url, e, "%s/api/v1/memories/remember", t->url) ||
	    buf_append_str(b, "{\"id\":", e) || target_json_str(b, r->id, e) ||
	    buf_append_str(b, ",\"content\":", e) ||
	    target_json_str(b, r->content && *r->content ? r->content : r->id, e) ||
	    buf_append_str(b, ",\"embedding\":", e) || target_json_f32(b, r->vec, t->dim, e))
		return err_prefix(e, "engram: record '%s'", r->id);
	if (r->confidence >= 0) {
		char f[JSONF_F32_MAX];
		jsonf_write_f32(f, r->confidence);
		if (buf_printf(b, e, ",\"confidence\":%s", f))
			return -1;
	}
	if (r->timestamp) {
		char ts[48];
		rfc3339(r->timestamp, ts, sizeof(ts));
		if (buf_printf(b, e, ",\"timestamp\":\"%s\"", ts))
			return -1;
	}
	if (buf_append_str(b, "}", e))
		return -1;
	target_req_set_body(rq);
	rq->http.url = rq->url.data;
	return 0;
}

static int engram_parse_store(struct target *t, const struct target_req *rq,
			      const struct http_response *rs, struct target_store_result *res,
			      struct err *e)
{
	(void)e;
	struct target_store_result *r = &res[0];
	memset(r, 0, sizeof(*r));
	r->http_status = (int)rs->status;
	if (rs->status >= 200 && rs->status < 300) {
		r->status = TARGET_STORED;
		/* pull "memory_id" out without a full parse: it is the first key */
		const char *p = strstr(rs->body.data, "\"memory_id\"");
		if (p && (p = strchr(p + 11, '"'))) {
			const char *q = strchr(p + 1, '"');
			if (q && q - p - 1 < TARGET_ID_MAX) {
				memcpy(r->server_id, p + 1, (size_t)(q - p - 1));
				r->server_id[q - p - 1] = '\0';
			}
		}
		return 0;
	}
	char what[170];
	target_format_http_error(rs, what, sizeof(what));
	snprintf(r->reason, sizeof(r->reason), "engram POST %.40s/api/v1/memories/remember: %s", t->url, what);
	(void)rq;
	if (rs->status == 0 || rs->status >= 500 || rs->status == 429 || rs->status == 408)
		r->status = TARGET_FAILED;
	else
		r->status = TARGET_REJECTED;
	return 0;
}

/* ---- recall and search ------------------------------------------------- */

static int engram_build_recall(struct target *t, const float *vec, int k, float threshold,
			       struct target_req *rq, struct err *e)
{
	begin(t, rq, "GET");
	rq->k = k;
	rq->threshold = threshold;
	char th[JSONF_F32_MAX];
	jsonf_write_f32(th, threshold);
	if (buf_printf(&rq->url, e, "%s/api/v1/memories/recall?embedding=", t->url) ||
	    target_json_f32_urlenc(&rq->url, vec, t->dim, e) ||
	    buf_printf(&rq->url, e, "&max_results=%d&threshold=%s", k, th))
		return -1;
	rq->http.url = rq->url.data;
	return 0;
}

static int cmp_hit(const void *a, const void *b)
{
	float x = ((const struct target_hit *)a)->score, y = ((const struct target_hit *)b)->score;
	return x > y ? -1 : x < y ? 1 : 0;
}

static int collect_results(struct target *t, const struct target_req *rq, json_t *arr,
			   const char *score_key, struct target_hits *out, struct err *e)
{
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *m = json_array_get(arr, i);
		const char *id = json_string_value(json_object_get(m, "id"));
		json_t *sc = json_object_get(m, score_key);
		if (json_is_object(sc))
			sc = json_object_get(sc, "value");
		if (!id || !json_is_number(sc))
			return err_set(e, ERR_NET, "%s %s %.120s: result %zu has no id or %s", t->driver,
				       http_method_of(&rq->http), rq->url.data, i, score_key);
		if (target_hits_push(out, id, (float)json_number_value(sc), e))
			return -1;
	}
	return 0;
}

static int engram_parse_recall(struct target *t, const struct target_req *rq,
			       const struct http_response *rs, struct target_hits *out,
			       struct err *e)
{
	if (rs->status < 200 || rs->status > 299)
		return target_err_http(t, rq, rs, e);
	json_t *j;
	if (target_json_body(t, rq, rs, &j, e))
		return -1;
	json_t *mem = json_object_get(j, "memories");
	int rc = 0;
	if (!json_is_object(mem))
		rc = err_set(e, ERR_NET, "engram GET %.120s: no 'memories' object in the answer", rq->url.data);
	if (!rc)
		rc = collect_results(t, rq, json_object_get(mem, "vivid"), "similarity_score", out, e);
	if (!rc)
		rc = collect_results(t, rq, json_object_get(mem, "associated"), "similarity_score", out, e);
	json_decref(j);
	if (!rc && out->n) /* vivid then associated are each sorted; merge them (stable); none: v may be NULL */
		qsort(out->v, out->n, sizeof(*out->v), cmp_hit);
	return rc;
}

static int engram_build_search(struct target *t, const char *text, int k, struct target_req *rq,
			       struct err *e)
{
	begin(t, rq, "GET");
	rq->k = k;
	if (buf_printf(&rq->url, e, "%s/api/v1/memories/search?query=", t->url) ||
	    http_url_escape(text, strlen(text), &rq->url, e) ||
	    buf_printf(&rq->url, e, "&limit=%d", k))
		return -1;
	rq->http.url = rq->url.data;
	return 0;
}

static int engram_parse_search(struct target *t, const struct target_req *rq,
			       const struct http_response *rs, struct target_hits *out,
			       struct err *e)
{
	if (rs->status < 200 || rs->status > 299)
		return target_err_http(t, rq, rs, e);
	json_t *j;
	if (target_json_body(t, rq, rs, &j, e))
		return -1;
	json_t *mems = json_object_get(j, "memories");
	int rc = json_is_array(mems)
			 ? collect_results(t, rq, mems, "confidence", out, e)
			 : err_set(e, ERR_NET, "engram GET %.120s: no 'memories' array in the answer", rq->url.data);
	json_decref(j);
	return rc;
}

static const struct target_ops engram_ops = {
	.open = engram_open,
	.health = engram_health,
	.describe_env = engram_describe_env,
	.count = engram_count,
	.max_batch = engram_max_batch,
	.fetch_embeddings = engram_fetch,
	.get_vectors = NULL, /* no read-back by id: target.c pages fetch_embeddings */
	.reset = engram_reset,
	.build_store = engram_build_store,
	.parse_store = engram_parse_store,
	.build_recall = engram_build_recall,
	.parse_recall = engram_parse_recall,
	.build_search = engram_build_search,
	.parse_search = engram_parse_search,
};

/* Memory space ids (engram-core types.rs, reference/engram.md 1.3): 3-64
 * characters of [a-z0-9_-]; anything else is a 400 on every request. */
static int engram_space_check(const char *ns, char *why, size_t cap)
{
	size_t n = strlen(ns);
	int ok = n >= 3 && n <= 64;
	for (size_t i = 0; ok && i < n; i++)
		ok = (ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9') || ns[i] == '_' ||
		     ns[i] == '-';
	if (!ok)
		snprintf(why, cap, "Engram memory space ids are 3-64 characters of [a-z0-9_-]");
	return ok ? 0 : -1;
}

/* Engram's ingest.py: confidence = min(0.9, 0.6 + len/10000). */
static float engram_corpus_confidence(size_t len)
{
	double c = 0.6 + (double)len / 10000.0;
	return (float)(c > 0.9 ? 0.9 : c);
}

static const char *const engram_spec_keys[] = { "url", "space", "spaces", "timeout", "auth.*", NULL };

const struct target_driver target_engram = {
	.name = "engram",
	.default_url = "http://localhost:7432",
	.ns_key = "space",
	.ns_default = "default",
	.ns_check = engram_space_check,
	.id_max = TARGET_ID_MAX - 1,
	.content_max = 99000, /* Engram refuses content over 100,000 bytes; room for the title */
	.caps = TARGET_CAP_TEXT_SEARCH | TARGET_CAP_COUNT | TARGET_CAP_PERSISTENT, /* no delete, no read-back by id */
	.dim_min = 768,
	.dim_max = 768, /* any other length is a 400 */
	.unheld_hint = "Engram's semantic dedup drops near-duplicates (cosine >= 0.95) and its hot tier is capped "
		       "at 100K per space; both still answer 201",
	.spec_keys = engram_spec_keys,
	.corpus_confidence = engram_corpus_confidence,
	.ops = &engram_ops,
};
