/* libFuzzer target for the Last.fm text readers (ingest/lastfm.c).
 *
 * An odd first byte picks lastfm-1k (six tab fields, ISO times, header skip on line 1),
 * an even one lastfm-csv (four comma fields, "05 Mar 2017 13:45" dates). The detector
 * of the chosen format runs on the same bytes. Seeds: tests/fuzz/corpus/lastfm (a
 * seed's first byte decides which reader sees it; both kinds are there). */
#include "harness.h"

extern const sr_format sr_format_lastfm_1k, sr_format_lastfm_csv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bool one_k = size && (data[0] & 1);
    fuzz_read(one_k ? &sr_format_lastfm_1k : &sr_format_lastfm_csv, "fuzz", data, size, NULL);
    return 0;
}
