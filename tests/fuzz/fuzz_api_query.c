/* libFuzzer target: the API's request targets — path ids and query strings of the GET
 * and DELETE routes (server/api.c), run in process on real engines and a real profile
 * store (api_harness.h).
 *
 * An input is one line "[METHOD] TARGET [MODEL]" (GET when the method is left out):
 * search (q, kind, limit), an artist and its songs (offset, limit pagination), songs,
 * similar songs and artists (n), the starter songs, the model, a profile ("t" as the
 * token is the live one; any other token is unknown), its exported recommendations
 * (format json/jspf/xspf/csv, n, max_per_artist, because, exclude_rated_artists,
 * discovery) and the DELETE routes with their ids and block kinds. Text after the first
 * line is ignored. A 5xx answer (bar 501 from a similar route), an answer that is not
 * the JSON it claims, or an error without its shape aborts. Seeds:
 * tests/fuzz/corpus/api_query (docs/API.md's examples and their error cases).
 */
#include "api_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_api_run(data, size, 1u << SR_HTTP_GET | 1u << SR_HTTP_DELETE, false);
    return 0;
}
