/*
 * html.h — writing HTML into a struct buf, every string escaped (cli layer).
 *
 * html_text escapes the five specials (and drops control bytes), so nothing
 * from a run, a spec or a server can open a tag; html_svg embeds an SVG
 * document from svgplot.h inline, without its XML declaration. Each call
 * returns 0 or -1 with e set (ERR_NOSPACE), so a section is one chain of
 * calls joined by ||.
 */
#ifndef ENGRAVE_CLI_HTML_H
#define ENGRAVE_CLI_HTML_H

#include <stddef.h>

struct buf;
struct err;

int html_text(struct buf *b, const char *s, struct err *e);
/* Markup itself is written with buf_printf (literals and numbers only). */
/* "<tag>text</tag>" with the text escaped. */
int html_elem(struct buf *b, const char *tag, const char *text, struct err *e);
/* <section id="ID"><h2>TITLE</h2> and its end. */
int html_section(struct buf *b, const char *id, const char *title, struct err *e);
int html_section_end(struct buf *b, struct err *e);
/* A table row of escaped cells ("<tr><td>a</td>...</tr>"); n cells. */
int html_row(struct buf *b, struct err *e, size_t n, const char *const *cells);
/* An SVG document (svgplot.h) inline in a <figure>. */
int html_svg(struct buf *b, const struct buf *svg, struct err *e);
/* The first 12 hex characters of a 64-character digest string, escaped. */
int html_short_digest(struct buf *b, const char *hex, struct err *e);

#endif
