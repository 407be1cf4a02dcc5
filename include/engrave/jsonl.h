/*
 * jsonl.h — JSON Lines records in and out.
 *
 * Reader: one JSON object per line (blank lines skipped; .gz/.bz2 read
 * through instream.h), fields
 *     "id"        non-negative integer, or a string of digits (optional)
 *     "title"     string (optional)
 *     "text"      string (optional; "content", the original tool's name, is
 *                 accepted too)
 *     "embedding" array of numbers (optional; every line that has one must
 *                 have the same length)
 *     "confidence" number (optional)
 * Errors are ERR_INPUT "FILE:LINE: ..." ("data.jsonl:17: 'embedding' must
 * be an array of numbers (item 3 is a string)").
 *
 * Writer: the original tool's record shape, keys in this order:
 *     {"content":"...","embedding":[...],"confidence":0.7,"id":123}
 * floats printed "%.9g" (round-trip exact for float32), strings escaped per
 * RFC 8259 with UTF-8 kept as is.
 */
#ifndef ENGRAVE_JSONL_H
#define ENGRAVE_JSONL_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct err;
struct jsonl_reader;

/* One parsed line. Pointers are owned by the reader, valid until the next call. */
struct jsonl_record {
	uint64_t line;       /* 1-based line number */
	int has_id;
	uint64_t id;
	const char *title;   /* NULL when absent */
	const char *text;    /* "text" or "content"; NULL when absent */
	const float *embedding; /* NULL when absent */
	uint32_t dim;        /* embedding length (0 when absent) */
	int has_confidence;
	float confidence;
};

/* expect_dim 0: the first embedding sets it. Caller closes with jsonl_reader_close. */
int jsonl_reader_open(struct jsonl_reader **out, const char *path, uint32_t expect_dim, struct err *e);
/* 1 = a record, 0 = end of file, -1 = error. */
int jsonl_reader_next(struct jsonl_reader *r, struct jsonl_record *rec, struct err *e);
/* The embedding width seen so far (0 if none yet). */
uint32_t jsonl_reader_dim(const struct jsonl_reader *r);
void jsonl_reader_close(struct jsonl_reader *r);

/* Append `s` as a JSON string literal (with quotes) to out. */
int jsonl_escape(struct buf *out, const char *s, size_t len, struct err *e);
/*
 * Append one record line (with '\n') to out. content may be NULL (""),
 * emb may be NULL (no "embedding" key); non-finite floats are ERR_INPUT.
 */
int jsonl_format_record(struct buf *out, const char *content, const float *emb, uint32_t dim,
			float confidence, uint64_t id, struct err *e);

#endif
