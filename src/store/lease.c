/*
 * lease.c — per-run leases: which live process owns a run.
 *
 * A run is owned by the process that runs it. Two processes on one run
 * (`engrave run SPEC --resume` while the original still runs) would both
 * send the whole ingest and both load-test, so steps_run takes the run's
 * lease first and a second taker fails with ERR_BUSY naming the holder.
 *
 * A lease is a file beside the LMDB files, <store>/leases/<run id>.lock,
 * write-locked with an open file description lock (fcntl F_OFD_SETLK) for
 * as long as the holder keeps it. The kernel drops the lock when the holder
 * exits or is killed, so a lease can never outlive its process and needs no
 * heartbeat, boot id or timeout (a journal record with a pid would: pids
 * are reused and a crashed holder leaves it behind). OFD locks rather than
 * flock: F_OFD_GETLK lets gc and verify ask whether a lease is held without
 * taking it even for an instant, so probing never makes a taker fail. The
 * file holds who took it ("pid", "host", "since" in unix ns), for messages
 * and for gc; it is opened O_CLOEXEC so programs we start do not inherit it.
 *
 * Release unlinks the file while still holding the lock, then closes it. A
 * taker that opened the old file just before the unlink gets its lock on an
 * unlinked inode, sees that the path now names another file (or none) and
 * starts over; so at any time at most one process holds the lease that the
 * path names. Files left by killed holders are stale (unlocked): the next
 * taker reuses them and gc removes them.
 *
 * gc (maint.c) honours live leases: it keeps every unreachable blob stored
 * since the oldest live lease was taken (see the top of maint.c).
 *
 * Leases taken through a `struct store` are listed in it (with a count, so
 * taking a lease this process already holds just counts up) and released by
 * store_close: the holder keeps its lease until it is done with the store,
 * also on paths that forget to release it.
 */
#include "store_int.h"
#include "engrave/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LEASE_DIR "leases"

struct run_lease {
	struct store *s;
	struct run_lease *next;
	int fd;
	int refs;
	char path[4300];
	struct run_lease_info info;
};

static int valid_run_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n >= sizeof(((struct run_lease_info *)0)->run_id) || id[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

static void lease_dir(const struct store *s, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", s->path, LEASE_DIR);
}

/* Parse what a holder wrote; fields it did not write stay zero. */
static void read_info(int fd, const char *run_id, struct run_lease_info *li)
{
	memset(li, 0, sizeof(*li));
	snprintf(li->run_id, sizeof(li->run_id), "%s", run_id);
	char buf[512];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "pid ", 4))
			li->pid = strtol(line + 4, NULL, 10);
		else if (!strncmp(line, "host ", 5))
			snprintf(li->host, sizeof(li->host), "%s", line + 5);
		else if (!strncmp(line, "since ", 6))
			li->since = strtoll(line + 6, NULL, 10);
	}
}

/* 1 held by someone (another open file description), 0 free, -1 errno. */
static int lock_held(int fd)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0 };
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return -1;
	return fl.l_type != F_UNLCK;
}

/* The path still names the file open on fd. */
static int still_linked(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int busy_err(struct err *e, const char *run_id, const struct run_lease_info *li)
{
	char since[40] = "an unknown time";
	if (li->since > 0)
		clock_format_iso8601(li->since, since, sizeof(since));
	if (li->pid > 0)
		err_set(e, ERR_BUSY, "run %s is in use by another engrave process (pid %ld on host %s, since %s)",
			run_id, li->pid, li->host[0] ? li->host : "unknown", since);
	else
		err_set(e, ERR_BUSY, "run %s is in use by another engrave process (it is just starting)", run_id);
	if (li->pid > 0)
		return err_hint(e, "wait for it to finish, or stop it (kill %ld on %s) and resume the run again",
				li->pid, li->host[0] ? li->host : "its host");
	return err_hint(e, "wait for it to finish, or stop it and resume the run again");
}

int run_lease_acquire(struct store *s, const char *run_id, struct run_lease **out, struct err *e)
{
	*out = NULL;
	if (!valid_run_id(run_id))
		return err_set(e, ERR_INTERNAL, "run lease: bad run id '%s'", run_id);
	pthread_mutex_lock(&s->lease_lock);
	for (struct run_lease *l = s->leases; l; l = l->next)
		if (!strcmp(l->info.run_id, run_id)) {
			l->refs++;
			pthread_mutex_unlock(&s->lease_lock);
			*out = l;
			return 0;
		}
	pthread_mutex_unlock(&s->lease_lock);

	char dir[4150];
	lease_dir(s, dir, sizeof(dir));
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		err_set_errno(e, ERR_IO, errno, "run %s: cannot create the lease directory '%s'", run_id, dir);
		return err_hint(e, "check the permissions of the store directory (--store DIR)");
	}
	struct run_lease *l = xcalloc(1, sizeof(*l));
	l->s = s;
	l->refs = 1;
	snprintf(l->path, sizeof(l->path), "%s/%s.lock", dir, run_id);
	snprintf(l->info.run_id, sizeof(l->info.run_id), "%s", run_id);
	l->info.pid = (long)getpid();
	if (gethostname(l->info.host, sizeof(l->info.host)) != 0)
		snprintf(l->info.host, sizeof(l->info.host), "unknown");
	l->info.host[sizeof(l->info.host) - 1] = '\0';
	l->info.since = clock_unix_now();
	for (int attempt = 0;; attempt++) {
		int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0) {
			err_set_errno(e, ERR_IO, errno, "run %s: cannot open its lease '%s'", run_id, l->path);
			free(l);
			return -1;
		}
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0 };
		if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
			int errnum = errno;
			if (errnum == EAGAIN || errnum == EACCES) {
				struct run_lease_info li;
				/* the holder writes its name right after locking */
				for (int i = 0; i < 20; i++) {
					read_info(fd, run_id, &li);
					if (li.pid > 0)
						break;
					nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
				}
				close(fd);
				free(l);
				return busy_err(e, run_id, &li);
			}
			close(fd);
			err_set_errno(e, ERR_IO, errnum, "run %s: cannot lock its lease '%s'", run_id, l->path);
			free(l);
			return -1;
		}
		if (!still_linked(fd, l->path)) { /* released (unlinked) under us: take the new file */
			close(fd);
			if (attempt < 100)
				continue;
			err_set(e, ERR_IO, "run %s: its lease '%s' keeps changing", run_id, l->path);
			free(l);
			return -1;
		}
		char text[256];
		int n = snprintf(text, sizeof(text), "pid %ld\nhost %s\nsince %lld\n", l->info.pid, l->info.host,
				 (long long)l->info.since);
		if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
			err_set_errno(e, ERR_IO, errno, "run %s: cannot write its lease '%s'", run_id, l->path);
			unlink(l->path);
			close(fd);
			free(l);
			return -1;
		}
		l->fd = fd;
		break;
	}
	pthread_mutex_lock(&s->lease_lock);
	l->next = s->leases;
	s->leases = l;
	pthread_mutex_unlock(&s->lease_lock);
	*out = l;
	return 0;
}

static void lease_drop(struct run_lease *l)
{
	unlink(l->path); /* still locked: nobody else holds this path's lease */
	close(l->fd);
	free(l);
}

void run_lease_release(struct run_lease *l)
{
	if (!l)
		return;
	struct store *s = l->s;
	pthread_mutex_lock(&s->lease_lock);
	if (--l->refs > 0) {
		pthread_mutex_unlock(&s->lease_lock);
		return;
	}
	for (struct run_lease **p = &s->leases; *p; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			break;
		}
	pthread_mutex_unlock(&s->lease_lock);
	lease_drop(l);
}

void store_leases_close(struct store *s)
{
	pthread_mutex_lock(&s->lease_lock);
	struct run_lease *l = s->leases;
	s->leases = NULL;
	pthread_mutex_unlock(&s->lease_lock);
	while (l) {
		struct run_lease *next = l->next;
		lease_drop(l);
		l = next;
	}
}

/* Remove a stale lease file (nobody holds it): lock it, check, unlink. */
static void remove_stale(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0 };
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0 && still_linked(fd, path))
		unlink(path);
	close(fd);
}

int run_lease_list(struct store *s, int remove_stale_files, int (*cb)(const struct run_lease_info *li, void *ctx),
		   void *ctx, struct err *e)
{
	char dir[4150];
	lease_dir(s, dir, sizeof(dir));
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return err_set_errno(e, ERR_IO, errno, "cannot list the run leases in '%s'", dir);
	}
	int ret = 0;
	struct dirent *de;
	while (!ret && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".lock"))
			continue;
		char id[64], path[4500];
		if (n - 5 >= sizeof(id))
			continue;
		memcpy(id, de->d_name, n - 5);
		id[n - 5] = '\0';
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* released meanwhile */
		int held = lock_held(fd);
		if (held < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot probe the run lease '%s'", path);
		} else if (held) {
			struct run_lease_info li;
			read_info(fd, id, &li);
			if (li.since <= 0) { /* just taken, not written yet: it started about now */
				struct stat stt;
				li.since = fstat(fd, &stt) == 0 ? (unix_ns)stt.st_mtim.tv_sec * (unix_ns)NS_PER_S +
									  stt.st_mtim.tv_nsec
								: clock_unix_now();
			}
			ret = cb ? cb(&li, ctx) : 0;
		} else if (remove_stale_files && !s->rdonly) {
			remove_stale(path);
		}
		close(fd);
	}
	closedir(d);
	return ret;
}
