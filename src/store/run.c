/*
 * run.c — run records: what ran, on what, with which result.
 *
 * A run record lives in "runs" under its id; ids start with the UTC second
 * ("20261124T083015Z-a1b2c3") so key order is time order and run_list needs
 * no index. The record is one canonical msgpack map (keys sorted: cpu,
 * created, engrave_version, env (only when the run captured one), host, id,
 * kernel, metrics, overrides (only when
 * the run had --set overrides: records without keep their bytes),
 * spec_digest, spec_name, spec_text, status, steps, target_version,
 * updated); steps are
 * maps {action, elapsed_ns, message, name, out, state}; metrics a map
 * key -> float64 (so they come back sorted by key); env a map key -> string
 * or float64 in the order captured (envlist.h: at most ENVLIST_MAX keys,
 * values cut to its size). run_put replaces the
 * whole record: the runner rewrites it at each step boundary, which is a
 * few KB plus the spec text.
 *
 * The decoder is lenient about missing keys (older records) and strict
 * about types; too many steps/metrics/outputs are reported as corrupt
 * rather than truncated.
 *
 * Checksum. A flipped byte inside a string or a number still decodes, so
 * run_put stores the encoding followed by a 12-byte trailer: the first 8
 * bytes of its SHA-256 and the magic RUN_MAGIC. The decoder checks and
 * strips it (ERR_CORRUPT "checksum mismatch"); a record without the trailer
 * (written before checksums existed) is decoded strictly, and since the
 * encoding must be exactly one msgpack value, a damaged trailer makes such
 * a record fail as well. run_get and `store verify` also check that the
 * record's id is its key.
 */
#include "store_int.h"
#include "engrave/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int run_new_id(char *id, size_t cap)
{
	unix_ns now = clock_unix_now();
	time_t t = (time_t)(now / (int64_t)NS_PER_S);
	struct tm tm;
	gmtime_r(&t, &tm);
	uint8_t r[3] = { 0, 0, 0 };
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		uint64_t x = (uint64_t)now ^ ((uint64_t)getpid() << 20);
		r[0] = (uint8_t)x, r[1] = (uint8_t)(x >> 8), r[2] = (uint8_t)(x >> 16);
	}
	char ts[32];
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	int n = snprintf(id, cap, "%s-%02x%02x%02x", ts, r[0], r[1], r[2]);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

void run_env_fill(struct run_record *r)
{
	if (gethostname(r->host, sizeof(r->host)) != 0)
		snprintf(r->host, sizeof(r->host), "unknown");
	r->host[sizeof(r->host) - 1] = '\0';
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(r->kernel, sizeof(r->kernel), "%.20s %.64s %.32s", u.sysname, u.release, u.machine);
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	int cores = 0;
	r->cpu[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "processor", 9))
			cores++;
		if (!r->cpu[0] && !strncmp(line, "model name", 10)) {
			char *c = strchr(line, ':');
			if (c) {
				c++;
				while (*c == ' ' || *c == '\t')
					c++;
				c[strcspn(c, "\n")] = '\0';
				snprintf(r->cpu, sizeof(r->cpu), "%s", c);
			}
		}
	}
	if (f)
		fclose(f);
	if (!r->cpu[0])
		snprintf(r->cpu, sizeof(r->cpu), "unknown");
	if (cores) {
		size_t n = strlen(r->cpu);
		snprintf(r->cpu + n, sizeof(r->cpu) - n, " x%d", cores);
	}
}

static int cmp_metric(const void *a, const void *b)
{
	return strcmp(((const struct run_metric *)a)->key, ((const struct run_metric *)b)->key);
}

static int run_record_encode(const struct run_record *r, struct buf *out, struct err *e)
{
	if (r->n_steps < 0 || r->n_steps > RUN_MAX_STEPS || r->n_metrics < 0 || r->n_metrics > RUN_MAX_METRICS)
		return err_set(e, ERR_INTERNAL, "run %s: bad step/metric counts", r->id);
	struct run_metric *mt = xmalloc_array((size_t)r->n_metrics, sizeof(*mt));
	memcpy(mt, r->metrics, sizeof(*mt) * (size_t)r->n_metrics);
	qsort(mt, (size_t)r->n_metrics, sizeof(*mt), cmp_metric);

	struct mpack m;
	mpack_init(&m);
	int no = r->n_overrides < 0 ? 0 : r->n_overrides > RUN_MAX_OVERRIDES ? RUN_MAX_OVERRIDES : r->n_overrides;
	int ne = r->env.n < 0 ? 0 : r->env.n > ENVLIST_MAX ? ENVLIST_MAX : r->env.n;
	msgpack_pack_map(&m.pk, 14 + (no > 0) + (ne > 0));
	mpack_str(&m, "cpu");
	mpack_str(&m, r->cpu);
	mpack_str(&m, "created");
	msgpack_pack_int64(&m.pk, r->created);
	mpack_str(&m, "engrave_version");
	mpack_str(&m, r->engrave_version);
	if (ne > 0) {
		mpack_str(&m, "env");
		msgpack_pack_map(&m.pk, (size_t)ne);
		for (int i = 0; i < ne; i++) {
			const struct envlist_item *it = &r->env.v[i];
			mpack_str(&m, it->key);
			if (it->is_num)
				msgpack_pack_double(&m.pk, strtod(it->value, NULL));
			else
				mpack_str(&m, it->value);
		}
	}
	mpack_str(&m, "host");
	mpack_str(&m, r->host);
	mpack_str(&m, "id");
	mpack_str(&m, r->id);
	mpack_str(&m, "kernel");
	mpack_str(&m, r->kernel);
	mpack_str(&m, "metrics");
	msgpack_pack_map(&m.pk, (size_t)r->n_metrics);
	for (int i = 0; i < r->n_metrics; i++) {
		mpack_str(&m, mt[i].key);
		msgpack_pack_double(&m.pk, mt[i].value);
	}
	if (no > 0) {
		mpack_str(&m, "overrides");
		msgpack_pack_array(&m.pk, (size_t)no);
		for (int i = 0; i < no; i++)
			mpack_str(&m, r->overrides[i]);
	}
	mpack_str(&m, "spec_digest");
	mpack_digest(&m, &r->spec_digest);
	mpack_str(&m, "spec_name");
	mpack_str(&m, r->spec_name);
	mpack_str(&m, "spec_text");
	if (r->spec_text)
		mpack_str(&m, r->spec_text);
	else
		msgpack_pack_nil(&m.pk);
	mpack_str(&m, "status");
	mpack_str(&m, r->status);
	mpack_str(&m, "steps");
	msgpack_pack_array(&m.pk, (size_t)r->n_steps);
	for (int i = 0; i < r->n_steps; i++) {
		const struct run_step *st = &r->steps[i];
		int no = st->n_out < 0 ? 0 : st->n_out > RUN_MAX_OUT ? RUN_MAX_OUT : st->n_out;
		msgpack_pack_map(&m.pk, 6);
		mpack_str(&m, "action");
		mpack_digest(&m, &st->action);
		mpack_str(&m, "elapsed_ns");
		msgpack_pack_uint64(&m.pk, st->elapsed_ns);
		mpack_str(&m, "message");
		mpack_str(&m, st->message);
		mpack_str(&m, "name");
		mpack_str(&m, st->name);
		mpack_str(&m, "out");
		msgpack_pack_array(&m.pk, (size_t)no);
		for (int j = 0; j < no; j++)
			mpack_digest(&m, &st->out[j]);
		mpack_str(&m, "state");
		mpack_str(&m, st->state);
	}
	mpack_str(&m, "target_version");
	mpack_str(&m, r->target_version);
	mpack_str(&m, "updated");
	msgpack_pack_int64(&m.pk, r->updated);
	int ret = mpack_to_buf(&m, out, e);
	mpack_release(&m);
	free(mt);
	return ret;
}

#define GETSTR(obj, key, dst) mpack_get_str(mpack_map_get(obj, key), dst, sizeof(dst))

#define RUN_SUM_LEN 8
#define RUN_TRAILER (RUN_SUM_LEN + 4)
static const unsigned char run_magic[4] = { 0xa7, 'R', 'r', '1' };

static void run_sum(const void *data, size_t len, unsigned char out[RUN_SUM_LEN])
{
	struct digest d;
	hash_bytes(data, len, &d);
	memcpy(out, d.b, RUN_SUM_LEN);
}

/* The env map (absent in older records): key -> string or number. */
static int decode_env(const msgpack_object *env, struct run_record *out, struct err *e)
{
	if (!env)
		return 0;
	if (env->type != MSGPACK_OBJECT_MAP || env->via.map.size > ENVLIST_MAX)
		return err_set(e, ERR_CORRUPT, "run %s: env malformed", out->id);
	for (uint32_t i = 0; i < env->via.map.size; i++) {
		const msgpack_object *k = &env->via.map.ptr[i].key, *v = &env->via.map.ptr[i].val;
		char key[ENVLIST_KEY_MAX], val[ENVLIST_VAL_MAX];
		double x;
		if (mpack_get_str(k, key, sizeof(key)))
			return err_set(e, ERR_CORRUPT, "run %s: env key %u is not a string", out->id, i);
		if (v->type == MSGPACK_OBJECT_STR && !mpack_get_str(v, val, sizeof(val)))
			envlist_set(&out->env, key, val);
		else if (v->type != MSGPACK_OBJECT_STR && !mpack_get_f64(v, &x))
			envlist_set_num(&out->env, key, x);
		else
			return err_set(e, ERR_CORRUPT, "run %s: env '%s' is neither text nor a number", out->id, key);
	}
	return 0;
}

int run_record_decode(const void *data, size_t len, struct run_record *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	const unsigned char *p = data;
	if (len >= RUN_TRAILER && !memcmp(p + len - 4, run_magic, 4)) {
		unsigned char sum[RUN_SUM_LEN];
		run_sum(data, len - RUN_TRAILER, sum);
		if (memcmp(sum, p + len - RUN_TRAILER, RUN_SUM_LEN))
			return err_set(e, ERR_CORRUPT, "run record: checksum mismatch (the record changed on disk)");
		len -= RUN_TRAILER;
	}
	msgpack_unpacked u;
	if (mpack_parse(data, len, &u, "run record", e))
		return -1;
	const msgpack_object *m = &u.data;
	int ret = 0;
	if (m->type != MSGPACK_OBJECT_MAP || GETSTR(m, "id", out->id)) {
		ret = err_set(e, ERR_CORRUPT, "run record: no id");
		goto out;
	}
	GETSTR(m, "cpu", out->cpu);
	GETSTR(m, "engrave_version", out->engrave_version);
	GETSTR(m, "host", out->host);
	GETSTR(m, "kernel", out->kernel);
	GETSTR(m, "spec_name", out->spec_name);
	GETSTR(m, "status", out->status);
	GETSTR(m, "target_version", out->target_version);
	int64_t t;
	if (!mpack_get_i64(mpack_map_get(m, "created"), &t))
		out->created = t;
	if (!mpack_get_i64(mpack_map_get(m, "updated"), &t))
		out->updated = t;
	mpack_get_digest(mpack_map_get(m, "spec_digest"), &out->spec_digest);
	out->spec_text = mpack_dup_str(mpack_map_get(m, "spec_text"));
	const msgpack_object *ov = mpack_map_get(m, "overrides");
	if (ov && (ov->type != MSGPACK_OBJECT_ARRAY || ov->via.array.size > RUN_MAX_OVERRIDES)) {
		ret = err_set(e, ERR_CORRUPT, "run %s: overrides malformed", out->id);
		goto out;
	}
	if (ov && ov->via.array.size) {
		out->overrides = xcalloc(ov->via.array.size, sizeof(*out->overrides));
		for (uint32_t i = 0; i < ov->via.array.size; i++) {
			if (!(out->overrides[i] = mpack_dup_str(&ov->via.array.ptr[i]))) {
				ret = err_set(e, ERR_CORRUPT, "run %s: override %u is not a string", out->id, i);
				goto out;
			}
			out->n_overrides++;
		}
	}

	if ((ret = decode_env(mpack_map_get(m, "env"), out, e)))
		goto out;
	const msgpack_object *mt = mpack_map_get(m, "metrics");
	if (mt && mt->type == MSGPACK_OBJECT_MAP) {
		if (mt->via.map.size > RUN_MAX_METRICS) {
			ret = err_set(e, ERR_CORRUPT, "run %s: %u metrics (max %d)", out->id, mt->via.map.size,
				      RUN_MAX_METRICS);
			goto out;
		}
		for (uint32_t i = 0; i < mt->via.map.size; i++) {
			struct run_metric *x = &out->metrics[out->n_metrics];
			if (mpack_get_str(&mt->via.map.ptr[i].key, x->key, sizeof(x->key)) ||
			    mpack_get_f64(&mt->via.map.ptr[i].val, &x->value)) {
				ret = err_set(e, ERR_CORRUPT, "run %s: metric %u malformed", out->id, i);
				goto out;
			}
			out->n_metrics++;
		}
	}
	const msgpack_object *st = mpack_map_get(m, "steps");
	if (st && st->type == MSGPACK_OBJECT_ARRAY) {
		if (st->via.array.size > RUN_MAX_STEPS) {
			ret = err_set(e, ERR_CORRUPT, "run %s: %u steps (max %d)", out->id, st->via.array.size,
				      RUN_MAX_STEPS);
			goto out;
		}
		for (uint32_t i = 0; i < st->via.array.size; i++) {
			const msgpack_object *so = &st->via.array.ptr[i];
			struct run_step *x = &out->steps[out->n_steps];
			if (so->type != MSGPACK_OBJECT_MAP || GETSTR(so, "name", x->name)) {
				ret = err_set(e, ERR_CORRUPT, "run %s: step %u malformed", out->id, i);
				goto out;
			}
			GETSTR(so, "state", x->state);
			GETSTR(so, "message", x->message);
			mpack_get_digest(mpack_map_get(so, "action"), &x->action);
			mpack_get_u64(mpack_map_get(so, "elapsed_ns"), &x->elapsed_ns);
			const msgpack_object *o = mpack_map_get(so, "out");
			if (o && o->type == MSGPACK_OBJECT_ARRAY) {
				if (o->via.array.size > RUN_MAX_OUT) {
					ret = err_set(e, ERR_CORRUPT, "run %s: step %s has %u outputs (max %d)", out->id,
						      x->name, o->via.array.size, RUN_MAX_OUT);
					goto out;
				}
				for (uint32_t j = 0; j < o->via.array.size; j++)
					if (mpack_get_digest(&o->via.array.ptr[j], &x->out[x->n_out++])) {
						ret = err_set(e, ERR_CORRUPT, "run %s: step %s output %u is not a digest",
							      out->id, x->name, j);
						goto out;
					}
			}
			out->n_steps++;
		}
	}
out:
	mpack_done(&u);
	if (ret)
		run_record_release(out);
	return ret;
}

int run_put(struct store *s, const struct run_record *r, struct err *e)
{
	size_t n = strlen(r->id);
	if (n == 0 || n >= sizeof(r->id))
		return err_set(e, ERR_INTERNAL, "run record without an id");
	struct buf b;
	buf_init(&b, 0);
	int ret = run_record_encode(r, &b, e);
	unsigned char trailer[RUN_TRAILER];
	if (!ret) {
		run_sum(b.data, b.len, trailer);
		memcpy(trailer + RUN_SUM_LEN, run_magic, 4);
		ret = buf_append(&b, trailer, sizeof(trailer), e);
	}
	if (!ret) {
		struct wop op = { WOP_PUT, DB_RUNS, r->id, n, b.data, b.len };
		ret = store_write(s, &op, 1, "cannot save run record", e);
	}
	if (!ret) /* a run record is a durability checkpoint (env.c) */
		ret = store_sync(s, e);
	buf_release(&b);
	return ret;
}

int run_metric_set(struct run_record *r, const char *key, double value)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (!strcmp(r->metrics[i].key, key)) {
			r->metrics[i].value = value;
			return 0;
		}
	if (r->n_metrics >= RUN_MAX_METRICS)
		return -1;
	snprintf(r->metrics[r->n_metrics].key, sizeof(r->metrics[0].key), "%s", key);
	r->metrics[r->n_metrics++].value = value;
	return 0;
}

int run_get(struct store *s, const char *id, struct run_record *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct buf b;
	buf_init(&b, 0);
	MDB_txn *txn;
	MDB_val v;
	if (store_rtxn_begin(s, &txn, e))
		return -1;
	int rc = store_get_in(s, txn, DB_RUNS, id, strlen(id), &v, e);
	if (rc == 1 && buf_append(&b, v.mv_data, v.mv_size, e))
		rc = -1;
	store_rtxn_end(s, txn);
	if (rc == 0) {
		err_set(e, ERR_MISSING, "no run '%s'", id);
		err_hint(e, "list runs with 'engrave store runs'");
		rc = -1;
	} else if (rc == 1) {
		rc = run_record_decode(b.data, b.len, out, e);
		if (!rc && strcmp(out->id, id)) {
			rc = err_set(e, ERR_CORRUPT, "the record holds run id '%s'", out->id);
			run_record_release(out);
		}
		if (rc) {
			err_prefix(e, "runs %s", id);
			err_hint(e, "run 'engrave store verify' to list the damage");
		}
	}
	buf_release(&b);
	return rc;
}

void run_record_release(struct run_record *r)
{
	if (!r)
		return;
	free(r->spec_text);
	r->spec_text = NULL;
	for (int i = 0; i < r->n_overrides; i++)
		free(r->overrides[i]);
	free(r->overrides);
	r->overrides = NULL;
	r->n_overrides = 0;
}

void run_record_set_overrides(struct run_record *r, const char *const *args, size_t n)
{
	for (int i = 0; i < r->n_overrides; i++)
		free(r->overrides[i]);
	free(r->overrides);
	r->overrides = NULL;
	r->n_overrides = 0;
	if (n > RUN_MAX_OVERRIDES)
		n = RUN_MAX_OVERRIDES;
	if (!n)
		return;
	r->overrides = xcalloc(n, sizeof(*r->overrides));
	for (size_t i = 0; i < n; i++)
		r->overrides[r->n_overrides++] = xstrdup(args[i]);
}

struct list_ctx {
	int (*cb)(const struct run_record *r, void *ctx);
	void *ctx;
	struct err *e;
};

static int list_one(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct list_ctx *c = ctx;
	struct run_record *r = xmalloc(sizeof(*r));
	if (run_record_decode(v, vl, r, c->e)) {
		free(r);
		return err_prefix(c->e, "runs %.*s", (int)kl, (const char *)k);
	}
	int ret = c->cb(r, c->ctx);
	run_record_release(r);
	free(r);
	return ret;
}

int run_list(struct store *s, int (*cb)(const struct run_record *r, void *ctx), void *ctx, struct err *e)
{
	struct list_ctx c = { cb, ctx, e };
	return store_scan(s, DB_RUNS, "", 0, 1, list_one, &c, e);
}
