/* A borrowed byte string: pointer + length, not NUL-terminated. Readers hand fields to
 * the ingest stage this way, pointing into their line buffer (no copies). */
#ifndef SR_STR_H
#define SR_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct sr_str {
    const char *p;
    size_t n;
} sr_str;

#define SR_STR_NULL ((sr_str){NULL, 0})
static inline sr_str sr_str_c(const char *s) {
    return (sr_str){s, s ? strlen(s) : 0};
}
static inline bool sr_str_eq(sr_str a, const char *lit) {
    size_t n = strlen(lit);
    return a.n == n && memcmp(a.p, lit, n) == 0;
}
/* True when the C string s starts with prefix / ends with suffix. */
static inline bool sr_cstr_starts_with(const char *s, const char *prefix) {
    return !strncmp(s, prefix, strlen(prefix));
}
static inline bool sr_cstr_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}
/* The part of a path (or archive member name) after its last '/': the whole path when
 * it has none, "" for NULL. Borrows from path. */
const char *sr_path_base(const char *path);
/* Trims ASCII spaces, tabs, CR and LF at both ends. */
sr_str sr_str_trim(sr_str s);
/* True when s is valid UTF-8 (no overlongs, no surrogates, max U+10FFFF). */
bool sr_utf8_valid(const char *s, size_t n);

#endif
