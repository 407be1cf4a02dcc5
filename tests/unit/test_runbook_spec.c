/*
 * test_runbook_spec.c — steps.runbook.phases: parsed with defaults, written
 * back canonically (and loaded again to the same digest), errors naming the
 * phase, key and file:line:col; specs without a runbook keep their digests.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/spec.h"

static const char head[] = "name: rb\n"
			   "target: {driver: embedded}\n"
			   "steps:\n"
			   "  centroids: {from: random, k: 4, dim: 8}\n"
			   "  synthetic: {count: 1000}\n"
			   "  queries: {count: 50, source: heldout}\n"
			   "  runbook:\n"
			   "    phases:\n";

static struct spec *load(const char *phases, struct err *e)
{
	char text[4096];
	snprintf(text, sizeof(text), "%s%s", head, phases);
	struct spec *s = NULL;
	spec_load_string(text, strlen(text), "rb.yaml", &s, e);
	return s;
}

Test(runbook_spec, phases_and_defaults)
{
	struct err e = ERR_INIT;
	struct spec *s = load("      - insert: {from: 0, to: 500, order: clustered, rate: 1000}\n"
			      "      - search: {rate: 50, duration: 2s, k: 5, concurrent: true}\n"
			      "      - delete: {from: 0, to: 100}\n"
			      "      - replace: {from: 100, to: 200, with_from: 800}\n"
			      "      - wait: {until: indexed}\n"
			      "      - wait: {until: 1500ms}\n",
			      &e);
	cr_assert_not_null(s, "%s", e.msg);
	const struct spec_runbook *rb = &s->runbook;
	cr_assert(rb->present);
	cr_assert_eq(rb->n_phases, 6);
	cr_assert_eq(rb->phases[0].kind, SPEC_PHASE_INSERT);
	cr_assert_eq(rb->phases[0].order, SPEC_ORDER_CLUSTERED);
	cr_assert_eq(rb->phases[0].to, 500);
	cr_assert_eq(rb->phases[0].rate, 1000);
	cr_assert_eq(rb->phases[0].set, SPEC_SET_SYNTHETIC);
	cr_assert_eq(rb->phases[1].kind, SPEC_PHASE_SEARCH);
	cr_assert(rb->phases[1].concurrent);
	cr_assert_eq(rb->phases[1].k, 5);
	cr_assert_eq(rb->phases[1].duration_ns, 2000000000ULL);
	cr_assert_eq(rb->phases[2].rate, 0, "writes default to as fast as acknowledged");
	cr_assert_eq(rb->phases[3].with_set, SPEC_SET_SYNTHETIC);
	cr_assert_eq(rb->phases[3].with_from, 800);
	cr_assert(rb->phases[4].until_indexed);
	cr_assert_eq(rb->phases[5].duration_ns, 1500000000ULL);
	cr_assert_eq(rb->batch_size, 100);
	cr_assert_eq(rb->tracers, 8);
	cr_assert_eq(rb->phases[2].line, 11);
	cr_assert_eq(rb->phases[2].col, 9);

	/* canonical JSON: every parameter written, keys sorted; it loads back */
	struct buf b, y;
	buf_init(&b, 0);
	buf_init(&y, 0);
	cr_assert_eq(spec_canonical(s, &b, &e), 0);
	cr_assert_not_null(strstr(b.data, "{\"delete\":{\"concurrent\":false,\"from\":0,\"rate\":0,\"set\":\"synthetic\","
					  "\"to\":100}}"), "%s", b.data);
	cr_assert_not_null(strstr(b.data, "{\"wait\":{\"concurrent\":false,\"until\":\"1500ms\"}}"), "%s", b.data);
	cr_assert_eq(spec_canonical_yaml(s, &y, &e), 0);
	struct spec *back = NULL;
	cr_assert_eq(spec_load_string(y.data, y.len, "show.yaml", &back, &e), 0, "%s\n%s", e.msg, y.data);
	struct digest d1, d2;
	spec_digest(s, &d1);
	spec_digest(back, &d2);
	cr_assert(digest_equal(&d1, &d2), "the shown spec has the same digest");
	/* a default written out does not change the digest */
	struct spec *s2 = load("      - insert: {from: 0, to: 500, order: clustered, rate: 1000, set: synthetic}\n"
			       "      - search: {rate: 50, duration: 2s, k: 5, concurrent: true, queries: 0}\n"
			       "      - delete: {from: 0, to: 100, concurrent: false}\n"
			       "      - replace: {from: 100, to: 200, with_from: 800, with_set: synthetic}\n"
			       "      - wait: {until: indexed}\n"
			       "      - wait: {until: 1.5s}\n",
			       &e);
	cr_assert_not_null(s2, "%s", e.msg);
	spec_digest(s2, &d2);
	cr_assert(digest_equal(&d1, &d2));
	buf_release(&b);
	buf_release(&y);
	spec_free(s);
	spec_free(s2);
	spec_free(back);
}

static void bad(const char *phases, const char *want)
{
	struct err e = ERR_INIT;
	struct spec *s = load(phases, &e);
	cr_assert_null(s, "loaded: %s", phases);
	cr_assert_eq(e.cls, ERR_SPEC);
	cr_assert_not_null(strstr(e.msg, want), "got '%s', wanted '%s'", e.msg, want);
}

Test(runbook_spec, errors_name_phase_and_key)
{
	bad("      - insert: {from: 10, to: 10}\n", "rb.yaml:9:9: steps.runbook.phases[0].insert.to: must be greater than from");
	bad("      - insert: {from: 0}\n", "rb.yaml:9:9: steps.runbook.phases[0].insert.to: required key missing");
	bad("      - insert: {to: 10, rate: -1}\n", "steps.runbook.phases[0].insert.rate: expected a rate");
	bad("      - insert: {to: 10, order: random}\n", "unknown order 'random'");
	bad("      - search: {rate: 10, concurrent: true}\n", "phases[0].search.concurrent: the first phase");
	bad("      - search: {rate: 10, queries: 51}\n", "51 queries, but steps.queries makes 50");
	bad("      - wait: {until: soon}\n", "steps.runbook.phases[0].wait.until: bad duration 'soon'");
	bad("      - delete: {to: 2000}\n", "rows 0..2000 are past the 1000 rows of set synthetic");
	bad("      - insert: {to: 10, set: corpus}\n", "set corpus needs corpus vectors");
	bad("      - {insert: {to: 1}, delete: {to: 1}}\n", "expected one phase");
	bad("      - search: {rate: 0}\n", "a search runs at a rate above 0");
}

Test(runbook_spec, needs_a_target)
{
	const char *text = "name: rb\nsteps:\n  centroids: {from: random, k: 4, dim: 8}\n  synthetic: {count: 10}\n"
			   "  runbook:\n    phases:\n      - insert: {to: 10}\n";
	struct spec *s = NULL;
	struct err e = ERR_INIT;
	cr_assert_neq(spec_load_string(text, strlen(text), "t.yaml", &s, &e), 0);
	cr_assert_not_null(strstr(e.msg, "steps.runbook: needs a target section"), "%s", e.msg);
}
