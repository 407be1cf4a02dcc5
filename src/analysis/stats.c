/*
 * stats.c — Mann-Whitney U, a bootstrap CI for a percentile difference,
 * and asv-style step detection (see include/engrave/stats.h).
 *
 * Mann-Whitney: the two samples are merged and sorted once (O(n log n)),
 * ranks are averaged over ties, and the tie term sum(t^3 - t) corrects the
 * variance of U. The p value is two-sided from the normal approximation
 * with a continuity correction of 0.5 (sample sizes here are thousands).
 *
 * Bootstrap: a private splitmix64/xoshiro256** generator seeded by the
 * caller, Marsaglia-Tsang gamma variates, Beta = G1/(G1+G2). Replicate r of
 * the k-th order statistic is sorted[ceil(n*U_r) - 1]; a and b are drawn
 * independently. The interval is the (1-conf)/2 and (1+conf)/2 quantiles
 * of the replicate differences.
 *
 * Step detection: cost[i][j] = sum |x - median| over x[i..j] is filled row
 * by row with a two-heap running median (O(m^2 log m)); then for every
 * segment count J up to STEP_MAX_SEG the best L1 piecewise-constant fit is
 * found by dynamic programming (O(J m^2)), and the J minimising
 * beta*J + log(residual) wins (asv's BIC-like rule, beta = 4 ln m / m).
 * The residual is floored at half the L1 size of the series' noise
 * (estimated from successive differences) so that, unlike a bare log,
 * fitting noise point by point never wins.
 */
#include "engrave/stats.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- percentiles and sorting ---------------------------------------- */

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

void stats_sort(double *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_double);
}

static size_t rank_of(size_t n, double pct)
{
	double r = ceil(pct / 100.0 * (double)n - 1e-9);
	if (r < 1)
		r = 1;
	if (r > (double)n)
		r = (double)n;
	return (size_t)r;
}

double stats_percentile(const double *sorted, size_t n, double pct)
{
	if (!n)
		return 0;
	return sorted[rank_of(n, pct) - 1];
}

/* ---- Mann-Whitney U ---------------------------------------------------- */

struct tagged {
	double v;
	int from_a;
};

static int cmp_tagged(const void *x, const void *y)
{
	double a = ((const struct tagged *)x)->v, b = ((const struct tagged *)y)->v;
	return (a > b) - (a < b);
}

int stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb, struct stats_mw *out,
		       struct err *e)
{
	if (!na || !nb)
		return err_set(e, ERR_INPUT, "mann-whitney: empty sample (%zu and %zu values)", na, nb);
	size_t n = na + nb;
	struct tagged *t = malloc(xalloc_mul(n, sizeof(*t)));
	if (!t)
		return err_set(e, ERR_NOSPACE, "mann-whitney: out of memory for %zu values", n);
	for (size_t i = 0; i < na; i++)
		t[i] = (struct tagged){ a[i], 1 };
	for (size_t i = 0; i < nb; i++)
		t[na + i] = (struct tagged){ b[i], 0 };
	qsort(t, n, sizeof(*t), cmp_tagged);
	double ra = 0, ties = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && t[j + 1].v == t[i].v)
			j++;
		double rank = ((double)i + (double)j) / 2.0 + 1.0, cnt = (double)(j - i + 1);
		for (size_t k = i; k <= j; k++)
			if (t[k].from_a)
				ra += rank;
		ties += cnt * cnt * cnt - cnt;
		i = j + 1;
	}
	free(t);
	double n1 = (double)na, n2 = (double)nb, nn = (double)n;
	double u = ra - n1 * (n1 + 1) / 2.0;
	double mu = n1 * n2 / 2.0;
	double var = n1 * n2 / 12.0 * ((nn + 1) - ties / (nn * (nn - 1 > 0 ? nn - 1 : 1)));
	double z = 0;
	if (var > 0) {
		double d = u - mu;
		double cc = d > 0 ? -0.5 : (d < 0 ? 0.5 : 0);
		z = (d + cc) / sqrt(var);
	}
	out->n1 = na;
	out->n2 = nb;
	out->u = u;
	out->z = z;
	out->p = var > 0 ? erfc(fabs(z) / sqrt(2.0)) : 1.0;
	return 0;
}

/* ---- bootstrap ----------------------------------------------------------- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* uniform in (0, 1) */
static double rng_unif(struct rng *r) { return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0; }

static double rng_normal(struct rng *r)
{
	double u1 = rng_unif(r), u2 = rng_unif(r);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Marsaglia-Tsang, shape >= 1 (order statistics always give k >= 1). */
static double rng_gamma(struct rng *r, double shape)
{
	double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
	for (;;) {
		double x, v;
		do {
			x = rng_normal(r);
			v = 1.0 + c * x;
		} while (v <= 0);
		v = v * v * v;
		double u = rng_unif(r);
		if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

/* One bootstrap replicate of the k-th order statistic of sorted[0..n). */
static double boot_order_stat(struct rng *r, const double *sorted, size_t n, size_t k)
{
	double g1 = rng_gamma(r, (double)k), g2 = rng_gamma(r, (double)(n - k + 1));
	double u = g1 / (g1 + g2);
	double idx = ceil(u * (double)n);
	if (idx < 1)
		idx = 1;
	if (idx > (double)n)
		idx = (double)n;
	return sorted[(size_t)idx - 1];
}

int stats_bootstrap_pct_diff(const double *a, size_t na, const double *b, size_t nb, double pct,
			     double conf, unsigned iters, uint64_t seed, struct stats_ci *out, struct err *e)
{
	if (!na || !nb)
		return err_set(e, ERR_INPUT, "bootstrap: empty sample (%zu and %zu values)", na, nb);
	if (!(pct > 0 && pct <= 100) || !(conf > 0 && conf < 1) || iters < 10)
		return err_set(e, ERR_INPUT, "bootstrap: bad parameters (pct %g, conf %g, iters %u)", pct, conf,
			       iters);
	double *d = xmalloc_array(iters, sizeof(*d));
	struct rng r;
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r.s[i] = splitmix(&x);
	size_t ka = rank_of(na, pct), kb = rank_of(nb, pct);
	for (unsigned i = 0; i < iters; i++) {
		double va = boot_order_stat(&r, a, na, ka);
		double vb = boot_order_stat(&r, b, nb, kb);
		d[i] = vb - va;
	}
	stats_sort(d, iters);
	double lo_q = (1.0 - conf) / 2.0, hi_q = 1.0 - lo_q;
	size_t lo = (size_t)floor(lo_q * (iters - 1)), hi = (size_t)ceil(hi_q * (iters - 1));
	out->est = stats_percentile(b, nb, pct) - stats_percentile(a, na, pct);
	out->lo = d[lo];
	out->hi = d[hi];
	free(d);
	return 0;
}

/* ---- step detection -------------------------------------------------------- */

#define STEP_MAX_SEG 24

/* A binary heap of doubles; max-heap when sign = 1, min-heap when sign = -1
 * (values are stored multiplied by sign). */
struct heap {
	double *v;
	size_t n;
	double sign, sum;
};

static void heap_push(struct heap *h, double x)
{
	size_t i = h->n++;
	h->v[i] = x * h->sign;
	h->sum += x;
	while (i && h->v[(i - 1) / 2] < h->v[i]) {
		double t = h->v[i];
		h->v[i] = h->v[(i - 1) / 2];
		h->v[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static double heap_top(const struct heap *h) { return h->v[0] * h->sign; }

static double heap_pop(struct heap *h)
{
	double top = heap_top(h);
	h->v[0] = h->v[--h->n];
	h->sum -= top;
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && h->v[l] > h->v[m])
			m = l;
		if (r < h->n && h->v[r] > h->v[m])
			m = r;
		if (m == i)
			break;
		double t = h->v[i];
		h->v[i] = h->v[m];
		h->v[m] = t;
		i = m;
	}
	return top;
}

static double seg_median(const double *x, size_t i, size_t j, double *scratch)
{
	size_t len = j - i + 1;
	memcpy(scratch, x + i, len * sizeof(double));
	stats_sort(scratch, len);
	return len % 2 ? scratch[len / 2] : (scratch[len / 2 - 1] + scratch[len / 2]) / 2.0;
}

int stats_detect_steps(const double *xin, size_t nin, double min_rel, struct stats_step **steps,
		       size_t *n_steps, struct err *e)
{
	*steps = NULL;
	*n_steps = 0;
	if (nin < 2)
		return 0;
	size_t off = nin > STATS_STEPS_MAX_POINTS ? nin - STATS_STEPS_MAX_POINTS : 0;
	const double *x = xin + off;
	size_t m = nin - off;
	size_t kmax = m < STEP_MAX_SEG ? m : STEP_MAX_SEG;
	double *cost = malloc(xalloc_mul(m * m, sizeof(double))); /* m <= STATS_STEPS_MAX_POINTS */
	double *hv = malloc(xalloc_mul(2 * m, sizeof(double)));
	double *g = malloc(xalloc_mul((kmax + 1) * m, sizeof(double)));
	size_t *from = malloc(xalloc_mul((kmax + 1) * m, sizeof(size_t)));
	double *scratch = malloc(xalloc_mul(m, sizeof(double)));
	int rc = -1;
	if (!cost || !hv || !g || !from || !scratch) {
		err_set(e, ERR_NOSPACE, "step detection: out of memory for %zu points", m);
		goto out;
	}
	for (size_t i = 0; i < m; i++) {
		struct heap lo = { hv, 0, 1, 0 }, up = { hv + m, 0, -1, 0 };
		for (size_t j = i; j < m; j++) {
			if (!lo.n || x[j] <= heap_top(&lo))
				heap_push(&lo, x[j]);
			else
				heap_push(&up, x[j]);
			if (lo.n > up.n + 1)
				heap_push(&up, heap_pop(&lo));
			else if (up.n > lo.n)
				heap_push(&lo, heap_pop(&up));
			double med = heap_top(&lo);
			double c = (up.sum - (double)up.n * med) + ((double)lo.n * med - lo.sum);
			cost[i * m + j] = c > 0 ? c : 0;
		}
	}
	/* g[k][j]: best cost of x[0..j] in exactly k segments; from = start of the last */
	for (size_t j = 0; j < m; j++) {
		g[1 * m + j] = cost[j];
		from[1 * m + j] = 0;
	}
	for (size_t k = 2; k <= kmax; k++)
		for (size_t j = 0; j < m; j++) {
			double best = INFINITY;
			size_t bi = 0;
			for (size_t i = k - 1; i <= j; i++) {
				double c = g[(k - 1) * m + i - 1] + cost[i * m + j];
				if (c < best) {
					best = c;
					bi = i;
				}
			}
			g[k * m + j] = best;
			from[k * m + j] = bi;
		}
	/* Noise floor: a fit cannot be better than the noise. sigma is
	 * estimated robustly from successive differences (median |dx| =
	 * 0.954 sigma for Gaussian noise; a few steps do not move it), and
	 * residuals below half the noise's L1 size count as that floor, so
	 * fitting single noisy points never pays. Exact plateaus (sigma 0)
	 * keep a tiny floor and their steps are found. */
	double scale = 0;
	for (size_t i = 0; i < m; i++) {
		scale += fabs(x[i]);
		if (i + 1 < m)
			scratch[i] = fabs(x[i + 1] - x[i]);
	}
	stats_sort(scratch, m - 1);
	double sigma = ((m - 1) % 2 ? scratch[(m - 1) / 2] : (scratch[(m - 1) / 2 - 1] + scratch[(m - 1) / 2]) / 2.0) /
		       0.954;
	double floor_s = 0.5 * (double)m * sigma;
	double tiny = 1e-12 * (scale + 1.0);
	if (floor_s < tiny)
		floor_s = tiny;
	double beta = 4.0 * log((double)m) / (double)m;
	size_t bestk = 1;
	double bestv = INFINITY;
	for (size_t k = 1; k <= kmax; k++) {
		double s = g[k * m + m - 1];
		if (!isfinite(s))
			continue;
		double v = beta * (double)k + log(s > floor_s ? s : floor_s);
		if (v < bestv - 1e-12) {
			bestv = v;
			bestk = k;
		}
	}
	/* backtrack the segment starts */
	size_t starts[STEP_MAX_SEG + 1];
	size_t j = m - 1;
	for (size_t k = bestk; k >= 1; k--) {
		starts[k - 1] = from[k * m + j];
		if (k > 1)
			j = starts[k - 1] - 1;
	}
	struct stats_step *out = NULL;
	size_t nout = 0;
	if (bestk > 1)
		out = xcalloc(bestk - 1, sizeof(*out));
	for (size_t k = 1; k < bestk; k++) {
		size_t s0 = starts[k - 1], s1 = starts[k], s2 = k + 1 < bestk ? starts[k + 1] : m;
		double before = seg_median(x, s0, s1 - 1, scratch), after = seg_median(x, s1, s2 - 1, scratch);
		double rel = before != 0 ? (after - before) / fabs(before) : 0;
		if (fabs(rel) < min_rel && before != 0)
			continue;
		out[nout++] = (struct stats_step){ s1 + off, before, after, rel };
	}
	if (!nout) {
		free(out);
		out = NULL;
	}
	*steps = out;
	*n_steps = nout;
	rc = 0;
out:
	free(cost);
	free(hv);
	free(g);
	free(from);
	free(scratch);
	return rc;
}
