/*
 * text.h — small string helpers shared by the cli and spec layers.
 */
#ifndef ENGRAVE_TEXT_H
#define ENGRAVE_TEXT_H

#include <stddef.h>

/*
 * The candidate closest to `word` by Levenshtein distance (byte-wise), or
 * NULL when none is close enough (distance <= max(2, strlen(word)/3)).
 * `candidates` ends with NULL. For "did you mean" suggestions.
 */
const char *text_suggest(const char *word, const char *const *candidates);
/* Parse "30s", "1500ms", "2m", "1h", "250us" or a bare number of seconds. */
int text_parse_duration_ns(const char *s, unsigned long long *out_ns);
/* Human bytes: "1.5 GiB". */
void text_format_bytes(unsigned long long n, char *out, size_t cap);

#endif
