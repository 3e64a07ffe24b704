/* libFuzzer target: the API's JSON bodies (server/api.c) — POST and PUT routes run in
 * process on real engines and a real profile store (api_harness.h).
 *
 * An input is "METHOD TARGET [MODEL]\n" and the body: recommendations for ratings sent
 * by id or by name with every option and block list (POST /api/recommend, "@token@"
 * adding the live profile), a new profile with ratings, a profile replaced (PUT), one
 * rating, one block, and history uploads (POST /api/profiles/t/history: the body is a
 * listening-history file, spooled and read by every ingest reader through libarchive).
 * A 5xx answer, an answer that is not the JSON it claims, or an error without its shape
 * aborts. Seeds: tests/fuzz/corpus/api_body (docs/API.md's examples and their error
 * cases, a history in each format family).
 */
#include "api_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_api_run(data, size, 1u << SR_HTTP_POST | 1u << SR_HTTP_PUT, true);
    return 0;
}
