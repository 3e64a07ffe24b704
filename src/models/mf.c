/* Shared-private helpers of the matrix-factorisation models (mf.h): aligned factor
 * matrices, their seeded initialisation and the run-time CPU check. */
#include "models/mf.h"

#include <math.h>
#include <string.h>
#include <sys/mman.h>

#include "util/mem.h"

float *sr__mf_alloc(size_t rows, size_t ld) {
    if (rows == 0) rows = 1;
    if (ld && rows > (SIZE_MAX - 128) / sizeof(float) / ld) return NULL;
    size_t bytes = rows * ld * sizeof(float);
    /* Over-allocate one line plus room for the raw pointer just below the aligned one. */
    unsigned char *raw = sr_malloc(bytes + 64 + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    memcpy((void *)(a - sizeof(void *)), &raw, sizeof raw);
    /* Factor matrices of millions of rows are read at random: ask for 2 MiB pages, so
     * that a row costs a cache miss but rarely also a TLB miss (measured: +40 % on the
     * memory-bound part of SGD over 1 M songs). Done before the pages are first touched. */
    if (bytes >= (8u << 20)) {
        uintptr_t lo = (a + 4095) & ~(uintptr_t)4095, hi = (a + bytes) & ~(uintptr_t)4095;
        if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* a hint: errors ignored */
    }
    memset((void *)a, 0, bytes);
    return (float *)a;
}

void sr__mf_free(float *m) {
    if (!m) return;
    void *raw;
    memcpy(&raw, (unsigned char *)m - sizeof(void *), sizeof raw);
    sr_free(raw);
}

void sr__mf_init_normal(float *m, size_t rows, uint32_t k, uint32_t ld, sr_rng *r, double mean,
                        double sd) {
    /* Box-Muller, both outputs of each pair used: the k draws of all rows form one
     * stream (row-major, padding skipped), consumed two at a time. */
    double spare = 0;
    int have = 0;
    for (size_t u = 0; u < rows; u++)
        for (uint32_t f = 0; f < k; f++) {
            double z;
            if (have) {
                z = spare, have = 0;
            } else {
                double u1 = 1.0 - sr_rng_double(r), u2 = sr_rng_double(r); /* u1 in (0, 1] */
                double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
                z = rad * cos(th), spare = rad * sin(th), have = 1;
            }
            m[u * ld + f] = (float)(mean + sd * z);
        }
}

void sr__mf_init_uniform(float *m, size_t rows, uint32_t k, uint32_t ld, sr_rng *r, double lo,
                         double hi) {
    for (size_t u = 0; u < rows; u++)
        for (uint32_t f = 0; f < k; f++) m[u * ld + f] = (float)(lo + (hi - lo) * sr_rng_double(r));
}

double sr__mf_or(double p, double def) {
    return isnan(p) ? def : p;
}

int sr__mf_have_avx512(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
    return 0;
#endif
}

void sr__mf_state_free(void *state) {
    sr_mf_state *s = state;
    if (!s) return;
    if (!s->mapped) {
        sr_free(s->bu);
        sr_free(s->bi);
        sr__mf_free(s->pu);
        sr__mf_free(s->qi);
        sr__mf_free(s->yj);
    }
    sr_free(s);
}

bool sr__mf_set_views(sr_mf_state *s, const sr_trainset *ts) {
    s->P = (sr_fmat){s->pu, ts->n_users, s->k, s->ld, SR_FMAT_F32, NULL};
    s->Q = (sr_fmat){s->qi, ts->n_items, s->k, s->ld, SR_FMAT_F32, NULL};
    s->Y = (sr_fmat){s->yj, s->yj ? ts->n_items : 0, s->k, s->ld, SR_FMAT_F32, NULL};
    /* Priors for fold-in: residual variance on (every 7th of) the ratings, variance of
     * the known users' b_u and factor entries. */
    double se = 0, sb = 0, sp = 0;
    uint64_t ne = 0, nb = 0;
    for (uint32_t u = 0; u < ts->n_users; u++) {
        if (!sr_trainset_knows_user(ts, u)) continue;
        const float *p = s->pu + (size_t)u * s->ld;
        for (uint32_t f = 0; f < s->k; f++) sp += (double)p[f] * p[f];
        sb += (double)s->bu[u] * s->bu[u];
        nb++;
        for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q += 7) {
            double e;
            if (!sr__mf_estimate(s, ts, u, ts->ur_item[q], &e)) continue;
            se += (ts->ur_r[q] - e) * (ts->ur_r[q] - e);
            ne++;
        }
    }
    const double s2 = ne ? se / (double)ne : 0, vb = nb ? sb / (double)nb : 0;
    const double vp = nb ? sp / ((double)nb * s->k) : 0;
    s->fold_reg_b = s->biased && vb > 0 && s2 > 0 ? s2 / vb : 0;
    s->fold_reg_p = vp > 0 && s2 > 0 ? s2 / vp : 0;
    return isfinite(se) && isfinite(s->fold_reg_b) && isfinite(s->fold_reg_p);
}

bool sr__mf_finite(const sr_mf_state *s, const sr_trainset *ts) {
    const size_t nu = ts->n_users, ni = ts->n_items;
    return sr_all_finite_f32(s->bu, nu) && sr_all_finite_f32(s->bi, ni) &&
           sr_all_finite_f32(s->pu, nu * s->ld) && sr_all_finite_f32(s->qi, ni * s->ld) &&
           (!s->yj || sr_all_finite_f32(s->yj, ni * s->ld));
}

sr_err sr__mf_finish(sr_mf_state *s, const sr_trainset *ts, const char *algo, const char *advice,
                     sr_diag *d) {
    if (!sr__mf_finite(s, ts)) return sr_fit_diverged(d, algo, "factors", advice);
    if (!sr__mf_set_views(s, ts)) return sr_fit_diverged(d, algo, "estimates", advice);
    return SR_OK;
}

bool sr__mf_estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                     double *est) {
    const sr_mf_state *s = state;
    bool ku = sr_trainset_knows_user(ts, u), ki = sr_trainset_knows_item(ts, i);
    double e = 0;
    if (s->biased) {
        e = ts->global_mean;
        if (ku) e += s->bu[u];
        if (ki) e += s->bi[i];
    } else if (!ku || !ki) {
        return false;
    }
    if (ku && ki) {
        double dot = sr_fmat_dot2(&s->P, u, &s->Q, i);
        e += dot;
    }
    *est = e;
    return true;
}

void sr__mf_save(const void *state, const sr_trainset *ts, sr_srm_writer *w) {
    const sr_mf_state *s = state;
    sr_srm_put(w, "m.bu", SR_SRM_F32, s->bu, ts->n_users);
    sr_srm_put(w, "m.bi", SR_SRM_F32, s->bi, ts->n_items);
    sr_srm_put_factors(w, "m.pu", s->pu, ts->n_users, s->k, s->ld);
    sr_srm_put_factors(w, "m.qi", s->qi, ts->n_items, s->k, s->ld);
    if (s->yj) sr_srm_put_factors(w, "m.yj", s->yj, ts->n_items, s->k, s->ld);
    double *fold = sr_srm_writer_alloc(w, 2 * sizeof(double));
    if (fold) {
        fold[0] = s->fold_reg_b, fold[1] = s->fold_reg_p;
        sr_srm_put(w, "m.fold", SR_SRM_F64, fold, 2);
    }
}

sr_err sr__mf_load(sr_srm *r, const sr_trainset *ts, uint32_t k, int biased, bool with_y,
                   void **state, sr_diag *d) {
    *state = NULL;
    const void *bu, *bi;
    sr_fmat P, Q, Y = {0};
    sr_err e = sr_srm_get(r, "m.bu", SR_SRM_F32, ts->n_users, &bu, NULL, d);
    if (!e) e = sr_srm_get(r, "m.bi", SR_SRM_F32, ts->n_items, &bi, NULL, d);
    if (!e) e = sr_srm_get_fmat(r, "m.pu", ts->n_users, k, &P, d);
    if (!e) e = sr_srm_get_fmat(r, "m.qi", ts->n_items, k, &Q, d);
    if (!e && with_y) e = sr_srm_get_fmat(r, "m.yj", ts->n_items, k, &Y, d);
    const void *fold = NULL;
    if (!e) e = sr_srm_get(r, "m.fold", SR_SRM_F64, 2, &fold, NULL, d);
    double fr[2];
    if (!e) {
        memcpy(fr, fold, sizeof fr);
        if (!(fr[0] >= 0 && fr[1] >= 0 && fr[0] < 1e300 && fr[1] < 1e300))
            e = sr_diag_set(d, SR_E_CORRUPT, "%s: bad fold-in priors", sr_srm_path(r));
    }
    if (e) return e;
    sr_mf_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    s->k = k;
    s->ld = sr__mf_ld(k);
    s->biased = biased;
    s->bu = (float *)bu;
    s->bi = (float *)bi;
    s->P = P;
    s->Q = Q;
    s->Y = Y;
    s->fold_reg_b = fr[0];
    s->fold_reg_p = fr[1];
    s->mapped = true;
    *state = s;
    return SR_OK;
}

/* ---- fold-in ---- */

sr_mf_user *sr__mf_user_new(uint32_t m, uint32_t k, size_t n, bool with_ls) {
    sr_mf_user *u = sr_calloc(1, sizeof *u);
    if (!u) return NULL;
    u->m = m;
    u->n = n;
    u->wood = n < m;
    u->z = sr_calloc(sr__mf_ld(k), sizeof *u->z);
    bool ok = u->z != NULL;
    if (ok && with_ls) {
        size_t l = u->wood ? n : m;
        u->A = sr_mallocarray(n ? n * m : 1, sizeof *u->A);
        u->dinv = sr_mallocarray(m, sizeof *u->dinv);
        u->L = sr_mallocarray(l ? l * l : 1, sizeof *u->L);
        u->y = sr_mallocarray(n ? n : 1, sizeof *u->y);
        u->base = sr_mallocarray(n ? n : 1, sizeof *u->base);
        ok = u->A && u->dinv && u->L && u->y && u->base;
    }
    if (!ok) {
        sr__mf_user_free(u);
        return NULL;
    }
    return u;
}

void sr__mf_user_free(void *ustate) {
    sr_mf_user *u = ustate;
    if (!u) return;
    sr_free(u->z);
    sr_free(u->A);
    sr_free(u->dinv);
    sr_free(u->L);
    sr_free(u->y);
    sr_free(u->base);
    sr_free(u);
}

/* In-place Cholesky of the (m, m) symmetric positive definite A (lower triangle used):
 * A = L L^T with L in the lower triangle. False when A is not positive definite. */
static bool cholesky(double *A, size_t m) {
    for (size_t j = 0; j < m; j++) {
        double *rj = A + j * m;
        double d = rj[j];
        for (size_t q = 0; q < j; q++) d -= rj[q] * rj[q];
        if (!(d > 0)) return false;
        d = sqrt(d);
        rj[j] = d;
        for (size_t i = j + 1; i < m; i++) {
            double *ri = A + i * m;
            double v = ri[j];
            for (size_t q = 0; q < j; q++) v -= ri[q] * rj[q];
            ri[j] = v / d;
        }
    }
    return true;
}

/* Solves L L^T x = b in place (b becomes x). */
static void chol_solve(const double *L, size_t m, double *b) {
    for (size_t i = 0; i < m; i++) {
        double v = b[i];
        for (size_t q = 0; q < i; q++) v -= L[i * m + q] * b[q];
        b[i] = v / L[i * m + i];
    }
    for (size_t i = m; i-- > 0;) {
        double v = b[i];
        for (size_t q = i + 1; q < m; q++) v -= L[q * m + i] * b[q];
        b[i] = v / L[i * m + i];
    }
}

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* b <- M^-1 b (m values); w: n doubles of scratch. */
static void m_solve(const sr_mf_user *u, double *b, double *w) {
    const size_t m = u->m, n = u->n;
    if (!u->wood) {
        chol_solve(u->L, m, b);
        return;
    }
    /* M^-1 b = D^-1 b - D^-1 A^T S^-1 A D^-1 b,  S = I + A D^-1 A^T */
    for (size_t r = 0; r < m; r++) b[r] *= u->dinv[r];
    for (size_t j = 0; j < n; j++) w[j] = dot(u->A + j * m, b, m);
    chol_solve(u->L, n, w);
    for (size_t j = 0; j < n; j++) {
        const double *a = u->A + j * m;
        for (size_t r = 0; r < m; r++) b[r] -= u->dinv[r] * a[r] * w[j];
    }
}

/* a = the design row of item i: [1, q_i] when biased, else q_i (m values). */
static void design_row(const sr_mf_state *s, uint32_t i, double *a, float *tmp) {
    sr_fmat_row(&s->Q, i, tmp);
    uint32_t o = s->biased ? 1 : 0;
    if (o) a[0] = 1;
    for (uint32_t f = 0; f < s->k; f++) a[o + f] = tmp[f];
}

sr_err sr__mf_fold_in(const sr_mf_state *s, const sr_trainset *ts, double reg_b, double reg_p,
                      sr_newuser *nu, sr_diag *d) {
    nu->state = NULL;
    const uint32_t k = s->k, m = k + (s->biased ? 1 : 0);
    const size_t n = nu->n;
    sr_mf_user *u = sr__mf_user_new(m, k, n, true);
    double *rhs = sr_calloc((size_t)m + n + 1, sizeof *rhs), *w = rhs + m;
    float *tmp = sr_mallocarray(sr__mf_ld(k), sizeof *tmp);
    if (!u || !rhs || !tmp) {
        sr__mf_user_free(u);
        sr_free(rhs), sr_free(tmp);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    const double mu = ts->global_mean;
    u->inv_sqrt_n = n ? 1.0 / sqrt((double)n) : 0;
    /* SVD++'s implicit part s = n^-1/2 sum y_j, held in z until p_u is added. */
    if (s->Y.data) {
        for (size_t j = 0; j < n; j++) {
            sr_fmat_row(&s->Y, nu->items[j], tmp);
            for (uint32_t f = 0; f < k; f++) rhs[f] += tmp[f];
        }
        for (uint32_t f = 0; f < k; f++) u->z[f] = (float)(rhs[f] * u->inv_sqrt_n), rhs[f] = 0;
    }
    /* Design rows, targets, rhs = A^T y, and the ridge D. */
    for (size_t j = 0; j < n; j++) {
        const uint32_t i = nu->items[j];
        double *a = u->A + j * m;
        design_row(s, i, a, tmp);
        double y = nu->r[j];
        if (s->biased) y -= mu + s->bi[i];
        u->base[j] = y;
        if (s->Y.data) {
            double qs = 0;
            for (uint32_t f = 0; f < k; f++) qs += a[1 + f] * u->z[f];
            y -= qs;
        }
        u->y[j] = y;
        for (uint32_t r = 0; r < m; r++) rhs[r] += a[r] * y;
    }
    for (uint32_t r = 0; r < m; r++) {
        const bool b = s->biased && r == 0;
        double reg = b ? s->fold_reg_b : s->fold_reg_p;
        /* No measured prior: the SGD fixed point's n reg (n = 0: one rating's worth). */
        if (!(reg > 0)) reg = (n ? (double)n : 1.0) * (b ? reg_b : reg_p);
        u->dinv[r] = 1.0 / (reg > 0 ? reg : 1e-9);
    }
    bool ok;
    if (u->wood) { /* S = I + A D^-1 A^T, n x n */
        for (size_t a = 0; a < n; a++)
            for (size_t b = 0; b <= a; b++) {
                const double *ra = u->A + a * m, *rb = u->A + b * m;
                double v = a == b ? 1 : 0;
                for (uint32_t r = 0; r < m; r++) v += ra[r] * u->dinv[r] * rb[r];
                u->L[a * n + b] = v;
            }
        ok = cholesky(u->L, n);
    } else { /* M = D + A^T A, m x m */
        for (size_t q = 0; q < (size_t)m * m; q++) u->L[q] = 0;
        for (size_t j = 0; j < n; j++) {
            const double *a = u->A + j * m;
            for (uint32_t r = 0; r < m; r++) {
                double *row = u->L + (size_t)r * m;
                for (uint32_t c = 0; c <= r; c++) row[c] += a[r] * a[c];
            }
        }
        for (uint32_t r = 0; r < m; r++) u->L[(size_t)r * m + r] += 1.0 / u->dinv[r];
        ok = cholesky(u->L, m);
    }
    if (!ok) {
        sr__mf_user_free(u);
        sr_free(rhs), sr_free(tmp);
        return sr_diag_set(d, SR_E_INTERNAL, "fold-in: normal equations not positive definite");
    }
    m_solve(u, rhs, w);
    uint32_t o = s->biased ? 1 : 0;
    /* With no ratings b_u and p_u are 0. Unbiased, that alone would estimate 0 for every
     * song: an empty profile is a listener the model has not seen, whom predict gives
     * the global mean, so the fold-in does too (biased: mu + b_i, as predict). */
    u->add = s->biased ? (float)(mu + rhs[0]) : n ? 0.0f : (float)mu;
    for (uint32_t f = 0; f < k; f++) u->z[f] = (float)(u->z[f] + rhs[o + f]);
    sr_free(rhs), sr_free(tmp);
    nu->state = u;
    return SR_OK;
}

bool sr__mf_estimate_new(const void *state, const sr_trainset *ts, const sr_newuser *nu, uint32_t i,
                         double *est) {
    const sr_mf_state *s = state;
    const sr_mf_user *u = nu->state;
    if (!sr_trainset_knows_item(ts, i)) {
        if (!s->biased) return false;
        *est = u->add;
        return true;
    }
    *est = u->add + (s->biased ? s->bi[i] : 0.0) + sr_fmat_dot(&s->Q, i, u->z);
    return true;
}

void sr__mf_linear(const void *state, const sr_newuser *nu, sr_linear *lin) {
    const sr_mf_state *s = state;
    lin->Q = s->Q;
    lin->bias = s->biased ? s->bi : NULL;
    if (!nu) return;
    const sr_mf_user *u = nu->state;
    lin->add = u->add, lin->x = u->z;
}

void sr__mf_score_new(const void *state, const sr_trainset *ts, const sr_newuser *nu, float *out,
                      uint32_t lo, uint32_t hi) {
    const sr_mf_state *s = state;
    const sr_mf_user *u = nu->state;
    sr_fmat_scores(&s->Q, u->z, s->biased ? s->bi : NULL, u->add, out, lo, hi);
}

bool sr__mf_explain(const void *state, const sr_trainset *ts, const sr_newuser *nu, uint32_t i,
                    double *w) {
    const sr_mf_state *s = state;
    const sr_mf_user *u = nu->state;
    if (!u->A || !sr_trainset_knows_item(ts, i)) return false;
    const uint32_t m = u->m, k = s->k, o = s->biased ? 1 : 0;
    /* t (m), g (k), scratch (n): doubles; tmp (ld): floats. */
    double *t = sr_mallocarray(2 * (size_t)m + u->n + 1, sizeof *t);
    float *tmp = sr_mallocarray(sr__mf_ld(k), sizeof *tmp);
    if (!t || !tmp) {
        sr_free(t), sr_free(tmp);
        return false;
    }
    double *g = t + m, *scratch = g + k; /* g, SVD++: q_i - sum_l c_l q_l */
    /* c_j = a_i^T M^-1 a_j: the weight of y_j in a_i . x. */
    design_row(s, i, t, tmp);
    for (uint32_t f = 0; f < k; f++) g[f] = t[o + f];
    m_solve(u, t, scratch);
    for (size_t j = 0; j < nu->n; j++) {
        const double *a = u->A + j * m;
        const double c = dot(t, a, m);
        if (s->Y.data) {
            w[j] = c * u->base[j];
            for (uint32_t f = 0; f < k; f++) g[f] -= c * a[o + f];
        } else {
            w[j] = c * u->y[j];
        }
    }
    if (s->Y.data)
        for (size_t j = 0; j < nu->n; j++) {
            sr_fmat_row(&s->Y, nu->items[j], tmp);
            double v = 0;
            for (uint32_t f = 0; f < k; f++) v += g[f] * tmp[f];
            w[j] += u->inv_sqrt_n * v;
        }
    sr_free(t), sr_free(tmp);
    return true;
}

bool sr__mf_similar(const void *state, const sr_trainset *ts, uint32_t i, float *out) {
    const sr_mf_state *s = state;
    const uint64_t n = s->Q.rows;
    if (i >= n) return false;
    float *x = sr_calloc(sr__mf_ld(s->k), sizeof *x);
    if (!x) return false;
    sr_fmat_row(&s->Q, i, x);
    double nx = 0;
    for (uint32_t f = 0; f < s->k; f++) nx += (double)x[f] * x[f];
    nx = sqrt(nx);
    sr_fmat_scores(&s->Q, x, NULL, 0, out, 0, n);
    for (uint64_t j = 0; j < n; j++) {
        double nj = sqrt(sr_fmat_dot2(&s->Q, j, &s->Q, j));
        out[j] = nx > 0 && nj > 0 ? (float)(out[j] / (nx * nj)) : NAN;
    }
    sr_free(x);
    return true;
}

void sr__mf_score_user(const void *state, const sr_trainset *ts, uint32_t u, float *out,
                       uint32_t lo, uint32_t hi) {
    const sr_mf_state *s = state;
    if (!sr_trainset_knows_user(ts, u)) {
        for (uint32_t i = lo; i < hi; i++) {
            double e;
            out[i] = sr__mf_estimate(state, ts, u, i, &e) ? (float)e : NAN;
        }
        return;
    }
    float *p = sr_calloc(sr__mf_ld(s->k), sizeof *p);
    if (!p) { /* no room for the widened row: one estimate at a time */
        for (uint32_t i = lo; i < hi; i++) {
            double e;
            out[i] = sr__mf_estimate(state, ts, u, i, &e) ? (float)e : NAN;
        }
        return;
    }
    sr_fmat_row(&s->P, u, p);
    const float add = s->biased ? (float)(ts->global_mean + s->bu[u]) : 0.0f;
    sr_fmat_scores(&s->Q, p, s->biased ? s->bi : NULL, add, out, lo, hi);
    sr_free(p);
}

void sr__mf_score_users(const void *state, const sr_trainset *ts, const uint32_t *users, size_t n,
                        float *out, size_t ldo, uint32_t lo, uint32_t hi) {
    const sr_mf_state *s = state;
    const size_t ld = sr__mf_ld(s->k);
    float *X = sr_calloc(n ? n * ld : 1, sizeof *X), *add = sr_mallocarray(n ? n : 1, sizeof *add);
    bool all_known = true;
    for (size_t x = 0; x < n; x++) all_known &= sr_trainset_knows_user(ts, users[x]);
    if (!X || !add || !all_known) { /* one at a time */
        sr_free(X), sr_free(add);
        for (size_t x = 0; x < n; x++)
            sr__mf_score_user(state, ts, users[x], out + x * ldo, lo, hi);
        return;
    }
    for (size_t x = 0; x < n; x++) {
        sr_fmat_row(&s->P, users[x], X + x * ld);
        add[x] = s->biased ? (float)(ts->global_mean + s->bu[users[x]]) : 0.0f;
    }
    sr_fmat_scores_multi(&s->Q, X, n, ld, s->biased ? s->bi : NULL, add, out, ldo, lo, hi);
    sr_free(X), sr_free(add);
}
