/*
 * test_spec.c — the spec layer: parsing, validation errors, the digest,
 * step params, the key reference, the TOML reader and scenario import.
 *
 * Error tests assert the three parts of every message: file:line:col, the
 * key path and the reason. Digest tests use tables of equivalent and
 * non-equivalent texts around one full spec.
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
#include "../lib/testutil.h"

static struct spec *load_ok(const char *yaml)
{
	struct err e = ERR_INIT;
	struct spec *s = NULL;
	int rc = spec_load_string(yaml, strlen(yaml), "t.yaml", &s, &e);
	cr_assert_eq(rc, 0, "spec did not load: %s\n--- spec:\n%s", e.msg, yaml);
	cr_assert_not_null(s);
	return s;
}

/* The driver-dependent part (defaults, which keys apply) is the targets
 * layer's: load as every program does. */
static struct spec *load_resolved(const char *yaml)
{
	struct err e = ERR_INIT;
	struct spec *s = NULL;
	int rc = target_spec_load_string(yaml, strlen(yaml), "t.yaml", &s, &e);
	cr_assert_eq(rc, 0, "spec did not load: %s\n--- spec:\n%s", e.msg, yaml);
	cr_assert_not_null(s);
	return s;
}

static void digest_of(const char *yaml, struct digest *d)
{
	struct spec *s = load_ok(yaml);
	spec_digest(s, d);
	spec_free(s);
}

/* ---- the base spec: every step, most keys ------------------------------- */

static const char base[] =
	"name: full\n"
	"description: every step\n"
	"seed: 7\n"
	"target:\n"
	"  driver: engram\n"
	"  url: http://localhost:7432\n"
	"  space: bench\n"
	"  auth: {bearer_env: ENGRAM_API_KEY}\n"
	"steps:\n"
	"  corpus:\n"
	"    source: mediawiki\n"
	"    path: data/wiki.xml.bz2\n"
	"    limit: 500\n"
	"    min_chars: 80\n"
	"  embed:\n"
	"    embedder: http\n"
	"    url: http://localhost:8080/v1/embeddings\n"
	"    model: all-mpnet-base-v2\n"
	"    dim: 768\n"
	"  centroids: {k: 20, algorithm: minibatch, batch_size: 256, max_iter: 50}\n"
	"  synthetic:\n"
	"    count: 5000\n"
	"    std_dev: 0.2\n"
	"    confidence: {base: 0.6, jitter: 0.2}\n"
	"  queries: {count: 100, source: heldout}\n"
	"  groundtruth: {k: 10}\n"
	"  ingest: {sets: [corpus, synthetic], concurrency: 16, batch_size: 250}\n"
	"  loadtest:\n"
	"    duration: 30s\n"
	"    warmup: 5s\n"
	"    arrival: {pattern: constant, rate: 500}\n"
	"    mix: {store: 0.2, recall: 0.7, search: 0.1}\n"
	"    recall: {k: 10, threshold: 0.6}\n"
	"checks:\n"
	"  p99_ms: \"< 50\"\n"
	"  throughput: \"> 400\"\n"
	"  baseline: {ref: m17-1k, p99_ms: \"+5%\"}\n";

/* Texts that must have the base's digest. */
static const char *const equivalent[] = {
	/* reordered keys at every level, comments, other quoting and styles */
	"# a comment\n"
	"checks:\n"
	"  baseline:\n"
	"    p99_ms: '+5%'\n"
	"    ref: \"m17-1k\"\n"
	"  throughput: '> 400'   # trailing comment\n"
	"  p99_ms: \"<50\"\n"
	"steps:\n"
	"  loadtest:\n"
	"    recall: {threshold: 0.60, k: 10}\n"
	"    mix: {search: 0.1, recall: 0.7, store: 0.2}\n"
	"    arrival: {rate: 500.0, pattern: constant}\n"
	"    warmup: 5000ms\n"
	"    duration: \"30s\"\n"
	"  ingest: {batch_size: 250, concurrency: 16, sets: [corpus, synthetic]}\n"
	"  groundtruth: {k: 10}\n"
	"  queries: {source: heldout, count: 100}\n"
	"  synthetic: {confidence: {jitter: 0.2, base: 0.6}, std_dev: 0.2, count: 5000}\n"
	"  centroids:\n"
	"    max_iter: 50\n"
	"    batch_size: 256\n"
	"    algorithm: minibatch\n"
	"    k: 20\n"
	"  embed: {dim: 768, model: all-mpnet-base-v2, url: \"http://localhost:8080/v1/embeddings\", embedder: http}\n"
	"  corpus: {min_chars: 80, limit: 500, path: 'data/wiki.xml.bz2', source: mediawiki}\n"
	"target: {auth: {bearer_env: ENGRAM_API_KEY}, space: bench, url: 'http://localhost:7432', driver: engram}\n"
	"seed: 0x7\n"
	"description: \"every step\"\n"
	"name: \"full\"\n",
	NULL, /* filled in: base + explicit defaults */
};

/* Defaults written out explicitly, inserted into the base. */
static const char explicit_defaults[] =
	"name: full\n"
	"description: every step\n"
	"seed: 7\n"
	"target:\n"
	"  driver: engram\n"
	"  url: http://localhost:7432\n"
	"  space: bench\n"
	"  spaces: 1\n"
	"  timeout: 30s\n"
	"  auth: {bearer_env: ENGRAM_API_KEY}\n"
	"steps:\n"
	"  corpus:\n"
	"    source: mediawiki\n"
	"    path: data/wiki.xml.bz2\n"
	"    limit: 500\n"
	"    min_chars: 80\n"
	"    text: title+lead\n"
	"    lead_chars: 1000\n"
	"  embed:\n"
	"    embedder: http\n"
	"    url: http://localhost:8080/v1/embeddings\n"
	"    model: all-mpnet-base-v2\n"
	"    api: openai\n"
	"    dim: 768\n"
	"    batch_size: 64\n"
	"    concurrency: 4\n"
	"    retries: 5\n"
	"    timeout: 30s\n"
	"  centroids: {k: 20, algorithm: minibatch, batch_size: 256, max_iter: 50, tol: 0.0001,\n"
	"              from: store, init: kmeans++}\n"
	"  synthetic:\n"
	"    count: 5000\n"
	"    std_dev: 0.2\n"
	"    normalize: true\n"
	"    id_prefix: syn-\n"
	"    confidence: {base: 0.6, jitter: 0.2}\n"
	"  queries: {count: 100, source: heldout, noise: 0}\n"
	"  groundtruth: {k: 10}\n"
	"  ingest: {sets: [corpus, synthetic], concurrency: 16, batch_size: 250, retries: 5,\n"
	"           timeout: 30s, verify_sample: 100}\n"
	"  loadtest:\n"
	"    duration: 30s\n"
	"    warmup: 5s\n"
	"    arrival: {pattern: constant, rate: 500}\n"
	"    max_in_flight: 256\n"
	"    lateness_bound: 10ms\n"
	"    mix: {store: 0.2, recall: 0.7, search: 0.1}\n"
	"    recall: {k: 10, threshold: 0.6, queries: 1000}\n"
	"    search: {k: 10}\n"
	"    concurrency: []\n"
	"    rates: []\n"
	"    slo_p99_ms: 0\n"
	"    repeat: 1\n"
	"checks:\n"
	"  p99_ms: \"< 50\"\n"
	"  throughput: \"> 400\"\n"
	"  baseline: {ref: m17-1k, p99_ms: \"+5%\"}\n";

Test(spec_digest, equivalent_texts_share_the_digest)
{
	struct digest d0, d;
	digest_of(base, &d0);
	for (int i = 0; equivalent[i]; i++) {
		digest_of(equivalent[i], &d);
		cr_assert(digest_equal(&d0, &d), "equivalent text %d has another digest", i);
	}
	digest_of(explicit_defaults, &d);
	cr_assert(digest_equal(&d0, &d), "writing the defaults changed the digest");
}

Test(spec_digest, canonical_form_is_stable_and_sorted)
{
	struct spec *s = load_ok(base);
	struct buf a, b;
	buf_init(&a, 0);
	buf_init(&b, 0);
	cr_assert_eq(spec_canonical(s, &a, NULL), 0);
	cr_assert_eq(spec_canonical(s, &b, NULL), 0);
	cr_assert_str_eq(a.data, b.data);
	/* sorted top level, secrets only by name, defaults filled */
	cr_assert(strstr(a.data, "{\"checks\":") == a.data, "%s", a.data);
	cr_assert_not_null(strstr(a.data, "\"bearer_env\":\"ENGRAM_API_KEY\""));
	cr_assert_not_null(strstr(a.data, "\"lateness_bound\":\"10ms\""));
	cr_assert_not_null(strstr(a.data, "\"p99_ms\":\"< 50\""));
	cr_assert_not_null(strstr(a.data, "\"p99_ms\":\"+5%\""));
	cr_assert_eq(a.data[a.len - 1], '\n');
	/* the digest is SHA-256 of exactly those bytes */
	struct digest d1, d2;
	hash_bytes(a.data, a.len, &d1);
	spec_digest(s, &d2);
	cr_assert(digest_equal(&d1, &d2));
	/* the YAML rendering loads back to the same digest */
	buf_reset(&b);
	cr_assert_eq(spec_canonical_yaml(s, &b, NULL), 0);
	struct digest d3;
	digest_of(b.data, &d3);
	cr_assert(digest_equal(&d1, &d3), "show output does not round-trip:\n%s", b.data);
	buf_release(&a);
	buf_release(&b);
	spec_free(s);
}

/* Each change of one value must change the digest, and no two agree. */
static const char *const changes[][2] = {
	{ "name: full", "name: full2" },
	{ "description: every step", "description: every steps" },
	{ "seed: 7", "seed: 8" },
	{ "url: http://localhost:7432", "url: http://localhost:7433" },
	{ "space: bench", "space: bench2" },
	{ "bearer_env: ENGRAM_API_KEY", "bearer_env: OTHER_KEY" },
	{ "path: data/wiki.xml.bz2", "path: data/wiki2.xml.bz2" },
	{ "limit: 500", "limit: 501" },
	{ "min_chars: 80", "min_chars: 81" },
	{ "model: all-mpnet-base-v2", "model: all-MiniLM-L6-v2" },
	{ "dim: 768", "dim: 384" },
	{ "k: 20", "k: 21" },
	{ "algorithm: minibatch, batch_size: 256", "algorithm: lloyd" },
	{ "batch_size: 256", "batch_size: 512" },
	{ "max_iter: 50", "max_iter: 51" },
	{ "count: 5000", "count: 5001" },
	{ "std_dev: 0.2", "std_dev: 0.25" },
	{ "base: 0.6", "base: 0.5" },
	{ "jitter: 0.2", "jitter: 0.3" },
	{ "count: 100,", "count: 101," },
	{ "source: heldout", "source: corpus" },
	{ "groundtruth: {k: 10}", "groundtruth: {k: 11}" },
	{ "sets: [corpus, synthetic]", "sets: [synthetic, corpus]" },
	{ "concurrency: 16", "concurrency: 17" },
	{ "batch_size: 250", "batch_size: 251" },
	{ "duration: 30s", "duration: 31s" },
	{ "warmup: 5s", "warmup: 6s" },
	{ "rate: 500", "rate: 501" },
	{ "pattern: constant, rate: 500", "pattern: poisson, rate: 500" },
	{ "store: 0.2", "store: 0.3" },
	{ "recall: 0.7", "recall: 0.6" },
	{ "search: 0.1", "search: 0.2" },
	{ "threshold: 0.6", "threshold: 0.65" },
	{ "\"< 50\"", "\"<= 50\"" },
	{ "\"< 50\"", "\"< 51\"" },
	{ "\"> 400\"", "\"> 401\"" },
	{ "ref: m17-1k", "ref: m17-2k" },
	{ "\"+5%\"", "\"+6%\"" },
	{ "  groundtruth: {k: 10}\n", "" },                  /* drop a step */
	{ "  throughput: \"> 400\"\n", "" },                 /* drop a check */
	{ "    warmup: 5s\n", "    warmup: 5s\n    max_in_flight: 100\n" },
	{ "    warmup: 5s\n", "    warmup: 5s\n    repeat: 3\n" },
};

static char *replace_once(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	cr_assert_not_null(at, "'%s' is not in the base spec", from);
	size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
	char *out = malloc(n);
	snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	return out;
}

Test(spec_digest, every_value_change_changes_the_digest)
{
	size_t n = sizeof(changes) / sizeof(changes[0]);
	struct digest *d = calloc(n + 1, sizeof(*d));
	digest_of(base, &d[0]);
	for (size_t i = 0; i < n; i++) {
		char *t = replace_once(base, changes[i][0], changes[i][1]);
		digest_of(t, &d[i + 1]);
		free(t);
		for (size_t j = 0; j <= i; j++)
			cr_assert(!digest_equal(&d[i + 1], &d[j]), "change '%s' -> '%s' collides with #%zu",
				  changes[i][0], changes[i][1], j);
	}
	free(d);
}

/* ---- validation errors -------------------------------------------------- */

struct bad {
	const char *yaml;
	const char *pos;    /* "t.yaml:L:C" */
	const char *path;   /* key path in the message, or NULL */
	const char *reason; /* part of the reason */
	const char *hint;   /* part of the hint, or NULL */
};

#define TGT "target: {driver: embedded}\n"

static const struct bad bads[] = {
	/* unknown key / step, with suggestions */
	{ "name: x\nsteps:\n  synthetc: {count: 5}\n", "t.yaml:3:3", "steps.synthetc", "unknown step",
	  "did you mean 'synthetic'" },
	{ "name: x\nsteps:\n  centroids: {from: random}\n  synthetic: {count: 5, std_devv: 1}\n", "t.yaml:4:25",
	  "steps.synthetic.std_devv", "unknown key", "did you mean 'std_dev'" },
	{ "name: x\nseeed: 1\n", "t.yaml:2:1", "seeed", "unknown key", "did you mean 'seed'" },
	/* wrong types */
	{ "name: x\nseed: abc\n", "t.yaml:2:7", "seed", "expected a whole number", NULL },
	{ "name: x\nseed: \"5\"\n", "t.yaml:2:7", "seed", "expected a whole number", NULL },
	{ "name: x\nsteps:\n  centroids: {from: random}\n  synthetic: {count: 5, normalize: yes}\n", "t.yaml:4:36",
	  "steps.synthetic.normalize", "expected true or false", "write true or false" },
	{ "name: x\nsteps: [corpus]\n", "t.yaml:2:8", "steps", "expected a map", NULL },
	{ "name: [a, b]\n", "t.yaml:1:7", "name", "expected a string", NULL },
	{ "name: x\n" TGT "steps:\n  loadtest: {rates: 5}\n", "t.yaml:4:21", "steps.loadtest.rates",
	  "expected a list", NULL },
	{ "name: x\n" TGT "steps:\n  loadtest: {rates: [10, fast]}\n", "t.yaml:4:26", "steps.loadtest.rates[1]",
	  "expected a number", NULL },
	{ "name: x\n" TGT "steps:\n  loadtest: {rates: [10, 20], repeat: 3}\n", "t.yaml:4:39", "steps.loadtest.repeat",
	  "runs each phase once", "a spec without rates" },
	{ "name: x\n" TGT "steps:\n  loadtest: {repeat: 0}\n", "t.yaml:4:22", "steps.loadtest.repeat",
	  "at least 1", NULL },
	{ "name: x\nsteps:\n  centroids: {from: random, k: 2.5}\n", "t.yaml:3:32", "steps.centroids.k",
	  "expected a whole number", NULL },
	/* negative counts and out-of-range values */
	{ "name: x\nsteps:\n  centroids: {from: random}\n  synthetic: {count: -5}\n", "t.yaml:4:22",
	  "steps.synthetic.count", "must not be negative", NULL },
	{ "name: x\nsteps:\n  centroids: {from: random}\n  synthetic: {count: 0}\n", "t.yaml:4:22",
	  "steps.synthetic.count", "must be at least 1", NULL },
	{ "name: x\nsteps:\n  centroids: {from: random}\n  synthetic: {count: 5, std_dev: -0.1}\n", "t.yaml:4:34",
	  "steps.synthetic.std_dev", "must not be negative", NULL },
	{ "name: x\nsteps:\n  centroids: {from: random}\n  synthetic: {count: 5, confidence: {base: 1.5}}\n",
	  "t.yaml:4:44", "steps.synthetic.confidence.base", "must be at most 1", NULL },
	{ "name: x\nsteps:\n  centroids: {from: random}\n  synthetic: {count: 5, confidence: {base: 0.9, jitter: 0.2}}\n",
	  "t.yaml:4:37", "steps.synthetic.confidence", "exceeds 1", NULL },
	{ "name: x\nseed: -5\n", "t.yaml:2:7", "seed", "must not be negative", NULL },
	{ "name: x\n" TGT "steps:\n  loadtest: {arrival: {rate: 0}}\n", "t.yaml:4:30",
	  "steps.loadtest.arrival.rate", "greater than 0", NULL },
	{ "name: x\nsteps:\n  corpus: {source: sample, limit: 5}\n  embed: {}\n  centroids: {k: 10}\n", "t.yaml:5:18",
	  "steps.centroids.k", "more than the corpus", NULL },
	{ "name: x\n" TGT "steps:\n  centroids: {from: random}\n  synthetic: {count: 5}\n  queries: {source: synthetic}\n"
	  "  groundtruth: {k: 6}\n",
	  "t.yaml:7:20", "steps.groundtruth.k", "more than the 5 vectors", NULL },
	{ "name: x\nsteps:\n  corpus: {source: sample, limit: 10}\n  embed: {}\n  queries: {source: heldout, count: 10}\n",
	  "t.yaml:5:21", "steps.queries", "it needs steps.centroids", "add centroids" },
	/* mix weights */
	{ "name: x\n" TGT "steps:\n  loadtest: {mix: {store: -1}}\n", "t.yaml:4:27", "steps.loadtest.mix.store",
	  "must not be negative", NULL },
	{ "name: x\n" TGT "steps:\n  loadtest: {mix: {store: 0, recall: 0, search: 0}}\n", "t.yaml:4:19",
	  "steps.loadtest.mix", "all weights are 0", NULL },
	/* enums */
	{ "name: x\ntarget: {driver: engrm}\n", "t.yaml:2:18", "target.driver", "unknown value 'engrm'",
	  "did you mean 'engram'" },
	{ "name: x\n" TGT "steps:\n  loadtest: {arrival: {pattern: bursty}}\n", "t.yaml:4:33",
	  "steps.loadtest.arrival.pattern", "unknown value 'bursty'", NULL },
	/* durations */
	{ "name: x\n" TGT "steps:\n  loadtest: {duration: 10x}\n", "t.yaml:4:24", "steps.loadtest.duration",
	  "bad duration '10x'", "500ms, 60s, 2m" },
	{ "name: x\n" TGT "steps:\n  loadtest: {duration: 0s}\n", "t.yaml:4:24", "steps.loadtest.duration",
	  "longer than 0", NULL },
	{ "name: x\n" TGT "steps:\n  loadtest: {duration: 10s, warmup: 10s}\n", "t.yaml:4:37",
	  "steps.loadtest.warmup", "shorter than duration", NULL },
	/* required keys and keys that do not apply */
	{ "seed: 1\n", "t.yaml:1:1", "name", "required key missing", NULL },
	{ "name: x\nsteps:\n  centroids: {from: random}\n  synthetic: {std_dev: 0.1}\n", "t.yaml:4:14",
	  "steps.synthetic.count", "required key missing", NULL },
	{ "name: x\nsteps:\n  corpus: {source: mediawiki}\n", "t.yaml:3:11", "steps.corpus.path",
	  "required key missing", NULL },
	{ "name: x\ntarget: {driver: embedded, url: \"http://x\"}\n", "t.yaml:2:33", "target.url",
	  "only used with driver engram, chroma or pgvector", NULL },
	{ "name: x\n" TGT "steps:\n  loadtest: {arrival: {pattern: constant, burst_rate: 5}}\n", "t.yaml:4:55",
	  "steps.loadtest.arrival.burst_rate", "only used with pattern periodic_burst", NULL },
	{ "name: x\nsteps:\n  corpus: {source: sample}\n  embed: {url: \"http://e\"}\n", "t.yaml:4:16",
	  "steps.embed.url", "only used with embedder http", NULL },
	/* step dependencies */
	{ "name: x\nsteps:\n  embed: {}\n", "t.yaml:3:10", "steps.embed", "needs steps.corpus", NULL },
	{ "name: x\nsteps:\n  centroids: {k: 3}\n", "t.yaml:3:14", "steps.centroids", "needs steps.embed", NULL },
	{ "name: x\nsteps:\n  centroids: {from: target}\n", "t.yaml:3:21", "steps.centroids.from",
	  "needs a target", NULL },
	{ "name: x\nsteps:\n  synthetic: {count: 5}\n", "t.yaml:3:14", "steps.synthetic", "needs steps.centroids",
	  NULL },
	{ "name: x\nsteps:\n  queries: {count: 5}\n", "t.yaml:3:12", "steps.queries", "needs corpus vectors", NULL },
	{ "name: x\nsteps:\n  corpus: {source: sample}\n  embed: {}\n  groundtruth: {}\n", "t.yaml:5:16",
	  "steps.groundtruth", "needs steps.queries", NULL },
	{ "name: x\nsteps:\n  corpus: {source: sample}\n  embed: {}\n  ingest: {}\n", "t.yaml:5:11", "steps.ingest",
	  "needs a target", NULL },
	{ "name: x\n" TGT "steps:\n  centroids: {from: random}\n  synthetic: {count: 5}\n  ingest: {sets: [corpus]}\n",
	  "t.yaml:6:18", "steps.ingest.sets", "set corpus needs corpus vectors", NULL },
	{ "name: x\n" TGT "steps:\n  ingest: {}\n", "t.yaml:4:11", "steps.ingest", "nothing to load", NULL },
	{ "name: x\nsteps:\n  loadtest: {}\n", "t.yaml:3:13", "steps.loadtest", "needs a target", NULL },
	{ "name: x\nsteps:\n  corpus: {source: npy, path: v.npy}\n  embed: {}\n", "t.yaml:4:10", "steps.embed",
	  "already holds vectors", NULL },
	/* checks */
	{ "name: x\n" TGT "steps:\n  loadtest: {}\nchecks: {p99: \"< 5\"}\n", "t.yaml:5:10", "checks.p99",
	  "unknown metric", "did you mean 'p99_ms'" },
	{ "name: x\n" TGT "steps:\n  loadtest: {}\nchecks: {p99_ms: \"5\"}\n", "t.yaml:5:18", "checks.p99_ms",
	  "expected a comparison", NULL },
	{ "name: x\n" TGT "steps:\n  loadtest: {}\nchecks: {baseline: {p99_ms: \"+5%\"}}\n", "t.yaml:5:20",
	  "checks.baseline.ref", "required key missing", NULL },
	{ "name: x\n" TGT "steps:\n  loadtest: {}\nchecks: {baseline: {ref: a, p99_ms: \"5%\"}}\n", "t.yaml:5:37",
	  "checks.baseline.p99_ms", "signed percentage", NULL },
	{ "name: x\nchecks: {p99_ms: \"< 5\"}\n", "t.yaml:2:9", "checks.p99_ms", "add steps.loadtest", NULL },
	/* values */
	{ "name: \"has space\"\n", "t.yaml:1:7", "name", "may only hold", NULL },
	{ "name: x\ntarget: {driver: engram, auth: {bearer_env: \"sk-abc123\"}}\n", "t.yaml:2:45",
	  "target.auth.bearer_env", "not an environment variable name", "NAME of a variable" },
	{ "name: x\ntarget: {driver: engram, url: \"localhost:7432\"}\n", "t.yaml:2:31", "target.url",
	  "not an http", NULL },
	/* YAML level */
	{ "name: x\nname: y\n", "t.yaml:2:1", NULL, "duplicate key 'name'", NULL },
	{ "name: x\n  bad: [\n", "t.yaml:", NULL, "invalid YAML", NULL },
	{ "", "t.yaml:1:1", NULL, "empty spec", NULL },
	{ "- a\n- b\n", "t.yaml:1:1", NULL, "must be a map", NULL },
	{ "name: x\n---\nname: y\n", "t.yaml:2:1", NULL, "more than one YAML document", NULL },
	{ "name: &a x\nseed: *b\n", "t.yaml:2:7", NULL, "unknown alias", NULL },
};

Test(spec_errors, each_kind_names_position_path_and_reason)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		struct err e = ERR_INIT;
		struct spec *s = (struct spec *)1;
		int rc = target_spec_load_string(b->yaml, strlen(b->yaml), "t.yaml", &s, &e);
		cr_expect_eq(rc, -1, "case %zu loaded but should fail:\n%s", i, b->yaml);
		if (rc == 0) {
			spec_free(s);
			continue;
		}
		cr_expect_null(s, "case %zu: *out must be NULL on error", i);
		cr_expect_eq(e.cls, ERR_SPEC, "case %zu: class %d (%s)", i, e.cls, e.msg);
		cr_expect(strncmp(e.msg, b->pos, strlen(b->pos)) == 0, "case %zu: wanted position %s in: %s", i,
			  b->pos, e.msg);
		if (b->path) {
			char want[200];
			snprintf(want, sizeof(want), ": %s: ", b->path);
			cr_expect_not_null(strstr(e.msg, want), "case %zu: wanted path '%s' in: %s", i, b->path, e.msg);
		}
		cr_expect_not_null(strstr(e.msg, b->reason), "case %zu: wanted '%s' in: %s", i, b->reason, e.msg);
		if (b->hint)
			cr_expect_not_null(strstr(e.hint, b->hint), "case %zu: wanted hint '%s', got '%s'", i, b->hint,
					   e.hint);
	}
}

Test(spec_errors, secrets_are_not_echoed)
{
	const char *y = "name: x\ntarget: {driver: engram, auth: {bearer_env: \"sk-live-123\"}}\n";
	struct err e = ERR_INIT;
	struct spec *s;
	cr_assert_eq(spec_load_string(y, strlen(y), "t.yaml", &s, &e), -1);
	cr_assert_null(strstr(e.msg, "sk-live"), "%s", e.msg);
}

Test(spec_errors, billion_laughs_fails_fast)
{
	/* 9^9 = 387M nodes once expanded; must be refused while parsing. */
	const char *y =
		"a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
		"name: x\n";
	struct err e = ERR_INIT;
	struct spec *s;
	long rss0 = test_peak_rss_kib();
	cr_assert_eq(spec_load_string(y, strlen(y), "lol.yaml", &s, &e), -1);
	cr_assert_not_null(strstr(e.msg, "billion laughs"), "%s", e.msg);
	cr_assert_not_null(strstr(e.msg, "lol.yaml:5:"), "should stop at the 5th level: %s", e.msg);
	/* nothing big was allocated (aliases are shared, not copied) */
	cr_assert_lt(test_peak_rss_kib() - rss0, 16 * 1024);
}

Test(spec_errors, alias_inside_a_valid_spec_is_fine_and_recursion_is_not)
{
	const char *ok = "name: x\ntarget: {driver: embedded}\nsteps:\n  loadtest:\n"
			 "    rates: &r [100, 200]\n    concurrency: [1, 2]\n";
	struct spec *s = load_ok(ok);
	cr_assert_eq(s->loadtest.n_rates, 2);
	cr_assert_eq(s->loadtest.rates[1], 200);
	spec_free(s);
	const char *rec = "name: x\nsteps: &s {loadtest: *s}\n";
	struct err e = ERR_INIT;
	cr_assert_eq(spec_load_string(rec, strlen(rec), "t.yaml", &s, &e), -1);
	cr_assert_not_null(strstr(e.msg, "alias"), "%s", e.msg);
}

Test(spec_errors, missing_file_is_err_missing)
{
	struct err e = ERR_INIT;
	struct spec *s;
	cr_assert_eq(spec_load_file("/nonexistent/x.yaml", &s, &e), -1);
	cr_assert_eq(e.cls, ERR_MISSING);
	cr_assert_not_null(strstr(e.msg, "/nonexistent/x.yaml"));
}

/* ---- typed fields, defaults, accessors ----------------------------------- */

Test(spec_fields, defaults_and_typed_values)
{
	struct spec *s = load_ok(base);
	cr_assert_str_eq(s->name, "full");
	cr_assert_eq(s->seed, 7);
	cr_assert(s->target.present);
	cr_assert_str_eq(s->target.driver, "engram");
	cr_assert_str_eq(s->target.auth_bearer_env, "ENGRAM_API_KEY");
	cr_assert_eq(s->target.timeout_ns, 30ULL * 1000000000ULL);
	cr_assert_eq(s->corpus.source, SPEC_SRC_MEDIAWIKI);
	cr_assert_eq(s->corpus.lead_chars, 1000);
	cr_assert_eq(s->corpus.text, SPEC_TEXT_TITLE_LEAD);
	cr_assert_eq(s->embed.embedder, SPEC_EMBEDDER_HTTP);
	cr_assert_eq(s->embed.api, SPEC_API_OPENAI);
	cr_assert_eq(s->embed.dim, 768);
	cr_assert_eq(s->centroids.algorithm, SPEC_KMEANS_MINIBATCH);
	cr_assert_eq(s->centroids.init, SPEC_INIT_KMEANSPP);
	cr_assert_float_eq(s->centroids.tol, 1e-4, 1e-12);
	cr_assert_eq(s->synthetic.normalize, 1);
	cr_assert_str_eq(s->synthetic.id_prefix, "syn-");
	cr_assert_float_eq(s->synthetic.confidence_base, 0.6, 1e-12);
	cr_assert_eq(s->ingest.n_sets, 2);
	cr_assert_eq(s->ingest.sets[0], SPEC_SET_CORPUS);
	cr_assert_eq(s->ingest.sets[1], SPEC_SET_SYNTHETIC);
	cr_assert_eq(s->loadtest.duration_ns, 30ULL * 1000000000ULL);
	cr_assert_eq(s->loadtest.warmup_ns, 5ULL * 1000000000ULL);
	cr_assert_eq(s->loadtest.lateness_bound_ns, 10ULL * 1000000ULL);
	cr_assert_eq(s->loadtest.arrival.pattern, SPEC_ARRIVAL_CONSTANT);
	cr_assert_float_eq(s->loadtest.arrival.rate, 500, 1e-9);
	cr_assert_eq(s->loadtest.max_in_flight, 256);
	cr_assert_eq(s->n_checks, 2);
	cr_assert_str_eq(s->checks[0].metric, "p99_ms"); /* sorted */
	cr_assert_eq(s->checks[0].op, SPEC_OP_LT);
	cr_assert_float_eq(s->checks[0].value, 50, 1e-9);
	cr_assert_eq(s->checks[1].op, SPEC_OP_GT);
	cr_assert(s->baseline.present);
	cr_assert_str_eq(s->baseline.ref, "m17-1k");
	cr_assert_eq(s->baseline.n_tol, 1);
	cr_assert_float_eq(s->baseline.tol[0].pct, 5, 1e-9);
	cr_assert_str_eq(spec_source_text(s), base);
	cr_assert_eq(spec_vector_dim(s), 768);
	spec_free(s);
}

Test(spec_fields, context_defaults)
{
	struct spec *s = load_resolved("name: c\ntarget: {driver: chroma}\nsteps:\n  corpus: {source: sample}\n"
				       "  embed: {dim: 64}\n  ingest: {}\n");
	cr_assert_str_eq(s->target.url, "http://localhost:8000");
	cr_assert_str_eq(s->target.collection, "engrave");
	cr_assert_eq(s->ingest.n_sets, 1);
	cr_assert_eq(s->ingest.sets[0], SPEC_SET_CORPUS);
	cr_assert_eq(spec_vector_dim(s), 64);
	spec_free(s);
	s = load_resolved("name: e\ntarget: {driver: embedded}\n");
	cr_assert_null(s->target.url);
	cr_assert_eq(spec_vector_dim(s), 0);
	spec_free(s);
	s = load_ok("name: x\nsteps:\n  centroids: {from: random, dim: 32}\n  synthetic: {count: 20}\n"
		    "  queries: {source: synthetic}\n  groundtruth:\n");
	cr_assert(spec_step_present(s, "groundtruth"));
	cr_assert_eq(s->groundtruth.k, 10);
	cr_assert_eq(spec_vector_dim(s), 32);
	spec_free(s);
}

Test(spec_fields, other_patterns_and_sweeps)
{
	struct spec *s = load_ok("name: b\ntarget: {driver: engram}\nsteps:\n  loadtest:\n"
				 "    arrival: {pattern: periodic_burst, base_rate: 10, burst_rate: 100,\n"
				 "              burst_duration: 500ms, burst_period: 2m}\n"
				 "    rates: [100, 200.5]\n    concurrency: [8, 16, 32]\n    slo_p99_ms: 20\n");
	cr_assert_eq(s->loadtest.arrival.pattern, SPEC_ARRIVAL_PERIODIC_BURST);
	cr_assert_eq(s->loadtest.arrival.burst_duration_ns, 500ULL * 1000000ULL);
	cr_assert_eq(s->loadtest.arrival.burst_period_ns, 120ULL * 1000000000ULL);
	cr_assert_eq(s->loadtest.n_rates, 2);
	cr_assert_float_eq(s->loadtest.rates[1], 200.5, 1e-9);
	cr_assert_eq(s->loadtest.n_concurrency, 3);
	cr_assert_eq(s->loadtest.concurrency[2], 32);
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(spec_canonical(s, &b, NULL), 0);
	cr_assert_not_null(strstr(b.data, "\"burst_period\":\"120s\""), "%s", b.data);
	cr_assert_not_null(strstr(b.data, "\"burst_duration\":\"500ms\""), "%s", b.data);
	cr_assert_null(strstr(b.data, "\"rate\":"), "rate does not apply to periodic_burst: %s", b.data);
	buf_release(&b);
	spec_free(s);
}

Test(spec_fields, step_params_and_presence)
{
	struct spec *s = load_ok(base);
	for (int i = 0; spec_step_names[i]; i++) /* every step but the runbook */
		cr_assert_eq(spec_step_present(s, spec_step_names[i]), strcmp(spec_step_names[i], "runbook") != 0, "%s",
			     spec_step_names[i]);
	cr_assert_eq(spec_step_present(s, "nope"), 0);
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(spec_step_params(s, "synthetic", &b, NULL), 0);
	cr_assert_str_eq(b.data, "{\"confidence\":{\"base\":0.6,\"jitter\":0.2},\"count\":5000,\"id_prefix\":\"syn-\","
				 "\"normalize\":true,\"std_dev\":0.2}");
	buf_reset(&b);
	struct err e = ERR_INIT;
	cr_assert_eq(spec_step_params(s, "bogus", &b, &e), -1);
	cr_assert_eq(e.cls, ERR_USAGE);
	spec_free(s);

	/* params of one step do not move when another step changes */
	struct spec *a = load_ok(base);
	char *t = replace_once(base, "rate: 500", "rate: 900");
	struct spec *c = load_ok(t);
	free(t);
	struct buf pa, pc;
	buf_init(&pa, 0);
	buf_init(&pc, 0);
	spec_step_params(a, "centroids", &pa, NULL);
	spec_step_params(c, "centroids", &pc, NULL);
	cr_assert_str_eq(pa.data, pc.data);
	buf_reset(&pa);
	buf_reset(&pc);
	spec_step_params(a, "loadtest", &pa, NULL);
	spec_step_params(c, "loadtest", &pc, NULL);
	cr_assert_str_neq(pa.data, pc.data);
	/* repeat: left out at 1 (older action keys hold), in at 3 */
	for (int rep = 1; rep <= 3; rep += 2) {
		spec_free(c);
		char line[64];
		snprintf(line, sizeof(line), "    warmup: 5s\n    repeat: %d\n", rep);
		t = replace_once(base, "    warmup: 5s\n", line);
		c = load_ok(t);
		free(t);
		buf_reset(&pc);
		spec_step_params(c, "loadtest", &pc, NULL);
		cr_assert_eq(c->loadtest.repeat, (uint64_t)rep);
		if (rep == 1)
			cr_assert_str_eq(pa.data, pc.data);
		else
			cr_assert_not_null(strstr(pc.data, "\"repeat\":3"), "%s", pc.data);
	}
	buf_release(&pa);
	buf_release(&pc);
	buf_release(&b);
	spec_free(a);
	spec_free(c);

	s = load_ok("name: x\n");
	e = (struct err)ERR_INIT;
	buf_init(&b, 0);
	cr_assert_eq(spec_step_params(s, "loadtest", &b, &e), -1);
	cr_assert_eq(e.cls, ERR_MISSING);
	buf_release(&b);
	spec_free(s);
}

/* engrave run --repeat N: the override's digest and stored text say it. */
Test(spec_fields, set_loadtest_repeat_rewrites_the_text)
{
	struct spec *s = load_ok(base);
	struct err e = ERR_INIT;
	char *t = replace_once(base, "    warmup: 5s\n", "    warmup: 5s\n    repeat: 3\n");
	struct digest want, got, back;
	digest_of(t, &want);
	free(t);
	cr_assert_eq(spec_set_loadtest_repeat(s, 3, &e), 0, "%s", e.msg);
	spec_digest(s, &got);
	cr_assert(digest_equal(&got, &want));
	cr_assert_not_null(strstr(spec_source_text(s), "repeat: 3"), "%s", spec_source_text(s));
	digest_of(spec_source_text(s), &back);
	cr_assert(digest_equal(&back, &want), "the stored text reloads to the same digest");
	cr_assert_eq(spec_set_loadtest_repeat(s, 101, &e), -1);
	cr_assert_eq(e.cls, ERR_SPEC);
	spec_free(s);
	s = load_ok("name: x\n" TGT "steps:\n  loadtest: {rates: [10, 20]}\n");
	cr_assert_eq(spec_set_loadtest_repeat(s, 2, &e), -1);
	cr_assert_not_null(strstr(e.msg, "steps.loadtest.repeat: a sweep (rates)"), "%s", e.msg);
	cr_assert_eq(spec_set_loadtest_repeat(s, 1, &e), 0, "repeat 1 is every spec's");
	spec_free(s);
	s = load_ok("name: x\n");
	cr_assert_eq(spec_set_loadtest_repeat(s, 2, &e), -1);
	cr_assert_not_null(strstr(e.msg, "no load test"), "%s", e.msg);
	spec_free(s);
}

/* ---- --set KEY=VALUE -------------------------------------------------------- */

/* Load `yaml` with overrides; asserts success. */
static struct spec *load_set(const char *yaml, const char *const *sets, size_t n)
{
	struct err e = ERR_INIT;
	struct spec *s = NULL;
	int rc = spec_load_string_sets(yaml, strlen(yaml), "t.yaml", sets, n, &s, &e);
	cr_assert_eq(rc, 0, "spec did not load with its overrides: %s (hint: %s)", e.msg, e.hint);
	return s;
}

/* Load `yaml` with overrides; asserts failure and returns the error. */
static struct err load_set_err(const char *yaml, const char *const *sets, size_t n)
{
	struct err e = ERR_INIT;
	struct spec *s = NULL;
	int rc = target_spec_load_string(yaml, strlen(yaml), "t.yaml", &s, &e); /* the file alone is fine */
	cr_assert_eq(rc, 0, "%s", e.msg);
	spec_free(s);
	s = (struct spec *)1;
	rc = spec_load_string_sets(yaml, strlen(yaml), "t.yaml", sets, n, &s, &e);
	cr_assert_eq(rc, -1, "loaded with overrides but should fail: %s", sets[n - 1]);
	cr_assert_null(s);
	return e;
}

#define NSETS(a) (sizeof(a) / sizeof((a)[0]))

/* An override is the same spec as the file edited to say it: same digest,
 * and the text the spec keeps reloads (without overrides) to it too. */
Test(spec_set, overrides_equal_the_edited_file)
{
	static const char *const sets[] = {
		"steps.loadtest.duration=40s",          /* the spec's own path */
		"loadtest.arrival.rate=200",            /* the form without steps. */
		"target.url=http://127.0.0.1:9/x?a=b",  /* '=' in the value */
		"checks.p99_ms='< 40'",                 /* quoted YAML */
		"description=\"30\"",                   /* stays a string */
	};
	struct spec *s = load_set(base, sets, NSETS(sets));
	cr_assert_eq(s->loadtest.duration_ns, 40000000000ULL);
	cr_assert_float_eq(s->loadtest.arrival.rate, 200, 1e-12);
	cr_assert_str_eq(s->target.url, "http://127.0.0.1:9/x?a=b");
	cr_assert_str_eq(s->description, "30");
	char *t = replace_once(base, "duration: 30s", "duration: 40s");
	char *t2 = replace_once(t, "rate: 500", "rate: 200");
	char *t3 = replace_once(t2, "url: http://localhost:7432", "url: \"http://127.0.0.1:9/x?a=b\"");
	char *t4 = replace_once(t3, "p99_ms: \"< 50\"\n  throughput", "p99_ms: \"< 40\"\n  throughput");
	char *t5 = replace_once(t4, "description: every step", "description: '30'");
	struct digest want, got, back;
	digest_of(t5, &want);
	spec_digest(s, &got);
	cr_assert(digest_equal(&want, &got), "the overrides differ from the edited file");
	const char *text = spec_source_text(s);
	cr_assert_not_null(strstr(text, "#   --set loadtest.arrival.rate=200\n"), "%s", text);
	digest_of(text, &back);
	cr_assert(digest_equal(&want, &back), "the kept text reloads to another digest:\n%s", text);
	const char *got_sets[8];
	cr_assert_eq(spec_sets(s, got_sets, 8), NSETS(sets));
	cr_assert_str_eq(got_sets[1], "loadtest.arrival.rate=200");
	spec_free(s);
	free(t), free(t2), free(t3), free(t4), free(t5);

	/* no overrides: the text is the file's, byte for byte */
	s = load_set(base, NULL, 0);
	cr_assert_str_eq(spec_source_text(s), base);
	cr_assert_eq(spec_sets(s, got_sets, 8), 0);
	spec_free(s);
}

Test(spec_set, new_keys_sections_and_steps)
{
	const char *y = "name: x\n" TGT
			"steps:\n  centroids: {from: random, dim: 8, k: 2}\n  synthetic: {count: 20}\n"
			"  loadtest:\n  groundtruth:\n";
	static const char *const sets[] = {
		"loadtest.warmup=1s",                              /* a new key in a null section */
		"steps.queries={source: synthetic, count: 5}",     /* a new step, as a flow map */
		"groundtruth.k=3",                                 /* a key in a step written as null */
		"steps.ingest.verify_sample=0",                    /* a new step from one key */
		"seed=0x10",
	};
	struct spec *s = load_set(y, sets, NSETS(sets));
	cr_assert(s->loadtest.present);
	cr_assert_eq(s->loadtest.warmup_ns, 1000000000ULL);
	cr_assert(s->queries.present);
	cr_assert_eq(s->queries.source, SPEC_QSRC_SYNTHETIC);
	cr_assert_eq(s->queries.count, 5);
	cr_assert_eq(s->groundtruth.k, 3);
	cr_assert(s->ingest.present);
	cr_assert_eq(s->ingest.verify_sample, 0);
	cr_assert_eq(s->ingest.n_sets, 1, "the context default of a step made by --set");
	cr_assert_eq(s->seed, 16);
	struct digest a, b;
	spec_digest(s, &a);
	digest_of(spec_source_text(s), &b);
	cr_assert(digest_equal(&a, &b), "%s", spec_source_text(s));
	spec_free(s);
}

Test(spec_set, flow_values_replace_and_later_ones_win)
{
	static const char *const sets[] = {
		"steps.loadtest.mix={store: 0.5, recall: 0.5}", /* the whole map: search back to its default */
		"loadtest.rates=[10, 20.5]",
		"loadtest.warmup=2s",
		"loadtest.warmup=3s",                           /* later wins */
		"steps.ingest.sets=[synthetic]",
	};
	struct spec *s = load_set(base, sets, NSETS(sets));
	cr_assert_float_eq(s->loadtest.mix_store, 0.5, 1e-12);
	cr_assert_float_eq(s->loadtest.mix_recall, 0.5, 1e-12);
	cr_assert_float_eq(s->loadtest.mix_search, 0.075, 1e-12);
	cr_assert_eq(s->loadtest.n_rates, 2);
	cr_assert_float_eq(s->loadtest.rates[1], 20.5, 1e-12);
	cr_assert_eq(s->loadtest.warmup_ns, 3000000000ULL);
	cr_assert_eq(s->ingest.n_sets, 1);
	cr_assert_eq(s->ingest.sets[0], SPEC_SET_SYNTHETIC);
	spec_free(s);
	/* a key set twice, then a key inside what the first one set */
	static const char *const sets2[] = { "loadtest={duration: 5s}", "loadtest.warmup=1s" };
	const char *y = "name: x\n" TGT "steps:\n  loadtest: {duration: 60s, warmup: 30s}\n";
	s = load_set(y, sets2, 2);
	cr_assert_eq(s->loadtest.duration_ns, 5000000000ULL);
	cr_assert_eq(s->loadtest.warmup_ns, 1000000000ULL);
	spec_free(s);
}

/* A map shared through an alias is copied before it changes: the other
 * place keeps the file's value. */
Test(spec_set, an_alias_keeps_the_value_of_the_file)
{
	const char *y = "name: x\n"
			"target: {driver: engram, auth: &a {bearer_env: TOKEN_A}}\n"
			"steps:\n  corpus: {source: sample, limit: 20}\n"
			"  embed: {embedder: http, url: \"http://127.0.0.1:1/v1/embeddings\", model: m, auth: *a}\n";
	static const char *const sets[] = { "target.auth.bearer_env=TOKEN_B" };
	struct spec *s = load_set(y, sets, 1);
	cr_assert_str_eq(s->target.auth_bearer_env, "TOKEN_B");
	cr_assert_str_eq(s->embed.auth_bearer_env, "TOKEN_A");
	spec_free(s);
}

struct set_bad {
	const char *set;
	const char *msg;  /* the whole message starts with this */
	const char *hint; /* in the hint, or NULL */
};

static const struct set_bad set_bads[] = {
	/* paths */
	{ "steps.loadtest.rate=200", "--set steps.loadtest.rate: unknown key 'rate' in steps.loadtest",
	  "did you mean 'steps.loadtest.arrival.rate'?" },
	{ "loadtest.arival.rate=200", "--set loadtest.arival.rate: unknown key 'arival' in steps.loadtest",
	  "did you mean 'steps.loadtest.arrival'?" },
	{ "target.urll=http://x", "--set target.urll: unknown key 'urll' in target", "did you mean 'target.url'?" },
	{ "steps.lodtest.duration=1s", "--set steps.lodtest.duration: unknown step 'lodtest'",
	  "did you mean 'steps.loadtest'?" },
	{ "sed=1", "--set sed: unknown key 'sed'", "did you mean 'seed'?" },
	{ "loadtest.duration.x=1", "--set loadtest.duration.x: steps.loadtest.duration is a value, not a section",
	  NULL },
	{ "checks.baseline.ref.x=1", "--set checks.baseline.ref.x: checks hold checks.METRIC", NULL },
	{ "steps..loadtest=1", "--set steps..loadtest: not a key path", NULL },
	{ "loadtest duration=1", "--set loadtest duration: not a key path", NULL },
	{ "loadtest.duration", "--set loadtest.duration: expected KEY=VALUE", "e.g. --set" },
	{ "=5", "--set =5: expected KEY=VALUE", NULL },
	/* values: every rule of the file, named by the --set */
	{ "loadtest.duration=abc", "--set loadtest.duration: bad duration 'abc'", "a number with a unit" },
	{ "steps.loadtest.duration=[1, 2]", "--set steps.loadtest.duration: expected a single value, got a list", NULL },
	{ "seed=-1", "--set seed: must not be negative", NULL },
	{ "loadtest.arrival.rate=fast", "--set loadtest.arrival.rate: expected a number, got 'fast'", NULL },
	{ "loadtest.mix={store: x}", "--set loadtest.mix: steps.loadtest.mix.store: expected a number", NULL },
	{ "loadtest.mix={store: 1, recal: 1}", "--set loadtest.mix: steps.loadtest.mix.recal: unknown key 'recal'",
	  "did you mean 'recall'?" },
	{ "loadtest.arrival=5", "--set loadtest.arrival: expected a map of settings, got a plain value", NULL },
	{ "loadtest.mix={store: 1", "--set loadtest.mix:", "VALUE is YAML" },
	{ "steps.loadtest.warmup=2m", "--set steps.loadtest.warmup: must be shorter than duration", NULL },
	{ "checks.p99='< 5'", "--set checks.p99: unknown metric 'p99'", "did you mean 'p99_ms'?" },
	{ "steps.queries={source: synthetic}", "--set steps.queries: source synthetic needs steps.synthetic", NULL },
	{ "target.url=ftp://x", "--set target.url: 'ftp://x' is not an http://, https:// or postgres:// URL", NULL },
	{ "name=", "--set name: expected a string, got nothing (null)", NULL },
};

Test(spec_set, bad_paths_and_values_name_the_override)
{
	const char *y = "name: x\n" TGT "steps:\n  loadtest: {duration: 60s, arrival: {rate: 10}, mix: {recall: 0}}\n";
	for (size_t i = 0; i < NSETS(set_bads); i++) {
		const char *const sets[] = { "seed=3", set_bads[i].set };
		struct err e = load_set_err(y, sets, 2);
		cr_expect(e.cls == ERR_SPEC || e.cls == ERR_USAGE, "case %zu: class %d", i, e.cls);
		cr_expect(!strncmp(e.msg, set_bads[i].msg, strlen(set_bads[i].msg)), "case %zu: wanted '%s' in: %s",
			  i, set_bads[i].msg, e.msg);
		if (set_bads[i].hint)
			cr_expect_not_null(strstr(e.hint, set_bads[i].hint), "case %zu: wanted hint '%s', got '%s'", i,
					   set_bads[i].hint, e.hint);
	}
}

/* The targets layer blames a key a --set wrote the same way. */
Test(spec_set, driver_rules_name_the_override)
{
	const char *y = "name: x\n" TGT "steps:\n  loadtest: {mix: {store: 1, recall: 0, search: 0}}\n";
	static const char *const sets[] = { "target.driver=chroma", "loadtest.mix.search=0.5" };
	struct err e = ERR_INIT;
	struct spec *s = NULL;
	cr_assert_eq(spec_load_string_sets(y, strlen(y), "t.yaml", sets, 2, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(target_spec_resolve(s, &e), -1);
	cr_assert(!strncmp(e.msg, "--set loadtest.mix.search: driver chroma has no text search", 59), "%s", e.msg);
	cr_assert_not_null(strstr(e.hint, "--set steps.loadtest.mix.search=0"), "%s", e.hint);
	spec_free(s);
	static const char *const many[SPEC_SETS_MAX + 1] = { "seed=1" };
	const char *m[SPEC_SETS_MAX + 1];
	for (size_t i = 0; i < NSETS(many); i++)
		m[i] = "seed=1";
	cr_assert_eq(spec_load_string_sets(y, strlen(y), "t.yaml", m, SPEC_SETS_MAX + 1, &s, &e), -1);
	cr_assert_not_null(strstr(e.msg, "at most"), "%s", e.msg);
}

Test(spec_fields, resolve_path_against_the_spec_dir)
{
	char *dir = test_tmpdir("spec");
	char path[4096];
	snprintf(path, sizeof(path), "%s/s.yaml", dir);
	FILE *f = fopen(path, "w");
	fputs("name: p\nsteps:\n  corpus: {source: jsonl, path: data/x.jsonl}\n", f);
	fclose(f);
	struct spec *s;
	struct err e = ERR_INIT;
	cr_assert_eq(spec_load_file(path, &s, &e), 0, "%s", e.msg);
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(spec_resolve_path(s, s->corpus.path, &b, NULL), 0);
	char want[4200];
	snprintf(want, sizeof(want), "%s/data/x.jsonl", dir);
	cr_assert_str_eq(b.data, want);
	cr_assert_eq(spec_resolve_path(s, "/abs/y", &b, NULL), 0);
	cr_assert_str_eq(b.data, "/abs/y");
	/* the digest does not depend on where the file lives */
	struct spec *s2 = load_ok("name: p\nsteps:\n  corpus: {source: jsonl, path: data/x.jsonl}\n");
	struct digest d1, d2;
	spec_digest(s, &d1);
	spec_digest(s2, &d2);
	cr_assert(digest_equal(&d1, &d2));
	buf_release(&b);
	spec_free(s);
	spec_free(s2);
	test_rmtree(dir);
	free(dir);
}

/* ---- shipped experiments and the key reference ---------------------------- */

Test(spec_shipped, experiments_pass_check)
{
	static const char *const files[] = { "experiments/quickstart.yaml", "experiments/m17_baseline_1k.yaml",
					     "experiments/m17_1m_hybrid.yaml", NULL };
	for (int i = 0; files[i]; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", test_root(), files[i]);
		struct spec *s;
		struct err e = ERR_INIT;
		cr_assert_eq(target_spec_load_file(path, &s, &e), 0, "%s: %s", files[i], e.msg);
		if (i == 0) {
			cr_assert_str_eq(s->target.driver, "embedded");
			cr_assert_eq(s->embed.embedder, SPEC_EMBEDDER_HASHING);
			cr_assert_eq(s->centroids.k, 8);
			cr_assert_eq(s->synthetic.count, 5000);
			cr_assert_eq(s->loadtest.duration_ns, 5ULL * 1000000000ULL);
			cr_assert_float_eq(s->loadtest.arrival.rate, 200, 1e-9);
		} else if (i == 1) {
			cr_assert_eq(s->seed, 3735928559ULL);
			cr_assert_str_eq(s->target.url, "http://localhost:7432");
			cr_assert_float_eq(s->loadtest.arrival.rate, 1000, 1e-9);
			cr_assert_float_eq(s->loadtest.mix_recall, 0.425, 1e-12);
			cr_assert_eq(s->synthetic.count, 1000);
			cr_assert_eq(s->n_checks, 3);
		} else {
			cr_assert_eq(s->corpus.limit, 50000);
			cr_assert_eq(s->synthetic.count, 950000);
			cr_assert_eq(s->centroids.k, 100);
			cr_assert_eq(s->centroids.algorithm, SPEC_KMEANS_MINIBATCH);
			cr_assert_str_eq(s->embed.model, "all-mpnet-base-v2");
			cr_assert_eq(s->ingest.concurrency, 20);
			cr_assert_eq(s->ingest.batch_size, 1000);
			cr_assert_str_eq(s->baseline.ref, "m17-1k");
		}
		spec_free(s);
	}
}

Test(spec_shipped, keys_doc_lists_every_key)
{
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(spec_keys_doc(&b, 0, NULL), 0);
	static const char *const some[] = { "steps.synthetic.std_dev", "steps.loadtest.arrival.burst_period",
					    "target.auth.bearer_env", "steps.ingest.verify_sample", "checks",
					    "steps.centroids.from", NULL };
	for (int i = 0; some[i]; i++)
		cr_assert_not_null(strstr(b.data, some[i]), "%s missing", some[i]);
	buf_reset(&b);
	cr_assert_eq(spec_keys_doc(&b, 1, NULL), 0);
	cr_assert(strncmp(b.data, "# Spec keys", 11) == 0);
	cr_assert_not_null(strstr(b.data, "| `steps.synthetic.count` | integer | required |"), "%.400s", b.data);
	buf_release(&b);
}

/* The checked-in docs/spec.md is the generated reference, not a stale copy. */
Test(spec_shipped, docs_spec_md_is_generated)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/docs/spec.md", test_root());
	FILE *f = fopen(path, "rb");
	if (!f)
		cr_skip_test("docs/spec.md not present");
	struct buf doc, gen;
	buf_init(&doc, 0);
	buf_init(&gen, 0);
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&doc, chunk, n, NULL);
	fclose(f);
	target_spec_keys_doc(&gen, 1, NULL);
	cr_assert_str_eq(doc.data, gen.data, "docs/spec.md is stale: regenerate with 'engrave spec keys --markdown'");
	buf_release(&doc);
	buf_release(&gen);
}
