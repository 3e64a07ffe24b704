/* The delimited-text readers: csv (BigQuery extract, reordered columns, --columns,
 * TSV, Libre.fm, RFC 4180 quoting with embedded newlines), lastfm-1k, lastfm-csv,
 * triplets and ratings. Each reads its fixture under tests/fixtures/text (invented data,
 * see the README there) with exact expected records; every bad case is counted under
 * its reason with the good records around it kept; detection is checked as a matrix over
 * all fixtures. Runs from tests/ (fixtures at "fixtures/text/...").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/csv.h"
#include "ingest/delim.h"
#include "ingest/reader.h"
#include "util/mem.h"

extern const sr_format sr_format_csv, sr_format_lastfm_1k, sr_format_lastfm_csv, sr_format_triplets,
    sr_format_ratings;

#define NOW 1700000000 /* 2023-11-14: "now" for the future-timestamp check */
#define M   "00000000-0000-4000-8000-0000000000"

typedef struct rec {
    char user[64], artist[96], track[96], release[96], mbid[40];
    int64_t ts;
    double value;
    sr_value_kind kind;
} rec;

typedef struct result {
    rec recs[64];
    size_t n;
    sr_read_stats st;
    sr_diag diag;
    sr_err err;
    bool stop;
    char log[8192];
    size_t log_n;
} result;

static void copy(char *out, size_t cap, sr_str s) {
    snprintf(out, cap, "%.*s", (int)s.n, s.p ? s.p : "");
}

static sr_err collect(void *u, const sr_listen *l, sr_value_kind kind) {
    result *res = u;
    if (res->n == sizeof res->recs / sizeof res->recs[0]) return SR_OK;
    rec *r = &res->recs[res->n++];
    copy(r->user, sizeof r->user, l->user);
    copy(r->artist, sizeof r->artist, l->artist);
    copy(r->track, sizeof r->track, l->track);
    copy(r->release, sizeof r->release, l->release);
    copy(r->mbid, sizeof r->mbid, l->recording_mbid);
    r->ts = l->ts;
    r->value = l->value;
    r->kind = kind;
    return SR_OK;
}

static void log_msg(void *u, sr_log_level level, const char *text) {
    (void)level;
    result *res = u;
    int k = snprintf(res->log + res->log_n, sizeof res->log - res->log_n, "%s\n", text);
    if (k > 0) res->log_n += (size_t)k < sizeof res->log - res->log_n ? (size_t)k : 0;
}

typedef struct run_opts {
    const char *user, *columns;
    bool strict;
} run_opts;

static result *run_mem(const sr_format *f, const char *label, const void *data, size_t n,
                       run_opts o) {
    result *res = calloc(1, sizeof *res);
    assert_non_null(res);
    sr_log log = {.message = log_msg, .user = res};
    sr_read_opts opts = {.user = o.user,
                         .columns = o.columns,
                         .now = NOW,
                         .strict = o.strict,
                         .report_first = 1000,
                         .log = &log};
    sr_stream s;
    assert_int_equal(sr_stream_init_mem(&s, data, n), SR_OK);
    sr_reader r;
    sr_reader_init(&r, f, &s, &opts, &res->st, collect, res, &res->diag);
    r.label = r.member = label;
    r.default_user = sr_str_c(o.user);
    res->err = f->read(&r);
    res->stop = r.stop;
    sr_stream_deinit(&s);
    return res;
}

static char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *n = fread(buf, 1, 1 << 16, fp);
    fclose(fp);
    return buf;
}

static result *run_file(const sr_format *f, const char *name, run_opts o) {
    char path[256];
    snprintf(path, sizeof path, "fixtures/text/%s", name);
    size_t n;
    char *buf = slurp(path, &n);
    result *res = run_mem(f, name, buf, n, o);
    free(buf);
    return res;
}

static result *run_text(const sr_format *f, const char *text, run_opts o) {
    return run_mem(f, "text", text, strlen(text), o);
}

static void expect(const result *res, size_t i, const char *user, const char *artist,
                   const char *track, int64_t ts, double value) {
    assert_true(i < res->n);
    const rec *r = &res->recs[i];
    assert_string_equal(r->user, user);
    assert_string_equal(r->artist, artist);
    assert_string_equal(r->track, track);
    assert_true(r->ts == ts);
    assert_true(r->value == value);
}

static void expect_more(const result *res, size_t i, const char *release, const char *mbid) {
    assert_string_equal(res->recs[i].release, release);
    assert_string_equal(res->recs[i].mbid, mbid);
}

static uint64_t skipped(const result *res, sr_skip why) {
    return res->st.skipped[why];
}

/* The log holds "label:line: words" for each skip. */
static void expect_logged(const result *res, const char *needle) {
    if (!strstr(res->log, needle)) fail_msg("no \"%s\" in log:\n%s", needle, res->log);
}

/* csv ------------------------------------------------------------------------------ */

static void test_csv_bigquery(void **state) {
    (void)state;
    result *res = run_file(&sr_format_csv, "bigquery.csv", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 8);
    expect(res, 0, "alice", "The Example Band", "Test Song", 1488721512, 1);
    expect_more(res, 0, "Sample Album", "");
    expect(res, 1, "alice", "Comma, Inc.", "Say \"Hi\"", 1488721740, 1);
    expect_more(res, 1, "Album \"Quoted\"", M "ff");
    expect(res, 2, "bob", "Plain Artist", "Epoch Song", 1488722000, 1);
    expect_more(res, 2, "", ""); /* malformed MBID dropped */
    expect(res, 3, "dave", "Multi Line", "Tagged Song", 1488880920, 1);
    expect(res, 4, "erin", "After Band", "After Song", 1488881040, 1);
    expect(res, 5, "erin", "Quoted Band", "Quoted Song", 1488881100, 1);
    expect(res, 6, "erin", "Bare \"Quote\" Band", "Bare Song", 1488881160, 1);
    expect(res, 7, "frank", "Last Band", "Last, Song", 1488881280, 1);
    assert_int_equal(res->recs[0].kind, SR_VALUE_PLAYS);
    assert_int_equal(skipped(res, SR_SKIP_MALFORMED_ROW), 3);
    assert_int_equal(skipped(res, SR_SKIP_EMPTY_ARTIST), 1);
    assert_int_equal(skipped(res, SR_SKIP_EMPTY_TRACK), 1);
    assert_int_equal(skipped(res, SR_SKIP_BAD_TIMESTAMP), 2);
    assert_int_equal(skipped(res, SR_SKIP_FUTURE_TIMESTAMP), 1);
    assert_int_equal(skipped(res, SR_SKIP_OLD_TIMESTAMP), 1);
    assert_int_equal(skipped(res, SR_SKIP_INVALID_UTF8), 1);
    assert_int_equal(skipped(res, SR_SKIP_EMPTY_USER), 1);
    assert_int_equal(res->st.skipped_total, 11);
    assert_int_equal(res->st.fixed[SR_FIX_BAD_MBID], 1);
    expect_logged(res, "bigquery.csv:5: malformed row");
    expect_logged(res, "bigquery.csv:8: missing, zero or unparseable timestamp: yesterday");
    expect_logged(res, "bigquery.csv:9: missing, zero or unparseable timestamp");
    expect_logged(res, "bigquery.csv:16: malformed row (wrong number of fields or bad quoting): "
                       "unterminated quote");
    expect_logged(res, "bigquery.csv:20: malformed row (wrong number of fields or bad quoting): "
                       "text after a closing quote");
    free(res);
}

static void test_csv_reordered(void **state) {
    (void)state;
    result *res = run_file(&sr_format_csv, "reordered.csv", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 2);
    expect(res, 0, "gina", "Band Two", "Song, Part 2", 1488800000, 1);
    expect_more(res, 0, "Second Album", M "ab");
    expect(res, 1, "gina", "Band One", "Plain Song", 1488794400, 1);
    expect_more(res, 1, "", "");
    assert_int_equal(res->st.skipped_total, 0);
    free(res);
}

static void test_csv_simple(void **state) {
    (void)state;
    /* BOM, CRLF, no time column: ts unknown. */
    result *res = run_file(&sr_format_csv, "simple.csv", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 3);
    expect(res, 0, "alice", "The Example Band", "Test Song", SR_TS_NONE, 1);
    expect(res, 1, "bob", "Band, The", "Another Song", SR_TS_NONE, 1);
    expect(res, 2, "carol", "Solo", "Third", SR_TS_NONE, 1);
    free(res);
}

static void test_csv_tsv(void **state) {
    (void)state;
    /* Tab files take quotes literally; the count column gives the value. */
    result *res = run_file(&sr_format_csv, "listens.tsv", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 3);
    expect(res, 0, "hal", "The \"Quoted\" Band", "12\" Mix", 1488721512, 3);
    expect(res, 1, "hal", "O'Brien", "'Til \"Dawn", 1488721512, 1);
    expect(res, 2, "hal", "Band", "Late Song", 1488725112, 2);
    assert_int_equal(skipped(res, SR_SKIP_BAD_VALUE), 3);
    assert_int_equal(skipped(res, SR_SKIP_MALFORMED_ROW), 1);
    expect_logged(res, "listens.tsv:4: missing, non-numeric or out-of-range count or rating: x");
    expect_logged(res, "listens.tsv:7: malformed row (wrong number of fields or bad quoting): "
                       "4 fields, expected 5");
    free(res);
}

static void test_csv_librefm(void **state) {
    (void)state;
    result *res = run_file(&sr_format_csv, "librefm.csv", (run_opts){.user = "zed"});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 2);
    expect(res, 0, "zed", "Free Band", "Open Song", 1488721512, 1);
    expect_more(res, 0, "Libre Album", "");
    expect(res, 1, "zed", "Free Band", "Quoted, Song", 1488722400, 1);
    free(res);
    /* No user inside and none given: the file fails (trap 27). */
    res = run_file(&sr_format_csv, "librefm.csv", (run_opts){0});
    assert_int_equal(res->err, SR_E_INPUT);
    assert_non_null(strstr(res->diag.msg, "--user"));
    assert_int_equal(res->n, 0);
    free(res);
}

static void test_csv_columns(void **state) {
    (void)state;
    const char *cols = "user=who, artist=BAND,track=Piece,time=When,count=N,release=Disc";
    result *res = run_file(&sr_format_csv, "mapped.csv", (run_opts){.columns = cols});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 2);
    expect(res, 0, "ivy", "Semi Band", "Semi Song", 1488721512, 4);
    expect_more(res, 0, "Semi Album", "");
    expect(res, 1, "ivy", "Semi; Colon", "Other", 1488721512, 1);
    free(res);
    /* Without the mapping there is an Artist column but no track column. */
    res = run_file(&sr_format_csv, "mapped.csv", (run_opts){0});
    assert_int_equal(res->err, SR_E_INPUT);
    assert_string_equal(res->diag.msg,
                        "mapped.csv: no track column in header (found: Who, Band, Piece, "
                        "When, N, Disc, Artist); name it with --columns track=NAME");
    free(res);
    /* An empty name drops a role: here the time. */
    res = run_file(&sr_format_csv, "mapped.csv",
                   (run_opts){.columns = "user=Who,artist=Band,track=Piece,time="});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 2);
    expect(res, 0, "ivy", "Semi Band", "Semi Song", SR_TS_NONE, 1);
    free(res);
    res = run_file(&sr_format_csv, "mapped.csv", (run_opts){.columns = "track=Nope"});
    assert_int_equal(res->err, SR_E_INPUT);
    assert_non_null(strstr(res->diag.msg, "--columns track=Nope: no such column in header"));
    free(res);
    res = run_file(&sr_format_csv, "mapped.csv", (run_opts){.columns = "colour=Band"});
    assert_int_equal(res->err, SR_E_USAGE);
    assert_non_null(strstr(res->diag.msg, "unknown role 'colour'"));
    free(res);
    res = run_file(&sr_format_csv, "mapped.csv", (run_opts){.columns = "artist"});
    assert_int_equal(res->err, SR_E_USAGE);
    free(res);
    sr_diag d = {{0}};
    assert_int_equal(sr_csv_columns_check(NULL, &d), SR_OK);
    assert_int_equal(sr_csv_columns_check(cols, &d), SR_OK);
    assert_int_equal(sr_csv_columns_check("time=,mbid=x", &d), SR_OK);
    assert_int_equal(sr_csv_columns_check("artist=a,bogus=b", &d), SR_E_USAGE);
    assert_string_equal(d.msg, "--columns: unknown role 'bogus' (expected user, time, artist, "
                               "track, release, mbid or count)");
    assert_int_equal(sr_csv_columns_check("artist", &d), SR_E_USAGE);
}

static void test_csv_missing_column(void **state) {
    (void)state;
    result *res = run_file(&sr_format_csv, "noartist.csv", (run_opts){0});
    assert_int_equal(res->err, SR_E_INPUT);
    assert_string_equal(res->diag.msg, "noartist.csv: no artist column in header (found: user, "
                                       "song, time); name it with --columns artist=NAME");
    assert_int_equal(res->n, 0);
    free(res);
    /* Empty input, comment-only input, header-only input: nothing, no error. */
    const char *empty[] = {"", "\n\n", "# just a comment\n", "artist,track\n"};
    for (size_t i = 0; i < 4; i++) {
        res = run_text(&sr_format_csv, empty[i], (run_opts){0});
        assert_int_equal(res->err, SR_OK);
        assert_int_equal(res->n, 0);
        assert_int_equal(res->st.skipped_total, 0);
        free(res);
    }
    res = run_text(&sr_format_csv, "\"artist,track\n", (run_opts){0});
    assert_int_equal(res->err, SR_E_INPUT);
    assert_non_null(strstr(res->diag.msg, "bad quoting in the header"));
    free(res);
}

static void test_csv_quotes(void **state) {
    (void)state;
    /* Embedded newlines and CRLF inside quotes join; the record keeps its first line
     * number. Whitespace around names is trimmed (a fix). */
    result *res = run_text(&sr_format_csv,
                           "user,artist,track,notes\r\n"
                           "u1,A,T1,\"line one\r\nline two\r\nline three\"\r\n"
                           "u2,\" B \",T2,\"\"\r\n"
                           "u3,C,\"T\"\"3\"\"\",\"x\"\r\n",
                           (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 3);
    expect(res, 0, "u1", "A", "T1", SR_TS_NONE, 1);
    expect(res, 1, "u2", "B", "T2", SR_TS_NONE, 1);
    expect(res, 2, "u3", "C", "T\"3\"", SR_TS_NONE, 1);
    assert_int_equal(res->st.fixed[SR_FIX_WHITESPACE], 1);
    free(res);

    /* A quote open to the end of the file: the first line is skipped, the lines it
     * swallowed are read again one by one. */
    res = run_text(&sr_format_csv,
                   "user,artist,track\n"
                   "u1,A,T1\n"
                   "u2,\"B,T2\n"
                   "u3,C,T3\n"
                   "u4,\"D\",T4\n"
                   "u5,\"E,T5\n",
                   (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 3);
    expect(res, 0, "u1", "A", "T1", SR_TS_NONE, 1);
    expect(res, 1, "u3", "C", "T3", SR_TS_NONE, 1);
    expect(res, 2, "u4", "D", "T4", SR_TS_NONE, 1);
    assert_int_equal(skipped(res, SR_SKIP_MALFORMED_ROW), 2);
    expect_logged(res, "text:3: malformed row");
    expect_logged(res, "text:6: malformed row");
    free(res);

    /* Semicolon files are quoted like comma files. */
    res = run_text(&sr_format_csv, "artist;track;user\n\"A;1\";\"T\";u\n", (run_opts){0});
    assert_int_equal(res->n, 1);
    expect(res, 0, "u", "A;1", "T", SR_TS_NONE, 1);
    free(res);

    /* A quoted field that runs past 1 MiB is given up on at the cap. */
    size_t big = SR_MAX_LINE / 8;
    char *text = malloc(12 * big + 200);
    assert_non_null(text);
    size_t k = (size_t)sprintf(text, "user,artist,track\nu1,A,T1\nu2,\"B");
    for (int i = 0; i < 10; i++) {
        text[k++] = '\n';
        memset(text + k, 'x', big);
        k += big;
    }
    k += (size_t)sprintf(text + k, "\"\nu3,C,T3\n");
    res = run_mem(&sr_format_csv, "big", text, k, (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 2);
    expect(res, 0, "u1", "A", "T1", SR_TS_NONE, 1);
    expect(res, 1, "u3", "C", "T3", SR_TS_NONE, 1);
    expect_logged(res, "big:3: malformed row (wrong number of fields or bad quoting): quoted "
                       "field runs past 1 MiB");
    assert_int_equal(skipped(res, SR_SKIP_MALFORMED_ROW), 11);
    free(res);

    /* An overlong line inside a join ends it; it is reported after the lines before. */
    k = (size_t)sprintf(text, "user,artist,track\nu1,A,T1\nu2,\"B\n");
    memset(text + k, 'y', SR_MAX_LINE + 10);
    k += SR_MAX_LINE + 10;
    k += (size_t)sprintf(text + k, "\nu3,C,T3\n");
    res = run_mem(&sr_format_csv, "big", text, k, (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 2);
    expect(res, 1, "u3", "C", "T3", SR_TS_NONE, 1);
    assert_int_equal(skipped(res, SR_SKIP_MALFORMED_ROW), 1);
    assert_int_equal(skipped(res, SR_SKIP_LINE_TOO_LONG), 1);
    expect_logged(res, "big:3: malformed row");
    expect_logged(res, "big:4: line longer than 1 MiB");
    free(res);
    free(text);
}

/* A line over 1 MiB between two good ones, for each reader. */
static void test_long_lines(void **state) {
    (void)state;
    static const struct {
        const sr_format *f;
        const char *head, *good;
    } cases[] = {
        {&sr_format_csv, "user,artist,track\n", "u,A,T\n"},
        {&sr_format_csv, "user,artist,track,x\n", "u,A,T,\"1\n2\"\n"},
        {&sr_format_lastfm_1k, "", "user_000001\t2009-05-04T23:08:57Z\t\tA\t\tT\n"},
        {&sr_format_lastfm_csv, "", "A,B,T,05 Mar 2017 13:45\n"},
        {&sr_format_triplets, "", "u\tSOAAAAA12A8C130000\t2\n"},
        {&sr_format_ratings, "", "1\t2\t3\t881250949\n"},
    };
    size_t big = SR_MAX_LINE + 100;
    char *text = malloc(big + 1000);
    assert_non_null(text);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t k = (size_t)sprintf(text, "%s%s", cases[i].head, cases[i].good);
        memcpy(text + k, cases[i].good, 2);
        memset(text + k + 2, 'y', big);
        k += big + 2;
        k += (size_t)sprintf(text + k, "\n%s", cases[i].good);
        result *res = run_mem(cases[i].f, "long", text, k, (run_opts){.user = "u"});
        assert_int_equal(res->err, SR_OK);
        assert_int_equal(skipped(res, SR_SKIP_LINE_TOO_LONG), 1);
        assert_int_equal(res->st.skipped_total, 1);
        assert_int_equal(res->n, 2);
        free(res);
    }
    free(text);
}

static void test_csv_strict(void **state) {
    (void)state;
    /* The first bad record ends the read with the error emit/skip returned. */
    result *res = run_file(&sr_format_csv, "bigquery.csv", (run_opts){.strict = true});
    assert_int_equal(res->err, SR_E_INPUT);
    assert_true(res->stop);
    assert_int_equal(res->n, 3);
    assert_non_null(strstr(res->diag.msg, "bigquery.csv:5:"));
    free(res);
}

static void test_csv_oom(void **state) {
    (void)state;
    /* Every allocation failing in turn: a clean SR_E_NOMEM (or success), no leak. */
    const char *text = "user,artist,track,tags\nu,A,T,\"x\"\"y\"\nu,B,T,\"multi\nline\"\n"
                       "u,\"open,T,x\nu,C,T,x\n";
    size_t n = strlen(text);
    bool ok = false;
    for (long fail = 0; fail < 40 && !ok; fail++) {
        result *res = calloc(1, sizeof *res);
        sr_read_opts opts = {.now = NOW};
        sr_stream s;
        assert_int_equal(sr_stream_init_mem(&s, text, n), SR_OK);
        sr_reader r;
        sr_reader_init(&r, &sr_format_csv, &s, &opts, &res->st, collect, res, &res->diag);
        r.label = "oom";
        sr_mem_fail_after(fail);
        sr_err e = sr_format_csv.read(&r);
        sr_mem_fail_after(-1);
        assert_true(e == SR_OK || e == SR_E_NOMEM);
        if (e == SR_OK) {
            ok = true;
            assert_int_equal(res->n, 3);
        }
        sr_stream_deinit(&s);
        free(res);
    }
    assert_true(ok);
}

/* Last.fm ---------------------------------------------------------------------------- */

static void test_lastfm_1k(void **state) {
    (void)state;
    result *res = run_file(&sr_format_lastfm_1k, "lastfm1k.tsv", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 4);
    expect(res, 0, "user_000001", "The \"Quoted\" Band", "It's a \"Song", 1241478537, 1);
    expect_more(res, 0, "", M "bb");
    expect(res, 1, "user_000001", "No MBID Artist", "Don't Stop", 1241445250, 1);
    expect_more(res, 1, "", "");
    expect(res, 2, "user_000004", "Same Second", "Track A", 1225660745, 1);
    expect(res, 3, "user_000004", "Same Second", "Track B", 1225660745, 1);
    /* The header line is counted nowhere. */
    assert_int_equal(skipped(res, SR_SKIP_MALFORMED_ROW), 1);
    assert_int_equal(skipped(res, SR_SKIP_BAD_TIMESTAMP), 2);
    assert_int_equal(skipped(res, SR_SKIP_EMPTY_ARTIST), 1);
    assert_int_equal(skipped(res, SR_SKIP_EMPTY_TRACK), 1);
    assert_int_equal(skipped(res, SR_SKIP_INVALID_UTF8), 1);
    assert_int_equal(skipped(res, SR_SKIP_CONTROL_CHAR), 1);
    assert_int_equal(skipped(res, SR_SKIP_OLD_TIMESTAMP), 1);
    assert_int_equal(skipped(res, SR_SKIP_EMPTY_USER), 1);
    assert_int_equal(res->st.skipped_total, 9);
    expect_logged(res, "lastfm1k.tsv:4: malformed row (wrong number of fields or bad quoting): "
                       "more than 6 fields");
    expect_logged(res, "lastfm1k.tsv:5: missing, zero or unparseable timestamp: "
                       "2008-13-02T21:15:05Z");
    expect_logged(res, "lastfm1k.tsv:6: missing, zero or unparseable timestamp: no timestamp");
    free(res);

    res = run_file(&sr_format_lastfm_1k, "lastfm1k_noheader.tsv", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 2);
    expect(res, 0, "user_000777", "The Example Band", "Test Song", 1225660445, 1);
    expect(res, 1, "user_000777", "The Example Band", "Other Song", 1225660200, 1);
    expect_more(res, 1, "", "");
    assert_int_equal(res->st.fixed[SR_FIX_BAD_MBID], 1);
    free(res);

    /* Only the first line can be a header; a bad first timestamp with digits is data. */
    res = run_text(&sr_format_lastfm_1k,
                   "u\t2009-02-30T00:00:00Z\t\tA\t\tT\n"
                   "u\ttimestamp\t\tA\t\tT\n",
                   (run_opts){0});
    assert_int_equal(skipped(res, SR_SKIP_BAD_TIMESTAMP), 2);
    free(res);
}

static void test_lastfm_csv(void **state) {
    (void)state;
    result *res = run_file(&sr_format_lastfm_csv, "lastfm.csv", (run_opts){.user = "me"});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 3);
    expect(res, 0, "me", "The Example Band", "Test Song", 1488721500, 1);
    expect_more(res, 0, "Sample Album", "");
    expect(res, 1, "me", "Solo", "No Album Song", 1488704700, 1);
    expect_more(res, 1, "", "");
    expect(res, 2, "me", "Quote \"Band\"", "Track", 1488799800, 1);
    assert_int_equal(skipped(res, SR_SKIP_BAD_TIMESTAMP), 2); /* now playing, 31 Feb */
    assert_int_equal(skipped(res, SR_SKIP_MALFORMED_ROW), 1);
    assert_int_equal(skipped(res, SR_SKIP_EMPTY_ARTIST), 1);
    assert_int_equal(skipped(res, SR_SKIP_FUTURE_TIMESTAMP), 1);
    expect_logged(res, "lastfm.csv:1: missing, zero or unparseable timestamp: no timestamp");
    free(res);

    res = run_file(&sr_format_lastfm_csv, "lastfm_header.csv", (run_opts){.user = "me"});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 2);
    assert_int_equal(res->st.skipped_total, 0);
    expect(res, 0, "me", "The Example Band", "Test Song", 1488721500, 1);
    expect(res, 1, "me", "Other Band", "Other Song", 1488614400, 1);
    free(res);

    /* No --user: the file name gives the user (lastfm-to-csv writes <user>.csv). */
    res = run_file(&sr_format_lastfm_csv, "lastfm_header.csv", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    expect(res, 0, "lastfm_header", "The Example Band", "Test Song", 1488721500, 1);
    free(res);
    /* A name that is no Last.fm user name gives none: the first record fails the file. */
    size_t n;
    char *buf = slurp("fixtures/text/lastfm_header.csv", &n);
    res = run_mem(&sr_format_lastfm_csv, "my scrobbles.csv", buf, n, (run_opts){0});
    assert_int_equal(res->err, SR_E_INPUT);
    free(res);
    free(buf);
}

/* Triplets and ratings --------------------------------------------------------------- */

#define U1 "0000000000000000000000000000000000000abc"
#define U2 "0000000000000000000000000000000000000def"

static void test_triplets(void **state) {
    (void)state;
    result *res = run_file(&sr_format_triplets, "train_triplets_sample.txt", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 3);
    expect(res, 0, U1, "", "SOAAAAA12A8C130000", SR_TS_NONE, 1);
    expect(res, 1, U1, "", "SOAAAAB12A8C130001", SR_TS_NONE, 12);
    expect(res, 2, U2, "", "SOAAAAH12A8C130007", SR_TS_NONE, 3);
    assert_int_equal(res->recs[0].kind, SR_VALUE_PLAYS);
    assert_int_equal(skipped(res, SR_SKIP_BAD_VALUE), 3); /* 0, abc, -3 */
    assert_int_equal(skipped(res, SR_SKIP_MALFORMED_ROW), 1);
    assert_int_equal(skipped(res, SR_SKIP_EMPTY_USER), 1);
    assert_int_equal(skipped(res, SR_SKIP_EMPTY_TRACK), 1);
    assert_int_equal(res->st.skipped_total, 6);
    expect_logged(res, "train_triplets_sample.txt:3: missing, non-numeric or out-of-range count "
                       "or rating: 0");
    free(res);

    res = run_file(&sr_format_triplets, "user_artists.dat", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 3);
    assert_int_equal(res->st.skipped_total, 0);
    expect(res, 0, "2", "", "51", SR_TS_NONE, 13883);
    expect(res, 2, "3", "", "51", SR_TS_NONE, 7);
    free(res);
}

static void test_ratings(void **state) {
    (void)state;
    result *res = run_file(&sr_format_ratings, "u.data", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 3);
    expect(res, 0, "1", "", "10", 881250949, 4);
    expect(res, 1, "1", "", "11", 881251000, 3);
    expect(res, 2, "3", "", "14", SR_TS_NONE, 1);
    assert_int_equal(res->recs[0].kind, SR_VALUE_RATINGS);
    assert_int_equal(skipped(res, SR_SKIP_BAD_VALUE), 1);
    assert_int_equal(skipped(res, SR_SKIP_MALFORMED_ROW), 1);
    assert_int_equal(skipped(res, SR_SKIP_BAD_TIMESTAMP), 2); /* abc, 0 */
    free(res);

    res = run_file(&sr_format_ratings, "ratings.dat", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 3);
    expect(res, 0, "1", "", "1193", 978300760, 5);
    expect(res, 2, "2", "", "3068", 978299000, 4.5);
    assert_int_equal(skipped(res, SR_SKIP_MALFORMED_ROW), 1);
    free(res);

    res = run_file(&sr_format_ratings, "ratings.csv", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 2);
    expect(res, 0, "1", "", "31", 1260759144, 2.5);
    expect(res, 1, "1", "", "1029", 1260759179, 3);
    assert_int_equal(skipped(res, SR_SKIP_BAD_VALUE), 1); /* empty rating */
    assert_int_equal(res->st.skipped_total, 1);
    free(res);

    res = run_file(&sr_format_ratings, "jester.txt", (run_opts){0});
    assert_int_equal(res->err, SR_OK);
    assert_int_equal(res->n, 3);
    expect(res, 0, "1", "", "5", SR_TS_NONE, -7.82);
    expect(res, 1, "1", "", "7", SR_TS_NONE, 4.08);
    expect(res, 2, "2", "", "8", SR_TS_NONE, 0);
    assert_int_equal(res->st.skipped_total, 0);
    free(res);

    res = run_file(&sr_format_ratings, "ratings_plain.tsv", (run_opts){0});
    assert_int_equal(res->n, 2);
    expect(res, 0, "alice", "", "song-17", 1514764800, 4);
    expect(res, 1, "bob", "", "song-18", 1514764900, 2.5);
    free(res);
}

/* Detection ---------------------------------------------------------------------------- */

static void test_detect_matrix(void **state) {
    (void)state;
    const sr_format *fmts[] = {&sr_format_lastfm_1k, &sr_format_lastfm_csv, &sr_format_triplets,
                               &sr_format_ratings, &sr_format_csv};
    static const struct {
        const char *file;
        const sr_format *want;
    } cases[] = {
        {"bigquery.csv", &sr_format_csv},
        {"reordered.csv", &sr_format_csv},
        {"simple.csv", &sr_format_csv},
        {"listens.tsv", &sr_format_csv},
        {"librefm.csv", &sr_format_csv},
        {"mapped.csv", &sr_format_csv},   /* .csv name: read explains the missing column */
        {"noartist.csv", &sr_format_csv}, /* likewise */
        {"lastfm1k.tsv", &sr_format_lastfm_1k},
        {"lastfm1k_noheader.tsv", &sr_format_lastfm_1k},
        {"lastfm.csv", &sr_format_lastfm_csv},
        {"lastfm_header.csv", &sr_format_lastfm_csv},
        {"train_triplets_sample.txt", &sr_format_triplets},
        {"user_artists.dat", &sr_format_triplets},
        {"u.data", &sr_format_ratings},
        {"ratings.dat", &sr_format_ratings},
        {"ratings.csv", &sr_format_ratings},
        {"jester.txt", &sr_format_ratings},
        {"ratings_plain.tsv", &sr_format_ratings},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "fixtures/text/%s", cases[i].file);
        size_t n;
        char *buf = slurp(path, &n);
        /* Whole file, a neutral name, and cut mid-line (all but the last 7 bytes). */
        for (int variant = 0; variant < 3; variant++) {
            const char *name = variant == 1 ? "data" : cases[i].file;
            size_t len = variant == 2 && n > 60 ? n - 7 : n;
            const sr_format *best = NULL;
            int best_score = 0;
            char scores[256] = "";
            for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) {
                int s = fmts[k]->detect(name, (const unsigned char *)buf, len);
                assert_true(s >= 0 && s <= 100);
                size_t sl = strlen(scores);
                snprintf(scores + sl, sizeof scores - sl, " %s=%d", fmts[k]->name, s);
                if (s > best_score) best = fmts[k], best_score = s;
            }
            /* With a neutral name, csv files named only by extension and the named
             * hetrec/u.data cases may fall to another format or none. */
            bool name_only = !strcmp(cases[i].file, "mapped.csv") ||
                             !strcmp(cases[i].file, "noartist.csv") ||
                             !strcmp(cases[i].file, "user_artists.dat");
            if (variant == 1 && name_only) continue;
            if (best != cases[i].want) {
                free(buf);
                fail_msg("%s (variant %d): picked %s, want %s;%s", cases[i].file, variant,
                         best ? best->name : "none", cases[i].want->name, scores);
            }
        }
        free(buf);
    }
    /* Things that are none of these. */
    const char *none[] = {"", "hello world\n", "{\"listened_at\": 1, \"track_metadata\": {}}\n",
                          "[{\"ts\": \"2021\"}]", "\x28\xb5\x2f\xfd garbage"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++)
            assert_int_equal(
                fmts[k]->detect("x.json", (const unsigned char *)none[i], strlen(none[i])), 0);
}

/* delim.h ------------------------------------------------------------------------------ */

static void test_delim(void **state) {
    (void)state;
    sr_str f[4];
    assert_int_equal(sr_delim_split(sr_str_c(""), ',', f, 4), 1);
    assert_int_equal(f[0].n, 0);
    assert_int_equal(sr_delim_split(sr_str_c("a,,b,"), ',', f, 4), 4);
    assert_int_equal(f[3].n, 0);
    assert_int_equal(sr_delim_split(sr_str_c("a,b,c,d,e,f"), ',', f, 3), 4);
    assert_int_equal(sr_delim_split_dcolon(sr_str_c("1::a:b::3"), f, 4), 3);
    assert_true(sr_str_eq(f[1], "a:b"));
    assert_int_equal(sr_delim_split_ws(sr_str_c("  a \t b  "), f, 4), 2);
    assert_true(sr_str_eq(f[1], "b"));
    assert_int_equal(sr_delim_split_ws(sr_str_c(" \t "), f, 4), 0);

    sr_delim_buf b = {0};
    assert_int_equal(sr_delim_split_csv(sr_str_c("\"a\"\"b\",\"\",c\"d"), ',', f, 4, &b), 3);
    assert_true(sr_str_eq(f[0], "a\"b"));
    assert_int_equal(f[1].n, 0);
    assert_true(sr_str_eq(f[2], "c\"d"));
    assert_int_equal(sr_delim_split_csv(sr_str_c("\"x\"\"\",\"y\"\"z\""), ',', f, 4, &b), 2);
    assert_true(sr_str_eq(f[0], "x\""));
    assert_true(sr_str_eq(f[1], "y\"z"));
    assert_int_equal(sr_delim_split_csv(sr_str_c("\"a\"b,c"), ',', f, 4, &b), SR_CSV_BAD_QUOTE);
    assert_int_equal(sr_delim_split_csv(sr_str_c("a,\"b"), ',', f, 4, &b), SR_CSV_OPEN);
    assert_int_equal(sr_delim_split_csv(sr_str_c("a,\"b\"\""), ',', f, 4, &b), SR_CSV_OPEN);
    sr_delim_buf_free(&b);

    assert_int_equal(sr_delim_csv_state("a,\"b", 4, ',', 0), SR_CSV_ST_IN_QUOTES);
    assert_int_equal(sr_delim_csv_state("a,\"b\"\"c", 7, ',', 0), SR_CSV_ST_IN_QUOTES);
    assert_int_equal(sr_delim_csv_state("x\",y", 4, ',', SR_CSV_ST_IN_QUOTES), SR_CSV_ST_UNQUOTED);

    double v;
    assert_true(sr_delim_parse_number(sr_str_c(" 3.5 "), &v) && v == 3.5);
    assert_true(sr_delim_parse_number(sr_str_c("-0.1"), &v) && v == -0.1);
    assert_true(sr_delim_parse_number(sr_str_c("4."), &v) && v == 4);
    assert_true(sr_delim_parse_number(sr_str_c(".5"), &v) && v == 0.5);
    assert_false(sr_delim_parse_number(sr_str_c("."), &v));
    assert_false(sr_delim_parse_number(sr_str_c("1e3"), &v));
    assert_false(sr_delim_parse_number(sr_str_c("nan"), &v));
    assert_false(sr_delim_parse_number(sr_str_c(""), &v));
    assert_true(sr_delim_parse_count(sr_str_c("12"), &v) && v == 12);
    assert_true(sr_delim_parse_count(sr_str_c("3.0"), &v) && v == 3);
    assert_false(sr_delim_parse_count(sr_str_c("0"), &v));
    assert_false(sr_delim_parse_count(sr_str_c("2.5"), &v));
    assert_false(sr_delim_parse_count(sr_str_c("-1"), &v));
    assert_false(sr_delim_parse_count(sr_str_c("99999999999999"), &v));

    char out[64];
    assert_string_equal(sr_delim_show(out, sizeof out, sr_str_c("a\tb\xff")), "a?b?");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delim),         cmocka_unit_test(test_csv_bigquery),
        cmocka_unit_test(test_csv_reordered), cmocka_unit_test(test_csv_simple),
        cmocka_unit_test(test_csv_tsv),       cmocka_unit_test(test_csv_librefm),
        cmocka_unit_test(test_csv_columns),   cmocka_unit_test(test_csv_missing_column),
        cmocka_unit_test(test_csv_quotes),    cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_csv_strict),    cmocka_unit_test(test_csv_oom),
        cmocka_unit_test(test_lastfm_1k),     cmocka_unit_test(test_lastfm_csv),
        cmocka_unit_test(test_triplets),      cmocka_unit_test(test_ratings),
        cmocka_unit_test(test_detect_matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
