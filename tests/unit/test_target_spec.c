/*
 * test_target_spec.c — the driver table and what it does to specs.
 *
 * Drivers own their facts (target.h `struct target_driver`); the spec layer
 * knows none of them and target_spec_resolve applies them. These tests pin:
 * the table itself (names once, capabilities matching the ops each driver
 * implements), the three things `spec check` must refuse before anything
 * runs (text searches on a driver without text search, a namespace the
 * database would refuse, a vector dimension the driver cannot take) with
 * file:line:col and the key, the driver defaults and the keys left out of
 * the canonical form, and that every shipped spec keeps the digest it had
 * when those rules lived in src/spec/ (values computed with the binary of
 * the commit before the move).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/hash.h"
#include "engrave/spec.h"
#include "engrave/target.h"
#include "targets/target_int.h"
#include "../lib/testutil.h"

static struct spec *load_ok(const char *yaml)
{
	struct err e = ERR_INIT;
	struct spec *s = NULL;
	int rc = target_spec_load_string(yaml, strlen(yaml), "t.yaml", &s, &e);
	cr_assert_eq(rc, 0, "spec did not load: %s (%s)\n--- spec:\n%s", e.msg, e.hint, yaml);
	return s;
}

/* Loads `yaml`, expects ERR_SPEC with the position, key and reason. */
static void load_bad(const char *yaml, const char *pos, const char *path, const char *reason, const char *hint)
{
	struct err e = ERR_INIT;
	struct spec *s = (struct spec *)1;
	int rc = target_spec_load_string(yaml, strlen(yaml), "t.yaml", &s, &e);
	cr_assert_eq(rc, -1, "loaded but should fail:\n%s", yaml);
	cr_assert_null(s, "*out must be NULL on error");
	cr_assert_eq(e.cls, ERR_SPEC, "class %d: %s", e.cls, e.msg);
	cr_assert(strncmp(e.msg, pos, strlen(pos)) == 0, "wanted position %s in: %s", pos, e.msg);
	char want[200];
	snprintf(want, sizeof(want), ": %s: ", path);
	cr_assert_not_null(strstr(e.msg, want), "wanted key '%s' in: %s", path, e.msg);
	cr_assert_not_null(strstr(e.msg, reason), "wanted '%s' in: %s", reason, e.msg);
	if (hint)
		cr_assert_not_null(strstr(e.hint, hint), "wanted hint '%s', got '%s'", hint, e.hint);
}

/* ---- the table ------------------------------------------------------------- */

Test(target_drivers, names_are_unique_and_found)
{
	size_t n = 0;
	for (size_t i = 0; target_drivers[i]; i++, n++) {
		const struct target_driver *d = target_drivers[i];
		cr_assert_not_null(d->name);
		cr_assert_eq(target_driver_find(d->name), d, "%s", d->name);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(target_drivers[j]->name, d->name);
	}
	cr_assert_geq(n, 3);
	cr_assert_leq(n, TARGET_DRIVERS_MAX);
	cr_assert_null(target_driver_find("postgres"));
	cr_assert_null(target_driver_find(NULL));
	const char *names[TARGET_DRIVERS_MAX + 1];
	target_driver_names(names, sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(names[i], target_drivers[i]->name);
	cr_assert_null(names[n]);
}

/* A declared capability is an implemented operation, and the other way round. */
Test(target_drivers, capabilities_match_the_ops)
{
	for (size_t i = 0; target_drivers[i]; i++) {
		const struct target_driver *d = target_drivers[i];
		const struct target_ops *o = d->ops;
		cr_assert_not_null(o, "%s has no ops", d->name);
		int search = o->build_search || o->exec_search;
		cr_assert_eq(!!(d->caps & TARGET_CAP_TEXT_SEARCH), search, "%s: text search", d->name);
		cr_assert_eq(!!(d->caps & TARGET_CAP_COUNT), o->count != NULL, "%s: count", d->name);
		cr_assert_eq(!!(d->caps & TARGET_CAP_READ_BY_ID), o->get_vectors != NULL, "%s: read-back", d->name);
		cr_assert_eq(!!(d->caps & TARGET_CAP_DELETE), o->delete_ids != NULL, "%s: delete", d->name);
		/* engram has a reset entry that explains why it cannot */
		if (d->caps & TARGET_CAP_RESET)
			cr_assert_not_null(o->reset, "%s: reset", d->name);
		cr_assert(d->dim_min >= 1 && d->dim_min <= d->dim_max, "%s: dims", d->name);
		cr_assert(d->id_max > 0 && d->id_max < TARGET_ID_MAX, "%s: id_max", d->name);
		cr_assert_eq(d->ns_key != NULL, d->ns_default != NULL, "%s: namespace default", d->name);
		/* an in-process driver has no url; a server driver (HTTP, PostgreSQL) has a default */
		cr_assert_eq(d->default_url != NULL, o->build_store != NULL || (d->caps & TARGET_CAP_PERSISTENT) != 0,
			     "%s: url", d->name);
	}
}

Test(target_drivers, engram_facts)
{
	const struct target_driver *d = target_driver_find("engram");
	cr_assert_not_null(d);
	cr_assert_eq(d->dim_min, 768);
	cr_assert_eq(d->dim_max, 768);
	cr_assert_eq(d->content_max, 99000);
	cr_assert_not_null(strstr(d->unheld_hint, "cosine >= 0.95"));
	cr_assert_not_null(strstr(d->unheld_hint, "100K"));
	/* Engram's ingest.py: min(0.9, 0.6 + len/10000) */
	cr_assert_float_eq(d->corpus_confidence(0), 0.6f, 1e-6);
	cr_assert_float_eq(d->corpus_confidence(1000), 0.7f, 1e-6);
	cr_assert_float_eq(d->corpus_confidence(2500), 0.85f, 1e-6);
	cr_assert_float_eq(d->corpus_confidence(3000), 0.9f, 1e-6);
	cr_assert_float_eq(d->corpus_confidence(50000), 0.9f, 1e-6);
}

/* What an open target reports comes from its descriptor. */
Test(target_drivers, open_targets_answer_from_their_descriptor)
{
	struct err e = ERR_INIT;
	struct target *t;
	struct target_config cfg = { .driver = "engram", .url = "http://127.0.0.1:9", .space = "bench", .dim = 768 };
	cr_assert_eq(target_open(&cfg, &t, &e), 0, "%s", e.msg); /* sends nothing */
	cr_assert_eq(target_driver_of(t), target_driver_find("engram"));
	cr_assert_str_eq(target_space(t), "bench");
	cr_assert(target_can(t, TARGET_CAP_TEXT_SEARCH));
	cr_assert(!target_can(t, TARGET_CAP_TEXT_SEARCH | TARGET_CAP_RESET));
	cr_assert_eq(target_content_max(t), 99000);
	cr_assert_float_eq(target_corpus_confidence(t, 1000), 0.7f, 1e-6);
	cr_assert_not_null(strstr(target_unheld_hint(t), "semantic dedup"));
	target_close(t);

	struct target_config ecfg = { .driver = "embedded", .dim = 8 };
	cr_assert_eq(target_open(&ecfg, &t, &e), 0, "%s", e.msg);
	cr_assert_str_eq(target_space(t), "default");
	cr_assert(target_can(t, TARGET_CAP_TEXT_SEARCH | TARGET_CAP_RESET | TARGET_CAP_READ_BY_ID));
	cr_assert_eq(target_content_max(t), SIZE_MAX);
	cr_assert_lt(target_corpus_confidence(t, 1000), 0);
	cr_assert_str_eq(target_unheld_hint(t), "the target answered success for records it does not hold");
	target_close(t);

	struct target_config bad = { .driver = "chromma", .url = "http://x" };
	cr_assert_eq(target_open(&bad, &t, &e), -1);
	cr_assert_eq(e.cls, ERR_SPEC);
	cr_assert_not_null(strstr(e.hint, "did you mean 'chroma'"), "%s", e.hint);
	cr_assert_not_null(strstr(e.hint, "engram, chroma, embedded"), "%s", e.hint);
}

/* ---- spec check: the three refusals ------------------------------------------ */

Test(target_spec, search_in_the_mix_needs_text_search)
{
	/* written weight: blamed where it is written */
	load_bad("name: x\ntarget: {driver: chroma}\nsteps:\n  loadtest: {mix: {store: 1, search: 0.5}}\n",
		 "t.yaml:4:38", "steps.loadtest.mix.search", "driver chroma has no text search",
		 "set steps.loadtest.mix.search to 0");
	/* the default mix searches too: blamed at the loadtest section */
	load_bad("name: x\ntarget: {driver: chroma}\nsteps:\n  loadtest: {duration: 5s}\n", "t.yaml:4:13",
		 "steps.loadtest.mix.search", "no text search", "default mix");
	/* no searches, or a driver with text search: fine */
	spec_free(load_ok("name: x\ntarget: {driver: chroma}\nsteps:\n  loadtest: {mix: {recall: 0, search: 0}}\n"));
	spec_free(load_ok("name: x\ntarget: {driver: engram}\nsteps:\n  loadtest: {mix: {recall: 0}}\n"));
	spec_free(load_ok("name: x\ntarget: {driver: embedded}\nsteps:\n  loadtest: {mix: {recall: 0}}\n"));
}

/* A recall sends a cue vector from the queries step: a mix with recalls and
 * no queries step is refused when the spec is loaded to be run (it used to
 * fail at the load test, after the ingest), with a hint for the steps the
 * spec has; a stored run's spec is read back without the rule. */
Test(target_spec, recalls_need_a_queries_step)
{
	load_bad("name: x\ntarget: {driver: engram}\nsteps:\n  centroids: {from: random, k: 2, dim: 768}\n"
		 "  synthetic: {count: 10}\n  loadtest: {mix: {store: 1, recall: 2}}\n",
		 "t.yaml:6:38", "steps.loadtest.mix.recall", "recalls (weight 2) need cue vectors",
		 "{source: heldout}");
	load_bad("name: x\ntarget: {driver: embedded}\nsteps:\n  corpus: {source: sample}\n  embed: {dim: 8}\n"
		 "  loadtest: {duration: 5s}\n", "t.yaml:6:13", "steps.loadtest.mix.recall", "no queries step",
		 "{source: corpus}");
	load_bad("name: x\ntarget: {driver: embedded}\nsteps:\n  loadtest: {duration: 5s}\n", "t.yaml:4:13",
		 "steps.loadtest.mix.recall", "need cue vectors", "the default mix sends recalls");
	const char *y = "name: x\ntarget: {driver: engram}\nsteps:\n  loadtest: {duration: 5s}\n";
	struct spec *s = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(target_spec_load_stored(y, strlen(y), "RUN", &s, &e), 0, "%s", e.msg);
	spec_free(s);
	spec_free(load_ok("name: x\ntarget: {driver: engram}\nsteps:\n  centroids: {from: random, k: 2, dim: 768}\n"
			  "  queries: {source: heldout, count: 5}\n  loadtest: {duration: 5s}\n"));
}

/* Names the pinned Chroma server (1.0.5 bindings) was asked to create. */
Test(target_spec, chroma_collection_names_as_chroma_judges_them)
{
	static const char *const good[] = { "abc", "Abc.D", "a.b", "a_b", "a-b", "engrave-test", "1.2.3",
					    "256.1.1.1", "01.2.3.4", "1.2.3.4.5", "999.999.999.999", NULL };
	static const char *const bad[] = { "ab", "-ab", "ab-", "_ab", "a..b", "ab c", "192.168.1.1", "1.2.3.4",
					   "0.0.0.0", "255.255.255.255", "a\xc3\xa9", NULL };
	char y[700];
	for (int i = 0; good[i]; i++) {
		snprintf(y, sizeof(y), "name: x\ntarget: {driver: chroma, collection: \"%s\"}\n", good[i]);
		struct spec *s = load_ok(y);
		cr_assert_str_eq(target_spec_namespace(s), good[i]);
		spec_free(s);
	}
	for (int i = 0; bad[i]; i++) {
		snprintf(y, sizeof(y), "name: x\ntarget: {driver: chroma, collection: \"%s\"}\n", bad[i]);
		load_bad(y, "t.yaml:2:38", "target.collection", "is not a name chroma accepts", "Chroma collection names");
	}
	/* 512 characters are fine, 513 are not */
	char name[600];
	memset(name, 'a', 513);
	name[512] = '\0';
	snprintf(y, sizeof(y), "name: x\ntarget: {driver: chroma, collection: %s}\n", name);
	spec_free(load_ok(y));
	name[512] = 'a';
	name[513] = '\0';
	snprintf(y, sizeof(y), "name: x\ntarget: {driver: chroma, collection: %s}\n", name);
	load_bad(y, "t.yaml:2:38", "target.collection", "is not a name chroma accepts", "3-512 characters");
}

Test(target_spec, engram_space_ids)
{
	spec_free(load_ok("name: x\ntarget: {driver: engram, space: bench_2-a}\n"));
	load_bad("name: x\ntarget: {driver: engram, space: Bench}\n", "t.yaml:2:33", "target.space",
		 "is not a name engram accepts", "3-64 characters of [a-z0-9_-]");
	load_bad("name: x\ntarget: {driver: engram, space: ab}\n", "t.yaml:2:33", "target.space", "not a name", NULL);
}

Test(target_spec, vector_dim_the_driver_takes)
{
	/* embed.dim */
	load_bad("name: x\ntarget: {driver: engram}\nsteps:\n  corpus: {source: sample}\n  embed: {dim: 384}\n"
		 "  ingest: {}\n",
		 "t.yaml:5:16", "steps.embed.dim", "driver engram takes only 768-d vectors, got 384", NULL);
	/* random centroids */
	load_bad("name: x\ntarget: {driver: engram}\nsteps:\n  centroids: {from: random, dim: 64}\n"
		 "  synthetic: {count: 10}\n  ingest: {}\n",
		 "t.yaml:4:34", "steps.centroids.dim", "takes only 768-d vectors, got 64", "another driver");
	/* 768 is Engram's; other drivers take other dims */
	spec_free(load_ok("name: x\ntarget: {driver: engram}\nsteps:\n  centroids: {from: random, dim: 768}\n"
			  "  synthetic: {count: 10}\n  ingest: {}\n"));
	spec_free(load_ok("name: x\ntarget: {driver: chroma}\nsteps:\n  centroids: {from: random, dim: 64}\n"
			  "  synthetic: {count: 10}\n  ingest: {}\n"));
	spec_free(load_ok("name: x\ntarget: {driver: embedded}\nsteps:\n  corpus: {source: sample}\n"
			  "  embed: {dim: 32}\n  ingest: {}\n"));
	/* a vector-file corpus: the dim is the file's, known only when read */
	spec_free(load_ok("name: x\ntarget: {driver: engram}\nsteps:\n  corpus: {source: npy, path: v.npy}\n"
			  "  ingest: {}\n"));
}

Test(target_spec, unknown_drivers_and_keys_a_driver_does_not_take)
{
	load_bad("name: x\ntarget: {driver: chromadb}\n", "t.yaml:2:18", "target.driver",
		 "unknown value 'chromadb' (expected one of: engram, chroma, embedded, pgvector)", "did you mean 'chroma'");
	load_bad("name: x\ntarget: {driver: engram, collection: c1x}\n", "t.yaml:2:38", "target.collection",
		 "only used with driver chroma; remove it", NULL);
	load_bad("name: x\ntarget: {driver: chroma, space: abc}\n", "t.yaml:2:33", "target.space",
		 "only used with driver engram; remove it", NULL);
	load_bad("name: x\ntarget: {driver: engram, hnsw: {space: l2}}\n", "t.yaml:2:32", "target.hnsw",
		 "only used with driver chroma, embedded or pgvector", NULL);
	load_bad("name: x\ntarget: {driver: embedded, hnsw: {ef_search: 8}}\n", "t.yaml:2:46",
		 "target.hnsw.ef_search", "only used with driver chroma or pgvector", NULL);
	load_bad("name: x\ntarget: {driver: embedded, timeout: 5s}\n", "t.yaml:2:37", "target.timeout",
		 "only used with driver engram, chroma or pgvector", NULL);
	/* the spec layer alone takes any driver: the name is a driver fact */
	struct err e = ERR_INIT;
	struct spec *s = NULL;
	const char *y = "name: x\ntarget: {driver: chromadb}\n";
	cr_assert_eq(spec_load_string(y, strlen(y), "t.yaml", &s, &e), 0, "%s", e.msg);
	cr_assert_eq(target_spec_resolve(s, &e), -1);
	cr_assert_not_null(strstr(e.msg, "t.yaml:2:18: target.driver: unknown value"), "%s", e.msg);
	spec_free(s);
}

/* ---- defaults and the canonical form ------------------------------------------- */

/* The canonical forms are those the spec layer gave when it held the
 * driver rules (so digests do not move). */
#define HEAD "{\"description\":\"\",\"name\":\"x\",\"seed\":42,\"steps\":{},\"target\":"

Test(target_spec, driver_defaults_and_left_out_keys)
{
	struct buf b;
	buf_init(&b, 0);
	struct spec *s = load_ok("name: x\ntarget: {driver: engram}\n");
	cr_assert_str_eq(s->target.url, "http://localhost:7432");
	cr_assert_str_eq(s->target.space, "default");
	cr_assert_null(s->target.collection);
	cr_assert_str_eq(target_spec_namespace(s), "default");
	cr_assert_eq(spec_canonical(s, &b, NULL), 0);
	cr_assert_str_eq(b.data, HEAD "{\"driver\":\"engram\",\"space\":\"default\","
				 "\"spaces\":1,\"timeout\":\"30s\",\"url\":\"http://localhost:7432\"}}\n");
	spec_free(s);

	buf_reset(&b);
	s = load_ok("name: x\ntarget: {driver: chroma, url: \"http://h:1\"}\n");
	cr_assert_str_eq(s->target.url, "http://h:1");
	cr_assert_str_eq(target_spec_namespace(s), "engrave");
	cr_assert_eq(spec_canonical(s, &b, NULL), 0);
	cr_assert_str_eq(b.data, HEAD "{\"collection\":\"engrave\",\"driver\":\"chroma\","
				 "\"hnsw\":{\"ef_construction\":200,\"ef_search\":64,\"m\":16,\"space\":\"cosine\"},"
				 "\"timeout\":\"30s\",\"url\":\"http://h:1\"}}\n");
	spec_free(s);

	buf_reset(&b);
	s = load_ok("name: x\ntarget: {driver: embedded}\n");
	cr_assert_null(s->target.url);
	cr_assert_null(target_spec_namespace(s));
	cr_assert_eq(spec_canonical(s, &b, NULL), 0);
	cr_assert_str_eq(b.data, HEAD "{\"driver\":\"embedded\","
				 "\"hnsw\":{\"space\":\"cosine\"}}}\n");
	/* resolving twice changes nothing */
	struct err e = ERR_INIT;
	cr_assert_eq(target_spec_resolve(s, &e), 0);
	buf_reset(&b);
	cr_assert_eq(spec_canonical(s, &b, NULL), 0);
	cr_assert_str_eq(b.data, HEAD "{\"driver\":\"embedded\",\"hnsw\":{\"space\":\"cosine\"}}}\n");
	spec_free(s);
	buf_release(&b);

	/* no target section: nothing to resolve */
	s = load_ok("name: x\n");
	cr_assert_null(target_spec_namespace(s));
	spec_free(s);
}

/* Every shipped spec keeps its digest (computed before the driver facts
 * moved out of src/spec/). */
Test(target_spec, shipped_digests_are_unchanged)
{
	static const char *const want[][2] = {
		{ "experiments/m17_1m_hybrid.yaml", "7f60d014500e63cf256cacef6b564fc07641eb1df10cedbd19fcf2022baea90c" },
		/* changed on purpose: a queries step, std_dev 0.2 (Engram's dedup), no space: default */
		{ "experiments/m17_baseline_1k.yaml", "559f971d8467e161624e53e17325a2ad17d0c97e839d580e575537462c3d2b3c" },
		{ "experiments/quickstart.yaml", "72eac68e22b21a82fed5a66d4a56711d4840120a74a830e9ef5eed0fe708d3be" },
		/* changed on purpose: a queries step for its recalls */
		{ "tests/specs/good/chroma-sweep.yaml", "95f8d8337df59694ae2ecd05ff8c40ceacb0809bfbfca9310ec770068d8ac614" },
		{ "tests/specs/good/minimal.yaml", "facae459b55422b3fb520bc479c8056d4bc99385e20ed55ef7e74da8099e10e2" },
		{ "tests/specs/good/vectors-ramp.yaml", "5e3736e41ff56a01e715d2b9501d3d6cd30f2bd96430204c8bf8fbb11792f041" },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", test_root(), want[i][0]);
		struct spec *s;
		struct err e = ERR_INIT;
		cr_assert_eq(target_spec_load_file(path, &s, &e), 0, "%s: %s", want[i][0], e.msg);
		struct digest d;
		char hex[DIGEST_HEX_LEN + 1];
		spec_digest(s, &d);
		digest_to_hex(&d, hex);
		cr_expect_str_eq(hex, want[i][1], "%s changed its digest", want[i][0]);
		spec_free(s);
	}
}

/* ---- the machine's memory ------------------------------------------------------- */

#define GiB (1024ULL * 1024 * 1024)

/* Loaded and resolved, but not checked against this machine's RAM. */
static struct spec *load_unchecked(const char *yaml)
{
	struct err e = ERR_INIT;
	struct spec *s = NULL;
	cr_assert_eq(spec_load_string(yaml, strlen(yaml), "t.yaml", &s, &e), 0, "%s", e.msg);
	cr_assert_eq(target_spec_resolve(s, &e), 0, "%s", e.msg);
	return s;
}

/* What a step holds, against a given amount of RAM: refused with the key of
 * its largest part and file:line:col, before anything runs. */
static void mem_bad(const char *yaml, uint64_t ram, const char *pos, const char *path, const char *reason)
{
	struct spec *s = load_unchecked(yaml);
	struct err e = ERR_INIT;
	cr_assert_eq(target_spec_check_memory(s, ram, &e), -1, "fits in %llu bytes:\n%s", (unsigned long long)ram,
		     yaml);
	cr_assert_eq(e.cls, ERR_SPEC, "%s", e.msg);
	cr_assert(strncmp(e.msg, pos, strlen(pos)) == 0, "wanted position %s in: %s", pos, e.msg);
	char want[200];
	snprintf(want, sizeof(want), ": %s: ", path);
	cr_assert_not_null(strstr(e.msg, want), "wanted key '%s' in: %s", path, e.msg);
	cr_assert_not_null(strstr(e.msg, reason), "wanted '%s' in: %s", reason, e.msg);
	cr_assert_not_null(strstr(e.hint, path), "the hint names the key: %s", e.hint);
	spec_free(s);
}

static void mem_ok(const char *yaml, uint64_t ram)
{
	struct spec *s = load_unchecked(yaml);
	struct err e = ERR_INIT;
	cr_assert_eq(target_spec_check_memory(s, ram, &e), 0, "%s", e.msg);
	spec_free(s);
}

Test(target_mem, queries_count_against_ram)
{
	/* 10M queries x 256 floats + ids: about 9.6 GiB */
	const char *y = "name: q\nsteps:\n  centroids: {from: random, k: 4, dim: 256}\n"
			"  synthetic: {count: 1000}\n  queries: {count: 10000000, source: synthetic}\n";
	mem_ok(y, 16 * GiB);
	mem_bad(y, 8 * GiB, "t.yaml:5:20", "steps.queries.count",
		"the queries step would hold at least 9.6 GiB in memory (10000000 queries x 256 floats), more than the 8.0 GiB");
}

Test(target_mem, centroids_k_times_dim)
{
	mem_bad("name: c\nsteps:\n  centroids: {k: 1e6, from: random, dim: 65536}\n", 64 * GiB, "t.yaml:3:18",
		"steps.centroids.k", "the centroids step would hold at least 244.");
	/* k-means keeps three copies of the centres */
	mem_bad("name: c\nsteps:\n  corpus: {source: sample, limit: 2000000}\n  embed: {dim: 1024}\n"
		"  centroids: {k: 1000000}\n",
		8 * GiB, "t.yaml:5:18", "steps.centroids.k", "1000000 centres x 1024 floats, 3 copies");
}

Test(target_mem, groundtruth_queries_times_k)
{
	mem_bad("name: g\nsteps:\n  centroids: {from: random, k: 4, dim: 8}\n  synthetic: {count: 20000}\n"
		"  queries: {count: 10000000, source: synthetic}\n  groundtruth: {k: 10000}\n",
		64 * GiB, "t.yaml:6:20", "steps.groundtruth.k", "top-10000 of 10000000 queries");
}

Test(target_mem, loadtest_requests_from_the_schedule)
{
	const char *y = "name: l\ntarget: {driver: embedded}\nsteps:\n  centroids: {from: random, k: 4, dim: 8}\n"
			"  loadtest:\n    duration: 1h\n    arrival: {rate: 1000000}\n    mix: {store: 1, recall: 0, search: 0}\n";
	mem_bad(y, 64 * GiB, "t.yaml:6:15", "steps.loadtest.duration", "3600000000 requests with top-10 hits");
	/* a sweep: its largest phase counts */
	mem_bad("name: l\ntarget: {driver: embedded}\nsteps:\n  centroids: {from: random, k: 4, dim: 8}\n"
		"  loadtest:\n    duration: 1h\n    rates: [10, 1000000]\n    mix: {store: 1, recall: 0, search: 0}\n",
		64 * GiB, "t.yaml:7:12", "steps.loadtest.rates", "3600000000 requests");
	/* more than the scheduler takes at all: its error, at the key */
	struct err e = ERR_INIT;
	struct spec *s = NULL;
	const char *huge = "name: l\ntarget: {driver: embedded}\nsteps:\n  centroids: {from: random, k: 4, dim: 8}\n"
			   "  loadtest: {duration: 1000000h, arrival: {rate: 1e7}, mix: {search: 0}}\n";
	cr_assert_eq(target_spec_load_string(huge, strlen(huge), "t.yaml", &s, &e), -1);
	cr_assert(strstr(e.msg, "t.yaml:5:") && strstr(e.msg, "steps.loadtest.duration: loadtest:") &&
		  strstr(e.msg, "too many"), "%s", e.msg);
}

Test(target_mem, shipped_specs_fit_in_a_small_machine)
{
	static const char *const specs[] = { "experiments/m17_1m_hybrid.yaml", "experiments/m17_baseline_1k.yaml",
					     "experiments/quickstart.yaml" };
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", test_root(), specs[i]);
		struct spec *s;
		struct err e = ERR_INIT;
		cr_assert_eq(target_spec_load_file(path, &s, &e), 0, "%s: %s", specs[i], e.msg);
		cr_expect_eq(target_spec_check_memory(s, 4 * GiB, &e), 0, "%s: %s", specs[i], e.msg);
		spec_free(s);
	}
}

Test(target_mem, stored_specs_are_not_checked)
{
	/* a spec that ran on a bigger machine still loads from its run record */
	const char *y = "name: q\nsteps:\n  centroids: {from: random, k: 4, dim: 8}\n"
			"  synthetic: {count: 100}\n  queries: {count: 1e12, source: synthetic}\n";
	struct spec *s = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(target_spec_load_string(y, strlen(y), "t.yaml", &s, &e), -1, "this machine has 36 TiB?");
	cr_assert(strstr(e.msg, "steps.queries.count: the queries step would hold at least 36.4 TiB"), "%s", e.msg);
	cr_assert_eq(target_spec_load_stored(y, strlen(y), "RUN", &s, &e), 0, "%s", e.msg);
	spec_free(s);
}

/* ---- the key reference ----------------------------------------------------------- */

Test(target_spec, keys_doc_takes_the_drivers_facts_from_the_table)
{
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(target_spec_keys_doc(&b, 1, NULL), 0);
	static const char *const rows[] = {
		"| `target.driver` | one of engram, chroma, embedded, pgvector | required |",
		"| `target.url` | string | engram: http://localhost:7432, chroma: http://localhost:8000, pgvector: "
		"postgres://postgres@127.0.0.1:5432/postgres | base URL of the server (pgvector: a postgres:// URI; its "
		"password only from PGPASSWORD or ~/.pgpass) (only with driver engram, chroma or pgvector) |",
		"| `target.space` | string | \"default\" |",
		"(only with driver engram) |",
		"| `target.collection` | string | \"engrave\" | collection name (only with driver chroma) |",
		"authentication (only with driver engram or chroma)",
		"index parameters (only with driver chroma, embedded or pgvector)",
		"| `target.hnsw.space` | one of cosine, l2, ip | cosine | similarity: cosine, l2 or ip (inner product) |",
		"| `target.hnsw.m` | integer | 16 | HNSW max neighbours per node (only with driver chroma or pgvector) |",
		NULL,
	};
	for (int i = 0; rows[i]; i++)
		cr_assert_not_null(strstr(b.data, rows[i]), "missing: %s", rows[i]);
	buf_reset(&b);
	cr_assert_eq(target_spec_keys_doc(&b, 0, NULL), 0);
	cr_assert_not_null(strstr(b.data, "target.driver  (one of engram|chroma|embedded|pgvector, required)"), "%.600s", b.data);
	buf_release(&b);
}
