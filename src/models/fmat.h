/* A factor matrix as stored: rows of k values, float32, float16 or int8 with a scale per
 * row, row stride ld (>= k) elements — a view that borrows its data (a fitted model's
 * padded float32 matrix, the unpadded section of a mapped model file used in place, or
 * the int8 copy sr_fmat_quantize makes for the recommender's approximate scan).
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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sr_fmat_type { SR_FMAT_F32 = 0, SR_FMAT_F16, SR_FMAT_I8 } sr_fmat_type;

typedef struct sr_fmat {
    const void *data;
    uint64_t rows;
    uint32_t k, ld; /* values per row; stride in elements */
    sr_fmat_type type;
    const float *scale; /* (rows) int8 only: value = scale[r] * int8 element */
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
/* sr_fmat_scores, and also the highest score of each block of 16 rows from lo into
 * max16[(i - lo) / 16] ((hi - lo + 15) / 16 of them; the last block may be short;
 * NaN scores are passed over, -inf for a block of NaNs). */
void sr_fmat_scores_max16(const sr_fmat *m, const float *x, const float *bias, float add,
                          float *out, float *max16, uint64_t lo, uint64_t hi);
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
    return m->type == SR_FMAT_I8 ? 1 : m->type == SR_FMAT_F16 ? 2 : 4;
}

/* The int8 copy of m (any type): row r is scale[r] * q[r][0..k), q in -127..127, the
 * scale max|row| / 127, rows padded with zeros to a stride of k rounded up to 16.
 * err[r] bounds how far the copy's scores can be from m's: for every vector x,
 *     |row_r . x - scale[r] (q_r . x)| <= err[r] |x|_2
 * with err[r] = |row_r - scale[r] q_r|_2 plus a margin for the float rounding of k-term
 * sums in either scan (2.5e-7 (k + 16) |row_r|_2, above twice k units of rounding). Allocates
 * out->data, out->scale (sr_free) and *err; returns false when out of memory. Uses up to `threads`
 * threads. */
bool sr_fmat_quantize(const sr_fmat *m, int threads, sr_fmat *out, float **err);
/* Frees what sr_fmat_quantize allocated. */
void sr_fmat_quantized_free(sr_fmat *q, float *err);

#endif
