/*
 * err.h — errors with context, passed down by the caller.
 *
 * Library layers never print or exit: a function that can fail takes a
 * `struct err *` and returns 0 on success or -1 after filling it with
 * `return err_set(e, ERR_X, "...")`. The cli layer prints it (git's wording:
 * "error: ..." then "hint: ...") and src/cli/main.c maps the class to an
 * exit code. Messages start lowercase, name what failed first, and carry
 * context: file:line:col for specs, method/URL/status for the network,
 * sub-database/key/mdb_strerror for the store.
 *
 * `e` may be NULL everywhere: the error is then discarded.
 */
#ifndef ENGRAVE_ERR_H
#define ENGRAVE_ERR_H

#include <stddef.h>

enum err_class {
	ERR_NONE = 0,
	ERR_USAGE,    /* bad command line                      -> exit 2 */
	ERR_SPEC,     /* invalid experiment spec               -> exit 2 */
	ERR_MISSING,  /* no such run, ref, artifact or file    -> exit 3 */
	ERR_CHECK,    /* ran and found a problem (regression)  -> exit 1 */
	ERR_CORRUPT,  /* store or input data is corrupt        -> exit 1 */
	ERR_IO,       /* file system error                     -> exit 4 */
	ERR_NOSPACE,  /* disk or map full                      -> exit 4 */
	ERR_STORE,    /* LMDB failure                          -> exit 4 */
	ERR_NET,      /* target unreachable / misbehaving      -> exit 4 */
	ERR_INPUT,    /* malformed input file (xml, npy, ...)  -> exit 2 */
	ERR_UNSUPPORTED, /* feature not built yet              -> exit 4 */
	ERR_INTERNAL, /* a bug                                 -> exit 4 */
	ERR_INTERRUPTED, /* stopped by a signal; resumable     -> exit 130 */
	ERR_BUSY,     /* held by another live process (a run's lease) -> exit 4 */
};

#define ERR_MSG_MAX 1024
#define ERR_HINT_MAX 512

struct err {
	enum err_class cls;
	char msg[ERR_MSG_MAX];
	char hint[ERR_HINT_MAX];
};

#define ERR_INIT { ERR_NONE, "", "" }

/* Fill `e` (if not NULL) and return -1. printf-style. */
int err_set(struct err *e, enum err_class cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like err_set, appending ": strerror(errnum)". */
int err_set_errno(struct err *e, enum err_class cls, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Set the hint ("what to do next"); returns -1 so it can end a chain. */
int err_hint(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the existing message with context: "ctx: old message". Returns -1. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(struct err *e);
/* Exit code for a class (see the enum). */
int err_exit_code(enum err_class cls);
const char *err_class_name(enum err_class cls);

/* BUG(): an impossible state. Prints file:line and aborts. */
void err_bug(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
#define BUG(...) err_bug(__FILE__, __LINE__, __VA_ARGS__)

#endif
