/*
 * spec_int.h — internals shared by the files of the spec module.
 *
 * Both front ends (YAML through libyaml in tree.c, TOML in toml.c) build the
 * same small document tree: maps, sequences and scalars, each with its
 * 1-based line:col. All nodes of one document live in one allocation list
 * owned by the `struct stree`, so an alias can point at an anchored node
 * (shared, never copied) and freeing is one walk of that list.
 *
 * A `--set KEY=VALUE` override (set.c) is parsed into a tree of its own and
 * grafted into the document's tree before the walk; its nodes carry the
 * override as their `origin`, so an error about them names the argument
 * instead of a file position.
 */
#ifndef ENGRAVE_SPEC_INT_H
#define ENGRAVE_SPEC_INT_H

#include <stddef.h>
#include <stdint.h>

struct err;
struct buf;
struct spec;

/* A --set override, as given and as resolved (owned by the spec). */
struct sorigin {
	char *arg;              /* "loadtest.arrival.rate=200", as given */
	char *key;              /* "loadtest.arrival.rate", as given */
	char *path;             /* "steps.loadtest.arrival.rate": the key's full path */
	const char *value;      /* points into arg, after the '=' */
};

enum snode_kind { SN_SCALAR, SN_MAP, SN_SEQ };

struct snode {
	enum snode_kind kind;
	int line, col;          /* 1-based position of the node's start */
	char *str;              /* SN_SCALAR: the value, NUL-terminated */
	int plain;              /* SN_SCALAR: unquoted (may be a number, bool, null) */
	struct snode **keys;    /* SN_MAP: n key scalars */
	struct snode **vals;    /* SN_MAP: n values; SN_SEQ: n items */
	size_t n, cap;
	size_t weight;          /* nodes in the subtree with aliases expanded */
	int open;               /* still being built (an alias to it is recursive) */
	const struct sorigin *origin; /* NULL: the spec file; else the --set that wrote it */
	struct snode *next_alloc;
};

struct stree {
	struct snode *root;     /* NULL for an empty document */
	struct snode *all;      /* allocation list */
	size_t nodes;           /* allocated nodes */
};

/* Limits that make hostile documents ("billion laughs") fail fast. */
#define STREE_MAX_NODES 100000       /* nodes actually allocated */
#define STREE_MAX_EXPANDED 200000    /* nodes counting every alias expansion */
#define STREE_MAX_ALIASES 10000
#define STREE_MAX_DEPTH 64

struct snode *stree_new_node(struct stree *t, enum snode_kind kind, int line, int col);
/* Append a child (SEQ) or a key/value pair (MAP: key is a scalar). */
void stree_seq_add(struct snode *seq, struct snode *item);
void stree_map_add(struct snode *map, struct snode *key, struct snode *val);
/* The value of `key` in a map, or NULL. */
struct snode *stree_map_get(const struct snode *map, const char *key);
void stree_release(struct stree *t);

/* Parse YAML (one document) into t. ERR_SPEC "name:line:col: reason". */
int stree_parse_yaml(struct stree *t, const char *text, size_t len, const char *name, struct err *e);
/* Parse the TOML subset (see toml.c). ERR_INPUT "name:line:col: reason". */
int stree_parse_toml(struct stree *t, const char *text, size_t len, const char *name, struct err *e);

/* The document as block YAML (libyaml's emitter), appended to out: what
 * stree_parse_yaml reads back as the same tree (scalars keep plain or
 * quoted; aliases are written out in full). */
int stree_emit_yaml(const struct snode *root, struct buf *out, struct err *e);

/*
 * Graft `val` (a node of another tree, or NULL for null) at the key path
 * `path` ("steps.loadtest.duration") of t's root map: missing maps on the
 * way are made, maps on the way are copied before they change (an alias
 * elsewhere keeps the old one), and a key already there gets the new value.
 * New nodes carry `o`. ERR_SPEC naming o->key when a node on the way is
 * not a map. A root that is not a map is left alone (loading reports it).
 */
int stree_graft(struct stree *t, const char *path, struct snode *val, const struct sorigin *o, struct err *e);

/* --set (set.c). sset_parse splits "KEY=VALUE" and resolves KEY into o
 * (ERR_USAGE without '=', ERR_SPEC for an unknown key); sset_release frees
 * what it allocated. sset_graft_all parses each o[i].value into vals[i]
 * (released by the caller, also on failure) and grafts it into doc. */
int sset_parse(const char *arg, struct sorigin *o, struct err *e);
void sset_release(struct sorigin *o);
int sset_graft_all(struct stree *doc, const struct sorigin *o, size_t n, struct stree *vals, struct err *e);
/* The full key path of a --set KEY ("loadtest.x" -> "steps.loadtest.x"),
 * checked against the key table (spec.c). ERR_SPEC naming "--set KEY". */
int spec_key_resolve(const char *key, char *path, size_t cap, struct err *e);

/* Shared by spec.c and runbook.c: scalar parsers (0 ok, -1 not a valid
 * value; negative set for "-N"), canonical number and duration text, and the
 * "file:line:col: path: reason" error (or "--set KEY: ..." for a node an
 * override wrote). */
int spec_parse_u64(const char *str, uint64_t *out, int *negative);
int spec_parse_f64(const char *str, double *out);
int spec_parse_dur(const char *str, uint64_t *out);
void spec_fmt_double(double v, char *out, size_t cap);
void spec_fmt_duration(uint64_t ns, char *out, size_t cap);
int spec_err_at(struct err *e, const char *file, int line, int col, const struct sorigin *o, const char *path,
		const char *reason);

/* The runbook (runbook.c): load steps.runbook.phases from its node, check
 * it against the rest of the spec once every key is known, and append its
 * canonical form (a JSON list, sorted keys, defaults filled; also valid
 * YAML flow) to out. Errors are ERR_SPEC "file:line:col: steps.runbook.phases[i].kind.key: reason". */
int spec_runbook_load(struct spec *s, const struct snode *n, const char *file, struct err *e);
int spec_runbook_check(const struct spec *s, const char *file, int line, int col, struct err *e);
int spec_runbook_emit(const struct spec *s, struct buf *out, struct err *e);

/* Is this plain scalar YAML's null ("", "~", "null")? */
int snode_is_null(const struct snode *n);

#endif
