/*
 * corpus.c — the corpus step: real articles (or vectors) into the store.
 *
 * Sources:
 *   mediawiki  a MediaWiki XML dump (.xml/.bz2/.gz), streamed through
 *              wiki_read; kept articles are encoded with article_encode into
 *              1 MiB blocks appended to one chunked object (bounded memory);
 *   jsonl      {id,title,text[,embedding]} lines; embeddings, when present,
 *              go to an "embeddings" part that the embed step then uses;
 *   npy|fvecs  precomputed vectors: the output is a vectors artifact;
 *   sample     built-in generated articles (no file), `limit` of them
 *              (default 200): for trying engrave without any data.
 * Output: artifact "corpus" v1 {parts: articles[, embeddings, embedding_ids]}
 * with meta count and the reader's statistics, or a "vectors" artifact.
 */
#include "engrave/steps.h"
#include "artio.h"
#include "engrave/article.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/jsonl.h"
#include "engrave/log.h"
#include "engrave/rng.h"
#include "engrave/store.h"
#include "engrave/synth.h"
#include "engrave/vecfile.h"
#include "engrave/wiki.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_BYTES (1u << 20)

struct corpus_out {
	struct store *st;
	struct obj_writer *w;
	struct buf blk;
	uint64_t count;
	struct err *e;
	int failed;
};

static int flush_block(struct corpus_out *o)
{
	if (o->blk.len == 0)
		return 0;
	int rc = obj_write(o->w, o->blk.data, o->blk.len, o->e);
	buf_reset(&o->blk);
	return rc;
}

static int add_article(struct corpus_out *o, const struct article *a)
{
	if (article_encode(&o->blk, a))
		return err_set(o->e, ERR_INTERNAL, "cannot encode article %llu", (unsigned long long)a->id);
	o->count++;
	if (o->blk.len >= BLOCK_BYTES && flush_block(o))
		return -1;
	return 0;
}

static int on_wiki_article(const struct article *a, void *ctx)
{
	struct corpus_out *o = ctx;
	if (steps_stop_requested()) {
		err_set(o->e, ERR_INTERRUPTED, "corpus: interrupted after %llu articles",
			(unsigned long long)o->count);
		o->failed = 1;
		return -1;
	}
	if (add_article(o, a)) {
		o->failed = 1;
		return -1;
	}
	return 0;
}

static int finish_corpus(struct step_ctx *c, struct corpus_out *o, struct artifact *a, struct err *e)
{
	if (flush_block(o))
		return -1;
	uint64_t size = obj_writer_size(o->w);
	struct digest d;
	int rc = obj_writer_finish(o->w, &d, e);
	o->w = NULL;
	if (rc || artifact_add_part(a, "articles", &d, size, e) ||
	    artifact_set_int(a, "count", (int64_t)o->count, e))
		return -1;
	a->action = c->action;
	return artifact_put(c->store, a, &c->out[0], e) ? -1 : (c->n_out = 1, 0);
}

static int corpus_mediawiki(struct step_ctx *c, const char *path, struct corpus_out *o, struct err *e)
{
	const struct spec_corpus *sc = &c->spec->corpus;
	struct wiki_opts wo = { sc->limit, sc->min_chars, 1, 0 };
	struct wiki_stats ws;
	memset(&ws, 0, sizeof(ws));
	struct err werr = ERR_INIT;
	if (wiki_read(path, &wo, on_wiki_article, o, &ws, &werr)) {
		if (!o->failed && e)
			*e = werr;
		return -1;
	}
	struct artifact a;
	artifact_init(&a, "corpus", 1);
	int rc = artifact_set_int(&a, "pages", (int64_t)ws.pages, e) ||
		 artifact_set_int(&a, "redirects", (int64_t)ws.redirects, e) ||
		 artifact_set_int(&a, "disambiguation", (int64_t)ws.disambig, e) ||
		 artifact_set_int(&a, "other_namespace", (int64_t)ws.other_ns, e) ||
		 artifact_set_int(&a, "too_short", (int64_t)ws.too_short, e) ||
		 artifact_set_str(&a, "source", "mediawiki", e) || finish_corpus(c, o, &a, e);
	artifact_release(&a);
	if (!rc)
		snprintf(c->summary, sizeof(c->summary),
			 "%llu articles kept of %llu pages (%llu redirects, %llu disambiguation, %llu other ns, %llu short)",
			 (unsigned long long)o->count, (unsigned long long)ws.pages,
			 (unsigned long long)ws.redirects, (unsigned long long)ws.disambig,
			 (unsigned long long)ws.other_ns, (unsigned long long)ws.too_short);
	return rc ? -1 : 0;
}

static int corpus_jsonl(struct step_ctx *c, const char *path, struct corpus_out *o, struct err *e)
{
	struct jsonl_reader *r;
	if (jsonl_reader_open(&r, path, 0, e))
		return -1;
	struct vecs_writer vw;
	int have_vw = 0, rc = -1;
	struct jsonl_record rec;
	int got;
	uint64_t limit = c->spec->corpus.limit;
	while ((got = jsonl_reader_next(r, &rec, e)) == 1) {
		if (limit && o->count >= limit)
			break;
		struct article a = { rec.has_id ? rec.id : rec.line, (char *)(rec.title ? rec.title : ""),
				     (char *)(rec.text ? rec.text : "") };
		if (add_article(o, &a))
			goto out;
		if (rec.embedding) {
			if (!have_vw) {
				if (o->count != 1) {
					err_set(e, ERR_INPUT, "%s:%llu: embedding appears after records without one",
						path, (unsigned long long)rec.line);
					goto out;
				}
				if (vecs_writer_open(&vw, c->store, rec.dim, VW_IDS, e))
					goto out;
				have_vw = 1;
			}
			if (vecs_writer_add(&vw, rec.embedding, 1, &a.id, NULL, NULL, e))
				goto out;
		} else if (have_vw) {
			err_set(e, ERR_INPUT, "%s:%llu: record has no embedding but earlier ones do", path,
				(unsigned long long)rec.line);
			goto out;
		}
		if (steps_stop_requested()) {
			err_set(e, ERR_INTERRUPTED, "corpus: interrupted");
			goto out;
		}
	}
	if (got < 0)
		goto out;
	struct artifact a;
	artifact_init(&a, "corpus", 1);
	if (have_vw) {
		struct artifact va;
		struct digest vd;
		artifact_init(&va, "vectors", 1);
		int vrc = vecs_writer_finish(&vw, &va, &vd, e);
		have_vw = 0;
		if (!vrc)
			vrc = artifact_add_part(&a, "embeddings", &vd, 0, e);
		artifact_release(&va);
		if (vrc) {
			artifact_release(&a);
			goto out;
		}
	}
	int with_emb = artifact_part(&a, "embeddings") != NULL;
	rc = artifact_set_str(&a, "source", "jsonl", e) || finish_corpus(c, o, &a, e) ? -1 : 0;
	artifact_release(&a);
	if (!rc)
		snprintf(c->summary, sizeof(c->summary), "%llu records%s", (unsigned long long)o->count,
			 with_emb ? " with embeddings" : "");
out:
	if (have_vw)
		vecs_writer_abort(&vw);
	jsonl_reader_close(r);
	return rc;
}

static int corpus_vectors(struct step_ctx *c, const char *path, struct err *e)
{
	struct vecfile_reader *r;
	if (vecfile_reader_open(&r, path, 0, e))
		return -1;
	uint32_t dim = vecfile_reader_dim(r);
	uint64_t rows = vecfile_reader_rows(r), limit = c->spec->corpus.limit;
	if (limit && limit < rows)
		rows = limit;
	struct vecs_writer vw;
	if (vecs_writer_open(&vw, c->store, dim, VW_IDS, e)) {
		vecfile_reader_close(r);
		return -1;
	}
	size_t blk = 4096;
	int rc = -1;
	uint64_t *ids = xmalloc_array(blk, sizeof(uint64_t));
	float *v = xalloc_try_array(blk, xalloc_mul(dim, sizeof(float)), "a block of vectors", e);
	if (!v) {
		err_prefix(e, "%s (%u-d)", path, dim);
		goto out;
	}
	uint64_t done = 0;
	while (done < rows) {
		size_t want = rows - done < blk ? (size_t)(rows - done) : blk;
		long n = vecfile_reader_read(r, v, want, e);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		size_t got = (size_t)n;
		for (size_t i = 0; i < got; i++)
			ids[i] = done + i;
		if (vecs_writer_add(&vw, v, got, ids, NULL, NULL, e))
			goto out;
		done += got;
	}
	struct artifact a;
	artifact_init(&a, "vectors", 1);
	a.action = c->action;
	rc = artifact_set_str(&a, "source", vecfile_format_name(vecfile_reader_format(r)), e) ||
		     vecs_writer_finish(&vw, &a, &c->out[0], e)
		     ? -1
		     : 0;
	artifact_release(&a);
	if (!rc) {
		c->n_out = 1;
		snprintf(c->summary, sizeof(c->summary), "%llu precomputed %u-d vectors",
			 (unsigned long long)done, dim);
	}
out:
	if (rc)
		vecs_writer_abort(&vw);
	free(v);
	free(ids);
	vecfile_reader_close(r);
	return rc;
}

/* Built-in generated articles: titles and sentences from the synthetic
 * text generator, a pure function of (seed, i). */
static int corpus_sample(struct step_ctx *c, struct corpus_out *o, struct err *e)
{
	uint64_t n = c->spec->corpus.limit ? c->spec->corpus.limit : 200;
	struct synth_opts so;
	synth_opts_init(&so, n * 8);
	so.seed = c->spec->seed;
	char title[64], sent[256];
	struct buf text;
	buf_init(&text, 0);
	for (uint64_t i = 0; i < n; i++) {
		buf_reset(&text);
		uint32_t topic = rng_below(c->spec->seed, 0x53414d50ULL /* "SAMP" */, i, 12);
		for (int s = 0; s < 6; s++) {
			synth_text(&so, i * 8 + (uint64_t)s, topic, sent, sizeof(sent));
			const char *colon = strchr(sent, ':');
			buf_printf(&text, NULL, "%s ", colon ? colon + 2 : sent);
		}
		snprintf(title, sizeof(title), "Sample article %llu", (unsigned long long)i);
		struct article a = { i + 1, title, text.data };
		if (text.len >= c->spec->corpus.min_chars && add_article(o, &a)) {
			buf_release(&text);
			return -1;
		}
	}
	buf_release(&text);
	struct artifact a;
	artifact_init(&a, "corpus", 1);
	int rc = artifact_set_str(&a, "source", "sample", e) || finish_corpus(c, o, &a, e) ? -1 : 0;
	artifact_release(&a);
	if (!rc)
		snprintf(c->summary, sizeof(c->summary), "%llu generated sample articles",
			 (unsigned long long)o->count);
	return rc;
}

int step_corpus_run(struct step_ctx *c, struct err *e)
{
	const struct spec_corpus *sc = &c->spec->corpus;
	struct buf path;
	buf_init(&path, 0);
	if (sc->path && spec_resolve_path(c->spec, sc->path, &path, e)) {
		buf_release(&path);
		return -1;
	}
	if (sc->source == SPEC_SRC_NPY || sc->source == SPEC_SRC_FVECS) {
		int rc = corpus_vectors(c, path.data, e);
		buf_release(&path);
		return rc;
	}
	struct corpus_out o;
	memset(&o, 0, sizeof(o));
	o.st = c->store;
	o.e = e;
	buf_init(&o.blk, 0);
	int rc = obj_writer_open(c->store, &o.w, e);
	if (!rc) {
		if (sc->source == SPEC_SRC_MEDIAWIKI)
			rc = corpus_mediawiki(c, path.data, &o, e);
		else if (sc->source == SPEC_SRC_JSONL)
			rc = corpus_jsonl(c, path.data, &o, e);
		else
			rc = corpus_sample(c, &o, e);
	}
	if (rc && e && e->cls != ERR_INTERRUPTED && sc->path)
		err_prefix(e, "steps.corpus");
	obj_writer_abort(o.w);
	buf_release(&o.blk);
	buf_release(&path);
	if (!rc && o.count == 0) {
		err_set(e, ERR_INPUT, "corpus: no article was kept from '%s'",
			sc->path ? sc->path : "the sample generator");
		return err_hint(e, "check steps.corpus.min_chars and the file's namespace-0 pages");
	}
	return rc;
}
