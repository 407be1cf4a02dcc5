/*
 * instream.h — read a file as bytes, decompressing gzip or bzip2 on the fly.
 *
 * The format is detected from the magic bytes, not the file name: "\x1f\x8b"
 * is gzip (zlib, multi-member files included), "BZh" is bzip2 (libbz2,
 * concatenated streams as written by pbzip2/lbzip2 included), anything else
 * is read as is. Memory is bounded: one fixed input buffer plus the
 * decompressor state, whatever the file size.
 *
 * Errors are ERR_INPUT with the file name and the compressed byte offset,
 * e.g. "dump.xml.bz2: truncated bzip2 stream at byte 1048576"; a missing
 * file is ERR_MISSING, a read failure ERR_IO. Not thread-safe: one reader
 * per stream.
 */
#ifndef ENGRAVE_DATA_INSTREAM_H
#define ENGRAVE_DATA_INSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct err;
struct instream;

enum instream_kind { INSTREAM_PLAIN = 0, INSTREAM_GZIP, INSTREAM_BZIP2 };

/* Open `path` ("-" is stdin). Caller closes with instream_close. */
int instream_open(struct instream **out, const char *path, struct err *e);
/*
 * Read up to `cap` decompressed bytes into `dst`. Returns the number read
 * (> 0), 0 at the clean end of the data, or -1 with `e` filled.
 */
ssize_t instream_read(struct instream *s, void *dst, size_t cap, struct err *e);
/* Bytes of the underlying (compressed) file consumed so far. */
uint64_t instream_consumed(const struct instream *s);
/* Size of the underlying file in bytes, 0 when unknown (a pipe). */
uint64_t instream_file_size(const struct instream *s);
enum instream_kind instream_kind(const struct instream *s);
/* "plain", "gzip" or "bzip2". */
const char *instream_kind_name(enum instream_kind k);
/* NULL-safe. */
void instream_close(struct instream *s);

#endif
