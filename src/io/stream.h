/* A buffered byte stream with peek, and a line reader on top of it.
 *
 * sr_stream wraps any source that can fill a buffer (a file descriptor, a libarchive
 * member, memory). Readers use either the line API (sr_lines_next) or peek/consume
 * (the streaming JSON array splitter). The buffer grows up to max_line + slack, so a
 * line longer than max_line (default 1 MiB) is reported as too long and skipped without
 * holding it in memory.
 *
 * Ownership: the stream borrows its source; lines point into the stream's buffer and
 * are valid until the next call on the stream.
 */
#ifndef SR_STREAM_H
#define SR_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"
#include "util/str.h"

#define SR_MAX_LINE (1u << 20)

/* Fills buf with up to cap bytes; returns the count (0 at end) or a negative sr_err,
 * writing words into d. */
typedef ssize_t (*sr_fill_fn)(void *src, void *buf, size_t cap, sr_diag *d);

typedef struct sr_stream {
    sr_fill_fn fill;
    void *src;
    unsigned char *buf; /* (cap) bytes; data is buf[pos, len) */
    size_t cap, pos, len;
    uint64_t offset; /* stream offset of buf[0] */
    bool eof;
    sr_err err; /* sticky error from fill */
    sr_diag err_diag;
    uint64_t line; /* lines returned so far (1-based number of the last line) */
} sr_stream;

sr_err sr_stream_init(sr_stream *s, sr_fill_fn fill, void *src);
/* A stream over memory (borrowed; no copy made beyond the buffer). */
sr_err sr_stream_init_mem(sr_stream *s, const void *data, size_t n);
void sr_stream_deinit(sr_stream *s);

/* Makes at least want bytes available (fewer at the end); *p points at them.
 * Returns the count available (0 at end) or a negative sr_err. want <= SR_MAX_LINE*2. */
ssize_t sr_stream_peek(sr_stream *s, size_t want, const unsigned char **p);
void sr_stream_consume(sr_stream *s, size_t n);
/* Reads up to n bytes. Returns the count (0 at end) or a negative sr_err. */
ssize_t sr_stream_read(sr_stream *s, void *buf, size_t n);
/* Offset of the next unread byte. */
static inline uint64_t sr_stream_tell(const sr_stream *s) {
    return s->offset + s->pos;
}

enum { SR_LINE_END = 0, SR_LINE_OK = 1, SR_LINE_TOO_LONG = 2 };
/* Next line without its "\n" (and a "\r" before it). Returns SR_LINE_OK with *line set,
 * SR_LINE_TOO_LONG when the line exceeded SR_MAX_LINE (its bytes are skipped; *line
 * empty), SR_LINE_END at the end, or a negative sr_err (e.g. a truncated compressed
 * stream). s->line is the 1-based number of the line returned. A final line without
 * "\n" is returned as a line. */
int sr_lines_next(sr_stream *s, sr_str *line);

#endif
