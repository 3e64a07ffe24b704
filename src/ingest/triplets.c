/* (user, item, value) text formats: items only, no artist (listen-formats.md 4).
 *
 * "triplets": the Million Song Dataset taste profile, `user \t song \t play_count`, no
 *   header (a first line whose count field holds no digit, as in hetrec's
 *   user_artists.dat, is skipped once). The count must be a whole number >= 1, else
 *   BAD_VALUE. The song id becomes the track, the artist stays empty, ts = SR_TS_NONE.
 *
 * "ratings": Surprise / MovieLens `user item rating [timestamp]`. The separator is
 *   fixed per file from its first non-blank line: "::" (ratings.dat) if present, else a
 *   tab (u.data), else a comma (MovieLens "latest" CSV with its header
 *   userId,movieId,rating,timestamp), else runs of spaces and tabs (Surprise's default,
 *   Jester). A first line whose rating field holds no digit is a header, skipped once.
 *   The rating is any decimal number, kept as given (SR_VALUE_RATINGS); the timestamp
 *   is optional (absent or empty: SR_TS_NONE), Unix seconds.
 *
 * Detection keeps the two (and csv) apart: triplets claims a file only for the MSD
 *   shape (40 hex digits, an SO... song id, a count) or by name (*triplets*,
 *   user_artists.dat). A plain 3-field all-integer tab file is ambiguous (hetrec counts
 *   vs u.data-like ratings without time); ratings takes it, since ratings keeps values
 *   as given and loses nothing, while reading ratings as plays would reject fractions.
 */
#include <stdio.h>
#include <string.h>

#include "ingest/delim.h"
#include "ingest/reader.h"
#include "util/timeparse.h"

static sr_err bad_value(sr_reader *r, uint64_t no, sr_str s) {
    char d[64];
    s = sr_str_trim(s);
    return sr_reader_skip(r, SR_SKIP_BAD_VALUE, no, s.n ? sr_delim_show(d, sizeof d, s) : "empty");
}

static sr_err malformed(sr_reader *r, uint64_t no, size_t n, const char *want) {
    char d[64];
    snprintf(d, sizeof d, "%s%zu fields, expected %s", n > 4 ? "more than " : "",
             n > 4 ? (size_t)4 : n, want);
    return sr_reader_skip(r, SR_SKIP_MALFORMED_ROW, no, d);
}

/* A header word: non-empty, no digit ("play_count", "rating"). */
static bool header_word(sr_str s) {
    s = sr_str_trim(s);
    return s.n && !sr_delim_has_digit(s);
}

static sr_err triplets_row(sr_reader *r, const sr_delim_row *row, void *user) {
    (void)user;
    const sr_str *f = row->f;
    size_t n = row->n;
    uint64_t no = row->no;
    if (row->first && n == 3 && header_word(f[2])) return SR_OK; /* a header */
    double v;
    if (n != 3) return malformed(r, no, n, "3");
    if (sr_str_trim(f[0]).n == 0) return sr_reader_skip(r, SR_SKIP_EMPTY_USER, no, NULL);
    if (!sr_delim_parse_count(f[2], &v)) return bad_value(r, no, f[2]);
    sr_listen l = {.user = f[0], .track = f[1], .ts = SR_TS_NONE, .value = v};
    return sr_reader_emit(r, &l, no);
}

static sr_err triplets_read(sr_reader *r) {
    return sr_delim_read_rows(r, '\t', 3, triplets_row, NULL);
}

typedef enum sep { SEP_DCOLON, SEP_TAB, SEP_COMMA, SEP_WS } sep;

static sep pick_sep(sr_str line) {
    const char *c = memchr(line.p, ':', line.n);
    while (c && c + 1 < line.p + line.n) {
        if (c[1] == ':') return SEP_DCOLON;
        c = memchr(c + 1, ':', (size_t)(line.p + line.n - c - 1));
    }
    if (memchr(line.p, '\t', line.n)) return SEP_TAB;
    if (memchr(line.p, ',', line.n)) return SEP_COMMA;
    return SEP_WS;
}

static size_t split_sep(sr_str line, sep s, sr_str *f, size_t max) {
    switch (s) {
    case SEP_DCOLON:
        return sr_delim_split_dcolon(line, f, max);
    case SEP_TAB:
        return sr_delim_split(line, '\t', f, max);
    case SEP_COMMA:
        return sr_delim_split(line, ',', f, max);
    default:
        return sr_delim_split_ws(line, f, max);
    }
}

/* The ratings line loop's state: the separator, fixed by the first line handed over
 * (overlong lines before it do not count, unlike for a header in sr_delim_read_rows). */
typedef struct ratings_state {
    bool have_sep;
    sep s;
} ratings_state;

static sr_err ratings_row(sr_reader *r, const sr_delim_row *row, void *user) {
    ratings_state *st = user;
    sr_str f[5];
    uint64_t no = row->no;
    bool first = !st->have_sep;
    if (first) st->s = pick_sep(row->line), st->have_sep = true;
    size_t n = split_sep(row->line, st->s, f, 4);
    if (first && (n == 3 || n == 4) && header_word(f[2])) return SR_OK; /* a header */
    double v;
    int64_t ts = SR_TS_NONE;
    char d[64];
    if (n != 3 && n != 4) return malformed(r, no, n, "3 or 4");
    if (sr_str_trim(f[0]).n == 0) return sr_reader_skip(r, SR_SKIP_EMPTY_USER, no, NULL);
    if (!sr_delim_parse_number(f[2], &v)) return bad_value(r, no, f[2]);
    if (n == 4 && sr_str_trim(f[3]).n && !sr_time_parse(f[3], &ts))
        return sr_reader_skip(r, SR_SKIP_BAD_TIMESTAMP, no, sr_delim_show(d, sizeof d, f[3]));
    sr_listen l = {.user = f[0], .track = f[1], .ts = ts, .value = v};
    return sr_reader_emit(r, &l, no);
}

/* The separator varies by file, so the row splits the line itself (delim 0). */
static sr_err ratings_read(sr_reader *r) {
    ratings_state st = {false, SEP_TAB};
    return sr_delim_read_rows(r, 0, 0, ratings_row, &st);
}

/* Detection ------------------------------------------------------------------------ */

static bool is_hex40(sr_str s) {
    if (s.n != 40) return false;
    for (size_t i = 0; i < 40; i++) {
        char c = s.p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* An Echo Nest song id: "SO" and 16 upper-case letters or digits. */
static bool is_song_id(sr_str s) {
    if (s.n != 18 || s.p[0] != 'S' || s.p[1] != 'O') return false;
    for (size_t i = 2; i < 18; i++) {
        char c = s.p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) return false;
    }
    return true;
}

static bool is_int(sr_str s) {
    s = sr_str_trim(s);
    if (!s.n) return false;
    for (size_t i = 0; i < s.n; i++)
        if (s.p[i] < '0' || s.p[i] > '9') return false;
    return true;
}

/* Tallies complete lines of the head (or the only, cut one) with kind(). */
typedef int (*line_kind_fn)(sr_str line, bool first, void *ctx);

static void tally(const unsigned char *head, size_t n, line_kind_fn kind, void *ctx, int *good,
                  int *bad) {
    sr_delim_head h;
    sr_delim_head_init(&h, head, n);
    sr_str line;
    bool complete, first = true;
    int lines = 0;
    *good = *bad = 0;
    while (lines < 32 && sr_delim_head_next(&h, &line, &complete)) {
        if (sr_str_trim(line).n == 0) continue;
        if (!complete && lines > 0) break;
        int k = kind(line, first, ctx);
        first = false;
        lines++;
        *good += k > 0, *bad += k < 0;
    }
}

static int score(int good, int bad, int full) {
    if (good == 0) return 0;
    if (bad == 0) return full;
    return good >= 2 * bad ? full * 3 / 4 : good > bad ? full / 2 : 0;
}

/* An MSD row: 3 tab fields with a 40-hex user or an SO... song id (a dirty row still
 * shows the shape); ctx counts the rows that match fully. */
static int kind_msd(sr_str line, bool first, void *ctx) {
    sr_str f[4];
    size_t n = sr_delim_split(line, '\t', f, 3);
    bool hex = n == 3 && is_hex40(f[0]), song = n == 3 && is_song_id(f[1]);
    if (hex && song && is_int(f[2])) ++*(int *)ctx;
    if (hex || song) return 1;
    if (first && n == 3 && header_word(f[2])) return 0;
    return -1;
}

static int kind_tab3(sr_str line, bool first, void *ctx) {
    (void)ctx;
    sr_str f[4];
    size_t n = sr_delim_split(line, '\t', f, 3);
    if (n == 3 && is_int(f[2])) return 1;
    if (first && n == 3 && header_word(f[2])) return 0;
    return -1;
}

static int triplets_detect(const char *name, const unsigned char *head, size_t n) {
    const char *base = sr_path_base(name);
    int good, bad, full = 0;
    tally(head, n, kind_msd, &full, &good, &bad);
    int s = full ? score(good, bad, 95) : 0;
    if (s) return s;
    if (strstr(base, "triplets") || !strcmp(base, "user_artists.dat")) {
        tally(head, n, kind_tab3, NULL, &good, &bad);
        if (good) return score(good, bad, 80);
        return bad ? 0 : 40; /* named, nothing to look at yet */
    }
    return 0;
}

/* Ratings rows. ctx: the separator (fixed by the first line) and a flag set when every
 * good row has integer user and item ids. */
typedef struct rctx {
    sep s;
    bool ints, dcolon_or_header;
} rctx;

static int kind_rating(sr_str line, bool first, void *ctx) {
    rctx *c = ctx;
    sr_str f[5];
    if (first) c->s = pick_sep(line);
    size_t n = split_sep(line, c->s, f, 4);
    if (first && n == 4 && sr_delim_ieq(f[0], "userId") && sr_delim_ieq(f[1], "movieId") &&
        sr_delim_ieq(f[2], "rating"))
        c->dcolon_or_header = true;
    if (n != 3 && n != 4) return -1;
    double v;
    int64_t t;
    if (first && header_word(f[2])) return 0;
    if (!sr_str_trim(f[0]).n || !sr_str_trim(f[1]).n || !sr_delim_parse_number(f[2], &v)) return -1;
    if (n == 4 && sr_str_trim(f[3]).n && !sr_time_parse_epoch(f[3], &t)) return -1;
    if (v > 1e6 || v < -1e6) return -1; /* a count or an id, not a rating */
    if (!is_int(f[0]) || !is_int(f[1])) {
        if (c->s == SEP_COMMA) return -1; /* user,item,number with names: csv's */
        c->ints = false;
    }
    if (c->s == SEP_DCOLON) c->dcolon_or_header = true;
    return 1;
}

static int ratings_detect(const char *name, const unsigned char *head, size_t n) {
    const char *base = sr_path_base(name);
    size_t bl = strlen(base);
    bool named = !strcmp(base, "u.data") || !strcmp(base, "ratings.dat") ||
                 !strcmp(base, "ratings.csv") ||
                 (base[0] == 'u' && bl > 5 &&
                  (!strcmp(base + bl - 5, ".base") || !strcmp(base + bl - 5, ".test")));
    rctx c = {SEP_TAB, true, false};
    int good, bad;
    tally(head, n, kind_rating, &c, &good, &bad);
    int full = named || c.dcolon_or_header ? 90 : c.ints ? 70 : c.s == SEP_TAB ? 40 : 30;
    int s = score(good, bad, full);
    if (named) { /* the name is strong evidence; content only has to look half right */
        int ns = good >= bad ? 90 : good ? 60 : 50;
        if (ns > s) s = ns;
    }
    return s;
}

const sr_format sr_format_triplets = {
    .name = "triplets",
    .summary = "MSD taste profile triplets: user<TAB>song<TAB>play_count, no header",
    .kind = SR_VALUE_PLAYS,
    .listen_times = false,
    .items_only = true,
    .detect = triplets_detect,
    .read = triplets_read,
};

const sr_format sr_format_ratings = {
    .name = "ratings",
    .summary = "rating triples user item rating [timestamp] (u.data, ratings.dat ::, "
               "MovieLens CSV, whitespace)",
    .kind = SR_VALUE_RATINGS,
    .listen_times = false,
    .items_only = true,
    .detect = ratings_detect,
    .read = ratings_read,
};
