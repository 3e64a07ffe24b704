/* KNNBasic: the similarity-weighted mean of the neighbours' ratings (Surprise's
 * knns.KNNBasic):
 *     r^_ui = sum_{v in N^k_i(u)} sim(u, v) r_vi / sum_{v in N^k_i(u)} sim(u, v)
 * (or over items j in N^k_u(i) when user_based is false), where N^k_i(u) are the k
 * users most similar to u among those who rated i, keeping those with sim > 0
 * (knn_common.h). Fewer than min_k such neighbours, or an unknown user or item: the
 * estimate is impossible (the caller predicts the global mean).
 */
#include "models/knn_common.h"

static const sr_param_def params[] = {
    SR_KNN_PARAMS(SR_SIM_MSD, "(for name=pearson_baseline)"),
};

static sr_err fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                  sr_diag *d) {
    return sr__knn_fit_state(ts, p, c, 0, state, d);
}

static bool estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                     double *est) {
    const sr_knn *m = state;
    if (!sr_trainset_knows_user(ts, u) || !sr_trainset_knows_item(ts, i)) return false;
    uint32_t x, y;
    sr__knn_xy(m, u, i, &x, &y);
    sr_knn_sum s;
    if (!sr__knn_aggregate(m, ts, x, y, 0, NULL, NULL, &s)) return false;
    if (s.actual_k < m->min_k || !(s.den > 0)) return false;
    *est = s.num / s.den;
    return true;
}

static sr_err load(sr_srm *r, const sr_trainset *ts, const double *p, void **state, sr_diag *d) {
    return sr__knn_load(r, ts, p, 0, state, d);
}

const sr_model_ops sr_model_knn_basic = {
    .name = "knn_basic",
    .surprise = "KNNBasic",
    .summary = "k nearest neighbours: similarity-weighted mean of their ratings",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .fit = fit,
    .estimate = estimate,
    .free = sr__knn_free,
    .ts_keep = SR_TS_BY_USER | SR_TS_BY_ITEM,
    .save = sr__knn_save,
    .load = load,
};
