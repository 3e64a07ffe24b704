/* ALS: matrix factorisation for implicit feedback by alternating least squares, after
 * Hu, Koren & Volinsky, "Collaborative filtering for implicit feedback datasets" (ICDM
 * 2008), with the conjugate-gradient row solve of Takács, Pilászy & Tikk, "Applications
 * of the conjugate gradient method for implicit feedback collaborative filtering" (RecSys
 * 2011), as the `implicit` library offers it (cg_steps 3, warm start, same stopping rule).
 *
 * Every pair (u, i) of the trainset holds a play count v: preference p = [v > 0],
 * confidence c = 1 + alpha f(v) (implicit.h: f linear, log(1 + v / eps), min(v, cap), BM25
 * or the count's quantile within the listener's counts); absent pairs have p = 0, c = 1.
 * The fit minimises
 *     sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + lambda (sum_u |x_u|^2 + sum_i |y_i|^2)
 * over user factors x_u and item factors y_i (k each), alternating exact or CG solves of
 * one side's rows with the other side fixed. For user u (items alike, the roles swapped):
 *     (Y^T C_u Y + lambda I) x_u = Y^T C_u p_u,   Y^T C_u Y = Y^T Y + sum_{j in I_u} w_j y_j y_j^T
 * (w = c - 1), so one k x k Gram matrix Y^T Y per half-iteration and the user's own pairs
 * make the system (the paper's section 4 trick). Solvers: "cholesky" forms the system in
 * double and solves it exactly (O(n_u k^2 + k^3) per row: a reference, slow at scale);
 * "cg" runs cg_steps conjugate-gradient steps in float32 from the row's previous value,
 * using A v = G v + sum_j w_j (y_j . v) y_j without forming A (O(cg_steps (k^2 + n_u k))).
 * A row without pairs is 0 (its exact solution).
 *
 * Order: the initial X is drawn N(0, 0.01^2) row by row from the seed (mf.h,
 * sr__mf_init_normal; a test can replay it) and Y starts at 0 (the first item solve
 * needs no start); each iteration solves every item, then every user — so the users are
 * the exact (cholesky) solves against the final Y, which is what fold-in repeats for a
 * new listener. Rows are solved in parallel (ctx threads, chunks of rows through an
 * atomic counter); a row's solve reads only the other side's fixed factors and its own
 * previous row, and the Gram matrix is summed over a fixed partition of the rows (groups
 * of chunks, partial sums in float per 256 rows, in double across them, groups added in
 * order), so the model depends on the seed and the data only, not on the thread count.
 * The three hot loops are AVX-512F intrinsics picked at run time (rows of up to 128
 * floats held in registers), else portable loops that agree to float rounding (tests
 * compare them); the per-row CG steps are written in 16-lane blocks that vectorise.
 *
 * Scores: est(u, i) = x_u . y_i, a score that ranks songs (implicit), impossible when u
 * or i is unknown to the trainset. Fold-in (exact): the listener's x is the Cholesky
 * solve above with the stored Y^T Y, their values weighed by the fit's transform (bm25
 * with the trainset's corpus figures, quantile within their own values); explain splits
 * x . y_i into
 *     y_i^T W (c_j p_j y_j),   W = (Y^T C_u Y + lambda I)^-1
 * per listened song j (the paper's section 5), which sum to the score.
 *
 * State: xu (n_users, ld), yi (n_items, ld) float32, ld = k rounded up to 16, 64-byte
 * aligned, padding zero; yty (k, k) double, Y^T Y of the final Y; owned; the trainset's
 * corpus figures (implicit.h). Loaded: views of the file's "m.xu", "m.yi" (factor arrays,
 * f32 or f16, used in place) and "m.yty" (f64, k^2), borrowed, and "m.conf".
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "models/implicit.h"
#include "models/mf.h"
#include "models/model.h"
#include "util/mem.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define ALS_X86 1
#define AVX512  __attribute__((target("avx512f")))
#endif

enum {
    P_FACTORS,
    P_ITERATIONS,
    P_REG,
    P_ALPHA,
    P_TRANSFORM,
    P_EPS,
    P_SOLVER,
    P_CG_STEPS,
    P_CAP,
    P_BM25_K1,
    P_BM25_B,
    P_COUNT
};

enum { SOLVER_CG = 0, SOLVER_CHOLESKY = 1 };

/* The most factors: a row (MAX_K floats) fits on the stack of the scoring calls. */
#define MAX_K 1024

static const sr_param_def als_params[P_COUNT] = {
    [P_FACTORS] = {"factors", SR_PARAM_INT, 64, 1, MAX_K, NULL, "number of latent factors"},
    [P_ITERATIONS] = {"iterations", SR_PARAM_INT, 15, 0, 100000, NULL,
                      "alternations (items, then users)"},
    [P_REG] = {"regularization", SR_PARAM_REAL, 0.01, 0, 1e6, NULL,
               "ridge lambda on every factor row"},
    [P_ALPHA] = {"alpha", SR_PARAM_REAL, 40, 0, 1e9, NULL,
                 "confidence c = 1 + alpha f(play count)"},
    [P_TRANSFORM] = {"transform", SR_PARAM_CHOICE, SR_CONF_LINEAR, 0, SR_CONF_QUANTILE,
                     SR_CONF_CHOICES,
                     "f(count): count, log(1 + count / eps), min(count, cap), BM25 of the "
                     "listener's plays, or the count's quantile among the listener's"},
    [P_EPS] = {"eps", SR_PARAM_REAL, 1, 1e-9, 1e9, NULL, "scale of the log transform"},
    [P_SOLVER] = {"solver", SR_PARAM_CHOICE, SOLVER_CG, 0, 1, "cg|cholesky",
                  "row solve: conjugate gradient, or exact (slow at scale)"},
    [P_CG_STEPS] = {"cg_steps", SR_PARAM_INT, 3, 1, 1000, NULL,
                    "conjugate-gradient steps per row and iteration"},
    [P_CAP] = {"cap", SR_PARAM_REAL, 10, 1e-9, 1e9, NULL, "the cap of the cap transform"},
    [P_BM25_K1] = {"bm25_k1", SR_PARAM_REAL, 1.2, 0, 1e6, NULL,
                   "BM25 saturation: larger lets more plays count"},
    [P_BM25_B] = {"bm25_b", SR_PARAM_REAL, 0.75, 0, 1, NULL,
                  "BM25 length normalisation, 0 (none) to 1 (full)"},
};

typedef struct als_state {
    uint32_t k, ld;
    float *xu;   /* (n_users, ld) owned, NULL when loaded */
    float *yi;   /* (n_items, ld) owned, NULL when loaded */
    double *yty; /* (k, k) Y^T Y; owned unless loaded */
    sr_fmat X, Y;
    sr_conf_corpus corpus; /* for the fold-in of bm25 */
    bool mapped;
} als_state;

#define MAX_THREADS   64
#define CG_EPS        1e-20f /* squared residual norm at which CG stops (as `implicit`) */
#define PREFETCH      16     /* rows ahead in the sparse pass */
#define PREFETCH_NEXT 16     /* rows of the next row's pairs fetched ahead */
#define GRAM_CHUNK    256    /* rows summed in float before going to double */
#define GRAM_GROUP    4096   /* rows per group of the Gram sum, at least */
#define GRAM_GROUPS   16
#define GRAM_BYTES    (64u << 20) /* cap on the groups' double accumulators */
#define CHUNK_ROWS    256

/* ---- kernels ---- */

/* The three loops that take the time, portable or AVX-512. Rows are ld floats (a
 * multiple of 16), padding zero; G is (k, ld), symmetric in its first k columns. */
typedef struct als_kern {
    /* y (ld) = G x. */
    void (*gemv)(const float *G, const float *x, float *y, uint32_t k, uint32_t ld);
    /* out (ld) += sum_q (t_q + sgn w_q (o_q . v)) o_q, o_q = O + idx[q] ld, over q < n;
     * t_q = sr_confidence_target(val[q], w[q]), or 0 when val is NULL. */
    void (*sparse)(float *out, const float *v, const float *O, uint32_t ld, const uint32_t *idx,
                   const float *w, const float *val, float sgn, size_t n);
    /* P (k, ld) += sum_r y_r y_r^T over rows [r0, r1) of O, in row f only the columns
     * from 16 floor(f / 16) on (the upper triangle and a little more). */
    void (*gram)(float *P, const float *O, uint32_t k, uint32_t ld, size_t r0, size_t r1);
} als_kern;

/* Vector steps over ld floats (a multiple of 16), written in blocks of 16 lanes so that
 * they vectorise at -O2 on any target, dot products included (16 partial sums, added at
 * the end: no reassociation asked of the compiler). The portable kernels and the per-row
 * steps of CG are made of them. */
enum { LANES = 16 };

static inline float vdot(const float *restrict a, const float *restrict b, size_t ld) {
    float acc[LANES] = {0};
    for (size_t f = 0; f < ld; f += LANES)
        for (size_t l = 0; l < LANES; l++) acc[l] += a[f + l] * b[f + l];
    float s = 0;
    for (uint32_t l = 0; l < LANES; l++) s += acc[l];
    return s;
}

/* y += a x */
static inline void vaxpy(float *restrict y, float a, const float *restrict x, size_t ld) {
    for (size_t f = 0; f < ld; f += LANES)
        for (size_t l = 0; l < LANES; l++) y[f + l] += a * x[f + l];
}

/* p = r + beta p */
static inline void vxpby(float *restrict p, const float *restrict r, float beta, size_t ld) {
    for (size_t f = 0; f < ld; f += LANES)
        for (size_t l = 0; l < LANES; l++) p[f + l] = r[f + l] + beta * p[f + l];
}

static void gemv_scalar(const float *G, const float *x, float *y, uint32_t k, uint32_t ld) {
    memset(y, 0, ld * sizeof *y);
    for (uint32_t g = 0; g < k; g++) vaxpy(y, x[g], G + (size_t)g * ld, ld);
}

static void sparse_scalar(float *out, const float *v, const float *O, uint32_t ld,
                          const uint32_t *idx, const float *w, const float *val, float sgn,
                          size_t n) {
    for (size_t q = 0; q < n; q++) {
        const float *o = O + (size_t)idx[q] * ld;
        float coef = sgn * w[q] * vdot(o, v, ld);
        if (val) coef += sr_confidence_target(val[q], w[q]);
        vaxpy(out, coef, o, ld);
    }
}

static void gram_scalar(float *P, const float *O, uint32_t k, uint32_t ld, size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++) {
        const float *y = O + r * ld;
        for (uint32_t f = 0; f < k; f++) {
            const uint32_t g = f & ~15u;
            vaxpy(P + (size_t)f * ld + g, y[f], y + g, ld - g);
        }
    }
}

static const als_kern kern_scalar = {gemv_scalar, sparse_scalar, gram_scalar};

#ifdef ALS_X86
#define INLINE static inline __attribute__((always_inline))

/* gemv with y in registers (ld = 16 NV, NV <= 8): two sets of accumulators, even and odd
 * rows of G, so that two FMA chains per vector run at once. */
INLINE AVX512 void gemv_regs(const float *G, const float *x, float *y, uint32_t k,
                             const uint32_t NV) {
    const size_t ld = 16 * NV;
    __m512 a[8], b[8];
#pragma GCC unroll 8
    for (uint32_t j = 0; j < NV; j++) a[j] = b[j] = _mm512_setzero_ps();
    uint32_t g = 0;
    for (; g + 2 <= k; g += 2) {
        const __m512 x0 = _mm512_set1_ps(x[g]), x1 = _mm512_set1_ps(x[g + 1]);
        const float *r0 = G + g * ld, *r1 = r0 + ld;
#pragma GCC unroll 8
        for (uint32_t j = 0; j < NV; j++) {
            a[j] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(r0 + 16 * j), a[j]);
            b[j] = _mm512_fmadd_ps(x1, _mm512_loadu_ps(r1 + 16 * j), b[j]);
        }
    }
    if (g < k) {
        const __m512 x0 = _mm512_set1_ps(x[g]);
#pragma GCC unroll 8
        for (uint32_t j = 0; j < NV; j++)
            a[j] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(G + g * ld + 16 * j), a[j]);
    }
#pragma GCC unroll 8
    for (uint32_t j = 0; j < NV; j++) _mm512_storeu_ps(y + 16 * j, _mm512_add_ps(a[j], b[j]));
}

/* o . v for a row o, with v in registers. */
INLINE AVX512 float dot_regs(const float *o, const __m512 *V, const uint32_t NV) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (uint32_t j = 0; j < NV; j++) {
        if (j & 1)
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(o + 16 * j), V[j], s1);
        else
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(o + 16 * j), V[j], s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

INLINE AVX512 void prefetch_row(const float *o, const uint32_t NV) {
#pragma GCC unroll 8
    for (uint32_t j = 0; j < NV; j++) _mm_prefetch((const char *)(o + 16 * j), _MM_HINT_T0);
}

/* sparse with v and out in registers (ld = 16 NV, NV <= 8), two pairs at a time (two
 * independent dot products in flight, two sets of accumulators). */
INLINE AVX512 void sparse_regs(float *out, const float *v, const float *O, const uint32_t *idx,
                               const float *w, const float *val, float sgn, size_t n,
                               const uint32_t NV) {
    const size_t ld = 16 * NV;
    __m512 V[8], A[8], B[8];
#pragma GCC unroll 8
    for (uint32_t j = 0; j < NV; j++) {
        V[j] = _mm512_loadu_ps(v + 16 * j);
        A[j] = _mm512_loadu_ps(out + 16 * j);
        B[j] = _mm512_setzero_ps();
    }
    size_t q = 0;
    for (; q + 2 <= n; q += 2) {
        const float *o0 = O + idx[q] * ld, *o1 = O + idx[q + 1] * ld;
        if (q + PREFETCH + 1 < n) {
            prefetch_row(O + idx[q + PREFETCH] * ld, NV);
            prefetch_row(O + idx[q + PREFETCH + 1] * ld, NV);
        }
        const float d0 = dot_regs(o0, V, NV), d1 = dot_regs(o1, V, NV);
        float c0 = sgn * w[q] * d0, c1 = sgn * w[q + 1] * d1;
        if (val) {
            c0 += sr_confidence_target(val[q], w[q]);
            c1 += sr_confidence_target(val[q + 1], w[q + 1]);
        }
        const __m512 v0 = _mm512_set1_ps(c0), v1 = _mm512_set1_ps(c1);
#pragma GCC unroll 8
        for (uint32_t j = 0; j < NV; j++) {
            A[j] = _mm512_fmadd_ps(v0, _mm512_loadu_ps(o0 + 16 * j), A[j]);
            B[j] = _mm512_fmadd_ps(v1, _mm512_loadu_ps(o1 + 16 * j), B[j]);
        }
    }
    if (q < n) {
        const float *o0 = O + idx[q] * ld;
        float c0 = sgn * w[q] * dot_regs(o0, V, NV);
        if (val) c0 += sr_confidence_target(val[q], w[q]);
        const __m512 v0 = _mm512_set1_ps(c0);
#pragma GCC unroll 8
        for (uint32_t j = 0; j < NV; j++)
            A[j] = _mm512_fmadd_ps(v0, _mm512_loadu_ps(o0 + 16 * j), A[j]);
    }
#pragma GCC unroll 8
    for (uint32_t j = 0; j < NV; j++) _mm512_storeu_ps(out + 16 * j, _mm512_add_ps(A[j], B[j]));
}

#define ALS_REGS(N)                                                                                \
    AVX512 static void gemv##N(const float *G, const float *x, float *y, uint32_t k,               \
                               uint32_t ld) {                                                      \
        gemv_regs(G, x, y, k, N);                                                                  \
    }                                                                                              \
    AVX512 static void sparse##N(float *out, const float *v, const float *O, uint32_t ld,          \
                                 const uint32_t *idx, const float *w, const float *val, float sgn, \
                                 size_t n) {                                                       \
        sparse_regs(out, v, O, idx, w, val, sgn, n, N);                                            \
    }
ALS_REGS(1)
ALS_REGS(2)
ALS_REGS(3)
ALS_REGS(4)
ALS_REGS(5)
ALS_REGS(6)
ALS_REGS(7)
ALS_REGS(8)

/* Any width (ld > 128): the vectors stay in memory. */
AVX512 static void gemv_avx512(const float *G, const float *x, float *y, uint32_t k, uint32_t ld) {
    for (uint32_t f = 0; f < ld; f += 16) _mm512_storeu_ps(y + f, _mm512_setzero_ps());
    for (uint32_t g = 0; g < k; g++) {
        const __m512 xg = _mm512_set1_ps(x[g]);
        const float *row = G + (size_t)g * ld;
        for (uint32_t f = 0; f < ld; f += 16)
            _mm512_storeu_ps(y + f,
                             _mm512_fmadd_ps(xg, _mm512_loadu_ps(row + f), _mm512_loadu_ps(y + f)));
    }
}

AVX512 static void sparse_avx512(float *out, const float *v, const float *O, uint32_t ld,
                                 const uint32_t *idx, const float *w, const float *val, float sgn,
                                 size_t n) {
    for (size_t q = 0; q < n; q++) {
        const float *o = O + (size_t)idx[q] * ld;
        __m512 s = _mm512_setzero_ps();
        for (uint32_t f = 0; f < ld; f += 16)
            s = _mm512_fmadd_ps(_mm512_loadu_ps(o + f), _mm512_loadu_ps(v + f), s);
        float c = sgn * w[q] * _mm512_reduce_add_ps(s);
        if (val) c += sr_confidence_target(val[q], w[q]);
        const __m512 vc = _mm512_set1_ps(c);
        for (uint32_t f = 0; f < ld; f += 16)
            _mm512_storeu_ps(out + f,
                             _mm512_fmadd_ps(vc, _mm512_loadu_ps(o + f), _mm512_loadu_ps(out + f)));
    }
}

/* Four rows at a time: each 16-float block of P is loaded and stored once per four
 * rank-one updates. */
AVX512 static void gram_avx512(float *P, const float *O, uint32_t k, uint32_t ld, size_t r0,
                               size_t r1) {
    size_t r = r0;
    for (; r + 4 <= r1; r += 4) {
        const float *y0 = O + r * ld, *y1 = y0 + ld, *y2 = y1 + ld, *y3 = y2 + ld;
        for (uint32_t f = 0; f < k; f++) {
            const __m512 a0 = _mm512_set1_ps(y0[f]), a1 = _mm512_set1_ps(y1[f]);
            const __m512 a2 = _mm512_set1_ps(y2[f]), a3 = _mm512_set1_ps(y3[f]);
            float *pf = P + (size_t)f * ld;
            for (uint32_t g = f & ~15u; g < ld; g += 16) {
                __m512 acc = _mm512_loadu_ps(pf + g);
                acc = _mm512_fmadd_ps(a0, _mm512_loadu_ps(y0 + g), acc);
                acc = _mm512_fmadd_ps(a1, _mm512_loadu_ps(y1 + g), acc);
                acc = _mm512_fmadd_ps(a2, _mm512_loadu_ps(y2 + g), acc);
                acc = _mm512_fmadd_ps(a3, _mm512_loadu_ps(y3 + g), acc);
                _mm512_storeu_ps(pf + g, acc);
            }
        }
    }
    for (; r < r1; r++) {
        const float *y = O + r * ld;
        for (uint32_t f = 0; f < k; f++) {
            const __m512 a = _mm512_set1_ps(y[f]);
            float *pf = P + (size_t)f * ld;
            for (uint32_t g = f & ~15u; g < ld; g += 16)
                _mm512_storeu_ps(
                    pf + g, _mm512_fmadd_ps(a, _mm512_loadu_ps(y + g), _mm512_loadu_ps(pf + g)));
        }
    }
}

static const als_kern kern_avx512[9] = {
    {gemv_avx512, sparse_avx512, gram_avx512},
    {gemv1, sparse1, gram_avx512},
    {gemv2, sparse2, gram_avx512},
    {gemv3, sparse3, gram_avx512},
    {gemv4, sparse4, gram_avx512},
    {gemv5, sparse5, gram_avx512},
    {gemv6, sparse6, gram_avx512},
    {gemv7, sparse7, gram_avx512},
    {gemv8, sparse8, gram_avx512},
};
#endif

static const als_kern *pick_kernels(uint32_t ld, int force_scalar) {
#ifdef ALS_X86
    if (!force_scalar && sr__mf_have_avx512()) return &kern_avx512[ld / 16 <= 8 ? ld / 16 : 0];
#endif
    return &kern_scalar;
}

/* ---- the exact solve (cholesky rows, fold-in) ---- */

/* A = G + lambda I, (k, k). */
static void ridge(const double *G, double lambda, uint32_t k, double *A) {
    memcpy(A, G, (size_t)k * k * sizeof *A);
    for (uint32_t f = 0; f < k; f++) A[(size_t)f * k + f] += lambda;
}

/* One pair's part of the normal equations: A += w o o^T (lower triangle), b += t o. The
 * row update runs in blocks of 8 (it vectorises at -O2), then a tail. */
static void normal_add(double *A, double *b, uint32_t k, const float *o, double w, double t) {
    for (uint32_t f = 0; f < k; f++) {
        const double of = o[f], wf = w * of;
        b[f] += t * of;
        if (wf == 0) continue;
        double *row = A + (size_t)f * k;
        size_t g = 0;
        for (; g + 8 <= (size_t)f + 1; g += 8)
            for (size_t l = 0; l < 8; l++) row[g + l] += wf * o[g + l];
        for (; g <= f; g++) row[g] += wf * o[g];
    }
}

/* a . b over n doubles in four partial sums: four independent chains of multiply-adds
 * instead of one (the factorisation below is bound by this loop's latency). */
static double ddot(const double *a, const double *b, uint32_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t q = 0;
    for (; q + 4 <= n; q += 4) {
        s0 += a[q] * b[q];
        s1 += a[q + 1] * b[q + 1];
        s2 += a[q + 2] * b[q + 2];
        s3 += a[q + 3] * b[q + 3];
    }
    for (; q < n; q++) s0 += a[q] * b[q];
    return (s0 + s1) + (s2 + s3);
}

/* In-place Cholesky A = L L^T of the symmetric (k, k) A, lower triangle read and
 * written. A pivot below 1e-12 of the largest diagonal entry (A singular or nearly,
 * possible only with regularization 0) is raised to it: a slightly larger ridge in that
 * direction, so that every row gets a finite solution. */
static void cholesky(double *A, uint32_t k) {
    double big = 0;
    for (uint32_t f = 0; f < k; f++) big = fmax(big, fabs(A[(size_t)f * k + f]));
    const double floor_ = (big > 0 ? big : 1) * 1e-12;
    for (uint32_t j = 0; j < k; j++) {
        double *rj = A + (size_t)j * k;
        double d = rj[j] - ddot(rj, rj, j);
        d = sqrt(d > floor_ ? d : floor_);
        rj[j] = d;
        for (uint32_t i = j + 1; i < k; i++) {
            double *ri = A + (size_t)i * k;
            ri[j] = (ri[j] - ddot(ri, rj, j)) / d;
        }
    }
}

/* Solves L L^T x = b in place (b becomes x). */
static void chol_solve(const double *L, uint32_t k, double *b) {
    for (uint32_t i = 0; i < k; i++)
        b[i] = (b[i] - ddot(L + (size_t)i * k, b, i)) / L[(size_t)i * k + i];
    for (uint32_t i = k; i-- > 0;) {
        double v = b[i];
        for (uint32_t q = i + 1; q < k; q++) v -= L[(size_t)q * k + i] * b[q];
        b[i] = v / L[(size_t)i * k + i];
    }
}

/* ---- the fit ---- */

/* One side's rows and their pairs: row r's pairs are [ptr[r], ptr[r + 1]) of idx (the
 * other side's rows), val (play counts) and w (c - 1). */
typedef struct als_side {
    uint32_t rows;
    const uint64_t *ptr;
    const uint32_t *idx;
    const float *val, *w;
    float *self;        /* (rows, ld) */
    const float *other; /* (other rows, ld) */
} als_side;

/* What the workers of one phase share: a half-iteration's solves, or a Gram matrix. */
typedef struct als_phase {
    const als_kern *kern;
    uint32_t k, ld;
    atomic_size_t next; /* the next chunk (solves) or group (Gram) to take */
    /* solves */
    const als_side *sd;
    const float *Gf;  /* (k, ld) G + lambda I (cg) */
    const double *Gd; /* (k, k) G + lambda I (cholesky) */
    int cg_steps;
    bool chol;
    size_t chunk;
    /* Gram */
    const float *O;
    size_t rows;
    uint32_t groups;
    double *acc; /* (groups, k, k) upper triangles */
} als_phase;

typedef struct als_worker {
    als_phase *ph;
    float *vec;  /* (3, ld): r, p, Ap (cg) */
    float *part; /* (k, ld) a chunk's Gram in float */
    double *A;   /* (k, k) + (k): the system and right-hand side (cholesky), or NULL */
} als_worker;

/* CG from x's current value (the `implicit` library's scheme). */
static void cg_row(const als_phase *ph, const als_worker *wk, float *x, const uint32_t *idx,
                   const float *val, const float *w, size_t n) {
    const als_kern *K = ph->kern;
    const uint32_t k = ph->k, ld = ph->ld;
    const float *O = ph->sd->other;
    float *r = wk->vec, *p = r + ld, *ap = p + ld;
    /* r = b - A x = -G x + sum_q (c_q p_q - w_q (o_q . x)) o_q */
    K->gemv(ph->Gf, x, ap, k, ld);
    memset(r, 0, ld * sizeof *r);
    vaxpy(r, -1.0f, ap, ld);
    K->sparse(r, x, O, ld, idx, w, val, -1.0f, n);
    memcpy(p, r, ld * sizeof *p);
    float rs = vdot(r, r, ld);
    for (int s = 0; s < ph->cg_steps && rs > CG_EPS; s++) {
        K->gemv(ph->Gf, p, ap, k, ld);
        K->sparse(ap, p, O, ld, idx, w, NULL, 1.0f, n);
        const float pap = vdot(p, ap, ld);
        if (!(pap > 0)) break;
        const float a = rs / pap;
        vaxpy(x, a, p, ld);
        vaxpy(r, -a, ap, ld);
        const float rn = vdot(r, r, ld);
        vxpby(p, r, rn / rs, ld);
        rs = rn;
    }
}

static void chol_row(const als_phase *ph, const als_worker *wk, float *x, const uint32_t *idx,
                     const float *val, const float *w, size_t n) {
    const uint32_t k = ph->k, ld = ph->ld;
    double *A = wk->A, *b = A + (size_t)k * k;
    memcpy(A, ph->Gd, (size_t)k * k * sizeof *A);
    memset(b, 0, k * sizeof *b);
    for (size_t q = 0; q < n; q++)
        normal_add(A, b, k, ph->sd->other + (size_t)idx[q] * ld, w[q],
                   sr_confidence_target(val[q], w[q]));
    cholesky(A, k);
    chol_solve(A, k, b);
    for (uint32_t f = 0; f < k; f++) x[f] = (float)b[f];
}

/* Asks for the first PREFETCH_NEXT other-side rows of row u (the sparse kernel fetches
 * the rest ahead of itself), so that they arrive while the row before is solved: rows
 * with few pairs (most songs) would otherwise wait for each of their rows in turn. */
static void prefetch_pairs(const als_side *sd, uint32_t ld, size_t u) {
    const uint64_t b = sd->ptr[u], e = sd->ptr[u + 1];
    for (uint64_t q = b; q < e && q < b + PREFETCH_NEXT; q++) {
        const char *o = (const char *)(sd->other + (size_t)sd->idx[q] * ld);
        for (size_t f = 0; f < ld * sizeof(float); f += 64) __builtin_prefetch(o + f);
    }
}

static void *solve_worker(void *arg) {
    const als_worker *wk = arg;
    als_phase *ph = wk->ph;
    const als_side *sd = ph->sd;
    for (;;) {
        const size_t lo = atomic_fetch_add(&ph->next, ph->chunk);
        if (lo >= sd->rows) break;
        const size_t hi = lo + ph->chunk < sd->rows ? lo + ph->chunk : sd->rows;
        for (size_t u = lo; u < hi; u++) {
            float *x = sd->self + u * ph->ld;
            const uint64_t b = sd->ptr[u], n = sd->ptr[u + 1] - b;
            if (u + 1 < hi) prefetch_pairs(sd, ph->ld, u + 1);
            if (n == 0)
                memset(x, 0, ph->ld * sizeof *x);
            else if (ph->chol)
                chol_row(ph, wk, x, sd->idx + b, sd->val + b, sd->w + b, n);
            else
                cg_row(ph, wk, x, sd->idx + b, sd->val + b, sd->w + b, n);
        }
    }
    return NULL;
}

static void *gram_worker(void *arg) {
    const als_worker *wk = arg;
    als_phase *ph = wk->ph;
    const uint32_t k = ph->k, ld = ph->ld;
    for (;;) {
        const size_t g = atomic_fetch_add(&ph->next, 1);
        if (g >= ph->groups) break;
        const size_t r0 = ph->rows * g / ph->groups, r1 = ph->rows * (g + 1) / ph->groups;
        double *acc = ph->acc + g * k * k;
        memset(acc, 0, (size_t)k * k * sizeof *acc);
        for (size_t c0 = r0; c0 < r1; c0 += GRAM_CHUNK) {
            const size_t c1 = c0 + GRAM_CHUNK < r1 ? c0 + GRAM_CHUNK : r1;
            memset(wk->part, 0, (size_t)k * ld * sizeof *wk->part);
            ph->kern->gram(wk->part, ph->O, k, ld, c0, c1);
            for (uint32_t f = 0; f < k; f++)
                for (uint32_t h = f; h < k; h++)
                    acc[(size_t)f * k + h] += wk->part[(size_t)f * ld + h];
        }
    }
    return NULL;
}

/* Runs fn on T workers: the calling thread is worker 0; a worker whose thread does not
 * start leaves its share to the others (the work is handed out by ph->next). */
static void run_workers(void *(*fn)(void *), als_worker *wk, uint32_t T) {
    pthread_t tid[MAX_THREADS];
    bool started[MAX_THREADS] = {0};
    for (uint32_t j = 1; j < T; j++) started[j] = pthread_create(&tid[j], NULL, fn, &wk[j]) == 0;
    fn(&wk[0]);
    for (uint32_t j = 1; j < T; j++)
        if (started[j]) pthread_join(tid[j], NULL);
}

/* Groups of the Gram sum over `rows` rows: a function of rows and k only. */
static uint32_t gram_groups(size_t rows, uint32_t k) {
    size_t g = (rows + GRAM_GROUP - 1) / GRAM_GROUP;
    const size_t cap = GRAM_BYTES / ((size_t)k * k * sizeof(double));
    if (g > GRAM_GROUPS) g = GRAM_GROUPS;
    if (g > cap) g = cap;
    return g < 1 ? 1 : (uint32_t)g;
}

/* G (k, k) = O^T O over the first `rows` rows of O. */
static void gram(als_phase *ph, als_worker *wk, uint32_t T, const float *O, size_t rows,
                 double *G) {
    const uint32_t k = ph->k;
    ph->O = O;
    ph->rows = rows;
    ph->groups = gram_groups(rows, k);
    atomic_store(&ph->next, 0);
    run_workers(gram_worker, wk, T < ph->groups ? T : ph->groups);
    memset(G, 0, (size_t)k * k * sizeof *G);
    for (uint32_t g = 0; g < ph->groups; g++) {
        const double *acc = ph->acc + (size_t)g * k * k;
        for (uint32_t f = 0; f < k; f++)
            for (uint32_t h = f; h < k; h++) G[(size_t)f * k + h] += acc[(size_t)f * k + h];
    }
    for (uint32_t f = 0; f < k; f++)
        for (uint32_t h = 0; h < f; h++) G[(size_t)f * k + h] = G[(size_t)h * k + f];
}

/* Solves every row of sd against G = other^T other (double, (k, k)). */
static void solve_side(als_phase *ph, als_worker *wk, uint32_t T, const als_side *sd,
                       const double *G, double lambda, double *Gd, float *Gf) {
    const uint32_t k = ph->k, ld = ph->ld;
    ridge(G, lambda, k, Gd);
    for (uint32_t f = 0; f < k; f++)
        for (uint32_t h = 0; h < ld; h++)
            Gf[(size_t)f * ld + h] = h < k ? (float)Gd[(size_t)f * k + h] : 0.0f;
    ph->sd = sd;
    ph->Gd = Gd;
    ph->Gf = Gf;
    size_t chunk = sd->rows / ((size_t)T * 32);
    ph->chunk = chunk < 1 ? 1 : chunk > CHUNK_ROWS ? CHUNK_ROWS : chunk;
    atomic_store(&ph->next, 0);
    run_workers(solve_worker, wk, T);
}

static void als_free(void *state) {
    als_state *s = state;
    if (!s) return;
    if (!s->mapped) {
        sr__mf_free(s->xu);
        sr__mf_free(s->yi);
        sr_free(s->yty);
    }
    sr_free(s);
}

static void set_views(als_state *s, const sr_trainset *ts) {
    s->X =
        (sr_fmat){.data = s->xu, .rows = ts->n_users, .k = s->k, .ld = s->ld, .type = SR_FMAT_F32};
    s->Y =
        (sr_fmat){.data = s->yi, .rows = ts->n_items, .k = s->k, .ld = s->ld, .type = SR_FMAT_F32};
}

static sr_confidence confidence_of(const double *p) {
    const double t = p[P_TRANSFORM];
    return (sr_confidence){
        .f = t >= 0 && t <= SR_CONF_QUANTILE ? (sr_conf_transform)t : SR_CONF_LINEAR,
        .alpha = p[P_ALPHA],
        .eps = p[P_EPS],
        .cap = p[P_CAP],
        .k1 = p[P_BM25_K1],
        .b = p[P_BM25_B],
    };
}

/* The scratch of one fit: freed by scratch_free whatever was allocated. */
typedef struct als_scratch {
    float *wu, *wi; /* (n) c - 1 in user and item order */
    double *G, *Gd; /* (k, k) */
    float *Gf;      /* (k, ld) */
    double *acc;    /* (groups, k, k) */
    als_worker wk[MAX_THREADS];
} als_scratch;

static void scratch_free(als_scratch *sc, uint32_t T) {
    sr_free(sc->wu), sr_free(sc->wi), sr_free(sc->G), sr_free(sc->Gd), sr_free(sc->acc);
    sr__mf_free(sc->Gf);
    for (uint32_t j = 0; j < T; j++) {
        sr__mf_free(sc->wk[j].vec);
        sr__mf_free(sc->wk[j].part);
        sr_free(sc->wk[j].A);
    }
}

static bool scratch_alloc(als_scratch *sc, const sr_trainset *ts, const sr_confidence *conf,
                          uint32_t k, uint32_t ld, uint32_t T, bool chol) {
    const size_t kk = (size_t)k * k;
    const uint32_t groups = gram_groups(ts->n_users > ts->n_items ? ts->n_users : ts->n_items, k);
    if (sr_confidence_weights(conf, ts, &sc->wu, &sc->wi)) return false;
    sc->G = sr_mallocarray(kk, sizeof *sc->G);
    sc->Gd = sr_mallocarray(kk, sizeof *sc->Gd);
    sc->Gf = sr__mf_alloc(k, ld);
    sc->acc = sr_mallocarray(groups * kk, sizeof *sc->acc);
    bool ok = sc->wu && sc->wi && sc->G && sc->Gd && sc->Gf && sc->acc;
    for (uint32_t j = 0; ok && j < T; j++) {
        sc->wk[j].vec = sr__mf_alloc(3, ld);
        sc->wk[j].part = sr__mf_alloc(k, ld);
        sc->wk[j].A = chol ? sr_mallocarray(kk + k, sizeof *sc->wk[j].A) : NULL;
        ok = sc->wk[j].vec && sc->wk[j].part && (!chol || sc->wk[j].A);
    }
    return ok;
}

sr_err sr__als_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, int force_scalar,
                   void **state, sr_diag *d) {
    *state = NULL;
    if (!(p[P_FACTORS] >= 1 && p[P_FACTORS] <= MAX_K) || !(p[P_ITERATIONS] >= 0) ||
        !(p[P_REG] >= 0) || !(p[P_ALPHA] >= 0) || !(p[P_EPS] > 0) || !(p[P_CG_STEPS] >= 1) ||
        !(p[P_BM25_K1] >= 0) || !(p[P_BM25_B] >= 0 && p[P_BM25_B] <= 1))
        return sr_diag_set(d, SR_E_USAGE,
                           "ALS: factors must be in [1, 1024], iterations >= 0, regularization "
                           ">= 0, alpha >= 0, eps > 0, cg_steps >= 1, bm25_k1 >= 0, bm25_b in "
                           "[0, 1]");
    const uint32_t k = (uint32_t)p[P_FACTORS], ld = sr__mf_ld(k);
    const int iters = (int)p[P_ITERATIONS];
    const double lambda = p[P_REG];
    const bool chol = p[P_SOLVER] == SOLVER_CHOLESKY;
    const sr_confidence conf = confidence_of(p);
    uint32_t T = c->threads < 1 ? 1 : c->threads > MAX_THREADS ? MAX_THREADS : (uint32_t)c->threads;

    als_state *s = sr_calloc(1, sizeof *s);
    als_scratch sc;
    memset(&sc, 0, sizeof sc);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "ALS: out of memory");
    s->k = k;
    s->ld = ld;
    sr_confidence_corpus(ts, &s->corpus);
    s->xu = sr__mf_alloc(ts->n_users, ld);
    s->yi = sr__mf_alloc(ts->n_items, ld);
    s->yty = sr_calloc((size_t)k * k, sizeof *s->yty);
    if (!s->xu || !s->yi || !s->yty || !scratch_alloc(&sc, ts, &conf, k, ld, T, chol)) {
        scratch_free(&sc, T);
        als_free(s);
        return sr_diag_set(d, SR_E_NOMEM, "ALS: out of memory for %u + %u rows of %u factors",
                           ts->n_users, ts->n_items, k);
    }
    sr_rng rng;
    sr_rng_seed(&rng, c->seed);
    sr__mf_init_normal(s->xu, ts->n_users, k, ld, &rng, 0, 0.01);

    als_phase ph;
    memset(&ph, 0, sizeof ph);
    ph.kern = pick_kernels(ld, force_scalar);
    ph.k = k;
    ph.ld = ld;
    ph.cg_steps = (int)p[P_CG_STEPS];
    ph.chol = chol;
    ph.acc = sc.acc;
    for (uint32_t j = 0; j < T; j++) sc.wk[j].ph = &ph;
    const als_side items = {ts->n_items, ts->item_ptr, ts->ir_user, ts->ir_r, sc.wi, s->yi, s->xu};
    const als_side users = {ts->n_users, ts->user_ptr, ts->ur_item, ts->ur_r, sc.wu, s->xu, s->yi};
    for (int it = 0; it < iters; it++) {
        gram(&ph, sc.wk, T, s->xu, ts->n_users, sc.G);
        solve_side(&ph, sc.wk, T, &items, sc.G, lambda, sc.Gd, sc.Gf);
        gram(&ph, sc.wk, T, s->yi, ts->n_items, s->yty);
        solve_side(&ph, sc.wk, T, &users, s->yty, lambda, sc.Gd, sc.Gf);
        sr_progress(c->log, "ALS", (uint64_t)it + 1, (uint64_t)iters);
    }
    if (iters == 0) gram(&ph, sc.wk, T, s->yi, ts->n_items, s->yty);
    scratch_free(&sc, T);
    set_views(s, ts);
    *state = s;
    return SR_OK;
}

static sr_err als_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                      sr_diag *d) {
    return sr__als_fit(ts, p, c, 0, state, d);
}

void sr__als_views(const void *state, sr_fmat *X, sr_fmat *Y, const double **yty) {
    const als_state *s = state;
    *X = s->X;
    *Y = s->Y;
    *yty = s->yty;
}

/* ---- scores ---- */

static bool als_estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                         double *est) {
    const als_state *s = state;
    if (!sr_trainset_knows_user(ts, u) || !sr_trainset_knows_item(ts, i)) return false;
    *est = sr_fmat_dot2(&s->X, u, &s->Y, i);
    return true;
}

/* out[lo..hi) = y_i . x, NaN for items the trainset does not know. */
static void scan(const als_state *s, const sr_trainset *ts, const float *x, float *out, uint32_t lo,
                 uint32_t hi) {
    sr_fmat_scores(&s->Y, x, NULL, 0, out, lo, hi);
    for (uint32_t i = lo; i < hi; i++)
        if (!sr_trainset_knows_item(ts, i)) out[i] = NAN;
}

static void als_score_user(const void *state, const sr_trainset *ts, uint32_t u, float *out,
                           uint32_t lo, uint32_t hi) {
    const als_state *s = state;
    if (!sr_trainset_knows_user(ts, u)) {
        for (uint32_t i = lo; i < hi; i++) out[i] = NAN;
        return;
    }
    /* Items the trainset does not know are left as the scan makes them (0: their rows are
     * 0), not marked: ranking never offers them (model.h). */
    float x[MAX_K];
    sr_fmat_row(&s->X, u, x);
    sr_fmat_scores(&s->Y, x, NULL, 0, out, lo, hi);
}

/* score_users: the listeners' rows against each block of song rows (fmat.h). */
static void als_score_users(const void *state, const sr_trainset *ts, const uint32_t *users,
                            size_t n, float *out, size_t ldo, uint32_t lo, uint32_t hi) {
    const als_state *s = state;
    const size_t ld = (s->k + 15) / 16 * 16;
    float *X = sr_calloc(n ? n * ld : 1, sizeof *X), *add = sr_calloc(n ? n : 1, sizeof *add);
    if (!X || !add) { /* one listener at a time, into range-sized rows */
        for (size_t x = 0; x < n; x++)
            for (uint32_t i = lo; i < hi; i++) {
                double e;
                out[x * ldo + (i - lo)] = als_estimate(state, ts, users[x], i, &e) ? (float)e : NAN;
            }
        sr_free(X), sr_free(add);
        return;
    }
    for (size_t x = 0; x < n; x++)
        if (sr_trainset_knows_user(ts, users[x])) sr_fmat_row(&s->X, users[x], X + x * ld);
    sr_fmat_scores_multi(&s->Y, X, n, ld, NULL, add, out, ldo, lo, hi);
    for (size_t x = 0; x < n; x++) /* unknown listeners: impossible, as score_user says */
        if (!sr_trainset_knows_user(ts, users[x]))
            for (uint32_t i = lo; i < hi; i++) out[x * ldo + (i - lo)] = NAN;
    sr_free(X), sr_free(add);
}

static bool als_similar(const void *state, const sr_trainset *ts, uint32_t i, float *out) {
    const als_state *s = state;
    const uint64_t n = s->Y.rows;
    if (i >= n) return false;
    float x[MAX_K];
    sr_fmat_row(&s->Y, i, x);
    double nx = 0;
    for (uint32_t f = 0; f < s->k; f++) nx += (double)x[f] * x[f];
    nx = sqrt(nx);
    sr_fmat_scores(&s->Y, x, NULL, 0, out, 0, n);
    for (uint64_t j = 0; j < n; j++) {
        const double nj = sqrt(sr_fmat_dot2(&s->Y, j, &s->Y, j));
        out[j] = nx > 0 && nj > 0 ? (float)(out[j] / (nx * nj)) : NAN;
    }
    return true;
}

/* ---- model files ---- */

/* A factor matrix: the fit's padded rows, or (a loaded state saved again) the view's. */
static void put_fmat(sr_srm_writer *w, const char *name, const float *own, const sr_fmat *m,
                     uint32_t ld) {
    if (own)
        sr_srm_put_factors(w, name, own, m->rows, m->k, ld);
    else if (m->type == SR_FMAT_F32)
        sr_srm_put_factors(w, name, m->data, m->rows, m->k, m->ld);
    else
        sr_srm_put(w, name, SR_SRM_F16, m->data, m->rows * m->k);
}

static void als_save(const void *state, const sr_trainset *ts, sr_srm_writer *w) {
    const als_state *s = state;
    put_fmat(w, "m.xu", s->xu, &s->X, s->ld);
    put_fmat(w, "m.yi", s->yi, &s->Y, s->ld);
    sr_srm_put(w, "m.yty", SR_SRM_F64, s->yty, (uint64_t)s->k * s->k);
    sr_confidence_save(&s->corpus, w);
}

static sr_err als_load(sr_srm *r, const sr_trainset *ts, const double *p, void **state,
                       sr_diag *d) {
    *state = NULL;
    if (!(p[P_FACTORS] >= 1 && p[P_FACTORS] <= MAX_K))
        return sr_diag_set(d, SR_E_CORRUPT, "%s: bad ALS factor count", sr_srm_path(r));
    const uint32_t k = (uint32_t)p[P_FACTORS];
    sr_fmat X, Y;
    const void *g;
    sr_err e = sr_srm_get_fmat(r, "m.xu", ts->n_users, k, &X, d);
    if (!e) e = sr_srm_get_fmat(r, "m.yi", ts->n_items, k, &Y, d);
    if (!e) e = sr_srm_get(r, "m.yty", SR_SRM_F64, (uint64_t)k * k, &g, NULL, d);
    const sr_confidence conf = confidence_of(p);
    sr_conf_corpus corpus;
    if (!e) e = sr_confidence_load(r, &conf, ts, &corpus, d);
    if (e) return e;
    const double *yty = g;
    for (uint32_t f = 0; f < k; f++) {
        bool ok = yty[(size_t)f * k + f] >= 0;
        for (uint32_t h = 0; h < k; h++) ok = ok && isfinite(yty[(size_t)f * k + h]);
        if (!ok) return sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt ALS Gram matrix", sr_srm_path(r));
    }
    als_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    s->k = k;
    s->ld = sr__mf_ld(k);
    s->yty = (double *)yty;
    s->X = X;
    s->Y = Y;
    s->corpus = corpus;
    s->mapped = true;
    *state = s;
    return SR_OK;
}

/* ---- new listeners ---- */

/* A folded-in listener: x, and what explain needs. */
typedef struct als_user {
    float *z;  /* (ld) x, padding zero */
    double *L; /* (k, k) Cholesky factor of Y^T C Y + lambda I, then (k) scratch */
    float *t;  /* (n) c_j p_j */
} als_user;

static void als_user_free(void *ustate) {
    als_user *u = ustate;
    if (!u) return;
    sr_free(u->z), sr_free(u->L), sr_free(u->t);
    sr_free(u);
}

/* The exact solve for the listener (the cholesky row solve of the fit, with the stored
 * Y^T Y, their values through the fit's transform): for a trained user's own counts it
 * gives that user's row of a cholesky fit. */
static sr_err als_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *nu,
                          sr_diag *d) {
    const als_state *s = state;
    nu->state = NULL;
    const uint32_t k = s->k;
    const size_t n = nu->n;
    const sr_confidence conf = confidence_of(p);
    als_user *u = sr_calloc(1, sizeof *u);
    float row[MAX_K];
    float *w = sr_mallocarray(n ? 2 * n : 1, sizeof *w); /* (n) weights, (n) scratch */
    if (u) {
        u->z = sr_calloc(s->ld, sizeof *u->z);
        u->L = sr_mallocarray((size_t)k * k + k, sizeof *u->L);
        u->t = sr_mallocarray(n ? n : 1, sizeof *u->t);
    }
    if (!u || !u->z || !u->L || !u->t || !w) {
        als_user_free(u);
        sr_free(w);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    sr_confidence_row(&conf, &s->corpus, ts, nu->items, nu->r, n, w + n, w);
    double *b = u->L + (size_t)k * k;
    ridge(s->yty, p[P_REG], k, u->L);
    memset(b, 0, k * sizeof *b);
    for (size_t j = 0; j < n; j++) {
        u->t[j] = sr_confidence_target(nu->r[j], w[j]);
        sr_fmat_row(&s->Y, nu->items[j], row);
        normal_add(u->L, b, k, row, w[j], u->t[j]);
    }
    sr_free(w);
    cholesky(u->L, k);
    chol_solve(u->L, k, b);
    for (uint32_t f = 0; f < k; f++) u->z[f] = (float)b[f];
    nu->state = u;
    return SR_OK;
}

static bool als_estimate_new(const void *state, const sr_trainset *ts, const sr_newuser *nu,
                             uint32_t i, double *est) {
    const als_state *s = state;
    const als_user *u = nu->state;
    if (!sr_trainset_knows_item(ts, i)) return false;
    *est = sr_fmat_dot(&s->Y, i, u->z);
    return true;
}

/* Known items score Y_i . x: the recommender may scan an int8 copy of Y (model.h). */
static void als_linear(const void *state, const sr_newuser *nu, sr_linear *lin) {
    const als_state *s = state;
    *lin = (sr_linear){.Q = s->Y};
    if (nu) lin->x = ((const als_user *)nu->state)->z;
}

static void als_score_new(const void *state, const sr_trainset *ts, const sr_newuser *nu,
                          float *out, uint32_t lo, uint32_t hi) {
    const als_user *u = nu->state;
    scan(state, ts, u->z, out, lo, hi);
}

/* w_j = y_i^T W y_j c_j p_j: W y_i by the kept factor, then one dot per listened song. */
static bool als_explain(const void *state, const sr_trainset *ts, const sr_newuser *nu, uint32_t i,
                        double *w) {
    const als_state *s = state;
    const als_user *u = nu->state;
    if (!sr_trainset_knows_item(ts, i)) return false;
    const uint32_t k = s->k;
    double t[MAX_K];
    float row[MAX_K];
    sr_fmat_row(&s->Y, i, row);
    for (uint32_t f = 0; f < k; f++) t[f] = row[f];
    chol_solve(u->L, k, t);
    for (size_t j = 0; j < nu->n; j++) {
        sr_fmat_row(&s->Y, nu->items[j], row);
        double v = 0;
        for (uint32_t f = 0; f < k; f++) v += t[f] * row[f];
        w[j] = u->t[j] * v;
    }
    return true;
}

const sr_model_ops sr_model_als = {
    .name = "als",
    .surprise = "ALS",
    .summary = "alternating least squares on play-count confidences (Hu, Koren & Volinsky 2008)",
    .params = als_params,
    .n_params = P_COUNT,
    .fit = als_fit,
    .estimate = als_estimate,
    .free = als_free,
    .ts_keep = 0,
    .save = als_save,
    .load = als_load,
    .fold_in = als_fold_in,
    .estimate_new = als_estimate_new,
    .score_new = als_score_new,
    .linear = als_linear,
    .explain = als_explain,
    .user_free = als_user_free,
    .similar = als_similar,
    .score_user = als_score_user,
    .score_users = als_score_users,
    .implicit = true,
};
