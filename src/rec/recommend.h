/* The recommender: a listener's profile in, a ranked, explained list of songs out, from
 * any fitted model of the registry — without retraining (each model folds the listener in,
 * model.h), so one model serves many listeners at once.
 *
 * A profile is the listener's ratings (item ids of the model, values on its scale) and
 * what they do not want: blocked songs and blocked artists. sr_recommend
 *   1. folds the ratings in (unknown items are skipped and counted; a repeated item keeps
 *      its last rating);
 *   2. predicts every song of the catalog that the listener has not rated and not blocked
 *      (nor by artist, nor — with exclude_rated_artists — by an artist they rated), with
 *      the model's fast scan where it has one; an impossible estimate falls back to the
 *      global mean and is flagged; predictions are clipped to the scale;
 *   3. ranks by the predicted rating shifted by the familiar <-> discovery weight
 *        rank = pred - discovery * (hi - lo) / 2 * (pop_i + known_i) / 2
 *      where pop_i in [0, 1] is log(1 + raters of i) / log(1 + raters of the most rated
 *      song) and known_i is 1 when the listener rated a song of i's artist: discovery > 0
 *      (up to 1) pushes popular songs and known artists down, < 0 (down to -1) pulls them
 *      up, 0 ranks by prediction alone; ties go to the lower id;
 *   4. keeps at most max_per_artist songs of one artist (0: no limit) and returns the n
 *      best, each with the rated songs that most support it ("because you rated ...",
 *      with their weights: each rating's contribution to the prediction, from the model's
 *      explain or, without one, the change when the rating is left out of the fold-in),
 *      and a support figure: how many of the listener's ratings back it (contribution > 0
 *      and at least a tenth of the largest), out of 5, in [0, 1]; a pick is weak when
 *      fewer than two back it or the model could not estimate it.
 *
 * Thread safety: an sr_recommender is read-only after init; any number of threads may
 * call sr_recommend and sr_rec_similar on it at once.
 */
#ifndef SR_RECOMMEND_H
#define SR_RECOMMEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/model.h"
#include "util/err.h"

#define SR_REC_MAX_BECAUSE  5
#define SR_REC_MAX_N        1000
#define SR_REC_MAX_THREADS  16
#define SR_REC_ARTIST_SEEDS 5

typedef struct sr_recommender {
    const sr_model *model;
    uint32_t n_items, n_artists;
    const uint32_t *item_artist; /* (n_items) or NULL: no artist rules */
    float *pop;                  /* (n_items) owned: pop_i above */
    uint64_t *known;             /* (n_items bits) owned: the items the trainset knows */
    int threads;                 /* threads one request may scan a large catalog with (default 1) */
    /* The int8 scan (sr_recommender_set_scan); q8.data NULL when scans are exact. */
    sr_fmat q8;
    float *q8_err;   /* (n_items) the copy's error bound per row (fmat.h) */
    float *q8_err16; /* (n_items / 16 rounded up) the largest of each block of 16 */
    float bias_max;  /* max |bias_i| of the linear form, for the rounding margin */
} sr_recommender;

/* Sets R up over m (borrowed: it must outlive R). item_artist may be NULL. Scans are
 * exact until sr_recommender_set_scan says otherwise. */
sr_err sr_recommender_init(sr_recommender *R, const sr_model *m, const uint32_t *item_artist,
                           uint32_t n_artists, sr_diag *d);
void sr_recommender_deinit(sr_recommender *R);

/* How sr_recommend scores the catalog.
 *   exact  the model's own scan (score_new), every song in float32 arithmetic;
 *   int8   for models whose scores are linear in the item factors (model.h `linear`):
 *          an int8 copy of the factors (one byte a value, a scale per song: a quarter of
 *          float32, half of float16, so half the memory traffic) is scanned first, each
 *          song's score known to within a bound (fmat.h: sr_fmat_quantize); then every
 *          song whose bound lets it reach the list is scored exactly and the list is
 *          ranked on exact scores — the same songs, in the same order, as exact, up to
 *          float rounding between the two exact kernels;
 *   auto   int8 from SR_REC_INT8_MIN songs up, else exact.
 * Quantising reads every row once (on R->threads threads). When release_source is set,
 * the pages of the model's own rows are then handed back to the kernel (madvise): the
 * caller promises they come from a read-only file mapping (the engine's model file), so
 * the exact re-scoring reads the few rows it needs again from the page cache. A model
 * without a linear form, or too little memory, stays exact (no error). */
#define SR_REC_INT8_MIN 200000
typedef enum sr_rec_scan { SR_REC_SCAN_AUTO = 0, SR_REC_SCAN_EXACT, SR_REC_SCAN_INT8 } sr_rec_scan;
void sr_recommender_set_scan(sr_recommender *R, sr_rec_scan scan, bool release_source);

typedef struct sr_rec_rating {
    uint32_t item;
    float r;
} sr_rec_rating;

typedef struct sr_rec_profile {
    const sr_rec_rating *ratings;
    size_t n_ratings;
    const uint32_t *blocked_items;
    size_t n_blocked_items;
    const uint32_t *blocked_artists;
    size_t n_blocked_artists;
} sr_rec_profile;

typedef struct sr_rec_opts {
    size_t n;                   /* 1..SR_REC_MAX_N */
    bool exclude_rated_artists; /* discovery: no song of an artist the listener rated */
    uint32_t max_per_artist;    /* 0: no limit */
    double discovery;           /* -1..1, see the top */
    size_t n_because;           /* explanations per song, up to SR_REC_MAX_BECAUSE */
} sr_rec_opts;

typedef struct sr_rec_because {
    uint32_t item; /* the rated song */
    float rating;  /* its rating */
    double weight; /* its contribution to the prediction */
} sr_rec_because;

typedef struct sr_rec_item {
    uint32_t item;
    double score;      /* predicted rating, clipped to the scale */
    double rank_score; /* what it was ranked by */
    double support;    /* 0..1, see the top */
    bool weak;
    bool fallback; /* the model could not estimate it: score is the global mean */
    size_t n_because;
    sr_rec_because because[SR_REC_MAX_BECAUSE];
} sr_rec_item;

typedef struct sr_rec_stats {
    size_t used;      /* ratings folded in */
    size_t unknown;   /* ratings of items the model does not know (skipped) */
    size_t repeated;  /* ratings replaced by a later one of the same item */
    size_t candidate; /* songs that could be recommended */
} sr_rec_stats;

/* Fills out (room for o->n) with up to o->n songs, *n_out of them; stats may be NULL.
 * SR_E_RANGE for a rating off the scale or an option out of range. */
sr_err sr_recommend(const sr_recommender *R, const sr_rec_profile *p, const sr_rec_opts *o,
                    sr_rec_item *out, size_t *n_out, sr_rec_stats *stats, sr_diag *d);

/* The n songs most similar to `item` (itself excluded), best first: the model's own
 * notion where it has one (cosine of factor vectors; the item similarity of an
 * item-based k-NN), else the cosine of the songs' rater sets in the trainset (k-NN,
 * Slope One); SR_E_USAGE when the model keeps neither. ids and sims get *n_out values. */
sr_err sr_rec_similar(const sr_recommender *R, uint32_t item, size_t n, uint32_t *ids, float *sims,
                      size_t *n_out, sr_diag *d);
/* Whether the model has either notion of song similarity (so sr_rec_similar and
 * sr_rec_similar_artists can answer): a client can leave out "more like this". */
bool sr_rec_has_similar(const sr_recommender *R);

/* The n artists most similar to `artist`, best first: with the artist's (up to
 * SR_REC_ARTIST_SEEDS) most popular songs as seeds, an artist B scores the mean over the
 * seeds of the similarity of B's closest song to the seed (song similarity as for
 * sr_rec_similar). ids and sims get *n_out values. SR_E_USAGE without a notion of song
 * similarity or without a catalog. */
sr_err sr_rec_similar_artists(const sr_recommender *R, uint32_t artist, size_t n, uint32_t *ids,
                              float *sims, size_t *n_out, sr_diag *d);

/* Up to n (1..SR_REC_MAX_STARTER) songs for a listener with no ratings to rate first,
 * chosen to be informative: among the most popular songs (the 400 most played, one per
 * artist), songs the model's predictions for its trained users disagree on most (the
 * spread of the predictions over a sample of up to 64 of them), each next one as unlike
 * the chosen as possible (the correlation of their prediction vectors), weighted by
 * popularity: pick = argmax spread * sqrt(pop) * (1 - max |corr with a chosen song|).
 * Deterministic; works for every model. ids get *n_out values. */
#define SR_REC_MAX_STARTER 50
sr_err sr_rec_starter(const sr_recommender *R, size_t n, uint32_t *ids, size_t *n_out, sr_diag *d);

#endif
