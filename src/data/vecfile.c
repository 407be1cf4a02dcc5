/*
 * vecfile.c — .npy / .fvecs readers and .npy / .fvecs / CSV writers.
 *
 * Readers validate everything up front (header, dtype, order, shape, file
 * size against the shape), so a bad file fails before any row is stored,
 * then stream rows with fread through a 1 MiB stdio buffer: memory is the
 * caller's row block plus that buffer. Every value read must be finite (NaN
 * and infinity are ERR_INPUT naming the row and column). The .npy header is a Python dict
 * literal; we parse only the three keys NumPy writes (descr, fortran_order,
 * shape) with a small scanner rather than a Python-literal parser.
 *
 * The .npy writer writes a fixed 128-byte v1 header before the first row,
 * with the count announced by vecfile_writer_expect_rows (or 0), and
 * rewrites it at close if the final count differs, so exporters can stream
 * without knowing the count in advance, and to a pipe when they do. Files are little-endian, as is the host (checked at
 * compile time).
 */
#include "engrave/vecfile.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vecfile.c assumes a little-endian host"
#endif

#define IOBUF (1u << 20)
#define NPY_HEADER_TOTAL 128
#define MAX_DIM (1u << 20)

/* ---- formats ------------------------------------------------------------ */

enum vecfile_format vecfile_format_from_name(const char *name)
{
	if (!name)
		return VECFILE_UNKNOWN;
	if (!strcasecmp(name, "npy"))
		return VECFILE_NPY;
	if (!strcasecmp(name, "fvecs"))
		return VECFILE_FVECS;
	if (!strcasecmp(name, "csv"))
		return VECFILE_CSV;
	return VECFILE_UNKNOWN;
}

enum vecfile_format vecfile_format_from_path(const char *path)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return VECFILE_UNKNOWN;
	return vecfile_format_from_name(dot + 1);
}

const char *vecfile_format_name(enum vecfile_format f)
{
	switch (f) {
	case VECFILE_NPY:
		return "npy";
	case VECFILE_FVECS:
		return "fvecs";
	case VECFILE_CSV:
		return "csv";
	default:
		return "unknown";
	}
}

/* ---- reader ------------------------------------------------------------- */

struct vecfile_reader {
	FILE *f;
	char *path;
	char *iobuf;
	enum vecfile_format fmt;
	uint64_t rows, next_row;
	uint32_t dim;
};

/* Find key ('key' or "key") in the header dict; returns a pointer after its ':' or NULL. */
static const char *npy_key(const char *h, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = h; (p = strstr(p, key)); p += kl) {
		if (p == h || (p[-1] != '\'' && p[-1] != '"') || (p[kl] != '\'' && p[kl] != '"'))
			continue;
		const char *q = p + kl + 1;
		while (*q == ' ')
			q++;
		if (*q == ':')
			return q + 1;
	}
	return NULL;
}

static int npy_parse(struct vecfile_reader *r, const char *h, struct err *e)
{
	const char *p = npy_key(h, "descr");
	if (!p)
		return err_set(e, ERR_INPUT, "%s: .npy header has no 'descr'", r->path);
	while (*p == ' ')
		p++;
	char q = *p;
	if (q != '\'' && q != '"')
		return err_set(e, ERR_INPUT, "%s: .npy 'descr' is not a simple dtype (structured arrays are not supported)",
			       r->path);
	const char *de = strchr(p + 1, q);
	if (!de)
		return err_set(e, ERR_INPUT, "%s: malformed .npy header", r->path);
	size_t dl = (size_t)(de - p - 1);
	if (!(dl == 3 && (memcmp(p + 1, "<f4", 3) == 0 || memcmp(p + 1, "=f4", 3) == 0))) {
		err_set(e, ERR_INPUT, "%s: dtype '%.*s' is not supported; engrave reads little-endian float32 ('<f4')",
			r->path, (int)(dl > 16 ? 16 : dl), p + 1);
		return err_hint(e, "convert it: numpy.save(path, numpy.load(path).astype('<f4'))");
	}
	p = npy_key(h, "fortran_order");
	if (!p)
		return err_set(e, ERR_INPUT, "%s: .npy header has no 'fortran_order'", r->path);
	while (*p == ' ')
		p++;
	if (strncmp(p, "True", 4) == 0) {
		err_set(e, ERR_INPUT, "%s: array is in Fortran (column-major) order; engrave reads C order", r->path);
		return err_hint(e, "convert it: numpy.save(path, numpy.ascontiguousarray(numpy.load(path)))");
	}
	if (strncmp(p, "False", 5) != 0)
		return err_set(e, ERR_INPUT, "%s: malformed 'fortran_order' in .npy header", r->path);
	p = npy_key(h, "shape");
	if (!p)
		return err_set(e, ERR_INPUT, "%s: .npy header has no 'shape'", r->path);
	while (*p == ' ')
		p++;
	if (*p != '(')
		return err_set(e, ERR_INPUT, "%s: malformed 'shape' in .npy header", r->path);
	p++;
	uint64_t dims[8];
	int nd = 0;
	for (;;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == ')')
			break;
		if (!isdigit((unsigned char)*p) || nd == 8)
			return err_set(e, ERR_INPUT, "%s: malformed 'shape' in .npy header", r->path);
		char *end;
		errno = 0;
		unsigned long long v = strtoull(p, &end, 10);
		if (errno)
			return err_set(e, ERR_INPUT, "%s: 'shape' out of range in .npy header", r->path);
		dims[nd++] = v;
		p = end;
		while (*p == 'L') /* Python 2 longs */
			p++;
	}
	if (nd != 2) {
		err_set(e, ERR_INPUT, "%s: array has %d dimension%s; engrave reads 2-D (rows, dim) matrices", r->path,
			nd, nd == 1 ? "" : "s");
		return err_hint(e, "reshape it: a.reshape(-1, dim)");
	}
	if (dims[1] == 0 || dims[1] > MAX_DIM)
		return err_set(e, ERR_INPUT, "%s: vector dim %" PRIu64 " is out of range (1..%u)", r->path, dims[1],
			       MAX_DIM);
	r->rows = dims[0];
	r->dim = (uint32_t)dims[1];
	return 0;
}

static int open_npy(struct vecfile_reader *r, uint64_t fsize, struct err *e)
{
	unsigned char pre[12];
	if (fread(pre, 1, 10, r->f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
		return err_set(e, ERR_INPUT, "%s: not a .npy file (bad magic)", r->path);
	uint32_t hl;
	size_t off;
	if (pre[6] == 1) {
		hl = (uint32_t)pre[8] | ((uint32_t)pre[9] << 8);
		off = 10;
	} else if (pre[6] == 2 || pre[6] == 3) {
		if (fread(pre + 10, 1, 2, r->f) != 2)
			return err_set(e, ERR_INPUT, "%s: truncated .npy header", r->path);
		memcpy(&hl, pre + 8, 4);
		off = 12;
	} else {
		return err_set(e, ERR_INPUT, "%s: .npy format version %u.%u is not supported (1.0-3.0 are)", r->path,
			       pre[6], pre[7]);
	}
	if (hl > (1u << 20))
		return err_set(e, ERR_INPUT, "%s: .npy header of %u bytes is implausible", r->path, hl);
	char *h = xmalloc((size_t)hl + 1); /* at most 1 MiB + 1, checked above */
	if (fread(h, 1, hl, r->f) != hl) {
		free(h);
		return err_set(e, ERR_INPUT, "%s: truncated .npy header", r->path);
	}
	h[hl] = '\0';
	int rc = npy_parse(r, h, e);
	free(h);
	if (rc < 0)
		return -1;
	uint64_t data = fsize - off - hl;
	uint64_t want = r->rows * (uint64_t)r->dim * 4;
	if (fsize < off + hl || data != want) {
		err_set(e, ERR_INPUT,
			"%s: header says %" PRIu64 " x %u float32 (%" PRIu64 " bytes) but the file holds %" PRIu64
			" data bytes",
			r->path, r->rows, r->dim, want, fsize >= off + hl ? data : 0);
		return err_hint(e, "the file is truncated or was not written by numpy.save");
	}
	return 0;
}

static int open_fvecs(struct vecfile_reader *r, uint64_t fsize, struct err *e)
{
	if (fsize == 0) {
		r->rows = 0;
		r->dim = 0;
		return 0;
	}
	int32_t d;
	if (fread(&d, 4, 1, r->f) != 1)
		return err_set(e, ERR_INPUT, "%s: truncated .fvecs file", r->path);
	if (d <= 0 || (uint32_t)d > MAX_DIM)
		return err_set(e, ERR_INPUT, "%s: first row has dim %d; not an .fvecs file?", r->path, d);
	uint64_t rb = 4 + 4 * (uint64_t)d;
	if (fsize % rb) {
		err_set(e, ERR_INPUT, "%s: size %" PRIu64 " is not a whole number of %d-dim rows (%" PRIu64 " bytes each)",
			r->path, fsize, d, rb);
		return err_hint(e, "the file is truncated, or its rows have different dims");
	}
	r->rows = fsize / rb;
	r->dim = (uint32_t)d;
	if (fseek(r->f, 0, SEEK_SET) != 0)
		return err_set_errno(e, ERR_IO, errno, "%s: seek", r->path);
	return 0;
}

int vecfile_reader_open(struct vecfile_reader **out, const char *path, uint32_t expect_dim, struct err *e)
{
	*out = NULL;
	struct vecfile_reader *r = xcalloc(1, sizeof(*r));
	r->path = xstrdup(path);
	r->iobuf = xmalloc(IOBUF);
	r->f = fopen(path, "rb");
	if (!r->f) {
		int en = errno;
		vecfile_reader_close(r);
		return err_set_errno(e, en == ENOENT ? ERR_MISSING : ERR_IO, en, "cannot open '%s'", path);
	}
	setvbuf(r->f, r->iobuf, _IOFBF, IOBUF);
	struct stat st;
	if (fstat(fileno(r->f), &st) != 0 || !S_ISREG(st.st_mode)) {
		vecfile_reader_close(r);
		return err_set(e, ERR_INPUT, "%s: not a regular file", path);
	}
	r->fmt = vecfile_format_from_path(path);
	if (r->fmt != VECFILE_NPY && r->fmt != VECFILE_FVECS) {
		char m[6] = { 0 };
		size_t n = fread(m, 1, 6, r->f);
		r->fmt = n == 6 && memcmp(m, "\x93NUMPY", 6) == 0 ? VECFILE_NPY : VECFILE_FVECS;
		rewind(r->f);
	}
	int rc = r->fmt == VECFILE_NPY ? open_npy(r, (uint64_t)st.st_size, e)
				       : open_fvecs(r, (uint64_t)st.st_size, e);
	if (rc == 0 && expect_dim && r->rows && r->dim != expect_dim) {
		err_set(e, ERR_INPUT, "%s: vectors have dim %u but dim %u was expected", path, r->dim, expect_dim);
		err_hint(e, "use vectors of the spec's dim, or change the spec's dim to %u", r->dim);
		rc = -1;
	}
	if (rc < 0) {
		vecfile_reader_close(r);
		return -1;
	}
	*out = r;
	return 0;
}

uint64_t vecfile_reader_rows(const struct vecfile_reader *r) { return r->rows; }
uint32_t vecfile_reader_dim(const struct vecfile_reader *r) { return r->dim; }
enum vecfile_format vecfile_reader_format(const struct vecfile_reader *r) { return r->fmt; }

long vecfile_reader_read(struct vecfile_reader *r, float *out, size_t max_rows, struct err *e)
{
	uint64_t left = r->rows - r->next_row;
	size_t n = max_rows < left ? max_rows : (size_t)left;
	if (n == 0)
		return 0;
	if (r->fmt == VECFILE_NPY) {
		if (fread(out, 4 * (size_t)r->dim, n, r->f) != n)
			return err_set(e, ERR_INPUT, "%s: short read at row %" PRIu64, r->path, r->next_row);
	} else {
		for (size_t i = 0; i < n; i++) {
			int32_t d;
			if (fread(&d, 4, 1, r->f) != 1 ||
			    (d == (int32_t)r->dim && fread(out + i * r->dim, 4, r->dim, r->f) != r->dim))
				return err_set(e, ERR_INPUT, "%s: short read at row %" PRIu64, r->path,
					       r->next_row + i);
			if (d != (int32_t)r->dim)
				return err_set(e, ERR_INPUT, "%s: row %" PRIu64 " has dim %d, the first row has %u",
					       r->path, r->next_row + i, d, r->dim);
		}
	}
	/* NaN and infinity are refused here, for every reader (import, the corpus
	 * step), as the JSONL reader refuses them: no distance or JSON body can
	 * carry them, and a target would fail on them much later. */
	for (size_t i = 0; i < n * r->dim; i++)
		if (!isfinite(out[i])) {
			err_set(e, ERR_INPUT, "%s: row %" PRIu64 ", column %zu holds %s, not a finite number", r->path,
				r->next_row + i / r->dim, i % r->dim, isnan(out[i]) ? "NaN" : "infinity");
			return err_hint(e, "rows and columns count from 0; drop or repair those rows (e.g. numpy.nan_to_num)");
		}
	r->next_row += n;
	return (long)n;
}

void vecfile_reader_close(struct vecfile_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r->iobuf);
	free(r->path);
	free(r);
}

/* ---- writer ------------------------------------------------------------- */

struct vecfile_writer {
	FILE *f;
	char *path;
	char *iobuf;
	enum vecfile_format fmt;
	uint32_t dim;
	uint64_t rows;
	uint64_t header_rows; /* the row count in the .npy header as written */
	int header_done;
	int csv_header_done, csv_ids, csv_labels;
	int failed;
};

static int npy_header(struct vecfile_writer *w, uint64_t rows)
{
	char h[NPY_HEADER_TOTAL];
	memcpy(h, "\x93NUMPY\x01\x00", 8);
	uint16_t hl = NPY_HEADER_TOTAL - 10;
	memcpy(h + 8, &hl, 2);
	int n = snprintf(h + 10, (size_t)hl, "{'descr': '<f4', 'fortran_order': False, 'shape': (%" PRIu64 ", %u), }",
			 rows, w->dim);
	memset(h + 10 + n, ' ', (size_t)(hl - n - 1));
	w->header_rows = rows;
	w->header_done = 1;
	h[NPY_HEADER_TOTAL - 1] = '\n';
	return fwrite(h, 1, NPY_HEADER_TOTAL, w->f) == NPY_HEADER_TOTAL ? 0 : -1;
}

int vecfile_writer_open(struct vecfile_writer **out, const char *path, enum vecfile_format fmt, uint32_t dim,
			struct err *e)
{
	*out = NULL;
	if (fmt != VECFILE_NPY && fmt != VECFILE_FVECS && fmt != VECFILE_CSV)
		return err_set(e, ERR_USAGE, "%s: unknown vector file format", path);
	if (dim == 0 || dim > MAX_DIM)
		return err_set(e, ERR_USAGE, "%s: dim %u is out of range", path, dim);
	struct vecfile_writer *w = xcalloc(1, sizeof(*w));
	w->path = xstrdup(path);
	w->iobuf = xmalloc(IOBUF);
	w->fmt = fmt;
	w->dim = dim;
	w->f = fopen(path, "wb");
	if (!w->f) {
		int en = errno;
		free(w->iobuf);
		free(w->path);
		free(w);
		return err_set_errno(e, ERR_IO, en, "cannot create '%s'", path);
	}
	setvbuf(w->f, w->iobuf, _IOFBF, IOBUF);
	*out = w;
	return 0;
}

void vecfile_writer_expect_rows(struct vecfile_writer *w, uint64_t rows)
{
	if (!w->header_done)
		w->header_rows = rows;
}

int vecfile_writer_write(struct vecfile_writer *w, const float *rows, size_t n, const uint64_t *ids,
			 const uint32_t *labels, struct err *e)
{
	if (w->failed)
		return err_set(e, ERR_IO, "%s: an earlier write failed", w->path);
	int ok = 1;
	if (w->fmt == VECFILE_NPY) {
		if (!w->header_done && npy_header(w, w->header_rows) < 0)
			ok = 0;
		else
			ok = fwrite(rows, 4 * (size_t)w->dim, n, w->f) == n;
	} else if (w->fmt == VECFILE_FVECS) {
		int32_t d = (int32_t)w->dim;
		for (size_t i = 0; i < n && ok; i++)
			ok = fwrite(&d, 4, 1, w->f) == 1 && fwrite(rows + i * w->dim, 4, w->dim, w->f) == w->dim;
	} else {
		if (!w->csv_header_done) {
			w->csv_ids = ids != NULL;
			w->csv_labels = labels != NULL;
			const char *sep = "";
			if (w->csv_ids) {
				fputs("id", w->f);
				sep = ",";
			}
			if (w->csv_labels) {
				fprintf(w->f, "%slabel", sep);
				sep = ",";
			}
			for (uint32_t j = 0; j < w->dim; j++) {
				fprintf(w->f, "%sv%u", sep, j);
				sep = ",";
			}
			fputc('\n', w->f);
			w->csv_header_done = 1;
		}
		if ((w->csv_ids && !ids) || (w->csv_labels && !labels))
			return err_set(e, ERR_INTERNAL, "%s: ids/labels given in the first write only", w->path);
		for (size_t i = 0; i < n; i++) {
			const char *sep = "";
			if (w->csv_ids) {
				fprintf(w->f, "%" PRIu64, ids[i]);
				sep = ",";
			}
			if (w->csv_labels) {
				fprintf(w->f, "%s%u", sep, labels[i]);
				sep = ",";
			}
			const float *r = rows + i * w->dim;
			for (uint32_t j = 0; j < w->dim; j++) {
				fprintf(w->f, "%s%.9g", sep, (double)r[j]);
				sep = ",";
			}
			if (fputc('\n', w->f) == EOF)
				ok = 0;
		}
	}
	if (!ok) {
		w->failed = 1;
		return err_set_errno(e, errno == ENOSPC ? ERR_NOSPACE : ERR_IO, errno, "%s: write", w->path);
	}
	w->rows += n;
	return 0;
}

uint64_t vecfile_writer_rows(const struct vecfile_writer *w) { return w->rows; }

int vecfile_writer_close(struct vecfile_writer *w, struct err *e)
{
	if (!w)
		return 0;
	int rc = w->failed ? -1 : 0;
	if (!w->failed && w->fmt == VECFILE_NPY) {
		if (!w->header_done) {
			if (npy_header(w, w->rows) < 0)
				rc = err_set_errno(e, ERR_IO, errno, "%s: write", w->path);
		} else if (w->header_rows != w->rows) {
			if (fflush(w->f) != 0 || fseek(w->f, 0, SEEK_SET) != 0 || npy_header(w, w->rows) < 0)
				rc = err_set_errno(e, ERR_IO, errno,
						   "%s: cannot finish the .npy header (%llu rows announced, %llu written)",
						   w->path, (unsigned long long)w->header_rows,
						   (unsigned long long)w->rows);
		}
	}
	if (fclose(w->f) != 0 && rc == 0)
		rc = err_set_errno(e, errno == ENOSPC ? ERR_NOSPACE : ERR_IO, errno, "%s: close", w->path);
	if (w->failed)
		err_set(e, ERR_IO, "%s: an earlier write failed", w->path);
	free(w->iobuf);
	free(w->path);
	free(w);
	return rc;
}
