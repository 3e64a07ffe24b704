/* KNNBaseline: the baseline estimate plus the similarity-weighted mean of the
 * neighbours' residuals from their baselines (Surprise's knns.KNNBaseline; Koren,
 * "Factor in the neighbors", TKDD 2010, section 2.2, formula 3):
 *     r^_ui = b_ui + sum_{v in N^k_i(u)} sim(u, v) (r_vi - b_vi) / sum sim(u, v)
 * with b_ui = mu + b_u + b_i fitted by baselines.c (bsl_* parameters). The neighbours are
 * as in KNNBasic (knn_common.h). With fewer than min_k neighbours, or none, the estimate
 * is b_ui alone; an unknown user or item drops its bias and the neighbour part, so the
 * estimate is never impossible.
 *
 * The similarity defaults to msd, as in Surprise (an empty sim_options means msd for
 * every k-NN class; its published MovieLens-100k figure for KNNBaseline, RMSE 0.931, is
 * with msd). Its docs recommend name=pearson_baseline, which does better (about 0.922).
 */
#include "models/knn_common.h"

static const sr_param_def params[] = {
    SR_KNN_PARAMS(SR_SIM_MSD, "(als or sgd)"),
};

static bool estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                     double *est) {
    const sr_knn *m = state;
    const bool ku = sr_trainset_knows_user(ts, u), ki = sr_trainset_knows_item(ts, i);
    *est = ts->global_mean + (ku ? m->bu[u] : 0) + (ki ? m->bi[i] : 0);
    if (!ku || !ki) return true;
    uint32_t x, y;
    sr__knn_xy(m, u, i, &x, &y);
    const double *bx = m->user_based ? m->bu : m->bi;
    const double *by = m->user_based ? m->bi : m->bu;
    sr_knn_sum s;
    if (!sr__knn_aggregate(m, ts, x, y, ts->global_mean + by[y], bx, NULL, &s)) return true;
    *est += sr__knn_part(m, &s);
    return true;
}

static bool estimate_new_w(const void *state, const sr_trainset *ts, const sr_newuser *u,
                           uint32_t i, double *est, double *w) {
    const sr_knn *m = state;
    const sr_knn_user *ku = u->state;
    const bool ki = sr_trainset_knows_item(ts, i);
    const double mu = ts->global_mean;
    *est = mu + ku->bu + (ki ? m->bi[i] : 0);
    if (w)
        for (size_t j = 0; j < u->n; j++) w[j] = 0;
    if (!ki) return true;
    /* User-based: neighbours' residuals from their baselines mu + b_v + b_i; item-based:
     * the listener's residuals from mu + b_u + b_j. */
    sr_knn_sum s;
    const double offset = mu + (m->user_based ? m->bi[i] : ku->bu);
    if (!sr__knn_new_sums(m, ts, u, i, offset, m->user_based ? m->bu : m->bi, NULL, &s, w))
        return true;
    const double part = sr__knn_part(m, &s);
    *est += part;
    if (w)
        for (size_t j = 0; j < u->n; j++) {
            const uint32_t it = u->items[j];
            w[j] = (part != 0 ? w[j] / s.den : 0) +
                   (u->r[j] - mu - (sr_trainset_knows_item(ts, it) ? m->bi[it] : 0)) / ku->bu_den;
        }
    return true;
}

SR_KNN_MODEL(knn_baseline, "KNNBaseline",
             "k nearest neighbours on residuals from the baselines mu + b_u + b_i",
             SR_KNN_NEED_BASELINES);
