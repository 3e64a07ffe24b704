/* Shared-private helpers of the implicit-feedback models (als.c, bpr.c): the confidence a
 * play count gives, after Hu, Koren & Volinsky, "Collaborative filtering for implicit
 * feedback datasets" (ICDM 2008), eqs. 1-2 and section 4, with the play-count transform f
 * a searchable parameter.
 *
 * A pair's stored value v is a play count. Its preference is p = 1 when v > 0, else 0,
 * and its confidence c = 1 + alpha f(v) with
 *   linear    f(v) = v
 *   log       f(v) = log(1 + v / eps)
 *   cap       f(v) = min(v, cap)        (the origin's "play count capped at 10" as confidence)
 *   bm25      f(v) = v (k1 + 1) / (v + k1 (1 - b + b len_u / avglen)) idf(i)
 *   quantile  f(v) = #{v' of u: 0 < v' <= v} / #{v' of u: v' > 0}
 * for v > 0; a value v <= 0 is not a play: c = 1 and p = 0, exactly what an absent pair
 * has, so such a pair changes nothing (and counts in no length or quantile).
 *
 * bm25 is Robertson's tf saturation with document-length normalisation, each listener u a
 * "document" whose "terms" are songs: len_u is u's plays (the sum of u's values v > 0),
 * avglen the mean of len over the listeners the trainset knows, and
 *     idf(i) = ln(1 + (N - n_i + 0.5) / (n_i + 0.5))
 * with N the listeners the trainset knows and n_i song i's listeners in it (its pairs) —
 * the BM25 idf in the form that stays positive (Lucene's), since a song nearly everyone
 * played must still add confidence to its plays (ItemKNN's idf, implicit_weight.h, is
 * clamped at 0 instead: there it weighs listeners, not plays). quantile is the play
 * count's place among the listener's own counts, in (0, 1]: tied counts all take the top
 * of the range they share (counts 1, 1, 3: 2/3, 2/3, 1), so a listener's most played
 * song gets 1 and every transform is a non-decreasing function of v within a listener.
 * linear, log and cap depend on v alone (sr_confidence_extra); bm25 and quantile on the
 * listener's whole row (sr_confidence_row), so a fit weighs each row at once and a new
 * listener's fold-in weighs their values the same way: bm25's avglen, N and n_i from the
 * trainset (sr_conf_corpus; n_i from ts->item_ptr, which a loaded model keeps), the
 * listener's len and quantiles from their own values. A training user's own values give
 * exactly the weights the fit used.
 *
 * Models keep w = c - 1 = alpha f(v) per pair (what the sparse part of the normal
 * equations weighs y y^T by) and c p = 1 + w for v > 0. A 1..10 rating from the web page
 * arrives as that many plays (model.h).
 *
 * Ownership: sr_confidence_weights returns new arrays (sr_free); the rest writes into
 * the caller's arrays.
 */
#ifndef SR_IMPLICIT_H
#define SR_IMPLICIT_H

#include <math.h>
#include <stdint.h>

#include "models/model.h"

typedef enum sr_conf_transform {
    SR_CONF_LINEAR = 0,
    SR_CONF_LOG,
    SR_CONF_CAP,
    SR_CONF_BM25,
    SR_CONF_QUANTILE
} sr_conf_transform;

/* The transforms' names, in enum order: the tail of the models' "transform" choices. */
#define SR_CONF_CHOICES "linear|log|cap|bm25|quantile"

typedef struct sr_confidence {
    sr_conf_transform f;
    double alpha; /* >= 0 */
    double eps;   /* > 0, log only */
    double cap;   /* > 0, cap only */
    double k1;    /* >= 0, bm25 only */
    double b;     /* in [0, 1], bm25 only */
} sr_confidence;

/* What bm25 takes from the trainset besides n_i: the mean length and the listener count.
 * A model keeps it, so that fold-in needs no values of the trainset. */
typedef struct sr_conf_corpus {
    double avglen;   /* mean plays of the known listeners (0 when none) */
    uint32_t n_docs; /* listeners the trainset knows */
} sr_conf_corpus;

/* Whether f depends on the listener's whole row (bm25, quantile) rather than v alone. */
static inline int sr_confidence_by_row(const sr_confidence *c) {
    return c->f == SR_CONF_BM25 || c->f == SR_CONF_QUANTILE;
}

/* w = c - 1 = alpha f(v) for v > 0, else 0 — for the transforms of v alone (linear, log,
 * cap; any other gives alpha v: use sr_confidence_row for those). */
static inline float sr_confidence_extra(const sr_confidence *c, float v) {
    if (!(v > 0)) return 0.0f;
    double f = c->f == SR_CONF_LOG   ? log1p((double)v / c->eps)
               : c->f == SR_CONF_CAP ? fmin((double)v, c->cap)
                                     : (double)v;
    return (float)(c->alpha * f);
}

/* c p: the weight of a pair in the right-hand side, 1 + w for v > 0, else 0. */
static inline float sr_confidence_target(float v, float w) {
    return v > 0 ? 1.0f + w : 0.0f;
}

/* idf(i) of a song with n_i listeners among N (the header's formula). */
static inline double sr_confidence_idf(uint64_t n_i, uint64_t n_docs) {
    return log1p(((double)n_docs - (double)n_i + 0.5) / ((double)n_i + 0.5));
}

/* The corpus figures of ts (reads ts->ur_r). */
void sr_confidence_corpus(const sr_trainset *ts, sr_conf_corpus *k);

/* w of one listener's n values v on the songs items (ascending, unique, known to ts; bm25
 * reads their n_i from ts->item_ptr) into w (n). scratch: n floats for quantile (else
 * unused, may be NULL); k, ts and items are read by bm25 only. O(n) (quantile:
 * O(n log n)). */
void sr_confidence_row(const sr_confidence *c, const sr_conf_corpus *k, const sr_trainset *ts,
                       const uint32_t *items, const float *v, size_t n, float *scratch, float *w);

/* w of every pair of ts, in user order into *wu (ts->n) and, when wi is not NULL, in item
 * order into *wi (ts->n): new arrays. On failure (SR_E_NOMEM) *wu and *wi are NULL. */
sr_err sr_confidence_weights(const sr_confidence *c, const sr_trainset *ts, float **wu, float **wi);

/* The corpus as a model file section "m.conf" (f64: avglen, n_docs), and back, n_docs
 * checked against ts's known listeners: absent from r is an error (SR_E_CORRUPT) only
 * when c needs it (bm25). */
void sr_confidence_save(const sr_conf_corpus *k, sr_srm_writer *w);
sr_err sr_confidence_load(sr_srm *r, const sr_confidence *c, const sr_trainset *ts,
                          sr_conf_corpus *k, sr_diag *d);

/* Tests: the positives a weighted BPR fit with parameters p (transform not none) draws,
 * counted per pair of ts (counts: ts->n, user order) — `draws` samples over all listeners
 * as sampling = uniform draws them, or (by_user) `draws` of each listener's positives as
 * sampling = by_user does. SR_E_USAGE for transform none, SR_E_NOMEM. */
sr_err sr__bpr_draw_positives(const sr_trainset *ts, const double *p, bool by_user, uint64_t draws,
                              uint64_t seed, uint64_t *counts);

/* ALS (als.c) with its kernels chosen by the caller: force_scalar != 0 runs the portable
 * loops even where AVX-512 is available (its tests compare the two). */
sr_err sr__als_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, int force_scalar,
                   void **state, sr_diag *d);
/* An ALS state's factor views (X: users, Y: items) and Y^T Y ((k, k) doubles), borrowed. */
void sr__als_views(const void *state, sr_fmat *X, sr_fmat *Y, const double **yty);

#endif
