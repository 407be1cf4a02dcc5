/*
 * err.c — the error value every layer fills and the cli layer prints.
 *
 * Kept deliberately tiny: a class (which decides the exit code), a message
 * and an optional hint, all in fixed buffers so that filling an error never
 * allocates and can be done on any path, including out-of-memory ones.
 * Every message and hint is run through secret_redact (secret.h) as it is
 * set: errors end up in run records and on stderr, and their text often
 * quotes what a server answered, which may echo the bearer token.
 */
#include "engrave/err.h"
#include "engrave/secret.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int err_set(struct err *e, enum err_class cls, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	e->cls = cls;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	secret_redact(e->msg, sizeof(e->msg));
	e->hint[0] = '\0';
	return -1;
}

int err_set_errno(struct err *e, enum err_class cls, int errnum, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	e->cls = cls;
	int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s", strerror(errnum));
	secret_redact(e->msg, sizeof(e->msg));
	e->hint[0] = '\0';
	return -1;
}

int err_hint(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->hint, sizeof(e->hint), fmt, ap);
	va_end(ap);
	secret_redact(e->hint, sizeof(e->hint));
	return -1;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	char pre[ERR_MSG_MAX], old[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	size_t n = strlen(pre);
	if (n > sizeof(e->msg) - 3)
		n = sizeof(e->msg) - 3;
	memcpy(e->msg, pre, n);
	memcpy(e->msg + n, ": ", 2);
	size_t room = sizeof(e->msg) - n - 2;
	size_t ol = strnlen(old, room - 1);
	memcpy(e->msg + n + 2, old, ol);
	e->msg[n + 2 + ol] = '\0';
	secret_redact(e->msg, sizeof(e->msg));
	return -1;
}

void err_clear(struct err *e)
{
	if (!e)
		return;
	e->cls = ERR_NONE;
	e->msg[0] = e->hint[0] = '\0';
}

int err_exit_code(enum err_class cls)
{
	switch (cls) {
	case ERR_NONE: return 0;
	case ERR_CHECK: case ERR_CORRUPT: return 1;
	case ERR_USAGE: case ERR_SPEC: case ERR_INPUT: return 2;
	case ERR_MISSING: return 3;
	case ERR_INTERRUPTED: return 130;
	default: return 4;
	}
}

const char *err_class_name(enum err_class cls)
{
	static const char *names[] = {
		"none", "usage", "spec", "missing", "check", "corrupt", "io",
		"nospace", "store", "net", "input", "unsupported", "internal",
		"interrupted", "busy",
	};
	if ((unsigned)cls < sizeof(names) / sizeof(names[0]))
		return names[cls];
	return "unknown";
}

void err_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "BUG: %s:%d: ", file, line);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}
