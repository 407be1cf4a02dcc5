/*
 * fuzz_npy.c — libFuzzer harness: the .npy reader (vecfile.c).
 *
 * The input is a whole .npy file, read by fuzz_vecfile (vecread.h): header
 * checks, size checks, the width check and the row loop.
 */
#include "vecread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_vecfile("vectors.npy", data, n);
	return 0;
}
