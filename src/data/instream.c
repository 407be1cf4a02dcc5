/*
 * instream.c — one byte stream over plain, gzip and bzip2 files.
 *
 * The design is a single fixed input buffer (IN_CAP bytes) that is refilled
 * with read(2) and handed to the decompressor chosen by sniffing the first
 * bytes: zlib's inflate (windowBits 15+32 accepts the gzip wrapper) or
 * libbz2's BZ2_bzDecompress. Decompressed bytes go straight into the
 * caller's buffer, so memory stays at IN_CAP plus the decompressor's own
 * state (~64 KiB for zlib, ~3.6 MiB for bzip2 -9) for files of any size.
 *
 * Multi-member gzip files and concatenated bzip2 streams (pbzip2/lbzip2
 * output, Wikimedia's "multistream" dumps) are read through: after a
 * stream's end marker, more input starting with the same magic begins a new
 * stream; anything else is reported as trailing garbage. The end of the
 * file before an end marker is a truncated stream. Offsets in messages are
 * compressed bytes consumed, i.e. where in the file the problem was seen.
 */
#include "data/instream.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <bzlib.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IN_CAP (256u * 1024u)

struct instream {
	char *path;
	int fd;
	int own_fd;
	enum instream_kind kind;
	int eof;        /* read(2) returned 0 */
	int done;       /* clean end of data reached */
	int dec_live;   /* decompressor initialised */
	uint64_t file_read;
	uint64_t file_size;
	size_t in_pos, in_len;
	z_stream z;
	bz_stream bz;
	unsigned char in[IN_CAP];
};

static int refill(struct instream *s, struct err *e)
{
	if (s->in_pos < s->in_len && s->in_pos > 0) {
		memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
		s->in_len -= s->in_pos;
		s->in_pos = 0;
	} else if (s->in_pos >= s->in_len) {
		s->in_pos = s->in_len = 0;
	}
	while (!s->eof && s->in_len < IN_CAP) {
		ssize_t n = read(s->fd, s->in + s->in_len, IN_CAP - s->in_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_set_errno(e, ERR_IO, errno, "%s: read failed at byte %llu", s->path,
					     (unsigned long long)s->file_read);
		}
		if (n == 0) {
			s->eof = 1;
			break;
		}
		s->in_len += (size_t)n;
		s->file_read += (uint64_t)n;
		break; /* one read per refill: a pipe delivers what it has */
	}
	return 0;
}

uint64_t instream_consumed(const struct instream *s)
{
	return s->file_read - (uint64_t)(s->in_len - s->in_pos);
}

static int start_decoder(struct instream *s, struct err *e)
{
	if (s->kind == INSTREAM_GZIP) {
		memset(&s->z, 0, sizeof(s->z));
		if (inflateInit2(&s->z, 15 + 32) != Z_OK)
			return err_set(e, ERR_INTERNAL, "%s: cannot initialise zlib", s->path);
	} else if (s->kind == INSTREAM_BZIP2) {
		memset(&s->bz, 0, sizeof(s->bz));
		if (BZ2_bzDecompressInit(&s->bz, 0, 0) != BZ_OK)
			return err_set(e, ERR_INTERNAL, "%s: cannot initialise libbz2", s->path);
	}
	s->dec_live = 1;
	return 0;
}

static void stop_decoder(struct instream *s)
{
	if (!s->dec_live)
		return;
	if (s->kind == INSTREAM_GZIP)
		inflateEnd(&s->z);
	else if (s->kind == INSTREAM_BZIP2)
		BZ2_bzDecompressEnd(&s->bz);
	s->dec_live = 0;
}

int instream_open(struct instream **out, const char *path, struct err *e)
{
	*out = NULL;
	struct instream *s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	if (strcmp(path, "-") == 0) {
		s->fd = 0;
	} else {
		s->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0) {
			int en = errno;
			free(s->path);
			free(s);
			return err_set_errno(e, en == ENOENT ? ERR_MISSING : ERR_IO, en, "cannot open '%s'", path);
		}
		s->own_fd = 1;
		struct stat st;
		if (fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode))
			s->file_size = (uint64_t)st.st_size;
#ifdef POSIX_FADV_SEQUENTIAL
		posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
	}
	/* Sniff: make sure at least 3 bytes are buffered unless the file is shorter. */
	while (!s->eof && s->in_len < 3) {
		if (refill(s, e) < 0) {
			instream_close(s);
			return -1;
		}
	}
	const unsigned char *m = s->in;
	if (s->in_len >= 2 && m[0] == 0x1f && m[1] == 0x8b)
		s->kind = INSTREAM_GZIP;
	else if (s->in_len >= 3 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h')
		s->kind = INSTREAM_BZIP2;
	else
		s->kind = INSTREAM_PLAIN;
	if (s->kind != INSTREAM_PLAIN && start_decoder(s, e) < 0) {
		instream_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

static int has_magic(struct instream *s)
{
	const unsigned char *m = s->in + s->in_pos;
	size_t n = s->in_len - s->in_pos;
	if (s->kind == INSTREAM_GZIP)
		return n >= 2 && m[0] == 0x1f && m[1] == 0x8b;
	return n >= 3 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h';
}

/* After a stream's end marker: 1 = another stream follows, 0 = clean end, -1 error. */
static int next_member(struct instream *s, struct err *e)
{
	while (s->in_len - s->in_pos < 3 && !s->eof)
		if (refill(s, e) < 0)
			return -1;
	if (s->in_pos == s->in_len && s->eof)
		return 0;
	if (!has_magic(s))
		return err_set(e, ERR_INPUT, "%s: trailing garbage after %s stream at byte %llu", s->path,
			       instream_kind_name(s->kind), (unsigned long long)instream_consumed(s));
	stop_decoder(s);
	if (start_decoder(s, e) < 0)
		return -1;
	return 1;
}

static ssize_t read_plain(struct instream *s, void *dst, size_t cap, struct err *e)
{
	if (s->in_pos < s->in_len) {
		size_t n = s->in_len - s->in_pos;
		if (n > cap)
			n = cap;
		memcpy(dst, s->in + s->in_pos, n);
		s->in_pos += n;
		return (ssize_t)n;
	}
	for (;;) {
		ssize_t n = read(s->fd, dst, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set_errno(e, ERR_IO, errno, "%s: read failed at byte %llu", s->path,
					     (unsigned long long)s->file_read);
		s->file_read += (uint64_t)n;
		if (n == 0)
			s->done = 1;
		return n;
	}
}

static ssize_t read_gzip(struct instream *s, void *dst, size_t cap, struct err *e)
{
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	for (;;) {
		if (s->in_pos == s->in_len && !s->eof && refill(s, e) < 0)
			return -1;
		s->z.next_in = s->in + s->in_pos;
		s->z.avail_in = (uInt)(s->in_len - s->in_pos);
		s->z.next_out = dst;
		s->z.avail_out = (uInt)cap;
		int rc = inflate(&s->z, Z_NO_FLUSH);
		s->in_pos = (size_t)(s->z.next_in - s->in);
		size_t got = cap - s->z.avail_out;
		if (rc == Z_STREAM_END) {
			int more = next_member(s, e);
			if (more < 0)
				return -1;
			if (!more)
				s->done = 1;
			if (got > 0 || s->done)
				return (ssize_t)got;
			continue;
		}
		if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR)
			return err_set(e, ERR_INPUT, "%s: corrupt gzip data at byte %llu (%s)", s->path,
				       (unsigned long long)instream_consumed(s), s->z.msg ? s->z.msg : "bad data");
		if (rc == Z_MEM_ERROR)
			return err_set(e, ERR_INTERNAL, "%s: out of memory in zlib", s->path);
		if (got > 0)
			return (ssize_t)got;
		if (s->in_pos == s->in_len && s->eof)
			return err_set(e, ERR_INPUT, "%s: truncated gzip stream at byte %llu", s->path,
				       (unsigned long long)instream_consumed(s));
	}
}

static ssize_t read_bzip2(struct instream *s, void *dst, size_t cap, struct err *e)
{
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	for (;;) {
		if (s->in_pos == s->in_len && !s->eof && refill(s, e) < 0)
			return -1;
		s->bz.next_in = (char *)s->in + s->in_pos;
		s->bz.avail_in = (unsigned)(s->in_len - s->in_pos);
		s->bz.next_out = dst;
		s->bz.avail_out = (unsigned)cap;
		int rc = BZ2_bzDecompress(&s->bz);
		s->in_pos = (size_t)((unsigned char *)s->bz.next_in - s->in);
		size_t got = cap - s->bz.avail_out;
		if (rc == BZ_STREAM_END) {
			int more = next_member(s, e);
			if (more < 0)
				return -1;
			if (!more)
				s->done = 1;
			if (got > 0 || s->done)
				return (ssize_t)got;
			continue;
		}
		if (rc == BZ_DATA_ERROR || rc == BZ_DATA_ERROR_MAGIC)
			return err_set(e, ERR_INPUT, "%s: corrupt bzip2 data at byte %llu", s->path,
				       (unsigned long long)instream_consumed(s));
		if (rc != BZ_OK)
			return err_set(e, ERR_INTERNAL, "%s: libbz2 error %d at byte %llu", s->path, rc,
				       (unsigned long long)instream_consumed(s));
		if (got > 0)
			return (ssize_t)got;
		if (s->in_pos == s->in_len && s->eof)
			return err_set(e, ERR_INPUT, "%s: truncated bzip2 stream at byte %llu", s->path,
				       (unsigned long long)instream_consumed(s));
	}
}

ssize_t instream_read(struct instream *s, void *dst, size_t cap, struct err *e)
{
	if (s->done || cap == 0)
		return 0;
	ssize_t n;
	switch (s->kind) {
	case INSTREAM_GZIP:
		n = read_gzip(s, dst, cap, e);
		break;
	case INSTREAM_BZIP2:
		n = read_bzip2(s, dst, cap, e);
		break;
	default:
		n = read_plain(s, dst, cap, e);
		break;
	}
	if (n < 0 && s->kind != INSTREAM_PLAIN && e && e->cls == ERR_INPUT)
		err_hint(e, "check the file with '%s -t %s'; re-download it if that fails too",
			 instream_kind_name(s->kind), s->path);
	return n;
}

uint64_t instream_file_size(const struct instream *s) { return s->file_size; }
enum instream_kind instream_kind(const struct instream *s) { return s->kind; }

const char *instream_kind_name(enum instream_kind k)
{
	switch (k) {
	case INSTREAM_GZIP:
		return "gzip";
	case INSTREAM_BZIP2:
		return "bzip2";
	default:
		return "plain";
	}
}

void instream_close(struct instream *s)
{
	if (!s)
		return;
	stop_decoder(s);
	if (s->own_fd)
		close(s->fd);
	free(s->path);
	free(s);
}
