/* libFuzzer target: the ListenBrainz JSON array / API document reader (lb_json.c) and
 * the streaming array splitter under it (json_array.c).
 *
 * The input is read as a member named "fuzz_lb-2020-01-01.json" with a no-op accept
 * callback; the format's detector sees it too. The seed corpus is
 * tests/fuzz/corpus/lb_json/.
 */
#include <stdint.h>
#include <string.h>

#include "ingest/reader.h"

extern const sr_format sr_format_lb_json;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sr_err accept_none(void *user, const sr_listen *l, sr_value_kind kind) {
    (void)user, (void)l, (void)kind;
    return SR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *name = "fuzz_lb-2020-01-01.json";
    (void)sr_format_lb_json.detect(name, data, size);
    sr_stream s;
    if (sr_stream_init_mem(&s, data, size)) return 0;
    sr_read_stats st;
    memset(&st, 0, sizeof st);
    sr_diag d = {{0}};
    sr_read_opts o = {.min_ms_played = 30000, .now = 1750000000};
    sr_reader r = {.label = name,
                   .member = name,
                   .in = &s,
                   .opts = &o,
                   .format = &sr_format_lb_json,
                   .default_user = sr_str_c("fuzz"),
                   .stats = &st,
                   .accept = accept_none,
                   .diag = &d};
    (void)sr_format_lb_json.read(&r);
    sr_stream_deinit(&s);
    return 0;
}
