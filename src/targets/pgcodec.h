/*
 * pgcodec.h — the pure parts of the pgvector driver: the bytes it puts on
 * the wire and the rules it applies to a spec's URL and table name. No
 * libpq here, so tests/unit/test_pgcodec.c checks them without a server.
 *
 * Formats (PostgreSQL's binary send/recv, big-endian):
 *   - COPY ... FROM STDIN (FORMAT binary): the 19-byte header
 *     "PGCOPY\n\377\r\n\0" + flags (int32 0) + extension length (int32 0),
 *     then per row an int16 field count and per field an int32 length
 *     (-1: NULL) and its bytes, then the int16 trailer -1;
 *   - pgvector's `vector`: int16 dim, int16 unused (0), dim float4;
 *   - float8 results: one IEEE double.
 */
#ifndef ENGRAVE_TARGETS_PGCODEC_H
#define ENGRAVE_TARGETS_PGCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/buf.h"

struct err;

#define PGCODEC_COPY_HEADER_LEN 19
#define PGCODEC_IDENT_MAX 63 /* NAMEDATALEN - 1 */

/* The binary COPY header; one row (id text, embedding vector(dim), content
 * text; content NULL is sent as SQL NULL); the trailer. */
int pgcodec_copy_header(struct buf *b, struct err *e);
int pgcodec_copy_row(struct buf *b, const char *id, const float *vec, uint32_t dim, const char *content,
		     struct err *e);
int pgcodec_copy_trailer(struct buf *b, struct err *e);

/* A vector's binary form appended to b (4 + 4 * dim bytes); -1 (ERR_INPUT)
 * on NaN or infinity, which pgvector refuses. */
int pgcodec_vector(struct buf *b, const float *v, uint32_t dim, struct err *e);
/* Decode a binary vector of exactly `dim` floats; -1 when malformed or of another dimension. */
int pgcodec_vector_decode(const char *p, size_t len, float *out, uint32_t dim);
/* A binary float8 (8 bytes). */
double pgcodec_f64_decode(const char *p);
/* A text[] literal {"a","b",NULL} with '"' and '\' escaped (a NULL pointer is
 * SQL NULL), NUL-terminated. */
int pgcodec_text_array(struct buf *b, const char *const *s, size_t n, struct err *e);

/* The recall answer the async path hands to target_parse_recall in an
 * http_response body: per hit a float32 score and a uint16 id length
 * (little-endian) and the id's bytes (no NUL). pgcodec_hit_decode reads the
 * hit at *pos (advancing it): 1 a hit (id NUL-terminated into id[cap],
 * truncated to fit), 0 at the end, -1 when the bytes are malformed. */
int pgcodec_hit_encode(struct buf *b, const char *id, size_t id_len, float score, struct err *e);
int pgcodec_hit_decode(const char *p, size_t len, size_t *pos, char *id, size_t cap, float *score);

/* 0 if `url` is a postgres:// or postgresql:// URI without a password
 * (user:password@ or password=), else -1 with why. */
int pgcodec_url_check(const char *url, char *why, size_t cap);
/* 0 if `name` is a table name the driver uses unquoted: [a-z_][a-z0-9_]*,
 * at most 63 bytes; else -1 with the rule in `why`. */
int pgcodec_ident_check(const char *name, char *why, size_t cap);

/* metric "cosine" | "ip" | "l2": pgvector's operator class, its distance
 * operator, and the score (higher is better, as target_hit) of a distance:
 * cosine max(0, 1 - d), ip -d (<#> is the negative inner product), l2 -d. */
const char *pgcodec_opclass(const char *metric);
const char *pgcodec_operator(const char *metric);
float pgcodec_score(const char *metric, double distance);

#endif
