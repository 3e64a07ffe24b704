/* The dataset builder: listens in, a dataset out.
 *
 * sr_builder_add interns each listen (user name; artist and track through the
 * normaliser into an artist and a song; the original spellings counted for display)
 * and appends one 16-byte (user, song, time, value) record. A cache keyed by the raw
 * artist+track bytes makes a repeated spelling cost one hash lookup, so the normaliser
 * runs once per distinct spelling, not once per listen.
 *
 * sr_builder_finish sorts the records by user, then song and time; drops exact
 * duplicates (same user, song and time); aggregates each (user, song) into a pair
 * (plays summed, first and last time; for ratings the latest rating); applies the
 * filters in this order: --top-songs, --min-song-listeners, --min-user-listens (each
 * once); renumbers what is left densely and builds both CSR indexes. With keep_listens
 * it also keeps every surviving listen of known time as an event (pair, time), by user
 * in time order (dataset.h): the events are packed 8 bytes each over the sorted records
 * as the aggregation reads them, compacted when the filters drop pairs, then sorted by
 * (time, pair) within each user.
 *
 * Memory: 16 bytes per listen while building, twice that during the sort; with
 * keep_listens the events keep 8 bytes per listen from the aggregation on (16 for a
 * moment at the end, while the packed events are split into the dataset's arrays).
 */
#ifndef SR_BUILDER_H
#define SR_BUILDER_H

#include <stdbool.h>
#include <stdint.h>

#include "data/dataset.h"
#include "ingest/reader.h"
#include "util/log.h"

typedef enum sr_song_key { SR_SONG_KEY_NAME = 0, SR_SONG_KEY_MBID = 1 } sr_song_key;

typedef struct sr_build_opts {
    sr_song_key song_key;        /* MBID: songs with a recording MBID are keyed by it */
    int64_t since, until;        /* keep since <= ts < until; 0 = unbounded. Unknown times kept. */
    uint64_t top_songs;          /* keep the N most-played songs; 0 = all */
    uint64_t min_song_listeners; /* drop songs with fewer distinct listeners */
    uint64_t min_user_listens;   /* drop users with fewer plays (ratings: rated songs) */
    bool keep_duplicates;        /* keep exact duplicate listens */
    bool keep_listens;           /* keep per-listen events (pair, time): session models */
    const sr_log *log;
} sr_build_opts;

typedef struct sr_build_stats {
    uint64_t added;          /* records handed to sr_builder_add */
    uint64_t out_of_window;  /* dropped by --since/--until */
    uint64_t duplicates;     /* exact duplicates dropped */
    uint64_t filtered_pairs; /* pairs removed by the song/user filters */
    uint64_t filtered_listens;
    uint64_t spellings; /* distinct raw artist+track spellings seen */
    uint64_t events;    /* listens kept as events (keep_listens) */
} sr_build_stats;

typedef struct sr_builder sr_builder;

sr_err sr_builder_new(const sr_build_opts *o, sr_builder **out);
/* Adds one validated listen (an sr_accept_fn). Mixing plays and ratings is refused
 * with SR_E_INPUT. */
sr_err sr_builder_add(void *builder, const sr_listen *l, sr_value_kind kind);
/* Adds n listens (kinds[i] the kind of ls[i]) — the same as n calls of sr_builder_add,
 * faster: the hash-table lookups of several listens overlap. */
sr_err sr_builder_add_batch(void *builder, const sr_listen *ls, const uint8_t *kinds, size_t n);
/* Builds the dataset; the builder is spent afterwards (free it). On SR_E_EMPTY no
 * records were left after the filters. meta_json (borrowed, may be NULL) is stored. */
sr_err sr_builder_finish(sr_builder *b, const char *meta_json, sr_dataset **out, sr_build_stats *st,
                         sr_diag *d);
void sr_builder_free(sr_builder *b);

#endif
