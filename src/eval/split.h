/* Splits of a ratings list into train and test parts, as Surprise's model_selection:
 * KFold (shuffled, then n contiguous folds: the first n % k folds one larger),
 * RepeatedKFold (KFold n_repeats times with consecutive seeds), ShuffleSplit
 * (n_splits independent random test sets of a given size), train/test split (one
 * ShuffleSplit), LeaveOneOut (one random rating of every user in the test set;
 * min_n_ratings filters users). Each split is a mask: test[k] = 1 for the test part.
 * A time split (one split) trains on the pairs first listened before `time_cut` and
 * tests on those first listened at or after it (pairs of unknown time train), so a
 * model is judged on what came later, as it would be used.
 * Shuffles use src/util/rng.h from the seed, so a seed gives the same splits. */
#ifndef SR_SPLIT_H
#define SR_SPLIT_H

#include <stdint.h>

#include "models/trainset.h"
#include "util/err.h"

typedef enum sr_split_kind {
    SR_SPLIT_KFOLD,
    SR_SPLIT_REPEATED_KFOLD,
    SR_SPLIT_SHUFFLE,
    SR_SPLIT_LEAVE_ONE_OUT,
    SR_SPLIT_TIME,
} sr_split_kind;

typedef struct sr_split_opts {
    sr_split_kind kind;
    unsigned n_splits;      /* folds (kfold), splits (shuffle, leave-one-out) */
    unsigned n_repeats;     /* repeated kfold */
    double test_size;       /* shuffle: a fraction (< 1) or a count (>= 1) */
    unsigned min_n_ratings; /* leave-one-out: users with fewer ratings are never tested */
    uint64_t seed;
    int64_t time_cut; /* time split: Unix s */
} sr_split_opts;

/* How many splits the options make. */
unsigned sr_split_count(const sr_split_opts *o);
/* Fills test (rs->n bytes) for split number s (0-based). */
sr_err sr_split_mask(const sr_ratings *rs, const sr_split_opts *o, unsigned s, uint8_t *test);

#endif
