/*
 * wikitext.c — wikitext to plain text in a fixed sequence of linear passes.
 *
 * Each pass reads one buffer and writes the next (two scratch buffers in
 * struct wikitext are swapped), copying long runs of ordinary text with
 * memchr/memcpy so the whole strip runs at hundreds of MB/s. The order
 * matters and is part of the output contract (it feeds corpus digests):
 *
 *   1. blocks:    <!-- comments --> go; <ref>…</ref>, <ref …/>, and the
 *                 content of non-prose tags (math, gallery, timeline, score,
 *                 references, …) go with their tags.
 *   2. templates: {{…}} go, nested and with {{{parameters}}} (brace count).
 *   3. tables:    lines from "{|" to the matching "|}" go (nested).
 *   4. links:     [[target]] -> target, [[target|label]] -> label (labels
 *                 are stripped recursively), [[Foo (bar)|]] -> Foo;
 *                 [[File:…]], [[Image:…]], [[Category:…]], [[Media:…]]
 *                 (and common localised prefixes) and interlanguage links
 *                 [[xx:…]] go.
 *   5. external:  [http://x label] -> label, [http://x] and bare URLs go.
 *   6. tags:      other <tag …>/</tag> go, their inner text stays; <br> is
 *                 a line break.
 *   7. emphasis:  runs of two or more apostrophes ('' ''' ''''') go.
 *   8. entities:  &amp; &lt; &gt; &quot; &apos; &#N; &#xH; and common named
 *                 ones are decoded; &nbsp; becomes a plain space, &shy; goes.
 *   9. lines:     "== H ==" -> "H"; list markers (* # : ;) and leading
 *                 spaces go; "----" rules and __MAGIC__ words go; runs of
 *                 spaces collapse to one, a space before , . ; goes, an
 *                 empty "()" goes; blank-line runs collapse to one blank
 *                 line; the result is trimmed.
 *
 * Unbalanced openers ("{{" or "[[" with no closer) drop only the opener,
 * so one broken template never swallows the rest of an article; after
 * MAX_FAILED_SEARCHES of them in one page, openers are dropped without
 * searching (linear time on hostile input).
 */
#include "data/wikitext.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- helpers ----------------------------------------------------------- */

/*
 * Each unbalanced opener costs a scan to the end of the text; after this
 * many in one pass, further openers are dropped without searching, so a
 * page full of broken markup stays linear instead of quadratic.
 */
#define MAX_FAILED_SEARCHES 64

#define PUT(b, p, n)                                      \
	do {                                              \
		if (buf_append((b), (p), (n), NULL) < 0) \
			return -1;                        \
	} while (0)
#define PUTC(b, c)                          \
	do {                                \
		char c_ = (char)(c);        \
		PUT((b), &c_, 1);           \
	} while (0)

static int ieq_prefix(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n >= l && strncasecmp(s, lit, l) == 0;
}

static const char *find2(const char *s, const char *end, char a, char b)
{
	while (s < end) {
		const char *p = memchr(s, a, (size_t)(end - s));
		if (!p || p + 1 >= end)
			return NULL;
		if (p[1] == b)
			return p;
		s = p + 1;
	}
	return NULL;
}

/* ---- pass 1: comments, refs and non-prose blocks ----------------------- */

static const char *const drop_blocks[] = {
	"ref", "references", "gallery", "timeline", "math", "chem", "ce", "score", "imagemap",
	"mapframe", "maplink", "graph", "templatedata", "inputbox", "categorytree", "syntaxhighlight",
	"source", NULL,
};

/* Length of the tag name at s (letters, digits, '-'). */
static size_t tag_name_len(const char *s, const char *end)
{
	size_t n = 0;
	while (s + n < end && (isalnum((unsigned char)s[n]) || s[n] == '-'))
		n++;
	return n;
}

/* End of a tag starting at '<' (one past '>'), or NULL. Tags may not contain '<'. */
static const char *tag_end(const char *s, const char *end)
{
	const char *lim = end - s > 2048 ? s + 2048 : end;
	for (const char *p = s + 1; p < lim; p++) {
		if (*p == '>')
			return p + 1;
		if (*p == '<')
			return NULL;
	}
	return NULL;
}

/* Find "</name" ... ">" case-insensitively after s; returns one past '>' or NULL. */
static const char *close_tag(const char *s, const char *end, const char *name, size_t nl)
{
	while (s < end) {
		const char *p = find2(s, end, '<', '/');
		if (!p)
			return NULL;
		const char *q = p + 2;
		if ((size_t)(end - q) >= nl && strncasecmp(q, name, nl) == 0 &&
		    tag_name_len(q, end) == nl) {
			const char *t = tag_end(p, end);
			if (t)
				return t;
		}
		s = p + 2;
	}
	return NULL;
}

static int pass_blocks(const char *s, size_t n, struct buf *o)
{
	const char *end = s + n, *p = s;
	int fails = 0;
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (!lt) {
			PUT(o, p, (size_t)(end - p));
			break;
		}
		PUT(o, p, (size_t)(lt - p));
		p = lt;
		if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			const char *c = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
			p = c ? c + 3 : end;
			continue;
		}
		size_t nl = tag_name_len(p + 1, end);
		int drop = 0;
		if (nl)
			for (int i = 0; drop_blocks[i]; i++)
				if (strlen(drop_blocks[i]) == nl && strncasecmp(p + 1, drop_blocks[i], nl) == 0)
					drop = 1;
		const char *te = drop ? tag_end(p, end) : NULL;
		if (!te) {
			PUTC(o, '<');
			p++;
			continue;
		}
		if (te[-2] == '/') { /* <ref name="x" /> */
			p = te;
			continue;
		}
		char name[32];
		memcpy(name, p + 1, nl < sizeof(name) ? nl : sizeof(name) - 1);
		name[nl < sizeof(name) ? nl : sizeof(name) - 1] = '\0';
		const char *ce = fails < MAX_FAILED_SEARCHES ? close_tag(te, end, name, strlen(name)) : NULL;
		fails += !ce;
		p = ce ? ce : te; /* an unclosed block drops only its opening tag */
	}
	return 0;
}

/* ---- pass 2: templates ------------------------------------------------- */

/* s points at "{{"; returns one past the matching closing braces, or NULL. */
static const char *brace_end(const char *s, const char *end)
{
	long depth = 0;
	for (const char *p = s; p < end; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && --depth == 0)
			return p + 1;
	}
	return NULL;
}

static int pass_templates(const char *s, size_t n, struct buf *o)
{
	const char *end = s + n, *p = s;
	int fails = 0;
	while (p < end) {
		const char *t = find2(p, end, '{', '{');
		if (!t) {
			PUT(o, p, (size_t)(end - p));
			break;
		}
		PUT(o, p, (size_t)(t - p));
		const char *e = fails < MAX_FAILED_SEARCHES ? brace_end(t, end) : NULL;
		fails += !e;
		p = e ? e : t + 2;
	}
	return 0;
}

/* ---- pass 3: tables ---------------------------------------------------- */

static int pass_tables(const char *s, size_t n, struct buf *o)
{
	const char *end = s + n, *p = s;
	long depth = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl + 1 : end;
		const char *q = p;
		while (q < le && (*q == ' ' || *q == '\t' || *q == ':'))
			q++;
		if (le - q >= 2 && q[0] == '{' && q[1] == '|') {
			depth++;
		} else if (depth > 0 && le - q >= 2 && q[0] == '|' && q[1] == '}') {
			depth--;
		} else if (depth == 0) {
			PUT(o, p, (size_t)(le - p));
		}
		p = le;
	}
	return 0;
}

/* ---- pass 4: wiki links ------------------------------------------------ */

static const char *const drop_ns[] = {
	"file", "image", "category", "media", "datei", "bild", "kategorie", "fichier", "catégorie",
	"archivo", "categoría", "imagen", "файл", "картинка", "изображение", "категория", "категорија",
	NULL,
};

/* s points at "[["; one past the matching "]]" or NULL. */
static const char *link_end(const char *s, const char *end)
{
	long depth = 0;
	const char *p = s;
	while (p + 1 < end) {
		if (p[0] == '[' && p[1] == '[') {
			depth++;
			p += 2;
		} else if (p[0] == ']' && p[1] == ']') {
			if (--depth == 0)
				return p + 2;
			p += 2;
		} else if (p[0] == '\n' && p + 1 < end && p[1] == '\n') {
			return NULL; /* links never span paragraphs */
		} else {
			p++;
		}
	}
	return NULL;
}

static int is_lang_prefix(const char *s, size_t n)
{
	if (n < 2 || n > 12)
		return 0;
	size_t i = 0;
	while (i < n && s[i] >= 'a' && s[i] <= 'z')
		i++;
	if (i < 2 || i > 3)
		return 0;
	while (i < n) { /* -variant, e.g. zh-min-nan, be-tarask */
		if (s[i] != '-')
			return 0;
		i++;
		size_t k = 0;
		while (i < n && s[i] >= 'a' && s[i] <= 'z')
			i++, k++;
		if (!k)
			return 0;
	}
	return 1;
}

static int pass_links(const char *s, size_t n, struct buf *o);

static int emit_link(const char *c, size_t n, struct buf *o)
{
	const char *end = c + n;
	while (c < end && (*c == ' ' || *c == '\t'))
		c++;
	int colon = 0;
	if (c < end && *c == ':') {
		colon = 1;
		c++;
	}
	const char *pipe = memchr(c, '|', (size_t)(end - c));
	const char *tend = pipe ? pipe : end;
	const char *col = memchr(c, ':', (size_t)(tend - c));
	if (col) {
		size_t pl = (size_t)(col - c);
		while (pl && c[pl - 1] == ' ')
			pl--;
		for (int i = 0; drop_ns[i]; i++)
			if (!colon && strlen(drop_ns[i]) == pl && strncasecmp(c, drop_ns[i], pl) == 0)
				return 0;
		if (!colon && is_lang_prefix(c, pl))
			return 0;
		/* Cyrillic prefixes differ in case: compare the common capitalised forms too. */
		static const char *const cap_ns[] = { "Файл", "Картинка", "Изображение", "Категория", NULL };
		for (int i = 0; cap_ns[i]; i++)
			if (!colon && strlen(cap_ns[i]) == pl && memcmp(c, cap_ns[i], pl) == 0)
				return 0;
	}
	if (pipe) {
		const char *l = pipe + 1;
		if (l < end)
			return pass_links(l, (size_t)(end - l), o);
		/* pipe trick: [[Foo (bar)|]] -> Foo, [[ns:Foo|]] -> Foo */
		const char *t = col ? col + 1 : c;
		const char *te = tend;
		const char *par = memchr(t, '(', (size_t)(te - t));
		if (par)
			te = par;
		while (te > t && te[-1] == ' ')
			te--;
		PUT(o, t, (size_t)(te - t));
		return 0;
	}
	while (tend > c && tend[-1] == ' ')
		tend--;
	PUT(o, c, (size_t)(tend - c));
	return 0;
}

static int pass_links(const char *s, size_t n, struct buf *o)
{
	const char *end = s + n, *p = s;
	int fails = 0;
	while (p < end) {
		const char *t = find2(p, end, '[', '[');
		if (!t) {
			PUT(o, p, (size_t)(end - p));
			break;
		}
		PUT(o, p, (size_t)(t - p));
		const char *e = fails < MAX_FAILED_SEARCHES ? link_end(t, end) : NULL;
		fails += !e;
		if (!e) {
			p = t + 2;
			continue;
		}
		if (emit_link(t + 2, (size_t)(e - 2 - (t + 2)), o) < 0)
			return -1;
		p = e;
	}
	return 0;
}

/* ---- pass 5: external links and bare URLs ------------------------------ */

static size_t url_scheme(const char *s, size_t n)
{
	static const char *const schemes[] = { "http://", "https://", "ftp://", "ftps://", "//",
					       "mailto:", "news:", "irc://", NULL };
	for (int i = 0; schemes[i]; i++)
		if (ieq_prefix(s, n, schemes[i]))
			return strlen(schemes[i]);
	return 0;
}

static int url_char(char c)
{
	return !(c == ' ' || c == '\t' || c == '\n' || c == '<' || c == '>' || c == '[' ||
		 c == ']' || c == '"' || c == '|' || c == '{' || c == '}');
}

static int pass_external(const char *s, size_t n, struct buf *o)
{
	const char *end = s + n, *p = s, *run = s;
	while (p < end) {
		char c = *p;
		if (c == '[' && url_scheme(p + 1, (size_t)(end - p - 1))) {
			const char *q = p + 1;
			while (q < end && *q != ']' && *q != '\n')
				q++;
			if (q < end && *q == ']') {
				PUT(o, run, (size_t)(p - run));
				const char *u = p + 1;
				while (u < q && url_char(*u))
					u++;
				while (u < q && (*u == ' ' || *u == '\t'))
					u++;
				PUT(o, u, (size_t)(q - u));
				p = run = q + 1;
				continue;
			}
		}
		if ((c == 'h' || c == 'H' || c == 'f' || c == 'F') && (p == s || !isalnum((unsigned char)p[-1])) &&
		    (ieq_prefix(p, (size_t)(end - p), "http://") || ieq_prefix(p, (size_t)(end - p), "https://") ||
		     ieq_prefix(p, (size_t)(end - p), "ftp://"))) {
			PUT(o, run, (size_t)(p - run));
			while (p < end && url_char(*p))
				p++;
			run = p;
			continue;
		}
		p++;
	}
	PUT(o, run, (size_t)(end - run));
	return 0;
}

/* ---- pass 6: remaining tags -------------------------------------------- */

static int pass_tags(const char *s, size_t n, struct buf *o)
{
	const char *end = s + n, *p = s;
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (!lt) {
			PUT(o, p, (size_t)(end - p));
			break;
		}
		PUT(o, p, (size_t)(lt - p));
		p = lt;
		const char *nm = p + 1;
		if (nm < end && *nm == '/')
			nm++;
		const char *te = NULL;
		if (nm < end && isalpha((unsigned char)*nm))
			te = tag_end(p, end);
		if (!te) {
			PUTC(o, '<');
			p++;
			continue;
		}
		size_t nl = tag_name_len(nm, end);
		if (nl == 2 && strncasecmp(nm, "br", 2) == 0)
			PUTC(o, '\n');
		p = te;
	}
	return 0;
}

/* ---- pass 7: bold and italic ------------------------------------------- */

static int pass_quotes(const char *s, size_t n, struct buf *o)
{
	const char *end = s + n, *p = s;
	while (p < end) {
		const char *t = find2(p, end, '\'', '\'');
		if (!t) {
			PUT(o, p, (size_t)(end - p));
			break;
		}
		PUT(o, p, (size_t)(t - p));
		p = t;
		while (p < end && *p == '\'')
			p++;
	}
	return 0;
}

/* ---- pass 8: entities -------------------------------------------------- */

static int put_utf8(struct buf *o, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	PUT(o, u, n);
	return 0;
}

static const struct {
	const char *name;
	uint32_t cp;
} entities[] = {
	{ "amp", '&' },      { "lt", '<' },         { "gt", '>' },       { "quot", '"' },
	{ "apos", '\'' },    { "nbsp", ' ' },       { "ensp", ' ' },     { "emsp", ' ' },
	{ "thinsp", ' ' },   { "shy", 0 },          { "zwj", 0 },        { "zwnj", 0 },
	{ "ndash", 0x2013 }, { "mdash", 0x2014 },   { "minus", 0x2212 }, { "hellip", 0x2026 },
	{ "times", 0xD7 },   { "divide", 0xF7 },    { "laquo", 0xAB },   { "raquo", 0xBB },
	{ "lsquo", 0x2018 }, { "rsquo", 0x2019 },   { "ldquo", 0x201C }, { "rdquo", 0x201D },
	{ "bull", 0x2022 },  { "middot", 0xB7 },    { "deg", 0xB0 },     { "copy", 0xA9 },
	{ "reg", 0xAE },     { "trade", 0x2122 },   { "euro", 0x20AC },  { "pound", 0xA3 },
	{ "cent", 0xA2 },    { "yen", 0xA5 },       { "sect", 0xA7 },    { "para", 0xB6 },
	{ "plusmn", 0xB1 },  { "frac12", 0xBD },    { "frac14", 0xBC },  { "frac34", 0xBE },
	{ "prime", 0x2032 }, { "Prime", 0x2033 },   { "larr", 0x2190 },  { "rarr", 0x2192 },
	{ NULL, 0 },
};

static int pass_entities(const char *s, size_t n, struct buf *o)
{
	const char *end = s + n, *p = s;
	while (p < end) {
		const char *a = memchr(p, '&', (size_t)(end - p));
		if (!a) {
			PUT(o, p, (size_t)(end - p));
			break;
		}
		PUT(o, p, (size_t)(a - p));
		p = a;
		const char *semi = NULL;
		for (const char *q = a + 1; q < end && q < a + 12; q++)
			if (*q == ';') {
				semi = q;
				break;
			} else if (!isalnum((unsigned char)*q) && *q != '#') {
				break;
			}
		if (!semi || semi == a + 1) {
			PUTC(o, '&');
			p++;
			continue;
		}
		const char *nm = a + 1;
		size_t nl = (size_t)(semi - nm);
		if (*nm == '#') {
			uint32_t cp = 0;
			int ok = nl > 1;
			int hex = nl > 2 && (nm[1] == 'x' || nm[1] == 'X');
			for (const char *q = nm + 1 + hex; q < semi && ok; q++) {
				int d = isdigit((unsigned char)*q) ? *q - '0'
					: hex && isxdigit((unsigned char)*q) ? (tolower((unsigned char)*q) - 'a' + 10)
									     : -1;
				if (d < 0 || cp > 0x10FFFF)
					ok = 0;
				else
					cp = cp * (hex ? 16u : 10u) + (uint32_t)d;
			}
			if (ok && hex && nl == 2)
				ok = 0;
			if (!ok) {
				PUTC(o, '&');
				p++;
				continue;
			}
			if (cp == 0xA0)
				cp = ' ';
			if (cp == 0xAD) {
				p = semi + 1;
				continue;
			}
			if (put_utf8(o, cp) < 0)
				return -1;
			p = semi + 1;
			continue;
		}
		int found = 0;
		for (int i = 0; entities[i].name; i++)
			if (strlen(entities[i].name) == nl && memcmp(entities[i].name, nm, nl) == 0) {
				if (entities[i].cp && put_utf8(o, entities[i].cp) < 0)
					return -1;
				found = 1;
				break;
			}
		if (!found) {
			PUTC(o, '&');
			p++;
			continue;
		}
		p = semi + 1;
	}
	return 0;
}

/* ---- pass 9: lines, headings, lists, whitespace ------------------------ */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Append line [s,e) with magic words removed and space runs collapsed. */
static int put_line(const char *s, const char *e, struct buf *o)
{
	int sp = 0;
	size_t line0 = o->len;
	for (const char *p = s; p < e; p++) {
		if (p[0] == '_' && p + 1 < e && p[1] == '_') {
			const char *q = p + 2;
			while (q < e && *q >= 'A' && *q <= 'Z')
				q++;
			if (q > p + 2 && q + 1 < e && q[0] == '_' && q[1] == '_') {
				p = q + 1;
				continue;
			}
		}
		if (is_space(*p)) {
			sp = 1;
			continue;
		}
		if (*p == ')' && o->len > line0 && o->data[o->len - 1] == '(') {
			/* "()" left by a removed template: drop it and the space before it */
			o->len--;
			if (o->len > line0 && o->data[o->len - 1] == ' ')
				o->len--;
			o->data[o->len] = '\0';
			sp = 0;
			continue;
		}
		if (sp && (*p == ',' || *p == '.' || *p == ';'))
			sp = 0; /* "word ." left by a removed reference */
		if (sp && o->len > line0)
			PUTC(o, ' ');
		sp = 0;
		PUTC(o, *p);
	}
	return 0;
}

static int pass_lines(const char *s, size_t n, struct buf *o)
{
	const char *end = s + n, *p = s;
	int blank_pending = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *a = p, *b = le;
		p = nl ? nl + 1 : end;
		while (a < b && is_space(*a))
			a++;
		while (b > a && is_space(b[-1]))
			b--;
		if (a < b && *a == '=' && b[-1] == '=' && b - a >= 2) {
			while (a < b && *a == '=')
				a++;
			while (b > a && b[-1] == '=')
				b--;
		} else {
			while (a < b && (*a == '*' || *a == '#' || *a == ':' || *a == ';'))
				a++;
			const char *r = a;
			while (r < b && *r == '-')
				r++;
			if (r == b && b - a >= 4)
				a = b;
		}
		while (a < b && is_space(*a))
			a++;
		while (b > a && is_space(b[-1]))
			b--;
		size_t before = o->len;
		if (a < b) {
			if (o->len)
				PUT(o, blank_pending ? "\n\n" : "\n", blank_pending ? 2 : 1);
			size_t mark = o->len;
			if (put_line(a, b, o) < 0)
				return -1;
			if (o->len == mark) { /* only magic words: nothing was written */
				o->len = before;
				o->data[before] = '\0';
				continue;
			}
			blank_pending = 0;
		} else if (o->len) {
			blank_pending = 1;
		}
	}
	return 0;
}

/* ---- API ---------------------------------------------------------------- */

int wikitext_init(struct wikitext *w, struct err *e)
{
	(void)e;
	w->a = xmalloc(sizeof(struct buf));
	w->b = xmalloc(sizeof(struct buf));
	buf_init(w->a, 0);
	buf_init(w->b, 0);
	return 0;
}

void wikitext_release(struct wikitext *w)
{
	if (!w)
		return;
	if (w->a)
		buf_release(w->a);
	if (w->b)
		buf_release(w->b);
	free(w->a);
	free(w->b);
	w->a = w->b = NULL;
}

typedef int (*pass_fn)(const char *s, size_t n, struct buf *o);

int wikitext_strip(struct wikitext *w, const char *in, size_t len, struct buf *out, struct err *e)
{
	static const pass_fn passes[] = { pass_blocks, pass_templates, pass_tables, pass_links,
					  pass_external, pass_tags, pass_quotes, pass_entities };
	const char *src = in;
	size_t n = len;
	struct buf *dst = w->a, *other = w->b;
	for (size_t i = 0; i < sizeof(passes) / sizeof(passes[0]); i++) {
		buf_reset(dst);
		if (buf_reserve(dst, n, NULL) < 0 || passes[i](src, n, dst) < 0)
			return err_set(e, ERR_INTERNAL, "wikitext: out of memory");
		src = dst->data;
		n = dst->len;
		struct buf *t = dst;
		dst = other;
		other = t;
	}
	buf_reset(out);
	if (buf_reserve(out, n, NULL) < 0 || pass_lines(src, n, out) < 0)
		return err_set(e, ERR_INTERNAL, "wikitext: out of memory");
	return 0;
}

int wikitext_to_plain(const char *in, size_t len, struct buf *out, struct err *e)
{
	struct wikitext w;
	if (wikitext_init(&w, e) < 0)
		return -1;
	int rc = wikitext_strip(&w, in, len, out, e);
	wikitext_release(&w);
	return rc;
}
