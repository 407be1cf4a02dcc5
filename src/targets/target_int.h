/*
 * target_int.h — what the drivers share inside src/targets/ (never included
 * from outside the layer).
 *
 * Each driver is one file defining its `struct target_driver` (its facts,
 * public in target.h) and the `struct target_ops` it points at; target.c
 * lists the descriptors in `target_drivers[]`. A NULL ops entry means "not
 * supported" (the public wrappers in target.c turn it into ERR_UNSUPPORTED
 * naming the driver). HTTP drivers fill build_/parse_ for the hot path, in-process
 * drivers fill exec_; the synchronous store/recall/search of HTTP drivers are
 * the builders + one http_do_retry + the parsers, so the two paths cannot
 * drift apart.
 */
#ifndef ENGRAVE_TARGET_INT_H
#define ENGRAVE_TARGET_INT_H

#include <jansson.h>

#include "engrave/envlist.h"
#include "engrave/err.h"
#include "engrave/retry.h"
#include "engrave/target.h"

struct target_ops {
	int (*open)(struct target *t, struct err *e);
	void (*close)(struct target *t);
	int (*health)(struct target *t, char *version, size_t cap, struct err *e);
	int (*count)(struct target *t, uint64_t *n, struct err *e);
	size_t (*max_batch)(struct target *t);
	int (*fetch_embeddings)(struct target *t, uint64_t offset, uint32_t limit,
				struct target_vectors *out, struct err *e);
	/* found[i] for each id, asking for ids only; NULL: target.c uses get_vectors or paging */
	int (*has_ids)(struct target *t, const char *const *ids, size_t n, unsigned char *found,
		       struct err *e);
	int (*get_vectors)(struct target *t, const char *const *ids, size_t n,
			   struct target_vectors *out, struct err *e);
	int (*reset)(struct target *t, struct err *e);
	int (*set_ef_search)(struct target *t, int ef, struct err *e);
	/* target_build_index; NULL: no separate index build */
	int (*build_index)(struct target *t, enum target_load_moment when, double *seconds, struct err *e);
	/* Version and configuration as key/values without the "target." prefix
	 * (envlist.h); -1 with why when the target cannot say. NULL: nothing
	 * beyond the config. */
	int (*describe_env)(struct target *t, struct envlist *out, struct err *e);
	int (*delete_ids)(struct target *t, const char *const *ids, size_t n, struct err *e);

	int (*build_store)(struct target *t, const struct target_record *recs, size_t n,
			   struct target_req *rq, struct err *e);
	int (*parse_store)(struct target *t, const struct target_req *rq,
			   const struct http_response *rs, struct target_store_result *res,
			   struct err *e);
	int (*build_recall)(struct target *t, const float *vec, int k, float threshold,
			    struct target_req *rq, struct err *e);
	int (*parse_recall)(struct target *t, const struct target_req *rq,
			    const struct http_response *rs, struct target_hits *out,
			    struct err *e);
	int (*build_search)(struct target *t, const char *text, int k, struct target_req *rq,
			    struct err *e);
	int (*parse_search)(struct target *t, const struct target_req *rq,
			    const struct http_response *rs, struct target_hits *out,
			    struct err *e);

	int (*exec_store)(struct target *t, const struct target_record *recs, size_t n,
			  struct target_store_result *res, struct err *e);
	int (*exec_recall)(struct target *t, const float *vec, int k, float threshold,
			   struct target_hits *out, struct err *e);
	int (*exec_search)(struct target *t, const char *text, int k, struct target_hits *out,
			   struct err *e);

	/* the async hot path (target.h); the handle is the driver's */
	void *(*async_open)(struct target *t, struct engine *en, int connections, struct err *e);
	int (*async_store)(void *h, const struct target_record *rec, engine_done_fn fn, void *user, struct err *e);
	int (*async_recall)(void *h, const float *vec, int k, float threshold, engine_done_fn fn, void *user,
			    struct err *e);
	void (*async_close)(void *h);
};

struct target {
	const struct target_driver *drv;
	const struct target_ops *ops;
	char *driver, *url, *space, *metric;
	char *auth;               /* "Bearer <secret>" or NULL: memory only */
	char *bearer_env;         /* the NAME of the variable it came from, or NULL */
	uint64_t timeout_ns;
	uint32_t dim;
	int batch_size;
	int hnsw_ef_construction, hnsw_max_neighbors, hnsw_ef_search;
	char *index_type;         /* cfg.index_type or "hnsw" */
	int ivf_lists, ivf_probes, index_before_load;
	struct retry_policy retry;
	struct http_client *http; /* synchronous calls; created on first use */
	void *priv;               /* the driver's state */
	uint32_t page_rows;       /* rows per read-back page that fit the response limit; 0: driver default */
};

/* ---- request helpers (target.c) ---------------------------------------- */

/* Reset rq and set method, url (from rq->url), timeout and the auth header. */
void target_req_begin(struct target *t, struct target_req *rq, const char *method);
void target_req_header(struct target_req *rq, const char *name, const char *value);
/* Point rq->http.body at rq->body. */
void target_req_set_body(struct target_req *rq);
/* One synchronous request with the target's retry policy; 0 when a response
 * arrived (any status), -1 on transport failure after retries. */
int target_send(struct target *t, struct target_req *rq, struct http_response *rs,
		struct err *e);
/* Build an error for a non-2xx / transport failure:
 * "<driver> <METHOD> <url>: <status> <CODE>: <message>" from either JSON
 * error shape (engram {"error":{"code","message"}}, chroma
 * {"error":"X","message":"..."}) or a plain-text body, with a hint for 401
 * and 403 that says whether a token was sent and from which variable.
 * Returns -1. */
int target_err_http(struct target *t, const struct target_req *rq,
		    const struct http_response *rs, struct err *e);
/* The same text into a fixed buffer (for per-record reasons). */
void target_format_http_error(const struct http_response *rs, char *out, size_t cap);
/* Parse rs->body as JSON; -1 (ERR_NET "... undecodable JSON ...") on failure. */
int target_json_body(struct target *t, const struct target_req *rq,
		     const struct http_response *rs, json_t **out, struct err *e);

/* ---- JSON / encoding helpers ------------------------------------------ */

/* [f,f,...] with %.9g (exact float32 round trip). */
int target_json_f32(struct buf *b, const float *v, uint32_t n, struct err *e);
/* The same JSON array, percent-encoded for a query string. */
int target_json_f32_urlenc(struct buf *b, const float *v, uint32_t n, struct err *e);
/* "string" with JSON escapes. */
int target_json_str(struct buf *b, const char *s, struct err *e);
/* Base64 (RFC 4648) of n little-endian float32, without quotes. */
int target_b64_f32(struct buf *b, const float *v, uint32_t n, struct err *e);
/* Decode base64 of exactly n float32 into out; -1 if malformed. */
int target_b64_f32_decode(const char *s, size_t len, float *out, uint32_t n);

/* Append one hit (id truncated to TARGET_ID_MAX-1). */
int target_hits_push(struct target_hits *h, const char *id, float score, struct err *e);
/* Append one (id, vector) row. */
int target_vectors_push(struct target_vectors *v, const char *id, const float *vec,
			struct err *e);
void target_copy_str(char *dst, size_t cap, const char *src);
/* The scalar leaves of a JSON object as keys "<prefix><path>" (objects
 * nested at most 4 deep joined with '.', arrays as compact JSON, nulls left
 * out), for describe_env hooks. */
void target_env_json(struct envlist *out, const char *prefix, json_t *obj);

#endif
