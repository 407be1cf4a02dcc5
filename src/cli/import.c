/*
 * import.c — `engrave import FILE`: vectors or records into the store.
 *
 *   .npy / .fvecs   -> a "vectors" artifact (v1): part "vectors" (row-major
 *                      float32 LE), meta rows, dim, dtype "f32".
 *   .jsonl[.gz|.bz2] with an "embedding" on every line
 *                   -> a "vectors" artifact with parts "vectors", "ids" (the
 *                      record's id, else its 0-based ordinal) and
 *                      "confidence" (when every line has one).
 *   .jsonl without embeddings
 *                   -> a "corpus" artifact: part "articles" (article.h
 *                      records), meta "count".
 *
 * Everything streams in blocks of BLOCK_ROWS rows through obj_writer, so a
 * multi-GB file imports in bounded memory. The digest depends only on the
 * content (not the file name or format), so importing the same vectors
 * from .npy or .fvecs gives the same artifact. The digest is printed on
 * stdout (alone, for scripts) and --name also records it as a ref.
 */
#include "cli.h"
#include "engrave/article.h"
#include "engrave/buf.h"
#include "engrave/hash.h"
#include "engrave/jsonl.h"
#include "engrave/store.h"
#include "engrave/vecfile.h"
#include "engrave/xalloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BLOCK_ROWS 4096

static const struct cli_help import_help = {
	"import", "engrave import FILE [--name REF] [--dim N] [--json]",
	"import vectors or records (.npy, .fvecs, .jsonl) into the store",
	"FILE is a float32 matrix (.npy '<f4' C-order 2-D, or .fvecs), or JSON Lines\n"
	"(.jsonl, optionally .gz/.bz2) of {id, title, text[, embedding, confidence]}.\n"
	"Lines with embeddings become a vectors artifact (with ids), lines without a\n"
	"corpus artifact. The artifact digest is printed on stdout; --name also\n"
	"points a ref at it, for use in specs and 'engrave export'.",
};

struct imported {
	const char *type;
	uint64_t rows;
	uint32_t dim;
	struct digest d;
};

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcasecmp(s + a - b, suf) == 0;
}

static int is_jsonl(const char *path)
{
	return ends_with(path, ".jsonl") || ends_with(path, ".jsonl.gz") || ends_with(path, ".jsonl.bz2") ||
	       ends_with(path, ".ndjson");
}

static int put_vectors(struct store *s, struct digest *vec, uint64_t vec_size, uint64_t rows, uint32_t dim,
		       const struct digest *ids, uint64_t ids_size, const struct digest *conf, uint64_t conf_size,
		       struct digest *out, struct err *e)
{
	struct artifact a;
	artifact_init(&a, "vectors", 1);
	int rc = artifact_add_part(&a, "vectors", vec, vec_size, e);
	if (!rc && ids)
		rc = artifact_add_part(&a, "ids", ids, ids_size, e);
	if (!rc && conf)
		rc = artifact_add_part(&a, "confidence", conf, conf_size, e);
	if (!rc)
		rc = artifact_set_int(&a, "rows", (int64_t)rows, e);
	if (!rc)
		rc = artifact_set_int(&a, "dim", (int64_t)dim, e);
	if (!rc)
		rc = artifact_set_str(&a, "dtype", "f32", e);
	if (!rc)
		rc = artifact_put(s, &a, out, e);
	artifact_release(&a);
	return rc;
}

static int import_vecfile(struct store *s, const char *path, uint32_t dim, struct imported *res, struct err *e)
{
	struct vecfile_reader *r = NULL;
	struct obj_writer *w = NULL;
	float *blk = NULL;
	int rc = -1;
	if (vecfile_reader_open(&r, path, dim, e))
		return -1;
	res->rows = vecfile_reader_rows(r);
	res->dim = vecfile_reader_dim(r);
	if (res->rows == 0) {
		err_set(e, ERR_INPUT, "%s: no vectors in the file", path);
		goto out;
	}
	if (!(blk = xalloc_try_array(xalloc_mul(BLOCK_ROWS, res->dim), sizeof(float), "a block of vectors", e)))
		goto out;
	if (obj_writer_open(s, &w, e))
		goto out;
	long n;
	while ((n = vecfile_reader_read(r, blk, BLOCK_ROWS, e)) > 0)
		if (obj_write(w, blk, (size_t)n * res->dim * sizeof(float), e))
			goto out;
	if (n < 0)
		goto out;
	struct digest vec;
	uint64_t size = obj_writer_size(w);
	rc = obj_writer_finish(w, &vec, e);
	w = NULL;
	if (!rc)
		rc = put_vectors(s, &vec, size, res->rows, res->dim, NULL, 0, NULL, 0, &res->d, e);
	res->type = "vectors";
out:
	obj_writer_abort(w);
	free(blk);
	vecfile_reader_close(r);
	return rc;
}

struct jsonl_import {
	struct obj_writer *vec, *ids, *conf, *arts;
	struct buf blk;
	uint64_t rows;
	uint32_t dim;
	int mode;     /* 0 unknown, 1 vectors, 2 corpus */
	int has_conf; /* decided by the first record */
};

static int jsonl_record(struct store *s, struct jsonl_import *ji, const char *path, const struct jsonl_record *r,
			struct err *e)
{
	int want = r->embedding ? 1 : 2;
	if (!ji->mode) {
		ji->mode = want;
		ji->has_conf = r->has_confidence;
		if (obj_writer_open(s, want == 1 ? &ji->vec : &ji->arts, e))
			return -1;
		if (want == 1 && obj_writer_open(s, &ji->ids, e))
			return -1;
		if (want == 1 && ji->has_conf && obj_writer_open(s, &ji->conf, e))
			return -1;
	}
	if (want != ji->mode) {
		err_set(e, ERR_INPUT, "%s:%llu: %s an 'embedding' but the first record %s", path,
			(unsigned long long)r->line, want == 1 ? "has" : "lacks", want == 1 ? "does not" : "does");
		return err_hint(e, "give every line an embedding (vectors) or none (a text corpus)");
	}
	uint64_t id = r->has_id ? r->id : ji->rows;
	if (ji->mode == 1) {
		if (ji->has_conf != r->has_confidence) {
			err_set(e, ERR_INPUT, "%s:%llu: 'confidence' must be on every line or on none", path,
				(unsigned long long)r->line);
			return -1;
		}
		ji->dim = r->dim;
		if (obj_write(ji->vec, r->embedding, (size_t)r->dim * sizeof(float), e) ||
		    obj_write(ji->ids, &id, sizeof(id), e) ||
		    (ji->has_conf && obj_write(ji->conf, &r->confidence, sizeof(float), e)))
			return -1;
	} else {
		struct article a = { id, (char *)(r->title ? r->title : ""), (char *)(r->text ? r->text : "") };
		if (article_encode(&ji->blk, &a))
			return err_set(e, ERR_INPUT, "%s:%llu: record too large", path, (unsigned long long)r->line);
		if (ji->blk.len >= (1u << 20)) {
			if (obj_write(ji->arts, ji->blk.data, ji->blk.len, e))
				return -1;
			buf_reset(&ji->blk);
		}
	}
	ji->rows++;
	return 0;
}

static int import_jsonl(struct store *s, const char *path, uint32_t dim, struct imported *res, struct err *e)
{
	struct jsonl_reader *r = NULL;
	struct jsonl_import ji = { 0 };
	buf_init(&ji.blk, 0);
	int rc = -1;
	if (jsonl_reader_open(&r, path, dim, e))
		goto out;
	struct jsonl_record rec;
	int got;
	while ((got = jsonl_reader_next(r, &rec, e)) == 1)
		if (jsonl_record(s, &ji, path, &rec, e))
			goto out;
	if (got < 0)
		goto out;
	if (!ji.mode) {
		err_set(e, ERR_INPUT, "%s: no records in the file", path);
		goto out;
	}
	res->rows = ji.rows;
	if (ji.mode == 1) {
		struct digest vd, idd, cd;
		uint64_t vs = obj_writer_size(ji.vec), is = obj_writer_size(ji.ids);
		uint64_t cs = ji.conf ? obj_writer_size(ji.conf) : 0;
		int frc = obj_writer_finish(ji.vec, &vd, e);
		ji.vec = NULL;
		if (!frc) {
			frc = obj_writer_finish(ji.ids, &idd, e);
			ji.ids = NULL;
		}
		if (!frc && ji.conf) {
			frc = obj_writer_finish(ji.conf, &cd, e);
			ji.conf = NULL;
		}
		if (frc)
			goto out;
		res->type = "vectors";
		res->dim = ji.dim;
		rc = put_vectors(s, &vd, vs, ji.rows, ji.dim, &idd, is, ji.has_conf ? &cd : NULL, cs, &res->d, e);
	} else {
		if (ji.blk.len && obj_write(ji.arts, ji.blk.data, ji.blk.len, e))
			goto out;
		struct digest ad;
		uint64_t as = obj_writer_size(ji.arts);
		int frc = obj_writer_finish(ji.arts, &ad, e);
		ji.arts = NULL;
		if (frc)
			goto out;
		struct artifact a;
		artifact_init(&a, "corpus", 1);
		rc = artifact_add_part(&a, "articles", &ad, as, e);
		if (!rc)
			rc = artifact_set_int(&a, "count", (int64_t)ji.rows, e);
		if (!rc)
			rc = artifact_put(s, &a, &res->d, e);
		artifact_release(&a);
		res->type = "corpus";
	}
out:
	obj_writer_abort(ji.vec);
	obj_writer_abort(ji.ids);
	obj_writer_abort(ji.conf);
	obj_writer_abort(ji.arts);
	buf_release(&ji.blk);
	jsonl_reader_close(r);
	return rc;
}

int cmd_import(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *name = NULL;
	long dim = 0;
	int json = 0;
	const struct cli_opt opts[] = {
		{ "name", 'n', OPT_STRING, &name, "REF", "also point the ref REF at the new artifact" },
		{ "dim", 0, OPT_INT, &dim, "N", "require vectors of this dim" },
		{ "json", 0, OPT_FLAG, &json, NULL, "print the result as JSON" },
		{ 0 },
	};
	int first, done, rc = cli_parse(argc, argv, &import_help, opts, &first, &done);
	if (rc || done)
		return rc;
	if (first >= argc)
		return cli_usage_error(&import_help, "missing FILE");
	if (first + 1 < argc)
		return cli_usage_error(&import_help, "unexpected argument '%s'", argv[first + 1]);
	if (dim < 0 || dim > (1 << 20))
		return cli_usage_error(&import_help, "--dim must be between 1 and 1048576");
	const char *path = argv[first];
	int jl = is_jsonl(path);
	enum vecfile_format f = vecfile_format_from_path(path);
	if (!jl && f != VECFILE_NPY && f != VECFILE_FVECS)
		return cli_usage_error(&import_help, "'%s': unknown file type (use .npy, .fvecs or .jsonl)", path);

	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct err e = ERR_INIT;
	struct store *s = ctx->store;
	struct imported res = { 0 };
	rc = jl ? import_jsonl(s, path, (uint32_t)dim, &res, &e) : import_vecfile(s, path, (uint32_t)dim, &res, &e);
	char hex[DIGEST_HEX_LEN + 1] = "";
	if (!rc) {
		digest_to_hex(&res.d, hex);
		if (name)
			rc = ref_set(s, name, hex, &e);
	}
	if (rc)
		return cli_fail(&e);
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "digest", json_string(hex));
		json_object_set_new(o, "type", json_string(res.type));
		json_object_set_new(o, "rows", json_integer((json_int_t)res.rows));
		if (res.dim)
			json_object_set_new(o, "dim", json_integer(res.dim));
		json_object_set_new(o, "file", json_string(path));
		json_object_set_new(o, "ref", name ? json_string(name) : json_null());
		char *t = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (t)
			printf("%s\n", t);
		free(t);
		json_decref(o);
	} else {
		if (!ctx->quiet) {
			if (res.dim)
				fprintf(stderr, "imported %s: %s, %llu x %u float32%s%s\n", path, res.type,
					(unsigned long long)res.rows, res.dim, name ? ", ref " : "", name ? name : "");
			else
				fprintf(stderr, "imported %s: %s, %llu records%s%s\n", path, res.type,
					(unsigned long long)res.rows, name ? ", ref " : "", name ? name : "");
		}
		printf("%s\n", hex);
	}
	return 0;
}
