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
 *                 references, …) go with their tags. A <ref> whose </ref>
 *                 does not come before the next <ref is unclosed: it goes
 *                 up to that <ref or the end of its paragraph.
 *   2. templates: {{…}} go, nested and with {{{parameters}}} (brace count),
 *                 except value templates, which keep what they show:
 *                 {{convert|5|km|mi}} and {{cvt|…}} -> "5 km" (ranges and
 *                 ft+in style pairs too), {{val|…}}, {{frac|…}}, {{sfrac|…}},
 *                 {{formatnum:…}}, {{nowrap|…}} (only when no template is
 *                 nested in them). A stray "}}" goes; an unclosed "{{" whose
 *                 paragraph holds a "|" goes with its parameters up to the
 *                 end of the paragraph.
 *   3. tables:    lines from "{|" to the matching "|}" go (nested).
 *   4. sections:  end matter (References, Notes, See also, External links,
 *                 Further reading, Sources, Bibliography and the like, see
 *                 end_sections) goes from its heading to the next heading of
 *                 the same or a higher level (normally: to the end).
 *   5. links:     [[target]] -> target, [[target|label]] -> label (labels
 *                 are stripped recursively), [[Foo (bar)|]] -> Foo;
 *                 [[File:…]], [[Image:…]], [[Category:…]], [[Media:…]]
 *                 (and common localised prefixes) and interlanguage links
 *                 [[xx:…]] go. Links end at a blank line or a heading,
 *                 except file links, whose captions may hold blank lines; an
 *                 unclosed file link goes to the end of its line.
 *   6. external:  [http://x label] -> label, [http://x] and bare URLs go.
 *   7. tags:      other <tag …>/</tag> go, their inner text stays; <br> is
 *                 a line break.
 *   8. emphasis:  runs of two or more apostrophes ('' ''' ''''') go.
 *   9. entities:  the HTML 4 named set (Latin-1, Greek, punctuation and
 *                 symbols, as MediaWiki accepts them) plus &apos;, and &#N;
 *                 / &#xH;, are decoded to UTF-8 (&#128;-&#159; as
 *                 Windows-1252, like browsers); &nbsp; and the other
 *                 spaces become a plain space; &shy;, &zwj;, &zwnj;, &lrm;
 *                 and &rlm; go.
 *  10. lines:     "== H ==" -> "H"; list markers (* # : ;) and leading
 *                 spaces go; "----" rules and __MAGIC__ words go; runs of
 *                 spaces collapse to one, a space before , . ; goes;
 *                 parentheses holding only spaces and punctuation ("()",
 *                 "(; )" left by removed pronunciation templates) go, and so
 *                 do separators just inside a parenthesis ("(; born" ->
 *                 "(born"); blank-line runs collapse to one blank line; the
 *                 result is trimmed.
 *
 * Unbalanced openers ("{{" or "[[" with no closer) drop only the opener
 * (beyond the rules above), so one broken template never swallows the rest
 * of an article; after MAX_FAILED_SEARCHES of them in one page, openers are
 * dropped without searching (linear time on hostile input).
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

/*
 * End of the paragraph that s is in: the newline before the next blank line
 * or heading line ("=…"), or end.
 */
static const char *para_end(const char *s, const char *end)
{
	for (const char *nl = s; (nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL; nl++) {
		const char *q = nl + 1;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q == end || *q == '\n' || *q == '=')
			return nl;
	}
	return end;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Trim blanks from both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
	while (*n && is_blank(**s))
		(*s)++, (*n)--;
	while (*n && is_blank((*s)[*n - 1]))
		(*n)--;
}

/*
 * Whether [c, c + n) is one of the names in `ci` (compared without case) or
 * in `cased` (compared as written: strncasecmp does not fold Cyrillic).
 */
static int name_in(const char *c, size_t n, const char *const *ci, const char *const *cased)
{
	for (int i = 0; ci[i]; i++)
		if (strlen(ci[i]) == n && strncasecmp(c, ci[i], n) == 0)
			return 1;
	for (int i = 0; cased[i]; i++)
		if (strlen(cased[i]) == n && memcmp(c, cased[i], n) == 0)
			return 1;
	return 0;
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

/* A "<ref" opener (not "</ref>", not "<references") at p. */
static int is_ref_open(const char *p, const char *end)
{
	return end - p >= 4 && strncasecmp(p, "<ref", 4) == 0 && tag_name_len(p + 1, end) == 3;
}

/* The next "<ref" opener at or after s, or end. */
static const char *next_ref_open(const char *s, const char *end)
{
	for (const char *p = s; (p = memchr(p, '<', (size_t)(end - p))) != NULL; p++)
		if (is_ref_open(p, end))
			return p;
	return end;
}

/* A tag [s, te) that closes itself: "<ref name=x/>", "<ref name="x" / >". */
static int self_closing(const char *s, const char *te)
{
	const char *q = te - 1; /* at '>' */
	while (q > s && is_blank(q[-1]))
		q--;
	return q > s && q[-1] == '/';
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
		if (self_closing(p, te)) { /* <ref name="x" /> */
			p = te;
			continue;
		}
		if (nl == 3 && strncasecmp(p + 1, "ref", 3) == 0) {
			/* Refs do not nest: a </ref> after the next <ref belongs to that one. */
			const char *lim = next_ref_open(te, end);
			const char *ce = close_tag(te, lim, "ref", 3);
			if (!ce) /* unclosed: drop its paragraph's rest, up to the next ref */
				ce = para_end(te, lim);
			p = ce;
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

/* Template arguments: a[0] is the name, then every "|"-separated argument. */
#define MAX_TARGS 24

struct targs {
	int n;
	const char *s[MAX_TARGS];
	size_t len[MAX_TARGS];
	size_t eq[MAX_TARGS]; /* offset of a top-level '=' (named argument), or 0 */
};

/*
 * Split the body of a template (between "{{" and "}}") at top-level pipes
 * (not those inside [[links]]), trimming each part. Returns 0, or -1 when it
 * nests a template or has too many arguments (then it is dropped whole).
 */
static int targs_split(const char *c, size_t n, struct targs *a)
{
	const char *end = c + n, *part = c;
	long links = 0;
	a->n = 0;
	for (const char *p = c;; p++) {
		if (p < end && p + 1 < end && p[0] == '{' && p[1] == '{')
			return -1;
		if (p < end && p + 1 < end && p[0] == '[' && p[1] == '[') {
			links++;
			p++;
			continue;
		}
		if (p < end && p + 1 < end && p[0] == ']' && p[1] == ']' && links > 0) {
			links--;
			p++;
			continue;
		}
		if (p < end && (*p != '|' || links > 0))
			continue;
		if (a->n == MAX_TARGS)
			return -1;
		const char *s = part;
		size_t l = (size_t)(p - part);
		trim(&s, &l);
		a->s[a->n] = s;
		a->len[a->n] = l;
		a->eq[a->n] = 0;
		const char *eq = a->n ? memchr(s, '=', l) : NULL;
		if (eq && !memmem(s, (size_t)(eq - s), "[[", 2))
			a->eq[a->n] = (size_t)(eq - s);
		a->n++;
		if (p >= end)
			return 0;
		part = p + 1;
	}
}

static int targ_is(const struct targs *a, int i, const char *lit)
{
	size_t l = strlen(lit);
	return i < a->n && a->len[i] == l && strncasecmp(a->s[i], lit, l) == 0;
}

/* The positional arguments, in order (names excluded). Returns how many. */
static int targs_positional(const struct targs *a, int *idx)
{
	int k = 0;
	for (int i = 1; i < a->n; i++)
		if (!a->eq[i])
			idx[k++] = i;
	return k;
}

/* The trimmed value of named argument `key`, or NULL. */
static const char *targ_named(const struct targs *a, const char *key, size_t *len)
{
	size_t kl = strlen(key);
	for (int i = a->n - 1; i >= 1; i--) {
		if (!a->eq[i])
			continue;
		const char *k = a->s[i];
		size_t l = a->eq[i];
		trim(&k, &l);
		if (l == kl && strncasecmp(k, key, kl) == 0) {
			const char *v = a->s[i] + a->eq[i] + 1;
			size_t vl = a->len[i] - a->eq[i] - 1;
			trim(&v, &vl);
			*len = vl;
			return v;
		}
	}
	return NULL;
}

/* A number as convert takes it: digits with , . + - / and at least one digit. */
static int is_number(const char *s, size_t n)
{
	int digit = 0;
	for (size_t i = 0; i < n; i++) {
		if (isdigit((unsigned char)s[i]))
			digit = 1;
		else if (!strchr(",.+-/", s[i]) || s[i] == '\0')
			return 0;
	}
	return digit;
}

/* What {{convert}} shows between the values of a range ("5|to|10"), or NULL. */
static const char *range_word(const char *s, size_t n)
{
	static const char *const words[][2] = {
		{ "-", "\xe2\x80\x93" },     { "\xe2\x80\x93", "\xe2\x80\x93" }, { "to", " to " },
		{ "to(-)", " to " },       { "and", " and " },                 { "and(-)", " and " },
		{ "or", " or " },          { "x", " \xc3\x97 " },              { "\xc3\x97", " \xc3\x97 " },
		{ "by", " by " },          { "+/-", " \xc2\xb1 " },            { "\xc2\xb1", " \xc2\xb1 " },
		{ "+", " + " },            { ",", ", " },                      { ", and", ", and " },
		{ ", or", ", or " },       { NULL, NULL },
	};
	for (int i = 0; words[i][0]; i++)
		if (strlen(words[i][0]) == n && memcmp(s, words[i][0], n) == 0)
			return words[i][1];
	return NULL;
}

/* A convert unit code as text: C -> °C, km2 -> km², sqmi -> sq mi. */
static int put_unit(const char *u, size_t n, struct buf *o)
{
	if (n == 1 && (*u == 'C' || *u == 'F')) {
		PUT(o, "\xc2\xb0", 2);
		PUTC(o, *u);
		return 0;
	}
	if (n > 2 && strncmp(u, "sq", 2) == 0 && isalpha((unsigned char)u[2])) {
		PUT(o, "sq ", 3);
		u += 2;
		n -= 2;
	}
	if (n >= 2 && (u[n - 1] == '2' || u[n - 1] == '3') && isalpha((unsigned char)u[n - 2])) {
		PUT(o, u, n - 1);
		PUT(o, u[n - 1] == '2' ? "\xc2\xb2" : "\xc2\xb3", 2);
		return 0;
	}
	PUT(o, u, n);
	return 0;
}

/* Units that follow another in a mixed value: 6|ft|2|in, 10|st|4|lb. */
static int is_subunit(const char *s, size_t n)
{
	static const char *const units[] = { "in", "lb", "oz", "yd", "ft", "ch", NULL };
	for (int i = 0; units[i]; i++)
		if (strlen(units[i]) == n && memcmp(s, units[i], n) == 0)
			return 1;
	return 0;
}

/* {{convert|5|km|mi}}, {{cvt|…}}: the input value(s) and unit. 1 if shown. */
static int show_convert(const struct targs *a, struct buf *o)
{
	int idx[MAX_TARGS], np = targs_positional(a, idx);
	if (np < 1 || !a->len[idx[0]])
		return 0;
	PUT(o, a->s[idx[0]], a->len[idx[0]]);
	int i = 1;
	const char *w;
	for (; i + 1 < np && (w = range_word(a->s[idx[i]], a->len[idx[i]])) != NULL; i += 2) {
		PUT(o, w, strlen(w));
		PUT(o, a->s[idx[i + 1]], a->len[idx[i + 1]]);
	}
	if (i < np && a->len[idx[i]] && !is_number(a->s[idx[i]], a->len[idx[i]])) {
		PUTC(o, ' ');
		if (put_unit(a->s[idx[i]], a->len[idx[i]], o) < 0)
			return -1;
		for (i++; i + 1 < np && is_number(a->s[idx[i]], a->len[idx[i]]) &&
			  is_subunit(a->s[idx[i + 1]], a->len[idx[i + 1]]);
		     i += 2) {
			PUTC(o, ' ');
			PUT(o, a->s[idx[i]], a->len[idx[i]]);
			PUTC(o, ' ');
			PUT(o, a->s[idx[i + 1]], a->len[idx[i + 1]]);
		}
	}
	return 1;
}

/* {{val|1.5|0.2|e=3|u=m}} -> "1.5 ± 0.2×10^3 m". 1 if shown. */
static int show_val(const struct targs *a, struct buf *o)
{
	int idx[MAX_TARGS], np = targs_positional(a, idx);
	if (np < 1 || !a->len[idx[0]])
		return 0;
	size_t l;
	const char *v;
	if ((v = targ_named(a, "p", &l)) != NULL)
		PUT(o, v, l);
	PUT(o, a->s[idx[0]], a->len[idx[0]]);
	if (np >= 3) { /* asymmetric: {{val|1.5|+0.2|-0.1}} */
		PUTC(o, ' ');
		PUT(o, a->s[idx[1]], a->len[idx[1]]);
		PUTC(o, ' ');
		PUT(o, a->s[idx[2]], a->len[idx[2]]);
	} else if (np == 2 && a->len[idx[1]]) {
		PUT(o, " \xc2\xb1 ", 4);
		PUT(o, a->s[idx[1]], a->len[idx[1]]);
	}
	if ((v = targ_named(a, "e", &l)) != NULL && l) {
		PUT(o, "\xc3\x97" "10^", 5);
		PUT(o, v, l);
	}
	if ((v = targ_named(a, "end", &l)) != NULL)
		PUT(o, v, l);
	if (((v = targ_named(a, "u", &l)) != NULL || (v = targ_named(a, "ul", &l)) != NULL) && l) {
		PUTC(o, ' ');
		PUT(o, v, l);
	}
	if (((v = targ_named(a, "up", &l)) != NULL || (v = targ_named(a, "upl", &l)) != NULL) && l) {
		PUTC(o, '/');
		PUT(o, v, l);
	}
	return 1;
}

/* {{frac|1|2}} -> 1/2, {{frac|3|1|2}} -> 3 1/2, {{frac|4}} -> 1/4. 1 if shown. */
static int show_frac(const struct targs *a, struct buf *o)
{
	int idx[MAX_TARGS], np = targs_positional(a, idx);
	if (np < 1 || np > 3)
		return 0;
	if (np == 1)
		PUT(o, "1/", 2);
	for (int i = 0; i < np; i++) {
		if (i)
			PUTC(o, i == np - 1 ? '/' : ' ');
		PUT(o, a->s[idx[i]], a->len[idx[i]]);
	}
	return 1;
}

/*
 * Value templates keep what a reader sees; every other template goes.
 * Returns 1 when [c, c + n) (the body between the braces) was shown, 0 when
 * it is to be dropped, -1 when out of memory.
 */
static int show_template(const char *c, size_t n, struct buf *o)
{
	struct targs a;
	if (targs_split(c, n, &a) < 0)
		return 0;
	size_t mark = o->len, l;
	const char *v;
	int rc = 0;
	if (targ_is(&a, 0, "convert") || targ_is(&a, 0, "cvt"))
		rc = show_convert(&a, o);
	else if (targ_is(&a, 0, "val"))
		rc = show_val(&a, o);
	else if (targ_is(&a, 0, "frac") || targ_is(&a, 0, "sfrac"))
		rc = show_frac(&a, o);
	else if (a.len[0] > 10 && strncasecmp(a.s[0], "formatnum:", 10) == 0) {
		const char *s = a.s[0] + 10;
		size_t sl = a.len[0] - 10;
		trim(&s, &sl);
		PUT(o, s, sl);
		rc = 1;
	} else if (targ_is(&a, 0, "nowrap") && a.n == 2) {
		if (!a.eq[1])
			PUT(o, a.s[1], a.len[1]);
		else if ((v = targ_named(&a, "1", &l)) != NULL)
			PUT(o, v, l);
		rc = 1;
	}
	if (rc == 0) {
		o->len = mark;
		o->data[mark] = '\0';
	}
	return rc;
}

static int pass_templates(const char *s, size_t n, struct buf *o)
{
	const char *end = s + n, *p = s;
	/* The next "{{" and "}}" at or after p (NULL: none left), kept between turns. */
	const char *t = find2(s, end, '{', '{'), *close = find2(s, end, '}', '}');
	int fails = 0;
	while (p < end) {
		if (t && t < p)
			t = find2(p, end, '{', '{');
		if (close && close < p)
			close = find2(p, end, '}', '}');
		if (close && (!t || close < t)) { /* a stray closer: drop its run of braces */
			PUT(o, p, (size_t)(close - p));
			p = close;
			while (p < end && *p == '}')
				p++;
			continue;
		}
		if (!t) {
			PUT(o, p, (size_t)(end - p));
			break;
		}
		PUT(o, p, (size_t)(t - p));
		const char *e = fails < MAX_FAILED_SEARCHES ? brace_end(t, end) : NULL;
		if (e) {
			if (e - t >= 4 && e[-2] == '}' && show_template(t + 2, (size_t)(e - t - 4), o) < 0)
				return -1;
			p = e;
			continue;
		}
		p = t + 2;
		if (fails++ < MAX_FAILED_SEARCHES) {
			/* unclosed: with parameters, it goes to the end of its paragraph */
			const char *pe = para_end(p, end);
			if (memchr(p, '|', (size_t)(pe - p)))
				p = pe;
		}
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

/* ---- pass 4: end-matter sections --------------------------------------- */

/* Headings (compared without case) whose sections are lists of sources or links, not prose. */
static const char *const end_sections[] = {
	"references", "reference", "notes", "footnotes", "notes and references", "references and notes",
	"citations", "sources", "works cited", "bibliography", "further reading", "see also",
	"external links", "external link", NULL,
};
/* The same in bgwiki (compared as written). */
static const char *const end_sections_bg[] = {
	"Източници", "Бележки", "Литература", "Библиография", "Вижте също", "Външни препратки", NULL,
};

/*
 * The level of a heading line [a, b) (trimmed) and its text in *h, *hl, or
 * 0 when it is not one: "== Text ==" is level 2 (the smaller of the two
 * runs of '=', at most 6, as MediaWiki counts).
 */
static int heading_level(const char *a, const char *b, const char **h, size_t *hl)
{
	int l = 0, r = 0;
	while (a + l < b && a[l] == '=' && l < 6)
		l++;
	while (b - r > a + l && b[-r - 1] == '=' && r < 6)
		r++;
	if (!l || !r)
		return 0;
	int lv = l < r ? l : r;
	*h = a + lv;
	*hl = (size_t)((b - lv) - (a + lv));
	trim(h, hl);
	return lv;
}

static int pass_sections(const char *s, size_t n, struct buf *o)
{
	const char *end = s + n, *p = s;
	int dropping = 0; /* level of the section being dropped, 0 when none */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl + 1 : end;
		const char *a = p, *b = nl ? nl : end;
		while (a < b && is_blank(*a))
			a++;
		while (b > a && is_blank(b[-1]))
			b--;
		const char *h;
		size_t hl;
		int lv = a < b && *a == '=' ? heading_level(a, b, &h, &hl) : 0;
		if (lv && dropping && lv <= dropping)
			dropping = 0;
		if (lv && !dropping && name_in(h, hl, end_sections, end_sections_bg))
			dropping = lv;
		if (!dropping)
			PUT(o, p, (size_t)(le - p));
		p = le;
	}
	return 0;
}

/* ---- pass 5: wiki links ------------------------------------------------ */

static const char *const drop_ns[] = {
	"file", "image", "category", "media", "datei", "bild", "kategorie", "fichier", "catégorie",
	"archivo", "categoría", "imagen", "файл", "картинка", "изображение", "категория", "категорија",
	NULL,
};
/* Cyrillic prefixes differ in case: the common capitalised forms, compared as written. */
static const char *const drop_ns_cap[] = { "Файл", "Картинка", "Изображение", "Категория", NULL };
/* The subset whose links show an image (with a caption that is not prose). */
static const char *const file_ns[] = {
	"file", "image", "datei", "bild", "fichier", "archivo", "imagen", "файл", "картинка", "изображение", NULL,
};
static const char *const file_ns_cap[] = { "Файл", "Картинка", "Изображение", NULL };

/* Whether the link whose body starts at c (after "[[") shows a file: [[File:…]], [[ image :…]]. */
static int is_file_link(const char *c, const char *end)
{
	while (c < end && (*c == ' ' || *c == '\t'))
		c++;
	const char *lim = end - c > 40 ? c + 40 : end, *col = c;
	while (col < lim && *col != ':' && *col != '|' && *col != ']' && *col != '\n')
		col++;
	if (col == lim || *col != ':')
		return 0;
	size_t pl = (size_t)(col - c);
	while (pl && c[pl - 1] == ' ')
		pl--;
	return name_in(c, pl, file_ns, file_ns_cap);
}

static size_t url_scheme(const char *s, size_t n);

/*
 * s points at "[["; one past the matching "]]" or NULL. Links end at a
 * heading line and, unless `file` (image captions may hold blank lines), at
 * a blank line. An external link inside ("[[File:x|[http://u label]]]")
 * keeps its own ']'.
 */
static const char *link_end(const char *s, const char *end, int file)
{
	long depth = 0;
	const char *p = s, *no_rb = s; /* no ']' on the line before no_rb: do not look again */
	while (p + 1 < end) {
		if (p[0] == '[' && p[1] == '[') {
			depth++;
			p += 2;
		} else if (p[0] == ']' && p[1] == ']') {
			if (--depth == 0)
				return p + 2;
			p += 2;
		} else if (p[0] == '\n' && (p[1] == '=' || (p[1] == '\n' && !file))) {
			return NULL;
		} else if (p[0] == '[' && p >= no_rb && url_scheme(p + 1, (size_t)(end - p - 1))) {
			const char *q = p + 1;
			while (q < end && *q != ']' && *q != '\n')
				q++;
			if (q < end && *q == ']') {
				p = q + 1;
			} else {
				no_rb = q;
				p++;
			}
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
		if (!colon && (name_in(c, pl, drop_ns, drop_ns_cap) || is_lang_prefix(c, pl)))
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
		int file = is_file_link(t + 2, end);
		const char *e = fails < MAX_FAILED_SEARCHES ? link_end(t, end, file) : NULL;
		fails += !e;
		if (!e && file) { /* an unclosed file link goes to the end of its line */
			const char *nl = memchr(t, '\n', (size_t)(end - t));
			p = nl ? nl : end;
			continue;
		}
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

/* ---- pass 6: external links and bare URLs ------------------------------ */

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
	const char *end = s + n, *p = s, *run = s, *no_rb = s;
	while (p < end) {
		char c = *p;
		if (c == '[' && p >= no_rb && url_scheme(p + 1, (size_t)(end - p - 1))) {
			const char *q = p + 1;
			while (q < end && *q != ']' && *q != '\n')
				q++;
			if (q == end || *q != ']') {
				no_rb = q; /* no ']' on the rest of this line: do not look again */
			} else {
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

/* ---- pass 7: remaining tags -------------------------------------------- */

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

/* ---- pass 8: bold and italic ------------------------------------------- */

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

/* ---- pass 9: entities -------------------------------------------------- */

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

/*
 * The HTML 4 named references, which is what MediaWiki accepts (others it
 * shows as written), and &apos;; sorted by strcmp for bsearch. Spaces are a
 * plain space here and invisible marks (cp 0) are dropped.
 */
static const struct entity {
	const char *name;
	uint32_t cp;
} entities[] = {
	{ "AElig", 0xC6 }, { "Aacute", 0xC1 }, { "Acirc", 0xC2 }, { "Agrave", 0xC0 }, { "Alpha", 0x391 },
	{ "Aring", 0xC5 }, { "Atilde", 0xC3 }, { "Auml", 0xC4 }, { "Beta", 0x392 }, { "Ccedil", 0xC7 },
	{ "Chi", 0x3A7 }, { "Dagger", 0x2021 }, { "Delta", 0x394 }, { "ETH", 0xD0 }, { "Eacute", 0xC9 },
	{ "Ecirc", 0xCA }, { "Egrave", 0xC8 }, { "Epsilon", 0x395 }, { "Eta", 0x397 }, { "Euml", 0xCB },
	{ "Gamma", 0x393 }, { "Iacute", 0xCD }, { "Icirc", 0xCE }, { "Igrave", 0xCC }, { "Iota", 0x399 },
	{ "Iuml", 0xCF }, { "Kappa", 0x39A }, { "Lambda", 0x39B }, { "Mu", 0x39C }, { "Ntilde", 0xD1 },
	{ "Nu", 0x39D }, { "OElig", 0x152 }, { "Oacute", 0xD3 }, { "Ocirc", 0xD4 }, { "Ograve", 0xD2 },
	{ "Omega", 0x3A9 }, { "Omicron", 0x39F }, { "Oslash", 0xD8 }, { "Otilde", 0xD5 }, { "Ouml", 0xD6 },
	{ "Phi", 0x3A6 }, { "Pi", 0x3A0 }, { "Prime", 0x2033 }, { "Psi", 0x3A8 }, { "Rho", 0x3A1 },
	{ "Scaron", 0x160 }, { "Sigma", 0x3A3 }, { "THORN", 0xDE }, { "Tau", 0x3A4 }, { "Theta", 0x398 },
	{ "Uacute", 0xDA }, { "Ucirc", 0xDB }, { "Ugrave", 0xD9 }, { "Upsilon", 0x3A5 }, { "Uuml", 0xDC },
	{ "Xi", 0x39E }, { "Yacute", 0xDD }, { "Yuml", 0x178 }, { "Zeta", 0x396 }, { "aacute", 0xE1 },
	{ "acirc", 0xE2 }, { "acute", 0xB4 }, { "aelig", 0xE6 }, { "agrave", 0xE0 }, { "alefsym", 0x2135 },
	{ "alpha", 0x3B1 }, { "amp", '&' }, { "and", 0x2227 }, { "ang", 0x2220 }, { "apos", '\'' },
	{ "aring", 0xE5 }, { "asymp", 0x2248 }, { "atilde", 0xE3 }, { "auml", 0xE4 }, { "bdquo", 0x201E },
	{ "beta", 0x3B2 }, { "brvbar", 0xA6 }, { "bull", 0x2022 }, { "cap", 0x2229 }, { "ccedil", 0xE7 },
	{ "cedil", 0xB8 }, { "cent", 0xA2 }, { "chi", 0x3C7 }, { "circ", 0x2C6 }, { "clubs", 0x2663 },
	{ "cong", 0x2245 }, { "copy", 0xA9 }, { "crarr", 0x21B5 }, { "cup", 0x222A }, { "curren", 0xA4 },
	{ "dArr", 0x21D3 }, { "dagger", 0x2020 }, { "darr", 0x2193 }, { "deg", 0xB0 }, { "delta", 0x3B4 },
	{ "diams", 0x2666 }, { "divide", 0xF7 }, { "eacute", 0xE9 }, { "ecirc", 0xEA }, { "egrave", 0xE8 },
	{ "empty", 0x2205 }, { "emsp", ' ' }, { "ensp", ' ' }, { "epsilon", 0x3B5 }, { "equiv", 0x2261 },
	{ "eta", 0x3B7 }, { "eth", 0xF0 }, { "euml", 0xEB }, { "euro", 0x20AC }, { "exist", 0x2203 },
	{ "fnof", 0x192 }, { "forall", 0x2200 }, { "frac12", 0xBD }, { "frac14", 0xBC }, { "frac34", 0xBE },
	{ "frasl", 0x2044 }, { "gamma", 0x3B3 }, { "ge", 0x2265 }, { "gt", '>' }, { "hArr", 0x21D4 },
	{ "harr", 0x2194 }, { "hearts", 0x2665 }, { "hellip", 0x2026 }, { "iacute", 0xED },
	{ "icirc", 0xEE }, { "iexcl", 0xA1 }, { "igrave", 0xEC }, { "image", 0x2111 }, { "infin", 0x221E },
	{ "int", 0x222B }, { "iota", 0x3B9 }, { "iquest", 0xBF }, { "isin", 0x2208 }, { "iuml", 0xEF },
	{ "kappa", 0x3BA }, { "lArr", 0x21D0 }, { "lambda", 0x3BB }, { "lang", 0x2329 }, { "laquo", 0xAB },
	{ "larr", 0x2190 }, { "lceil", 0x2308 }, { "ldquo", 0x201C }, { "le", 0x2264 }, { "lfloor", 0x230A },
	{ "lowast", 0x2217 }, { "loz", 0x25CA }, { "lrm", 0 }, { "lsaquo", 0x2039 }, { "lsquo", 0x2018 },
	{ "lt", '<' }, { "macr", 0xAF }, { "mdash", 0x2014 }, { "micro", 0xB5 }, { "middot", 0xB7 },
	{ "minus", 0x2212 }, { "mu", 0x3BC }, { "nabla", 0x2207 }, { "nbsp", ' ' }, { "ndash", 0x2013 },
	{ "ne", 0x2260 }, { "ni", 0x220B }, { "not", 0xAC }, { "notin", 0x2209 }, { "nsub", 0x2284 },
	{ "ntilde", 0xF1 }, { "nu", 0x3BD }, { "oacute", 0xF3 }, { "ocirc", 0xF4 }, { "oelig", 0x153 },
	{ "ograve", 0xF2 }, { "oline", 0x203E }, { "omega", 0x3C9 }, { "omicron", 0x3BF },
	{ "oplus", 0x2295 }, { "or", 0x2228 }, { "ordf", 0xAA }, { "ordm", 0xBA }, { "oslash", 0xF8 },
	{ "otilde", 0xF5 }, { "otimes", 0x2297 }, { "ouml", 0xF6 }, { "para", 0xB6 }, { "part", 0x2202 },
	{ "permil", 0x2030 }, { "perp", 0x22A5 }, { "phi", 0x3C6 }, { "pi", 0x3C0 }, { "piv", 0x3D6 },
	{ "plusmn", 0xB1 }, { "pound", 0xA3 }, { "prime", 0x2032 }, { "prod", 0x220F }, { "prop", 0x221D },
	{ "psi", 0x3C8 }, { "quot", '"' }, { "rArr", 0x21D2 }, { "radic", 0x221A }, { "rang", 0x232A },
	{ "raquo", 0xBB }, { "rarr", 0x2192 }, { "rceil", 0x2309 }, { "rdquo", 0x201D }, { "real", 0x211C },
	{ "reg", 0xAE }, { "rfloor", 0x230B }, { "rho", 0x3C1 }, { "rlm", 0 }, { "rsaquo", 0x203A },
	{ "rsquo", 0x2019 }, { "sbquo", 0x201A }, { "scaron", 0x161 }, { "sdot", 0x22C5 }, { "sect", 0xA7 },
	{ "shy", 0 }, { "sigma", 0x3C3 }, { "sigmaf", 0x3C2 }, { "sim", 0x223C }, { "spades", 0x2660 },
	{ "sub", 0x2282 }, { "sube", 0x2286 }, { "sum", 0x2211 }, { "sup", 0x2283 }, { "sup1", 0xB9 },
	{ "sup2", 0xB2 }, { "sup3", 0xB3 }, { "supe", 0x2287 }, { "szlig", 0xDF }, { "tau", 0x3C4 },
	{ "there4", 0x2234 }, { "theta", 0x3B8 }, { "thetasym", 0x3D1 }, { "thinsp", ' ' },
	{ "thorn", 0xFE }, { "tilde", 0x2DC }, { "times", 0xD7 }, { "trade", 0x2122 }, { "uArr", 0x21D1 },
	{ "uacute", 0xFA }, { "uarr", 0x2191 }, { "ucirc", 0xFB }, { "ugrave", 0xF9 }, { "uml", 0xA8 },
	{ "upsih", 0x3D2 }, { "upsilon", 0x3C5 }, { "uuml", 0xFC }, { "weierp", 0x2118 }, { "xi", 0x3BE },
	{ "yacute", 0xFD }, { "yen", 0xA5 }, { "yuml", 0xFF }, { "zeta", 0x3B6 }, { "zwj", 0 },
	{ "zwnj", 0 },
};

static int entity_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct entity *)elem)->name);
}

/* &#128;-&#159; as browsers read them (Windows-1252); 0 where that code page has no character. */
static const uint16_t cp1252[32] = {
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
	0x2039, 0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
	0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
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
			if (cp >= 0x80 && cp <= 0x9F && cp1252[cp - 0x80])
				cp = cp1252[cp - 0x80];
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
		char key[16];
		const struct entity *ent = NULL;
		if (nl < sizeof(key)) {
			memcpy(key, nm, nl);
			key[nl] = '\0';
			ent = bsearch(key, entities, sizeof(entities) / sizeof(entities[0]), sizeof(entities[0]),
				      entity_cmp);
		}
		if (!ent) {
			PUTC(o, '&');
			p++;
			continue;
		}
		if (ent->cp && put_utf8(o, ent->cp) < 0)
			return -1;
		p = semi + 1;
	}
	return 0;
}

/* ---- pass 10: lines, headings, lists, whitespace ---------------------- */

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
		if (*p == ')') {
			/* separators before it go: "(born 1950; )" -> "(born 1950)" */
			size_t k = o->len, j;
			while (k > line0 && (o->data[k - 1] == ' ' || o->data[k - 1] == ';' || o->data[k - 1] == ','))
				k--;
			for (j = k; j > line0 && o->data[j - 1] && strchr(" ;,:./-", o->data[j - 1]); j--)
				;
			if (j > line0 && o->data[j - 1] == '(') {
				/* only punctuation inside, left by removed templates: "()", "(; )" go */
				k = j - 1;
				while (k > line0 && o->data[k - 1] == ' ')
					k--;
				o->len = k;
				o->data[k] = '\0';
				sp = 0;
				continue;
			}
			o->len = k;
			o->data[k] = '\0';
			sp = 0;
		}
		int after_paren = o->len > line0 && o->data[o->len - 1] == '(';
		if (after_paren && (*p == ';' || *p == ',')) {
			sp = 0; /* "(; born" -> "(born" */
			continue;
		}
		if (sp && (*p == ',' || *p == '.' || *p == ';'))
			sp = 0; /* "word ." left by a removed reference */
		if (sp && o->len > line0 && !after_paren)
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
	static const pass_fn passes[] = { pass_blocks, pass_templates, pass_tables, pass_sections, pass_links,
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
