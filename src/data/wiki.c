/*
 * wiki.c — MediaWiki XML export reader: expat callbacks over an instream.
 *
 * The one place expat is used. The parser is created without namespace
 * processing, so element names arrive as written ("page", or "mw:page" with
 * a prefix); we compare the local part after the last ':' and therefore
 * accept every export schema version. Expat decodes whatever the document
 * declares (or its BOM implies) and hands us UTF-8.
 *
 * State is one struct page_state: the current element depth, the depth of
 * the open <page> (0 outside pages), which field character data is going to
 * (title, ns, the page's own id, text), and one buffer per field that is
 * reset at every <page>. Nothing outlives a page, so memory is bounded by
 * the largest page (and capped by max_page_bytes). Text of pages already
 * known to be outside namespace 0 is not even buffered (<ns> precedes
 * <revision> in every schema version).
 *
 * The decision (other namespace -> redirect -> disambiguation -> strip ->
 * too short -> keep) happens at </page>; the callback may stop the parse,
 * which is done with XML_StopParser. Input is fed with XML_GetBuffer /
 * XML_ParseBuffer so bytes go from the decompressor straight into expat's
 * buffer without another copy.
 */
#include "engrave/wiki.h"
#include "engrave/article.h"
#include "engrave/buf.h"
#include "engrave/clock.h"
#include "engrave/err.h"
#include "data/instream.h"
#include "engrave/log.h"
#include "data/wikitext.h"
#include "engrave/xalloc.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHUNK (256 * 1024)
#define DEFAULT_MAX_PAGE (64ull << 20)

enum field { F_NONE = 0, F_TITLE, F_NS, F_ID, F_TEXT };

struct page_state {
	XML_Parser xp;
	const char *path;
	struct wiki_opts o;
	wiki_article_fn fn;
	void *ctx;
	struct wiki_stats *st;

	int depth;
	int page_depth;   /* depth of the open <page>, 0 outside */
	int root_checked;
	enum field field;
	int ns_seen;
	long ns;
	int redirect;
	int oversize;
	struct buf title, nsbuf, id, text, plain;
	struct wikitext wt;

	int stop;         /* limit reached or callback asked to stop */
	int failed;       /* an error is in err */
	struct err err;
	struct progress pg;
};

static const char *local_name(const XML_Char *name)
{
	const char *c = strrchr(name, ':');
	return c ? c + 1 : name;
}

static void fail(struct page_state *s)
{
	s->failed = 1;
	XML_StopParser(s->xp, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct page_state *s = ud;
	(void)attrs;
	const char *ln = local_name(name);
	s->depth++;
	if (!s->root_checked) {
		s->root_checked = 1;
		if (strcmp(ln, "mediawiki") != 0) {
			err_set(&s->err, ERR_INPUT, "%s:%lu:%lu: not a MediaWiki export (root element <%s>)",
				s->path, (unsigned long)XML_GetCurrentLineNumber(s->xp),
				(unsigned long)XML_GetCurrentColumnNumber(s->xp) + 1, name);
			err_hint(&s->err, "pass a pages-articles.xml[.bz2] dump from dumps.wikimedia.org");
			fail(s);
		}
		return;
	}
	if (!s->page_depth) {
		if (strcmp(ln, "page") == 0) {
			s->page_depth = s->depth;
			s->ns_seen = s->redirect = s->oversize = 0;
			s->ns = 0;
			buf_reset(&s->title);
			buf_reset(&s->nsbuf);
			buf_reset(&s->id);
			buf_reset(&s->text);
			s->st->pages++;
		}
		return;
	}
	int child = s->depth == s->page_depth + 1;
	if (child && strcmp(ln, "title") == 0) {
		s->field = F_TITLE;
	} else if (child && strcmp(ln, "ns") == 0) {
		s->field = F_NS;
	} else if (child && strcmp(ln, "id") == 0) {
		s->field = F_ID;
	} else if (child && strcmp(ln, "redirect") == 0) {
		s->redirect = 1;
	} else if (strcmp(ln, "text") == 0) {
		/* With full history the last revision wins. */
		buf_reset(&s->text);
		s->oversize = 0;
		if (!(s->ns_seen && s->ns != 0))
			s->field = F_TEXT;
	}
}

static void XMLCALL on_chars(void *ud, const XML_Char *txt, int len)
{
	struct page_state *s = ud;
	struct buf *b;
	switch (s->field) {
	case F_TITLE:
		b = &s->title;
		break;
	case F_NS:
		b = &s->nsbuf;
		break;
	case F_ID:
		b = &s->id;
		break;
	case F_TEXT:
		b = &s->text;
		if (s->oversize)
			return;
		if (b->len + (size_t)len > s->o.max_page_bytes) {
			s->oversize = 1;
			return;
		}
		break;
	default:
		return;
	}
	if ((s->field == F_NS || s->field == F_ID) && b->len + (size_t)len > 64)
		return;
	if (buf_append(b, txt, (size_t)len, &s->err) < 0)
		fail(s);
}

static int starts_redirect(const char *t, size_t n)
{
	size_t i = 0;
	while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
		i++;
	t += i;
	n -= i;
	static const char *const words[] = { "#REDIRECT", "#ПРЕНАСОЧВАНЕ", "#пренасочване", NULL };
	for (int k = 0; words[k]; k++) {
		size_t l = strlen(words[k]);
		if (n >= l && strncasecmp(t, words[k], l) == 0)
			return 1;
	}
	return 0;
}

/*
 * Disambiguation templates, compared without case after "_" -> " ": the
 * disambiguation family (and its redirects), set index articles, and name
 * lists (Surname, Given name), which also just list pages of one name.
 */
static const char *const dab_templates[] = {
	"dab", "disamb", "geodis", "geo-dis", "hndis", "hndab", "hndis-cleanup", "numberdis",
	"roaddis", "schooldis", "hospitaldis", "mil-unit-dis", "mathdab", "letter-numbercombdisambig",
	"place name disambiguation", "human name disambiguation", "number disambiguation",
	"road disambiguation", "school disambiguation", "hospital disambiguation", "letter disambiguation",
	"airport disambiguation", "call sign disambiguation", "genus disambiguation",
	"species latin name disambiguation", "military unit disambiguation", "chinese title disambiguation",
	"set index article", "set index", "sia", "shipindex", "ship index", "sportindex", "mountainindex",
	"lakeindex", "roadindex", "surname", "given name", "molecular formula index", "chemistry index",
	"enzyme index", "plant common name", NULL,
};

/* Template names starting with these mark a disambiguation page ({{disambig}}, {{Disambiguation|geo}}). */
static const char *const dab_prefixes[] = { "disambig", "пояснение", "Пояснение", NULL };

/*
 * Whether the template name at [q, end) (after "{{" and leading blanks),
 * up to '|' or '}', is a disambiguation template.
 */
static int is_dab_template(const char *q, const char *end)
{
	char name[64];
	size_t n = 0;
	if (end - q >= 9 && strncasecmp(q, "template:", 9) == 0)
		q += 9;
	for (; q < end && *q != '|' && *q != '}'; q++) {
		if (n + 1 >= sizeof(name))
			return 0;
		char c = *q == '_' || *q == '\n' || *q == '\t' ? ' ' : *q;
		if (c == ' ' && (n == 0 || name[n - 1] == ' '))
			continue;
		name[n++] = c;
	}
	if (q == end)
		return 0;
	while (n && name[n - 1] == ' ')
		n--;
	name[n] = '\0';
	for (int k = 0; dab_prefixes[k]; k++) {
		size_t l = strlen(dab_prefixes[k]);
		/* {{Disambiguation needed}} is an inline tag in ordinary articles */
		if (n >= l && strncasecmp(name, dab_prefixes[k], l) == 0 &&
		    strncasecmp(name, "disambiguation needed", 21) != 0)
			return 1;
	}
	for (int k = 0; dab_templates[k]; k++)
		if (strcasecmp(name, dab_templates[k]) == 0)
			return 1;
	return 0;
}

static int is_disambig(const char *title, const char *t, size_t n)
{
	if (strcasestr(title, "(disambiguation)"))
		return 1;
	const char *end = t + n, *p = t;
	while (p < end) {
		const char *b = memmem(p, (size_t)(end - p), "{{", 2);
		if (!b)
			return 0;
		const char *q = b + 2;
		while (q < end && (*q == ' ' || *q == '\n'))
			q++;
		if (is_dab_template(q, end))
			return 1;
		p = b + 2;
	}
	return 0;
}

static void end_page(struct page_state *s)
{
	struct wiki_stats *st = s->st;
	if (s->ns_seen && s->ns != 0) {
		st->other_ns++;
		return;
	}
	if (s->redirect || starts_redirect(s->text.data, s->text.len)) {
		st->redirects++;
		return;
	}
	if (is_disambig(s->title.data, s->text.data, s->text.len)) {
		st->disambig++;
		return;
	}
	if (s->oversize) {
		st->oversize++;
		return;
	}
	if (wikitext_strip(&s->wt, s->text.data, s->text.len, &s->plain, &s->err) < 0) {
		fail(s);
		return;
	}
	if (s->o.min_chars && article_utf8_count(s->plain.data, s->plain.len) < s->o.min_chars) {
		st->too_short++;
		return;
	}
	char *endp = NULL;
	unsigned long long id = strtoull(s->id.data, &endp, 10);
	if (endp == s->id.data)
		id = st->pages; /* no <id>: fall back to the page's ordinal */
	struct article a = { .id = id, .title = s->title.data, .text = s->plain.data };
	st->kept++;
	if (s->o.progress)
		progress_add(&s->pg, 1, 0, 0);
	int rc = s->fn ? s->fn(&a, s->ctx) : 0;
	if (rc < 0) {
		err_set(&s->err, ERR_INTERRUPTED, "%s: stopped by the article callback at page '%s'", s->path,
			s->title.data);
		fail(s);
		return;
	}
	if (rc > 0 || (s->o.limit && st->kept >= s->o.limit)) {
		s->stop = 1;
		XML_StopParser(s->xp, XML_FALSE);
	}
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct page_state *s = ud;
	(void)name;
	/* Fields are leaf elements: any end tag closes the one being captured. */
	if (s->field == F_NS) {
		s->ns_seen = 1;
		s->ns = strtol(s->nsbuf.data, NULL, 10);
	}
	s->field = F_NONE;
	if (s->page_depth && s->depth == s->page_depth) {
		s->page_depth = 0;
		if (!s->failed)
			end_page(s);
	}
	s->depth--;
}

static void update_label(struct page_state *s, mono_ns t0)
{
	double secs = (double)(clock_mono_now() - t0) / 1e9;
	double mb = (double)s->st->bytes_in / 1e6;
	pthread_mutex_lock(&s->pg.lock);
	snprintf(s->pg.label, sizeof(s->pg.label), "corpus %.1f MB, %.1f MB/s", mb, secs > 0 ? mb / secs : 0.0);
	pthread_mutex_unlock(&s->pg.lock);
}

int wiki_read(const char *path, const struct wiki_opts *o, wiki_article_fn on_article, void *ctx,
	      struct wiki_stats *st, struct err *e)
{
	struct wiki_stats local;
	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	struct page_state *s = xcalloc(1, sizeof(*s));
	if (o)
		s->o = *o;
	if (!s->o.max_page_bytes)
		s->o.max_page_bytes = DEFAULT_MAX_PAGE;
	s->path = path;
	s->fn = on_article;
	s->ctx = ctx;
	s->st = st;
	s->err = (struct err)ERR_INIT;
	buf_init(&s->title, 0);
	buf_init(&s->nsbuf, 0);
	buf_init(&s->id, 0);
	buf_init(&s->text, 0);
	buf_init(&s->plain, 0);
	int rc = -1;
	struct instream *in = NULL;
	mono_ns t0 = clock_mono_now();
	if (wikitext_init(&s->wt, e) < 0)
		goto out;
	if (instream_open(&in, path, e) < 0)
		goto out;
	s->xp = XML_ParserCreate(NULL);
	if (!s->xp) {
		err_set(e, ERR_INTERNAL, "%s: cannot create the XML parser", path);
		goto out;
	}
	XML_SetUserData(s->xp, s);
	XML_SetElementHandler(s->xp, on_start, on_end);
	XML_SetCharacterDataHandler(s->xp, on_chars);
	if (s->o.progress)
		progress_start(&s->pg, "corpus", 0, "articles");
	mono_ns last_label = 0;
	for (;;) {
		void *b = XML_GetBuffer(s->xp, CHUNK);
		if (!b) {
			err_set(e, ERR_INTERNAL, "%s: out of memory in the XML parser", path);
			goto out_progress;
		}
		ssize_t n = instream_read(in, b, CHUNK, e);
		if (n < 0)
			goto out_progress;
		st->bytes_xml += (uint64_t)n;
		st->bytes_in = instream_consumed(in);
		if (XML_ParseBuffer(s->xp, (int)n, n == 0) == XML_STATUS_ERROR) {
			if (s->stop)
				break;
			if (s->failed) {
				if (e)
					*e = s->err;
				goto out_progress;
			}
			err_set(e, ERR_INPUT, "%s:%lu:%lu: malformed XML: %s", path,
				(unsigned long)XML_GetCurrentLineNumber(s->xp),
				(unsigned long)XML_GetCurrentColumnNumber(s->xp) + 1,
				XML_ErrorString(XML_GetErrorCode(s->xp)));
			err_hint(e, "the dump may be cut short or damaged; re-download it");
			goto out_progress;
		}
		if (s->stop)
			break;
		if (n == 0)
			break;
		if (s->o.progress) {
			mono_ns now = clock_mono_now();
			if (now - last_label > NS_PER_S / 5) {
				update_label(s, t0);
				last_label = now;
			}
		}
	}
	rc = 0;
out_progress:
	st->elapsed_ns = clock_mono_now() - t0;
	if (s->o.progress) {
		update_label(s, t0);
		progress_finish(&s->pg);
		if (rc == 0)
			log_debug("corpus: kept %llu of %llu pages (%llu redirects, %llu disambiguation, "
				 "%llu other namespaces, %llu too short) from %s (%s)",
				 (unsigned long long)st->kept, (unsigned long long)st->pages,
				 (unsigned long long)st->redirects, (unsigned long long)st->disambig,
				 (unsigned long long)st->other_ns, (unsigned long long)st->too_short, path,
				 instream_kind_name(instream_kind(in)));
	}
out:
	if (s->xp)
		XML_ParserFree(s->xp);
	instream_close(in);
	wikitext_release(&s->wt);
	buf_release(&s->title);
	buf_release(&s->nsbuf);
	buf_release(&s->id);
	buf_release(&s->text);
	buf_release(&s->plain);
	free(s);
	return rc;
}
