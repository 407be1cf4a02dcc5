/*
 * artio.c — vectors artifacts: streamed writing through chunked objects,
 * whole loading for the steps that need random access (k-means, kNN).
 *
 * Parts are written through one obj_writer each, so memory stays bounded
 * by the caller's row blocks; loading checks that each part has exactly the
 * size its meta promises, so a truncated or mismatched artifact is reported
 * as corrupt rather than read past. vecs_rows_* read chosen rows by offset
 * (the queries step samples 1000 rows of a 3 GB set): the rows are visited
 * in increasing order, so the object reader loads and hashes each chunk
 * that holds one of them once, and memory is one chunk.
 */
#include "artio.h"
#include "engrave/article.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <stdlib.h>
#include <string.h>

int vecs_writer_open(struct vecs_writer *w, struct store *st, uint32_t dim, int flags, struct err *e)
{
	memset(w, 0, sizeof(*w));
	w->st = st;
	w->dim = dim;
	w->flags = flags;
	if (obj_writer_open(st, &w->vecs, e))
		return -1;
	if ((flags & VW_IDS) && obj_writer_open(st, &w->ids, e))
		goto fail;
	if ((flags & VW_LABELS) && obj_writer_open(st, &w->labels, e))
		goto fail;
	if ((flags & VW_CONF) && obj_writer_open(st, &w->conf, e))
		goto fail;
	return 0;
fail:
	vecs_writer_abort(w);
	return -1;
}

int vecs_writer_add(struct vecs_writer *w, const float *v, size_t n, const uint64_t *ids,
		    const uint32_t *labels, const float *conf, struct err *e)
{
	if (obj_write(w->vecs, v, n * w->dim * sizeof(float), e))
		return -1;
	if (w->ids && obj_write(w->ids, ids, n * sizeof(uint64_t), e))
		return -1;
	if (w->labels && obj_write(w->labels, labels, n * sizeof(uint32_t), e))
		return -1;
	if (w->conf && obj_write(w->conf, conf, n * sizeof(float), e))
		return -1;
	w->rows += n;
	return 0;
}

static int finish_part(struct obj_writer **pw, struct artifact *a, const char *name, struct err *e)
{
	if (!*pw)
		return 0;
	uint64_t size = obj_writer_size(*pw);
	struct digest d;
	int rc = obj_writer_finish(*pw, &d, e);
	*pw = NULL;
	if (rc)
		return -1;
	return artifact_add_part(a, name, &d, size, e);
}

int vecs_writer_finish(struct vecs_writer *w, struct artifact *a, struct digest *out, struct err *e)
{
	if (finish_part(&w->vecs, a, "vectors", e) || finish_part(&w->ids, a, "ids", e) ||
	    finish_part(&w->labels, a, "labels", e) || finish_part(&w->conf, a, "confidence", e)) {
		vecs_writer_abort(w);
		return -1;
	}
	if (artifact_set_int(a, "rows", (int64_t)w->rows, e) || artifact_set_int(a, "dim", w->dim, e) ||
	    artifact_set_str(a, "dtype", "f32", e))
		return -1;
	return artifact_put(w->st, a, out, e);
}

void vecs_writer_abort(struct vecs_writer *w)
{
	obj_writer_abort(w->vecs);
	obj_writer_abort(w->ids);
	obj_writer_abort(w->labels);
	obj_writer_abort(w->conf);
	w->vecs = w->ids = w->labels = w->conf = NULL;
}

int artio_read_part(struct store *st, const struct artifact *a, const char *part, void *dst, uint64_t want,
		    struct err *e)
{
	const struct digest *d = artifact_part(a, part);
	char hex[DIGEST_HEX_LEN + 1];
	if (!d)
		return err_set(e, ERR_CORRUPT, "%s artifact has no '%s' part", a->type, part);
	struct obj_reader *r;
	if (obj_reader_open(st, d, &r, e))
		return -1;
	if (obj_reader_size(r) != want) {
		digest_to_hex(d, hex);
		err_set(e, ERR_CORRUPT, "%s part '%s' (%s) has %llu bytes, expected %llu", a->type, part, hex,
			(unsigned long long)obj_reader_size(r), (unsigned long long)want);
		obj_reader_close(r);
		return -1;
	}
	int rc = want ? obj_read_at(r, 0, dst, (size_t)want, e) : 0;
	obj_reader_close(r);
	return rc;
}

int vecs_load(struct store *st, const struct digest *d, struct vecs *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (artifact_get(st, d, &out->art, e))
		return -1;
	int64_t rows = 0, dim = 0;
	if (artifact_get_int(&out->art, "rows", &rows) || artifact_get_int(&out->art, "dim", &dim) || rows < 0 ||
	    dim <= 0) {
		char hex[DIGEST_HEX_LEN + 1];
		digest_to_hex(d, hex);
		err_set(e, ERR_CORRUPT, "artifact %s (%s) is not a vectors artifact (no rows/dim)", hex,
			out->art.type);
		artifact_release(&out->art);
		return -1;
	}
	out->rows = (uint64_t)rows;
	out->dim = (uint32_t)dim;
	size_t n = (size_t)rows;
	out->v = xalloc_try_array(n, xalloc_mul((size_t)dim, sizeof(float)), "vectors", e);
	if (!out->v)
		goto nospace;
	if (artio_read_part(st, &out->art, "vectors", out->v, (uint64_t)n * (uint64_t)dim * sizeof(float), e))
		goto fail;
	if (artifact_part(&out->art, "ids")) {
		if (!(out->ids = xalloc_try_array(n, sizeof(uint64_t), "vector ids", e)))
			goto nospace;
		if (artio_read_part(st, &out->art, "ids", out->ids, n * sizeof(uint64_t), e))
			goto fail;
	}
	if (artifact_part(&out->art, "labels")) {
		if (!(out->labels = xalloc_try_array(n, sizeof(uint32_t), "vector labels", e)))
			goto nospace;
		if (artio_read_part(st, &out->art, "labels", out->labels, n * sizeof(uint32_t), e))
			goto fail;
	}
	if (artifact_part(&out->art, "confidence")) {
		if (!(out->conf = xalloc_try_array(n, sizeof(float), "vector confidences", e)))
			goto nospace;
		if (artio_read_part(st, &out->art, "confidence", out->conf, n * sizeof(float), e))
			goto fail;
	}
	return 0;
nospace: {
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(d, hex);
	err_prefix(e, "loading %s %.12s (%llu x %u)", out->art.type, hex, (unsigned long long)out->rows, out->dim);
}
fail:
	vecs_free(out);
	return -1;
}

int vecs_rows_open(struct store *st, const struct digest *d, struct vecs_rows *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct artifact a;
	if (artifact_get(st, d, &a, e))
		return -1;
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(d, hex);
	int64_t rows = 0, dim = 0;
	const struct digest *vd = artifact_part(&a, "vectors");
	if (artifact_get_int(&a, "rows", &rows) || artifact_get_int(&a, "dim", &dim) || rows < 0 || dim <= 0 ||
	    !vd) {
		err_set(e, ERR_CORRUPT, "artifact %s (%s) is not a vectors artifact (no rows/dim/vectors)", hex,
			a.type);
		artifact_release(&a);
		return -1;
	}
	int rc = obj_reader_open(st, vd, &out->r, e);
	artifact_release(&a);
	if (rc)
		return -1;
	uint64_t want = (uint64_t)rows * (uint64_t)dim * sizeof(float);
	if (obj_reader_size(out->r) != want) {
		err_set(e, ERR_CORRUPT, "vectors %s: part 'vectors' has %llu bytes, expected %llu", hex,
			(unsigned long long)obj_reader_size(out->r), (unsigned long long)want);
		vecs_rows_close(out);
		return -1;
	}
	out->rows = (uint64_t)rows;
	out->dim = (uint32_t)dim;
	return 0;
}

struct row_at {
	uint64_t row;
	size_t i;
};

static int row_at_cmp(const void *pa, const void *pb)
{
	const struct row_at *a = pa, *b = pb;
	if (a->row != b->row)
		return a->row < b->row ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

int vecs_rows_read(struct vecs_rows *vr, const uint64_t *idx, size_t n, float *dst, struct err *e)
{
	struct row_at *ord = xalloc_try_array(n ? n : 1, sizeof(*ord), "the row order", e);
	if (!ord)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (idx[i] >= vr->rows) {
			free(ord);
			return err_set(e, ERR_INPUT, "row %llu of a %llu-row vectors set", (unsigned long long)idx[i],
				       (unsigned long long)vr->rows);
		}
		ord[i] = (struct row_at){ idx[i], i };
	}
	qsort(ord, n, sizeof(*ord), row_at_cmp);
	const size_t row_bytes = (size_t)vr->dim * sizeof(float);
	int rc = 0;
	for (size_t t = 0; t < n && !rc; t++) {
		float *to = dst + ord[t].i * vr->dim;
		if (t && ord[t].row == ord[t - 1].row)
			memcpy(to, dst + ord[t - 1].i * vr->dim, row_bytes);
		else
			rc = obj_read_at(vr->r, ord[t].row * row_bytes, to, row_bytes, e);
	}
	free(ord);
	return rc;
}

void vecs_rows_close(struct vecs_rows *vr)
{
	if (!vr)
		return;
	obj_reader_close(vr->r);
	vr->r = NULL;
}

void vecs_free(struct vecs *v)
{
	if (!v)
		return;
	free(v->v);
	free(v->ids);
	free(v->labels);
	free(v->conf);
	artifact_release(&v->art);
	memset(v, 0, sizeof(*v));
}

int artio_each_article(struct store *st, const struct artifact *corpus,
		       int (*cb)(const struct article_view *v, void *ctx), void *ctx, struct err *e)
{
	const struct digest *d = artifact_part(corpus, "articles");
	if (!d)
		return err_set(e, ERR_CORRUPT, "%s artifact has no 'articles' part", corpus->type);
	struct obj_reader *r;
	if (obj_reader_open(st, d, &r, e))
		return -1;
	size_t cap = OBJ_CHUNK_SIZE, len = 0, got;
	uint8_t *blk = xmalloc(cap);
	int rc = 0, eof = 0;
	while (!rc) {
		if (!eof) {
			if (len == cap) { /* one record larger than the buffer */
				uint8_t *nb = xalloc_try_resize(blk, cap, 2, "one corpus record", e);
				if (!nb) {
					rc = -1;
					break;
				}
				blk = nb;
				cap *= 2;
			}
			if (obj_read(r, blk + len, cap - len, &got, e)) {
				rc = -1;
				break;
			}
			if (got == 0)
				eof = 1;
			len += got;
		}
		size_t off = 0, used;
		struct article_view v;
		int k;
		while ((k = article_decode_next(blk + off, len - off, &used, &v)) == 1) {
			off += used;
			if ((rc = cb(&v, ctx)) != 0)
				break;
		}
		if (rc)
			break;
		if (k < 0 && eof) {
			char hex[DIGEST_HEX_LEN + 1];
			digest_to_hex(d, hex);
			rc = err_set(e, ERR_CORRUPT, "corpus object %s ends inside a record", hex);
			break;
		}
		memmove(blk, blk + off, len - off);
		len -= off;
		if (eof && len == 0)
			break;
	}
	free(blk);
	obj_reader_close(r);
	return rc;
}
