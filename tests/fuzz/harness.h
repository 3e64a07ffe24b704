/* Shared body of the reader fuzz targets (fuzz_csv.c, fuzz_lastfm.c, fuzz_triplets.c,
 * fuzz_lb_json.c, fuzz_lb_jsonl.c, fuzz_spotify.c): reads the input bytes with one format
 * through an in-memory stream, with an accept callback that touches every byte of every
 * field (so a field pointing at freed or stale memory shows up under ASan), then runs
 * the format's detector on the same bytes and traps on a score outside 0..100. Errors
 * are expected; only crashes, leaks and UB are findings. */
#ifndef SR_FUZZ_HARNESS_H
#define SR_FUZZ_HARNESS_H

#include <stdint.h>
#include <string.h>

#include "ingest/reader.h"

static uint64_t sink;

static void touch(sr_str s) {
    for (size_t i = 0; i < s.n; i++) sink += (unsigned char)s.p[i];
}

static sr_err touch_all(void *user, const sr_listen *l, sr_value_kind kind) {
    (void)user, (void)kind;
    touch(l->user), touch(l->artist), touch(l->track), touch(l->release);
    touch(l->recording_mbid);
    sink += (uint64_t)l->ts;
    return SR_OK;
}

/* Reads data[0, size) with format f as the member name (also the label), with the
 * options every target shares (--user fuzz, default user "fuzz", --min-ms-played 30000,
 * "now" 2025-06-15) and columns as --columns (NULL: none); then detects. */
static inline void fuzz_read(const sr_format *f, const char *name, const uint8_t *data, size_t size,
                             const char *columns) {
    sr_stream s;
    if (sr_stream_init_mem(&s, data, size)) return;
    sr_read_stats st;
    memset(&st, 0, sizeof st);
    sr_diag d = {{0}};
    sr_read_opts o = {
        .user = "fuzz", .columns = columns, .min_ms_played = 30000, .now = 1750000000};
    sr_reader r;
    sr_reader_init(&r, f, &s, &o, &st, touch_all, NULL, &d);
    r.label = r.member = name;
    r.default_user = sr_str_c("fuzz");
    (void)f->read(&r);
    sr_stream_deinit(&s);
    int score = f->detect(name, data, size);
    if (score < 0 || score > 100) __builtin_trap();
}

#endif
