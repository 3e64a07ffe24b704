/* Unit tests for per-listen events (builder.c, srd.c, trainset.c) and the listening-session
 * model (session_knn.c), with ItemKNN's blocked scoring (item_knn.c).
 *
 * Dataset D (songs A..E get ids 0..4 in first-seen order; T = 1500000000; times below are
 * T + s):
 *   ann  A 0, B 600, C 1200, D 3000, A 4801, B 5000   (and A 0 again: a duplicate)
 *   bob  B 0, A 100, A 200, C 10000, E 10100
 *   cy   A 0, C 60, E 120, B 180                      (and D at an unknown time)
 * Pairs by user, songs ascending: ann A0 B1 C2 D3, bob A4 B5 C6 E7, cy A8 B9 C10 D11
 * E12; 15 events (the duplicate and the untimed play are none).
 * Sessions with gap 1800: ann [A B C D] (D is exactly 1800 s after C: same session),
 * [A B] (4801 - 3000 = 1801 > 1800); bob [B A A], [C E]; cy [A C E B]. With gap 1799
 * ann's D is a session of its own.
 * Window 10 (whole sessions): N (sessions holding a song) A 4, B 4, C 3, D 1, E 2;
 * C(A, .) = B 4, C 2, D 1, E 1; C(B, E) = 1; C(C, .) = A 2, B 2, D 1, E 2; C(D, .) = A 1,
 * B 1, C 1. Similarities:
 *   conditional C / N(a)          A: B 1, C 0.5, D 0.25, E 0.25; C: A, B, E 2/3, D 1/3;
 *                                 D: A, B, C 1
 *   cosine C / sqrt(N(a) N(b))    A: B 1, C 2 / sqrt 12 = 0.5773503, D 0.5, E 1 / sqrt 8
 *                                 = 0.3535534; C: D 1 / sqrt 3, E 2 / sqrt 6 = 0.8164966
 *   count C                       A: B 4, C 2, D 1, E 1
 * (D and E never meet: not neighbours.)
 * Window 3 (partners at most 2 listens apart): A-D (3 apart in ann's first session) and
 * A-B in cy's session (3 apart) no longer meet: C(A, .) = B 3, C 2, E 1.
 * Window 2 (adjacent): C(A, .) = B 3 (ann twice, bob once: A A counts nothing), C 1.
 * Scores (tfidf: the listener weighs a song sqrt(count)): ann's counts A 2, B 2, C 1, D 1,
 * so with conditional similarities score(ann, E) = sqrt 2 (P(E|A) + P(E|B)) + P(E|C) +
 * P(E|D) = sqrt 2 x 0.5 + 2/3 + 0 = 1.3737734.
 *
 * Decay (half-life 1 day; a day = 86400 s): x plays A at T, B at T + 60; z plays A, C at
 * T + 1 day (+ 60); y plays A, B at T + 2 days (+ 60), the latest listen. Session weights
 * 0.25 (x, two days old), 0.5 (z), 1 (y): N(A) = 1.75, N(B) = 1.25, N(C) = 0.5;
 * C(A, B) = 1.25, C(A, C) = 0.5; conditional sim(A, B) = 1.25 / 1.75 = 0.7142857,
 * sim(A, C) = 0.5 / 1.75 = 0.2857143 (without decay 2/3 and 1/3); cosine sim(A, B) =
 * 1.25 / sqrt(1.75 x 1.25) = 0.8451543, sim(A, C) = 0.5 / sqrt(0.875) = 0.5345225.
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

#include "data/builder.h"
#include "eval/ranking.h"
#include "models/item_knn.h"
#include "models/model.h"
#include "models/srm.h"
#include "util/mem.h"
#include "util/rng.h"

#include "model_helpers.h"

extern const sr_model_ops sr_model_session_knn, sr_model_item_knn;

#define T0  1500000000
#define DAY 86400
#define TOL 1e-6

enum { A, B, C, D, E };

static sr_listen L(const char *user, const char *track, int64_t ts) {
    return (sr_listen){.user = sr_str_c(user),
                       .artist = sr_str_c("X"),
                       .track = sr_str_c(track),
                       .ts = ts == SR_TS_NONE ? ts : T0 + ts,
                       .value = 1};
}

static sr_dataset *build(const sr_listen *ls, size_t n, const sr_build_opts *o) {
    sr_builder *b;
    assert_int_equal(sr_builder_new(o, &b), SR_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sr_builder_add(b, &ls[i], SR_VALUE_PLAYS), SR_OK);
    sr_dataset *ds = NULL;
    sr_diag d = {{0}};
    if (sr_builder_finish(b, NULL, &ds, NULL, &d)) fail_msg("%s", d.msg);
    sr_builder_free(b);
    return ds;
}

/* Dataset D (see the top). */
static sr_dataset *dataset_d(bool keep, unsigned min_listeners) {
    const sr_listen ls[] = {
        L("ann", "A", 0),         L("ann", "B", 600),  L("ann", "C", 1200),  L("ann", "D", 3000),
        L("ann", "A", 4801),      L("ann", "B", 5000), L("ann", "A", 0),     L("bob", "B", 0),
        L("bob", "A", 100),       L("bob", "A", 200),  L("bob", "C", 10000), L("bob", "E", 10100),
        L("cy", "A", 0),          L("cy", "C", 60),    L("cy", "E", 120),    L("cy", "B", 180),
        L("cy", "D", SR_TS_NONE),
    };
    const sr_build_opts o = {.keep_listens = keep, .min_song_listeners = min_listeners};
    return build(ls, sizeof ls / sizeof *ls, &o);
}

/* The dataset's pairs as raw counts, with a trainset of all of them given the events. */
static sr_trainset *trainset_of(const sr_dataset *ds, sr_ratings **rs_out) {
    sr_ratings *rs;
    assert_int_equal(sr_ratings_from_dataset(ds, SR_TRANSFORM_RAW, &rs), SR_OK);
    sr_trainset *ts;
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    assert_int_equal(sr_trainset_add_events(ts, rs, NULL, 0), SR_OK);
    if (rs_out)
        *rs_out = rs;
    else
        sr_ratings_free(rs);
    return ts;
}

static void expect_events(const sr_dataset *ds, uint32_t u, size_t n, const uint32_t *pair,
                          const uint32_t *dt) {
    assert_int_equal(ds->event_ptr[u + 1] - ds->event_ptr[u], n);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(ds->event_pair[ds->event_ptr[u] + k], pair[k]);
        assert_int_equal(ds->event_time[ds->event_ptr[u] + k], T0 + dt[k]);
    }
}

/* ---- the dataset's events ---- */

static void test_builder_events(void **state) {
    (void)state;
    sr_dataset *ds = dataset_d(true, 0);
    assert_int_equal(ds->n_users, 3);
    assert_int_equal(ds->n_songs, 5);
    assert_int_equal(ds->n_pairs, 13);
    assert_int_equal(ds->n_events, 15);
    assert_int_equal(ds->pair_song[3], D);
    assert_int_equal(ds->pair_song[7], E);
    expect_events(ds, 0, 6, (const uint32_t[]){0, 1, 2, 3, 0, 1},
                  (const uint32_t[]){0, 600, 1200, 3000, 4801, 5000});
    expect_events(ds, 1, 5, (const uint32_t[]){5, 4, 4, 6, 7},
                  (const uint32_t[]){0, 100, 200, 10000, 10100});
    expect_events(ds, 2, 4, (const uint32_t[]){8, 10, 12, 9}, (const uint32_t[]){0, 60, 120, 180});
    sr_dataset_free(ds);

    /* Without --keep-listens: no events. */
    ds = dataset_d(false, 0);
    assert_null(ds->event_ptr);
    assert_int_equal(ds->n_events, 0);
    sr_dataset_free(ds);

    /* Songs with fewer than 3 listeners (D, E) go, and their listens with them; the
     * others' pairs are renumbered: ann A0 B1 C2, bob A3 B4 C5, cy A6 B7 C8. */
    ds = dataset_d(true, 3);
    assert_int_equal(ds->n_songs, 3);
    assert_int_equal(ds->n_pairs, 9);
    assert_int_equal(ds->n_events, 12);
    expect_events(ds, 0, 5, (const uint32_t[]){0, 1, 2, 0, 1},
                  (const uint32_t[]){0, 600, 1200, 4801, 5000});
    expect_events(ds, 1, 4, (const uint32_t[]){4, 3, 3, 5}, (const uint32_t[]){0, 100, 200, 10000});
    expect_events(ds, 2, 3, (const uint32_t[]){6, 8, 7}, (const uint32_t[]){0, 60, 180});
    sr_dataset_free(ds);

    /* --keep-duplicates keeps both copies, as events too; equal times go by pair (B is
     * song 0, first seen, so pair 0). */
    const sr_listen ls[] = {L("u", "B", 5), L("u", "A", 5), L("u", "B", 5), L("u", "A", 1)};
    const sr_build_opts o = {.keep_listens = true, .keep_duplicates = true};
    ds = build(ls, 4, &o);
    assert_int_equal(ds->n_events, 4);
    expect_events(ds, 0, 4, (const uint32_t[]){1, 0, 0, 1}, (const uint32_t[]){1, 5, 5, 5});
    sr_dataset_free(ds);
}

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "/tmp/test_sessions_%d_%s", (int)getpid(), tag);
}

static uint32_t sections_of(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char h[64];
    assert_int_equal(fread(h, 1, 64, f), 64);
    fclose(f);
    uint32_t n;
    memcpy(&n, h + 24, 4);
    return n;
}

static void test_srd_events(void **state) {
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "d.srd");
    sr_diag d = {{0}};
    sr_dataset *ds = dataset_d(true, 0), *back;
    assert_int_equal(sr_dataset_save(ds, path, &d), SR_OK);
    assert_int_equal(sections_of(path), 21);
    assert_int_equal(sr_dataset_load(path, &back, &d), SR_OK);
    assert_int_equal(back->n_events, 15);
    assert_memory_equal(back->event_ptr, ds->event_ptr, 4 * sizeof(uint64_t));
    assert_memory_equal(back->event_pair, ds->event_pair, 15 * sizeof(uint32_t));
    assert_memory_equal(back->event_time, ds->event_time, 15 * sizeof(uint32_t));
    sr_dataset_free(back);

    /* A pair of another user, then times out of order: refused, saying so. */
    uint32_t *pair = (uint32_t *)ds->event_pair, *time = (uint32_t *)ds->event_time;
    pair[1] = 4; /* ann's second listen made bob's */
    assert_int_equal(sr_dataset_save(ds, path, &d), SR_OK);
    assert_int_equal(sr_dataset_load(path, &back, &d), SR_E_CORRUPT);
    assert_non_null(strstr(d.msg, "corrupt events"));
    pair[1] = 1;
    time[2] = T0 + 1; /* before the listen it follows */
    assert_int_equal(sr_dataset_save(ds, path, &d), SR_OK);
    assert_int_equal(sr_dataset_load(path, &back, &d), SR_E_CORRUPT);
    time[2] = 0; /* unknown time */
    assert_int_equal(sr_dataset_save(ds, path, &d), SR_OK);
    assert_int_equal(sr_dataset_load(path, &back, &d), SR_E_CORRUPT);
    sr_dataset_free(ds);

    /* A file without events keeps the old layout (18 sections) and loads without them. */
    ds = dataset_d(false, 0);
    assert_int_equal(sr_dataset_save(ds, path, &d), SR_OK);
    assert_int_equal(sections_of(path), 18);
    assert_int_equal(sr_dataset_load(path, &back, &d), SR_OK);
    assert_null(back->event_ptr);
    assert_int_equal(back->n_pairs, 13);
    sr_ratings *rs;
    sr_trainset *ts = trainset_of(back, &rs);
    assert_null(rs->ev_ptr);
    assert_null(ts->ev);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_session_knn, p);
    sr_fit_ctx c = {.threads = 1};
    void *st = NULL;
    assert_int_equal(sr_model_session_knn.fit(ts, p, &c, &st, &d), SR_E_INPUT);
    assert_null(st);
    assert_non_null(strstr(d.msg, "ingest with --keep-listens"));
    sr_trainset_free(ts);
    sr_ratings_free(rs);
    sr_dataset_free(back);
    sr_dataset_free(ds);
    unlink(path);
}

/* ---- the trainset's view ---- */

static void expect_view(const sr_trainset *ts, uint32_t u, size_t n, const uint32_t *item,
                        const uint32_t *dt) {
    assert_int_equal(ts->ev->ptr[u + 1] - ts->ev->ptr[u], n);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(ts->ev->item[ts->ev->ptr[u] + k], item[k]);
        assert_int_equal(ts->ev->time[ts->ev->ptr[u] + k], T0 + dt[k]);
    }
}

static void test_trainset_events(void **state) {
    (void)state;
    sr_dataset *ds = dataset_d(true, 0);
    sr_ratings *rs;
    sr_trainset *ts = trainset_of(ds, &rs);
    assert_int_equal(rs->n_ev, 15);
    assert_int_equal(ts->ev->n, 15);
    expect_view(ts, 1, 5, (const uint32_t[]){B, A, A, C, E},
                (const uint32_t[]){0, 100, 200, 10000, 10100});
    sr_trainset_free(ts);

    /* bob's A (pair 4) held out: its two listens leave with it */
    uint8_t take[13];
    memset(take, 1, sizeof take);
    take[4] = 0;
    assert_int_equal(sr_trainset_new(rs, take, &ts), SR_OK);
    assert_null(ts->ev); /* nobody asked */
    assert_int_equal(sr_trainset_add_events(ts, rs, take, 0), SR_OK);
    assert_int_equal(ts->ev->n, 13);
    expect_view(ts, 1, 3, (const uint32_t[]){B, C, E}, (const uint32_t[]){0, 10000, 10100});
    expect_view(ts, 0, 6, (const uint32_t[]){A, B, C, D, A, B},
                (const uint32_t[]){0, 600, 1200, 3000, 4801, 5000});
    sr_trainset_free(ts);

    /* a time cut at T + 1000 (a time split): every pair trains, their later listens not */
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    assert_int_equal(sr_trainset_add_events(ts, rs, NULL, T0 + 1000), SR_OK);
    assert_int_equal(ts->ev->n, 9);
    expect_view(ts, 0, 2, (const uint32_t[]){A, B}, (const uint32_t[]){0, 600});
    expect_view(ts, 1, 3, (const uint32_t[]){B, A, A}, (const uint32_t[]){0, 100, 200});
    expect_view(ts, 2, 4, (const uint32_t[]){A, C, E, B}, (const uint32_t[]){0, 60, 120, 180});
    /* both: cy's B (pair 9) held out too; a listen exactly at the cut is after it */
    take[4] = 1, take[9] = 0;
    assert_int_equal(sr_trainset_add_events(ts, rs, take, T0 + 600), SR_OK);
    assert_int_equal(ts->ev->n, 7);
    expect_view(ts, 0, 1, (const uint32_t[]){A}, (const uint32_t[]){0});
    expect_view(ts, 2, 3, (const uint32_t[]){A, C, E}, (const uint32_t[]){0, 60, 120});
    sr_trainset_free(ts);

    /* events by hand: checked */
    const uint64_t ptr[4] = {0, 1, 2, 2};
    const uint32_t bad_pair[2] = {0, 0}, pair2[2] = {0, 4}, t2[2] = {5, 6}, zero[2] = {0, 6};
    assert_int_equal(sr_ratings_set_events(rs, 2, ptr, bad_pair, t2), SR_E_RANGE); /* not bob's */
    assert_int_equal(sr_ratings_set_events(rs, 2, ptr, pair2, zero), SR_E_RANGE);
    assert_int_equal(rs->n_ev, 15); /* unchanged */
    assert_int_equal(sr_ratings_set_events(rs, 2, ptr, pair2, t2), SR_OK);
    assert_int_equal(rs->n_ev, 2);
    sr_ratings_free(rs);
    sr_dataset_free(ds);
}

/* ---- sessions and co-occurrence ---- */

static void test_session_starts(void **state) {
    (void)state;
    const uint32_t t[6] = {0, 600, 1200, 3000, 4801, 5000};
    uint64_t s[6];
    assert_int_equal(sr__session_starts(t, 6, 1800, s), 2);
    assert_true(s[0] == 0 && s[1] == 4);
    assert_int_equal(sr__session_starts(t, 6, 1799, s), 3);
    assert_true(s[0] == 0 && s[1] == 3 && s[2] == 4);
    assert_int_equal(sr__session_starts(t, 6, 0, s), 6);
    assert_int_equal(sr__session_starts(t, 6, 100000, s), 1);
    assert_int_equal(sr__session_starts(t, 0, 1800, s), 0);
}

/* Song a's row as dense counts (n_items 5). */
static void row_of(const sr_sessions *S, uint32_t a, double out[5]) {
    double acc[5] = {0};
    uint64_t stamp[5] = {0};
    uint32_t touched[5];
    size_t nt = sr__session_row(S, a, acc, stamp, touched);
    for (int b = 0; b < 5; b++) out[b] = acc[b], assert_true(stamp[b] == 0);
    size_t nz = 0;
    for (int b = 0; b < 5; b++) nz += acc[b] != 0;
    assert_int_equal(nt, nz);
}

static void expect_row(const sr_sessions *S, uint32_t a, const double want[5]) {
    double got[5];
    row_of(S, a, got);
    for (int b = 0; b < 5; b++)
        if (got[b] != want[b]) fail_msg("C(%u, %d) = %g, want %g", a, b, got[b], want[b]);
}

static void test_cooccurrence(void **state) {
    (void)state;
    sr_dataset *ds = dataset_d(true, 0);
    sr_trainset *ts = trainset_of(ds, NULL);
    sr_sessions *S;
    assert_int_equal(sr__sessions_new(ts, 1800, 10, 0, &S), SR_OK);
    assert_int_equal(S->n, 5);
    const uint64_t starts[6] = {0, 4, 6, 9, 11, 15};
    for (int s = 0; s < 6; s++) assert_int_equal(S->start[s], starts[s]);
    assert_int_equal(S->sess[3], 0); /* D: exactly gap after C */
    assert_int_equal(S->sess[4], 1);
    const double mass[5] = {4, 4, 3, 1, 2};
    for (int a = 0; a < 5; a++) assert_true(S->mass[a] == mass[a] && S->weight[a] == 1);
    expect_row(S, A, (const double[]){0, 4, 2, 1, 1});
    expect_row(S, C, (const double[]){2, 2, 0, 1, 2});
    expect_row(S, D, (const double[]){1, 1, 1, 0, 0});
    sr__sessions_free(S);

    /* the window bound */
    assert_int_equal(sr__sessions_new(ts, 1800, 3, 0, &S), SR_OK);
    expect_row(S, A, (const double[]){0, 3, 2, 0, 1});
    expect_row(S, D, (const double[]){0, 1, 1, 0, 0});
    sr__sessions_free(S);
    assert_int_equal(sr__sessions_new(ts, 1800, 2, 0, &S), SR_OK);
    expect_row(S, A, (const double[]){0, 3, 1, 0, 0});
    expect_row(S, E, (const double[]){0, 1, 2, 0, 0});
    sr__sessions_free(S);

    /* the gap bound: one second less and D is alone */
    assert_int_equal(sr__sessions_new(ts, 1799, 10, 0, &S), SR_OK);
    assert_int_equal(S->n, 6);
    expect_row(S, A, (const double[]){0, 4, 2, 0, 1});
    expect_row(S, D, (const double[]){0, 0, 0, 0, 0});
    assert_true(S->mass[D] == 1);
    sr__sessions_free(S);
    sr_trainset_free(ts);
    sr_dataset_free(ds);
}

static void expect_similar(const sr_model_ops *ops, const void *st, const sr_trainset *ts,
                           uint32_t i, const double want[5]) {
    float got[5];
    assert_true(ops->similar(st, ts, i, got));
    for (int j = 0; j < 5; j++) {
        if (isnan(want[j]) ? isnan(got[j]) : fabs(got[j] - want[j]) < TOL) continue;
        fail_msg("sim(%u, %d) = %.7f, want %.7f", i, j, got[j], want[j]);
    }
}

static void test_similarities_and_scores(void **state) {
    (void)state;
    const sr_model_ops *ops = &sr_model_session_knn;
    sr_dataset *ds = dataset_d(true, 0);
    sr_trainset *ts = trainset_of(ds, NULL);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    void *st = fit(ops, p, ts, 2);
    const double x = NAN;
    expect_similar(ops, st, ts, A, (const double[]){x, 1, 0.5, 0.25, 0.25});
    expect_similar(ops, st, ts, C, (const double[]){2 / 3.0, 2 / 3.0, x, 1 / 3.0, 2 / 3.0});
    expect_similar(ops, st, ts, D, (const double[]){1, 1, 1, x, x});
    double e;
    assert_true(ops->estimate(st, ts, 0, E, &e));
    assert_float_equal(e, 1.3737734, TOL);
    float out[5];
    ops->score_user(st, ts, 0, out, 0, 5);
    assert_float_equal(out[E], 1.3737734, TOL);
    /* a new listener with ann's plays gets ann's scores; explain sums to them */
    const uint32_t items[4] = {A, B, C, D};
    const float r[4] = {2, 2, 1, 1};
    sr_newuser u = {.n = 4, .items = items, .r = r};
    assert_int_equal(ops->fold_in(st, ts, p, &u, NULL), SR_OK);
    float fresh[5];
    ops->score_new(st, ts, &u, fresh, 0, 5);
    assert_memory_equal(fresh, out, sizeof out);
    double w[4];
    assert_true(ops->explain(st, ts, &u, E, w));
    assert_float_equal(w[0] + w[1] + w[2] + w[3], 1.3737734, TOL);
    assert_float_equal(w[2], 2 / 3.0, TOL);
    assert_float_equal(w[3], 0, TOL);
    ops->user_free(u.state);
    ops->free(st);

    /* the other normalisations */
    set(ops, p, "similarity=cosine");
    st = fit(ops, p, ts, 1);
    expect_similar(ops, st, ts, A, (const double[]){x, 1, 0.5773503, 0.5, 0.3535534});
    expect_similar(ops, st, ts, C, (const double[]){0.5773503, 0.5773503, x, 0.5773503, 0.8164966});
    expect_similar(ops, st, ts, D, (const double[]){0.5, 0.5, 0.5773503, x, x});
    ops->free(st);
    set(ops, p, "similarity=count");
    st = fit(ops, p, ts, 1);
    expect_similar(ops, st, ts, A, (const double[]){x, 4, 2, 1, 1});
    ops->free(st);
    set(ops, p, "similarity=conditional");

    /* k = 1: the best neighbour only (ties to the lower id) */
    set(ops, p, "k=1");
    st = fit(ops, p, ts, 1);
    expect_similar(ops, st, ts, A, (const double[]){x, 1, x, x, x});
    expect_similar(ops, st, ts, D, (const double[]){1, x, x, x, x});
    expect_similar(ops, st, ts, E, (const double[]){x, x, 1, x, x});
    ops->free(st);
    sr_trainset_free(ts);
    sr_dataset_free(ds);
}

static void test_decay(void **state) {
    (void)state;
    const sr_listen ls[] = {L("x", "A", 0),       L("x", "B", 60),
                            L("y", "A", 2 * DAY), L("y", "B", 2 * DAY + 60),
                            L("z", "A", 1 * DAY), L("z", "C", 1 * DAY + 60)};
    const sr_build_opts o = {.keep_listens = true};
    sr_dataset *ds = build(ls, 6, &o);
    sr_trainset *ts = trainset_of(ds, NULL);
    sr_sessions *S;
    assert_int_equal(sr__sessions_new(ts, 1800, 10, 1, &S), SR_OK);
    assert_int_equal(S->n, 3);
    assert_float_equal(S->weight[0], 0.25, 1e-12); /* x */
    assert_float_equal(S->weight[1], 1, 1e-12);    /* y */
    assert_float_equal(S->weight[2], 0.5, 1e-12);  /* z */
    assert_float_equal(S->mass[A], 1.75, 1e-12);
    assert_float_equal(S->mass[B], 1.25, 1e-12);
    assert_float_equal(S->mass[C], 0.5, 1e-12);
    sr__sessions_free(S);
    const sr_model_ops *ops = &sr_model_session_knn;
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    set(ops, p, "half_life_days=1");
    void *st = fit(ops, p, ts, 1);
    float sim[5];
    assert_true(ops->similar(st, ts, A, sim));
    assert_float_equal(sim[B], 0.7142857, TOL);
    assert_float_equal(sim[C], 0.2857143, TOL);
    ops->free(st);
    set(ops, p, "similarity=cosine");
    st = fit(ops, p, ts, 1);
    assert_true(ops->similar(st, ts, A, sim));
    assert_float_equal(sim[B], 0.8451543, TOL);
    assert_float_equal(sim[C], 0.5345225, TOL);
    ops->free(st);
    set(ops, p, "similarity=conditional");
    set(ops, p, "half_life_days=0");
    st = fit(ops, p, ts, 1);
    assert_true(ops->similar(st, ts, A, sim));
    assert_float_equal(sim[B], 2 / 3.0, TOL);
    assert_float_equal(sim[C], 1 / 3.0, TOL);
    ops->free(st);
    sr_trainset_free(ts);
    sr_dataset_free(ds);
}

/* ---- random data: threads, score_users, files ---- */

/* nu listeners x ni songs, each pair played 1..6 times over a few hours of one day (so
 * sessions hold several songs), the pairs user-major; events by hand. */
static sr_ratings *random_ratings(uint32_t nu, uint32_t ni, double dens, uint64_t seed) {
    uint32_t *u = malloc(sizeof *u * nu * ni), *it = malloc(sizeof *it * nu * ni);
    float *r = malloc(sizeof *r * nu * ni);
    sr_rng g;
    sr_rng_seed(&g, seed);
    size_t n = 0;
    for (uint32_t a = 0; a < nu; a++)
        for (uint32_t b = 0; b < ni; b++)
            if (sr_rng_double(&g) < dens)
                u[n] = a, it[n] = b, r[n++] = (float)sr_rng_range(&g, 1, 6);
    sr_ratings *rs;
    assert_int_equal(sr_ratings_new(nu, ni, n, u, it, r, 1, 100, &rs), SR_OK);
    uint64_t ne = 0;
    for (size_t k = 0; k < n; k++) ne += (uint64_t)r[k];
    uint64_t *ptr = calloc(nu + 1, sizeof *ptr), *key = malloc(sizeof *key * ne);
    uint32_t *pair = malloc(sizeof *pair * ne), *time = malloc(sizeof *time * ne);
    ne = 0;
    for (size_t k = 0; k < n; k++)
        for (int c = 0; c < (int)r[k]; c++)
            key[ne++] = (uint64_t)(T0 + sr_rng_below(&g, 6 * 3600)) << 32 | k, ptr[u[k] + 1]++;
    for (uint32_t a = 0; a < nu; a++) {
        ptr[a + 1] += ptr[a];
        for (uint64_t x = ptr[a] + 1; x < ptr[a + 1]; x++) /* insertion sort by time */
            for (uint64_t y = x; y > ptr[a] && key[y - 1] > key[y]; y--) {
                uint64_t t = key[y];
                key[y] = key[y - 1], key[y - 1] = t;
            }
    }
    for (uint64_t x = 0; x < ne; x++)
        pair[x] = (uint32_t)key[x], time[x] = (uint32_t)(key[x] >> 32);
    assert_int_equal(sr_ratings_set_events(rs, ne, ptr, pair, time), SR_OK);
    free(u), free(it), free(r), free(ptr), free(key), free(pair), free(time);
    return rs;
}

static void test_threads(void **state) {
    (void)state;
    sr_ratings *rs = random_ratings(30, 70, 0.2, 3);
    sr_trainset *ts;
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    assert_int_equal(sr_trainset_add_events(ts, rs, NULL, 0), SR_OK);
    const sr_model_ops *ops = &sr_model_session_knn;
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    set(ops, p, "k=5");
    set(ops, p, "gap=900");
    const sr_iknn_state *a = fit(ops, p, ts, 1), *b = fit(ops, p, ts, 3);
    const uint64_t nnz = a->ptr[70];
    assert_true(nnz > 100); /* the data has sessions worth the name */
    assert_memory_equal(a->ptr, b->ptr, 71 * sizeof *a->ptr);
    assert_memory_equal(a->idx, b->idx, nnz * sizeof *a->idx);
    assert_memory_equal(a->sim, b->sim, nnz * sizeof *a->sim);
    for (uint32_t i = 0; i < 70; i++) /* by id, at most k, each > 0 */
        for (uint64_t t = a->ptr[i]; t < a->ptr[i + 1]; t++) {
            assert_true(a->ptr[i + 1] - a->ptr[i] <= 5 && a->sim[t] > 0 && a->sim[t] <= 1 + TOL);
            assert_true(t == a->ptr[i] || a->idx[t] > a->idx[t - 1]);
        }
    ops->free((void *)a), ops->free((void *)b);
    sr_trainset_free(ts);
    sr_ratings_free(rs);
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

/* score_users agrees with score_user bit for bit, for blocks of listeners and ranges of
 * songs; so does a model loaded back from its file (lists stored best first). */
static void check_blocked(const sr_model_ops *ops, const void *st, const void *st2,
                          const sr_trainset *ts) {
    const uint32_t users[4] = {0, 3, 7, 29}, ni = ts->n_items;
    const uint32_t ranges[3][2] = {{0, 70}, {5, 41}, {69, 70}};
    float one[70], block[4 * 80];
    for (int g = 0; g < 3; g++) {
        const uint32_t lo = ranges[g][0], hi = ranges[g][1];
        ops->score_users(st, ts, users, 4, block, 80, lo, hi);
        for (int x = 0; x < 4; x++) {
            ops->score_user(st, ts, users[x], one, lo, hi);
            assert_memory_equal(block + x * 80, one + lo, (hi - lo) * sizeof(float));
            ops->score_user(st2, ts, users[x], one, lo, hi);
            assert_memory_equal(block + x * 80, one + lo, (hi - lo) * sizeof(float));
        }
        ops->score_users(st2, ts, users, 4, block + 4, 80, lo, hi);
        for (int x = 0; x < 4; x++) {
            ops->score_user(st, ts, users[x], one, lo, hi);
            assert_memory_equal(block + x * 80 + 4, one + lo, (hi - lo) * sizeof(float));
        }
    }
    /* and the scores are the estimates */
    ops->score_user(st, ts, 3, one, 0, ni);
    for (uint32_t i = 0; i < ni; i++) {
        double e;
        assert_true(ops->estimate(st, ts, 3, i, &e));
        assert_float_equal(one[i], e, 1e-4);
    }
}

static void test_score_users_and_files(void **state) {
    (void)state;
    sr_ratings *rs = random_ratings(30, 70, 0.2, 9);
    sr_trainset *ts;
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    assert_int_equal(sr_trainset_add_events(ts, rs, NULL, 0), SR_OK);
    const sr_model_ops *const ops_list[2] = {&sr_model_item_knn, &sr_model_session_knn};
    for (int m = 0; m < 2; m++) {
        const sr_model_ops *ops = ops_list[m];
        assert_non_null(ops->score_users);
        double p[SR_MAX_PARAMS];
        sr_params_defaults(ops, p);
        set(ops, p, "k=8");
        void *st = fit(ops, p, ts, 2);
        char path[128];
        tmp_path(path, sizeof path, ops->name);
        assert_int_equal(save(ops, st, ts, SR_SRM_PREC_F32, path), SR_OK);
        sr_srm *r;
        void *st2 = NULL;
        assert_int_equal(sr_srm_open(path, &r, NULL), SR_OK);
        assert_int_equal(ops->load(r, ts, p, &st2, NULL), SR_OK);
        /* stored best first */
        const void *vp, *vi, *vs;
        assert_int_equal(sr_srm_get(r, "m.nb_ptr", SR_SRM_U64, 71, &vp, NULL, NULL), SR_OK);
        assert_int_equal(sr_srm_get(r, "m.nb_idx", SR_SRM_U32, UINT64_MAX, &vi, NULL, NULL), SR_OK);
        assert_int_equal(sr_srm_get(r, "m.nb_sim", SR_SRM_F32, UINT64_MAX, &vs, NULL, NULL), SR_OK);
        const uint64_t *ptr = vp;
        const uint32_t *idx = vi;
        const float *s = vs;
        for (uint32_t i = 0; i < 70; i++)
            for (uint64_t t = ptr[i] + 1; t < ptr[i + 1]; t++)
                assert_true(s[t - 1] > s[t] || (s[t - 1] == s[t] && idx[t - 1] < idx[t]));
        check_blocked(ops, st, st2, ts);
        float a[70], b[70];
        for (uint32_t i = 0; i < 70; i++) {
            assert_true(ops->similar(st, ts, i, a) && ops->similar(st2, ts, i, b));
            assert_memory_equal(a, b, sizeof a);
        }
        ops->free(st2);
        sr_srm_close(r);
        unlink(path);
        ops->free(st);
    }
    sr_trainset_free(ts);
    sr_ratings_free(rs);
}

/* The ranking evaluation gives the model its events (and the time split cuts them). */
static void test_ranking_gives_events(void **state) {
    (void)state;
    sr_ratings *rs = random_ratings(30, 70, 0.2, 5);
    sr_rank_opts o;
    sr_rank_opts_default(&o);
    o.k = 5;
    sr_rank_result res;
    sr_diag d = {{0}};
    if (sr_rank_evaluate(rs, &sr_model_session_knn, NULL, &o, &res, &d)) fail_msg("%s", d.msg);
    assert_true(res.users > 0 && res.value[SR_RANK_NDCG] >= 0);
    /* pairs' first listens for a time split: the events' earliest per pair */
    rs->ts = sr_mallocarray(rs->n, sizeof *rs->ts);
    for (uint64_t j = 0; j < rs->n; j++) rs->ts[j] = UINT32_MAX;
    for (uint64_t e = 0; e < rs->n_ev; e++)
        if (rs->ev_time[e] < rs->ts[rs->ev_pair[e]]) rs->ts[rs->ev_pair[e]] = rs->ev_time[e];
    o.split = SR_RANK_TIME;
    o.time_cut = T0 + 3 * 3600;
    if (sr_rank_evaluate(rs, &sr_model_session_knn, NULL, &o, &res, &d)) fail_msg("%s", d.msg);
    assert_true(res.users > 0);
    /* without events: the fit's words come through */
    sr_ratings *bare;
    assert_int_equal(
        sr_ratings_new(rs->n_users, rs->n_items, rs->n, rs->user, rs->item, rs->r, 1, 100, &bare),
        SR_OK);
    o.split = SR_RANK_HOLDOUT;
    assert_int_equal(sr_rank_evaluate(bare, &sr_model_session_knn, NULL, &o, &res, &d), SR_E_INPUT);
    assert_non_null(strstr(d.msg, "--keep-listens"));
    sr_ratings_free(bare);
    sr_ratings_free(rs);
}

/* Out of memory anywhere in building the events, copying them and in the fit: an error,
 * nothing leaked. */
static void test_out_of_memory(void **state) {
    (void)state;
    const sr_listen ls[] = {L("ann", "A", 0),  L("ann", "B", 60), L("bob", "B", 0),
                            L("bob", "C", 30), L("ann", "A", 0),  L("cy", "C", SR_TS_NONE)};
    const sr_build_opts o = {.keep_listens = true};
    bool built = false;
    for (long n = 0; !built && n < 200; n++) {
        sr_builder *b;
        assert_int_equal(sr_builder_new(&o, &b), SR_OK);
        for (size_t i = 0; i < 6; i++)
            assert_int_equal(sr_builder_add(b, &ls[i], SR_VALUE_PLAYS), SR_OK);
        sr_dataset *ds = NULL;
        sr_mem_fail_after(n);
        sr_err e = sr_builder_finish(b, NULL, &ds, NULL, NULL);
        sr_mem_fail_after(-1);
        sr_builder_free(b);
        if (e == SR_OK) {
            built = true;
            assert_int_equal(ds->n_events, 4);
            for (long m = 0; m < 20; m++) { /* the ratings' copy and the trainset's view */
                sr_ratings *rs = NULL;
                sr_trainset *ts = NULL;
                sr_mem_fail_after(m);
                e = sr_ratings_from_dataset(ds, SR_TRANSFORM_RAW, &rs);
                if (!e) e = sr_trainset_new(rs, NULL, &ts);
                if (!e) e = sr_trainset_add_events(ts, rs, NULL, 0);
                sr_mem_fail_after(-1);
                assert_true(e == SR_OK || e == SR_E_NOMEM);
                if (!e) assert_int_equal(ts->ev->n, 4);
                sr_trainset_free(ts);
                sr_ratings_free(rs);
            }
            sr_dataset_free(ds);
        } else {
            assert_int_equal(e, SR_E_NOMEM);
            assert_null(ds);
        }
    }
    assert_true(built);
    sr_ratings *rs = random_ratings(12, 20, 0.3, 4);
    sr_trainset *ts;
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    assert_int_equal(sr_trainset_add_events(ts, rs, NULL, 0), SR_OK);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_session_knn, p);
    sr_fit_ctx c = {.threads = 2};
    bool done = false;
    for (long n = 0; !done && n < 200; n++) {
        void *st = NULL;
        sr_mem_fail_after(n);
        sr_err e = sr_model_session_knn.fit(ts, p, &c, &st, NULL);
        sr_mem_fail_after(-1);
        if (e == SR_OK) {
            done = true;
            sr_model_session_knn.free(st);
        } else {
            assert_int_equal(e, SR_E_NOMEM);
            assert_null(st);
        }
    }
    assert_true(done);
    sr_trainset_free(ts);
    sr_ratings_free(rs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_events),
        cmocka_unit_test(test_srd_events),
        cmocka_unit_test(test_trainset_events),
        cmocka_unit_test(test_session_starts),
        cmocka_unit_test(test_cooccurrence),
        cmocka_unit_test(test_similarities_and_scores),
        cmocka_unit_test(test_decay),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_score_users_and_files),
        cmocka_unit_test(test_ranking_gives_events),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
