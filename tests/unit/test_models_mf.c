/* Unit tests for the matrix-factorisation models (svd.c, svdpp.c, nmf.c).
 *
 * Hand-computed: one SGD step of a 1-factor SVD on a single rating. Trainset: user 0
 * rates item 0 with r = 4 (scale 1..5; users and items 1 unknown), so mu = 4. With
 * init_std_dev 0 and init_mean 0.5 every factor starts at 0.5; lr_all = reg_all = 0.1:
 *   biased:   dot = 0.25, e = 4 - (4 + 0 + 0 + 0.25) = -0.25
 *             b_u = b_i = 0.1 (-0.25 - 0.1 * 0)          = -0.025
 *             p_u = q_i = 0.5 + 0.1 (-0.25 * 0.5 - 0.1 * 0.5) = 0.4825
 *             est(0, 0) = 4 - 0.025 - 0.025 + 0.4825^2     = 4.18280625
 *             est(0, 1) = mu + b_u = 3.975 (unknown item: no b_i, no q_i term)
 *             est(1, 0) = mu + b_i = 3.975, est(1, 1) = mu = 4
 *   unbiased: e = 4 - 0.25 = 3.75, p_u = q_i = 0.5 + 0.1 (3.75 * 0.5 - 0.05) = 0.6825
 *             est(0, 0) = 0.6825^2 = 0.46580625; unknown user or item: impossible, so
 *             sr_model_predict gives the global mean 4.
 *
 * Reference checks: the optimised fits (SVD's AVX-512 and portable kernels, SVD++'s
 * deferred y-updates, NMF's threaded phases) are compared with literal double-precision
 * transcriptions of Surprise's loops below, started from the same initial factors (the
 * draws mf.h documents), under a tolerance.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "models/mf.h"
#include "models/model.h"
#include "util/mem.h"
#include "util/rng.h"

#include "model_helpers.h"

extern const sr_model_ops sr_model_svd, sr_model_svdpp, sr_model_nmf;

/* A trainset from triples. */
static sr_trainset *make_ts(uint32_t nu, uint32_t ni, size_t n, const uint32_t *u,
                            const uint32_t *i, const float *r, double lo, double hi) {
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(nu, ni, n, u, i, r, lo, hi, &rs), SR_OK);
    sr_trainset *ts;
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    sr_ratings_free(rs);
    return ts;
}

/* A random small matrix: each (u, i) rated with probability dens, ratings 1..5. */
static sr_trainset *random_ts(uint32_t nu, uint32_t ni, double dens, uint64_t seed) {
    uint32_t *u = malloc(sizeof *u * nu * ni), *it = malloc(sizeof *it * nu * ni);
    float *r = malloc(sizeof *r * nu * ni);
    sr_rng g;
    sr_rng_seed(&g, seed);
    size_t n = 0;
    for (uint32_t a = 0; a < nu; a++)
        for (uint32_t b = 0; b < ni; b++)
            if (sr_rng_double(&g) < dens) {
                u[n] = a, it[n] = b;
                r[n++] = (float)(1 + (a * 7 + b * 3) % 5 + (sr_rng_double(&g) < 0.2 ? 0 : 0));
            }
    sr_trainset *ts = make_ts(nu, ni, n, u, it, r, 1, 5);
    free(u), free(it), free(r);
    return ts;
}

static double train_rmse(const sr_model *m) {
    const sr_trainset *ts = m->ts;
    double se = 0;
    for (uint32_t u = 0; u < ts->n_users; u++)
        for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++) {
            double e = sr_model_predict(m, u, ts->ur_item[q]) - ts->ur_r[q];
            se += e * e;
        }
    return sqrt(se / (double)ts->n);
}

static void test_params(void **state) {
    (void)state;
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_svd, p);
    assert_int_equal(sr_model_svd.n_params, 15);
    assert_true(p[sr_params_index(&sr_model_svd, "n_factors")] == 100);
    assert_true(p[sr_params_index(&sr_model_svd, "lr_all")] == 0.005);
    assert_true(isnan(p[sr_params_index(&sr_model_svd, "reg_qi")]));
    sr_params_defaults(&sr_model_svdpp, p);
    assert_true(p[sr_params_index(&sr_model_svdpp, "n_factors")] == 20);
    assert_true(p[sr_params_index(&sr_model_svdpp, "lr_all")] == 0.007);
    assert_true(sr_params_index(&sr_model_svdpp, "reg_yj") >= 0);
    sr_params_defaults(&sr_model_nmf, p);
    assert_true(p[sr_params_index(&sr_model_nmf, "n_epochs")] == 50);
    assert_true(p[sr_params_index(&sr_model_nmf, "reg_pu")] == 0.06);
    assert_true(p[sr_params_index(&sr_model_nmf, "biased")] == 0);
    assert_ptr_equal(sr_model_svd.params, sr_model_svd.params);
    assert_string_equal(sr_model_svdpp.surprise, "SVDpp");
    assert_string_equal(sr_model_nmf.name, "nmf");
}

/* The 1-rating trainset of the header comment. */
static sr_trainset *one_rating(void) {
    const uint32_t u[] = {0}, i[] = {0};
    const float r[] = {4};
    return make_ts(2, 2, 1, u, i, r, 1, 5);
}

static void one_step(int force_scalar) {
    sr_trainset *ts = one_rating();
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_svd, p);
    set(&sr_model_svd, p, "n_factors=1");
    set(&sr_model_svd, p, "n_epochs=1");
    set(&sr_model_svd, p, "init_std_dev=0");
    set(&sr_model_svd, p, "init_mean=0.5");
    set(&sr_model_svd, p, "lr_all=0.1");
    set(&sr_model_svd, p, "reg_all=0.1");
    sr_fit_ctx c = {.seed = 1, .threads = 1};
    void *st;
    assert_int_equal(sr__svd_fit(ts, p, &c, force_scalar, &st, NULL), SR_OK);
    double e;
    assert_true(sr_model_svd.estimate(st, ts, 0, 0, &e));
    assert_float_equal(e, 4.18280625, 1e-6);
    assert_true(sr_model_svd.estimate(st, ts, 0, 1, &e));
    assert_float_equal(e, 3.975, 1e-6);
    assert_true(sr_model_svd.estimate(st, ts, 1, 0, &e));
    assert_float_equal(e, 3.975, 1e-6);
    assert_true(sr_model_svd.estimate(st, ts, 1, 1, &e));
    assert_float_equal(e, 4.0, 1e-12);
    assert_true(sr_model_svd.estimate(st, ts, 99, 99, &e)); /* outside the id space */
    assert_float_equal(e, 4.0, 1e-12);
    sr_model_svd.free(st);

    set(&sr_model_svd, p, "biased=false");
    assert_int_equal(sr__svd_fit(ts, p, &c, force_scalar, &st, NULL), SR_OK);
    assert_true(sr_model_svd.estimate(st, ts, 0, 0, &e));
    assert_float_equal(e, 0.46580625, 1e-6);
    assert_false(sr_model_svd.estimate(st, ts, 0, 1, &e));
    assert_false(sr_model_svd.estimate(st, ts, 1, 0, &e));
    sr_model_svd.free(st);

    sr_model m;
    assert_int_equal(sr_model_fit(&m, &sr_model_svd, p, ts, &c, NULL), SR_OK);
    assert_float_equal(sr_model_predict(&m, 1, 0), 4.0, 1e-12); /* impossible: the mean */
    assert_float_equal(sr_model_predict(&m, 0, 0), 1.0, 1e-12); /* clipped to the scale */
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

static void test_svd_one_step(void **state) {
    (void)state;
    one_step(0);
    one_step(1);
}

/* The fits' initial N(0, 0.1^2) draws (mf.h), as doubles. */
static void draw_normal(double *m, size_t rows, int k, sr_rng *g) {
    float *t = malloc(sizeof *t * rows * k);
    sr__mf_init_normal(t, rows, (uint32_t)k, (uint32_t)k, g, 0, 0.1);
    for (size_t x = 0; x < rows * k; x++) m[x] = t[x];
    free(t);
}

/* Surprise's SVD loop, literally, in double, from the fit's initial draws. */
static void ref_svd(const sr_trainset *ts, int k, int epochs, int biased, double lr, double reg,
                    uint64_t seed, double *bu, double *bi, double *pu, double *qi) {
    sr_rng g;
    sr_rng_seed(&g, seed);
    draw_normal(pu, ts->n_users, k, &g);
    draw_normal(qi, ts->n_items, k, &g);
    memset(bu, 0, sizeof *bu * ts->n_users);
    memset(bi, 0, sizeof *bi * ts->n_items);
    double mu = biased ? ts->global_mean : 0;
    for (int e = 0; e < epochs; e++)
        for (uint32_t u = 0; u < ts->n_users; u++)
            for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++) {
                uint32_t i = ts->ur_item[q];
                double dot = 0;
                for (int f = 0; f < k; f++) dot += qi[i * k + f] * pu[u * k + f];
                double err = ts->ur_r[q] - (mu + bu[u] + bi[i] + dot);
                if (biased) {
                    bu[u] += lr * (err - reg * bu[u]);
                    bi[i] += lr * (err - reg * bi[i]);
                }
                for (int f = 0; f < k; f++) {
                    double puf = pu[u * k + f], qif = qi[i * k + f];
                    pu[u * k + f] += lr * (err * qif - reg * puf);
                    qi[i * k + f] += lr * (err * puf - reg * qif);
                }
            }
}

static void test_svd_reference(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(30, 25, 0.3, 5);
    const int k = 20, epochs = 15;
    double *bu = malloc(sizeof *bu * 30), *bi = malloc(sizeof *bi * 25);
    double *pu = malloc(sizeof *pu * 30 * k), *qi = malloc(sizeof *qi * 25 * k);
    for (int biased = 0; biased <= 1; biased++) {
        ref_svd(ts, k, epochs, biased, 0.01, 0.05, 9, bu, bi, pu, qi);
        double p[SR_MAX_PARAMS];
        sr_params_defaults(&sr_model_svd, p);
        set(&sr_model_svd, p, "n_factors=20");
        set(&sr_model_svd, p, "n_epochs=15");
        set(&sr_model_svd, p, "lr_all=0.01");
        set(&sr_model_svd, p, "reg_all=0.05");
        if (!biased) set(&sr_model_svd, p, "biased=false");
        sr_fit_ctx c = {.seed = 9, .threads = 1};
        for (int scalar = 0; scalar <= 1; scalar++) {
            void *st;
            assert_int_equal(sr__svd_fit(ts, p, &c, scalar, &st, NULL), SR_OK);
            for (uint32_t u = 0; u < 30; u++)
                for (uint32_t i = 0; i < 25; i++) {
                    double e, ref = (biased ? ts->global_mean + bu[u] + bi[i] : 0);
                    for (int f = 0; f < k; f++) ref += pu[u * k + f] * qi[i * k + f];
                    assert_true(sr_model_svd.estimate(st, ts, u, i, &e));
                    assert_float_equal(e, ref, 1e-4);
                }
            sr_model_svd.free(st);
        }
    }
    free(bu), free(bi), free(pu), free(qi);
    sr_trainset_free(ts);
}

/* Wide factors (k > 256) take the loop-based AVX-512 kernel: it agrees with the portable
 * one. */
static void test_svd_wide(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(12, 10, 0.5, 3);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_svd, p);
    set(&sr_model_svd, p, "n_factors=300");
    set(&sr_model_svd, p, "n_epochs=5");
    sr_fit_ctx c = {.seed = 4, .threads = 1};
    void *a, *b;
    assert_int_equal(sr__svd_fit(ts, p, &c, 0, &a, NULL), SR_OK);
    assert_int_equal(sr__svd_fit(ts, p, &c, 1, &b, NULL), SR_OK);
    for (uint32_t u = 0; u < 12; u++)
        for (uint32_t i = 0; i < 10; i++) {
            double x, y;
            assert_true(sr_model_svd.estimate(a, ts, u, i, &x));
            assert_true(sr_model_svd.estimate(b, ts, u, i, &y));
            assert_float_equal(x, y, 1e-4);
        }
    sr_model_svd.free(a), sr_model_svd.free(b);
    sr_trainset_free(ts);
}

/* threads > 1: the blocked schedule is reproducible for a (seed, threads) and fits about
 * as well as the sequential order. */
static void test_svd_threads(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(50, 40, 0.4, 12);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_svd, p);
    set(&sr_model_svd, p, "n_factors=10");
    set(&sr_model_svd, p, "n_epochs=60");
    set(&sr_model_svd, p, "lr_all=0.02");
    sr_fit_ctx c1 = {.seed = 8, .threads = 1}, c3 = {.seed = 8, .threads = 3};
    sr_model a, b, m1;
    assert_int_equal(sr_model_fit(&a, &sr_model_svd, p, ts, &c3, NULL), SR_OK);
    assert_int_equal(sr_model_fit(&b, &sr_model_svd, p, ts, &c3, NULL), SR_OK);
    assert_int_equal(sr_model_fit(&m1, &sr_model_svd, p, ts, &c1, NULL), SR_OK);
    for (uint32_t u = 0; u < 50; u++)
        for (uint32_t i = 0; i < 40; i++)
            assert_true(sr_model_predict(&a, u, i) == sr_model_predict(&b, u, i));
    double r1 = train_rmse(&m1), r3 = train_rmse(&a);
    assert_true(fabs(r1 - r3) < 0.1 * r1);
    sr_model_deinit(&a), sr_model_deinit(&b), sr_model_deinit(&m1);
    sr_trainset_free(ts);
}

static void test_svd_reproducible(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(40, 30, 0.3, 11);
    sr_model a, b, c2;
    sr_fit_ctx c = {.seed = 3, .threads = 1}, c3 = {.seed = 4, .threads = 1};
    assert_int_equal(sr_model_fit(&a, &sr_model_svd, NULL, ts, &c, NULL), SR_OK);
    assert_int_equal(sr_model_fit(&b, &sr_model_svd, NULL, ts, &c, NULL), SR_OK);
    assert_int_equal(sr_model_fit(&c2, &sr_model_svd, NULL, ts, &c3, NULL), SR_OK);
    int differ = 0;
    for (uint32_t u = 0; u < 40; u++)
        for (uint32_t i = 0; i < 30; i++) {
            double x, y, z;
            sr_model_svd.estimate(a.state, ts, u, i, &x);
            sr_model_svd.estimate(b.state, ts, u, i, &y);
            sr_model_svd.estimate(c2.state, ts, u, i, &z);
            assert_true(x == y);
            differ += x != z;
        }
    assert_true(differ > 1000);
    sr_model_deinit(&a), sr_model_deinit(&b), sr_model_deinit(&c2);
    sr_trainset_free(ts);
}

/* Surprise's SVD++ loop, literally (y updated for every j in I_u at every rating). */
static void ref_svdpp(const sr_trainset *ts, int k, int epochs, double lr, double reg,
                      uint64_t seed, double *bu, double *bi, double *pu, double *qi, double *yj) {
    sr_rng g;
    sr_rng_seed(&g, seed);
    draw_normal(pu, ts->n_users, k, &g);
    draw_normal(qi, ts->n_items, k, &g);
    draw_normal(yj, ts->n_items, k, &g);
    memset(bu, 0, sizeof *bu * ts->n_users);
    memset(bi, 0, sizeof *bi * ts->n_items);
    double z[64];
    for (int e = 0; e < epochs; e++)
        for (uint32_t u = 0; u < ts->n_users; u++)
            for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++) {
                uint32_t i = ts->ur_item[q];
                uint64_t b0 = ts->user_ptr[u], b1 = ts->user_ptr[u + 1];
                double sq = sqrt((double)(b1 - b0));
                for (int f = 0; f < k; f++) z[f] = 0;
                for (uint64_t w = b0; w < b1; w++)
                    for (int f = 0; f < k; f++) z[f] += yj[ts->ur_item[w] * k + f] / sq;
                double dot = 0;
                for (int f = 0; f < k; f++) dot += qi[i * k + f] * (pu[u * k + f] + z[f]);
                double err = ts->ur_r[q] - (ts->global_mean + bu[u] + bi[i] + dot);
                bu[u] += lr * (err - reg * bu[u]);
                bi[i] += lr * (err - reg * bi[i]);
                for (int f = 0; f < k; f++) {
                    double puf = pu[u * k + f], qif = qi[i * k + f];
                    pu[u * k + f] += lr * (err * qif - reg * puf);
                    qi[i * k + f] += lr * (err * (puf + z[f]) - reg * qif);
                    for (uint64_t w = b0; w < b1; w++) {
                        double *y = &yj[ts->ur_item[w] * k + f];
                        *y += lr * (err * qif / sq - reg * *y);
                    }
                }
            }
}

static void test_svdpp_reference(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(25, 20, 0.4, 6);
    const int k = 8, epochs = 12;
    double *bu = malloc(sizeof *bu * 25), *bi = malloc(sizeof *bi * 20);
    double *pu = malloc(sizeof *pu * 25 * k), *qi = malloc(sizeof *qi * 20 * k);
    double *yj = malloc(sizeof *yj * 20 * k);
    ref_svdpp(ts, k, epochs, 0.01, 0.05, 2, bu, bi, pu, qi, yj);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_svdpp, p);
    set(&sr_model_svdpp, p, "n_factors=8");
    set(&sr_model_svdpp, p, "n_epochs=12");
    set(&sr_model_svdpp, p, "lr_all=0.01");
    set(&sr_model_svdpp, p, "reg_all=0.05");
    sr_fit_ctx c = {.seed = 2, .threads = 1};
    sr_model m;
    assert_int_equal(sr_model_fit(&m, &sr_model_svdpp, p, ts, &c, NULL), SR_OK);
    for (uint32_t u = 0; u < 25; u++) {
        uint64_t b0 = ts->user_ptr[u], b1 = ts->user_ptr[u + 1];
        for (uint32_t i = 0; i < 20; i++) {
            double ref = ts->global_mean, e;
            if (b1 > b0) ref += bu[u];
            if (ts->item_ptr[i + 1] > ts->item_ptr[i]) ref += bi[i];
            if (b1 > b0 && ts->item_ptr[i + 1] > ts->item_ptr[i])
                for (int f = 0; f < k; f++) {
                    double z = 0;
                    for (uint64_t w = b0; w < b1; w++) z += yj[ts->ur_item[w] * k + f];
                    ref += qi[i * k + f] * (pu[u * k + f] + z / sqrt((double)(b1 - b0)));
                }
            assert_true(sr_model_svdpp.estimate(m.state, ts, u, i, &e));
            assert_float_equal(e, ref, 1e-4);
        }
    }
    sr_model_deinit(&m);
    free(bu), free(bi), free(pu), free(qi), free(yj);
    sr_trainset_free(ts);
}

static void test_svdpp_trains(void **state) {
    (void)state;
    /* A tiny matrix: 6 users, 5 items, a user with no ratings (5) and an item (4). */
    const uint32_t u[] = {0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4};
    const uint32_t i[] = {0, 1, 2, 0, 3, 1, 2, 3, 0, 2, 1, 2, 3};
    const float r[] = {5, 3, 4, 4, 1, 2, 5, 2, 5, 4, 1, 3, 2};
    sr_trainset *ts = make_ts(6, 5, 13, u, i, r, 1, 5);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_svdpp, p);
    sr_fit_ctx c = {.seed = 7, .threads = 1};
    sr_model m0, m1;
    set(&sr_model_svdpp, p, "n_epochs=0");
    assert_int_equal(sr_model_fit(&m0, &sr_model_svdpp, p, ts, &c, NULL), SR_OK);
    set(&sr_model_svdpp, p, "n_epochs=100");
    set(&sr_model_svdpp, p, "lr_all=0.05");
    assert_int_equal(sr_model_fit(&m1, &sr_model_svdpp, p, ts, &c, NULL), SR_OK);
    double a = train_rmse(&m0), b = train_rmse(&m1);
    assert_true(b < 0.5 * a);
    double e;
    assert_true(sr_model_svdpp.estimate(m1.state, ts, 5, 4, &e)); /* both unknown: mu */
    assert_float_equal(e, ts->global_mean, 1e-12);
    sr_model_deinit(&m0), sr_model_deinit(&m1);
    sr_trainset_free(ts);
}

/* Surprise's NMF loop, literally, in double. */
static void ref_nmf(const sr_trainset *ts, int k, int epochs, uint64_t seed, double *pu,
                    double *qi) {
    sr_rng g;
    sr_rng_seed(&g, seed);
    size_t nu = ts->n_users, ni = ts->n_items;
    for (size_t x = 0; x < nu * k; x++) pu[x] = (float)sr_rng_double(&g);
    for (size_t x = 0; x < ni * k; x++) qi[x] = (float)sr_rng_double(&g);
    double *un = calloc(nu * k, 8), *ud = calloc(nu * k, 8);
    double *in = calloc(ni * k, 8), *id = calloc(ni * k, 8);
    for (int e = 0; e < epochs; e++) {
        memset(un, 0, nu * k * 8), memset(ud, 0, nu * k * 8);
        memset(in, 0, ni * k * 8), memset(id, 0, ni * k * 8);
        for (uint32_t u = 0; u < nu; u++)
            for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++) {
                uint32_t i = ts->ur_item[q];
                double est = 0, r = ts->ur_r[q];
                for (int f = 0; f < k; f++) est += qi[i * k + f] * pu[u * k + f];
                for (int f = 0; f < k; f++) {
                    un[u * k + f] += qi[i * k + f] * r, ud[u * k + f] += qi[i * k + f] * est;
                    in[i * k + f] += pu[u * k + f] * r, id[i * k + f] += pu[u * k + f] * est;
                }
            }
        for (uint32_t u = 0; u < nu; u++) {
            double n = (double)(ts->user_ptr[u + 1] - ts->user_ptr[u]);
            if (n > 0)
                for (int f = 0; f < k; f++)
                    pu[u * k + f] *= un[u * k + f] / (ud[u * k + f] + n * 0.06 * pu[u * k + f]);
        }
        for (uint32_t i = 0; i < ni; i++) {
            double n = (double)(ts->item_ptr[i + 1] - ts->item_ptr[i]);
            if (n > 0)
                for (int f = 0; f < k; f++)
                    qi[i * k + f] *= in[i * k + f] / (id[i * k + f] + n * 0.06 * qi[i * k + f]);
        }
    }
    free(un), free(ud), free(in), free(id);
}

static void test_nmf(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(40, 30, 0.3, 8);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_nmf, p);
    set(&sr_model_nmf, p, "n_factors=6");
    sr_fit_ctx c1 = {.seed = 5, .threads = 1}, c3 = {.seed = 5, .threads = 3};
    sr_model m0, m1, m3;
    set(&sr_model_nmf, p, "n_epochs=1");
    assert_int_equal(sr_model_fit(&m0, &sr_model_nmf, p, ts, &c1, NULL), SR_OK);
    set(&sr_model_nmf, p, "n_epochs=40");
    assert_int_equal(sr_model_fit(&m1, &sr_model_nmf, p, ts, &c1, NULL), SR_OK);
    assert_int_equal(sr_model_fit(&m3, &sr_model_nmf, p, ts, &c3, NULL), SR_OK);
    assert_true(train_rmse(&m1) < train_rmse(&m0));
    const int k = 6;
    double *pu = malloc(sizeof *pu * 40 * k), *qi = malloc(sizeof *qi * 30 * k);
    ref_nmf(ts, k, 40, 5, pu, qi);
    for (uint32_t u = 0; u < 40; u++)
        for (uint32_t i = 0; i < 30; i++) {
            double a, b, ref = 0;
            bool known = sr_trainset_knows_user(ts, u) && sr_trainset_knows_item(ts, i);
            assert_int_equal(sr_model_nmf.estimate(m1.state, ts, u, i, &a), known);
            assert_int_equal(sr_model_nmf.estimate(m3.state, ts, u, i, &b), known);
            if (!known) continue;
            assert_true(a == b); /* threads change nothing */
            assert_true(a >= 0); /* non-negative factors */
            for (int f = 0; f < k; f++) ref += pu[u * k + f] * qi[i * k + f];
            assert_float_equal(a, ref, 1e-3 * (1 + fabs(ref)));
        }
    free(pu), free(qi);
    /* biased runs and stays finite */
    set(&sr_model_nmf, p, "biased=true");
    sr_model mb;
    assert_int_equal(sr_model_fit(&mb, &sr_model_nmf, p, ts, &c3, NULL), SR_OK);
    assert_true(isfinite(train_rmse(&mb)));
    sr_model_deinit(&mb);
    set(&sr_model_nmf, p, "init_low=2");
    set(&sr_model_nmf, p, "init_high=1");
    assert_int_equal(sr_model_fit(&mb, &sr_model_nmf, p, ts, &c1, NULL), SR_E_USAGE);
    sr_model_deinit(&m0), sr_model_deinit(&m1), sr_model_deinit(&m3);
    sr_trainset_free(ts);
}

/* A fit whose parameters blow up under too large a learning rate or initial spread fails
 * with SR_E_DIVERGED and words, leaving no state — on every kernel and schedule — rather
 * than a model whose estimates fall back to the global mean unnoticed. The same models
 * with their defaults fit. Covers every rating model with learnt float parameters and a
 * user-chosen step: SVD (biased, unbiased), SVD++, biased NMF and the SGD baselines
 * (BaselineOnly, and KNNBaseline's). */
static void test_diverged_fits_fail(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(40, 30, 0.3, 8);
    static const struct {
        const char *algo, *set[3], *words;
    } cases[] = {
        {"svd", {"lr_all=1"}, "SVD diverged: factors became non-finite (try a smaller lr_all"},
        {"svd", {"init_std_dev=3"}, "SVD diverged"},
        {"svd", {"biased=false", "lr_all=1"}, "SVD diverged"},
        {"svdpp", {"lr_all=1"}, "SVDpp diverged: factors became non-finite"},
        {"nmf", {"biased=true", "lr_bu=10", "lr_bi=10"}, "NMF diverged"},
        {"baseline_only",
         {"method=sgd", "learning_rate=1", "reg=1000"},
         "BaselineOnly diverged: biases became non-finite (try a smaller learning_rate"},
        {"knn_baseline",
         {"bsl_method=sgd", "bsl_learning_rate=100"},
         "k-NN diverged: baselines became non-finite"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const sr_model_ops *ops = sr_model_find(cases[k].algo);
        assert_non_null(ops);
        double p[SR_MAX_PARAMS];
        sr_params_defaults(ops, p);
        sr_model m;
        for (int threads = 1; threads <= 3; threads += 2) {
            sr_fit_ctx c = {.seed = 3, .threads = threads};
            assert_int_equal(sr_model_fit(&m, ops, p, ts, &c, NULL), SR_OK);
            assert_true(isfinite(train_rmse(&m)));
            sr_model_deinit(&m);
        }
        for (int j = 0; j < 3 && cases[k].set[j]; j++) set(ops, p, cases[k].set[j]);
        for (int threads = 1; threads <= 3; threads += 2) {
            sr_fit_ctx c = {.seed = 3, .threads = threads};
            sr_diag d = {{0}};
            assert_int_equal(sr_model_fit(&m, ops, p, ts, &c, &d), SR_E_DIVERGED);
            assert_null(m.state);
            if (cases[k].words) assert_non_null(strstr(d.msg, cases[k].words));
        }
        if (ops == &sr_model_svd) { /* the portable kernel too */
            sr_fit_ctx c = {.seed = 3, .threads = 1};
            void *st = &st;
            assert_int_equal(sr__svd_fit(ts, p, &c, 1, &st, NULL), SR_E_DIVERGED);
            assert_null(st);
        }
    }
    sr_trainset_free(ts);
}

/* An empty profile — a listener the model has not seen — gets from fold-in what predict
 * gives a user the trainset does not know: mu + b_i when biased, the global mean when
 * unbiased (where the estimate is impossible). NMF kept its random start (no update moves
 * it without ratings), scoring songs up to 10 on a 1..10 scale. */
static void test_fold_in_empty_profile(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(40, 30, 0.3, 8);
    static const struct {
        const char *algo, *set;
    } cases[] = {{"nmf", "biased=false"},
                 {"nmf", "biased=true"},
                 {"svd", "biased=false"},
                 {"svd", "biased=true"},
                 {"svdpp", "n_factors=5"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const sr_model_ops *ops = sr_model_find(cases[k].algo);
        double p[SR_MAX_PARAMS];
        sr_params_defaults(ops, p);
        set(ops, p, cases[k].set);
        sr_model m;
        sr_fit_ctx c = {.seed = 3, .threads = 1};
        assert_int_equal(sr_model_fit(&m, ops, p, ts, &c, NULL), SR_OK);
        sr_newuser nu = {0};
        sr_diag d = {{0}};
        assert_int_equal(ops->fold_in(m.state, ts, m.p, &nu, &d), SR_OK);
        float out[30];
        ops->score_new(m.state, ts, &nu, out, 0, 30);
        for (uint32_t i = 0; i < 30; i++) {
            if (!sr_trainset_knows_item(ts, i)) continue;
            double want, got;
            if (!ops->estimate(m.state, ts, 1000, i, &want)) want = ts->global_mean;
            assert_true(ops->estimate_new(m.state, ts, &nu, i, &got));
            assert_float_equal(got, want, 1e-5);
            assert_float_equal(out[i], want, 1e-5);
        }
        ops->user_free(nu.state);
        sr_model_deinit(&m);
    }
    sr_trainset_free(ts);
}

/* NMF fold-in edges, on a hand-made 2-factor model: song 0 carries only factor 0 and
 * song 1 only factor 1 (mu = 3). One rating of song 0 (4) with reg_pu 0: p_0 goes to 4
 * after one step (4 / (p_0 . 1) times p_0), and p_1, which no rating carries, to 0 — it
 * kept its random start, whose product with song 1 was a score out of nothing. */
static void test_nmf_fold_in_edges(void **state) {
    (void)state;
    const uint32_t u[] = {0, 1}, it[] = {0, 1};
    const float r[] = {4, 2};
    sr_trainset *ts = make_ts(2, 2, 2, u, it, r, 1, 5);
    float bu[2] = {0}, bi[2] = {0};
    sr_mf_state s = {.k = 2, .ld = 16, .bu = bu, .bi = bi};
    s.pu = sr__mf_alloc(2, 16), s.qi = sr__mf_alloc(2, 16);
    assert_true(s.pu && s.qi);
    s.qi[0] = 1, s.qi[16 + 1] = 1;
    s.pu[0] = 4, s.pu[16 + 1] = 2;
    sr__mf_set_views(&s, ts);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_nmf, p);
    set(&sr_model_nmf, p, "n_factors=2");
    set(&sr_model_nmf, p, "reg_pu=0");
    const uint32_t items[] = {0};
    const float rated[] = {4};
    sr_newuser nu = {.n = 1, .items = items, .r = rated};
    sr_diag d = {{0}};
    assert_int_equal(sr_model_nmf.fold_in(&s, ts, p, &nu, &d), SR_OK);
    const sr_mf_user *fu = nu.state;
    assert_float_equal(fu->z[0], 4, 1e-5);
    assert_true(fu->z[1] == 0);
    double e;
    assert_true(sr_model_nmf.estimate_new(&s, ts, &nu, 0, &e));
    assert_float_equal(e, 4, 1e-5);
    assert_true(sr_model_nmf.estimate_new(&s, ts, &nu, 1, &e));
    assert_true(e == 0);
    sr_model_nmf.user_free(nu.state);
    /* No ratings: the global mean for both songs. */
    nu = (sr_newuser){0};
    assert_int_equal(sr_model_nmf.fold_in(&s, ts, p, &nu, &d), SR_OK);
    for (uint32_t i = 0; i < 2; i++) {
        assert_true(sr_model_nmf.estimate_new(&s, ts, &nu, i, &e));
        assert_float_equal(e, 3, 1e-6);
    }
    sr_model_nmf.user_free(nu.state);
    sr__mf_free(s.pu), sr__mf_free(s.qi);
    sr_trainset_free(ts);
}

/* Every allocation failure of a fit returns SR_E_NOMEM and leaks nothing (ASan). */
static void test_nomem(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(10, 8, 0.5, 1);
    const sr_model_ops *ops[] = {&sr_model_svd, &sr_model_svdpp, &sr_model_nmf};
    for (int o = 0; o < 3; o++) {
        for (long n = 0;; n++) {
            sr_model m;
            sr_fit_ctx c = {.seed = 1, .threads = 2};
            sr_mem_fail_after(n);
            sr_err e = sr_model_fit(&m, ops[o], NULL, ts, &c, NULL);
            sr_mem_fail_after(-1);
            if (e == SR_OK) {
                sr_model_deinit(&m);
                break;
            }
            assert_int_equal(e, SR_E_NOMEM);
            assert_null(m.state);
        }
    }
    sr_trainset_free(ts);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_svd_one_step),
        cmocka_unit_test(test_svd_reference),
        cmocka_unit_test(test_svd_wide),
        cmocka_unit_test(test_svd_threads),
        cmocka_unit_test(test_svd_reproducible),
        cmocka_unit_test(test_svdpp_reference),
        cmocka_unit_test(test_svdpp_trains),
        cmocka_unit_test(test_nmf),
        cmocka_unit_test(test_diverged_fits_fail),
        cmocka_unit_test(test_fold_in_empty_profile),
        cmocka_unit_test(test_nmf_fold_in_edges),
        cmocka_unit_test(test_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
