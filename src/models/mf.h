/* Shared-private helpers of the matrix-factorisation models (svd.c, svdpp.c, nmf.c).
 *
 * Factor matrices are float32, row-major, each row padded from k to a leading dimension
 * ld = k rounded up to 16 floats (64 bytes), so that every row starts on a cache line and
 * vector kernels need no remainder loop. Padding columns are zero and stay zero under
 * every update rule used here (an SGD step or a multiplicative step maps 0 to 0).
 * Matrices are allocated 64-byte aligned through util/mem.h (so allocation-failure tests
 * reach them); sr__mf_free(NULL) is a no-op.
 *
 * Initialisation draws from one sr_rng, row by row, k values per row (padding is not
 * drawn), so a test can replay the exact initial factors (sr__mf_init_* with ld = k).
 * Normal draws use both outputs of each Box-Muller pair; uniform draws are
 * lo + (hi - lo) * sr_rng_double(r).
 */
#ifndef SR_MF_H
#define SR_MF_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/fmat.h"
#include "models/model.h"
#include "util/rng.h"

/* k rounded up to a multiple of 16 (one 64-byte line of floats). */
static inline uint32_t sr__mf_ld(uint32_t k) {
    return (k + 15u) & ~15u;
}

/* A zeroed (rows, ld) float matrix, 64-byte aligned; NULL on failure or overflow.
 * Returns new, free with sr__mf_free. */
float *sr__mf_alloc(size_t rows, size_t ld);
void sr__mf_free(float *m);

/* Fills the first k columns of the (rows, ld) matrix m row by row. */
void sr__mf_init_normal(float *m, size_t rows, uint32_t k, uint32_t ld, sr_rng *r, double mean,
                        double sd);
void sr__mf_init_uniform(float *m, size_t rows, uint32_t k, uint32_t ld, sr_rng *r, double lo,
                         double hi);

/* The state all three models keep, and what they share of their ops: bu (n_users), bi
 * (n_items), and the factor matrices p_u (n_users rows), q_i (n_items rows) and, for
 * SVD++, y_j (n_items rows). A fit owns float32 matrices pu, qi, yj with padded rows
 * (ld); P, Q, Y are views (fmat.h) of them, or of a model file's sections (float32 or
 * float16, unpadded) when loaded — everything but training reads the views. SVD++ keeps
 * p_u + |I_u|^-1/2 sum y_j in pu and is always biased.
 *
 *   est(u, i) = [mu + b_u + b_i] + q_i . p_u   (bracket when biased; an unknown user adds
 *   neither b_u nor p_u, an unknown item neither b_i nor q_i; unbiased with either
 *   unknown has no estimate)
 *
 * Model files: biases float32 as "m.bu" (n_users), "m.bi" (n_items); the factor
 * matrices as factor arrays (f32 or f16, rows unpadded) "m.pu", "m.qi" and "m.yj" (SVD++).
 * Loading checks every size against ts and k and borrows the arrays from r, in place. */
typedef struct sr_mf_state {
    uint32_t k, ld;
    int biased;
    float *bu;       /* (n_users) */
    float *bi;       /* (n_items) */
    float *pu;       /* (n_users, ld) owned, NULL when loaded */
    float *qi;       /* (n_items, ld) owned, NULL when loaded */
    float *yj;       /* (n_items, ld) owned (SVD++ only), else NULL */
    sr_fmat P, Q, Y; /* views of the above or of the file; Y.data NULL unless SVD++ */
    /* Fold-in ridge of b_u and p_u: noise variance over the prior variance of each,
     * measured on the fit (sr__mf_set_views); saved as "m.fold" (f64, 2). */
    double fold_reg_b, fold_reg_p;
    bool mapped; /* loaded: the arrays are borrowed from the model file */
} sr_mf_state;

/* Points P, Q (and Y when yj) at the fitted matrices and measures the fold-in priors;
 * false when the residuals it measures them on are not finite (estimates that overflow). */
bool sr__mf_set_views(sr_mf_state *s, const sr_trainset *ts);

/* Whether every learnt value of a fit's state is finite: bu, bi and the rows of pu, qi
 * (and yj) — padding included, which is zero. */
bool sr__mf_finite(const sr_mf_state *s, const sr_trainset *ts);

/* A fit's last step: sr__mf_finite, then sr__mf_set_views. A non-finite parameter or
 * estimate fails with sr_fit_diverged's error (model.h) — algo names the model, advice
 * what to lower — and the caller frees s. */
sr_err sr__mf_finish(sr_mf_state *s, const sr_trainset *ts, const char *algo, const char *advice,
                     sr_diag *d);

/* Fold-in for SVD and SVD++: the listener's b_u and p_u are the maximum a posteriori
 * estimate under the fitted model's own distributions — the ridge regression
 *     min sum_j (y_j - b_u - q_j . p_u)^2 + l_b b_u^2 + l_p |p_u|^2
 * over their n ratings, y_j = r_j - mu - b_j (- q_j . s for SVD++, s = n^-1/2 sum_j y_j
 * over the rated items; b_u dropped and y_j = r_j when unbiased), with l_b = s2 / var(b_u)
 * and l_p = s2 / var(p_uf): s2 the variance of the fit's residuals on its trainset, the
 * variances those of the trained users' biases and factor entries (fold_reg_b/p).
 * (The point where Surprise's SGD steps for one user would stop, with ridge n reg_bu and
 * n reg_pu, fits 10 ratings with 150 factors too closely: bench/foldin.sh measured it
 * against retraining, BENCHMARKS.md.) reg_b and reg_p are the fallback when the model
 * has no measured priors. Solved exactly by a Cholesky factorisation of the (k+1)-square
 * normal equations, which the state keeps so that explain can split an estimate into one
 * term per rating. An empty profile gets what predict gives an unknown user: mu + b_i
 * (biased) or mu (unbiased). */
sr_err sr__mf_fold_in(const sr_mf_state *s, const sr_trainset *ts, double reg_b, double reg_p,
                      sr_newuser *u, sr_diag *d);
bool sr__mf_estimate_new(const void *state, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                         double *est);
void sr__mf_linear(const void *state, const sr_newuser *u, sr_linear *lin);
void sr__mf_score_new(const void *state, const sr_trainset *ts, const sr_newuser *u, float *out,
                      uint32_t lo, uint32_t hi);
bool sr__mf_explain(const void *state, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                    double *w);
void sr__mf_user_free(void *ustate);
/* ops->score_user: est(u, i) for items [lo, hi) through the scoring scan (items the
 * trainset does not know get their factor rows' product, which means nothing). */
void sr__mf_score_user(const void *state, const sr_trainset *ts, uint32_t u, float *out,
                       uint32_t lo, uint32_t hi);
/* ops->score_users: the same for n users at once (one pass over the song factors). */
void sr__mf_score_users(const void *state, const sr_trainset *ts, const uint32_t *users, size_t n,
                        float *out, size_t ldo, uint32_t lo, uint32_t hi);
/* ops->similar: the cosine of q_i and every q_j (NaN where either is all zero). */
bool sr__mf_similar(const void *state, const sr_trainset *ts, uint32_t i, float *out);
/* A folded-in user of an MF model: est = add + b_i + q_i . z (add = mu + b_u when biased,
 * else 0 — or mu for an empty profile, z then 0 — b_i dropped when unbiased). NMF's
 * fold-in fills it too (L, y NULL). */
typedef struct sr_mf_user {
    uint32_t m; /* unknowns: k (+1 when biased) */
    size_t n;   /* ratings */
    float add;  /* mu + b_u, or 0 */
    float *z;   /* (k rounded up to 16) p_u (+ s for SVD++), padding zero */
    /* The normal equations M = D + A^T A (D the ridge, diagonal), kept for explain:
     * with fewer ratings than unknowns through the Woodbury identity (L the Cholesky
     * factor of the n x n I + A D^-1 A^T), else L the factor of M itself (m x m). */
    bool wood;
    double *A;    /* (n, m) design rows [1, q_j] or q_j, or NULL */
    double *dinv; /* (m) 1 / D */
    double *L;    /* (n, n) or (m, m), lower triangle */
    double *y;    /* (n) the least-squares targets y_j, or NULL */
    double *base; /* (n) r_j - mu - b_j (SVD++ explain), or NULL */
    double inv_sqrt_n;
} sr_mf_user;
/* A new sr_mf_user with room for m unknowns, k factors, n ratings (A, dinv, L, y, base
 * when with_ls); NULL when out of memory. */
sr_mf_user *sr__mf_user_new(uint32_t m, uint32_t k, size_t n, bool with_ls);

/* sr_model_ops.free, .estimate and .save for an sr_mf_state. */
void sr__mf_state_free(void *state);
bool sr__mf_estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i, double *est);
void sr__mf_save(const void *state, const sr_trainset *ts, sr_srm_writer *w);
/* sr_model_ops.load with k factors (and y_j when with_y): a new mapped state in *state (NULL
 * on failure). */
sr_err sr__mf_load(sr_srm *r, const sr_trainset *ts, uint32_t k, int biased, bool with_y,
                   void **state, sr_diag *d);

/* The sr_model_ops entries every MF model shares (its table adds name, params, fit,
 * load, fold_in and, where exact, explain). */
#define SR_MF_OPS_COMMON                                                                           \
    .estimate = sr__mf_estimate, .free = sr__mf_state_free, .save = sr__mf_save,                   \
    .estimate_new = sr__mf_estimate_new, .score_new = sr__mf_score_new,                            \
    .user_free = sr__mf_user_free, .similar = sr__mf_similar, .score_user = sr__mf_score_user,     \
    .score_users = sr__mf_score_users, .linear = sr__mf_linear

/* The parameter rows SVD and SVD++ share (n_epochs, the normal initialisation, and the
 * per-parameter rates lr_bu..lr_qi and reg_bu..reg_qi that default to lr_all and
 * reg_all), as designated initialisers: the including file's enum names P_N_EPOCHS,
 * P_INIT_MEAN, P_INIT_STD, P_LR_BU, P_LR_BI, P_LR_PU, P_LR_QI, P_REG_BU, P_REG_BI,
 * P_REG_PU and P_REG_QI. */
// clang-format off
#define SR_MF_SGD_PARAMS                                                                           \
    [P_N_EPOCHS] = {"n_epochs", SR_PARAM_INT, 20, 0, 100000, NULL, "SGD passes over the data"},    \
    [P_INIT_MEAN] = {"init_mean", SR_PARAM_REAL, 0, -1e3, 1e3, NULL,                               \
                     "mean of the normal initial factors"},                                        \
    [P_INIT_STD] = {"init_std_dev", SR_PARAM_REAL, 0.1, 0, 1e3, NULL,                              \
                    "standard deviation of the normal initial factors"},                           \
    [P_LR_BU] = {"lr_bu", SR_PARAM_REAL, NAN, 0, 10, NULL, "learning rate of b_u (unset: lr_all)"},\
    [P_LR_BI] = {"lr_bi", SR_PARAM_REAL, NAN, 0, 10, NULL, "learning rate of b_i (unset: lr_all)"},\
    [P_LR_PU] = {"lr_pu", SR_PARAM_REAL, NAN, 0, 10, NULL, "learning rate of p_u (unset: lr_all)"},\
    [P_LR_QI] = {"lr_qi", SR_PARAM_REAL, NAN, 0, 10, NULL, "learning rate of q_i (unset: lr_all)"},\
    [P_REG_BU] = {"reg_bu", SR_PARAM_REAL, NAN, 0, 1e3, NULL,                                      \
                  "regularisation of b_u (unset: reg_all)"},                                       \
    [P_REG_BI] = {"reg_bi", SR_PARAM_REAL, NAN, 0, 1e3, NULL,                                      \
                  "regularisation of b_i (unset: reg_all)"},                                       \
    [P_REG_PU] = {"reg_pu", SR_PARAM_REAL, NAN, 0, 1e3, NULL,                                      \
                  "regularisation of p_u (unset: reg_all)"},                                       \
    [P_REG_QI] = {"reg_qi", SR_PARAM_REAL, NAN, 0, 1e3, NULL,                                      \
                  "regularisation of q_i (unset: reg_all)"}
// clang-format on

/* p's value, or def when p is unset (NaN). */
double sr__mf_or(double p, double def);

/* Whether the AVX-512F kernels may run on this CPU (checked at run time). */
int sr__mf_have_avx512(void);

/* SVD's fit with the kernel chosen by the caller: force_scalar != 0 runs the portable
 * loop even where AVX-512 is available (tests compare the two under a tolerance). */
sr_err sr__svd_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, int force_scalar,
                   void **state, sr_diag *d);

#endif
