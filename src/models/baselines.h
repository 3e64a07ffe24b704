/* Baseline estimates b_ui = mu + b_u + b_i, shared by BaselineOnly, KNNBaseline and the
 * pearson_baseline similarity — computed as Surprise's compute_baselines does:
 *   "als": alternating least squares, n_epochs (default 10), reg_u (15), reg_i (10);
 *   "sgd": stochastic gradient descent, n_epochs (20), reg (0.02), learning_rate (0.005).
 * (Koren, "Factor in the neighbors", 2010, section 2.1; Surprise's baseline_only.py and
 * AlgoBase.compute_baselines.)
 */
#ifndef SR_BASELINES_H
#define SR_BASELINES_H

#include "models/trainset.h"
#include "util/err.h"

typedef struct sr_baseline_opts {
    int method; /* 0 = als, 1 = sgd */
    int n_epochs;
    double reg_u, reg_i; /* als */
    double reg, lr;      /* sgd */
} sr_baseline_opts;

/* Surprise's defaults for method 0 (als) or 1 (sgd). */
sr_baseline_opts sr_baseline_defaults(int method);
/* Fills bu (n_users) and bi (n_items); entries of unknown users/items stay 0. */
sr_err sr_baselines_compute(const sr_trainset *ts, const sr_baseline_opts *o, double *bu,
                            double *bi);

/* A new user's b_u with the item biases bi fixed, from their n ratings r on items (the
 * fixed point of the method's user step: als b_u = sum (r - mu - b_i) / (reg_u + n); sgd,
 * where each rating's step carries the regularisation, sum (r - mu - b_i) / (n (1 + reg)).
 * *den gets the denominator, so rating j's share of b_u is (r_j - mu - b_i) / *den. */
double sr_baseline_fold_in(const sr_trainset *ts, const sr_baseline_opts *o, const double *bi,
                           const uint32_t *items, const float *r, size_t n, double *den);

#endif
