/*
 * target.h — one interface to every database engrave loads and measures.
 *
 * A `struct target` is an open connection to one database through one driver
 * (like wrk2's `struct sock` or git's odb sources): engram (the HTTP
 * contract of reference/engram.md), chroma (a real Chroma server, API v2)
 * and embedded (an in-process exact index, no server). target_open() picks
 * the driver by name; every other call goes through the driver's function
 * table, so the steps above never know which database they talk to.
 *
 * Drivers own their facts: each is one `struct target_driver` (name, default
 * URL, how its namespace is named, limits, capabilities, dimension rule,
 * the spec keys it takes, ...) in the table `target_drivers[]`. The spec
 * layer knows none of them: target_spec_load_*() loads a spec and resolves
 * its target section against the table (target_spec_resolve), so `spec
 * check` refuses what the driver cannot do before anything runs, and steps
 * ask the open target (target_space, target_can, target_content_max, ...)
 * instead of comparing driver names.
 *
 * Two ways to use it:
 *   - synchronous operations (health, count, store_batch, recall, search,
 *     fetch_embeddings, get_vectors, reset), each one request (or a short
 *     sequence) with retries, on the target's own keep-alive connection;
 *   - the hot path for the load engine: target_build_*() fills a
 *     `struct target_req` (an http_request plus the url/body storage it
 *     points into) that the caller hands to engine_submit(); the completed
 *     response goes to target_parse_*(). In-process drivers have no HTTP:
 *     target_has_http() is 0 and the caller uses target_exec_*() instead.
 *
 * Threads: the synchronous calls use one HTTP client and must not run
 * concurrently on the same target. build/parse functions do not touch the
 * connection and may be called from any thread. exec_* (embedded) is safe
 * for one writer and many readers at once.
 *
 * Secrets: cfg.bearer_env names an environment variable; its value is read
 * once in target_open() and kept only in memory (never in a spec, a store
 * or an error message).
 */
#ifndef ENGRAVE_TARGET_H
#define ENGRAVE_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include "engrave/buf.h"
#include "engrave/clock.h"
#include "engrave/engine.h"
#include "engrave/http.h"

struct envlist;
struct err;
struct spec;
struct target_ops;

#define TARGET_ID_MAX 128     /* ids (client and server) including the NUL */
#define TARGET_REASON_MAX 256 /* per-record rejection reason */
#define TARGET_DIM_DEFAULT 768

/* ---- drivers: what each one is and can do ------------------------------- */

/* Capabilities (struct target_driver.caps). */
#define TARGET_CAP_TEXT_SEARCH 1u /* search(text, k) */
#define TARGET_CAP_RESET 2u       /* remove everything it holds */
#define TARGET_CAP_COUNT 4u       /* how many vectors it holds */
#define TARGET_CAP_READ_BY_ID 8u  /* vectors back by id (not by paging everything) */
#define TARGET_CAP_PERSISTENT 16u /* what it holds outlives this process (a server, not in-process) */
#define TARGET_CAP_EF_SEARCH 32u  /* its search breadth can change in place (target_set_ef_search) */
#define TARGET_CAP_DELETE 64u     /* removes records by id (target_delete): runbook delete/replace */

struct target_driver {
	const char *name;          /* the spec's target.driver */
	const char *default_url;   /* NULL: in-process, takes no url */
	const char *ns_key;        /* the spec key naming its namespace ("space", "collection"); NULL: none */
	const char *ns_default;    /* its default ("default", "engrave") */
	/* 0 if the database accepts namespace `ns`, else -1 with the rule in `why`. NULL: any. */
	int (*ns_check)(const char *ns, char *why, size_t cap);
	size_t id_max;             /* longest record id, bytes */
	size_t content_max;        /* longest content sent, bytes; 0: no limit */
	unsigned caps;             /* TARGET_CAP_* */
	uint32_t dim_min, dim_max; /* vector dimensions it takes */
	/* Why it may acknowledge a record it does not hold (ingest's hint); NULL: no known reason. */
	const char *unheld_hint;
	/* Optional target.* keys it takes, relative to target ("url", "auth.*"
	 * = the auth section and every key in it), then NULL. */
	const char *const *spec_keys;
	/* The confidence sent with a corpus record of `len` content bytes; NULL: the server's default. */
	float (*corpus_confidence)(size_t len);
	const struct target_ops *ops; /* the implementation (src/targets/ only) */
};

/* Every driver, then NULL. The one place the driver names are listed. */
extern const struct target_driver *const target_drivers[];
#define TARGET_DRIVERS_MAX 16

/* The driver called `name`, or NULL. */
const struct target_driver *target_driver_find(const char *name);
/* The names of target_drivers[] into out[], then NULL (cap >= TARGET_DRIVERS_MAX + 1 holds all). */
void target_driver_names(const char **out, size_t cap);

/* From the spec's `target:` section. Strings are copied by target_open. */
struct target_config {
	const char *driver;      /* a target_drivers[] name */
	const char *url;         /* base URL, e.g. "http://127.0.0.1:7432"; unused in-process */
	const char *space;       /* the driver's namespace (memory space, collection); NULL = "default" */
	const char *bearer_env;  /* NAME of the env var holding the token; NULL = no auth */
	uint64_t timeout_ns;     /* per request; 0 = 30 s */
	int retries;             /* attempts for synchronous calls (incl. the first); 0 = 3 */
	uint32_t dim;            /* vector dimension; 0 = 768 */
	const char *metric;      /* "cosine" (default) | "l2" | "ip": chroma hnsw space, embedded scan */
	int hnsw_ef_construction; /* chroma; 0 = server default */
	int hnsw_max_neighbors;   /* chroma; 0 = server default */
	int hnsw_ef_search;       /* chroma; 0 = server default */
	int batch_size;          /* records per store request; 0 = driver maximum */
	const char *index_type;  /* pgvector: "hnsw" (NULL), "ivfflat" or "none" */
	int ivf_lists;           /* pgvector ivfflat; 0 = 100 */
	int ivf_probes;          /* pgvector ivfflat.probes per session; 0 = 10 */
	int index_before_load;   /* pgvector: build the index before the load, not after it */
};

/* One vector to store. Borrowed by every call that takes it. */
struct target_record {
	const char *id;          /* client-chosen, stable: retries are idempotent */
	const float *vec;        /* cfg.dim floats */
	const char *content;     /* text (engram requires non-empty; NULL = the id is sent) */
	float confidence;        /* engram encoding confidence; < 0 = server default (0.7) */
	unix_ns timestamp;       /* engram "timestamp" (RFC 3339); 0 = server's now */
};

enum target_store_status {
	TARGET_STORED = 0,   /* the server accepted it (engram: 201, maybe deduplicated away) */
	TARGET_REJECTED,     /* the server refused this record (4xx): do not retry */
	TARGET_FAILED,       /* transport error or 5xx/429: retryable */
};

struct target_store_result {
	enum target_store_status status;
	int http_status;                 /* 0 for transport errors and in-process drivers */
	char server_id[TARGET_ID_MAX];   /* id the server reports (engram memory_id), else "" */
	char reason[TARGET_REASON_MAX];  /* why, when not stored */
};

/* A search or recall hit. `score`: higher is better (engram similarity_score;
 * chroma/embedded: 1 - cosine distance, or -L2 distance for metric l2). */
struct target_hit {
	char id[TARGET_ID_MAX];
	float score;
};

struct target_hits {
	struct target_hit *v;
	size_t n, cap;
};

void target_hits_init(struct target_hits *h);
void target_hits_release(struct target_hits *h); /* NULL-safe */

/* (id, vector) pairs: a page of fetch_embeddings or the answer of get_vectors. */
struct target_vectors {
	uint32_t dim;
	size_t n, cap;
	char **ids;          /* n strings, owned */
	float *vecs;         /* n * dim floats, row i belongs to ids[i] */
	unsigned char *found; /* get_vectors only: 1 when ids[i] exists on the server */
};

void target_vectors_init(struct target_vectors *v, uint32_t dim);
void target_vectors_release(struct target_vectors *v); /* NULL-safe */

/* One prepared hot-path request. `http` points into url/body/hdr (and into
 * the target's space and auth strings): keep both alive until the response
 * is parsed. Reusable: build again after parsing. */
struct target_req {
	struct http_request http;
	struct buf url;
	struct buf body;
	struct http_header hdr[4];
	size_t n_records;    /* store: how many records this request carries */
	int k;               /* recall/search: results asked for */
	float threshold;     /* recall: minimum score kept by the parser */
};

void target_req_init(struct target_req *r);
void target_req_release(struct target_req *r); /* NULL-safe */

struct target_info {
	char driver[16];
	char version[64];    /* server version ("0.1.0", "1.0.0"), engrave's for embedded */
	uint64_t count;      /* vectors the target holds now (engram: after dedup) */
	uint32_t dim;
};

struct target;

/*
 * Open `cfg.driver`. Unknown drivers fail with ERR_SPEC and a suggestion;
 * a missing bearer env var fails with ERR_USAGE naming the variable. No
 * request is sent: call target_health() to check the server is there.
 * Caller frees with target_close.
 */
int target_open(const struct target_config *cfg, struct target **out, struct err *e);
void target_close(struct target *t); /* NULL-safe */

const char *target_driver(const struct target *t);
const struct target_driver *target_driver_of(const struct target *t);
const char *target_url(const struct target *t);
/* The namespace the target's records go to (memory space, collection). */
const char *target_space(const struct target *t);
uint32_t target_dim(const struct target *t);
/* 1 if the driver has every capability in `caps` (TARGET_CAP_*). */
int target_can(const struct target *t, unsigned caps);
/* Most content bytes to send with one record (SIZE_MAX: no limit). */
size_t target_content_max(const struct target *t);
/* Confidence for a corpus record with `len` content bytes; < 0 = the server's default. */
float target_corpus_confidence(const struct target *t, size_t len);
/* Why a target may answer success for a record it does not hold: the
 * driver's known reasons, else a generic sentence. */
const char *target_unheld_hint(const struct target *t);
/* Most records one store request may carry (engram 1, chroma the server's
 * max_batch_size or cfg.batch_size, embedded unlimited = SIZE_MAX). */
size_t target_max_batch(const struct target *t);
/* 1: use target_build_* / target_parse_*; 0: use target_exec_*. */
int target_has_http(const struct target *t);

/* Is the server up? `version` (may be NULL) receives its version string. */
int target_health(struct target *t, char *version, size_t cap, struct err *e);
int target_count(struct target *t, uint64_t *n, struct err *e);
int target_describe(struct target *t, struct target_info *info, struct err *e);
/*
 * The target's version and configuration as run environment keys, each
 * prefixed "target.": driver, namespace and dim from the config, then what
 * the driver's describe_env hook reads (chroma: version, the collection's
 * dimension and configuration_json flattened, hnsw.space, hnsw.ef_search,
 * ...; engram: version, service, health; embedded: its index parameters).
 * Never fails and never waits long (one attempt, at most 5 s per request):
 * what cannot be read is "target.describe" = "unavailable: <why>".
 */
void target_describe_env(struct target *t, struct envlist *out);

/*
 * Store n records. Returns 0 when every record has a result in res[0..n)
 * (some may be REJECTED or FAILED: check them); -1 only when the target
 * cannot be used at all (unreachable after retries, auth refused). Engram
 * has no batch endpoint: one request per record.
 */
int target_store_batch(struct target *t, const struct target_record *recs, size_t n,
		       struct target_store_result *res, struct err *e);
/* Top-k by vector; hits with score < threshold are dropped (engram semantics:
 * score = max(0, cosine)). `out` is emptied first. */
int target_recall(struct target *t, const float *vec, int k, float threshold,
		  struct target_hits *out, struct err *e);
/* Text search (engram /search; chroma: ERR_UNSUPPORTED; embedded: substring). */
int target_search(struct target *t, const char *text, int k, struct target_hits *out,
		  struct err *e);

/*
 * One page of stored vectors, in the server's (possibly unstable) order:
 * `out` is emptied first; fewer than `limit` rows means the end. Engram pages
 * its hot tier (limit clamped to 1000 by the server).
 */
int target_fetch_embeddings(struct target *t, uint64_t offset, uint32_t limit,
			    struct target_vectors *out, struct err *e);
/* Every stored vector, paged and de-duplicated by id, at most `max` (0 = no limit).
 * A full page holding only ids already read (a server that ignores offset)
 * is ERR_NET, not an endless loop. */
int target_fetch_all(struct target *t, uint64_t max, struct target_vectors *out, struct err *e);
/*
 * Read back the vectors of `ids` for verification: out->n == n, row i is
 * ids[i], found[i] says whether it exists. Engram has no read-back by id: it
 * pages its whole hot tier (fine up to its 100K cap).
 */
int target_get_vectors(struct target *t, const char *const *ids, size_t n,
		       struct target_vectors *out, struct err *e);
/*
 * Which of `ids` the target holds: found[i] = 1 or 0. By id where the
 * driver can (chroma asks for ids only, the embedded index looks them up),
 * else by paging everything once (engram). Used to tell records already
 * present from records to send, and to find acknowledged records a target
 * lost.
 */
int target_has_ids(struct target *t, const char *const *ids, size_t n, unsigned char *found, struct err *e);
/* Remove everything (chroma: delete and recreate the collection; embedded:
 * clear). Engram cannot delete: ERR_UNSUPPORTED with a hint. */
int target_reset(struct target *t, struct err *e);
/* Remove the records `ids[0..n)` (ids it does not hold are ignored). 0 when
 * the target acknowledged the removal; ERR_UNSUPPORTED where the driver has
 * no delete (TARGET_CAP_DELETE says which do: engram has none). */
int target_delete(struct target *t, const char *const *ids, size_t n, struct err *e);
/* When a load is: the index of drivers that build one separately (pgvector)
 * is built at one of these moments, as its configuration says. */
enum target_load_moment { TARGET_BEFORE_LOAD, TARGET_AFTER_LOAD };
/* Build the target's index now if its configuration says so for `when`:
 * *seconds is how long it took, or -1 when there was nothing to build then
 * (another moment, no separate index, or a driver without one: never an error). */
int target_build_index(struct target *t, enum target_load_moment when, double *seconds, struct err *e);
/* Set the index's search-time breadth (HNSW ef_search) in place; ERR_UNSUPPORTED
 * where the driver has none (TARGET_CAP_EF_SEARCH says which do). */
int target_set_ef_search(struct target *t, int ef, struct err *e);

/* ---- hot path over HTTP (target_has_http() == 1) ---------------------- */

/* n <= target_max_batch(t). */
int target_build_store(struct target *t, const struct target_record *recs, size_t n,
		       struct target_req *rq, struct err *e);
/* Fills res[0..rq->n_records). 0 unless the arguments are wrong or the
 * server refused the key (401, 403): then every record is FAILED (none was
 * rejected) and -1 ERR_NET says so, with a hint naming auth.bearer_env. A
 * transport failure (rs->status == 0) marks every record FAILED. */
int target_parse_store(struct target *t, const struct target_req *rq,
		       const struct http_response *rs, struct target_store_result *res,
		       struct err *e);
int target_build_recall(struct target *t, const float *vec, int k, float threshold,
			struct target_req *rq, struct err *e);
/* 0 with hits; -1 (ERR_NET, message "engram GET url: 400 CODE: message") on
 * a non-2xx status, a transport error or an undecodable body. */
int target_parse_recall(struct target *t, const struct target_req *rq,
			const struct http_response *rs, struct target_hits *out, struct err *e);
int target_build_search(struct target *t, const char *text, int k, struct target_req *rq,
			struct err *e);
int target_parse_search(struct target *t, const struct target_req *rq,
			const struct http_response *rs, struct target_hits *out, struct err *e);

/* ---- hot path in process (target_has_http() == 0) --------------------- */

int target_exec_store(struct target *t, const struct target_record *recs, size_t n,
		      struct target_store_result *res, struct err *e);
int target_exec_recall(struct target *t, const float *vec, int k, float threshold,
		       struct target_hits *out, struct err *e);
int target_exec_search(struct target *t, const char *text, int k, struct target_hits *out,
		       struct err *e);

/* ---- the async hot path: a driver's own connections in the engine's loop ----
 *
 * A driver that speaks its database's protocol through a client library
 * (pgvector over libpq) cannot hand the engine an http_request; instead it
 * puts its non-blocking connections into the engine's event loop
 * (engine_watch) and completes each operation through an engine_done_fn,
 * with an http_response it makes: status 200/201 and a body its
 * target_parse_recall / target_parse_store read back, an error status and
 * the server's words, or status 0 with a CURLcode-like transport_error
 * (timeout 28, connection lost 56, cannot connect 7). `sent` is when the
 * operation was written to the socket, `done` when its result was read.
 * target_has_async() says whether the load test should use this path (it
 * then prefers it over exec_*). One target_async belongs to one engine
 * (one thread). */
struct target_async;
#define TARGET_ASYNC_CONNECTIONS 32 /* the load test's connections: min(max_in_flight, this) */
int target_has_async(const struct target *t);
/* Open `connections` connections attached to `en` (0: min(max_in_flight,
 * TARGET_ASYNC_CONNECTIONS)); blocking while it connects and prepares;
 * fewer when the server refuses more, with a warning. */
int target_async_open(struct target *t, struct engine *en, int max_in_flight, int connections,
		      struct target_async **out, struct err *e);
/* Send one record / one recall now; fn(user, ...) runs once, inside engine_poll. */
int target_async_store(struct target_async *a, const struct target_record *rec, engine_done_fn fn, void *user,
		       struct err *e);
int target_async_recall(struct target_async *a, const float *vec, int k, float threshold, engine_done_fn fn,
			void *user, struct err *e);
void target_async_close(struct target_async *a); /* NULL-safe; fails what is in flight without callbacks */

/* ---- specs: the target section against the driver table ---------------- */

/*
 * Resolve a loaded spec's target section (a no-op without one or when done):
 *   - the driver name must be in target_drivers[] (else ERR_SPEC at
 *     target.driver with a suggestion);
 *   - a target.* key the driver does not take is refused ("only used with
 *     driver ..."), and every such key is left out of the canonical form;
 *   - the driver's defaults are filled in: url, namespace (space/collection);
 *   - what the spec determines must be within what the driver can do: the
 *     namespace name, the vector dimension, text searches in the load mix,
 *     the length of the ids it makes.
 * Errors are ERR_SPEC "file:line:col: key: reason" with a hint.
 */
int target_spec_resolve(struct spec *sp, struct err *e);
/* spec_load_file/_string + target_spec_resolve: how every program loads a
 * spec. *out is set only on success; free with spec_free(). */
int target_spec_load_file(const char *path, struct spec **out, struct err *e);
int target_spec_load_string(const char *text, size_t len, const char *name_for_errors,
			    struct spec **out, struct err *e);
/* target_spec_load_file with --set overrides (spec_load_file_sets): the
 * driver's rules see the effective spec, and blame a key a --set wrote as
 * "--set KEY: ...". */
int target_spec_load_file_sets(const char *path, const char *const *sets, size_t n_sets, struct spec **out,
			       struct err *e);
/* The spec text of a stored run: resolved like target_spec_load_string but
 * without the capability checks (a rule added since never hides an old run). */
int target_spec_load_stored(const char *text, size_t len, const char *run_id, struct spec **out, struct err *e);
/*
 * The memory the spec's steps would hold at once, against `ram` bytes: the
 * first step that cannot fit is ERR_SPEC "file:line:col: key: the queries
 * step would hold at least 2.8 TiB in memory (...), more than the 23.4 GiB
 * this machine has", blaming the key of its largest part, with a hint. A
 * lower bound from the spec's counts (target_mem.c says what is counted).
 * target_spec_load_file/_string check it against target_machine_ram();
 * target_spec_load_stored does not.
 */
int target_spec_check_memory(const struct spec *sp, uint64_t ram, struct err *e);
/* The machine's physical memory in bytes (MemTotal); UINT64_MAX if unknown. */
uint64_t target_machine_ram(void);
/* The driver-dependent namespace of a resolved spec (its target.space or
 * target.collection), or NULL when the driver has none. */
const char *target_spec_namespace(const struct spec *sp);
/* spec_keys_doc with the drivers' facts: names, per-driver defaults and
 * which drivers take each target key (`engrave spec keys`, docs/spec.md). */
int target_spec_keys_doc(struct buf *out, int markdown, struct err *e);

#endif
