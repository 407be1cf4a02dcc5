/*
 * env.c — the LMDB environment: open, the write engine, paged scans.
 *
 * One environment per store directory, opened with MDB_NOTLS so a read
 * transaction is not tied to its thread, and six named sub-databases
 * (store_int.h). Nothing outside this file begins a write transaction except
 * gc (store_wtxn_*).
 *
 * Writes are expressed as a list of puts/deletes (struct wop) and applied by
 * store_write() in one transaction. When LMDB answers MDB_MAP_FULL the
 * transaction is aborted, the map doubled (mdb_env_set_mapsize) and the same
 * list replayed, so a growing store never loses the write in flight. LMDB
 * only allows a resize when no transaction of this process is open, so every
 * transaction holds `s->grow` shared and a resize takes it exclusively
 * (writer-preferring, so a resize is not starved by readers). A map grown by
 * another process shows up as MDB_MAP_RESIZED at txn begin and is adopted
 * with mdb_env_set_mapsize(env, 0).
 *
 * Durability: the environment is opened with MDB_NOSYNC, so a commit
 * writes its pages (a full disk still fails the commit) without an fsync;
 * a 950K x 768 artifact then streams in at memory speed instead of one
 * disk flush per 4 MiB chunk. Every committed transaction survives the
 * process being killed (the pages are in the kernel's cache); what an OS
 * crash could lose is bounded by explicit checkpoints: store_sync() runs
 * after every run-record write (run_put) and at store_close().
 * ENGRAVE_STORE_SYNC=1 restores an fsync per commit.
 *
 * Write-behind. A commit hands its pages to the kernel, which keeps them as
 * dirty page cache until its flusher gets to them; streaming a 2.9 GB
 * artifact in would grow the page cache by 2.9 GB of pages this process
 * touches for the first time, and on a VM whose host reclaims idle guest
 * memory (virtio-balloon free page reporting) each such page costs a host
 * fault: the write then runs at a fifth of the speed of rewriting pages
 * already in use (measured: 2.9 GB in 4.3-7.6 s cold, 0.6 s warm). So once
 * data.mdb has grown by WB_STEP since the last look, store_write starts
 * writeback of the new bytes (sync_file_range WRITE, asynchronous), and
 * once more than WB_WINDOW of started bytes are cached, it waits for the
 * oldest to reach the disk and drops them (POSIX_FADV_DONTNEED): a bulk
 * write keeps a bounded window in the page cache and recycles its pages,
 * like a streaming writer with O_DIRECT. This changes no durability
 * promise (it only writes sooner), and only ranges appended since the
 * store was opened are touched; pages LMDB rewrites in place stay cached.
 * A writeback error (EIO) fails the write that observed it.
 *
 * Before LMDB maps data.mdb, store_open reads its meta pages itself
 * (check_data_file, below): a truncated file would be SIGBUS, a damaged
 * root page a wild pointer, and an empty or missing data file next to
 * other files a silently new store; each is an error instead. `store
 * verify` walks every B-tree in a forked child (store_btree_check), so a
 * damaged page deeper down is a report, not a crash.
 *
 * The map under `ulimit -v`: 64 GiB of address space is refused by an
 * address-space limit, so the first map is capped at half of what the
 * limit leaves (never below the data), mmap's ENOMEM is answered by
 * halving, and growth stops short of the limit (a remap that fails leaves
 * LMDB without a map; the store then refuses every transaction rather than
 * crash). When even the data cannot be mapped the error names `ulimit -v`
 * and ENGRAVE_STORE_MAPSIZE.
 *
 * Scans never hold a transaction for long: store_scan reads a page of
 * entries (bounded by count and bytes), remembers the last key, ends the
 * transaction and reopens at that key. With copy=1 the callback runs with no
 * transaction open, so it may write.
 *
 * Values read through the map are file pages that count in our RSS; after
 * streaming a large value we madvise(MADV_DONTNEED) it (the page cache keeps
 * it; only our mapping forgets), so reading a 3 GB object keeps RSS at one
 * chunk.
 */
#include "store_int.h"
#include "engrave/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engrave/log.h"

const char *const store_db_names[DB__N] = { "cas", "born", "ac", "runs", "refs", "journal" };

#define DEFAULT_MAPSIZE (64ULL << 30)
#define WB_STEP (4LL << 20)    /* start writeback of appended bytes in steps of this */
#define WB_WINDOW (64LL << 20) /* keep at most this much of them in the page cache */
#define MAX_MAPSIZE (1ULL << 44) /* 16 TiB */

static void write_behind_init(struct store *s);

/* ---- errors ---- */

void store_key_text(const void *k, size_t kl, char *out, size_t cap)
{
	if (!cap)
		return;
	if (kl == DIGEST_LEN && cap > DIGEST_HEX_LEN) {
		struct digest d;
		memcpy(d.b, k, DIGEST_LEN);
		digest_to_hex(&d, out);
		return;
	}
	size_t o = 0;
	const unsigned char *p = k;
	for (size_t i = 0; i < kl && o + 5 < cap; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f)
			out[o++] = (char)p[i];
		else if (p[i] == 0)
			out[o++] = '/';
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
	}
	out[o] = '\0';
}

int store_mdb_err(struct err *e, int rc, enum store_db db, const char *key, const char *what)
{
	enum err_class cls = ERR_STORE;
	const char *hint = NULL;
	switch (rc) {
	case MDB_NOTFOUND:
		cls = ERR_MISSING;
		break;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_BAD_TXN:
		cls = ERR_CORRUPT;
		hint = "run 'engrave store verify' to list the damage; restore the store from a backup";
		break;
	case ENOSPC:
	case MDB_MAP_FULL:
	case EFBIG:
		cls = ERR_NOSPACE;
		hint = "free disk space (or run 'engrave store gc') and run the command again; finished work is kept";
		break;
	case EACCES:
	case EROFS:
		cls = ERR_IO;
		hint = "check the permissions of the store directory (--store DIR)";
		break;
	case MDB_READERS_FULL:
		hint = "too many processes read the store at once; wait and retry";
		break;
	default:
		break;
	}
	err_set(e, cls, "%s: %s%s%s: %s", what, db < DB__N ? store_db_names[db] : "store", key ? " " : "",
		key ? key : "", mdb_strerror(rc));
	if (hint)
		err_hint(e, "%s", hint);
	return -1;
}

/* ---- the data file, checked before LMDB maps it ---- */

/*
 * LMDB trusts its file: pages past the end of a truncated data.mdb are
 * mapped and touching them is SIGBUS, a damaged page header can send it
 * into a wild pointer, and an empty data.mdb is taken for a new store and
 * initialised. So store_open first reads the two meta pages itself (layout
 * of liblmdb 0.9's mdb.c on a 64-bit host: a 16-byte page header {pgno,
 * pad, flags, lower/upper}, then MDB_meta {magic 0xBEEFC0DE, version 1,
 * address, mapsize, dbs[2] of 48 bytes whose first md_pad is the page size,
 * last_pg, txnid}) and checks: both meta pages are meta pages with the
 * magic and version; the page size is sane; the newer meta's last page
 * lies inside the file; the roots of the free and main B-trees are pages
 * of the right kind with their own page number. Any failure is ERR_CORRUPT
 * "store damaged: <path>: <what>", never a crash and never a new store.
 * Pages deeper in the B-trees are checked by `store verify` (store_btree_check).
 */
#define MDB_MAGIC_NUM 0xBEEFC0DEu
#define P_BRANCH_F 0x01
#define P_LEAF_F 0x02
#define P_META_F 0x08
#define P_INVALID_PG (~(uint64_t)0)
#define META_BYTES 152

struct meta_view {
	uint32_t psize;
	uint64_t free_root, main_root, last_pg, txnid;
};

static uint16_t rd16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int damaged(struct err *e, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int damaged(struct err *e, const char *path, const char *fmt, ...)
{
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	err_set(e, ERR_CORRUPT, "store damaged: %s: %s", path, what);
	return err_hint(e, "restore the store from a backup, or move it aside and re-run your specs into a new one "
			   "(--store DIR); 'engrave store verify' lists what else is wrong");
}

static int read_meta(int fd, const char *path, int i, off_t off, struct meta_view *m, struct err *e)
{
	unsigned char b[META_BYTES];
	ssize_t n = pread(fd, b, sizeof(b), off);
	if (n < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot read '%s'", path);
	if (n != (ssize_t)sizeof(b))
		return damaged(e, path, "truncated inside meta page %d", i);
	if (!(rd16(b + 10) & P_META_F) || rd32(b + 16) != MDB_MAGIC_NUM)
		return damaged(e, path, "meta page %d is not an LMDB meta page (bad flags or magic)", i);
	if (rd32(b + 20) != 1)
		return damaged(e, path, "meta page %d has LMDB data version %u, not 1", i, rd32(b + 20));
	m->psize = rd32(b + 40);
	m->free_root = rd64(b + 80);
	m->main_root = rd64(b + 128);
	m->last_pg = rd64(b + 136);
	m->txnid = rd64(b + 144);
	if (m->psize < 512 || m->psize > 65536 || (m->psize & (m->psize - 1)))
		return damaged(e, path, "meta page %d gives a page size of %u bytes", i, m->psize);
	return 0;
}

static int check_root(int fd, const char *path, const char *tree, uint64_t root, const struct meta_view *m,
		      struct err *e)
{
	if (root == P_INVALID_PG)
		return 0; /* empty tree */
	if (root < 2 || root > m->last_pg)
		return damaged(e, path, "the %s B-tree's root is page %llu, outside pages 2..%llu", tree,
			       (unsigned long long)root, (unsigned long long)m->last_pg);
	unsigned char h[16];
	if (pread(fd, h, sizeof(h), (off_t)(root * m->psize)) != (ssize_t)sizeof(h))
		return damaged(e, path, "cannot read the %s B-tree's root page %llu", tree, (unsigned long long)root);
	uint16_t fl = rd16(h + 10), lower = rd16(h + 12), upper = rd16(h + 14);
	if (rd64(h) != root || !(fl & (P_BRANCH_F | P_LEAF_F)) || (fl & P_META_F) || lower < 16 || lower > upper ||
	    upper > m->psize)
		return damaged(e, path, "the %s B-tree's root page %llu has a damaged header", tree,
			       (unsigned long long)root);
	return 0;
}

/* Entries of a directory other than "." and "..": 0 none, else 1 (first in *name). */
static int dir_has_entries(const char *dir, char *name, size_t cap)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	int any = 0;
	while (!any && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(name, cap, "%s", de->d_name);
			any = 1;
		}
	closedir(d);
	return any;
}

/*
 * Before mdb_env_open. *minsize gets the bytes LMDB's committed pages span
 * (0 for a new store). A directory that exists without data.mdb must be
 * empty (a new store); a lock file or any other file there is an error,
 * and so is an empty data.mdb: nothing non-empty is ever re-initialised.
 */
static int check_data_file(const char *dir, int rdonly, uint64_t *minsize, struct err *e)
{
	*minsize = 0;
	char path[4200], lock[4200], other[256];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	snprintf(lock, sizeof(lock), "%s/lock.mdb", dir);
	struct stat st;
	/* A store another process is creating has lock.mdb before data.mdb,
	 * and an empty data.mdb until LMDB writes its meta pages: give it a
	 * moment before calling either damage. */
	for (int i = 0; i < 50; i++) {
		int r = stat(path, &st);
		if (r == 0 ? st.st_size > 0 : (errno != ENOENT || access(lock, F_OK) != 0))
			break;
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	if (stat(path, &st) != 0) {
		if (errno != ENOENT)
			return err_set_errno(e, ERR_IO, errno, "cannot read '%s'", path);
		if (rdonly) {
			err_set(e, ERR_MISSING, "no store at '%s' (no data.mdb)", dir);
			return err_hint(e, "pass --store DIR or set ENGRAVE_STORE to an existing store");
		}
		if (!dir_has_entries(dir, other, sizeof(other)))
			return 0; /* a new store */
		if (!access(lock, F_OK))
			return damaged(e, dir, "data.mdb is missing but lock.mdb is there (was the data file deleted?)");
		err_set(e, ERR_USAGE, "'%s' is not an engrave store and not empty (it holds '%s')", dir, other);
		return err_hint(e, "pass --store a new or empty directory, or the directory of an existing store");
	}
	if (!S_ISREG(st.st_mode))
		return damaged(e, path, "not a regular file");
	if (st.st_size == 0) {
		damaged(e, path, "the file is empty (0 bytes): it was truncated, or the store was never created");
		return err_hint(e, "if this store never held anything, remove '%s' and run again; otherwise restore "
				   "data.mdb from a backup (engrave never re-initialises a store that exists)",
				dir);
	}
	if (sizeof(size_t) != 8)
		return 0; /* the layout above is the 64-bit one */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set_errno(e, errno == EACCES ? ERR_IO : ERR_STORE, errno, "cannot open '%s'", path);
	/*
	 * Another process may commit while we read: its pages land before its
	 * meta, but a root page we read may already be reused by a newer
	 * transaction. So a failed check counts only when the newest meta
	 * was the same before and after it; otherwise read everything again.
	 */
	int ret;
	for (int attempt = 0;; attempt++) {
		struct meta_view m0, m1;
		const struct meta_view *m = &m0;
		uint64_t checked = 0; /* the transaction whose pages were checked */
		ret = fstat(fd, &st) ? err_set_errno(e, ERR_IO, errno, "cannot read '%s'", path) : 0;
		if (!ret)
			ret = read_meta(fd, path, 0, 0, &m0, e);
		if (!ret && (uint64_t)st.st_size < 2ull * m0.psize)
			ret = damaged(e, path, "truncated: %lld bytes, less than its two %u-byte meta pages",
				      (long long)st.st_size, m0.psize);
		if (!ret)
			ret = read_meta(fd, path, 1, (off_t)m0.psize, &m1, e);
		if (!ret && m1.psize != m0.psize)
			ret = damaged(e, path, "the meta pages disagree on the page size (%u and %u)", m0.psize,
				      m1.psize);
		if (!ret) {
			m = m1.txnid > m0.txnid ? &m1 : &m0;
			checked = m->txnid;
			if ((m->last_pg + 1) > (uint64_t)st.st_size / m->psize)
				ret = damaged(e, path,
					      "truncated: the file is %lld bytes but its last committed page ends at byte "
					      "%llu",
					      (long long)st.st_size, (unsigned long long)((m->last_pg + 1) * m->psize));
		}
		if (!ret)
			ret = check_root(fd, path, "free-page", m->free_root, m, e) ||
			      check_root(fd, path, "main", m->main_root, m, e);
		if (!ret) {
			*minsize = (m->last_pg + 1) * m->psize;
			break;
		}
		if (e && e->cls != ERR_CORRUPT)
			break;
		/* the newest transaction now, read again */
		struct meta_view n0, n1;
		struct err ig = ERR_INIT;
		uint64_t now = 0;
		if (!read_meta(fd, path, 0, 0, &n0, &ig) && !read_meta(fd, path, 1, (off_t)n0.psize, &n1, &ig))
			now = n0.txnid > n1.txnid ? n0.txnid : n1.txnid;
		if (attempt >= 50 || now == checked)
			break;
		nanosleep(&(struct timespec){ 0, 2 * 1000 * 1000 }, NULL);
	}
	close(fd);
	return ret;
}

/* ---- the map size under an address-space limit (ulimit -v) ---- */

/* Bytes this process may still map: RLIMIT_AS less what it has mapped
 * (/proc/self/statm); UINT64_MAX when unlimited. */
static uint64_t address_space_left(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	unsigned long long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%llu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	uint64_t used = (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
	return used < rl.rlim_cur ? rl.rlim_cur - used : 0;
}

#define AS_SLACK (128ULL << 20) /* left for buffers, stacks and arenas under a limit */

static int map_limit_err(struct err *e, const struct store *s, uint64_t need, const char *what)
{
	struct rlimit rl;
	getrlimit(RLIMIT_AS, &rl);
	err_set(e, ERR_NOSPACE, "store '%s': %s: the map needs %llu MiB of address space and `ulimit -v` leaves too little "
		"(limit %llu MiB)", s->path, what, (unsigned long long)(need >> 20),
		rl.rlim_cur == RLIM_INFINITY ? 0ULL : (unsigned long long)(rl.rlim_cur >> 20));
	return err_hint(e, "raise the limit (the map is address space, not memory: 'ulimit -v unlimited'), or set "
			   "ENGRAVE_STORE_MAPSIZE=BYTES between the store's size and the limit");
}

/* ---- open / close ---- */

static int mkdir_p(const char *dir, struct err *e)
{
	char tmp[4096];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(tmp))
		return err_set(e, ERR_USAGE, "bad store path '%s'", dir);
	memcpy(tmp, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == '\0') {
			char c = tmp[i];
			tmp[i] = '\0';
			if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
				return err_set_errno(e, ERR_IO, errno, "cannot create store directory '%s'", tmp);
			tmp[i] = c;
		}
	}
	return 0;
}

static size_t initial_mapsize(void)
{
	const char *v = getenv("ENGRAVE_STORE_MAPSIZE");
	if (v && *v) {
		char *end;
		unsigned long long n = strtoull(v, &end, 10);
		if (end != v && *end == '\0' && n >= 65536)
			return (size_t)n;
	}
	return (size_t)DEFAULT_MAPSIZE;
}

/* After the map was made or remapped (no transaction of the process open). */
static void refresh_mapsize(struct store *s)
{
	MDB_envinfo info;
	if (mdb_env_info(s->env, &info) == 0)
		s->mapsize = info.me_mapsize;
	if (!s->maps.have_file && !s->maps.path[0]) {
		mdb_filehandle_t fd;
		char file[4200];
		snprintf(file, sizeof(file), "%s/data.mdb", s->path);
		store_maps_init(&s->maps, mdb_env_get_fd(s->env, &fd) ? -1 : fd, file);
	}
	store_maps_refresh(&s->maps);
}

/*
 * Open the sub-databases. A read transaction suffices when they exist (the
 * handles survive its commit), so opening a store never waits for another
 * process's writer; only the first open of a new store writes.
 */
static int open_dbis_in(struct store *s, int create, struct err *e)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, create ? 0 : MDB_RDONLY, &txn);
	if (rc)
		return store_mdb_err(e, rc, DB__N, NULL, "cannot begin the opening transaction");
	store_fault_enter(s, txn, 0, !create);
	for (int i = 0; i < DB__N; i++) {
		rc = store_mdb_dbi_open(txn, store_db_names[i], create ? MDB_CREATE : 0, &s->dbi[i]);
		if (rc) {
			mdb_txn_abort(txn);
			store_fault_leave();
			if (rc == MDB_NOTFOUND) {
				err_set(e, ERR_MISSING, "'%s' is not an engrave store (no '%s' database)", s->path,
					store_db_names[i]);
				return err_hint(e, "create one with any writing command, e.g. 'engrave store put FILE'");
			}
			return store_mdb_err(e, rc, (enum store_db)i, NULL, "cannot open sub-database");
		}
	}
	rc = mdb_txn_commit(txn);
	store_fault_leave();
	if (rc)
		return store_mdb_err(e, rc, DB__N, NULL, "cannot commit the opening transaction");
	return 0;
}

static int open_dbis(struct store *s, struct err *e)
{
	struct err e2 = ERR_INIT;
	if (!open_dbis_in(s, 0, &e2))
		return 0;
	if (s->rdonly || e2.cls != ERR_MISSING) {
		if (e)
			*e = e2;
		return -1;
	}
	return open_dbis_in(s, 1, e);
}

static int sync_each_commit(void)
{
	const char *v = getenv("ENGRAVE_STORE_SYNC");
	return v && *v && strcmp(v, "0") != 0;
}

int store_open(const char *dir, int flags, struct store **out, struct err *e)
{
	*out = NULL;
	struct store *s = xcalloc(1, sizeof(*s));
	s->rdonly = (flags & STORE_RDONLY) != 0;
	snprintf(s->path, sizeof(s->path), "%s", dir);
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->grow, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&s->wb_lock, NULL);
	pthread_mutex_init(&s->lease_lock, NULL);
	s->wb_fd = -1;

	if (s->rdonly) {
		struct stat st;
		if (stat(dir, &st) != 0) {
			err_set(e, ERR_MISSING, "no store at '%s'", dir);
			err_hint(e, "pass --store DIR or set ENGRAVE_STORE to an existing store");
			goto fail;
		}
	} else if (mkdir_p(dir, e)) {
		goto fail;
	}
	uint64_t minsize;
	if (check_data_file(dir, s->rdonly, &minsize, e))
		goto fail;
	/*
	 * The map is sparse address space; 64 GiB is free unless `ulimit -v`
	 * caps it. Then start at what fits (half of what is left, at least the
	 * data) and grow on demand (grow_from); should mmap still say ENOMEM,
	 * halve and try again down to the data's size.
	 */
	uint64_t want = initial_mapsize(), left = address_space_left(), floor = minsize + (1u << 20);
	if (left != UINT64_MAX && want > left / 2) {
		uint64_t fit = (uint64_t)1 << 20;
		while (fit * 2 <= left / 2)
			fit *= 2;
		want = fit > floor ? fit : floor;
	}
	int rc;
	for (;;) {
		rc = mdb_env_create(&s->env);
		if (!rc)
			rc = mdb_env_set_maxdbs(s->env, DB__N + 2);
		if (!rc)
			rc = mdb_env_set_mapsize(s->env, (size_t)want);
		if (!rc)
			rc = mdb_env_open(s->env, dir,
					  MDB_NOTLS | (s->rdonly ? MDB_RDONLY : sync_each_commit() ? 0 : MDB_NOSYNC), 0644);
		if (rc != ENOMEM || want <= floor)
			break;
		mdb_env_close(s->env);
		s->env = NULL;
		want = want / 2 > floor ? want / 2 : floor;
		log_debug("store: the map does not fit (ulimit -v?); trying %llu MiB", (unsigned long long)(want >> 20));
	}
	if (rc == ENOMEM) {
		map_limit_err(e, s, want, "cannot map the store");
		goto fail;
	}
	if (rc) {
		store_mdb_err(e, rc, DB__N, NULL, "cannot open store");
		err_prefix(e, "'%s'", dir);
		goto fail;
	}
	s->opened = 1;
	store_fault_install(); /* from now on LMDB reads a mapped file: a damaged page is an error */
	refresh_mapsize(s);
	write_behind_init(s);
	/* Free reader slots left by killed processes, so their snapshots do
	 * not pin old pages (and grow the file) forever. */
	int dead = 0;
	mdb_reader_check(s->env, &dead);
	if (dead)
		log_debug("store: cleared %d stale reader slot(s)", dead);
	if (open_dbis(s, e) || journal_format_open(s, e)) {
		err_prefix(e, "'%s'", dir);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	store_close(s);
	return -1;
}

int store_sync(struct store *s, struct err *e)
{
	if (s->rdonly)
		return 0;
	int rc = mdb_env_sync(s->env, 1);
	if (rc)
		return store_mdb_err(e, rc, DB__N, NULL, "cannot flush the store to disk");
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_leases_close(s);
	if (s->env) {
		struct err e = ERR_INIT;
		if (!s->rdonly && s->opened && store_sync(s, &e))
			log_warn("%s", e.msg);
		mdb_env_close(s->env);
	}
	pthread_rwlock_destroy(&s->grow);
	pthread_mutex_destroy(&s->wb_lock);
	pthread_mutex_destroy(&s->lease_lock);
	free(s);
}

const char *store_path(const struct store *s)
{
	return s->path;
}

/* ---- map growth ---- */

/* Adopt a size set by another process (rc MDB_MAP_RESIZED). */
static int adopt_mapsize(struct store *s, struct err *e)
{
	pthread_rwlock_wrlock(&s->grow);
	int rc = mdb_env_set_mapsize(s->env, 0);
	if (!rc)
		refresh_mapsize(s);
	pthread_rwlock_unlock(&s->grow);
	if (rc)
		return store_mdb_err(e, rc, DB__N, NULL, "cannot adopt the map size grown by another process");
	return 0;
}

/* Double the map unless another thread or process already grew it past
 * `seen` (the size at the failing write). */
static int grow_from(struct store *s, size_t seen, struct err *e)
{
	pthread_rwlock_wrlock(&s->grow);
	int rc = 0;
	MDB_envinfo info;
	mdb_env_info(s->env, &info);
	if (info.me_mapsize <= seen) {
		size_t want = seen * 2;
		if (want > MAX_MAPSIZE || want < seen) {
			pthread_rwlock_unlock(&s->grow);
			err_set(e, ERR_NOSPACE, "store '%s': map size limit (%llu bytes) reached", s->path,
				(unsigned long long)seen);
			return err_hint(e, "run 'engrave store gc' to drop unreachable data");
		}
		/* Under `ulimit -v`, grow only as far as the old map's space plus
		 * what is left allows: a remap that fails leaves LMDB without a map. */
		uint64_t left = address_space_left();
		if (left != UINT64_MAX) {
			uint64_t fit = left + seen > AS_SLACK ? left + seen - AS_SLACK : 0;
			fit &= ~(uint64_t)((1u << 20) - 1);
			if (fit < want)
				want = (size_t)fit;
			if (want <= seen + (seen >> 4)) { /* less than 1/16 more: not worth a remap */
				pthread_rwlock_unlock(&s->grow);
				return map_limit_err(e, s, (uint64_t)seen * 2, "cannot grow the map");
			}
		}
		rc = mdb_env_set_mapsize(s->env, want);
		if (!rc)
			log_debug("store: map grown to %zu MiB", want >> 20);
		else
			s->unmapped = 1; /* LMDB dropped the old map and could not make the new one */
	}
	refresh_mapsize(s);
	pthread_rwlock_unlock(&s->grow);
	if (rc)
		return store_mdb_err(e, rc, DB__N, NULL, "cannot grow the map");
	return 0;
}

int store_grow(struct store *s, struct err *e)
{
	pthread_rwlock_rdlock(&s->grow);
	size_t seen = s->mapsize;
	pthread_rwlock_unlock(&s->grow);
	return grow_from(s, seen, e);
}

/* ---- transactions ---- */

static int unmapped_err(struct store *s, struct err *e)
{
	err_set(e, ERR_NOSPACE, "store '%s': the map was lost when growing it failed", s->path);
	return err_hint(e, "committed work is kept: run the command again (with a higher 'ulimit -v')");
}

int store_rtxn_begin(struct store *s, MDB_txn **txn, struct err *e)
{
	if (s->unmapped)
		return unmapped_err(s, e);
	for (;;) {
		pthread_rwlock_rdlock(&s->grow);
		int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
		if (!rc) {
			store_fault_enter(s, *txn, 1, 1);
			return 0;
		}
		pthread_rwlock_unlock(&s->grow);
		if (rc == MDB_MAP_RESIZED) {
			if (adopt_mapsize(s, e))
				return -1;
			continue;
		}
		return store_mdb_err(e, rc, DB__N, NULL, "cannot begin a read transaction");
	}
}

void store_rtxn_end(struct store *s, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	store_fault_leave();
	pthread_rwlock_unlock(&s->grow);
}

int store_wtxn_begin(struct store *s, MDB_txn **txn, struct err *e)
{
	if (s->rdonly)
		return err_set(e, ERR_USAGE, "store '%s' is open read-only", s->path);
	if (s->unmapped)
		return unmapped_err(s, e);
	for (;;) {
		pthread_rwlock_rdlock(&s->grow);
		int rc = mdb_txn_begin(s->env, NULL, 0, txn);
		if (!rc) {
			store_fault_enter(s, *txn, 1, 0);
			return 0;
		}
		pthread_rwlock_unlock(&s->grow);
		if (rc == MDB_MAP_RESIZED) {
			if (adopt_mapsize(s, e))
				return -1;
			continue;
		}
		return store_mdb_err(e, rc, DB__N, NULL, "cannot begin a write transaction");
	}
}

void store_wtxn_abort(struct store *s, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	store_fault_leave();
	pthread_rwlock_unlock(&s->grow);
}

int store_wtxn_commit(struct store *s, MDB_txn *txn)
{
	int rc = mdb_txn_commit(txn);
	store_fault_leave();
	pthread_rwlock_unlock(&s->grow);
	return rc;
}

/*
 * LMDB turns a short pwrite (what a full disk or an exceeded `ulimit -f`
 * usually produces) into EIO. Tell the two apart from a failing disk by
 * looking at free space and the file-size limit.
 */
static int eio_is_full(struct store *s, size_t txn_bytes)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/data.mdb", s->path);
	struct statvfs fs;
	uint64_t need = (uint64_t)txn_bytes + (16u << 20);
	if (statvfs(s->path, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < need)
		return 1;
	struct rlimit rl;
	struct stat st;
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && stat(path, &st) == 0 &&
	    (uint64_t)st.st_size + need > (uint64_t)rl.rlim_cur)
		return 1;
	return 0;
}

/* ---- write-behind (see the top comment) ---- */

static void write_behind_init(struct store *s)
{
	struct stat st;
	int fd;
	if (s->rdonly || mdb_env_get_fd(s->env, &fd) != 0 || fstat(fd, &st) != 0)
		return;
	const char *v = getenv("ENGRAVE_STORE_WRITE_BEHIND");
	if (v && strcmp(v, "0") == 0)
		return;
	s->wb_fd = fd;
	s->wb_started = s->wb_dropped = (int64_t)st.st_size;
}

/* After a commit: start writeback of what was appended, retire the oldest. */
static int write_behind(struct store *s, struct err *e)
{
	struct stat st;
	int rc = 0;
	pthread_mutex_lock(&s->wb_lock);
	if (s->wb_fd < 0 || fstat(s->wb_fd, &st) != 0) {
		pthread_mutex_unlock(&s->wb_lock);
		return 0;
	}
	int64_t end = (int64_t)st.st_size;
	if (end - s->wb_started >= WB_STEP) {
		if (sync_file_range(s->wb_fd, s->wb_started, end - s->wb_started, SYNC_FILE_RANGE_WRITE) != 0)
			rc = errno;
		s->wb_started = end;
	}
	while (!rc && s->wb_started - s->wb_dropped > WB_WINDOW) {
		int64_t off = s->wb_dropped, len = s->wb_started - WB_WINDOW - off;
		if (len > WB_STEP)
			len = WB_STEP;
		if (sync_file_range(s->wb_fd, off, len,
				    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
			rc = errno;
			break;
		}
		posix_fadvise(s->wb_fd, off, len, POSIX_FADV_DONTNEED); /* advisory */
		s->wb_dropped = off + len;
	}
	int unsupported = rc == ENOSYS || rc == EINVAL || rc == ESPIPE;
	if (unsupported) /* a file system without it: stop trying */
		s->wb_fd = -1;
	pthread_mutex_unlock(&s->wb_lock);
	if (!rc || unsupported)
		return 0;
	err_set_errno(e, rc == ENOSPC ? ERR_NOSPACE : ERR_IO, rc, "writing the store's data file back to disk (%s/data.mdb)",
		      s->path);
	return err_hint(e, rc == ENOSPC ? "free disk space and run the command again; finished work is kept"
					: "the disk reported an error: check it, then run 'engrave store verify'");
}

/* The stored value `v` (from MDB_KEYEXIST) equals what op would write.
 * Reading it costs a pass over mapped pages, forgotten afterwards. One
 * outside the data file (a damaged node) is not read: it differs. */
static int value_in_map(struct store *s, enum store_db db, const MDB_val *v, struct err *e);
static int same_bytes(struct store *s, const MDB_val *v, const struct wop *o)
{
	if (value_in_map(s, o->db, v, NULL))
		return 0;
	int same = v->mv_size == o->vl && (o->vl == 0 || !memcmp(v->mv_data, o->v, o->vl));
	store_drop_pages(v->mv_data, v->mv_size);
	return same;
}

int store_write(struct store *s, const struct wop *ops, size_t n, const char *what, struct err *e)
{
	if (s->rdonly)
		return err_set(e, ERR_USAGE, "%s: store '%s' is open read-only", what, s->path);
	for (;;) {
		MDB_txn *txn;
		if (store_wtxn_begin(s, &txn, e))
			return err_prefix(e, "%s", what);
		size_t seen = s->mapsize;
		int rc = 0;
		size_t i;
		for (i = 0; i < n; i++) {
			const struct wop *o = &ops[i];
			MDB_val k = { o->kl, (void *)o->k }, v = { o->vl, (void *)o->v };
			if (o->kind == WOP_DEL) {
				rc = mdb_del(txn, s->dbi[o->db], &k, NULL);
				if (rc == MDB_NOTFOUND)
					rc = 0;
			} else {
				rc = mdb_put(txn, s->dbi[o->db], &k, &v, o->kind == WOP_PUT ? 0 : MDB_NOOVERWRITE);
				if (rc == MDB_KEYEXIST && o->kind == WOP_PUT_CAS && !same_bytes(s, &v, o)) {
					char t[160];
					store_key_text(o->k, o->kl, t, sizeof(t));
					log_warn("store: %s %s held damaged bytes; replaced them with the good ones",
						 store_db_names[o->db], t);
					v = (MDB_val){ o->vl, (void *)o->v };
					rc = mdb_put(txn, s->dbi[o->db], &k, &v, 0);
				}
				if (rc == MDB_KEYEXIST)
					rc = 0;
			}
			if (rc)
				break;
		}
		if (rc) {
			store_wtxn_abort(s, txn);
		} else {
			rc = store_wtxn_commit(s, txn);
			i = n;
		}
		if (!rc)
			return write_behind(s, e) ? err_prefix(e, "%s", what) : 0;
		if (rc == MDB_MAP_FULL) {
			if (grow_from(s, seen, e))
				return err_prefix(e, "%s", what);
			continue; /* replay */
		}
		/* Name the entry that failed, or the first one when the commit did. */
		char key[200];
		enum store_db db = DB__N;
		key[0] = '\0';
		size_t at = i < n ? i : 0;
		if (n) {
			store_key_text(ops[at].k, ops[at].kl, key, 160);
			db = ops[at].db;
		}
		if (rc == EIO) {
			size_t bytes = 0;
			for (size_t j = 0; j < n; j++)
				bytes += ops[j].kl + ops[j].vl;
			if (eio_is_full(s, bytes)) {
				store_mdb_err(e, ENOSPC, db, key[0] ? key : NULL, what);
				char msg[ERR_MSG_MAX];
				snprintf(msg, sizeof(msg), "%s", e ? e->msg : "");
				err_set(e, ERR_NOSPACE, "%s (LMDB: %s, with the disk or ulimit -f exhausted)", msg,
					mdb_strerror(rc));
				return err_hint(e, "free disk space (or run 'engrave store gc') and run the command "
						   "again; finished work is kept");
			}
		}
		return store_mdb_err(e, rc, db, key[0] ? key : NULL, what);
	}
}

/*
 * LMDB takes a key's or value's place and size from its node: a damaged
 * node can put it past its page or claim gigabytes. Bytes read from the map
 * must lie in one mapping of data.mdb and within the pages the store has
 * used (up to the last page of the newest meta); anything else is a damaged
 * store, reported before anything reads it. A write transaction's own dirty
 * pages live outside the map, so outside a read transaction a pointer that
 * is not in the map has only its size checked (as everywhere when /proc is
 * not there to tell where the map is).
 */
/* The bytes of data.mdb in use: up to the last page of the newest meta (0: cannot tell). */
static size_t used_bytes(MDB_env *env)
{
	MDB_envinfo info;
	MDB_stat st;
	if (mdb_env_info(env, &info) || mdb_env_stat(env, &st))
		return 0;
	return (size_t)(info.me_last_pgno + 1) * st.ms_psize;
}

static int bytes_in_map(struct store *s, enum store_db db, const char *what, const void *p, size_t n, size_t used,
			struct err *e)
{
	if (!used || store_maps_fits(&s->maps, p, n, used, store_fault_txn_rdonly() != 1))
		return 0; /* fits, or cannot tell: let LMDB's own checks stand */
	err_set(e, ERR_CORRUPT, "store '%s' is damaged: a %s in '%s' (%zu bytes) lies outside the %zu bytes its data file uses",
		s->path, what, store_db_names[db], n, used);
	return err_hint(e, "run 'engrave store verify' on it, then restore it from a copy or a remote ('engrave pull')");
}

static int value_in_map(struct store *s, enum store_db db, const MDB_val *v, struct err *e)
{
	return bytes_in_map(s, db, "value", v->mv_data, v->mv_size, used_bytes(s->env), e);
}

/* A cursor's entry: its key and its value. */
int store_entry_in_map(struct store *s, enum store_db db, const MDB_val *k, const MDB_val *v, struct err *e)
{
	size_t used = used_bytes(s->env);
	return bytes_in_map(s, db, "key", k->mv_data, k->mv_size, used, e) ||
			       bytes_in_map(s, db, "value", v->mv_data, v->mv_size, used, e)
		       ? -1
		       : 0;
}

int store_get_in(struct store *s, MDB_txn *txn, enum store_db db, const void *k, size_t kl, MDB_val *v,
		 struct err *e)
{
	MDB_val key = { kl, (void *)k };
	int rc = store_mdb_get(txn, s->dbi[db], &key, v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc) {
		char t[160];
		store_key_text(k, kl, t, sizeof(t));
		return store_mdb_err(e, rc, db, t, "cannot read");
	}
	return value_in_map(s, db, v, e) ? -1 : 1;
}

void store_drop_pages(const void *p, size_t n)
{
	static long pg;
	if (!pg)
		pg = sysconf(_SC_PAGESIZE);
	if (n < (size_t)(4 * pg))
		return;
	uintptr_t a = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	uintptr_t b = ((uintptr_t)p + n) & ~((uintptr_t)pg - 1);
	if (b > a)
		madvise((void *)a, b - a, MADV_DONTNEED);
}

/* ---- scans ---- */

#define PAGE_MAX_ENTRIES 512
#define PAGE_MAX_BYTES (16u << 20)

struct copied {
	size_t kl, vl;
};

int store_scan(struct store *s, enum store_db db, const void *prefix, size_t plen, int copy, store_scan_fn fn,
	       void *ctx, struct err *e)
{
	struct buf last, page;
	buf_init(&last, 0);
	buf_init(&page, 0);
	int have_last = 0, done = 0, ret = 0;
	while (!done) {
		MDB_txn *txn;
		MDB_cursor *cur;
		if (store_rtxn_begin(s, &txn, e)) {
			ret = -1;
			break;
		}
		int rc = mdb_cursor_open(txn, s->dbi[db], &cur);
		if (rc) {
			store_rtxn_end(s, txn);
			ret = store_mdb_err(e, rc, db, NULL, "cannot open a cursor");
			break;
		}
		MDB_val k, v;
		if (have_last) {
			k.mv_size = last.len;
			k.mv_data = last.data;
			rc = store_mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
			if (!rc && k.mv_size == last.len && !store_entry_in_map(s, db, &k, &v, NULL) &&
			    !memcmp(k.mv_data, last.data, last.len))
				rc = store_mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		} else if (plen) {
			k.mv_size = plen;
			k.mv_data = (void *)prefix;
			rc = store_mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		} else {
			rc = store_mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		}
		size_t n = 0, bytes = 0;
		buf_reset(&page);
		while (!rc) {
			if (store_entry_in_map(s, db, &k, &v, e)) {
				ret = -1;
				break;
			}
			if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen)) {
				done = 1;
				break;
			}
			if (copy) {
				struct copied c = { k.mv_size, v.mv_size };
				if (buf_append(&page, &c, sizeof(c), e) || buf_append(&page, k.mv_data, k.mv_size, e) ||
				    buf_append(&page, v.mv_data, v.mv_size, e)) {
					ret = -1;
					break;
				}
			} else {
				ret = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, ctx);
			}
			store_drop_pages(v.mv_data, v.mv_size);
			if (ret)
				break;
			buf_reset(&last);
			if (buf_append(&last, k.mv_data, k.mv_size, e)) {
				ret = -1;
				break;
			}
			have_last = 1;
			n++;
			bytes += v.mv_size;
			if (n >= PAGE_MAX_ENTRIES || bytes >= PAGE_MAX_BYTES)
				break;
			rc = store_mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		if (rc == MDB_NOTFOUND)
			done = 1;
		else if (rc && !ret)
			ret = store_mdb_err(e, rc, db, NULL, "cannot scan");
		mdb_cursor_close(cur);
		store_rtxn_end(s, txn);
		if (ret)
			break;
		if (copy) {
			size_t off = 0;
			while (off < page.len) {
				struct copied c;
				memcpy(&c, page.data + off, sizeof(c));
				off += sizeof(c);
				const char *kp = page.data + off;
				const char *vp = kp + c.kl;
				off += c.kl + c.vl;
				ret = fn(kp, c.kl, vp, c.vl, ctx);
				if (ret)
					break;
			}
			if (ret)
				break;
		}
	}
	buf_release(&last);
	buf_release(&page);
	return ret;
}

/* ---- B-tree walk in a child process (store verify) ---- */

/*
 * A page whose header was damaged can make LMDB follow a wild pointer, so
 * the walk runs in a forked child: it opens its own read-only environment
 * (the parent's must not be used after fork), walks the main B-tree and
 * every sub-database entry by entry, reads each key and the first and last
 * byte of each value (which touches every leaf page and both ends of every
 * overflow run), and compares the count with the tree's header. A key or
 * value is read only once it is known to lie in the used part of the
 * child's own map of the file (mapcheck.c): a damaged node's size can reach
 * far past its page, into memory that is not the store's. It writes
 * what it found to a pipe and exits 0 (whole) or 1 (an LMDB error); a
 * signal (SIGSEGV, SIGBUS) is reported by the parent. The map is just the
 * file's size, so the child fits under the parent's `ulimit -v`.
 */
static int walk_db(MDB_txn *txn, MDB_dbi dbi, const char *name, const struct store_maps *maps, size_t used,
		   char *msg, size_t cap)
{
	MDB_cursor *cur;
	MDB_stat ms;
	int rc = mdb_stat(txn, dbi, &ms);
	if (!rc)
		rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc) {
		snprintf(msg, cap, "the '%s' B-tree: %s", name, mdb_strerror(rc));
		return 1;
	}
	volatile unsigned char sink = 0;
	uint64_t n = 0;
	MDB_val k, v;
	for (rc = store_mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = store_mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		int key_out = !store_maps_fits(maps, k.mv_data, k.mv_size, used, 0);
		if (key_out || !store_maps_fits(maps, v.mv_data, v.mv_size, used, 0)) {
			snprintf(msg, cap, "the '%s' B-tree, entry %llu: its %s (%zu bytes) lies outside the %zu bytes the data file uses",
				 name, (unsigned long long)n + 1, key_out ? "key" : "value", key_out ? k.mv_size : v.mv_size,
				 used);
			mdb_cursor_close(cur);
			return 1;
		}
		const unsigned char *kp = k.mv_data, *vp = v.mv_data;
		for (size_t i = 0; i < k.mv_size; i++)
			sink ^= kp[i];
		if (v.mv_size)
			sink ^= vp[0] ^ vp[v.mv_size - 1];
		n++;
	}
	(void)sink;
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		snprintf(msg, cap, "the '%s' B-tree, after %llu entries: %s", name, (unsigned long long)n,
			 mdb_strerror(rc));
		return 1;
	}
	if (n != ms.ms_entries) {
		snprintf(msg, cap, "the '%s' B-tree holds %llu entries but its header says %llu", name,
			 (unsigned long long)n, (unsigned long long)ms.ms_entries);
		return 1;
	}
	return 0;
}

static int walk_child(const char *dir, char *msg, size_t cap)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	MDB_env *env;
	MDB_txn *txn;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	/* the parent's own map of the file is in this process too: only the
	 * mapping this environment adds is the walk's */
	static struct store_maps before, maps;
	store_maps_init(&before, fd, path);
	store_maps_refresh(&before);
	int rc = fd < 0 || fstat(fd, &st) ? errno : mdb_env_create(&env);
	if (fd >= 0)
		close(fd);
	if (!rc)
		rc = mdb_env_set_maxdbs(env, DB__N + 2);
	if (!rc)
		rc = mdb_env_set_mapsize(env, (size_t)st.st_size);
	if (!rc)
		rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0644);
	if (!rc)
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	if (rc) {
		snprintf(msg, cap, "cannot open it for the walk: %s", mdb_strerror(rc));
		return 2;
	}
	maps = before;
	store_maps_refresh(&maps);
	store_maps_forget(&maps, &before);
	size_t used = used_bytes(env);
	if (!used || used > (size_t)st.st_size)
		used = (size_t)st.st_size;
	MDB_dbi dbi;
	int bad = 0;
	rc = store_mdb_dbi_open(txn, NULL, 0, &dbi);
	bad = rc ? (snprintf(msg, cap, "the main B-tree: %s", mdb_strerror(rc)), 1)
		 : walk_db(txn, dbi, "main", &maps, used, msg, cap);
	for (int i = 0; !bad && i < DB__N; i++) {
		rc = store_mdb_dbi_open(txn, store_db_names[i], 0, &dbi);
		if (rc == MDB_NOTFOUND)
			continue;
		bad = rc ? (snprintf(msg, cap, "the '%s' B-tree: %s", store_db_names[i], mdb_strerror(rc)), 1)
			 : walk_db(txn, dbi, store_db_names[i], &maps, used, msg, cap);
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return bad;
}

int store_btree_check(struct store *s, char *why, size_t cap)
{
	int pfd[2];
	why[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		snprintf(why, cap, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, cap, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		char msg[400] = "";
		int rc = walk_child(s->path, msg, sizeof(msg));
		if (msg[0] && write(pfd[1], msg, strlen(msg)) < 0)
			rc = 3;
		_exit(rc);
	}
	close(pfd[1]);
	size_t got = 0;
	ssize_t n;
	while (got + 1 < cap && (n = read(pfd[0], why + got, cap - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	why[got] = '\0';
	close(pfd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(why, cap, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (WIFSIGNALED(status)) {
		snprintf(why, cap, "reading its B-trees crashed LMDB (%s): a page is damaged", strsignal(WTERMSIG(status)));
		return 1;
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 3;
	if (code == 0)
		return 0;
	if (code == 1) {
		if (!why[0]) /* a sanitizer's SEGV handler exits 1 without our message */
			snprintf(why, cap, "reading its B-trees crashed LMDB: a page is damaged");
		return 1;
	}
	if (!why[0])
		snprintf(why, cap, "the checking process failed (exit %d)", code);
	return -1;
}

/* ---- test hook ---- */

int store_debug_put_raw(struct store *s, const char *db, const void *k, size_t kl, const void *v, size_t vl,
			struct err *e)
{
	for (int i = 0; i < DB__N; i++)
		if (!strcmp(store_db_names[i], db)) {
			struct wop op = { WOP_PUT, (enum store_db)i, k, kl, v, vl };
			return store_write(s, &op, 1, "debug put", e);
		}
	return err_set(e, ERR_USAGE, "no sub-database '%s'", db);
}
