/* Baseline estimates b_ui = mu + b_u + b_i (baselines.h).
 *
 * Reference: Koren, "Factor in the neighbors: scalable and accurate collaborative
 * filtering", TKDD 2010, section 2.1; the two solvers are those of Surprise's
 * optimize_baselines (AlgoBase.compute_baselines), with its defaults:
 *
 *   als (n_epochs 10, reg_u 15, reg_i 10). Each epoch first sets every item bias from
 *     the current user biases, then every user bias from the new item biases:
 *       b_i = sum_{u in U_i} (r_ui - mu - b_u) / (reg_i + |U_i|)
 *       b_u = sum_{i in I_u} (r_ui - mu - b_i) / (reg_u + |I_u|)
 *     Within a half-step every update reads only the other side, so the order of items
 *     (or users) does not matter.
 *   sgd (n_epochs 20, reg 0.02, learning_rate 0.005). Each epoch walks the ratings in
 *     trainset order (by user, then by item) and for each one, with
 *     e = r_ui - (mu + b_u + b_i):  b_u += lr (e - reg b_u);  b_i += lr (e - reg b_i)
 *     Both steps use the same e, computed once before either bias moves, as Surprise.
 *     The order is sequential by nature, so this solver runs on one thread.
 *
 * Both start from zero biases. Users and items with no rating keep a zero bias.
 *
 * sgd blows up when learning_rate is too large for the data (each step overshoots:
 * roughly learning_rate (1 + reg) beyond 2, less where a user or song has many ratings):
 * the biases overflow to infinity and NaN, and every estimate with them. The biases are checked
 * after the last epoch, and a non-finite one fails the fit with SR_E_DIVERGED (model.h) rather than
 * leaving a model that would predict the global mean everywhere without saying so.
 */
#include "models/baselines.h"

#include <math.h>
#include <string.h>

#include "models/model.h"

sr_baseline_opts sr_baseline_defaults(int method) {
    sr_baseline_opts o = {.method = method == 1 ? 1 : 0,
                          .n_epochs = method == 1 ? 20 : 10,
                          .reg_u = 15,
                          .reg_i = 10,
                          .reg = 0.02,
                          .lr = 0.005};
    return o;
}

static void baselines_als(const sr_trainset *ts, const sr_baseline_opts *o, double *bu,
                          double *bi) {
    const double mu = ts->global_mean;
    for (int epoch = 0; epoch < o->n_epochs; epoch++) {
        for (uint32_t i = 0; i < ts->n_items; i++) {
            uint64_t a = ts->item_ptr[i], b = ts->item_ptr[i + 1];
            if (a == b) continue;
            double dev = 0;
            for (uint64_t k = a; k < b; k++) dev += ts->ir_r[k] - mu - bu[ts->ir_user[k]];
            bi[i] = dev / (o->reg_i + (double)(b - a));
        }
        for (uint32_t u = 0; u < ts->n_users; u++) {
            uint64_t a = ts->user_ptr[u], b = ts->user_ptr[u + 1];
            if (a == b) continue;
            double dev = 0;
            for (uint64_t k = a; k < b; k++) dev += ts->ur_r[k] - mu - bi[ts->ur_item[k]];
            bu[u] = dev / (o->reg_u + (double)(b - a));
        }
    }
}

static void baselines_sgd(const sr_trainset *ts, const sr_baseline_opts *o, double *bu,
                          double *bi) {
    const double mu = ts->global_mean, lr = o->lr, reg = o->reg;
    for (int epoch = 0; epoch < o->n_epochs; epoch++)
        for (uint32_t u = 0; u < ts->n_users; u++)
            for (uint64_t k = ts->user_ptr[u]; k < ts->user_ptr[u + 1]; k++) {
                uint32_t i = ts->ur_item[k];
                double err = ts->ur_r[k] - (mu + bu[u] + bi[i]);
                bu[u] += lr * (err - reg * bu[u]);
                bi[i] += lr * (err - reg * bi[i]);
            }
}

sr_err sr_baselines_compute(const sr_trainset *ts, const sr_baseline_opts *o, double *bu,
                            double *bi) {
    if (o->method != 0 && o->method != 1) return SR_E_USAGE;
    if (o->n_epochs < 0) return SR_E_RANGE;
    if (o->method == 0 && !(o->reg_u >= 0 && o->reg_i >= 0)) return SR_E_RANGE;
    if (o->method == 1 && !(isfinite(o->reg) && isfinite(o->lr))) return SR_E_RANGE;
    if (ts->n_users) memset(bu, 0, (size_t)ts->n_users * sizeof *bu);
    if (ts->n_items) memset(bi, 0, (size_t)ts->n_items * sizeof *bi);
    if (o->method == 0)
        baselines_als(ts, o, bu, bi);
    else
        baselines_sgd(ts, o, bu, bi);
    if (!sr_all_finite_f64(bu, ts->n_users) || !sr_all_finite_f64(bi, ts->n_items))
        return SR_E_DIVERGED;
    return SR_OK;
}

double sr_baseline_fold_in(const sr_trainset *ts, const sr_baseline_opts *o, const double *bi,
                           const uint32_t *items, const float *r, size_t n, double *den) {
    double sum = 0;
    for (size_t j = 0; j < n; j++) {
        const uint32_t i = items[j];
        sum += r[j] - ts->global_mean - (sr_trainset_knows_item(ts, i) ? bi[i] : 0);
    }
    double dd = o->method == 0 ? o->reg_u + (double)n : (double)n * (1 + o->reg);
    if (!(dd > 0)) dd = 1;
    *den = dd;
    return sum / dd;
}
