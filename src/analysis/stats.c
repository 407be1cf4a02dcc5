/*
 * stats.c — Mann-Whitney U, a bootstrap CI for a percentile difference,
 * and asv-style step detection weighted by each point's uncertainty (see
 * include/engrave/stats.h).
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
 * Step detection follows the idea of asv (airspeed velocity,
 * asv/step_detect.py, after Friedrich et al. 2008): fit the series with the
 * piecewise-constant f minimising the Potts functional
 *
 *     sum_i w_i |y_i - f_i| + gamma * (number of levels),   w_i = 1 / sigma_i
 *
 * and report the jumps of f. Written here from that idea, not from asv's
 * code, with these choices:
 *
 *  - Scale: y = ln x when every x > 0 (latencies spanning orders of
 *    magnitude; a step is a ratio, sigma_i = se_i / x_i is relative), else
 *    y = x.
 *  - Noise: sigma_i is the point's own standard error (a run's block
 *    spread, history.c) widened by the between-run noise tau the series
 *    shows: tot = median |y_i+1 - y_i| / 0.954 (the gaussian sigma; steps,
 *    if fewer than half the differences, do not move a median) times
 *    1 + 1/sqrt(n-1) for the few differences it rests on, and tau^2 =
 *    tot^2 - median sigma_i^2 when positive. With fewer than
 *    STATS_NOISE_MIN_POINTS points tau is not measurable and the points'
 *    own uncertainties are trusted. Points without one take the median of
 *    the others (asv's rule), else tot, else STATS_ASSUMED_REL. sigma_i is
 *    at least STATS_SIGMA_FLOOR (1%: runs do not repeat closer than that).
 *  - gamma: asv picks gamma by an information criterion because its
 *    weights are only relative; here the weights carry the noise's scale,
 *    so the criterion is a fixed price per level in units of one sigma,
 *    gamma = 3 + ln n. Between two lone points that is a jump of more than
 *    3 + ln 2 = 3.7 sigma; on plain gaussian noise with the right sigma it
 *    reports a step in under 1% of series of 6 to 100 points (about 4% at
 *    6 points when the noise is estimated from the series itself).
 *  - Solution: exact, by dynamic programming over the last level's start
 *    (O(n^2 log n)); the weighted median and its L1 cost for every
 *    segment come from a running two-heap weighted median.
 *  - Outliers: a lone point between two levels that one level fits as
 *    well (counting gamma) is an outlier: it is left out and the fit
 *    redone, so one noisy run never makes two steps; a lone point at
 *    either end stays (it may be the start of a new level).
 *  - Significance: z = |jump| / sqrt(se_a^2 + se_b^2), se of a level
 *    = c / sqrt(sum w_i^2) (c = sqrt(pi/2) for a median of 3 or more).
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

/* One point of the fit: its value on the fit scale and its weight 1/sigma. */
struct wpt {
	double y, w;
};

/* A binary heap of weighted points, a max-heap on y when max is set, else a
 * min-heap; w and s are the sums of w and w*y over what it holds. */
struct wheap {
	struct wpt *a;
	size_t n;
	int max;
	double w, s;
};

static int wheap_above(const struct wheap *h, size_t i, size_t j)
{
	return h->max ? h->a[i].y > h->a[j].y : h->a[i].y < h->a[j].y;
}

static void wheap_swap(struct wheap *h, size_t i, size_t j)
{
	struct wpt t = h->a[i];
	h->a[i] = h->a[j];
	h->a[j] = t;
}

static void wheap_push(struct wheap *h, struct wpt p)
{
	size_t i = h->n++;
	h->a[i] = p;
	h->w += p.w;
	h->s += p.w * p.y;
	for (; i && wheap_above(h, i, (i - 1) / 2); i = (i - 1) / 2)
		wheap_swap(h, i, (i - 1) / 2);
}

static struct wpt wheap_pop(struct wheap *h)
{
	struct wpt top = h->a[0];
	h->a[0] = h->a[--h->n];
	h->w -= top.w;
	h->s -= top.w * top.y;
	if (!h->n)
		h->w = h->s = 0;
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && wheap_above(h, l, m))
			m = l;
		if (r < h->n && wheap_above(h, r, m))
			m = r;
		if (m == i)
			break;
		wheap_swap(h, i, m);
		i = m;
	}
	return top;
}

/* A running weighted median: lo holds the points up to it (its top is the
 * median: the smallest y whose cumulative weight reaches half), up the rest. */
struct wmed {
	struct wheap lo, up;
	double sw2; /* sum of w^2, for the level's standard error */
	size_t n;
};

/* scratch holds 2 * cap points */
static void wmed_init(struct wmed *m, struct wpt *scratch, size_t cap)
{
	m->lo = (struct wheap){ scratch, 0, 1, 0, 0 };
	m->up = (struct wheap){ scratch + cap, 0, 0, 0, 0 };
	m->sw2 = 0;
	m->n = 0;
}

static void wmed_add(struct wmed *m, struct wpt p)
{
	wheap_push(!m->lo.n || p.y <= m->lo.a[0].y ? &m->lo : &m->up, p);
	m->sw2 += p.w * p.w;
	m->n++;
	double half = (m->lo.w + m->up.w) / 2;
	while (m->up.n && m->lo.w < half)
		wheap_push(&m->lo, wheap_pop(&m->up));
	while (m->lo.n > 1 && m->lo.w - m->lo.a[0].w >= half)
		wheap_push(&m->up, wheap_pop(&m->lo));
}

static double wmed_level(const struct wmed *m) { return m->lo.a[0].y; }

/* sum w |y - level| over the points held */
static double wmed_cost(const struct wmed *m)
{
	double med = wmed_level(m);
	double c = (med * m->lo.w - m->lo.s) + (m->up.s - med * m->up.w);
	return c > 0 ? c : 0;
}

/* The level of p[i..j) and p[k..l) taken together, with its cost. */
static void level_of(const struct wpt *p, size_t i, size_t j, size_t k, size_t l, struct wpt *scratch, size_t cap,
		     struct wmed *out)
{
	wmed_init(out, scratch, cap);
	for (; i < j; i++)
		wmed_add(out, p[i]);
	for (; k < l; k++)
		wmed_add(out, p[k]);
}

/*
 * The Potts fit of p[0..m): B[j] is the least sum w|y - f| + gamma * levels
 * over p[0..j), start[j] the first point of its last level. Rows start at
 * i with B[i] final, so the running median of p[i..j] serves every j.
 */
static void potts_fit(const struct wpt *p, size_t m, double gamma, double *B, size_t *start, struct wpt *scratch)
{
	B[0] = 0;
	for (size_t j = 1; j <= m; j++)
		B[j] = INFINITY;
	for (size_t i = 0; i < m; i++) {
		struct wmed md;
		wmed_init(&md, scratch, m);
		for (size_t j = i; j < m; j++) {
			wmed_add(&md, p[j]);
			double c = B[i] + gamma + wmed_cost(&md);
			if (c < B[j + 1]) {
				B[j + 1] = c;
				start[j + 1] = i;
			}
		}
	}
}

/* The fit's levels as starts seg[0..k) (seg[k] = m); returns k. */
static size_t potts_levels(const size_t *start, size_t m, size_t *seg)
{
	size_t k = 0;
	for (size_t j = m; j > 0; j = start[j])
		seg[k++] = start[j];
	for (size_t a = 0, b = k - 1; a < b; a++, b--) {
		size_t t = seg[a];
		seg[a] = seg[b];
		seg[b] = t;
	}
	seg[k] = m;
	return k;
}

static double median_of(double *v, size_t n)
{
	stats_sort(v, n);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* The fit scale, each point's sigma on it (out->sigma), fill and tau; see
 * the rule at the top of this file. y holds m values, scratch 2m. */
static void step_noise(const double *x, const double *sigma, size_t m, double *y, double *scratch,
		       struct stats_steps *out, double *sig)
{
	int lg = 1;
	for (size_t i = 0; i < m; i++)
		lg &= isfinite(x[i]) && x[i] > 0;
	out->log_scale = lg;
	for (size_t i = 0; i < m; i++)
		scratch[i] = fabs(x[i]);
	double mag = median_of(scratch, m);
	double floor_s = lg ? STATS_SIGMA_FLOOR : (mag > 0 ? STATS_SIGMA_FLOOR * mag : 1e-12);
	size_t nk = 0;
	for (size_t i = 0; i < m; i++) {
		y[i] = lg ? log(x[i]) : x[i];
		sig[i] = NAN;
		if (sigma && isfinite(sigma[i]) && sigma[i] >= 0)
			sig[i] = lg ? sigma[i] / x[i] : sigma[i];
		if (!isnan(sig[i]))
			scratch[nk++] = sig[i];
	}
	double tot = NAN;
	if (m >= STATS_NOISE_MIN_POINTS) {
		/* median |successive difference| = 0.954 sigma under gaussian noise;
		 * steps, fewer than half the differences, do not move it */
		double *d = scratch + nk;
		for (size_t i = 0; i + 1 < m; i++)
			d[i] = fabs(y[i + 1] - y[i]);
		tot = median_of(d, m - 1) / 0.954 * (1 + 1 / sqrt((double)(m - 1)));
	}
	double fill;
	if (nk == m) {
		out->fill = STATS_FILL_NONE;
		fill = 0;
	} else if (nk) {
		out->fill = STATS_FILL_KNOWN;
		fill = median_of(scratch, nk);
	} else if (!isnan(tot)) {
		out->fill = STATS_FILL_SERIES;
		fill = tot;
	} else {
		out->fill = STATS_FILL_ASSUMED;
		fill = lg ? STATS_ASSUMED_REL : STATS_ASSUMED_REL * mag;
	}
	for (size_t i = 0; i < m; i++) {
		if (isnan(sig[i]))
			sig[i] = fill;
		scratch[i] = sig[i] * sig[i];
	}
	double tau2 = 0;
	if (!isnan(tot) && nk)
		tau2 = tot * tot - median_of(scratch, m);
	out->tau = tau2 > 0 ? sqrt(tau2) : 0;
	for (size_t i = 0; i < m; i++) {
		double s = sqrt(sig[i] * sig[i] + out->tau * out->tau);
		sig[i] = s > floor_s ? s : floor_s;
	}
}

struct step_work {
	struct wpt *p, *scratch;   /* m points; 2m for the running medians */
	size_t *idx, *start, *seg, *cand;
	double *B;
};

/*
 * One lone level (seg[s] .. seg[s+1] holds one point) between two others
 * that one level fits as well as two, counting its penalty: an outlier.
 * Returns how many points its neighbours hold, 0 when it is no outlier.
 */
static size_t outlier_support(const struct step_work *w, size_t k, size_t s, double gamma, size_t m)
{
	const size_t *seg = w->seg;
	if (s == 0 || s + 1 >= k || seg[s + 1] - seg[s] != 1)
		return 0;
	struct wmed l, r, both;
	level_of(w->p, seg[s - 1], seg[s], 0, 0, w->scratch, m, &l);
	double cl = wmed_cost(&l);
	level_of(w->p, seg[s + 1], seg[s + 2], 0, 0, w->scratch, m, &r);
	double cr = wmed_cost(&r);
	level_of(w->p, seg[s - 1], seg[s], seg[s + 1], seg[s + 2], w->scratch, m, &both);
	return wmed_cost(&both) <= cl + cr + gamma ? both.n : 0;
}

/*
 * Fit the points not yet outliers, drop lone outliers, fit again until
 * there is none. In a round the best-supported outlier goes first and none
 * within two levels of it goes in the same round: a normal point between
 * two outliers looks like one itself. Leaves the compact points in
 * w->p[0..*m), their indices in w->idx, the k levels in w->seg.
 */
static size_t step_fit(const double *y, const double *sig, size_t n, double gamma, struct step_work *w,
		       unsigned char *outlier, size_t *m_out)
{
	for (;;) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (!outlier[i]) {
				w->p[m] = (struct wpt){ y[i], 1.0 / sig[i] };
				w->idx[m++] = i;
			}
		potts_fit(w->p, m, gamma, w->B, w->start, w->scratch);
		size_t k = potts_levels(w->start, m, w->seg), dropped = 0;
		for (size_t s = 0; s < k; s++)
			w->cand[s] = outlier_support(w, k, s, gamma, m);
		for (;;) {
			size_t bs = 0;
			for (size_t s = 1; s < k; s++)
				if (w->cand[s] > w->cand[bs])
					bs = s;
			if (!w->cand[bs])
				break;
			outlier[w->idx[w->seg[bs]]] = 1;
			dropped++;
			for (size_t s = bs >= 2 ? bs - 2 : 0; s <= bs + 2 && s < k; s++)
				w->cand[s] = 0;
		}
		if (!dropped) {
			*m_out = m;
			return k;
		}
	}
}

/* The steps between the fitted levels at least min_rel in size. */
static void step_report(const struct step_work *w, size_t k, size_t m, size_t off, double min_rel,
			struct stats_steps *out)
{
	if (k < 2)
		return;
	out->steps = xcalloc(k - 1, sizeof(*out->steps));
	struct wmed a, b;
	level_of(w->p, w->seg[0], w->seg[1], 0, 0, w->scratch, m, &a);
	for (size_t s = 1; s < k; s++, a = b) {
		/* b lives in the upper half of scratch while a is still read */
		level_of(w->p, w->seg[s], w->seg[s + 1], 0, 0, w->scratch + (s % 2 ? 2 * m : 0), m, &b);
		double la = wmed_level(&a), lb = wmed_level(&b);
		/* the standard error of a weighted median: sqrt(pi/2) that of the
		 * weighted mean, 1/sqrt(sum w^2), once there are three points */
		double sa = (a.n >= 3 ? 1.2533 : 1.0) / sqrt(a.sw2), sb = (b.n >= 3 ? 1.2533 : 1.0) / sqrt(b.sw2);
		struct stats_step st = { w->idx[w->seg[s]] + off, la, lb, 0, fabs(lb - la) / sqrt(sa * sa + sb * sb), a.n,
					 b.n };
		if (out->log_scale) {
			st.before = exp(la);
			st.after = exp(lb);
			st.rel = exp(lb - la) - 1;
		} else if (la != 0) {
			st.rel = (lb - la) / fabs(la);
		}
		if (fabs(st.rel) >= min_rel || (!out->log_scale && la == 0))
			out->steps[out->n_steps++] = st;
	}
	if (!out->n_steps) {
		free(out->steps);
		out->steps = NULL;
	}
}

void stats_steps_release(struct stats_steps *s)
{
	if (!s)
		return;
	free(s->steps);
	free(s->outlier);
	free(s->sigma);
	memset(s, 0, sizeof(*s));
}

int stats_detect_steps(const double *xin, const double *sigin, size_t nin, double min_rel, struct stats_steps *out,
		       struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (!nin)
		return 0;
	size_t off = nin > STATS_STEPS_MAX_POINTS ? nin - STATS_STEPS_MAX_POINTS : 0, m = nin - off;
	const double *x = xin + off;
	struct step_work w = { 0 };
	double *y = malloc(xalloc_mul(m, sizeof(double))), *tmp = malloc(xalloc_mul(2 * m, sizeof(double)));
	w.p = malloc(xalloc_mul(m, sizeof(*w.p)));
	w.scratch = malloc(xalloc_mul(4 * m, sizeof(*w.scratch)));
	w.idx = malloc(xalloc_mul(m, sizeof(size_t)));
	w.start = malloc(xalloc_mul(m + 1, sizeof(size_t)));
	w.seg = malloc(xalloc_mul(m + 1, sizeof(size_t)));
	w.cand = malloc(xalloc_mul(m + 1, sizeof(size_t)));
	w.B = malloc(xalloc_mul(m + 1, sizeof(double)));
	out->outlier = calloc(nin, 1);
	out->sigma = malloc(xalloc_mul(nin, sizeof(double)));
	int rc = -1;
	if (!y || !tmp || !w.p || !w.scratch || !w.idx || !w.start || !w.seg || !w.cand || !w.B || !out->outlier ||
	    !out->sigma) {
		err_set(e, ERR_NOSPACE, "step detection: out of memory for %zu points", m);
		goto out;
	}
	for (size_t i = 0; i < off; i++)
		out->sigma[i] = NAN;
	step_noise(x, sigin ? sigin + off : NULL, m, y, tmp, out, out->sigma + off);
	out->gamma = STATS_GAMMA0 + STATS_GAMMA1 * log((double)m);
	size_t mm = 0, k = step_fit(y, out->sigma + off, m, out->gamma, &w, out->outlier + off, &mm);
	step_report(&w, k, mm, off, min_rel, out);
	rc = 0;
out:
	free(y);
	free(tmp);
	free(w.p);
	free(w.scratch);
	free(w.idx);
	free(w.start);
	free(w.seg);
	free(w.cand);
	free(w.B);
	return rc;
}
