/*
 * vecread.h — the body of the .npy and .fvecs harnesses (one reader, two
 * formats): write the input as a file named `name`, open it as the corpus
 * step does (the format from the extension) and read every row in small
 * blocks. A last byte with its top two bits set also asks for a width (its
 * low six bits, as expect_dim) so the width check runs too. A clean end
 * must deliver exactly the rows the header promised.
 */
#ifndef ENGRAVE_FUZZ_VECREAD_H
#define ENGRAVE_FUZZ_VECREAD_H

#include "fuzzlib.h"

#include "engrave/err.h"
#include "engrave/vecfile.h"

#include <stdlib.h>

static inline void fuzz_vecfile(const char *name, const uint8_t *data, size_t n)
{
	const char *path = fuzz_file(name, data, n);
	uint32_t expect_dim = n && (data[n - 1] & 0xc0) == 0xc0 ? data[n - 1] & 0x3f : 0;
	struct vecfile_reader *r = NULL;
	struct err e = ERR_INIT;
	if (vecfile_reader_open(&r, path, expect_dim, &e))
		return;
	uint32_t dim = vecfile_reader_dim(r);
	float *rows = malloc((size_t)dim * 7 * sizeof(float) + 1);
	long got;
	uint64_t total = 0;
	while ((got = vecfile_reader_read(r, rows, 7, &e)) > 0)
		total += (uint64_t)got;
	if (got == 0 && total != vecfile_reader_rows(r))
		abort();
	free(rows);
	vecfile_reader_close(r);
}

#endif
