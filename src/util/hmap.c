/*
 * hmap.c — the string-keyed open-addressing map of include/engrave/hmap.h.
 *
 * Slots hold (key, hash, value); an entry lives at hash & (cap - 1) or in
 * the first free slot after it (linear probing, wrapping). The table is
 * kept at most half full, so a probe run is short and a lookup of an
 * absent key ends at an empty slot soon; the stored hash makes most
 * mismatches one integer compare instead of a strcmp, and lets the table
 * double without hashing any key again.
 *
 * Deletion is backward-shift (Knuth 6.4, algorithm R): after emptying a
 * slot, each later entry of the same run that could live in the hole moves
 * into it. No tombstones, so a map that sees many deletions (the contract
 * server's evictions) never degrades.
 */
#include "engrave/hmap.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HMAP_MIN_CAP 16

void hmap_init(struct hmap *m)
{
	memset(m, 0, sizeof(*m));
}

void hmap_release(struct hmap *m)
{
	free(m->slot);
	hmap_init(m);
}

uint64_t hmap_hash(const char *key)
{
	uint64_t h = 14695981039346656037ULL;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* The slot of key, or the empty slot where it would go. cap > 0. */
static size_t find_slot(const struct hmap *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1, i = (size_t)h & mask;
	while (m->slot[i].key && (m->slot[i].hash != h || strcmp(m->slot[i].key, key) != 0))
		i = (i + 1) & mask;
	return i;
}

size_t *hmap_get(const struct hmap *m, const char *key)
{
	if (!m->n)
		return NULL;
	size_t i = find_slot(m, key, hmap_hash(key));
	return m->slot[i].key ? &m->slot[i].val : NULL;
}

static int grow(struct hmap *m, struct err *e)
{
	size_t nc = m->cap ? m->cap * 2 : HMAP_MIN_CAP; /* cap * 2 cannot wrap: slots are 24 bytes */
	struct hmap_slot *ns = xalloc_try_zeroed(nc, sizeof(*ns), "a hash map's slots", e);
	if (!ns)
		return -1;
	for (size_t k = 0; k < m->cap; k++) {
		if (!m->slot[k].key)
			continue;
		size_t j = (size_t)m->slot[k].hash & (nc - 1);
		while (ns[j].key)
			j = (j + 1) & (nc - 1);
		ns[j] = m->slot[k];
	}
	free(m->slot);
	m->slot = ns;
	m->cap = nc;
	return 0;
}

int hmap_add(struct hmap *m, const char *key, size_t val, struct err *e)
{
	uint64_t h = hmap_hash(key);
	if (m->n && m->slot[find_slot(m, key, h)].key)
		return 0;
	if ((m->n + 1) * 2 > m->cap && grow(m, e))
		return -1;
	size_t i = find_slot(m, key, h);
	m->slot[i] = (struct hmap_slot){ key, h, val };
	m->n++;
	return 1;
}

int hmap_del(struct hmap *m, const char *key)
{
	if (!m->n)
		return 0;
	size_t mask = m->cap - 1, hole = find_slot(m, key, hmap_hash(key));
	if (!m->slot[hole].key)
		return 0;
	for (size_t j = (hole + 1) & mask; m->slot[j].key; j = (j + 1) & mask) {
		size_t home = (size_t)m->slot[j].hash & mask;
		/* j's entry may move back to the hole unless its home lies
		 * cyclically in (hole, j]: then the hole is before its home */
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			m->slot[hole] = m->slot[j];
			hole = j;
		}
	}
	m->slot[hole].key = NULL;
	m->n--;
	return 1;
}
