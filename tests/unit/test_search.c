/* Grid and randomised search (eval/search.h): axis parsing and its errors, the grid's
 * order and size, reproducible random draws inside their ranges, ranking, and results
 * that do not depend on the thread count. A test model whose error is known in advance
 * (it predicts the trainset mean plus its "bias" parameter) makes the best
 * configuration a matter of arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/search.h"
#include "util/mem.h"

typedef struct {
    double bias;
} bias_state;

static sr_err bias_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **st,
                       sr_diag *d) {
    (void)ts, (void)c, (void)d;
    bias_state *m = sr_malloc(sizeof *m);
    if (!m) return SR_E_NOMEM;
    m->bias = p[0];
    *st = m;
    return SR_OK;
}
static bool bias_est(const void *st, const sr_trainset *ts, uint32_t u, uint32_t i, double *e) {
    (void)u, (void)i;
    *e = ts->global_mean + ((const bias_state *)st)->bias;
    return true;
}
static void bias_free(void *st) {
    sr_free(st);
}
enum { P_BIAS, P_K, P_LR, P_MODE, P_FLAG };
static const sr_param_def bias_params[] = {
    [P_BIAS] = {"bias", SR_PARAM_REAL, 0, -10, 10, NULL, "added to the mean"},
    [P_K] = {"k", SR_PARAM_INT, 40, 1, 1000, NULL, "an integer"},
    [P_LR] = {"lr", SR_PARAM_REAL, 0.005, 0, 1, NULL, "a rate"},
    [P_MODE] = {"mode", SR_PARAM_CHOICE, 0, 0, 2, "a|b|c", "a choice"},
    [P_FLAG] = {"flag", SR_PARAM_BOOL, 1, 0, 1, NULL, "a flag"},
};
static const sr_model_ops bias_ops = {.name = "bias",
                                      .surprise = "Bias",
                                      .summary = "test",
                                      .params = bias_params,
                                      .n_params = 5,
                                      .fit = bias_fit,
                                      .estimate = bias_est,
                                      .free = bias_free};

static void test_grid_order(void **state) {
    (void)state;
    sr_search_space s;
    sr_search_space_init(&s, &bias_ops);
    sr_diag d;
    assert_int_equal(sr_search_space_add(&s, "bias=-1,0,1.5", &d), SR_OK);
    assert_int_equal(sr_search_space_add(&s, "mode=a,c", &d), SR_OK);
    assert_true(sr_search_space_is_grid(&s));
    assert_int_equal(sr_search_grid_size(&s), 6);
    double *c;
    size_t n;
    assert_int_equal(sr_search_expand(&s, NULL, 0, 0, &c, &n, &d), SR_OK);
    assert_int_equal(n, 6);
    /* itertools.product order: the last axis varies fastest. */
    const double bias[] = {-1, -1, 0, 0, 1.5, 1.5}, mode[] = {0, 2, 0, 2, 0, 2};
    for (size_t j = 0; j < n; j++) {
        const double *p = c + j * SR_MAX_PARAMS;
        assert_true(p[P_BIAS] == bias[j]);
        assert_true(p[P_MODE] == mode[j]);
        assert_true(p[P_K] == 40 && p[P_LR] == 0.005 && p[P_FLAG] == 1); /* defaults */
    }
    sr_free(c);
    /* A base vector fills what no axis sets. */
    double base[SR_MAX_PARAMS];
    sr_params_defaults(&bias_ops, base);
    base[P_K] = 7;
    assert_int_equal(sr_search_expand(&s, base, 0, 0, &c, &n, &d), SR_OK);
    assert_true(c[5 * SR_MAX_PARAMS + P_K] == 7);
    sr_free(c);
    /* A range in the space: no grid without --random. */
    assert_int_equal(sr_search_space_add(&s, "lr=0.001:0.01", &d), SR_OK);
    assert_false(sr_search_space_is_grid(&s));
    assert_int_equal(sr_search_grid_size(&s), 0);
    assert_int_equal(sr_search_expand(&s, NULL, 0, 0, &c, &n, &d), SR_E_USAGE);
    assert_null(c);
    sr_search_space_deinit(&s);
}

static void test_parse_errors(void **state) {
    (void)state;
    sr_search_space s;
    sr_search_space_init(&s, &bias_ops);
    sr_diag d;
    assert_int_equal(sr_search_space_add(&s, "colour=1,2", &d), SR_E_USAGE);
    assert_non_null(strstr(d.msg, "colour"));
    assert_int_equal(sr_search_space_add(&s, "bias=abc", &d), SR_E_USAGE);
    assert_int_equal(sr_search_space_add(&s, "bias=1,x", &d), SR_E_USAGE);
    assert_int_equal(sr_search_space_add(&s, "bias=99", &d), SR_E_USAGE); /* > max */
    assert_int_equal(sr_search_space_add(&s, "bias=", &d), SR_E_USAGE);
    assert_int_equal(sr_search_space_add(&s, "bias=1,,2", &d), SR_E_USAGE);
    assert_int_equal(sr_search_space_add(&s, "bias=1,", &d), SR_E_USAGE);
    assert_int_equal(sr_search_space_add(&s, "k=1.5", &d), SR_E_USAGE);
    assert_int_equal(sr_search_space_add(&s, "mode=z", &d), SR_E_USAGE);
    assert_int_equal(sr_search_space_add(&s, "mode=0:1", &d), SR_E_USAGE); /* range: numbers */
    assert_int_equal(sr_search_space_add(&s, "bias=2:1", &d), SR_E_USAGE); /* empty range */
    assert_int_equal(sr_search_space_add(&s, "bias=1:", &d), SR_E_USAGE);
    assert_int_equal(sr_search_space_add(&s, "lr=log:0:0.1", &d), SR_E_USAGE); /* lo > 0 */
    assert_int_equal(sr_search_space_add(&s, "lr=0:2", &d), SR_E_USAGE);       /* > max */
    assert_int_equal(sr_search_space_add(&s, "k=1.2:1.8", &d), SR_E_USAGE);    /* no integer */
    assert_int_equal(sr_search_space_add(&s, "nameonly", &d), SR_E_USAGE);
    assert_int_equal(sr_search_space_add(&s, "=1", &d), SR_E_USAGE);
    assert_int_equal(s.n_axes, 0); /* nothing half-added */
    assert_int_equal(sr_search_space_add(&s, "flag=true,false", &d), SR_OK);
    assert_int_equal(sr_search_space_add(&s, "flag=true", &d), SR_E_USAGE); /* twice */
    assert_int_equal(s.n_axes, 1);
    sr_search_space_deinit(&s);
}

static void test_random_lists(void **state) {
    (void)state;
    /* Every axis a list: draws without replacement, at most the grid's size. */
    sr_search_space s;
    sr_search_space_init(&s, &bias_ops);
    sr_diag d;
    assert_int_equal(sr_search_space_add(&s, "bias=-1,0,1", &d), SR_OK);
    assert_int_equal(sr_search_space_add(&s, "mode=a,b", &d), SR_OK);
    double *c, *again;
    size_t n, m;
    assert_int_equal(sr_search_expand(&s, NULL, 4, 7, &c, &n, &d), SR_OK);
    assert_int_equal(n, 4);
    assert_int_equal(sr_search_expand(&s, NULL, 4, 7, &again, &m, &d), SR_OK);
    assert_memory_equal(c, again, n * SR_MAX_PARAMS * sizeof *c);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_false(c[i * SR_MAX_PARAMS + P_BIAS] == c[j * SR_MAX_PARAMS + P_BIAS] &&
                         c[i * SR_MAX_PARAMS + P_MODE] == c[j * SR_MAX_PARAMS + P_MODE]);
    sr_free(c);
    sr_free(again);
    assert_int_equal(sr_search_expand(&s, NULL, 50, 7, &c, &n, &d), SR_OK);
    assert_int_equal(n, 6); /* the whole grid, in a random order */
    double sum = 0;
    for (size_t j = 0; j < n; j++) sum += c[j * SR_MAX_PARAMS + P_BIAS];
    assert_true(sum == 0);
    sr_free(c);
    sr_search_space_deinit(&s);
}

static void test_random(void **state) {
    (void)state;
    sr_search_space s;
    sr_search_space_init(&s, &bias_ops);
    sr_diag d;
    assert_int_equal(sr_search_space_add(&s, "bias=-2:2", &d), SR_OK);
    assert_int_equal(sr_search_space_add(&s, "k=log:1:100", &d), SR_OK);
    assert_int_equal(sr_search_space_add(&s, "lr=log:0.001:0.1", &d), SR_OK);
    assert_int_equal(sr_search_space_add(&s, "mode=a,b", &d), SR_OK);
    enum { N = 400 };
    double *a, *b, *c;
    size_t n;
    assert_int_equal(sr_search_expand(&s, NULL, N, 42, &a, &n, &d), SR_OK);
    assert_int_equal(n, N);
    assert_int_equal(sr_search_expand(&s, NULL, N, 42, &b, &n, &d), SR_OK);
    assert_int_equal(sr_search_expand(&s, NULL, N, 43, &c, &n, &d), SR_OK);
    assert_memory_equal(a, b, N * SR_MAX_PARAMS * sizeof *a); /* same seed, same draws */
    assert_true(memcmp(a, c, N * SR_MAX_PARAMS * sizeof *a) != 0);
    /* Log-uniform over [0.001, 0.1]: half the mass below the geometric mean 0.01, a
     * quarter below 0.00316; uniform would put 9% below 0.01. k in 1..100 log-uniform:
     * about a third below 5 (log 5 / log 101 = 0.35). */
    int below_gm = 0, below_q = 0, k_small = 0, bias_neg = 0, mode_b = 0;
    for (size_t j = 0; j < n; j++) {
        const double *p = a + j * SR_MAX_PARAMS;
        assert_true(p[P_BIAS] >= -2 && p[P_BIAS] <= 2);
        assert_true(p[P_K] >= 1 && p[P_K] <= 100 && p[P_K] == floor(p[P_K]));
        assert_true(p[P_LR] >= 0.001 && p[P_LR] <= 0.1);
        assert_true(p[P_MODE] == 0 || p[P_MODE] == 1);
        assert_true(p[P_FLAG] == 1);
        below_gm += p[P_LR] < 0.01;
        below_q += p[P_LR] < 0.00316;
        k_small += p[P_K] < 5;
        bias_neg += p[P_BIAS] < 0;
        mode_b += p[P_MODE] == 1;
    }
    assert_in_range(below_gm, 160, 240);
    assert_in_range(below_q, 65, 135);
    assert_in_range(k_small, 100, 180);
    assert_in_range(bias_neg, 160, 240);
    assert_in_range(mode_b, 160, 240);
    sr_free(a);
    sr_free(b);
    sr_free(c);
    sr_search_space_deinit(&s);
}

/* 120 ratings, all 4 on a 1..5 scale: every trainset's mean is 4, so the bias model's
 * prediction is 4 + bias on every test rating and RMSE = MAE = |bias| exactly. */
static sr_ratings *flat(void) {
    enum { N = 120 };
    uint32_t u[N], i[N];
    float r[N];
    for (int k = 0; k < N; k++) u[k] = (uint32_t)(k % 12), i[k] = (uint32_t)(k / 12), r[k] = 4;
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(12, 10, N, u, i, r, 1, 5, &rs), SR_OK);
    return rs;
}

static void test_best(void **state) {
    (void)state;
    sr_ratings *rs = flat();
    sr_search_space s;
    sr_search_space_init(&s, &bias_ops);
    sr_diag d;
    assert_int_equal(sr_search_space_add(&s, "bias=-1,0.5,0,2", &d), SR_OK);
    double *c;
    size_t n;
    assert_int_equal(sr_search_expand(&s, NULL, 0, 0, &c, &n, &d), SR_OK);
    sr_cv_opts o = {.split = {.kind = SR_SPLIT_KFOLD, .n_splits = 3, .seed = 5}, .threads = 2};
    sr_search_result r;
    assert_int_equal(sr_search_run(rs, &bias_ops, c, n, &o, SR_METRIC_RMSE, &r, &d), SR_OK);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.n_folds, 3);
    /* RMSE = |bias|: 1, 0.5, 0, 1 (2 clipped to 5: |5 - 4| = 1). Ranked: bias 0, 0.5, then
     * the tie between -1 and 2 kept in configuration order. */
    assert_int_equal(r.best, 2);
    const size_t want[] = {2, 1, 0, 3};
    for (size_t q = 0; q < 4; q++) assert_int_equal(r.rank[q], want[q]);
    assert_true(fabs(r.rows[1].mean[SR_METRIC_RMSE] - 0.5) < 1e-12);
    assert_true(fabs(r.rows[1].mean[SR_METRIC_MAE] - 0.5) < 1e-12);
    assert_true(fabs(r.rows[1].std[SR_METRIC_RMSE]) < 1e-12);
    assert_true(r.rows[2].mean[SR_METRIC_RMSE] == 0);
    assert_true(r.rows[0].p[P_BIAS] == -1);
    sr_search_result_deinit(&r);
    assert_true(sr_metric_higher_is_better(SR_METRIC_FCP));
    assert_false(sr_metric_higher_is_better(SR_METRIC_RMSE));
    assert_false(sr_metric_higher_is_better(SR_METRIC_MAE));
    sr_free(c);
    sr_search_space_deinit(&s);
    sr_ratings_free(rs);
}

static void test_threads(void **state) {
    (void)state;
    /* Varied ratings so folds differ. */
    enum { N = 300 };
    uint32_t u[N], i[N];
    float r[N];
    for (int k = 0; k < N; k++)
        u[k] = (uint32_t)(k % 17), i[k] = (uint32_t)(k / 17), r[k] = (float)(1 + (k * 7) % 5);
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(17, 18, N, u, i, r, 1, 5, &rs), SR_OK);
    sr_search_space s;
    sr_search_space_init(&s, &bias_ops);
    sr_diag d;
    assert_int_equal(sr_search_space_add(&s, "bias=-0.5,-0.2,0,0.3,1", &d), SR_OK);
    double *c;
    size_t n;
    assert_int_equal(sr_search_expand(&s, NULL, 0, 0, &c, &n, &d), SR_OK);
    sr_search_result a, b, e;
    sr_cv_opts o = {.split = {.kind = SR_SPLIT_KFOLD, .n_splits = 3, .seed = 9}, .threads = 1};
    assert_int_equal(sr_search_run(rs, &bias_ops, c, n, &o, SR_METRIC_MAE, &a, &d), SR_OK);
    o.threads = 3;
    assert_int_equal(sr_search_run(rs, &bias_ops, c, n, &o, SR_METRIC_MAE, &b, &d), SR_OK);
    o.threads = 7;
    assert_int_equal(sr_search_run(rs, &bias_ops, c, n, &o, SR_METRIC_MAE, &e, &d), SR_OK);
    for (size_t j = 0; j < n; j++) {
        assert_memory_equal(a.rows[j].mean, b.rows[j].mean, sizeof a.rows[j].mean);
        assert_memory_equal(a.rows[j].std, b.rows[j].std, sizeof a.rows[j].std);
        assert_memory_equal(a.rows[j].mean, e.rows[j].mean, sizeof a.rows[j].mean);
        assert_int_equal(a.rank[j], b.rank[j]);
        assert_int_equal(a.rank[j], e.rank[j]);
    }
    sr_search_result_deinit(&a);
    sr_search_result_deinit(&b);
    sr_search_result_deinit(&e);
    sr_free(c);
    sr_search_space_deinit(&s);
    sr_ratings_free(rs);
}

static void test_format_value(void **state) {
    (void)state;
    char buf[32];
    sr_search_format_value(&bias_ops, P_MODE, 2, buf, sizeof buf);
    assert_string_equal(buf, "c");
    sr_search_format_value(&bias_ops, P_FLAG, 0, buf, sizeof buf);
    assert_string_equal(buf, "false");
    sr_search_format_value(&bias_ops, P_LR, 0.05, buf, sizeof buf);
    assert_string_equal(buf, "0.05");
    sr_search_format_value(&bias_ops, P_LR, NAN, buf, sizeof buf);
    assert_string_equal(buf, "unset");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_order),   cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_random),       cmocka_unit_test(test_random_lists),
        cmocka_unit_test(test_best),         cmocka_unit_test(test_threads),
        cmocka_unit_test(test_format_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
