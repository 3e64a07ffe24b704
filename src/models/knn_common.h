/* What the four k-NN models (Surprise's KNNBasic, KNNWithMeans, KNNWithZScore,
 * KNNBaseline; Surprise's knns.py, and Koren, "Factor in the neighbors", TKDD 2010,
 * section 2.2 for the baseline variant) share: their parameter table, fitting (the
 * similarity matrix, per-x means and deviations, baselines) and the neighbour
 * aggregation.
 *
 * Write x for the side the similarity is over (users when user_based, else items) and
 * y for the other. To estimate (u, i) -> (x, y), the candidates are the xs that rated y
 * in the trainset; the neighbours are the k most similar candidates (ties: first in
 * the list, as heapq.nlargest), and of those only the ones with similarity > 0 count.
 * The aggregation is
 *     num = sum sim(x, x') * (r_x'y - offset - center[x']) / scale[x'],  den = sum sim
 * where each model picks offset, center and scale (none for KNNBasic, the means for
 * WithMeans, means and deviations for WithZScore, mu + b_y and b_x' for Baseline), and
 * forms its estimate from num / den.
 *
 * Shared-but-private (sr__): only the knn_*.c files use this.
 */
#ifndef SR_KNN_COMMON_H
#define SR_KNN_COMMON_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "models/model.h"
#include "models/similarity.h"

/* Parameter indices, in the order of SR_KNN_PARAMS. */
enum {
    SR_KNN_K,
    SR_KNN_MIN_K,
    SR_KNN_NAME,
    SR_KNN_USER_BASED,
    SR_KNN_MIN_SUPPORT,
    SR_KNN_SHRINKAGE,
    SR_KNN_BSL_METHOD,
    SR_KNN_BSL_N_EPOCHS,
    SR_KNN_BSL_REG_U,
    SR_KNN_BSL_REG_I,
    SR_KNN_BSL_REG,
    SR_KNN_BSL_LR,
    SR_KNN_N_PARAMS
};

/* The parameter table entries of a k-NN model; default_measure is an sr_sim_measure
 * (Surprise's default is msd for every k-NN class), bsl_help says what the baseline
 * options are used for. Baseline options left unset take sr_baseline_defaults(method). */
// clang-format off
#define SR_KNN_PARAMS(default_measure, bsl_help)                                            \
    {"k", SR_PARAM_INT, 40, 1, 1e9, NULL, "the (max) number of neighbours to aggregate"},   \
    {"min_k", SR_PARAM_INT, 1, 0, 1e9, NULL,                                                \
     "the minimum number of neighbours; with fewer the neighbour part is left out"},       \
    {"name", SR_PARAM_CHOICE, (default_measure), 0, 3, SR_SIM_CHOICES,                      \
     "similarity measure (sim_options name)"},                                              \
    {"user_based", SR_PARAM_BOOL, 1, 0, 1, NULL,                                            \
     "similarities between users (true) or between items (false)"},                         \
    {"min_support", SR_PARAM_INT, 1, 0, 1e9, NULL,                                          \
     "fewest common ratings for a non-zero similarity"},                                    \
    {"shrinkage", SR_PARAM_REAL, 100, 0, 1e12, NULL, "pearson_baseline shrinkage"},         \
    {"bsl_method", SR_PARAM_CHOICE, 0, 0, 1, "als|sgd", "baselines: solver " bsl_help},     \
    {"bsl_n_epochs", SR_PARAM_INT, NAN, 0, 1e6, NULL,                                       \
     "baselines: epochs (unset: 10 for als, 20 for sgd)"},                                  \
    {"bsl_reg_u", SR_PARAM_REAL, NAN, 0, 1e12, NULL, "baselines (als): user reg (15)"},     \
    {"bsl_reg_i", SR_PARAM_REAL, NAN, 0, 1e12, NULL, "baselines (als): item reg (10)"},     \
    {"bsl_reg", SR_PARAM_REAL, NAN, 0, 1e12, NULL, "baselines (sgd): reg (0.02)"},          \
    {"bsl_learning_rate", SR_PARAM_REAL, NAN, 0, 1e6, NULL,                                 \
     "baselines (sgd): learning rate (0.005)"}
// clang-format on

/* What a model needs fitted besides the similarities. */
enum {
    SR_KNN_NEED_MEANS = 1,     /* mean of each x's ratings */
    SR_KNN_NEED_SIGMAS = 2,    /* and their (population) standard deviation */
    SR_KNN_NEED_BASELINES = 4, /* b_u, b_i (also fitted whenever name is pearson_baseline) */
};

typedef struct sr_knn {
    sr_sim *sim;
    bool user_based;
    int k, min_k;
    double *mean;    /* (n_x) or NULL */
    double *sigma;   /* (n_x) or NULL; a zero deviation is replaced by the overall one */
    double *bu, *bi; /* (n_users), (n_items) or NULL */
    bool mapped;     /* loaded: sim->s and the arrays are borrowed from the model file */
} sr_knn;

/* The neighbour sums for one estimate. */
typedef struct sr_knn_sum {
    double num, den;
    int actual_k; /* neighbours with similarity > 0 among the k nearest */
} sr_knn_sum;

/* Fits the shared state from the parameter vector p (SR_KNN_PARAMS order). Returns new
 * state in *out (free with sr__knn_free). */
sr_err sr__knn_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, unsigned needs,
                   sr_knn **out, sr_diag *d);
void sr__knn_free(void *state);

/* Model files: the similarity matrix ("m.sim", a factor array: f32 or f16), and mean,
 * sigma, bu, bi where fitted. load checks the sizes and that `needs` is present. */
void sr__knn_save(const void *state, const sr_trainset *ts, sr_srm_writer *w);
sr_err sr__knn_load(sr_srm *r, const sr_trainset *ts, const double *p, unsigned needs, void **state,
                    sr_diag *d);

/* Maps (u, i) to (x, y) by user_based. */
static inline void sr__knn_xy(const sr_knn *m, uint32_t u, uint32_t i, uint32_t *x, uint32_t *y) {
    *x = m->user_based ? u : i;
    *y = m->user_based ? i : u;
}

/* The sums over the neighbours of x among the raters of y (see the top), with
 * residual (r - offset - (center ? center[x'] : 0)) / (scale ? scale[x'] : 1). x and y
 * must be known. False only when scratch memory for k > 256 could not be had. */
bool sr__knn_aggregate(const sr_knn *m, const sr_trainset *ts, uint32_t x, uint32_t y,
                       double offset, const double *center, const double *scale, sr_knn_sum *out);

/* A listener folded into a k-NN model (sr__knn_fold_in): the mean and deviation of their
 * ratings, their baseline b_u with the item biases fixed (baselines.h; bu_den its
 * denominator) when the model has baselines, and, user-based, their similarity to every
 * user of the trainset (same measure, same options), so that estimates for them are the
 * model's formulas with the new row in place of a fitted one. */
typedef struct sr_knn_user {
    double mean, sigma, bu, bu_den;
    float *sim; /* (n_users) user-based, else NULL */
} sr_knn_user;

sr_err sr__knn_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *u,
                       sr_diag *d);
void sr__knn_user_free(void *ustate);
/* ops->similar: item-based, the similarity matrix's row; user-based, false. */
bool sr__knn_similar(const void *state, const sr_trainset *ts, uint32_t i, float *out);
/* The sums for listener u and item i (known): user-based, over i's raters by u's
 * similarities; item-based, over u's rated songs by i's row. w (u->n or NULL; item-based
 * only) gets each rated song's sim * residual, 0 for the songs not among the neighbours. */
bool sr__knn_new_sums(const sr_knn *m, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                      double offset, const double *center, const double *scale, sr_knn_sum *s,
                      double *w);

/* The neighbour part num / den, or 0 when fewer than min_k neighbours count or none
 * does (Surprise then returns the mean or baseline part alone). */
static inline double sr__knn_part(const sr_knn *m, const sr_knn_sum *s) {
    return s->actual_k >= m->min_k && s->den > 0 ? s->num / s->den : 0;
}

/* Fits into *state for the ops tables (needs: SR_KNN_NEED_*). */
static inline sr_err sr__knn_fit_state(const sr_trainset *ts, const double *p, const sr_fit_ctx *c,
                                       unsigned needs, void **state, sr_diag *d) {
    sr_knn *m = NULL;
    sr_err e = sr__knn_fit(ts, p, c, needs, &m, d);
    *state = m;
    return e;
}

/* For KNNBasic, WithMeans and WithZScore: x (see sr__knn_xy) and the sums with offset 0,
 * center and scale; false when u or i is unknown or scratch memory could not be had
 * (the estimate is then impossible). */
static inline bool sr__knn_known_sums(const sr_knn *m, const sr_trainset *ts, uint32_t u,
                                      uint32_t i, const double *center, const double *scale,
                                      uint32_t *x, sr_knn_sum *s) {
    if (!sr_trainset_knows_user(ts, u) || !sr_trainset_knows_item(ts, i)) return false;
    uint32_t y;
    sr__knn_xy(m, u, i, x, &y);
    return sr__knn_aggregate(m, ts, *x, y, 0, center, scale, s);
}

/* The rest of a k-NN model's file after its `params` table, `estimate` and
 * `estimate_new_w(state, ts, u, i, est, w)` (the estimate for a folded-in listener; with w
 * not NULL, also each rating's contribution as in model.h's explain — asked only of
 * item-based models): fit and load wrappers for the arrays in `needs` (SR_KNN_NEED_*), and
 * the ops table sr_model_<id>. */
#define SR_KNN_MODEL(id, surprise_name, summary_text, needs)                                       \
    static sr_err fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,   \
                      sr_diag *d) {                                                                \
        return sr__knn_fit_state(ts, p, c, (needs), state, d);                                     \
    }                                                                                              \
    static sr_err load(sr_srm *r, const sr_trainset *ts, const double *p, void **state,            \
                       sr_diag *d) {                                                               \
        return sr__knn_load(r, ts, p, (needs), state, d);                                          \
    }                                                                                              \
    static bool estimate_new(const void *state, const sr_trainset *ts, const sr_newuser *u,        \
                             uint32_t i, double *est) {                                            \
        return estimate_new_w(state, ts, u, i, est, NULL);                                         \
    }                                                                                              \
    static bool explain(const void *state, const sr_trainset *ts, const sr_newuser *u, uint32_t i, \
                        double *w) {                                                               \
        const sr_knn *m_ = state;                                                                  \
        double est_;                                                                               \
        return !m_->user_based && estimate_new_w(state, ts, u, i, &est_, w);                       \
    }                                                                                              \
    const sr_model_ops sr_model_##id = {                                                           \
        .name = #id,                                                                               \
        .surprise = surprise_name,                                                                 \
        .summary = summary_text,                                                                   \
        .params = params,                                                                          \
        .n_params = sizeof params / sizeof params[0],                                              \
        .fit = fit,                                                                                \
        .estimate = estimate,                                                                      \
        .free = sr__knn_free,                                                                      \
        .ts_keep = SR_TS_BY_USER | SR_TS_BY_ITEM,                                                  \
        .save = sr__knn_save,                                                                      \
        .load = load,                                                                              \
        .fold_in = sr__knn_fold_in,                                                                \
        .estimate_new = estimate_new,                                                              \
        .explain = explain,                                                                        \
        .user_free = sr__knn_user_free,                                                            \
        .similar = sr__knn_similar,                                                                \
    }

#endif
