/*
 * test_sched.c — the open-loop schedule: determinism, counts = integrals,
 * pattern shapes, mix, warm-up, validation.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engrave/err.h"
#include "engrave/sched.h"

#define S(x) ((uint64_t)(x) * 1000000000ULL)

static struct sched_params base(enum sched_pattern pat)
{
	struct sched_params p;
	memset(&p, 0, sizeof(p));
	p.pattern = pat;
	p.rate = 1000;
	p.duration_ns = S(10);
	p.weight[OP_STORE] = 0.5;
	p.weight[OP_RECALL] = 0.425;
	p.weight[OP_SEARCH] = 0.075;
	p.seed = 42;
	p.n_queries = 1000;
	return p;
}

static void init_ok(struct sched *s, const struct sched_params *p)
{
	struct err e = ERR_INIT;
	cr_assert_eq(sched_init(s, p, &e), 0, "sched_init: %s", e.msg);
}

/* Requests due in [a, b) ns. */
static uint64_t due_between(const struct sched *s, uint64_t a, uint64_t b)
{
	uint64_t c = 0;
	struct sched_op op;
	for (uint64_t i = 0; sched_next_due(s, i, &op) == 0; i++)
		c += op.due_ns >= a && op.due_ns < b;
	return c;
}

static void check_monotone_in_span(const struct sched *s)
{
	struct sched_op op;
	uint64_t prev = 0;
	for (uint64_t i = 0; sched_next_due(s, i, &op) == 0; i++) {
		cr_assert_eq(op.index, i);
		cr_assert(op.due_ns >= prev, "due times must not decrease (i=%llu)", (unsigned long long)i);
		cr_assert(op.due_ns < sched_span_ns(s));
		prev = op.due_ns;
	}
}

Test(sched, same_params_same_digest_and_count)
{
	const enum sched_pattern pats[] = { SCHED_CONSTANT, SCHED_POISSON, SCHED_PERIODIC_BURST,
					    SCHED_RAMP };
	for (size_t k = 0; k < 4; k++) {
		struct sched_params p = base(pats[k]);
		p.base_rate = 200, p.burst_rate = 2000, p.burst_duration_ns = S(1), p.burst_period_ns = S(4);
		p.rate_end = 3000;
		struct sched a, b;
		init_ok(&a, &p);
		init_ok(&b, &p);
		struct digest da, db;
		sched_digest(&a, &da);
		sched_digest(&b, &db);
		cr_assert(digest_equal(&da, &db), "%s: digests differ", sched_pattern_name(pats[k]));
		cr_assert_eq(sched_count(&a), sched_count(&b));
		p.seed = 43;
		init_ok(&b, &p);
		sched_digest(&b, &db);
		cr_assert_not(digest_equal(&da, &db), "%s: the seed must change the digest",
			      sched_pattern_name(pats[k]));
	}
}

Test(sched, constant_count_is_rate_times_duration_and_evenly_spaced)
{
	struct sched_params p = base(SCHED_CONSTANT);
	struct sched s;
	init_ok(&s, &p);
	cr_assert_eq(sched_count(&s), 10000);
	struct sched_op op;
	for (uint64_t i = 0; i < 10000; i += 7) {
		cr_assert_eq(sched_next_due(&s, i, &op), 0);
		cr_assert_eq(op.due_ns, i * 1000000, "i=%llu due=%llu", (unsigned long long)i,
			     (unsigned long long)op.due_ns);
	}
	cr_assert_eq(sched_next_due(&s, 10000, &op), -1);
	check_monotone_in_span(&s);
	/* 333.3/s for 3 s: round(999.9) */
	p.rate = 333.3;
	p.duration_ns = S(3);
	init_ok(&s, &p);
	cr_assert_eq(sched_count(&s), 1000);
}

Test(sched, poisson_count_matches_integral_and_gaps_are_exponential)
{
	struct sched_params p = base(SCHED_POISSON);
	p.rate = 2000;
	p.duration_ns = S(10);
	struct sched s;
	init_ok(&s, &p);
	cr_assert_eq(sched_count(&s), 20000);
	check_monotone_in_span(&s);
	/* gaps: mean 1/rate, coefficient of variation ~1 (exponential) */
	struct sched_op op;
	double sum = 0, sum2 = 0, prev = 0;
	uint64_t n = sched_count(&s);
	for (uint64_t i = 0; i < n; i++) {
		sched_next_due(&s, i, &op);
		double g = (double)op.due_ns - prev;
		if (i) {
			sum += g;
			sum2 += g * g;
		}
		prev = (double)op.due_ns;
	}
	double mean = sum / (double)(n - 1), sd = sqrt(sum2 / (double)(n - 1) - mean * mean);
	cr_assert(fabs(mean - 5e5) < 5e5 * 0.02, "mean gap %.0f ns", mean);
	cr_assert(sd / mean > 0.85 && sd / mean < 1.15, "cv %.3f", sd / mean);
	/* about rate per second in every second */
	for (int t = 0; t < 10; t++) {
		uint64_t c = due_between(&s, S(t), S(t + 1));
		cr_assert(c > 1800 && c < 2200, "second %d has %llu", t, (unsigned long long)c);
	}
	/* counts of odd sizes: round(integral) */
	p.rate = 1234.5;
	p.duration_ns = S(2);
	init_ok(&s, &p);
	cr_assert_eq(sched_count(&s), 2469);
	check_monotone_in_span(&s);
}

Test(sched, periodic_burst_follows_its_rates)
{
	struct sched_params p = base(SCHED_PERIODIC_BURST);
	p.base_rate = 100;
	p.burst_rate = 1000;
	p.burst_duration_ns = S(1);
	p.burst_period_ns = S(4);
	p.duration_ns = S(10); /* 2 full periods (2*1300) + 1 s burst + 1 s base */
	struct sched s;
	init_ok(&s, &p);
	cr_assert_eq(sched_count(&s), 2 * 1300 + 1000 + 100);
	cr_assert(fabs(sched_expected_ops(&s) - 3700) < 1e-6);
	check_monotone_in_span(&s);
	for (int k = 0; k < 3; k++) {
		uint64_t burst = due_between(&s, S(4 * k), S(4 * k + 1));
		uint64_t rest = due_between(&s, S(4 * k + 1), S(4 * k + 2));
		cr_assert(burst >= 999 && burst <= 1001, "burst %d: %llu", k, (unsigned long long)burst);
		cr_assert(rest >= 99 && rest <= 101, "base after burst %d: %llu", k, (unsigned long long)rest);
	}
}

Test(sched, ramp_follows_the_integral)
{
	struct sched_params p = base(SCHED_RAMP);
	p.rate = 100;
	p.rate_end = 1900;
	p.duration_ns = S(10);
	struct sched s;
	init_ok(&s, &p);
	cr_assert_eq(sched_count(&s), 10000); /* (100 + 1900) / 2 * 10 */
	check_monotone_in_span(&s);
	/* first second: integral of 100 + 180 t over [0,1] = 190 */
	uint64_t c0 = due_between(&s, 0, S(1)), c9 = due_between(&s, S(9), S(10));
	cr_assert(c0 >= 189 && c0 <= 191, "first second %llu", (unsigned long long)c0);
	cr_assert(c9 >= 1809 && c9 <= 1811, "last second %llu", (unsigned long long)c9);
	/* a ramp down, and a ramp from zero */
	p.rate = 1000, p.rate_end = 0;
	init_ok(&s, &p);
	cr_assert_eq(sched_count(&s), 5000);
	check_monotone_in_span(&s);
	p.rate = 0, p.rate_end = 1000;
	init_ok(&s, &p);
	cr_assert_eq(sched_count(&s), 5000);
	check_monotone_in_span(&s);
	cr_assert_eq(due_between(&s, S(5), S(10)), 3750);
}

Test(sched, warmup_runs_first_and_is_flagged)
{
	struct sched_params p = base(SCHED_CONSTANT);
	p.warmup_ns = S(2);
	p.duration_ns = S(5);
	struct sched s;
	init_ok(&s, &p);
	cr_assert_eq(sched_count(&s), 7000);
	struct sched_op op;
	uint64_t warm = 0;
	for (uint64_t i = 0; sched_next_due(&s, i, &op) == 0; i++) {
		cr_assert_eq(op.warmup, op.due_ns < S(2));
		warm += op.warmup;
	}
	cr_assert_eq(warm, 2000);
	/* ramp: the warm-up runs at the start rate, the ramp covers the duration */
	p = base(SCHED_RAMP);
	p.rate = 100, p.rate_end = 300, p.warmup_ns = S(1), p.duration_ns = S(2);
	init_ok(&s, &p);
	cr_assert_eq(sched_count(&s), 100 + 400);
	cr_assert_eq(due_between(&s, 0, S(1)), 100);
}

Test(sched, mix_follows_weights_and_args_are_in_range)
{
	struct sched_params p = base(SCHED_CONSTANT);
	p.rate = 10000;
	p.n_queries = 37;
	struct sched s;
	init_ok(&s, &p);
	uint64_t n = sched_count(&s), c[OP_KIND_COUNT] = { 0 };
	struct sched_op op;
	for (uint64_t i = 0; i < n; i++) {
		sched_next_due(&s, i, &op);
		c[op.kind]++;
		if (op.kind == OP_STORE) {
			cr_assert_eq(op.arg, i, "a store's vector ordinal is its index");
			char id[48], want[48];
			snprintf(want, sizeof(want), "load-42-%llu", (unsigned long long)i);
			cr_assert_str_eq(sched_store_id(&s, &op, id, sizeof(id)), want);
		}
		else
			cr_assert_lt(op.arg, 37);
	}
	for (int k = 0; k < OP_KIND_COUNT; k++)
		cr_assert(fabs((double)c[k] / (double)n - p.weight[k]) < 0.01, "%s: %.4f",
			  sched_op_name((enum op_kind)k), (double)c[k] / (double)n);
	/* a zero weight never appears */
	p.weight[OP_SEARCH] = 0;
	init_ok(&s, &p);
	for (uint64_t i = 0; i < 20000; i++) {
		sched_next_due(&s, i, &op);
		cr_assert_neq(op.kind, OP_SEARCH);
	}
}

Test(sched, invalid_params_are_spec_errors)
{
	struct sched s;
	struct err e = ERR_INIT;
	struct sched_params p = base(SCHED_CONSTANT);
	p.rate = 0;
	cr_assert_eq(sched_init(&s, &p, &e), -1);
	cr_assert_eq(e.cls, ERR_SPEC);
	cr_assert(strstr(e.msg, "loadtest.arrival.rate"), "%s", e.msg);
	p = base(SCHED_CONSTANT);
	p.duration_ns = 0;
	cr_assert_eq(sched_init(&s, &p, &e), -1);
	p = base(SCHED_CONSTANT);
	p.weight[0] = p.weight[1] = p.weight[2] = 0;
	cr_assert_eq(sched_init(&s, &p, &e), -1);
	cr_assert(strstr(e.msg, "mix"), "%s", e.msg);
	p = base(SCHED_PERIODIC_BURST);
	p.base_rate = 1, p.burst_rate = 10, p.burst_duration_ns = S(5), p.burst_period_ns = S(4);
	cr_assert_eq(sched_init(&s, &p, &e), -1);
	cr_assert(strstr(e.msg, "burst_duration"), "%s", e.msg);
	p = base(SCHED_CONSTANT);
	p.rate = 1e12;
	p.duration_ns = S(3600);
	cr_assert_eq(sched_init(&s, &p, &e), -1);
	enum sched_pattern pat;
	cr_assert_eq(sched_pattern_parse("poison", &pat, &e), -1);
	cr_assert(strstr(e.hint, "poisson"), "hint: %s", e.hint);
	cr_assert_eq(sched_pattern_parse("ramp", &pat, &e), 0);
	cr_assert_eq(pat, SCHED_RAMP);
}

#include "engrave/spec.h"

Test(sched, params_from_a_spec)
{
	static const char yaml[] =
		"name: lt\nseed: 9\n"
		"target: {driver: embedded}\n"
		"steps:\n"
		"  loadtest:\n"
		"    duration: 20s\n"
		"    warmup: 5s\n"
		"    arrival: {pattern: ramp, from_rate: 10, to_rate: 30}\n"
		"    mix: {store: 1, recall: 2, search: 0}\n";
	struct spec *sp = NULL;
	struct err e = ERR_INIT;
	if (spec_load_string(yaml, sizeof(yaml) - 1, "<test>", &sp, &e) < 0)
		cr_assert_fail("spec: %s (%s)", e.msg, e.hint);
	struct sched_params p;
	sched_params_from_spec(&sp->loadtest, sp->seed, &p);
	cr_assert_eq(p.pattern, SCHED_RAMP);
	cr_assert_eq(p.rate, 10);
	cr_assert_eq(p.rate_end, 30);
	cr_assert_eq(p.duration_ns, S(20));
	cr_assert_eq(p.warmup_ns, S(5));
	cr_assert_eq(p.seed, 9);
	cr_assert_eq(p.weight[OP_RECALL], 2);
	struct sched s;
	init_ok(&s, &p);
	cr_assert_eq(sched_count(&s), 5 * 10 + 20 * 20);
	spec_free(sp);
}
