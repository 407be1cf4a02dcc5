/*
 * target.c — the driver table, the public wrappers and the helpers every
 * driver shares.
 *
 * `target_drivers[]` is the one list of drivers: each row is the descriptor
 * a driver's own file defines (its facts and its ops). Adding a driver is
 * that file plus one row here. target_open() looks the driver up by name,
 * copies the config, reads the bearer secret from the environment (kept
 * only in memory, and registered with secret.h so no message can show it)
 * and calls the driver's open. Every public call checks that the
 * driver implements the entry and otherwise fails with ERR_UNSUPPORTED
 * naming the driver, so a caller never dereferences a NULL slot.
 *
 * The synchronous store/recall/search of HTTP drivers are written once here
 * as build -> target_send (retries) -> parse, so the synchronous and
 * asynchronous paths share the request and response code.
 *
 * Float arrays, strings and base64 go through jsonf (shortest round-trip
 * float32 text, written by hand because no Debian C library formats floats
 * quickly: reference/platform.md section 5); jansson parses responses, which
 * are small or off the hot path.
 */
#include "targets/target_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/hmap.h"
#include "engrave/jsonf.h"
#include "engrave/secret.h"
#include "engrave/text.h"
#include "engrave/xalloc.h"

extern const struct target_driver target_engram, target_chroma, target_embedded, target_pgvector;

const struct target_driver *const target_drivers[] = {
	&target_engram,
	&target_chroma,
	&target_embedded,
	&target_pgvector,
	NULL,
};

const struct target_driver *target_driver_find(const char *name)
{
	for (size_t i = 0; name && target_drivers[i]; i++)
		if (strcmp(target_drivers[i]->name, name) == 0)
			return target_drivers[i];
	return NULL;
}

void target_driver_names(const char **out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; target_drivers[i] && n + 1 < cap; i++)
		out[n++] = target_drivers[i]->name;
	if (cap)
		out[n] = NULL;
}

/* ---- small containers -------------------------------------------------- */

void target_hits_init(struct target_hits *h)
{
	h->v = NULL;
	h->n = h->cap = 0;
}

void target_hits_release(struct target_hits *h)
{
	if (!h)
		return;
	free(h->v);
	target_hits_init(h);
}

void target_copy_str(char *dst, size_t cap, const char *src)
{
	if (!cap)
		return;
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

int target_hits_push(struct target_hits *h, const char *id, float score, struct err *e)
{
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 16;
		struct target_hit *nv = xalloc_try_resize(h->v, nc, sizeof(*nv), "search hits", e);
		if (!nv)
			return -1;
		h->v = nv;
		h->cap = nc;
	}
	target_copy_str(h->v[h->n].id, sizeof(h->v[h->n].id), id);
	h->v[h->n].score = score;
	h->n++;
	return 0;
}

void target_vectors_init(struct target_vectors *v, uint32_t dim)
{
	memset(v, 0, sizeof(*v));
	v->dim = dim;
}

void target_vectors_release(struct target_vectors *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		free(v->ids[i]);
	free(v->ids);
	free(v->vecs);
	free(v->found);
	target_vectors_init(v, v->dim);
}

static int vectors_grow(struct target_vectors *v, struct err *e)
{
	if (v->n < v->cap)
		return 0;
	size_t nc = v->cap ? v->cap * 2 : 64;
	char **ids = xalloc_try_resize(v->ids, nc, sizeof(*ids), "read-back ids", e);
	if (!ids)
		return -1;
	v->ids = ids;
	float *vecs = xalloc_try_resize(v->vecs, nc, xalloc_mul(v->dim, sizeof(float)), "read-back vectors", e);
	if (!vecs)
		return -1;
	v->vecs = vecs;
	unsigned char *found = xalloc_try_resize(v->found, nc, 1, "read-back flags", e);
	if (!found)
		return -1;
	v->found = found;
	v->cap = nc;
	return 0;
}

int target_vectors_push(struct target_vectors *v, const char *id, const float *vec, struct err *e)
{
	if (vectors_grow(v, e))
		return -1;
	v->ids[v->n] = xstrdup(id ? id : "");
	if (vec)
		memcpy(v->vecs + v->n * (size_t)v->dim, vec, (size_t)v->dim * sizeof(float));
	else
		memset(v->vecs + v->n * (size_t)v->dim, 0, (size_t)v->dim * sizeof(float));
	v->found[v->n] = vec != NULL;
	v->n++;
	return 0;
}

void target_req_init(struct target_req *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->url, 0);
	buf_init(&r->body, 0);
}

void target_req_release(struct target_req *r)
{
	if (!r)
		return;
	buf_release(&r->url);
	buf_release(&r->body);
}

/* ---- open / close ------------------------------------------------------ */

static char *dup_or(const char *s, const char *def)
{
	return xstrdup(s && *s ? s : def);
}

int target_open(const struct target_config *cfg, struct target **out, struct err *e)
{
	*out = NULL;
	const char *name = cfg->driver ? cfg->driver : "";
	const struct target_driver *drv = target_driver_find(name);
	if (!drv) {
		const char *names[TARGET_DRIVERS_MAX + 1];
		char all[256] = "";
		target_driver_names(names, sizeof(names) / sizeof(names[0]));
		for (size_t i = 0, n = 0; names[i] && n < sizeof(all); i++)
			n += (size_t)snprintf(all + n, sizeof(all) - n, "%s%s", i ? ", " : "", names[i]);
		err_set(e, ERR_SPEC, "unknown target driver '%s'", name);
		const char *s = text_suggest(name, names);
		if (s)
			return err_hint(e, "did you mean '%s'? drivers: %s", s, all);
		return err_hint(e, "drivers: %s", all);
	}
	const struct target_ops *ops = drv->ops;
	if (ops->build_store && (!cfg->url || !*cfg->url))
		return err_set(e, ERR_SPEC, "target driver '%s' needs a url (e.g. %s)", name,
			       drv->default_url ? drv->default_url : "http://127.0.0.1:PORT");
	if (cfg->url && *cfg->url && ops->build_store && strncmp(cfg->url, "http://", 7) != 0 &&
	    strncmp(cfg->url, "https://", 8) != 0)
		return err_set(e, ERR_SPEC, "target %s: url '%s' must start with http:// or https://",
			       name, cfg->url);

	struct target *t = xcalloc(1, sizeof(*t));
	t->drv = drv;
	t->ops = ops;
	t->driver = xstrdup(name);
	t->url = dup_or(cfg->url, "");
	t->space = dup_or(cfg->space, "default");
	t->metric = dup_or(cfg->metric, "cosine");
	size_t ul = strlen(t->url);
	while (ul > 0 && t->url[ul - 1] == '/')
		t->url[--ul] = '\0';
	if (strcmp(t->metric, "cosine") && strcmp(t->metric, "l2") && strcmp(t->metric, "ip")) {
		err_set(e, ERR_SPEC, "target %s: unknown metric '%s'", name, t->metric);
		err_hint(e, "use cosine, l2 or ip");
		target_close(t);
		return -1;
	}
	t->timeout_ns = cfg->timeout_ns ? cfg->timeout_ns : HTTP_TIMEOUT_DEFAULT_NS;
	t->dim = cfg->dim ? cfg->dim : TARGET_DIM_DEFAULT;
	t->batch_size = cfg->batch_size;
	t->hnsw_ef_construction = cfg->hnsw_ef_construction;
	t->hnsw_max_neighbors = cfg->hnsw_max_neighbors;
	t->hnsw_ef_search = cfg->hnsw_ef_search;
	t->index_type = dup_or(cfg->index_type, "hnsw");
	t->ivf_lists = cfg->ivf_lists > 0 ? cfg->ivf_lists : 100;
	t->ivf_probes = cfg->ivf_probes > 0 ? cfg->ivf_probes : 10;
	t->index_before_load = cfg->index_before_load;
	struct retry_policy rp = RETRY_POLICY_DEFAULT;
	rp.max_attempts = cfg->retries > 0 ? cfg->retries : 3;
	t->retry = rp;

	if (cfg->bearer_env && *cfg->bearer_env) {
		char what[96];
		snprintf(what, sizeof(what), "target %s", name);
		const char *secret;
		if (secret_env(cfg->bearer_env, what, &secret, e)) {
			target_close(t);
			return -1;
		}
		t->bearer_env = xstrdup(cfg->bearer_env);
		size_t n = strlen(secret) + sizeof("Bearer ");
		t->auth = xmalloc(n);
		snprintf(t->auth, n, "Bearer %s", secret);
	}
	if (ops->open && ops->open(t, e)) {
		target_close(t);
		return -1;
	}
	*out = t;
	return 0;
}

void target_close(struct target *t)
{
	if (!t)
		return;
	if (t->ops && t->ops->close)
		t->ops->close(t);
	http_client_free(t->http);
	if (t->auth) {
		/* wipe the secret before freeing */
		volatile char *p = t->auth;
		while (*p)
			*p++ = 0;
		free(t->auth);
	}
	free(t->bearer_env);
	free(t->driver);
	free(t->url);
	free(t->space);
	free(t->metric);
	free(t->index_type);
	free(t);
}

const char *target_driver(const struct target *t) { return t->driver; }
const struct target_driver *target_driver_of(const struct target *t) { return t->drv; }
const char *target_url(const struct target *t) { return t->url; }
const char *target_space(const struct target *t) { return t->space; }
uint32_t target_dim(const struct target *t) { return t->dim; }

int target_can(const struct target *t, unsigned caps)
{
	return (t->drv->caps & caps) == caps;
}

size_t target_content_max(const struct target *t)
{
	return t->drv->content_max ? t->drv->content_max : SIZE_MAX;
}

float target_corpus_confidence(const struct target *t, size_t len)
{
	return t->drv->corpus_confidence ? t->drv->corpus_confidence(len) : -1.0f;
}

const char *target_unheld_hint(const struct target *t)
{
	return t->drv->unheld_hint ? t->drv->unheld_hint : "the target answered success for records it does not hold";
}

size_t target_max_batch(const struct target *t)
{
	size_t m = t->ops->max_batch ? t->ops->max_batch((struct target *)t) : 1;
	if (t->batch_size > 0 && (size_t)t->batch_size < m)
		m = (size_t)t->batch_size;
	return m ? m : 1;
}

int target_has_http(const struct target *t)
{
	return t->ops->build_store != NULL;
}

static int unsupported(struct target *t, const char *what, struct err *e)
{
	return err_set(e, ERR_UNSUPPORTED, "target %s does not support %s", t->driver, what);
}

/* ---- synchronous operations ------------------------------------------- */

int target_health(struct target *t, char *version, size_t cap, struct err *e)
{
	if (version && cap)
		version[0] = '\0';
	if (!t->ops->health)
		return unsupported(t, "health", e);
	char tmp[64];
	return t->ops->health(t, version ? version : tmp, version ? cap : sizeof(tmp), e);
}

int target_count(struct target *t, uint64_t *n, struct err *e)
{
	*n = 0;
	if (!t->ops->count)
		return unsupported(t, "count", e);
	return t->ops->count(t, n, e);
}

int target_describe(struct target *t, struct target_info *info, struct err *e)
{
	memset(info, 0, sizeof(*info));
	target_copy_str(info->driver, sizeof(info->driver), t->driver);
	info->dim = t->dim;
	if (target_health(t, info->version, sizeof(info->version), e))
		return -1;
	return target_count(t, &info->count, e);
}

#define DESCRIBE_TIMEOUT_NS (5 * 1000000000ULL)

void target_describe_env(struct target *t, struct envlist *out)
{
	struct envlist got;
	envlist_init(&got);
	envlist_set(&got, "driver", t->driver);
	if (t->drv->ns_key)
		envlist_set(&got, "namespace", t->space);
	envlist_set_num(&got, "dim", t->dim);
	struct err e = ERR_INIT;
	if (t->ops->describe_env) {
		/* a describe never holds a run up: one short attempt per request */
		struct retry_policy retry = t->retry;
		uint64_t timeout = t->timeout_ns;
		t->retry.max_attempts = 1;
		if (!t->timeout_ns || t->timeout_ns > DESCRIBE_TIMEOUT_NS)
			t->timeout_ns = DESCRIBE_TIMEOUT_NS;
		if (t->ops->describe_env(t, &got, &e))
			envlist_setf(&got, "describe", "unavailable: %s", e.msg);
		t->retry = retry;
		t->timeout_ns = timeout;
	}
	envlist_merge(out, "target.", &got);
}

static void env_json_at(struct envlist *out, const char *path, json_t *v, int depth)
{
	if (json_is_object(v) && depth < 4) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) {
			char sub[ENVLIST_KEY_MAX * 2];
			snprintf(sub, sizeof(sub), "%s.%s", path, k);
			env_json_at(out, sub, x, depth + 1);
		}
	} else if (json_is_string(v)) {
		envlist_set(out, path, json_string_value(v));
	} else if (json_is_number(v)) {
		envlist_set_num(out, path, json_number_value(v));
	} else if (json_is_boolean(v)) {
		envlist_set(out, path, json_is_true(v) ? "true" : "false");
	} else if (!json_is_null(v)) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		envlist_set(out, path, s ? s : "?");
		free(s);
	}
}

void target_env_json(struct envlist *out, const char *prefix, json_t *obj)
{
	const char *k;
	json_t *x;
	json_object_foreach(obj, k, x) {
		char path[ENVLIST_KEY_MAX * 2];
		snprintf(path, sizeof(path), "%s%s", prefix, k);
		env_json_at(out, path, x, 1);
	}
}

int target_store_batch(struct target *t, const struct target_record *recs, size_t n,
		       struct target_store_result *res, struct err *e)
{
	if (t->ops->exec_store)
		return t->ops->exec_store(t, recs, n, res, e);
	size_t mb = target_max_batch(t);
	struct target_req rq;
	struct http_response rs;
	target_req_init(&rq);
	http_response_init(&rs);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i += mb) {
		size_t m = n - i < mb ? n - i : mb;
		if (t->ops->build_store(t, recs + i, m, &rq, e)) {
			rc = -1;
			break;
		}
		struct err se = ERR_INIT;
		if (target_send(t, &rq, &rs, &se) && rs.status == 0) {
			/* unreachable after retries: the target cannot be used */
			if (e)
				*e = se;
			rc = -1;
			break;
		}
		t->ops->parse_store(t, &rq, &rs, res + i, e);
		if (rs.status == 401 || rs.status == 403) /* the key, not the records: stop */
			rc = target_err_http(t, &rq, &rs, e);
	}
	http_response_release(&rs);
	target_req_release(&rq);
	return rc;
}

int target_recall(struct target *t, const float *vec, int k, float threshold,
		  struct target_hits *out, struct err *e)
{
	out->n = 0;
	if (t->ops->exec_recall)
		return t->ops->exec_recall(t, vec, k, threshold, out, e);
	if (!t->ops->build_recall)
		return unsupported(t, "recall", e);
	struct target_req rq;
	struct http_response rs;
	target_req_init(&rq);
	http_response_init(&rs);
	int rc = t->ops->build_recall(t, vec, k, threshold, &rq, e);
	if (!rc)
		rc = target_send(t, &rq, &rs, e);
	if (!rc)
		rc = t->ops->parse_recall(t, &rq, &rs, out, e);
	http_response_release(&rs);
	target_req_release(&rq);
	return rc;
}

int target_search(struct target *t, const char *text, int k, struct target_hits *out,
		  struct err *e)
{
	out->n = 0;
	if (t->ops->exec_search)
		return t->ops->exec_search(t, text, k, out, e);
	if (!t->ops->build_search)
		return unsupported(t, "text search", e);
	struct target_req rq;
	struct http_response rs;
	target_req_init(&rq);
	http_response_init(&rs);
	int rc = t->ops->build_search(t, text, k, &rq, e);
	if (!rc)
		rc = target_send(t, &rq, &rs, e);
	if (!rc)
		rc = t->ops->parse_search(t, &rq, &rs, out, e);
	http_response_release(&rs);
	target_req_release(&rq);
	return rc;
}

int target_fetch_embeddings(struct target *t, uint64_t offset, uint32_t limit,
			    struct target_vectors *out, struct err *e)
{
	target_vectors_release(out);
	out->dim = t->dim;
	if (!t->ops->fetch_embeddings)
		return unsupported(t, "fetching embeddings", e);
	return t->ops->fetch_embeddings(t, offset, limit, out, e);
}

int target_fetch_all(struct target *t, uint64_t max, struct target_vectors *out, struct err *e)
{
	target_vectors_release(out);
	out->dim = t->dim;
	if (!t->ops->fetch_embeddings)
		return unsupported(t, "fetching embeddings", e);
	const uint32_t page = 1000;
	struct target_vectors pg;
	target_vectors_init(&pg, t->dim);
	struct hmap seen = HMAP_INIT; /* id -> index in out (ids stay put: out->ids grows, not the strings) */
	int rc = 0;
	for (uint64_t off = 0;; off += page) {
		if (t->ops->fetch_embeddings(t, off, page, &pg, e)) {
			rc = -1;
			break;
		}
		size_t before = out->n;
		for (size_t i = 0; i < pg.n && (!max || out->n < max); i++) {
			if (target_vectors_push(out, pg.ids[i], pg.vecs + i * (size_t)t->dim, e)) {
				rc = -1;
				break;
			}
			int added = hmap_add(&seen, out->ids[out->n - 1], out->n - 1, e);
			if (added < 0) {
				rc = -1;
				break;
			}
			if (added == 0) { /* a duplicate from unstable paging order */
				out->n--;
				free(out->ids[out->n]);
			}
		}
		size_t got = pg.n;
		target_vectors_release(&pg);
		if (rc || got < page || (max && out->n >= max))
			break;
		/* a full page of ids all read before: the server answers every offset
		 * with the same rows (it ignores offset), and paging on would never
		 * end (tests/fuzz/regressions/fuzz_loopback/fetch-all-server-ignores-offset) */
		if (out->n == before) {
			rc = err_set(e, ERR_NET, "target %s: the page at offset %llu held only ids already read: "
						 "the server repeats its rows (does it ignore offset?)",
				     t->driver, (unsigned long long)off);
			break;
		}
	}
	target_vectors_release(&pg);
	hmap_release(&seen);
	return rc;
}

int target_get_vectors(struct target *t, const char *const *ids, size_t n,
		       struct target_vectors *out, struct err *e)
{
	target_vectors_release(out);
	out->dim = t->dim;
	if (t->ops->get_vectors)
		return t->ops->get_vectors(t, ids, n, out, e);
	if (!t->ops->fetch_embeddings)
		return unsupported(t, "reading vectors back", e);
	/* no read-back by id (engram): page everything and match */
	struct target_vectors all;
	target_vectors_init(&all, t->dim);
	if (target_fetch_all(t, 0, &all, e)) {
		target_vectors_release(&all);
		return -1;
	}
	struct hmap idx = HMAP_INIT; /* id -> index in all (the first of duplicates) */
	int rc = 0;
	for (size_t i = 0; i < all.n && !rc; i++)
		if (hmap_add(&idx, all.ids[i], i, e) < 0)
			rc = -1;
	for (size_t i = 0; i < n && !rc; i++) {
		const size_t *j = hmap_get(&idx, ids[i]);
		const float *vec = j ? all.vecs + *j * t->dim : NULL;
		if (target_vectors_push(out, ids[i], vec, e))
			rc = -1;
	}
	hmap_release(&idx);
	target_vectors_release(&all);
	return rc;
}

int target_has_ids(struct target *t, const char *const *ids, size_t n, unsigned char *found, struct err *e)
{
	memset(found, 0, n);
	if (t->ops->has_ids)
		return t->ops->has_ids(t, ids, n, found, e);
	if (!t->ops->get_vectors && !t->ops->fetch_embeddings)
		return unsupported(t, "telling which ids it holds", e);
	/* by id in chunks (bounded memory), or all at once when it pages anyway */
	const size_t chunk = t->ops->get_vectors ? 4096 : n;
	struct target_vectors tv;
	target_vectors_init(&tv, t->dim);
	int rc = 0;
	for (size_t s = 0; s < n && !rc; s += chunk) {
		size_t m = n - s < chunk ? n - s : chunk;
		rc = target_get_vectors(t, ids + s, m, &tv, e);
		for (size_t i = 0; !rc && i < m && i < tv.n; i++)
			found[s + i] = tv.found[i] != 0;
		target_vectors_release(&tv);
		target_vectors_init(&tv, t->dim);
	}
	target_vectors_release(&tv);
	return rc;
}

int target_set_ef_search(struct target *t, int ef, struct err *e)
{
	if (!t->ops->set_ef_search)
		return unsupported(t, "setting the search parameter ef_search", e);
	return t->ops->set_ef_search(t, ef, e);
}

int target_build_index(struct target *t, enum target_load_moment when, double *seconds, struct err *e)
{
	*seconds = -1;
	if (!t->ops->build_index)
		return 0;
	return t->ops->build_index(t, when, seconds, e);
}

int target_reset(struct target *t, struct err *e)
{
	if (!t->ops->reset)
		return unsupported(t, "reset", e);
	return t->ops->reset(t, e);
}

int target_delete(struct target *t, const char *const *ids, size_t n, struct err *e)
{
	if (!t->ops->delete_ids) {
		unsupported(t, "deleting records", e);
		return err_hint(e, "a runbook with delete or replace phases needs a driver that can delete");
	}
	return n ? t->ops->delete_ids(t, ids, n, e) : 0;
}

/* ---- hot path wrappers ------------------------------------------------- */

int target_build_store(struct target *t, const struct target_record *recs, size_t n,
		       struct target_req *rq, struct err *e)
{
	if (!t->ops->build_store)
		return unsupported(t, "HTTP store requests (use target_exec_store)", e);
	if (n == 0 || n > target_max_batch(t))
		return err_set(e, ERR_INTERNAL, "target %s: store batch of %zu records (1..%zu allowed)",
			       t->driver, n, target_max_batch(t));
	return t->ops->build_store(t, recs, n, rq, e);
}

int target_parse_store(struct target *t, const struct target_req *rq,
		       const struct http_response *rs, struct target_store_result *res,
		       struct err *e)
{
	if (!t->ops->parse_store)
		return unsupported(t, "HTTP store requests", e);
	if (t->ops->parse_store(t, rq, rs, res, e))
		return -1;
	if (rs->status != 401 && rs->status != 403)
		return 0;
	/* refused for the key, not for the records: none was rejected */
	for (size_t i = 0; i < rq->n_records; i++)
		res[i].status = TARGET_FAILED;
	return target_err_http(t, rq, rs, e);
}

int target_build_recall(struct target *t, const float *vec, int k, float threshold,
			struct target_req *rq, struct err *e)
{
	if (!t->ops->build_recall)
		return unsupported(t, "HTTP recall requests (use target_exec_recall)", e);
	return t->ops->build_recall(t, vec, k, threshold, rq, e);
}

int target_parse_recall(struct target *t, const struct target_req *rq,
			const struct http_response *rs, struct target_hits *out, struct err *e)
{
	out->n = 0;
	if (!t->ops->parse_recall)
		return unsupported(t, "HTTP recall requests", e);
	return t->ops->parse_recall(t, rq, rs, out, e);
}

int target_build_search(struct target *t, const char *text, int k, struct target_req *rq,
			struct err *e)
{
	if (!t->ops->build_search)
		return unsupported(t, "HTTP text search", e);
	return t->ops->build_search(t, text, k, rq, e);
}

int target_parse_search(struct target *t, const struct target_req *rq,
			const struct http_response *rs, struct target_hits *out, struct err *e)
{
	out->n = 0;
	if (!t->ops->parse_search)
		return unsupported(t, "HTTP text search", e);
	return t->ops->parse_search(t, rq, rs, out, e);
}

int target_exec_store(struct target *t, const struct target_record *recs, size_t n,
		      struct target_store_result *res, struct err *e)
{
	if (!t->ops->exec_store)
		return unsupported(t, "in-process store (use target_build_store)", e);
	return t->ops->exec_store(t, recs, n, res, e);
}

int target_exec_recall(struct target *t, const float *vec, int k, float threshold,
		       struct target_hits *out, struct err *e)
{
	out->n = 0;
	if (!t->ops->exec_recall)
		return unsupported(t, "in-process recall (use target_build_recall)", e);
	return t->ops->exec_recall(t, vec, k, threshold, out, e);
}

int target_exec_search(struct target *t, const char *text, int k, struct target_hits *out,
		       struct err *e)
{
	out->n = 0;
	if (!t->ops->exec_search)
		return unsupported(t, "in-process search (use target_build_search)", e);
	return t->ops->exec_search(t, text, k, out, e);
}

/* ---- the async hot path ------------------------------------------------- */

struct target_async {
	struct target *t;
	void *h; /* the driver's */
};

int target_has_async(const struct target *t)
{
	return t->ops->async_open != NULL;
}

int target_async_open(struct target *t, struct engine *en, int max_in_flight, int connections,
		      struct target_async **out, struct err *e)
{
	*out = NULL;
	if (!t->ops->async_open)
		return unsupported(t, "asynchronous connections", e);
	int conns = connections > 0 ? connections
		    : max_in_flight < TARGET_ASYNC_CONNECTIONS ? max_in_flight : TARGET_ASYNC_CONNECTIONS;
	void *h = t->ops->async_open(t, en, conns, e);
	if (!h)
		return -1;
	struct target_async *a = xcalloc(1, sizeof(*a));
	a->t = t;
	a->h = h;
	*out = a;
	return 0;
}

int target_async_store(struct target_async *a, const struct target_record *rec, engine_done_fn fn, void *user,
		       struct err *e)
{
	return a->t->ops->async_store(a->h, rec, fn, user, e);
}

int target_async_recall(struct target_async *a, const float *vec, int k, float threshold, engine_done_fn fn,
			void *user, struct err *e)
{
	return a->t->ops->async_recall(a->h, vec, k, threshold, fn, user, e);
}

void target_async_close(struct target_async *a)
{
	if (!a)
		return;
	a->t->ops->async_close(a->h);
	free(a);
}

/* ---- request helpers --------------------------------------------------- */

void target_req_begin(struct target *t, struct target_req *rq, const char *method)
{
	buf_reset(&rq->body);
	memset(&rq->http, 0, sizeof(rq->http));
	rq->http.method = method;
	rq->http.timeout_ns = t->timeout_ns;
	rq->http.headers = rq->hdr;
	rq->http.n_headers = 0;
	rq->n_records = 0;
	if (t->auth)
		target_req_header(rq, "Authorization", t->auth);
}

void target_req_header(struct target_req *rq, const char *name, const char *value)
{
	if (rq->http.n_headers >= (int)(sizeof(rq->hdr) / sizeof(rq->hdr[0])))
		return;
	rq->hdr[rq->http.n_headers].name = name;
	rq->hdr[rq->http.n_headers].value = value;
	rq->http.n_headers++;
}

void target_req_set_body(struct target_req *rq)
{
	rq->http.body = rq->body.data;
	rq->http.body_len = rq->body.len;
}

int target_send(struct target *t, struct target_req *rq, struct http_response *rs, struct err *e)
{
	rq->http.url = rq->url.data;
	if (rq->body.len)
		target_req_set_body(rq);
	if (!t->http && http_client_new(&t->http, e))
		return -1;
	if (http_do_retry(t->http, &rq->http, &t->retry, rs, NULL, e)) {
		if (http_response_too_large(rs))
			err_hint(e, "the %s server answered, but with more than the %zu-byte response limit", t->driver,
				 rq->http.max_body ? rq->http.max_body : (size_t)HTTP_BODY_MAX_DEFAULT);
		else if (rs->status == 0)
			err_hint(e, "is the %s server running at %s? (engrave reads the url from the spec's target section)",
				 t->driver, t->url);
		return -1;
	}
	return 0;
}

void target_format_http_error(const struct http_response *rs, char *out, size_t cap)
{
	if (rs->status == 0) {
		snprintf(out, cap, "transport error: %s", rs->error[0] ? rs->error : "no response");
		return;
	}
	json_error_t je;
	json_t *j = rs->body.len ? json_loadb(rs->body.data, rs->body.len, 0, &je) : NULL;
	if (j && json_is_object(j)) {
		json_t *err = json_object_get(j, "error");
		const char *code = NULL, *msg = NULL;
		if (json_is_object(err)) { /* engram ApiError */
			code = json_string_value(json_object_get(err, "code"));
			msg = json_string_value(json_object_get(err, "message"));
		} else if (json_is_string(err)) { /* chroma */
			code = json_string_value(err);
			msg = json_string_value(json_object_get(j, "message"));
		}
		if (code || msg) {
			snprintf(out, cap, "%ld %s%s%s", rs->status, code ? code : "",
				 code && msg ? ": " : "", msg ? msg : "");
			json_decref(j);
			secret_redact(out, cap);
			return;
		}
	}
	if (j)
		json_decref(j);
	/* plain text (axum extractor rejections) or anything else: first line */
	size_t n = rs->body.len;
	const char *b = rs->body.data;
	size_t k = 0;
	while (k < n && b[k] != '\n' && b[k] != '\r')
		k++;
	if (k > 200)
		k = 200;
	if (k)
		snprintf(out, cap, "%ld %.*s", rs->status, (int)k, b);
	else
		snprintf(out, cap, "%ld (empty body)", rs->status);
	secret_redact(out, cap); /* drivers keep this text in store results */
}

int target_err_http(struct target *t, const struct target_req *rq,
		    const struct http_response *rs, struct err *e)
{
	char what[512];
	target_format_http_error(rs, what, sizeof(what));
	const char *url = rq->http.url ? rq->http.url : rq->url.data;
	char shown[160];
	/* recall URLs carry a 10-20 KB vector: show only the start */
	if (strlen(url) > sizeof(shown) - 1) {
		snprintf(shown, sizeof(shown), "%.140s...", url);
		url = shown;
	}
	err_set(e, ERR_NET, "%s %s %s: %s", t->driver, http_method_of(&rq->http), url, what);
	if (rs->status == 401 && t->bearer_env)
		err_hint(e, "the server refused the token in $%s: check its value (a wrong, expired or revoked key?)",
			 t->bearer_env);
	else if (rs->status == 401)
		err_hint(e, "the server wants an API key: set target.auth.bearer_env to the name of an environment variable holding it");
	else if (http_response_too_large(rs))
		err_hint(e, "the %s server answered, but with more than the %zu-byte response limit", t->driver,
			 rq->http.max_body ? rq->http.max_body : (size_t)HTTP_BODY_MAX_DEFAULT);
	else if (rs->status == 403 && t->bearer_env)
		err_hint(e, "the server refused the token in $%s for this request: check what the key may access",
			 t->bearer_env);
	else if (rs->status == 0)
		err_hint(e, "is the %s server running at %s?", t->driver, t->url);
	return -1;
}

int target_json_body(struct target *t, const struct target_req *rq,
		     const struct http_response *rs, json_t **out, struct err *e)
{
	json_error_t je;
	*out = json_loadb(rs->body.data, rs->body.len, JSON_DECODE_ANY, &je);
	if (!*out)
		return err_set(e, ERR_NET, "%s %s %.140s: %ld with undecodable JSON (line %d col %d: %s)",
			       t->driver, http_method_of(&rq->http), rq->url.data, rs->status,
			       je.line, je.column, je.text);
	return 0;
}

/* ---- encoders (thin wrappers over jsonf, which owns the number format) -- */

int target_json_f32(struct buf *b, const float *v, uint32_t n, struct err *e)
{
	if (jsonf_write_f32_array(b, v, n))
		return err_set(e, ERR_INPUT, "vector of %u floats holds NaN or infinity (JSON cannot carry it)", n);
	return 0;
}

int target_json_f32_urlenc(struct buf *b, const float *v, uint32_t n, struct err *e)
{
	if (buf_reserve(b, (size_t)n * 20 + 6, e))
		return -1;
	memcpy(b->data + b->len, "%5B", 3);
	b->len += 3;
	char tmp[JSONF_F32_MAX + 8];
	for (uint32_t i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			return err_set(e, ERR_INPUT, "vector holds NaN or infinity at %u", i);
		if (buf_reserve(b, 3 * JSONF_F32_MAX + 8, e))
			return -1;
		if (i) {
			memcpy(b->data + b->len, "%2C", 3);
			b->len += 3;
		}
		size_t k = jsonf_write_f32(tmp, v[i]);
		for (size_t j = 0; j < k; j++) {
			if (tmp[j] == '+') { /* exponent sign: '+' means space in a query */
				memcpy(b->data + b->len, "%2B", 3);
				b->len += 3;
			} else {
				b->data[b->len++] = tmp[j];
			}
		}
	}
	memcpy(b->data + b->len, "%5D", 3);
	b->len += 3;
	b->data[b->len] = '\0';
	return 0;
}

int target_json_str(struct buf *b, const char *s, struct err *e)
{
	return jsonf_write_string(b, s, strlen(s), e);
}

int target_b64_f32(struct buf *b, const float *v, uint32_t n, struct err *e)
{
	return jsonf_b64_f32(b, v, n, e);
}

int target_b64_f32_decode(const char *s, size_t len, float *out, uint32_t n)
{
	size_t got = 0;
	if (jsonf_unb64_f32(s, len, out, n, &got) != JSONF_OK || got != n)
		return -1;
	return 0;
}
