/*
 * http.h — synchronous HTTP requests over one keep-alive connection.
 *
 * libcurl is used only inside src/net/. A `struct http_client` owns one curl
 * easy handle, so consecutive http_do() calls to the same host reuse the TCP
 * connection. Not thread-safe: one client per thread.
 *
 * http_do() returns 0 whenever an HTTP response arrived, whatever its status
 * (the caller decides what a 404 means); -1 with ERR_NET only on transport
 * failure (refused, reset, timeout, body too large), with the message
 * "POST http://host/path: Couldn't connect to server (...)".
 */
#ifndef ENGRAVE_HTTP_H
#define ENGRAVE_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "engrave/buf.h"
#include "engrave/clock.h"

struct err;

#define HTTP_BODY_MAX_DEFAULT (64u * 1024u * 1024u)
#define HTTP_TIMEOUT_DEFAULT_NS (30ULL * NS_PER_S)

struct http_header {
	const char *name;
	const char *value;
};

struct http_request {
	const char *method;                 /* "GET", "POST", ...; NULL = GET (or POST when body) */
	const char *url;
	const struct http_header *headers;  /* borrowed */
	int n_headers;
	const void *body;                   /* borrowed; must stay valid until the request completes */
	size_t body_len;
	uint64_t timeout_ns;                /* whole request; 0 = 30 s */
	size_t max_body;                    /* response body limit; 0 = 64 MiB */
};

struct http_response {
	long status;             /* 0 on transport failure */
	struct buf body;         /* response body, NUL-terminated; bounded (default 64 MiB) */
	double retry_after_s;    /* Retry-After header in seconds, -1 if absent */
	int transport_error;     /* CURLcode, 0 = none */
	char error[256];         /* CURLOPT_ERRORBUFFER text or curl_easy_strerror */
	uint64_t elapsed_ns;     /* from hand-off to curl until completion */
	char content_type[64];   /* Content-Type header ("" if absent) */
	int64_t date_s;          /* Date header, seconds since the epoch; 0 if absent (libcurl path only) */
	uint64_t date_at_ns;     /* unix_ns when that response completed (0 if no Date) */
};

/* Initialise an empty response (body empty, status 0, retry_after_s -1). */
void http_response_init(struct http_response *rs);
/* Free the body; NULL-safe. The struct may be re-initialised afterwards. */
void http_response_release(struct http_response *rs);
/* Empty for reuse, keeping the body allocation. */
void http_response_reset(struct http_response *rs);
/* 1 when the transfer failed because the answer was larger than the
 * request's max_body (asking again gives the same answer: ask for less). */
int http_response_too_large(const struct http_response *rs);

struct http_client; /* one reusable easy handle: keep-alive connection */

/* Caller frees with http_client_free. Initialises libcurl globally once. */
int http_client_new(struct http_client **out, struct err *e);
void http_client_free(struct http_client *c); /* NULL-safe */

/*
 * Perform `rq` and fill `rs` (which must have been http_response_init'ed;
 * it is reset first). 0 when an HTTP response arrived (any status); -1
 * ERR_NET on transport failure, `rs->transport_error`/`rs->error` then set.
 */
int http_do(struct http_client *c, const struct http_request *rq, struct http_response *rs,
	    struct err *e);

/* Percent-encode (RFC 3986 unreserved kept) for query strings; appends to out. */
int http_url_escape(const char *in, size_t len, struct buf *out, struct err *e);

/* "GET", or "POST" when the request has a body and no method. Never NULL. */
const char *http_method_of(const struct http_request *rq);

/* libcurl global init (idempotent, thread-safe); called by the constructors. */
void http_global_init(void);

/*
 * The transfer layer below is shared by http.c and engine.c (src/net/ only;
 * nothing outside the net layer should need it). A transfer owns one curl
 * easy handle (kept across requests, so connections and DNS stay cached), an
 * error buffer and a response. Request headers are turned into curl lists
 * through a small cache keyed by the header set's content, so a load test
 * sending the same headers a million times builds the list once.
 */
struct http_hdr_cache;
struct http_xfer;

/* Caller frees with http_hdr_cache_free (which frees every cached list). */
struct http_hdr_cache *http_hdr_cache_new(void);
void http_hdr_cache_free(struct http_hdr_cache *hc);

/* Caller frees with http_xfer_free. NULL on curl_easy_init failure. */
struct http_xfer *http_xfer_new(void);
void http_xfer_free(struct http_xfer *x);
/* The CURL * handle (void * so this header needs no curl.h). */
void *http_xfer_curl(struct http_xfer *x);
/* The response filled by http_xfer_finish; owned by the transfer. */
struct http_response *http_xfer_response(struct http_xfer *x);
/*
 * Reset the easy handle and set every option for `rq` (url, method, body,
 * headers via `hc`, timeouts, response callbacks). The response is emptied.
 * connect_timeout_ns 0 = 10 s. -1 ERR_USAGE on a malformed request.
 */
int http_xfer_prepare(struct http_xfer *x, const struct http_request *rq,
		      struct http_hdr_cache *hc, uint64_t connect_timeout_ns, struct err *e);
/* After curl finished with result `curlcode`: fill status, Retry-After, type, error. */
void http_xfer_finish(struct http_xfer *x, int curlcode, uint64_t elapsed_ns);
/*
 * A Retry-After header value in seconds: delta-seconds (fractions accepted)
 * or an HTTP-date (seconds from now, 0 if past); -1 when unparsable. Shared
 * with the native transport (wire.c) so both paths read it alike.
 */
double http_retry_after_parse(const char *v);

#endif
