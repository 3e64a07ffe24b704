/* "csv": delimited text with a header line naming the columns.
 *
 * Covers the ListenBrainz BigQuery `listen` extract (12 columns, listened_at as
 * "YYYY-MM-DD HH:MM:SS UTC" or epoch), Libre.fm CSV (leading '#' comment lines, a
 * header with Artist,Track,Album,Time), plain `user_name,artist_name,track_name` files
 * and any other file whose header names its columns (listen-formats.md 1.5, 7).
 *
 * The delimiter (comma, tab or semicolon) is the most frequent of the three in the
 * header. Columns are found by name, case-insensitively, in any order, from the synonym
 * lists below (an earlier synonym wins when several columns match; among equal names
 * the first column wins, so duplicated names map by position); --columns
 * "role=Name,..." overrides a role or, with an empty name, ignores it. Artist and track
 * are required (else the file fails with the header in the message); no user column
 * means the default user, no time column means SR_TS_NONE.
 *
 * Comma and semicolon files get RFC 4180 quoting (delim.h); tab files are split on tabs
 * only. A quoted field left open at the end of a line continues on the next ones (an
 * embedded newline), up to 1 MiB. If the quote never closes, or the joined record does
 * not have the header's field count, the first line is skipped as malformed and the
 * lines it swallowed are read again one by one without joining, so a stray quote costs
 * one record, not the rest of the file, and the work stays linear.
 *
 * Hot path: one memchr per field, fields borrowed from the stream's line buffer, no
 * allocation per row.
 */
#include <stdio.h>
#include <string.h>

#include "ingest/csv.h"
#include "ingest/delim.h"
#include "ingest/reader.h"
#include "util/mem.h"
#include "util/timeparse.h"

typedef enum role { R_USER, R_TIME, R_ARTIST, R_TRACK, R_RELEASE, R_MBID, R_COUNT, N_ROLES } role;

/* --columns keys, in role order. */
static const char *const role_key[N_ROLES] = {"user",    "time", "artist", "track",
                                              "release", "mbid", "count"};

/* Header names per role, most specific first. "name" is the track only as a last
 * resort (the old lastfm-to-csv header artist,album,name,date). */
static const char *const role_names[N_ROLES][8] = {
    [R_USER] = {"user_name", "user", "username", "userid", "user_id", NULL},
    [R_TIME] = {"listened_at", "timestamp", "time", "ts", "date", "uts", NULL},
    [R_ARTIST] = {"artist_name", "artist", "artistname", NULL},
    [R_TRACK] = {"track_name", "track", "title", "song", "trackname", "name", NULL},
    [R_RELEASE] = {"release_name", "album", "album_name", "release", NULL},
    [R_MBID] = {"recording_mbid", "track_mbid", NULL},
    [R_COUNT] = {"count", "plays", "play_count", "playcount", NULL},
};

#define MAX_COLS 4096

typedef struct csv {
    sr_reader *r;
    char delim;
    bool quotes; /* RFC 4180 quoting (comma and semicolon files) */
    size_t ncols;
    long col[N_ROLES]; /* column of each role, -1 when absent */
    sr_str *f;         /* (ncols + 1) fields of the current record */
    sr_delim_buf scratch;
    /* Joining lines of a record with embedded newlines (see the file comment). */
    char *rec; /* (rec_cap) bytes, rec_n used */
    size_t rec_n, rec_cap;
    char *pb; /* pushed-back lines, '\n'-separated, read from pb_pos */
    size_t pb_n, pb_pos, pb_cap;
    uint64_t pb_line;      /* number of the next pushed-back line */
    uint64_t toolong_line; /* an overlong line met while joining, reported after pb */
} csv;

static int role_rank(sr_str name, role ro) {
    for (int i = 0; role_names[ro][i]; i++)
        if (sr_delim_ieq(name, role_names[ro][i])) return i;
    return -1;
}

static bool str_ieq(sr_str a, sr_str b) {
    a = sr_str_trim(a), b = sr_str_trim(b);
    if (a.n != b.n) return false;
    for (size_t i = 0; i < a.n; i++) {
        char x = a.p[i], y = b.p[i];
        if (x >= 'A' && x <= 'Z') x = (char)(x + 32);
        if (y >= 'A' && y <= 'Z') y = (char)(y + 32);
        if (x != y) return false;
    }
    return true;
}

/* The delimiter of a header line: the most frequent of tab, comma, semicolon (ties in
 * that order); comma when there is none. */
static char pick_delim(sr_str h) {
    size_t nt = 0, nc = 0, ns = 0;
    for (size_t i = 0; i < h.n; i++) {
        char ch = h.p[i];
        nt += ch == '\t', nc += ch == ',', ns += ch == ';';
    }
    if (nt && nt >= nc && nt >= ns) return '\t';
    if (ns > nc) return ';';
    return ',';
}

/* Splits a header into at most max fields; returns the count or a negative code. */
static long split_header(sr_str h, char delim, sr_str *f, size_t max, sr_delim_buf *b) {
    if (delim == '\t') return (long)sr_delim_split(h, delim, f, max);
    return sr_delim_split_csv(h, delim, f, max, b);
}

/* Maps header names to roles by the synonym lists. */
static void map_roles(const sr_str *names, size_t n, long col[N_ROLES]) {
    int best[N_ROLES];
    for (int ro = 0; ro < N_ROLES; ro++) col[ro] = -1, best[ro] = 1 << 30;
    for (size_t i = 0; i < n; i++)
        for (int ro = 0; ro < N_ROLES; ro++) {
            int k = role_rank(names[i], (role)ro);
            if (k >= 0 && k < best[ro]) best[ro] = k, col[ro] = (long)i;
        }
}

/* "a, b, c" for messages, cut to fit out. */
static void found_list(char *out, size_t cap, const sr_str *names, size_t n) {
    size_t k = 0;
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        char one[64];
        sr_delim_show(one, sizeof one, sr_str_trim(names[i]));
        size_t need = strlen(one) + (i ? 2 : 0);
        if (k + need + 4 >= cap) {
            snprintf(out + k, cap - k, "%s...", i ? ", " : "");
            return;
        }
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? ", " : "", one);
    }
}

/* Applies --columns "role=Name,...": each named role takes the header column of that
 * name; an empty name drops the role. With c NULL, only checks the spelling (d gets the
 * words); a name missing from the header is then not an error. */
static sr_err apply_columns(csv *c, const char *spec, const sr_str *names, size_t n, sr_diag *d) {
    sr_str s = sr_str_c(spec), item[N_ROLES * 4];
    size_t ni = sr_delim_split(s, ',', item, N_ROLES * 4);
    if (ni > N_ROLES * 4) return sr_diag_set(d, SR_E_USAGE, "--columns: too many items");
    for (size_t i = 0; i < ni; i++) {
        sr_str kv = sr_str_trim(item[i]);
        if (kv.n == 0) continue;
        const char *eq = memchr(kv.p, '=', kv.n);
        if (!eq)
            return sr_diag_set(d, SR_E_USAGE, "--columns: '%.*s' is not role=column", (int)kv.n,
                               kv.p);
        sr_str key = sr_str_trim((sr_str){kv.p, (size_t)(eq - kv.p)});
        sr_str val = sr_str_trim((sr_str){eq + 1, kv.n - (size_t)(eq - kv.p) - 1});
        int ro = -1;
        for (int k = 0; k < N_ROLES; k++)
            if (sr_delim_ieq(key, role_key[k])) ro = k;
        if (ro < 0)
            return sr_diag_set(d, SR_E_USAGE,
                               "--columns: unknown role '%.*s' (expected user, time, artist, "
                               "track, release, mbid or count)",
                               (int)key.n, key.p);
        if (!c) continue;
        c->col[ro] = -1;
        if (val.n == 0) continue;
        for (size_t j = 0; j < n && c->col[ro] < 0; j++)
            if (str_ieq(names[j], val)) c->col[ro] = (long)j;
        if (c->col[ro] < 0) {
            char found[600];
            found_list(found, sizeof found, names, n);
            return sr_diag_set(d, SR_E_INPUT,
                               "%s: --columns %s=%.*s: no such column in header (found: %s)",
                               c->r->label, role_key[ro], (int)val.n, val.p, found);
        }
    }
    return SR_OK;
}

sr_err sr_csv_columns_check(const char *spec, sr_diag *d) {
    return spec ? apply_columns(NULL, spec, NULL, 0, d) : SR_OK;
}

/* Reads the header line (after blank and '#' comment lines) and sets up c. Returns
 * SR_OK, 1 for an input without a header (nothing to read), or an error. */
static int read_header(csv *c) {
    sr_reader *r = c->r;
    sr_str h;
    for (;;) {
        int rc = sr_lines_next(r->in, &h);
        if (rc < 0) return rc;
        if (rc == SR_LINE_END) return 1;
        if (rc == SR_LINE_TOO_LONG)
            return sr_diag_set(r->diag, SR_E_INPUT, "%s:%llu: header line longer than 1 MiB",
                               r->label, (unsigned long long)r->in->line);
        if (r->in->line == 1) h = sr_delim_strip_bom(h);
        if (sr_str_trim(h).n == 0 || h.p[0] == '#') continue;
        break;
    }
    c->delim = pick_delim(h);
    c->quotes = c->delim != '\t';
    sr_str *names = sr_mallocarray(MAX_COLS + 1, sizeof *names);
    if (!names) return SR_E_NOMEM;
    sr_err e = SR_OK;
    long n = split_header(h, c->delim, names, MAX_COLS, &c->scratch);
    if (n == SR_CSV_NOMEM) {
        e = SR_E_NOMEM;
        goto out;
    }
    if (n < 0 || n > MAX_COLS) {
        e = sr_diag_set(
            r->diag, SR_E_INPUT, "%s:%llu: %s", r->label, (unsigned long long)r->in->line,
            n < 0 ? "bad quoting in the header line" : "more than 4096 columns in the header line");
        goto out;
    }
    c->ncols = (size_t)n;
    map_roles(names, c->ncols, c->col);
    if (r->opts && r->opts->columns &&
        (e = apply_columns(c, r->opts->columns, names, c->ncols, r->diag)))
        goto out;
    for (int ro = R_ARTIST; ro <= R_TRACK; ro++) {
        if (c->col[ro] >= 0) continue;
        char found[600];
        found_list(found, sizeof found, names, c->ncols);
        e = sr_diag_set(r->diag, SR_E_INPUT,
                        "%s: no %s column in header (found: %s); name it with --columns %s=NAME",
                        r->label, role_key[ro], found, role_key[ro]);
        goto out;
    }
    c->f = sr_mallocarray(c->ncols + 1, sizeof *c->f);
    if (!c->f) e = SR_E_NOMEM;
out:
    sr_free(names);
    return e;
}

/* The next line: pushed-back lines first, then a pending overlong line, then the
 * stream. *pushed says the line came from the push-back buffer (never joined). */
static int next_line(csv *c, sr_str *line, uint64_t *no, bool *pushed) {
    if (c->pb_pos < c->pb_n) {
        const char *s = c->pb + c->pb_pos;
        size_t avail = c->pb_n - c->pb_pos;
        const char *nl = memchr(s, '\n', avail);
        size_t len = nl ? (size_t)(nl - s) : avail;
        c->pb_pos += nl ? len + 1 : len;
        *line = (sr_str){s, len};
        *no = c->pb_line++;
        *pushed = true;
        return SR_LINE_OK;
    }
    *pushed = false;
    if (c->toolong_line) {
        *no = c->toolong_line;
        c->toolong_line = 0;
        *line = (sr_str){"", 0};
        return SR_LINE_TOO_LONG;
    }
    int rc = sr_lines_next(c->r->in, line);
    *no = c->r->in->line;
    return rc;
}

static sr_err rec_append(csv *c, const char *p, size_t n) {
    if (c->rec_n + n > c->rec_cap) {
        void *np = c->rec;
        size_t cap = c->rec_cap;
        if (sr_grow(&np, &cap, c->rec_n + n, 1)) return SR_E_NOMEM;
        c->rec = np;
        c->rec_cap = cap;
    }
    if (n) memcpy(c->rec + c->rec_n, p, n);
    c->rec_n += n;
    return SR_OK;
}

/* Record `first` (line no, from the stream) has a quoted field open at its end: joins
 * the following lines. Returns 1 with *n fields split from c->rec, 0 when the join
 * failed (first was skipped and the swallowed lines pushed back), or an error. */
static int join(csv *c, sr_str first, uint64_t no, long *n) {
    c->rec_n = 0;
    sr_err e = rec_append(c, first.p, first.n);
    if (e) return e;
    int st = sr_delim_csv_state(first.p, first.n, c->delim, SR_CSV_ST_FIELD_START);
    const char *why = "unterminated quote";
    for (;;) {
        sr_str ln;
        int rc = sr_lines_next(c->r->in, &ln);
        if (rc < 0) return rc;
        if (rc == SR_LINE_END) break;
        if (rc == SR_LINE_TOO_LONG) {
            c->toolong_line = c->r->in->line;
            break;
        }
        if ((e = rec_append(c, "\n", 1)) || (e = rec_append(c, ln.p, ln.n))) return e;
        st = sr_delim_csv_state(ln.p, ln.n, c->delim, sr_delim_csv_state("\n", 1, c->delim, st));
        if (c->rec_n > SR_MAX_LINE) {
            why = "quoted field runs past 1 MiB";
            break;
        }
        if (st == SR_CSV_ST_IN_QUOTES) continue;
        long k =
            sr_delim_split_csv((sr_str){c->rec, c->rec_n}, c->delim, c->f, c->ncols, &c->scratch);
        if (k == SR_CSV_NOMEM) return SR_E_NOMEM;
        if (k == (long)c->ncols) {
            *n = k;
            return 1;
        }
        why = "unterminated quote (joined lines do not form a record)";
        break;
    }
    /* Give up: skip the first line, re-read the others without joining. */
    char *t = c->pb;
    size_t tcap = c->pb_cap;
    c->pb = c->rec, c->pb_cap = c->rec_cap;
    c->rec = t, c->rec_cap = tcap;
    c->pb_pos = first.n + 1;
    c->pb_n = c->rec_n > first.n ? c->rec_n : c->pb_pos;
    c->rec_n = 0;
    c->pb_line = no + 1;
    e = sr_reader_skip(c->r, SR_SKIP_MALFORMED_ROW, no, why);
    return e ? e : 0;
}

static sr_err bad_fields(csv *c, long n, uint64_t no) {
    char d[80];
    if (n == SR_CSV_BAD_QUOTE)
        snprintf(d, sizeof d, "text after a closing quote");
    else if (n == SR_CSV_OPEN)
        snprintf(d, sizeof d, "unterminated quote");
    else if (n > (long)c->ncols)
        snprintf(d, sizeof d, "more than %zu fields", c->ncols);
    else
        snprintf(d, sizeof d, "%ld fields, expected %zu", n, c->ncols);
    return sr_reader_skip(c->r, SR_SKIP_MALFORMED_ROW, no, d);
}

/* Parses one record (already split into c->f when n >= 0) and emits it. */
static sr_err record(csv *c, long n, uint64_t no) {
    sr_reader *r = c->r;
    const sr_str *f = c->f;
    if (n != (long)c->ncols) return bad_fields(c, n, no);
    sr_listen l = {0};
    l.user = c->col[R_USER] >= 0 ? f[c->col[R_USER]] : SR_STR_NULL;
    l.artist = f[c->col[R_ARTIST]];
    l.track = f[c->col[R_TRACK]];
    l.release = c->col[R_RELEASE] >= 0 ? f[c->col[R_RELEASE]] : SR_STR_NULL;
    l.recording_mbid = c->col[R_MBID] >= 0 ? f[c->col[R_MBID]] : SR_STR_NULL;
    l.ts = SR_TS_NONE;
    l.value = 1;
    char d[64];
    if (c->col[R_USER] >= 0 && sr_str_trim(l.user).n == 0)
        return sr_reader_skip(r, SR_SKIP_EMPTY_USER, no, NULL);
    if (c->col[R_TIME] >= 0 && !sr_time_parse(f[c->col[R_TIME]], &l.ts))
        return sr_reader_skip(r, SR_SKIP_BAD_TIMESTAMP, no,
                              sr_delim_show(d, sizeof d, f[c->col[R_TIME]]));
    if (c->col[R_COUNT] >= 0 && !sr_delim_parse_count(f[c->col[R_COUNT]], &l.value))
        return sr_reader_skip(r, SR_SKIP_BAD_VALUE, no,
                              sr_delim_show(d, sizeof d, f[c->col[R_COUNT]]));
    return sr_reader_emit(r, &l, no);
}

static sr_err csv_read(sr_reader *r) {
    csv c;
    memset(&c, 0, sizeof c);
    c.r = r;
    int rc = read_header(&c);
    if (rc) {
        sr_err e = rc == 1 ? SR_OK : rc;
        sr_free(c.f);
        sr_delim_buf_free(&c.scratch);
        return e;
    }
    sr_err e = SR_OK;
    for (;;) {
        sr_str line;
        uint64_t no;
        bool pushed;
        rc = next_line(&c, &line, &no, &pushed);
        if (rc == SR_LINE_END) break;
        if (rc < 0) {
            e = rc;
            break;
        }
        if (rc == SR_LINE_TOO_LONG) {
            if ((e = sr_reader_skip(r, SR_SKIP_LINE_TOO_LONG, no, NULL))) break;
            continue;
        }
        if (line.n == 0) continue;
        long n;
        if (c.quotes) {
            n = sr_delim_split_csv(line, c.delim, c.f, c.ncols, &c.scratch);
            if (n == SR_CSV_NOMEM) {
                e = SR_E_NOMEM;
                break;
            }
            if (n == SR_CSV_OPEN && !pushed) {
                int j = join(&c, line, no, &n);
                if (j < 0) {
                    e = j;
                    break;
                }
                if (j == 0) continue;
            }
        } else {
            n = (long)sr_delim_split(line, c.delim, c.f, c.ncols);
        }
        if (n == 1 && c.ncols > 1 && sr_str_trim(line).n == 0) continue; /* blank */
        if ((e = record(&c, n, no))) break;
    }
    sr_free(c.f);
    sr_free(c.rec);
    sr_free(c.pb);
    sr_delim_buf_free(&c.scratch);
    return e;
}

/* Confidence from the header line: 80 when artist and track columns are named, a
 * little when some other columns are recognised or the name ends in .csv/.tsv (so that
 * a read explains which column is missing rather than "unrecognised format"). */
static int csv_detect(const char *name, const unsigned char *head, size_t n) {
    const char *base = sr_path_base(name);
    size_t bl = strlen(base);
    bool ext = bl > 4 && (!strcmp(base + bl - 4, ".csv") || !strcmp(base + bl - 4, ".tsv"));
    sr_delim_head h;
    sr_delim_head_init(&h, head, n);
    sr_str line;
    bool complete;
    while (sr_delim_head_next(&h, &line, &complete)) {
        if (sr_str_trim(line).n == 0 || line.p[0] == '#') continue;
        char delim = pick_delim(line);
        sr_str names[64];
        sr_delim_buf b = {0};
        long k = split_header(line, delim, names, 64, &b);
        if (k == SR_CSV_OPEN && !complete) k = 0;
        if (k > 64) k = 64;
        if (k > 0 && !complete) k--; /* the last name may be cut */
        long col[N_ROLES];
        map_roles(names, k > 0 ? (size_t)k : 0, col);
        sr_delim_buf_free(&b);
        int known = 0;
        for (int ro = 0; ro < N_ROLES; ro++) known += col[ro] >= 0;
        if (col[R_ARTIST] >= 0 && col[R_TRACK] >= 0) return ext ? 85 : 80;
        if (known >= 2) return ext ? 30 : 20;
        return ext ? 10 : 0;
    }
    return ext ? 10 : 0;
}

const sr_format sr_format_csv = {
    .name = "csv",
    .summary = "CSV/TSV with a header naming the columns (BigQuery listen extract, Libre.fm, "
               "user,artist,track); --columns maps other names",
    .kind = SR_VALUE_PLAYS,
    .listen_times = true,
    .items_only = false,
    .detect = csv_detect,
    .read = csv_read,
};
