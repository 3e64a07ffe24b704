/* Field splitting and the line loop for the line-oriented readers (delim.h).
 *
 * The hot path is sr_delim_split / sr_delim_split_csv: one memchr per field (memchr is
 * vectorised in glibc), no allocation, no per-byte state machine. Only a quoted field
 * costs more: a memchr per embedded quote, and a copy into the caller's scratch when it
 * holds "" escapes. The scratch grows once per record to the record's length before any
 * field points into it, so earlier fields of the same record never dangle.
 *
 * sr_delim_csv_state is the byte-at-a-time twin of the splitter's quoting rules; it is
 * only used while joining the lines of a record with embedded newlines, where it keeps
 * the join linear (each appended line is scanned once).
 */
#include "ingest/delim.h"

#include <assert.h>
#include <string.h>

#include "util/mem.h"

size_t sr_delim_split(sr_str line, char d, sr_str *f, size_t max) {
    const char *p = line.p, *end = line.p + line.n;
    size_t k = 0;
    for (;;) {
        const char *q = p < end ? memchr(p, d, (size_t)(end - p)) : NULL;
        if (k < max) f[k] = (sr_str){p, (size_t)((q ? q : end) - p)};
        k++;
        if (!q || k > max) return k;
        p = q + 1;
    }
}

size_t sr_delim_split_dcolon(sr_str line, sr_str *f, size_t max) {
    const char *p = line.p, *end = line.p + line.n, *from = p;
    size_t k = 0;
    for (;;) {
        const char *q = from < end ? memchr(from, ':', (size_t)(end - from)) : NULL;
        if (q && (q + 1 >= end || q[1] != ':')) {
            from = q + 1; /* a single ':' is part of the field */
            continue;
        }
        if (k < max) f[k] = (sr_str){p, (size_t)((q ? q : end) - p)};
        k++;
        if (!q || k > max) return k;
        p = from = q + 2;
    }
}

static inline bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

size_t sr_delim_split_ws(sr_str line, sr_str *f, size_t max) {
    const char *p = line.p, *end = line.p + line.n;
    size_t k = 0;
    for (;;) {
        while (p < end && is_blank(*p)) p++;
        if (p == end) return k;
        const char *s = p;
        while (p < end && !is_blank(*p)) p++;
        if (k < max) f[k] = (sr_str){s, (size_t)(p - s)};
        if (++k > max) return k;
    }
}

void sr_delim_buf_free(sr_delim_buf *b) {
    sr_free(b->p);
    b->p = NULL;
    b->cap = 0;
}

long sr_delim_split_csv(sr_str line, char d, sr_str *f, size_t max, sr_delim_buf *scratch) {
    const char *p = line.p, *end = line.p + line.n;
    size_t k = 0, used = 0;
    for (;;) {
        sr_str fld;
        const char *next; /* start of the next field, NULL at the end of the line */
        if (p < end && *p == '"') {
            const char *s = p + 1, *q = s;
            bool esc = false;
            for (;;) {
                q = q < end ? memchr(q, '"', (size_t)(end - q)) : NULL;
                if (!q) return SR_CSV_OPEN;
                if (q + 1 < end && q[1] == '"') {
                    esc = true;
                    q += 2;
                    continue;
                }
                break;
            }
            if (q + 1 < end && q[1] != d) return SR_CSV_BAD_QUOTE;
            next = q + 1 < end ? q + 2 : NULL;
            if (!esc) {
                fld = (sr_str){s, (size_t)(q - s)};
            } else {
                if (used == 0 && scratch->cap < line.n) {
                    size_t cap = scratch->cap;
                    void *np = scratch->p;
                    if (sr_grow(&np, &cap, line.n, 1)) return SR_CSV_NOMEM;
                    scratch->p = np;
                    scratch->cap = cap;
                }
                /* Between s and q quotes come only in "" pairs: keep one of each. */
                char *o = scratch->p + used;
                for (const char *t = s; t < q; t++) {
                    if (*t == '"') t++;
                    *o++ = *t;
                }
                fld = (sr_str){scratch->p + used, (size_t)(o - (scratch->p + used))};
                used += fld.n;
            }
        } else {
            const char *q = p < end ? memchr(p, d, (size_t)(end - p)) : NULL;
            fld = (sr_str){p, (size_t)((q ? q : end) - p)};
            next = q ? q + 1 : NULL;
        }
        if (k < max) f[k] = fld;
        k++;
        if (!next || k > max) return (long)k;
        p = next;
    }
}

int sr_delim_csv_state(const char *p, size_t n, char d, int st) {
    const char *end = p + n;
    while (p < end) {
        switch (st) {
        case SR_CSV_ST_FIELD_START:
            st = *p == '"' ? SR_CSV_ST_IN_QUOTES
                 : *p == d ? SR_CSV_ST_FIELD_START
                           : SR_CSV_ST_UNQUOTED;
            p++;
            break;
        case SR_CSV_ST_UNQUOTED: {
            const char *q = memchr(p, d, (size_t)(end - p));
            if (!q) return st;
            st = SR_CSV_ST_FIELD_START;
            p = q + 1;
            break;
        }
        case SR_CSV_ST_IN_QUOTES: {
            const char *q = memchr(p, '"', (size_t)(end - p));
            if (!q) return st;
            st = SR_CSV_ST_QUOTE;
            p = q + 1;
            break;
        }
        default: /* SR_CSV_ST_QUOTE: an escape, the end of the field, or bad quoting */
            st = *p == '"' ? SR_CSV_ST_IN_QUOTES
                 : *p == d ? SR_CSV_ST_FIELD_START
                           : SR_CSV_ST_UNQUOTED;
            p++;
            break;
        }
    }
    return st;
}

bool sr_delim_parse_number(sr_str s, double *out) {
    s = sr_str_trim(s);
    if (s.n == 0 || s.n > 64) return false;
    const char *p = s.p, *end = s.p + s.n;
    bool neg = false;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    double v = 0;
    int nd = 0;
    while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0'), nd++;
    if (p < end && *p == '.') {
        p++;
        /* Fraction as an exact integer over a power of ten: one correctly rounded
         * division, so "0.1" and "3.5" come out as the nearest doubles. */
        double fm = 0, scale = 1;
        int fd = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (fd < 17) fm = fm * 10 + (*p - '0'), scale *= 10, fd++;
            p++, nd++;
        }
        v += fm / scale;
    }
    if (p != end || nd == 0) return false;
    *out = neg ? -v : v;
    return true;
}

bool sr_delim_parse_count(sr_str s, double *out) {
    double v;
    if (!sr_delim_parse_number(s, &v)) return false;
    if (!(v >= 1 && v <= 1e12) || v != (double)(int64_t)v) return false;
    *out = v;
    return true;
}

bool sr_delim_has_digit(sr_str s) {
    for (size_t i = 0; i < s.n; i++)
        if (s.p[i] >= '0' && s.p[i] <= '9') return true;
    return false;
}

static inline char lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

bool sr_delim_ieq(sr_str s, const char *lit) {
    s = sr_str_trim(s);
    size_t n = strlen(lit);
    if (s.n != n) return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s.p[i]) != lower(lit[i])) return false;
    return true;
}

char *sr_delim_show(char *out, size_t cap, sr_str s) {
    size_t n = s.n < 40 ? s.n : 40, k = 0;
    if (cap == 0) return out;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)s.p[i];
        out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (s.n > n && k + 3 < cap) out[k++] = '.', out[k++] = '.', out[k++] = '.';
    out[k] = 0;
    return out;
}

sr_str sr_delim_strip_bom(sr_str s) {
    if (s.n >= 3 && !memcmp(s.p, "\xEF\xBB\xBF", 3)) s.p += 3, s.n -= 3;
    return s;
}

void sr_delim_head_init(sr_delim_head *h, const unsigned char *head, size_t n) {
    h->p = head;
    h->n = n;
    h->pos = n >= 3 && !memcmp(head, "\xEF\xBB\xBF", 3) ? 3 : 0;
}

bool sr_delim_head_next(sr_delim_head *h, sr_str *line, bool *complete) {
    if (h->pos >= h->n) return false;
    const unsigned char *s = h->p + h->pos;
    size_t avail = h->n - h->pos;
    const unsigned char *nl = memchr(s, '\n', avail);
    size_t len = nl ? (size_t)(nl - s) : avail;
    h->pos += nl ? len + 1 : len;
    *complete = nl != NULL;
    if (len && s[len - 1] == '\r') len--;
    *line = (sr_str){(const char *)s, len};
    return true;
}

sr_err sr_delim_read_rows(sr_reader *r, char delim, size_t want, sr_delim_row_fn row, void *user) {
    assert(want <= SR_DELIM_MAX_FIELDS);
    sr_str f[SR_DELIM_MAX_FIELDS];
    sr_delim_row rw = {.f = delim ? f : NULL, .first = true};
    for (;;) {
        int rc = sr_lines_next(r->in, &rw.line);
        if (rc == SR_LINE_END) return SR_OK;
        if (rc < 0) return rc;
        rw.no = r->in->line;
        sr_err e;
        if (rc == SR_LINE_TOO_LONG) {
            rw.first = false;
            if ((e = sr_reader_skip(r, SR_SKIP_LINE_TOO_LONG, rw.no, NULL))) return e;
            continue;
        }
        if (rw.no == 1) rw.line = sr_delim_strip_bom(rw.line);
        if (delim) {
            if (rw.line.n == 0) continue;
            rw.n = sr_delim_split(rw.line, delim, f, want);
            /* No delimiter and nothing but blanks; "\t\t" in a tab file is a row. */
            if (rw.n == 1 && sr_str_trim(rw.line).n == 0) continue;
        } else if (sr_str_trim(rw.line).n == 0) {
            continue;
        }
        if ((e = row(r, &rw, user))) return e;
        rw.first = false;
    }
}
