/* Streaming JSON array splitter and detection helpers (json_array.h).
 *
 * The splitter is a byte-level state machine over the stream's peek window: outside
 * strings it looks only at brackets, commas, quotes and newlines; inside strings only
 * at '"', '\\' and control bytes (8 bytes at a time). Its state (nesting bit stack,
 * in-string, escape) lives in the sr_json_array, so scanning resumes where it stopped
 * when the window grows. The element stays unconsumed in the stream buffer until the
 * next call, which is what lets the caller parse it in place; past SR_MAX_LINE the
 * element is consumed in pieces instead and reported as too long.
 *
 * Byte offsets in messages are stream offsets (0-based) of the offending byte. Lines
 * (1-based, for "file:line" reports) come from the '\n' bytes passed: the whitespace
 * skipper and the scan count them, and an element starts on the line after the
 * newlines before it. The string loop's stop at control bytes costs nothing over
 * stopping at '"' and '\\' alone (one test finds both '"' and them), and counts a raw
 * newline inside a string, invalid but a line all the same. A whole document's element
 * lines are found by one walk over its text after jansson accepted it.
 */
#include "ingest/json_array.h"

#include <inttypes.h>
#include <string.h>

#include "util/mem.h"

enum { ST_FIRST, ST_AFTER, ST_NEXT, ST_DONE, ST_DOC };

#define CHUNK (64u << 10)

static bool is_ws(unsigned c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static sr_err fail_with(sr_json_array *a, sr_diag *d, sr_err e, const char *what, uint64_t at) {
    a->state = ST_DONE;
    return sr_diag_set(d, e, "%s: %s at byte %" PRIu64, a->label ? a->label : "input", what, at);
}

static sr_err fail(sr_json_array *a, sr_diag *d, const char *what, uint64_t at) {
    return fail_with(a, d, SR_E_INPUT, what, at);
}

/* Skips whitespace (and a BOM when at offset 0); returns the next byte, -1 at the end,
 * or a negative sr_err - 1 (so that -1 stays "end"). */
static int next_byte(sr_json_array *a) {
    for (;;) {
        const unsigned char *p;
        ssize_t k = sr_stream_peek(a->in, 3, &p);
        if (k < 0) return (int)k - 1;
        if (k == 0) return -1;
        if (sr_stream_tell(a->in) == 0 && k >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
            sr_stream_consume(a->in, 3);
            continue;
        }
        k = sr_stream_peek(a->in, CHUNK, &p);
        if (k < 0) return (int)k - 1;
        size_t i = 0;
        while (i < (size_t)k && is_ws(p[i])) a->newlines += p[i++] == '\n';
        sr_stream_consume(a->in, i);
        if (i < (size_t)k) return p[i];
    }
}

/* The sr_err behind next_byte's result c (< -1). */
static sr_err stream_error(int c) {
    return (sr_err)(c + 1);
}

static void push(sr_json_array *a, unsigned depth, bool arr) {
    unsigned char bit = (unsigned char)(1u << (depth & 7));
    if (arr)
        a->stack[depth >> 3] |= bit;
    else
        a->stack[depth >> 3] &= (unsigned char)~bit;
}

static bool top_is_array(const sr_json_array *a, unsigned depth) {
    return a->stack[depth >> 3] >> (depth & 7) & 1;
}

/* Scanner state of the element being delimited. */
typedef struct elem_scan {
    unsigned depth; /* open brackets */
    bool in_str, esc;
    int kind;          /* '{' container, '"' string, 's' scalar */
    uint64_t newlines; /* '\n' bytes passed */
} elem_scan;

/* Advances over p[*off, n). Returns 1 when the element ends (then *off is its length),
 * 0 when more bytes are needed, or -1 (mismatched bracket) / -2 (too deep) with *off at
 * the offending byte. */
static int advance(sr_json_array *a, elem_scan *s, const unsigned char *p, size_t n, size_t *off) {
    size_t i = *off;
    while (i < n) {
        if (s->in_str) {
            if (s->esc) {
                s->esc = false;
                s->newlines += p[i] == '\n';
                i++;
                continue;
            }
            /* To the next '"', '\\' or control byte, 8 bytes at a time: q is zero where x
             * has '\\', and x ^ 0x02.. maps '"' to 0x20 and keeps the bytes below 0x20
             * below it, so one "less than 0x21" test finds both (zero-byte and less-than
             * tests; the lowest flagged byte is exact). A control byte is invalid in a
             * string, but a '\n' is a line all the same: it is counted and passed. */
            while (n - i >= 8) {
                uint64_t x, q, b;
                memcpy(&x, p + i, 8);
                q = x ^ 0x0202020202020202ull;
                b = x ^ 0x5C5C5C5C5C5C5C5Cull;
                uint64_t m =
                    (((q - 0x2121212121212121ull) & ~q) | ((b - 0x0101010101010101ull) & ~b)) &
                    0x8080808080808080ull;
                if (m) {
                    i += (unsigned)__builtin_ctzll(m) >> 3;
                    break;
                }
                i += 8;
            }
            while (i < n && p[i] != '"' && p[i] != '\\' && p[i] >= 0x20) i++;
            if (i == n) break;
            if (p[i] != '"') {
                if (p[i] == '\\')
                    s->esc = true;
                else
                    s->newlines += p[i] == '\n';
                i++;
                continue;
            }
            s->in_str = false;
            i++;
            if (s->kind == '"') {
                *off = i;
                return 1;
            }
            continue;
        }
        unsigned c = p[i];
        if (s->kind == 's') {
            if (c == ',' || c == ']' || c == '}' || is_ws(c) || c == '"' || c == '[' || c == '{') {
                *off = i;
                return 1;
            }
            i++;
            continue;
        }
        switch (c) {
        case '"':
            s->in_str = true;
            break;
        case '\n':
            s->newlines++;
            break;
        case '{':
        case '[':
            if (s->depth >= SR_JSON_MAX_DEPTH) {
                *off = i;
                return -2;
            }
            push(a, s->depth, c == '[');
            s->depth++;
            break;
        case '}':
        case ']':
            if (s->depth == 0 || top_is_array(a, s->depth - 1) != (c == ']')) {
                *off = i;
                return -1;
            }
            if (--s->depth == 0) {
                *off = i + 1;
                return 1;
            }
            break;
        default:
            break;
        }
        i++;
    }
    *off = i;
    return 0;
}

/* Delimits the element starting at the stream position. */
static int read_element(sr_json_array *a, sr_json_elem *el, sr_diag *d) {
    const unsigned char *p;
    size_t want = CHUNK;
    ssize_t k = sr_stream_peek(a->in, want, &p);
    if (k < 0) return (int)k;
    a->start = sr_stream_tell(a->in);
    a->index++;
    a->line = a->newlines + 1;
    elem_scan s = {0, false, false, 's', 0};
    if (p[0] == '{' || p[0] == '[')
        s.kind = '{';
    else if (p[0] == '"')
        s.kind = '"', s.in_str = true;
    else if (!(p[0] == '-' || (p[0] >= '0' && p[0] <= '9') || (p[0] >= 'a' && p[0] <= 'z')))
        return fail(a, d, "not a JSON array: unexpected byte", a->start);
    size_t off = s.kind == '"' ? 1 : 0;
    bool too_long = false;
    uint64_t dropped = 0; /* bytes consumed while passing over an overlong element */
    for (;;) {
        int r = advance(a, &s, p, (size_t)k, &off);
        if (r == 1) break;
        if (r == -1)
            return fail(a, d, "not a JSON array: mismatched bracket", a->start + dropped + off);
        if (r == -2) return fail(a, d, "JSON nested too deeply", a->start + dropped + off);
        if ((size_t)k < want) { /* the end of the stream */
            if (a->in->err) return a->in->err;
            if (s.kind == 's' && off > 0 && !too_long) break; /* a bare scalar at the end */
            return fail_with(a, d, SR_E_TRUNCATED, "truncated JSON array: element not closed",
                             a->start + dropped + off);
        }
        if (!too_long && off > SR_MAX_LINE) too_long = true;
        if (too_long) {
            sr_stream_consume(a->in, off);
            dropped += off;
            off = 0;
            want = CHUNK;
        } else {
            want = (size_t)k * 2;
            if (want > SR_MAX_LINE + CHUNK) want = SR_MAX_LINE + CHUNK;
        }
        k = sr_stream_peek(a->in, want, &p);
        if (k < 0) return (int)k;
    }
    a->newlines += s.newlines;
    if (too_long || off > SR_MAX_LINE) {
        sr_stream_consume(a->in, off);
        return SR_JA_TOO_LONG;
    }
    el->text = (sr_str){(const char *)p, off};
    el->value = NULL;
    a->pending = off;
    return SR_JA_ELEMENT;
}

/* After the closing ']': only whitespace may follow. */
static int finish(sr_json_array *a, sr_diag *d) {
    a->state = ST_DONE;
    int c = next_byte(a);
    if (c < -1) return stream_error(c);
    if (c >= 0) return fail(a, d, "unexpected data after the JSON array", sr_stream_tell(a->in));
    return SR_JA_END;
}

/* ---- element lines of a whole document ----
 * The walk runs over text that jansson accepted, so it need not check the syntax; it
 * stays within the buffer whatever the bytes are. Raw newlines cannot occur inside
 * strings of such text, so only those between tokens are counted. */

typedef struct doc_walk {
    const unsigned char *p;
    size_t n, i;   /* the text, and the position */
    uint64_t line; /* the line of p[i] */
} doc_walk;

static void walk_ws(doc_walk *w) {
    while (w->i < w->n && is_ws(w->p[w->i])) w->line += w->p[w->i++] == '\n';
}

/* Past the string whose opening quote is at w->i. */
static void walk_string(doc_walk *w) {
    size_t i = w->i + 1;
    while (i < w->n && w->p[i] != '"') i += w->p[i] == '\\' ? 2 : 1;
    w->i = i < w->n ? i + 1 : w->n;
}

/* Past the value (string, container or scalar) starting at w->i. */
static void walk_value(doc_walk *w) {
    unsigned long depth = 0;
    while (w->i < w->n) {
        unsigned c = w->p[w->i];
        if (c == '"') {
            walk_string(w);
            if (depth == 0) return;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return; /* a scalar ended at its container's end */
            w->i++;
            if (--depth == 0) return;
            continue;
        } else if (depth == 0 && (c == ',' || c == ':' || is_ws(c))) {
            return; /* a scalar ended */
        }
        w->line += c == '\n';
        w->i++;
    }
}

/* In the object whose '{' is at w->i, finds the value of the last member named key (the
 * one jansson keeps): true with *at at that value. w ends past the object. Keys are
 * compared as written (a key spelt with escapes is not found). */
static bool walk_find(doc_walk *w, const char *key, doc_walk *at) {
    size_t klen = strlen(key);
    bool found = false;
    w->i++;
    for (;;) {
        walk_ws(w);
        if (w->i >= w->n || w->p[w->i] != '"') return found; /* '}' */
        size_t ks = w->i + 1;
        walk_string(w);
        bool match = w->i - ks == klen + 1 && !memcmp(w->p + ks, key, klen);
        walk_ws(w);
        if (w->i < w->n && w->p[w->i] == ':') w->i++;
        walk_ws(w);
        if (match) {
            *at = *w;
            found = true;
        }
        walk_value(w);
        walk_ws(w);
        if (w->i >= w->n || w->p[w->i] != ',') return found;
        w->i++;
    }
}

/* Sets a->doc_lines to the line of each element of a->list, found in the document's
 * text p[0, n), which starts on line a->newlines + 1. Left NULL (the elements are then
 * numbered instead) when the array cannot be found as written, e.g. behind an escaped
 * key. Returns SR_OK or SR_E_NOMEM. */
static sr_err find_doc_lines(sr_json_array *a, const unsigned char *p, size_t n) {
    size_t m = json_array_size(a->list);
    doc_walk w = {p, n, 0, a->newlines + 1}, v;
    walk_ws(&w);
    if (m == 0 || w.i >= n || p[w.i] != '{' || !walk_find(&w, "payload", &v)) return SR_OK;
    if (v.i < n && p[v.i] == '{') {
        doc_walk payload = v;
        if (!walk_find(&payload, "listens", &v)) return SR_OK;
    }
    if (v.i >= n || p[v.i] != '[') return SR_OK;
    uint64_t *lines = sr_mallocarray(m, sizeof *lines);
    if (!lines) return SR_E_NOMEM;
    size_t k = 0;
    v.i++;
    for (;;) {
        walk_ws(&v);
        if (v.i >= n || p[v.i] == ']' || k == m) break;
        size_t at = v.i;
        lines[k++] = v.line;
        walk_value(&v);
        if (v.i == at) break;
        walk_ws(&v);
        if (v.i < n && p[v.i] == ',') v.i++;
    }
    if (k == m && v.i < n && p[v.i] == ']')
        a->doc_lines = lines;
    else
        sr_free(lines);
    return SR_OK;
}

static sr_err open_doc(sr_json_array *a, sr_diag *d) {
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (sr_grow((void **)&buf, &cap, n + CHUNK, 1)) {
            sr_free(buf);
            return SR_E_NOMEM;
        }
        ssize_t k = sr_stream_read(a->in, buf + n, cap - n);
        if (k < 0) {
            sr_free(buf);
            return (sr_err)k;
        }
        if (k == 0) break;
        n += (size_t)k;
        if (n > SR_JSON_DOC_MAX) {
            sr_free(buf);
            return fail(a, d, "JSON document larger than 64 MiB, not an array", n);
        }
    }
    json_error_t err;
    a->doc = json_loadb((const char *)buf, n, JSON_ALLOW_NUL, &err);
    if (!a->doc) {
        sr_free(buf);
        if (json_error_code(&err) == json_error_out_of_memory) return SR_E_NOMEM;
        a->state = ST_DONE;
        return sr_diag_set(d, SR_E_INPUT, "%s: not a JSON array or API response: %s at byte %d",
                           a->label ? a->label : "input", err.text, err.position);
    }
    json_t *payload = json_object_get(a->doc, "payload");
    if (json_is_array(payload))
        a->list = payload;
    else if (json_is_object(payload)) {
        json_t *l = json_object_get(payload, "listens");
        if (json_is_array(l)) a->list = l;
        json_t *u = json_object_get(payload, "user_id");
        if (json_is_string(u)) a->doc_user = (sr_str){json_string_value(u), json_string_length(u)};
    }
    sr_err e = a->list ? find_doc_lines(a, buf, n) : SR_OK;
    sr_free(buf);
    if (!a->list || e) {
        json_decref(a->doc);
        a->doc = NULL;
        a->list = NULL;
        a->doc_user = SR_STR_NULL;
        a->state = ST_DONE;
        if (e) return e;
        return sr_diag_set(d, SR_E_INPUT, "%s: JSON object without a payload.listens array",
                           a->label ? a->label : "input");
    }
    a->state = ST_DOC;
    return SR_OK;
}

sr_err sr_json_array_open(sr_json_array *a, sr_stream *in, unsigned flags, const char *label,
                          sr_diag *d) {
    memset(a, 0, sizeof *a);
    a->in = in;
    a->label = label;
    int c = next_byte(a);
    if (c < -1) return stream_error(c);
    if (c == '[') {
        sr_stream_consume(in, 1);
        a->state = ST_FIRST;
        return SR_OK;
    }
    if (c == '{' && (flags & SR_JSON_ARRAY_PAYLOAD)) return open_doc(a, d);
    if (c == -1) return fail(a, d, "empty document, not a JSON array", sr_stream_tell(in));
    return fail(a, d, "not a JSON array", sr_stream_tell(in));
}

int sr_json_array_next(sr_json_array *a, sr_json_elem *el, sr_diag *d) {
    if (a->pending) {
        sr_stream_consume(a->in, a->pending);
        a->pending = 0;
    }
    if (a->state == ST_DOC) {
        if (a->index >= json_array_size(a->list)) {
            a->state = ST_DONE;
            return SR_JA_END;
        }
        el->value = json_array_get(a->list, a->index);
        el->text = SR_STR_NULL;
        a->line = a->doc_lines ? a->doc_lines[a->index] : a->index + 1;
        a->index++;
        return SR_JA_ELEMENT;
    }
    for (;;) {
        if (a->state == ST_DONE) return SR_JA_END;
        int c = next_byte(a);
        if (c < -1) return stream_error(c);
        if (c == -1)
            return fail_with(a, d, SR_E_TRUNCATED, "truncated JSON array: no closing ']'",
                             sr_stream_tell(a->in));
        switch (a->state) {
        case ST_FIRST:
            if (c == ']') {
                sr_stream_consume(a->in, 1);
                return finish(a, d);
            }
            a->state = ST_AFTER;
            return read_element(a, el, d);
        case ST_AFTER:
            if (c == ',') {
                sr_stream_consume(a->in, 1);
                a->state = ST_NEXT;
                continue;
            }
            if (c == ']') {
                sr_stream_consume(a->in, 1);
                return finish(a, d);
            }
            return fail(a, d, "not a JSON array: expected ',' or ']'", sr_stream_tell(a->in));
        case ST_NEXT:
            if (c == ']')
                return fail(a, d, "not a JSON array: ']' after ','", sr_stream_tell(a->in));
            a->state = ST_AFTER;
            return read_element(a, el, d);
        default:
            return SR_JA_END;
        }
    }
}

void sr_json_array_close(sr_json_array *a) {
    if (a->pending) sr_stream_consume(a->in, a->pending);
    json_decref(a->doc);
    sr_free(a->doc_lines);
    memset(a, 0, sizeof *a);
}

sr_err sr_json_array_read(sr_reader *r, unsigned flags, sr_json_elem_fn fn, void *user) {
    sr_json_array a;
    sr_err e = sr_json_array_open(&a, r->in, flags, r->label, r->diag);
    if (e) return e;
    for (;;) {
        sr_json_elem el;
        int k = sr_json_array_next(&a, &el, r->diag);
        if (k == SR_JA_END) break;
        if (k < 0) {
            e = k;
            break;
        }
        if (k == SR_JA_TOO_LONG)
            e = sr_reader_skip(r, SR_SKIP_LINE_TOO_LONG, a.line, NULL);
        else
            e = fn(r, &a, &el, user);
        if (e) break;
    }
    sr_json_array_close(&a);
    return e;
}

sr_skip sr_json_error_skip(const json_error_t *err) {
    switch (json_error_code(err)) {
    case json_error_invalid_utf8:
        return SR_SKIP_INVALID_UTF8;
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return SR_SKIP_CONTROL_CHAR;
    default:
        /* A raw control byte inside a string: jansson says "control character 0x..". */
        if (!strncmp(err->text, "control character", 17)) return SR_SKIP_CONTROL_CHAR;
        return SR_SKIP_MALFORMED_JSON;
    }
}

/* ---- detection helpers ---- */

size_t sr_json_head_start(const unsigned char *h, size_t n) {
    size_t i = 0;
    if (n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF) i = 3;
    while (i < n && is_ws(h[i])) i++;
    return i;
}

/* Walks the first top-level value of h. For each key at depth `depth` calls back;
 * returns the length of the value when it ends within h, else 0. */
static size_t walk(const unsigned char *h, size_t n, int depth, const char *key, bool *found) {
    size_t i = sr_json_head_start(h, n), klen = key ? strlen(key) : 0;
    int dep = 0;
    while (i < n) {
        unsigned c = h[i];
        if (c == '"') {
            size_t s = ++i;
            while (i < n && h[i] != '"') i += h[i] == '\\' ? 2 : 1;
            if (i >= n) return 0;
            size_t e = i++;
            if (key && dep == depth && e - s == klen && !memcmp(h + s, key, klen)) {
                size_t j = i;
                while (j < n && is_ws(h[j])) j++;
                if (j < n && h[j] == ':') {
                    *found = true;
                    return 0;
                }
            }
            continue;
        }
        if (c == '{' || c == '[')
            dep++;
        else if (c == '}' || c == ']') {
            if (--dep <= 0) return i + 1;
        }
        i++;
    }
    return 0;
}

bool sr_json_head_has_key(const unsigned char *h, size_t n, int depth, const char *key) {
    bool found = false;
    walk(h, n, depth, key, &found);
    return found;
}

size_t sr_json_head_value_len(const unsigned char *h, size_t n) {
    size_t i = sr_json_head_start(h, n);
    if (i >= n || (h[i] != '{' && h[i] != '[')) return 0;
    bool found = false;
    return walk(h, n, 0, NULL, &found);
}
