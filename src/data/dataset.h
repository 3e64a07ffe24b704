/* The dataset: the interned catalog and the user x song play matrix, both ways.
 *
 * Built by the builder (builder.h) from a stream of listens, saved as a .srd file
 * (srd.c, layout in docs/formats.md) and opened again with mmap. Every array is a
 * plain typed pointer into either the builder's heap buffers or the mapped file; the
 * dataset is read-only after it is built.
 *
 * Pairs: each (user, song) with at least one play (or a rating) is one pair. Pairs
 * are stored by user (CSR: user_ptr/pair_song) with songs ascending within a user,
 * and indexed by song (CSR: song_ptr/song_user/song_pair) with users ascending.
 *
 * Events (optional, `ingest --keep-listens`): every kept listen with a known time as
 * (pair, time), by user (CSR: event_ptr/event_pair/event_time) in time order — what
 * the aggregation to pairs loses and session models need. 8 bytes per listen. Only
 * listens of pairs that survive the filters are kept; duplicates dropped at ingest are
 * not events. A dataset without them has event_ptr NULL and n_events 0.
 *
 * Ownership: sr_dataset_load returns a new dataset; sr_dataset_free unmaps/frees it.
 */
#ifndef SR_DATASET_H
#define SR_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "ingest/reader.h"
#include "util/err.h"
#include "util/str.h"

/* A table of n strings: string i is data[off[i] .. off[i+1]). */
typedef struct sr_strtab {
    uint32_t n;
    const uint64_t *off; /* (n + 1) */
    const char *data;
} sr_strtab;

static inline sr_str sr_strtab_get(const sr_strtab *t, uint32_t i) {
    return (sr_str){t->data + t->off[i], (size_t)(t->off[i + 1] - t->off[i])};
}

typedef struct sr_dataset {
    sr_value_kind kind; /* plays (value = play count) or explicit ratings */
    uint32_t n_users, n_artists, n_songs;
    uint64_t n_pairs;       /* (user, song) pairs */
    uint64_t n_listens;     /* sum of play counts (plays) or number of ratings */
    int64_t ts_min, ts_max; /* range of known listen times; 0 when none */

    sr_strtab users;             /* (n_users) user names as given */
    sr_strtab artists;           /* (n_artists) most frequent original spelling */
    sr_strtab tracks;            /* (n_songs) most frequent original spelling of the track */
    const uint32_t *song_artist; /* (n_songs) artist of each song */
    const uint8_t *song_mbid;    /* (n_songs, 16) binary recording MBID, all-zero if none */

    /* by user */
    const uint64_t *user_ptr;   /* (n_users + 1) pairs of user u: [user_ptr[u], user_ptr[u+1]) */
    const uint32_t *pair_song;  /* (n_pairs) song of each pair, ascending within a user */
    const float *pair_value;    /* (n_pairs) play count, or the rating */
    const uint32_t *pair_first; /* (n_pairs) first listen, Unix s; 0 = unknown */
    const uint32_t *pair_last;  /* (n_pairs) last listen, Unix s; 0 = unknown */

    /* by song */
    const uint64_t *song_ptr;  /* (n_songs + 1) */
    const uint32_t *song_user; /* (n_pairs) users of song s, ascending */
    const uint32_t *song_pair; /* (n_pairs) index of that pair in the by-user arrays */

    /* per-listen events, by user (optional: NULL pointers and n_events 0 without) */
    uint64_t n_events;
    const uint64_t *event_ptr;  /* (n_users + 1) events of u: [event_ptr[u], event_ptr[u+1]) */
    const uint32_t *event_pair; /* (n_events) the listen's pair, one of u's (by-user index) */
    const uint32_t *event_time; /* (n_events) Unix s > 0, ascending within a user (equal
                                   times: pair ascending) */

    char *meta_json; /* owned: how it was made (sources, filters, skip counts), JSON */
    /* The rating scale declared at ingest (`--scale`, kept in meta_json's options and read
     * back from it at load); scale_lo == scale_hi (0) when none: the data's range is used. */
    double scale_lo, scale_hi;

    /* backing storage (private) */
    void *map;
    uint64_t map_len;
    void **owned;
    uint32_t n_owned;
} sr_dataset;

/* Saves ds to path atomically (temp file + fsync + rename). */
sr_err sr_dataset_save(const sr_dataset *ds, const char *path, sr_diag *d);
/* Opens a .srd with mmap, checking magic, version, size, checksum and structure; a
 * truncated, corrupt or other-version file is refused with words in d. */
sr_err sr_dataset_load(const char *path, sr_dataset **out, sr_diag *d);
void sr_dataset_free(sr_dataset *ds);

/* Convenience lookups. */
static inline sr_str sr_dataset_user(const sr_dataset *ds, uint32_t u) {
    return sr_strtab_get(&ds->users, u);
}
static inline sr_str sr_dataset_artist(const sr_dataset *ds, uint32_t a) {
    return sr_strtab_get(&ds->artists, a);
}
static inline sr_str sr_dataset_track(const sr_dataset *ds, uint32_t s) {
    return sr_strtab_get(&ds->tracks, s);
}

#endif
