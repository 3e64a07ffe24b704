/* Unit tests for data/stats: a hand-built dataset whose every statistic is worked out
 * by hand below, a ratings dataset, the edge paths (huge play counts, many distinct
 * ratings, empty and corrupt datasets, out of memory), and a randomised comparison of
 * the selection and heap code with a plain sort.
 *
 * The tiny plays dataset (3 users, 4 songs, 2 artists):
 *
 *   songs: s0 "One" (a0), s1 "Two" (a0), s2 "Three" (a1), s3 "Four" (a1)
 *   plays:      s0   s1   s2   s3      user total   songs
 *        u0      1    3   12    .          16          3
 *        u1      2    .    1    .           3          2
 *        u2      1    1    .  150         152          3
 *
 *   pairs 8, listens 171, density 8 / 12.
 *   plays per pair sorted: 1 1 1 1 2 3 12 150 -> once 4 (50%), twice 1, 3-9 1, 10+ 2;
 *     mean 171/8 = 21.375; nearest rank k = ceil(p n / 100): median k=4 -> 1,
 *     p75 k=6 -> 3, p90 k=ceil(7.2)=8 -> 150, p95/p99/p99.9 k=8 -> 150; min 1, max 150.
 *   plays_hist: [1]=4 [2]=1 [3]=1 [12]=1 [100+]=1.
 *   1-10 view: [1]=4 [2]=1 [3]=1 [10]=2; mean (4 + 2 + 3 + 20) / 8 = 3.625.
 *   plays per user 16 3 152: min 3, median (k=2 of 3,16,152) 16, mean 57, max 152.
 *   songs per user 3 2 3: min 2, median 3, mean 8/3, max 3.
 *   listeners per song: s0 3, s1 2, s2 2, s3 1: min 1, median (k=2 of 1,2,2,3) 2,
 *     mean 2, max 3.
 *   song plays: s0 4, s1 4, s2 13, s3 150.
 *     top 3 by plays: s3 150, s2 13, s0 4 (s0 beats s1 on the tie by id).
 *     top 3 by listeners: s0 3, s1 2, s2 2 (s1 before s2 by id).
 *   artists: a0 plays 8 (s0+s1), listeners 3 (u0 counted once for two songs);
 *            a1 plays 163, listeners 3 (u0, u1 via s2; u2 via s3).
 *     by plays: a1, a0; by listeners (tie 3 = 3): a0, a1.
 *   pair_first 100 200 0 300 0 400 500 600 -> 6 pairs timed.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "data/stats.h"
#include "util/mem.h"

/* cmocka 1.1.5 has no assert_double_equal. */
static void near_(double a, double b, double eps, const char *expr, int line) {
    if (!(fabs(a - b) <= eps)) fail_msg("line %d: %s = %.17g, expected %.17g", line, expr, a, b);
}
#define assert_near(a, b, eps) near_((double)(a), (double)(b), (eps), #a, __LINE__)

/* ---- the tiny plays dataset ---------------------------------------------------- */

static const uint64_t tiny_user_ptr[] = {0, 3, 5, 8};
static const uint32_t tiny_pair_song[] = {0, 1, 2, 0, 2, 0, 1, 3};
static const float tiny_pair_value[] = {1, 3, 12, 2, 1, 1, 1, 150};
static const uint32_t tiny_pair_first[] = {100, 200, 0, 300, 0, 400, 500, 600};
static const uint64_t tiny_song_ptr[] = {0, 3, 5, 7, 8};
static const uint32_t tiny_song_user[] = {0, 1, 2, 0, 2, 0, 1, 2};
static const uint32_t tiny_song_pair[] = {0, 3, 5, 1, 6, 2, 4, 7};
static const uint32_t tiny_song_artist[] = {0, 0, 1, 1};

static sr_dataset tiny(void) {
    sr_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.kind = SR_VALUE_PLAYS;
    ds.n_users = 3;
    ds.n_artists = 2;
    ds.n_songs = 4;
    ds.n_pairs = 8;
    ds.n_listens = 171;
    ds.ts_min = 100;
    ds.ts_max = 600;
    ds.song_artist = tiny_song_artist;
    ds.user_ptr = tiny_user_ptr;
    ds.pair_song = tiny_pair_song;
    ds.pair_value = tiny_pair_value;
    ds.pair_first = tiny_pair_first;
    ds.pair_last = tiny_pair_first;
    ds.song_ptr = tiny_song_ptr;
    ds.song_user = tiny_song_user;
    ds.song_pair = tiny_song_pair;
    return ds;
}

static void check_summary(const sr_stats_summary *s, uint64_t n, double min, double median,
                          double mean, double max) {
    assert_int_equal(s->n, n);
    assert_near(s->min, min, 1e-9);
    assert_near(s->median, median, 1e-9);
    assert_near(s->mean, mean, 1e-9);
    assert_near(s->max, max, 1e-9);
}

static void check_item(const sr_stats_item *it, uint32_t id, uint64_t listens, uint64_t listeners) {
    assert_int_equal(it->id, id);
    assert_int_equal(it->listens, listens);
    assert_int_equal(it->listeners, listeners);
}

static void test_tiny_counts(void **state) {
    (void)state;
    sr_dataset ds = tiny();
    sr_stats st;
    assert_int_equal(sr_stats_compute(&ds, 3, &st, NULL), SR_OK);
    assert_int_equal(st.kind, SR_VALUE_PLAYS);
    assert_int_equal(st.n_users, 3);
    assert_int_equal(st.n_artists, 2);
    assert_int_equal(st.n_songs, 4);
    assert_int_equal(st.n_pairs, 8);
    assert_int_equal(st.n_listens, 171);
    assert_near(st.density, 8.0 / 12.0, 1e-12);
    assert_int_equal(st.ts_min, 100);
    assert_int_equal(st.ts_max, 600);
    assert_int_equal(st.pairs_timed, 6);
    sr_stats_deinit(&st);
}

static void test_tiny_plays_per_pair(void **state) {
    (void)state;
    sr_dataset ds = tiny();
    sr_stats st;
    assert_int_equal(sr_stats_compute(&ds, 3, &st, NULL), SR_OK);
    assert_int_equal(st.pairs_once, 4);
    assert_int_equal(st.pairs_twice, 1);
    assert_int_equal(st.pairs_3_9, 1);
    assert_int_equal(st.pairs_10_plus, 2);
    check_summary(&st.plays_per_pair, 8, 1, 1, 21.375, 150);
    const double pct[SR_STATS_N_PCT] = {1, 3, 150, 150, 150, 150};
    for (int i = 0; i < SR_STATS_N_PCT; i++) assert_near(st.plays_pct[i], pct[i], 0);
    assert_near(sr_stats_pct_levels[5], 99.9, 0);

    uint64_t hist[SR_STATS_PLAYS_CAP + 1] = {0};
    hist[1] = 4, hist[2] = 1, hist[3] = 1, hist[12] = 1, hist[100] = 1;
    for (int c = 0; c <= SR_STATS_PLAYS_CAP; c++) assert_int_equal(st.plays_hist[c], hist[c]);

    const uint64_t r10[11] = {0, 4, 1, 1, 0, 0, 0, 0, 0, 0, 2};
    for (int r = 0; r <= 10; r++) assert_int_equal(st.rating10_hist[r], r10[r]);
    assert_near(st.rating10_mean, 3.625, 1e-12);

    /* Ratings fields stay empty for a plays dataset. */
    assert_null(st.rating_bins);
    assert_int_equal(st.n_rating_bins, 0);
    assert_int_equal(st.ratings.n, 0);
    sr_stats_deinit(&st);
}

static void test_tiny_distributions(void **state) {
    (void)state;
    sr_dataset ds = tiny();
    sr_stats st;
    assert_int_equal(sr_stats_compute(&ds, 3, &st, NULL), SR_OK);
    check_summary(&st.listens_per_user, 3, 3, 16, 57, 152);
    check_summary(&st.songs_per_user, 3, 2, 3, 8.0 / 3.0, 3);
    check_summary(&st.listeners_per_song, 4, 1, 2, 2, 3);
    sr_stats_deinit(&st);
}

static void test_tiny_top(void **state) {
    (void)state;
    sr_dataset ds = tiny();
    sr_stats st;
    assert_int_equal(sr_stats_compute(&ds, 3, &st, NULL), SR_OK);
    assert_int_equal(st.n_top_songs, 3);
    check_item(&st.top_songs_by_listens[0], 3, 150, 1);
    check_item(&st.top_songs_by_listens[1], 2, 13, 2);
    check_item(&st.top_songs_by_listens[2], 0, 4, 3); /* s0 and s1 tie at 4: id 0 wins */
    check_item(&st.top_songs_by_listeners[0], 0, 4, 3);
    check_item(&st.top_songs_by_listeners[1], 1, 4, 2); /* s1 and s2 tie at 2: id 1 first */
    check_item(&st.top_songs_by_listeners[2], 2, 13, 2);
    assert_int_equal(st.n_top_artists, 2); /* only two artists */
    check_item(&st.top_artists_by_listens[0], 1, 163, 3);
    check_item(&st.top_artists_by_listens[1], 0, 8, 3);
    check_item(&st.top_artists_by_listeners[0], 0, 8, 3); /* tie at 3: id 0 first */
    check_item(&st.top_artists_by_listeners[1], 1, 163, 3);
    sr_stats_deinit(&st);

    /* More than there are songs: all of them, s1 now after s0. */
    assert_int_equal(sr_stats_compute(&ds, 10, &st, NULL), SR_OK);
    assert_int_equal(st.n_top_songs, 4);
    check_item(&st.top_songs_by_listens[3], 1, 4, 2);
    check_item(&st.top_songs_by_listeners[3], 3, 150, 1);
    sr_stats_deinit(&st);

    /* None at all. */
    assert_int_equal(sr_stats_compute(&ds, 0, &st, NULL), SR_OK);
    assert_int_equal(st.n_top_songs, 0);
    assert_int_equal(st.n_top_artists, 0);
    assert_null(st.top_songs_by_listens);
    sr_stats_deinit(&st);
    sr_stats_deinit(&st); /* twice is harmless */
}

/* Ratings: 3 users, 3 songs, 1 artist.
 *   u0: s0 4.5, s1 3     u1: s0 3, s2 5     u2: s1 0.5
 *   n 5, sum 16, mean 3.2; sum of squares 20.25 + 9 + 9 + 25 + 0.25 = 63.5;
 *   variance 63.5/5 - 3.2^2 = 2.46, std 1.5684387...; median (k=3 of 0.5 3 3 4.5 5) 3.
 *   bins: 0.5 x1, 3 x2, 4.5 x1, 5 x1. Ratings per user 2 2 1; raters per song 2 2 1. */
static void test_ratings(void **state) {
    (void)state;
    static const uint64_t user_ptr[] = {0, 2, 4, 5};
    static const uint32_t pair_song[] = {0, 1, 0, 2, 1};
    static const float pair_value[] = {4.5f, 3, 3, 5, 0.5f};
    static const uint64_t song_ptr[] = {0, 2, 4, 5};
    static const uint32_t song_user[] = {0, 1, 0, 2, 1};
    static const uint32_t song_pair[] = {0, 2, 1, 4, 3};
    static const uint32_t song_artist[] = {0, 0, 0};
    sr_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.kind = SR_VALUE_RATINGS;
    ds.n_users = 3, ds.n_songs = 3, ds.n_artists = 1, ds.n_pairs = 5, ds.n_listens = 5;
    ds.user_ptr = user_ptr, ds.pair_song = pair_song, ds.pair_value = pair_value;
    ds.song_ptr = song_ptr, ds.song_user = song_user, ds.song_pair = song_pair;
    ds.song_artist = song_artist;

    sr_stats st;
    assert_int_equal(sr_stats_compute(&ds, 5, &st, NULL), SR_OK);
    assert_int_equal(st.n_listens, 5);
    check_summary(&st.ratings, 5, 0.5, 3, 3.2, 5);
    assert_near(st.rating_std, sqrt(2.46), 1e-9);
    assert_true(st.rating_bins_exact);
    assert_int_equal(st.n_rating_bins, 4);
    const double lo[] = {0.5, 3, 4.5, 5};
    const uint64_t count[] = {1, 2, 1, 1};
    for (int i = 0; i < 4; i++) {
        assert_near(st.rating_bins[i].lo, lo[i], 0);
        assert_near(st.rating_bins[i].hi, lo[i], 0);
        assert_int_equal(st.rating_bins[i].count, count[i]);
    }
    check_summary(&st.listens_per_user, 3, 1, 2, 5.0 / 3.0, 2);
    check_summary(&st.listeners_per_song, 3, 1, 2, 5.0 / 3.0, 2);
    assert_int_equal(st.pairs_once, 0); /* plays fields stay empty */
    assert_int_equal(st.plays_per_pair.n, 0);
    check_item(&st.top_songs_by_listens[0], 0, 2, 2);
    check_item(&st.top_songs_by_listens[1], 1, 2, 2);
    check_item(&st.top_songs_by_listens[2], 2, 1, 1);
    check_item(&st.top_artists_by_listens[0], 0, 5, 3);
    sr_stats_deinit(&st);
}

/* ---- datasets built from a dense matrix ------------------------------------------ */

typedef struct built {
    sr_dataset ds;
    uint64_t *user_ptr, *song_ptr;
    uint32_t *pair_song, *song_user, *song_pair, *song_artist;
    float *pair_value;
} built;

/* counts: (n_users, n_songs) row-major, 0 = no pair. */
static void build(built *b, sr_value_kind kind, uint32_t n_users, uint32_t n_songs,
                  uint32_t n_artists, const float *counts) {
    memset(b, 0, sizeof *b);
    uint64_t n = 0;
    for (size_t i = 0; i < (size_t)n_users * n_songs; i++) n += counts[i] != 0;
    b->user_ptr = calloc(n_users + 1, sizeof *b->user_ptr);
    b->song_ptr = calloc(n_songs + 1, sizeof *b->song_ptr);
    b->pair_song = calloc(n + 1, sizeof *b->pair_song);
    b->pair_value = calloc(n + 1, sizeof *b->pair_value);
    b->song_user = calloc(n + 1, sizeof *b->song_user);
    b->song_pair = calloc(n + 1, sizeof *b->song_pair);
    b->song_artist = calloc(n_songs + 1, sizeof *b->song_artist);
    uint64_t k = 0;
    for (uint32_t u = 0; u < n_users; u++) {
        for (uint32_t s = 0; s < n_songs; s++) {
            float v = counts[(size_t)u * n_songs + s];
            if (!v) continue;
            b->pair_song[k] = s;
            b->pair_value[k++] = v;
            b->song_ptr[s + 1]++;
        }
        b->user_ptr[u + 1] = k;
    }
    for (uint32_t s = 0; s < n_songs; s++) b->song_ptr[s + 1] += b->song_ptr[s];
    uint64_t *fill = calloc(n_songs + 1, sizeof *fill);
    for (uint32_t u = 0; u < n_users; u++)
        for (uint64_t i = b->user_ptr[u]; i < b->user_ptr[u + 1]; i++) {
            uint32_t s = b->pair_song[i];
            uint64_t at = b->song_ptr[s] + fill[s]++;
            b->song_user[at] = u;
            b->song_pair[at] = (uint32_t)i;
        }
    free(fill);
    for (uint32_t s = 0; s < n_songs; s++) b->song_artist[s] = s % n_artists;
    sr_dataset *ds = &b->ds;
    ds->kind = kind;
    ds->n_users = n_users, ds->n_songs = n_songs, ds->n_artists = n_artists, ds->n_pairs = n;
    ds->user_ptr = b->user_ptr, ds->pair_song = b->pair_song, ds->pair_value = b->pair_value;
    ds->song_ptr = b->song_ptr, ds->song_user = b->song_user, ds->song_pair = b->song_pair;
    ds->song_artist = b->song_artist;
}

static void unbuild(built *b) {
    free(b->user_ptr);
    free(b->song_ptr);
    free(b->pair_song);
    free(b->pair_value);
    free(b->song_user);
    free(b->song_pair);
    free(b->song_artist);
}

/* Counts of 65536 and more take the side list: 1 2 65536 70000 100000 ->
 * median k=3 65536, p75 k=4 70000, p90 k=5 100000; three pairs in the 100+ bin. */
static void test_huge_counts(void **state) {
    (void)state;
    const float counts[] = {1, 70000, 100000, 65536, 2};
    built b;
    build(&b, SR_VALUE_PLAYS, 1, 5, 1, counts);
    sr_stats st;
    assert_int_equal(sr_stats_compute(&b.ds, 2, &st, NULL), SR_OK);
    check_summary(&st.plays_per_pair, 5, 1, 65536, 235539.0 / 5, 100000);
    assert_near(st.plays_pct[1], 70000, 0);
    assert_near(st.plays_pct[2], 100000, 0);
    assert_int_equal(st.plays_hist[100], 3);
    assert_int_equal(st.pairs_10_plus, 3);
    check_item(&st.top_songs_by_listens[0], 2, 100000, 1);
    check_item(&st.top_songs_by_listens[1], 1, 70000, 1);
    sr_stats_deinit(&st);
    unbuild(&b);
}

/* Play counts that are not counts: NaN and 0.3 weigh 0 (bin 0, outside the shares),
 * 2.6 rounds to 3. Weights 0 0 1 3: listens 4, mean 1, median (k=2) 0. */
static void test_invalid_counts(void **state) {
    (void)state;
    const float counts[] = {NAN, 0.3f, 1, 2.6f};
    built b;
    build(&b, SR_VALUE_PLAYS, 1, 4, 1, counts);
    sr_stats st;
    assert_int_equal(sr_stats_compute(&b.ds, 1, &st, NULL), SR_OK);
    assert_int_equal(st.n_pairs, 4);
    assert_int_equal(st.n_listens, 4);
    assert_int_equal(st.plays_hist[0], 2);
    assert_int_equal(st.pairs_once, 1);
    assert_int_equal(st.pairs_3_9, 1);
    assert_int_equal(st.pairs_10_plus, 0);
    check_summary(&st.plays_per_pair, 4, 0, 0, 1, 3);
    assert_near(st.rating10_mean, 2, 1e-12); /* (1 + 3) / 2: bin 0 left out */
    assert_int_equal(st.pairs_timed, 0);     /* no pair_first array */
    sr_stats_deinit(&st);
    unbuild(&b);
}

/* 300 distinct ratings 1..300 are more than 256: 20 equal-width bins over [1, 300] of
 * width 14.95, the first holding 1..15 (15 values). */
static void test_many_distinct_ratings(void **state) {
    (void)state;
    float counts[300];
    for (int i = 0; i < 300; i++) counts[i] = (float)(i + 1);
    built b;
    build(&b, SR_VALUE_RATINGS, 1, 300, 7, counts);
    sr_stats st;
    assert_int_equal(sr_stats_compute(&b.ds, 1, &st, NULL), SR_OK);
    assert_false(st.rating_bins_exact);
    assert_int_equal(st.n_rating_bins, SR_STATS_RATING_BINS);
    uint64_t total = 0;
    for (uint32_t i = 0; i < st.n_rating_bins; i++) total += st.rating_bins[i].count;
    assert_int_equal(total, 300);
    assert_near(st.rating_bins[0].lo, 1, 0);
    assert_near(st.rating_bins[19].hi, 300, 0);
    assert_int_equal(st.rating_bins[0].count, 15);
    assert_near(st.ratings.mean, 150.5, 1e-9);
    sr_stats_deinit(&st);
    unbuild(&b);
}

static void test_empty(void **state) {
    (void)state;
    static const uint64_t zero[] = {0};
    sr_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.user_ptr = zero;
    ds.song_ptr = zero;
    sr_stats st;
    assert_int_equal(sr_stats_compute(&ds, 10, &st, NULL), SR_OK);
    assert_int_equal(st.n_pairs, 0);
    assert_int_equal(st.n_top_songs, 0);
    assert_near(st.density, 0, 0);
    check_summary(&st.listens_per_user, 0, 0, 0, 0, 0);
    sr_stats_deinit(&st);
}

static void test_corrupt(void **state) {
    (void)state;
    sr_diag d = {{0}};
    sr_stats st;

    uint32_t bad_song[8];
    memcpy(bad_song, tiny_pair_song, sizeof bad_song);
    bad_song[6] = 4; /* one past the last song */
    sr_dataset ds = tiny();
    ds.pair_song = bad_song;
    assert_int_equal(sr_stats_compute(&ds, 3, &st, &d), SR_E_CORRUPT);
    assert_non_null(strstr(d.msg, "song id 4"));

    uint64_t bad_ptr[4] = {0, 5, 3, 8}; /* decreasing */
    ds = tiny();
    ds.user_ptr = bad_ptr;
    assert_int_equal(sr_stats_compute(&ds, 3, &st, &d), SR_E_CORRUPT);

    uint64_t short_ptr[5] = {0, 3, 5, 7, 7}; /* does not end at n_pairs */
    ds = tiny();
    ds.song_ptr = short_ptr;
    assert_int_equal(sr_stats_compute(&ds, 3, &st, &d), SR_E_CORRUPT);

    uint32_t bad_artist[4] = {0, 0, 1, 2};
    ds = tiny();
    ds.song_artist = bad_artist;
    assert_int_equal(sr_stats_compute(&ds, 3, &st, &d), SR_E_CORRUPT);
}

/* Every allocation failing in turn: SR_E_NOMEM, nothing leaked (ASan checks). */
static void test_out_of_memory(void **state) {
    (void)state;
    const float ratings[] = {1, 2, 0, 3, 0, 4};
    built b;
    build(&b, SR_VALUE_RATINGS, 2, 3, 2, ratings);
    sr_dataset plays = tiny();
    const sr_dataset *sets[2] = {&plays, &b.ds};
    for (int k = 0; k < 2; k++) {
        for (long n = 0;; n++) {
            sr_stats st;
            sr_mem_fail_after(n);
            sr_err e = sr_stats_compute(sets[k], 3, &st, NULL);
            sr_mem_fail_after(-1);
            if (e == SR_OK) {
                sr_stats_deinit(&st);
                assert_true(n > 5);
                break;
            }
            assert_int_equal(e, SR_E_NOMEM);
        }
    }
    unbuild(&b);
}

/* ---- randomised comparison with a plain sort ------------------------------------- */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_item_listens(const void *a, const void *b) {
    const sr_stats_item *x = a, *y = b;
    if (x->listens != y->listens) return x->listens > y->listens ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int cmp_item_listeners(const void *a, const void *b) {
    const sr_stats_item *x = a, *y = b;
    if (x->listeners != y->listeners) return x->listeners > y->listeners ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static void test_against_sort(void **state) {
    (void)state;
    enum { U = 300, S = 400, A = 37, TOP = 25 };
    uint64_t rng = 12345;
    float *counts = calloc((size_t)U * S, sizeof *counts);
    for (size_t i = 0; i < (size_t)U * S; i++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        uint32_t r = (uint32_t)(rng >> 33);
        /* sparse, heavily tied, a few large counts */
        if (r % 10 == 0) counts[i] = (float)(1 + (r >> 8) % (r % 7 == 0 ? 300 : 4));
    }
    built b;
    build(&b, SR_VALUE_PLAYS, U, S, A, counts);
    sr_stats st;
    assert_int_equal(sr_stats_compute(&b.ds, TOP, &st, NULL), SR_OK);

    /* Reference: full sorts. */
    uint64_t *per_user = calloc(U, sizeof *per_user), *vals = calloc(b.ds.n_pairs, sizeof *vals);
    sr_stats_item *songs = calloc(S, sizeof *songs);
    for (uint32_t s = 0; s < S; s++) songs[s].id = s;
    uint64_t total = 0;
    for (uint32_t u = 0; u < U; u++)
        for (uint64_t i = b.user_ptr[u]; i < b.user_ptr[u + 1]; i++) {
            uint64_t v = (uint64_t)b.pair_value[i];
            per_user[u] += v;
            vals[i] = v;
            total += v;
            songs[b.pair_song[i]].listens += v;
            songs[b.pair_song[i]].listeners++;
        }
    assert_int_equal(st.n_listens, total);
    qsort(per_user, U, sizeof *per_user, cmp_u64);
    qsort(vals, b.ds.n_pairs, sizeof *vals, cmp_u64);
    assert_near(st.listens_per_user.median, (double)per_user[(U + 1) / 2 - 1], 0);
    assert_near(st.listens_per_user.min, (double)per_user[0], 0);
    assert_near(st.listens_per_user.max, (double)per_user[U - 1], 0);
    const double levels[SR_STATS_N_PCT] = {0.5, 0.75, 0.9, 0.95, 0.99, 0.999};
    for (int i = 0; i < SR_STATS_N_PCT; i++) {
        size_t k = (size_t)ceil(levels[i] * (double)b.ds.n_pairs - 1e-9);
        assert_near(st.plays_pct[i], (double)vals[k - 1], 0);
    }
    qsort(songs, S, sizeof *songs, cmp_item_listens);
    for (int i = 0; i < TOP; i++)
        check_item(&st.top_songs_by_listens[i], songs[i].id, songs[i].listens, songs[i].listeners);
    qsort(songs, S, sizeof *songs, cmp_item_listeners);
    for (int i = 0; i < TOP; i++)
        check_item(&st.top_songs_by_listeners[i], songs[i].id, songs[i].listens,
                   songs[i].listeners);
    uint64_t *listeners = calloc(S, sizeof *listeners);
    for (uint32_t s = 0; s < S; s++) listeners[s] = songs[s].listeners;
    qsort(listeners, S, sizeof *listeners, cmp_u64);
    assert_near(st.listeners_per_song.median, (double)listeners[S / 2 - 1], 0);

    sr_stats_deinit(&st);
    free(listeners);
    free(per_user);
    free(vals);
    free(songs);
    free(counts);
    unbuild(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_counts),
        cmocka_unit_test(test_tiny_plays_per_pair),
        cmocka_unit_test(test_tiny_distributions),
        cmocka_unit_test(test_tiny_top),
        cmocka_unit_test(test_ratings),
        cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_invalid_counts),
        cmocka_unit_test(test_many_distinct_ratings),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_against_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
