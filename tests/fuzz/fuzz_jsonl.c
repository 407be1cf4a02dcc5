/*
 * fuzz_jsonl.c — libFuzzer harness: the JSON Lines reader (jsonl.c).
 *
 * The input is a whole .jsonl file, read record by record as the corpus
 * step reads it; every field of each record is touched (ASan checks the
 * pointers) and, when a record carries an embedding, its width must be
 * the reader's width.
 */
#include "fuzzlib.h"

#include "engrave/err.h"
#include "engrave/jsonl.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *path = fuzz_file("records.jsonl", data, n);
	struct jsonl_reader *r = NULL;
	struct err e = ERR_INIT;
	if (jsonl_reader_open(&r, path, 0, &e))
		return 0;
	struct jsonl_record rec;
	volatile size_t sink = 0;
	while (jsonl_reader_next(r, &rec, &e) == 1) {
		if (rec.title)
			sink += strlen(rec.title);
		if (rec.text)
			sink += strlen(rec.text);
		if (rec.embedding) {
			if (rec.dim != jsonl_reader_dim(r))
				abort();
			for (uint32_t i = 0; i < rec.dim; i++)
				sink += rec.embedding[i] > 0;
		}
	}
	(void)sink;
	jsonl_reader_close(r);
	return 0;
}
