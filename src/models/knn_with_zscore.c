/* KNNWithZScore: k-NN on z-scores (Surprise's knns.KNNWithZScore):
 *     r^_ui = mu_u + sigma_u sum_{v in N^k_i(u)} sim(u, v) (r_vi - mu_v) / sigma_v
 *                    / sum sim(u, v)
 * with mu, sigma the mean and population standard deviation of each user's ratings
 * (items' when user_based is false); a zero sigma is replaced by that of all ratings.
 * The neighbours are as in KNNBasic (knn_common.h). With fewer than min_k neighbours, or
 * none, the estimate is mu_u alone; an unknown user or item makes it impossible.
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
    if (!sr__knn_known_sums(m, ts, u, i, m->mean, m->sigma, &x, &s)) return false;
    *est = m->mean[x] + sr__knn_part(m, &s) * m->sigma[x];
    return true;
}

static bool estimate_new_w(const void *state, const sr_trainset *ts, const sr_newuser *u,
                           uint32_t i, double *est, double *w) {
    const sr_knn *m = state;
    const sr_knn_user *ku = u->state;
    sr_knn_sum s;
    if (!sr_trainset_knows_item(ts, i) ||
        !sr__knn_new_sums(m, ts, u, i, 0, m->mean, m->sigma, &s, w))
        return false;
    const double part = sr__knn_part(m, &s);
    const double mean = m->user_based ? ku->mean : m->mean[i];
    const double sigma = m->user_based ? ku->sigma : m->sigma[i];
    *est = mean + part * sigma;
    if (w)
        for (size_t j = 0; j < u->n; j++) w[j] = part != 0 ? w[j] / s.den * sigma : 0;
    return true;
}

SR_KNN_MODEL(knn_with_zscore, "KNNWithZScore", "k nearest neighbours on z-score normalised ratings",
             SR_KNN_NEED_MEANS | SR_KNN_NEED_SIGMAS);
