/*
 * test_segment.c — execution segments: every request in exactly one
 * segment of a sequence, counts adding up to the whole, striping over the
 * least common denominator, ops identical to the whole schedule's, the
 * digest unchanged, and what the parser refuses.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "engrave/err.h"
#include "engrave/sched.h"

static void whole(struct sched *s, enum sched_pattern pat, double rate)
{
	struct sched_params p;
	memset(&p, 0, sizeof(p));
	p.pattern = pat;
	p.rate = rate;
	p.duration_ns = 2ULL * 1000000000ULL;
	p.warmup_ns = 500000000ULL;
	p.weight[OP_STORE] = 0.3;
	p.weight[OP_RECALL] = 0.7;
	p.seed = 7;
	p.n_queries = 50;
	struct err e = ERR_INIT;
	cr_assert_eq(sched_init(s, &p, &e), 0, "%s", e.msg);
}

static void cover(const char *const *segs, const char *seq, enum sched_pattern pat, double rate)
{
	struct sched all;
	whole(&all, pat, rate);
	uint64_t n = sched_count(&all);
	unsigned char *seen = calloc(n, 1);
	uint64_t sum = 0;
	for (int k = 0; segs[k]; k++) {
		struct sched_segment g;
		struct err e = ERR_INIT;
		cr_assert_eq(sched_segment_parse(segs[k], seq, &g, &e), 0, "%s: %s", segs[k], e.msg);
		struct sched s;
		whole(&s, pat, rate);
		sched_set_segment(&s, &g);
		sum += sched_count(&s);
		uint64_t prev_due = 0;
		for (uint64_t i = 0; i < sched_count(&s); i++) {
			struct sched_op a, b;
			cr_assert_eq(sched_next_due(&s, i, &a), 0);
			cr_assert_lt(a.index, n);
			cr_assert_eq(seen[a.index], 0, "index %llu in two segments", (unsigned long long)a.index);
			seen[a.index] = 1;
			sched_next_due(&all, a.index, &b);
			cr_assert(a.due_ns == b.due_ns && a.kind == b.kind && a.arg == b.arg, "op %llu differs",
				  (unsigned long long)a.index);
			cr_assert_geq(a.due_ns, prev_due);
			prev_due = a.due_ns;
			uint64_t back = 0;
			cr_assert_eq(sched_local_index(&s, a.index, &back), 1);
			cr_assert_eq(back, i);
		}
		cr_assert_eq(sched_next_due(&s, sched_count(&s), &(struct sched_op){ 0 }), -1);
		struct digest d1, d2;
		sched_digest(&s, &d1);
		sched_digest(&all, &d2);
		cr_assert(digest_equal(&d1, &d2), "a segment keeps the whole schedule's digest");
	}
	cr_assert_eq(sum, n, "segment counts add up to the whole: %llu != %llu", (unsigned long long)sum,
		     (unsigned long long)n);
	for (uint64_t i = 0; i < n; i++)
		cr_assert_eq(seen[i], 1, "index %llu in no segment", (unsigned long long)i);
	free(seen);
}

Test(segment, thirds_cover_exactly_once)
{
	const char *segs[] = { "0:1/3", "1/3:2/3", "2/3:1", NULL };
	cover(segs, NULL, SCHED_CONSTANT, 1001); /* 2503 requests: not a multiple of 3 */
	cover(segs, NULL, SCHED_POISSON, 333);
}

Test(segment, uneven_sequence)
{
	const char *segs[] = { "0:1/2", "1/2:3/4", "3/4:1", NULL };
	cover(segs, "0,1/2,3/4,1", SCHED_RAMP, 97);
}

Test(segment, striped_over_the_denominator)
{
	struct sched s;
	whole(&s, SCHED_CONSTANT, 100);
	struct sched_segment g;
	cr_assert_eq(sched_segment_parse("1/3:2/3", NULL, &g, NULL), 0);
	cr_assert_eq(g.den, 3);
	sched_set_segment(&s, &g);
	for (uint64_t i = 0; i < 10; i++)
		cr_assert_eq(sched_global_index(&s, i), 3 * i + 1);
	cr_assert_eq(sched_count(&s), 250 / 3 + (250 % 3 > 1));
	uint64_t g2 = 0;
	cr_assert_eq(sched_local_index(&s, 3, &g2), 0, "index 3 belongs to 0:1/3");
}

Test(segment, parse_errors)
{
	struct sched_segment g;
	struct err e = ERR_INIT;
	const char *bad[] = { "1/3", "2/3:1/3", "0:4/3", "a:b", "0:1/0", "1/2:1/2", NULL };
	for (int i = 0; bad[i]; i++) {
		cr_assert_eq(sched_segment_parse(bad[i], NULL, &g, &e), -1, "%s accepted", bad[i]);
		cr_assert_eq(e.cls, ERR_USAGE);
	}
	cr_assert_eq(sched_segment_parse("1/3:2/3", "0,1/2,1", &g, &e), -1);
	cr_assert(strstr(e.msg, "neighbours"), "%s", e.msg);
	cr_assert_eq(sched_segment_parse("1/2:1", "0,1/2", &g, &e), -1);
	cr_assert_eq(sched_segment_parse("2/6:4/6", NULL, &g, &e), 0, "%s", e.msg);
	cr_assert_str_eq(g.text, "1/3:2/3");
}
