/*
 * server_proc.c — fork/exec a test server, learn its port, stop it by pid.
 *
 * Servers bind 127.0.0.1 on a free port: either they write the port to a
 * file (engram-server --port-file) which we poll for, or the caller picks a
 * free port and we poll until a TCP connect succeeds (chroma). Stopping
 * sends SIGTERM to that pid only (never a process group or a name) and
 * waits, escalating to SIGKILL after 8 s.
 */
#include "server_proc.h"
#include "engrave/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned seq;

const char *server_proc_build_dir(void)
{
	const char *b = getenv("BUILD");
	return b && *b ? b : "build";
}

int server_proc_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = { 0 };
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int can_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in a = { 0 };
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int server_proc_start(struct server_proc *s, char *const argv[], int fixed_port, int wait_ms)
{
	memset(s, 0, sizeof(*s));
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	unsigned n = __atomic_add_fetch(&seq, 1, __ATOMIC_SEQ_CST);
	snprintf(s->port_file, sizeof(s->port_file), "%s/server-%d-%u.port", tmp, (int)getpid(), n);
	snprintf(s->log_file, sizeof(s->log_file), "%s/server-%d-%u.log", tmp, (int)getpid(), n);
	unlink(s->port_file);

	int argc = 0;
	while (argv[argc])
		argc++;
	char **av = xcalloc((size_t)argc + 1, sizeof(char *));
	for (int i = 0; i < argc; i++)
		av[i] = strcmp(argv[i], "{PORTFILE}") == 0 ? s->port_file : argv[i];

	pid_t pid = fork();
	if (pid < 0) {
		free(av);
		return -1;
	}
	if (pid == 0) {
		int fd = open(s->log_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(av[0], av);
		fprintf(stderr, "exec %s: %s\n", av[0], strerror(errno));
		_exit(127);
	}
	free(av);
	s->pid = pid;
	for (int waited = 0; waited <= wait_ms; waited += 20) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, "server %s exited early (status %d); log: %s\n", argv[0], st, s->log_file);
			s->pid = 0;
			return -1;
		}
		if (fixed_port > 0) {
			if (can_connect(fixed_port)) {
				s->port = fixed_port;
				break;
			}
		} else {
			FILE *f = fopen(s->port_file, "r");
			if (f) {
				int p = 0;
				if (fscanf(f, "%d", &p) == 1 && p > 0)
					s->port = p;
				fclose(f);
				if (s->port)
					break;
			}
		}
		sleep_ms(20);
	}
	if (!s->port) {
		fprintf(stderr, "server %s did not come up in %d ms; log: %s\n", argv[0], wait_ms, s->log_file);
		server_proc_stop(s);
		return -1;
	}
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	return 0;
}

int server_proc_stop(struct server_proc *s)
{
	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	int st = -1;
	for (int i = 0; i < 400; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			unlink(s->port_file);
			if ((WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
			    (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM))
				unlink(s->log_file); /* kept only when something went wrong */
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
		sleep_ms(20);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
	s->pid = 0;
	unlink(s->port_file);
	return -1;
}
