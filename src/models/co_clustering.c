/* CoClustering: George & Merugu, "A Scalable Collaborative Filtering Framework based on
 * Co-clustering", ICDM 2005 — as Surprise's CoClustering (itself after MyMediaLite).
 *
 * Users get one of n_cltr_u clusters C_u, items one of n_cltr_i clusters C_i, drawn
 * uniformly at random from the seed. With mu_u, mu_i the user and item mean ratings and
 * A_u[c], A_i[c], A_ui[cu][ci] the mean rating of a user cluster, an item cluster and a
 * co-cluster (the global mean for an empty one), the estimate is
 *   r^_ui = A_ui[C_u][C_i] + (mu_u - A_u[C_u]) + (mu_i - A_i[C_i]).
 * Each of n_epochs epochs recomputes the averages, then moves every user to the cluster
 * minimising the squared error of its ratings (item clusters fixed), then every item
 * to the cluster minimising the squared error of its ratings (with the users' new
 * clusters; the averages are not recomputed in between). Ties go to the lowest cluster.
 * The averages are computed once more at the end.
 *
 * Unknown cases follow Surprise's documentation: known user only -> mu_u; known item
 * only -> mu_i; neither -> impossible (the caller's global mean). (Surprise 1.1's code
 * returns the global mean for all three; its documentation says the above.) Surprise
 * also holds ratings as C ints in this fit, truncating fractional ones; they are kept
 * as given here, which is the same on integer scales such as MovieLens'.
 *
 * State: clusters (n_users), (n_items); means; the averages. Fit is O(n_epochs * n *
 * (n_cltr_u + n_cltr_i)); the reassignment steps are independent per user / item and
 * run on ctx->threads threads with a result that does not depend on their number.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "models/model.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/rng.h"

enum { P_N_CLTR_U, P_N_CLTR_I, P_N_EPOCHS, P_COUNT };

static const sr_param_def cc_params[P_COUNT] = {
    [P_N_CLTR_U] = {"n_cltr_u", SR_PARAM_INT, 3, 1, 1000, NULL, "number of user clusters"},
    [P_N_CLTR_I] = {"n_cltr_i", SR_PARAM_INT, 3, 1, 1000, NULL, "number of item clusters"},
    [P_N_EPOCHS] = {"n_epochs", SR_PARAM_INT, 20, 0, 10000, NULL,
                    "iterations of the cluster-assignment loop"},
};

typedef struct cc_state {
    int ku, ki;        /* cluster counts */
    uint32_t *cu;      /* (n_users) cluster of each user */
    uint32_t *ci;      /* (n_items) cluster of each item */
    double *user_mean; /* (n_users) */
    double *item_mean; /* (n_items) */
    double *avg_u;     /* (ku) */
    double *avg_i;     /* (ki) */
    double *avg_co;    /* (ku, ki), row-major */
    double *scratch;   /* (2, ku, ki): co-cluster sums and counts while fitting */
    bool mapped;       /* loaded: the arrays are borrowed from the model file */
} cc_state;

static void cc_free(void *state) {
    cc_state *s = state;
    if (!s) return;
    if (!s->mapped) {
        sr_free(s->cu);
        sr_free(s->ci);
        sr_free(s->user_mean);
        sr_free(s->item_mean);
        sr_free(s->avg_u);
        sr_free(s->avg_i);
        sr_free(s->avg_co);
        sr_free(s->scratch);
    }
    sr_free(s);
}

/* Mean rating of every user cluster, item cluster and co-cluster under the current
 * assignment; the global mean for an empty cluster. */
static void cc_averages(const sr_trainset *ts, cc_state *s) {
    int ku = s->ku, ki = s->ki;
    double *sum_co = s->scratch, *cnt_co = sum_co + (size_t)ku * ki;
    for (size_t k = 0; k < 2 * (size_t)ku * ki; k++) s->scratch[k] = 0;
    for (uint32_t u = 0; u < ts->n_users; u++) {
        uint32_t uc = s->cu[u];
        for (uint64_t k = ts->user_ptr[u]; k < ts->user_ptr[u + 1]; k++) {
            size_t cell = (size_t)uc * ki + s->ci[ts->ur_item[k]];
            sum_co[cell] += ts->ur_r[k];
            cnt_co[cell] += 1;
        }
    }
    for (int uc = 0; uc < ku; uc++) {
        double su = 0, nu = 0;
        for (int ic = 0; ic < ki; ic++) {
            size_t cell = (size_t)uc * ki + ic;
            su += sum_co[cell], nu += cnt_co[cell];
            s->avg_co[cell] = cnt_co[cell] ? sum_co[cell] / cnt_co[cell] : ts->global_mean;
        }
        s->avg_u[uc] = nu ? su / nu : ts->global_mean;
    }
    for (int ic = 0; ic < ki; ic++) {
        double si = 0, ni = 0;
        for (int uc = 0; uc < ku; uc++) {
            size_t cell = (size_t)uc * ki + ic;
            si += sum_co[cell], ni += cnt_co[cell];
        }
        s->avg_i[ic] = ni ? si / ni : ts->global_mean;
    }
}

/* Moves user u to the cluster minimising the squared error of its ratings, the item
 * clusters and the averages fixed. err: (ku) scratch. Ties go to the lowest cluster. */
static void cc_assign_user(const sr_trainset *ts, cc_state *s, uint32_t u, double *err) {
    uint64_t a = ts->user_ptr[u], b = ts->user_ptr[u + 1];
    if (a == b) return;
    for (int uc = 0; uc < s->ku; uc++) {
        const double *row = s->avg_co + (size_t)uc * s->ki;
        double base = s->user_mean[u] - s->avg_u[uc], e2 = 0;
        for (uint64_t k = a; k < b; k++) {
            uint32_t i = ts->ur_item[k], ic = s->ci[i];
            double e = ts->ur_r[k] - (row[ic] + base + s->item_mean[i] - s->avg_i[ic]);
            e2 += e * e;
        }
        err[uc] = e2;
    }
    int best = 0;
    for (int uc = 1; uc < s->ku; uc++)
        if (err[uc] < err[best]) best = uc;
    s->cu[u] = (uint32_t)best;
}

/* The same for item i, with the users' clusters fixed. err: (ki) scratch. */
static void cc_assign_item(const sr_trainset *ts, cc_state *s, uint32_t i, double *err) {
    uint64_t a = ts->item_ptr[i], b = ts->item_ptr[i + 1];
    if (a == b) return;
    for (int ic = 0; ic < s->ki; ic++) {
        double base = s->item_mean[i] - s->avg_i[ic], e2 = 0;
        for (uint64_t k = a; k < b; k++) {
            uint32_t u = ts->ir_user[k], uc = s->cu[u];
            double e = ts->ir_r[k] -
                       (s->avg_co[(size_t)uc * s->ki + ic] + s->user_mean[u] - s->avg_u[uc] + base);
            e2 += e * e;
        }
        err[ic] = e2;
    }
    int best = 0;
    for (int ic = 1; ic < s->ki; ic++)
        if (err[ic] < err[best]) best = ic;
    s->ci[i] = (uint32_t)best;
}

/* One reassignment step shared by the threads: they take chunks of users (or items)
 * from an atomic counter. Each entity's new cluster depends only on the other side's
 * clusters and the averages, none of which change during the step, so the result is
 * the sequential one whatever the thread count. */
typedef struct cc_step {
    const sr_trainset *ts;
    cc_state *s;
    int items; /* 0: users, 1: items */
    uint32_t n;
    _Atomic uint64_t next; /* 64 bits: threads overshoot n by a chunk each */
} cc_step;

typedef struct cc_worker_arg {
    cc_step *step;
    double *err; /* (max(ku, ki)) this worker's scratch */
} cc_worker_arg;

enum { CC_CHUNK = 256 };

static void *cc_worker(void *arg) {
    cc_worker_arg *w = arg;
    cc_step *st = w->step;
    for (;;) {
        uint64_t from = atomic_fetch_add(&st->next, CC_CHUNK);
        if (from >= st->n) break;
        uint64_t to = st->n - from < CC_CHUNK ? st->n : from + CC_CHUNK;
        for (uint32_t x = (uint32_t)from; x < to; x++) {
            if (st->items)
                cc_assign_item(st->ts, st->s, x, w->err);
            else
                cc_assign_user(st->ts, st->s, x, w->err);
        }
    }
    return NULL;
}

/* Runs one step on `threads` threads (this one included); a thread that cannot be
 * started only leaves more work to the others. */
static void cc_run_step(const sr_trainset *ts, cc_state *s, int items, int threads, pthread_t *tid,
                        cc_worker_arg *args) {
    cc_step st = {.ts = ts, .s = s, .items = items, .n = items ? ts->n_items : ts->n_users};
    atomic_init(&st.next, 0);
    int started = 0;
    for (int t = 0; t < threads; t++) args[t].step = &st;
    for (; started < threads - 1; started++)
        if (pthread_create(&tid[started], NULL, cc_worker, &args[started + 1])) break;
    cc_worker(&args[0]);
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
}

static sr_err cc_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                     sr_diag *d) {
    *state = NULL;
    int ku = (int)p[P_N_CLTR_U], ki = (int)p[P_N_CLTR_I], epochs = (int)p[P_N_EPOCHS];
    if (ku < 1 || ki < 1 || ku > 1000 || ki > 1000 || epochs < 0)
        return sr_diag_set(d, SR_E_RANGE, "CoClustering: bad n_cltr_u/n_cltr_i/n_epochs");
    int threads = c->threads > 1 ? c->threads : 1;
    if (threads > 256) threads = 256;
    /* A thread per 50000 ratings at most: on less, starting it costs more than it saves. */
    if ((uint64_t)threads > 1 + ts->n / 50000) threads = (int)(1 + ts->n / 50000);
    size_t kmax = (size_t)(ku > ki ? ku : ki);
    cc_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "CoClustering: out of memory");
    s->ku = ku, s->ki = ki;
    size_t nu = (size_t)ts->n_users + 1, ni = (size_t)ts->n_items + 1;
    s->cu = sr_mallocarray(nu, sizeof *s->cu);
    s->ci = sr_mallocarray(ni, sizeof *s->ci);
    s->user_mean = sr_calloc(nu, sizeof *s->user_mean);
    s->item_mean = sr_calloc(ni, sizeof *s->item_mean);
    s->avg_u = sr_calloc((size_t)ku, sizeof *s->avg_u);
    s->avg_i = sr_calloc((size_t)ki, sizeof *s->avg_i);
    s->avg_co = sr_calloc((size_t)ku * ki, sizeof *s->avg_co);
    s->scratch = sr_calloc(2 * (size_t)ku * ki, sizeof *s->scratch);
    double *err = sr_calloc((size_t)threads * kmax, sizeof *err); /* (threads, kmax) */
    pthread_t *tid = sr_calloc((size_t)threads, sizeof *tid);
    cc_worker_arg *args = sr_calloc((size_t)threads, sizeof *args);
    if (!s->cu || !s->ci || !s->user_mean || !s->item_mean || !s->avg_u || !s->avg_i ||
        !s->avg_co || !s->scratch || !err || !tid || !args) {
        sr_free(err);
        sr_free(tid);
        sr_free(args);
        cc_free(s);
        return sr_diag_set(d, SR_E_NOMEM, "CoClustering: out of memory");
    }
    for (int t = 0; t < threads; t++) args[t].err = err + (size_t)t * kmax;

    /* Random initial clusters: users first, then items, from one generator. */
    sr_rng rng;
    sr_rng_seed(&rng, c->seed);
    for (uint32_t u = 0; u < ts->n_users; u++) s->cu[u] = (uint32_t)sr_rng_below(&rng, ku);
    for (uint32_t i = 0; i < ts->n_items; i++) s->ci[i] = (uint32_t)sr_rng_below(&rng, ki);

    for (uint32_t u = 0; u < ts->n_users; u++) {
        uint64_t a = ts->user_ptr[u], b = ts->user_ptr[u + 1];
        double sum = 0;
        for (uint64_t k = a; k < b; k++) sum += ts->ur_r[k];
        s->user_mean[u] = b > a ? sum / (double)(b - a) : 0;
    }
    for (uint32_t i = 0; i < ts->n_items; i++) {
        uint64_t a = ts->item_ptr[i], b = ts->item_ptr[i + 1];
        double sum = 0;
        for (uint64_t k = a; k < b; k++) sum += ts->ir_r[k];
        s->item_mean[i] = b > a ? sum / (double)(b - a) : 0;
    }

    for (int epoch = 0; epoch < epochs; epoch++) {
        cc_averages(ts, s);
        cc_run_step(ts, s, 0, threads, tid, args);
        cc_run_step(ts, s, 1, threads, tid, args);
        sr_progress(c->log, "co_clustering", (uint64_t)epoch + 1, (uint64_t)epochs);
    }
    cc_averages(ts, s);
    sr_free(err);
    sr_free(tid);
    sr_free(args);
    sr_free(s->scratch);
    s->scratch = NULL;
    *state = s;
    return SR_OK;
}

static bool cc_estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                        double *est) {
    const cc_state *s = state;
    bool ku = sr_trainset_knows_user(ts, u), ki = sr_trainset_knows_item(ts, i);
    if (!ku && !ki) return false;
    if (!ku) {
        *est = s->item_mean[i];
        return true;
    }
    if (!ki) {
        *est = s->user_mean[u];
        return true;
    }
    uint32_t uc = s->cu[u], ic = s->ci[i];
    *est = s->avg_co[(size_t)uc * s->ki + ic] + s->user_mean[u] - s->avg_u[uc] + s->item_mean[i] -
           s->avg_i[ic];
    return true;
}

static void cc_save(const void *state, const sr_trainset *ts, sr_srm_writer *w) {
    const cc_state *s = state;
    sr_srm_put(w, "m.cu", SR_SRM_U32, s->cu, ts->n_users);
    sr_srm_put(w, "m.ci", SR_SRM_U32, s->ci, ts->n_items);
    sr_srm_put(w, "m.user_mean", SR_SRM_F64, s->user_mean, ts->n_users);
    sr_srm_put(w, "m.item_mean", SR_SRM_F64, s->item_mean, ts->n_items);
    sr_srm_put(w, "m.avg_u", SR_SRM_F64, s->avg_u, (uint64_t)s->ku);
    sr_srm_put(w, "m.avg_i", SR_SRM_F64, s->avg_i, (uint64_t)s->ki);
    sr_srm_put(w, "m.avg_co", SR_SRM_F64, s->avg_co, (uint64_t)s->ku * (uint64_t)s->ki);
}

static sr_err cc_load(sr_srm *r, const sr_trainset *ts, const double *p, void **state, sr_diag *d) {
    *state = NULL;
    int ku = (int)p[P_N_CLTR_U], ki = (int)p[P_N_CLTR_I];
    const void *a[7];
    sr_err e = sr_srm_get(r, "m.cu", SR_SRM_U32, ts->n_users, &a[0], NULL, d);
    if (!e) e = sr_srm_get(r, "m.ci", SR_SRM_U32, ts->n_items, &a[1], NULL, d);
    if (!e) e = sr_srm_get(r, "m.user_mean", SR_SRM_F64, ts->n_users, &a[2], NULL, d);
    if (!e) e = sr_srm_get(r, "m.item_mean", SR_SRM_F64, ts->n_items, &a[3], NULL, d);
    if (!e) e = sr_srm_get(r, "m.avg_u", SR_SRM_F64, (uint64_t)ku, &a[4], NULL, d);
    if (!e) e = sr_srm_get(r, "m.avg_i", SR_SRM_F64, (uint64_t)ki, &a[5], NULL, d);
    if (!e) e = sr_srm_get(r, "m.avg_co", SR_SRM_F64, (uint64_t)ku * (uint64_t)ki, &a[6], NULL, d);
    if (e) return e;
    const uint32_t *cu = a[0], *ci = a[1];
    uint32_t bad = 0;
    for (uint32_t u = 0; u < ts->n_users; u++) bad |= cu[u] >= (uint32_t)ku;
    for (uint32_t i = 0; i < ts->n_items; i++) bad |= ci[i] >= (uint32_t)ki;
    if (bad) return sr_diag_set(d, SR_E_CORRUPT, "%s: cluster ids out of range", sr_srm_path(r));
    cc_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    s->ku = ku, s->ki = ki;
    s->cu = (uint32_t *)cu;
    s->ci = (uint32_t *)ci;
    s->user_mean = (double *)a[2];
    s->item_mean = (double *)a[3];
    s->avg_u = (double *)a[4];
    s->avg_i = (double *)a[5];
    s->avg_co = (double *)a[6];
    s->mapped = true;
    *state = s;
    return SR_OK;
}

/* A listener folded in: their mean and the user cluster that fits their ratings best
 * (least squared error, the fit's assignment step with everything else fixed). */
typedef struct cc_user {
    double mean;
    uint32_t cluster;
    bool known; /* has ratings */
} cc_user;

static sr_err cc_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *u,
                         sr_diag *d) {
    (void)p;
    const cc_state *s = state;
    cc_user *c = sr_calloc(1, sizeof *c);
    if (!c) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    double sum = 0;
    for (size_t j = 0; j < u->n; j++) sum += u->r[j];
    c->known = u->n > 0;
    c->mean = u->n ? sum / (double)u->n : ts->global_mean;
    double best = INFINITY;
    for (int uc = 0; uc < s->ku; uc++) {
        double err = 0;
        for (size_t j = 0; j < u->n; j++) {
            const uint32_t i = u->items[j];
            if (!sr_trainset_knows_item(ts, i)) continue;
            const uint32_t ic = s->ci[i];
            const double e = s->avg_co[(size_t)uc * s->ki + ic] + c->mean - s->avg_u[uc] +
                             s->item_mean[i] - s->avg_i[ic];
            err += (u->r[j] - e) * (u->r[j] - e);
        }
        if (err < best) best = err, c->cluster = (uint32_t)uc;
    }
    u->state = c;
    return SR_OK;
}

static bool cc_estimate_new(const void *state, const sr_trainset *ts, const sr_newuser *u,
                            uint32_t i, double *est) {
    const cc_state *s = state;
    const cc_user *c = u->state;
    bool ki = sr_trainset_knows_item(ts, i);
    if (!c->known && !ki) return false;
    if (!c->known) {
        *est = s->item_mean[i];
        return true;
    }
    if (!ki) {
        *est = c->mean;
        return true;
    }
    uint32_t uc = c->cluster, ic = s->ci[i];
    *est = s->avg_co[(size_t)uc * s->ki + ic] + c->mean - s->avg_u[uc] + s->item_mean[i] -
           s->avg_i[ic];
    return true;
}

const sr_model_ops sr_model_co_clustering = {
    .name = "co_clustering",
    .surprise = "CoClustering",
    .summary = "co-cluster average plus user and item offsets (George & Merugu 2005)",
    .params = cc_params,
    .n_params = P_COUNT,
    .fit = cc_fit,
    .estimate = cc_estimate,
    .free = cc_free,
    .save = cc_save,
    .load = cc_load,
    .fold_in = cc_fold_in,
    .estimate_new = cc_estimate_new,
    .user_free = sr_free,
};
