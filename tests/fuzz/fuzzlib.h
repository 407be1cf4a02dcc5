/*
 * fuzzlib.h — what the libFuzzer harnesses in tests/fuzz/ share.
 *
 * Harnesses feed engrave's parsers the fuzzer's bytes. Most parsers take
 * memory; the file readers (MediaWiki, .npy, .fvecs, JSONL) take a path, so
 * fuzz_file() writes the bytes to a file in a private temporary directory
 * (removed at exit) under the name the reader expects. fuzz_init() silences
 * engrave's log (a parser that logs a warning per input would drown
 * libFuzzer's status lines) once per process.
 */
#ifndef ENGRAVE_FUZZLIB_H
#define ENGRAVE_FUZZLIB_H

#include <stddef.h>
#include <stdint.h>

/* Quiet logging, private temporary directory. Idempotent. */
void fuzz_init(void);
/* The private temporary directory (fuzz_init first). */
const char *fuzz_tmpdir(void);
/* Write data[0..n) to <tmpdir>/<name> (replacing it); returns the path
 * (static storage, valid until the next call). Aborts on I/O failure: a
 * harness that cannot write its input has nothing to test. */
const char *fuzz_file(const char *name, const uint8_t *data, size_t n);
/* Remove a directory tree (the harnesses' scratch stores). */
void fuzz_rmtree(const char *path);

/* A cursor that takes fixed-size values off the front of the input. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};
uint32_t fuzz_take_u32(struct fuzz_in *in); /* 0 when exhausted */
uint8_t fuzz_take_u8(struct fuzz_in *in);

#endif
