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
 * Per-listen events. Ratings from a dataset ingested with --keep-listens carry a copy of
 * its events (dataset.h: each listen's pair, here an index of the ratings, and time; 8
 * bytes a listen). A trainset has none unless asked: sr_trainset_add_events gives it a
 * view restricted to its own pairs — a held-out pair's listens never train — and,
 * for a time split, to the listens before the cut, as (song, time) by user. Only the
 * models that read them (sr_model_ops.needs_events: listening sessions) ask.
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
    /* per-listen events, by user, or all NULL (n_ev 0) when the dataset kept none */
    uint64_t n_ev;
    uint64_t *ev_ptr;  /* (n_users + 1) events of user u: [ev_ptr[u], ev_ptr[u+1]) */
    uint32_t *ev_pair; /* (n_ev) the rating (one of u's) each listen is a play of */
    uint32_t *ev_time; /* (n_ev) Unix s > 0, ascending within a user */
} sr_ratings;

/* Ratings of every pair of ds through transform t. */
sr_err sr_ratings_from_dataset(const sr_dataset *ds, sr_transform t, sr_ratings **out);
/* Ratings from arrays (copied): for tests and loaders. */
sr_err sr_ratings_new(uint32_t n_users, uint32_t n_items, uint64_t n, const uint32_t *user,
                      const uint32_t *item, const float *r, double lo, double hi, sr_ratings **out);
/* Gives rs a copy of n events (the fields above; for tests and loaders): SR_E_RANGE when
 * ptr does not run from 0 to n without decreasing, an event's rating is not its user's,
 * or times are 0 or decrease within a user (rs unchanged then); SR_E_NOMEM. Replaces
 * events rs had. */
sr_err sr_ratings_set_events(sr_ratings *rs, uint64_t n, const uint64_t *ptr, const uint32_t *pair,
                             const uint32_t *time);
void sr_ratings_free(sr_ratings *r);

/* A trainset's listens: (song, time) by user, times ascending within a user. */
typedef struct sr_events {
    uint64_t n;     /* listens */
    uint64_t *ptr;  /* (n_users + 1) listens of user u: [ptr[u], ptr[u+1]) */
    uint32_t *item; /* (n) the song of each listen */
    uint32_t *time; /* (n) Unix s, ascending within a user */
} sr_events;

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
    sr_events *ev;      /* the listens of its pairs (sr_trainset_add_events), or NULL */
} sr_trainset;

/* The trainset of the ratings whose index i has take[i] != 0 (take NULL: all). */
sr_err sr_trainset_new(const sr_ratings *rs, const uint8_t *take, sr_trainset **out);
void sr_trainset_free(sr_trainset *ts);
/* Gives ts (made by sr_trainset_new(rs, take, ...)) the events of rs's ratings that it
 * holds (take[j] != 0; take NULL: all) and, when before > 0, that happened before it
 * (Unix s; 0: no cut). A no-op (ts->ev stays NULL) when rs has no events; replaces
 * events ts had. SR_E_USAGE when rs is not ts's ratings' shape, SR_E_NOMEM. */
sr_err sr_trainset_add_events(sr_trainset *ts, const sr_ratings *rs, const uint8_t *take,
                              int64_t before);

static inline bool sr_trainset_knows_user(const sr_trainset *ts, uint32_t u) {
    return u < ts->n_users && ts->user_ptr[u + 1] > ts->user_ptr[u];
}
static inline bool sr_trainset_knows_item(const sr_trainset *ts, uint32_t i) {
    return i < ts->n_items && ts->item_ptr[i + 1] > ts->item_ptr[i];
}

#endif
