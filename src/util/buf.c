/* Growable byte buffer (buf.h). */
#include "util/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/mem.h"

bool sr_buf_reserve(sr_buf *b, size_t n) {
    if (b->failed) return false;
    if (n > SIZE_MAX - b->n - 1 || sr_grow((void **)&b->p, &b->cap, b->n + n + 1, 1)) {
        b->failed = true;
        return false;
    }
    return true;
}

void sr_buf_add(sr_buf *b, const void *data, size_t n) {
    if (!sr_buf_reserve(b, n)) return;
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
}

void sr_buf_adds(sr_buf *b, const char *s) {
    sr_buf_add(b, s, strlen(s));
}

void sr_buf_addc(sr_buf *b, char c) {
    sr_buf_add(b, &c, 1);
}

void sr_buf_printf(sr_buf *b, const char *fmt, ...) {
    if (b->failed) return;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (len < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)len < sizeof small) {
        sr_buf_add(b, small, (size_t)len);
        return;
    }
    if (!sr_buf_reserve(b, (size_t)len)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)len;
}

void sr_buf_reset(sr_buf *b) {
    b->n = 0;
    b->failed = false;
    if (b->p) b->p[0] = 0;
}

void sr_buf_free(sr_buf *b) {
    sr_free(b->p);
    *b = SR_BUF_INIT;
}

char *sr_buf_take(sr_buf *b, size_t *n) {
    if (b->failed || !sr_buf_reserve(b, 0)) {
        sr_buf_free(b);
        if (n) *n = 0;
        return NULL;
    }
    char *p = b->p;
    if (n) *n = b->n;
    *b = SR_BUF_INIT;
    return p;
}
