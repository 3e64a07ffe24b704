/* Benchmark: extracting ListenBrainz listens from JSON Lines with songrec's scanner
 * (ingest/lb_scan.c) and with four general JSON libraries (jansson, json-c, yajl,
 * cJSON), plus the whole lb_jsonl reader (line splitting, extraction, validation in
 * sr_reader_emit) on the same bytes.
 *
 * Lines are generated (fixed seed) in the shape of a ListenBrainz dump line, ~350 bytes
 * each, ~10% with non-ASCII names and ~2% with escapes. Every parser extracts the same
 * fields (user_name, timestamp, artist, track, release, recording MBID) and folds them
 * into a checksum, which must agree across parsers (so none skips work). Reported:
 * lines/s and MB/s, best of three passes.
 *
 * Not part of the CMake build: bench/json_parsers.sh compiles it against the few songrec
 * sources it needs. Usage: json_parsers [n_lines [only]] (default 1,000,000 lines; only:
 * one of lb_scan, jansson, json-c, yajl, cJSON, reader, for profiling).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/str.h"

/* json-c's and jansson's headers cannot be included together (both define json_object,
 * json_type, ...), so the script compiles this file twice: once with SR_BENCH_JSONC for
 * the json-c part alone, once for everything else. */
uint64_t sr_bench_fold_listen(uint64_t h, sr_str u, sr_str a, sr_str t, sr_str r, sr_str m,
                              int64_t ts);
uint64_t sr_bench_jsonc(const char *p, size_t n, char *scratch);

#ifdef SR_BENCH_JSONC
#include <json.h>

static sr_str jc_str(json_object *o, const char *k) {
    json_object *v;
    if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return SR_STR_NULL;
    return (sr_str){json_object_get_string(v), (size_t)json_object_get_string_len(v)};
}

uint64_t sr_bench_jsonc(const char *p, size_t n, char *scratch) {
    (void)scratch;
    static json_tokener *tok;
    if (!tok) tok = json_tokener_new();
    json_tokener_reset(tok);
    json_object *o = json_tokener_parse_ex(tok, p, (int)n);
    if (!o) return 1;
    json_object *tm = NULL, *ai = NULL, *ts = NULL;
    json_object_object_get_ex(o, "track_metadata", &tm);
    if (tm) json_object_object_get_ex(tm, "additional_info", &ai);
    json_object_object_get_ex(o, "timestamp", &ts);
    uint64_t h = sr_bench_fold_listen(0, jc_str(o, "user_name"), jc_str(tm, "artist_name"),
                                      jc_str(tm, "track_name"), jc_str(tm, "release_name"),
                                      jc_str(ai, "recording_mbid"), json_object_get_int64(ts));
    json_object_put(o);
    return h;
}

#else
#include <cJSON.h>
#include <jansson.h>
#include <yajl_tree.h>

#include "ingest/lb_scan.h"
#include "ingest/reader.h"

extern const sr_format sr_format_lb_jsonl, sr_format_lb_json;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void uuid(char *out) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 36; i++)
        out[i] = (i == 8 || i == 13 || i == 18 || i == 23) ? '-' : hex[rnd() % 16];
    out[36] = 0;
}

/* Generates n lines into one buffer ('\n'-terminated); *offs gets each line's start. */
static char *generate(size_t n, size_t **offs, size_t *total) {
    size_t cap = n * 480 + 1024, len = 0;
    char *buf = malloc(cap);
    *offs = malloc((n + 1) * sizeof **offs);
    if (!buf || !*offs) exit(1);
    /* 88% plain ASCII, 10% UTF-8, 2% with escapes */
    static const char *const ascii[] = {"The Example Band", "Another Artist", "Test Pilots"};
    static const char *const utf8[] = {"Caf\xc3\xa9 Tacuba", "Sigur R\xc3\xb3s"};
    static const char *const esc[] = {"Say \\\"Hi\\\"", "A\\u00e9B \\/ C"};
    for (size_t i = 0; i < n; i++) {
        char m1[37], m2[37];
        uuid(m1), uuid(m2);
        unsigned r = (unsigned)(rnd() % 100);
        const char *artist = r < 88 ? ascii[r % 3] : r < 98 ? utf8[r % 2] : esc[r % 2];
        (*offs)[i] = len;
        len += (size_t)sprintf(
            buf + len,
            "{\"user_id\": %u, \"user_name\": \"user_%u\", \"timestamp\": %u, "
            "\"recording_msid\": \"%s\", \"track_metadata\": {\"artist_name\": \"%s %u\", "
            "\"track_name\": \"Track number %u\", \"release_name\": \"Release %u\", "
            "\"additional_info\": {\"recording_msid\": \"%s\", \"recording_mbid\": \"%s\"}}}\n",
            (unsigned)(rnd() % 50000), (unsigned)(rnd() % 50000),
            1514764800u + (unsigned)(rnd() % 200000000), m1, artist, (unsigned)(rnd() % 1000),
            (unsigned)(rnd() % 100000), (unsigned)(rnd() % 10000), m1, m2);
    }
    (*offs)[n] = len;
    *total = len;
    return buf;
}

static uint64_t fold(uint64_t h, const char *p, size_t n) {
    h = h * 31 + n;
    if (n) h = h * 131 + (unsigned char)p[0] + (unsigned char)p[n - 1];
    return h;
}

uint64_t sr_bench_fold_listen(uint64_t h, sr_str u, sr_str a, sr_str t, sr_str r, sr_str m,
                              int64_t ts) {
    h = fold(h, u.p, u.n);
    h = fold(h, a.p, a.n);
    h = fold(h, t.p, t.n);
    h = fold(h, r.p, r.n);
    h = fold(h, m.p, m.n);
    return h * 7 + (uint64_t)ts;
}

typedef uint64_t (*parse_fn)(const char *p, size_t n, char *scratch);

static uint64_t p_scan(const char *p, size_t n, char *scratch) {
    sr_lb_raw raw;
    sr_listen l;
    const char *d;
    if (sr_lb_scan(p, n, scratch, &raw) != SR_LB_SCAN_OK) return 1;
    if (sr_lb_resolve(&raw, &l, &d) != SR_SKIP__COUNT) return 2;
    return sr_bench_fold_listen(0, l.user, l.artist, l.track, l.release, l.recording_mbid, l.ts);
}

static uint64_t p_jansson(const char *p, size_t n, char *scratch) {
    (void)scratch;
    json_t *doc = json_loadb(p, n, JSON_ALLOW_NUL, NULL);
    if (!doc) return 1;
    sr_lb_raw raw;
    sr_listen l;
    const char *d;
    sr_lb_from_json(doc, &raw);
    uint64_t h = 2;
    if (sr_lb_resolve(&raw, &l, &d) == SR_SKIP__COUNT)
        h = sr_bench_fold_listen(0, l.user, l.artist, l.track, l.release, l.recording_mbid, l.ts);
    json_decref(doc);
    return h;
}

static sr_str yj_str(yajl_val o, const char **path) {
    yajl_val v = yajl_tree_get(o, path, yajl_t_string);
    return v ? sr_str_c(YAJL_GET_STRING(v)) : SR_STR_NULL;
}

static uint64_t p_yajl(const char *p, size_t n, char *scratch) {
    memcpy(scratch, p, n); /* yajl_tree_parse wants a NUL-terminated string */
    scratch[n] = 0;
    yajl_val o = yajl_tree_parse(scratch, NULL, 0);
    if (!o) return 1;
    static const char *pu[] = {"user_name", NULL}, *pt[] = {"timestamp", NULL},
                      *pa[] = {"track_metadata", "artist_name", NULL},
                      *pk[] = {"track_metadata", "track_name", NULL},
                      *pr[] = {"track_metadata", "release_name", NULL},
                      *pm[] = {"track_metadata", "additional_info", "recording_mbid", NULL};
    yajl_val ts = yajl_tree_get(o, pt, yajl_t_number);
    uint64_t h = sr_bench_fold_listen(0, yj_str(o, pu), yj_str(o, pa), yj_str(o, pk), yj_str(o, pr),
                                      yj_str(o, pm), ts ? YAJL_GET_INTEGER(ts) : 0);
    yajl_tree_free(o);
    return h;
}

static sr_str cj_str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? sr_str_c(v->valuestring) : SR_STR_NULL;
}

static uint64_t p_cjson(const char *p, size_t n, char *scratch) {
    (void)scratch;
    cJSON *o = cJSON_ParseWithLength(p, n);
    if (!o) return 1;
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(o, "track_metadata");
    const cJSON *ai = cJSON_GetObjectItemCaseSensitive(tm, "additional_info");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "timestamp");
    uint64_t h =
        sr_bench_fold_listen(0, cj_str(o, "user_name"), cj_str(tm, "artist_name"),
                             cj_str(tm, "track_name"), cj_str(tm, "release_name"),
                             cj_str(ai, "recording_mbid"), ts ? (int64_t)ts->valuedouble : 0);
    cJSON_Delete(o);
    return h;
}

static sr_err accept_none(void *u, const sr_listen *l, sr_value_kind k) {
    (void)l, (void)k;
    ++*(uint64_t *)u;
    return SR_OK;
}

/* A whole reader: lines or array elements, extraction with fallback, validation. */
static double run_reader(const sr_format *f, const char *buf, size_t total, uint64_t *accepted) {
    sr_stream s;
    sr_stream_init_mem(&s, buf, total);
    sr_read_stats st;
    memset(&st, 0, sizeof st);
    sr_read_opts o = {.now = 1750000000};
    sr_diag d = {{0}};
    *accepted = 0;
    sr_reader r = {.label = "bench",
                   .member = "bench.listens",
                   .in = &s,
                   .opts = &o,
                   .format = &sr_format_lb_jsonl,
                   .default_user = sr_str_c("u"),
                   .stats = &st,
                   .accept = accept_none,
                   .accept_user = accepted,
                   .diag = &d};
    double t0 = now_s();
    sr_err e = f->read(&r);
    double t = now_s() - t0;
    sr_stream_deinit(&s);
    if (e) fprintf(stderr, "reader: %s\n", d.msg);
    return t;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    const char *only = argc > 2 ? argv[2] : NULL;
    size_t *offs, total;
    char *buf = generate(n, &offs, &total);
    char *scratch = malloc(1 << 20);
    printf("%zu lines, %.1f MB, %.0f bytes/line\n", n, total / 1e6, (double)total / n);
    static const struct {
        const char *name;
        parse_fn fn;
    } parsers[] = {{"lb_scan", p_scan},
                   {"jansson", p_jansson},
                   {"json-c", sr_bench_jsonc},
                   {"yajl", p_yajl},
                   {"cJSON", p_cjson}};
    uint64_t ref = 0;
    for (size_t k = 0; k < sizeof parsers / sizeof *parsers; k++) {
        if (only && strcmp(only, parsers[k].name)) continue;
        double best = 1e9;
        uint64_t h = 0;
        for (int pass = 0; pass < 3; pass++) {
            h = 0;
            double t0 = now_s();
            for (size_t i = 0; i < n; i++) {
                size_t len = offs[i + 1] - offs[i] - 1;
                h = h * 3 + parsers[k].fn(buf + offs[i], len, scratch);
            }
            double t = now_s() - t0;
            if (t < best) best = t;
        }
        if (k == 0) ref = h;
        printf("%-8s %8.2f M lines/s %8.1f MB/s  %s\n", parsers[k].name, n / best / 1e6,
               total / best / 1e6,
               h == ref ? "" : "(checksum differs: escapes decoded differently)");
    }
    /* The same listens as one JSON array, for the array reader. */
    char *arr = malloc(total + 2);
    if (!arr) return 1;
    arr[0] = '[';
    memcpy(arr + 1, buf, total);
    for (size_t i = 1; i < n; i++) arr[offs[i]] = ','; /* the '\n' before line i */
    arr[total] = ']';
    arr[total + 1] = '\n';
    static const struct {
        const char *name, *what;
        const sr_format *f;
        int array;
    } readers[] = {{"reader", "lb_jsonl reader incl. emit", &sr_format_lb_jsonl, 0},
                   {"array", "lb_json reader, same listens as one array", &sr_format_lb_json, 1}};
    for (size_t k = 0; k < 2; k++) {
        if (only && strcmp(only, readers[k].name)) continue;
        double best = 1e9;
        uint64_t acc = 0;
        for (int pass = 0; pass < 3; pass++) {
            double t = readers[k].array ? run_reader(readers[k].f, arr, total + 2, &acc)
                                        : run_reader(readers[k].f, buf, total, &acc);
            if (t < best) best = t;
        }
        printf("%-8s %8.2f M lines/s %8.1f MB/s  (%s; %llu accepted)\n", readers[k].name,
               n / best / 1e6, total / best / 1e6, readers[k].what, (unsigned long long)acc);
    }
    free(arr);
    free(scratch);
    free(buf);
    free(offs);
    return 0;
}
#endif
