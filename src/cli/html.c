/*
 * html.c — escaped HTML into a buffer (html.h).
 *
 * The report is built in memory and written once, so a failure half-way
 * leaves no half-written file. Control bytes other than tab and newline
 * become spaces: a server's error body may hold anything.
 */
#include "html.h"
#include "engrave/buf.h"
#include "engrave/err.h"

#include <stdio.h>
#include <string.h>

int html_text(struct buf *b, const char *s, struct err *e)
{
	for (; s && *s; s++) {
		const char *r = NULL;
		switch (*s) {
		case '<': r = "&lt;"; break;
		case '>': r = "&gt;"; break;
		case '&': r = "&amp;"; break;
		case '"': r = "&quot;"; break;
		case '\'': r = "&#39;"; break;
		}
		if (!r && (unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
			r = " ";
		if (r ? buf_append_str(b, r, e) : buf_append(b, s, 1, e))
			return -1;
	}
	return 0;
}

int html_elem(struct buf *b, const char *tag, const char *text, struct err *e)
{
	return buf_printf(b, e, "<%s>", tag) || html_text(b, text, e) || buf_printf(b, e, "</%s>", tag);
}

int html_row(struct buf *b, struct err *e, size_t n, const char *const *cells)
{
	if (buf_append_str(b, "<tr>", e))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (html_elem(b, "td", cells[i] ? cells[i] : "", e))
			return -1;
	return buf_append_str(b, "</tr>\n", e);
}

int html_svg(struct buf *b, const struct buf *svg, struct err *e)
{
	const char *s = svg->data ? svg->data : "";
	size_t len = svg->len;
	if (!strncmp(s, "<?xml", 5)) {
		const char *nl = memchr(s, '\n', len);
		if (nl) {
			len -= (size_t)(nl + 1 - s);
			s = nl + 1;
		}
	}
	return buf_append_str(b, "<figure>", e) || buf_append(b, s, len, e) || buf_append_str(b, "</figure>\n", e);
}

int html_short_digest(struct buf *b, const char *hex, struct err *e)
{
	char s[13];
	snprintf(s, sizeof(s), "%s", hex ? hex : "");
	return buf_printf(b, e, "<code title=\"") || html_text(b, hex, e) || buf_printf(b, e, "\">") || html_text(b, s, e) ||
	       buf_printf(b, e, "</code>");
}

int html_section(struct buf *b, const char *id, const char *title, struct err *e)
{
	return buf_printf(b, e, "<section id=\"%s\">\n<h2>", id) || html_text(b, title, e) ||
	       buf_append_str(b, "</h2>\n", e);
}

int html_section_end(struct buf *b, struct err *e)
{
	return buf_append_str(b, "</section>\n", e);
}
