/* Splits of a ratings list into train and test parts, as Surprise's model_selection:
 * KFold (shuffled, then n contiguous folds: the first n % k folds one larger),
 * RepeatedKFold (KFold n_repeats times with consecutive seeds), ShuffleSplit
 * (n_splits independent random test sets of a given size), train/test split (one
 * ShuffleSplit), LeaveOneOut (one random rating of every user in the test set;
 * min_n_ratings filters users). Each split is a mask: test[k] = 1 for the test part.
 * A time split (one split) trains on the pairs first listened before `time_cut` and
 * tests on those first listened at or after it (pairs of unknown time train), so a
 * model is judged on what came later, as it would be used.
 * Shuffles use src/util/rng.h from the seed, so a seed gives the same splits.
 * sr_split_check says, before any split is made, whether the options can split the
 * ratings at all, with words that name the option (--cv, --test-size, --test-after)
 * and, for a time split, the data's time range. */
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
    int64_t time_cut; /* time split: Unix s, or SR_SPLIT_NO_CUT when none was given */
} sr_split_opts;

/* A time split without its cut (the commands' default until --test-after is given). */
#define SR_SPLIT_NO_CUT INT64_MIN

/* How many splits the options make. */
unsigned sr_split_count(const sr_split_opts *o);
/* Fills test (rs->n bytes) for split number s (0-based). */
sr_err sr_split_mask(const sr_ratings *rs, const sr_split_opts *o, unsigned s, uint8_t *test);

/* Whether o can split rs, with words in d when not: SR_E_USAGE for options no data could
 * satisfy (fewer than 2 folds, a time split without its cut), SR_E_INPUT for a time
 * split of ratings without listen times, SR_E_RANGE when rs is too small for the options
 * (more folds than ratings, a test size that leaves nothing to train on) or the cut
 * leaves one side empty (sr_split_time_check). When it passes, sr_split_mask fails only
 * for memory. */
sr_err sr_split_check(const sr_ratings *rs, const sr_split_opts *o, sr_diag *d);

/* For a time split of rs at cut (pairs first heard at or after it are tested, those of
 * unknown time train): SR_OK when both sides keep a pair; else SR_E_RANGE with words
 * that name --test-after, the side left empty and the data's time range ("--test-after
 * 2030-01-01 is after the last rating (2018-11-14T15:23:21Z): the test set would be
 * empty (ratings from ... to ...)"), noun naming the pairs ("rating", "pair"); and
 * SR_E_INPUT when no pair has a time (rs->ts NULL or all zero). */
sr_err sr_split_time_check(const sr_ratings *rs, int64_t cut, const char *noun, sr_diag *d);

#endif
