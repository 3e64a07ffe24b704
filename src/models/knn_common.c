/* Shared fitting and neighbour aggregation of the k-NN models (knn_common.h).
 *
 * Neighbour selection follows Surprise's estimate(): heapq.nlargest(k) over the raters
 * of y by similarity, then only similarities > 0 count. Keeping just the candidates with
 * similarity > 0 before choosing the k largest selects the same set (if at least k are
 * positive, the k largest are all positive; if not, every positive one is among them),
 * and spares the heap most of the work. The selection is a bounded min-heap of size k
 * ordered by (similarity, then earlier position in the list wins ties), which is
 * nlargest's stable order: O(m log k) for m candidates, no allocation for k <= 256.
 * Surprise's lists are in the order ratings entered the trainset, ours ascending by id,
 * so among exactly tied similarities at the k-th place the chosen neighbour may differ.
 */
#include "models/knn_common.h"

#include <string.h>

#include "models/baselines.h"
#include "util/mem.h"

#define STACK_HEAP 256

typedef struct cand {
    float sim;
    uint32_t pos; /* position in the raters list of y */
} cand;

/* a ranks below b in nlargest's stable order. */
static inline bool below(cand a, cand b) {
    return a.sim < b.sim || (a.sim == b.sim && a.pos > b.pos);
}

static void sift_down(cand *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && below(h[l], h[m])) m = l;
        if (r < n && below(h[r], h[m])) m = r;
        if (m == i) return;
        cand t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(cand *h, size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!below(h[i], h[p])) return;
        cand t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

/* The sums over the neighbours among `len` candidates (ids idx, ratings rat), with the
 * similarities of x to every candidate id in srow. w (len, or NULL) gets sim * residual
 * for each chosen neighbour (and 0 for the rest). */
static bool aggregate_list(const sr_knn *m, const float *srow, const uint32_t *idx,
                           const float *rat, size_t len, double offset, const double *center,
                           const double *scale, sr_knn_sum *out, double *w) {
    *out = (sr_knn_sum){0, 0, 0};
    if (w)
        for (size_t p = 0; p < len; p++) w[p] = 0;
    size_t cap = (size_t)m->k < len ? (size_t)m->k : len;
    cand stack[STACK_HEAP], *h = stack;
    if (cap > STACK_HEAP) {
        h = sr_mallocarray(cap, sizeof *h);
        if (!h) return false;
    }
    size_t n = 0;
    for (size_t p = 0; p < len; p++) {
        cand c = {srow[idx[p]], (uint32_t)p};
        if (!(c.sim > 0)) continue;
        if (n < cap) {
            h[n] = c;
            sift_up(h, n++);
        } else if (cap && below(h[0], c)) {
            h[0] = c;
            sift_down(h, n, 0);
        }
    }
    for (size_t t = 0; t < n; t++) {
        const uint32_t nb = idx[h[t].pos];
        double res = rat[h[t].pos] - offset - (center ? center[nb] : 0);
        if (scale) res /= scale[nb];
        out->num += h[t].sim * res;
        out->den += h[t].sim;
        if (w) w[h[t].pos] = h[t].sim * res;
    }
    out->actual_k = (int)n;
    if (h != stack) sr_free(h);
    return true;
}

bool sr__knn_aggregate(const sr_knn *m, const sr_trainset *ts, uint32_t x, uint32_t y,
                       double offset, const double *center, const double *scale, sr_knn_sum *out) {
    const uint64_t *ptr = m->user_based ? ts->item_ptr : ts->user_ptr;
    const uint32_t *idx = m->user_based ? ts->ir_user : ts->ur_item;
    const float *rat = m->user_based ? ts->ir_r : ts->ur_r;
    const uint64_t a = ptr[y];
    return aggregate_list(m, m->sim->s + (uint64_t)x * m->sim->n, idx + a, rat + a,
                          (size_t)(ptr[y + 1] - a), offset, center, scale, out, NULL);
}

bool sr__knn_new_sums(const sr_knn *m, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                      double offset, const double *center, const double *scale, sr_knn_sum *s,
                      double *w) {
    const sr_knn_user *ku = u->state;
    if (m->user_based) {
        const uint64_t a = ts->item_ptr[i];
        return aggregate_list(m, ku->sim, ts->ir_user + a, ts->ir_r + a,
                              (size_t)(ts->item_ptr[i + 1] - a), offset, center, scale, s, NULL);
    }
    return aggregate_list(m, m->sim->s + (uint64_t)i * m->sim->n, u->items, u->r, u->n, offset,
                          center, scale, s, w);
}

void sr__knn_free(void *state) {
    sr_knn *m = state;
    if (!m) return;
    if (m->mapped) {
        sr_free(m->sim);
        sr_free(m);
        return;
    }
    sr_sim_free(m->sim);
    sr_free(m->mean);
    sr_free(m->sigma);
    sr_free(m->bu);
    sr_free(m->bi);
    sr_free(m);
}

void sr__knn_save(const void *state, const sr_trainset *ts, sr_srm_writer *w) {
    const sr_knn *m = state;
    const uint64_t nx = m->user_based ? ts->n_users : ts->n_items;
    sr_srm_put_factors(w, "m.sim", m->sim->s, m->sim->n, m->sim->n, m->sim->n);
    if (m->mean) sr_srm_put(w, "m.mean", SR_SRM_F64, m->mean, nx);
    if (m->sigma) sr_srm_put(w, "m.sigma", SR_SRM_F64, m->sigma, nx);
    if (m->bu) sr_srm_put(w, "m.bu", SR_SRM_F64, m->bu, ts->n_users);
    if (m->bi) sr_srm_put(w, "m.bi", SR_SRM_F64, m->bi, ts->n_items);
}

/* An optional f64 array of n: required when `need`. */
static sr_err get_opt(sr_srm *r, const char *name, uint64_t n, bool need, double **out,
                      sr_diag *d) {
    *out = NULL;
    if (!need && !sr_srm_has(r, name)) return SR_OK;
    const void *p;
    sr_err e = sr_srm_get(r, name, SR_SRM_F64, n, &p, NULL, d);
    if (!e) *out = (double *)p;
    return e;
}

sr_err sr__knn_load(sr_srm *r, const sr_trainset *ts, const double *p, unsigned needs, void **state,
                    sr_diag *d) {
    *state = NULL;
    const bool ub = p[SR_KNN_USER_BASED] != 0;
    const uint32_t nx = ub ? ts->n_users : ts->n_items;
    const float *s;
    sr_err e = sr_srm_get_factors(r, "m.sim", nx, nx, nx, &s, d);
    if (e) return e;
    sr_knn *m = sr_calloc(1, sizeof *m);
    if (!m || !(m->sim = sr_calloc(1, sizeof *m->sim))) {
        sr_free(m);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    m->mapped = true;
    m->sim->n = nx;
    m->sim->s = (float *)s;
    m->user_based = ub;
    m->k = p[SR_KNN_K] > 1e9 ? 1000000000 : (int)p[SR_KNN_K];
    m->min_k = p[SR_KNN_MIN_K] > 1e9 ? 1000000000 : (int)p[SR_KNN_MIN_K];
    e = get_opt(r, "m.mean", nx, (needs & (SR_KNN_NEED_MEANS | SR_KNN_NEED_SIGMAS)) != 0, &m->mean,
                d);
    if (!e) e = get_opt(r, "m.sigma", nx, (needs & SR_KNN_NEED_SIGMAS) != 0, &m->sigma, d);
    if (!e) e = get_opt(r, "m.bu", ts->n_users, (needs & SR_KNN_NEED_BASELINES) != 0, &m->bu, d);
    if (!e) e = get_opt(r, "m.bi", ts->n_items, (needs & SR_KNN_NEED_BASELINES) != 0, &m->bi, d);
    if (e) {
        sr__knn_free(m);
        return e;
    }
    *state = m;
    return SR_OK;
}

/* Means (and population deviations) of each x's ratings; a zero deviation becomes the
 * deviation of all ratings (Surprise's overall_sigma). */
static sr_err fit_moments(const sr_trainset *ts, sr_knn *m, bool sigmas) {
    const bool ub = m->user_based;
    const uint32_t nx = ub ? ts->n_users : ts->n_items;
    const uint64_t *ptr = ub ? ts->user_ptr : ts->item_ptr;
    const float *rat = ub ? ts->ur_r : ts->ir_r;
    m->mean = sr_calloc(nx ? nx : 1, sizeof *m->mean);
    if (!m->mean) return SR_E_NOMEM;
    for (uint32_t x = 0; x < nx; x++) {
        uint64_t cnt = ptr[x + 1] - ptr[x];
        if (!cnt) continue;
        double s = 0;
        for (uint64_t q = ptr[x]; q < ptr[x + 1]; q++) s += rat[q];
        m->mean[x] = s / (double)cnt;
    }
    if (!sigmas) return SR_OK;
    m->sigma = sr_calloc(nx ? nx : 1, sizeof *m->sigma);
    if (!m->sigma) return SR_E_NOMEM;
    double all = 0;
    for (uint64_t q = 0; q < ts->n; q++) {
        double dv = ts->ur_r[q] - ts->global_mean;
        all += dv * dv;
    }
    const double overall = ts->n ? sqrt(all / (double)ts->n) : 0;
    for (uint32_t x = 0; x < nx; x++) {
        uint64_t cnt = ptr[x + 1] - ptr[x];
        double s = 0;
        for (uint64_t q = ptr[x]; q < ptr[x + 1]; q++) {
            double dv = rat[q] - m->mean[x];
            s += dv * dv;
        }
        double sd = cnt ? sqrt(s / (double)cnt) : 0;
        m->sigma[x] = sd == 0 ? overall : sd;
    }
    return SR_OK;
}

static sr_baseline_opts bsl_opts(const double *p) {
    sr_baseline_opts o = sr_baseline_defaults((int)p[SR_KNN_BSL_METHOD]);
    if (!isnan(p[SR_KNN_BSL_N_EPOCHS])) o.n_epochs = (int)p[SR_KNN_BSL_N_EPOCHS];
    if (!isnan(p[SR_KNN_BSL_REG_U])) o.reg_u = p[SR_KNN_BSL_REG_U];
    if (!isnan(p[SR_KNN_BSL_REG_I])) o.reg_i = p[SR_KNN_BSL_REG_I];
    if (!isnan(p[SR_KNN_BSL_REG])) o.reg = p[SR_KNN_BSL_REG];
    if (!isnan(p[SR_KNN_BSL_LR])) o.lr = p[SR_KNN_BSL_LR];
    return o;
}

sr_err sr__knn_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, unsigned needs,
                   sr_knn **out, sr_diag *d) {
    *out = NULL;
    if (!(p[SR_KNN_K] >= 1) || !(p[SR_KNN_MIN_K] >= 0) || !(p[SR_KNN_MIN_SUPPORT] >= 0))
        return sr_diag_set(d, SR_E_RANGE, "k must be >= 1, min_k and min_support >= 0");
    const sr_sim_opts so = {.measure = (sr_sim_measure)(int)p[SR_KNN_NAME],
                            .user_based = p[SR_KNN_USER_BASED] != 0,
                            .min_support = p[SR_KNN_MIN_SUPPORT] > 1e9 ? 1000000000
                                                                       : (int)p[SR_KNN_MIN_SUPPORT],
                            .shrinkage = p[SR_KNN_SHRINKAGE]};
    sr_knn *m = sr_calloc(1, sizeof *m);
    if (!m) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    m->user_based = so.user_based;
    m->k = p[SR_KNN_K] > 1e9 ? 1000000000 : (int)p[SR_KNN_K];
    m->min_k = p[SR_KNN_MIN_K] > 1e9 ? 1000000000 : (int)p[SR_KNN_MIN_K];

    sr_err e;
    if ((needs & SR_KNN_NEED_BASELINES) || so.measure == SR_SIM_PEARSON_BASELINE) {
        m->bu = sr_calloc(ts->n_users ? ts->n_users : 1, sizeof *m->bu);
        m->bi = sr_calloc(ts->n_items ? ts->n_items : 1, sizeof *m->bi);
        if (!m->bu || !m->bi) {
            e = sr_diag_set(d, SR_E_NOMEM, "out of memory for baselines");
            goto fail;
        }
        const sr_baseline_opts bo = bsl_opts(p);
        e = sr_baselines_compute(ts, &bo, m->bu, m->bi);
        if (e) {
            if (e == SR_E_DIVERGED)
                sr_fit_diverged(d, "k-NN", "baselines",
                                "a smaller bsl_learning_rate, or bsl_method=als");
            else
                sr_diag_set(d, e, "baselines: %s", sr_err_message(e));
            goto fail;
        }
    }
    if (needs & (SR_KNN_NEED_MEANS | SR_KNN_NEED_SIGMAS)) {
        e = fit_moments(ts, m, (needs & SR_KNN_NEED_SIGMAS) != 0);
        if (e) {
            sr_diag_set(d, e, "out of memory for means");
            goto fail;
        }
    }
    e = sr_sim_compute(ts, &so, m->bu, m->bi, c && c->threads > 0 ? c->threads : 1, &m->sim, d);
    if (e) goto fail;
    *out = m;
    return SR_OK;
fail:
    sr__knn_free(m);
    return e;
}

void sr__knn_user_free(void *ustate) {
    sr_knn_user *ku = ustate;
    if (!ku) return;
    sr_free(ku->sim);
    sr_free(ku);
}

sr_err sr__knn_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *u,
                       sr_diag *d) {
    const sr_knn *m = state;
    u->state = NULL;
    sr_knn_user *ku = sr_calloc(1, sizeof *ku);
    if (!ku) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    /* Mean and population deviation of the listener's ratings; a zero deviation takes
     * the mean of the users' deviations (the fit's stand-in is the overall one). */
    double sum = 0, ss = 0;
    for (size_t j = 0; j < u->n; j++) sum += u->r[j];
    ku->mean = u->n ? sum / (double)u->n : ts->global_mean;
    for (size_t j = 0; j < u->n; j++) ss += (u->r[j] - ku->mean) * (u->r[j] - ku->mean);
    ku->sigma = u->n ? sqrt(ss / (double)u->n) : 0;
    if (ku->sigma == 0 && m->sigma && m->user_based) {
        double t = 0;
        uint32_t c = 0;
        for (uint32_t x = 0; x < ts->n_users; x++)
            if (sr_trainset_knows_user(ts, x)) t += m->sigma[x], c++;
        ku->sigma = c ? t / c : 1;
    }
    if (ku->sigma == 0) ku->sigma = 1;
    if (m->bi) {
        const sr_baseline_opts bo = bsl_opts(p);
        ku->bu = sr_baseline_fold_in(ts, &bo, m->bi, u->items, u->r, u->n, &ku->bu_den);
    }
    if (m->user_based) {
        ku->sim = sr_mallocarray(ts->n_users ? ts->n_users : 1, sizeof *ku->sim);
        const sr_sim_opts so = {
            .measure = (sr_sim_measure)(int)p[SR_KNN_NAME],
            .user_based = true,
            .min_support = p[SR_KNN_MIN_SUPPORT] > 1e9 ? 1000000000 : (int)p[SR_KNN_MIN_SUPPORT],
            .shrinkage = p[SR_KNN_SHRINKAGE]};
        sr_err e =
            ku->sim ? sr_sim_new_row(ts, &so, m->bu, m->bi, ku->bu, u->items, u->r, u->n, ku->sim)
                    : SR_E_NOMEM;
        if (e) {
            sr__knn_user_free(ku);
            return sr_diag_set(d, e, "fold-in: %s", sr_err_message(e));
        }
    }
    u->state = ku;
    return SR_OK;
}

bool sr__knn_similar(const void *state, const sr_trainset *ts, uint32_t i, float *out) {
    const sr_knn *m = state;
    if (m->user_based || i >= m->sim->n) return false;
    memcpy(out, m->sim->s + (uint64_t)i * m->sim->n, (size_t)m->sim->n * sizeof *out);
    return true;
}
