/*
 * clock.h — typed clocks (Redis monotonic.h).
 *
 * `mono_ns` is CLOCK_MONOTONIC nanoseconds: for schedules, latencies and
 * durations only, never the time of day. `unix_ns` is CLOCK_REALTIME
 * nanoseconds: only for run records and run ids. The two are never mixed.
 */
#ifndef ENGRAVE_CLOCK_H
#define ENGRAVE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t mono_ns;
typedef int64_t unix_ns;

#define NS_PER_US 1000ULL
#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL

mono_ns clock_mono_now(void);
unix_ns clock_unix_now(void);
/* Sleep until the monotonic time `t` (returns at once if past). */
void clock_sleep_until(mono_ns t);
/* "2026-11-24T08:01:02Z" into out (>= 21 bytes). */
void clock_format_iso8601(unix_ns t, char *out, size_t n);
/* Human duration: "950 ns", "12.3 ms", "4.5 s", "1h02m". */
void clock_format_duration(uint64_t ns, char *out, size_t n);

#endif
