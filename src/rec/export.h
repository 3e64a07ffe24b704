/* Recommendation export: a list of picks rendered as a playlist or a table, for the
 * listener to download.
 *
 * Four formats, each appended to an sr_buf:
 *   SR_EXPORT_JSON  songrec's own JSON (jansson): {"title", "creator", "annotation",
 *                   "created", "items": [{"rank", "id", "artist", "track", "mbid",
 *                   "score", "support", "weak", "because": [{"artist", "track",
 *                   "weight"}]}]}; every key is always present (null when unknown).
 *   SR_EXPORT_CSV   RFC 4180: header `rank,artist,track,score,support,weak,mbid,because`,
 *                   records end in CRLF; fields with , " CR or LF are quoted, quotes
 *                   doubled (a name's own CR/LF stays inside its quoted field); no BOM.
 *   SR_EXPORT_JSPF  JSON XSPF as ListenBrainz reads it: {"playlist": {"title",
 *                   "creator", "annotation", "date", "track": [{"identifier":
 *                   ["https://musicbrainz.org/recording/<mbid>"], "title", "creator",
 *                   "annotation", "extension": {SR_EXPORT_EXT_URI: {...}}}]}}.
 *   SR_EXPORT_XSPF  XSPF 1 (XML 1.0, namespace http://xspf.org/ns/0/), the same fields.
 * In JSPF and XSPF a playlist field that is unknown (NULL, date 0) is left out.
 *
 * songrec's per-track data (id, score, support, weak, because) travels in a playlist
 * extension keyed by SR_EXPORT_EXT_URI. In JSPF its body is one object (as ListenBrainz
 * writes its own "https://musicbrainz.org/doc/jspf#track" extension, not the JSPF
 * draft's array of bodies): {"id": 17, "score": 4.5, "support": 0.8, "weak": false,
 * "because": [{"artist", "track", "weight"}]}. In XSPF it is <extension application=
 * SR_EXPORT_EXT_URI> holding <songrec:id>, <songrec:score>, <songrec:support>,
 * <songrec:weak> and one <songrec:because artist=".." track=".." weight=".."/> each,
 * in the namespace SR_EXPORT_EXT_URI (prefix declared on <playlist>). A track's
 * <annotation> says the same for people: "score 4.500, support 0.800, weak pick;
 * because: Artist – Track (0.910); ...". A track without a recording MBID carries no
 * identifier.
 *
 * Text: every output is valid UTF-8. Invalid bytes become U+FFFD (one per maximal
 * ill-formed subpart, as Unicode recommends). JSON and JSPF keep control characters
 * (jansson escapes them); XSPF and CSV replace what XML 1.0 forbids (C0 controls other
 * than tab, LF and CR; U+FFFE, U+FFFF) with U+FFFD, so the XML is always well-formed.
 * XML escapes & < > " ' and writes tab, LF and CR as character references. CSV prefixes
 * a field that starts with = + - @ tab or CR with an apostrophe, so that spreadsheets
 * do not run it as a formula (OWASP's advice against CSV injection).
 *
 * Numbers: score, support and weights are rounded to 3 decimals in every format. A
 * NaN or infinite one is a bug upstream: the call fails with SR_E_INTERNAL and writes
 * nothing. Dates are ISO 8601 UTC ("2024-05-01T12:00:00Z"); 0 means unknown.
 *
 * Ownership: meta, items and everything they point to are borrowed for the call.
 */
#ifndef SR_EXPORT_H
#define SR_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/str.h"

/* Key of songrec's JSPF track extension, XSPF extension application and namespace.
 * ".invalid" is reserved (RFC 2606): a name, never fetched. */
#define SR_EXPORT_EXT_URI "https://songrec.invalid/ns/track"
/* Prefix of a recording MBID identifier. */
#define SR_EXPORT_MB_RECORDING "https://musicbrainz.org/recording/"

typedef enum sr_export_format {
    SR_EXPORT_JSON = 0,
    SR_EXPORT_CSV,
    SR_EXPORT_JSPF,
    SR_EXPORT_XSPF,
} sr_export_format;
#define SR_EXPORT__COUNT 4

/* name "json" | "csv" | "jspf" | "xspf" (ASCII case ignored) -> *out. False when name is
 * NULL or unknown (then *out is unchanged). */
bool sr_export_format_parse(const char *name, sr_export_format *out);
/* The format's MIME type for Content-Type ("application/jspf+json") and its file
 * extension without the dot, which is also its name ("jspf"); NULL for a value outside
 * the enum. */
const char *sr_export_content_type(sr_export_format f);
const char *sr_export_extension(sr_export_format f);

/* A rated song that supports a pick, and how much (e.g. a similarity). */
typedef struct sr_export_because {
    sr_str artist, track;
    double weight;
} sr_export_because;

/* One pick. Strings are UTF-8 (anything is accepted and cleaned on output); {NULL, 0}
 * is the empty string. */
typedef struct sr_export_item {
    uint32_t id;                      /* the model's song id */
    sr_str artist, track;             /* display names */
    const uint8_t *mbid;              /* 16-byte recording MBID, or NULL when unknown */
    double score;                     /* predicted rating (or score) */
    double support;                   /* how much of the listener's data backs it, 0..1 */
    bool weak;                        /* flagged as a weak pick */
    const sr_export_because *because; /* (n_because) the explanation, strongest first */
    size_t n_because;
} sr_export_item;

typedef struct sr_export_meta {
    const char *title;      /* "songrec recommendations", or NULL */
    const char *creator;    /* "songrec", or NULL */
    const char *annotation; /* free text (the model and its parameters), or NULL */
    int64_t date;           /* Unix seconds, 0 = unknown; years 1..9999 */
} sr_export_meta;

/* Appends items[0..n) in format f to out. meta may be NULL (no title, creator,
 * annotation or date); items may be NULL when n is 0. Ranks are 1-based positions.
 * Errors: SR_E_USAGE (f outside the enum, out NULL, a NULL string or because array
 * with a non-zero length, date outside years 1..9999), SR_E_INTERNAL (a non-finite
 * number), SR_E_NOMEM (also when out had already failed). On error out holds what it
 * held on entry (and one that had already failed stays failed). */
sr_err sr_export_write(sr_export_format f, const sr_export_meta *meta, const sr_export_item *items,
                       size_t n, sr_buf *out, sr_diag *d);

#endif
