/* The HTTP API (api.h): the route table and one handler per route.
 *
 * A handler parses and checks everything the client sent before it touches the engine
 * or the store: path ids (400 when not a number, 404 when no such song or artist),
 * query numbers (400 outside their range), JSON bodies (jansson, duplicate keys
 * refused; unknown fields are a 400 too, so that a misspelt option is not silently
 * ignored). A rating is {"song": id, "rating": r} or {"artist", "track", "rating"}, on
 * the model's scale; a song given by name that the catalog lacks is not an error: a
 * profile stores it by its names (when neither is blank), and a recommendation counts
 * it as unknown. A song of items-only data has the artist "": it is given by id or as
 * "" and its track. PUT (and POST /api/profiles) also takes each rating's "source",
 * "plays" and "added", so that ratings read with GET and put back stay as they were.
 *
 * Recommendations (POST /api/recommend and a profile's /recommendations) are one path:
 * collect the profile's ratings and blocks mapped to catalog ids (rec_req), add the
 * body's, run sr_recommend, render JSON or an export. Profile ratings are clamped to the
 * scale: a profile may outlive the model it was made with.
 *
 * New or replaced: the store does not say whether a set replaced a rating or block, so
 * the handler reads the profile first and compares the store's normalised key. Two
 * clients setting the same new song at once may both get 201; the store stays right.
 *
 * JSON numbers are written with 12 significant digits; scores, supports, weights and
 * similarities are rounded to 3 decimals first, as the exports do.
 *
 * In-process requests (api_parse.h, for the fuzz targets): the same handlers run on a
 * request made in memory; handlers read captures and the query only through param()
 * and query(), which serve both kinds.
 */
#include "server/api.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/normalize.h"
#include "ingest/reader.h"
#include "server/api_parse.h"
#include "util/mem.h"
#include "util/str.h"

#define DEFAULT_N        10 /* recommendations and similar songs */
#define DEFAULT_EXPORT_N 50
#define DEFAULT_LIMIT    20 /* search hits */
#define DEFAULT_SONGS    50 /* an artist's songs per page */
#define DEFAULT_BECAUSE  3
#define MAX_LIMIT        1000
#define MAX_PER_ARTIST   1000
#define MAX_UNMATCHED    100 /* names listed in a recommendation's "unmatched" */
#define REAL_DIGITS      12
#define NO_ITEM          UINT32_MAX
#define METRICS_TYPE     "text/plain; version=0.0.4; charset=utf-8"

struct sr_api {
    _Atomic(sr_http *) http; /* set once the server runs; /metrics reads it */
    const sr_engine *e;
    const sr_catalog *cat;
    sr_profiles *prof;
    double lo, hi; /* the ratings a listener may give (sr_engine_rating_range) */
    char *tmp_dir;
    sr_log log;
    /* GET /api/about: the CLI's JSON of the data, the evaluation and a grid search
     * (about_dir's stats.json, evaluate.json, gridsearch.json), NULL when absent. */
    json_t *about_stats, *about_eval, *about_grid;
    /* GET /api/starter: chosen once at start (sr_rec_starter is deterministic). */
    uint32_t starter[SR_REC_MAX_STARTER];
    size_t n_starter;
};

static int64_t now_s(void) {
    return (int64_t)time(NULL);
}

static double r3(double x) {
    return round(x * 1000.0) / 1000.0;
}

/* ---- answers ---------------------------------------------------------------------- */

static int dump_cb(const char *p, size_t n, void *data) {
    sr_buf_add(data, p, n);
    return sr_buf_ok(data) ? 0 : -1;
}

/* Status and v as the JSON body; takes the reference. A NULL v (a json_pack that failed
 * for lack of memory) gives 503. */
static void reply(sr_http_res *res, int status, json_t *v) {
    if (!v) {
        sr_http_error(res, 503, "out of memory");
        return;
    }
    sr_buf b = SR_BUF_INIT;
    int rc = json_dump_callback(v, dump_cb, &b, JSON_COMPACT | JSON_REAL_PRECISION(REAL_DIGITS));
    json_decref(v);
    if (rc || !sr_buf_ok(&b))
        sr_http_error(res, 503, "out of memory");
    else
        sr_http_body(res, status, SR_HTTP_JSON_TYPE, b.p, b.n);
    sr_buf_free(&b);
}

static void no_content(sr_http_res *res) {
    sr_http_body(res, 204, SR_HTTP_JSON_TYPE, "", 0);
}

/* The answer for a failed library call: 404, 409, 400 with its words; 5xx with a
 * generic message (the words, which may name files, go to the log). */
static void fail(const sr_api *a, const sr_http_req *req, sr_http_res *res, sr_err e,
                 const sr_diag *d) {
    const char *msg = d && d->msg[0] ? d->msg : sr_err_message(e);
    switch (e) {
    case SR_E_NOTFOUND:
        sr_http_error(res, 404, "%s", msg);
        return;
    case SR_E_LIMIT:
        sr_http_error(res, 409, "%s", msg);
        return;
    case SR_E_INPUT:
    case SR_E_RANGE:
    case SR_E_USAGE:
        sr_http_error(res, 400, "%s", msg);
        return;
    case SR_E_NOMEM:
        sr_http_error(res, 503, "out of memory");
        return;
    default:
        sr_logf(&a->log, SR_LOG_ERROR, "%s %s: %s", sr_http_method_name(req->method), req->path,
                msg);
        sr_http_error(res, 500, "internal error (%s); the server log has the details",
                      sr_err_message(e));
    }
}

/* A JSON string of s; bytes that are not valid UTF-8 become U+FFFD. */
static json_t *jstr(sr_str s) {
    if (!s.p) return json_string("");
    if (sr_utf8_valid(s.p, s.n)) return json_stringn(s.p, s.n);
    sr_buf b = SR_BUF_INIT;
    for (size_t i = 0; i < s.n;) {
        unsigned char c = (unsigned char)s.p[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (k && i + k <= s.n && sr_utf8_valid(s.p + i, k)) {
            sr_buf_add(&b, s.p + i, k);
            i += k;
        } else {
            sr_buf_add(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    json_t *v = sr_buf_ok(&b) ? json_stringn(b.p, b.n) : NULL;
    sr_buf_free(&b);
    return v;
}

static json_t *artist_json(const sr_api *a, uint32_t ar) {
    return json_pack("{s:I,s:o,s:I,s:I}", "id", (json_int_t)ar, "name",
                     jstr(sr_catalog_artist_name(a->cat, ar)), "songs",
                     (json_int_t)sr_catalog_artist_n_songs(a->cat, ar), "popularity",
                     (json_int_t)sr_catalog_artist_pop(a->cat, ar));
}

static json_t *song_json(const sr_api *a, uint32_t i) {
    uint32_t ar = sr_catalog_item_artist(a->cat, i);
    return json_pack("{s:I,s:I,s:o,s:o,s:I}", "id", (json_int_t)i, "artist_id", (json_int_t)ar,
                     "artist", jstr(sr_catalog_artist_name(a->cat, ar)), "track",
                     jstr(sr_catalog_track_name(a->cat, i)), "popularity",
                     (json_int_t)sr_catalog_item_pop(a->cat, i));
}

/* The catalog id of (artist, track) as JSON, or null when it does not map. */
static json_t *song_id_json(const sr_api *a, const char *artist, const char *track) {
    uint32_t i;
    if (sr_catalog_find_song(a->cat, artist, strlen(artist), track, strlen(track), &i))
        return json_null();
    return json_integer(i);
}

static char *cstr(sr_str s) {
    return sr_strndup(s.p ? s.p : "", s.n);
}

/* ---- requests ---------------------------------------------------------------------- */

/* A request made in memory (api_parse.h): the handler gets &req, with conn_ NULL. */
typedef struct local_req {
    sr_http_req req; /* first, so that &req converts back to the local_req */
    const sr_api_local_req *in;
} local_req;

/* The decoded capture {name}: the HTTP core's, or a local request's. */
static const char *param(const sr_http_req *req, const char *name) {
    if (req->conn_) return sr_http_param(req, name);
    const sr_api_local_req *in = ((const local_req *)req)->in;
    size_t k = 0, n = strlen(name);
    for (const char *p = strchr(in->route->pattern, '{'); p; p = strchr(p + 1, '{'), k++)
        if (!strncmp(p + 1, name, n) && p[n + 1] == '}')
            return k < in->n_params ? in->params[k] : NULL;
    return NULL;
}

/* The first query value of key: the HTTP core's, or a local request's. */
static const char *query(const sr_http_req *req, const char *key) {
    if (req->conn_) return sr_http_query(req, key);
    const sr_api_local_req *in = ((const local_req *)req)->in;
    for (size_t i = 0; i < in->n_query; i++)
        if (!strcmp(in->qkeys[i], key)) return in->qvalues[i];
    return NULL;
}

/* ---- parsing ---------------------------------------------------------------------- */

/* A whole decimal number without sign, at most max. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
    if (!s || !*s || strlen(s) > 19) return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > max) return false;
    *out = v;
    return true;
}

/* An id from the path: 400 when not a number, 404 when not below n. */
static bool path_id(sr_http_res *res, const char *s, const char *what, uint32_t n, uint32_t *out) {
    uint64_t v;
    if (!parse_u64(s, UINT32_MAX, &v)) {
        sr_http_error(res, 400, "%s id '%.64s' is not a whole number", what, s ? s : "");
        return false;
    }
    if (v >= n) {
        sr_http_error(res, 404, "no %s with id %llu", what, (unsigned long long)v);
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* The query parameter key as a number in lo..hi; def when absent. */
static bool query_u64(const sr_http_req *req, sr_http_res *res, const char *key, uint64_t lo,
                      uint64_t hi, uint64_t def, uint64_t *out) {
    const char *s = query(req, key);
    *out = def;
    if (!s) return true;
    if (parse_u64(s, hi, out) && *out >= lo) return true;
    sr_http_error(res, 400, "%s must be a whole number in %llu..%llu", key, (unsigned long long)lo,
                  (unsigned long long)hi);
    return false;
}

/* The body as a JSON object, or NULL with a 400 written. */
static json_t *body_object(const sr_http_req *req, sr_http_res *res) {
    json_error_t je;
    json_t *v = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        sr_http_error(res, 400, "malformed JSON at line %d, column %d: %s", je.line, je.column,
                      je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        sr_http_error(res, 400, "the body must be a JSON object");
        return NULL;
    }
    return v;
}

/* False, with a 400, when obj has a key not in the NULL-terminated keys. where prefixes
 * the message ("ratings[3]: "). */
static bool check_keys(json_t *obj, const char *const *keys, const char *where, sr_http_res *res) {
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        bool known = false;
        for (size_t i = 0; keys[i] && !known; i++) known = !strcmp(k, keys[i]);
        if (!known) {
            sr_http_error(res, 400, "%sunknown field \"%.64s\"", where, k);
            return false;
        }
    }
    return true;
}

/* The integer field key of obj in lo..hi; *out unchanged when absent. */
static bool get_int(json_t *obj, const char *key, json_int_t lo, json_int_t hi, json_int_t *out,
                    sr_http_res *res) {
    json_t *v = json_object_get(obj, key);
    if (!v) return true;
    if (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi) {
        *out = json_integer_value(v);
        return true;
    }
    sr_http_error(res, 400, "\"%s\" must be a whole number in %lld..%lld", key, (long long)lo,
                  (long long)hi);
    return false;
}

/* The rating scale's value nearest to v, as a float that is on the scale too. */
static float to_scale(const sr_api *a, double v) {
    v = v < a->lo ? a->lo : v > a->hi ? a->hi : v;
    float f = (float)v;
    while ((double)f > a->hi) f = nextafterf(f, -INFINITY);
    while ((double)f < a->lo) f = nextafterf(f, INFINITY);
    return f;
}

/* One rating of a body. */
typedef struct in_rating {
    uint32_t item;              /* catalog song, or NO_ITEM: named and not in the catalog */
    const char *artist, *track; /* the names as given (borrowed from the JSON), or NULL */
    double rating;
    sr_profile_source source; /* RATING_PUT's optional fields; else rated, 0, 0 */
    uint32_t plays;
    int64_t added; /* Unix s; 0: now */
} in_rating;

/* What a body's rating is for, which decides what it may say. */
typedef enum rating_use {
    RATING_RECOMMEND, /* a recommendation: a name the catalog lacks is counted unknown */
    RATING_SET,       /* a profile: a name the catalog lacks must name a song on its own */
    RATING_PUT,       /* a profile's ratings replaced: RATING_SET, plus the fields GET
                       * answers (source, plays, added), so that a rating read and put
                       * back stays as it was */
} rating_use;

/* Whether s has no match key: empty, white space, only ignorables (not valid UTF-8:
 * false; the store refuses it in its own words). */
static bool blank(const char *s) {
    sr_normbuf nb = {0};
    sr_str key = {0}, in = sr_str_c(s);
    bool b = sr_utf8_valid(in.p, in.n) && sr_normalize(in, &nb, &key) == SR_OK && key.n == 0;
    sr_normbuf_free(&nb);
    return b;
}

/* The optional "source", "plays" and "added" of a rating for RATING_PUT, as GET answers
 * them: source "rated" (the default) has no plays, source "history" must give them;
 * added is a Unix time no later than a day from now (absent: now). */
static bool parse_origin(json_t *el, const char *where, in_rating *out, sr_http_res *res) {
    json_t *src = json_object_get(el, "source"), *plays = json_object_get(el, "plays");
    json_t *added = json_object_get(el, "added");
    if (src && !sr_profile_source_parse(json_string_value(src), &out->source)) {
        sr_http_error(res, 400, "%s\"source\" must be \"rated\" or \"history\"", where);
        return false;
    }
    if (plays) {
        json_int_t v = json_integer_value(plays);
        if (!json_is_integer(plays) || v < 0 || v > UINT32_MAX) {
            sr_http_error(res, 400, "%s\"plays\" must be a whole number in 0..%lu", where,
                          (unsigned long)UINT32_MAX);
            return false;
        }
        out->plays = (uint32_t)v;
    }
    if (out->source == SR_PROFILE_HISTORY && !plays) {
        sr_http_error(res, 400,
                      "%s\"plays\" is needed with \"source\": \"history\" (as GET gives them)",
                      where);
        return false;
    }
    if (out->source == SR_PROFILE_RATED && out->plays) {
        sr_http_error(res, 400,
                      "%s\"plays\" must be 0 (or absent) for a rating with source \"rated\"",
                      where);
        return false;
    }
    if (added) {
        json_int_t v = json_integer_value(added), latest = now_s() + SR_PROFILES_ADDED_AHEAD;
        if (!json_is_integer(added) || v < 1 || v > latest) {
            sr_http_error(res, 400,
                          "%s\"added\" must be Unix seconds in 1..%lld (a day from now at most)",
                          where, (long long)latest);
            return false;
        }
        out->added = v;
    }
    return true;
}

/* {"song": id, "rating": r} or {"artist": "..", "track": "..", "rating": r}, used as use
 * says. A song of items-only data has a blank artist: by id, or by "" and its track. */
static bool parse_rating(const sr_api *a, json_t *el, rating_use use, const char *where,
                         in_rating *out, sr_http_res *res) {
    static const char *const keys[] = {"song", "artist", "track", "rating", NULL};
    static const char *const put_keys[] = {"song",   "artist", "track", "rating",
                                           "source", "plays",  "added", NULL};
    *out = (in_rating){NO_ITEM, NULL, NULL, 0, SR_PROFILE_RATED, 0, 0};
    if (!json_is_object(el)) {
        sr_http_error(res, 400, "%sa rating is an object {\"song\": ID, \"rating\": R}", where);
        return false;
    }
    if (!check_keys(el, use == RATING_PUT ? put_keys : keys, where, res)) return false;
    json_t *song = json_object_get(el, "song"), *ar = json_object_get(el, "artist");
    json_t *tr = json_object_get(el, "track"), *r = json_object_get(el, "rating");
    if (song) {
        if (ar || tr) {
            sr_http_error(res, 400, "%sgive \"song\" or \"artist\" and \"track\", not both", where);
            return false;
        }
        json_int_t v = json_integer_value(song);
        if (!json_is_integer(song) || v < 0) {
            sr_http_error(res, 400, "%s\"song\" must be a song id (a whole number)", where);
            return false;
        }
        if (v >= sr_catalog_n_items(a->cat)) {
            sr_http_error(res, 400, "%sno song with id %lld", where, (long long)v);
            return false;
        }
        out->item = (uint32_t)v;
    } else {
        if (!json_is_string(ar) || !json_is_string(tr)) {
            sr_http_error(res, 400, "%sa rating needs \"song\" (an id) or \"artist\" and \"track\"",
                          where);
            return false;
        }
        out->artist = json_string_value(ar);
        out->track = json_string_value(tr);
        if (json_string_length(ar) > SR_PROFILES_NAME_MAX ||
            json_string_length(tr) > SR_PROFILES_NAME_MAX) {
            sr_http_error(res, 400, "%sa name is longer than %d bytes", where,
                          SR_PROFILES_NAME_MAX);
            return false;
        }
        sr_err e = sr_catalog_find_song(a->cat, out->artist, json_string_length(ar), out->track,
                                        json_string_length(tr), &out->item);
        if (e == SR_E_NOMEM) {
            sr_http_error(res, 503, "out of memory");
            return false;
        }
        if (e) out->item = NO_ITEM;
        /* A profile keeps such a song by its names, which must be able to match a
         * catalog one day: a song without an artist is one the catalog has. */
        if (e && use != RATING_RECOMMEND && blank(out->artist)) {
            sr_http_error(res, 400,
                          "%sartist is blank (only a song of the model may be given without "
                          "an artist)",
                          where);
            return false;
        }
        if (e && use != RATING_RECOMMEND && blank(out->track)) {
            sr_http_error(res, 400, "%strack is blank", where);
            return false;
        }
    }
    if (use == RATING_PUT && !parse_origin(el, where, out, res)) return false;
    if (!json_is_number(r)) {
        sr_http_error(res, 400, "%s\"rating\" must be a number", where);
        return false;
    }
    out->rating = json_number_value(r);
    /* A history rating is derived from its plays under the model of its upload; put back
     * under another model (say plays 64 from an implicit one, now on a 1..10 scale) it is
     * that model's value nearest, its plays kept — as a history upload would store it. */
    if (use == RATING_PUT && out->source == SR_PROFILE_HISTORY && out->rating > 0 &&
        isfinite(out->rating))
        out->rating = to_scale(a, out->rating);
    if (!(out->rating >= a->lo && out->rating <= a->hi)) {
        sr_http_error(res, 400, "%srating %g is outside the model's scale %g..%g", where,
                      out->rating, a->lo, a->hi);
        return false;
    }
    return true;
}

/* The array "ratings" of body (absent: none) into a new array *out (sr_free it). */
static bool parse_ratings(const sr_api *a, json_t *body, rating_use use, in_rating **out, size_t *n,
                          sr_http_res *res) {
    *out = NULL;
    *n = 0;
    json_t *arr = json_object_get(body, "ratings");
    if (!arr) return true;
    if (!json_is_array(arr)) {
        sr_http_error(res, 400, "\"ratings\" must be an array");
        return false;
    }
    size_t m = json_array_size(arr);
    if (m > SR_API_MAX_RATINGS) {
        sr_http_error(res, 400, "at most %d ratings in one request (this one has %zu)",
                      SR_API_MAX_RATINGS, m);
        return false;
    }
    in_rating *r = sr_mallocarray(m ? m : 1, sizeof *r);
    if (!r) {
        sr_http_error(res, 503, "out of memory");
        return false;
    }
    for (size_t i = 0; i < m; i++) {
        char where[40];
        snprintf(where, sizeof where, "ratings[%zu]: ", i);
        if (!parse_rating(a, json_array_get(arr, i), use, where, &r[i], res)) {
            sr_free(r);
            return false;
        }
    }
    *out = r;
    *n = m;
    return true;
}

/* in[0..n) as ratings for the store, with their source, plays and added: the names as
 * given, or the catalog's for an id (copied into *names, which the caller frees; a song
 * of items-only data has the artist ""). False when out of memory. */
static bool to_profile(const sr_api *a, const in_rating *in, size_t n, sr_profile_rating *r,
                       char **names) {
    size_t need = 1;
    for (size_t i = 0; i < n; i++) {
        if (in[i].artist) continue;
        uint32_t ar = sr_catalog_item_artist(a->cat, in[i].item);
        need +=
            sr_catalog_artist_name(a->cat, ar).n + sr_catalog_track_name(a->cat, in[i].item).n + 2;
    }
    char *s = *names = sr_malloc(need);
    if (!s) return false;
    for (size_t i = 0; i < n; i++) {
        r[i] = (sr_profile_rating){.artist = in[i].artist,
                                   .track = in[i].track,
                                   .rating = in[i].rating,
                                   .plays = in[i].plays,
                                   .source = in[i].source,
                                   .added = in[i].added};
        if (in[i].artist) continue;
        sr_str parts[2] = {
            sr_catalog_artist_name(a->cat, sr_catalog_item_artist(a->cat, in[i].item)),
            sr_catalog_track_name(a->cat, in[i].item)};
        const char **dst[2] = {&r[i].artist, &r[i].track};
        for (int k = 0; k < 2; k++) {
            if (parts[k].n) memcpy(s, parts[k].p, parts[k].n);
            s[parts[k].n] = 0;
            *dst[k] = s;
            s += parts[k].n + 1;
        }
    }
    return true;
}

/* The store's key of artist (and track, when not NULL) into key, NUL-terminated
 * (profiles.h: normalised names joined by 0x1f). False for a name that is not valid
 * UTF-8 or when out of memory. */
static bool make_key(sr_normbuf *nb, sr_buf *key, const char *artist, const char *track) {
    sr_buf_reset(key);
    const char *names[2] = {artist, track};
    for (int k = 0; k < 2 && names[k]; k++) {
        sr_str s = sr_str_c(names[k]), n;
        if (!sr_utf8_valid(s.p, s.n) || sr_normalize(s, nb, &n)) return false;
        if (k) sr_buf_addc(key, 0x1f);
        sr_buf_add(key, n.p, n.n);
    }
    sr_buf_addc(key, 0);
    return sr_buf_ok(key);
}

/* Whether the profile holds a rating (blocks false) or a block of kind with this key. */
static bool has_key(const sr_profile *p, bool blocks, sr_profile_block_kind kind, const char *key) {
    if (!blocks) {
        for (size_t i = 0; i < p->n_ratings; i++)
            if (!strcmp(p->ratings[i].key, key)) return true;
        return false;
    }
    for (size_t i = 0; i < p->n_blocks; i++)
        if (p->blocks[i].kind == kind && !strcmp(p->blocks[i].key, key)) return true;
    return false;
}

/* Whether the profile of token already has the key of (artist[, track]). false on any
 * failure: the caller's write then reports it. */
static bool profile_has(const sr_api *a, const char *token, bool blocks, sr_profile_block_kind kind,
                        const char *artist, const char *track) {
    sr_profile p = {0};
    sr_normbuf nb = {0};
    sr_buf key = SR_BUF_INIT;
    bool found = !sr_profiles_get(a->prof, token, now_s(), &p, NULL) &&
                 make_key(&nb, &key, artist, track) && has_key(&p, blocks, kind, key.p);
    sr_profile_free(&p);
    sr_normbuf_free(&nb);
    sr_buf_free(&key);
    return found;
}

/* ---- recommendations -------------------------------------------------------------- */

/* What sr_recommend gets, gathered from a profile and a body. */
typedef struct rec_req {
    sr_rec_rating *r; /* (n_r) */
    size_t n_r, cap_r;
    uint32_t *bs, *ba; /* blocked songs (n_bs), blocked artists (n_ba) */
    size_t n_bs, cap_bs, n_ba, cap_ba;
    size_t unknown;    /* ratings of songs the catalog lacks */
    json_t *unmatched; /* [{"artist", "track"}]: the first MAX_UNMATCHED of them */
    sr_rec_opts o;
    bool oom;
} rec_req;

static void req_init(rec_req *q, size_t n) {
    *q = (rec_req){.unmatched = json_array(), .o = {.n = n, .n_because = DEFAULT_BECAUSE}};
    q->oom = !q->unmatched;
}

static void req_free(rec_req *q) {
    sr_free(q->r);
    sr_free(q->bs);
    sr_free(q->ba);
    json_decref(q->unmatched);
}

static void req_rating(rec_req *q, uint32_t item, float r) {
    if (sr_grow((void **)&q->r, &q->cap_r, q->n_r + 1, sizeof *q->r))
        q->oom = true;
    else
        q->r[q->n_r++] = (sr_rec_rating){item, r};
}

static void req_id(uint32_t **ids, size_t *n, size_t *cap, uint32_t v, bool *oom) {
    if (sr_grow((void **)ids, cap, *n + 1, sizeof **ids))
        *oom = true;
    else
        (*ids)[(*n)++] = v;
}

static void req_unmatched(rec_req *q, const char *artist, const char *track) {
    q->unknown++;
    if (json_array_size(q->unmatched) < MAX_UNMATCHED &&
        json_array_append_new(q->unmatched,
                              json_pack("{s:s,s:s}", "artist", artist, "track", track)))
        q->oom = true;
}

/* The stored profile's ratings (clamped to the scale) and blocks, mapped to ids. */
static sr_err req_add_profile(const sr_api *a, const sr_profile *p, rec_req *q) {
    for (size_t i = 0; i < p->n_ratings; i++) {
        const sr_profile_rating *r = &p->ratings[i];
        uint32_t item;
        sr_err e = sr_catalog_find_song(a->cat, r->artist, strlen(r->artist), r->track,
                                        strlen(r->track), &item);
        if (e == SR_E_NOTFOUND)
            req_unmatched(q, r->artist, r->track);
        else if (e)
            return e;
        else
            req_rating(q, item, to_scale(a, r->rating));
    }
    for (size_t i = 0; i < p->n_blocks; i++) {
        const sr_profile_block *b = &p->blocks[i];
        uint32_t id;
        sr_err e = b->kind == SR_PROFILE_BLOCK_SONG
                       ? sr_catalog_find_song(a->cat, b->artist, strlen(b->artist), b->track,
                                              strlen(b->track), &id)
                       : sr_catalog_find_artist(a->cat, b->artist, strlen(b->artist), &id);
        if (e == SR_E_NOTFOUND) continue;
        if (e) return e;
        if (b->kind == SR_PROFILE_BLOCK_SONG)
            req_id(&q->bs, &q->n_bs, &q->cap_bs, id, &q->oom);
        else
            req_id(&q->ba, &q->n_ba, &q->cap_ba, id, &q->oom);
    }
    return q->oom ? SR_E_NOMEM : SR_OK;
}

/* The profile of token into q: 404 for an unknown token. */
static bool req_token(const sr_api *a, const sr_http_req *req, const char *token, rec_req *q,
                      sr_http_res *res) {
    sr_profile p = {0};
    sr_diag d = {{0}};
    sr_err e = sr_profiles_get(a->prof, token, now_s(), &p, &d);
    if (!e) e = req_add_profile(a, &p, q);
    sr_profile_free(&p);
    if (e) fail(a, req, res, e, &d);
    return !e;
}

/* An id array field ("blocked_songs") of ids below n into ids. */
static bool body_ids(json_t *body, const char *key, const char *what, uint32_t n, uint32_t **ids,
                     size_t *n_ids, size_t *cap, bool *oom, sr_http_res *res) {
    json_t *arr = json_object_get(body, key);
    if (!arr) return true;
    if (!json_is_array(arr) || json_array_size(arr) > SR_API_MAX_BLOCKED) {
        sr_http_error(res, 400, "\"%s\" must be an array of at most %d %s ids", key,
                      SR_API_MAX_BLOCKED, what);
        return false;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        json_int_t x = json_integer_value(v);
        if (!json_is_integer(v)) {
            sr_http_error(res, 400, "%s[%zu]: a %s id is a whole number", key, i, what);
            return false;
        }
        if (x < 0 || x >= n) {
            sr_http_error(res, 400, "%s[%zu]: no %s with id %lld", key, i, what, (long long)x);
            return false;
        }
        req_id(ids, n_ids, cap, (uint32_t)x, oom);
    }
    return true;
}

/* The options of a recommend body. */
static bool body_opts(json_t *body, sr_rec_opts *o, sr_http_res *res) {
    json_int_t n = (json_int_t)o->n, mpa = 0, because = (json_int_t)o->n_because;
    if (!get_int(body, "n", 1, SR_REC_MAX_N, &n, res) ||
        !get_int(body, "max_per_artist", 0, MAX_PER_ARTIST, &mpa, res) ||
        !get_int(body, "because", 0, SR_REC_MAX_BECAUSE, &because, res))
        return false;
    o->n = (size_t)n;
    o->max_per_artist = (uint32_t)mpa;
    o->n_because = (size_t)because;
    json_t *v = json_object_get(body, "exclude_rated_artists");
    if (v && !json_is_boolean(v)) {
        sr_http_error(res, 400, "\"exclude_rated_artists\" must be true or false");
        return false;
    }
    o->exclude_rated_artists = json_is_true(v);
    v = json_object_get(body, "discovery");
    if (v && !(json_is_number(v) && json_number_value(v) >= -1 && json_number_value(v) <= 1)) {
        sr_http_error(res, 400, "\"discovery\" must be a number in -1..1");
        return false;
    }
    o->discovery = v ? json_number_value(v) : 0;
    return true;
}

/* The same options as query parameters (n, max_per_artist, because,
 * exclude_rated_artists=true|false, discovery). */
static bool query_opts(const sr_http_req *req, sr_rec_opts *o, sr_http_res *res) {
    uint64_t n, mpa, because;
    if (!query_u64(req, res, "n", 1, SR_REC_MAX_N, o->n, &n) ||
        !query_u64(req, res, "max_per_artist", 0, MAX_PER_ARTIST, 0, &mpa) ||
        !query_u64(req, res, "because", 0, SR_REC_MAX_BECAUSE, o->n_because, &because))
        return false;
    o->n = (size_t)n;
    o->max_per_artist = (uint32_t)mpa;
    o->n_because = (size_t)because;
    const char *s = query(req, "exclude_rated_artists");
    if (s && strcmp(s, "true") && strcmp(s, "false") && strcmp(s, "1") && strcmp(s, "0")) {
        sr_http_error(res, 400, "exclude_rated_artists must be true or false");
        return false;
    }
    o->exclude_rated_artists = s && (!strcmp(s, "true") || !strcmp(s, "1"));
    s = query(req, "discovery");
    o->discovery = 0;
    if (s) {
        char *end;
        o->discovery = strtod(s, &end);
        if (!*s || *end || !(o->discovery >= -1 && o->discovery <= 1)) {
            sr_http_error(res, 400, "discovery must be a number in -1..1");
            return false;
        }
    }
    return true;
}

/* Runs the recommender on q: new items in *items (sr_free them), or false with an
 * error written. */
static bool run_rec(const sr_api *a, const sr_http_req *req, rec_req *q, sr_rec_item **items,
                    size_t *n, sr_rec_stats *st, sr_http_res *res) {
    sr_diag d = {{0}};
    *items = NULL;
    if (q->oom) {
        sr_http_error(res, 503, "out of memory");
        return false;
    }
    sr_rec_profile p = {q->r, q->n_r, q->bs, q->n_bs, q->ba, q->n_ba};
    sr_rec_item *it = sr_mallocarray(q->o.n, sizeof *it);
    sr_err e = it ? sr_recommend(&a->e->rec, &p, &q->o, it, n, st, &d) : SR_E_NOMEM;
    if (e) {
        sr_free(it);
        fail(a, req, res, e, &d);
        return false;
    }
    *items = it;
    return true;
}

static json_t *item_json(const sr_api *a, const sr_rec_item *it, size_t rank) {
    json_t *because = json_array();
    for (size_t k = 0; because && k < it->n_because; k++) {
        const sr_rec_because *b = &it->because[k];
        uint32_t ar = sr_catalog_item_artist(a->cat, b->item);
        json_array_append_new(because,
                              json_pack("{s:I,s:o,s:o,s:f,s:f}", "id", (json_int_t)b->item,
                                        "artist", jstr(sr_catalog_artist_name(a->cat, ar)), "track",
                                        jstr(sr_catalog_track_name(a->cat, b->item)), "rating",
                                        (double)b->rating, "weight", r3(b->weight)));
    }
    uint32_t ar = sr_catalog_item_artist(a->cat, it->item);
    return json_pack("{s:I,s:I,s:I,s:o,s:o,s:f,s:f,s:b,s:o}", "rank", (json_int_t)rank, "id",
                     (json_int_t)it->item, "artist_id", (json_int_t)ar, "artist",
                     jstr(sr_catalog_artist_name(a->cat, ar)), "track",
                     jstr(sr_catalog_track_name(a->cat, it->item)), "score", r3(it->score),
                     "support", r3(it->support), "weak", (int)it->weak, "because", because);
}

static void answer_rec(const sr_api *a, const sr_http_req *req, rec_req *q, sr_http_res *res) {
    sr_rec_item *items;
    size_t n = 0;
    sr_rec_stats st = {0};
    if (!run_rec(a, req, q, &items, &n, &st, res)) return;
    json_t *arr = json_array();
    for (size_t t = 0; arr && t < n; t++)
        json_array_append_new(arr, item_json(a, &items[t], t + 1));
    sr_free(items);
    json_t *unmatched = q->unmatched;
    q->unmatched = NULL;
    reply(res, 200,
          json_pack("{s:o,s:I,s:I,s:o,s:I,s:s}", "items", arr, "used", (json_int_t)st.used,
                    "unknown", (json_int_t)(q->unknown + st.unknown), "unmatched", unmatched,
                    "candidates", (json_int_t)st.candidate, "model", a->e->mf->model.ops->name));
}

/* ---- catalog and model routes ----------------------------------------------------- */

static void h_root(void *ctx, const sr_http_req *req, sr_http_res *res) {
    reply(res, 200,
          json_pack("{s:s,s:s,s:s,s:s}", "name", "songrec", "api", "/api", "health", "/healthz",
                    "docs", "docs/API.md in the songrec sources"));
}

static void h_healthz(void *ctx, const sr_http_req *req, sr_http_res *res) {
    reply(res, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_metrics(void *ctx, const sr_http_req *req, sr_http_res *res) {
    sr_api *a = ctx;
    sr_http *h = atomic_load(&a->http);
    sr_buf b = SR_BUF_INIT;
    if (h) sr_http_metrics_text(h, &b);
    if (!sr_buf_ok(&b))
        sr_http_error(res, 503, "out of memory");
    else
        sr_http_body(res, 200, METRICS_TYPE, b.p ? b.p : "", b.n);
    sr_buf_free(&b);
}

/* "name=value,..." as an object: numbers, true/false, null for "unset", else strings. */
static json_t *param_value(const char *val) {
    char *end;
    double x = strtod(val, &end);
    if (*val && !*end && isfinite(x))
        return strpbrk(val, ".eE") ? json_real(x) : json_integer((json_int_t)x);
    if (!strcmp(val, "true") || !strcmp(val, "false")) return json_boolean(val[0] == 't');
    return strcmp(val, "unset") ? json_string(val) : json_null();
}

static json_t *params_json(const char *p) {
    json_t *o = json_object();
    while (o && *p) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (eq) {
            char key[128], val[128];
            snprintf(key, sizeof key, "%.*s", (int)(eq - p), p);
            snprintf(val, sizeof val, "%.*s", (int)(len - (size_t)(eq - p) - 1), eq + 1);
            json_object_set_new(o, key, param_value(val));
        }
        p += len + (p[len] == ',');
    }
    return o;
}

static void h_model(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    const sr_model_file *f = a->e->mf;
    const sr_trainset *ts = &f->ts;
    char when[32] = "";
    time_t ct = (time_t)f->meta.created;
    struct tm tm;
    if (gmtime_r(&ct, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *meta = json_loads(f->meta.data_meta, 0, NULL);
    if (!meta) meta = jstr(sr_str_c(f->meta.data_meta));
    json_t *eval = f->meta.eval_folds
                       ? json_pack("{s:I,s:f,s:f,s:f,s:f}", "folds", (json_int_t)f->meta.eval_folds,
                                   "rmse", f->meta.eval_rmse, "rmse_std", f->meta.eval_rmse_std,
                                   "mae", f->meta.eval_mae, "mae_std", f->meta.eval_mae_std)
                       : json_null();
    json_t *v = json_pack(
        "{s:s,s:s,s:o,s:{s:I,s:I,s:I,s:I},s:[f,f],s:f,s:s,s:{s:o,s:s,s:o},s:o,s:I,"
        "s:s,s:I,s:o}",
        "algorithm", f->model.ops->name, "class", f->model.ops->surprise, "params",
        params_json(f->params), "sizes", "users", (json_int_t)ts->n_users, "songs",
        (json_int_t)ts->n_items, "artists", (json_int_t)sr_catalog_n_artists(a->cat), "ratings",
        (json_int_t)ts->n, "scale", ts->lo, ts->hi, "global_mean", ts->global_mean, "precision",
        f->precision == SR_SRM_PREC_F16 ? "f16" : "f32", "data", "file",
        jstr(sr_str_c(f->meta.data_file)), "transform", f->meta.transform, "meta", meta, "file",
        jstr(sr_str_c(sr_path_base(a->e->path))), "file_size", (json_int_t)sr_srm_file_size(f->srm),
        "created", when, "created_unix", (json_int_t)f->meta.created, "evaluation", eval);
    /* Implicit models rank by scores, not ratings, and take a listener's rating as that
     * many plays: the page rates 1..10 for them (model.h, docs/API.md). */
    const bool implicit = f->model.ops->implicit;
    if (v) {
        json_object_set_new(v, "implicit", json_boolean(implicit));
        json_object_set_new(v, "rating_scale",
                            json_pack("[f,f]", implicit ? 1.0 : ts->lo, implicit ? 10.0 : ts->hi));
        /* whether /api/songs/{id}/similar and /api/artists/{id}/similar can answer (else
         * 501): the page leaves out "More like this" without it */
        json_object_set_new(v, "similar", json_boolean(sr_rec_has_similar(&a->e->rec)));
    }
    reply(res, 200, v);
}

static void h_search(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    const char *q = query(req, "q"), *kind = query(req, "kind");
    if (!q) {
        sr_http_error(res, 400, "the query parameter q is missing");
        return;
    }
    unsigned kinds = SR_CATALOG_ALL;
    if (kind && !strcmp(kind, "artist"))
        kinds = SR_CATALOG_ARTIST;
    else if (kind && !strcmp(kind, "song"))
        kinds = SR_CATALOG_SONG;
    else if (kind && strcmp(kind, "all")) {
        sr_http_error(res, 400, "kind must be artist, song or all");
        return;
    }
    uint64_t limit;
    if (!query_u64(req, res, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT, &limit)) return;
    sr_catalog_hit *hits = sr_mallocarray(limit, sizeof *hits);
    if (!hits) {
        sr_http_error(res, 503, "out of memory");
        return;
    }
    int n = sr_catalog_search(a->cat, q, strlen(q), kinds, limit, hits);
    if (n < 0) {
        sr_free(hits);
        if (n == SR_E_LIMIT)
            sr_http_error(res, 400, "the query is too long: at most %d bytes and %d words",
                          SR_CATALOG_QUERY_MAX, SR_CATALOG_NAME_WORDS);
        else
            fail(a, req, res, n, NULL);
        return;
    }
    static const char *const MATCH[] = {"exact", "prefix", "word"};
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++) {
        bool artist = hits[i].kind == SR_CATALOG_ARTIST;
        json_t *v = artist ? artist_json(a, hits[i].id) : song_json(a, hits[i].id);
        json_object_set_new(v, "kind", json_string(artist ? "artist" : "song"));
        json_object_set_new(v, "match", json_string(MATCH[hits[i].match % 3]));
        json_array_append_new(arr, v);
    }
    sr_free(hits);
    reply(res, 200,
          json_pack("{s:s,s:s,s:o}", "query", q, "kind", kind ? kind : "all", "hits", arr));
}

static void h_artist(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    uint32_t ar;
    if (!path_id(res, param(req, "id"), "artist", sr_catalog_n_artists(a->cat), &ar)) return;
    reply(res, 200, artist_json(a, ar));
}

static void h_artist_songs(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    uint32_t ar;
    uint64_t offset, limit;
    if (!path_id(res, param(req, "id"), "artist", sr_catalog_n_artists(a->cat), &ar) ||
        !query_u64(req, res, "offset", 0, UINT32_MAX, 0, &offset) ||
        !query_u64(req, res, "limit", 1, MAX_LIMIT, DEFAULT_SONGS, &limit))
        return;
    uint32_t *items = sr_mallocarray(limit, sizeof *items);
    if (!items) {
        sr_http_error(res, 503, "out of memory");
        return;
    }
    size_t n = sr_catalog_artist_songs(a->cat, ar, offset, limit, items);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) json_array_append_new(arr, song_json(a, items[i]));
    sr_free(items);
    reply(res, 200,
          json_pack("{s:o,s:I,s:I,s:I,s:o}", "artist", artist_json(a, ar), "total",
                    (json_int_t)sr_catalog_artist_n_songs(a->cat, ar), "offset", (json_int_t)offset,
                    "limit", (json_int_t)limit, "songs", arr));
}

static void h_song(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    uint32_t i;
    if (!path_id(res, param(req, "id"), "song", sr_catalog_n_items(a->cat), &i)) return;
    json_t *v = song_json(a, i);
    const uint8_t *mb = a->e->mf->meta.item_mbid;
    static const uint8_t zero[16];
    mb = mb ? mb + (size_t)i * 16 : NULL;
    json_t *mbid = json_null();
    if (mb && memcmp(mb, zero, 16)) {
        char s[37];
        snprintf(s, sizeof s,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", mb[0],
                 mb[1], mb[2], mb[3], mb[4], mb[5], mb[6], mb[7], mb[8], mb[9], mb[10], mb[11],
                 mb[12], mb[13], mb[14], mb[15]);
        mbid = json_string(s);
    }
    json_object_set_new(v, "mbid", mbid);
    reply(res, 200, v);
}

/* The answer of a "similar" route: the n nearest of `id` by find (songs or artists), each
 * made JSON by one (with its rank and similarity), under `key` with the subject itself. */
typedef sr_err (*similar_fn)(const sr_recommender *R, uint32_t id, size_t n, uint32_t *ids,
                             float *sims, size_t *n_out, sr_diag *d);
typedef json_t *(*json_of_fn)(const sr_api *a, uint32_t id);

static void similar_reply(const sr_api *a, const sr_http_req *req, sr_http_res *res,
                          const char *what, uint32_t count, similar_fn find, json_of_fn one) {
    uint32_t id;
    uint64_t n;
    if (!path_id(res, param(req, "id"), what, count, &id) ||
        !query_u64(req, res, "n", 1, SR_REC_MAX_N, DEFAULT_N, &n))
        return;
    uint32_t *ids = sr_mallocarray(n, sizeof *ids);
    float *sims = sr_mallocarray(n, sizeof *sims);
    size_t m = 0;
    sr_diag d = {{0}};
    sr_err e = ids && sims ? find(&a->e->rec, id, n, ids, sims, &m, &d) : SR_E_NOMEM;
    if (e == SR_E_USAGE)
        sr_http_error(res, 501, "%s", d.msg);
    else if (e)
        fail(a, req, res, e, &d);
    json_t *arr = e ? NULL : json_array();
    for (size_t k = 0; arr && k < m; k++) {
        json_t *v = one(a, ids[k]);
        json_object_set_new(v, "rank", json_integer((json_int_t)k + 1));
        json_object_set_new(v, "similarity", json_real(r3(sims[k])));
        json_array_append_new(arr, v);
    }
    sr_free(ids);
    sr_free(sims);
    if (!e) reply(res, 200, json_pack("{s:o,s:o}", what, one(a, id), "items", arr));
}

static void h_similar(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    similar_reply(a, req, res, "song", sr_catalog_n_items(a->cat), sr_rec_similar, song_json);
}

static void h_artist_similar(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    similar_reply(a, req, res, "artist", sr_catalog_n_artists(a->cat), sr_rec_similar_artists,
                  artist_json);
}

static void h_recommend(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    static const char *const keys[] = {"ratings",
                                       "token",
                                       "n",
                                       "exclude_rated_artists",
                                       "max_per_artist",
                                       "discovery",
                                       "blocked_songs",
                                       "blocked_artists",
                                       "because",
                                       NULL};
    json_t *body = body_object(req, res);
    if (!body) return;
    rec_req q;
    req_init(&q, DEFAULT_N);
    in_rating *in = NULL;
    size_t n_in = 0;
    json_t *token = json_object_get(body, "token");
    if (!check_keys(body, keys, "", res) || !body_opts(body, &q.o, res)) goto done;
    if (token && !json_is_string(token)) {
        sr_http_error(res, 400, "\"token\" must be a string");
        goto done;
    }
    if (token && !req_token(a, req, json_string_value(token), &q, res)) goto done;
    if (!parse_ratings(a, body, RATING_RECOMMEND, &in, &n_in, res)) goto done;
    for (size_t i = 0; i < n_in; i++) {
        if (in[i].item == NO_ITEM)
            req_unmatched(&q, in[i].artist, in[i].track);
        else
            req_rating(&q, in[i].item, to_scale(a, in[i].rating));
    }
    if (!body_ids(body, "blocked_songs", "song", sr_catalog_n_items(a->cat), &q.bs, &q.n_bs,
                  &q.cap_bs, &q.oom, res) ||
        !body_ids(body, "blocked_artists", "artist", sr_catalog_n_artists(a->cat), &q.ba, &q.n_ba,
                  &q.cap_ba, &q.oom, res))
        goto done;
    answer_rec(a, req, &q, res);
done:
    sr_free(in);
    req_free(&q);
    json_decref(body);
}

/* ---- profiles --------------------------------------------------------------------- */

static const char *token_of(const sr_http_req *req) {
    return param(req, "token");
}

/* The profile of token as JSON: ratings and blocks with the catalog id of each (null
 * when it does not map). */
static void profile_reply(const sr_api *a, const sr_http_req *req, const char *token,
                          sr_http_res *res, int status) {
    sr_profile p = {0};
    sr_diag d = {{0}};
    sr_err e = sr_profiles_get(a->prof, token, now_s(), &p, &d);
    if (e) {
        fail(a, req, res, e, &d);
        sr_profile_free(&p);
        return;
    }
    json_t *ratings = json_array(), *blocks = json_array();
    for (size_t i = 0; ratings && i < p.n_ratings; i++) {
        const sr_profile_rating *r = &p.ratings[i];
        json_array_append_new(ratings,
                              json_pack("{s:o,s:s,s:s,s:f,s:s,s:I,s:I}", "id",
                                        song_id_json(a, r->artist, r->track), "artist", r->artist,
                                        "track", r->track, "rating", r->rating, "source",
                                        sr_profile_source_name(r->source), "plays",
                                        (json_int_t)r->plays, "added", (json_int_t)r->added));
    }
    for (size_t i = 0; blocks && i < p.n_blocks; i++) {
        const sr_profile_block *b = &p.blocks[i];
        uint32_t ar;
        bool song = b->kind == SR_PROFILE_BLOCK_SONG;
        json_t *id = song ? song_id_json(a, b->artist, b->track)
                     : sr_catalog_find_artist(a->cat, b->artist, strlen(b->artist), &ar)
                         ? json_null()
                         : json_integer(ar);
        json_t *v =
            json_pack("{s:s,s:o,s:s,s:s*,s:I,s:I}", "kind", sr_profile_block_kind_name(b->kind),
                      "id", id, "artist", b->artist, "track", song ? b->track : NULL, "until",
                      (json_int_t)b->until, "added", (json_int_t)b->added);
        json_array_append_new(blocks, v);
    }
    reply(res, status,
          json_pack("{s:s,s:I,s:I,s:o,s:o}", "token", token, "created", (json_int_t)p.created,
                    "updated", (json_int_t)p.updated, "ratings", ratings, "blocks", blocks));
    sr_profile_free(&p);
}

/* Replaces every rating of token with the body's "ratings" (required when need), each
 * with its source, plays and added as given (RATING_PUT). */
static bool put_ratings(const sr_api *a, const sr_http_req *req, const char *token, json_t *body,
                        bool need, sr_http_res *res) {
    static const char *const keys[] = {"ratings", NULL};
    if (!check_keys(body, keys, "", res)) return false;
    if (need && !json_object_get(body, "ratings")) {
        sr_http_error(res, 400, "\"ratings\" is missing");
        return false;
    }
    in_rating *in;
    size_t n;
    if (!parse_ratings(a, body, RATING_PUT, &in, &n, res)) return false;
    sr_profile_rating *r = sr_mallocarray(n ? n : 1, sizeof *r);
    char *names = NULL;
    sr_diag d = {{0}};
    sr_err e = r && to_profile(a, in, n, r, &names)
                   ? sr_profiles_set_ratings(a->prof, token, r, n, true, now_s(), &d)
                   : sr_diag_set(&d, SR_E_NOMEM, "out of memory");
    sr_free(in);
    sr_free(r);
    sr_free(names);
    if (e) fail(a, req, res, e, &d);
    return !e;
}

static void h_profile_create(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    json_t *body = NULL;
    if (req->body_len && !(body = body_object(req, res))) return;
    char token[SR_PROFILES_TOKEN_LEN + 1];
    sr_diag d = {{0}};
    sr_err e = sr_profiles_create(a->prof, now_s(), token, &d);
    if (e) {
        fail(a, req, res, e, &d);
    } else if (body && !put_ratings(a, req, token, body, false, res)) {
        sr_profiles_delete(a->prof, token, NULL);
    } else {
        char loc[64];
        snprintf(loc, sizeof loc, "/api/profiles/%s", token);
        reply(res, 201, json_pack("{s:s}", "token", token));
        sr_http_add_header(res, "Location", loc);
    }
    json_decref(body);
}

static void h_profile_get(void *ctx, const sr_http_req *req, sr_http_res *res) {
    profile_reply(ctx, req, token_of(req), res, 200);
}

static void h_profile_put(void *ctx, const sr_http_req *req, sr_http_res *res) {
    json_t *body = body_object(req, res);
    if (body && put_ratings(ctx, req, token_of(req), body, true, res))
        profile_reply(ctx, req, token_of(req), res, 200);
    json_decref(body);
}

static void h_profile_delete(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    sr_diag d = {{0}};
    sr_err e = sr_profiles_delete(a->prof, token_of(req), &d);
    if (e)
        fail(a, req, res, e, &d);
    else
        no_content(res);
}

static void h_rating_add(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    const char *token = token_of(req);
    json_t *body = body_object(req, res);
    in_rating in;
    if (!body || !parse_rating(a, body, RATING_SET, "", &in, res)) {
        json_decref(body);
        return;
    }
    sr_profile_rating r;
    char *names = NULL;
    sr_diag d = {{0}};
    sr_err e = to_profile(a, &in, 1, &r, &names) ? SR_OK : SR_E_NOMEM;
    bool existed = !e && profile_has(a, token, false, 0, r.artist, r.track);
    if (!e)
        e = sr_profiles_set_rating(a->prof, token, r.artist, r.track, r.rating, 0, SR_PROFILE_RATED,
                                   now_s(), &d);
    if (e)
        fail(a, req, res, e, &d);
    else
        reply(res, existed ? 200 : 201,
              json_pack("{s:o,s:s,s:s,s:f,s:s,s:b}", "id",
                        in.item == NO_ITEM ? json_null() : json_integer(in.item), "artist",
                        r.artist, "track", r.track, "rating", r.rating, "source", "rated",
                        "created", (int)!existed));
    sr_free(names);
    json_decref(body);
}

static void h_ratings_clear(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    sr_diag d = {{0}};
    sr_err e = sr_profiles_clear_ratings(a->prof, token_of(req), now_s(), &d);
    if (e)
        fail(a, req, res, e, &d);
    else
        no_content(res);
}

static void h_rating_delete(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    uint32_t i;
    if (!path_id(res, param(req, "song"), "song", sr_catalog_n_items(a->cat), &i)) return;
    char *artist = cstr(sr_catalog_artist_name(a->cat, sr_catalog_item_artist(a->cat, i)));
    char *track = cstr(sr_catalog_track_name(a->cat, i));
    sr_diag d = {{0}};
    sr_err e = artist && track
                   ? sr_profiles_delete_rating(a->prof, token_of(req), artist, track, now_s(), &d)
                   : SR_E_NOMEM;
    if (e)
        fail(a, req, res, e, &d);
    else
        no_content(res);
    sr_free(artist);
    sr_free(track);
}

/* A block's target from the body ({"song": id} or {"artist": id}) or the path. */
typedef struct block_target {
    sr_profile_block_kind kind;
    uint32_t id;
    char *artist, *track; /* new copies of the catalog names; track NULL for an artist */
} block_target;

static bool block_names(const sr_api *a, block_target *t, sr_http_res *res) {
    bool song = t->kind == SR_PROFILE_BLOCK_SONG;
    uint32_t ar = song ? sr_catalog_item_artist(a->cat, t->id) : t->id;
    t->artist = cstr(sr_catalog_artist_name(a->cat, ar));
    t->track = song ? cstr(sr_catalog_track_name(a->cat, t->id)) : NULL;
    if (t->artist && (!song || t->track)) return true;
    sr_http_error(res, 503, "out of memory");
    return false;
}

static void h_block_add(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    static const char *const keys[] = {"song", "artist", "until", NULL};
    const char *token = token_of(req);
    json_t *body = body_object(req, res);
    if (!body || !check_keys(body, keys, "", res)) {
        json_decref(body);
        return;
    }
    json_t *song = json_object_get(body, "song"), *artist = json_object_get(body, "artist");
    block_target t = {0};
    json_int_t until = 0, id = -1;
    if (!song == !artist) {
        sr_http_error(res, 400, "a block is {\"song\": ID} or {\"artist\": ID}");
        goto done;
    }
    t.kind = song ? SR_PROFILE_BLOCK_SONG : SR_PROFILE_BLOCK_ARTIST;
    uint32_t n = song ? sr_catalog_n_items(a->cat) : sr_catalog_n_artists(a->cat);
    if (!get_int(body, song ? "song" : "artist", 0, UINT32_MAX, &id, res) ||
        !get_int(body, "until", 0, INT64_MAX, &until, res))
        goto done;
    if (id >= n) {
        sr_http_error(res, 400, "no %s with id %lld", song ? "song" : "artist", (long long)id);
        goto done;
    }
    t.id = (uint32_t)id;
    if (!block_names(a, &t, res)) goto done;
    if (t.kind == SR_PROFILE_BLOCK_ARTIST && blank(t.artist)) {
        sr_http_error(res, 400,
                      "artist %u has no name (the songs without an artist): block its songs "
                      "one by one",
                      t.id);
        goto done;
    }
    bool existed = profile_has(a, token, true, t.kind, t.artist, t.track);
    sr_diag d = {{0}};
    sr_err e = sr_profiles_add_block(a->prof, token, t.kind, t.artist, t.track, until, now_s(), &d);
    if (e) {
        fail(a, req, res, e, &d);
        goto done;
    }
    json_t *v = json_pack("{s:s,s:I,s:s,s:s*,s:I,s:b}", "kind", sr_profile_block_kind_name(t.kind),
                          "id", (json_int_t)t.id, "artist", t.artist, "track", t.track, "until",
                          (json_int_t)until, "created", (int)!existed);
    reply(res, existed ? 200 : 201, v);
done:
    sr_free(t.artist);
    sr_free(t.track);
    json_decref(body);
}

static void h_block_delete(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    block_target t = {0};
    if (!sr_profile_block_kind_parse(param(req, "kind"), &t.kind)) {
        sr_http_error(res, 400, "a block kind is song or artist");
        return;
    }
    bool song = t.kind == SR_PROFILE_BLOCK_SONG;
    if (!path_id(res, param(req, "id"), song ? "song" : "artist",
                 song ? sr_catalog_n_items(a->cat) : sr_catalog_n_artists(a->cat), &t.id) ||
        !block_names(a, &t, res))
        goto done;
    /* The artist without a name cannot be blocked (h_block_add), so it has no block. */
    if (t.kind == SR_PROFILE_BLOCK_ARTIST && blank(t.artist)) {
        sr_http_error(res, 404, "the profile has no such artist block");
        goto done;
    }
    sr_diag d = {{0}};
    sr_err e =
        sr_profiles_delete_block(a->prof, token_of(req), t.kind, t.artist, t.track, now_s(), &d);
    if (e)
        fail(a, req, res, e, &d);
    else
        no_content(res);
done:
    sr_free(t.artist);
    sr_free(t.track);
}

/* ---- history upload --------------------------------------------------------------- */

/* Writes the body to a new private file in the temp dir; its name into path. The name
 * ends like the client's file name (?filename=), which format detection reads. */
static bool spool(const sr_api *a, const sr_http_req *req, char *path, size_t cap) {
    const char *fname = query(req, "filename");
    const char *dot = fname ? strrchr(sr_path_base(fname), '.') : NULL;
    char suffix[24] = "";
    /* Only a short suffix of letters and digits after the last dots: ".json", ".tar.gz". */
    if (dot && strlen(dot) < 8) {
        bool ok = true;
        for (const char *p = dot + 1; *p; p++)
            ok = ok &&
                 ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'));
        if (ok) snprintf(suffix, sizeof suffix, "%s", dot);
    }
    int len = snprintf(path, cap, "%s/songrec-upload-XXXXXX%s", a->tmp_dir, suffix);
    if (len < 0 || (size_t)len >= cap) return false;
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0) return false;
    const char *p = req->body;
    size_t left = req->body_len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w <= 0) {
            close(fd);
            unlink(path);
            return false;
        }
        p += w;
        left -= (size_t)w;
    }
    if (close(fd)) {
        unlink(path);
        return false;
    }
    return true;
}

static int by_plays_desc(const void *x, const void *y) {
    const sr_history_song *a = x, *b = y;
    if (a->plays != b->plays) return a->plays > b->plays ? -1 : 1;
    return a->item < b->item ? -1 : a->item > b->item;
}

static int by_key(const void *x, const void *y) {
    return strcmp((*(const sr_profile_rating *const *)x)->key,
                  (*(const sr_profile_rating *const *)y)->key);
}

/* What storing a history did to a profile. */
typedef struct hist_store {
    size_t added, updated, kept, over;
} hist_store;

/* Stores the history's songs (r, n; sorted here by plays) as "history" ratings of
 * token: a song the listener rated by hand keeps that rating; new songs fill the
 * profile up to its limit, most played first. */
static sr_err store_history(const sr_api *a, const char *token, sr_history_song *r, size_t n,
                            hist_store *hs, sr_diag *d) {
    sr_profile p = {0};
    sr_err e = sr_profiles_get(a->prof, token, now_s(), &p, d);
    const sr_profile_rating **keys = NULL;
    char **names = NULL;
    sr_profile_rating *out = NULL;
    sr_normbuf nb = {0};
    sr_buf key = SR_BUF_INIT;
    if (e) goto done;
    /* The profile's ratings sorted by key. */
    keys = sr_mallocarray(p.n_ratings + 1, sizeof *keys);
    names = sr_calloc(2 * n + 1, sizeof *names);
    out = sr_mallocarray(n + 1, sizeof *out);
    if (!keys || !names || !out) {
        e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < p.n_ratings; i++) keys[i] = &p.ratings[i];
    qsort(keys, p.n_ratings, sizeof *keys, by_key);
    if (n) qsort(r, n, sizeof *r, by_plays_desc);
    size_t room = p.n_ratings < SR_PROFILES_MAX_RATINGS ? SR_PROFILES_MAX_RATINGS - p.n_ratings : 0;
    size_t m = 0;
    for (size_t j = 0; j < n; j++) {
        uint32_t i = r[j].item;
        char *artist = names[2 * j] =
            cstr(sr_catalog_artist_name(a->cat, sr_catalog_item_artist(a->cat, i)));
        char *track = names[2 * j + 1] = cstr(sr_catalog_track_name(a->cat, i));
        if (!artist || !track) {
            e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
            goto done;
        }
        sr_profile_rating probe = {.key = make_key(&nb, &key, artist, track) ? key.p : NULL};
        const sr_profile_rating *pp = &probe, **hit = NULL;
        if (probe.key) hit = bsearch(&pp, keys, p.n_ratings, sizeof *keys, by_key);
        if (hit) {
            if ((*hit)->source == SR_PROFILE_RATED) {
                hs->kept++;
                continue;
            }
            hs->updated++;
        } else if (room) {
            room--;
            hs->added++;
        } else {
            hs->over++;
            continue;
        }
        out[m++] = (sr_profile_rating){.artist = artist,
                                       .track = track,
                                       .rating = r[j].rating,
                                       .plays = r[j].plays,
                                       .source = SR_PROFILE_HISTORY};
    }
    e = sr_profiles_set_ratings(a->prof, token, out, m, false, now_s(), d);
done:
    for (size_t j = 0; names && j < 2 * n; j++) sr_free(names[j]);
    sr_free(names);
    sr_free(keys);
    sr_free(out);
    sr_normbuf_free(&nb);
    sr_buf_free(&key);
    sr_profile_free(&p);
    return e;
}

/* The engine's message about the spooled file, with its name replaced by "upload". */
static void history_error(sr_http_res *res, const char *msg, const char *path) {
    const char *at = strstr(msg, path);
    if (at)
        sr_http_error(res, 400, "%.*supload%s", (int)(at - msg), msg, at + strlen(path));
    else
        sr_http_error(res, 400, "%s", msg);
}

static void h_history(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    const char *token = token_of(req), *format = query(req, "format");
    if (format && !sr_format_find(format)) {
        sr_http_error(res, 400,
                      "unknown history format '%.40s' (see songrec ingest --list-formats)", format);
        return;
    }
    if (!req->body_len) {
        sr_http_error(res, 400, "the body is empty: send a listening-history file");
        return;
    }
    /* An unknown token is refused before any work. */
    sr_profile p = {0};
    sr_diag d = {{0}};
    sr_err e = sr_profiles_get(a->prof, token, now_s(), &p, &d);
    sr_profile_free(&p);
    if (e) {
        fail(a, req, res, e, &d);
        return;
    }
    char path[4096];
    if (!spool(a, req, path, sizeof path)) {
        sr_logf(&a->log, SR_LOG_ERROR, "cannot spool an upload in %s", a->tmp_dir);
        sr_http_error(res, 500, "cannot store the upload; the server log has the details");
        return;
    }
    sr_history_song *r = NULL;
    size_t n = 0;
    sr_history_stats st = {0};
    e = sr_engine_history(a->e, path, format, &r, &n, &st, &d);
    unlink(path);
    hist_store hs = {0};
    /* The server's own trouble (memory, space, reading back its spooled copy) is a 5xx;
     * an upload of which no listen could be read (sr_engine_history refuses those) a
     * 400 that says why. */
    if (e == SR_E_NOMEM || e == SR_E_NOSPC || e == SR_E_INTERNAL || e == SR_E_IO)
        fail(a, req, res, e, &d);
    else if (e)
        history_error(res, d.msg[0] ? d.msg : sr_err_message(e), path);
    else if ((e = store_history(a, token, r, n, &hs, &d)))
        fail(a, req, res, e, &d);
    else
        reply(res, 200,
              json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "listens", (json_int_t)st.listens,
                        "matched", (json_int_t)st.matched, "unmatched", (json_int_t)st.unmatched,
                        "skipped", (json_int_t)st.skipped, "songs", (json_int_t)st.songs, "added",
                        (json_int_t)hs.added, "updated", (json_int_t)hs.updated, "kept_rated",
                        (json_int_t)hs.kept, "over_limit", (json_int_t)hs.over));
    sr_free(r);
}

static void h_recommendations(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    const char *fs = query(req, "format");
    sr_export_format f = SR_EXPORT_JSON;
    if (fs && !sr_export_format_parse(fs, &f)) {
        sr_http_error(res, 400, "format must be json, jspf, xspf or csv");
        return;
    }
    rec_req q;
    req_init(&q, DEFAULT_EXPORT_N);
    sr_rec_item *items = NULL;
    size_t n = 0;
    sr_rec_stats st = {0};
    if (!query_opts(req, &q.o, res) || !req_token(a, req, token_of(req), &q, res) ||
        !run_rec(a, req, &q, &items, &n, &st, res))
        goto done;
    sr_buf b = SR_BUF_INIT;
    sr_diag d = {{0}};
    sr_err e = sr_engine_export(a->e, f, "songrec recommendations", items, n, &b, &d);
    if (e) {
        fail(a, req, res, e, &d);
    } else {
        char disp[96];
        snprintf(disp, sizeof disp, "attachment; filename=\"songrec-recommendations.%s\"",
                 sr_export_extension(f));
        sr_http_body(res, 200, sr_export_content_type(f), b.p ? b.p : "", b.n);
        sr_http_add_header(res, "Content-Disposition", disp);
    }
    sr_buf_free(&b);
done:
    sr_free(items);
    req_free(&q);
}

/* The model's own cross-validation (train --cv) in evaluate --json's shape. */
static json_t *model_eval_json(const sr_model_file *f) {
    if (!f->meta.eval_folds) return json_null();
    return json_pack("{s:s,s:I,s:{s:f,s:f},s:{s:f,s:f}}", "source", "model", "splits",
                     (json_int_t)f->meta.eval_folds, "rmse", "mean", f->meta.eval_rmse, "std",
                     f->meta.eval_rmse_std, "mae", "mean", f->meta.eval_mae, "std",
                     f->meta.eval_mae_std);
}

static json_t *or_null(json_t *v) {
    return v ? json_incref(v) : json_null();
}

static void h_about(void *ctx, const sr_http_req *req, sr_http_res *res) {
    (void)req;
    const sr_api *a = ctx;
    reply(res, 200,
          json_pack("{s:o,s:o,s:o}", "dataset", or_null(a->about_stats), "evaluation",
                    a->about_eval ? json_incref(a->about_eval) : model_eval_json(a->e->mf),
                    "gridsearch", or_null(a->about_grid)));
}

static void h_starter(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const sr_api *a = ctx;
    uint64_t n;
    if (!query_u64(req, res, "n", 1, SR_REC_MAX_STARTER, DEFAULT_N, &n)) return;
    json_t *arr = json_array();
    for (size_t k = 0; arr && k < a->n_starter && k < n; k++)
        json_array_append_new(arr, song_json(a, a->starter[k]));
    reply(res, 200, json_pack("{s:o}", "items", arr));
}

/* Reads dir/name as JSON when the file exists; an unreadable or malformed file is an
 * error (a server should not start with half its description). */
static sr_err load_about(const char *dir, const char *name, json_t **out, sr_diag *d) {
    *out = NULL;
    if (!dir) return SR_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (access(path, F_OK) != 0) return SR_OK;
    json_error_t je;
    *out = json_load_file(path, 0, &je);
    if (!*out) return sr_diag_set(d, SR_E_INPUT, "%s:%d: %s", path, je.line, je.text);
    return SR_OK;
}

static void about_free(sr_api *a) {
    json_decref(a->about_stats);
    json_decref(a->about_eval);
    json_decref(a->about_grid);
}

/* ---- the server ------------------------------------------------------------------- */

static const sr_http_route ROUTES[] = {
    {SR_HTTP_GET, "/", h_root, "root", 0},
    {SR_HTTP_GET, "/healthz", h_healthz, "healthz", 0},
    {SR_HTTP_GET, "/metrics", h_metrics, "metrics", 0},
    {SR_HTTP_GET, "/api/model", h_model, "model", 0},
    {SR_HTTP_GET, "/api/about", h_about, "about", 0},
    {SR_HTTP_GET, "/api/starter", h_starter, "starter", 0},
    {SR_HTTP_GET, "/api/search", h_search, "search", 0},
    {SR_HTTP_GET, "/api/artists/{id}", h_artist, "artist", 0},
    {SR_HTTP_GET, "/api/artists/{id}/songs", h_artist_songs, "artist_songs", 0},
    {SR_HTTP_GET, "/api/artists/{id}/similar", h_artist_similar, "artist_similar", 0},
    {SR_HTTP_GET, "/api/songs/{id}", h_song, "song", 0},
    {SR_HTTP_GET, "/api/songs/{id}/similar", h_similar, "similar", 0},
    {SR_HTTP_POST, "/api/recommend", h_recommend, "recommend", SR_API_MAX_BODY},
    {SR_HTTP_POST, "/api/profiles", h_profile_create, "profile_create", SR_API_PROFILE_MAX},
    {SR_HTTP_GET, "/api/profiles/{token}", h_profile_get, "profile_get", 0},
    {SR_HTTP_PUT, "/api/profiles/{token}", h_profile_put, "profile_put", SR_API_PROFILE_MAX},
    {SR_HTTP_DELETE, "/api/profiles/{token}", h_profile_delete, "profile_delete", 0},
    {SR_HTTP_POST, "/api/profiles/{token}/ratings", h_rating_add, "rating_add", SR_API_MAX_BODY},
    {SR_HTTP_DELETE, "/api/profiles/{token}/ratings", h_ratings_clear, "ratings_clear", 0},
    {SR_HTTP_DELETE, "/api/profiles/{token}/ratings/{song}", h_rating_delete, "rating_delete", 0},
    {SR_HTTP_POST, "/api/profiles/{token}/blocks", h_block_add, "block_add", SR_API_MAX_BODY},
    {SR_HTTP_DELETE, "/api/profiles/{token}/blocks/{kind}/{id}", h_block_delete, "block_delete", 0},
    {SR_HTTP_POST, "/api/profiles/{token}/history", h_history, "history", SR_API_HISTORY_MAX},
    {SR_HTTP_GET, "/api/profiles/{token}/recommendations", h_recommendations, "recommendations", 0},
};

static void api_free(sr_api *a) {
    about_free(a);
    sr_free(a->tmp_dir);
    sr_free(a);
}

/* Everything sr_api_start sets up but the server. */
static sr_err api_new(const sr_api_config *cfg, sr_api **out, sr_diag *d) {
    *out = NULL;
    if (!cfg->engine || !cfg->engine->cat)
        return sr_diag_set(d, SR_E_USAGE, "%s has no song catalog to serve",
                           cfg->engine ? cfg->engine->path : "the model");
    sr_api *a = sr_calloc(1, sizeof *a);
    const char *tmp = cfg->tmp_dir ? cfg->tmp_dir : getenv("TMPDIR");
    if (!a || !(a->tmp_dir = sr_strdup(tmp && *tmp ? tmp : "/tmp"))) {
        sr_free(a);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    a->e = cfg->engine;
    a->cat = cfg->engine->cat;
    a->prof = cfg->profiles;
    sr_engine_rating_range(cfg->engine, &a->lo, &a->hi);
    if (cfg->log) a->log = *cfg->log;
    atomic_init(&a->http, NULL);
    struct stat sb;
    sr_err e = cfg->about_dir && (stat(cfg->about_dir, &sb) || !S_ISDIR(sb.st_mode))
                   ? sr_diag_set(d, SR_E_IO, "--about %s: not a directory", cfg->about_dir)
                   : SR_OK;
    if (!e) e = load_about(cfg->about_dir, "stats.json", &a->about_stats, d);
    if (!e) e = load_about(cfg->about_dir, "evaluate.json", &a->about_eval, d);
    if (!e) e = load_about(cfg->about_dir, "gridsearch.json", &a->about_grid, d);
    if (!e) e = sr_rec_starter(&a->e->rec, SR_REC_MAX_STARTER, a->starter, &a->n_starter, d);
    if (e) {
        api_free(a);
        return e;
    }
    *out = a;
    return SR_OK;
}

sr_err sr_api_start(const sr_api_config *cfg, sr_api **out, sr_diag *d) {
    sr_api *a;
    sr_err e = api_new(cfg, &a, d);
    if (e) return e;
    sr_http_config hc = {.bind = cfg->bind,
                         .port = cfg->port,
                         .threads = cfg->threads,
                         .limits = cfg->limits,
                         .max_body = SR_API_MAX_BODY,
                         /* "/" is the web page's when there are assets, else ours */
                         .routes = ROUTES + (cfg->n_assets ? 1 : 0),
                         .n_routes = sizeof ROUTES / sizeof ROUTES[0] - (cfg->n_assets ? 1 : 0),
                         .assets = cfg->assets,
                         .n_assets = cfg->n_assets,
                         .ctx = a,
                         .log = cfg->log};
    sr_http *h;
    e = sr_http_start(&hc, &h, d);
    if (e) {
        api_free(a);
        return e;
    }
    atomic_store(&a->http, h);
    *out = a;
    return SR_OK;
}

uint16_t sr_api_port(const sr_api *a) {
    return sr_http_port(atomic_load(&((sr_api *)a)->http));
}

void sr_api_stop(sr_api *a) {
    if (!a) return;
    sr_http_stop(atomic_load(&a->http));
    api_free(a);
}

/* ---- in-process requests (api_parse.h) -------------------------------------------- */

const sr_http_route *sr_api_routes(size_t *n) {
    *n = sizeof ROUTES / sizeof ROUTES[0];
    return ROUTES;
}

sr_err sr_api_open_local(const sr_api_config *cfg, sr_api **out, sr_diag *d) {
    return api_new(cfg, out, d);
}

sr_err sr_api_local(sr_api *a, const sr_api_local_req *r, sr_http_res *res) {
    size_t n_routes, caps = 0, i = 0;
    const sr_http_route *table = sr_api_routes(&n_routes);
    while (i < n_routes && r->route != &table[i]) i++;
    if (i == n_routes) return SR_E_USAGE;
    for (const char *p = strchr(r->route->pattern, '{'); p; p = strchr(p + 1, '{')) caps++;
    if (r->n_params != caps || r->n_query > SR_HTTP_MAX_QUERY) return SR_E_USAGE;
    local_req l = {.req = {.method = r->route->method,
                           .path = r->route->pattern,
                           .route = r->route->name,
                           .n_params = r->n_params,
                           .params = r->params,
                           .body = r->body ? r->body : "",
                           .body_len = r->body ? r->body_len : 0,
                           .conn_ = NULL},
                   .in = r};
    r->route->handler(a, &l.req, res);
    return SR_OK;
}
