/* Tests of the JSON readers: ListenBrainz JSON Lines (lb_jsonl.c), ListenBrainz JSON
 * arrays and API documents (lb_json.c), Spotify streaming history (spotify.c), the
 * streaming array splitter (json_array.c) and detection.
 *
 * Each shape reads its fixture in tests/fixtures/json/ and every record is compared
 * field by field; each bad case is counted under its skip reason while the good records
 * around it are kept. Overlong lines and elements are generated here, not committed.
 * Readers run through a sr_reader with a capturing accept callback and a fixed "now"
 * (2025-06-15) so that the future-timestamp rule is deterministic; the "file:line"
 * reports of skipped records are kept too, to check the line numbers of array elements.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/json_array.h"
#include "ingest/reader.h"
#include "util/mem.h"

extern const sr_format sr_format_lb_jsonl, sr_format_lb_json, sr_format_spotify;

#define NOW 1750000000 /* 2025-06-15 */

typedef struct rec {
    char user[64], artist[128], track[128], release[128], mbid[64];
    int64_t ts;
} rec;

typedef struct capture {
    rec r[64];
    size_t n;
} capture;

static void copy(char *dst, size_t cap, sr_str s) {
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    if (n) memcpy(dst, s.p, n);
    dst[n] = 0;
}

static sr_err accept_cb(void *user, const sr_listen *l, sr_value_kind kind) {
    capture *c = user;
    assert_int_equal(kind, SR_VALUE_PLAYS);
    if (c->n == 64) return SR_OK; /* keeps the first 64; stats count them all */
    rec *r = &c->r[c->n++];
    copy(r->user, sizeof r->user, l->user);
    copy(r->artist, sizeof r->artist, l->artist);
    copy(r->track, sizeof r->track, l->track);
    copy(r->release, sizeof r->release, l->release);
    copy(r->mbid, sizeof r->mbid, l->recording_mbid);
    r->ts = l->ts;
    return SR_OK;
}

typedef struct run {
    capture cap;
    sr_read_stats st;
    sr_diag diag;
    sr_err err;
    char log[4096]; /* the reports, one a line */
    size_t log_n;
} run;

static void log_cb(void *user, sr_log_level level, const char *text) {
    (void)level;
    run *R = user;
    int k = snprintf(R->log + R->log_n, sizeof R->log - R->log_n, "%s\n", text);
    if (k > 0) R->log_n += (size_t)k < sizeof R->log - R->log_n ? (size_t)k : 0;
}

/* Fails unless a report starts with prefix ("file:line: words"). */
static void expect_report(const run *R, const char *prefix) {
    for (const char *l = R->log; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (!strncmp(l, prefix, strlen(prefix))) return;
    fail_msg("no report '%s...' in:\n%s", prefix, R->log);
}

static void *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static run *read_mem_opts(const sr_format *f, const char *member, const void *data, size_t n,
                          const char *user, int64_t min_ms) {
    run *R = calloc(1, sizeof *R);
    assert_non_null(R);
    sr_stream s;
    assert_int_equal(sr_stream_init_mem(&s, data, n), SR_OK);
    sr_log log = {.message = log_cb, .user = R};
    sr_read_opts o = {.min_ms_played = min_ms, .now = NOW, .report_first = 100, .log = &log};
    sr_reader r;
    sr_reader_init(&r, f, &s, &o, &R->st, accept_cb, &R->cap, &R->diag);
    r.label = r.member = member;
    r.default_user = sr_str_c(user);
    R->err = f->read(&r);
    sr_stream_deinit(&s);
    return R;
}

static run *read_mem(const sr_format *f, const char *member, const void *data, size_t n,
                     const char *user) {
    return read_mem_opts(f, member, data, n, user, 30000);
}

static run *read_fixture_opts(const sr_format *f, const char *name, const char *user,
                              int64_t min_ms) {
    char path[256];
    snprintf(path, sizeof path, "fixtures/json/%s", name);
    size_t n;
    void *data = slurp(path, &n);
    run *R = read_mem_opts(f, name, data, n, user, min_ms);
    free(data);
    return R;
}

static run *read_fixture(const sr_format *f, const char *name, const char *user) {
    return read_fixture_opts(f, name, user, 30000);
}

static void check(const run *R, size_t i, const char *user, const char *artist, const char *track,
                  const char *release, const char *mbid, int64_t ts) {
    assert_true(i < R->cap.n);
    const rec *r = &R->cap.r[i];
    assert_string_equal(r->user, user);
    assert_string_equal(r->artist, artist);
    assert_string_equal(r->track, track);
    assert_string_equal(r->release, release);
    assert_string_equal(r->mbid, mbid);
    assert_int_equal(r->ts, ts);
}

static uint64_t total_skips(const run *R) {
    uint64_t t = 0;
    for (int i = 0; i < SR_SKIP__COUNT; i++) t += R->st.skipped[i];
    return t;
}

#define M1 "11111111-1111-4111-8111-111111111111"
#define M2 "22222222-2222-4222-8222-222222222222"
#define M3 "33333333-3333-4333-8333-333333333333"
#define M4 "44444444-4444-4444-8444-444444444444"

/* ---- ListenBrainz JSON Lines ---- */

static void test_lb_dump_lines(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_lb_jsonl, "dump.listens", "");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 3);
    assert_int_equal(total_skips(R), 0);
    check(R, 0, "alice", "The Example Band", "Test Song", "Sample Album", M1, 1514764800);
    /* Escaped UTF-8 incl. a surrogate pair (U+1F3B5); release from additional_info. */
    check(R, 1, "bob", "Caf\xc3\xa9 Tacuba", "Se\xc3\xb1or \xf0\x9f\x8e\xb5", "Influx Era Album",
          "", 1514764900);
    /* Any key order, raw UTF-8, a tab escape (kept: tabs are not control characters). */
    check(R, 2, "alice",
          "\xc3\x9cn\xc3\xaf"
          "c\xc3\xb6"
          "d\xc3\xa9 Artist",
          "Tab\tand /slash", "", "", 1514765000);
    free(R);
}

static void test_lb_api_lines(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_lb_jsonl, "api.jsonl", "");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 4);
    assert_int_equal(total_skips(R), 0);
    check(R, 0, "carol", "Another Artist", "Untitled Track", "Sample Album", M2, 1600000000);
    check(R, 1, "carol", "String Time", "Song B", "", "", 1600000100);  /* "1600000100" */
    check(R, 2, "carol", "Artist C", "Float Time", "", "", 1600000200); /* 1600000200.75 */
    check(R, 3, "carol", "Old Key", "Song D", "", "", 1600000300);      /* ts_since_epoch */
    free(R);
}

static void test_lb_zip_export_lines(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_lb_jsonl, "export_2024.jsonl", "zipuser");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 2);
    check(R, 0, "zipuser", "Zip Artist", "Zip Song", "Zip Album", "", 1700000000);
    check(R, 1, "zipuser", "Mapped Artist", "Mapped Song", "", M3, 1700000100);
    free(R);
}

static void test_lb_spark_lines(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_lb_jsonl, "spark.json", "");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 2);
    check(R, 0, "dave", "Spark Artist", "Spark Song", "", M4, 1559390400); /* 2019-06-01 12:00 */
    check(R, 1, "dave", "Spark Artist 2", "Spark Song 2", "Spark Album", "", 1559390730);
    free(R);
}

static void test_lb_flat_lines(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_lb_jsonl, "flat.jsonl", "flatuser");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 1);
    check(R, 0, "flatuser", "Flat Artist", "Flat Song", "Flat Album", "", 1514764800);
    free(R);
}

static void test_lb_bad_lines(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_lb_jsonl, "bad.listens", "");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 3);
    check(R, 0, "alice", "Good One", "First", "", "", 1514764800);
    check(R, 1, "alice", "NBSP Padded", "Bad Mbid", "", "", 1514764800);
    check(R, 2, "alice", "Good Two", "Last", "", "", 1514764800);
    const sr_read_stats *s = &R->st;
    assert_int_equal(s->skipped[SR_SKIP_MALFORMED_JSON], 1);
    assert_int_equal(s->skipped[SR_SKIP_EMPTY_ARTIST], 2); /* missing, blank */
    assert_int_equal(s->skipped[SR_SKIP_EMPTY_TRACK], 1);
    assert_int_equal(s->skipped[SR_SKIP_INVALID_UTF8], 1);
    assert_int_equal(s->skipped[SR_SKIP_CONTROL_CHAR], 2);  /* \u0000, raw 0x01 */
    assert_int_equal(s->skipped[SR_SKIP_BAD_TIMESTAMP], 3); /* 0, "yesterday", none */
    assert_int_equal(s->skipped[SR_SKIP_FUTURE_TIMESTAMP], 1);
    assert_int_equal(s->skipped[SR_SKIP_OLD_TIMESTAMP], 1);
    assert_int_equal(s->skipped[SR_SKIP_BAD_FIELD], 3); /* tm string, artist 5, [1,2] */
    assert_int_equal(total_skips(R), 15);
    assert_int_equal(s->fixed[SR_FIX_BAD_MBID], 1);
    assert_int_equal(s->fixed[SR_FIX_WHITESPACE], 1);
    free(R);
}

static const char good_line[] = "{\"user_name\": \"u\", \"timestamp\": 1514764800, "
                                "\"track_metadata\": {\"artist_name\": \"A\", \"track_name\": "
                                "\"T\"}}\n";

static void test_lb_line_too_long(void **state) {
    (void)state;
    size_t big = SR_MAX_LINE + 1000, gl = strlen(good_line);
    char *buf = malloc(2 * gl + big + 1);
    assert_non_null(buf);
    memcpy(buf, good_line, gl);
    /* A syntactically fine listen whose additional_info holds a 1 MiB string. */
    char *p = buf + gl;
    p += sprintf(p, "%s",
                 "{\"timestamp\": 1514764800, \"track_metadata\": {\"artist_name\": "
                 "\"A\", \"track_name\": \"T\", \"additional_info\": {\"x\": \"");
    memset(p, 'x', big - 200);
    p += big - 200;
    p += sprintf(p, "\"}}}\n");
    memcpy(p, good_line, gl);
    p += gl;
    run *R = read_mem(&sr_format_lb_jsonl, "big.listens", buf, (size_t)(p - buf), "");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 2);
    assert_int_equal(R->st.skipped[SR_SKIP_LINE_TOO_LONG], 1);
    assert_int_equal(total_skips(R), 1);
    free(R);
    free(buf);
}

static void test_lb_bom_and_crlf(void **state) {
    (void)state;
    const char data[] = "\xEF\xBB\xBF{\"user_name\": \"u\", \"timestamp\": 1514764800, "
                        "\"track_metadata\": {\"artist_name\": \"A\", \"track_name\": \"T\"}}\r\n"
                        "{\"user_name\": \"u\", \"timestamp\": 1514764801, "
                        "\"track_metadata\": {\"artist_name\": \"A\", \"track_name\": \"U\"}}\r\n";
    run *R = read_mem(&sr_format_lb_jsonl, "x.jsonl", data, sizeof data - 1, "");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 2);
    check(R, 1, "u", "A", "U", "", "", 1514764801);
    free(R);
}

static void test_lb_no_user_needs_default(void **state) {
    (void)state;
    /* Without a user in the records or a default, the driver must be told (--user). */
    run *R = read_fixture(&sr_format_lb_jsonl, "flat.jsonl", "");
    assert_int_equal(R->err, SR_E_INPUT);
    assert_non_null(strstr(R->diag.msg, "--user"));
    free(R);
}

/* ---- ListenBrainz JSON arrays and API documents ---- */

static void test_lb_json_flat_export(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_lb_json, "alice_lb-2019-01-01.json", "alice");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 2);
    check(R, 0, "alice", "Flat Export Artist", "Newest", "Flat Export Album", M1, 1546300800);
    check(R, 1, "alice", "Flat Export Artist", "Older \"quoted\" [x]", "From Additional Info", "",
          1546214400);
    free(R);
}

static void test_lb_json_api_export(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_lb_json, "bob_lb-2021-05-01.json", "bob");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 2);
    check(R, 0, "bob", "Api Export Artist", "Api Song 1", "Api Album", M2, 1619827200);
    check(R, 1, "bob", "Api Export Artist", "Api Song 2", "", "", 1619827000);
    free(R);
}

static void test_lb_json_payload(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_lb_json, "api_response.json", "");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 2);
    check(R, 0, "erin", "Page Artist", "Page Song 1", "", M3, 1650000100);
    check(R, 1, "erin", "Page Artist", "Page Song 2", "", "", 1650000000); /* payload.user_id */
    free(R);
}

/* Whole API documents: elements are reported by the line they start on too, found in
 * the document's text (the payload's last spelling, as jansson keeps it); when the
 * array cannot be found as written (an escaped key) they are numbered instead. */
static void test_lb_json_payload_lines(void **state) {
    (void)state;
#define G                                                                                          \
    "{\"listened_at\": 1600000000, \"user_name\": \"u\", \"track_metadata\": "                     \
    "{\"artist_name\": \"A\", \"track_name\": \"T\"}}"
    static const char pretty[] = "\n"
                                 "{\n"
                                 "  \"payload\": {\n"
                                 "    \"count\": 4, \"user_id\": \"u\",\n"
                                 "    \"listens\": [\n"
                                 "      " G ",\n"
                                 "      42, \"s\",\n"
                                 "      {\"listened_at\": 0,\n"
                                 "       \"track_metadata\": {}}\n"
                                 "    ]\n"
                                 "  }\n"
                                 "}\n";
    static const char submit[] = "{\"listen_type\": \"import\",\n"
                                 " \"payload\": [\n"
                                 "  " G ", 5,\n"
                                 "  [\"x\",\n"
                                 "   \"y\"], 6\n"
                                 "]}";
    static const char twice[] = "{\"payload\": {\"listens\": [1]},\n"
                                " \"payload\": {\"listens\": [\n"
                                "\n"
                                "5]}}";
    static const char escaped[] = "{\"payload\": {\"listens\": [" G ",\n"
                                  "\n"
                                  "5]},\n"
                                  " \"pay\\u006coad\": {\"listens\": [\n"
                                  "\n"
                                  "9]}}";
    static const struct {
        const char *doc;
        size_t kept;
        const char *reports;
    } cases[] = {
        {pretty, 1,
         "p.json:7: field of the wrong type: not a JSON object\n"
         "p.json:7: field of the wrong type: not a JSON object\n"
         "p.json:8: missing or empty artist\n"},
        {submit, 1,
         "p.json:3: field of the wrong type: not a JSON object\n"
         "p.json:4: field of the wrong type: not a JSON object\n"
         "p.json:5: field of the wrong type: not a JSON object\n"},
        {twice, 0, "p.json:4: field of the wrong type: not a JSON object\n"},
        {escaped, 0, "p.json:1: field of the wrong type: not a JSON object\n"},
    };
#undef G
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run *R = read_mem(&sr_format_lb_json, "p.json", cases[i].doc, strlen(cases[i].doc), "");
        if (R->err != SR_OK || R->cap.n != cases[i].kept || strcmp(R->log, cases[i].reports))
            fail_msg("case %zu: err %d kept %zu diag '%s' reports:\n%s", i, R->err, R->cap.n,
                     R->diag.msg, R->log);
        free(R);
    }
}

static void test_lb_json_bad_elements(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_lb_json, "bad_array.json", "");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 2);
    check(R, 0, "frank", "Good", "One", "", "", 1600000000);
    check(R, 1, "frank", "Good", "Two", "", "", 1600000000);
    assert_int_equal(R->st.skipped[SR_SKIP_BAD_FIELD], 2); /* 42, "a string" */
    assert_int_equal(R->st.skipped[SR_SKIP_MALFORMED_JSON], 1);
    assert_int_equal(R->st.skipped[SR_SKIP_EMPTY_ARTIST], 1);
    assert_int_equal(total_skips(R), 4);
    /* Reported by the line each element starts on (the first is on line 2). */
    expect_report(R, "bad_array.json:3: field of the wrong type: not a JSON object");
    expect_report(R, "bad_array.json:4: malformed JSON");
    expect_report(R, "bad_array.json:5: missing or empty artist");
    expect_report(R, "bad_array.json:6: field of the wrong type: not a JSON object");
    free(R);
}

static void test_lb_json_truncated(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_lb_json, "truncated.json", "");
    assert_int_equal(R->err, SR_E_TRUNCATED);
    assert_non_null(strstr(R->diag.msg, "truncated.json: truncated JSON array"));
    assert_int_equal(R->cap.n, 2); /* kept */
    check(R, 1, "gina", "Kept", "Two", "", "", 1600000100);
    free(R);
}

static void test_lb_json_not_array(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_lb_json, "not_array.json", "u");
    assert_int_equal(R->err, SR_E_INPUT);
    assert_non_null(strstr(R->diag.msg, "not_array.json: not a JSON array"));
    assert_int_equal(R->cap.n, 0);
    free(R);
    R = read_fixture(&sr_format_spotify, "not_array.json", "u");
    assert_int_equal(R->err, SR_E_INPUT);
    assert_non_null(strstr(R->diag.msg, "not_array.json: not a JSON array at byte 0"));
    free(R);
}

/* Array-level faults fail the file after the elements before them were emitted. */
static void test_lb_json_malformed_arrays(void **state) {
    (void)state;
#define L(t)                                                                                       \
    "{\"listened_at\": 1600000000, \"user_name\": \"u\", \"track_metadata\": "                     \
    "{\"artist_name\": \"A\", \"track_name\": \"" t "\"}}"
    static const struct {
        const char *doc;
        sr_err err;
        size_t kept;
        const char *words;
    } cases[] = {
        {"[" L("1") " " L("2") "]", SR_E_INPUT, 1, "expected ',' or ']' at byte"},
        {"[" L("1") ", {\"a\": [1}]", SR_E_INPUT, 1, "mismatched bracket"},
        {"[" L("1") "] x", SR_E_INPUT, 1, "unexpected data after the JSON array"},
        {"[" L("1") ",]", SR_E_INPUT, 1, "']' after ','"},
        {"[" L("1") ",", SR_E_TRUNCATED, 1, "no closing ']'"},
        {"[" L("1") ", " L("2"), SR_E_TRUNCATED, 2, "no closing ']'"},
        {"[" L("1") ", \"open", SR_E_TRUNCATED, 1, "element not closed"},
        {"[" L("1") ", :", SR_E_INPUT, 1, "unexpected byte"},
        {"", SR_E_INPUT, 0, "empty document"},
        {"{\"payload\": {\"count\": 0}}", SR_E_INPUT, 0, "without a payload.listens array"},
        {"{\"payload\": {\"listens\": []}} x", SR_E_INPUT, 0, "not a JSON array or API response"},
        {"{\"listen_type\": \"import\", \"payload\": [" L("1") "]}", SR_OK, 1, ""},
        {"{\"payload\": {\"listens\": [" L("1") ", 5]}}", SR_OK, 1, ""},
        {"  [ ]  \n", SR_OK, 0, ""},
        {"[" L("1") "]\n\n", SR_OK, 1, ""},
        {"\xEF\xBB\xBF [" L("1") "]", SR_OK, 1, ""},
    };
#undef L
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run *R = read_mem(&sr_format_lb_json, "m.json", cases[i].doc, strlen(cases[i].doc), "");
        if (R->err != cases[i].err || R->cap.n != cases[i].kept ||
            !strstr(R->diag.msg, cases[i].words))
            fail_msg("case %zu: err %d kept %zu diag '%s'", i, R->err, R->cap.n, R->diag.msg);
        free(R);
    }
}

static void test_lb_json_element_too_long(void **state) {
    (void)state;
    const char *g = "{\"listened_at\": 1600000000, \"user_name\": \"u\", \"track_metadata\": "
                    "{\"artist_name\": \"A\", \"track_name\": \"T\"}}";
    size_t big = SR_MAX_LINE + 5000, gl = strlen(g);
    char *buf = malloc(2 * gl + big + 100);
    assert_non_null(buf);
    char *p = buf;
    p += sprintf(p, "[%s,\n{\"x\": [\"", g);
    /* brackets and quotes inside the long string must not confuse the splitter */
    for (size_t i = 0; i < big; i++) *p++ = "ab]}{[\\\"c"[i % 9 == 8 ? 0 : i % 9];
    p += sprintf(p, "\"]},\n%s]", g);
    run *R = read_mem(&sr_format_lb_json, "big.json", buf, (size_t)(p - buf), "");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 2);
    assert_int_equal(R->st.skipped[SR_SKIP_LINE_TOO_LONG], 1);
    free(R);
    free(buf);
}

/* Elements straddling the splitter's 64 KiB window, and elements bigger than it. */
static void test_lb_json_window_boundaries(void **state) {
    (void)state;
    size_t cap = 8u << 20, len = 0, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    buf[len++] = '[';
    for (size_t i = 0; len < cap - 400000; i++, n++) {
        size_t pad = i % 7 == 6 ? 70000 + i * 997 % 200000 : i * 7919 % 3000;
        len += (size_t)sprintf(buf + len,
                               "%s{\"listened_at\": %zu, \"user_name\": \"u\", \"track_metadata\": "
                               "{\"artist_name\": \"A\", \"track_name\": \"T%zu\", "
                               "\"additional_info\": {\"pad\": \"",
                               i ? ",\n" : "", (size_t)1600000000 + i, i);
        /* brackets, and escaped quotes (\\") every 50 bytes */
        for (size_t k = 0; k < pad; k++)
            buf[len++] = k % 50 == 48 ? '\\' : k % 50 == 49 ? '"' : "x{]"[k % 3];
        if (pad && buf[len - 1] == '\\') buf[len - 1] = 'y'; /* no escaped closing quote */
        len += (size_t)sprintf(buf + len, "\"}}}");
    }
    buf[len++] = ']';
    run *R = read_mem(&sr_format_lb_json, "w.json", buf, len, "");
    if (R->err) fail_msg("%s", R->diag.msg);
    assert_int_equal(total_skips(R), 0);
    assert_int_equal(R->st.accepted, n);
    free(R);
    free(buf);
}

/* ---- Spotify ---- */

static void test_spotify_account(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_spotify, "StreamingHistory0.json", "spot");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 2);
    /* 2020-12-01 18:04 UTC = 1606845840; minus 201 s played */
    check(R, 0, "spot", "The Example Band", "Test Song", "", "", 1606845840 - 201);
    check(R, 1, "spot", "Third Artist", "Long Enough", "", "", 1606846800 - 30);
    assert_int_equal(R->st.skipped[SR_SKIP_SHORT_PLAY], 2);
    assert_int_equal(total_skips(R), 2);
    /* Pretty-printed: the 2nd and 3rd elements start on lines 8 and 14, not "2" and "3". */
    expect_report(R, "StreamingHistory0.json:8: played for less than the minimum time");
    expect_report(R, "StreamingHistory0.json:14: played for less than the minimum time");
    free(R);
    R = read_fixture_opts(&sr_format_spotify, "StreamingHistory0.json", "spot", 0);
    assert_int_equal(R->cap.n, 4);
    free(R);
}

static void test_spotify_extended(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_spotify, "endsong_0.json", "fallback");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 2);
    /* 2021-06-01T18:03:27Z = 1622570607 */
    check(R, 0, "spotuser", "The Example Band", "Test Song", "Sample Album", "", 1622570607 - 201);
    check(R, 1, "spotuser", "Second Band", "Second Song", "", "", 1622573400 - 240);
    assert_int_equal(R->st.skipped[SR_SKIP_SHORT_PLAY], 1);
    assert_int_equal(R->st.skipped[SR_SKIP_NON_MUSIC], 2); /* episode, null track */
    assert_int_equal(R->st.skipped[SR_SKIP_INCOGNITO], 1);
    assert_int_equal(total_skips(R), 4);
    free(R);
}

static void test_spotify_audio_2023(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_spotify, "Streaming_History_Audio_2023_0.json", "me");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 1);
    /* 2023-03-01T10:00:00Z = 1677664800 */
    check(R, 0, "me", "New Format Artist", "New Format Song", "New Album", "", 1677664800 - 95);
    assert_int_equal(R->st.skipped[SR_SKIP_NON_MUSIC], 1); /* audiobook */
    free(R);
}

static void test_spotify_podcast_file(void **state) {
    (void)state;
    run *R = read_fixture(&sr_format_spotify, "StreamingHistory_podcast_0.json", "me");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 0);
    assert_int_equal(R->st.skipped[SR_SKIP_NON_MUSIC], 2);
    free(R);
}

static void test_spotify_bad_rows(void **state) {
    (void)state;
    const char doc[] =
        "[{\"endTime\": \"2020-12-01 18:04\", \"artistName\": \"A\", \"trackName\": \"T\", "
        "\"msPlayed\": \"45000\"},"
        " {\"endTime\": \"2020-12-01 18:04\", \"artistName\": \"A\", \"trackName\": \"T\"},"
        " {\"endTime\": \"soon\", \"artistName\": \"A\", \"trackName\": \"T\", \"msPlayed\": "
        "40000},"
        " {\"endTime\": \"2020-12-01 18:04\", \"artistName\": 7, \"trackName\": \"T\", "
        "\"msPlayed\": 40000},"
        " {\"foo\": 1}, [], {\"endTime\": \"2020-12-01 18:04\", \"artistName\": \"\", "
        "\"trackName\": \"T\", \"msPlayed\": 40000},"
        " {\"ts\": \"2021-06-01T18:03:27Z\", \"ms_played\": -5, \"master_metadata_track_name\": "
        "\"T\", \"master_metadata_album_artist_name\": \"A\"},"
        " {\"endTime\": \"2020-12-01 18:04\", \"artistName\": \"A\xff\", \"trackName\": \"T\", "
        "\"msPlayed\": 40000}]";
    run *R = read_mem(&sr_format_spotify, "StreamingHistory1.json", doc, sizeof doc - 1, "me");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 1);
    check(R, 0, "me", "A", "T", "", "", 1606845840 - 45);
    assert_int_equal(R->st.skipped[SR_SKIP_BAD_FIELD], 5); /* no ms, artist 7, foo, [], -5 */
    assert_int_equal(R->st.skipped[SR_SKIP_BAD_TIMESTAMP], 1);
    assert_int_equal(R->st.skipped[SR_SKIP_EMPTY_ARTIST], 1);
    assert_int_equal(R->st.skipped[SR_SKIP_INVALID_UTF8], 1);
    assert_int_equal(total_skips(R), 8);
    free(R);
}

/* A bad record is reported on the line its element starts on: the 1st element of a
 * pretty-printed history on line 3 (after a blank line), two elements sharing line 9,
 * and every element of a compact array on line 1. */
static void test_spotify_report_lines(void **state) {
    (void)state;
    /* A row without its msPlayed value and closing brace. */
#define H                                                                                          \
    "{\"endTime\": \"2020-12-01 18:04\", \"artistName\": \"A\", \"trackName\": \"T\", "            \
    "\"msPlayed\": "
    const char pretty[] = "[\n"
                          "\n"
                          "  {\n"
                          "    \"endTime\": \"2020-12-01 18:04\",\n"
                          "    \"artistName\": \"A\", \"trackName\": \"T\",\n"
                          "    \"msPlayed\": 1250\n"
                          "  },\n"
                          "  " H "40000},\n"
                          "  " H "100}, " H "200},\n"
                          "  " H "300}\n"
                          "]\n";
    run *R =
        read_mem(&sr_format_spotify, "StreamingHistory0.json", pretty, sizeof pretty - 1, "me");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 1);
    assert_int_equal(R->st.skipped[SR_SKIP_SHORT_PLAY], 4);
    assert_string_equal(R->log,
                        "StreamingHistory0.json:3: played for less than the minimum time\n"
                        "StreamingHistory0.json:9: played for less than the minimum time\n"
                        "StreamingHistory0.json:9: played for less than the minimum time\n"
                        "StreamingHistory0.json:10: played for less than the minimum time\n");
    free(R);

    const char compact[] = "[" H "100}," H "40000}," H "200}]";
    R = read_mem(&sr_format_spotify, "StreamingHistory1.json", compact, sizeof compact - 1, "me");
    assert_int_equal(R->err, SR_OK);
    assert_int_equal(R->cap.n, 1);
    assert_string_equal(R->log,
                        "StreamingHistory1.json:1: played for less than the minimum time\n"
                        "StreamingHistory1.json:1: played for less than the minimum time\n");
    free(R);
#undef H
}

/* ---- the splitter, fed in tiny random pieces ---- */

typedef struct drip {
    const char *p;
    size_t n, off;
    uint32_t rng;
} drip;

static ssize_t drip_fill(void *src, void *buf, size_t cap, sr_diag *d) {
    (void)d;
    drip *s = src;
    s->rng = s->rng * 1103515245u + 12345u;
    size_t k = 1 + (s->rng >> 16) % 7;
    if (k > cap) k = cap;
    if (k > s->n - s->off) k = s->n - s->off;
    memcpy(buf, s->p + s->off, k);
    s->off += k;
    return (ssize_t)k;
}

static void test_json_array_split(void **state) {
    (void)state;
    const char doc[] =
        " [ {\"a\": \"x]}\\\"\\\\\", \"b\": [1, {\"c\": []}]} ,\n\t\"s\\\"]\" , 12.5e3,"
        "true,null , [[],[{}]], {} ] ";
    const char *want[] = {"{\"a\": \"x]}\\\"\\\\\", \"b\": [1, {\"c\": []}]}",
                          "\"s\\\"]\"",
                          "12.5e3",
                          "true",
                          "null",
                          "[[],[{}]]",
                          "{}"};
    for (uint32_t seed = 1; seed < 50; seed++) {
        drip src = {doc, sizeof doc - 1, 0, seed};
        sr_stream s;
        assert_int_equal(sr_stream_init(&s, drip_fill, &src), SR_OK);
        sr_json_array a;
        sr_diag d = {{0}};
        assert_int_equal(sr_json_array_open(&a, &s, 0, "t", &d), SR_OK);
        size_t i = 0;
        sr_json_elem el;
        int k;
        while ((k = sr_json_array_next(&a, &el, &d)) == SR_JA_ELEMENT) {
            assert_true(i < 7);
            assert_int_equal(el.text.n, strlen(want[i]));
            assert_memory_equal(el.text.p, want[i], el.text.n);
            assert_int_equal(a.index, i + 1);
            i++;
        }
        assert_int_equal(k, SR_JA_END);
        assert_int_equal(i, 7);
        sr_json_array_close(&a);
        sr_stream_deinit(&s);
    }
}

/* The line each element starts on: elements spanning lines, several on one line, CRLF,
 * blank lines, a BOM, and raw newlines inside strings (invalid JSON, but lines of the
 * file: the element parser rejects such an element, and the ones after it must keep
 * their lines), whole or fed in tiny pieces. */
static void test_json_array_lines(void **state) {
    (void)state;
    static const struct {
        const char *doc;
        size_t n;
        uint64_t lines[10];
    } cases[] = {
        {"[{\"a\": 1}, 2, \"s\", [3], {}]", 5, {1, 1, 1, 1, 1}},
        {"[\n"
         "  {\"a\": 1,\n"
         "   \"b\": [1,\n"
         "    2]},\n"
         "  3, \"x\", {}\n"
         "  ,\r\n"
         "\n"
         "  \"raw\nnewline\", \"esc\\\naped\", {\"k\":\n"
         "\"v\"}, null,\n"
         "\"\\\\\", \"\\\"\n\"]\n",
         10,
         {2, 5, 5, 5, 8, 9, 10, 11, 12, 12}},
        {"\xEF\xBB\xBF\n\r\n[\n{}]", 1, {4}},
        {"[\n\n\n\n\n\n\n\n\n\n\n1,\n\t\"a\tb\nc\"\n,2]", 3, {12, 13, 15}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (uint32_t seed = 0; seed < 40; seed++) {
            size_t len = strlen(cases[c].doc);
            drip src = {cases[c].doc, len, 0, seed};
            sr_stream s;
            if (seed == 0)
                assert_int_equal(sr_stream_init_mem(&s, cases[c].doc, len), SR_OK);
            else
                assert_int_equal(sr_stream_init(&s, drip_fill, &src), SR_OK);
            sr_json_array a;
            sr_diag d = {{0}};
            assert_int_equal(sr_json_array_open(&a, &s, 0, "t", &d), SR_OK);
            size_t i = 0;
            sr_json_elem el;
            int k;
            while ((k = sr_json_array_next(&a, &el, &d)) == SR_JA_ELEMENT) {
                assert_true(i < cases[c].n);
                if (a.line != cases[c].lines[i])
                    fail_msg("case %zu seed %u: element %zu on line %llu, want %llu", c, seed,
                             i + 1, (unsigned long long)a.line,
                             (unsigned long long)cases[c].lines[i]);
                i++;
            }
            if (k != SR_JA_END) fail_msg("case %zu: %d %s", c, k, d.msg);
            assert_int_equal(i, cases[c].n);
            sr_json_array_close(&a);
            sr_stream_deinit(&s);
        }
    }
}

/* An element longer than SR_MAX_LINE is passed over in pieces: its newlines (between
 * tokens and raw ones inside its string) still count for the lines after it. */
static void test_json_array_lines_long(void **state) {
    (void)state;
    size_t big = SR_MAX_LINE + 70000, nl = 0;
    char *buf = malloc(big + 100);
    assert_non_null(buf);
    char *p = buf;
    p += sprintf(p, "[\n{\"x\":\n\"");
    for (size_t i = 0; i < big; i++) {
        char ch = i % 4099 == 0 ? '\n' : "ab]}{[,c"[i % 8];
        nl += ch == '\n';
        *p++ = ch;
    }
    p += sprintf(p, "\"\n},\n7, 8]");
    assert_true(nl > 200);
    sr_stream s;
    assert_int_equal(sr_stream_init_mem(&s, buf, (size_t)(p - buf)), SR_OK);
    sr_json_array a;
    sr_diag d = {{0}};
    sr_json_elem el;
    assert_int_equal(sr_json_array_open(&a, &s, 0, "t", &d), SR_OK);
    assert_int_equal(sr_json_array_next(&a, &el, &d), SR_JA_TOO_LONG);
    assert_int_equal(a.line, 2);
    assert_int_equal(sr_json_array_next(&a, &el, &d), SR_JA_ELEMENT);
    /* '[', '{"x":', the string's own newlines, '"', '},' */
    assert_int_equal(a.line, 2 + 1 + nl + 1 + 1);
    assert_int_equal(sr_json_array_next(&a, &el, &d), SR_JA_ELEMENT);
    assert_int_equal(a.line, 2 + 1 + nl + 1 + 1);
    assert_int_equal(sr_json_array_next(&a, &el, &d), SR_JA_END);
    sr_json_array_close(&a);
    sr_stream_deinit(&s);
    free(buf);
}

static void test_json_array_oom(void **state) {
    (void)state;
    /* Every allocation failing in turn: an error, never a crash or a leak. */
    static const struct {
        const char *file;
        const sr_format *f;
    } cases[] = {{"bob_lb-2021-05-01.json", &sr_format_lb_json},
                 {"api_response.json", &sr_format_lb_json},
                 {"dump.listens", &sr_format_lb_jsonl},
                 {"endsong_0.json", &sr_format_spotify}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char path[128];
        snprintf(path, sizeof path, "fixtures/json/%s", cases[c].file);
        size_t n;
        void *data = slurp(path, &n);
        for (long k = 0; k < 8; k++) {
            sr_mem_fail_after(k);
            sr_stream s;
            if (sr_stream_init_mem(&s, data, n) != SR_OK) continue;
            sr_read_stats st = {0};
            sr_diag d = {{0}};
            sr_read_opts o = {.now = NOW};
            sr_reader r;
            sr_reader_init(&r, cases[c].f, &s, &o, &st, NULL, NULL, &d);
            r.label = "x";
            r.member = cases[c].file;
            r.default_user = sr_str_c("u");
            sr_err e = cases[c].f->read(&r);
            assert_true(e == SR_OK || e == SR_E_NOMEM);
            sr_stream_deinit(&s);
        }
        sr_mem_fail_after(-1);
        free(data);
    }
}

/* ---- detection ---- */

static int score(const sr_format *f, const char *name, const char *path, size_t cut) {
    size_t n;
    char *data = slurp(path, &n);
    if (cut && cut < n) n = cut;
    int s = f->detect(name, (const unsigned char *)data, n);
    free(data);
    return s;
}

static void expect_best(const char *name, size_t cut, const sr_format *want) {
    char path[256];
    snprintf(path, sizeof path, "fixtures/json/%s", name);
    const sr_format *mine[] = {&sr_format_lb_jsonl, &sr_format_lb_json, &sr_format_spotify};
    int best = -1, best_s = 0;
    for (int i = 0; i < 3; i++) {
        int s = score(mine[i], name, path, cut);
        if (s > best_s) best = i, best_s = s;
    }
    if (best < 0 || mine[best] != want)
        fail_msg("%s (cut %zu): detected %s, wanted %s", name, cut,
                 best < 0 ? "nothing" : mine[best]->name, want->name);
    /* The same file under an uninformative name is still told by its content (when the
     * head holds a first record's worth of keys). */
    best = -1, best_s = 0;
    for (int i = 0; i < 3; i++) {
        int s = score(mine[i], "data.bin", path, cut);
        if (s > best_s) best = i, best_s = s;
    }
    if (best < 0 || mine[best] != want)
        fail_msg("%s as data.bin (cut %zu): detected %s, wanted %s", name, cut,
                 best < 0 ? "nothing" : mine[best]->name, want->name);
}

static void test_detect(void **state) {
    (void)state;
    /* Whole files, and heads cut inside the first or second record. */
    static const size_t cuts[] = {0, 400, 250};
    for (size_t c = 0; c < 3; c++) {
        expect_best("dump.listens", cuts[c], &sr_format_lb_jsonl);
        expect_best("api.jsonl", cuts[c], &sr_format_lb_jsonl);
        expect_best("export_2024.jsonl", cuts[c], &sr_format_lb_jsonl);
        expect_best("spark.json", cuts[c], &sr_format_lb_jsonl);
        expect_best("alice_lb-2019-01-01.json", cuts[c], &sr_format_lb_json);
        expect_best("bob_lb-2021-05-01.json", cuts[c], &sr_format_lb_json);
        expect_best("api_response.json", cuts[c], &sr_format_lb_json);
        expect_best("StreamingHistory0.json", cuts[c], &sr_format_spotify);
        expect_best("endsong_0.json", cuts[c], &sr_format_spotify);
    }
    /* Names alone, for empty or unrecognisable heads. */
    assert_true(sr_format_spotify.detect("MyData/StreamingHistory_music_0.json",
                                         (const unsigned char *)"[]", 2) >= 50);
    assert_true(sr_format_lb_json.detect("x/alice_lb-2019-01-01.json", (const unsigned char *)"[ ]",
                                         3) >= 50);
    assert_true(sr_format_lb_jsonl.detect("listens/2018/3.listens", (const unsigned char *)"", 0) >
                0);
    /* The zip export's other JSONL members are not listens. */
    const char *fb = "{\"recording_msid\": \"x\", \"recording_mbid\": null, \"score\": 1}\n";
    assert_int_equal(
        sr_format_lb_jsonl.detect("feedback.jsonl", (const unsigned char *)fb, strlen(fb)), 0);
    /* A pretty-printed object is not JSON Lines; a payload object is the array reader's. */
    const char *pretty = "{\n  \"listened_at\": 1,\n  \"track_metadata\": {}\n}\n";
    assert_true(sr_format_lb_jsonl.detect("x.json", (const unsigned char *)pretty, strlen(pretty)) <
                50);
    /* And the registry as a whole picks the same readers. */
    char path[256];
    const char *files[] = {"dump.listens", "alice_lb-2019-01-01.json", "api_response.json",
                           "StreamingHistory0.json", "endsong_0.json"};
    const sr_format *want[] = {&sr_format_lb_jsonl, &sr_format_lb_json, &sr_format_lb_json,
                               &sr_format_spotify, &sr_format_spotify};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "fixtures/json/%s", files[i]);
        size_t n;
        char *data = slurp(path, &n);
        const sr_format *f = sr_format_detect(files[i], (const unsigned char *)data, n);
        if (f != want[i])
            fail_msg("registry: %s detected as %s", files[i], f ? f->name : "nothing");
        free(data);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lb_dump_lines),
        cmocka_unit_test(test_lb_api_lines),
        cmocka_unit_test(test_lb_zip_export_lines),
        cmocka_unit_test(test_lb_spark_lines),
        cmocka_unit_test(test_lb_flat_lines),
        cmocka_unit_test(test_lb_bad_lines),
        cmocka_unit_test(test_lb_line_too_long),
        cmocka_unit_test(test_lb_bom_and_crlf),
        cmocka_unit_test(test_lb_no_user_needs_default),
        cmocka_unit_test(test_lb_json_flat_export),
        cmocka_unit_test(test_lb_json_api_export),
        cmocka_unit_test(test_lb_json_payload),
        cmocka_unit_test(test_lb_json_payload_lines),
        cmocka_unit_test(test_lb_json_bad_elements),
        cmocka_unit_test(test_lb_json_truncated),
        cmocka_unit_test(test_lb_json_not_array),
        cmocka_unit_test(test_lb_json_malformed_arrays),
        cmocka_unit_test(test_lb_json_element_too_long),
        cmocka_unit_test(test_lb_json_window_boundaries),
        cmocka_unit_test(test_spotify_account),
        cmocka_unit_test(test_spotify_extended),
        cmocka_unit_test(test_spotify_audio_2023),
        cmocka_unit_test(test_spotify_podcast_file),
        cmocka_unit_test(test_spotify_bad_rows),
        cmocka_unit_test(test_spotify_report_lines),
        cmocka_unit_test(test_json_array_split),
        cmocka_unit_test(test_json_array_lines),
        cmocka_unit_test(test_json_array_lines_long),
        cmocka_unit_test(test_json_array_oom),
        cmocka_unit_test(test_detect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
