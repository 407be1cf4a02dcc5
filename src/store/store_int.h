/*
 * store_int.h — internals shared by the src/store/ files (never included
 * outside src/store/ and tests/unit/test_store*.c).
 */
#ifndef ENGRAVE_STORE_INT_H
#define ENGRAVE_STORE_INT_H

#include <lmdb.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "engrave/store.h"

enum store_db { DB_CAS, DB_BORN, DB_AC, DB_RUNS, DB_REFS, DB_JOURNAL, DB__N };

/* mapcheck.c: where this process maps data.mdb (see there). */
#define STORE_MAPS_MAX 8
struct store_map_range {
	uintptr_t lo, hi; /* [lo, hi) in memory */
	uint64_t off;     /* the file offset at lo */
};
struct store_maps {
	dev_t dev;
	ino_t ino;
	int have_file; /* dev/ino known */
	int known;     /* the list was read and names the file (0: check sizes only) */
	char path[4096]; /* data.mdb's real path ("" unknown) */
	size_t n;
	struct store_map_range r[STORE_MAPS_MAX];
};
void store_maps_init(struct store_maps *m, int fd, const char *path);
/* 0 when a cursor's key and value lie in the used part of the map (the
 * store's open transaction on this thread); else -1, ERR_CORRUPT (env.c). */
struct store;
int store_entry_in_map(struct store *s, enum store_db db, const MDB_val *k, const MDB_val *v, struct err *e);
/* Read the mappings again: after mdb_env_open and every map size change,
 * with no transaction of the process open. */
void store_maps_refresh(struct store_maps *m);
/* 1 when [p, p+n) may be read: it lies in one mapping of the file and
 * within the file's first `used` bytes, or (n <= used and) it lies in no
 * mapping while the list knows nothing or `outside_ok` (a write
 * transaction's own dirty pages); 0: damage, do not read it. */
int store_maps_fits(const struct store_maps *m, const void *p, size_t n, size_t used, int outside_ok);
/* Drop from m the mappings `old` already listed (another environment's map
 * of the same file, such as a forked child's parent's). */
void store_maps_forget(struct store_maps *m, const struct store_maps *old);

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB__N];
	int rdonly;
	int opened;     /* mdb_env_open succeeded (close flushes only then) */
	int unmapped;   /* a failed resize left LMDB without a map: every txn fails */
	size_t mapsize;
	struct store_maps maps; /* where data.mdb is mapped (refreshed with mapsize) */
	/*
	 * Every transaction holds `grow` shared; changing the map size takes it
	 * exclusively (LMDB requires no transaction of this process to be open
	 * when mdb_env_set_mapsize is called).
	 */
	pthread_rwlock_t grow;
	/*
	 * Write-behind (env.c): byte offsets of data.mdb up to which writeback
	 * has been started and up to which the written pages have been dropped
	 * from the page cache; -1 fd when off.
	 */
	pthread_mutex_t wb_lock;
	int wb_fd;
	int64_t wb_started, wb_dropped;
	/* Journal checksums (journal.c): which runs' values must carry one. */
	enum { JFORMAT_NONE, JFORMAT_FROM, JFORMAT_DAMAGED } jformat;
	char jstrict_from[32];
	/* Run leases this process holds through this store (lease.c). */
	pthread_mutex_t lease_lock;
	struct run_lease *leases;
	char path[4096];
};

extern const char *const store_db_names[DB__N];

/* One queued write; `v` NULL with op WOP_DEL deletes. Pointers are borrowed
 * for the duration of store_write (which may replay them). WOP_PUT_CAS is
 * for content-addressed values: an existing value with the same bytes is
 * kept (not rewritten), different bytes (a damaged blob) are replaced. */
enum wop_kind { WOP_PUT, WOP_PUT_NEW /* keep existing */, WOP_PUT_CAS, WOP_DEL };
struct wop {
	enum wop_kind kind;
	enum store_db db;
	const void *k;
	size_t kl;
	const void *v;
	size_t vl;
};
/* Apply all ops in one write transaction, growing the map and replaying on
 * MDB_MAP_FULL. `what` names the operation for errors. */
int store_write(struct store *s, const struct wop *ops, size_t n, const char *what, struct err *e);

/* Read transactions (short; hold the grow lock shared). */
int store_rtxn_begin(struct store *s, MDB_txn **txn, struct err *e);
void store_rtxn_end(struct store *s, MDB_txn *txn);
/* Write transaction for gc (the caller commits with mdb_txn_commit, then
 * unlocks s->grow, so it sees MDB_MAP_FULL; or it aborts). */
int store_wtxn_begin(struct store *s, MDB_txn **txn, struct err *e);
void store_wtxn_abort(struct store *s, MDB_txn *txn);
int store_wtxn_commit(struct store *s, MDB_txn *txn); /* commit and release: the LMDB code */
/* Double the map (after a MAP_FULL outside store_write). */
int store_grow(struct store *s, struct err *e);

/* Map an LMDB rc to an err with context: "<what>: <db> <key>: <mdb_strerror>". */
int store_mdb_err(struct err *e, int rc, enum store_db db, const char *key, const char *what);
/* Human key for messages: hex for 32-byte keys, printable text otherwise. */
void store_key_text(const void *k, size_t kl, char *out, size_t cap);

/*
 * Paged scan over keys with `prefix`, in key order. copy == 0: fn runs
 * inside a read transaction on borrowed values (it must not call the
 * store). copy == 1: a page of entries is copied out, the transaction
 * ended, then fn runs (it may call anything). fn returning non-zero stops
 * the scan and becomes the return value; a scan error returns -1.
 */
typedef int (*store_scan_fn)(const void *k, size_t kl, const void *v, size_t vl, void *ctx);
int store_scan(struct store *s, enum store_db db, const void *prefix, size_t plen, int copy, store_scan_fn fn,
	       void *ctx, struct err *e);

/* Walk every B-tree of the store in a forked child (env.c): 0 whole, 1
 * damaged (why says how: an LMDB error or the signal that killed the
 * child), -1 could not check (why says why). */
int store_btree_check(struct store *s, char *why, size_t cap);

/* Tell the kernel we are done with these mapped pages (keeps RSS bounded
 * when streaming gigabytes through the map). */
void store_drop_pages(const void *p, size_t n);

/* Raw get inside a txn; 1 found, 0 absent, -1 error. */
int store_get_in(struct store *s, MDB_txn *txn, enum store_db db, const void *k, size_t kl, MDB_val *v,
		 struct err *e);

/* ---- canonical msgpack helpers (mpack.c) ---- */
struct mpack {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};
void mpack_init(struct mpack *m);
void mpack_release(struct mpack *m);
void mpack_str(struct mpack *m, const char *s);
void mpack_bin(struct mpack *m, const void *p, size_t n);
void mpack_digest(struct mpack *m, const struct digest *d);
/* Move the bytes into a buf (after buf_reset). */
int mpack_to_buf(struct mpack *m, struct buf *out, struct err *e);

/* Decoding: an unpacked tree lives in `u` until mpack_done. */
int mpack_parse(const void *data, size_t len, msgpack_unpacked *u, const char *what, struct err *e);
void mpack_done(msgpack_unpacked *u);
const msgpack_object *mpack_map_get(const msgpack_object *map, const char *key);
int mpack_get_digest(const msgpack_object *o, struct digest *d);             /* 0 ok, -1 not bin32 */
int mpack_get_u64(const msgpack_object *o, uint64_t *v);                     /* 0 ok, -1 */
int mpack_get_i64(const msgpack_object *o, int64_t *v);                      /* 0 ok, -1 */
int mpack_get_f64(const msgpack_object *o, double *v);                       /* floats and ints */
int mpack_get_str(const msgpack_object *o, char *dst, size_t cap);           /* 0 ok, -1 (truncates) */
char *mpack_dup_str(const msgpack_object *o);                                /* malloc'd or NULL */
int mpack_str_eq(const msgpack_object *o, const char *s);

/* Blob classification by its leading bytes then its "kind" key. */
enum blob_kind { BLOB_RAW, BLOB_MANIFEST, BLOB_ARTIFACT };
enum blob_kind store_blob_kind(const void *data, size_t len);
/* Decode a manifest: size, chunk count; chunk digests via callback. */
int store_manifest_walk(const void *data, size_t len, uint64_t *size,
			int (*fn)(const struct digest *chunk, void *ctx), void *ctx, struct err *e);
/* Digests of an artifact's parts (its objects). */
int store_artifact_walk(const void *data, size_t len, int (*fn)(const struct digest *obj, void *ctx), void *ctx,
			struct err *e);

/* ---- journal checksums (journal.c) ---- */
#define JV_SUM_LEN 8
#define JV_MAGIC_LEN 4
#define JV_TRAILER (JV_SUM_LEN + JV_MAGIC_LEN)
/* Read (and on a writable store, first record) the journal format. */
int journal_format_open(struct store *s, struct err *e);
/* A stored journal value (full key): 0 whole (*ulen = the caller's bytes),
 * -1 damaged (*why says how). */
int journal_value_check(const struct store *s, const void *k, size_t kl, const void *v, size_t vl, size_t *ulen,
			const char **why);
int journal_is_format_key(const void *k, size_t kl);
/* Parse the format entry's value: 0 ok (strict_from filled), -1 damaged. */
int journal_format_check(const void *v, size_t vl, char *strict_from, size_t cap);
void journal_key_text(const void *k, size_t kl, char *out, size_t cap);

/* ---- leases (lease.c) ---- */
/* Release every lease still held through `s` (store_close). */
void store_leases_close(struct store *s);

/* ---- test-only ---- */
/* Overwrite a raw value, bypassing hashing: for corruption tests. */
int store_debug_put_raw(struct store *s, const char *db, const void *k, size_t kl, const void *v, size_t vl,
			struct err *e);

/* fault.c: a fault inside a store transaction is a damaged store (see there). */
void store_fault_install(void);
void store_fault_enter(struct store *s, MDB_txn *txn, int holds_grow, int rdonly);
void store_fault_leave(void);
/* 1: this thread's store transaction is read-only, 0: a write one, -1: none. */
int store_fault_txn_rdonly(void);
/* Around each LMDB read call (the watchdog's mark, fault.c): 1 before, 0 after. */
void store_fault_call(int inside);
static inline int store_mdb_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
	store_fault_call(1);
	int rc = mdb_get(txn, dbi, k, v);
	store_fault_call(0);
	return rc;
}
static inline int store_mdb_cursor_get(MDB_cursor *c, MDB_val *k, MDB_val *v, MDB_cursor_op op)
{
	store_fault_call(1);
	int rc = mdb_cursor_get(c, k, v, op);
	store_fault_call(0);
	return rc;
}
static inline int store_mdb_dbi_open(MDB_txn *txn, const char *name, unsigned flags, MDB_dbi *dbi)
{
	store_fault_call(1);
	int rc = mdb_dbi_open(txn, name, flags, dbi);
	store_fault_call(0);
	return rc;
}

#endif
