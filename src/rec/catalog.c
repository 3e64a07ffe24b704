/* The catalog (catalog.h): build, exact lookups, search.
 *
 * Ranks. Every entity (artist or song) has a global rank: its place when all are
 * ordered by popularity descending, artists before songs on ties, then by id. The
 * indexes below hold ranks, so an entry is both the entity and its order key: "most
 * popular first" is "smallest rank first", and a search result is ordered by class,
 * then rank.
 *
 * Words. Distinct words of all names (search form, catalog.h) are sorted bytewise and
 * numbered in that order, so the words that start with a query word are one id range
 * [lo, hi), found by binary search. Artists keep their word ids. Tracks do not: an
 * ASCII track of at most INLINE_MAX bytes (nearly all of them) is split again when a
 * search looks at it, which costs about what reading stored ids did; the rest (XS: not
 * ASCII, or very long) keep their word ids. Word lists compare word by word, bytewise,
 * which is the order of their ids.
 *
 * Indexes (rank arrays in 64-entry blocks, with the min and max rank of every block):
 *   NA      artists sorted by word list (ties by rank): exact and prefix artist names
 *           are one range of it;
 *   NT      songs sorted by track word list (ties by rank): the same for tracks;
 *   S       songs by their artist's place in NA, then rank: an artist's songs, and the
 *           songs of all artists whose name starts with the query (one range of NA ->
 *           one range of S), which are PREFIX matches as "artist track";
 *   WA, WS  per word id, the ranks of the artists / songs that have it (a song has its
 *           artist's words too), ascending.
 *
 * Memory: 31 MB for 1M songs and 100k artists (80 MB with 32-bit arrays and every
 * track's word ids). Integer arrays are bit-packed at the width their largest value
 * needs (pk: a rank among 1.1M entities takes 21 bits). NA and NT, read at random by
 * binary search, are packed ranks; so is where each first word's lists start in them
 * (w0), which spares most of that search. S, WA and WS ascend within each group (an
 * artist's songs, a word's entities), so they are varint deltas, about 1.4 bytes an
 * entry: a block starts with its first rank, then each entry is its rank minus the one
 * before, or 0 and its rank where a group starts; a scan decodes the blocks it reaches.
 *
 * Search. The classes run best first: EXACT, PREFIX, WORD. Each has sources, ranges of
 * the indexes that hold every entity of the class (and others). The sources are scanned
 * in rounds of ranks [t0, t1): a block whose min and max miss the round is skipped.
 * Many ranges hold members only (NA's and NT's exact ranges, their prefix ranges less
 * the exact ones, the songs of artists whose name starts with the query: see
 * add_members_but()), and their entries enter the hits unchecked; tracks that match
 * the rest of the query after an exact artist name are checked by their artist's place
 * in NA. Any other candidate whose word signature (sig, see feature()) lacks a query
 * word is dropped with one memory access; the rest are classified from their words
 * (reading the track's name), a block's worth at a time with their names prefetched.
 * Members enter the caller's hit array, kept sorted. Once the class's share of the
 * array is full after a round, no later rank can enter and the class is done, so a
 * one-letter prefix with 100,000s of entries looks only at the most popular entities.
 * The first round ends at about need * n_ranks / entries (a few times the ranks
 * expected to hold the hits); later ones grow by the observed density. Nothing is
 * allocated: the query and the split names live on the stack.
 *
 * Exact lookups use two tables of ids grouped by the top bits of their key's hash
 * (XXH3): the ingest key of each artist (sr_normalize), and of each song (artist id +
 * normalised track, as the builder keys songs); artists get about 2 buckets each, songs
 * one per 8 (a bucket's songs of other artists are skipped by id). A hit is verified by
 * normalising the stored name again, so the tables hold no strings.
 */
#include "rec/catalog.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "data/normalize.h"
#include "util/mem.h"
#include "util/strmap.h"

#define SONG_BIT   0x80000000u /* an entity that is a song: item id | SONG_BIT */
#define NONE       UINT32_MAX  /* no such word, id or place */
#define BLOCK_BITS 6           /* 64-entry blocks */
#define BLOCK      (1u << BLOCK_BITS)
#define MAX_WORDS  SR_CATALOG_NAME_WORDS
#define FOLD_OPTS                                                                                  \
    (UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD |                    \
     UTF8PROC_STRIPMARK | UTF8PROC_IGNORE)
#define QUERY_CPS   2048 /* a folded query's code points: NFKC makes at most 18 of 3 bytes */
#define SINGLE_PASS 1024 /* sources this small are scanned in one round */
#define INLINE_MAX  512  /* bytes: an ASCII track up to this long is split when searched */

/* n unsigned integers of `bits` bits each, back to back (little-endian), read and
 * written with one unaligned 8-byte access; 8 bytes of padding keep that inside. */
typedef struct pk {
    uint8_t *b;
    uint32_t bits;
} pk;

/* A rank index: packed ranks (r, for NA and NT) or varint deltas (v, for S, WA, WS). */
typedef struct ridx {
    pk r;          /* (n) ranks; r.b NULL in a varint index */
    uint8_t *v;    /* blocks of varints; NULL in a packed index */
    pk boff;       /* (n_blocks) where each block starts in v */
    pk bmin, bmax; /* (n_blocks) least and greatest rank of each block */
    pk w0;         /* NA, NT: (n_words + 2) where lists of first word id w start: w0[w + 1];
                    * lists without words come first */
    uint32_t n;
} ridx;

/* Ids grouped by the bucket of their key: the top bits of its 64-bit hash. */
typedef struct keytab {
    pk dir;         /* (n_buckets + 1) where each bucket starts in ids */
    pk ids;         /* ids by bucket; names that are not valid UTF-8 are left out */
    uint32_t shift; /* the bucket of hash h is h >> shift */
} keytab;

struct sr_catalog {
    sr_strtab artists, tracks; /* borrowed */
    const uint32_t *item_artist, *item_pop;
    uint32_t n_artists, n_items, n_ranks;
    uint64_t *artist_pop; /* (n_artists) */
    pk rank_ent;          /* (n_ranks) artist id, or n_artists + item id */
    uint64_t *sig;        /* (n_ranks) word-prefix features of each entity's words */

    uint32_t n_words;
    pk word_off;           /* (n_words + 1) into word_blob */
    char *word_blob;       /* distinct words, sorted bytewise */
    pk art_w_off, art_w;   /* (n_artists + 1), word ids of each artist */
    uint32_t n_xs;         /* tracks not split when searched */
    pk xs_item, xs_off;    /* (n_xs) their items, ascending; (n_xs + 1) into xs_w */
    pk xs_w;               /* their word ids */
    uint32_t *aw_off, *aw; /* during the build only: (n_artists + 1), word ids of artists */
    uint32_t *tw_off, *tw; /* and (n_items + 1), of tracks */

    ridx na, nt, s, wa, ws;
    pk art_napos;      /* (n_artists) place of each artist in NA */
    pk s_off;          /* (n_artists + 1) songs of NA place p: S[s_off[p] ..] */
    pk wa_off, ws_off; /* (n_words + 1) */

    keytab akeys, skeys;
    size_t mem;
};

/* ---- small helpers ---------------------------------------------------------------- */

static void *arr(sr_catalog *c, size_t count, size_t size) {
    void *p = sr_mallocarray(count ? count : 1, size);
    if (p) c->mem += (count ? count : 1) * size;
    return p;
}

/* Room for n values up to max (< 2^32), all 0. */
static sr_err pk_alloc(sr_catalog *c, pk *p, size_t n, uint64_t max) {
    uint32_t bits = 1;
    while (bits < 32 && max >> bits) bits++;
    size_t bytes = ((uint64_t)n * bits + 7) / 8 + 8;
    p->bits = bits;
    p->b = sr_calloc(bytes, 1);
    if (!p->b) return SR_E_NOMEM;
    c->mem += bytes;
    return SR_OK;
}

static inline uint32_t pk_get(const pk *p, size_t i) {
    uint64_t bit = (uint64_t)i * p->bits, v;
    memcpy(&v, p->b + (bit >> 3), 8);
    return (uint32_t)((v >> (bit & 7)) & ((1ull << p->bits) - 1));
}

/* Sets value i, which must still be 0 (any order). */
static inline void pk_set(pk *p, size_t i, uint32_t x) {
    uint64_t bit = (uint64_t)i * p->bits, v;
    memcpy(&v, p->b + (bit >> 3), 8);
    v |= (uint64_t)x << (bit & 7);
    memcpy(p->b + (bit >> 3), &v, 8);
}

static inline uint32_t ent_at(const sr_catalog *c, uint32_t rank) {
    uint32_t v = pk_get(&c->rank_ent, rank);
    return v < c->n_artists ? v : (v - c->n_artists) | SONG_BIT;
}

static inline uint64_t ent_pop(const sr_catalog *c, uint32_t e) {
    if (e & SONG_BIT) return c->item_pop ? c->item_pop[e & ~SONG_BIT] : 0;
    return c->artist_pop[e];
}

static bool is_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return false;
    return true;
}

/* A 64-bit signature of an entity's words: for each word, the features of its first 1,
 * 2 and 3 bytes (hashed bits: one for 1 byte, two for 2 and 3). A query word of n bytes
 * needs the features of its first min(n, 3) bytes, so an entity whose signature lacks
 * them cannot match it, and most candidates of a multi-word query are rejected with one
 * memory access instead of reading their names. */
static uint64_t hashed_bit(const char *p, size_t n, uint64_t seed) {
    uint64_t h = seed * (n + 1);
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0xff51afd7ed558ccdull;
    return 1ull << (h >> 58);
}

static uint64_t feature(const char *p, size_t n) {
    uint64_t f = hashed_bit(p, n, 0x9e3779b97f4a7c15ull);
    return n > 1 ? f | hashed_bit(p, n, 0xc2b2ae3d27d4eb4full) : f;
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
    uint32_t a = pk_get(&c->word_off, id), b = pk_get(&c->word_off, id + 1);
    return (sr_str){c->word_blob + a, b - a};
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

/* ---- names' words at search time --------------------------------------------------- */

/* A name's words: word ids (artists, XS), or strings split from the name. */
typedef struct wlist {
    uint32_t id[MAX_WORDS]; /* a word id, or NONE: the word is w[i] */
    sr_str w[MAX_WORDS];
    uint32_t n;
} wlist;

/* Room to split one inline track. */
typedef struct splitbuf {
    wordsink ws;
    char b[INLINE_MAX + 8];
} splitbuf;

static inline bool inline_track(sr_str t) {
    return t.n <= INLINE_MAX && is_ascii(t.p, t.n);
}

/* List i of a packed (off, w) pair of word-id lists. */
static void ids_wlist(const sr_catalog *c, const pk *off, const pk *w, uint32_t i, wlist *out) {
    uint32_t a = pk_get(off, i);
    out->n = pk_get(off, i + 1) - a;
    for (uint32_t j = 0; j < out->n; j++) out->id[j] = pk_get(w, a + j);
}

static void artist_wlist(const sr_catalog *c, uint32_t a, wlist *out) {
    ids_wlist(c, &c->art_w_off, &c->art_w, a, out);
}

/* Item s's place in XS (it is there: its track is not inline). */
static uint32_t xs_find(const sr_catalog *c, uint32_t s) {
    uint32_t lo = 0, hi = c->n_xs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (pk_get(&c->xs_item, mid) < s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Item s's track words: split into sb (the build split it the same way), or from XS. */
static void track_wlist(const sr_catalog *c, uint32_t s, splitbuf *sb, wlist *out) {
    sr_str t = sr_strtab_get(&c->tracks, s);
    if (!inline_track(t)) {
        ids_wlist(c, &c->xs_off, &c->xs_w, xs_find(c, s), out);
        return;
    }
    sb->ws.b = sb->b, sb->ws.cap = sizeof sb->b, sb->ws.grow = false;
    sink_reset(&sb->ws);
    words_of_ascii(t.p, t.n, &sb->ws); /* at most t.n bytes: cannot fail */
    uint32_t st = 0;
    out->n = sb->ws.n_words;
    for (uint32_t j = 0; j < out->n; j++) {
        out->id[j] = NONE;
        out->w[j] = (sr_str){sb->b + st, sb->ws.end[j] - st};
        st = sb->ws.end[j];
    }
}

static inline sr_str wl_str(const sr_catalog *c, const wlist *l, uint32_t i) {
    return l->id[i] == NONE ? l->w[i] : word_get(c, l->id[i]);
}

/* Words of an entity's name: an artist's, or a song's track's. */
static void ent_wlist(const sr_catalog *c, uint32_t ent, splitbuf *sb, wlist *out) {
    if (ent & SONG_BIT)
        track_wlist(c, ent & ~SONG_BIT, sb, out);
    else
        artist_wlist(c, ent, out);
}

/* ---- rank indexes ----------------------------------------------------------------- */

static inline uint32_t varint(const uint8_t **pp) {
    const uint8_t *p = *pp;
    uint32_t v = *p & 0x7f;
    for (int s = 7; *p++ & 0x80; s += 7) v |= (uint32_t)(*p & 0x7f) << s;
    *pp = p;
    return v;
}

/* The ranks of block b of x into out; returns how many. */
static uint32_t ridx_block(const ridx *x, uint32_t b, uint32_t *out) {
    uint32_t i = b << BLOCK_BITS, n = x->n - i < BLOCK ? x->n - i : BLOCK;
    if (!x->v) {
        for (uint32_t j = 0; j < n; j++) out[j] = pk_get(&x->r, i + j);
        return n;
    }
    const uint8_t *p = x->v + pk_get(&x->boff, b);
    uint32_t r = varint(&p);
    out[0] = r;
    for (uint32_t j = 1; j < n; j++) {
        uint32_t d = varint(&p);
        r = d ? r + d : varint(&p); /* 0: a group starts */
        out[j] = r;
    }
    return n;
}

/* ---- queries, word lists, and the NA / NT ranges ---------------------------------- */

typedef struct query {
    uint32_t k;
    sr_str w[MAX_WORDS];                   /* the query's words, into bytes */
    uint32_t lo[MAX_WORDS], hi[MAX_WORDS]; /* word ids that start with word i */
    bool whole[MAX_WORDS];                 /* word i is a catalog word (id lo[i]) */
    bool all_exact;
    unsigned kinds;
    uint64_t need; /* features an entity must have (see feature()) */
    char bytes[4 * QUERY_CPS];
} query;

static inline bool str_eq(sr_str a, sr_str b) {
    return a.n == b.n && !memcmp(a.p, b.p, a.n);
}

static inline bool str_starts(sr_str w, sr_str p) {
    return w.n >= p.n && !memcmp(w.p, p.p, p.n);
}

/* Whether word i of l is query word j, or starts with it. */
static inline bool wl_is(const query *q, const wlist *l, uint32_t i, uint32_t j) {
    if (l->id[i] != NONE) return q->whole[j] && l->id[i] == q->lo[j];
    return str_eq(l->w[i], q->w[j]);
}

static inline bool wl_starts(const query *q, const wlist *l, uint32_t i, uint32_t j) {
    if (l->id[i] != NONE) return l->id[i] >= q->lo[j] && l->id[i] < q->hi[j];
    return str_starts(l->w[i], q->w[j]);
}

/* Compares list l with key[0..nk). With up, key's last word stands for the least
 * string above every word that starts with it. */
static int list_cmp(const sr_catalog *c, const wlist *l, const sr_str *key, uint32_t nk, bool up) {
    uint32_t n = l->n < nk ? l->n : nk;
    for (uint32_t i = 0; i < n; i++) {
        sr_str w = wl_str(c, l, i);
        int r = up && i + 1 == nk && str_starts(w, key[i])
                    ? -1
                    : bytes_cmp(w.p, w.n, key[i].p, key[i].n);
        if (r) return r;
    }
    return (l->n > nk) - (l->n < nk);
}

/* First place in [lo, hi) of x (NA or NT) whose word list is >= key. */
static uint32_t seq_lower(const sr_catalog *c, const ridx *x, uint32_t lo, uint32_t hi,
                          const sr_str *key, uint32_t nk, bool up) {
    splitbuf sb;
    wlist l;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        ent_wlist(c, ent_at(c, pk_get(&x->r, mid)), &sb, &l);
        if (list_cmp(c, &l, key, nk, up) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The places of x whose word list is q's words [from, from + n), then (with last) a
 * word that starts with q's last word. The lists of one first word are one range of x
 * (x->w0); only they are searched. */
static void seq_range(const sr_catalog *c, const ridx *x, const query *q, uint32_t from, uint32_t n,
                      bool last, uint32_t *lo, uint32_t *hi) {
    sr_str key[MAX_WORDS + 1];
    uint32_t z = q->k - 1;
    *lo = *hi = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!q->whole[from + i]) return;
    if (!n) { /* a first word that starts with q's last: no search */
        *lo = pk_get(&x->w0, q->lo[z] + 1);
        *hi = pk_get(&x->w0, q->hi[z] + 1);
        return;
    }
    uint32_t b0 = pk_get(&x->w0, q->lo[from] + 1), b1 = pk_get(&x->w0, q->lo[from] + 2);
    memcpy(key, q->w + from, n * sizeof *key);
    key[n] = last ? q->w[z] : (sr_str){"", 0}; /* "": below every word */
    *lo = seq_lower(c, x, b0, b1, key, n + last, false);
    *hi = seq_lower(c, x, *lo, b1, key, n + 1, last);
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
    uint64_t *key = sr_mallocarray(n ? n : 1, sizeof *key);
    uint64_t *key2 = sr_mallocarray(n ? n : 1, sizeof *key2);
    uint32_t *ent = sr_mallocarray(n ? n : 1, sizeof *ent);
    uint32_t *ent2 = sr_mallocarray(n ? n : 1, sizeof *ent2);
    sr_err e = SR_E_NOMEM;
    if (!key || !key2 || !ent || !ent2) goto out;
    for (uint32_t a = 0; a < c->n_artists; a++) ent[a] = a, key[a] = ~c->artist_pop[a];
    for (uint32_t s = 0; s < c->n_items; s++) {
        ent[c->n_artists + s] = c->n_artists + s;
        key[c->n_artists + s] = ~(uint64_t)(c->item_pop ? c->item_pop[s] : 0);
    }
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
    if ((e = pk_alloc(c, &c->rank_ent, n, n ? n - 1 : 0))) goto out;
    for (uint32_t r = 0; r < n; r++) pk_set(&c->rank_ent, r, ent[r]);
out:
    sr_free(key);
    sr_free(key2);
    sr_free(ent);
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

/* Words of one strtab into new (off, w) with interned (insertion-order) ids. */
static sr_err words_of_tab(const sr_strtab *t, sr_strmap *dict, foldbuf *fb, wordsink *ws,
                           uint32_t **off_out, uint32_t **w_out) {
    uint32_t *off = sr_mallocarray((size_t)t->n + 1, sizeof *off);
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
    uint32_t *fit = n_w ? sr_realloc(w, n_w * sizeof *w) : NULL; /* give back the slack */
    *w_out = fit ? fit : w;
    return SR_OK;
nomem:
    sr_free(w);
    return SR_E_NOMEM;
}

/* Packs the word-id lists (off, w) of n names. */
static sr_err pack_lists(sr_catalog *c, const uint32_t *off, const uint32_t *w, uint32_t n,
                         pk *poff, pk *pw) {
    sr_err e;
    if ((e = pk_alloc(c, poff, (size_t)n + 1, off[n])) ||
        (e = pk_alloc(c, pw, off[n], c->n_words ? c->n_words - 1 : 0)))
        return e;
    for (uint32_t i = 0; i <= n; i++) pk_set(poff, i, off[i]);
    for (uint32_t i = 0; i < off[n]; i++) pk_set(pw, i, w[i]);
    return SR_OK;
}

/* Tokenises every name, then numbers the distinct words in sorted order. Artists' lists
 * are packed; tracks' stay in tw_off / tw for the rest of the build. */
static sr_err build_words(sr_catalog *c) {
    sr_strmap dict;
    foldbuf fb = {NULL, 0};
    wordsink ws = {.grow = true};
    word_ref *refs = NULL;
    uint32_t *remap = NULL;
    sr_err e = SR_E_NOMEM;
    if (sr_strmap_init(&dict)) return SR_E_NOMEM;
    if ((e = words_of_tab(&c->artists, &dict, &fb, &ws, &c->aw_off, &c->aw))) goto out;
    if ((e = words_of_tab(&c->tracks, &dict, &fb, &ws, &c->tw_off, &c->tw))) goto out;
    e = SR_E_LIMIT;
    if (dict.blob_len >= UINT32_MAX) goto out;
    e = SR_E_NOMEM;
    uint32_t nw = dict.n;
    refs = sr_mallocarray(nw ? nw : 1, sizeof *refs);
    remap = sr_mallocarray(nw ? nw : 1, sizeof *remap);
    c->word_blob = arr(c, dict.blob_len, 1);
    if (!refs || !remap || !c->word_blob ||
        pk_alloc(c, &c->word_off, (size_t)nw + 1, dict.blob_len))
        goto out;
    for (uint32_t i = 0; i < nw; i++) {
        sr_str s = sr_strmap_get(&dict, i);
        refs[i] = (word_ref){s.p, (uint32_t)s.n, i};
    }
    qsort(refs, nw, sizeof *refs, word_ref_cmp);
    uint32_t pos = 0;
    for (uint32_t i = 0; i < nw; i++) {
        remap[refs[i].id] = i;
        pk_set(&c->word_off, i, pos);
        memcpy(c->word_blob + pos, refs[i].p, refs[i].n);
        pos += refs[i].n;
    }
    pk_set(&c->word_off, nw, pos);
    c->n_words = nw;
    for (uint32_t i = 0; i < c->aw_off[c->n_artists]; i++) c->aw[i] = remap[c->aw[i]];
    for (uint32_t i = 0; i < c->tw_off[c->n_items]; i++) c->tw[i] = remap[c->tw[i]];
    e = pack_lists(c, c->aw_off, c->aw, c->n_artists, &c->art_w_off, &c->art_w);
out:
    sr_strmap_deinit(&dict);
    sr_free(fb.cp);
    sr_free(ws.b);
    sr_free(refs);
    sr_free(remap);
    return e;
}

/* Word ids of an entity's name (during the build): an artist's, or a song's track's. */
static inline uint32_t ent_ids(const sr_catalog *c, uint32_t ent, const uint32_t **w) {
    uint32_t i = ent & ~SONG_BIT;
    const uint32_t *off = ent & SONG_BIT ? c->tw_off : c->aw_off;
    const uint32_t *base = ent & SONG_BIT ? c->tw : c->aw, n = off[i + 1] - off[i];
    *w = n ? base + off[i] : base; /* no words at all (items-only data): base may be NULL */
    return n;
}

static int seq_cmp(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb) {
    uint32_t n = na < nb ? na : nb;
    for (uint32_t i = 0; i < n; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return (na > nb) - (na < nb);
}

/* Compares the word lists of ranks ra and rb from word `from` on. */
static int words_from_cmp(const sr_catalog *c, uint32_t ra, uint32_t rb, uint32_t from) {
    const uint32_t *a, *b;
    uint32_t na = ent_ids(c, ent_at(c, ra), &a), nb = ent_ids(c, ent_at(c, rb), &b);
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
    const uint32_t *w;
    for (size_t i = 0; i < n; i++) {
        uint32_t nw = ent_ids(c, ent_at(c, r[i]), &w);
        uint64_t k0 = nw > from ? (uint64_t)w[from] + 1 : 0;
        uint64_t k1 = nw > from + 1 ? (uint64_t)w[from + 1] + 1 : 0;
        buf[i] = (keyed){k0 << 32 | k1, r[i]};
    }
    msort(c, buf, tmp, n, from);
    for (size_t i = 0; i < n; i++) r[i] = buf[i].rank;
}

/* Packs ranks r[0..n) into x, with each block's min and max. */
static sr_err ridx_pack(sr_catalog *c, ridx *x, const uint32_t *r, uint32_t n) {
    size_t nb = ((size_t)n + BLOCK - 1) / BLOCK;
    sr_err e;
    x->n = n;
    if ((e = pk_alloc(c, &x->r, n, c->n_ranks)) || (e = pk_alloc(c, &x->bmin, nb, c->n_ranks)) ||
        (e = pk_alloc(c, &x->bmax, nb, c->n_ranks)))
        return e;
    for (uint32_t i = 0; i < n; i++) pk_set(&x->r, i, r[i]);
    for (size_t b = 0; b < nb; b++) {
        uint32_t mn = UINT32_MAX, mx = 0;
        for (size_t i = b * BLOCK; i < n && i < (b + 1) * BLOCK; i++) {
            if (r[i] < mn) mn = r[i];
            if (r[i] > mx) mx = r[i];
        }
        pk_set(&x->bmin, b, mn);
        pk_set(&x->bmax, b, mx);
    }
    return SR_OK;
}

/* x->w0 for the ranks r[0..n) sorted by word list: where each first word's lists
 * start (the buckets between two first words that occur start where the later does). */
static sr_err build_w0(sr_catalog *c, ridx *x, const uint32_t *r, uint32_t n) {
    const uint32_t *w;
    uint32_t b = 0; /* buckets below b are set */
    sr_err e = pk_alloc(c, &x->w0, (size_t)c->n_words + 2, n);
    if (e) return e;
    for (uint32_t p = 0; p < n; p++) {
        uint32_t fb = ent_ids(c, ent_at(c, r[p]), &w) ? w[0] + 1 : 0; /* bucket 0: no words */
        while (b <= fb) pk_set(&x->w0, b++, p);
    }
    while (b <= c->n_words + 1) pk_set(&x->w0, b++, n);
    return SR_OK;
}

/* ---- grouped indexes: S, WA, WS --------------------------------------------------- */

/* The groups an entity is in: its words (WA, WS), or its artist's NA place (S). */
typedef uint32_t (*group_fn)(const sr_catalog *c, uint32_t ent, uint32_t *out);

/* The distinct word ids of entity ent (a song: its track's and its artist's). */
static uint32_t ent_all_words(const sr_catalog *c, uint32_t ent, uint32_t *out) {
    const uint32_t *w;
    uint32_t k = 0;
    for (int part = 0; part < 2; part++) {
        uint32_t n;
        if (part == 0)
            n = ent_ids(c, ent, &w);
        else if (ent & SONG_BIT)
            n = ent_ids(c, c->item_artist[ent & ~SONG_BIT], &w);
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

/* Passes over entities in rank order read their word lists at random: prefetch the
 * offsets of rank r + 16 and the lists of rank r + 8, so the misses overlap. */
static void prefetch_words(const sr_catalog *c, uint32_t r) {
    if (r + 16 < c->n_ranks) {
        uint32_t e = ent_at(c, r + 16), i = e & ~SONG_BIT;
        __builtin_prefetch(e & SONG_BIT ? &c->tw_off[i] : &c->aw_off[i]);
        if (e & SONG_BIT) __builtin_prefetch(&c->item_artist[i]);
    }
    if (r + 8 < c->n_ranks) {
        uint32_t e = ent_at(c, r + 8), i = e & ~SONG_BIT;
        __builtin_prefetch(e & SONG_BIT ? &c->tw[c->tw_off[i]] : &c->aw[c->aw_off[i]]);
        if (e & SONG_BIT) __builtin_prefetch(&c->aw_off[c->item_artist[i]]);
    }
}

static uint32_t song_artist_place(const sr_catalog *c, uint32_t ent, uint32_t *out) {
    out[0] = pk_get(&c->art_napos, c->item_artist[ent & ~SONG_BIT]);
    return 1;
}

static unsigned varint_len(uint32_t v) {
    unsigned n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint32_t v) {
    for (; v >= 0x80; v >>= 7) *p++ = (uint8_t)(v | 0x80);
    *p++ = (uint8_t)v;
    return p;
}

/* Writes entry i, rank r, of the group that starts at entry g0 and whose previous
 * rank is last, at p; returns the end. */
static uint8_t *put_entry(uint8_t *p, uint32_t i, uint32_t g0, uint32_t r, uint32_t last) {
    if (!(i & (BLOCK - 1))) return put_varint(p, r); /* a block starts */
    if (i != g0) return put_varint(p, r - last);
    *p = 0; /* a group starts */
    return put_varint(p + 1, r);
}

/* Scratch of build_grouped. */
typedef struct gscratch {
    uint32_t *start; /* (n_groups + 1) first entry of each group */
    uint32_t *fill;  /* (n_groups) its next entry */
    uint32_t *last;  /* (n_groups) the rank before that */
    uint64_t *cur;   /* (n_groups) where that goes in v */
    uint64_t *boff;  /* (n_blocks) where each block starts in v */
    uint32_t *bmin, *bmax;
} gscratch;

static void gscratch_free(gscratch *g) {
    sr_free(g->start);
    sr_free(g->fill);
    sr_free(g->last);
    sr_free(g->cur);
    sr_free(g->boff);
    sr_free(g->bmin);
    sr_free(g->bmax);
}

/* Counts the entries of each group (into start[g + 1]), in id order. */
static void grouped_count(const sr_catalog *c, bool songs, group_fn of, gscratch *g) {
    uint32_t grp[2 * MAX_WORDS], n = songs ? c->n_items : c->n_artists;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = of(c, songs ? i | SONG_BIT : i, grp);
        for (uint32_t j = 0; j < k; j++) g->start[grp[j] + 1]++;
    }
}

/* Writes the entries in rank order, each group into its own stretch of v, and with
 * wf (the features of each word) the entities' signatures. */
static void grouped_write(sr_catalog *c, bool songs, group_fn of, uint8_t *v, const uint64_t *wf,
                          gscratch *g) {
    uint32_t grp[2 * MAX_WORDS];
    for (uint32_t r = 0; r < c->n_ranks; r++) {
        uint32_t ent = ent_at(c, r);
        if (((ent & SONG_BIT) != 0) != songs) continue;
        prefetch_words(c, r);
        uint32_t k = of(c, ent, grp);
        uint64_t f = 0;
        for (uint32_t j = 0; j < k; j++) {
            uint32_t gi = grp[j], i = g->fill[gi]++, b = i >> BLOCK_BITS;
            if (!(i & (BLOCK - 1))) g->boff[b] = g->cur[gi];
            g->cur[gi] = (uint64_t)(put_entry(v + g->cur[gi], i, g->start[gi], r, g->last[gi]) - v);
            g->last[gi] = r;
            if (r < g->bmin[b]) g->bmin[b] = r;
            if (r > g->bmax[b]) g->bmax[b] = r;
            if (wf) f |= wf[gi];
        }
        if (wf) c->sig[r] = f;
    }
}

/* A varint index of (group, rank) pairs by group, then rank, for the songs or the
 * artists, and *off: where each group starts. Entries are counted; written, each
 * group into room for its count at the widest an entry can be (as wide as a rank,
 * and one byte more for the group's first); then the groups are moved down to close
 * the gaps and the bytes trimmed. */
static sr_err build_grouped(sr_catalog *c, bool songs, uint32_t n_groups, group_fn of, ridx *x,
                            pk *off, const uint64_t *wf) {
    size_t ng = n_groups ? n_groups : 1;
    gscratch g = {sr_calloc(ng + 1, sizeof(uint32_t)),
                  sr_mallocarray(ng, sizeof(uint32_t)),
                  sr_calloc(ng, sizeof(uint32_t)),
                  sr_mallocarray(ng, sizeof(uint64_t)),
                  NULL,
                  NULL,
                  NULL};
    uint8_t *v = NULL;
    sr_err e = SR_E_NOMEM;
    if (!g.start || !g.fill || !g.last || !g.cur) goto out;
    grouped_count(c, songs, of, &g);
    uint64_t n = 0;
    for (uint32_t i = 0; i < n_groups; i++) n += g.start[i + 1];
    e = SR_E_LIMIT;
    if (n >= UINT32_MAX) goto out;
    e = SR_E_NOMEM;
    uint32_t width = varint_len(c->n_ranks), nb = (uint32_t)((n + BLOCK - 1) / BLOCK);
    for (uint32_t i = 0; i < n_groups; i++) g.start[i + 1] += g.start[i];
    for (uint32_t i = 0; i < n_groups; i++)
        g.fill[i] = g.start[i], g.cur[i] = (uint64_t)g.start[i] * width + i;
    g.boff = sr_mallocarray(nb ? nb : 1, sizeof *g.boff);
    g.bmin = sr_mallocarray(nb ? nb : 1, sizeof *g.bmin);
    g.bmax = sr_calloc(nb ? nb : 1, sizeof *g.bmax);
    v = sr_malloc(n * width + ng);
    if (!g.boff || !g.bmin || !g.bmax || !v) goto out;
    memset(g.bmin, 0xff, (nb ? nb : 1) * sizeof *g.bmin);
    grouped_write(c, songs, of, v, wf, &g);
    uint64_t pos = 0;
    for (uint32_t i = 0; i < n_groups; i++) {
        uint64_t from = (uint64_t)g.start[i] * width + i, len = g.cur[i] - from;
        memmove(v + pos, v + from, len);
        for (uint64_t b = (g.start[i] + BLOCK - 1) / BLOCK; b * BLOCK < g.start[i + 1]; b++)
            g.boff[b] -= from - pos;
        pos += len;
    }
    e = SR_E_LIMIT;
    if (pos >= UINT32_MAX) goto out;
    e = SR_E_NOMEM;
    x->v = sr_realloc(v, pos ? pos : 1); /* smaller: it cannot fail, but be safe */
    if (!x->v) x->v = v;
    v = NULL;
    c->mem += pos ? pos : 1;
    x->n = (uint32_t)n;
    if (pk_alloc(c, &x->boff, nb, pos) || pk_alloc(c, &x->bmin, nb, c->n_ranks) ||
        pk_alloc(c, &x->bmax, nb, c->n_ranks) || pk_alloc(c, off, ng + 1, n))
        goto out;
    for (uint32_t b = 0; b < nb; b++) {
        pk_set(&x->boff, b, (uint32_t)g.boff[b]);
        pk_set(&x->bmin, b, g.bmin[b]);
        pk_set(&x->bmax, b, g.bmax[b]);
    }
    for (uint32_t i = 0; i <= n_groups; i++) pk_set(off, i, g.start[i]);
    e = SR_OK;
out:
    sr_free(v);
    gscratch_free(&g);
    return e;
}

/* WA and WS, and every entity's signature: the features of its words. */
static sr_err build_word_indexes(sr_catalog *c) {
    uint64_t *wf = sr_mallocarray(c->n_words ? c->n_words : 1, sizeof *wf);
    sr_err e = SR_E_NOMEM;
    c->sig = arr(c, c->n_ranks, sizeof *c->sig);
    if (wf && c->sig) {
        for (uint32_t i = 0; i < c->n_words; i++) {
            sr_str w = word_get(c, i);
            wf[i] = word_features(w.p, w.n);
        }
        if (!(e = build_grouped(c, false, c->n_words, ent_all_words, &c->wa, &c->wa_off, wf)))
            e = build_grouped(c, true, c->n_words, ent_all_words, &c->ws, &c->ws_off, wf);
    }
    sr_free(wf);
    return e;
}

/* NA, the artists' places in it, and S. */
static sr_err build_artist_order(sr_catalog *c) {
    uint32_t na = c->n_artists;
    uint32_t *r = sr_mallocarray(na ? na : 1, sizeof *r);
    keyed *buf = sr_mallocarray(na ? na : 1, sizeof *buf);
    keyed *tmp = sr_mallocarray(na ? na : 1, sizeof *tmp);
    sr_err e = SR_E_NOMEM;
    if (!r || !buf || !tmp) goto out;
    uint32_t k = 0;
    for (uint32_t rank = 0; rank < c->n_ranks; rank++)
        if (!(ent_at(c, rank) & SONG_BIT)) r[k++] = rank;
    sort_by_words(c, r, na, 0, buf, tmp);
    if ((e = ridx_pack(c, &c->na, r, na)) || (e = build_w0(c, &c->na, r, na)) ||
        (e = pk_alloc(c, &c->art_napos, na, na ? na - 1 : 0)))
        goto out;
    for (uint32_t p = 0; p < na; p++) pk_set(&c->art_napos, ent_at(c, r[p]), p);
    e = build_grouped(c, true, na, song_artist_place, &c->s, &c->s_off, NULL);
out:
    sr_free(r);
    sr_free(buf);
    sr_free(tmp);
    return e;
}

/* NT: a counting sort of songs (in rank order) by first track word, then a merge sort
 * of each bucket by the rest. */
static sr_err build_track_order(sr_catalog *c) {
    uint32_t nb = c->n_words + 1; /* bucket 0: no words */
    uint32_t *start = sr_calloc((size_t)nb + 1, sizeof *start);
    uint32_t *r = sr_mallocarray(c->n_items ? c->n_items : 1, sizeof *r);
    keyed *buf = NULL, *tmp = NULL;
    sr_err e = SR_E_NOMEM;
    if (!start || !r) goto out;
    for (uint32_t s = 0; s < c->n_items; s++) {
        uint32_t o = c->tw_off[s];
        start[(o < c->tw_off[s + 1] ? c->tw[o] + 1 : 0) + 1]++;
    }
    uint32_t most = 0; /* songs in the largest bucket */
    for (uint32_t b = 0; b < nb; b++) {
        if (start[b + 1] > most) most = start[b + 1];
        start[b + 1] += start[b];
    }
    buf = sr_mallocarray(most ? most : 1, sizeof *buf);
    tmp = sr_mallocarray(most ? most : 1, sizeof *tmp);
    if (!buf || !tmp) goto out;
    /* start[b] is the fill cursor of bucket b; afterwards it is the bucket's end. */
    for (uint32_t rank = 0; rank < c->n_ranks; rank++) {
        uint32_t ent = ent_at(c, rank);
        if (!(ent & SONG_BIT)) continue;
        uint32_t s = ent & ~SONG_BIT, o = c->tw_off[s];
        uint32_t b = o < c->tw_off[s + 1] ? c->tw[o] + 1 : 0;
        r[start[b]++] = rank;
    }
    uint32_t lo = 0;
    for (uint32_t b = 0; b < nb; b++) {
        uint32_t hi = start[b];
        if (hi - lo > 1 && b > 0) sort_by_words(c, r + lo, hi - lo, 1, buf, tmp);
        lo = hi;
    }
    if (!(e = ridx_pack(c, &c->nt, r, c->n_items))) e = build_w0(c, &c->nt, r, c->n_items);
out:
    sr_free(start);
    sr_free(r);
    sr_free(buf);
    sr_free(tmp);
    return e;
}

/* XS: the word ids of the tracks that are not split at search time; then the build's
 * copies of every name's word ids go. */
static sr_err build_xs(sr_catalog *c) {
    uint32_t m = 0;
    uint64_t nw = 0;
    sr_err e;
    for (uint32_t s = 0; s < c->n_items; s++)
        if (!inline_track(sr_strtab_get(&c->tracks, s))) m++, nw += c->tw_off[s + 1] - c->tw_off[s];
    c->n_xs = m;
    if ((e = pk_alloc(c, &c->xs_item, m, c->n_items)) || (e = pk_alloc(c, &c->xs_off, m + 1, nw)) ||
        (e = pk_alloc(c, &c->xs_w, nw, c->n_words)))
        return e;
    uint32_t k = 0, at = 0;
    for (uint32_t s = 0; s < c->n_items; s++) {
        if (inline_track(sr_strtab_get(&c->tracks, s))) continue;
        pk_set(&c->xs_item, k, s);
        for (uint32_t i = c->tw_off[s]; i < c->tw_off[s + 1]; i++) pk_set(&c->xs_w, at++, c->tw[i]);
        pk_set(&c->xs_off, ++k, at);
    }
    sr_free(c->tw_off);
    sr_free(c->tw);
    sr_free(c->aw_off);
    sr_free(c->aw);
    c->tw_off = c->tw = c->aw_off = c->aw = NULL;
    return SR_OK;
}

/* ---- exact-key tables ------------------------------------------------------------- */

/* The song key: artist id (4 bytes, as the builder) + normalised track. */
static int song_key(char **buf, size_t *cap, uint32_t artist, sr_str tkey, sr_str *out) {
    if (sr_grow((void **)buf, cap, tkey.n + 4, 1)) return -1;
    memcpy(*buf, &artist, 4);
    if (tkey.n) memcpy(*buf + 4, tkey.p, tkey.n);
    *out = (sr_str){*buf, tkey.n + 4};
    return 0;
}

/* log2 of the bucket count for n ids at per_bucket each: at least 1 (shift < 64). */
static uint32_t bucket_bits(uint32_t n, uint32_t per_bucket) {
    uint32_t bits = 1;
    while (bits < 31 && ((uint64_t)per_bucket << bits) < n) bits++;
    return bits;
}

/* Fills t from bkt (n): id i's bucket + 1, or 0 to leave it out. */
static sr_err keytab_fill(sr_catalog *c, keytab *t, const uint32_t *bkt, uint32_t n,
                          uint32_t bits) {
    uint32_t nb = 1u << bits, kept = 0;
    uint32_t *start = sr_calloc((size_t)nb + 1, sizeof *start);
    sr_err e = SR_E_NOMEM;
    if (!start) return e;
    for (uint32_t i = 0; i < n; i++)
        if (bkt[i]) start[bkt[i]]++, kept++;
    for (uint32_t b = 0; b < nb; b++) start[b + 1] += start[b];
    if ((e = pk_alloc(c, &t->dir, (size_t)nb + 1, kept)) ||
        (e = pk_alloc(c, &t->ids, kept, n ? n - 1 : 0)))
        goto out;
    for (uint32_t b = 0; b <= nb; b++) pk_set(&t->dir, b, start[b]);
    for (uint32_t i = 0; i < n; i++)
        if (bkt[i]) pk_set(&t->ids, start[bkt[i] - 1]++, i);
out:
    sr_free(start);
    return e;
}

static sr_err build_keys(sr_catalog *c) {
    uint32_t n = c->n_artists > c->n_items ? c->n_artists : c->n_items;
    uint32_t *bkt = sr_mallocarray(n ? n : 1, sizeof *bkt);
    sr_normbuf nb = {NULL, 0};
    char *kb = NULL;
    size_t kcap = 0;
    sr_str key, tkey;
    sr_err e = SR_E_NOMEM;
    if (!bkt) return e;
    uint32_t bits = bucket_bits(c->n_artists, 1) + 1; /* about 2 buckets an artist */
    c->akeys.shift = 64 - bits;
    e = SR_OK;
    for (uint32_t a = 0; a < c->n_artists && !e; a++) {
        sr_str s = sr_strtab_get(&c->artists, a);
        bkt[a] = 0;
        if (!sr_utf8_valid(s.p, s.n) || (e = sr_normalize(s, &nb, &key))) continue;
        bkt[a] = (uint32_t)(sr_hash_bytes(key.p, key.n) >> c->akeys.shift) + 1;
    }
    if (e || (e = keytab_fill(c, &c->akeys, bkt, c->n_artists, bits))) goto out;
    bits = bucket_bits(c->n_items, 8);
    c->skeys.shift = 64 - bits;
    for (uint32_t i = 0; i < c->n_items && !e; i++) {
        sr_str s = sr_strtab_get(&c->tracks, i);
        bkt[i] = 0;
        if (!sr_utf8_valid(s.p, s.n) || (e = sr_normalize(s, &nb, &tkey))) continue;
        if (song_key(&kb, &kcap, c->item_artist[i], tkey, &key))
            e = SR_E_NOMEM;
        else
            bkt[i] = (uint32_t)(sr_hash_bytes(key.p, key.n) >> c->skeys.shift) + 1;
    }
    if (!e) e = keytab_fill(c, &c->skeys, bkt, c->n_items, bits);
out:
    sr_free(bkt);
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
        (e = build_track_order(c)) || (e = build_word_indexes(c)) || (e = build_xs(c)) ||
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
    sr_free(x->w0.b);
    sr_free(x->r.b);
    sr_free(x->v);
    sr_free(x->boff.b);
    sr_free(x->bmin.b);
    sr_free(x->bmax.b);
}

void sr_catalog_free(sr_catalog *c) {
    if (!c) return;
    pk *packed[] = {&c->rank_ent, &c->word_off,  &c->art_w_off, &c->art_w,     &c->xs_item,
                    &c->xs_off,   &c->xs_w,      &c->art_napos, &c->s_off,     &c->wa_off,
                    &c->ws_off,   &c->akeys.dir, &c->akeys.ids, &c->skeys.dir, &c->skeys.ids};
    for (size_t i = 0; i < sizeof packed / sizeof *packed; i++) sr_free(packed[i]->b);
    ridx *idx[] = {&c->na, &c->nt, &c->s, &c->wa, &c->ws};
    for (size_t i = 0; i < sizeof idx / sizeof *idx; i++) ridx_free(idx[i]);
    sr_free(c->artist_pop);
    sr_free(c->sig);
    sr_free(c->word_blob);
    sr_free(c->tw_off);
    sr_free(c->tw);
    sr_free(c->aw_off);
    sr_free(c->aw);
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
    uint32_t p = pk_get(&c->art_napos, artist);
    return pk_get(&c->s_off, p + 1) - pk_get(&c->s_off, p);
}

size_t sr_catalog_artist_songs(const sr_catalog *c, uint32_t artist, size_t offset, size_t limit,
                               uint32_t *items) {
    uint32_t n = sr_catalog_artist_n_songs(c, artist), blk[BLOCK];
    if (offset >= n) return 0;
    size_t k = n - offset < limit ? n - offset : limit;
    uint32_t i = pk_get(&c->s_off, pk_get(&c->art_napos, artist)) + (uint32_t)offset;
    for (size_t m = 0; m < k;) { /* decode S a block at a time */
        uint32_t b = i >> BLOCK_BITS, base = b << BLOCK_BITS, got = ridx_block(&c->s, b, blk);
        for (; m < k && i - base < got; i++) items[m++] = ent_at(c, blk[i - base]) & ~SONG_BIT;
    }
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
    const keytab *at = &c->akeys, *st = &c->skeys;
    uint32_t b = (uint32_t)(sr_hash_bytes(akey.p, akey.n) >> at->shift);
    *best = NONE;
    for (uint32_t j = pk_get(&at->dir, b), end = pk_get(&at->dir, b + 1); j < end; j++) {
        uint32_t a = pk_get(&at->ids, j);
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
        uint32_t sb = (uint32_t)(sr_hash_bytes(skey.p, skey.n) >> st->shift);
        for (uint32_t q = pk_get(&st->dir, sb), qend = pk_get(&st->dir, sb + 1); q < qend; q++) {
            uint32_t s = pk_get(&st->ids, q);
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

/* A song's artist as query_key, except that an empty name (or only white space) is the
 * empty key: the artist of items-only data (rating triples, play-count triplets, where a
 * song is its item id), which build_keys keys like any other, so that its songs are found
 * by their track alone. */
static sr_err artist_key(const char *s, size_t n, sr_normbuf *b, sr_str *key) {
    if (!sr_utf8_valid(s, n)) return SR_E_NOTFOUND;
    return sr_normalize((sr_str){s, n}, b, key);
}

static sr_err find_song(const sr_catalog *c, lookup *l, const char *artist, size_t artist_len,
                        const char *track, size_t track_len, uint32_t *item) {
    sr_str akey, tkey;
    uint32_t best;
    sr_err e;
    if ((e = artist_key(artist, artist_len, &l->qa, &akey))) return e;
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
    /* No split names a song: the whole text may be the track of a song without artist. */
    if (e == SR_E_NOTFOUND) e = find_song(c, &l, "", 0, text, len, item);
    lookup_free(&l);
    return e;
}

/* ---- search ----------------------------------------------------------------------- */

/* Folds and splits q, and finds each word's id range. Returns 1 when there is
 * something to search, 0 when nothing can match, SR_E_LIMIT for too many words. */
static int parse_query(const sr_catalog *c, const char *q, size_t len, query *out) {
    int32_t cp[QUERY_CPS];
    wordsink w = {.b = out->bytes, .cap = sizeof out->bytes};
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
        const char *p = out->bytes + st;
        size_t n = w.end[i] - st;
        st = w.end[i];
        out->w[i] = (sr_str){p, n};
        out->need |= feature(p, n < 3 ? n : 3);
        out->lo[i] = word_lower(c, p, n);
        out->hi[i] = word_prefix_end(c, p, n, out->lo[i]);
        if (out->lo[i] == out->hi[i]) return 0;
        out->whole[i] = word_get(c, out->lo[i]).n == n; /* it starts with p: equal if as long */
        if (!out->whole[i]) out->all_exact = false;
    }
    return 1;
}

/* Whether word i of the list a ++ t is query word j, or starts with it. */
static inline bool cat_is(const query *q, const wlist *a, const wlist *t, uint32_t i, uint32_t j) {
    return i < a->n ? wl_is(q, a, i, j) : wl_is(q, t, i - a->n, j);
}

static inline bool cat_starts(const query *q, const wlist *a, const wlist *t, uint32_t i,
                              uint32_t j) {
    return i < a->n ? wl_starts(q, a, i, j) : wl_starts(q, t, i - a->n, j);
}

static bool cat_exact(const query *q, const wlist *a, const wlist *t) {
    if (!q->all_exact || a->n + t->n != q->k) return false;
    for (uint32_t i = 0; i < q->k; i++)
        if (!cat_is(q, a, t, i, i)) return false;
    return true;
}

static bool cat_prefix(const query *q, const wlist *a, const wlist *t) {
    uint32_t k = q->k;
    if (a->n + t->n < k) return false;
    for (uint32_t i = 0; i + 1 < k; i++)
        if (!cat_is(q, a, t, i, i)) return false;
    return cat_starts(q, a, t, k - 1, k - 1);
}

static bool all_words(const query *q, const wlist *a, const wlist *t) {
    for (uint32_t i = 0; i < q->k; i++) {
        bool found = false;
        for (uint32_t j = 0; j < a->n + t->n && !found; j++) found = cat_starts(q, a, t, j, i);
        if (!found) return false;
    }
    return true;
}

static const wlist no_words; /* n = 0 */

/* The class of entity ent for q, or -1: no match, or a kind not asked for. */
static int classify(const sr_catalog *c, const query *q, uint32_t ent) {
    const wlist *none = &no_words;
    wlist a, t;
    splitbuf sb;
    if (!(ent & SONG_BIT)) {
        if (!(q->kinds & SR_CATALOG_ARTIST)) return -1;
        artist_wlist(c, ent, &a);
        if (cat_exact(q, &a, none)) return SR_CATALOG_EXACT;
        if (cat_prefix(q, &a, none)) return SR_CATALOG_PREFIX;
        return all_words(q, &a, none) ? SR_CATALOG_WORD : -1;
    }
    if (!(q->kinds & SR_CATALOG_SONG)) return -1;
    uint32_t s = ent & ~SONG_BIT;
    track_wlist(c, s, &sb, &t);
    artist_wlist(c, c->item_artist[s], &a);
    if (t.n && (cat_exact(q, none, &t) || cat_exact(q, &a, &t))) return SR_CATALOG_EXACT;
    if (cat_prefix(q, none, &t) || cat_prefix(q, &a, &t)) return SR_CATALOG_PREFIX;
    return all_words(q, &a, &t) ? SR_CATALOG_WORD : -1;
}

/* How a source's entries are checked: classified; none (all are in the class, but for
 * the ranks in ex); or in the class when their artist's NA place is in [a0, a1). */
enum { CHECK_CLASSIFY, CHECK_NONE, CHECK_ARTIST };

#define MAX_EXCLUDED 64

/* A range of an index that one class scans. */
typedef struct source {
    const ridx *x;
    uint32_t lo, hi;
    int check;
    uint32_t a0, a1;
    const uint32_t *ex; /* (n_ex) */
    uint32_t n_ex;
} source;

typedef struct sources {
    source s[MAX_WORDS + 8];
    uint32_t n;
    uint64_t entries;
} sources;

/* Adds [lo, hi) of x, unless empty; returns it, or NULL. */
static source *add_source(sources *ss, const ridx *x, uint32_t lo, uint32_t hi, int check) {
    if (lo >= hi) return NULL;
    ss->s[ss->n] = (source){x, lo, hi, check, 0, 0, NULL, 0};
    ss->entries += hi - lo;
    return &ss->s[ss->n++];
}

/* Members [lo, hi) of x, but for the sub-range [xlo, xhi) (or nothing when empty).
 * Why the PREFIX ranges need no classifying: an artist of NA's prefix range, or a song
 * of NT's, starts with the query (class PREFIX) and is EXACT only when its name is the
 * query, NA's or NT's exact range, which is left out (a song's "artist track" is the
 * query only when the artist has no words and the track is the query). A song of S's
 * range (its artist's name starts with the query) is EXACT only when its own track is
 * the query, which needs a query of whole words. */
static void add_members_but(sources *ss, const ridx *x, uint32_t lo, uint32_t hi, uint32_t xlo,
                            uint32_t xhi) {
    if (xlo >= xhi) xlo = xhi = hi;
    add_source(ss, x, lo, xlo, CHECK_NONE);
    add_source(ss, x, xhi, hi, CHECK_NONE);
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
    sr_catalog_hit h;
    memset(&h, 0, sizeof h); /* padding too: callers may compare hits as bytes */
    h.pop = ent_pop(c, ent), h.id = ent & ~SONG_BIT, h.match = (uint8_t)g->cls;
    h.kind = (ent & SONG_BIT) ? SR_CATALOG_SONG : SR_CATALOG_ARTIST;
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

static inline const void *pk_addr(const pk *p, size_t i) {
    return p->b + (uint64_t)i * p->bits / 8;
}

/* Prefetches what classify() reads first of entity ent: the track name's offset and
 * the artist id of a song, the word offsets of an artist (stage 0); then the track's
 * bytes and the artist's word offsets (stage 1). */
static void prefetch_ent(const sr_catalog *c, uint32_t ent, int stage) {
    uint32_t s = ent & ~SONG_BIT;
    if (!(ent & SONG_BIT)) {
        __builtin_prefetch(stage ? pk_addr(&c->art_w, pk_get(&c->art_w_off, ent))
                                 : pk_addr(&c->art_w_off, ent));
    } else if (!stage) {
        __builtin_prefetch(&c->tracks.off[s]);
        __builtin_prefetch(&c->item_artist[s]);
    } else {
        __builtin_prefetch(c->tracks.data + c->tracks.off[s]);
        __builtin_prefetch(pk_addr(&c->art_w_off, c->item_artist[s]));
    }
}

/* Checks candidates (ranks, their signatures and entities prefetched) in stages, so
 * that their cache misses overlap: members enter g at once; the others are kept when
 * their signature has the query's features and their kind is asked for (names
 * prefetched), then checked. */
static void check_batch(const sr_catalog *c, const query *q, region *g, const source *src,
                        uint32_t *cand, uint32_t n) {
    uint32_t m = 0;
    for (uint32_t k = 0; k < n; k++) {
        if (src->check != CHECK_NONE && (c->sig[cand[k]] & q->need) != q->need) continue;
        bool out = false;
        for (uint32_t j = 0; j < src->n_ex && !out; j++) out = cand[k] == src->ex[j];
        if (out) continue;
        uint32_t ent = ent_at(c, cand[k]);
        if (!(q->kinds & (ent & SONG_BIT ? SR_CATALOG_SONG : SR_CATALOG_ARTIST))) continue;
        if (src->check == CHECK_CLASSIFY) prefetch_ent(c, ent, 0);
        if (src->check == CHECK_ARTIST) __builtin_prefetch(&c->item_artist[ent & ~SONG_BIT]);
        cand[m++] = ent;
    }
    if (src->check == CHECK_CLASSIFY)
        for (uint32_t k = 0; k < m; k++) prefetch_ent(c, cand[k], 1);
    for (uint32_t k = 0; k < m; k++) {
        uint32_t ent = cand[k], p;
        switch (src->check) {
        case CHECK_NONE:
            region_add(c, g, ent);
            break;
        case CHECK_ARTIST:
            p = pk_get(&c->art_napos, c->item_artist[ent & ~SONG_BIT]);
            if (p >= src->a0 && p < src->a1) region_add(c, g, ent);
            break;
        default:
            if (classify(c, q, ent) == g->cls) region_add(c, g, ent);
        }
    }
}

/* Entries of [lo, hi) of x with ranks in [t0, t1), checked in batches of about a block
 * (check_batch()). */
static void scan(const sr_catalog *c, const query *q, region *g, const source *src, uint32_t t0,
                 uint32_t t1) {
    const ridx *x = src->x;
    uint32_t blk[BLOCK], cand[2 * BLOCK], n = 0;
    for (uint32_t b = src->lo >> BLOCK_BITS; (uint64_t)b << BLOCK_BITS < src->hi; b++) {
        if (pk_get(&x->bmin, b) >= t1 || pk_get(&x->bmax, b) < t0) continue;
        uint32_t base = b << BLOCK_BITS, m = ridx_block(x, b, blk);
        uint32_t j = src->lo > base ? src->lo - base : 0;
        uint32_t end = src->hi - base < m ? src->hi - base : m;
        for (; j < end; j++) {
            uint32_t r = blk[j];
            if (r < t0 || r >= t1) continue;
            cand[n++] = r;
            if (src->check != CHECK_NONE) __builtin_prefetch(&c->sig[r]);
            __builtin_prefetch(pk_addr(&c->rank_ent, r));
        }
        if (n >= BLOCK) check_batch(c, q, g, src, cand, n), n = 0;
    }
    check_batch(c, q, g, src, cand, n);
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
 * songs (classified), or the matching tracks (checked by artist when that makes them
 * members), whichever range is smaller. */
static void add_split_sources(const sr_catalog *c, const query *q, bool exact, sources *ss) {
    uint32_t k = q->k;
    for (uint32_t j = 1; j < k; j++) {
        if (!q->whole[j - 1]) break;
        uint32_t a0, a1, t0, t1;
        seq_range(c, &c->na, q, 0, j, false, &a0, &a1);
        if (a0 == a1) continue;
        seq_range(c, &c->nt, q, j, k - j - !exact, !exact, &t0, &t1);
        if (t0 == t1) continue;
        uint32_t s0 = pk_get(&c->s_off, a0), s1 = pk_get(&c->s_off, a1);
        bool by_artist = exact || !q->all_exact; /* else a prefix match may be exact */
        if (by_artist ? (uint64_t)(s1 - s0) * 4 < t1 - t0 : s1 - s0 < t1 - t0) {
            add_source(ss, &c->s, s0, s1, CHECK_CLASSIFY); /* classifying costs more */
        } else if (by_artist) {
            source *src = add_source(ss, &c->nt, t0, t1, CHECK_ARTIST);
            src->a0 = a0, src->a1 = a1;
        } else {
            add_source(ss, &c->nt, t0, t1, CHECK_CLASSIFY);
        }
    }
}

/* Entries of WA or WS for the words [lo, hi). */
static uint64_t word_entries(const pk *off, uint32_t lo, uint32_t hi) {
    return pk_get(off, hi) - pk_get(off, lo);
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

    /* EXACT, then PREFIX (see add_members_but() for why their ranges need no
     * classifying, except where the query is all whole words and an artist's song may
     * be an exact match of its own track). */
    uint32_t ea0 = 0, ea1 = 0, et0 = 0, et1 = 0; /* exact artist and track names */
    uint32_t ex[MAX_EXCLUDED];                   /* the ranks of NT's [et0, et1) */
    if (qq.all_exact) {
        ss.n = 0, ss.entries = 0;
        if (art) {
            seq_range(c, &c->na, &qq, 0, k, false, &ea0, &ea1);
            add_source(&ss, &c->na, ea0, ea1, CHECK_NONE);
        }
        if (song) {
            seq_range(c, &c->nt, &qq, 0, k, false, &et0, &et1);
            add_source(&ss, &c->nt, et0, et1, CHECK_NONE);
            add_split_sources(c, &qq, true, &ss);
        }
        n += run_class(c, &qq, SR_CATALOG_EXACT, &ss, out + n, limit - n);
    }
    {
        ss.n = 0, ss.entries = 0;
        uint32_t alo, ahi, lo, hi;
        seq_range(c, &c->na, &qq, 0, k - 1, true, &alo, &ahi);
        if (art) add_members_but(&ss, &c->na, alo, ahi, ea0, ea1);
        if (song) {
            seq_range(c, &c->nt, &qq, 0, k - 1, true, &lo, &hi);
            add_members_but(&ss, &c->nt, lo, hi, et0, et1);
            /* "artist track": members, but for songs whose track is the query */
            bool few = et1 - et0 <= MAX_EXCLUDED;
            source *src = add_source(&ss, &c->s, pk_get(&c->s_off, alo), pk_get(&c->s_off, ahi),
                                     few ? CHECK_NONE : CHECK_CLASSIFY);
            if (src && few) {
                for (uint32_t i = et0; i < et1; i++) ex[i - et0] = pk_get(&c->nt.r, i);
                src->ex = ex, src->n_ex = et1 - et0;
            }
            add_split_sources(c, &qq, false, &ss);
        }
        n += run_class(c, &qq, SR_CATALOG_PREFIX, &ss, out + n, limit - n);
    }
    { /* WORD: driven by the query word with the fewest entries */
        uint64_t best = UINT64_MAX;
        uint32_t d = 0;
        for (uint32_t i = 0; i < k; i++) {
            uint64_t m = (art ? word_entries(&c->wa_off, qq.lo[i], qq.hi[i]) : 0) +
                         (song ? word_entries(&c->ws_off, qq.lo[i], qq.hi[i]) : 0);
            if (m < best) best = m, d = i;
        }
        ss.n = 0, ss.entries = 0;
        if (art)
            add_source(&ss, &c->wa, pk_get(&c->wa_off, qq.lo[d]), pk_get(&c->wa_off, qq.hi[d]),
                       CHECK_CLASSIFY);
        if (song)
            add_source(&ss, &c->ws, pk_get(&c->ws_off, qq.lo[d]), pk_get(&c->ws_off, qq.hi[d]),
                       CHECK_CLASSIFY);
        n += run_class(c, &qq, SR_CATALOG_WORD, &ss, out + n, limit - n);
    }
    return (int)n;
}
