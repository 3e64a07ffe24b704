/* Similarity matrices between users (or items) for the k-NN models, computed as the
 * Surprise library's similarities module does (cosine, msd, pearson, pearson_baseline;
 * Surprise docs "Similarity measure configuration"; Koren's Recommender Systems
 * Handbook, section 5.4.1, for the shrunk pearson_baseline).
 *
 * Only the ratings two users x, x' have in common (the items y both rated) count;
 * with freq = the number of such ys:
 *   cosine     sum r r' / sqrt(sum r^2 * sum r'^2)
 *   msd        1 / (sum (r - r')^2 / freq + 1)
 *   pearson    (n sum r r' - sum r sum r') / sqrt((n sum r^2 - (sum r)^2)(n sum r'^2 - ...))
 *              over the common ys (n = freq); 0 when the denominator is 0
 *   pearson_baseline  the cosine of the baseline residuals r - (mu + b_x + b_y), times
 *              the shrinkage factor (freq - 1) / (freq - 1 + shrinkage)
 * A pair with freq < min_support (for pearson_baseline: < max(2, min_support)) gets 0;
 * the diagonal is 1. "Users" are items when user_based is false.
 *
 * The matrix is dense, symmetric, float32: (n, n) row-major, n = n_users or n_items of
 * the trainset's id space, refused (SR_E_RANGE) above SR_SIM_MAX_N.
 */
#ifndef SR_SIMILARITY_H
#define SR_SIMILARITY_H

#include <stdbool.h>
#include <stdint.h>

#include "models/trainset.h"
#include "util/err.h"

typedef enum sr_sim_measure {
    SR_SIM_COSINE = 0,
    SR_SIM_MSD,
    SR_SIM_PEARSON,
    SR_SIM_PEARSON_BASELINE,
} sr_sim_measure;

/* The choices string of the "name" parameter, in sr_sim_measure order. */
#define SR_SIM_CHOICES "cosine|msd|pearson|pearson_baseline"
#define SR_SIM_MAX_N   40000u

typedef struct sr_sim_opts {
    sr_sim_measure measure;
    bool user_based;
    int min_support;  /* >= 0 */
    double shrinkage; /* pearson_baseline only, >= 0 */
} sr_sim_opts;

typedef struct sr_sim {
    uint32_t n;
    float *s; /* (n, n) row-major, symmetric */
} sr_sim;

/* Computes the similarity matrix of ts under o with `threads` (>= 1) worker threads;
 * the result does not depend on the thread count. bu (n_users) and bi (n_items) are the
 * baseline biases, borrowed and read only for pearson_baseline (may be NULL otherwise).
 * Returns new, caller frees with sr_sim_free. Time O(sum over ys of |ratings of y|^2),
 * extra memory O(threads * n) besides the matrix. */
sr_err sr_sim_compute(const sr_trainset *ts, const sr_sim_opts *o, const double *bu,
                      const double *bi, int threads, sr_sim **out, sr_diag *d);
void sr_sim_free(sr_sim *s);
/* The similarities of a new x — one not in ts, with ratings r over the ys `ys` (n; ys
 * outside the id space are skipped) — to every x of ts, into row (n_users or n_items
 * floats), by the same formulas as sr_sim_compute (the new x's diagonal is not part of
 * it). bx, by: the baselines of the x side and the y side, bx_new the new x's
 * (pearson_baseline only; NULL otherwise). SR_E_NOMEM or SR_OK. */
sr_err sr_sim_new_row(const sr_trainset *ts, const sr_sim_opts *o, const double *bx,
                      const double *by, double bx_new, const uint32_t *ys, const float *r, size_t n,
                      float *row);

static inline float sr_sim_get(const sr_sim *s, uint32_t a, uint32_t b) {
    return s->s[(uint64_t)a * s->n + b];
}

#endif
