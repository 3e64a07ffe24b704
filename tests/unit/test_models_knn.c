/* Unit tests for models/similarity and the k-NN models (knn_basic, knn_with_means,
 * knn_with_zscore, knn_baseline): each similarity measure on two small rating vectors,
 * each model's estimate on a 4-user x 3-item example, min_k, k, the sim > 0 rule,
 * item-based neighbours, unknown users, the matrix size limit and thread-count
 * independence. Expected values are worked out by hand in the comments.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "models/knn_common.h"
#include "models/model.h"
#include "models/similarity.h"
#include "models/trainset.h"
#include "util/mem.h"

extern const sr_model_ops sr_model_knn_basic, sr_model_knn_with_means, sr_model_knn_with_zscore,
    sr_model_knn_baseline;

#define TOL 1e-6

static sr_trainset *make_ts(uint32_t n_users, uint32_t n_items, size_t n, const uint32_t *u,
                            const uint32_t *i, const float *r) {
    sr_ratings *rs = NULL;
    assert_int_equal(sr_ratings_new(n_users, n_items, n, u, i, r, 1, 5, &rs), SR_OK);
    sr_trainset *ts = NULL;
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    sr_ratings_free(rs);
    return ts;
}

/* --- similarities on two vectors ---------------------------------------------------
 * user 0: items 0, 1, 2 rated 1, 2, 3
 * user 1: items 0, 1, 2, 3 rated 2, 2, 5, 4  (item 3 is not common: it never counts)
 * Common: r = (1, 2, 3), r' = (2, 2, 5); sum r r' = 21, sum r^2 = 14, sum r'^2 = 33.
 */
static const uint32_t V_U[] = {0, 0, 0, 1, 1, 1, 1};
static const uint32_t V_I[] = {0, 1, 2, 0, 1, 2, 3};
static const float V_R[] = {1, 2, 3, 2, 2, 5, 4};

static float pair_sim(const sr_trainset *ts, sr_sim_opts o, const double *bu, const double *bi) {
    sr_sim *s = NULL;
    assert_int_equal(sr_sim_compute(ts, &o, bu, bi, 1, &s, NULL), SR_OK);
    assert_int_equal(s->n, 2);
    float v = sr_sim_get(s, 0, 1);
    assert_true(sr_sim_get(s, 1, 0) == v); /* symmetric */
    assert_true(sr_sim_get(s, 0, 0) == 1.0f && sr_sim_get(s, 1, 1) == 1.0f);
    sr_sim_free(s);
    return v;
}

static void test_sim_two_vectors(void **state) {
    (void)state;
    sr_trainset *ts = make_ts(2, 4, 7, V_U, V_I, V_R);
    sr_sim_opts o = {.user_based = true, .min_support = 1, .shrinkage = 100};

    /* cosine: 21 / sqrt(14 * 33) = 21 / sqrt(462) = 0.9770084 */
    o.measure = SR_SIM_COSINE;
    assert_float_equal(pair_sim(ts, o, NULL, NULL), 21 / sqrt(462), TOL);
    /* msd: differences -1, 0, -2 -> mean square 5/3 -> 1 / (5/3 + 1) = 3/8 */
    o.measure = SR_SIM_MSD;
    assert_float_equal(pair_sim(ts, o, NULL, NULL), 0.375, TOL);
    /* pearson over the common items: centred (-1, 0, 1) and (-1, -1, 2):
     * 3 / (sqrt 2 sqrt 6) = sqrt(3)/2 = 0.8660254; by Surprise's formula
     * (3*21 - 6*9) / sqrt((3*14 - 36)(3*33 - 81)) = 9 / sqrt(108), the same. */
    o.measure = SR_SIM_PEARSON;
    assert_float_equal(pair_sim(ts, o, NULL, NULL), sqrt(3) / 2, TOL);

    /* pearson_baseline with b_u0 = 2 - mu, b_u1 = 3 - mu, b_i = 0: the residuals are
     * (-1, 0, 1) and (-1, -1, 2), cosine sqrt(3)/2 as above; times the shrinkage
     * (3 - 1) / (3 - 1 + 100) = 2/102 -> 0.0169809; with shrinkage 0 it is sqrt(3)/2. */
    double bu[2] = {2 - ts->global_mean, 3 - ts->global_mean}, bi[4] = {0};
    o.measure = SR_SIM_PEARSON_BASELINE;
    assert_float_equal(pair_sim(ts, o, bu, bi), sqrt(3) / 2 * 2 / 102, TOL);
    o.shrinkage = 0;
    assert_float_equal(pair_sim(ts, o, bu, bi), sqrt(3) / 2, TOL);

    /* min_support above the 3 common items: 0 for every measure. */
    o.min_support = 4;
    for (int m = SR_SIM_COSINE; m <= SR_SIM_PEARSON_BASELINE; m++) {
        o.measure = (sr_sim_measure)m;
        assert_true(pair_sim(ts, o, bu, bi) == 0.0f);
    }
    sr_trainset_free(ts);
}

/* Item-based: items 0 and 2 share users 0, 1 with (1, 2) and (3, 5): msd (4 + 9)/2 =
 * 6.5 -> 1/7.5; items 0 and 3 share user 1 only, (2) vs (4): 1/(4 + 1) = 0.2, which
 * min_support 2 turns to 0; pearson on one common rating has a zero denominator: 0;
 * pearson_baseline needs 2 common ratings whatever min_support says. */
static void test_sim_item_based(void **state) {
    (void)state;
    sr_trainset *ts = make_ts(2, 5, 7, V_U, V_I, V_R);
    sr_sim_opts o = {.measure = SR_SIM_MSD, .user_based = false, .min_support = 1};
    sr_sim *s = NULL;
    assert_int_equal(sr_sim_compute(ts, &o, NULL, NULL, 1, &s, NULL), SR_OK);
    assert_int_equal(s->n, 5);
    assert_float_equal(sr_sim_get(s, 0, 2), 1 / 7.5, TOL);
    assert_float_equal(sr_sim_get(s, 3, 0), 0.2, TOL);
    assert_true(sr_sim_get(s, 4, 0) == 0.0f); /* item 4 is rated by nobody */
    assert_true(sr_sim_get(s, 4, 4) == 1.0f);
    sr_sim_free(s);

    o.min_support = 2;
    assert_int_equal(sr_sim_compute(ts, &o, NULL, NULL, 1, &s, NULL), SR_OK);
    assert_true(sr_sim_get(s, 3, 0) == 0.0f);
    assert_float_equal(sr_sim_get(s, 0, 2), 1 / 7.5, TOL);
    sr_sim_free(s);

    o.min_support = 1;
    o.measure = SR_SIM_PEARSON;
    assert_int_equal(sr_sim_compute(ts, &o, NULL, NULL, 1, &s, NULL), SR_OK);
    assert_true(sr_sim_get(s, 3, 0) == 0.0f);
    sr_sim_free(s);

    double bu[2] = {0, 0}, bi[5] = {0};
    o.measure = SR_SIM_PEARSON_BASELINE;
    o.shrinkage = 0;
    assert_int_equal(sr_sim_compute(ts, &o, bu, bi, 1, &s, NULL), SR_OK);
    assert_true(sr_sim_get(s, 3, 0) == 0.0f);
    sr_sim_free(s);
    sr_trainset_free(ts);
}

/* --- the 4-user x 3-item example -----------------------------------------------------
 *           i0  i1  i2      mean   population sd
 *   u0       5   3   -      4      1
 *   u1       4   3   4      11/3   sqrt(2)/3
 *   u2       1   5   2      8/3    sqrt(26)/3
 *   u3       5   5   5      5      0 -> overall sd
 * Global mean 42/11. Target (u0, i2); its candidates are the raters of i2: u1 (4),
 * u2 (2), u3 (5). msd similarities with u0 over i0, i1:
 *   u1: diffs (1, 0)  -> 1/2 -> 2/3;   u2: (4, -2) -> 10 -> 1/11;   u3: (0, -2) -> 2 -> 1/3
 * so sum sim = 2/3 + 1/11 + 1/3 = 12/11.
 */
static const uint32_t E_U[] = {0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3};
static const uint32_t E_I[] = {0, 1, 0, 1, 2, 0, 1, 2, 0, 1, 2};
static const float E_R[] = {5, 3, 4, 3, 4, 1, 5, 2, 5, 5, 5};

/* Fits ops on the example (plus an unrated user 4 and item 3 in the id space) with the
 * given "name=value" settings and returns its estimate for (u, i); *ok says whether it
 * was possible. */
static double est_of(const sr_model_ops *ops, uint32_t u, uint32_t i, bool *ok,
                     const char *const *set) {
    sr_trainset *ts = make_ts(5, 4, 11, E_U, E_I, E_R);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    for (; set && *set; set++) assert_int_equal(sr_params_set(ops, p, *set, NULL), SR_OK);
    sr_model m;
    sr_fit_ctx c = {.seed = 1, .threads = 2};
    assert_int_equal(sr_model_fit(&m, ops, p, ts, &c, NULL), SR_OK);
    double est = NAN;
    *ok = ops->estimate(m.state, ts, u, i, &est);
    double pred = sr_model_predict(&m, u, i);
    if (!*ok) assert_float_equal(pred, 42.0 / 11, TOL); /* predict falls back to mu */
    sr_model_deinit(&m);
    sr_trainset_free(ts);
    return est;
}

static void test_knn_basic(void **state) {
    (void)state;
    bool ok;
    /* (2/3*4 + 1/11*2 + 1/3*5) / (12/11) = (149/33) / (36/33) = 149/36 = 4.1388889 */
    assert_float_equal(est_of(&sr_model_knn_basic, 0, 2, &ok, NULL), 149.0 / 36, TOL);
    assert_true(ok);
    /* k = 2: u1 and u3: (8/3 + 5/3) / 1 = 13/3 */
    const char *k2[] = {"k=2", NULL};
    assert_float_equal(est_of(&sr_model_knn_basic, 0, 2, &ok, k2), 13.0 / 3, TOL);
    /* k = 1: u1 alone: 4 */
    const char *k1[] = {"k=1", NULL};
    assert_float_equal(est_of(&sr_model_knn_basic, 0, 2, &ok, k1), 4, TOL);
    /* min_k = 4 > the 3 neighbours: impossible (predict gives the global mean) */
    const char *mk[] = {"min_k=4", NULL};
    est_of(&sr_model_knn_basic, 0, 2, &ok, mk);
    assert_false(ok);
    /* Unknown user 4 or item 3: impossible. */
    est_of(&sr_model_knn_basic, 4, 2, &ok, NULL);
    assert_false(ok);
    est_of(&sr_model_knn_basic, 0, 3, &ok, NULL);
    assert_false(ok);
}

/* pearson with u0 over i0, i1: u1 centred (1/2, -1/2) vs (1, -1): 1; u2 (-2, 2): -1;
 * u3 constant: zero denominator, 0. Only u1 has sim > 0: the estimate is its 4, and
 * min_k = 2 makes it impossible although k = 40 candidates were looked at. */
static void test_knn_sim_positive_only(void **state) {
    (void)state;
    bool ok;
    const char *pe[] = {"name=pearson", NULL};
    assert_float_equal(est_of(&sr_model_knn_basic, 0, 2, &ok, pe), 4, TOL);
    assert_true(ok);
    const char *pe2[] = {"name=pearson", "min_k=2", NULL};
    est_of(&sr_model_knn_basic, 0, 2, &ok, pe2);
    assert_false(ok);
}

/* Item-based, target (u0, i2): candidates are u0's items i0 (5), i1 (3). msd between
 * items over u1, u2, u3: i2 (4, 2, 5) vs i0 (4, 1, 5): diffs (0, 1, 0) -> 1/3 -> 3/4;
 * vs i1 (3, 5, 5): (1, -3, 0) -> 10/3 -> 3/13.
 * (3/4*5 + 3/13*3) / (3/4 + 3/13) = (231/52) / (51/52) = 77/17 = 4.5294118 */
static void test_knn_item_based(void **state) {
    (void)state;
    bool ok;
    const char *ib[] = {"user_based=false", NULL};
    assert_float_equal(est_of(&sr_model_knn_basic, 0, 2, &ok, ib), 77.0 / 17, TOL);
    assert_true(ok);
}

static void test_knn_with_means(void **state) {
    (void)state;
    bool ok;
    /* 4 + (2/3 (4 - 11/3) + 1/11 (2 - 8/3) + 1/3 (5 - 5)) / (12/11)
     *   = 4 + (2/9 - 2/33) * 11/12 = 4 + 16/99 * 11/12 = 4 + 4/27 = 112/27 = 4.1481481 */
    assert_float_equal(est_of(&sr_model_knn_with_means, 0, 2, &ok, NULL), 112.0 / 27, TOL);
    assert_true(ok);
    /* Too few neighbours: the mean of u0 alone. */
    const char *mk[] = {"min_k=4", NULL};
    assert_float_equal(est_of(&sr_model_knn_with_means, 0, 2, &ok, mk), 4, TOL);
    assert_true(ok);
    /* Unknown item: impossible. */
    est_of(&sr_model_knn_with_means, 0, 3, &ok, NULL);
    assert_false(ok);
}

static void test_knn_with_zscore(void **state) {
    (void)state;
    bool ok;
    /* 4 + 1 * (2/3 (1/3)/(sqrt2/3) + 1/11 (-2/3)/(sqrt26/3) + 1/3 * 0/sd) / (12/11)
     *   = 4 + (sqrt2/3 - 2/(11 sqrt26)) * 11/12 = 4.3994348 (u3's residual is 0 whatever
     *   its replaced sd) */
    double want = 4 + (sqrt(2) / 3 - 2 / (11 * sqrt(26))) * 11 / 12;
    assert_float_equal(est_of(&sr_model_knn_with_zscore, 0, 2, &ok, NULL), want, TOL);
    assert_true(ok);
    const char *mk[] = {"min_k=4", NULL};
    assert_float_equal(est_of(&sr_model_knn_with_zscore, 0, 2, &ok, mk), 4, TOL);
    est_of(&sr_model_knn_with_zscore, 4, 0, &ok, NULL);
    assert_false(ok);
}

/* A zero deviation is replaced by that of all ratings. u3's is 0, and u3 rated every
 * item so it is never a target here: check the fitted values directly. All ratings
 * 5,3,4,3,4,1,5,2,5,5,5: mean 42/11, mean square 180/11, variance 180/11 - (42/11)^2 = 216/121, sd
 * sqrt(216)/11 = 1.3360853. */
static void test_zscore_overall_sigma(void **state) {
    (void)state;
    sr_trainset *ts = make_ts(5, 4, 11, E_U, E_I, E_R);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_knn_with_zscore, p);
    void *st = NULL;
    sr_fit_ctx c = {.threads = 1};
    assert_int_equal(sr_model_knn_with_zscore.fit(ts, p, &c, &st, NULL), SR_OK);
    const sr_knn *m = st;
    assert_float_equal(m->sigma[3], sqrt(216) / 11, TOL);
    assert_float_equal(m->sigma[1], sqrt(2) / 3, TOL);
    sr_model_knn_with_zscore.free(st);
    sr_trainset_free(ts);
}

/* KNNBaseline with ALS baselines, one epoch, reg_i huge and reg_u 0: the item biases
 * are ~0 (their sums divided by 1e12) and b_u = mean of (r - mu) = mean_u - mu, so
 * b_ui = mean_u and the estimate is KNNWithMeans's 112/27. */
static void test_knn_baseline(void **state) {
    (void)state;
    bool ok;
    const char *set[] = {"bsl_n_epochs=1", "bsl_reg_i=1e12", "bsl_reg_u=0", NULL};
    assert_float_equal(est_of(&sr_model_knn_baseline, 0, 2, &ok, set), 112.0 / 27, TOL);
    assert_true(ok);
    /* min_k = 4: the baseline alone, mean_u0 = 4. */
    const char *mk[] = {"bsl_n_epochs=1", "bsl_reg_i=1e12", "bsl_reg_u=0", "min_k=4", NULL};
    assert_float_equal(est_of(&sr_model_knn_baseline, 0, 2, &ok, mk), 4, TOL);
    /* Unknown item 3: mu + b_u0 = 4, never impossible. Unknown user 4 and item 3: mu. */
    assert_float_equal(est_of(&sr_model_knn_baseline, 0, 3, &ok, set), 4, TOL);
    assert_true(ok);
    assert_float_equal(est_of(&sr_model_knn_baseline, 4, 3, &ok, set), 42.0 / 11, TOL);
    assert_true(ok);
    /* Its default similarity is Surprise's default, msd, and pearson_baseline fits. */
    assert_int_equal((int)sr_model_knn_baseline.params[SR_KNN_NAME].def, SR_SIM_MSD);
    const char *pb[] = {"name=pearson_baseline", NULL};
    double e = est_of(&sr_model_knn_baseline, 0, 2, &ok, pb);
    assert_true(ok && isfinite(e));
}

/* A pseudo-random n_users x n_items trainset with about a quarter of the cells rated
 * 1..5. */
static sr_trainset *random_ts(uint32_t nu, uint32_t ni, uint64_t seed) {
    uint32_t *u = sr_mallocarray((size_t)nu * ni, sizeof *u);
    uint32_t *it = sr_mallocarray((size_t)nu * ni, sizeof *it);
    float *r = sr_mallocarray((size_t)nu * ni, sizeof *r);
    assert_true(u && it && r);
    size_t n = 0;
    for (uint32_t a = 0; a < nu; a++)
        for (uint32_t b = 0; b < ni; b++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            if ((seed >> 33) % 4) continue;
            u[n] = a, it[n] = b, r[n] = (float)(1 + (seed >> 40) % 5);
            n++;
        }
    sr_trainset *ts = make_ts(nu, ni, n, u, it, r);
    sr_free(u);
    sr_free(it);
    sr_free(r);
    return ts;
}

/* The heap selection against the naive rule (all candidates, stable sort by similarity
 * descending as heapq.nlargest, first k, keep sim > 0), for k below, around and above
 * the 256-entry stack heap; msd on few common ratings gives many exact ties. */
static void test_aggregate_vs_naive(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(1200, 8, 99); /* ~300 raters per item */
    const int ks[] = {1, 3, 40, 257, 1000};
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        double p[SR_MAX_PARAMS];
        sr_params_defaults(&sr_model_knn_basic, p);
        p[SR_KNN_K] = ks[t];
        sr_knn *m = NULL;
        sr_fit_ctx c = {.threads = 2};
        assert_int_equal(sr__knn_fit(ts, p, &c, SR_KNN_NEED_MEANS, &m, NULL), SR_OK);
        for (uint32_t x = 0; x < ts->n_users; x += 37)
            for (uint32_t y = 0; y < ts->n_items; y++) {
                sr_knn_sum got;
                assert_true(sr__knn_aggregate(m, ts, x, y, 0.5, m->mean, NULL, &got));
                /* naive */
                uint64_t a = ts->item_ptr[y], len = ts->item_ptr[y + 1] - a;
                uint32_t order[1200];
                for (uint32_t q = 0; q < len; q++) order[q] = q;
                for (uint32_t q = 1; q < len; q++) /* stable insertion sort, descending */
                    for (uint32_t w = q; w > 0; w--) {
                        float s1 = sr_sim_get(m->sim, x, ts->ir_user[a + order[w - 1]]);
                        float s2 = sr_sim_get(m->sim, x, ts->ir_user[a + order[w]]);
                        if (!(s2 > s1)) break;
                        uint32_t tmp = order[w];
                        order[w] = order[w - 1];
                        order[w - 1] = tmp;
                    }
                double num = 0, den = 0;
                int kk = 0;
                for (uint32_t q = 0; q < len && q < (uint32_t)ks[t]; q++) {
                    uint32_t nb = ts->ir_user[a + order[q]];
                    float sv = sr_sim_get(m->sim, x, nb);
                    if (!(sv > 0)) continue;
                    num += sv * (ts->ir_r[a + order[q]] - 0.5 - m->mean[nb]);
                    den += sv;
                    kk++;
                }
                assert_int_equal(got.actual_k, kk);
                assert_float_equal(got.num, num, 1e-9 * (1 + fabs(num)));
                assert_float_equal(got.den, den, 1e-9 * (1 + den));
            }
        sr__knn_free(m);
    }
    sr_trainset_free(ts);
}

/* A pseudo-random 300 x 60 trainset: the matrix is the same bit for bit with 1 and 3
 * threads, and symmetric, for every measure. */
static void test_sim_threads(void **state) {
    (void)state;
    enum { NU = 300, NI = 60 };
    sr_trainset *ts = random_ts(NU, NI, 12345);
    double bu[NU], bi[NI];
    for (int a = 0; a < NU; a++) bu[a] = (a % 7) * 0.1 - 0.3;
    for (int b = 0; b < NI; b++) bi[b] = (b % 5) * 0.1 - 0.2;
    for (int ub = 0; ub <= 1; ub++)
        for (int m = SR_SIM_COSINE; m <= SR_SIM_PEARSON_BASELINE; m++) {
            sr_sim_opts o = {(sr_sim_measure)m, ub, 2, 100};
            sr_sim *s1 = NULL, *s3 = NULL;
            assert_int_equal(sr_sim_compute(ts, &o, bu, bi, 1, &s1, NULL), SR_OK);
            assert_int_equal(sr_sim_compute(ts, &o, bu, bi, 3, &s3, NULL), SR_OK);
            assert_int_equal(s1->n, ub ? NU : NI);
            assert_memory_equal(s1->s, s3->s, (size_t)s1->n * s1->n * sizeof(float));
            for (uint32_t a = 0; a < s1->n; a++)
                for (uint32_t b = 0; b < a; b++)
                    assert_true(sr_sim_get(s1, a, b) == sr_sim_get(s1, b, a));
            sr_sim_free(s1);
            sr_sim_free(s3);
        }
    sr_trainset_free(ts);
}

/* More than 40,000 users: refused with words, nothing allocated. */
static void test_sim_too_large(void **state) {
    (void)state;
    const uint32_t u[] = {40000}, i[] = {0};
    const float r[] = {3};
    sr_trainset *ts = make_ts(40001, 1, 1, u, i, r);
    sr_sim_opts o = {.measure = SR_SIM_MSD, .user_based = true, .min_support = 1};
    sr_sim *s = (sr_sim *)1;
    sr_diag d = {{0}};
    assert_int_equal(sr_sim_compute(ts, &o, NULL, NULL, 1, &s, &d), SR_E_RANGE);
    assert_null(s);
    assert_non_null(strstr(d.msg, "40001"));
    /* Item-based over 1 item is fine. */
    o.user_based = false;
    assert_int_equal(sr_sim_compute(ts, &o, NULL, NULL, 1, &s, NULL), SR_OK);
    sr_sim_free(s);
    sr_trainset_free(ts);
}

/* Out of memory at every allocation of a fit: an error, no leak (ASan checks). */
static void test_knn_fit_nomem(void **state) {
    (void)state;
    sr_trainset *ts = make_ts(5, 4, 11, E_U, E_I, E_R);
    const sr_model_ops *all[] = {&sr_model_knn_basic, &sr_model_knn_with_means,
                                 &sr_model_knn_with_zscore, &sr_model_knn_baseline};
    for (size_t a = 0; a < 4; a++) {
        double p[SR_MAX_PARAMS];
        sr_params_defaults(all[a], p);
        p[SR_KNN_NAME] = SR_SIM_PEARSON_BASELINE;
        for (long fail = 0;; fail++) {
            void *st = NULL;
            sr_fit_ctx c = {.threads = 2};
            sr_mem_fail_after(fail);
            sr_err e = all[a]->fit(ts, p, &c, &st, NULL);
            sr_mem_fail_after(-1);
            if (e == SR_OK) {
                all[a]->free(st);
                break;
            }
            assert_int_equal(e, SR_E_NOMEM);
            assert_null(st);
        }
    }
    sr_trainset_free(ts);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_two_vectors), cmocka_unit_test(test_sim_item_based),
        cmocka_unit_test(test_knn_basic),       cmocka_unit_test(test_knn_sim_positive_only),
        cmocka_unit_test(test_knn_item_based),  cmocka_unit_test(test_knn_with_means),
        cmocka_unit_test(test_knn_with_zscore), cmocka_unit_test(test_zscore_overall_sigma),
        cmocka_unit_test(test_knn_baseline),    cmocka_unit_test(test_aggregate_vs_naive),
        cmocka_unit_test(test_sim_threads),     cmocka_unit_test(test_sim_too_large),
        cmocka_unit_test(test_knn_fit_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
