/* The dataset builder and the .srd file: normalisation merges spellings, the most
 * frequent spelling is displayed, duplicates are dropped, pairs aggregate, filters
 * apply in order, CSR both ways is consistent, save/load round-trips, and a damaged
 * file is refused with the right error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/builder.h"
#include "data/normalize.h"
#include "util/mem.h"
#include "util/strmap.h"

static sr_listen L(const char *user, const char *artist, const char *track, int64_t ts) {
    return (sr_listen){.user = sr_str_c(user),
                       .artist = sr_str_c(artist),
                       .track = sr_str_c(track),
                       .ts = ts,
                       .value = 1};
}

static void expect_norm(const char *in, const char *want) {
    sr_normbuf b = {0};
    sr_str out;
    assert_int_equal(sr_normalize(sr_str_c(in), &b, &out), SR_OK);
    assert_int_equal(out.n, strlen(want));
    assert_memory_equal(out.p, want, out.n);
    sr_normbuf_free(&b);
}

static void test_normalize(void **state) {
    (void)state;
    expect_norm("  The  Example\tBand ", "the example band");
    expect_norm("BJÖRK", "björk");
    expect_norm("Bjo\xcc\x88rk", "björk");                      /* decomposed ö composes */
    expect_norm("\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3", "abc"); /* fullwidth ABC (NFKC) */
    expect_norm("Stra\xc3\x9f"
                "e",
                "strasse"); /* ß case-folds to ss */
    expect_norm("A\xc2\xa0\xc2\xa0"
                "B",
                "a b");                                /* NBSP collapses */
    expect_norm("zero\xe2\x80\x8bwidth", "zerowidth"); /* U+200B is ignorable */
    expect_norm("AC/DC", "ac/dc");                     /* punctuation kept */
}

static void test_strmap(void **state) {
    (void)state;
    sr_strmap m;
    assert_int_equal(sr_strmap_init(&m), SR_OK);
    char buf[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(buf, sizeof buf, "key-%d", i);
        uint32_t id;
        int ins;
        assert_int_equal(sr_strmap_intern(&m, sr_str_c(buf), &id, &ins), SR_OK);
        assert_int_equal(id, i);
        assert_true(ins);
    }
    for (int i = 0; i < 5000; i += 7) {
        snprintf(buf, sizeof buf, "key-%d", i);
        uint32_t id;
        int ins;
        assert_int_equal(sr_strmap_intern(&m, sr_str_c(buf), &id, &ins), SR_OK);
        assert_int_equal(id, i);
        assert_false(ins);
        sr_str s = sr_strmap_get(&m, id);
        assert_memory_equal(s.p, buf, s.n);
    }
    uint32_t id;
    assert_int_equal(sr_strmap_find(&m, sr_str_c("absent"), &id), 0);
    assert_int_equal(sr_strmap_intern(&m, sr_str_c(""), &id, NULL), SR_OK);
    assert_int_equal(sr_strmap_find(&m, sr_str_c(""), &id), 1);
    sr_strmap_deinit(&m);
}

/* alice: "The Band - Song" x2 (+1 exact duplicate), "the band - SONG" x1 (same song),
 *        "The Band - Other" x1
 * bob:   "THE BAND - Song" x1, "Solo - Tune" x1 at unknown time
 * So: 2 users, 2 artists, 3 songs, 4 pairs; listens 6 after dropping 1 duplicate. */
static sr_dataset *build(const sr_build_opts *o, sr_build_stats *bs) {
    sr_builder *b;
    assert_int_equal(sr_builder_new(o, &b), SR_OK);
    sr_listen ls[] = {
        L("alice", "The Band", "Song", 1500000000),  L("alice", "The Band", "Song", 1500000100),
        L("alice", "The Band", "Song", 1500000000),  L("alice", "the band", "SONG", 1500000200),
        L("alice", "The Band", "Other", 1500000300), L("bob", "THE BAND", "Song", 1400000000),
        L("bob", "Solo", "Tune", SR_TS_NONE),
    };
    for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++)
        assert_int_equal(sr_builder_add(b, &ls[i], SR_VALUE_PLAYS), SR_OK);
    sr_dataset *ds = NULL;
    sr_diag d = {{0}};
    sr_err e = sr_builder_finish(b, "{\"test\":1}", &ds, bs, &d);
    sr_builder_free(b);
    if (e) return NULL;
    return ds;
}

static void str_is(sr_str s, const char *want) {
    assert_int_equal(s.n, strlen(want));
    assert_memory_equal(s.p, want, s.n);
}

static void check_full(const sr_dataset *ds) {
    assert_int_equal(ds->n_users, 2);
    assert_int_equal(ds->n_artists, 2);
    assert_int_equal(ds->n_songs, 3);
    assert_int_equal(ds->n_pairs, 4);
    assert_int_equal(ds->n_listens, 6);
    str_is(sr_dataset_user(ds, 0), "alice");
    str_is(sr_dataset_user(ds, 1), "bob");
    str_is(sr_dataset_artist(ds, 0), "The Band"); /* 4 plays vs 1 and 1 */
    str_is(sr_dataset_track(ds, 0), "Song");
    str_is(sr_dataset_track(ds, 1), "Other");
    str_is(sr_dataset_track(ds, 2), "Tune");
    assert_int_equal(ds->song_artist[2], 1);
    /* alice: song 0 (3 plays, first 1500000000, last 1500000200), song 1 (1 play) */
    assert_int_equal(ds->user_ptr[0], 0);
    assert_int_equal(ds->user_ptr[1], 2);
    assert_int_equal(ds->user_ptr[2], 4);
    assert_int_equal(ds->pair_song[0], 0);
    assert_true(ds->pair_value[0] == 3.0f);
    assert_int_equal(ds->pair_first[0], 1500000000);
    assert_int_equal(ds->pair_last[0], 1500000200);
    assert_int_equal(ds->pair_song[1], 1);
    /* bob: song 0 (1), song 2 (1, unknown time) */
    assert_int_equal(ds->pair_song[2], 0);
    assert_int_equal(ds->pair_song[3], 2);
    assert_int_equal(ds->pair_first[3], 0);
    /* by song: song 0 has alice (pair 0) and bob (pair 2) */
    assert_int_equal(ds->song_ptr[1], 2);
    assert_int_equal(ds->song_user[0], 0);
    assert_int_equal(ds->song_user[1], 1);
    assert_int_equal(ds->song_pair[1], 2);
    assert_int_equal(ds->ts_min, 1400000000);
    assert_int_equal(ds->ts_max, 1500000300);
}

static void test_build(void **state) {
    (void)state;
    sr_build_stats bs;
    sr_dataset *ds = build(NULL, &bs);
    assert_non_null(ds);
    assert_int_equal(bs.duplicates, 1);
    check_full(ds);
    sr_dataset_free(ds);
}

/* Adding listens in batches (with prefetching) gives the same dataset as one by one. */
static void test_batch_equals_single(void **state) {
    (void)state;
    enum { N = 3000 };
    static sr_listen ls[N];
    static uint8_t kinds[N];
    static char names[N][3][24];
    unsigned x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245 + 12345;
        snprintf(names[i][0], 24, "u%u", (x >> 8) % 37);
        snprintf(names[i][1], 24, "Artist %u", (x >> 12) % 29);
        snprintf(names[i][2], 24, "Track %u", (x >> 16) % 301);
        ls[i] = L(names[i][0], names[i][1], names[i][2], 1300000000 + (int64_t)((x >> 4) % 100000));
        kinds[i] = SR_VALUE_PLAYS;
    }
    sr_builder *b1, *b2;
    assert_int_equal(sr_builder_new(NULL, &b1), SR_OK);
    assert_int_equal(sr_builder_new(NULL, &b2), SR_OK);
    for (int i = 0; i < N; i++) assert_int_equal(sr_builder_add(b1, &ls[i], SR_VALUE_PLAYS), SR_OK);
    assert_int_equal(sr_builder_add_batch(b2, ls, kinds, 1000), SR_OK);
    assert_int_equal(sr_builder_add_batch(b2, ls + 1000, kinds + 1000, 7), SR_OK);
    assert_int_equal(sr_builder_add_batch(b2, ls + 1007, kinds + 1007, N - 1007), SR_OK);
    sr_dataset *d1, *d2;
    sr_diag d;
    assert_int_equal(sr_builder_finish(b1, NULL, &d1, NULL, &d), SR_OK);
    assert_int_equal(sr_builder_finish(b2, NULL, &d2, NULL, &d), SR_OK);
    sr_builder_free(b1);
    sr_builder_free(b2);
    assert_int_equal(d1->n_users, d2->n_users);
    assert_int_equal(d1->n_songs, d2->n_songs);
    assert_int_equal(d1->n_pairs, d2->n_pairs);
    assert_int_equal(d1->n_listens, d2->n_listens);
    assert_memory_equal(d1->pair_song, d2->pair_song, d1->n_pairs * 4);
    assert_memory_equal(d1->pair_value, d2->pair_value, d1->n_pairs * 4);
    assert_memory_equal(d1->user_ptr, d2->user_ptr, (d1->n_users + 1) * 8);
    assert_memory_equal(d1->tracks.data, d2->tracks.data, d1->tracks.off[d1->n_songs]);
    sr_dataset_free(d1);
    sr_dataset_free(d2);
}

static void test_filters(void **state) {
    (void)state;
    sr_build_stats bs;
    /* top 1 song: only "Song" (4 plays) stays; bob keeps one pair. */
    sr_dataset *ds = build(&(sr_build_opts){.top_songs = 1}, &bs);
    assert_non_null(ds);
    assert_int_equal(ds->n_songs, 1);
    assert_int_equal(ds->n_pairs, 2);
    assert_int_equal(ds->n_listens, 4);
    sr_dataset_free(ds);
    /* songs need 2 listeners: only "Song"; then users need 2 plays: only alice. */
    ds = build(&(sr_build_opts){.min_song_listeners = 2, .min_user_listens = 2}, &bs);
    assert_non_null(ds);
    assert_int_equal(ds->n_songs, 1);
    assert_int_equal(ds->n_users, 1);
    assert_int_equal(ds->n_listens, 3);
    sr_dataset_free(ds);
    /* a window that holds only bob's 2014 listen (and the timeless one) */
    ds = build(&(sr_build_opts){.until = 1450000000}, &bs);
    assert_non_null(ds);
    assert_int_equal(bs.out_of_window, 5);
    assert_int_equal(ds->n_users, 1);
    assert_int_equal(ds->n_pairs, 2);
    sr_dataset_free(ds);
    /* nothing left: SR_E_EMPTY */
    assert_null(build(&(sr_build_opts){.min_user_listens = 100}, &bs));
}

static void test_ratings(void **state) {
    (void)state;
    sr_builder *b;
    assert_int_equal(sr_builder_new(NULL, &b), SR_OK);
    sr_listen r1 = {.user = sr_str_c("1"), .track = sr_str_c("242"), .ts = 100, .value = 3};
    sr_listen r2 = {.user = sr_str_c("1"), .track = sr_str_c("242"), .ts = 200, .value = 5};
    sr_listen r3 = {
        .user = sr_str_c("2"), .track = sr_str_c("302"), .ts = SR_TS_NONE, .value = 2.5};
    assert_int_equal(sr_builder_add(b, &r2, SR_VALUE_RATINGS), SR_OK);
    assert_int_equal(sr_builder_add(b, &r1, SR_VALUE_RATINGS), SR_OK);
    assert_int_equal(sr_builder_add(b, &r3, SR_VALUE_RATINGS), SR_OK);
    sr_listen p = L("x", "a", "b", 1500000000);
    assert_int_equal(sr_builder_add(b, &p, SR_VALUE_PLAYS), SR_E_INPUT); /* no mixing */
    sr_dataset *ds;
    sr_diag d;
    assert_int_equal(sr_builder_finish(b, NULL, &ds, NULL, &d), SR_OK);
    sr_builder_free(b);
    assert_int_equal(ds->kind, SR_VALUE_RATINGS);
    assert_int_equal(ds->n_pairs, 2);
    assert_int_equal(ds->n_listens, 2);
    assert_true(ds->pair_value[0] == 5.0f); /* the latest rating wins */
    assert_true(ds->pair_value[1] == 2.5f);
    str_is(sr_dataset_track(ds, 0), "242");
    sr_dataset_free(ds);
}

static char path[64];

static void write_bytes(const char *p, const void *data, size_t n) {
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static unsigned char *read_all(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void test_srd_roundtrip_and_damage(void **state) {
    (void)state;
    snprintf(path, sizeof path, "/tmp/sr-test-%d.srd", (int)getpid());
    sr_dataset *ds = build(NULL, NULL);
    sr_diag d = {{0}};
    assert_int_equal(sr_dataset_save(ds, path, &d), SR_OK);
    sr_dataset_free(ds);
    assert_int_equal(sr_dataset_load(path, &ds, &d), SR_OK);
    check_full(ds);
    assert_string_equal(ds->meta_json, "{\"test\":1}");
    sr_dataset_free(ds);

    size_t n;
    unsigned char *orig = read_all(path, &n);
    char bad[80];
    snprintf(bad, sizeof bad, "%s.bad", path);
    /* truncated */
    write_bytes(bad, orig, n - 10);
    assert_int_equal(sr_dataset_load(bad, &ds, &d), SR_E_TRUNCATED);
    assert_non_null(strstr(d.msg, "truncated"));
    write_bytes(bad, orig, 30);
    assert_int_equal(sr_dataset_load(bad, &ds, &d), SR_E_TRUNCATED);
    /* a flipped byte in the body */
    unsigned char *copy = malloc(n);
    memcpy(copy, orig, n);
    copy[n - 7] ^= 0x40;
    write_bytes(bad, copy, n);
    assert_int_equal(sr_dataset_load(bad, &ds, &d), SR_E_CORRUPT);
    assert_non_null(strstr(d.msg, "checksum"));
    /* another version */
    memcpy(copy, orig, n);
    copy[8] = 99;
    write_bytes(bad, copy, n);
    assert_int_equal(sr_dataset_load(bad, &ds, &d), SR_E_VERSION);
    assert_non_null(strstr(d.msg, "version 99"));
    /* not a dataset at all */
    write_bytes(bad, "hello world, this is text\n", 26);
    assert_int_equal(sr_dataset_load(bad, &ds, &d), SR_E_CORRUPT);
    assert_non_null(strstr(d.msg, "not a songrec dataset"));
    /* random flips anywhere: always refused, never a crash */
    srand(7);
    for (int i = 0; i < 200; i++) {
        memcpy(copy, orig, n);
        copy[(size_t)rand() % n] ^= (unsigned char)(1 + rand() % 255);
        write_bytes(bad, copy, n);
        sr_err e = sr_dataset_load(bad, &ds, &d);
        if (e == SR_OK)
            sr_dataset_free(ds); /* a flip in a padding byte of the header */
        else
            assert_true(e == SR_E_CORRUPT || e == SR_E_TRUNCATED || e == SR_E_VERSION);
    }
    /* missing file */
    assert_int_equal(sr_dataset_load("/nonexistent/x.srd", &ds, &d), SR_E_IO);
    free(copy);
    free(orig);
    unlink(bad);
    unlink(path);
}

static void test_out_of_memory(void **state) {
    (void)state;
    /* Fail each allocation in turn: the builder must fail cleanly (ASan checks leaks). */
    for (long k = 0; k < 400; k += 3) {
        sr_builder *b = NULL;
        sr_mem_fail_after(k);
        sr_err e = sr_builder_new(NULL, &b);
        sr_listen l = L("u", "a", "t", 1500000000);
        for (int i = 0; !e && i < 50; i++) {
            char t[16];
            snprintf(t, sizeof t, "t%d", i);
            l.track = sr_str_c(t);
            e = sr_builder_add(b, &l, SR_VALUE_PLAYS);
        }
        sr_dataset *ds = NULL;
        sr_diag d;
        if (!e) e = sr_builder_finish(b, NULL, &ds, NULL, &d);
        sr_mem_fail_after(-1);
        sr_builder_free(b);
        if (!e) {
            assert_int_equal(ds->n_songs, 50);
            sr_dataset_free(ds);
        } else {
            assert_int_equal(e, SR_E_NOMEM);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_strmap),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_batch_equals_single),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_ratings),
        cmocka_unit_test(test_srd_roundtrip_and_damage),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
