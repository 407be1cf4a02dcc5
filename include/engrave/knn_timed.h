/*
 * knn_timed.h — exact k nearest neighbours over a base that changes in time.
 *
 * A streaming workload (a runbook: inserts, deletes and replaces while
 * searches run) asks, for each query, for the exact top-k over the vectors
 * the target held when that query was sent. The base is a list of versions:
 * row i holds one vector and is live over [t_on[i], t_off[i]) (INT64_MIN /
 * INT64_MAX for "always"); a replaced id is two rows, the old vector's
 * ending where the new one's starts. Query j at time q_time[j] is answered
 * over the rows live at that time, exactly as knn_exact would over them
 * (same scores, ties to the lower row, no threshold).
 *
 * Method: rows live during the whole span of the queries' times are
 * searched once with knn_exact_fetch (OpenBLAS, all queries at once); the
 * few rows whose life begins or ends inside the span are scored one by
 * one with knn_score for the queries they were live for, and merged.
 */
#ifndef ENGRAVE_KNN_TIMED_H
#define ENGRAVE_KNN_TIMED_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/knn.h"

struct err;

/* Row i's vector (d floats), valid for the whole call. */
typedef const float *(*knn_row_fn)(void *ctx, size_t i);

/* ids_out: nq * k row numbers (UINT32_MAX padded), n_out[j]: how many are valid. */
int knn_timed(const float *q, const int64_t *q_time, size_t nq, knn_row_fn row, void *row_ctx, const int64_t *t_on,
	      const int64_t *t_off, size_t nb, uint32_t d, uint32_t k, enum knn_metric m, uint32_t *ids_out,
	      uint32_t *n_out, struct err *e);

#endif
