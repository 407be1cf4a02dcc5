/*
 * test_wiki.c — the MediaWiki reader and what it stands on: instream
 * (plain/gzip/bzip2, truncated and corrupt input) and the article record
 * format. Uses the shipped sample dump and, when present, the two dumps in
 * ../shared/fixtures/wiki.
 */
#include <criterion/criterion.h>
#include <bzlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "engrave/article.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "data/instream.h"
#include "engrave/wiki.h"
#include "../lib/testutil.h"

/* ---- helpers ------------------------------------------------------------ */

struct seen {
	int n;
	char titles[64][96];
	uint64_t ids[64];
	size_t min_len;
	int stop_after;
};

static int collect(const struct article *a, void *ctx)
{
	struct seen *s = ctx;
	if (s->n < 64) {
		snprintf(s->titles[s->n], sizeof(s->titles[0]), "%s", a->title);
		s->ids[s->n] = a->id;
	}
	size_t l = strlen(a->text);
	if (!s->n || l < s->min_len)
		s->min_len = l;
	s->n++;
	return s->stop_after && s->n >= s->stop_after ? 1 : 0;
}

static int has_title(const struct seen *s, const char *t)
{
	for (int i = 0; i < s->n && i < 64; i++)
		if (!strcmp(s->titles[i], t))
			return 1;
	return 0;
}

static char *tmpfile_with(const char *dir, const char *name, const void *data, size_t len)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	sprintf(p, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	cr_assert(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return p;
}

static char *slurp_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert(f, "%s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *d = malloc((size_t)n + 1);
	cr_assert_eq(fread(d, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return d;
}

/* Read a whole instream into a buf; returns instream_read's last status. */
static int read_all(const char *path, struct buf *out, struct err *e)
{
	struct instream *s;
	if (instream_open(&s, path, e) < 0)
		return -1;
	char tmp[3000];
	ssize_t n;
	while ((n = instream_read(s, tmp, sizeof(tmp), e)) > 0)
		buf_append(out, tmp, (size_t)n, NULL);
	instream_close(s);
	return n < 0 ? -1 : 0;
}

static size_t gzip_bytes(const void *in, size_t len, unsigned char *out, size_t cap)
{
	z_stream z = { 0 };
	cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t n = cap - z.avail_out;
	deflateEnd(&z);
	return n;
}

static const char *sample_path(void)
{
	static char p[4096];
	snprintf(p, sizeof(p), "%s/experiments/data/sample-wiki.xml", test_root());
	return p;
}

/* ---- the shipped sample dump -------------------------------------------- */

Test(wiki, sample_dump_counts)
{
	struct seen s = { 0 };
	struct wiki_stats st;
	struct wiki_opts o = { .min_chars = 50 };
	struct err e = ERR_INIT;
	cr_assert_eq(wiki_read(sample_path(), &o, collect, &s, &st, &e), 0, "%s", e.msg);
	cr_expect_eq(st.pages, 47);
	cr_expect_eq(st.kept, 42);
	cr_expect_eq(s.n, 42);
	cr_expect_eq(st.redirects, 2);
	cr_expect_eq(st.disambig, 1);
	cr_expect_eq(st.other_ns, 1);
	cr_expect_eq(st.too_short, 1);
	cr_expect_str_eq(s.titles[0], "Jupiter");
	cr_expect_eq(s.ids[0], 1001);
	cr_expect(has_title(&s, "C (programming language)"));
	cr_expect(has_title(&s, "Béchamel sauce"));
	cr_expect(has_title(&s, "Common raven"));
	cr_expect(!has_title(&s, "Jupiter (planet)"), "redirect kept");
	cr_expect(!has_title(&s, "Python language"), "#redirect text kept");
	cr_expect(!has_title(&s, "Mercury (disambiguation)"));
	cr_expect(!has_title(&s, "Talk:Danube"));
	cr_expect(!has_title(&s, "Kazoo"), "stub under min_chars kept");
	cr_expect_geq(s.min_len, 300u, "every sample article has >= 300 chars of text");
	cr_expect_eq(st.bytes_in, st.bytes_xml, "plain file: bytes in == xml bytes");
}

Test(wiki, limit_counts_kept_articles)
{
	struct seen s = { 0 };
	struct wiki_stats st;
	struct wiki_opts o = { .limit = 10, .min_chars = 50 };
	cr_assert_eq(wiki_read(sample_path(), &o, collect, &s, &st, NULL), 0);
	cr_expect_eq(s.n, 10);
	cr_expect_eq(st.kept, 10);
	cr_expect_gt(st.pages, 10, "skipped pages are not counted by limit");
}

static int abort_cb(const struct article *a, void *ctx)
{
	(void)a;
	(void)ctx;
	return -1;
}

Test(wiki, callback_can_stop_or_abort)
{
	struct seen s = { .stop_after = 3 };
	struct wiki_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(wiki_read(sample_path(), NULL, collect, &s, &st, &e), 0);
	cr_expect_eq(s.n, 3);
	cr_expect_eq(wiki_read(sample_path(), NULL, abort_cb, NULL, NULL, &e), -1);
	cr_expect_eq(e.cls, ERR_INTERRUPTED);
}

/* ---- fixtures -------------------------------------------------------------- */

Test(wiki, bgwiki_utf16_bz2)
{
	const char *p = test_shared_path("fixtures/wiki/bgwiki-shortened.xml.bz2");
	if (!p)
		cr_skip_test("../shared/fixtures absent");
	struct seen s = { 0 };
	struct wiki_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(wiki_read(p, NULL, collect, &s, &st, &e), 0, "%s", e.msg);
	cr_expect_eq(st.pages, 3);
	cr_expect_eq(st.kept, 1);
	cr_expect_eq(st.other_ns, 2);
	cr_expect_eq(st.redirects, 0);
	cr_expect_str_eq(s.titles[0], "Григориански календар");
	cr_expect_eq(s.ids[0], 558);
	cr_expect_gt(st.bytes_xml, st.bytes_in, "bz2 is decompressed");
}

Test(wiki, enwiki_bz2_titles)
{
	const char *p = test_shared_path("fixtures/wiki/enwiki-table-markup.xml.bz2");
	if (!p)
		cr_skip_test("../shared/fixtures absent");
	struct seen s = { 0 };
	struct wiki_stats st;
	struct wiki_opts o = { .min_chars = 50 };
	cr_assert_eq(wiki_read(p, &o, collect, &s, &st, NULL), 0);
	cr_expect_eq(st.pages, 5);
	cr_expect_eq(st.kept, 5);
	cr_expect_str_eq(s.titles[0], "Constructive vote of no confidence");
	cr_expect_eq(s.ids[0], 217916);
	cr_expect_str_eq(s.titles[2], "Academy Award for Best Production Design");
	cr_expect_str_eq(s.titles[3], "Economy of Estonia");
	cr_expect_eq(st.bytes_xml, 251853);
}

Test(wiki, truncated_bz2_is_a_clear_error)
{
	const char *p = test_shared_path("fixtures/wiki/enwiki-table-markup.xml.bz2");
	if (!p)
		cr_skip_test("../shared/fixtures absent");
	size_t n;
	char *d = slurp_all(p, &n);
	char *dir = test_tmpdir("wiki");
	char *cut = tmpfile_with(dir, "cut.xml.bz2", d, n / 2);
	struct err e = ERR_INIT;
	cr_expect_eq(wiki_read(cut, NULL, NULL, NULL, NULL, &e), -1);
	cr_expect_eq(e.cls, ERR_INPUT);
	cr_expect(strstr(e.msg, "cut.xml.bz2: truncated bzip2 stream at byte"), "%s", e.msg);
	/* corrupt: flip bytes in the middle */
	for (size_t i = n / 3; i < n / 3 + 64; i++)
		d[i] ^= 0x5a;
	char *bad = tmpfile_with(dir, "bad.xml.bz2", d, n);
	err_clear(&e);
	/* bzip2 emits a block before checking its CRC: the XML parser may see garbage first */
	cr_expect_eq(wiki_read(bad, NULL, NULL, NULL, NULL, &e), -1);
	cr_expect_eq(e.cls, ERR_INPUT);
	struct buf out;
	buf_init(&out, 0);
	err_clear(&e);
	cr_expect_eq(read_all(bad, &out, &e), -1);
	cr_expect_eq(e.cls, ERR_INPUT);
	cr_expect(strstr(e.msg, "bad.xml.bz2: corrupt bzip2 data at byte"), "%s", e.msg);
	buf_release(&out);
	test_rmtree(dir);
	free(dir);
	free(cut);
	free(bad);
	free(d);
}

/* ---- hand-made dumps --------------------------------------------------------- */

#define PAGE(title, ns, id, extra, text)                                                   \
	"<page><title>" title "</title><ns>" #ns "</ns><id>" #id "</id>" extra                \
	"<revision><id>9" #id "</id><contributor><id>77</id></contributor><text>" text        \
	"</text></revision></page>\n"

Test(wiki, rules_namespaces_redirects_disambiguation)
{
	const char *xml =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<mw:mediawiki xmlns:mw=\"http://www.mediawiki.org/xml/export-0.9/\">\n"
		"<mw:page><mw:title>Prefixed</mw:title><mw:ns>0</mw:ns><mw:id>5</mw:id><mw:revision>"
		"<mw:id>77</mw:id><mw:text>Namespaced elements still count.</mw:text></mw:revision></mw:page>\n"
		"</mw:mediawiki>\n";
	char *dir = test_tmpdir("wiki");
	char *p = tmpfile_with(dir, "ns.xml", xml, strlen(xml));
	struct seen s = { 0 };
	struct wiki_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(wiki_read(p, NULL, collect, &s, &st, &e), 0, "%s", e.msg);
	cr_expect_eq(st.kept, 1);
	cr_expect_eq(s.ids[0], 5, "the page id, not the revision or contributor id");

	const char *xml2 =
		"<mediawiki xmlns=\"http://www.mediawiki.org/xml/export-0.11/\">\n"
		PAGE("Kept", 0, 1, "", "A normal article about rivers and their deltas.")
		PAGE("Redir elem", 0, 2, "<redirect title=\"Kept\"/>", "#REDIRECT [[Kept]]")
		PAGE("Redir text", 0, 3, "", "  #Redirect [[Kept]]")
		PAGE("Thing (disambiguation)", 0, 4, "", "Thing may mean many things.")
		PAGE("Thing", 0, 5, "", "Thing may be:\n* a\n{{Disambig|geo}}")
		PAGE("Talk:Kept", 1, 6, "", "Discussion.")
		PAGE("Template:X", 10, 7, "", "{{{1}}}")
		PAGE("Short", 0, 8, "", "Тридесет кирилски знака тук!!")
		PAGE("Long enough", 0, 9, "", "Четиридесет и два кирилски знака са тук!!!")
		"</mediawiki>\n";
	char *p2 = tmpfile_with(dir, "rules.xml", xml2, strlen(xml2));
	memset(&s, 0, sizeof(s));
	struct wiki_opts o = { .min_chars = 35 };
	cr_assert_eq(wiki_read(p2, &o, collect, &s, &st, &e), 0, "%s", e.msg);
	cr_expect_eq(st.pages, 9);
	cr_expect_eq(st.redirects, 2);
	cr_expect_eq(st.disambig, 2);
	cr_expect_eq(st.other_ns, 2);
	/* "Short" is 29 characters but 53 bytes: min_chars counts characters. */
	cr_expect_eq(st.too_short, 1);
	cr_expect_eq(st.kept, 2);
	cr_expect_str_eq(s.titles[0], "Kept");
	cr_expect_str_eq(s.titles[1], "Long enough");
	test_rmtree(dir);
	free(dir);
	free(p);
	free(p2);
}

Test(wiki, malformed_xml_reports_line_and_column)
{
	const char *xml = "<mediawiki>\n<page><title>T</title>\n<ns>0</ns></pag>\n</mediawiki>\n";
	char *dir = test_tmpdir("wiki");
	char *p = tmpfile_with(dir, "bad.xml", xml, strlen(xml));
	struct err e = ERR_INIT;
	cr_expect_eq(wiki_read(p, NULL, NULL, NULL, NULL, &e), -1);
	cr_expect_eq(e.cls, ERR_INPUT);
	cr_expect(strstr(e.msg, "bad.xml:3:"), "%s", e.msg);
	cr_expect(strstr(e.msg, "malformed XML"), "%s", e.msg);

	const char *other = "<html><body>hi</body></html>";
	char *p2 = tmpfile_with(dir, "page.html", other, strlen(other));
	err_clear(&e);
	cr_expect_eq(wiki_read(p2, NULL, NULL, NULL, NULL, &e), -1);
	cr_expect_eq(e.cls, ERR_INPUT);
	cr_expect(strstr(e.msg, "not a MediaWiki export"), "%s", e.msg);

	err_clear(&e);
	cr_expect_eq(wiki_read("/nonexistent/dump.xml.bz2", NULL, NULL, NULL, NULL, &e), -1);
	cr_expect_eq(e.cls, ERR_MISSING);
	test_rmtree(dir);
	free(dir);
	free(p);
	free(p2);
}

Test(wiki, memory_stays_bounded_on_a_large_dump)
{
	/* ~24 MB of pages; the reader must not keep them. */
	char *dir = test_tmpdir("wiki");
	char path[4096];
	snprintf(path, sizeof(path), "%s/big.xml", dir);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs("<mediawiki>\n", f);
	char body[4000];
	memset(body, 'x', sizeof(body));
	for (int i = 0; i < (int)sizeof(body); i += 8)
		body[i] = ' ';
	body[sizeof(body) - 1] = '\0';
	for (int i = 0; i < 6000; i++)
		fprintf(f, "<page><title>P%d</title><ns>0</ns><id>%d</id><revision><text>%s</text></revision></page>\n",
			i, i + 1, body);
	fputs("</mediawiki>\n", f);
	fclose(f);
	long before = test_peak_rss_kib();
	struct wiki_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(wiki_read(path, NULL, NULL, NULL, &st, &e), 0, "%s", e.msg);
	cr_expect_eq(st.kept, 6000);
	cr_expect_gt(st.bytes_xml, 24000000u);
	long after = test_peak_rss_kib();
	cr_expect_lt(after - before, 16 * 1024, "peak RSS grew by %ld KiB", after - before);
	test_rmtree(dir);
	free(dir);
}

/* ---- instream ------------------------------------------------------------------ */

Test(instream, plain_gzip_multimember_and_truncated)
{
	char *dir = test_tmpdir("instream");
	const char *text = "hello, stream\n";
	char big[100000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + (i * 7919) % 26);
	unsigned char gz[300000];
	size_t n1 = gzip_bytes(big, sizeof(big), gz, sizeof(gz));
	size_t n2 = gzip_bytes(text, strlen(text), gz + n1, sizeof(gz) - n1);
	char *p = tmpfile_with(dir, "two.gz", gz, n1 + n2);
	struct buf out;
	buf_init(&out, 0);
	struct err e = ERR_INIT;
	cr_assert_eq(read_all(p, &out, &e), 0, "%s", e.msg);
	cr_expect_eq(out.len, sizeof(big) + strlen(text));
	cr_expect_eq(memcmp(out.data, big, sizeof(big)), 0);
	cr_expect_str_eq(out.data + sizeof(big), text);

	struct instream *s;
	cr_assert_eq(instream_open(&s, p, &e), 0);
	cr_expect_eq(instream_kind(s), INSTREAM_GZIP);
	cr_expect_eq(instream_file_size(s), n1 + n2);
	instream_close(s);

	char *cut = tmpfile_with(dir, "cut.gz", gz, n1 / 2);
	buf_reset(&out);
	cr_expect_eq(read_all(cut, &out, &e), -1);
	cr_expect_eq(e.cls, ERR_INPUT);
	cr_expect(strstr(e.msg, "cut.gz: truncated gzip stream at byte"), "%s", e.msg);

	char *plain = tmpfile_with(dir, "p.txt", "ab", 2);
	buf_reset(&out);
	cr_assert_eq(read_all(plain, &out, &e), 0);
	cr_expect_str_eq(out.data, "ab");

	char *empty = tmpfile_with(dir, "e.txt", "", 0);
	buf_reset(&out);
	cr_assert_eq(read_all(empty, &out, &e), 0);
	cr_expect_eq(out.len, 0);
	buf_release(&out);
	test_rmtree(dir);
	free(dir);
	free(p);
	free(cut);
	free(plain);
	free(empty);
}

Test(instream, concatenated_bzip2_streams)
{
	char *dir = test_tmpdir("instream");
	const char *a = "first stream;", *b = "second stream";
	char bz[4096];
	unsigned n1 = sizeof(bz), n2;
	cr_assert_eq(BZ2_bzBuffToBuffCompress(bz, &n1, (char *)a, (unsigned)strlen(a), 9, 0, 0), BZ_OK);
	n2 = sizeof(bz) - n1;
	cr_assert_eq(BZ2_bzBuffToBuffCompress(bz + n1, &n2, (char *)b, (unsigned)strlen(b), 9, 0, 0), BZ_OK);
	char *p = tmpfile_with(dir, "multi.bz2", bz, n1 + n2);
	struct buf out;
	buf_init(&out, 0);
	struct err e = ERR_INIT;
	cr_assert_eq(read_all(p, &out, &e), 0, "%s", e.msg);
	cr_expect_str_eq(out.data, "first stream;second stream");

	memcpy(bz + n1 + n2, "JUNK", 4);
	char *junk = tmpfile_with(dir, "junk.bz2", bz, n1 + n2 + 4);
	buf_reset(&out);
	cr_expect_eq(read_all(junk, &out, &e), -1);
	cr_expect(strstr(e.msg, "trailing garbage"), "%s", e.msg);
	buf_release(&out);
	test_rmtree(dir);
	free(dir);
	free(p);
	free(junk);
}

/* ---- article records ------------------------------------------------------------ */

Test(article, encode_decode_round_trip)
{
	struct article in[3] = {
		{ 1, "One", "first text" },
		{ UINT64_MAX, "Ünïcode", "Текст" },
		{ 42, "", "" },
	};
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(article_encode(&b, &in[i]), 0);
	cr_expect_eq(b.len, 3 * 16 + strlen("One") + strlen("first text") + strlen("Ünïcode") + strlen("Текст"));
	/* layout: u64 id LE, u32 title len, title, u32 text len, text */
	cr_expect_eq((unsigned char)b.data[0], 1);
	cr_expect_eq((unsigned char)b.data[8], 3);
	cr_expect_eq(memcmp(b.data + 12, "One", 3), 0);
	const uint8_t *p = (const uint8_t *)b.data;
	size_t left = b.len, used;
	struct article_view v;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(article_decode_next(p, left, &used, &v), 1);
		cr_expect_eq(v.id, in[i].id);
		cr_expect_eq(v.title_len, strlen(in[i].title));
		cr_expect_eq(memcmp(v.title, in[i].title, v.title_len), 0);
		cr_expect_eq(memcmp(v.text, in[i].text, v.text_len), 0);
		p += used;
		left -= used;
	}
	cr_expect_eq(article_decode_next(p, left, &used, &v), 0);
	cr_expect_eq(article_decode_next((const uint8_t *)b.data, 20, &used, &v), -1, "cut record");
	buf_release(&b);
}

Test(article, embed_input_cuts_on_characters)
{
	struct article a = { 7, "Title", "Гладко море" };
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(article_embed_input(&a, 3, &b), 0);
	cr_expect_str_eq(b.data, "Title\n\nГла");
	buf_reset(&b);
	cr_assert_eq(article_embed_input(&a, 0, &b), 0);
	cr_expect_str_eq(b.data, "Title\n\nГладко море");
	buf_reset(&b);
	cr_assert_eq(article_embed_input(&a, 500, &b), 0);
	cr_expect_str_eq(b.data, "Title\n\nГладко море");
	cr_expect_eq(article_utf8_count("Гла", strlen("Гла")), 3);
	buf_release(&b);
}
