/*
 * envlist.h — an ordered, bounded list of key/value pairs describing the
 * environment a run measured in (the machine, the build, the target).
 *
 * Keys are short dotted names ("cpu.model", "mem.total_mb", "target.hnsw.space");
 * values are text, and a value set with envlist_set_num() is also marked a
 * number so JSON and msgpack keep it one. Insertion order is kept: setting a
 * key again replaces its value in place. Everything is fixed-size (a list is
 * a plain struct that may be copied), so a value too long is cut and a list
 * that is full refuses more keys; nothing here allocates.
 */
#ifndef ENGRAVE_ENVLIST_H
#define ENGRAVE_ENVLIST_H

#include <stddef.h>

#define ENVLIST_MAX 64      /* keys in one list */
#define ENVLIST_KEY_MAX 48  /* bytes of a key, with the NUL */
#define ENVLIST_VAL_MAX 160 /* bytes of a value, with the NUL */

struct envlist_item {
	char key[ENVLIST_KEY_MAX];
	char value[ENVLIST_VAL_MAX];
	int is_num; /* value is "%.10g" of a finite number */
};

struct envlist {
	int n;
	struct envlist_item v[ENVLIST_MAX];
};

void envlist_init(struct envlist *l);
/* Add or replace `key` (cut to ENVLIST_KEY_MAX - 1 bytes); 0, or -1 when the
 * list is full or the key is empty. Control characters in the value become
 * spaces. */
int envlist_set(struct envlist *l, const char *key, const char *value);
int envlist_setf(struct envlist *l, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A number; NAN or infinity is stored as the text "unknown". */
int envlist_set_num(struct envlist *l, const char *key, double v);
/* The item holding `key`, or NULL. */
const struct envlist_item *envlist_get(const struct envlist *l, const char *key);
/* Every item of `from` set into `to`, each key prefixed with `prefix` (may
 * be ""); returns how many did not fit. */
int envlist_merge(struct envlist *to, const char *prefix, const struct envlist *from);

#endif
