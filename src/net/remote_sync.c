/*
 * remote_sync.c — runs, refs and action-cache entries on a remote.
 *
 * What travels with what:
 *   action  its ac value ({"outputs", "elapsed_ns"}, store.h) under
 *           "action/<hex>", after the blobs of its outputs;
 *   run     the blobs of every step's outputs (and the spec blob when the
 *           store holds one), the action entries of its steps that the
 *           store has, then the record as stored under "run/<id>": a record
 *           on the remote means everything it names is there;
 *   ref     its value under "ref/<name>". The protocol has no
 *           compare-and-set, so the last writer wins and the caller is
 *           given the value it replaced, to print.
 * A pull reverses each: entry, verified; then blobs, verified; then the
 * local entry or record, so the local store never names what it lacks.
 */
#include "net/remote_int.h"
#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUTPUTS_MAX 64

static void action_key(const struct digest *action, char *key, size_t cap)
{
	char hex[DIGEST_HEX_LEN + 1];
	digest_to_hex(action, hex);
	snprintf(key, cap, "action/%s", hex);
}

/* ---- actions ---- */

int remote_fetch_action(struct remote *r, struct store *s, const struct digest *action, struct err *e)
{
	char key[80];
	action_key(action, key, sizeof(key));
	struct buf v;
	buf_init(&v, 0);
	struct digest outs[OUTPUTS_MAX];
	int n = 0;
	int rc = remote_entry_get(r, key, &v, e);
	if (rc == 1 && (ac_value_decode(v.data, v.len, outs, OUTPUTS_MAX, &n, NULL, e) || n > OUTPUTS_MAX))
		rc = err_set(e, ERR_CORRUPT, "remote entry %s: not an action-cache value", key);
	if (rc == 1 && remote_pull_blobs(r, s, outs, (size_t)n, e))
		rc = -1;
	if (rc == 1 && ac_put(s, action, v.data, v.len, e))
		rc = -1;
	buf_release(&v);
	return rc;
}

int remote_push_action(struct remote *r, struct store *s, const struct digest *action, struct err *e)
{
	char key[80];
	action_key(action, key, sizeof(key));
	struct buf v;
	buf_init(&v, 0);
	struct digest outs[OUTPUTS_MAX];
	int n = 0;
	int rc = ac_get(s, action, &v, e);
	if (rc == 0)
		rc = err_set(e, ERR_MISSING, "no action %.16s in the local action cache", key + 7);
	else if (rc == 1)
		rc = ac_value_decode(v.data, v.len, outs, OUTPUTS_MAX, &n, NULL, e) || n > OUTPUTS_MAX ? -1 : 0;
	if (!rc)
		rc = remote_push_blobs(r, s, outs, (size_t)n, e);
	if (!rc)
		rc = remote_entry_put(r, key, v.data, v.len, e);
	buf_release(&v);
	return rc;
}

/* ---- runs ---- */

/* Every output of the run's steps, and its spec blob if the store has one. */
static size_t run_roots(struct store *s, const struct run_record *rec, struct digest *roots)
{
	size_t n = 0;
	struct err ignored = ERR_INIT;
	if (cas_has(s, &rec->spec_digest, &ignored) == 1)
		roots[n++] = rec->spec_digest;
	for (int i = 0; i < rec->n_steps; i++)
		for (int k = 0; k < rec->steps[i].n_out; k++)
			roots[n++] = rec->steps[i].out[k];
	return n;
}

int remote_push_run(struct remote *r, struct store *s, const char *run_id, struct err *e)
{
	struct run_record rec;
	if (run_get(s, run_id, &rec, e))
		return -1;
	struct digest roots[1 + RUN_MAX_STEPS * RUN_MAX_OUT];
	size_t n = run_roots(s, &rec, roots);
	int rc = remote_push_blobs(r, s, roots, n, e);
	struct buf raw;
	buf_init(&raw, 0);
	for (int i = 0; !rc && i < rec.n_steps; i++) { /* the cache entries of its pure steps */
		const struct run_step *st = &rec.steps[i];
		if (!digest_is_zero(&st->action) && ac_get(s, &st->action, &raw, NULL) == 1)
			rc = remote_push_action(r, s, &st->action, e);
	}
	if (!rc)
		rc = run_get_encoded(s, run_id, &raw, e);
	if (!rc) {
		char key[80];
		snprintf(key, sizeof(key), "run/%s", run_id);
		rc = remote_entry_put(r, key, raw.data, raw.len, e);
	}
	buf_release(&raw);
	run_record_release(&rec);
	return rc ? err_prefix(e, "push of run %s", run_id) : 0;
}

int remote_pull_run(struct remote *r, struct store *s, const char *run_id, struct err *e)
{
	char key[80];
	snprintf(key, sizeof(key), "run/%s", run_id);
	struct buf raw;
	buf_init(&raw, 0);
	struct run_record rec;
	memset(&rec, 0, sizeof(rec));
	int rc = remote_entry_get(r, key, &raw, e);
	if (rc == 0) {
		err_set(e, ERR_MISSING, "the remote %s has no run '%s'", r->url, run_id);
		rc = err_hint(e, "a run is pulled by its full id or by a ref pushed with it ('engrave push RUN')");
	}
	if (rc == 1)
		rc = run_record_decode(raw.data, raw.len, &rec, e);
	struct digest roots[1 + RUN_MAX_STEPS * RUN_MAX_OUT];
	size_t n = 0;
	for (int i = 0; !rc && i < rec.n_steps; i++)
		for (int k = 0; k < rec.steps[i].n_out; k++)
			roots[n++] = rec.steps[i].out[k];
	if (!rc)
		rc = remote_pull_blobs(r, s, roots, n, e);
	for (int i = 0; !rc && i < rec.n_steps; i++) /* the cache entries of its pure steps */
		if (!digest_is_zero(&rec.steps[i].action) && remote_fetch_action(r, s, &rec.steps[i].action, e) < 0)
			rc = -1;
	if (!rc)
		rc = run_put_encoded(s, run_id, raw.data, raw.len, e);
	run_record_release(&rec);
	buf_release(&raw);
	return rc ? err_prefix(e, "pull of run %s", run_id) : 0;
}

/* ---- refs ---- */

int remote_ref_get(struct remote *r, const char *name, char *value, size_t cap, struct err *e)
{
	char key[512];
	snprintf(key, sizeof(key), "ref/%s", name);
	struct buf v;
	buf_init(&v, 0);
	int rc = remote_entry_get(r, key, &v, e);
	if (rc == 1) {
		if (v.len >= cap || memchr(v.data, '\0', v.len))
			rc = err_set(e, ERR_CORRUPT, "remote ref '%s': not a ref value", name);
		else
			memcpy(value, v.data, v.len + 1);
	}
	buf_release(&v);
	return rc;
}

int remote_ref_set(struct remote *r, const char *name, const char *value, char *prev, size_t cap,
		   struct err *e)
{
	char key[512];
	snprintf(key, sizeof(key), "ref/%s", name);
	prev[0] = '\0';
	int had = remote_ref_get(r, name, prev, cap, e);
	if (had < 0)
		return -1;
	if (!had)
		prev[0] = '\0';
	return remote_entry_put(r, key, value, strlen(value), e);
}
