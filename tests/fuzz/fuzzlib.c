/*
 * fuzzlib.c — helpers shared by the libFuzzer harnesses (fuzzlib.h).
 *
 * One private directory per process under $TMPDIR (libFuzzer's -fork and
 * -jobs workers are processes, so they never share files), removed by an
 * atexit handler; a crash leaves it behind in $TMPDIR, which is what a
 * crash should do.
 */
#include "fuzzlib.h"

#include "engrave/log.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[PATH_MAX];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void fuzz_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	if (tmpdir[0])
		fuzz_rmtree(tmpdir);
}

void fuzz_init(void)
{
	if (tmpdir[0])
		return;
	log_set_level(LOG_ERROR);
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/engrave-fuzz.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(cleanup);
}

const char *fuzz_tmpdir(void)
{
	return tmpdir;
}

const char *fuzz_file(const char *name, const uint8_t *data, size_t n)
{
	static char path[PATH_MAX];
	fuzz_init();
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, data + off, n - off);
		if (w <= 0) {
			perror(path);
			abort();
		}
		off += (size_t)w;
	}
	close(fd);
	return path;
}

uint32_t fuzz_take_u32(struct fuzz_in *in)
{
	uint32_t v = 0;
	for (int i = 0; i < 4 && in->n; i++, in->p++, in->n--)
		v |= (uint32_t)in->p[0] << (8 * i);
	return v;
}

uint8_t fuzz_take_u8(struct fuzz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}
