/*
 * http.c — synchronous HTTP over libcurl, and the transfer layer the engine
 * shares.
 *
 * libcurl appears only in src/net/. Everything about turning a
 * `struct http_request` into curl options lives here, in
 * http_xfer_prepare(), so the sync client (http_do) and the multi engine
 * (engine.c) send byte-identical requests:
 *
 *   - one easy handle per transfer, curl_easy_reset() between requests: the
 *     reset keeps live connections and the DNS cache, so a client is a
 *     keep-alive connection;
 *   - "Expect:" is always sent empty (curl would otherwise wait up to 1 s for
 *     a 100-continue on bodies over 1 KiB), and a body without a
 *     Content-Type header is sent as application/json, the only kind engrave
 *     speaks;
 *   - header lists are built once per distinct header set and cached by
 *     their text (http_hdr_cache, an hmap), so the hot path does not allocate;
 *   - loopback is never proxied (unless no_proxy says otherwise): an
 *     http_proxy variable must not put a proxy inside a latency measurement;
 *   - the response body goes into a bounded struct buf (64 MiB by default):
 *     a runaway body fails the transfer with a clear message instead of
 *     eating memory.
 *
 * http_do() returns 0 whenever a response arrived, whatever its status;
 * transport failures return -1 ERR_NET with "METHOD URL: curl error (...)".
 */
#include "engrave/http.h"
#include "engrave/err.h"
#include "engrave/hmap.h"
#include "engrave/xalloc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---------------------------------------------------------------- globals */

static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static void http_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_global_init(void)
{
	pthread_once(&http_once, http_init_once);
}

/* --------------------------------------------------------------- response */

void http_response_init(struct http_response *rs)
{
	memset(rs, 0, sizeof(*rs));
	buf_init(&rs->body, HTTP_BODY_MAX_DEFAULT);
	rs->retry_after_s = -1;
}

void http_response_release(struct http_response *rs)
{
	if (!rs)
		return;
	buf_release(&rs->body);
}

void http_response_reset(struct http_response *rs)
{
	buf_reset(&rs->body);
	rs->status = 0;
	rs->retry_after_s = -1;
	rs->transport_error = 0;
	rs->error[0] = '\0';
	rs->elapsed_ns = 0;
	rs->content_type[0] = '\0';
	rs->date_s = 0;
	rs->date_at_ns = 0;
}

int http_response_too_large(const struct http_response *rs)
{
	return rs && rs->status == 0 &&
	       (rs->transport_error == CURLE_FILESIZE_EXCEEDED ||
		(rs->transport_error == CURLE_WRITE_ERROR && strstr(rs->error, "larger than")));
}

const char *http_method_of(const struct http_request *rq)
{
	if (rq->method && *rq->method)
		return rq->method;
	return rq->body ? "POST" : "GET";
}

/* ----------------------------------------------------------- header cache */

struct hdr_entry {
	char *text;               /* "name: value\n...", the key in `idx` */
	struct curl_slist *list;
};

struct http_hdr_cache {
	struct hdr_entry *ents;
	size_t n, cap;
	struct hmap idx;          /* text -> index in ents */
};

struct http_hdr_cache *http_hdr_cache_new(void)
{
	return xcalloc(1, sizeof(struct http_hdr_cache));
}

void http_hdr_cache_free(struct http_hdr_cache *hc)
{
	if (!hc)
		return;
	for (size_t i = 0; i < hc->n; i++) {
		free(hc->ents[i].text);
		curl_slist_free_all(hc->ents[i].list);
	}
	free(hc->ents);
	hmap_release(&hc->idx);
	free(hc);
}

static int has_header(const struct http_request *rq, const char *name)
{
	for (int i = 0; i < rq->n_headers; i++)
		if (rq->headers[i].name && !strcasecmp(rq->headers[i].name, name))
			return 1;
	return 0;
}

/*
 * The list for this request's headers (plus the implicit Expect: and
 * Content-Type), from the cache or newly built. NULL with *fail set when
 * a header is invalid or libcurl runs out of memory for the list.
 */
static struct curl_slist *hdr_lookup(struct http_hdr_cache *hc, const struct http_request *rq,
				     struct err *e, int *fail)
{
	int want_ct = rq->body && !has_header(rq, "Content-Type");
	size_t tlen = 0;
	for (int i = 0; i < rq->n_headers; i++) {
		const char *n = rq->headers[i].name, *v = rq->headers[i].value;
		if (!n || !v || strchr(n, ':') || strpbrk(n, "\r\n") || strpbrk(v, "\r\n")) {
			*fail = err_set(e, ERR_USAGE, "invalid HTTP header #%d (%s) for %s", i + 1,
					n ? n : "(null name)", rq->url);
			return NULL;
		}
		tlen += strlen(n) + strlen(v) + 3;
	}
	char stackbuf[1024];
	char *text = tlen + 2 <= sizeof(stackbuf) ? stackbuf : xmalloc(tlen + 2);
	size_t off = 0;
	text[off++] = want_ct ? 'J' : '-';
	for (int i = 0; i < rq->n_headers; i++)
		off += (size_t)sprintf(text + off, "%s: %s\n", rq->headers[i].name,
				       rq->headers[i].value);
	text[off] = '\0';
	const size_t *hit = hmap_get(&hc->idx, text);
	if (hit) {
		if (text != stackbuf)
			free(text);
		return hc->ents[*hit].list;
	}
	struct curl_slist *list = NULL, *t;
	t = curl_slist_append(list, "Expect:");
	if (!t)
		goto nomem;
	list = t;
	if (want_ct && !curl_slist_append(list, "Content-Type: application/json"))
		goto nomem;
	char line[4096];
	for (int i = 0; i < rq->n_headers; i++) {
		const char *n = rq->headers[i].name, *v = rq->headers[i].value;
		char *l = line, *heap = NULL;
		size_t need = strlen(n) + strlen(v) + 3;
		if (need > sizeof(line))
			l = heap = xmalloc(need);
		/* "Name;" tells curl to send an empty header rather than drop it */
		if (*v)
			snprintf(l, need, "%s: %s", n, v);
		else
			snprintf(l, need, "%s;", n);
		t = curl_slist_append(list, l);
		free(heap);
		if (!t)
			goto nomem;
	}
	if (hc->n == hc->cap) {
		hc->cap = hc->cap ? hc->cap * 2 : 4;
		hc->ents = xrealloc_array(hc->ents, hc->cap, sizeof(*hc->ents));
	}
	if (text == stackbuf)
		text = xstrdup(stackbuf);
	if (hmap_add(&hc->idx, text, hc->n, e) < 0) {
		curl_slist_free_all(list);
		free(text);
		*fail = err_prefix(e, "HTTP headers for %s", rq->url);
		return NULL;
	}
	struct hdr_entry *he = &hc->ents[hc->n++];
	he->text = text;
	he->list = list;
	return list;

nomem: /* libcurl could not allocate a list node */
	curl_slist_free_all(list);
	if (text != stackbuf)
		free(text);
	*fail = err_set(e, ERR_NOSPACE, "out of memory for the HTTP headers of %s", rq->url);
	return NULL;
}

/* --------------------------------------------------------------- transfer */

struct http_xfer {
	CURL *h;
	struct http_response rs;
	size_t max_body;
	int body_overflow;
};

struct http_xfer *http_xfer_new(void)
{
	http_global_init();
	struct http_xfer *x = xcalloc(1, sizeof(*x));
	x->h = curl_easy_init();
	if (!x->h) {
		free(x);
		return NULL;
	}
	http_response_init(&x->rs);
	return x;
}

void http_xfer_free(struct http_xfer *x)
{
	if (!x)
		return;
	curl_easy_cleanup(x->h);
	http_response_release(&x->rs);
	free(x);
}

void *http_xfer_curl(struct http_xfer *x)
{
	return x->h;
}

struct http_response *http_xfer_response(struct http_xfer *x)
{
	return &x->rs;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
	struct http_xfer *x = user;
	size_t n = size * nmemb;
	if (buf_append(&x->rs.body, ptr, n, NULL) < 0) {
		x->body_overflow = 1;
		return 0; /* CURLE_WRITE_ERROR */
	}
	return n;
}

static long ms_of(uint64_t ns)
{
	uint64_t ms = (ns + NS_PER_MS - 1) / NS_PER_MS;
	return ms > 0x7fffffffULL ? 0x7fffffffL : (long)ms;
}

int http_xfer_prepare(struct http_xfer *x, const struct http_request *rq,
		      struct http_hdr_cache *hc, uint64_t connect_timeout_ns, struct err *e)
{
	if (!rq->url || !*rq->url)
		return err_set(e, ERR_USAGE, "HTTP request without a URL");
	const char *method = http_method_of(rq);
	int fail = 0;
	struct curl_slist *hdrs = hdr_lookup(hc, rq, e, &fail);
	if (fail)
		return -1;

	CURL *h = x->h;
	curl_easy_reset(h);
	http_response_reset(&x->rs);
	x->max_body = rq->max_body ? rq->max_body : HTTP_BODY_MAX_DEFAULT;
	x->rs.body.max = x->max_body;
	x->body_overflow = 0;

	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->rs.error);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 ms_of(rq->timeout_ns ? rq->timeout_ns : HTTP_TIMEOUT_DEFAULT_NS));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 ms_of(connect_timeout_ns ? connect_timeout_ns : 10 * NS_PER_S));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "engrave/0");
	/* a proxy from the environment must not sit between us and a loopback target */
	if (!getenv("no_proxy") && !getenv("NO_PROXY"))
		curl_easy_setopt(h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");

	if (!strcmp(method, "GET") && !rq->body) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else {
		if (rq->body || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
		    !strcmp(method, "PATCH")) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		}
		if (strcmp(method, "POST"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	return 0;
}

/* Retry-After: delta-seconds (fractions accepted) or an HTTP-date. */
double http_retry_after_parse(const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		char *end;
		double s = strtod(v, &end);
		return s >= 0 ? s : -1;
	}
	time_t t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	double d = difftime(t, time(NULL));
	return d > 0 ? d : 0;
}

void http_xfer_finish(struct http_xfer *x, int curlcode, uint64_t elapsed_ns)
{
	struct http_response *rs = &x->rs;
	CURL *h = x->h;
	rs->elapsed_ns = elapsed_ns;
	rs->transport_error = curlcode;
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (curlcode != CURLE_OK) {
		if (x->body_overflow)
			snprintf(rs->error, sizeof(rs->error),
				 "response body larger than the %zu-byte limit", x->max_body);
		else if (curlcode == CURLE_FILESIZE_EXCEEDED)
			snprintf(rs->error, sizeof(rs->error),
				 "response body larger than the %zu-byte limit (Content-Length)",
				 x->max_body);
		else if (!rs->error[0])
			snprintf(rs->error, sizeof(rs->error), "%s",
				 curl_easy_strerror((CURLcode)curlcode));
		rs->status = 0;
	} else {
		rs->status = status;
		rs->error[0] = '\0';
	}
	struct curl_header *hd = NULL;
	if (status && curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &hd) == CURLHE_OK &&
	    hd && hd->value)
		rs->retry_after_s = http_retry_after_parse(hd->value);
	char *ct = NULL;
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(rs->content_type, sizeof(rs->content_type), "%s", ct);
	hd = NULL;
	if (status && curl_easy_header(h, "Date", 0, CURLH_HEADER, -1, &hd) == CURLHE_OK && hd && hd->value) {
		time_t t = curl_getdate(hd->value, NULL);
		if (t != (time_t)-1) {
			rs->date_s = (int64_t)t;
			rs->date_at_ns = (uint64_t)clock_unix_now();
		}
	}
}

/* "POST http://h/p: <error>" into e (ERR_NET) from a finished failed transfer. */
static int http_xfer_error(struct http_xfer *x, const struct http_request *rq, struct err *e)
{
	const struct http_response *rs = &x->rs;
	err_set(e, ERR_NET, "%s %s: %s (curl error %d)", http_method_of(rq), rq->url,
		rs->error[0] ? rs->error : "transfer failed", rs->transport_error);
	switch (rs->transport_error) {
	case CURLE_COULDNT_CONNECT:
		return err_hint(e, "is the server running and listening on that address?");
	case CURLE_OPERATION_TIMEDOUT:
		return err_hint(e, "the server did not answer in time; raise the timeout or check its load");
	case CURLE_COULDNT_RESOLVE_HOST:
		return err_hint(e, "check the host name in the URL");
	default:
		return -1;
	}
}

/* ----------------------------------------------------------------- client */

struct http_client {
	struct http_xfer *x;
	struct http_hdr_cache *hc;
};

int http_client_new(struct http_client **out, struct err *e)
{
	*out = NULL;
	struct http_client *c = xcalloc(1, sizeof(*c));
	c->x = http_xfer_new();
	if (!c->x) {
		free(c);
		return err_set(e, ERR_NET, "curl_easy_init failed");
	}
	c->hc = http_hdr_cache_new();
	*out = c;
	return 0;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	http_xfer_free(c->x);
	http_hdr_cache_free(c->hc);
	free(c);
}

int http_do(struct http_client *c, const struct http_request *rq, struct http_response *rs,
	    struct err *e)
{
	http_response_reset(rs);
	if (http_xfer_prepare(c->x, rq, c->hc, 0, e) < 0)
		return -1;
	/* curl writes into the transfer's own response; swap the caller's body in */
	if (!rq->max_body && rs->body.max) {
		c->x->max_body = rs->body.max;
		curl_easy_setopt(c->x->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rs->body.max);
	}
	struct http_response *xr = &c->x->rs;
	struct buf saved = xr->body;
	xr->body = rs->body;
	xr->body.max = c->x->max_body;
	mono_ns t0 = clock_mono_now();
	CURLcode rc = curl_easy_perform(c->x->h);
	http_xfer_finish(c->x, rc, clock_mono_now() - t0);
	size_t caller_max = rs->body.max;
	*rs = *xr;
	rs->body.max = caller_max;
	xr->body = saved;
	buf_reset(&xr->body);
	if (rc != CURLE_OK)
		return http_xfer_error(c->x, rq, e);
	return 0;
}

int http_url_escape(const char *in, size_t len, struct buf *out, struct err *e)
{
	static const char hex[] = "0123456789ABCDEF";
	if (buf_reserve(out, len * 3, e) < 0)
		return -1;
	char *p = out->data + out->len;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	out->len = (size_t)(p - out->data);
	return 0;
}
