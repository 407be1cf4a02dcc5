/*
 * server_proc.h — start and stop a test server process from a C test.
 *
 * The server is started with fork/exec, must write its bound port into a
 * port file (engram-server --port 0 --port-file F; others via a wrapper),
 * and is stopped by pid: SIGTERM, wait up to a few seconds, then SIGKILL.
 */
#ifndef ENGRAVE_SERVER_PROC_H
#define ENGRAVE_SERVER_PROC_H

#include <sys/types.h>

struct server_proc {
	pid_t pid;
	int port;
	char url[64];       /* "http://127.0.0.1:PORT" */
	char port_file[512];
	char log_file[512]; /* stdout+stderr of the server */
};

/*
 * Run argv (argv[0] a path; NULL-terminated) with "{PORTFILE}" in any
 * argument replaced by a fresh port file path under $TMPDIR, wait up to
 * `wait_ms` for the port file (or, when port > 0 was fixed by the caller via
 * `fixed_port`, for a TCP connect). 0 ok, -1 (message on stderr) otherwise.
 */
int server_proc_start(struct server_proc *s, char *const argv[], int fixed_port, int wait_ms);
/* SIGTERM, wait, SIGKILL if needed. Returns the exit status (or -1). */
int server_proc_stop(struct server_proc *s);
/* The build directory: $BUILD or "build". */
const char *server_proc_build_dir(void);
/* A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
int server_proc_free_port(void);

#endif
