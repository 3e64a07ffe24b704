/* Name normalisation: the match key of an artist or track name.
 *
 * key = whitespace-collapsed, trimmed NFKC + case fold of the name, with default-
 * ignorable code points (zero-width joiners, soft hyphens, ...) removed. Punctuation is
 * kept: stripping it merges distinct names (listen-formats.md, trap 12). Pure-ASCII
 * names take a fast path (lower-casing + space collapse, which is what NFKC_Casefold
 * does to ASCII); others go through utf8proc.
 *
 * The result is written into a caller buffer that grows as needed (sr_normbuf).
 */
#ifndef SR_NORMALIZE_H
#define SR_NORMALIZE_H

#include "util/err.h"
#include "util/str.h"

typedef struct sr_normbuf {
    char *p;
    size_t cap;
} sr_normbuf;

/* Normalises s (valid UTF-8) into b; *out points into b->p until the next call. */
sr_err sr_normalize(sr_str s, sr_normbuf *b, sr_str *out);
void sr_normbuf_free(sr_normbuf *b);

#endif
