/*
 * text.h — small string helpers shared by the cli and spec layers.
 */
#ifndef ENGRAVE_TEXT_H
#define ENGRAVE_TEXT_H

#include <stddef.h>

/* Levenshtein distance (byte-wise), for "did you mean" suggestions. */
size_t text_edit_distance(const char *a, const char *b);
/*
 * The candidate closest to `word`, or NULL when none is close enough
 * (distance <= max(2, strlen(word)/3)). `candidates` ends with NULL.
 */
const char *text_suggest(const char *word, const char *const *candidates);
/* Parse "30s", "1500ms", "2m", "1h", "250us" or a bare number of seconds. */
int text_parse_duration_ns(const char *s, unsigned long long *out_ns);
/* Human bytes: "1.5 GiB". */
void text_format_bytes(unsigned long long n, char *out, size_t cap);

#endif
