/* A factor matrix as stored: rows of k values, float32 or float16, row stride ld (>= k)
 * elements — a view that borrows its data (a fitted model's padded float32 matrix, or
 * the unpadded section of a mapped model file used in place).
 *
 * What the recommender does with it: one row times a vector (an estimate), a row out as
 * float32 (a fold-in), and the scan that scores every row against one vector, in float32
 * arithmetic (float16 rows are widened with F16C as they are read), AVX-512 where the CPU
 * has it, with no alignment asked of the rows. The scan's results do not depend on the
 * kernel beyond float rounding (tests compare it with the portable loop under a
 * tolerance).
 */
#ifndef SR_FMAT_H
#define SR_FMAT_H

#include <stddef.h>
#include <stdint.h>

typedef enum sr_fmat_type { SR_FMAT_F32 = 0, SR_FMAT_F16 } sr_fmat_type;

typedef struct sr_fmat {
    const void *data;
    uint64_t rows;
    uint32_t k, ld; /* values per row; stride in elements */
    sr_fmat_type type;
} sr_fmat;

/* Row r as float32 into out (k values). */
void sr_fmat_row(const sr_fmat *m, uint64_t r, float *out);
/* Row r . x (x: k floats), accumulated in double. */
double sr_fmat_dot(const sr_fmat *m, uint64_t r, const float *x);
/* Row ra of a . row rb of b (same k), accumulated in double. */
double sr_fmat_dot2(const sr_fmat *a, uint64_t ra, const sr_fmat *b, uint64_t rb);
/* out[i] = add + (bias ? bias[i] : 0) + row_i . x for rows [lo, hi). */
void sr_fmat_scores(const sr_fmat *m, const float *x, const float *bias, float add, float *out,
                    uint64_t lo, uint64_t hi);
/* Several vectors at once: out[x * ldo + (i - lo)] = add[x] + (bias ? bias[i] : 0) +
 * row_i . X[x] for x < nx (X: nx rows of ldx floats) and rows [lo, hi) — each vector's
 * scores start at its row of out. Each block of rows is read
 * (and widened) once for all the vectors, so scoring many listeners costs arithmetic,
 * not memory traffic. Equal to sr_fmat_scores per vector up to float rounding. */
void sr_fmat_scores_multi(const sr_fmat *m, const float *X, size_t nx, size_t ldx,
                          const float *bias, const float *add, float *out, size_t ldo, uint64_t lo,
                          uint64_t hi);
/* The same with the portable loop (for tests). */
void sr_fmat_scores_scalar(const sr_fmat *m, const float *x, const float *bias, float add,
                           float *out, uint64_t lo, uint64_t hi);
/* Bytes one element takes. */
static inline size_t sr_fmat_elem(const sr_fmat *m) {
    return m->type == SR_FMAT_F16 ? 2 : 4;
}

#endif
