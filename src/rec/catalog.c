/* The catalog (catalog.h): build, exact lookups, search.
 *
 * Ranks. Every entity (artist or song) has a global rank: its place when all are
 * ordered by popularity descending, artists before songs on ties, then by id. The
 * indexes below hold ranks (uint32), so an entry is both the entity and its order key:
 * "most popular first" is "smallest rank first", and a search result is ordered by
 * class, then rank.
 *
 * Words. Distinct words of all names (search form, catalog.h) are sorted bytewise and
 * numbered in that order, so the words that start with a query word are one id range
 * [lo, hi), found by binary search, and "q starts word w" is lo <= w < hi. Each name
 * keeps its word ids in order.
 *
 * Indexes (rank arrays, each with the min and max rank of every 64-entry block):
 *   NA      artists sorted by word list (ties by rank): exact and prefix artist names
 *           are one range of it;
 *   NT      songs sorted by track word list (ties by rank): the same for tracks;
 *   S       songs by their artist's place in NA, then rank: an artist's songs, and the
 *           songs of all artists whose name starts with the query (one range of NA ->
 *           one range of S), which are PREFIX matches as "artist track";
 *   WA, WS  per word id, the ranks of the artists / songs that have it (a song has its
 *           artist's words too), ascending.
 *
 * Search. The classes run best first: EXACT, PREFIX, WORD. Each has sources, ranges of
 * the indexes that hold every entity of the class (and others, which classification
 * rejects). The sources are scanned in rounds of ranks [t0, t1): a block whose min and
 * max miss the round is skipped; a candidate whose word signature (sig, see feature())
 * lacks a query word is dropped with one memory access; the rest are classified from
 * their word ids, and members enter the caller's hit array, kept sorted. Once the class's
 * share of the array is full after a round, no later rank can enter and the class is
 * done, so a one-letter prefix with 100,000s of entries classifies only the entries of
 * the most popular entities. The first round ends at about need * n_ranks / entries
 * (a few times the ranks expected to hold the hits); later ones grow by the observed
 * density. Nothing is allocated: the query lives on the stack.
 *
 * Exact lookups use two open-addressing tables of (32 hash bits, id): the ingest key
 * of each artist (sr_normalize), and of each song (artist id + normalised track, as
 * the builder keys songs). A hit is verified by normalising the stored name again, so
 * the tables hold no strings.
 */
#include "rec/catalog.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "data/normalize.h"
#include "util/mem.h"
#include "util/strmap.h"

#define SONG_BIT   0x80000000u /* rank_ent: set for a song */
#define NONE       UINT32_MAX  /* no such word */
#define BLOCK_BITS 6           /* 64-entry blocks */
#define MAX_WORDS  SR_CATALOG_NAME_WORDS
#define FOLD_OPTS                                                                                  \
    (UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD |                    \
     UTF8PROC_STRIPMARK | UTF8PROC_IGNORE)
#define QUERY_CPS   2048 /* a folded query's code points: NFKC makes at most 18 of 3 bytes */
#define SINGLE_PASS 1024 /* sources this small are scanned in one round */

/* A rank array with the min and max of each block. */
typedef struct ridx {
    uint32_t *r;    /* (n) ranks */
    uint32_t *bmin; /* (n_blocks) */
    uint32_t *bmax; /* (n_blocks) */
    uint32_t n;
} ridx;

/* Open addressing: slot = hash high 32 bits << 32 | (id + 1); 0 = empty. */
typedef struct keytab {
    uint64_t *slot; /* (mask + 1) */
    uint64_t mask;
} keytab;

struct sr_catalog {
    sr_strtab artists, tracks; /* borrowed */
    const uint32_t *item_artist, *item_pop;
    uint32_t n_artists, n_items, n_ranks;
    uint64_t *artist_pop; /* (n_artists) */
    uint32_t *rank_ent;   /* (n_ranks) artist id, or item id | SONG_BIT */
    uint64_t *sig;        /* (n_ranks) word-prefix features of each entity's words */

    uint32_t n_words;
    uint32_t *word_off;            /* (n_words + 1) into word_blob */
    char *word_blob;               /* distinct words, sorted bytewise */
    uint32_t *art_w_off, *art_w;   /* (n_artists + 1), word ids of each artist */
    uint32_t *song_w_off, *song_w; /* (n_items + 1), word ids of each track */

    ridx na, nt, s, wa, ws;
    uint32_t *art_napos;       /* (n_artists) place of each artist in NA */
    uint32_t *s_off;           /* (n_artists + 1) songs of NA place p: s[s_off[p] ..] */
    uint32_t *wa_off, *ws_off; /* (n_words + 1) */

    keytab akeys, skeys;
    size_t mem;
};

/* ---- small helpers ---------------------------------------------------------------- */

static void *arr(sr_catalog *c, size_t count, size_t size) {
    void *p = sr_mallocarray(count ? count : 1, size);
    if (p) c->mem += (count ? count : 1) * size;
    return p;
}

static inline uint64_t ent_pop(const sr_catalog *c, uint32_t e) {
    if (e & SONG_BIT) return c->item_pop ? c->item_pop[e & ~SONG_BIT] : 0;
    return c->artist_pop[e];
}

/* Word ids of an entity's name: an artist's, or a song's track's. */
static inline void ent_words(const sr_catalog *c, uint32_t e, const uint32_t **w, uint32_t *n) {
    if (e & SONG_BIT) {
        uint32_t s = e & ~SONG_BIT;
        *w = c->song_w + c->song_w_off[s];
        *n = c->song_w_off[s + 1] - c->song_w_off[s];
    } else {
        *w = c->art_w + c->art_w_off[e];
        *n = c->art_w_off[e + 1] - c->art_w_off[e];
    }
}

static bool is_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return false;
    return true;
}

/* A 64-bit signature of an entity's words: for each word, one bit for each of its
 * first 1, 2 and 3 bytes (hashed). A query word of n bytes needs the bit of its first
 * min(n, 3) bytes, so an entity whose signature lacks a query word's bit cannot match
 * it, and most candidates of a multi-word query are rejected with one memory access
 * instead of a walk over two word lists. */
static uint64_t feature(const char *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull * (n + 1);
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0xff51afd7ed558ccdull;
    return 1ull << (h >> 58);
}

static uint64_t word_features(const char *p, size_t n) {
    uint64_t f = 0;
    for (size_t k = 1; k <= n && k <= 3; k++) f |= feature(p, k);
    return f;
}

/* ---- search form: folding and words ----------------------------------------------- */

/* Word bytes back to back; the caller's fixed storage (query) or growing (build). */
typedef struct wordsink {
    char *b;
    size_t n, cap;
    uint32_t end[MAX_WORDS]; /* end of each word in b */
    uint32_t n_words;        /* kept (at most MAX_WORDS) */
    uint32_t n_seen;         /* found, kept or not */
    size_t start;            /* of the word being written */
    bool grow, failed;
} wordsink;

static void sink_reset(wordsink *w) {
    w->n = 0, w->n_words = 0, w->n_seen = 0, w->failed = false;
}

static void sink_put(wordsink *w, int32_t cp) {
    if (w->n + 4 > w->cap) {
        if (!w->grow || sr_grow((void **)&w->b, &w->cap, w->n + 4, 1)) {
            w->failed = true;
            return;
        }
    }
    if (cp < 0x80)
        w->b[w->n++] = (char)cp;
    else
        w->n += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)w->b + w->n);
}

static void sink_end(wordsink *w) {
    w->n_seen++;
    if (w->n_words < MAX_WORDS && !w->failed)
        w->end[w->n_words++] = (uint32_t)w->n;
    else
        w->n = w->start; /* dropped */
}

static inline bool joiner_cp(int32_t c) {
    return c == '\'' || c == '.' || c == 0x2019 || c == 0x02BC;
}

static bool word_cp(int32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
    if (joiner_cp(c)) return false;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

/* Splits folded code points into words (the rule in catalog.h). */
static void words_of_cps(const int32_t *cp, size_t n, wordsink *w) {
    size_t i = 0;
    while (i < n) {
        if (!word_cp(cp[i])) {
            i++;
            continue;
        }
        w->start = w->n;
        while (i < n) {
            if (word_cp(cp[i]))
                sink_put(w, cp[i++]);
            else if (joiner_cp(cp[i]) && i + 1 < n && word_cp(cp[i + 1]))
                i++;
            else
                break;
        }
        sink_end(w);
    }
}

/* The same for ASCII, where NFKC + case fold is lower-casing. */
static void words_of_ascii(const char *s, size_t n, wordsink *w) {
    size_t i = 0;
    while (i < n) {
        if (!word_cp((unsigned char)s[i])) {
            i++;
            continue;
        }
        w->start = w->n;
        while (i < n) {
            unsigned char ch = (unsigned char)s[i];
            if (word_cp(ch)) {
                sink_put(w, ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
                i++;
            } else if (joiner_cp(ch) && i + 1 < n && word_cp((unsigned char)s[i + 1])) {
                i++;
            } else {
                break;
            }
        }
        sink_end(w);
    }
}

/* Folds valid UTF-8 into cp (NFKC, case fold, marks stripped). Returns the count, more
 * than cap when cp is too small (call again with that much), or -1 on an error. */
static ptrdiff_t fold_cps(const char *s, size_t n, int32_t *cp, size_t cap) {
    utf8proc_ssize_t k = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, cp,
                                            (utf8proc_ssize_t)cap, FOLD_OPTS);
    if (k < 0) return -1;
    if ((size_t)k > cap) return k;
    k = utf8proc_normalize_utf32(cp, k, FOLD_OPTS);
    return k < 0 ? -1 : k;
}

/* Build-time scratch for folding names. */
typedef struct foldbuf {
    int32_t *cp;
    size_t cap;
} foldbuf;

/* Words of valid UTF-8 s into w. Returns 0, or -1 when out of memory. */
static int fold_valid(const char *s, size_t n, foldbuf *fb, wordsink *w) {
    if (is_ascii(s, n)) {
        words_of_ascii(s, n, w);
        return w->failed ? -1 : 0;
    }
    for (;;) {
        ptrdiff_t k = fold_cps(s, n, fb->cp, fb->cap);
        if (k < 0) return 0; /* utf8proc refuses it: no words */
        if ((size_t)k <= fb->cap) {
            words_of_cps(fb->cp, (size_t)k, w);
            return w->failed ? -1 : 0;
        }
        if (sr_grow((void **)&fb->cp, &fb->cap, (size_t)k, sizeof(int32_t))) return -1;
    }
}

/* Words of a stored name; invalid UTF-8 contributes the words of its valid stretches. */
static int name_words(const char *s, size_t n, foldbuf *fb, wordsink *w) {
    sink_reset(w);
    if (sr_utf8_valid(s, n)) return fold_valid(s, n, fb, w);
    size_t i = 0, start = 0;
    while (i < n) {
        utf8proc_int32_t c;
        utf8proc_ssize_t l =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
        if (l > 0) {
            i += (size_t)l;
            continue;
        }
        if (i > start && fold_valid(s + start, i - start, fb, w)) return -1;
        start = ++i;
    }
    if (n > start && fold_valid(s + start, n - start, fb, w)) return -1;
    return 0;
}

/* ---- word dictionary -------------------------------------------------------------- */

static inline sr_str word_get(const sr_catalog *c, uint32_t id) {
    return (sr_str){c->word_blob + c->word_off[id], c->word_off[id + 1] - c->word_off[id]};
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn) {
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r) return r;
    return (an > bn) - (an < bn);
}

/* First word id >= q. */
static uint32_t word_lower(const sr_catalog *c, const char *q, size_t qn) {
    uint32_t lo = 0, hi = c->n_words;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        sr_str w = word_get(c, mid);
        if (bytes_cmp(w.p, w.n, q, qn) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First word id >= from that does not start with q (those that do are contiguous). */
static uint32_t word_prefix_end(const sr_catalog *c, const char *q, size_t qn, uint32_t from) {
    uint32_t lo = from, hi = c->n_words;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        sr_str w = word_get(c, mid);
        if (w.n >= qn && !memcmp(w.p, q, qn))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- word lists: comparison and the NA / NT ranges --------------------------------- */

static int seq_cmp(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb) {
    uint32_t n = na < nb ? na : nb;
    for (uint32_t i = 0; i < n; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return (na > nb) - (na < nb);
}

/* First place in x (NA or NT) whose word list is >= key. */
static uint32_t seq_lower(const sr_catalog *c, const ridx *x, const uint32_t *key, uint32_t nk) {
    uint32_t lo = 0, hi = x->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint32_t *w;
        uint32_t n;
        ent_words(c, c->rank_ent[x->r[mid]], &w, &n);
        if (seq_cmp(w, n, key, nk) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The places of x whose word list is ex[0..n) exactly. */
static void seq_range_exact(const sr_catalog *c, const ridx *x, const uint32_t *ex, uint32_t n,
                            uint32_t *lo, uint32_t *hi) {
    uint32_t key[MAX_WORDS + 1];
    memcpy(key, ex, n * sizeof *key);
    key[n] = 0; /* the smallest list longer than ex starts here */
    *lo = seq_lower(c, x, key, n);
    *hi = seq_lower(c, x, key, n + 1);
}

/* The places of x whose word list starts with ex[0..n) and then a word in [wlo, whi). */
static void seq_range_prefix(const sr_catalog *c, const ridx *x, const uint32_t *ex, uint32_t n,
                             uint32_t wlo, uint32_t whi, uint32_t *lo, uint32_t *hi) {
    for (uint32_t i = 0; i < n; i++)
        if (ex[i] == NONE) {
            *lo = *hi = 0;
            return;
        }
    uint32_t key[MAX_WORDS + 1];
    memcpy(key, ex, n * sizeof *key);
    key[n] = wlo;
    *lo = seq_lower(c, x, key, n + 1);
    key[n] = whi; /* may be n_words: above every id */
    *hi = seq_lower(c, x, key, n + 1);
}

/* ---- build ------------------------------------------------------------------------ */

static sr_err check_strtab(const sr_strtab *t, const char *what, sr_diag *d) {
    if (!t->n) return SR_OK;
    if (!t->off) return sr_diag_set(d, SR_E_CORRUPT, "catalog: %s: no offsets", what);
    for (uint32_t i = 0; i < t->n; i++)
        if (t->off[i + 1] < t->off[i])
            return sr_diag_set(d, SR_E_CORRUPT, "catalog: %s: offsets go backwards at %u", what, i);
    if (!t->data) return sr_diag_set(d, SR_E_CORRUPT, "catalog: %s: no string data", what);
    return SR_OK;
}

static sr_err check_src(const sr_catalog_src *src, sr_diag *d) {
    sr_err e;
    if ((uint64_t)src->artists.n + src->tracks.n >= SONG_BIT)
        return sr_diag_set(d, SR_E_LIMIT, "catalog: %u artists and %u songs are too many",
                           src->artists.n, src->tracks.n);
    if ((e = check_strtab(&src->artists, "artist names", d))) return e;
    if ((e = check_strtab(&src->tracks, "track names", d))) return e;
    if (src->tracks.n && !src->item_artist)
        return sr_diag_set(d, SR_E_CORRUPT, "catalog: no artist ids for %u songs", src->tracks.n);
    for (uint32_t i = 0; i < src->tracks.n; i++)
        if (src->item_artist[i] >= src->artists.n)
            return sr_diag_set(d, SR_E_CORRUPT, "catalog: item %u: artist %u out of range (%u)", i,
                               src->item_artist[i], src->artists.n);
    return SR_OK;
}

/* Ranks: entities by popularity descending, then artists first, then id. A stable LSD
 * radix sort of ~pop over entities in (kind, id) order. */
static sr_err build_ranks(sr_catalog *c) {
    uint32_t n = c->n_ranks;
    c->rank_ent = arr(c, n, sizeof(uint32_t));
    uint64_t *key = sr_mallocarray(n ? n : 1, sizeof *key);
    uint64_t *key2 = sr_mallocarray(n ? n : 1, sizeof *key2);
    uint32_t *ent2 = sr_mallocarray(n ? n : 1, sizeof *ent2);
    sr_err e = SR_E_NOMEM;
    if (!c->rank_ent || !key || !key2 || !ent2) goto out;
    for (uint32_t a = 0; a < c->n_artists; a++) c->rank_ent[a] = a, key[a] = ~c->artist_pop[a];
    for (uint32_t s = 0; s < c->n_items; s++) {
        c->rank_ent[c->n_artists + s] = s | SONG_BIT;
        key[c->n_artists + s] = ~(uint64_t)(c->item_pop ? c->item_pop[s] : 0);
    }
    uint32_t *ent = c->rank_ent;
    for (int shift = 0; shift < 64; shift += 8) {
        size_t cnt[257] = {0};
        for (uint32_t i = 0; i < n; i++) cnt[((key[i] >> shift) & 0xff) + 1]++;
        bool one = false;
        for (int b = 1; b <= 256; b++) one |= cnt[b] == n;
        if (one) continue; /* every key has the same byte here */
        for (int b = 0; b < 256; b++) cnt[b + 1] += cnt[b];
        for (uint32_t i = 0; i < n; i++) {
            size_t p = cnt[(key[i] >> shift) & 0xff]++;
            key2[p] = key[i], ent2[p] = ent[i];
        }
        uint64_t *tk = key;
        key = key2, key2 = tk;
        uint32_t *te = ent;
        ent = ent2, ent2 = te;
    }
    if (ent != c->rank_ent) { /* the sorted order ended in the scratch array */
        memcpy(c->rank_ent, ent, (size_t)n * sizeof *ent);
        ent2 = ent;
    }
    e = SR_OK;
out:
    sr_free(key);
    sr_free(key2);
    sr_free(ent2);
    return e;
}

typedef struct word_ref {
    const char *p;
    uint32_t n, id;
} word_ref;

static int word_ref_cmp(const void *a, const void *b) {
    const word_ref *x = a, *y = b;
    return bytes_cmp(x->p, x->n, y->p, y->n);
}

/* Words of one strtab into (off, w) with interned (insertion-order) ids. */
static sr_err words_of_tab(sr_catalog *c, const sr_strtab *t, sr_strmap *dict, foldbuf *fb,
                           wordsink *ws, uint32_t **off_out, uint32_t **w_out) {
    uint32_t *off = arr(c, (size_t)t->n + 1, sizeof *off);
    uint32_t *w = NULL;
    size_t n_w = 0, cap = 0;
    if (!off) return SR_E_NOMEM;
    *off_out = off;
    off[0] = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        sr_str s = sr_strtab_get(t, i);
        if (name_words(s.p, s.n, fb, ws)) goto nomem;
        if (sr_grow((void **)&w, &cap, n_w + ws->n_words, sizeof *w)) goto nomem;
        uint32_t st = 0;
        for (uint32_t k = 0; k < ws->n_words; k++) {
            if (sr_strmap_intern(dict, (sr_str){ws->b + st, ws->end[k] - st}, &w[n_w++], NULL))
                goto nomem;
            st = ws->end[k];
        }
        if (n_w >= UINT32_MAX) {
            sr_free(w);
            return SR_E_LIMIT;
        }
        off[i + 1] = (uint32_t)n_w;
    }
    /* Exact size, counted as the catalog's. */
    uint32_t *fit = arr(c, n_w, sizeof *fit);
    if (!fit) goto nomem;
    if (n_w) memcpy(fit, w, n_w * sizeof *w);
    sr_free(w);
    *w_out = fit;
    return SR_OK;
nomem:
    sr_free(w);
    return SR_E_NOMEM;
}

/* Tokenises every name, then numbers the distinct words in sorted order. */
static sr_err build_words(sr_catalog *c) {
    sr_strmap dict;
    foldbuf fb = {NULL, 0};
    wordsink ws = {.grow = true};
    word_ref *refs = NULL;
    uint32_t *remap = NULL;
    sr_err e = SR_E_NOMEM;
    if (sr_strmap_init(&dict)) return SR_E_NOMEM;
    if ((e = words_of_tab(c, &c->artists, &dict, &fb, &ws, &c->art_w_off, &c->art_w))) goto out;
    if ((e = words_of_tab(c, &c->tracks, &dict, &fb, &ws, &c->song_w_off, &c->song_w))) goto out;
    e = SR_E_NOMEM;
    uint32_t nw = dict.n;
    refs = sr_mallocarray(nw ? nw : 1, sizeof *refs);
    remap = sr_mallocarray(nw ? nw : 1, sizeof *remap);
    c->word_off = arr(c, (size_t)nw + 1, sizeof(uint32_t));
    c->word_blob = arr(c, dict.blob_len, 1);
    if (!refs || !remap || !c->word_off || !c->word_blob) goto out;
    e = SR_E_LIMIT;
    if (dict.blob_len >= UINT32_MAX) goto out;
    for (uint32_t i = 0; i < nw; i++) {
        sr_str s = sr_strmap_get(&dict, i);
        refs[i] = (word_ref){s.p, (uint32_t)s.n, i};
    }
    qsort(refs, nw, sizeof *refs, word_ref_cmp);
    uint32_t pos = 0;
    for (uint32_t i = 0; i < nw; i++) {
        remap[refs[i].id] = i;
        c->word_off[i] = pos;
        memcpy(c->word_blob + pos, refs[i].p, refs[i].n);
        pos += refs[i].n;
    }
    c->word_off[nw] = pos;
    c->n_words = nw;
    for (uint32_t i = 0; i < c->art_w_off[c->n_artists]; i++) c->art_w[i] = remap[c->art_w[i]];
    for (uint32_t i = 0; i < c->song_w_off[c->n_items]; i++) c->song_w[i] = remap[c->song_w[i]];
    e = SR_OK;
out:
    sr_strmap_deinit(&dict);
    sr_free(fb.cp);
    sr_free(ws.b);
    sr_free(refs);
    sr_free(remap);
    return e;
}

/* Compares the word lists of ranks ra and rb from word `from` on. */
static int words_from_cmp(const sr_catalog *c, uint32_t ra, uint32_t rb, uint32_t from) {
    const uint32_t *a, *b;
    uint32_t na, nb;
    ent_words(c, c->rank_ent[ra], &a, &na);
    ent_words(c, c->rank_ent[rb], &b, &nb);
    na = na > from ? na - from : 0;
    nb = nb > from ? nb - from : 0;
    return seq_cmp(a + (na ? from : 0), na, b + (nb ? from : 0), nb);
}

/* A rank with words `from` and `from + 1` of its list in key (id + 1; 0: none), so
 * most comparisons need no memory beyond the array being sorted. */
typedef struct keyed {
    uint64_t key;
    uint32_t rank;
} keyed;

static int keyed_cmp(const sr_catalog *c, const keyed *a, const keyed *b, uint32_t from) {
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    if (!(uint32_t)a->key) return 0; /* both lists end within the key */
    return words_from_cmp(c, a->rank, b->rank, from + 2);
}

/* Stable merge sort. */
static void msort(const sr_catalog *c, keyed *a, keyed *tmp, size_t n, uint32_t from) {
    if (n <= 12) {
        for (size_t i = 1; i < n; i++) {
            keyed v = a[i];
            size_t j = i;
            while (j > 0 && keyed_cmp(c, &a[j - 1], &v, from) > 0) a[j] = a[j - 1], j--;
            a[j] = v;
        }
        return;
    }
    size_t h = n / 2;
    msort(c, a, tmp, h, from);
    msort(c, a + h, tmp, n - h, from);
    if (keyed_cmp(c, &a[h - 1], &a[h], from) <= 0) return; /* already in order */
    memcpy(tmp, a, h * sizeof *a);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) a[k++] = keyed_cmp(c, &tmp[i], &a[j], from) <= 0 ? tmp[i++] : a[j++];
    while (i < h) a[k++] = tmp[i++];
}

/* Sorts ranks r[0..n) (in rank order) by word list from word `from` on, stably; buf
 * and tmp hold n each. */
static void sort_by_words(const sr_catalog *c, uint32_t *r, size_t n, uint32_t from, keyed *buf,
                          keyed *tmp) {
    for (size_t i = 0; i < n; i++) {
        const uint32_t *w;
        uint32_t nw;
        ent_words(c, c->rank_ent[r[i]], &w, &nw);
        uint64_t k0 = nw > from ? (uint64_t)w[from] + 1 : 0;
        uint64_t k1 = nw > from + 1 ? (uint64_t)w[from + 1] + 1 : 0;
        buf[i] = (keyed){k0 << 32 | k1, r[i]};
    }
    msort(c, buf, tmp, n, from);
    for (size_t i = 0; i < n; i++) r[i] = buf[i].rank;
}

static sr_err ridx_alloc(sr_catalog *c, ridx *x, size_t n) {
    if (n >= UINT32_MAX) return SR_E_LIMIT;
    size_t nb = (n >> BLOCK_BITS) + 1;
    x->n = (uint32_t)n;
    x->r = arr(c, n, sizeof(uint32_t));
    x->bmin = arr(c, nb, sizeof(uint32_t));
    x->bmax = arr(c, nb, sizeof(uint32_t));
    return x->r && x->bmin && x->bmax ? SR_OK : SR_E_NOMEM;
}

static void ridx_blocks(ridx *x) {
    for (size_t b = 0; (b << BLOCK_BITS) < x->n; b++) {
        size_t i = b << BLOCK_BITS, end = i + ((size_t)1 << BLOCK_BITS);
        if (end > x->n) end = x->n;
        uint32_t mn = UINT32_MAX, mx = 0;
        for (; i < end; i++) {
            if (x->r[i] < mn) mn = x->r[i];
            if (x->r[i] > mx) mx = x->r[i];
        }
        x->bmin[b] = mn, x->bmax[b] = mx;
    }
}

/* NA and S. */
static sr_err build_artist_order(sr_catalog *c) {
    sr_err e;
    if ((e = ridx_alloc(c, &c->na, c->n_artists)) || (e = ridx_alloc(c, &c->s, c->n_items)))
        return e;
    c->art_napos = arr(c, c->n_artists, sizeof(uint32_t));
    c->s_off = arr(c, (size_t)c->n_artists + 1, sizeof(uint32_t));
    keyed *buf = sr_mallocarray(c->n_artists ? c->n_artists : 1, sizeof *buf);
    keyed *tmp = sr_mallocarray(c->n_artists ? c->n_artists : 1, sizeof *tmp);
    if (!c->art_napos || !c->s_off || !buf || !tmp) {
        sr_free(buf);
        sr_free(tmp);
        return SR_E_NOMEM;
    }
    uint32_t k = 0;
    for (uint32_t r = 0; r < c->n_ranks; r++)
        if (!(c->rank_ent[r] & SONG_BIT)) c->na.r[k++] = r;
    sort_by_words(c, c->na.r, c->n_artists, 0, buf, tmp);
    sr_free(buf);
    sr_free(tmp);
    for (uint32_t p = 0; p < c->n_artists; p++) c->art_napos[c->rank_ent[c->na.r[p]]] = p;
    /* S: a counting sort of songs (in rank order) by their artist's NA place. */
    memset(c->s_off, 0, ((size_t)c->n_artists + 1) * sizeof *c->s_off);
    for (uint32_t s = 0; s < c->n_items; s++) c->s_off[c->art_napos[c->item_artist[s]] + 1]++;
    for (uint32_t p = 0; p < c->n_artists; p++) c->s_off[p + 1] += c->s_off[p];
    uint32_t *fill = sr_mallocarray(c->n_artists ? c->n_artists : 1, sizeof *fill);
    if (!fill) return SR_E_NOMEM;
    memcpy(fill, c->s_off, (size_t)c->n_artists * sizeof *fill);
    for (uint32_t r = 0; r < c->n_ranks; r++) {
        uint32_t e2 = c->rank_ent[r];
        if (e2 & SONG_BIT) c->s.r[fill[c->art_napos[c->item_artist[e2 & ~SONG_BIT]]]++] = r;
    }
    sr_free(fill);
    ridx_blocks(&c->na);
    ridx_blocks(&c->s);
    return SR_OK;
}

/* NT: a counting sort of songs (in rank order) by first track word, then a merge sort
 * of each bucket by the rest. */
static sr_err build_track_order(sr_catalog *c) {
    sr_err e;
    if ((e = ridx_alloc(c, &c->nt, c->n_items))) return e;
    uint32_t nb = c->n_words + 1; /* bucket 0: no words */
    uint32_t *start = sr_calloc((size_t)nb + 1, sizeof *start);
    if (!start) return SR_E_NOMEM;
    for (uint32_t s = 0; s < c->n_items; s++) {
        uint32_t o = c->song_w_off[s];
        start[(o < c->song_w_off[s + 1] ? c->song_w[o] + 1 : 0) + 1]++;
    }
    uint32_t most = 0; /* songs in the largest bucket */
    for (uint32_t b = 0; b < nb; b++) {
        if (start[b + 1] > most) most = start[b + 1];
        start[b + 1] += start[b];
    }
    keyed *buf = sr_mallocarray(most ? most : 1, sizeof *buf);
    keyed *tmp = sr_mallocarray(most ? most : 1, sizeof *tmp);
    if (!buf || !tmp) {
        sr_free(start);
        sr_free(buf);
        sr_free(tmp);
        return SR_E_NOMEM;
    }
    /* start[b] is the fill cursor of bucket b; afterwards it is the bucket's end. */
    for (uint32_t r = 0; r < c->n_ranks; r++) {
        uint32_t ent = c->rank_ent[r];
        if (!(ent & SONG_BIT)) continue;
        uint32_t s = ent & ~SONG_BIT, o = c->song_w_off[s];
        uint32_t b = o < c->song_w_off[s + 1] ? c->song_w[o] + 1 : 0;
        c->nt.r[start[b]++] = r;
    }
    uint32_t lo = 0;
    for (uint32_t b = 0; b < nb; b++) {
        uint32_t hi = start[b];
        if (hi - lo > 1 && b > 0) sort_by_words(c, c->nt.r + lo, hi - lo, 1, buf, tmp);
        lo = hi;
    }
    sr_free(start);
    sr_free(buf);
    sr_free(tmp);
    ridx_blocks(&c->nt);
    return SR_OK;
}

/* The distinct word ids of entity ent (a song: its track's and its artist's). */
static uint32_t ent_all_words(const sr_catalog *c, uint32_t ent, uint32_t *out) {
    const uint32_t *w;
    uint32_t n, k = 0;
    for (int part = 0; part < 2; part++) {
        if (part == 0)
            ent_words(c, ent, &w, &n);
        else if (ent & SONG_BIT)
            ent_words(c, c->item_artist[ent & ~SONG_BIT], &w, &n);
        else
            break;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t j = 0;
            while (j < k && out[j] != w[i]) j++;
            if (j == k) out[k++] = w[i];
        }
    }
    return k;
}

/* WA or WS: a counting sort of (word, rank) pairs by word, filled in rank order. */
static sr_err build_word_index(sr_catalog *c, bool songs, ridx *x, uint32_t **off_out) {
    uint32_t *off = arr(c, (size_t)c->n_words + 1, sizeof *off);
    if (!off) return SR_E_NOMEM;
    *off_out = off;
    memset(off, 0, ((size_t)c->n_words + 1) * sizeof *off);
    uint32_t w[2 * MAX_WORDS];
    uint64_t total = 0;
    for (uint32_t r = 0; r < c->n_ranks; r++) {
        uint32_t ent = c->rank_ent[r];
        if (((ent & SONG_BIT) != 0) != songs) continue;
        uint32_t k = ent_all_words(c, ent, w);
        for (uint32_t i = 0; i < k; i++) off[w[i] + 1]++;
        total += k;
    }
    sr_err e = ridx_alloc(c, x, total);
    if (e) return e;
    for (uint32_t i = 0; i < c->n_words; i++) off[i + 1] += off[i];
    uint32_t *fill = sr_mallocarray(c->n_words ? c->n_words : 1, sizeof *fill);
    if (!fill) return SR_E_NOMEM;
    memcpy(fill, off, (size_t)c->n_words * sizeof *fill);
    for (uint32_t r = 0; r < c->n_ranks; r++) {
        uint32_t ent = c->rank_ent[r];
        if (((ent & SONG_BIT) != 0) != songs) continue;
        uint32_t k = ent_all_words(c, ent, w);
        for (uint32_t i = 0; i < k; i++) x->r[fill[w[i]]++] = r;
    }
    sr_free(fill);
    ridx_blocks(x);
    return SR_OK;
}

/* sig: each entity's word features (a song's include its artist's). */
static sr_err build_sigs(sr_catalog *c) {
    uint64_t *wf = sr_mallocarray(c->n_words ? c->n_words : 1, sizeof *wf);
    c->sig = arr(c, c->n_ranks, sizeof *c->sig);
    if (!wf || !c->sig) {
        sr_free(wf);
        return SR_E_NOMEM;
    }
    for (uint32_t i = 0; i < c->n_words; i++) {
        sr_str w = word_get(c, i);
        wf[i] = word_features(w.p, w.n);
    }
    for (uint32_t r = 0; r < c->n_ranks; r++) {
        uint32_t ent = c->rank_ent[r];
        const uint32_t *w;
        uint32_t n;
        uint64_t f = 0;
        ent_words(c, ent, &w, &n);
        for (uint32_t i = 0; i < n; i++) f |= wf[w[i]];
        if (ent & SONG_BIT) {
            ent_words(c, c->item_artist[ent & ~SONG_BIT], &w, &n);
            for (uint32_t i = 0; i < n; i++) f |= wf[w[i]];
        }
        c->sig[r] = f;
    }
    sr_free(wf);
    return SR_OK;
}

/* ---- exact-key tables ------------------------------------------------------------- */

static sr_err keytab_init(sr_catalog *c, keytab *t, uint32_t n) {
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)n) cap *= 2;
    t->slot = sr_calloc(cap, sizeof *t->slot);
    if (!t->slot) return SR_E_NOMEM;
    c->mem += cap * sizeof *t->slot;
    t->mask = cap - 1;
    return SR_OK;
}

static void keytab_put(keytab *t, uint64_t h, uint32_t id) {
    uint64_t p = h & t->mask;
    while (t->slot[p]) p = (p + 1) & t->mask;
    t->slot[p] = (h >> 32) << 32 | ((uint64_t)id + 1);
}

/* Inserts go through a batch: each slot is prefetched when its key is hashed and
 * written 32 keys later, so the table's cache misses overlap with normalising. */
typedef struct keybatch {
    uint64_t h[32];
    uint32_t id[32];
    uint32_t n;
} keybatch;

static void batch_flush(keytab *t, keybatch *b) {
    for (uint32_t i = 0; i < b->n; i++) keytab_put(t, b->h[i], b->id[i]);
    b->n = 0;
}

static void batch_put(keytab *t, keybatch *b, uint64_t h, uint32_t id) {
    __builtin_prefetch(&t->slot[h & t->mask]);
    b->h[b->n] = h, b->id[b->n++] = id;
    if (b->n == 32) batch_flush(t, b);
}

/* The song key: artist id (4 bytes, as the builder) + normalised track. */
static int song_key(char **buf, size_t *cap, uint32_t artist, sr_str tkey, sr_str *out) {
    if (sr_grow((void **)buf, cap, tkey.n + 4, 1)) return -1;
    memcpy(*buf, &artist, 4);
    if (tkey.n) memcpy(*buf + 4, tkey.p, tkey.n);
    *out = (sr_str){*buf, tkey.n + 4};
    return 0;
}

static sr_err build_keys(sr_catalog *c) {
    sr_err e;
    if ((e = keytab_init(c, &c->akeys, c->n_artists)) ||
        (e = keytab_init(c, &c->skeys, c->n_items)))
        return e;
    sr_normbuf nb = {NULL, 0};
    char *kb = NULL;
    size_t kcap = 0;
    sr_str key;
    keybatch kb2 = {.n = 0};
    e = SR_OK;
    for (uint32_t a = 0; a < c->n_artists && !e; a++) {
        sr_str s = sr_strtab_get(&c->artists, a);
        if (!sr_utf8_valid(s.p, s.n)) continue;
        if ((e = sr_normalize(s, &nb, &key))) break;
        batch_put(&c->akeys, &kb2, sr_hash_bytes(key.p, key.n), a);
    }
    batch_flush(&c->akeys, &kb2);
    for (uint32_t i = 0; i < c->n_items && !e; i++) {
        sr_str s = sr_strtab_get(&c->tracks, i), tkey;
        if (!sr_utf8_valid(s.p, s.n)) continue;
        if ((e = sr_normalize(s, &nb, &tkey))) break;
        if (song_key(&kb, &kcap, c->item_artist[i], tkey, &key)) {
            e = SR_E_NOMEM;
            break;
        }
        batch_put(&c->skeys, &kb2, sr_hash_bytes(key.p, key.n), i);
    }
    batch_flush(&c->skeys, &kb2);
    sr_normbuf_free(&nb);
    sr_free(kb);
    return e;
}

sr_err sr_catalog_build(const sr_catalog_src *src, sr_catalog **out, sr_diag *d) {
    *out = NULL;
    sr_err e = check_src(src, d);
    if (e) return e;
    sr_catalog *c = sr_calloc(1, sizeof *c);
    if (!c) return SR_E_NOMEM;
    c->mem = sizeof *c;
    c->artists = src->artists, c->tracks = src->tracks;
    c->item_artist = src->item_artist, c->item_pop = src->item_pop;
    c->n_artists = src->artists.n, c->n_items = src->tracks.n;
    c->n_ranks = c->n_artists + c->n_items;
    e = SR_E_NOMEM;
    if (!(c->artist_pop = arr(c, c->n_artists, sizeof(uint64_t)))) goto fail;
    memset(c->artist_pop, 0, (size_t)c->n_artists * sizeof(uint64_t));
    if (c->item_pop)
        for (uint32_t s = 0; s < c->n_items; s++)
            c->artist_pop[c->item_artist[s]] += c->item_pop[s];
    if ((e = build_ranks(c)) || (e = build_words(c)) || (e = build_artist_order(c)) ||
        (e = build_track_order(c)) || (e = build_word_index(c, false, &c->wa, &c->wa_off)) ||
        (e = build_word_index(c, true, &c->ws, &c->ws_off)) || (e = build_sigs(c)) ||
        (e = build_keys(c)))
        goto fail;
    *out = c;
    return SR_OK;
fail:
    sr_catalog_free(c);
    if (e == SR_E_LIMIT) return sr_diag_set(d, e, "catalog: too many words to index");
    return sr_diag_set(d, e, "catalog: out of memory");
}

static void ridx_free(ridx *x) {
    sr_free(x->r);
    sr_free(x->bmin);
    sr_free(x->bmax);
}

void sr_catalog_free(sr_catalog *c) {
    if (!c) return;
    sr_free(c->artist_pop);
    sr_free(c->rank_ent);
    sr_free(c->sig);
    sr_free(c->word_off);
    sr_free(c->word_blob);
    sr_free(c->art_w_off);
    sr_free(c->art_w);
    sr_free(c->song_w_off);
    sr_free(c->song_w);
    ridx_free(&c->na);
    ridx_free(&c->nt);
    ridx_free(&c->s);
    ridx_free(&c->wa);
    ridx_free(&c->ws);
    sr_free(c->art_napos);
    sr_free(c->s_off);
    sr_free(c->wa_off);
    sr_free(c->ws_off);
    sr_free(c->akeys.slot);
    sr_free(c->skeys.slot);
    sr_free(c);
}

/* ---- accessors -------------------------------------------------------------------- */

size_t sr_catalog_memory(const sr_catalog *c) {
    return c->mem;
}
uint32_t sr_catalog_n_items(const sr_catalog *c) {
    return c->n_items;
}
uint32_t sr_catalog_n_artists(const sr_catalog *c) {
    return c->n_artists;
}
sr_str sr_catalog_artist_name(const sr_catalog *c, uint32_t artist) {
    return artist < c->n_artists ? sr_strtab_get(&c->artists, artist) : (sr_str){"", 0};
}
sr_str sr_catalog_track_name(const sr_catalog *c, uint32_t item) {
    return item < c->n_items ? sr_strtab_get(&c->tracks, item) : (sr_str){"", 0};
}
uint32_t sr_catalog_item_artist(const sr_catalog *c, uint32_t item) {
    return item < c->n_items ? c->item_artist[item] : UINT32_MAX;
}
uint32_t sr_catalog_item_pop(const sr_catalog *c, uint32_t item) {
    return item < c->n_items && c->item_pop ? c->item_pop[item] : 0;
}
uint64_t sr_catalog_artist_pop(const sr_catalog *c, uint32_t artist) {
    return artist < c->n_artists ? c->artist_pop[artist] : 0;
}
uint32_t sr_catalog_artist_n_songs(const sr_catalog *c, uint32_t artist) {
    if (artist >= c->n_artists) return 0;
    uint32_t p = c->art_napos[artist];
    return c->s_off[p + 1] - c->s_off[p];
}

size_t sr_catalog_artist_songs(const sr_catalog *c, uint32_t artist, size_t offset, size_t limit,
                               uint32_t *items) {
    uint32_t n = sr_catalog_artist_n_songs(c, artist);
    if (offset >= n) return 0;
    size_t k = n - offset < limit ? n - offset : limit;
    const uint32_t *r = c->s.r + c->s_off[c->art_napos[artist]] + offset;
    for (size_t i = 0; i < k; i++) items[i] = c->rank_ent[r[i]] & ~SONG_BIT;
    return k;
}

/* ---- exact lookups ---------------------------------------------------------------- */

/* Scratch of one lookup. */
typedef struct lookup {
    sr_normbuf qa, qt, v; /* query artist key, query track key, a stored name's key */
    char *kb;
    size_t kcap;
} lookup;

static void lookup_free(lookup *l) {
    sr_normbuf_free(&l->qa);
    sr_normbuf_free(&l->qt);
    sr_normbuf_free(&l->v);
    sr_free(l->kb);
}

static bool better(uint64_t pop, uint32_t id, uint64_t best_pop, uint32_t best) {
    return best == NONE || pop > best_pop || (pop == best_pop && id < best);
}

/* Whether the stored name s normalises to key. */
static sr_err same_key(lookup *l, sr_str s, sr_str key, bool *same) {
    sr_str k;
    *same = false;
    if (!sr_utf8_valid(s.p, s.n)) return SR_OK;
    sr_err e = sr_normalize(s, &l->v, &k);
    if (!e) *same = k.n == key.n && !memcmp(k.p, key.p, k.n);
    return e;
}

/* Calls back for each artist whose key is akey: the best song of (artist, tkey) when
 * tkey is given, else the artist itself; keeps the most popular in *best. */
static sr_err lookup_key(const sr_catalog *c, lookup *l, sr_str akey, const sr_str *tkey,
                         uint32_t *best) {
    uint64_t best_pop = 0;
    uint64_t h = sr_hash_bytes(akey.p, akey.n);
    *best = NONE;
    for (uint64_t p = h & c->akeys.mask; c->akeys.slot[p]; p = (p + 1) & c->akeys.mask) {
        uint64_t sl = c->akeys.slot[p];
        if (sl >> 32 != h >> 32) continue;
        uint32_t a = (uint32_t)sl - 1;
        bool same;
        sr_err e = same_key(l, sr_strtab_get(&c->artists, a), akey, &same);
        if (e) return e;
        if (!same) continue;
        if (!tkey) {
            if (better(c->artist_pop[a], a, best_pop, *best))
                *best = a, best_pop = c->artist_pop[a];
            continue;
        }
        sr_str skey;
        if (song_key(&l->kb, &l->kcap, a, *tkey, &skey)) return SR_E_NOMEM;
        uint64_t hs = sr_hash_bytes(skey.p, skey.n);
        for (uint64_t q = hs & c->skeys.mask; c->skeys.slot[q]; q = (q + 1) & c->skeys.mask) {
            uint64_t ss = c->skeys.slot[q];
            if (ss >> 32 != hs >> 32) continue;
            uint32_t s = (uint32_t)ss - 1;
            if (c->item_artist[s] != a) continue;
            if ((e = same_key(l, sr_strtab_get(&c->tracks, s), *tkey, &same))) return e;
            uint64_t pop = c->item_pop ? c->item_pop[s] : 0;
            if (same && better(pop, s, best_pop, *best)) *best = s, best_pop = pop;
        }
    }
    return SR_OK;
}

/* Normalises query text into b; SR_E_NOTFOUND when it is invalid or empty. */
static sr_err query_key(const char *s, size_t n, sr_normbuf *b, sr_str *key) {
    if (!sr_utf8_valid(s, n)) return SR_E_NOTFOUND;
    sr_err e = sr_normalize((sr_str){s, n}, b, key);
    if (e) return e;
    return key->n ? SR_OK : SR_E_NOTFOUND;
}

sr_err sr_catalog_find_artist(const sr_catalog *c, const char *name, size_t len, uint32_t *artist) {
    lookup l = {.kb = NULL};
    sr_str key;
    uint32_t best = NONE;
    sr_err e = query_key(name, len, &l.qa, &key);
    if (!e) e = lookup_key(c, &l, key, NULL, &best);
    lookup_free(&l);
    if (e) return e;
    if (best == NONE) return SR_E_NOTFOUND;
    *artist = best;
    return SR_OK;
}

static sr_err find_song(const sr_catalog *c, lookup *l, const char *artist, size_t artist_len,
                        const char *track, size_t track_len, uint32_t *item) {
    sr_str akey, tkey;
    uint32_t best;
    sr_err e;
    if ((e = query_key(artist, artist_len, &l->qa, &akey))) return e;
    if ((e = query_key(track, track_len, &l->qt, &tkey))) return e;
    if ((e = lookup_key(c, l, akey, &tkey, &best))) return e;
    if (best == NONE) return SR_E_NOTFOUND;
    *item = best;
    return SR_OK;
}

sr_err sr_catalog_find_song(const sr_catalog *c, const char *artist, size_t artist_len,
                            const char *track, size_t track_len, uint32_t *item) {
    lookup l = {.kb = NULL};
    sr_err e = find_song(c, &l, artist, artist_len, track, track_len, item);
    lookup_free(&l);
    return e;
}

sr_err sr_catalog_find_song_text(const sr_catalog *c, const char *text, size_t len,
                                 uint32_t *item) {
    static const char dash[] = " - ", en_dash[] = " \xe2\x80\x93 ";
    lookup l = {.kb = NULL};
    sr_err e = SR_E_NOTFOUND;
    for (size_t i = 0; i < len && e == SR_E_NOTFOUND; i++) {
        size_t sep = 0;
        if (len - i >= 3 && !memcmp(text + i, dash, 3))
            sep = 3;
        else if (len - i >= 5 && !memcmp(text + i, en_dash, 5))
            sep = 5;
        if (sep) e = find_song(c, &l, text, i, text + i + sep, len - i - sep, item);
    }
    lookup_free(&l);
    return e;
}

/* ---- search ----------------------------------------------------------------------- */

typedef struct query {
    uint32_t k;
    uint32_t lo[MAX_WORDS], hi[MAX_WORDS]; /* word ids that start with word i */
    uint32_t ex[MAX_WORDS];                /* word id equal to word i, or NONE */
    bool all_exact;
    unsigned kinds;
    uint64_t need; /* features an entity must have (see feature()) */
} query;

/* Folds and splits q, and finds each word's id range. Returns 1 when there is
 * something to search, 0 when nothing can match, SR_E_LIMIT for too many words. */
static int parse_query(const sr_catalog *c, const char *q, size_t len, query *out) {
    int32_t cp[QUERY_CPS];
    char bytes[4 * QUERY_CPS];
    wordsink w = {.b = bytes, .cap = sizeof bytes};
    if (is_ascii(q, len)) {
        words_of_ascii(q, len, &w);
    } else {
        ptrdiff_t n = fold_cps(q, len, cp, QUERY_CPS);
        if (n < 0 || n > QUERY_CPS) return 0; /* cannot happen with text people type */
        words_of_cps(cp, (size_t)n, &w);
    }
    if (w.n_seen > MAX_WORDS) return SR_E_LIMIT;
    if (w.failed || !w.n_words) return 0;
    out->k = w.n_words;
    out->all_exact = true;
    out->need = 0;
    uint32_t st = 0;
    for (uint32_t i = 0; i < w.n_words; i++) {
        const char *p = bytes + st;
        size_t n = w.end[i] - st;
        st = w.end[i];
        out->need |= feature(p, n < 3 ? n : 3);
        out->lo[i] = word_lower(c, p, n);
        out->hi[i] = word_prefix_end(c, p, n, out->lo[i]);
        if (out->lo[i] == out->hi[i]) return 0;
        sr_str first = word_get(c, out->lo[i]);
        out->ex[i] = first.n == n ? out->lo[i] : NONE; /* it starts with p: equal if as long */
        if (out->ex[i] == NONE) out->all_exact = false;
    }
    return 1;
}

/* Word i of the list a ++ t. */
static inline uint32_t cat_at(const uint32_t *a, uint32_t na, const uint32_t *t, uint32_t i) {
    return i < na ? a[i] : t[i - na];
}

static bool cat_exact(const query *q, const uint32_t *a, uint32_t na, const uint32_t *t,
                      uint32_t nt) {
    if (!q->all_exact || na + nt != q->k) return false;
    for (uint32_t i = 0; i < q->k; i++)
        if (cat_at(a, na, t, i) != q->ex[i]) return false;
    return true;
}

static bool cat_prefix(const query *q, const uint32_t *a, uint32_t na, const uint32_t *t,
                       uint32_t nt) {
    uint32_t k = q->k;
    if (na + nt < k) return false;
    for (uint32_t i = 0; i + 1 < k; i++)
        if (cat_at(a, na, t, i) != q->ex[i]) return false;
    uint32_t w = cat_at(a, na, t, k - 1);
    return w >= q->lo[k - 1] && w < q->hi[k - 1];
}

static bool all_words(const query *q, const uint32_t *a, uint32_t na, const uint32_t *t,
                      uint32_t nt) {
    for (uint32_t i = 0; i < q->k; i++) {
        bool found = false;
        for (uint32_t j = 0; j < na + nt && !found; j++) {
            uint32_t w = cat_at(a, na, t, j);
            found = w >= q->lo[i] && w < q->hi[i];
        }
        if (!found) return false;
    }
    return true;
}

/* The class of entity ent for q, or -1: no match, or a kind not asked for. */
static int classify(const sr_catalog *c, const query *q, uint32_t ent) {
    const uint32_t *a, *t;
    uint32_t na, nt;
    if (!(ent & SONG_BIT)) {
        if (!(q->kinds & SR_CATALOG_ARTIST)) return -1;
        ent_words(c, ent, &a, &na);
        if (cat_exact(q, a, na, NULL, 0)) return SR_CATALOG_EXACT;
        if (cat_prefix(q, a, na, NULL, 0)) return SR_CATALOG_PREFIX;
        return all_words(q, a, na, NULL, 0) ? SR_CATALOG_WORD : -1;
    }
    if (!(q->kinds & SR_CATALOG_SONG)) return -1;
    ent_words(c, ent, &t, &nt);
    ent_words(c, c->item_artist[ent & ~SONG_BIT], &a, &na);
    if (nt && (cat_exact(q, NULL, 0, t, nt) || cat_exact(q, a, na, t, nt))) return SR_CATALOG_EXACT;
    if (cat_prefix(q, NULL, 0, t, nt) || cat_prefix(q, a, na, t, nt)) return SR_CATALOG_PREFIX;
    return all_words(q, a, na, t, nt) ? SR_CATALOG_WORD : -1;
}

/* A range of an index that one class scans. */
typedef struct source {
    const ridx *x;
    uint32_t lo, hi;
} source;

typedef struct sources {
    source s[MAX_WORDS + 4];
    uint32_t n;
    uint64_t entries;
} sources;

static void add_source(sources *ss, const ridx *x, uint32_t lo, uint32_t hi) {
    if (lo >= hi) return;
    ss->s[ss->n++] = (source){x, lo, hi};
    ss->entries += hi - lo;
}

/* One class's hits, kept sorted in out[0..n) with room for need. */
typedef struct region {
    sr_catalog_hit *out;
    size_t n, need;
    int cls;
} region;

static bool hit_before(const sr_catalog_hit *a, const sr_catalog_hit *b) {
    if (a->pop != b->pop) return a->pop > b->pop;
    if (a->kind != b->kind) return a->kind < b->kind;
    return a->id < b->id;
}

static void region_add(const sr_catalog *c, region *g, uint32_t ent) {
    sr_catalog_hit h = {.pop = ent_pop(c, ent),
                        .id = ent & ~SONG_BIT,
                        .kind = (ent & SONG_BIT) ? SR_CATALOG_SONG : SR_CATALOG_ARTIST,
                        .match = (uint8_t)g->cls};
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (hit_before(&g->out[mid], &h))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < g->n && g->out[lo].id == h.id && g->out[lo].kind == h.kind) return; /* seen */
    if (lo == g->need) return;                                                   /* full */
    size_t move = (g->n < g->need ? g->n : g->need - 1) - lo;
    memmove(g->out + lo + 1, g->out + lo, move * sizeof h);
    g->out[lo] = h;
    if (g->n < g->need) g->n++;
}

static void consider(const sr_catalog *c, const query *q, region *g, uint32_t rank) {
    uint32_t ent = c->rank_ent[rank];
    if (classify(c, q, ent) == g->cls) region_add(c, g, ent);
}

/* Entries of [lo, hi) of x with ranks in [t0, t1). A block's candidates are gathered
 * first with their signatures and entities prefetched, so the cache misses overlap. */
static void scan(const sr_catalog *c, const query *q, region *g, const source *src, uint32_t t0,
                 uint32_t t1) {
    const ridx *x = src->x;
    uint32_t i = src->lo, cand[1u << BLOCK_BITS];
    while (i < src->hi) {
        uint32_t b = i >> BLOCK_BITS, bend = (b + 1) << BLOCK_BITS, n = 0;
        if (bend > src->hi || bend == 0) bend = src->hi;
        if (x->bmin[b] >= t1 || x->bmax[b] < t0) {
            i = bend;
            continue;
        }
        for (; i < bend; i++) {
            uint32_t r = x->r[i];
            if (r < t0 || r >= t1) continue;
            cand[n++] = r;
            __builtin_prefetch(&c->sig[r]);
            __builtin_prefetch(&c->rank_ent[r]);
        }
        for (uint32_t j = 0; j < n; j++)
            if ((c->sig[cand[j]] & q->need) == q->need) consider(c, q, g, cand[j]);
    }
}

/* Fills the class's share of out from its sources, best first (see the top). */
static size_t run_class(const sr_catalog *c, const query *q, int cls, const sources *ss,
                        sr_catalog_hit *out, size_t need) {
    region g = {out, 0, need, cls};
    if (!need || !ss->entries) return 0;
    uint64_t R = c->n_ranks;
    uint64_t t0 = 0, t1 = R;
    if (ss->entries > SINGLE_PASS) {
        t1 = need * 4 * R / ss->entries;
        if (t1 < 256) t1 = 256;
        if (t1 > R) t1 = R;
    }
    for (;;) {
        for (uint32_t i = 0; i < ss->n; i++) scan(c, q, &g, &ss->s[i], (uint32_t)t0, (uint32_t)t1);
        if (g.n == need || t1 >= R) break;
        /* Ranks [0, t1) held g.n hits: aim for the rest with half as much again. */
        uint64_t next = g.n ? t1 + (need - g.n) * t1 / g.n * 3 / 2 : t1 * 8;
        if (next < 2 * t1) next = 2 * t1;
        if (next > 16 * t1) next = 16 * t1;
        t0 = t1;
        t1 = next < R ? next : R;
    }
    return g.n;
}

/* Songs by an artist named exactly q[0..j) whose track matches the rest: the artist's
 * songs or the matching tracks, whichever range is smaller. */
static void add_split_sources(const sr_catalog *c, const query *q, bool exact, sources *ss) {
    for (uint32_t j = 1; j < q->k; j++) {
        if (q->ex[j - 1] == NONE) break;
        uint32_t a0, a1, t0, t1;
        seq_range_exact(c, &c->na, q->ex, j, &a0, &a1);
        if (a0 == a1) continue;
        if (exact)
            seq_range_exact(c, &c->nt, q->ex + j, q->k - j, &t0, &t1);
        else
            seq_range_prefix(c, &c->nt, q->ex + j, q->k - j - 1, q->lo[q->k - 1], q->hi[q->k - 1],
                             &t0, &t1);
        if (t0 == t1) continue;
        uint32_t s0 = c->s_off[a0], s1 = c->s_off[a1];
        if (s1 - s0 < t1 - t0)
            add_source(ss, &c->s, s0, s1);
        else
            add_source(ss, &c->nt, t0, t1);
    }
}

int sr_catalog_search(const sr_catalog *c, const char *q, size_t len, unsigned kinds, size_t limit,
                      sr_catalog_hit *out) {
    if (len > SR_CATALOG_QUERY_MAX) return SR_E_LIMIT;
    if (limit > SR_CATALOG_LIMIT_MAX) limit = SR_CATALOG_LIMIT_MAX;
    kinds &= SR_CATALOG_ALL;
    if (!len || !limit || !kinds || !sr_utf8_valid(q, len)) return 0;
    query qq;
    int r = parse_query(c, q, len, &qq);
    if (r <= 0) return r;
    qq.kinds = kinds;
    bool art = kinds & SR_CATALOG_ARTIST, song = kinds & SR_CATALOG_SONG;
    uint32_t k = qq.k;
    size_t n = 0;
    sources ss;

    if (qq.all_exact) { /* EXACT */
        ss.n = 0, ss.entries = 0;
        uint32_t lo, hi;
        if (art) {
            seq_range_exact(c, &c->na, qq.ex, k, &lo, &hi);
            add_source(&ss, &c->na, lo, hi);
        }
        if (song) {
            seq_range_exact(c, &c->nt, qq.ex, k, &lo, &hi);
            add_source(&ss, &c->nt, lo, hi);
            add_split_sources(c, &qq, true, &ss);
        }
        n += run_class(c, &qq, SR_CATALOG_EXACT, &ss, out + n, limit - n);
    }
    { /* PREFIX */
        ss.n = 0, ss.entries = 0;
        uint32_t alo, ahi, lo, hi;
        seq_range_prefix(c, &c->na, qq.ex, k - 1, qq.lo[k - 1], qq.hi[k - 1], &alo, &ahi);
        if (art) add_source(&ss, &c->na, alo, ahi);
        if (song) {
            seq_range_prefix(c, &c->nt, qq.ex, k - 1, qq.lo[k - 1], qq.hi[k - 1], &lo, &hi);
            add_source(&ss, &c->nt, lo, hi);
            add_source(&ss, &c->s, c->s_off[alo], c->s_off[ahi]); /* "artist track" */
            add_split_sources(c, &qq, false, &ss);
        }
        n += run_class(c, &qq, SR_CATALOG_PREFIX, &ss, out + n, limit - n);
    }
    { /* WORD: driven by the query word with the fewest entries */
        uint64_t best = UINT64_MAX;
        uint32_t d = 0;
        for (uint32_t i = 0; i < k; i++) {
            uint64_t m = (art ? c->wa_off[qq.hi[i]] - c->wa_off[qq.lo[i]] : 0) +
                         (song ? c->ws_off[qq.hi[i]] - c->ws_off[qq.lo[i]] : 0);
            if (m < best) best = m, d = i;
        }
        ss.n = 0, ss.entries = 0;
        if (art) add_source(&ss, &c->wa, c->wa_off[qq.lo[d]], c->wa_off[qq.hi[d]]);
        if (song) add_source(&ss, &c->ws, c->ws_off[qq.lo[d]], c->ws_off[qq.hi[d]]);
        n += run_class(c, &qq, SR_CATALOG_WORD, &ss, out + n, limit - n);
    }
    return (int)n;
}
