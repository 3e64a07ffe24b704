/* Popularity: every listener gets the same list, the songs with the most listeners (or
 * the most plays) in the trainset — the baseline every ranking table includes.
 *
 *   score(u, i) = |{v : v played i}|          (by = listeners)
 *               = sum over v of plays(v, i)    (by = plays; the trainset's raw values)
 *
 * With window_days > 0 only the pairs first listened within that many days before the
 * trainset's latest first listen count ("what is popular now"; the trainset's per-pair
 * times, ts->ir_ts; pairs of unknown time do not count). An item the trainset does not
 * know scores 0 (no listeners).
 *
 * New listeners: nothing of theirs enters the score, so fold_in keeps no state and
 * explain gives every play a share of 0 (the personal part of the score is 0). There is
 * no notion of song-to-song similarity (the recommender falls back to co-listening).
 *
 * State: pop (n_items) float64 scores, owned, or borrowed from a model file ("m.pop").
 */
#include "models/model.h"
#include "util/mem.h"

enum { P_BY, P_WINDOW, P_COUNT };

static const sr_param_def pop_params[P_COUNT] = {
    [P_BY] = {"by", SR_PARAM_CHOICE, 0, 0, 1, "listeners|plays",
              "rank songs by distinct listeners or by total plays"},
    [P_WINDOW] = {"window_days", SR_PARAM_REAL, 0, 0, 1e6, NULL,
                  "count only pairs first heard within this many days of the latest (0: all)"},
};

typedef struct pop_state {
    double *pop; /* (n_items) */
    bool mapped; /* pop borrowed from the model file */
} pop_state;

static void pop_free(void *state) {
    pop_state *s = state;
    if (!s) return;
    if (!s->mapped) sr_free(s->pop);
    sr_free(s);
}

static sr_err pop_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                      sr_diag *d) {
    *state = NULL;
    if (!(p[P_BY] == 0 || p[P_BY] == 1))
        return sr_diag_set(d, SR_E_USAGE, "Popularity: by must be listeners or plays");
    pop_state *s = sr_calloc(1, sizeof *s);
    if (!s || !(s->pop = sr_calloc((size_t)ts->n_items + 1, sizeof *s->pop))) {
        sr_free(s);
        return sr_diag_set(d, SR_E_NOMEM, "Popularity: out of memory");
    }
    const bool plays = p[P_BY] == 1, windowed = p[P_WINDOW] > 0;
    if (windowed && !ts->ir_ts) {
        pop_free(s);
        return sr_diag_set(d, SR_E_INPUT, "Popularity: window_days needs listen times");
    }
    uint64_t cut = 0;
    if (windowed) {
        uint32_t latest = 0;
        for (uint64_t q = 0; q < ts->n; q++) latest = ts->ir_ts[q] > latest ? ts->ir_ts[q] : latest;
        const double from = (double)latest - p[P_WINDOW] * 86400.0;
        cut = from > 1 ? (uint64_t)from : 1; /* 0 is "unknown": never in a window */
    }
    for (uint32_t i = 0; i < ts->n_items; i++) {
        const uint64_t a = ts->item_ptr[i], b = ts->item_ptr[i + 1];
        double v = 0;
        for (uint64_t q = a; q < b; q++)
            if (!windowed || ts->ir_ts[q] >= cut) v += plays ? ts->ir_r[q] : 1.0;
        s->pop[i] = v;
    }
    *state = s;
    return SR_OK;
}

static bool pop_estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                         double *est) {
    const pop_state *s = state;
    *est = i < ts->n_items ? s->pop[i] : 0;
    return true;
}

static void pop_save(const void *state, const sr_trainset *ts, sr_srm_writer *w) {
    const pop_state *s = state;
    sr_srm_put(w, "m.pop", SR_SRM_F64, s->pop, ts->n_items);
}

static sr_err pop_load(sr_srm *r, const sr_trainset *ts, const double *p, void **state,
                       sr_diag *d) {
    *state = NULL;
    const void *pop;
    sr_err e = sr_srm_get(r, "m.pop", SR_SRM_F64, ts->n_items, &pop, NULL, d);
    if (e) return e;
    pop_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    s->pop = (double *)pop;
    s->mapped = true;
    *state = s;
    return SR_OK;
}

/* Nothing personal: no state (the recommender frees none). */
static sr_err pop_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *u,
                          sr_diag *d) {
    u->state = NULL;
    return SR_OK;
}

static bool pop_estimate_new(const void *state, const sr_trainset *ts, const sr_newuser *u,
                             uint32_t i, double *est) {
    return pop_estimate(state, ts, 0, i, est);
}

static void pop_scores(const pop_state *s, float *out, uint32_t lo, uint32_t hi) {
    for (uint32_t i = lo; i < hi; i++) out[i] = (float)s->pop[i];
}

static void pop_score_new(const void *state, const sr_trainset *ts, const sr_newuser *u, float *out,
                          uint32_t lo, uint32_t hi) {
    pop_scores(state, out, lo, hi);
}

static void pop_score_user(const void *state, const sr_trainset *ts, uint32_t u, float *out,
                           uint32_t lo, uint32_t hi) {
    pop_scores(state, out, lo, hi);
}

/* The listener's plays add nothing: every share is 0, and so is their sum. */
static bool pop_explain(const void *state, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                        double *w) {
    for (size_t j = 0; j < u->n; j++) w[j] = 0;
    return true;
}

const sr_model_ops sr_model_popularity = {
    .name = "popularity",
    .surprise = "Popularity",
    .summary = "the same list for everyone: songs by listeners (or plays) in the trainset",
    .params = pop_params,
    .n_params = P_COUNT,
    .fit = pop_fit,
    .estimate = pop_estimate,
    .free = pop_free,
    .save = pop_save,
    .load = pop_load,
    .fold_in = pop_fold_in,
    .estimate_new = pop_estimate_new,
    .score_new = pop_score_new,
    .explain = pop_explain,
    .user_free = sr_free,
    .score_user = pop_score_user,
    .implicit = true,
};
