/*
 * remote.c — the Bazel HTTP cache protocol: URLs, credentials, keyed
 * entries, and blob graphs moved through the retrying pump.
 *
 * Blob transfers are batches of one kind of request (HEAD, PUT or GET) run
 * through pump.h, so they share its bounded window, backoff and Retry-After
 * handling; a batch is an array of jobs, and a PUT job reads its blob from
 * the store only when it is built (memory holds one window of blobs). The
 * shape of a transfer:
 *
 *   push  HEAD the roots; for the missing ones walk the local graph
 *         (store_blob_children), sort it by level (raw blobs and chunks,
 *         then manifests, then artifacts) and de-duplicate it, HEAD all of
 *         it, then PUT what is missing one level at a time. Parents land
 *         after their children, so a parent present on the remote means its
 *         graph is whole, and a push killed at any point resends only what
 *         the HEADs find missing.
 *   pull  GET the roots the store lacks, breadth first: each body must hash
 *         to its digest (else ERR_CORRUPT, never stored); a raw blob is
 *         stored at once, a manifest or artifact is kept in memory (they are
 *         small) and its missing children form the next round; at the end
 *         the kept ones are stored deepest first, so the local store, too,
 *         never holds a parent without its children.
 *
 * Keyed entries ({prefix}/ac/<sha256 of key>) are small and go through one
 * synchronous client with retries. The server stores bytes, so each entry
 * is an envelope that carries its key and a checksum:
 *     "engrave-entry-v1\n" key "\n" value  SHA-256(everything before)
 * A GET whose envelope names another key or fails the checksum is
 * ERR_CORRUPT.
 *
 * Basic credentials are base64-encoded here (libcurl has no public base64
 * and libcrypto lives in util/hash.c only: 15 lines).
 */
#include "net/remote_int.h"
#include "engrave/err.h"
#include "engrave/http.h"
#include "engrave/log.h"
#include "engrave/pump.h"
#include "engrave/retry.h"
#include "engrave/secret.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENTRY_MAGIC "engrave-entry-v1\n"
#define ENTRY_BODY_MAX (64u << 20)

/* ---- set-up ---- */

static void base64(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

static int read_credentials(struct remote *r, struct err *e)
{
	const char *tok = getenv("ENGRAVE_REMOTE_TOKEN"), *user = getenv("ENGRAVE_REMOTE_USER");
	if (tok && *tok) {
		if (secret_env("ENGRAVE_REMOTE_TOKEN", "remote", &tok, e))
			return -1;
		if (strlen(tok) > sizeof(r->auth) - 8)
			return err_set(e, ERR_USAGE, "ENGRAVE_REMOTE_TOKEN is longer than %zu bytes", sizeof(r->auth) - 8);
		snprintf(r->auth, sizeof(r->auth), "Bearer %s", tok);
	} else if (user && *user) {
		const char *pw;
		if (secret_env("ENGRAVE_REMOTE_PASSWORD", "remote (ENGRAVE_REMOTE_USER is set)", &pw, e))
			return -1;
		char pair[512];
		int n = snprintf(pair, sizeof(pair), "%s:%s", user, pw);
		if (n < 0 || (size_t)n >= sizeof(pair))
			return err_set(e, ERR_USAGE, "ENGRAVE_REMOTE_USER and _PASSWORD are longer than %zu bytes",
				       sizeof(pair) - 2);
		char enc[700];
		base64((const unsigned char *)pair, (size_t)n, enc);
		snprintf(r->auth, sizeof(r->auth), "Basic %s", enc);
		secret_register(enc);
	} else {
		return 0;
	}
	r->hdr[0] = (struct http_header){ "Authorization", r->auth };
	r->n_hdr = 1;
	return 0;
}

int remote_open(const char *url, struct remote **out, struct err *e)
{
	*out = NULL;
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return err_set(e, ERR_USAGE, "remote URL '%s' is not http:// or https://", url);
	const char *host = strstr(url, "://") + 3;
	const char *at = strchr(host, '@'), *slash = strchr(host, '/');
	if (at && (!slash || at < slash)) {
		err_set(e, ERR_USAGE, "remote URL %s holds credentials", url);
		return err_hint(e, "give them in ENGRAVE_REMOTE_TOKEN or ENGRAVE_REMOTE_USER/ENGRAVE_REMOTE_PASSWORD");
	}
	struct remote *r = xcalloc(1, sizeof(*r));
	r->url = xstrdup(url);
	size_t n = strlen(r->url);
	while (n > 0 && r->url[n - 1] == '/')
		r->url[--n] = '\0';
	r->max_in_flight = REMOTE_MAX_IN_FLIGHT_DEFAULT;
	if (read_credentials(r, e) || http_client_new(&r->client, e)) {
		remote_close(r);
		return -1;
	}
	*out = r;
	return 0;
}

void remote_close(struct remote *r)
{
	if (!r)
		return;
	http_client_free(r->client);
	free(r->url);
	free(r);
}

const char *remote_url(const struct remote *r) { return r->url; }
const struct remote_stats *remote_get_stats(const struct remote *r) { return &r->st; }
void remote_set_progress(struct remote *r, int on) { r->progress = on; }

void remote_set_max_in_flight(struct remote *r, int n)
{
	r->max_in_flight = n < 1 ? 1 : n > 256 ? 256 : n;
}

int remote_auth_error(const struct remote *r, const char *method, const char *url, long status, struct err *e)
{
	err_set(e, ERR_NET, "remote %s %s: %ld %s", method, url, status,
		status == 401 ? "Unauthorized (the remote wants credentials)" : "Forbidden");
	if (r->n_hdr)
		return err_hint(e, "the credentials in ENGRAVE_REMOTE_TOKEN or ENGRAVE_REMOTE_USER/_PASSWORD were "
				   "refused; check them");
	return err_hint(e, "export ENGRAVE_REMOTE_TOKEN (bearer) or ENGRAVE_REMOTE_USER and "
			   "ENGRAVE_REMOTE_PASSWORD (basic)");
}

int remote_status_error(const char *method, const char *url, const struct http_response *rs, struct err *e)
{
	if (rs->status == 0) {
		err_set(e, ERR_NET, "remote %s %s: %s", method, url, rs->error);
		return err_hint(e, "is the remote store's server running at that URL?");
	}
	err_set(e, ERR_NET, "remote %s %s: HTTP %ld", method, url, rs->status);
	if (rs->status == 405 || rs->status == 501)
		return err_hint(e, "the server does not take %s there: a Bazel HTTP cache must accept PUT "
				   "(nginx: dav_methods PUT; create_full_put_path on;)", method);
	return -1;
}

/* ---- keyed entries ---- */

static void entry_url(const struct remote *r, const char *key, struct buf *url)
{
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1];
	hash_bytes(key, strlen(key), &d);
	digest_to_hex(&d, hex);
	buf_reset(url);
	buf_printf(url, NULL, "%s/ac/%s", r->url, hex);
}

/* One request with retries; 0 when a response arrived (any status). */
static int sync_do(struct remote *r, const char *method, const char *url, const void *body, size_t len,
		   size_t max_body, struct http_response *rs, struct err *e)
{
	struct http_request rq = { method, url, r->hdr, r->n_hdr, body, len, 0, max_body };
	struct retry_policy pol = RETRY_POLICY_DEFAULT;
	if (http_do_retry(r->client, &rq, &pol, rs, NULL, e))
		return -1;
	if (rs->status == 401 || rs->status == 403)
		return remote_auth_error(r, method, url, rs->status, e);
	return 0;
}

int remote_entry_put(struct remote *r, const char *key, const void *value, size_t len, struct err *e)
{
	struct buf url, env;
	buf_init(&url, 0);
	buf_init(&env, 0);
	struct http_response rs;
	http_response_init(&rs);
	struct digest sum;
	int rc = buf_printf(&env, e, "%s%s\n", ENTRY_MAGIC, key) || buf_append(&env, value, len, e);
	if (!rc) {
		hash_bytes(env.data, env.len, &sum);
		rc = buf_append(&env, sum.b, DIGEST_LEN, e);
	}
	entry_url(r, key, &url);
	if (!rc)
		rc = sync_do(r, "PUT", url.data, env.data, env.len, 0, &rs, e);
	if (!rc && (rs.status < 200 || rs.status > 299))
		rc = remote_status_error("PUT", url.data, &rs, e);
	if (!rc) {
		r->st.puts++;
		r->st.entries++;
	}
	http_response_release(&rs);
	buf_release(&url);
	buf_release(&env);
	return rc ? err_prefix(e, "entry %s", key) : 0;
}

/* Check an envelope for `key`; the value's offset and length. */
static int entry_open(const char *key, const char *url, const struct buf *b, size_t *off, size_t *len,
		      struct err *e)
{
	size_t mlen = strlen(ENTRY_MAGIC), klen = strlen(key);
	struct digest sum;
	if (b->len < mlen + klen + 1 + DIGEST_LEN || memcmp(b->data, ENTRY_MAGIC, mlen) ||
	    memcmp(b->data + mlen, key, klen) || b->data[mlen + klen] != '\n')
		return err_set(e, ERR_CORRUPT, "remote entry %s at %s is not that entry (another key or not an engrave entry)",
			       key, url);
	hash_bytes(b->data, b->len - DIGEST_LEN, &sum);
	if (memcmp(sum.b, b->data + b->len - DIGEST_LEN, DIGEST_LEN))
		return err_set(e, ERR_CORRUPT, "remote entry %s at %s fails its checksum (damaged on the server)", key,
			       url);
	*off = mlen + klen + 1;
	*len = b->len - DIGEST_LEN - *off;
	return 0;
}

int remote_entry_get(struct remote *r, const char *key, struct buf *out, struct err *e)
{
	struct buf url;
	buf_init(&url, 0);
	entry_url(r, key, &url);
	struct http_response rs;
	http_response_init(&rs);
	int rc = sync_do(r, "GET", url.data, NULL, 0, ENTRY_BODY_MAX, &rs, e);
	if (!rc && rs.status == 404) {
		rc = 0;
		r->st.gets++;
		goto out;
	}
	if (!rc && rs.status != 200)
		rc = remote_status_error("GET", url.data, &rs, e);
	size_t off = 0, len = 0;
	if (!rc)
		rc = entry_open(key, url.data, &rs.body, &off, &len, e);
	if (!rc) {
		buf_reset(out);
		rc = buf_append(out, rs.body.data + off, len, e);
	}
	if (!rc) {
		r->st.gets++;
		r->st.entries++;
		rc = 1;
	}
out:
	http_response_release(&rs);
	buf_release(&url);
	return rc;
}

/* ---- clock ---- */

int remote_clock_offset(struct remote *r, int64_t *offset_ns, uint64_t *uncertainty_ns, struct err *e)
{
	struct buf url;
	buf_init(&url, 0);
	buf_printf(&url, NULL, "%s/ac/%064d", r->url, 0);
	struct http_response rs;
	http_response_init(&rs);
	int64_t first = 0, best_lo = 0, best_hi = 0;
	int rc = 0;
	/* The Date second flips between two answers: the flip happened between the
	 * first one's send and the second one's receipt. */
	unix_ns prev_sent = 0;
	for (int i = 0; i < 200 && !rc; i++) {
		unix_ns sent = clock_unix_now();
		rc = sync_do(r, "HEAD", url.data, NULL, 0, 0, &rs, e);
		unix_ns got = clock_unix_now();
		if (rc)
			break;
		if (!rs.date_s) {
			rc = err_set(e, ERR_NET, "remote HEAD %s: no Date header in the answer", url.data);
			break;
		}
		if (i == 0) {
			first = rs.date_s;
			best_lo = (rs.date_s * (int64_t)NS_PER_S) - got;
			best_hi = (rs.date_s + 1) * (int64_t)NS_PER_S - sent;
		} else if (rs.date_s != first) {
			/* remote time rs.date_s*1e9 happened within [prev_sent, got] */
			best_lo = rs.date_s * (int64_t)NS_PER_S - got;
			best_hi = rs.date_s * (int64_t)NS_PER_S - prev_sent;
			break;
		}
		prev_sent = sent;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	http_response_release(&rs);
	buf_release(&url);
	if (rc)
		return -1;
	*offset_ns = best_lo + (best_hi - best_lo) / 2;
	*uncertainty_ns = (uint64_t)(best_hi - best_lo) / 2;
	return 0;
}
