/* The generator's model: catalog and per-user histories (generate.h).
 *
 * Catalog. Genres have Zipf-like popularity w_g ~ (g+1)^-0.8. Artists are split among
 * genres (share ~ w_g^0.6) and laid out contiguously by genre; songs are split among
 * artists with a capped Pareto(1.4) weight (a few prolific artists, many with one or
 * two songs) and laid out contiguously by artist, so a genre's songs are one index
 * range. A song's weight is artist popularity (lognormal, rising with the artist's
 * size) x its rank within the artist^-1 x lognormal noise: heavy-tailed within every
 * genre and overall. One alias table per genre samples songs in O(1).
 *
 * Users. Activity is lognormal(0, 1.3) apportioned so the listens sum exactly to
 * n_listens (at the origin's 2650 users / 37.8M listens a few dozen users pass 100k).
 * Each user likes 1-3 genres (more for heavy users) with Dirichlet(1) shares, explores
 * the global chart with a small probability and otherwise returns to artists already
 * in the library. So a user's songs come mostly from their genres and artists, which a
 * collaborative model can learn and a popularity chart cannot.
 *
 * Repeat plays. A new (user, song) pair gets ceil(exp(sigma Z)) plays, Z ~ N(0, 1),
 * sigma ~ 1.45 per user: half the pairs are played once, ~7% ten or more times, the
 * mean is ~3 and the maximum runs into the thousands, which is the origin's shape.
 * When a draw repeats a song already in the library (after a few retries) the plays
 * are added to that pair, as a listener returning to a favourite would.
 *
 * Time. Each user has an active window inside [since, until); each pair a centre in
 * the window and a spread, so a song's plays cluster in time. Each play is first given
 * a due time: around its pair's centre, at an evening-heavy time of day.
 *
 * Sessions. The plays are then listened to in sessions, as real ones are. A session
 * starts with the earliest play not yet placed, at its due time, and runs for a
 * lognormal number of plays (median 8.7 x a per-user lognormal(0, 0.25) factor, sigma
 * 0.8: mean ~12, 3% over 40), capped by the plays left, 150-360 s apart. Each next
 * play is, with probability p_a (per user, uniform in 0.3-0.7), the next due of
 * another song of the previous play's artist; else, with probability 0.6, the next due
 * of the session's genre (its first play's); else, or when the play chosen is not
 * among the 256 due next, the earliest due (at p_a = 0.5: 0.5 / 0.3 / 0.2). So a
 * session holds what the user was into at that time, mostly of one artist and genre:
 * what a session-based model can learn; and a song's plays keep their time cluster.
 * Sessions are laid out in order; one that would overlap the previous one starts 30-90
 * min after it ends instead, and those this pushes past `until` are pulled back; only
 * when the range cannot hold the user's listening at all are the plays spread evenly
 * over it. A user's times therefore strictly increase (given a second of range per
 * listen): ingest drops none as duplicates.
 *
 * Sessions changed times and order only: the pairs and their plays are the draws the
 * generator made before (the centres' and spreads' normals now come cheaply from the
 * same two draws an exact one took), so every other statistic is what it was.
 *
 * All draws come from sr_rng streams keyed by (seed, purpose, id): the catalog has one
 * stream, each user another, so sr_gen_next's output for user u does not depend on
 * the other users.
 */
#include "gen/generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gen/gen_impl.h"
#include "gen/gen_state.h"
#include "util/mem.h"
#include "util/timeparse.h"

void sr_gen_params_default(sr_gen_params *p) {
    memset(p, 0, sizeof *p);
    p->n_users = 1000;
    p->n_songs = 50000;
    p->n_listens = 1000000;
    p->seed = 42;
    p->since = SR_GEN_DEFAULT_SINCE;
    p->until = SR_GEN_DEFAULT_UNTIL;
}

/* ---- helpers ---- */

/* Asks for transparent huge pages on a large array: its reads are random, and TLB
 * misses (worse under virtualisation) would cost as much as the cache misses. A hint
 * only; failure changes nothing. */
static void hint_huge(void *p, size_t n) {
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + n) & ~(huge - 1);
    if (p && hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

/* Splits total into counts[i] >= min_each (n items) proportionally to w, handing
 * the rounding remainder out by weighted draws. Requires total >= n * min_each. */
static sr_err apportion(const double *w, size_t n, uint64_t total, uint64_t min_each, sr_rng *r,
                        uint64_t *counts) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += w[i];
    uint64_t rest = total - (uint64_t)n * min_each, assigned = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t c = (uint64_t)floor((double)rest * (w[i] / sum));
        counts[i] = min_each + c;
        assigned += c;
    }
    /* Rounding can only leave a remainder (each floor is <= its share); guard anyway. */
    for (size_t i = 0; assigned > rest; i = (i + 1) % n) {
        if (counts[i] > min_each) counts[i]--, assigned--;
    }
    if (assigned < rest) {
        sr_alias a;
        sr_err e = sr_alias_init(&a, w, n);
        if (e) return e;
        for (; assigned < rest; assigned++) counts[sr_alias_sample(&a, r)]++;
        sr_alias_deinit(&a);
    }
    return SR_OK;
}

/* An open-addressing set of 64-bit keys (0 is stored as 1). */
typedef struct keyset {
    uint64_t *slot;
    size_t mask;
} keyset;

static sr_err keyset_init(keyset *k, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    k->slot = sr_calloc(cap, sizeof *k->slot);
    k->mask = cap - 1;
    return k->slot ? SR_OK : SR_E_NOMEM;
}

/* Inserts key; returns 0 when it was new, 1 when already present. */
static int keyset_add(keyset *k, uint64_t key) {
    if (!key) key = 1;
    for (size_t i = (size_t)key & k->mask;; i = (i + 1) & k->mask) {
        if (!k->slot[i]) {
            k->slot[i] = key;
            return 0;
        }
        if (k->slot[i] == key) return 1;
    }
}

/* Appends a name to an arena (chars + offsets). */
static sr_err arena_put(char **chars, size_t *cap, uint64_t *len, const char *s, size_t n) {
    if (sr_grow((void **)chars, cap, (size_t)*len + n + 1, 1)) return SR_E_NOMEM;
    memcpy(*chars + *len, s, n);
    (*chars)[*len + n] = 0;
    *len += n + 1;
    return SR_OK;
}

/* Makes name (len n) unique among the keys in set by appending " 2", " 3", ...;
 * returns the new length. Generated names carry no digits, so suffixed names never
 * meet an unsuffixed one. */
static size_t make_unique(keyset *set, char *name, size_t n) {
    if (!keyset_add(set, sr__name_key(name, n))) return n;
    for (unsigned k = 2;; k++) {
        int m = snprintf(name + n, SR__NAME_MAX - n, " %u", k);
        if (!keyset_add(set, sr__name_key(name, n + (size_t)m))) return n + (size_t)m;
    }
}

/* ---- catalog ---- */

static sr_err check_params(const sr_gen_params *p, sr_diag *d) {
    if (p->n_users < 1 || p->n_users >= UINT32_MAX)
        return sr_diag_set(d, SR_E_RANGE, "users must be between 1 and %u", UINT32_MAX - 1);
    if (p->n_songs < 1 || p->n_songs >= UINT32_MAX)
        return sr_diag_set(d, SR_E_RANGE, "songs must be between 1 and %u", UINT32_MAX - 1);
    if (p->n_artists > p->n_songs)
        return sr_diag_set(d, SR_E_RANGE, "artists (%llu) must not exceed songs (%llu)",
                           (unsigned long long)p->n_artists, (unsigned long long)p->n_songs);
    if (p->since < 0 || p->until > (int64_t)1 << 32 || p->since >= p->until)
        return sr_diag_set(d, SR_E_RANGE,
                           "the time range must satisfy 1970-01-01 <= since < until <= 2106-02-07");
    return SR_OK;
}

static sr_err build_genres_and_artists(sr_gen *g, sr_rng *r, double **song_w) {
    sr_err e = SR_E_NOMEM;
    uint32_t G = g->n_genres, A = g->n_artists, S = g->n_songs;
    double *w = sr_mallocarray(A > G ? A : G, sizeof *w);
    uint64_t *cnt = sr_mallocarray(A > G ? A : G, sizeof *cnt);
    double *sw = sr_mallocarray(S, sizeof *sw);
    if (!w || !cnt || !sw) goto fail;

    /* Genres: popularity and the share of artists. */
    for (uint32_t i = 0; i < G; i++) {
        g->genre_weight[i] = pow(i + 1.0, -0.8) * sr_rng_lognormal(r, 0, 0.25);
        w[i] = pow(g->genre_weight[i], 0.6);
        g->genre_lang[i] = (uint8_t)(sr_rng_double(r) < 0.5    ? SR__LANG_EN
                                     : sr_rng_double(r) < 0.45 ? SR__LANG_EU
                                     : sr_rng_double(r) < 0.5  ? SR__LANG_RU
                                                               : SR__LANG_JA);
    }
    if ((e = apportion(w, G, A, 1, r, cnt))) goto fail;
    g->genre_artist_start[0] = 0;
    for (uint32_t i = 0; i < G; i++)
        g->genre_artist_start[i + 1] = g->genre_artist_start[i] + (uint32_t)cnt[i];
    for (uint32_t i = 0; i < G; i++)
        for (uint32_t a = g->genre_artist_start[i]; a < g->genre_artist_start[i + 1]; a++)
            g->artist[a].genre = i;

    /* Artists: language, songs (capped Pareto weights), release size. */
    for (uint32_t a = 0; a < A; a++) {
        double x = sr_rng_pareto(r, 1.0, 1.4);
        w[a] = x < 3000 ? x : 3000;
        int lang = g->genre_lang[g->artist[a].genre];
        if (sr_rng_double(r) < 0.25) lang = (int)sr_rng_below(r, SR__LANG_COUNT);
        g->artist[a].lang = (uint8_t)lang;
        unsigned k = (unsigned)sr_rng_below(r, 100);
        g->artist[a].album = (uint8_t)(k < 15 ? 1 : k < 25 ? 4 + k % 3 : 8 + k % 8);
    }
    if ((e = apportion(w, A, S, 1, r, cnt))) goto fail;
    g->artist[0].song_start = 0;
    for (uint32_t a = 0; a < A; a++) {
        uint32_t start = g->artist[a].song_start, n = (uint32_t)cnt[a];
        g->artist[a + 1].song_start = start + n;
        if (n > g->max_artist_songs) g->max_artist_songs = n;
        double pop = sr_rng_lognormal(r, 0, 1.8) * pow((double)n, 0.3);
        for (uint32_t k = 0; k < n; k++) {
            g->song[start + k].artist = a;
            sw[start + k] = pop * pow(k + 1.0, -1.1) * sr_rng_lognormal(r, 0, 0.4);
        }
    }
    for (uint32_t i = 0; i < G; i++)
        g->genre_song_start[i] = g->artist[g->genre_artist_start[i]].song_start;
    g->genre_song_start[G] = S;
    sr_free(w);
    sr_free(cnt);
    *song_w = sw;
    return SR_OK;
fail:
    sr_free(w);
    sr_free(cnt);
    sr_free(sw);
    return e;
}

static sr_err build_samplers(sr_gen *g, const double *song_w) {
    sr_err e = sr_alias_init(&g->genre_pick, g->genre_weight, g->n_genres);
    if (e) return e;
    for (uint32_t i = 0; i < g->n_genres; i++) {
        uint32_t lo = g->genre_song_start[i], hi = g->genre_song_start[i + 1];
        if ((e = sr_alias_init(&g->genre_songs[i], song_w + lo, hi - lo))) return e;
    }
    return SR_OK;
}

static sr_err build_names(sr_gen *g, const sr_log *log) {
    char name[SR__NAME_MAX];
    keyset set = {0};
    sr_err e = keyset_init(&set, g->n_artists);
    if (e) return e;
    size_t cap = 0;
    uint64_t len = 0;
    for (uint32_t a = 0; a < g->n_artists; a++) {
        size_t n = sr__name_artist(sr_hash2(g->h_artist, a), g->artist[a].lang, name);
        size_t m = make_unique(&set, name, n);
        g->n_artist_renamed += m != n;
        g->artist[a].name_off = len;
        if ((e = arena_put(&g->artist_names, &cap, &len, name, m))) goto done;
    }
    g->artist[g->n_artists].name_off = len;
    sr_free(set.slot);
    set.slot = NULL;

    /* Tracks: unique within their artist. */
    if ((e = keyset_init(&set, g->max_artist_songs))) goto done;
    cap = 0;
    len = 0;
    for (uint32_t a = 0; a < g->n_artists; a++) {
        uint32_t lo = g->artist[a].song_start, hi = g->artist[a + 1].song_start;
        size_t tab = 16;
        while (tab < 2 * (size_t)(hi - lo)) tab *= 2;
        memset(set.slot, 0, tab * sizeof *set.slot);
        set.mask = tab - 1;
        for (uint32_t s = lo; s < hi; s++) {
            uint64_t h = sr_hash2(g->h_track, s);
            int lang = (h >> 60) < 2 ? SR__LANG_EN : g->artist[a].lang;
            size_t n = sr__name_track(h, lang, name);
            size_t m = make_unique(&set, name, n);
            g->n_track_renamed += m != n;
            g->song[s].name_off = len;
            g->song[s].name_len = (uint32_t)m;
            if ((e = arena_put(&g->track_names, &cap, &len, name, m))) goto done;
        }
        if ((a & 0xffff) == 0) sr_progress(log, "catalog", a, g->n_artists);
    }
    sr_progress(log, "catalog", g->n_artists, g->n_artists);
done:
    sr_free(set.slot);
    return e;
}

sr_err sr_gen_new(const sr_gen_params *p, const sr_log *log, sr_gen **out, sr_diag *d) {
    *out = NULL;
    sr_err e = check_params(p, d);
    if (e) return e;
    sr_gen *g = sr_calloc(1, sizeof *g);
    if (!g) return SR_E_NOMEM;
    g->p = *p;
    g->n_users = (uint32_t)p->n_users;
    g->n_songs = (uint32_t)p->n_songs;
    uint64_t A = p->n_artists ? p->n_artists : p->n_songs / 8;
    g->n_artists = (uint32_t)(A ? A : 1);
    uint64_t G = p->n_genres ? p->n_genres : 20;
    g->n_genres = (uint32_t)(G < g->n_artists ? G : g->n_artists);
    g->h_artist = sr_hash2(p->seed, 0xa271);
    g->h_track = sr_hash2(p->seed, 0x7acc);
    g->h_user = sr_hash2(p->seed, 0x05e2);
    g->h_ids = sr_hash2(p->seed, 0x1d5);

    uint32_t G32 = g->n_genres, A32 = g->n_artists, S = g->n_songs, U = g->n_users;
    g->genre_weight = sr_mallocarray(G32, sizeof *g->genre_weight);
    g->genre_lang = sr_mallocarray(G32, 1);
    g->genre_songs = sr_calloc(G32, sizeof *g->genre_songs);
    g->genre_artist_start = sr_mallocarray(G32 + 1, sizeof(uint32_t));
    g->genre_song_start = sr_mallocarray(G32 + 1, sizeof(uint32_t));
    g->artist = sr_calloc((size_t)A32 + 1, sizeof *g->artist);
    g->song = sr_calloc(S, sizeof *g->song);
    g->user_listens = sr_mallocarray(U, sizeof(uint64_t));
    g->seen = sr_calloc(S, sizeof *g->seen);
    g->used = sr_calloc(((size_t)S + 63) / 64, sizeof(uint64_t));
    g->last_genre = sr_mallocarray(G32, sizeof *g->last_genre);
    g->last_artist = sr_mallocarray(A32, sizeof *g->last_artist);
    hint_huge(g->song, (size_t)S * sizeof *g->song);
    hint_huge(g->seen, (size_t)S * sizeof *g->seen);
    e = SR_E_NOMEM;
    if (!g->genre_weight || !g->genre_lang || !g->genre_songs || !g->genre_artist_start ||
        !g->genre_song_start || !g->artist || !g->song || !g->user_listens || !g->seen ||
        !g->used || !g->last_genre || !g->last_artist)
        goto fail;

    sr_rng r;
    sr_rng_seed_stream(&r, p->seed, 0xca7a);
    double *song_w = NULL;
    if ((e = build_genres_and_artists(g, &r, &song_w))) goto fail;
    e = build_samplers(g, song_w);
    sr_free(song_w);
    if (e) goto fail;

    /* Users: lognormal activity apportioned to the exact total. */
    double *uw = sr_mallocarray(U, sizeof *uw);
    if (!uw) goto fail;
    for (uint32_t u = 0; u < U; u++) uw[u] = sr_rng_lognormal(&r, 0, 1.3);
    e = apportion(uw, U, p->n_listens, p->n_listens >= U ? 1 : 0, &r, g->user_listens);
    sr_free(uw);
    if (e) goto fail;
    for (uint32_t u = 0; u < U; u++) /* a user's plays are numbered in 32 bits */
        if (g->user_listens[u] > UINT32_MAX) {
            uint64_t n = g->user_listens[u];
            sr_gen_free(g);
            return sr_diag_set(d, SR_E_RANGE,
                               "user %u would get %llu listens, more than %u: add users", u + 1,
                               (unsigned long long)n, UINT32_MAX);
        }

    if ((e = build_names(g, log))) goto fail;
    hint_huge(g->track_names, (size_t)g->song[S - 1].name_off + g->song[S - 1].name_len + 1);
    *out = g;
    return SR_OK;
fail:
    sr_gen_free(g);
    if (e == SR_E_NOMEM) return sr_diag_set(d, e, "out of memory building the catalog");
    return sr_diag_set(d, e, "cannot build the catalog: %s", sr_err_message(e));
}

void sr_gen_free(sr_gen *g) {
    if (!g) return;
    if (g->genre_songs)
        for (uint32_t i = 0; i < g->n_genres; i++) sr_alias_deinit(&g->genre_songs[i]);
    sr_alias_deinit(&g->genre_pick);
    sr_free(g->genre_songs);
    sr_free(g->genre_weight);
    sr_free(g->genre_lang);
    sr_free(g->genre_artist_start);
    sr_free(g->genre_song_start);
    sr_free(g->artist);
    sr_free(g->artist_names);
    sr_free(g->song);
    sr_free(g->track_names);
    sr_free(g->user_listens);
    sr_free(g->seen);
    sr_free(g->used);
    sr_free(g->pair_song);
    sr_free(g->pair_plays);
    sr_free(g->pair_center);
    sr_free(g->pair_spread);
    sr_free(g->keys);
    sr_free(g->keys_tmp);
    sr_free(g->tag);
    sr_free(g->last_artist);
    sr_free(g->last_genre);
    sr_free(g->next_artist);
    sr_free(g->next_genre);
    sr_free(g->sess_start);
    sr_free(g->sess_end);
    sr_free(g);
}

uint32_t sr_gen_n_users(const sr_gen *g) {
    return g->n_users;
}
uint32_t sr_gen_n_songs(const sr_gen *g) {
    return g->n_songs;
}
uint32_t sr_gen_n_artists(const sr_gen *g) {
    return g->n_artists;
}
uint32_t sr_gen_n_genres(const sr_gen *g) {
    return g->n_genres;
}
uint32_t sr_gen_song_artist(const sr_gen *g, uint32_t song) {
    return g->song[song].artist;
}
uint32_t sr_gen_artist_genre(const sr_gen *g, uint32_t artist) {
    return g->artist[artist].genre;
}

const char *sr_gen_artist_name(const sr_gen *g, uint32_t artist, size_t *len) {
    uint64_t o = g->artist[artist].name_off;
    if (len) *len = (size_t)(g->artist[artist + 1].name_off - o - 1);
    return g->artist_names + o;
}

const char *sr_gen_track_name(const sr_gen *g, uint32_t song, size_t *len) {
    if (len) *len = g->song[song].name_len;
    return g->track_names + g->song[song].name_off;
}

/* ---- users ---- */

/* Approximately N(0, 1) from one draw: Irwin-Hall sum of four 16-bit uniforms (range
 * +-3.46), plenty for timestamps and far cheaper than Box-Muller per listen. */
static double fast_normal(sr_rng *r) {
    uint64_t x = sr_rng_u64(r);
    double s = (double)(x & 0xffff) + (double)((x >> 16) & 0xffff) + (double)((x >> 32) & 0xffff) +
               (double)(x >> 48);
    return (s * (1.0 / 65536.0) - 2.0) * 1.7320508075688772;
}

/* Approximately N(0, 1) from two draws: Irwin-Hall sum of eight 16-bit uniforms (range
 * +-4.9), the draws sr_rng_normal takes without its log, sqrt and cos. */
static double normal_of_two(sr_rng *r) {
    uint64_t x = sr_rng_u64(r), y = sr_rng_u64(r);
    double s = 0;
    for (int k = 0; k < 64; k += 16) s += (double)((x >> k) & 0xffff) + (double)((y >> k) & 0xffff);
    return (s * (1.0 / 65536.0) - 4.0) * 1.2247448713915890; /* sqrt(12 / 8) */
}

/* Folds x back into [lo, hi]. */
static double reflect(double x, double lo, double hi) {
    if (x < lo) x = lo + (lo - x);
    if (x > hi) x = hi - (x - hi);
    return x < lo ? lo : x > hi ? hi : x;
}

typedef struct taste {
    uint32_t n;
    uint32_t genre[SR_GEN_MAX_TASTES];
    double cum[SR_GEN_MAX_TASTES]; /* cumulative shares */
    double share[SR_GEN_MAX_TASTES];
    double p_explore, p_artist; /* chart and same-artist probabilities */
} taste;

static void draw_taste(const sr_gen *g, sr_rng *r, uint64_t listens, taste *t) {
    double x = sr_rng_double(r);
    uint32_t n = x < 0.35 ? 1 : x < 0.75 ? 2 : 3;
    if (listens > 20000) n++;
    if (listens > 100000) n++;
    if (n > g->n_genres) n = g->n_genres;
    t->n = 0;
    for (uint32_t tries = 0; t->n < n && tries < 64; tries++) {
        uint32_t k = sr_alias_sample(&g->genre_pick, r), dup = 0;
        for (uint32_t i = 0; i < t->n; i++) dup |= t->genre[i] == k;
        if (!dup) t->genre[t->n++] = k;
    }
    double sum = 0;
    for (uint32_t i = 0; i < t->n; i++) sum += t->share[i] = sr_rng_exponential(r, 1.0) + 0.05;
    double c = 0;
    for (uint32_t i = 0; i < t->n; i++) t->cum[i] = c += t->share[i] /= sum;
    t->cum[t->n - 1] = 1.0;
    t->p_explore = 0.02 + 0.10 * sr_rng_double(r);
    t->p_artist = 0.10 + 0.30 * sr_rng_double(r);
}

/* Draws a song for the user; *source is the pair that led to it (same-artist picks)
 * or UINT32_MAX. */
static uint32_t pick_song(const sr_gen *g, const taste *t, sr_rng *r, uint32_t n_pairs,
                          uint32_t *source) {
    double x = sr_rng_double(r);
    uint32_t genre;
    *source = UINT32_MAX;
    if (x < t->p_explore) {
        genre = sr_alias_sample(&g->genre_pick, r);
    } else if (n_pairs && x < t->p_explore + t->p_artist) {
        uint32_t q = (uint32_t)sr_rng_below(r, n_pairs);
        uint32_t a = g->song[g->pair_song[q]].artist;
        uint32_t lo = g->artist[a].song_start, n = g->artist[a + 1].song_start - lo;
        /* Rank k with probability ~ 1 / (k + 1.5), matching the catalog's weights. */
        uint32_t k = (uint32_t)(exp(sr_rng_double(r) * log(n + 1.0)) - 1.0);
        *source = q;
        return lo + (k < n ? k : n - 1);
    } else {
        double y = sr_rng_double(r);
        uint32_t i = 0;
        while (i + 1 < t->n && y >= t->cum[i]) i++;
        genre = t->genre[i];
        if (sr_rng_double(r) < 0.12) { /* a deep cut: any song of the genre */
            uint32_t lo = g->genre_song_start[genre];
            return lo + (uint32_t)sr_rng_below(r, g->genre_song_start[genre + 1] - lo);
        }
    }
    return g->genre_song_start[genre] + sr_alias_sample(&g->genre_songs[genre], r);
}

/* Clears the library marks of the user's first n_pairs pairs, so that after a failure
 * the same user can be drawn again, identically. */
static void unmark(sr_gen *g, uint32_t n_pairs) {
    for (uint32_t i = 0; i < n_pairs; i++) g->seen[g->pair_song[i]].user = 0;
}

static sr_err reserve_pairs(sr_gen *g, size_t need) {
    if (need <= g->pair_cap) return SR_OK;
    size_t cap = g->pair_cap ? g->pair_cap : 1024;
    while (cap < need) cap *= 2;
    uint32_t *s = sr_reallocarray(g->pair_song, cap, sizeof *s);
    if (s) g->pair_song = s;
    uint32_t *pl = sr_reallocarray(g->pair_plays, cap, sizeof *pl);
    if (pl) g->pair_plays = pl;
    double *c = sr_reallocarray(g->pair_center, cap, sizeof *c);
    if (c) g->pair_center = c;
    float *sp = sr_reallocarray(g->pair_spread, cap, sizeof *sp);
    if (sp) g->pair_spread = sp;
    if (!s || !pl || !c || !sp) return SR_E_NOMEM;
    g->pair_cap = cap;
    return SR_OK;
}

/* Sorts keys by their high 32 bits, stably (LSD radix, 8 bits a pass, passes whose
 * digit is constant skipped). */
static void sort_by_time(uint64_t *a, uint64_t *tmp, size_t n) {
    if (n < 48) {
        for (size_t i = 1; i < n; i++) {
            uint64_t v = a[i];
            size_t j = i;
            for (; j > 0 && (a[j - 1] >> 32) > (v >> 32); j--) a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    size_t count[4][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 4; d++) count[d][(a[i] >> (32 + 8 * d)) & 0xff]++;
    uint64_t *src = a, *dst = tmp;
    for (int d = 0; d < 4; d++) {
        int shift = 32 + 8 * d;
        if (count[d][(src[0] >> shift) & 0xff] == n) continue;
        size_t pos = 0;
        for (int b = 0; b < 256; b++) {
            size_t c = count[d][b];
            count[d][b] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++) dst[count[d][(src[i] >> shift) & 0xff]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

/* ---- sessions ---- */

/* Session shape (see the model atop this file). */
#define SESSION_MEDIAN 8.7        /* plays; the mean is ~12 */
#define SESSION_SIGMA  0.8        /* of the log length */
#define GAP_MIN        150        /* seconds between the starts of consecutive plays ... */
#define GAP_SPAN       211        /* ... uniform in [GAP_MIN, GAP_MIN + GAP_SPAN) */
#define PAUSE_MIN      1801       /* a session moved off another starts this much later ... */
#define PAUSE_SPAN     3600       /* ... plus up to this */
#define WINDOW         256        /* the next play is one of this many due next */
#define NONE           UINT32_MAX /* no such listen; in keys' pair field: placed */

/* The listening habits of one user. */
typedef struct habits {
    double mu;                  /* log of the median session length */
    uint32_t p_artist, p_genre; /* next play: same artist, else (cumulative) same genre,
                                   in units of 2^-32 */
    double ws, we, since, last; /* active window, time range (unix s) */
} habits;

static sr_err reserve_tags(sr_gen *g, uint32_t n_pairs) {
    if (n_pairs <= g->tag_cap) return SR_OK;
    size_t cap = g->tag_cap ? g->tag_cap : 1024;
    while (cap < n_pairs) cap *= 2;
    sr__gen_tag *t = sr_reallocarray(g->tag, cap, sizeof *t);
    if (!t) return SR_E_NOMEM;
    g->tag = t;
    g->tag_cap = cap;
    return SR_OK;
}

static sr_err reserve_links(sr_gen *g, uint64_t n_listens) {
    if (n_listens <= g->link_cap) return SR_OK;
    uint32_t *a = sr_reallocarray(g->next_artist, n_listens, sizeof *a);
    if (a) g->next_artist = a;
    uint32_t *ge = sr_reallocarray(g->next_genre, n_listens, sizeof *ge);
    if (ge) g->next_genre = ge;
    if (!a || !ge) return SR_E_NOMEM;
    g->link_cap = n_listens;
    return SR_OK;
}

static sr_err reserve_sessions(sr_gen *g, size_t need) {
    if (need <= g->sess_cap) return SR_OK;
    size_t cap = g->sess_cap ? g->sess_cap * 2 : 256;
    while (cap < need) cap *= 2;
    int64_t *s = sr_reallocarray(g->sess_start, cap, sizeof *s);
    if (s) g->sess_start = s;
    uint64_t *e = sr_reallocarray(g->sess_end, cap, sizeof *e);
    if (e) g->sess_end = e;
    if (!s || !e) return SR_E_NOMEM;
    g->sess_cap = cap;
    return SR_OK;
}

/* Tags each pair with its artist and genre. */
static sr_err tag_pairs(sr_gen *g, uint32_t n_pairs) {
    sr_err e = reserve_tags(g, n_pairs);
    if (e) return e;
    for (uint32_t i = 0; i < n_pairs; i++) {
        uint32_t a = g->song[g->pair_song[i]].artist;
        g->tag[i] = (sr__gen_tag){.artist = a, .genre = g->artist[a].genre};
    }
    return SR_OK;
}

/* Every play's due time, drawn as each play's time was before there were sessions:
 * around its pair's centre inside the active window, at an evening-heavy time of day.
 * Fills g->keys with (due << 32) | pair, sorted by due time. */
static void draw_due(sr_gen *g, const habits *hb, uint32_t n_pairs, sr_rng *r) {
    uint64_t *key = g->keys;
    for (uint32_t i = 0; i < n_pairs; i++) {
        double centre = g->pair_center[i], spread = g->pair_spread[i];
        for (uint32_t k = 0; k < g->pair_plays[i]; k++) {
            double x = reflect(centre + spread * fast_normal(r), hb->ws, hb->we);
            /* 19:00 +- 4.5 h, wrapped (|z| < 3.47, so positive: truncation floors). */
            double tod = 19 * 3600.0 + 4.5 * 3600.0 * fast_normal(r);
            tod = tod >= 86400.0 ? tod - 86400.0 : tod;
            double ts = (double)((int64_t)(x / 86400.0) * 86400 + (int64_t)tod);
            ts = ts < hb->since ? hb->since : ts > hb->last ? hb->last : ts;
            *key++ = ((uint64_t)ts << 32) | i;
        }
    }
    sort_by_time(g->keys, g->keys_tmp, (size_t)(key - g->keys));
}

/* Links each of the n listens (in due order) to the next of the same artist and the
 * next of the same genre (NONE: none). */
static void link_due(sr_gen *g, uint32_t n_pairs, uint64_t n) {
    uint32_t *last_artist = g->last_artist, *last_genre = g->last_genre;
    for (uint32_t i = 0; i < n_pairs; i++) {
        last_artist[g->tag[i].artist] = NONE;
        last_genre[g->tag[i].genre] = NONE;
    }
    for (uint64_t k = n; k-- > 0;) {
        sr__gen_tag t = g->tag[(uint32_t)g->keys[k]];
        g->next_artist[k] = last_artist[t.artist];
        last_artist[t.artist] = (uint32_t)k;
        g->next_genre[k] = last_genre[t.genre];
        last_genre[t.genre] = (uint32_t)k;
    }
}

/* The first listen not yet placed along `next` from `from`, before `limit`, whose pair
 * is not `skip`; NONE when there is none. Placed listens met on the way are unlinked,
 * so each is passed over once per chain. */
static uint32_t follow(uint32_t *next, const uint64_t *due, uint32_t from, uint64_t limit,
                       uint32_t skip) {
    uint32_t *link = &next[from];
    for (uint32_t k = *link; k != NONE && k < limit; k = *link) {
        uint32_t q = (uint32_t)due[k];
        if (q == NONE)
            *link = next[k];
        else if (q != skip)
            return k;
        else
            link = &next[k];
    }
    return NONE;
}

/* Cuts the user's n plays, in due order in g->keys, into sessions. Each starts with the
 * earliest play not yet placed (`head`), at its due time; each next play, by a uniform
 * 32-bit x: with x < p_artist the next due of another song of the previous play's
 * artist, else (or with x < p_genre) the next due of the session's genre after its last
 * play of it, else (or when that is not among the WINDOW due next from head) head.
 * g->keys_tmp gets each session's plays in order as (offset from the session's start
 * << 32) | pair, session after session; g->sess_start[s] its start, g->sess_end[s] =
 * (its last play's offset << 32) | the end of its plays. Returns the number of
 * sessions in *n_sess. */
static sr_err fill_sessions(sr_gen *g, const habits *hb, uint64_t n, sr_rng *r, size_t *n_sess) {
    uint64_t *due = g->keys, *out = g->keys_tmp, head = 0, j = 0;
    size_t ns = 0;
    while (j < n) {
        sr_err e = reserve_sessions(g, ns + 1);
        if (e) return e;
        double len = ceil(exp(hb->mu + SESSION_SIGMA * fast_normal(r)));
        uint64_t m = len < 1 ? 1 : (uint64_t)len, offset = 0;
        if (m > n - j) m = n - j;

        while ((uint32_t)due[head] == NONE) head++;
        uint32_t at = (uint32_t)head, in_genre = at, genre = g->tag[(uint32_t)due[at]].genre;
        int of_genre = 1; /* the play at `at` is of the session's genre */
        g->sess_start[ns] = (int64_t)(due[at] >> 32);
        for (uint64_t k = 1;; k++) {
            uint32_t pair = (uint32_t)due[at];
            out[j++] = (offset << 32) | pair;
            due[at] |= NONE;
            if (of_genre) in_genre = at;
            if (k == m) break;
            while ((uint32_t)due[head] == NONE) head++;
            uint64_t limit = n - head > WINDOW ? head + WINDOW : n;
            uint64_t u = sr_rng_u64(r); /* low half: the choice; high half: the gap */
            uint32_t x = (uint32_t)u, next = NONE;
            offset += GAP_MIN + (((u >> 32) * GAP_SPAN) >> 32);
            if (x < hb->p_artist) /* the same artist: of_genre stays */
                next = follow(g->next_artist, due, at, limit, pair);
            if (next == NONE && x < hb->p_genre) {
                next = follow(g->next_genre, due, in_genre, limit, pair);
                of_genre |= next != NONE;
            }
            if (next == NONE) {
                next = (uint32_t)head;
                of_genre = g->tag[(uint32_t)due[head]].genre == genre;
            }
            at = next;
        }
        g->sess_end[ns++] = (offset << 32) | j;
    }
    *n_sess = ns;
    return SR_OK;
}

/* Lays the sessions (in order of start) out in time and writes the listens, sorted by
 * time, to g->keys: a session that would begin before the previous one has ended
 * begins a pause after it instead; sessions that this pushes past the end are pulled
 * back (each PAUSE_MIN before the next); when even that does not fit (more listening
 * than the time range holds) the plays are spread evenly over the range in order. */
static void place_sessions(sr_gen *g, const habits *hb, size_t ns, uint64_t n_listens, sr_rng *r) {
    int64_t *at = g->sess_start;
    const uint64_t *end = g->sess_end;
    int64_t since = (int64_t)hb->since, last = (int64_t)hb->last, prev_end = 0;
    for (size_t i = 0; i < ns; i++) {
        if (i && at[i] <= prev_end)
            at[i] = prev_end + PAUSE_MIN + (int64_t)sr_rng_below(r, PAUSE_SPAN);
        prev_end = at[i] + (int64_t)(end[i] >> 32);
    }
    int even = 0;
    if (prev_end > last) {
        int64_t limit = last;
        for (size_t i = ns; i-- > 0;) {
            int64_t dur = (int64_t)(end[i] >> 32);
            if (at[i] + dur <= limit) break;
            at[i] = limit - dur;
            limit = at[i] - PAUSE_MIN;
        }
        even = at[0] < since;
    }
    uint64_t *key = g->keys_tmp, j = 0, range = (uint64_t)(last - since) + 1;
    for (size_t i = 0; i < ns; i++) {
        for (; j < (uint32_t)end[i]; j++) {
            uint64_t t =
                even ? (uint64_t)since + (uint64_t)((unsigned __int128)j * range / n_listens)
                     : (uint64_t)at[i] + (key[j] >> 32);
            key[j] = (t << 32) | (uint32_t)key[j];
        }
    }
    g->keys_tmp = g->keys;
    g->keys = key;
}

sr_err sr_gen_next(sr_gen *g, sr_gen_user *h) {
    while (g->cursor < g->n_users && g->user_listens[g->cursor] == 0) g->cursor++;
    if (g->cursor >= g->n_users) return SR_E_EMPTY;
    uint32_t u = g->cursor;
    uint64_t L = g->user_listens[u];
    if (L > g->key_cap) {
        uint64_t *k = sr_reallocarray(g->keys, L, sizeof *k);
        if (!k) return SR_E_NOMEM;
        g->keys = k;
        k = sr_reallocarray(g->keys_tmp, L, sizeof *k);
        if (!k) return SR_E_NOMEM;
        g->keys_tmp = k;
        g->key_cap = L;
    }
    sr_rng r;
    sr_rng_seed_stream(&r, g->h_user, u);
    taste t;
    draw_taste(g, &r, L, &t);
    double sigma = 1.45 * exp(0.1 * sr_rng_normal(&r));

    /* Active window. */
    double since = (double)g->p.since, range = (double)(g->p.until - g->p.since);
    double frac = sr_rng_lognormal(&r, log(0.2), 0.9) * (1 + 0.15 * log(1 + (double)L / 500));
    double span = range * (frac < 1 ? frac : 1);
    if (span < 14 * 86400.0) span = range < 14 * 86400.0 ? range : 14 * 86400.0;
    double ws = since + sr_rng_double(&r) * (range - span), we = ws + span;

    /* Pairs. seen[s].user == u + 1 marks songs already in this user's library. */
    uint32_t n_pairs = 0, mark = u + 1;
    for (uint64_t left = L; left > 0;) {
        uint32_t source, s = 0;
        int fresh = 0;
        for (int tries = 0; tries < 4 && !fresh; tries++) {
            s = pick_song(g, &t, &r, n_pairs, &source);
            fresh = g->seen[s].user != mark;
        }
        double z = sr_rng_normal(&r);
        double c = ceil(exp(sigma * z));
        /* Past 1000 plays the tail is compressed logarithmically: binges of a few
         * thousand plays happen, tens of thousands do not. */
        if (c > 1000) c = floor(1000 * (1 + log(c / 1000)));
        uint64_t plays = c < 1 ? 1 : (uint64_t)c;
        if (plays > left) plays = left;
        left -= plays;
        if (!fresh) {
            g->pair_plays[g->seen[s].pair] += (uint32_t)plays;
            continue;
        }
        if (reserve_pairs(g, (size_t)n_pairs + 1)) {
            unmark(g, n_pairs);
            return SR_E_NOMEM;
        }
        g->seen[s].user = mark;
        g->seen[s].pair = n_pairs;
        g->pair_song[n_pairs] = s;
        g->pair_plays[n_pairs] = (uint32_t)plays;
        /* Times only: a cheap normal, from the two draws an exact one would take, so
         * the later pairs are what they have always been for this seed. */
        double centre = source != UINT32_MAX
                            ? g->pair_center[source] + 0.02 * span * normal_of_two(&r)
                            : ws + sr_rng_double(&r) * span;
        g->pair_center[n_pairs] = reflect(centre, ws, we);
        double spread = span * exp(log(0.04) + normal_of_two(&r));
        g->pair_spread[n_pairs] = (float)(spread < 1800 ? 1800 : spread > span ? span : spread);
        n_pairs++;
    }

    /* Listens: sessions, laid out in time. */
    habits hb = {.ws = ws, .we = we, .since = since, .last = (double)g->p.until - 1};
    hb.mu = log(SESSION_MEDIAN) + 0.25 * fast_normal(&r);
    double p_artist = 0.3 + 0.4 * sr_rng_double(&r), p_genre = p_artist + (1 - p_artist) * 0.6;
    hb.p_artist = (uint32_t)(p_artist * 4294967296.0);
    hb.p_genre = (uint32_t)(p_genre * 4294967296.0);
    size_t n_sess;
    sr_err e = tag_pairs(g, n_pairs);
    if (!e) e = reserve_links(g, L);
    if (!e) {
        draw_due(g, &hb, n_pairs, &r);
        link_due(g, n_pairs, L);
        e = fill_sessions(g, &hb, L, &r, &n_sess);
    }
    if (e) {
        unmark(g, n_pairs);
        return e;
    }
    place_sessions(g, &hb, n_sess, L, &r);

    /* Statistics. */
    sr_gen_stats *st = &g->st;
    st->n_listens += L;
    st->n_users++;
    st->n_pairs += n_pairs;
    if (L > st->max_user_listens) st->max_user_listens = L;
    for (uint32_t i = 0; i < n_pairs; i++) {
        uint32_t pl = g->pair_plays[i], s = g->pair_song[i];
        st->n_pairs_once += pl == 1;
        st->n_pairs_10plus += pl >= 10;
        if (pl > st->max_pair_plays) st->max_pair_plays = pl;
        uint64_t bit = (uint64_t)1 << (s & 63);
        if (!(g->used[s >> 6] & bit)) g->used[s >> 6] |= bit, st->n_songs++;
    }

    memset(h, 0, sizeof *h);
    h->user = u;
    h->n_pairs = n_pairs;
    h->n_listens = L;
    h->song = g->pair_song;
    h->plays = g->pair_plays;
    h->listens = g->keys;
    h->n_genres = t.n;
    for (uint32_t i = 0; i < t.n; i++) h->genres[i] = t.genre[i], h->genre_share[i] = t.share[i];
    g->cursor++;
    return SR_OK;
}

void sr_gen_rewind(sr_gen *g) {
    g->cursor = 0;
    uint64_t bytes = g->st.bytes;
    memset(&g->st, 0, sizeof g->st);
    g->st.bytes = bytes;
    memset(g->used, 0, ((size_t)g->n_songs + 63) / 64 * sizeof *g->used);
    /* seen marks stay valid: they name users, and each user is produced afresh. */
    memset(g->seen, 0, (size_t)g->n_songs * sizeof *g->seen);
}

void sr_gen_get_stats(const sr_gen *g, sr_gen_stats *st) {
    *st = g->st;
}

sr_err sr_gen_parse_day(const char *s, int64_t *out) {
    unsigned v[8];
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return SR_E_USAGE;
    for (int i = 0, k = 0; i < 10; i++) {
        if (i == 4 || i == 7) continue;
        if (s[i] < '0' || s[i] > '9') return SR_E_USAGE;
        v[k++] = (unsigned)(s[i] - '0');
    }
    int64_t y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    unsigned m = v[4] * 10 + v[5], d = v[6] * 10 + v[7];
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return SR_E_USAGE;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap) return SR_E_USAGE;
    *out = sr_days_from_civil(y, m, d) * 86400;
    return SR_OK;
}
