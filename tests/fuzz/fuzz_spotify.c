/* libFuzzer target: the Spotify streaming-history reader (spotify.c).
 *
 * The input is read as "StreamingHistory0.json" (or, when its length is odd, as a
 * podcast file, whose rows are all skipped) through the shared harness (harness.h:
 * every field's bytes touched, the detector run on the same bytes). The seed corpus is
 * tests/fuzz/corpus/spotify/.
 */
#include "harness.h"

extern const sr_format sr_format_spotify;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *name = size & 1 ? "StreamingHistory_podcast_0.json" : "StreamingHistory0.json";
    fuzz_read(&sr_format_spotify, name, data, size, NULL);
    return 0;
}
