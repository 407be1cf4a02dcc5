/*
 * knn.c — exact top-k by brute force, streamed over base blocks.
 *
 * The groundtruth step scores every query against every base vector. The
 * heavy part is one sgemm per (query block x base block), through vec.c;
 * the base arrives in blocks (from the store, chunk by chunk) and is never
 * held whole. Each query keeps a heap of its k best (score, id) pairs; the
 * root is the worst kept entry, where "worse" means a lower score or, for
 * equal scores, a higher id, so ties always resolve to the lower index.
 *
 * Determinism: the sgemm score of a pair can differ from the exact one by
 * up to vec_margin(d) * |q||b| (and differs between CPU models), so sgemm
 * only filters. A base row becomes a candidate for query i when its sgemm
 * score is within the margin of the heap's current worst score (or the heap
 * is not full); the candidate is then scored exactly (vec_dot_f64 /
 * vec_sqdist_f64: fixed order, double) and the heap compares exact scores
 * only. Hence the result is independent of block sizes, OpenBLAS threads
 * and CPU, as long as the sgemm error stays within the classical bound.
 *
 * Scratch memory: QBLOCK x BBLOCK floats (8 MiB) plus the heaps.
 */
#include "engrave/knn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/err.h"
#include "engrave/vec.h"
#include "engrave/xalloc.h"

#define QBLOCK 512
#define BBLOCK 4096

struct cand {
	double s;
	uint32_t id;
};

struct knn_stream {
	uint32_t d, k;
	enum knn_metric m;
	double threshold; /* -INFINITY: none */
	size_t nq;
	float *q;         /* nq x d copy */
	float *qn2;       /* squared norms (float, for the sgemm filter) */
	double *qn2e;     /* exact squared norms */
	struct cand *heap; /* nq x k */
	uint32_t *hn;     /* entries per heap */
	uint64_t seen;
	float *ip;        /* QBLOCK x BBLOCK */
	double *bn2e;     /* BBLOCK exact squared norms of the current block */
	float *bw, *be;   /* BBLOCK per-row factors of the filter (add_block) */
	int finished;
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

/* ---- API --------------------------------------------------------------- */

struct knn_stream *knn_stream_new(const float *q, size_t nq, uint32_t d, uint32_t k,
				  enum knn_metric m, float threshold, struct err *e)
{
	if (d == 0 || k == 0) {
		err_set(e, ERR_USAGE, "knn: dimension and k must be positive (d=%u, k=%u)", d, k);
		return NULL;
	}
	if ((unsigned)m > KNN_IP) {
		err_set(e, ERR_USAGE, "knn: unknown metric %d", (int)m);
		return NULL;
	}
	struct knn_stream *s = xcalloc(1, sizeof *s);
	s->d = d, s->k = k, s->m = m, s->nq = nq;
	s->threshold = isnan(threshold) ? -INFINITY : (double)threshold;
	/* per query (data-sized: checked, an error); per block (bounded: xmalloc) */
	size_t nq1 = nq ? nq : 1;
	s->q = malloc(xalloc_mul(xalloc_mul(nq1, d), sizeof(float)));
	s->qn2 = malloc(xalloc_mul(nq1, sizeof(float)));
	s->qn2e = malloc(xalloc_mul(nq1, sizeof(double)));
	s->heap = malloc(xalloc_mul(xalloc_mul(nq1, k), sizeof(struct cand)));
	s->hn = calloc(nq1, sizeof(uint32_t));
	size_t qb = nq < QBLOCK ? nq1 : QBLOCK;
	s->ip = xmalloc_array(qb * BBLOCK, sizeof(float));
	s->bn2e = xmalloc_array(BBLOCK, sizeof(double));
	s->bw = xmalloc_array(BBLOCK, sizeof(float));
	s->be = xmalloc_array(BBLOCK, sizeof(float));
	if (!s->q || !s->qn2 || !s->qn2e || !s->heap || !s->hn) {
		knn_stream_free(s);
		goto oom;
	}
	if (nq)
		memcpy(s->q, q, nq * d * sizeof(float));
	for (size_t i = 0; i < nq; i++) {
		s->qn2e[i] = vec_sqnorm_f64(s->q + i * d, d);
		s->qn2[i] = (float)s->qn2e[i];
	}
	return s;
oom:
	err_set(e, ERR_NOSPACE, "knn: out of memory for %zu queries x k=%u (d=%u)", nq, k, d);
	return NULL;
}

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

/* Exact score of query i against base row b (bn2e: its exact squared norm). */
static double exact_score(const struct knn_stream *s, size_t i, const float *b, double bn2e)
{
	return score_of(s->m, s->q + i * s->d, b, s->d, s->qn2e[i], bn2e);
}

double knn_score(enum knn_metric m, const float *q, const float *b, uint32_t d)
{
	int cos = m != KNN_IP && m != KNN_L2;
	return score_of(m, q, b, d, cos ? vec_sqnorm_f64(q, d) : 0, cos ? vec_sqnorm_f64(b, d) : 0);
}

/*
 * One base sub-block of nb <= BBLOCK rows with global ids id0.. For each
 * (query, row) the sgemm score `a` and its error bound `err` decide whether
 * the row can still enter the heap: it is scored exactly only when
 * a + err reaches max(threshold, current worst kept score).
 */
static void add_block(struct knn_stream *s, const float *b, size_t nb, uint64_t id0)
{
	const uint32_t d = s->d, k = s->k;
	const double M = vec_margin(d);
	for (size_t j = 0; j < nb; j++) {
		s->bn2e[j] = vec_sqnorm_f64(b + j * d, d);
		double bn = sqrt(s->bn2e[j]);
		switch (s->m) {
		case KNN_IP: /* a = ip, err = 2M |q| |b| */
			s->bw[j] = 1.0f, s->be[j] = (float)(2 * M * bn);
			break;
		case KNN_L2: /* a = 2 ip - |b|^2 - |q|^2, err = 4M (|q|^2 + |b|^2) */
			s->bw[j] = 2.0f, s->be[j] = (float)s->bn2e[j];
			break;
		case KNN_COSINE: /* a = ip / (|q| |b|), err = 4M */
		default:
			s->bw[j] = bn > 0 ? (float)(1.0 / bn) : 0.0f, s->be[j] = 0;
			break;
		}
	}
	for (size_t q0 = 0; q0 < s->nq; q0 += QBLOCK) {
		size_t nqb = s->nq - q0 < QBLOCK ? s->nq - q0 : QBLOCK;
		vec_ip_block(s->q + q0 * d, nqb, b, nb, d, s->ip);
		for (size_t qi = 0; qi < nqb; qi++) {
			size_t i = q0 + qi;
			struct cand *h = s->heap + i * k;
			uint32_t *hn = &s->hn[i];
			const float *row = s->ip + qi * nb;
			double qn2 = s->qn2[i], qn = sqrt(qn2);
			double qinv = qn > 0 ? 1.0 / qn : 0.0;
			double cut = *hn == k && h[0].s > s->threshold ? h[0].s : s->threshold;
			for (size_t j = 0; j < nb; j++) {
				double a, err;
				switch (s->m) {
				case KNN_IP:
					a = row[j];
					err = qn * s->be[j] + 1e-30;
					break;
				case KNN_L2:
					a = 2.0 * row[j] - s->be[j] - qn2;
					err = 4 * M * (qn2 + s->be[j]) + 1e-30;
					break;
				case KNN_COSINE:
				default:
					a = (double)row[j] * s->bw[j] * qinv;
					err = 4 * M + 1e-12;
					break;
				}
				if (a + err < cut)
					continue;
				double ex = exact_score(s, i, b + j * d, s->bn2e[j]);
				if (ex < s->threshold)
					continue;
				struct cand c = { ex, (uint32_t)(id0 + j) };
				heap_offer(h, hn, k, c);
				if (*hn == k && h[0].s > cut)
					cut = h[0].s;
			}
		}
	}
}

int knn_stream_add(struct knn_stream *s, const float *block, size_t n, struct err *e)
{
	if (s->finished)
		return err_set(e, ERR_INTERNAL, "knn: add after finish");
	if (s->seen + n > UINT32_MAX)
		return err_set(e, ERR_UNSUPPORTED, "knn: base larger than 2^32-1 rows (ids are u32)");
	for (size_t j0 = 0; j0 < n; j0 += BBLOCK) {
		size_t nb = n - j0 < BBLOCK ? n - j0 : BBLOCK;
		add_block(s, block + j0 * s->d, nb, s->seen + j0);
	}
	s->seen += n;
	return 0;
}

uint64_t knn_stream_seen(const struct knn_stream *s) { return s->seen; }

int knn_stream_finish(struct knn_stream *s, uint32_t *ids_out, float *scores_out, uint32_t *n_out,
		      struct err *e)
{
	(void)e;
	s->finished = 1;
	for (size_t i = 0; i < s->nq; i++) {
		struct cand *h = s->heap + i * s->k;
		uint32_t n = s->hn[i];
		qsort(h, n, sizeof *h, better_first);
		for (uint32_t r = 0; r < s->k; r++) {
			if (ids_out)
				ids_out[i * s->k + r] = r < n ? h[r].id : UINT32_MAX;
			if (scores_out)
				scores_out[i * s->k + r] = r < n ? (float)h[r].s : -INFINITY;
		}
		if (n_out)
			n_out[i] = n;
		/* keep the heap property in case finish is called twice */
		for (uint32_t r = n / 2; r-- > 0;)
			sift_down(h, n, r);
	}
	return 0;
}

void knn_stream_free(struct knn_stream *s)
{
	if (!s)
		return;
	free(s->q);
	free(s->qn2);
	free(s->qn2e);
	free(s->heap);
	free(s->hn);
	free(s->ip);
	free(s->bn2e);
	free(s->bw);
	free(s->be);
	free(s);
}

int knn_exact(const float *q, size_t nq, const float *base, size_t nb, uint32_t d, uint32_t k,
	      enum knn_metric m, float threshold, uint32_t *ids_out, float *scores_out,
	      uint32_t *n_out, struct err *e)
{
	struct knn_stream *s = knn_stream_new(q, nq, d, k, m, threshold, e);
	if (!s)
		return -1;
	int rc = knn_stream_add(s, base, nb, e);
	if (rc == 0)
		rc = knn_stream_finish(s, ids_out, scores_out, n_out, e);
	knn_stream_free(s);
	return rc;
}
