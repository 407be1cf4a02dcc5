/*
 * spec.h — experiment specs: YAML in, a typed and validated struct out.
 *
 * A spec is parsed (libyaml, inside src/spec/ only), checked against one key
 * table (type, default, range, documentation: the same table prints
 * `engrave spec keys` and docs/spec.md), and returned as a `struct spec` with
 * every default filled in. Everything the runner needs is a plain field of
 * the public struct below; read it directly.
 *
 * Digest: spec_canonical() renders the resolved spec as compact JSON with
 * keys sorted and defaults filled in; spec_digest() is SHA-256 of those
 * bytes. Reordering keys, comments, quoting/flow style or writing a default
 * explicitly leave it unchanged; changing any value changes it. `name` and
 * `description` are part of it. Secrets are never stored: only the NAME of
 * the environment variable holding a bearer token (`*_bearer_env`).
 *
 * Paths (corpus.path) are kept exactly as written so the digest does not
 * depend on where the file lives; spec_resolve_path() turns a relative path
 * into one relative to the spec file's directory (the rule for all paths in
 * a spec, like docker-compose).
 *
 * Keys that only apply to some settings (arrival.burst_rate for
 * periodic_burst, embed.url for the http embedder, ...) are rejected when set
 * elsewhere and left out of the canonical form; their fields hold the
 * defaults.
 *
 * The target section is driver-agnostic here: `target.driver` is any string
 * and every target.* key is accepted (type and range are still checked). The
 * drivers' facts live in the targets layer, which resolves a loaded spec
 * (target_spec_resolve in target.h): it checks the driver name and the keys
 * that driver takes, fills its defaults (url, namespace) and marks the keys
 * it does not take with spec_key_omit() so the canonical form leaves them
 * out. Programs load specs through target_spec_load_*, which does both; a
 * spec from spec_load_* alone renders its target section as written.
 *
 * Ownership: spec_load_* allocate; the caller frees with spec_free(). All
 * strings inside are owned by the spec; NULL means "not set".
 * Thread safety: a loaded spec is read-only and may be shared by threads.
 */
#ifndef ENGRAVE_SPEC_H
#define ENGRAVE_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/hash.h"

struct err;
struct buf;
struct spec_keyinfo;
struct sorigin;

#define SPEC_LIST_MAX 64
#define SPEC_CHECKS_MAX 32
#define SPEC_METRIC_MAX 32
#define SPEC_SETS_MAX 32     /* --set overrides of one load */

/* ---- enumerations (each has a name table below, same order) ---------- */

enum spec_space { SPEC_SPACE_COSINE, SPEC_SPACE_L2, SPEC_SPACE_IP };
enum spec_corpus_source {
	SPEC_SRC_MEDIAWIKI, SPEC_SRC_JSONL, SPEC_SRC_NPY, SPEC_SRC_FVECS, SPEC_SRC_SAMPLE
};
/* What text of an article is embedded. */
enum spec_text { SPEC_TEXT_TITLE_LEAD, SPEC_TEXT_LEAD, SPEC_TEXT_TITLE_FULL, SPEC_TEXT_FULL };
enum spec_embedder { SPEC_EMBEDDER_HASHING, SPEC_EMBEDDER_HTTP };
enum spec_embed_api { SPEC_API_OPENAI, SPEC_API_OLLAMA };
enum spec_kmeans { SPEC_KMEANS_LLOYD, SPEC_KMEANS_MINIBATCH };
/* store: the embed step's vectors; target: embeddings fetched from the
 * target; random: k centres drawn uniformly from [-1,1]^dim (Engram's
 * loadtest generator) — needs no corpus at all. */
enum spec_centroids_from { SPEC_FROM_STORE, SPEC_FROM_TARGET, SPEC_FROM_RANDOM };
enum spec_kmeans_init { SPEC_INIT_KMEANSPP, SPEC_INIT_RANDOM };
enum spec_query_source { SPEC_QSRC_CORPUS, SPEC_QSRC_SYNTHETIC, SPEC_QSRC_HELDOUT };
enum spec_set { SPEC_SET_CORPUS, SPEC_SET_SYNTHETIC };
enum spec_arrival {
	SPEC_ARRIVAL_CONSTANT, SPEC_ARRIVAL_POISSON, SPEC_ARRIVAL_PERIODIC_BURST, SPEC_ARRIVAL_RAMP
};
enum spec_op { SPEC_OP_LT, SPEC_OP_LE, SPEC_OP_GT, SPEC_OP_GE, SPEC_OP_EQ };

/* NULL-terminated name tables, indexed by the enums above. */
extern const char *const spec_space_names[];
extern const char *const spec_index_type_names[];  /* "hnsw", "ivfflat", "none" */
extern const char *const spec_index_build_names[]; /* "after", "before" */
extern const char *const spec_query_source_names[];
extern const char *const spec_op_names[];   /* "<", "<=", ">", ">=", "==" */

/* Pipeline steps in order: "corpus", "embed", "centroids", "synthetic",
 * "queries", "groundtruth", "ingest", "loadtest", "runbook", NULL. */
extern const char *const spec_step_names[];
#define SPEC_NSTEPS 9

/* ---- the typed spec ---------------------------------------------------- */

struct spec_hnsw {
	enum spec_space space;       /* cosine */
	uint64_t m;                  /* max neighbours per node, 16 */
	uint64_t ef_construction;    /* 200 */
	uint64_t ef_search;          /* 64 */
};

/* target.index: the vector index of drivers that choose one (pgvector). */
struct spec_index {
	int type;                    /* spec_index_type_names: hnsw */
	uint64_t lists;              /* ivfflat lists, 100 */
	uint64_t probes;             /* ivfflat probes per search, 10 */
	int build;                   /* spec_index_build_names: after (the load) */
};

/* Which keys a driver takes, their defaults and their valid values are the
 * targets layer's (target_spec_resolve); until then the strings are as
 * written (NULL when not written). */
struct spec_target {
	int present;                 /* a `target:` section was given */
	char *driver;                /* required when present: a driver name */
	char *url;                   /* resolved: the driver's default; NULL for in-process drivers */
	char *space;                 /* namespace of drivers that call it `space` */
	uint64_t spaces;             /* spread the load over N spaces (space_0..), 1 = just `space` */
	char *collection;            /* namespace of drivers that call it `collection` */
	char *auth_bearer_env;       /* NAME of the env var with the token, or NULL */
	uint64_t timeout_ns;         /* per request, 30s */
	struct spec_hnsw hnsw;
	char *table;                 /* namespace of drivers that call it `table` */
	struct spec_index index;
	int resolved;                /* set by target_spec_resolve */
};

struct spec_corpus {
	int present;
	enum spec_corpus_source source;  /* required */
	char *path;                  /* required unless source is sample; as written */
	uint64_t limit;              /* 0 = all */
	uint64_t min_chars;          /* 50 */
	enum spec_text text;         /* title+lead */
	uint64_t lead_chars;         /* 1000 */
};

struct spec_embed {
	int present;
	enum spec_embedder embedder; /* hashing */
	char *url;                   /* http only, required */
	char *model;                 /* http only, required */
	enum spec_embed_api api;     /* http only, openai */
	char *auth_bearer_env;       /* http only, NULL */
	uint64_t dim;                /* 768 */
	uint64_t batch_size;         /* 64 */
	uint64_t concurrency;        /* 4 */
	uint64_t retries;            /* 5 */
	uint64_t timeout_ns;         /* 30s */
};

struct spec_centroids {
	int present;
	uint64_t k;                  /* 100 */
	enum spec_kmeans algorithm;  /* lloyd */
	uint64_t batch_size;         /* minibatch only, 1024 */
	uint64_t max_iter;           /* 100 */
	double tol;                  /* 1e-4 */
	enum spec_centroids_from from;   /* store */
	enum spec_kmeans_init init;  /* kmeans++ */
	uint64_t dim;                /* from: random only (else the embed dim), 768 */
};

struct spec_synthetic {
	int present;
	uint64_t count;              /* required, > 0 */
	double std_dev;              /* 0.1, >= 0 */
	int normalize;               /* true */
	double confidence_base;      /* 0.7, in [0,1] */
	double confidence_jitter;    /* 0.1, >= 0 */
	char *id_prefix;             /* "syn-" */
};

struct spec_queries {
	int present;
	uint64_t count;              /* 1000 */
	enum spec_query_source source;   /* corpus */
	double noise;                /* 0 (std dev of Gaussian noise added) */
};

struct spec_groundtruth {
	int present;
	uint64_t k;                  /* 10 */
};

struct spec_ingest {
	int present;
	enum spec_set sets[2];       /* default: corpus and/or synthetic, whichever steps exist */
	size_t n_sets;
	uint64_t concurrency;        /* 8 */
	uint64_t batch_size;         /* 100 */
	uint64_t retries;            /* 5 */
	uint64_t timeout_ns;         /* 30s */
	uint64_t verify_sample;      /* 100; 0 = no read-back */
	int adaptive;                /* true: the window follows the target's latency */
};

struct spec_arrival_cfg {
	enum spec_arrival pattern;   /* constant */
	double rate;                 /* constant, poisson: ops/s, 100 */
	double base_rate;            /* periodic_burst, 100 */
	double burst_rate;           /* periodic_burst, 1000 */
	uint64_t burst_duration_ns;  /* periodic_burst, 10s */
	uint64_t burst_period_ns;    /* periodic_burst, 60s */
	double from_rate;            /* ramp, 10 */
	double to_rate;              /* ramp, 1000 */
};

struct spec_loadtest {
	int present;
	uint64_t duration_ns;        /* 60s, > 0 */
	uint64_t warmup_ns;          /* 0; < duration */
	struct spec_arrival_cfg arrival;
	uint64_t max_in_flight;      /* 256 */
	uint64_t connections;        /* connections to the target, 0 = the driver's default */
	uint64_t lateness_bound_ns;  /* a send later than this after its due time is counted late, 10ms */
	double mix_store;            /* 0.5 */
	double mix_recall;           /* 0.425 */
	double mix_search;           /* 0.075  (weights, >= 0, not all 0; relative) */
	uint64_t recall_k;           /* 10 */
	double recall_threshold;     /* 0.5 */
	uint64_t recall_queries;     /* 1000 distinct cue vectors */
	uint64_t search_k;           /* 10 */
	uint64_t concurrency[SPEC_LIST_MAX]; /* sweep over in-flight caps; empty = no sweep */
	size_t n_concurrency;
	double rates[SPEC_LIST_MAX]; /* sweep over arrival rates; empty = no sweep */
	size_t n_rates;
	uint64_t ef_search[SPEC_LIST_MAX]; /* sweep over the target's search breadth; empty = no sweep */
	size_t n_ef_search;
	double slo_p99_ms;           /* for sweeps: the SLO that defines max sustainable rate, 0 = none */
	uint64_t repeat;             /* 1..100, 1: warm-up + measured phase this many times, the same
	                              * schedule each time (not with a sweep); left out of the
	                              * canonical form at 1, so older digests hold */
};

/*
 * A runbook (steps.runbook.phases): writes and searches in steps, the
 * streaming workload of big-ann-benchmarks' runbooks. Each phase is one
 * YAML map with one key naming its kind:
 *   - insert:  {set, from, to, rate, order}   rows [from, to) of a vector set
 *   - delete:  {set, from, to, rate}          their ids removed
 *   - replace: {set, from, to, with_set, with_from}  ids of [from, to) get
 *              the vectors of with_set rows [with_from, with_from + to - from)
 *   - search:  {queries, rate, duration, k}   open-loop searches at a fixed rate
 *   - wait:    {until: indexed | <duration>}
 * `concurrent: true` in any of them starts it with the phase before (their
 * stage ends when all its phases have).
 */
enum spec_phase_kind { SPEC_PHASE_INSERT, SPEC_PHASE_DELETE, SPEC_PHASE_REPLACE, SPEC_PHASE_SEARCH,
		       SPEC_PHASE_WAIT };
enum spec_order { SPEC_ORDER_SEQUENTIAL, SPEC_ORDER_CLUSTERED, SPEC_ORDER_SHUFFLED };
#define SPEC_PHASES_MAX 64
extern const char *const spec_phase_kind_names[]; /* "insert", "delete", "replace", "search", "wait" */
extern const char *const spec_order_names[];      /* "sequential", "clustered", "shuffled" */

struct spec_phase {
	enum spec_phase_kind kind;
	int concurrent;              /* false: starts when the phases before it have ended */
	enum spec_set set;           /* writes: the rows' set (synthetic) */
	uint64_t from, to;           /* writes: rows [from, to) */
	enum spec_set with_set;      /* replace: where the new vectors come from (set) */
	uint64_t with_from;          /* replace: its first row */
	enum spec_order order;       /* insert: sequential (by row), clustered (by centroid label,
	                              * clusters in a seeded order), shuffled (seeded) */
	double rate;                 /* writes: vectors/s, 0 = as fast as acknowledged; search: queries/s */
	uint64_t queries;            /* search: distinct query vectors cycled through, 0 = every query */
	uint64_t duration_ns;        /* search: how long; wait: how long (until_indexed 0) */
	uint64_t k;                  /* search: results per query, 10 */
	int until_indexed;           /* wait: until the writes so far are searchable (tracers) */
	int line, col;               /* where it was written (0: by a --set) */
};

struct spec_runbook {
	int present;
	struct spec_phase phases[SPEC_PHASES_MAX];
	size_t n_phases;
	uint64_t batch_size;         /* vectors per write request, 100 */
	uint64_t max_in_flight;      /* searches in flight at most, 64 */
	uint64_t tracers;            /* readiness probes per write phase, 8 (0: none) */
	uint64_t wait_timeout_ns;    /* wait until indexed, and each tracer: give up after, 60s */
};

/* `p99_ms: "< 50"` */
struct spec_check {
	char metric[SPEC_METRIC_MAX];
	enum spec_op op;
	double value;
};

/* `p99_ms: "+5%"`: may grow by at most 5% against the baseline;
 * `throughput: "-5%"`: may shrink by at most 5%. */
struct spec_tolerance {
	char metric[SPEC_METRIC_MAX];
	double pct;                  /* signed, as written: +5 or -5 */
};

struct spec_baseline {
	int present;
	char *ref;                   /* a ref name, e.g. "m17-1k" */
	struct spec_tolerance tol[SPEC_CHECKS_MAX];
	size_t n_tol;                /* sorted by metric */
};

struct spec {
	char *name;                  /* required: [A-Za-z0-9._-]+ */
	char *description;           /* "" */
	uint64_t seed;               /* 42; decimal or 0x hex in the file */
	char *remote;                /* remote store URL or name, or NULL (not in the digest when absent) */
	struct spec_target target;
	struct spec_corpus corpus;
	struct spec_embed embed;
	struct spec_centroids centroids;
	struct spec_synthetic synthetic;
	struct spec_queries queries;
	struct spec_groundtruth groundtruth;
	struct spec_ingest ingest;
	struct spec_loadtest loadtest;
	struct spec_runbook runbook;
	struct spec_check checks[SPEC_CHECKS_MAX];
	size_t n_checks;             /* sorted by metric */
	struct spec_baseline baseline;

	/* private to the spec module */
	char *source_text;           /* the YAML as read */
	size_t source_len;
	char *source_name;           /* path or name used in errors */
	char *base_dir;              /* directory of the file ("." for strings) */
	struct spec_keyinfo *keyinfo; /* per key of the table: where written, left out */
	int root_line, root_col;     /* where the document's map starts */
	struct sorigin *sets;        /* the --set overrides it was loaded with */
	size_t n_sets;
};

/* The load test sweeps (concurrency, rates or ef_search): one phase per value. */
static inline int spec_loadtest_sweeps(const struct spec_loadtest *l)
{
	return l->n_concurrency || l->n_rates || l->n_ef_search;
}

/* The name of the swept key ("concurrency", "rates", "ef_search"); NULL: no sweep. */
static inline const char *spec_loadtest_sweep_key(const struct spec_loadtest *l)
{
	return l->n_rates ? "rates" : l->n_concurrency ? "concurrency" : l->n_ef_search ? "ef_search" : (const char *)0;
}

/* ---- API ----------------------------------------------------------------- */

/*
 * Read, parse and validate a spec file. On error returns -1 with ERR_SPEC
 * and a message "file:line:col: key.path: reason" (plus a hint such as
 * "did you mean 'std_dev'?"), or ERR_MISSING/ERR_IO when the file cannot be
 * read. *out is set only on success; free it with spec_free().
 */
int spec_load_file(const char *path, struct spec **out, struct err *e);
/* Same, from memory; `name_for_errors` prefixes messages (e.g. "<stdin>").
 * Relative paths in it resolve against the current directory. */
int spec_load_string(const char *text, size_t len, const char *name_for_errors,
		     struct spec **out, struct err *e);
/* NULL-safe. */
void spec_free(struct spec *s);

/*
 * The same, with `--set KEY=VALUE` overrides (sets[0..n_sets), at most
 * SPEC_SETS_MAX) applied to the YAML document before it is validated, in
 * order (a later one wins). KEY is a key path as the YAML nests it
 * ("steps.loadtest.duration", "target.url", "checks.p99_ms"); the form
 * without "steps." ("loadtest.duration") is taken too. VALUE is YAML: a
 * scalar, a flow list or map ("{store: 0.5, recall: 0.5}"), empty for
 * null; it replaces what the key held. Every rule of the file applies to
 * it; its errors read "--set KEY: [key.path: ]reason" (ERR_SPEC; ERR_USAGE
 * for an argument without '='). The result is the effective spec: its
 * digest and canonical form are the overridden ones, spec_source_text() is
 * its document with the overrides applied (after a comment listing them),
 * and spec_sets() lists the overrides as given.
 */
int spec_load_file_sets(const char *path, const char *const *sets, size_t n_sets, struct spec **out,
			struct err *e);
int spec_load_string_sets(const char *text, size_t len, const char *name_for_errors, const char *const *sets,
			  size_t n_sets, struct spec **out, struct err *e);
/* The overrides the spec was loaded with, as given ("loadtest.arrival.rate=200"):
 * the first min(n, cap) into out[]; returns n. */
size_t spec_sets(const struct spec *s, const char **out, size_t cap);

/* The YAML text (NUL-terminated) as loaded (with --set: the effective
 * document, see above); owned by the spec. */
const char *spec_source_text(const struct spec *s);

/*
 * Set steps.loadtest.repeat of a loaded spec (`engrave run --repeat N`),
 * checked as if the file said it (ERR_SPEC: no loadtest step, out of
 * 1..100, a sweep). The spec's source text becomes its canonical YAML with
 * the new value, so the text a run stores and the digest both say it
 * (comments are not kept); paths still resolve against the file's directory.
 */
int spec_set_loadtest_repeat(struct spec *s, uint64_t n, struct err *e);

/* Append the canonical form (compact JSON, sorted keys, defaults filled,
 * trailing newline) to `out`. Deterministic across machines. */
int spec_canonical(const struct spec *s, struct buf *out, struct err *e);
/* The same tree as readable YAML (for `spec show`), also deterministic. */
int spec_canonical_yaml(const struct spec *s, struct buf *out, struct err *e);
/* SHA-256 of spec_canonical(). */
void spec_digest(const struct spec *s, struct digest *out);

/* 1 if the step is in the spec, 0 if not or unknown. */
int spec_step_present(const struct spec *s, const char *step);
/* Canonical JSON of one step's resolved params only (no trailing newline),
 * appended to `out`: what an action key hashes. ERR_USAGE for an unknown
 * step name, ERR_MISSING for a step not in the spec. Only keys that apply
 * are included (centroids.dim only for from: random); `loadtest` includes
 * nothing from `target` (the runner adds what it needs). */
int spec_step_params(const struct spec *s, const char *step, struct buf *out, struct err *e);

/* Resolve `path` against the spec file's directory (absolute paths are kept)
 * into `out` (reset first). */
int spec_resolve_path(const struct spec *s, const char *path, struct buf *out, struct err *e);

/* The dimension of every vector in the spec: embed.dim, or centroids.dim
 * for centroids from: random; 0 when neither step is present. */
uint64_t spec_vector_dim(const struct spec *s);

/* ---- keys by path, for the layers above (the targets layer) ------------- */

/* The paths of the keys under `section` ("target"), in table order (a
 * section before its keys), into out[0..cap); returns how many there are. */
size_t spec_section_keys(const char *section, const char **out, size_t cap);
/* 1 if `path` was written in the spec. */
int spec_key_given(const struct spec *s, const char *path);
/* Fail with ERR_SPEC "file:line:col: path: reason", blaming the key's node
 * if it was written, else its nearest written section, else the document.
 * Returns -1. */
int spec_key_error(const struct spec *s, const char *path, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Leave `path` (a key or section) out of the canonical form, like a key
 * that does not apply. ERR_INTERNAL for an unknown path. */
int spec_key_omit(struct spec *s, const char *path, struct err *e);
/* A string key's value (NULL: not set), and a context default for it (the
 * spec keeps a copy). ERR_INTERNAL when `path` is not a string key. */
const char *spec_key_str(const struct spec *s, const char *path);
int spec_key_set_str(struct spec *s, const char *path, const char *value, struct err *e);

/*
 * The key reference (every key: path, type, default, meaning), generated
 * from the validator's table. markdown != 0 gives the docs/spec.md form.
 */
int spec_keys_doc(struct buf *out, int markdown, struct err *e);

/* What a layer above knows about a key that the table does not (the targets
 * layer: the driver names, per-driver defaults, which drivers take a key).
 * The callback fills what it knows; empty/NULL fields keep the table's. */
struct spec_key_note {
	const char *const *names;    /* values a string key takes: "one of ..." */
	char def[256];               /* the default as documented */
	char applies[128];           /* "driver engram or chroma": only with that */
};
typedef void spec_key_note_fn(const char *path, struct spec_key_note *note, void *ctx);
/* spec_keys_doc with notes (fn may be NULL). */
int spec_keys_doc_noted(struct buf *out, int markdown, spec_key_note_fn *fn, void *ctx, struct err *e);

/*
 * Convert an Engram loadtest scenario (TOML, reference/engram.md 4.2) into
 * spec YAML appended to `yaml`. Keys engrave cannot honour are listed one per
 * line in `warnings` ("chaos.enabled: not supported, dropped"). `seed_override`
 * is used when has_seed is set (else the TOML's `seed`, else 42).
 * ERR_INPUT with file:line for malformed TOML.
 */
int spec_import_scenario(const char *toml_text, size_t len, const char *name_for_errors,
			 int has_seed, uint64_t seed_override, struct buf *yaml,
			 struct buf *warnings, struct err *e);

#endif
