/*
 * synthrun.h — synthetic finished runs for the analysis tests (check,
 * compare): stored request records with a known latency distribution, a
 * real "loadtest" artifact and a run record, so statistics are tested on
 * deterministic data instead of live timing.
 */
#ifndef ENGRAVE_TEST_SYNTHRUN_H
#define ENGRAVE_TEST_SYNTHRUN_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct run_record;

/* The spec the synthetic runs claim to come from (loadtest 200/s, checks). */
extern const char synth_spec[];

/*
 * A finished run of synth_spec: `n` requests at 200/s (the first 10% in
 * warm-up), latency = 1 ms * exp(0.5 N(0,1)) * factor, drawn from `seed`.
 * Pure steps get fixed digests (same for every run), the loadtest step a
 * real artifact with the records. Metrics computed from the records.
 * Aborts the test (Criterion assertion) on any store error.
 */
void make_run(struct store *st, const char *id, uint64_t seed, double factor, size_t n, struct run_record *r);

/* The general form: `repeats` measured phases of n / repeats requests each
 * (records carry their repeat; each repeat's first 10% is warm-up), each
 * repeat's latencies scaled by exp(rep_sd N(0,1)) (run-to-run spread) and
 * each second's by exp(drift_sd N(0,1)) (correlation in time). */
struct synth_opts {
	uint64_t seed;
	double factor;
	size_t n;
	size_t repeats;
	double rep_sd;
	double drift_sd;
};
void make_run_ex(struct store *st, const char *id, const struct synth_opts *o, struct run_record *r);

#endif
