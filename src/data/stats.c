/* Dataset statistics (stats.h): one pass over the pairs, one over songs and artists.
 *
 * The pass over users reads pair_song/pair_value sequentially and scatters into two
 * per-item accumulators (song listens; artist listeners via a stamp), which is the only
 * random access. At full scale those are cache misses, so the loop prefetches the song
 * and artist lines 32 pairs ahead: 150M pairs over 4.66M songs take about 3.5 s on a
 * 2-core VM with it and 25 s without. Artist listens are summed from song listens
 * afterwards (n_songs updates instead of n_pairs).
 *
 * Exact medians come from quickselect with a three-way partition and a pseudo-random
 * pivot (Hoare's FIND with Dijkstra's Dutch-flag split): most songs have
 * one or two listeners, and a two-way partition would go quadratic on such runs.
 * Play-count percentiles come from a counting histogram, since play counts are small
 * integers; the rare count of 65536 or more goes to a side list that is sorted.
 *
 * Input is not trusted: every id and CSR offset is range-checked (SR_E_CORRUPT), so a
 * hand-built or damaged dataset cannot make this read out of bounds.
 */
#include "data/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

#define HIST_CAP 65536u /* play counts below this are counted in an array */
#define N_SLOTS  (2 * SR_STATS_MAX_DISTINCT_RATINGS)
#define PREFETCH 32 /* pairs ahead whose song and artist lines are prefetched */

const double sr_stats_pct_levels[SR_STATS_N_PCT] = {50, 75, 90, 95, 99, 99.9};
/* The same levels in units of 1/100000, so ranks are computed in integers (99.9% of n
 * in floating point can land just above an integer and round the rank up by one). */
static const uint64_t pct_levels_e5[SR_STATS_N_PCT] = {50000, 75000, 90000, 95000, 99000, 99900};

/* 1-based nearest rank of level (in 1/100000) among n values: ceil(level * n / 1e5),
 * at least 1. n * 100000 fits in 64 bits for any n below 1.8e14. */
static uint64_t nearest_rank(uint64_t level_e5, uint64_t n) {
    uint64_t r = (level_e5 * n + 99999) / 100000;
    return r ? r : 1;
}

/* ---- selection ---------------------------------------------------------------- */

static uint64_t xorshift64(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Returns the k-th smallest (0-based) of a[0..n), reordering a. Expected O(n). */
static uint64_t select_kth(uint64_t *a, size_t n, size_t k) {
    size_t lo = 0, hi = n;
    uint64_t rng = 0x9e3779b97f4a7c15u ^ (uint64_t)n;
    while (hi - lo > 1) {
        uint64_t pivot = a[lo + xorshift64(&rng) % (hi - lo)];
        /* [lo, lt) < pivot, [lt, i) == pivot, [gt, hi) > pivot */
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            uint64_t v = a[i];
            if (v < pivot) {
                a[i++] = a[lt];
                a[lt++] = v;
            } else if (v > pivot) {
                a[i] = a[--gt];
                a[gt] = v;
            } else {
                i++;
            }
        }
        if (k < lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return pivot;
    }
    return a[k];
}

/* Summary of a[0..n) whose sum is known; reorders a. */
static void summarize(uint64_t *a, size_t n, uint64_t sum, sr_stats_summary *s) {
    memset(s, 0, sizeof *s);
    if (!n) return;
    uint64_t mn = a[0], mx = a[0];
    for (size_t i = 1; i < n; i++) {
        if (a[i] < mn) mn = a[i];
        if (a[i] > mx) mx = a[i];
    }
    s->n = n;
    s->min = (double)mn;
    s->max = (double)mx;
    s->mean = (double)sum / (double)n;
    s->median = (double)select_kth(a, n, (size_t)(nearest_rank(50000, n) - 1));
}

/* ---- top-N heaps -------------------------------------------------------------- */

typedef struct topheap {
    sr_stats_item *it; /* (cap) min-heap: it[0] is the worst kept */
    uint32_t n, cap;
    bool by_listeners;
} topheap;

static uint64_t key(const sr_stats_item *x, bool by_listeners) {
    return by_listeners ? x->listeners : x->listens;
}

/* True when a ranks before b: larger key, then smaller id. */
static bool better(const sr_stats_item *a, const sr_stats_item *b, bool by_listeners) {
    uint64_t ka = key(a, by_listeners), kb = key(b, by_listeners);
    return ka != kb ? ka > kb : a->id < b->id;
}

static void heap_push(topheap *h, sr_stats_item x) {
    if (!h->cap) return;
    sr_stats_item *it = h->it;
    if (h->n < h->cap) {
        size_t i = h->n++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!better(&it[p], &x, h->by_listeners)) break;
            it[i] = it[p];
            i = p;
        }
        it[i] = x;
        return;
    }
    if (!better(&x, &it[0], h->by_listeners)) return; /* the common case: one compare */
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && better(&it[c], &it[c + 1], h->by_listeners)) c++;
        if (!better(&x, &it[c], h->by_listeners)) break;
        it[i] = it[c];
        i = c;
    }
    it[i] = x;
}

static int cmp_by_listens(const void *a, const void *b) {
    return better(a, b, false) ? -1 : better(b, a, false) ? 1 : 0;
}
static int cmp_by_listeners(const void *a, const void *b) {
    return better(a, b, true) ? -1 : better(b, a, true) ? 1 : 0;
}

/* Sorts the kept items best first. */
static void heap_finish(topheap *h) {
    if (h->n)
        qsort(h->it, h->n, sizeof *h->it, h->by_listeners ? cmp_by_listeners : cmp_by_listens);
}

/* ---- ratings: distinct values ------------------------------------------------- */

typedef struct distinct {
    float key[N_SLOTS];
    uint64_t count[N_SLOTS];
    bool used[N_SLOTS];
    uint32_t n;
    bool overflow; /* more than SR_STATS_MAX_DISTINCT_RATINGS values seen */
} distinct;

static void distinct_add(distinct *t, float v) {
    if (t->overflow) return;
    if (v == 0) v = 0; /* -0 and +0 are one value */
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint32_t h = (bits * 2654435761u) >> 16;
    for (uint32_t i = 0;; i++) {
        uint32_t j = (h + i) % N_SLOTS;
        if (!t->used[j]) {
            if (t->n == SR_STATS_MAX_DISTINCT_RATINGS) {
                t->overflow = true;
                return;
            }
            t->used[j] = true;
            t->key[j] = v;
            t->count[j] = 1;
            t->n++;
            return;
        }
        if (t->key[j] == v) {
            t->count[j]++;
            return;
        }
    }
}

static int cmp_bin(const void *a, const void *b) {
    double x = ((const sr_stats_bin *)a)->lo, y = ((const sr_stats_bin *)b)->lo;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* ---- the computation ---------------------------------------------------------- */

/* Distinct listeners of an artist, counted with a stamp: pairs come grouped by user,
 * so "stamp != u + 1" is true once per (user, artist). */
typedef struct artist_acc {
    uint32_t stamp; /* last user + 1 that was counted */
    uint32_t users; /* distinct listeners */
} artist_acc;

typedef struct scratch {
    uint64_t *user_val;       /* (n_users) */
    uint64_t *song_val;       /* (n_songs) listens, later listeners */
    uint64_t *artist_listens; /* (n_artists) summed from songs after the pass */
    artist_acc *artist;       /* (n_artists) */
    uint64_t *hist;           /* (HIST_CAP) pairs by play count */
    uint64_t *big;            /* (n_big) play counts >= HIST_CAP */
    size_t n_big, cap_big;
    distinct *dist;
} scratch;

static void scratch_free(scratch *w) {
    sr_free(w->user_val);
    sr_free(w->song_val);
    sr_free(w->artist_listens);
    sr_free(w->artist);
    sr_free(w->hist);
    sr_free(w->big);
    sr_free(w->dist);
}

/* Checks a CSR offset array: ptr[0] == 0, non-decreasing, ptr[n] == n_pairs. */
static bool csr_ok(const uint64_t *ptr, uint32_t n, uint64_t n_pairs) {
    if (!ptr || ptr[0] != 0 || ptr[n] != n_pairs) return false;
    for (uint32_t i = 0; i < n; i++)
        if (ptr[i + 1] < ptr[i]) return false;
    return true;
}

/* Value k-th smallest (1-based rank r) of the play counts in w. */
static uint64_t plays_at_rank(const scratch *w, uint64_t r) {
    uint64_t cum = 0;
    for (uint64_t c = 0; c < HIST_CAP; c++) {
        cum += w->hist[c];
        if (cum >= r) return c;
    }
    return w->big[r - cum - 1];
}

static void finish_plays(sr_stats *st, scratch *w, uint64_t sum, uint64_t max) {
    uint64_t n = st->n_pairs;
    if (w->n_big) qsort(w->big, w->n_big, sizeof *w->big, cmp_u64);
    uint64_t below_cap = 0, r10_sum = 0, r10_n = 0;
    for (uint64_t c = 0; c < SR_STATS_PLAYS_CAP; c++) {
        st->plays_hist[c] = w->hist[c];
        below_cap += w->hist[c];
    }
    st->plays_hist[SR_STATS_PLAYS_CAP] = n - below_cap;
    st->pairs_once = w->hist[1];
    st->pairs_twice = w->hist[2];
    for (int c = 3; c <= 9; c++) st->pairs_3_9 += w->hist[c];
    st->pairs_10_plus = n - w->hist[0] - w->hist[1] - w->hist[2] - st->pairs_3_9;
    for (int r = 1; r <= 9; r++) st->rating10_hist[r] = w->hist[r];
    st->rating10_hist[10] = st->pairs_10_plus;
    for (int r = 1; r <= 10; r++) {
        r10_sum += (uint64_t)r * st->rating10_hist[r];
        r10_n += st->rating10_hist[r];
    }
    st->rating10_mean = r10_n ? (double)r10_sum / (double)r10_n : 0;
    if (!n) return;
    sr_stats_summary *s = &st->plays_per_pair;
    s->n = n;
    s->min = (double)plays_at_rank(w, 1);
    s->max = (double)max;
    s->mean = (double)sum / (double)n;
    s->median = (double)plays_at_rank(w, nearest_rank(50000, n));
    for (int i = 0; i < SR_STATS_N_PCT; i++)
        st->plays_pct[i] = (double)plays_at_rank(w, nearest_rank(pct_levels_e5[i], n));
}

/* Rating histogram: distinct values when few, else equal-width bins (second pass). */
static sr_err finish_ratings(sr_stats *st, const sr_dataset *ds, scratch *w, double sum,
                             double sumsq) {
    sr_stats_summary *s = &st->ratings;
    if (!s->n) return SR_OK;
    s->mean = sum / (double)s->n;
    /* sum and sumsq of ratings (small multiples of 0.5 in practice) are exact in double
     * far beyond 1e9 ratings, so the one-pass formula loses nothing here. */
    double var = sumsq / (double)s->n - s->mean * s->mean;
    st->rating_std = var > 0 ? sqrt(var) : 0;
    distinct *t = w->dist;
    if (!t->overflow) {
        st->rating_bins = sr_mallocarray(t->n, sizeof *st->rating_bins);
        if (!st->rating_bins) return SR_E_NOMEM;
        uint32_t k = 0;
        for (uint32_t j = 0; j < N_SLOTS; j++)
            if (t->used[j])
                st->rating_bins[k++] = (sr_stats_bin){t->key[j], t->key[j], t->count[j]};
        st->n_rating_bins = k;
        st->rating_bins_exact = true;
        qsort(st->rating_bins, k, sizeof *st->rating_bins, cmp_bin);
    } else {
        uint32_t nb = SR_STATS_RATING_BINS;
        st->rating_bins = sr_calloc(nb, sizeof *st->rating_bins);
        if (!st->rating_bins) return SR_E_NOMEM;
        double lo = s->min, width = (s->max - s->min) / nb;
        for (uint32_t b = 0; b < nb; b++) {
            st->rating_bins[b].lo = lo + width * b;
            st->rating_bins[b].hi = b + 1 == nb ? s->max : lo + width * (b + 1);
        }
        for (uint64_t i = 0; i < ds->n_pairs; i++) {
            double v = ds->pair_value[i];
            if (!isfinite(v)) continue;
            uint32_t b = width > 0 ? (uint32_t)((v - lo) / width) : 0;
            st->rating_bins[b < nb ? b : nb - 1].count++;
        }
        st->n_rating_bins = nb;
    }
    /* The median from the bins is exact only for distinct values; with equal-width
     * bins it is the bin's lower edge. */
    uint64_t r = nearest_rank(50000, s->n), cum = 0;
    for (uint32_t b = 0; b < st->n_rating_bins; b++) {
        cum += st->rating_bins[b].count;
        if (cum >= r) {
            s->median = st->rating_bins[b].lo;
            break;
        }
    }
    return SR_OK;
}

static sr_err alloc_top(topheap *h, uint32_t top_n, uint32_t n_items, bool by_listeners) {
    h->cap = top_n < n_items ? top_n : n_items;
    h->by_listeners = by_listeners;
    h->n = 0;
    if (!h->cap) return SR_OK;
    h->it = sr_mallocarray(h->cap, sizeof *h->it);
    return h->it ? SR_OK : SR_E_NOMEM;
}

sr_err sr_stats_compute(const sr_dataset *ds, uint32_t top_n, sr_stats *out, sr_diag *d) {
    sr_stats st;
    scratch w;
    topheap ha = {0}, hal = {0}, hs = {0}, hsl = {0};
    memset(&st, 0, sizeof st);
    memset(&w, 0, sizeof w);
    memset(out, 0, sizeof *out);
    sr_err e = SR_OK;

    st.kind = ds->kind;
    st.n_users = ds->n_users;
    st.n_artists = ds->n_artists;
    st.n_songs = ds->n_songs;
    st.n_pairs = ds->n_pairs;
    st.ts_min = ds->ts_min;
    st.ts_max = ds->ts_max;
    if (ds->n_users && ds->n_songs)
        st.density = (double)ds->n_pairs / ((double)ds->n_users * (double)ds->n_songs);

    if (!csr_ok(ds->user_ptr, ds->n_users, ds->n_pairs) ||
        !csr_ok(ds->song_ptr, ds->n_songs, ds->n_pairs) ||
        (ds->n_pairs && (!ds->pair_song || !ds->pair_value)) || (ds->n_songs && !ds->song_artist)) {
        e = sr_diag_set(d, SR_E_CORRUPT, "dataset: inconsistent pair index");
        goto fail;
    }
    for (uint32_t s = 0; s < ds->n_songs; s++) {
        if (ds->song_artist[s] >= ds->n_artists) {
            e = sr_diag_set(d, SR_E_CORRUPT, "dataset: song %u has artist id %u of %u", s,
                            ds->song_artist[s], ds->n_artists);
            goto fail;
        }
    }

    bool plays = ds->kind != SR_VALUE_RATINGS;
    w.user_val = sr_calloc(ds->n_users ? ds->n_users : 1, sizeof *w.user_val);
    w.song_val = sr_calloc(ds->n_songs ? ds->n_songs : 1, sizeof *w.song_val);
    w.artist_listens = sr_calloc(ds->n_artists ? ds->n_artists : 1, sizeof *w.artist_listens);
    w.artist = sr_calloc(ds->n_artists ? ds->n_artists : 1, sizeof *w.artist);
    if (plays)
        w.hist = sr_calloc(HIST_CAP, sizeof *w.hist);
    else
        w.dist = sr_calloc(1, sizeof *w.dist);
    if (!w.user_val || !w.song_val || !w.artist_listens || !w.artist ||
        (plays ? !w.hist : !w.dist)) {
        e = SR_E_NOMEM;
        goto fail;
    }
    if ((e = alloc_top(&ha, top_n, ds->n_artists, false)) ||
        (e = alloc_top(&hal, top_n, ds->n_artists, true)) ||
        (e = alloc_top(&hs, top_n, ds->n_songs, false)) ||
        (e = alloc_top(&hsl, top_n, ds->n_songs, true)))
        goto fail;

    /* The pass over all pairs, grouped by user. */
    uint64_t total = 0, max_plays = 0;
    double rsum = 0, rsumsq = 0;
    double rmin = INFINITY, rmax = -INFINITY;
    const uint32_t *pair_song = ds->pair_song, *song_artist = ds->song_artist;
    for (uint32_t u = 0; u < ds->n_users; u++) {
        uint64_t user_total = 0;
        for (uint64_t i = ds->user_ptr[u]; i < ds->user_ptr[u + 1]; i++) {
            /* The scattered updates below are cache misses at full scale (37 MB of song
             * counts); fetching the lines PREFETCH pairs ahead overlaps them. */
            if (i + PREFETCH < ds->n_pairs) {
                uint32_t fs = pair_song[i + PREFETCH];
                if (fs < ds->n_songs) {
                    __builtin_prefetch(&w.song_val[fs], 1);
                    __builtin_prefetch(&song_artist[fs], 0);
                }
                uint32_t hs2 = pair_song[i + PREFETCH / 2];
                if (hs2 < ds->n_songs) __builtin_prefetch(&w.artist[song_artist[hs2]], 1);
            }
            uint32_t s = pair_song[i];
            if (s >= ds->n_songs) {
                e = sr_diag_set(d, SR_E_CORRUPT, "dataset: pair %llu has song id %u of %u",
                                (unsigned long long)i, s, ds->n_songs);
                goto fail;
            }
            float v = ds->pair_value[i];
            uint64_t weight;
            if (plays) {
                /* NaN and values below 0.5 count as 0 plays (bin 0, reported apart). */
                weight =
                    v >= 0.5f ? (v < 1.8e19f ? (uint64_t)((double)v + 0.5) : UINT64_MAX / 2) : 0;
                if (weight < HIST_CAP) {
                    w.hist[weight]++;
                } else {
                    if (sr_grow((void **)&w.big, &w.cap_big, w.n_big + 1, sizeof *w.big)) {
                        e = SR_E_NOMEM;
                        goto fail;
                    }
                    w.big[w.n_big++] = weight;
                }
                if (weight > max_plays) max_plays = weight;
            } else {
                weight = 1;
                if (isfinite(v)) {
                    st.ratings.n++;
                    rsum += v;
                    rsumsq += (double)v * v;
                    if (v < rmin) rmin = v;
                    if (v > rmax) rmax = v;
                    distinct_add(w.dist, v);
                }
            }
            user_total += weight;
            w.song_val[s] += weight;
            artist_acc *a = &w.artist[song_artist[s]];
            if (a->stamp != u + 1) {
                a->stamp = u + 1;
                a->users++;
            }
            if (ds->pair_first && ds->pair_first[i]) st.pairs_timed++;
        }
        w.user_val[u] = user_total;
        total += user_total;
    }
    st.n_listens = total;

    if (plays) {
        finish_plays(&st, &w, total, max_plays);
    } else {
        if (st.ratings.n) {
            st.ratings.min = rmin;
            st.ratings.max = rmax;
        }
        if ((e = finish_ratings(&st, ds, &w, rsum, rsumsq))) goto fail;
    }

    /* Per-user distributions (user_val is reordered by each selection). */
    summarize(w.user_val, ds->n_users, total, &st.listens_per_user);
    for (uint32_t u = 0; u < ds->n_users; u++)
        w.user_val[u] = ds->user_ptr[u + 1] - ds->user_ptr[u];
    summarize(w.user_val, ds->n_users, ds->n_pairs, &st.songs_per_user);

    /* Songs: top lists, then song_val becomes listeners per song for the median. */
    for (uint32_t s = 0; s < ds->n_songs; s++) {
        sr_stats_item x = {s, w.song_val[s], ds->song_ptr[s + 1] - ds->song_ptr[s]};
        w.artist_listens[ds->song_artist[s]] += x.listens;
        heap_push(&hs, x);
        heap_push(&hsl, x);
        w.song_val[s] = x.listeners;
    }
    summarize(w.song_val, ds->n_songs, ds->n_pairs, &st.listeners_per_song);

    for (uint32_t a = 0; a < ds->n_artists; a++) {
        sr_stats_item x = {a, w.artist_listens[a], w.artist[a].users};
        heap_push(&ha, x);
        heap_push(&hal, x);
    }
    heap_finish(&ha);
    heap_finish(&hal);
    heap_finish(&hs);
    heap_finish(&hsl);
    st.n_top_artists = ha.n;
    st.n_top_songs = hs.n;
    st.top_artists_by_listens = ha.it;
    st.top_artists_by_listeners = hal.it;
    st.top_songs_by_listens = hs.it;
    st.top_songs_by_listeners = hsl.it;

    scratch_free(&w);
    *out = st;
    return SR_OK;

fail:
    scratch_free(&w);
    sr_free(ha.it);
    sr_free(hal.it);
    sr_free(hs.it);
    sr_free(hsl.it);
    sr_free(st.rating_bins);
    return e;
}

void sr_stats_deinit(sr_stats *st) {
    if (!st) return;
    sr_free(st->rating_bins);
    sr_free(st->top_artists_by_listens);
    sr_free(st->top_artists_by_listeners);
    sr_free(st->top_songs_by_listens);
    sr_free(st->top_songs_by_listeners);
    st->rating_bins = NULL;
    st->top_artists_by_listens = st->top_artists_by_listeners = NULL;
    st->top_songs_by_listens = st->top_songs_by_listeners = NULL;
    st->n_rating_bins = st->n_top_artists = st->n_top_songs = 0;
}
