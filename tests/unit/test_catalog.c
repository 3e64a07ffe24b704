/* The catalog (rec/catalog.h): exact lookups with ingest's key (case, NFKC forms, white
 * space; accents kept), "Artist - Track" splitting, songs without an artist (items-only
 * data) found by their track, search classes and ranking on small hand-built catalogs
 * whose expected hits are worked out in comments, paging, kinds, bad queries and bad
 * input, allocation failures, and search against a brute-force reference on a random
 * ASCII catalog large enough to take several rounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec/catalog.h"
#include "util/mem.h"
#include "util/rng.h"

/* A catalog source built from C strings (test-owned storage). */
typedef struct fixture {
    uint64_t *a_off, *t_off;
    char *a_data, *t_data;
    uint32_t *item_artist, *pop;
    sr_catalog_src src;
} fixture;

static void tab(sr_strtab *t, uint64_t **off, char **data, const char *const *names, uint32_t n) {
    size_t len = 0;
    for (uint32_t i = 0; i < n; i++) len += strlen(names[i]);
    *off = calloc((size_t)n + 1, sizeof **off);
    *data = calloc(len + 1, 1);
    assert_non_null(*off);
    assert_non_null(*data);
    size_t p = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t k = strlen(names[i]);
        memcpy(*data + p, names[i], k);
        p += k;
        (*off)[i + 1] = p;
    }
    *t = (sr_strtab){n, *off, *data};
}

/* songs[i] is "artist index|track"; pop may be NULL. */
static void fixture_init(fixture *f, const char *const *artists, uint32_t n_artists,
                         const char *const *songs, uint32_t n_songs, const uint32_t *pop) {
    memset(f, 0, sizeof *f);
    const char **tracks = calloc(n_songs ? n_songs : 1, sizeof *tracks);
    f->item_artist = calloc(n_songs ? n_songs : 1, sizeof *f->item_artist);
    assert_non_null(tracks);
    for (uint32_t i = 0; i < n_songs; i++) {
        const char *bar = strchr(songs[i], '|');
        assert_non_null(bar);
        f->item_artist[i] = (uint32_t)atoi(songs[i]);
        tracks[i] = bar + 1;
    }
    tab(&f->src.artists, &f->a_off, &f->a_data, artists, n_artists);
    tab(&f->src.tracks, &f->t_off, &f->t_data, tracks, n_songs);
    free(tracks);
    f->src.item_artist = f->item_artist;
    if (pop) {
        f->pop = calloc(n_songs ? n_songs : 1, sizeof *f->pop);
        memcpy(f->pop, pop, n_songs * sizeof *pop);
        f->src.item_pop = f->pop;
    }
}

static void fixture_deinit(fixture *f) {
    free(f->a_off), free(f->t_off), free(f->a_data), free(f->t_data);
    free(f->item_artist), free(f->pop);
}

static sr_catalog *build(const fixture *f) {
    sr_catalog *c = NULL;
    sr_diag d = {{0}};
    sr_err e = sr_catalog_build(&f->src, &c, &d);
    if (e) fprintf(stderr, "%s\n", d.msg);
    assert_int_equal(e, SR_OK);
    assert_non_null(c);
    return c;
}

static int search(const sr_catalog *c, const char *q, unsigned kinds, size_t limit,
                  sr_catalog_hit *out) {
    return sr_catalog_search(c, q, strlen(q), kinds, limit, out);
}

static uint32_t find_artist(const sr_catalog *c, const char *s) {
    uint32_t a = 12345;
    sr_err e = sr_catalog_find_artist(c, s, strlen(s), &a);
    return e == SR_OK ? a : e == SR_E_NOTFOUND ? UINT32_MAX : (fail(), 0);
}

static uint32_t find_song(const sr_catalog *c, const char *a, const char *t) {
    uint32_t s = 12345;
    sr_err e = sr_catalog_find_song(c, a, strlen(a), t, strlen(t), &s);
    return e == SR_OK ? s : e == SR_E_NOTFOUND ? UINT32_MAX : (fail(), 0);
}

static uint32_t find_text(const sr_catalog *c, const char *text) {
    uint32_t s = 12345;
    sr_err e = sr_catalog_find_song_text(c, text, strlen(text), &s);
    return e == SR_OK ? s : e == SR_E_NOTFOUND ? UINT32_MAX : (fail(), 0);
}

/* ---- a small catalog used by several tests ------------------------------------------ */

static const char *const artists1[] = {
    "Björk",       /* 0 */
    "Radiohead",   /* 1 */
    "The Beatles", /* 2 */
    "Sigur Rós",   /* 3 */
    "Mike - Dash", /* 4: contains " - " */
    "Mike",        /* 5 */
    "R.E.M.",      /* 6 */
    "Alpha",       /* 7 */
};
static const char *const songs1[] = {
    "0|Jóga",                 /* 0 */
    "1|Creep",                /* 1 */
    "1|Karma Police",         /* 2 */
    "2|Let It Be",            /* 3 */
    "2|The Dark Side",        /* 4 */
    "3|Hoppípolla",           /* 5 */
    "4|Dash - Song",          /* 6 */
    "4|Song",                 /* 7 */
    "6|Don't Go Back",        /* 8 */
    "7|Part 1 - Intro",       /* 9 */
    "1|Radiohead Creep Live", /* 10 */
};
static const uint32_t pop1[] = {50, 900, 700, 800, 30, 40, 5, 6, 70, 3, 1};

static sr_catalog *catalog1(fixture *f) {
    fixture_init(f, artists1, 8, songs1, 11, pop1);
    return build(f);
}

static void test_exact_lookups(void **state) {
    (void)state;
    fixture f;
    sr_catalog *c = catalog1(&f);
    /* Case, surrounding and inner white space, NFC vs NFD, full-width forms (NFKC). */
    assert_int_equal(find_artist(c, "Björk"), 0);
    assert_int_equal(find_artist(c, "BJÖRK"), 0);
    assert_int_equal(find_artist(c, "  björk \t"), 0);
    assert_int_equal(find_artist(c, "Bjo\xcc\x88rk"), 0);                      /* o + U+0308 */
    assert_int_equal(find_artist(c, "\xef\xbc\xa2\xef\xbd\x8a\xc3\xb6rk"), 0); /* ＢｊÖrk */
    assert_int_equal(find_artist(c, "the   BEATLES"), 2);
    /* The ingest key keeps accents and punctuation. */
    assert_int_equal(find_artist(c, "Bjork"), UINT32_MAX);
    assert_int_equal(find_artist(c, "REM"), UINT32_MAX);
    assert_int_equal(find_artist(c, "r.e.m."), 6);
    assert_int_equal(find_artist(c, ""), UINT32_MAX);
    assert_int_equal(find_artist(c, "   "), UINT32_MAX);
    assert_int_equal(find_artist(c, "Bj\xc3"), UINT32_MAX); /* invalid UTF-8 */
    assert_int_equal(find_song(c, "radiohead", "CREEP"), 1);
    assert_int_equal(find_song(c, "SIGUR RO\xcc\x81S", "hoppi\xcc\x81polla"), 5);
    assert_int_equal(find_song(c, "Björk", "Creep"), UINT32_MAX); /* someone else's */
    assert_int_equal(find_song(c, "Radiohead", "Creep Live"), UINT32_MAX);
    assert_int_equal(find_song(c, "Nobody", "Creep"), UINT32_MAX);
    sr_catalog_free(c);
    fixture_deinit(&f);
}

/* Two artists and two songs with the same key (a catalog not made by the builder): the
 * more popular wins, ties go to the lower id. */
static void test_duplicate_keys(void **state) {
    (void)state;
    const char *const artists[] = {"Nirvana", "NIRVANA", "nirvana "};
    const char *const songs[] = {"0|Lithium", "1|Lithium", "1|LITHIUM", "2|Other"};
    const uint32_t pop[] = {10, 5, 7, 9}; /* artist pops: 10, 12, 9 */
    fixture f;
    fixture_init(&f, artists, 3, songs, 4, pop);
    sr_catalog *c = build(&f);
    assert_int_equal(find_artist(c, "nirvana"), 1);
    assert_int_equal(find_song(c, "nirvana", "lithium"), 0); /* 10 beats 5 and 7 */
    sr_catalog_free(c);
    const uint32_t tie[] = {5, 5, 5, 5}; /* artists 10, 10? no: 5, 10, 5 */
    fixture_deinit(&f);
    fixture_init(&f, artists, 3, songs, 4, tie);
    c = build(&f);
    assert_int_equal(find_artist(c, "nirvana"), 1);
    assert_int_equal(find_song(c, "nirvana", "lithium"), 0); /* all 5: lowest id */
    sr_catalog_free(c);
    fixture_deinit(&f);
}

static void test_song_text(void **state) {
    (void)state;
    fixture f;
    sr_catalog *c = catalog1(&f);
    assert_int_equal(find_text(c, "Radiohead - Creep"), 1);
    assert_int_equal(find_text(c, "radiohead \xe2\x80\x93 karma police"), 2); /* en dash */
    assert_int_equal(find_text(c, "  Radiohead   -   Creep "), 1);
    /* "Mike - Dash - Song": the first split ("Mike", "Dash - Song") finds nothing (Mike
     * has no songs), the second ("Mike - Dash", "Song") finds song 7. */
    assert_int_equal(find_text(c, "Mike - Dash - Song"), 7);
    /* A track with " - " in it: the first split already matches. */
    assert_int_equal(find_text(c, "Alpha - Part 1 - Intro"), 9);
    assert_int_equal(find_text(c, "Radiohead -Creep"), UINT32_MAX);
    assert_int_equal(find_text(c, "Radiohead Creep"), UINT32_MAX);
    assert_int_equal(find_text(c, " - "), UINT32_MAX);
    assert_int_equal(find_text(c, ""), UINT32_MAX);
    sr_catalog_free(c);
    fixture_deinit(&f);
}

/* Items-only data (rating triples, play-count triplets): the songs' artist is empty and
 * the track is the item id. They are found by an empty artist and the track, and by the
 * track's text alone, after the "Artist - Track" splits. */
static void test_songs_without_an_artist_by_track(void **state) {
    (void)state;
    const char *const artists[] = {"", "Radiohead", "Live"};
    const char *const songs[] = {"0|i1", "0|SOA", "1|Creep", "0|Live - 1999", "0|Creep"};
    const uint32_t pop[] = {3, 2, 9, 1, 1};
    fixture f;
    fixture_init(&f, artists, 3, songs, 5, pop);
    sr_catalog *c = build(&f);
    assert_int_equal(find_song(c, "", "i1"), 0);
    assert_int_equal(find_song(c, " \t ", "I1"), 0); /* white space only is empty */
    assert_int_equal(find_song(c, "", "soa"), 1);
    assert_int_equal(find_song(c, "", "Creep"), 4); /* not Radiohead's */
    assert_int_equal(find_song(c, "", "Live - 1999"), 3);
    assert_int_equal(find_song(c, "", "i2"), UINT32_MAX);
    assert_int_equal(find_song(c, "", ""), UINT32_MAX);
    assert_int_equal(find_song(c, "Radiohead", "i1"), UINT32_MAX);
    assert_int_equal(find_text(c, "i1"), 0);
    assert_int_equal(find_text(c, "  SOA "), 1);
    assert_int_equal(find_text(c, " - i1"), 0);
    assert_int_equal(find_text(c, "Radiohead - Creep"), 2); /* a split wins */
    assert_int_equal(find_text(c, "Creep"), 4);
    /* The split ("Live", "1999") finds nothing (Live has no songs): the whole text. */
    assert_int_equal(find_text(c, "Live - 1999"), 3);
    assert_int_equal(find_text(c, "i2"), UINT32_MAX);
    assert_int_equal(find_artist(c, ""), UINT32_MAX); /* an artist is never empty */
    sr_catalog_free(c);
    fixture_deinit(&f);
    /* A catalog without an empty artist finds no song by its track alone. */
    c = catalog1(&f);
    assert_int_equal(find_song(c, "", "Creep"), UINT32_MAX);
    assert_int_equal(find_text(c, "Creep"), UINT32_MAX);
    sr_catalog_free(c);
    fixture_deinit(&f);
}

/* Whether the hits hold (kind, id) and at which place; -1 when absent. */
static int place(const sr_catalog_hit *h, int n, int kind, uint32_t id) {
    for (int i = 0; i < n; i++)
        if (h[i].kind == kind && h[i].id == id) return i;
    return -1;
}

static void test_prefix_and_words(void **state) {
    (void)state;
    fixture f;
    sr_catalog *c = catalog1(&f);
    sr_catalog_hit h[32];
    int n = search(c, "radioh", SR_CATALOG_ARTIST, 32, h);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 1);
    assert_int_equal(h[0].match, SR_CATALOG_PREFIX);
    assert_int_equal(h[0].pop, 900 + 700 + 1);
    /* A word's middle does not match. */
    assert_int_equal(search(c, "head", SR_CATALOG_ALL, 32, h), 0);
    /* A later word's prefix does: "The Dark Side". */
    n = search(c, "dark", SR_CATALOG_ALL, 32, h);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].kind, SR_CATALOG_SONG);
    assert_int_equal(h[0].id, 4);
    assert_int_equal(h[0].match, SR_CATALOG_WORD);
    /* Several words: all must start words of artist + track. "radiohead cre": Creep
     * (1) and "Radiohead Creep Live" (10) both start with it as "artist track"; 1 is
     * more popular. */
    n = search(c, "radiohead cre", SR_CATALOG_ALL, 32, h);
    assert_int_equal(n, 2);
    assert_int_equal(h[0].id, 1);
    assert_int_equal(h[0].match, SR_CATALOG_PREFIX);
    assert_int_equal(h[1].id, 10);
    assert_int_equal(h[1].match, SR_CATALOG_PREFIX);
    /* "radiohead creep": exact as "artist track" for 1; 10's track starts with it. */
    n = search(c, "radiohead creep", SR_CATALOG_ALL, 32, h);
    assert_int_equal(n, 2);
    assert_int_equal(h[0].id, 1);
    assert_int_equal(h[0].match, SR_CATALOG_EXACT);
    assert_int_equal(h[1].id, 10);
    assert_int_equal(h[1].match, SR_CATALOG_PREFIX);
    /* Words out of order: word matches only. */
    n = search(c, "creep radiohead", SR_CATALOG_ALL, 32, h);
    assert_int_equal(n, 2);
    assert_int_equal(h[0].id, 1);
    assert_int_equal(h[0].match, SR_CATALOG_WORD);
    assert_int_equal(h[1].match, SR_CATALOG_WORD);
    /* AND: no Radiohead song has a word starting with "dark". */
    assert_int_equal(search(c, "radiohead dark", SR_CATALOG_ALL, 32, h), 0);
    /* "karma pol" is a prefix of track 2's name. */
    n = search(c, "Karma   POL", SR_CATALOG_ALL, 32, h);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 2);
    assert_int_equal(h[0].match, SR_CATALOG_PREFIX);
    sr_catalog_free(c);
    fixture_deinit(&f);
}

static void test_accents_and_punctuation(void **state) {
    (void)state;
    fixture f;
    sr_catalog *c = catalog1(&f);
    sr_catalog_hit h[32];
    int n = search(c, "BJORK", SR_CATALOG_ARTIST, 32, h);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 0);
    assert_int_equal(h[0].match, SR_CATALOG_EXACT);
    n = search(c, "bjö", SR_CATALOG_ARTIST, 32, h);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].match, SR_CATALOG_PREFIX);
    n = search(c, "sigur ros hoppipolla", SR_CATALOG_ALL, 32, h);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 5);
    assert_int_equal(h[0].match, SR_CATALOG_EXACT);
    n = search(c, "\xef\xbc\xa8\xef\xbd\x8f\xef\xbd\x90", SR_CATALOG_ALL, 32, h); /* "Ｈｏｐ" */
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 5);
    /* Apostrophes and periods inside a word vanish: "Don't" is "dont", "R.E.M." "rem". */
    n = search(c, "dont", SR_CATALOG_SONG, 32, h);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 8);
    n = search(c, "don\xe2\x80\x99t go", SR_CATALOG_SONG, 32, h); /* ’ */
    assert_int_equal(n, 1);
    assert_int_equal(h[0].match, SR_CATALOG_PREFIX);
    n = search(c, "rem", SR_CATALOG_ARTIST, 32, h);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 6);
    assert_int_equal(h[0].match, SR_CATALOG_EXACT);
    /* Other punctuation separates words: "Mike - Dash" is "mike dash". */
    n = search(c, "mike-dash", SR_CATALOG_ARTIST, 32, h);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 4);
    assert_int_equal(h[0].match, SR_CATALOG_EXACT);
    sr_catalog_free(c);
    fixture_deinit(&f);
}

/* Ranking: class first, then popularity, then artists before songs, then id. */
static void test_ranking(void **state) {
    (void)state;
    const char *const artists[] = {"Love", "Lovers", "Glove", "Arthur"};
    const char *const songs[] = {
        "3|Love",         /* 0 pop 1:  exact */
        "3|Love Me Do",   /* 1 pop 50: prefix */
        "3|Lovely",       /* 2 pop 50: prefix (tie with 1: lower id first) */
        "3|I Love You",   /* 3 pop 99: word */
        "2|Fits",         /* 4 pop 5:  nothing ("glove" does not start with "love") */
        "0|Hello",        /* 5 pop 7:  prefix, as "love hello" */
        "1|Zzz",          /* 6 pop 20: prefix: "lovers zzz" starts with "love" */
        "3|Songs of Love" /* 7 pop 99: word (tie with 3: lower id first) */
    };
    const uint32_t pop[] = {1, 50, 50, 99, 5, 7, 20, 99};
    /* Artist pops: Love 7, Lovers 20, Glove 5, Arthur 299. */
    fixture f;
    fixture_init(&f, artists, 4, songs, 8, pop);
    sr_catalog *c = build(&f);
    sr_catalog_hit h[32];
    int n = search(c, "love", SR_CATALOG_ALL, 32, h);
    /* EXACT: artist Love (7), song Love (1). PREFIX: Love Me Do (50), Lovely (50),
     * Lovers (20, artist), Zzz (20, song: "lovers zzz"; after the artist of the same
     * pop), Hello (7: "love hello"). WORD: I Love You (99), Songs of Love (99). */
    const int kind[] = {1, 2, 2, 2, 1, 2, 2, 2, 2};
    const uint32_t id[] = {0, 0, 1, 2, 1, 6, 5, 3, 7};
    const int match[] = {0, 0, 1, 1, 1, 1, 1, 2, 2};
    assert_int_equal(n, 9);
    for (int i = 0; i < n; i++) {
        assert_int_equal(h[i].kind, kind[i]);
        assert_int_equal(h[i].id, id[i]);
        assert_int_equal(h[i].match, match[i]);
    }
    /* Limits cut the same order. */
    for (size_t lim = 1; lim <= 9; lim++) {
        sr_catalog_hit g[9];
        assert_int_equal(search(c, "love", SR_CATALOG_ALL, lim, g), (int)lim);
        assert_memory_equal(g, h, lim * sizeof *g);
    }
    /* Kinds. */
    n = search(c, "love", SR_CATALOG_ARTIST, 32, h);
    assert_int_equal(n, 2);
    assert_int_equal(h[0].id, 0);
    assert_int_equal(h[1].id, 1);
    n = search(c, "love", SR_CATALOG_SONG, 32, h);
    assert_int_equal(n, 7);
    assert_int_equal(place(h, n, SR_CATALOG_ARTIST, 0), -1);
    assert_int_equal(h[0].id, 0);
    assert_int_equal(search(c, "love", 0, 32, h), 0);
    assert_int_equal(search(c, "love", SR_CATALOG_ALL, 0, h), 0);
    sr_catalog_free(c);
    fixture_deinit(&f);
    /* Without popularity everything ties: artists first, then ids. */
    fixture_init(&f, artists, 4, songs, 8, NULL);
    c = build(&f);
    n = search(c, "lov", SR_CATALOG_ALL, 32, h);
    /* PREFIX: artists 0, 1; songs 0, 1, 2, 5 (its artist is "Love"), 6. WORD: 3, 7. */
    const int kind2[] = {1, 1, 2, 2, 2, 2, 2, 2, 2};
    const uint32_t id2[] = {0, 1, 0, 1, 2, 5, 6, 3, 7};
    assert_int_equal(n, 9);
    for (int i = 0; i < n; i++) {
        assert_int_equal(h[i].kind, kind2[i]);
        assert_int_equal(h[i].id, id2[i]);
        assert_int_equal(h[i].pop, 0);
    }
    sr_catalog_free(c);
    fixture_deinit(&f);
}

static void test_bad_queries(void **state) {
    (void)state;
    fixture f;
    sr_catalog *c = catalog1(&f);
    sr_catalog_hit h[8];
    assert_int_equal(sr_catalog_search(c, NULL, 0, SR_CATALOG_ALL, 8, h), 0);
    assert_int_equal(search(c, "", SR_CATALOG_ALL, 8, h), 0);
    assert_int_equal(search(c, " \t ", SR_CATALOG_ALL, 8, h), 0);
    assert_int_equal(search(c, "!!! - ...", SR_CATALOG_ALL, 8, h), 0);
    assert_int_equal(search(c, "radio\xff", SR_CATALOG_ALL, 8, h), 0);
    assert_int_equal(search(c, "\xc3", SR_CATALOG_ALL, 8, h), 0);
    assert_int_equal(search(c, "\xed\xa0\x80", SR_CATALOG_ALL, 8, h), 0); /* a surrogate */
    assert_int_equal(search(c, "zzzz", SR_CATALOG_ALL, 8, h), 0);
    /* 256 bytes is searched; 257 is refused. */
    char q[300];
    memset(q, ' ', sizeof q);
    memcpy(q, "radiohead", 9);
    assert_int_equal(sr_catalog_search(c, q, 256, SR_CATALOG_ALL, 8, h), 4);
    assert_int_equal(sr_catalog_search(c, q, 257, SR_CATALOG_ALL, 8, h), SR_E_LIMIT);
    /* 64 words are searched (each starts a word of Alpha and of its song); 65 are
     * refused. */
    for (int i = 0; i < 65; i++) q[2 * i] = 'a', q[2 * i + 1] = ' ';
    assert_int_equal(sr_catalog_search(c, q, 128, SR_CATALOG_ALL, 8, h), 2);
    assert_int_equal(h[0].match, SR_CATALOG_WORD);
    assert_int_equal(sr_catalog_search(c, q, 130, SR_CATALOG_ALL, 8, h), SR_E_LIMIT);
    sr_catalog_free(c);
    fixture_deinit(&f);
}

static void test_artist_songs(void **state) {
    (void)state;
    const char *const artists[] = {"A", "B", "C"};
    const char *const songs[] = {"1|s0", "0|s1", "1|s2", "1|s3", "1|s4", "1|s5", "0|s6"};
    const uint32_t pop[] = {5, 1, 9, 5, 0, 7, 2};
    fixture f;
    fixture_init(&f, artists, 3, songs, 7, pop);
    sr_catalog *c = build(&f);
    /* B's songs by popularity: 2 (9), 5 (7), 0 (5), 3 (5), 4 (0). */
    const uint32_t want[] = {2, 5, 0, 3, 4};
    uint32_t got[8];
    assert_int_equal(sr_catalog_artist_n_songs(c, 1), 5);
    assert_int_equal(sr_catalog_artist_pop(c, 1), 26);
    assert_int_equal(sr_catalog_artist_songs(c, 1, 0, 8, got), 5);
    assert_memory_equal(got, want, sizeof want);
    assert_int_equal(sr_catalog_artist_songs(c, 1, 0, 2, got), 2);
    assert_memory_equal(got, want, 2 * sizeof *got);
    assert_int_equal(sr_catalog_artist_songs(c, 1, 2, 2, got), 2);
    assert_memory_equal(got, want + 2, 2 * sizeof *got);
    assert_int_equal(sr_catalog_artist_songs(c, 1, 4, 2, got), 1);
    assert_int_equal(got[0], 4);
    assert_int_equal(sr_catalog_artist_songs(c, 1, 5, 2, got), 0);
    assert_int_equal(sr_catalog_artist_songs(c, 1, 99, 2, got), 0);
    assert_int_equal(sr_catalog_artist_songs(c, 0, 0, 8, got), 2);
    assert_int_equal(got[0], 6);
    assert_int_equal(got[1], 1);
    /* An artist without songs, and ids out of range. */
    assert_int_equal(sr_catalog_artist_n_songs(c, 2), 0);
    assert_int_equal(sr_catalog_artist_pop(c, 2), 0);
    assert_int_equal(sr_catalog_artist_songs(c, 2, 0, 8, got), 0);
    assert_int_equal(sr_catalog_artist_n_songs(c, 3), 0);
    assert_int_equal(sr_catalog_artist_songs(c, 3, 0, 8, got), 0);
    /* Accessors. */
    assert_int_equal(sr_catalog_n_items(c), 7);
    assert_int_equal(sr_catalog_n_artists(c), 3);
    assert_true(sr_str_eq(sr_catalog_artist_name(c, 1), "B"));
    assert_true(sr_str_eq(sr_catalog_track_name(c, 6), "s6"));
    assert_int_equal(sr_catalog_item_artist(c, 6), 0);
    assert_int_equal(sr_catalog_item_pop(c, 2), 9);
    assert_int_equal(sr_catalog_artist_name(c, 3).n, 0);
    assert_int_equal(sr_catalog_track_name(c, 7).n, 0);
    assert_int_equal(sr_catalog_item_artist(c, 7), UINT32_MAX);
    assert_int_equal(sr_catalog_item_pop(c, 7), 0);
    assert_true(sr_catalog_memory(c) > 0);
    sr_catalog_free(c);
    fixture_deinit(&f);
}

static void test_corrupt_input(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, artists1, 8, songs1, 11, pop1);
    sr_catalog *c = (sr_catalog *)&f; /* must be reset to NULL */
    sr_diag d = {{0}};
    f.item_artist[3] = 8;
    assert_int_equal(sr_catalog_build(&f.src, &c, &d), SR_E_CORRUPT);
    assert_null(c);
    assert_non_null(strstr(d.msg, "item 3: artist 8 out of range"));
    f.item_artist[3] = 2;
    f.t_off[5] = f.t_off[4] - 1;
    assert_int_equal(sr_catalog_build(&f.src, &c, &d), SR_E_CORRUPT);
    assert_non_null(strstr(d.msg, "track names"));
    f.t_off[5] = f.t_off[6];
    sr_catalog_src s = f.src;
    s.item_artist = NULL;
    assert_int_equal(sr_catalog_build(&s, &c, &d), SR_E_CORRUPT);
    s = f.src;
    s.artists.off = NULL;
    assert_int_equal(sr_catalog_build(&s, &c, &d), SR_E_CORRUPT);
    s = f.src;
    s.tracks.data = NULL;
    assert_int_equal(sr_catalog_build(&s, &c, &d), SR_E_CORRUPT);
    assert_non_null(strstr(d.msg, "no string data"));
    s = f.src;
    s.artists.n = 0x7fffffff;
    s.tracks.n = 1;
    assert_int_equal(sr_catalog_build(&s, &c, &d), SR_E_LIMIT);
    assert_null(c);
    fixture_deinit(&f);
    /* An empty catalog is fine. */
    fixture_init(&f, NULL, 0, NULL, 0, NULL);
    c = build(&f);
    sr_catalog_hit h[4];
    assert_int_equal(search(c, "a", SR_CATALOG_ALL, 4, h), 0);
    assert_int_equal(find_artist(c, "a"), UINT32_MAX);
    assert_int_equal(find_text(c, "a - b"), UINT32_MAX);
    sr_catalog_free(c);
    fixture_deinit(&f);
}

/* Names that are not valid UTF-8 (Latin-1 bytes) are kept, searchable by their valid
 * parts, and never crash the normaliser. */
static void test_invalid_names(void **state) {
    (void)state;
    const char *const artists[] = {"Caf\xe9 Tacuba", "\xff\xfe", "Ok\xc3"};
    const char *const songs[] = {"0|Eres", "1|Qu\xe9 Onda", "2|\xe9"};
    fixture f;
    fixture_init(&f, artists, 3, songs, 3, NULL);
    sr_catalog *c = build(&f);
    sr_catalog_hit h[8];
    int n = search(c, "tacuba", SR_CATALOG_ARTIST, 8, h);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 0);
    n = search(c, "caf", SR_CATALOG_ARTIST, 8, h); /* the stretch before the bad byte */
    assert_int_equal(n, 1);
    n = search(c, "onda", SR_CATALOG_SONG, 8, h);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 1);
    n = search(c, "ok", SR_CATALOG_ALL, 8, h);
    assert_int_equal(n, 2); /* the artist, and its song through it */
    assert_int_equal(find_artist(c, "Caf\xe9 Tacuba"), UINT32_MAX);
    assert_int_equal(sr_catalog_artist_name(c, 0).n, 11);
    sr_catalog_free(c);
    fixture_deinit(&f);
}

static void test_alloc_failures(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, artists1, 8, songs1, 11, pop1);
    sr_diag d = {{0}};
    sr_catalog *c = NULL;
    for (long n = 0;; n++) {
        sr_mem_fail_after(n);
        sr_err e = sr_catalog_build(&f.src, &c, &d);
        sr_mem_fail_after(-1);
        if (e == SR_OK) break;
        assert_int_equal(e, SR_E_NOMEM);
        assert_null(c);
    }
    uint32_t id;
    sr_mem_fail_after(0);
    assert_int_equal(sr_catalog_find_artist(c, "bjork", 5, &id), SR_E_NOMEM);
    sr_mem_fail_after(0);
    assert_int_equal(sr_catalog_find_song_text(c, "Radiohead - Creep", 17, &id), SR_E_NOMEM);
    /* Search does not allocate. */
    sr_mem_fail_after(0);
    sr_catalog_hit h[4];
    int n = search(c, "radiohead", SR_CATALOG_ALL, 4, h);
    sr_mem_fail_after(-1);
    assert_int_equal(n, 4);
    for (long k = 0;; k++) {
        sr_mem_fail_after(k);
        sr_err e = sr_catalog_find_song(c, "Radiohead", 9, "Creep", 5, &id);
        sr_mem_fail_after(-1);
        if (e == SR_OK) break;
        assert_int_equal(e, SR_E_NOMEM);
    }
    assert_int_equal(id, 1);
    sr_catalog_free(c);
    fixture_deinit(&f);
}

/* Words of the random catalogs below. */

static const char *const vocab[] = {
    "a",     "an",     "and",  "the",    "then",  "love", "lovely", "lover", "me",    "my",
    "night", "nights", "dark", "darker", "side",  "s",    "sun",    "sunny", "i",     "in",
    "into",  "on",     "one",  "1",      "10",    "100",  "don't",  "dont",  "r.e.m", "rem",
    "blue",  "bl",     "x",    "xx",     "zebra", "o",    "of",     "off",   "go",    "gone"};
#define N_VOCAB (sizeof vocab / sizeof *vocab)

/* Tracks whose words are stored (not ASCII, or over 512 bytes) next to tracks split
 * when searched, in one NT range; a track of 70 words (64 count); non-Latin names. */
static void test_stored_words(void **state) {
    (void)state;
    char long_track[700] = "Zoe ", many[400] = "";
    memset(long_track + 4, 'a', 600);
    strcpy(long_track + 604, " End");
    for (int i = 0; i < 70; i++) snprintf(many + strlen(many), 8, "%sx%d", i ? " " : "", i);
    char song4[720], song6[420];
    snprintf(song4, sizeof song4, "2|%s", long_track);
    snprintf(song6, sizeof song6, "0|%s", many);
    const char *const artists[] = {"Zed", "\xc3\x96lga", "Max", "\xd0\x9a\xd0\xb8\xd0\xbd\xd0\xbe",
                                   "\xe3\x81\x95\xe3\x81\x8f\xe3\x82\x89"}; /* Ölga, Кино, さくら */
    const char *const songs[] = {
        "0|Zo\xc3\xab",                               /* 0 "Zoë": stored */
        "1|zoe 2",                                    /* 1 */
        "2|Zoe",                                      /* 2 */
        "0|zo\xc3\xa9 b",                             /* 3 "zoé b": stored */
        song4,                                        /* 4 zoe aaa...a end: stored */
        "1|Zebra",                                    /* 5 */
        song6,                                        /* 6 x0 .. x69 */
        "3|\xd0\x97\xd0\xb2\xd0\xb5\xd1\x80\xd0\xb8", /* 7 Звери */
        "4|\xe3\x81\xb2\xe3\x81\x8b\xe3\x82\x8a",     /* 8 ひかり */
    };
    const uint32_t pop[] = {50, 40, 30, 20, 10, 5, 3, 60, 1};
    fixture f;
    fixture_init(&f, artists, 5, songs, 9, pop);
    sr_catalog *c = build(&f);
    sr_catalog_hit h[16];
    /* EXACT: Zoë (50), Zoe (30); PREFIX: zoe 2 (40), zoé b (20), Zoe aaa... (10). */
    const uint32_t id1[] = {0, 2, 1, 3, 4};
    const int m1[] = {0, 0, 1, 1, 1};
    assert_int_equal(search(c, "zoe", SR_CATALOG_ALL, 16, h), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(h[i].kind, SR_CATALOG_SONG);
        assert_int_equal(h[i].id, id1[i]);
        assert_int_equal(h[i].match, m1[i]);
    }
    assert_int_equal(search(c, "zoe a", SR_CATALOG_SONG, 16, h), 1);
    assert_int_equal(h[0].id, 4);
    assert_int_equal(h[0].match, SR_CATALOG_PREFIX);
    assert_int_equal(search(c, "zoe end", SR_CATALOG_ALL, 16, h), 1);
    assert_int_equal(h[0].id, 4);
    assert_int_equal(h[0].match, SR_CATALOG_WORD);
    /* "olga zoe": "Ölga" + "zoe 2" starts with it; "Ölga" + "Zebra" does not. */
    assert_int_equal(search(c, "olga zoe", SR_CATALOG_ALL, 16, h), 1);
    assert_int_equal(h[0].id, 1);
    assert_int_equal(h[0].match, SR_CATALOG_PREFIX);
    /* "max zoe" is "Max" + "Zoe" exactly, and starts "Max" + "Zoe aaa... End". */
    assert_int_equal(search(c, "max zoe", SR_CATALOG_ALL, 16, h), 2);
    assert_int_equal(h[0].id, 2);
    assert_int_equal(h[0].match, SR_CATALOG_EXACT);
    assert_int_equal(h[1].id, 4);
    assert_int_equal(h[1].match, SR_CATALOG_PREFIX);
    /* The 64th word of a track counts, the 65th does not. */
    assert_int_equal(search(c, "x63", SR_CATALOG_SONG, 16, h), 1);
    assert_int_equal(h[0].id, 6);
    assert_int_equal(h[0].match, SR_CATALOG_WORD);
    assert_int_equal(search(c, "x64", SR_CATALOG_SONG, 16, h), 0);
    /* Cyrillic and kana: "звери" is Звери; "кино з" starts "Кино" + "Звери"; "ки"
     * starts the artist and, as "artist track", its song (both 60: artist first). */
    assert_int_equal(search(c, "\xd0\xb7\xd0\xb2\xd0\xb5\xd1\x80\xd0\xb8", SR_CATALOG_ALL, 16, h),
                     1);
    assert_int_equal(h[0].id, 7);
    assert_int_equal(h[0].match, SR_CATALOG_EXACT);
    assert_int_equal(search(c, "\xd0\xba\xd0\xb8\xd0\xbd\xd0\xbe \xd0\xb7", SR_CATALOG_ALL, 16, h),
                     1);
    assert_int_equal(h[0].id, 7);
    assert_int_equal(h[0].match, SR_CATALOG_PREFIX);
    assert_int_equal(search(c, "\xd0\xba\xd0\xb8", SR_CATALOG_ALL, 16, h), 2);
    assert_int_equal(h[0].kind, SR_CATALOG_ARTIST);
    assert_int_equal(h[0].id, 3);
    assert_int_equal(h[1].kind, SR_CATALOG_SONG);
    assert_int_equal(h[1].id, 7);
    assert_int_equal(search(c, "\xe3\x81\x95\xe3\x81\x8f \xe3\x81\xb2", SR_CATALOG_ALL, 16, h), 1);
    assert_int_equal(h[0].id, 8); /* "さく ひ": さくら + ひかり */
    /* Exact lookups and an artist's songs across the two kinds of track. */
    assert_int_equal(find_song(c, "Zed", "ZO\xc3\x8b"), 0); /* ZOË */
    assert_int_equal(find_song(c, "max", "zoe"), 2);
    assert_int_equal(find_song(c, "\xc3\x96LGA", "Zoe  2"), 1);
    assert_int_equal(find_song(c, "Max", long_track), 4);
    assert_int_equal(find_artist(c, "\xd0\xba\xd0\xb8\xd0\xbd\xd0\xbe"), 3);
    uint32_t got[4];
    assert_int_equal(sr_catalog_artist_songs(c, 0, 0, 4, got), 3);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 3);
    assert_int_equal(got[2], 6);
    sr_catalog_free(c);
    fixture_deinit(&f);
}

/* Ingest's key for ASCII: lower case, runs of white space as one space, trimmed. */
static void ref_key(const char *s, char *out) {
    size_t k = 0;
    bool space = false;
    for (; *s; s++) {
        if (*s == ' ' || *s == '\t') {
            space = k > 0;
            continue;
        }
        if (space) out[k++] = ' ', space = false;
        out[k++] = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
    }
    out[k] = 0;
}

/* s in random case, with white space doubled or added at the ends. */
static void respell(sr_rng *r, const char *s, char *out) {
    size_t k = 0;
    if (sr_rng_below(r, 3) == 0) out[k++] = ' ';
    for (; *s; s++) {
        char ch = *s;
        if (ch >= 'a' && ch <= 'z' && sr_rng_below(r, 2)) ch = (char)(ch - 32);
        out[k++] = ch;
        if (ch == ' ' && sr_rng_below(r, 3) == 0) out[k++] = '\t';
    }
    if (sr_rng_below(r, 3) == 0) out[k++] = ' ';
    out[k] = 0;
}

/* Exact lookups where many names share a key (so buckets hold many): the most popular
 * wins, then the lower id, against a reference over every name. */
static void test_many_keys(void **state) {
    (void)state;
    enum { NA = 1500, NS = 12000, NKEY = 60 };
    sr_rng r;
    sr_rng_seed(&r, 9);
    char base[NKEY][48], (*an)[64] = calloc(NA, sizeof *an), (*tn)[64] = calloc(NS, sizeof *tn);
    char(*ak)[64] = calloc(NA, sizeof *ak), (*tk)[64] = calloc(NS, sizeof *tk);
    const char **ap = calloc(NA, sizeof *ap), **sp = calloc(NS, sizeof *sp);
    char(*sbuf)[80] = calloc(NS, sizeof *sbuf);
    uint32_t *pop = calloc(NS, sizeof *pop);
    uint64_t *apop = calloc(NA, sizeof *apop);
    for (int i = 0; i < NKEY; i++)
        snprintf(base[i], sizeof base[i], "%s %s", vocab[sr_rng_below(&r, N_VOCAB)],
                 vocab[sr_rng_below(&r, N_VOCAB)]);
    for (int i = 0; i < NA; i++) {
        respell(&r, base[sr_rng_below(&r, NKEY)], an[i]);
        ref_key(an[i], ak[i]);
        ap[i] = an[i];
    }
    for (int i = 0; i < NS; i++) {
        respell(&r, base[sr_rng_below(&r, NKEY)], tn[i]);
        ref_key(tn[i], tk[i]);
        snprintf(sbuf[i], sizeof sbuf[i], "%u|%s", (unsigned)sr_rng_below(&r, NA), tn[i]);
        sp[i] = sbuf[i];
        pop[i] = sr_rng_below(&r, 8); /* many ties */
    }
    fixture f;
    fixture_init(&f, ap, NA, sp, NS, pop);
    sr_catalog *c = build(&f);
    for (int i = 0; i < NS; i++) apop[f.item_artist[i]] += pop[i];
    char q[64], q2[64];
    for (int t = 0; t < 400; t++) {
        const char *a = base[sr_rng_below(&r, NKEY)], *tr = base[sr_rng_below(&r, NKEY)];
        char akey[64], tkey[64];
        ref_key(a, akey), ref_key(tr, tkey);
        uint32_t best = UINT32_MAX, bests = UINT32_MAX;
        for (uint32_t i = 0; i < NA; i++)
            if (!strcmp(ak[i], akey) && (best == UINT32_MAX || apop[i] > apop[best])) best = i;
        for (uint32_t s = 0; s < NS; s++)
            if (!strcmp(ak[f.item_artist[s]], akey) && !strcmp(tk[s], tkey) &&
                (bests == UINT32_MAX || pop[s] > pop[bests]))
                bests = s;
        respell(&r, a, q), respell(&r, tr, q2);
        assert_int_equal(find_artist(c, q), best);
        assert_int_equal(find_song(c, q, q2), bests);
        char text[160];
        snprintf(text, sizeof text, "%s - %s", a, tr);
        if (!strstr(a, " - ") && !strstr(tr, " - ")) assert_int_equal(find_text(c, text), bests);
    }
    sr_catalog_free(c);
    fixture_deinit(&f);
    free(an), free(tn), free(ak), free(tk), free(ap), free(sp), free(sbuf), free(pop), free(apop);
}

/* Pages of an artist's songs, which lie in several blocks of S. */
static void test_artist_pages(void **state) {
    (void)state;
    enum { NS = 700 };
    const char *const artists[] = {"A", "B", "C"};
    char(*sbuf)[16] = calloc(NS, sizeof *sbuf);
    const char **sp = calloc(NS, sizeof *sp);
    uint32_t *pop = calloc(NS, sizeof *pop), want[NS], got[NS];
    sr_rng r;
    sr_rng_seed(&r, 3);
    for (int i = 0; i < NS; i++) {
        snprintf(sbuf[i], sizeof sbuf[i], "%u|s%d", (unsigned)sr_rng_below(&r, 3), i);
        sp[i] = sbuf[i];
        pop[i] = sr_rng_below(&r, 50);
    }
    fixture f;
    fixture_init(&f, artists, 3, sp, NS, pop);
    sr_catalog *c = build(&f);
    for (uint32_t a = 0; a < 3; a++) {
        uint32_t n = 0; /* a's songs by pop descending, then id: insertion sort */
        for (uint32_t s = 0; s < NS; s++) {
            if (f.item_artist[s] != a) continue;
            uint32_t j = n++;
            while (j > 0 && pop[want[j - 1]] < pop[s]) want[j] = want[j - 1], j--;
            want[j] = s;
        }
        assert_int_equal(sr_catalog_artist_n_songs(c, a), n);
        for (size_t off = 0; off <= n; off += 37) {
            size_t k = sr_catalog_artist_songs(c, a, off, 53, got);
            assert_int_equal(k, n - off < 53 ? n - off : 53);
            if (k) assert_memory_equal(got, want + off, k * sizeof *got);
        }
    }
    sr_catalog_free(c);
    fixture_deinit(&f);
    free(sbuf), free(sp), free(pop);
}

#define REF_WORDS 20 /* words of a song's artist and track */
#define REF_LEN   48 /* bytes of a word, with its NUL */

/* Words by the rule in catalog.h, for ASCII: lower-case alnum runs, ' and . inside a
 * word dropped. Returns the count; words go to w[i]. */
static int ref_words(const char *s, char w[][REF_LEN]) {
    int n = 0;
    size_t i = 0, len = strlen(s);
#define ALNUM(ch)                                                                                  \
    (((ch) >= 'a' && (ch) <= 'z') || ((ch) >= 'A' && (ch) <= 'Z') || ((ch) >= '0' && (ch) <= '9'))
    while (i < len) {
        if (!ALNUM(s[i])) {
            i++;
            continue;
        }
        int k = 0;
        while (i < len) {
            if (ALNUM(s[i])) {
                char ch = s[i++];
                w[n][k++] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
            } else if ((s[i] == '\'' || s[i] == '.') && i + 1 < len && ALNUM(s[i + 1])) {
                i++;
            } else {
                break;
            }
        }
        w[n++][k] = 0;
    }
#undef ALNUM
    return n;
}

typedef struct ref_ent {
    int nw, na;                 /* words of the name; of the artist (songs) */
    char w[REF_WORDS][REF_LEN]; /* artist words then track words for a song */
} ref_ent;

static bool starts(const char *w, const char *q) {
    return !strncmp(w, q, strlen(q));
}

/* Class of the list w[0..n) for query q[0..k): 0 exact, 1 prefix, 3 none. */
static int ref_seq_class(char w[][REF_LEN], int n, char q[][REF_LEN], int k) {
    if (n < k) return 3;
    for (int i = 0; i + 1 < k; i++)
        if (strcmp(w[i], q[i])) return 3;
    if (n == k && !strcmp(w[k - 1], q[k - 1])) return 0;
    return starts(w[k - 1], q[k - 1]) ? 1 : 3;
}

static int ref_class(ref_ent *e, bool song, char q[][REF_LEN], int k) {
    int best = 3;
    if (!song) {
        best = ref_seq_class(e->w, e->nw, q, k);
    } else {
        int nt = e->nw - e->na;
        int t = ref_seq_class(e->w + e->na, nt, q, k);
        int at = ref_seq_class(e->w, e->nw, q, k);
        if (nt == 0 && at == 0) at = 1; /* "artist" + empty track is no exact name */
        best = t < at ? t : at;
    }
    if (best < 3) return best;
    for (int i = 0; i < k; i++) {
        bool found = false;
        for (int j = 0; j < e->nw && !found; j++) found = starts(e->w[j], q[i]);
        if (!found) return 3;
    }
    return 2;
}

typedef struct ref_hit {
    int cls, kind;
    uint64_t pop;
    uint32_t id;
} ref_hit;

static int ref_hit_cmp(const void *a, const void *b) {
    const ref_hit *x = a, *y = b;
    if (x->cls != y->cls) return x->cls - y->cls;
    if (x->pop != y->pop) return x->pop > y->pop ? -1 : 1;
    if (x->kind != y->kind) return x->kind - y->kind;
    return (x->id > y->id) - (x->id < y->id);
}

static void random_name(sr_rng *r, char *out, int max_words) {
    int n = 1 + (int)sr_rng_below(r, (uint32_t)max_words);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        const char *w = vocab[sr_rng_below(r, N_VOCAB)];
        static const char *const seps[] = {" ", " ", " ", " - ", " (", "! ", "/"};
        if (i) strcat(out, seps[sr_rng_below(r, 7)]);
        size_t at = strlen(out);
        strcat(out, w);
        if (sr_rng_below(r, 4) == 0)
            out[at] = (char)(out[at] >= 'a' && out[at] <= 'z' ? out[at] - 32 : out[at]);
    }
}

/* ---- brute force on a random ASCII catalog ------------------------------------------ */

/* A random catalog: na artists of 1-3 words, ns songs of 1..max_words words, long_pct
 * percent of the tracks with twelve more words of 46 'z's (over 512 bytes: their words
 * are stored, not split when searched), empty_pct percent with no words at all; then
 * `queries` random queries of 1-3 words, some cut short, against the brute force. */
typedef struct bf_config {
    uint64_t seed;
    int na, ns, max_words, long_pct, empty_pct, queries;
} bf_config;

static void brute_force(const bf_config *cfg) {
    int na = cfg->na, ns = cfg->ns;
    sr_rng r;
    sr_rng_seed(&r, cfg->seed);
    char **an = calloc((size_t)na, sizeof *an), **sn = calloc((size_t)ns, sizeof *sn);
    uint32_t *pop = calloc((size_t)ns, sizeof *pop);
    uint64_t *apop = calloc((size_t)na, sizeof *apop);
    for (int i = 0; i < na; i++) {
        an[i] = calloc(200, 1);
        random_name(&r, an[i], 3);
    }
    for (int i = 0; i < ns; i++) {
        sn[i] = calloc(1024, 1);
        snprintf(sn[i], 1024, "%u|", (unsigned)sr_rng_below(&r, (uint32_t)na));
        if ((int)sr_rng_below(&r, 100) < cfg->empty_pct) {
            strcat(sn[i], "(-)");
        } else {
            random_name(&r, sn[i] + strlen(sn[i]), cfg->max_words);
            if ((int)sr_rng_below(&r, 100) < cfg->long_pct)
                for (int k = 0; k < 12; k++)
                    strcat(sn[i], " zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
        }
        pop[i] = (uint32_t)(sr_rng_below(&r, 4) ? sr_rng_below(&r, 30) : sr_rng_below(&r, 100000));
    }
    fixture f;
    fixture_init(&f, (const char *const *)an, (uint32_t)na, (const char *const *)sn, (uint32_t)ns,
                 pop);
    sr_catalog *c = build(&f);

    ref_ent *ents = calloc((size_t)(na + ns), sizeof *ents);
    for (int i = 0; i < ns; i++) apop[f.item_artist[i]] += pop[i];
    for (int i = 0; i < na; i++) ents[i].nw = ents[i].na = ref_words(an[i], ents[i].w);
    for (int i = 0; i < ns; i++) {
        ref_ent *e = &ents[na + i], *a = &ents[f.item_artist[i]];
        memcpy(e->w, a->w, sizeof a->w);
        e->na = a->nw;
        e->nw = e->na + ref_words(strchr(sn[i], '|') + 1, e->w + e->na);
    }
    ref_hit *ref = calloc((size_t)(na + ns), sizeof *ref);
    sr_catalog_hit *h = calloc((size_t)(na + ns), sizeof *h);
    for (int t = 0; t < cfg->queries; t++) {
        char q[200] = "";
        int k = 1 + (int)sr_rng_below(&r, 3);
        for (int i = 0; i < k; i++) {
            const char *w = sr_rng_below(&r, 12) ? vocab[sr_rng_below(&r, N_VOCAB)] : "zzzz";
            size_t cut = strlen(w);
            if (i == k - 1 || sr_rng_below(&r, 4) == 0) cut = 1 + sr_rng_below(&r, (uint32_t)cut);
            if (i) strcat(q, " ");
            strncat(q, w, cut);
        }
        char qw[8][REF_LEN];
        int qk = ref_words(q, qw);
        unsigned kinds = 1 + sr_rng_below(&r, 3);
        size_t limit = (size_t[]){1, 5, 20, 200, (size_t)(na + ns)}[sr_rng_below(&r, 5)];
        size_t nref = 0;
        for (int i = 0; i < na + ns; i++) {
            bool song = i >= na;
            if (!(kinds & (song ? SR_CATALOG_SONG : SR_CATALOG_ARTIST))) continue;
            int cls = qk ? ref_class(&ents[i], song, qw, qk) : 3;
            if (cls == 3) continue;
            ref[nref++] = (ref_hit){cls, song ? 2 : 1, song ? pop[i - na] : apop[i],
                                    (uint32_t)(song ? i - na : i)};
        }
        qsort(ref, nref, sizeof *ref, ref_hit_cmp);
        if (nref > limit) nref = limit;
        int n = search(c, q, kinds, limit, h);
        if (n != (int)nref) fprintf(stderr, "query '%s' kinds %u limit %zu\n", q, kinds, limit);
        assert_int_equal(n, (int)nref);
        for (size_t i = 0; i < nref; i++) {
            if (h[i].id != ref[i].id || h[i].kind != ref[i].kind)
                fprintf(stderr, "query '%s' hit %zu\n", q, i);
            assert_int_equal(h[i].kind, ref[i].kind);
            assert_int_equal(h[i].id, ref[i].id);
            assert_int_equal(h[i].match, ref[i].cls);
            assert_int_equal(h[i].pop, ref[i].pop);
        }
    }
    free(ref), free(h), free(ents);
    for (int i = 0; i < na; i++) free(an[i]);
    for (int i = 0; i < ns; i++) free(sn[i]);
    free(an), free(sn), free(pop), free(apop);
    sr_catalog_free(c);
    fixture_deinit(&f);
}

static void test_brute_force(void **state) {
    (void)state;
    /* Large enough for several rounds per class. */
    brute_force(&(bf_config){42, 300, 6000, 4, 0, 0, 1000});
    /* Short names, so that hundreds of tracks share a name: an "artist track" source
     * whose exact tracks are too many to leave out by rank; long and empty tracks. */
    brute_force(&(bf_config){7, 200, 20000, 2, 3, 1, 500});
}

/* Many threads searching one catalog get what one thread gets. */
typedef struct thread_arg {
    const sr_catalog *c;
    int bad;
} thread_arg;

static const char *const thread_queries[] = {"r", "radiohead cre", "the", "bjö", "love", "k"};

static void *search_thread(void *p) {
    thread_arg *a = p;
    sr_catalog_hit h[16], g[16];
    for (int it = 0; it < 200; it++) {
        const char *q = thread_queries[it % 6];
        int n = search(a->c, q, SR_CATALOG_ALL, 16, h);
        int m = search(a->c, q, SR_CATALOG_ALL, 16, g);
        if (n != m || memcmp(h, g, (size_t)n * sizeof *h)) a->bad++;
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    fixture f;
    sr_catalog *c = catalog1(&f);
    pthread_t t[4];
    thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thread_arg){c, 0};
        assert_int_equal(pthread_create(&t[i], NULL, search_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].bad, 0);
    }
    sr_catalog_free(c);
    fixture_deinit(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_lookups),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_song_text),
        cmocka_unit_test(test_songs_without_an_artist_by_track),
        cmocka_unit_test(test_prefix_and_words),
        cmocka_unit_test(test_accents_and_punctuation),
        cmocka_unit_test(test_ranking),
        cmocka_unit_test(test_bad_queries),
        cmocka_unit_test(test_artist_songs),
        cmocka_unit_test(test_corrupt_input),
        cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_stored_words),
        cmocka_unit_test(test_artist_pages),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_brute_force),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
