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
#include "engrave/exportfmt.h"
#include "engrave/runexport.h"
#include "engrave/runmetrics.h"
#include "engrave/sched.h"
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

/* Exactly len bytes from r, or ERR_CORRUPT naming the part. */
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
		if (obj_read_full(p.vec, "vectors", blk, n * p.dim * sizeof(float), e) ||
		    (p.ids && obj_read_full(p.ids, "ids", ids, n * sizeof(*ids), e)) ||
		    (p.labels && obj_read_full(p.labels, "labels", labels, n * sizeof(*labels), e)) ||
		    (p.conf && obj_read_full(p.conf, "confidence", conf, n * sizeof(*conf), e)))
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

/* ---- what to export: an artifact or a run, by digest, prefix, ref or id ---- */

#define MAX_CANDIDATES 8
#define MIN_DIGEST_PREFIX 6

struct subject {
	int is_run;
	struct run_record run; /* is_run */
	struct artifact art;   /* !is_run */
	char label[96];        /* "artifact 1a2b3c4d5e6f" or "run <id>" */
};

static void subject_release(struct subject *sub)
{
	if (sub->is_run)
		run_record_release(&sub->run);
	else
		artifact_release(&sub->art);
	memset(sub, 0, sizeof(*sub));
}

static int subject_artifact(struct store *s, const struct digest *d, struct subject *sub, struct err *e)
{
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(d, hex);
	snprintf(sub->label, sizeof(sub->label), "artifact %.12s", hex);
	return artifact_get(s, d, &sub->art, e);
}

static int subject_run(struct store *s, const char *id, struct subject *sub, struct err *e)
{
	if (run_get(s, id, &sub->run, e))
		return -1;
	sub->is_run = 1;
	snprintf(sub->label, sizeof(sub->label), "run %s", sub->run.id);
	return 0;
}

struct run_prefix {
	const char *prefix;
	size_t len, n;
	char ids[MAX_CANDIDATES][48];
};

static int run_prefix_visit(const struct run_record *r, void *ctx)
{
	struct run_prefix *p = ctx;
	if (!strncmp(r->id, p->prefix, p->len) && p->n++ < MAX_CANDIDATES)
		snprintf(p->ids[p->n - 1], sizeof(p->ids[0]), "%s", r->id);
	return 0;
}

/* "ambiguous" with every candidate (artifacts with their type) in the message. */
static int ambiguous(struct store *s, const char *arg, const struct digest *arts, size_t n_art,
		     const struct run_prefix *runs, struct err *e)
{
	char list[ERR_MSG_MAX - 128] = "";
	size_t used = 0;
	for (size_t i = 0; i < n_art + runs->n && i < MAX_CANDIDATES && used < sizeof(list); i++) {
		char what[96], hex[DIGEST_HEX_LEN + 1];
		if (i < n_art) {
			struct artifact a;
			struct err ignore = ERR_INIT;
			int ok = !artifact_get(s, &arts[i], &a, &ignore);
			digest_to_hex(&arts[i], hex);
			snprintf(what, sizeof(what), "artifact %.16s (%s)", hex, ok ? a.type : "?");
			if (ok)
				artifact_release(&a);
		} else {
			snprintf(what, sizeof(what), "run %s", runs->ids[i - n_art]);
		}
		used += (size_t)snprintf(list + used, sizeof(list) - used, "\n  %s", what);
	}
	err_set(e, ERR_USAGE, "'%s' is ambiguous: it begins %zu artifacts and runs:%s", arg, n_art + runs->n, list);
	return err_hint(e, "give more digits of the digest or the run id");
}

/*
 * ARG is a 64-hex digest, a ref (to an artifact digest or a run id), a run
 * id, or a unique prefix of an artifact digest (at least 6 hex digits) or
 * of a run id (at least 4 characters). ERR_USAGE when ambiguous or too
 * short, ERR_MISSING when nothing matches.
 */
static int resolve_subject(struct store *s, const char *arg, struct subject *sub, struct err *e)
{
	memset(sub, 0, sizeof(*sub));
	struct digest d;
	size_t len = strlen(arg);
	if (len == DIGEST_HEX_LEN && !digest_from_hex(arg, &d, NULL))
		return subject_artifact(s, &d, sub, e);
	char v[512];
	struct err le = ERR_INIT;
	if (!ref_get(s, arg, v, sizeof(v), &le))
		return digest_from_hex(v, &d, NULL) ? subject_run(s, v, sub, e) : subject_artifact(s, &d, sub, e);
	if (le.cls != ERR_MISSING)
		return *e = le, -1;
	if (!run_get(s, arg, &sub->run, &le)) {
		sub->is_run = 1;
		snprintf(sub->label, sizeof(sub->label), "run %s", sub->run.id);
		return 0;
	}
	if (le.cls != ERR_MISSING)
		return *e = le, -1;
	int hex = len && strspn(arg, "0123456789abcdefABCDEF") == len;
	struct digest arts[MAX_CANDIDATES];
	size_t n_art = 0;
	struct run_prefix runs = { arg, len, 0, { { 0 } } };
	if ((hex && len >= MIN_DIGEST_PREFIX && artifact_find_prefix(s, arg, arts, MAX_CANDIDATES, &n_art, e)) ||
	    (len >= 4 && run_list(s, run_prefix_visit, &runs, e) < 0))
		return -1;
	if (n_art + runs.n == 1)
		return n_art ? subject_artifact(s, &arts[0], sub, e) : subject_run(s, runs.ids[0], sub, e);
	if (n_art + runs.n > 1)
		return ambiguous(s, arg, arts, n_art, &runs, e);
	if (hex && len < MIN_DIGEST_PREFIX) {
		err_set(e, ERR_USAGE, "digest prefix '%s' is too short (at least %d hex digits)", arg, MIN_DIGEST_PREFIX);
		return err_hint(e, "'engrave show RUN' lists a run's artifacts with 12-digit digests");
	}
	err_set(e, ERR_MISSING, "no artifact, run or ref '%s' in store '%s'", arg, store_path(s));
	return err_hint(e, "'engrave runs' lists runs, 'engrave show RUN' their artifacts, 'engrave store refs' refs");
}

/* ---- formats ---- */

enum xfmt { XF_JSONL, XF_CSV, XF_NPY, XF_FVECS, XF_IVECS, XF_HGRM, XF_VDBB, XF_ENGRAM, XF_COUNT };
static const char *const xfmt_names[XF_COUNT] = { "jsonl", "csv",  "npy",  "fvecs",
						  "ivecs", "hgrm", "vdbb", "engram-loadtest-json" };

static enum xfmt xfmt_from_name(const char *name)
{
	for (int f = 0; f < XF_COUNT; f++)
		if (!strcasecmp(name, xfmt_names[f]))
			return (enum xfmt)f;
	return XF_COUNT;
}

/* What each kind of subject exports to, "run" for runs. */
static const struct {
	const char *type;
	const char *formats;
} export_types[] = {
	{ "vectors", "npy, fvecs, csv, jsonl" },
	{ "centroids", "npy, fvecs, csv, jsonl" },
	{ "corpus", "jsonl" },
	{ "loadtest", "csv, jsonl, hgrm" },
	{ "groundtruth", "jsonl, ivecs" },
	{ "run", "csv, jsonl, hgrm, vdbb, engram-loadtest-json" },
};

static const char *formats_of(const char *type)
{
	for (size_t i = 0; i < sizeof(export_types) / sizeof(export_types[0]); i++)
		if (!strcmp(export_types[i].type, type))
			return export_types[i].formats;
	return NULL;
}

/* ERR_USAGE unless `sub` can be written as `fmt`, naming what it can be. */
static int check_format(const struct subject *sub, enum xfmt fmt, struct err *e)
{
	const char *type = sub->is_run ? "run" : sub->art.type;
	const char *fl = formats_of(type);
	if (!fl) {
		err_set(e, ERR_USAGE, "%s has type '%s', which export cannot write", sub->label, type);
		return err_hint(e, "export writes vectors and centroids (npy, fvecs, csv, jsonl), corpus (jsonl), "
				"loadtest (csv, jsonl, hgrm), groundtruth (jsonl, ivecs) and runs (csv, jsonl, hgrm, "
				"vdbb, engram-loadtest-json)");
	}
	const char *at = strstr(fl, xfmt_names[fmt]);
	size_t n = strlen(xfmt_names[fmt]);
	if (at && (at[n] == ',' || at[n] == '\0'))
		return 0;
	if (sub->is_run)
		err_set(e, ERR_USAGE, "%s exports as %s, not %s", sub->label, fl, xfmt_names[fmt]);
	else
		err_set(e, ERR_USAGE, "%s is a '%s', which export writes as %s, not %s", sub->label, type, fl,
			xfmt_names[fmt]);
	return err_hint(e, "choose one with --format");
}

/* ---- writing ---- */

struct xopts {
	enum xfmt fmt;
	const char *out; /* a path, "/dev/stdout" for stdout */
	const char *content;
	int op;          /* hgrm: enum op_kind, -1 all */
	int service;
	int ticks;
	int phase;       /* a sweep run's phase, -1 none */
};

/* Write through fn into opts->out (via a temporary file beside it). */
static int with_file(const char *out, int (*fn)(FILE *f, const char *what, void *ctx, struct err *e), void *ctx,
		     struct err *e)
{
	struct outfile of;
	if (out_begin(&of, out, e))
		return -1;
	FILE *f = fopen(of.path, "wb");
	if (!f) {
		err_set_errno(e, ERR_IO, errno, "cannot create '%s'", out);
		return out_finish(&of, -1, NULL);
	}
	int rc = fn(f, out, ctx, e);
	if (fclose(f) != 0 && !rc)
		rc = err_set_errno(e, ERR_IO, errno, "%s: close", out);
	return out_finish(&of, rc, e);
}

static int write_buf(FILE *f, const char *what, void *ctx, struct err *e)
{
	const struct buf *b = ctx;
	if (b->len && fwrite(b->data, 1, b->len, f) != b->len)
		return err_set_errno(e, ERR_IO, errno, "%s: write", what);
	return 0;
}

struct stream_job {
	struct store *s;
	const struct artifact *a;
	int flag; /* records: jsonl; groundtruth: ivecs */
};

static int write_records(FILE *f, const char *what, void *ctx, struct err *e)
{
	struct stream_job *j = ctx;
	return runexport_records(j->s, j->a, j->flag, f, what, e);
}

static int write_groundtruth(FILE *f, const char *what, void *ctx, struct err *e)
{
	struct stream_job *j = ctx;
	return runexport_groundtruth(j->s, j->a, j->flag, f, what, e);
}

/* A run's exports: records, hgrm and vdbb/Engram reports. */
static int export_run(struct store *s, const struct run_record *run, const struct xopts *o, struct err *e)
{
	struct buf b;
	buf_init(&b, 0);
	int rc = -1;
	if (o->fmt == XF_VDBB || o->fmt == XF_ENGRAM) {
		if (!(o->fmt == XF_VDBB ? runexport_vdbb(s, run, &b, e) : runmetrics_engram_report(s, run, &b, e)))
			rc = with_file(o->out, write_buf, &b, e);
	} else {
		struct artifact lt;
		if (!runexport_run_loadtest(s, run, o->phase, &lt, e)) {
			struct stream_job j = { s, &lt, o->fmt == XF_JSONL };
			if (o->fmt != XF_HGRM)
				rc = with_file(o->out, write_records, &j, e);
			else if (!runexport_hgrm(s, &lt, o->op, o->service, o->ticks, &b, e))
				rc = with_file(o->out, write_buf, &b, e);
			artifact_release(&lt);
		}
	}
	buf_release(&b);
	return rc;
}

static int export_artifact(struct store *s, const struct artifact *a, const struct xopts *o, struct err *e)
{
	struct outfile of;
	if (!strcmp(a->type, "groundtruth")) {
		struct stream_job j = { s, a, o->fmt == XF_IVECS };
		return with_file(o->out, write_groundtruth, &j, e);
	}
	if (!strcmp(a->type, "loadtest") && o->fmt != XF_HGRM) {
		struct stream_job j = { s, a, o->fmt == XF_JSONL };
		return with_file(o->out, write_records, &j, e);
	}
	if (!strcmp(a->type, "loadtest")) {
		struct buf b;
		buf_init(&b, 0);
		int rc = runexport_hgrm(s, a, o->op, o->service, o->ticks, &b, e) ? -1 : with_file(o->out, write_buf, &b, e);
		buf_release(&b);
		return rc;
	}
	if (!strcmp(a->type, "corpus"))
		return out_begin(&of, o->out, e) ? -1 : out_finish(&of, export_corpus(s, a, of.path, e), e);
	struct artifact content;
	int have_content = 0, rc = -1;
	if (o->content) {
		struct subject cs;
		if (resolve_subject(s, o->content, &cs, e))
			return -1;
		if (cs.is_run || strcmp(cs.art.type, "corpus")) {
			err_set(e, ERR_USAGE, "--content %s is %s, not a corpus artifact", o->content, cs.label);
			subject_release(&cs);
			return -1;
		}
		content = cs.art;
		have_content = 1;
	}
	enum vecfile_format vf = o->fmt == XF_NPY ? VECFILE_NPY : o->fmt == XF_FVECS ? VECFILE_FVECS : VECFILE_CSV;
	if (!out_begin(&of, o->out, e))
		rc = out_finish(&of, export_vectors(s, a, vf, o->fmt == XF_JSONL, have_content ? &content : NULL, of.path, e),
				e);
	if (have_content)
		artifact_release(&content);
	return rc;
}

static const struct cli_help export_help = {
	"export",
	"engrave export ARTIFACT|RUN [--format FMT] [-o FILE] [--phase N] [--op OP] [--service] [--ticks N] [--content CORPUS]",
	"write an artifact or a run out for other tools: npy, fvecs, ivecs, csv, jsonl, hgrm, vdbb, engram-loadtest-json",
	"ARTIFACT is a 64-hex digest, a unique prefix of one (at least 6 hex digits,\n"
	"e.g. the 12 that 'engrave show RUN' prints) or a ref; RUN is a run id, a unique\n"
	"prefix of one (at least 4 characters) or a ref naming a run. An ambiguous\n"
	"prefix lists what it matches (exit 2); nothing matching is exit 3.\n\n"
	"What exports to what (anything else is exit 2, naming the formats it takes):\n"
	"  vectors, centroids  npy, fvecs, csv, jsonl (queries are vectors)\n"
	"  corpus              jsonl {id, title, text}\n"
	"  loadtest            csv, jsonl, hgrm\n"
	"  groundtruth         jsonl, ivecs\n"
	"  RUN                 csv, jsonl, hgrm (its load test), vdbb, engram-loadtest-json\n"
	"A sweep run (loadtest.concurrency, rates or ef_search) exports one phase as\n"
	"csv, jsonl or hgrm: --phase N (without it, exit 2 lists the phases).\n\n"
	"csv / jsonl of a load test: one line per request (warm-up and dropped ones\n"
	"too), columns index, repeat, op, intended_ns, sent_ns, done_ns, latency_ns\n"
	"(done - intended), service_ns (done - sent), status, bytes_out, bytes_in, error\n"
	"(its class: none, timeout, http-5xx, ...), warmup, dropped. Streamed: memory\n"
	"does not grow with the run.\n\n"
	"hgrm: HdrHistogram's percentile distribution text (what outputPercentileDistribution\n"
	"prints; HdrHistogram's plotter reads it), values in ms, computed exactly from\n"
	"the measured records (warm-up and dropped excluded, errors kept: the rule of\n"
	"engrave's metrics); --op store|recall|search for one operation, --service for\n"
	"service time instead of latency, --ticks N per half-distance (5).\n\n"
	"groundtruth: jsonl {\"query\", \"ids\", \"scores\"} per query, or ivecs (per row\n"
	"int32 k, then k int32 ids, the TEXMEX/big-ann layout). Ids are row numbers of\n"
	"the ingested data (the ingest sets back to back, corpus first), not the\n"
	"target's string ids (\"wiki-12\", ...); row i of the export is query row i.\n\n"
	"vdbb: VectorDBBench's TestResult JSON (qps of recall+search, serial_latency_p99\n"
	"and _p95 in seconds, recall, load_duration; the rest at VectorDBBench's\n"
	"defaults; README.md has the mapping). engram-loadtest-json: the shape of\n"
	"Engram's loadtest report (overall percentiles pooled over all operations,\n"
	"from the intended send time, nothing dropped above 60 ms).\n\n"
	"Vectors as jsonl are the original tool's records {content, embedding,\n"
	"confidence, id}; --content names the corpus the vectors were embedded from.\n"
	"The format defaults from the -o extension, else jsonl. Without -o the output\n"
	"goes to stdout (binary formats need -o or a pipe); a file is written whole or\n"
	"not at all.\n\n"
	"exit codes: 0 written, 2 usage (unknown, ambiguous or unwritable), 3 no such\n"
	"artifact or run, 4 error",
};

/* The format: --format, else the -o extension, else jsonl. */
static int pick_format(const char *format, const char *out, enum xfmt *fmt)
{
	*fmt = XF_JSONL;
	if (format)
		return (*fmt = xfmt_from_name(format)) == XF_COUNT ? -1 : 0;
	const char *dot = out ? strrchr(out, '.') : NULL;
	if (dot && !strchr(dot, '/') && xfmt_from_name(dot + 1) < XF_VDBB)
		*fmt = xfmt_from_name(dot + 1);
	return 0;
}

static int parse_op(const char *name, int *op)
{
	*op = -1;
	for (int k = 0; name && k < OP_KIND_COUNT; k++)
		if (!strcmp(name, sched_op_name((enum op_kind)k)))
			*op = k;
	return name && *op < 0 ? -1 : 0;
}

int cmd_export(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *format = NULL, *out = NULL, *op_name = NULL;
	long ticks = EXPORTFMT_HGRM_TICKS, phase = -1;
	struct xopts o = { 0 };
	const struct cli_opt opts[] = {
		{ "content", 0, OPT_STRING, &o.content, "CORPUS", "jsonl of vectors: fill \"content\" from this corpus" },
		{ "format", 'f', OPT_STRING, &format, "FMT",
		  "npy, fvecs, ivecs, csv, jsonl, hgrm, vdbb or engram-loadtest-json (default: from -o, else jsonl)" },
		{ "op", 0, OPT_STRING, &op_name, "OP", "hgrm: only this operation (store, recall, search)" },
		{ "output", 'o', OPT_STRING, &out, "FILE", "write to FILE instead of stdout" },
		{ "phase", 0, OPT_INT, &phase, "N", "a sweep run: export its phase N (csv, jsonl, hgrm)" },
		{ "service", 0, OPT_FLAG, &o.service, NULL, "hgrm: service time (from the send), not latency" },
		{ "ticks", 0, OPT_INT, &ticks, "N", "hgrm: percentile ticks per half-distance (default 5)" },
		{ 0 },
	};
	int first, done, rc = cli_parse(argc, argv, &export_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first >= argc)
		return cli_usage_error(&export_help, "missing ARTIFACT or RUN");
	if (first + 1 < argc)
		return cli_usage_error(&export_help, "unexpected argument '%s'", argv[first + 1]);
	if (!argv[first][0])
		return cli_usage_error(&export_help, "ARTIFACT or RUN is empty");
	if (pick_format(format, out, &o.fmt))
		return cli_usage_error(&export_help, "unknown format '%s'", format);
	if (parse_op(op_name, &o.op))
		return cli_usage_error(&export_help, "--op takes store, recall or search, not '%s'", op_name);
	if (ticks < 1 || ticks > 1000)
		return cli_usage_error(&export_help, "--ticks must be between 1 and 1000");
	o.ticks = (int)ticks;
	if (phase != -1 && (phase < 0 || phase > 100000))
		return cli_usage_error(&export_help, "--phase must be a phase number (0, 1, ...)");
	if (phase >= 0 && o.fmt != XF_CSV && o.fmt != XF_JSONL && o.fmt != XF_HGRM)
		return cli_usage_error(&export_help, "--phase applies to csv, jsonl and hgrm");
	o.phase = (int)phase;
	if ((op_name || o.service || ticks != EXPORTFMT_HGRM_TICKS) && o.fmt != XF_HGRM)
		return cli_usage_error(&export_help, "--op, --service and --ticks apply to --format hgrm");
	if (o.content && o.fmt != XF_JSONL)
		return cli_usage_error(&export_help, "--content only applies to jsonl output");
	if (!out || !strcmp(out, "-")) {
		if ((o.fmt == XF_NPY || o.fmt == XF_FVECS || o.fmt == XF_IVECS) && isatty(1)) {
			fprintf(stderr, "error: refusing to write binary %s to a terminal\n", xfmt_names[o.fmt]);
			fprintf(stderr, "hint: add -o FILE or pipe the output\n");
			return 2;
		}
		fflush(stdout);
		out = "/dev/stdout";
	}
	o.out = out;
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct err e = ERR_INIT;
	struct subject sub;
	if (resolve_subject(ctx->store, argv[first], &sub, &e))
		return cli_fail(&e);
	if (!sub.is_run && o.phase >= 0) {
		subject_release(&sub);
		return cli_usage_error(&export_help, "--phase applies to a run, not to an artifact");
	}
	rc = check_format(&sub, o.fmt, &e) ||
	     (sub.is_run ? export_run(ctx->store, &sub.run, &o, &e) : export_artifact(ctx->store, &sub.art, &o, &e));
	subject_release(&sub);
	return rc ? cli_fail(&e) : 0;
}
