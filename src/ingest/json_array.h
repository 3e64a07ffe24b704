/* Streaming splitter for a top-level JSON array, and JSON helpers for detection.
 *
 * sr_json_array_next yields the bytes of one element of `[ e1, e2, ... ]` at a time,
 * read from an sr_stream with peek/consume, so a multi-GB export is read in constant
 * memory: the splitter tracks strings, escapes and bracket nesting (a bit stack, so a
 * mismatched `}`/`]` is caught) and never holds more than one element. Each element is
 * then parsed alone (sr_lb_extract, json_loadb). An element longer than SR_MAX_LINE
 * (1 MiB) is passed over in pieces and reported as SR_JA_TOO_LONG. The element's own
 * syntax is not checked here; the element parser reports it as a skip. The array's
 * syntax (commas, brackets, the end) is checked: a document that is not a well-formed
 * array fails with SR_E_INPUT, one that ends before its closing ']' with SR_E_TRUNCATED
 * (so the ingest driver counts it as truncated), both with "label: ... at byte N" in the
 * diagnostic, after the elements before the fault were returned (trap 2 of
 * listen-formats.md).
 *
 * With SR_JSON_ARRAY_PAYLOAD, a document that is an object instead is read whole (up to
 * 64 MiB: a ListenBrainz API response page or a submit-listens body), parsed with
 * jansson, and the array at payload.listens (or payload itself) is walked; elements then
 * come as parsed values rather than bytes.
 *
 * Each element comes with the line on which it starts (a->line), so that a bad record
 * is reported as "file:line" in a pretty-printed export as in a compact one: the
 * splitter counts the newlines of the bytes it delimits, and for a whole document the
 * element starts are found once in its text (jansson keeps no positions).
 *
 * Ownership: element bytes point into the stream's buffer and values into the parsed
 * document; both are valid until the next call or close.
 */
#ifndef SR_JSON_ARRAY_H
#define SR_JSON_ARRAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/reader.h"
#include "io/stream.h"

#define SR_JSON_ARRAY_PAYLOAD 1u /* accept {"payload": {"listens": [...]}} */
#define SR_JSON_DOC_MAX       (64u << 20)
#define SR_JSON_MAX_DEPTH     1024

enum { SR_JA_END = 0, SR_JA_ELEMENT = 1, SR_JA_TOO_LONG = 2 };

typedef struct sr_json_array {
    sr_stream *in;
    const char *label; /* for messages */
    uint64_t index;    /* 1-based index of the element last returned */
    uint64_t start;    /* stream offset of that element */
    uint64_t line;     /* 1-based line of the input on which that element starts (for an
                          API document whose array cannot be found as written: index) */
    /* private */
    int state;
    size_t pending;      /* bytes of the last element, consumed on the next call */
    uint64_t newlines;   /* newlines in the bytes delimited so far (array mode) */
    json_t *doc;         /* payload mode: the whole document */
    json_t *list;        /* borrowed from doc */
    uint64_t *doc_lines; /* payload mode: the line of each element of list, or NULL */
    sr_str doc_user;     /* payload.user_id (a user name in API responses), or empty */
    unsigned char stack[SR_JSON_MAX_DEPTH / 8]; /* bit per level: 1 = array */
} sr_json_array;

typedef struct sr_json_elem {
    sr_str text;         /* array mode: the element's bytes */
    const json_t *value; /* payload mode: the parsed element (text empty) */
} sr_json_elem;

/* Reads up to the array's '[' (or, with SR_JSON_ARRAY_PAYLOAD, a whole API document).
 * in and label are borrowed. Returns SR_OK, SR_E_INPUT with words in d when the
 * document is not an array (or has no listens), SR_E_NOMEM, or a stream error; after a
 * failure there is nothing to close. */
sr_err sr_json_array_open(sr_json_array *a, sr_stream *in, unsigned flags, const char *label,
                          sr_diag *d);
/* Next element: SR_JA_ELEMENT with *el set, SR_JA_TOO_LONG (element skipped), SR_JA_END
 * after the closing ']' (and nothing but whitespace after it), SR_E_INPUT with words in
 * d when the array is malformed, SR_E_TRUNCATED when it ends early, or a stream error. */
int sr_json_array_next(sr_json_array *a, sr_json_elem *el, sr_diag *d);
void sr_json_array_close(sr_json_array *a);

/* Called for each element by sr_json_array_read; a->line is the line on which it starts
 * (the "line" for sr_reader_emit / sr_reader_skip), a->index its 1-based number and
 * a->doc_user the document's user. */
typedef sr_err (*sr_json_elem_fn)(sr_reader *r, const sr_json_array *a, const sr_json_elem *el,
                                  void *user);
/* The element loop of an array reader: opens r->in (flags as for sr_json_array_open,
 * words in r->diag), hands each element to fn, skips overlong ones as
 * SR_SKIP_LINE_TOO_LONG, and closes. Returns SR_OK after a well-formed array, the
 * array's or stream's error, or the first error fn (or a skip) returned. */
sr_err sr_json_array_read(sr_reader *r, unsigned flags, sr_json_elem_fn fn, void *user);

/* Maps a jansson load error to a skip reason: invalid UTF-8, NUL/control characters,
 * else malformed JSON. */
sr_skip sr_json_error_skip(const json_error_t *err);

/* Detection helpers over a member's first bytes (possibly cut mid-record). */
/* Offset of the first byte after a UTF-8 BOM and JSON whitespace (n when none). */
size_t sr_json_head_start(const unsigned char *h, size_t n);
/* True when an object key equal to key (written without escapes) occurs at nesting
 * depth `depth` of the first top-level value in h (1: keys of a top-level object, 2:
 * keys of objects inside a top-level array). */
bool sr_json_head_has_key(const unsigned char *h, size_t n, int depth, const char *key);
/* Offset just past the first top-level object or array in h when it ends within h,
 * else 0. */
size_t sr_json_head_value_len(const unsigned char *h, size_t n);

#endif
