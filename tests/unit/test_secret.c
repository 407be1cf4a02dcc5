/*
 * test_secret.c — secrets never shown: a registered token, "Bearer X" /
 * "Basic X" credentials and URL userinfo are replaced by "***" in place, in
 * every error message and hint (err.c) and by secret_redact itself; prose
 * such as "bearer token" is kept; an unset and an empty variable get
 * different messages.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/err.h"
#include "engrave/secret.h"

static void redacted(const char *in, const char *want)
{
	char b[256];
	snprintf(b, sizeof(b), "%s", in);
	size_t n = secret_redact(b, sizeof(b));
	cr_assert_str_eq(b, want, "redact(%s)", in);
	cr_assert_eq(n, strlen(want));
}

Test(secret, registered_values_everywhere)
{
	secret_register("tok-Sz81kq");
	redacted("401 API key tok-Sz81kq not found", "401 API key *** not found");
	redacted("tok-Sz81kq,tok-Sz81kq", "***,***");
	redacted("{\"k\":\"xtok-Sz81kqx\"}", "{\"k\":\"x***x\"}");
	secret_register("abc"); /* too short to hunt for by value */
	redacted("abc abc", "abc abc");
	secret_register(NULL);
}

Test(secret, auth_schemes_and_prose)
{
	redacted("echo: Authorization: Bearer q9.z-Y_w~+/=", "echo: Authorization: Bearer ***");
	redacted("BEARER\tabcdefghijk", "BEARER\t***");
	redacted("Basic dXNlcjpwYXNz and more", "Basic *** and more");
	redacted("Bearer x1", "Bearer ***");
	redacted("holding the bearer token", "holding the bearer token");
	redacted("a basic or literal string", "a basic or literal string");
	redacted("Bearer ***", "Bearer ***");
	redacted("unbearer abcdef12", "unbearer abcdef12");
}

Test(secret, url_userinfo)
{
	redacted("GET http://user:pa55@host:80/x", "GET http://***@host:80/x");
	redacted("https://tok@h/a@b", "https://***@h/a@b");
	redacted("http://host/path?mail=a@b", "http://host/path?mail=a@b");
	redacted("mail a@b.c", "mail a@b.c");
}

Test(secret, truncates_at_the_buffer)
{
	char b[12] = "Bearer ab1";
	secret_redact(b, sizeof(b));
	cr_assert_str_eq(b, "Bearer ***");
	char c[10] = "Bearer a1";
	secret_redact(c, sizeof(c));
	cr_assert_str_eq(c, "Bearer **", "cut at cap - 1");
}

Test(secret, errors_are_redacted)
{
	secret_register("Qz7-secret-Qz7");
	struct err e = ERR_INIT;
	err_set(&e, ERR_NET, "server said: key Qz7-secret-Qz7 (Authorization: Bearer Qz7-secret-Qz7)");
	cr_assert_str_eq(e.msg, "server said: key *** (Authorization: Bearer ***)");
	err_hint(&e, "try http://u:Qz7-secret-Qz7@x/");
	cr_assert_str_eq(e.hint, "try http://***@x/");
	err_prefix(&e, "ingest Qz7-secret-Qz7");
	cr_assert(!strstr(e.msg, "Qz7-secret-Qz7"), "%s", e.msg);
	err_set_errno(&e, ERR_IO, 2, "open Qz7-secret-Qz7");
	cr_assert(!strstr(e.msg, "Qz7-secret-Qz7"), "%s", e.msg);
}

Test(secret, env_not_set_and_empty)
{
	struct err e = ERR_INIT;
	const char *v = "x";
	unsetenv("ENGRAVE_TEST_SECRET_NOPE");
	cr_assert_eq(secret_env("ENGRAVE_TEST_SECRET_NOPE", "target engram", &v, &e), -1);
	cr_assert_null(v);
	cr_assert_eq(e.cls, ERR_USAGE);
	cr_assert(strstr(e.msg, "target engram: environment variable ENGRAVE_TEST_SECRET_NOPE is not set"), "%s", e.msg);
	setenv("ENGRAVE_TEST_SECRET_NOPE", "", 1);
	cr_assert_eq(secret_env("ENGRAVE_TEST_SECRET_NOPE", "embedder", &v, &e), -1);
	cr_assert(strstr(e.msg, "embedder: environment variable ENGRAVE_TEST_SECRET_NOPE is empty"), "%s", e.msg);
	setenv("ENGRAVE_TEST_SECRET_NOPE", "Vv-9-registered", 1);
	cr_assert_eq(secret_env("ENGRAVE_TEST_SECRET_NOPE", "embedder", &v, &e), 0);
	cr_assert_str_eq(v, "Vv-9-registered");
	err_set(&e, ERR_NET, "echo Vv-9-registered");
	cr_assert_str_eq(e.msg, "echo ***", "secret_env registers the value");
}
