/* The reader interface: one file per input format, each filling one sr_format.
 *
 * A reader turns one member stream (a file, or a file inside an archive) into a stream
 * of sr_listen records and hands each to sr_reader_emit, which validates it centrally
 * (empty names, invalid UTF-8, control characters, timestamp range, value range, MBID
 * syntax), counts skips and repairs by reason, reports the first few as
 * "file:line: reason", and forwards the good ones to the dataset builder. A reader
 * reports its own parse failures (malformed JSON, wrong field count, overlong line) with
 * sr_reader_skip. Both return SR_OK to go on, or an error that the reader must return
 * at once (--strict, --max-errors, out of memory).
 *
 * Readers never hold a whole file: lines come from sr_lines_next, JSON arrays from the
 * streaming splitter (ingest/json_array.h). The registry (formats.def) lists readers in
 * detection order; detection scores a member by its name and first bytes.
 *
 * Ownership: strings in an sr_listen are borrowed for the duration of the emit call.
 */
#ifndef SR_READER_H
#define SR_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "io/stream.h"
#include "util/err.h"
#include "util/log.h"
#include "util/str.h"

#define SR_TS_NONE       INT64_MIN
#define SR_TS_MIN_LISTEN 1033430400 /* 2002-10-01T00:00:00Z: ListenBrainz's minimum */
#define SR_MAX_FIELD     1024       /* names are cut to this many bytes */

typedef struct sr_listen {
    sr_str user; /* empty: the reader's default user (--user, file name, user.json) */
    sr_str artist;
    sr_str track;
    sr_str release;        /* optional */
    sr_str recording_mbid; /* optional; checked for UUID syntax, dropped if malformed */
    int64_t ts;            /* Unix seconds UTC, start of playback; SR_TS_NONE if unknown */
    double value;          /* 1 for one play; the count or rating of an aggregated row */
    bool utf8_ok;          /* the reader already knows the strings are valid UTF-8 (JSON
                              parsers check it), so emit need not check again */
} sr_listen;

typedef enum sr_skip {
#define X(name, words) SR_SKIP_##name,
#include "ingest/skips.def"
#undef X
    SR_SKIP__COUNT
} sr_skip;

typedef enum sr_fix {
#define X(name, words) SR_FIX_##name,
#include "ingest/fixes.def"
#undef X
    SR_FIX__COUNT
} sr_fix;

const char *sr_skip_words(sr_skip s);
const char *sr_skip_name(sr_skip s); /* "malformed_json" */
const char *sr_fix_words(sr_fix f);
const char *sr_fix_name(sr_fix f);

/* What an input's values are: play counts (listens, count triplets) or explicit
 * ratings (kept as given). */
typedef enum sr_value_kind { SR_VALUE_PLAYS = 0, SR_VALUE_RATINGS = 1 } sr_value_kind;

/* Options shared by all readers (set from the ingest command line). */
typedef struct sr_read_opts {
    const char *user;          /* --user: user for records without one, or NULL */
    const char *columns;       /* --columns "user=U,artist=A,track=T,time=TS,count=C,..." */
    int64_t min_ms_played;     /* Spotify: shorter plays are skipped; default 30000 */
    int64_t now;               /* "now" for the future check (Unix s); 0 = the clock */
    bool strict;               /* first bad record is fatal (exit code 2) */
    uint64_t max_errors;       /* skipped records allowed before giving up; 0 = no limit */
    unsigned report_first;     /* how many bad records to report by line; default 10 */
    double scale_lo, scale_hi; /* --scale: ratings outside [lo, hi] are skipped; lo == hi: none */
    const sr_log *log;
} sr_read_opts;

/* Counters of one ingest run (all files). */
typedef struct sr_read_stats {
    uint64_t files, members, lines, records, accepted;
    uint64_t skipped[SR_SKIP__COUNT];
    uint64_t fixed[SR_FIX__COUNT];
    uint64_t skipped_total, reported;
} sr_read_stats;

typedef struct sr_reader sr_reader;
typedef struct sr_format sr_format;

/* Where accepted listens go: returns SR_OK or an error (e.g. out of memory). */
typedef sr_err (*sr_accept_fn)(void *user, const sr_listen *l, sr_value_kind kind);

struct sr_reader {
    const char *label;  /* "file" or "file:member", for messages */
    const char *member; /* member (or file) name, e.g. "listens/2018/3.listens" */
    sr_stream *in;
    const sr_read_opts *opts;
    const sr_format *format;
    sr_str default_user; /* from --user, the file name or user.json; may be empty */
    /* private to reader.c */
    sr_read_stats *stats;
    sr_accept_fn accept;
    void *accept_user;
    int64_t now;
    uint64_t member_records, member_skipped;
    sr_diag *diag;
    bool stop;                 /* set when emit/skip asked the run to end */
    void (*tick)(sr_reader *); /* progress, called every 64Ki records */
    void *tick_user;
};

struct sr_format {
    const char *name;    /* used by --format, e.g. "listenbrainz" */
    const char *summary; /* one line for --help */
    sr_value_kind kind;
    bool listen_times; /* timestamps are plays: must be >= 2002-10-01 */
    bool items_only;   /* records name an item id (track) and no artist */
    /* Confidence 0..100 that a member with this name and first bytes (n of them, up to
     * 64 KiB, possibly cut mid-record) is in this format. */
    int (*detect)(const char *name, const unsigned char *head, size_t n);
    /* Reads r->in to the end, calling sr_reader_emit / sr_reader_skip. Returns SR_OK,
     * the error those returned, or a stream error (e.g. SR_E_TRUNCATED). A whole-document
     * format that cannot parse returns SR_E_INPUT with words in r->diag. */
    sr_err (*read)(sr_reader *r);
};

/* Sets up r to read in with format f: options o, counters added to st, accepted listens
 * to accept(accept_user, ...) (NULL: counted, not kept), fatal words in d. Every other
 * field is zeroed; the caller then sets those that apply: label and member (names for
 * messages and for readers that look at the member's name), default_user, tick. All
 * pointers are borrowed and must outlive the read. The one way to set up a reader, so a
 * private field added later starts zeroed everywhere. */
void sr_reader_init(sr_reader *r, const sr_format *f, sr_stream *in, const sr_read_opts *o,
                    sr_read_stats *st, sr_accept_fn accept, void *accept_user, sr_diag *d);

/* Validates l and hands it on. line: 1-based line (or record) number for messages. */
sr_err sr_reader_emit(sr_reader *r, const sr_listen *l, uint64_t line);
/* Counts a record the reader could not make into a listen as read and skipped; reports
 * it when among the first few. detail may be NULL. */
sr_err sr_reader_skip(sr_reader *r, sr_skip why, uint64_t line, const char *detail);
/* Counts a repaired record. */
void sr_reader_fixed(sr_reader *r, sr_fix what);

/* True when s is a UUID in 8-4-4-4-12 hex form. */
bool sr_is_uuid(sr_str s);

/* The registry (formats.def). */
extern const sr_format *const sr_formats[];
extern const size_t sr_n_formats;
const sr_format *sr_format_find(const char *name);
/* The best format for a member, or NULL when none scores above 0. */
const sr_format *sr_format_detect(const char *name, const unsigned char *head, size_t n);

#endif
