/* Unit tests for the implicit-feedback models (popularity.c, item_knn.c, bpr.c) and their
 * shared helpers (implicit_weight.h).
 *
 * Set A (3 songs x 4 listeners, play counts; song 3 exists in the id space unplayed):
 *        s0 s1 s2
 *   u0    2  1  .          listeners: s0 3, s1 3, s2 2    plays: s0 4, s1 7, s2 4
 *   u1    1  .  3
 *   u2    .  4  .          song vectors over (u0..u3): s0 (2,1,0,1) |s0| = sqrt 6,
 *   u3    1  2  1          s1 (1,0,4,2) sqrt 21, s2 (0,3,0,1) sqrt 10
 * Cosine, no weighting: sim(0,1) = 4 / sqrt 126 = 0.3563483, sim(0,2) = 4 / sqrt 60 =
 * 0.5163978, sim(1,2) = 2 / sqrt 210 = 0.1380131. Lists (k = 100): s0 [s2, s1], s1 [s0,
 * s2], s2 [s0, s1]; with k = 1: s0 [s2], s1 [s0], s2 [s0].
 * Scores (weights = counts): u2 (s1 x 4): s0 4 x 0.3563483 = 1.4253933, s2 4 x 0.1380131
 * = 0.5520524, s1 0 (a song is not its own neighbour). u0 with k = 1: s2 2 x 0.5163978
 * (from s0's list) = 1.0327956, s0 1 x 0.3563483 (from s1's) = 0.3563483, s1 0.
 *
 * Set B (5 songs x 4 listeners) for the BM25 weights, K1 = 1.2, B = 0.75:
 *        s0 s1 s2 s3 s4
 *   u0    1  1  .  .  .     idf(u) = ln(1 + 5 / (1 + n_u)): u0, u2, u3 (2 songs)
 *   u1    2  1  1  .  .     ln(8/3) = 0.9808293; u1 (3 songs) ln(9/4) = 0.8109302
 *   u2    .  .  3  1  .     len: 3 2 4 3 2, avg 2.8; L_i = 0.25 + 0.75 len_i / 2.8:
 *   u3    .  .  .  2  2     1.0535714 0.7857143 1.3214286 1.0535714 0.7857143
 *   W(s0,u0) = 1 x 2.2 / (1.2 x 1.0535714 + 1) x 0.9808293 = 0.9529824
 *   W(s0,u1) = 2 x 2.2 / (1.2 x 1.0535714 + 2) x 0.8109302 = 1.0930701
 *   W(s1,u0) = 2.2 / (1.2 x 0.7857143 + 1) x 0.9808293     = 1.1106449
 *   W(s1,u1) = 2.2 / 1.9428571 x 0.8109302                 = 0.9182592
 *   sim(0,1) = (0.9529824 x 1.1106449 + 1.0930701 x 0.9182592)
 *              / (sqrt(0.9529824^2 + 1.0930701^2) sqrt(1.1106449^2 + 0.9182592^2))
 *            = 0.9867610;  likewise sim(0,2) = 0.3309865, sim(1,2) = 0.2798045,
 *              sim(2,3) = 0.5253506, sim(3,4) = 0.8112187
 *   tf-idf (sqrt(c) idf): sim(0,1) = 0.9851756, sim(2,3) = 0.5210337
 *   u1's weights (BM25 tf, no idf): s0 1.3479212, s1 1.1323529, s2 0.8508287, so
 *   score(u1, s3) = 0.8508287 x sim_2(3) = 0.8508287 x 0.5253506 = 0.4469834.
 *
 * BPR on a planted structure: 20 listeners x 20 songs, listeners 0-9 each play 6 of songs
 * 0-9, listeners 10-19 6 of songs 10-19 (seeded); after training every listener must
 * rank each unplayed song of their half above every song of the other half, and so must
 * a listener folded in with 4 songs of one half.
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

#include "models/implicit_weight.h"
#include "models/model.h"
#include "models/srm.h"
#include "util/mem.h"
#include "util/rng.h"

#include "model_helpers.h"

extern const sr_model_ops sr_model_popularity, sr_model_item_knn, sr_model_bpr;

#define TOL 1e-6

/* A trainset of raw counts from triples. */
static sr_trainset *make_ts(uint32_t nu, uint32_t ni, size_t n, const uint32_t *u,
                            const uint32_t *i, const float *r) {
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(nu, ni, n, u, i, r, 1, 100, &rs), SR_OK);
    sr_trainset *ts;
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    sr_ratings_free(rs);
    return ts;
}

/* Set A; song 3 unplayed. */
static sr_trainset *set_a(void) {
    const uint32_t u[] = {0, 0, 1, 1, 2, 3, 3, 3};
    const uint32_t i[] = {0, 1, 0, 2, 1, 0, 1, 2};
    const float r[] = {2, 1, 1, 3, 4, 1, 2, 1};
    return make_ts(4, 4, 8, u, i, r);
}

static sr_trainset *set_b(void) {
    const uint32_t u[] = {0, 0, 1, 1, 1, 2, 2, 3, 3};
    const uint32_t i[] = {0, 1, 0, 1, 2, 2, 3, 3, 4};
    const float r[] = {1, 1, 2, 1, 1, 3, 1, 2, 2};
    return make_ts(4, 5, 9, u, i, r);
}

/* Random counts: each (u, i) played with probability dens, 1..12 plays. */
static sr_trainset *random_ts(uint32_t nu, uint32_t ni, double dens, uint64_t seed) {
    uint32_t *u = malloc(sizeof *u * nu * ni), *it = malloc(sizeof *it * nu * ni);
    float *r = malloc(sizeof *r * nu * ni);
    sr_rng g;
    sr_rng_seed(&g, seed);
    size_t n = 0;
    for (uint32_t a = 0; a < nu; a++)
        for (uint32_t b = 0; b < ni; b++)
            if (sr_rng_double(&g) < dens)
                u[n] = a, it[n] = b, r[n++] = (float)sr_rng_range(&g, 1, 12);
    sr_trainset *ts = make_ts(nu, ni, n, u, it, r);
    free(u), free(it), free(r);
    return ts;
}

/* The planted structure (see the top). */
static sr_trainset *planted(void) {
    uint32_t u[120], it[120];
    float r[120];
    size_t n = 0;
    sr_rng g;
    sr_rng_seed(&g, 5);
    for (uint32_t a = 0; a < 20; a++) {
        uint32_t songs[10];
        for (uint32_t b = 0; b < 10; b++) songs[b] = b + (a < 10 ? 0 : 10);
        sr_rng_shuffle_u32(&g, songs, 10);
        /* six of them, ascending */
        for (uint32_t b = 0; b < 10; b++) {
            bool take = false;
            for (int t = 0; t < 6; t++) take |= songs[t] == (a < 10 ? 0 : 10) + b;
            if (take) u[n] = a, it[n] = (a < 10 ? 0 : 10) + b, r[n++] = (float)(1 + b % 3);
        }
    }
    return make_ts(20, 20, n, u, it, r);
}

static double est(const sr_model_ops *ops, const void *st, const sr_trainset *ts, uint32_t u,
                  uint32_t i) {
    double e = NAN;
    assert_true(ops->estimate(st, ts, u, i, &e));
    return e;
}

/* ---- the sorted-list search ---- */

static void test_search_helper(void **state) {
    (void)state;
    sr_rng g;
    sr_rng_seed(&g, 1);
    uint32_t row[160];
    for (int trial = 0; trial < 300; trial++) {
        /* short rows (every guess) and rows past the window (the window's path) */
        const uint64_t L = sr_rng_below(&g, trial % 2 ? 160 : 40);
        const uint32_t gap = 1 + (uint32_t)sr_rng_below(&g, 6);
        uint32_t v = (uint32_t)sr_rng_below(&g, 3);
        for (uint64_t q = 0; q < L; q++) row[q] = v, v += 1 + (uint32_t)sr_rng_below(&g, gap);
        const uint32_t n = v + 3 + (uint32_t)sr_rng_below(&g, 2 * v + 1);
        for (uint32_t j = 0; j < n; j++) {
            bool want = false;
            for (uint64_t q = 0; q < L; q++) want |= row[q] == j;
            for (uint64_t gs = 0; gs < (L ? L : 1); gs++)
                assert_int_equal(sr__iw_has(row, L, j, gs), want);
            assert_true(sr__iw_guess(L, j, n) < (L ? L : 1));
            const sr_iw_window w = sr__iw_window(L, j, 1.0 / n);
            assert_true(w.lo <= w.hi && w.hi <= L && w.hi - w.lo == (L < 32 ? L : 32));
            assert_int_equal(sr__iw_has_near(row, L, j, w), want);
        }
    }
}

/* ---- popularity ---- */

static void test_popularity(void **state) {
    (void)state;
    const sr_model_ops *ops = &sr_model_popularity;
    sr_trainset *ts = set_a();
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    void *st = fit(ops, p, ts, 1);
    const double listeners[] = {3, 3, 2, 0};
    for (uint32_t i = 0; i < 4; i++) {
        assert_true(est(ops, st, ts, 0, i) == listeners[i]);
        assert_true(est(ops, st, ts, 3, i) == listeners[i]); /* the same for everyone */
    }
    float out[4];
    ops->score_user(st, ts, 2, out, 0, 4);
    for (uint32_t i = 0; i < 4; i++) assert_true(out[i] == listeners[i]);
    /* fold-in: nothing personal, explain all zeros */
    const uint32_t items[] = {0, 2};
    const float r[] = {5, 1};
    sr_newuser u = {.n = 2, .items = items, .r = r};
    assert_int_equal(ops->fold_in(st, ts, p, &u, NULL), SR_OK);
    ops->score_new(st, ts, &u, out, 1, 3);
    assert_true(out[1] == 3 && out[2] == 2);
    double w[2] = {1, 1}, e;
    assert_true(ops->estimate_new(st, ts, &u, 1, &e) && e == 3);
    assert_true(ops->explain(st, ts, &u, 1, w));
    assert_true(w[0] == 0 && w[1] == 0);
    ops->user_free(u.state);
    ops->free(st);

    set(ops, p, "by=plays");
    st = fit(ops, p, ts, 1);
    const double plays[] = {4, 7, 4, 0};
    for (uint32_t i = 0; i < 4; i++) assert_true(est(ops, st, ts, 1, i) == plays[i]);
    ops->free(st);
    /* a window needs listen times: this trainset has none */
    set(ops, p, "window_days=1");
    void *none = NULL;
    sr_fit_ctx c = {.seed = 1, .threads = 1};
    assert_int_equal(ops->fit(ts, p, &c, &none, NULL), SR_E_INPUT);
    assert_null(none);
    sr_trainset_free(ts);
}

/* Popularity within a time window: only pairs first heard within window_days of the
 * latest first listen count. Song 0: three listeners long ago; song 1: one listener at
 * the latest time; song 2: one of each; a pair of unknown time (0) never counts. */
static void test_popularity_window(void **state) {
    (void)state;
    const uint32_t U[] = {0, 1, 2, 0, 1, 3, 3}, I[] = {0, 0, 0, 1, 2, 2, 1};
    const float R[] = {1, 2, 3, 4, 5, 6, 7};
    const uint32_t T[] = {1000, 1000, 1000, 100000, 1000, 99000, 0};
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(4, 3, 7, U, I, R, 1, 100, &rs), SR_OK);
    rs->ts = sr_mallocarray(7, sizeof *rs->ts);
    assert_non_null(rs->ts);
    memcpy(rs->ts, T, sizeof T);
    sr_trainset *ts;
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    sr_ratings_free(rs);
    assert_non_null(ts->ir_ts);
    const sr_model_ops *ops = &sr_model_popularity;
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    void *st = fit(ops, p, ts, 1);
    assert_true(est(ops, st, ts, 0, 0) == 3 && est(ops, st, ts, 0, 1) == 2 &&
                est(ops, st, ts, 0, 2) == 2);
    ops->free(st);
    set(ops, p, "window_days=1"); /* latest 100000: the window starts at 13600 */
    st = fit(ops, p, ts, 1);
    assert_true(est(ops, st, ts, 0, 0) == 0 && est(ops, st, ts, 0, 1) == 1 &&
                est(ops, st, ts, 0, 2) == 1);
    ops->free(st);
    set(ops, p, "by=plays");
    st = fit(ops, p, ts, 1);
    assert_true(est(ops, st, ts, 0, 1) == 4 && est(ops, st, ts, 0, 2) == 6);
    ops->free(st);
    sr_trainset_free(ts);
}

/* ---- item-item neighbours ---- */

/* The similarity of i to j as the model reports it (NaN: not a neighbour). */
static float sim_of(const void *st, const sr_trainset *ts, uint32_t i, uint32_t j) {
    float *out = malloc(ts->n_items * sizeof *out);
    assert_true(sr_model_item_knn.similar(st, ts, i, out));
    float v = out[j];
    free(out);
    return v;
}

static void test_itemknn_by_hand(void **state) {
    (void)state;
    const sr_model_ops *ops = &sr_model_item_knn;
    sr_trainset *ts = set_a();
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    set(ops, p, "weighting=none");
    void *st = fit(ops, p, ts, 1);
    const double s01 = 4 / sqrt(126), s02 = 4 / sqrt(60), s12 = 2 / sqrt(210);
    assert_float_equal(sim_of(st, ts, 0, 1), s01, TOL);
    assert_float_equal(sim_of(st, ts, 1, 0), s01, TOL);
    assert_float_equal(sim_of(st, ts, 0, 2), s02, TOL);
    assert_float_equal(sim_of(st, ts, 2, 1), s12, TOL);
    assert_true(isnan(sim_of(st, ts, 0, 0)) && isnan(sim_of(st, ts, 0, 3)));
    assert_true(isnan(sim_of(st, ts, 3, 0))); /* unplayed: no neighbours */
    /* u2 played s1 four times */
    assert_float_equal(est(ops, st, ts, 2, 0), 4 * s01, TOL);
    assert_float_equal(est(ops, st, ts, 2, 2), 4 * s12, TOL);
    assert_float_equal(est(ops, st, ts, 2, 1), 0, TOL);
    assert_float_equal(est(ops, st, ts, 2, 3), 0, TOL);
    assert_float_equal(est(ops, st, ts, 0, 2), 2 * s02 + 1 * s12, TOL);
    float out[4];
    ops->score_user(st, ts, 2, out, 0, 4);
    assert_float_equal(out[0], 4 * s01, TOL);
    assert_float_equal(out[2], 4 * s12, TOL);
    assert_true(out[1] == 0 && out[3] == 0);
    /* a new listener with u2's plays scores as u2; each term is count x similarity */
    const uint32_t items[] = {1};
    const float r[] = {4};
    sr_newuser u = {.n = 1, .items = items, .r = r};
    assert_int_equal(ops->fold_in(st, ts, p, &u, NULL), SR_OK);
    double e, w[1];
    assert_true(ops->estimate_new(st, ts, &u, 0, &e));
    assert_float_equal(e, 4 * s01, TOL);
    assert_true(ops->explain(st, ts, &u, 0, w));
    assert_float_equal(w[0], 4 * s01, TOL);
    ops->score_new(st, ts, &u, out, 0, 4);
    assert_float_equal(out[0], 4 * s01, TOL);
    assert_float_equal(out[2], 4 * s12, TOL);
    ops->user_free(u.state);
    ops->free(st);

    /* k = 1: s0 keeps s2, s1 keeps s0, s2 keeps s0 */
    set(ops, p, "k=1");
    st = fit(ops, p, ts, 1);
    assert_float_equal(sim_of(st, ts, 0, 2), s02, TOL);
    assert_true(isnan(sim_of(st, ts, 0, 1)));
    assert_float_equal(sim_of(st, ts, 1, 0), s01, TOL);
    assert_true(isnan(sim_of(st, ts, 1, 2)));
    assert_float_equal(sim_of(st, ts, 2, 0), s02, TOL);
    assert_float_equal(est(ops, st, ts, 0, 2), 2 * s02, TOL);
    assert_float_equal(est(ops, st, ts, 0, 0), 1 * s01, TOL);
    assert_float_equal(est(ops, st, ts, 0, 1), 0, TOL);
    ops->free(st);
    sr_trainset_free(ts);
}

static void test_itemknn_bm25_by_hand(void **state) {
    (void)state;
    const sr_model_ops *ops = &sr_model_item_knn;
    sr_trainset *ts = set_b();
    /* the weights themselves */
    const sr_iw bm25 = {SR_IW_BM25, 1.2, 0.75}, tfidf = {SR_IW_TFIDF, 0, 0};
    float idf[4], L[5];
    sr__iw_idf(&bm25, ts, idf);
    const double i3 = log(8.0 / 3), i4 = log(9.0 / 4);
    assert_float_equal(idf[0], i3, TOL);
    assert_float_equal(idf[1], i4, TOL);
    assert_float_equal(idf[2], i3, TOL);
    assert_float_equal(idf[3], i3, TOL);
    sr__iw_lnorm(&bm25, ts, L);
    const double Lw[5] = {0.25 + 0.75 * 3 / 2.8, 0.25 + 0.75 * 2 / 2.8, 0.25 + 0.75 * 4 / 2.8,
                          0.25 + 0.75 * 3 / 2.8, 0.25 + 0.75 * 2 / 2.8};
    for (int i = 0; i < 5; i++) assert_float_equal(L[i], Lw[i], TOL);
    assert_float_equal(sr__iw_tf(&bm25, 2, L[0]) * idf[1], 1.0930701, 1e-6);
    assert_float_equal(sr__iw_tf(&bm25, 1, L[1]) * idf[0], 1.1106449, 1e-6);
    sr__iw_lnorm(&tfidf, ts, L);
    for (int i = 0; i < 5; i++) assert_true(L[i] == 1);
    assert_float_equal(sr__iw_tf(&tfidf, 9, 1), 3, TOL);
    /* a listener of every item still weighs: ln(1 + 3/6) */
    assert_float_equal(sr__iw_idf_of(5, 3), log(1.5), TOL);

    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    set(ops, p, "weighting=bm25");
    void *st = fit(ops, p, ts, 1);
    assert_float_equal(sim_of(st, ts, 0, 1), 0.9867610, 1e-6);
    assert_float_equal(sim_of(st, ts, 0, 2), 0.3309865, 1e-6);
    assert_float_equal(sim_of(st, ts, 2, 3), 0.5253506, 1e-6);
    assert_float_equal(sim_of(st, ts, 4, 3), 0.8112187, 1e-6);
    assert_true(isnan(sim_of(st, ts, 0, 3)));
    /* score(u1, s3) = w(s2) sim_2(3): s0's and s1's lists do not hold s3 */
    assert_float_equal(est(ops, st, ts, 1, 3), 0.8508287 * 0.5253506, 1e-6);
    /* fold-in of u1's plays: the three terms sum to the score */
    const uint32_t items[] = {0, 1, 2};
    const float r[] = {2, 1, 1};
    sr_newuser u = {.n = 3, .items = items, .r = r};
    assert_int_equal(ops->fold_in(st, ts, p, &u, NULL), SR_OK);
    double w[3], e;
    assert_true(ops->estimate_new(st, ts, &u, 1, &e));
    assert_true(ops->explain(st, ts, &u, 1, w));
    assert_float_equal(w[0], 1.3479212 * 0.9867610, 1e-6);
    assert_float_equal(w[1], 0, TOL);
    assert_float_equal(w[2], 0.8508287 * 0.2798045, 1e-6);
    assert_float_equal(w[0] + w[1] + w[2], e, TOL);
    assert_float_equal(e, est(ops, st, ts, 1, 1), TOL);
    ops->user_free(u.state);
    ops->free(st);

    set(ops, p, "weighting=tfidf");
    st = fit(ops, p, ts, 1);
    assert_float_equal(sim_of(st, ts, 0, 1), 0.9851756, 1e-6);
    assert_float_equal(sim_of(st, ts, 3, 2), 0.5210337, 1e-6);
    ops->free(st);
    sr_trainset_free(ts);
}

/* A family's listens: everyone played songs 0-2, the third listener song 3 too. Under
 * tf-idf and BM25 every listener weighs (idf > 0 however many songs they played), so the
 * songs everyone played are each other's neighbours — with `implicit`'s unsmoothed idf
 * every weight here would be 0 and no song would have a neighbour. */
static void test_itemknn_everyone_played(void **state) {
    (void)state;
    const sr_model_ops *ops = &sr_model_item_knn;
    const uint32_t u[] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 2}, it[] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 3};
    const float r[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    sr_trainset *ts = make_ts(3, 4, 10, u, it, r);
    static const char *const kinds[] = {"weighting=tfidf", "weighting=bm25", "weighting=none"};
    for (int k = 0; k < 3; k++) {
        double p[SR_MAX_PARAMS];
        sr_params_defaults(ops, p);
        set(ops, p, kinds[k]);
        void *st = fit(ops, p, ts, 1);
        /* songs 0 and 1 have the same listeners: cosine 1 whatever the weights */
        assert_float_equal(sim_of(st, ts, 0, 1), 1, 1e-6);
        assert_true(sim_of(st, ts, 3, 0) > 0 && sim_of(st, ts, 3, 0) < 1);
        assert_true(est(ops, st, ts, 0, 3) > 0);
        ops->free(st);
    }
    sr_trainset_free(ts);
}

/* Every song's list against a dense double-precision reference: W, cosines, the k best
 * with sim > 0 (ties: lower id). Near ties at the k-th place are not judged. */
static void check_reference(const sr_trainset *ts, const void *st, const sr_iw *w, uint32_t k) {
    const uint32_t nu = ts->n_users, ni = ts->n_items;
    double *W = calloc((size_t)ni * nu, sizeof *W), *S = calloc(ni, sizeof *S);
    float *idf = malloc(nu * sizeof *idf), *L = malloc(ni * sizeof *L), *out = malloc(ni * 4);
    sr__iw_idf(w, ts, idf);
    sr__iw_lnorm(w, ts, L);
    for (uint32_t i = 0; i < ni; i++)
        for (uint64_t q = ts->item_ptr[i]; q < ts->item_ptr[i + 1]; q++)
            W[(size_t)i * nu + ts->ir_user[q]] =
                sr__iw_tf(w, ts->ir_r[q], L[i]) * idf[ts->ir_user[q]];
    for (uint32_t i = 0; i < ni; i++) {
        for (uint32_t j = 0; j < ni; j++) {
            double d = 0, a = 0, b = 0;
            for (uint32_t u = 0; u < nu; u++) {
                d += W[(size_t)i * nu + u] * W[(size_t)j * nu + u];
                a += W[(size_t)i * nu + u] * W[(size_t)i * nu + u];
                b += W[(size_t)j * nu + u] * W[(size_t)j * nu + u];
            }
            S[j] = j != i && a > 0 && b > 0 ? d / sqrt(a * b) : 0;
        }
        /* the k-th best similarity */
        double kth = 0;
        for (uint32_t j = 0; j < ni; j++) {
            uint32_t rank = 0;
            for (uint32_t x = 0; x < ni; x++) rank += S[x] > S[j] || (S[x] == S[j] && x < j);
            if (rank == k - 1) kth = S[j];
        }
        assert_true(sr_model_item_knn.similar(st, ts, i, out));
        for (uint32_t j = 0; j < ni; j++) {
            if (S[j] > 0 && fabs(S[j] - kth) < 1e-5) continue; /* near the cut */
            const bool in = S[j] > 0 && (S[j] > kth || kth == 0);
            if (in) {
                if (isnan(out[j]) || fabs(out[j] - S[j]) > 1e-5)
                    fail_msg("sim(%u, %u): %g, want %g", i, j, out[j], S[j]);
            } else if (!isnan(out[j])) {
                fail_msg("sim(%u, %u) = %g kept, want dropped (%g, k-th %g)", i, j, out[j], S[j],
                         kth);
            }
        }
    }
    free(W), free(S), free(idf), free(L), free(out);
}

static void test_itemknn_reference(void **state) {
    (void)state;
    const sr_model_ops *ops = &sr_model_item_knn;
    sr_trainset *ts = random_ts(30, 40, 0.25, 9);
    const char *kinds[] = {"weighting=none", "weighting=tfidf", "weighting=bm25"};
    for (int wk = 0; wk < 3; wk++)
        for (int kk = 0; kk < 2; kk++) {
            double p[SR_MAX_PARAMS];
            sr_params_defaults(ops, p);
            set(ops, p, kinds[wk]);
            const uint32_t k = kk ? 100 : 3;
            set(ops, p, kk ? "k=100" : "k=3");
            void *a = fit(ops, p, ts, 1), *b = fit(ops, p, ts, 2);
            const sr_iw w = {(sr_iw_kind)wk, 1.2, 0.75};
            check_reference(ts, a, &w, k);
            /* the thread count changes nothing */
            float *x = malloc(40 * 4), *y = malloc(40 * 4);
            for (uint32_t i = 0; i < 40; i++) {
                assert_true(ops->similar(a, ts, i, x) && ops->similar(b, ts, i, y));
                assert_memory_equal(x, y, 40 * 4);
            }
            /* score_user agrees with estimate */
            for (uint32_t u = 0; u < 30; u++) {
                ops->score_user(a, ts, u, x, 5, 37);
                for (uint32_t i = 5; i < 37; i++)
                    assert_float_equal(x[i], est(ops, a, ts, u, i), 1e-4);
            }
            free(x), free(y);
            ops->free(a), ops->free(b);
        }
    sr_trainset_free(ts);
}

/* A catalog of 300,000 ids with 43 songs played, spread across the fit's 2^18-song
 * accumulator blocks, gives exactly the lists of the same plays on ids 0..42 (the sums
 * run in the same order). */
static void test_itemknn_blocks(void **state) {
    (void)state;
    const sr_model_ops *ops = &sr_model_item_knn;
    enum { NU = 30, NC = 43, SPREAD = 6977, NBIG = 300000 };
    uint32_t u[NU * NC], ic[NU * NC], ib[NU * NC];
    float r[NU * NC];
    size_t n = 0;
    sr_rng g;
    sr_rng_seed(&g, 21);
    for (uint32_t a = 0; a < NU; a++)
        for (uint32_t c = 0; c < NC; c++)
            if (sr_rng_double(&g) < 0.3)
                u[n] = a, ic[n] = c, ib[n] = c * SPREAD + 5, r[n++] = (float)sr_rng_range(&g, 1, 9);
    sr_trainset *small = make_ts(NU, NC, n, u, ic, r), *big = make_ts(NU, NBIG, n, u, ib, r);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    set(ops, p, "k=10");
    void *a = fit(ops, p, small, 1), *b = fit(ops, p, big, 2);
    float *x = malloc(NC * sizeof *x), *y = malloc(NBIG * sizeof *y);
    for (uint32_t c = 0; c < NC; c++) {
        assert_true(ops->similar(a, small, c, x) && ops->similar(b, big, c * SPREAD + 5, y));
        for (uint32_t d = 0; d < NC; d++) {
            const float want = x[d], got = y[d * SPREAD + 5];
            assert_true((isnan(want) && isnan(got)) || want == got);
        }
    }
    for (uint32_t v = 0; v < NU; v++)
        for (uint32_t c = 0; c < NC; c += 5)
            assert_true(est(ops, a, small, v, c) == est(ops, b, big, v, c * SPREAD + 5));
    free(x), free(y);
    ops->free(a), ops->free(b);
    sr_trainset_free(small), sr_trainset_free(big);
}

/* ---- BPR ---- */

/* Every listener of the planted set ranks each unplayed song of their half above every
 * song of the other half; scores from score_user. */
static void check_planted_users(const sr_trainset *ts, const void *st) {
    float out[20];
    for (uint32_t u = 0; u < 20; u++) {
        sr_model_bpr.score_user(st, ts, u, out, 0, 20);
        const uint32_t own = u < 10 ? 0 : 10, other = 10 - own;
        float worst_own = INFINITY, best_other = -INFINITY;
        for (uint32_t b = 0; b < 10; b++) {
            bool played = false;
            for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++)
                played |= ts->ur_item[q] == own + b;
            if (!played && out[own + b] < worst_own) worst_own = out[own + b];
            if (out[other + b] > best_other) best_other = out[other + b];
        }
        if (!(worst_own > best_other))
            fail_msg("user %u: worst own-half song %g <= best other-half %g", u, worst_own,
                     best_other);
    }
}

/* The planted set's own-half songs that a listener did not play are negatives in their
 * training samples as much as the other half's songs, so a model free enough memorises
 * them: the group structure wins through regularisation (reg 0.01 failed on 20 of 40
 * fit seeds, reg 0.1 on none of 150, for 8 factors at lr 0.05, 100 iterations; with 64
 * factors at lr 0.01 it needs 300 iterations). */
static void bpr_params_planted(double *p) {
    sr_params_defaults(&sr_model_bpr, p);
    set(&sr_model_bpr, p, "factors=8");
    set(&sr_model_bpr, p, "learning_rate=0.05");
    set(&sr_model_bpr, p, "regularization=0.1");
}

static void test_bpr_planted(void **state) {
    (void)state;
    const sr_model_ops *ops = &sr_model_bpr;
    sr_trainset *ts = planted();
    double p[SR_MAX_PARAMS];
    for (int smp = 0; smp < 2; smp++) {
        bpr_params_planted(p);
        set(ops, p, smp ? "sampling=uniform" : "sampling=by_user");
        for (int threads = 1; threads <= 2; threads++) {
            void *st = fit(ops, p, ts, threads);
            check_planted_users(ts, st);
            ops->free(st);
        }
        /* the portable kernel too */
        sr_fit_ctx c = {.seed = 42, .threads = 1};
        void *st = NULL;
        assert_int_equal(sr__bpr_fit(ts, p, &c, 1, &st, NULL), SR_OK);
        check_planted_users(ts, st);
        ops->free(st);
    }
    /* each negative serving 4 samples learns the planted tastes too */
    bpr_params_planted(p);
    set(ops, p, "neg_reuse=4");
    void *sr4 = fit(ops, p, ts, 2);
    check_planted_users(ts, sr4);
    ops->free(sr4);
    /* and with the default 64 factors and learning rate */
    sr_params_defaults(ops, p);
    set(ops, p, "iterations=300");
    set(ops, p, "regularization=0.1");
    void *st = fit(ops, p, ts, 1);
    check_planted_users(ts, st);
    ops->free(st);
    sr_trainset_free(ts);
}

/* The AVX-512 and portable kernels see the same samples: after one iteration their
 * scores agree to float rounding; one thread and one seed give the same model twice. */
static void test_bpr_kernels(void **state) {
    (void)state;
    const sr_model_ops *ops = &sr_model_bpr;
    sr_trainset *ts = random_ts(30, 40, 0.25, 3);
    for (int smp = 0; smp < 2; smp++) {
        double p[SR_MAX_PARAMS];
        sr_params_defaults(ops, p);
        set(ops, p, "iterations=1");
        set(ops, p, "factors=37"); /* ld 48: three vectors, one of them in the odd tail */
        set(ops, p, "learning_rate=0.1");
        set(ops, p, smp ? "sampling=uniform" : "sampling=by_user");
        sr_fit_ctx c = {.seed = 7, .threads = 1};
        void *a = NULL, *b = NULL, *a2 = NULL;
        assert_int_equal(sr__bpr_fit(ts, p, &c, 0, &a, NULL), SR_OK);
        assert_int_equal(sr__bpr_fit(ts, p, &c, 0, &a2, NULL), SR_OK);
        assert_int_equal(sr__bpr_fit(ts, p, &c, 1, &b, NULL), SR_OK);
        double moved = 0;
        for (uint32_t u = 0; u < 30; u++)
            for (uint32_t i = 0; i < 40; i++) {
                if (!sr_trainset_knows_item(ts, i)) continue;
                const double x = est(ops, a, ts, u, i), y = est(ops, b, ts, u, i);
                assert_float_equal(x, y, 1e-5);
                assert_true(x == est(ops, a2, ts, u, i));
                moved += fabs(x);
            }
        assert_true(moved > 0.1); /* the iteration did something */
        ops->free(a), ops->free(a2), ops->free(b);
    }
    sr_trainset_free(ts);
}

static void fold_check(const sr_trainset *ts, const void *st, const double *p,
                       const uint32_t *items, uint32_t own) {
    const sr_model_ops *ops = &sr_model_bpr;
    const float r[4] = {1, 3, 1, 2};
    sr_newuser u = {.n = 4, .items = items, .r = r};
    assert_int_equal(ops->fold_in(st, ts, p, &u, NULL), SR_OK);
    float out[20];
    ops->score_new(st, ts, &u, out, 0, 20);
    float worst_own = INFINITY, best_other = -INFINITY;
    for (uint32_t b = 0; b < 10; b++) {
        bool played = false;
        for (int t = 0; t < 4; t++) played |= items[t] == own + b;
        if (!played && out[own + b] < worst_own) worst_own = out[own + b];
        if (out[10 - own + b] > best_other) best_other = out[10 - own + b];
    }
    if (!(worst_own > best_other))
        fail_msg("folded-in listener: worst own-half song %g <= best other-half %g", worst_own,
                 best_other);
    /* estimate_new agrees with the scan; explain's parts sum to the personal part */
    for (uint32_t i = 0; i < 20; i++) {
        double e, w[4], bias;
        assert_true(ops->estimate_new(st, ts, &u, i, &e));
        assert_float_equal(out[i], e, 1e-5);
        assert_true(ops->explain(st, ts, &u, i, w));
        sr_newuser none = {.n = 0, .items = items, .r = r};
        assert_int_equal(ops->fold_in(st, ts, p, &none, NULL), SR_OK);
        assert_true(ops->estimate_new(st, ts, &none, i, &bias)); /* b_i */
        ops->user_free(none.state);
        assert_float_equal(w[0] + w[1] + w[2] + w[3], e - bias, 1e-5);
    }
    /* the same songs give the same listener */
    sr_newuser again = {.n = 4, .items = items, .r = r};
    assert_int_equal(ops->fold_in(st, ts, p, &again, NULL), SR_OK);
    float out2[20];
    ops->score_new(st, ts, &again, out2, 0, 20);
    assert_memory_equal(out, out2, sizeof out);
    ops->user_free(again.state);
    ops->user_free(u.state);
}

static void test_bpr_fold_in(void **state) {
    (void)state;
    const sr_model_ops *ops = &sr_model_bpr;
    sr_trainset *ts = planted();
    double p[SR_MAX_PARAMS];
    bpr_params_planted(p);
    void *st = fit(ops, p, ts, 1);
    const uint32_t a[4] = {0, 3, 4, 8}, b[4] = {11, 12, 15, 19};
    fold_check(ts, st, p, a, 0);
    fold_check(ts, st, p, b, 10);
    /* an unknown song has no score; similar is the cosine of song factors */
    double e;
    assert_false(ops->estimate(st, ts, 0, 25, &e));
    float sims[20];
    assert_true(ops->similar(st, ts, 0, sims));
    assert_float_equal(sims[0], 1, 1e-5);
    float own = -2, other = 2;
    for (uint32_t i = 1; i < 10; i++) own = sims[i] > own ? sims[i] : own;
    for (uint32_t i = 10; i < 20; i++) other = sims[i] < other ? sims[i] : other;
    assert_true(own > other);
    ops->free(st);
    sr_trainset_free(ts);
}

/* ---- all three: scans, explain, files ---- */

static const sr_model_ops *const all_ops[3] = {&sr_model_popularity, &sr_model_item_knn,
                                               &sr_model_bpr};

static void params_for(const sr_model_ops *ops, double *p) {
    sr_params_defaults(ops, p);
    if (ops == &sr_model_bpr) set(ops, p, "iterations=20");
}

/* A new listener's scan agrees with estimate_new, and explain sums to the personal part
 * (estimate_new minus what a listener with no plays gets). */
static void test_scans_and_explain(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(25, 30, 0.3, 11);
    const uint32_t items[] = {1, 4, 5, 17, 22};
    const float r[] = {3, 1, 7, 2, 1};
    for (int m = 0; m < 3; m++) {
        const sr_model_ops *ops = all_ops[m];
        double p[SR_MAX_PARAMS];
        params_for(ops, p);
        void *st = fit(ops, p, ts, 2);
        sr_newuser u = {.n = 5, .items = items, .r = r}, none = {.n = 0, .items = items, .r = r};
        assert_int_equal(ops->fold_in(st, ts, p, &u, NULL), SR_OK);
        assert_int_equal(ops->fold_in(st, ts, p, &none, NULL), SR_OK);
        float out[30], user[30];
        ops->score_new(st, ts, &u, out, 0, 30);
        ops->score_user(st, ts, 3, user, 0, 30);
        for (uint32_t i = 0; i < 30; i++) {
            double e, base, w[5];
            if (!sr_trainset_knows_item(ts, i)) continue;
            assert_true(ops->estimate_new(st, ts, &u, i, &e));
            assert_float_equal(out[i], e, 1e-5);
            assert_float_equal(user[i], est(ops, st, ts, 3, i), 1e-5);
            assert_true(ops->estimate_new(st, ts, &none, i, &base));
            assert_true(ops->explain(st, ts, &u, i, w));
            assert_float_equal(w[0] + w[1] + w[2] + w[3] + w[4], e - base, 1e-5);
        }
        if (u.state) ops->user_free(u.state);
        if (none.state) ops->user_free(none.state);
        ops->free(st);
    }
    sr_trainset_free(ts);
}

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "/tmp/test_implicit_%d_%s.srm", (int)getpid(), tag);
}

static sr_err save(const sr_model_ops *ops, const void *st, const sr_trainset *ts,
                   sr_srm_precision prec, const char *path) {
    sr_srm_writer *w = sr_srm_writer_new(prec);
    if (!w) return SR_E_NOMEM;
    ops->save(st, ts, w);
    sr_err e = sr_srm_write(w, path, NULL);
    sr_srm_writer_free(w);
    return e;
}

/* Loads path into *st (NULL on failure); *r is the open file (NULL on failure). */
static sr_err load(const sr_model_ops *ops, const char *path, const sr_trainset *ts,
                   const double *p, sr_srm **r, void **st) {
    *st = NULL;
    sr_err e = sr_srm_open(path, r, NULL);
    if (e) return e;
    e = ops->load(*r, ts, p, st, NULL);
    if (e) {
        assert_null(*st);
        sr_srm_close(*r);
        *r = NULL;
    }
    return e;
}

static void test_roundtrip(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(25, 31, 0.3, 13); /* song 30 and some users may be unknown */
    for (int m = 0; m < 3; m++) {
        const sr_model_ops *ops = all_ops[m];
        double p[SR_MAX_PARAMS];
        params_for(ops, p);
        void *st = fit(ops, p, ts, 1);
        for (int prec = 0; prec < 2; prec++) {
            char path[128];
            tmp_path(path, sizeof path, ops->name);
            assert_int_equal(save(ops, st, ts, (sr_srm_precision)prec, path), SR_OK);
            sr_srm *r;
            void *st2;
            assert_int_equal(load(ops, path, ts, p, &r, &st2), SR_OK);
            const double tol = prec ? 5e-3 : 0;
            float a[31], b[31];
            for (uint32_t u = 0; u < 26; u++) {
                for (uint32_t i = 0; i < 32; i++) {
                    double x, y;
                    const bool ok = ops->estimate(st, ts, u, i, &x);
                    assert_int_equal(ok, ops->estimate(st2, ts, u, i, &y));
                    if (ok && !(fabs(x - y) <= tol))
                        fail_msg("%s %s: (%u, %u) %.9g before, %.9g after", ops->name,
                                 prec ? "f16" : "f32", u, i, x, y);
                }
                if (u == 25) continue;
                ops->score_user(st, ts, u, a, 0, 31);
                ops->score_user(st2, ts, u, b, 0, 31);
                for (uint32_t i = 0; i < 31; i++)
                    assert_true((isnan(a[i]) && isnan(b[i])) || fabs(a[i] - b[i]) <= tol + 1e-6);
            }
            if (ops->similar) {
                for (uint32_t i = 0; i < 31; i++) {
                    assert_true(ops->similar(st, ts, i, a) && ops->similar(st2, ts, i, b));
                    for (uint32_t j = 0; j < 31; j++)
                        assert_true((isnan(a[j]) && isnan(b[j])) || fabs(a[j] - b[j]) <= 2e-3);
                }
            }
            ops->free(st2);
            sr_srm_close(r);
            unlink(path);
        }
        ops->free(st);
    }
    sr_trainset_free(ts);
}

/* Damaged model sections are refused with SR_E_CORRUPT. */
static void test_load_corrupt(void **state) {
    (void)state;
    sr_trainset *ts = set_a();
    char path[128];
    tmp_path(path, sizeof path, "corrupt");
    sr_srm *r;
    void *st;
    double p[SR_MAX_PARAMS];
    /* a neighbour id out of range */
    sr_params_defaults(&sr_model_item_knn, p);
    const uint64_t ptr[5] = {0, 1, 1, 1, 1};
    const uint32_t idx[1] = {7};
    const float sim[1] = {0.5f}, L[4] = {1, 1, 1, 1};
    sr_srm_writer *w = sr_srm_writer_new(SR_SRM_PREC_F32);
    sr_srm_put(w, "m.nb_ptr", SR_SRM_U64, ptr, 5);
    sr_srm_put(w, "m.nb_idx", SR_SRM_U32, idx, 1);
    sr_srm_put(w, "m.nb_sim", SR_SRM_F32, sim, 1);
    sr_srm_put(w, "m.lnorm", SR_SRM_F32, L, 4);
    assert_int_equal(sr_srm_write(w, path, NULL), SR_OK);
    sr_srm_writer_free(w);
    assert_int_equal(load(&sr_model_item_knn, path, ts, p, &r, &st), SR_E_CORRUPT);
    /* BPR factors of another width */
    sr_params_defaults(&sr_model_bpr, p);
    set(&sr_model_bpr, p, "factors=4");
    void *b = fit(&sr_model_bpr, p, ts, 1);
    assert_int_equal(save(&sr_model_bpr, b, ts, SR_SRM_PREC_F32, path), SR_OK);
    set(&sr_model_bpr, p, "factors=5");
    assert_int_equal(load(&sr_model_bpr, path, ts, p, &r, &st), SR_E_CORRUPT);
    sr_model_bpr.free(b);
    /* popularity of another catalog size */
    sr_params_defaults(&sr_model_popularity, p);
    void *q = fit(&sr_model_popularity, p, ts, 1);
    assert_int_equal(save(&sr_model_popularity, q, ts, SR_SRM_PREC_F32, path), SR_OK);
    sr_trainset *tb = set_b();
    assert_int_equal(load(&sr_model_popularity, path, tb, p, &r, &st), SR_E_CORRUPT);
    sr_trainset_free(tb);
    sr_model_popularity.free(q);
    unlink(path);
    sr_trainset_free(ts);
}

static void test_bad_params(void **state) {
    (void)state;
    sr_trainset *ts = set_a();
    sr_fit_ctx c = {.seed = 1, .threads = 1};
    double p[SR_MAX_PARAMS];
    void *st = (void *)1;
    sr_params_defaults(&sr_model_item_knn, p);
    p[0] = 0; /* k */
    assert_int_equal(sr_model_item_knn.fit(ts, p, &c, &st, NULL), SR_E_USAGE);
    assert_null(st);
    sr_params_defaults(&sr_model_bpr, p);
    p[0] = 0; /* factors */
    assert_int_equal(sr_model_bpr.fit(ts, p, &c, &st, NULL), SR_E_USAGE);
    sr_params_defaults(&sr_model_bpr, p);
    p[sr_params_index(&sr_model_bpr, "sampling")] = 2;
    assert_int_equal(sr_model_bpr.fit(ts, p, &c, &st, NULL), SR_E_USAGE);
    sr_params_defaults(&sr_model_popularity, p);
    p[0] = 2; /* by */
    assert_int_equal(sr_model_popularity.fit(ts, p, &c, &st, NULL), SR_E_USAGE);
    sr_trainset_free(ts);
}

/* Every allocation of fit, fold-in, save and load failing in turn: SR_E_NOMEM and
 * nothing half-built (ASan reports any leak). */
static void test_alloc_failures(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(12, 15, 0.4, 17);
    const uint32_t items[] = {2, 3, 9};
    const float r[] = {1, 2, 3};
    char path[128];
    tmp_path(path, sizeof path, "nomem");
    for (int m = 0; m < 4; m++) {
        const sr_model_ops *ops = all_ops[m < 3 ? m : 2];
        double p[SR_MAX_PARAMS];
        params_for(ops, p);
        if (m == 3) set(ops, p, "sampling=uniform");
        sr_fit_ctx c = {.seed = 1, .threads = 1};
        void *st = NULL;
        for (long n = 0;; n++) {
            sr_mem_fail_after(n);
            sr_err e = ops->fit(ts, p, &c, &st, NULL);
            sr_mem_fail_after(-1);
            if (e == SR_OK) break;
            assert_int_equal(e, SR_E_NOMEM);
            assert_null(st);
        }
        for (long n = 0;; n++) {
            sr_newuser u = {.n = 3, .items = items, .r = r};
            sr_mem_fail_after(n);
            sr_err e = ops->fold_in(st, ts, p, &u, NULL);
            sr_mem_fail_after(-1);
            if (e == SR_OK) {
                if (u.state) ops->user_free(u.state);
                break;
            }
            assert_int_equal(e, SR_E_NOMEM);
            assert_null(u.state);
        }
        for (long n = 0;; n++) {
            sr_mem_fail_after(n);
            sr_err e = save(ops, st, ts, SR_SRM_PREC_F16, path);
            sr_mem_fail_after(-1);
            if (e == SR_OK) break;
            assert_int_equal(e, SR_E_NOMEM);
        }
        for (long n = 0;; n++) {
            sr_srm *rd = NULL;
            void *st2 = NULL;
            sr_mem_fail_after(n);
            sr_err e = load(ops, path, ts, p, &rd, &st2);
            sr_mem_fail_after(-1);
            if (e == SR_OK) {
                ops->free(st2);
                sr_srm_close(rd);
                break;
            }
            assert_int_equal(e, SR_E_NOMEM);
            assert_null(st2);
        }
        unlink(path);
        ops->free(st);
    }
    sr_trainset_free(ts);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_helper),
        cmocka_unit_test(test_popularity),
        cmocka_unit_test(test_popularity_window),
        cmocka_unit_test(test_itemknn_by_hand),
        cmocka_unit_test(test_itemknn_bm25_by_hand),
        cmocka_unit_test(test_itemknn_everyone_played),
        cmocka_unit_test(test_itemknn_reference),
        cmocka_unit_test(test_itemknn_blocks),
        cmocka_unit_test(test_bpr_planted),
        cmocka_unit_test(test_bpr_kernels),
        cmocka_unit_test(test_bpr_fold_in),
        cmocka_unit_test(test_scans_and_explain),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_load_corrupt),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
