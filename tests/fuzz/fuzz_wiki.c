/*
 * fuzz_wiki.c — libFuzzer harness: the MediaWiki XML reader.
 *
 * The input is a dump file (plain XML; gzip/bzip2 are detected by their
 * magic bytes, so the fuzzer reaches the decompressors too) read by
 * wiki_read with min_chars 1 and a small max_page_bytes, so the page
 * filters, the oversize path and wikitext all run. The callback reads every
 * string of each article it is handed (ASan checks they are valid) and
 * cuts its embedding input as the corpus step does.
 */
#include "fuzzlib.h"

#include "engrave/article.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/wiki.h"

#include <string.h>

static int on_article(const struct article *a, void *ctx)
{
	size_t *total = ctx;
	*total += strlen(a->title) + strlen(a->text);
	struct buf b;
	buf_init(&b, 0);
	article_embed_input(a, 100, &b); /* the lead cut, on UTF-8 boundaries */
	buf_release(&b);
	return *total > (1u << 20); /* stop early on huge inputs, as limit does */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *path = fuzz_file("dump.xml", data, n);
	struct wiki_opts o = { .limit = 0, .min_chars = 1, .progress = 0, .max_page_bytes = 4096 };
	struct wiki_stats st;
	struct err e = ERR_INIT;
	size_t total = 0;
	wiki_read(path, &o, on_article, &total, &st, &e);
	return 0;
}
