/*
 * chroma.c — the "chroma" driver: a real Chroma server, HTTP API v2
 * (npm chromadb 3.0.14 / bindings 1.0.5, reference/platform.md section 3a).
 *
 * Everything lives under B = URL/api/v2/tenants/default_tenant/databases/
 * default_database. The collection (name = cfg.space) is resolved lazily on
 * the first call that needs it: GET /api/v2/pre-flight-checks gives
 * max_batch_size and whether base64 embeddings are accepted, then
 * POST B/collections {"name", "configuration":{"hnsw":{space,
 * ef_construction, max_neighbors, ef_search}}, "get_or_create":true} gives
 * its id. An existing collection keeps its own configuration (Chroma's
 * get-or-create); a metric mismatch is logged.
 *
 *   store    POST B/collections/ID/upsert {"ids", "embeddings", "documents"}
 *            in batches of at most max_batch_size. Upsert, not add, so a
 *            retried batch is idempotent. Embeddings go as base64 of
 *            little-endian float32 when the server supports it (4/3 bytes
 *            per float instead of ~10 of decimal text).
 *   recall   POST B/collections/ID/query {"query_embeddings":[[...]],
 *            "n_results":k,"include":["distances"]}; query embeddings must be
 *            arrays (the server refuses base64 there). score = 1 - distance
 *            (cosine, ip) with Engram's max(0, .) and threshold; -distance (l2).
 *   count    GET B/collections/ID/count
 *   fetch    POST B/collections/ID/get {"limit","offset","include":["embeddings"]}
 *   verify   POST B/collections/ID/get {"ids":[...],"include":["embeddings"]}
 *            (answers in storage order: mapped back to the asked order)
 *   reset    DELETE B/collections/NAME, then create it again
 *   delete   POST B/collections/ID/delete {"ids":[...]}: runbook deletes and replaces
 *   ef       PUT B/collections/ID {"new_configuration":{"hnsw":{"ef_search"}}}
 *            (a search-time parameter: a loadtest.ef_search sweep changes it
 *            in place, without re-ingesting)
 *   health   GET /api/v2/heartbeat, version from GET /api/v2/version
 *   describe GET /api/v2/version and B/collections/NAME: the run's
 *            environment gets the version, the collection's dimension and
 *            its configuration_json flattened (hnsw.space, hnsw.ef_search,
 *            hnsw.max_neighbors, ...): what the server actually uses, which
 *            for an existing collection may not be what the spec asked
 *
 * Text search is not part of Chroma's vector API: target_search reports
 * ERR_UNSUPPORTED, and the descriptor leaves TARGET_CAP_TEXT_SEARCH out so
 * `spec check` refuses a load mix with searches. The collection name rule
 * is checked there too (chroma_collection_check). The lazy resolve performs synchronous requests on the
 * target's own connection, so call target_health/target_count (or any sync
 * call) before handing builders to other threads.
 */
#include "targets/target_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/hmap.h"
#include "engrave/log.h"
#include "engrave/xalloc.h"

#define CHROMA_DB "/api/v2/tenants/default_tenant/databases/default_database"

struct chroma {
	int resolved;
	char coll_id[80];
	size_t max_batch;
	int b64;
};

static int chroma_open(struct target *t, struct err *e)
{
	(void)e;
	struct chroma *c = xcalloc(1, sizeof(*c));
	c->max_batch = 1000;
	t->priv = c;
	return 0;
}

static void chroma_close(struct target *t)
{
	free(t->priv);
	t->priv = NULL;
}

static void begin(struct target *t, struct target_req *rq, const char *method)
{
	target_req_begin(t, rq, method);
	if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0)
		target_req_header(rq, "Content-Type", "application/json");
	buf_reset(&rq->url);
}

/* One synchronous request; JSON answer in *out when wanted (may be NULL). */
static int call(struct target *t, const char *method, const char *url, const struct buf *body,
		int ok_status_lo, json_t **out, struct err *e)
{
	struct target_req rq;
	struct http_response rs;
	target_req_init(&rq);
	http_response_init(&rs);
	begin(t, &rq, method);
	int rc = buf_append_str(&rq.url, url, e);
	if (!rc && body && body->len)
		rc = buf_append(&rq.body, body->data, body->len, e);
	if (!rc)
		rc = target_send(t, &rq, &rs, e);
	if (!rc && (rs.status < ok_status_lo || rs.status > 299))
		rc = target_err_http(t, &rq, &rs, e);
	if (!rc && out)
		rc = target_json_body(t, &rq, &rs, out, e);
	http_response_release(&rs);
	target_req_release(&rq);
	return rc;
}

static int resolve(struct target *t, struct err *e)
{
	struct chroma *c = t->priv;
	if (c->resolved)
		return 0;
	char url[1024];
	json_t *j;
	snprintf(url, sizeof(url), "%s/api/v2/pre-flight-checks", t->url);
	if (call(t, "GET", url, NULL, 200, &j, e))
		return -1;
	json_t *mb = json_object_get(j, "max_batch_size");
	if (json_is_integer(mb) && json_integer_value(mb) > 0)
		c->max_batch = (size_t)json_integer_value(mb);
	c->b64 = json_is_true(json_object_get(j, "supports_base64_encoding"));
	json_decref(j);

	struct buf body;
	buf_init(&body, 0);
	int rc = buf_append_str(&body, "{\"name\":", e) || target_json_str(&body, t->space, e) ||
		 buf_printf(&body, e, ",\"configuration\":{\"hnsw\":{\"space\":\"%s\"", t->metric);
	if (!rc && t->hnsw_ef_construction > 0)
		rc = buf_printf(&body, e, ",\"ef_construction\":%d", t->hnsw_ef_construction);
	if (!rc && t->hnsw_max_neighbors > 0)
		rc = buf_printf(&body, e, ",\"max_neighbors\":%d", t->hnsw_max_neighbors);
	if (!rc && t->hnsw_ef_search > 0)
		rc = buf_printf(&body, e, ",\"ef_search\":%d", t->hnsw_ef_search);
	if (!rc)
		rc = buf_append_str(&body, "}},\"get_or_create\":true}", e);
	snprintf(url, sizeof(url), "%s" CHROMA_DB "/collections", t->url);
	if (!rc)
		rc = call(t, "POST", url, &body, 200, &j, e);
	buf_release(&body);
	if (rc) {
		if (strstr(e ? e->msg : "", "InvalidArgumentError"))
			err_hint(e, "chroma collection names are 3-512 characters of [a-zA-Z0-9._-] starting and ending alphanumeric (target.space / target.collection)");
		return -1;
	}
	const char *id = json_string_value(json_object_get(j, "id"));
	if (!id) {
		json_decref(j);
		return err_set(e, ERR_NET, "chroma POST %s: no collection id in the answer", url);
	}
	target_copy_str(c->coll_id, sizeof(c->coll_id), id);
	json_t *cfg = json_object_get(json_object_get(json_object_get(j, "configuration_json"), "hnsw"), "space");
	if (json_is_string(cfg) && strcmp(json_string_value(cfg), t->metric) != 0)
		log_warn("chroma collection '%s' already exists with hnsw space '%s' (the spec asks for '%s'); reset it to apply the spec",
			 t->space, json_string_value(cfg), t->metric);
	json_t *dim = json_object_get(j, "dimension");
	if (json_is_integer(dim) && (uint32_t)json_integer_value(dim) != t->dim)
		log_warn("chroma collection '%s' holds %lld-d vectors, the spec says %u",
			 t->space, (long long)json_integer_value(dim), t->dim);
	json_decref(j);
	c->resolved = 1;
	return 0;
}

static int coll_url(struct target *t, struct buf *url, const char *op, struct err *e)
{
	struct chroma *c = t->priv;
	if (resolve(t, e))
		return -1;
	buf_reset(url);
	return buf_printf(url, e, "%s" CHROMA_DB "/collections/%s/%s", t->url, c->coll_id, op);
}

static int chroma_health(struct target *t, char *version, size_t cap, struct err *e)
{
	char url[1024];
	snprintf(url, sizeof(url), "%s/api/v2/heartbeat", t->url);
	if (call(t, "GET", url, NULL, 200, NULL, e))
		return -1;
	snprintf(url, sizeof(url), "%s/api/v2/version", t->url);
	json_t *j;
	if (call(t, "GET", url, NULL, 200, &j, e))
		return -1;
	target_copy_str(version, cap, json_is_string(j) ? json_string_value(j) : "unknown");
	json_decref(j);
	return 0;
}

static int chroma_count(struct target *t, uint64_t *n, struct err *e)
{
	struct buf url;
	buf_init(&url, 0);
	json_t *j = NULL;
	int rc = coll_url(t, &url, "count", e);
	if (!rc)
		rc = call(t, "GET", url.data, NULL, 200, &j, e);
	if (!rc && !json_is_integer(j))
		rc = err_set(e, ERR_NET, "chroma GET %s: expected an integer", url.data);
	if (!rc)
		*n = (uint64_t)json_integer_value(j);
	json_decref(j);
	buf_release(&url);
	return rc;
}

static size_t chroma_max_batch(struct target *t)
{
	struct chroma *c = t->priv;
	if (!c->resolved) {
		struct err e = ERR_INIT;
		if (resolve(t, &e))
			log_debug("chroma: %s (batch size stays %zu)", e.msg, c->max_batch);
	}
	return c->max_batch;
}

/* ---- store ------------------------------------------------------------- */

static int chroma_build_store(struct target *t, const struct target_record *recs, size_t n,
			      struct target_req *rq, struct err *e)
{
	struct chroma *c = t->priv;
	begin(t, rq, "POST");
	if (coll_url(t, &rq->url, "upsert", e))
		return -1;
	rq->n_records = n;
	struct buf *b = &rq->body;
	int docs = 1;
	for (size_t i = 0; i < n; i++)
		if (!recs[i].content)
			docs = 0;
	if (buf_append_str(b, "{\"ids\":[", e))
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((i && buf_append(b, ",", 1, e)) || target_json_str(b, recs[i].id, e))
			return -1;
	if (buf_append_str(b, "],\"embeddings\":[", e))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (i && buf_append(b, ",", 1, e))
			return -1;
		if (c->b64) {
			if (buf_append(b, "\"", 1, e) || target_b64_f32(b, recs[i].vec, t->dim, e) ||
			    buf_append(b, "\"", 1, e))
				return -1;
		} else if (target_json_f32(b, recs[i].vec, t->dim, e)) {
			return err_prefix(e, "chroma: record '%s'", recs[i].id);
		}
	}
	if (buf_append_str(b, "]", e))
		return -1;
	if (docs) {
		if (buf_append_str(b, ",\"documents\":[", e))
			return -1;
		for (size_t i = 0; i < n; i++)
			if ((i && buf_append(b, ",", 1, e)) || target_json_str(b, recs[i].content, e))
				return -1;
		if (buf_append_str(b, "]", e))
			return -1;
	}
	if (buf_append_str(b, "}", e))
		return -1;
	target_req_set_body(rq);
	rq->http.url = rq->url.data;
	return 0;
}

static int chroma_parse_store(struct target *t, const struct target_req *rq,
			      const struct http_response *rs, struct target_store_result *res,
			      struct err *e)
{
	(void)e;
	(void)t;
	enum target_store_status st = TARGET_STORED;
	char what[200] = "";
	if (rs->status < 200 || rs->status > 299) {
		target_format_http_error(rs, what, sizeof(what));
		st = rs->status == 0 || rs->status >= 500 || rs->status == 429 || rs->status == 408
			     ? TARGET_FAILED : TARGET_REJECTED;
	}
	for (size_t i = 0; i < rq->n_records; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		res[i].status = st;
		res[i].http_status = (int)rs->status;
		if (st != TARGET_STORED)
			snprintf(res[i].reason, sizeof(res[i].reason), "chroma POST .../upsert: %s", what);
	}
	return 0;
}

/* ---- recall ------------------------------------------------------------ */

static int chroma_build_recall(struct target *t, const float *vec, int k, float threshold,
			       struct target_req *rq, struct err *e)
{
	begin(t, rq, "POST");
	rq->k = k;
	rq->threshold = threshold;
	if (coll_url(t, &rq->url, "query", e) || buf_append_str(&rq->body, "{\"query_embeddings\":[", e) ||
	    target_json_f32(&rq->body, vec, t->dim, e) ||
	    buf_printf(&rq->body, e, "],\"n_results\":%d,\"include\":[\"distances\"]}", k))
		return -1;
	target_req_set_body(rq);
	rq->http.url = rq->url.data;
	return 0;
}

static int chroma_parse_recall(struct target *t, const struct target_req *rq,
			       const struct http_response *rs, struct target_hits *out,
			       struct err *e)
{
	if (rs->status < 200 || rs->status > 299)
		return target_err_http(t, rq, rs, e);
	json_t *j;
	if (target_json_body(t, rq, rs, &j, e))
		return -1;
	json_t *ids = json_array_get(json_object_get(j, "ids"), 0);
	json_t *dist = json_array_get(json_object_get(j, "distances"), 0);
	int rc = 0;
	if (!json_is_array(ids) || !json_is_array(dist) || json_array_size(ids) != json_array_size(dist))
		rc = err_set(e, ERR_NET, "chroma POST %s: answer lacks ids/distances", rq->url.data);
	int l2 = strcmp(t->metric, "l2") == 0;
	for (size_t i = 0; !rc && i < json_array_size(ids); i++) {
		const char *id = json_string_value(json_array_get(ids, i));
		double d = json_number_value(json_array_get(dist, i));
		float s;
		if (l2) {
			s = (float)-d;
		} else {
			s = (float)(1.0 - d);
			if (s < 0)
				s = 0;
			if (s < rq->threshold)
				continue;
		}
		rc = id ? target_hits_push(out, id, s, e)
			: err_set(e, ERR_NET, "chroma POST %s: a result has no id", rq->url.data);
	}
	json_decref(j);
	return rc;
}

/* ---- read-back --------------------------------------------------------- */

static int read_vec(json_t *arr, float *out, uint32_t dim)
{
	if (json_is_string(arr))
		return target_b64_f32_decode(json_string_value(arr), json_string_length(arr), out, dim);
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

/* POST /get with `body`; calls back per (id, vector) row. */
static int get_rows(struct target *t, const struct buf *body,
		    int (*row)(void *ctx, const char *id, const float *vec, struct err *e), void *ctx,
		    size_t *nrows, struct err *e)
{
	struct buf url;
	buf_init(&url, 0);
	json_t *j = NULL;
	int rc = coll_url(t, &url, "get", e);
	if (!rc)
		rc = call(t, "POST", url.data, body, 200, &j, e);
	float *vec = rc ? NULL : xmalloc_array(t->dim, sizeof(float));
	json_t *ids = json_object_get(j, "ids"), *embs = json_object_get(j, "embeddings");
	if (!rc && (!json_is_array(ids) || !json_is_array(embs) || json_array_size(ids) != json_array_size(embs)))
		rc = err_set(e, ERR_NET, "chroma POST %s: answer lacks ids/embeddings", url.data);
	for (size_t i = 0; !rc && i < json_array_size(ids); i++) {
		const char *id = json_string_value(json_array_get(ids, i));
		if (!id || read_vec(json_array_get(embs, i), vec, t->dim))
			rc = err_set(e, ERR_NET, "chroma POST %s: row %zu has no id or no %u-float embedding",
				     url.data, i, t->dim);
		else
			rc = row(ctx, id, vec, e);
	}
	if (nrows)
		*nrows = json_array_size(ids);
	free(vec);
	json_decref(j);
	buf_release(&url);
	return rc;
}

static int push_row(void *ctx, const char *id, const float *vec, struct err *e)
{
	return target_vectors_push(ctx, id, vec, e);
}

static int chroma_fetch(struct target *t, uint64_t offset, uint32_t limit,
			struct target_vectors *out, struct err *e)
{
	struct buf body;
	buf_init(&body, 0);
	int rc = buf_printf(&body, e, "{\"limit\":%u,\"offset\":%llu,\"include\":[\"embeddings\"]}", limit,
			    (unsigned long long)offset);
	if (!rc)
		rc = get_rows(t, &body, push_row, out, NULL, e);
	buf_release(&body);
	return rc;
}

struct want {
	const char *const *ids;
	size_t n;
	struct target_vectors *out;
};

static int match_row(void *ctx, const char *id, const float *vec, struct err *e)
{
	(void)e;
	struct want *w = ctx;
	for (size_t i = 0; i < w->n; i++) /* batches are small (verification samples) */
		if (!w->out->found[i] && strcmp(w->ids[i], id) == 0) {
			memcpy(w->out->vecs + i * (size_t)w->out->dim, vec, (size_t)w->out->dim * sizeof(float));
			w->out->found[i] = 1;
		}
	return 0;
}

static int chroma_get(struct target *t, const char *const *ids, size_t n,
		      struct target_vectors *out, struct err *e)
{
	for (size_t i = 0; i < n; i++) /* every asked id, not found until seen */
		if (target_vectors_push(out, ids[i], NULL, e))
			return -1;
	const size_t chunk = 500;
	struct buf body;
	buf_init(&body, 0);
	int rc = 0;
	for (size_t s = 0; s < n && !rc; s += chunk) {
		size_t m = n - s < chunk ? n - s : chunk;
		buf_reset(&body);
		rc = buf_append_str(&body, "{\"ids\":[", e);
		for (size_t i = 0; i < m && !rc; i++)
			rc = (i && buf_append(&body, ",", 1, e)) || target_json_str(&body, ids[s + i], e);
		if (!rc)
			rc = buf_append_str(&body, "],\"include\":[\"embeddings\"]}", e);
		struct target_vectors view = *out;
		view.found = out->found + s;
		view.vecs = out->vecs + s * (size_t)t->dim;
		struct want w = { ids + s, m, &view };
		if (!rc)
			rc = get_rows(t, &body, match_row, &w, NULL, e);
	}
	buf_release(&body);
	return rc;
}

/* Which ids the collection holds: POST /get with include [] answers ids
 * only, in chunks, matched back through a map of the asked ids. */
static int chroma_has_ids(struct target *t, const char *const *ids, size_t n, unsigned char *found,
			  struct err *e)
{
	const size_t chunk = 1000;
	struct buf body, url;
	buf_init(&body, 0);
	buf_init(&url, 0);
	struct hmap idx = HMAP_INIT;
	int rc = coll_url(t, &url, "get", e);
	for (size_t s = 0; s < n && !rc; s += chunk) {
		size_t m = n - s < chunk ? n - s : chunk;
		buf_reset(&body);
		hmap_release(&idx);
		rc = buf_append_str(&body, "{\"ids\":[", e);
		for (size_t i = 0; i < m && !rc; i++)
			rc = (i && buf_append(&body, ",", 1, e)) || target_json_str(&body, ids[s + i], e) ||
			     hmap_add(&idx, ids[s + i], s + i, e) < 0;
		if (!rc)
			rc = buf_append_str(&body, "],\"include\":[]}", e);
		json_t *j = NULL;
		if (!rc)
			rc = call(t, "POST", url.data, &body, 200, &j, e);
		json_t *got = rc ? NULL : json_object_get(j, "ids");
		if (!rc && !json_is_array(got))
			rc = err_set(e, ERR_NET, "chroma POST %s: answer lacks ids", url.data);
		for (size_t i = 0; !rc && i < json_array_size(got); i++) {
			const char *id = json_string_value(json_array_get(got, i));
			const size_t *k = id ? hmap_get(&idx, id) : NULL;
			if (k)
				found[*k] = 1;
		}
		json_decref(j);
	}
	hmap_release(&idx);
	buf_release(&body);
	buf_release(&url);
	return rc ? -1 : 0;
}

/* POST B/collections/ID/delete {"ids":[...]}, in chunks of the server's batch size. */
static int chroma_delete(struct target *t, const char *const *ids, size_t n, struct err *e)
{
	size_t chunk = chroma_max_batch(t);
	struct buf body, url;
	buf_init(&body, 0);
	buf_init(&url, 0);
	int rc = coll_url(t, &url, "delete", e);
	for (size_t s = 0; s < n && !rc; s += chunk) {
		size_t m = n - s < chunk ? n - s : chunk;
		buf_reset(&body);
		rc = buf_append_str(&body, "{\"ids\":[", e);
		for (size_t i = 0; i < m && !rc; i++)
			rc = (i && buf_append(&body, ",", 1, e)) || target_json_str(&body, ids[s + i], e);
		rc = rc || buf_append_str(&body, "]}", e) || call(t, "POST", url.data, &body, 200, NULL, e);
	}
	buf_release(&body);
	buf_release(&url);
	return rc ? -1 : 0;
}

static int chroma_reset(struct target *t, struct err *e)
{
	struct chroma *c = t->priv;
	struct buf url;
	buf_init(&url, 0);
	int rc = buf_printf(&url, e, "%s" CHROMA_DB "/collections/", t->url);
	if (!rc)
		rc = http_url_escape(t->space, strlen(t->space), &url, e);
	struct err de = ERR_INIT;
	if (!rc && call(t, "DELETE", url.data, NULL, 200, NULL, &de) && !strstr(de.msg, "404 NotFoundError")) {
		if (e)
			*e = de;
		rc = -1;
	}
	buf_release(&url);
	c->resolved = 0;
	return rc ? -1 : resolve(t, e);
}

/* PUT B/collections/ID {"new_configuration":{"hnsw":{"ef_search":N}}}: a
 * search-time parameter, changed in place (no re-ingest). */
static int chroma_set_ef_search(struct target *t, int ef, struct err *e)
{
	struct chroma *c = t->priv;
	if (resolve(t, e))
		return -1;
	char url[1024];
	snprintf(url, sizeof(url), "%s" CHROMA_DB "/collections/%s", t->url, c->coll_id);
	struct buf body;
	buf_init(&body, 0);
	int rc = buf_printf(&body, e, "{\"new_configuration\":{\"hnsw\":{\"ef_search\":%d}}}", ef) ||
		 call(t, "PUT", url, &body, 200, NULL, e);
	buf_release(&body);
	return rc ? err_prefix(e, "chroma: setting ef_search to %d", ef) : 0;
}

/* The server's version and the collection's configuration as it stands
 * (GET by name: describing never creates the collection). */
static int chroma_describe_env(struct target *t, struct envlist *out, struct err *e)
{
	char url[1024];
	json_t *j;
	snprintf(url, sizeof(url), "%s/api/v2/version", t->url);
	if (call(t, "GET", url, NULL, 200, &j, e))
		return -1;
	envlist_set(out, "version", json_is_string(j) ? json_string_value(j) : "unknown");
	json_decref(j);
	struct buf u;
	buf_init(&u, 0);
	int rc = buf_printf(&u, e, "%s" CHROMA_DB "/collections/", t->url) ||
		 http_url_escape(t->space, strlen(t->space), &u, e) || call(t, "GET", u.data, NULL, 200, &j, e);
	buf_release(&u);
	if (rc)
		return -1;
	json_t *dim = json_object_get(j, "dimension");
	if (json_is_integer(dim))
		envlist_set_num(out, "collection.dimension", (double)json_integer_value(dim));
	json_t *cfg = json_object_get(j, "configuration_json");
	if (json_is_object(cfg))
		target_env_json(out, "", cfg);
	else
		envlist_set(out, "configuration", "unknown (no configuration_json in the answer)");
	json_decref(j);
	return 0;
}

static const struct target_ops chroma_ops = {
	.open = chroma_open,
	.close = chroma_close,
	.health = chroma_health,
	.count = chroma_count,
	.max_batch = chroma_max_batch,
	.fetch_embeddings = chroma_fetch,
	.has_ids = chroma_has_ids,
	.get_vectors = chroma_get,
	.reset = chroma_reset,
	.delete_ids = chroma_delete,
	.build_store = chroma_build_store,
	.parse_store = chroma_parse_store,
	.build_recall = chroma_build_recall,
	.parse_recall = chroma_parse_recall,
	.set_ef_search = chroma_set_ef_search,
	.describe_env = chroma_describe_env,
};

static int is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* Four dot-separated decimal octets 0..255 without leading zeros (what
 * Rust's Ipv4Addr parses: Chroma refuses those names). */
static int is_ipv4(const char *s)
{
	for (int part = 0; part < 4; part++) {
		if (part && *s++ != '.')
			return 0;
		int v = 0, digits = 0;
		const char *start = s;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (*s++ - '0');
			digits++;
		}
		if (!digits || digits > 3 || v > 255 || (digits > 1 && *start == '0'))
			return 0;
	}
	return *s == '\0';
}

/* Chroma's collection names (validate_name in Chroma 1.x, checked against
 * the pinned server): 3-512 characters of [a-zA-Z0-9._-], starting and
 * ending with a letter or digit, no "..", not an IPv4 address. */
static int chroma_collection_check(const char *ns, char *why, size_t cap)
{
	size_t n = strlen(ns);
	int ok = n >= 3 && n <= 512 && is_alnum(ns[0]) && is_alnum(ns[n - 1]);
	for (size_t i = 0; ok && i < n; i++)
		ok = is_alnum(ns[i]) || ns[i] == '.' || ns[i] == '_' || ns[i] == '-';
	if (!ok) {
		snprintf(why, cap, "Chroma collection names are 3-512 characters of [a-zA-Z0-9._-], starting and "
				   "ending with a letter or digit");
		return -1;
	}
	if (strstr(ns, "..")) {
		snprintf(why, cap, "Chroma collection names may not hold two consecutive periods (..)");
		return -1;
	}
	if (is_ipv4(ns)) {
		snprintf(why, cap, "Chroma collection names may not be an IP address");
		return -1;
	}
	return 0;
}

static const char *const chroma_spec_keys[] = { "url", "collection", "timeout", "auth.*", "hnsw.*", NULL };

const struct target_driver target_chroma = {
	.name = "chroma",
	.default_url = "http://localhost:8000",
	.ns_key = "collection",
	.ns_default = "engrave",
	.ns_check = chroma_collection_check,
	.id_max = TARGET_ID_MAX - 1,
	.content_max = 0,
	.caps = TARGET_CAP_RESET | TARGET_CAP_COUNT | TARGET_CAP_READ_BY_ID | TARGET_CAP_PERSISTENT | TARGET_CAP_EF_SEARCH |
		TARGET_CAP_DELETE, /* no text search */
	.dim_min = 1,
	.dim_max = 65536,
	.unheld_hint = NULL,
	.spec_keys = chroma_spec_keys,
	.corpus_confidence = NULL,
	.ops = &chroma_ops,
};
