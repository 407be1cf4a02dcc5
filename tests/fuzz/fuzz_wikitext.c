/*
 * fuzz_wikitext.c — libFuzzer harness: MediaWiki markup to plain text.
 *
 * The input is the text of one page (what the MediaWiki reader hands to
 * wikitext_strip), stripped with one reused scratch space as the reader
 * does; the result must be NUL-terminated at its length (wikitext.h).
 */
#include "fuzzlib.h"

#include "engrave/buf.h"
#include "engrave/err.h"
#include "data/wikitext.h"

#include <stdlib.h>
#include <string.h>

static struct wikitext wt;
static int wt_ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_init();
	struct err e = ERR_INIT;
	if (!wt_ready && wikitext_init(&wt, &e) == 0)
		wt_ready = 1;
	struct buf out;
	buf_init(&out, 0);
	if (wikitext_strip(&wt, (const char *)data, n, &out, &e) == 0) {
		if (out.data[out.len] != '\0')
			abort();
	}
	buf_release(&out);
	return 0;
}
