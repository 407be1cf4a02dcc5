/*
 * synth.h — seeded synthetic vectors around centroids.
 *
 * Row i (0 <= i < count) is a pure function of (opts, centroids, i):
 *   label[i] = rng_below(seed, SYNTH_STREAM_LABEL, i, k)
 *   v[i][j]  = centroid[label][j] + std_dev * rng_normal(seed, SYNTH_STREAM_NOISE, i*d + j)
 *   v[i]    /= |v[i]|                        (if normalize; vec_normalize_rows)
 *   conf[i]  = clip(conf_base + conf_jitter * (2u - 1), 0, 1),
 *              u = rng_uniform_f32(seed, SYNTH_STREAM_CONF, i)
 *   id       = id_base + i;  text = synth_text(): "Synthetic memory 0000042:
 *              Physics explains the result." from (seed, i, label)
 * so any range can be generated on any thread, resumed mid-way and
 * regenerated bit-exactly: the output is the same for every thread count and
 * chunk size.
 */
#ifndef ENGRAVE_SYNTH_H
#define ENGRAVE_SYNTH_H

#include <stddef.h>
#include <stdint.h>

struct err;

/* Philox streams used here ("SYN" + letter): other modules use other tags. */
#define SYNTH_STREAM_LABEL 0x53594e4cULL /* "SYNL" */
#define SYNTH_STREAM_NOISE 0x53594e4eULL /* "SYNN" */
#define SYNTH_STREAM_CONF 0x53594e43ULL  /* "SYNC" */
#define SYNTH_STREAM_TEXT 0x53594e54ULL  /* "SYNT" */

struct synth_opts {
	uint64_t seed;
	uint64_t count;     /* rows in the whole set */
	float std_dev;      /* noise per dimension */
	int normalize;      /* L2-normalise each row */
	float conf_base;    /* confidence = base +- jitter, clipped to [0, 1] */
	float conf_jitter;
	uint64_t id_base;   /* id of row i is id_base + i */
	unsigned threads;   /* synth_run workers; 0: online CPUs, at least 2 */
	int progress;       /* synth_run draws a progress line (log.h) */
};

/* Defaults: seed 42, std_dev 0.1, normalize 1, conf 0.7 +- 0.1, threads 0. */
void synth_opts_init(struct synth_opts *o, uint64_t count);

/*
 * Rows start .. start+n-1 (start + n <= o->count) into caller buffers:
 * vecs n x d, labels n, conf n (labels/conf may be NULL). centroids is k x d,
 * k >= 1.
 * Pure and thread-safe.
 */
void synth_generate(const struct synth_opts *o, const float *centroids, uint32_t k, uint32_t d,
		    uint64_t start, uint64_t n, float *vecs, uint32_t *labels, float *conf);

/*
 * Called once per chunk, in row order, from the thread that called
 * synth_run. The buffers are valid only during the call. Return 0 to go on,
 * non-zero to stop (put the reason in your ctx, or in the same struct err
 * you passed to synth_run: it is kept).
 */
typedef int (*synth_sink_fn)(void *ctx, uint64_t start, uint64_t n, const float *vecs,
			     const uint32_t *labels, const float *conf);

/*
 * Generate all o->count rows over o->threads workers and deliver them to
 * `sink` in order, rows_per_chunk rows at a time (the last chunk may be
 * shorter). At most threads + 2 chunks are in memory. -1 when the sink
 * stops (ERR_INTERRUPTED unless the sink set `e` itself) or on bad options.
 */
int synth_run(const struct synth_opts *o, const float *centroids, uint32_t k, uint32_t d,
	      uint64_t rows_per_chunk, synth_sink_fn sink, void *ctx, struct err *e);

/* Content string of row i: "Synthetic memory %07llu: <Topic> <verb> <object>."
 * Writes at most cap bytes (NUL-terminated); returns the length it needed. */
size_t synth_text(const struct synth_opts *o, uint64_t i, uint32_t label, char *buf, size_t cap);

#endif
