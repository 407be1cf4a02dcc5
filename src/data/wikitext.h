/*
 * wikitext.h — MediaWiki markup to plain text, for embedding.
 *
 * Not a MediaWiki parser: a fixed sequence of linear passes that removes
 * what a reader of the rendered page would not see as prose (templates,
 * tables, references, comments, files, categories, interlanguage links)
 * and keeps what they would (link labels, heading text, list items,
 * emphasised words). See wikitext.c for the exact rules.
 */
#ifndef ENGRAVE_DATA_WIKITEXT_H
#define ENGRAVE_DATA_WIKITEXT_H

#include <stddef.h>

struct buf;
struct err;

/* Reusable scratch space, so stripping millions of pages does not malloc each time. */
struct wikitext {
	struct buf *a, *b;
};

/* Returns 0, or -1 (ERR_INTERNAL) when out of memory. Release with wikitext_release. */
int wikitext_init(struct wikitext *w, struct err *e);
/* NULL-safe; the struct may be re-initialised. */
void wikitext_release(struct wikitext *w);
/*
 * Replace the contents of `out` with the plain text of in[0..len).
 * The result is UTF-8 (if the input was), NUL-terminated, trimmed, with no
 * run of more than one blank line. Returns 0, or -1 when out of memory.
 */
int wikitext_strip(struct wikitext *w, const char *in, size_t len, struct buf *out, struct err *e);
/* One-shot form with its own scratch space. */
int wikitext_to_plain(const char *in, size_t len, struct buf *out, struct err *e);

#endif
