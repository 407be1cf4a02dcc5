/*
 * bench-corpus — drive the MediaWiki reader over a dump and report speed.
 *
 * Used by tools/bench/corpus.sh (MB/s and peak RSS on a ~600 MB dump) and
 * handy by hand to see what the corpus step would keep:
 *
 *   build/tools/bench-corpus DUMP [--limit N] [--min-chars N] [--dump] [--embed]
 *
 * --dump prints every kept article (id, title, plain text); --embed also
 * runs the hashing embedder on article_embed_input() to time both together.
 * Prints one "key=value" summary line on stdout.
 */
#include "engrave/article.h"
#include "engrave/buf.h"
#include "engrave/embed_hash.h"
#include "engrave/err.h"
#include "engrave/wiki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
	int dump;
	int embed;
	uint64_t text_bytes;
	struct buf in;
	float vec[EMBED_HASH_DEFAULT_DIM];
};

static long peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			v = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static int on_article(const struct article *a, void *vctx)
{
	struct ctx *c = vctx;
	c->text_bytes += strlen(a->text);
	if (c->dump)
		printf("=== %llu %s\n%s\n", (unsigned long long)a->id, a->title, a->text);
	if (c->embed) {
		buf_reset(&c->in);
		if (article_embed_input(a, ARTICLE_LEAD_CHARS, &c->in) < 0)
			return -1;
		embed_hash_text(c->in.data, c->in.len, EMBED_HASH_DEFAULT_DIM, c->vec);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct wiki_opts o = { 0 };
	struct ctx c = { 0 };
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--limit") && i + 1 < argc)
			o.limit = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--min-chars") && i + 1 < argc)
			o.min_chars = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--dump"))
			c.dump = 1;
		else if (!strcmp(argv[i], "--embed"))
			c.embed = 1;
		else if (!strcmp(argv[i], "--progress"))
			o.progress = 1;
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else {
			fprintf(stderr, "usage: bench-corpus DUMP [--limit N] [--min-chars N] [--dump] [--embed] [--progress]\n");
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "usage: bench-corpus DUMP [--limit N] [--min-chars N] [--dump] [--embed] [--progress]\n");
		return 2;
	}
	buf_init(&c.in, 0);
	struct wiki_stats st;
	struct err e = ERR_INIT;
	if (wiki_read(path, &o, on_article, &c, &st, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		if (e.hint[0])
			fprintf(stderr, "hint: %s\n", e.hint);
		buf_release(&c.in);
		return err_exit_code(e.cls);
	}
	double secs = (double)st.elapsed_ns / 1e9;
	printf("pages=%llu kept=%llu redirects=%llu disambig=%llu other_ns=%llu too_short=%llu "
	       "bytes_in=%llu bytes_xml=%llu text_bytes=%llu seconds=%.3f in_mb_s=%.1f xml_mb_s=%.1f "
	       "articles_s=%.0f peak_rss_kib=%ld\n",
	       (unsigned long long)st.pages, (unsigned long long)st.kept, (unsigned long long)st.redirects,
	       (unsigned long long)st.disambig, (unsigned long long)st.other_ns,
	       (unsigned long long)st.too_short, (unsigned long long)st.bytes_in,
	       (unsigned long long)st.bytes_xml, (unsigned long long)c.text_bytes, secs,
	       secs > 0 ? st.bytes_in / 1e6 / secs : 0, secs > 0 ? st.bytes_xml / 1e6 / secs : 0,
	       secs > 0 ? st.kept / secs : 0, peak_rss_kib());
	buf_release(&c.in);
	return 0;
}
