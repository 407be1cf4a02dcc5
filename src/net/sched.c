/*
 * sched.c — the open-loop schedule (see sched.h for the contract).
 *
 * Every pattern is an arrival intensity rate(t) over [0, warmup + duration).
 * Its integral L(t) maps wall time to "operational time", and the run holds
 * n = round(L(T)) requests. Request i sits at operational time
 *     u_i = c * i            (deterministic patterns), c = L(T) / n
 * and is due at L^-1(u_i). The scale c keeps every due time inside [0, T)
 * while the count stays the rounded integral, whatever the pattern. L^-1 is
 * closed-form for each pattern (a division for constant, one square root
 * for the ramp, a floor for the bursts), so sched_next_due is O(1).
 *
 * Poisson: a Poisson process with n arrivals in an interval has its arrival
 * times distributed as the order statistics of n uniforms, which are the
 * normalised partial sums of n+1 exponential gaps. We apply that per block
 * of 64 requests: block k spans operational time [64k c, (64k + B) c) and
 * its j-th arrival is at 64k c + B c * (E_1 + .. + E_{j+1}) / (E_1 + .. + E_{B+1}).
 * Arrivals are exactly Poisson within a block; the count per 64 arrivals is
 * pinned, which removes only the slowest (> 64 gaps) count fluctuations and
 * keeps the total equal to the integral. Each request draws its block's 65
 * gaps again (O(64), about 1 us), so no state is kept and any index can be
 * computed on its own (resume, replay, parallel checks).
 *
 * Randomness: value `ctr` of stream `stream` depends only on (seed, stream,
 * ctr) through draw64(): the first two words of Philox4x32-10 block `ctr`
 * (rng.h). It is the one place that draws; changing it changes schedule
 * digests (bump SCHED_DIGEST_TAG then). Streams 0x5c4ed00N are the
 * scheduler's own: arrival gaps, operation kind, query index.
 *
 * Floating point: only IEEE-exact operations (+, *, /, sqrt) and log() of
 * the Poisson gaps feed the due times; glibc's log is deterministic for a
 * given glibc on x86-64, which the digest records implicitly.
 */
#include "engrave/sched.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engrave/err.h"
#include "engrave/rng.h"
#include "engrave/spec.h"
#include "engrave/text.h"

#define SCHED_DIGEST_TAG "engrave-sched-v1"
#define POISSON_BLOCK 64
#define MAX_REQUESTS (1ULL << 40)

enum { STREAM_ARRIVAL = 0x5c4ed001, STREAM_OP = 0x5c4ed002, STREAM_QUERY = 0x5c4ed003 };

static const char *const op_names[] = { "store", "recall", "search" };
static const char *const pattern_names[] = { "constant", "poisson", "periodic_burst", "ramp", NULL };

/* ---- randomness ---------------------------------------------------------- */

static uint64_t draw64(uint64_t seed, uint64_t stream, uint64_t ctr)
{
	uint32_t w[4];
	rng_u32x4(seed, stream, ctr, w);
	return (uint64_t)w[0] | (uint64_t)w[1] << 32;
}

/* Uniform in (0, 1]. */
static double draw_unit(uint64_t seed, uint64_t stream, uint64_t ctr)
{
	return (double)((draw64(seed, stream, ctr) >> 11) + 1) * 0x1.0p-53;
}

/* ---- the rate integral and its inverse (seconds, requests) --------------- */

static double pattern_integral(const struct sched_params *p, double d)
{
	switch (p->pattern) {
	case SCHED_CONSTANT:
	case SCHED_POISSON:
		return p->rate * d;
	case SCHED_RAMP: {
		double D = (double)p->duration_ns / 1e9;
		return p->rate * d + (p->rate_end - p->rate) * d * d / (2 * D);
	}
	case SCHED_PERIODIC_BURST: {
		double P = (double)p->burst_period_ns / 1e9, Db = (double)p->burst_duration_ns / 1e9;
		double per = p->burst_rate * Db + p->base_rate * (P - Db);
		double k = floor(d / P), r = d - k * P;
		return k * per + p->burst_rate * fmin(r, Db) + p->base_rate * fmax(0.0, r - Db);
	}
	}
	return 0;
}

/* Seconds after the end of the warm-up at which the pattern reaches v ops. */
static double pattern_inverse(const struct sched_params *p, double v)
{
	switch (p->pattern) {
	case SCHED_CONSTANT:
	case SCHED_POISSON:
		return v / p->rate;
	case SCHED_RAMP: {
		double D = (double)p->duration_ns / 1e9;
		double k = (p->rate_end - p->rate) / D;
		double disc = p->rate * p->rate + 2 * k * v;
		double den = p->rate + sqrt(disc > 0 ? disc : 0);
		return den > 0 ? 2 * v / den : 0;
	}
	case SCHED_PERIODIC_BURST: {
		double P = (double)p->burst_period_ns / 1e9, Db = (double)p->burst_duration_ns / 1e9;
		double per = p->burst_rate * Db + p->base_rate * (P - Db);
		double k = floor(v / per), rem = v - k * per, bops = p->burst_rate * Db;
		if (rem < bops)
			return k * P + rem / p->burst_rate;
		return k * P + Db + (p->base_rate > 0 ? (rem - bops) / p->base_rate : 0);
	}
	}
	return 0;
}

/* Operational time u (ops) -> ns after t0, clamped into [0, span). */
static uint64_t due_of(const struct sched *s, double u)
{
	double t;
	if (u < s->warm_ops)
		t = u / s->warm_rate;
	else
		t = (double)s->p.warmup_ns / 1e9 + pattern_inverse(&s->p, u - s->warm_ops);
	double ns = floor(t * 1e9 + 0.5);
	uint64_t span = s->p.warmup_ns + s->p.duration_ns;
	if (!(ns > 0))
		return 0;
	if (ns >= (double)span)
		return span - 1;
	return (uint64_t)ns;
}

/* Operational time of request i. */
static double optime_of(const struct sched *s, uint64_t i)
{
	double c = s->total_ops / (double)s->n_all;
	if (s->p.pattern != SCHED_POISSON)
		return c * (double)i;
	uint64_t k = i / POISSON_BLOCK, j = i % POISSON_BLOCK, first = k * POISSON_BLOCK;
	uint64_t b = s->n_all - first < POISSON_BLOCK ? s->n_all - first : POISSON_BLOCK;
	double part = 0, all = 0;
	for (uint64_t m = 0; m <= b; m++) {
		double g = -log(draw_unit(s->p.seed, STREAM_ARRIVAL, first + k + m));
		all += g;
		if (m <= j)
			part += g;
	}
	return c * ((double)first + (double)b * part / all);
}

/* ---- API ----------------------------------------------------------------- */

static int bad_rate(double r)
{
	return !isfinite(r) || r < 0;
}

int sched_init(struct sched *s, const struct sched_params *p, struct err *e)
{
	memset(s, 0, sizeof(*s));
	s->p = *p;
	if (p->duration_ns == 0)
		return err_set(e, ERR_SPEC, "loadtest.duration: must be > 0");
	if ((unsigned)p->pattern > SCHED_RAMP)
		return err_set(e, ERR_SPEC, "loadtest.arrival.pattern: unknown pattern %d", (int)p->pattern);
	switch (p->pattern) {
	case SCHED_CONSTANT:
	case SCHED_POISSON:
		if (bad_rate(p->rate) || p->rate <= 0)
			return err_set(e, ERR_SPEC, "loadtest.arrival.rate: must be > 0 (got %g)", p->rate);
		s->warm_rate = p->rate;
		break;
	case SCHED_RAMP:
		if (bad_rate(p->rate) || bad_rate(p->rate_end) || p->rate + p->rate_end <= 0)
			return err_set(e, ERR_SPEC,
				       "loadtest.arrival: ramp rates must be >= 0 and not both 0 (got %g -> %g)",
				       p->rate, p->rate_end);
		s->warm_rate = p->rate;
		break;
	case SCHED_PERIODIC_BURST:
		if (bad_rate(p->base_rate) || bad_rate(p->burst_rate))
			return err_set(e, ERR_SPEC, "loadtest.arrival: base_rate and burst_rate must be >= 0");
		if (p->burst_period_ns == 0)
			return err_set(e, ERR_SPEC, "loadtest.arrival.burst_period: must be > 0");
		if (p->burst_duration_ns > p->burst_period_ns)
			return err_set(e, ERR_SPEC,
				       "loadtest.arrival.burst_duration: longer than burst_period");
		if (p->burst_rate * (double)p->burst_duration_ns +
			    p->base_rate * (double)(p->burst_period_ns - p->burst_duration_ns) <= 0)
			return err_set(e, ERR_SPEC, "loadtest.arrival: base_rate and burst_rate are both 0");
		if (p->burst_duration_ns > 0 && p->burst_rate <= 0)
			return err_set(e, ERR_SPEC, "loadtest.arrival.burst_rate: must be > 0");
		s->warm_rate = p->base_rate;
		break;
	}
	double wsum = 0;
	for (int k = 0; k < OP_KIND_COUNT; k++) {
		if (!isfinite(p->weight[k]) || p->weight[k] < 0)
			return err_set(e, ERR_SPEC, "loadtest.mix.%s: must be >= 0", op_names[k]);
		wsum += p->weight[k];
	}
	if (!(wsum > 0))
		return err_set(e, ERR_SPEC, "loadtest.mix: all weights are 0");
	double acc = 0;
	for (int k = 0; k < OP_KIND_COUNT; k++) {
		acc += p->weight[k];
		s->cum_weight[k] = acc / wsum;
	}
	s->cum_weight[OP_KIND_COUNT - 1] = 1.0;
	if (s->p.n_queries == 0)
		s->p.n_queries = 1;

	s->warm_ops = s->warm_rate * ((double)p->warmup_ns / 1e9);
	s->total_ops = s->warm_ops + pattern_integral(p, (double)p->duration_ns / 1e9);
	if (!(s->total_ops < (double)MAX_REQUESTS))
		return err_set(e, ERR_SPEC, "loadtest: %.3g requests are too many (limit 2^40)",
			       s->total_ops);
	s->n = s->n_all = (uint64_t)llround(s->total_ops);
	s->seg_den = 1, s->seg_lo = 0, s->seg_hi = 1; /* the whole schedule */
	if (s->warm_rate <= 0)
		s->warm_ops = 0;
	return 0;
}

/* Request i of the whole schedule. */
static void op_at(const struct sched *s, uint64_t i, struct sched_op *out)
{
	out->index = i;
	out->due_ns = due_of(s, optime_of(s, i));
	out->warmup = out->due_ns < s->p.warmup_ns;
	double u = (double)(draw64(s->p.seed, STREAM_OP, i) >> 11) * 0x1.0p-53;
	int k = 0;
	while (k < OP_KIND_COUNT - 1 && !(u < s->cum_weight[k]))
		k++;
	out->kind = (enum op_kind)k;
	out->arg = k == OP_STORE ? i : draw64(s->p.seed, STREAM_QUERY, i) % s->p.n_queries;
}

int sched_next_due(const struct sched *s, uint64_t i, struct sched_op *out)
{
	if (i >= s->n)
		return -1;
	op_at(s, sched_global_index(s, i), out);
	return 0;
}

void sched_params_from_spec(const struct spec_loadtest *lt, uint64_t seed, struct sched_params *p)
{
	memset(p, 0, sizeof(*p));
	const struct spec_arrival_cfg *a = &lt->arrival;
	switch (a->pattern) {
	case SPEC_ARRIVAL_CONSTANT: p->pattern = SCHED_CONSTANT; break;
	case SPEC_ARRIVAL_POISSON: p->pattern = SCHED_POISSON; break;
	case SPEC_ARRIVAL_PERIODIC_BURST: p->pattern = SCHED_PERIODIC_BURST; break;
	case SPEC_ARRIVAL_RAMP: p->pattern = SCHED_RAMP; break;
	}
	if (a->pattern == SPEC_ARRIVAL_RAMP) {
		p->rate = a->from_rate;
		p->rate_end = a->to_rate;
	} else {
		p->rate = a->rate;
	}
	p->base_rate = a->base_rate;
	p->burst_rate = a->burst_rate;
	p->burst_duration_ns = a->burst_duration_ns;
	p->burst_period_ns = a->burst_period_ns;
	p->warmup_ns = lt->warmup_ns;
	p->duration_ns = lt->duration_ns;
	p->weight[OP_STORE] = lt->mix_store;
	p->weight[OP_RECALL] = lt->mix_recall;
	p->weight[OP_SEARCH] = lt->mix_search;
	p->seed = seed;
	p->n_queries = lt->recall_queries;
}

char *sched_store_id(const struct sched *s, const struct sched_op *op, char *out, size_t cap)
{
	snprintf(out, cap, "load-%llu-%llu", (unsigned long long)s->p.seed,
		 (unsigned long long)op->arg);
	return out;
}

uint64_t sched_count(const struct sched *s)
{
	return s->n;
}

double sched_expected_ops(const struct sched *s)
{
	return s->total_ops;
}

uint64_t sched_span_ns(const struct sched *s)
{
	return s->p.warmup_ns + s->p.duration_ns;
}

static void put_le(uint8_t *b, uint64_t v, int n)
{
	for (int k = 0; k < n; k++)
		b[k] = (uint8_t)(v >> (8 * k));
}

void sched_digest(const struct sched *s, struct digest *out)
{
	struct hash_ctx h;
	char head[512];
	const struct sched_params *p = &s->p;
	int len = snprintf(head, sizeof(head),
			   "%s\npattern=%s rate=%.17g rate_end=%.17g base=%.17g burst=%.17g "
			   "burst_duration=%llu burst_period=%llu warmup=%llu duration=%llu "
			   "mix=%.17g,%.17g,%.17g seed=%llu queries=%llu n=%llu\n",
			   SCHED_DIGEST_TAG, sched_pattern_name(p->pattern), p->rate, p->rate_end,
			   p->base_rate, p->burst_rate, (unsigned long long)p->burst_duration_ns,
			   (unsigned long long)p->burst_period_ns, (unsigned long long)p->warmup_ns,
			   (unsigned long long)p->duration_ns, s->cum_weight[0], s->cum_weight[1],
			   s->cum_weight[2], (unsigned long long)p->seed,
			   (unsigned long long)p->n_queries, (unsigned long long)s->n_all);
	hash_init(&h);
	hash_update(&h, head, (size_t)len);
	uint8_t chunk[17 * 512];
	size_t fill = 0;
	for (uint64_t i = 0; i < s->n_all; i++) { /* the whole schedule, also in a segment */
		struct sched_op op;
		op_at(s, i, &op);
		uint8_t *b = chunk + fill;
		put_le(b, op.due_ns, 8);
		b[8] = (uint8_t)op.kind;
		put_le(b + 9, op.arg, 8);
		fill += 17;
		if (fill == sizeof(chunk)) {
			hash_update(&h, chunk, fill);
			fill = 0;
		}
	}
	hash_update(&h, chunk, fill);
	hash_final(&h, out);
}

const char *sched_op_name(enum op_kind k)
{
	return (unsigned)k < OP_KIND_COUNT ? op_names[k] : "?";
}

const char *sched_pattern_name(enum sched_pattern p)
{
	return (unsigned)p <= SCHED_RAMP ? pattern_names[p] : "?";
}

int sched_pattern_parse(const char *name, enum sched_pattern *out, struct err *e)
{
	for (int k = 0; pattern_names[k]; k++)
		if (strcmp(name, pattern_names[k]) == 0) {
			*out = (enum sched_pattern)k;
			return 0;
		}
	err_set(e, ERR_SPEC, "loadtest.arrival.pattern: unknown pattern '%s'", name);
	const char *s = text_suggest(name, pattern_names);
	if (s)
		return err_hint(e, "did you mean '%s'?", s);
	return err_hint(e, "use one of constant, poisson, periodic_burst, ramp");
}
