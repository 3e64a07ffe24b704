/* Shared-private helpers of the implicit-feedback models (als.c; others may reuse them):
 * the confidence a play count gives, after Hu, Koren & Volinsky, "Collaborative filtering
 * for implicit feedback datasets" (ICDM 2008), eqs. 1-2 and section 4.
 *
 * A pair's stored value v is a play count. Its preference is p = 1 when v > 0, else 0,
 * and its confidence c = 1 + alpha f(v) with
 *   linear  f(v) = v
 *   log     f(v) = log(1 + v / eps)
 *   cap     f(v) = min(v, cap)        (the origin's "play count capped at 10" as confidence)
 * for v > 0; a value v <= 0 is not a play: c = 1 and p = 0, exactly what an absent pair
 * has, so such a pair changes nothing. Models keep w = c - 1 = alpha f(v) per pair (what
 * the sparse part of the normal equations weighs y y^T by) and c p = 1 + w for v > 0.
 * A 1..10 rating from the web page arrives as that many plays (model.h).
 *
 * Ownership: sr_confidence_weights returns a new array (sr_free).
 */
#ifndef SR_IMPLICIT_H
#define SR_IMPLICIT_H

#include <math.h>
#include <stdint.h>

#include "models/model.h"

typedef enum sr_conf_transform { SR_CONF_LINEAR = 0, SR_CONF_LOG, SR_CONF_CAP } sr_conf_transform;

typedef struct sr_confidence {
    sr_conf_transform f;
    double alpha; /* >= 0 */
    double eps;   /* > 0, log only */
    double cap;   /* > 0, cap only */
} sr_confidence;

/* w = c - 1 = alpha f(v) for v > 0, else 0. */
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

/* w of each of the n values v, as a new array; NULL when out of memory. */
float *sr_confidence_weights(const sr_confidence *c, const float *v, uint64_t n);

/* ALS (als.c) with its kernels chosen by the caller: force_scalar != 0 runs the portable
 * loops even where AVX-512 is available (its tests compare the two). */
sr_err sr__als_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, int force_scalar,
                   void **state, sr_diag *d);
/* An ALS state's factor views (X: users, Y: items) and Y^T Y ((k, k) doubles), borrowed. */
void sr__als_views(const void *state, sr_fmat *X, sr_fmat *Y, const double **yty);

#endif
