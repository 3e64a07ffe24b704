/* Cross-validation: fit a model on the train part of each split, predict the test part,
 * score it — Surprise's cross_validate. Splits run in parallel on up to `threads`
 * workers (each fit then gets one thread); the model's seed is the same for every
 * split, so a result depends only on the seed, not on the thread count. */
#ifndef SR_CV_H
#define SR_CV_H

#include "eval/metrics.h"
#include "eval/split.h"
#include "models/model.h"

typedef struct sr_cv_fold {
    double metric[SR_METRIC__COUNT];
    double fit_s, test_s;
    uint64_t n_train, n_test;
} sr_cv_fold;

typedef struct sr_cv_result {
    unsigned n_folds;
    sr_cv_fold *folds;                                    /* (n_folds) owned */
    double mean[SR_METRIC__COUNT], std[SR_METRIC__COUNT]; /* std: population, as numpy */
    double fit_mean, fit_std, test_mean, test_std;
} sr_cv_result;

typedef struct sr_cv_opts {
    sr_split_opts split;
    unsigned threads;
    uint64_t seed; /* the model's random_state */
    const sr_log *log;
} sr_cv_opts;

/* Checks the split options against rs first (sr_split_check: its error and words, before
 * any fit); then the first failing fold's error with its words. */
sr_err sr_cross_validate(const sr_ratings *rs, const sr_model_ops *ops, const double *params,
                         const sr_cv_opts *o, sr_cv_result *out, sr_diag *d);
void sr_cv_result_deinit(sr_cv_result *r);

#endif
