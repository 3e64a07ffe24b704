/* Shared-private: the API's route handlers (api.c) run on a request made in memory —
 * no socket, no HTTP core — over the same engine and profile store a server has. For
 * the fuzz targets (tests/fuzz/fuzz_api_body.c, fuzz_api_query.c) and tests; the server
 * itself never uses it.
 *
 * What the HTTP core does before a handler runs (http.h: split the target at '?',
 * percent-decode the path segments and query pairs, refuse bad escapes, %00 and
 * invalid UTF-8, match the route, limit the body) is the caller's: sr_api_local takes
 * a request in the decoded form a handler sees, so the caller must hand it only what
 * the core would let through. A handler then sees exactly what it sees in a server:
 * its captures through sr_http_param's stand-in, its query through sr_http_query's
 * (api.c's param() and query() dispatch on sr_http_req.conn_, which the core always
 * sets and a local request leaves NULL).
 *
 * Ownership: everything an sr_api_local_req points to is borrowed for the call; the
 * answer's body in res is the caller's to free (sr_buf_free).
 */
#ifndef SR_API_PARSE_H
#define SR_API_PARSE_H

#include <stddef.h>

#include "server/api.h"

/* The route table, in the order the server scans it (*n entries). The first is "/",
 * which the server leaves out when it serves a web page. */
const sr_http_route *sr_api_routes(size_t *n);

/* Sets up the API over cfg's engine and profile store as sr_api_start does (the same
 * checks, --about files and starter songs), without starting a server: bind, port,
 * threads and assets are ignored, and /metrics answers an empty text. Free with
 * sr_api_stop. */
sr_err sr_api_open_local(const sr_api_config *cfg, sr_api **out, sr_diag *d);

/* A request as a handler sees it, already decoded (NUL-terminated, valid UTF-8). */
typedef struct sr_api_local_req {
    const sr_http_route *route; /* one of sr_api_routes' entries */
    const char *const *params;  /* (n_params) captures in pattern order, non-empty */
    size_t n_params;            /* the pattern's number of captures */
    const char *const *qkeys;   /* (n_query) query keys, in request order */
    const char *const *qvalues; /* (n_query) their values ("" for "?k") */
    size_t n_query;             /* at most SR_HTTP_MAX_QUERY */
    const char *body;           /* (body_len) bytes followed by a NUL; NULL: none */
    size_t body_len;
} sr_api_local_req;

/* Runs r's route handler on a (as the server's thread would) and leaves the answer in
 * res, which must start zeroed (body SR_BUF_INIT). A status still 0 afterwards is what
 * the server turns into 500. SR_E_USAGE, running nothing, when r->route is not in the
 * table or n_params / n_query do not fit it. */
sr_err sr_api_local(sr_api *a, const sr_api_local_req *r, sr_http_res *res);

#endif
