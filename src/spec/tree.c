/*
 * tree.c — YAML text -> document tree (struct stree), the only libyaml user.
 *
 * We read libyaml's event stream rather than its document API so that every
 * limit is enforced while parsing: a stack of open containers receives each
 * finished node; a finished node adds its `weight` (the size of its subtree
 * with aliases expanded) to its parent. An alias is a pointer to the
 * anchored node, never a copy, and contributes that node's whole weight, so
 * the nine-fold fan-out of a "billion laughs" file trips STREE_MAX_EXPANDED
 * after a few levels, in microseconds and without allocating anything big.
 * Raw node count, alias count and nesting depth are capped as well; an
 * alias to a node that is still open (a cycle) is rejected.
 *
 * Maps reject duplicate keys and non-scalar keys. Only one document per
 * file. Positions are libyaml marks plus one (they count from zero).
 *
 * The way back, stree_emit_yaml, feeds libyaml's emitter (it knows when a
 * scalar may stay plain and how to quote one that may not): a spec with
 * --set overrides is stored as its document, overrides applied.
 */
#include "spec_int.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct snode *stree_new_node(struct stree *t, enum snode_kind kind, int line, int col)
{
	if (t->nodes >= STREE_MAX_NODES)
		return NULL;
	struct snode *n = xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->line = line;
	n->col = col;
	n->weight = 1;
	n->next_alloc = t->all;
	t->all = n;
	t->nodes++;
	return n;
}

static void grow(struct snode *c)
{
	if (c->n < c->cap)
		return;
	size_t nc = c->cap ? c->cap * 2 : 8;
	c->vals = xrealloc_array(c->vals, nc, sizeof(*c->vals));
	if (c->kind == SN_MAP)
		c->keys = xrealloc_array(c->keys, nc, sizeof(*c->keys));
	c->cap = nc;
}

void stree_seq_add(struct snode *seq, struct snode *item)
{
	grow(seq);
	seq->vals[seq->n++] = item;
	seq->weight += item->weight;
}

void stree_map_add(struct snode *map, struct snode *key, struct snode *val)
{
	grow(map);
	map->keys[map->n] = key;
	map->vals[map->n++] = val;
	map->weight += key->weight + val->weight;
}

struct snode *stree_map_get(const struct snode *map, const char *key)
{
	if (!map || map->kind != SN_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i]->str, key))
			return map->vals[i];
	return NULL;
}

void stree_release(struct stree *t)
{
	struct snode *n = t->all;
	while (n) {
		struct snode *next = n->next_alloc;
		free(n->str);
		free(n->keys);
		free(n->vals);
		free(n);
		n = next;
	}
	memset(t, 0, sizeof(*t));
}

int snode_is_null(const struct snode *n)
{
	return n->kind == SN_SCALAR && n->plain &&
	       (!n->str[0] || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
		!strcmp(n->str, "Null") || !strcmp(n->str, "NULL"));
}

/* ---- the YAML event loop -------------------------------------------------- */

struct anchor {
	char *name;
	struct snode *node;
};

struct frame {
	struct snode *node;
	struct snode *pending_key; /* maps: key waiting for its value */
};

struct yload {
	struct stree *t;
	const char *name;
	struct err *e;
	struct frame stack[STREE_MAX_DEPTH];
	int depth;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	size_t aliases;
};

static int fail_at(struct yload *y, int line, int col, const char *what)
{
	return err_set(y->e, ERR_SPEC, "%s:%d:%d: %s", y->name, line, col, what);
}

static void add_anchor(struct yload *y, const char *name, struct snode *n)
{
	for (size_t i = 0; i < y->n_anchors; i++)
		if (!strcmp(y->anchors[i].name, name)) {
			y->anchors[i].node = n; /* YAML lets a later anchor override */
			return;
		}
	if (y->n_anchors == y->cap_anchors) {
		y->cap_anchors = y->cap_anchors ? y->cap_anchors * 2 : 16;
		y->anchors = xrealloc_array(y->anchors, y->cap_anchors, sizeof(*y->anchors));
	}
	y->anchors[y->n_anchors].name = xstrdup(name);
	y->anchors[y->n_anchors++].node = n;
}

/* Hand a finished node to the container on top of the stack (or make it
 * the root). */
static int attach(struct yload *y, struct snode *n)
{
	if (y->depth == 0) {
		y->t->root = n;
		return 0;
	}
	struct frame *f = &y->stack[y->depth - 1];
	struct snode *p = f->node;
	if (p->kind == SN_SEQ) {
		stree_seq_add(p, n);
	} else if (!f->pending_key) {
		if (n->kind != SN_SCALAR)
			return fail_at(y, n->line, n->col, "only plain keys are supported (not a list or map as a key)");
		for (size_t i = 0; i < p->n; i++)
			if (!strcmp(p->keys[i]->str, n->str)) {
				char msg[ERR_MSG_MAX / 2];
				snprintf(msg, sizeof(msg), "duplicate key '%.200s' (first at line %d)", n->str,
					 p->keys[i]->line);
				return fail_at(y, n->line, n->col, msg);
			}
		f->pending_key = n;
		return 0;
	} else {
		stree_map_add(p, f->pending_key, n);
		f->pending_key = NULL;
	}
	if (p->weight > STREE_MAX_EXPANDED)
		return fail_at(y, n->line, n->col,
			       "document too large once aliases are expanded (over 200000 nodes): "
			       "refusing a possible 'billion laughs' file");
	return 0;
}

static int on_event(struct yload *y, yaml_event_t *ev)
{
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
	struct snode *n;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = stree_new_node(y->t, SN_SCALAR, line, col);
		if (!n)
			return fail_at(y, line, col, "too many nodes (limit 100000)");
		n->str = xmalloc(ev->data.scalar.length + 1);
		memcpy(n->str, ev->data.scalar.value, ev->data.scalar.length);
		n->str[ev->data.scalar.length] = '\0';
		if (strlen(n->str) != ev->data.scalar.length)
			return fail_at(y, line, col, "NUL byte in a value");
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
		if (ev->data.scalar.anchor)
			add_anchor(y, (const char *)ev->data.scalar.anchor, n);
		return attach(y, n);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		if (y->depth >= STREE_MAX_DEPTH)
			return fail_at(y, line, col, "nested too deeply (limit 64 levels)");
		n = stree_new_node(y->t, ev->type == YAML_SEQUENCE_START_EVENT ? SN_SEQ : SN_MAP, line, col);
		if (!n)
			return fail_at(y, line, col, "too many nodes (limit 100000)");
		n->open = 1;
		const yaml_char_t *anchor = ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.anchor
										  : ev->data.mapping_start.anchor;
		if (anchor)
			add_anchor(y, (const char *)anchor, n);
		y->stack[y->depth].node = n;
		y->stack[y->depth].pending_key = NULL;
		y->depth++;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		n = y->stack[--y->depth].node;
		n->open = 0;
		return attach(y, n);
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		struct snode *target = NULL;
		for (size_t i = 0; i < y->n_anchors; i++)
			if (!strcmp(y->anchors[i].name, name))
				target = y->anchors[i].node;
		if (!target) {
			char msg[300];
			snprintf(msg, sizeof(msg), "unknown alias '*%.200s'", name);
			return fail_at(y, line, col, msg);
		}
		if (target->open)
			return fail_at(y, line, col, "recursive alias (refers to a node that contains it)");
		if (++y->aliases > STREE_MAX_ALIASES)
			return fail_at(y, line, col, "too many aliases (limit 10000)");
		return attach(y, target);
	}
	case YAML_DOCUMENT_START_EVENT:
		if (y->t->root)
			return fail_at(y, line, col, "more than one YAML document ('---'); a spec is one document");
		return 0;
	default:
		return 0;
	}
}

int stree_parse_yaml(struct stree *t, const char *text, size_t len, const char *name, struct err *e)
{
	memset(t, 0, sizeof(*t));
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		return err_set(e, ERR_INTERNAL, "cannot initialise the YAML parser");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	struct yload y = { .t = t, .name = name, .e = e };
	int rc = 0, done = 0;
	while (!done) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			const yaml_mark_t *m = p.problem ? &p.problem_mark : &p.context_mark;
			rc = err_set(e, ERR_SPEC, "%s:%d:%d: invalid YAML: %s%s%s", name, (int)m->line + 1,
				     (int)m->column + 1, p.problem ? p.problem : "syntax error",
				     p.context ? " " : "", p.context ? p.context : "");
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(&y, &ev);
		yaml_event_delete(&ev);
		if (rc)
			break;
	}
	yaml_parser_delete(&p);
	for (size_t i = 0; i < y.n_anchors; i++)
		free(y.anchors[i].name);
	free(y.anchors);
	if (rc)
		stree_release(t);
	return rc;
}

/* ---- tree -> YAML text -------------------------------------------------------- */

struct yemit {
	yaml_emitter_t em;
	struct buf *out;
	struct err *e;
	int failed; /* the output buffer refused (its cap) */
};

static int emit_write(void *data, unsigned char *buffer, size_t size)
{
	struct yemit *y = data;
	if (buf_append(y->out, buffer, size, y->e)) {
		y->failed = 1;
		return 0;
	}
	return 1;
}

static int emit_event(struct yemit *y, yaml_event_t *ev)
{
	if (yaml_emitter_emit(&y->em, ev))
		return 0;
	if (!y->failed)
		err_set(y->e, ERR_INTERNAL, "cannot write the spec as YAML: %s",
			y->em.problem ? y->em.problem : "emitter error");
	return -1;
}

static int seq_of_scalars(const struct snode *n)
{
	for (size_t i = 0; i < n->n; i++)
		if (n->vals[i]->kind != SN_SCALAR)
			return 0;
	return 1;
}

static int emit_node(struct yemit *y, const struct snode *n, int depth)
{
	yaml_event_t ev;
	if (depth > STREE_MAX_DEPTH)
		return err_set(y->e, ERR_INTERNAL, "cannot write the spec as YAML: nested too deeply");
	if (n->kind == SN_SCALAR) {
		yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)n->str, (int)strlen(n->str), 1, 1,
					     n->plain ? YAML_PLAIN_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
		return emit_event(y, &ev);
	}
	if (n->kind == SN_SEQ) {
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
						     seq_of_scalars(n) ? YAML_FLOW_SEQUENCE_STYLE
								       : YAML_BLOCK_SEQUENCE_STYLE);
		if (emit_event(y, &ev))
			return -1;
		for (size_t i = 0; i < n->n; i++)
			if (emit_node(y, n->vals[i], depth + 1))
				return -1;
		yaml_sequence_end_event_initialize(&ev);
		return emit_event(y, &ev);
	}
	yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	if (emit_event(y, &ev))
		return -1;
	for (size_t i = 0; i < n->n; i++)
		if (emit_node(y, n->keys[i], depth + 1) || emit_node(y, n->vals[i], depth + 1))
			return -1;
	yaml_mapping_end_event_initialize(&ev);
	return emit_event(y, &ev);
}

int stree_emit_yaml(const struct snode *root, struct buf *out, struct err *e)
{
	struct yemit y = { .out = out, .e = e };
	if (!yaml_emitter_initialize(&y.em))
		return err_set(e, ERR_INTERNAL, "cannot initialise the YAML emitter");
	yaml_emitter_set_output(&y.em, emit_write, &y);
	yaml_emitter_set_unicode(&y.em, 1);
	yaml_emitter_set_width(&y.em, -1);
	yaml_event_t ev;
	int rc;
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	rc = emit_event(&y, &ev);
	if (!rc) {
		yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
		rc = emit_event(&y, &ev);
	}
	if (!rc && root)
		rc = emit_node(&y, root, 0);
	if (!rc && !root) {
		yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)"", 0, 1, 1, YAML_PLAIN_SCALAR_STYLE);
		rc = emit_event(&y, &ev);
	}
	if (!rc) {
		yaml_document_end_event_initialize(&ev, 1);
		rc = emit_event(&y, &ev);
	}
	if (!rc) {
		yaml_stream_end_event_initialize(&ev);
		rc = emit_event(&y, &ev);
	}
	if (!rc && !yaml_emitter_flush(&y.em))
		rc = y.failed ? -1 : err_set(e, ERR_INTERNAL, "cannot write the spec as YAML");
	yaml_emitter_delete(&y.em);
	return rc;
}
