/*
 * clock.c — monotonic and wall clocks behind two distinct types.
 *
 * clock_sleep_until uses clock_nanosleep(TIMER_ABSTIME) on the monotonic
 * clock, so an open-loop schedule does not drift with sleep overshoot.
 */
#include "engrave/clock.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

mono_ns clock_mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (mono_ns)ts.tv_sec * NS_PER_S + (mono_ns)ts.tv_nsec;
}

unix_ns clock_unix_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (unix_ns)ts.tv_sec * (unix_ns)NS_PER_S + ts.tv_nsec;
}

void clock_sleep_until(mono_ns t)
{
	struct timespec ts = { (time_t)(t / NS_PER_S), (long)(t % NS_PER_S) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void clock_format_iso8601(unix_ns t, char *out, size_t n)
{
	time_t s = (time_t)(t / (unix_ns)NS_PER_S);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void clock_format_duration(uint64_t ns, char *out, size_t n)
{
	if (ns < NS_PER_US)
		snprintf(out, n, "%llu ns", (unsigned long long)ns);
	else if (ns < NS_PER_MS)
		snprintf(out, n, "%.1f us", (double)ns / NS_PER_US);
	else if (ns < NS_PER_S)
		snprintf(out, n, "%.1f ms", (double)ns / NS_PER_MS);
	else if (ns < 60 * NS_PER_S)
		snprintf(out, n, "%.1f s", (double)ns / NS_PER_S);
	else {
		uint64_t s = ns / NS_PER_S;
		if (s < 3600)
			snprintf(out, n, "%llum%02llus", (unsigned long long)(s / 60),
				 (unsigned long long)(s % 60));
		else
			snprintf(out, n, "%lluh%02llum", (unsigned long long)(s / 3600),
				 (unsigned long long)(s / 60 % 60));
	}
}
