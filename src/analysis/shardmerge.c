/*
 * shardmerge.c — shards' loadtest artifacts into one (shardmerge.h).
 *
 * Records carry the whole schedule's request index (sched.h), so merging is
 * concatenating the shards' records and sorting them by (repeat, index);
 * the sorted array must then read 0..n-1 for every repeat, which is the
 * "covers the schedule exactly once" check. Recall hits are keyed by the
 * same index and are concatenated and sorted the same way. Times need no
 * shifting: each shard's intended, sent and done are offsets from its own
 * t0, the group's common start (shard.h). Counters are summed (the maxima
 * of maxima), and the first shard's meta gives the rest (rate, warm-up,
 * duration, k, threshold: the same schedule's).
 */
#include "engrave/shardmerge.h"
#include "engrave/err.h"
#include "engrave/records.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const summed[] = { "scheduled", "sent", "completed", "dropped", "late", "errors",
				      "late_free", "cap_waits", "client_wakeup_count", NULL };
static const char *const maxed[] = { "client_wakeup_max_ns", "elapsed_ns", NULL };
static const char *const dropped_keys[] = { "segment", "segment_den", "scheduled_all", NULL };

static int in_list(const char *const *l, const char *k)
{
	for (; *l; l++)
		if (!strcmp(*l, k))
			return 1;
	return 0;
}

/* Shard i's loadtest artifact, checked against shard 0's. */
static int shard_artifact(struct store *st, const struct run_record *r, struct artifact *a, const struct artifact *first,
			  struct err *e)
{
	const struct run_step *lt = NULL;
	for (int i = 0; i < r->n_steps; i++)
		if (!strcmp(r->steps[i].name, "loadtest") && r->steps[i].n_out > 0)
			lt = &r->steps[i];
	if (!lt)
		return err_set(e, ERR_MISSING, "run %s has no finished load test", r->id);
	if (artifact_get(st, &lt->out[0], a, e))
		return err_prefix(e, "run %s", r->id);
	int64_t all = 0, rep = 0, all0 = 0, rep0 = 0;
	const char *sd = artifact_get_str(a, "schedule_digest");
	if (strcmp(a->type, "loadtest") || artifact_get_int(a, "scheduled_all", &all) || !sd)
		return err_set(e, ERR_USAGE, "run %s is not a shard's plain load test (a sweep, or run without --segment)",
			       r->id);
	artifact_get_int(a, "repeats", &rep);
	if (first && (artifact_get_int(first, "scheduled_all", &all0), artifact_get_int(first, "repeats", &rep0),
		      strcmp(sd, artifact_get_str(first, "schedule_digest")) || all != all0 || rep != rep0))
		return err_set(e, ERR_CHECK, "run %s ran another schedule than the group's first shard", r->id);
	return 0;
}

/* Records and hits of one shard appended. */
static int append_parts(struct store *st, const struct artifact *a, struct records *recs, struct buf *hits,
			struct err *e)
{
	struct buf b;
	buf_init(&b, 0);
	const struct digest *rd = artifact_part(a, "records"), *hd = artifact_part(a, "hits");
	int rc = !rd ? err_set(e, ERR_CORRUPT, "loadtest artifact without records") : obj_get(st, rd, &b, e);
	if (!rc)
		rc = records_decode(b.data, b.len, recs, e);
	if (!rc && hd && !(rc = obj_get(st, hd, &b, e)))
		rc = buf_append(hits, b.data, b.len, e);
	buf_release(&b);
	return rc;
}

/* Hit entries ([u64 key][k ids]) by key: (repeat, index), as records. */
static int cmp_hit(const void *a, const void *b)
{
	uint64_t x, y;
	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	return x < y ? -1 : x > y;
}

/* Every (repeat, index) exactly once, in order. */
static int check_cover(const struct records *recs, uint64_t n, uint64_t repeats, struct err *e)
{
	if (recs->n != n * repeats) {
		err_set(e, ERR_CHECK, "the shards hold %zu records, the schedule %llu x %llu repeats", recs->n,
			(unsigned long long)n, (unsigned long long)repeats);
		return err_hint(e, "the segments must cover [0, 1) exactly once: run every segment of one sequence");
	}
	for (size_t i = 0; i < recs->n; i++) {
		const struct record *r = &recs->v[i];
		if (r->repeat != i / n || r->index != i % n) {
			err_set(e, ERR_CHECK, "the segments do not cover the schedule exactly once: request %llu of repeat %llu is %s",
				(unsigned long long)(i % n), (unsigned long long)(i / n),
				r->index < i % n ? "run twice" : "missing");
			return err_hint(e, "every shard must use the same segment sequence (--segment-sequence)");
		}
	}
	return 0;
}

/* Merged meta: shard 0's, counters summed over `a`, segment keys left out. */
static int merge_meta(struct artifact *m, const struct artifact *a, int n, struct err *e)
{
	for (int k = 0; k < a[0].n_meta; k++) {
		const struct artifact_meta *x = &a[0].meta[k];
		int rc = 0;
		if (in_list(dropped_keys, x->key))
			continue;
		if (x->type == 'i' && (in_list(summed, x->key) || in_list(maxed, x->key))) {
			int64_t v = 0;
			for (int i = 0; i < n; i++) {
				int64_t y = 0;
				artifact_get_int(&a[i], x->key, &y);
				v = in_list(summed, x->key) ? v + y : y > v ? y : v;
			}
			rc = artifact_set_int(m, x->key, v, e);
		} else if (x->type == 'i') {
			rc = artifact_set_int(m, x->key, x->i, e);
		} else if (x->type == 'f') {
			rc = artifact_set_f64(m, x->key, x->f, e);
		} else {
			rc = artifact_set_str(m, x->key, x->s, e);
		}
		if (rc)
			return -1;
	}
	return artifact_set_int(m, "shards", n, e);
}

/* Records and hits into objects, the parts and meta into the artifact. */
static int write_merged(struct store *st, const struct artifact *a, int n, const struct records *recs,
			const struct buf *hits, struct digest *out, struct err *e)
{
	struct artifact m;
	artifact_init(&m, "loadtest", a[0].version);
	m.action = a[0].action;
	size_t bytes = xalloc_mul(recs->n, RECORDS_SIZE);
	void *enc = bytes ? malloc(bytes) : NULL;
	struct digest rd, hd;
	int rc = bytes && !enc ? err_set(e, ERR_NOSPACE, "no memory for %zu merged records", recs->n) : 0;
	if (!rc) {
		records_encode(recs->v, recs->n, enc);
		rc = obj_put(st, enc, bytes, &rd, e) || obj_put(st, hits->data, hits->len, &hd, e) ||
		     artifact_add_part(&m, "records", &rd, bytes, e) || artifact_add_part(&m, "hits", &hd, hits->len, e);
	}
	free(enc);
	for (int k = 0; !rc && k < a[0].n_parts; k++) /* repeat_t0 and errors: the first shard's */
		if (strcmp(a[0].parts[k].name, "records") && strcmp(a[0].parts[k].name, "hits"))
			rc = artifact_add_part(&m, a[0].parts[k].name, &a[0].parts[k].obj, a[0].parts[k].size, e);
	if (!rc)
		rc = merge_meta(&m, a, n, e) || artifact_put(st, &m, out, e);
	artifact_release(&m);
	return rc;
}

int shardmerge_loadtest(struct store *st, const struct run_record *shards, int n, struct digest *out,
			struct shardmerge_report *rep, struct err *e)
{
	memset(rep, 0, sizeof(*rep));
	struct artifact *a = xcalloc((size_t)(n ? n : 1), sizeof(*a));
	struct records recs;
	records_init(&recs);
	struct buf hits;
	buf_init(&hits, 0);
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		rc = shard_artifact(st, &shards[i], &a[i], i ? &a[0] : NULL, e) || append_parts(st, &a[i], &recs, &hits, e);
		size_t o = strlen(rep->segments);
		snprintf(rep->segments + o, sizeof(rep->segments) - o, "%s%s", o ? " " : "",
			 artifact_get_str(&a[i], "segment") ? artifact_get_str(&a[i], "segment") : "?");
	}
	int64_t all = 0, repeats = 1, k = 0;
	if (!rc) {
		artifact_get_int(&a[0], "scheduled_all", &all);
		artifact_get_int(&a[0], "repeats", &repeats);
		artifact_get_int(&a[0], "k", &k);
		records_sort_by_index(&recs);
		size_t hit_size = 8 + 8 * (size_t)(k > 0 ? k : 0);
		if (hits.len % hit_size)
			rc = err_set(e, ERR_CORRUPT, "recall hits of %zu bytes are not whole entries of %zu", hits.len, hit_size);
		else
			qsort(hits.data, hits.len / hit_size, hit_size, cmp_hit);
	}
	if (!rc)
		rc = check_cover(&recs, (uint64_t)all, (uint64_t)(repeats > 0 ? repeats : 1), e);
	if (!rc)
		rc = write_merged(st, a, n, &recs, &hits, out, e);
	if (!rc) {
		rep->shards = n;
		rep->scheduled = (uint64_t)all;
		rep->records = recs.n;
		snprintf(rep->schedule_digest, sizeof(rep->schedule_digest), "%s", artifact_get_str(&a[0], "schedule_digest"));
	}
	for (int i = 0; i < n; i++) /* zeroed or filled: both release */
		artifact_release(&a[i]);
	free(a);
	records_release(&recs);
	buf_release(&hits);
	return rc;
}
