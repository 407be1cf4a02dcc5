/*
 * test_wikitext.c — wikitext -> plain text, case by case (each class of
 * markup that leaked from real enwiki pages has a small synthetic page
 * here), the disambiguation templates the MediaWiki reader skips, and the
 * two dumps in ../shared/fixtures/wiki read through that reader (no markup
 * class may be left in their text).
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "engrave/article.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/wiki.h"
#include "data/wikitext.h"
#include "../lib/testutil.h"

static char *strip(const char *in)
{
	struct buf out;
	struct err e = ERR_INIT;
	buf_init(&out, 0);
	cr_assert_eq(wikitext_to_plain(in, strlen(in), &out, &e), 0, "%s", e.msg);
	return buf_detach(&out, NULL);
}

#define EXPECT(in, want)                                                        \
	do {                                                                    \
		char *got_ = strip(in);                                         \
		cr_expect_str_eq(got_, want, "input: %s", in);                  \
		free(got_);                                                     \
	} while (0)

Test(wikitext, plain_text_unchanged) { EXPECT("Just a sentence.", "Just a sentence."); }

Test(wikitext, templates_nested)
{
	EXPECT("A{{cite|x={{inner|y}}|z}}B", "AB");
	EXPECT("{{Infobox river\n| name = Danube\n| length = {{convert|2850|km}}\n}}\nThe Danube flows.",
	       "The Danube flows.");
	EXPECT("x {{{1|default}}} y", "x y");
}

Test(wikitext, unbalanced_template_drops_only_opener) { EXPECT("a {{broken b c", "a broken b c"); }

Test(wikitext, tables_removed)
{
	EXPECT("Before\n{| class=\"wikitable\"\n! A !! B\n|-\n| 1 || 2\n|}\nAfter", "Before\nAfter");
	EXPECT("x\n{|\n| outer\n{|\n| inner\n|}\n| still outer\n|}\ny", "x\ny");
	EXPECT("{||border=0\n|-\n|cell\n|}\nText", "Text");
}

Test(wikitext, refs_removed)
{
	EXPECT("Fact.<ref>{{cite web|url=http://x}}</ref> More.", "Fact. More.");
	EXPECT("Fact<ref name=\"a\" /> more", "Fact more");
	EXPECT("Fact<REF Name=b>Some source</REF>.", "Fact.");
	EXPECT("A<ref group=n>note</ref>B<references/>", "AB");
}

Test(wikitext, comments_removed)
{
	EXPECT("A<!-- hidden\nnote -->B", "AB");
	EXPECT("A<!-- unclosed", "A");
}

Test(wikitext, other_tags_keep_inner_text)
{
	EXPECT("H<sub>2</sub>O and <span style=\"x\">span</span>", "H2O and span");
	EXPECT("line<br/>next", "line\nnext");
	EXPECT("a <math>x^2</math> b", "a b");
	EXPECT("1 < 2 and 3 > 2", "1 < 2 and 3 > 2");
}

Test(wikitext, links)
{
	EXPECT("[[Danube]] river", "Danube river");
	EXPECT("[[Chancellor of Germany|Chancellor]]s", "Chancellors");
	EXPECT("[[Reichstag (Weimar Republic)|]]", "Reichstag");
	EXPECT("[[Foo|''bold'' [[nested]]]]", "bold nested");
	EXPECT("see [[#History|below]]", "see below");
}

Test(wikitext, file_category_interlanguage_links_removed)
{
	EXPECT("[[File:X.jpg|thumb|A [[caption]] here]]Text", "Text");
	EXPECT("[[Image:Y.png]]Text", "Text");
	EXPECT("Text[[Category:Rivers]]", "Text");
	EXPECT("Text[[category:rivers|sort]]", "Text");
	EXPECT("Text[[de:Donau]]", "Text");
	EXPECT("Text[[zh-min-nan:Donau]]", "Text");
	EXPECT("[[Файл:Gregory XIII.jpg|thumb|[[Папа]]]]Текст", "Текст");
	EXPECT("[[:Category:Rivers]]", "Category:Rivers");
}

Test(wikitext, external_links)
{
	EXPECT("See [http://example.org the site] now", "See the site now");
	EXPECT("See [https://example.org] now", "See now");
	EXPECT("Visit http://example.org/page?x=1 today", "Visit today");
	EXPECT("[notalink] stays", "[notalink] stays");
}

Test(wikitext, bold_italic)
{
	EXPECT("'''Bold''' and ''italic'' and '''''both'''''", "Bold and italic and both");
	EXPECT("rock 'n' roll, O'Brien", "rock 'n' roll, O'Brien");
}

Test(wikitext, headings_and_lists)
{
	EXPECT("== History ==\ntext\n=== Early ===\nmore", "History\ntext\nEarly\nmore");
	EXPECT("* one\n** two\n# three\n: indented\n; term", "one\ntwo\nthree\nindented\nterm");
	EXPECT("a\n----\nb", "a\n\nb"); /* a rule separates paragraphs */
	EXPECT("__NOTOC__\nText __TOC__ here", "Text here");
}

Test(wikitext, entities)
{
	EXPECT("A &amp; B &lt;c&gt; &quot;d&quot;", "A & B <c> \"d\"");
	EXPECT("160&nbsp;°C", "160 °C");
	EXPECT("&#65;&#x42;&#x3b1;", "AB\xce\xb1");
	EXPECT("&bogus; & alone &#;", "&bogus; & alone &#;");
	EXPECT("1&ndash;2", "1\xe2\x80\x93" "2");
	EXPECT("&amp;lt;ref&amp;gt;", "&lt;ref&gt;");
}

Test(wikitext, whitespace)
{
	EXPECT("\n\n  a  b \n\n\n\n c \n\n", "a b\n\nc");
	EXPECT("word {{t}} .", "word.");
	EXPECT("AD ({{lang|la|Anno Domini}}) was", "AD was");
	EXPECT("", "");
	EXPECT("{{only template}}", "");
}

Test(wikitext, entities_named_full_set)
{
	/* Greek, both cases */
	EXPECT("&alpha;&beta;&gamma; &eta; &omega; &Omega;&Sigma;&sigmaf; &thetasym;",
	       "\xce\xb1\xce\xb2\xce\xb3 \xce\xb7 \xcf\x89 \xce\xa9\xce\xa3\xcf\x82 \xcf\x91");
	/* punctuation and spaces */
	EXPECT("a&mdash;b&ndash;c &hellip; &lsquo;q&rsquo; &sbquo;&bdquo; &dagger;&permil;",
	       "a\xe2\x80\x94" "b\xe2\x80\x93" "c \xe2\x80\xa6 \xe2\x80\x98q\xe2\x80\x99 "
	       "\xe2\x80\x9a\xe2\x80\x9e \xe2\x80\xa0\xe2\x80\xb0");
	EXPECT("5&nbsp;km&thinsp;x&emsp;y", "5 km x y");
	EXPECT("in&shy;visible&lrm;&rlm;&zwj;", "invisible");
	/* Latin-1 */
	EXPECT("Andr&eacute; &Uuml;ber &szlig; &ccedil; &AElig;&oslash; &iexcl;&iquest; &frac12; &sup2;",
	       "Andr\xc3\xa9 \xc3\x9c" "ber \xc3\x9f \xc3\xa7 \xc3\x86\xc3\xb8 \xc2\xa1\xc2\xbf \xc2\xbd \xc2\xb2");
	/* symbols, math, arrows */
	EXPECT("&le;&ge;&ne;&infin;&sum;&rarr;&hearts;&loz;",
	       "\xe2\x89\xa4\xe2\x89\xa5\xe2\x89\xa0\xe2\x88\x9e\xe2\x88\x91\xe2\x86\x92\xe2\x99\xa5\xe2\x97\x8a");
	EXPECT("&amp; &lt; &gt; &quot; &apos;", "& < > \" '");
	/* numeric, decimal and hex (either case), up to U+10FFFF */
	EXPECT("&#123;&#x7D; &#951; &#X3C9; &#x1F600;", "{} \xce\xb7 \xcf\x89 \xf0\x9f\x98\x80");
	EXPECT("&#x1F;", "\x1f");
	/* &#128;-&#159; as Windows-1252, as browsers show them */
	EXPECT("1&#150;2 &#147;q&#148;", "1\xe2\x80\x93" "2 \xe2\x80\x9cq\xe2\x80\x9d");
	/* names are case-sensitive and only the known set decodes */
	EXPECT("&ETA; &Eta; &notanentity; &#xZZ;", "&ETA; \xce\x97 &notanentity; &#xZZ;");
	/* after stripping, nothing that looks like a named reference remains */
	char *got = strip("&micro;&middot;&deg;&plusmn;&times;&divide;&para;&sect;&copy;&reg;&trade;&euro;");
	cr_expect_null(strchr(got, '&'), "%s", got);
	free(got);
}

Test(wikitext, file_captions_multiline_removed)
{
	EXPECT("Before\n[[File:Danube.jpg|thumb|upright=1.2|The Danube, spanning\nlines with [[Vienna]] and "
	       "[[Budapest|its capital]]]]\nAfter.",
	       "Before\n\nAfter."); /* the emptied line separates paragraphs, as for any removed line */
	/* a caption with a blank line in it still goes whole */
	EXPECT("A\n[[Image:Map.png|thumb|left|First part of [[a caption]].\n\nSecond part, [[with|links]].]]\nB",
	       "A\n\nB");
	/* an external link in a caption keeps its own ']' */
	EXPECT("A[[File:X.jpg|thumb|Photo by [http://example.org Someone]]]B", "AB");
	/* namespace in any case and with spaces; localised */
	EXPECT("A[[ image : x.svg |thumb| caption\nmore]]B[[Datei:y.png|mini|Bild\nText]]C", "ABC");
	/* an unclosed file link goes to the end of its line, the next line stays */
	EXPECT("[[File:Broken.jpg|thumb|never [[closed]] caption\nThe river is long.", "The river is long.");
	/* ordinary links still end at a blank line (the opener alone goes) */
	EXPECT("[[Foo\n\nbar]] baz", "Foo\n\nbar]] baz");
}

Test(wikitext, malformed_refs_leave_no_template_tails)
{
	/* a closed ref whose citation template lacks its braces */
	EXPECT("Fact.<ref>{{cite web|url=http://example.org/a|title=Site</ref> More.", "Fact. More.");
	/* self-closing refs without quotes, with a space before the slash */
	EXPECT("Fact<ref name=x/> more<ref name=y / > text.", "Fact more text.");
	/* an unclosed ref goes to the end of its paragraph ... */
	EXPECT("Fact<ref>{{cite web|url=http://example.org|title=Foo|date=2001\n\nNext paragraph.",
	       "Fact\n\nNext paragraph.");
	EXPECT("Fact<ref>{{cite book|title=Bar\n== History ==\nText.", "Fact\nHistory\nText.");
	/* ... or to the next ref, whose </ref> is not its own */
	EXPECT("A<ref>{{cite web|title=T|url=http://x.org B<ref>real</ref> C.", "A C.");
	/* a template left unclosed by a broken ref: its parameters go with it */
	EXPECT("Text {{cite news|url=http://x.org/n|title=News|work=Paper\nmore debris|x=y\n\nNext.",
	       "Text\n\nNext.");
	/* stray closers go */
	EXPECT("Text}} and more}}}.", "Text and more.");
	char *got = strip("X<ref>{{cite web |url=http://a.org/b |title=Tail |access-date=2020}}\n\nY"
			  "<ref>{{cite journal|title=Z|doi=1</ref>. W{{Citation|title=Q");
	cr_expect_null(strstr(got, "}}"), "%s", got);
	cr_expect_null(strstr(got, "title="), "%s", got);
	cr_expect_null(strstr(got, "url="), "%s", got);
	cr_expect_null(strstr(got, "http"), "%s", got);
	cr_expect_str_eq(got, "X\n\nY. W");
	free(got);
}

Test(wikitext, value_templates_keep_value_and_unit)
{
	EXPECT("the highest being {{convert|5|km|mi}} at, and", "the highest being 5 km at, and");
	EXPECT("{{convert|1234|ft|m|abbr=on}} high", "1234 ft high");
	EXPECT("{{Convert| 1,500 | km |sp=us}}", "1,500 km");
	EXPECT("{{cvt|12|kg}}", "12 kg");
	EXPECT("{{convert|5|-|10|km|mi}}, {{convert|2|to|3|m}}, {{convert|4|x|6|m}}",
	       "5\xe2\x80\x93" "10 km, 2 to 3 m, 4 \xc3\x97 6 m");
	EXPECT("{{convert|6|ft|2|in|m}} tall", "6 ft 2 in tall");
	EXPECT("{{convert|20|C|F}}, {{convert|3|km2|sqmi}}, {{convert|10|sqmi|km2}}",
	       "20 \xc2\xb0" "C, 3 km\xc2\xb2, 10 sq mi");
	EXPECT("{{val|1.23}} {{val|9.81|u=m/s2}} {{val|3.00|0.05|e=8|ul=m}} {{val|5|+0.2|-0.1}}",
	       "1.23 9.81 m/s2 3.00 \xc2\xb1 0.05\xc3\x97" "10^8 m 5 +0.2 -0.1");
	EXPECT("{{frac|1|2}} cup, {{frac|3|1|4}} mi, {{sfrac|4}}", "1/2 cup, 3 1/4 mi, 1/4");
	EXPECT("{{formatnum:1234567}} people", "1234567 people");
	EXPECT("on {{nowrap|1 January 2011}}, {{nowrap|1=a=b}}", "on 1 January 2011, a=b");
	EXPECT("{{convert|5|[[kilometre|km]]}}", "5 km");
	/* a value template inside another template goes with it; one with a nested template goes */
	EXPECT("A{{Infobox|length={{convert|2850|km}}}}B {{convert|{{#expr:2*3}}|km}} C", "AB C");
	EXPECT("{{convert}} {{val}}", "");
}

Test(wikitext, empty_pronunciation_parentheses_removed)
{
	EXPECT("'''Athens''' ({{IPAc-en|\xcb\x88|\xc3\xa6|\xce\xb8}}; {{lang-el|\xce\x91\xce\xb8\xce\xae\xce\xbd\xce\xb1}}) "
	       "is the capital.",
	       "Athens is the capital.");
	EXPECT("X ({{IPA-de|a}}, {{lang|de|b}}), a city", "X, a city");
	EXPECT("Y ({{lang-la|c}}<ref>note</ref>; {{IPA|d}}; ) is", "Y is");
	EXPECT("Z ( ) and ( - / ) end", "Z and end");
	/* separators left just inside a parenthesis go, the rest stays */
	EXPECT("W ({{IPAc-en|w}}; born 5 May 1900) was", "W (born 5 May 1900) was");
	EXPECT("V (born 1900; {{lang|fr|v}}) was", "V (born 1900) was");
	EXPECT("U (1900\xe2\x80\x93" "1980) and (?) and (a)", "U (1900\xe2\x80\x93" "1980) and (?) and (a)");
	char *got = strip("A ({{IPAc-en|x}}; {{lang-el|y}}) B ({{IPA|z}}) C ({{x}}, ; {{y}}).");
	cr_expect_null(strstr(got, "()"), "%s", got);
	cr_expect_null(strchr(got, '('), "%s", got);
	cr_expect_str_eq(got, "A B C.");
	free(got);
}

Test(wikitext, end_matter_sections_dropped)
{
	EXPECT("Intro.\n== History ==\nOld.\n== See also ==\n* [[Other]]\n== References ==\n{{Reflist}}\n"
	       "== External links ==\n* [http://x.org Site]\n== Further reading ==\n* Book\n"
	       "[[Category:Things]]\n{{stub}}",
	       "Intro.\nHistory\nOld.");
	/* any case and spacing; every name in the list */
	EXPECT("A\n==references==\nr\n==  NOTES  ==\nn\n== Sources ==\ns\n== Bibliography ==\nb\n"
	       "== Notes and references ==\nx\n== Footnotes ==\nf\n== Works cited ==\nw",
	       "A");
	/* only to the next heading of the same or a higher level */
	EXPECT("A\n== Life ==\nL\n=== See also ===\n* X\n==== Deeper ====\nd\n=== Later ===\nK\n== Legacy ==\nG",
	       "A\nLife\nL\nLater\nK\nLegacy\nG");
	EXPECT("A\n=== Notes ===\nn\n== Reception ==\nR", "A\nReception\nR");
	/* a heading that only mentions one of the names stays */
	EXPECT("A\n== References in popular culture ==\nP", "A\nReferences in popular culture\nP");
	/* bgwiki: "See also", "Sources" */
	EXPECT("Текст\n== Вижте също ==\n* x\n== Източници ==\ny", "Текст");
}

/* ---- disambiguation pages (the MediaWiki reader) ------------------------ */

struct kept {
	int n;
	char titles[16][64];
};

static int keep_title(const struct article *a, void *ctx)
{
	struct kept *k = ctx;
	if (k->n < 16)
		snprintf(k->titles[k->n], sizeof(k->titles[0]), "%s", a->title);
	k->n++;
	return 0;
}

#define PAGE(title, text)                                                                          \
	"<page><title>" title "</title><ns>0</ns><id>1</id><revision><text>" text "</text></revision>" \
	"</page>\n"
#define LIST "may refer to:\n* [[Alpha]], a thing\n* [[Beta]], another thing\n"

Test(wikitext, disambiguation_templates_recognised)
{
	const char *xml =
		"<mediawiki>\n"
		PAGE("Geo", "'''Geo''' " LIST "{{geodis}}")
		PAGE("Person", "'''Person''' " LIST "{{hndis|Person}}")
		PAGE("Generic", "'''Generic''' " LIST "{{ Disambiguation | geo | surname }}")
		PAGE("Ships", "'''Ships''' " LIST "{{shipindex}}")
		PAGE("Set", "'''Set''' " LIST "{{Set index article}}")
		PAGE("Set2", "'''Set2''' " LIST "{{SIA|mountain}}")
		PAGE("Smith", "'''Smith''' is a surname.\n" LIST "{{surname}}")
		PAGE("Anna", "'''Anna''' is a given name.\n" LIST "{{Given_name|type=both}}")
		PAGE("Springfield", "'''Springfield''' " LIST "{{Place name disambiguation}}")
		PAGE("Ring", "'''Ring''' " LIST "{{MathDab}}")
		PAGE("Old", "'''Old''' " LIST "{{DAB}}")
		PAGE("Older", "'''Older''' " LIST "{{Template:disambig-cleanup}}")
		PAGE("Article", "An ordinary article about a river that crosses two countries.{{disambiguation needed}}"
				" It mentions a surname and a {{given name needed}} tag, and the {{Surnames}} box.")
		"</mediawiki>\n";
	char *dir = test_tmpdir("wikitext");
	char path[4096];
	snprintf(path, sizeof(path), "%s/dab.xml", dir);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(xml, f);
	fclose(f);
	struct kept k = { 0 };
	struct wiki_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(wiki_read(path, NULL, keep_title, &k, &st, &e), 0, "%s", e.msg);
	cr_expect_eq(st.pages, 13);
	cr_expect_eq(st.disambig, 12);
	cr_expect_eq(k.n, 1);
	cr_expect_str_eq(k.titles[0], "Article");
	test_rmtree(dir);
	free(dir);
}

Test(wikitext, utf8_preserved) { EXPECT("'''Григорианският календар''' е", "Григорианският календар е"); }

struct collect {
	int n;
	int leaks;
	char titles[8][128];
	size_t chars;
	int brahui_km; /* the {{convert}} in "Brahui language" kept its value */
};

/* A named or numeric character reference left in s (&name; &#…;), or NULL. */
static const char *find_entity(const char *s)
{
	for (const char *a = strchr(s, '&'); a; a = strchr(a + 1, '&')) {
		const char *q = a + 1;
		if (*q == '#')
			q++;
		const char *n0 = q;
		while (isalnum((unsigned char)*q))
			q++;
		if (q > n0 && *q == ';')
			return a;
	}
	return NULL;
}

/* A line that is only an end-matter heading ("References", "See also", …), or NULL. */
static const char *find_end_heading(const char *s)
{
	static const char *const names[] = { "References", "Notes", "See also", "External links", "Further reading",
					     "Sources", "Bibliography", "Notes and references", "Вижте също",
					     "Външни препратки", "Източници", NULL };
	for (const char *l = s; l;) {
		size_t n = strcspn(l, "\n");
		for (int i = 0; names[i]; i++)
			if (strlen(names[i]) == n && strncmp(l, names[i], n) == 0)
				return names[i];
		l = l[n] ? l + n + 1 : NULL;
	}
	return NULL;
}

/* How many classes of markup are left in one article's text (each logged). */
static int markup_leaks(const char *title, const char *text)
{
	static const char *const bad[] = { "{{", "}}", "[[", "]]", "{|", "|}", "|", "<ref", "&lt;", "class=",
					   "style=", "title=", "url=", "http", "thumb", "'''", "[[Category:",
					   "()", "(;", "(,", "; )", ", )", NULL };
	int leaks = 0;
	for (int i = 0; bad[i]; i++)
		if (strstr(text, bad[i])) {
			cr_log_warn("'%s' in %s", bad[i], title);
			leaks++;
		}
	const char *x = find_entity(text);
	if (x) {
		cr_log_warn("character reference '%.12s' in %s", x, title);
		leaks++;
	}
	if ((x = find_end_heading(text)) != NULL) {
		cr_log_warn("end-matter section '%s' in %s", x, title);
		leaks++;
	}
	return leaks;
}

static int on_article(const struct article *a, void *ctx)
{
	struct collect *c = ctx;
	if (c->n < 8)
		snprintf(c->titles[c->n], sizeof(c->titles[0]), "%s", a->title);
	c->n++;
	c->chars += strlen(a->text);
	c->leaks += markup_leaks(a->title, a->text);
	if (!strcmp(a->title, "Brahui language") && strstr(a->text, "by a distance of more than 1500 km."))
		c->brahui_km = 1;
	return 0;
}

/* Read a dump in ../shared/fixtures through the MediaWiki reader into c; skips when absent. */
static void read_fixture(const char *rel, struct collect *c)
{
	const char *p = test_shared_path(rel);
	if (!p)
		cr_skip_test("../shared/fixtures absent");
	struct wiki_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(wiki_read(p, NULL, on_article, c, &st, &e), 0, "%s", e.msg);
}

Test(wikitext, enwiki_table_markup_fixture)
{
	struct collect c = { 0 };
	read_fixture("fixtures/wiki/enwiki-table-markup.xml.bz2", &c);
	cr_expect_eq(c.n, 5);
	cr_expect_str_eq(c.titles[0], "Constructive vote of no confidence");
	cr_expect_str_eq(c.titles[1], "List of Prison Break characters");
	cr_expect_str_eq(c.titles[4], "Brahui language");
	cr_expect_eq(c.leaks, 0, "markup leaked into plain text");
	cr_expect(c.brahui_km, "{{convert|1500|km}} lost its value");
	cr_expect_gt(c.chars, 50000u);
}

Test(wikitext, bgwiki_fixture)
{
	struct collect c = { 0 };
	read_fixture("fixtures/wiki/bgwiki-shortened.xml.bz2", &c);
	cr_expect_eq(c.n, 1);
	cr_expect_eq(c.leaks, 0, "markup leaked into plain text");
	cr_expect_gt(c.chars, 5000u);
}

Test(wikitext, hostile_input_stays_fast_and_sane)
{
	/* 200k unbalanced openers: must not go quadratic (and must not crash). */
	size_t n = 200000 * 3;
	char *in = malloc(n + 1);
	for (size_t i = 0; i < n; i += 3)
		memcpy(in + i, i % 2 ? "{{a" : "[[b", 3);
	in[n] = '\0';
	struct buf out;
	struct err e = ERR_INIT;
	buf_init(&out, 0);
	cr_assert_eq(wikitext_to_plain(in, n, &out, &e), 0);
	cr_expect_eq(out.len, 0u + (size_t)n / 3 * 1, "openers dropped, letters kept: %zu", out.len);
	buf_release(&out);
	free(in);
}

/* n copies of unit, stripped; returns the output length. */
static size_t strip_repeated(const char *unit, size_t reps)
{
	size_t ul = strlen(unit), n = ul * reps;
	char *in = malloc(n + 1);
	for (size_t i = 0; i < reps; i++)
		memcpy(in + i * ul, unit, ul);
	in[n] = '\0';
	struct buf out;
	struct err e = ERR_INIT;
	buf_init(&out, 0);
	cr_assert_eq(wikitext_to_plain(in, n, &out, &e), 0);
	size_t len = out.len;
	buf_release(&out);
	free(in);
	return len;
}

/* Unclosed refs, file links and external links in labels, stray closers: one line, no end. */
Test(wikitext, hostile_unclosed_markup_stays_linear, .timeout = 20)
{
	cr_expect_eq(strip_repeated("<ref>{{a|b ", 200000), 0u);
	cr_expect_eq(strip_repeated("[[a|[http://x y ", 200000), 200000u * 6 - 1);
	cr_expect_eq(strip_repeated("[[File:x|", 200000), 0u);
	cr_expect_eq(strip_repeated("}}x ", 200000), 200000u * 2 - 1);
	cr_expect_eq(strip_repeated("{{a|b ", 200000), 0u);
	cr_expect_gt(strip_repeated("(((((;;;;)", 200000), 0u);
}
