/*
 * jsonf.h — fast float32 <-> JSON text and base64, for request/response hot
 * paths, plus a minimal structural JSON reader for big responses.
 *
 * Formatting writes the shortest decimal that reads back to the same float
 * (strtof(text) == value, bit for bit), e.g. 0.1f -> "0.1", 1e-7f -> "1e-7".
 * Parsing reads any JSON number and rounds it correctly to float32.
 */
#ifndef ENGRAVE_JSONF_H
#define ENGRAVE_JSONF_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct err;

/* Room for the longest text jsonf_write_f32 produces ("-0.000012345678") plus the NUL. */
#define JSONF_F32_MAX 24

/* Shortest round-trip text of a finite float into dst (>= JSONF_F32_MAX bytes,
 * NUL-terminated); returns its length. NaN and infinities write "null". */
size_t jsonf_write_f32(char *dst, float v);

/* Append "[v0,v1,...]". 0, or -1 when a value is not finite (JSON has no
 * NaN/Inf) or out->max would be exceeded. */
int jsonf_write_f32_array(struct buf *out, const float *v, size_t n);

/* Append a JSON string literal ("..." with escapes) for len bytes of UTF-8. */
int jsonf_write_string(struct buf *out, const char *s, size_t len, struct err *e);

/* Return codes of the parsers. */
#define JSONF_OK 0
#define JSONF_ESYNTAX -1   /* malformed; *end points at the offending byte */
#define JSONF_ECAP -2      /* more values than `cap` */
const char *jsonf_strerror(int rc);

/*
 * Parse a JSON array of numbers "[ 1, -2.5e3, ... ]" (leading whitespace
 * allowed) from p[0..len) into out[0..cap). *n receives the count, *end the
 * position after ']' (or of the error). Values round correctly to float32.
 */
int jsonf_parse_f32_array(const char *p, size_t len, float *out, size_t cap, size_t *n,
			  const char **end);
/* Parse one JSON number at p (no leading whitespace); *end after it. */
int jsonf_parse_f32(const char *p, const char *lim, float *out, const char **end);

/* Base64 (RFC 4648, padded) of the float32 values as little-endian bytes:
 * Chroma's compact embedding encoding. Appends to out. */
int jsonf_b64_f32(struct buf *out, const float *v, size_t n, struct err *e);
/* Decode base64 of little-endian float32s; -1 ESYNTAX, -2 ECAP. */
int jsonf_unb64_f32(const char *p, size_t len, float *out, size_t cap, size_t *n);

/*
 * A minimal structural reader (enough to walk big API responses without
 * building a tree). All take [p, lim) and return the position after the
 * thing read, or NULL on malformed input.
 */
const char *jsonf_skip_ws(const char *p, const char *lim);
/* Skip one value of any type (string, number, object, array, literal). */
const char *jsonf_skip_value(const char *p, const char *lim);
/* If p is a string literal equal to `key` (no escapes), return after it; else NULL.
 * Use jsonf_skip_value to step over a non-matching key. */
const char *jsonf_match_string(const char *p, const char *lim, const char *key);

#endif
