/* The songrec HTTP API: the JSON routes under /api over one engine (a trained model
 * with its catalog, rec/engine.h) and one profile store (server/profiles.h), served by
 * the HTTP core (server/http.h). docs/API.md describes every route with examples.
 *
 * Routes: catalog search, an artist's songs, one song and its similar songs, the model's
 * description, recommendations for ratings sent in the body and/or a stored profile,
 * profiles (create, read, replace, delete; ratings, blocks, history upload, exported
 * recommendations), /healthz, /metrics (Prometheus) and a small JSON pointer at "/".
 *
 * Errors: every failure is a 4xx/5xx JSON answer {"error": {"status", "message"}} whose
 * message says what is wrong ("ratings[3]: rating 11 is outside the model's scale
 * 1..10"). Client mistakes are 400 (bad JSON, a bad field, a number out of range), 404
 * (an unknown token — a malformed one too —, song or artist in the path), 409 (a
 * profile at its limit of ratings or blocks), 413 (a body over its limit); 5xx answers
 * carry a generic message and the details go to the log.
 *
 * Profiles keep ratings by artist + track strings (they survive a retrained model); the
 * handlers map them to catalog songs with the catalog's exact lookup each time they are
 * used, and report the ones that do not map instead of failing.
 *
 * Threads: handlers run on the server's threads at once. The engine is read-only and the
 * profile store is thread-safe, so the API itself holds no lock. The log hook is called
 * from several threads at once: it must be thread-safe.
 *
 * Ownership: sr_api_start borrows the engine, the profile store, the assets and the log's
 * user pointer; they must outlive the server (sr_api_stop).
 */
#ifndef SR_API_H
#define SR_API_H

#include <stddef.h>
#include <stdint.h>

#include "rec/engine.h"
#include "server/http.h"
#include "server/profiles.h"
#include "util/err.h"
#include "util/log.h"

#define SR_API_MAX_BODY ((size_t)64 << 10) /* bytes of a JSON request body */
/* bytes of a whole profile's body (POST /api/profiles, PUT): its 1,000 ratings with names
 * of up to SR_PROFILES_NAME_MAX bytes each fit */
#define SR_API_PROFILE_MAX ((size_t)3 << 20)
#define SR_API_HISTORY_MAX ((size_t)32 << 20) /* bytes of an uploaded history */
#define SR_API_MAX_RATINGS 1000               /* ratings in one request */
#define SR_API_MAX_BLOCKED 1000               /* ids in blocked_songs, blocked_artists */

typedef struct sr_api_config {
    const sr_engine *engine;     /* borrowed; must have a catalog (engine->cat) */
    sr_profiles *profiles;       /* borrowed */
    const char *bind;            /* address to listen on; NULL: 127.0.0.1 */
    uint16_t port;               /* 0: any free port (sr_api_port) */
    unsigned threads;            /* server threads; 0: the HTTP core's default */
    sr_http_limits limits;       /* connections, timeouts, request rate; zeros: defaults */
    const char *tmp_dir;         /* where uploads are spooled; NULL: $TMPDIR, else /tmp */
    const sr_http_asset *assets; /* static files (the web page), borrowed; may be NULL */
    size_t n_assets;
    const sr_log *log; /* optional; copied (its user pointer is borrowed) */
    /* Optional: a directory with the JSON that `songrec stats --json`, `evaluate --json`
     * and `gridsearch --json` wrote (stats.json, evaluate.json, gridsearch.json; each
     * optional) for GET /api/about; NULL: none. */
    const char *about_dir;
} sr_api_config;

typedef struct sr_api sr_api;

/* Starts the server with the API's routes. SR_E_USAGE for an engine without a catalog,
 * else what sr_http_start returns (SR_E_IO when the port is taken, ...), with words in
 * d. Returns new in *out; stop and free with sr_api_stop. */
sr_err sr_api_start(const sr_api_config *cfg, sr_api **out, sr_diag *d);
/* The port the server listens on. */
uint16_t sr_api_port(const sr_api *a);
/* Graceful stop (sr_http_stop: waits for the requests in flight), then frees a. NULL is
 * a no-op. The engine and the profile store are the caller's to close afterwards. */
void sr_api_stop(sr_api *a);

#endif
