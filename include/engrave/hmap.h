/*
 * hmap.h — a string-keyed hash map: open addressing, linear probing, grows.
 *
 * The one hash table of engrave. Keys are borrowed: the map stores the
 * caller's `const char *` (and its hash), never a copy, so a key string must
 * stay valid and unchanged while its entry is in the map. The usual shape
 * is an index over the caller's own array (ids of rows, cache entries):
 * keys point at the array's strings and values are row numbers.
 *
 * Hash: FNV-1a 64 of the key's bytes. Table: a power of two of slots, at
 * most half full (it doubles before passing half), each slot holding key,
 * hash and value; deletion shifts the following run of entries back, so
 * there are no tombstones and lookups stay short after many deletions.
 *
 * Not thread-safe: callers lock (readers may share a map nobody writes).
 */
#ifndef ENGRAVE_HMAP_H
#define ENGRAVE_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct err;

struct hmap_slot {
	const char *key; /* NULL: empty slot */
	uint64_t hash;
	size_t val;
};

struct hmap {
	struct hmap_slot *slot;
	size_t cap, n; /* slots (0 or a power of two), entries */
};

#define HMAP_INIT { NULL, 0, 0 }

void hmap_init(struct hmap *m);
/* Frees the slots (not the keys); the map is empty and reusable after. */
void hmap_release(struct hmap *m);

/* FNV-1a 64 of a NUL-terminated string. */
uint64_t hmap_hash(const char *key);

/* The address of key's value, or NULL when absent. The value may be
 * written through it; the address is valid until the next add or del. */
size_t *hmap_get(const struct hmap *m, const char *key);
/*
 * Adds key -> val when key is absent (returns 1). When present the map is
 * left as it is (returns 0; hmap_get gives the value there). Returns -1
 * with ERR_NOSPACE in `e` when the table cannot grow.
 */
int hmap_add(struct hmap *m, const char *key, size_t val, struct err *e);
/* Removes key: 1 removed, 0 absent. Never allocates. */
int hmap_del(struct hmap *m, const char *key);

#endif
