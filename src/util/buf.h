/* A growable byte buffer: what an exporter or an HTTP handler writes a response into.
 *
 * Errors are sticky: once an append fails for lack of memory, every later append is a
 * no-op and sr_buf_ok() is false, so a writer appends freely and checks once at the
 * end. The bytes are always NUL-terminated (p[n] == 0) when p is not NULL, so text can
 * be used as a C string. sr_buf_free releases the memory and resets the buffer;
 * sr_buf_take hands the bytes to the caller (free with sr_free).
 */
#ifndef SR_BUF_H
#define SR_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sr_buf {
    char *p;
    size_t n, cap;
    bool failed;
} sr_buf;

#define SR_BUF_INIT ((sr_buf){NULL, 0, 0, false})

void sr_buf_add(sr_buf *b, const void *data, size_t n);
void sr_buf_adds(sr_buf *b, const char *s); /* a C string */
void sr_buf_addc(sr_buf *b, char c);
void sr_buf_printf(sr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for n more bytes (sticky failure as above); true when there is room. */
bool sr_buf_reserve(sr_buf *b, size_t n);
static inline bool sr_buf_ok(const sr_buf *b) {
    return !b->failed;
}
void sr_buf_reset(sr_buf *b); /* length 0, memory kept, failure cleared */
void sr_buf_free(sr_buf *b);
/* The bytes (NUL-terminated; an empty buffer gives an allocated "") or NULL when an
 * append failed or memory runs out; the buffer is reset to empty either way. */
char *sr_buf_take(sr_buf *b, size_t *n);

#endif
