/*
 * embed_http.h — the `http` embedder: texts -> float32 vectors through an
 * embedding server.
 *
 * Two wire shapes:
 *   openai  POST {url} {"model":M,"input":[texts]}
 *           -> {"data":[{"embedding":[...],"index":i},...]}
 *   ollama  POST {url} {"model":M,"input":[texts]} -> {"embeddings":[[...],...]}
 * `url` is the full endpoint; a bare "http://host:port" gets the default path
 * ("/v1/embeddings" for openai, "/api/embed" for ollama).
 *
 * Texts are sent in batches of batch_size, `concurrency` requests in flight
 * (the net engine), each retried with backoff (retry.h) on transport errors,
 * 429 and 5xx. Every vector's dimension is checked against `dim`, and
 * results are written in input order whatever order the server answers in.
 */
#ifndef ENGRAVE_EMBED_HTTP_H
#define ENGRAVE_EMBED_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "engrave/retry.h"

struct err;

enum embed_http_api { EMBED_HTTP_OPENAI = 0, EMBED_HTTP_OLLAMA = 1 };

struct embed_http_opts {
	enum embed_http_api api;
	const char *url;            /* endpoint, copied */
	const char *model;          /* copied */
	int dim;                    /* expected vector dimension, > 0 */
	int batch_size;             /* texts per request; 0 = 32 */
	int concurrency;            /* requests in flight; 0 = 4 */
	const char *api_key;        /* optional "Authorization: Bearer" token; copied, never in the identity */
	uint64_t timeout_ns;        /* per request; 0 = 120 s */
	struct retry_policy retry;  /* max_attempts 0 = RETRY_POLICY_DEFAULT; base_ns/max_ns 0 = defaults */
};

struct embed_http;

/* "openai" or "ollama" -> api; -1 ERR_SPEC otherwise. */
int embed_http_api_parse(const char *name, enum embed_http_api *out, struct err *e);

/* Validates the options (no network). Caller frees with embed_http_free. */
int embed_http_new(const struct embed_http_opts *o, struct embed_http **out, struct err *e);
void embed_http_free(struct embed_http *eh); /* NULL-safe */

/*
 * Embed n texts (lens may be NULL for NUL-terminated texts) into out, n x dim
 * floats, row i for texts[i]. 0, or -1 with ERR_NET (server unreachable or
 * kept failing, after retries), ERR_INPUT (malformed response, wrong count)
 * or ERR_SPEC (wrong dimension: "model returned 384-dim vectors, spec says
 * 768"). On failure `out` is partly written.
 */
int embed_http_batch(struct embed_http *eh, const char *const *texts, const size_t *lens,
		     size_t n, float *out, struct err *e);

/* Cache identity: "http:<api> <url> model=<model> dim=<dim>"; owned by eh. */
const char *embed_http_identity(const struct embed_http *eh);
int embed_http_dim(const struct embed_http *eh);

/* Counters since embed_http_new. */
struct embed_http_stats {
	uint64_t requests;   /* HTTP attempts made */
	uint64_t retries;    /* attempts beyond the first */
	uint64_t texts;      /* texts embedded */
};
void embed_http_get_stats(const struct embed_http *eh, struct embed_http_stats *out);

#endif
