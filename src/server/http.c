/* The HTTP core on libmicrohttpd (http.h).
 *
 * One request's life, in libmicrohttpd's callbacks:
 *   on_uri       the request line is in: allocate the request's state (one block: the
 *                state and three copies of the raw target), start the clock, count it
 *                in flight. The raw target is what routing reads: the `url` that
 *                libmicrohttpd hands the access handler is already unescaped, which
 *                would hide %00 and turn %2F into a separator.
 *   on_request   called once with the headers (begin: parse, route, Content-Length
 *                check; errors and assets are answered here), then with each piece
 *                of the body (take_body), then once more with none (finish: run the
 *                handler, queue its answer).
 *   on_completed the answer has been sent or the connection died: free the state.
 * A response can only be queued with the headers or after the whole body, never in
 * between, so a chunked body that outgrows its limit is drained (up to DRAIN_MAX) and
 * answered 413 at the end.
 *
 * Out of memory: the state's allocation failing, a body or response buffer failing,
 * or libmicrohttpd failing to build a response all end in one 503 response made at
 * start, which needs no memory to queue.
 *
 * Metrics are relaxed atomic counters per metric slot (a distinct route name, plus
 * "static" for assets and "other" for what matched no route): a few uncontended
 * increments per request, no lock.
 *
 * Slow clients: every connection gets a `peer` from a pool made at start (one per
 * allowed connection, so opening one allocates nothing) holding its socket and a
 * deadline, on a list that the watchdog thread walks every WATCH_MS. The callbacks move
 * the deadline as a request advances: headers by now + header timeout, a body and an
 * answer by their start + grace + bytes / min_rate, nothing while the handler runs. The
 * watchdog only calls shutdown(2) on a socket past its deadline, under the list's lock;
 * libmicrohttpd announces a close (which takes the peer off the list under that lock)
 * before it closes the descriptor, so the watchdog never touches a reused descriptor.
 * libmicrohttpd then reads the end of the stream and closes the connection itself.
 *
 * Request rate: the generic cell rate algorithm — a token bucket kept as one number per
 * client, the time at which its bucket is full again (tat) — in a fixed set-associative
 * table: RL_WAYS entries per set, a mutex per set, the set picked by a seeded XXH3 of
 * the client's key (so nobody can aim at one set). A request at time t is let through
 * when max(tat, t) + 1/rate - t <= burst/rate, and then tat = max(tat, t) + 1/rate. A
 * new client takes the entry whose bucket is fullest (smallest tat): an entry that has
 * refilled is the same as no entry, and a client being limited has the largest tat, so
 * a flood of new addresses neither grows memory nor clears anyone's debt.
 */
#include "server/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "util/mem.h"
#include "util/str.h"

#define DEFAULT_TIMEOUT_S      30u
#define DEFAULT_HEADER_TIMEOUT 15u
#define DEFAULT_MIN_RATE       1024u
#define DEFAULT_MAX_PER_IP     64u
#define DEFAULT_MAX_BODY       ((size_t)64 << 10)
#define DEFAULT_CONN_MEMORY    ((size_t)32 << 10)
#define DEFAULT_RATE           50.0
#define DEFAULT_RATE_CLIENTS   16384u
#define MIN_RATE               0.001 /* requests/s: one per 1,000 s */
#define DEFAULT_STOP_WAIT      10000u
#define MAX_THREADS            64u
#define DRAIN_MAX              ((size_t)1 << 20) /* body bytes thrown away before a 413 */
#define N_CLASSES              4                 /* 2xx 3xx 4xx 5xx */
#define N_BOUNDS               13
#define RL_WAYS                8   /* entries per set of the rate table */
#define WATCH_MS               250 /* the watchdog's period */
#define LOG_PER_SEC            10  /* libmicrohttpd messages logged per second, at most */
#define NS                     1000000000u

static const char CSP[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
                          "object-src 'none'; base-uri 'none'; form-action 'self'; "
                          "frame-ancestors 'none'";

/* Security headers on every answer; Cache-Control only on routes and errors. */
static const char *const SECURITY[][2] = {
    {"Content-Security-Policy", CSP},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
};
#define N_SECURITY (sizeof SECURITY / sizeof SECURITY[0])

static const char OOM_BODY[] = "{\"error\":{\"status\":503,\"message\":\"out of memory\"}}";

/* Latency bucket upper bounds in ns, and the same as Prometheus `le` labels. */
static const uint64_t BOUND_NS[N_BOUNDS] = {
    500000,    1000000,   2500000,    5000000,    10000000,   25000000,  50000000,
    100000000, 250000000, 500000000u, 1000000000, 2500000000, 5000000000};
static const char *const BOUND_LE[N_BOUNDS + 1] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                                   "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                                   "1",      "2.5",   "5",      "+Inf"};

static const char *const METHOD_NAME[SR_HTTP__N_METHODS] = {"GET", "HEAD", "POST", "PUT", "DELETE"};

typedef struct seg {
    const char *text; /* literal, or the capture's name */
    bool capture;
} seg;

typedef struct route {
    sr_http_method method;
    sr_http_handler handler;
    size_t max_body;
    size_t slot; /* metric slot */
    char *name;
    char *pattern; /* split in place: segs point into it */
    size_t n_segs, n_caps;
    seg segs[SR_HTTP_MAX_SEGMENTS];
    const char *caps[SR_HTTP_MAX_PARAMS]; /* capture names in order */
} route;

typedef struct asset {
    char *path, *type;
    const void *data;
    size_t len;
    char etag[24]; /* "\"<16 hex>\"" */
} asset;

/* A client in the rate table. */
typedef struct rl_entry {
    uint64_t key[2]; /* the IPv4 address as ::ffff:a.b.c.d, or the IPv6 /64 */
    uint64_t tat;    /* ns: when its bucket is full again; 0: unused */
} rl_entry;

typedef struct rl_set {
    pthread_mutex_t lock;
    rl_entry way[RL_WAYS];
} rl_set;

/* An open connection, for the watchdog; on h->peers while open, else on h->free_peers. */
typedef struct peer {
    struct peer *prev, *next;
    int fd;
    bool cut;                  /* shut down by the watchdog (guarded by watch_lock) */
    _Atomic uint64_t deadline; /* CLOCK_MONOTONIC ns; 0: none */
} peer;

typedef struct metric_slot {
    const char *name;
    _Atomic uint64_t count[N_CLASSES];
    _Atomic uint64_t bucket[N_BOUNDS + 1]; /* not cumulative; the last is > 5 s */
    _Atomic uint64_t sum_ns;
} metric_slot;

struct sr_http {
    struct MHD_Daemon *mhd;
    uint16_t port;
    size_t max_body;
    unsigned stop_wait_ms;
    sr_http_limits lim; /* with the defaults filled in */
    uint64_t header_ns; /* lim.header_timeout_s in ns: also the grace of bodies and answers */
    rl_set *rl;         /* (rl_mask + 1) sets; NULL: no rate limit */
    size_t rl_mask;
    uint64_t rl_seed, rl_step_ns, rl_span_ns; /* XXH3 seed; 1/rate; burst/rate */
    peer *pool;                               /* (lim.max_connections) */
    peer *peers, *free_peers;                 /* guarded by watch_lock */
    pthread_mutex_t watch_lock;
    pthread_cond_t watch_cv;
    pthread_t watcher;
    bool watching, watch_stop; /* watch_stop guarded by watch_lock */
    _Atomic uint64_t limited, cut;
    void *ctx;
    sr_log log;
    bool has_log;
    route *routes; /* (n_routes) */
    size_t n_routes;
    asset *assets; /* (n_assets) */
    size_t n_assets;
    metric_slot *slots; /* (n_slots) */
    size_t n_slots, slot_static, slot_other;
    struct MHD_Response *oom; /* the shared 503 */
    _Atomic long in_flight, connections;
    _Atomic uint64_t aborted;
    atomic_bool stopping;
    pthread_mutex_t log_lock; /* guards start_msg and the log_ fields */
    bool starting;
    char start_msg[512]; /* libmicrohttpd's last words while starting */
    uint64_t log_sec, log_left_out;
    unsigned log_n;
};

/* One request. Allocated with three copies of the raw target after it. */
struct sr__http_conn {
    sr_http *h;
    struct MHD_Connection *mc;
    peer *peer; /* NULL when untracked */
    uint64_t t0, body_t0;
    size_t received; /* body bytes, kept or drained */
    bool started, queued, too_large, oom;
    bool defer;                   /* hold an answer made in begin() for the next call */
    struct MHD_Response *pending; /* that answer */
    int pending_status;
    size_t pending_len;
    size_t max_body, drained, slot;
    const route *rt;
    sr_http_req req;
    const char *params[SR_HTTP_MAX_PARAMS];
    size_t n_segs;
    bool too_deep;
    char *segs[SR_HTTP_MAX_SEGMENTS];
    size_t n_query;
    char *qkey[SR_HTTP_MAX_QUERY], *qval[SR_HTTP_MAX_QUERY];
    char *raw, *split, *full; /* the raw target (cut at '?'), the segments, the whole path */
    sr_buf body;
    sr_http_res res;
};
typedef struct sr__http_conn conn;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *sr_http_method_name(sr_http_method m) {
    return (unsigned)m < SR_HTTP__N_METHODS ? METHOD_NAME[m] : "?";
}

/* ---- decoding --------------------------------------------------------------------- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX (and '+' when plus) in place. False on a bad escape, a %00 or a result
 * that is not valid UTF-8. */
static bool pct_decode(char *s, bool plus) {
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '%') {
            int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);
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

/* Replaces bytes that are not valid UTF-8 with '?' (for messages). */
static void utf8_scrub(char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        if (k && i + k <= n && sr_utf8_valid(s + i, k)) {
            i += k;
        } else {
            s[i++] = '?';
        }
    }
}

/* Splits the path copy into decoded segments ("/" is one empty segment). */
static bool split_path(conn *st) {
    char *p = st->split + 1;
    st->n_segs = 0;
    for (;;) {
        char *slash = strchr(p, '/');
        if (slash) *slash = 0;
        if (!pct_decode(p, false)) return false;
        if (st->n_segs == SR_HTTP_MAX_SEGMENTS) {
            st->too_deep = true;
            return true;
        }
        st->segs[st->n_segs++] = p;
        if (!slash) return true;
        p = slash + 1;
    }
}

/* Splits "a=1&b=x+y" into decoded pairs; empty pieces are skipped. */
static bool split_query(conn *st, char *q) {
    while (q && *q) {
        char *amp = strchr(q, '&');
        if (amp) *amp = 0;
        if (*q) {
            if (st->n_query == SR_HTTP_MAX_QUERY) return false;
            char *eq = strchr(q, '=');
            char *val = eq ? eq + 1 : q + strlen(q);
            if (eq) *eq = 0;
            if (!pct_decode(q, true) || !pct_decode(val, true)) return false;
            st->qkey[st->n_query] = q;
            st->qval[st->n_query++] = val;
        }
        q = amp ? amp + 1 : NULL;
    }
    return true;
}

/* ---- metrics ---------------------------------------------------------------------- */

static void record(sr_http *h, size_t slot, int status, uint64_t ns) {
    metric_slot *m = &h->slots[slot];
    int cls = status / 100 - 2;
    if (cls < 0 || cls >= N_CLASSES) cls = N_CLASSES - 1;
    size_t b = 0;
    while (b < N_BOUNDS && ns > BOUND_NS[b]) b++;
    atomic_fetch_add_explicit(&m->count[cls], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_ns, ns, memory_order_relaxed);
}

static void label(sr_buf *out, const char *s) {
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') sr_buf_addc(out, '\\');
        if (*s == '\n') {
            sr_buf_adds(out, "\\n");
        } else {
            sr_buf_addc(out, *s);
        }
    }
}

static void help(sr_buf *out, const char *name, const char *type, const char *text) {
    sr_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

void sr_http_metrics_text(sr_http *h, sr_buf *out) {
    static const char *const CLASS[N_CLASSES] = {"2xx", "3xx", "4xx", "5xx"};
    const char *req = "songrec_http_requests_total", *dur = "songrec_http_request_duration_seconds";
    help(out, req, "counter", "HTTP requests answered, by route and status class.");
    for (size_t i = 0; i < h->n_slots; i++) {
        for (int c = 0; c < N_CLASSES; c++) {
            sr_buf_printf(out, "%s{route=\"", req);
            label(out, h->slots[i].name);
            sr_buf_printf(out, "\",code=\"%s\"} %llu\n", CLASS[c],
                          (unsigned long long)atomic_load_explicit(&h->slots[i].count[c],
                                                                   memory_order_relaxed));
        }
    }
    help(out, dur, "histogram", "Time from the request line to the response being queued.");
    for (size_t i = 0; i < h->n_slots; i++) {
        metric_slot *m = &h->slots[i];
        uint64_t cum = 0;
        for (int b = 0; b <= N_BOUNDS; b++) {
            cum += atomic_load_explicit(&m->bucket[b], memory_order_relaxed);
            sr_buf_printf(out, "%s_bucket{route=\"", dur);
            label(out, m->name);
            sr_buf_printf(out, "\",le=\"%s\"} %llu\n", BOUND_LE[b], (unsigned long long)cum);
        }
        uint64_t sum = atomic_load_explicit(&m->sum_ns, memory_order_relaxed);
        sr_buf_printf(out, "%s_sum{route=\"", dur);
        label(out, m->name);
        sr_buf_printf(out, "\"} %llu.%09llu\n", (unsigned long long)(sum / 1000000000u),
                      (unsigned long long)(sum % 1000000000u));
        sr_buf_printf(out, "%s_count{route=\"", dur);
        label(out, m->name);
        sr_buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
    }
    help(out, "songrec_http_requests_in_flight", "gauge",
         "Requests being received, handled or sent.");
    sr_buf_printf(out, "songrec_http_requests_in_flight %ld\n", atomic_load(&h->in_flight));
    help(out, "songrec_http_connections", "gauge", "Open client connections.");
    sr_buf_printf(out, "songrec_http_connections %ld\n", atomic_load(&h->connections));
    help(out, "songrec_http_requests_aborted_total", "counter",
         "Requests whose connection ended before the response was sent in full.");
    sr_buf_printf(out, "songrec_http_requests_aborted_total %llu\n",
                  (unsigned long long)atomic_load(&h->aborted));
    help(out, "songrec_http_connections_max", "gauge", "The limit on open client connections.");
    sr_buf_printf(out, "songrec_http_connections_max %u\n", h->lim.max_connections);
    help(out, "songrec_http_rate_limited_total", "counter",
         "Requests answered 429 because their client was over its request rate.");
    sr_buf_printf(out, "songrec_http_rate_limited_total %llu\n",
                  (unsigned long long)atomic_load(&h->limited));
    help(out, "songrec_http_connections_cut_total", "counter",
         "Connections shut down for sending a request or reading an answer too slowly.");
    sr_buf_printf(out, "songrec_http_connections_cut_total %llu\n",
                  (unsigned long long)atomic_load(&h->cut));
}

/* ---- slow clients ----------------------------------------------------------------- */

/* The time bytes take at rate bytes/s, in ns, without overflow. */
static uint64_t bytes_ns(uint64_t bytes, unsigned rate) {
    return bytes / rate * NS + bytes % rate * NS / rate;
}

static void set_deadline(peer *p, uint64_t t) {
    if (p) atomic_store_explicit(&p->deadline, t, memory_order_relaxed);
}

static peer *peer_of(struct MHD_Connection *mc) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The watchdog: every WATCH_MS, shuts down the sockets past their deadline. */
static void *watch(void *arg) {
    sr_http *h = arg;
    pthread_mutex_lock(&h->watch_lock);
    while (!h->watch_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += WATCH_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / NS;
        ts.tv_nsec %= NS;
        pthread_cond_timedwait(&h->watch_cv, &h->watch_lock, &ts);
        uint64_t now = now_ns();
        for (peer *p = h->peers; p; p = p->next) {
            uint64_t d = atomic_load_explicit(&p->deadline, memory_order_relaxed);
            if (!d || now <= d || p->cut) continue;
            /* Counted first: the client may see the end, and the server's side the
             * close, before this thread runs again. */
            p->cut = true;
            atomic_fetch_add(&h->cut, 1);
            shutdown(p->fd, SHUT_RDWR);
        }
    }
    pthread_mutex_unlock(&h->watch_lock);
    return NULL;
}

/* ---- request rate ----------------------------------------------------------------- */

/* The client's key: an IPv4 address (or an IPv4-mapped IPv6 one) as ::ffff:a.b.c.d, an
 * IPv6 address cut to its /64 — the block one subscriber or host usually gets. */
static bool client_key(struct MHD_Connection *mc, uint64_t key[2]) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return false;
    uint8_t b[16] = {0};
    if (ci->client_addr->sa_family == AF_INET) {
        struct sockaddr_in sa;
        memcpy(&sa, ci->client_addr, sizeof sa);
        b[10] = b[11] = 0xff;
        memcpy(b + 12, &sa.sin_addr, 4);
    } else if (ci->client_addr->sa_family == AF_INET6) {
        struct sockaddr_in6 sa;
        memcpy(&sa, ci->client_addr, sizeof sa);
        memcpy(b, &sa.sin6_addr, 16);
        if (!IN6_IS_ADDR_V4MAPPED(&sa.sin6_addr)) memset(b + 8, 0, 8);
    } else {
        return false;
    }
    memcpy(key, b, sizeof b);
    return true;
}

/* 0 when the client may go on, else the whole seconds until it may (Retry-After). */
static unsigned rate_wait(sr_http *h, struct MHD_Connection *mc) {
    uint64_t key[2];
    if (!h->rl || !client_key(mc, key)) return 0;
    rl_set *s = &h->rl[XXH3_64bits_withSeed(key, sizeof key, h->rl_seed) & h->rl_mask];
    uint64_t now = now_ns(), wait = 0;
    pthread_mutex_lock(&s->lock);
    rl_entry *e = NULL, *fullest = &s->way[0];
    for (int i = 0; i < RL_WAYS && !e; i++) {
        rl_entry *w = &s->way[i];
        if (w->tat && w->key[0] == key[0] && w->key[1] == key[1]) e = w;
        if (w->tat < fullest->tat) fullest = w;
    }
    if (!e) {
        e = fullest;
        e->key[0] = key[0];
        e->key[1] = key[1];
        e->tat = 0;
    }
    uint64_t tat = e->tat > now ? e->tat : now;
    if (tat + h->rl_step_ns - now > h->rl_span_ns)
        wait = tat + h->rl_step_ns - h->rl_span_ns - now;
    else
        e->tat = tat + h->rl_step_ns;
    pthread_mutex_unlock(&s->lock);
    return wait ? (unsigned)((wait + NS - 1) / NS) : 0;
}

/* ---- responses -------------------------------------------------------------------- */

static bool res_has(const sr_http_res *res, const char *name) {
    for (size_t i = 0; res && i < res->n_headers; i++) {
        if (!strcasecmp(res->headers[i].name, name)) return true;
    }
    return false;
}

/* The headers every answer carries, after the handler's own. */
static bool add_common(sr_http *h, struct MHD_Response *r, const sr_http_res *res,
                       const char *cache) {
    bool ok = true;
    for (size_t i = 0; res && i < res->n_headers; i++) {
        ok &= MHD_add_response_header(r, res->headers[i].name, res->headers[i].value) == MHD_YES;
    }
    for (size_t i = 0; i < N_SECURITY; i++) {
        if (!res_has(res, SECURITY[i][0]))
            ok &= MHD_add_response_header(r, SECURITY[i][0], SECURITY[i][1]) == MHD_YES;
    }
    if (cache && !res_has(res, "Cache-Control"))
        ok &= MHD_add_response_header(r, "Cache-Control", cache) == MHD_YES;
    if (atomic_load(&h->stopping))
        ok &= MHD_add_response_header(r, "Connection", "close") == MHD_YES;
    return ok;
}

/* Queues r (the queue holds its own reference; a response of ours is dropped after),
 * counts the request. An answer made with the headers of a request without a body is
 * held for the next call: libmicrohttpd closes the connection after an answer queued
 * in the first call, which a request with a body wants (its body is never read) but a
 * plain GET on a keep-alive connection does not. */
static enum MHD_Result queue(conn *st, struct MHD_Connection *mc, int status,
                             struct MHD_Response *r, size_t len) {
    if (st->defer) {
        st->defer = false;
        st->pending = r;
        st->pending_status = status;
        st->pending_len = len;
        return MHD_YES;
    }
    set_deadline(st->peer, now_ns() + st->h->header_ns + bytes_ns(len, st->h->lim.min_rate));
    enum MHD_Result q = MHD_queue_response(mc, (unsigned)status, r);
    if (r != st->h->oom) MHD_destroy_response(r);
    st->queued = true;
    if (q == MHD_YES) record(st->h, st->slot, status, now_ns() - st->t0);
    return q;
}

static enum MHD_Result queue_oom(conn *st, struct MHD_Connection *mc) {
    return queue(st, mc, MHD_HTTP_SERVICE_UNAVAILABLE, st->h->oom, sizeof OOM_BODY - 1);
}

/* Queues res: the handler's answer or an error the core wrote into it. */
static enum MHD_Result send_res(conn *st, struct MHD_Connection *mc, sr_http_res *res) {
    sr_http *h = st->h;
    if (res->status < 200 || res->status > 599) {
        sr_logf(&h->log, SR_LOG_WARN, "http: route %s answered status %d",
                st->rt ? st->rt->name : "-", res->status);
        sr_http_error(res, 500, "the handler gave no valid status");
    }
    if (!sr_buf_ok(&res->body)) return queue_oom(st, mc);
    if (!res->content_type[0] && res->body.n) sr_http_set_type(res, "application/octet-stream");
    int status = res->status;
    size_t len;
    char *data = sr_buf_take(&res->body, &len);
    if (!data) return queue_oom(st, mc);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, data, sr_free);
    if (!r) {
        sr_free(data);
        return queue_oom(st, mc);
    }
    bool ok = !res->content_type[0] ||
              MHD_add_response_header(r, "Content-Type", res->content_type) == MHD_YES;
    if (!ok || !add_common(h, r, res, "no-store")) {
        MHD_destroy_response(r);
        return queue_oom(st, mc);
    }
    return queue(st, mc, status, r, len);
}

/* The JSON error, with one extra header when name is not NULL (Allow, Retry-After). */
static enum MHD_Result send_error(conn *st, struct MHD_Connection *mc, int status, const char *name,
                                  const char *value, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static enum MHD_Result send_error(conn *st, struct MHD_Connection *mc, int status, const char *name,
                                  const char *value, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sr_http_res *res = &st->res;
    sr_http_error(res, status, "%s", msg);
    if (name) sr_http_add_header(res, name, value);
    return send_res(st, mc, res);
}

/* True when the If-None-Match list holds etag (weak or strong) or "*". */
static bool etag_matches(const char *inm, const char *etag) {
    size_t n = strlen(etag);
    for (const char *p = inm; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!strncmp(p, "W/", 2)) p += 2;
        size_t k = strcspn(p, ", \t");
        if ((k == 1 && *p == '*') || (k == n && !memcmp(p, etag, n))) return true;
        p += k;
    }
    return false;
}

static enum MHD_Result send_asset(conn *st, struct MHD_Connection *mc, const asset *a) {
    const char *inm = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "If-None-Match");
    bool fresh = inm && etag_matches(inm, a->etag);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        fresh ? 0 : a->len, fresh ? (void *)"" : (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!r) return queue_oom(st, mc);
    bool ok = MHD_add_response_header(r, "ETag", a->etag) == MHD_YES &&
              (fresh || MHD_add_response_header(r, "Content-Type", a->type) == MHD_YES) &&
              add_common(st->h, r, NULL, "no-cache");
    if (!ok) {
        MHD_destroy_response(r);
        return queue_oom(st, mc);
    }
    return queue(st, mc, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r, fresh ? 0 : a->len);
}

/* ---- routing ---------------------------------------------------------------------- */

static int parse_method(const char *m) {
    for (int i = 0; i < SR_HTTP__N_METHODS; i++) {
        if (!strcmp(m, METHOD_NAME[i])) return i;
    }
    return -1;
}

static bool route_matches(const route *rt, conn *st) {
    if (rt->n_segs != st->n_segs) return false;
    for (size_t i = 0; i < rt->n_segs; i++) {
        const seg *s = &rt->segs[i];
        if (s->capture ? !st->segs[i][0] : strcmp(s->text, st->segs[i]) != 0) return false;
    }
    return true;
}

/* The first route for this path and method (m < 0: a method of none of them); *allow
 * collects the methods (bit per sr_http_method) of routes that match the path. */
static const route *find_route(sr_http *h, conn *st, int m, unsigned *allow) {
    int want = m == SR_HTTP_HEAD ? SR_HTTP_GET : m;
    *allow = 0;
    for (size_t i = 0; i < h->n_routes && !st->too_deep; i++) {
        const route *rt = &h->routes[i];
        if (!route_matches(rt, st)) continue;
        if ((int)rt->method == want) return rt;
        *allow |= 1u << rt->method;
    }
    return NULL;
}

static void allow_text(unsigned mask, char *out, size_t cap) {
    if (mask & (1u << SR_HTTP_GET)) mask |= 1u << SR_HTTP_HEAD;
    out[0] = 0;
    for (int m = 0; m < SR_HTTP__N_METHODS; m++) {
        if (!(mask & (1u << m))) continue;
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", n ? ", " : "", METHOD_NAME[m]);
    }
}

static const asset *find_asset(const sr_http *h, const char *path) {
    if (!strcmp(path, "/")) path = "/index.html";
    for (size_t i = 0; i < h->n_assets; i++) {
        if (!strcmp(h->assets[i].path, path)) return &h->assets[i];
    }
    return NULL;
}

static bool has_body(struct MHD_Connection *mc) {
    if (MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Transfer-Encoding")) return true;
    const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
    return cl && strspn(cl, "0") != strlen(cl);
}

/* Answers 429 (into *q) when the client is over its request rate; true when it did. */
static bool over_rate(conn *st, struct MHD_Connection *mc, enum MHD_Result *q) {
    unsigned wait = rate_wait(st->h, mc);
    if (!wait) return false;
    atomic_fetch_add(&st->h->limited, 1);
    char after[16];
    snprintf(after, sizeof after, "%u", wait);
    *q = send_error(st, mc, 429, "Retry-After", after,
                    "too many requests from this address: try again in %u s", wait);
    return true;
}

/* The headers are in: parse, route, answer what can be answered now. */
static enum MHD_Result begin(conn *st, struct MHD_Connection *mc, const char *method) {
    sr_http *h = st->h;
    st->started = true;
    st->mc = mc;
    st->defer = !has_body(mc);
    set_deadline(st->peer, 0); /* until a body or an answer starts */
    enum MHD_Result q;
    if (over_rate(st, mc, &q)) return q;
    int m = parse_method(method);
    char *qs = strchr(st->raw, '?');
    if (qs) *qs++ = 0;
    size_t n = strlen(st->raw);
    memcpy(st->split, st->raw, n + 1);
    memcpy(st->full, st->raw, n + 1);
    if (st->raw[0] != '/') return send_error(st, mc, 400, NULL, NULL, "the target is not a path");
    if (!pct_decode(st->full, false) || !split_path(st))
        return send_error(st, mc, 400, NULL, NULL, "bad percent-encoding in the path");
    if (!split_query(st, qs)) return send_error(st, mc, 400, NULL, NULL, "bad query string");
    unsigned allow;
    const route *rt = find_route(h, st, m, &allow);
    char allow_buf[64];
    if (rt) {
        st->defer = false;
        st->rt = rt;
        st->slot = rt->slot;
        st->max_body = rt->max_body;
        st->req.method = (sr_http_method)m;
        st->req.route = rt->name;
        st->req.n_params = rt->n_caps;
        for (size_t i = 0, k = 0; i < rt->n_segs; i++) {
            if (rt->segs[i].capture) st->params[k++] = st->segs[i];
        }
        const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            unsigned long long v = strtoull(cl, &end, 10);
            if (end != cl && v > st->max_body)
                return send_error(st, mc, 413, NULL, NULL, "the body is over %zu bytes",
                                  st->max_body);
        }
        st->body_t0 = now_ns();
        if (has_body(mc)) set_deadline(st->peer, st->body_t0 + h->header_ns);
        return MHD_YES; /* the body, then finish() */
    }
    if (allow) {
        allow_text(allow, allow_buf, sizeof allow_buf);
        return send_error(st, mc, 405, "Allow", allow_buf, "method %.32s is not allowed here",
                          method);
    }
    const asset *a = st->too_deep ? NULL : find_asset(h, st->full);
    if (a) {
        st->slot = h->slot_static;
        if (m == SR_HTTP_GET || m == SR_HTTP_HEAD) return send_asset(st, mc, a);
        return send_error(st, mc, 405, "Allow", "GET, HEAD", "method %.32s is not allowed here",
                          method);
    }
    if (m < 0) return send_error(st, mc, 501, NULL, NULL, "method %.32s is not supported", method);
    return send_error(st, mc, 404, NULL, NULL, "no such resource");
}

static enum MHD_Result take_body(conn *st, const char *data, size_t *size) {
    size_t n = *size;
    *size = 0;
    st->received += n;
    set_deadline(st->peer,
                 st->body_t0 + st->h->header_ns + bytes_ns(st->received, st->h->lim.min_rate));
    if (st->too_large || st->oom) {
        st->drained += n;
        return st->drained > DRAIN_MAX ? MHD_NO : MHD_YES;
    }
    if (n > st->max_body - st->body.n) {
        st->too_large = true;
        st->drained = n;
        sr_buf_free(&st->body);
        return MHD_YES;
    }
    sr_buf_add(&st->body, data, n);
    if (!sr_buf_ok(&st->body)) {
        st->oom = true;
        sr_buf_free(&st->body);
    }
    return MHD_YES;
}

/* The whole body is in: run the handler. */
static enum MHD_Result finish(conn *st, struct MHD_Connection *mc) {
    set_deadline(st->peer, 0); /* the handler's time is not the client's */
    if (st->too_large)
        return send_error(st, mc, 413, NULL, NULL, "the body is over %zu bytes", st->max_body);
    if (st->oom) return queue_oom(st, mc);
    st->req.body = st->body.p ? st->body.p : "";
    st->req.body_len = st->body.n;
    st->rt->handler(st->h->ctx, &st->req, &st->res);
    return send_res(st, mc, &st->res);
}

/* ---- libmicrohttpd callbacks ------------------------------------------------------ */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc) {
    sr_http *h = cls;
    size_t n = strlen(uri);
    if (n > (SIZE_MAX - sizeof(conn)) / 3 - 1) return NULL;
    conn *st = sr_malloc(sizeof *st + 3 * (n + 1));
    if (!st) return NULL;
    memset(st, 0, offsetof(conn, res));
    st->res.status = 0;
    st->res.content_type[0] = 0;
    st->res.body = SR_BUF_INIT;
    st->res.n_headers = 0;
    st->h = h;
    st->peer = peer_of(mc);
    st->t0 = now_ns();
    st->slot = h->slot_other;
    st->raw = (char *)(st + 1);
    st->split = st->raw + n + 1;
    st->full = st->split + n + 1;
    memcpy(st->raw, uri, n + 1);
    st->req.path = st->raw;
    st->req.params = st->params;
    st->req.body = "";
    st->req.conn_ = st;
    atomic_fetch_add(&h->in_flight, 1);
    return st;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    sr_http *h = cls;
    conn *st = *con_cls;
    if (!st) /* on_uri ran out of memory: answer without state */
        return MHD_queue_response(mc, MHD_HTTP_SERVICE_UNAVAILABLE, h->oom);
    if (st->queued) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (!st->started) return begin(st, mc, method);
    if (st->pending) {
        struct MHD_Response *r = st->pending;
        *upload_size = 0;
        st->pending = NULL;
        return queue(st, mc, st->pending_status, r, st->pending_len);
    }
    if (*upload_size) return take_body(st, upload, upload_size);
    return finish(st, mc);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    sr_http *h = cls;
    /* The next request on this connection must come in full by then. */
    set_deadline(peer_of(mc), now_ns() + h->header_ns);
    conn *st = *con_cls;
    if (!st) return;
    *con_cls = NULL;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) atomic_fetch_add(&h->aborted, 1);
    if (st->pending && st->pending != h->oom) MHD_destroy_response(st->pending);
    sr_buf_free(&st->body);
    sr_buf_free(&st->res.body);
    sr_free(st);
    atomic_fetch_sub(&h->in_flight, 1);
}

/* Puts a new connection's peer on the watch list, takes a closed one's off. */
static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    sr_http *h = cls;
    bool start = toe == MHD_CONNECTION_NOTIFY_STARTED;
    atomic_fetch_add(&h->connections, start ? 1 : -1);
    const union MHD_ConnectionInfo *ci =
        start ? MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
    peer *p = start ? NULL : *socket_context;
    if (!ci && !p) return; /* untracked: only the idle timeout applies to it */
    pthread_mutex_lock(&h->watch_lock);
    if (start && (p = h->free_peers)) {
        h->free_peers = p->next;
        p->fd = ci->connect_fd;
        p->cut = false;
        atomic_store_explicit(&p->deadline, now_ns() + h->header_ns, memory_order_relaxed);
        p->prev = NULL;
        p->next = h->peers;
        if (h->peers) h->peers->prev = p;
        h->peers = p;
    } else if (!start) {
        if (p->prev) p->prev->next = p->next;
        if (p->next) p->next->prev = p->prev;
        if (h->peers == p) h->peers = p->next;
        p->next = h->free_peers;
        h->free_peers = p;
    }
    pthread_mutex_unlock(&h->watch_lock);
    *socket_context = start ? p : NULL;
}

/* libmicrohttpd's words: kept while starting (for the diagnostic), else logged — at
 * most LOG_PER_SEC a second, so that a flood of bad clients cannot flood the log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    sr_http *h = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    uint64_t sec = now_ns() / NS, left_out = 0;
    pthread_mutex_lock(&h->log_lock);
    bool starting = h->starting, say = starting;
    if (starting) snprintf(h->start_msg, sizeof h->start_msg, "%s", msg);
    if (!starting && sec != h->log_sec) {
        left_out = h->log_left_out;
        h->log_sec = sec;
        h->log_n = h->log_left_out = 0;
    }
    if (!starting && !(say = h->log_n < LOG_PER_SEC)) h->log_left_out++;
    if (say && !starting) h->log_n++;
    pthread_mutex_unlock(&h->log_lock);
    if (left_out)
        sr_logf(&h->log, SR_LOG_INFO, "http: %llu more libmicrohttpd messages left out",
                (unsigned long long)left_out);
    if (say) sr_logf(&h->log, starting ? SR_LOG_WARN : SR_LOG_INFO, "http: %s", msg);
}

/* ---- setup ------------------------------------------------------------------------ */

static bool is_ident(const char *s, size_t n) {
    if (!n) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

/* Copies and splits one pattern ("/a/{id}/b"). */
static sr_err parse_pattern(route *rt, const char *pattern, sr_diag *d) {
    if (!pattern || pattern[0] != '/')
        return sr_diag_set(d, SR_E_USAGE, "route pattern %s does not start with '/'",
                           pattern ? pattern : "(null)");
    if (!(rt->pattern = sr_strdup(pattern))) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    char *p = rt->pattern + 1;
    for (;;) {
        char *slash = strchr(p, '/');
        if (slash) *slash = 0;
        if (rt->n_segs == SR_HTTP_MAX_SEGMENTS)
            return sr_diag_set(d, SR_E_USAGE, "route %s: too many segments", pattern);
        seg *s = &rt->segs[rt->n_segs++];
        size_t n = strlen(p);
        s->text = p;
        if (n && p[0] == '{' && p[n - 1] == '}' && is_ident(p + 1, n - 2)) {
            p[n - 1] = 0;
            s->text = p + 1;
            s->capture = true;
            for (size_t i = 0; i < rt->n_caps; i++) {
                if (!strcmp(rt->caps[i], s->text))
                    return sr_diag_set(d, SR_E_USAGE, "route %s: {%s} twice", pattern, s->text);
            }
            if (rt->n_caps == SR_HTTP_MAX_PARAMS)
                return sr_diag_set(d, SR_E_USAGE, "route %s: too many captures", pattern);
            rt->caps[rt->n_caps++] = s->text;
        } else if (strpbrk(p, "{}%?#")) {
            return sr_diag_set(d, SR_E_USAGE, "route %s: bad segment '%s'", pattern, p);
        }
        if (!slash) return SR_OK;
        p = slash + 1;
    }
}

/* The metric slot named name, added when new. */
static size_t slot_for(sr_http *h, const char *name) {
    for (size_t i = 0; i < h->n_slots; i++) {
        if (!strcmp(h->slots[i].name, name)) return i;
    }
    h->slots[h->n_slots].name = name;
    return h->n_slots++;
}

static sr_err build_routes(sr_http *h, const sr_http_config *cfg, sr_diag *d) {
    if (cfg->n_routes && !(h->routes = sr_calloc(cfg->n_routes, sizeof *h->routes)))
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const sr_http_route *in = &cfg->routes[i];
        route *rt = &h->routes[h->n_routes++];
        if ((unsigned)in->method >= SR_HTTP__N_METHODS || in->method == SR_HTTP_HEAD ||
            !in->handler)
            return sr_diag_set(d, SR_E_USAGE, "route %s: bad method or no handler",
                               in->pattern ? in->pattern : "(null)");
        sr_err e = parse_pattern(rt, in->pattern, d);
        if (e) return e;
        const char *name = in->name ? in->name : in->pattern;
        for (const char *c = name; *c; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return sr_diag_set(d, SR_E_USAGE, "route %s: bad name", in->pattern);
        }
        if (!(rt->name = sr_strdup(name))) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
        rt->method = in->method;
        rt->handler = in->handler;
        rt->max_body = in->max_body ? in->max_body : h->max_body;
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(cfg->routes[j].pattern, in->pattern) && cfg->routes[j].method == in->method)
                return sr_diag_set(d, SR_E_USAGE, "route %s %s given twice",
                                   METHOD_NAME[in->method], in->pattern);
        }
    }
    return SR_OK;
}

static sr_err build_assets(sr_http *h, const sr_http_config *cfg, sr_diag *d) {
    if (cfg->n_assets && !(h->assets = sr_calloc(cfg->n_assets, sizeof *h->assets)))
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < cfg->n_assets; i++) {
        const sr_http_asset *in = &cfg->assets[i];
        asset *a = &h->assets[h->n_assets++];
        if (!in->path || in->path[0] != '/' || !in->content_type || (in->len && !in->data))
            return sr_diag_set(d, SR_E_USAGE, "asset %s: bad path, type or data",
                               in->path ? in->path : "(null)");
        if (!(a->path = sr_strdup(in->path)) || !(a->type = sr_strdup(in->content_type)))
            return sr_diag_set(d, SR_E_NOMEM, "out of memory");
        a->data = in->len ? in->data : "";
        a->len = in->len;
        snprintf(a->etag, sizeof a->etag, "\"%016llx\"",
                 (unsigned long long)XXH3_64bits(a->data, a->len));
    }
    return SR_OK;
}

static sr_err build_slots(sr_http *h, sr_diag *d) {
    if (!(h->slots = sr_calloc(h->n_routes + 2, sizeof *h->slots)))
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < h->n_routes; i++) h->routes[i].slot = slot_for(h, h->routes[i].name);
    h->slot_static = slot_for(h, "static");
    h->slot_other = slot_for(h, "other");
    return SR_OK;
}

static sr_err build_oom(sr_http *h, sr_diag *d) {
    h->oom = MHD_create_response_from_buffer(sizeof OOM_BODY - 1, (void *)OOM_BODY,
                                             MHD_RESPMEM_PERSISTENT);
    bool ok = h->oom && MHD_add_response_header(h->oom, "Content-Type", SR_HTTP_JSON_TYPE) &&
              MHD_add_response_header(h->oom, "Retry-After", "1") &&
              add_common(h, h->oom, NULL, "no-store");
    return ok ? SR_OK : sr_diag_set(d, SR_E_NOMEM, "out of memory");
}

/* The descriptors this process may open (RLIMIT_NOFILE's soft limit). */
static uint64_t fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

/* Fills h->lim from cfg's limits and the defaults; checks the rate. */
static sr_err resolve_limits(sr_http *h, const sr_http_limits *in, unsigned threads, sr_diag *d) {
    sr_http_limits *l = &h->lim;
    *l = *in;
    if (!l->timeout_s) l->timeout_s = DEFAULT_TIMEOUT_S;
    if (!l->header_timeout_s) l->header_timeout_s = DEFAULT_HEADER_TIMEOUT;
    if (!l->min_rate) l->min_rate = DEFAULT_MIN_RATE;
    if (!l->max_per_ip) l->max_per_ip = DEFAULT_MAX_PER_IP;
    if (!l->conn_memory) l->conn_memory = DEFAULT_CONN_MEMORY;
    if (!l->rate_clients) l->rate_clients = DEFAULT_RATE_CLIENTS;
    uint64_t fds = fd_limit();
    uint64_t cap = fds > SR_HTTP_FD_RESERVE + 64 ? fds - SR_HTTP_FD_RESERVE : 64;
    if (!l->max_connections) l->max_connections = SR_HTTP_MAX_CONNECTIONS;
    if (l->max_connections > cap) {
        if (in->max_connections)
            sr_logf(&h->log, SR_LOG_WARN,
                    "http: %u connections need more file descriptors than the limit of %llu: "
                    "allowing %llu",
                    in->max_connections, (unsigned long long)fds, (unsigned long long)cap);
        l->max_connections = (unsigned)cap;
    }
    if (l->max_connections < threads) l->max_connections = threads;
    h->header_ns = (uint64_t)l->header_timeout_s * NS;
    if (l->rate != l->rate || (l->rate > 0 && l->rate < MIN_RATE))
        return sr_diag_set(d, SR_E_USAGE, "the request rate must be at least %g per second",
                           MIN_RATE);
    if (l->rate < 0) {
        l->rate = SR_HTTP_NO_RATE_LIMIT;
        l->burst = 0;
        return SR_OK;
    }
    if (l->rate == 0) l->rate = DEFAULT_RATE;
    if (!l->burst) l->burst = l->rate * 2 >= 1 ? (unsigned)(l->rate * 2 + 0.5) : 1;
    double step = (double)NS / l->rate;
    h->rl_step_ns = step < 1 ? 1 : (uint64_t)step;
    /* burst/rate, at most 2^62 ns (146 years) so that tat + step never wraps */
    uint64_t most = (uint64_t)1 << 62;
    h->rl_span_ns = l->burst > most / h->rl_step_ns ? most : h->rl_step_ns * l->burst;
    return SR_OK;
}

/* The rate table: rate_clients entries rounded up to a power of two of sets. */
static sr_err build_rate(sr_http *h, sr_diag *d) {
    if (h->lim.rate < 0) return SR_OK;
    size_t sets = 1;
    while (sets * RL_WAYS < h->lim.rate_clients) sets *= 2;
    if (!(h->rl = sr_calloc(sets, sizeof *h->rl)))
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < sets; i++) pthread_mutex_init(&h->rl[i].lock, NULL);
    h->rl_mask = sets - 1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h->rl_seed = XXH3_64bits(&ts, sizeof ts) ^ (uint64_t)(uintptr_t)h;
    return SR_OK;
}

/* The peer pool (one per allowed connection) and the watchdog thread. */
static sr_err build_watch(sr_http *h, sr_diag *d) {
    if (!(h->pool = sr_calloc(h->lim.max_connections, sizeof *h->pool)))
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    for (size_t i = h->lim.max_connections; i-- > 0;) {
        h->pool[i].next = h->free_peers;
        h->free_peers = &h->pool[i];
    }
    if (pthread_create(&h->watcher, NULL, watch, h) != 0)
        return sr_diag_set(d, SR_E_NOMEM, "cannot start the connection watchdog thread");
    h->watching = true;
    return SR_OK;
}

static void stop_watch(sr_http *h) {
    if (!h->watching) return;
    pthread_mutex_lock(&h->watch_lock);
    h->watch_stop = true;
    pthread_cond_signal(&h->watch_cv);
    pthread_mutex_unlock(&h->watch_lock);
    pthread_join(h->watcher, NULL);
    h->watching = false;
}

static unsigned default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    return n * 2 > (long)MAX_THREADS ? MAX_THREADS : (unsigned)n * 2;
}

static sr_err run_daemon(sr_http *h, const sr_http_config *cfg, unsigned threads, sr_diag *d) {
    const char *bind = cfg->bind ? cfg->bind : "127.0.0.1";
    struct sockaddr_in sa4;
    struct sockaddr_in6 sa6;
    memset(&sa4, 0, sizeof sa4);
    memset(&sa6, 0, sizeof sa6);
#ifdef __linux__
    unsigned poll = MHD_USE_EPOLL; /* no FD_SETSIZE cap, O(ready) wake-ups */
#else
    unsigned poll = MHD_USE_AUTO;
#endif
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | poll | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct sockaddr *sa = (struct sockaddr *)&sa4;
    if (inet_pton(AF_INET, bind, &sa4.sin_addr) == 1) {
        sa4.sin_family = AF_INET;
        sa4.sin_port = htons(cfg->port);
    } else if (inet_pton(AF_INET6, bind, &sa6.sin6_addr) == 1) {
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons(cfg->port);
        sa = (struct sockaddr *)&sa6;
        flags |= MHD_USE_IPv6;
    } else {
        return sr_diag_set(d, SR_E_USAGE, "bind address %s is not an IP address", bind);
    }
    const sr_http_limits *l = &h->lim;
    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, h},
        {MHD_OPTION_SOCK_ADDR, 0, sa},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, h},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h},
        {MHD_OPTION_CONNECTION_TIMEOUT, l->timeout_s, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, l->max_connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, l->max_per_ip, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)l->conn_memory, NULL},
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    pthread_mutex_lock(&h->log_lock);
    h->starting = true;
    pthread_mutex_unlock(&h->log_lock);
    h->mhd = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, ops,
                              MHD_OPTION_END);
    pthread_mutex_lock(&h->log_lock);
    h->starting = false;
    pthread_mutex_unlock(&h->log_lock);
    if (!h->mhd)
        return sr_diag_set(d, SR_E_IO, "cannot listen on %s port %u: %s", bind, cfg->port,
                           h->start_msg[0] ? h->start_msg : "libmicrohttpd failed to start");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : cfg->port;
    return SR_OK;
}

static void free_server(sr_http *h) {
    for (size_t i = 0; i < h->n_routes; i++) {
        sr_free(h->routes[i].pattern);
        sr_free(h->routes[i].name);
    }
    for (size_t i = 0; i < h->n_assets; i++) {
        sr_free(h->assets[i].path);
        sr_free(h->assets[i].type);
    }
    if (h->oom) MHD_destroy_response(h->oom);
    stop_watch(h);
    for (size_t i = 0; h->rl && i <= h->rl_mask; i++) pthread_mutex_destroy(&h->rl[i].lock);
    pthread_mutex_destroy(&h->log_lock);
    pthread_mutex_destroy(&h->watch_lock);
    pthread_cond_destroy(&h->watch_cv);
    sr_free(h->rl);
    sr_free(h->pool);
    sr_free(h->routes);
    sr_free(h->assets);
    sr_free(h->slots);
    sr_free(h);
}

sr_err sr_http_start(const sr_http_config *cfg, sr_http **out, sr_diag *d) {
    *out = NULL;
    sr_http *h = sr_calloc(1, sizeof *h);
    if (!h) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    pthread_mutex_init(&h->log_lock, NULL);
    pthread_mutex_init(&h->watch_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->watch_cv, &ca);
    pthread_condattr_destroy(&ca);
    h->max_body = cfg->max_body ? cfg->max_body : DEFAULT_MAX_BODY;
    h->stop_wait_ms = cfg->stop_wait_ms ? cfg->stop_wait_ms : DEFAULT_STOP_WAIT;
    h->ctx = cfg->ctx;
    if (cfg->log) h->log = *cfg->log;
    unsigned threads = cfg->threads ? cfg->threads : default_threads();
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    sr_err e = resolve_limits(h, &cfg->limits, threads, d);
    if (!e) e = build_routes(h, cfg, d);
    if (!e) e = build_assets(h, cfg, d);
    if (!e) e = build_slots(h, d);
    if (!e) e = build_oom(h, d);
    if (!e) e = build_rate(h, d);
    if (!e) e = build_watch(h, d);
    if (!e) e = run_daemon(h, cfg, threads, d);
    if (e) {
        free_server(h);
        return e;
    }
    *out = h;
    return SR_OK;
}

uint16_t sr_http_port(const sr_http *h) {
    return h->port;
}

void sr_http_stop(sr_http *h) {
    if (!h) return;
    atomic_store(&h->stopping, true);
    MHD_socket ls = MHD_quiesce_daemon(h->mhd);
    uint64_t deadline = now_ns() + (uint64_t)h->stop_wait_ms * 1000000u;
    while (atomic_load(&h->in_flight) > 0 && now_ns() < deadline) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    stop_watch(h);
    MHD_stop_daemon(h->mhd);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    if (h->log_left_out)
        sr_logf(&h->log, SR_LOG_INFO, "http: %llu more libmicrohttpd messages left out",
                (unsigned long long)h->log_left_out);
    free_server(h);
}

/* ---- handler helpers -------------------------------------------------------------- */

const char *sr_http_param(const sr_http_req *req, const char *name) {
    const route *rt = req->conn_->rt;
    for (size_t i = 0; rt && i < rt->n_caps; i++) {
        if (!strcmp(rt->caps[i], name)) return req->params[i];
    }
    return NULL;
}

const char *sr_http_query(const sr_http_req *req, const char *key) {
    const conn *st = req->conn_;
    for (size_t i = 0; i < st->n_query; i++) {
        if (!strcmp(st->qkey[i], key)) return st->qval[i];
    }
    return NULL;
}

bool sr_http_query_at(const sr_http_req *req, size_t i, const char **key, const char **value) {
    const conn *st = req->conn_;
    if (i >= st->n_query) return false;
    *key = st->qkey[i];
    *value = st->qval[i];
    return true;
}

const char *sr_http_header_get(const sr_http_req *req, const char *name) {
    return MHD_lookup_connection_value(req->conn_->mc, MHD_HEADER_KIND, name);
}

static bool has_ctl(const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
    }
    return false;
}

sr_err sr_http_set_type(sr_http_res *res, const char *content_type) {
    size_t n = strlen(content_type);
    if (n >= sizeof res->content_type) return SR_E_LIMIT;
    if (has_ctl(content_type)) return SR_E_INPUT;
    memcpy(res->content_type, content_type, n + 1);
    return SR_OK;
}

static bool is_token(const char *s) {
    if (!*s) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c)) return false;
    }
    return true;
}

sr_err sr_http_add_header(sr_http_res *res, const char *name, const char *value) {
    static const char *const OWNED[] = {"Content-Length", "Transfer-Encoding", "Connection", "Date",
                                        "Keep-Alive"};
    if (!is_token(name) || has_ctl(value)) return SR_E_INPUT;
    for (size_t i = 0; i < sizeof OWNED / sizeof OWNED[0]; i++) {
        if (!strcasecmp(name, OWNED[i])) return SR_E_INPUT;
    }
    if (!strcasecmp(name, "Content-Type")) return sr_http_set_type(res, value);
    size_t nn = strlen(name), nv = strlen(value);
    if (res->n_headers == SR_HTTP_MAX_HEADERS || nn >= SR_HTTP_HEADER_NAME_MAX ||
        nv >= SR_HTTP_HEADER_MAX)
        return SR_E_LIMIT;
    sr_http_header *hd = &res->headers[res->n_headers++];
    memcpy(hd->name, name, nn + 1);
    memcpy(hd->value, value, nv + 1);
    return SR_OK;
}

void sr_http_body(sr_http_res *res, int status, const char *content_type, const void *data,
                  size_t len) {
    sr_buf_reset(&res->body);
    sr_buf_add(&res->body, data, len);
    res->status = status;
    if (!content_type || sr_http_set_type(res, content_type)) res->content_type[0] = 0;
}

static int dump_cb(const char *p, size_t n, void *data) {
    sr_buf_add(data, p, n);
    return sr_buf_ok(data) ? 0 : -1;
}

void sr_http_json(sr_http_res *res, int status, json_t *v) {
    static const char FAIL[] = "{\"error\":{\"status\":500,\"message\":\"cannot build the "
                               "response\"}}";
    sr_buf_reset(&res->body);
    sr_http_set_type(res, SR_HTTP_JSON_TYPE);
    res->status = status;
    if (v && json_dump_callback(v, dump_cb, &res->body, JSON_COMPACT) == 0) {
        json_decref(v);
        return;
    }
    json_decref(v);
    if (!sr_buf_ok(&res->body)) return; /* out of memory: the server answers 503 */
    sr_buf_reset(&res->body);
    sr_buf_add(&res->body, FAIL, sizeof FAIL - 1);
    res->status = 500;
}

void sr_http_error(sr_http_res *res, int status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_scrub(msg);
    sr_http_json(res, status,
                 json_pack("{s:{s:i,s:s}}", "error", "status", status, "message", msg));
}
