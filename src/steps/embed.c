/*
 * embed.c — the embed step: corpus articles -> 768-d (spec dim) vectors.
 *
 * Input text per article follows steps.corpus.text (default title + first
 * lead_chars characters, as Engram's ingest.py did). Two embedders:
 *   hashing  built-in feature hashing (data/embed_hash.c), deterministic and
 *            fast, so it is not cached per text;
 *   http     an OpenAI-compatible or Ollama server (net/embed_http.c).
 *            Every embedded text is cached: key = SHA-256(embedder identity,
 *            text), value = the vector as a CAS blob recorded in the action
 *            cache. A rerun with a larger `limit` embeds only the new
 *            articles, and an interrupted run (Ctrl-C, kill -9) resumes from
 *            what the cache holds.
 * Output: a vectors artifact (ids = article ids). A corpus that already
 * carries embeddings (JSONL with "embedding", .npy/.fvecs) passes through.
 */
#include "engrave/steps.h"
#include "artio.h"
#include "engrave/article.h"
#include "engrave/buf.h"
#include "engrave/embed_hash.h"
#include "engrave/embed_http.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"
#include "engrave/secret.h"
#include "engrave/log.h"
#include "engrave/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_BATCH 1024

struct embed_run {
	struct step_ctx *c;
	struct err *e;
	uint32_t dim;
	struct embed_http *http;     /* NULL for hashing */
	char identity[256];
	struct vecs_writer vw;
	size_t batch_cap, n;
	struct buf *texts;           /* batch_cap text buffers */
	uint64_t *ids;
	float *vecs;
	struct progress prog;
	uint64_t cached, embedded;
};

static int text_for(const struct spec *sp, const struct article_view *v, struct buf *out)
{
	buf_reset(out);
	size_t lead = sp->corpus.lead_chars;
	switch (sp->corpus.text) {
	case SPEC_TEXT_TITLE_LEAD:
		return article_view_embed_input(v, lead, out);
	case SPEC_TEXT_TITLE_FULL:
		return article_view_embed_input(v, 0, out);
	case SPEC_TEXT_LEAD:
		return buf_append(out, v->text, article_utf8_prefix(v->text, v->text_len, lead), NULL);
	case SPEC_TEXT_FULL:
		return buf_append(out, v->text, v->text_len, NULL);
	}
	return -1;
}

static void cache_key(const struct embed_run *r, const struct buf *text, struct digest *key)
{
	struct hash_ctx h;
	hash_init(&h);
	hash_update(&h, "engrave-embed-cache-v1", 23);
	hash_update(&h, r->identity, strlen(r->identity) + 1);
	hash_update(&h, text->data, text->len);
	hash_final(&h, key);
}

/* Look the vector up in the cache: 1 hit (copied to out), 0 miss, -1 error. */
static int cache_get(struct embed_run *r, const struct digest *key, float *out)
{
	struct buf v;
	buf_init(&v, 0);
	int hit = ac_get(r->c->store, key, &v, r->e);
	if (hit == 1) {
		struct digest blob;
		int n = 0;
		uint64_t el;
		hit = -1;
		if (!ac_value_decode(v.data, v.len, &blob, 1, &n, &el, r->e) && n == 1 &&
		    !cas_get(r->c->store, &blob, &v, 0, r->e)) {
			if (v.len == r->dim * sizeof(float)) {
				memcpy(out, v.data, v.len);
				hit = 1;
			} else {
				hit = 0; /* stale entry of another width: embed again */
			}
		}
	}
	buf_release(&v);
	return hit;
}

static int cache_put(struct embed_run *r, const struct digest *key, const float *vec)
{
	struct digest blob;
	struct buf v;
	buf_init(&v, 0);
	int rc = cas_put(r->c->store, vec, r->dim * sizeof(float), &blob, r->e) ||
		 ac_value_encode(&blob, 1, 0, &v, r->e) || ac_put(r->c->store, key, v.data, v.len, r->e);
	buf_release(&v);
	return rc ? -1 : 0;
}

static int flush_batch(struct embed_run *r)
{
	if (r->n == 0)
		return 0;
	if (!r->http) {
		for (size_t i = 0; i < r->n; i++)
			embed_hash_text(r->texts[i].data, r->texts[i].len, r->dim, r->vecs + i * r->dim);
		r->embedded += r->n;
	} else {
		const char *miss_text[1024];
		size_t miss_len[1024], miss_idx[1024], nm = 0;
		struct digest keys[1024];
		for (size_t i = 0; i < r->n; i++) {
			cache_key(r, &r->texts[i], &keys[i]);
			int hit = cache_get(r, &keys[i], r->vecs + i * r->dim);
			if (hit < 0)
				return -1;
			if (hit) {
				r->cached++;
				continue;
			}
			miss_text[nm] = r->texts[i].data;
			miss_len[nm] = r->texts[i].len;
			miss_idx[nm++] = i;
		}
		if (nm) {
			float *tmp = xalloc_try_array(nm, xalloc_mul(r->dim, sizeof(float)), "embeddings", r->e);
			if (!tmp)
				return err_prefix(r->e, "embed");
			if (embed_http_batch(r->http, miss_text, miss_len, nm, tmp, r->e)) {
				free(tmp);
				return -1;
			}
			for (size_t k = 0; k < nm; k++) {
				memcpy(r->vecs + miss_idx[k] * r->dim, tmp + k * r->dim, r->dim * sizeof(float));
				if (cache_put(r, &keys[miss_idx[k]], tmp + k * r->dim)) {
					free(tmp);
					return -1;
				}
			}
			free(tmp);
			r->embedded += nm;
		}
	}
	if (vecs_writer_add(&r->vw, r->vecs, r->n, r->ids, NULL, NULL, r->e))
		return -1;
	progress_add(&r->prog, r->n, 0, 0);
	r->n = 0;
	if (steps_stop_requested())
		return err_set(r->e, ERR_INTERRUPTED, "embed: interrupted after %llu articles (cached ones resume)",
			       (unsigned long long)r->vw.rows);
	return 0;
}

static int on_article(const struct article_view *v, void *ctx)
{
	struct embed_run *r = ctx;
	if (text_for(r->c->spec, v, &r->texts[r->n]))
		return err_set(r->e, ERR_INTERNAL, "cannot build the embedding input of article %llu",
			       (unsigned long long)v->id);
	r->ids[r->n++] = v->id;
	if (r->n == r->batch_cap)
		return flush_batch(r);
	return 0;
}

/* A corpus that already carries vectors (a vectors artifact, or JSONL with
 * embeddings) passes them through, once their dimension is checked. */
static int embed_passthrough(struct step_ctx *c, const struct artifact *corpus, const struct digest *corpus_d,
			     struct err *e)
{
	const struct digest *pd = artifact_part(corpus, "embeddings");
	c->out[0] = pd ? *pd : *corpus_d;
	c->n_out = 1;
	int64_t dim = 0;
	struct artifact va;
	if (pd && !artifact_get(c->store, pd, &va, NULL)) {
		artifact_get_int(&va, "dim", &dim);
		artifact_release(&va);
	} else {
		artifact_get_int(corpus, "dim", &dim);
	}
	if ((uint64_t)dim != c->spec->embed.dim)
		return err_set(e, ERR_SPEC, "the corpus carries %lld-d vectors, steps.embed.dim says %llu",
			       (long long)dim, (unsigned long long)c->spec->embed.dim);
	snprintf(c->summary, sizeof(c->summary), "precomputed %lld-d vectors from the corpus", (long long)dim);
	return 0;
}

/* The embedder (hashing in process, or an http client) and the batch
 * buffers sized for it. */
static int embed_open(struct embed_run *r, struct err *e)
{
	const struct spec_embed *se = &r->c->spec->embed;
	if (se->embedder == SPEC_EMBEDDER_HTTP) {
		const char *key = NULL;
		if (se->auth_bearer_env && secret_env(se->auth_bearer_env, "embedder", &key, e))
			return -1;
		struct embed_http_opts ho;
		memset(&ho, 0, sizeof(ho));
		ho.api = se->api == SPEC_API_OLLAMA ? EMBED_HTTP_OLLAMA : EMBED_HTTP_OPENAI;
		ho.url = se->url;
		ho.model = se->model;
		ho.dim = (int)se->dim;
		ho.batch_size = (int)se->batch_size;
		ho.concurrency = (int)se->concurrency;
		ho.api_key = key;
		ho.timeout_ns = se->timeout_ns;
		ho.retry.max_attempts = (int)se->retries + 1;
		if (embed_http_new(&ho, &r->http, e))
			return -1;
		snprintf(r->identity, sizeof(r->identity), "%s", embed_http_identity(r->http));
		r->batch_cap = se->batch_size * se->concurrency;
		if (r->batch_cap > 1024)
			r->batch_cap = 1024;
	} else {
		embed_hash_identity(r->dim, r->identity, sizeof(r->identity));
		r->batch_cap = HASH_BATCH;
	}
	if (r->batch_cap == 0)
		r->batch_cap = 1;
	r->vecs = xalloc_try_array(r->batch_cap, xalloc_mul(r->dim, sizeof(float)), "a batch of embeddings", e);
	if (!r->vecs)
		return err_prefix(e, "embed: %zu texts of %u-d", r->batch_cap, r->dim);
	r->texts = xcalloc(r->batch_cap, sizeof(*r->texts)); /* batch_cap <= 1024 */
	r->ids = xcalloc(r->batch_cap, sizeof(*r->ids));
	for (size_t i = 0; i < r->batch_cap; i++)
		buf_init(&r->texts[i], 0);
	return 0;
}

static void embed_close(struct embed_run *r)
{
	if (r->prog.start)
		progress_finish(&r->prog);
	for (size_t i = 0; r->texts && i < r->batch_cap; i++)
		buf_release(&r->texts[i]);
	free(r->texts);
	free(r->ids);
	free(r->vecs);
	embed_http_free(r->http);
}

int step_embed_run(struct step_ctx *c, struct err *e)
{
	struct artifact corpus;
	const struct digest *corpus_d = step_input(c, STEP_CORPUS);
	if (!corpus_d)
		return err_set(e, ERR_INTERNAL, "embed: the corpus step has no output");
	if (artifact_get(c->store, corpus_d, &corpus, e))
		return -1;
	if (!strcmp(corpus.type, "vectors") || artifact_part(&corpus, "embeddings")) {
		int rc = embed_passthrough(c, &corpus, corpus_d, e);
		artifact_release(&corpus);
		return rc;
	}
	struct embed_run r;
	memset(&r, 0, sizeof(r));
	r.c = c;
	r.e = e;
	r.dim = (uint32_t)c->spec->embed.dim;
	int rc = -1;
	if (embed_open(&r, e))
		goto out;
	int64_t count = 0;
	artifact_get_int(&corpus, "count", &count);
	progress_start(&r.prog, "embed", (uint64_t)count, "articles");
	if (vecs_writer_open(&r.vw, c->store, r.dim, VW_IDS, e))
		goto out;
	if (artio_each_article(c->store, &corpus, on_article, &r, e) || flush_batch(&r)) {
		vecs_writer_abort(&r.vw);
		goto out;
	}
	struct artifact a;
	artifact_init(&a, "vectors", 1);
	a.action = c->action;
	rc = artifact_set_str(&a, "embedder", r.identity, e) || artifact_set_str(&a, "id_prefix", "wiki-", e) ||
		     vecs_writer_finish(&r.vw, &a, &c->out[0], e)
		     ? -1
		     : 0;
	artifact_release(&a);
	if (!rc) {
		c->n_out = 1;
		snprintf(c->summary, sizeof(c->summary), "%llu vectors (%u-d, %.80s; %llu embedded, %llu from cache)",
			 (unsigned long long)r.vw.rows, r.dim, r.identity, (unsigned long long)r.embedded,
			 (unsigned long long)r.cached);
	}
out:
	embed_close(&r);
	artifact_release(&corpus);
	return rc;
}
