/*
 * envlist.c — the ordered key/value list of a run's environment (envlist.h).
 *
 * A linear list: lookups scan at most ENVLIST_MAX short keys, which is
 * cheaper than any index at this size and keeps insertion order for free.
 * Values are cleaned on the way in (control characters -> spaces, so a
 * kernel version or a server's answer never breaks a table line) and cut to
 * the fixed size; numbers are kept as their "%.10g" text plus a flag, so the
 * list stays one plain struct the run record can hold and copy.
 */
#include "engrave/envlist.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void envlist_init(struct envlist *l)
{
	memset(l, 0, sizeof(*l));
}

static struct envlist_item *slot(struct envlist *l, const char *key)
{
	char k[ENVLIST_KEY_MAX];
	snprintf(k, sizeof(k), "%s", key);
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key, k))
			return &l->v[i];
	if (l->n >= ENVLIST_MAX)
		return NULL;
	struct envlist_item *it = &l->v[l->n++];
	memset(it, 0, sizeof(*it));
	memcpy(it->key, k, sizeof(k));
	return it;
}

static struct envlist_item *set_text(struct envlist *l, const char *key, const char *value)
{
	if (!key || !*key)
		return NULL;
	struct envlist_item *it = slot(l, key);
	if (!it)
		return NULL;
	snprintf(it->value, sizeof(it->value), "%s", value ? value : "");
	for (char *p = it->value; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	it->is_num = 0;
	return it;
}

int envlist_set(struct envlist *l, const char *key, const char *value)
{
	return set_text(l, key, value) ? 0 : -1;
}

int envlist_setf(struct envlist *l, const char *key, const char *fmt, ...)
{
	char v[ENVLIST_VAL_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	return envlist_set(l, key, v);
}

int envlist_set_num(struct envlist *l, const char *key, double v)
{
	if (!isfinite(v))
		return envlist_set(l, key, "unknown");
	char t[32];
	snprintf(t, sizeof(t), "%.10g", v);
	struct envlist_item *it = set_text(l, key, t);
	if (!it)
		return -1;
	it->is_num = 1;
	return 0;
}

const struct envlist_item *envlist_get(const struct envlist *l, const char *key)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key, key))
			return &l->v[i];
	return NULL;
}

int envlist_merge(struct envlist *to, const char *prefix, const struct envlist *from)
{
	int lost = 0;
	for (int i = 0; i < from->n; i++) {
		const struct envlist_item *it = &from->v[i];
		char k[ENVLIST_KEY_MAX * 2];
		snprintf(k, sizeof(k), "%s%s", prefix ? prefix : "", it->key);
		struct envlist_item *d = set_text(to, k, it->value);
		if (!d)
			lost++;
		else
			d->is_num = it->is_num;
	}
	return lost;
}
