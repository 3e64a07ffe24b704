/* Shared-private helpers of the implicit-feedback models (item_knn.c, bpr.c): the
 * play-count weightings of the item-item model, the sorted-list lookups BPR checks its
 * negatives with, and BPR's kernel choice for tests.
 *
 * Weightings. The item-by-listener matrix of play counts c is weighted the way the
 * `implicit` library's item-item recommenders weigh it (nearest_neighbours.py: each item
 * is a "document" whose "terms" are its listeners):
 *   none   W_iu = c_ui
 *   tfidf  W_iu = sqrt(c_ui) idf(u)
 *   bm25   W_iu = c_ui (K1 + 1) / (K1 L_i + c_ui) idf(u),  L_i = (1 - B) + B len_i / avg_len
 * with idf(u) = ln(1 + N / (1 + n_u)) — N the items the trainset knows, n_u the
 * listener's items — len_i item i's total plays and avg_len the mean of len over the known
 * items. Two departures from `implicit`, both invisible on real catalogs (where N / n_u
 * is in the hundreds or more, and 1 + N / (1 + n) differs from N / (1 + n) by well under
 * 1 %): N and the average run over known items (`implicit`: every row, empty ones
 * included), and idf is smoothed to stay positive — `implicit`'s ln(N / (1 + n)) makes a
 * listener of nearly every item weigh zero or negatively, so on a small catalog that
 * every listener has mostly played, every similarity would be zero.
 * sr__iw_tf is the part of W_iu that does not depend on the listener's idf.
 *
 * Sorted lists. sr__iw_has looks a song up in an ascending list (a listener's songs) by a
 * galloping search from a guessed position. sr__iw_has_near is BPR's per-sample check:
 * the SR_IW_WINDOW songs about j's interpolated place (the lines BPR prefetched) compared
 * with j at once, falling back to the galloping search when j lies outside them.
 *
 * Nothing here allocates; arrays are the caller's.
 */
#ifndef SR_IMPLICIT_WEIGHT_H
#define SR_IMPLICIT_WEIGHT_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "models/model.h"
#include "models/trainset.h"

typedef enum sr_iw_kind { SR_IW_NONE = 0, SR_IW_TFIDF, SR_IW_BM25 } sr_iw_kind;

/* A weighting: its kind and the BM25 constants (used by bm25 only). */
typedef struct sr_iw {
    sr_iw_kind kind;
    double k1, b;
} sr_iw;

/* The term-frequency part of W for a count c of an item whose length norm is L (bm25;
 * the other kinds ignore L): c, sqrt(c), or c (K1 + 1) / (K1 L + c); 0 for c <= 0. */
static inline double sr__iw_tf(const sr_iw *w, double c, double L) {
    if (!(c > 0)) return 0; /* counts are positive; anything else weighs nothing */
    switch (w->kind) {
    case SR_IW_TFIDF:
        return sqrt(c);
    case SR_IW_BM25:
        return c * (w->k1 + 1.0) / (w->k1 * L + c);
    default:
        return c;
    }
}

/* idf(u) = ln(1 + N / (1 + n)) > 0 for a listener of n items, N known items. */
static inline double sr__iw_idf_of(uint64_t n, uint64_t n_known) {
    return log1p((double)n_known / (1.0 + (double)n));
}

/* The number of items the trainset knows (with at least one listener). */
uint32_t sr__iw_known_items(const sr_trainset *ts);

/* idf (n_users): sr__iw_idf_of(n_u, known items) per user (0 for unknown users) when the
 * kind weighs by idf, else 1 for every user. */
void sr__iw_idf(const sr_iw *w, const sr_trainset *ts, float *idf);

/* L (n_items): item i's length norm (1 - B) + B len_i / avg_len under bm25 (unknown
 * items: 1), 1 for every item under the other kinds. */
void sr__iw_lnorm(const sr_iw *w, const sr_trainset *ts, float *L);

/* Where j would sit in an ascending list of L values spread evenly over [0, n): a
 * position in [0, L) (0 when L is 0). */
static inline uint64_t sr__iw_guess(uint64_t L, uint32_t j, uint32_t n) {
    const uint64_t g = n ? L * j / n : 0;
    return g < L ? g : L ? L - 1 : 0;
}

/* First position in row[lo, hi) whose value is >= j (hi when none). */
static inline uint64_t sr__iw_lower_bound(const uint32_t *row, uint64_t lo, uint64_t hi,
                                          uint32_t j) {
    while (lo < hi) {
        const uint64_t m = lo + (hi - lo) / 2;
        if (row[m] < j)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

/* Whether the ascending row (L values) holds j, searching outwards from position g < L
 * in steps that double, then by bisection: O(log distance from g). */
static inline bool sr__iw_has(const uint32_t *row, uint64_t L, uint32_t j, uint64_t g) {
    if (!L) return false;
    if (row[g] == j) return true;
    uint64_t lo, hi, b = 1;
    if (row[g] < j) { /* in (g, L) */
        uint64_t prev = g;
        while (g + b < L && row[g + b] < j) prev = g + b, b <<= 1;
        lo = prev + 1;
        hi = g + b < L ? g + b + 1 : L;
    } else { /* in [0, g) */
        uint64_t prev = g;
        while (b <= g && row[g - b] > j) prev = g - b, b <<= 1;
        lo = b <= g ? g - b : 0;
        hi = prev;
    }
    const uint64_t p = sr__iw_lower_bound(row, lo, hi, j);
    return p < hi && row[p] == j;
}

/* The SR_IW_WINDOW positions about j's interpolated place in an ascending list of L
 * values spread over [0, n), inv_n = 1 / n (a multiply per sample, not a division). */
#define SR_IW_WINDOW 32

typedef struct sr_iw_window {
    uint64_t lo, hi; /* [lo, hi) within [0, L); hi - lo = min(L, SR_IW_WINDOW) */
} sr_iw_window;

static inline sr_iw_window sr__iw_window(uint64_t L, uint32_t j, double inv_n) {
    const uint64_t g = (uint64_t)((double)j * inv_n * (double)L);
    sr_iw_window w;
    w.lo = g >= SR_IW_WINDOW / 2 ? g - SR_IW_WINDOW / 2 : 0;
    if (w.lo + SR_IW_WINDOW > L) w.lo = L > SR_IW_WINDOW ? L - SR_IW_WINDOW : 0;
    w.hi = w.lo + SR_IW_WINDOW < L ? w.lo + SR_IW_WINDOW : L;
    return w;
}

/* Whether the ascending row (L values) holds j. When j lies within the window's span
 * (nearly always: an interpolated guess is off by about sqrt(L) / 2 positions) the window
 * is compared with j all at once — a fixed number of compares with no branch on the
 * data, which vectorises — else the galloping search from the window's middle. */
static inline __attribute__((always_inline)) bool sr__iw_has_near(const uint32_t *row, uint64_t L,
                                                                  uint32_t j, sr_iw_window w) {
    unsigned eq = 0;
    if (L <= SR_IW_WINDOW) {
        for (uint64_t x = 0; x < L; x++) eq |= row[x] == j;
        return eq != 0;
    }
    if ((w.lo == 0 || row[w.lo] <= j) && (w.hi == L || row[w.hi - 1] >= j)) {
        const uint32_t *r = row + w.lo;
        for (int x = 0; x < SR_IW_WINDOW; x++) eq |= r[x] == j;
        return eq != 0;
    }
    return sr__iw_has(row, L, j, (w.lo + w.hi) / 2);
}

/* BPR's fit with the kernel chosen by the caller: force_scalar != 0 runs the portable
 * loop even where AVX-512 is available (tests compare the two). ops->fit is this with 0. */
sr_err sr__bpr_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, int force_scalar,
                   void **state, sr_diag *d);

#endif
