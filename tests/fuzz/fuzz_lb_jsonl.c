/* libFuzzer target: the ListenBrainz JSON Lines reader (lb_jsonl.c), plus a
 * differential check of the line scanner against jansson (lb_scan.c).
 *
 * The input is read as a member named "fuzz.listens" through the shared harness
 * (harness.h: every field's bytes touched, the detector run on the same bytes). Then
 * each line goes through sr_lb_scan and jansson: when the scanner accepts a line,
 * jansson must parse it to an object and both must resolve to the same listen or skip
 * reason, else the target aborts (a finding). The seed corpus is
 * tests/fuzz/corpus/lb_jsonl/.
 */
#include <stdlib.h>

#include "harness.h"
#include "ingest/lb_scan.h"
#include "util/mem.h"

extern const sr_format sr_format_lb_jsonl;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(sr_str a, sr_str b) {
    return a.n == b.n && (a.n == 0 || !memcmp(a.p, b.p, a.n));
}

static void differential(const char *p, size_t n) {
    char *scratch = sr_malloc(n + 1);
    if (!scratch) return;
    sr_lb_raw a, b;
    if (sr_lb_scan(p, n, scratch, &a) == SR_LB_SCAN_OK) {
        json_error_t err;
        json_t *doc = json_loadb(p, n, JSON_ALLOW_NUL, &err);
        if (!doc || !json_is_object(doc)) abort();
        sr_lb_from_json(doc, &b);
        sr_listen la, lb;
        const char *da, *db;
        sr_skip wa = sr_lb_resolve(&a, &la, &da), wb = sr_lb_resolve(&b, &lb, &db);
        if (wa != wb) abort();
        if (wa == SR_SKIP__COUNT && (!same(la.user, lb.user) || !same(la.artist, lb.artist) ||
                                     !same(la.track, lb.track) || !same(la.release, lb.release) ||
                                     !same(la.recording_mbid, lb.recording_mbid) || la.ts != lb.ts))
            abort();
        json_decref(doc);
    }
    sr_free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_read(&sr_format_lb_jsonl, "fuzz.listens", data, size, NULL);

    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        differential(p, n);
        p += n + 1;
    }
    return 0;
}
