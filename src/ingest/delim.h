/* Field splitting, the line loop and small parsers shared by the line-oriented readers:
 * csv.c, lastfm.c and triplets.c split fields here; lastfm.c, triplets.c and lb_jsonl.c
 * read lines through sr_delim_read_rows (csv.c has its own loop, as it joins the lines
 * of a quoted field and pushes them back).
 *
 * Everything here works on borrowed sr_str slices of one line and allocates nothing,
 * except the CSV unquoting scratch buffer, which the caller owns and reuses for every
 * line. Splitting is memchr-driven: one scan per field, fields point into the line.
 *
 * Quoting follows RFC 4180 leniently: a field that starts with '"' is quoted, "" inside
 * it is one '"', and the closing quote must be followed by the delimiter or the end of
 * the line (otherwise the row is badly quoted). A '"' inside an unquoted field is an
 * ordinary character (what spreadsheets and Python's csv module do). A quoted field
 * still open at the end of the line is reported, so the caller can join the next line
 * (an embedded newline) or reject the row.
 *
 * The head helpers iterate the first bytes of a member for format detection; the head
 * may be cut mid-line, so each line says whether it was complete.
 */
#ifndef SR_DELIM_H
#define SR_DELIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/reader.h"
#include "util/str.h"

/* Splits line at every byte d (no quote processing). Stores the first max fields in
 * f and returns how many fields the line has, counting on past max only up to max + 1
 * (so "== want" checks an exact count cheaply). An empty line is one empty field. */
size_t sr_delim_split(sr_str line, char d, sr_str *f, size_t max);

/* Like sr_delim_split, with the two-byte separator "::" (MovieLens ratings.dat). */
size_t sr_delim_split_dcolon(sr_str line, sr_str *f, size_t max);

/* Splits on runs of spaces and tabs, ignoring leading and trailing ones (Surprise's
 * default separator). A blank line has zero fields. */
size_t sr_delim_split_ws(sr_str line, sr_str *f, size_t max);

/* Reusable unquoting buffer for sr_delim_split_csv; zero-initialise, free with
 * sr_delim_buf_free. */
typedef struct sr_delim_buf {
    char *p;
    size_t cap;
} sr_delim_buf;
void sr_delim_buf_free(sr_delim_buf *b);

/* sr_delim_split_csv results below zero. */
enum {
    SR_CSV_BAD_QUOTE = -1, /* text after a closing quote */
    SR_CSV_OPEN = -2,      /* a quoted field runs past the end of the line */
    SR_CSV_NOMEM = -3      /* the scratch buffer could not grow */
};

/* RFC 4180 split of one record on delimiter d. Returns the field count as
 * sr_delim_split does (at most max + 1), or a negative SR_CSV_* code. Quoted fields
 * lose their quotes; fields holding "" escapes are unescaped into scratch (grown to
 * line.n bytes) and point there until the next call with the same scratch. */
long sr_delim_split_csv(sr_str line, char d, sr_str *f, size_t max, sr_delim_buf *scratch);

/* Quote state after scanning p[0..n) of a CSV record on delimiter d, starting in
 * state st (0 at the start of a record). Nonzero means "inside a quoted field" or
 * another mid-record state; only SR_CSV_ST_IN_QUOTES at the end of a line means the
 * record continues on the next line. Linear in n; used to join lines without
 * re-splitting the whole record each time. */
enum { SR_CSV_ST_FIELD_START = 0, SR_CSV_ST_UNQUOTED, SR_CSV_ST_IN_QUOTES, SR_CSV_ST_QUOTE };
int sr_delim_csv_state(const char *p, size_t n, char d, int st);

/* Parses a decimal number: optional sign, digits, optional fraction ("3", "-2.5",
 * "4.0"), surrounding spaces allowed; no exponents, NaN or infinities. Locale-free. */
bool sr_delim_parse_number(sr_str s, double *out);
/* Parses a play count: a number that is a whole value >= 1 and <= 10^12. */
bool sr_delim_parse_count(sr_str s, double *out);

/* True when s holds at least one ASCII digit. */
bool sr_delim_has_digit(sr_str s);
/* Case-insensitive ASCII comparison of s (after trimming spaces) with lit. */
bool sr_delim_ieq(sr_str s, const char *lit);
/* Writes s into out (cap bytes, NUL-terminated) for a message: at most 40 bytes, bytes
 * outside printable ASCII shown as '?'. Returns out. */
char *sr_delim_show(char *out, size_t cap, sr_str s);

/* Line iterator over a detection head (head, n bytes). A leading UTF-8 BOM is skipped. */
typedef struct sr_delim_head {
    const unsigned char *p;
    size_t n, pos;
} sr_delim_head;
void sr_delim_head_init(sr_delim_head *h, const unsigned char *head, size_t n);
/* Next line without "\r\n": true with *line set and *complete false when the line was
 * cut by the end of the head; false when no bytes are left. */
bool sr_delim_head_next(sr_delim_head *h, sr_str *line, bool *complete);

/* Strips a UTF-8 byte-order mark from the start of s. */
sr_str sr_delim_strip_bom(sr_str s);

/* The most fields sr_delim_read_rows splits a line into. */
#define SR_DELIM_MAX_FIELDS 8

/* One line handed to an sr_delim_row_fn. Borrowed until the callback returns. */
typedef struct sr_delim_row {
    sr_str line;     /* without "\r\n" and, on line 1, without a BOM */
    const sr_str *f; /* the first min(n, want) fields; NULL when delim is 0 */
    size_t n;        /* field count, at most want + 1 (see sr_delim_split); 0 when delim is 0 */
    uint64_t no;     /* 1-based line number, for sr_reader_emit / sr_reader_skip */
    bool first;      /* no line came before it but blank ones: the only one that may be a
                        header (an overlong line ends the chance) */
} sr_delim_row;

/* Called for each non-blank line; returns SR_OK to go on, or an error that ends the read
 * (what sr_reader_emit / sr_reader_skip returned, or its own). */
typedef sr_err (*sr_delim_row_fn)(sr_reader *r, const sr_delim_row *row, void *user);

/* The line loop of a line-per-record reader: reads r->in to the end, skips overlong lines
 * as SR_SKIP_LINE_TOO_LONG, drops a UTF-8 BOM before line 1, passes over blank lines,
 * and hands every other line to row(r, &row, user). With delim nonzero the line is split
 * on that byte into at most want (<= SR_DELIM_MAX_FIELDS) fields, and a blank line is
 * one of only spaces, tabs and CRs with no delim in it; with delim 0 the callback splits
 * (or parses) the line itself and a blank line is one of only spaces, tabs and CRs.
 * Returns SR_OK at the end of the input, a stream error, or what row returned. Costs one
 * indirect call per line over a hand-written loop. */
sr_err sr_delim_read_rows(sr_reader *r, char delim, size_t want, sr_delim_row_fn row, void *user);

#endif
