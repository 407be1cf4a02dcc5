/*
 * spec.c — the key table, and everything driven by it: defaults,
 * validation, the canonical form, the digest, the key reference.
 *
 * One table (`keys[]`) lists every key of a spec by its full path
 * ("steps.synthetic.std_dev"): its type, where it lives in `struct spec`
 * (offsetof), its default as text (parsed by the same setter as user input,
 * so a default can never be invalid), its bounds, an optional `applies`
 * predicate ("only with pattern periodic_burst") and its documentation.
 * Loading is: fill every default; walk the document tree (tree.c) matching
 * keys against the table (unknown keys get a text_suggest hint); enforce
 * required keys and `applies`; fill context-dependent defaults (ingest.sets
 * by the steps present); then the cross-key rules (step dependencies,
 * k <= count, warmup < duration, ...).
 *
 * The first error wins and is reported as "file:line:col: key.path: reason"
 * with a hint; every later check would be noise on a spec already known bad.
 *
 * The target section holds no driver knowledge: the driver name is a string
 * and every target.* key is taken. The spec keeps where each key was written
 * (`keyinfo`) so the targets layer, which owns the drivers' facts, can refuse
 * a key or value later with the same "file:line:col: key: reason"
 * (spec_key_error), fill driver defaults (spec_key_set_str) and mark keys its
 * driver does not take (spec_key_omit: left out like a key whose `applies`
 * is false). The key reference takes the same facts through a note callback
 * (spec_keys_doc_noted).
 *
 * The canonical form is produced by walking the same table: sections in
 * sorted key order, keys whose `applies` is false left out, absent steps
 * left out, numbers in shortest round-trip form, durations normalised
 * ("2m" -> "120s"). The same walker writes compact JSON (hashed for the
 * digest and for step params) and readable YAML (`spec show`).
 */
#include "engrave/spec.h"
#include "engrave/buf.h"
#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/hash.h"
#include "engrave/text.h"
#include "engrave/xalloc.h"
#include "spec_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- name tables ------------------------------------------------------------ */

const char *const spec_space_names[] = { "cosine", "l2", "ip", NULL };
const char *const spec_index_type_names[] = { "hnsw", "ivfflat", "none", NULL };
const char *const spec_index_build_names[] = { "after", "before", NULL };
static const char *const spec_corpus_source_names[] = { "mediawiki", "jsonl", "npy", "fvecs", "sample", NULL };
static const char *const spec_text_names[] = { "title+lead", "lead", "title+full", "full", NULL };
static const char *const spec_embedder_names[] = { "hashing", "http", NULL };
static const char *const spec_embed_api_names[] = { "openai", "ollama", NULL };
static const char *const spec_kmeans_names[] = { "lloyd", "minibatch", NULL };
static const char *const spec_centroids_from_names[] = { "store", "target", "random", NULL };
static const char *const spec_kmeans_init_names[] = { "kmeans++", "random", NULL };
const char *const spec_query_source_names[] = { "corpus", "synthetic", "heldout", NULL };
static const char *const spec_set_names[] = { "corpus", "synthetic", NULL };
static const char *const spec_arrival_names[] = { "constant", "poisson", "periodic_burst", "ramp", NULL };
const char *const spec_op_names[] = { "<", "<=", ">", ">=", "==", NULL };
/* metrics a check may name */
static const char *const spec_metric_names[] = {
	"p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms",
	"service_p99_ms", "store_p99_ms", "recall_p99_ms", "search_p99_ms",
	"throughput", "error_rate", "late_rate", "drop_rate", "recall", NULL
};
/* A runbook's metrics (steps/rbresult.c) a check may name: the whole run's,
 * and per phase runbook.<phase>.<name> (search phases: recall, p50_ms,
 * p99_ms, qps, errors; write phases: write_rate). */
static const char *const runbook_run_metrics[] = {
	"runbook.recall_avg", "runbook.searchable_p50_ms", "runbook.searchable_p99_ms", "runbook.searchable_max_ms",
	"runbook.gone_p50_ms", "runbook.gone_p99_ms", "runbook.gone_max_ms", "runbook.tracers_timed_out", NULL
};
static const char *const runbook_search_metrics[] = { "recall", "p50_ms", "p99_ms", "qps", "errors", NULL };
const char *const spec_step_names[] = { "corpus", "embed", "centroids", "synthetic", "queries",
					"groundtruth", "ingest", "loadtest", "runbook", NULL };

/* ---- the key table ---------------------------------------------------------- */

enum ktype { KT_SECTION, KT_STR, KT_ENUM, KT_U64, KT_F64, KT_BOOL, KT_DUR, KT_SETS, KT_U64_LIST,
	     KT_F64_LIST, KT_CHECKS, KT_RUNBOOK };

#define KF_REQUIRED 1u
#define KF_MIN 2u      /* value >= min */
#define KF_MAX 4u      /* value <= max */
#define KF_POS 8u      /* value > 0 */
#define KF_ENVNAME 16u /* an environment variable NAME */
#define KF_URL 32u     /* http://, https:// (no user info) or postgres:// (no password) */
#define KF_SLUG 64u    /* [A-Za-z0-9._-]+ */
#define KF_NEW 128u    /* a key added later (KT_U64, KT_BOOL, KT_U64_LIST when empty): left out of the canonical form and of
                        * step params at its default, so specs written before it keep
                        * their digests and action keys */

struct key {
	const char *path;
	enum ktype type;
	size_t off;      /* field; for sections the present flag or NOOFF */
	size_t off2;     /* list count (size_t) */
	const char *def; /* default as text; NULL: none */
	const char *const *names;
	double min, max;
	unsigned flags;
	int (*applies)(const struct spec *s);
	const char *applies_doc;
	const char *defdoc; /* default as shown in docs when not `def` */
	const char *doc;
};

/* Row counts (corpus.limit, synthetic.count, queries.count, ...) are at most
 * 10^12 (< 2^40) and a dimension at most 65536 (2^16), so rows x dim x 4
 * bytes stays below 2^58: no product of spec counts can wrap around a
 * uint64_t or a size_t. What a machine can hold is the targets layer's
 * check (target_mem.c); one vector set is bounded here by SET_BYTES_MAX. */
#define ROWS_MAX 1e12
#define SET_BYTES_MAX (1ULL << 48) /* 256 TiB */

#define OFF(m) offsetof(struct spec, m)
#define NOOFF ((size_t)-1)

static int corpus_is_vectors(const struct spec *s)
{
	return s->corpus.source == SPEC_SRC_NPY || s->corpus.source == SPEC_SRC_FVECS;
}
static int ap_corpus_path(const struct spec *s) { return s->corpus.source != SPEC_SRC_SAMPLE; }
static int ap_corpus_text(const struct spec *s) { return !corpus_is_vectors(s); }
static int ap_corpus_lead(const struct spec *s)
{
	return !corpus_is_vectors(s) && (s->corpus.text == SPEC_TEXT_TITLE_LEAD || s->corpus.text == SPEC_TEXT_LEAD);
}
static int ap_http(const struct spec *s) { return s->embed.embedder == SPEC_EMBEDDER_HTTP; }
static int ap_minibatch(const struct spec *s) { return s->centroids.algorithm == SPEC_KMEANS_MINIBATCH; }
static int ap_random(const struct spec *s) { return s->centroids.from == SPEC_FROM_RANDOM; }
static int ap_rate(const struct spec *s)
{
	return s->loadtest.arrival.pattern == SPEC_ARRIVAL_CONSTANT ||
	       s->loadtest.arrival.pattern == SPEC_ARRIVAL_POISSON;
}
static int ap_burst(const struct spec *s) { return s->loadtest.arrival.pattern == SPEC_ARRIVAL_PERIODIC_BURST; }
static int ap_ramp(const struct spec *s) { return s->loadtest.arrival.pattern == SPEC_ARRIVAL_RAMP; }

#define SEC(p, o, ap, apd, d) { p, KT_SECTION, o, 0, NULL, NULL, 0, 0, 0, ap, apd, NULL, d }

static const struct key keys[] = {
	{ "name", KT_STR, OFF(name), 0, NULL, NULL, 0, 0, KF_REQUIRED | KF_SLUG, NULL, NULL, NULL,
	  "experiment name: letters, digits, '.', '_' and '-' (used in run records and refs)" },
	{ "description", KT_STR, OFF(description), 0, "", NULL, 0, 0, 0, NULL, NULL, NULL,
	  "free text shown in reports" },
	{ "seed", KT_U64, OFF(seed), 0, "42", NULL, 0, 0, 0, NULL, NULL, NULL,
	  "seed of every random stream (decimal or 0x hex); same seed, same data and schedule" },
	{ "remote", KT_STR, OFF(remote), 0, NULL, NULL, 0, 0, KF_URL | KF_NEW, NULL, NULL, "(none; $ENGRAVE_REMOTE)",
	  "URL of a remote store (Bazel HTTP cache): run reads pure steps' results from it before "
	  "computing them and writes them back; $ENGRAVE_REMOTE and run --remote override it" },

	SEC("target", OFF(target.present), NULL, NULL,
	    "the database under test; needed by ingest, loadtest and centroids from: target"),
	{ "target.driver", KT_STR, OFF(target.driver), 0, NULL, NULL, 0, 0, KF_REQUIRED, NULL, NULL, NULL,
	  "which driver talks to the target" },
	{ "target.url", KT_STR, OFF(target.url), 0, NULL, NULL, 0, 0, KF_URL, NULL, NULL, NULL,
	  "base URL of the server (pgvector: a postgres:// URI; its password only from PGPASSWORD or ~/.pgpass)" },
	{ "target.space", KT_STR, OFF(target.space), 0, NULL, NULL, 0, 0, 0, NULL, NULL, NULL,
	  "memory space (X-Memory-Space header)" },
	{ "target.spaces", KT_U64, OFF(target.spaces), 0, "1", NULL, 1, 100000, KF_MIN | KF_MAX, NULL, NULL, NULL,
	  "spread stores and recalls over N spaces space_0..space_{N-1}; 1 uses `space`" },
	{ "target.collection", KT_STR, OFF(target.collection), 0, NULL, NULL, 0, 0, 0, NULL, NULL, NULL,
	  "collection name" },
	{ "target.timeout", KT_DUR, OFF(target.timeout_ns), 0, "30s", NULL, 0, 0, KF_POS, NULL, NULL, NULL,
	  "per-request timeout" },
	SEC("target.auth", NOOFF, NULL, NULL, "authentication"),
	{ "target.auth.bearer_env", KT_STR, OFF(target.auth_bearer_env), 0, NULL, NULL, 0, 0, KF_ENVNAME, NULL,
	  NULL, "(no auth)",
	  "NAME of the environment variable holding the bearer token (the token itself is never stored)" },
	SEC("target.hnsw", NOOFF, NULL, NULL, "index parameters"),
	{ "target.hnsw.space", KT_ENUM, OFF(target.hnsw.space), 0, "cosine", spec_space_names, 0, 0, 0, NULL,
	  NULL, NULL, "similarity: cosine, l2 or ip (inner product)" },
	{ "target.hnsw.m", KT_U64, OFF(target.hnsw.m), 0, "16", NULL, 2, 1024, KF_MIN | KF_MAX, NULL, NULL, NULL,
	  "HNSW max neighbours per node" },
	{ "target.hnsw.ef_construction", KT_U64, OFF(target.hnsw.ef_construction), 0, "200", NULL, 1, 100000,
	  KF_MIN | KF_MAX, NULL, NULL, NULL, "HNSW build beam width" },
	{ "target.hnsw.ef_search", KT_U64, OFF(target.hnsw.ef_search), 0, "64", NULL, 1, 100000,
	  KF_MIN | KF_MAX, NULL, NULL, NULL, "HNSW query beam width" },
	{ "target.table", KT_STR, OFF(target.table), 0, NULL, NULL, 0, 0, 0, NULL, NULL, NULL,
	  "table name (created when absent: id text primary key, embedding vector(dim), content text)" },
	SEC("target.index", NOOFF, NULL, NULL, "the vector index the driver builds"),
	{ "target.index.type", KT_ENUM, OFF(target.index.type), 0, "hnsw", spec_index_type_names, 0, 0, 0, NULL,
	  NULL, NULL, "hnsw (m, ef_construction, ef_search from target.hnsw), ivfflat (lists, probes) or none "
	  "(exact scan)" },
	{ "target.index.lists", KT_U64, OFF(target.index.lists), 0, "100", NULL, 1, 1000000, KF_MIN | KF_MAX, NULL,
	  NULL, NULL, "IVFFlat lists (clusters) built from the data" },
	{ "target.index.probes", KT_U64, OFF(target.index.probes), 0, "10", NULL, 1, 1000000, KF_MIN | KF_MAX, NULL,
	  NULL, NULL, "IVFFlat lists searched per query (ivfflat.probes, set per session)" },
	{ "target.index.build", KT_ENUM, OFF(target.index.build), 0, "after", spec_index_build_names, 0, 0, 0, NULL,
	  NULL, NULL, "build the index after the load (ingest.index_build_s) or before it (maintained while "
	  "loading)" },

	SEC("steps", NOOFF, NULL, NULL, "the pipeline; a step runs only when listed"),

	SEC("steps.corpus", OFF(corpus.present), NULL, NULL, "read articles (or vectors) from a dump"),
	{ "steps.corpus.source", KT_ENUM, OFF(corpus.source), 0, NULL, spec_corpus_source_names, 0, 0,
	  KF_REQUIRED, NULL, NULL, NULL,
	  "mediawiki (.xml or .xml.bz2 dump), jsonl ({title,text} lines), npy/fvecs (vectors: no embed step), "
	  "sample (built-in generated articles)" },
	{ "steps.corpus.path", KT_STR, OFF(corpus.path), 0, NULL, NULL, 0, 0, KF_REQUIRED, ap_corpus_path,
	  "source other than sample", NULL, "input file, relative to the spec file's directory" },
	{ "steps.corpus.limit", KT_U64, OFF(corpus.limit), 0, "0", NULL, 0, ROWS_MAX, KF_MAX, NULL, NULL, NULL,
	  "read at most N records (0: all)" },
	{ "steps.corpus.min_chars", KT_U64, OFF(corpus.min_chars), 0, "50", NULL, 0, 0, 0, ap_corpus_text,
	  "text sources", NULL, "skip articles whose text is shorter" },
	{ "steps.corpus.text", KT_ENUM, OFF(corpus.text), 0, "title+lead", spec_text_names, 0, 0, 0,
	  ap_corpus_text, "text sources", NULL, "what is embedded" },
	{ "steps.corpus.lead_chars", KT_U64, OFF(corpus.lead_chars), 0, "1000", NULL, 1, 0, KF_MIN,
	  ap_corpus_lead, "text title+lead or lead", NULL, "length of the lead, in characters" },

	SEC("steps.embed", OFF(embed.present), NULL, NULL, "turn corpus texts into vectors"),
	{ "steps.embed.embedder", KT_ENUM, OFF(embed.embedder), 0, "hashing", spec_embedder_names, 0, 0, 0,
	  NULL, NULL, NULL, "hashing (in-process feature hashing, no server) or http (an embedding server)" },
	{ "steps.embed.url", KT_STR, OFF(embed.url), 0, NULL, NULL, 0, 0, KF_REQUIRED | KF_URL, ap_http,
	  "embedder http", NULL, "embedding endpoint, e.g. http://localhost:8080/v1/embeddings" },
	{ "steps.embed.model", KT_STR, OFF(embed.model), 0, NULL, NULL, 0, 0, KF_REQUIRED, ap_http,
	  "embedder http", NULL, "model name sent to the server" },
	{ "steps.embed.api", KT_ENUM, OFF(embed.api), 0, "openai", spec_embed_api_names, 0, 0, 0, ap_http,
	  "embedder http", NULL, "request format: openai (/v1/embeddings) or ollama (/api/embed)" },
	{ "steps.embed.dim", KT_U64, OFF(embed.dim), 0, "768", NULL, 1, 65536, KF_MIN | KF_MAX, NULL, NULL,
	  NULL, "vector dimension (checked against the server's answer)" },
	{ "steps.embed.batch_size", KT_U64, OFF(embed.batch_size), 0, "64", NULL, 1, 100000, KF_MIN | KF_MAX,
	  ap_http, "embedder http", NULL, "texts per request" },
	{ "steps.embed.concurrency", KT_U64, OFF(embed.concurrency), 0, "4", NULL, 1, 1024, KF_MIN | KF_MAX,
	  ap_http, "embedder http", NULL, "requests in flight" },
	{ "steps.embed.retries", KT_U64, OFF(embed.retries), 0, "5", NULL, 0, 100, KF_MAX, ap_http,
	  "embedder http", NULL, "retries per request (exponential backoff)" },
	{ "steps.embed.timeout", KT_DUR, OFF(embed.timeout_ns), 0, "30s", NULL, 0, 0, KF_POS, ap_http,
	  "embedder http", NULL, "per-request timeout" },
	SEC("steps.embed.auth", NOOFF, ap_http, "embedder http", "authentication"),
	{ "steps.embed.auth.bearer_env", KT_STR, OFF(embed.auth_bearer_env), 0, NULL, NULL, 0, 0, KF_ENVNAME,
	  NULL, NULL, "(no auth)", "NAME of the environment variable holding the bearer token" },

	SEC("steps.centroids", OFF(centroids.present), NULL, NULL, "k-means cluster centres"),
	{ "steps.centroids.k", KT_U64, OFF(centroids.k), 0, "100", NULL, 1, 1000000, KF_MIN | KF_MAX, NULL,
	  NULL, NULL, "number of centroids" },
	{ "steps.centroids.algorithm", KT_ENUM, OFF(centroids.algorithm), 0, "lloyd", spec_kmeans_names, 0, 0,
	  0, NULL, NULL, NULL, "lloyd (full passes) or minibatch" },
	{ "steps.centroids.batch_size", KT_U64, OFF(centroids.batch_size), 0, "1024", NULL, 1, 1e9, KF_MIN | KF_MAX,
	  ap_minibatch, "algorithm minibatch", NULL, "vectors per mini-batch" },
	{ "steps.centroids.max_iter", KT_U64, OFF(centroids.max_iter), 0, "100", NULL, 1, 1000000,
	  KF_MIN | KF_MAX, NULL, NULL, NULL, "iteration cap" },
	{ "steps.centroids.tol", KT_F64, OFF(centroids.tol), 0, "0.0001", NULL, 0, 0, KF_MIN, NULL, NULL, NULL,
	  "stop when centroids move less than this (relative)" },
	{ "steps.centroids.from", KT_ENUM, OFF(centroids.from), 0, "store", spec_centroids_from_names, 0, 0, 0,
	  NULL, NULL, NULL,
	  "store (the embedded corpus), target (embeddings read back from the target) or random "
	  "(uniform in [-1,1]^dim, like Engram's loadtest)" },
	{ "steps.centroids.init", KT_ENUM, OFF(centroids.init), 0, "kmeans++", spec_kmeans_init_names, 0, 0, 0,
	  NULL, NULL, NULL, "seeding: kmeans++ or random" },
	{ "steps.centroids.dim", KT_U64, OFF(centroids.dim), 0, "768", NULL, 1, 65536, KF_MIN | KF_MAX,
	  ap_random, "from random", NULL, "dimension of random centroids" },

	SEC("steps.synthetic", OFF(synthetic.present), NULL, NULL, "vectors drawn around the centroids"),
	{ "steps.synthetic.count", KT_U64, OFF(synthetic.count), 0, NULL, NULL, 1, ROWS_MAX, KF_REQUIRED | KF_MIN | KF_MAX,
	  NULL, NULL, NULL, "number of vectors" },
	{ "steps.synthetic.std_dev", KT_F64, OFF(synthetic.std_dev), 0, "0.1", NULL, 0, 10, KF_MIN | KF_MAX,
	  NULL, NULL, NULL, "Gaussian noise per dimension around the chosen centroid" },
	{ "steps.synthetic.normalize", KT_BOOL, OFF(synthetic.normalize), 0, "true", NULL, 0, 0, 0, NULL, NULL,
	  NULL, "L2-normalise each vector" },
	{ "steps.synthetic.id_prefix", KT_STR, OFF(synthetic.id_prefix), 0, "syn-", NULL, 0, 0, 0, NULL, NULL,
	  NULL, "memory ids are <id_prefix><index>" },
	SEC("steps.synthetic.confidence", NOOFF, NULL, NULL, "confidence attached to each memory"),
	{ "steps.synthetic.confidence.base", KT_F64, OFF(synthetic.confidence_base), 0, "0.7", NULL, 0, 1,
	  KF_MIN | KF_MAX, NULL, NULL, NULL, "lower end of the confidence" },
	{ "steps.synthetic.confidence.jitter", KT_F64, OFF(synthetic.confidence_jitter), 0, "0.1", NULL, 0, 1,
	  KF_MIN | KF_MAX, NULL, NULL, NULL, "uniform spread added to base (base + jitter <= 1)" },

	SEC("steps.queries", OFF(queries.present), NULL, NULL, "query vectors for recall scoring"),
	{ "steps.queries.count", KT_U64, OFF(queries.count), 0, "1000", NULL, 1, ROWS_MAX, KF_MIN | KF_MAX, NULL, NULL, NULL,
	  "number of queries" },
	{ "steps.queries.source", KT_ENUM, OFF(queries.source), 0, "corpus", spec_query_source_names, 0, 0, 0,
	  NULL, NULL, NULL,
	  "corpus (sampled corpus vectors), synthetic (sampled synthetic vectors) or heldout (fresh vectors "
	  "drawn around the centroids like the synthetic set, never ingested; needs steps.centroids)" },
	{ "steps.queries.noise", KT_F64, OFF(queries.noise), 0, "0", NULL, 0, 10, KF_MIN | KF_MAX, NULL, NULL,
	  NULL, "std dev of Gaussian noise added to each query" },

	SEC("steps.groundtruth", OFF(groundtruth.present), NULL, NULL, "exact k nearest neighbours of the queries"),
	{ "steps.groundtruth.k", KT_U64, OFF(groundtruth.k), 0, "10", NULL, 1, 10000, KF_MIN | KF_MAX, NULL,
	  NULL, NULL, "neighbours per query" },

	SEC("steps.ingest", OFF(ingest.present), NULL, NULL, "load vector sets into the target (journaled)"),
	{ "steps.ingest.sets", KT_SETS, OFF(ingest.sets), OFF(ingest.n_sets), NULL, spec_set_names, 0, 0, 0,
	  NULL, NULL, "every set the spec makes (corpus if embedded, synthetic)", "which vector sets, in order" },
	{ "steps.ingest.concurrency", KT_U64, OFF(ingest.concurrency), 0, "8", NULL, 1, 1024, KF_MIN | KF_MAX,
	  NULL, NULL, NULL, "requests in flight" },
	{ "steps.ingest.batch_size", KT_U64, OFF(ingest.batch_size), 0, "100", NULL, 1, 1000000,
	  KF_MIN | KF_MAX, NULL, NULL, NULL, "vectors per request" },
	{ "steps.ingest.retries", KT_U64, OFF(ingest.retries), 0, "5", NULL, 0, 100, KF_MAX, NULL, NULL, NULL,
	  "retries per request" },
	{ "steps.ingest.timeout", KT_DUR, OFF(ingest.timeout_ns), 0, "30s", NULL, 0, 0, KF_POS, NULL, NULL,
	  NULL, "per-request timeout" },
	{ "steps.ingest.adaptive", KT_BOOL, OFF(ingest.adaptive), 0, "true", NULL, 0, 0, KF_NEW, NULL, NULL,
	  NULL, "adapt requests in flight to the target's latency (concurrency is the most)" },
	{ "steps.ingest.verify_sample", KT_U64, OFF(ingest.verify_sample), 0, "100", NULL, 0, ROWS_MAX, KF_MAX, NULL, NULL,
	  NULL, "ids read back to verify the load (0: count only)" },

	SEC("steps.loadtest", OFF(loadtest.present), NULL, NULL, "open-loop load test"),
	{ "steps.loadtest.duration", KT_DUR, OFF(loadtest.duration_ns), 0, "60s", NULL, 0, 0, KF_POS, NULL,
	  NULL, NULL, "measured time, after the warm-up" },
	{ "steps.loadtest.warmup", KT_DUR, OFF(loadtest.warmup_ns), 0, "0s", NULL, 0, 0, 0, NULL, NULL, NULL,
	  "excluded from metrics, kept in records; must be shorter than duration" },
	{ "steps.loadtest.max_in_flight", KT_U64, OFF(loadtest.max_in_flight), 0, "256", NULL, 1, 1000000,
	  KF_MIN | KF_MAX, NULL, NULL, NULL, "requests in flight at most (the embedded target: operations at once, up to 64); a due request waits for room, and is dropped and counted after 10 s" },
	{ "steps.loadtest.connections", KT_U64, OFF(loadtest.connections), 0, "0", NULL, 0, 10000, KF_MAX | KF_NEW,
	  NULL, NULL, "0 (automatic)",
	  "connections to the target (wrk's -c): HTTP drivers' keep-alive pool (automatic: max_in_flight), "
	  "pgvector's libpq connections in pipeline mode (automatic: max_in_flight, at most 32); requests "
	  "beyond them queue on them; ignored in-process" },
	{ "steps.loadtest.lateness_bound", KT_DUR, OFF(loadtest.lateness_bound_ns), 0, "10ms", NULL, 0, 0, 0,
	  NULL, NULL, NULL, "a send later than this after its due time is late: the late count, late_rate and the client-saturation warning" },
	{ "steps.loadtest.concurrency", KT_U64_LIST, OFF(loadtest.concurrency), OFF(loadtest.n_concurrency),
	  NULL, NULL, 1, 1000000, KF_MIN | KF_MAX, NULL, NULL, "[] (no sweep)",
	  "sweep: repeat the test with each in-flight cap" },
	{ "steps.loadtest.rates", KT_F64_LIST, OFF(loadtest.rates), OFF(loadtest.n_rates), NULL, NULL, 0, 1e7,
	  KF_POS | KF_MAX, NULL, NULL, "[] (no sweep)", "sweep: repeat the test at each arrival rate (ops/s)" },
	{ "steps.loadtest.ef_search", KT_U64_LIST, OFF(loadtest.ef_search), OFF(loadtest.n_ef_search), NULL, NULL, 1,
	  100000, KF_MIN | KF_MAX | KF_NEW, NULL, NULL, "[] (no sweep)",
	  "sweep: repeat the test with each search breadth (HNSW ef_search, changed in place: no re-ingest)" },
	{ "steps.loadtest.slo_p99_ms", KT_F64, OFF(loadtest.slo_p99_ms), 0, "0", NULL, 0, 0, KF_MIN, NULL, NULL,
	  NULL, "sweeps: the p99 that defines the highest sustainable rate (0: none)" },
	{ "steps.loadtest.repeat", KT_U64, OFF(loadtest.repeat), 0, "1", NULL, 1, 100, KF_MIN | KF_MAX | KF_NEW,
	  NULL, NULL, NULL,
	  "run warm-up + measured phase this many times with the same schedule, keeping every record "
	  "(metrics pool them; not with a sweep)" },
	SEC("steps.loadtest.arrival", NOOFF, NULL, NULL, "when requests are due"),
	{ "steps.loadtest.arrival.pattern", KT_ENUM, OFF(loadtest.arrival.pattern), 0, "constant",
	  spec_arrival_names, 0, 0, 0, NULL, NULL, NULL, "constant, poisson, periodic_burst or ramp" },
	{ "steps.loadtest.arrival.rate", KT_F64, OFF(loadtest.arrival.rate), 0, "100", NULL, 0, 1e7,
	  KF_POS | KF_MAX, ap_rate, "pattern constant or poisson", NULL, "operations per second" },
	{ "steps.loadtest.arrival.base_rate", KT_F64, OFF(loadtest.arrival.base_rate), 0, "100", NULL, 0, 1e7,
	  KF_MIN | KF_MAX, ap_burst, "pattern periodic_burst", NULL, "ops/s outside bursts" },
	{ "steps.loadtest.arrival.burst_rate", KT_F64, OFF(loadtest.arrival.burst_rate), 0, "1000", NULL, 0,
	  1e7, KF_POS | KF_MAX, ap_burst, "pattern periodic_burst", NULL, "ops/s during bursts" },
	{ "steps.loadtest.arrival.burst_duration", KT_DUR, OFF(loadtest.arrival.burst_duration_ns), 0, "10s",
	  NULL, 0, 0, KF_POS, ap_burst, "pattern periodic_burst", NULL, "length of a burst" },
	{ "steps.loadtest.arrival.burst_period", KT_DUR, OFF(loadtest.arrival.burst_period_ns), 0, "60s", NULL,
	  0, 0, KF_POS, ap_burst, "pattern periodic_burst", NULL, "a burst starts every period" },
	{ "steps.loadtest.arrival.from_rate", KT_F64, OFF(loadtest.arrival.from_rate), 0, "10", NULL, 0, 1e7,
	  KF_MIN | KF_MAX, ap_ramp, "pattern ramp", NULL, "ops/s at the start" },
	{ "steps.loadtest.arrival.to_rate", KT_F64, OFF(loadtest.arrival.to_rate), 0, "1000", NULL, 0, 1e7,
	  KF_MIN | KF_MAX, ap_ramp, "pattern ramp", NULL, "ops/s at the end (linear)" },
	SEC("steps.loadtest.mix", NOOFF, NULL, NULL, "relative weights of the operations (>= 0, not all 0)"),
	{ "steps.loadtest.mix.store", KT_F64, OFF(loadtest.mix_store), 0, "0.5", NULL, 0, 0, KF_MIN, NULL, NULL,
	  NULL, "weight of stores (remember with embedding)" },
	{ "steps.loadtest.mix.recall", KT_F64, OFF(loadtest.mix_recall), 0, "0.425", NULL, 0, 0, KF_MIN, NULL,
	  NULL, NULL, "weight of recalls by embedding" },
	{ "steps.loadtest.mix.search", KT_F64, OFF(loadtest.mix_search), 0, "0.075", NULL, 0, 0, KF_MIN, NULL,
	  NULL, NULL, "weight of text searches" },
	SEC("steps.loadtest.recall", NOOFF, NULL, NULL, "recall operations"),
	{ "steps.loadtest.recall.k", KT_U64, OFF(loadtest.recall_k), 0, "10", NULL, 1, 10000, KF_MIN | KF_MAX,
	  NULL, NULL, NULL, "results per recall (max_results)" },
	{ "steps.loadtest.recall.threshold", KT_F64, OFF(loadtest.recall_threshold), 0, "0.5", NULL, -1, 1,
	  KF_MIN | KF_MAX, NULL, NULL, NULL, "similarity threshold sent with the recall" },
	{ "steps.loadtest.recall.queries", KT_U64, OFF(loadtest.recall_queries), 0, "1000", NULL, 1, ROWS_MAX, KF_MIN | KF_MAX,
	  NULL, NULL, NULL, "distinct cue vectors cycled through" },
	SEC("steps.loadtest.search", NOOFF, NULL, NULL, "search operations"),
	{ "steps.loadtest.search.k", KT_U64, OFF(loadtest.search_k), 0, "10", NULL, 1, 10000, KF_MIN | KF_MAX,
	  NULL, NULL, NULL, "results per search (limit)" },

	SEC("steps.runbook", OFF(runbook.present), NULL, NULL,
	    "a streaming runbook: inserts, deletes, replaces and open-loop searches in phases, with exact "
	    "recall per search phase (journaled, resumable)"),
	{ "steps.runbook.phases", KT_RUNBOOK, NOOFF, 0, NULL, NULL, 0, 0, KF_REQUIRED, NULL, NULL, NULL,
	  "the phases in order, each one of: insert {set, from, to, rate, order: sequential|clustered|shuffled}, "
	  "delete {set, from, to, rate}, replace {set, from, to, with_set, with_from, rate}, search {queries, "
	  "rate, duration, k}, wait {until: indexed or a duration}; concurrent: true starts a phase with the one "
	  "before; rate 0 writes as fast as the target acknowledges" },
	{ "steps.runbook.batch_size", KT_U64, OFF(runbook.batch_size), 0, "100", NULL, 1, 100000, KF_MIN | KF_MAX,
	  NULL, NULL, NULL, "vectors per write request" },
	{ "steps.runbook.max_in_flight", KT_U64, OFF(runbook.max_in_flight), 0, "64", NULL, 1, 4096,
	  KF_MIN | KF_MAX, NULL, NULL, NULL, "searches in flight at most (open loop: a due search waits for room)" },
	{ "steps.runbook.tracers", KT_U64, OFF(runbook.tracers), 0, "8", NULL, 0, 1000, KF_MAX, NULL, NULL, NULL,
	  "readiness probes per write phase: time from an acknowledged write until a search finds "
	  "(insert) or stops finding (delete) it" },
	{ "steps.runbook.wait_timeout", KT_DUR, OFF(runbook.wait_timeout_ns), 0, "60s", NULL, 0, 0, KF_POS, NULL,
	  NULL, NULL, "a tracer or a wait until indexed gives up after this" },

	{ "checks", KT_CHECKS, NOOFF, 0, NULL, NULL, 0, 0, 0, NULL, NULL, "(none)",
	  "pass/fail rules on the load test's metrics, e.g. p99_ms: \"< 50\"" },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *key_find(const char *path, size_t *idx)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].path, path)) {
			if (idx)
				*idx = i;
			return &keys[i];
		}
	return NULL;
}

static const char *key_leaf(const char *path)
{
	const char *d = strrchr(path, '.');
	return d ? d + 1 : path;
}

/* Is `path` a direct child of `parent` ("" for top level)? */
static int key_is_child(const char *path, const char *parent)
{
	size_t pl = strlen(parent);
	if (pl) {
		if (strncmp(path, parent, pl) || path[pl] != '.')
			return 0;
		path += pl + 1;
	}
	return strchr(path, '.') == NULL;
}

static void *field(struct spec *s, const struct key *k) { return (char *)s + k->off; }
static const void *cfield(const struct spec *s, const struct key *k) { return (const char *)s + k->off; }

/* Per key of the table, in table order: where it was written (line 0: not
 * written) and whether a layer above left it out (spec_key_omit). */
struct spec_keyinfo {
	int line, col;
	int omit;
	const struct sorigin *origin; /* written by a --set, not the file */
};

static int key_omitted(const struct spec *s, const struct key *k)
{
	return s->keyinfo && s->keyinfo[k - keys].omit;
}

/* A key counts when every enclosing section is present and applies, and
 * the key itself applies; a key left out by spec_key_omit never counts. */
static int key_active(const struct spec *s, const struct key *k)
{
	if ((k->applies && !k->applies(s)) || key_omitted(s, k))
		return 0;
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", k->path);
	char *dot;
	while ((dot = strrchr(buf, '.'))) {
		*dot = '\0';
		const struct key *p = key_find(buf, NULL);
		if (!p)
			continue;
		if (p->off != NOOFF && !*(const int *)cfield(s, p))
			return 0;
		if ((p->applies && !p->applies(s)) || key_omitted(s, p))
			return 0;
	}
	return 1;
}

/* ---- loading context and errors --------------------------------------------- */

struct lctx {
	struct spec *s;
	const char *name;
	struct err *e;
	struct snode *root;
	struct snode *set[NKEYS]; /* node that set each key (sections: the map) */
	struct snode *checks_node;
	struct snode *check_nodes[SPEC_CHECKS_MAX];
};

/* "file:line:col: path: reason", or for what a --set wrote "--set KEY:
 * path: reason" (the path left out when it is the override's own). */
int spec_err_at(struct err *e, const char *file, int line, int col, const struct sorigin *o, const char *path,
		  const char *reason)
{
	if (o && path && *path && strcmp(path, o->path))
		return err_set(e, ERR_SPEC, "--set %s: %s: %s", o->key, path, reason);
	if (o)
		return err_set(e, ERR_SPEC, "--set %s: %s", o->key, reason);
	if (path && *path)
		return err_set(e, ERR_SPEC, "%s:%d:%d: %s: %s", file, line, col, path, reason);
	return err_set(e, ERR_SPEC, "%s:%d:%d: %s", file, line, col, reason);
}

static int perr(struct lctx *c, const struct snode *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int perr(struct lctx *c, const struct snode *n, const char *path, const char *fmt, ...)
{
	char reason[ERR_MSG_MAX / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return spec_err_at(c->e, c->name, n ? n->line : 1, n ? n->col : 1, n ? n->origin : NULL, path, reason);
}

/* Position to blame for a rule about `path`: the key's own node if it was
 * written, else its nearest written section, else the document. */
static const struct snode *pos_of(struct lctx *c, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		size_t i;
		if (key_find(buf, &i) && c->set[i])
			return c->set[i];
		char *dot = strrchr(buf, '.');
		if (!dot)
			return c->root;
		*dot = '\0';
	}
}

static const char *kind_name(const struct snode *n)
{
	if (n->kind == SN_MAP)
		return "a map";
	if (n->kind == SN_SEQ)
		return "a list";
	if (snode_is_null(n))
		return "nothing (null)";
	return n->plain ? "a plain value" : "a quoted string";
}

/* ---- scalar parsers (shared by defaults and input) ------------------------------ */

int spec_parse_u64(const char *str, uint64_t *out, int *negative)
{
	*negative = 0;
	const char *p = str;
	if (*p == '+')
		p++;
	if (*p == '-') {
		*negative = 1;
		return -1;
	}
	if (!isdigit((unsigned char)*p))
		return -1;
	char *end;
	errno = 0;
	unsigned long long v;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		if (!isxdigit((unsigned char)p[2]))
			return -1;
		v = strtoull(p + 2, &end, 16);
	} else {
		v = strtoull(p, &end, 10);
		if (*end == '.' || *end == 'e' || *end == 'E') { /* 1e6, 1000.0: integral values only */
			double d = strtod(p, &end);
			if (*end || d != floor(d) || d > 9007199254740992.0)
				return -1;
			*out = (uint64_t)d;
			return 0;
		}
	}
	if (*end || errno == ERANGE)
		return -1;
	*out = v;
	return 0;
}

int spec_parse_f64(const char *str, double *out)
{
	const char *p = str;
	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
		return -1;
	char *end;
	double v = strtod(str, &end);
	if (*end || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int spec_parse_dur(const char *str, uint64_t *out)
{
	if (!isdigit((unsigned char)str[0]) && !(str[0] == '.' && isdigit((unsigned char)str[1])))
		return -1;
	for (const char *p = str; *p; p++)
		if (*p == 'e' || *p == 'E' || isspace((unsigned char)*p))
			return -1;
	unsigned long long ns;
	if (text_parse_duration_ns(str, &ns))
		return -1;
	double approx = strtod(str, NULL);
	if (approx > 1e9) /* over 30 years even in seconds: a typo */
		return -1;
	*out = ns;
	return 0;
}

static int enum_index(const char *const *names, const char *v)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], v))
			return i;
	return -1;
}

/* 1 when `name` has a runbook metric's shape; *phase = its phase (-1: the
 * whole run's), *leaf = the per-phase name. */
static int runbook_metric(const char *name, long *phase, const char **leaf)
{
	*phase = -1;
	*leaf = NULL;
	if (enum_index(runbook_run_metrics, name) >= 0)
		return 1;
	if (strncmp(name, "runbook.", 8) || !isdigit((unsigned char)name[8]))
		return 0;
	char *end;
	long p = strtol(name + 8, &end, 10);
	if (*end != '.' || p < 0 || p >= SPEC_PHASES_MAX ||
	    (enum_index(runbook_search_metrics, end + 1) < 0 && strcmp(end + 1, "write_rate")))
		return 0;
	*phase = p;
	*leaf = end + 1;
	return 1;
}

static void join_names(const char *const *names, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (int i = 0; names[i] && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "", names[i]);
}

static int bad_enum(struct lctx *c, const struct snode *n, const char *path, const char *const *names)
{
	char all[256];
	join_names(names, all, sizeof(all));
	perr(c, n, path, "unknown value '%.100s' (expected one of: %s)", n->str, all);
	const char *sug = text_suggest(n->str, names);
	if (sug)
		err_hint(c->e, "did you mean '%s'?", sug);
	return -1;
}

static int check_range(struct lctx *c, const struct snode *n, const struct key *k, const char *path, double v)
{
	if ((k->flags & KF_POS) && !(v > 0))
		return perr(c, n, path, "must be greater than 0, got %s", n->str);
	if ((k->flags & KF_MIN) && v < k->min) {
		if (k->min == 0)
			return perr(c, n, path, "must not be negative, got %s", n->str);
		return perr(c, n, path, "must be at least %g, got %s", k->min, n->str);
	}
	if ((k->flags & KF_MAX) && v > k->max)
		return perr(c, n, path, k->max == floor(k->max) && k->max < 1e15 ? "must be at most %.0f, got %s"
										: "must be at most %g, got %s",
			    k->max, n->str);
	return 0;
}

static int valid_envname(const char *v)
{
	if (!(isalpha((unsigned char)v[0]) || v[0] == '_'))
		return 0;
	for (const char *p = v; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_'))
			return 0;
	return 1;
}

/* The user info of "scheme://user:pass@host...": the part of the authority
 * (before any '/', '?', '#') before an '@'; NULL when there is none. */
static const char *url_userinfo(const char *v, size_t *len)
{
	const char *a = strstr(v, "://");
	if (!a)
		return NULL;
	size_t n = strcspn(a + 3, "/?#");
	const char *at = memchr(a + 3, '@', n);
	if (!at)
		return NULL;
	*len = (size_t)(at - (a + 3));
	return a + 3;
}

static int url_has_userinfo(const char *v)
{
	size_t n;
	return url_userinfo(v, &n) != NULL;
}

/* A libpq connection URI (postgres:// or postgresql://): the pgvector driver's. */
static int url_is_postgres(const char *v)
{
	return !strncmp(v, "postgres://", 11) || !strncmp(v, "postgresql://", 13);
}

/* "scheme://user:pass@host..." or a "password=" query parameter. */
static int url_has_password(const char *v)
{
	size_t n;
	const char *ui = url_userinfo(v, &n);
	if (ui && memchr(ui, ':', n))
		return 1;
	for (const char *q = strchr(v, '?'); q; q = strchr(q + 1, '&'))
		if (!strncmp(q + 1, "password=", 9))
			return 1;
	return 0;
}

static int valid_slug(const char *v)
{
	if (!*v || strlen(v) > 128)
		return 0;
	for (const char *p = v; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/* Parse one scalar value `n` for key `k` into the spec; `path` names it in
 * errors (it differs from k->path for list items). */
static int set_scalar(struct lctx *c, const struct key *k, const struct snode *n, const char *path, void *dst)
{
	if (n->kind != SN_SCALAR)
		return perr(c, n, path, "expected %s, got %s",
			    k->type == KT_STR ? "a string" : k->type == KT_BOOL ? "true or false" : "a single value",
			    kind_name(n));
	int neg = 0;
	switch (k->type) {
	case KT_STR: {
		if (snode_is_null(n))
			return perr(c, n, path, "expected a string, got nothing (null)");
		if ((k->flags & KF_ENVNAME) && !valid_envname(n->str)) {
			perr(c, n, path, "not an environment variable name (the value is not shown: it may be a secret)");
			return err_hint(c->e, "give the NAME of a variable that holds the token (e.g. ENGRAM_API_KEY); "
					      "secrets are never written in specs");
		}
		if ((k->flags & KF_URL) && !strcmp(k->path, "target.url") && url_is_postgres(n->str)) {
			if (url_has_password(n->str)) {
				/* the message is redacted (err.c): the password is not shown */
				perr(c, n, path, "'%.100s' holds a password; secrets are never written in specs", n->str);
				return err_hint(c->e, "drop the password from the URL (a user name may stay) and set "
						      "PGPASSWORD or put it in ~/.pgpass");
			}
		} else if ((k->flags & KF_URL) && strncmp(n->str, "http://", 7) && strncmp(n->str, "https://", 8))
			return perr(c, n, path, "'%.100s' is not an http://, https:// or postgres:// URL", n->str);
		else if ((k->flags & KF_URL) && url_has_userinfo(n->str)) {
			/* the message is redacted (err.c): the password is not shown */
			perr(c, n, path, "'%.100s' holds a user name or password; secrets are never written in specs",
			     n->str);
			return err_hint(c->e, "drop the user:password@ part and put the token in an environment variable "
					      "named by auth: {bearer_env: NAME}");
		}
		if ((k->flags & KF_SLUG) && !valid_slug(n->str))
			return perr(c, n, path, "'%.100s' may only hold letters, digits, '.', '_' and '-' (max 128)",
				    n->str);
		char *dup = xstrdup(n->str);
		free(*(char **)dst);
		*(char **)dst = dup;
		return 0;
	}
	case KT_ENUM:
	case KT_SETS: {
		int i = enum_index(k->names, n->str);
		if (i < 0)
			return bad_enum(c, n, path, k->names);
		*(int *)dst = i;
		return 0;
	}
	case KT_U64:
	case KT_U64_LIST: {
		uint64_t v;
		if (!n->plain || spec_parse_u64(n->str, &v, &neg)) {
			if (neg)
				return perr(c, n, path, "must not be negative, got %s", n->str);
			return perr(c, n, path, "expected a whole number, got '%.100s'", n->str);
		}
		if (check_range(c, n, k, path, (double)v))
			return -1;
		*(uint64_t *)dst = v;
		return 0;
	}
	case KT_F64:
	case KT_F64_LIST: {
		double v;
		if (!n->plain || spec_parse_f64(n->str, &v))
			return perr(c, n, path, "expected a number, got '%.100s'", n->str);
		if (check_range(c, n, k, path, v))
			return -1;
		*(double *)dst = v == 0 ? 0 : v; /* no -0 in the canonical form */
		return 0;
	}
	case KT_BOOL:
		if (n->plain && (!strcmp(n->str, "true") || !strcmp(n->str, "True") || !strcmp(n->str, "TRUE")))
			*(int *)dst = 1;
		else if (n->plain &&
			 (!strcmp(n->str, "false") || !strcmp(n->str, "False") || !strcmp(n->str, "FALSE")))
			*(int *)dst = 0;
		else {
			perr(c, n, path, "expected true or false, got '%.100s'", n->str);
			return err_hint(c->e, "write true or false (yes/no/on/off are not booleans here)");
		}
		return 0;
	case KT_DUR: {
		uint64_t v;
		if (spec_parse_dur(n->str, &v)) {
			perr(c, n, path, "bad duration '%.100s'", n->str);
			return err_hint(c->e, "write a number with a unit: 500ms, 60s, 2m, 1h (a bare number is seconds)");
		}
		if ((k->flags & KF_POS) && v == 0)
			return perr(c, n, path, "must be longer than 0, got %s", n->str);
		*(uint64_t *)dst = v;
		return 0;
	}
	default:
		return err_set(c->e, ERR_INTERNAL, "spec: key %s has no scalar type", k->path);
	}
}

static int set_list(struct lctx *c, const struct key *k, const struct snode *n)
{
	if (n->kind != SN_SEQ)
		return perr(c, n, k->path, "expected a list such as [1, 2], got %s", kind_name(n));
	size_t max = k->type == KT_SETS ? 2 : SPEC_LIST_MAX;
	if (n->n > max)
		return perr(c, n, k->path, "too many items (%zu, at most %zu)", n->n, max);
	if (k->type == KT_SETS && n->n == 0)
		return perr(c, n, k->path, "empty list: name at least one set (corpus, synthetic)");
	char path[160];
	for (size_t i = 0; i < n->n; i++) {
		snprintf(path, sizeof(path), "%s[%zu]", k->path, i);
		void *dst;
		if (k->type == KT_SETS)
			dst = (enum spec_set *)field(c->s, k) + i;
		else if (k->type == KT_U64_LIST)
			dst = (uint64_t *)field(c->s, k) + i;
		else
			dst = (double *)field(c->s, k) + i;
		if (set_scalar(c, k, n->vals[i], path, dst))
			return -1;
		if (k->type == KT_SETS && i == 1 && c->s->ingest.sets[0] == c->s->ingest.sets[1])
			return perr(c, n->vals[i], path, "'%s' is listed twice", n->vals[i]->str);
	}
	*(size_t *)((char *)c->s + k->off2) = n->n;
	return 0;
}

/* ---- checks ------------------------------------------------------------------ */

static int parse_check_value(const char *v, enum spec_op *op, double *val)
{
	while (isspace((unsigned char)*v))
		v++;
	int o = -1;
	size_t ol = 0;
	if (!strncmp(v, "<=", 2)) o = SPEC_OP_LE, ol = 2;
	else if (!strncmp(v, ">=", 2)) o = SPEC_OP_GE, ol = 2;
	else if (!strncmp(v, "==", 2)) o = SPEC_OP_EQ, ol = 2;
	else if (*v == '<') o = SPEC_OP_LT, ol = 1;
	else if (*v == '>') o = SPEC_OP_GT, ol = 1;
	if (o < 0)
		return -1;
	v += ol;
	while (isspace((unsigned char)*v))
		v++;
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%s", v);
	size_t l = strlen(tmp);
	while (l && isspace((unsigned char)tmp[l - 1]))
		tmp[--l] = '\0';
	if (spec_parse_f64(tmp, val))
		return -1;
	*op = (enum spec_op)o;
	return 0;
}

static int parse_tolerance(const char *v, double *pct)
{
	if (v[0] != '+' && v[0] != '-')
		return -1;
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%s", v);
	size_t l = strlen(tmp);
	if (!l || tmp[l - 1] != '%')
		return -1;
	tmp[l - 1] = '\0';
	double d;
	if (spec_parse_f64(tmp, &d) || fabs(d) > 1e6)
		return -1;
	*pct = d == 0 ? 0 : d;
	return 0;
}

static int bad_metric(struct lctx *c, const struct snode *k, const char *path)
{
	char all[512];
	join_names(spec_metric_names, all, sizeof(all));
	perr(c, k, path, "unknown metric '%.60s' (one of: %s; with steps.runbook, absolute checks also take "
		 "runbook.recall_avg, runbook.{searchable,gone}_{p50,p99,max}_ms, runbook.tracers_timed_out and "
		 "runbook.<phase>.{recall,p50_ms,p99_ms,qps,errors,write_rate})", k->str, all);
	char ms[80];
	snprintf(ms, sizeof(ms), "%.60s_ms", k->str);
	const char *sug = enum_index(spec_metric_names, ms) >= 0 ? ms : text_suggest(k->str, spec_metric_names);
	if (sug)
		err_hint(c->e, "did you mean '%s'?", sug);
	return -1;
}

/* The step a check's metric comes from is in the spec, and a runbook
 * metric names something the runbook measures. */
static int check_applies(struct lctx *c, const char *metric)
{
	const struct spec *s = c->s;
	char path[96];
	snprintf(path, sizeof(path), "checks.%s", metric);
	long p;
	const char *leaf;
	if (!runbook_metric(metric, &p, &leaf)) {
		if (!s->loadtest.present)
			return perr(c, c->checks_node, path, "checks apply to load-test metrics; add steps.loadtest");
		return 0;
	}
	const struct spec_runbook *rb = &s->runbook;
	if (!rb->present)
		return perr(c, c->checks_node, path, "a runbook metric; add steps.runbook");
	if (p >= 0) {
		if ((size_t)p >= rb->n_phases)
			return perr(c, c->checks_node, path, "the runbook has phases 0..%zu, not %ld", rb->n_phases - 1, p);
		enum spec_phase_kind k = rb->phases[p].kind;
		int search = k == SPEC_PHASE_SEARCH, write = !search && k != SPEC_PHASE_WAIT;
		if (strcmp(leaf, "write_rate") ? !search : !write)
			return perr(c, c->checks_node, path, "phase %ld (%s) measures %s", p,
				    spec_phase_kind_names[k],
				    search ? "recall, p50_ms, p99_ms, qps and errors" : write ? "write_rate" : "nothing");
		return 0;
	}
	int writes = 0, deletes = 0, searches = 0;
	for (size_t i = 0; i < rb->n_phases; i++) {
		enum spec_phase_kind k = rb->phases[i].kind;
		searches += k == SPEC_PHASE_SEARCH;
		writes += k != SPEC_PHASE_SEARCH && k != SPEC_PHASE_WAIT;
		deletes += k == SPEC_PHASE_DELETE || k == SPEC_PHASE_REPLACE;
	}
	if (!strcmp(metric, "runbook.recall_avg") && !searches)
		return perr(c, c->checks_node, path, "the runbook has no search phase");
	if (!strncmp(metric, "runbook.searchable_", 19) || !strncmp(metric, "runbook.gone_", 13) ||
	    !strcmp(metric, "runbook.tracers_timed_out")) {
		if (!rb->tracers)
			return perr(c, c->checks_node, path, "readiness is measured by tracers; steps.runbook.tracers is 0");
		if (!strncmp(metric, "runbook.gone_", 13) && !deletes)
			return perr(c, c->checks_node, path, "the runbook deletes nothing (no delete or replace phase)");
		if (!writes)
			return perr(c, c->checks_node, path, "the runbook writes nothing");
	}
	return 0;
}

static int cmp_check(const void *a, const void *b)
{
	return strcmp(((const struct spec_check *)a)->metric, ((const struct spec_check *)b)->metric);
}
static int cmp_tol(const void *a, const void *b)
{
	return strcmp(((const struct spec_tolerance *)a)->metric, ((const struct spec_tolerance *)b)->metric);
}

static int load_baseline(struct lctx *c, const struct snode *m)
{
	struct spec_baseline *b = &c->s->baseline;
	if (m->kind != SN_MAP)
		return perr(c, m, "checks.baseline", "expected a map such as {ref: m17-1k, p99_ms: \"+5%%\"}, got %s",
			    kind_name(m));
	b->present = 1;
	char path[160];
	for (size_t i = 0; i < m->n; i++) {
		const struct snode *k = m->keys[i], *v = m->vals[i];
		snprintf(path, sizeof(path), "checks.baseline.%s", k->str);
		if (!strcmp(k->str, "ref")) {
			if (v->kind != SN_SCALAR || snode_is_null(v))
				return perr(c, v, path, "expected a ref name, got %s", kind_name(v));
			if (!valid_slug(v->str) && !strchr(v->str, '/'))
				return perr(c, v, path, "'%.60s' is not a ref name", v->str);
			free(b->ref);
			b->ref = xstrdup(v->str);
			continue;
		}
		if (enum_index(spec_metric_names, k->str) < 0) {
			const char *sug = text_suggest(k->str, (const char *const[]){ "ref", NULL });
			if (sug) {
				perr(c, k, path, "unknown key '%.60s'", k->str);
				return err_hint(c->e, "did you mean '%s'?", sug);
			}
			return bad_metric(c, k, path);
		}
		double pct;
		if (v->kind != SN_SCALAR || parse_tolerance(v->str, &pct)) {
			perr(c, v, path, "expected a signed percentage such as \"+5%%\" or \"-5%%\", got '%.60s'",
			     v->kind == SN_SCALAR ? v->str : kind_name(v));
			return err_hint(c->e, "+N%% lets the metric rise by at most N%% over the baseline, -N%% fall by at most N%%");
		}
		if (b->n_tol >= SPEC_CHECKS_MAX)
			return perr(c, k, path, "too many baseline tolerances");
		snprintf(b->tol[b->n_tol].metric, SPEC_METRIC_MAX, "%s", k->str);
		b->tol[b->n_tol++].pct = pct;
	}
	if (!b->ref)
		return perr(c, m, "checks.baseline.ref", "required key missing (the ref of the baseline run)");
	qsort(b->tol, b->n_tol, sizeof(b->tol[0]), cmp_tol);
	return 0;
}

static int load_checks(struct lctx *c, const struct snode *m)
{
	c->checks_node = (struct snode *)m;
	if (snode_is_null(m))
		return 0;
	if (m->kind != SN_MAP)
		return perr(c, m, "checks", "expected a map such as {p99_ms: \"< 50\"}, got %s", kind_name(m));
	struct spec *s = c->s;
	char path[160];
	for (size_t i = 0; i < m->n; i++) {
		const struct snode *k = m->keys[i], *v = m->vals[i];
		snprintf(path, sizeof(path), "checks.%s", k->str);
		if (!strcmp(k->str, "baseline")) {
			if (load_baseline(c, v))
				return -1;
			continue;
		}
		long rb_phase;
		const char *rb_leaf;
		if (enum_index(spec_metric_names, k->str) < 0 && !runbook_metric(k->str, &rb_phase, &rb_leaf))
			return bad_metric(c, k, path);
		enum spec_op op;
		double val;
		if (v->kind != SN_SCALAR || parse_check_value(v->str, &op, &val)) {
			perr(c, v, path, "expected a comparison such as \"< 50\", got '%.60s'",
			     v->kind == SN_SCALAR ? v->str : kind_name(v));
			return err_hint(c->e, "operators: <, <=, >, >=, == followed by a number; quote it in YAML");
		}
		if (s->n_checks >= SPEC_CHECKS_MAX)
			return perr(c, k, path, "too many checks");
		snprintf(s->checks[s->n_checks].metric, SPEC_METRIC_MAX, "%s", k->str);
		s->checks[s->n_checks].op = op;
		s->checks[s->n_checks].value = val == 0 ? 0 : val;
		s->n_checks++;
	}
	qsort(s->checks, s->n_checks, sizeof(s->checks[0]), cmp_check);
	return 0;
}

/* ---- walking the document ------------------------------------------------------ */

static int walk_map(struct lctx *c, const struct snode *m, const char *prefix)
{
	char path[160];
	for (size_t i = 0; i < m->n; i++) {
		const struct snode *kn = m->keys[i], *v = m->vals[i];
		if (*prefix)
			snprintf(path, sizeof(path), "%s.%s", prefix, kn->str);
		else
			snprintf(path, sizeof(path), "%s", kn->str);
		size_t idx;
		const struct key *k = key_find(path, &idx);
		if (!k) {
			const char *cand[64];
			size_t nc = 0;
			for (size_t j = 0; j < NKEYS && nc < 63; j++)
				if (key_is_child(keys[j].path, prefix))
					cand[nc++] = key_leaf(keys[j].path);
			cand[nc] = NULL;
			const char *sug = text_suggest(kn->str, cand);
			if (!strcmp(prefix, "steps"))
				perr(c, kn, path, "unknown step '%.60s' (steps: corpus, embed, centroids, synthetic, "
						  "queries, groundtruth, ingest, loadtest, runbook)", kn->str);
			else
				perr(c, kn, path, "unknown key '%.60s'", kn->str);
			if (sug)
				err_hint(c->e, "did you mean '%s'?", sug);
			else if (*prefix)
				err_hint(c->e, "see 'engrave spec keys' for the keys of %s", prefix);
			return -1;
		}
		c->set[idx] = (struct snode *)v;
		c->s->keyinfo[idx].line = v->line;
		c->s->keyinfo[idx].col = v->col;
		c->s->keyinfo[idx].origin = v->origin;
		switch (k->type) {
		case KT_SECTION:
			if (k->off != NOOFF)
				*(int *)field(c->s, k) = 1;
			if (snode_is_null(v))
				break; /* `groundtruth:` alone: the step with its defaults */
			if (v->kind != SN_MAP)
				return perr(c, v, path, "expected a map of settings, got %s", kind_name(v));
			if (walk_map(c, v, path))
				return -1;
			break;
		case KT_CHECKS:
			if (load_checks(c, v))
				return -1;
			break;
		case KT_RUNBOOK:
			if (spec_runbook_load(c->s, v, c->name, c->e))
				return -1;
			break;
		case KT_SETS:
		case KT_U64_LIST:
		case KT_F64_LIST:
			if (set_list(c, k, v))
				return -1;
			break;
		default:
			if (set_scalar(c, k, v, path, field(c->s, k)))
				return -1;
		}
	}
	return 0;
}

static int fill_defaults(struct lctx *c)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (!k->def)
			continue;
		struct snode n = { .kind = SN_SCALAR, .line = 0, .col = 0, .str = (char *)k->def, .plain = 1 };
		if (k->type == KT_STR)
			n.plain = 0;
		if (set_scalar(c, k, &n, k->path, field(c->s, k)))
			return err_prefix(c->e, "BUG: default of %s", k->path);
	}
	return 0;
}

static int has_corpus_vectors(const struct spec *s)
{
	return s->embed.present || (s->corpus.present && corpus_is_vectors(s));
}

/* One vector set of rows x dim float32 within SET_BYTES_MAX (each factor is
 * bounded by its key, so the product cannot wrap). */
static int check_set_bytes(struct lctx *c)
{
	const struct spec *s = c->s;
	uint64_t dim = spec_vector_dim(s);
	const struct { int on; const char *path, *what; uint64_t rows; } sets[] = {
		{ s->corpus.present && s->embed.present, "steps.corpus.limit", "corpus vectors", s->corpus.limit },
		{ s->synthetic.present, "steps.synthetic.count", "synthetic vectors", s->synthetic.count },
		{ s->queries.present, "steps.queries.count", "queries", s->queries.count },
	};
	for (size_t i = 0; dim && i < sizeof(sets) / sizeof(sets[0]); i++) {
		uint64_t bytes = sets[i].rows * dim * 4;
		char shown[32];
		text_format_bytes(bytes, shown, sizeof(shown));
		if (sets[i].on && bytes > SET_BYTES_MAX)
			return perr(c, pos_of(c, sets[i].path), sets[i].path,
				    "%llu %s of %llu floats are %s, more than the 256 TiB one vector set may hold",
				    (unsigned long long)sets[i].rows, sets[i].what, (unsigned long long)dim, shown);
	}
	return 0;
}

#define REPEAT_SWEEP_MSG "a sweep (%s) runs each phase once; repeat = %llu is not supported with it"
#define REPEAT_SWEEP_HINT \
	"repeat one phase: a spec without %s, with its arrival rate or max_in_flight set to the value you want"

/* Rules between keys, after every key is known. */
static int cross_checks(struct lctx *c)
{
	struct spec *s = c->s;

	/* Required keys and keys that do not apply. */
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		int active = key_active(s, k);
		if (c->set[i] && !active) {
			if (k->applies && !k->applies(s))
				return perr(c, c->set[i], k->path, "only used with %s; remove it", k->applies_doc);
			continue; /* inside a section that is itself rejected or absent */
		}
		if ((k->flags & KF_REQUIRED) && active && !c->set[i]) {
			char parent[128];
			snprintf(parent, sizeof(parent), "%s", k->path);
			char *dot = strrchr(parent, '.');
			if (dot)
				*dot = '\0';
			return perr(c, dot ? pos_of(c, parent) : c->root, k->path, "required key missing");
		}
	}

	/* Context-dependent defaults (the target's are the targets layer's). */
	if (s->ingest.present && !s->ingest.n_sets) {
		if (has_corpus_vectors(s))
			s->ingest.sets[s->ingest.n_sets++] = SPEC_SET_CORPUS;
		if (s->synthetic.present)
			s->ingest.sets[s->ingest.n_sets++] = SPEC_SET_SYNTHETIC;
		if (!s->ingest.n_sets)
			return perr(c, pos_of(c, "steps.ingest"), "steps.ingest",
				    "nothing to load: needs vectors from steps.embed (or a vector corpus) or steps.synthetic");
	}

	/* Step dependencies. */
	if (s->embed.present && !s->corpus.present)
		return perr(c, pos_of(c, "steps.embed"), "steps.embed",
			    "needs steps.corpus (the texts to embed); add a corpus step or remove embed");
	if (s->embed.present && corpus_is_vectors(s))
		return perr(c, pos_of(c, "steps.embed"), "steps.embed",
			    "the corpus (source %s) already holds vectors; remove the embed step",
			    spec_corpus_source_names[s->corpus.source]);
	if (s->centroids.present) {
		if (s->centroids.from == SPEC_FROM_STORE && !has_corpus_vectors(s))
			return perr(c, pos_of(c, "steps.centroids"), "steps.centroids",
				    "needs steps.embed (vectors to cluster); add corpus and embed steps, or use "
				    "from: target or from: random");
		if (s->centroids.from == SPEC_FROM_TARGET && !s->target.present)
			return perr(c, pos_of(c, "steps.centroids.from"), "steps.centroids.from",
				    "'target' needs a target section");
	}
	if (s->synthetic.present && !s->centroids.present)
		return perr(c, pos_of(c, "steps.synthetic"), "steps.synthetic",
			    "needs steps.centroids (the centres to draw around)");
	if (s->queries.present) {
		if (s->queries.source == SPEC_QSRC_SYNTHETIC && !s->synthetic.present)
			return perr(c, pos_of(c, "steps.queries.source"), "steps.queries",
				    "source synthetic needs steps.synthetic");
		if (s->queries.source == SPEC_QSRC_CORPUS && !has_corpus_vectors(s))
			return perr(c, pos_of(c, "steps.queries"), "steps.queries",
				    "source corpus needs corpus vectors (steps.corpus and steps.embed)");
		if (s->queries.source == SPEC_QSRC_HELDOUT && !s->centroids.present) {
			perr(c, pos_of(c, "steps.queries.source"), "steps.queries",
			     "source heldout draws fresh vectors around the centroids: it needs steps.centroids");
			return err_hint(c->e, "add centroids (k-means over the corpus: centroids: {k: 10}; or from: random), "
					      "or sample stored vectors with source: corpus or synthetic");
		}
	}
	if (s->groundtruth.present && !s->queries.present)
		return perr(c, pos_of(c, "steps.groundtruth"), "steps.groundtruth",
			    "needs steps.queries (the queries to answer)");
	if (s->ingest.present) {
		if (!s->target.present)
			return perr(c, pos_of(c, "steps.ingest"), "steps.ingest",
				    "needs a target section (where to load the vectors)");
		for (size_t i = 0; i < s->ingest.n_sets; i++) {
			if (s->ingest.sets[i] == SPEC_SET_CORPUS && !has_corpus_vectors(s))
				return perr(c, pos_of(c, "steps.ingest.sets"), "steps.ingest.sets",
					    "set corpus needs corpus vectors (steps.corpus and steps.embed)");
			if (s->ingest.sets[i] == SPEC_SET_SYNTHETIC && !s->synthetic.present)
				return perr(c, pos_of(c, "steps.ingest.sets"), "steps.ingest.sets",
					    "set synthetic needs steps.synthetic");
		}
	}
	if (s->loadtest.present && !s->target.present)
		return perr(c, pos_of(c, "steps.loadtest"), "steps.loadtest",
			    "needs a target section (the database to load-test)");
	if (s->baseline.present && !s->loadtest.present)
		return perr(c, c->checks_node, "checks", "checks apply to load-test metrics; add steps.loadtest");
	for (size_t i = 0; i < s->n_checks; i++)
		if (check_applies(c, s->checks[i].metric))
			return -1;

	/* Ranges that involve two keys. */
	uint64_t limit = s->corpus.present ? s->corpus.limit : 0;
	if (check_set_bytes(c))
		return -1;
	if (s->centroids.present && s->centroids.from == SPEC_FROM_STORE && limit && s->centroids.k > limit)
		return perr(c, pos_of(c, "steps.centroids.k"), "steps.centroids.k",
			    "k = %llu is more than the corpus (limit %llu): each centroid needs a vector",
			    (unsigned long long)s->centroids.k, (unsigned long long)limit);
	if (s->groundtruth.present) {
		/* The base is what is ingested, else every vector set; known only
		 * when each part's size is. */
		uint64_t base = 0;
		int known = 1;
		int use_corpus = s->ingest.present ? 0 : has_corpus_vectors(s);
		int use_syn = s->ingest.present ? 0 : s->synthetic.present;
		for (size_t i = 0; s->ingest.present && i < s->ingest.n_sets; i++) {
			use_corpus |= s->ingest.sets[i] == SPEC_SET_CORPUS;
			use_syn |= s->ingest.sets[i] == SPEC_SET_SYNTHETIC;
		}
		if (use_corpus) {
			if (limit)
				base += limit;
			else
				known = 0;
		}
		if (use_syn)
			base += s->synthetic.count;
		if (known && base && s->groundtruth.k > base)
			return perr(c, pos_of(c, "steps.groundtruth.k"), "steps.groundtruth.k",
				    "k = %llu is more than the %llu vectors searched",
				    (unsigned long long)s->groundtruth.k, (unsigned long long)base);
	}
	if (s->synthetic.present &&
	    s->synthetic.confidence_base + s->synthetic.confidence_jitter > 1.0 + 1e-12)
		return perr(c, pos_of(c, "steps.synthetic.confidence"), "steps.synthetic.confidence",
			    "base + jitter = %g exceeds 1", s->synthetic.confidence_base + s->synthetic.confidence_jitter);
	if (s->loadtest.present) {
		struct spec_loadtest *l = &s->loadtest;
		if (l->warmup_ns >= l->duration_ns && l->warmup_ns)
			return perr(c, pos_of(c, "steps.loadtest.warmup"), "steps.loadtest.warmup",
				    "must be shorter than duration");
		if (!(l->mix_store + l->mix_recall + l->mix_search > 0))
			return perr(c, pos_of(c, "steps.loadtest.mix"), "steps.loadtest.mix",
				    "all weights are 0: nothing to send");
		if (l->arrival.pattern == SPEC_ARRIVAL_PERIODIC_BURST &&
		    l->arrival.burst_duration_ns > l->arrival.burst_period_ns)
			return perr(c, pos_of(c, "steps.loadtest.arrival.burst_duration"),
				    "steps.loadtest.arrival.burst_duration", "is longer than burst_period");
		if (l->arrival.pattern == SPEC_ARRIVAL_RAMP && !(l->arrival.from_rate + l->arrival.to_rate > 0))
			return perr(c, pos_of(c, "steps.loadtest.arrival"), "steps.loadtest.arrival",
				    "from_rate and to_rate are both 0");
		if (l->repeat > 1 && spec_loadtest_sweeps(l)) {
			perr(c, pos_of(c, "steps.loadtest.repeat"), "steps.loadtest.repeat", REPEAT_SWEEP_MSG,
			     spec_loadtest_sweep_key(l), (unsigned long long)l->repeat);
			return err_hint(c->e, REPEAT_SWEEP_HINT, spec_loadtest_sweep_key(l));
		}
		if (l->n_ef_search && (l->n_rates || l->n_concurrency)) {
			perr(c, pos_of(c, "steps.loadtest.ef_search"), "steps.loadtest.ef_search",
			     "one sweep per spec: ef_search, or rates/concurrency");
			return err_hint(c->e, "split the sweeps into several specs");
		}
		if (l->slo_p99_ms > 0 && !l->n_rates && !l->n_concurrency)
			return perr(c, pos_of(c, "steps.loadtest.slo_p99_ms"), "steps.loadtest.slo_p99_ms",
				    "only used with a sweep (rates or concurrency)");
	}
	if (s->runbook.present) {
		const struct snode *at = pos_of(c, "steps.runbook.phases");
		if (!s->target.present)
			return perr(c, pos_of(c, "steps.runbook"), "steps.runbook",
				    "needs a target section (the database to run it against)");
		if (spec_runbook_check(s, c->name, at ? at->line : 1, at ? at->col : 1, c->e))
			return -1;
	}
	return 0;
}

/* ---- load / free ------------------------------------------------------------------ */

void spec_free(struct spec *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type == KT_STR)
			free(*(char **)field(s, &keys[i]));
	free(s->baseline.ref);
	free(s->source_text);
	free(s->source_name);
	free(s->base_dir);
	free(s->keyinfo);
	for (size_t i = 0; i < s->n_sets; i++)
		sset_release(&s->sets[i]);
	free(s->sets);
	free(s);
}

/* The text a spec with overrides keeps (and a run stores): its document
 * with the overrides applied, headed by a comment that lists them. */
static int effective_text(struct spec *s, const struct snode *root, struct err *e)
{
	struct buf b;
	buf_init(&b, 0);
	int rc = buf_printf(&b, e, "# %s with %zu --set override%s applied:\n", s->source_name, s->n_sets,
			    s->n_sets == 1 ? "" : "s");
	for (size_t i = 0; !rc && i < s->n_sets; i++) {
		rc = buf_append_str(&b, "#   --set ", e);
		for (const char *p = s->sets[i].arg; !rc && *p; p++) /* one comment line each */
			rc = buf_append(&b, (unsigned char)*p < 0x20 ? "?" : p, 1, e);
		rc = rc || buf_append_str(&b, "\n", e);
	}
	if (rc || stree_emit_yaml(root, &b, e)) {
		buf_release(&b);
		return -1;
	}
	free(s->source_text);
	s->source_text = buf_detach(&b, &s->source_len);
	return 0;
}

static int load(const char *text, size_t len, const char *name, const char *base_dir, const char *const *sets,
		size_t n_sets, struct spec **out, struct err *e)
{
	*out = NULL;
	if (n_sets > SPEC_SETS_MAX)
		return err_set(e, ERR_USAGE, "%zu --set overrides (at most %d)", n_sets, SPEC_SETS_MAX);
	struct spec *s = xcalloc(1, sizeof(*s));
	s->source_name = xstrdup(name);
	s->base_dir = xstrdup(base_dir);
	s->keyinfo = xcalloc(NKEYS, sizeof(*s->keyinfo));
	s->root_line = s->root_col = 1;
	if (!(s->source_text = xalloc_try_array(len + 1, 1, "the spec text", e))) {
		spec_free(s);
		return err_prefix(e, "%s", name);
	}
	memcpy(s->source_text, text, len);
	s->source_text[len] = '\0';
	s->source_len = len;

	struct lctx *c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->name = name;
	c->e = e;
	struct stree t;
	struct stree *vals = n_sets ? xcalloc(n_sets, sizeof(*vals)) : NULL;
	int rc = -1;
	s->sets = n_sets ? xcalloc(n_sets, sizeof(*s->sets)) : NULL;
	for (; s->n_sets < n_sets; s->n_sets++)
		if (sset_parse(sets[s->n_sets], &s->sets[s->n_sets], e))
			goto out_free;
	if (fill_defaults(c))
		goto out_free;
	if (memchr(text, '\0', len)) {
		err_set(e, ERR_SPEC, "%s:1:1: the file holds a NUL byte (not a text file?)", name);
		goto out_free;
	}
	if (stree_parse_yaml(&t, text, len, name, e))
		goto out_free;
	if (sset_graft_all(&t, s->sets, s->n_sets, vals, e)) {
		stree_release(&t);
		goto out_free;
	}
	c->root = t.root;
	if (t.root) {
		s->root_line = t.root->line;
		s->root_col = t.root->col;
	}
	if (!t.root || snode_is_null(t.root)) {
		err_set(e, ERR_SPEC, "%s:1:1: empty spec", name);
		err_hint(e, "a spec is a YAML map with at least 'name:'; see experiments/quickstart.yaml");
	} else if (t.root->kind != SN_MAP) {
		perr(c, t.root, NULL, "a spec must be a map of keys (name, target, steps, ...), got %s",
		     kind_name(t.root));
	} else if (!walk_map(c, t.root, "") && !cross_checks(c) && (!n_sets || !effective_text(s, t.root, e))) {
		rc = 0;
	}
	stree_release(&t);
out_free:
	for (size_t i = 0; i < n_sets; i++)
		stree_release(&vals[i]);
	free(vals);
	free(c);
	if (rc) {
		spec_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int spec_load_string(const char *text, size_t len, const char *name_for_errors, struct spec **out,
		     struct err *e)
{
	return spec_load_string_sets(text, len, name_for_errors, NULL, 0, out, e);
}

int spec_load_string_sets(const char *text, size_t len, const char *name_for_errors, const char *const *sets,
			  size_t n_sets, struct spec **out, struct err *e)
{
	return load(text, len, name_for_errors ? name_for_errors : "<string>", ".", sets, n_sets, out, e);
}

#define SPEC_FILE_MAX (4u << 20)

int spec_load_file(const char *path, struct spec **out, struct err *e)
{
	return spec_load_file_sets(path, NULL, 0, out, e);
}

int spec_load_file_sets(const char *path, const char *const *sets, size_t n_sets, struct spec **out, struct err *e)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (errno == ENOENT)
			return err_set(e, ERR_MISSING, "cannot open spec '%s': %s", path, strerror(errno));
		return err_set_errno(e, ERR_IO, errno, "cannot open spec '%s'", path);
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		err_set(e, ERR_USAGE, "spec '%s' is a directory, not a YAML file", path);
		return err_hint(e, "name the spec file itself, e.g. %s%sexperiment.yaml", path,
				path[0] && path[strlen(path) - 1] == '/' ? "" : "/");
	}
	struct buf b;
	buf_init(&b, SPEC_FILE_MAX);
	char chunk[65536];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, n, NULL)) {
			rc = err_set(e, ERR_SPEC, "%s: larger than 4 MiB; a spec is a small YAML file", path);
			break;
		}
	if (!rc && ferror(f))
		rc = err_set_errno(e, ERR_IO, errno, "cannot read spec '%s'", path);
	fclose(f);
	if (!rc) {
		char *dir = xstrdup(path);
		char *slash = strrchr(dir, '/');
		if (!slash)
			strcpy(dir, ".");
		else if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
		rc = load(b.data, b.len, path, dir, sets, n_sets, out, e);
		free(dir);
	}
	buf_release(&b);
	return rc;
}

const char *spec_source_text(const struct spec *s)
{
	return s->source_text;
}

size_t spec_sets(const struct spec *s, const char **out, size_t cap)
{
	for (size_t i = 0; i < s->n_sets && i < cap; i++)
		out[i] = s->sets[i].arg;
	return s->n_sets;
}

int spec_set_loadtest_repeat(struct spec *s, uint64_t n, struct err *e)
{
	const struct key *k = key_find("steps.loadtest.repeat", NULL);
	struct spec_loadtest *l = &s->loadtest;
	if (!l->present) {
		err_set(e, ERR_SPEC, "%s: steps.loadtest.repeat: the spec has no load test to repeat", s->source_name);
		return err_hint(e, "add a steps.loadtest section");
	}
	if ((double)n < k->min || (double)n > k->max)
		return err_set(e, ERR_SPEC, "%s: steps.loadtest.repeat: must be from %g to %g, got %llu", s->source_name,
			       k->min, k->max, (unsigned long long)n);
	if (n > 1 && spec_loadtest_sweeps(l)) {
		err_set(e, ERR_SPEC, "%s: steps.loadtest.repeat: " REPEAT_SWEEP_MSG, s->source_name,
			spec_loadtest_sweep_key(l), (unsigned long long)n);
		return err_hint(e, REPEAT_SWEEP_HINT, spec_loadtest_sweep_key(l));
	}
	l->repeat = n;
	struct buf y;
	buf_init(&y, 0);
	if (spec_canonical_yaml(s, &y, e)) {
		buf_release(&y);
		return -1;
	}
	free(s->source_text);
	s->source_text = buf_detach(&y, &s->source_len);
	return 0;
}

int spec_resolve_path(const struct spec *s, const char *path, struct buf *out, struct err *e)
{
	buf_reset(out);
	if (path[0] == '/' || !strcmp(s->base_dir, "."))
		return buf_append_str(out, path, e);
	return buf_printf(out, e, "%s/%s", s->base_dir, path);
}

uint64_t spec_vector_dim(const struct spec *s)
{
	if (s->embed.present)
		return s->embed.dim;
	if (s->centroids.present && s->centroids.from == SPEC_FROM_RANDOM)
		return s->centroids.dim;
	return 0;
}

int spec_step_present(const struct spec *s, const char *step)
{
	char path[64];
	snprintf(path, sizeof(path), "steps.%s", step);
	const struct key *k = key_find(path, NULL);
	if (!k || k->off == NOOFF)
		return 0;
	return *(const int *)cfield(s, k);
}

/* ---- --set key paths ------------------------------------------------------------- */

/* A suggestion for the unknown segment `seg` under section `sec`: a key
 * below it whose name is seg ("rate" -> "steps.loadtest.arrival.rate"),
 * else the nearest child name, else the nearest name anywhere below. */
static const char *suggest_under(const char *sec, const char *seg, char *out, size_t cap)
{
	size_t pl = strlen(sec);
	const char *kids[NKEYS + 1], *below[NKEYS + 1];
	size_t nk = 0, nb = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		const char *p = keys[i].path;
		if (pl && (strncmp(p, sec, pl) || p[pl] != '.'))
			continue;
		if (!strcmp(key_leaf(p), seg)) {
			snprintf(out, cap, "%s", p);
			return out;
		}
		if (key_is_child(p, sec))
			kids[nk++] = key_leaf(p);
		below[nb++] = p;
	}
	kids[nk] = NULL;
	const char *sug = text_suggest(seg, kids);
	if (sug) {
		snprintf(out, cap, "%.150s%s%.60s", sec, pl ? "." : "", sug);
		return out;
	}
	const char *leaves[NKEYS + 1];
	for (size_t i = 0; i < nb; i++)
		leaves[i] = key_leaf(below[i]);
	leaves[nb] = NULL;
	sug = text_suggest(seg, leaves);
	for (size_t i = 0; sug && i < nb; i++)
		if (leaves[i] == sug) {
			snprintf(out, cap, "%s", below[i]);
			return out;
		}
	return NULL;
}

int spec_key_resolve(const char *key, char *path, size_t cap, struct err *e)
{
	size_t kl = strlen(key);
	int bad = kl == 0 || kl > 120 || key[0] == '.' || key[kl - 1] == '.' || strstr(key, "..");
	for (const char *p = key; !bad && *p; p++)
		bad = !(isalnum((unsigned char)*p) || *p == '_' || *p == '.');
	if (bad) {
		err_set(e, ERR_SPEC, "--set %.100s: not a key path", key);
		return err_hint(e, "a key path names the keys the spec's YAML nests, joined by '.': "
				   "steps.loadtest.duration, target.url");
	}
	char first[128], sug[256];
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(key, "."), key);
	/* the spec's own paths; "loadtest.x" for "steps.loadtest.x" (no step is named like a top-level key) */
	if (key_find(first, NULL))
		snprintf(path, cap, "%s", key);
	else if (enum_index(spec_step_names, first) >= 0)
		snprintf(path, cap, "steps.%s", key);
	else {
		err_set(e, ERR_SPEC, "--set %s: unknown key '%s'", key, first);
		const char *cand[NKEYS + SPEC_NSTEPS + 1];
		size_t n = 0;
		for (size_t i = 0; i < NKEYS; i++)
			if (key_is_child(keys[i].path, ""))
				cand[n++] = keys[i].path;
		for (size_t i = 0; spec_step_names[i]; i++)
			cand[n++] = spec_step_names[i];
		cand[n] = NULL;
		const char *s = text_suggest(first, cand);
		if (s)
			return err_hint(e, "did you mean '%s'?", s);
		return err_hint(e, "a key path starts with name, description, seed, remote, target, steps or checks "
				   "(or a step: loadtest.duration is steps.loadtest.duration)");
	}
	if (!strncmp(path, "checks.", 7)) {
		/* checks.METRIC or checks.baseline.KEY: their names are checked when loaded */
		const char *rest = path + 7;
		long rb_phase;
		const char *rb_leaf;
		if (!strchr(rest, '.') || (!strncmp(rest, "baseline.", 9) && !strchr(rest + 9, '.')) ||
		    runbook_metric(rest, &rb_phase, &rb_leaf))
			return 0;
		err_set(e, ERR_SPEC, "--set %s: checks hold checks.METRIC and checks.baseline.KEY only", key);
		return err_hint(e, "e.g. --set 'checks.p99_ms=\"< 50\"' or --set checks.baseline.ref=m17-1k");
	}
	if (key_find(path, NULL))
		return 0;
	/* the longest known prefix, and the first segment after it */
	char pre[160], seg[128];
	snprintf(pre, sizeof(pre), "%s", path);
	const struct key *pk = NULL;
	for (char *dot; !pk && (dot = strrchr(pre, '.'));) {
		*dot = '\0';
		pk = key_find(pre, NULL);
	}
	if (!pk) /* the first segment is always known here */
		return err_set(e, ERR_INTERNAL, "--set %s: no section for '%s'", key, path);
	const char *after = path + strlen(pre) + 1;
	snprintf(seg, sizeof(seg), "%.*s", (int)strcspn(after, "."), after);
	if (pk->type != KT_SECTION)
		return err_set(e, ERR_SPEC, "--set %s: %s is a value, not a section: it has no key '%s'", key, pre, seg);
	if (!strcmp(pre, "steps")) {
		err_set(e, ERR_SPEC, "--set %s: unknown step '%s'", key, seg);
		const char *s = text_suggest(seg, spec_step_names);
		if (s)
			return err_hint(e, "did you mean 'steps.%s'?", s);
		return err_hint(e, "steps: corpus, embed, centroids, synthetic, queries, groundtruth, ingest, loadtest, runbook");
	}
	err_set(e, ERR_SPEC, "--set %s: unknown key '%s' in %s", key, seg, pre);
	if (suggest_under(pre, seg, sug, sizeof(sug)))
		return err_hint(e, "did you mean '%s'?", sug);
	return err_hint(e, "see 'engrave spec keys' for the keys of %s", pre);
}

/* ---- keys by path, for the layers above ---------------------------------------- */

size_t spec_section_keys(const char *section, const char **out, size_t cap)
{
	size_t pl = strlen(section), n = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		if (strncmp(keys[i].path, section, pl) || keys[i].path[pl] != '.')
			continue;
		if (n < cap)
			out[n] = keys[i].path;
		n++;
	}
	return n;
}

int spec_key_given(const struct spec *s, const char *path)
{
	size_t i;
	return key_find(path, &i) && s->keyinfo && s->keyinfo[i].line > 0;
}

int spec_key_error(const struct spec *s, const char *path, struct err *e, const char *fmt, ...)
{
	char reason[ERR_MSG_MAX / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	/* the key's node if written, else its nearest written section (pos_of) */
	int line = s->root_line, col = s->root_col;
	const struct sorigin *o = NULL;
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		size_t i;
		if (key_find(buf, &i) && s->keyinfo && s->keyinfo[i].line > 0) {
			line = s->keyinfo[i].line;
			col = s->keyinfo[i].col;
			o = s->keyinfo[i].origin;
			break;
		}
		char *dot = strrchr(buf, '.');
		if (!dot)
			break;
		*dot = '\0';
	}
	return spec_err_at(e, s->source_name, line, col, o, path, reason);
}

int spec_key_omit(struct spec *s, const char *path, struct err *e)
{
	size_t i;
	if (!key_find(path, &i) || !s->keyinfo)
		return err_set(e, ERR_INTERNAL, "spec: no key '%s' to leave out", path);
	s->keyinfo[i].omit = 1;
	return 0;
}

static const struct key *str_key(const char *path)
{
	const struct key *k = key_find(path, NULL);
	return k && k->type == KT_STR ? k : NULL;
}

const char *spec_key_str(const struct spec *s, const char *path)
{
	const struct key *k = str_key(path);
	return k ? *(char *const *)cfield(s, k) : NULL;
}

int spec_key_set_str(struct spec *s, const char *path, const char *value, struct err *e)
{
	const struct key *k = str_key(path);
	if (!k)
		return err_set(e, ERR_INTERNAL, "spec: '%s' is not a string key", path);
	char *dup = value ? xstrdup(value) : NULL;
	free(*(char **)field(s, k));
	*(char **)field(s, k) = dup;
	return 0;
}

/* ---- output: one walker, two syntaxes ----------------------------------------------- */

struct ow {
	struct buf *b;
	struct err *e;
	int yaml;
	int depth;
	int count[32]; /* items written at each depth */
	int rc;
};

static void ow_raw(struct ow *w, const char *s)
{
	if (!w->rc && buf_append_str(w->b, s, w->e))
		w->rc = -1;
}

void spec_fmt_double(double v, char *out, size_t cap)
{
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(out, cap, "%.0f", v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, cap, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

void spec_fmt_duration(uint64_t ns, char *out, size_t cap)
{
	if (ns && ns % NS_PER_S == 0)
		snprintf(out, cap, "%llus", (unsigned long long)(ns / NS_PER_S));
	else if (ns % NS_PER_MS == 0)
		snprintf(out, cap, "%llu%s", (unsigned long long)(ns / NS_PER_MS), ns ? "ms" : "s");
	else if (ns % NS_PER_US == 0)
		snprintf(out, cap, "%lluus", (unsigned long long)(ns / NS_PER_US));
	else
		snprintf(out, cap, "%lluns", (unsigned long long)ns);
}

static void ow_json_string(struct ow *w, const char *s)
{
	ow_raw(w, "\"");
	char tmp[8];
	const char *run = s;
	for (const char *p = s;; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch && ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		if (p > run && !w->rc && buf_append(w->b, run, (size_t)(p - run), w->e))
			w->rc = -1;
		if (!ch)
			break;
		if (ch == '"')
			ow_raw(w, "\\\"");
		else if (ch == '\\')
			ow_raw(w, "\\\\");
		else if (ch == '\n')
			ow_raw(w, "\\n");
		else if (ch == '\t')
			ow_raw(w, "\\t");
		else {
			snprintf(tmp, sizeof(tmp), "\\u%04x", ch);
			ow_raw(w, tmp);
		}
		run = p + 1;
	}
	ow_raw(w, "\"");
}

/* YAML plain scalars are used only when they cannot be read back as
 * anything but this string. */
static int yaml_plain_ok(const char *s)
{
	if (!*s || strlen(s) > 200)
		return 0;
	if (!isalpha((unsigned char)s[0]) && s[0] != '/' && s[0] != '_') {
		/* "30s" may stay plain; "1e5", "0x10", ".5" would read as numbers */
		char *end;
		if (!isdigit((unsigned char)s[0]))
			return 0;
		strtod(s, &end);
		if (!*end)
			return 0;
	}
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) || strchr("._-/+", *p) || (*p == ':' && p[1] != ' ' && p[1])))
			return 0;
	static const char *const reserved[] = { "true", "false", "True", "False", "TRUE", "FALSE", "null",
						"Null", "NULL", "yes", "no", "on", "off", "y", "n", NULL };
	return enum_index(reserved, s) < 0;
}

static void ow_indent(struct ow *w)
{
	ow_raw(w, "\n");
	for (int i = 0; i < w->depth; i++)
		ow_raw(w, "  ");
}

static void ow_key(struct ow *w, const char *k)
{
	if (w->yaml) {
		if (w->depth || w->count[0])
			ow_indent(w);
		ow_raw(w, k);
		ow_raw(w, ":");
	} else {
		if (w->count[w->depth])
			ow_raw(w, ",");
		ow_json_string(w, k);
		ow_raw(w, ":");
	}
	w->count[w->depth]++;
}

/* A scalar value: `raw` is a number/bool literal, else a string. */
static void ow_value(struct ow *w, const char *v, int is_string)
{
	if (w->yaml)
		ow_raw(w, " ");
	if (!is_string || (w->yaml && yaml_plain_ok(v)))
		ow_raw(w, v);
	else
		ow_json_string(w, v);
}

static void ow_map_begin(struct ow *w)
{
	if (!w->yaml)
		ow_raw(w, "{");
	w->depth++;
	w->count[w->depth] = 0;
}

static void ow_map_end(struct ow *w)
{
	int n = w->count[w->depth];
	w->depth--;
	if (!w->yaml)
		ow_raw(w, "}");
	else if (!n)
		ow_raw(w, " {}");
}

static void ow_list_item(struct ow *w, size_t i, const char *v, int is_string)
{
	ow_raw(w, i ? (w->yaml ? ", " : ",") : (w->yaml ? " [" : "["));
	if (!is_string || (w->yaml && yaml_plain_ok(v)))
		ow_raw(w, v);
	else
		ow_json_string(w, v);
}

static void emit_value(struct ow *w, const struct spec *s, const struct key *k)
{
	char tmp[64];
	const void *f = k->off == NOOFF ? NULL : cfield(s, k); /* the runbook's phases have no field */
	switch (k->type) {
	case KT_STR:
		ow_value(w, *(char *const *)f, 1);
		break;
	case KT_ENUM:
		ow_value(w, k->names[*(const int *)f], 1);
		break;
	case KT_U64:
		snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)*(const uint64_t *)f);
		ow_value(w, tmp, 0);
		break;
	case KT_F64:
		spec_fmt_double(*(const double *)f, tmp, sizeof(tmp));
		ow_value(w, tmp, 0);
		break;
	case KT_BOOL:
		ow_value(w, *(const int *)f ? "true" : "false", 0);
		break;
	case KT_DUR:
		spec_fmt_duration(*(const uint64_t *)f, tmp, sizeof(tmp));
		ow_value(w, tmp, 1);
		break;
	case KT_RUNBOOK:
		if (w->yaml)
			ow_raw(w, " ");
		if (!w->rc && spec_runbook_emit(s, w->b, w->e))
			w->rc = -1;
		break;
	case KT_SETS:
	case KT_U64_LIST:
	case KT_F64_LIST: {
		size_t n = *(const size_t *)((const char *)s + k->off2);
		if (!n && w->yaml)
			ow_raw(w, " [");
		else if (!n)
			ow_raw(w, "[");
		for (size_t i = 0; i < n; i++) {
			if (k->type == KT_SETS)
				ow_list_item(w, i, k->names[((const enum spec_set *)f)[i]], 1);
			else if (k->type == KT_U64_LIST) {
				snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)((const uint64_t *)f)[i]);
				ow_list_item(w, i, tmp, 0);
			} else {
				spec_fmt_double(((const double *)f)[i], tmp, sizeof(tmp));
				ow_list_item(w, i, tmp, 0);
			}
		}
		ow_raw(w, "]");
		break;
	}
	default:
		break;
	}
}

static const char *op_text(enum spec_op op)
{
	return spec_op_names[op];
}

static void emit_checks(struct ow *w, const struct spec *s)
{
	ow_map_begin(w);
	char tmp[96], num[48];
	size_t ci = 0;
	int baseline_done = !s->baseline.present;
	/* Merge "baseline" into the sorted metric names. */
	while (ci < s->n_checks || !baseline_done) {
		if (!baseline_done && (ci >= s->n_checks || strcmp("baseline", s->checks[ci].metric) < 0)) {
			ow_key(w, "baseline");
			ow_map_begin(w);
			size_t ti = 0;
			int ref_done = 0;
			while (ti < s->baseline.n_tol || !ref_done) {
				if (!ref_done && (ti >= s->baseline.n_tol || strcmp("ref", s->baseline.tol[ti].metric) < 0)) {
					ow_key(w, "ref");
					ow_value(w, s->baseline.ref, 1);
					ref_done = 1;
					continue;
				}
				spec_fmt_double(s->baseline.tol[ti].pct, num, sizeof(num));
				snprintf(tmp, sizeof(tmp), "%s%s%%", s->baseline.tol[ti].pct >= 0 ? "+" : "", num);
				ow_key(w, s->baseline.tol[ti].metric);
				ow_value(w, tmp, 1);
				ti++;
			}
			ow_map_end(w);
			baseline_done = 1;
			continue;
		}
		spec_fmt_double(s->checks[ci].value, num, sizeof(num));
		snprintf(tmp, sizeof(tmp), "%s %s", op_text(s->checks[ci].op), num);
		ow_key(w, s->checks[ci].metric);
		ow_value(w, tmp, 1);
		ci++;
	}
	ow_map_end(w);
}

static int cmp_leaf(const void *a, const void *b)
{
	const struct key *ka = *(const struct key *const *)a, *kb = *(const struct key *const *)b;
	return strcmp(key_leaf(ka->path), key_leaf(kb->path));
}

/* A KF_NEW key at its default is left out (an integer or a boolean default). */
static int key_new_at_default(const struct spec *s, const struct key *k)
{
	if (!(k->flags & KF_NEW))
		return 0;
	if (k->type == KT_BOOL)
		return *(const int *)cfield(s, k) == !strcmp(k->def, "true");
	if (k->type == KT_U64_LIST) /* a new list: left out while empty */
		return *(const size_t *)((const char *)s + k->off2) == 0;
	return k->type == KT_U64 && *(const uint64_t *)cfield(s, k) == strtoull(k->def, NULL, 0);
}

/* Would emit_section write anything for this key? */
static int key_emits(const struct spec *s, const struct key *k)
{
	if (!key_active(s, k) || key_new_at_default(s, k))
		return 0;
	if (k->type == KT_SECTION && k->off != NOOFF && !*(const int *)cfield(s, k))
		return 0;
	if (k->type == KT_STR)
		return *(char *const *)cfield(s, k) != NULL;
	if (k->type == KT_CHECKS)
		return s->n_checks || s->baseline.present;
	if (k->type == KT_SECTION && k->off == NOOFF && strcmp(k->path, "steps")) {
		for (size_t i = 0; i < NKEYS; i++)
			if (key_is_child(keys[i].path, k->path) && key_emits(s, &keys[i]))
				return 1;
		return 0;
	}
	return 1;
}

static void emit_section(struct ow *w, const struct spec *s, const char *prefix)
{
	const struct key *kids[64];
	size_t n = 0;
	for (size_t i = 0; i < NKEYS && n < 64; i++)
		if (key_is_child(keys[i].path, prefix) && key_emits(s, &keys[i]))
			kids[n++] = &keys[i];
	if (!w->yaml) /* JSON sorts; YAML keeps the table's (pipeline) order */
		qsort(kids, n, sizeof(kids[0]), cmp_leaf);
	ow_map_begin(w);
	for (size_t i = 0; i < n; i++) {
		const struct key *k = kids[i];
		ow_key(w, key_leaf(k->path));
		if (k->type == KT_SECTION)
			emit_section(w, s, k->path);
		else if (k->type == KT_CHECKS)
			emit_checks(w, s);
		else
			emit_value(w, s, k);
	}
	ow_map_end(w);
}

int spec_canonical(const struct spec *s, struct buf *out, struct err *e)
{
	struct ow w = { .b = out, .e = e };
	emit_section(&w, s, "");
	ow_raw(&w, "\n");
	return w.rc;
}

int spec_canonical_yaml(const struct spec *s, struct buf *out, struct err *e)
{
	/* The top-level map writes its keys at column 0: depth 0, no braces. */
	struct ow w = { .b = out, .e = e, .yaml = 1 };
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (!key_is_child(k->path, "") || !key_emits(s, k))
			continue;
		ow_key(&w, k->path);
		if (k->type == KT_SECTION)
			emit_section(&w, s, k->path);
		else if (k->type == KT_CHECKS)
			emit_checks(&w, s);
		else
			emit_value(&w, s, k);
	}
	ow_raw(&w, "\n");
	return w.rc;
}

void spec_digest(const struct spec *s, struct digest *out)
{
	struct buf b;
	buf_init(&b, 0);
	if (spec_canonical(s, &b, NULL))
		BUG("spec_canonical failed on an unlimited buffer");
	hash_bytes(b.data, b.len, out);
	buf_release(&b);
}

int spec_step_params(const struct spec *s, const char *step, struct buf *out, struct err *e)
{
	char path[64];
	snprintf(path, sizeof(path), "steps.%.50s", step);
	const struct key *k = key_find(path, NULL);
	if (!k || k->type != KT_SECTION || k->off == NOOFF)
		return err_set(e, ERR_USAGE, "unknown step '%s'", step);
	if (!*(const int *)cfield(s, k))
		return err_set(e, ERR_MISSING, "spec '%s' has no step '%s'", s->name, step);
	struct ow w = { .b = out, .e = e };
	emit_section(&w, s, path);
	return w.rc;
}

/* ---- the key reference ----------------------------------------------------------- */

static void type_text(const struct key *k, const char *const *names, char *out, size_t cap, int markdown)
{
	char all[256];
	switch (names ? KT_ENUM : k->type) {
	case KT_STR: snprintf(out, cap, "string"); break;
	case KT_ENUM:
		join_names(names ? names : k->names, all, sizeof(all));
		for (char *p = all; !markdown && *p; p++) /* markdown tables cannot hold '|' */
			if (*p == ',')
				*p = '|';
		snprintf(out, cap, "one of %s", all);
		break;
	case KT_U64: snprintf(out, cap, "integer"); break;
	case KT_F64: snprintf(out, cap, "number"); break;
	case KT_BOOL: snprintf(out, cap, "bool"); break;
	case KT_DUR: snprintf(out, cap, "duration"); break;
	case KT_SETS: snprintf(out, cap, markdown ? "list of corpus, synthetic" : "list of corpus|synthetic"); break;
	case KT_U64_LIST: snprintf(out, cap, "list of integers"); break;
	case KT_F64_LIST: snprintf(out, cap, "list of numbers"); break;
	case KT_CHECKS: snprintf(out, cap, "map"); break;
	case KT_RUNBOOK: snprintf(out, cap, "list of phases"); break;
	case KT_SECTION: snprintf(out, cap, "section"); break;
	}
	/* "one of a| b" -> "one of a|b" */
	char *r = out, *wp = out;
	for (; *r; r++)
		if (!(*r == ' ' && r > out && r[-1] == '|'))
			*wp++ = *r;
	*wp = '\0';
}

static void default_text(const struct key *k, const char *note, char *out, size_t cap)
{
	if (k->flags & KF_REQUIRED)
		snprintf(out, cap, "required");
	else if (note && *note)
		snprintf(out, cap, "%s", note);
	else if (k->defdoc)
		snprintf(out, cap, "%s", k->defdoc);
	else if (k->def && k->type == KT_STR)
		snprintf(out, cap, "\"%s\"", k->def);
	else if (k->def)
		snprintf(out, cap, "%s", k->def);
	else
		snprintf(out, cap, "-");
}

static const char checks_doc[] =
	"checks.<metric>: \"<op> <number>\" with op one of <, <=, >, >=, ==; the run fails\n"
	"  (exit 1) when the comparison is false. Metrics: %s. With steps.runbook also\n"
	"  runbook.recall_avg, runbook.{searchable,gone}_{p50,p99,max}_ms, runbook.tracers_timed_out,\n"
	"  runbook.<phase>.{recall,p50_ms,p99_ms,qps,errors} (search phases), .write_rate (writes).\n"
	"checks.baseline.ref: the ref of a baseline run (e.g. m17-1k), required in baseline.\n"
	"checks.baseline.<metric>: \"+N%%\" (may rise by at most N%% over the baseline) or\n"
	"  \"-N%%\" (may fall by at most N%%).\n"
	"Durations: a number with a unit (ns, us, ms, s, m, h); a bare number is seconds.\n"
	"Integers may be written in decimal or 0x hex. Unknown keys are errors.\n";

int spec_keys_doc(struct buf *out, int markdown, struct err *e)
{
	return spec_keys_doc_noted(out, markdown, NULL, NULL, e);
}

int spec_keys_doc_noted(struct buf *out, int markdown, spec_key_note_fn *fn, void *ctx, struct err *e)
{
	char type[320], def[300], metrics[512];
	join_names(spec_metric_names, metrics, sizeof(metrics));
	if (markdown &&
	    buf_append_str(out,
			   "# Spec keys\n\n"
			   "Generated by `engrave spec keys --markdown` from the table the validator uses\n"
			   "(src/spec/spec.c) and the driver table (src/targets/); do not edit by hand.\n\n"
			   "A spec is one YAML map. Sections marked \"step\" run only when present; an empty\n"
			   "step (`groundtruth: {}` or `groundtruth:`) runs with its defaults. Keys that only\n"
			   "apply to some settings are rejected elsewhere. See experiments/*.yaml for\n"
			   "complete examples.\n\n## Top level\n\n| key | type | default | meaning |\n|---|---|---|---|\n",
			   e))
		return -1;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		int rc;
		struct spec_key_note note = { 0 };
		if (fn)
			fn(k->path, &note, ctx);
		const char *apd = note.applies[0] ? note.applies : k->applies_doc;
		if (k->type == KT_SECTION) {
			if (markdown)
				rc = buf_printf(out, e,
						"\n## `%s`%s\n\n%s%s%s%s\n%s",
						k->path, k->off != NOOFF && !strncmp(k->path, "steps.", 6) ? " (step)" : "",
						k->doc, apd ? " (only with " : "",
						apd ? apd : "", apd ? ")" : "",
						i + 1 < NKEYS && keys[i + 1].type != KT_SECTION && key_is_child(keys[i + 1].path, k->path)
							? "\n| key | type | default | meaning |\n|---|---|---|---|\n"
							: "");
			else
				rc = buf_printf(out, e, "\n%s:%s  %s%s%s%s\n", k->path,
						k->off != NOOFF && !strncmp(k->path, "steps.", 6) ? " (step)" : "", k->doc,
						apd ? " (only with " : "", apd ? apd : "",
						apd ? ")" : "");
			if (rc)
				return -1;
			continue;
		}
		if (k->type == KT_CHECKS) {
			if (buf_printf(out, e, markdown ? "\n## `%s`\n\n%s.\n" : "\n%s:  %s\n", k->path, k->doc))
				return -1;
			continue;
		}
		type_text(k, note.names, type, sizeof(type), markdown);
		default_text(k, note.def, def, sizeof(def));
		if (markdown)
			rc = buf_printf(out, e, "| `%s` | %s | %s | %s%s%s%s |\n", k->path, type, def, k->doc,
					apd ? " (only with " : "", apd ? apd : "",
					apd ? ")" : "");
		else
			rc = buf_printf(out, e, "  %s  (%s, %s%s)\n      %s%s%s%s\n", k->path, type,
					(k->flags & KF_REQUIRED) ? "" : "default ", def, k->doc,
					apd ? " (only with " : "", apd ? apd : "",
					apd ? ")" : "");
		if (rc)
			return -1;
	}
	if (markdown && buf_append_str(out, "\n```\n", e))
		return -1;
	if (!markdown && buf_append_str(out, "\n", e))
		return -1;
	if (buf_printf(out, e, checks_doc, metrics))
		return -1;
	if (markdown && buf_append_str(out, "```\n", e))
		return -1;
	return 0;
}
