/* libFuzzer target for the (user, item, value) readers (ingest/triplets.c).
 *
 * An odd first byte picks triplets (MSD taste profile, tab, counts), an even one
 * ratings (separator "::", tab, comma or whitespace chosen from the first line). The
 * detector of the chosen format runs on the same bytes. Seeds:
 * tests/fuzz/corpus/triplets (the triplets and ratings fixtures). */
#include "harness.h"

extern const sr_format sr_format_triplets, sr_format_ratings;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bool trip = size && (data[0] & 1);
    fuzz_read(trip ? &sr_format_triplets : &sr_format_ratings, "fuzz", data, size, NULL);
    return 0;
}
