/* ListenBrainz listen extraction: fast scanner, jansson reference, shared rules
 * (lb_scan.h).
 *
 * The scanner is a recursive-descent validator of exactly the JSON grammar jansson
 * accepts (RFC 8259 plus jansson's limits), specialised by context: at the top level,
 * in track_metadata, additional_info and mbid_mapping it matches keys against a small
 * table and stores values in slots; everything else is validated and passed over. It
 * allocates nothing; escaped strings on the read paths are decoded into the caller's
 * scratch buffer (a decoded string is never longer than its source, so n bytes of
 * scratch suffice for a whole line). Strings are scanned 8 bytes at a time (SWAR
 * zero-byte tests for '"', '\\' and control bytes); raw bytes >= 0x80 only set a flag,
 * and the line is UTF-8-validated once at the end when the flag is set.
 *
 * To agree with jansson without re-implementing its corner cases, the scanner declines
 * (SR_LB_SCAN_FALLBACK) on: any syntax error; a key containing a backslash (it could
 * decode to a key we read); a duplicate key on a read path (jansson keeps the last);
 * an integer of more than 18 digits or a number with an exponent (jansson may reject
 * it as an overflow); a real number in a slot (its exact double rounding is jansson's
 * business); nesting deeper than 64; a \u escape naming a lone surrogate; raw control
 * bytes in strings; invalid UTF-8.
 */
#include "ingest/lb_scan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ingest/json_array.h"
#include "util/mem.h"
#include "util/timeparse.h"

#define MAX_DEPTH 64

/* ---- the scanner ---- */

typedef struct scan {
    const unsigned char *p, *end;
    char *out; /* next free byte of scratch */
    bool non_ascii;
    int depth;
    sr_lb_raw *raw;
} scan;

/* Byte classes inside strings: 0 plain, 1 '"', 2 '\\', 3 control, 4 non-ASCII. */
static const unsigned char str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4};

static inline void skip_ws(scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const unsigned char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (int)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (int)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (int)(c - 'A' + 10);
        else
            return -1;
    }
    return v;
}

/* Handles one escape at s->p (the byte after '\\'); writes its decoding at *o when o is
 * not NULL. Returns false on an escape jansson rejects. */
static bool escape(scan *s, char **o) {
    const unsigned char *p = s->p;
    if (p >= s->end) return false;
    char c;
    switch (*p) {
    case '"':
        c = '"';
        break;
    case '\\':
        c = '\\';
        break;
    case '/':
        c = '/';
        break;
    case 'b':
        c = '\b';
        break;
    case 'f':
        c = '\f';
        break;
    case 'n':
        c = '\n';
        break;
    case 'r':
        c = '\r';
        break;
    case 't':
        c = '\t';
        break;
    case 'u': {
        if (s->end - p < 5) return false;
        int v = hex4(p + 1);
        if (v < 0) return false;
        p += 5;
        long cp = v;
        if (v >= 0xD800 && v <= 0xDBFF) {
            if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u') return false;
            int v2 = hex4(p + 2);
            if (v2 < 0xDC00 || v2 > 0xDFFF) return false;
            cp = ((long)(v - 0xD800) << 10) + (v2 - 0xDC00) + 0x10000;
            p += 6;
        } else if (v >= 0xDC00 && v <= 0xDFFF) {
            return false;
        }
        s->p = p;
        if (o) {
            unsigned char *w = (unsigned char *)*o;
            if (cp < 0x80)
                *w++ = (unsigned char)cp;
            else if (cp < 0x800) {
                *w++ = (unsigned char)(0xC0 | (cp >> 6));
                *w++ = (unsigned char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *w++ = (unsigned char)(0xE0 | (cp >> 12));
                *w++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                *w++ = (unsigned char)(0x80 | (cp & 0x3F));
            } else {
                *w++ = (unsigned char)(0xF0 | (cp >> 18));
                *w++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                *w++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                *w++ = (unsigned char)(0x80 | (cp & 0x3F));
            }
            *o = (char *)w;
        }
        return true;
    }
    default:
        return false;
    }
    s->p = p + 1;
    if (o) *(*o)++ = c;
    return true;
}

/* Reads the string at s->p (on its '"'). With out, stores its value (decoded into
 * scratch when it has escapes). With key, fails on any escape. */
#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Index of the first byte of x (little-endian) that is '"', '\\' or < 0x20, or 8.
 * The zero-byte tricks can flag bytes above a true match (borrows), never below one, so
 * the lowest flag is exact. Bytes >= 0x80 are not flagged. */
static inline unsigned stop_byte(uint64_t x) {
    uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
    uint64_t m = ((q - ONES) & ~q) | ((b - ONES) & ~b) | ((x - ONES * 0x20) & ~x);
    m &= HIGHS;
    return m ? (unsigned)__builtin_ctzll(m) >> 3 : 8;
}

static bool string(scan *s, sr_str *out, bool key) {
    const unsigned char *start = ++s->p, *p = start, *end = s->end;
    for (;;) {
        /* Plain bytes, 8 at a time while they last. */
        uint64_t hi = 0;
        while (end - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            unsigned k = stop_byte(x);
            hi |= x;
            p += k;
            if (k < 8) break;
        }
        if (hi & HIGHS) s->non_ascii = true; /* may include bytes past the stop: harmless */
        while (p < end && str_class[*p] == 0) p++;
        if (p >= end) return false;
        unsigned k = str_class[*p];
        if (k == 1) break;
        if (k == 4) {
            s->non_ascii = true;
            p++;
            continue;
        }
        if (k == 3 || key) return false;
        /* An escape: from here on, decode (or just validate). */
        char *o = NULL;
        if (out) {
            o = s->out;
            memcpy(o, start, (size_t)(p - start));
            o += p - start;
        }
        s->p = p;
        for (;;) {
            p = s->p;
            if (p >= end) return false;
            unsigned c = *p;
            if (c == '"') break;
            if (c == '\\') {
                s->p = p + 1;
                if (!escape(s, out ? &o : NULL)) return false;
                continue;
            }
            if (c < 0x20) return false;
            if (c >= 0x80) s->non_ascii = true;
            if (o) *o++ = (char)c;
            s->p = p + 1;
        }
        if (out) {
            *out = (sr_str){s->out, (size_t)(o - s->out)};
            s->out = o;
        }
        s->p = p + 1;
        return true;
    }
    if (out) *out = (sr_str){(const char *)start, (size_t)(p - start)};
    s->p = p + 1;
    return true;
}

/* Reads a number; stores an integer in *v (kind SR_LB_INT) or marks a real. */
static bool number(scan *s, sr_lb_val *v) {
    const unsigned char *p = s->p, *end = s->end;
    bool neg = false;
    if (p < end && *p == '-') neg = true, p++;
    if (p >= end || *p < '0' || *p > '9') return false;
    const unsigned char *d0 = p;
    int64_t x = 0;
    if (*p == '0')
        p++;
    else
        while (p < end && *p >= '0' && *p <= '9') {
            if (p - d0 >= 18) return false; /* may overflow jansson's integer */
            x = x * 10 + (*p++ - '0');
        }
    bool real = false;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return false;
        while (p < end && *p >= '0' && *p <= '9') p++;
        real = true;
    }
    if (p < end && (*p == 'e' || *p == 'E')) return false;
    s->p = p;
    if (v) {
        if (real)
            v->kind = SR_LB_REAL;
        else
            v->kind = SR_LB_INT, v->i = neg ? -x : x;
    }
    return true;
}

static bool literal(scan *s, const char *lit, size_t n) {
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n)) return false;
    s->p += n;
    return true;
}

static bool skip_value(scan *s);

/* Enters the object or array whose bracket is at s->p: 1 when a member follows at s->p,
 * 0 when it is empty (already left again), -1 when nested too deep. */
static inline int enter(scan *s, unsigned char close) {
    if (++s->depth > MAX_DEPTH) return -1;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }
    return 1;
}

/* After a member's value: 1 at ',' (the next member follows at s->p), 0 at the closing
 * bracket (the container is left), -1 at anything else. */
static inline int next_member(scan *s, unsigned char close) {
    skip_ws(s);
    if (s->p >= s->end) return -1;
    if (*s->p == ',') {
        s->p++;
        skip_ws(s);
        return 1;
    }
    if (*s->p != close) return -1;
    s->p++;
    s->depth--;
    return 0;
}

static bool skip_container(scan *s, unsigned char close) {
    int more = enter(s, close);
    while (more > 0) {
        if (close == '}') {
            if (s->p >= s->end || *s->p != '"' || !string(s, NULL, false)) return false;
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':') return false;
            s->p++;
            skip_ws(s);
        }
        if (!skip_value(s)) return false;
        more = next_member(s, close);
    }
    return more == 0;
}

/* Parses any value; with v, records its kind (and string/integer value). */
static bool value(scan *s, sr_lb_val *v) {
    if (s->p >= s->end) return false;
    switch (*s->p) {
    case '"':
        if (v) v->kind = SR_LB_STRING;
        return string(s, v ? &v->s : NULL, false);
    case '{':
        if (v) v->kind = SR_LB_OBJECT;
        return skip_container(s, '}');
    case '[':
        if (v) v->kind = SR_LB_OTHER;
        return skip_container(s, ']');
    case 't':
        if (v) v->kind = SR_LB_OTHER;
        return literal(s, "true", 4);
    case 'f':
        if (v) v->kind = SR_LB_OTHER;
        return literal(s, "false", 5);
    case 'n':
        if (v) v->kind = SR_LB_NULL;
        return literal(s, "null", 4);
    default:
        return number(s, v);
    }
}

static bool skip_value(scan *s) {
    return value(s, NULL);
}

/* Object contexts and their key tables. */
enum { CTX_ROOT, CTX_TM, CTX_AI, CTX_MM };

enum {
    K_SKIP = -1,
    /* container slots 0..SR_LB_C__COUNT-1 map directly */
    K_USER = 100,
    K_LISTENED_AT,
    K_TIMESTAMP,
    K_TS_SINCE_EPOCH,
    K_TM,
};

typedef struct key_def {
    const char *name;
    unsigned char len;
    short slot;
} key_def;

#define K(s, slot)                                                                                 \
    { s, sizeof(s) - 1, slot }
static const key_def root_keys[] = {K("user_name", K_USER),
                                    K("timestamp", K_TIMESTAMP),
                                    K("listened_at", K_LISTENED_AT),
                                    K("track_metadata", K_TM),
                                    K("ts_since_epoch", K_TS_SINCE_EPOCH),
                                    K("artist_name", SR_LB_C_ARTIST),
                                    K("track_name", SR_LB_C_TRACK),
                                    K("release_name", SR_LB_C_RELEASE),
                                    K("recording_mbid", SR_LB_C_MBID),
                                    K("additional_info", SR_LB_C_AI),
                                    K("mbid_mapping", SR_LB_C_MM),
                                    {NULL, 0, 0}};
static const key_def tm_keys[] = {K("artist_name", SR_LB_C_ARTIST),
                                  K("track_name", SR_LB_C_TRACK),
                                  K("release_name", SR_LB_C_RELEASE),
                                  K("additional_info", SR_LB_C_AI),
                                  K("recording_mbid", SR_LB_C_MBID),
                                  K("mbid_mapping", SR_LB_C_MM),
                                  {NULL, 0, 0}};
static const key_def ai_keys[] = {
    K("release_name", SR_LB_C_AI_RELEASE), K("recording_mbid", SR_LB_C_AI_MBID), {NULL, 0, 0}};
static const key_def mm_keys[] = {K("recording_mbid", SR_LB_C_MM_MBID), {NULL, 0, 0}};
#undef K

static const key_def *const ctx_keys[] = {root_keys, tm_keys, ai_keys, mm_keys};

static bool object(scan *s, int ctx, sr_lb_val *c);

/* A value stored in slot v: a real number there is left to jansson. */
static bool slot_value(scan *s, sr_lb_val *v) {
    if (!value(s, v)) return false;
    return v->kind != SR_LB_REAL;
}

/* A value that is read into when it is an object (track_metadata, additional_info,
 * mbid_mapping), else only its kind is kept. */
static bool nested(scan *s, sr_lb_val *v, int ctx, sr_lb_val *c) {
    if (s->p < s->end && *s->p == '{') {
        v->kind = SR_LB_OBJECT;
        return object(s, ctx, c);
    }
    return slot_value(s, v);
}

/* Parses the object at s->p in context ctx; c is the container's slot array. */
static bool object(scan *s, int ctx, sr_lb_val *c) {
    const key_def *keys = ctx_keys[ctx];
    unsigned seen = 0;
    int more = enter(s, '}');
    while (more > 0) {
        sr_str k;
        if (s->p >= s->end || *s->p != '"' || !string(s, &k, true)) return false;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') return false;
        s->p++;
        skip_ws(s);
        int slot = K_SKIP;
        for (unsigned i = 0; keys[i].name; i++) {
            if (keys[i].len == k.n && !memcmp(keys[i].name, k.p, k.n)) {
                if (seen & (1u << i)) return false; /* duplicate: jansson keeps the last */
                seen |= 1u << i;
                slot = keys[i].slot;
                break;
            }
        }
        bool ok;
        sr_lb_raw *raw = s->raw;
        switch (slot) {
        case K_SKIP:
            ok = skip_value(s);
            break;
        case K_USER:
            ok = slot_value(s, &raw->user);
            break;
        case K_LISTENED_AT:
        case K_TIMESTAMP:
        case K_TS_SINCE_EPOCH:
            ok = slot_value(s, &raw->ts[slot - K_LISTENED_AT]);
            break;
        case K_TM:
            ok = nested(s, &raw->tm, CTX_TM, raw->inner);
            break;
        case SR_LB_C_AI:
            ok = nested(s, &c[SR_LB_C_AI], CTX_AI, c);
            break;
        case SR_LB_C_MM:
            ok = nested(s, &c[SR_LB_C_MM], CTX_MM, c);
            break;
        default:
            ok = slot_value(s, &c[slot]);
            break;
        }
        if (!ok) return false;
        more = next_member(s, '}');
    }
    return more == 0;
}

int sr_lb_scan(const char *p, size_t n, char *scratch, sr_lb_raw *raw) {
    memset(raw, 0, sizeof *raw);
    scan s = {(const unsigned char *)p, (const unsigned char *)p + n, scratch, false, 0, raw};
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') return SR_LB_SCAN_FALLBACK;
    if (!object(&s, CTX_ROOT, raw->top)) return SR_LB_SCAN_FALLBACK;
    skip_ws(&s);
    if (s.p != s.end) return SR_LB_SCAN_FALLBACK;
    if (s.non_ascii && !sr_utf8_valid(p, n)) return SR_LB_SCAN_FALLBACK;
    return SR_LB_SCAN_OK;
}

/* ---- the jansson reference ---- */

static void val_from(const json_t *v, sr_lb_val *o) {
    memset(o, 0, sizeof *o);
    if (!v) return;
    switch (json_typeof(v)) {
    case JSON_NULL:
        o->kind = SR_LB_NULL;
        break;
    case JSON_STRING:
        o->kind = SR_LB_STRING;
        o->s = (sr_str){json_string_value(v), json_string_length(v)};
        break;
    case JSON_INTEGER:
        o->kind = SR_LB_INT;
        o->i = (int64_t)json_integer_value(v);
        break;
    case JSON_REAL:
        o->kind = SR_LB_REAL;
        o->d = json_real_value(v);
        break;
    case JSON_OBJECT:
        o->kind = SR_LB_OBJECT;
        break;
    default:
        o->kind = SR_LB_OTHER;
        break;
    }
}

static void container_from(const json_t *c, sr_lb_val *slots) {
    val_from(json_object_get(c, "artist_name"), &slots[SR_LB_C_ARTIST]);
    val_from(json_object_get(c, "track_name"), &slots[SR_LB_C_TRACK]);
    val_from(json_object_get(c, "release_name"), &slots[SR_LB_C_RELEASE]);
    val_from(json_object_get(c, "recording_mbid"), &slots[SR_LB_C_MBID]);
    const json_t *ai = json_object_get(c, "additional_info");
    val_from(ai, &slots[SR_LB_C_AI]);
    if (json_is_object(ai)) {
        val_from(json_object_get(ai, "release_name"), &slots[SR_LB_C_AI_RELEASE]);
        val_from(json_object_get(ai, "recording_mbid"), &slots[SR_LB_C_AI_MBID]);
    }
    const json_t *mm = json_object_get(c, "mbid_mapping");
    val_from(mm, &slots[SR_LB_C_MM]);
    if (json_is_object(mm))
        val_from(json_object_get(mm, "recording_mbid"), &slots[SR_LB_C_MM_MBID]);
}

void sr_lb_from_json(const json_t *obj, sr_lb_raw *raw) {
    memset(raw, 0, sizeof *raw);
    val_from(json_object_get(obj, "user_name"), &raw->user);
    val_from(json_object_get(obj, "listened_at"), &raw->ts[0]);
    val_from(json_object_get(obj, "timestamp"), &raw->ts[1]);
    val_from(json_object_get(obj, "ts_since_epoch"), &raw->ts[2]);
    const json_t *tm = json_object_get(obj, "track_metadata");
    val_from(tm, &raw->tm);
    container_from(obj, raw->top);
    if (json_is_object(tm)) container_from(tm, raw->inner);
}

/* ---- the shared rules ---- */

static int64_t ms_to_s(int64_t v) {
    return v > 100000000000LL ? v / 1000 : v;
}

static bool pick(const sr_lb_val *v, sr_str *out) {
    if (v->kind != SR_LB_STRING || !v->s.n) return false;
    *out = v->s;
    return true;
}

/* A required name: absent/null is empty (emit skips it), a non-string is a bad field. */
static bool name(const sr_lb_val *v, sr_str *out) {
    if (v->kind == SR_LB_STRING) *out = v->s;
    return v->kind == SR_LB_STRING || v->kind == SR_LB_ABSENT || v->kind == SR_LB_NULL;
}

sr_skip sr_lb_resolve(const sr_lb_raw *raw, sr_listen *l, const char **detail) {
    memset(l, 0, sizeof *l);
    l->ts = SR_TS_NONE;
    l->value = 1;
    *detail = NULL;
    if (raw->tm.kind != SR_LB_ABSENT && raw->tm.kind != SR_LB_NULL &&
        raw->tm.kind != SR_LB_OBJECT) {
        *detail = "track_metadata is not an object";
        return SR_SKIP_BAD_FIELD;
    }
    const sr_lb_val *c = raw->tm.kind == SR_LB_OBJECT ? raw->inner : raw->top;
    if (!name(&c[SR_LB_C_ARTIST], &l->artist)) {
        *detail = "artist_name is not a string";
        return SR_SKIP_BAD_FIELD;
    }
    if (!name(&c[SR_LB_C_TRACK], &l->track)) {
        *detail = "track_name is not a string";
        return SR_SKIP_BAD_FIELD;
    }
    if (!name(&raw->user, &l->user)) {
        *detail = "user_name is not a string";
        return SR_SKIP_BAD_FIELD;
    }
    if (!pick(&c[SR_LB_C_RELEASE], &l->release)) pick(&c[SR_LB_C_AI_RELEASE], &l->release);
    if (!pick(&c[SR_LB_C_AI_MBID], &l->recording_mbid) &&
        !pick(&c[SR_LB_C_MM_MBID], &l->recording_mbid))
        pick(&c[SR_LB_C_MBID], &l->recording_mbid);
    const sr_lb_val *t = NULL;
    for (int i = 0; i < 3 && !t; i++)
        if (raw->ts[i].kind != SR_LB_ABSENT && raw->ts[i].kind != SR_LB_NULL) t = &raw->ts[i];
    if (!t) {
        *detail = "no listened_at or timestamp";
        return SR_SKIP_BAD_TIMESTAMP;
    }
    switch (t->kind) {
    case SR_LB_INT:
        l->ts = ms_to_s(t->i);
        break;
    case SR_LB_REAL:
        if (!(t->d > -9.2e18 && t->d < 9.2e18)) {
            *detail = "timestamp out of range";
            return SR_SKIP_BAD_TIMESTAMP;
        }
        l->ts = ms_to_s((int64_t)t->d);
        break;
    case SR_LB_STRING:
        if (!sr_time_parse(t->s, &l->ts)) {
            l->ts = SR_TS_NONE;
            *detail = "unparseable timestamp";
            return SR_SKIP_BAD_TIMESTAMP;
        }
        break;
    default:
        *detail = "timestamp is not a number or string";
        return SR_SKIP_BAD_TIMESTAMP;
    }
    return SR_SKIP__COUNT;
}

/* ---- extraction with fallback ---- */

void sr_lb_ctx_init(sr_lb_ctx *c) {
    memset(c, 0, sizeof *c);
}

void sr_lb_ctx_deinit(sr_lb_ctx *c) {
    json_decref(c->doc);
    sr_free(c->scratch);
    memset(c, 0, sizeof *c);
}

sr_err sr_lb_extract(sr_lb_ctx *c, const char *p, size_t n, sr_listen *l, sr_skip *why,
                     const char **detail) {
    *detail = NULL;
    if (c->doc) {
        json_decref(c->doc);
        c->doc = NULL;
    }
    if (n > c->scratch_cap) {
        size_t cap = n < 4096 ? 4096 : n;
        char *b = sr_realloc(c->scratch, cap);
        if (!b) return SR_E_NOMEM;
        c->scratch = b;
        c->scratch_cap = cap;
    }
    sr_lb_raw raw;
    if (sr_lb_scan(p, n, c->scratch, &raw) == SR_LB_SCAN_OK) {
        c->scanned++;
        *why = sr_lb_resolve(&raw, l, detail);
        return SR_OK;
    }
    c->fallbacks++;
    json_error_t err;
    c->doc = json_loadb(p, n, JSON_ALLOW_NUL, &err);
    if (!c->doc) {
        if (json_error_code(&err) == json_error_out_of_memory) return SR_E_NOMEM;
        *why = sr_json_error_skip(&err);
        snprintf(c->detail, sizeof c->detail, "%s (byte %d)", err.text, err.position);
        *detail = c->detail;
        return SR_OK;
    }
    if (!json_is_object(c->doc)) {
        *why = SR_SKIP_BAD_FIELD;
        *detail = "not a JSON object";
        return SR_OK;
    }
    sr_lb_from_json(c->doc, &raw);
    *why = sr_lb_resolve(&raw, l, detail);
    return SR_OK;
}

/* ---- detection ---- */

bool sr_lb_head_has_listen_keys(const unsigned char *h, size_t n, int depth) {
    if (sr_json_head_has_key(h, n, depth, "track_metadata")) return true;
    if (!sr_json_head_has_key(h, n, depth, "artist_name") &&
        !sr_json_head_has_key(h, n, depth, "track_name"))
        return false;
    static const char *const keys[] = {"listened_at", "timestamp", "recording_msid", "artist_msid"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (sr_json_head_has_key(h, n, depth, keys[i])) return true;
    return false;
}
