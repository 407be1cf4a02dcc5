/*
 * mapcheck.c — does a key or value LMDB returned lie inside the data file?
 *
 * LMDB takes a node's position and size from the page: on a damaged page a
 * key can start up to 64 KiB past its page and a value can claim up to
 * 4 GiB. Reading such a value reads whatever the process has mapped there
 * (its heap, another file) or faults. LMDB does not say where its map is
 * (mdb_env_info's me_mapaddr is the address recorded in the meta page,
 * NULL unless MDB_FIXEDMAP), so this module reads the process's mappings of
 * data.mdb (same device and inode, or same path) from /proc/self/maps and
 * keeps them:
 * store_maps_refresh runs after the environment is opened and after every
 * change of the map size (when no transaction of the process is open, so a
 * reader never sees the list change under it), store_maps_fits looks a
 * pointer up in the kept list with no system call. Adjacent lines of one
 * mapping (the kernel splits a mapping whose pages get different advice)
 * are joined.
 *
 * Where /proc is not mounted, or no line of it names the file, `known` is
 * 0: callers then fall back to checking sizes only (a healthy store is
 * never called damaged because its map could not be found).
 */
#include "store_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

void store_maps_init(struct store_maps *m, int fd, const char *path)
{
	struct stat st;
	memset(m, 0, sizeof(*m));
	if (fd >= 0 && fstat(fd, &st) == 0) {
		m->dev = st.st_dev;
		m->ino = st.st_ino;
		m->have_file = 1;
	}
	if (path && !realpath(path, m->path))
		m->path[0] = '\0';
}

void store_maps_refresh(struct store_maps *m)
{
	m->n = 0;
	m->known = 0;
	if (!m->have_file && !m->path[0])
		return;
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	char line[4608];
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, off, ino;
		unsigned maj, mnr;
		int at = 0;
		if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu %n", &lo, &hi, &off, &maj, &mnr, &ino, &at) != 6)
			continue;
		char *name = line + at;
		name[strcspn(name, "\n")] = '\0';
		int same_file = ino == (unsigned long long)m->ino && makedev(maj, mnr) == m->dev;
		if (!same_file && !(m->path[0] && !strcmp(name, m->path)))
			continue; /* (on overlayfs the device and inode shown can be the lower file's: the path decides) */
		struct store_map_range *last = m->n ? &m->r[m->n - 1] : NULL;
		if (last && last->hi == (uintptr_t)lo && last->off + (last->hi - last->lo) == (uint64_t)off) {
			last->hi = (uintptr_t)hi; /* the same mapping, split by the kernel */
			continue;
		}
		if (m->n == STORE_MAPS_MAX)
			break; /* more mappings of the file than kept: the rest are not looked up */
		m->r[m->n++] = (struct store_map_range){ (uintptr_t)lo, (uintptr_t)hi, (uint64_t)off };
	}
	/* none found (a kernel that shows neither): nothing is known */
	m->known = !ferror(f) && m->n > 0;
	fclose(f);
}

static int find(const struct store_maps *m, const void *p, size_t n, uint64_t *file_off)
{
	uintptr_t a = (uintptr_t)p;
	for (size_t i = 0; i < m->n; i++) {
		const struct store_map_range *r = &m->r[i];
		if (a >= r->lo && a < r->hi) {
			if (n > r->hi - a)
				return 0; /* starts in the file's mapping, runs past its end */
			*file_off = r->off + (a - r->lo);
			return 1;
		}
	}
	return 0;
}

int store_maps_fits(const struct store_maps *m, const void *p, size_t n, size_t used, int outside_ok)
{
	uint64_t off;
	if (!n)
		return 1; /* nothing is read */
	if (find(m, p, n, &off))
		return off <= used && n <= used - off;
	return n <= used && (!m->known || outside_ok);
}

void store_maps_forget(struct store_maps *m, const struct store_maps *old)
{
	size_t kept = 0;
	for (size_t i = 0; i < m->n; i++) {
		int seen = 0;
		for (size_t j = 0; j < old->n && !seen; j++)
			seen = m->r[i].lo == old->r[j].lo && m->r[i].hi == old->r[j].hi;
		if (!seen)
			m->r[kept++] = m->r[i];
	}
	m->n = kept;
	m->known = m->known && kept > 0;
}
