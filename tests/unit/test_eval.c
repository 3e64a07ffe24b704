/* Ratings, trainsets, parameter vectors, metrics, splits and cross-validation, checked
 * on cases small enough to work out by hand (the arithmetic is in the comments). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/cv.h"
#include "eval/search.h"
#include "util/mem.h"

/* users 0..2, items 0..2:
 *   u0: i0=4, i2=2      u1: i0=5, i1=3, i2=1      u2: i1=4
 * global mean = (4+2+5+3+1+4)/6 = 19/6 */
static sr_ratings *small(void) {
    const uint32_t u[] = {1, 0, 2, 1, 0, 1};
    const uint32_t i[] = {2, 2, 1, 0, 0, 1};
    const float r[] = {1, 2, 4, 5, 4, 3};
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(3, 3, 6, u, i, r, 1, 5, &rs), SR_OK);
    return rs;
}

static void test_trainset(void **state) {
    (void)state;
    sr_ratings *rs = small();
    sr_trainset *ts;
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    assert_int_equal(ts->n, 6);
    assert_true(fabs(ts->global_mean - 19.0 / 6) < 1e-12);
    /* u1's items ascending: 0 (5), 1 (3), 2 (1) */
    assert_int_equal(ts->user_ptr[1], 2);
    assert_int_equal(ts->user_ptr[2], 5);
    assert_int_equal(ts->ur_item[2], 0);
    assert_int_equal(ts->ur_item[4], 2);
    assert_true(ts->ur_r[2] == 5 && ts->ur_r[3] == 3 && ts->ur_r[4] == 1);
    /* item 1's users ascending: 1 (3), 2 (4) */
    assert_int_equal(ts->item_ptr[1], 2);
    assert_int_equal(ts->ir_user[2], 1);
    assert_int_equal(ts->ir_user[3], 2);
    assert_true(ts->ir_r[3] == 4);
    sr_trainset_free(ts);
    /* A trainset without u2's only rating: u2 unknown, item 1 still known (u1). */
    uint8_t take[] = {1, 1, 0, 1, 1, 1};
    assert_int_equal(sr_trainset_new(rs, take, &ts), SR_OK);
    assert_false(sr_trainset_knows_user(ts, 2));
    assert_true(sr_trainset_knows_item(ts, 1));
    assert_true(fabs(ts->global_mean - 15.0 / 5) < 1e-12);
    sr_trainset_free(ts);
    sr_ratings_free(rs);
}

static void test_metrics(void **state) {
    (void)state;
    /* errors 1, -1, 2, 0: MSE = (1+1+4+0)/4 = 1.5, RMSE = sqrt(1.5), MAE = 4/4 = 1 */
    const uint32_t u[] = {0, 0, 1, 1};
    const float r[] = {4, 2, 5, 3};
    const double est[] = {3, 3, 3, 3};
    assert_true(fabs(sr_metric_compute(SR_METRIC_MSE, 4, u, r, est) - 1.5) < 1e-12);
    assert_true(fabs(sr_metric_compute(SR_METRIC_RMSE, 4, u, r, est) - sqrt(1.5)) < 1e-12);
    assert_true(fabs(sr_metric_compute(SR_METRIC_MAE, 4, u, r, est) - 1.0) < 1e-12);
    /* FCP: user 0 truths (4, 2), estimates (3.5, 3): ordered pairs (a,b) with est_a >
     * est_b and r_a > r_b: 1 concordant; discordant (est_a >= est_b, r_a < r_b): 0.
     * user 1 truths (5, 3), estimates (2, 4): concordant 0; discordant 1 (4 >= 2, 3 < 5).
     * nc = mean(1, 0) = 0.5, nd = mean(0, 1) = 0.5: FCP = 0.5. */
    const double est2[] = {3.5, 3, 2, 4};
    assert_true(fabs(sr_metric_compute(SR_METRIC_FCP, 4, u, r, est2) - 0.5) < 1e-12);
    assert_int_equal(sr_metric_find("RMSE"), SR_METRIC_RMSE);
    assert_int_equal(sr_metric_find("nope"), -1);
}

static void test_splits(void **state) {
    (void)state;
    /* 10 ratings of 4 users. */
    uint32_t u[10], i[10];
    float r[10];
    for (int k = 0; k < 10; k++) u[k] = (uint32_t)(k % 4), i[k] = (uint32_t)k, r[k] = 3;
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(4, 10, 10, u, i, r, 1, 5, &rs), SR_OK);
    uint8_t test[10];
    /* KFold 3 over 10: folds of 4, 3, 3; each rating tested exactly once. */
    sr_split_opts o = {.kind = SR_SPLIT_KFOLD, .n_splits = 3, .seed = 7};
    int seen[10] = {0}, sizes[3];
    for (unsigned f = 0; f < 3; f++) {
        assert_int_equal(sr_split_mask(rs, &o, f, test), SR_OK);
        sizes[f] = 0;
        for (int k = 0; k < 10; k++) seen[k] += test[k], sizes[f] += test[k];
    }
    assert_int_equal(sizes[0], 4);
    assert_int_equal(sizes[1], 3);
    assert_int_equal(sizes[2], 3);
    for (int k = 0; k < 10; k++) assert_int_equal(seen[k], 1);
    /* same seed, same split; another seed, (almost surely) another */
    uint8_t again[10], other[10];
    assert_int_equal(sr_split_mask(rs, &o, 0, again), SR_OK);
    assert_int_equal(sr_split_mask(rs, &o, 0, test), SR_OK);
    assert_memory_equal(test, again, 10);
    o.seed = 8;
    assert_int_equal(sr_split_mask(rs, &o, 0, other), SR_OK);
    /* shuffle split of 0.2 -> ceil(2) = 2 test ratings */
    sr_split_opts s = {.kind = SR_SPLIT_SHUFFLE, .n_splits = 2, .test_size = 0.2, .seed = 1};
    assert_int_equal(sr_split_mask(rs, &s, 1, test), SR_OK);
    int n = 0;
    for (int k = 0; k < 10; k++) n += test[k];
    assert_int_equal(n, 2);
    /* leave-one-out: one per user (users 0, 1 have 3 ratings; 2, 3 have 2) */
    sr_split_opts l = {
        .kind = SR_SPLIT_LEAVE_ONE_OUT, .n_splits = 1, .seed = 3, .min_n_ratings = 3};
    assert_int_equal(sr_split_mask(rs, &l, 0, test), SR_OK);
    int per_user[4] = {0};
    for (int k = 0; k < 10; k++) per_user[u[k]] += test[k];
    assert_int_equal(per_user[0], 1);
    assert_int_equal(per_user[1], 1);
    assert_int_equal(per_user[2], 0);
    assert_int_equal(per_user[3], 0);
    /* time split: ratings 0..9 first heard at 1000 + 100 k; cut at 1500 -> k >= 5 test */
    rs->ts = sr_mallocarray(10, sizeof *rs->ts);
    for (int k = 0; k < 10; k++) rs->ts[k] = (uint32_t)(1000 + 100 * k);
    rs->ts[9] = 0; /* unknown time: trains */
    sr_split_opts ts = {.kind = SR_SPLIT_TIME, .time_cut = 1500};
    assert_int_equal(sr_split_count(&ts), 1);
    assert_int_equal(sr_split_mask(rs, &ts, 0, test), SR_OK);
    for (int k = 0; k < 10; k++) assert_int_equal(test[k], k >= 5 && k != 9);
    ts.time_cut = 99999; /* nothing after the cut: refused */
    assert_int_equal(sr_split_mask(rs, &ts, 0, test), SR_E_RANGE);
    sr_ratings_free(rs);
}

/* A test model: predicts its parameter "bias" plus the trainset mean; impossible for
 * unknown users. */
typedef struct {
    double bias;
} mean_state;
static sr_err mean_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **st,
                       sr_diag *d) {
    (void)ts, (void)c, (void)d;
    mean_state *m = sr_malloc(sizeof *m);
    if (!m) return SR_E_NOMEM;
    m->bias = p[0];
    *st = m;
    return SR_OK;
}
static bool mean_est(const void *st, const sr_trainset *ts, uint32_t u, uint32_t i, double *e) {
    (void)i;
    if (!sr_trainset_knows_user(ts, u)) return false;
    *e = ts->global_mean + ((const mean_state *)st)->bias;
    return true;
}
static void mean_free(void *st) {
    sr_free(st);
}
static const sr_param_def mean_params[] = {
    {"bias", SR_PARAM_REAL, 0, -10, 10, NULL, "added to the mean"},
    {"mode", SR_PARAM_CHOICE, 0, 0, 2, "a|b|c", "a choice"},
    {"flag", SR_PARAM_BOOL, 1, 0, 1, NULL, "a flag"},
};
static const sr_model_ops mean_ops = {.name = "mean",
                                      .surprise = "Mean",
                                      .summary = "test",
                                      .params = mean_params,
                                      .n_params = 3,
                                      .fit = mean_fit,
                                      .estimate = mean_est,
                                      .free = mean_free};

static void test_params(void **state) {
    (void)state;
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&mean_ops, p);
    sr_diag d;
    assert_int_equal(sr_params_set(&mean_ops, p, "bias=2.5", &d), SR_OK);
    assert_true(p[0] == 2.5);
    assert_int_equal(sr_params_set(&mean_ops, p, "mode=c", &d), SR_OK);
    assert_true(p[1] == 2);
    assert_int_equal(sr_params_set(&mean_ops, p, "flag=false", &d), SR_OK);
    assert_true(p[2] == 0);
    assert_int_equal(sr_params_set(&mean_ops, p, "bias=99", &d), SR_E_USAGE);
    assert_int_equal(sr_params_set(&mean_ops, p, "mode=z", &d), SR_E_USAGE);
    assert_int_equal(sr_params_set(&mean_ops, p, "colour=1", &d), SR_E_USAGE);
    assert_non_null(strstr(d.msg, "bias"));
    char buf[128];
    sr_params_format(&mean_ops, p, buf, sizeof buf);
    assert_string_equal(buf, "bias=2.5,mode=c,flag=false");
}

static void test_predict_clips_and_defaults(void **state) {
    (void)state;
    sr_ratings *rs = small();
    sr_trainset *ts;
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    sr_model m;
    double p[SR_MAX_PARAMS] = {5, 0, 1};
    assert_int_equal(sr_model_fit(&m, &mean_ops, p, ts, NULL, NULL), SR_OK);
    assert_true(sr_model_predict(&m, 0, 0) == 5.0); /* 19/6 + 5 clipped to 5 */
    sr_model_deinit(&m);
    sr_trainset_free(ts);
    uint8_t take[] = {1, 1, 0, 1, 1, 1}; /* u2 unknown -> global mean 3 (unclipped) */
    assert_int_equal(sr_trainset_new(rs, take, &ts), SR_OK);
    p[0] = 0;
    assert_int_equal(sr_model_fit(&m, &mean_ops, p, ts, NULL, NULL), SR_OK);
    assert_true(sr_model_predict(&m, 2, 1) == 3.0);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
    sr_ratings_free(rs);
}

/* 10 users x 20 songs, 200 ratings: all 4 except every 4th, which is 2. */
static sr_ratings *ratings_200(void) {
    enum { N = 200 };
    uint32_t u[N], i[N];
    float r[N];
    for (int k = 0; k < N; k++)
        u[k] = (uint32_t)(k % 10), i[k] = (uint32_t)(k / 10), r[k] = k % 4 ? 4 : 2;
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(10, 20, N, u, i, r, 1, 5, &rs), SR_OK);
    return rs;
}

static void test_cross_validate(void **state) {
    (void)state;
    /* 200 ratings, all 4 except every 4th which is 2: the mean model's RMSE is known
     * to be about sqrt(E[(r - mean)^2]) with mean ~3.5: sqrt(0.75*0.25+0.25*2.25)=0.866 */
    sr_ratings *rs = ratings_200();
    double p[SR_MAX_PARAMS] = {0, 0, 1};
    sr_cv_opts o = {.split = {.kind = SR_SPLIT_KFOLD, .n_splits = 5, .seed = 1}, .threads = 1};
    sr_cv_result a, b;
    sr_diag d;
    assert_int_equal(sr_cross_validate(rs, &mean_ops, p, &o, &a, &d), SR_OK);
    assert_int_equal(a.n_folds, 5);
    assert_true(fabs(a.mean[SR_METRIC_RMSE] - 0.866) < 0.05);
    for (unsigned f = 0; f < 5; f++) assert_int_equal(a.folds[f].n_test, 40);
    o.threads = 3; /* same numbers with folds in parallel */
    assert_int_equal(sr_cross_validate(rs, &mean_ops, p, &o, &b, &d), SR_OK);
    for (unsigned f = 0; f < 5; f++)
        assert_true(a.folds[f].metric[SR_METRIC_RMSE] == b.folds[f].metric[SR_METRIC_RMSE]);
    sr_cv_result_deinit(&a);
    sr_cv_result_deinit(&b);
    sr_ratings_free(rs);
}

static void test_finite_checks(void **state) {
    (void)state;
    float f[40] = {0};
    double g[40] = {0};
    for (int k = 0; k < 40; k++) f[k] = (float)(k - 20) * 1e37f, g[k] = (k - 20) * 1e306;
    assert_true(sr_all_finite_f32(f, 40));
    assert_true(sr_all_finite_f64(g, 40));
    assert_true(sr_all_finite_f32(f, 0));
    f[33] = INFINITY, g[7] = -INFINITY;
    assert_false(sr_all_finite_f32(f, 40));
    assert_false(sr_all_finite_f64(g, 40));
    assert_true(sr_all_finite_f32(f, 33)); /* only the first n are read */
    f[33] = 0, g[7] = NAN;
    assert_true(sr_all_finite_f32(f, 40));
    assert_false(sr_all_finite_f64(g, 40));
    sr_diag d = {{0}};
    assert_int_equal(sr_fit_diverged(&d, "SVD", "factors", "a smaller lr_all"), SR_E_DIVERGED);
    assert_string_equal(d.msg, "SVD diverged: factors became non-finite (try a smaller lr_all)");
    /* A usage-or-input kind of exit code (2), not an internal error (5). */
    assert_int_equal(sr_err_exit_code(SR_E_DIVERGED), 2);
}

/* The mean model, except that a bias above 5 "diverges" and one below -5 runs out of
 * memory: a configuration's own failure and one that stops a search. */
static sr_err fragile_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **st,
                          sr_diag *d) {
    if (p[0] > 5) return sr_fit_diverged(d, "Fragile", "factors", "a smaller bias");
    if (p[0] < -5) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    return mean_fit(ts, p, c, st, d);
}
static const sr_model_ops fragile_ops = {.name = "fragile",
                                         .surprise = "Fragile",
                                         .summary = "test",
                                         .params = mean_params,
                                         .n_params = 3,
                                         .fit = fragile_fit,
                                         .estimate = mean_est,
                                         .free = mean_free};

/* Runs a search of fragile_ops over the biases b[0..n) (2 folds, `threads`). */
static sr_err search_biases(const sr_ratings *rs, const double *b, size_t n, unsigned threads,
                            sr_search_result *out, sr_diag *d) {
    double c[8 * SR_MAX_PARAMS] = {0};
    for (size_t j = 0; j < n; j++) c[j * SR_MAX_PARAMS] = b[j], c[j * SR_MAX_PARAMS + 2] = 1;
    sr_cv_opts o = {.split = {.kind = SR_SPLIT_KFOLD, .n_splits = 2, .seed = 1},
                    .threads = threads};
    return sr_search_run(rs, &fragile_ops, c, n, &o, SR_METRIC_RMSE, out, d);
}

static void test_search_failed_configs(void **state) {
    (void)state;
    sr_ratings *rs = ratings_200();
    for (unsigned threads = 1; threads <= 4; threads += 3) {
        /* Two of four diverge: recorded, not ranked, never the best; the others ranked
         * (bias 0 beats 1 on ratings of mean 3.5). */
        const double b[] = {1, 7, 0, 8};
        sr_search_result res;
        sr_diag d = {{0}};
        assert_int_equal(search_biases(rs, b, 4, threads, &res, &d), SR_OK);
        assert_int_equal(res.n, 4);
        assert_int_equal(res.n_failed, 2);
        assert_int_equal(res.best, 2);
        const size_t want[] = {2, 0, 1, 3}; /* failed ones last, in configuration order */
        for (size_t q = 0; q < 4; q++) assert_int_equal(res.rank[q], want[q]);
        for (size_t j = 0; j < 4; j++) {
            const sr_search_row *R = &res.rows[j];
            assert_true(R->p[0] == b[j]);
            if (b[j] > 5) {
                assert_int_equal(R->err, SR_E_DIVERGED);
                assert_non_null(strstr(R->why, "Fragile diverged"));
                assert_true(isnan(R->mean[SR_METRIC_RMSE]) && isnan(R->fit_mean));
            } else {
                assert_int_equal(R->err, SR_OK);
                assert_null(R->why);
                assert_true(R->mean[SR_METRIC_RMSE] > 0 && R->mean[SR_METRIC_RMSE] < 2);
            }
        }
        sr_search_result_deinit(&res);
        /* All diverge: an error, with the first configuration's words. */
        const double all[] = {9, 6};
        assert_int_equal(search_biases(rs, all, 2, threads, &res, &d), SR_E_DIVERGED);
        assert_non_null(strstr(d.msg, "all 2 configurations failed"));
        assert_non_null(strstr(d.msg, "Fragile diverged"));
        assert_null(res.rows);
        /* Running out of memory is not the configuration's fault: it stops the search. */
        const double oom[] = {0, -7, 1};
        assert_int_equal(search_biases(rs, oom, 3, threads, &res, &d), SR_E_NOMEM);
        assert_null(res.rows);
    }
    sr_ratings_free(rs);
}

/* sr_split_check: what each split needs of the data, said before any split is made. Ten
 * ratings first heard a day apart from 2017-07-14T02:40:00Z (Unix 1500000000). */
static void test_split_check(void **state) {
    (void)state;
    uint32_t u[10], i[10];
    float r[10];
    for (int k = 0; k < 10; k++) u[k] = (uint32_t)(k % 4), i[k] = (uint32_t)k, r[k] = 3;
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(4, 10, 10, u, i, r, 1, 5, &rs), SR_OK);
    sr_diag d = {{0}};
    uint8_t test[10];
    /* K-fold: 2..n folds; fewer is a usage error, more than the ratings the data's. */
    sr_split_opts k = {.kind = SR_SPLIT_KFOLD, .n_splits = 10};
    assert_int_equal(sr_split_check(rs, &k, &d), SR_OK);
    k.n_splits = 11;
    assert_int_equal(sr_split_check(rs, &k, &d), SR_E_RANGE);
    assert_string_equal(d.msg, "--cv 11 asks for more folds than there are ratings (10): every "
                               "fold needs at least one; use at most --cv 10");
    assert_int_equal(sr_split_mask(rs, &k, 0, test), SR_E_RANGE);
    k.kind = SR_SPLIT_REPEATED_KFOLD, k.n_repeats = 2;
    assert_int_equal(sr_split_check(rs, &k, &d), SR_E_RANGE);
    k.n_splits = 1;
    assert_int_equal(sr_split_check(rs, &k, &d), SR_E_USAGE);
    assert_non_null(strstr(d.msg, "--cv 1: K-fold needs at least 2 folds"));
    /* Shuffle: a test part that leaves something to train on (0.95 of 10: ceil 10). */
    sr_split_opts s = {.kind = SR_SPLIT_SHUFFLE, .n_splits = 1, .test_size = 9};
    assert_int_equal(sr_split_check(rs, &s, &d), SR_OK);
    s.test_size = 0.95;
    assert_int_equal(sr_split_check(rs, &s, &d), SR_E_RANGE);
    assert_string_equal(d.msg, "--test-size 0.95 would test 10 of the 10 ratings: nothing would "
                               "be left to train on");
    s.test_size = 1e30; /* no overflow on the way */
    assert_int_equal(sr_split_check(rs, &s, &d), SR_E_RANGE);
    assert_int_equal(sr_split_mask(rs, &s, 0, test), SR_E_RANGE);
    /* Leave-one-out asks nothing of the data. */
    sr_split_opts l = {.kind = SR_SPLIT_LEAVE_ONE_OUT, .n_splits = 1};
    assert_int_equal(sr_split_check(rs, &l, &d), SR_OK);
    /* Time: the cut is needed, then listen times, then a pair on each side. */
    sr_split_opts t = {.kind = SR_SPLIT_TIME, .time_cut = SR_SPLIT_NO_CUT};
    assert_int_equal(sr_split_check(rs, &t, &d), SR_E_USAGE);
    assert_non_null(strstr(d.msg, "--split time needs --test-after DATE"));
    t.time_cut = 1500000000 + 3 * 86400;
    assert_int_equal(sr_split_check(rs, &t, &d), SR_E_INPUT); /* no times at all */
    rs->ts = sr_calloc(10, sizeof *rs->ts);
    assert_int_equal(sr_split_check(rs, &t, &d), SR_E_INPUT); /* every time unknown */
    assert_non_null(strstr(d.msg, "needs listen times"));
    for (int q = 0; q < 9; q++) rs->ts[q] = 1500000000u + 86400u * (uint32_t)q;
    assert_int_equal(sr_split_check(rs, &t, &d), SR_OK);
    assert_int_equal(sr_split_mask(rs, &t, 0, test), SR_OK);
    t.time_cut = 1501545600; /* 2017-08-01: after the last */
    assert_int_equal(sr_split_check(rs, &t, &d), SR_E_RANGE);
    assert_string_equal(d.msg, "--test-after 2017-08-01 is after the last rating "
                               "(2017-07-22T02:40:00Z): the test set would be empty (ratings "
                               "first heard from 2017-07-14T02:40:00Z to 2017-07-22T02:40:00Z)");
    t.time_cut = 1500000000; /* the first one's second: the pair of unknown time trains */
    assert_int_equal(sr_split_check(rs, &t, &d), SR_OK);
    rs->ts[9] = 1500000000u + 9u * 86400u; /* now every pair is timed and tested */
    assert_int_equal(sr_split_check(rs, &t, &d), SR_E_RANGE);
    assert_string_equal(d.msg, "--test-after 2017-07-14T02:40:00Z is on or before the first "
                               "rating (2017-07-14T02:40:00Z): nothing would be left to train on "
                               "(ratings first heard from 2017-07-14T02:40:00Z to "
                               "2017-07-23T02:40:00Z)");
    assert_int_equal(sr_split_mask(rs, &t, 0, test), SR_E_RANGE);
    t.time_cut = 1500000001;
    assert_int_equal(sr_split_check(rs, &t, &d), SR_OK);
    /* Cross-validation says the check's words, not "cannot make split 1". */
    double p[SR_MAX_PARAMS] = {0, 0, 1};
    sr_cv_opts o = {.split = {.kind = SR_SPLIT_TIME, .time_cut = 1501545600}, .threads = 1};
    sr_cv_result res;
    assert_int_equal(sr_cross_validate(rs, &mean_ops, p, &o, &res, &d), SR_E_RANGE);
    assert_non_null(strstr(d.msg, "--test-after 2017-08-01 is after the last rating"));
    assert_null(res.folds);
    o.split = (sr_split_opts){.kind = SR_SPLIT_KFOLD, .n_splits = 20};
    assert_int_equal(sr_cross_validate(rs, &mean_ops, p, &o, &res, &d), SR_E_RANGE);
    assert_non_null(strstr(d.msg, "--cv 20 asks for more folds than there are ratings (10)"));
    sr_ratings_free(rs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trainset),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_splits),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_predict_clips_and_defaults),
        cmocka_unit_test(test_cross_validate),
        cmocka_unit_test(test_finite_checks),
        cmocka_unit_test(test_search_failed_configs),
        cmocka_unit_test(test_split_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
