/* BaselineOnly: the baseline estimate b_ui = mu + b_u + b_i alone (Surprise's
 * BaselineOnly; Koren, "Factor in the neighbors", TKDD 2010, section 2.1).
 *
 * The biases come from sr_baselines_compute (baselines.c) with Surprise's bsl_options
 * as parameters: method als|sgd, n_epochs (unset: 10 for als, 20 for sgd), reg_u and
 * reg_i (als), reg and learning_rate (sgd). A bias of an unknown user or item is taken
 * as zero, so the estimate is always possible: mu for a pair that is entirely unknown.
 *
 * State: bu (n_users) and bi (n_items), owned.
 */
#include <math.h>

#include "models/baselines.h"
#include "models/model.h"
#include "util/mem.h"

typedef struct bo_state {
    double *bu;  /* (n_users) */
    double *bi;  /* (n_items) */
    bool mapped; /* loaded: bu, bi borrowed from the model file */
} bo_state;

enum { P_METHOD, P_N_EPOCHS, P_REG_U, P_REG_I, P_REG, P_LR, P_COUNT };

static const sr_param_def bo_params[P_COUNT] = {
    [P_METHOD] = {"method", SR_PARAM_CHOICE, 0, 0, 1, "als|sgd",
                  "how the biases are fitted: alternating least squares or SGD"},
    [P_N_EPOCHS] = {"n_epochs", SR_PARAM_INT, NAN, 0, 10000, NULL,
                    "passes over the data (unset: 10 for als, 20 for sgd)"},
    [P_REG_U] = {"reg_u", SR_PARAM_REAL, 15, 0, 1e6, NULL, "als: regularisation of user biases"},
    [P_REG_I] = {"reg_i", SR_PARAM_REAL, 10, 0, 1e6, NULL, "als: regularisation of item biases"},
    [P_REG] = {"reg", SR_PARAM_REAL, 0.02, 0, 1e3, NULL, "sgd: regularisation of both biases"},
    [P_LR] = {"learning_rate", SR_PARAM_REAL, 0.005, 0, 1, NULL, "sgd: step size"},
};

static void bo_free(void *state) {
    bo_state *s = state;
    if (!s) return;
    if (!s->mapped) {
        sr_free(s->bu);
        sr_free(s->bi);
    }
    sr_free(s);
}

/* p's value, or the default when p is unset (NaN). */
static double or_default(double p, double def) {
    return isnan(p) ? def : p;
}

static sr_baseline_opts bo_opts(const double *p) {
    sr_baseline_opts o = sr_baseline_defaults((int)or_default(p[P_METHOD], 0));
    o.n_epochs = (int)or_default(p[P_N_EPOCHS], o.n_epochs);
    o.reg_u = or_default(p[P_REG_U], o.reg_u);
    o.reg_i = or_default(p[P_REG_I], o.reg_i);
    o.reg = or_default(p[P_REG], o.reg);
    o.lr = or_default(p[P_LR], o.lr);
    return o;
}

static sr_err bo_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                     sr_diag *d) {
    (void)c;
    *state = NULL;
    int method = (int)or_default(p[P_METHOD], 0);
    if (method != 0 && method != 1)
        return sr_diag_set(d, SR_E_USAGE, "BaselineOnly: method must be als or sgd");
    const sr_baseline_opts o = bo_opts(p);
    bo_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "BaselineOnly: out of memory");
    s->bu = sr_calloc((size_t)ts->n_users + 1, sizeof *s->bu);
    s->bi = sr_calloc((size_t)ts->n_items + 1, sizeof *s->bi);
    if (!s->bu || !s->bi) {
        bo_free(s);
        return sr_diag_set(d, SR_E_NOMEM, "BaselineOnly: out of memory for biases");
    }
    sr_err e = sr_baselines_compute(ts, &o, s->bu, s->bi);
    if (e) {
        bo_free(s);
        return e == SR_E_DIVERGED ? sr_fit_diverged(d, "BaselineOnly", "biases",
                                                    "a smaller learning_rate, or method=als")
                                  : sr_diag_set(d, e, "BaselineOnly: bad baseline options");
    }
    *state = s;
    return SR_OK;
}

static bool bo_estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                        double *est) {
    const bo_state *s = state;
    double e = ts->global_mean;
    if (sr_trainset_knows_user(ts, u)) e += s->bu[u];
    if (sr_trainset_knows_item(ts, i)) e += s->bi[i];
    *est = e;
    return true;
}

static void bo_save(const void *state, const sr_trainset *ts, sr_srm_writer *w) {
    const bo_state *s = state;
    sr_srm_put(w, "m.bu", SR_SRM_F64, s->bu, ts->n_users);
    sr_srm_put(w, "m.bi", SR_SRM_F64, s->bi, ts->n_items);
}

static sr_err bo_load(sr_srm *r, const sr_trainset *ts, const double *p, void **state, sr_diag *d) {
    (void)p;
    *state = NULL;
    const void *bu, *bi;
    sr_err e = sr_srm_get(r, "m.bu", SR_SRM_F64, ts->n_users, &bu, NULL, d);
    if (!e) e = sr_srm_get(r, "m.bi", SR_SRM_F64, ts->n_items, &bi, NULL, d);
    if (e) return e;
    bo_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    s->bu = (double *)bu;
    s->bi = (double *)bi;
    s->mapped = true;
    *state = s;
    return SR_OK;
}

/* A listener folded in: b_u with the item biases fixed (sr_baseline_fold_in). */
typedef struct bo_user {
    double bu, den;
} bo_user;

static sr_err bo_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *u,
                         sr_diag *d) {
    const bo_state *s = state;
    bo_user *b = sr_malloc(sizeof *b);
    if (!b) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    const sr_baseline_opts o = bo_opts(p);
    b->bu = sr_baseline_fold_in(ts, &o, s->bi, u->items, u->r, u->n, &b->den);
    u->state = b;
    return SR_OK;
}

static bool bo_estimate_new(const void *state, const sr_trainset *ts, const sr_newuser *u,
                            uint32_t i, double *est) {
    const bo_state *s = state;
    const bo_user *b = u->state;
    *est = ts->global_mean + b->bu + (sr_trainset_knows_item(ts, i) ? s->bi[i] : 0);
    return true;
}

/* Every rating moves b_u, and so every estimate, by its residual over the denominator. */
static bool bo_explain(const void *state, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                       double *w) {
    const bo_state *s = state;
    const bo_user *b = u->state;
    for (size_t j = 0; j < u->n; j++) {
        const uint32_t it = u->items[j];
        w[j] =
            (u->r[j] - ts->global_mean - (sr_trainset_knows_item(ts, it) ? s->bi[it] : 0)) / b->den;
    }
    return true;
}

const sr_model_ops sr_model_baseline_only = {
    .name = "baseline_only",
    .surprise = "BaselineOnly",
    .summary = "baseline estimate mu + b_u + b_i (Koren 2010), biases by ALS or SGD",
    .params = bo_params,
    .n_params = P_COUNT,
    .fit = bo_fit,
    .estimate = bo_estimate,
    .free = bo_free,
    .save = bo_save,
    .load = bo_load,
    .fold_in = bo_fold_in,
    .estimate_new = bo_estimate_new,
    .explain = bo_explain,
    .user_free = sr_free,
};
