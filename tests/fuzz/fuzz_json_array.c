/* libFuzzer target: the streaming JSON array splitter (ingest/json_array.c) against
 * jansson, both ways.
 *
 * The splitter walks the input as a top-level array (array mode: what the ListenBrainz
 * export and Spotify readers use), each element it yields parsed alone with jansson.
 *   - When jansson parses the whole input (less a UTF-8 BOM, which the splitter skips)
 *     as an array no deeper than SR_JSON_MAX_DEPTH (the splitter's documented limit;
 *     jansson's is 2048), the splitter must reach the end cleanly with as many
 *     elements, each equal (json_equal) to jansson's.
 *   - When the splitter reaches the end cleanly and every element parses alone, jansson
 *     must parse the whole input as an array.
 * Anything else aborts (a finding); an element over 1 MiB or more than 4096 elements
 * give no verdict. The detection helpers are not involved. Seeds:
 * tests/fuzz/corpus/json_array (the JSON array fixtures and bracket/escape cases).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/json_array.h"

#define MAX_ELEMS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Nesting depth of v (a scalar is 0). */
static size_t depth(const json_t *v) {
    size_t d = 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t k = depth(json_array_get(v, i));
            d = k > d ? k : d;
        }
    } else if (json_is_object(v)) {
        const char *key;
        json_t *x;
        json_object_foreach((json_t *)v, key, x) {
            size_t k = depth(x);
            d = k > d ? k : d;
        }
    } else {
        return 0;
    }
    return d + 1;
}

static json_t *parse(const char *p, size_t n) {
    return json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sr_stream s;
    if (sr_stream_init_mem(&s, data, size)) return 0;
    static json_t *elems[MAX_ELEMS];
    size_t n = 0;
    bool clean = false, all_parse = true, skip_verdict = false;
    sr_json_array a;
    sr_diag d = {{0}};
    if (sr_json_array_open(&a, &s, 0, "fuzz", &d) == SR_OK) {
        for (;;) {
            sr_json_elem el;
            int r = sr_json_array_next(&a, &el, &d);
            if (r == SR_JA_END) clean = true;
            /* an element over 1 MiB or too many to compare: no verdict */
            if ((skip_verdict = r == SR_JA_TOO_LONG || n == MAX_ELEMS)) break;
            if (r != SR_JA_ELEMENT) break;
            elems[n] = parse(el.text.p, el.text.n);
            all_parse = all_parse && elems[n];
            n++;
        }
        sr_json_array_close(&a);
    }
    sr_stream_deinit(&s);

    size_t skip = size >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3) ? 3 : 0;
    json_t *doc = json_loadb((const char *)data + skip, size - skip, JSON_ALLOW_NUL, NULL);
    if (skip_verdict) {
        /* nothing */
    } else if (json_is_array(doc)) {
        if (depth(doc) <= SR_JSON_MAX_DEPTH) {
            if (!clean || n != json_array_size(doc)) abort();
            for (size_t i = 0; i < n; i++)
                if (!json_equal(elems[i], json_array_get(doc, i))) abort();
        }
    } else if (clean && all_parse) {
        abort();
    }
    json_decref(doc);
    for (size_t i = 0; i < n; i++) json_decref(elems[i]);
    return 0;
}
