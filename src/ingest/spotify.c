/* Spotify streaming-history reader ("spotify"), section 3 of listen-formats.md.
 *
 * Two shapes, both a JSON array of objects, told apart per row by their keys:
 *   - account data `StreamingHistory<N>.json` / `StreamingHistory_music_<N>.json`:
 *     `endTime` ("YYYY-MM-DD HH:MM", UTC, end of the stream), `artistName`,
 *     `trackName`, `msPlayed`;
 *   - extended history `endsong_<N>.json` / `Streaming_History_Audio_*.json`: `ts`
 *     (ISO 8601 end time), `ms_played`, `master_metadata_album_artist_name`,
 *     `master_metadata_track_name`, `master_metadata_album_album_name`, `username`
 *     (old files only), episode/audiobook keys for non-music, `incognito_mode`.
 * Spotify's time is the end of the stream: the listen starts at end - ms_played
 * (trap 7). Spotify lists every stream, so rows are skipped and counted: podcast,
 * audiobook or track-less rows (non_music), incognito plays, and plays shorter than
 * --min-ms-played (short_play). `StreamingHistory_podcast_*` files hold only podcasts:
 * every row is non_music. Records carry no user except `username`: the driver supplies
 * the default user.
 *
 * Files are small (10,000 rows each), so each element is parsed with jansson after the
 * streaming splitter (json_array.h) delimits it.
 */
#include <string.h>

#include "ingest/json_array.h"
#include "ingest/reader.h"
#include "util/timeparse.h"

static int detect(const char *name, const unsigned char *head, size_t n) {
    const char *base = sr_path_base(name);
    int by_name = 0;
    if (sr_cstr_ends_with(base, ".json")) {
        if (sr_cstr_starts_with(base, "StreamingHistory") ||
            sr_cstr_starts_with(base, "endsong_") ||
            sr_cstr_starts_with(base, "Streaming_History_Audio_"))
            by_name = 80;
        else if (sr_cstr_starts_with(base, "Streaming_History_Video_"))
            by_name = 60;
    }
    size_t i = sr_json_head_start(head, n);
    if (i >= n) return by_name / 2;
    if (head[i] != '[') return by_name / 4;
    bool acct = sr_json_head_has_key(head, n, 2, "endTime") &&
                (sr_json_head_has_key(head, n, 2, "msPlayed") ||
                 sr_json_head_has_key(head, n, 2, "trackName"));
    bool ext = false;
    if (sr_json_head_has_key(head, n, 2, "ts")) {
        /* ms_played may lie past a cut head; the first keys of a row also tell */
        static const char *const keys[] = {"ms_played", "platform", "conn_country",
                                           "master_metadata_track_name", "spotify_track_uri"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys && !ext; k++)
            ext = sr_json_head_has_key(head, n, 2, keys[k]);
    }
    if (acct || ext) return 95;
    return by_name;
}

static sr_str str_of(const json_t *v) {
    return json_is_string(v) ? (sr_str){json_string_value(v), json_string_length(v)} : SR_STR_NULL;
}

/* A name field: a string, or absent/null (empty: emit skips it). */
static bool name_of(const json_t *o, const char *key, sr_str *out) {
    const json_t *v = json_object_get(o, key);
    *out = str_of(v);
    return !v || json_is_null(v) || json_is_string(v);
}

/* Milliseconds played: an integer, a real or a numeric string, >= 0. */
static bool ms_of(const json_t *v, int64_t *ms) {
    if (json_is_integer(v))
        *ms = (int64_t)json_integer_value(v);
    else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d < 9e18)) return false;
        *ms = (int64_t)d;
    } else if (json_is_string(v)) {
        sr_str s = sr_str_trim(str_of(v));
        int64_t x = 0;
        if (!s.n) return false;
        for (size_t i = 0; i < s.n; i++) {
            if (s.p[i] < '0' || s.p[i] > '9' || x > (INT64_MAX - 9) / 10) return false;
            x = x * 10 + (s.p[i] - '0');
        }
        *ms = x;
    } else {
        return false;
    }
    return *ms >= 0;
}

/* A non-null, non-empty value under any of the non-music keys. */
static bool non_music(const json_t *o) {
    static const char *const keys[] = {
        "episode_name",  "spotify_episode_uri",   "episode_show_name",      "audiobook_title",
        "audiobook_uri", "audiobook_chapter_uri", "audiobook_chapter_title"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const json_t *v = json_object_get(o, keys[i]);
        if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0))
            return true;
    }
    return false;
}

static sr_err row(sr_reader *r, const json_t *o, uint64_t no) {
    sr_listen l = {.ts = SR_TS_NONE, .value = 1};
    const json_t *end, *ms_v;
    bool ext = json_object_get(o, "ts") || json_object_get(o, "ms_played") ||
               json_object_get(o, "master_metadata_track_name");
    if (ext) {
        const json_t *track = json_object_get(o, "master_metadata_track_name");
        if (non_music(o) || !track || json_is_null(track))
            return sr_reader_skip(r, SR_SKIP_NON_MUSIC, no, NULL);
        if (json_is_true(json_object_get(o, "incognito_mode")))
            return sr_reader_skip(r, SR_SKIP_INCOGNITO, no, NULL);
        if (!name_of(o, "master_metadata_track_name", &l.track) ||
            !name_of(o, "master_metadata_album_artist_name", &l.artist))
            return sr_reader_skip(r, SR_SKIP_BAD_FIELD, no, "artist or track is not a string");
        l.release = str_of(json_object_get(o, "master_metadata_album_album_name"));
        l.user = str_of(json_object_get(o, "username"));
        end = json_object_get(o, "ts");
        ms_v = json_object_get(o, "ms_played");
    } else if (json_object_get(o, "endTime") || json_object_get(o, "msPlayed") ||
               json_object_get(o, "trackName")) {
        if (!name_of(o, "trackName", &l.track) || !name_of(o, "artistName", &l.artist))
            return sr_reader_skip(r, SR_SKIP_BAD_FIELD, no,
                                  "artistName or trackName is not a string");
        end = json_object_get(o, "endTime");
        ms_v = json_object_get(o, "msPlayed");
    } else {
        return sr_reader_skip(r, SR_SKIP_BAD_FIELD, no, "not a Spotify streaming-history row");
    }
    int64_t ms;
    if (!ms_of(ms_v, &ms))
        return sr_reader_skip(r, SR_SKIP_BAD_FIELD, no, "missing or bad ms played");
    if (ms < (r->opts ? r->opts->min_ms_played : 0))
        return sr_reader_skip(r, SR_SKIP_SHORT_PLAY, no, NULL);
    int64_t t;
    if (!json_is_string(end) || !sr_time_parse(str_of(end), &t))
        return sr_reader_skip(r, SR_SKIP_BAD_TIMESTAMP, no, "missing or unparseable end time");
    l.ts = t - ms / 1000;
    return sr_reader_emit(r, &l, no);
}

static sr_err element(sr_reader *r, const sr_json_array *a, const sr_json_elem *el, void *user) {
    const bool *podcasts = user;
    uint64_t no = a->line;
    if (*podcasts) return sr_reader_skip(r, SR_SKIP_NON_MUSIC, no, NULL);
    json_error_t err;
    json_t *o = json_loadb(el->text.p, el->text.n, JSON_ALLOW_NUL, &err);
    sr_err e;
    if (!o) {
        if (json_error_code(&err) == json_error_out_of_memory)
            e = SR_E_NOMEM;
        else
            e = sr_reader_skip(r, sr_json_error_skip(&err), no, err.text);
    } else if (!json_is_object(o)) {
        e = sr_reader_skip(r, SR_SKIP_BAD_FIELD, no, "not a JSON object");
    } else {
        e = row(r, o, no);
    }
    json_decref(o);
    return e;
}

static sr_err read_spotify(sr_reader *r) {
    bool podcasts = sr_cstr_starts_with(sr_path_base(r->member), "StreamingHistory_podcast_");
    return sr_json_array_read(r, 0, element, &podcasts);
}

const sr_format sr_format_spotify = {
    .name = "spotify",
    .summary = "Spotify streaming history: StreamingHistory*.json, endsong_*.json, "
               "Streaming_History_Audio_*.json",
    .kind = SR_VALUE_PLAYS,
    .listen_times = true,
    .items_only = false,
    .detect = detect,
    .read = read_spotify,
};
