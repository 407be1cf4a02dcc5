/*
 * store.h — the artifact store: one LMDB environment holding content-
 * addressed blobs (CAS), chunked objects, typed artifacts, the action cache,
 * run records, refs and per-run journals (DESIGN.md section 3).
 *
 * Sub-databases: "cas" (digest -> bytes), "born" (digest -> last put time,
 * for gc's grace period), "ac" (action key -> value), "runs" (run id ->
 * msgpack record), "refs" (name -> value), "journal" (run id \0 stream \0 key
 * -> value).
 *
 * Threads and processes: a `struct store` may be shared by threads (the env
 * is opened with MDB_NOTLS); LMDB serialises writers across threads and
 * processes. Every call opens and ends its own short transaction; no
 * transaction is ever held across calls, so results are copied out:
 * values returned in `struct buf` or structs are the caller's. Iterators
 * (ref_list, run_list, journal_iter) read a page of entries, end the read
 * transaction, then call the callback, so a callback may call any store
 * function, including writes. A callback returning non-zero stops the
 * iteration and that value is returned.
 *
 * The map starts at 64 GiB (sparse; $ENGRAVE_STORE_MAPSIZE overrides, in
 * bytes), or at what `ulimit -v` leaves, and doubles when a write hits
 * MDB_MAP_FULL (within that limit): every write is a replayable list of
 * puts, aborted, grown and replayed. A map grown by another process
 * (MDB_MAP_RESIZED) is adopted. store_open checks data.mdb's meta pages
 * before LMDB maps it: a truncated or damaged file is ERR_CORRUPT "store
 * damaged: ...", and nothing non-empty is ever initialised as a new store.
 *
 * Errors: ERR_MISSING (absent key), ERR_CORRUPT (digest or checksum
 * mismatch, bad encoding, MDB_CORRUPTED, a damaged data file), ERR_NOSPACE
 * (ENOSPC, map at its limit), ERR_STORE (other LMDB failures), ERR_IO (cannot
 * create the directory), ERR_BUSY (a run's lease is held by another process).
 * Messages name the sub-database, the key and mdb_strerror().
 *
 * msgpack-c is used only inside src/store/; encodings are canonical (map keys
 * sorted bytewise, smallest integer encodings, floats always float64).
 */
#ifndef ENGRAVE_STORE_H
#define ENGRAVE_STORE_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "engrave/buf.h"
#include "engrave/clock.h"
#include "engrave/envlist.h"
#include "engrave/err.h"
#include "engrave/hash.h"

/* ---- environment -------------------------------------------------------- */

struct store; /* one LMDB environment */

#define STORE_RDONLY 1

/*
 * Durability: commits are not fsynced one by one (MDB_NOSYNC); a killed
 * process loses nothing it committed, and store_sync() — called by run_put
 * and store_close — flushes everything to disk. ENGRAVE_STORE_SYNC=1 makes
 * every commit synchronous.
 */
/* Opens (creating `dir` if absent, unless STORE_RDONLY). Caller closes. */
int store_open(const char *dir, int flags, struct store **out, struct err *e);
void store_close(struct store *s); /* NULL-safe; flushes to disk first */
int store_sync(struct store *s, struct err *e); /* flush committed data to disk (fsync) */
const char *store_path(const struct store *s);

/* ---- CAS blobs: key = SHA-256 of the bytes ------------------------------ */

/* Hashes, then writes (a no-op write when present). `out` may be NULL. */
int cas_put(struct store *s, const void *data, size_t len, struct digest *out, struct err *e);
/* Appends the bytes to `out` (after buf_reset). ERR_MISSING if absent,
 * ERR_CORRUPT if `verify` and the bytes do not hash to `d`. */
int cas_get(struct store *s, const struct digest *d, struct buf *out, int verify, struct err *e);
/* 1 present, 0 absent, -1 error. */
int cas_has(struct store *s, const struct digest *d, struct err *e);
/* Size of a blob without copying it; ERR_MISSING if absent. */
int cas_size(struct store *s, const struct digest *d, uint64_t *size, struct err *e);

/* ---- chunked objects ---------------------------------------------------- */
/*
 * Any size, streamed with one chunk buffer. Content is cut into fixed
 * OBJ_CHUNK_SIZE chunks, each a CAS blob; the object's digest is that of its
 * manifest blob: canonical msgpack {"chunk": OBJ_CHUNK_SIZE, "chunks":
 * [bin32...], "kind": "manifest", "size": N}. So the digest depends only on
 * the content bytes. An object reader also accepts a plain blob digest and
 * reads it as a one-chunk object.
 */
#define OBJ_CHUNK_SIZE (4u << 20)

struct obj_writer;
struct obj_reader;

int obj_writer_open(struct store *s, struct obj_writer **w, struct err *e);
int obj_write(struct obj_writer *w, const void *data, size_t len, struct err *e);
/* Stores the last chunk and the manifest; frees w (also on failure). */
int obj_writer_finish(struct obj_writer *w, struct digest *out, struct err *e);
/* NULL-safe. Chunks already written stay until gc. */
void obj_writer_abort(struct obj_writer *w);
/* Bytes written so far. */
uint64_t obj_writer_size(const struct obj_writer *w);

/* Chunks are re-hashed as they are loaded (ERR_CORRUPT on mismatch) unless
 * OBJ_NOVERIFY is given to obj_reader_open_flags. */
#define OBJ_NOVERIFY 1
int obj_reader_open(struct store *s, const struct digest *d, struct obj_reader **r, struct err *e);
int obj_reader_open_flags(struct store *s, const struct digest *d, int flags, struct obj_reader **r,
			  struct err *e);
uint64_t obj_reader_size(const struct obj_reader *r);
/* Sequential; *got == 0 at the end. */
int obj_read(struct obj_reader *r, void *dst, size_t len, size_t *got, struct err *e);
/* Sequential, exactly len bytes: ERR_CORRUPT naming `what` (an artifact part)
 * when the object ends first. */
int obj_read_full(struct obj_reader *r, const char *what, void *dst, size_t len, struct err *e);
/* Random access, exactly len bytes (ERR_INPUT past the end). Does not move
 * the sequential position. */
int obj_read_at(struct obj_reader *r, uint64_t off, void *dst, size_t len, struct err *e);
void obj_reader_close(struct obj_reader *r); /* NULL-safe */
/* Whole buffer as an object. */
int obj_put(struct store *s, const void *data, size_t len, struct digest *out, struct err *e);
/* Whole object into `out` (after buf_reset); for small objects. */
int obj_get(struct store *s, const struct digest *d, struct buf *out, struct err *e);

/* ---- artifacts ---------------------------------------------------------- */
/*
 * Typed, versioned records naming their data objects; a canonical msgpack
 * blob {"action": bin32, "kind": "artifact", "meta": {...}, "parts": {name:
 * [bin32, size]}, "type": str, "version": uint} whose digest is the artifact
 * id. `action` is the action key that made it (all zero if imported).
 */
#define ARTIFACT_MAX_PARTS 16
#define ARTIFACT_MAX_META 48

struct artifact_part {
	char name[32];
	struct digest obj;
	uint64_t size;
};

struct artifact_meta {
	char key[48];
	char type; /* 'i', 'f', 's' */
	int64_t i;
	double f;
	char *s; /* owned by the artifact */
};

struct artifact {
	char type[32];
	uint32_t version;
	struct digest action;
	int n_parts;
	struct artifact_part parts[ARTIFACT_MAX_PARTS];
	int n_meta;
	struct artifact_meta meta[ARTIFACT_MAX_META];
};

void artifact_init(struct artifact *a, const char *type, uint32_t version);
void artifact_release(struct artifact *a); /* frees meta strings */
/* Setting an existing name/key replaces it. */
int artifact_add_part(struct artifact *a, const char *name, const struct digest *obj, uint64_t size,
		      struct err *e);
int artifact_set_int(struct artifact *a, const char *key, int64_t v, struct err *e);
int artifact_set_f64(struct artifact *a, const char *key, double v, struct err *e);
int artifact_set_str(struct artifact *a, const char *key, const char *v, struct err *e);
/* Canonical: parts and meta sorted by name. */
int artifact_put(struct store *s, const struct artifact *a, struct digest *out, struct err *e);
/* Fills `out` (caller artifact_release's it). ERR_MISSING, ERR_CORRUPT. */
int artifact_get(struct store *s, const struct digest *d, struct artifact *out, struct err *e);
/* Decoding of what artifact_put stores (artifact_get without the store):
 * fills `out`, or ERR_CORRUPT with `out` left empty. */
int artifact_decode(const void *data, size_t len, struct artifact *out, struct err *e);
const struct digest *artifact_part(const struct artifact *a, const char *name); /* NULL if absent */
int artifact_get_int(const struct artifact *a, const char *key, int64_t *out); /* 0 found, -1 absent */
const char *artifact_get_str(const struct artifact *a, const char *key);      /* NULL if absent */
int artifact_get_f64(const struct artifact *a, const char *key, double *out); /* ints convert */
/*
 * The artifacts whose digest starts with `hex` (1..64 hex digits, any case):
 * the first `cap` into out[], how many there are into *n (may exceed cap).
 * Scans only the CAS keys under the prefix. ERR_USAGE when `hex` is not hex.
 */
int artifact_find_prefix(struct store *s, const char *hex, struct digest *out, size_t cap, size_t *n,
			 struct err *e);

/* ---- action cache ------------------------------------------------------- */
/*
 * key = SHA-256 of a canonical action encoding (computed by the caller),
 * value = opaque bytes. For gc to keep a cached step's outputs, the value
 * must be the msgpack map that ac_value_encode writes: {"elapsed_ns": uint,
 * "outputs": [bin32...]} (extra keys allowed; only "outputs" is read).
 */
int ac_get(struct store *s, const struct digest *key, struct buf *value, struct err *e); /* 1 hit, 0 miss, -1 */
/* Like ac_get, for callers that will use the outputs: an entry whose value
 * does not decode, or whose outputs are missing or visibly damaged (a
 * missing chunk, part or manifest, a small blob that does not hash to its
 * key), is a miss (logged), never a failure; see ac.c for what is checked. */
int ac_get_verified(struct store *s, const struct digest *key, struct buf *value, struct err *e);
int ac_put(struct store *s, const struct digest *key, const void *value, size_t len, struct err *e);
int ac_value_encode(const struct digest *outputs, int n, uint64_t elapsed_ns, struct buf *out, struct err *e);
/* Up to `cap` outputs into `outputs`; *n gets the count stored (may exceed cap). */
int ac_value_decode(const void *value, size_t len, struct digest *outputs, int cap, int *n,
		    uint64_t *elapsed_ns, struct err *e);

/* ---- refs --------------------------------------------------------------- */
/* name -> value string (a run id or a hex digest), e.g. "baseline/m17-1k". */
int ref_set(struct store *s, const char *name, const char *value, struct err *e);
int ref_get(struct store *s, const char *name, char *value, size_t cap, struct err *e); /* ERR_MISSING */
int ref_del(struct store *s, const char *name, struct err *e);                          /* ERR_MISSING */
/* Names starting with `prefix` ("" or NULL: all), in name order. */
int ref_list(struct store *s, const char *prefix,
	     int (*cb)(const char *name, const char *value, void *ctx), void *ctx, struct err *e);

/* A 64-hex digest, or a ref whose value is one -> *out. ERR_MISSING (no such
 * ref), ERR_USAGE (the ref names a run, not a digest). */
int store_resolve_digest(struct store *s, const char *digest_or_ref, struct digest *out, struct err *e);

/* ---- runs --------------------------------------------------------------- */
#define RUN_MAX_STEPS 16
#define RUN_MAX_OUT 8
#define RUN_MAX_METRICS 128
#define RUN_MAX_OVERRIDES 32 /* SPEC_SETS_MAX */

struct run_step {
	char name[32];
	char state[16]; /* "cached","ran","resumed","failed","not-built","pending" */
	struct digest action;
	int n_out;
	struct digest out[RUN_MAX_OUT];
	uint64_t elapsed_ns;
	char message[256];
};

struct run_metric {
	char key[64];
	double value;
};

struct run_record {
	char id[48];
	char spec_name[128];
	struct digest spec_digest;
	char *spec_text; /* malloc'd, owned by the record; may be NULL */
	char **overrides; /* the run's --set KEY=VALUE as given, n_overrides of them (malloc'd, owned) */
	int n_overrides;
	char status[16]; /* "running","interrupted","failed","done" */
	unix_ns created, updated;
	char host[64], kernel[128], cpu[128], engrave_version[32], target_version[64];
	/* The rest of the environment (sysinfo.h keys, "target.*" from the
	 * driver), in the order captured; empty in records from before it. */
	struct envlist env;
	int n_steps;
	struct run_step steps[RUN_MAX_STEPS];
	int n_metrics;
	struct run_metric metrics[RUN_MAX_METRICS];
};

/* "20261124T083015Z-a1b2c3": UTC second then 24 random bits. 0 or -1 (cap). */
int run_new_id(char *id, size_t cap);
void run_env_fill(struct run_record *r); /* host, kernel (uname), cpu model (/proc/cpuinfo) */
int run_put(struct store *s, const struct run_record *r, struct err *e); /* insert or replace */
/* Fills `out` (zeroed first); caller run_record_release's it. ERR_MISSING. */
int run_get(struct store *s, const char *id, struct run_record *out, struct err *e);
void run_record_release(struct run_record *r); /* frees spec_text, overrides; NULL-safe */
/* Copy `n` override strings into the record (replacing any it held). */
void run_record_set_overrides(struct run_record *r, const char *const *args, size_t n);
/* Add or replace a metric; -1 when the record already holds RUN_MAX_METRICS. */
int run_metric_set(struct run_record *r, const char *key, double value);
/* In id order (= time order). The record passed to cb is valid during the call only. */
int run_list(struct store *s, int (*cb)(const struct run_record *r, void *ctx), void *ctx, struct err *e);
/* Decoding of what run_put stores. */
int run_record_decode(const void *data, size_t len, struct run_record *out, struct err *e);

/* ---- copying between stores (net/remote.c) ---------------------------- */

enum store_blob_role { STORE_BLOB_RAW = 0, STORE_BLOB_MANIFEST = 1, STORE_BLOB_ARTIFACT = 2 };
/*
 * What a blob names, read from its bytes alone: a manifest its chunks, an
 * artifact its parts' objects (cb once each, in stored order; non-zero from
 * cb stops and is returned), a raw blob nothing. Returns the blob's
 * STORE_BLOB_* role, or -1 (ERR_CORRUPT) when it has a manifest's or an
 * artifact's shape and does not decode.
 */
int store_blob_children(const void *data, size_t len, int (*cb)(const struct digest *child, void *ctx), void *ctx,
			struct err *e);
/* A run record's bytes as stored (checksum trailer included) into `out`
 * (after buf_reset). ERR_MISSING. */
int run_get_encoded(struct store *s, const char *id, struct buf *out, struct err *e);
/* Store such bytes under `id`: decoded first, ERR_CORRUPT when the checksum
 * fails or the record holds another id. Replaces a record already there. */
int run_put_encoded(struct store *s, const char *id, const void *data, size_t len, struct err *e);

/* ---- damaged data files ---------------------------------------------------- */
/*
 * LMDB trusts its pages, so a damaged data.mdb can fault (SIGBUS/SIGSEGV)
 * in any read. A fault inside a store transaction ends the process with
 * exit status 1 and a message naming the store (store/fault.c). A program
 * that must go on (the fuzz harness) sets a recovery point on its thread:
 * the fault then siglongjmp's there (set it with sigsetjmp(jb, 1)), and
 * store_fault_abandon() releases what the faulting transaction held and
 * returns its store (also one store_open had not returned yet), which can
 * then only be closed. NULL clears the recovery point.
 */
void store_fault_recover_at(sigjmp_buf *jb);
struct store *store_fault_abandon(void);

/* ---- run leases ---------------------------------------------------------- */
/*
 * A run is owned by one live process: steps_run takes the run's lease before
 * it runs anything, and gc keeps what live runs store (lease.c). A lease is
 * a lock on <store>/leases/<run id>.lock that the kernel drops when its
 * holder exits, so it never outlives the process. Held until
 * run_lease_release or store_close; taking a lease this process already
 * holds through the same store counts up (release counts down).
 */
struct run_lease;
struct run_lease_info {
	char run_id[48];
	long pid;        /* 0 if the holder has not written its name yet */
	char host[64];
	unix_ns since;   /* when it was taken */
};
/* ERR_BUSY when another live process holds it (the message names its pid,
 * host and since), ERR_IO when the lease file cannot be made. */
int run_lease_acquire(struct store *s, const char *run_id, struct run_lease **out, struct err *e);
void run_lease_release(struct run_lease *l); /* NULL-safe */
/* Live leases of the store, in no particular order. remove_stale also
 * deletes files left by dead holders (not on a read-only store). */
int run_lease_list(struct store *s, int remove_stale, int (*cb)(const struct run_lease_info *li, void *ctx),
		   void *ctx, struct err *e);

/* ---- journals ----------------------------------------------------------- */
/*
 * Per run + stream, small committed batches, for resumable effectful steps
 * (ingest receipts, load records). A batch copies what it is given and is
 * written in one write transaction at commit; keys are compared bytewise.
 * run_id and stream must not contain NUL and be at most 127 bytes; keys
 * must not be empty. Every value is stored with a checksum over key and
 * value: journal_get and journal_iter fail with ERR_CORRUPT (naming run,
 * stream and key) on an entry that changed on disk (journal.c).
 */
struct journal_batch;
int journal_batch_begin(struct store *s, const char *run_id, const char *stream, struct journal_batch **b,
			struct err *e);
int journal_batch_put(struct journal_batch *b, const void *key, size_t klen, const void *val, size_t vlen,
		      struct err *e);
size_t journal_batch_len(const struct journal_batch *b); /* entries pending */
int journal_batch_commit(struct journal_batch *b, struct err *e); /* frees b (also on failure) */
void journal_batch_abort(struct journal_batch *b);               /* NULL-safe */
/* 1 found (value copied into val after buf_reset), 0 not found, -1 error. */
int journal_get(struct store *s, const char *run_id, const char *stream, const void *key, size_t klen,
		struct buf *val, struct err *e);
/* Key order. */
int journal_iter(struct store *s, const char *run_id, const char *stream,
		 int (*cb)(const void *k, size_t kl, const void *v, size_t vl, void *ctx), void *ctx,
		 struct err *e);
int journal_count(struct store *s, const char *run_id, const char *stream, uint64_t *n, struct err *e);

/* ---- maintenance: stats, verify, gc ------------------------------------- */

struct store_stats {
	uint64_t blobs, blob_bytes;     /* every CAS entry */
	uint64_t objects;               /* manifests */
	uint64_t chunks, chunk_bytes;   /* distinct blobs listed by manifests */
	uint64_t logical_bytes;         /* sum of object sizes */
	double dedup_ratio;             /* logical_bytes / chunk_bytes (1 if empty) */
	uint64_t artifacts, runs, refs, actions, journal_entries;
	uint64_t map_size, map_used, page_size;
};
int store_stats(struct store *s, struct store_stats *out, struct err *e);

enum store_problem_kind {
	STORE_PROB_HASH = 1,     /* blob bytes do not hash to their key */
	STORE_PROB_ENCODING = 2, /* manifest, artifact, run or ac value undecodable */
	STORE_PROB_MISSING = 4,  /* something reachable is absent */
	STORE_PROB_LMDB = 8,     /* LMDB reported an error while reading, or its B-trees are damaged */
	STORE_PROB_CHECKSUM = 16, /* a journal entry or run record changed on disk */
};

struct store_problem {
	unsigned kind;   /* one STORE_PROB_* */
	const char *db;  /* "cas", "runs", ... */
	char key[160];   /* hex digest, run id or ref name */
	char detail[256];
};

struct store_verify_result {
	uint64_t blobs, bytes, objects, artifacts, runs, refs, actions;
	uint64_t problems;
	unsigned mask; /* OR of STORE_PROB_* seen */
	uint64_t journal_entries;
};
/* Walks LMDB's B-trees in a child process first (a damaged page crashes
 * LMDB; the crash then is ERR_CORRUPT "store damaged: <path>: ..."), then
 * re-hashes every blob, decodes manifests/artifacts/runs/ac values, checks
 * the checksums of run records and journal entries, checks what they name
 * exists; keeps going and reports each problem through cb (may be NULL).
 * Returns 0 when the scan completed (problems or not). */
int store_verify(struct store *s, int (*cb)(const struct store_problem *p, void *ctx), void *ctx,
		 struct store_verify_result *out, struct err *e);

struct store_repair_item {
	int dropped;      /* 1 dropped; 0 kept (a run record): re-running its spec rebuilds what it names */
	const char *db;   /* "cas", "ac", "refs", "runs" */
	char key[160];
	char detail[256];
};
struct store_repair_result {
	uint64_t blobs, actions, refs; /* dropped */
	uint64_t runs;                 /* run records naming dropped or missing data (kept) */
};
/*
 * store_verify, then, if it found problems, drop what cannot be trusted so
 * that re-running the specs rebuilds it: blobs that do not hash to their key
 * or do not decode, and the action-cache entries and refs whose outputs
 * reach a damaged or missing blob (through artifacts and manifests). Run
 * records and journals are history and are kept; runs naming damaged data
 * are reported through fix with dropped = 0. ERR_BUSY while a run holds a
 * lease (a live run may be writing what repair would drop).
 */
int store_verify_repair(struct store *s, int (*cb)(const struct store_problem *p, void *ctx),
			int (*fix)(const struct store_repair_item *it, void *ctx), void *ctx,
			struct store_verify_result *out, struct store_repair_result *rr, struct err *e);
const char *store_problem_name(unsigned kind); /* "hash-mismatch", ... */

struct store_gc_result {
	uint64_t reachable;      /* blobs kept because reachable */
	uint64_t young;          /* unreachable but kept: younger than the grace period */
	uint64_t dropped, dropped_bytes; /* (would be) dropped */
	uint64_t live;           /* unreachable but kept: stored since the oldest live run began */
	int live_runs;           /* runs with a live lease */
	char oldest_live[48];    /* the oldest of them ("" if none) */
};
/*
 * Mark from roots (run records' spec digest and step outputs, refs whose
 * value is a hex digest, action-cache "outputs"), through artifacts ->
 * parts -> manifests -> chunks; sweep unreachable blobs put more than
 * `grace_ns` ago (a blob's age restarts on every cas_put, so a writer's
 * fresh chunks survive until its manifest and run record land) and not
 * since the oldest live run lease was taken (a live run's new objects are
 * kept however long its steps take, also with a grace of 0). Runs in one
 * write transaction (writers wait). cb is called for each dropped blob
 * (inside the transaction: it must not call the store).
 */
#define STORE_GC_GRACE_DEFAULT (3600ULL * NS_PER_S)
int store_gc(struct store *s, int dry_run, uint64_t grace_ns,
	     int (*cb)(const struct digest *d, uint64_t size, void *ctx), void *ctx, struct store_gc_result *out,
	     struct err *e);

#endif
