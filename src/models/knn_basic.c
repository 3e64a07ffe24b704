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

static bool estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                     double *est) {
    const sr_knn *m = state;
    uint32_t x;
    sr_knn_sum s;
    if (!sr__knn_known_sums(m, ts, u, i, NULL, NULL, &x, &s)) return false;
    if (s.actual_k < m->min_k || !(s.den > 0)) return false;
    *est = s.num / s.den;
    return true;
}

static bool estimate_new_w(const void *state, const sr_trainset *ts, const sr_newuser *u,
                           uint32_t i, double *est, double *w) {
    const sr_knn *m = state;
    sr_knn_sum s;
    if (!sr_trainset_knows_item(ts, i) || !sr__knn_new_sums(m, ts, u, i, 0, NULL, NULL, &s, w))
        return false;
    if (s.actual_k < m->min_k || !(s.den > 0)) return false;
    *est = s.num / s.den;
    if (w)
        for (size_t j = 0; j < u->n; j++) w[j] /= s.den;
    return true;
}

SR_KNN_MODEL(knn_basic, "KNNBasic",
             "k nearest neighbours: similarity-weighted mean of their ratings", 0);
