/*
 * knn.c — exact top-k by brute force, over base blocks, on worker threads.
 *
 * The groundtruth step scores every query against every base vector. The
 * heavy part is one sgemm per (query block x base block), through vec.c;
 * the base arrives in blocks through the caller's fetch function (from the
 * store, chunk by chunk) and is never held whole. Each query keeps a heap
 * of its k best (score, id) pairs; the root is the worst kept entry, where
 * "worse" means a lower score or, for equal scores, a higher id, so ties
 * always resolve to the lower index.
 *
 * Determinism: the sgemm score of a pair can differ from the exact one by
 * up to vec_margin(d) * |q||b| (and differs between CPU models), so sgemm
 * only filters. A base row becomes a candidate for query i when its sgemm
 * score is within the margin of the heap's current worst score (or the heap
 * is not full); the candidate is then scored exactly (vec_dot_f64 /
 * vec_sqdist_f64: fixed order, double) and the heap compares exact scores
 * only. A row is skipped only when its exact score is strictly below k kept
 * ones, so every heap holds the top k, under the total order (score, then
 * lower id), of the rows it was offered; the top k of a union is the top k
 * of the parts' top k. Hence the result is the same bits for any block
 * size, any split of blocks over threads, OpenBLAS thread count and CPU,
 * as long as the sgemm error stays within the classical bound.
 *
 * Threads (knn_exact_fetch): W workers claim base blocks from a counter,
 * each fetches its block (the store read and its SHA-256 check run in
 * parallel with the other worker's sgemm), scores it against all queries
 * with single-threaded OpenBLAS and keeps its own heaps; at the end the
 * heaps are merged into one. Measured on the groundtruth step at 1M x 768,
 * 1000 queries, 2 cores (2026-12-04): two workers with one BLAS thread each
 * 10.5 s (19.8 s user CPU), one worker with two OpenBLAS threads 13.0 s
 * (21.9 s user, 3.9 s system) on a quiet machine; 21-24 s against 38-39 s
 * at load average 2-5 from other work. One worker leaves a core idle while
 * it reads, hashes and scans the heaps, and its BLAS threads spin in
 * sched_yield between calls and stall whenever the other is descheduled.
 *
 * Scratch memory per worker: a fetch block (block_rows x d floats), QBLOCK x
 * BBLOCK sgemm scores (16 MiB), the heaps (nq x k).
 */
#include "engrave/knn.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/vec.h"
#include "engrave/xalloc.h"

#define QBLOCK 1024
#define BBLOCK 4096
#define DEFAULT_BLOCK_ROWS 8192
#define MAX_THREADS 64

struct cand {
	double s;
	uint32_t id;
};

/* What every worker shares, read-only once built: the queries. */
struct knn_queries {
	uint32_t d, k;
	enum knn_metric m;
	double threshold; /* -INFINITY: none */
	size_t nq;
	const float *q;   /* nq x d (the caller's) */
	float *qn2;       /* squared norms (float, for the sgemm filter) */
	double *qn2e;     /* exact squared norms */
};

/* One worker's state: its heaps and its scratch. */
struct knn_part {
	struct cand *heap; /* nq x k */
	uint32_t *hn;      /* entries per heap */
	float *ip;         /* QBLOCK x BBLOCK */
	double *bn2e;      /* BBLOCK exact squared norms of the current sub-block */
	float *bw, *be;    /* BBLOCK per-row factors of the filter (add_block) */
	float *buf;        /* block_rows x d, for the fetch */
};

static const char *const metric_names[] = { "cosine", "l2", "ip" };

int knn_metric_parse(const char *s, enum knn_metric *m, struct err *e)
{
	for (int i = 0; i < 3; i++)
		if (s && strcmp(s, metric_names[i]) == 0) {
			*m = (enum knn_metric)i;
			return 0;
		}
	err_set(e, ERR_USAGE, "unknown metric '%s'", s ? s : "(null)");
	return err_hint(e, "use one of: cosine, l2, ip");
}

const char *knn_metric_name(enum knn_metric m)
{
	return (unsigned)m < 3 ? metric_names[m] : "unknown";
}

/* ---- heap of the k best, worst at the root ----------------------------- */

static inline int worse(const struct cand *a, const struct cand *b)
{
	return a->s < b->s || (a->s == b->s && a->id > b->id);
}

static void sift_down(struct cand *h, uint32_t n, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, w = i;
		if (l < n && worse(&h[l], &h[w]))
			w = l;
		if (r < n && worse(&h[r], &h[w]))
			w = r;
		if (w == i)
			return;
		struct cand t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

static void sift_up(struct cand *h, uint32_t i)
{
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!worse(&h[i], &h[p]))
			return;
		struct cand t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static void heap_offer(struct cand *h, uint32_t *n, uint32_t k, struct cand c)
{
	if (*n < k) {
		h[*n] = c;
		sift_up(h, (*n)++);
	} else if (worse(&h[0], &c)) {
		h[0] = c;
		sift_down(h, k, 0);
	}
}

static int better_first(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	if (a->s != b->s)
		return a->s > b->s ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* ---- scores -------------------------------------------------------------- */

/* Exact score of q against b given their exact squared norms (cosine only). */
static double score_of(enum knn_metric m, const float *q, const float *b, uint32_t d, double qn2e, double bn2e)
{
	switch (m) {
	case KNN_IP:
		return vec_dot_f64(q, b, d);
	case KNN_L2:
		return -vec_sqdist_f64(q, b, d);
	case KNN_COSINE:
	default: {
		double den = sqrt(qn2e) * sqrt(bn2e);
		return den > 0 ? vec_dot_f64(q, b, d) / den : 0.0;
	}
	}
}

double knn_score(enum knn_metric m, const float *q, const float *b, uint32_t d)
{
	int cos = m != KNN_IP && m != KNN_L2;
	return score_of(m, q, b, d, cos ? vec_sqnorm_f64(q, d) : 0, cos ? vec_sqnorm_f64(b, d) : 0);
}

/* Offer base row b (global id) to query i's heap if its exact score passes
 * the threshold; returns the heap's new cut. */
static double offer_exact(const struct knn_queries *Q, struct knn_part *p, size_t i, const float *b,
			  double bn2e, uint64_t id, double cut)
{
	double ex = score_of(Q->m, Q->q + i * Q->d, b, Q->d, Q->qn2e[i], bn2e);
	if (ex < Q->threshold)
		return cut;
	struct cand *h = p->heap + i * Q->k;
	uint32_t *hn = &p->hn[i];
	struct cand c = { ex, (uint32_t)id };
	heap_offer(h, hn, Q->k, c);
	return *hn == Q->k && h[0].s > cut ? h[0].s : cut;
}

/*
 * One base sub-block of nb <= BBLOCK rows with global ids id0.. For each
 * (query, row) the sgemm score `a` and its error bound `err` decide whether
 * the row can still enter the heap: it is scored exactly only when
 * a + err reaches max(threshold, current worst kept score). The metric's
 * switch sits outside the row loops, which are the hot path (nq x base).
 */
static void add_block(const struct knn_queries *Q, struct knn_part *p, const float *b, size_t nb, uint64_t id0)
{
	const uint32_t d = Q->d, k = Q->k;
	const double M = vec_margin(d);
	for (size_t j = 0; j < nb; j++) {
		p->bn2e[j] = vec_sqnorm_f64(b + j * d, d);
		double bn = sqrt(p->bn2e[j]);
		switch (Q->m) {
		case KNN_IP: /* a = ip, err = 2M |q| |b| */
			p->bw[j] = 1.0f, p->be[j] = (float)(2 * M * bn);
			break;
		case KNN_L2: /* a = 2 ip - |b|^2 - |q|^2, err = 4M (|q|^2 + |b|^2) */
			p->bw[j] = 2.0f, p->be[j] = (float)p->bn2e[j];
			break;
		case KNN_COSINE: /* a = ip / (|q| |b|), err = 4M */
		default:
			p->bw[j] = bn > 0 ? (float)(1.0 / bn) : 0.0f, p->be[j] = 0;
			break;
		}
	}
	const float *bw = p->bw, *be = p->be;
	for (size_t q0 = 0; q0 < Q->nq; q0 += QBLOCK) {
		size_t nqb = Q->nq - q0 < QBLOCK ? Q->nq - q0 : QBLOCK;
		vec_ip_block(Q->q + q0 * d, nqb, b, nb, d, p->ip);
		for (size_t qi = 0; qi < nqb; qi++) {
			size_t i = q0 + qi;
			const struct cand *h = p->heap + i * k;
			const float *row = p->ip + qi * nb;
			double qn2 = Q->qn2[i], qn = sqrt(qn2);
			double qinv = qn > 0 ? 1.0 / qn : 0.0;
			double cut = p->hn[i] == k && h[0].s > Q->threshold ? h[0].s : Q->threshold;
			switch (Q->m) {
			case KNN_IP:
				for (size_t j = 0; j < nb; j++) {
					double a = row[j], err = qn * be[j] + 1e-30;
					if (!(a + err < cut))
						cut = offer_exact(Q, p, i, b + j * d, p->bn2e[j], id0 + j, cut);
				}
				break;
			case KNN_L2:
				for (size_t j = 0; j < nb; j++) {
					double a = 2.0 * row[j] - be[j] - qn2, err = 4 * M * (qn2 + be[j]) + 1e-30;
					if (!(a + err < cut))
						cut = offer_exact(Q, p, i, b + j * d, p->bn2e[j], id0 + j, cut);
				}
				break;
			case KNN_COSINE:
			default: {
				double err = 4 * M + 1e-12;
				for (size_t j = 0; j < nb; j++) {
					double a = (double)row[j] * bw[j] * qinv;
					if (!(a + err < cut))
						cut = offer_exact(Q, p, i, b + j * d, p->bn2e[j], id0 + j, cut);
				}
				break;
			}
			}
		}
	}
}

/* ---- setup ----------------------------------------------------------------- */

static int queries_init(struct knn_queries *Q, const float *q, size_t nq, uint32_t d, uint32_t k,
			enum knn_metric m, float threshold, struct err *e)
{
	memset(Q, 0, sizeof *Q);
	if (d == 0 || k == 0)
		return err_set(e, ERR_USAGE, "knn: dimension and k must be positive (d=%u, k=%u)", d, k);
	if ((unsigned)m > KNN_IP)
		return err_set(e, ERR_USAGE, "knn: unknown metric %d", (int)m);
	Q->d = d, Q->k = k, Q->m = m, Q->nq = nq, Q->q = q;
	Q->threshold = isnan(threshold) ? -INFINITY : (double)threshold;
	size_t nq1 = nq ? nq : 1;
	Q->qn2 = malloc(xalloc_mul(nq1, sizeof(float)));
	Q->qn2e = malloc(xalloc_mul(nq1, sizeof(double)));
	if (!Q->qn2 || !Q->qn2e)
		return err_set(e, ERR_NOSPACE, "knn: out of memory for %zu queries (d=%u)", nq, d);
	for (size_t i = 0; i < nq; i++) {
		Q->qn2e[i] = vec_sqnorm_f64(q + i * d, d);
		Q->qn2[i] = (float)Q->qn2e[i];
	}
	return 0;
}

static void queries_release(struct knn_queries *Q)
{
	free(Q->qn2);
	free(Q->qn2e);
}

static void part_release(struct knn_part *p)
{
	free(p->heap);
	free(p->hn);
	free(p->ip);
	free(p->bn2e);
	free(p->bw);
	free(p->be);
	free(p->buf);
	memset(p, 0, sizeof *p);
}

/* Per query (data-sized: checked, an error); per block (bounded: xmalloc). */
static int part_init(struct knn_part *p, const struct knn_queries *Q, size_t buf_rows, struct err *e)
{
	memset(p, 0, sizeof *p);
	size_t nq1 = Q->nq ? Q->nq : 1;
	p->heap = malloc(xalloc_mul(xalloc_mul(nq1, Q->k), sizeof(struct cand)));
	p->hn = calloc(nq1, sizeof(uint32_t));
	if (buf_rows)
		p->buf = malloc(xalloc_mul(xalloc_mul(buf_rows, Q->d), sizeof(float)));
	if (!p->heap || !p->hn || (buf_rows && !p->buf)) {
		part_release(p);
		return err_set(e, ERR_NOSPACE, "knn: out of memory for %zu queries x k=%u and a %zu-row block (d=%u)",
			       Q->nq, Q->k, buf_rows, Q->d);
	}
	size_t qb = Q->nq < QBLOCK ? nq1 : QBLOCK;
	p->ip = xmalloc_array(qb * BBLOCK, sizeof(float));
	p->bn2e = xmalloc_array(BBLOCK, sizeof(double));
	p->bw = xmalloc_array(BBLOCK, sizeof(float));
	p->be = xmalloc_array(BBLOCK, sizeof(float));
	return 0;
}

/* ---- the worker pool ---------------------------------------------------- */

struct pool {
	const struct knn_queries *Q;
	knn_fetch_fn fetch;
	void *ctx;
	uint64_t nbase;
	size_t block_rows;
	uint64_t nblocks;
	struct knn_part *parts;
	pthread_mutex_t mu;
	uint64_t next;        /* next block to claim */
	int failed;
	uint64_t err_block;   /* the lowest failed block: its error is reported */
	struct err err;
	struct progress *prog;
};

struct worker_arg {
	struct pool *pl;
	unsigned w;
};

static void run_blocks(struct pool *pl, unsigned w)
{
	const struct knn_queries *Q = pl->Q;
	struct knn_part *p = &pl->parts[w];
	for (;;) {
		pthread_mutex_lock(&pl->mu);
		uint64_t blk = pl->next;
		int go = !pl->failed && blk < pl->nblocks;
		if (go)
			pl->next++;
		pthread_mutex_unlock(&pl->mu);
		if (!go)
			return;
		uint64_t row0 = blk * pl->block_rows;
		size_t n = pl->nbase - row0 < pl->block_rows ? (size_t)(pl->nbase - row0) : pl->block_rows;
		struct err fe = ERR_INIT;
		const float *rows = pl->fetch(pl->ctx, w, row0, n, p->buf, &fe);
		if (!rows) {
			if (fe.cls == ERR_NONE)
				err_set(&fe, ERR_INTERNAL, "knn: fetching base rows %llu..%llu failed",
					(unsigned long long)row0, (unsigned long long)(row0 + n - 1));
			pthread_mutex_lock(&pl->mu);
			if (!pl->failed || blk < pl->err_block)
				pl->err = fe, pl->err_block = blk;
			pl->failed = 1;
			pthread_mutex_unlock(&pl->mu);
			return;
		}
		for (size_t j0 = 0; j0 < n; j0 += BBLOCK) {
			size_t nb = n - j0 < BBLOCK ? n - j0 : BBLOCK;
			add_block(Q, p, rows + j0 * Q->d, nb, row0 + j0);
		}
		if (pl->prog)
			progress_add(pl->prog, n, 0, 0);
	}
}

static void *worker_main(void *arg)
{
	struct worker_arg *a = arg;
	run_blocks(a->pl, a->w);
	return NULL;
}

/* Merge every part's heap into part 0's, then write the results. */
static void merge_and_write(const struct knn_queries *Q, struct knn_part *parts, unsigned np, uint32_t *ids_out,
			    float *scores_out, uint32_t *n_out)
{
	const uint32_t k = Q->k;
	for (size_t i = 0; i < Q->nq; i++) {
		struct cand *h = parts[0].heap + i * k;
		uint32_t *hn = &parts[0].hn[i];
		for (unsigned w = 1; w < np; w++) {
			const struct cand *o = parts[w].heap + i * k;
			for (uint32_t r = 0; r < parts[w].hn[i]; r++)
				heap_offer(h, hn, k, o[r]);
		}
		uint32_t n = *hn;
		qsort(h, n, sizeof *h, better_first);
		for (uint32_t r = 0; r < k; r++) {
			if (ids_out)
				ids_out[i * k + r] = r < n ? h[r].id : UINT32_MAX;
			if (scores_out)
				scores_out[i * k + r] = r < n ? (float)h[r].s : -INFINITY;
		}
		if (n_out)
			n_out[i] = n;
	}
}

void knn_opts_init(struct knn_opts *o)
{
	memset(o, 0, sizeof *o);
}

/* need_buf: the fetch function reads into the worker's buffer (else it
 * returns rows it owns, as the in-memory base of knn_exact does). */
static int exact_run(const float *q, size_t nq, uint32_t d, uint32_t k, enum knn_metric m, float threshold,
		     uint64_t nbase, knn_fetch_fn fetch, void *ctx, const struct knn_opts *o, int need_buf,
		     uint32_t *ids_out, float *scores_out, uint32_t *n_out, struct err *e)
{
	struct knn_opts def;
	if (!o) {
		knn_opts_init(&def);
		o = &def;
	}
	if (nbase > UINT32_MAX)
		return err_set(e, ERR_UNSUPPORTED, "knn: base larger than 2^32-1 rows (ids are u32)");
	struct knn_queries Q;
	if (queries_init(&Q, q, nq, d, k, m, threshold, e)) {
		queries_release(&Q);
		return -1;
	}
	size_t block_rows = o->block_rows ? o->block_rows : DEFAULT_BLOCK_ROWS;
	uint64_t nblocks = (nbase + block_rows - 1) / block_rows;
	unsigned threads = o->threads;
	if (!threads) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cpus > 1 ? (unsigned)cpus : 1;
	}
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (nblocks < threads)
		threads = nblocks ? (unsigned)nblocks : 1;

	struct pool pl = { .Q = &Q, .fetch = fetch, .ctx = ctx, .nbase = nbase, .block_rows = block_rows,
			   .nblocks = nblocks };
	pl.err = (struct err)ERR_INIT;
	pl.parts = xcalloc(threads, sizeof *pl.parts);
	unsigned np = 0;
	int rc = 0;
	while (np < threads && !(rc = part_init(&pl.parts[np], &Q, need_buf ? block_rows : 0, e)))
		np++;
	if (rc)
		goto out;
	struct progress prog;
	if (o->progress_label) {
		progress_start(&prog, o->progress_label, nbase, "vectors");
		pl.prog = &prog;
	}
	pthread_mutex_init(&pl.mu, NULL);
	/* One BLAS thread per worker: the workers are the parallelism. */
	int saved_blas = vec_get_threads();
	if (threads > 1)
		vec_set_threads(1);
	pthread_t tid[MAX_THREADS];
	struct worker_arg args[MAX_THREADS];
	unsigned started = 1;
	for (; started < threads; started++) {
		args[started] = (struct worker_arg){ &pl, started };
		if (pthread_create(&tid[started], NULL, worker_main, &args[started]) != 0)
			break; /* fewer workers: the same result, later */
	}
	run_blocks(&pl, 0); /* the calling thread is worker 0 */
	for (unsigned w = 1; w < started; w++)
		pthread_join(tid[w], NULL);
	if (threads > 1)
		vec_set_threads(saved_blas);
	pthread_mutex_destroy(&pl.mu);
	if (pl.prog)
		progress_finish(pl.prog);
	if (pl.failed) {
		if (e)
			*e = pl.err;
		rc = -1;
	} else {
		merge_and_write(&Q, pl.parts, np, ids_out, scores_out, n_out);
	}
out:
	for (unsigned w = 0; w < np; w++)
		part_release(&pl.parts[w]);
	free(pl.parts);
	queries_release(&Q);
	return rc;
}

int knn_exact_fetch(const float *q, size_t nq, uint32_t d, uint32_t k, enum knn_metric m, float threshold,
		    uint64_t nbase, knn_fetch_fn fetch, void *ctx, const struct knn_opts *o, uint32_t *ids_out,
		    float *scores_out, uint32_t *n_out, struct err *e)
{
	return exact_run(q, nq, d, k, m, threshold, nbase, fetch, ctx, o, 1, ids_out, scores_out, n_out, e);
}

/* ---- the whole base in memory ------------------------------------------- */

struct mem_base {
	const float *base;
	uint32_t d;
};

static const float *fetch_mem(void *ctx, unsigned worker, uint64_t row0, size_t n, float *buf, struct err *e)
{
	(void)worker, (void)n, (void)buf, (void)e;
	const struct mem_base *mb = ctx;
	return mb->base + row0 * mb->d;
}

int knn_exact(const float *q, size_t nq, const float *base, size_t nb, uint32_t d, uint32_t k,
	      enum knn_metric m, float threshold, uint32_t *ids_out, float *scores_out,
	      uint32_t *n_out, struct err *e)
{
	struct mem_base mb = { base, d };
	return exact_run(q, nq, d, k, m, threshold, nb, fetch_mem, &mb, NULL, 0, ids_out, scores_out, n_out, e);
}
