/*
 * verdict.c — the verdict engine (see verdict.h for the rule).
 *
 * A metric with a per-request form (latency percentiles, mean, max;
 * throughput, goodput, error rate) is turned into BLOCKS: each repeat's
 * measured records are cut into equal spans of intended time, about 30
 * blocks per run, at least 20 requests each. A block keeps what the metric
 * needs to be recomputed over any bag of blocks:
 *   percentile   cumulative counts over log-spaced bins shared by both runs
 *                (0.2% wide, so the binning error is far below any
 *                tolerance); the percentile of a bag is found by binary
 *                search over the bins, summing the bag's cumulative counts:
 *                O(blocks x log bins) per replicate, whatever the run size;
 *   mean, rates  a numerator and a denominator (sum of values and count,
 *                completions and the block's span, errors and requests).
 * The bootstrap draws, for each side, as many blocks as it has, with
 * replacement (from rng_below: counter-based, so a seed gives the same
 * interval on every machine), and reads the 2.5% and 97.5% quantiles of
 * b* / a* - 1 (starred: a replicate). With repeats on both sides (>= 3 each) the metric is taken per
 * repeat (all of a repeat's blocks) and Welch's t interval replaces the
 * bootstrap: the spread between runs, not within one, is what decides.
 *
 * The noise floor: with repeats, the larger coefficient of variation of
 * the repeats; with blocks, for latencies measured from the intended time,
 * the client's own wake-up error at the matching rank (the larger
 * client_wakeup_p50_us of the two runs for percentiles below p95, the
 * larger client_wakeup_p99_us for p95 and up and for the mean) — a change
 * smaller than what the client adds at that rank is not a change of the
 * target. Service times start at the actual send and get no such floor.
 */
#include "engrave/verdict.h"
#include "engrave/compare.h"
#include "engrave/err.h"
#include "engrave/rng.h"
#include "engrave/spec.h"
#include "engrave/stats.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"
#include "compare_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char verdict_rule_text[] =
	"regression: worse than the tolerance (e.g. p99 +5%), the 95% CI of the change excludes 0 and the change "
	"exceeds the runs' noise floor (run-to-run spread with repeat >= 3, else the client's wake-up error); "
	"improvement: the mirror image; otherwise no change";

#define BLOCKS_PER_RUN 30
#define MIN_PER_BLOCK 20
#define BIN_WIDTH 0.002   /* log-spaced bins: 0.2% */
#define MAX_BINS 40000
#define MIN_REPEATS 3
#define DEFAULT_TOL 5.0

void verdict_opts_default(struct verdict_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->conf = 0.95;
	o->iters = 2000;
	o->seed = 1;
}

void verdict_set_release(struct verdict_set *s)
{
	if (!s)
		return;
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

const struct verdict *verdict_find(const struct verdict_set *s, const char *metric)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (!strcmp(s->v[i].metric, metric))
			return &s->v[i];
	return NULL;
}

const char *verdict_kind_name(enum verdict_kind k)
{
	switch (k) {
	case VERDICT_SAME: return "no change";
	case VERDICT_REGRESSION: return "regression";
	case VERDICT_IMPROVEMENT: return "improvement";
	case VERDICT_MISSING: return "MISSING";
	case VERDICT_INFO: return "";
	}
	return "";
}

const char *verdict_method_name(enum verdict_method m)
{
	return m == VERDICT_BY_REPEATS ? "repeats" : m == VERDICT_BY_BLOCKS ? "block bootstrap" : "threshold only";
}

/* ---- what a metric is ------------------------------------------------------------- */

enum mkind { MK_NONE, MK_PCT, MK_MEAN, MK_THROUGHPUT, MK_GOODPUT, MK_ERRRATE };

struct mdef {
	enum mkind kind;
	int service, op;      /* latency: service time; op filter (-1 all) */
	double pct;           /* MK_PCT: (0, 100] */
};

static int op_prefix(const char **m)
{
	static const char *const ops[] = { "store_", "recall_", "search_" };
	for (int i = 0; i < 3; i++)
		if (!strncmp(*m, ops[i], strlen(ops[i]))) {
			*m += strlen(ops[i]);
			return i;
		}
	return -1;
}

static struct mdef metric_def(const char *metric)
{
	struct mdef d = { MK_NONE, 0, -1, 0 };
	double pct;
	if (compare_is_latency(metric, &pct)) {
		const char *m = metric;
		if (!strncmp(m, "service_", 8))
			d.service = 1;
		else
			d.op = op_prefix(&m);
		d.kind = pct > 0 ? MK_PCT : MK_MEAN;
		d.pct = pct;
		return d;
	}
	if (!strcmp(metric, "throughput"))
		d.kind = MK_THROUGHPUT;
	else if (!strcmp(metric, "goodput"))
		d.kind = MK_GOODPUT;
	else if (!strcmp(metric, "error_rate"))
		d.kind = MK_ERRRATE;
	return d;
}

/* The direction a metric gets worse in: +1 up, -1 down, 0 none (info). */
static int worse_direction(const char *metric)
{
	if (compare_is_latency(metric, NULL) || !strcmp(metric, "error_rate"))
		return +1;
	if (!strcmp(metric, "throughput") || !strcmp(metric, "goodput") || !strcmp(metric, "recall") ||
	    !strcmp(metric, "recall_p05"))
		return -1;
	return 0;
}

/* ---- blocks ----------------------------------------------------------------------- */

struct blocks {
	int nb;
	uint32_t *rep;        /* [nb] repeat of each block */
	double *num, *den;    /* [nb] mean/rates */
	uint32_t *cnt;        /* [nb] values in the block (MK_PCT) */
	uint32_t *cum;        /* [nb * nbins] cumulative counts (MK_PCT) */
};

struct binning {
	double lo;            /* log of the lowest bin's lower edge */
	int nbins;
	double step;
};

static void blocks_free(struct blocks *b)
{
	free(b->rep);
	free(b->num);
	free(b->den);
	free(b->cnt);
	free(b->cum);
	memset(b, 0, sizeof(*b));
}

static int takes(const struct compare_recs *c, size_t i, const struct mdef *d)
{
	if (d->kind == MK_PCT || d->kind == MK_MEAN)
		return c->sent[i] && (d->op < 0 || c->op[i] == d->op);
	return 1;
}

static double value_of(const struct compare_recs *c, size_t i, const struct mdef *d)
{
	double v = d->service ? c->svc[i] : c->lat[i];
	return v > 1e-6 ? v : 1e-6; /* 1 ns: keeps the log bins finite */
}

static int bin_of(const struct binning *g, double v)
{
	int k = (int)floor((log(v) - g->lo) / g->step);
	return k < 0 ? 0 : k >= g->nbins ? g->nbins - 1 : k;
}

static double bin_value(const struct binning *g, int k)
{
	return exp(g->lo + ((double)k + 0.5) * g->step);
}

/*
 * Cut c into blocks for metric d. Returns 0 (b->nb == 0 when there is
 * nothing to cut), -1 out of memory.
 */
static int blocks_make(const struct compare_recs *c, const struct mdef *d, const struct binning *g,
		       struct blocks *b, struct err *e)
{
	memset(b, 0, sizeof(*b));
	uint32_t R = c->repeats ? c->repeats : 1;
	uint64_t *tmin = xcalloc(R, 8), *tmax = xcalloc(R, 8);
	size_t *nrep = xcalloc(R, sizeof(size_t));
	int *per = xcalloc(R, sizeof(int)), *first = xcalloc(R + 1, sizeof(int));
	for (size_t i = 0; i < c->n; i++) {
		uint32_t r = c->rep[i];
		if (!nrep[r] || c->t[i] < tmin[r])
			tmin[r] = c->t[i];
		if (!nrep[r] || c->t[i] > tmax[r])
			tmax[r] = c->t[i];
		nrep[r]++;
	}
	int total = 0;
	for (uint32_t r = 0; r < R; r++) {
		int want = BLOCKS_PER_RUN / (int)R;
		if (want < 1)
			want = 1;
		if ((size_t)want > nrep[r] / MIN_PER_BLOCK)
			want = (int)(nrep[r] / MIN_PER_BLOCK);
		per[r] = nrep[r] ? (want < 1 ? 1 : want) : 0;
		first[r] = total;
		total += per[r];
	}
	int rc = 0;
	if (!total)
		goto out;
	b->nb = total;
	b->rep = xcalloc((size_t)total, sizeof(uint32_t));
	b->num = xcalloc((size_t)total, sizeof(double));
	b->den = xcalloc((size_t)total, sizeof(double));
	if (d->kind == MK_PCT) {
		b->cnt = xcalloc((size_t)total, sizeof(uint32_t));
		if (!(b->cum = xalloc_try_zeroed((size_t)total * (size_t)g->nbins, sizeof(uint32_t), "latency blocks", e))) {
			rc = -1;
			goto out;
		}
	}
	for (uint32_t r = 0; r < R; r++)
		for (int j = 0; j < per[r]; j++) {
			b->rep[first[r] + j] = r;
			if (d->kind == MK_THROUGHPUT || d->kind == MK_GOODPUT) /* seconds of intended time */
				b->den[first[r] + j] = (double)(tmax[r] - tmin[r] + 1) / 1e9 / per[r];
		}
	for (size_t i = 0; i < c->n; i++) {
		uint32_t r = c->rep[i];
		if (!per[r] || !takes(c, i, d))
			continue;
		uint64_t span = tmax[r] - tmin[r] + 1;
		int j = (int)((double)(c->t[i] - tmin[r]) / (double)span * per[r]);
		if (j >= per[r])
			j = per[r] - 1;
		int k = first[r] + j;
		switch (d->kind) {
		case MK_PCT:
			b->cnt[k]++;
			b->cum[(size_t)k * (size_t)g->nbins + (size_t)bin_of(g, value_of(c, i, d))]++;
			break;
		case MK_MEAN:
			b->num[k] += value_of(c, i, d);
			b->den[k] += 1;
			break;
		case MK_THROUGHPUT:
			b->num[k] += c->sent[i];
			break;
		case MK_GOODPUT:
			b->num[k] += c->sent[i] && !c->err[i];
			break;
		case MK_ERRRATE:
			b->num[k] += c->err[i];
			b->den[k] += 1;
			break;
		case MK_NONE:
			break;
		}
	}
	if (d->kind == MK_PCT)
		for (int k = 0; k < total; k++) {
			uint32_t *row = b->cum + (size_t)k * (size_t)g->nbins;
			for (int x = 1; x < g->nbins; x++)
				row[x] += row[x - 1];
		}
out:
	free(tmin);
	free(tmax);
	free(nrep);
	free(per);
	free(first);
	if (rc)
		blocks_free(b);
	return rc;
}

/* The metric over a bag of blocks (idx[0..m)); NAN when the bag is empty. */
static double bag_value(const struct blocks *b, const struct binning *g, const struct mdef *d, const int *idx, int m)
{
	if (d->kind == MK_PCT) {
		uint64_t n = 0;
		for (int i = 0; i < m; i++)
			n += b->cnt[idx[i]];
		if (!n)
			return NAN;
		uint64_t rank = (uint64_t)ceil(d->pct / 100.0 * (double)n);
		if (rank < 1)
			rank = 1;
		if (rank > n)
			rank = n;
		int lo = 0, hi = g->nbins - 1;
		while (lo < hi) {
			int mid = lo + (hi - lo) / 2;
			uint64_t below = 0;
			for (int i = 0; i < m; i++)
				below += b->cum[(size_t)idx[i] * (size_t)g->nbins + (size_t)mid];
			if (below >= rank)
				hi = mid;
			else
				lo = mid + 1;
		}
		return bin_value(g, lo);
	}
	double num = 0, den = 0;
	for (int i = 0; i < m; i++) {
		num += b->num[idx[i]];
		den += b->den[idx[i]];
	}
	return den > 0 ? num / den : NAN;
}

static int cmp_dbl(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

/* The bins both runs share: from the smallest to the largest value of the metric. */
static void binning_for(const struct compare_recs *a, const struct compare_recs *b, const struct mdef *d,
			struct binning *g)
{
	double lo = INFINITY, hi = 0;
	const struct compare_recs *s[2] = { a, b };
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < s[k]->n; i++)
			if (takes(s[k], i, d)) {
				double v = value_of(s[k], i, d);
				lo = v < lo ? v : lo;
				hi = v > hi ? v : hi;
			}
	if (!(lo <= hi)) {
		lo = hi = 1;
	}
	g->lo = log(lo) - BIN_WIDTH;
	double range = log(hi) - g->lo + BIN_WIDTH;
	g->step = BIN_WIDTH;
	if (range / g->step > MAX_BINS)
		g->step = range / MAX_BINS;
	g->nbins = (int)ceil(range / g->step) + 1;
}

/* Welch's t quantile at 0.975 for df degrees of freedom (floor: conservative). */
static double t975(double df)
{
	static const double t[] = { 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
				    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
				    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042 };
	int k = (int)floor(df);
	if (k < 1)
		k = 1;
	return k <= 30 ? t[k - 1] : 1.96 + 2.4 / df;
}

/* Per-repeat values of a metric: v[r] over repeat r's blocks. Returns the count. */
static int repeat_values(const struct blocks *b, const struct binning *g, const struct mdef *d, uint32_t R,
			 double *v)
{
	int *idx = xmalloc_array((size_t)b->nb, sizeof(int)), n = 0;
	for (uint32_t r = 0; r < R; r++) {
		int m = 0;
		for (int k = 0; k < b->nb; k++)
			if (b->rep[k] == r)
				idx[m++] = k;
		double x = m ? bag_value(b, g, d, idx, m) : NAN;
		if (!isnan(x))
			v[n++] = x;
	}
	free(idx);
	return n;
}

static void mean_sd(const double *v, int n, double *m, double *sd)
{
	double s = 0, q = 0;
	for (int i = 0; i < n; i++)
		s += v[i];
	*m = s / n;
	for (int i = 0; i < n; i++)
		q += (v[i] - *m) * (v[i] - *m);
	*sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

static double metric_value(const struct run_record *r, const char *key)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (!strcmp(r->metrics[i].key, key))
			return r->metrics[i].value;
	return NAN;
}

/* Fill v's uncertainty from the records (REPEATS or BLOCKS). 0 also when
 * nothing could be computed (v stays THRESHOLD); -1 out of memory. */
static int uncertainty(const struct compare_recs *ra, const struct compare_recs *rb, const struct run_record *a,
		       const struct run_record *b, const struct verdict_opts *o, struct verdict *v, struct err *e)
{
	struct mdef d = metric_def(v->metric);
	if (d.kind == MK_NONE || !ra || !rb)
		return 0;
	struct binning g = { 0, 1, 1 };
	if (d.kind == MK_PCT)
		binning_for(ra, rb, &d, &g);
	struct blocks ba, bb;
	if (blocks_make(ra, &d, &g, &ba, e))
		return -1;
	if (blocks_make(rb, &d, &g, &bb, e)) {
		blocks_free(&ba);
		return -1;
	}
	int rc = 0;
	if (ba.nb < 2 || bb.nb < 2)
		goto out;
	const double scale = 100.0; /* a fraction -> % (or, pp, a rate -> percentage points) */
	if (ra->repeats >= MIN_REPEATS && rb->repeats >= MIN_REPEATS) {
		double *xa = xmalloc_array(ra->repeats, sizeof(double)), *xb = xmalloc_array(rb->repeats, sizeof(double));
		int na = repeat_values(&ba, &g, &d, ra->repeats, xa), nb = repeat_values(&bb, &g, &d, rb->repeats, xb);
		if (na >= MIN_REPEATS && nb >= MIN_REPEATS) {
			double ma, sa, mb, sb;
			mean_sd(xa, na, &ma, &sa);
			mean_sd(xb, nb, &mb, &sb);
			double qa = sa * sa / na, qb = sb * sb / nb, se = sqrt(qa + qb);
			double df = (qa + qb) * (qa + qb) /
				    ((qa > 0 ? qa * qa / (na - 1) : 0) + (qb > 0 ? qb * qb / (nb - 1) : 0) + 1e-300);
			double half = t975(df) * se;
			/* centred on the reported change: the repeats give its spread */
			if (v->pp) {
				v->ci_lo = v->change - half * scale;
				v->ci_hi = v->change + half * scale;
				v->noise = (sa > sb ? sa : sb) * scale;
			} else if (fabs(ma) > 0) {
				v->ci_lo = v->change - half / fabs(ma) * scale;
				v->ci_hi = v->change + half / fabs(ma) * scale;
				double ca = sa / fabs(ma), cb = fabs(mb) > 0 ? sb / fabs(mb) : 0;
				v->noise = (ca > cb ? ca : cb) * scale;
			}
			v->method = VERDICT_BY_REPEATS;
			v->n_a = na;
			v->n_b = nb;
		}
		free(xa);
		free(xb);
		if (v->method == VERDICT_BY_REPEATS)
			goto out;
	}
	{
		unsigned iters = o->iters ? o->iters : 2000;
		double *rel = xmalloc_array(iters, sizeof(double));
		int *ia = xmalloc_array((size_t)ba.nb, sizeof(int)), *ib = xmalloc_array((size_t)bb.nb, sizeof(int));
		unsigned n = 0;
		for (unsigned it = 0; it < iters; it++) {
			for (int k = 0; k < ba.nb; k++)
				ia[k] = (int)rng_below(o->seed, 2 * (uint64_t)it, (uint64_t)k, (uint32_t)ba.nb);
			for (int k = 0; k < bb.nb; k++)
				ib[k] = (int)rng_below(o->seed, 2 * (uint64_t)it + 1, (uint64_t)k, (uint32_t)bb.nb);
			double xa = bag_value(&ba, &g, &d, ia, ba.nb), xb = bag_value(&bb, &g, &d, ib, bb.nb);
			if (isnan(xa) || isnan(xb))
				continue;
			if (v->pp)
				rel[n++] = (xb - xa) * scale;
			else if (fabs(xa) > 0)
				rel[n++] = (xb - xa) / fabs(xa) * scale;
		}
		/* the change the blocks themselves give (all blocks once) */
		for (int k = 0; k < ba.nb; k++)
			ia[k] = k;
		for (int k = 0; k < bb.nb; k++)
			ib[k] = k;
		double ha = bag_value(&ba, &g, &d, ia, ba.nb), hb = bag_value(&bb, &g, &d, ib, bb.nb);
		double hat = v->pp ? (hb - ha) * scale : fabs(ha) > 0 ? (hb - ha) / fabs(ha) * scale : NAN;
		if (n >= iters / 2 && !isnan(hat)) {
			qsort(rel, n, sizeof(double), cmp_dbl);
			double lo_q = (1 - o->conf) / 2, hi_q = 1 - lo_q;
			/* the replicates' spread, centred on the reported change (the
			 * metric's own window and exact ranks, not the blocks' bins) */
			v->ci_lo = v->change + rel[(size_t)floor(lo_q * (n - 1))] - hat;
			v->ci_hi = v->change + rel[(size_t)ceil(hi_q * (n - 1))] - hat;
			v->method = VERDICT_BY_BLOCKS;
			v->n_a = ba.nb;
			v->n_b = bb.nb;
			/* the client's own share: what its late wake-ups add to the
			 * latency at this rank (none to service time, measured from
			 * the actual send); a percentile below p95 takes the wake-up
			 * p50, so one stall does not mask a shift of the median */
			if ((d.kind == MK_PCT || d.kind == MK_MEAN) && !d.service) {
				const char *wk = d.kind == MK_PCT && d.pct < 95 ? "client_wakeup_p50_us" : "client_wakeup_p99_us";
				double wa = metric_value(a, wk), wb = metric_value(b, wk);
				double w = (isnan(wa) ? 0 : wa) > (isnan(wb) ? 0 : wb) ? wa : (isnan(wb) ? 0 : wb);
				if (w > 0 && fabs(v->a) > 0)
					v->noise = w / 1000.0 / fabs(v->a) * 100.0;
			}
		}
		free(rel);
		free(ia);
		free(ib);
	}
out:
	blocks_free(&ba);
	blocks_free(&bb);
	return rc;
}

int verdict_run_sigma(struct store *st, const struct run_record *r, const char *metric, const struct verdict_opts *o,
		      double *sigma, struct err *e)
{
	struct verdict_opts def;
	if (!o) {
		verdict_opts_default(&def);
		o = &def;
	}
	*sigma = NAN;
	struct mdef d = metric_def(metric);
	if (d.kind == MK_NONE)
		return 0;
	struct compare_recs *c = NULL;
	struct err le = ERR_INIT;
	if (compare_recs_load(st, r, &c, &le)) {
		if (le.cls == ERR_MISSING || le.cls == ERR_CORRUPT)
			return 0;
		*e = le;
		return -1;
	}
	struct binning g = { 0, 1, 1 };
	if (d.kind == MK_PCT)
		binning_for(c, c, &d, &g);
	struct blocks b;
	int rc = blocks_make(c, &d, &g, &b, e);
	if (rc || b.nb < 2)
		goto out;
	if (c->repeats >= MIN_REPEATS) {
		double *x = xmalloc_array(c->repeats, sizeof(double)), m, sd;
		int n = repeat_values(&b, &g, &d, c->repeats, x);
		if (n >= MIN_REPEATS) {
			mean_sd(x, n, &m, &sd);
			*sigma = sd / sqrt((double)n);
		}
		free(x);
		if (!isnan(*sigma))
			goto out;
	}
	{
		unsigned iters = o->iters ? o->iters : 2000;
		int *idx = xmalloc_array((size_t)b.nb, sizeof(int));
		double s = 0, q = 0;
		unsigned n = 0;
		for (unsigned it = 0; it < iters; it++) {
			for (int k = 0; k < b.nb; k++)
				idx[k] = (int)rng_below(o->seed, it, (uint64_t)k, (uint32_t)b.nb);
			double x = bag_value(&b, &g, &d, idx, b.nb);
			if (isnan(x))
				continue;
			s += x;
			q += x * x;
			n++;
		}
		if (n > 1) {
			double m = s / n, var = (q - n * m * m) / (n - 1);
			*sigma = var > 0 ? sqrt(var) : 0;
		}
		free(idx);
	}
out:
	blocks_free(&b);
	compare_recs_free(c);
	return rc;
}

/* ---- the rule --------------------------------------------------------------------- */

static void judge(struct verdict *v)
{
	const char *u = v->pp ? "pp" : "%";
	if (isnan(v->a) || isnan(v->b)) {
		v->kind = VERDICT_MISSING;
		snprintf(v->why, sizeof(v->why), "not measured in the %s", isnan(v->b) ? "run" : "baseline");
		return;
	}
	if (!v->worse_sign) {
		v->kind = VERDICT_INFO;
		return;
	}
	if (isnan(v->change)) {
		v->kind = VERDICT_SAME;
		snprintf(v->why, sizeof(v->why), "baseline is 0: change undefined");
		return;
	}
	double worse = v->worse_sign * v->change;
	v->breach = worse > v->tol;
	if (v->pp) { /* Engram's error-rate gate */
		v->breach = (v->a >= 0.05 || v->b >= 0.05) && worse > v->tol;
	}
	int beyond = v->breach || -worse > v->tol;
	if (!beyond) {
		v->kind = VERDICT_SAME;
		snprintf(v->why, sizeof(v->why), "within %g%s", v->tol, u);
		return;
	}
	if (v->method == VERDICT_BY_THRESHOLD) {
		v->kind = v->breach ? VERDICT_REGRESSION : VERDICT_IMPROVEMENT;
		snprintf(v->why, sizeof(v->why), "beyond %g%s; no uncertainty (no per-request records): threshold only",
			 v->tol, u);
		return;
	}
	if (!(v->ci_lo > 0 || v->ci_hi < 0)) {
		v->kind = VERDICT_SAME;
		snprintf(v->why, sizeof(v->why), "beyond %g%s but the 95%% CI %+.3g..%+.3g%s includes 0 (%s)", v->tol, u,
			 v->ci_lo, v->ci_hi, u, verdict_method_name(v->method));
		return;
	}
	if (fabs(v->change) <= v->noise) {
		v->kind = VERDICT_SAME;
		snprintf(v->why, sizeof(v->why), "beyond %g%s but inside the noise floor %.3g%s (%s)", v->tol, u, v->noise, u,
			 v->method == VERDICT_BY_REPEATS ? "run-to-run spread" : "client wake-up error");
		return;
	}
	v->kind = v->breach ? VERDICT_REGRESSION : VERDICT_IMPROVEMENT;
	snprintf(v->why, sizeof(v->why), "beyond %g%s, 95%% CI %+.3g..%+.3g%s excludes 0 (%s, %d/%d %s)", v->tol, u,
		 v->ci_lo, v->ci_hi, u, verdict_method_name(v->method), v->n_a, v->n_b,
		 v->method == VERDICT_BY_REPEATS ? "repeats" : "blocks");
}

int verdict_machine_busy(const struct run_record *r, char *why, size_t cap)
{
	double other = metric_value(r, "noise.other_cpu_pct"), steal = metric_value(r, "noise.steal_pct");
	if (!isnan(other) && other >= VERDICT_BUSY_OTHER_CPU_PCT) {
		snprintf(why, cap, "run %s: other processes used %.0f%% of the machine's CPU (limit %.0f%%)", r->id, other,
			 VERDICT_BUSY_OTHER_CPU_PCT);
		return 1;
	}
	if (!isnan(steal) && steal >= VERDICT_BUSY_STEAL_PCT) {
		snprintf(why, cap, "run %s: the hypervisor stole %.1f%% of the CPU time (limit %.0f%%)", r->id, steal,
			 VERDICT_BUSY_STEAL_PCT);
		return 1;
	}
	return 0;
}

/* A run's machine speed: the mean of its two calibrations (NAN: none). */
static double run_speed(const struct run_record *r, double *drift)
{
	double a = metric_value(r, "noise.cpu_speed_before"), b = metric_value(r, "noise.cpu_speed_after");
	*drift = !isnan(a) && !isnan(b) && a > 0 ? (b - a) / a * 100.0 : NAN;
	return !isnan(a) && !isnan(b) && a > 0 && b > 0 ? (a + b) / 2 : NAN;
}

int verdict_speed_changed(const struct run_record *base, const struct run_record *run, char *why, size_t cap)
{
	double da, db, sa = run_speed(base, &da), sb = run_speed(run, &db);
	if (!isnan(da) && fabs(da) >= VERDICT_SPEED_CHANGE_PCT) {
		snprintf(why, cap, "the machine's speed changed by %+.0f%% during run %s (noise.cpu_speed)", da, base->id);
		return 1;
	}
	if (!isnan(db) && fabs(db) >= VERDICT_SPEED_CHANGE_PCT) {
		snprintf(why, cap, "the machine's speed changed by %+.0f%% during run %s (noise.cpu_speed)", db, run->id);
		return 1;
	}
	if (!isnan(sa) && !isnan(sb) && fabs(sb / sa - 1) * 100.0 >= VERDICT_SPEED_CHANGE_PCT) {
		snprintf(why, cap, "the machine ran %+.0f%% %s during run %s than during run %s (noise.cpu_speed)",
			 (sb / sa - 1) * 100.0, sb < sa ? "slower" : "faster", run->id, base->id);
		return 1;
	}
	return 0;
}

/* ---- the set ---------------------------------------------------------------------- */

struct builder {
	struct verdict_set *s;
	size_t cap;
};

static struct verdict *add(struct builder *bd, const char *metric, int gated, double tol, int worse_sign, int pp)
{
	if (verdict_find(bd->s, metric))
		return NULL;
	if (bd->s->n == bd->cap) {
		bd->cap = bd->cap ? bd->cap * 2 : 32;
		bd->s->v = xrealloc_array(bd->s->v, bd->cap, sizeof(*bd->s->v));
	}
	struct verdict *v = &bd->s->v[bd->s->n++];
	memset(v, 0, sizeof(*v));
	snprintf(v->metric, sizeof(v->metric), "%s", metric);
	v->gated = gated;
	v->tol = tol;
	v->worse_sign = worse_sign;
	v->pp = pp;
	v->ci_lo = v->ci_hi = NAN;
	return v;
}

static int cmp_name(const void *x, const void *y)
{
	return strcmp(((const struct verdict *)x)->metric, ((const struct verdict *)y)->metric);
}

int verdict_pair(struct store *st, const struct run_record *base, const struct run_record *run,
		 const struct spec *sp, const struct verdict_opts *o, struct verdict_set *out, struct err *e)
{
	struct verdict_opts def;
	if (!o) {
		verdict_opts_default(&def);
		o = &def;
	}
	memset(out, 0, sizeof(*out));
	struct builder bd = { out, 0 };
	if (sp && sp->baseline.present && sp->baseline.n_tol) {
		for (size_t i = 0; i < sp->baseline.n_tol; i++) {
			double p = sp->baseline.tol[i].pct;
			add(&bd, sp->baseline.tol[i].metric, 1, fabs(p), p >= 0 ? +1 : -1, 0);
		}
	} else {
		add(&bd, "p99_ms", 1, 5, +1, 0);
		add(&bd, "throughput", 1, 5, -1, 0);
		if (!isnan(metric_value(run, "error_rate")) && !isnan(metric_value(base, "error_rate")))
			add(&bd, "error_rate", 1, 5, +1, 1);
	}
	size_t gated = out->n;
	if (o->all_metrics) {
		const struct run_record *sides[2] = { base, run };
		for (int s = 0; s < 2; s++)
			for (int i = 0; i < sides[s]->n_metrics; i++) {
				const char *k = sides[s]->metrics[i].key;
				int w = worse_direction(k);
				add(&bd, k, 0, DEFAULT_TOL, w, 0);
			}
		if (out->n > gated)
			qsort(out->v + gated, out->n - gated, sizeof(*out->v), cmp_name);
	}
	char bw[160] = "";
	if (verdict_machine_busy(run, bw, sizeof(bw)) || verdict_machine_busy(base, bw, sizeof(bw)) ||
	    verdict_speed_changed(base, run, bw, sizeof(bw)))
		snprintf(out->busy, sizeof(out->busy), "%s", bw);
	struct compare_recs *ra = NULL, *rb = NULL;
	int tried = 0, rc = -1;
	for (size_t i = 0; i < out->n; i++) {
		struct verdict *v = &out->v[i];
		v->a = metric_value(base, v->metric);
		v->b = metric_value(run, v->metric);
		if (!isnan(v->a) && !isnan(v->b))
			v->change = v->pp ? (v->b - v->a) * 100.0
				       : fabs(v->a) >= 1e-9 ? (v->b - v->a) / fabs(v->a) * 100.0 : NAN;
		int wants = v->worse_sign && !isnan(v->change) &&
			    (o->always_ci || fabs(v->change) > v->tol) && metric_def(v->metric).kind != MK_NONE;
		if (wants && !tried) {
			struct err le = ERR_INIT;
			tried = 1;
			if (compare_recs_load(st, base, &ra, &le) || compare_recs_load(st, run, &rb, &le)) {
				if (le.cls != ERR_MISSING && le.cls != ERR_CORRUPT) {
					*e = le;
					goto out;
				}
				compare_recs_free(ra);
				compare_recs_free(rb);
				ra = rb = NULL;
			}
		}
		if (wants && uncertainty(ra, rb, base, run, o, v, e))
			goto out;
		judge(v);
		if (v->kind == VERDICT_REGRESSION && out->busy[0]) {
			v->untrusted = 1;
			size_t l = strlen(v->why);
			snprintf(v->why + l, sizeof(v->why) - l, "; untrusted: machine busy");
		}
	}
	rc = 0;
out:
	compare_recs_free(ra);
	compare_recs_free(rb);
	if (rc)
		verdict_set_release(out);
	return rc;
}

/* ---- rendering -------------------------------------------------------------------- */

void verdict_describe(const struct verdict *v, char *out, size_t cap)
{
	const char *u = v->pp ? "pp" : "%";
	if (v->kind == VERDICT_MISSING) {
		snprintf(out, cap, "MISSING (%s)", v->why);
		return;
	}
	if (isnan(v->change)) {
		snprintf(out, cap, "%s", v->kind == VERDICT_INFO ? "" : v->why);
		return;
	}
	char ci[64] = "";
	if (!isnan(v->ci_lo))
		snprintf(ci, sizeof(ci), " (CI %+.3g..%+.3g%s)", v->ci_lo, v->ci_hi, u);
	snprintf(out, cap, "%+.2f%s%s%s%s%s", v->change, u, ci, v->kind == VERDICT_INFO ? "" : " ",
		 verdict_kind_name(v->kind), v->untrusted ? " (untrusted: machine busy)" : "");
}

static json_t *num(double x)
{
	return isnan(x) ? json_null() : json_real(x);
}

json_t *verdict_json(const struct verdict *v)
{
	json_t *o = json_object();
	json_object_set_new(o, "metric", json_string(v->metric));
	json_object_set_new(o, "gated", json_boolean(v->gated));
	json_object_set_new(o, "a", num(v->a));
	json_object_set_new(o, "b", num(v->b));
	json_object_set_new(o, "change", num(v->change));
	json_object_set_new(o, "unit", json_string(v->pp ? "pp" : "%"));
	if (v->kind == VERDICT_INFO) {
		json_object_set_new(o, "verdict", json_null());
		return o;
	}
	json_object_set_new(o, "tolerance", json_real(v->worse_sign * v->tol));
	json_object_set_new(o, "ci_lo", num(v->ci_lo));
	json_object_set_new(o, "ci_hi", num(v->ci_hi));
	json_object_set_new(o, "noise_floor", json_real(v->noise));
	json_object_set_new(o, "method", json_string(verdict_method_name(v->method)));
	json_object_set_new(o, "n_a", json_integer(v->n_a));
	json_object_set_new(o, "n_b", json_integer(v->n_b));
	json_object_set_new(o, "verdict", json_string(v->kind == VERDICT_MISSING ? "missing" : verdict_kind_name(v->kind)));
	json_object_set_new(o, "untrusted", json_boolean(v->untrusted));
	json_object_set_new(o, "why", json_string(v->why));
	return o;
}
