/*
 * compare_int.h — a run's measured load-test records as parallel arrays,
 * shared by compare.c (which loads them) and verdict.c (which cuts them
 * into blocks of time and repeats). Inside src/analysis only.
 */
#ifndef ENGRAVE_ANALYSIS_COMPARE_INT_H
#define ENGRAVE_ANALYSIS_COMPARE_INT_H

#include <stddef.h>
#include <stdint.h>

struct compare_recs {
	size_t n;            /* measured records (warm-up excluded), dropped ones included */
	double *lat, *svc;   /* ms; meaningless where !sent */
	uint64_t *t;         /* intended, ns after t0 (time order within a repeat) */
	uint32_t *rep;       /* 0-based repeat */
	uint8_t *op;
	uint8_t *sent;       /* 0: dropped, never sent */
	uint8_t *err;        /* 1: error class != none (dropped included) */
	uint32_t repeats;    /* the loadtest artifact's `repeats` (1 when absent) */
};

#endif
