/* ListenBrainz JSON Lines reader ("listenbrainz").
 *
 * One listen object per line, in any of ListenBrainz's line shapes (section 1 of
 * listen-formats.md): full/incremental dump lines (`timestamp`, `user_name`, `user_id`,
 * `track_metadata`), the Influx-era dump and API shape (`listened_at`), the 2024+ zip
 * export's listens/<year>/<month>.jsonl (no user: the reader's default user), the spark
 * JSON dump (flat `listened_at` string, `artist_name`, `track_name`, `recording_mbid`)
 * and flat 2017-19 export objects. Field extraction and its rules are shared with the
 * array reader in lb_scan.c; each line goes through the fast scanner and falls back to
 * jansson only when the scanner declines.
 *
 * Blank lines are ignored; a line that does not parse is skipped (malformed JSON,
 * invalid UTF-8, NUL in a key), and the next line is read: JSON Lines resynchronise at
 * every newline (trap 2). A UTF-8 byte-order mark before the first line is dropped.
 *
 * Detection: member names `*.listens` (dumps) and `*.jsonl` (zip export, except its
 * feedback and pinned-recording files), and first bytes that hold one complete JSON
 * object on the first line with ListenBrainz keys at its top level. A pretty-printed
 * object, an array or an API response (`{"payload": ...}`) is the array reader's.
 */
#include <string.h>

#include "ingest/delim.h"
#include "ingest/json_array.h"
#include "ingest/lb_scan.h"
#include "ingest/reader.h"

static int detect(const char *name, const unsigned char *head, size_t n) {
    const char *base = sr_path_base(name);
    if (!strcmp(base, "feedback.jsonl") || !strcmp(base, "pinned_recording.jsonl") ||
        !strcmp(base, "user.json"))
        return 0;
    int by_name = 0;
    if (sr_cstr_ends_with(base, ".listens"))
        by_name = 60;
    else if (sr_cstr_ends_with(base, ".jsonl"))
        by_name = 50;
    size_t i = sr_json_head_start(head, n);
    if (i >= n) return by_name / 2; /* empty member: harmless either way */
    if (head[i] != '{') return 0;
    if (sr_json_head_has_key(head, n, 1, "payload")) return 0;
    size_t end = sr_json_head_value_len(head, n);
    if (end) {
        /* One object per line: no newline inside it, and only blanks up to the next. */
        size_t j = end;
        while (j < n && (head[j] == ' ' || head[j] == '\t' || head[j] == '\r')) j++;
        if (memchr(head + i, '\n', end - i) || (j < n && head[j] != '\n')) return by_name / 2;
    } else if (memchr(head + i, '\n', n - i)) {
        return by_name / 2; /* the first object spans lines, or is broken */
    }
    if (sr_lb_head_has_listen_keys(head + i, n - i, 1)) return by_name ? 95 : 90;
    return by_name ? by_name / 2 : 0;
}

static sr_err line_row(sr_reader *r, const sr_delim_row *row, void *user) {
    sr_lb_ctx *ctx = user;
    sr_listen l = {0};
    sr_skip why;
    const char *detail;
    sr_err e = sr_lb_extract(ctx, row->line.p, row->line.n, &l, &why, &detail);
    l.utf8_ok = true; /* both the scanner and jansson check it */
    if (e) return e;
    return why == SR_SKIP__COUNT ? sr_reader_emit(r, &l, row->no)
                                 : sr_reader_skip(r, why, row->no, detail);
}

/* The line loop (BOM, blank and overlong lines) is the text readers' (delim.h); each line
 * is parsed whole, so the loop does not split it (delim 0). */
static sr_err read_lines(sr_reader *r) {
    sr_lb_ctx ctx;
    sr_lb_ctx_init(&ctx);
    sr_err e = sr_delim_read_rows(r, 0, 0, line_row, &ctx);
    sr_lb_ctx_deinit(&ctx);
    return e;
}

const sr_format sr_format_lb_jsonl = {
    .name = "listenbrainz",
    .summary = "ListenBrainz JSON Lines: dumps (*.listens), zip export (*.jsonl), spark JSON",
    .kind = SR_VALUE_PLAYS,
    .listen_times = true,
    .items_only = false,
    .detect = detect,
    .read = read_lines,
};
