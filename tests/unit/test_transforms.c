/* Unit tests for the play-count transforms of the implicit models (models/implicit.[ch]):
 * bm25 and quantile weights by hand, fold-in under every transform through a model file,
 * BPR's weighted sampling of positives, and BPR with transform = none unchanged.
 *
 * The 3-listener trainset (listeners rows, songs columns, play counts):
 *          s0  s1  s2  s3    len
 *     u0    1   2   1   .     4
 *     u1    4   .   .   4     8
 *     u2    .   3   .   .     3
 * N = 3 known listeners, avglen = 15 / 3 = 5; listeners per song n = 2, 2, 1, 1, so
 *     idf(n = 2) = ln(1 + (3 - 2 + 0.5) / 2.5) = ln 1.6     = 0.4700036
 *     idf(n = 1) = ln(1 + (3 - 1 + 0.5) / 1.5) = ln(8 / 3) = 0.9808293
 * bm25 with k1 1.2, b 0.75: norm_u = 1.2 (0.25 + 0.75 len_u / 5) = 1.02, 1.74, 0.84 and
 * tf = 2.2 v / (v + norm_u):
 *     u0 s0: 2.2 / 2.02   = 1.0891089 x 0.4700036 = 0.5118851
 *     u0 s1: 4.4 / 3.02   = 1.4569536 x 0.4700036 = 0.6847735
 *     u0 s2: 2.2 / 2.02   = 1.0891089 x 0.9808293 = 1.0682299
 *     u1 s0: 8.8 / 5.74   = 1.5331010 x 0.4700036 = 0.7205631
 *     u1 s3: 8.8 / 5.74   = 1.5331010 x 0.9808293 = 1.5037104
 *     u2 s1: 6.6 / 3.84   = 1.71875   x 0.4700036 = 0.8078187
 * (w = alpha times these). A new listener with s0: 2, s2: 0 (no play), s3: 1 has len 3,
 * norm 0.84: s0 4.4 / 2.84 x 0.4700036 = 0.7281746, s2 0, s3 2.2 / 1.84 x 0.9808293 =
 * 1.1727306. With k1 = 0, tf = 1: w = alpha idf.
 * quantile (ties take the top of their range): u0 1 2 1 -> 2/3 1 2/3; u1 4 4 -> 1 1;
 * u2 3 -> 1; a row 5 1 1 3 0 -> 4/4 2/4 2/4 3/4 and 0 (no play).
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
#include "models/implicit_weight.h"
#include "models/model.h"
#include "models/model_file.h"
#include "models/srm.h"
#include "util/mem.h"
#include "util/rng.h"

#include "model_helpers.h"

extern const sr_model_ops sr_model_als, sr_model_bpr;

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

/* The trainset of the header comment. */
static sr_trainset *ts3(void) {
    const uint32_t u[] = {0, 0, 0, 1, 1, 2}, i[] = {0, 1, 2, 0, 3, 1};
    const float r[] = {1, 2, 1, 4, 4, 3};
    return make_ts(3, 4, 6, u, i, r);
}

/* nu x ni, each pair played with probability dens, counts 1..20 (the seed's). */
static sr_trainset *random_ts(uint32_t nu, uint32_t ni, double dens, uint64_t seed) {
    const size_t cap = (size_t)nu * ni;
    uint32_t *u = malloc(cap * sizeof *u), *it = malloc(cap * sizeof *it);
    float *r = malloc(cap * sizeof *r);
    sr_rng g;
    sr_rng_seed(&g, seed);
    size_t n = 0;
    for (uint32_t a = 0; a < nu; a++)
        for (uint32_t b = 0; b < ni; b++)
            if (sr_rng_double(&g) < dens) {
                u[n] = a, it[n] = b;
                r[n++] = (float)(1 + sr_rng_below(&g, 20));
            }
    sr_trainset *ts = make_ts(nu, ni, n, u, it, r);
    free(u), free(it), free(r);
    return ts;
}

static void near(double got, double want, const char *what) {
    if (!(fabs(got - want) <= 2e-6 * (1 + fabs(want))))
        fail_msg("%s: %.9g, want %.9g", what, got, want);
}

static const sr_confidence BM25 = {.f = SR_CONF_BM25, .alpha = 2, .k1 = 1.2, .b = 0.75};

/* ---- weights by hand ---- */

static void test_bm25_weights(void **state) {
    (void)state;
    sr_trainset *ts = ts3();
    sr_conf_corpus k;
    sr_confidence_corpus(ts, &k);
    assert_int_equal(k.n_docs, 3);
    near(k.avglen, 5, "avglen");
    near(sr_confidence_idf(2, 3), 0.4700036, "idf(2)");
    near(sr_confidence_idf(1, 3), 0.9808293, "idf(1)");
    float *wu, *wi;
    assert_int_equal(sr_confidence_weights(&BM25, ts, &wu, &wi), SR_OK);
    /* alpha 2 times the header's figures, in user order and in item order */
    const double by_user[6] = {0.5118851, 0.6847735, 1.0682299, 0.7205631, 1.5037104, 0.8078187};
    const double by_item[6] = {0.5118851, 0.7205631, 0.6847735, 0.8078187, 1.0682299, 1.5037104};
    for (int q = 0; q < 6; q++) {
        near(wu[q], 2 * by_user[q], "bm25 by user");
        near(wi[q], 2 * by_item[q], "bm25 by item");
    }
    sr_free(wu), sr_free(wi);
    /* A new listener: their own length, the trainset's idf and avglen. */
    const uint32_t items[3] = {0, 2, 3};
    const float v[3] = {2, 0, 1};
    float w[3];
    sr_confidence_row(&BM25, &k, ts, items, v, 3, NULL, w);
    near(w[0], 2 * 0.7281746, "new listener s0");
    assert_true(w[1] == 0);
    near(w[2], 2 * 1.1727306, "new listener s3");
    /* k1 = 0: no saturation, tf = 1, w = alpha idf */
    const sr_confidence k0 = {.f = SR_CONF_BM25, .alpha = 1, .k1 = 0, .b = 0.75};
    sr_confidence_row(&k0, &k, ts, items, v, 3, NULL, w);
    near(w[0], 0.4700036, "k1 0, s0");
    near(w[2], 0.9808293, "k1 0, s3");
    sr_trainset_free(ts);
}

static void test_quantile_weights(void **state) {
    (void)state;
    const sr_confidence qt = {.f = SR_CONF_QUANTILE, .alpha = 2};
    const float v[5] = {5, 1, 1, 3, 0};
    float w[5], scratch[5];
    sr_confidence_row(&qt, NULL, NULL, NULL, v, 5, scratch, w);
    const float want[5] = {2, 1, 1, 1.5f, 0}; /* 2 x (4/4, 2/4, 2/4, 3/4), no play */
    for (int q = 0; q < 5; q++) assert_float_equal(w[q], want[q], 0);
    /* All tied: all at the top, 1. One value: 1. */
    const float tie[3] = {7, 7, 7};
    sr_confidence_row(&qt, NULL, NULL, NULL, tie, 3, scratch, w);
    for (int q = 0; q < 3; q++) assert_float_equal(w[q], 2, 0);
    sr_confidence_row(&qt, NULL, NULL, NULL, v + 3, 1, scratch, w);
    assert_float_equal(w[0], 2, 0);
    /* The trainset, alpha 1, both orders. */
    sr_trainset *ts = ts3();
    const sr_confidence q1 = {.f = SR_CONF_QUANTILE, .alpha = 1};
    float *wu, *wi;
    assert_int_equal(sr_confidence_weights(&q1, ts, &wu, &wi), SR_OK);
    const double by_user[6] = {2.0 / 3, 1, 2.0 / 3, 1, 1, 1};
    const double by_item[6] = {2.0 / 3, 1, 1, 1, 2.0 / 3, 1};
    for (int q = 0; q < 6; q++) {
        near(wu[q], by_user[q], "quantile by user");
        near(wi[q], by_item[q], "quantile by item");
    }
    sr_free(wu), sr_free(wi);
    sr_trainset_free(ts);
}

/* Out of memory in the weights: an error and nothing left allocated (ASan). */
static void test_weights_nomem(void **state) {
    (void)state;
    sr_trainset *ts = ts3();
    const sr_confidence qt = {.f = SR_CONF_QUANTILE, .alpha = 1};
    const sr_confidence *cs[2] = {&qt, &BM25};
    for (int c = 0; c < 2; c++)
        for (long n = 0;; n++) {
            float *wu = NULL, *wi = NULL;
            sr_mem_fail_after(n);
            sr_err e = sr_confidence_weights(cs[c], ts, &wu, &wi);
            sr_mem_fail_after(-1);
            if (e == SR_OK) {
                sr_free(wu), sr_free(wi);
                break;
            }
            assert_int_equal(e, SR_E_NOMEM);
            assert_null(wu);
            assert_null(wi);
        }
    sr_trainset_free(ts);
}

/* ---- fold-in under every transform, through a model file ---- */

static char *tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "/tmp/test_transforms_%d_%s.srm", (int)getpid(), tag);
    return buf;
}

/* A fitted ALS (exact solver) saved and loaded: folding in a training user's own counts
 * on the loaded model (whose trainset keeps no values: bm25 needs the file's corpus
 * figures) gives that user's trained scores, for every transform. */
static void test_fold_in_each_transform(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(24, 20, 0.35, 4);
    const char *tf[] = {"linear", "log", "cap", "bm25", "quantile"};
    for (int t = 0; t < 5; t++) {
        double p[SR_MAX_PARAMS];
        sr_params_defaults(&sr_model_als, p);
        char a[64];
        snprintf(a, sizeof a, "transform=%s", tf[t]);
        set(&sr_model_als, p, a);
        set(&sr_model_als, p, "factors=6"), set(&sr_model_als, p, "iterations=4");
        set(&sr_model_als, p, "solver=cholesky"), set(&sr_model_als, p, "alpha=10");
        sr_model m;
        const sr_fit_ctx c = {.seed = 3, .threads = 2};
        assert_int_equal(sr_model_fit(&m, &sr_model_als, p, ts, &c, NULL), SR_OK);
        char path[128];
        tmp_path(path, sizeof path, tf[t]);
        const sr_model_meta meta = {
            .data_file = "t.srd", .data_meta = "{}", .transform = "raw", .created = 1};
        sr_diag d;
        if (sr_model_save(&m, &meta, SR_SRM_PREC_F32, path, &d)) fail_msg("save: %s", d.msg);
        sr_model_file *f = NULL;
        if (sr_model_load(path, &f, &d)) fail_msg("load: %s", d.msg);
        assert_null(f->ts.ur_r); /* the loaded trainset has no values */
        for (uint32_t u = 0; u < ts->n_users; u++) {
            const uint64_t b = ts->user_ptr[u];
            sr_newuser nu = {
                .n = ts->user_ptr[u + 1] - b, .items = ts->ur_item + b, .r = ts->ur_r + b};
            assert_int_equal(sr_model_als.fold_in(f->model.state, &f->ts, f->model.p, &nu, NULL),
                             SR_OK);
            for (uint32_t i = 0; i < ts->n_items; i++) {
                double x, y;
                if (!sr_model_als.estimate(m.state, ts, u, i, &x)) continue;
                assert_true(sr_model_als.estimate_new(f->model.state, &f->ts, &nu, i, &y));
                if (fabs(x - y) > 1e-6 * (1 + fabs(x)))
                    fail_msg("%s: user %u song %u folded %.9g, trained %.9g", tf[t], u, i, y, x);
            }
            sr_model_als.user_free(nu.state);
        }
        sr_model_file_free(f);
        unlink(path);
        sr_model_deinit(&m);
    }
    sr_trainset_free(ts);
}

/* The corpus section: written by save; a bm25 model without it is refused, others not. */
static void test_corpus_section(void **state) {
    (void)state;
    sr_trainset *ts = ts3();
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    set(&sr_model_als, p, "factors=2"), set(&sr_model_als, p, "transform=bm25");
    const sr_fit_ctx c = {.seed = 1, .threads = 1};
    void *st;
    assert_int_equal(sr_model_als.fit(ts, p, &c, &st, NULL), SR_OK);
    sr_fmat X, Y;
    const double *yty;
    sr__als_views(st, &X, &Y, &yty);
    char path[128];
    tmp_path(path, sizeof path, "noconf");
    sr_srm_writer *w = sr_srm_writer_new(SR_SRM_PREC_F32);
    assert_non_null(w);
    sr_srm_put_factors(w, "m.xu", X.data, X.rows, X.k, X.ld);
    sr_srm_put_factors(w, "m.yi", Y.data, Y.rows, Y.k, Y.ld);
    sr_srm_put(w, "m.yty", SR_SRM_F64, yty, 4);
    assert_int_equal(sr_srm_write(w, path, NULL), SR_OK);
    sr_srm_writer_free(w);
    sr_srm *r;
    assert_int_equal(sr_srm_open(path, &r, NULL), SR_OK);
    void *st2 = NULL;
    sr_diag d;
    assert_int_equal(sr_model_als.load(r, ts, p, &st2, &d), SR_E_CORRUPT);
    assert_null(st2);
    assert_non_null(strstr(d.msg, "m.conf"));
    set(&sr_model_als, p, "transform=log");
    assert_int_equal(sr_model_als.load(r, ts, p, &st2, &d), SR_OK);
    sr_model_als.free(st2);
    sr_srm_close(r);
    /* A listener count that is not the trainset's: corrupt. */
    w = sr_srm_writer_new(SR_SRM_PREC_F32);
    sr_srm_put_factors(w, "m.xu", X.data, X.rows, X.k, X.ld);
    sr_srm_put_factors(w, "m.yi", Y.data, Y.rows, Y.k, Y.ld);
    sr_srm_put(w, "m.yty", SR_SRM_F64, yty, 4);
    const double bad[2] = {5, 7};
    sr_srm_put(w, "m.conf", SR_SRM_F64, bad, 2);
    assert_int_equal(sr_srm_write(w, path, NULL), SR_OK);
    sr_srm_writer_free(w);
    assert_int_equal(sr_srm_open(path, &r, NULL), SR_OK);
    assert_int_equal(sr_model_als.load(r, ts, p, &st2, &d), SR_E_CORRUPT);
    assert_non_null(strstr(d.msg, "m.conf"));
    sr_srm_close(r);
    set(&sr_model_als, p, "transform=bm25");
    /* Saved by the model: the figures come back. */
    w = sr_srm_writer_new(SR_SRM_PREC_F32);
    sr_model_als.save(st, ts, w);
    assert_int_equal(sr_srm_write(w, path, NULL), SR_OK);
    sr_srm_writer_free(w);
    assert_int_equal(sr_srm_open(path, &r, NULL), SR_OK);
    const void *conf;
    assert_int_equal(sr_srm_get(r, "m.conf", SR_SRM_F64, 2, &conf, NULL, NULL), SR_OK);
    assert_true(((const double *)conf)[0] == 5 && ((const double *)conf)[1] == 3);
    sr_srm_close(r);
    unlink(path);
    sr_model_als.free(st);
    sr_trainset_free(ts);
    /* Bad BM25 constants are refused by the fit, not only by the parser. */
    ts = ts3();
    sr_params_defaults(&sr_model_als, p);
    p[sr_params_index(&sr_model_als, "bm25_b")] = 2;
    assert_int_equal(sr_model_als.fit(ts, p, &c, &st, NULL), SR_E_USAGE);
    sr_params_defaults(&sr_model_bpr, p);
    p[sr_params_index(&sr_model_bpr, "bm25_k1")] = -1;
    assert_int_equal(sr_model_bpr.fit(ts, p, &c, &st, NULL), SR_E_USAGE);
    p[sr_params_index(&sr_model_bpr, "bm25_k1")] = 1;
    p[sr_params_index(&sr_model_bpr, "transform")] = 6;
    assert_int_equal(sr_model_bpr.fit(ts, p, &c, &st, NULL), SR_E_USAGE);
    sr_trainset_free(ts);
}

/* ---- BPR: weighted sampling ---- */

/* Listener 0 plays songs 0, 1, 2 (1, 2 and 5 times), listener 1 songs 1 and 3 (3 times
 * each), listener 2 song 0 (once). With transform linear and alpha 1 the confidences
 * 1 + v are 2, 3, 6 | 4, 4 | 2: listener 0's positives come 2/11, 3/11, 6/11 of the
 * time, listener 1's half and half. */
static sr_trainset *tiny(void) {
    const uint32_t u[] = {0, 0, 0, 1, 1, 2}, i[] = {0, 1, 2, 1, 3, 0};
    const float r[] = {1, 2, 5, 3, 3, 1};
    return make_ts(3, 4, 6, u, i, r);
}

/* Pearson's statistic of counts (n) against the probabilities want (n, summing to 1 over
 * each listener's pairs, scaled by share[u] of `total`). */
static double chi_square(const sr_trainset *ts, const uint64_t *counts, const double *want,
                         const double *share, double total) {
    double x2 = 0;
    for (uint32_t u = 0; u < ts->n_users; u++)
        for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++) {
            const double e = want[q] * share[u] * total;
            x2 += (counts[q] - e) * (counts[q] - e) / e;
        }
    return x2;
}

/* Each transform, both samplings: the positives' frequencies match (1 + w) / sum over the
 * listener (w from sr_confidence_weights, checked by hand above) within a chi-square bound
 * (six pairs, three listeners with one pair fixed: 3 free cells by_user, 5 uniform; the
 * 99.9% points are 16.3 and 20.5; the seed is fixed, so the test is deterministic), and
 * the frequencies of transform none's uniform draws would fail it. */
static void test_bpr_weighted_sampling(void **state) {
    (void)state;
    sr_trainset *ts = tiny();
    const char *tf[] = {"linear", "log", "cap", "bm25", "quantile"};
    const uint64_t draws = 110000;
    for (int t = 0; t < 5; t++) {
        double p[SR_MAX_PARAMS];
        sr_params_defaults(&sr_model_bpr, p);
        char a[64];
        snprintf(a, sizeof a, "transform=%s", tf[t]);
        set(&sr_model_bpr, p, a);
        set(&sr_model_bpr, p, "alpha=1"), set(&sr_model_bpr, p, "cap=3");
        const sr_confidence conf = {
            .f = (sr_conf_transform)t, .alpha = 1, .eps = 1, .cap = 3, .k1 = 1.2, .b = 0.75};
        float *w;
        assert_int_equal(sr_confidence_weights(&conf, ts, &w, NULL), SR_OK);
        double want[6], flat[6];
        for (uint32_t u = 0; u < 3; u++) {
            double sum = 0;
            const uint64_t a0 = ts->user_ptr[u], a1 = ts->user_ptr[u + 1];
            for (uint64_t q = a0; q < a1; q++) sum += 1.0 + w[q];
            for (uint64_t q = a0; q < a1; q++) {
                want[q] = (1.0 + w[q]) / sum;
                flat[q] = 1.0 / (double)(a1 - a0);
            }
        }
        sr_free(w);
        if (t == 0) { /* the header's figures */
            near(want[0], 2.0 / 11, "linear 0");
            near(want[2], 6.0 / 11, "linear 2");
            near(want[3], 0.5, "linear 3");
        }
        uint64_t counts[6];
        const double each[3] = {1, 1, 1}, by_pairs[3] = {3.0 / 6, 2.0 / 6, 1.0 / 6};
        assert_int_equal(sr__bpr_draw_positives(ts, p, true, draws, 9, counts), SR_OK);
        assert_int_equal(counts[5], draws); /* listener 2 has one song */
        double x2 = chi_square(ts, counts, want, each, (double)draws);
        if (x2 > 16.3) fail_msg("%s by_user: chi-square %.2f", tf[t], x2);
        if (t == 0) assert_true(chi_square(ts, counts, flat, each, (double)draws) > 1000);
        assert_int_equal(sr__bpr_draw_positives(ts, p, false, 6 * draws, 9, counts), SR_OK);
        x2 = chi_square(ts, counts, want, by_pairs, 6.0 * draws);
        if (x2 > 20.5) fail_msg("%s uniform: chi-square %.2f", tf[t], x2);
        if (t == 0) assert_true(chi_square(ts, counts, flat, by_pairs, 6.0 * draws) > 1000);
    }
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_bpr, p); /* none: nothing weighted to draw */
    uint64_t counts[6];
    assert_int_equal(sr__bpr_draw_positives(ts, p, true, 10, 1, counts), SR_E_USAGE);
    sr_trainset_free(ts);
}

/* ---- BPR: none unchanged, weighted fits ---- */

/* FNV-1a of the bits of every estimate of the 30 x 40 set. */
static uint64_t score_hash(const void *st, const sr_trainset *ts) {
    uint64_t h = 1469598103934665603ULL;
    for (uint32_t a = 0; a < 30; a++)
        for (uint32_t b = 0; b < 40; b++) {
            double e = 0;
            sr_model_bpr.estimate(st, ts, a, b, &e);
            uint64_t bits;
            memcpy(&bits, &e, 8);
            for (int k = 0; k < 8; k++) h = (h ^ ((bits >> (8 * k)) & 0xff)) * 1099511628211ULL;
        }
    return h;
}

static uint64_t fit_hash(const sr_trainset *ts, const double *p) {
    const sr_fit_ctx c = {.seed = 7, .threads = 1};
    void *st;
    assert_int_equal(sr__bpr_fit(ts, p, &c, 1, &st, NULL), SR_OK);
    uint64_t h = score_hash(st, ts);
    sr_model_bpr.free(st);
    return h;
}

/* transform = none is the model BPR made before transforms existed: the hashes below are
 * of the scores of the code before the change (portable kernel, one thread, seed 7, 8
 * factors, 5 iterations, the 30 x 40 set of seed 42 with counts 1..20: 389 pairs) —
 * and the other transforms' parameters do not touch it. A weighted fit is another
 * model. */
static void test_bpr_none_unchanged(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(30, 40, 0.3, 42);
    assert_int_equal(ts->n, 389);
    const char *sampling[2] = {"sampling=uniform", "sampling=by_user"};
    const uint64_t before[2] = {0x7da7768a50ee9dbaULL, 0x0df1e95943b9d1d2ULL};
    for (int sm = 0; sm < 2; sm++) {
        double p[SR_MAX_PARAMS];
        sr_params_defaults(&sr_model_bpr, p);
        set(&sr_model_bpr, p, "factors=8"), set(&sr_model_bpr, p, "iterations=5");
        set(&sr_model_bpr, p, sampling[sm]);
        const uint64_t h = fit_hash(ts, p);
        if (h != before[sm])
            fail_msg("%s: scores hash %016llx, before the change %016llx", sampling[sm],
                     (unsigned long long)h, (unsigned long long)before[sm]);
        set(&sr_model_bpr, p, "transform=none"), set(&sr_model_bpr, p, "alpha=7");
        set(&sr_model_bpr, p, "bm25_k1=3"), set(&sr_model_bpr, p, "cap=2");
        assert_true(fit_hash(ts, p) == h);
        set(&sr_model_bpr, p, "transform=log");
        assert_true(fit_hash(ts, p) != h);
    }
    sr_trainset_free(ts);
}

/* A weighted BPR: deterministic with one thread; its fold-in weighs the listener's counts
 * (the same songs with other counts: another p; under none, the same p), explain still
 * sums to the personal part; saved and loaded (bm25: the corpus section), the fold-in
 * gives the same scores. */
static void test_bpr_weighted_fit(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(30, 40, 0.3, 5);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_bpr, p);
    set(&sr_model_bpr, p, "factors=8"), set(&sr_model_bpr, p, "iterations=10");
    set(&sr_model_bpr, p, "transform=bm25"), set(&sr_model_bpr, p, "alpha=5");
    for (int sm = 0; sm < 2; sm++) {
        set(&sr_model_bpr, p, sm ? "sampling=by_user" : "sampling=uniform");
        assert_true(fit_hash(ts, p) == fit_hash(ts, p));
    }
    sr_model m;
    const sr_fit_ctx c = {.seed = 2, .threads = 2};
    assert_int_equal(sr_model_fit(&m, &sr_model_bpr, p, ts, &c, NULL), SR_OK);
    const uint32_t items[4] = {1, 5, 9, 30};
    const float r1[4] = {1, 1, 1, 40}, r2[4] = {40, 1, 1, 1};
    sr_newuser n1 = {.n = 4, .items = items, .r = r1}, n2 = {.n = 4, .items = items, .r = r2};
    assert_int_equal(sr_model_bpr.fold_in(m.state, ts, m.p, &n1, NULL), SR_OK);
    assert_int_equal(sr_model_bpr.fold_in(m.state, ts, m.p, &n2, NULL), SR_OK);
    double e1, e2, w[4];
    bool differ = false;
    for (uint32_t i = 0; i < ts->n_items; i++) {
        if (!sr_model_bpr.estimate_new(m.state, ts, &n1, i, &e1)) continue;
        assert_true(sr_model_bpr.estimate_new(m.state, ts, &n2, i, &e2));
        differ |= fabs(e1 - e2) > 1e-4;
        assert_true(sr_model_bpr.explain(m.state, ts, &n1, i, w));
        double b;
        assert_true(sr_model_bpr.estimate(m.state, ts, UINT32_MAX, i, &b)); /* b_i alone */
        near(w[0] + w[1] + w[2] + w[3], e1 - b, "explain sums to p . q_i");
    }
    assert_true(differ);
    /* saved and loaded: the same fold-in */
    char path[128];
    tmp_path(path, sizeof path, "bpr");
    const sr_model_meta meta = {
        .data_file = "t.srd", .data_meta = "{}", .transform = "raw", .created = 1};
    sr_diag d;
    if (sr_model_save(&m, &meta, SR_SRM_PREC_F32, path, &d)) fail_msg("save: %s", d.msg);
    sr_model_file *f = NULL;
    if (sr_model_load(path, &f, &d)) fail_msg("load: %s", d.msg);
    sr_newuser n3 = n1;
    assert_int_equal(sr_model_bpr.fold_in(f->model.state, &f->ts, f->model.p, &n3, NULL), SR_OK);
    for (uint32_t i = 0; i < ts->n_items; i++) {
        if (!sr_model_bpr.estimate_new(m.state, ts, &n1, i, &e1)) continue;
        assert_true(sr_model_bpr.estimate_new(f->model.state, &f->ts, &n3, i, &e2));
        if (fabs(e1 - e2) > 1e-9) fail_msg("loaded, song %u: %.12g, %.12g", i, e2, e1);
    }
    sr_model_bpr.user_free(n1.state), sr_model_bpr.user_free(n2.state);
    sr_model_bpr.user_free(n3.state);
    sr_model_file_free(f);
    unlink(path);
    sr_model_deinit(&m);
    /* none: the counts do not matter */
    sr_params_defaults(&sr_model_bpr, p);
    set(&sr_model_bpr, p, "factors=8"), set(&sr_model_bpr, p, "iterations=10");
    assert_int_equal(sr_model_fit(&m, &sr_model_bpr, p, ts, &c, NULL), SR_OK);
    assert_int_equal(sr_model_bpr.fold_in(m.state, ts, m.p, &n1, NULL), SR_OK);
    assert_int_equal(sr_model_bpr.fold_in(m.state, ts, m.p, &n2, NULL), SR_OK);
    for (uint32_t i = 0; i < ts->n_items; i++) {
        if (!sr_model_bpr.estimate_new(m.state, ts, &n1, i, &e1)) continue;
        assert_true(sr_model_bpr.estimate_new(m.state, ts, &n2, i, &e2));
        assert_true(e1 == e2);
    }
    sr_model_bpr.user_free(n1.state), sr_model_bpr.user_free(n2.state);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

/* Every allocation failure of a weighted BPR fit or fold-in returns SR_E_NOMEM and leaks
 * nothing (ASan). */
static void test_bpr_weighted_nomem(void **state) {
    (void)state;
    sr_trainset *ts = random_ts(10, 12, 0.4, 3);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_bpr, p);
    set(&sr_model_bpr, p, "factors=4"), set(&sr_model_bpr, p, "iterations=2");
    set(&sr_model_bpr, p, "transform=quantile");
    for (int sm = 0; sm < 2; sm++) {
        set(&sr_model_bpr, p, sm ? "sampling=by_user" : "sampling=uniform");
        for (long n = 0;; n++) {
            sr_model m;
            const sr_fit_ctx c = {.seed = 1, .threads = 2};
            sr_mem_fail_after(n);
            sr_err e = sr_model_fit(&m, &sr_model_bpr, p, ts, &c, NULL);
            sr_mem_fail_after(-1);
            if (e == SR_OK) {
                sr_model_deinit(&m);
                break;
            }
            assert_int_equal(e, SR_E_NOMEM);
            assert_null(m.state);
        }
    }
    sr_model m;
    const sr_fit_ctx c = {.seed = 1, .threads = 1};
    assert_int_equal(sr_model_fit(&m, &sr_model_bpr, p, ts, &c, NULL), SR_OK);
    for (long n = 0;; n++) {
        const uint64_t b = ts->user_ptr[1];
        sr_newuser nu = {.n = ts->user_ptr[2] - b, .items = ts->ur_item + b, .r = ts->ur_r + b};
        sr_mem_fail_after(n);
        sr_err e = sr_model_bpr.fold_in(m.state, ts, m.p, &nu, NULL);
        sr_mem_fail_after(-1);
        if (e == SR_OK) {
            sr_model_bpr.user_free(nu.state);
            break;
        }
        assert_int_equal(e, SR_E_NOMEM);
        assert_null(nu.state);
    }
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bm25_weights),       cmocka_unit_test(test_quantile_weights),
        cmocka_unit_test(test_weights_nomem),      cmocka_unit_test(test_fold_in_each_transform),
        cmocka_unit_test(test_corpus_section),     cmocka_unit_test(test_bpr_weighted_sampling),
        cmocka_unit_test(test_bpr_none_unchanged), cmocka_unit_test(test_bpr_weighted_fit),
        cmocka_unit_test(test_bpr_weighted_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
