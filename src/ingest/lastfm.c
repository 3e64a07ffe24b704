/* Last.fm-derived text formats (listen-formats.md 2.1, 7):
 *
 * "lastfm-1k": Celma's Last.fm-1K TSV, six tab fields per play: userid, ISO timestamp
 *   (YYYY-MM-DDTHH:MM:SSZ), artist MBID, artist name, track MBID, track name. Split on
 *   tabs only, never quotes (names contain " and '; quote handling is what made pandas
 *   swallow ~52k lines). No header, but redistributed excerpts add one: a first line
 *   whose timestamp field does not parse and holds no digit is skipped once, counted
 *   nowhere. The track MBID goes to recording_mbid (Last.fm's track ids of that era are
 *   MusicBrainz recording ids; emit drops malformed ones); the artist MBID has no slot.
 *
 * "lastfm-csv": the lastfm-to-csv export, four comma fields artist,album,track,date
 *   with date like "05 Mar 2017 13:45" (UTC, minute precision). The exporter strips
 *   commas and quotes from names, so there is no quoting. An older variant starts with
 *   the header artist,album,name,date, skipped by the same content rule (a date field
 *   that does not parse and holds no digit). An empty date is the now-playing row:
 *   BAD_TIMESTAMP. No user inside: the default user (--user, user.json), else the one
 *   the file's name gives, as the exporter names it `<user>.csv` (listen-formats.md
 *   2.3, trap 27): "alice.csv", also as "alice.csv.gz" or an archive member.
 *
 * Both are one memchr per field over the stream's line buffer, nothing allocated; the
 * line loop (BOM, blank and overlong lines) is sr_delim_read_rows.
 */
#include <stdio.h>
#include <string.h>

#include "ingest/delim.h"
#include "ingest/reader.h"
#include "util/timeparse.h"

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* A header-like value: non-empty, not a time, no digit ("timestamp", "date"). */
static bool header_word(sr_str s) {
    int64_t t;
    s = sr_str_trim(s);
    return s.n && !sr_delim_has_digit(s) && !sr_time_parse(s, &t);
}

static sr_err malformed(sr_reader *r, uint64_t no, size_t n, size_t want) {
    char d[64];
    if (n > want)
        snprintf(d, sizeof d, "more than %zu fields", want);
    else
        snprintf(d, sizeof d, "%zu fields, expected %zu", n, want);
    return sr_reader_skip(r, SR_SKIP_MALFORMED_ROW, no, d);
}

static sr_err bad_time(sr_reader *r, uint64_t no, sr_str s) {
    char d[64];
    s = sr_str_trim(s);
    return sr_reader_skip(r, SR_SKIP_BAD_TIMESTAMP, no,
                          s.n ? sr_delim_show(d, sizeof d, s) : "no timestamp");
}

static sr_err row_1k(sr_reader *r, const sr_delim_row *row, void *user) {
    (void)user;
    const sr_str *f = row->f;
    uint64_t no = row->no;
    if (row->first && row->n > 1 && header_word(f[1])) return SR_OK; /* a header */
    if (row->n != 6) return malformed(r, no, row->n, 6);
    int64_t ts;
    if (sr_str_trim(f[0]).n == 0) return sr_reader_skip(r, SR_SKIP_EMPTY_USER, no, NULL);
    if (!sr_time_parse(f[1], &ts)) return bad_time(r, no, f[1]);
    sr_listen l = {
        .user = f[0], .artist = f[3], .track = f[5], .recording_mbid = f[4], .ts = ts, .value = 1};
    return sr_reader_emit(r, &l, no);
}

static sr_err read_1k(sr_reader *r) {
    return sr_delim_read_rows(r, '\t', 6, row_1k, NULL);
}

static sr_err row_csv(sr_reader *r, const sr_delim_row *row, void *user) {
    (void)user;
    const sr_str *f = row->f;
    uint64_t no = row->no;
    if (row->first && row->n > 3 && header_word(f[3])) return SR_OK; /* a header */
    if (row->n != 4) return malformed(r, no, row->n, 4);
    int64_t ts;
    if (!sr_time_parse(f[3], &ts)) return bad_time(r, no, f[3]);
    /* no user: the default user */
    sr_listen l = {.artist = f[0], .track = f[2], .release = f[1], .ts = ts, .value = 1};
    return sr_reader_emit(r, &l, no);
}

/* A Last.fm user name as its sign-up form allows: 2 to 15 ASCII letters, digits, '_'
 * or '-', a letter first. Other names ("my scrobbles (1)") are not taken for one. */
static bool lastfm_user_name(const char *s, size_t n) {
    if (n < 2 || n > 15) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!letter && (i == 0 || !(is_digit(c) || c == '_' || c == '-'))) return false;
    }
    return true;
}

/* The user of a lastfm-to-csv export named "<user>.csv" (the member name has no
 * compression suffix), or empty. */
static sr_str user_from_name(const char *member) {
    const char *b = sr_path_base(member ? member : "");
    size_t n = strlen(b);
    if (n <= 4 || strcmp(b + n - 4, ".csv") || !lastfm_user_name(b, n - 4)) return SR_STR_NULL;
    return (sr_str){b, n - 4};
}

static sr_err read_csv(sr_reader *r) {
    if (!r->default_user.n) {
        r->default_user = user_from_name(r->member);
        if (r->default_user.n && r->opts)
            sr_logf(r->opts->log, SR_LOG_INFO,
                    "%s: user '%.*s' taken from the file name (lastfm-to-csv names its export "
                    "<user>.csv); --user NAME overrides",
                    r->label ? r->label : r->member, (int)r->default_user.n, r->default_user.p);
    }
    return sr_delim_read_rows(r, ',', 4, row_csv, NULL);
}

/* Detection ------------------------------------------------------------------------ */

/* YYYY-MM-DDTHH:MM:SSZ, shape only. */
static bool iso_z(sr_str s) {
    static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
    if (s.n != sizeof pat - 1) return false;
    for (size_t i = 0; i < s.n; i++)
        if (pat[i] == 'd' ? !is_digit(s.p[i]) : s.p[i] != pat[i]) return false;
    return true;
}

/* "5 Mar 2017 13:45" / "05 Mar 2017, 13:45": a day, a month word, a valid time. */
static bool lastfm_date(sr_str s) {
    int64_t t;
    s = sr_str_trim(s);
    if (s.n < 15 || !is_digit(s.p[0])) return false;
    size_t sp = is_digit(s.p[1]) ? 2 : 1;
    if (s.p[sp] != ' ' || !(s.p[sp + 1] >= 'A' && s.p[sp + 1] <= 'Z')) return false;
    return sr_time_parse(s, &t);
}

/* Scores lines: good ones raise, others lower, a header-like first line is neutral.
 * A line cut by the end of the head is only looked at when it is the only one. */
typedef int (*line_kind_fn)(sr_str line, bool first); /* 1 good, 0 neutral, -1 bad */

static int score_lines(const unsigned char *head, size_t n, line_kind_fn kind) {
    sr_delim_head h;
    sr_delim_head_init(&h, head, n);
    sr_str line;
    bool complete, first = true;
    int good = 0, bad = 0, lines = 0, cut_good = 0;
    while (lines < 32 && sr_delim_head_next(&h, &line, &complete)) {
        if (sr_str_trim(line).n == 0) continue;
        int k = kind(line, first);
        first = false;
        if (!complete) {
            cut_good = k > 0;
            break;
        }
        lines++;
        good += k > 0, bad += k < 0;
    }
    if (good == 0) return cut_good && lines == 0 ? 50 : 0;
    if (bad == 0) return 95;
    return good >= 2 * bad ? 90 : good > bad ? 60 : 0;
}

static int kind_1k(sr_str line, bool first) {
    sr_str f[7];
    size_t n = sr_delim_split(line, '\t', f, 7);
    if (n == 6 && iso_z(f[1])) return 1;
    if (first && n >= 2 && header_word(f[1])) return 0;
    return -1;
}

static int kind_csv(sr_str line, bool first) {
    sr_str f[5];
    size_t n = sr_delim_split(line, ',', f, 5);
    if (n != 4) return -1;
    if (lastfm_date(f[3])) return 1;
    if (sr_str_trim(f[3]).n == 0) return 0; /* now playing */
    if (first && header_word(f[3])) return 0;
    return -1;
}

static int detect_1k(const char *name, const unsigned char *head, size_t n) {
    int s = score_lines(head, n, kind_1k);
    if (s && strstr(sr_path_base(name), "userid-timestamp")) s = s < 95 ? s + 5 : 100;
    return s;
}

static int detect_csv(const char *name, const unsigned char *head, size_t n) {
    (void)name;
    return score_lines(head, n, kind_csv);
}

const sr_format sr_format_lastfm_1k = {
    .name = "lastfm-1k",
    .summary = "Last.fm-1K TSV: userid, ISO time, artist MBID, artist, track MBID, track",
    .kind = SR_VALUE_PLAYS,
    .listen_times = true,
    .items_only = false,
    .detect = detect_1k,
    .read = read_1k,
};

const sr_format sr_format_lastfm_csv = {
    .name = "lastfm-csv",
    .summary = "lastfm-to-csv export: artist,album,track,date (\"05 Mar 2017 13:45\"), no header",
    .kind = SR_VALUE_PLAYS,
    .listen_times = true,
    .items_only = false,
    .detect = detect_csv,
    .read = read_csv,
};
