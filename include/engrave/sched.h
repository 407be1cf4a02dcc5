/*
 * sched.h — the open-loop load schedule: a pure function of the spec.
 *
 * A schedule says, for every request index i in [0, n), when it is due
 * (nanoseconds after t0), what kind of operation it is and which argument
 * it uses (a query index, or the fresh synthetic vector of a store). Nothing
 * in it depends on the wall clock, the thread count or how fast the target
 * answers: the operation count is the integral of the arrival rate over
 * warm-up + duration, rounded to the nearest integer.
 *
 * sched_next_due() is THE one function that computes request i's intended
 * offset; the executor stores that value in request i's record, and both
 * the send decision and the latency origin read the stored field (wrk2
 * computes it twice; we do not).
 *
 * Arrival patterns (rates in requests/s; the pattern runs after the
 * warm-up, the warm-up itself runs at the pattern's initial rate):
 *   constant        rate                      request i due at i / rate
 *   poisson         rate                      exponential gaps, see sched.c
 *   periodic_burst  base_rate, burst_rate,    each period starts with
 *                   burst_duration,           burst_duration at burst_rate,
 *                   burst_period              then base_rate; warm-up at base_rate
 *   ramp            rate -> rate_end          linear over `duration`; warm-up at rate
 *
 * Thread safety: a schedule is read-only after sched_init and may be shared.
 */
#ifndef ENGRAVE_SCHED_H
#define ENGRAVE_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/hash.h"

struct err;
struct spec_loadtest;

/* The operations of a load test (the executor, drivers and records share it). */
enum op_kind { OP_STORE = 0, OP_RECALL = 1, OP_SEARCH = 2 };
#define OP_KIND_COUNT 3

enum sched_pattern { SCHED_CONSTANT = 0, SCHED_POISSON, SCHED_PERIODIC_BURST, SCHED_RAMP };

struct sched_params {
	enum sched_pattern pattern;
	double rate;                 /* constant, poisson; ramp: start rate */
	double rate_end;             /* ramp: end rate */
	double base_rate;            /* periodic_burst */
	double burst_rate;           /* periodic_burst */
	uint64_t burst_duration_ns;  /* periodic_burst, <= burst_period_ns */
	uint64_t burst_period_ns;    /* periodic_burst, > 0 */
	uint64_t warmup_ns;          /* executed and recorded, excluded from metrics */
	uint64_t duration_ns;        /* the measured part, > 0 */
	double weight[OP_KIND_COUNT];/* relative mix (store, recall, search), >= 0, sum > 0 */
	uint64_t seed;               /* the spec's seed */
	uint64_t n_queries;          /* recall/search pick a query index in [0, n_queries); 0 = 1 */
};

/* One scheduled request. */
struct sched_op {
	uint64_t index;              /* i */
	uint64_t due_ns;             /* intended send time, ns after t0 */
	enum op_kind kind;
	/* store: the ordinal of a fresh synthetic vector (= i, unique in the run;
	 * ids "load-<seed>-<arg>" cannot collide with loaded data);
	 * recall/search: a query index in [0, n_queries). */
	uint64_t arg;
	int warmup;                  /* due_ns < warmup_ns */
};

struct sched {
	struct sched_params p;
	uint64_t n;                  /* requests this process runs (warm-up included): the whole
	                              * schedule, or its segment's part (sched_set_segment) */
	uint64_t n_all;              /* requests of the whole schedule */
	uint64_t seg_den, seg_lo, seg_hi; /* segment: index mod seg_den in [seg_lo, seg_hi) */
	double total_ops;            /* the exact integral of the rate (before rounding) */
	double cum_weight[OP_KIND_COUNT]; /* normalised cumulative mix */
	double warm_rate;            /* rate during the warm-up */
	double warm_ops;             /* integral over the warm-up */
};

/*
 * Validate `p` and fill `s` (no allocation; nothing to release). ERR_SPEC
 * with the offending field ("loadtest.arrival.rate: must be > 0") when a
 * rate is negative or not finite, the duration is 0, the mix is all zero,
 * a burst is longer than its period, or the run would exceed 2^40 requests.
 */
int sched_init(struct sched *s, const struct sched_params *p, struct err *e);

/*
 * Fill `out` with request i. Returns 0, or -1 (without touching `out`) when
 * i >= sched_count(s). Pure: the same (params, i) always give the same op.
 * Due times are non-decreasing in i. O(1) for constant, burst and ramp;
 * O(64) RNG draws for poisson.
 */
int sched_next_due(const struct sched *s, uint64_t i, struct sched_op *out);

/*
 * The parameters of a spec's `loadtest:` section (spec.h) and its seed:
 * arrival pattern and rates, warm-up, duration, mix weights, and
 * n_queries = recall.queries. Fills every field of `p`.
 */
void sched_params_from_spec(const struct spec_loadtest *lt, uint64_t seed, struct sched_params *p);

/*
 * The id of the fresh vector a store op writes: "load-<seed>-<arg>" into
 * out (cap >= 48 is always enough). Loaded data never uses the "load-"
 * prefix, so it cannot collide. Returns out.
 */
char *sched_store_id(const struct sched *s, const struct sched_op *op, char *out, size_t cap);

/* Requests in the run, warm-up included. */
uint64_t sched_count(const struct sched *s);
/* The integral of the rate over [0, warmup + duration) (sched_count is its rounding). */
double sched_expected_ops(const struct sched *s);
/* warmup + duration. */
uint64_t sched_span_ns(const struct sched *s);

/*
 * SHA-256 over a version tag, the canonical parameters and every scheduled
 * (due_ns, kind, arg) in order: two schedules with the same digest send the
 * same requests at the same offsets. O(n).
 */
void sched_digest(const struct sched *s, struct digest *out);

/*
 * Execution segments (k6's, segment.c): several processes run one schedule,
 * each a segment [a, b) of [0, 1) with rational ends ("1/3:2/3"). The
 * segments of a run form a sequence 0 = s0 < s1 < ... < sk = 1; D is the
 * least common denominator of the sequence, and request i belongs to the
 * segment [a, b) when (i mod D) / D lies in [a, b): requests are striped
 * over D, so each segment gets its share of every stretch of the schedule
 * (the rate splits, and the parts add up exactly to the whole: every index
 * belongs to exactly one segment). Due times, kinds and arguments are the
 * whole schedule's, so a segment's records merge back into the unsharded
 * run's, and sched_digest stays the whole schedule's.
 */
struct sched_segment {
	uint64_t a_num, a_den, b_num, b_den; /* [a, b) */
	uint64_t den;                        /* D: the sequence's least common denominator */
	char text[64];                       /* "1/3:2/3" */
};
/*
 * Parse "A:B" (A, B as N/M or N, 0 <= A < B <= 1); `sequence` ("0,1/3,2/3,1"
 * or NULL) names every segment's ends and must contain A and B as neighbours;
 * NULL means the sequence of equal parts of A's and B's denominators (fine
 * for equal splits: 0:1/3, 1/3:2/3, 2/3:1). ERR_USAGE naming the problem.
 */
int sched_segment_parse(const char *text, const char *sequence, struct sched_segment *out, struct err *e);
/* Restrict `s` to the segment: sched_count and sched_next_due then cover
 * its requests only (in index order; op.index stays the whole schedule's). */
void sched_set_segment(struct sched *s, const struct sched_segment *seg);
/* Request i of this process -> its index in the whole schedule. */
uint64_t sched_global_index(const struct sched *s, uint64_t i);
/* The whole schedule's index g -> this process's, 1; 0 when g is in another segment. */
int sched_local_index(const struct sched *s, uint64_t g, uint64_t *i);

/* "store", "recall", "search"; "?" otherwise. */
const char *sched_op_name(enum op_kind k);
/* "constant", "poisson", "periodic_burst", "ramp"; 0 ok, -1 ERR_SPEC with a suggestion. */
int sched_pattern_parse(const char *name, enum sched_pattern *out, struct err *e);
const char *sched_pattern_name(enum sched_pattern p);

#endif
