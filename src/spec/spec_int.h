/*
 * spec_int.h — internals shared by the files of the spec module.
 *
 * Both front ends (YAML through libyaml in tree.c, TOML in toml.c) build the
 * same small document tree: maps, sequences and scalars, each with its
 * 1-based line:col. All nodes of one document live in one allocation list
 * owned by the `struct stree`, so an alias can point at an anchored node
 * (shared, never copied) and freeing is one walk of that list.
 */
#ifndef ENGRAVE_SPEC_INT_H
#define ENGRAVE_SPEC_INT_H

#include <stddef.h>

struct err;

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

/* Is this plain scalar YAML's null ("", "~", "null")? */
int snode_is_null(const struct snode *n);

#endif
