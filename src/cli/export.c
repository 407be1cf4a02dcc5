/*
 * export.c — `engrave export ARTIFACT`: an artifact out of the store as a file.
 *
 *   vectors / centroids -> npy | fvecs | csv | jsonl
 *       csv gets "id" and "label" columns when the artifact has those parts;
 *       jsonl is the original tool's record shape {"content","embedding",
 *       "confidence","id"} (content "", confidence from the "confidence"
 *       part or 1, id from "ids" or the row number; with --content CORPUS,
 *       content is "title\n\ntext" of the matching article).
 *   corpus              -> jsonl {"id","title","text"} (what import reads back)
 *
 * ARTIFACT is a 64-hex digest or a ref naming one. Output goes to -o FILE
 * or stdout (binary formats refuse a terminal). FILE is written through a
 * temporary file beside it (".FILE.XXXXXX", with FILE's mode) that is renamed
 * over it only when the export succeeded, so a failed export leaves an
 * existing FILE as it was and never a half-written one; a FILE that exists
 * and is not a regular file (/dev/null, a FIFO) is written in place. Parts are streamed in
 * blocks of BLOCK_ROWS rows (records for corpora), so exporting a
 * multi-GB artifact takes bounded memory. The format defaults from the -o
 * extension, else jsonl. `--format engram-loadtest-json` takes a RUN
 * instead and writes its load test as Engram's loadtest report
 * (analysis/runmetrics.c computes it from the stored records).
 */
#include "cli.h"
#include "engrave/article.h"
#include "engrave/runmetrics.h"
#include "engrave/buf.h"
#include "engrave/hash.h"
#include "engrave/jsonl.h"
#include "engrave/store.h"
#include "engrave/vecfile.h"
#include "engrave/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK_ROWS 4096

/* Where the export writes: `path` is the temporary file when `tmp` is set. */
struct outfile {
	const char *final;
	const char *path;
	char tmp[4200];
	int is_tmp;
};

/* Choose where to write `final` (NULL or "-" is stdout, written in place). */
static int out_begin(struct outfile *o, const char *final, struct err *e)
{
	memset(o, 0, sizeof(*o));
	o->final = o->path = final;
	struct stat st;
	int exists = stat(final, &st) == 0;
	if (!strcmp(final, "/dev/stdout") || (exists && !S_ISREG(st.st_mode)))
		return 0;
	const char *slash = strrchr(final, '/');
	int dl = slash ? (int)(slash - final + 1) : 0;
	if ((size_t)snprintf(o->tmp, sizeof(o->tmp), "%.*s.%s.XXXXXX", dl, final, slash ? slash + 1 : final) >=
	    sizeof(o->tmp))
		return err_set(e, ERR_USAGE, "output path '%.200s...' is too long", final);
	int fd = mkstemp(o->tmp);
	if (fd < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot create a temporary file beside '%s'", final);
	mode_t um = umask(0);
	umask(um);
	if (fchmod(fd, exists ? st.st_mode & 07777 : 0666 & ~um) != 0 || close(fd) != 0) {
		err_set_errno(e, ERR_IO, errno, "cannot prepare '%s'", o->tmp);
		unlink(o->tmp);
		return -1;
	}
	o->path = o->tmp;
	o->is_tmp = 1;
	return 0;
}

/* After the export: rename the temporary file over FILE (rc 0), or remove it. */
static int out_finish(struct outfile *o, int rc, struct err *e)
{
	if (!o->is_tmp)
		return rc;
	if (!rc && rename(o->tmp, o->final) != 0)
		rc = err_set_errno(e, ERR_IO, errno, "cannot rename '%s' to '%s'", o->tmp, o->final);
	if (rc)
		unlink(o->tmp);
	return rc;
}

static const struct cli_help export_help = {
	"export", "engrave export ARTIFACT [--format npy|fvecs|jsonl|csv] [-o FILE] [--content CORPUS]\n"
	"       engrave export RUN --format engram-loadtest-json [-o FILE]",
	"write an artifact out as npy, fvecs, jsonl or csv, or a run as Engram's loadtest report",
	"ARTIFACT is a 64-hex digest or a ref (see 'engrave store refs'). Vectors and\n"
	"centroids export to any format; a corpus exports to jsonl. Without -o the\n"
	"file goes to stdout (binary formats need -o or a pipe). The format defaults\n"
	"from the -o extension, else jsonl. Vectors as jsonl are the original tool's\n"
	"records {content, embedding, confidence, id}; --content names the corpus the\n"
	"vectors were embedded from, to fill \"content\" (ids must match row by row).\n\n"
	"--format engram-loadtest-json writes a run's load test in the JSON shape of\n"
	"Engram's loadtest report, so compare_m17_performance.sh can read it. Its\n"
	"overall percentiles are pooled over all operations, from the intended send\n"
	"time, with nothing dropped above 60 ms (Engram's tool reported the max of the\n"
	"per-operation values).",
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

/* Articles of a corpus artifact, one at a time, in bounded memory. */
struct art_stream {
	struct obj_reader *r;
	struct buf pend;
	size_t start;
	int eof;
};

static int art_stream_open(struct store *s, const struct artifact *a, struct art_stream *as, struct err *e)
{
	memset(as, 0, sizeof(*as));
	buf_init(&as->pend, 0);
	const struct digest *d = artifact_part(a, "articles");
	if (strcmp(a->type, "corpus") != 0 || !d)
		return err_set(e, ERR_USAGE, "not a corpus artifact (type '%s')", a->type);
	return obj_reader_open(s, d, &as->r, e);
}

/* 1 = *v set (valid until the next call), 0 = end, -1 = error. */
static int art_stream_next(struct art_stream *as, struct article_view *v, struct err *e)
{
	for (;;) {
		size_t used;
		int k = article_decode_next((const uint8_t *)as->pend.data + as->start, as->pend.len - as->start,
					    &used, v);
		if (k == 1) {
			as->start += used;
			return 1;
		}
		if (as->eof) {
			if (as->start != as->pend.len)
				return err_set(e, ERR_CORRUPT, "corpus 'articles' part ends inside a record");
			return 0;
		}
		memmove(as->pend.data, as->pend.data + as->start, as->pend.len - as->start);
		as->pend.len -= as->start;
		as->start = 0;
		size_t got;
		if (buf_reserve(&as->pend, 1 << 20, e) || obj_read(as->r, as->pend.data + as->pend.len, 1 << 20, &got, e))
			return -1;
		as->pend.len += got;
		as->pend.data[as->pend.len] = '\0';
		as->eof = got == 0;
	}
}

static void art_stream_close(struct art_stream *as)
{
	obj_reader_close(as->r);
	buf_release(&as->pend);
}

struct vec_parts {
	struct obj_reader *vec, *ids, *labels, *conf;
	uint64_t rows;
	uint32_t dim;
};

static int export_vectors(struct store *s, const struct artifact *a, enum vecfile_format fmt, int jsonl,
			  const struct artifact *content, const char *out, struct err *e)
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
	struct buf line, text;
	struct art_stream as = { 0 };
	buf_init(&line, 0);
	buf_init(&text, 0);
	buf_init(&as.pend, 0);
	p.dim = (uint32_t)dim;
	if (content && art_stream_open(s, content, &as, e))
		goto out;
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
	ids = xmalloc_array(BLOCK_ROWS, sizeof(*ids));
	labels = xmalloc_array(BLOCK_ROWS, sizeof(*labels));
	conf = xmalloc_array(BLOCK_ROWS, sizeof(*conf));
	if (!(blk = xalloc_try_array(xalloc_mul(BLOCK_ROWS, p.dim), sizeof(float), "a block of vectors", e)))
		goto out;
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
				buf_reset(&text);
				if (content) {
					struct article_view v;
					int k = art_stream_next(&as, &v, e);
					if (k < 0)
						goto out;
					if (k == 0 || v.id != ids[i]) {
						err_set(e, ERR_USAGE, "--content corpus does not match the vectors at row %llu",
							(unsigned long long)(done + i));
						err_hint(e, "give the corpus these vectors were embedded from");
						goto out;
					}
					if (article_view_embed_input(&v, 0, &text)) {
						err_set(e, ERR_INTERNAL, "out of memory");
						goto out;
					}
				}
				if (jsonl_format_record(&line, text.data, blk + i * p.dim, p.dim, p.conf ? conf[i] : 1.0f,
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
	art_stream_close(&as);
	buf_release(&line);
	buf_release(&text);
	free(blk);
	free(ids);
	free(labels);
	free(conf);
	return rc;
}

static int export_corpus(struct store *s, const struct artifact *a, const char *out, struct err *e)
{
	struct art_stream as;
	if (art_stream_open(s, a, &as, e)) {
		art_stream_close(&as);
		return -1;
	}
	int rc = -1, k;
	struct buf line;
	buf_init(&line, 0);
	FILE *f = fopen(out, "wb");
	if (!f) {
		err_set_errno(e, ERR_IO, errno, "cannot create '%s'", out);
		goto out;
	}
	struct article_view v;
	while ((k = art_stream_next(&as, &v, e)) == 1) {
		buf_reset(&line);
		if (buf_printf(&line, e, "{\"id\":%llu,\"title\":", (unsigned long long)v.id) ||
		    jsonl_escape(&line, v.title, v.title_len, e) || buf_append_str(&line, ",\"text\":", e) ||
		    jsonl_escape(&line, v.text, v.text_len, e) || buf_append_str(&line, "}\n", e))
			goto out;
		if (fwrite(line.data, 1, line.len, f) != line.len) {
			err_set_errno(e, ERR_IO, errno, "%s: write", out);
			goto out;
		}
	}
	rc = k < 0 ? -1 : 0;
out:
	if (f && fclose(f) && !rc)
		rc = err_set_errno(e, ERR_IO, errno, "%s: close", out);
	art_stream_close(&as);
	buf_release(&line);
	return rc;
}

/* A run's load test as Engram's loadtest report (runmetrics.c does the work). */
static int export_run_engram(struct cli_ctx *ctx, const char *run_id, const char *out)
{
	int rc = cli_setup(ctx, 0, NULL);
	if (rc)
		return rc;
	struct err e = ERR_INIT;
	struct store *s = ctx->store;
	struct run_record rec;
	memset(&rec, 0, sizeof(rec));
	struct buf json;
	buf_init(&json, 0);
	int have_rec = 0;
	if (run_get(s, run_id, &rec, &e)) {
		if (e.cls == ERR_MISSING)
			err_hint(&e, "engram-loadtest-json exports a run: see 'engrave runs' for run ids");
		goto fail;
	}
	have_rec = 1;
	if (runmetrics_engram_report(s, &rec, &json, &e))
		goto fail;
	int to_file = out && strcmp(out, "-");
	struct outfile of;
	if (to_file && out_begin(&of, out, &e))
		goto fail;
	FILE *f = to_file ? fopen(of.path, "w") : stdout;
	if (!f) {
		err_set_errno(&e, ERR_IO, errno, "cannot write '%s'", out);
		out_finish(&of, -1, NULL);
		goto fail;
	}
	int bad = fwrite(json.data, 1, json.len, f) != json.len;
	if (f != stdout)
		bad |= fclose(f) != 0;
	if (bad)
		err_set_errno(&e, ERR_IO, errno, "cannot write '%s'", out ? out : "stdout");
	if ((to_file && out_finish(&of, bad ? -1 : 0, &e)) || bad)
		goto fail;
	goto done;
fail:
	rc = cli_fail(&e);
done:
	buf_release(&json);
	if (have_rec)
		run_record_release(&rec);
	return rc;
}

int cmd_export(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *format = NULL, *out = NULL, *content_arg = NULL;
	const struct cli_opt opts[] = {
		{ "content", 0, OPT_STRING, &content_arg, "CORPUS",
		  "jsonl: fill \"content\" from this corpus (title, blank line, text)" },
		{ "format", 'f', OPT_STRING, &format, "FMT", "npy, fvecs, jsonl, csv or engram-loadtest-json (default: from -o, else jsonl)" },
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
	if (format && !strcmp(format, "engram-loadtest-json"))
		return export_run_engram(ctx, argv[first], out);
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

	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct err e = ERR_INIT;
	struct store *s = ctx->store;
	struct digest d;
	struct artifact a, content;
	int have_art = 0, have_content = 0;
	rc = -1;
	if (resolve(s, argv[first], &d, &e) || artifact_get(s, &d, &a, &e))
		goto out;
	have_art = 1;
	if (content_arg && !jsonl) {
		err_set(&e, ERR_USAGE, "--content only applies to jsonl output");
		goto out;
	}
	if (content_arg) {
		struct digest cd;
		if (resolve(s, content_arg, &cd, &e) || artifact_get(s, &cd, &content, &e))
			goto out;
		have_content = 1;
		if (strcmp(content.type, "corpus") != 0) {
			err_set(&e, ERR_USAGE, "--content %s is a '%s' artifact, not a corpus", content_arg, content.type);
			goto out;
		}
	}
	struct outfile of;
	if (!strcmp(a.type, "vectors") || !strcmp(a.type, "centroids")) {
		if (!out_begin(&of, out, &e))
			rc = out_finish(&of, export_vectors(s, &a, fmt, jsonl, have_content ? &content : NULL, of.path, &e),
					&e);
	} else if (!strcmp(a.type, "corpus")) {
		if (!jsonl) {
			err_set(&e, ERR_USAGE, "a corpus exports to jsonl only, not %s", vecfile_format_name(fmt));
			err_hint(&e, "export its embeddings (the embed step's vectors artifact) as %s",
				 vecfile_format_name(fmt));
		} else if (!out_begin(&of, out, &e)) {
			rc = out_finish(&of, export_corpus(s, &a, of.path, &e), &e);
		}
	} else {
		err_set(&e, ERR_UNSUPPORTED, "artifact %s has type '%s', which export does not handle", argv[first],
			a.type);
		err_hint(&e, "export handles vectors, centroids and corpus artifacts");
	}
out:
	if (have_art)
		artifact_release(&a);
	if (have_content)
		artifact_release(&content);
	return rc ? cli_fail(&e) : 0;
}
