/*
 * export.c — `engrave export ARTIFACT`: an artifact out of the store as a file.
 *
 *   vectors / centroids -> npy | fvecs | csv | jsonl
 *       csv gets "id" and "label" columns when the artifact has those parts;
 *       jsonl is the original tool's record shape {"content","embedding",
 *       "confidence","id"} (content "", confidence from the "confidence"
 *       part or 1, id from "ids" or the row number).
 *   corpus              -> jsonl {"id","title","text"} (what import reads back)
 *
 * ARTIFACT is a 64-hex digest or a ref naming one. Output goes to -o FILE
 * or stdout (binary formats refuse a terminal). Parts are streamed in
 * blocks of BLOCK_ROWS rows (records for corpora), so exporting a
 * multi-GB artifact takes bounded memory. The format defaults from the -o
 * extension, else jsonl. engram-loadtest-json (run exports) is not handled
 * here.
 */
#include "cli.h"
#include "engrave/article.h"
#include "engrave/buf.h"
#include "engrave/hash.h"
#include "engrave/jsonl.h"
#include "engrave/store.h"
#include "engrave/vecfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define BLOCK_ROWS 4096

static const struct cli_help export_help = {
	"export", "engrave export ARTIFACT [--format npy|fvecs|jsonl|csv] [-o FILE]",
	"write an artifact out as npy, fvecs, jsonl or csv",
	"ARTIFACT is a 64-hex digest or a ref (see 'engrave store refs'). Vectors and\n"
	"centroids export to any format; a corpus exports to jsonl. Without -o the\n"
	"file goes to stdout (binary formats need -o or a pipe). The format defaults\n"
	"from the -o extension, else jsonl.",
};

static int resolve(struct store *s, const char *arg, struct digest *d, struct err *e)
{
	if (strlen(arg) == DIGEST_HEX_LEN && !digest_from_hex(arg, d, NULL))
		return 0;
	char v[512];
	if (ref_get(s, arg, v, sizeof(v), e)) {
		if (e->cls == ERR_MISSING) {
			err_set(e, ERR_MISSING, "'%s' is neither a 64-hex digest nor a ref", arg);
			err_hint(e, "list refs with 'engrave store refs'");
		}
		return -1;
	}
	if (digest_from_hex(v, d, NULL)) {
		err_set(e, ERR_USAGE, "ref '%s' points at '%s', not at an artifact digest", arg, v);
		return err_hint(e, "runs are exported with --format engram-loadtest-json");
	}
	return 0;
}

/* Exactly len bytes from r, or ERR_CORRUPT naming the part. */
static int read_exact(struct obj_reader *r, const char *part, void *dst, size_t len, struct err *e)
{
	size_t off = 0;
	while (off < len) {
		size_t got;
		if (obj_read(r, (char *)dst + off, len - off, &got, e))
			return -1;
		if (got == 0)
			return err_set(e, ERR_CORRUPT, "artifact part '%s' is shorter than its meta says", part);
		off += got;
	}
	return 0;
}

static int open_part(struct store *s, const struct artifact *a, const char *name, struct obj_reader **r,
		     struct err *e)
{
	*r = NULL;
	const struct digest *d = artifact_part(a, name);
	if (!d)
		return 0;
	return obj_reader_open(s, d, r, e);
}

struct vec_parts {
	struct obj_reader *vec, *ids, *labels, *conf;
	uint64_t rows;
	uint32_t dim;
};

static int export_vectors(struct store *s, const struct artifact *a, enum vecfile_format fmt, int jsonl,
			  const char *out, struct err *e)
{
	struct vec_parts p = { 0 };
	int64_t dim = 0, rows = -1, k;
	if (artifact_get_int(a, "dim", &dim) || dim <= 0 || dim > (1 << 20))
		return err_set(e, ERR_CORRUPT, "%s artifact has no valid 'dim'", a->type);
	if (artifact_get_int(a, "rows", &rows) && !artifact_get_int(a, "k", &k))
		rows = k;
	const struct digest *vd = artifact_part(a, "vectors");
	if (!vd)
		return err_set(e, ERR_CORRUPT, "%s artifact has no 'vectors' part", a->type);
	int rc = -1;
	float *blk = NULL, *conf = NULL;
	uint64_t *ids = NULL;
	uint32_t *labels = NULL;
	struct vecfile_writer *w = NULL;
	FILE *f = NULL;
	struct buf line;
	buf_init(&line, 0);
	p.dim = (uint32_t)dim;
	if (obj_reader_open(s, vd, &p.vec, e))
		goto out;
	uint64_t size = obj_reader_size(p.vec);
	if (size % ((uint64_t)p.dim * 4)) {
		err_set(e, ERR_CORRUPT, "'vectors' part of %llu bytes is not a whole number of %u-dim rows",
			(unsigned long long)size, p.dim);
		goto out;
	}
	p.rows = size / ((uint64_t)p.dim * 4);
	if (rows >= 0 && (uint64_t)rows != p.rows) {
		err_set(e, ERR_CORRUPT, "artifact meta says %lld rows but its 'vectors' part holds %llu",
			(long long)rows, (unsigned long long)p.rows);
		goto out;
	}
	if (open_part(s, a, "ids", &p.ids, e) || open_part(s, a, "labels", &p.labels, e) ||
	    open_part(s, a, "confidence", &p.conf, e))
		goto out;
	blk = malloc((size_t)BLOCK_ROWS * p.dim * sizeof(float));
	ids = malloc(BLOCK_ROWS * sizeof(*ids));
	labels = malloc(BLOCK_ROWS * sizeof(*labels));
	conf = malloc(BLOCK_ROWS * sizeof(*conf));
	if (!blk || !ids || !labels || !conf) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (jsonl) {
		f = fopen(out, "wb");
		if (!f) {
			err_set_errno(e, ERR_IO, errno, "cannot create '%s'", out);
			goto out;
		}
	} else {
		if (vecfile_writer_open(&w, out, fmt, p.dim, e))
			goto out;
		vecfile_writer_expect_rows(w, p.rows);
	}
	for (uint64_t done = 0; done < p.rows;) {
		size_t n = p.rows - done < BLOCK_ROWS ? (size_t)(p.rows - done) : BLOCK_ROWS;
		if (read_exact(p.vec, "vectors", blk, n * p.dim * sizeof(float), e) ||
		    (p.ids && read_exact(p.ids, "ids", ids, n * sizeof(*ids), e)) ||
		    (p.labels && read_exact(p.labels, "labels", labels, n * sizeof(*labels), e)) ||
		    (p.conf && read_exact(p.conf, "confidence", conf, n * sizeof(*conf), e)))
			goto out;
		if (!p.ids)
			for (size_t i = 0; i < n; i++)
				ids[i] = done + i;
		if (jsonl) {
			for (size_t i = 0; i < n; i++) {
				buf_reset(&line);
				if (jsonl_format_record(&line, "", blk + i * p.dim, p.dim, p.conf ? conf[i] : 1.0f,
							ids[i], e))
					goto out;
				if (fwrite(line.data, 1, line.len, f) != line.len) {
					err_set_errno(e, ERR_IO, errno, "%s: write", out);
					goto out;
				}
			}
		} else if (vecfile_writer_write(w, blk, n, fmt == VECFILE_CSV ? ids : NULL,
						fmt == VECFILE_CSV && p.labels ? labels : NULL, e)) {
			goto out;
		}
		done += n;
	}
	rc = 0;
out:
	if (f && fclose(f) && !rc)
		rc = err_set_errno(e, ERR_IO, errno, "%s: close", out);
	if (w && vecfile_writer_close(w, rc ? NULL : e) && !rc)
		rc = -1;
	obj_reader_close(p.vec);
	obj_reader_close(p.ids);
	obj_reader_close(p.labels);
	obj_reader_close(p.conf);
	buf_release(&line);
	free(blk);
	free(ids);
	free(labels);
	free(conf);
	return rc;
}

static int export_corpus(struct store *s, const struct artifact *a, const char *out, struct err *e)
{
	struct obj_reader *r = NULL;
	const struct digest *d = artifact_part(a, "articles");
	if (!d)
		return err_set(e, ERR_CORRUPT, "corpus artifact has no 'articles' part");
	if (obj_reader_open(s, d, &r, e))
		return -1;
	int rc = -1;
	struct buf pend, line;
	buf_init(&pend, 0);
	buf_init(&line, 0);
	FILE *f = fopen(out, "wb");
	if (!f) {
		err_set_errno(e, ERR_IO, errno, "cannot create '%s'", out);
		goto out;
	}
	size_t start = 0;
	for (;;) {
		if (buf_reserve(&pend, 1 << 20, e))
			goto out;
		size_t got;
		if (obj_read(r, pend.data + pend.len, 1 << 20, &got, e))
			goto out;
		pend.len += got;
		pend.data[pend.len] = '\0';
		struct article_view v;
		size_t used;
		int k;
		while ((k = article_decode_next((const uint8_t *)pend.data + start, pend.len - start, &used, &v)) == 1) {
			buf_reset(&line);
			if (buf_printf(&line, e, "{\"id\":%llu,\"title\":", (unsigned long long)v.id) ||
			    jsonl_escape(&line, v.title, v.title_len, e) || buf_append_str(&line, ",\"text\":", e) ||
			    jsonl_escape(&line, v.text, v.text_len, e) || buf_append_str(&line, "}\n", e))
				goto out;
			if (fwrite(line.data, 1, line.len, f) != line.len) {
				err_set_errno(e, ERR_IO, errno, "%s: write", out);
				goto out;
			}
			start += used;
		}
		/* k == -1: a record continues in the next block (or the part is cut) */
		if (got == 0) {
			if (start != pend.len) {
				err_set(e, ERR_CORRUPT, "corpus 'articles' part ends inside a record");
				goto out;
			}
			break;
		}
		memmove(pend.data, pend.data + start, pend.len - start);
		pend.len -= start;
		start = 0;
	}
	rc = 0;
out:
	if (f && fclose(f) && !rc)
		rc = err_set_errno(e, ERR_IO, errno, "%s: close", out);
	obj_reader_close(r);
	buf_release(&pend);
	buf_release(&line);
	return rc;
}

int cmd_export(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *format = NULL, *out = NULL;
	const struct cli_opt opts[] = {
		{ "format", 'f', OPT_STRING, &format, "FMT", "npy, fvecs, jsonl or csv (default: from -o, else jsonl)" },
		{ "output", 'o', OPT_STRING, &out, "FILE", "write to FILE instead of stdout" },
		{ 0 },
	};
	int first, done, rc = cli_parse(argc, argv, &export_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first >= argc)
		return cli_usage_error(&export_help, "missing ARTIFACT");
	if (first + 1 < argc)
		return cli_usage_error(&export_help, "unexpected argument '%s'", argv[first + 1]);
	if (format && !strcmp(format, "engram-loadtest-json")) {
		fprintf(stderr, "error: export format 'engram-loadtest-json' is not supported here\n");
		fprintf(stderr, "hint: it exports a run's load-test records, which this build cannot do yet\n");
		return err_exit_code(ERR_UNSUPPORTED);
	}
	enum vecfile_format fmt = VECFILE_UNKNOWN;
	int jsonl = 0;
	if (!format && out && vecfile_format_from_path(out) != VECFILE_UNKNOWN)
		fmt = vecfile_format_from_path(out);
	else if (!format || !strcasecmp(format, "jsonl"))
		jsonl = 1;
	else if ((fmt = vecfile_format_from_name(format)) == VECFILE_UNKNOWN)
		return cli_usage_error(&export_help, "unknown format '%s' (use npy, fvecs, jsonl or csv)", format);
	if (!out || !strcmp(out, "-")) {
		if ((fmt == VECFILE_NPY || fmt == VECFILE_FVECS) && isatty(1)) {
			fprintf(stderr, "error: refusing to write binary %s to a terminal\n", vecfile_format_name(fmt));
			fprintf(stderr, "hint: add -o FILE or pipe the output\n");
			return 2;
		}
		fflush(stdout);
		out = "/dev/stdout";
	}

	struct err e = ERR_INIT;
	struct store *s = NULL;
	struct digest d;
	struct artifact a;
	int have_art = 0;
	rc = -1;
	if (store_open(ctx->store_dir, STORE_RDONLY, &s, &e) || resolve(s, argv[first], &d, &e) ||
	    artifact_get(s, &d, &a, &e))
		goto out;
	have_art = 1;
	if (!strcmp(a.type, "vectors") || !strcmp(a.type, "centroids")) {
		rc = export_vectors(s, &a, fmt, jsonl, out, &e);
	} else if (!strcmp(a.type, "corpus")) {
		if (!jsonl) {
			err_set(&e, ERR_USAGE, "a corpus exports to jsonl only, not %s", vecfile_format_name(fmt));
			err_hint(&e, "export its embeddings (the embed step's vectors artifact) as %s",
				 vecfile_format_name(fmt));
		} else {
			rc = export_corpus(s, &a, out, &e);
		}
	} else {
		err_set(&e, ERR_UNSUPPORTED, "artifact %s has type '%s', which export does not handle", argv[first],
			a.type);
		err_hint(&e, "export handles vectors, centroids and corpus artifacts");
	}
out:
	if (have_art)
		artifact_release(&a);
	store_close(s);
	return rc ? cli_fail(&e) : 0;
}
