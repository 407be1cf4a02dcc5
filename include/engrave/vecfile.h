/*
 * vecfile.h — float32 matrices in files: .npy, .fvecs and CSV.
 *
 * Readers stream row blocks (bounded memory whatever the file size) and
 * check the file against its own header before the first row is returned:
 *   .npy   NumPy format v1/v2/v3, dtype '<f4' only, C order only, 2-D
 *          (rows, dim); the size must match the header exactly.
 *   .fvecs per row: int32 LE dim, then dim float32 LE; every row the same
 *          dim; the size must be a whole number of rows.
 * Writers produce .npy (v1 header; the row count is patched in at close
 * unless announced, so it need not be known up front), .fvecs, and CSV ("id,label,v0,...,vN-1",
 * id/label columns only when given; floats "%.9g", round-trip exact).
 *
 * Errors are ERR_INPUT naming the file and what to do ("x.npy: dtype
 * '<f8' is not supported; save float32 ..."), ERR_MISSING / ERR_IO for the
 * file system. Handles are single-threaded.
 */
#ifndef ENGRAVE_VECFILE_H
#define ENGRAVE_VECFILE_H

#include <stddef.h>
#include <stdint.h>

struct err;

enum vecfile_format { VECFILE_UNKNOWN = 0, VECFILE_NPY, VECFILE_FVECS, VECFILE_CSV };

/* From the file name's extension (.npy, .fvecs, .csv), case-insensitive. */
enum vecfile_format vecfile_format_from_path(const char *path);
/* "npy", "fvecs", "csv"; VECFILE_UNKNOWN for anything else. */
enum vecfile_format vecfile_format_from_name(const char *name);
const char *vecfile_format_name(enum vecfile_format f);

struct vecfile_reader;

/*
 * Open a .npy or .fvecs file (format from the extension, or the magic
 * bytes when the extension is unknown). `expect_dim` 0 accepts any width;
 * otherwise a different width is an ERR_INPUT naming both. Caller closes
 * with vecfile_reader_close.
 */
int vecfile_reader_open(struct vecfile_reader **out, const char *path, uint32_t expect_dim,
			struct err *e);
uint64_t vecfile_reader_rows(const struct vecfile_reader *r);
uint32_t vecfile_reader_dim(const struct vecfile_reader *r);
enum vecfile_format vecfile_reader_format(const struct vecfile_reader *r);
/*
 * Read up to `max_rows` rows into out[max_rows * dim]. Returns the number
 * of rows read (0 at the end) or -1. A NaN or infinite value is ERR_INPUT
 * naming its row and column (from 0).
 */
long vecfile_reader_read(struct vecfile_reader *r, float *out, size_t max_rows, struct err *e);
void vecfile_reader_close(struct vecfile_reader *r);

struct vecfile_writer;

/* Create (truncate) `path`. Caller must call vecfile_writer_close. */
int vecfile_writer_open(struct vecfile_writer **out, const char *path, enum vecfile_format fmt,
			uint32_t dim, struct err *e);
/*
 * Append n rows (rows[n * dim]). ids and labels may be NULL; they are used
 * by CSV only (a CSV gets an id column if the first call has ids, a label
 * column if it has labels).
 */
int vecfile_writer_write(struct vecfile_writer *w, const float *rows, size_t n, const uint64_t *ids,
			 const uint32_t *labels, struct err *e);
uint64_t vecfile_writer_rows(const struct vecfile_writer *w);
/*
 * Announce the final row count before the first write: the .npy header is
 * then right the first time and never rewritten, so the output may be a
 * pipe. Without it (or if the count differs) close seeks back to fix it.
 */
void vecfile_writer_expect_rows(struct vecfile_writer *w, uint64_t rows);
/* Flush, patch the .npy header, close. Returns -1 if any write failed. NULL-safe. */
int vecfile_writer_close(struct vecfile_writer *w, struct err *e);

#endif
