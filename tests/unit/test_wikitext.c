/*
 * test_wikitext.c — wikitext -> plain text, case by case, and over the
 * markup-heavy enwiki fixture (tables, templates, refs) read through the
 * MediaWiki reader.
 */
#include <criterion/criterion.h>
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

Test(wikitext, utf8_preserved) { EXPECT("'''Григорианският календар''' е", "Григорианският календар е"); }

struct collect {
	int n;
	int leaks;
	char titles[8][128];
	size_t chars;
};

static int on_article(const struct article *a, void *ctx)
{
	struct collect *c = ctx;
	if (c->n < 8)
		snprintf(c->titles[c->n], sizeof(c->titles[0]), "%s", a->title);
	c->n++;
	c->chars += strlen(a->text);
	static const char *const bad[] = { "{{", "}}", "[[", "]]", "{|", "|}", "<ref", "&lt;", "class=",
					   "style=", "'''", "[[Category:", NULL };
	for (int i = 0; bad[i]; i++)
		if (strstr(a->text, bad[i])) {
			cr_log_warn("'%s' in %s", bad[i], a->title);
			c->leaks++;
		}
	return 0;
}

Test(wikitext, enwiki_table_markup_fixture)
{
	const char *p = test_shared_path("fixtures/wiki/enwiki-table-markup.xml.bz2");
	if (!p)
		cr_skip_test("../shared/fixtures absent");
	struct collect c = { 0 };
	struct wiki_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(wiki_read(p, NULL, on_article, &c, &st, &e), 0, "%s", e.msg);
	cr_expect_eq(c.n, 5);
	cr_expect_str_eq(c.titles[0], "Constructive vote of no confidence");
	cr_expect_str_eq(c.titles[1], "List of Prison Break characters");
	cr_expect_str_eq(c.titles[4], "Brahui language");
	cr_expect_eq(c.leaks, 0, "markup leaked into plain text");
	cr_expect_gt(c.chars, 50000u);
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
