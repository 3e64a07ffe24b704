/* Shared body of the API fuzz targets (fuzz_api_body.c, fuzz_api_query.c): one request
 * run through the API's real route handlers in process (server/api_parse.h), over real
 * engines and a real profile store, with the answer checked.
 *
 * Setup, once per process: the docs/API.md example data (songrec generate --users 40
 * --songs 300 --listens 6000 --seed 5, as ListenBrainz JSON lines) ingested and trained
 * into five models that take different paths through the recommender — svd (explicit,
 * factors, explanations), knn (knn_basic: similarity-row fold-in), co (co_clustering:
 * no explain, leave-one-out reasons), als (implicit, float16 factors) and pop
 * (popularity: corated similarity) — each saved, opened as an engine and given an API
 * (sr_api_open_local); one profile store beside them. Everything lives in a private
 * directory under /dev/shm, removed at exit.
 *
 * An input is a request: its first line "METHOD TARGET [MODEL]" (METHOD defaults to
 * GET when the line starts with '/'; MODEL one of the names above, default svd), the
 * rest of the input the body. The target is decoded as the HTTP core decodes it
 * (server/http.c: '?' splits off the query; %XX, '+' in the query; a bad escape, %00,
 * invalid UTF-8, more than 32 segments or 64 query pairs is the core's 400/404, so the
 * input is dropped) and matched against the route table; a request that would not reach
 * a handler is dropped too. The path segment "t" as a {token} and the text "@token@" in
 * the body stand for a live profile's token: before such a request a fresh profile is
 * made with two catalog ratings by name, one of a song the model lacks, one history
 * rating and a song and an artist block, and it is deleted afterwards (as is a profile
 * the request created).
 *
 * Findings (abort): a 5xx answer — other than 501 from a similar route, which
 * docs/API.md promises for a model without similarity —, no status set, an answer of
 * JSON type that is not JSON, an error answer not shaped {"error": {"status": S,
 * "message": "..."}} with S the status; crashes, leaks and UB under the sanitizers.
 * With SR_FUZZ_API_PRINT set in the environment each answer is printed to stderr.
 */
#ifndef SR_FUZZ_API_HARNESS_H
#define SR_FUZZ_API_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data/builder.h"
#include "gen/generate.h"
#include "ingest/ingest.h"
#include "models/model_file.h"
#include "models/trainset.h"
#include "rec/engine.h"
#include "server/api_parse.h"
#include "server/profiles.h"
#include "util/mem.h"
#include "util/str.h"

#define FUZZ_API_MAX_TARGET 16384 /* bytes of a request line the core's 32 KiB can hold */

typedef struct fuzz_model {
    const char *name, *algo;
    sr_transform transform;
    sr_srm_precision prec;
    const char *params[3];
    char path[128]; /* the engine borrows it */
    sr_engine *engine;
    sr_api *api;
} fuzz_model;

static fuzz_model fuzz_models[] = {
    {"svd", "svd", SR_TRANSFORM_CAP10, SR_SRM_PREC_F32, {"n_factors=8", "n_epochs=10"}, "", 0, 0},
    {"knn", "knn_basic", SR_TRANSFORM_CAP10, SR_SRM_PREC_F32, {"k=10"}, "", 0, 0},
    {"co", "co_clustering", SR_TRANSFORM_CAP10, SR_SRM_PREC_F32, {"n_epochs=5"}, "", 0, 0},
    {"als", "als", SR_TRANSFORM_RAW, SR_SRM_PREC_F16, {"factors=8", "iterations=3"}, "", 0, 0},
    {"pop", "popularity", SR_TRANSFORM_RAW, SR_SRM_PREC_F32, {NULL}, "", 0, 0},
};
#define FUZZ_N_MODELS (sizeof fuzz_models / sizeof fuzz_models[0])

static char fuzz_dir[64];
static sr_profiles *fuzz_store;

static void fuzz_die(const char *what, const sr_diag *d) {
    fprintf(stderr, "fuzz api setup: %s: %s\n", what, d && d->msg[0] ? d->msg : "failed");
    abort();
}

static void fuzz_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", fuzz_dir, name);
}

static void fuzz_cleanup(void) {
    sr_profiles_close(fuzz_store);
    fuzz_store = NULL;
    static const char *const files[] = {"g.jsonl", "p.db", "p.db-wal", "p.db-shm"};
    char path[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        fuzz_path(path, sizeof path, files[i]);
        unlink(path);
    }
    for (size_t i = 0; i < FUZZ_N_MODELS; i++)
        if (fuzz_models[i].path[0]) unlink(fuzz_models[i].path);
    rmdir(fuzz_dir);
}

/* The example data as a dataset. */
static sr_dataset *fuzz_dataset(void) {
    sr_diag d = {{0}};
    sr_gen_params gp;
    sr_gen_params_default(&gp);
    gp.n_users = 40, gp.n_songs = 300, gp.n_listens = 6000, gp.seed = 5;
    sr_gen *g;
    char path[128];
    fuzz_path(path, sizeof path, "g.jsonl");
    sr_gen_output go = {.format = SR_GEN_JSONL};
    if (sr_gen_new(&gp, NULL, &g, &d) || sr_gen_write_file(g, path, &go, NULL, &d))
        fuzz_die("generate", &d);
    sr_gen_free(g);
    sr_build_opts bo = {0};
    sr_builder *b;
    if (sr_builder_new(&bo, &b)) fuzz_die("builder", NULL);
    sr_ingest_opts io = {.read = {.min_ms_played = 30000}};
    sr_read_stats st = {0};
    char *paths[1] = {path};
    sr_dataset *ds = NULL;
    sr_build_stats bs;
    if (sr_ingest_paths(paths, 1, &io, sr_builder_add, b, &st, &d) ||
        sr_builder_finish(b, "{}", &ds, &bs, &d))
        fuzz_die("ingest", &d);
    unlink(path);
    sr_builder_free(b);
    return ds;
}

/* Trains m on ds, saves it, opens it as an engine with an API. */
static void fuzz_model_open(fuzz_model *m, const sr_dataset *ds) {
    sr_diag d = {{0}};
    const sr_model_ops *ops = sr_model_find(m->algo);
    if (!ops) fuzz_die(m->algo, NULL);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    for (size_t k = 0; k < 3 && m->params[k]; k++)
        if (sr_params_set(ops, p, m->params[k], &d)) fuzz_die(m->params[k], &d);
    sr_ratings *rs = NULL;
    sr_trainset *ts = NULL;
    if (sr_ratings_from_dataset(ds, m->transform, &rs) || sr_trainset_new(rs, NULL, &ts))
        fuzz_die("trainset", NULL);
    sr_ratings_free(rs);
    sr_fit_ctx fc = {.seed = 1, .threads = 1};
    sr_model model = {0};
    if (sr_model_fit(&model, ops, p, ts, &fc, &d)) fuzz_die("fit", &d);
    sr_model_meta meta = {.data_file = "g.srd",
                          .data_meta = ds->meta_json,
                          .transform = m->transform == SR_TRANSFORM_CAP10 ? "cap10" : "raw",
                          .users = ds->users,
                          .artists = ds->artists,
                          .item_artist = ds->song_artist,
                          .tracks = ds->tracks,
                          .item_mbid = ds->song_mbid,
                          .created = 1750000000};
    char name[32];
    snprintf(name, sizeof name, "%s.srm", m->name);
    fuzz_path(m->path, sizeof m->path, name);
    if (sr_model_save(&model, &meta, m->prec, m->path, &d)) fuzz_die("save", &d);
    sr_model_deinit(&model);
    sr_trainset_free(ts);
    if (sr_engine_open(m->path, &m->engine, &d)) fuzz_die("engine", &d);
    sr_api_config cfg = {.engine = m->engine, .profiles = fuzz_store, .tmp_dir = fuzz_dir};
    if (sr_api_open_local(&cfg, &m->api, &d)) fuzz_die("api", &d);
}

static void fuzz_api_setup(void) {
    if (fuzz_store) return;
    snprintf(fuzz_dir, sizeof fuzz_dir, "/dev/shm/sr-fuzz-api-XXXXXX");
    if (!mkdtemp(fuzz_dir)) fuzz_die("mkdtemp", NULL);
    atexit(fuzz_cleanup);
    sr_diag d = {{0}};
    char path[128];
    fuzz_path(path, sizeof path, "p.db");
    if (sr_profiles_open(path, 1, &fuzz_store, &d)) fuzz_die("profiles", &d);
    sr_dataset *ds = fuzz_dataset();
    for (size_t i = 0; i < FUZZ_N_MODELS; i++) fuzz_model_open(&fuzz_models[i], ds);
    sr_dataset_free(ds);
}

/* ---- one request ------------------------------------------------------------------- */

static int fuzz_hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The HTTP core's decoding: %XX (and '+' when plus) in place; false on a bad escape,
 * %00 or a result that is not valid UTF-8. */
static bool fuzz_decode(char *s, bool plus) {
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '%') {
            int hi = fuzz_hex(r[1]), lo = hi < 0 ? -1 : fuzz_hex(r[2]);
            if (lo < 0 || (hi | lo) == 0) return false;
            *w++ = (char)(hi << 4 | lo);
            r += 2;
        } else {
            *w++ = plus && *r == '+' ? ' ' : *r;
        }
    }
    *w = 0;
    return sr_utf8_valid(s, (size_t)(w - s));
}

/* A request split and decoded as the HTTP core does; strings point into buf. */
typedef struct fuzz_req {
    sr_http_method method;
    const fuzz_model *model;
    char *segs[SR_HTTP_MAX_SEGMENTS];
    size_t n_segs;
    const char *qkeys[SR_HTTP_MAX_QUERY], *qvals[SR_HTTP_MAX_QUERY];
    size_t n_query;
    const char *params[SR_HTTP_MAX_PARAMS];
    const sr_http_route *route;
} fuzz_req;

/* "METHOD TARGET [MODEL]" in line (NUL-terminated, modified) into r; false when the
 * core would not run a handler for it. */
static bool fuzz_parse_line(char *line, fuzz_req *r) {
    static const char *const METHODS[] = {"GET", "HEAD", "POST", "PUT", "DELETE"};
    char *word[3] = {0};
    size_t n = 0;
    for (char *p = strtok(line, " "); p && n < 3; p = strtok(NULL, " ")) word[n++] = p;
    if (!n) return false;
    char *target = word[0], *model = word[1];
    r->method = SR_HTTP_GET;
    if (target[0] != '/') {
        size_t m = 0;
        while (m < SR_HTTP__N_METHODS && strcmp(word[0], METHODS[m])) m++;
        if (m == SR_HTTP__N_METHODS || m == SR_HTTP_HEAD || n < 2) return false;
        r->method = (sr_http_method)m;
        target = word[1], model = word[2];
    }
    if (target[0] != '/' || strlen(target) > FUZZ_API_MAX_TARGET) return false;
    r->model = &fuzz_models[0];
    for (size_t i = 0; model && i < FUZZ_N_MODELS; i++)
        if (!strcmp(model, fuzz_models[i].name)) r->model = &fuzz_models[i];
    /* the query */
    char *q = strchr(target, '?');
    if (q) *q++ = 0;
    for (char *piece = q; piece && *piece;) {
        char *amp = strchr(piece, '&');
        if (amp) *amp = 0;
        if (*piece) {
            if (r->n_query == SR_HTTP_MAX_QUERY) return false;
            char *eq = strchr(piece, '=');
            char *val = eq ? eq + 1 : piece + strlen(piece);
            if (eq) *eq = 0;
            if (!fuzz_decode(piece, true) || !fuzz_decode(val, true)) return false;
            r->qkeys[r->n_query] = piece;
            r->qvals[r->n_query++] = val;
        }
        piece = amp ? amp + 1 : NULL;
    }
    /* the path: the whole must decode, then each segment */
    char whole[FUZZ_API_MAX_TARGET + 1];
    snprintf(whole, sizeof whole, "%s", target);
    if (!fuzz_decode(whole, false)) return false;
    for (char *p = target + 1;;) {
        char *slash = strchr(p, '/');
        if (slash) *slash = 0;
        if (!fuzz_decode(p, false) || r->n_segs == SR_HTTP_MAX_SEGMENTS) return false;
        r->segs[r->n_segs++] = p;
        if (!slash) break;
        p = slash + 1;
    }
    /* the route: same segment count, literals equal, captures non-empty */
    size_t n_routes;
    const sr_http_route *routes = sr_api_routes(&n_routes);
    for (size_t i = 0; i < n_routes && !r->route; i++) {
        const char *pat = routes[i].pattern + 1;
        size_t k = 0, caps = 0;
        bool ok = routes[i].method == r->method;
        while (ok) {
            size_t len = strcspn(pat, "/");
            if (k == r->n_segs) {
                ok = false;
                break;
            }
            if (pat[0] == '{') {
                ok = r->segs[k][0] != 0;
                if (ok) r->params[caps++] = r->segs[k];
            } else {
                ok = strlen(r->segs[k]) == len && !memcmp(r->segs[k], pat, len);
            }
            k++;
            if (!pat[len]) break;
            pat += len + 1;
        }
        if (ok && k == r->n_segs) r->route = &routes[i];
    }
    return r->route != NULL;
}

/* A fresh profile with ratings and blocks; its token into token. */
static void fuzz_profile(char token[SR_PROFILES_TOKEN_LEN + 1]) {
    const sr_catalog *cat = fuzz_models[0].engine->cat;
    sr_diag d = {{0}};
    int64_t now = (int64_t)time(NULL);
    if (sr_profiles_create(fuzz_store, now, token, &d)) fuzz_die("profile", &d);
    char names[4][256];
    for (uint32_t k = 0; k < 2; k++) {
        uint32_t i = 1 + 7 * k;
        sr_str ar = sr_catalog_artist_name(cat, sr_catalog_item_artist(cat, i));
        sr_str tr = sr_catalog_track_name(cat, i);
        snprintf(names[2 * k], sizeof names[0], "%.*s", (int)ar.n, ar.p);
        snprintf(names[2 * k + 1], sizeof names[0], "%.*s", (int)tr.n, tr.p);
    }
    sr_profile_rating r[3] = {
        {.artist = names[0], .track = names[1], .rating = 9, .source = SR_PROFILE_RATED},
        {.artist = "Nobody", .track = "Nothing", .rating = 3, .source = SR_PROFILE_RATED},
        {.artist = names[2],
         .track = names[3],
         .rating = 10,
         .plays = 12,
         .source = SR_PROFILE_HISTORY},
    };
    if (sr_profiles_set_ratings(fuzz_store, token, r, 3, false, now, &d) ||
        sr_profiles_add_block(fuzz_store, token, SR_PROFILE_BLOCK_SONG, names[2], names[3], 0, now,
                              &d) ||
        sr_profiles_add_block(fuzz_store, token, SR_PROFILE_BLOCK_ARTIST, names[0], NULL,
                              now + 3600, now, &d))
        fuzz_die("profile", &d);
}

static bool fuzz_is_similar(const sr_http_route *rt) {
    return !strcmp(rt->name, "similar") || !strcmp(rt->name, "artist_similar");
}

/* Aborts when the answer breaks the API's promises (see the top of this file). */
static void fuzz_check(const sr_http_route *rt, const sr_http_res *res) {
    if (res->status < 100 || res->status > 599 ||
        (res->status >= 500 && !(res->status == 501 && fuzz_is_similar(rt)))) {
        fprintf(stderr, "fuzz api: %s answered %d: %.*s\n", rt->name, res->status,
                (int)(res->body.n < 500 ? res->body.n : 500), res->body.p ? res->body.p : "");
        abort();
    }
    if (!strstr(res->content_type, "json") || res->status == 204) return;
    json_error_t je;
    json_t *v = json_loadb(res->body.p ? res->body.p : "", res->body.n, 0, &je);
    if (!v) {
        fprintf(stderr, "fuzz api: %s answered %d with bad JSON: %s\n", rt->name, res->status,
                je.text);
        abort();
    }
    if (res->status >= 400) {
        json_t *err = json_object_get(v, "error");
        json_t *st = json_object_get(err, "status"), *msg = json_object_get(err, "message");
        if (json_integer_value(st) != res->status || !json_is_string(msg) ||
            !json_string_length(msg)) {
            fprintf(stderr, "fuzz api: %s: a %d without the error shape\n", rt->name, res->status);
            abort();
        }
    }
    json_decref(v);
}

/* The body with "@token@" replaced by token: a new NUL-terminated copy (sr_free it). */
static char *fuzz_body(const char *p, size_t n, const char *token, size_t *out_n) {
    static const char MARK[] = "@token@";
    size_t m = sizeof MARK - 1, t = strlen(token);
    char *out = sr_malloc(n / m * t + n + 1);
    if (!out) return NULL;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        if (i + m <= n && !memcmp(p + i, MARK, m)) {
            memcpy(out + w, token, t);
            w += t, i += m;
        } else {
            out[w++] = p[i++];
        }
    }
    out[w] = 0;
    *out_n = w;
    return out;
}

/* Runs the request in data[0, size) when its method is in methods (a bit per
 * sr_http_method); body: whether the text after the first line is the body. */
static void fuzz_api_run(const uint8_t *data, size_t size, unsigned methods, bool body) {
    fuzz_api_setup();
    const char *nl = memchr(data, '\n', size);
    size_t line_n = nl ? (size_t)(nl - (const char *)data) : size;
    if (line_n > FUZZ_API_MAX_TARGET + 32 || memchr(data, 0, line_n) || memchr(data, '\r', line_n))
        return;
    char *line = sr_strndup((const char *)data, line_n);
    fuzz_req r = {0};
    if (!line || !fuzz_parse_line(line, &r) || !(methods & (1u << r.route->method))) {
        sr_free(line);
        return;
    }
    const char *bp = nl && body ? (const char *)nl + 1 : "";
    size_t bn = nl && body ? size - line_n - 1 : 0;
    size_t max_body = r.route->max_body ? r.route->max_body : SR_API_MAX_BODY;
    if (bn > max_body) {
        sr_free(line);
        return;
    }
    /* "t" as the {token} capture and "@token@" in the body stand for the live profile,
     * made only when the request names it (the store's writes are most of the time) */
    char token[SR_PROFILES_TOKEN_LEN + 1] = "";
    const char *pat = r.route->pattern;
    size_t n_params = 0, token_at = SIZE_MAX;
    for (const char *c = strchr(pat, '{'); c; c = strchr(c + 1, '{'), n_params++)
        if (!strncmp(c, "{token}", 7) && !strcmp(r.params[n_params], "t")) token_at = n_params;
    if (token_at != SIZE_MAX || memmem(bp, bn, "@token@", 7)) fuzz_profile(token);
    if (token_at != SIZE_MAX) r.params[token_at] = token;
    size_t body_n = 0;
    char *body_p = fuzz_body(bp, bn, token, &body_n);
    if (!body_p) fuzz_die("body", NULL);
    sr_api_local_req lr = {.route = r.route,
                           .params = r.params,
                           .n_params = n_params,
                           .qkeys = r.qkeys,
                           .qvalues = r.qvals,
                           .n_query = r.n_query,
                           .body = body_p,
                           .body_len = body_n};
    sr_http_res res = {.body = SR_BUF_INIT};
    if (sr_api_local(r.model->api, &lr, &res)) fuzz_die("sr_api_local refused the request", NULL);
    if (getenv("SR_FUZZ_API_PRINT")) /* to look at what a seed does */
        fprintf(stderr, "%s %s -> %d %s\n%.*s\n", r.route->name, r.model->name, res.status,
                res.content_type, (int)res.body.n, res.body.p ? res.body.p : "");
    fuzz_check(r.route, &res);
    /* a profile the request made goes too */
    if (!strcmp(r.route->name, "profile_create") && res.status == 201) {
        json_t *v = json_loadb(res.body.p, res.body.n, 0, NULL);
        const char *made = json_string_value(json_object_get(v, "token"));
        if (!made || sr_profiles_delete(fuzz_store, made, NULL)) fuzz_die("profile_create", NULL);
        json_decref(v);
    }
    if (token[0]) sr_profiles_delete(fuzz_store, token, NULL);
    sr_buf_free(&res.body);
    sr_free(body_p);
    sr_free(line);
}

#endif
