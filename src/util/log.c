/*
 * log.c — leveled stderr logging and the progress line.
 *
 * The progress line and log lines share stderr; a log message first clears
 * a \r progress line on screen so the two never interleave mid-line.
 * ENGRAVE_PROGRESS=0 disables progress output (tests), =1 forces the
 * non-TTY style. A log line is formatted first and run through secret_redact
 * (secret.h), so a token quoted by a server never reaches stderr or a log.
 */
#include "engrave/log.h"
#include "engrave/secret.h"
#include "engrave/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum log_level log_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int line_on_screen;

void log_set_level(enum log_level lvl) { log_level = lvl; }

static void clear_line_locked(void)
{
	if (line_on_screen) {
		fputs("\r\033[K", stderr);
		line_on_screen = 0;
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl > log_level)
		return;
	static const char *tag[] = { "error: ", "warning: ", "", "debug: " };
	char small[2048], *line = small;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	size_t cap = sizeof(small);
	if (n >= (int)sizeof(small)) { /* a long line: format it again, whole */
		cap = (size_t)n + 1;
		line = xmalloc(cap);
		va_start(ap, fmt);
		vsnprintf(line, cap, fmt, ap);
		va_end(ap);
	}
	secret_redact(line, cap);
	pthread_mutex_lock(&log_lock);
	clear_line_locked();
	fputs(tag[lvl], stderr);
	fputs(line, stderr);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
	if (line != small)
		free(line);
}

void progress_start(struct progress *p, const char *label, uint64_t total, const char *unit)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->total = total;
	p->unit = unit ? unit : "items";
	p->start = p->last_draw = clock_mono_now();
	p->draw_every = 200 * NS_PER_MS;
	p->log_every = 10 * NS_PER_S;
	const char *env = getenv("ENGRAVE_PROGRESS");
	p->enabled = !(env && strcmp(env, "0") == 0) && log_level >= LOG_INFO;
	p->tty = isatty(2) && !(env && strcmp(env, "1") == 0);
	pthread_mutex_init(&p->lock, NULL);
}

static void progress_draw(struct progress *p, mono_ns now, int final)
{
	double secs = (double)(now - p->start) / NS_PER_S;
	double rate = secs > 0 ? (double)p->done / secs : 0;
	char line[256], eta[32] = "";
	int n = snprintf(line, sizeof(line), "%s: %llu", p->label, (unsigned long long)p->done);
	if (p->total)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "/%llu (%.1f%%)",
			      (unsigned long long)p->total, 100.0 * (double)p->done / (double)p->total);
	n += snprintf(line + n, sizeof(line) - (size_t)n, " %s, %.1f/s", p->unit, rate);
	if (p->errors)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ", %llu errors", (unsigned long long)p->errors);
	if (p->retries)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ", %llu retries", (unsigned long long)p->retries);
	if (!final && p->total && rate > 0 && p->done < p->total) {
		clock_format_duration((uint64_t)((double)(p->total - p->done) / rate * NS_PER_S), eta, sizeof(eta));
		snprintf(line + n, sizeof(line) - (size_t)n, ", ETA %s", eta);
	} else if (final) {
		clock_format_duration(now - p->start, eta, sizeof(eta));
		snprintf(line + n, sizeof(line) - (size_t)n, " in %s", eta);
	}
	pthread_mutex_lock(&log_lock);
	if (p->tty && !final) {
		fprintf(stderr, "\r\033[K%s", line);
		line_on_screen = 1;
	} else {
		clear_line_locked();
		fprintf(stderr, "%s\n", line);
	}
	pthread_mutex_unlock(&log_lock);
}

static void progress_maybe_draw(struct progress *p)
{
	if (!p->enabled)
		return;
	mono_ns now = clock_mono_now();
	mono_ns every = p->tty ? p->draw_every : p->log_every;
	if (now - p->last_draw >= every) {
		p->last_draw = now;
		progress_draw(p, now, 0);
	}
}

void progress_add(struct progress *p, uint64_t done, uint64_t errors, uint64_t retries)
{
	pthread_mutex_lock(&p->lock);
	p->done += done;
	p->errors += errors;
	p->retries += retries;
	progress_maybe_draw(p);
	pthread_mutex_unlock(&p->lock);
}

void progress_set(struct progress *p, uint64_t done)
{
	pthread_mutex_lock(&p->lock);
	p->done = done;
	progress_maybe_draw(p);
	pthread_mutex_unlock(&p->lock);
}

void progress_finish(struct progress *p)
{
	if (p->enabled)
		progress_draw(p, clock_mono_now(), 1);
	pthread_mutex_destroy(&p->lock);
}
