/* Name normalisation with utf8proc (normalize.h). */
#include "data/normalize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "util/mem.h"

static int reserve(sr_normbuf *b, size_t n) {
    return sr_grow((void **)&b->p, &b->cap, n, 1);
}

void sr_normbuf_free(sr_normbuf *b) {
    sr_free(b->p);
    b->p = NULL;
    b->cap = 0;
}

static int is_space_cp(utf8proc_int32_t c) {
    if (c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85) return 1;
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

sr_err sr_normalize(sr_str s, sr_normbuf *b, sr_str *out) {
    int ascii = 1;
    for (size_t i = 0; i < s.n; i++)
        if ((unsigned char)s.p[i] >= 0x80) {
            ascii = 0;
            break;
        }
    if (ascii) {
        if (reserve(b, s.n + 1)) return SR_E_NOMEM;
        size_t k = 0;
        int pending_space = 0;
        for (size_t i = 0; i < s.n; i++) {
            unsigned char c = (unsigned char)s.p[i];
            if (c == ' ' || (c >= 0x09 && c <= 0x0D)) {
                pending_space = k > 0;
                continue;
            }
            if (pending_space) b->p[k++] = ' ', pending_space = 0;
            b->p[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        *out = (sr_str){b->p, k};
        return SR_OK;
    }
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s.p, (utf8proc_ssize_t)s.n, &mapped,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT |
                                          UTF8PROC_CASEFOLD | UTF8PROC_IGNORE);
    if (n < 0) {
        /* Invalid UTF-8 never reaches here (the reader rejects it); be safe anyway. */
        if (n == UTF8PROC_ERROR_NOMEM) return SR_E_NOMEM;
        if (reserve(b, s.n + 1)) return SR_E_NOMEM;
        memcpy(b->p, s.p, s.n);
        *out = (sr_str){b->p, s.n};
        return SR_OK;
    }
    if (reserve(b, (size_t)n + 1)) {
        free(mapped);
        return SR_E_NOMEM;
    }
    /* Collapse runs of Unicode white space into one ASCII space; trim both ends. */
    size_t k = 0;
    int pending_space = 0;
    for (utf8proc_ssize_t i = 0; i < n;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t len = utf8proc_iterate(mapped + i, n - i, &c);
        if (len <= 0) break;
        if (is_space_cp(c)) {
            pending_space = k > 0;
        } else {
            if (pending_space) b->p[k++] = ' ', pending_space = 0;
            memcpy(b->p + k, mapped + i, (size_t)len);
            k += (size_t)len;
        }
        i += len;
    }
    free(mapped);
    *out = (sr_str){b->p, k};
    return SR_OK;
}
