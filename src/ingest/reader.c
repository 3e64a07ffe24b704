/* Central validation of records, skip/fix accounting and the format registry
 * (reader.h).
 *
 * Every reader's records pass through sr_reader_emit, so the rules of section 7 of
 * listen-formats.md are enforced once: names trimmed (ASCII whitespace and U+00A0),
 * required and non-empty, valid UTF-8, no control characters, cut to 1024 bytes at a
 * character boundary; timestamps > 0, not before 2002-10-01 for play events, not more
 * than a day in the future; play counts > 0 and ratings finite; MBIDs of UUID syntax.
 */
#include "ingest/reader.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const skip_words[] = {
#define X(name, words) words,
#include "ingest/skips.def"
#undef X
};
static const char *const skip_names[] = {
#define X(name, words) #name,
#include "ingest/skips.def"
#undef X
};
static const char *const fix_words[] = {
#define X(name, words) words,
#include "ingest/fixes.def"
#undef X
};
static const char *const fix_names[] = {
#define X(name, words) #name,
#include "ingest/fixes.def"
#undef X
};

static const char *lower_name(const char *const *tab, int i, char *buf, size_t n) {
    size_t k = 0;
    for (const char *p = tab[i]; *p && k + 1 < n; p++)
        buf[k++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p;
    buf[k] = 0;
    return buf;
}

const char *sr_skip_words(sr_skip s) {
    return (unsigned)s < SR_SKIP__COUNT ? skip_words[s] : "unknown";
}

const char *sr_skip_name(sr_skip s) {
    static _Thread_local char buf[64];
    return (unsigned)s < SR_SKIP__COUNT ? lower_name(skip_names, s, buf, sizeof buf) : "unknown";
}

const char *sr_fix_words(sr_fix f) {
    return (unsigned)f < SR_FIX__COUNT ? fix_words[f] : "unknown";
}

const char *sr_fix_name(sr_fix f) {
    static _Thread_local char buf[64];
    return (unsigned)f < SR_FIX__COUNT ? lower_name(fix_names, f, buf, sizeof buf) : "unknown";
}

/* 1 for ASCII hex digits. */
static const uint8_t is_hex[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1};

bool sr_is_uuid(sr_str s) {
    if (s.n != 36 || s.p[8] != '-' || s.p[13] != '-' || s.p[18] != '-' || s.p[23] != '-')
        return false;
    unsigned ok = 1;
    for (size_t i = 0; i < 36; i++)
        ok &= is_hex[(unsigned char)s.p[i]] | (i == 8 || i == 13 || i == 18 || i == 23);
    return ok != 0;
}

/* Trims ASCII whitespace and U+00A0 (C2 A0) at both ends. */
static sr_str trim_name(sr_str s, bool *changed) {
    size_t n0 = s.n;
    for (;;) {
        if (s.n && (s.p[0] == ' ' || s.p[0] == '\t' || s.p[0] == '\r' || s.p[0] == '\n'))
            s.p++, s.n--;
        else if (s.n >= 2 && (unsigned char)s.p[0] == 0xC2 && (unsigned char)s.p[1] == 0xA0)
            s.p += 2, s.n -= 2;
        else
            break;
    }
    for (;;) {
        if (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t' || s.p[s.n - 1] == '\r' ||
                    s.p[s.n - 1] == '\n'))
            s.n--;
        else if (s.n >= 2 && (unsigned char)s.p[s.n - 2] == 0xC2 &&
                 (unsigned char)s.p[s.n - 1] == 0xA0)
            s.n -= 2;
        else
            break;
    }
    if (s.n != n0) *changed = true;
    return s;
}

enum { F_HIGH = 1, F_CONTROL = 2 };

/* One pass over a name: F_HIGH when it has bytes >= 0x80 (so UTF-8 must be checked),
 * F_CONTROL when it has a C0 control other than tab, or DEL. Eight bytes at a time. */
static int scan_name(sr_str s) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    int flags = 0;
    size_t i = 0;
    for (; i + 8 <= s.n; i += 8) {
        uint64_t w;
        memcpy(&w, s.p + i, 8);
        if (w & highs) flags |= F_HIGH;
        uint64_t lo = (w - ones * 0x20) & ~w & highs; /* some byte < 0x20 (or >= 0x80) */
        uint64_t del = ((w ^ (ones * 0x7F)) - ones) & ~(w ^ (ones * 0x7F)) & highs;
        if ((lo | del) & ~(w & highs)) {
            for (size_t k = i; k < i + 8; k++) {
                unsigned char c = (unsigned char)s.p[k];
                if ((c < 0x20 && c != '\t') || c == 0x7F) flags |= F_CONTROL;
            }
        }
    }
    for (; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c >= 0x80)
            flags |= F_HIGH;
        else if ((c < 0x20 && c != '\t') || c == 0x7F)
            flags |= F_CONTROL;
    }
    return flags;
}

/* Cuts s to at most SR_MAX_FIELD bytes without splitting a UTF-8 sequence. */
static sr_str cap_field(sr_str s, bool *cut) {
    if (s.n <= SR_MAX_FIELD) return s;
    size_t n = SR_MAX_FIELD;
    while (n > 0 && ((unsigned char)s.p[n] & 0xC0) == 0x80) n--;
    *cut = true;
    return (sr_str){s.p, n};
}

void sr_reader_init(sr_reader *r, const sr_format *f, sr_stream *in, const sr_read_opts *o,
                    sr_read_stats *st, sr_accept_fn accept, void *accept_user, sr_diag *d) {
    memset(r, 0, sizeof *r);
    r->in = in;
    r->opts = o;
    r->format = f;
    r->stats = st;
    r->accept = accept;
    r->accept_user = accept_user;
    r->diag = d;
}

static void tick(sr_reader *r) {
    if (r->tick && (r->member_records & 0xFFFF) == 0) r->tick(r);
}

/* A skipped record (already counted as read when it came through emit). */
static sr_err skip(sr_reader *r, sr_skip why, uint64_t line, const char *detail) {
    sr_read_stats *st = r->stats;
    st->skipped[why]++;
    st->skipped_total++;
    r->member_skipped++;
    const sr_read_opts *o = r->opts;
    unsigned first = o && o->report_first ? o->report_first : 10;
    if (st->reported < first && o && o->log) {
        st->reported++;
        sr_logf(o->log, SR_LOG_WARN, "%s:%" PRIu64 ": %s%s%s", r->label ? r->label : "input", line,
                skip_words[why], detail ? ": " : "", detail ? detail : "");
    }
    if (o && o->strict) {
        r->stop = true;
        return sr_diag_set(r->diag, SR_E_INPUT, "%s:%" PRIu64 ": %s%s%s (--strict)",
                           r->label ? r->label : "input", line, skip_words[why], detail ? ": " : "",
                           detail ? detail : "");
    }
    if (o && o->max_errors && st->skipped_total > o->max_errors) {
        r->stop = true;
        return sr_diag_set(r->diag, SR_E_TOO_MANY_ERRORS,
                           "more than %" PRIu64 " bad records (--max-errors); last at %s:%" PRIu64
                           ": %s",
                           o->max_errors, r->label ? r->label : "input", line, skip_words[why]);
    }
    return SR_OK;
}

/* A record its reader could not make into a listen: read, and skipped. */
sr_err sr_reader_skip(sr_reader *r, sr_skip why, uint64_t line, const char *detail) {
    r->stats->records++;
    r->member_records++;
    return skip(r, why, line, detail);
}

void sr_reader_fixed(sr_reader *r, sr_fix what) {
    r->stats->fixed[what]++;
}

sr_err sr_reader_emit(sr_reader *r, const sr_listen *in, uint64_t line) {
    sr_listen l = *in;
    r->stats->records++;
    r->member_records++;
    tick(r);
    bool ws = false, cut = false;
    l.user = trim_name(l.user, &ws);
    if (!l.user.n) l.user = r->default_user;
    l.artist = trim_name(l.artist, &ws);
    l.track = trim_name(l.track, &ws);
    l.release = trim_name(l.release, &ws);
    if (!l.user.n) {
        if (r->format && r->format->items_only) return skip(r, SR_SKIP_EMPTY_USER, line, NULL);
        r->stop = true;
        return sr_diag_set(r->diag, SR_E_INPUT,
                           "%s: the records carry no user name and none could be taken from "
                           "the file name; pass --user NAME",
                           r->label ? r->label : "input");
    }
    if (!l.artist.n && !(r->format && r->format->items_only))
        return skip(r, SR_SKIP_EMPTY_ARTIST, line, NULL);
    if (!l.track.n) return skip(r, SR_SKIP_EMPTY_TRACK, line, NULL);
    int fu = scan_name(l.user), fa = scan_name(l.artist), ft = scan_name(l.track),
        fr = scan_name(l.release);
    if (!l.utf8_ok && (((fu & F_HIGH) && !sr_utf8_valid(l.user.p, l.user.n)) ||
                       ((fa & F_HIGH) && !sr_utf8_valid(l.artist.p, l.artist.n)) ||
                       ((ft & F_HIGH) && !sr_utf8_valid(l.track.p, l.track.n)) ||
                       ((fr & F_HIGH) && !sr_utf8_valid(l.release.p, l.release.n))))
        return skip(r, SR_SKIP_INVALID_UTF8, line, NULL);
    if ((fu | fa | ft) & F_CONTROL) return skip(r, SR_SKIP_CONTROL_CHAR, line, NULL);
    if (fr & F_CONTROL) l.release = SR_STR_NULL;
    l.user = cap_field(l.user, &cut);
    l.artist = cap_field(l.artist, &cut);
    l.track = cap_field(l.track, &cut);
    l.release = cap_field(l.release, &cut);
    if (l.ts != SR_TS_NONE) {
        if (!r->now) r->now = r->opts && r->opts->now ? r->opts->now : (int64_t)time(NULL);
        if (l.ts <= 0) return skip(r, SR_SKIP_BAD_TIMESTAMP, line, "zero or negative");
        if (r->format && r->format->listen_times && l.ts < SR_TS_MIN_LISTEN)
            return skip(r, SR_SKIP_OLD_TIMESTAMP, line, NULL);
        if (l.ts > r->now + 86400) return skip(r, SR_SKIP_FUTURE_TIMESTAMP, line, NULL);
    }
    sr_value_kind kind = r->format ? r->format->kind : SR_VALUE_PLAYS;
    if (!isfinite(l.value) || (kind == SR_VALUE_PLAYS && (l.value <= 0 || l.value > 1e9)))
        return skip(r, SR_SKIP_BAD_VALUE, line, NULL);
    const sr_read_opts *o = r->opts;
    if (kind == SR_VALUE_RATINGS && o && o->scale_lo < o->scale_hi &&
        !(l.value >= o->scale_lo && l.value <= o->scale_hi))
        return skip(r, SR_SKIP_BAD_VALUE, line, "outside the --scale");
    if (l.recording_mbid.n && !sr_is_uuid(l.recording_mbid)) {
        l.recording_mbid = SR_STR_NULL;
        sr_reader_fixed(r, SR_FIX_BAD_MBID);
    }
    if (ws) sr_reader_fixed(r, SR_FIX_WHITESPACE);
    if (cut) sr_reader_fixed(r, SR_FIX_LONG_FIELD);
    r->stats->accepted++;
    if (!r->accept) return SR_OK;
    sr_err e = r->accept(r->accept_user, &l, kind);
    if (e) {
        r->stop = true;
        return sr_diag_set(r->diag, e, "%s", sr_err_message(e));
    }
    return SR_OK;
}
