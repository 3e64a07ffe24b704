/* Recommendation export (export.h): the JSON, CSV, JSPF and XSPF writers.
 *
 * sr_export_write checks the whole input first (NULL strings, non-finite numbers, the
 * date range), so a writer never meets an error other than running out of memory. The
 * writers append to the caller's buffer, whose failure is sticky; they note a failed
 * jansson call or scratch buffer in wctx.ok, and the dispatcher turns either into
 * SR_E_NOMEM and cuts the buffer back to its length on entry.
 *
 * Text passes through put_text, one loop over code points (utf8_next, which follows the
 * table of sr_utf8_valid) with a per-format substitution: U+FFFD for an ill-formed
 * subpart, and for XML and CSV also for what XML 1.0 forbids; entities for XML; doubled
 * quotes inside a quoted CSV field. JSON strings are built by jansson from cleaned bytes
 * (json_stringn refuses invalid UTF-8) and dumped with jansson's escaping of control
 * characters. Runs of bytes that need nothing are copied at once.
 *
 * Numbers go through round3 ("%.3f", read back), so CSV, XML and JSON show one value;
 * jansson prints reals with 15 significant digits, which gives back those decimals
 * ("4.457", not "4.4569999999999999"). printf runs in the "C" locale: the library never
 * calls setlocale, so the decimal point is '.'.
 */
#include "rec/export.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/mem.h"

#define BAD_CP     0x110000u      /* utf8_next: an ill-formed subpart */
#define FFFD       "\xEF\xBF\xBD" /* U+FFFD REPLACEMENT CHARACTER */
#define EN_DASH    "\xE2\x80\x93"
#define JSON_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(15))
#define DATE_MIN   (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define DATE_MAX   253402300799LL   /* 9999-12-31T23:59:59Z */
#define DATE_CAP   80               /* iso_date buffer: room for any int fields, as gcc checks */

/* What a writer works with: the meta (never NULL), the output, two scratch buffers (raw
 * text it composes, and that text cleaned for jansson) and the out-of-memory flag. */
typedef struct wctx {
    const sr_export_meta *meta;
    sr_buf *out;
    sr_buf raw, clean;
    bool ok;
} wctx;

/* ---- text ---------------------------------------------------------------------------- */

/* Decodes the code point at s[0..n) (n > 0) into *cp and returns its length. An
 * ill-formed sequence gives BAD_CP and the length of its maximal subpart: the lead byte
 * and the continuation bytes that were still acceptable, at least 1 (Unicode, section
 * 3.9, "U+FFFD substitution of maximal subparts"). Table 3-7, as in sr_utf8_valid. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    uint32_t v;
    /* clang-format off */
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F;
    else if (c == 0xE0) len = 3, v = 0, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) len = 3, v = c & 0x0F;
    else if (c == 0xED) len = 3, v = 0xD, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF) len = 3, v = c & 0x0F;
    else if (c == 0xF0) len = 4, v = 0, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4, v = c & 0x07;
    else if (c == 0xF4) len = 4, v = 4, hi = 0x8F;
    else { *cp = BAD_CP; return 1; }
    /* clang-format on */
    for (size_t k = 1; k < len; k++) {
        if (k >= n || s[k] < (k == 1 ? lo : 0x80) || s[k] > (k == 1 ? hi : 0xBF)) {
            *cp = BAD_CP;
            return k;
        }
        v = v << 6 | (s[k] & 0x3Fu);
    }
    *cp = v;
    return len;
}

/* XML 1.0's Char production (section 2.2). */
static bool xml_char(uint32_t c) {
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

typedef enum text_mode {
    TEXT_UTF8,       /* ill-formed UTF-8 -> U+FFFD (for jansson) */
    TEXT_XMLCHARS,   /* and what XML 1.0 forbids -> U+FFFD (CSV) */
    TEXT_CSV_QUOTED, /* TEXT_XMLCHARS, '"' doubled (inside a quoted CSV field) */
    TEXT_XML,        /* TEXT_XMLCHARS, & < > " ' tab LF CR as references */
} text_mode;

static const char *xml_ref(uint32_t c) {
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&apos;";
    case '\t':
        return "&#9;";
    case '\n':
        return "&#10;";
    case '\r':
        return "&#13;";
    default:
        return NULL;
    }
}

/* What replaces code point c in mode m, or NULL to keep its bytes. */
static const char *text_subst(uint32_t c, text_mode m) {
    if (c == BAD_CP) return FFFD;
    if (m == TEXT_UTF8) return NULL;
    if (!xml_char(c)) return FFFD;
    if (m == TEXT_CSV_QUOTED) return c == '"' ? "\"\"" : NULL;
    return m == TEXT_XML ? xml_ref(c) : NULL;
}

/* Appends s to b, cleaned and escaped for mode m. */
static void put_text(sr_buf *b, sr_str s, text_mode m) {
    if (!s.n) return;
    const unsigned char *p = (const unsigned char *)s.p;
    size_t i = 0, run = 0; /* p[run..i) is kept as it is */
    while (i < s.n) {
        uint32_t c;
        size_t len = utf8_next(p + i, s.n - i, &c);
        const char *rep = text_subst(c, m);
        if (rep) {
            sr_buf_add(b, p + run, i - run);
            sr_buf_adds(b, rep);
            run = i + len;
        }
        i += len;
    }
    sr_buf_add(b, p + run, s.n - run);
}

static void add_str(sr_buf *b, sr_str s) {
    if (s.n) sr_buf_add(b, s.p, s.n);
}

/* ---- numbers, dates, MBIDs --------------------------------------------------------- */

/* x rounded to 3 decimals, the value "%.3f" prints; -0 becomes 0. x is finite. */
static double round3(double x) {
    char tmp[400]; /* DBL_MAX has 309 digits */
    snprintf(tmp, sizeof tmp, "%.3f", x);
    double v = strtod(tmp, NULL);
    return v == 0 ? 0.0 : v;
}

/* "2024-05-01T12:00:00Z"; t is in [DATE_MIN, DATE_MAX] (checked on entry). */
static void iso_date(int64_t t, char buf[DATE_CAP]) {
    time_t tt = (time_t)t;
    struct tm tm = {0};
    gmtime_r(&tt, &tm);
    snprintf(buf, DATE_CAP, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The 8-4-4-4-12 lowercase form of a 16-byte UUID. */
static void mbid_text(const uint8_t *m, char out[37]) {
    static const char hex[] = "0123456789abcdef";
    size_t j = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[j++] = '-';
        out[j++] = hex[m[i] >> 4];
        out[j++] = hex[m[i] & 15];
    }
    out[j] = 0;
}

/* ---- the explanation as text ----------------------------------------------------- */

/* "Artist – Track (0.910); Artist – Track (0.500)", raw (cleaned when written). Every
 * separator starts with ASCII, so a name's ill-formed tail never merges with it. */
static void because_text(sr_buf *b, const sr_export_item *it) {
    for (size_t k = 0; k < it->n_because; k++) {
        const sr_export_because *w = &it->because[k];
        if (k) sr_buf_adds(b, "; ");
        if (w->artist.n) { /* items-only data: a song is its track alone */
            add_str(b, w->artist);
            sr_buf_adds(b, " " EN_DASH " ");
        }
        add_str(b, w->track);
        sr_buf_printf(b, " (%.3f)", round3(w->weight));
    }
}

/* The raw text in c->raw (valid until the next call); {NULL, 0} after a failure. */
static sr_str raw_done(wctx *c) {
    if (!sr_buf_ok(&c->raw)) {
        c->ok = false;
        return SR_STR_NULL;
    }
    return (sr_str){c->raw.p, c->raw.n};
}

static sr_str because_str(wctx *c, const sr_export_item *it) {
    sr_buf_reset(&c->raw);
    because_text(&c->raw, it);
    return raw_done(c);
}

/* A track's annotation: "score 4.500, support 0.800, weak pick; because: ...". */
static sr_str summary_str(wctx *c, const sr_export_item *it) {
    sr_buf_reset(&c->raw);
    sr_buf_printf(&c->raw, "score %.3f, support %.3f", round3(it->score), round3(it->support));
    if (it->weak) sr_buf_adds(&c->raw, ", weak pick");
    if (it->n_because) {
        sr_buf_adds(&c->raw, "; because: ");
        because_text(&c->raw, it);
    }
    return raw_done(c);
}

/* ---- JSON and JSPF (jansson) ------------------------------------------------------- */

/* Adds v (reference stolen, may be NULL) to object o (may be NULL); a failure clears
 * c->ok. jansson frees v whenever it cannot take it. */
static void jset(wctx *c, json_t *o, const char *key, json_t *v) {
    if (json_object_set_new(o, key, v)) c->ok = false;
}

static void jpush(wctx *c, json_t *a, json_t *v) {
    if (json_array_append_new(a, v)) c->ok = false;
}

/* A JSON string of s, ill-formed UTF-8 replaced; NULL when out of memory. */
static json_t *jstr(wctx *c, sr_str s) {
    if (sr_utf8_valid(s.p, s.n)) return json_stringn(s.n ? s.p : "", s.n);
    sr_buf_reset(&c->clean);
    put_text(&c->clean, s, TEXT_UTF8);
    return sr_buf_ok(&c->clean) ? json_stringn(c->clean.p, c->clean.n) : NULL;
}

static json_t *jcstr(wctx *c, const char *s) {
    return s ? jstr(c, sr_str_c(s)) : json_null();
}

static json_t *jnum(double x) {
    return json_real(round3(x));
}

static json_t *jdate(int64_t t) {
    char buf[DATE_CAP];
    if (!t) return json_null();
    iso_date(t, buf);
    return json_string(buf);
}

/* The MBID, with prefix before it ("" or the recording URL); null when unknown. */
static json_t *jmbid(const uint8_t *mbid, const char *prefix) {
    char id[37], buf[80];
    if (!mbid) return json_null();
    mbid_text(mbid, id);
    snprintf(buf, sizeof buf, "%s%s", prefix, id);
    return json_string(buf);
}

static json_t *jbecause(wctx *c, const sr_export_item *it) {
    json_t *a = json_array();
    for (size_t k = 0; a && c->ok && k < it->n_because; k++) {
        const sr_export_because *w = &it->because[k];
        json_t *o = json_object();
        jset(c, o, "artist", jstr(c, w->artist));
        jset(c, o, "track", jstr(c, w->track));
        jset(c, o, "weight", jnum(w->weight));
        jpush(c, a, o);
    }
    return a;
}

/* The fields songrec's JSON item and its JSPF extension share. */
static void jpick(wctx *c, json_t *o, const sr_export_item *it) {
    jset(c, o, "score", jnum(it->score));
    jset(c, o, "support", jnum(it->support));
    jset(c, o, "weak", json_boolean(it->weak));
    jset(c, o, "because", jbecause(c, it));
}

static int dump_cb(const char *p, size_t n, void *data) {
    sr_buf *b = data;
    sr_buf_add(b, p, n);
    return sr_buf_ok(b) ? 0 : -1;
}

/* Dumps root (reference stolen) and a final newline when everything before went well. */
static void dump_json(wctx *c, json_t *root) {
    if (c->ok && json_dump_callback(root, dump_cb, c->out, JSON_FLAGS)) c->ok = false;
    json_decref(root);
    sr_buf_addc(c->out, '\n');
}

static json_t *json_item(wctx *c, const sr_export_item *it, size_t rank) {
    json_t *o = json_object();
    jset(c, o, "rank", json_integer((json_int_t)rank));
    jset(c, o, "id", json_integer(it->id));
    jset(c, o, "artist", jstr(c, it->artist));
    jset(c, o, "track", jstr(c, it->track));
    jset(c, o, "mbid", jmbid(it->mbid, ""));
    jpick(c, o, it);
    return o;
}

static void write_json(wctx *c, const sr_export_item *items, size_t n) {
    json_t *root = json_object(), *arr = json_array();
    jset(c, root, "title", jcstr(c, c->meta->title));
    jset(c, root, "creator", jcstr(c, c->meta->creator));
    jset(c, root, "annotation", jcstr(c, c->meta->annotation));
    jset(c, root, "created", jdate(c->meta->date));
    for (size_t i = 0; arr && c->ok && i < n; i++) jpush(c, arr, json_item(c, &items[i], i + 1));
    jset(c, root, "items", arr);
    dump_json(c, root);
}

static json_t *jspf_track(wctx *c, const sr_export_item *it) {
    json_t *t = json_object();
    if (it->mbid) {
        json_t *ids = json_array();
        jpush(c, ids, jmbid(it->mbid, SR_EXPORT_MB_RECORDING));
        jset(c, t, "identifier", ids);
    }
    jset(c, t, "title", jstr(c, it->track));
    if (it->artist.n) jset(c, t, "creator", jstr(c, it->artist));
    sr_str note = summary_str(c, it);
    jset(c, t, "annotation", c->ok ? jstr(c, note) : NULL);
    json_t *body = json_object(), *ext = json_object();
    jset(c, body, "id", json_integer(it->id));
    jpick(c, body, it);
    jset(c, ext, SR_EXPORT_EXT_URI, body);
    jset(c, t, "extension", ext);
    return t;
}

static void write_jspf(wctx *c, const sr_export_item *items, size_t n) {
    const sr_export_meta *m = c->meta;
    json_t *root = json_object(), *pl = json_object(), *tracks = json_array();
    if (m->title) jset(c, pl, "title", jcstr(c, m->title));
    if (m->creator) jset(c, pl, "creator", jcstr(c, m->creator));
    if (m->annotation) jset(c, pl, "annotation", jcstr(c, m->annotation));
    if (m->date) jset(c, pl, "date", jdate(m->date));
    for (size_t i = 0; tracks && c->ok && i < n; i++) jpush(c, tracks, jspf_track(c, &items[i]));
    jset(c, pl, "track", tracks);
    jset(c, root, "playlist", pl);
    dump_json(c, root);
}

/* ---- XSPF -------------------------------------------------------------------------- */

/* indent<name>text</name>\n */
static void xml_elem(sr_buf *b, const char *indent, const char *name, sr_str text) {
    sr_buf_printf(b, "%s<%s>", indent, name);
    put_text(b, text, TEXT_XML);
    sr_buf_printf(b, "</%s>\n", name);
}

static void xspf_because(sr_buf *b, const sr_export_because *w) {
    sr_buf_adds(b, "        <songrec:because artist=\"");
    put_text(b, w->artist, TEXT_XML);
    sr_buf_adds(b, "\" track=\"");
    put_text(b, w->track, TEXT_XML);
    sr_buf_printf(b, "\" weight=\"%.3f\"/>\n", round3(w->weight));
}

static void xspf_track(wctx *c, const sr_export_item *it) {
    sr_buf *b = c->out;
    sr_buf_adds(b, "    <track>\n");
    if (it->mbid) {
        char id[37];
        mbid_text(it->mbid, id);
        sr_buf_printf(b, "      <identifier>%s%s</identifier>\n", SR_EXPORT_MB_RECORDING, id);
    }
    xml_elem(b, "      ", "title", it->track);
    if (it->artist.n) xml_elem(b, "      ", "creator", it->artist);
    xml_elem(b, "      ", "annotation", summary_str(c, it));
    sr_buf_adds(b, "      <extension application=\"" SR_EXPORT_EXT_URI "\">\n");
    sr_buf_printf(b, "        <songrec:id>%u</songrec:id>\n", (unsigned)it->id);
    sr_buf_printf(b, "        <songrec:score>%.3f</songrec:score>\n", round3(it->score));
    sr_buf_printf(b, "        <songrec:support>%.3f</songrec:support>\n", round3(it->support));
    sr_buf_printf(b, "        <songrec:weak>%s</songrec:weak>\n", it->weak ? "true" : "false");
    for (size_t k = 0; k < it->n_because; k++) xspf_because(b, &it->because[k]);
    sr_buf_adds(b, "      </extension>\n    </track>\n");
}

static void write_xspf(wctx *c, const sr_export_item *items, size_t n) {
    const sr_export_meta *m = c->meta;
    sr_buf *b = c->out;
    sr_buf_adds(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\" "
                   "xmlns:songrec=\"" SR_EXPORT_EXT_URI "\">\n");
    if (m->title) xml_elem(b, "  ", "title", sr_str_c(m->title));
    if (m->creator) xml_elem(b, "  ", "creator", sr_str_c(m->creator));
    if (m->annotation) xml_elem(b, "  ", "annotation", sr_str_c(m->annotation));
    if (m->date) {
        char date[DATE_CAP];
        iso_date(m->date, date);
        xml_elem(b, "  ", "date", sr_str_c(date));
    }
    sr_buf_adds(b, "  <trackList>\n");
    for (size_t i = 0; i < n && sr_buf_ok(b); i++) xspf_track(c, &items[i]);
    sr_buf_adds(b, "  </trackList>\n</playlist>\n");
}

/* ---- CSV --------------------------------------------------------------------------- */

/* One RFC 4180 field: quoted when it holds , " CR or LF; an apostrophe before a leading
 * = + - @ tab or CR, which spreadsheets would read as the start of a formula. */
static void csv_field(sr_buf *b, sr_str s) {
    bool quote = false;
    for (size_t i = 0; i < s.n && !quote; i++)
        quote = s.p[i] == ',' || s.p[i] == '"' || s.p[i] == '\r' || s.p[i] == '\n';
    if (quote) sr_buf_addc(b, '"');
    if (s.n && memchr("=+-@\t\r", s.p[0], 6)) sr_buf_addc(b, '\'');
    put_text(b, s, quote ? TEXT_CSV_QUOTED : TEXT_XMLCHARS);
    if (quote) sr_buf_addc(b, '"');
}

static void csv_row(wctx *c, const sr_export_item *it, size_t rank) {
    sr_buf *b = c->out;
    sr_buf_printf(b, "%zu,", rank);
    csv_field(b, it->artist);
    sr_buf_addc(b, ',');
    csv_field(b, it->track);
    sr_buf_printf(b, ",%.3f,%.3f,%s,", round3(it->score), round3(it->support),
                  it->weak ? "true" : "false");
    if (it->mbid) {
        char id[37];
        mbid_text(it->mbid, id);
        sr_buf_adds(b, id);
    }
    sr_buf_addc(b, ',');
    csv_field(b, because_str(c, it));
    sr_buf_adds(b, "\r\n");
}

static void write_csv(wctx *c, const sr_export_item *items, size_t n) {
    sr_buf_adds(c->out, "rank,artist,track,score,support,weak,mbid,because\r\n");
    for (size_t i = 0; i < n && c->ok && sr_buf_ok(c->out); i++) csv_row(c, &items[i], i + 1);
}

/* ---- formats and the entry point ---------------------------------------------------- */

typedef void (*writer_fn)(wctx *c, const sr_export_item *items, size_t n);

static const struct format_def {
    const char *name, *content_type;
    writer_fn write;
} formats[SR_EXPORT__COUNT] = {
    [SR_EXPORT_JSON] = {"json", "application/json; charset=utf-8", write_json},
    [SR_EXPORT_CSV] = {"csv", "text/csv; charset=utf-8", write_csv},
    [SR_EXPORT_JSPF] = {"jspf", "application/jspf+json", write_jspf},
    [SR_EXPORT_XSPF] = {"xspf", "application/xspf+xml; charset=utf-8", write_xspf},
};

bool sr_export_format_parse(const char *name, sr_export_format *out) {
    for (int f = 0; name && f < SR_EXPORT__COUNT; f++) {
        if (!strcasecmp(name, formats[f].name)) {
            *out = (sr_export_format)f;
            return true;
        }
    }
    return false;
}

const char *sr_export_content_type(sr_export_format f) {
    return (unsigned)f < SR_EXPORT__COUNT ? formats[f].content_type : NULL;
}

const char *sr_export_extension(sr_export_format f) {
    return (unsigned)f < SR_EXPORT__COUNT ? formats[f].name : NULL;
}

static bool str_ok(sr_str s) {
    return s.p || !s.n;
}

static sr_err check_item(const sr_export_item *it, size_t rank, sr_diag *d) {
    if (!str_ok(it->artist) || !str_ok(it->track) || (it->n_because && !it->because))
        return sr_diag_set(d, SR_E_USAGE, "export: item %zu: NULL data with a length", rank);
    if (!isfinite(it->score) || !isfinite(it->support))
        return sr_diag_set(d, SR_E_INTERNAL, "export: item %zu: score or support is not finite",
                           rank);
    for (size_t k = 0; k < it->n_because; k++) {
        const sr_export_because *w = &it->because[k];
        if (!str_ok(w->artist) || !str_ok(w->track))
            return sr_diag_set(d, SR_E_USAGE, "export: item %zu: NULL name with a length", rank);
        if (!isfinite(w->weight))
            return sr_diag_set(d, SR_E_INTERNAL, "export: item %zu: weight %zu is not finite", rank,
                               k + 1);
    }
    return SR_OK;
}

static sr_err check_input(sr_export_format f, const sr_export_meta *m, const sr_export_item *items,
                          size_t n, const sr_buf *out, sr_diag *d) {
    if ((unsigned)f >= SR_EXPORT__COUNT)
        return sr_diag_set(d, SR_E_USAGE, "export: unknown format %d", (int)f);
    if (!out || (n && !items))
        return sr_diag_set(d, SR_E_USAGE, "export: no %s", out ? "items" : "output buffer");
    if (m->date < DATE_MIN || m->date > DATE_MAX || (int64_t)(time_t)m->date != m->date)
        return sr_diag_set(d, SR_E_USAGE, "export: date %lld is outside years 1..9999",
                           (long long)m->date);
    for (size_t i = 0; i < n; i++) {
        sr_err e = check_item(&items[i], i + 1, d);
        if (e) return e;
    }
    if (!sr_buf_ok(out)) return sr_diag_set(d, SR_E_NOMEM, "export: the output buffer failed");
    return SR_OK;
}

sr_err sr_export_write(sr_export_format f, const sr_export_meta *meta, const sr_export_item *items,
                       size_t n, sr_buf *out, sr_diag *d) {
    static const sr_export_meta none = {NULL, NULL, NULL, 0};
    if (!meta) meta = &none;
    sr_err e = check_input(f, meta, items, n, out, d);
    if (e) return e;
    size_t start = out->n;
    wctx c = {meta, out, SR_BUF_INIT, SR_BUF_INIT, true};
    formats[f].write(&c, items, n);
    sr_buf_free(&c.raw);
    sr_buf_free(&c.clean);
    if (c.ok && sr_buf_ok(out)) return SR_OK;
    out->n = start;
    out->failed = false;
    if (out->p) out->p[start] = 0;
    return sr_diag_set(d, SR_E_NOMEM, "export: out of memory writing %s", formats[f].name);
}
