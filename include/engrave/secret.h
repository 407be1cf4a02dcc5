/*
 * secret.h — bearer tokens: read from the environment, never shown.
 *
 * A spec names the environment variable holding a token (auth.bearer_env),
 * never the token. secret_env() reads it and registers the value; from then
 * on secret_redact() replaces it with "***" wherever it appears, and so does
 * any "Bearer <token>" / "Basic <credentials>" text and the user:password of
 * a URL (three stars before the '@'). err.c runs every message and hint
 * through it and log.c every log line, so a server that echoes the Authorization header
 * into an error body cannot put the token into a run record, a step summary,
 * stderr or a log (drivers also redact the server text they keep, through
 * target_format_http_error).
 *
 * Registered values are kept for the life of the process (at most
 * SECRET_MAX; later ones are still caught by the "Bearer" rule). Values
 * shorter than SECRET_MIN_LEN are not replaced by value (they would blank
 * out ordinary words). Thread-safe: register from any thread, redact from any.
 */
#ifndef ENGRAVE_SECRET_H
#define ENGRAVE_SECRET_H

#include <stddef.h>

struct err;

#define SECRET_MAX 16
#define SECRET_MIN_LEN 4

/*
 * The value of environment variable `name`, registered for redaction.
 * `what` names the user in errors ("target engram", "embedder"). ERR_USAGE
 * when the variable is not set or is empty (two different messages), with
 * a hint to export it.
 */
int secret_env(const char *name, const char *what, const char **value, struct err *e);
/* Register a secret value (copied) so secret_redact hides it. NULL-safe. */
void secret_register(const char *value);
/*
 * Redact `s` (NUL-terminated, in a buffer of `cap` bytes) in place: every
 * registered secret, "Bearer X"/"Basic X" credentials and URL userinfo
 * become "***". Truncates at cap - 1 if a replacement is longer than what
 * it replaces. Returns the new length.
 */
size_t secret_redact(char *s, size_t cap);

#endif
