/* Unit tests for server/http: a real server on 127.0.0.1 port 0 with toy routes and
 * assets, driven by the raw-socket client in http_client.h.
 *
 * The toy routes (in this order, so the literal /api/songs/search wins over the
 * capture below it):
 *   GET    /api/songs/{id}/similar  "id=<id>|n=<n>|q=<q>" as text/plain
 *   GET    /api/songs/search        "search"
 *   GET    /api/songs/{id}          "song <id>"
 *   DELETE /api/songs/{id}          204, no body
 *   POST   /api/echo, PUT /api/echo the body back, application/octet-stream
 *   POST   /api/small               the body back; max_body 16
 *   GET    /api/json                {"ok":true}
 *   GET    /api/query               every query pair "k=v;" in order, then
 *                                   "first_a=<a>;none=<NULL or not>"
 *   GET    /api/nostatus            writes a body, leaves the status 0 (→ 500)
 *   GET    /api/download            text/csv with Content-Disposition and its own
 *                                   Cache-Control
 *   GET    /api/header              the request's X-Test header
 *   GET    /api/slow                sleeps slow_ms, then 200000 bytes 'a'..'z' repeated
 *   GET    /metrics                 sr_http_metrics_text
 * Assets: /index.html (served for "/" too) and /app.js.
 *
 * The hostile-client tests speak from many loopback addresses (127.x.y.z), each its own
 * client to the rate limit and the per-address connection limit; the slow-client ones
 * shorten the header timeout to 1 s.
 *
 * Set SONGREC_HTTP_BENCH=1 to print the requests/s of the trivial JSON route.
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cmocka.h>

#include "http_client.h"
#include "server/http.h"
#include "util/mem.h"

#define SLOW_BODY 200000

typedef struct toy {
    sr_http *h;
    int slow_ms;
    atomic_int slow_started;
} toy;

static const char INDEX_HTML[] = "<!doctype html><title>t</title><script src=\"/app.js\"></script>";
static const char APP_JS[] = "console.log('songrec');\n";

static uint64_t ms_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- toy handlers ----------------------------------------------------------------- */

static void text(sr_http_res *res, const char *s) {
    sr_http_body(res, 200, "text/plain; charset=utf-8", s, strlen(s));
}

static void h_similar(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const char *n = sr_http_query(req, "n"), *q = sr_http_query(req, "q");
    char out[512];
    snprintf(out, sizeof out, "id=%s|n=%s|q=%s", sr_http_param(req, "id"), n ? n : "-",
             q ? q : "-");
    text(res, out);
}

static void h_search(void *ctx, const sr_http_req *req, sr_http_res *res) {
    text(res, "search");
}

static void h_song(void *ctx, const sr_http_req *req, sr_http_res *res) {
    char out[512];
    snprintf(out, sizeof out, "song %s", req->params[0]);
    text(res, out);
}

static void h_delete(void *ctx, const sr_http_req *req, sr_http_res *res) {
    res->status = 204;
}

static void h_echo(void *ctx, const sr_http_req *req, sr_http_res *res) {
    sr_http_body(res, 200, "application/octet-stream", req->body, req->body_len);
}

static void h_json(void *ctx, const sr_http_req *req, sr_http_res *res) {
    sr_http_json(res, 200, json_pack("{s:b}", "ok", 1));
}

static void h_query(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const char *k, *v;
    for (size_t i = 0; sr_http_query_at(req, i, &k, &v); i++) {
        sr_buf_printf(&res->body, "%s=%s;", k, v);
    }
    const char *a = sr_http_query(req, "a");
    sr_buf_printf(&res->body, "first_a=%s;none=%s", a ? a : "NULL",
                  sr_http_query(req, "none") ? "found" : "NULL");
    res->status = 200;
    sr_http_set_type(res, "text/plain");
}

static void h_nostatus(void *ctx, const sr_http_req *req, sr_http_res *res) {
    sr_buf_adds(&res->body, "forgot the status");
}

static void h_download(void *ctx, const sr_http_req *req, sr_http_res *res) {
    sr_http_body(res, 200, "text/csv", "a,b\n1,2\n", 8);
    assert_int_equal(
        sr_http_add_header(res, "Content-Disposition", "attachment; filename=\"x.csv\""), SR_OK);
    assert_int_equal(sr_http_add_header(res, "Cache-Control", "max-age=60"), SR_OK);
}

static void h_header(void *ctx, const sr_http_req *req, sr_http_res *res) {
    const char *v = sr_http_header_get(req, "x-test");
    text(res, v ? v : "NULL");
}

static void h_slow(void *ctx, const sr_http_req *req, sr_http_res *res) {
    toy *t = ctx;
    atomic_store(&t->slow_started, 1);
    sleep_ms(t->slow_ms);
    if (!sr_buf_reserve(&res->body, SLOW_BODY)) return;
    for (size_t i = 0; i < SLOW_BODY; i++) res->body.p[i] = (char)('a' + i % 26);
    res->body.n = SLOW_BODY;
    res->body.p[SLOW_BODY] = 0;
    res->status = 200;
    sr_http_set_type(res, "text/plain");
}

static void h_metrics(void *ctx, const sr_http_req *req, sr_http_res *res) {
    toy *t = ctx;
    sr_http_metrics_text(t->h, &res->body);
    res->status = 200;
    sr_http_set_type(res, "text/plain; version=0.0.4");
}

static const sr_http_route ROUTES[] = {
    {SR_HTTP_GET, "/api/songs/{id}/similar", h_similar, "similar", 0},
    {SR_HTTP_GET, "/api/songs/search", h_search, "search", 0},
    {SR_HTTP_GET, "/api/songs/{id}", h_song, "song", 0},
    {SR_HTTP_DELETE, "/api/songs/{id}", h_delete, "song", 0},
    {SR_HTTP_POST, "/api/echo", h_echo, "echo", 0},
    {SR_HTTP_PUT, "/api/echo", h_echo, "echo", 0},
    {SR_HTTP_POST, "/api/small", h_echo, "small", 16},
    {SR_HTTP_GET, "/api/json", h_json, "json", 0},
    {SR_HTTP_GET, "/api/query", h_query, "query", 0},
    {SR_HTTP_GET, "/api/nostatus", h_nostatus, "nostatus", 0},
    {SR_HTTP_GET, "/api/download", h_download, "download", 0},
    {SR_HTTP_GET, "/api/header", h_header, "header", 0},
    {SR_HTTP_GET, "/api/slow", h_slow, "slow", 0},
    {SR_HTTP_GET, "/metrics", h_metrics, "metrics", 0},
};

static const sr_http_asset ASSETS[] = {
    {"/index.html", "text/html; charset=utf-8", INDEX_HTML, sizeof INDEX_HTML - 1},
    {"/app.js", "text/javascript; charset=utf-8", APP_JS, sizeof APP_JS - 1},
};

static sr_http_config toy_config(toy *t) {
    sr_http_config c;
    memset(&c, 0, sizeof c);
    c.routes = ROUTES;
    c.n_routes = sizeof ROUTES / sizeof ROUTES[0];
    c.assets = ASSETS;
    c.n_assets = sizeof ASSETS / sizeof ASSETS[0];
    c.ctx = t;
    c.threads = 2;
    c.limits.rate = SR_HTTP_NO_RATE_LIMIT; /* test_rate_limit turns it on */
    return c;
}

static uint16_t start_with(toy *t, sr_http_config *c) {
    sr_diag d = {{0}};
    sr_err e = sr_http_start(c, &t->h, &d);
    if (e) fail_msg("sr_http_start: %s", d.msg);
    uint16_t port = sr_http_port(t->h);
    assert_true(port != 0);
    return port;
}

static uint16_t start_toy(toy *t) {
    memset(t, 0, sizeof *t);
    sr_http_config c = toy_config(t);
    return start_with(t, &c);
}

/* One request on a fresh connection; fails the test when no response comes. */
static void req(uint16_t port, const char *raw, hc_resp *r) {
    if (hc_request(port, raw, strlen(raw), r) != 0) fail_msg("no response to: %s", raw);
}

static void get(uint16_t port, const char *path, hc_resp *r) {
    if (hc_get(port, path, r) != 0) fail_msg("no response to GET %s", path);
}

static void expect_get(uint16_t port, const char *path, int status, const char *body) {
    hc_resp r;
    get(port, path, &r);
    if (r.status != status) fail_msg("GET %s: status %d, expected %d", path, r.status, status);
    if (body) assert_string_equal(r.body, body);
    hc_resp_free(&r);
}

/* The JSON error body: {"error":{"status":status,"message":"..."}} and nothing else. */
static void expect_error_json(const hc_resp *r, int status) {
    assert_int_equal(r->status, status);
    assert_string_equal(hc_header(r, "Content-Type"), SR_HTTP_JSON_TYPE);
    json_error_t err;
    json_t *v = json_loadb(r->body, r->body_len, 0, &err);
    assert_non_null(v);
    assert_int_equal(json_object_size(v), 1);
    json_t *e = json_object_get(v, "error");
    assert_non_null(e);
    assert_int_equal(json_object_size(e), 2);
    assert_int_equal(json_integer_value(json_object_get(e, "status")), status);
    const char *msg = json_string_value(json_object_get(e, "message"));
    assert_non_null(msg);
    assert_true(strlen(msg) > 0);
    json_decref(v);
}

/* ---- routing ---------------------------------------------------------------------- */

static void test_routing_captures(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    expect_get(port, "/api/songs/a%20b%2Fc/similar?n=5&q=hello+world%21", 200,
               "id=a b/c|n=5|q=hello world!");
    expect_get(port, "/api/songs/caf%C3%A9/similar", 200, "id=caf\xc3\xa9|n=-|q=-");
    expect_get(port, "/api/songs/42", 200, "song 42");
    expect_get(port, "/api/songs/search", 200, "search");
    expect_get(port, "/api/songs/s%65arch", 200, "search"); /* literals match decoded */
    expect_get(port, "/api/songs//similar", 404, NULL);     /* captures are non-empty */
    expect_get(port, "/api/songs/1/similar/", 404, NULL);
    expect_get(port, "/api/songs", 404, NULL);
    hc_resp r;
    get(port, "/api/songs/7/similar", &r);
    assert_string_equal(hc_header(&r, "Content-Type"), "text/plain; charset=utf-8");
    assert_string_equal(hc_header(&r, "Content-Length"), "12");
    hc_resp_free(&r);
    req(port, "DELETE /api/songs/7 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
    assert_int_equal(r.status, 204);
    hc_resp_free(&r);
    req(port,
        "GET /api/header HTTP/1.1\r\nHost: t\r\nX-Test: hi there\r\nConnection: close\r\n\r\n", &r);
    assert_string_equal(r.body, "hi there");
    hc_resp_free(&r);
    sr_http_stop(t.h);
}

static void test_not_found_json(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    hc_resp r;
    get(port, "/nope", &r);
    expect_error_json(&r, 404);
    assert_string_equal(hc_header(&r, "Cache-Control"), "no-store");
    hc_resp_free(&r);
    get(port, "/index.htm", &r);
    expect_error_json(&r, 404);
    hc_resp_free(&r);
    sr_http_stop(t.h);
}

static void expect_405(uint16_t port, const char *raw, const char *allow) {
    hc_resp r;
    req(port, raw, &r);
    expect_error_json(&r, 405);
    assert_string_equal(hc_header(&r, "Allow"), allow);
    hc_resp_free(&r);
}

static void test_method_not_allowed(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    expect_405(port, "POST /api/songs/1/similar HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
               "GET, HEAD");
    expect_405(port, "PUT /api/songs/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
               "GET, HEAD, DELETE");
    expect_405(port, "GET /api/echo HTTP/1.1\r\nHost: t\r\n\r\n", "POST, PUT");
    expect_405(port, "DELETE /index.html HTTP/1.1\r\nHost: t\r\n\r\n", "GET, HEAD");
    /* Methods none of the routes use: 405 with Allow on a path that exists (a route or
     * an asset), 501 on one that does not. */
    expect_405(port, "PATCH /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
               "POST, PUT");
    expect_405(port, "OPTIONS /api/songs/1 HTTP/1.1\r\nHost: t\r\n\r\n", "GET, HEAD, DELETE");
    expect_405(port, "TRACE /api/json HTTP/1.1\r\nHost: t\r\n\r\n", "GET, HEAD");
    expect_405(port, "BREW / HTTP/1.1\r\nHost: t\r\n\r\n", "GET, HEAD");
    expect_405(port, "CONNECT /app.js HTTP/1.1\r\nHost: t\r\n\r\n", "GET, HEAD");
    hc_resp r;
    req(port, "PATCH /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", &r);
    expect_error_json(&r, 501);
    hc_resp_free(&r);
    req(port, "POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", &r);
    expect_error_json(&r, 404);
    hc_resp_free(&r);
    sr_http_stop(t.h);
}

static void test_bad_encoding(void **state) {
    static const char *const BAD[] = {
        "/api/songs/%00/similar",     "/api/songs/%zz/similar",
        "/api/songs/%4/similar",      "/api/songs/%/similar",
        "/api/songs/%ff/similar",     "/api/songs/%C0%AF/similar",
        "/api/songs/%ED%A0%80",       "/nope/%00",
        "/api/songs/1/similar?q=%zz", "/api/songs/1/similar?q=%00",
        "/api/query?%g1=2",           "/api/query?a=%e2%82",
    };
    toy t;
    uint16_t port = start_toy(&t);
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        hc_resp r;
        get(port, BAD[i], &r);
        if (r.status != 400) fail_msg("%s: status %d", BAD[i], r.status);
        expect_error_json(&r, 400);
        hc_resp_free(&r);
    }
    /* 64 query parameters are fine, 65 are not. */
    char path[1024] = "/api/query?";
    for (int i = 0; i < 64; i++) strcat(path, "k=v&");
    expect_get(port, path, 200, NULL);
    strcat(path, "k=v");
    expect_get(port, path, 400, NULL);
    /* A path deeper than SR_HTTP_MAX_SEGMENTS matches nothing. */
    char deep[256] = "";
    for (int i = 0; i < 40; i++) strcat(deep, "/a");
    expect_get(port, deep, 404, NULL);
    sr_http_stop(t.h);
}

static void test_query(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    expect_get(port, "/api/query?a=1&b=&c&a=2&sp=x+y%2Bz&&e%3D=%26", 200,
               "a=1;b=;c=;a=2;sp=x y+z;e==&;first_a=1;none=NULL");
    expect_get(port, "/api/query", 200, "first_a=NULL;none=NULL");
    expect_get(port, "/api/query?", 200, "first_a=NULL;none=NULL");
    sr_http_stop(t.h);
}

/* ---- bodies ----------------------------------------------------------------------- */

static void test_post_body(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    size_t n = 50000;
    char *body = malloc(n);
    assert_non_null(body);
    for (size_t i = 0; i < n; i++) body[i] = (char)((i * 7919u) >> 3); /* NULs included */
    const char *methods[] = {"POST", "PUT"};
    for (int m = 0; m < 2; m++) {
        hc_conn c;
        assert_true(hc_open(&c, port));
        char head[256];
        snprintf(head, sizeof head,
                 "%s /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", methods[m], n);
        assert_true(hc_sends(&c, head));
        assert_true(hc_send(&c, body, n));
        hc_resp r;
        assert_int_equal(hc_read(&c, false, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, n);
        assert_memory_equal(r.body, body, n);
        assert_string_equal(hc_header(&r, "Content-Type"), "application/octet-stream");
        hc_resp_free(&r);
        hc_close(&c);
    }
    free(body);
    /* A chunked body (with a NUL in it) arrives joined. */
    hc_resp r;
    static const char chunked[] = "POST /api/echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n"
                                  "3\r\nabc\r\n4\r\n\0def\r\na\r\n0123456789\r\n0\r\n\r\n";
    assert_int_equal(hc_request(port, chunked, sizeof chunked - 1, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 17);
    assert_memory_equal(r.body, "abc\0def0123456789", 17);
    hc_resp_free(&r);
    req(port, "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(hc_header(&r, "Content-Length"), "0");
    hc_resp_free(&r);
    sr_http_stop(t.h);
}

static void send_chunks(hc_conn *c, size_t chunk, size_t count) {
    char *data = malloc(chunk);
    assert_non_null(data);
    memset(data, 'x', chunk);
    char line[32];
    snprintf(line, sizeof line, "%zx\r\n", chunk);
    for (size_t i = 0; i < count; i++) {
        if (!hc_sends(c, line) || !hc_send(c, data, chunk) || !hc_sends(c, "\r\n")) break;
    }
    free(data);
}

static void test_too_large(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    hc_resp r;
    /* By Content-Length: the answer comes before any body byte is sent. */
    hc_conn c;
    assert_true(hc_open(&c, port));
    assert_true(
        hc_sends(&c, "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 70000\r\n\r\n"));
    assert_int_equal(hc_read(&c, false, &r), 0);
    expect_error_json(&r, 413);
    assert_true(hc_closed(&c));
    hc_resp_free(&r);
    hc_close(&c);
    /* Expect: 100-continue gets 413, not 100. */
    req(port,
        "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 65537\r\nExpect: "
        "100-continue\r\n\r\n",
        &r);
    expect_error_json(&r, 413);
    hc_resp_free(&r);
    /* The route's own limit: 16 bytes pass, 17 do not. */
    req(port, "POST /api/small HTTP/1.1\r\nHost: t\r\nContent-Length: 16\r\n\r\n0123456789abcdef",
        &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "0123456789abcdef");
    hc_resp_free(&r);
    req(port, "POST /api/small HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n0123456789abcdefg",
        &r);
    expect_error_json(&r, 413);
    hc_resp_free(&r);
    /* Chunked growth past the limit: 10 + 10 bytes to a 16-byte route, 2 x 40 KiB to the
     * 64 KiB default. */
    req(port,
        "POST /api/small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
        &r);
    expect_error_json(&r, 413);
    hc_resp_free(&r);
    assert_true(hc_open(&c, port));
    assert_true(
        hc_sends(&c, "POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
    send_chunks(&c, 40960, 2);
    assert_true(hc_sends(&c, "0\r\n\r\n"));
    assert_int_equal(hc_read(&c, false, &r), 0);
    expect_error_json(&r, 413);
    hc_resp_free(&r);
    hc_close(&c);
    /* A chunked body that never ends is cut off (no answer) after 1 MiB of draining. */
    assert_true(hc_open(&c, port));
    assert_true(
        hc_sends(&c, "POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
    send_chunks(&c, 65536, 40);
    assert_int_not_equal(hc_read(&c, false, &r), 0);
    hc_resp_free(&r);
    hc_close(&c);
    expect_get(port, "/api/json", 200, "{\"ok\":true}"); /* still serving */
    sr_http_stop(t.h);
}

/* ---- assets ----------------------------------------------------------------------- */

static void test_assets(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    hc_resp r;
    get(port, "/", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, INDEX_HTML);
    assert_string_equal(hc_header(&r, "Content-Type"), "text/html; charset=utf-8");
    assert_string_equal(hc_header(&r, "Cache-Control"), "no-cache");
    hc_resp_free(&r);
    expect_get(port, "/index.html", 200, INDEX_HTML);

    /* HEAD then GET on one connection: HEAD sends no body bytes, or the GET's response
     * would not parse. */
    hc_conn c;
    assert_true(hc_open(&c, port));
    assert_true(hc_sends(&c, "HEAD /app.js HTTP/1.1\r\nHost: t\r\n\r\n"));
    assert_int_equal(hc_read(&c, true, &r), 0);
    assert_int_equal(r.status, 200);
    char len[32];
    snprintf(len, sizeof len, "%zu", sizeof APP_JS - 1);
    assert_string_equal(hc_header(&r, "Content-Length"), len);
    assert_int_equal(r.body_len, 0);
    char etag[64];
    assert_non_null(hc_header(&r, "ETag"));
    snprintf(etag, sizeof etag, "%s", hc_header(&r, "ETag"));
    assert_int_equal(strlen(etag), 18); /* "\"" 16 hex "\"" */
    hc_resp_free(&r);
    assert_true(hc_sends(&c, "GET /app.js HTTP/1.1\r\nHost: t\r\n\r\n"));
    assert_int_equal(hc_read(&c, false, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, APP_JS);
    assert_string_equal(hc_header(&r, "Content-Type"), "text/javascript; charset=utf-8");
    assert_string_equal(hc_header(&r, "ETag"), etag);
    hc_resp_free(&r);

    /* If-None-Match: the tag, a weak tag, a list holding it, "*" → 304; another → 200. */
    const char *inm[] = {etag, NULL, NULL, "*", "\"0000000000000000\""};
    char weak[80], list[160];
    snprintf(weak, sizeof weak, "W/%s", etag);
    snprintf(list, sizeof list, "\"abc\", %s", etag);
    inm[1] = weak;
    inm[2] = list;
    for (int i = 0; i < 5; i++) {
        char raw[512];
        snprintf(raw, sizeof raw, "GET /app.js HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\n\r\n",
                 inm[i]);
        assert_true(hc_sends(&c, raw));
        assert_int_equal(hc_read(&c, false, &r), 0);
        assert_int_equal(r.status, i < 4 ? 304 : 200);
        assert_string_equal(hc_header(&r, "ETag"), etag);
        assert_int_equal(r.body_len, i < 4 ? 0 : sizeof APP_JS - 1);
        hc_resp_free(&r);
    }
    hc_close(&c);

    /* HEAD of a GET route: the GET's length, no body. */
    get(port, "/api/songs/7/similar", &r);
    char get_len[32];
    snprintf(get_len, sizeof get_len, "%s", hc_header(&r, "Content-Length"));
    hc_resp_free(&r);
    req(port, "HEAD /api/songs/7/similar HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hc_header(&r, "Content-Length"), get_len);
    assert_int_equal(r.body_len, 0);
    hc_resp_free(&r);
    sr_http_stop(t.h);
}

/* ---- headers and helpers ---------------------------------------------------------- */

static void expect_security(const hc_resp *r, const char *what) {
    const char *csp = hc_header(r, "Content-Security-Policy");
    if (!csp || strncmp(csp, "default-src 'self'; script-src 'self'", 37) ||
        !strstr(csp, "frame-ancestors 'none'") || strstr(csp, "unsafe"))
        fail_msg("%s: CSP %s", what, csp ? csp : "missing");
    const char *want[][2] = {{"X-Content-Type-Options", "nosniff"},
                             {"Referrer-Policy", "no-referrer"},
                             {"X-Frame-Options", "DENY"}};
    for (int i = 0; i < 3; i++) {
        const char *v = hc_header(r, want[i][0]);
        if (!v || strcmp(v, want[i][1])) fail_msg("%s: %s is %s", what, want[i][0], v ? v : "-");
    }
}

static void test_security_headers(void **state) {
    static const char *const RAW[] = {
        "GET /api/json HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /api/json HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
        "GET /api/songs/%zz HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /api/small HTTP/1.1\r\nHost: t\r\nContent-Length: 99\r\n\r\n",
        "OPTIONS / HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\n\r\n",
        "HEAD /app.js HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /app.js HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\n\r\n",
        "GET /api/nostatus HTTP/1.1\r\nHost: t\r\n\r\n",
        "DELETE /api/songs/1 HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /api/download HTTP/1.1\r\nHost: t\r\n\r\n",
    };
    static const int STATUS[] = {200, 404, 405, 400, 413, 405, 200, 200, 304, 500, 204, 200};
    toy t;
    uint16_t port = start_toy(&t);
    for (size_t i = 0; i < sizeof RAW / sizeof RAW[0]; i++) {
        hc_resp r;
        req(port, RAW[i], &r);
        if (r.status != STATUS[i]) fail_msg("%s: status %d", RAW[i], r.status);
        expect_security(&r, RAW[i]);
        bool api = i < 6 || i >= 9;
        const char *cache = hc_header(&r, "Cache-Control");
        assert_non_null(cache);
        assert_string_equal(cache, i == 11 ? "max-age=60" : api ? "no-store" : "no-cache");
        hc_resp_free(&r);
    }
    hc_resp r;
    get(port, "/api/json", &r);
    assert_string_equal(hc_header(&r, "Content-Type"), "application/json; charset=utf-8");
    assert_string_equal(r.body, "{\"ok\":true}");
    hc_resp_free(&r);
    get(port, "/api/download", &r);
    assert_string_equal(hc_header(&r, "Content-Disposition"), "attachment; filename=\"x.csv\"");
    assert_string_equal(hc_header(&r, "Content-Type"), "text/csv");
    int n_cache = 0;
    for (size_t i = 0; i < r.n_headers; i++) n_cache += !strcasecmp(r.names[i], "Cache-Control");
    assert_int_equal(n_cache, 1);
    hc_resp_free(&r);
    get(port, "/api/nostatus", &r);
    expect_error_json(&r, 500);
    hc_resp_free(&r);
    sr_http_stop(t.h);
}

static void test_response_helpers(void **state) {
    sr_http_res res;
    memset(&res, 0, sizeof res);
    assert_int_equal(sr_http_add_header(&res, "X-A", "1\r\nSet-Cookie: x"), SR_E_INPUT);
    assert_int_equal(sr_http_add_header(&res, "Bad Name", "1"), SR_E_INPUT);
    assert_int_equal(sr_http_add_header(&res, "", "1"), SR_E_INPUT);
    assert_int_equal(sr_http_add_header(&res, "content-length", "5"), SR_E_INPUT);
    assert_int_equal(sr_http_add_header(&res, "Connection", "close"), SR_E_INPUT);
    assert_int_equal(sr_http_add_header(&res, "Content-Type", "text/csv"), SR_OK);
    assert_string_equal(res.content_type, "text/csv");
    assert_int_equal(res.n_headers, 0);
    char big[SR_HTTP_HEADER_MAX + 1];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(sr_http_add_header(&res, "X-Big", big), SR_E_LIMIT);
    for (int i = 0; i < SR_HTTP_MAX_HEADERS; i++) {
        assert_int_equal(sr_http_add_header(&res, "X-N", "tab\tok"), SR_OK);
    }
    assert_int_equal(sr_http_add_header(&res, "X-N", "one more"), SR_E_LIMIT);
    assert_int_equal(sr_http_set_type(&res, "text/plain\n"), SR_E_INPUT);

    sr_http_error(&res, 400, "bad %s %d", "thing", 7);
    assert_int_equal(res.status, 400);
    assert_string_equal(res.content_type, SR_HTTP_JSON_TYPE);
    assert_string_equal(res.body.p, "{\"error\":{\"status\":400,\"message\":\"bad thing 7\"}}");
    sr_http_error(&res, 404, "song %s \"q\"", "caf\xc3\xa9\xff");
    assert_string_equal(res.body.p,
                        "{\"error\":{\"status\":404,\"message\":\"song caf\xc3\xa9? \\\"q\\\"\"}}");
    sr_http_json(&res, 201, json_pack("{s:i,s:[s]}", "a", 1, "b", "x"));
    assert_int_equal(res.status, 201);
    assert_string_equal(res.body.p, "{\"a\":1,\"b\":[\"x\"]}");
    sr_http_json(&res, 200, NULL);
    assert_int_equal(res.status, 500);
    assert_non_null(strstr(res.body.p, "\"status\":500"));
    assert_string_equal(sr_http_method_name(SR_HTTP_DELETE), "DELETE");
    assert_string_equal(sr_http_method_name((sr_http_method)99), "?");
    sr_buf_free(&res.body);
}

/* ---- metrics ---------------------------------------------------------------------- */

/* The value of the sample line that starts with `series ` (exact series), or -1. */
static long long sample(const char *text, const char *series) {
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, series, n) && p[n] == ' ') return atoll(p + n + 1);
    }
    return -1;
}

/* Every line is "# HELP name text", "# TYPE name type" or "name[{labels}] number", and
 * every family has HELP and TYPE before its samples. */
static void check_exposition(const char *text) {
    char *copy = strdup(text), *save;
    assert_non_null(copy);
    char family[128] = "";
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "# HELP ", 7)) {
            sscanf(line + 7, "%127s", family);
            continue;
        }
        if (!strncmp(line, "# TYPE ", 7)) {
            char name[128], type[32];
            assert_int_equal(sscanf(line + 7, "%127s %31s", name, type), 2);
            assert_string_equal(name, family);
            assert_true(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
                        !strcmp(type, "histogram"));
            continue;
        }
        assert_true(line[0] != '#');
        size_t k = strcspn(line, "{ ");
        if (strncmp(line, family, strlen(family)) || k < strlen(family))
            fail_msg("sample outside its family %s: %s", family, line);
        const char *v = strrchr(line, ' ');
        assert_non_null(v);
        char *end;
        strtod(v + 1, &end);
        assert_true(*end == 0 && end > v + 1);
    }
    free(copy);
}

/* Waits until the series reads want; leaves the last text in b. The bound only has to
 * outlast a loaded machine (a parallel ASan run, or memcheck's 20-50x): a wrong count
 * never settles at want however long it is given. */
static void wait_sample(sr_http *h, sr_buf *b, const char *series, long long want) {
    const uint64_t limit_ms = getenv("SONGREC_VALGRIND") ? 120000 : 20000;
    for (uint64_t t0 = ms_now(); ms_now() - t0 < limit_ms;) {
        sr_buf_reset(b);
        sr_http_metrics_text(h, b);
        if (sample(b->p, series) == want) return;
        sleep_ms(2);
    }
    long long got = sample(b->p, series);
    sr_buf_free(b);
    fail_msg("%s stayed %lld, expected %lld", series, got, want);
}

static void test_metrics(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    for (int i = 0; i < 3; i++) expect_get(port, "/api/json", 200, NULL);
    expect_get(port, "/nope", 404, NULL);
    expect_get(port, "/api/songs/%zz", 400, NULL);
    expect_get(port, "/", 200, NULL);
    expect_get(port, "/api/nostatus", 500, NULL);
    hc_resp r;
    req(port, "POST /api/small HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n", &r);
    hc_resp_free(&r);
    sr_buf b = SR_BUF_INIT;
    wait_sample(t.h, &b, "songrec_http_requests_in_flight", 0);
    get(port, "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hc_header(&r, "Content-Type"), "text/plain; version=0.0.4");
    const char *m = r.body;
    check_exposition(m);
    assert_non_null(strstr(m, "# TYPE songrec_http_requests_total counter\n"));
    assert_non_null(strstr(m, "# TYPE songrec_http_request_duration_seconds histogram\n"));
    assert_non_null(strstr(m, "# TYPE songrec_http_requests_in_flight gauge\n"));
    assert_int_equal(sample(m, "songrec_http_requests_total{route=\"json\",code=\"2xx\"}"), 3);
    assert_int_equal(sample(m, "songrec_http_requests_total{route=\"json\",code=\"4xx\"}"), 0);
    assert_int_equal(sample(m, "songrec_http_requests_total{route=\"other\",code=\"4xx\"}"), 2);
    assert_int_equal(sample(m, "songrec_http_requests_total{route=\"static\",code=\"2xx\"}"), 1);
    assert_int_equal(sample(m, "songrec_http_requests_total{route=\"small\",code=\"4xx\"}"), 1);
    assert_int_equal(sample(m, "songrec_http_requests_total{route=\"nostatus\",code=\"5xx\"}"), 1);
    assert_int_equal(sample(m, "songrec_http_requests_total{route=\"metrics\",code=\"2xx\"}"), 0);
    /* "song" names two routes (GET and DELETE): one series. */
    const char *song = strstr(m, "songrec_http_requests_total{route=\"song\",code=\"2xx\"}");
    assert_non_null(song);
    assert_null(strstr(song + 1, "songrec_http_requests_total{route=\"song\",code=\"2xx\"}"));
    const char *dur = "songrec_http_request_duration_seconds";
    char series[256];
    snprintf(series, sizeof series, "%s_count{route=\"json\"}", dur);
    assert_int_equal(sample(m, series), 3);
    long long prev = 0;
    const char *les[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                         "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "+Inf"};
    for (int i = 0; i < 14; i++) {
        snprintf(series, sizeof series, "%s_bucket{route=\"json\",le=\"%s\"}", dur, les[i]);
        long long v = sample(m, series);
        assert_true(v >= prev);
        prev = v;
    }
    assert_int_equal(prev, 3);
    snprintf(series, sizeof series, "%s_bucket{route=\"json\",le=\"5\"}", dur);
    assert_int_equal(sample(m, series), 3); /* trivial requests take well under 5 s */
    snprintf(series, sizeof series, "%s_sum{route=\"json\"}", dur);
    assert_true(sample(m, series) >= 0);
    assert_int_equal(sample(m, "songrec_http_requests_in_flight"), 1); /* this request */
    hc_resp_free(&r);

    /* Read directly once the connections are gone: in flight drops back to 0. */
    wait_sample(t.h, &b, "songrec_http_requests_in_flight", 0);
    assert_int_equal(sample(b.p, "songrec_http_requests_total{route=\"metrics\",code=\"2xx\"}"), 1);
    assert_int_equal(sample(b.p, "songrec_http_requests_aborted_total"), 0);
    sr_buf_free(&b);
    sr_http_stop(t.h);
}

/* ---- connections ------------------------------------------------------------------ */

static void test_keep_alive(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    hc_conn c;
    assert_true(hc_open(&c, port));
    for (int i = 0; i < 5; i++) {
        char raw[256], want[64];
        snprintf(raw, sizeof raw, "GET /api/songs/%d/similar?n=%d HTTP/1.1\r\nHost: t\r\n\r\n", i,
                 i * i);
        snprintf(want, sizeof want, "id=%d|n=%d|q=-", i, i * i);
        assert_true(hc_sends(&c, raw));
        hc_resp r;
        assert_int_equal(hc_read(&c, false, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, want);
        assert_null(hc_header(&r, "Connection"));
        hc_resp_free(&r);
    }
    /* Pipelined: three requests in one write, three answers in order. */
    assert_true(hc_sends(&c, "GET /api/songs/a HTTP/1.1\r\nHost: t\r\n\r\n"
                             "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz"
                             "GET /api/songs/b HTTP/1.1\r\nHost: t\r\n\r\n"));
    const char *want[] = {"song a", "xyz", "song b"};
    for (int i = 0; i < 3; i++) {
        hc_resp r;
        assert_int_equal(hc_read(&c, false, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, want[i]);
        hc_resp_free(&r);
    }
    /* An error answer (404, no body sent) keeps the connection too. */
    assert_true(hc_sends(&c, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\nGET /api/json HTTP/1.1\r\n"
                             "Host: t\r\n\r\n"));
    hc_resp r;
    assert_int_equal(hc_read(&c, false, &r), 0);
    assert_int_equal(r.status, 404);
    hc_resp_free(&r);
    assert_int_equal(hc_read(&c, false, &r), 0);
    assert_int_equal(r.status, 200);
    hc_resp_free(&r);
    hc_close(&c);
    sr_http_stop(t.h);
}

typedef struct worker {
    uint16_t port;
    int id, n, ok;
} worker;

static void *client_thread(void *arg) {
    worker *w = arg;
    hc_conn c;
    bool open = false;
    for (int i = 0; i < w->n; i++) {
        if (!open || i % 50 == 0) {
            if (open) hc_close(&c);
            open = hc_open(&c, w->port);
            if (!open) continue;
        }
        char raw[256], want[64];
        if (i % 2) {
            snprintf(want, sizeof want, "w%d-%d", w->id, i);
            snprintf(raw, sizeof raw,
                     "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(want), want);
        } else {
            snprintf(raw, sizeof raw, "GET /api/songs/w%d-%d/similar HTTP/1.1\r\nHost: t\r\n\r\n",
                     w->id, i);
            snprintf(want, sizeof want, "id=w%d-%d|n=-|q=-", w->id, i);
        }
        hc_resp r;
        if (hc_sends(&c, raw) && hc_read(&c, false, &r) == 0) {
            w->ok += r.status == 200 && !strcmp(r.body, want);
            hc_resp_free(&r);
        }
    }
    if (open) hc_close(&c);
    return NULL;
}

static void test_concurrent(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    enum { THREADS = 8, EACH = 200 };
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){port, i, EACH, 0};
        assert_int_equal(pthread_create(&th[i], NULL, client_thread, &w[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
    }
    assert_int_equal(ok, THREADS * EACH);
    sr_buf b = SR_BUF_INIT;
    sr_http_metrics_text(t.h, &b);
    assert_int_equal(sample(b.p, "songrec_http_requests_total{route=\"similar\",code=\"2xx\"}"),
                     THREADS * EACH / 2);
    assert_int_equal(sample(b.p, "songrec_http_requests_total{route=\"echo\",code=\"2xx\"}"),
                     THREADS * EACH / 2);
    assert_int_equal(sample(b.p, "songrec_http_request_duration_seconds_count{route=\"echo\"}"),
                     THREADS * EACH / 2);
    sr_buf_free(&b);
    sr_http_stop(t.h);
}

typedef struct slow_client {
    uint16_t port;
    hc_resp r;
    int rc;
} slow_client;

static void *slow_thread(void *arg) {
    slow_client *s = arg;
    s->rc = hc_get(s->port, "/api/slow", &s->r);
    return NULL;
}

static void test_graceful_stop(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    t.slow_ms = 500;
    slow_client s = {port, {0}, -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, slow_thread, &s), 0);
    for (int i = 0; i < 1000 && !atomic_load(&t.slow_started); i++) sleep_ms(2);
    assert_true(atomic_load(&t.slow_started));
    uint64_t t0 = ms_now();
    sr_http_stop(t.h);
    uint64_t took = ms_now() - t0;
    pthread_join(th, NULL);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.r.status, 200);
    assert_int_equal(s.r.body_len, SLOW_BODY);
    for (size_t i = 0; i < SLOW_BODY; i++) {
        if (s.r.body[i] != (char)('a' + i % 26)) fail_msg("byte %zu differs", i);
    }
    assert_string_equal(hc_header(&s.r, "Connection"), "close");
    hc_resp_free(&s.r);
    assert_true(took >= 200); /* it waited for the handler */
    assert_true(took < 5000);
    hc_conn c;
    assert_false(hc_open(&c, port)); /* no longer listening */
}

static void test_stop_bounded(void **state) {
    toy t;
    memset(&t, 0, sizeof t);
    sr_http_config cfg = toy_config(&t);
    cfg.stop_wait_ms = 300;
    uint16_t port = start_with(&t, &cfg);
    /* An idle keep-alive connection and a request whose headers never end. */
    hc_conn idle, stuck;
    assert_true(hc_open(&idle, port));
    assert_true(hc_sends(&idle, "GET /api/json HTTP/1.1\r\nHost: t\r\n\r\n"));
    hc_resp r;
    assert_int_equal(hc_read(&idle, false, &r), 0);
    hc_resp_free(&r);
    sr_buf b = SR_BUF_INIT;
    wait_sample(t.h, &b, "songrec_http_requests_in_flight", 0); /* the first is done */
    assert_true(hc_open(&stuck, port));
    assert_true(hc_sends(&stuck, "GET /api/json HTTP/1.1\r\nHost: t\r\n"));
    wait_sample(t.h, &b, "songrec_http_requests_in_flight", 1);
    wait_sample(t.h, &b, "songrec_http_connections", 2);
    sr_buf_free(&b);
    uint64_t t0 = ms_now();
    sr_http_stop(t.h);
    uint64_t took = ms_now() - t0;
    assert_true(took >= 250);
    assert_true(took < 3000);
    assert_true(hc_closed(&idle));
    assert_true(hc_closed(&stuck));
    hc_close(&idle);
    hc_close(&stuck);
}

static void test_connection_limits(void **state) {
    toy t;
    memset(&t, 0, sizeof t);
    sr_http_config cfg = toy_config(&t);
    cfg.limits.max_per_ip = 2;
    cfg.limits.timeout_s = 1;
    uint16_t port = start_with(&t, &cfg);
    hc_conn c[3];
    for (int i = 0; i < 3; i++) assert_true(hc_open(&c[i], port));
    for (int i = 0; i < 3; i++) {
        hc_resp r;
        bool sent = hc_sends(&c[i], "GET /api/json HTTP/1.1\r\nHost: t\r\n\r\n");
        int rc = sent ? hc_read(&c[i], false, &r) : -1;
        if (i < 2) {
            assert_int_equal(rc, 0);
            assert_int_equal(r.status, 200);
        } else {
            assert_int_equal(rc, -1); /* the third is closed at once */
        }
        if (rc == 0) hc_resp_free(&r);
    }
    /* The idle timeout (1 s) closes the other two. */
    uint64_t t0 = ms_now();
    assert_true(hc_closed(&c[0]));
    assert_true(ms_now() - t0 < 4000);
    for (int i = 0; i < 3; i++) hc_close(&c[i]);
    sr_http_stop(t.h);
}

static void test_hostile_input(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    /* A header block over the connection's memory: libmicrohttpd refuses it (431). */
    size_t n = 40000;
    char *raw = malloc(n + 128);
    assert_non_null(raw);
    strcpy(raw, "GET /api/json HTTP/1.1\r\nHost: t\r\nX-Big: ");
    size_t k = strlen(raw);
    memset(raw + k, 'a', n);
    strcpy(raw + k + n, "\r\n\r\n");
    hc_resp r;
    if (hc_request(port, raw, strlen(raw), &r) == 0) {
        assert_int_equal(r.status, 431);
        hc_resp_free(&r);
    }
    free(raw);
    static const char *const JUNK[] = {
        "\x01\x02\x03 garbage\r\n\r\n",
        "GET\r\n\r\n",
        "GET /api/json HTTP/9.9\r\nHost: t\r\n\r\n",
        "GET /api/json HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
        "GET /api/json HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET * HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET http://t/api/json HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /api/songs/\xff\xfe/similar HTTP/1.1\r\nHost: t\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof JUNK / sizeof JUNK[0]; i++) {
        if (hc_request(port, JUNK[i], strlen(JUNK[i]), &r) == 0) {
            if (r.status < 400 || r.status > 599) fail_msg("junk %zu answered %d", i, r.status);
            hc_resp_free(&r);
        }
        expect_get(port, "/api/json", 200, "{\"ok\":true}");
    }
    sr_http_stop(t.h);
}

/* ---- hostile clients -------------------------------------------------------------- */

/* One request on a fresh connection from the loopback address `from`; fails the test
 * when no answer comes. */
static void req_from(uint16_t port, const char *from, const char *raw, hc_resp *r) {
    hc_conn c;
    if (!hc_open_from(&c, port, from)) fail_msg("cannot connect from %s", from);
    if (!hc_sends(&c, raw) || hc_read(&c, !strncmp(raw, "HEAD ", 5), r) != 0)
        fail_msg("no response from %s to: %s", from, raw);
    hc_close(&c);
}

static int status_from(uint16_t port, const char *from, const char *raw) {
    hc_resp r;
    req_from(port, from, raw, &r);
    int status = r.status;
    hc_resp_free(&r);
    return status;
}

static void test_rate_limit(void **state) {
    static const char GET[] = "GET /api/json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    toy t;
    memset(&t, 0, sizeof t);
    sr_http_config cfg = toy_config(&t);
    /* A burst of 3, then one request per 50 s (every step below takes far less), in a
     * table of one set: 8 clients. */
    cfg.limits.rate = 0.02;
    cfg.limits.burst = 3;
    cfg.limits.rate_clients = 8;
    uint16_t port = start_with(&t, &cfg);
    for (int i = 0; i < 3; i++) assert_int_equal(status_from(port, "127.0.0.1", GET), 200);
    hc_resp r;
    req_from(port, "127.0.0.1", GET, &r);
    expect_error_json(&r, 429);
    expect_security(&r, "429");
    assert_non_null(hc_header(&r, "Retry-After"));
    int wait = atoi(hc_header(&r, "Retry-After"));
    if (wait < 45 || wait > 50) fail_msg("Retry-After %d, expected about 50", wait);
    hc_resp_free(&r);
    /* Another address is another client. */
    assert_int_equal(status_from(port, "127.0.0.2", GET), 200);
    /* 40 new addresses through the 8-entry table: all served, and the limited client
     * keeps its debt (the fullest buckets are the ones given up). */
    for (int i = 1; i <= 40; i++) {
        char from[32];
        snprintf(from, sizeof from, "127.0.1.%d", i);
        assert_int_equal(status_from(port, from, GET), 200);
    }
    assert_int_equal(status_from(port, "127.0.0.1", GET), 429);
    /* A request with a body is refused before the body is sent. */
    req_from(port, "127.0.0.1", "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n",
             &r);
    expect_error_json(&r, 429);
    hc_resp_free(&r);
    sr_buf b = SR_BUF_INIT;
    sr_http_metrics_text(t.h, &b);
    assert_int_equal(sample(b.p, "songrec_http_rate_limited_total"), 3);
    assert_int_equal(sample(b.p, "songrec_http_requests_total{route=\"json\",code=\"2xx\"}"), 44);
    sr_buf_free(&b);
    sr_http_stop(t.h);
}

/* The IPv6 side of the client key, through a server on ::1 (skipped without IPv6). */
static void test_rate_limit_ipv6(void **state) {
    toy t;
    memset(&t, 0, sizeof t);
    sr_http_config cfg = toy_config(&t);
    cfg.bind = "::1";
    cfg.limits.rate = 0.02;
    cfg.limits.burst = 2;
    sr_diag d = {{0}};
    if (sr_http_start(&cfg, &t.h, &d) != SR_OK) {
        print_message("no IPv6 loopback (%s): skipped\n", d.msg);
        skip();
    }
    uint16_t port = sr_http_port(t.h);
    for (int i = 0; i < 3; i++) {
        hc_conn c;
        assert_true(hc_open6(&c, port));
        assert_true(hc_sends(&c, "GET /api/json HTTP/1.1\r\nHost: t\r\n\r\n"));
        hc_resp r;
        assert_int_equal(hc_read(&c, false, &r), 0);
        assert_int_equal(r.status, i < 2 ? 200 : 429);
        hc_resp_free(&r);
        hc_close(&c);
    }
    sr_http_stop(t.h);
}

/* A client that sends `head`, then `piece` every every_ms, until the server ends the
 * connection (gone_ms: when, from the connect; 0: it never did within max_ms). */
typedef struct trickle {
    uint16_t port;
    const char *head, *piece;
    int every_ms, max_ms;
    uint64_t gone_ms;
} trickle;

static void *trickle_thread(void *arg) {
    trickle *tr = arg;
    hc_conn c;
    if (!hc_open(&c, tr->port)) return NULL;
    uint64_t t0 = ms_now();
    hc_sends(&c, tr->head);
    while (ms_now() - t0 < (uint64_t)tr->max_ms) {
        sleep_ms(tr->every_ms);
        if (hc_gone(&c) || send(c.fd, tr->piece, strlen(tr->piece), MSG_NOSIGNAL) < 0) {
            tr->gone_ms = ms_now() - t0;
            break;
        }
    }
    hc_close(&c);
    return NULL;
}

static void test_slow_clients(void **state) {
    toy t;
    memset(&t, 0, sizeof t);
    sr_http_config cfg = toy_config(&t);
    cfg.limits.header_timeout_s = 1; /* the idle timeout stays 30 s */
    uint16_t port = start_with(&t, &cfg);
    /* A byte of the request line, a header line, a body byte every 200 ms: each resets
     * libmicrohttpd's idle timeout, none gets the request in within 1 s. */
    trickle tr[] = {
        {port, "", "G", 200, 8000, 0},
        {port, "GET /api/json HTTP/1.1\r\nHost: t\r\n", "X-A: b\r\n", 200, 8000, 0},
        {port, "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n", "x", 200, 8000,
         0},
    };
    enum { N = sizeof tr / sizeof tr[0] };
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&th[i], NULL, trickle_thread, &tr[i]), 0);
    /* Meanwhile everyone else is served. */
    for (int i = 0; i < 20; i++) expect_get(port, "/api/json", 200, "{\"ok\":true}");
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (tr[i].gone_ms < 500 || tr[i].gone_ms > 6000)
            fail_msg("trickle %d ended after %llu ms, expected about 1000", i,
                     (unsigned long long)tr[i].gone_ms);
    }
    /* A keep-alive connection left idle after an answer: closed after 1 s, not 30. */
    hc_conn c;
    assert_true(hc_open(&c, port));
    assert_true(hc_sends(&c, "GET /api/json HTTP/1.1\r\nHost: t\r\n\r\n"));
    hc_resp r;
    assert_int_equal(hc_read(&c, false, &r), 0);
    assert_int_equal(r.status, 200);
    hc_resp_free(&r);
    uint64_t t0 = ms_now();
    assert_true(hc_closed(&c));
    assert_true(ms_now() - t0 < 6000);
    hc_close(&c);
    sr_buf b = SR_BUF_INIT;
    wait_sample(t.h, &b, "songrec_http_connections", 0);
    /* The trickles and the idle keep-alive, and on a loaded machine perhaps some of the
     * 20 quick connections too: closed by their client after the answer, but not yet
     * seen closed by the server when their 1 s ran out. */
    const long long cut = sample(b.p, "songrec_http_connections_cut_total");
    sr_buf_free(&b);
    if (cut < N + 1 || cut > N + 1 + 20) fail_msg("%lld connections cut, expected %d", cut, N + 1);
    sr_http_stop(t.h);
}

/* A reader that never reads: cut once the answer has had its time at min_rate. */
static void test_slow_reader(void **state) {
    toy t;
    memset(&t, 0, sizeof t);
    sr_http_config cfg = toy_config(&t);
    cfg.limits.header_timeout_s = 1;
    cfg.limits.min_rate = 1 << 20; /* 200,000 bytes: 1 s + 0.2 s */
    uint16_t port = start_with(&t, &cfg);
    hc_conn c;
    assert_true(hc_open(&c, port));
    assert_true(hc_sends(&c, "GET /api/slow HTTP/1.1\r\nHost: t\r\n\r\n"));
    sleep_ms(3000);
    sr_buf b = SR_BUF_INIT;
    wait_sample(t.h, &b, "songrec_http_connections", 0);
    assert_int_equal(sample(b.p, "songrec_http_connections_cut_total"), 1);
    sr_buf_free(&b);
    assert_true(hc_gone(&c));
    hc_close(&c);
    sr_http_stop(t.h);
}

/* Many idle connections — more than the old limit of 256, from several addresses since
 * each may hold 64 — leave the server answering; past the connection limit a new
 * connection waits in the listen queue until one closes, rather than being refused. */
static void test_idle_connections(void **state) {
    toy t;
    uint16_t port = start_toy(&t);
    enum { IDLE = 600 };
    hc_conn *c = calloc(IDLE, sizeof *c);
    assert_non_null(c);
    for (int i = 0; i < IDLE; i++) {
        char from[32];
        snprintf(from, sizeof from, "127.0.2.%d", 1 + i / 60);
        assert_true(hc_open_from(&c[i], port, from));
    }
    sr_buf b = SR_BUF_INIT;
    wait_sample(t.h, &b, "songrec_http_connections", IDLE);
    for (int i = 0; i < 10; i++) expect_get(port, "/api/json", 200, "{\"ok\":true}");
    for (int i = 0; i < IDLE; i++) hc_close(&c[i]);
    free(c);
    wait_sample(t.h, &b, "songrec_http_connections", 0);
    sr_http_stop(t.h);

    memset(&t, 0, sizeof t);
    sr_http_config cfg = toy_config(&t);
    cfg.threads = 1;
    cfg.limits.max_connections = 2;
    cfg.limits.header_timeout_s = 1;
    port = start_with(&t, &cfg);
    hc_conn idle[2], late;
    for (int i = 0; i < 2; i++) assert_true(hc_open(&idle[i], port));
    wait_sample(t.h, &b, "songrec_http_connections", 2);
    uint64_t t0 = ms_now();
    assert_true(hc_open(&late, port));
    assert_true(hc_sends(&late, "GET /api/json HTTP/1.1\r\nHost: t\r\n\r\n"));
    hc_resp r;
    assert_int_equal(hc_read(&late, false, &r), 0);
    assert_int_equal(r.status, 200);
    assert_true(ms_now() - t0 >= 500); /* it waited for an idle one to be cut */
    hc_resp_free(&r);
    for (int i = 0; i < 2; i++) hc_close(&idle[i]);
    hc_close(&late);
    sr_buf_free(&b);
    sr_http_stop(t.h);
}

static void test_static_escape(void **state) {
    static const char *const PATHS[] = {
        "/../index.html",
        "/..%2findex.html",
        "/%2e%2e/index.html",
        "/%2E%2E%2Findex.html",
        "/app.js/../index.html",
        "/./app.js",
        "//app.js",
        "/%252e%252e/app.js",
        "/..%5capp.js",
        "/..\\app.js",
        "/%5c..%5capp.js",
        "/app.js%00",
        "/app.js%2500",
        "/index.html/",
        "/app.js.",
        "/APP.JS",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%c0%afetc/passwd",
        "/%2e%2e%5c%2e%2e%5cetc%5cpasswd",
    };
    toy t;
    uint16_t port = start_toy(&t);
    for (size_t i = 0; i < sizeof PATHS / sizeof PATHS[0]; i++) {
        hc_resp r;
        get(port, PATHS[i], &r);
        if (r.status != 404 && r.status != 400) fail_msg("%s: status %d", PATHS[i], r.status);
        if (strstr(r.body, "songrec") || strstr(r.body, "<title>"))
            fail_msg("%s: served a file", PATHS[i]);
        hc_resp_free(&r);
    }
    expect_get(port, "/app.js", 200, APP_JS);
    sr_http_stop(t.h);
}

/* ---- starting --------------------------------------------------------------------- */

static void start_fails(const sr_http_route *routes, size_t n_routes, const sr_http_asset *assets,
                        const char *bind, sr_err want) {
    toy t;
    memset(&t, 0, sizeof t);
    sr_http_config cfg = toy_config(&t);
    cfg.routes = routes;
    cfg.n_routes = n_routes;
    cfg.assets = assets;
    cfg.n_assets = assets ? 1 : 0;
    cfg.bind = bind;
    sr_diag d = {{0}};
    sr_http *h = (sr_http *)&t; /* must be reset to NULL */
    assert_int_equal(sr_http_start(&cfg, &h, &d), want);
    assert_null(h);
    assert_true(strlen(d.msg) > 0);
}

static void test_start_errors(void **state) {
    const sr_http_route bad[][2] = {
        {{SR_HTTP_GET, "api/x", h_json, "x", 0}},
        {{SR_HTTP_GET, "/a/{id}/{id}", h_json, "x", 0}},
        {{SR_HTTP_GET, "/a/{i d}", h_json, "x", 0}},
        {{SR_HTTP_GET, "/a/x{id}", h_json, "x", 0}},
        {{SR_HTTP_GET, "/a/%41", h_json, "x", 0}},
        {{SR_HTTP_HEAD, "/a", h_json, "x", 0}},
        {{SR_HTTP_GET, "/a", NULL, "x", 0}},
        {{SR_HTTP_GET, NULL, h_json, "x", 0}},
        {{SR_HTTP_GET, "/a", h_json, "x", 0}, {SR_HTTP_GET, "/a", h_json, "y", 0}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        start_fails(bad[i], bad[i][1].pattern ? 2 : 1, NULL, NULL, SR_E_USAGE);
    }
    const sr_http_asset no_slash = {"app.js", "text/javascript", "x", 1};
    start_fails(NULL, 0, &no_slash, NULL, SR_E_USAGE);
    start_fails(NULL, 0, NULL, "localhost", SR_E_USAGE);
    start_fails(NULL, 0, NULL, "300.1.1.1", SR_E_USAGE);

    /* The same route pattern with another method is fine; "0.0.0.0" listens everywhere. */
    const sr_http_route two[] = {{SR_HTTP_GET, "/a", h_json, NULL, 0},
                                 {SR_HTTP_POST, "/a", h_json, NULL, 0}};
    toy t;
    memset(&t, 0, sizeof t);
    sr_http_config cfg = toy_config(&t);
    cfg.routes = two;
    cfg.n_routes = 2;
    cfg.bind = "0.0.0.0";
    cfg.threads = 1;
    uint16_t port = start_with(&t, &cfg);
    expect_get(port, "/a", 200, "{\"ok\":true}");

    /* The port is taken. */
    toy t2;
    memset(&t2, 0, sizeof t2);
    sr_http_config cfg2 = toy_config(&t2);
    cfg2.port = port;
    sr_diag d = {{0}};
    sr_http *h2 = NULL;
    assert_int_equal(sr_http_start(&cfg2, &h2, &d), SR_E_IO);
    assert_null(h2);
    char want[32];
    snprintf(want, sizeof want, "port %u", port);
    if (!strstr(d.msg, want)) fail_msg("diag: %s", d.msg);
    sr_http_stop(t.h);
    sr_http_stop(NULL);
}

static void log_to_count(void *user, sr_log_level level, const char *text) {
    atomic_fetch_add((atomic_int *)user, 1);
}

/* songrec_http_connections_max of a server started with cfg. */
static long long started_limit(sr_http_config *cfg) {
    toy t;
    memset(&t, 0, sizeof t);
    cfg->ctx = &t;
    start_with(&t, cfg);
    sr_buf b = SR_BUF_INIT;
    sr_http_metrics_text(t.h, &b);
    long long v = sample(b.p, "songrec_http_connections_max");
    sr_buf_free(&b);
    sr_http_stop(t.h);
    return v;
}

static void test_limits(void **state) {
    /* A request rate that is not a number, or under one per 1,000 s, is refused. */
    const double bad[] = {NAN, 0.0001};
    for (int i = 0; i < 2; i++) {
        toy t;
        memset(&t, 0, sizeof t);
        sr_http_config cfg = toy_config(&t);
        cfg.limits.rate = bad[i];
        sr_diag d = {{0}};
        sr_http *h = NULL;
        assert_int_equal(sr_http_start(&cfg, &h, &d), SR_E_USAGE);
        assert_null(h);
        assert_non_null(strstr(d.msg, "rate"));
    }
    /* The connection limit fits the descriptors: a soft limit of 1,024 leaves 768, and
     * asking for more says so in the log. */
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    if (old.rlim_max != RLIM_INFINITY && old.rlim_max < 1024) skip();
    low.rlim_cur = 1024;
    low.rlim_max = old.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    atomic_int logged = 0;
    sr_log log = {log_to_count, NULL, &logged};
    toy t;
    sr_http_config cfg = toy_config(&t);
    cfg.log = &log;
    assert_int_equal(started_limit(&cfg), 1024 - SR_HTTP_FD_RESERVE);
    assert_int_equal(atomic_load(&logged), 0);
    cfg.limits.max_connections = 5000;
    assert_int_equal(started_limit(&cfg), 1024 - SR_HTTP_FD_RESERVE);
    assert_int_equal(atomic_load(&logged), 1);
    cfg.limits.max_connections = 100;
    assert_int_equal(started_limit(&cfg), 100);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    if (old.rlim_cur == RLIM_INFINITY ||
        old.rlim_cur >= SR_HTTP_MAX_CONNECTIONS + SR_HTTP_FD_RESERVE) {
        cfg.limits.max_connections = 0;
        assert_int_equal(started_limit(&cfg), SR_HTTP_MAX_CONNECTIONS);
    }
}

static void test_out_of_memory(void **state) {
    /* Starting: every allocation may fail; each failure is SR_E_NOMEM, nothing leaks. */
    bool started = false;
    for (long n = 0; n < 200 && !started; n++) {
        toy t;
        memset(&t, 0, sizeof t);
        sr_http_config cfg = toy_config(&t);
        sr_diag d = {{0}};
        sr_mem_fail_after(n);
        sr_err e = sr_http_start(&cfg, &t.h, &d);
        sr_mem_fail_after(-1);
        if (e == SR_OK) {
            started = true;
            sr_http_stop(t.h);
        } else {
            assert_int_equal(e, SR_E_NOMEM);
        }
    }
    assert_true(started);

    /* Requests: the request state, the body, the response body fail in turn → 503. */
    atomic_int logged = 0;
    sr_log log = {log_to_count, NULL, &logged};
    toy t;
    memset(&t, 0, sizeof t);
    sr_http_config cfg = toy_config(&t);
    cfg.log = &log;
    uint16_t port = start_with(&t, &cfg);
    const char *raw = "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                      "Connection: close\r\n\r\nhello";
    int n503 = 0;
    for (long n = 0; n < 6; n++) {
        hc_resp r;
        sr_mem_fail_after(n);
        int rc = hc_request(port, raw, strlen(raw), &r);
        sr_mem_fail_after(-1);
        assert_int_equal(rc, 0);
        if (n < 3) {
            assert_int_equal(r.status, 503);
            assert_string_equal(r.body,
                                "{\"error\":{\"status\":503,\"message\":\"out of memory\"}}");
            assert_string_equal(hc_header(&r, "Retry-After"), "1");
            expect_security(&r, "503");
            n503++;
        } else {
            assert_int_equal(r.status, 200);
            assert_string_equal(r.body, "hello");
        }
        hc_resp_free(&r);
    }
    assert_int_equal(n503, 3);
    for (long n = 0; n < 3; n++) { /* a JSON answer: state, then the dump buffer */
        hc_resp r;
        sr_mem_fail_after(n);
        int rc = hc_get(port, "/api/json", &r);
        sr_mem_fail_after(-1);
        assert_int_equal(rc, 0);
        assert_int_equal(r.status, n < 2 ? 503 : 200);
        hc_resp_free(&r);
    }
    expect_get(port, "/api/nostatus", 500, NULL);
    sr_http_stop(t.h);
    assert_true(atomic_load(&logged) >= 1); /* the unset status was logged */
}

/* ---- throughput ------------------------------------------------------------------- */

typedef struct bench_arg {
    uint16_t port;
    uint64_t until_ms;
    long done;
} bench_arg;

static void *bench_thread(void *arg) {
    bench_arg *b = arg;
    hc_conn c;
    if (!hc_open(&c, b->port)) return NULL;
    static const char raw[] = "GET /api/json HTTP/1.1\r\nHost: t\r\n\r\n";
    while (ms_now() < b->until_ms) {
        hc_resp r;
        if (!hc_send(&c, raw, sizeof raw - 1) || hc_read(&c, false, &r) != 0) break;
        b->done += r.status == 200;
        hc_resp_free(&r);
    }
    hc_close(&c);
    return NULL;
}

static void test_throughput(void **state) {
    const char *env = getenv("SONGREC_HTTP_BENCH");
    bool report = env && *env && strcmp(env, "0");
    toy t;
    memset(&t, 0, sizeof t);
    sr_http_config cfg = toy_config(&t);
    cfg.threads = 0; /* the default: 2 x cores */
    uint16_t port = start_with(&t, &cfg);
    enum { CLIENTS = 4 };
    uint64_t ms = report ? 2000 : 200;
    bench_arg b[CLIENTS];
    pthread_t th[CLIENTS];
    uint64_t t0 = ms_now();
    for (int i = 0; i < CLIENTS; i++) {
        b[i] = (bench_arg){port, t0 + ms, 0};
        assert_int_equal(pthread_create(&th[i], NULL, bench_thread, &b[i]), 0);
    }
    long total = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        total += b[i].done;
    }
    double secs = (double)(ms_now() - t0) / 1000.0;
    if (report)
        print_message("http: %ld requests in %.2f s = %.0f req/s (%d keep-alive clients)\n", total,
                      secs, (double)total / secs, CLIENTS);
    assert_true(total > 0);
    sr_http_stop(t.h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing_captures),
        cmocka_unit_test(test_not_found_json),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_bad_encoding),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_post_body),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_assets),
        cmocka_unit_test(test_security_headers),
        cmocka_unit_test(test_response_helpers),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_stop_bounded),
        cmocka_unit_test(test_connection_limits),
        cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_rate_limit_ipv6),
        cmocka_unit_test(test_slow_clients),
        cmocka_unit_test(test_slow_reader),
        cmocka_unit_test(test_idle_connections),
        cmocka_unit_test(test_static_escape),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_throughput),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
