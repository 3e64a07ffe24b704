/* A tiny blocking HTTP/1.1 client for tests: connect to 127.0.0.1 (from any loopback
 * address, so one test can be many clients), send raw request
 * bytes, read one response at a time (status, headers, body by Content-Length, chunked
 * or until close). Responses to HEAD and 1xx/204/304 have no body; the caller says
 * which requests were HEAD. Bytes past one response stay buffered for the next, so
 * keep-alive and pipelining work.
 *
 * Test code only: plain malloc, and failures are reported (-1), never asserted, so a
 * test can check a refused or dropped connection. Every socket has a 10 s receive
 * timeout so a hung server fails the test instead of hanging it.
 */
#ifndef SR_TEST_HTTP_CLIENT_H
#define SR_TEST_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define HC_MAX_HEADERS 64

typedef struct hc_conn {
    int fd;
    char *buf; /* received, not yet consumed: buf[off, len) */
    size_t len, off, cap;
} hc_conn;

typedef struct hc_resp {
    int status;
    size_t n_headers;
    char *names[HC_MAX_HEADERS], *values[HC_MAX_HEADERS]; /* point into head */
    char *head;
    char *body; /* (body_len) bytes, NUL-terminated */
    size_t body_len;
} hc_resp;

/* Connects from the loopback address `from` ("127.0.0.2"; NULL: any) to
 * 127.0.0.1:port; false when refused. Linux routes all of 127.0.0.0/8 to the loopback,
 * so a test can be many clients. */
static inline bool hc_open_from(hc_conn *c, uint16_t port, const char *from) {
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) return false;
    struct timeval tv = {10, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (from) {
        struct sockaddr_in src;
        memset(&src, 0, sizeof src);
        src.sin_family = AF_INET;
        if (inet_pton(AF_INET, from, &src.sin_addr) != 1 ||
            bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0) {
            close(c->fd);
            c->fd = -1;
            return false;
        }
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(c->fd);
        c->fd = -1;
        return false;
    }
    return true;
}

/* Connects to 127.0.0.1:port; false when refused. */
static inline bool hc_open(hc_conn *c, uint16_t port) {
    return hc_open_from(c, port, NULL);
}

/* Connects to [::1]:port; false when refused or without IPv6. */
static inline bool hc_open6(hc_conn *c, uint16_t port) {
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (c->fd < 0) return false;
    struct timeval tv = {10, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    sa.sin6_addr = in6addr_loopback;
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(c->fd);
        c->fd = -1;
        return false;
    }
    return true;
}

static inline void hc_close(hc_conn *c) {
    if (c->fd >= 0) close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static inline bool hc_send(hc_conn *c, const void *p, size_t n) {
    const char *s = p;
    while (n) {
        ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL);
        if (k <= 0) return false;
        s += k;
        n -= (size_t)k;
    }
    return true;
}

static inline bool hc_sends(hc_conn *c, const char *s) {
    return hc_send(c, s, strlen(s));
}

/* Forgets the consumed bytes when there is nothing else buffered. */
static inline void hc_rewind(hc_conn *c) {
    if (c->off != c->len) return;
    c->off = c->len = 0;
    if (c->buf) c->buf[0] = 0;
}

/* Reads more bytes into the buffer; false on close, error or timeout. */
static inline bool hc_fill(hc_conn *c) {
    hc_rewind(c);
    if (c->len + 65536 + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 131072;
        char *b = realloc(c->buf, cap);
        if (!b) return false;
        c->buf = b;
        c->cap = cap;
    }
    ssize_t k = recv(c->fd, c->buf + c->len, 65536, 0);
    if (k <= 0) return false;
    c->len += (size_t)k;
    c->buf[c->len] = 0;
    return true;
}

/* Waits for n unconsumed bytes. */
static inline bool hc_need(hc_conn *c, size_t n) {
    while (c->len - c->off < n) {
        if (!hc_fill(c)) return false;
    }
    return true;
}

/* The next CRLF-terminated line (consumed; returned without the CRLF), or NULL. */
static inline char *hc_line(hc_conn *c) {
    for (;;) {
        char *start = c->buf ? c->buf + c->off : NULL;
        char *eol = start ? strstr(start, "\r\n") : NULL;
        if (eol) {
            *eol = 0;
            c->off = (size_t)(eol + 2 - c->buf);
            return start;
        }
        if (!hc_fill(c)) return NULL;
    }
}

static inline void hc_resp_free(hc_resp *r) {
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static inline const char *hc_header(const hc_resp *r, const char *name) {
    for (size_t i = 0; i < r->n_headers; i++) {
        if (!strcasecmp(r->names[i], name)) return r->values[i];
    }
    return NULL;
}

static inline bool hc_body_add(hc_resp *r, const char *p, size_t n) {
    char *b = realloc(r->body, r->body_len + n + 1);
    if (!b) return false;
    memcpy(b + r->body_len, p, n);
    r->body = b;
    r->body_len += n;
    b[r->body_len] = 0;
    return true;
}

/* Takes n buffered-or-incoming bytes as body. */
static inline bool hc_take(hc_conn *c, hc_resp *r, size_t n) {
    while (n) {
        if (c->len == c->off && !hc_fill(c)) return false;
        size_t k = c->len - c->off < n ? c->len - c->off : n;
        if (!hc_body_add(r, c->buf + c->off, k)) return false;
        c->off += k;
        n -= k;
    }
    return true;
}

static inline bool hc_chunked(hc_conn *c, hc_resp *r) {
    for (;;) {
        char *line = hc_line(c);
        if (!line) return false;
        size_t n = strtoul(line, NULL, 16);
        if (n == 0) break;
        if (!hc_take(c, r, n) || !hc_line(c)) return false;
    }
    for (char *line; (line = hc_line(c)) && *line;) {
    }
    return true;
}

/* Reads one response. 0, or -1 when the connection closed or the bytes are not a
 * response. */
static inline int hc_read(hc_conn *c, bool head_request, hc_resp *r) {
    memset(r, 0, sizeof *r);
    hc_rewind(c);
    size_t start = c->off;
    for (;;) {
        char *p = c->buf ? strstr(c->buf + c->off, "\r\n\r\n") : NULL;
        if (p) {
            size_t n = (size_t)(p + 4 - (c->buf + start));
            r->head = malloc(n + 1);
            if (!r->head) return -1;
            memcpy(r->head, c->buf + start, n);
            r->head[n] = 0;
            c->off = start + n;
            break;
        }
        if (!hc_fill(c)) return -1;
    }
    char *save, *line = strtok_r(r->head, "\r\n", &save);
    if (!line || sscanf(line, "HTTP/1.%*d %d", &r->status) != 1) return -1;
    while ((line = strtok_r(NULL, "\r\n", &save)) && r->n_headers < HC_MAX_HEADERS) {
        char *colon = strchr(line, ':');
        if (!colon) return -1;
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ') v++;
        r->names[r->n_headers] = line;
        r->values[r->n_headers++] = v;
    }
    if (!hc_body_add(r, "", 0)) return -1;
    if (head_request || r->status < 200 || r->status == 204 || r->status == 304) return 0;
    const char *te = hc_header(r, "Transfer-Encoding"), *cl = hc_header(r, "Content-Length");
    if (te && strstr(te, "chunked")) return hc_chunked(c, r) ? 0 : -1;
    if (cl) return hc_take(c, r, strtoul(cl, NULL, 10)) ? 0 : -1;
    while (hc_fill(c)) {
    }
    bool ok = hc_body_add(r, c->buf + c->off, c->len - c->off);
    c->off = c->len;
    return ok ? 0 : -1;
}

/* One request on a fresh connection. */
static inline int hc_request(uint16_t port, const char *raw, size_t n, hc_resp *r) {
    hc_conn c;
    memset(r, 0, sizeof *r);
    if (!hc_open(&c, port)) return -1;
    int rc = hc_send(&c, raw, n) ? hc_read(&c, !strncmp(raw, "HEAD ", 5), r) : -1;
    hc_close(&c);
    return rc;
}

/* "GET path" on a fresh connection. */
static inline int hc_get(uint16_t port, const char *path, hc_resp *r) {
    char raw[4096];
    snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    return hc_request(port, raw, strlen(raw), r);
}

/* True when the server closes the connection (reads give EOF) within the timeout. */
static inline bool hc_closed(hc_conn *c) {
    char b[4096];
    for (;;) {
        ssize_t k = recv(c->fd, b, sizeof b, 0);
        if (k == 0) return true;
        if (k < 0) return false;
    }
}

/* Without waiting: true when the server has ended the connection (EOF or a reset; bytes
 * it sent before are read and dropped). */
static inline bool hc_gone(hc_conn *c) {
    char b[4096];
    for (;;) {
        ssize_t k = recv(c->fd, b, sizeof b, MSG_DONTWAIT);
        if (k == 0) return true;
        if (k < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    }
}

#endif
