/*
 * log.h — diagnostics on stderr, and the live progress line.
 *
 * Logging is the one kind of output library layers may produce: messages go
 * to stderr, filtered by a global level (-v raises it, -q lowers it), so
 * stdout stays clean for reports and --json. Hot paths count errors instead
 * of logging them.
 *
 * The progress line redraws itself in place ("\r") once per interval on a
 * TTY and prints a plain log line every `log_every` seconds otherwise, so CI
 * logs stay readable. Thread-safe: progress_update may be called from any
 * worker; drawing is rate-limited under a mutex.
 */
#ifndef ENGRAVE_LOG_H
#define ENGRAVE_LOG_H

#include <stdint.h>
#include <pthread.h>
#include "engrave/clock.h"

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

struct progress {
	char label[64];
	uint64_t total;     /* 0: unknown */
	uint64_t done;
	uint64_t errors;
	uint64_t retries;
	const char *unit;   /* "articles", "vectors", "B" ... */
	mono_ns start;
	mono_ns last_draw;
	mono_ns draw_every;
	mono_ns log_every;
	int tty;
	int enabled;
	int drawn;          /* a \r line is on screen */
	pthread_mutex_t lock;
};

/* Starts the clock. total may be 0 when unknown. */
void progress_start(struct progress *p, const char *label, uint64_t total, const char *unit);
/* Add to the counters and redraw if due. */
void progress_add(struct progress *p, uint64_t done, uint64_t errors, uint64_t retries);
/* Set absolute counters (e.g. when resuming) and redraw if due. */
void progress_set(struct progress *p, uint64_t done);
/* Final line with totals and rate; releases the mutex. */
void progress_finish(struct progress *p);

#endif
