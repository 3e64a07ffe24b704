/* SlopeOne: Lemire & Maclachlan, "Slope One Predictors for Online Rating-Based
 * Collaborative Filtering", SDM 2005 — the unweighted scheme, as Surprise's SlopeOne.
 *
 * Fit: for every item pair (i, j), U_ij the users who rated both,
 *   freq[i][j] = |U_ij|,   dev[i][j] = sum_{u in U_ij} (r_ui - r_uj) / |U_ij|
 * (dev[i][i] = 0, dev[j][i] = -dev[i][j]), and mu_u, the mean rating of each user.
 * Estimate: with R_i(u) the items j rated by u with freq[i][j] > 0,
 *   r^_ui = mu_u + sum_{j in R_i(u)} dev[i][j] / |R_i(u)|   (mu_u alone if R_i(u) empty);
 * impossible when u or i is unknown.
 *
 * Memory: freq and dev are dense (n_items, n_items) row-major matrices, 12 bytes a
 * cell: 34 MB for MovieLens 100k's 1682 items. Above 40000 items (19 GB) fit refuses.
 * Work: sum over users of |I_u|^2. Rows are independent — row i reads the users of i
 * and their ratings — so ctx->threads pthreads take rows from an atomic counter; each
 * row is summed in the same order whatever thread takes it, so the result does not
 * depend on the thread count, and dev[j][i] is exactly -dev[i][j].
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "models/model.h"
#include "util/mem.h"

#define SLOPE_ONE_MAX_ITEMS 40000u

typedef struct so_state {
    uint32_t n_items;
    uint32_t *freq;    /* (n_items, n_items), row-major */
    double *dev;       /* (n_items, n_items), row-major */
    double *user_mean; /* (n_users) */
    bool mapped;       /* loaded: the arrays are borrowed from the model file */
} so_state;

typedef struct so_job {
    const sr_trainset *ts;
    so_state *s;
    _Atomic uint32_t next; /* next row to take */
} so_job;

/* Fills row i of freq and dev (already zeroed). */
static void so_row(const sr_trainset *ts, so_state *s, uint32_t i) {
    size_t n = s->n_items;
    uint32_t *freq = s->freq + (size_t)i * n;
    double *dev = s->dev + (size_t)i * n;
    for (uint64_t k = ts->item_ptr[i]; k < ts->item_ptr[i + 1]; k++) {
        uint32_t u = ts->ir_user[k];
        double r_ui = ts->ir_r[k];
        for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++) {
            uint32_t j = ts->ur_item[q];
            freq[j]++;
            dev[j] += r_ui - ts->ur_r[q];
        }
    }
    for (size_t j = 0; j < n; j++)
        if (freq[j]) dev[j] /= freq[j];
    dev[i] = 0;
}

static void *so_worker(void *arg) {
    so_job *job = arg;
    for (;;) {
        uint32_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->s->n_items) break;
        so_row(job->ts, job->s, i);
    }
    return NULL;
}

static void so_free(void *state) {
    so_state *s = state;
    if (!s) return;
    if (!s->mapped) {
        sr_free(s->freq);
        sr_free(s->dev);
        sr_free(s->user_mean);
    }
    sr_free(s);
}

static sr_err so_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                     sr_diag *d) {
    (void)p;
    *state = NULL;
    if (ts->n_items > SLOPE_ONE_MAX_ITEMS)
        return sr_diag_set(d, SR_E_RANGE,
                           "SlopeOne keeps two dense n_items x n_items matrices; %u items "
                           "is over its limit of %u (about %.0f GB)",
                           ts->n_items, SLOPE_ONE_MAX_ITEMS,
                           (double)ts->n_items * ts->n_items * 12 / 1e9);
    so_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "SlopeOne: out of memory");
    size_t n = ts->n_items;
    s->n_items = ts->n_items;
    s->freq = sr_calloc(n * n + 1, sizeof *s->freq);
    s->dev = sr_calloc(n * n + 1, sizeof *s->dev);
    s->user_mean = sr_calloc((size_t)ts->n_users + 1, sizeof *s->user_mean);
    if (!s->freq || !s->dev || !s->user_mean) {
        so_free(s);
        return sr_diag_set(d, SR_E_NOMEM, "SlopeOne: out of memory for %zu x %zu matrices", n, n);
    }
    for (uint32_t u = 0; u < ts->n_users; u++) {
        uint64_t a = ts->user_ptr[u], b = ts->user_ptr[u + 1];
        double sum = 0;
        for (uint64_t k = a; k < b; k++) sum += ts->ur_r[k];
        s->user_mean[u] = b > a ? sum / (double)(b - a) : 0;
    }

    so_job job = {.ts = ts, .s = s};
    atomic_init(&job.next, 0);
    int threads = c && c->threads > 1 ? c->threads : 1;
    if ((uint32_t)threads > s->n_items) threads = s->n_items ? (int)s->n_items : 1;
    pthread_t *tid = NULL;
    int started = 0;
    if (threads > 1) {
        tid = sr_mallocarray((size_t)threads - 1, sizeof *tid);
        if (tid)
            for (; started < threads - 1; started++)
                if (pthread_create(&tid[started], NULL, so_worker, &job)) break;
    }
    so_worker(&job); /* this thread works too; fewer helpers is only slower */
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    sr_free(tid);
    *state = s;
    return SR_OK;
}

static bool so_estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                        double *est) {
    const so_state *s = state;
    if (!sr_trainset_knows_user(ts, u) || !sr_trainset_knows_item(ts, i)) return false;
    const uint32_t *freq = s->freq + (size_t)i * s->n_items;
    const double *dev = s->dev + (size_t)i * s->n_items;
    double sum = 0;
    uint64_t n = 0;
    for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++) {
        uint32_t j = ts->ur_item[q];
        if (freq[j]) sum += dev[j], n++;
    }
    *est = s->user_mean[u] + (n ? sum / (double)n : 0);
    return true;
}

static void so_save(const void *state, const sr_trainset *ts, sr_srm_writer *w) {
    const so_state *s = state;
    uint64_t nn = (uint64_t)s->n_items * s->n_items;
    sr_srm_put(w, "m.freq", SR_SRM_U32, s->freq, nn);
    sr_srm_put(w, "m.dev", SR_SRM_F64, s->dev, nn);
    sr_srm_put(w, "m.user_mean", SR_SRM_F64, s->user_mean, ts->n_users);
}

static sr_err so_load(sr_srm *r, const sr_trainset *ts, const double *p, void **state, sr_diag *d) {
    (void)p;
    *state = NULL;
    uint64_t nn = (uint64_t)ts->n_items * ts->n_items;
    const void *freq, *dev, *mean;
    sr_err e = sr_srm_get(r, "m.freq", SR_SRM_U32, nn, &freq, NULL, d);
    if (!e) e = sr_srm_get(r, "m.dev", SR_SRM_F64, nn, &dev, NULL, d);
    if (!e) e = sr_srm_get(r, "m.user_mean", SR_SRM_F64, ts->n_users, &mean, NULL, d);
    if (e) return e;
    so_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    s->n_items = ts->n_items;
    s->freq = (uint32_t *)freq;
    s->dev = (double *)dev;
    s->user_mean = (double *)mean;
    s->mapped = true;
    *state = s;
    return SR_OK;
}

/* A listener folded in: their mean rating; estimates average the deviations of i from the
 * songs they rated, as for a user of the trainset. */
static sr_err so_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *u,
                         sr_diag *d) {
    (void)state;
    (void)p;
    double *mean = sr_malloc(sizeof *mean);
    if (!mean) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    double sum = 0;
    for (size_t j = 0; j < u->n; j++) sum += u->r[j];
    *mean = u->n ? sum / (double)u->n : ts->global_mean;
    u->state = mean;
    return SR_OK;
}

/* est and, with w, each rated song's deviation share (the part above the listener's mean). */
static bool so_estimate_new_w(const void *state, const sr_trainset *ts, const sr_newuser *u,
                              uint32_t i, double *est, double *w) {
    const so_state *s = state;
    if (!sr_trainset_knows_item(ts, i) || !u->n) return false;
    const uint32_t *freq = s->freq + (size_t)i * s->n_items;
    const double *dev = s->dev + (size_t)i * s->n_items;
    double sum = 0;
    uint64_t n = 0;
    for (size_t j = 0; j < u->n; j++)
        if (u->items[j] < s->n_items && freq[u->items[j]]) sum += dev[u->items[j]], n++;
    *est = *(const double *)u->state + (n ? sum / (double)n : 0);
    if (w)
        for (size_t j = 0; j < u->n; j++)
            w[j] = u->items[j] < s->n_items && freq[u->items[j]] ? dev[u->items[j]] / (double)n : 0;
    return true;
}

static bool so_estimate_new(const void *state, const sr_trainset *ts, const sr_newuser *u,
                            uint32_t i, double *est) {
    return so_estimate_new_w(state, ts, u, i, est, NULL);
}

static bool so_explain(const void *state, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                       double *w) {
    double est;
    return so_estimate_new_w(state, ts, u, i, &est, w);
}

const sr_model_ops sr_model_slope_one = {
    .name = "slope_one",
    .surprise = "SlopeOne",
    .summary = "user mean plus the average item-to-item deviation (Lemire & Maclachlan 2005)",
    .params = NULL, /* no parameters */
    .n_params = 0,
    .fit = so_fit,
    .estimate = so_estimate,
    .free = so_free,
    .ts_keep = SR_TS_BY_USER,
    .save = so_save,
    .load = so_load,
    .fold_in = so_fold_in,
    .estimate_new = so_estimate_new,
    .explain = so_explain,
    .user_free = sr_free,
};
