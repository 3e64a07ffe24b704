/* The engine: one trained model ready to answer listeners — the model file (mapped), its
 * catalog with search (catalog.h) and the recommender (recommend.h) — plus what the CLI and
 * the server both need around them: reading "Artist - Track=9" ratings, mapping a
 * listening-history file onto the catalog, and turning a recommendation list into an
 * export (export.h).
 *
 * Histories: any file the ingest stage reads (ListenBrainz, Spotify, Last.fm, CSV, ...;
 * compressed or archived). Each listen is matched to a catalog song through the ingest
 * normalisation; the plays of each matched song become a rating the way the model's data
 * was made: min(plays, 10) for "cap10" models (the origin's), the play count clipped to
 * the scale for "raw" ones. Listens of songs the model does not cover are counted.
 *
 * Thread safety: after sr_engine_open everything here is read-only; any number of threads
 * may use one engine at once.
 */
#ifndef SR_ENGINE_H
#define SR_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/model_file.h"
#include "rec/catalog.h"
#include "rec/export.h"
#include "rec/recommend.h"
#include "util/buf.h"
#include "util/err.h"

typedef struct sr_engine {
    sr_model_file *mf;
    sr_catalog *cat; /* the song catalog with search; NULL when the model has none */
    sr_recommender rec;
    uint32_t *item_pop; /* (n_items) raters of each song in the trainset */
    const char *path;   /* borrowed: sr_engine_open's path, which must outlive the engine */
} sr_engine;

/* The catalog of a loaded model file as an engine has it (NULL in *cat when the model has
 * none), a song's popularity being its raters in the trainset: *item_pop (n_items),
 * which the catalog borrows. The caller frees the catalog, then *item_pop (sr_free). For
 * a command that needs only the lookups (predict), without a recommender. */
sr_err sr_engine_catalog(const sr_model_file *mf, uint32_t **item_pop, sr_catalog **cat,
                         sr_diag *d);

/* Maps the model file at path and builds the catalog; returns a new engine in *out. */
sr_err sr_engine_open(const char *path, sr_engine **out, sr_diag *d);
void sr_engine_free(sr_engine *e);

/* How recommendations scan the catalog (recommend.h); sr_engine_open chose auto. The
 * model's own rows are handed back to the kernel after quantising when they come from
 * the file's mapping. Not while requests run. */
void sr_engine_set_scan(sr_engine *e, sr_rec_scan scan);

/* The values a listener may give a song: a rating model's scale (the data's), or for an
 * implicit model a number of plays from 1 to the most one pair has in the data or 10,
 * whichever is more — the page's 1..10 ratings count as that many plays, whatever the
 * data's own counts reach. */
void sr_engine_rating_range(const sr_engine *e, double *lo, double *hi);

/* "Artist - Track=9" (the last '=' splits off the rating) into a rating of a catalog
 * song. SR_E_INPUT naming what is wrong: no '=', a rating that is not a number or is out
 * of sr_engine_rating_range; SR_E_NOTFOUND for a song the catalog lacks. */
sr_err sr_engine_parse_rating(const sr_engine *e, const char *spec, sr_rec_rating *out, sr_diag *d);

typedef struct sr_history_stats {
    uint64_t listens;   /* listens read */
    uint64_t matched;   /* of songs in the catalog */
    uint64_t unmatched; /* of songs it does not cover */
    uint64_t skipped;   /* bad records the readers skipped */
    size_t songs;       /* distinct catalog songs played */
} sr_history_stats;

/* One catalog song of a history: its plays and the rating they make. */
typedef struct sr_history_song {
    uint32_t item;
    float rating;
    uint32_t plays; /* summed play counts, saturating */
} sr_history_song;

/* Reads the history at path (format detected, or `format`) into the catalog songs it
 * played, ascending by item: a new array in *out (free with sr_free), *n of them; none
 * when no listen it holds is of a catalog song (st says how many were read). A history of
 * which no listen could be read is an error, with words that name path once: SR_E_IO for
 * a file that cannot be opened, SR_E_INPUT when every record was bad (another format
 * than the one given, a file of no known format), with the first problem and how many
 * records were skipped, SR_E_EMPTY when it holds no records at all. */
sr_err sr_engine_history(const sr_engine *e, const char *path, const char *format,
                         sr_history_song **out, size_t *n, sr_history_stats *st, sr_diag *d);

/* Writes recommendations as an export: names, MBIDs and reasons from the catalog. */
sr_err sr_engine_export(const sr_engine *e, sr_export_format f, const char *title,
                        const sr_rec_item *items, size_t n, sr_buf *out, sr_diag *d);

#endif
