/*
 * test_hmap.c — the string-keyed open-addressing map: add/get/del, growth,
 * keys that collide in the table, and a long random sequence of adds and
 * deletes checked step by step against a brute-force reference (a plain
 * array searched linearly), which is what exercises backward-shift
 * deletion across wrapped probe runs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/err.h"
#include "engrave/hmap.h"

Test(hmap, empty_map_finds_nothing)
{
	struct hmap m = HMAP_INIT;
	cr_assert_null(hmap_get(&m, "a"));
	cr_assert_eq(hmap_del(&m, "a"), 0);
	hmap_release(&m);
	cr_assert_eq(m.n, 0);
}

Test(hmap, add_get_del)
{
	struct hmap m;
	hmap_init(&m);
	struct err e = ERR_INIT;
	cr_assert_eq(hmap_add(&m, "alpha", 1, &e), 1);
	cr_assert_eq(hmap_add(&m, "beta", 2, &e), 1);
	cr_assert_eq(hmap_add(&m, "", 3, &e), 1, "the empty string is a key");
	cr_assert_eq(m.n, 3);
	char probe[] = "alpha"; /* equal content, different pointer */
	cr_assert_eq(*hmap_get(&m, probe), 1);
	cr_assert_eq(*hmap_get(&m, "beta"), 2);
	cr_assert_eq(*hmap_get(&m, ""), 3);
	cr_assert_null(hmap_get(&m, "alph"));
	cr_assert_eq(hmap_add(&m, "alpha", 9, &e), 0, "present: not added");
	cr_assert_eq(*hmap_get(&m, "alpha"), 1, "and not replaced");
	*hmap_get(&m, "alpha") = 7;
	cr_assert_eq(*hmap_get(&m, "alpha"), 7, "values are writable in place");
	cr_assert_eq(hmap_del(&m, "alpha"), 1);
	cr_assert_eq(hmap_del(&m, "alpha"), 0);
	cr_assert_null(hmap_get(&m, "alpha"));
	cr_assert_eq(m.n, 2);
	hmap_release(&m);
}

Test(hmap, fnv1a_known_values)
{
	cr_assert_eq(hmap_hash(""), 0xcbf29ce484222325ULL);
	cr_assert_eq(hmap_hash("a"), 0xaf63dc4c8601ec8cULL);
	cr_assert_eq(hmap_hash("foobar"), 0x85944171f73967e8ULL);
}

Test(hmap, grows_and_keeps_every_entry)
{
	enum { N = 5000 };
	static char keys[N][16];
	struct hmap m = HMAP_INIT;
	size_t last_cap = 0;
	int grew = 0;
	for (size_t i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "id-%zu", i);
		cr_assert_eq(hmap_add(&m, keys[i], i, NULL), 1);
		cr_assert_leq(m.n * 2, m.cap, "at most half full");
		grew += m.cap != last_cap;
		last_cap = m.cap;
	}
	cr_assert_gt(grew, 5);
	cr_assert_eq(m.cap & (m.cap - 1), 0, "a power of two");
	for (size_t i = 0; i < N; i++) {
		size_t *v = hmap_get(&m, keys[i]);
		cr_assert_not_null(v, "%s", keys[i]);
		cr_assert_eq(*v, i);
	}
	hmap_release(&m);
}

/* Keys whose hashes share their low ten bits land in one probe run; with
 * those bits all set, their home is the last slot at every table size up to
 * 1024, so the run wraps around to slot 0. */
Test(hmap, colliding_keys)
{
	enum { WANT = 40 };
	static char keys[WANT][16];
	int n = 0;
	for (int i = 0; n < WANT && i < 10000000; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		if ((hmap_hash(k) & 1023) == 1023)
			memcpy(keys[n++], k, sizeof(k));
	}
	cr_assert_eq(n, WANT);
	struct hmap m = HMAP_INIT;
	for (int i = 0; i < n; i++)
		cr_assert_eq(hmap_add(&m, keys[i], (size_t)i, NULL), 1);
	cr_assert_geq(m.cap, 128);
	cr_assert_not_null(m.slot[0].key, "the run wrapped");
	for (int i = 0; i < n; i++)
		cr_assert_eq(*hmap_get(&m, keys[i]), (size_t)i);
	/* delete from the middle of the run; the rest stay reachable */
	for (int i = 1; i < n; i += 3)
		cr_assert_eq(hmap_del(&m, keys[i]), 1);
	for (int i = 0; i < n; i++) {
		size_t *v = hmap_get(&m, keys[i]);
		if (i % 3 == 1)
			cr_assert_null(v, "%s deleted", keys[i]);
		else
			cr_assert(v && *v == (size_t)i, "%s kept", keys[i]);
	}
	hmap_release(&m);
}

/* Brute force: the reference is an array of (key, val, live). */
struct ref {
	char key[8];
	size_t val;
	int live;
};

static long ref_find(const struct ref *r, int n, const char *k)
{
	for (int i = 0; i < n; i++)
		if (r[i].live && !strcmp(r[i].key, k))
			return i;
	return -1;
}

Test(hmap, random_ops_match_a_brute_force_reference)
{
	enum { KEYS = 600, OPS = 40000 };
	static struct ref r[KEYS];
	for (int i = 0; i < KEYS; i++)
		snprintf(r[i].key, sizeof(r[i].key), "%d", i * 7919 % 100003);
	struct hmap m = HMAP_INIT;
	size_t live = 0;
	unsigned long long x = 88172645463325252ULL; /* xorshift64 */
	for (int op = 0; op < OPS; op++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int k = (int)(x % KEYS), what = (int)((x >> 32) % 3);
		const char *key = r[k].key;
		if (what == 0) {
			int added = hmap_add(&m, key, (size_t)op, NULL);
			cr_assert_eq(added, !r[k].live, "op %d add %s", op, key);
			if (added) {
				r[k].live = 1;
				r[k].val = (size_t)op;
				live++;
			}
		} else if (what == 1) {
			int gone = hmap_del(&m, key);
			cr_assert_eq(gone, r[k].live, "op %d del %s", op, key);
			if (gone) {
				r[k].live = 0;
				live--;
			}
		} else {
			size_t *v = hmap_get(&m, key);
			long i = ref_find(r, KEYS, key);
			cr_assert_eq(v != NULL, i >= 0, "op %d get %s", op, key);
			if (v)
				cr_assert_eq(*v, r[i].val);
		}
		cr_assert_eq(m.n, live);
		if (op % 997 == 0) /* a full sweep now and then */
			for (int i = 0; i < KEYS; i++) {
				size_t *v = hmap_get(&m, r[i].key);
				cr_assert_eq(v != NULL, r[i].live, "op %d sweep %s", op, r[i].key);
				if (v)
					cr_assert_eq(*v, r[i].val);
			}
	}
	hmap_release(&m);
}
