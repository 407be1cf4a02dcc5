/*
 * article.h — one corpus article, and its record encoding in the store.
 *
 * A corpus artifact's "articles" part is the concatenation of records
 *     [u64 id LE][u32 title len LE][title bytes][u32 text len LE][text bytes]
 * with no padding and no terminators: deterministic, so the same articles
 * in the same order always give the same digest. Titles and texts are
 * UTF-8 and not NUL-terminated inside a record.
 */
#ifndef ENGRAVE_ARTICLE_H
#define ENGRAVE_ARTICLE_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/* An owned article: title and text are NUL-terminated heap strings. */
struct article {
	uint64_t id;
	char *title;
	char *text;
};

/* A decoded record: pointers into the caller's buffer, NOT NUL-terminated. */
struct article_view {
	uint64_t id;
	const char *title;
	uint32_t title_len;
	const char *text;
	uint32_t text_len;
};

/* Default number of text characters after the title in article_embed_input. */
#define ARTICLE_LEAD_CHARS 500

/*
 * Append one record to `out`. Returns 0, or -1 when a field exceeds 4 GiB
 * or `out` hits its max size (out is then left as it was).
 */
int article_encode(struct buf *out, const struct article *a);
/*
 * Decode the record starting at p[0]. Returns 1 with *used and *v set, 0
 * when len == 0 (end), -1 when the record is cut short (corrupt part).
 */
int article_decode_next(const uint8_t *p, size_t len, size_t *used, struct article_view *v);
/*
 * The text an embedder sees: title + "\n\n" + the first `lead_chars`
 * Unicode characters of text (never cutting a UTF-8 sequence). Appends to
 * `out`. lead_chars 0 means the whole text. Returns 0, or -1 when `out`
 * hits its max size.
 */
int article_embed_input(const struct article *a, size_t lead_chars, struct buf *out);
/* The same from a view. */
int article_view_embed_input(const struct article_view *v, size_t lead_chars, struct buf *out);
/* Byte length of the first `n` characters of UTF-8 `s` (at most len). */
size_t article_utf8_prefix(const char *s, size_t len, size_t n);
/* Number of Unicode characters (UTF-8 lead bytes) in s[0..len). */
size_t article_utf8_count(const char *s, size_t len);

#endif
