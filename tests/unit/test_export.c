/* Unit tests for rec/export: the exact bytes of a two-item list and of an empty list in
 * JSON, CSV, JSPF and XSPF; markup in names (escaped in XML, intact through JSON);
 * CSV quoting and the formula guard; ill-formed UTF-8 and control characters (always
 * valid UTF-8 out, well-formed XML, parseable JSON); MBID text; the JSON outputs read
 * back with jansson; non-finite numbers and bad arguments refused with the buffer as it
 * was; running out of memory at every allocation (jansson's too: main routes its
 * allocator through sr_malloc) gives SR_E_NOMEM and no leak. XSPF outputs also go
 * through xmllint, when it is installed (skipped otherwise), which reads the escaped
 * names back.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "rec/export.h"
#include "util/mem.h"

/* ---- a two-item list ---------------------------------------------------------------- */

static const uint8_t MBID_ROADS[16] = {0xe8, 0xf9, 0xb1, 0x88, 0xf8, 0x19, 0x4e, 0x43,
                                       0xab, 0x0f, 0x4b, 0xd2, 0x6c, 0xe9, 0xff, 0x56};
static const sr_export_meta META = {"songrec recommendations", "songrec", "SVD n_factors=50",
                                    1714564800}; /* 2024-05-01T12:00:00Z */

#define EN_DASH_TEXT "\xe2\x80\x93" /* U+2013, between a reason's artist and track */

static sr_export_because because_roads[2];
static sr_export_item two[2];

/* Roads (MBID, two reasons, 4.4567 -> 4.457, 0.91234 -> 0.912) and a weak pick without
 * MBID or reasons. */
static int setup_two(void **state) {
    (void)state;
    because_roads[0] = (sr_export_because){sr_str_c("Radiohead"), sr_str_c("Airbag"), 0.91234};
    because_roads[1] = (sr_export_because){sr_str_c("Björk"), sr_str_c("Jóga"), 0.5};
    two[0] = (sr_export_item){17,
                              sr_str_c("Portishead"),
                              sr_str_c("Roads"),
                              MBID_ROADS,
                              4.4567,
                              0.8,
                              false,
                              because_roads,
                              2};
    two[1] = (sr_export_item){
        3, sr_str_c("Sigur Rós"), sr_str_c("Hoppípolla"), NULL, 3.0, 0.125, true, NULL, 0};
    return 0;
}

/* The output of one call, which must succeed; free with sr_free. */
static char *render(sr_export_format f, const sr_export_meta *m, const sr_export_item *items,
                    size_t n) {
    sr_buf b = SR_BUF_INIT;
    sr_diag d = {{0}};
    sr_err e = sr_export_write(f, m, items, n, &b, &d);
    if (e) fail_msg("export %s: %s", sr_export_extension(f), d.msg);
    char *s = sr_buf_take(&b, NULL);
    assert_non_null(s);
    return s;
}

static void assert_output(sr_export_format f, const sr_export_meta *m, const sr_export_item *items,
                          size_t n, const char *want) {
    char *s = render(f, m, items, n);
    assert_string_equal(s, want);
    sr_free(s);
}

static json_t *parse_json(const char *s) {
    json_error_t err;
    json_t *j = json_loads(s, JSON_ALLOW_NUL, &err); /* "\u0000" is valid JSON */
    if (!j) fail_msg("not JSON: %s at line %d: %s", err.text, err.line, s);
    return j;
}

static const char *jget_str(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* ---- XML checks ------------------------------------------------------------------- */

static bool have_xmllint(void) {
    return access("/usr/bin/xmllint", X_OK) == 0;
}

/* Writes s to a temporary file whose name goes to path. */
static void temp_file(const char *s, char path[64]) {
    strcpy(path, "/tmp/songrec-test-export-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

static void assert_xmllint_ok(const char *xml) {
    char path[64], cmd[160];
    temp_file(xml, path);
    snprintf(cmd, sizeof cmd, "xmllint --noout %s 2>&1", path);
    int rc = system(cmd);
    unlink(path);
    if (rc) fail_msg("xmllint rejects:\n%s", xml);
}

/* The string value of an XPath expression over xml, as xmllint prints it (with a
 * newline, which is cut). */
static void xpath_string(const char *xml, const char *expr, char *out, size_t cap) {
    char path[64], cmd[512];
    temp_file(xml, path);
    snprintf(cmd, sizeof cmd, "xmllint --xpath \"%s\" %s", expr, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    if (n && out[n - 1] == '\n') n--;
    out[n] = 0;
    pclose(p);
    unlink(path);
}

/* True when s is valid UTF-8 and has no control byte other than the allowed ones. */
static bool clean_text(const char *s, const char *allowed) {
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 && !strchr(allowed, *p)) return false;
    return sr_utf8_valid(s, strlen(s));
}

/* ---- format names ------------------------------------------------------------------ */

static void test_format_names(void **state) {
    (void)state;
    sr_export_format f = SR_EXPORT_CSV;
    assert_true(sr_export_format_parse("json", &f));
    assert_int_equal(f, SR_EXPORT_JSON);
    assert_true(sr_export_format_parse("CSV", &f));
    assert_int_equal(f, SR_EXPORT_CSV);
    assert_true(sr_export_format_parse("Jspf", &f));
    assert_int_equal(f, SR_EXPORT_JSPF);
    assert_true(sr_export_format_parse("xspf", &f));
    assert_int_equal(f, SR_EXPORT_XSPF);
    assert_false(sr_export_format_parse("xml", &f));
    assert_false(sr_export_format_parse("", &f));
    assert_false(sr_export_format_parse("jsonx", &f));
    assert_false(sr_export_format_parse(NULL, &f));
    assert_int_equal(f, SR_EXPORT_XSPF); /* unchanged by the failures */

    assert_string_equal(sr_export_content_type(SR_EXPORT_JSON), "application/json; charset=utf-8");
    assert_string_equal(sr_export_content_type(SR_EXPORT_CSV), "text/csv; charset=utf-8");
    assert_string_equal(sr_export_content_type(SR_EXPORT_JSPF), "application/jspf+json");
    assert_string_equal(sr_export_content_type(SR_EXPORT_XSPF),
                        "application/xspf+xml; charset=utf-8");
    assert_string_equal(sr_export_extension(SR_EXPORT_JSON), "json");
    assert_string_equal(sr_export_extension(SR_EXPORT_CSV), "csv");
    assert_string_equal(sr_export_extension(SR_EXPORT_JSPF), "jspf");
    assert_string_equal(sr_export_extension(SR_EXPORT_XSPF), "xspf");
    assert_null(sr_export_content_type((sr_export_format)4));
    assert_null(sr_export_extension((sr_export_format)-1));
}

/* ---- exact output of the two-item list -------------------------------------------- */

static void test_json_exact(void **state) {
    (void)state;
    assert_output(SR_EXPORT_JSON, &META, two, 2,
                  "{\n"
                  "  \"title\": \"songrec recommendations\",\n"
                  "  \"creator\": \"songrec\",\n"
                  "  \"annotation\": \"SVD n_factors=50\",\n"
                  "  \"created\": \"2024-05-01T12:00:00Z\",\n"
                  "  \"items\": [\n"
                  "    {\n"
                  "      \"rank\": 1,\n"
                  "      \"id\": 17,\n"
                  "      \"artist\": \"Portishead\",\n"
                  "      \"track\": \"Roads\",\n"
                  "      \"mbid\": \"e8f9b188-f819-4e43-ab0f-4bd26ce9ff56\",\n"
                  "      \"score\": 4.457,\n"
                  "      \"support\": 0.8,\n"
                  "      \"weak\": false,\n"
                  "      \"because\": [\n"
                  "        {\n"
                  "          \"artist\": \"Radiohead\",\n"
                  "          \"track\": \"Airbag\",\n"
                  "          \"weight\": 0.912\n"
                  "        },\n"
                  "        {\n"
                  "          \"artist\": \"Björk\",\n"
                  "          \"track\": \"Jóga\",\n"
                  "          \"weight\": 0.5\n"
                  "        }\n"
                  "      ]\n"
                  "    },\n"
                  "    {\n"
                  "      \"rank\": 2,\n"
                  "      \"id\": 3,\n"
                  "      \"artist\": \"Sigur Rós\",\n"
                  "      \"track\": \"Hoppípolla\",\n"
                  "      \"mbid\": null,\n"
                  "      \"score\": 3.0,\n"
                  "      \"support\": 0.125,\n"
                  "      \"weak\": true,\n"
                  "      \"because\": []\n"
                  "    }\n"
                  "  ]\n"
                  "}\n");
}

static void test_csv_exact(void **state) {
    (void)state;
    assert_output(SR_EXPORT_CSV, &META, two, 2,
                  "rank,artist,track,score,support,weak,mbid,because\r\n"
                  "1,Portishead,Roads,4.457,0.800,false,e8f9b188-f819-4e43-ab0f-4bd26ce9ff56,"
                  "Radiohead – Airbag (0.912); Björk – Jóga (0.500)\r\n"
                  "2,Sigur Rós,Hoppípolla,3.000,0.125,true,,\r\n");
}

/* Items-only data (rating triples): songs without an artist are their track alone — no
 * " – " before it in the reasons, no empty creator in JSPF and XSPF. */
static void test_no_artist(void **state) {
    (void)state;
    sr_export_because why[1] = {{SR_STR_NULL, sr_str_c("i1"), 0.25}};
    const sr_export_item it[1] = {{5, SR_STR_NULL, sr_str_c("i3"), NULL, 3.5, 0.2, false, why, 1}};
    assert_output(SR_EXPORT_CSV, &META, it, 1,
                  "rank,artist,track,score,support,weak,mbid,because\r\n"
                  "1,,i3,3.500,0.200,false,,i1 (0.250)\r\n");
    static const sr_export_format fs[] = {SR_EXPORT_JSPF, SR_EXPORT_XSPF};
    static const char *const creator[] = {"\"creator\"", "<creator>"};
    for (size_t k = 0; k < 2; k++) {
        char *s = render(fs[k], &META, it, 1);
        assert_non_null(strstr(s, "because: i1 (0.250)"));
        assert_null(strstr(s, EN_DASH_TEXT " i1"));
        /* the playlist's own creator (META) is the only one */
        const char *first = strstr(s, creator[k]);
        assert_non_null(first);
        assert_null(strstr(first + 1, creator[k]));
        sr_free(s);
    }
}

static void test_jspf_exact(void **state) {
    (void)state;
    assert_output(
        SR_EXPORT_JSPF, &META, two, 2,
        "{\n"
        "  \"playlist\": {\n"
        "    \"title\": \"songrec recommendations\",\n"
        "    \"creator\": \"songrec\",\n"
        "    \"annotation\": \"SVD n_factors=50\",\n"
        "    \"date\": \"2024-05-01T12:00:00Z\",\n"
        "    \"track\": [\n"
        "      {\n"
        "        \"identifier\": [\n"
        "          \"https://musicbrainz.org/recording/e8f9b188-f819-4e43-ab0f-4bd26ce9ff56\"\n"
        "        ],\n"
        "        \"title\": \"Roads\",\n"
        "        \"creator\": \"Portishead\",\n"
        "        \"annotation\": \"score 4.457, support 0.800; because: Radiohead – Airbag "
        "(0.912); Björk – Jóga (0.500)\",\n"
        "        \"extension\": {\n"
        "          \"https://songrec.invalid/ns/track\": {\n"
        "            \"id\": 17,\n"
        "            \"score\": 4.457,\n"
        "            \"support\": 0.8,\n"
        "            \"weak\": false,\n"
        "            \"because\": [\n"
        "              {\n"
        "                \"artist\": \"Radiohead\",\n"
        "                \"track\": \"Airbag\",\n"
        "                \"weight\": 0.912\n"
        "              },\n"
        "              {\n"
        "                \"artist\": \"Björk\",\n"
        "                \"track\": \"Jóga\",\n"
        "                \"weight\": 0.5\n"
        "              }\n"
        "            ]\n"
        "          }\n"
        "        }\n"
        "      },\n"
        "      {\n"
        "        \"title\": \"Hoppípolla\",\n"
        "        \"creator\": \"Sigur Rós\",\n"
        "        \"annotation\": \"score 3.000, support 0.125, weak pick\",\n"
        "        \"extension\": {\n"
        "          \"https://songrec.invalid/ns/track\": {\n"
        "            \"id\": 3,\n"
        "            \"score\": 3.0,\n"
        "            \"support\": 0.125,\n"
        "            \"weak\": true,\n"
        "            \"because\": []\n"
        "          }\n"
        "        }\n"
        "      }\n"
        "    ]\n"
        "  }\n"
        "}\n");
}

static const char XSPF_TWO[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\" "
    "xmlns:songrec=\"https://songrec.invalid/ns/track\">\n"
    "  <title>songrec recommendations</title>\n"
    "  <creator>songrec</creator>\n"
    "  <annotation>SVD n_factors=50</annotation>\n"
    "  <date>2024-05-01T12:00:00Z</date>\n"
    "  <trackList>\n"
    "    <track>\n"
    "      <identifier>https://musicbrainz.org/recording/"
    "e8f9b188-f819-4e43-ab0f-4bd26ce9ff56</identifier>\n"
    "      <title>Roads</title>\n"
    "      <creator>Portishead</creator>\n"
    "      <annotation>score 4.457, support 0.800; because: Radiohead – Airbag (0.912); "
    "Björk – Jóga (0.500)</annotation>\n"
    "      <extension application=\"https://songrec.invalid/ns/track\">\n"
    "        <songrec:id>17</songrec:id>\n"
    "        <songrec:score>4.457</songrec:score>\n"
    "        <songrec:support>0.800</songrec:support>\n"
    "        <songrec:weak>false</songrec:weak>\n"
    "        <songrec:because artist=\"Radiohead\" track=\"Airbag\" weight=\"0.912\"/>\n"
    "        <songrec:because artist=\"Björk\" track=\"Jóga\" weight=\"0.500\"/>\n"
    "      </extension>\n"
    "    </track>\n"
    "    <track>\n"
    "      <title>Hoppípolla</title>\n"
    "      <creator>Sigur Rós</creator>\n"
    "      <annotation>score 3.000, support 0.125, weak pick</annotation>\n"
    "      <extension application=\"https://songrec.invalid/ns/track\">\n"
    "        <songrec:id>3</songrec:id>\n"
    "        <songrec:score>3.000</songrec:score>\n"
    "        <songrec:support>0.125</songrec:support>\n"
    "        <songrec:weak>true</songrec:weak>\n"
    "      </extension>\n"
    "    </track>\n"
    "  </trackList>\n"
    "</playlist>\n";

static void test_xspf_exact(void **state) {
    (void)state;
    assert_output(SR_EXPORT_XSPF, &META, two, 2, XSPF_TWO);
}

/* ---- an empty list, no meta -------------------------------------------------------- */

static const char XSPF_EMPTY[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                 "<playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\" "
                                 "xmlns:songrec=\"https://songrec.invalid/ns/track\">\n"
                                 "  <trackList>\n"
                                 "  </trackList>\n"
                                 "</playlist>\n";

static void test_empty_list(void **state) {
    (void)state;
    assert_output(SR_EXPORT_JSON, NULL, NULL, 0,
                  "{\n"
                  "  \"title\": null,\n"
                  "  \"creator\": null,\n"
                  "  \"annotation\": null,\n"
                  "  \"created\": null,\n"
                  "  \"items\": []\n"
                  "}\n");
    assert_output(SR_EXPORT_CSV, NULL, NULL, 0,
                  "rank,artist,track,score,support,weak,mbid,because\r\n");
    assert_output(SR_EXPORT_JSPF, NULL, NULL, 0,
                  "{\n"
                  "  \"playlist\": {\n"
                  "    \"track\": []\n"
                  "  }\n"
                  "}\n");
    assert_output(SR_EXPORT_XSPF, NULL, NULL, 0, XSPF_EMPTY);
    /* A meta with only a title: the other playlist fields stay out. */
    sr_export_meta title = {"Mix", NULL, NULL, 0};
    assert_output(SR_EXPORT_JSPF, &title, NULL, 0,
                  "{\n"
                  "  \"playlist\": {\n"
                  "    \"title\": \"Mix\",\n"
                  "    \"track\": []\n"
                  "  }\n"
                  "}\n");
}

/* ---- markup in names --------------------------------------------------------------- */

#define IMG  "<img src=x onerror=alert(1)>"
#define AMPQ "a & b \"q\" 'x'"

static const sr_export_because because_markup[1] = {
    {{AMPQ, sizeof AMPQ - 1}, {IMG, sizeof IMG - 1}, 1.0}};
static const sr_export_item markup[1] = {
    {1, {IMG, sizeof IMG - 1}, {AMPQ, sizeof AMPQ - 1}, NULL, 5.0, 1.0, false, because_markup, 1}};
static const sr_export_meta markup_meta = {"<script>alert(1)</script>", "]]> & <!--", NULL, 0};

static void test_markup_xspf(void **state) {
    (void)state;
    char *x = render(SR_EXPORT_XSPF, &markup_meta, markup, 1);
    assert_non_null(strstr(x, "  <title>&lt;script&gt;alert(1)&lt;/script&gt;</title>\n"));
    assert_non_null(strstr(x, "  <creator>]]&gt; &amp; &lt;!--</creator>\n"));
    assert_non_null(strstr(x, "      <title>a &amp; b &quot;q&quot; &apos;x&apos;</title>\n"
                              "      <creator>&lt;img src=x onerror=alert(1)&gt;</creator>\n"));
    assert_non_null(strstr(x, "<annotation>score 5.000, support 1.000; because: a &amp; b "
                              "&quot;q&quot; &apos;x&apos; – &lt;img src=x onerror=alert(1)&gt; "
                              "(1.000)</annotation>"));
    assert_non_null(strstr(x, "<songrec:because artist=\"a &amp; b &quot;q&quot; &apos;x&apos;\" "
                              "track=\"&lt;img src=x onerror=alert(1)&gt;\" weight=\"1.000\"/>"));
    assert_null(strstr(x, "<img"));
    assert_null(strstr(x, "<script"));
    assert_null(strstr(x, "<!--"));
    sr_free(x);
}

static void test_markup_json(void **state) {
    (void)state;
    char *s = render(SR_EXPORT_JSON, &markup_meta, markup, 1);
    json_t *j = parse_json(s);
    assert_string_equal(jget_str(j, "title"), "<script>alert(1)</script>");
    json_t *it = json_array_get(json_object_get(j, "items"), 0);
    assert_string_equal(jget_str(it, "artist"), IMG);
    assert_string_equal(jget_str(it, "track"), AMPQ);
    json_t *b = json_array_get(json_object_get(it, "because"), 0);
    assert_string_equal(jget_str(b, "artist"), AMPQ);
    assert_string_equal(jget_str(b, "track"), IMG);
    assert_non_null(strstr(s, "\"track\": \"a & b \\\"q\\\" 'x'\""));
    json_decref(j);
    sr_free(s);

    s = render(SR_EXPORT_JSPF, &markup_meta, markup, 1);
    j = parse_json(s);
    json_t *pl = json_object_get(j, "playlist");
    assert_string_equal(jget_str(pl, "creator"), "]]> & <!--");
    json_t *t = json_array_get(json_object_get(pl, "track"), 0);
    assert_string_equal(jget_str(t, "creator"), IMG);
    assert_string_equal(jget_str(t, "title"), AMPQ);
    json_decref(j);
    sr_free(s);
}

/* ---- CSV quoting ------------------------------------------------------------------- */

static void test_csv_quoting(void **state) {
    (void)state;
    const sr_export_because b[2] = {
        {sr_str_c("Line\nBreak"), sr_str_c("Tab\there"), 0.25},
        {sr_str_c("CR\rhere"), sr_str_c("x"), 0.0},
    };
    sr_export_item items[5] = {
        {1, sr_str_c("Crosby, Stills & Nash"), sr_str_c("Say \"Hi\""), NULL, 4.0, 0.5, false, b, 2},
        {2, sr_str_c("=HYPERLINK(\"http://x\")"), sr_str_c("-M-"), NULL, 3.9996, 0.0004, false,
         NULL, 0},
        {3, sr_str_c("@home"), sr_str_c("+44"), NULL, -0.0001, 1.0, false, NULL, 0},
        {4, sr_str_c(""), sr_str_c("ok=1-2"), NULL, 1.0005, 0.5, false, NULL, 0},
        {5, sr_str_c("\tTab"), sr_str_c("\rCR"), NULL, 1, 1, false, NULL, 0},
    };
    /* Quoted: , " LF CR; quotes doubled. Formula starts get an apostrophe, inside the
     * quotes when quoted. Numbers round to 3 decimals and -0 prints as 0. */
    assert_output(SR_EXPORT_CSV, NULL, items, 5,
                  "rank,artist,track,score,support,weak,mbid,because\r\n"
                  "1,\"Crosby, Stills & Nash\",\"Say \"\"Hi\"\"\",4.000,0.500,false,,"
                  "\"Line\nBreak – Tab\there (0.250); CR\rhere – x (0.000)\"\r\n"
                  "2,\"'=HYPERLINK(\"\"http://x\"\")\",'-M-,4.000,0.000,false,,\r\n"
                  "3,'@home,'+44,0.000,1.000,false,,\r\n"
                  "4,,ok=1-2,1.000,0.500,false,,\r\n"
                  "5,'\tTab,\"'\rCR\",1.000,1.000,false,,\r\n");
}

/* ---- ill-formed UTF-8 and control characters -------------------------------------- */

/* U+FFFD, once per maximal ill-formed subpart:
 *   "a\xFF" "b"       -> a R b         (FF is never a lead byte)
 *   "x\xE2\x82"       -> x R           (a 3-byte sequence cut short: one subpart)
 *   "\xED\xA0\x80"    -> R R R         (a surrogate: ED allows 80..9F only)
 *   "\xC0\xAF"        -> R R           (overlong lead C0, then a lone continuation)
 *   "\xEF\xBF\xBE"    -> U+FFFE: kept in JSON, R in XML and CSV (not an XML Char) */
#define R "\xEF\xBF\xBD"

static const sr_export_because bad_because[1] = {{{"\xED\xA0\x80", 3}, {"\xC0\xAF", 2}, 0.5}};
static const sr_export_item bad_items[2] = {
    {1,
     {"a\xFF"
      "b",
      3},
     {"x\xE2\x82", 3},
     NULL,
     1.0,
     0.5,
     false,
     bad_because,
     1},
    {2, {"n\0ul\x01", 5}, {"t\tl\nc\rr\x1B\xEF\xBF\xBE", 11}, NULL, 2.0, 0.5, false, NULL, 0},
};
static const sr_export_meta bad_meta = {"bell\x07", "\x7F ok", "ann\xC3", 0};

static void test_bad_text_json(void **state) {
    (void)state;
    char *s = render(SR_EXPORT_JSON, &bad_meta, bad_items, 2);
    assert_true(clean_text(s, "\n"));
    assert_non_null(strstr(s, "\"title\": \"bell\\u0007\""));
    assert_non_null(strstr(s, "\"artist\": \"n\\u0000ul\\u0001\""));
    assert_non_null(strstr(s, "\"track\": \"t\\tl\\nc\\rr\\u001B\xEF\xBF\xBE\""));
    json_t *j = parse_json(s);
    assert_string_equal(jget_str(j, "title"), "bell\x07");
    assert_string_equal(jget_str(j, "creator"), "\x7F ok");
    assert_string_equal(jget_str(j, "annotation"), "ann" R);
    json_t *items = json_object_get(j, "items");
    json_t *a = json_array_get(items, 0), *b = json_array_get(items, 1);
    assert_string_equal(jget_str(a, "artist"), "a" R "b");
    assert_string_equal(jget_str(a, "track"), "x" R);
    json_t *w = json_array_get(json_object_get(a, "because"), 0);
    assert_string_equal(jget_str(w, "artist"), R R R);
    assert_string_equal(jget_str(w, "track"), R R);
    json_t *nul = json_object_get(b, "artist");
    assert_int_equal(json_string_length(nul), 5);
    assert_memory_equal(json_string_value(nul), "n\0ul\x01", 5);
    json_decref(j);
    sr_free(s);

    s = render(SR_EXPORT_JSPF, &bad_meta, bad_items, 2);
    assert_true(clean_text(s, "\n"));
    j = parse_json(s);
    json_t *t = json_array_get(json_object_get(json_object_get(j, "playlist"), "track"), 0);
    assert_string_equal(jget_str(t, "creator"), "a" R "b");
    assert_string_equal(jget_str(t, "annotation"),
                        "score 1.000, support 0.500; because: " R R R " – " R R " (0.500)");
    json_decref(j);
    sr_free(s);
}

static void test_bad_text_xspf(void **state) {
    (void)state;
    char *x = render(SR_EXPORT_XSPF, &bad_meta, bad_items, 2);
    assert_true(clean_text(x, "\n"));
    assert_non_null(strstr(x, "  <title>bell" R "</title>\n"
                              "  <creator>\x7F ok</creator>\n"
                              "  <annotation>ann" R "</annotation>\n"));
    assert_non_null(strstr(x, "      <title>x" R "</title>\n"
                              "      <creator>a" R "b</creator>\n"));
    assert_non_null(strstr(x, "<songrec:because artist=\"" R R R "\" track=\"" R R "\""));
    assert_non_null(strstr(x, "      <title>t&#9;l&#10;c&#13;r" R R "</title>\n"
                              "      <creator>n" R "ul" R "</creator>\n"));
    sr_free(x);
}

static void test_bad_text_csv(void **state) {
    (void)state;
    assert_output(SR_EXPORT_CSV, &bad_meta, bad_items, 2,
                  "rank,artist,track,score,support,weak,mbid,because\r\n"
                  "1,a" R "b,x" R ",1.000,0.500,false,," R R R " – " R R " (0.500)\r\n"
                  "2,n" R "ul" R ",\"t\tl\nc\rr" R R "\",2.000,0.500,false,,\r\n");
}

/* ---- MBIDs ------------------------------------------------------------------------- */

static void test_mbid_format(void **state) {
    (void)state;
    static const uint8_t m[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF,
                                  0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10};
    static const uint8_t ff[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    sr_export_item items[2] = {{1, sr_str_c("A"), sr_str_c("B"), m, 1, 1, false, NULL, 0},
                               {2, sr_str_c("C"), sr_str_c("D"), ff, 1, 1, false, NULL, 0}};
    const char *id = "01234567-89ab-cdef-fedc-ba9876543210";
    const char *id_ff = "ffffffff-ffff-ffff-ffff-ffffffffffff";
    char want[128];

    char *s = render(SR_EXPORT_JSON, NULL, items, 2);
    json_t *j = parse_json(s);
    json_t *arr = json_object_get(j, "items");
    assert_string_equal(jget_str(json_array_get(arr, 0), "mbid"), id);
    assert_string_equal(jget_str(json_array_get(arr, 1), "mbid"), id_ff);
    json_decref(j);
    sr_free(s);

    s = render(SR_EXPORT_JSPF, NULL, items, 2);
    j = parse_json(s);
    json_t *t = json_array_get(json_object_get(json_object_get(j, "playlist"), "track"), 0);
    json_t *ids = json_object_get(t, "identifier");
    assert_int_equal(json_array_size(ids), 1);
    snprintf(want, sizeof want, "https://musicbrainz.org/recording/%s", id);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), want);
    json_decref(j);
    sr_free(s);

    s = render(SR_EXPORT_XSPF, NULL, items, 2);
    snprintf(want, sizeof want, "<identifier>https://musicbrainz.org/recording/%s</identifier>",
             id);
    assert_non_null(strstr(s, want));
    sr_free(s);

    s = render(SR_EXPORT_CSV, NULL, items, 2);
    snprintf(want, sizeof want, "\r\n1,A,B,1.000,1.000,false,%s,\r\n", id);
    assert_non_null(strstr(s, want));
    sr_free(s);
}

/* ---- JSON read back ---------------------------------------------------------------- */

static void test_json_roundtrip(void **state) {
    (void)state;
    char *s = render(SR_EXPORT_JSON, &META, two, 2);
    json_t *j = parse_json(s);
    assert_string_equal(jget_str(j, "title"), META.title);
    assert_string_equal(jget_str(j, "creator"), META.creator);
    assert_string_equal(jget_str(j, "annotation"), META.annotation);
    assert_string_equal(jget_str(j, "created"), "2024-05-01T12:00:00Z");
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_array_get(items, i);
        assert_int_equal(json_integer_value(json_object_get(o, "rank")), i + 1);
        assert_int_equal(json_integer_value(json_object_get(o, "id")), two[i].id);
        assert_string_equal(jget_str(o, "artist"), two[i].artist.p);
        assert_string_equal(jget_str(o, "track"), two[i].track.p);
        assert_true(json_is_boolean(json_object_get(o, "weak")));
        assert_int_equal(json_is_true(json_object_get(o, "weak")), two[i].weak);
        assert_int_equal(json_array_size(json_object_get(o, "because")), two[i].n_because);
    }
    json_t *a = json_array_get(items, 0);
    assert_true(json_real_value(json_object_get(a, "score")) == 4.457);
    assert_true(json_real_value(json_object_get(a, "support")) == 0.8);
    json_t *w = json_array_get(json_object_get(a, "because"), 1);
    assert_string_equal(jget_str(w, "artist"), "Björk");
    assert_true(json_real_value(json_object_get(w, "weight")) == 0.5);
    assert_true(json_is_null(json_object_get(json_array_get(items, 1), "mbid")));
    json_decref(j);
    sr_free(s);

    /* JSPF: the playlist fields, and songrec's extension with the same values. */
    s = render(SR_EXPORT_JSPF, &META, two, 2);
    j = parse_json(s);
    json_t *pl = json_object_get(j, "playlist");
    assert_string_equal(jget_str(pl, "date"), "2024-05-01T12:00:00Z");
    json_t *tracks = json_object_get(pl, "track");
    assert_int_equal(json_array_size(tracks), 2);
    assert_null(json_object_get(json_array_get(tracks, 1), "identifier"));
    json_t *ext =
        json_object_get(json_object_get(json_array_get(tracks, 0), "extension"), SR_EXPORT_EXT_URI);
    assert_int_equal(json_integer_value(json_object_get(ext, "id")), 17);
    assert_true(json_real_value(json_object_get(ext, "score")) == 4.457);
    assert_true(json_is_false(json_object_get(ext, "weak")));
    w = json_array_get(json_object_get(ext, "because"), 0);
    assert_string_equal(jget_str(w, "track"), "Airbag");
    assert_true(json_real_value(json_object_get(w, "weight")) == 0.912);
    json_decref(j);
    sr_free(s);
}

/* ---- XSPF through a real XML parser ------------------------------------------------- */

static void test_xspf_xmllint(void **state) {
    (void)state;
    if (!have_xmllint()) skip();
    assert_xmllint_ok(XSPF_TWO);
    assert_xmllint_ok(XSPF_EMPTY);
    char *x = render(SR_EXPORT_XSPF, &bad_meta, bad_items, 2);
    assert_xmllint_ok(x);
    /* Tab, LF and CR survive as references; the NUL and \x01 became U+FFFD. */
    char got[256];
    xpath_string(x, "string(//*[local-name()='track'][2]/*[local-name()='title'])", got,
                 sizeof got);
    assert_string_equal(got, "t\tl\nc\rr" R R);
    sr_free(x);

    x = render(SR_EXPORT_XSPF, &markup_meta, markup, 1);
    assert_xmllint_ok(x);
    xpath_string(x, "string(//*[local-name()='track']/*[local-name()='creator'])", got, sizeof got);
    assert_string_equal(got, IMG);
    xpath_string(x, "string(//*[local-name()='because']/@artist)", got, sizeof got);
    assert_string_equal(got, AMPQ);
    xpath_string(x, "string(/*[local-name()='playlist']/*[local-name()='creator'])", got,
                 sizeof got);
    assert_string_equal(got, "]]> & <!--");
    sr_free(x);
}

/* ---- dates ------------------------------------------------------------------------- */

static void test_dates(void **state) {
    (void)state;
    struct {
        int64_t t;
        const char *want;
    } cases[] = {
        {1, "1970-01-01T00:00:01Z"},
        {-1, "1969-12-31T23:59:59Z"},
        {951782400, "2000-02-29T00:00:00Z"},
        {-62135596800LL, "0001-01-01T00:00:00Z"},
        {253402300799LL, "9999-12-31T23:59:59Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sr_export_meta m = {NULL, NULL, NULL, cases[i].t};
        char want[128];
        char *x = render(SR_EXPORT_XSPF, &m, NULL, 0);
        snprintf(want, sizeof want, "\n  <date>%s</date>\n  <trackList>", cases[i].want);
        assert_non_null(strstr(x, want));
        sr_free(x);
        char *s = render(SR_EXPORT_JSON, &m, NULL, 0);
        snprintf(want, sizeof want, "\"created\": \"%s\"", cases[i].want);
        assert_non_null(strstr(s, want));
        sr_free(s);
    }
}

/* ---- refusals ---------------------------------------------------------------------- */

/* The call fails with want, and the buffer keeps its earlier bytes. */
static void assert_refused(sr_export_format f, const sr_export_meta *m, const sr_export_item *items,
                           size_t n, sr_err want, const char *msg_part) {
    sr_buf b = SR_BUF_INIT;
    sr_buf_adds(&b, "keep");
    sr_diag d = {{0}};
    assert_int_equal(sr_export_write(f, m, items, n, &b, &d), want);
    assert_true(sr_buf_ok(&b));
    assert_int_equal(b.n, 4);
    assert_string_equal(b.p, "keep");
    if (!strstr(d.msg, msg_part)) fail_msg("diag '%s' lacks '%s'", d.msg, msg_part);
    sr_buf_free(&b);
}

static void test_non_finite(void **state) {
    (void)state;
    sr_export_because w[1] = {{sr_str_c("A"), sr_str_c("B"), 0.5}};
    sr_export_item items[2] = {{1, sr_str_c("A"), sr_str_c("B"), NULL, 1, 1, false, NULL, 0},
                               {2, sr_str_c("C"), sr_str_c("D"), NULL, NAN, 1, false, w, 1}};
    for (int f = 0; f < SR_EXPORT__COUNT; f++) {
        items[1].score = NAN;
        assert_refused((sr_export_format)f, &META, items, 2, SR_E_INTERNAL, "item 2");
        items[1].score = 1;
        items[1].support = INFINITY;
        assert_refused((sr_export_format)f, &META, items, 2, SR_E_INTERNAL, "item 2");
        items[1].support = 1;
        w[0].weight = -INFINITY;
        assert_refused((sr_export_format)f, &META, items, 2, SR_E_INTERNAL, "weight 1");
        w[0].weight = 0.5;
    }
}

static void test_usage_errors(void **state) {
    (void)state;
    sr_export_item items[1] = {{1, sr_str_c("A"), sr_str_c("B"), NULL, 1, 1, false, NULL, 0}};
    assert_refused((sr_export_format)4, NULL, items, 1, SR_E_USAGE, "unknown format");
    assert_refused(SR_EXPORT_CSV, NULL, NULL, 1, SR_E_USAGE, "no items");
    items[0].artist = (sr_str){NULL, 3};
    assert_refused(SR_EXPORT_CSV, NULL, items, 1, SR_E_USAGE, "item 1");
    items[0].artist = sr_str_c("A");
    items[0].n_because = 2;
    assert_refused(SR_EXPORT_JSON, NULL, items, 1, SR_E_USAGE, "item 1");
    items[0].n_because = 0;
    sr_export_meta m = {NULL, NULL, NULL, 253402300800LL}; /* year 10000 */
    assert_refused(SR_EXPORT_XSPF, &m, items, 1, SR_E_USAGE, "date");
    m.date = -62135596801LL;
    assert_refused(SR_EXPORT_JSPF, &m, items, 1, SR_E_USAGE, "date");
    assert_int_equal(sr_export_write(SR_EXPORT_CSV, NULL, items, 1, NULL, NULL), SR_E_USAGE);
}

/* Output is appended after what the buffer holds. */
static void test_appends(void **state) {
    (void)state;
    sr_buf b = SR_BUF_INIT;
    sr_buf_adds(&b, "prefix\n");
    assert_int_equal(sr_export_write(SR_EXPORT_XSPF, &META, two, 2, &b, NULL), SR_OK);
    assert_int_equal(b.n, strlen("prefix\n") + strlen(XSPF_TWO));
    assert_memory_equal(b.p, "prefix\n", 7);
    assert_string_equal(b.p + 7, XSPF_TWO);
    sr_buf_free(&b);
}

/* ---- out of memory ------------------------------------------------------------------- */

/* Fails the k-th allocation and all after it, for k = 0, 1, ... until the call
 * succeeds. With a roomy output buffer (grown beforehand) only the writer's own and
 * jansson's allocations fail, so a failure it overlooked would show as wrong output. */
static void out_of_memory(sr_export_format f, bool roomy) {
    char *want = render(f, &META, two, 2);
    long failures = 0;
    for (long k = 0;; k++) {
        sr_buf b = SR_BUF_INIT;
        if (roomy) assert_true(sr_buf_reserve(&b, 1 << 16));
        sr_buf_adds(&b, "keep");
        sr_diag d = {{0}};
        sr_mem_fail_after(k);
        sr_err e = sr_export_write(f, &META, two, 2, &b, &d);
        sr_mem_fail_after(-1);
        if (e == SR_OK) {
            assert_string_equal(b.p + 4, want);
            sr_buf_free(&b);
            break;
        }
        assert_int_equal(e, SR_E_NOMEM);
        assert_non_null(strstr(d.msg, "out of memory"));
        assert_true(sr_buf_ok(&b));
        assert_string_equal(b.p, "keep");
        sr_buf_free(&b);
        failures++;
        assert_true(k < 10000);
    }
    /* The JSON writers allocate many jansson objects; XSPF and CSV their scratch text
     * (the summary, the reasons), and their output buffer unless it is roomy. */
    assert_true(failures >= (f == SR_EXPORT_JSON || f == SR_EXPORT_JSPF ? 20 : 1));
    sr_free(want);
}

/* jansson's allocator for test_jansson_one_failure: fails call number fail_at only. */
static long jansson_calls, jansson_fail_at;
static void *one_failure_malloc(size_t n) {
    return jansson_calls++ == jansson_fail_at ? NULL : sr_malloc(n);
}

/* One jansson allocation fails while everything else works (sr_mem_fail_after fails
 * all later ones too, which the dump would notice anyway): the writer must notice. */
static void test_jansson_one_failure(void **state) {
    (void)state;
    sr_export_format fs[2] = {SR_EXPORT_JSON, SR_EXPORT_JSPF};
    for (int i = 0; i < 2; i++) {
        char *want = render(fs[i], &META, two, 2);
        json_set_alloc_funcs(one_failure_malloc, sr_free);
        for (long k = 0;; k++) {
            sr_buf b = SR_BUF_INIT;
            jansson_calls = 0;
            jansson_fail_at = k;
            sr_err e = sr_export_write(fs[i], &META, two, 2, &b, NULL);
            if (jansson_calls <= k) { /* nothing failed */
                assert_int_equal(e, SR_OK);
                assert_string_equal(b.p, want);
                sr_buf_free(&b);
                break;
            }
            assert_int_equal(e, SR_E_NOMEM);
            assert_int_equal(b.n, 0);
            sr_buf_free(&b);
        }
        json_set_alloc_funcs(sr_malloc, sr_free);
        sr_free(want);
    }
}

static void test_out_of_memory(void **state) {
    (void)state;
    for (int f = 0; f < SR_EXPORT__COUNT; f++) {
        out_of_memory((sr_export_format)f, false);
        out_of_memory((sr_export_format)f, true);
    }
    /* A buffer that had already failed is refused and left failed. */
    sr_buf b = SR_BUF_INIT;
    sr_mem_fail_after(0);
    sr_buf_adds(&b, "x");
    sr_mem_fail_after(-1);
    assert_false(sr_buf_ok(&b));
    assert_int_equal(sr_export_write(SR_EXPORT_CSV, NULL, NULL, 0, &b, NULL), SR_E_NOMEM);
    assert_false(sr_buf_ok(&b));
    sr_buf_free(&b);
}

int main(void) {
    /* jansson allocates through sr_malloc too, so that the tests can fail it. */
    json_set_alloc_funcs(sr_malloc, sr_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_names),
        cmocka_unit_test_setup(test_json_exact, setup_two),
        cmocka_unit_test_setup(test_csv_exact, setup_two),
        cmocka_unit_test(test_no_artist),
        cmocka_unit_test_setup(test_jspf_exact, setup_two),
        cmocka_unit_test_setup(test_xspf_exact, setup_two),
        cmocka_unit_test(test_empty_list),
        cmocka_unit_test(test_markup_xspf),
        cmocka_unit_test(test_markup_json),
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test(test_bad_text_json),
        cmocka_unit_test(test_bad_text_xspf),
        cmocka_unit_test(test_bad_text_csv),
        cmocka_unit_test(test_mbid_format),
        cmocka_unit_test_setup(test_json_roundtrip, setup_two),
        cmocka_unit_test(test_xspf_xmllint),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_non_finite),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test_setup(test_appends, setup_two),
        cmocka_unit_test_setup(test_out_of_memory, setup_two),
        cmocka_unit_test_setup(test_jansson_one_failure, setup_two),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
