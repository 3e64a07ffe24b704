/* Dataset statistics: what `songrec stats` reports, computed in one pass.
 *
 * sr_stats_compute walks the by-user arrays once (pair values, songs, artists), then
 * the songs and the artists once each. Everything is exact:
 *   - plays per pair: a counting histogram of whole play counts below 65536 plus a
 *     sorted list of the few larger ones, so percentiles need no sort of the pairs;
 *   - medians of per-user and per-song counts: expected O(n) quickselect (three-way
 *     partition, so long runs of equal counts cost nothing) on one scratch copy;
 *   - top N artists and songs: a size-N min-heap per list, O(n log N), ties broken
 *     by id ascending;
 *   - distinct listeners per artist: one "last user seen" stamp per artist, which
 *     works because pairs arrive grouped by user.
 * Memory: O(n_users + n_songs + n_artists) scratch (about 60 MB at 4.66M songs);
 * nothing proportional to n_pairs except for fractional/huge outliers.
 *
 * Definitions (so tests and people agree): the median and percentile p of n values are
 * the k-th smallest value with k = ceil(p/100 * n) (nearest rank; for even n the
 * median is the lower middle value), so the median equals p50. A "listen" is a play in
 * a plays dataset and a rating in a ratings dataset. Play counts are whole numbers; a
 * fractional one is rounded to the nearest.
 *
 * Ownership: sr_stats_compute fills caller storage and allocates the top lists and
 * rating bins; sr_stats_deinit frees them. The dataset is borrowed, never modified.
 */
#ifndef SR_STATS_H
#define SR_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "data/dataset.h"
#include "util/err.h"

#define SR_STATS_PLAYS_CAP            100 /* plays_hist: bins 1..99 and "100+" */
#define SR_STATS_N_PCT                6   /* p50, p75, p90, p95, p99, p99.9 */
#define SR_STATS_MAX_DISTINCT_RATINGS 256 /* more distinct values: equal-width bins */
#define SR_STATS_RATING_BINS          20

/* Percentile levels of plays_pct, in percent: 50, 75, 90, 95, 99, 99.9. */
extern const double sr_stats_pct_levels[SR_STATS_N_PCT];

/* A summary of n nonnegative values. All zero when n == 0. */
typedef struct sr_stats_summary {
    uint64_t n;
    double min, median, mean, max;
} sr_stats_summary;

/* One artist or song in a top list. */
typedef struct sr_stats_item {
    uint32_t id;        /* artist id or song id */
    uint64_t listens;   /* plays (plays dataset) or number of ratings */
    uint64_t listeners; /* distinct users */
} sr_stats_item;

/* One histogram bin of rating values: [lo, hi]; lo == hi for a distinct value. */
typedef struct sr_stats_bin {
    double lo, hi;
    uint64_t count;
} sr_stats_bin;

typedef struct sr_stats {
    sr_value_kind kind;
    uint32_t n_users, n_artists, n_songs;
    uint64_t n_pairs;
    uint64_t n_listens;     /* sum of (rounded) play counts, or the number of ratings */
    double density;         /* n_pairs / (n_users * n_songs); 0 when empty */
    int64_t ts_min, ts_max; /* from the dataset; 0 when unknown */
    uint64_t pairs_timed;   /* pairs with a known first listen time */

    /* Plays datasets only (zero for ratings). */
    uint64_t plays_hist[SR_STATS_PLAYS_CAP + 1]; /* [c]: pairs played c times (1 <= c < 100);
                                                    [100]: 100 or more; [0]: zero/invalid */
    uint64_t pairs_once, pairs_twice, pairs_3_9, pairs_10_plus;
    sr_stats_summary plays_per_pair;
    double plays_pct[SR_STATS_N_PCT]; /* at sr_stats_pct_levels */
    uint64_t rating10_hist[11];       /* [r]: pairs with min(plays, 10) == r, r in 1..10 */
    double rating10_mean;             /* mean of min(plays, 10) over pairs with plays >= 1 */

    /* Ratings datasets only (NULL/zero for plays). Non-finite values are left out. */
    sr_stats_bin *rating_bins; /* (n_rating_bins) ascending; owned */
    uint32_t n_rating_bins;
    bool rating_bins_exact; /* one bin per distinct value (else equal-width bins) */
    sr_stats_summary ratings;
    double rating_std; /* population standard deviation */

    /* Both kinds. */
    sr_stats_summary listens_per_user;   /* plays (or ratings) per user */
    sr_stats_summary songs_per_user;     /* distinct songs per user */
    sr_stats_summary listeners_per_song; /* distinct users per song */

    /* Top lists, best first; ties by id ascending. Owned. */
    uint32_t n_top_artists;                  /* min(top_n, n_artists) */
    uint32_t n_top_songs;                    /* min(top_n, n_songs) */
    sr_stats_item *top_artists_by_listens;   /* (n_top_artists) */
    sr_stats_item *top_artists_by_listeners; /* (n_top_artists) */
    sr_stats_item *top_songs_by_listens;     /* (n_top_songs) */
    sr_stats_item *top_songs_by_listeners;   /* (n_top_songs) */
} sr_stats;

/* Computes the statistics of ds into *out (caller storage, overwritten) with top lists of
 * up to top_n entries. Needs both CSR indexes and song_artist; pair_first may be NULL.
 * Returns SR_OK; SR_E_NOMEM; or SR_E_CORRUPT (with words in d) when an id or offset is
 * out of range. On failure *out holds nothing to free. Time O(n_pairs + n_songs log N).
 */
sr_err sr_stats_compute(const sr_dataset *ds, uint32_t top_n, sr_stats *out, sr_diag *d);

/* Frees what sr_stats_compute allocated; st may be zeroed or already deinit'ed. */
void sr_stats_deinit(sr_stats *st);

#endif
