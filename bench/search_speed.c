/* bench/search_speed.c — catalog build time, memory and search latency (rec/catalog.h)
 * on a generated catalog. Not part of the CMake build; compile against the release
 * core library:
 *
 *   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target songrec_core
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Isrc bench/search_speed.c build/libsongrec_core.a \
 *      $(pkg-config --libs libutf8proc libxxhash libarchive jansson libzstd libmicrohttpd \
 *      sqlite3) -lm -lpthread -o build/search_speed
 *   build/search_speed [SONGS [ARTISTS [QUERIES [SEED]]]]     (default 1000000 100000 20000 1)
 *
 * The catalog (deterministic from SEED, util/rng.h):
 *   - artist names: "First Last", "The <Word>s", made-up words of 2-3 syllables, "<Word>
 *     & the <Word>s", some with accents (Björk-like), some Cyrillic or kana;
 *   - track names: 1-5 words from a 500-word vocabulary drawn with Zipf weights (so
 *     "the", "love", "me" are common), sometimes "(Remastered 2011)", " - Live",
 *     "(feat. <artist>)", a number, an apostrophe;
 *   - each song's artist is drawn Zipf(0.9) over a random order of artists (a few
 *     artists have thousands of songs, most a handful); popularity (listeners) is
 *     Zipf(1.0) over a random order of songs: 2,000,000 / rank.
 *
 * Query mix (limit 20, artists and songs; what people type into a search box, drawn
 * towards popular entities): 1 letter, 2 letters, 3-6 letters of an artist's name, an
 * artist's full name, "artist track-prefix", 1-2 track words with the last cut short,
 * a song-only search of a track prefix, and random letter strings that mostly miss.
 * Reports build time, the catalog's heap bytes and the peak RSS growth during the build
 * (VmHWM after resetting it through /proc/self/clear_refs), and per-kind p50, p99 and
 * max latency in microseconds. SLOW_US=<us> in the environment prints each query that
 * took longer. A digest of every hit (and of the lookups' answers) ends the report:
 * two builds of the catalog that print the same digest gave the same results.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rec/catalog.h"
#include "util/rng.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "search_speed: %s\n", what);
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

/* ---- name tables ---- */

static const char *const first[] = {
    "james", "mary", "john",  "lisa",  "mike",   "anna",  "david",  "emma",  "paul", "sara",
    "tom",   "kate", "chris", "laura", "mark",   "nina",  "peter",  "julia", "sam",  "grace",
    "alex",  "ruby", "leo",   "ella",  "max",    "ivy",   "jack",   "zoe",   "owen", "maya",
    "björn", "zoë",  "josé",  "andré", "sørina", "oscar", "elliot", "iris",  "hugo", "nils"};
static const char *const last[] = {
    "smith",  "jones",    "brown",  "miller", "davis",  "wilson",  "moore",  "taylor", "clark",
    "lewis",  "walker",   "young",  "king",   "wright", "hill",    "green",  "baker",  "nelson",
    "carter", "mitchell", "turner", "parker", "evans",  "reyes",   "müller", "núñez",  "dvořák",
    "lópez",  "åberg",    "olsen",  "santos", "novak",  "fischer", "moreau", "rossi",  "kowalski"};
static const char *const syl[] = {
    "al",  "an",  "ar",  "bel", "ben", "bra", "cal", "car", "cor", "dan", "del", "dor", "el",
    "en",  "er",  "fal", "fen", "gar", "gil", "hal", "har", "jen", "kel", "kin", "lan", "lar",
    "len", "lin", "lo",  "mar", "mel", "mor", "na",  "nel", "nor", "ol",  "or",  "pen", "per",
    "ra",  "ren", "ri",  "ro",  "sa",  "sel", "son", "ta",  "ter", "tha", "tor", "val", "van",
    "ver", "wyn", "za",  "zen", "qua", "xi",  "ly",  "dy",  "bri", "cla", "dre", "fro", "gla",
    "jas", "kro", "mis", "pla", "rus", "sto", "tre", "vin", "wil", "yor", "ash", "ell", "ith"};
static const char *const cyr[] = {"кино", "звери", "мумий",    "тролль",  "сплин",
                                  "ария", "алиса", "наутилус", "земфира", "ленинград"};
static const char *const kana[] = {"さくら", "ひかり", "そら", "ゆめ", "ほし", "うみ", "かぜ"};
/* Track vocabulary, most common first (drawn with Zipf weights). */
static const char *const vocab[] = {
    "the",        "love",      "you",       "me",       "i",          "my",        "a",
    "of",         "in",        "night",     "heart",    "time",       "don't",     "baby",
    "world",      "life",      "all",       "away",     "dream",      "go",        "home",
    "light",      "way",       "day",       "girl",     "be",         "down",      "on",
    "like",       "no",        "your",      "blue",     "fire",       "rain",      "we",
    "it",         "to",        "one",       "dark",     "sun",        "stay",      "song",
    "dance",      "forever",   "little",    "new",      "back",       "good",      "summer",
    "tonight",    "want",      "never",     "boy",      "gone",       "run",       "star",
    "feel",       "last",      "lost",      "free",     "what",       "where",     "wild",
    "young",      "city",      "moon",      "man",      "road",       "sky",       "water",
    "woman",      "eyes",      "that",      "with",     "over",       "out",       "is",
    "can't",      "midnight",  "black",     "i'm",      "end",        "again",     "true",
    "red",        "side",      "cold",      "high",     "let",        "still",     "gold",
    "ocean",      "say",       "come",      "angel",    "kiss",       "long",      "hold",
    "lonely",     "crazy",     "alone",     "sweet",    "tears",      "hands",     "river",
    "fall",       "morning",   "story",     "wind",     "white",      "shadow",    "broken",
    "heaven",     "secret",    "bad",       "fly",      "running",    "burning",   "begin",
    "ghost",      "memories",  "wonder",    "golden",   "silence",    "storm",     "paradise",
    "hello",      "goodbye",   "soul",      "freedom",  "ride",       "heartbeat", "echo",
    "believe",    "remember",  "somebody",  "nothing",  "everything", "maybe",     "always",
    "yesterday",  "tomorrow",  "together",  "forget",   "money",      "party",     "rock",
    "roll",       "blues",     "jazz",      "dreamer",  "lover",      "faded",     "lights",
    "mirror",     "window",    "garden",    "flowers",  "roses",      "winter",    "autumn",
    "spring",     "desert",    "island",    "mountain", "valley",     "highway",   "train",
    "station",    "letter",    "promise",   "chance",   "change",     "magic",     "electric",
    "neon",       "velvet",    "silver",    "diamond",  "crystal",    "thunder",   "lightning",
    "hurricane",  "tide",      "wave",      "shore",    "harbor",     "anchor",    "sail",
    "ship",       "sea",       "bay",       "café",     "señorita",   "mañana",    "corazón",
    "amour",      "über",      "naïve",     "déjà",     "vu",         "fiesta",    "noche",
    "vida",       "amor",      "siempre",   "nunca",    "bella",      "zero",      "one",
    "two",        "three",     "seven",     "nine",     "hundred",    "thousand",  "boulevard",
    "avenue",     "street",    "alley",     "bridge",   "tower",      "castle",    "palace",
    "king",       "queen",     "prince",    "princess", "knight",     "dragon",    "wolf",
    "tiger",      "lion",      "eagle",     "raven",    "crow",       "dove",      "butterfly",
    "honey",      "sugar",     "candy",     "cherry",   "peach",      "lemon",     "orange",
    "apple",      "wine",      "whiskey",   "coffee",   "cigarette",  "smoke",     "ashes",
    "dust",       "bones",     "blood",     "skin",     "machine",    "robot",     "radio",
    "television", "video",     "phone",     "computer", "signal",     "static",    "frequency",
    "satellite",  "rocket",    "planet",    "galaxy",   "universe",   "cosmic",    "stardust",
    "moonlight",  "sunshine",  "sunset",    "sunrise",  "daylight",   "twilight",  "dawn",
    "dusk",       "evening",   "afternoon", "weekend",  "holiday",    "vacation",  "journey",
    "voyage",     "adventure", "escape",    "return",   "arrival",    "departure", "farewell",
    "welcome",    "hallelujah"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct strs {
    char *data;
    uint64_t *off;
    size_t n, len, cap;
} strs;

static void strs_add(strs *s, const char *p) {
    size_t k = strlen(p);
    if (s->len + k > s->cap) {
        s->cap = (s->len + k) * 2;
        s->data = realloc(s->data, s->cap);
        if (!s->data) die("out of memory");
    }
    memcpy(s->data + s->len, p, k);
    s->len += k;
    s->off[++s->n] = s->len;
}

static void cap_first(char *p) {
    unsigned char c = (unsigned char)p[0];
    if (c >= 'a' && c <= 'z')
        p[0] = (char)(c - 32);
    else if (c == 0xc3 && (unsigned char)p[1] >= 0xa0 && (unsigned char)p[1] <= 0xbe)
        p[1] = (char)((unsigned char)p[1] - 0x20); /* Latin-1 lower -> upper */
}

static void add_word(char *out, const char *w, int cap) {
    size_t at = strlen(out);
    strcat(out, w);
    if (cap) cap_first(out + at);
}

/* Zipf(s) over n by inversion of a precomputed CDF. */
typedef struct zipf {
    double *cdf;
    size_t n;
} zipf;

static zipf zipf_new(size_t n, double s) {
    zipf z = {xmalloc(n * sizeof(double)), n};
    double acc = 0;
    for (size_t i = 0; i < n; i++) z.cdf[i] = acc += 1.0 / pow((double)(i + 1), s);
    for (size_t i = 0; i < n; i++) z.cdf[i] /= acc;
    return z;
}

static size_t zipf_draw(const zipf *z, sr_rng *r) {
    double u = sr_rng_double(r);
    size_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint32_t *shuffled(size_t n, sr_rng *r) {
    uint32_t *p = xmalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = sr_rng_below(r, i);
        uint32_t t = p[i - 1];
        p[i - 1] = p[j], p[j] = t;
    }
    return p;
}

static void artist_name(sr_rng *r, char *out) {
    out[0] = 0;
    switch (sr_rng_below(r, 10)) {
    case 0:
    case 1:
    case 2:
        add_word(out, first[sr_rng_below(r, COUNT(first))], 1);
        strcat(out, " ");
        add_word(out, last[sr_rng_below(r, COUNT(last))], 1);
        break;
    case 3:
        strcat(out, "The ");
        add_word(out, vocab[sr_rng_below(r, COUNT(vocab))], 1);
        strcat(out, "s");
        break;
    case 4:
        add_word(out, vocab[sr_rng_below(r, COUNT(vocab))], 1);
        strcat(out, " & the ");
        add_word(out, vocab[sr_rng_below(r, COUNT(vocab))], 1);
        strcat(out, "s");
        break;
    case 5:
        if (sr_rng_below(r, 3) == 0) {
            strcat(out, sr_rng_below(r, 2) ? cyr[sr_rng_below(r, COUNT(cyr))]
                                           : kana[sr_rng_below(r, COUNT(kana))]);
            break;
        }
        /* fall through */
    default: {
        int n = 2 + (int)sr_rng_below(r, 2);
        for (int i = 0; i < n; i++) strcat(out, syl[sr_rng_below(r, COUNT(syl))]);
        cap_first(out);
        if (sr_rng_below(r, 3) == 0) {
            size_t at = strlen(out) + 1;
            strcat(out, " ");
            for (int i = 0; i < 2; i++) strcat(out, syl[sr_rng_below(r, COUNT(syl))]);
            cap_first(out + at);
        }
    }
    }
}

static void track_name(sr_rng *r, const zipf *zv, char *out, const strs *artists) {
    out[0] = 0;
    int n = 1 + (int)sr_rng_below(r, 4) + (sr_rng_below(r, 5) == 0);
    for (int i = 0; i < n; i++) {
        if (i) strcat(out, " ");
        add_word(out, vocab[zipf_draw(zv, r)], 1);
    }
    switch (sr_rng_below(r, 20)) {
    case 0:
        strcat(out, " (Remastered 2011)");
        break;
    case 1:
        strcat(out, " - Live");
        break;
    case 2: {
        size_t a = sr_rng_below(r, artists->n);
        size_t k = artists->off[a + 1] - artists->off[a];
        strcat(out, " (feat. ");
        strncat(out, artists->data + artists->off[a], k);
        strcat(out, ")");
        break;
    }
    case 3: {
        char num[16];
        snprintf(num, sizeof num, " %u", (unsigned)(1 + sr_rng_below(r, 99)));
        strcat(out, num);
        break;
    }
    default:
        break;
    }
}

/* ---- memory ---- */

static long status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n)) v = atol(line + n + 1);
    fclose(f);
    return v;
}

static void reset_peak(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

/* ---- queries ---- */

enum { Q_1, Q_2, Q_ART_PREFIX, Q_ART_FULL, Q_ART_TRACK, Q_TRACK_WORDS, Q_SONGS_ONLY, Q_MISS, Q_N };
static const char *const qname[Q_N] = {"1 letter",    "2 letters",      "artist prefix",
                                       "artist full", "artist + track", "track words",
                                       "songs only",  "random letters"};

static sr_str get(const strs *s, size_t i) {
    return (sr_str){s->data + s->off[i], (size_t)(s->off[i + 1] - s->off[i])};
}

/* The first `chars` UTF-8 characters of s (whole characters only). */
static size_t utf8_prefix(sr_str s, size_t chars) {
    size_t i = 0;
    while (i < s.n && chars) {
        i++;
        while (i < s.n && ((unsigned char)s.p[i] & 0xc0) == 0x80) i++;
        chars--;
    }
    return i;
}

static void make_query(int kind, sr_rng *r, const strs *artists, const strs *tracks,
                       const uint32_t *item_artist, const uint32_t *by_pop, const zipf *zq,
                       char *q) {
    /* A popular song (Zipf over the popularity order), and its artist. */
    uint32_t s = by_pop[zipf_draw(zq, r)];
    sr_str t = get(tracks, s), a = get(artists, item_artist[s]);
    q[0] = 0;
    switch (kind) {
    case Q_1:
        memcpy(q, a.p, utf8_prefix(a, 1)), q[utf8_prefix(a, 1)] = 0;
        break;
    case Q_2:
        if (sr_rng_below(r, 2)) a = t;
        memcpy(q, a.p, utf8_prefix(a, 2)), q[utf8_prefix(a, 2)] = 0;
        break;
    case Q_ART_PREFIX: {
        size_t k = utf8_prefix(a, 3 + sr_rng_below(r, 4));
        memcpy(q, a.p, k), q[k] = 0;
        break;
    }
    case Q_ART_FULL:
        memcpy(q, a.p, a.n), q[a.n] = 0;
        break;
    case Q_ART_TRACK: {
        size_t k = utf8_prefix(t, 1 + sr_rng_below(r, 4));
        memcpy(q, a.p, a.n), q[a.n] = ' ';
        memcpy(q + a.n + 1, t.p, k), q[a.n + 1 + k] = 0;
        break;
    }
    case Q_TRACK_WORDS:
    case Q_SONGS_ONLY: {
        /* The first one or two words, the last cut to 1-4 characters. */
        const char *sp = memchr(t.p, ' ', t.n);
        size_t w1 = sp ? (size_t)(sp - t.p) : t.n;
        if (sp && sr_rng_below(r, 2)) {
            sr_str rest = {sp + 1, t.n - w1 - 1};
            size_t k = utf8_prefix(rest, 1 + sr_rng_below(r, 4));
            memcpy(q, t.p, w1 + 1 + k), q[w1 + 1 + k] = 0;
        } else {
            size_t k = utf8_prefix((sr_str){t.p, w1}, 1 + sr_rng_below(r, 4));
            memcpy(q, t.p, k), q[k] = 0;
        }
        break;
    }
    default: {
        int n = 2 + (int)sr_rng_below(r, 5);
        for (int i = 0; i < n; i++) q[i] = (char)('a' + sr_rng_below(r, 26));
        q[n] = 0;
    }
    }
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t hit_word(const sr_catalog_hit *h) {
    return h->pop << 24 ^ (uint64_t)h->id << 4 ^ (uint64_t)h->kind << 2 ^ h->match;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    size_t n_songs = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t n_artists = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    size_t n_queries = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000;
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    if (!n_songs || !n_artists || !n_queries) die("counts must be positive");
    sr_rng r;
    sr_rng_seed(&r, seed);

    /* Catalog. */
    double t0 = now();
    strs artists = {NULL, xmalloc((n_artists + 1) * sizeof(uint64_t)), 0, 0, 0};
    strs tracks = {NULL, xmalloc((n_songs + 1) * sizeof(uint64_t)), 0, 0, 0};
    artists.off[0] = tracks.off[0] = 0;
    char name[1024];
    for (size_t i = 0; i < n_artists; i++) {
        artist_name(&r, name);
        strs_add(&artists, name);
    }
    zipf zv = zipf_new(COUNT(vocab), 1.0), za = zipf_new(n_artists, 0.9);
    for (size_t i = 0; i < n_songs; i++) {
        track_name(&r, &zv, name, &artists);
        strs_add(&tracks, name);
    }
    uint32_t *aperm = shuffled(n_artists, &r), *by_pop = shuffled(n_songs, &r);
    uint32_t *item_artist = xmalloc(n_songs * sizeof *item_artist);
    uint32_t *pop = xmalloc(n_songs * sizeof *pop);
    for (size_t i = 0; i < n_songs; i++) item_artist[i] = aperm[zipf_draw(&za, &r)];
    for (size_t k = 0; k < n_songs; k++) pop[by_pop[k]] = (uint32_t)(2000000.0 / (double)(k + 1));
    printf("generated %zu songs, %zu artists (%.1f MB of names) in %.2f s\n", n_songs, n_artists,
           (double)(artists.len + tracks.len) / 1e6, now() - t0);

    /* Build. */
    sr_catalog_src src = {.artists = {(uint32_t)n_artists, artists.off, artists.data},
                          .item_artist = item_artist,
                          .tracks = {(uint32_t)n_songs, tracks.off, tracks.data},
                          .item_pop = pop};
    sr_catalog *c;
    sr_diag d = {{0}};
    long rss0 = status_kb("VmRSS:");
    reset_peak();
    t0 = now();
    if (sr_catalog_build(&src, &c, &d)) die(d.msg);
    double build_s = now() - t0;
    long hwm = status_kb("VmHWM:"), rss1 = status_kb("VmRSS:");
    printf("build: %.3f s; catalog heap %.1f MB; RSS +%.1f MB after, peak +%.1f MB during\n",
           build_s, (double)sr_catalog_memory(c) / 1e6, (double)(rss1 - rss0) / 1e3,
           (double)(hwm - rss0) / 1e3);

    /* Queries. */
    zipf zq = zipf_new(n_songs, 0.8);
    double *lat[Q_N], *all = xmalloc(n_queries * sizeof(double));
    size_t n_lat[Q_N] = {0}, n_all = 0, hits_total = 0;
    uint64_t digest = 0; /* of every hit, in order: equal digests, equal results */
    for (int k = 0; k < Q_N; k++) lat[k] = xmalloc(n_queries * sizeof(double));
    char q[2048];
    sr_catalog_hit h[20];
    const char *slow_env = getenv("SLOW_US"); /* print queries slower than this */
    double slow_us = slow_env ? atof(slow_env) : 1e9;
    for (size_t i = 0; i < n_queries; i++) {
        int kind = (int)(i % Q_N);
        make_query(kind, &r, &artists, &tracks, item_artist, by_pop, &zq, q);
        size_t len = strlen(q);
        if (len > SR_CATALOG_QUERY_MAX) len = SR_CATALOG_QUERY_MAX;
        unsigned kinds = kind == Q_SONGS_ONLY ? SR_CATALOG_SONG : SR_CATALOG_ALL;
        double a = now();
        int n = sr_catalog_search(c, q, len, kinds, 20, h);
        double us = (now() - a) * 1e6;
        if (n < 0) die("search refused a query");
        hits_total += (size_t)n;
        for (int j = 0; j < n; j++) digest = mix(digest, hit_word(&h[j]));
        if (us > slow_us)
            printf("  slow: %-16s '%s' kinds %u: %d hits in %.0f us\n", qname[kind], q, kinds, n,
                   us);
        lat[kind][n_lat[kind]++] = us;
        all[n_all++] = us;
        if (i < 8) {
            printf("  %-16s '%s': %d hits", qname[kind], q, n);
            if (n) {
                sr_str s = h[0].kind == SR_CATALOG_ARTIST ? sr_catalog_artist_name(c, h[0].id)
                                                          : sr_catalog_track_name(c, h[0].id);
                printf(", first %s '%.*s' (class %d, pop %llu)",
                       h[0].kind == SR_CATALOG_ARTIST ? "artist" : "song", (int)s.n, s.p,
                       h[0].match, (unsigned long long)h[0].pop);
            }
            printf(" %.0f us\n", us);
        }
    }
    printf("%-16s %8s %9s %9s %9s\n", "queries", "n", "p50 us", "p99 us", "max us");
    for (int k = 0; k <= Q_N; k++) {
        double *v = k < Q_N ? lat[k] : all;
        size_t n = k < Q_N ? n_lat[k] : n_all;
        qsort(v, n, sizeof *v, cmp_double);
        printf("%-16s %8zu %9.1f %9.1f %9.1f\n", k < Q_N ? qname[k] : "all", n, v[n / 2],
               v[(size_t)((double)n * 0.99)], v[n - 1]);
    }
    printf("mean hits per query %.1f; digest of all hits %016llx\n",
           (double)hits_total / (double)n_all, (unsigned long long)digest);

    /* Hard cases: several short words, words that rarely meet, kinds that rarely match. */
    static const char *const hard[] = {
        "a b",        "a b c",    "t t t t",      "x z",      "q",
        "e a",        "love you", "i m",          "1",        "2011",
        "the the",    "zen qua",  "sky blue red", "ocean 99", "ca mu ve",
        "remastered", "feat",     "feat zebra",   "o o",      "さ"};
    printf("hard queries (us, artists+songs / songs / artists):");
    for (size_t i = 0; i < COUNT(hard); i++) {
        printf("%s '%s'", i % 5 ? "," : "\n ", hard[i]);
        for (unsigned kinds = SR_CATALOG_ALL; kinds >= SR_CATALOG_ARTIST; kinds--) {
            double a = now();
            int n = sr_catalog_search(c, hard[i], strlen(hard[i]), kinds, 20, h);
            for (int j = 0; j < n; j++) digest = mix(digest, hit_word(&h[j]));
            printf(" %.0f%s", (now() - a) * 1e6, n < 20 ? "*" : "");
        }
    }
    printf("\n  (* fewer than 20 hits)\n");

    /* Exact lookups: "Artist - Track" of popular songs. */
    t0 = now();
    size_t found = 0, n_look = 20000;
    for (size_t i = 0; i < n_look; i++) {
        uint32_t s = by_pop[zipf_draw(&zq, &r)], item;
        sr_str a = get(&artists, item_artist[s]), t = get(&tracks, s);
        int k = snprintf(q, sizeof q, "%.*s - %.*s", (int)a.n, a.p, (int)t.n, t.p);
        if (!sr_catalog_find_song_text(c, q, (size_t)k, &item)) found++, digest = mix(digest, item);
    }
    printf("find_song_text: %.2f us per lookup, %zu of %zu found\n",
           (now() - t0) * 1e6 / (double)n_look, found, n_look);
    printf("digest of everything %016llx\n", (unsigned long long)digest);

    sr_catalog_free(c);
    for (int k = 0; k < Q_N; k++) free(lat[k]);
    free(all), free(zq.cdf), free(zv.cdf), free(za.cdf);
    free(artists.data), free(artists.off), free(tracks.data), free(tracks.off);
    free(aperm), free(by_pop), free(item_artist), free(pop);
    return 0;
}
