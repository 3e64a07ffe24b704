/* Shared-private helpers of the matrix-factorisation models (svd.c, svdpp.c, nmf.c).
 *
 * Factor matrices are float32, row-major, each row padded from k to a leading dimension
 * ld = k rounded up to 16 floats (64 bytes), so that every row starts on a cache line and
 * vector kernels need no remainder loop. Padding columns are zero and stay zero under
 * every update rule used here (an SGD step or a multiplicative step maps 0 to 0).
 * Matrices are allocated 64-byte aligned through util/mem.h (so allocation-failure tests
 * reach them); sr__mf_free(NULL) is a no-op.
 *
 * Initialisation draws from one sr_rng, row by row, k values per row (padding is not
 * drawn), so a test can replay the exact initial factors (sr__mf_init_* with ld = k).
 * Normal draws use both outputs of each Box-Muller pair; uniform draws are
 * lo + (hi - lo) * sr_rng_double(r).
 */
#ifndef SR_MF_H
#define SR_MF_H

#include <stddef.h>
#include <stdint.h>

#include "models/model.h"
#include "util/rng.h"

/* k rounded up to a multiple of 16 (one 64-byte line of floats). */
static inline uint32_t sr__mf_ld(uint32_t k) {
    return (k + 15u) & ~15u;
}

/* A zeroed (rows, ld) float matrix, 64-byte aligned; NULL on failure or overflow.
 * Returns new, free with sr__mf_free. */
float *sr__mf_alloc(size_t rows, size_t ld);
void sr__mf_free(float *m);

/* Fills the first k columns of the (rows, ld) matrix m row by row. */
void sr__mf_init_normal(float *m, size_t rows, uint32_t k, uint32_t ld, sr_rng *r, double mean,
                        double sd);
void sr__mf_init_uniform(float *m, size_t rows, uint32_t k, uint32_t ld, sr_rng *r, double lo,
                         double hi);

/* Model files: biases float32 as "m.bu" (n_users), "m.bi" (n_items); the factor
 * matrices, padding included, as factor arrays (f32 or f16) "m.pu" (n_users, ld) and
 * "m.qi" (n_items, ld). Loading checks every size against ts and ld and borrows the
 * arrays from r (float32 ones in place). */
typedef struct sr_mf_arrays {
    float *bu, *bi, *pu, *qi;
} sr_mf_arrays;
void sr__mf_save(sr_srm_writer *w, const sr_trainset *ts, uint32_t ld, const sr_mf_arrays *a);
sr_err sr__mf_load(sr_srm *r, const sr_trainset *ts, uint32_t ld, sr_mf_arrays *a, sr_diag *d);

/* p's value, or def when p is unset (NaN). */
double sr__mf_or(double p, double def);

/* Whether the AVX-512F kernels may run on this CPU (checked at run time). */
int sr__mf_have_avx512(void);

/* SVD's fit with the kernel chosen by the caller: force_scalar != 0 runs the portable
 * loop even where AVX-512 is available (tests compare the two under a tolerance). */
sr_err sr__svd_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, int force_scalar,
                   void **state, sr_diag *d);

#endif
