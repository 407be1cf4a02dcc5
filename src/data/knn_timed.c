/*
 * knn_timed.c — exact top-k per query over the rows live at its time
 * (knn_timed.h).
 *
 * Split the rows by the span [first query time, last query time]: stable
 * rows are live over all of it, volatile rows begin or end inside it, dead
 * rows never meet it. Stable rows go through knn_exact_fetch (the fetch
 * gathers them through the caller's row accessor, so the base is never
 * copied whole); each query's
 * list is then merged with the volatile rows live at its time, scored with
 * knn_score, under the same order: higher score first, then lower row.
 * Volatile rows are the writes made during the searches (a few percent of
 * the base in a streaming runbook), so the merge is cheap.
 */
#include "engrave/knn_timed.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct gather {
	knn_row_fn row;
	void *ctx;
	const uint32_t *rows;
	uint32_t d;
};

static const float *gather_rows(void *ctx, unsigned worker, uint64_t row0, size_t n, float *buf, struct err *e)
{
	(void)worker, (void)e;
	const struct gather *g = ctx;
	for (size_t i = 0; i < n; i++)
		memcpy(buf + i * g->d, g->row(g->ctx, g->rows[row0 + i]), (size_t)g->d * sizeof(float));
	return buf;
}

/* Is (s, r) better than (ts, tr): higher score, then lower row. */
static int better(float s, uint32_t r, float ts, uint32_t tr)
{
	return s > ts || (s == ts && r < tr);
}

/* Insert (s, r) into the sorted list ids/sc of *n entries, at most k. */
static void offer(uint32_t *ids, float *sc, uint32_t *n, uint32_t k, float s, uint32_t r)
{
	if (*n == k && !better(s, r, sc[k - 1], ids[k - 1]))
		return;
	uint32_t p = *n < k ? (*n)++ : k - 1;
	while (p > 0 && better(s, r, sc[p - 1], ids[p - 1])) {
		ids[p] = ids[p - 1];
		sc[p] = sc[p - 1];
		p--;
	}
	ids[p] = r;
	sc[p] = s;
}

int knn_timed(const float *q, const int64_t *q_time, size_t nq, knn_row_fn row_of, void *row_ctx, const int64_t *t_on,
	      const int64_t *t_off, size_t nb, uint32_t d, uint32_t k, enum knn_metric m, uint32_t *ids_out,
	      uint32_t *n_out, struct err *e)
{
	if (!nq)
		return 0;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	for (size_t j = 0; j < nq; j++) {
		lo = q_time[j] < lo ? q_time[j] : lo;
		hi = q_time[j] > hi ? q_time[j] : hi;
	}
	uint32_t *stable = xalloc_try_array(nb ? nb : 1, sizeof(uint32_t), "the stable rows", e);
	uint32_t *vol = stable ? xalloc_try_array(nb ? nb : 1, sizeof(uint32_t), "the volatile rows", e) : NULL;
	float *sc = vol ? xalloc_try_array(xalloc_mul(nq, k), sizeof(float), "the ground truth's scores", e) : NULL;
	if (!sc) {
		free(stable);
		free(vol);
		return -1;
	}
	size_t ns = 0, nv = 0;
	for (size_t i = 0; i < nb; i++) {
		if (t_on[i] <= lo && t_off[i] > hi)
			stable[ns++] = (uint32_t)i;
		else if (t_on[i] <= hi && t_off[i] > lo)
			vol[nv++] = (uint32_t)i;
	}
	struct gather g = { row_of, row_ctx, stable, d };
	struct knn_opts o;
	knn_opts_init(&o);
	int rc = 0;
	if (ns) {
		rc = knn_exact_fetch(q, nq, d, k, m, -INFINITY, ns, gather_rows, &g, &o, ids_out, sc, n_out, e);
	} else {
		memset(n_out, 0, nq * sizeof(uint32_t));
	}
	for (size_t j = 0; !rc && j < nq; j++) {
		uint32_t *ids = ids_out + j * k;
		float *s = sc + j * k;
		for (uint32_t r = 0; r < n_out[j]; r++)
			ids[r] = stable[ids[r]]; /* back to base rows (order kept: stable is ascending) */
		for (size_t v = 0; v < nv; v++) {
			uint32_t row = vol[v];
			if (t_on[row] <= q_time[j] && t_off[row] > q_time[j])
				offer(ids, s, &n_out[j], k, (float)knn_score(m, q + j * d, row_of(row_ctx, row), d), row);
		}
		for (uint32_t r = n_out[j]; r < k; r++)
			ids[r] = UINT32_MAX;
	}
	free(stable);
	free(vol);
	free(sc);
	return rc;
}
