/* SVD++: SVD with implicit feedback from which items a user rated (Koren, "Factorization
 * meets the neighborhood", KDD 2008, section 4; Ricci et al., Recommender Systems
 * Handbook 2010, section 5.3.1) — with the parameters, defaults and update rules of
 * Surprise's SVDpp (surprise/prediction_algorithms/matrix_factorization.pyx, v1.1.x):
 *
 *   est(u, i) = mu + b_u + b_i + q_i . (p_u + |I_u|^-1/2 sum_{j in I_u} y_j)
 *   each epoch, for every rating (u, i, r) in trainset order (no shuffle):
 *     z = |I_u|^-1/2 sum_{j in I_u} y_j (current y);  e = r - est(u, i)
 *     b_u += lr_bu (e - reg_bu b_u);  b_i += lr_bi (e - reg_bi b_i)
 *     p_u += lr_pu (e q_i - reg_pu p_u);  q_i += lr_qi (e (p_u + z) - reg_qi q_i)
 *     y_j += lr_yj (e |I_u|^-1/2 q_i - reg_yj y_j)  for every j in I_u   (old p_u, q_i)
 *
 * Done literally, the y step costs O(|I_u| k) per rating. But it is the same affine map
 * y -> a y + c_t (a = 1 - lr_yj reg_yj, c_t = lr_yj e_t |I_u|^-1/2 q_i) for every j in
 * I_u, and the trainset order visits a user's ratings consecutively, so within a user's
 * block we carry the composed map (A, B) and the running sum S = sum_j y_j
 * (S -> a S + |I_u| c_t), and apply y_j -> A y_j + B once at the end of the block: the
 * same values in exact arithmetic, O(k) per rating. (This assumes one rating per
 * (user, item) pair, as Surprise's Trainset has.) S and B are kept in double.
 *
 * Init: biases 0; p (n_users, k), q (n_items, k), y (n_items, k) drawn N(init_mean,
 * init_std_dev^2) in that order from the seed (mf.h). An unknown user or item drops its
 * terms as in SVD; the estimate is always possible. cache_ratings is accepted and
 * ignored, and so is ctx->threads (single-threaded, in Surprise's order). After
 * fitting, z_u = p_u + |I_u|^-1/2 sum y_j is stored per user so estimate is O(k), and y
 * is kept for fold-in (a new listener's z = p + n^-1/2 sum y_j over their rated songs).
 * A fit whose parameters overflow (too large a learning rate or initial spread) fails
 * with SR_E_DIVERGED (sr__mf_finish).
 *
 * State (sr_mf_state, always biased): bu (n_users), bi (n_items), pu (n_users, ld) holding
 * the z_u above, qi and yj (n_items, ld); row-major, 64-byte aligned, owned.
 */
#include <math.h>

#include "models/mf.h"
#include "models/model.h"
#include "util/mem.h"

typedef sr_mf_state svdpp_state;

enum {
    P_N_FACTORS,
    P_N_EPOCHS,
    P_INIT_MEAN,
    P_INIT_STD,
    P_LR_ALL,
    P_REG_ALL,
    P_LR_BU,
    P_LR_BI,
    P_LR_PU,
    P_LR_QI,
    P_LR_YJ,
    P_REG_BU,
    P_REG_BI,
    P_REG_PU,
    P_REG_QI,
    P_REG_YJ,
    P_CACHE,
    P_COUNT
};

static const sr_param_def svdpp_params[P_COUNT] = {
    [P_N_FACTORS] = {"n_factors", SR_PARAM_INT, 20, 1, 4096, NULL, "number of latent factors"},
    SR_MF_SGD_PARAMS,
    [P_LR_ALL] = {"lr_all", SR_PARAM_REAL, 0.007, 0, 10, NULL, "learning rate of all parameters"},
    [P_REG_ALL] = {"reg_all", SR_PARAM_REAL, 0.02, 0, 1e3, NULL,
                   "regularisation of all parameters"},
    [P_LR_YJ] = {"lr_yj", SR_PARAM_REAL, NAN, 0, 10, NULL, "learning rate of y_j (unset: lr_all)"},
    [P_REG_YJ] = {"reg_yj", SR_PARAM_REAL, NAN, 0, 1e3, NULL,
                  "regularisation of y_j (unset: reg_all)"},
    [P_CACHE] = {"cache_ratings", SR_PARAM_BOOL, 0, 0, 1, NULL,
                 "accepted for compatibility with Surprise; no effect"},
};

typedef struct pp_rates {
    double mu, lbu, rbu, lbi, rbi, lpu, rpu, lqi, rqi, lyj, ayj; /* ayj = 1 - lr_yj reg_yj */
} pp_rates;

/* One epoch. S, B: (k) double scratch. */
static void pp_epoch(const sr_trainset *ts, svdpp_state *s, float *restrict pu, float *restrict yj,
                     const pp_rates *c, double *restrict S, double *restrict B) {
    const uint32_t k = s->k, ld = s->ld;
    float *restrict bu = s->bu, *restrict bi = s->bi;
    for (uint32_t u = 0; u < ts->n_users; u++) {
        const uint64_t beg = ts->user_ptr[u], end = ts->user_ptr[u + 1];
        if (beg == end) continue;
        const double m = (double)(end - beg), inv = 1.0 / sqrt(m);
        for (uint32_t f = 0; f < k; f++) S[f] = 0, B[f] = 0;
        for (uint64_t q = beg; q < end; q++) {
            const float *y = yj + (size_t)ts->ur_item[q] * ld;
            for (uint32_t f = 0; f < k; f++) S[f] += y[f];
        }
        double A = 1;
        float *restrict p = pu + (size_t)u * ld;
        for (uint64_t q = beg; q < end; q++) {
            const uint32_t i = ts->ur_item[q];
            float *restrict v = s->qi + (size_t)i * ld;
            double dot = 0;
            for (uint32_t f = 0; f < k; f++) dot += v[f] * (p[f] + S[f] * inv);
            const double err = ts->ur_r[q] - (c->mu + bu[u] + bi[i] + dot);
            bu[u] += (float)(c->lbu * (err - c->rbu * bu[u]));
            bi[i] += (float)(c->lbi * (err - c->rbi * bi[i]));
            const double g = c->lyj * err * inv;
            for (uint32_t f = 0; f < k; f++) {
                const double pf = p[f], qf = v[f], z = S[f] * inv, cf = g * qf;
                p[f] = (float)(pf + c->lpu * (err * qf - c->rpu * pf));
                v[f] = (float)(qf + c->lqi * (err * (pf + z) - c->rqi * qf));
                B[f] = c->ayj * B[f] + cf;
                S[f] = c->ayj * S[f] + m * cf;
            }
            A *= c->ayj;
        }
        for (uint64_t q = beg; q < end; q++) {
            float *y = yj + (size_t)ts->ur_item[q] * ld;
            for (uint32_t f = 0; f < k; f++) y[f] = (float)(A * y[f] + B[f]);
        }
    }
}

static sr_err svdpp_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                        sr_diag *d) {
    *state = NULL;
    if (!(p[P_N_FACTORS] >= 1 && p[P_N_FACTORS] <= 4096) || !(p[P_N_EPOCHS] >= 0))
        return sr_diag_set(d, SR_E_USAGE, "SVDpp: n_factors must be in [1, 4096], n_epochs >= 0");
    const double lr = p[P_LR_ALL], reg = p[P_REG_ALL];
    pp_rates r = {
        .mu = ts->global_mean,
        .lbu = sr__mf_or(p[P_LR_BU], lr),
        .lbi = sr__mf_or(p[P_LR_BI], lr),
        .lpu = sr__mf_or(p[P_LR_PU], lr),
        .lqi = sr__mf_or(p[P_LR_QI], lr),
        .lyj = sr__mf_or(p[P_LR_YJ], lr),
        .rbu = sr__mf_or(p[P_REG_BU], reg),
        .rbi = sr__mf_or(p[P_REG_BI], reg),
        .rpu = sr__mf_or(p[P_REG_PU], reg),
        .rqi = sr__mf_or(p[P_REG_QI], reg),
    };
    r.ayj = 1.0 - r.lyj * sr__mf_or(p[P_REG_YJ], reg);

    svdpp_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "SVDpp: out of memory");
    s->k = (uint32_t)p[P_N_FACTORS];
    s->ld = sr__mf_ld(s->k);
    s->biased = 1;
    s->bu = sr_calloc((size_t)ts->n_users + 1, sizeof *s->bu);
    s->bi = sr_calloc((size_t)ts->n_items + 1, sizeof *s->bi);
    s->pu = sr__mf_alloc(ts->n_users, s->ld);
    s->qi = sr__mf_alloc(ts->n_items, s->ld);
    float *yj = sr__mf_alloc(ts->n_items, s->ld);
    double *S = sr_mallocarray(s->k, sizeof *S), *B = sr_mallocarray(s->k, sizeof *B);
    if (!s->bu || !s->bi || !s->pu || !s->qi || !yj || !S || !B) {
        sr__mf_free(yj);
        sr_free(S);
        sr_free(B);
        sr__mf_state_free(s);
        return sr_diag_set(d, SR_E_NOMEM, "SVDpp: out of memory for factors");
    }
    sr_rng rng;
    sr_rng_seed(&rng, c->seed);
    const double mean = p[P_INIT_MEAN], sd = p[P_INIT_STD];
    sr__mf_init_normal(s->pu, ts->n_users, s->k, s->ld, &rng, mean, sd);
    sr__mf_init_normal(s->qi, ts->n_items, s->k, s->ld, &rng, mean, sd);
    sr__mf_init_normal(yj, ts->n_items, s->k, s->ld, &rng, mean, sd);

    const int n_epochs = (int)p[P_N_EPOCHS];
    for (int e = 0; e < n_epochs; e++) {
        pp_epoch(ts, s, s->pu, yj, &r, S, B);
        sr_progress(c->log, "SVDpp", (uint64_t)e + 1, (uint64_t)n_epochs);
    }
    /* pu <- p_u + |I_u|^-1/2 sum y_j, for known users. */
    for (uint32_t u = 0; u < ts->n_users; u++) {
        const uint64_t beg = ts->user_ptr[u], end = ts->user_ptr[u + 1];
        if (beg == end) continue;
        for (uint32_t f = 0; f < s->k; f++) S[f] = 0;
        for (uint64_t q = beg; q < end; q++) {
            const float *y = yj + (size_t)ts->ur_item[q] * s->ld;
            for (uint32_t f = 0; f < s->k; f++) S[f] += y[f];
        }
        const double inv = 1.0 / sqrt((double)(end - beg));
        float *pr = s->pu + (size_t)u * s->ld;
        for (uint32_t f = 0; f < s->k; f++) pr[f] = (float)(pr[f] + S[f] * inv);
    }
    s->yj = yj; /* kept for fold-in */
    sr_free(S);
    sr_free(B);
    sr_err err = sr__mf_finish(s, ts, "SVDpp", "a smaller lr_all or init_std_dev", d);
    if (err) {
        sr__mf_state_free(s);
        return err;
    }
    *state = s;
    return SR_OK;
}

static sr_err svdpp_load(sr_srm *r, const sr_trainset *ts, const double *p, void **state,
                         sr_diag *d) {
    return sr__mf_load(r, ts, (uint32_t)p[P_N_FACTORS], 1, true, state, d);
}

static sr_err svdpp_fold_in(const void *state, const sr_trainset *ts, const double *p,
                            sr_newuser *u, sr_diag *d) {
    return sr__mf_fold_in(state, ts, sr__mf_or(p[P_REG_BU], p[P_REG_ALL]),
                          sr__mf_or(p[P_REG_PU], p[P_REG_ALL]), u, d);
}

const sr_model_ops sr_model_svdpp = {
    .name = "svdpp",
    .surprise = "SVDpp",
    .summary = "SVD with implicit feedback from the items each user rated (Koren 2008)",
    .params = svdpp_params,
    .n_params = P_COUNT,
    .fit = svdpp_fit,
    .load = svdpp_load,
    .fold_in = svdpp_fold_in,
    .explain = sr__mf_explain,
    SR_MF_OPS_COMMON,
};
