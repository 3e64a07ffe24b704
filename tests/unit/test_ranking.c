/* Ranking evaluation (eval/ranking.h): list metrics worked out by hand, the three
 * splits on toy ratings, a toy model whose lists can be written down (exclusion of
 * training songs, unknown songs, coverage, novelty, artists, rating-model clipping),
 * SVD against a random ordering on planted groups, thread-count independence, the
 * listener sample, and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/ranking.h"
#include "util/mem.h"
#include "util/rng.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-12)

/* ---- list metrics ----------------------------------------------------------------- */

static void test_list_metrics(void **state) {
    (void)state;
    sr_rank_list L;
    /* k = 5, relevant {10, 12} at ranks 1 and 3:
     *   precision 2/5, recall 2/2, NDCG (1 + 1/log2 4) / (1 + 1/log2 3),
     *   AP (1/1 + 2/3) / min(5, 2) = 5/6. */
    const uint32_t list[] = {10, 11, 12, 13, 14};
    const uint32_t rel[] = {10, 12};
    sr_rank_metrics_of_list(list, 5, 5, rel, 2, &L);
    NEAR(L.precision, 0.4);
    NEAR(L.recall, 1.0);
    NEAR(L.ndcg, (1 + 1 / log2(4.0)) / (1 + 1 / log2(3.0)));
    NEAR(L.ap, 5.0 / 6);
    NEAR(L.hit, 1.0);
    assert_int_equal(L.hits, 2);
    /* 7 relevant, one hit at rank 3: precision 1/5, recall 1/7, the ideal list is 5
     * hits: NDCG = (1/log2 4) / sum_{r=1..5} 1/log2(r + 1), AP = (1/3) / 5. */
    const uint32_t rel7[] = {12, 20, 21, 22, 23, 24, 25};
    sr_rank_metrics_of_list(list, 5, 5, rel7, 7, &L);
    double idcg = 0;
    for (int r = 1; r <= 5; r++) idcg += 1 / log2(r + 1.0);
    NEAR(L.precision, 0.2);
    NEAR(L.recall, 1.0 / 7);
    NEAR(L.ndcg, 0.5 / idcg);
    NEAR(L.ap, 1.0 / 15);
    /* A short list (2 of k = 5), its second song relevant: precision 1/5, not 1/2;
     * NDCG (1/log2 3) / 1; AP (1/2) / 1. */
    const uint32_t rel1[] = {11};
    sr_rank_metrics_of_list(list, 2, 5, rel1, 1, &L);
    NEAR(L.precision, 0.2);
    NEAR(L.recall, 1.0);
    NEAR(L.ndcg, 1 / log2(3.0));
    NEAR(L.ap, 0.5);
    /* No hit: everything 0. */
    const uint32_t rel0[] = {99};
    sr_rank_metrics_of_list(list, 5, 5, rel0, 1, &L);
    assert_true(L.precision == 0 && L.recall == 0 && L.ndcg == 0 && L.ap == 0 && L.hit == 0);
    /* A perfect list: NDCG 1, AP 1. */
    sr_rank_metrics_of_list(list, 3, 3, list, 3, &L);
    NEAR(L.ndcg, 1.0);
    NEAR(L.ap, 1.0);
}

static void test_novelty(void **state) {
    (void)state;
    /* 4 training listeners; pops 4, 2, 1: self-information 0, 1, 2 bits; mean 1. */
    const uint32_t pop[] = {4, 2, 1, 4};
    const uint32_t list[] = {0, 1, 2};
    NEAR(sr_rank_novelty_of_list(list, 3, pop, 4), 1.0);
    NEAR(sr_rank_novelty_of_list(list + 2, 1, pop, 4), 2.0);
    NEAR(sr_rank_novelty_of_list(list, 0, pop, 4), 0.0);
}

static void test_names(void **state) {
    (void)state;
    sr_rank_metric m;
    unsigned k = 99;
    assert_int_equal(sr_rank_metric_parse("ndcg@10", &m, &k), SR_OK);
    assert_int_equal(m, SR_RANK_NDCG);
    assert_int_equal(k, 10);
    assert_int_equal(sr_rank_metric_parse("Precision@5", &m, &k), SR_OK);
    assert_int_equal(m, SR_RANK_PRECISION);
    assert_int_equal(k, 5);
    assert_int_equal(sr_rank_metric_parse("MAP", &m, &k), SR_OK);
    assert_int_equal(m, SR_RANK_MAP);
    assert_int_equal(k, 0);
    assert_int_equal(sr_rank_metric_parse("hit_rate", &m, &k), SR_OK);
    assert_int_equal(m, SR_RANK_HIT_RATE);
    assert_int_equal(sr_rank_metric_parse("HR@20", &m, &k), SR_OK);
    assert_int_equal(m, SR_RANK_HIT_RATE);
    assert_int_equal(k, 20);
    assert_int_equal(sr_rank_metric_parse("played_next", &m, &k), SR_OK);
    assert_int_equal(m, SR_RANK_HITS);
    assert_int_equal(sr_rank_metric_parse("coverage", &m, NULL), SR_OK);
    assert_int_equal(m, SR_RANK_COVERAGE);
    const char *bad[] = {
        "",         "@5",         "ndcg@", "ndcg@0", "ndcg@x",
        "ndcg@10x", "ndcg@10001", "rmse",  "ndcgg",  "a_very_long_name_that_is_no_measure_at_all"};
    for (size_t j = 0; j < sizeof bad / sizeof *bad; j++)
        assert_int_equal(sr_rank_metric_parse(bad[j], &m, &k), SR_E_USAGE);
    for (int j = 0; j < SR_RANK__COUNT; j++) {
        assert_int_equal(sr_rank_metric_parse(sr_rank_metric_name((sr_rank_metric)j), &m, &k),
                         SR_OK);
        assert_int_equal(m, j);
        assert_true(sr_rank_metric_higher_better(m));
    }
    assert_int_equal(sr_rank_split_find("holdout"), SR_RANK_HOLDOUT);
    assert_int_equal(sr_rank_split_find("last"), SR_RANK_LAST_N);
    assert_int_equal(sr_rank_split_find("last_n"), SR_RANK_LAST_N);
    assert_int_equal(sr_rank_split_find("time"), SR_RANK_TIME);
    assert_int_equal(sr_rank_split_find("kfold"), -1);
    assert_string_equal(sr_rank_split_name(SR_RANK_TIME), "time");
}

/* ---- splits ------------------------------------------------------------------------ */

/* Ratings from arrays, with listen times when ts is not NULL. */
static sr_ratings *make(uint32_t nu, uint32_t ni, size_t n, const uint32_t *u, const uint32_t *i,
                        const uint32_t *ts, double lo, double hi) {
    float *r = malloc(n * sizeof *r);
    for (size_t j = 0; j < n; j++) r[j] = (float)((lo + hi) / 2);
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(nu, ni, n, u, i, r, lo, hi, &rs), SR_OK);
    free(r);
    if (ts) {
        rs->ts = sr_mallocarray(n, sizeof *rs->ts);
        memcpy(rs->ts, ts, n * sizeof *ts);
    }
    return rs;
}

/* Tested pairs of user u under mask t. */
static unsigned tested(const sr_ratings *rs, const uint8_t *t, uint32_t u) {
    unsigned c = 0;
    for (uint64_t j = 0; j < rs->n; j++) c += rs->user[j] == u && t[j];
    return c;
}

static void test_split_holdout(void **state) {
    (void)state;
    /* 19 pairs, users interleaved: u0 10 pairs, u1 5, u2 1, u3 3. */
    uint32_t u[19], i[19];
    const uint32_t who[19] = {0, 1, 0, 3, 0, 1, 0, 2, 0, 3, 0, 1, 0, 0, 1, 3, 0, 1, 0};
    for (int j = 0; j < 19; j++) u[j] = who[j], i[j] = (uint32_t)j;
    sr_ratings *rs = make(4, 19, 19, u, i, NULL, 1, 5);
    sr_rank_opts o;
    sr_rank_opts_default(&o);
    uint8_t t[19], t2[19], prev[19];
    /* 0.2: round(2) = 2, round(1) = 1, u2 has one pair (< 2): none, round(0.6) = 1. */
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_OK);
    assert_int_equal(tested(rs, t, 0), 2);
    assert_int_equal(tested(rs, t, 1), 1);
    assert_int_equal(tested(rs, t, 2), 0);
    assert_int_equal(tested(rs, t, 3), 1);
    /* min_pairs 4: u3 (3 pairs) keeps all. */
    o.min_pairs = 4;
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_OK);
    assert_int_equal(tested(rs, t, 1), 1);
    assert_int_equal(tested(rs, t, 3), 0);
    o.min_pairs = 0;
    /* 0.5: 5, round(2.5) = 3, -, round(1.5) = 2. 0.9: 9, 4.5 -> 5 capped at 4, 2.7 -> 2. */
    o.holdout = 0.5;
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_OK);
    assert_int_equal(tested(rs, t, 0), 5);
    assert_int_equal(tested(rs, t, 1), 3);
    assert_int_equal(tested(rs, t, 3), 2);
    o.holdout = 0.9;
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_OK);
    assert_int_equal(tested(rs, t, 0), 9);
    assert_int_equal(tested(rs, t, 1), 4);
    assert_int_equal(tested(rs, t, 3), 2);
    /* Same seed, same mask; the draws are uniform: over 4000 seeds each of u0's ten
     * pairs is tested about 4000 * 0.2 = 800 times (sd 25). */
    o.holdout = 0.2;
    unsigned hits[19] = {0};
    int differ = 0;
    for (uint64_t s = 0; s < 4000; s++) {
        o.seed = s;
        assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_OK);
        assert_int_equal(sr_rank_split_mask(rs, &o, t2, NULL), SR_OK);
        assert_memory_equal(t, t2, 19);
        for (int j = 0; j < 19; j++) hits[j] += t[j];
        if (s) differ += memcmp(t, prev, 19) != 0;
        memcpy(prev, t, 19);
    }
    assert_true(differ > 3900); /* consecutive seeds give other masks */
    for (int j = 0; j < 19; j++)
        if (who[j] == 0) assert_true(hits[j] > 700 && hits[j] < 900);
    /* Bad shares. */
    o.holdout = 1;
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_E_USAGE);
    o.holdout = 0;
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_E_USAGE);
    /* Nobody with enough pairs: nothing to test. */
    o.holdout = 0.2;
    o.min_pairs = 100;
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_E_RANGE);
    sr_ratings_free(rs);
}

static void test_split_last_n(void **state) {
    (void)state;
    /* u0: five pairs at times 80, 0 (unknown: oldest), 70, 70, 60; u1: two pairs;
     * u2: three pairs at 5, 1, 3 — interleaved. */
    const uint32_t u[] = {0, 2, 0, 1, 0, 2, 0, 1, 2, 0};
    const uint32_t i[] = {0, 5, 1, 6, 2, 7, 3, 8, 9, 4};
    const uint32_t ts[] = {80, 5, 0, 9, 70, 1, 70, 9, 3, 60};
    sr_ratings *rs = make(3, 10, 10, u, i, ts, 1, 5);
    sr_rank_opts o;
    sr_rank_opts_default(&o);
    o.split = SR_RANK_LAST_N;
    o.last_n = 2;
    uint8_t t[10];
    /* u0: 80 (pair 0), then the tie at 70 goes to the later pair (6); u1 has 2 < 3
     * pairs: none; u2: 5 (pair 1) and 3 (pair 8). */
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_OK);
    const uint8_t want2[] = {1, 1, 0, 0, 0, 0, 1, 0, 1, 0};
    assert_memory_equal(t, want2, 10);
    /* last 4: u0 all but the pair of unknown time (2); u1, u2 too few pairs. */
    o.last_n = 4;
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_OK);
    const uint8_t want4[] = {1, 0, 0, 0, 1, 0, 1, 0, 0, 1};
    assert_memory_equal(t, want4, 10);
    /* last 1 with min_pairs 4: only u0. */
    o.last_n = 1;
    o.min_pairs = 4;
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_OK);
    const uint8_t want1[] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(t, want1, 10);
    /* Without times: an input error. */
    sr_free(rs->ts);
    rs->ts = NULL;
    sr_diag d = {{0}};
    assert_int_equal(sr_rank_split_mask(rs, &o, t, &d), SR_E_INPUT);
    assert_non_null(strstr(d.msg, "listen times"));
    sr_ratings_free(rs);
}

static void test_split_time(void **state) {
    (void)state;
    const uint32_t u[] = {0, 0, 1, 1, 2};
    const uint32_t i[] = {0, 1, 0, 2, 1};
    const uint32_t ts[] = {50, 100, 0, 150, 99};
    sr_ratings *rs = make(3, 3, 5, u, i, ts, 1, 5);
    sr_rank_opts o;
    sr_rank_opts_default(&o);
    o.split = SR_RANK_TIME;
    o.time_cut = 100;
    uint8_t t[5];
    /* At or after 100 tested; unknown time (0) trains. */
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_OK);
    const uint8_t want[] = {0, 1, 0, 1, 0};
    assert_memory_equal(t, want, 5);
    o.time_cut = 1000; /* nothing after */
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_E_RANGE);
    rs->ts[2] = 10;
    o.time_cut = 1; /* everything after */
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_E_RANGE);
    sr_free(rs->ts);
    rs->ts = NULL;
    assert_int_equal(sr_rank_split_mask(rs, &o, t, NULL), SR_E_INPUT);
    sr_ratings_free(rs);
}

/* ---- a toy model: the same score table for every listener -------------------------- */

static const float *g_table; /* (n_items) score of each song, NaN: impossible */

typedef struct table_state {
    const float *score;
} table_state;

static sr_err table_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **st,
                        sr_diag *d) {
    table_state *s = sr_malloc(sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    s->score = g_table;
    *st = s;
    return SR_OK;
}
static bool table_est(const void *st, const sr_trainset *ts, uint32_t u, uint32_t i, double *e) {
    float s = ((const table_state *)st)->score[i];
    *e = s;
    return !isnan(s);
}
static void table_scores(const void *st, const sr_trainset *ts, uint32_t u, float *out, uint32_t lo,
                         uint32_t hi) {
    for (uint32_t i = lo; i < hi; i++) out[i] = ((const table_state *)st)->score[i];
}
static void table_free(void *st) {
    sr_free(st);
}

#define TOY_OPS(ident, imp, su)                                                                    \
    static const sr_model_ops ident = {.name = #ident,                                             \
                                       .surprise = #ident,                                         \
                                       .summary = "test",                                          \
                                       .fit = table_fit,                                           \
                                       .estimate = table_est,                                      \
                                       .free = table_free,                                         \
                                       .score_user = su,                                           \
                                       .implicit = imp}
TOY_OPS(implicit_est, true, NULL);
TOY_OPS(implicit_scan, true, table_scores);
TOY_OPS(rating_est, false, NULL);
TOY_OPS(rating_scan, false, table_scores);

/* Users 0..4, songs 0..7; a time split at 100 (times in brackets):
 *   u0 trains 0 1, tests 2 5          u1 trains 2, tests 0 3
 *   u2 trains 0 1 2 3, tests 4        u3 trains 4 6 7          u4 tests 1 (only)
 * Song 5 is unknown to the trainset; known: 0 1 2 3 4 6 7 (7 songs); u4 is unknown.
 * Training listeners (pop): song 0: 2, 1: 2, 2: 2, 3: 1, 4: 1, 6: 1, 7: 1; U = 4. */
static sr_ratings *toy(void) {
    const uint32_t u[] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 4};
    const uint32_t i[] = {0, 1, 2, 5, 2, 0, 3, 0, 1, 2, 3, 4, 4, 6, 7, 1};
    const uint32_t ts[] = {10, 20, 200, 210, 10, 150, 160, 10, 11, 12, 13, 300, 10, 20, 30, 500};
    return make(5, 8, 16, u, i, ts, 1, 5);
}
static const uint32_t toy_artist[8] = {0, 0, 1, 2, 1, 3, 3, 3};

static void toy_opts(sr_rank_opts *o, unsigned k) {
    sr_rank_opts_default(o);
    o->split = SR_RANK_TIME;
    o->time_cut = 100;
    o->k = k;
    o->item_artist = toy_artist;
}

static void test_toy_lists(void **state) {
    (void)state;
    sr_ratings *rs = toy();
    /* Scores 0.9 0.8 ... for songs 0..7 (song 5, unknown, would beat 6 and 7). With k = 2
     * and training songs excluded the lists are
     *   u0: 2 3 (relevant {2}; 5 is unknown)  P 1/2 R 1   NDCG 1                 AP 1
     *   u1: 0 1 (relevant {0, 3})             P 1/2 R 1/2 NDCG 1/(1 + 1/log2 3)  AP 1/2
     *   u2: 4 6 (relevant {4})                P 1/2 R 1   NDCG 1                 AP 1
     * novelty: u0 (1 + 2)/2, u1 (1 + 1)/2, u2 (2 + 2)/2 -> mean 1.5;
     * coverage: {0 1 2 3 4 6} of 7 known = 6/7;
     * artists: u0 trains {0}, list {1, 2}: 2 distinct, 2 new; u1 trains {1}, list {0}:
     * 1, 1 new; u2 trains {0, 1, 2}, list {1, 3}: 2, 1 new -> diversity (2 + 1 + 2)/(3 k)
     * = 5/6, new artists (1 + 1 + 1/2)/3 = 5/6. */
    static const float table[8] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.3f, 0.2f, 0.1f};
    g_table = table;
    const sr_model_ops *variants[] = {&implicit_est, &implicit_scan};
    for (int v = 0; v < 2; v++) {
        sr_rank_opts o;
        toy_opts(&o, 2);
        sr_rank_result r;
        sr_diag d = {{0}};
        assert_int_equal(sr_rank_evaluate(rs, variants[v], NULL, &o, &r, &d), SR_OK);
        assert_int_equal(r.users, 3);
        assert_int_equal(r.users_skipped, 1); /* u4 */
        assert_int_equal(r.n_train, 10);
        assert_int_equal(r.n_test, 6);
        assert_int_equal(r.test_unknown, 1);
        assert_int_equal(r.hits, 3);
        assert_int_equal(r.recommended, 6);
        NEAR(r.value[SR_RANK_PRECISION], 0.5);
        NEAR(r.value[SR_RANK_RECALL], 2.5 / 3);
        NEAR(r.value[SR_RANK_NDCG], (2 + 1 / (1 + 1 / log2(3.0))) / 3);
        NEAR(r.value[SR_RANK_MAP], 2.5 / 3);
        NEAR(r.value[SR_RANK_HIT_RATE], 1.0);
        NEAR(r.value[SR_RANK_COVERAGE], 6.0 / 7);
        NEAR(r.value[SR_RANK_NOVELTY], 1.5);
        NEAR(r.value[SR_RANK_DIVERSITY], 5.0 / 6);
        NEAR(r.value[SR_RANK_NEW_ARTISTS], 5.0 / 6);
        NEAR(r.value[SR_RANK_HITS], 3.0);
        /* Without artists: no artist figures, the rest the same. */
        o.item_artist = NULL;
        assert_int_equal(sr_rank_evaluate(rs, variants[v], NULL, &o, &r, NULL), SR_OK);
        assert_true(isnan(r.value[SR_RANK_DIVERSITY]) && isnan(r.value[SR_RANK_NEW_ARTISTS]));
        NEAR(r.value[SR_RANK_NDCG], (2 + 1 / (1 + 1 / log2(3.0))) / 3);
        /* k larger than the candidates: every known song but the training ones,
         * 5 + 6 + 3 = 14 songs; the training songs never appear, so u2's list is short. */
        toy_opts(&o, 10);
        assert_int_equal(sr_rank_evaluate(rs, variants[v], NULL, &o, &r, NULL), SR_OK);
        assert_int_equal(r.recommended, 14);
        assert_int_equal(r.hits, 4); /* every relevant song: 1 + 2 + 1 */
        NEAR(r.value[SR_RANK_RECALL], 1.0);
        NEAR(r.value[SR_RANK_PRECISION], 4.0 / 30);
        NEAR(r.value[SR_RANK_COVERAGE], 1.0);
    }
    sr_ratings_free(rs);
}

static void test_toy_last_n(void **state) {
    (void)state;
    sr_ratings *rs = toy();
    static const float table[8] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.3f, 0.2f, 0.1f};
    g_table = table;
    /* The latest pair of everyone with >= 2 pairs: u0 song 5, u1 song 3, u2 song 4, u3
     * song 7 (u4 has one pair). Songs 5 and 7 are then unknown, so u0 and u3 have no
     * relevant song. u1 trains 0 2: list 1 3, the hit at rank 2: NDCG 1/log2 3, AP 1/2;
     * u2 trains 0 1 2 3: list 4 6, NDCG 1, AP 1. */
    sr_rank_opts o;
    toy_opts(&o, 2);
    o.split = SR_RANK_LAST_N;
    sr_rank_result r;
    assert_int_equal(sr_rank_evaluate(rs, &implicit_scan, NULL, &o, &r, NULL), SR_OK);
    assert_int_equal(r.users, 2);
    assert_int_equal(r.users_skipped, 2);
    assert_int_equal(r.n_test, 4);
    assert_int_equal(r.test_unknown, 2);
    assert_int_equal(r.hits, 2);
    NEAR(r.value[SR_RANK_NDCG], (1 / log2(3.0) + 1) / 2);
    NEAR(r.value[SR_RANK_MAP], 0.75);
    NEAR(r.value[SR_RANK_COVERAGE], 4.0 / 6); /* known: 0 1 2 3 4 6; listed 1 3 4 6 */
    sr_ratings_free(rs);
}

static void test_toy_rating_model(void **state) {
    (void)state;
    sr_ratings *rs = toy(); /* scale 1..5, every rating 3: global mean 3 */
    /* Estimates 5 4 NaN 9 1 0 8 2: predictions (clipped, NaN -> 3) 5 4 3 5 1 - 5 2.
     *   k = 2: u0 (cands 2 3 4 6 7): 3 6 -> no hit; u1 (0 1 3 4 6 7): ties at 5 go to
     *   the lower ids: 0 3 -> 2 hits (unclipped it would be 3 6: 1 hit); u2 (4 6 7):
     *   6 7 -> none. 2 hits.
     *   k = 3: u0: 3 6 2 (the impossible estimate counts as 3 > 2 > 1) -> 1 hit, at
     *   rank 3; u1: 0 3 6 -> 2; u2: 6 7 4 -> 1. 4 hits. */
    static const float table[8] = {5, 4, NAN, 9, 1, 0, 8, 2};
    g_table = table;
    const sr_model_ops *variants[] = {&rating_est, &rating_scan};
    for (int v = 0; v < 2; v++) {
        sr_rank_opts o;
        toy_opts(&o, 2);
        sr_rank_result r;
        assert_int_equal(sr_rank_evaluate(rs, variants[v], NULL, &o, &r, NULL), SR_OK);
        assert_int_equal(r.hits, 2);
        NEAR(r.value[SR_RANK_HIT_RATE], 1.0 / 3);
        NEAR(r.value[SR_RANK_RECALL], 1.0 / 3); /* u1: 2/2 */
        toy_opts(&o, 3);
        assert_int_equal(sr_rank_evaluate(rs, variants[v], NULL, &o, &r, NULL), SR_OK);
        assert_int_equal(r.hits, 4);
        /* AP: u0 (1/3)/1, u1 (1 + 1)/2, u2 (1/3)/1. */
        NEAR(r.value[SR_RANK_MAP], (1.0 / 3 + 1 + 1.0 / 3) / 3);
    }
    sr_ratings_free(rs);
}

static void test_errors(void **state) {
    (void)state;
    sr_ratings *rs = toy();
    static const float table[8] = {0};
    g_table = table;
    sr_rank_opts o;
    sr_rank_result r;
    sr_diag d = {{0}};
    toy_opts(&o, 0);
    assert_int_equal(sr_rank_evaluate(rs, &implicit_est, NULL, &o, &r, &d), SR_E_USAGE);
    toy_opts(&o, SR_RANK_MAX_K + 1);
    assert_int_equal(sr_rank_evaluate(rs, &implicit_est, NULL, &o, &r, &d), SR_E_USAGE);
    /* Only u4 (unknown to the trainset) tested: nobody to evaluate. */
    toy_opts(&o, 2);
    o.time_cut = 400;
    assert_int_equal(sr_rank_evaluate(rs, &implicit_est, NULL, &o, &r, &d), SR_E_RANGE);
    assert_non_null(strstr(d.msg, "no listener"));
    assert_true(isnan(r.value[SR_RANK_NDCG]));
    sr_ratings_free(rs);
}

/* ---- generated data ---------------------------------------------------------------- */

/* A random ordering: a fixed pseudo-random score per (user, song), exact in float. */
static sr_err random_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **st,
                         sr_diag *d) {
    uint64_t *s = sr_malloc(sizeof *s);
    if (!s) return SR_E_NOMEM;
    *s = c->seed;
    *st = s;
    return SR_OK;
}
static bool random_est(const void *st, const sr_trainset *ts, uint32_t u, uint32_t i, double *e) {
    *e = (double)(sr_hash2(sr_hash2(*(const uint64_t *)st, u), i) >> 40) * 0x1.0p-24;
    return true;
}
static void random_scores(const void *st, const sr_trainset *ts, uint32_t u, float *out,
                          uint32_t lo, uint32_t hi) {
    for (uint32_t i = lo; i < hi; i++) {
        double e;
        random_est(st, ts, u, i, &e);
        out[i] = (float)e;
    }
}
static const sr_model_ops random_ops = {.name = "random",
                                        .surprise = "Random",
                                        .summary = "test",
                                        .fit = random_fit,
                                        .estimate = random_est,
                                        .free = table_free,
                                        .implicit = true};
static const sr_model_ops random_scan_ops = {.name = "random",
                                             .surprise = "Random",
                                             .summary = "test",
                                             .fit = random_fit,
                                             .estimate = random_est,
                                             .free = table_free,
                                             .score_user = random_scores,
                                             .implicit = true};

/* Planted groups: 400 listeners, 300 songs in 10 groups of 30; listener u belongs to
 * group u % 10, rates 15 of its songs 7..10 and 5 other songs 1..4 (scale 1..10). */
static sr_ratings *planted(void) {
    enum { NU = 400, NI = 300, G = 10, OWN = 15, OTHER = 5 };
    uint32_t *u = malloc(NU * (OWN + OTHER) * sizeof *u);
    uint32_t *i = malloc(NU * (OWN + OTHER) * sizeof *i);
    float *r = malloc(NU * (OWN + OTHER) * sizeof *r);
    size_t n = 0;
    sr_rng g;
    sr_rng_seed(&g, 77);
    for (uint32_t x = 0; x < NU; x++) {
        uint32_t grp = x % G, perm[NI];
        for (uint32_t j = 0; j < NI; j++) perm[j] = j;
        sr_rng_shuffle_u32(&g, perm, NI);
        unsigned own = 0, other = 0;
        for (uint32_t j = 0; j < NI && (own < OWN || other < OTHER); j++) {
            bool mine = perm[j] / (NI / G) == grp;
            if (mine ? own++ >= OWN : other++ >= OTHER) continue;
            u[n] = x, i[n] = perm[j];
            r[n++] = (float)(mine ? sr_rng_range(&g, 7, 10) : sr_rng_range(&g, 1, 4));
        }
    }
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(NU, NI, n, u, i, r, 1, 10, &rs), SR_OK);
    free(u), free(i), free(r);
    return rs;
}

static void test_svd_beats_random(void **state) {
    (void)state;
    sr_ratings *rs = planted();
    const sr_model_ops *svd = sr_model_find("svd");
    assert_non_null(svd);
    sr_rank_opts o;
    sr_rank_opts_default(&o);
    o.seed = 3;
    sr_rank_result rsvd, rrnd;
    sr_diag d = {{0}};
    double p[SR_MAX_PARAMS];
    sr_params_defaults(svd, p);
    assert_int_equal(sr_params_set(svd, p, "n_factors=10", NULL), SR_OK);
    assert_int_equal(sr_params_set(svd, p, "n_epochs=60", NULL), SR_OK);
    assert_int_equal(sr_params_set(svd, p, "lr_all=0.02", NULL), SR_OK);
    assert_int_equal(sr_rank_evaluate(rs, svd, p, &o, &rsvd, &d), SR_OK);
    assert_int_equal(sr_rank_evaluate(rs, &random_ops, NULL, &o, &rrnd, &d), SR_OK);
    /* Every listener holds back round(0.2 * 20) = 4 pairs; all 400 are evaluated (a
     * song unknown to the trainset is unlikely but possible: allow a few). */
    assert_int_equal(rsvd.n_test, 1600);
    assert_true(rsvd.users >= 395);
    /* Random: about 10 * 4/280 = 0.14 hits per list (precision ~ 0.014). A perfect
     * group model lists the listener's own group, where 3 of the 18 unheard songs are
     * held back: about 1.7 hits (precision ~ 0.17); this SVD puts 3.5 own-group songs
     * in a list on average (found by listing them naively), precision ~ 0.06. */
    print_message("  planted groups, k 10: SVD P %.3f NDCG %.3f MAP %.3f HR %.3f; random P %.3f "
                  "NDCG %.3f MAP %.3f HR %.3f\n",
                  rsvd.value[SR_RANK_PRECISION], rsvd.value[SR_RANK_NDCG], rsvd.value[SR_RANK_MAP],
                  rsvd.value[SR_RANK_HIT_RATE], rrnd.value[SR_RANK_PRECISION],
                  rrnd.value[SR_RANK_NDCG], rrnd.value[SR_RANK_MAP], rrnd.value[SR_RANK_HIT_RATE]);
    assert_true(rrnd.value[SR_RANK_PRECISION] < 0.03);
    assert_true(rsvd.value[SR_RANK_PRECISION] > 0.04);
    assert_true(rsvd.value[SR_RANK_NDCG] > 2 * rrnd.value[SR_RANK_NDCG]);
    assert_true(rsvd.value[SR_RANK_MAP] > 2 * rrnd.value[SR_RANK_MAP]);
    assert_true(rsvd.value[SR_RANK_HIT_RATE] > rrnd.value[SR_RANK_HIT_RATE] + 0.15);
    /* A random ordering covers the catalog; SVD's lists stay in the groups. */
    assert_true(rrnd.value[SR_RANK_COVERAGE] > 0.95);
    sr_ratings_free(rs);
}

typedef struct cand {
    float s;
    uint32_t i;
} cand;
static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The lists the naive way: sr_model_predict for every known song the listener did not
 * train on, a full sort; mean NDCG and total hits over listeners with a relevant song. */
static void naive(const sr_ratings *rs, const uint8_t *test, const sr_model *m, unsigned k,
                  double *ndcg, uint64_t *hits, uint32_t *users) {
    const sr_trainset *ts = m->ts;
    cand *c = malloc(ts->n_items * sizeof *c);
    uint32_t *rel = malloc(ts->n_items * sizeof *rel), list[64];
    double sum = 0;
    *hits = 0, *users = 0;
    for (uint32_t u = 0; u < ts->n_users; u++) {
        if (!sr_trainset_knows_user(ts, u)) continue;
        uint8_t *mine = calloc(ts->n_items, 1);
        for (uint64_t p = ts->user_ptr[u]; p < ts->user_ptr[u + 1]; p++) mine[ts->ur_item[p]] = 1;
        for (uint64_t j = 0; j < rs->n; j++)
            if (test[j] && rs->user[j] == u) mine[rs->item[j]] |= 2;
        size_t n_rel = 0, n = 0;
        for (uint32_t i = 0; i < ts->n_items; i++) {
            if ((mine[i] & 1) || !sr_trainset_knows_item(ts, i)) continue;
            if (mine[i] & 2) rel[n_rel++] = i; /* ascending */
            c[n++] = (cand){(float)sr_model_predict(m, u, i), i};
        }
        free(mine);
        if (!n_rel) continue;
        qsort(c, n, sizeof *c, cand_cmp);
        size_t len = n < k ? n : k;
        for (size_t r = 0; r < len; r++) list[r] = c[r].i;
        sr_rank_list L;
        sr_rank_metrics_of_list(list, len, k, rel, n_rel, &L);
        sum += L.ndcg;
        *hits += L.hits;
        (*users)++;
    }
    *ndcg = sum / *users;
    free(c), free(rel);
}

/* The evaluation of one fitted model gives the same numbers on 1, 2 and 3 threads, and
 * the numbers of naive lists. */
static void test_threads(void **state) {
    (void)state;
    sr_ratings *rs = planted();
    sr_rank_opts o;
    sr_rank_opts_default(&o);
    o.seed = 5;
    uint8_t *test = malloc(rs->n), *train = malloc(rs->n);
    assert_int_equal(sr_rank_split_mask(rs, &o, test, NULL), SR_OK);
    for (uint64_t j = 0; j < rs->n; j++) train[j] = !test[j];
    sr_trainset *ts;
    assert_int_equal(sr_trainset_new(rs, train, &ts), SR_OK);
    sr_model m;
    sr_fit_ctx c = {.seed = 1, .threads = 2};
    assert_int_equal(sr_model_fit(&m, sr_model_find("svd"), NULL, ts, &c, NULL), SR_OK);
    sr_rank_result r1, r;
    assert_int_equal(sr_rank_evaluate_fitted(rs, test, &m, &o, &r1, NULL), SR_OK);
    assert_true(r1.users >= 395);
    /* SVD's scan (score_user, float) and sr_model_predict (double) may order a near
     * tie differently: a little slack. */
    double ndcg;
    uint64_t hits;
    uint32_t users;
    naive(rs, test, &m, o.k, &ndcg, &hits, &users);
    assert_int_equal(users, r1.users);
    print_message("  naive: hits %llu NDCG %.6f; evaluated: hits %llu NDCG %.6f\n",
                  (unsigned long long)hits, ndcg, (unsigned long long)r1.hits,
                  r1.value[SR_RANK_NDCG]);
    assert_true(hits + 3 >= r1.hits && r1.hits + 3 >= hits);
    assert_true(fabs(ndcg - r1.value[SR_RANK_NDCG]) < 0.005);
    for (unsigned t = 2; t <= 3; t++) {
        o.threads = t;
        assert_int_equal(sr_rank_evaluate_fitted(rs, test, &m, &o, &r, NULL), SR_OK);
        assert_int_equal(r.users, r1.users);
        assert_int_equal(r.hits, r1.hits);
        assert_memory_equal(r.value, r1.value, sizeof r.value);
    }
    /* A whole run with a thread-independent fit. */
    o.threads = 1;
    assert_int_equal(sr_rank_evaluate(rs, &random_ops, NULL, &o, &r1, NULL), SR_OK);
    o.threads = 4;
    assert_int_equal(sr_rank_evaluate(rs, &random_ops, NULL, &o, &r, NULL), SR_OK);
    assert_memory_equal(r.value, r1.value, sizeof r.value);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
    free(test), free(train);
    sr_ratings_free(rs);
}

/* The listener sample: its size, reproducible for a seed. */
static void test_sample(void **state) {
    (void)state;
    sr_ratings *rs = planted();
    sr_rank_opts o;
    sr_rank_opts_default(&o);
    o.max_users = 50;
    o.threads = 2;
    sr_rank_result a, b, all;
    assert_int_equal(sr_rank_evaluate(rs, &random_ops, NULL, &o, &a, NULL), SR_OK);
    assert_int_equal(sr_rank_evaluate(rs, &random_ops, NULL, &o, &b, NULL), SR_OK);
    assert_int_equal(a.users, 50);
    assert_memory_equal(a.value, b.value, sizeof a.value);
    o.max_users = 0;
    assert_int_equal(sr_rank_evaluate(rs, &random_ops, NULL, &o, &all, NULL), SR_OK);
    assert_true(all.users > 50);
    assert_true(all.hits != a.hits);
    sr_ratings_free(rs);
}

/* A catalog wider than one scoring range (4096 songs): the scan path and per-song
 * estimates agree, and training songs are excluded across range boundaries. */
static void test_wide_catalog(void **state) {
    (void)state;
    enum { NU = 40, NI = 10000, PER = 60 };
    uint32_t *u = malloc(NU * PER * sizeof *u), *i = malloc(NU * PER * sizeof *i);
    for (uint32_t x = 0; x < NU; x++)
        for (uint32_t j = 0; j < PER; j++) /* 4 patterns over the whole catalog */
            u[x * PER + j] = x, i[x * PER + j] = (j * 167 + (x % 4) * 41) % NI;
    sr_ratings *rs = make(NU, NI, NU * PER, u, i, NULL, 1, 5);
    free(u), free(i);
    sr_rank_opts o;
    sr_rank_opts_default(&o);
    o.k = 20;
    o.threads = 2;
    sr_rank_result a, b;
    assert_int_equal(sr_rank_evaluate(rs, &random_ops, NULL, &o, &a, NULL), SR_OK);
    assert_int_equal(sr_rank_evaluate(rs, &random_scan_ops, NULL, &o, &b, NULL), SR_OK);
    assert_int_equal(a.users, NU);
    assert_memory_equal(a.value, b.value, sizeof a.value);
    /* k = 10000: every known song not trained by the listener. */
    o.k = SR_RANK_MAX_K;
    uint8_t *test = malloc(rs->n), *train = malloc(rs->n);
    assert_int_equal(sr_rank_split_mask(rs, &o, test, NULL), SR_OK);
    for (uint64_t j = 0; j < rs->n; j++) train[j] = !test[j];
    sr_trainset *ts;
    assert_int_equal(sr_trainset_new(rs, train, &ts), SR_OK);
    uint64_t known = 0, want = 0;
    for (uint32_t j = 0; j < NI; j++) known += sr_trainset_knows_item(ts, j);
    for (uint32_t x = 0; x < NU; x++) want += known - (ts->user_ptr[x + 1] - ts->user_ptr[x]);
    assert_int_equal(sr_rank_evaluate(rs, &random_scan_ops, NULL, &o, &b, NULL), SR_OK);
    assert_int_equal(b.recommended, want);
    NEAR(b.value[SR_RANK_COVERAGE], 1.0);
    sr_trainset_free(ts);
    free(test), free(train);
    sr_ratings_free(rs);
}

/* Every allocation failing in turn: SR_E_NOMEM, nothing leaked (ASan), then success. */
static void test_nomem(void **state) {
    (void)state;
    sr_ratings *rs = toy();
    static const float table[8] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.3f, 0.2f, 0.1f};
    g_table = table;
    sr_rank_opts o;
    toy_opts(&o, 2);
    o.threads = 2;
    sr_rank_result r;
    int ok = 0;
    for (long n = 0; n < 200 && !ok; n++) {
        sr_mem_fail_after(n);
        sr_err e = sr_rank_evaluate(rs, &implicit_scan, NULL, &o, &r, NULL);
        sr_mem_fail_after(-1);
        if (e == SR_OK) {
            ok = 1;
            assert_int_equal(r.hits, 3);
        } else {
            assert_int_equal(e, SR_E_NOMEM);
            assert_true(isnan(r.value[SR_RANK_NDCG]));
        }
    }
    assert_true(ok);
    const sr_rank_split kinds[] = {SR_RANK_HOLDOUT, SR_RANK_LAST_N};
    uint8_t t[16];
    for (int s = 0; s < 2; s++) {
        o.split = kinds[s];
        ok = 0;
        for (long n = 0; n < 20 && !ok; n++) {
            sr_mem_fail_after(n);
            sr_err e = sr_rank_split_mask(rs, &o, t, NULL);
            sr_mem_fail_after(-1);
            if (e == SR_OK)
                ok = 1;
            else
                assert_int_equal(e, SR_E_NOMEM);
        }
        assert_true(ok);
    }
    sr_ratings_free(rs);
}

/* A time split's words: no cut is a usage error (the default has none), a cut outside
 * the data names --test-after, the side left empty and the data's time range. */
static void test_split_time_words(void **state) {
    (void)state;
    const uint32_t u[] = {0, 0, 1, 1};
    const uint32_t i[] = {0, 1, 0, 1};
    const uint32_t ts[] = {1500000000, 1500086400, 1500172800, 0};
    sr_ratings *rs = make(2, 2, 4, u, i, ts, 1, 5);
    sr_rank_opts o;
    sr_rank_opts_default(&o);
    assert_true(o.time_cut == SR_RANK_NO_CUT);
    o.split = SR_RANK_TIME;
    uint8_t t[4];
    sr_diag d = {{0}};
    sr_rank_result r;
    assert_int_equal(sr_rank_split_mask(rs, &o, t, &d), SR_E_USAGE);
    assert_non_null(strstr(d.msg, "--test-after DATE"));
    assert_int_equal(sr_rank_evaluate(rs, &implicit_est, NULL, &o, &r, &d), SR_E_USAGE);
    o.time_cut = 1501545600; /* 2017-08-01 */
    assert_int_equal(sr_rank_split_mask(rs, &o, t, &d), SR_E_RANGE);
    assert_string_equal(d.msg, "--test-after 2017-08-01 is after the last pair "
                               "(2017-07-16T02:40:00Z): the test set would be empty (pairs first "
                               "heard from 2017-07-14T02:40:00Z to 2017-07-16T02:40:00Z)");
    rs->ts[3] = 1500000000;
    o.time_cut = 1420070400; /* 2015-01-01 */
    assert_int_equal(sr_rank_split_mask(rs, &o, t, &d), SR_E_RANGE);
    assert_non_null(strstr(d.msg, "--test-after 2015-01-01 is on or before the first pair "
                                  "(2017-07-14T02:40:00Z): nothing would be left to train on"));
    o.time_cut = 1500086400;
    assert_int_equal(sr_rank_split_mask(rs, &o, t, &d), SR_OK);
    const uint8_t want[] = {0, 1, 1, 0};
    assert_memory_equal(t, want, 4);
    sr_ratings_free(rs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_metrics),
        cmocka_unit_test(test_novelty),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_split_holdout),
        cmocka_unit_test(test_split_last_n),
        cmocka_unit_test(test_split_time),
        cmocka_unit_test(test_toy_lists),
        cmocka_unit_test(test_toy_last_n),
        cmocka_unit_test(test_toy_rating_model),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_svd_beats_random),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_sample),
        cmocka_unit_test(test_wide_catalog),
        cmocka_unit_test(test_nomem),
        cmocka_unit_test(test_split_time_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
