/* ListenBrainz listen extraction, shared by the JSON Lines and JSON array readers.
 *
 * A listen object in any ListenBrainz shape (dump line, API listen, zip-export line,
 * spark-JSON line, 2017-19 flat export object) is reduced to raw slots (sr_lb_raw): the
 * values at the few paths a reader needs. Two producers fill them, one function
 * (sr_lb_resolve) turns them into a listen or a skip reason, so the rules live once:
 *   sr_lb_scan       one validating pass over the bytes, no tree (~20x jansson on dump
 *                    lines, bench/json_parsers.sh); declines ("fallback") on anything
 *                    unusual: duplicate or escaped keys on its paths, real timestamps,
 *                    big numbers, deep nesting, bad UTF-8, any syntax error;
 *   sr_lb_from_json  the same slots from a jansson object (the reference semantics).
 * A scanner OK always means "jansson parses this and resolves it the same way";
 * tests/unit/test_lb_scan.c and fuzz_lb_jsonl check that.
 *
 * Rules (section 1 of listen-formats.md): the container C is track_metadata when it is
 * an object, else the top level. artist/track: C.artist_name / C.track_name; release:
 * first non-empty string of C.release_name, C.additional_info.release_name; recording
 * MBID: of C.additional_info.recording_mbid, C.mbid_mapping.recording_mbid,
 * C.recording_mbid. Time: first non-null of listened_at, timestamp, ts_since_epoch, an
 * integer or real (Unix s; ms when > 10^11) or a string sr_time_parse reads. user_name
 * is optional (empty: the reader's default user).
 *
 * Ownership: result strings point into the caller's text, scratch buffer or jansson
 * document, which must outlive their use.
 */
#ifndef SR_LB_SCAN_H
#define SR_LB_SCAN_H

#include <jansson.h>
#include <stdint.h>

#include "ingest/reader.h"

/* Raw slot kinds. */
enum {
    SR_LB_ABSENT = 0,
    SR_LB_NULL,
    SR_LB_STRING,
    SR_LB_INT,
    SR_LB_REAL,
    SR_LB_OBJECT,
    SR_LB_OTHER
};

typedef struct sr_lb_val {
    uint8_t kind;
    sr_str s;  /* SR_LB_STRING */
    int64_t i; /* SR_LB_INT */
    double d;  /* SR_LB_REAL */
} sr_lb_val;

/* Slots of one container (track_metadata or the top level). */
enum {
    SR_LB_C_ARTIST,
    SR_LB_C_TRACK,
    SR_LB_C_RELEASE,
    SR_LB_C_MBID,       /* C.recording_mbid */
    SR_LB_C_AI,         /* C.additional_info (kind only) */
    SR_LB_C_AI_RELEASE, /* C.additional_info.release_name */
    SR_LB_C_AI_MBID,    /* C.additional_info.recording_mbid */
    SR_LB_C_MM,         /* C.mbid_mapping (kind only) */
    SR_LB_C_MM_MBID,    /* C.mbid_mapping.recording_mbid */
    SR_LB_C__COUNT
};

typedef struct sr_lb_raw {
    sr_lb_val user;                  /* user_name */
    sr_lb_val ts[3];                 /* listened_at, timestamp, ts_since_epoch */
    sr_lb_val tm;                    /* track_metadata (kind only) */
    sr_lb_val top[SR_LB_C__COUNT];   /* flat fields at the top level */
    sr_lb_val inner[SR_LB_C__COUNT]; /* fields inside track_metadata */
} sr_lb_raw;

enum { SR_LB_SCAN_OK = 0, SR_LB_SCAN_FALLBACK = 1 };

/* Scans the JSON object text p[0, n) into *raw. scratch must hold n bytes: strings with
 * escapes on the read paths are decoded there. Returns SR_LB_SCAN_OK or
 * SR_LB_SCAN_FALLBACK (then *raw is undefined: parse with jansson instead). O(n). */
int sr_lb_scan(const char *p, size_t n, char *scratch, sr_lb_raw *raw);

/* Fills *raw from a jansson object (borrowed; strings point into it). */
void sr_lb_from_json(const json_t *obj, sr_lb_raw *raw);

/* Turns raw slots into a listen (user may be empty; value 1). Returns SR_SKIP__COUNT
 * when *l is filled, else the skip reason with a static description in *detail. The
 * checks left to sr_reader_emit (blank names, UTF-8, control characters, time range)
 * are not made here. */
sr_skip sr_lb_resolve(const sr_lb_raw *raw, sr_listen *l, const char **detail);

/* Per-reader state for sr_lb_extract: the scratch buffer and the last jansson
 * document (kept alive until the next call, as the listen borrows from it). */
typedef struct sr_lb_ctx {
    char *scratch;
    size_t scratch_cap;
    json_t *doc;
    char detail[200];
    uint64_t scanned, fallbacks; /* statistics, for tests and benchmarks */
} sr_lb_ctx;

void sr_lb_ctx_init(sr_lb_ctx *c);
void sr_lb_ctx_deinit(sr_lb_ctx *c);

/* Extracts one listen from the JSON text p[0, n) (one object): the scanner, then jansson
 * when the scanner declines. Sets *why to SR_SKIP__COUNT with *l filled, or to the skip
 * reason (malformed JSON, invalid UTF-8, NUL in a key, wrong types, ...) with words in
 * *detail (owned by c, valid until the next call). Returns SR_OK or SR_E_NOMEM. */
sr_err sr_lb_extract(sr_lb_ctx *c, const char *p, size_t n, sr_listen *l, sr_skip *why,
                     const char **detail);

/* Detection: true when the objects at nesting depth `depth` of the first value in the
 * head h carry ListenBrainz listen keys: `track_metadata`; or a time (`listened_at`,
 * `timestamp`) or MessyBrainz id (`recording_msid`, `artist_msid`) next to
 * `artist_name` or `track_name`. */
bool sr_lb_head_has_listen_keys(const unsigned char *h, size_t n, int depth);

#endif
