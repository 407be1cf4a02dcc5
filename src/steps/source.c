/*
 * source.c — the digest of a step's external input file.
 *
 * The corpus step reads a file outside the store (a MediaWiki dump, JSONL,
 * .npy); its action key must change when the file's bytes change, so the
 * file is hashed (SHA-256, about 1.8 GB/s here: a 600 MB dump costs a third
 * of a second). DVC does the same for its dependencies.
 */
#include "engrave/steps.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int steps_source_digest(const struct spec *sp, struct digest *out, int *has, struct err *e)
{
	*has = 0;
	if (!sp->corpus.present || !sp->corpus.path)
		return 0;
	struct buf path;
	buf_init(&path, 0);
	if (spec_resolve_path(sp, sp->corpus.path, &path, e)) {
		buf_release(&path);
		return -1;
	}
	FILE *f = fopen(path.data, "rb");
	if (!f) {
		int errnum = errno;
		err_set_errno(e, errnum == ENOENT ? ERR_MISSING : ERR_IO, errnum,
			      "cannot read corpus file '%s' (steps.corpus.path)", path.data);
		buf_release(&path);
		return -1;
	}
	struct hash_ctx h;
	hash_init(&h);
	size_t cap = 1 << 20, n;
	char *blk = xmalloc(cap);
	while ((n = fread(blk, 1, cap, f)) > 0)
		hash_update(&h, blk, n);
	int bad = ferror(f);
	fclose(f);
	free(blk);
	hash_final(&h, out);
	if (bad) {
		err_set(e, ERR_IO, "error reading corpus file '%s'", path.data);
		buf_release(&path);
		return -1;
	}
	buf_release(&path);
	*has = 1;
	return 0;
}
