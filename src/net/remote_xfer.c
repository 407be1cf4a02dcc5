/*
 * remote_xfer.c — blob graphs to and from a remote, through the pump.
 *
 * A batch is one kind of request (HEAD, PUT or GET) over an array of jobs,
 * one per blob, run by pump.h (the window, retries with backoff and
 * Retry-After, the attempt limit). What a response means is decided here,
 * once: 401/403 stops the batch with the credentials hint; a transport
 * error, 408, 429 or 5xx is retried; HEAD 200/404 say present/absent; a
 * GET body must hash to the blob's digest or the batch fails ERR_CORRUPT
 * and nothing of it is stored.
 *
 * The order that makes transfers resumable (remote.c has the overview):
 * push HEADs, then PUTs level by level (raw blobs and chunks, manifests,
 * artifacts); pull GETs breadth first and stores parents after children.
 */
#include "net/remote_int.h"
#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/pump.h"
#include "engrave/retry.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define BLOB_BODY_MAX (1ULL << 30)
#define BLOB_TIMEOUT_NS (300ULL * NS_PER_S)

enum xop { XOP_HEAD, XOP_PUT, XOP_GET };
static const char *const xop_method[] = { "HEAD", "PUT", "GET" };

struct xitem {
	struct digest d;
	int level; /* 0 raw blob or chunk, 1 manifest, 2 artifact; -1 not known yet */
};

struct xjob {
	struct digest d;
	int present; /* HEAD: the remote holds it */
	struct buf url, body;
};

struct xbatch {
	struct remote *r;
	struct store *s;
	enum xop op;
	struct xjob *jobs;
	size_t n, next;
	struct progress prog;
	/* GET: a verified body; 0 or -1 (e set). */
	int (*got)(struct xbatch *b, struct xjob *j, struct err *e);
	void *ctx;
};

/* ---- item lists ---- */

struct xlist {
	struct xitem *v;
	size_t n, cap;
};

static int xlist_add(struct xlist *l, const struct digest *d, int level, struct err *e)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		struct xitem *p = xalloc_try_resize(l->v, nc, sizeof(*p), "a list of blobs to transfer", e);
		if (!p)
			return -1;
		l->v = p;
		l->cap = nc;
	}
	l->v[l->n++] = (struct xitem){ *d, level };
	return 0;
}

static int cmp_item(const void *a, const void *b)
{
	const struct xitem *x = a, *y = b;
	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	return memcmp(x->d.b, y->d.b, DIGEST_LEN);
}

static int cmp_digest(const void *a, const void *b)
{
	return memcmp(((const struct xitem *)a)->d.b, ((const struct xitem *)b)->d.b, DIGEST_LEN);
}

/* Drop repeated digests (keeping the highest level seen), then sort by
 * (level, digest): a batch per level sends children before parents. */
static void xlist_sort_unique(struct xlist *l)
{
	qsort(l->v, l->n, sizeof(*l->v), cmp_digest);
	size_t o = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (o && !memcmp(l->v[o - 1].d.b, l->v[i].d.b, DIGEST_LEN)) {
			if (l->v[i].level > l->v[o - 1].level)
				l->v[o - 1].level = l->v[i].level;
			continue;
		}
		l->v[o++] = l->v[i];
	}
	l->n = o;
	qsort(l->v, l->n, sizeof(*l->v), cmp_item);
}

/* ---- one batch through the pump ---- */

static int x_next(void *ctx, void **job, struct err *e)
{
	(void)e;
	struct xbatch *b = ctx;
	if (b->next >= b->n)
		return 0;
	*job = &b->jobs[b->next++];
	return 1;
}

static int x_build(void *ctx, void *job, struct http_request *rq, struct err *e)
{
	struct xbatch *b = ctx;
	struct xjob *j = job;
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(&j->d, hex);
	buf_reset(&j->url);
	if (buf_printf(&j->url, e, "%s/cas/%s", b->r->url, hex))
		return -1;
	if (b->op == XOP_PUT && !j->body.len && cas_get(b->s, &j->d, &j->body, 1, e))
		return err_prefix(e, "cannot push blob %.16s", hex);
	*rq = (struct http_request){ xop_method[b->op], j->url.data, b->r->hdr, b->r->n_hdr, NULL, 0,
				     BLOB_TIMEOUT_NS, BLOB_BODY_MAX };
	if (b->op == XOP_PUT) {
		rq->body = j->body.len ? j->body.data : "";
		rq->body_len = j->body.len;
	}
	return 0;
}

static enum pump_verdict x_done(struct xbatch *b, struct xjob *j, const struct http_response *rs, struct err *e)
{
	struct remote_stats *st = &b->r->st;
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(&j->d, hex);
	if (b->op == XOP_HEAD) {
		st->heads++;
		j->present = rs->status == 200;
		return PUMP_DONE;
	}
	if (b->op == XOP_PUT) {
		st->puts++;
		st->sent++;
		st->sent_bytes += j->body.len;
		buf_release(&j->body);
		buf_init(&j->body, 0);
		return PUMP_DONE;
	}
	st->gets++;
	struct digest got;
	hash_bytes(rs->body.data, rs->body.len, &got);
	if (!digest_equal(&got, &j->d)) {
		err_set(e, ERR_CORRUPT, "remote blob %s at %s does not hash to its digest (damaged on the server); "
			"nothing of it was stored", hex, j->url.data);
		err_hint(e, "delete that file on the server and push the blob again from a store that holds it");
		return PUMP_FAIL;
	}
	st->fetched++;
	st->fetched_bytes += rs->body.len;
	buf_reset(&j->body);
	if (buf_append(&j->body, rs->body.data, rs->body.len, e) || b->got(b, j, e))
		return PUMP_FAIL;
	return PUMP_DONE;
}

static enum pump_verdict x_outcome(void *ctx, void *job, const struct pump_outcome *o, struct err *e)
{
	struct xbatch *b = ctx;
	struct xjob *j = job;
	const struct http_response *rs = o->rs;
	const char *m = xop_method[b->op];
	if (rs->status == 401 || rs->status == 403) {
		remote_auth_error(b->r, m, j->url.data, rs->status, e);
		return PUMP_FAIL;
	}
	if (retry_should(rs, rs->status == 0))
		return PUMP_RETRY;
	int ok = b->op == XOP_HEAD ? rs->status == 200 || rs->status == 404
		 : b->op == XOP_PUT ? rs->status >= 200 && rs->status <= 299
				    : rs->status == 200;
	if (!ok && b->op == XOP_GET && rs->status == 404) {
		char hex[DIGEST_HEX_LEN + 1];
		digest_to_hex(&j->d, hex);
		err_set(e, ERR_MISSING, "the remote has no blob %s (%s)", hex, j->url.data);
		err_hint(e, "push it again from the store that holds it ('engrave push')");
		return PUMP_FAIL;
	}
	if (!ok) {
		remote_status_error(m, j->url.data, rs, e);
		return PUMP_FAIL;
	}
	enum pump_verdict v = x_done(b, j, rs, e);
	progress_add(&b->prog, 1, 0, 0);
	return v;
}

static int x_exhausted(void *ctx, void *job, const struct pump_outcome *o, struct err *e)
{
	struct xbatch *b = ctx;
	struct xjob *j = job;
	remote_status_error(xop_method[b->op], j->url.data, o->rs, e);
	return err_prefix(e, "after %d attempts", o->attempt);
}

/* Run `op` over items[0..n) into jobs (caller frees them with jobs_free). */
static int run_batch(struct xbatch *b, const struct xitem *items, size_t n, const char *label, struct err *e)
{
	b->jobs = xalloc_try_zeroed(n ? n : 1, sizeof(*b->jobs), "a transfer's jobs", e);
	if (!b->jobs)
		return -1;
	b->n = n;
	b->next = 0;
	for (size_t i = 0; i < n; i++) {
		b->jobs[i].d = items[i].d;
		buf_init(&b->jobs[i].url, 0);
		buf_init(&b->jobs[i].body, 0);
	}
	if (!n)
		return 0;
	static const struct pump_ops ops = { x_next, x_build, x_outcome, x_exhausted, NULL };
	struct pump_opts po = { 0 };
	po.max_in_flight = b->r->max_in_flight;
	po.retry = (struct retry_policy)RETRY_POLICY_DEFAULT;
	struct pump *p;
	if (pump_new(&po, &ops, b, &p, e))
		return -1;
	memset(&b->prog, 0, sizeof(b->prog));
	progress_start(&b->prog, label, n, "blobs");
	b->prog.enabled = b->prog.enabled && b->r->progress;
	int rc = pump_run(p, e);
	progress_finish(&b->prog);
	pump_free(p);
	return rc;
}

static void jobs_free(struct xbatch *b)
{
	for (size_t i = 0; b->jobs && i < b->n; i++) {
		buf_release(&b->jobs[i].url);
		buf_release(&b->jobs[i].body);
	}
	free(b->jobs);
	b->jobs = NULL;
	b->n = 0;
}

/* ---- push ---- */

struct walk {
	struct store *s;
	struct xlist *out;
	struct xlist kids;
	struct err *e;
};

static int collect_child(const struct digest *d, void *ctx)
{
	struct walk *w = ctx;
	return xlist_add(&w->kids, d, -1, w->e);
}

/* Add d's graph to w->out; `raw` when d is known to be a chunk. */
static int walk_local(struct store *s, const struct digest *d, int raw, struct xlist *out, struct err *e)
{
	if (raw)
		return xlist_add(out, d, 0, e);
	struct buf b;
	buf_init(&b, 0);
	struct walk w = { s, out, { NULL, 0, 0 }, e };
	int role = cas_get(s, d, &b, 0, e) ? -1 : store_blob_children(b.data, b.len, collect_child, &w, e);
	buf_release(&b);
	int rc = role < 0 ? -1 : xlist_add(out, d, role, e);
	for (size_t i = 0; !rc && i < w.kids.n; i++)
		rc = walk_local(s, &w.kids.v[i].d, role == STORE_BLOB_MANIFEST, out, e);
	free(w.kids.v);
	if (role < 0) {
		char hex[DIGEST_HEX_LEN + 1];
		digest_to_hex(d, hex);
		return err_prefix(e, "cannot push %.16s", hex);
	}
	return rc;
}

/* HEAD items; the missing ones into *missing. */
static int head_missing(struct remote *r, struct store *s, const struct xlist *items, struct xlist *missing,
			struct err *e)
{
	struct xbatch b = { .r = r, .s = s, .op = XOP_HEAD };
	int rc = run_batch(&b, items->v, items->n, "remote: checking", e);
	for (size_t i = 0; !rc && i < b.n; i++)
		if (!b.jobs[i].present)
			rc = xlist_add(missing, &b.jobs[i].d, items->v[i].level, e);
		else
			r->st.present++;
	jobs_free(&b);
	return rc;
}

int remote_push_blobs(struct remote *r, struct store *s, const struct digest *roots, size_t n, struct err *e)
{
	struct xlist top = { 0 }, miss_top = { 0 }, graph = { 0 }, miss = { 0 };
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = xlist_add(&top, &roots[i], 0, e);
	if (!rc) {
		xlist_sort_unique(&top);
		rc = head_missing(r, s, &top, &miss_top, e);
	}
	for (size_t i = 0; i < miss_top.n && !rc; i++)
		rc = walk_local(s, &miss_top.v[i].d, 0, &graph, e);
	if (!rc && graph.n) {
		xlist_sort_unique(&graph);
		rc = head_missing(r, s, &graph, &miss, e);
	}
	/* level by level: children are on the remote before the parents that name them */
	for (size_t lo = 0; !rc && lo < miss.n;) {
		size_t hi = lo;
		while (hi < miss.n && miss.v[hi].level == miss.v[lo].level)
			hi++;
		struct xbatch b = { .r = r, .s = s, .op = XOP_PUT };
		rc = run_batch(&b, miss.v + lo, hi - lo, "remote: sending", e);
		jobs_free(&b);
		lo = hi;
	}
	free(top.v);
	free(miss_top.v);
	free(graph.v);
	free(miss.v);
	return rc;
}

/* ---- pull ---- */

struct pull {
	struct xlist next; /* children the store lacks */
	struct buf *kept;  /* manifests and artifacts, stored at the end */
	size_t n_kept, cap_kept;
	struct store *s;
	struct err *e;
};

static int want_child(const struct digest *d, void *ctx)
{
	struct pull *p = ctx;
	int has = cas_has(p->s, d, p->e);
	if (has < 0)
		return -1;
	return has ? 0 : xlist_add(&p->next, d, 0, p->e);
}

static int pull_got(struct xbatch *b, struct xjob *j, struct err *e)
{
	struct pull *p = b->ctx;
	int role = store_blob_children(j->body.data, j->body.len, want_child, p, e);
	if (role < 0)
		return -1;
	if (role == STORE_BLOB_RAW)
		return cas_put(b->s, j->body.data, j->body.len, NULL, e);
	if (p->n_kept == p->cap_kept) {
		size_t nc = p->cap_kept ? p->cap_kept * 2 : 16;
		struct buf *k = xalloc_try_resize(p->kept, nc, sizeof(*k), "the manifests of a pull", e);
		if (!k)
			return -1;
		p->kept = k;
		p->cap_kept = nc;
	}
	p->kept[p->n_kept++] = j->body; /* the job gives its body up */
	buf_init(&j->body, 0);
	return 0;
}

int remote_pull_blobs(struct remote *r, struct store *s, const struct digest *roots, size_t n, struct err *e)
{
	struct pull p = { { 0 }, NULL, 0, 0, s, e };
	struct xlist round = { 0 };
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = want_child(&roots[i], &p);
	while (!rc && p.next.n) {
		free(round.v);
		round = p.next;
		p.next = (struct xlist){ 0 };
		xlist_sort_unique(&round);
		struct xbatch b = { .r = r, .s = s, .op = XOP_GET, .got = pull_got, .ctx = &p };
		rc = run_batch(&b, round.v, round.n, "remote: fetching", e);
		jobs_free(&b);
	}
	for (size_t i = p.n_kept; i-- > 0;) { /* deepest first */
		if (!rc)
			rc = cas_put(s, p.kept[i].data, p.kept[i].len, NULL, e);
		buf_release(&p.kept[i]);
	}
	free(p.kept);
	free(p.next.v);
	free(round.v);
	return rc;
}
