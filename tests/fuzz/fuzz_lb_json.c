/* libFuzzer target: the ListenBrainz JSON array / API document reader (lb_json.c) and
 * the streaming array splitter under it (json_array.c).
 *
 * The input is read as a member named "fuzz_lb-2020-01-01.json" through the shared
 * harness (harness.h: every field's bytes touched, the detector run on the same bytes).
 * The seed corpus is tests/fuzz/corpus/lb_json/.
 */
#include "harness.h"

extern const sr_format sr_format_lb_json;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_read(&sr_format_lb_json, "fuzz_lb-2020-01-01.json", data, size, NULL);
    return 0;
}
