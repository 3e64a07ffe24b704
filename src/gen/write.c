/* Writing generated listens: JSONL / CSV / 3-column CSV, plain or zstd (generate.h).
 *
 * Speed comes from never formatting a song twice for a user: before a user's listens
 * are written, every (user, song) pair is rendered once into a fragment (everything
 * after the timestamp: ids, escaped names, MBIDs) in a per-user arena; a line is then
 * a constant user prefix, the timestamp digits and a memcpy of the fragment into a
 * 2 MiB buffer. No printf in the loop. The buffer goes to write(2) or through a zstd
 * stream (two worker threads, so compression overlaps generation; the output is the
 * same on every run).
 *
 * Identifiers are UUIDs built from hashes of (seed, kind, id): recording_msid and the
 * other msids also depend on the spelling variant, as ListenBrainz's do; ~70% of
 * recordings, ~80% of artists and ~60% of releases have MBIDs. About 1% of pairs spell
 * the artist differently (lowercase, uppercase or a doubled inner space) for the
 * ingest normaliser to merge.
 *
 * sr_gen_write_file goes through io/atomic.h (PATH.tmp.XXXXXX next to PATH, fsync,
 * rename); on failure the temporary file is removed and PATH is untouched.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "gen/gen_impl.h"
#include "gen/gen_state.h"
#include "io/atomic.h"
#include "util/mem.h"
#include "util/timeparse.h"

#define BUF_SIZE     (2u << 20)
#define LINE_EXTRA   256  /* prefix + timestamp bound, beyond the fragment */
#define FRAG_RESERVE 8192 /* bound on one fragment: 3 names x 6 x 256 bytes + ids */

/* Hash purposes (mixed into g->h_ids). */
enum { K_VARIANT = 1, K_REC_MSID, K_ART_MSID, K_REL_MSID, K_ART_MBID, K_REC_MBID, K_REL, K_DUR };

/* ---- output sink ---- */

typedef struct sink {
    int fd;
    sr_afile *af; /* when set, bytes go here instead of fd */
    const char *name;
    sr_diag *d;
    ZSTD_CCtx *z;
    char *zbuf;
    size_t zcap;
    char *buf;
    size_t len;
    uint64_t bytes;
} sink;

static sr_err write_all(sink *k, const char *p, size_t n) {
    if (k->af) {
        if (sr_afile_write(k->af, p, n)) {
            int en = k->af->saved_errno ? k->af->saved_errno : EIO;
            return sr_diag_set(k->d, k->af->err, "%s: write failed: %s", k->name, strerror(en));
        }
        k->bytes += n;
        return SR_OK;
    }
    while (n) {
        ssize_t w = write(k->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            int en = errno;
            return sr_diag_set(k->d, sr_err_from_errno(en), "%s: write failed: %s", k->name,
                               strerror(en));
        }
        p += w;
        n -= (size_t)w;
        k->bytes += (uint64_t)w;
    }
    return SR_OK;
}

static sr_err sink_flush(sink *k, int end) {
    sr_err e = SR_OK;
    if (!k->z) {
        e = write_all(k, k->buf, k->len);
        k->len = 0;
        return e;
    }
    ZSTD_inBuffer in = {k->buf, k->len, 0};
    for (;;) {
        ZSTD_outBuffer out = {k->zbuf, k->zcap, 0};
        size_t rem = ZSTD_compressStream2(k->z, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(rem))
            return sr_diag_set(k->d, SR_E_INTERNAL, "%s: zstd: %s", k->name,
                               ZSTD_getErrorName(rem));
        if ((e = write_all(k, k->zbuf, out.pos))) return e;
        if (end ? rem == 0 : in.pos == in.size) break;
    }
    k->len = 0;
    return SR_OK;
}

/* ---- formatting primitives (each returns the new end) ---- */

static char *put_mem(char *o, const void *s, size_t n) {
    memcpy(o, s, n);
    return o + n;
}

#define PUT_LIT(o, lit) put_mem((o), (lit), sizeof(lit) - 1)

static char *put_u64(char *o, uint64_t v) {
    char tmp[20];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    while (n) *o++ = tmp[--n];
    return o;
}

/* v in decimal, two digits a step (a timestamp per line: this is the hot one). */
static char *put_u32(char *o, uint32_t v) {
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
                                "31323334353637383940414243444546474849505152535455565758596061"
                                "6263646566676869707172737475767778798081828384858687888990919293"
                                "949596979899";
    char tmp[10];
    int n = 10;
    for (; v >= 100; v /= 100) memcpy(tmp + (n -= 2), pairs + 2 * (v % 100), 2);
    if (v >= 10)
        memcpy(tmp + (n -= 2), pairs + 2 * v, 2);
    else
        tmp[--n] = (char)('0' + v);
    return put_mem(o, tmp + n, (size_t)(10 - n));
}

static char *put_2d(char *o, unsigned v) {
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
    return o + 2;
}

static const char hexd[] = "0123456789abcdef";

static char *put_hex(char *o, uint64_t v, int digits) {
    for (int i = digits - 1; i >= 0; i--) o[digits - 1 - i] = hexd[(v >> (4 * i)) & 15];
    return o + digits;
}

/* A version-4-shaped UUID from 128 hashed bits. */
static char *put_uuid(char *o, uint64_t key) {
    uint64_t a = sr_hash2(key, 1), b = sr_hash2(key, 2);
    a = (a & ~(uint64_t)0xf000) | 0x4000;
    b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    o = put_hex(o, a >> 32, 8);
    *o++ = '-';
    o = put_hex(o, (a >> 16) & 0xffff, 4);
    *o++ = '-';
    o = put_hex(o, a & 0xffff, 4);
    *o++ = '-';
    o = put_hex(o, b >> 48, 4);
    *o++ = '-';
    return put_hex(o, b & 0xffffffffffffULL, 12);
}

/* s as a JSON string literal. UTF-8 passes through; needs 6n + 2 bytes. */
static char *put_json_str(char *o, const char *s, size_t n) {
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c == '\n') {
            o = PUT_LIT(o, "\\n");
        } else if (c == '\t') {
            o = PUT_LIT(o, "\\t");
        } else {
            o = PUT_LIT(o, "\\u00");
            *o++ = hexd[c >> 4];
            *o++ = hexd[c & 15];
        }
    }
    *o++ = '"';
    return o;
}

/* s as an RFC 4180 field: quoted (quotes doubled) only when it holds , " CR or LF.
 * Needs 2n + 2 bytes. */
static char *put_csv_field(char *o, const char *s, size_t n) {
    int quote = 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) return put_mem(o, s, n);
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') *o++ = '"';
        *o++ = s[i];
    }
    *o++ = '"';
    return o;
}

/* ---- one pair's fragment ---- */

typedef struct song_info {
    const char *artist, *track;
    size_t artist_len, track_len;
    char artist_buf[SR__NAME_MAX], release[SR__NAME_MAX];
    size_t release_len;
    uint32_t artist_id, release_key;
    int variant;
    int has_artist_mbid, has_release_mbid, has_rec_mbid, has_duration;
    uint64_t duration_ms;
} song_info;

static uint64_t idkey(const sr_gen *g, int kind, uint64_t id) {
    return sr_hash2(g->h_ids + (uint64_t)kind, id);
}

static void describe(const sr_gen *g, uint32_t user, uint32_t s, song_info *si) {
    uint32_t a = g->song[s].artist;
    si->artist_id = a;
    si->artist = sr_gen_artist_name(g, a, &si->artist_len);
    si->track = sr_gen_track_name(g, s, &si->track_len);

    uint64_t hv = idkey(g, K_VARIANT, ((uint64_t)user << 32) | s);
    si->variant = hv % 1000 < 10 ? 1 + (int)((hv >> 32) % 3) : 0;
    if (si->variant) {
        memcpy(si->artist_buf, si->artist, si->artist_len + 1);
        char *sp = si->variant == 2 ? memchr(si->artist_buf, ' ', si->artist_len) : NULL;
        if (sp) { /* a doubled inner space */
            size_t at = (size_t)(sp - si->artist_buf);
            memmove(sp + 1, sp, si->artist_len - at + 1);
            si->artist_len++;
        } else if (si->variant == 3) {
            sr__name_upper(si->artist_buf, si->artist_len);
        } else {
            si->variant = 1;
            sr__name_lower(si->artist_buf, si->artist_len);
        }
        si->artist = si->artist_buf;
    }

    uint32_t lo = g->artist[a].song_start, album = g->artist[a].album;
    si->release_key = lo + (s - lo) / album * album;
    uint64_t hr = idkey(g, K_REL, si->release_key);
    if (album == 1 || hr % 10 < 3) { /* a single, or named after its title track */
        size_t n;
        const char *t = sr_gen_track_name(g, si->release_key, &n);
        memcpy(si->release, t, n + 1);
        si->release_len = n;
    } else {
        si->release_len = sr__name_release(hr, g->artist[a].lang, si->release);
    }

    uint64_t ha = idkey(g, K_ART_MBID, a), hs = idkey(g, K_REC_MBID, s);
    si->has_artist_mbid = ha % 100 < 80;
    si->has_release_mbid = si->has_artist_mbid && (hr >> 32) % 100 < 75;
    si->has_rec_mbid = hs % 100 < (si->has_artist_mbid ? 80u : 30u);
    uint64_t hd = idkey(g, K_DUR, s);
    si->has_duration = hd % 100 < 92;
    /* Lognormal around 3:45 from the hash's bits (Irwin-Hall normal). */
    double z = ((double)((hd >> 16) & 0xffff) + (double)((hd >> 32) & 0xffff) + (double)(hd >> 48) +
                (double)((hd >> 8) & 0xff) * 256.0) /
                   65536.0 -
               2.0;
    double ms = 225000.0 * exp(0.35 * 1.7320508075688772 * z);
    ms = ms < 30000 ? 30000 : ms > 1200000 ? 1200000 : ms;
    si->duration_ms = (uint64_t)ms;
}

static char *frag_jsonl(const sr_gen *g, const song_info *si, uint32_t s, char *o) {
    o = PUT_LIT(o, ",\"recording_msid\":\"");
    o = put_uuid(o, idkey(g, K_REC_MSID, (uint64_t)s * 4 + (uint64_t)si->variant));
    o = PUT_LIT(o, "\",\"track_metadata\":{\"artist_name\":");
    o = put_json_str(o, si->artist, si->artist_len);
    o = PUT_LIT(o, ",\"track_name\":");
    o = put_json_str(o, si->track, si->track_len);
    o = PUT_LIT(o, ",\"release_name\":");
    o = put_json_str(o, si->release, si->release_len);
    o = PUT_LIT(o, ",\"additional_info\":{");
    char *start = o;
    if (si->has_artist_mbid) {
        o = PUT_LIT(o, "\"artist_mbids\":[\"");
        o = put_uuid(o, idkey(g, K_ART_MBID, si->artist_id) ^ 0x5a);
        o = PUT_LIT(o, "\"]");
    }
    if (si->has_release_mbid) {
        if (o != start) *o++ = ',';
        o = PUT_LIT(o, "\"release_mbid\":\"");
        o = put_uuid(o, idkey(g, K_REL, si->release_key) ^ 0x5a);
        *o++ = '"';
    }
    if (si->has_rec_mbid) {
        if (o != start) *o++ = ',';
        o = PUT_LIT(o, "\"recording_mbid\":\"");
        o = put_uuid(o, idkey(g, K_REC_MBID, s) ^ 0x5a);
        *o++ = '"';
    }
    if (si->has_duration) {
        if (o != start) *o++ = ',';
        o = PUT_LIT(o, "\"duration_ms\":");
        o = put_u64(o, si->duration_ms);
    }
    return PUT_LIT(o, "}}}\n");
}

static char *frag_csv(const sr_gen *g, const song_info *si, uint32_t s, char *o) {
    *o++ = ',';
    o = put_uuid(o, idkey(g, K_ART_MSID, (uint64_t)si->artist_id * 4 + (uint64_t)si->variant));
    *o++ = ',';
    o = put_csv_field(o, si->artist, si->artist_len);
    *o++ = ',';
    if (si->has_artist_mbid) o = put_uuid(o, idkey(g, K_ART_MBID, si->artist_id) ^ 0x5a);
    *o++ = ',';
    o = put_uuid(o, idkey(g, K_REL_MSID, (uint64_t)si->release_key * 4 + (uint64_t)si->variant));
    *o++ = ',';
    o = put_csv_field(o, si->release, si->release_len);
    *o++ = ',';
    if (si->has_release_mbid) o = put_uuid(o, idkey(g, K_REL, si->release_key) ^ 0x5a);
    *o++ = ',';
    o = put_uuid(o, idkey(g, K_REC_MSID, (uint64_t)s * 4 + (uint64_t)si->variant));
    *o++ = ',';
    o = put_csv_field(o, si->track, si->track_len);
    *o++ = ',';
    if (si->has_rec_mbid) o = put_uuid(o, idkey(g, K_REC_MBID, s) ^ 0x5a);
    return PUT_LIT(o, ",\n"); /* tags: empty */
}

static char *frag_csv3(const song_info *si, char *o) {
    *o++ = ',';
    o = put_csv_field(o, si->artist, si->artist_len);
    *o++ = ',';
    o = put_csv_field(o, si->track, si->track_len);
    *o++ = '\n';
    return o;
}

/* ---- the writer ---- */

typedef struct frags {
    char *p;
    size_t cap;
    size_t *off; /* (n + 1) */
    size_t off_cap;
    size_t max_len;
} frags;

static sr_err render_user(const sr_gen *g, const sr_gen_user *h, sr_gen_format fmt, frags *f) {
    if (sr_grow((void **)&f->off, &f->off_cap, (size_t)h->n_pairs + 1, sizeof *f->off))
        return SR_E_NOMEM;
    size_t len = 0;
    f->max_len = 0;
    song_info si;
    for (uint32_t i = 0; i < h->n_pairs; i++) {
        if (sr_grow((void **)&f->p, &f->cap, len + FRAG_RESERVE, 1)) return SR_E_NOMEM;
        /* Catalog reads are cache misses at millions of songs: fetch ahead. */
        if (i + 8 < h->n_pairs) __builtin_prefetch(&g->song[h->song[i + 8]]);
        if (i + 4 < h->n_pairs) {
            const sr__gen_song *ahead = &g->song[h->song[i + 4]];
            __builtin_prefetch(g->track_names + ahead->name_off);
            __builtin_prefetch(&g->artist[ahead->artist]);
        }
        if (i + 2 < h->n_pairs) {
            const sr__gen_song *ahead = &g->song[h->song[i + 2]];
            __builtin_prefetch(g->artist_names + g->artist[ahead->artist].name_off);
        }
        uint32_t s = h->song[i];
        describe(g, h->user, s, &si);
        char *o = f->p + len;
        char *end = fmt == SR_GEN_JSONL ? frag_jsonl(g, &si, s, o)
                    : fmt == SR_GEN_CSV ? frag_csv(g, &si, s, o)
                                        : frag_csv3(&si, o);
        f->off[i] = len;
        size_t n = (size_t)(end - o);
        if (n > f->max_len) f->max_len = n;
        len += n;
    }
    f->off[h->n_pairs] = len;
    return SR_OK;
}

static sr_err write_user(sink *k, const sr_gen_user *h, sr_gen_format fmt, const frags *f,
                         const sr_log *log, uint64_t *done, uint64_t total) {
    /* The constant part of the user's lines. */
    char name[32], prefix[128];
    char *o = PUT_LIT(name, "user_");
    char digits[24];
    size_t nd = (size_t)(put_u64(digits, (uint64_t)h->user + 1) - digits);
    for (size_t i = nd; i < 6; i++) *o++ = '0';
    o = put_mem(o, digits, nd);
    size_t name_len = (size_t)(o - name);
    char *p = prefix;
    if (fmt == SR_GEN_JSONL) {
        p = PUT_LIT(p, "{\"user_id\":");
        p = put_mem(p, digits, nd);
        p = PUT_LIT(p, ",\"user_name\":\"");
        p = put_mem(p, name, name_len);
        p = PUT_LIT(p, "\",\"timestamp\":");
    } else {
        if (fmt == SR_GEN_CSV) *p++ = ',';
        p = put_mem(p, name, name_len);
    }
    size_t prefix_len = (size_t)(p - prefix);
    size_t need = f->max_len + LINE_EXTRA;

    int64_t cached_day = -1;
    char day[16]; /* "YYYY-MM-DD " */
    sr_err e;
    for (uint64_t i = 0; i < h->n_listens; i++) {
        if (BUF_SIZE - k->len < need) {
            if ((e = sink_flush(k, 0))) return e;
            sr_progress(log, "generate", *done + i, total);
        }
        uint64_t key = h->listens[i];
        uint64_t ts = key >> 32;
        const char *frag = f->p + f->off[(uint32_t)key];
        size_t frag_len = f->off[(uint32_t)key + 1] - f->off[(uint32_t)key];
        char *w = k->buf + k->len;
        if (fmt == SR_GEN_JSONL) {
            w = put_mem(w, prefix, prefix_len);
            w = put_u32(w, (uint32_t)ts);
        } else if (fmt == SR_GEN_CSV) {
            int64_t dnum = (int64_t)(ts / 86400);
            if (dnum != cached_day) {
                int64_t y;
                unsigned m, d;
                sr_civil_from_days(dnum, &y, &m, &d);
                char *q = put_u64(day, (uint64_t)y);
                *q++ = '-';
                q = put_2d(q, m);
                *q++ = '-';
                q = put_2d(q, d);
                *q = ' ';
                cached_day = dnum;
            }
            unsigned sec = (unsigned)(ts % 86400);
            w = put_mem(w, day, 11);
            w = put_2d(w, sec / 3600);
            *w++ = ':';
            w = put_2d(w, sec / 60 % 60);
            *w++ = ':';
            w = put_2d(w, sec % 60);
            w = PUT_LIT(w, " UTC");
            w = put_mem(w, prefix, prefix_len);
        } else {
            w = put_mem(w, prefix, prefix_len);
        }
        w = put_mem(w, frag, frag_len);
        k->len = (size_t)(w - k->buf);
    }
    *done += h->n_listens;
    sr_progress(log, "generate", *done, total);
    return SR_OK;
}

static const char csv_header[] = "listened_at,user_name,artist_msid,artist_name,artist_mbids,"
                                 "release_msid,release_name,release_mbid,recording_msid,"
                                 "track_name,recording_mbid,tags\n";
static const char csv3_header[] = "user_name,artist_name,track_name\n";

/* Writes the whole stream to fd, or through af when it is not NULL. */
static sr_err write_stream(sr_gen *g, int fd, sr_afile *af, const char *name,
                           const sr_gen_output *o, const sr_log *log, sr_diag *d) {
    sink k = {.fd = fd, .af = af, .name = name ? name : "output", .d = d};
    frags f = {0};
    sr_err e = SR_E_NOMEM;
    sr_gen_rewind(g);
    g->st.bytes = 0;
    k.buf = sr_malloc(BUF_SIZE);
    if (!k.buf) goto done;
    if (o->zstd) {
        k.z = ZSTD_createCCtx();
        k.zcap = ZSTD_CStreamOutSize();
        k.zbuf = sr_malloc(k.zcap);
        if (!k.z || !k.zbuf) goto done;
        ZSTD_CCtx_setParameter(k.z, ZSTD_c_compressionLevel, o->zstd_level ? o->zstd_level : 3);
        ZSTD_CCtx_setParameter(k.z, ZSTD_c_checksumFlag, 1);
        /* Two workers let compression overlap generation; fails harmlessly without
         * threading support in libzstd (then compression is inline). */
        ZSTD_CCtx_setParameter(k.z, ZSTD_c_nbWorkers, 2);
    }
    if (o->format == SR_GEN_CSV)
        k.len = (size_t)(put_mem(k.buf, csv_header, sizeof csv_header - 1) - k.buf);
    if (o->format == SR_GEN_CSV3)
        k.len = (size_t)(put_mem(k.buf, csv3_header, sizeof csv3_header - 1) - k.buf);

    uint64_t done = 0, total = g->p.n_listens;
    sr_gen_user h;
    while ((e = sr_gen_next(g, &h)) == SR_OK) {
        if ((e = render_user(g, &h, o->format, &f))) goto done;
        if ((e = write_user(&k, &h, o->format, &f, log, &done, total))) goto done;
    }
    if (e != SR_E_EMPTY) goto done;
    if ((e = sink_flush(&k, 1))) goto done;
    e = SR_OK;
done:
    if (e == SR_E_NOMEM) sr_diag_set(d, e, "%s: out of memory", k.name);
    g->st.bytes = k.bytes;
    ZSTD_freeCCtx(k.z);
    sr_free(k.zbuf);
    sr_free(k.buf);
    sr_free(f.p);
    sr_free(f.off);
    return e;
}

sr_err sr_gen_write_fd(sr_gen *g, int fd, const char *name, const sr_gen_output *o,
                       const sr_log *log, sr_diag *d) {
    return write_stream(g, fd, NULL, name, o, log, d);
}

sr_err sr_gen_write_file(sr_gen *g, const char *path, const sr_gen_output *o, const sr_log *log,
                         sr_diag *d) {
    if (!strcmp(path, "-")) return sr_gen_write_fd(g, STDOUT_FILENO, "standard output", o, log, d);
    sr_afile f;
    sr_err e = sr_afile_open(&f, path, d);
    if (e) return e;
    if ((e = write_stream(g, -1, &f, path, o, log, d))) {
        sr_afile_abort(&f);
        return e;
    }
    return sr_afile_commit(&f, d);
}
