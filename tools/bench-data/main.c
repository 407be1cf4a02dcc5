/*
 * bench-data — time the numeric data modules (synth, k-means, kNN) for the
 * peer benchmarks in tools/bench/synth.sh and tools/bench/kmeans.sh.
 *
 *   bench-data synth  [--count N] [--dim D] [--k K] [--std S] [--seed S]
 *                     [--no-normalize] [--threads T] [--chunk R]
 *                     [--sink none|sha256|store] [--store DIR] [--npy OUT]
 *   bench-data kmeans --npy IN [--k K] [--iters N] [--algo lloyd|minibatch]
 *                     [--batch B] [--seed S] [--tol T] [--no-improve N]
 *   bench-data knn    --npy IN [--queries Q] [--k K] [--metric cosine|l2|ip]
 *   bench-data sgemm  [--queries Q] [--rows N] [--dim D] [--block B] [--threads T]
 *
 * synth draws k centroids (unit vectors from Philox stream "CENT"), then
 * streams count rows through synth_run into the chosen sink: none (the
 * generation alone), sha256 (what the store costs in hashing) or store (an
 * obj_writer object in the store at DIR); --npy also saves the rows.
 * sgemm times the arithmetic floor of exact ground truth (groundtruth.sh):
 * the Q x N inner products as one OpenBLAS sgemm (vec_ip_block) per block
 * of B base rows against all queries, the block kept in memory and reused
 * (no I/O, no top-k), with the process's OpenBLAS threads (--threads sets
 * them). One Q x D by D x N sgemm would do the same flops but hold a Q x N
 * result (4 GB at 1000 x 1M).
 * Each mode prints one "key=value ..." line on stdout. The .npy reader and
 * writer here are minimal (v1 header, '<f4', C order) on purpose: the
 * benchmark should not depend on the vecfile module it is not measuring.
 */
#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/hash.h"
#include "engrave/kmeans.h"
#include "engrave/knn.h"
#include "engrave/rng.h"
#include "engrave/store.h"
#include "engrave/synth.h"
#include "engrave/vec.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_CENT 0x43454e54ULL /* "CENT" */

static const char *arg(int argc, char **argv, const char *name, const char *def)
{
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return i + 1 < argc ? argv[i + 1] : "";
	return def;
}

static int flag(int argc, char **argv, const char *name)
{
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

static double secs(mono_ns a, mono_ns b) { return (double)(b - a) / 1e9; }

/* ---- minimal .npy ------------------------------------------------------- */

static FILE *npy_create(const char *path, uint64_t rows, uint32_t dim)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return NULL;
	char dict[128];
	int n = snprintf(dict, sizeof dict,
			 "{'descr': '<f4', 'fortran_order': False, 'shape': (%llu, %u), }",
			 (unsigned long long)rows, dim);
	int total = 10 + n + 1;
	int pad = (64 - total % 64) % 64;
	uint16_t hlen = (uint16_t)(n + pad + 1);
	fwrite("\x93NUMPY\x01\x00", 1, 8, f);
	unsigned char hl[2] = { (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8) };
	fwrite(hl, 1, 2, f);
	fwrite(dict, 1, (size_t)n, f);
	for (int i = 0; i < pad; i++)
		fputc(' ', f);
	fputc('\n', f);
	return f;
}

static float *npy_load(const char *path, uint64_t *rows, uint32_t *dim)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	unsigned char pre[10];
	char hdr[4096];
	float *x = NULL;
	if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] != 1)
		goto out;
	size_t hlen = pre[8] | (size_t)pre[9] << 8;
	if (hlen >= sizeof hdr || fread(hdr, 1, hlen, f) != hlen)
		goto out;
	hdr[hlen] = 0;
	const char *s = strstr(hdr, "'shape': (");
	unsigned long long r;
	unsigned dd;
	if (!strstr(hdr, "'<f4'") || !s || sscanf(s, "'shape': (%llu, %u)", &r, &dd) != 2)
		goto out;
	x = malloc(xalloc_mul(xalloc_mul(r, dd), sizeof *x)); /* NULL: the caller reports the file */
	if (x && fread(x, sizeof *x, r * dd, f) != r * dd) {
		free(x);
		x = NULL;
	}
	*rows = r;
	*dim = dd;
out:
	fclose(f);
	return x;
}

/* ---- synth ---------------------------------------------------------------- */

struct sink {
	const char *mode;
	uint32_t d;
	struct hash_ctx h;
	struct obj_writer *w;
	FILE *npy;
	struct err *e;
};

static int sink_cb(void *ctx, uint64_t start, uint64_t n, const float *vecs, const uint32_t *labels,
		   const float *conf)
{
	struct sink *s = ctx;
	(void)start, (void)labels, (void)conf;
	size_t bytes = n * s->d * sizeof(float);
	if (s->npy && fwrite(vecs, 1, bytes, s->npy) != bytes)
		return err_set(s->e, ERR_IO, "writing .npy failed");
	if (strcmp(s->mode, "sha256") == 0)
		hash_update(&s->h, vecs, bytes);
	else if (strcmp(s->mode, "store") == 0)
		return obj_write(s->w, vecs, bytes, s->e);
	return 0;
}

static int cmd_synth(int argc, char **argv)
{
	struct synth_opts o;
	synth_opts_init(&o, strtoull(arg(argc, argv, "--count", "950000"), NULL, 10));
	uint32_t d = (uint32_t)atoi(arg(argc, argv, "--dim", "768"));
	uint32_t k = (uint32_t)atoi(arg(argc, argv, "--k", "100"));
	o.std_dev = strtof(arg(argc, argv, "--std", "0.1"), NULL);
	o.seed = strtoull(arg(argc, argv, "--seed", "42"), NULL, 10);
	o.normalize = !flag(argc, argv, "--no-normalize");
	o.threads = (unsigned)atoi(arg(argc, argv, "--threads", "2"));
	uint64_t chunk = strtoull(arg(argc, argv, "--chunk", "4096"), NULL, 10);
	const char *mode = arg(argc, argv, "--sink", "none");
	const char *npy = arg(argc, argv, "--npy", NULL);
	struct err e = ERR_INIT;
	struct store *st = NULL;
	struct sink s = { .mode = mode, .d = d, .e = &e };

	float *c = xmalloc_array((size_t)k * d, sizeof *c);
	rng_normal_fill(o.seed, STREAM_CENT, 0, (size_t)k * d, c);
	vec_normalize_rows(c, k, d);
	if (npy && !(s.npy = npy_create(npy, o.count, d))) {
		fprintf(stderr, "bench-data: cannot create %s\n", npy);
		return 1;
	}
	if (strcmp(mode, "store") == 0) {
		const char *dir = arg(argc, argv, "--store", NULL);
		if (!dir || store_open(dir, 0, &st, &e) < 0 || obj_writer_open(st, &s.w, &e) < 0) {
			fprintf(stderr, "bench-data: store: %s\n", dir ? e.msg : "--store DIR needed");
			return 1;
		}
	}
	hash_init(&s.h);
	mono_ns t0 = clock_mono_now();
	int rc = synth_run(&o, c, k, d, chunk, sink_cb, &s, &e);
	struct digest dg = { 0 };
	if (rc == 0 && s.w)
		rc = obj_writer_finish(s.w, &dg, &e);
	mono_ns t1 = clock_mono_now();
	if (strcmp(mode, "sha256") == 0)
		hash_final(&s.h, &dg);
	else {
		struct digest dummy;
		hash_final(&s.h, &dummy);
	}
	if (s.npy)
		fclose(s.npy);
	store_close(st);
	if (rc < 0) {
		fprintf(stderr, "bench-data: %s\n", e.msg);
		return 1;
	}
	char hex[DIGEST_HEX_LEN + 1] = "-";
	if (!digest_is_zero(&dg))
		digest_to_hex(&dg, hex);
	double t = secs(t0, t1);
	printf("mode=synth sink=%s rows=%llu dim=%u k=%u threads=%u chunk=%llu seconds=%.3f "
	       "rows_per_s=%.0f normals_per_s=%.3g digest=%s\n",
	       mode, (unsigned long long)o.count, d, k, o.threads ? o.threads : 2,
	       (unsigned long long)chunk, t, o.count / t, (double)o.count * d / t, hex);
	free(c);
	return 0;
}

/* ---- kmeans ------------------------------------------------------------- */

static int cmd_kmeans(int argc, char **argv)
{
	const char *in = arg(argc, argv, "--npy", NULL);
	uint64_t n;
	uint32_t d;
	float *x = in ? npy_load(in, &n, &d) : NULL;
	if (!x) {
		fprintf(stderr, "bench-data: kmeans needs --npy FILE (float32, 2-D)\n");
		return 2;
	}
	struct kmeans_opts o;
	kmeans_opts_init(&o, (uint32_t)atoi(arg(argc, argv, "--k", "100")));
	o.max_iter = (uint32_t)atoi(arg(argc, argv, "--iters", "20"));
	o.batch_size = (uint32_t)atoi(arg(argc, argv, "--batch", "1024"));
	o.seed = strtoull(arg(argc, argv, "--seed", "42"), NULL, 10);
	o.tol = atof(arg(argc, argv, "--tol", "0"));
	o.max_no_improvement = (uint32_t)atoi(arg(argc, argv, "--no-improve", "10"));
	struct err e = ERR_INIT;
	if (kmeans_algo_parse(arg(argc, argv, "--algo", "lloyd"), &o.algo, &e) < 0) {
		fprintf(stderr, "bench-data: %s\n", e.msg);
		return 2;
	}
	float *c = xmalloc_array((size_t)o.k * d, sizeof *c);
	uint64_t *sizes = xmalloc_array(o.k, sizeof *sizes);
	double inertia;
	mono_ns t0 = clock_mono_now();
	int rc = kmeans_run(x, n, d, &o, c, sizes, &inertia, &e);
	mono_ns t1 = clock_mono_now();
	if (rc < 0) {
		fprintf(stderr, "bench-data: %s\n", e.msg);
		return 1;
	}
	struct digest dg;
	char hex[DIGEST_HEX_LEN + 1];
	hash_bytes(c, (size_t)o.k * d * sizeof *c, &dg);
	digest_to_hex(&dg, hex);
	uint64_t mn = UINT64_MAX, mx = 0;
	for (uint32_t i = 0; i < o.k; i++) {
		mn = sizes[i] < mn ? sizes[i] : mn;
		mx = sizes[i] > mx ? sizes[i] : mx;
	}
	printf("mode=kmeans algo=%s n=%llu dim=%u k=%u iters=%u blas_threads=%d seconds=%.3f "
	       "inertia=%.6f min_size=%llu max_size=%llu centroids_sha256=%s\n",
	       o.algo == KMEANS_LLOYD ? "lloyd" : "minibatch", (unsigned long long)n, d, o.k,
	       o.max_iter, vec_get_threads(), secs(t0, t1), inertia, (unsigned long long)mn,
	       (unsigned long long)mx, hex);
	free(x), free(c), free(sizes);
	return 0;
}

/* ---- knn ------------------------------------------------------------------ */

static int cmd_knn(int argc, char **argv)
{
	const char *in = arg(argc, argv, "--npy", NULL);
	uint64_t n;
	uint32_t d;
	float *x = in ? npy_load(in, &n, &d) : NULL;
	if (!x) {
		fprintf(stderr, "bench-data: knn needs --npy FILE\n");
		return 2;
	}
	size_t nq = (size_t)atoi(arg(argc, argv, "--queries", "1000"));
	uint32_t k = (uint32_t)atoi(arg(argc, argv, "--k", "10"));
	struct err e = ERR_INIT;
	enum knn_metric m;
	if (knn_metric_parse(arg(argc, argv, "--metric", "cosine"), &m, &e) < 0) {
		fprintf(stderr, "bench-data: %s\n", e.msg);
		return 2;
	}
	if (nq > n)
		nq = n;
	uint32_t *ids = xmalloc_array(xalloc_mul(nq, k), sizeof *ids), *cnt = xmalloc_array(nq, sizeof *cnt);
	float *sc = xmalloc_array(xalloc_mul(nq, k), sizeof *sc);
	mono_ns t0 = clock_mono_now();
	int rc = knn_exact(x, nq, x, n, d, k, m, -INFINITY, ids, sc, cnt, &e);
	mono_ns t1 = clock_mono_now();
	if (rc < 0) {
		fprintf(stderr, "bench-data: %s\n", e.msg);
		return 1;
	}
	struct digest dg;
	char hex[DIGEST_HEX_LEN + 1];
	hash_bytes(ids, nq * k * sizeof *ids, &dg);
	digest_to_hex(&dg, hex);
	printf("mode=knn metric=%s n=%llu queries=%zu k=%u seconds=%.3f ids_sha256=%s\n",
	       knn_metric_name(m), (unsigned long long)n, nq, k, secs(t0, t1), hex);
	free(x), free(ids), free(cnt), free(sc);
	return 0;
}

static int cmd_sgemm(int argc, char **argv)
{
	size_t nq = (size_t)atol(arg(argc, argv, "--queries", "1000"));
	uint64_t n = (uint64_t)atoll(arg(argc, argv, "--rows", "1000000"));
	uint32_t d = (uint32_t)atoi(arg(argc, argv, "--dim", "768"));
	size_t blk = (size_t)atol(arg(argc, argv, "--block", "16384"));
	int threads = atoi(arg(argc, argv, "--threads", "0"));
	if (!nq || !n || !d || !blk) {
		fprintf(stderr, "bench-data: sgemm needs positive --queries, --rows, --dim, --block\n");
		return 2;
	}
	vec_set_threads(threads);
	float *q = xmalloc_array(xalloc_mul(nq, d), sizeof(float));
	float *b = xmalloc_array(xalloc_mul(blk, d), sizeof(float));
	float *out = xmalloc_array(xalloc_mul(nq, blk), sizeof(float));
	rng_normal_fill(1, STREAM_CENT, 0, nq * d, q);
	rng_normal_fill(2, STREAM_CENT, 0, blk * d, b);
	vec_ip_block(q, nq, b, blk, d, out); /* warm-up: OpenBLAS threads and buffers */
	mono_ns t0 = clock_mono_now();
	for (uint64_t r = 0; r < n; r += blk) {
		size_t nb = n - r < blk ? (size_t)(n - r) : blk;
		vec_ip_block(q, nq, b, nb, d, out);
	}
	mono_ns t1 = clock_mono_now();
	double s = secs(t0, t1);
	printf("mode=sgemm queries=%zu rows=%llu dim=%u block=%zu threads=%d seconds=%.3f gflops=%.1f\n", nq,
	       (unsigned long long)n, d, blk, vec_get_threads(), s, 2.0 * (double)nq * (double)n * d / s / 1e9);
	free(q), free(b), free(out);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench-data synth|kmeans|knn|sgemm [options] (see the source)\n");
		return 2;
	}
	if (strcmp(argv[1], "synth") == 0)
		return cmd_synth(argc, argv);
	if (strcmp(argv[1], "kmeans") == 0)
		return cmd_kmeans(argc, argv);
	if (strcmp(argv[1], "knn") == 0)
		return cmd_knn(argc, argv);
	if (strcmp(argv[1], "sgemm") == 0)
		return cmd_sgemm(argc, argv);
	fprintf(stderr, "bench-data: unknown mode '%s'\n", argv[1]);
	return 2;
}
