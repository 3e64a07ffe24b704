/* KNNWithMeans: the mean rating of u plus the similarity-weighted mean of the
 * neighbours' deviations from their own means (Surprise's knns.KNNWithMeans):
 *     r^_ui = mu_u + sum_{v in N^k_i(u)} sim(u, v) (r_vi - mu_v) / sum sim(u, v)
 * (items' means when user_based is false). The neighbours N^k_i(u) are as in KNNBasic
 * (knn_common.h). With fewer than min_k neighbours, or none, the estimate is mu_u alone;
 * an unknown user or item makes it impossible.
 */
#include "models/knn_common.h"

static const sr_param_def params[] = {
    SR_KNN_PARAMS(SR_SIM_MSD, "(for name=pearson_baseline)"),
};

static sr_err fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                  sr_diag *d) {
    return sr__knn_fit_state(ts, p, c, SR_KNN_NEED_MEANS, state, d);
}

static bool estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                     double *est) {
    const sr_knn *m = state;
    if (!sr_trainset_knows_user(ts, u) || !sr_trainset_knows_item(ts, i)) return false;
    uint32_t x, y;
    sr__knn_xy(m, u, i, &x, &y);
    sr_knn_sum s;
    if (!sr__knn_aggregate(m, ts, x, y, 0, m->mean, NULL, &s)) return false;
    *est = m->mean[x] + sr__knn_part(m, &s);
    return true;
}

static sr_err load(sr_srm *r, const sr_trainset *ts, const double *p, void **state, sr_diag *d) {
    return sr__knn_load(r, ts, p, SR_KNN_NEED_MEANS, state, d);
}

const sr_model_ops sr_model_knn_with_means = {
    .name = "knn_with_means",
    .surprise = "KNNWithMeans",
    .summary = "k nearest neighbours on mean-centred ratings",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .fit = fit,
    .estimate = estimate,
    .free = sr__knn_free,
    .ts_keep = SR_TS_BY_USER | SR_TS_BY_ITEM,
    .save = sr__knn_save,
    .load = load,
};
