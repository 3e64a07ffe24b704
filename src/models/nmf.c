/* NMF: non-negative matrix factorisation by multiplicative updates, the regularised
 * SGD-free scheme of Luo, Zhou, Xia & Zhu, "An efficient non-negative matrix-
 * factorization-based approach to collaborative filtering for recommender systems",
 * IEEE TII 2014 (also Zhang et al., SDM 2006) — with the parameters, defaults and order
 * of operations of Surprise's NMF (surprise/prediction_algorithms/matrix_factorization.pyx,
 * v1.1.x):
 *
 *   est(u, i) = q_i . p_u                    (biased: mu + b_u + b_i + q_i . p_u)
 *   each epoch: for every rating (u, i, r), in trainset order, with the current factors
 *     est = [mu + b_u + b_i +] q_i . p_u;  (biased: b_u, b_i take one SGD step on r - est)
 *     unum[u] += q_i r;  uden[u] += q_i est;  inum[i] += p_u r;  iden[i] += p_u est
 *   then p_uf *= unum_uf / (uden_uf + |I_u| reg_pu p_uf), q_if likewise with |U_i|, reg_qi
 *   (a factor that is 0 stays 0, as in Surprise), all from the epoch's old factors. A
 *   zero denominator (possible only when biased or with reg 0) leaves the factor as it
 *   is, where Surprise would produce inf or NaN.
 *
 * Factors start uniform in [init_low, init_high] (p then q, from the seed; mf.h), biases
 * 0. Unbiased with an unknown user or item is impossible; biased drops the unknown terms.
 *
 * Parallelism (ctx->threads > 1): every accumulator row is summed by exactly one thread,
 * in the same order as the sequential loop (a user's ratings in the by-user CSR; an
 * item's ratings, users ascending, in the by-item CSR, which is trainset order), so the
 * result is bit-identical for any thread count. Rows are split between threads by rating
 * counts. The per-rating estimates are computed first (in parallel when unbiased; one
 * sequential pass when biased, because the bias SGD depends on order) and kept in `est`.
 *
 * State: bu (n_users), bi (n_items), pu (n_users, ld), qi (n_items, ld); row-major,
 * 64-byte aligned, owned.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "models/mf.h"
#include "models/model.h"
#include "util/mem.h"
#include "util/rng.h"

#define MAX_THREADS 256

typedef sr_mf_state nmf_state;

enum {
    P_N_FACTORS,
    P_N_EPOCHS,
    P_BIASED,
    P_REG_PU,
    P_REG_QI,
    P_REG_BU,
    P_REG_BI,
    P_LR_BU,
    P_LR_BI,
    P_INIT_LOW,
    P_INIT_HIGH,
    P_COUNT
};

static const sr_param_def nmf_params[P_COUNT] = {
    [P_N_FACTORS] = {"n_factors", SR_PARAM_INT, 15, 1, 4096, NULL, "number of latent factors"},
    [P_N_EPOCHS] = {"n_epochs", SR_PARAM_INT, 50, 0, 100000, NULL, "passes over the data"},
    [P_BIASED] = {"biased", SR_PARAM_BOOL, 0, 0, 1, NULL,
                  "add baselines mu + b_u + b_i (fitted by SGD); prone to overfit"},
    [P_REG_PU] = {"reg_pu", SR_PARAM_REAL, 0.06, 0, 1e3, NULL, "regularisation of user factors"},
    [P_REG_QI] = {"reg_qi", SR_PARAM_REAL, 0.06, 0, 1e3, NULL, "regularisation of item factors"},
    [P_REG_BU] = {"reg_bu", SR_PARAM_REAL, 0.02, 0, 1e3, NULL, "regularisation of b_u (biased)"},
    [P_REG_BI] = {"reg_bi", SR_PARAM_REAL, 0.02, 0, 1e3, NULL, "regularisation of b_i (biased)"},
    [P_LR_BU] = {"lr_bu", SR_PARAM_REAL, 0.005, 0, 10, NULL, "learning rate of b_u (biased)"},
    [P_LR_BI] = {"lr_bi", SR_PARAM_REAL, 0.005, 0, 10, NULL, "learning rate of b_i (biased)"},
    [P_INIT_LOW] = {"init_low", SR_PARAM_REAL, 0, 0, 1e3, NULL,
                    "lower bound of the uniform initial factors (>= 0)"},
    [P_INIT_HIGH] = {"init_high", SR_PARAM_REAL, 1, 0, 1e3, NULL,
                     "upper bound of the uniform initial factors"},
};

/* Everything the phases share. */
typedef struct nmf_job {
    const sr_trainset *ts;
    nmf_state *s;
    double reg_pu, reg_qi;
    uint64_t *perm;  /* (n): by-item position -> by-user position */
    double *est;     /* (n): estimate of each rating, by-user order */
    double *ratio;   /* (n_items, ld): the items' multiplicative factors of this epoch */
    double *scratch; /* (threads, 2 ld): per-thread num and den */
    int phase;
} nmf_job;

enum { PH_EST, PH_ITEMS, PH_USERS, PH_APPLY };

/* Unbiased estimates of users [lo, hi). */
static void ph_est(nmf_job *j, uint32_t lo, uint32_t hi) {
    const sr_trainset *ts = j->ts;
    const uint32_t k = j->s->k, ld = j->s->ld;
    for (uint32_t u = lo; u < hi; u++) {
        const float *p = j->s->pu + (size_t)u * ld;
        for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++) {
            const float *v = j->s->qi + (size_t)ts->ur_item[q] * ld;
            double dot = 0;
            for (uint32_t f = 0; f < k; f++) dot += (double)v[f] * p[f];
            j->est[q] = dot;
        }
    }
}

/* Item accumulators and ratios of items [lo, hi) (old p, old q). */
static void ph_items(nmf_job *j, uint32_t lo, uint32_t hi, double *num, double *den) {
    const sr_trainset *ts = j->ts;
    const uint32_t k = j->s->k, ld = j->s->ld;
    for (uint32_t i = lo; i < hi; i++) {
        const uint64_t beg = ts->item_ptr[i], end = ts->item_ptr[i + 1];
        double *ra = j->ratio + (size_t)i * ld;
        for (uint32_t f = 0; f < k; f++) ra[f] = 1; /* an item without ratings keeps its q */
        if (beg == end) continue;
        for (uint32_t f = 0; f < k; f++) num[f] = 0, den[f] = 0;
        for (uint64_t w = beg; w < end; w++) {
            const float *p = j->s->pu + (size_t)ts->ir_user[w] * ld;
            const double r = ts->ir_r[w], e = j->est[j->perm[w]];
            for (uint32_t f = 0; f < k; f++) num[f] += p[f] * r, den[f] += p[f] * e;
        }
        const float *v = j->s->qi + (size_t)i * ld;
        for (uint32_t f = 0; f < k; f++) {
            if (v[f] == 0) continue;
            double dd = den[f] + (double)(end - beg) * j->reg_qi * v[f];
            if (dd != 0) ra[f] = num[f] / dd;
        }
    }
}

/* User accumulators and updates of users [lo, hi) (old q). */
static void ph_users(nmf_job *j, uint32_t lo, uint32_t hi, double *num, double *den) {
    const sr_trainset *ts = j->ts;
    const uint32_t k = j->s->k, ld = j->s->ld;
    for (uint32_t u = lo; u < hi; u++) {
        const uint64_t beg = ts->user_ptr[u], end = ts->user_ptr[u + 1];
        if (beg == end) continue;
        for (uint32_t f = 0; f < k; f++) num[f] = 0, den[f] = 0;
        for (uint64_t q = beg; q < end; q++) {
            const float *v = j->s->qi + (size_t)ts->ur_item[q] * ld;
            const double r = ts->ur_r[q], e = j->est[q];
            for (uint32_t f = 0; f < k; f++) num[f] += v[f] * r, den[f] += v[f] * e;
        }
        float *p = j->s->pu + (size_t)u * ld;
        for (uint32_t f = 0; f < k; f++) {
            if (p[f] == 0) continue;
            double dd = den[f] + (double)(end - beg) * j->reg_pu * p[f];
            if (dd != 0) p[f] = (float)(p[f] * (num[f] / dd));
        }
    }
}

static void ph_apply(nmf_job *j, uint32_t lo, uint32_t hi) {
    const uint32_t k = j->s->k, ld = j->s->ld;
    for (uint32_t i = lo; i < hi; i++) {
        float *v = j->s->qi + (size_t)i * ld;
        const double *ra = j->ratio + (size_t)i * ld;
        for (uint32_t f = 0; f < k; f++) v[f] = (float)(v[f] * ra[f]);
    }
}

typedef struct nmf_task {
    nmf_job *job;
    uint32_t lo, hi; /* rows */
    int t;           /* thread index */
} nmf_task;

static void *run_task(void *arg) {
    nmf_task *t = arg;
    nmf_job *j = t->job;
    double *num = j->scratch + (size_t)t->t * 2 * j->s->ld, *den = num + j->s->ld;
    switch (j->phase) {
    case PH_EST:
        ph_est(j, t->lo, t->hi);
        break;
    case PH_ITEMS:
        ph_items(j, t->lo, t->hi, num, den);
        break;
    case PH_USERS:
        ph_users(j, t->lo, t->hi, num, den);
        break;
    default:
        ph_apply(j, t->lo, t->hi);
        break;
    }
    return NULL;
}

/* Runs the job's phase over rows [0, n_rows) split into `threads` ranges of about equal
 * ratings (ptr: the CSR row pointer of those rows). Thread 0's range runs here; a thread
 * that cannot start has its range run here too, so the outcome never depends on it. */
static void run_phase(nmf_job *j, int phase, int threads, uint32_t n_rows, const uint64_t *ptr) {
    j->phase = phase;
    nmf_task task[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS];
    const uint64_t total = ptr[n_rows];
    uint32_t row = 0;
    for (int t = 0; t < threads; t++) {
        uint64_t target = total / (uint64_t)threads * (uint64_t)(t + 1);
        uint32_t hi = row;
        if (t == threads - 1)
            hi = n_rows;
        else
            while (hi < n_rows && ptr[hi] < target) hi++;
        task[t] = (nmf_task){.job = j, .lo = row, .hi = hi, .t = t};
        row = hi;
    }
    for (int t = 1; t < threads; t++)
        started[t] = pthread_create(&tid[t], NULL, run_task, &task[t]) == 0;
    run_task(&task[0]);
    for (int t = 1; t < threads; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            run_task(&task[t]);
    }
}

/* Biased estimates with the bias SGD, sequential in trainset order. */
static void est_biased(nmf_job *j, double mu, double lbu, double rbu, double lbi, double rbi) {
    const sr_trainset *ts = j->ts;
    nmf_state *s = j->s;
    for (uint32_t u = 0; u < ts->n_users; u++) {
        const float *p = s->pu + (size_t)u * s->ld;
        for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++) {
            const uint32_t i = ts->ur_item[q];
            const float *v = s->qi + (size_t)i * s->ld;
            double dot = 0;
            for (uint32_t f = 0; f < s->k; f++) dot += (double)v[f] * p[f];
            const double e = mu + s->bu[u] + s->bi[i] + dot, err = ts->ur_r[q] - e;
            s->bu[u] += (float)(lbu * (err - rbu * s->bu[u]));
            s->bi[i] += (float)(lbi * (err - rbi * s->bi[i]));
            j->est[q] = e;
        }
    }
}

static sr_err nmf_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                      sr_diag *d) {
    *state = NULL;
    if (!(p[P_N_FACTORS] >= 1 && p[P_N_FACTORS] <= 4096) || !(p[P_N_EPOCHS] >= 0))
        return sr_diag_set(d, SR_E_USAGE, "NMF: n_factors must be in [1, 4096], n_epochs >= 0");
    if (!(p[P_INIT_LOW] >= 0) || !(p[P_INIT_HIGH] >= p[P_INIT_LOW]))
        return sr_diag_set(d, SR_E_USAGE, "NMF: need 0 <= init_low <= init_high");
    int threads = c->threads < 1 ? 1 : c->threads > MAX_THREADS ? MAX_THREADS : c->threads;

    nmf_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "NMF: out of memory");
    s->k = (uint32_t)p[P_N_FACTORS];
    s->ld = sr__mf_ld(s->k);
    s->biased = p[P_BIASED] != 0;
    s->bu = sr_calloc((size_t)ts->n_users + 1, sizeof *s->bu);
    s->bi = sr_calloc((size_t)ts->n_items + 1, sizeof *s->bi);
    s->pu = sr__mf_alloc(ts->n_users, s->ld);
    s->qi = sr__mf_alloc(ts->n_items, s->ld);
    nmf_job j = {.ts = ts, .s = s, .reg_pu = p[P_REG_PU], .reg_qi = p[P_REG_QI]};
    j.perm = sr_mallocarray(ts->n ? ts->n : 1, sizeof *j.perm);
    j.est = sr_mallocarray(ts->n ? ts->n : 1, sizeof *j.est);
    j.ratio = sr_mallocarray(((size_t)ts->n_items + 1) * s->ld, sizeof *j.ratio);
    j.scratch = sr_mallocarray((size_t)threads * 2 * s->ld, sizeof *j.scratch);
    uint64_t *pos = sr_mallocarray((size_t)ts->n_items + 1, sizeof *pos);
    sr_err err = SR_OK;
    if (!s->bu || !s->bi || !s->pu || !s->qi || !j.perm || !j.est || !j.ratio || !j.scratch ||
        !pos) {
        err = sr_diag_set(d, SR_E_NOMEM, "NMF: out of memory for factors");
        goto done;
    }
    /* perm: the by-item CSR lists users ascending, which is the by-user scan order. */
    memcpy(pos, ts->item_ptr, ((size_t)ts->n_items + 1) * sizeof *pos);
    for (uint32_t u = 0; u < ts->n_users; u++)
        for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++)
            j.perm[pos[ts->ur_item[q]]++] = q;

    sr_rng rng;
    sr_rng_seed(&rng, c->seed);
    sr__mf_init_uniform(s->pu, ts->n_users, s->k, s->ld, &rng, p[P_INIT_LOW], p[P_INIT_HIGH]);
    sr__mf_init_uniform(s->qi, ts->n_items, s->k, s->ld, &rng, p[P_INIT_LOW], p[P_INIT_HIGH]);

    const int n_epochs = (int)p[P_N_EPOCHS];
    for (int e = 0; e < n_epochs; e++) {
        if (s->biased)
            est_biased(&j, ts->global_mean, p[P_LR_BU], p[P_REG_BU], p[P_LR_BI], p[P_REG_BI]);
        else
            run_phase(&j, PH_EST, threads, ts->n_users, ts->user_ptr);
        run_phase(&j, PH_ITEMS, threads, ts->n_items, ts->item_ptr);
        run_phase(&j, PH_USERS, threads, ts->n_users, ts->user_ptr);
        run_phase(&j, PH_APPLY, threads, ts->n_items, ts->item_ptr);
        sr_progress(c->log, "NMF", (uint64_t)e + 1, (uint64_t)n_epochs);
    }
    /* Biased, the biases' SGD steps blow up under a large lr_bu or lr_bi, and the factors
     * with them. */
    err = sr__mf_finish(s, ts, "NMF", "smaller lr_bu and lr_bi, or biased=false", d);
done:
    sr_free(j.perm);
    sr_free(j.est);
    sr_free(j.ratio);
    sr_free(j.scratch);
    sr_free(pos);
    if (err)
        sr__mf_state_free(s);
    else
        *state = s;
    return err;
}

static sr_err nmf_load(sr_srm *r, const sr_trainset *ts, const double *p, void **state,
                       sr_diag *d) {
    return sr__mf_load(r, ts, (uint32_t)p[P_N_FACTORS], p[P_BIASED] != 0, false, state, d);
}

/* Fold-in: the training steps for one user with q (and b_i) fixed — n_epochs rounds of
 * the multiplicative update of p_u (and, biased, the SGD steps of b_u over the ratings in
 * item order) from a uniform start drawn with a fixed seed, so the result is
 * deterministic. A factor that none of the ratings carries (every rated song's q_if is 0)
 * is 0, where the update would tend with any regularisation: nothing the listener did
 * speaks for it. An empty profile is a listener the model has not seen and gets what
 * predict gives one, as SVD's fold-in does: p_u = 0, b_u = 0 and, unbiased, the global
 * mean (est = mu; biased, mu + b_i) — not the random start, which no update moves. */
static sr_err nmf_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *nu,
                          sr_diag *d) {
    const nmf_state *s = state;
    const uint32_t k = s->k;
    const size_t n = nu->n;
    sr_mf_user *u = sr__mf_user_new(k, k, n, false);
    double *num = sr_mallocarray(2 * (size_t)k + 1, sizeof *num);
    float *q = sr_mallocarray(n ? n * (size_t)k : 1, sizeof *q);
    double *est = sr_mallocarray(n ? n : 1, sizeof *est);
    if (!u || !num || !q || !est) {
        sr__mf_user_free(u);
        sr_free(num), sr_free(q), sr_free(est);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    double *den = num + k;
    const double mu = ts->global_mean;
    if (n == 0) { /* z is zero from sr__mf_user_new */
        u->add = (float)mu;
        sr_free(num), sr_free(q), sr_free(est);
        nu->state = u;
        return SR_OK;
    }
    for (size_t j = 0; j < n; j++) sr_fmat_row(&s->Q, nu->items[j], q + j * k);
    sr_rng rng;
    sr_rng_seed(&rng, 0);
    sr__mf_init_uniform(u->z, 1, k, k, &rng, p[P_INIT_LOW], p[P_INIT_HIGH]);
    double bu = 0;
    for (int e = 0; e < (int)p[P_N_EPOCHS]; e++) {
        for (size_t j = 0; j < n; j++) {
            double dot = 0;
            for (uint32_t f = 0; f < k; f++) dot += (double)q[j * k + f] * u->z[f];
            if (s->biased) {
                const double ej = mu + bu + s->bi[nu->items[j]] + dot, err = nu->r[j] - ej;
                bu += p[P_LR_BU] * (err - p[P_REG_BU] * bu);
                dot = ej;
            }
            est[j] = dot;
        }
        for (uint32_t f = 0; f < k; f++) num[f] = 0, den[f] = 0;
        for (size_t j = 0; j < n; j++)
            for (uint32_t f = 0; f < k; f++)
                num[f] += q[j * k + f] * (double)nu->r[j], den[f] += q[j * k + f] * est[j];
        for (uint32_t f = 0; f < k; f++) {
            if (u->z[f] == 0) continue;
            if (num[f] == 0) { /* the update's limit, also where reg_pu 0 leaves dd 0 */
                u->z[f] = 0;
                continue;
            }
            double dd = den[f] + (double)n * p[P_REG_PU] * u->z[f];
            if (dd != 0) u->z[f] = (float)(u->z[f] * (num[f] / dd));
        }
    }
    u->add = s->biased ? (float)(mu + bu) : 0.0f;
    sr_free(num), sr_free(q), sr_free(est);
    nu->state = u;
    return SR_OK;
}

const sr_model_ops sr_model_nmf = {
    .name = "nmf",
    .surprise = "NMF",
    .summary = "non-negative matrix factorisation by multiplicative updates (Luo et al. 2014)",
    .params = nmf_params,
    .n_params = P_COUNT,
    .fit = nmf_fit,
    .load = nmf_load,
    .fold_in = nmf_fold_in,
    SR_MF_OPS_COMMON,
};
