/* Unit tests for fold-in (every model of the registry) and the recommender (rec/).
 *
 * Fold-in is checked where the answer is known by hand or by another route: a training
 * user folded in again gets exactly the model's own estimates for the k-NN models and
 * Slope One (same ratings, same formulas); the factor models' fold-in satisfies its
 * normal equations (the gradient of the regularised least squares vanishes); the
 * baseline fold-in is the closed form on a 3 x 3 matrix; explanations add up to the
 * personal part of each estimate. The recommender's filters, limits, ranking and
 * similar songs are checked on a small generated set.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "models/fmat.h"
#include "models/mf.h"
#include "models/model.h"
#include "models/trainset.h"
#include "rec/recommend.h"
#include "util/mem.h"
#include "util/rng.h"

#define assert_near(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

static sr_trainset *make_ts(uint32_t nu, uint32_t ni, size_t n, const uint32_t *u,
                            const uint32_t *i, const float *r, double lo, double hi) {
    sr_ratings *rs = NULL;
    assert_int_equal(sr_ratings_new(nu, ni, n, u, i, r, lo, hi, &rs), SR_OK);
    sr_trainset *ts = NULL;
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    sr_ratings_free(rs);
    return ts;
}

/* A random 1..5 set: nu users, ni items, each user rates about `per` items, with a
 * taste structure (two user groups prefer two item halves) so that models learn. */
static sr_trainset *random_ts(uint32_t nu, uint32_t ni, uint32_t per, uint64_t seed) {
    sr_rng g;
    sr_rng_seed(&g, seed);
    size_t cap = (size_t)nu * per, n = 0;
    uint32_t *u = sr_mallocarray(cap, sizeof *u), *it = sr_mallocarray(cap, sizeof *it);
    float *r = sr_mallocarray(cap, sizeof *r);
    uint8_t *seen = sr_calloc(ni, 1);
    for (uint32_t x = 0; x < nu; x++) {
        memset(seen, 0, ni);
        for (uint32_t t = 0; t < per; t++) {
            uint32_t i = (uint32_t)(sr_rng_double(&g) * ni);
            if (seen[i]) continue;
            seen[i] = 1;
            bool like = (x % 2) == (i < ni / 2);
            double v = (like ? 4 : 2) + (sr_rng_double(&g) - 0.5) * 2;
            u[n] = x, it[n] = i, r[n] = (float)fmin(5, fmax(1, round(v)));
            n++;
        }
    }
    sr_trainset *ts = make_ts(nu, ni, n, u, it, r, 1, 5);
    sr_free(u), sr_free(it), sr_free(r), sr_free(seen);
    return ts;
}

static void fit(sr_model *m, const char *algo, const sr_trainset *ts, const char **params,
                size_t np) {
    const sr_model_ops *ops = sr_model_find(algo);
    assert_non_null(ops);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    for (size_t k = 0; k < np; k++) assert_int_equal(sr_params_set(ops, p, params[k], NULL), SR_OK);
    sr_fit_ctx c = {.seed = 7, .threads = 1};
    assert_int_equal(sr_model_fit(m, ops, p, ts, &c, NULL), SR_OK);
}

/* The training user u's ratings as a new listener. */
static sr_newuser user_of(const sr_trainset *ts, uint32_t u) {
    uint64_t a = ts->user_ptr[u];
    return (sr_newuser){
        .n = (size_t)(ts->user_ptr[u + 1] - a), .items = ts->ur_item + a, .r = ts->ur_r + a};
}

static bool rated(const sr_trainset *ts, uint32_t u, uint32_t i) {
    for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++)
        if (ts->ur_item[q] == i) return true;
    return false;
}

/* --- k-NN and Slope One: a training user folded in again predicts as before ------- */

static void check_same_as_training(const char *algo, const char **params, size_t np) {
    sr_trainset *ts = random_ts(40, 30, 12, 1);
    sr_model m;
    fit(&m, algo, ts, params, np);
    for (uint32_t u = 0; u < 5; u++) {
        sr_newuser nu = user_of(ts, u);
        assert_int_equal(m.ops->fold_in(m.state, ts, m.p, &nu, NULL), SR_OK);
        for (uint32_t i = 0; i < ts->n_items; i++) {
            if (rated(ts, u, i) || !sr_trainset_knows_item(ts, i)) continue;
            double a = 0, b = 0;
            bool pa = m.ops->estimate(m.state, ts, u, i, &a);
            bool pb = m.ops->estimate_new(m.state, ts, &nu, i, &b);
            assert_int_equal(pa, pb);
            if (pa) assert_near(a, b, 1e-9);
        }
        m.ops->user_free(nu.state);
    }
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

static void test_knn_foldin_matches_training(void **state) {
    (void)state;
    const char *algos[] = {"knn_basic", "knn_with_means", "knn_with_zscore"};
    const char *names[] = {"name=cosine", "name=msd", "name=pearson"};
    for (size_t a = 0; a < 3; a++)
        for (size_t s = 0; s < 3; s++) {
            const char *ub[] = {names[s], "user_based=true"};
            const char *ib[] = {names[s], "user_based=false"};
            check_same_as_training(algos[a], ub, 2);
            check_same_as_training(algos[a], ib, 2);
        }
    const char *ps[] = {"name=pearson_baseline", "user_based=false"};
    check_same_as_training("knn_basic", ps, 2);
}

static void test_slope_one_foldin_matches_training(void **state) {
    (void)state;
    check_same_as_training("slope_one", NULL, 0);
}

/* --- baselines: the closed form -------------------------------------------------- */

static void test_baseline_foldin_closed_form(void **state) {
    (void)state;
    const uint32_t U[] = {0, 0, 1, 1, 2, 2}, I[] = {0, 1, 1, 2, 0, 2};
    const float R[] = {5, 3, 4, 2, 1, 4};
    sr_trainset *ts = make_ts(3, 3, 6, U, I, R, 1, 5);
    sr_model m;
    fit(&m, "baseline_only", ts, NULL, 0);
    const uint32_t items[] = {0, 2};
    const float r[] = {5, 1};
    sr_newuser nu = {.n = 2, .items = items, .r = r};
    assert_int_equal(m.ops->fold_in(m.state, ts, m.p, &nu, NULL), SR_OK);
    /* b_i from the model: est(unknown user, i) = mu + b_i. */
    double e0, e1, e2, mu = ts->global_mean;
    m.ops->estimate(m.state, ts, 99, 0, &e0);
    m.ops->estimate(m.state, ts, 99, 1, &e1);
    m.ops->estimate(m.state, ts, 99, 2, &e2);
    double bu = ((5 - e0) + (1 - e2)) / (15 + 2); /* als: reg_u 15 */
    double got;
    assert_true(m.ops->estimate_new(m.state, ts, &nu, 1, &got));
    assert_near(got, e1 + bu, 1e-9);
    double w[2];
    assert_true(m.ops->explain(m.state, ts, &nu, 1, w));
    assert_near(w[0] + w[1], got - e1, 1e-9);
    assert_near(w[0], (5 - e0) / 17, 1e-9);
    (void)mu;
    m.ops->user_free(nu.state);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

/* --- factor models: normal equations and explanations ----------------------------- */

/* The gradient of sum_j (y_j - b - q_j.p)^2 + lb b^2 + lp |p|^2 at the fold-in
 * solution, from estimates alone: est_new(j) = mu + b_j + b + q_j.p. Six ratings against
 * 8 or 5 factors: both the Woodbury path (n < m) and the direct one (n >= m) run. */
static void check_mf_optimal(const char *algo, const char **params, size_t np, double rb,
                             double rp) {
    sr_trainset *ts = random_ts(60, 40, 15, 2);
    sr_model m;
    fit(&m, algo, ts, params, np);
    const sr_mf_state *s = m.state;
    const uint32_t items[] = {1, 4, 7, 22, 30, 35};
    const float r[] = {5, 4, 5, 1, 2, 1};
    const size_t n = 6;
    sr_newuser nu = {.n = n, .items = items, .r = r};
    assert_int_equal(m.ops->fold_in(m.state, ts, m.p, &nu, NULL), SR_OK);
    const sr_mf_user *mu = nu.state;
    double gb = 0, gp[64] = {0};
    float q[64];
    for (size_t j = 0; j < n; j++) {
        double e;
        assert_true(m.ops->estimate_new(m.state, ts, &nu, items[j], &e));
        double res = r[j] - e;
        sr_fmat_row(&s->Q, items[j], q);
        gb += res;
        for (uint32_t f = 0; f < s->k; f++) gp[f] += res * q[f];
    }
    /* The ridge: the measured priors, or n reg without them. */
    const double lb = s->fold_reg_b > 0 ? s->fold_reg_b : n * rb;
    const double lp = s->fold_reg_p > 0 ? s->fold_reg_p : n * rp;
    assert_true(s->fold_reg_p > 0);
    if (s->biased) {
        double b = mu->add - ts->global_mean;
        assert_near(gb, lb * b, 1e-3);
    }
    if (!s->Y.data) /* SVD++: z holds p + s, so check p through the estimates only */
        for (uint32_t f = 0; f < s->k; f++) assert_near(gp[f], lp * mu->z[f], 1e-3);
    /* Explanations add up to est - (mu + b_i) (biased) or est (unbiased). */
    double *w = sr_mallocarray(n, sizeof *w);
    for (uint32_t i = 0; i < ts->n_items; i++) {
        if (!sr_trainset_knows_item(ts, i)) continue;
        double e;
        assert_true(m.ops->estimate_new(m.state, ts, &nu, i, &e));
        assert_true(m.ops->explain(m.state, ts, &nu, i, w));
        double sum = 0;
        for (size_t j = 0; j < n; j++) sum += w[j];
        double base = s->biased ? ts->global_mean + s->bi[i] : 0;
        assert_near(sum, e - base, 1e-3);
    }
    /* The scan agrees with the one-by-one estimates. */
    float *all = sr_mallocarray(ts->n_items, sizeof *all);
    m.ops->score_new(m.state, ts, &nu, all, 0, ts->n_items);
    for (uint32_t i = 0; i < ts->n_items; i++) {
        double e;
        m.ops->estimate_new(m.state, ts, &nu, i, &e);
        assert_near(all[i], e, 1e-4);
    }
    sr_free(all);
    sr_free(w);
    m.ops->user_free(nu.state);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

static void test_svd_foldin_normal_equations(void **state) {
    (void)state;
    const char *p1[] = {"n_factors=8", "reg_all=0.1"};
    check_mf_optimal("svd", p1, 2, 0.1, 0.1);
    const char *p2[] = {"n_factors=5", "biased=false", "reg_pu=0.3"};
    check_mf_optimal("svd", p2, 3, 0, 0.3);
    const char *p3[] = {"n_factors=4", "reg_bu=0.05", "reg_pu=0.2"};
    check_mf_optimal("svdpp", p3, 3, 0.05, 0.2);
}

/* Every model of the registry folds in, estimates, and recommends. */
static void test_every_model_recommends(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(50, 30, 12, 3);
    uint32_t artist[30];
    for (uint32_t i = 0; i < 30; i++) artist[i] = i / 3;
    for (size_t a = 0; a < sr_n_models; a++) {
        if (sr_models[a]->needs_events) continue; /* needs listens: test_sessions */
        sr_model m;
        fit(&m, sr_models[a]->name, ts, NULL, 0);
        sr_recommender R;
        assert_int_equal(sr_recommender_init(&R, &m, artist, 10, NULL), SR_OK);
        const sr_rec_rating rs[] = {{0, 5}, {1, 5}, {20, 1}, {3, 4}};
        sr_rec_profile p = {.ratings = rs, .n_ratings = 4};
        sr_rec_opts o = {.n = 10, .n_because = 3};
        sr_rec_item out[10];
        size_t n = 0;
        sr_rec_stats st;
        sr_diag d = {{0}};
        assert_int_equal(sr_recommend(&R, &p, &o, out, &n, &st, &d), SR_OK);
        assert_int_equal(n, 10);
        assert_int_equal(st.used, 4);
        for (size_t t = 0; t < n; t++) {
            assert_true(out[t].item != 0 && out[t].item != 1 && out[t].item != 20 &&
                        out[t].item != 3);
            if (!m.ops->implicit) assert_true(out[t].score >= 1 && out[t].score <= 5);
            assert_true(isfinite(out[t].score));
            if (t) assert_true(out[t - 1].rank_score >= out[t].rank_score);
            assert_true(out[t].support >= 0 && out[t].support <= 1);
        }
        sr_recommender_deinit(&R);
        sr_model_deinit(&m);
    }
    sr_trainset_free(ts);
}

/* --- the recommender's filters and ranking ---------------------------------------- */

static void test_recommend_filters(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(80, 40, 15, 4);
    uint32_t artist[40];
    for (uint32_t i = 0; i < 40; i++) artist[i] = i / 4; /* 10 artists of 4 songs */
    sr_model m;
    const char *ps[] = {"n_factors=6"};
    fit(&m, "svd", ts, ps, 1);
    sr_recommender R;
    assert_int_equal(sr_recommender_init(&R, &m, artist, 10, NULL), SR_OK);
    const sr_rec_rating rs[] = {{1, 5}, {2, 5}, {5, 4}, {30, 1}, {1, 4}}; /* 1 repeated */
    const uint32_t bi[] = {6, 7}, ba[] = {3};
    sr_rec_profile p = {rs, 5, bi, 2, ba, 1};
    sr_rec_item out[40];
    size_t n;
    sr_rec_stats st;
    sr_rec_opts o = {.n = 40, .n_because = 2};
    assert_int_equal(sr_recommend(&R, &p, &o, out, &n, &st, NULL), SR_OK);
    assert_int_equal(st.used, 4);
    assert_int_equal(st.repeated, 1);
    /* 40 - 4 rated - 2 blocked - artist 3 (12..15) */
    assert_int_equal(n, 40 - 4 - 2 - 4);
    for (size_t t = 0; t < n; t++) {
        assert_true(artist[out[t].item] != 3);
        assert_true(out[t].item != 6 && out[t].item != 7);
        for (size_t b = 0; b < out[t].n_because; b++) assert_true(out[t].because[b].weight > 0);
    }
    /* exclude rated artists: 0 (1, 2), 1 (5), 7 (30) */
    o.exclude_rated_artists = true;
    assert_int_equal(sr_recommend(&R, &p, &o, out, &n, &st, NULL), SR_OK);
    for (size_t t = 0; t < n; t++) {
        uint32_t a = artist[out[t].item];
        assert_true(a != 0 && a != 1 && a != 7 && a != 3);
    }
    /* at most one song per artist */
    o.exclude_rated_artists = false;
    o.max_per_artist = 1;
    o.n = 5;
    assert_int_equal(sr_recommend(&R, &p, &o, out, &n, &st, NULL), SR_OK);
    assert_int_equal(n, 5);
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++) assert_true(artist[out[a].item] != artist[out[b].item]);
    /* discovery moves popular songs and known artists down: their sum over the list
     * cannot grow (the list maximises the sum of pred - c x, the plain list that of pred) */
    o.max_per_artist = 0;
    o.n = 8;
    double popf = 0, popd = 0;
    assert_int_equal(sr_recommend(&R, &p, &o, out, &n, &st, NULL), SR_OK);
    const uint32_t a0 = 0, a1 = 1, a7 = 7;
#define KNOWN(i) (artist[i] == a0 || artist[i] == a1 || artist[i] == a7 ? 1.0 : 0.0)
    for (size_t t = 0; t < n; t++) popf += R.pop[out[t].item] + KNOWN(out[t].item);
    o.discovery = 1;
    assert_int_equal(sr_recommend(&R, &p, &o, out, &n, &st, NULL), SR_OK);
    for (size_t t = 0; t < n; t++) popd += R.pop[out[t].item] + KNOWN(out[t].item);
    assert_true(popd <= popf + 1e-6);
    /* bad input */
    o.discovery = 2;
    assert_int_equal(sr_recommend(&R, &p, &o, out, &n, &st, NULL), SR_E_RANGE);
    o.discovery = 0;
    o.n = 0;
    assert_int_equal(sr_recommend(&R, &p, &o, out, &n, &st, NULL), SR_E_RANGE);
    o.n = 5;
    const sr_rec_rating bad[] = {{1, 7}};
    sr_rec_profile pb = {.ratings = bad, .n_ratings = 1};
    assert_int_equal(sr_recommend(&R, &pb, &o, out, &n, &st, NULL), SR_E_RANGE);
    /* an empty profile still recommends (popular, well-rated songs) */
    sr_rec_profile pe = {0};
    assert_int_equal(sr_recommend(&R, &pe, &o, out, &n, &st, NULL), SR_OK);
    assert_int_equal(n, 5);
    for (size_t t = 0; t < n; t++) assert_true(out[t].weak);

    /* similar songs: itself excluded, sorted, cosines in [-1, 1] */
    uint32_t ids[5];
    float sims[5];
    assert_int_equal(sr_rec_similar(&R, 3, 5, ids, sims, &n, NULL), SR_OK);
    assert_int_equal(n, 5);
    for (size_t t = 0; t < n; t++) {
        assert_true(ids[t] != 3);
        assert_true(sims[t] <= 1.0001f && sims[t] >= -1.0001f);
        if (t) assert_true(sims[t - 1] >= sims[t]);
    }
    /* similar artists: the artist itself excluded, sorted; an artist whose songs are
     * all closest to the seed's artist ranks by that */
    uint32_t aids[5];
    float asims[5];
    assert_int_equal(sr_rec_similar_artists(&R, 2, 5, aids, asims, &n, NULL), SR_OK);
    assert_true(n > 0 && n <= 5);
    for (size_t t = 0; t < n; t++) {
        assert_true(aids[t] != 2 && aids[t] < 10);
        if (t) assert_true(asims[t - 1] >= asims[t]);
    }
    assert_int_equal(sr_rec_similar_artists(&R, 10, 5, aids, asims, &n, NULL), SR_E_NOTFOUND);
    /* starter songs: distinct artists, deterministic, within bounds */
    uint32_t st1[8], st2[8];
    size_t n1, n2;
    assert_int_equal(sr_rec_starter(&R, 8, st1, &n1, NULL), SR_OK);
    assert_int_equal(sr_rec_starter(&R, 8, st2, &n2, NULL), SR_OK);
    assert_int_equal(n1, 8);
    assert_int_equal(n1, n2);
    assert_memory_equal(st1, st2, n1 * sizeof *st1);
    for (size_t a = 0; a < n1; a++)
        for (size_t b = a + 1; b < n1; b++) assert_true(artist[st1[a]] != artist[st1[b]]);
    assert_int_equal(sr_rec_starter(&R, 0, st1, &n1, NULL), SR_E_RANGE);
    sr_recommender_deinit(&R);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

/* --- fmat: the scan agrees with the portable loop, f32 and f16, odd k ------------- */

static void test_fmat_scan(void **state) {
    (void)state;
    const uint32_t ks[] = {1, 15, 16, 17, 150};
    sr_rng g;
    sr_rng_seed(&g, 5);
    for (size_t t = 0; t < 5; t++) {
        const uint32_t k = ks[t], rows = 37;
        float *m32 = sr_mallocarray((size_t)rows * k, sizeof *m32);
        uint16_t *m16 = sr_mallocarray((size_t)rows * k, sizeof *m16);
        float x[160], bias[37], a[37], b[37];
        for (size_t q = 0; q < (size_t)rows * k; q++) {
            m32[q] = (float)(sr_rng_double(&g) - 0.5);
            m16[q] = sr_f32_to_f16(m32[q]);
        }
        for (uint32_t f = 0; f < k; f++) x[f] = (float)(sr_rng_double(&g) - 0.5);
        for (uint32_t i = 0; i < rows; i++) bias[i] = (float)i / 10;
        sr_fmat M = {m32, rows, k, k, SR_FMAT_F32, NULL};
        sr_fmat_scores(&M, x, bias, 1.5f, a, 0, rows);
        sr_fmat_scores_scalar(&M, x, bias, 1.5f, b, 0, rows);
        for (uint32_t i = 0; i < rows; i++) {
            assert_near(a[i], b[i], 1e-4);
            assert_near(a[i], 1.5 + bias[i] + sr_fmat_dot(&M, i, x), 1e-4);
        }
        sr_fmat H = {m16, rows, k, k, SR_FMAT_F16, NULL};
        sr_fmat_scores(&H, x, NULL, 0, a, 3, rows);
        sr_fmat_scores_scalar(&H, x, NULL, 0, b, 3, rows);
        for (uint32_t i = 3; i < rows; i++) {
            assert_near(a[i], b[i], 1e-4);
            assert_near(a[i], sr_fmat_dot2(&H, i, &M, i) * 0 + sr_fmat_dot(&H, i, x), 1e-4);
        }
        /* several vectors at once: the same scores, both precisions, row ranges cut
         * inside a 16-row block */
        float X[3 * 160], add3[3] = {0.5f, -1, 2}, multi[3 * 37];
        for (size_t q = 0; q < 3 * 160; q++) X[q] = (float)(sr_rng_double(&g) - 0.5);
        const sr_fmat *mats[2] = {&M, &H};
        for (int w = 0; w < 2; w++) {
            sr_fmat_scores_multi(mats[w], X, 3, 160, bias, add3, multi, 37, 1, rows);
            for (int v = 0; v < 3; v++) {
                sr_fmat_scores_scalar(mats[w], X + v * 160, bias, add3[v], b, 1, rows);
                for (uint32_t i = 1; i < rows; i++) assert_near(multi[v * 37 + i - 1], b[i], 1e-4);
            }
        }
        sr_free(m32);
        sr_free(m16);
    }
}

/* --- the int8 copy and the recommender's int8 scan --------------------------------- */

static void test_fmat_quantize(void **state) {
    (void)state;
    const uint32_t ks[] = {1, 15, 16, 17, 64, 150};
    sr_rng g;
    sr_rng_seed(&g, 9);
    for (size_t t = 0; t < 6; t++) {
        const uint32_t k = ks[t], rows = 41;
        float *m32 = sr_mallocarray((size_t)rows * k, sizeof *m32);
        for (size_t q = 0; q < (size_t)rows * k; q++) m32[q] = (float)(sr_rng_double(&g) - 0.5);
        for (uint32_t f = 0; f < k; f++) m32[5 * k + f] = 0; /* a zero row */
        m32[7 * k] = 1000;                                   /* one large value */
        sr_fmat M = {m32, rows, k, k, SR_FMAT_F32, NULL}, Q;
        float *err = NULL;
        assert_true(sr_fmat_quantize(&M, 2, &Q, &err));
        assert_int_equal(Q.type, SR_FMAT_I8);
        assert_int_equal(Q.ld % 16, 0);
        assert_true(Q.ld >= k);
        float x[160], a[41], b[41], c[41], bias[41];
        for (uint32_t i = 0; i < rows; i++) bias[i] = (float)i / 7;
        for (int rep = 0; rep < 20; rep++) {
            double xx = 0;
            for (uint32_t f = 0; f < k; f++) {
                x[f] = (float)(sr_rng_double(&g) * 4 - 2);
                xx += (double)x[f] * x[f];
            }
            sr_fmat_scores(&M, x, bias, 0.25f, a, 0, rows);
            sr_fmat_scores(&Q, x, bias, 0.25f, b, 0, rows);
            sr_fmat_scores_scalar(&Q, x, bias, 0.25f, c, 0, rows);
            for (uint32_t i = 0; i < rows; i++) {
                /* the promise of sr_fmat_quantize, with the additions' rounding */
                assert_true(fabs((double)a[i] - b[i]) <=
                            err[i] * sqrt(xx) + 1e-6 * (1 + fabs(a[i])));
                assert_near(b[i], c[i], 1e-4 * (1 + fabs(b[i])));
                assert_near(sr_fmat_dot(&Q, i, x) + 0.25 + bias[i], b[i], 1e-3 * (1 + fabs(b[i])));
            }
            assert_near(b[5], 0.25 + bias[5], 1e-6); /* the zero row stays zero */
        }
        /* the error is what int8 rounding leaves: at most half a step per value */
        for (uint32_t i = 0; i < rows; i++)
            assert_true(err[i] <= Q.scale[i] * 0.5 * sqrt(k) + 1e-3);
        float X[2 * 160], add2[2] = {0, 1}, multi[2 * 41];
        for (size_t q = 0; q < 2 * 160; q++) X[q] = (float)(sr_rng_double(&g) - 0.5);
        sr_fmat_scores_multi(&Q, X, 2, 160, NULL, add2, multi, 41, 0, rows);
        for (int v = 0; v < 2; v++) {
            sr_fmat_scores_scalar(&Q, X + v * 160, NULL, add2[v], c, 0, rows);
            for (uint32_t i = 0; i < rows; i++) assert_near(multi[v * 41 + i], c[i], 1e-3);
        }
        sr_fmat_quantized_free(&Q, err);
        sr_free(m32);
    }
}

/* Two recommenders on one model, one exact and one int8: the same lists, in the same
 * order, for many listeners and every option; a catalog large enough for two threads. */
static void check_int8_same(const char *algo, const char **params, size_t np) {
    const uint32_t NI = 70000;
    sr_trainset *ts = random_ts(300, NI, 300, 11);
    uint32_t *artist = sr_mallocarray(NI, sizeof *artist);
    for (uint32_t i = 0; i < NI; i++) artist[i] = i / 7;
    sr_model m;
    fit(&m, algo, ts, params, np);
    assert_non_null(m.ops->linear);
    sr_recommender A, B;
    assert_int_equal(sr_recommender_init(&A, &m, artist, NI / 7 + 1, NULL), SR_OK);
    assert_int_equal(sr_recommender_init(&B, &m, artist, NI / 7 + 1, NULL), SR_OK);
    A.threads = B.threads = 2;
    sr_recommender_set_scan(&B, SR_REC_SCAN_INT8, false);
    assert_non_null(B.q8.data);
    sr_rng g;
    sr_rng_seed(&g, 3);
    sr_rec_item *oa = sr_mallocarray(200, sizeof *oa), *ob = sr_mallocarray(200, sizeof *ob);
    for (int rep = 0; rep < 24; rep++) {
        sr_rec_rating rs[12];
        for (int j = 0; j < 12; j++)
            rs[j] = (sr_rec_rating){(uint32_t)(sr_rng_double(&g) * NI),
                                    (float)(1 + (int)(sr_rng_double(&g) * 5))};
        const uint32_t bi[] = {rs[0].item + 1, 17}, ba[] = {rs[1].item / 7 + 1, 3};
        sr_rec_profile p = {.ratings = rs, .n_ratings = (size_t)(1 + rep % 12)};
        if (rep % 3 == 1) p.blocked_items = bi, p.n_blocked_items = 2;
        if (rep % 4 == 2) p.blocked_artists = ba, p.n_blocked_artists = 2;
        sr_rec_opts o = {.n = rep % 5 == 0 ? 200 : 10, .n_because = 2};
        o.discovery = (rep % 6) == 1 ? 0.8 : (rep % 6) == 2 ? -0.6 : 0;
        o.max_per_artist = rep % 7 == 3 ? 1 : 0;
        o.exclude_rated_artists = rep % 8 == 5;
        size_t na = 0, nb = 0;
        sr_rec_stats sa, sb;
        assert_int_equal(sr_recommend(&A, &p, &o, oa, &na, &sa, NULL), SR_OK);
        assert_int_equal(sr_recommend(&B, &p, &o, ob, &nb, &sb, NULL), SR_OK);
        assert_int_equal(na, nb);
        assert_int_equal(sa.candidate, sb.candidate);
        for (size_t t = 0; t < na; t++) {
            assert_near(oa[t].score, ob[t].score, 1e-4);
            assert_near(oa[t].rank_score, ob[t].rank_score, 1e-4);
            /* the same song, unless two are tied to float rounding */
            if (oa[t].item != ob[t].item) assert_near(oa[t].rank_score, ob[t].rank_score, 1e-5);
        }
    }
    sr_free(oa), sr_free(ob), sr_free(artist);
    sr_recommender_deinit(&A);
    sr_recommender_deinit(&B);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

/* An adversary for the int8 scan: near-tied exact scores (3 + 0.01 (i mod 997) / 997,
 * set through the biases once the listener's vector x is known) over factor rows
 * (1, t_i, 0, 0) whose t_i in [-20, 20] int8 rounds by up to half a step of 20/127, so
 * the copy's order is noise of up to 20 |x_1| / 254 against gaps of 1e-5. Only songs kept by their
 * error bound can make the exact list. */
static void test_int8_scan_adversary(void **state) {
    (void)state;
    const uint32_t NI = 70000;
    sr_trainset *ts = random_ts(300, NI, 300, 12);
    sr_model m;
    const char *ps[] = {"n_factors=4", "n_epochs=1"};
    fit(&m, "svd", ts, ps, 2);
    sr_mf_state *st = m.state;
    sr_rng g;
    sr_rng_seed(&g, 21);
    for (uint32_t i = 0; i < NI; i++) {
        float *q = st->qi + (size_t)i * st->ld;
        q[0] = 1, q[1] = (float)(sr_rng_double(&g) * 40 - 20), q[2] = q[3] = 0;
    }
    /* four songs the trainset knows (the recommender would drop others) */
    uint32_t items[4];
    const float r[] = {5, 4, 1, 5};
    sr_rec_rating rs[4];
    for (int j = 0; j < 4; j++) {
        items[j] = ts->ur_item[ts->user_ptr[0] + (uint64_t)j];
        rs[j] = (sr_rec_rating){items[j], r[j]};
    }
    sr_newuser nu = {.n = 4, .items = items, .r = r};
    assert_int_equal(m.ops->fold_in(m.state, ts, m.p, &nu, NULL), SR_OK);
    sr_linear lin;
    m.ops->linear(m.state, &nu, &lin);
    /* the copy's noise, up to 20 / 254 |x_1|, is far above the gaps */
    if (!(fabsf(lin.x[1]) > 0.002f)) fail_msg("x_1 = %g", (double)lin.x[1]);
    for (uint32_t i = 0; i < NI; i++) {
        const float *q = st->qi + (size_t)i * st->ld;
        if (i == items[0] || i == items[1] || i == items[2] || i == items[3])
            continue; /* their biases are part of the fold-in */
        st->bi[i] =
            (float)(3 + 0.01 * (i % 997) / 997.0 - lin.add - (q[0] * lin.x[0] + q[1] * lin.x[1]));
    }
    m.ops->user_free(nu.state);
    sr_recommender A, B;
    assert_int_equal(sr_recommender_init(&A, &m, NULL, 0, NULL), SR_OK);
    assert_int_equal(sr_recommender_init(&B, &m, NULL, 0, NULL), SR_OK);
    A.threads = B.threads = 2;
    sr_recommender_set_scan(&B, SR_REC_SCAN_INT8, false);
    sr_rec_item oa[50], ob[50];
    size_t na, nb;
    sr_rec_profile p = {.ratings = rs, .n_ratings = 4};
    sr_rec_opts o = {.n = 50};
    assert_int_equal(sr_recommend(&A, &p, &o, oa, &na, NULL, NULL), SR_OK);
    assert_int_equal(sr_recommend(&B, &p, &o, ob, &nb, NULL, NULL), SR_OK);
    assert_int_equal(na, 50);
    assert_int_equal(nb, 50);
    for (size_t t = 0; t < na; t++) {
        if (oa[t].score < 3.0099) /* the exact list: songs of the top targets */
            fail_msg("%zu: song %u, score %.9g", t, oa[t].item, oa[t].score);
        assert_near(oa[t].score, ob[t].score, 2e-6);
    }
    sr_recommender_deinit(&A);
    sr_recommender_deinit(&B);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

static void test_int8_scan_same_lists(void **state) {
    (void)state;
    const char *svd[] = {"n_factors=24", "n_epochs=5"};
    check_int8_same("svd", svd, 2);
    const char *unb[] = {"n_factors=17", "n_epochs=3", "biased=false"};
    check_int8_same("svd", unb, 3);
    /* random factors that dominate the scores (no training, no biases): the int8 copy's
     * order differs from the exact one near the end of the list */
    const char *rnd[] = {"n_factors=32", "n_epochs=0", "init_std_dev=0.3"};
    check_int8_same("svd", rnd, 3);
    /* implicit models: scores not clipped, the bound decides alone */
    const char *als[] = {"factors=16", "iterations=3"};
    check_int8_same("als", als, 2);
    const char *bpr[] = {"factors=16", "iterations=3"};
    check_int8_same("bpr", bpr, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knn_foldin_matches_training),
        cmocka_unit_test(test_slope_one_foldin_matches_training),
        cmocka_unit_test(test_baseline_foldin_closed_form),
        cmocka_unit_test(test_svd_foldin_normal_equations),
        cmocka_unit_test(test_every_model_recommends),
        cmocka_unit_test(test_recommend_filters),
        cmocka_unit_test(test_fmat_scan),
        cmocka_unit_test(test_fmat_quantize),
        cmocka_unit_test(test_int8_scan_same_lists),
        cmocka_unit_test(test_int8_scan_adversary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
