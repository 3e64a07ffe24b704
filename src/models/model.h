/* The rating-model interface: one file per algorithm fills one sr_model_ops.
 *
 * The maths of every algorithm follows the Surprise library's documentation and code
 * (same parameters, same defaults, same update rules), so that results agree with its
 * published accuracy table. An algorithm:
 *   - declares its parameters in a table (name, type, default, range, help), which
 *     drives --param parsing, --help, grid search and validation;
 *   - fits on an sr_trainset with a parameter vector (one double per table entry, in
 *     table order; booleans 0/1, choices the index into `choices`), a seed and a thread
 *     count, returning its state;
 *   - estimates a rating for (user, item) — unclipped — or reports that it cannot
 *     (Surprise's PredictionImpossible), in which case the caller predicts the trainset's
 *     global mean. sr_model_predict clips to the rating scale, as Surprise does.
 * The registry (models.def) lists the algorithms; nothing switches on the algorithm.
 *
 * Ownership: fit returns new state; ops->free frees it. State borrows nothing but the
 * trainset it was fitted on, which must outlive it for estimate. State made by ops->load
 * borrows its arrays from the model file (model_file.h), which frees it.
 */
#ifndef SR_MODEL_H
#define SR_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/fmat.h"
#include "models/srm.h"
#include "models/trainset.h"
#include "util/err.h"
#include "util/log.h"

#define SR_MAX_PARAMS 24

typedef enum sr_param_type {
    SR_PARAM_INT,
    SR_PARAM_REAL,
    SR_PARAM_BOOL,
    SR_PARAM_CHOICE, /* value = index into the '|'-separated `choices` */
} sr_param_type;

typedef struct sr_param_def {
    const char *name; /* Surprise's name, e.g. "n_factors", "reg_all" */
    sr_param_type type;
    double def, min, max; /* NaN default: "unset" (e.g. lr_bu falls back to lr_all) */
    const char *choices;  /* SR_PARAM_CHOICE: "cosine|msd|pearson|pearson_baseline" */
    const char *help;
} sr_param_def;

typedef struct sr_fit_ctx {
    uint64_t seed; /* random_state */
    int threads;   /* >= 1 */
    const sr_log *log;
} sr_fit_ctx;

/* A new listener folded into a fitted model, the song parameters fixed: their ratings on
 * the model's items (ascending, unique, each known to the trainset, values on the scale)
 * and the model's user state made from them by fold_in (freed by ops->user_free). The
 * ratings are borrowed; they must outlive the state. */
typedef struct sr_newuser {
    size_t n;
    const uint32_t *items; /* (n) ascending */
    const float *r;        /* (n) */
    void *state;           /* the model's, from ops->fold_in */
} sr_newuser;

/* A listener's scores as a linear form over the item factors (sr_model_ops.linear). */
typedef struct sr_linear {
    sr_fmat Q;         /* item factor rows (borrowed) */
    const float *bias; /* (n_items) or NULL */
    float add;
    const float *x; /* (Q.k) the listener's vector (borrowed from the folded-in state) */
} sr_linear;

typedef struct sr_model_ops {
    const char *name;     /* "svd", "knn_basic", ... (used by --algo) */
    const char *surprise; /* Surprise's class name: "SVD", "KNNBasic", ... (implicit
                             models: the name of the method, e.g. "ALS") */
    const char *summary;
    const sr_param_def *params;
    size_t n_params;
    sr_err (*fit)(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                  sr_diag *d);
    /* The estimate for (u, i), not clipped; false when impossible. u and i are ids of
     * the trainset's id space; either may be unknown to the trainset. */
    bool (*estimate)(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i, double *est);
    void (*free)(void *state);
    /* Model files (srm.h, model_file.h). ts_keep: the trainset parts estimate reads
     * (SR_TS_BY_USER, SR_TS_BY_ITEM; the row pointers, for knows_user/knows_item, are
     * always kept). save adds the state's sections ("m.*") to w; errors are sticky in w.
     * load rebuilds the state from r for the (loaded) trainset ts and parameters p,
     * checking every array's size against the counts; arrays are borrowed from r (used
     * in place when stored as computed with), so the state frees only itself. */
    unsigned ts_keep;
    void (*save)(const void *state, const sr_trainset *ts, sr_srm_writer *w);
    sr_err (*load)(sr_srm *r, const sr_trainset *ts, const double *p, void **state, sr_diag *d);
    /* The recommender's side (rec/): a listener not in the trainset.
     * fold_in computes u->state from u's ratings with everything of the model but the
     * user fixed — deterministic, no retraining (each algorithm's file says how).
     * estimate_new is estimate for that listener (unclipped; false when impossible).
     * score_new, optional, writes estimate_new (NaN when impossible) for items [lo, hi)
     * into out[lo..hi) — the fast path for scoring a whole catalog.
     * explain, optional, writes into w (u->n) how much each of the listener's ratings
     * contributes to estimate_new(i), so that the contributions sum to the personal part
     * of the estimate (what the listener's ratings add to what the model says of i
     * without them); false when it cannot. Without it the recommender measures each
     * rating's effect by folding in without it. */
    sr_err (*fold_in)(const void *state, const sr_trainset *ts, const double *p, sr_newuser *u,
                      sr_diag *d);
    bool (*estimate_new)(const void *state, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                         double *est);
    void (*score_new)(const void *state, const sr_trainset *ts, const sr_newuser *u, float *out,
                      uint32_t lo, uint32_t hi);
    bool (*explain)(const void *state, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                    double *w);
    void (*user_free)(void *ustate);
    /* Optional: the model's similarity of item i to every item, into out (n_items; NaN
     * where it has none); false when it has no such notion (e.g. a user-based k-NN). */
    bool (*similar)(const void *state, const sr_trainset *ts, uint32_t i, float *out);
    /* Optional: estimate(u, i) of a trained user u for items [lo, hi) into out[lo..hi)
     * (NaN when impossible) — the fast path of ranking evaluation. Items the trainset
     * does not know may get any value: callers never rank them. */
    void (*score_user)(const void *state, const sr_trainset *ts, uint32_t u, float *out,
                       uint32_t lo, uint32_t hi);
    /* Optional: score_user for n users at once, user x's score of item i into
     * out[x * ldo + (i - lo)] — the models whose scan reads each song's parameters once
     * for all of them. */
    void (*score_users)(const void *state, const sr_trainset *ts, const uint32_t *users, size_t n,
                        float *out, size_t ldo, uint32_t lo, uint32_t hi);
    /* Optional, for the models whose score_new of every known item is linear in the
     * item's factor row: fills *lin so that
     *     score_new(i) = lin->add + (lin->bias ? lin->bias[i] : 0) + row_i(lin->Q) . lin->x
     * with the same float arithmetic as score_new (sr_fmat_scores). With u NULL only Q
     * and bias are filled (what does not depend on the listener). The recommender then
     * scans an int8 copy of Q and re-ranks its best candidates exactly. */
    void (*linear)(const void *state, const sr_newuser *u, sr_linear *lin);
    /* Implicit-feedback models (issue 6: ALS, BPR, item neighbours over play counts,
     * popularity) are trained on raw values — play counts — through their own
     * confidence or weighting (their parameters), and their estimates are scores that
     * rank songs, not ratings: nothing clips them and RMSE does not apply. Their
     * fold_in takes the listener's values the same way; a 1..10 rating from the web page
     * is passed as that many plays (docs/API.md). */
    bool implicit;
    /* The fit reads the trainset's per-listen events (ts->ev: listening sessions), which
     * whoever makes its trainset adds with sr_trainset_add_events; other trainsets do not
     * pay for them. Without them the fit fails with words. */
    bool needs_events;
} sr_model_ops;

enum { SR_TS_BY_USER = 1, SR_TS_BY_ITEM = 2 };

/* The registry. */
extern const sr_model_ops *const sr_models[];
extern const size_t sr_n_models;
const sr_model_ops *sr_model_find(const char *name); /* by name or Surprise class name */

/* Parameter vectors. */
void sr_params_defaults(const sr_model_ops *ops, double *p);
/* Sets one "name=value" (value: number, true/false, or a choice name). */
sr_err sr_params_set(const sr_model_ops *ops, double *p, const char *assignment, sr_diag *d);
int sr_params_index(const sr_model_ops *ops, const char *name); /* -1 when absent */
/* Writes "name=value,..." of p into buf. */
void sr_params_format(const sr_model_ops *ops, const double *p, char *buf, size_t cap);

/* A fitted model: ops + parameters + state + the trainset it was fitted on (borrowed). */
typedef struct sr_model {
    const sr_model_ops *ops;
    double p[SR_MAX_PARAMS];
    void *state;
    const sr_trainset *ts;
} sr_model;

sr_err sr_model_fit(sr_model *m, const sr_model_ops *ops, const double *p, const sr_trainset *ts,
                    const sr_fit_ctx *c, sr_diag *d);
/* The prediction Surprise's predict() returns: estimate, or the global mean when the
 * estimate is impossible, clipped to the rating scale. A non-finite estimate is treated
 * as impossible too, as a last resort only: fits whose parameters became non-finite
 * fail (sr_fit_diverged), so a fitted model has none. */
double sr_model_predict(const sr_model *m, uint32_t u, uint32_t i);

/* Divergence. A model fitted by gradient steps (SVD, SVD++, biased NMF, SGD baselines)
 * blows up when a learning rate or the initial spread is too large for the data: its
 * parameters overflow to infinity and then NaN, and every estimate with them. Such a fit
 * is not a model — the estimates would fall back to the global mean unnoticed — so each
 * of those fits checks its learnt arrays last (sr_all_finite_*) and fails with
 * sr_fit_diverged's error: SR_E_DIVERGED (exit 2, the parameters' fault rather than an
 * internal one), worded "ALGO diverged: WHAT became non-finite (try ADVICE)". Grid and
 * random search record such a configuration as failed and go on (eval/search.h). */
#define SR_E_DIVERGED SR_E_RANGE
bool sr_all_finite_f32(const float *x, size_t n);
bool sr_all_finite_f64(const double *x, size_t n);
sr_err sr_fit_diverged(sr_diag *d, const char *algo, const char *what, const char *advice);
void sr_model_deinit(sr_model *m);

#endif
