/*
 * kmeans.c — k-means++ seeding, Lloyd and mini-batch updates.
 *
 * The centroids step turns the corpus embeddings into k centres that seed
 * the synthetic set, and its output is an artifact: it must be the same bits
 * for the same inputs on any machine. The parts:
 *
 * Assignment (assign_block). For a block of ABLOCK points, one sgemm gives
 * ||x||^2 - 2 x.c + ||c||^2 against all centres (vec_sqdist_block). The
 * minimum is taken in float; every other centre within 4 * vec_margin(d) *
 * (|x|^2 + max |c|^2) of it is a near-tie candidate, and when there is more
 * than one candidate they are re-scored exactly (vec_sqdist_f64, fixed
 * order) and the lowest distance wins, ties to the lower centre index. So
 * labels do not depend on OpenBLAS's kernel or thread count.
 *
 * Update. Lloyd: centre sums are double, accumulated point by point in index
 * order (4-wide double vectors over dimensions, which does not reorder any
 * single sum), then divided by the count. Mini-batch (scikit-learn's rule):
 * c <- (c * count + sum of batch points) / (count + batch points), in double,
 * plus its random reassignment of starved centres to seeded batch points.
 * Empty clusters (Lloyd) take the point farthest from its centre (exact
 * distance, lowest index on ties, one point per empty cluster).
 *
 * Seeding. Greedy k-means++ (best of 2 + ln k D^2 draws per centre, as in
 * scikit-learn) on a seeded subsample (partial Fisher–Yates with
 * rng_below), so its cost is O(init_sample * k * d) whatever n is, like
 * scikit-learn's init_size. Candidate potentials come from sgemm; terms
 * and potentials within the error bound are redone exactly. init_random
 * (scikit-learn's init="random") takes k distinct points by the same partial
 * Fisher–Yates instead, from counters 2^41 + i of the init stream.
 *
 * Threads: only OpenBLAS's (vec_set_threads); everything else is one thread
 * in a fixed order. Inertia is the exact sum over all points after the last
 * update, in index order.
 */
#include "engrave/kmeans.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/rng.h"
#include "engrave/vec.h"
#include "engrave/xalloc.h"

#define ABLOCK 2048

#pragma GCC diagnostic ignored "-Wpsabi" /* static inline vector helpers */

typedef double v4d __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

void kmeans_opts_init(struct kmeans_opts *o, uint32_t k)
{
	memset(o, 0, sizeof *o);
	o->k = k;
	o->algo = KMEANS_LLOYD;
	o->max_iter = 20;
	o->batch_size = 1024;
	o->tol = 0;
	o->max_no_improvement = 10;
	o->seed = 42;
}

int kmeans_algo_parse(const char *s, enum kmeans_algo *a, struct err *e)
{
	if (s && strcmp(s, "lloyd") == 0)
		*a = KMEANS_LLOYD;
	else if (s && (strcmp(s, "minibatch") == 0 || strcmp(s, "mini-batch") == 0))
		*a = KMEANS_MINIBATCH;
	else {
		err_set(e, ERR_USAGE, "unknown k-means algorithm '%s'", s ? s : "(null)");
		return err_hint(e, "use lloyd or minibatch");
	}
	return 0;
}

/* ---- state ------------------------------------------------------------- */

struct km {
	const float *x;
	size_t n;
	uint32_t d, k;
	float *xn2;      /* n squared norms */
	double *cd;      /* k x d master centroids */
	float *cf;       /* k x d float copy for sgemm */
	float *cn2;      /* k squared norms of cf */
	float cn2max;
	float *dist;     /* ABLOCK x k scratch */
	double margin;   /* vec_margin(d) */
};

static void sync_float(struct km *m)
{
	m->cn2max = 0;
	for (size_t i = 0; i < (size_t)m->k * m->d; i++)
		m->cf[i] = (float)m->cd[i];
	for (uint32_t c = 0; c < m->k; c++) {
		m->cn2[c] = (float)vec_sqnorm_f64(m->cf + (size_t)c * m->d, m->d);
		if (m->cn2[c] > m->cn2max)
			m->cn2max = m->cn2[c];
	}
}

/*
 * Labels for `cnt` rows (rows[i] points at row i; xn2[i] its squared norm).
 * Returns how many needed the exact tie-break (for the debug log).
 */
static size_t assign_block(struct km *m, const float *rows, size_t cnt, const float *xn2,
			   uint32_t *labels)
{
	const uint32_t k = m->k, d = m->d;
	size_t exact = 0;
	vec_sqdist_block(rows, cnt, xn2, m->cf, k, m->cn2, d, m->dist);
	for (size_t i = 0; i < cnt; i++) {
		const float *r = m->dist + i * k;
		uint32_t best = 0;
		float bv = r[0];
		for (uint32_t c = 1; c < k; c++)
			if (r[c] < bv)
				bv = r[c], best = c;
		double thr = (double)bv + 4.0 * m->margin * ((double)xn2[i] + m->cn2max) + 1e-30;
		unsigned ncand = 0;
		for (uint32_t c = 0; c < k && ncand < 2; c++)
			if (r[c] <= thr)
				ncand++;
		if (ncand > 1) {
			exact++;
			const float *xi = rows + i * d;
			double bd = INFINITY;
			for (uint32_t c = 0; c < k; c++) {
				if (r[c] > thr)
					continue;
				double dd = vec_sqdist_f64(xi, m->cf + (size_t)c * d, d);
				if (dd < bd)
					bd = dd, best = c;
			}
		}
		labels[i] = best;
	}
	return exact;
}

/* Labels of all n points. */
static size_t assign_all(struct km *m, uint32_t *labels)
{
	size_t exact = 0;
	for (size_t i0 = 0; i0 < m->n; i0 += ABLOCK) {
		size_t cnt = m->n - i0 < ABLOCK ? m->n - i0 : ABLOCK;
		exact += assign_block(m, m->x + i0 * m->d, cnt, m->xn2 + i0, labels + i0);
	}
	return exact;
}

/* acc[j] += row[j] in double, j in order (vectorised over j only). */
static inline void add_row(double *acc, const float *row, uint32_t d)
{
	uint32_t j = 0;
	for (; j + 4 <= d; j += 4) {
		v4f f;
		v4d a;
		memcpy(&f, row + j, 16);
		memcpy(&a, acc + j, 32);
		a += __builtin_convertvector(f, v4d);
		memcpy(acc + j, &a, 32);
	}
	for (; j < d; j++)
		acc[j] += row[j];
}

static double exact_inertia(const struct km *m, const uint32_t *labels, uint64_t *sizes)
{
	double in = 0;
	if (sizes)
		memset(sizes, 0, m->k * sizeof *sizes);
	for (size_t i = 0; i < m->n; i++) {
		in += vec_sqdist_f64(m->x + i * m->d, m->cf + (size_t)labels[i] * m->d, m->d);
		if (sizes)
			sizes[labels[i]]++;
	}
	return in;
}

/* sum over dimensions of the variance of x, / d (scikit-learn's _tolerance). */
static double mean_variance(const struct km *m)
{
	const uint32_t d = m->d;
	double *s = xcalloc(d, sizeof *s), *s2 = xcalloc(d, sizeof *s2); /* one row each */
	for (size_t i = 0; i < m->n; i++) {
		const float *r = m->x + i * d;
		for (uint32_t j = 0; j < d; j++) {
			s[j] += r[j];
			s2[j] += (double)r[j] * r[j];
		}
	}
	double v = 0;
	for (uint32_t j = 0; j < d; j++) {
		double mu = s[j] / (double)m->n;
		v += s2[j] / (double)m->n - mu * mu;
	}
	free(s);
	free(s2);
	return v / d;
}

/* ---- k-means++ ------------------------------------------------------------ */

/* Index of the first sample whose running sum of w exceeds r (skipping zero
 * weights); the last positive one if rounding runs past the end; ns if all
 * weights are 0. */
static size_t d2_pick(const double *w, size_t ns, double r)
{
	double cum = 0;
	size_t last = ns;
	for (size_t s = 0; s < ns; s++) {
		if (w[s] <= 0)
			continue;
		last = s;
		cum += w[s];
		if (cum > r)
			return s;
	}
	return last;
}

/* k distinct seeded points as the initial centres. */
static int seed_random(struct km *m, const struct kmeans_opts *o, struct err *e)
{
	size_t *idx = malloc(xalloc_mul(m->n, sizeof *idx));
	if (!idx)
		return err_set(e, ERR_NOSPACE, "k-means: out of memory seeding %u centres from %zu points", m->k, m->n);
	for (size_t i = 0; i < m->n; i++)
		idx[i] = i;
	const uint64_t base = 1ULL << 41;
	for (uint32_t c = 0; c < m->k; c++) {
		size_t j = c + rng_below(o->seed, KMEANS_STREAM_INIT, base + c, (uint32_t)(m->n - c));
		size_t t = idx[c];
		idx[c] = idx[j];
		idx[j] = t;
		for (uint32_t j = 0; j < m->d; j++)
			m->cd[(size_t)c * m->d + j] = m->x[idx[c] * m->d + j];
	}
	free(idx);
	return 0;
}

/*
 * Greedy k-means++ (scikit-learn's default): each new centre is the best of
 * L = 2 + ln k candidates drawn by D^2 sampling, "best" meaning the lowest
 * potential sum_s min(mind[s], |x_s - cand|^2). Candidate distances come
 * from one sgemm; potentials within the sgemm error bound of the best are
 * recomputed exactly, so the choice is deterministic. mind[] itself is
 * always exact (vec_sqdist_f64).
 */
static int seed_plusplus(struct km *m, const struct kmeans_opts *o, struct err *e)
{
	const uint32_t d = m->d, k = m->k;
	size_t ns = o->init_sample ? o->init_sample : (size_t)k * 32;
	if (ns > m->n)
		ns = m->n;
	if (ns < k)
		ns = k;
	uint32_t L = 2 + (uint32_t)log((double)k);
	size_t *idx = malloc(xalloc_mul(m->n, sizeof *idx));
	double *mind = malloc(xalloc_mul(ns, sizeof *mind));
	float *S = malloc(xalloc_mul(xalloc_mul(ns, d), sizeof *S));
	float *sn2 = malloc(xalloc_mul(ns, sizeof *sn2));
	float *cand = xmalloc_array((size_t)L * d, sizeof *cand); /* L = 2 + ln k candidates */
	float *cn2 = xmalloc_array(L, sizeof *cn2);
	float *dist = malloc(xalloc_mul(xalloc_mul(ns, L), sizeof *dist));
	size_t *cidx = xmalloc_array(L, sizeof *cidx);
	double *pot = xmalloc_array(L, sizeof *pot);
	int rc = -1;
	if (!idx || !mind || !S || !sn2 || !dist) {
		err_set(e, ERR_NOSPACE, "k-means: out of memory seeding %u centres from %zu points", k, ns);
		goto out;
	}
	/* partial Fisher–Yates: idx[0..ns) is a seeded sample without replacement */
	for (size_t i = 0; i < m->n; i++)
		idx[i] = i;
	if (ns < m->n)
		for (size_t i = 0; i < ns; i++) {
			size_t j = i + rng_below(o->seed, KMEANS_STREAM_INIT, i, (uint32_t)(m->n - i));
			size_t t = idx[i];
			idx[i] = idx[j];
			idx[j] = t;
		}
	double sn2sum = 0;
	for (size_t s = 0; s < ns; s++) {
		memcpy(S + s * d, m->x + idx[s] * d, d * sizeof *S);
		sn2[s] = m->xn2[idx[s]];
		sn2sum += sn2[s];
	}
	/* k-means++ draws use indices 2^40 + ... of the same stream */
	const uint64_t base = 1ULL << 40;
	size_t first = rng_below(o->seed, KMEANS_STREAM_INIT, base, (uint32_t)ns);
	for (uint32_t j = 0; j < d; j++)
		m->cd[j] = S[first * d + j];
	for (size_t s = 0; s < ns; s++)
		mind[s] = vec_sqdist_f64(S + s * d, S + first * d, d);
	for (uint32_t c = 1; c < k; c++) {
		double total = 0;
		for (size_t s = 0; s < ns; s++)
			total += mind[s];
		size_t pick = ns;
		int have_dist = 0;
		uint32_t win_l = 0;
		if (total > 0) {
			for (uint32_t l = 0; l < L; l++) {
				double r = rng_uniform_f64(o->seed, KMEANS_STREAM_INIT,
							   base + (uint64_t)c * L + l) *
					   total;
				cidx[l] = d2_pick(mind, ns, r);
				memcpy(cand + (size_t)l * d, S + cidx[l] * d, d * sizeof *cand);
				cn2[l] = sn2[cidx[l]];
			}
			vec_sqdist_block(S, ns, sn2, cand, L, cn2, d, dist);
			double best = INFINITY;
			for (uint32_t l = 0; l < L; l++) {
				double p = 0;
				for (size_t s = 0; s < ns; s++) {
					double v = dist[s * L + l];
					p += v < mind[s] ? v : mind[s];
				}
				pot[l] = p;
				if (p < best)
					best = p;
			}
			/* settle near-ties exactly; lowest candidate slot wins ties */
			float cmax = 0;
			for (uint32_t l = 0; l < L; l++)
				cmax = cn2[l] > cmax ? cn2[l] : cmax;
			double cut = best + 8 * m->margin * (sn2sum + (double)ns * cmax) + 1e-30;
			/* duplicate draws are one candidate: keep the first slot */
			for (uint32_t l = 1; l < L; l++)
				for (uint32_t l2 = 0; l2 < l; l2++)
					if (cidx[l2] == cidx[l])
						pot[l] = INFINITY;
			unsigned close = 0;
			for (uint32_t l = 0; l < L; l++)
				close += pot[l] <= cut;
			uint32_t win = 0;
			if (close > 1) {
				double be = INFINITY;
				for (uint32_t l = 0; l < L; l++) {
					if (pot[l] > cut)
						continue;
					double p = 0;
					for (size_t s = 0; s < ns; s++) {
						/* exact only where the sgemm value might beat mind */
						double err = 4 * m->margin * ((double)sn2[s] + cn2[l]);
						if ((double)dist[s * L + l] - err > mind[s]) {
							p += mind[s];
							continue;
						}
						double v = vec_sqdist_f64(S + s * d, cand + (size_t)l * d, d);
						p += v < mind[s] ? v : mind[s];
					}
					if (p < be)
						be = p, win = l;
				}
			} else {
				for (uint32_t l = 0; l < L; l++)
					if (pot[l] == best) {
						win = l;
						break;
					}
			}
			pick = cidx[win];
			have_dist = 1;
			win_l = win;
		}
		if (pick == ns) /* all remaining points coincide with centres */
			pick = c % ns;
		const float *p = S + pick * d;
		double *dst = m->cd + (size_t)c * d;
		for (uint32_t j = 0; j < d; j++)
			dst[j] = p[j];
		for (size_t s = 0; s < ns; s++) {
			if (mind[s] <= 0)
				continue;
			if (have_dist && (double)dist[s * L + win_l] -
						 4 * m->margin * ((double)sn2[s] + cn2[win_l]) >
					 mind[s])
				continue; /* cannot beat mind[s], whatever the rounding */
			double dd = vec_sqdist_f64(S + s * d, p, d);
			if (dd < mind[s])
				mind[s] = dd;
		}
	}
	rc = 0;
out:
	free(idx), free(mind), free(S), free(sn2), free(cand), free(cn2), free(dist), free(cidx),
		free(pot);
	return rc;
}

/* ---- Lloyd -------------------------------------------------------------------- */

static int run_lloyd(struct km *m, const struct kmeans_opts *o, double tol_abs, uint32_t *labels,
		     struct err *e)
{
	const uint32_t d = m->d, k = m->k;
	size_t nd = (size_t)k * d;
	double *sums = malloc(xalloc_mul(nd, sizeof *sums));
	uint64_t *cnt = malloc(xalloc_mul(k, sizeof *cnt));
	uint32_t *prev = malloc(xalloc_mul(m->n, sizeof *prev));
	if (!sums || !cnt || !prev) {
		free(sums);
		free(cnt);
		free(prev);
		return err_set(e, ERR_NOSPACE, "k-means: out of memory (k=%u, d=%u, %zu points)", k, d, m->n);
	}
	struct progress p;
	if (o->progress)
		progress_start(&p, "k-means", o->max_iter, "iterations");
	uint32_t it = 0;
	for (; it < o->max_iter; it++) {
		size_t exact = assign_all(m, labels);
		if (it > 0 && memcmp(prev, labels, m->n * sizeof *labels) == 0) {
			log_debug("k-means: converged after %u passes (labels stable)", it);
			break;
		}
		memcpy(prev, labels, m->n * sizeof *labels);
		memset(sums, 0, nd * sizeof *sums);
		memset(cnt, 0, k * sizeof *cnt);
		for (size_t i = 0; i < m->n; i++) {
			add_row(sums + (size_t)labels[i] * d, m->x + i * d, d);
			cnt[labels[i]]++;
		}
		double shift = 0;
		double *far = NULL;
		for (uint32_t c = 0; c < k; c++) {
			double *cd = m->cd + (size_t)c * d;
			if (cnt[c] == 0) {
				/* farthest point from its (old) centre, once per empty cluster */
				if (!far) {
					far = malloc(xalloc_mul(m->n, sizeof *far));
					if (!far) {
						if (o->progress)
							progress_finish(&p);
						free(sums);
						free(cnt);
						free(prev);
						return err_set(e, ERR_NOSPACE,
							       "k-means: out of memory re-seeding an empty cluster (%zu points)",
							       m->n);
					}
					for (size_t i = 0; i < m->n; i++)
						far[i] = vec_sqdist_f64(m->x + i * d,
									m->cf + (size_t)labels[i] * d, d);
				}
				size_t best = 0;
				for (size_t i = 1; i < m->n; i++)
					if (far[i] > far[best])
						best = i;
				far[best] = -1;
				for (uint32_t j = 0; j < d; j++) {
					double v = m->x[best * d + j];
					shift += (v - cd[j]) * (v - cd[j]);
					cd[j] = v;
				}
				log_debug("k-means: pass %u: cluster %u empty, re-seeded with point %zu", it,
					  c, best);
				continue;
			}
			const double *s = sums + (size_t)c * d;
			double inv = 1.0 / (double)cnt[c];
			for (uint32_t j = 0; j < d; j++) {
				double v = s[j] * inv;
				shift += (v - cd[j]) * (v - cd[j]);
				cd[j] = v;
			}
		}
		free(far);
		sync_float(m);
		log_debug("k-means: pass %u: shift %.3g, %zu exact tie-breaks", it, shift, exact);
		if (o->progress)
			progress_add(&p, 1, 0, 0);
		if (tol_abs > 0 && shift <= tol_abs) {
			it++;
			log_debug("k-means: converged after %u passes (shift %.3g <= %.3g)", it, shift,
				  tol_abs);
			break;
		}
	}
	if (o->progress)
		progress_finish(&p);
	free(sums);
	free(cnt);
	free(prev);
	return 0;
}

/* ---- mini-batch ------------------------------------------------------------------ */

static int run_minibatch(struct km *m, const struct kmeans_opts *o, double tol_abs, struct err *e)
{
	const uint32_t d = m->d, k = m->k;
	uint32_t B = o->batch_size ? o->batch_size : 1024;
	if (B > m->n)
		B = (uint32_t)m->n;
	uint64_t steps = (uint64_t)o->max_iter * m->n / B;
	if (steps == 0)
		steps = 1;
	float *xb = malloc(xalloc_mul(xalloc_mul(B, d), sizeof *xb));
	float *xbn = malloc(xalloc_mul(B, sizeof *xbn));
	uint32_t *lab = malloc(xalloc_mul(B, sizeof *lab));
	double *sums = malloc(xalloc_mul(xalloc_mul(k, d), sizeof *sums));
	uint32_t *bc = malloc(xalloc_mul(k, sizeof *bc));
	double *wcount = calloc(k, sizeof *wcount);
	if (!xb || !xbn || !lab || !sums || !bc || !wcount) {
		free(xb), free(xbn), free(lab), free(sums), free(bc), free(wcount);
		return err_set(e, ERR_NOSPACE, "k-means: out of memory (batch %u, k=%u, d=%u)", B, k, d);
	}
	struct progress p;
	if (o->progress)
		progress_start(&p, "k-means (mini-batch)", steps, "steps");
	double ewa = 0, ewa_min = INFINITY;
	double alpha = (double)B * 2.0 / ((double)m->n + 1);
	if (alpha > 1)
		alpha = 1;
	uint32_t no_improve = 0;
	uint64_t st = 0, since_reassign = 0, reassigned = 0;
	for (; st < steps; st++) {
		for (uint32_t j = 0; j < B; j++) {
			size_t r = rng_below(o->seed, KMEANS_STREAM_BATCH, st * B + j, (uint32_t)m->n);
			memcpy(xb + (size_t)j * d, m->x + r * d, d * sizeof *xb);
			xbn[j] = m->xn2[r];
		}
		assign_block(m, xb, B, xbn, lab);
		double bin = 0;
		for (uint32_t j = 0; j < B; j++)
			bin += vec_sqdist_f64(xb + (size_t)j * d, m->cf + (size_t)lab[j] * d, d);
		bin /= B;
		memset(bc, 0, k * sizeof *bc);
		for (uint32_t j = 0; j < B; j++) {
			if (bc[lab[j]]++ == 0)
				memset(sums + (size_t)lab[j] * d, 0, d * sizeof *sums);
			add_row(sums + (size_t)lab[j] * d, xb + (size_t)j * d, d);
		}
		double shift = 0;
		for (uint32_t c = 0; c < k; c++) {
			if (!bc[c])
				continue;
			double *cd = m->cd + (size_t)c * d;
			const double *s = sums + (size_t)c * d;
			double nc = wcount[c] + bc[c];
			for (uint32_t j = 0; j < d; j++) {
				double v = (cd[j] * wcount[c] + s[j]) / nc;
				shift += (v - cd[j]) * (v - cd[j]);
				cd[j] = v;
			}
			wcount[c] = nc;
		}
		/* scikit-learn's random reassignment: every ~10k samples, centres
		 * with under 1% of the largest count move to random batch points */
		since_reassign += B;
		if (since_reassign >= 10 * (uint64_t)k) {
			since_reassign = 0;
			double wmax = 0;
			for (uint32_t c = 0; c < k; c++)
				wmax = wcount[c] > wmax ? wcount[c] : wmax;
			double wmin_kept = INFINITY;
			uint32_t nre = 0;
			for (uint32_t c = 0; c < k; c++) {
				if (wcount[c] < 0.01 * wmax && nre < B / 2)
					nre++;
				else if (wcount[c] < wmin_kept)
					wmin_kept = wcount[c];
			}
			for (uint32_t c = 0, done = 0; c < k && done < nre; c++) {
				if (!(wcount[c] < 0.01 * wmax))
					continue;
				uint32_t j = rng_below(o->seed, KMEANS_STREAM_BATCH,
						       (1ULL << 50) + st * k + c, B);
				for (uint32_t t = 0; t < d; t++)
					m->cd[(size_t)c * d + t] = xb[(size_t)j * d + t];
				wcount[c] = isfinite(wmin_kept) ? wmin_kept : 1;
				done++;
				reassigned++;
			}
		}
		sync_float(m);
		if (o->progress)
			progress_add(&p, 1, 0, 0);
		ewa = st == 0 ? bin : ewa * (1 - alpha) + bin * alpha;
		if (st > 0 && tol_abs > 0 && shift <= tol_abs) {
			st++;
			log_debug("k-means: converged at step %llu (shift %.3g)", (unsigned long long)st,
				  shift);
			break;
		}
		if (ewa < ewa_min) {
			ewa_min = ewa;
			no_improve = 0;
		} else if (o->max_no_improvement && ++no_improve >= o->max_no_improvement) {
			st++;
			log_debug("k-means: stopped at step %llu: no improvement in %u steps",
				  (unsigned long long)st, no_improve);
			break;
		}
	}
	if (o->progress)
		progress_finish(&p);
	log_debug("k-means: %llu of %llu mini-batch steps, %llu centres reassigned",
		  (unsigned long long)st, (unsigned long long)steps, (unsigned long long)reassigned);
	free(xb), free(xbn), free(lab), free(sums), free(bc), free(wcount);
	return 0;
}

/* ---- API ------------------------------------------------------------------------- */

int kmeans_run(const float *x, size_t n, uint32_t d, const struct kmeans_opts *o, float *centroids_out,
	       uint64_t *sizes_out, double *inertia_out, struct err *e)
{
	const uint32_t k = o->k;
	if (k == 0 || d == 0)
		return err_set(e, ERR_USAGE, "k-means: k and the dimension must be positive (k=%u, d=%u)",
			       k, d);
	if (n < k) {
		err_set(e, ERR_INPUT, "k-means: k=%u centres need at least %u points, got %zu", k, k, n);
		return err_hint(e, "lower k or use a larger corpus");
	}
	if (n > UINT32_MAX)
		return err_set(e, ERR_UNSUPPORTED, "k-means: more than 2^32-1 points (%zu)", n);
	struct km m = { .x = x, .n = n, .d = d, .k = k, .margin = vec_margin(d) };
	uint32_t *labels = malloc(xalloc_mul(n, sizeof *labels));
	m.xn2 = malloc(xalloc_mul(n, sizeof *m.xn2));
	m.cd = malloc(xalloc_mul(xalloc_mul(k, d), sizeof *m.cd));
	m.cf = malloc(xalloc_mul(xalloc_mul(k, d), sizeof *m.cf));
	m.cn2 = malloc(xalloc_mul(k, sizeof *m.cn2));
	m.dist = malloc(xalloc_mul(xalloc_mul(ABLOCK, k), sizeof *m.dist));
	int rc = -1;
	if (!labels || !m.xn2 || !m.cd || !m.cf || !m.cn2 || !m.dist) {
		err_set(e, ERR_NOSPACE, "k-means: out of memory for %zu x %u points, k=%u", n, d, k);
		goto out;
	}
	vec_sqnorms(x, n, d, m.xn2);
	if ((o->init_random ? seed_random(&m, o, e) : seed_plusplus(&m, o, e)) < 0)
		goto out;
	sync_float(&m);
	double tol_abs = o->tol > 0 ? o->tol * mean_variance(&m) : 0;
	if (o->algo == KMEANS_MINIBATCH)
		rc = run_minibatch(&m, o, tol_abs, e);
	else
		rc = run_lloyd(&m, o, tol_abs, labels, e);
	if (rc < 0)
		goto out;
	assign_all(&m, labels);
	double in = exact_inertia(&m, labels, sizes_out);
	if (inertia_out)
		*inertia_out = in;
	memcpy(centroids_out, m.cf, (size_t)k * d * sizeof *m.cf);
	rc = 0;
out:
	free(labels);
	free(m.xn2);
	free(m.cd);
	free(m.cf);
	free(m.cn2);
	free(m.dist);
	return rc;
}
