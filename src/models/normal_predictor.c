/* NormalPredictor: a random rating drawn from the normal distribution fitted to the
 * trainset (Surprise's NormalPredictor, random_pred.py).
 *
 * Fit estimates mu and sigma by maximum likelihood: mu the mean of the ratings, sigma
 * the population standard deviation sqrt(sum (r - mu)^2 / n). Estimate returns a draw
 * from N(mu, sigma^2) for every (u, i), known or not (never impossible).
 *
 * Surprise draws from one global generator, so its predictions depend on call order.
 * Here estimate is const and may run on many threads at once, so each draw comes from a
 * generator seeded with sr_hash2(seed, (u << 32) | i): the prediction for a pair is a
 * fixed function of (seed, u, i), reproducible and free of shared state. Different
 * seeds give independent draws.
 */
#include <math.h>

#include "models/model.h"
#include "util/mem.h"
#include "util/rng.h"

typedef struct np_state {
    double mu, sigma;
    uint64_t seed;
} np_state;

static sr_err np_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                     sr_diag *d) {
    (void)p;
    *state = NULL;
    if (ts->n == 0) return sr_diag_set(d, SR_E_EMPTY, "NormalPredictor: empty trainset");
    double mu = ts->global_mean, ss = 0;
    for (uint64_t k = 0; k < ts->n; k++) {
        double e = ts->ur_r[k] - mu;
        ss += e * e;
    }
    np_state *s = sr_malloc(sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "NormalPredictor: out of memory");
    s->mu = mu;
    s->sigma = sqrt(ss / (double)ts->n);
    s->seed = c->seed;
    *state = s;
    return SR_OK;
}

static bool np_estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                        double *est) {
    (void)ts;
    const np_state *s = state;
    sr_rng r;
    sr_rng_seed(&r, sr_hash2(s->seed, ((uint64_t)u << 32) | i));
    *est = s->mu + s->sigma * sr_rng_normal(&r);
    return true;
}

static void np_free(void *state) {
    sr_free(state);
}

static void np_save(const void *state, const sr_trainset *ts, sr_srm_writer *w) {
    (void)ts;
    const np_state *s = state;
    sr_srm_put_f64(w, "m.mu", s->mu);
    sr_srm_put_f64(w, "m.sigma", s->sigma);
    sr_srm_put_u64(w, "m.seed", s->seed);
}

static sr_err np_load(sr_srm *r, const sr_trainset *ts, const double *p, void **state, sr_diag *d) {
    (void)ts;
    (void)p;
    *state = NULL;
    np_state t;
    sr_err e = sr_srm_get_f64(r, "m.mu", &t.mu, d);
    if (!e) e = sr_srm_get_f64(r, "m.sigma", &t.sigma, d);
    if (!e) e = sr_srm_get_u64(r, "m.seed", &t.seed, d);
    if (e) return e;
    np_state *s = sr_malloc(sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    *s = t;
    *state = s;
    return SR_OK;
}

/* A listener folded in: nothing of theirs changes the draws but the seed, which mixes
 * the model's seed with their ratings, so one listener gets the same list every time. */
static sr_err np_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *u,
                         sr_diag *d) {
    (void)ts;
    (void)p;
    const np_state *s = state;
    uint64_t *seed = sr_malloc(sizeof *seed);
    if (!seed) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    uint64_t h = s->seed;
    for (size_t j = 0; j < u->n; j++)
        h = sr_hash2(h, ((uint64_t)u->items[j] << 32) | (uint32_t)(u->r[j] * 1000));
    *seed = h;
    u->state = seed;
    return SR_OK;
}

static bool np_estimate_new(const void *state, const sr_trainset *ts, const sr_newuser *u,
                            uint32_t i, double *est) {
    (void)ts;
    const np_state *s = state;
    sr_rng r;
    sr_rng_seed(&r, sr_hash2(*(const uint64_t *)u->state, i));
    *est = s->mu + s->sigma * sr_rng_normal(&r);
    return true;
}

/* The draws owe nothing to any one rating. */
static bool np_explain(const void *state, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                       double *w) {
    for (size_t j = 0; j < u->n; j++) w[j] = 0;
    return true;
}

const sr_model_ops sr_model_normal_predictor = {
    .name = "normal_predictor",
    .surprise = "NormalPredictor",
    .summary = "random rating from N(mu, sigma^2) fitted to the trainset (MLE)",
    .params = NULL, /* no parameters */
    .n_params = 0,
    .fit = np_fit,
    .estimate = np_estimate,
    .free = np_free,
    .save = np_save,
    .load = np_load,
    .fold_in = np_fold_in,
    .estimate_new = np_estimate_new,
    .explain = np_explain,
    .user_free = sr_free,
};
