/*
 * transfer.c — what copying between stores needs from the store: which
 * blobs a blob names, and run records as the bytes they are stored as.
 *
 * A remote (net/remote.c) moves blobs one at a time and must know the
 * graph: an artifact names its parts' objects, a manifest names its chunks,
 * a raw blob names nothing. store_blob_children reads that from the bytes
 * alone (no store needed), so a puller can walk a graph it does not hold
 * yet, blob by blob as each arrives and is verified.
 *
 * Run records travel as stored (canonical msgpack plus the checksum
 * trailer, run.c), so a pulled record is byte-identical to the pushed one;
 * run_put_encoded decodes the bytes first (checksum, id) and refuses a
 * record that is damaged or filed under another id.
 */
#include "store_int.h"

#include <string.h>

int store_blob_children(const void *data, size_t len, int (*cb)(const struct digest *child, void *ctx), void *ctx,
			struct err *e)
{
	switch (store_blob_kind(data, len)) {
	case BLOB_MANIFEST:
		if (store_manifest_walk(data, len, NULL, cb, ctx, e))
			return -1;
		return STORE_BLOB_MANIFEST;
	case BLOB_ARTIFACT:
		if (store_artifact_walk(data, len, cb, ctx, e))
			return -1;
		return STORE_BLOB_ARTIFACT;
	default:
		return STORE_BLOB_RAW;
	}
}

int run_get_encoded(struct store *s, const char *id, struct buf *out, struct err *e)
{
	MDB_txn *txn;
	MDB_val v;
	if (store_rtxn_begin(s, &txn, e))
		return -1;
	int rc = store_get_in(s, txn, DB_RUNS, id, strlen(id), &v, e);
	if (rc == 1) {
		buf_reset(out);
		if (buf_append(out, v.mv_data, v.mv_size, e))
			rc = -1;
	}
	store_rtxn_end(s, txn);
	if (rc == 0) {
		err_set(e, ERR_MISSING, "no run '%s'", id);
		return err_hint(e, "list runs with 'engrave store runs'");
	}
	return rc < 0 ? -1 : 0;
}

int run_put_encoded(struct store *s, const char *id, const void *data, size_t len, struct err *e)
{
	struct run_record r;
	if (run_record_decode(data, len, &r, e))
		return err_prefix(e, "run %s", id);
	int same = !strcmp(r.id, id);
	run_record_release(&r);
	if (!same)
		return err_set(e, ERR_CORRUPT, "run %s: the record holds run id '%s'", id, r.id);
	struct wop op = { WOP_PUT, DB_RUNS, id, strlen(id), data, len };
	if (store_write(s, &op, 1, "cannot save run record", e))
		return -1;
	return store_sync(s, e);
}
