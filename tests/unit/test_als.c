/* Unit tests for ALS on implicit feedback (models/als.c, models/implicit.h).
 *
 * Confidence by hand (implicit.h): alpha 40, linear, v = 3: w = c - 1 = 120, c p = 121;
 * alpha 2, log, eps 1, v = 3: w = 2 ln 4 = 2.7725887; v = 0 or -1: w = 0 and c p = 0 (no
 * play: like an absent pair).
 *
 * The closed form: with the other side fixed, a row of ALS is the weighted ridge solution
 *     x_u = (sum_i c_ui y_i y_i^T + lambda I)^-1 sum_i c_ui p_ui y_i
 * summed over EVERY item (c = 1, p = 0 where u has no play) — computed here directly
 * from that sum, without the model's Y^T Y + Y^T (C - I) Y rewriting, and solved by
 * Gaussian elimination. The 4 x 4 matrix of play counts (users rows, songs columns):
 *     3 1 . .
 *     . 2 5 .
 *     1 . 1 4
 *     . 1 . 2
 * With iterations = 1 and the exact solver the fit is: Y = closed form against the
 * initial X (replayed from the seed: X is drawn first, N(0, 0.01^2), mf.h), then X =
 * closed form against that Y. After many iterations both sides satisfy it against the
 * other's final factors (a fixed point).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "models/implicit.h"
#include "models/mf.h"
#include "models/model.h"
#include "models/model_file.h"
#include "models/srm.h"
#include "util/mem.h"
#include "util/rng.h"

extern const sr_model_ops sr_model_als;

/* ---- data ---- */

static sr_trainset *make_ts(uint32_t nu, uint32_t ni, size_t n, const uint32_t *u,
                            const uint32_t *i, const float *r) {
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(nu, ni, n, u, i, r, 1, 1e6, &rs), SR_OK);
    sr_trainset *ts;
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    sr_ratings_free(rs);
    return ts;
}

/* The 4 x 4 matrix of the header comment. */
static const float M44[4][4] = {{3, 1, 0, 0}, {0, 2, 5, 0}, {1, 0, 1, 4}, {0, 1, 0, 2}};

static sr_trainset *ts44(void) {
    uint32_t u[16], i[16];
    float r[16];
    size_t n = 0;
    for (uint32_t a = 0; a < 4; a++)
        for (uint32_t b = 0; b < 4; b++)
            if (M44[a][b] > 0) u[n] = a, i[n] = b, r[n++] = M44[a][b];
    return make_ts(4, 4, n, u, i, r);
}

/* Random play counts: each (u, i) played with probability dens, counts 1 + Pareto-ish. */
static sr_trainset *random_ts(uint32_t nu, uint32_t ni, double dens, uint64_t seed) {
    size_t cap = (size_t)nu * ni;
    uint32_t *u = malloc(cap * sizeof *u), *it = malloc(cap * sizeof *it);
    float *r = malloc(cap * sizeof *r);
    sr_rng g;
    sr_rng_seed(&g, seed);
    size_t n = 0;
    for (uint32_t a = 0; a < nu; a++)
        for (uint32_t b = 0; b < ni; b++)
            if (sr_rng_double(&g) < dens) {
                u[n] = a, it[n] = b;
                r[n++] = (float)floor(1.0 / (1e-3 + sr_rng_double(&g)));
            }
    sr_trainset *ts = make_ts(nu, ni, n, u, it, r);
    free(u), free(it), free(r);
    return ts;
}

/* nb blocks of listeners and songs (listener a and song b in block a % nb and b % nb):
 * a pair inside a block is played with probability 0.6, across blocks 0.05, counts 1..5.
 * With k = nb factors the optimum is well posed, so fits converge to one model. */
static sr_trainset *block_ts(uint32_t nu, uint32_t ni, uint32_t nb, uint64_t seed) {
    size_t cap = (size_t)nu * ni;
    uint32_t *u = malloc(cap * sizeof *u), *it = malloc(cap * sizeof *it);
    float *r = malloc(cap * sizeof *r);
    sr_rng g;
    sr_rng_seed(&g, seed);
    size_t n = 0;
    for (uint32_t a = 0; a < nu; a++)
        for (uint32_t b = 0; b < ni; b++)
            if (sr_rng_double(&g) < (a % nb == b % nb ? 0.6 : 0.05)) {
                u[n] = a, it[n] = b;
                r[n++] = (float)(1 + (uint32_t)(sr_rng_double(&g) * 5));
            }
    sr_trainset *ts = make_ts(nu, ni, n, u, it, r);
    free(u), free(it), free(r);
    return ts;
}

static void set(double *p, const char *a) {
    sr_diag d;
    if (sr_params_set(&sr_model_als, p, a, &d)) fail_msg("%s", d.msg);
}

static void *fit_with(const sr_trainset *ts, const double *p, int threads, uint64_t seed,
                      int force_scalar) {
    sr_fit_ctx c = {.seed = seed, .threads = threads};
    sr_diag d;
    void *st = NULL;
    if (sr__als_fit(ts, p, &c, force_scalar, &st, &d)) fail_msg("%s", d.msg);
    return st;
}

static float at(const sr_fmat *m, uint32_t r, uint32_t f) {
    assert_int_equal(m->type, SR_FMAT_F32);
    return ((const float *)m->data)[(size_t)r * m->ld + f];
}

/* ---- the independent reference ---- */

/* Solves the (k, k) system A x = b by Gaussian elimination with partial pivoting (A and
 * b are overwritten; x in b). */
static void gauss(double *A, double *b, uint32_t k) {
    for (uint32_t c = 0; c < k; c++) {
        uint32_t piv = c;
        for (uint32_t r = c + 1; r < k; r++)
            if (fabs(A[r * k + c]) > fabs(A[piv * k + c])) piv = r;
        for (uint32_t q = 0; q < k; q++) {
            double t = A[c * k + q];
            A[c * k + q] = A[piv * k + q], A[piv * k + q] = t;
        }
        double t = b[c];
        b[c] = b[piv], b[piv] = t;
        for (uint32_t r = c + 1; r < k; r++) {
            double m = A[r * k + c] / A[c * k + c];
            for (uint32_t q = c; q < k; q++) A[r * k + q] -= m * A[c * k + q];
            b[r] -= m * b[c];
        }
    }
    for (uint32_t c = k; c-- > 0;) {
        double v = b[c];
        for (uint32_t q = c + 1; q < k; q++) v -= A[c * k + q] * b[q];
        b[c] = v / A[c * k + c];
    }
}

/* The closed form for row `row` of one side against the other side's factors O (n_other
 * rows, k values, stride ld): counts(row, j) gives the play count of the pair. */
typedef float (*count_fn)(const void *ctx, uint32_t row, uint32_t j);

static void closed_form(const float *O, uint32_t n_other, uint32_t k, uint32_t ld, double lambda,
                        const sr_confidence *conf, count_fn cnt, const void *ctx, uint32_t row,
                        double *x) {
    double A[16 * 16], b[16];
    assert_true(k <= 16);
    memset(A, 0, sizeof A);
    memset(b, 0, sizeof b);
    for (uint32_t j = 0; j < n_other; j++) {
        const float v = cnt(ctx, row, j);
        const double c =
            1.0 +
            (v > 0 ? conf->alpha * (conf->f == SR_CONF_LOG ? log(1.0 + v / conf->eps) : (double)v)
                   : 0.0);
        const double pref = v > 0 ? 1 : 0;
        const float *o = O + (size_t)j * ld;
        for (uint32_t f = 0; f < k; f++) {
            for (uint32_t g = 0; g < k; g++) A[f * k + g] += c * o[f] * o[g];
            b[f] += c * pref * o[f];
        }
    }
    for (uint32_t f = 0; f < k; f++) A[f * k + f] += lambda;
    gauss(A, b, k);
    memcpy(x, b, k * sizeof *x);
}

static float count_user_major(const void *ctx, uint32_t row, uint32_t j) {
    (void)ctx;
    return M44[row][j];
}
static float count_item_major(const void *ctx, uint32_t row, uint32_t j) {
    (void)ctx;
    return M44[j][row];
}

/* Play count of (u, i) in a trainset (0 when absent). */
static float ts_count(const sr_trainset *ts, uint32_t u, uint32_t i) {
    for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++)
        if (ts->ur_item[q] == i) return ts->ur_r[q];
    return 0;
}
static float ts_user_major(const void *ctx, uint32_t row, uint32_t j) {
    return ts_count(ctx, row, j);
}
static float ts_item_major(const void *ctx, uint32_t row, uint32_t j) {
    return ts_count(ctx, j, row);
}

/* Largest |a - b| / (1 + |b|) between the model's row and a reference. */
static double row_err(const sr_fmat *m, uint32_t r, const double *ref, uint32_t k) {
    double e = 0;
    for (uint32_t f = 0; f < k; f++) e = fmax(e, fabs(at(m, r, f) - ref[f]) / (1 + fabs(ref[f])));
    return e;
}

/* Every row of X (users) against the closed form given Y, and every row of Y against
 * the closed form given X; returns the largest errors. */
static void fixed_point_err(const sr_trainset *ts, const double *p, const void *st,
                            double *err_users, double *err_items, count_fn um, count_fn im,
                            const void *ctx) {
    sr_fmat X, Y;
    const double *yty;
    sr__als_views(st, &X, &Y, &yty);
    const uint32_t k = X.k;
    const sr_confidence conf = {
        .f = p[sr_params_index(&sr_model_als, "transform")] == 1 ? SR_CONF_LOG : SR_CONF_LINEAR,
        .alpha = p[sr_params_index(&sr_model_als, "alpha")],
        .eps = p[sr_params_index(&sr_model_als, "eps")],
        .cap = p[sr_params_index(&sr_model_als, "cap")]};
    const double lambda = p[sr_params_index(&sr_model_als, "regularization")];
    double x[16];
    *err_users = *err_items = 0;
    for (uint32_t u = 0; u < ts->n_users; u++) {
        closed_form(Y.data, ts->n_items, k, Y.ld, lambda, &conf, um, ctx, u, x);
        *err_users = fmax(*err_users, row_err(&X, u, x, k));
    }
    for (uint32_t i = 0; i < ts->n_items; i++) {
        closed_form(X.data, ts->n_users, k, X.ld, lambda, &conf, im, ctx, i, x);
        *err_items = fmax(*err_items, row_err(&Y, i, x, k));
    }
}

/* The objective sum_{u,i} c (p - x.y)^2 + lambda (|X|^2 + |Y|^2) over the whole matrix. */
static double objective(const sr_trainset *ts, const double *p, const void *st) {
    sr_fmat X, Y;
    const double *yty;
    sr__als_views(st, &X, &Y, &yty);
    const double alpha = p[sr_params_index(&sr_model_als, "alpha")];
    const double lambda = p[sr_params_index(&sr_model_als, "regularization")];
    double s = 0;
    for (uint32_t u = 0; u < ts->n_users; u++)
        for (uint32_t i = 0; i < ts->n_items; i++) {
            const float v = ts_count(ts, u, i);
            double dot = 0;
            for (uint32_t f = 0; f < X.k; f++) dot += (double)at(&X, u, f) * at(&Y, i, f);
            const double c = 1 + (v > 0 ? alpha * v : 0), e = (v > 0 ? 1 : 0) - dot;
            s += c * e * e;
        }
    for (uint32_t u = 0; u < ts->n_users; u++)
        for (uint32_t f = 0; f < X.k; f++) s += lambda * at(&X, u, f) * at(&X, u, f);
    for (uint32_t i = 0; i < ts->n_items; i++)
        for (uint32_t f = 0; f < X.k; f++) s += lambda * at(&Y, i, f) * at(&Y, i, f);
    return s;
}

/* ---- tests ---- */

static void test_params(void **state) {
    (void)state;
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    assert_string_equal(sr_model_als.name, "als");
    assert_string_equal(sr_model_als.surprise, "ALS");
    assert_true(sr_model_als.implicit);
    assert_true(p[sr_params_index(&sr_model_als, "factors")] == 64);
    assert_true(p[sr_params_index(&sr_model_als, "iterations")] == 15);
    assert_true(p[sr_params_index(&sr_model_als, "regularization")] == 0.01);
    assert_true(p[sr_params_index(&sr_model_als, "alpha")] == 40);
    assert_true(p[sr_params_index(&sr_model_als, "eps")] == 1);
    assert_true(p[sr_params_index(&sr_model_als, "cg_steps")] == 3);
    assert_true(p[sr_params_index(&sr_model_als, "solver")] == 0); /* cg */
    set(p, "solver=cholesky");
    assert_true(p[sr_params_index(&sr_model_als, "solver")] == 1);
    set(p, "transform=log");
    assert_true(p[sr_params_index(&sr_model_als, "transform")] == 1);
    set(p, "transform=quantile");
    assert_true(p[sr_params_index(&sr_model_als, "transform")] == SR_CONF_QUANTILE);
    set(p, "transform=bm25");
    assert_true(p[sr_params_index(&sr_model_als, "transform")] == SR_CONF_BM25);
    assert_true(p[sr_params_index(&sr_model_als, "bm25_k1")] == 1.2);
    assert_true(p[sr_params_index(&sr_model_als, "bm25_b")] == 0.75);
    assert_int_equal(sr_params_set(&sr_model_als, p, "bm25_b=1.5", NULL), SR_E_USAGE);
    set(p, "transform=log");
    assert_int_equal(sr_params_set(&sr_model_als, p, "transform=sqrt", NULL), SR_E_USAGE);
    assert_int_equal(sr_params_set(&sr_model_als, p, "factors=0", NULL), SR_E_USAGE);
    char buf[512];
    sr_params_format(&sr_model_als, p, buf, sizeof buf);
    assert_non_null(strstr(buf, "solver=cholesky"));
    assert_non_null(strstr(buf, "transform=log"));
}

static void test_confidence(void **state) {
    (void)state;
    const sr_confidence lin = {.f = SR_CONF_LINEAR, .alpha = 40, .eps = 1, .cap = 10},
                        lg = {.f = SR_CONF_LOG, .alpha = 2, .eps = 1, .cap = 10};
    assert_float_equal(sr_confidence_extra(&lin, 3), 120, 0);
    assert_float_equal(sr_confidence_target(3, 120), 121, 0);
    assert_float_equal(sr_confidence_extra(&lg, 3), 2.7725887, 1e-6);
    assert_float_equal(sr_confidence_extra(&lin, 0), 0, 0);
    assert_float_equal(sr_confidence_extra(&lg, -1), 0, 0);
    assert_float_equal(sr_confidence_target(0, 0), 0, 0);
    const sr_confidence cap = {
        .f = SR_CONF_CAP, .alpha = 2, .eps = 1, .cap = 10}; /* 2 min(v, 10) */
    assert_float_equal(sr_confidence_extra(&cap, 3), 6, 0);
    assert_float_equal(sr_confidence_extra(&cap, 37), 20, 0);
    assert_float_equal(sr_confidence_extra(&cap, 0), 0, 0);
    /* Every pair of the 4 x 4 matrix, alpha 40: by user 3 1 | 2 5 | 1 1 4 | 1 2 -> 120 40 |
     * 80 200 | 40 40 160 | 40 80; by item 3 1 | 1 2 1 | 5 1 | 4 2 -> 120 40 | 40 80 40 |
     * 200 40 | 160 80. */
    sr_trainset *ts = ts44();
    float *wu, *wi;
    assert_int_equal(sr_confidence_weights(&lin, ts, &wu, &wi), SR_OK);
    const float by_user[9] = {120, 40, 80, 200, 40, 40, 160, 40, 80};
    const float by_item[9] = {120, 40, 40, 80, 40, 200, 40, 160, 80};
    for (int q = 0; q < 9; q++) {
        assert_float_equal(wu[q], by_user[q], 0);
        assert_float_equal(wi[q], by_item[q], 0);
    }
    sr_free(wu), sr_free(wi);
    assert_int_equal(sr_confidence_weights(&lg, ts, &wu, NULL), SR_OK); /* user order only */
    assert_float_equal(wu[0], 2.7725887, 1e-6);
    sr_free(wu);
    sr_trainset_free(ts);
}

/* One iteration of the exact solver against the replayed initial X (header comment). */
static void test_one_iteration_closed_form(void **state) {
    (void)state;
    sr_trainset *ts = ts44();
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    set(p, "factors=2"), set(p, "iterations=1"), set(p, "solver=cholesky");
    set(p, "alpha=2"), set(p, "regularization=0.1");
    void *st = fit_with(ts, p, 1, 5, 0);
    sr_fmat X, Y;
    const double *yty;
    sr__als_views(st, &X, &Y, &yty);
    /* The initial X, replayed: 4 rows x 2, N(0, 0.01^2), drawn first from the seed. */
    float x0[4 * 2];
    sr_rng rng;
    sr_rng_seed(&rng, 5);
    sr__mf_init_normal(x0, 4, 2, 2, &rng, 0, 0.01);
    const sr_confidence conf = {.f = SR_CONF_LINEAR, .alpha = 2, .eps = 1, .cap = 10};
    double ref[2];
    for (uint32_t i = 0; i < 4; i++) {
        closed_form(x0, 4, 2, 2, 0.1, &conf, count_item_major, NULL, i, ref);
        assert_true(fabs(ref[0]) + fabs(ref[1]) > 0.1); /* not a trivial solution */
        if (row_err(&Y, i, ref, 2) > 1e-5)
            fail_msg("item %u: (%g, %g), closed form (%g, %g)", i, at(&Y, i, 0), at(&Y, i, 1),
                     ref[0], ref[1]);
    }
    for (uint32_t u = 0; u < 4; u++) {
        closed_form(Y.data, 4, 2, Y.ld, 0.1, &conf, count_user_major, NULL, u, ref);
        if (row_err(&X, u, ref, 2) > 1e-5)
            fail_msg("user %u: (%g, %g), closed form (%g, %g)", u, at(&X, u, 0), at(&X, u, 1),
                     ref[0], ref[1]);
    }
    /* Y^T Y kept for fold-in is that of the final Y. */
    for (uint32_t f = 0; f < 2; f++)
        for (uint32_t g = 0; g < 2; g++) {
            double s = 0;
            for (uint32_t i = 0; i < 4; i++) s += (double)at(&Y, i, f) * at(&Y, i, g);
            assert_float_equal(yty[f * 2 + g], s, 1e-6 * (1 + fabs(s)));
        }
    sr_model_als.free(st);
    sr_trainset_free(ts);
}

/* Converged, both solvers: each side is the closed form against the other; CG with as
 * many steps as factors solves each row exactly (up to rounding). */
static void test_fixed_point(void **state) {
    (void)state;
    sr_trainset *ts = ts44();
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    set(p, "factors=2"), set(p, "iterations=200"), set(p, "alpha=2");
    set(p, "regularization=0.1");
    for (int solver = 0; solver < 2; solver++) {
        set(p, solver ? "solver=cholesky" : "solver=cg");
        set(p, "cg_steps=2");
        void *st = fit_with(ts, p, 1, 1, 0);
        double eu, ei;
        fixed_point_err(ts, p, st, &eu, &ei, count_user_major, count_item_major, NULL);
        if (eu > 1e-5 || ei > 1e-4)
            fail_msg("solver %d: users off by %g, items by %g", solver, eu, ei);
        sr_model_als.free(st);
    }
    /* With the log transform too. */
    set(p, "transform=log"), set(p, "eps=0.5"), set(p, "solver=cholesky");
    void *st = fit_with(ts, p, 1, 1, 0);
    double eu, ei;
    fixed_point_err(ts, p, st, &eu, &ei, count_user_major, count_item_major, NULL);
    if (eu > 1e-5 || ei > 1e-4) fail_msg("log: users off by %g, items by %g", eu, ei);
    sr_model_als.free(st);
    sr_trainset_free(ts);
}

/* Exact ALS never increases the objective: fits of 1..8 iterations from one seed are
 * prefixes of each other. */
static void test_objective_decreases(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(12, 10, 0.3, 4);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    set(p, "factors=3"), set(p, "solver=cholesky"), set(p, "alpha=5");
    set(p, "regularization=0.5");
    double prev = INFINITY;
    for (int it = 1; it <= 8; it++) {
        char a[32];
        snprintf(a, sizeof a, "iterations=%d", it);
        set(p, a);
        void *st = fit_with(ts, p, 1, 9, 0);
        const double obj = objective(ts, p, st);
        if (!(obj <= prev * (1 + 1e-6))) fail_msg("iteration %d: %g after %g", it, obj, prev);
        prev = obj;
        sr_model_als.free(st);
    }
    sr_trainset_free(ts);
}

/* The largest score difference over all known pairs, relative to the largest score. */
static double score_gap(const sr_trainset *ts, const void *a, const void *b) {
    double gap = 0, big = 0;
    for (uint32_t u = 0; u < ts->n_users; u++)
        for (uint32_t i = 0; i < ts->n_items; i++) {
            double ea, eb;
            if (!sr_model_als.estimate(a, ts, u, i, &ea)) continue;
            assert_true(sr_model_als.estimate(b, ts, u, i, &eb));
            gap = fmax(gap, fabs(ea - eb));
            big = fmax(big, fabs(eb));
        }
    return gap / big;
}

/* CG with as many steps as factors solves each row exactly, so it follows the exact
 * solver to rounding; the default 3 steps (fewer than the 4 factors, warm-started from
 * the previous iteration) end close to it on a well-posed problem, and at about the same
 * objective on the default confidence (alpha 40, where the optimum is a flat valley that
 * 15 iterations do not reach: measured 1 % apart, scores not comparable). */
static void test_cg_vs_cholesky(void **state) {
    (void)state;
    sr_trainset *ts = block_ts(40, 32, 4, 3);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    set(p, "factors=4"), set(p, "iterations=40"), set(p, "alpha=1");
    set(p, "regularization=0.1"), set(p, "solver=cholesky");
    void *ref = fit_with(ts, p, 1, 3, 0);
    /* Users (solved last) are the closed form against the final Y; so are the items
     * against the final X once converged (300 iterations). */
    set(p, "iterations=300");
    void *conv = fit_with(ts, p, 1, 3, 0);
    double eu, ei;
    fixed_point_err(ts, p, conv, &eu, &ei, ts_user_major, ts_item_major, ts);
    if (eu > 1e-5 || ei > 1e-4) fail_msg("users off by %g, items by %g", eu, ei);
    sr_model_als.free(conv);
    set(p, "iterations=40");
    set(p, "solver=cg"), set(p, "cg_steps=4");
    void *exact = fit_with(ts, p, 1, 3, 0);
    set(p, "cg_steps=3");
    void *cg3 = fit_with(ts, p, 1, 3, 0);
    const double g4 = score_gap(ts, exact, ref), g3 = score_gap(ts, cg3, ref);
    if (g4 > 1e-4 || g3 > 1e-3) fail_msg("CG(4) off by %g, CG(3) by %g of the top score", g4, g3);
    sr_model_als.free(ref), sr_model_als.free(exact), sr_model_als.free(cg3);
    /* Defaults but k: objectives within 2 %. */
    sr_params_defaults(&sr_model_als, p);
    set(p, "factors=4"), set(p, "solver=cholesky");
    ref = fit_with(ts, p, 1, 3, 0);
    set(p, "solver=cg");
    cg3 = fit_with(ts, p, 1, 3, 0);
    const double oa = objective(ts, p, ref), ob = objective(ts, p, cg3);
    if (fabs(oa - ob) > 0.02 * oa) fail_msg("objective: exact %g, CG(3) %g", oa, ob);
    sr_model_als.free(ref), sr_model_als.free(cg3);
    sr_trainset_free(ts);
}

/* Two blocks of listeners and songs: each listener's one unplayed song of their own
 * block scores above every song of the other block. */
static void test_learns_blocks(void **state) {
    (void)state;
    uint32_t u[64], i[64];
    float r[64];
    size_t n = 0;
    for (uint32_t a = 0; a < 8; a++)
        for (uint32_t b = 0; b < 8; b++)
            if ((a < 4) == (b < 4) && b % 4 != a % 4) u[n] = a, i[n] = b, r[n++] = 1 + (a + b) % 3;
    sr_trainset *ts = make_ts(8, 8, n, u, i, r);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    set(p, "factors=2");
    void *st = fit_with(ts, p, 1, 1, 0);
    for (uint32_t a = 0; a < 8; a++) {
        const uint32_t own = (a < 4 ? 0 : 4) + a % 4;
        double e_own, e;
        assert_true(sr_model_als.estimate(st, ts, a, own, &e_own));
        for (uint32_t b = 0; b < 8; b++) {
            if ((a < 4) == (b < 4)) continue;
            assert_true(sr_model_als.estimate(st, ts, a, b, &e));
            if (!(e_own > e))
                fail_msg("user %u: own-block song %.4f, song %u %.4f", a, e_own, b, e);
        }
    }
    sr_model_als.free(st);
    sr_trainset_free(ts);
}

/* Unknown users and items have no estimate; score_user agrees with estimate on known
 * items (unknown ones are never ranked: their rows are 0); similar is a cosine. */
static void test_scores(void **state) {
    (void)state;
    /* 3 users x 4 items; user 2 and item 3 unknown. */
    const uint32_t u[] = {0, 0, 1, 1}, i[] = {0, 1, 1, 2};
    const float r[] = {2, 1, 3, 1};
    sr_trainset *ts = make_ts(3, 4, 4, u, i, r);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    set(p, "factors=3");
    void *st = fit_with(ts, p, 1, 1, 0);
    double e;
    assert_false(sr_model_als.estimate(st, ts, 2, 0, &e));
    assert_false(sr_model_als.estimate(st, ts, 0, 3, &e));
    assert_false(sr_model_als.estimate(st, ts, 9, 9, &e));
    float out[4];
    sr_model_als.score_user(st, ts, 0, out, 0, 4);
    for (uint32_t b = 0; b < 3; b++) {
        assert_true(sr_model_als.estimate(st, ts, 0, b, &e));
        assert_float_equal(out[b], e, 1e-5);
    }
    assert_true(out[3] == 0); /* unknown: not ranked (model.h); its factors are 0 */
    sr_model_als.score_user(st, ts, 2, out, 0, 4);
    for (uint32_t b = 0; b < 4; b++) assert_true(isnan(out[b]));
    assert_true(sr_model_als.similar(st, ts, 1, out));
    assert_float_equal(out[1], 1, 1e-5);
    assert_true(out[0] >= -1.0001f && out[0] <= 1.0001f);
    assert_true(isnan(out[3])); /* an unknown item's factors are 0 */
    assert_false(sr_model_als.similar(st, ts, 4, out));
    sr_model_als.free(st);
    sr_trainset_free(ts);
}

/* Fold-in of a trained user's own counts: with the exact solver, the user's trained row
 * (the same solve against the same Y and Y^T Y); with CG, close to it. score_new agrees
 * with score_user. */
static void fold_user(const void *st, const sr_trainset *ts, const double *p, uint32_t u,
                      sr_newuser *nu) {
    const uint64_t b = ts->user_ptr[u];
    nu->n = ts->user_ptr[u + 1] - b;
    nu->items = ts->ur_item + b;
    nu->r = ts->ur_r + b;
    sr_diag d;
    if (sr_model_als.fold_in(st, ts, p, nu, &d)) fail_msg("%s", d.msg);
}

static double fold_gap(const void *st, const sr_trainset *ts, const double *p) {
    double gap = 0, big = 0;
    float *a = malloc(ts->n_items * sizeof *a), *b = malloc(ts->n_items * sizeof *b);
    for (uint32_t u = 0; u < ts->n_users; u++) {
        if (!sr_trainset_knows_user(ts, u)) continue;
        sr_newuser nu;
        fold_user(st, ts, p, u, &nu);
        sr_model_als.score_user(st, ts, u, a, 0, ts->n_items);
        sr_model_als.score_new(st, ts, &nu, b, 0, ts->n_items);
        for (uint32_t i = 0; i < ts->n_items; i++) {
            if (!sr_trainset_knows_item(ts, i)) {
                assert_true(isnan(b[i])); /* score_new marks them */
                continue;
            }
            double e;
            assert_true(sr_model_als.estimate_new(st, ts, &nu, i, &e));
            assert_float_equal(e, b[i], 1e-5 * (1 + fabs(e)));
            gap = fmax(gap, fabs(a[i] - b[i]));
            big = fmax(big, fabs(a[i]));
        }
        sr_model_als.user_free(nu.state);
    }
    free(a), free(b);
    return gap / big;
}

static void test_fold_in(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(30, 25, 0.3, 6);
    double p[SR_MAX_PARAMS];
    double g;
    /* Every transform: the fold-in weighs the user's values as the fit did (bm25 with the
     * trainset's figures, quantile within the row). */
    const char *tf[] = {"transform=linear", "transform=log", "transform=cap", "transform=bm25",
                        "transform=quantile"};
    for (int t = 0; t < 5; t++) {
        sr_params_defaults(&sr_model_als, p);
        set(p, "factors=8"), set(p, "iterations=5"), set(p, "solver=cholesky");
        set(p, tf[t]);
        if (t >= 3) set(p, "alpha=20"); /* f is at most a few units there */
        void *st = fit_with(ts, p, 2, 1, 0);
        /* Every score of the folded-in user against the trained one (25 items > 8 factors:
         * equal scores mean equal rows). */
        for (uint32_t u = 0; u < ts->n_users; u++) {
            sr_newuser nu;
            fold_user(st, ts, p, u, &nu);
            for (uint32_t i = 0; i < ts->n_items; i++) {
                double a, b;
                if (!sr_model_als.estimate(st, ts, u, i, &a)) continue;
                assert_true(sr_model_als.estimate_new(st, ts, &nu, i, &b));
                if (fabs(a - b) > 1e-6 * (1 + fabs(a)))
                    fail_msg("%s user %u item %u: folded %.9g, trained %.9g", tf[t], u, i, b, a);
            }
            sr_model_als.user_free(nu.state);
        }
        g = fold_gap(st, ts, p);
        if (g > 1e-5) fail_msg("cholesky, %s: fold-in scores off by %g", tf[t], g);
        sr_model_als.free(st);
    }
    sr_trainset_free(ts);
    /* CG (3 steps, 4 factors) on a well-posed problem: the last CG solve is close to the
     * exact one. */
    ts = block_ts(40, 32, 4, 3);
    sr_params_defaults(&sr_model_als, p);
    set(p, "factors=4"), set(p, "iterations=40"), set(p, "alpha=1");
    set(p, "regularization=0.1");
    void *st = fit_with(ts, p, 2, 1, 0);
    g = fold_gap(st, ts, p);
    if (g > 1e-3) fail_msg("cg: fold-in scores off by %g", g);
    sr_model_als.free(st);
    sr_trainset_free(ts);
}

/* explain's terms sum to the score; one listened song explains the whole score. */
static void test_explain(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(30, 25, 0.3, 8);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    set(p, "factors=6"), set(p, "transform=log");
    void *st = fit_with(ts, p, 1, 2, 0);
    const uint32_t items[] = {1, 4, 7, 12, 20};
    const float cnt[] = {1, 10, 3, 0, 250}; /* a 0: no play, contributes nothing */
    sr_newuser nu = {.n = 5, .items = items, .r = cnt};
    assert_int_equal(sr_model_als.fold_in(st, ts, p, &nu, NULL), SR_OK);
    double w[5];
    for (uint32_t i = 0; i < ts->n_items; i++) {
        double e;
        if (!sr_model_als.estimate_new(st, ts, &nu, i, &e)) {
            assert_false(sr_model_als.explain(st, ts, &nu, i, w));
            continue;
        }
        assert_true(sr_model_als.explain(st, ts, &nu, i, w));
        const double sum = w[0] + w[1] + w[2] + w[3] + w[4];
        if (fabs(sum - e) > 1e-5 * (1 + fabs(e))) fail_msg("item %u: sum %g, score %g", i, sum, e);
        assert_true(w[3] == 0);
    }
    sr_model_als.user_free(nu.state);
    const uint32_t one[] = {4};
    const float c1[] = {6};
    sr_newuser n1 = {.n = 1, .items = one, .r = c1};
    assert_int_equal(sr_model_als.fold_in(st, ts, p, &n1, NULL), SR_OK);
    double e;
    assert_true(sr_model_als.estimate_new(st, ts, &n1, 9, &e));
    assert_true(sr_model_als.explain(st, ts, &n1, 9, w));
    assert_float_equal(w[0], e, 1e-6 * (1 + fabs(e)));
    sr_model_als.user_free(n1.state);
    /* No plays at all: x = 0. */
    sr_newuser n0 = {.n = 0, .items = one, .r = c1};
    assert_int_equal(sr_model_als.fold_in(st, ts, p, &n0, NULL), SR_OK);
    assert_true(sr_model_als.estimate_new(st, ts, &n0, 9, &e));
    assert_true(e == 0);
    sr_model_als.user_free(n0.state);
    sr_model_als.free(st);
    sr_trainset_free(ts);
}

/* Same factors, bit for bit, with 1, 2 and 3 threads — on a set large enough that the
 * Gram sum has several groups (9,000 items). */
static void same_state(const void *a, const void *b) {
    sr_fmat Xa, Ya, Xb, Yb;
    const double *ga, *gb;
    sr__als_views(a, &Xa, &Ya, &ga);
    sr__als_views(b, &Xb, &Yb, &gb);
    assert_memory_equal(Xa.data, Xb.data, Xa.rows * Xa.ld * sizeof(float));
    assert_memory_equal(Ya.data, Yb.data, Ya.rows * Ya.ld * sizeof(float));
    assert_memory_equal(ga, gb, (size_t)Xa.k * Xa.k * sizeof(double));
}

static void test_threads(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(40, 9000, 0.01, 3);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    set(p, "factors=20"), set(p, "iterations=3");
    for (int solver = 0; solver < 2; solver++) {
        set(p, solver ? "solver=cholesky" : "solver=cg");
        void *s1 = fit_with(ts, p, 1, 7, 0), *s2 = fit_with(ts, p, 2, 7, 0);
        void *s3 = fit_with(ts, p, 3, 7, 0);
        same_state(s1, s2);
        same_state(s1, s3);
        void *other = fit_with(ts, p, 1, 8, 0); /* another seed: another model */
        double e1, e2;
        assert_true(sr_model_als.estimate(s1, ts, 0, ts->ur_item[0], &e1));
        assert_true(sr_model_als.estimate(other, ts, 0, ts->ur_item[0], &e2));
        assert_true(e1 != e2);
        sr_model_als.free(s1), sr_model_als.free(s2), sr_model_als.free(s3);
        sr_model_als.free(other);
    }
    sr_trainset_free(ts);
}

/* The AVX-512 kernels (where the CPU has them) agree with the portable loops, for row
 * widths held in registers (k 20, 64) and not (k 136): all three kernels (CG), and the
 * Gram kernel alone (exact solver, k 20), on a problem where rounding is not amplified
 * much. */
static void test_kernels(void **state) {
    (void)state;
    sr_trainset *ts = block_ts(40, 150, 4, 5);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    set(p, "iterations=3"), set(p, "alpha=1"), set(p, "regularization=1");
    const char *ks[] = {"factors=20", "factors=64", "factors=136"};
    for (int q = 0; q < 3; q++) {
        set(p, ks[q]);
        for (int solver = 0; solver < (q == 0 ? 2 : 1); solver++) {
            set(p, solver ? "solver=cholesky" : "solver=cg");
            void *a = fit_with(ts, p, 2, 1, 0), *b = fit_with(ts, p, 2, 1, 1);
            const double g = score_gap(ts, a, b);
            if (g > 1e-3) fail_msg("%s solver %d: kernels differ by %g", ks[q], solver, g);
            sr_model_als.free(a), sr_model_als.free(b);
        }
    }
    sr_trainset_free(ts);
}

/* Model files: f32 keeps every score exactly, f16 within 0.5 % of the top score; a
 * loaded model folds in and explains like the fitted one. */
static void roundtrip(const sr_model *m, sr_srm_precision prec, double tol) {
    char path[128];
    snprintf(path, sizeof path, "/tmp/test_als_%d.srm", (int)getpid());
    const sr_model_meta meta = {
        .data_file = "t.srd", .data_meta = "{}", .transform = "raw", .created = 1};
    sr_diag d;
    if (sr_model_save(m, &meta, prec, path, &d)) fail_msg("save: %s", d.msg);
    sr_model_file *f = NULL;
    if (sr_model_load(path, &f, &d)) fail_msg("load: %s", d.msg);
    assert_ptr_equal(f->model.ops, &sr_model_als);
    assert_int_equal(f->precision, prec);
    const sr_trainset *ts = m->ts;
    double big = 0;
    for (uint32_t u = 0; u < ts->n_users; u++)
        for (uint32_t i = 0; i < ts->n_items; i++) big = fmax(big, fabs(sr_model_predict(m, u, i)));
    for (uint32_t u = 0; u <= ts->n_users; u++)
        for (uint32_t i = 0; i <= ts->n_items; i++) {
            const double a = sr_model_predict(m, u, i), b = sr_model_predict(&f->model, u, i);
            if (tol == 0 ? a != b : fabs(a - b) > tol * big)
                fail_msg("(%u, %u): %.17g before, %.17g after", u, i, a, b);
        }
    /* Fold-in on both: the same listener, the same scores (f16: close). */
    const uint64_t b0 = ts->user_ptr[2];
    sr_newuser n1 = {.n = ts->user_ptr[3] - b0, .items = ts->ur_item + b0, .r = ts->ur_r + b0};
    sr_newuser n2 = n1;
    assert_int_equal(m->ops->fold_in(m->state, m->ts, m->p, &n1, NULL), SR_OK);
    assert_int_equal(m->ops->fold_in(f->model.state, &f->ts, f->model.p, &n2, NULL), SR_OK);
    for (uint32_t i = 0; i < ts->n_items; i++) {
        double a, b;
        assert_true(m->ops->estimate_new(m->state, m->ts, &n1, i, &a));
        assert_true(m->ops->estimate_new(f->model.state, &f->ts, &n2, i, &b));
        if (fabs(a - b) > (tol == 0 ? 1e-12 : 4 * tol * big))
            fail_msg("fold-in, item %u: %.9g before, %.9g after", i, a, b);
    }
    m->ops->user_free(n1.state), m->ops->user_free(n2.state);
    sr_model_file_free(f);
    unlink(path);
}

static void test_save_load(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(20, 30, 0.3, 11);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    set(p, "factors=24");
    sr_model m;
    sr_fit_ctx c = {.seed = 1, .threads = 2};
    assert_int_equal(sr_model_fit(&m, &sr_model_als, p, ts, &c, NULL), SR_OK);
    roundtrip(&m, SR_SRM_PREC_F32, 0);
    roundtrip(&m, SR_SRM_PREC_F16, 5e-3);

    /* A file without the Gram matrix is refused. */
    char path[128];
    snprintf(path, sizeof path, "/tmp/test_als_bad_%d.srm", (int)getpid());
    sr_fmat X, Y;
    const double *yty;
    sr__als_views(m.state, &X, &Y, &yty);
    sr_srm_writer *w = sr_srm_writer_new(SR_SRM_PREC_F32);
    assert_non_null(w);
    sr_srm_put_factors(w, "m.xu", X.data, X.rows, X.k, X.ld);
    sr_srm_put_factors(w, "m.yi", Y.data, Y.rows, Y.k, Y.ld);
    assert_int_equal(sr_srm_write(w, path, NULL), SR_OK);
    sr_srm_writer_free(w);
    sr_srm *r;
    assert_int_equal(sr_srm_open(path, &r, NULL), SR_OK);
    void *st = NULL;
    sr_diag d;
    assert_int_equal(sr_model_als.load(r, ts, p, &st, &d), SR_E_CORRUPT);
    assert_null(st);
    assert_non_null(strstr(d.msg, "m.yty"));
    sr_srm_close(r);
    unlink(path);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

/* Every allocation failure of a fit or a fold-in returns SR_E_NOMEM and leaks nothing
 * (ASan). */
static void test_nomem(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(10, 8, 0.5, 1);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    set(p, "factors=5"), set(p, "iterations=2");
    for (int solver = 0; solver < 2; solver++) {
        set(p, solver ? "solver=cholesky" : "solver=cg");
        for (long n = 0;; n++) {
            sr_model m;
            sr_fit_ctx c = {.seed = 1, .threads = 2};
            sr_mem_fail_after(n);
            sr_err e = sr_model_fit(&m, &sr_model_als, p, ts, &c, NULL);
            sr_mem_fail_after(-1);
            if (e == SR_OK) {
                sr_model_deinit(&m);
                break;
            }
            assert_int_equal(e, SR_E_NOMEM);
            assert_null(m.state);
        }
    }
    void *st = fit_with(ts, p, 1, 1, 0);
    for (long n = 0;; n++) {
        sr_newuser nu;
        const uint64_t b = ts->user_ptr[1];
        nu.n = ts->user_ptr[2] - b, nu.items = ts->ur_item + b, nu.r = ts->ur_r + b;
        sr_mem_fail_after(n);
        sr_err e = sr_model_als.fold_in(st, ts, p, &nu, NULL);
        sr_mem_fail_after(-1);
        if (e == SR_OK) {
            sr_model_als.user_free(nu.state);
            break;
        }
        assert_int_equal(e, SR_E_NOMEM);
        assert_null(nu.state);
    }
    sr_model_als.free(st);
    sr_trainset_free(ts);
}

static void test_bad_params(void **state) {
    (void)state;
    sr_trainset *ts = ts44();
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    p[sr_params_index(&sr_model_als, "factors")] = 0;
    sr_model m;
    sr_diag d;
    assert_int_equal(sr_model_fit(&m, &sr_model_als, p, ts, NULL, &d), SR_E_USAGE);
    assert_null(m.state);
    sr_params_defaults(&sr_model_als, p);
    p[sr_params_index(&sr_model_als, "eps")] = 0;
    assert_int_equal(sr_model_fit(&m, &sr_model_als, p, ts, NULL, &d), SR_E_USAGE);
    /* Zero iterations: the initial factors (Y starts at 0: every score 0, Y^T Y = 0). */
    sr_params_defaults(&sr_model_als, p);
    set(p, "iterations=0"), set(p, "factors=2");
    void *st = fit_with(ts, p, 1, 1, 0);
    sr_fmat X, Y;
    const double *yty;
    sr__als_views(st, &X, &Y, &yty);
    for (int q = 0; q < 4; q++) assert_true(yty[q] == 0);
    double e;
    assert_true(sr_model_als.estimate(st, ts, 0, 0, &e));
    assert_true(e == 0);
    assert_true(at(&X, 0, 0) != 0);
    sr_model_als.free(st);
    sr_trainset_free(ts);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_confidence),
        cmocka_unit_test(test_one_iteration_closed_form),
        cmocka_unit_test(test_fixed_point),
        cmocka_unit_test(test_objective_decreases),
        cmocka_unit_test(test_cg_vs_cholesky),
        cmocka_unit_test(test_learns_blocks),
        cmocka_unit_test(test_scores),
        cmocka_unit_test(test_fold_in),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_nomem),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
