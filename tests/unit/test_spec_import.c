/*
 * test_spec_import.c — the TOML reader and `spec import-scenario`.
 *
 * Every import is loaded back with spec_load_string and its typed fields
 * compared with the scenario; warnings must name each dropped key. The
 * three Engram fixtures come from ../shared (skipped when absent).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/spec.h"
#include "spec/spec_int.h"
#include "../lib/testutil.h"

#define SEC 1000000000ULL

/* Import `toml`, load the result; returns the spec, fills warnings. */
static struct spec *import_ok(const char *toml, size_t len, struct buf *warn, int has_seed, uint64_t seed)
{
	struct buf yaml;
	buf_init(&yaml, 0);
	buf_init(warn, 0);
	struct err e = ERR_INIT;
	int rc = spec_import_scenario(toml, len, "s.toml", has_seed, seed, &yaml, warn, &e);
	cr_assert_eq(rc, 0, "import failed: %s", e.msg);
	struct spec *s = NULL;
	rc = spec_load_string(yaml.data, yaml.len, "imported.yaml", &s, &e);
	cr_assert_eq(rc, 0, "imported YAML does not load: %s\n%s", e.msg, yaml.data);
	buf_release(&yaml);
	return s;
}

static char *read_fixture(const char *rel, size_t *len)
{
	const char *p = test_shared_path(rel);
	if (!p)
		return NULL;
	FILE *f = fopen(p, "rb");
	cr_assert_not_null(f);
	struct buf b;
	buf_init(&b, 0);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n, NULL);
	fclose(f);
	return buf_detach(&b, len);
}

Test(spec_import, m17_baseline_fixture)
{
	size_t len;
	char *t = read_fixture("fixtures/engram/m17_baseline.toml", &len);
	if (!t)
		cr_skip_test("../shared/fixtures/engram absent");
	struct buf w;
	struct spec *s = import_ok(t, len, &w, 1, 0xDEADBEEF);
	cr_assert_str_eq(s->name, "m17-baseline");
	cr_assert_eq(s->seed, 3735928559ULL);
	cr_assert_str_eq(s->target.driver, "engram");
	cr_assert_str_eq(s->target.url, "http://localhost:7432");
	cr_assert_eq(s->target.spaces, 1);
	cr_assert(s->centroids.present);
	cr_assert_eq(s->centroids.from, SPEC_FROM_RANDOM);
	cr_assert_eq(s->centroids.k, 10);
	cr_assert_eq(s->centroids.dim, 768);
	cr_assert_eq(s->synthetic.count, 1000);
	/* 0.1 would collapse under Engram's dedup (cosine ~0.97 >= 0.95): raised, with a warning */
	cr_assert_float_eq(s->synthetic.std_dev, 0.2, 1e-12);
	cr_assert_not_null(strstr(w.data, "std_dev = 0.1: raised to 0.2"), "%s", w.data);
	cr_assert_not_null(strstr(w.data, "keep about 10 of the 1000 nodes"), "%s", w.data);
	/* recall weight > 0: the cue vectors a recall needs */
	cr_assert(s->queries.present);
	cr_assert_eq(s->queries.source, SPEC_QSRC_HELDOUT);
	cr_assert_eq(s->queries.count, 1000);
	cr_assert(s->ingest.present);
	cr_assert_eq(s->ingest.n_sets, 1);
	cr_assert_eq(s->ingest.sets[0], SPEC_SET_SYNTHETIC);
	cr_assert_eq(s->loadtest.duration_ns, 60 * SEC);
	cr_assert_eq(s->loadtest.arrival.pattern, SPEC_ARRIVAL_CONSTANT);
	cr_assert_float_eq(s->loadtest.arrival.rate, 1000, 1e-9);
	cr_assert_float_eq(s->loadtest.mix_store, 0.5, 1e-12);
	cr_assert_float_eq(s->loadtest.mix_recall, 0.425, 1e-12);
	cr_assert_float_eq(s->loadtest.mix_search, 0.075, 1e-12);
	cr_assert_eq(s->n_checks, 3);
	cr_assert_str_eq(s->checks[0].metric, "error_rate");
	cr_assert_eq(s->checks[0].op, SPEC_OP_LE);
	cr_assert_float_eq(s->checks[0].value, 0.01, 1e-12);
	cr_assert_str_eq(s->checks[1].metric, "p99_ms");
	cr_assert_eq(s->checks[1].op, SPEC_OP_LT);
	cr_assert_float_eq(s->checks[1].value, 50, 1e-9);
	cr_assert_str_eq(s->checks[2].metric, "throughput");
	cr_assert_eq(s->checks[2].op, SPEC_OP_GT);
	cr_assert_float_eq(s->checks[2].value, 800, 1e-9);
	cr_assert_not_null(strstr(w.data, "chaos.enabled: not supported, dropped"), "%s", w.data);
	cr_assert_not_null(strstr(w.data, "operations.pattern_completion_weight"), "%s", w.data);
	spec_free(s);
	buf_release(&w);
	free(t);
}

Test(spec_import, burst_traffic_fixture)
{
	size_t len;
	char *t = read_fixture("fixtures/engram/burst_traffic.toml", &len);
	if (!t)
		cr_skip_test("../shared/fixtures/engram absent");
	struct buf w;
	struct spec *s = import_ok(t, len, &w, 0, 0);
	cr_assert_str_eq(s->name, "burst-traffic-pattern");
	cr_assert_eq(s->seed, 42);
	cr_assert_eq(s->target.spaces, 4);
	cr_assert_eq(s->synthetic.count, 500000);
	cr_assert_eq(s->loadtest.duration_ns, 1800 * SEC);
	cr_assert_eq(s->loadtest.arrival.pattern, SPEC_ARRIVAL_PERIODIC_BURST);
	cr_assert_float_eq(s->loadtest.arrival.base_rate, 2000, 1e-9);
	cr_assert_float_eq(s->loadtest.arrival.burst_rate, 15000, 1e-9);
	cr_assert_eq(s->loadtest.arrival.burst_duration_ns, 30 * SEC);
	cr_assert_eq(s->loadtest.arrival.burst_period_ns, 300 * SEC);
	cr_assert_float_eq(s->loadtest.mix_store, 40, 1e-9);
	cr_assert_not_null(strstr(w.data, "periodic_burst"), "%s", w.data);
	spec_free(s);
	buf_release(&w);
	free(t);
}

Test(spec_import, qdrant_fixture_inline_distribution)
{
	size_t len;
	char *t = read_fixture("fixtures/engram/qdrant_ann_1m_768d.toml", &len);
	if (!t)
		cr_skip_test("../shared/fixtures/engram absent");
	struct buf w;
	struct spec *s = import_ok(t, len, &w, 0, 0);
	cr_assert_eq(s->synthetic.count, 1000000);
	cr_assert_eq(s->centroids.k, 100);
	cr_assert_float_eq(s->synthetic.std_dev, 0.2, 1e-12, "0.15 (cosine ~0.94) is raised too");
	cr_assert_not_null(strstr(w.data, "near Engram's semantic dedup threshold"), "%s", w.data);
	cr_assert_float_eq(s->loadtest.mix_store, 0, 1e-12);
	cr_assert_float_eq(s->loadtest.mix_search, 1, 1e-12);
	cr_assert(!s->queries.present, "no recall, no cue vectors");
	cr_assert_eq(s->n_checks, 3);
	spec_free(s);
	buf_release(&w);
	free(t);
}

Test(spec_import, poisson_seed_unknown_keys_and_other_distributions)
{
	const char *t = "name = \"Tiny\"\n"
			"description = 'literal \\no escape'\n"
			"seed = 0x10\n"
			"future_key = 1\n"
			"[arrival]\npattern = \"exponential\"\nlambda = 2_500.5\n"
			"[operations]\nstore_weight = 1\nrecall_weight = 2\nembedding_search_weight = 0\n"
			"[data]\nnum_nodes = 1_000\nembedding_dim = 64\nmemory_spaces = 1\n"
			"embedding_distribution = { type = \"uniform\" }\n";
	struct buf w;
	struct spec *s = import_ok(t, strlen(t), &w, 0, 0);
	cr_assert_str_eq(s->name, "tiny");
	cr_assert_str_eq(s->description, "literal \\no escape");
	cr_assert_eq(s->seed, 16);
	cr_assert_eq(s->loadtest.duration_ns, 300 * SEC, "scenario default duration");
	cr_assert_eq(s->loadtest.arrival.pattern, SPEC_ARRIVAL_POISSON);
	cr_assert_float_eq(s->loadtest.arrival.rate, 2500.5, 1e-9);
	cr_assert_eq(s->synthetic.count, 1000);
	cr_assert_eq(s->centroids.dim, 64);
	cr_assert_eq(s->centroids.k, 10);
	cr_assert_eq(s->n_checks, 0);
	cr_assert(s->queries.present && s->queries.source == SPEC_QSRC_HELDOUT);
	cr_assert_not_null(strstr(w.data, "future_key: not supported, dropped"), "%s", w.data);
	cr_assert_not_null(strstr(w.data, "type = uniform: not supported"), "%s", w.data);
	cr_assert_not_null(strstr(w.data, "arrival.pattern = exponential"), "%s", w.data);
	spec_free(s);
	buf_release(&w);

	/* --seed wins over the file */
	s = import_ok(t, strlen(t), &w, 1, 99);
	cr_assert_eq(s->seed, 99);
	spec_free(s);
	buf_release(&w);
}

/* No nodes but recalls: centroids for the cues only, nothing ingested;
 * a std_dev far from Engram's dedup is kept as written. */
Test(spec_import, recall_without_nodes_gets_cues_only)
{
	const char *t = "name = \"cues\"\n"
			"[arrival]\npattern = \"constant\"\nrate = 50\n"
			"[operations]\nstore_weight = 1\nrecall_weight = 1\nembedding_search_weight = 0\n"
			"[data]\nnum_nodes = 0\nembedding_dim = 32\nmemory_spaces = 1\n"
			"embedding_distribution = { type = \"clustered\", num_clusters = 4, std_dev = 0.3 }\n";
	struct buf w;
	struct spec *s = import_ok(t, strlen(t), &w, 0, 0);
	cr_assert(s->centroids.present);
	cr_assert_eq(s->centroids.from, SPEC_FROM_RANDOM);
	cr_assert_eq(s->centroids.k, 4);
	cr_assert_eq(s->centroids.dim, 32);
	cr_assert(s->queries.present && s->queries.source == SPEC_QSRC_HELDOUT);
	cr_assert(!s->synthetic.present && !s->ingest.present);
	cr_assert_not_null(strstr(w.data, "only shape the recall cues"), "%s", w.data);
	cr_assert_null(strstr(w.data, "raised"), "%s", w.data);
	spec_free(s);
	buf_release(&w);
}

struct bad_toml {
	const char *text;
	const char *want; /* in the message */
};

static const struct bad_toml bad_tomls[] = {
	{ "description = \"x\"\n[arrival]\npattern = \"constant\"\nrate = 1.0\n", "no 'name'" },
	{ "name = \"x\"\nrate = \n", "s.toml:2:8: missing value" },
	{ "name = \"x\"\n[[arrival]]\n", "s.toml:2:1: arrays of tables" },
	{ "name = \"\"\"x\"\"\"\n", "s.toml:1:8: multi-line strings are not supported" },
	{ "name = \"x\"\nname = \"y\"\n", "s.toml:2:1: key 'name' defined twice" },
	{ "name = \"x\"\n[data]\n[data]\n", "s.toml:3:7: table defined twice" },
	{ "name = \"x\"\nwhen = 1979-05-27\n", "dates and times are not supported" },
	{ "name = \"x\"\nrate = fast\n", "strings need quotes" },
	{ "name = \"unterminated\n", "s.toml:1:21: unterminated string" },
	{ "name = \"x\" junk\n", "s.toml:1:12: unexpected text" },
	{ "name = \"x\"\nv = 1__0\n", "misplaced '_'" },
	{ "name = \"x\"\n[arrival]\npattern = \"constant\"\nrate = \"fast\"\n[operations]\nstore_weight = 1\n",
	  "s.toml:4:8: arrival.rate: expected a number" },
	{ "name = \"x\"\n[arrival]\npattern = \"zigzag\"\n[operations]\nstore_weight = 1\n",
	  "s.toml:3:11: arrival.pattern: unknown pattern 'zigzag'" },
	{ "name = \"x\"\n[arrival]\npattern = \"constant\"\nrate = 5\n[operations]\nstore_weight = 0\n",
	  "not all 0" },
	{ "name = \"x\"\n[arrival]\npattern = \"constant\"\nrate = 5\n", "no [operations]" },
};

Test(spec_import, malformed_scenarios_are_rejected_with_position)
{
	for (size_t i = 0; i < sizeof(bad_tomls) / sizeof(bad_tomls[0]); i++) {
		struct buf yaml, warn;
		buf_init(&yaml, 0);
		buf_init(&warn, 0);
		struct err e = ERR_INIT;
		int rc = spec_import_scenario(bad_tomls[i].text, strlen(bad_tomls[i].text), "s.toml", 0, 0, &yaml,
					      &warn, &e);
		cr_expect_eq(rc, -1, "case %zu imported but should fail", i);
		cr_expect_eq(e.cls, ERR_INPUT, "case %zu: class %d (%s)", i, e.cls, e.msg);
		cr_expect_not_null(strstr(e.msg, bad_tomls[i].want), "case %zu: wanted '%s' in: %s", i,
				   bad_tomls[i].want, e.msg);
		cr_expect_eq(yaml.len, 0, "case %zu: no output on error", i);
		buf_release(&yaml);
		buf_release(&warn);
	}
}

Test(spec_toml, reader_covers_the_subset)
{
	const char *t = "# comment\n"
			"a = 1_000 # trailing\n"
			"b = -2.5e3\n"
			"c = true\n"
			"d = \"tab\\tq\\\"\\u00e9\"\n"
			"e = [1, 2,\n  3, # inside\n]\n"
			"f = { x = 1, y.z = \"w\" }\n"
			"\"quoted key\" = 'lit'\n"
			"g.h = 0x1F\n"
			"[t.u]\n"
			"v = []\n";
	struct stree tr;
	struct err e = ERR_INIT;
	cr_assert_eq(stree_parse_toml(&tr, t, strlen(t), "r.toml", &e), 0, "%s", e.msg);
	const struct snode *r = tr.root;
	cr_assert_str_eq(stree_map_get(r, "a")->str, "1000");
	cr_assert(stree_map_get(r, "a")->plain);
	cr_assert_str_eq(stree_map_get(r, "b")->str, "-2.5e3");
	cr_assert_str_eq(stree_map_get(r, "c")->str, "true");
	cr_assert_str_eq(stree_map_get(r, "d")->str, "tab\tq\"\xc3\xa9");
	cr_assert_eq(stree_map_get(r, "d")->plain, 0);
	const struct snode *arr = stree_map_get(r, "e");
	cr_assert_eq(arr->kind, SN_SEQ);
	cr_assert_eq(arr->n, 3);
	cr_assert_str_eq(arr->vals[2]->str, "3");
	const struct snode *f = stree_map_get(r, "f");
	cr_assert_eq(f->kind, SN_MAP);
	cr_assert_str_eq(stree_map_get(stree_map_get(f, "y"), "z")->str, "w");
	cr_assert_str_eq(stree_map_get(r, "quoted key")->str, "lit");
	cr_assert_str_eq(stree_map_get(stree_map_get(r, "g"), "h")->str, "31");
	const struct snode *u = stree_map_get(stree_map_get(r, "t"), "u");
	cr_assert_eq(stree_map_get(u, "v")->kind, SN_SEQ);
	cr_assert_eq(stree_map_get(u, "v")->n, 0);
	cr_assert_eq(stree_map_get(r, "a")->line, 2);
	cr_assert_eq(stree_map_get(r, "a")->col, 5);
	stree_release(&tr);
}
