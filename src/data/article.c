/*
 * article.c — the corpus record format and the embedder's view of an article.
 *
 * Records are length-prefixed and little-endian (see article.h) so a corpus
 * part can be decoded in place, without allocation, by walking a pointer:
 * the views returned by article_decode_next point into the caller's bytes.
 * The encoder writes the whole record or nothing, so a failed append never
 * leaves half a record in a buffer.
 *
 * article_embed_input builds "title\n\ntext-lead", the input the original
 * tool embedded; the lead is cut after N Unicode characters, on a UTF-8
 * sequence boundary, so the embedder never sees a broken character.
 */
#include "engrave/article.h"
#include "engrave/buf.h"

#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "article.c assumes a little-endian host"
#endif

int article_encode(struct buf *out, const struct article *a)
{
	size_t tl = a->title ? strlen(a->title) : 0;
	size_t xl = a->text ? strlen(a->text) : 0;
	if (tl > UINT32_MAX || xl > UINT32_MAX)
		return -1;
	size_t old = out->len;
	uint32_t t32 = (uint32_t)tl, x32 = (uint32_t)xl;
	if (buf_reserve(out, 16 + tl + xl, NULL) < 0)
		return -1;
	if (buf_append(out, &a->id, 8, NULL) < 0 || buf_append(out, &t32, 4, NULL) < 0 ||
	    buf_append(out, a->title ? a->title : "", tl, NULL) < 0 || buf_append(out, &x32, 4, NULL) < 0 ||
	    buf_append(out, a->text ? a->text : "", xl, NULL) < 0) {
		out->len = old;
		out->data[old] = '\0';
		return -1;
	}
	return 0;
}

int article_decode_next(const uint8_t *p, size_t len, size_t *used, struct article_view *v)
{
	if (len == 0)
		return 0;
	if (len < 12)
		return -1;
	uint32_t tl, xl;
	memcpy(&v->id, p, 8);
	memcpy(&tl, p + 8, 4);
	if (len - 12 < (size_t)tl + 4)
		return -1;
	memcpy(&xl, p + 12 + tl, 4);
	if (len - 16 - tl < (size_t)xl)
		return -1;
	v->title = (const char *)p + 12;
	v->title_len = tl;
	v->text = (const char *)p + 16 + tl;
	v->text_len = xl;
	*used = 16 + (size_t)tl + xl;
	return 1;
}

size_t article_utf8_prefix(const char *s, size_t len, size_t n)
{
	size_t i = 0, chars = 0;
	while (i < len) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (chars == n)
				break;
			chars++;
		}
		i++;
	}
	return i;
}

size_t article_utf8_count(const char *s, size_t len)
{
	size_t chars = 0;
	for (size_t i = 0; i < len; i++)
		chars += ((unsigned char)s[i] & 0xC0) != 0x80;
	return chars;
}

static int embed_input(const char *title, size_t tl, const char *text, size_t xl, size_t lead,
		       struct buf *out)
{
	size_t cut = lead ? article_utf8_prefix(text, xl, lead) : xl;
	size_t old = out->len;
	if (buf_append(out, title, tl, NULL) < 0 || buf_append(out, "\n\n", 2, NULL) < 0 ||
	    buf_append(out, text, cut, NULL) < 0) {
		out->len = old;
		out->data[old] = '\0';
		return -1;
	}
	return 0;
}

int article_embed_input(const struct article *a, size_t lead_chars, struct buf *out)
{
	const char *t = a->title ? a->title : "", *x = a->text ? a->text : "";
	return embed_input(t, strlen(t), x, strlen(x), lead_chars, out);
}

int article_view_embed_input(const struct article_view *v, size_t lead_chars, struct buf *out)
{
	return embed_input(v->title, v->title_len, v->text, v->text_len, lead_chars, out);
}
