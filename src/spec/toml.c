/*
 * toml.c — a small, strict TOML reader for Engram scenario files.
 *
 * It covers the subset those files use and nothing more: comments, [table]
 * and [a.b] headers, `key = value` with bare, quoted or dotted keys, basic
 * ("...", with escapes) and literal ('...') strings, integers (with `_`
 * separators, 0x/0o/0b), floats, booleans, arrays (may span lines, trailing
 * comma allowed) and inline tables. Everything else (multi-line strings,
 * dates, arrays of tables) is reported as unsupported with its line:col
 * rather than misread. The result is the same document tree the YAML front
 * end builds (spec_int.h): tables are maps, arrays are sequences, strings
 * are quoted scalars and numbers/booleans are plain scalars (numbers with
 * the `_` removed), so the importer reads both the same way.
 *
 * Redefining a key or a table is an error, as in TOML.
 */
#include "spec_int.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tp {
	const char *p, *end, *line_start;
	int line;
	const char *name;
	struct stree *t;
	struct err *e;
};

static int col(const struct tp *c) { return (int)(c->p - c->line_start) + 1; }

static int terr(struct tp *c, const char *fmt, const char *arg)
{
	char msg[256];
	snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
	return err_set(c->e, ERR_INPUT, "%s:%d:%d: %s", c->name, c->line, col(c), msg);
}

static void skip_ws(struct tp *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static void skip_comment(struct tp *c)
{
	if (c->p < c->end && *c->p == '#')
		while (c->p < c->end && *c->p != '\n')
			c->p++;
}

static int at_newline(struct tp *c)
{
	if (c->p < c->end && *c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
		c->p++;
	if (c->p < c->end && *c->p == '\n') {
		c->p++;
		c->line++;
		c->line_start = c->p;
		return 1;
	}
	return c->p >= c->end;
}

/* Whitespace, comments and newlines (inside arrays). */
static void skip_blank(struct tp *c)
{
	for (;;) {
		skip_ws(c);
		skip_comment(c);
		/* a lone CR is not a newline (TOML): leave it for the caller to
		 * refuse; at_newline would not move past it (fuzz_scenario: a hang) */
		if (c->p < c->end && (*c->p == '\n' || (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')))
			at_newline(c);
		else
			return;
	}
}

static struct snode *new_node(struct tp *c, enum snode_kind k)
{
	struct snode *n = stree_new_node(c->t, k, c->line, col(c));
	if (!n)
		terr(c, "too many values", NULL);
	return n;
}

static int put_utf8(struct buf *b, unsigned long cp, struct err *e)
{
	char u[4];
	size_t n;
	if (cp < 0x80) u[0] = (char)cp, n = 1;
	else if (cp < 0x800) u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	else if (cp < 0x10000)
		u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
		u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	else
		u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	return buf_append(b, u, n, e);
}

/* A basic or literal string at c->p (the opening quote); the text goes to
 * *out (caller frees). */
static int parse_string(struct tp *c, char **out)
{
	char q = *c->p;
	if (c->p + 2 < c->end && c->p[1] == q && c->p[2] == q)
		return terr(c, "multi-line strings are not supported", NULL);
	c->p++;
	struct buf b;
	buf_init(&b, 1 << 20);
	while (c->p < c->end && *c->p != q) {
		char ch = *c->p;
		if (ch == '\n' || ch == '\r') {
			buf_release(&b);
			return terr(c, "unterminated string", NULL);
		}
		if (q == '"' && ch == '\\') {
			c->p++;
			if (c->p >= c->end)
				break;
			char x = *c->p++;
			const char *rep = NULL;
			switch (x) {
			case 'n': rep = "\n"; break;
			case 't': rep = "\t"; break;
			case 'r': rep = "\r"; break;
			case 'b': rep = "\b"; break;
			case 'f': rep = "\f"; break;
			case '"': rep = "\""; break;
			case '\\': rep = "\\"; break;
			case 'u':
			case 'U': {
				int len = x == 'u' ? 4 : 8;
				char hex[9];
				if (c->end - c->p < len) {
					buf_release(&b);
					return terr(c, "bad \\u escape", NULL);
				}
				memcpy(hex, c->p, (size_t)len);
				hex[len] = '\0';
				char *end;
				unsigned long cp = strtoul(hex, &end, 16);
				if (*end || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) {
					buf_release(&b);
					return terr(c, "bad \\u escape", NULL);
				}
				c->p += len;
				if (put_utf8(&b, cp, c->e)) {
					buf_release(&b);
					return -1;
				}
				continue;
			}
			default:
				buf_release(&b);
				c->p--;
				return terr(c, "unknown escape in string", NULL);
			}
			if (buf_append_str(&b, rep, c->e)) {
				buf_release(&b);
				return -1;
			}
			continue;
		}
		if (ch == '\0') {
			buf_release(&b);
			return terr(c, "NUL byte in string", NULL);
		}
		if (buf_append(&b, &ch, 1, c->e)) {
			buf_release(&b);
			return -1;
		}
		c->p++;
	}
	if (c->p >= c->end) {
		buf_release(&b);
		return terr(c, "unterminated string", NULL);
	}
	c->p++;
	*out = buf_detach(&b, NULL);
	return 0;
}

/* Number, boolean (a plain scalar): normalised text into *out. */
static int parse_bare_value(struct tp *c, char **out)
{
	const char *s = c->p;
	while (c->p < c->end && (isalnum((unsigned char)*c->p) || strchr("+-._:", *c->p)))
		c->p++;
	size_t n = (size_t)(c->p - s);
	if (!n) {
		c->p = s;
		return terr(c, "expected a value (string, number, true/false, array or inline table)", NULL);
	}
	char tok[128];
	if (n >= sizeof(tok)) {
		c->p = s;
		return terr(c, "value too long", NULL);
	}
	memcpy(tok, s, n);
	tok[n] = '\0';
	if (!strcmp(tok, "true") || !strcmp(tok, "false")) {
		*out = xstrdup(tok);
		return 0;
	}
	/* Remove `_` (only between digits, as TOML requires). */
	char num[128];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (tok[i] == '_') {
			if (!i || i + 1 >= n || !isxdigit((unsigned char)tok[i - 1]) || !isxdigit((unsigned char)tok[i + 1])) {
				c->p = s;
				return terr(c, "misplaced '_' in number '%s'", tok);
			}
			continue;
		}
		num[k++] = tok[i];
	}
	num[k] = '\0';
	if (strchr(num, ':') || (strchr(num, '-') && num[0] != '-' && !strpbrk(num, "eE"))) {
		c->p = s;
		return terr(c, "dates and times are not supported ('%s')", tok);
	}
	char *end;
	const char *digits = num + (num[0] == '+' || num[0] == '-');
	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'o' || digits[1] == 'b') && num == digits) {
		int base = digits[1] == 'x' ? 16 : digits[1] == 'o' ? 8 : 2;
		unsigned long long v = strtoull(digits + 2, &end, base);
		if (*end || !digits[2]) {
			c->p = s;
			return terr(c, "bad number '%s'", tok);
		}
		snprintf(num, sizeof(num), "%llu", v);
	} else if (!strcmp(digits, "inf") || !strcmp(digits, "nan")) {
		c->p = s;
		return terr(c, "'%s' is not supported here", tok);
	} else {
		if (!isdigit((unsigned char)digits[0])) {
			c->p = s;
			return terr(c, "expected a value, got '%s' (strings need quotes)", tok);
		}
		strtod(num, &end);
		if (*end) {
			c->p = s;
			return terr(c, "bad number '%s'", tok);
		}
	}
	*out = xstrdup(num);
	return 0;
}

static int parse_value(struct tp *c, struct snode **out, int depth);

static int add_pair(struct tp *c, struct snode *map, struct snode *key, struct snode *val)
{
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i]->str, key->str)) {
			char msg[200];
			snprintf(msg, sizeof(msg), "key '%.80s' defined twice (first at line %d)", key->str,
				 map->keys[i]->line);
			return err_set(c->e, ERR_INPUT, "%s:%d:%d: %s", c->name, key->line, key->col, msg);
		}
	stree_map_add(map, key, val);
	return 0;
}

/* One key segment: bare or quoted. */
static int parse_key_part(struct tp *c, struct snode **out)
{
	struct snode *k = new_node(c, SN_SCALAR);
	if (!k)
		return -1;
	if (c->p < c->end && (*c->p == '"' || *c->p == '\'')) {
		if (parse_string(c, &k->str))
			return -1;
	} else {
		const char *s = c->p;
		while (c->p < c->end && (isalnum((unsigned char)*c->p) || *c->p == '_' || *c->p == '-'))
			c->p++;
		if (c->p == s)
			return terr(c, "expected a key", NULL);
		k->str = xstrndup(s, (size_t)(c->p - s));
	}
	*out = k;
	return 0;
}

/* Find or create the map for `key` inside `map` (dotted keys, headers). */
static int descend(struct tp *c, struct snode *map, struct snode *key, struct snode **out)
{
	struct snode *v = stree_map_get(map, key->str);
	if (v) {
		if (v->kind != SN_MAP) {
			char msg[200];
			snprintf(msg, sizeof(msg), "'%.80s' is already a value, not a table", key->str);
			return err_set(c->e, ERR_INPUT, "%s:%d:%d: %s", c->name, key->line, key->col, msg);
		}
		*out = v;
		return 0;
	}
	struct snode *m = stree_new_node(c->t, SN_MAP, key->line, key->col);
	if (!m)
		return terr(c, "too many values", NULL);
	if (add_pair(c, map, key, m))
		return -1;
	*out = m;
	return 0;
}

/* key = value, into `map` (dotted keys create sub-tables). */
static int parse_keyval(struct tp *c, struct snode *map, int depth)
{
	struct snode *key;
	if (parse_key_part(c, &key))
		return -1;
	skip_ws(c);
	while (c->p < c->end && *c->p == '.') {
		c->p++;
		skip_ws(c);
		if (descend(c, map, key, &map))
			return -1;
		if (parse_key_part(c, &key))
			return -1;
		skip_ws(c);
	}
	if (c->p >= c->end || *c->p != '=')
		return terr(c, "expected '=' after the key", NULL);
	c->p++;
	skip_ws(c);
	struct snode *val;
	if (parse_value(c, &val, depth))
		return -1;
	return add_pair(c, map, key, val);
}

static int parse_value(struct tp *c, struct snode **out, int depth)
{
	if (depth > STREE_MAX_DEPTH)
		return terr(c, "nested too deeply", NULL);
	if (c->p >= c->end || *c->p == '\n' || *c->p == '#')
		return terr(c, "missing value", NULL);
	struct snode *n;
	char ch = *c->p;
	if (ch == '"' || ch == '\'') {
		if (!(n = new_node(c, SN_SCALAR)) || parse_string(c, &n->str))
			return -1;
	} else if (ch == '[') {
		if (!(n = new_node(c, SN_SEQ)))
			return -1;
		c->p++;
		for (;;) {
			skip_blank(c);
			if (c->p >= c->end)
				return terr(c, "unterminated array", NULL);
			if (*c->p == ']') {
				c->p++;
				break;
			}
			struct snode *item;
			if (parse_value(c, &item, depth + 1))
				return -1;
			stree_seq_add(n, item);
			skip_blank(c);
			if (c->p < c->end && *c->p == ',') {
				c->p++;
				continue;
			}
			skip_blank(c);
			if (c->p >= c->end || *c->p != ']')
				return terr(c, "expected ',' or ']' in array", NULL);
		}
	} else if (ch == '{') {
		if (!(n = new_node(c, SN_MAP)))
			return -1;
		c->p++;
		skip_ws(c);
		if (c->p < c->end && *c->p == '}')
			c->p++;
		else
			for (;;) {
				skip_ws(c);
				if (parse_keyval(c, n, depth + 1))
					return -1;
				skip_ws(c);
				if (c->p < c->end && *c->p == ',') {
					c->p++;
					continue;
				}
				if (c->p < c->end && *c->p == '}') {
					c->p++;
					break;
				}
				return terr(c, "expected ',' or '}' in inline table (inline tables are one line)", NULL);
			}
	} else {
		if (!(n = new_node(c, SN_SCALAR)) || parse_bare_value(c, &n->str))
			return -1;
		n->plain = 1;
	}
	*out = n;
	return 0;
}

int stree_parse_toml(struct stree *t, const char *text, size_t len, const char *name, struct err *e)
{
	memset(t, 0, sizeof(*t));
	struct tp c = { .p = text, .end = text + len, .line_start = text, .line = 1, .name = name, .t = t, .e = e };
	int rc = -1;
	if (memchr(text, '\0', len)) {
		err_set(e, ERR_INPUT, "%s: holds a NUL byte (not a text file?)", name);
		goto out;
	}
	struct snode *root = new_node(&c, SN_MAP);
	if (!root)
		goto out;
	t->root = root;
	struct snode *cur = root;
	/* Tables opened by a header, to reject [x] twice. */
	struct snode *headers[256];
	size_t n_headers = 0;
	for (;;) {
		skip_ws(&c);
		skip_comment(&c);
		if (c.p >= c.end)
			break;
		if (at_newline(&c))
			continue;
		if (*c.p == '[') {
			if (c.p + 1 < c.end && c.p[1] == '[') {
				terr(&c, "arrays of tables ([[...]]) are not supported", NULL);
				goto out;
			}
			c.p++;
			cur = root;
			for (;;) {
				skip_ws(&c);
				struct snode *key;
				if (parse_key_part(&c, &key) || descend(&c, cur, key, &cur))
					goto out;
				skip_ws(&c);
				if (c.p < c.end && *c.p == '.') {
					c.p++;
					continue;
				}
				if (c.p < c.end && *c.p == ']') {
					c.p++;
					break;
				}
				terr(&c, "expected ']' to close the table header", NULL);
				goto out;
			}
			for (size_t i = 0; i < n_headers; i++)
				if (headers[i] == cur) {
					terr(&c, "table defined twice", NULL);
					goto out;
				}
			if (n_headers < 256)
				headers[n_headers++] = cur;
		} else if (parse_keyval(&c, cur, 0)) {
			goto out;
		}
		skip_ws(&c);
		skip_comment(&c);
		if (!at_newline(&c)) {
			terr(&c, "unexpected text after the value (one key = value per line)", NULL);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc)
		stree_release(t);
	return rc;
}
