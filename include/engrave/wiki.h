/*
 * wiki.h — stream articles out of a MediaWiki XML export.
 *
 * Reads plain, .gz or .bz2 dumps (instream.h) of any export schema version
 * (export-0.10, 0.11, ...: element local names are matched, the namespace
 * URI is ignored) and any encoding the XML declares or its BOM implies
 * (UTF-8, UTF-16, ISO-8859-1, US-ASCII). Pages are handed to a callback one
 * at a time and forgotten: memory is bounded by the largest page, never by
 * the dump.
 *
 * A page is kept when it is in namespace 0, is not a redirect (a <redirect>
 * element, or text starting "#REDIRECT", any case), is not a disambiguation
 * page (title containing "(disambiguation)", or a {{disambig...}} template,
 * any case), and its plain text (wikitext.h) has at least min_chars
 * characters. min_chars counts Unicode characters (code points), not bytes.
 */
#ifndef ENGRAVE_WIKI_H
#define ENGRAVE_WIKI_H

#include <stdint.h>

struct article;
struct err;

struct wiki_opts {
	uint64_t limit;     /* stop after this many kept articles; 0 = all */
	uint64_t min_chars; /* minimum plain-text length in characters; 0 = keep empty ones too */
	int progress;       /* draw a progress line (log.h) */
	uint64_t max_page_bytes; /* pages with longer raw text are skipped (counted as oversize); 0 = 64 MiB */
};

struct wiki_stats {
	uint64_t pages;     /* <page> elements seen */
	uint64_t kept;      /* handed to the callback */
	uint64_t redirects;
	uint64_t disambig;
	uint64_t other_ns;  /* namespace != 0 */
	uint64_t too_short; /* plain text under min_chars */
	uint64_t oversize;  /* raw text over max_page_bytes */
	uint64_t bytes_in;  /* file bytes consumed (compressed size for .bz2/.gz) */
	uint64_t bytes_xml; /* decompressed XML bytes parsed */
	uint64_t elapsed_ns;
};

/*
 * The callback gets each kept article; `a` and its strings are valid only
 * during the call (copy what you keep). Return 0 to continue, 1 to stop
 * early (wiki_read then returns 0), or -1 to abort: wiki_read then returns
 * -1 with ERR_INTERRUPTED "stopped by the article callback"; keep your own
 * error in ctx and report that instead.
 */
typedef int (*wiki_article_fn)(const struct article *a, void *ctx);

/*
 * Read `path`. `o` may be NULL (defaults: no limit, min_chars 0, no
 * progress); `st` may be NULL. Returns 0 or -1: ERR_MISSING (no file),
 * ERR_INPUT (malformed XML with "path:line:col: message", truncated or
 * corrupt compression), ERR_IO.
 */
int wiki_read(const char *path, const struct wiki_opts *o, wiki_article_fn on_article, void *ctx,
	      struct wiki_stats *st, struct err *e);

#endif
