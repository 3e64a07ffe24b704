/* The HTTP core of `songrec serve`: a libmicrohttpd server with a route table, static
 * assets, request bodies, JSON helpers, security headers and Prometheus metrics.
 *
 * What it does for a request, in order:
 *   1. a client over its request rate (limits.rate, per IPv4 address or IPv6 /64) gets
 *      429 with Retry-After, before anything else is looked at;
 *   2. the raw request target is split at '?'; the path must start with '/', every
 *      %XX must be two hex digits, decode to a non-NUL byte, and each decoded path
 *      segment and query key/value must be valid UTF-8 — otherwise 400;
 *   3. the route table is scanned in order; a route matches when its pattern has as
 *      many segments as the path and every literal segment equals the decoded path
 *      segment ({name} matches any non-empty segment, %2F included). The first route
 *      that matches path and method wins (HEAD also matches GET routes). A path that
 *      matches only with other methods gets 405 and an Allow header, whatever the
 *      method (PATCH, OPTIONS, ... included);
 *   4. otherwise GET/HEAD look the path up in the asset table ("/" means "/index.html")
 *      with ETag / If-None-Match → 304; other methods on an asset path get 405; on no
 *      path at all GET/HEAD/POST/PUT/DELETE get 404 and any other method 501;
 *   5. a Content-Length above the route's max_body gets 413 at once, before the body
 *      is read (the connection is then closed). A chunked body that outgrows max_body
 *      is read on and thrown away up to 1 MiB more, then answered 413; past that the
 *      connection is dropped without an answer;
 *   6. the handler runs once the whole body is in, on one of the server's threads.
 * Every answer — the handler's, an error, an asset — carries the security headers
 * (Content-Security-Policy, X-Content-Type-Options, Referrer-Policy, X-Frame-Options);
 * route answers and errors carry Cache-Control: no-store unless the handler set its
 * own. Errors the core produces are JSON: {"error":{"status":404,"message":"..."}}.
 * Only libmicrohttpd's own refusals of broken HTTP (a header block over the memory
 * limit → 431, a malformed request line → 400) come without them: they are sent
 * before any request reaches this module.
 *
 * Slow clients (sr_http_limits): a request line and headers must arrive within
 * header_timeout_s of the connection opening or of the previous answer being sent (so it
 * is also how long a keep-alive connection may sit idle); a body, and the reading of an
 * answer, must average min_rate bytes/s after a grace of header_timeout_s. A watchdog
 * thread shuts down connections past their deadline (a trickle of one byte every few
 * seconds never trips libmicrohttpd's idle timeout, which restarts with every byte).
 *
 * Threads: a pool of `threads` event-loop threads (libmicrohttpd's thread pool). A
 * connection stays on the thread that accepted it, and its handler runs on that
 * thread, so handlers run concurrently and the ctx they share must be thread-safe.
 *
 * Ownership: sr_http_start copies the route patterns and names and the asset paths
 * and types; asset bytes, the ctx and the sr_log's user pointer are borrowed and must
 * outlive the server. A handler's sr_http_req and everything it points to are valid
 * only during the call. Signals are not handled here: the caller waits for one and
 * calls sr_http_stop.
 */
#ifndef SR_HTTP_H
#define SR_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#define SR_HTTP_MAX_PARAMS      8    /* captures in one pattern */
#define SR_HTTP_MAX_SEGMENTS    32   /* path segments; a deeper path is 404 */
#define SR_HTTP_MAX_QUERY       64   /* query parameters; more is 400 */
#define SR_HTTP_MAX_HEADERS     8    /* extra response headers a handler may add */
#define SR_HTTP_HEADER_NAME_MAX 64   /* bytes, NUL included */
#define SR_HTTP_HEADER_MAX      1024 /* bytes of a header value, NUL included */
#define SR_HTTP_TYPE_MAX        128  /* bytes of a content type, NUL included */

#define SR_HTTP_JSON_TYPE "application/json; charset=utf-8"

typedef enum sr_http_method {
    SR_HTTP_GET,
    SR_HTTP_HEAD, /* never in a route: GET routes answer HEAD */
    SR_HTTP_POST,
    SR_HTTP_PUT,
    SR_HTTP_DELETE,
    SR_HTTP__N_METHODS
} sr_http_method;

typedef struct sr_http sr_http;
typedef struct sr__http_conn sr__http_conn;

/* What a handler gets. Strings are NUL-terminated and valid UTF-8 (the body is just
 * bytes, NUL-terminated for convenience). */
typedef struct sr_http_req {
    sr_http_method method; /* SR_HTTP_HEAD when a GET route answers a HEAD */
    const char *path;      /* as sent, still percent-encoded, without the query */
    const char *route;     /* the route's name */
    size_t n_params;
    const char *const *params; /* (n_params) decoded captures, in pattern order */
    const char *body;          /* (body_len) bytes; "" when there is none */
    size_t body_len;
    sr__http_conn *conn_; /* private */
} sr_http_req;

typedef struct sr_http_header {
    char name[SR_HTTP_HEADER_NAME_MAX];
    char value[SR_HTTP_HEADER_MAX];
} sr_http_header;

/* What a handler fills: status (0 until set; left 0 it becomes 500), a content type,
 * a body and a few extra headers. Use the helpers below rather than the fields. */
typedef struct sr_http_res {
    int status;
    char content_type[SR_HTTP_TYPE_MAX];
    sr_buf body;
    size_t n_headers;
    sr_http_header headers[SR_HTTP_MAX_HEADERS];
} sr_http_res;

typedef void (*sr_http_handler)(void *ctx, const sr_http_req *req, sr_http_res *res);

typedef struct sr_http_route {
    sr_http_method method; /* GET, POST, PUT or DELETE */
    const char *pattern;   /* "/api/songs/{id}/similar": {name} captures one segment */
    sr_http_handler handler;
    const char *name; /* metrics label, [A-Za-z0-9_.-]; NULL: the pattern */
    size_t max_body;  /* bytes; 0: the server's default */
} sr_http_route;

typedef struct sr_http_asset {
    const char *path;         /* "/index.html", "/app.js" */
    const char *content_type; /* "text/html; charset=utf-8" */
    const void *data;         /* (len) bytes, borrowed */
    size_t len;
} sr_http_asset;

#define SR_HTTP_NO_RATE_LIMIT   (-1.0) /* sr_http_limits.rate: no request-rate limit */
#define SR_HTTP_MAX_CONNECTIONS 16384u /* the default connection limit */
#define SR_HTTP_FD_RESERVE      256u   /* descriptors kept out of the connection limit */

/* What one connection or client may take. Zero means "the default" for every field, so
 * `sr_http_limits l = {0}` is the defaults (docs/SECURITY.md explains them). */
typedef struct sr_http_limits {
    unsigned timeout_s;        /* idle connection timeout (no byte either way); 0: 30 */
    unsigned header_timeout_s; /* see "Slow clients" above; 0: 15 */
    unsigned min_rate;         /* bytes/s a body or an answer must average; 0: 1024 */
    /* Open connections; 0: SR_HTTP_MAX_CONNECTIONS. Capped at RLIMIT_NOFILE's soft limit
     * (read at start) less SR_HTTP_FD_RESERVE descriptors for the store, uploads and the
     * event loops. Shared out evenly among the threads; past it new connections wait in
     * the listen queue. */
    unsigned max_connections;
    unsigned max_per_ip; /* concurrent connections from one address; 0: 64 */
    /* Memory per connection for the request line, headers and read buffer; a header
     * block that does not fit is refused with 431. 0: 32 KiB (headers up to ~16 KiB). */
    size_t conn_memory;
    /* Requests per second per client (an IPv4 address, an IPv6 /64), a token bucket of
     * `burst` requests; 0: 50; SR_HTTP_NO_RATE_LIMIT (any negative): none. */
    double rate;
    unsigned burst;        /* 0: 2 x rate (at least 1) */
    unsigned rate_clients; /* clients the rate table holds (fixed memory); 0: 16384 */
} sr_http_limits;

/* Zero means "the default" for every number, so `sr_http_config c = {0}` works. */
typedef struct sr_http_config {
    const char *bind; /* IPv4 or IPv6 literal; NULL: "127.0.0.1"; "0.0.0.0" for all */
    uint16_t port;    /* 0: any free port (see sr_http_port) */
    /* Event-loop threads; 0: 2 x online CPUs, clamped to [2, 64]. Handlers run on these
     * threads and a connection never moves, so one slow handler stalls the other
     * connections of its thread: twice the cores keeps the CPUs busy while some threads
     * wait in a slow handler, and costs only a stack and an epoll set each. */
    unsigned threads;
    sr_http_limits limits;
    size_t max_body;       /* default request body limit; 0: 64 KiB */
    unsigned stop_wait_ms; /* how long sr_http_stop waits for requests; 0: 10000 */
    const sr_http_route *routes;
    size_t n_routes;
    const sr_http_asset *assets;
    size_t n_assets;
    void *ctx; /* handed to every handler */
    /* Optional; copied (its user pointer is borrowed). Its message hook is called from
     * the server's threads. */
    const sr_log *log;
} sr_http_config;

/* Checks cfg, binds and starts the threads. Returns SR_OK and *out, or SR_E_USAGE (a
 * bad address, pattern, route or limit), SR_E_IO (cannot listen: the port is taken, ...)
 * or SR_E_NOMEM, with words in d. */
sr_err sr_http_start(const sr_http_config *cfg, sr_http **out, sr_diag *d);
/* The port the server listens on (the one chosen when cfg->port was 0). */
uint16_t sr_http_port(const sr_http *h);
/* Graceful stop: stops accepting, waits up to stop_wait_ms for the requests being
 * received, handled or sent to finish, closes the rest, then frees h. A handler still
 * running after the wait is waited for (threads are joined, never killed). NULL is a
 * no-op. Call it from a thread that is not one of the server's (not from a handler). */
void sr_http_stop(sr_http *h);
/* Appends the metrics in Prometheus text format (version 0.0.4): request counts by
 * route and status class, a latency histogram by route, requests in flight, open
 * connections and their limit, aborted requests, requests refused for their rate (429)
 * and connections cut for being too slow. Safe from any thread, including a handler. */
void sr_http_metrics_text(sr_http *h, sr_buf *out);

/* ---- for handlers ---------------------------------------------------------------- */

/* The decoded capture {name} of the matched pattern, or NULL. */
const char *sr_http_param(const sr_http_req *req, const char *name);
/* The decoded value of the first query parameter key ('+' is a space; "?k" gives ""),
 * or NULL when absent. */
const char *sr_http_query(const sr_http_req *req, const char *key);
/* The i-th query parameter (in order); false when i is past the last. */
bool sr_http_query_at(const sr_http_req *req, size_t i, const char **key, const char **value);
/* A request header (name case-insensitive), or NULL. */
const char *sr_http_header_get(const sr_http_req *req, const char *name);

/* Sets the content type (copied). SR_E_LIMIT when too long, SR_E_INPUT when it holds
 * control characters. */
sr_err sr_http_set_type(sr_http_res *res, const char *content_type);
/* Adds a response header (copied). SR_E_LIMIT when full or too long; SR_E_INPUT for a
 * name that is not an HTTP token or that the server owns (Content-Length,
 * Transfer-Encoding, Connection, Date), or a value with control characters. Setting
 * Cache-Control or one of the security headers replaces the server's default. */
sr_err sr_http_add_header(sr_http_res *res, const char *name, const char *value);
/* Status, type (NULL: none) and a copy of the bytes as the body. */
void sr_http_body(sr_http_res *res, int status, const char *content_type, const void *data,
                  size_t len);
/* Status and v serialised as the JSON body; takes the reference (v is decref'd). A
 * NULL v (a failed json_pack) gives 500. */
void sr_http_json(sr_http_res *res, int status, json_t *v);
/* {"error":{"status":status,"message":"..."}} with the printf-style message (bytes that
 * are not valid UTF-8 become '?'). Replaces whatever the handler had written. */
void sr_http_error(sr_http_res *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The method's name ("GET"), or "?" for an unknown value. */
const char *sr_http_method_name(sr_http_method m);

#endif
