/*
 * secret.c — the registry of secret values and the redactor (secret.h).
 *
 * The registry is a fixed array filled under a mutex and published through
 * an atomic count (release on register, acquire on redact), so redaction
 * never takes a lock or allocates: err.c calls it on every message, also on
 * out-of-memory paths and from worker threads.
 *
 * Redaction is three passes over the string, each splicing "***" in place:
 *   1. every registered value (at least SECRET_MIN_LEN bytes);
 *   2. credentials after an HTTP auth scheme word, "Bearer" or "Basic" in any
 *      case followed by blanks: the run of token68 characters after it. A run
 *      that is a short lowercase word ("bearer token", "basic auth") is prose,
 *      not a credential, and is kept;
 *   3. URL userinfo: the text between "://" and an '@' that comes before any
 *      '/', '?', '#', blank or quote.
 * A replacement already "***" is left alone, so redacting twice is a no-op.
 */
#include "engrave/secret.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MASK "***"

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static char *reg[SECRET_MAX];
static atomic_size_t reg_n;

void secret_register(const char *value)
{
	if (!value || strlen(value) < SECRET_MIN_LEN)
		return;
	pthread_mutex_lock(&reg_lock);
	size_t n = atomic_load_explicit(&reg_n, memory_order_relaxed);
	int known = 0;
	for (size_t i = 0; i < n && !known; i++)
		known = !strcmp(reg[i], value);
	if (!known && n < SECRET_MAX) {
		reg[n] = xstrdup(value);
		atomic_store_explicit(&reg_n, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&reg_lock);
}

int secret_env(const char *name, const char *what, const char **value, struct err *e)
{
	*value = NULL;
	const char *v = getenv(name);
	if (!v || !*v) {
		err_set(e, ERR_USAGE, "%s: environment variable %s %s", what, name, v ? "is empty" : "is not set");
		return err_hint(e, "export %s=<api key> (the spec names the variable; the key itself is never stored)",
				name);
	}
	secret_register(v);
	*value = v;
	return 0;
}

/* Replace s[at, at + n) by `rep`, truncating at cap - 1; returns the new length. */
static size_t splice(char *s, size_t len, size_t cap, size_t at, size_t n, const char *rep)
{
	size_t rl = strlen(rep);
	if (at + rl > cap - 1)
		rl = cap - 1 - at;
	size_t tail = len - at - n, room = cap - 1 - at - rl;
	if (tail > room)
		tail = room;
	memmove(s + at + rl, s + at + n, tail);
	memcpy(s + at, rep, rl);
	len = at + rl + tail;
	s[len] = '\0';
	return len;
}

static size_t redact_values(char *s, size_t len, size_t cap)
{
	size_t n = atomic_load_explicit(&reg_n, memory_order_acquire);
	for (size_t i = 0; i < n; i++) {
		size_t vl = strlen(reg[i]), from = 0;
		const char *p;
		while (from < len && (p = strstr(s + from, reg[i]))) {
			size_t at = (size_t)(p - s);
			len = splice(s, len, cap, at, vl, MASK);
			from = at + strlen(MASK);
		}
	}
	return len;
}

static int token68(unsigned char c)
{
	return isalnum(c) || strchr("-._~+/=", c) != NULL;
}

static size_t redact_schemes(char *s, size_t len, size_t cap)
{
	static const char *const schemes[] = { "bearer", "basic" };
	for (size_t at = 0; at < len; at++) {
		if (at && isalnum((unsigned char)s[at - 1]))
			continue;
		for (size_t k = 0; k < 2; k++) {
			size_t sl = strlen(schemes[k]);
			if (strncasecmp(s + at, schemes[k], sl) || (s[at + sl] != ' ' && s[at + sl] != '\t'))
				continue;
			size_t t = at + sl;
			while (s[t] == ' ' || s[t] == '\t')
				t++;
			size_t r = t, lower = 1;
			while (r < len && token68((unsigned char)s[r])) {
				lower &= islower((unsigned char)s[r]) != 0;
				r++;
			}
			if (r == t || (lower && r - t < 8) || (r - t == 3 && !memcmp(s + t, MASK, 3)))
				continue;
			len = splice(s, len, cap, t, r - t, MASK);
			at = t + 2;
			break;
		}
	}
	return len;
}

static size_t redact_userinfo(char *s, size_t len, size_t cap)
{
	for (char *p = strstr(s, "://"); p; p = strstr(p + 3, "://")) {
		size_t u = (size_t)(p - s) + 3, q = u;
		while (q < len && !strchr("/?#@ \t\r\n\"'<>", s[q]))
			q++;
		if (q < len && s[q] == '@' && q > u && !(q - u == 3 && !memcmp(s + u, MASK, 3)))
			len = splice(s, len, cap, u, q - u, MASK);
	}
	return len;
}

size_t secret_redact(char *s, size_t cap)
{
	if (!s || cap == 0)
		return 0;
	size_t len = strnlen(s, cap - 1);
	s[len] = '\0';
	len = redact_values(s, len, cap);
	len = redact_schemes(s, len, cap);
	return redact_userinfo(s, len, cap);
}
