/*
 * set.c — `--set KEY=VALUE`: overrides applied to the spec's document.
 *
 * An override is applied to the YAML tree, before the walk that validates
 * it, so a value from the command line meets every rule a value in the file
 * meets, with the same messages. Only where the error is said changes: its
 * nodes carry the override as their origin and perr() names "--set KEY"
 * instead of "file:line:col".
 *
 *   1. sset_parse splits "KEY=VALUE" at the first '=' and resolves KEY to a
 *      full key path through the key table (spec_key_resolve, spec.c):
 *      "loadtest.arrival.rate" -> "steps.loadtest.arrival.rate"; an unknown
 *      path is refused here, with a did-you-mean.
 *   2. The VALUE is parsed as YAML on its own (a scalar, or flow: "[a, b]",
 *      "{store: 0.5}"; empty is null), into a tree kept until the load ends.
 *   3. stree_graft puts it at the path: maps on the way are made when
 *      missing and copied when present (an alias may share them), and the
 *      value replaces whatever the key held (a map value replaces the whole
 *      map, as if the file said it).
 *
 * Overrides apply in command-line order; a later one wins.
 */
#include "spec_int.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sset_parse(const char *arg, struct sorigin *o, struct err *e)
{
	memset(o, 0, sizeof(*o));
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg) {
		err_set(e, ERR_USAGE, "--set %.200s: expected KEY=VALUE", arg);
		return err_hint(e, "e.g. --set steps.loadtest.duration=10s (a key path as the spec's YAML nests it)");
	}
	char path[160];
	size_t kl = (size_t)(eq - arg);
	char *key = xmalloc(kl + 1);
	memcpy(key, arg, kl);
	key[kl] = '\0';
	if (spec_key_resolve(key, path, sizeof(path), e)) {
		free(key);
		return -1;
	}
	o->arg = xstrdup(arg);
	o->key = key;
	o->path = xstrdup(path);
	o->value = o->arg + kl + 1;
	return 0;
}

void sset_release(struct sorigin *o)
{
	free(o->arg);
	free(o->key);
	free(o->path);
	memset(o, 0, sizeof(*o));
}

/* A shallow copy of map `m` in tree t (its keys and values are shared). */
static struct snode *map_copy(struct stree *t, const struct snode *m)
{
	struct snode *c = stree_new_node(t, SN_MAP, m->line, m->col);
	if (!c)
		return NULL;
	c->origin = m->origin;
	for (size_t i = 0; i < m->n; i++)
		stree_map_add(c, m->keys[i], m->vals[i]);
	return c;
}

static struct snode *new_scalar(struct stree *t, const char *str, const struct sorigin *o)
{
	struct snode *n = stree_new_node(t, SN_SCALAR, 1, 1);
	if (!n)
		return NULL;
	n->str = xstrdup(str);
	n->plain = 1;
	n->origin = o;
	return n;
}

static int too_many(const struct sorigin *o, struct err *e)
{
	return err_set(e, ERR_SPEC, "--set %.100s: the spec has too many nodes (limit %d)", o->key, STREE_MAX_NODES);
}

int stree_graft(struct stree *t, const char *path, struct snode *val, const struct sorigin *o, struct err *e)
{
	if (!t->root || t->root->kind != SN_MAP)
		return 0;
	if (!val && !(val = new_scalar(t, "", o)))
		return too_many(o, e);
	char seg[160];
	struct snode *map = t->root;
	const char *p = path;
	int in_checks = 0; /* under checks: a metric name may hold dots (runbook.2.p99_ms) */
	for (;;) {
		size_t n = in_checks && strncmp(p, "baseline.", 9) ? strlen(p) : strcspn(p, ".");
		in_checks = map == t->root && n == 6 && !strncmp(p, "checks", 6);
		if (n >= sizeof(seg))
			n = sizeof(seg) - 1;
		memcpy(seg, p, n);
		seg[n] = '\0';
		int last = p[n] == '\0';
		size_t i = 0;
		while (i < map->n && strcmp(map->keys[i]->str, seg))
			i++;
		if (last) {
			if (i < map->n) {
				map->vals[i] = val;
			} else {
				struct snode *k = new_scalar(t, seg, o);
				if (!k)
					return too_many(o, e);
				stree_map_add(map, k, val);
			}
			return 0;
		}
		struct snode *next;
		if (i == map->n) {
			struct snode *k = new_scalar(t, seg, o);
			next = k ? stree_new_node(t, SN_MAP, 1, 1) : NULL;
			if (!next)
				return too_many(o, e);
			next->origin = o;
			stree_map_add(map, k, next);
		} else {
			struct snode *cur = map->vals[i];
			if (cur->kind == SN_SCALAR && snode_is_null(cur)) {
				/* `loadtest:` alone: the step with its defaults, now with a key */
				next = stree_new_node(t, SN_MAP, cur->line, cur->col);
				if (next)
					next->origin = cur->origin;
			} else if (cur->kind == SN_MAP) {
				next = map_copy(t, cur);
			} else {
				char where[ERR_MSG_MAX / 4];
				if (cur->origin)
					snprintf(where, sizeof(where), "by --set %.100s", cur->origin->key);
				else
					snprintf(where, sizeof(where), "at line %d", cur->line);
				return err_set(e, ERR_SPEC, "--set %.100s: '%.*s' is %s (%s), not a map of settings", o->key,
					       (int)(p + n - path), path, cur->kind == SN_SEQ ? "a list" : "a value", where);
			}
			if (!next)
				return too_many(o, e);
			map->vals[i] = next;
		}
		map = next;
		p += n + 1;
	}
}

int sset_graft_all(struct stree *doc, const struct sorigin *o, size_t n, struct stree *vals, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		char name[200];
		snprintf(name, sizeof(name), "--set %.150s", o[i].key);
		if (stree_parse_yaml(&vals[i], o[i].value, strlen(o[i].value), name, e))
			return err_hint(e, "VALUE is YAML: a scalar, a flow list [a, b] or a flow map {k: v}, "
					   "quoted for the shell: --set '%.100s={...}'", o[i].key);
		for (struct snode *v = vals[i].all; v; v = v->next_alloc)
			v->origin = &o[i];
		if (stree_graft(doc, o[i].path, vals[i].root, &o[i], e))
			return -1;
	}
	return 0;
}
