/* Ratings for the rating models: what a model is fitted on and evaluated against.
 *
 * sr_ratings is a flat list of (user, item, rating) triples taken from a dataset
 * through a transform — for play counts the origin's "count capped at 10" gives 1..10
 * ratings; for explicit ratings the values are kept as given. User and item ids are the
 * dataset's (dense, 32-bit). The rating scale is (lo, hi): 1..10 for capped counts,
 * the data's minimum and maximum for explicit ratings; predictions are clipped to it.
 *
 * sr_trainset is the part of the ratings a model is fitted on, indexed both ways (CSR by
 * user and by item) with the global mean, in the shape Surprise's Trainset offers: a
 * user or item with no rating in the trainset is "unknown" to the model.
 *
 * Ownership: sr_ratings_from_dataset and sr_trainset_new return new objects, freed by
 * their _free functions. A trainset copies what it needs; the ratings may be freed first.
 */
#ifndef SR_TRAINSET_H
#define SR_TRAINSET_H

#include <stdbool.h>
#include <stdint.h>

#include "data/dataset.h"
#include "util/err.h"

typedef enum sr_transform {
    SR_TRANSFORM_CAP10 = 0, /* plays: min(count, 10) -> 1..10 (the origin's) */
    SR_TRANSFORM_RAW,       /* the value as stored: ratings, or raw play counts */
} sr_transform;

typedef struct sr_ratings {
    uint32_t n_users, n_items;
    uint64_t n;
    uint32_t *user; /* (n) */
    uint32_t *item; /* (n) */
    float *r;       /* (n) */
    uint32_t *ts;   /* (n) first listen of the pair, Unix s, 0 unknown; NULL if none known */
    double lo, hi;  /* rating scale */
} sr_ratings;

/* Ratings of every pair of ds through transform t. */
sr_err sr_ratings_from_dataset(const sr_dataset *ds, sr_transform t, sr_ratings **out);
/* Ratings from arrays (copied): for tests and loaders. */
sr_err sr_ratings_new(uint32_t n_users, uint32_t n_items, uint64_t n, const uint32_t *user,
                      const uint32_t *item, const float *r, double lo, double hi, sr_ratings **out);
void sr_ratings_free(sr_ratings *r);

typedef struct sr_trainset {
    uint32_t n_users, n_items; /* id space (as in the ratings) */
    uint64_t n;                /* ratings in the trainset */
    double global_mean;
    double lo, hi; /* rating scale */
    /* by user: ratings of user u are [user_ptr[u], user_ptr[u+1]) */
    uint64_t *user_ptr; /* (n_users + 1) */
    uint32_t *ur_item;  /* (n) item of each, ascending within a user */
    float *ur_r;        /* (n) */
    /* by item */
    uint64_t *item_ptr; /* (n_items + 1) */
    uint32_t *ir_user;  /* (n) user of each, ascending within an item */
    float *ir_r;        /* (n) */
    uint32_t *ir_ts;    /* (n) first listen of each pair (Unix s, 0 unknown), or NULL when the
                           ratings carry no times (e.g. a trainset loaded from a model file) */
} sr_trainset;

/* The trainset of the ratings whose index i has take[i] != 0 (take NULL: all). */
sr_err sr_trainset_new(const sr_ratings *rs, const uint8_t *take, sr_trainset **out);
void sr_trainset_free(sr_trainset *ts);

static inline bool sr_trainset_knows_user(const sr_trainset *ts, uint32_t u) {
    return u < ts->n_users && ts->user_ptr[u + 1] > ts->user_ptr[u];
}
static inline bool sr_trainset_knows_item(const sr_trainset *ts, uint32_t i) {
    return i < ts->n_items && ts->item_ptr[i + 1] > ts->item_ptr[i];
}

#endif
