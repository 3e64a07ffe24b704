/* Unit tests for gen/: the synthetic listening-history generator.
 *
 * Checks: parameters are validated; same parameters give byte-identical output (plain
 * and zstd) and another seed does not; exactly n_listens listens are written; the
 * repeat-play shape is the origin's (half the pairs once, 3-12% ten or more times);
 * the pairs are pinned to those drawn before listens came in sessions; listens come in
 * sessions (lengths, gaps, same-artist neighbours), with times strictly increasing per
 * user, also in a range too short for them and with many genres; every JSONL line is
 * valid JSON with the ListenBrainz fields; the CSVs have their header and field counts;
 * times are in range and sorted per user; names are unique after normalisation and
 * include non-ASCII scripts; taste is learnable (the user's own genre chart beats the
 * global chart on held-out songs); an allocation failure anywhere in sr_gen_new is
 * reported and leaks nothing, and one in sr_gen_next leaves the user to be drawn again
 * identically; write errors (disk full, a failed rename) are reported and leave no
 * temporary file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <zstd.h>

#include "gen/gen_impl.h"
#include "gen/generate.h"
#include "util/mem.h"

static sr_gen_params small_params(uint64_t listens) {
    sr_gen_params p;
    sr_gen_params_default(&p);
    p.n_users = 300;
    p.n_songs = 8000;
    p.n_listens = listens;
    p.seed = 7;
    return p;
}

static sr_gen *make(const sr_gen_params *p) {
    sr_gen *g = NULL;
    sr_diag d = {{0}};
    sr_err e = sr_gen_new(p, NULL, &g, &d);
    if (e) fprintf(stderr, "sr_gen_new: %s\n", d.msg);
    assert_int_equal(e, SR_OK);
    return g;
}

/* A fresh temporary directory per test (removed with its files at the end). */
static char tmpdir[64];

static int setup_dir(void **state) {
    (void)state;
    strcpy(tmpdir, "/tmp/srgen-test.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    DIR *dir = opendir(tmpdir);
    if (dir) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            if (remove(path) != 0) rmdir(path);
        }
        closedir(dir);
    }
    rmdir(tmpdir);
    return 0;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Writes g to tmpdir/name in the given format; returns the file's bytes. */
static char *write_to(sr_gen *g, const char *name, sr_gen_format fmt, int zstd, size_t *len) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    sr_gen_output o = {.format = fmt, .zstd = zstd};
    sr_diag d = {{0}};
    sr_err e = sr_gen_write_file(g, path, &o, NULL, &d);
    if (e) fprintf(stderr, "write: %s\n", d.msg);
    assert_int_equal(e, SR_OK);
    return read_all(path, len);
}

static size_t count_lines(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == '\n';
    return k;
}

static void test_params(void **state) {
    (void)state;
    sr_gen_params p = small_params(1000);
    sr_gen *g = NULL;
    sr_diag d = {{0}};
    p.n_users = 0;
    assert_int_equal(sr_gen_new(&p, NULL, &g, &d), SR_E_RANGE);
    assert_null(g);
    p = small_params(1000);
    p.n_artists = p.n_songs + 1;
    assert_int_equal(sr_gen_new(&p, NULL, &g, &d), SR_E_RANGE);
    assert_non_null(strstr(d.msg, "artists"));
    p = small_params(1000);
    p.until = p.since;
    assert_int_equal(sr_gen_new(&p, NULL, &g, &d), SR_E_RANGE);

    /* Tiny catalogs work: one song, one artist, genres lowered to fit. */
    p = small_params(50);
    p.n_songs = 1;
    p.n_users = 3;
    g = make(&p);
    assert_int_equal(sr_gen_n_artists(g), 1);
    assert_int_equal(sr_gen_n_genres(g), 1);
    sr_gen_user h;
    uint64_t total = 0;
    while (sr_gen_next(g, &h) == SR_OK) total += h.n_listens;
    assert_int_equal(total, 50);
    sr_gen_free(g);

    /* Fewer listens than users: some users have none. */
    p = small_params(10);
    g = make(&p);
    total = 0;
    int users = 0;
    while (sr_gen_next(g, &h) == SR_OK) total += h.n_listens, users++;
    assert_int_equal(total, 10);
    assert_true(users <= 10);
    sr_gen_free(g);
    sr_gen_free(NULL);
}

static void test_parse_day(void **state) {
    (void)state;
    int64_t t;
    assert_int_equal(sr_gen_parse_day("2005-01-01", &t), SR_OK);
    assert_int_equal(t, SR_GEN_DEFAULT_SINCE);
    assert_int_equal(sr_gen_parse_day("2019-01-01", &t), SR_OK);
    assert_int_equal(t, SR_GEN_DEFAULT_UNTIL);
    assert_int_equal(sr_gen_parse_day("2016-02-29", &t), SR_OK);
    assert_int_equal(sr_gen_parse_day("2018-02-29", &t), SR_E_USAGE);
    assert_int_equal(sr_gen_parse_day("2018-13-01", &t), SR_E_USAGE);
    assert_int_equal(sr_gen_parse_day("2018-1-01", &t), SR_E_USAGE);
    assert_int_equal(sr_gen_parse_day("yesterday", &t), SR_E_USAGE);
    assert_int_equal(sr_gen_parse_day(NULL, &t), SR_E_USAGE);
}

static void test_determinism(void **state) {
    (void)state;
    sr_gen_params p = small_params(30000);
    sr_gen *g1 = make(&p), *g2 = make(&p);
    size_t n1, n2, n3, z1, z2;
    char *a = write_to(g1, "a.jsonl", SR_GEN_JSONL, 0, &n1);
    char *b = write_to(g2, "b.jsonl", SR_GEN_JSONL, 0, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    /* Writing again from the same generator gives the same bytes too. */
    char *c = write_to(g1, "c.jsonl", SR_GEN_JSONL, 0, &n3);
    assert_int_equal(n1, n3);
    assert_memory_equal(a, c, n1);

    /* zstd: deterministic, and decompresses to the plain bytes. */
    char *za = write_to(g1, "a.jsonl.zst", SR_GEN_JSONL, 1, &z1);
    char *zb = write_to(g2, "b.jsonl.zst", SR_GEN_JSONL, 1, &z2);
    assert_int_equal(z1, z2);
    assert_memory_equal(za, zb, z1);
    assert_true(z1 < n1 / 3);
    char *plain = malloc(n1 + 1);
    ZSTD_DCtx *dz = ZSTD_createDCtx();
    ZSTD_inBuffer in = {za, z1, 0};
    ZSTD_outBuffer out = {plain, n1 + 1, 0};
    size_t rem;
    do rem = ZSTD_decompressStream(dz, &out, &in);
    while (!ZSTD_isError(rem) && rem != 0 && in.pos < in.size);
    assert_false(ZSTD_isError(rem));
    assert_int_equal(out.pos, n1);
    assert_memory_equal(plain, a, n1);
    ZSTD_freeDCtx(dz);
    free(plain);

    /* Another seed gives another history. */
    p.seed = 8;
    sr_gen *g3 = make(&p);
    size_t n4;
    char *d = write_to(g3, "d.jsonl", SR_GEN_JSONL, 0, &n4);
    assert_true(n4 != n1 || memcmp(a, d, n1) != 0);
    free(a), free(b), free(c), free(d), free(za), free(zb);
    sr_gen_free(g1), sr_gen_free(g2), sr_gen_free(g3);
}

static void test_exact_count_and_times(void **state) {
    (void)state;
    const uint64_t counts[] = {1, 299, 300, 12345};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        sr_gen_params p = small_params(counts[k]);
        sr_gen *g = make(&p);
        size_t n;
        char *s = write_to(g, "n.jsonl", SR_GEN_JSONL, 0, &n);
        assert_int_equal(count_lines(s, n), counts[k]);
        free(s);
        s = write_to(g, "n.csv", SR_GEN_CSV, 0, &n);
        assert_int_equal(count_lines(s, n), counts[k] + 1);
        free(s);
        sr_gen_stats st;
        sr_gen_get_stats(g, &st);
        assert_int_equal(st.n_listens, counts[k]);
        sr_gen_free(g);
    }

    /* Times inside [since, until), sorted within each user; pairs' plays add up. */
    sr_gen_params p = small_params(20000);
    p.since = 1262304000; /* 2010-01-01 */
    p.until = 1293840000; /* 2011-01-01 */
    sr_gen *g = make(&p);
    sr_gen_user h;
    while (sr_gen_next(g, &h) == SR_OK) {
        uint64_t plays = 0;
        for (uint32_t i = 0; i < h.n_pairs; i++) plays += h.plays[i];
        assert_int_equal(plays, h.n_listens);
        for (uint64_t i = 0; i < h.n_listens; i++) {
            uint64_t ts = h.listens[i] >> 32;
            assert_true(ts >= (uint64_t)p.since && ts < (uint64_t)p.until);
            assert_true((uint32_t)h.listens[i] < h.n_pairs);
            if (i) assert_true((h.listens[i - 1] >> 32) <= ts);
        }
    }
    sr_gen_free(g);
}

static void test_repeat_shape(void **state) {
    (void)state;
    sr_gen_params p;
    sr_gen_params_default(&p);
    p.n_users = 1000;
    p.n_songs = 50000;
    p.n_listens = 200000;
    sr_gen *g = make(&p);
    sr_gen_user h;
    uint64_t pairs = 0, once = 0, ten = 0, listens = 0, max = 0;
    while (sr_gen_next(g, &h) == SR_OK) {
        for (uint32_t i = 0; i < h.n_pairs; i++) {
            once += h.plays[i] == 1;
            ten += h.plays[i] >= 10;
            if (h.plays[i] > max) max = h.plays[i];
        }
        pairs += h.n_pairs;
        listens += h.n_listens;
    }
    double f1 = (double)once / pairs, f10 = (double)ten / pairs, mean = (double)listens / pairs;
    print_message("pairs %llu: once %.3f, 10+ %.3f, mean %.2f, max %llu\n",
                  (unsigned long long)pairs, f1, f10, mean, (unsigned long long)max);
    assert_true(f1 >= 0.4 && f1 <= 0.6);
    assert_true(f10 >= 0.03 && f10 <= 0.12);
    assert_true(mean >= 2.5 && mean <= 4.5);
    assert_true(max >= 100);
    sr_gen_stats st;
    sr_gen_get_stats(g, &st);
    assert_int_equal(st.n_pairs, pairs);
    assert_int_equal(st.n_pairs_once, once);
    assert_int_equal(st.max_pair_plays, max);
    sr_gen_free(g);
}

/* FNV-1a over every user's (user, n_pairs, song and plays of each pair, in order). */
static uint64_t pairs_hash(const sr_gen_params *p) {
    sr_gen *g = make(p);
    sr_gen_user h;
    uint64_t x = 0xcbf29ce484222325ULL;
#define MIX(v) (x = (x ^ (uint64_t)(v)) * 0x100000001b3ULL)
    while (sr_gen_next(g, &h) == SR_OK) {
        MIX(h.user), MIX(h.n_pairs);
        for (uint32_t i = 0; i < h.n_pairs; i++) MIX(h.song[i]), MIX(h.plays[i]);
    }
#undef MIX
    sr_gen_free(g);
    return x;
}

/* Sessions may change when songs are played, never which or how often: these hashes
 * were taken from the generator before it had sessions (each play's time drawn on its
 * own), and they must not move. */
static void test_pairs_pinned(void **state) {
    (void)state;
    sr_gen_params p = small_params(30000);
    assert_int_equal(pairs_hash(&p), 0xb0be88b2eb4905f4ULL);
    sr_gen_params_default(&p);
    p.n_listens = 200000;
    assert_int_equal(pairs_hash(&p), 0x67a7b84935b88bf8ULL);
    p = small_params(10000);
    p.n_users = 40, p.n_songs = 2000, p.seed = 5;
    assert_int_equal(pairs_hash(&p), 0xfd6d9dad8f83d5a9ULL);
}

/* Per-user listening structure, sessions cut at pauses over 30 minutes. */
typedef struct sess_shape {
    uint64_t listens, sessions, singles; /* singles: listens alone in their session */
    uint64_t adjacent, gap_in_model;     /* consecutive listens in a session; 150-360 s apart */
    uint64_t adjacent2;                  /* ... of two songs */
    uint64_t same_artist, pairs_drawn, pairs_same_artist; /* adjacent / random pairs of
                                                             listens of two songs */
    uint64_t users, users_many_genres;                    /* ... with over 32 genres */
    double cluster; /* median over pairs of 5+ plays: interquartile range of their times
                       over the span of the user's */
} sess_shape;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The interquartile range of each of the user's pairs of 5+ plays over the user's
 * span, appended to iqr[*n]. */
static void pair_spreads(const sr_gen_user *h, double *iqr, size_t *n) {
    uint64_t *start = calloc(h->n_pairs + 1, sizeof *start), *fill = NULL;
    uint32_t *t = malloc(h->n_listens * sizeof *t);
    for (uint32_t i = 0; i < h->n_pairs; i++) start[i + 1] = start[i] + h->plays[i];
    fill = malloc((h->n_pairs + 1) * sizeof *fill);
    memcpy(fill, start, (h->n_pairs + 1) * sizeof *fill);
    for (uint64_t i = 0; i < h->n_listens; i++) /* in time order: each pair's sorted */
        t[fill[(uint32_t)h->listens[i]]++] = (uint32_t)(h->listens[i] >> 32);
    double span = (double)((h->listens[h->n_listens - 1] >> 32) - (h->listens[0] >> 32)) + 1;
    for (uint32_t i = 0; i < h->n_pairs; i++) {
        uint64_t m = h->plays[i], q = m / 4;
        if (m >= 5) iqr[(*n)++] = (t[start[i] + m - 1 - q] - t[start[i] + q]) / span;
    }
    free(start), free(fill), free(t);
}

static void shape_of(const sr_gen_params *p, sess_shape *sh) {
    sr_gen *g = make(p);
    uint32_t G = sr_gen_n_genres(g);
    uint8_t *seen_genre = calloc(G, 1);
    uint64_t lcg = 1;
    memset(sh, 0, sizeof *sh);
    double *iqr = malloc(p->n_listens / 5 * sizeof *iqr);
    size_t n_iqr = 0;
    sr_gen_user h;
    while (sr_gen_next(g, &h) == SR_OK) {
        pair_spreads(&h, iqr, &n_iqr);
        memset(seen_genre, 0, G);
        uint32_t genres = 0;
        for (uint32_t i = 0; i < h.n_pairs; i++) {
            uint32_t ge = sr_gen_artist_genre(g, sr_gen_song_artist(g, h.song[i]));
            genres += !seen_genre[ge];
            seen_genre[ge] = 1;
        }
        sh->users++;
        sh->users_many_genres += genres > 32;
        uint64_t run = 1;
        for (uint64_t i = 0; i < h.n_listens; i++) {
            uint64_t t = h.listens[i] >> 32;
            assert_true(t >= (uint64_t)p->since && t < (uint64_t)p->until);
            uint32_t a = sr_gen_song_artist(g, h.song[(uint32_t)h.listens[i]]);
            if (i == 0) continue;
            uint64_t prev = h.listens[i - 1] >> 32;
            assert_true(t > prev); /* never two listens of a user in one second */
            if (t - prev > 1800) {
                sh->sessions++, sh->singles += run == 1, run = 1;
                continue;
            }
            run++;
            sh->adjacent++;
            sh->gap_in_model += t - prev >= 150 && t - prev <= 360;
            uint32_t q = (uint32_t)h.listens[i - 1];
            if (q == (uint32_t)h.listens[i]) continue;
            sh->adjacent2++;
            sh->same_artist += a == sr_gen_song_artist(g, h.song[q]);
        }
        sh->sessions++, sh->singles += run == 1;
        sh->listens += h.n_listens;
        for (int k = 0; k < 64; k++) { /* two of the user's listens at random */
            lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
            uint64_t x = h.listens[(lcg >> 33) % h.n_listens];
            lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
            uint64_t y = h.listens[(lcg >> 33) % h.n_listens];
            if ((uint32_t)x == (uint32_t)y) continue;
            sh->pairs_drawn++;
            sh->pairs_same_artist += sr_gen_song_artist(g, h.song[(uint32_t)x]) ==
                                     sr_gen_song_artist(g, h.song[(uint32_t)y]);
        }
    }
    qsort(iqr, n_iqr, sizeof *iqr, cmp_double);
    sh->cluster = n_iqr ? iqr[n_iqr / 2] : 0;
    free(iqr);
    free(seen_genre);
    sr_gen_free(g);
}

/* The session model (generate.c): mean length ~12 (a little less where the plays run
 * out, a little more where sessions run into each other), almost no listen alone,
 * consecutive listens 150-360 s apart, a different next song far more often the
 * previous one's artist's (~0.19 here: p_a averages 0.5, but the artist's next song is
 * often not due soon) than two random songs of the user are (~0.03), and a song's plays
 * still clustered in time (the middle half of a pair's plays over ~5% of the user's
 * span; ~4% when each time was drawn on its own, ~40% if sessions took plays from
 * anywhere in the history). The old generator drew each time on its own: 1.15 listens a
 * session, 79% of listens alone. */
static void test_sessions(void **state) {
    (void)state;
    sr_gen_params p;
    sr_gen_params_default(&p);
    p.n_users = 300;
    p.n_songs = 20000;
    p.n_listens = 150000;
    sess_shape sh;
    shape_of(&p, &sh);
    double mean = (double)sh.listens / sh.sessions, alone = (double)sh.singles / sh.listens;
    double in_gap = (double)sh.gap_in_model / sh.adjacent;
    double same = (double)sh.same_artist / sh.adjacent2;
    double chance = (double)sh.pairs_same_artist / sh.pairs_drawn;
    print_message("sessions %llu: mean %.2f listens, alone %.3f, gaps 150-360 s %.3f, "
                  "same artist next %.3f vs random %.3f, pair plays' IQR / span %.3f\n",
                  (unsigned long long)sh.sessions, mean, alone, in_gap, same, chance, sh.cluster);
    assert_true(mean >= 10 && mean <= 16);
    assert_true(alone < 0.01);
    assert_true(in_gap > 0.95);
    assert_true(same > 0.15 && same > 4 * chance);
    assert_true(sh.cluster < 0.15);
}

/* Too short a range for the sessions (a day for ~4,000 listens a user: the plays are
 * spread evenly over it) and many genres: still in range, strictly increasing, every
 * listen there, sessions as long. */
static void test_sessions_edges(void **state) {
    (void)state;
    sr_gen_params p = small_params(200000);
    p.n_users = 50;
    p.since = 1330560000; /* 2012-03-01 */
    p.until = p.since + 86400;
    sess_shape sh;
    shape_of(&p, &sh);
    assert_int_equal(sh.listens, 200000);
    assert_true(sh.sessions < 2 * sh.users); /* the heavy users' listens back to back */

    p = small_params(300000);
    p.n_users = 100;
    p.n_songs = 20000;
    p.n_genres = 200;
    shape_of(&p, &sh);
    assert_int_equal(sh.listens, 300000);
    assert_true(sh.users_many_genres > 0);
    assert_true((double)sh.listens / sh.sessions >= 10);
}

/* An allocation failing inside sr_gen_next: reported, and the next call draws the same
 * user, the same way, as a generator that never failed. */
static void test_next_alloc_failure(void **state) {
    (void)state;
    sr_gen_params p = small_params(20000);
    p.n_users = 10;
    sr_gen *clean = make(&p);
    int failed = 0;
    for (long k = 0; k < 40; k++) {
        sr_gen *g = make(&p);
        sr_gen_user a, b;
        sr_gen_rewind(clean);
        for (;;) {
            sr_mem_fail_after(k);
            sr_err e = sr_gen_next(g, &a);
            sr_mem_fail_after(-1);
            if (e == SR_E_NOMEM) {
                failed++;
                assert_int_equal(sr_gen_next(g, &a), SR_OK);
            } else if (e == SR_E_EMPTY) {
                break;
            }
            assert_int_equal(sr_gen_next(clean, &b), SR_OK);
            assert_int_equal(a.user, b.user);
            assert_int_equal(a.n_pairs, b.n_pairs);
            assert_int_equal(a.n_listens, b.n_listens);
            assert_memory_equal(a.song, b.song, a.n_pairs * sizeof *a.song);
            assert_memory_equal(a.plays, b.plays, a.n_pairs * sizeof *a.plays);
            assert_memory_equal(a.listens, b.listens, a.n_listens * sizeof *a.listens);
        }
        assert_int_equal(sr_gen_next(clean, &b), SR_E_EMPTY);
        sr_gen_free(g);
    }
    assert_true(failed > 10);
    sr_gen_free(clean);
}

static void test_jsonl_valid(void **state) {
    (void)state;
    sr_gen_params p = small_params(20000);
    sr_gen *g = make(&p);
    size_t n;
    char *s = write_to(g, "v.jsonl", SR_GEN_JSONL, 0, &n);
    size_t lines = 0, with_mbid = 0, non_ascii = 0;
    for (char *line = s, *nl; (nl = memchr(line, '\n', (size_t)(s + n - line))); line = nl + 1) {
        json_error_t err;
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, &err);
        if (!j) fail_msg("line %zu: %s", lines + 1, err.text);
        assert_true(json_is_integer(json_object_get(j, "user_id")));
        const char *user = json_string_value(json_object_get(j, "user_name"));
        assert_non_null(user);
        assert_int_equal(strncmp(user, "user_", 5), 0);
        json_int_t ts = json_integer_value(json_object_get(j, "timestamp"));
        assert_true(ts >= p.since && ts < p.until);
        const char *msid = json_string_value(json_object_get(j, "recording_msid"));
        assert_non_null(msid);
        assert_int_equal(strlen(msid), 36);
        assert_int_equal(msid[14], '4');
        json_t *tm = json_object_get(j, "track_metadata");
        assert_true(json_is_object(tm));
        const char *fields[] = {"artist_name", "track_name", "release_name"};
        for (int f = 0; f < 3; f++) {
            const char *v = json_string_value(json_object_get(tm, fields[f]));
            assert_non_null(v);
            assert_true(v[0] != 0);
            for (const char *c = v; *c; c++) non_ascii += (unsigned char)*c >= 0x80;
        }
        json_t *ai = json_object_get(tm, "additional_info");
        assert_true(json_is_object(ai));
        json_t *mbid = json_object_get(ai, "recording_mbid");
        if (mbid) assert_int_equal(strlen(json_string_value(mbid)), 36), with_mbid++;
        json_t *dur = json_object_get(ai, "duration_ms");
        if (dur) assert_true(json_integer_value(dur) >= 30000);
        json_decref(j);
        lines++;
    }
    assert_int_equal(lines, 20000);
    assert_true(non_ascii > 0);
    /* ~70% of songs have an MBID; listens weight songs unevenly, so allow a band. */
    assert_true(with_mbid > lines / 2 && with_mbid < lines * 9 / 10);
    free(s);
    sr_gen_free(g);
}

/* Splits one RFC 4180 record starting at *p; returns the number of fields and moves
 * *p past the record's newline. */
static int csv_record(const char **p, const char *end, char first[64]) {
    const char *s = *p;
    int fields = 1, quoted = 0;
    size_t k = 0;
    first[0] = 0;
    for (; s < end; s++) {
        if (quoted) {
            if (*s == '"' && s + 1 < end && s[1] == '"')
                s++;
            else if (*s == '"')
                quoted = 0;
            continue;
        }
        if (*s == '"')
            quoted = 1;
        else if (*s == ',')
            fields++;
        else if (*s == '\n')
            break;
        else if (fields == 1 && k < 63)
            first[k++] = *s, first[k] = 0;
    }
    *p = s + 1;
    return fields;
}

static void test_csv(void **state) {
    (void)state;
    sr_gen_params p = small_params(20000);
    sr_gen *g = make(&p);
    size_t n;
    char *s = write_to(g, "c.csv", SR_GEN_CSV, 0, &n);
    const char *header = "listened_at,user_name,artist_msid,artist_name,artist_mbids,"
                         "release_msid,release_name,release_mbid,recording_msid,track_name,"
                         "recording_mbid,tags\n";
    assert_int_equal(strncmp(s, header, strlen(header)), 0);
    const char *q = s + strlen(header), *end = s + n;
    size_t records = 0, quoted = 0;
    char first[64];
    while (q < end) {
        const char *rec = q;
        assert_int_equal(csv_record(&q, end, first), 12);
        /* listened_at: YYYY-MM-DD HH:MM:SS UTC */
        assert_int_equal(strlen(first), 23);
        assert_true(first[4] == '-' && first[7] == '-' && first[10] == ' ' && first[13] == ':');
        assert_string_equal(first + 19, " UTC");
        quoted += memchr(rec, '"', (size_t)(q - rec)) != NULL;
        records++;
    }
    assert_int_equal(records, 20000);
    assert_true(quoted > 0); /* some names need quoting */
    free(s);

    s = write_to(g, "c3.csv", SR_GEN_CSV3, 0, &n);
    assert_int_equal(strncmp(s, "user_name,artist_name,track_name\n", 33), 0);
    q = s + 33, end = s + n, records = 0;
    while (q < end) {
        assert_int_equal(csv_record(&q, end, first), 3);
        assert_int_equal(strncmp(first, "user_", 5), 0);
        records++;
    }
    assert_int_equal(records, 20000);
    free(s);
    sr_gen_free(g);
}

static void test_names(void **state) {
    (void)state;
    sr_gen_params p = small_params(1000);
    p.n_songs = 40000;
    sr_gen *g = make(&p);
    uint32_t A = sr_gen_n_artists(g);
    uint64_t *keys = malloc(A * sizeof *keys);
    int latin1 = 0, cyrillic = 0, kana = 0;
    for (uint32_t a = 0; a < A; a++) {
        size_t len;
        const char *name = sr_gen_artist_name(g, a, &len);
        assert_true(len > 0 && len == strlen(name));
        keys[a] = sr__name_key(name, len);
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)name[i];
            latin1 |= c == 0xc3;
            cyrillic |= c == 0xd0 || c == 0xd1;
            kana |= c == 0xe3;
        }
    }
    assert_true(latin1 && cyrillic && kana);
    /* No two artists merge under normalisation. */
    for (uint32_t a = 0; a < A; a++)
        for (uint32_t b = a + 1; b < A; b++) assert_true(keys[a] != keys[b]);
    free(keys);

    /* Case mapping round trip and the key's equivalences. */
    char s[] = "Ölafur Ёлка Été ÿ", t[] = "ÖLAFUR ЁЛКА ÉTÉ ÿ";
    sr__name_upper(s, strlen(s));
    assert_string_equal(s, t);
    sr__name_lower(s, strlen(s));
    assert_string_equal(s, "ölafur ёлка été ÿ");
    assert_int_equal(sr__name_key("The Foo  Bar", 12), sr__name_key("foo bar", 7));
    assert_int_equal(sr__name_key("Café", strlen("Café")), sr__name_key("CAFE", 4));
    assert_int_not_equal(sr__name_key("Foo 2", 5), sr__name_key("Foo", 3));
    sr_gen_free(g);
}

/* Taste is learnable: for each user hold out one played song; rank songs by listeners
 * globally vs within the user's most-played genre; the genre chart must find the
 * held-out song far more often. */
static void test_learnable(void **state) {
    (void)state;
    sr_gen_params p;
    sr_gen_params_default(&p);
    p.n_users = 800;
    p.n_songs = 20000;
    p.n_listens = 200000;
    sr_gen *g = make(&p);
    uint32_t S = sr_gen_n_songs(g), G = sr_gen_n_genres(g), U = sr_gen_n_users(g);
    uint32_t *listeners = calloc(S, sizeof *listeners), *held = malloc(U * sizeof *held);
    uint32_t *top_genre = malloc(U * sizeof *top_genre);
    uint64_t *gplays = malloc(G * sizeof *gplays);
    sr_gen_user h;
    uint32_t users = 0;
    while (sr_gen_next(g, &h) == SR_OK) {
        if (h.n_pairs < 2) continue;
        memset(gplays, 0, G * sizeof *gplays);
        held[users] = h.song[h.n_pairs - 1];
        for (uint32_t i = 0; i + 1 < h.n_pairs; i++) {
            listeners[h.song[i]]++;
            gplays[sr_gen_artist_genre(g, sr_gen_song_artist(g, h.song[i]))] += h.plays[i];
        }
        uint32_t best = 0;
        for (uint32_t k = 1; k < G; k++)
            if (gplays[k] > gplays[best]) best = k;
        top_genre[users++] = best;
    }
    /* Rank of a song = songs with more listeners (globally / in its genre). */
    uint32_t hit_global = 0, hit_genre = 0, N = 50;
    for (uint32_t u = 0; u < users; u++) {
        uint32_t s = held[u], gs = sr_gen_artist_genre(g, sr_gen_song_artist(g, s));
        uint32_t above_all = 0, above_genre = 0;
        for (uint32_t x = 0; x < S && above_all < N; x++) above_all += listeners[x] > listeners[s];
        if (gs == top_genre[u]) {
            for (uint32_t x = 0; x < S && above_genre < N; x++)
                above_genre += listeners[x] > listeners[s] &&
                               sr_gen_artist_genre(g, sr_gen_song_artist(g, x)) == gs;
            hit_genre += above_genre < N;
        }
        hit_global += above_all < N;
    }
    print_message("hit@%u over %u users: global chart %u, own-genre chart %u\n", N, users,
                  hit_global, hit_genre);
    assert_true(hit_genre >= 2 * hit_global);
    free(listeners), free(held), free(top_genre), free(gplays);
    sr_gen_free(g);
}

static void test_alloc_failures(void **state) {
    (void)state;
    sr_gen_params p = small_params(2000);
    p.n_songs = 500;
    p.n_users = 20;
    int succeeded = 0;
    for (long k = 0; k < 2000 && !succeeded; k++) {
        sr_gen *g = NULL;
        sr_diag d = {{0}};
        sr_mem_fail_after(k);
        sr_err e = sr_gen_new(&p, NULL, &g, &d);
        if (e == SR_OK) {
            /* Keep failing inside the writer too. */
            char path[256];
            snprintf(path, sizeof path, "%s/oom.jsonl", tmpdir);
            sr_gen_output o = {.format = SR_GEN_JSONL};
            e = sr_gen_write_file(g, path, &o, NULL, &d);
            sr_mem_fail_after(-1);
            if (e == SR_OK)
                succeeded = 1;
            else
                assert_int_equal(e, SR_E_NOMEM);
            sr_gen_free(g);
        } else {
            sr_mem_fail_after(-1);
            assert_int_equal(e, SR_E_NOMEM);
            assert_null(g);
        }
    }
    assert_true(succeeded);
}

static int dir_entries(void) {
    DIR *dir = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)))
        if (e->d_name[0] != '.') n++;
    closedir(dir);
    return n;
}

static void test_write_errors(void **state) {
    (void)state;
    sr_gen_params p = small_params(5000);
    sr_gen *g = make(&p);
    sr_gen_output o = {.format = SR_GEN_JSONL};
    sr_diag d = {{0}};
    char path[256];

    /* No such directory. */
    snprintf(path, sizeof path, "%s/missing/out.jsonl", tmpdir);
    assert_int_equal(sr_gen_write_file(g, path, &o, NULL, &d), SR_E_IO);
    assert_non_null(strstr(d.msg, "out.jsonl"));

    /* The rename fails (the target is a directory): the temporary file goes away. */
    snprintf(path, sizeof path, "%s/adir", tmpdir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_not_equal(sr_gen_write_file(g, path, &o, NULL, &d), SR_OK);
    assert_int_equal(dir_entries(), 1);

    /* Disk full. */
    int fd = open("/dev/full", O_WRONLY);
    if (fd >= 0) {
        o.zstd = true;
        assert_int_equal(sr_gen_write_fd(g, fd, "/dev/full", &o, NULL, &d), SR_E_NOSPC);
        assert_non_null(strstr(d.msg, "/dev/full"));
        close(fd);
    }
    sr_gen_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_parse_day),
        cmocka_unit_test_setup_teardown(test_determinism, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_exact_count_and_times, setup_dir, teardown_dir),
        cmocka_unit_test(test_repeat_shape),
        cmocka_unit_test(test_pairs_pinned),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_sessions_edges),
        cmocka_unit_test(test_next_alloc_failure),
        cmocka_unit_test_setup_teardown(test_jsonl_valid, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_csv, setup_dir, teardown_dir),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_learnable),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_write_errors, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
