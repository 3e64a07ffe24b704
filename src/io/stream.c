/* Buffered stream and line reader (stream.h).
 *
 * The buffer starts at 256 KiB and grows (doubling) only when a single line or peek
 * needs more, up to SR_MAX_LINE + 64 KiB; past that a line is discarded in pieces until
 * its newline. Refill compacts the unread tail to the front first, so memory stays
 * bounded whatever the input size.
 */
#include "io/stream.h"

#include <string.h>

#include "util/mem.h"

#define INITIAL_CAP (256u << 10)
#define MAX_CAP     (SR_MAX_LINE * 2u + (64u << 10))

typedef struct mem_src {
    const unsigned char *p;
    size_t n, off;
} mem_src;

static ssize_t mem_fill(void *src, void *buf, size_t cap, sr_diag *d) {
    (void)d;
    mem_src *m = src;
    size_t k = m->n - m->off < cap ? m->n - m->off : cap;
    memcpy(buf, m->p + m->off, k);
    m->off += k;
    return (ssize_t)k;
}

sr_err sr_stream_init(sr_stream *s, sr_fill_fn fill, void *src) {
    memset(s, 0, sizeof *s);
    s->fill = fill;
    s->src = src;
    s->buf = sr_malloc(INITIAL_CAP);
    if (!s->buf) return SR_E_NOMEM;
    s->cap = INITIAL_CAP;
    return SR_OK;
}

sr_err sr_stream_init_mem(sr_stream *s, const void *data, size_t n) {
    mem_src *m = sr_malloc(sizeof *m);
    if (!m) return SR_E_NOMEM;
    *m = (mem_src){data, n, 0};
    sr_err e = sr_stream_init(s, mem_fill, m);
    if (e) {
        sr_free(m);
        return e;
    }
    return SR_OK; /* m is owned by the stream: deinit frees it (fill == mem_fill) */
}

void sr_stream_deinit(sr_stream *s) {
    if (s->fill == mem_fill) sr_free(s->src);
    sr_free(s->buf);
    memset(s, 0, sizeof *s);
}

/* Reads more bytes into the buffer, first moving the unread tail to the front and
 * growing the buffer so that want unread bytes fit. Returns bytes added, 0 at the end
 * (or when the buffer is at its maximum and full), or an error. */
static ssize_t refill(sr_stream *s, size_t want) {
    if (s->err) return s->err;
    if (s->eof) return 0;
    size_t unread = s->len - s->pos;
    if (s->pos > 0) {
        memmove(s->buf, s->buf + s->pos, unread);
        s->offset += s->pos;
        s->len = unread;
        s->pos = 0;
    }
    if (want > s->cap && s->cap < MAX_CAP) {
        size_t nc = s->cap;
        while (nc < want && nc < MAX_CAP) nc *= 2;
        if (nc > MAX_CAP) nc = MAX_CAP;
        unsigned char *nb = sr_realloc(s->buf, nc);
        if (!nb) return s->err = SR_E_NOMEM;
        s->buf = nb;
        s->cap = nc;
    }
    if (s->len == s->cap) return 0;
    ssize_t k = s->fill(s->src, s->buf + s->len, s->cap - s->len, &s->err_diag);
    if (k < 0) return s->err = (sr_err)k;
    if (k == 0) s->eof = true;
    s->len += (size_t)k;
    return k;
}

ssize_t sr_stream_peek(sr_stream *s, size_t want, const unsigned char **p) {
    while (s->len - s->pos < want && !s->eof) {
        ssize_t k = refill(s, want);
        if (k < 0) return k;
        if (k == 0 && s->len == s->cap) break;
    }
    if (s->len - s->pos == 0 && s->err) return s->err;
    *p = s->buf + s->pos;
    return (ssize_t)(s->len - s->pos);
}

void sr_stream_consume(sr_stream *s, size_t n) {
    s->pos += n <= s->len - s->pos ? n : s->len - s->pos;
}

ssize_t sr_stream_read(sr_stream *s, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        if (s->pos == s->len) {
            ssize_t k = refill(s, 1);
            if (k < 0) return got ? (ssize_t)got : k;
            if (k == 0) break;
        }
        size_t take = s->len - s->pos < n - got ? s->len - s->pos : n - got;
        memcpy((unsigned char *)buf + got, s->buf + s->pos, take);
        s->pos += take;
        got += take;
    }
    return (ssize_t)got;
}

int sr_lines_next(sr_stream *s, sr_str *line) {
    size_t scanned = 0; /* bytes from pos already known to hold no '\n' */
    bool too_long = false;
    for (;;) {
        unsigned char *start = s->buf + s->pos;
        size_t avail = s->len - s->pos;
        unsigned char *nl = avail > scanned ? memchr(start + scanned, '\n', avail - scanned) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - start);
            s->pos += n + 1;
            s->line++;
            if (too_long || n > SR_MAX_LINE) {
                *line = (sr_str){(const char *)start, 0};
                return SR_LINE_TOO_LONG;
            }
            if (n && start[n - 1] == '\r') n--;
            *line = (sr_str){(const char *)start, n};
            return SR_LINE_OK;
        }
        scanned = avail;
        if (avail > SR_MAX_LINE) {
            /* Discard the overlong prefix and keep looking for its end. */
            too_long = true;
            s->pos = s->len;
            scanned = 0;
        }
        ssize_t k = refill(s, avail + (64u << 10));
        if (k < 0) return (int)k;
        if (k == 0 && s->eof) {
            avail = s->len - s->pos;
            if (avail == 0 && !too_long) return SR_LINE_END;
            start = s->buf + s->pos;
            s->pos = s->len;
            s->line++;
            if (too_long || avail > SR_MAX_LINE) {
                *line = (sr_str){(const char *)start, 0};
                return SR_LINE_TOO_LONG;
            }
            if (avail && start[avail - 1] == '\r') avail--;
            *line = (sr_str){(const char *)start, avail};
            return SR_LINE_OK;
        }
    }
}
