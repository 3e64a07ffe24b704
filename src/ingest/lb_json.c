/* ListenBrainz JSON array reader ("listenbrainz-json").
 *
 * The website's single-file exports and the API's responses, all whole JSON documents:
 *   - 2017 - Jan 2020 `<user>_lb-<date>.json`: an array of flattened listens
 *     (`artist_name`, `track_name`, `release_name`, `timestamp`, ...) without a user;
 *     the driver derives the default user from the file name;
 *   - Jan 2020 - 2024, same name: an array of API-shaped listens (`listened_at`,
 *     `user_name`, `track_metadata`);
 *   - an API GET response `{"payload": {"listens": [...], "user_id": "<name>"}}` (its
 *     user_id is a user name and serves listens without one), or a submit body
 *     `{"listen_type": ..., "payload": [...]}`.
 * Arrays are streamed element by element (json_array.h) and each element goes through
 * the shared extraction (lb_scan.h: scanner, jansson fallback); API documents are
 * parsed whole (they are pages of at most 1,000 listens).
 *
 * A bad element is skipped; an array that is not well formed fails the file with
 * SR_E_INPUT (SR_E_TRUNCATED when it ends early) after the elements before the fault
 * were emitted.
 *
 * Detection: a name `*_lb-*.json`, an array whose first object has ListenBrainz keys,
 * or an object with a top-level "payload" key. Spotify arrays (`endTime`, `ms_played`)
 * are left to the Spotify reader; one object per line is the JSON Lines reader's.
 */
#include <string.h>

#include "ingest/json_array.h"
#include "ingest/lb_scan.h"
#include "ingest/reader.h"

static int detect(const char *name, const unsigned char *head, size_t n) {
    const char *base = sr_path_base(name);
    int by_name = strstr(base, "_lb-") && sr_cstr_ends_with(base, ".json") ? 70 : 0;
    size_t i = sr_json_head_start(head, n);
    if (i >= n) return by_name / 2;
    if (head[i] == '{') return sr_json_head_has_key(head, n, 1, "payload") ? 90 : 0;
    if (head[i] != '[') return 0;
    size_t j = sr_json_head_start(head + i + 1, n - i - 1) + i + 1;
    if (j >= n || head[j] == ']') return by_name ? by_name : 10; /* empty or cut */
    if (head[j] != '{') return 0;
    if (sr_json_head_has_key(head, n, 2, "endTime") ||
        sr_json_head_has_key(head, n, 2, "ms_played"))
        return 0;
    if (sr_lb_head_has_listen_keys(head, n, 2)) return by_name ? 95 : 90;
    return by_name;
}

static sr_err element(sr_reader *r, const sr_json_array *a, const sr_json_elem *el, void *user) {
    sr_lb_ctx *ctx = user;
    sr_listen l = {0};
    sr_skip why;
    const char *detail = NULL;
    if (el->value) {
        if (json_is_object(el->value)) {
            sr_lb_raw raw;
            sr_lb_from_json(el->value, &raw);
            why = sr_lb_resolve(&raw, &l, &detail);
            if (why == SR_SKIP__COUNT && !l.user.n) l.user = a->doc_user;
        } else {
            why = SR_SKIP_BAD_FIELD;
            detail = "not a JSON object";
        }
    } else if (el->text.p[0] != '{' && el->text.p[0] != '[') {
        why = SR_SKIP_BAD_FIELD;
        detail = "not a JSON object";
    } else {
        sr_err e = sr_lb_extract(ctx, el->text.p, el->text.n, &l, &why, &detail);
        l.utf8_ok = true; /* both the scanner and jansson check it */
        if (e) return e;
    }
    return why == SR_SKIP__COUNT ? sr_reader_emit(r, &l, a->line)
                                 : sr_reader_skip(r, why, a->line, detail);
}

static sr_err read_array(sr_reader *r) {
    sr_lb_ctx ctx;
    sr_lb_ctx_init(&ctx);
    sr_err e = sr_json_array_read(r, SR_JSON_ARRAY_PAYLOAD, element, &ctx);
    sr_lb_ctx_deinit(&ctx);
    return e;
}

const sr_format sr_format_lb_json = {
    .name = "listenbrainz-json",
    .summary = "ListenBrainz JSON array exports (*_lb-*.json) and API responses",
    .kind = SR_VALUE_PLAYS,
    .listen_times = true,
    .items_only = false,
    .detect = detect,
    .read = read_array,
};
