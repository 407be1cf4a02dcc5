/*
 * maint.c — store maintenance: stats, verify (fsck) and gc (mark & sweep).
 *
 * stats scans "cas" once without copying (sizes and the leading bytes that
 * identify manifests and artifacts), collects the distinct chunk digests
 * manifests name, and reads entry counts of the other sub-databases from
 * mdb_stat.
 *
 * verify works like git fsck. First it walks LMDB's B-trees in a forked
 * child (env.c): a damaged page can crash LMDB, and then the answer is
 * "store damaged" instead of the crash. Then it re-hashes every blob (paged
 * scan, so no transaction stays open for long), decodes manifests,
 * artifacts, run records and action-cache values, checks the checksums of
 * run records and journal entries (run.c, journal.c), and checks that
 * everything they name exists. It never stops at the first problem: each
 * one goes to the caller's callback with its sub-database and key, and the
 * kinds are ORed into a mask.
 *
 * verify --repair (store_verify_repair) then drops what cannot be trusted:
 * blobs that fail their hash or do not decode, and the action-cache entries
 * and refs whose outputs reach a damaged or missing blob (a blob naming a
 * damaged one counts as damaged, to a fixpoint). Whole manifests and
 * artifacts stay (they are valid again once the dropped chunk is stored
 * again), run records and journals stay (history), and the runs naming
 * damaged data are reported: re-running their spec misses the dropped cache
 * entries and rebuilds the same digests (a put replaces damaged bytes, too).
 * Repair refuses while a run holds a lease: it could drop what that run is
 * writing.
 *
 * gc marks from the roots (run records: spec digest and step outputs; refs
 * holding a hex digest; action-cache "outputs") through artifacts -> parts
 * -> manifests -> chunks, then sweeps "cas". It runs in ONE write
 * transaction: LMDB admits one writer, so nothing can become reachable
 * between mark and sweep. A writer in another process may still be between
 * storing chunks and storing the run record that roots them, so blobs put
 * within the grace period ("born" stamp) are kept. --dry-run does the same
 * in a read transaction and deletes nothing.
 *
 * Live runs. The grace period alone does not protect a run in progress: a
 * step may take longer than the grace (or gc runs with --grace 0), and the
 * objects it has stored so far are reachable from nothing until its action
 * cache entry and run record land. So gc honours run leases (lease.c):
 * every unreachable blob born at or after the moment the oldest live lease
 * was taken is kept. This rather than "a live run's outputs are roots": the
 * outputs a live run has recorded are roots anyway (its run record); what
 * needs protecting is what it has not recorded yet (chunks of an object
 * still being written, an artifact before its step ends), which only the
 * birth time identifies. Re-storing a blob restarts its birth time, so an
 * old unreachable chunk that a live run stores again is kept as well. The
 * leases are listed after gc's write transaction began: a run that takes
 * its lease later cannot commit anything before gc ends, and one that took
 * it earlier is seen (steps_run takes the lease before it stores anything).
 * gc (not --dry-run) also removes lease files left by killed processes.
 */
#include "store_int.h"
#include "engrave/log.h"
#include "engrave/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a set of digests (open addressing; digests are already uniform) ---- */

struct dset {
	struct digest *k;
	uint8_t *used;
	size_t cap, n;
};

static void dset_free(struct dset *s)
{
	free(s->k);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

static size_t dset_slot(const struct dset *s, const struct digest *d)
{
	uint64_t h;
	memcpy(&h, d->b, sizeof(h));
	size_t i = (size_t)h & (s->cap - 1);
	while (s->used[i] && !digest_equal(&s->k[i], d))
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int dset_has(const struct dset *s, const struct digest *d)
{
	return s->cap && s->used[dset_slot(s, d)];
}

/* 1 added, 0 already there, -1 out of memory. */
static int dset_add(struct dset *s, const struct digest *d)
{
	if ((s->n + 1) * 2 > s->cap) {
		struct dset t = { 0 };
		t.cap = s->cap ? s->cap * 2 : 1024;
		t.k = xalloc_try_array(t.cap, sizeof(*t.k), "a digest set", NULL);
		t.used = xalloc_try_zeroed(t.cap, 1, "a digest set", NULL);
		if (!t.k || !t.used) {
			dset_free(&t);
			return -1;
		}
		for (size_t i = 0; i < s->cap; i++)
			if (s->used[i]) {
				size_t j = dset_slot(&t, &s->k[i]);
				t.used[j] = 1;
				t.k[j] = s->k[i];
				t.n++;
			}
		dset_free(s);
		*s = t;
	}
	size_t i = dset_slot(s, d);
	if (s->used[i])
		return 0;
	s->used[i] = 1;
	s->k[i] = *d;
	s->n++;
	return 1;
}

/* ---- stats ---- */

struct stats_ctx {
	struct store_stats *st;
	struct dset chunks;
	int oom;
};

static int stats_chunk(const struct digest *d, void *ctx)
{
	struct stats_ctx *c = ctx;
	if (dset_add(&c->chunks, d) < 0)
		c->oom = 1;
	return 0;
}

static int stats_blob(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	(void)k, (void)kl;
	struct stats_ctx *c = ctx;
	c->st->blobs++;
	c->st->blob_bytes += vl;
	enum blob_kind kind = store_blob_kind(v, vl);
	if (kind == BLOB_MANIFEST) {
		uint64_t size = 0;
		if (!store_manifest_walk(v, vl, &size, stats_chunk, c, NULL)) {
			c->st->objects++;
			c->st->logical_bytes += size;
		}
	} else if (kind == BLOB_ARTIFACT) {
		c->st->artifacts++;
	}
	return 0;
}

int store_stats(struct store *s, struct store_stats *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct stats_ctx c = { out, { 0 }, 0 };
	int ret = store_scan(s, DB_CAS, "", 0, 0, stats_blob, &c, e);
	if (!ret && c.oom)
		ret = err_set(e, ERR_NOSPACE, "out of memory counting chunks");
	MDB_txn *txn = NULL;
	if (!ret && store_rtxn_begin(s, &txn, e))
		ret = -1;
	if (!ret) {
		out->chunks = c.chunks.n;
		for (size_t i = 0; i < c.chunks.cap; i++) {
			MDB_val v;
			if (c.chunks.used[i] && store_get_in(s, txn, DB_CAS, c.chunks.k[i].b, DIGEST_LEN, &v, NULL) == 1)
				out->chunk_bytes += v.mv_size;
		}
		MDB_stat ms;
		if (!mdb_stat(txn, s->dbi[DB_RUNS], &ms))
			out->runs = ms.ms_entries;
		if (!mdb_stat(txn, s->dbi[DB_REFS], &ms))
			out->refs = ms.ms_entries;
		if (!mdb_stat(txn, s->dbi[DB_AC], &ms))
			out->actions = ms.ms_entries;
		if (!mdb_stat(txn, s->dbi[DB_JOURNAL], &ms)) {
			MDB_val fv;
			out->journal_entries = ms.ms_entries; /* less the format entry (journal.c) */
			if (ms.ms_entries && store_get_in(s, txn, DB_JOURNAL, "\0format", 7, &fv, NULL) == 1)
				out->journal_entries--;
		}
		MDB_envinfo info;
		MDB_stat es;
		if (!mdb_env_info(s->env, &info) && !mdb_env_stat(s->env, &es)) {
			out->map_size = info.me_mapsize;
			out->page_size = es.ms_psize;
			out->map_used = (uint64_t)(info.me_last_pgno + 1) * es.ms_psize;
		}
		store_rtxn_end(s, txn);
	}
	out->dedup_ratio = out->chunk_bytes ? (double)out->logical_bytes / (double)out->chunk_bytes : 1.0;
	dset_free(&c.chunks);
	return ret;
}

/* ---- verify ---- */

struct need {
	struct digest d;
	enum store_db from_db;
	struct digest parent; /* the naming blob (cas) or action key (ac) */
	char *name;           /* repair: the naming ref or run id (malloc'd) */
	char from[96];
};

struct verify_ctx {
	struct store *s;
	struct store_verify_result *res;
	int (*cb)(const struct store_problem *p, void *ctx);
	void *cb_ctx;
	struct need *need;
	size_t n_need, cap_need;
	const char *cur_from; /* for walk callbacks */
	enum store_db cur_db;
	struct digest cur_parent;
	const char *cur_name;
	int repair;
	struct dset bad;     /* repair: blobs that do not hash to their key or do not decode */
	struct dset missing; /* repair: digests named but absent */
	int oom;
};

static void problem(struct verify_ctx *c, unsigned kind, enum store_db db, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void problem(struct verify_ctx *c, unsigned kind, enum store_db db, const char *key, const char *fmt, ...)
{
	struct store_problem p;
	memset(&p, 0, sizeof(p));
	p.kind = kind;
	p.db = db < DB__N ? store_db_names[db] : "store";
	snprintf(p.key, sizeof(p.key), "%s", key ? key : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p.detail, sizeof(p.detail), fmt, ap);
	va_end(ap);
	c->res->problems++;
	c->res->mask |= kind;
	if (c->cb)
		c->cb(&p, c->cb_ctx);
}

static void mark_bad(struct verify_ctx *c, const void *k, size_t kl)
{
	struct digest d;
	if (!c->repair || kl != DIGEST_LEN)
		return;
	memcpy(d.b, k, DIGEST_LEN);
	if (dset_add(&c->bad, &d) < 0)
		c->oom = 1;
}

static int need_add(const struct digest *d, void *ctx)
{
	struct verify_ctx *c = ctx;
	if (c->n_need == c->cap_need) {
		size_t nc = c->cap_need ? c->cap_need * 2 : 256;
		struct need *p = xalloc_try_resize(c->need, nc, sizeof(*p), "verify's list of names", NULL);
		if (!p) {
			c->oom = 1;
			return 0;
		}
		c->need = p;
		c->cap_need = nc;
	}
	struct need *n = &c->need[c->n_need++];
	n->d = *d;
	n->from_db = c->cur_db;
	n->parent = c->cur_parent;
	n->name = c->repair && c->cur_name ? xstrdup(c->cur_name) : NULL;
	snprintf(n->from, sizeof(n->from), "%s", c->cur_from);
	return 0;
}

static int verify_blob(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct verify_ctx *c = ctx;
	char key[160];
	store_key_text(k, kl, key, sizeof(key));
	c->res->blobs++;
	c->res->bytes += vl;
	if (kl != DIGEST_LEN) {
		problem(c, STORE_PROB_HASH, DB_CAS, key, "key is %zu bytes, not a SHA-256 digest", kl);
		return 0;
	}
	struct digest d, want;
	memcpy(want.b, k, DIGEST_LEN);
	hash_bytes(v, vl, &d);
	if (!digest_equal(&d, &want)) {
		char got[DIGEST_HEX_LEN + 1];
		digest_to_hex(&d, got);
		problem(c, STORE_PROB_HASH, DB_CAS, key, "%zu bytes hash to %s", vl, got);
		mark_bad(c, k, kl);
		return 0;
	}
	enum blob_kind kind = store_blob_kind(v, vl);
	char from[96];
	snprintf(from, sizeof(from), "%s %.16s", kind == BLOB_MANIFEST ? "object" : "artifact", key);
	c->cur_from = from;
	c->cur_db = DB_CAS;
	c->cur_parent = want;
	c->cur_name = NULL;
	struct err e = ERR_INIT;
	if (kind == BLOB_MANIFEST) {
		c->res->objects++;
		if (store_manifest_walk(v, vl, NULL, need_add, c, &e)) {
			problem(c, STORE_PROB_ENCODING, DB_CAS, key, "bad manifest: %s", e.msg);
			mark_bad(c, k, kl);
		}
	} else if (kind == BLOB_ARTIFACT) {
		c->res->artifacts++;
		if (store_artifact_walk(v, vl, need_add, c, &e)) {
			problem(c, STORE_PROB_ENCODING, DB_CAS, key, "bad artifact: %s", e.msg);
			mark_bad(c, k, kl);
		}
	}
	return 0;
}

static int verify_run(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct verify_ctx *c = ctx;
	char key[160];
	store_key_text(k, kl, key, sizeof(key));
	c->res->runs++;
	struct run_record *r = xmalloc(sizeof(*r));
	struct err e = ERR_INIT;
	if (run_record_decode(v, vl, r, &e)) {
		problem(c, strstr(e.msg, "checksum") ? STORE_PROB_CHECKSUM : STORE_PROB_ENCODING, DB_RUNS, key,
			"undecodable run record: %s", e.msg);
	} else if (strlen(r->id) != kl || memcmp(r->id, k, kl)) {
		problem(c, STORE_PROB_ENCODING, DB_RUNS, key, "the record holds run id '%s'", r->id);
	} else {
		c->cur_db = DB_RUNS;
		memset(&c->cur_parent, 0, sizeof(c->cur_parent));
		c->cur_name = r->id;
		for (int i = 0; i < r->n_steps; i++) {
			char from[96];
			snprintf(from, sizeof(from), "run %.48s step %.32s", key, r->steps[i].name);
			c->cur_from = from;
			for (int j = 0; j < r->steps[i].n_out; j++)
				need_add(&r->steps[i].out[j], c);
		}
	}
	run_record_release(r);
	free(r);
	return 0;
}

static int verify_ac(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct verify_ctx *c = ctx;
	char key[160], from[96];
	store_key_text(k, kl, key, sizeof(key));
	c->res->actions++;
	int n = 0;
	if (kl != DIGEST_LEN || ac_value_decode(v, vl, NULL, 0, &n, NULL, NULL) || n <= 0)
		return 0; /* opaque value: roots nothing, not a problem */
	struct digest *outs = xalloc_try_array((size_t)n, sizeof(*outs), "an action's list of outputs", NULL);
	if (!outs) {
		c->oom = 1;
		return 0;
	}
	ac_value_decode(v, vl, outs, n, &n, NULL, NULL);
	snprintf(from, sizeof(from), "action %.16s", key);
	c->cur_from = from;
	c->cur_db = DB_AC;
	memcpy(c->cur_parent.b, k, DIGEST_LEN);
	c->cur_name = NULL;
	for (int i = 0; i < n; i++)
		need_add(&outs[i], c);
	free(outs);
	return 0;
}

static int is_hex_digest(const char *v, size_t n, struct digest *d)
{
	if (n != DIGEST_HEX_LEN)
		return 0;
	char tmp[DIGEST_HEX_LEN + 1];
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	return digest_from_hex(tmp, d, NULL) == 0;
}

static int verify_ref(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct verify_ctx *c = ctx;
	char key[160], from[96], name[512];
	store_key_text(k, kl, key, sizeof(key));
	c->res->refs++;
	struct digest d;
	if (is_hex_digest(v, vl, &d) && kl < sizeof(name)) {
		memcpy(name, k, kl);
		name[kl] = '\0';
		snprintf(from, sizeof(from), "ref %.80s", key);
		c->cur_from = from;
		c->cur_db = DB_REFS;
		memset(&c->cur_parent, 0, sizeof(c->cur_parent));
		c->cur_name = name;
		need_add(&d, c);
	}
	return 0;
}

/* Journal entries carry a checksum (journal.c); the format entry says
 * which runs' entries must. */
static int verify_journal(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct verify_ctx *c = ctx;
	char key[400];
	if (journal_is_format_key(k, kl)) {
		char from[32];
		if (journal_format_check(v, vl, from, sizeof(from)))
			problem(c, STORE_PROB_CHECKSUM, DB_JOURNAL, "(format)",
				"the journal format entry is damaged; every journal entry is checked strictly");
		return 0;
	}
	c->res->journal_entries++;
	journal_key_text(k, kl, key, sizeof(key));
	const char *a = memchr(k, '\0', kl);
	const char *b = a ? memchr(a + 1, '\0', kl - (size_t)(a + 1 - (const char *)k)) : NULL;
	if (!a || !b || a == k || b == a + 1) {
		problem(c, STORE_PROB_ENCODING, DB_JOURNAL, key, "key is not run/stream/key");
		return 0;
	}
	size_t ulen;
	const char *why;
	if (journal_value_check(c->s, k, kl, v, vl, &ulen, &why))
		problem(c, STORE_PROB_CHECKSUM, DB_JOURNAL, key, "run %.*s stream %.*s: %s", (int)(a - (const char *)k),
			(const char *)k, (int)(b - a - 1), a + 1, why);
	return 0;
}

static void scan_db(struct store *s, struct verify_ctx *c, enum store_db db, store_scan_fn fn)
{
	struct err e = ERR_INIT;
	if (store_scan(s, db, "", 0, 0, fn, c, &e))
		problem(c, STORE_PROB_LMDB, db, NULL, "scan stopped: %s", e.msg);
}

const char *store_problem_name(unsigned kind)
{
	switch (kind) {
	case STORE_PROB_HASH: return "hash-mismatch";
	case STORE_PROB_ENCODING: return "bad-encoding";
	case STORE_PROB_MISSING: return "missing";
	case STORE_PROB_LMDB: return "lmdb-error";
	case STORE_PROB_CHECKSUM: return "checksum-mismatch";
	default: return "problem";
	}
}

/* Everything named must exist; checked in pages of short transactions. */
static int check_named(struct store *s, struct verify_ctx *c, struct err *e)
{
	for (size_t i = 0; i < c->n_need;) {
		MDB_txn *txn;
		if (store_rtxn_begin(s, &txn, e))
			return -1;
		size_t end = i + 4096 < c->n_need ? i + 4096 : c->n_need;
		size_t first_missing = c->n_need;
		int lmdb_err = 0;
		struct err ge = ERR_INIT;
		for (; i < end; i++) {
			MDB_val v;
			int rc = store_get_in(s, txn, DB_CAS, c->need[i].d.b, DIGEST_LEN, &v, &ge);
			if (rc == 0) {
				first_missing = i;
				break;
			}
			if (rc < 0) {
				lmdb_err = 1;
				break;
			}
		}
		store_rtxn_end(s, txn);
		if (first_missing < c->n_need || lmdb_err) {
			char hex[DIGEST_HEX_LEN + 1];
			digest_to_hex(&c->need[i].d, hex);
			if (lmdb_err) {
				problem(c, STORE_PROB_LMDB, DB_CAS, hex, "named by %s: %s", c->need[i].from, ge.msg);
			} else {
				problem(c, STORE_PROB_MISSING, DB_CAS, hex, "named by %s (in %s) but absent", c->need[i].from,
					store_db_names[c->need[i].from_db]);
				if (c->repair && dset_add(&c->missing, &c->need[i].d) < 0)
					c->oom = 1;
			}
			i++;
		}
	}
	return 0;
}

/* ---- repair ---- */

static int refuse_if_live(const struct run_lease_info *li, void *ctx)
{
	struct err *e = ctx;
	char since[40];
	clock_format_iso8601(li->since, since, sizeof(since));
	err_set(e, ERR_BUSY, "cannot repair the store while run %s is in progress (pid %ld on host %s, since %s)",
		li->run_id, li->pid, li->host[0] ? li->host : "unknown", since);
	err_hint(e, "repair drops what live runs may be writing; run it again when the run has ended");
	return -1;
}

static void report_fix(struct verify_ctx *c, int (*fix)(const struct store_repair_item *it, void *ctx), int dropped,
		       enum store_db db, const char *key, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void report_fix(struct verify_ctx *c, int (*fix)(const struct store_repair_item *it, void *ctx), int dropped,
		       enum store_db db, const char *key, const char *fmt, ...)
{
	struct store_repair_item it;
	memset(&it, 0, sizeof(it));
	it.dropped = dropped;
	it.db = store_db_names[db];
	snprintf(it.key, sizeof(it.key), "%s", key);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(it.detail, sizeof(it.detail), fmt, ap);
	va_end(ap);
	if (fix)
		fix(&it, c->cb_ctx);
}

/*
 * What repair drops: damaged blobs (D0 = bad), and every action-cache entry
 * and ref whose outputs reach D = bad + missing through artifacts and
 * manifests (a whole manifest naming a dropped chunk is kept: it is valid
 * again once a re-run stores the chunk). Run records naming D are reported,
 * not dropped (history; re-running their spec rebuilds the data).
 */
static int repair(struct store *s, struct verify_ctx *c, int (*fix)(const struct store_repair_item *it, void *ctx),
		  struct store_repair_result *rr, struct err *e)
{
	struct dset dmg = { 0 }, acts = { 0 };
	struct wop *ops = NULL;
	size_t n_ops = 0, cap_ops = 0;
	int ret = -1;
	char **names = NULL; /* refs to drop, runs reported (borrowed from need) */
	size_t n_names = 0;
	for (size_t i = 0; i < c->bad.cap; i++)
		if (c->bad.used[i] && dset_add(&dmg, &c->bad.k[i]) < 0)
			goto oom;
	for (size_t i = 0; i < c->missing.cap; i++)
		if (c->missing.used[i] && dset_add(&dmg, &c->missing.k[i]) < 0)
			goto oom;
	for (int changed = dmg.n > 0; changed;) { /* a blob naming a damaged one is damaged */
		changed = 0;
		for (size_t i = 0; i < c->n_need; i++)
			if (c->need[i].from_db == DB_CAS && dset_has(&dmg, &c->need[i].d) &&
			    !dset_has(&dmg, &c->need[i].parent)) {
				if (dset_add(&dmg, &c->need[i].parent) < 0)
					goto oom;
				changed = 1;
			}
	}
	if (run_lease_list(s, 0, refuse_if_live, e, e))
		goto out;
	cap_ops = 2 * c->bad.n + c->n_need + 1;
	ops = xalloc_try_array(cap_ops, sizeof(*ops), "the repair's list of deletions", e);
	names = xalloc_try_zeroed(c->n_need + 1, sizeof(*names), "the repair's list of names", e);
	if (!ops || !names)
		goto out;
	for (size_t i = 0; i < c->bad.cap; i++)
		if (c->bad.used[i]) {
			char hex[DIGEST_HEX_LEN + 1];
			digest_to_hex(&c->bad.k[i], hex);
			ops[n_ops++] = (struct wop){ WOP_DEL, DB_CAS, c->bad.k[i].b, DIGEST_LEN, NULL, 0 };
			ops[n_ops++] = (struct wop){ WOP_DEL, DB_BORN, c->bad.k[i].b, DIGEST_LEN, NULL, 0 };
			rr->blobs++;
			report_fix(c, fix, 1, DB_CAS, hex, "does not hash to its key or does not decode");
		}
	for (size_t i = 0; i < c->n_need; i++) {
		struct need *nd = &c->need[i];
		if (!dset_has(&dmg, &nd->d) || nd->from_db == DB_CAS)
			continue;
		char hex[DIGEST_HEX_LEN + 1], pk[DIGEST_HEX_LEN + 1];
		digest_to_hex(&nd->d, hex);
		int seen = 0;
		if (nd->from_db == DB_AC) {
			int added = dset_add(&acts, &nd->parent);
			if (added < 0)
				goto oom;
			if (!added)
				continue;
			digest_to_hex(&nd->parent, pk);
			ops[n_ops++] = (struct wop){ WOP_DEL, DB_AC, nd->parent.b, DIGEST_LEN, NULL, 0 };
			rr->actions++;
			report_fix(c, fix, 1, DB_AC, pk, "its output %.16s is damaged or missing", hex);
			continue;
		}
		if (!nd->name)
			continue;
		for (size_t j = 0; j < n_names && !seen; j++)
			seen = !strcmp(names[j], nd->name);
		if (seen)
			continue;
		names[n_names++] = nd->name;
		if (nd->from_db == DB_REFS) {
			ops[n_ops++] = (struct wop){ WOP_DEL, DB_REFS, nd->name, strlen(nd->name), NULL, 0 };
			rr->refs++;
			report_fix(c, fix, 1, DB_REFS, nd->name, "points at damaged or missing %.16s", hex);
		} else if (nd->from_db == DB_RUNS) {
			rr->runs++;
			report_fix(c, fix, 0, DB_RUNS, nd->name,
				   "%s names damaged or missing %.16s: re-run its spec to rebuild it", nd->from, hex);
		}
	}
	if (n_ops && store_write(s, ops, n_ops, "repair: cannot drop the damaged entries", e))
		goto out;
	ret = 0;
	goto out;
oom:
	ret = err_set(e, ERR_NOSPACE, "out of memory during repair");
out:
	free(ops);
	free(names);
	dset_free(&dmg);
	dset_free(&acts);
	return ret;
}

static int verify_run_all(struct store *s, int do_repair, int (*cb)(const struct store_problem *p, void *ctx),
			  int (*fix)(const struct store_repair_item *it, void *ctx), void *ctx,
			  struct store_verify_result *out, struct store_repair_result *rr, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (rr)
		memset(rr, 0, sizeof(*rr));
	struct verify_ctx c;
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.res = out;
	c.cb = cb;
	c.cb_ctx = ctx;
	c.cur_from = "";
	c.repair = do_repair;
	int ret = 0;
	if (do_repair && run_lease_list(s, 0, refuse_if_live, e, e))
		return -1;
	/* The B-trees first, in a child: a damaged page can crash LMDB (env.c). */
	char why[400];
	int walked = store_btree_check(s, why, sizeof(why));
	if (walked > 0) {
		problem(&c, STORE_PROB_LMDB, DB__N, s->path, "%s", why);
		err_set(e, ERR_CORRUPT, "store damaged: %s: %s", s->path, why);
		return err_hint(e, "restore the store from a backup, or move it aside and re-run your specs into a new "
				   "one (--store DIR)");
	}
	if (walked < 0)
		log_warn("store verify: could not check the B-trees in a child process (%s); checking in-process", why);
	scan_db(s, &c, DB_CAS, verify_blob);
	scan_db(s, &c, DB_RUNS, verify_run);
	scan_db(s, &c, DB_AC, verify_ac);
	scan_db(s, &c, DB_REFS, verify_ref);
	scan_db(s, &c, DB_JOURNAL, verify_journal);
	if (!c.oom && check_named(s, &c, e))
		ret = -1;
	if (!ret && c.oom)
		ret = err_set(e, ERR_NOSPACE, "out of memory during verify");
	if (!ret && do_repair && out->problems)
		ret = repair(s, &c, fix, rr, e);
	for (size_t i = 0; i < c.n_need; i++)
		free(c.need[i].name);
	free(c.need);
	dset_free(&c.bad);
	dset_free(&c.missing);
	return ret;
}

int store_verify(struct store *s, int (*cb)(const struct store_problem *p, void *ctx), void *ctx,
		 struct store_verify_result *out, struct err *e)
{
	return verify_run_all(s, 0, cb, NULL, ctx, out, NULL, e);
}

int store_verify_repair(struct store *s, int (*cb)(const struct store_problem *p, void *ctx),
			int (*fix)(const struct store_repair_item *it, void *ctx), void *ctx,
			struct store_verify_result *out, struct store_repair_result *rr, struct err *e)
{
	return verify_run_all(s, 1, cb, fix, ctx, out, rr, e);
}

/* ---- gc ---- */

struct mark_ctx {
	struct digest *stack;
	size_t n, cap;
	int oom;
};

static int push(const struct digest *d, void *ctx)
{
	struct mark_ctx *m = ctx;
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 256;
		struct digest *p = xalloc_try_resize(m->stack, nc, sizeof(*p), "gc's mark stack", NULL);
		if (!p) {
			m->oom = 1;
			return 1;
		}
		m->stack = p;
		m->cap = nc;
	}
	m->stack[m->n++] = *d;
	return 0;
}

static int cursor_each(struct store *s, MDB_txn *txn, enum store_db db,
		       int (*fn)(const MDB_val *k, const MDB_val *v, struct mark_ctx *m), struct mark_ctx *m,
		       struct err *e)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, s->dbi[db], &cur);
	if (rc)
		return store_mdb_err(e, rc, db, NULL, "gc: cannot open a cursor");
	MDB_val k, v;
	for (rc = store_mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = store_mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (store_entry_in_map(s, db, &k, &v, e)) {
			mdb_cursor_close(cur);
			return err_prefix(e, "gc");
		}
		if (fn(&k, &v, m))
			break;
	}
	mdb_cursor_close(cur);
	if (m->oom)
		return err_set(e, ERR_NOSPACE, "gc: out of memory");
	if (rc && rc != MDB_NOTFOUND)
		return store_mdb_err(e, rc, db, NULL, "gc: cannot scan");
	return 0;
}

static int root_run(const MDB_val *k, const MDB_val *v, struct mark_ctx *m)
{
	(void)k;
	struct run_record *r = xmalloc(sizeof(*r));
	if (!run_record_decode(v->mv_data, v->mv_size, r, NULL)) {
		if (!digest_is_zero(&r->spec_digest))
			push(&r->spec_digest, m);
		for (int i = 0; i < r->n_steps; i++)
			for (int j = 0; j < r->steps[i].n_out; j++)
				push(&r->steps[i].out[j], m);
		run_record_release(r);
	}
	free(r);
	return m->oom;
}

static int root_ref(const MDB_val *k, const MDB_val *v, struct mark_ctx *m)
{
	(void)k;
	struct digest d;
	if (is_hex_digest(v->mv_data, v->mv_size, &d))
		push(&d, m);
	return m->oom;
}

static int root_ac(const MDB_val *k, const MDB_val *v, struct mark_ctx *m)
{
	(void)k;
	int n = 0;
	if (ac_value_decode(v->mv_data, v->mv_size, NULL, 0, &n, NULL, NULL) || n <= 0)
		return 0;
	struct digest *outs = xmalloc_array((size_t)n, sizeof(*outs));
	ac_value_decode(v->mv_data, v->mv_size, outs, n, &n, NULL, NULL);
	for (int i = 0; i < n; i++)
		push(&outs[i], m);
	free(outs);
	return m->oom;
}

struct live_ctx {
	int64_t since; /* the oldest live lease, INT64_MAX if none */
	int n;
	char id[48];
};

static int oldest_live(const struct run_lease_info *li, void *ctx)
{
	struct live_ctx *c = ctx;
	c->n++;
	if (li->since < c->since) {
		c->since = li->since;
		snprintf(c->id, sizeof(c->id), "%s", li->run_id);
	}
	return 0;
}

static int gc_once(struct store *s, int dry_run, uint64_t grace_ns,
		   int (*cb)(const struct digest *d, uint64_t size, void *ctx), void *ctx, struct store_gc_result *out,
		   int *map_full, struct err *e)
{
	memset(out, 0, sizeof(*out));
	*map_full = 0;
	MDB_txn *txn;
	if (dry_run ? store_rtxn_begin(s, &txn, e) : store_wtxn_begin(s, &txn, e))
		return -1;
	struct mark_ctx m = { 0 };
	struct dset marked = { 0 };
	MDB_cursor *cur = NULL;
	int ret = -1, rc;
	struct live_ctx live = { INT64_MAX, 0, "" };
	if (run_lease_list(s, !dry_run, oldest_live, &live, e))
		goto out;
	out->live_runs = live.n;
	snprintf(out->oldest_live, sizeof(out->oldest_live), "%s", live.id);
	if (cursor_each(s, txn, DB_RUNS, root_run, &m, e) || cursor_each(s, txn, DB_REFS, root_ref, &m, e) ||
	    cursor_each(s, txn, DB_AC, root_ac, &m, e))
		goto out;
	/* Mark. */
	while (m.n) {
		struct digest d = m.stack[--m.n];
		int added = dset_add(&marked, &d);
		if (added < 0) {
			err_set(e, ERR_NOSPACE, "gc: out of memory");
			goto out;
		}
		if (!added)
			continue;
		MDB_val v;
		int got = store_get_in(s, txn, DB_CAS, d.b, DIGEST_LEN, &v, e);
		if (got < 0)
			goto out;
		if (!got)
			continue;
		enum blob_kind kind = store_blob_kind(v.mv_data, v.mv_size);
		if (kind == BLOB_MANIFEST)
			store_manifest_walk(v.mv_data, v.mv_size, NULL, push, &m, NULL);
		else if (kind == BLOB_ARTIFACT)
			store_artifact_walk(v.mv_data, v.mv_size, push, &m, NULL);
		if (m.oom) {
			err_set(e, ERR_NOSPACE, "gc: out of memory");
			goto out;
		}
	}
	/* Sweep. */
	rc = mdb_cursor_open(txn, s->dbi[DB_CAS], &cur);
	if (rc) {
		store_mdb_err(e, rc, DB_CAS, NULL, "gc: cannot open a cursor");
		goto out;
	}
	int64_t now = clock_unix_now();
	MDB_val k, v;
	for (rc = store_mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = store_mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct digest d;
		if (k.mv_size != DIGEST_LEN)
			continue;
		MDB_val nothing = { 0, NULL }; /* only the value's size is used */
		if (store_entry_in_map(s, DB_CAS, &k, &nothing, e)) {
			err_prefix(e, "gc");
			goto out;
		}
		memcpy(d.b, k.mv_data, DIGEST_LEN);
		if (dset_has(&marked, &d)) {
			out->reachable++;
			continue;
		}
		MDB_val b;
		if (store_get_in(s, txn, DB_BORN, d.b, DIGEST_LEN, &b, NULL) == 1 && b.mv_size == 8) {
			uint64_t t = 0;
			for (int i = 0; i < 8; i++)
				t = t << 8 | ((const uint8_t *)b.mv_data)[i];
			if ((int64_t)t + (int64_t)grace_ns > now) {
				out->young++;
				continue;
			}
			if ((int64_t)t >= live.since) {
				out->live++;
				continue;
			}
		} else if (live.n) { /* no birth time: keep it while a run is live */
			out->live++;
			continue;
		}
		out->dropped++;
		out->dropped_bytes += v.mv_size;
		if (cb)
			cb(&d, v.mv_size, ctx);
		if (!dry_run) {
			MDB_val bk = { DIGEST_LEN, d.b };
			rc = mdb_cursor_del(cur, 0);
			if (!rc) {
				rc = mdb_del(txn, s->dbi[DB_BORN], &bk, NULL);
				if (rc == MDB_NOTFOUND)
					rc = 0;
			}
			if (rc)
				break;
		}
	}
	mdb_cursor_close(cur);
	cur = NULL;
	if (rc && rc != MDB_NOTFOUND) {
		*map_full = rc == MDB_MAP_FULL;
		store_mdb_err(e, rc, DB_CAS, NULL, "gc: cannot sweep");
		goto out;
	}
	ret = 0;
out:
	if (cur)
		mdb_cursor_close(cur);
	free(m.stack);
	dset_free(&marked);
	if (dry_run) {
		store_rtxn_end(s, txn);
	} else if (ret) {
		store_wtxn_abort(s, txn);
	} else {
		rc = store_wtxn_commit(s, txn);
		if (rc) {
			*map_full = rc == MDB_MAP_FULL;
			ret = store_mdb_err(e, rc, DB_CAS, NULL, "gc: cannot commit");
		}
	}
	return ret;
}

int store_gc(struct store *s, int dry_run, uint64_t grace_ns,
	     int (*cb)(const struct digest *d, uint64_t size, void *ctx), void *ctx, struct store_gc_result *out,
	     struct err *e)
{
	for (int attempt = 0;; attempt++) {
		int full = 0;
		if (!gc_once(s, dry_run, grace_ns, cb, ctx, out, &full, e))
			return 0;
		if (!full || attempt > 8)
			return -1;
		err_clear(e);
		if (store_grow(s, e))
			return -1;
	}
}
