/*
 * jsonl.c — JSON Lines reader (jansson) and the original tool's record writer.
 *
 * The reader pulls bytes through instream (so .jsonl.gz works too), cuts
 * them into lines in a reusable buffer, and parses one line at a time with
 * json_loadb: memory is one line plus one parsed object, whatever the file
 * size. The parsed object is kept until the next call so that title/text
 * pointers can point into it without copying; the embedding is converted
 * into a reader-owned float array. Every error carries FILE:LINE (and the
 * column jansson reports for syntax errors).
 *
 * The writer is hand-written rather than json_dumps'd because jansson
 * prints reals with "%.17g" and picks its own key order; the original tool's
 * records are {"content","embedding","confidence","id"} with float32 values
 * that "%.9g" reproduces exactly and more compactly.
 */
#include "engrave/jsonl.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "data/instream.h"
#include "engrave/xalloc.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024)
#define MAX_LINE (256u << 20)

struct jsonl_reader {
	struct instream *in;
	char *path;
	char chunk[CHUNK];
	size_t pos, len;
	int eof;
	struct buf line;
	uint64_t lineno;
	json_t *cur;
	float *emb;
	uint32_t emb_cap;
	uint32_t dim;
};

int jsonl_reader_open(struct jsonl_reader **out, const char *path, uint32_t expect_dim, struct err *e)
{
	*out = NULL;
	struct jsonl_reader *r = xcalloc(1, sizeof(*r));
	r->path = xstrdup(path);
	buf_init(&r->line, MAX_LINE);
	r->dim = expect_dim;
	if (instream_open(&r->in, path, e) < 0) {
		jsonl_reader_close(r);
		return -1;
	}
	*out = r;
	return 0;
}

uint32_t jsonl_reader_dim(const struct jsonl_reader *r) { return r->dim; }

void jsonl_reader_close(struct jsonl_reader *r)
{
	if (!r)
		return;
	if (r->cur)
		json_decref(r->cur);
	instream_close(r->in);
	buf_release(&r->line);
	free(r->emb);
	free(r->path);
	free(r);
}

/* Next line into r->line (without '\n'). 1 = line, 0 = EOF. */
static int next_line(struct jsonl_reader *r, struct err *e)
{
	buf_reset(&r->line);
	int got = 0;
	for (;;) {
		if (r->pos == r->len) {
			if (r->eof)
				return got;
			ssize_t n = instream_read(r->in, r->chunk, sizeof(r->chunk), e);
			if (n < 0)
				return -1;
			if (n == 0) {
				r->eof = 1;
				return got;
			}
			r->pos = 0;
			r->len = (size_t)n;
		}
		got = 1;
		const char *p = r->chunk + r->pos;
		const char *nl = memchr(p, '\n', r->len - r->pos);
		size_t take = nl ? (size_t)(nl - p) : r->len - r->pos;
		if (buf_append(&r->line, p, take, NULL) < 0)
			return err_set(e, ERR_INPUT, "%s:%llu: line longer than %u MiB", r->path,
				       (unsigned long long)r->lineno + 1, MAX_LINE >> 20);
		r->pos += take;
		if (nl) {
			r->pos++;
			return 1;
		}
	}
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	default:
		return "a number";
	}
}

static int parse_record(struct jsonl_reader *r, json_t *o, struct jsonl_record *rec, struct err *e)
{
	unsigned long long ln = (unsigned long long)r->lineno;
	json_t *v = json_object_get(o, "id");
	if (v && !json_is_null(v)) {
		if (json_is_integer(v) && json_integer_value(v) >= 0) {
			rec->id = (uint64_t)json_integer_value(v);
		} else if (json_is_string(v) && json_string_length(v) > 0 &&
			   strspn(json_string_value(v), "0123456789") == json_string_length(v) &&
			   json_string_length(v) <= 19) {
			rec->id = strtoull(json_string_value(v), NULL, 10);
		} else {
			return err_set(e, ERR_INPUT, "%s:%llu: 'id' must be a non-negative integer (it is %s)", r->path,
				       ln, type_name(v));
		}
		rec->has_id = 1;
	}
	static const char *const strs[] = { "title", "text", "content" };
	for (int i = 0; i < 3; i++) {
		v = json_object_get(o, strs[i]);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v))
			return err_set(e, ERR_INPUT, "%s:%llu: '%s' must be a string (it is %s)", r->path, ln, strs[i],
				       type_name(v));
		if (i == 0)
			rec->title = json_string_value(v);
		else if (!rec->text)
			rec->text = json_string_value(v);
	}
	v = json_object_get(o, "confidence");
	if (v && !json_is_null(v)) {
		if (!json_is_number(v))
			return err_set(e, ERR_INPUT, "%s:%llu: 'confidence' must be a number (it is %s)", r->path, ln,
				       type_name(v));
		rec->confidence = (float)json_number_value(v);
		rec->has_confidence = 1;
	}
	v = json_object_get(o, "embedding");
	if (v && !json_is_null(v)) {
		if (!json_is_array(v))
			return err_set(e, ERR_INPUT, "%s:%llu: 'embedding' must be an array of numbers (it is %s)",
				       r->path, ln, type_name(v));
		size_t n = json_array_size(v);
		if (n == 0 || n > (1u << 20))
			return err_set(e, ERR_INPUT, "%s:%llu: 'embedding' has %zu numbers; 1 to 1048576 are allowed",
				       r->path, ln, n);
		if (r->dim && n != r->dim) {
			err_set(e, ERR_INPUT, "%s:%llu: 'embedding' has %zu numbers but %u were expected", r->path, ln,
				n, r->dim);
			return err_hint(e, "every record's embedding must have the same dim");
		}
		if (n > r->emb_cap) {
			float *ne = xalloc_try_resize(r->emb, n, sizeof(float), "an embedding", e);
			if (!ne)
				return err_prefix(e, "%s:%llu", r->path, ln);
			r->emb = ne;
			r->emb_cap = (uint32_t)n;
		}
		for (size_t i = 0; i < n; i++) {
			json_t *x = json_array_get(v, i);
			if (!json_is_number(x))
				return err_set(e, ERR_INPUT,
					       "%s:%llu: 'embedding' must be an array of numbers (item %zu is %s)",
					       r->path, ln, i, type_name(x));
			float f = (float)json_number_value(x);
			if (!isfinite(f))
				return err_set(e, ERR_INPUT,
					       "%s:%llu: 'embedding' item %zu is out of float32 range", r->path, ln, i);
			r->emb[i] = f;
		}
		r->dim = (uint32_t)n;
		rec->embedding = r->emb;
		rec->dim = (uint32_t)n;
	}
	return 0;
}

int jsonl_reader_next(struct jsonl_reader *r, struct jsonl_record *rec, struct err *e)
{
	memset(rec, 0, sizeof(*rec));
	if (r->cur) {
		json_decref(r->cur);
		r->cur = NULL;
	}
	for (;;) {
		int rc = next_line(r, e);
		if (rc <= 0)
			return rc;
		r->lineno++;
		const char *s = r->line.data;
		size_t n = r->line.len;
		while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		size_t k = 0;
		while (k < n && (s[k] == ' ' || s[k] == '\t'))
			k++;
		if (k == n)
			continue; /* blank line */
		json_error_t je;
		json_t *o = json_loadb(s, n, 0, &je);
		if (!o)
			return err_set(e, ERR_INPUT, "%s:%llu:%d: invalid JSON: %s", r->path,
				       (unsigned long long)r->lineno, je.column, je.text);
		if (!json_is_object(o)) {
			json_decref(o);
			return err_set(e, ERR_INPUT, "%s:%llu: each line must be a JSON object", r->path,
				       (unsigned long long)r->lineno);
		}
		r->cur = o;
		rec->line = r->lineno;
		return parse_record(r, o, rec, e) < 0 ? -1 : 1;
	}
}

/* ---- writer ------------------------------------------------------------- */

int jsonl_escape(struct buf *out, const char *s, size_t len, struct err *e)
{
	if (buf_reserve(out, len + 2, e) < 0 || buf_append(out, "\"", 1, e) < 0)
		return -1;
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char tmp[8];
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
			esc = tmp;
		}
		if (!esc)
			continue;
		if (buf_append(out, s + run, i - run, e) < 0 || buf_append_str(out, esc, e) < 0)
			return -1;
		run = i + 1;
	}
	if (buf_append(out, s + run, len - run, e) < 0 || buf_append(out, "\"", 1, e) < 0)
		return -1;
	return 0;
}

int jsonl_format_record(struct buf *out, const char *content, const float *emb, uint32_t dim,
			float confidence, uint64_t id, struct err *e)
{
	size_t old = out->len;
	if (buf_append_str(out, "{\"content\":", e) < 0 ||
	    jsonl_escape(out, content ? content : "", content ? strlen(content) : 0, e) < 0)
		goto fail;
	if (emb) {
		if (buf_append_str(out, ",\"embedding\":[", e) < 0 || buf_reserve(out, (size_t)dim * 16, e) < 0)
			goto fail;
		for (uint32_t i = 0; i < dim; i++) {
			if (!isfinite(emb[i])) {
				err_set(e, ERR_INPUT, "record %llu: embedding item %u is not finite",
					(unsigned long long)id, i);
				goto fail;
			}
			if (buf_printf(out, e, i ? ",%.9g" : "%.9g", (double)emb[i]) < 0)
				goto fail;
		}
		if (buf_append_str(out, "]", e) < 0)
			goto fail;
	}
	if (!isfinite(confidence)) {
		err_set(e, ERR_INPUT, "record %llu: confidence is not finite", (unsigned long long)id);
		goto fail;
	}
	if (buf_printf(out, e, ",\"confidence\":%.9g,\"id\":%llu}\n", (double)confidence, (unsigned long long)id) < 0)
		goto fail;
	return 0;
fail:
	out->len = old;
	out->data[old] = '\0';
	return -1;
}
