/*
 * remote.h — a shared remote store over the Bazel HTTP cache protocol.
 *
 * Any server that speaks the protocol works: nginx with WebDAV PUT,
 * bazel-remote, an S3 bucket behind such a gateway. Two namespaces under
 * the remote's URL prefix:
 *
 *   {prefix}/cas/<sha256>   one blob of the store, under its own digest
 *                           (chunks, manifests, artifacts, spec blobs);
 *   {prefix}/ac/<sha256>    a keyed entry, at the SHA-256 of its key:
 *                           "action/<hex>" (an action-cache value),
 *                           "run/<id>" (a run record as stored),
 *                           "ref/<name>" (a ref's value),
 *                           "group/<id>/..." (shard bookkeeping, shard.h).
 *
 * Every GET is verified before anything uses it: a blob must hash to its
 * digest, an ac entry carries its own key and a SHA-256 of its bytes
 * (remote.c), so a damaged or misplaced file on the server is ERR_CORRUPT.
 * Uploads are idempotent and resumable: blobs go up children first (chunks,
 * then manifests, then artifacts, then the entries naming them), and a
 * HEAD comes before every PUT, so a push stopped at any point sends only
 * what is still missing when it is run again.
 *
 * Credentials come from the environment only: ENGRAVE_REMOTE_TOKEN (sent as
 * "Authorization: Bearer"), or ENGRAVE_REMOTE_USER and
 * ENGRAVE_REMOTE_PASSWORD (HTTP basic). A 401 or 403 is ERR_NET naming
 * the URL and those variables.
 *
 * Refs: the protocol has no compare-and-set (nginx's WebDAV PUT ignores
 * If-Match), so the rule is "last writer wins": remote_ref_set returns the
 * value it replaced so the caller can print it.
 *
 * Errors: ERR_NET (unreachable, 5xx after retries, 401/403), ERR_USAGE (a
 * bad URL), ERR_MISSING (a blob or entry the remote does not hold),
 * ERR_CORRUPT (a GET that does not verify). Not thread-safe.
 */
#ifndef ENGRAVE_REMOTE_H
#define ENGRAVE_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/buf.h"
#include "engrave/hash.h"

struct err;
struct store;

struct remote;

struct remote_stats {
	uint64_t heads, gets, puts;      /* requests answered */
	uint64_t present;                /* blobs the receiving side already held */
	uint64_t sent, sent_bytes;       /* blobs uploaded */
	uint64_t fetched, fetched_bytes; /* blobs downloaded and verified */
	uint64_t entries;                /* ac entries written or read */
};

#define REMOTE_MAX_IN_FLIGHT_DEFAULT 8

/* `url` is http(s)://host[:port][/prefix]; it must not hold credentials.
 * Reads the credential variables. Caller frees with remote_close. */
int remote_open(const char *url, struct remote **out, struct err *e);
void remote_close(struct remote *r); /* NULL-safe */
const char *remote_url(const struct remote *r);
void remote_set_max_in_flight(struct remote *r, int n);   /* 1..256 */
void remote_set_progress(struct remote *r, int on);       /* progress lines on stderr */
const struct remote_stats *remote_get_stats(const struct remote *r);

/* ---- blobs ---- */
/* Upload what the remote lacks of the graphs under roots (artifacts ->
 * objects -> chunks): HEAD first, children before parents. */
int remote_push_blobs(struct remote *r, struct store *s, const struct digest *roots, size_t n, struct err *e);
/* Download what the local store lacks of the graphs under roots, each blob
 * verified, children stored before their parents. */
int remote_pull_blobs(struct remote *r, struct store *s, const struct digest *roots, size_t n, struct err *e);

/* ---- keyed entries ---- */
/* 1 found (value into `out` after buf_reset), 0 absent, -1 error. */
int remote_entry_get(struct remote *r, const char *key, struct buf *out, struct err *e);
int remote_entry_put(struct remote *r, const char *key, const void *value, size_t len, struct err *e);

/* ---- runs, refs, actions (remote_sync.c) ---- */
/* A run: its outputs (and spec blob), the action-cache entries of its
 * steps, then its record. */
int remote_push_run(struct remote *r, struct store *s, const char *run_id, struct err *e);
int remote_pull_run(struct remote *r, struct store *s, const char *run_id, struct err *e);
/* Last writer wins: *prev gets the value replaced ("" when there was none). */
int remote_ref_set(struct remote *r, const char *name, const char *value, char *prev, size_t cap,
		   struct err *e);
/* 1 found, 0 absent, -1 error. */
int remote_ref_get(struct remote *r, const char *name, char *value, size_t cap, struct err *e);
/* An action-cache entry and its outputs into the local store: 1 hit, 0 miss. */
int remote_fetch_action(struct remote *r, struct store *s, const struct digest *action, struct err *e);
/* The local entry for `action` and its outputs up to the remote. */
int remote_push_action(struct remote *r, struct store *s, const struct digest *action, struct err *e);

/*
 * The remote's clock against ours, from its Date header: HEADs until the
 * Date's second changes (at most ~1.5 s), so the offset is known to about
 * half a round trip, not to a second. *offset_ns = remote - local;
 * *uncertainty_ns bounds the error.
 */
int remote_clock_offset(struct remote *r, int64_t *offset_ns, uint64_t *uncertainty_ns, struct err *e);

#endif
