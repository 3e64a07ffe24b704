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

static bool estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                     double *est) {
    const sr_knn *m = state;
    uint32_t x;
    sr_knn_sum s;
    if (!sr__knn_known_sums(m, ts, u, i, m->mean, NULL, &x, &s)) return false;
    *est = m->mean[x] + sr__knn_part(m, &s);
    return true;
}

static bool estimate_new_w(const void *state, const sr_trainset *ts, const sr_newuser *u,
                           uint32_t i, double *est, double *w) {
    const sr_knn *m = state;
    const sr_knn_user *ku = u->state;
    sr_knn_sum s;
    if (!sr_trainset_knows_item(ts, i) || !sr__knn_new_sums(m, ts, u, i, 0, m->mean, NULL, &s, w))
        return false;
    const double part = sr__knn_part(m, &s);
    *est = (m->user_based ? ku->mean : m->mean[i]) + part;
    if (w)
        for (size_t j = 0; j < u->n; j++) w[j] = part != 0 ? w[j] / s.den : 0;
    return true;
}

SR_KNN_MODEL(knn_with_means, "KNNWithMeans", "k nearest neighbours on mean-centred ratings",
             SR_KNN_NEED_MEANS);
