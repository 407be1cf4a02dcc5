/*
 * artio.h — reading and writing the artifacts steps exchange (steps layer
 * internal).
 *
 * A "vectors" artifact (version 1) has parts "vectors" (row-major float32
 * little-endian, rows x dim) and optionally "ids" (u64 LE), "labels" (u32
 * LE), "confidence" (f32 LE); meta "rows", "dim", "dtype" = "f32". The same
 * layout serves embedded corpus vectors, synthetic vectors, queries and
 * centroids (type "centroids", plus part "sizes" u64 and meta "k",
 * "inertia").
 */
#ifndef ENGRAVE_STEPS_ARTIO_H
#define ENGRAVE_STEPS_ARTIO_H

#include <stdint.h>
#include <stddef.h>
#include "engrave/hash.h"
#include "engrave/store.h"

#define VW_IDS 1
#define VW_LABELS 2
#define VW_CONF 4

struct vecs_writer {
	struct store *st;
	uint32_t dim;
	int flags;
	uint64_t rows;
	struct obj_writer *vecs, *ids, *labels, *conf;
};

int vecs_writer_open(struct vecs_writer *w, struct store *st, uint32_t dim, int flags, struct err *e);
/* Append n rows; ids/labels/conf must be given iff the flag was set. */
int vecs_writer_add(struct vecs_writer *w, const float *v, size_t n, const uint64_t *ids,
		    const uint32_t *labels, const float *conf, struct err *e);
/* Finish the parts into `a` (initialised by the caller with its type and
 * extra meta), store it, and return its digest. Releases nothing of `a`. */
int vecs_writer_finish(struct vecs_writer *w, struct artifact *a, struct digest *out, struct err *e);
void vecs_writer_abort(struct vecs_writer *w);

/* A vectors artifact loaded whole into memory (free with vecs_free). */
struct vecs {
	uint64_t rows;
	uint32_t dim;
	float *v;
	uint64_t *ids;      /* NULL if the artifact has none */
	uint32_t *labels;   /* NULL if none */
	float *conf;        /* NULL if none */
	struct artifact art;
};
int vecs_load(struct store *st, const struct digest *d, struct vecs *out, struct err *e);
void vecs_free(struct vecs *v);

/* A vectors artifact opened to read chosen rows by offset, never whole. */
struct vecs_rows {
	uint64_t rows;
	uint32_t dim;
	struct obj_reader *r; /* its "vectors" part */
};
int vecs_rows_open(struct store *st, const struct digest *d, struct vecs_rows *out, struct err *e);
/* Rows idx[0..n) (each < rows, repeats allowed) into dst (n x dim), read in
 * increasing row order so each store chunk is loaded and verified once. */
int vecs_rows_read(struct vecs_rows *vr, const uint64_t *idx, size_t n, float *dst, struct err *e);
void vecs_rows_close(struct vecs_rows *vr); /* NULL-safe */

/* Read a whole part of an artifact into a new malloc'd buffer of exactly `want` bytes. */
int artio_read_part(struct store *st, const struct artifact *a, const char *part, void *dst, uint64_t want,
		    struct err *e);



/* Visit every article of a corpus artifact in order, streaming its
 * "articles" part with bounded memory. cb returns 0 to go on, non-zero to
 * stop (that value is returned). */
struct article_view;
int artio_each_article(struct store *st, const struct artifact *corpus,
		       int (*cb)(const struct article_view *v, void *ctx), void *ctx, struct err *e);

#endif
