/*
 * embedded.c — the "embedded" driver: an in-process exact vector index, so
 * an experiment (experiments/quickstart.yaml) runs with no server at all.
 *
 * An index is an append-only float32 matrix (row-major, dim floats per row)
 * with one id, text and precomputed L2 norm per row, plus an open-addressing
 * id -> row map: storing an existing id overwrites its row (idempotent
 * retries, like Engram's id-keyed buffer); deleting an id moves the last row
 * into its place (O(dim), the map follows), so rows stay dense. Recall is an exact scan in row
 * order keeping the top k with strict comparisons, so ties resolve to the
 * lower row and results are deterministic. Scores follow Engram: metric
 * cosine gives max(0, cosine) and drops hits below the threshold; "ip" the
 * dot product (threshold applied too); "l2" gives -distance (no threshold).
 * The scan is plain C loops: OpenBLAS stays behind src/data/vec.c, and
 * a single-query scan is memory-bound anyway.
 *
 * Indexes live in a process-wide registry keyed by space name, so the
 * ingest step and the load test of one run see the same data even when each
 * opens its own target; target_reset() clears one. Thread safety: one
 * rwlock per index (one writer, many readers); the registry has a mutex.
 */
#include "targets/target_int.h"
#include "engrave/hmap.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct eindex {
	char *space;
	uint32_t dim;
	pthread_rwlock_t lock;
	size_t n, cap;
	float *vecs;
	float *norms;
	char **ids;
	char **texts;
	struct hmap rows;   /* id -> row; keys are the strings in ids[] */
	struct eindex *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct eindex *registry;

static long find_row(const struct eindex *x, const char *id)
{
	const size_t *row = hmap_get(&x->rows, id);
	return row ? (long)*row : -1;
}

static void index_clear(struct eindex *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->ids[i]);
		free(x->texts[i]);
	}
	free(x->vecs);
	free(x->norms);
	free(x->ids);
	free(x->texts);
	hmap_release(&x->rows);
	x->vecs = x->norms = NULL;
	x->ids = x->texts = NULL;
	x->n = x->cap = 0;
}

static int grow(struct eindex *x, struct err *e)
{
	if (x->n < x->cap)
		return 0;
	size_t nc = x->cap ? x->cap * 2 : 1024;
	float *v = xalloc_try_resize(x->vecs, nc, xalloc_mul(x->dim, sizeof(float)), "the embedded index's vectors",
				     e);
	if (!v)
		return -1;
	x->vecs = v;
	float *nr = xalloc_try_resize(x->norms, nc, sizeof(float), "the embedded index's norms", e);
	if (!nr)
		return -1;
	x->norms = nr;
	char **ids = xalloc_try_resize(x->ids, nc, sizeof(char *), "the embedded index's ids", e);
	if (!ids)
		return -1;
	x->ids = ids;
	char **tx = xalloc_try_resize(x->texts, nc, sizeof(char *), "the embedded index's texts", e);
	if (!tx)
		return -1;
	x->texts = tx;
	x->cap = nc;
	return 0;
}

static float norm_of(const float *v, uint32_t d)
{
	double s = 0; /* fixed order, double accumulator */
	for (uint32_t i = 0; i < d; i++)
		s += (double)v[i] * v[i];
	return (float)sqrt(s);
}

static int embedded_open(struct target *t, struct err *e)
{
	pthread_mutex_lock(&registry_lock);
	struct eindex *x = registry;
	while (x && strcmp(x->space, t->space) != 0)
		x = x->next;
	if (x && x->dim != t->dim) {
		pthread_mutex_unlock(&registry_lock);
		return err_set(e, ERR_SPEC, "embedded target space '%s' holds %u-d vectors, the spec asks for %u",
			       t->space, x->dim, t->dim);
	}
	if (!x) {
		x = xcalloc(1, sizeof(*x));
		x->space = xstrdup(t->space);
		x->dim = t->dim;
		pthread_rwlock_init(&x->lock, NULL);
		x->next = registry;
		registry = x;
	}
	pthread_mutex_unlock(&registry_lock);
	t->priv = x;
	return 0;
}

static int embedded_health(struct target *t, char *version, size_t cap, struct err *e)
{
	(void)t;
	(void)e;
	target_copy_str(version, cap, "engrave-embedded-1");
	return 0;
}

/* Its parameters: an exact scan, the metric, the rows it holds now. */
static int embedded_describe_env(struct target *t, struct envlist *out, struct err *e)
{
	uint64_t n = 0;
	if (t->ops->count(t, &n, e))
		return -1;
	envlist_set(out, "version", "engrave-embedded-1");
	envlist_set(out, "index", "exact scan, in process");
	envlist_set(out, "metric", t->metric);
	envlist_set_num(out, "rows", (double)n);
	return 0;
}

static int embedded_count(struct target *t, uint64_t *n, struct err *e)
{
	(void)e;
	struct eindex *x = t->priv;
	pthread_rwlock_rdlock(&x->lock);
	*n = x->n;
	pthread_rwlock_unlock(&x->lock);
	return 0;
}

static size_t embedded_max_batch(struct target *t)
{
	(void)t;
	return SIZE_MAX;
}

static int embedded_store(struct target *t, const struct target_record *recs, size_t n,
			  struct target_store_result *res, struct err *e)
{
	struct eindex *x = t->priv;
	int rc = 0;
	pthread_rwlock_wrlock(&x->lock);
	for (size_t i = 0; i < n; i++) {
		struct target_store_result *r = &res[i];
		memset(r, 0, sizeof(*r));
		const struct target_record *rec = &recs[i];
		if (!rec->id || !*rec->id || !rec->vec) {
			r->status = TARGET_REJECTED;
			target_copy_str(r->reason, sizeof(r->reason), "record needs an id and a vector");
			continue;
		}
		long row = find_row(x, rec->id);
		size_t tlen = rec->content ? strlen(rec->content) : 0;
		char *text = xalloc_try_array(tlen + 1, 1, "a record's content", e);
		if (!text) {
			rc = err_prefix(e, "embedded");
			break;
		}
		memcpy(text, rec->content ? rec->content : "", tlen + 1);
		if (row < 0) {
			if (grow(x, e)) {
				free(text);
				rc = err_prefix(e, "embedded");
				break;
			}
			char *id = xstrdup(rec->id);
			row = (long)x->n;
			x->ids[row] = id;
			x->texts[row] = NULL;
			if (hmap_add(&x->rows, id, (size_t)row, e) < 0) {
				free(id);
				free(text);
				rc = err_prefix(e, "embedded");
				break;
			}
			x->n++;
		}
		free(x->texts[row]);
		x->texts[row] = text;
		memcpy(x->vecs + (size_t)row * x->dim, rec->vec, (size_t)x->dim * sizeof(float));
		x->norms[row] = norm_of(rec->vec, x->dim);
		r->status = TARGET_STORED;
		target_copy_str(r->server_id, sizeof(r->server_id), rec->id);
	}
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

struct scored {
	size_t row;
	float score;
};

static int embedded_recall(struct target *t, const float *q, int k, float threshold,
			   struct target_hits *out, struct err *e)
{
	struct eindex *x = t->priv;
	out->n = 0;
	if (k <= 0)
		return 0;
	int mode = strcmp(t->metric, "l2") == 0 ? 2 : strcmp(t->metric, "ip") == 0 ? 1 : 0;
	float qn = norm_of(q, x->dim);
	struct scored *top = xmalloc_array((size_t)k, sizeof(*top)); /* k <= 10000 (spec) */
	size_t m = 0;
	pthread_rwlock_rdlock(&x->lock);
	for (size_t r = 0; r < x->n; r++) {
		const float *v = x->vecs + r * (size_t)x->dim;
		float s;
		if (mode == 2) {
			float d2 = 0;
			for (uint32_t i = 0; i < x->dim; i++) {
				float d = v[i] - q[i];
				d2 += d * d;
			}
			s = -sqrtf(d2);
		} else {
			float dot = 0;
			for (uint32_t i = 0; i < x->dim; i++)
				dot += v[i] * q[i];
			if (mode == 1) {
				s = dot;
			} else {
				float den = x->norms[r] * qn;
				s = den > 0 ? dot / den : 0;
				if (s < 0)
					s = 0;
			}
			if (s < threshold)
				continue;
		}
		if (m == (size_t)k && !(s > top[m - 1].score))
			continue;
		size_t p = m < (size_t)k ? m++ : m - 1;
		while (p > 0 && s > top[p - 1].score) {
			top[p] = top[p - 1];
			p--;
		}
		top[p].row = r;
		top[p].score = s;
	}
	int rc = 0;
	for (size_t i = 0; i < m && !rc; i++)
		rc = target_hits_push(out, x->ids[top[i].row], top[i].score, e);
	pthread_rwlock_unlock(&x->lock);
	free(top);
	return rc;
}

static int embedded_search(struct target *t, const char *text, int k, struct target_hits *out,
			   struct err *e)
{
	/* Engram's substring scoring: 0.9 case-sensitive, 0.7 case-insensitive,
	 * anything else falls below the 0.7 threshold and is dropped. */
	struct eindex *x = t->priv;
	out->n = 0;
	int rc = 0;
	pthread_rwlock_rdlock(&x->lock);
	for (int pass = 0; pass < 2 && !rc; pass++) {
		for (size_t r = 0; r < x->n && (int)out->n < k && !rc; r++) {
			int exact = strstr(x->texts[r], text) != NULL;
			int loose = !exact && strcasestr(x->texts[r], text) != NULL;
			if ((pass == 0 && exact) || (pass == 1 && loose))
				rc = target_hits_push(out, x->ids[r], pass == 0 ? 0.9f : 0.7f, e);
		}
	}
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

static int embedded_fetch(struct target *t, uint64_t offset, uint32_t limit,
			  struct target_vectors *out, struct err *e)
{
	struct eindex *x = t->priv;
	int rc = 0;
	pthread_rwlock_rdlock(&x->lock);
	for (uint64_t r = offset; r < x->n && r < offset + limit && !rc; r++)
		rc = target_vectors_push(out, x->ids[r], x->vecs + r * x->dim, e);
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

static int embedded_get(struct target *t, const char *const *ids, size_t n,
			struct target_vectors *out, struct err *e)
{
	struct eindex *x = t->priv;
	int rc = 0;
	pthread_rwlock_rdlock(&x->lock);
	for (size_t i = 0; i < n && !rc; i++) {
		long r = find_row(x, ids[i]);
		rc = target_vectors_push(out, ids[i], r >= 0 ? x->vecs + (size_t)r * x->dim : NULL, e);
	}
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

/* Remove ids: the last row moves into each freed row (ids it lacks are ignored). */
static int embedded_delete(struct target *t, const char *const *ids, size_t n, struct err *e)
{
	(void)e;
	struct eindex *x = t->priv;
	pthread_rwlock_wrlock(&x->lock);
	for (size_t i = 0; i < n; i++) {
		long row = find_row(x, ids[i]);
		if (row < 0)
			continue;
		size_t last = x->n - 1;
		hmap_del(&x->rows, x->ids[row]);
		free(x->ids[row]);
		free(x->texts[row]);
		if ((size_t)row != last) {
			x->ids[row] = x->ids[last];
			x->texts[row] = x->texts[last];
			memcpy(x->vecs + (size_t)row * x->dim, x->vecs + last * x->dim, (size_t)x->dim * sizeof(float));
			x->norms[row] = x->norms[last];
			*hmap_get(&x->rows, x->ids[row]) = (size_t)row;
		}
		x->n--;
	}
	pthread_rwlock_unlock(&x->lock);
	return 0;
}

static int embedded_reset(struct target *t, struct err *e)
{
	(void)e;
	struct eindex *x = t->priv;
	pthread_rwlock_wrlock(&x->lock);
	index_clear(x);
	pthread_rwlock_unlock(&x->lock);
	return 0;
}

static const struct target_ops embedded_ops = {
	.open = embedded_open,
	.health = embedded_health,
	.describe_env = embedded_describe_env,
	.count = embedded_count,
	.max_batch = embedded_max_batch,
	.fetch_embeddings = embedded_fetch,
	.get_vectors = embedded_get,
	.reset = embedded_reset,
	.delete_ids = embedded_delete,
	.exec_store = embedded_store,
	.exec_recall = embedded_recall,
	.exec_search = embedded_search,
};

static const char *const embedded_spec_keys[] = { "hnsw", "hnsw.space", NULL };

const struct target_driver target_embedded = {
	.name = "embedded",
	.default_url = NULL, /* in-process */
	.ns_key = NULL,      /* no namespace key: its index is "default" */
	.ns_default = NULL,
	.ns_check = NULL,
	.id_max = TARGET_ID_MAX - 1,
	.content_max = 0,
	.caps = TARGET_CAP_TEXT_SEARCH | TARGET_CAP_RESET | TARGET_CAP_COUNT | TARGET_CAP_READ_BY_ID | TARGET_CAP_DELETE,
	.dim_min = 1,
	.dim_max = 65536,
	.unheld_hint = NULL,
	.spec_keys = embedded_spec_keys,
	.corpus_confidence = NULL,
	.ops = &embedded_ops,
};
