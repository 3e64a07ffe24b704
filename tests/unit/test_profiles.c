/* The listener profile store (server/profiles.h): tokens, ratings, blocks, limits, input
 * checks, SQL injection, persistence across close/open and across kill -9, files that
 * are not ours, threads, allocation failures. Each test gets a fresh store in its own
 * temporary folder. SR_PROFILES_BENCH_N=<calls per thread> turns the timing test into
 * a benchmark that prints ops/s (it runs tiny otherwise, so it cannot rot). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server/profiles.h"
#include "util/mem.h"

#define NOW 1700000000

typedef struct fixture {
    char dir[64];
    char path[128];
    sr_profiles *p;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/sr_profiles_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/profiles.db", f->dir);
    sr_diag d = {{0}};
    if (sr_profiles_open(f->path, 0, &f->p, &d)) {
        fprintf(stderr, "%s\n", d.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sr_profiles_close(f->p);
    DIR *dir = opendir(f->dir);
    struct dirent *e;
    char name[512];
    while (dir && (e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        snprintf(name, sizeof name, "%s/%s", f->dir, e->d_name);
        unlink(name);
    }
    if (dir) closedir(dir);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void new_profile(sr_profiles *p, char token[33]) {
    sr_diag d = {{0}};
    assert_int_equal(sr_profiles_create(p, NOW, token, &d), SR_OK);
}

static void rate(sr_profiles *p, const char *token, const char *artist, const char *track,
                 double rating, int64_t now) {
    sr_diag d = {{0}};
    sr_err e =
        sr_profiles_set_rating(p, token, artist, track, rating, 0, SR_PROFILE_RATED, now, &d);
    if (e) fprintf(stderr, "%s\n", d.msg);
    assert_int_equal(e, SR_OK);
}

static void get(sr_profiles *p, const char *token, int64_t now, sr_profile *pr) {
    sr_diag d = {{0}};
    assert_int_equal(sr_profiles_get(p, token, now, pr, &d), SR_OK);
}

/* The (artist, track) pairs of pr's ratings joined as "a/t|a/t|...". */
static const char *rating_list(const sr_profile *pr) {
    static char out[4096];
    out[0] = 0;
    for (size_t i = 0; i < pr->n_ratings; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s/%s", i ? "|" : "",
                 pr->ratings[i].artist, pr->ratings[i].track);
    return out;
}

static void write_file(const char *path, const char *text) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void sql(const char *path, const char *stmt) {
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, stmt, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_create_get_delete(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    sr_profile pr;
    get(f->p, tok, NOW, &pr);
    assert_int_equal(pr.created, NOW);
    assert_int_equal(pr.updated, NOW);
    assert_int_equal(pr.n_ratings, 0);
    assert_int_equal(pr.n_blocks, 0);
    sr_profile_free(&pr);
    sr_diag d = {{0}};
    assert_int_equal(sr_profiles_delete(f->p, tok, &d), SR_OK);
    assert_int_equal(sr_profiles_get(f->p, tok, NOW, &pr, &d), SR_E_NOTFOUND);
    assert_int_equal(pr.n_ratings, 0);
    assert_null(pr.ratings);
    assert_int_equal(sr_profiles_delete(f->p, tok, &d), SR_E_NOTFOUND);
    assert_int_equal(sr_profiles_clear_ratings(f->p, tok, NOW, &d), SR_E_NOTFOUND);
}

static void test_token_format_and_uniqueness(void **state) {
    fixture *f = *state;
    enum { N = 200 };
    static char toks[N][33];
    for (int i = 0; i < N; i++) {
        new_profile(f->p, toks[i]);
        assert_int_equal(strlen(toks[i]), 32);
        assert_int_equal(strspn(toks[i], "0123456789abcdef"), 32);
        for (int j = 0; j < i; j++) assert_string_not_equal(toks[i], toks[j]);
    }
    /* Each token finds its own profile: rate through one, the others stay empty. */
    rate(f->p, toks[7], "A", "B", 4, NOW);
    sr_profile pr;
    get(f->p, toks[7], NOW, &pr);
    assert_int_equal(pr.n_ratings, 1);
    sr_profile_free(&pr);
    get(f->p, toks[8], NOW, &pr);
    assert_int_equal(pr.n_ratings, 0);
    sr_profile_free(&pr);
    /* The hex digits are read case-blind. */
    char upper[33];
    for (int i = 0; i < 33; i++)
        upper[i] = (char)(toks[7][i] >= 'a' ? toks[7][i] - 32 : toks[7][i]);
    get(f->p, upper, NOW, &pr);
    assert_int_equal(pr.n_ratings, 1);
    sr_profile_free(&pr);
}

static void test_unknown_and_malformed_tokens(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    char flipped[33];
    memcpy(flipped, tok, 33);
    flipped[31] = flipped[31] == '0' ? '1' : '0';
    char longer[40];
    snprintf(longer, sizeof longer, "%s0", tok);
    char shorter[33];
    memcpy(shorter, tok, 31);
    shorter[31] = 0;
    char nonhex[33];
    memcpy(nonhex, tok, 33);
    nonhex[5] = 'g';
    const char *bad[] = {flipped,
                         longer,
                         shorter,
                         nonhex,
                         "",
                         NULL,
                         "'; DROP TABLE profiles; --",
                         "00000000000000000000000000000000' OR '1'='1"};
    sr_profile pr;
    sr_diag d = {{0}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(sr_profiles_get(f->p, bad[i], NOW, &pr, &d), SR_E_NOTFOUND);
        assert_int_equal(sr_profiles_delete(f->p, bad[i], &d), SR_E_NOTFOUND);
        assert_int_equal(
            sr_profiles_set_rating(f->p, bad[i], "A", "B", 1, 0, SR_PROFILE_RATED, NOW, &d),
            SR_E_NOTFOUND);
        assert_int_equal(
            sr_profiles_add_block(f->p, bad[i], SR_PROFILE_BLOCK_ARTIST, "A", NULL, 0, NOW, &d),
            SR_E_NOTFOUND);
    }
    assert_string_equal(d.msg, "no profile with this token");
    get(f->p, tok, NOW, &pr); /* the real one is untouched */
    assert_int_equal(pr.n_ratings, 0);
    assert_int_equal(pr.n_blocks, 0);
    sr_profile_free(&pr);
}

static void test_ratings_order_and_replacement(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    rate(f->p, tok, "Air", "La Femme d'Argent", 3, NOW + 1);
    rate(f->p, tok, "Beck", "Loser", 4, NOW + 2);
    rate(f->p, tok, "Can", "Vitamin C", 5, NOW + 3);
    sr_diag d = {{0}};
    assert_int_equal(sr_profiles_set_rating(f->p, tok, "beck ", " LOSER", 2.5, 17,
                                            SR_PROFILE_HISTORY, NOW + 10, &d),
                     SR_OK);
    sr_profile pr;
    get(f->p, tok, NOW + 10, &pr);
    assert_int_equal(pr.created, NOW);
    assert_int_equal(pr.updated, NOW + 10);
    /* Beck keeps its place; its display strings and value are the new ones. */
    assert_string_equal(rating_list(&pr), "Air/La Femme d'Argent|beck / LOSER|Can/Vitamin C");
    assert_string_equal(pr.ratings[0].key, "air\x1fla femme d'argent");
    assert_string_equal(pr.ratings[1].key, "beck\x1floser");
    assert_true(pr.ratings[1].rating == 2.5);
    assert_int_equal(pr.ratings[1].plays, 17);
    assert_int_equal(pr.ratings[1].source, SR_PROFILE_HISTORY);
    assert_int_equal(pr.ratings[1].added, NOW + 10);
    assert_true(pr.ratings[2].rating == 5);
    assert_int_equal(pr.ratings[2].plays, 0);
    assert_int_equal(pr.ratings[2].source, SR_PROFILE_RATED);
    assert_int_equal(pr.ratings[2].added, NOW + 3);
    sr_profile_free(&pr);
}

static void test_normalised_key_dedupe(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    rate(f->p, tok, "Björk", "Jóga", 4, NOW);
    rate(f->p, tok, "BJÖRK", "JÓGA", 5, NOW);
    rate(f->p, tok, "Bjo\xcc\x88rk", "Jo\xcc\x81ga", 3, NOW); /* decomposed ö and ó */
    rate(f->p, tok, "Björk", "Hyperballad", 2, NOW);
    sr_profile pr;
    get(f->p, tok, NOW, &pr);
    assert_int_equal(pr.n_ratings, 2);
    assert_string_equal(pr.ratings[0].artist, "Bjo\xcc\x88rk");
    assert_string_equal(pr.ratings[0].key, "björk\x1fjóga");
    assert_true(pr.ratings[0].rating == 3);
    assert_string_equal(pr.ratings[1].key, "björk\x1fhyperballad");
    sr_profile_free(&pr);
}

static void test_delete_and_clear(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    rate(f->p, tok, "A", "1", 1, NOW);
    rate(f->p, tok, "A", "2", 2, NOW);
    rate(f->p, tok, "A", "3", 3, NOW);
    sr_diag d = {{0}};
    assert_int_equal(sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_ARTIST, "Z", "", 0, NOW, &d),
                     SR_OK);
    assert_int_equal(sr_profiles_delete_rating(f->p, tok, "a", "2", NOW + 5, &d), SR_OK);
    assert_int_equal(sr_profiles_delete_rating(f->p, tok, "A", "2", NOW + 6, &d), SR_E_NOTFOUND);
    assert_string_equal(d.msg, "the profile has no rating for this song");
    sr_profile pr;
    get(f->p, tok, NOW, &pr);
    assert_string_equal(rating_list(&pr), "A/1|A/3");
    assert_int_equal(pr.updated, NOW + 5); /* the failed delete changed nothing */
    sr_profile_free(&pr);
    assert_int_equal(sr_profiles_clear_ratings(f->p, tok, NOW + 7, &d), SR_OK);
    get(f->p, tok, NOW, &pr);
    assert_int_equal(pr.n_ratings, 0);
    assert_int_equal(pr.n_blocks, 1); /* blocks stay */
    assert_int_equal(pr.updated, NOW + 7);
    sr_profile_free(&pr);
    rate(f->p, tok, "B", "1", 1, NOW);
    rate(f->p, tok, "A", "3", 1, NOW);
    get(f->p, tok, NOW, &pr);
    assert_string_equal(rating_list(&pr), "B/1|A/3");
    sr_profile_free(&pr);
}

static void test_set_ratings_batch(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    rate(f->p, tok, "Old", "Song", 1, NOW);
    sr_profile_rating r[] = {
        {.artist = "X", .track = "1", .rating = 3},
        {.artist = "Y", .track = "2", .rating = 4, .plays = 9, .source = SR_PROFILE_HISTORY},
        {.artist = "x", .track = "1", .rating = 5}, /* same key as the first: it wins */
    };
    sr_diag d = {{0}};
    assert_int_equal(sr_profiles_set_ratings(f->p, tok, r, 3, false, NOW + 1, &d), SR_OK);
    sr_profile pr;
    get(f->p, tok, NOW, &pr);
    assert_string_equal(rating_list(&pr), "Old/Song|x/1|Y/2");
    assert_true(pr.ratings[1].rating == 5);
    assert_int_equal(pr.ratings[2].plays, 9);
    sr_profile_free(&pr);
    /* PUT: only the batch remains, in its order. */
    assert_int_equal(sr_profiles_set_ratings(f->p, tok, r + 1, 2, true, NOW + 2, &d), SR_OK);
    get(f->p, tok, NOW, &pr);
    assert_string_equal(rating_list(&pr), "Y/2|x/1");
    sr_profile_free(&pr);
    /* One bad rating: nothing is written, and the message says which. */
    sr_profile_rating bad[] = {{.artist = "N", .track = "1", .rating = 1},
                               {.artist = "N", .track = "\xff", .rating = 1}};
    assert_int_equal(sr_profiles_set_ratings(f->p, tok, bad, 2, true, NOW + 3, &d), SR_E_INPUT);
    assert_string_equal(d.msg, "rating 2: track is not valid UTF-8");
    get(f->p, tok, NOW, &pr);
    assert_string_equal(rating_list(&pr), "Y/2|x/1");
    assert_int_equal(pr.updated, NOW + 2);
    sr_profile_free(&pr);
    /* An empty PUT empties the list. */
    assert_int_equal(sr_profiles_set_ratings(f->p, tok, NULL, 0, true, NOW + 4, &d), SR_OK);
    get(f->p, tok, NOW, &pr);
    assert_int_equal(pr.n_ratings, 0);
    sr_profile_free(&pr);
}

/* Songs of items-only data (rating triples) have no artist: a song key may have a blank
 * artist (the catalog finds such songs by their track), an artist block may not. */
static void test_songs_without_artist(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    rate(f->p, tok, "", "i1", 4, NOW);
    rate(f->p, tok, "", "i2", 2, NOW);
    rate(f->p, tok, "  ", "I1", 5, NOW + 1); /* the same key: replaces i1 in place */
    rate(f->p, tok, "A", "i1", 3, NOW);      /* another song */
    sr_diag d = {{0}};
    sr_profile_rating h = {
        .artist = "", .track = "i3", .rating = 1, .plays = 7, .source = SR_PROFILE_HISTORY};
    assert_int_equal(sr_profiles_set_ratings(f->p, tok, &h, 1, false, NOW + 2, &d), SR_OK);
    assert_int_equal(sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_SONG, "", "i9", 0, NOW, &d),
                     SR_OK);
    assert_int_equal(
        sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_ARTIST, " ", NULL, 0, NOW, &d),
        SR_E_INPUT);
    assert_string_equal(d.msg, "artist is blank");
    sr_profile pr;
    get(f->p, tok, NOW + 2, &pr);
    assert_string_equal(rating_list(&pr), "  /I1|/i2|A/i1|/i3");
    assert_string_equal(pr.ratings[0].key, "\x1fi1");
    assert_true(pr.ratings[0].rating == 5);
    assert_string_equal(pr.ratings[2].key, "a\x1fi1");
    assert_int_equal(pr.ratings[3].plays, 7);
    assert_int_equal(pr.n_blocks, 1);
    assert_string_equal(pr.blocks[0].artist, "");
    assert_string_equal(pr.blocks[0].key, "\x1fi9");
    sr_profile_free(&pr);
    assert_int_equal(sr_profiles_delete_rating(f->p, tok, "", "I2", NOW + 3, &d), SR_OK);
    assert_int_equal(sr_profiles_delete_block(f->p, tok, SR_PROFILE_BLOCK_SONG, "", "i9", NOW, &d),
                     SR_OK);
    get(f->p, tok, NOW + 3, &pr);
    assert_string_equal(rating_list(&pr), "  /I1|A/i1|/i3");
    assert_int_equal(pr.n_blocks, 0);
    sr_profile_free(&pr);
}

/* A rating's added as given (a profile read and put back keeps its times), 0: now; not
 * negative, nor more than SR_PROFILES_ADDED_AHEAD after now. */
static void test_ratings_keep_added(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    sr_profile_rating r[] = {
        {.artist = "A", .track = "1", .rating = 3, .added = 1500000000},
        {.artist = "B",
         .track = "2",
         .rating = 4,
         .plays = 9,
         .source = SR_PROFILE_HISTORY,
         .added = NOW - 5},
        {.artist = "C", .track = "3", .rating = 5}, /* added 0: now */
        {.artist = "D", .track = "4", .rating = 5, .added = NOW + SR_PROFILES_ADDED_AHEAD},
    };
    sr_diag d = {{0}};
    assert_int_equal(sr_profiles_set_ratings(f->p, tok, r, 4, true, NOW, &d), SR_OK);
    sr_profile pr;
    get(f->p, tok, NOW, &pr);
    assert_int_equal(pr.n_ratings, 4);
    assert_int_equal(pr.ratings[0].added, 1500000000);
    assert_int_equal(pr.ratings[1].added, NOW - 5);
    assert_int_equal(pr.ratings[1].source, SR_PROFILE_HISTORY);
    assert_int_equal(pr.ratings[1].plays, 9);
    assert_int_equal(pr.ratings[2].added, NOW);
    assert_int_equal(pr.ratings[3].added, NOW + SR_PROFILES_ADDED_AHEAD);
    /* Put back as read, less one, later: every other rating stays exactly as it was. */
    sr_profile_rating back[3] = {pr.ratings[0], pr.ratings[2], pr.ratings[3]};
    assert_int_equal(sr_profiles_set_ratings(f->p, tok, back, 3, true, NOW + 100, &d), SR_OK);
    sr_profile again;
    get(f->p, tok, NOW + 100, &again);
    assert_int_equal(again.n_ratings, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(again.ratings[i].key, back[i].key);
        assert_true(again.ratings[i].rating == back[i].rating);
        assert_int_equal(again.ratings[i].plays, back[i].plays);
        assert_int_equal(again.ratings[i].source, back[i].source);
        assert_int_equal(again.ratings[i].added, back[i].added);
    }
    assert_int_equal(again.updated, NOW + 100);
    sr_profile_free(&again);
    sr_profile_free(&pr);
    /* Setting one rating again makes its time now. */
    rate(f->p, tok, "a", "1", 2, NOW + 200);
    get(f->p, tok, NOW + 200, &pr);
    assert_int_equal(pr.ratings[0].added, NOW + 200);
    sr_profile_free(&pr);
    /* Refused, with nothing written: a negative time, one too far ahead. */
    sr_profile_rating bad[] = {{.artist = "E", .track = "5", .rating = 1},
                               {.artist = "F", .track = "6", .rating = 1, .added = -1}};
    assert_int_equal(sr_profiles_set_ratings(f->p, tok, bad, 2, false, NOW + 300, &d), SR_E_INPUT);
    assert_string_equal(d.msg, "rating 2: added -1 is not a Unix time up to 86400 s after now (or "
                               "0: now)");
    bad[1].added = NOW + 300 + SR_PROFILES_ADDED_AHEAD + 1;
    assert_int_equal(sr_profiles_set_ratings(f->p, tok, bad, 2, false, NOW + 300, &d), SR_E_INPUT);
    get(f->p, tok, NOW + 300, &pr);
    assert_int_equal(pr.n_ratings, 3);
    assert_int_equal(pr.updated, NOW + 200);
    sr_profile_free(&pr);
}

static void test_blocks_with_expiry(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    sr_diag d = {{0}};
    assert_int_equal(sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_SONG, "Toto", "Africa",
                                           NOW + 100, NOW, &d),
                     SR_OK);
    assert_int_equal(
        sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_ARTIST, "Nickelback", NULL, 0, NOW, &d),
        SR_OK);
    assert_int_equal(
        sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_ARTIST, "Toto", "", NOW + 50, NOW, &d),
        SR_OK);
    sr_profile pr;
    get(f->p, tok, NOW + 49, &pr);
    assert_int_equal(pr.n_blocks, 3);
    assert_int_equal(pr.blocks[0].kind, SR_PROFILE_BLOCK_SONG);
    assert_string_equal(pr.blocks[0].artist, "Toto");
    assert_string_equal(pr.blocks[0].track, "Africa");
    assert_string_equal(pr.blocks[0].key, "toto\x1f"
                                          "africa");
    assert_int_equal(pr.blocks[0].until, NOW + 100);
    assert_int_equal(pr.blocks[1].kind, SR_PROFILE_BLOCK_ARTIST);
    assert_string_equal(pr.blocks[1].track, "");
    assert_string_equal(pr.blocks[1].key, "nickelback");
    assert_int_equal(pr.blocks[1].until, 0);
    assert_string_equal(pr.blocks[2].key, "toto"); /* a different kind: a separate block */
    sr_profile_free(&pr);
    get(f->p, tok, NOW + 50, &pr); /* the artist block of Toto ends at NOW + 50 */
    assert_int_equal(pr.n_blocks, 2);
    assert_string_equal(pr.blocks[1].artist, "Nickelback");
    sr_profile_free(&pr);
    get(f->p, tok, NOW + 1000, &pr);
    assert_int_equal(pr.n_blocks, 1);
    assert_string_equal(pr.blocks[0].artist, "Nickelback");
    sr_profile_free(&pr);
    /* Adding again replaces until and keeps the place. */
    assert_int_equal(
        sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_SONG, "TOTO", "africa", 0, NOW + 10, &d),
        SR_OK);
    get(f->p, tok, NOW + 1000, &pr);
    assert_int_equal(pr.n_blocks, 2);
    assert_string_equal(pr.blocks[0].artist, "TOTO");
    assert_int_equal(pr.blocks[0].until, 0);
    assert_int_equal(pr.blocks[0].added, NOW + 10);
    assert_int_equal(pr.updated, NOW + 10);
    sr_profile_free(&pr);
    /* Deleting: an expired block is not found, a live one goes. */
    assert_int_equal(
        sr_profiles_delete_block(f->p, tok, SR_PROFILE_BLOCK_ARTIST, "toto", NULL, NOW + 60, &d),
        SR_E_NOTFOUND);
    assert_int_equal(
        sr_profiles_delete_block(f->p, tok, SR_PROFILE_BLOCK_SONG, "Toto", "Africa", NOW + 60, &d),
        SR_OK);
    assert_int_equal(
        sr_profiles_delete_block(f->p, tok, SR_PROFILE_BLOCK_SONG, "Toto", "Africa", NOW + 60, &d),
        SR_E_NOTFOUND);
    get(f->p, tok, NOW + 60, &pr);
    assert_int_equal(pr.n_blocks, 1);
    assert_string_equal(pr.blocks[0].artist, "Nickelback");
    sr_profile_free(&pr);
    /* Bad blocks. */
    assert_int_equal(
        sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_ARTIST, "A", "B", 0, NOW, &d),
        SR_E_INPUT);
    assert_int_equal(
        sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_SONG, "A", "B", NOW, NOW, &d),
        SR_E_INPUT);
    assert_int_equal(sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_SONG, "A", NULL, 0, NOW, &d),
                     SR_E_INPUT);
    assert_int_equal(
        sr_profiles_add_block(f->p, tok, (sr_profile_block_kind)7, "A", "B", 0, NOW, &d),
        SR_E_INPUT);
}

static void test_rating_limit(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    enum { N = SR_PROFILES_MAX_RATINGS };
    static char names[N + 5][16];
    static sr_profile_rating r[N + 5];
    for (int i = 0; i < N + 5; i++) {
        snprintf(names[i], sizeof names[i], "song %d", i);
        r[i] = (sr_profile_rating){.artist = "A", .track = names[i], .rating = i};
    }
    sr_diag d = {{0}};
    assert_int_equal(sr_profiles_set_ratings(f->p, tok, r, N + 1, false, NOW, &d), SR_E_LIMIT);
    assert_string_equal(d.msg, "a profile holds at most 1000 ratings (this would make 1001)");
    sr_profile pr;
    get(f->p, tok, NOW, &pr);
    assert_int_equal(pr.n_ratings, 0); /* all or nothing */
    sr_profile_free(&pr);
    assert_int_equal(sr_profiles_set_ratings(f->p, tok, r, N, false, NOW, &d), SR_OK);
    assert_int_equal(
        sr_profiles_set_rating(f->p, tok, "A", "one more", 1, 0, SR_PROFILE_RATED, NOW, &d),
        SR_E_LIMIT);
    rate(f->p, tok, "a", "SONG 999", 1.5, NOW); /* replacing is fine at the limit */
    /* A PUT of 1000 new songs replaces the old 1000. */
    assert_int_equal(sr_profiles_set_ratings(f->p, tok, r + 5, N, true, NOW, &d), SR_OK);
    get(f->p, tok, NOW, &pr);
    assert_int_equal(pr.n_ratings, N);
    assert_string_equal(pr.ratings[0].track, "song 5");
    assert_string_equal(pr.ratings[N - 1].track, "song 1004");
    sr_profile_free(&pr);
}

static void test_block_limit(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    sr_diag d = {{0}};
    char name[32];
    for (int i = 0; i < SR_PROFILES_MAX_BLOCKS; i++) {
        snprintf(name, sizeof name, "artist %d", i);
        /* Half of them expire at NOW + 10. */
        assert_int_equal(sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_ARTIST, name, NULL,
                                               i % 2 ? NOW + 10 : 0, NOW, &d),
                         SR_OK);
    }
    assert_int_equal(sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_SONG, "x", "y", 0, NOW, &d),
                     SR_E_LIMIT);
    assert_string_equal(d.msg, "a profile holds at most 1000 blocks (this would make 1001)");
    /* Once half have expired there is room again. */
    assert_int_equal(
        sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_SONG, "x", "y", 0, NOW + 10, &d), SR_OK);
    sr_profile pr;
    get(f->p, tok, NOW + 10, &pr);
    assert_int_equal(pr.n_blocks, SR_PROFILES_MAX_BLOCKS / 2 + 1);
    assert_string_equal(pr.blocks[pr.n_blocks - 1].key, "x\x1fy");
    sr_profile_free(&pr);
}

static void test_invalid_names_and_values(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    char longest[SR_PROFILES_NAME_MAX + 2];
    memset(longest, 'n', SR_PROFILES_NAME_MAX);
    longest[SR_PROFILES_NAME_MAX] = 0;
    rate(f->p, tok, longest, "t", 1, NOW); /* exactly the limit */
    longest[SR_PROFILES_NAME_MAX] = 'n';
    longest[SR_PROFILES_NAME_MAX + 1] = 0;
    struct {
        const char *artist, *track, *msg;
    } bad[] = {
        {longest, "t", "artist is longer than 1024 bytes"},
        {"a", longest, "track is longer than 1024 bytes"},
        {"\xc3\x28", "t", "artist is not valid UTF-8"},    /* bad continuation */
        {"a", "\xc0\xaf", "track is not valid UTF-8"},     /* overlong '/' */
        {"a", "\xed\xa0\x80", "track is not valid UTF-8"}, /* surrogate */
        {"a", "caf\xc3", "track is not valid UTF-8"},      /* cut short */
        {"a\x1f"
         "b",
         "t", "artist contains a control character"},
        {"a", "x\ny", "track contains a control character"},
        {"a", "\xe2\x80\x8b", "track is blank"}, /* only a zero-width space */
        {"", "  ", "track is blank"},            /* a blank artist, but no track either */
        {NULL, "t", "artist is missing"},
        {"a", NULL, "track is missing"},
    };
    sr_diag d = {{0}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(sr_profiles_set_rating(f->p, tok, bad[i].artist, bad[i].track, 1, 0,
                                                SR_PROFILE_RATED, NOW, &d),
                         SR_E_INPUT);
        assert_string_equal(d.msg, bad[i].msg);
    }
    assert_int_equal(
        sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_ARTIST, "\xff", NULL, 0, NOW, &d),
        SR_E_INPUT);
    assert_int_equal(sr_profiles_delete_rating(f->p, tok, "ok", "\xff", NOW, &d), SR_E_INPUT);
    double values[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            sr_profiles_set_rating(f->p, tok, "a", "b", values[i], 0, SR_PROFILE_RATED, NOW, &d),
            SR_E_INPUT);
        assert_string_equal(d.msg, "rating is not a finite number");
    }
    assert_int_equal(sr_profiles_set_rating(f->p, tok, "a", "b", 1, 3, SR_PROFILE_RATED, NOW, &d),
                     SR_E_INPUT);
    assert_int_equal(
        sr_profiles_set_rating(f->p, tok, "a", "b", 1, 0, (sr_profile_source)9, NOW, &d),
        SR_E_INPUT);
    sr_profile pr;
    get(f->p, tok, NOW, &pr);
    assert_int_equal(pr.n_ratings, 1); /* only the longest name */
    sr_profile_free(&pr);
}

static void test_injection_strings_verbatim(void **state) {
    fixture *f = *state;
    char tok[33], other[33];
    new_profile(f->p, tok);
    new_profile(f->p, other);
    rate(f->p, other, "Safe", "Song", 4, NOW);
    const char *evil[] = {"'; DROP TABLE profiles; --",
                          "Robert'); DROP TABLE ratings;--",
                          "\" OR \"\"=\"",
                          "%s%n%x",
                          "?1 ?2 :x @y $z",
                          "a' || (SELECT 1) || '"};
    size_t n = sizeof evil / sizeof *evil;
    for (size_t i = 0; i < n; i++) rate(f->p, tok, evil[i], evil[(i + 1) % n], (double)i, NOW);
    sr_diag d = {{0}};
    assert_int_equal(
        sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_ARTIST, evil[0], NULL, 0, NOW, &d),
        SR_OK);
    sr_profile pr;
    get(f->p, tok, NOW, &pr);
    assert_int_equal(pr.n_ratings, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(pr.ratings[i].artist, evil[i]);
        assert_string_equal(pr.ratings[i].track, evil[(i + 1) % n]);
    }
    assert_string_equal(pr.blocks[0].artist, "'; DROP TABLE profiles; --");
    sr_profile_free(&pr);
    get(f->p, other, NOW, &pr); /* every table is still there */
    assert_string_equal(rating_list(&pr), "Safe/Song");
    sr_profile_free(&pr);
}

static void test_persistence_across_reopen(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    rate(f->p, tok, "Ábc", "Déf", 4.5, NOW + 1);
    assert_int_equal(
        sr_profiles_set_rating(f->p, tok, "G", "H", 1, 42, SR_PROFILE_HISTORY, NOW + 2, NULL),
        SR_OK);
    assert_int_equal(
        sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_SONG, "I", "J", NOW + 99, NOW + 3, NULL),
        SR_OK);
    sr_profiles_close(f->p);
    f->p = NULL;
    sr_diag d = {{0}};
    assert_int_equal(sr_profiles_open(f->path, 2, &f->p, &d), SR_OK);
    sr_profile pr;
    get(f->p, tok, NOW + 4, &pr);
    assert_int_equal(pr.created, NOW);
    assert_int_equal(pr.updated, NOW + 3);
    assert_string_equal(rating_list(&pr), "Ábc/Déf|G/H");
    assert_true(pr.ratings[0].rating == 4.5);
    assert_int_equal(pr.ratings[1].plays, 42);
    assert_int_equal(pr.ratings[1].source, SR_PROFILE_HISTORY);
    assert_int_equal(pr.n_blocks, 1);
    assert_int_equal(pr.blocks[0].until, NOW + 99);
    sr_profile_free(&pr);
    /* The file is in WAL mode at schema version 1. */
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), SR_PROFILES_SCHEMA);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* A child process writes ratings and reports each SR_OK on a pipe; it is killed with
 * SIGKILL mid-stream. Every rating it reported must be in the file. */
static void test_survives_kill9(void **state) {
    fixture *f = *state;
    sr_profiles_close(f->p); /* no connection crosses the fork */
    f->p = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        sr_profiles *p;
        char tok[33], track[32];
        if (sr_profiles_open(f->path, 1, &p, NULL) || sr_profiles_create(p, NOW, tok, NULL))
            _exit(1);
        if (write(fds[1], tok, 32) != 32) _exit(1);
        for (int32_t i = 0;; i++) {
            snprintf(track, sizeof track, "song %d", (int)i);
            if (sr_profiles_set_rating(p, tok, "A", track, 1, 0, SR_PROFILE_RATED, NOW, NULL))
                _exit(1);
            if (write(fds[1], &i, sizeof i) != sizeof i) _exit(1);
        }
    }
    close(fds[1]);
    char tok[33] = {0};
    assert_int_equal(read(fds[0], tok, 32), 32);
    int32_t i, last = -1;
    while (read(fds[0], &i, sizeof i) == sizeof i) {
        last = i;
        if (last == 300) kill(pid, SIGKILL);
    }
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(last >= 300);
    sr_diag d = {{0}};
    assert_int_equal(sr_profiles_open(f->path, 1, &f->p, &d), SR_OK);
    sr_profile pr;
    get(f->p, tok, NOW, &pr);
    assert_true(pr.n_ratings >= (size_t)last + 1);
    char want[32];
    for (int32_t k = 0; k <= last; k++) {
        snprintf(want, sizeof want, "song %d", (int)k);
        assert_string_equal(pr.ratings[k].track, want);
    }
    sr_profile_free(&pr);
}

static void test_files_not_ours(void **state) {
    fixture *f = *state;
    char path[256];
    sr_profiles *p = NULL;
    sr_diag d = {{0}};
    /* Not a database: refused, named, and left as it was. */
    snprintf(path, sizeof path, "%s/notes.txt", f->dir);
    char text[8192];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = 0;
    write_file(path, text);
    assert_int_equal(sr_profiles_open(path, 1, &p, &d), SR_E_CORRUPT);
    assert_null(p);
    assert_non_null(strstr(d.msg, path));
    assert_non_null(strstr(d.msg, "not a database"));
    FILE *fp = fopen(path, "rb");
    char back[sizeof text] = {0};
    assert_int_equal(fread(back, 1, sizeof back, fp), sizeof text - 1);
    fclose(fp);
    assert_string_equal(back, text);
    /* A newer schema. */
    char tok[33];
    new_profile(f->p, tok);
    sr_profiles_close(f->p);
    f->p = NULL;
    sql(f->path, "PRAGMA user_version = 2");
    assert_int_equal(sr_profiles_open(f->path, 0, &p, &d), SR_E_VERSION);
    assert_non_null(strstr(d.msg, f->path));
    assert_non_null(strstr(d.msg, "schema version 2 is newer"));
    sql(f->path, "PRAGMA user_version = 1");
    assert_int_equal(sr_profiles_open(f->path, 0, &f->p, &d), SR_OK);
    /* Another application's database: refused, its journal mode untouched. */
    snprintf(path, sizeof path, "%s/other.db", f->dir);
    sql(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
    assert_int_equal(sr_profiles_open(path, 1, &p, &d), SR_E_FORMAT);
    assert_non_null(strstr(d.msg, path));
    snprintf(path + strlen(path), sizeof path - strlen(path), "-wal");
    assert_int_equal(access(path, F_OK), -1);
    /* A folder that does not exist; bad arguments. */
    snprintf(path, sizeof path, "%s/no/such/dir/p.db", f->dir);
    assert_int_equal(sr_profiles_open(path, 1, &p, &d), SR_E_IO);
    assert_non_null(strstr(d.msg, path));
    assert_int_equal(sr_profiles_open(":memory:", 1, &p, &d), SR_E_USAGE);
    assert_int_equal(sr_profiles_open(f->path, 65, &p, &d), SR_E_USAGE);
    assert_null(p);
}

/* ---- threads ---- */

typedef struct worker {
    sr_profiles *p;
    const char *token; /* NULL: make one's own profile */
    int id, n;
    int songs; /* distinct songs the thread cycles through */
    int failures;
    char own[33];
} worker;

static void *add_songs(void *arg) {
    worker *w = arg;
    char track[32];
    const char *tok = w->token;
    if (!tok) {
        if (sr_profiles_create(w->p, NOW, w->own, NULL)) w->failures++;
        tok = w->own;
    }
    for (int i = 0; i < w->n; i++) {
        snprintf(track, sizeof track, "t%d-%d", w->id, i % w->songs);
        if (sr_profiles_set_rating(w->p, tok, "Artist", track, i % 5 + 1, 0, SR_PROFILE_RATED,
                                   NOW + i, NULL))
            w->failures++;
        if (i % 10 == 0) {
            sr_profile pr;
            if (sr_profiles_get(w->p, tok, NOW, &pr, NULL)) w->failures++;
            sr_profile_free(&pr);
        }
    }
    return NULL;
}

/* n_threads workers, each setting n ratings, cycling through `songs` songs of its own, on
 * token (or on its own new profile); returns the seconds taken. */
static double run_workers(sr_profiles *p, const char *token, int n_threads, int n, int songs,
                          worker *w) {
    pthread_t th[16];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int t = 0; t < n_threads; t++) {
        w[t] = (worker){.p = p, .token = token, .id = t, .n = n, .songs = songs};
        assert_int_equal(pthread_create(&th[t], NULL, add_songs, &w[t]), 0);
    }
    for (int t = 0; t < n_threads; t++) pthread_join(th[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (int t = 0; t < n_threads; t++) assert_int_equal(w[t].failures, 0);
    return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
}

static void test_concurrent_updates_one_profile(void **state) {
    fixture *f = *state;
    char tok[33];
    new_profile(f->p, tok);
    enum { T = 8, N = 100 };
    worker w[T];
    run_workers(f->p, tok, T, N, N, w);
    sr_profile pr;
    get(f->p, tok, NOW, &pr);
    assert_int_equal(pr.n_ratings, T * N);
    /* Every song once; each thread's songs in the order it added them. */
    int next[T] = {0};
    for (size_t i = 0; i < pr.n_ratings; i++) {
        int t, k;
        assert_int_equal(sscanf(pr.ratings[i].track, "t%d-%d", &t, &k), 2);
        assert_true(t >= 0 && t < T);
        assert_int_equal(k, next[t]++);
    }
    assert_int_equal(pr.updated >= NOW + N - 1, 1);
    sr_profile_free(&pr);
}

static void test_throughput(void **state) {
    fixture *f = *state;
    const char *env = getenv("SR_PROFILES_BENCH_N");
    int n = env ? atoi(env) : 20;
    enum { T = 8 };
    worker w[T];
    /* Each thread cycles through 100 songs of its own: 800 ratings at most per profile. */
    char tok[33];
    new_profile(f->p, tok);
    double one = run_workers(f->p, tok, T, n, 100, w);
    sr_profile pr;
    get(f->p, tok, NOW, &pr);
    assert_int_equal(pr.n_ratings, T * (n < 100 ? n : 100));
    sr_profile_free(&pr);
    double distinct = run_workers(f->p, NULL, T, n, 100, w);
    for (int t = 0; t < T; t++) {
        get(f->p, w[t].own, NOW, &pr);
        assert_int_equal(pr.n_ratings, n < 100 ? n : 100);
        sr_profile_free(&pr);
    }
    if (env)
        print_message("profiles: %d threads x %d set_rating (+1 get per 10): one profile %.0f "
                      "ops/s, distinct profiles %.0f ops/s\n",
                      T, n, T * (double)n / one, T * (double)n / distinct);
}

/* ---- allocation failures ---- */

static void test_allocation_failures(void **state) {
    fixture *f = *state;
    sr_diag d = {{0}};
    int failures = 0;
    for (long k = 0;; k++) { /* open */
        sr_profiles *p = NULL;
        sr_mem_fail_after(k);
        sr_err e = sr_profiles_open(f->path, 2, &p, &d);
        sr_mem_fail_after(-1);
        if (e == SR_OK) {
            sr_profiles_close(p);
            break;
        }
        assert_int_equal(e, SR_E_NOMEM);
        assert_null(p);
        failures++;
    }
    char tok[33];
    new_profile(f->p, tok);
    sr_profile_rating r[] = {{.artist = "Sigur Rós", .track = "Hoppípolla", .rating = 5},
                             {.artist = "Ólafur Arnalds", .track = "Near Light", .rating = 4}};
    for (long k = 0;; k++) { /* set_ratings */
        sr_mem_fail_after(k);
        sr_err e = sr_profiles_set_ratings(f->p, tok, r, 2, false, NOW, &d);
        sr_mem_fail_after(-1);
        sr_profile pr;
        get(f->p, tok, NOW, &pr);
        assert_int_equal(pr.n_ratings, e == SR_OK ? 2 : 0);
        sr_profile_free(&pr);
        if (e == SR_OK) break;
        assert_int_equal(e, SR_E_NOMEM);
        failures++;
    }
    for (long k = 0;; k++) { /* add_block */
        sr_mem_fail_after(k);
        sr_err e = sr_profiles_add_block(f->p, tok, SR_PROFILE_BLOCK_SONG, "Múm", "Green Grass", 0,
                                         NOW, &d);
        sr_mem_fail_after(-1);
        if (e == SR_OK) break;
        assert_int_equal(e, SR_E_NOMEM);
        failures++;
    }
    for (long k = 0;; k++) { /* get */
        sr_profile pr;
        sr_mem_fail_after(k);
        sr_err e = sr_profiles_get(f->p, tok, NOW, &pr, &d);
        sr_mem_fail_after(-1);
        if (e == SR_OK) {
            assert_string_equal(rating_list(&pr), "Sigur Rós/Hoppípolla|Ólafur Arnalds/Near Light");
            assert_string_equal(pr.blocks[0].key, "múm\x1fgreen grass");
            sr_profile_free(&pr);
            break;
        }
        assert_int_equal(e, SR_E_NOMEM);
        assert_null(pr.ratings);
        assert_null(pr.strings);
        failures++;
    }
    for (long k = 0;; k++) { /* delete_rating */
        sr_mem_fail_after(k);
        sr_err e = sr_profiles_delete_rating(f->p, tok, "sigur rós", "hoppípolla", NOW, &d);
        sr_mem_fail_after(-1);
        if (e == SR_OK) break;
        assert_int_equal(e, SR_E_NOMEM);
        failures++;
    }
    assert_true(failures >= 10);
}

static void test_names(void **state) {
    (void)state;
    sr_profile_source s;
    sr_profile_block_kind k;
    assert_true(sr_profile_source_parse("history", &s) && s == SR_PROFILE_HISTORY);
    assert_true(sr_profile_source_parse("rated", &s) && s == SR_PROFILE_RATED);
    assert_false(sr_profile_source_parse("Rated", &s));
    assert_false(sr_profile_source_parse(NULL, &s));
    assert_string_equal(sr_profile_source_name(SR_PROFILE_HISTORY), "history");
    assert_true(sr_profile_block_kind_parse("artist", &k) && k == SR_PROFILE_BLOCK_ARTIST);
    assert_false(sr_profile_block_kind_parse("album", &k));
    assert_string_equal(sr_profile_block_kind_name(SR_PROFILE_BLOCK_SONG), "song");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_create_get_delete),
        T(test_token_format_and_uniqueness),
        T(test_unknown_and_malformed_tokens),
        T(test_ratings_order_and_replacement),
        T(test_normalised_key_dedupe),
        T(test_delete_and_clear),
        T(test_set_ratings_batch),
        T(test_songs_without_artist),
        T(test_ratings_keep_added),
        T(test_blocks_with_expiry),
        T(test_rating_limit),
        T(test_block_limit),
        T(test_invalid_names_and_values),
        T(test_injection_strings_verbatim),
        T(test_persistence_across_reopen),
        T(test_survives_kill9),
        T(test_files_not_ours),
        T(test_concurrent_updates_one_profile),
        T(test_throughput),
        T(test_allocation_failures),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
