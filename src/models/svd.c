/* SVD: biased (or unbiased, = probabilistic) matrix factorisation fitted by SGD, as
 * popularised by Simon Funk for the Netflix Prize (Koren, Bell & Volinsky, "Matrix
 * factorization techniques for recommender systems", IEEE Computer 2009, eq. 5) — with
 * the parameters, defaults, update order and estimate of Surprise's SVD
 * (surprise/prediction_algorithms/matrix_factorization.pyx, v1.1.x):
 *
 *   est(u, i) = mu + b_u + b_i + q_i . p_u        (biased; unbiased: q_i . p_u)
 *   each epoch, for every rating (u, i, r) in trainset order (users ascending, items
 *   ascending within a user — no shuffle, like Surprise's all_ratings()):
 *     e    = r - est(u, i)
 *     b_u += lr_bu (e - reg_bu b_u);  b_i += lr_bi (e - reg_bi b_i)    (biased only)
 *     p_u += lr_pu (e q_i - reg_pu p_u);  q_i += lr_qi (e p_u - reg_qi q_i)  (old p_u, q_i)
 *
 * Biases start at 0, p (n_users, k) then q (n_items, k) are drawn N(init_mean,
 * init_std_dev^2) row by row from the seed (mf.h). An unknown user contributes neither
 * b_u nor p_u, an unknown item neither b_i nor q_i; unbiased with either unknown is
 * impossible. The factor step is written (1 - lr reg) x + (lr e) y, equal to Surprise's
 * form in exact arithmetic. Floats throughout the hot loop; an AVX-512F kernel is picked
 * at run time (p_u kept in registers for k <= 256, the next dot formed ahead of the
 * update; see user_regs), else a portable loop that agrees to float rounding. With
 * threads == 1 the order is Surprise's and a seed gives the same model on a given
 * kernel; threads > 1 uses a blocked DSGD schedule (fit_blocked): reproducible for a
 * (seed, threads), not the same model as threads == 1. Too large a learning rate or
 * initial spread makes the steps overshoot until the parameters overflow: such a fit
 * fails with SR_E_DIVERGED (sr__mf_finish) instead of returning a model of NaNs.
 *
 * State: bu (n_users), bi (n_items), pu (n_users, ld), qi (n_items, ld) — row-major,
 * ld = k rounded up to 16, 64-byte aligned, padding zero; owned.
 */
#include <math.h>
#include <pthread.h>

#include "models/mf.h"
#include "models/model.h"
#include "util/mem.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

typedef sr_mf_state svd_state;

enum {
    P_N_FACTORS,
    P_N_EPOCHS,
    P_BIASED,
    P_INIT_MEAN,
    P_INIT_STD,
    P_LR_ALL,
    P_REG_ALL,
    P_LR_BU,
    P_LR_BI,
    P_LR_PU,
    P_LR_QI,
    P_REG_BU,
    P_REG_BI,
    P_REG_PU,
    P_REG_QI,
    P_COUNT
};

static const sr_param_def svd_params[P_COUNT] = {
    [P_N_FACTORS] = {"n_factors", SR_PARAM_INT, 100, 1, 4096, NULL, "number of latent factors"},
    SR_MF_SGD_PARAMS,
    [P_BIASED] = {"biased", SR_PARAM_BOOL, 1, 0, 1, NULL,
                  "use baselines mu + b_u + b_i (false: probabilistic MF)"},
    [P_LR_ALL] = {"lr_all", SR_PARAM_REAL, 0.005, 0, 10, NULL, "learning rate of all parameters"},
    [P_REG_ALL] = {"reg_all", SR_PARAM_REAL, 0.02, 0, 1e3, NULL,
                   "regularisation of all parameters"},
};

/* The step constants of one fit. */
typedef struct svd_rates {
    float mu; /* global mean, 0 when unbiased */
    float lbu, rbu, lbi, rbi;
    float lpu, dpu; /* lr_pu, 1 - lr_pu reg_pu */
    float lqi, dqi;
} svd_rates;

/* The ratings one kernel call visits: users [u_lo, u_hi), and of each user either all
 * its ratings (off NULL) or those with items in block b: [off[u stride + b],
 * off[u stride + b + 1]) (the parallel schedule, see fit). */
typedef struct svd_span {
    uint32_t u_lo, u_hi;
    const uint64_t *off; /* (n_users, stride) or NULL */
    uint32_t stride, b;
} svd_span;

static inline void span_range(const sr_trainset *ts, const svd_span *sp, uint32_t u, uint64_t *beg,
                              uint64_t *end) {
    if (!sp->off) {
        *beg = ts->user_ptr[u], *end = ts->user_ptr[u + 1];
    } else {
        const uint64_t *o = sp->off + (size_t)u * sp->stride + sp->b;
        *beg = o[0], *end = o[1];
    }
}

typedef void (*svd_kernel)(const sr_trainset *ts, svd_state *s, const svd_rates *c,
                           const svd_span *sp);

/* The span's SGD steps, portable. Padding columns are skipped (they stay zero). */
static void span_scalar(const sr_trainset *ts, svd_state *s, const svd_rates *c,
                        const svd_span *sp) {
    const uint32_t k = s->k, ld = s->ld;
    float *restrict bu = s->bu, *restrict bi = s->bi;
    for (uint32_t u = sp->u_lo; u < sp->u_hi; u++) {
        float *restrict p = s->pu + (size_t)u * ld;
        uint64_t beg, end;
        span_range(ts, sp, u, &beg, &end);
        for (uint64_t q = beg; q < end; q++) {
            uint32_t i = ts->ur_item[q];
            float *restrict v = s->qi + (size_t)i * ld;
            float dot = 0;
            for (uint32_t f = 0; f < k; f++) dot += p[f] * v[f];
            float err = ts->ur_r[q] - (c->mu + bu[u] + bi[i] + dot);
            if (s->biased) {
                bu[u] += c->lbu * (err - c->rbu * bu[u]);
                bi[i] += c->lbi * (err - c->rbi * bi[i]);
            }
            const float gp = c->lpu * err, gq = c->lqi * err, dp = c->dpu, dq = c->dqi;
            for (uint32_t f = 0; f < k; f++) {
                float pf = p[f], qf = v[f];
                p[f] = dp * pf + gp * qf;
                v[f] = dq * qf + gq * pf;
            }
        }
    }
}

#if defined(__x86_64__)
/* The span's SGD steps, AVX-512F, for any width: rows are ld floats (a multiple of 16),
 * 64-byte aligned. Four dot accumulators hide the FMA latency. */
__attribute__((target("avx512f"))) static void span_avx512(const sr_trainset *ts, svd_state *s,
                                                           const svd_rates *c, const svd_span *sp) {
    const uint32_t ld = s->ld;
    float *restrict bu = s->bu, *restrict bi = s->bi;
    const __m512 vdp = _mm512_set1_ps(c->dpu), vdq = _mm512_set1_ps(c->dqi);
    for (uint32_t u = sp->u_lo; u < sp->u_hi; u++) {
        float *restrict p = s->pu + (size_t)u * ld;
        uint64_t beg, end;
        span_range(ts, sp, u, &beg, &end);
        for (uint64_t q = beg; q < end; q++) {
            uint32_t i = ts->ur_item[q];
            float *restrict v = s->qi + (size_t)i * ld;
            /* The item row of rating q + 2 is a random access: fetch it early. */
            if (q + 2 < end) {
                const char *nx = (const char *)(s->qi + (size_t)ts->ur_item[q + 2] * ld);
                for (uint32_t f = 0; f < ld; f += 16) _mm_prefetch(nx + 4 * f, _MM_HINT_T0);
            }
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
            __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
            uint32_t f = 0;
            for (; f + 64 <= ld; f += 64) {
                a0 = _mm512_fmadd_ps(_mm512_load_ps(p + f), _mm512_load_ps(v + f), a0);
                a1 = _mm512_fmadd_ps(_mm512_load_ps(p + f + 16), _mm512_load_ps(v + f + 16), a1);
                a2 = _mm512_fmadd_ps(_mm512_load_ps(p + f + 32), _mm512_load_ps(v + f + 32), a2);
                a3 = _mm512_fmadd_ps(_mm512_load_ps(p + f + 48), _mm512_load_ps(v + f + 48), a3);
            }
            if (f + 32 <= ld) {
                a0 = _mm512_fmadd_ps(_mm512_load_ps(p + f), _mm512_load_ps(v + f), a0);
                a1 = _mm512_fmadd_ps(_mm512_load_ps(p + f + 16), _mm512_load_ps(v + f + 16), a1);
                f += 32;
            }
            if (f < ld) a2 = _mm512_fmadd_ps(_mm512_load_ps(p + f), _mm512_load_ps(v + f), a2);
            float dot =
                _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
            float err = ts->ur_r[q] - (c->mu + bu[u] + bi[i] + dot);
            if (s->biased) {
                bu[u] += c->lbu * (err - c->rbu * bu[u]);
                bi[i] += c->lbi * (err - c->rbi * bi[i]);
            }
            const __m512 vgp = _mm512_set1_ps(c->lpu * err), vgq = _mm512_set1_ps(c->lqi * err);
            for (f = 0; f < ld; f += 16) {
                __m512 pf = _mm512_load_ps(p + f), qf = _mm512_load_ps(v + f);
                _mm512_store_ps(p + f, _mm512_fmadd_ps(vgp, qf, _mm512_mul_ps(vdp, pf)));
                _mm512_store_ps(v + f, _mm512_fmadd_ps(vgq, pf, _mm512_mul_ps(vdq, qf)));
            }
        }
    }
}

#define AVX512 __attribute__((target("avx512f")))

/* Sum of the 16 lanes of four accumulators. */
static inline __attribute__((always_inline)) AVX512 float hsum4(__m512 a0, __m512 a1, __m512 a2,
                                                                __m512 a3) {
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

/* One user's block with p_u held in NV registers (ld = 16 NV), instantiated for
 * NV = 1..16 below. The per-rating chain "p -> dot -> err -> p" is what bounds the
 * speed, so the next rating's dot is formed without waiting for this rating's update:
 * with p' = d p + g q (d = 1 - lr_pu reg_pu, g = lr_pu err), p' . n = d (p . n) + g (q . n)
 * for the next item row n, and both products only need the old p and q. (When the next
 * item is this one — a repeated pair — the dot is taken directly.) Equal to the plain
 * loop in exact arithmetic; the tests hold it to a double-precision reference. */
static inline __attribute__((always_inline)) AVX512 void
user_regs(const sr_trainset *ts, svd_state *s, const svd_rates *c, uint32_t u, uint64_t beg,
          uint64_t end, const uint32_t NV) {
    const uint32_t ld = 16 * NV;
    float *restrict bu = s->bu, *restrict bi = s->bi;
    float *restrict p = s->pu + (size_t)u * ld;
    const __m512 vdp = _mm512_set1_ps(c->dpu), vdq = _mm512_set1_ps(c->dqi);
    const __m512 z = _mm512_setzero_ps();
    if (beg == end) return;
    __m512 P[16];
#pragma GCC unroll 16
    for (uint32_t j = 0; j < NV; j++) P[j] = _mm512_load_ps(p + 16 * j);
    float dot;
    {
        const float *v = s->qi + (size_t)ts->ur_item[beg] * ld;
        __m512 a[4] = {z, z, z, z};
#pragma GCC unroll 16
        for (uint32_t j = 0; j < NV; j++)
            a[j & 3] = _mm512_fmadd_ps(P[j], _mm512_load_ps(v + 16 * j), a[j & 3]);
        dot = hsum4(a[0], a[1], a[2], a[3]);
    }
    for (uint64_t q = beg; q < end; q++) {
        const uint32_t i = ts->ur_item[q];
        float *restrict v = s->qi + (size_t)i * ld;
        if (q + 2 < end) {
            const char *nx = (const char *)(s->qi + (size_t)ts->ur_item[q + 2] * ld);
#pragma GCC unroll 16
            for (uint32_t j = 0; j < NV; j++) _mm_prefetch(nx + 64 * j, _MM_HINT_T0);
        }
        /* and, from further ahead, into L2: a row of a million-song matrix is a DRAM
         * miss (~250 ns) that two ratings of lead (~100 ns) do not cover (12.8 M x 1 M
         * songs, 2 threads: 13.2 -> 11.5 s; 16 ahead 11.7 s; the 10 k-song set, which
         * lives in the cache, unchanged). */
        if (q + 8 < end) {
            const char *nx = (const char *)(s->qi + (size_t)ts->ur_item[q + 8] * ld);
#pragma GCC unroll 16
            for (uint32_t j = 0; j < NV; j++) _mm_prefetch(nx + 64 * j, _MM_HINT_T1);
        }
        const float err = ts->ur_r[q] - (c->mu + bu[u] + bi[i] + dot);
        if (s->biased) {
            bu[u] += c->lbu * (err - c->rbu * bu[u]);
            bi[i] += c->lbi * (err - c->rbi * bi[i]);
        }
        /* p . n and q . n for the next item row n, from the old p and q. */
        const int ahead = q + 1 < end && ts->ur_item[q + 1] != i;
        float pn = 0, qn = 0;
        if (ahead) {
            const float *n = s->qi + (size_t)ts->ur_item[q + 1] * ld;
            __m512 a[2] = {z, z}, b[2] = {z, z};
#pragma GCC unroll 16
            for (uint32_t j = 0; j < NV; j++) {
                const __m512 nj = _mm512_load_ps(n + 16 * j);
                a[j & 1] = _mm512_fmadd_ps(P[j], nj, a[j & 1]);
                b[j & 1] = _mm512_fmadd_ps(_mm512_load_ps(v + 16 * j), nj, b[j & 1]);
            }
            pn = _mm512_reduce_add_ps(_mm512_add_ps(a[0], a[1]));
            qn = _mm512_reduce_add_ps(_mm512_add_ps(b[0], b[1]));
        }
        const float gp = c->lpu * err;
        const __m512 vgp = _mm512_set1_ps(gp), vgq = _mm512_set1_ps(c->lqi * err);
#pragma GCC unroll 16
        for (uint32_t j = 0; j < NV; j++) {
            const __m512 qf = _mm512_load_ps(v + 16 * j);
            _mm512_store_ps(v + 16 * j, _mm512_fmadd_ps(vgq, P[j], _mm512_mul_ps(vdq, qf)));
            P[j] = _mm512_fmadd_ps(vgp, qf, _mm512_mul_ps(vdp, P[j]));
        }
        if (ahead) {
            dot = c->dpu * pn + gp * qn;
        } else if (q + 1 < end) { /* the same item again: its row just changed */
            __m512 a[4] = {z, z, z, z};
#pragma GCC unroll 16
            for (uint32_t j = 0; j < NV; j++)
                a[j & 3] = _mm512_fmadd_ps(P[j], _mm512_load_ps(v + 16 * j), a[j & 3]);
            dot = hsum4(a[0], a[1], a[2], a[3]);
        }
    }
#pragma GCC unroll 16
    for (uint32_t j = 0; j < NV; j++) _mm512_store_ps(p + 16 * j, P[j]);
}

#define EPOCH_REGS(N)                                                                              \
    AVX512 static void epoch_regs##N(const sr_trainset *ts, svd_state *s, const svd_rates *c,      \
                                     const svd_span *sp) {                                         \
        for (uint32_t u = sp->u_lo; u < sp->u_hi; u++) {                                           \
            uint64_t beg, end;                                                                     \
            span_range(ts, sp, u, &beg, &end);                                                     \
            user_regs(ts, s, c, u, beg, end, N);                                                   \
        }                                                                                          \
    }
EPOCH_REGS(1)
EPOCH_REGS(2)
EPOCH_REGS(3)
EPOCH_REGS(4)
EPOCH_REGS(5)
EPOCH_REGS(6)
EPOCH_REGS(7)
EPOCH_REGS(8)
EPOCH_REGS(9)
EPOCH_REGS(10)
EPOCH_REGS(11)
EPOCH_REGS(12)
EPOCH_REGS(13)
EPOCH_REGS(14)
EPOCH_REGS(15)
EPOCH_REGS(16)

static const svd_kernel epoch_regs[17] = {
    NULL,         epoch_regs1,  epoch_regs2,  epoch_regs3,  epoch_regs4,  epoch_regs5,
    epoch_regs6,  epoch_regs7,  epoch_regs8,  epoch_regs9,  epoch_regs10, epoch_regs11,
    epoch_regs12, epoch_regs13, epoch_regs14, epoch_regs15, epoch_regs16,
};
#endif

/* The parallel schedule (threads > 1), as in DSGD (Gemulla et al., "Large-scale matrix
 * factorization with distributed stochastic gradient descent", KDD 2011): users are cut
 * into T blocks and items into B >= T blocks (B a multiple of T) of about equal ratings;
 * each epoch runs B sub-epochs, and in sub-epoch t thread j takes user block j x item
 * block (t + j B / T) mod B. Blocks of one sub-epoch share no user and no item, so no step
 * races, and over an epoch every (user block, item block) pair is visited once. B grows
 * with the item matrix so that one item block's factors fit a share of the L3 cache:
 * with a million songs the rows a thread updates at random then stay in cache instead of
 * costing a DRAM miss each (bench/models.sh, BENCHMARKS.md). The result depends only on
 * the seed and T — but the order differs from the sequential one, so the model differs
 * from threads == 1 (still reproducible). */
#define MAX_THREADS     64
#define MAX_ITEM_BLOCKS 1024
#define ITEM_BLOCK_BYTES                                                                           \
    (16u << 20) /* per thread, two threads to the 32 MiB L3; 2-64 MiB tried: 16 best */

typedef struct svd_task {
    const sr_trainset *ts;
    svd_state *s;
    const svd_rates *c;
    svd_kernel kern;
    svd_span sp;
} svd_task;

static void *run_task(void *arg) {
    svd_task *t = arg;
    t->kern(t->ts, t->s, t->c, &t->sp);
    return NULL;
}

/* bounds (T + 1): rows [bounds[j], bounds[j + 1]) hold about 1/T of ptr's entries. */
static void split_rows(const uint64_t *ptr, uint32_t n_rows, uint32_t T, uint32_t *bounds) {
    uint32_t row = 0;
    bounds[0] = 0;
    for (uint32_t j = 1; j < T; j++) {
        const uint64_t target = ptr[n_rows] / T * j;
        while (row < n_rows && ptr[row] < target) row++;
        bounds[j] = row;
    }
    bounds[T] = n_rows;
}

/* Item blocks for T threads: enough that a block's factor rows fit ITEM_BLOCK_BYTES. */
static uint32_t item_blocks(const svd_state *s, uint32_t n_items, uint32_t T) {
    uint64_t bytes = (uint64_t)n_items * s->ld * sizeof(float);
    uint64_t per = (bytes + ITEM_BLOCK_BYTES - 1) / ITEM_BLOCK_BYTES;
    uint64_t B = (per + T - 1) / T * T;
    if (B < T) B = T;
    while (B > MAX_ITEM_BLOCKS || B > n_items) B -= T;
    return B < T ? T : (uint32_t)B;
}

static sr_err fit_blocked(const sr_trainset *ts, svd_state *s, const svd_rates *r, svd_kernel kern,
                          uint32_t T, int n_epochs, const sr_log *log) {
    const uint32_t B = item_blocks(s, ts->n_items, T);
    uint32_t ub[MAX_THREADS + 1];
    uint32_t *ib = sr_mallocarray((size_t)B + 1, sizeof *ib);
    if (!ib) return SR_E_NOMEM;
    split_rows(ts->user_ptr, ts->n_users, T, ub);
    split_rows(ts->item_ptr, ts->n_items, B, ib);
    const uint32_t stride = B + 1;
    uint64_t *off = sr_mallocarray((size_t)ts->n_users * stride, sizeof *off);
    if (!off) {
        sr_free(ib);
        return SR_E_NOMEM;
    }
    /* A user's items ascend, so each item block is one run of the user's ratings. */
    for (uint32_t u = 0; u < ts->n_users; u++) {
        uint64_t q = ts->user_ptr[u];
        for (uint32_t b = 0; b < B; b++) {
            while (q < ts->user_ptr[u + 1] && ts->ur_item[q] < ib[b]) q++;
            off[(size_t)u * stride + b] = q;
        }
        off[(size_t)u * stride + B] = ts->user_ptr[u + 1];
    }
    svd_task task[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS];
    for (int e = 0; e < n_epochs; e++) {
        for (uint32_t t = 0; t < B; t++) {
            for (uint32_t j = 0; j < T; j++)
                task[j] = (svd_task){.ts = ts,
                                     .s = s,
                                     .c = r,
                                     .kern = kern,
                                     .sp = {.u_lo = ub[j],
                                            .u_hi = ub[j + 1],
                                            .off = off,
                                            .stride = stride,
                                            .b = (t + j * (B / T)) % B}};
            for (uint32_t j = 1; j < T; j++)
                started[j] = pthread_create(&tid[j], NULL, run_task, &task[j]) == 0;
            run_task(&task[0]);
            /* A block whose thread did not start runs here: blocks are independent. */
            for (uint32_t j = 1; j < T; j++) {
                if (started[j])
                    pthread_join(tid[j], NULL);
                else
                    run_task(&task[j]);
            }
        }
        sr_progress(log, "SVD", (uint64_t)e + 1, (uint64_t)n_epochs);
    }
    sr_free(off);
    sr_free(ib);
    return SR_OK;
}

sr_err sr__svd_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, int force_scalar,
                   void **state, sr_diag *d) {
    *state = NULL;
    if (!(p[P_N_FACTORS] >= 1 && p[P_N_FACTORS] <= 4096) || !(p[P_N_EPOCHS] >= 0))
        return sr_diag_set(d, SR_E_USAGE, "SVD: n_factors must be in [1, 4096], n_epochs >= 0");
    const double lr = p[P_LR_ALL], reg = p[P_REG_ALL];
    svd_rates r = {
        .mu = p[P_BIASED] != 0 ? (float)ts->global_mean : 0.0f,
        .lbu = (float)sr__mf_or(p[P_LR_BU], lr),
        .lbi = (float)sr__mf_or(p[P_LR_BI], lr),
        .rbu = (float)sr__mf_or(p[P_REG_BU], reg),
        .rbi = (float)sr__mf_or(p[P_REG_BI], reg),
    };
    double lpu = sr__mf_or(p[P_LR_PU], lr), lqi = sr__mf_or(p[P_LR_QI], lr);
    r.lpu = (float)lpu;
    r.lqi = (float)lqi;
    r.dpu = (float)(1.0 - lpu * sr__mf_or(p[P_REG_PU], reg));
    r.dqi = (float)(1.0 - lqi * sr__mf_or(p[P_REG_QI], reg));

    svd_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "SVD: out of memory");
    s->k = (uint32_t)p[P_N_FACTORS];
    s->ld = sr__mf_ld(s->k);
    s->biased = p[P_BIASED] != 0;
    s->bu = sr_calloc((size_t)ts->n_users + 1, sizeof *s->bu);
    s->bi = sr_calloc((size_t)ts->n_items + 1, sizeof *s->bi);
    s->pu = sr__mf_alloc(ts->n_users, s->ld);
    s->qi = sr__mf_alloc(ts->n_items, s->ld);
    if (!s->bu || !s->bi || !s->pu || !s->qi) {
        uint32_t k = s->k;
        sr__mf_state_free(s);
        return sr_diag_set(d, SR_E_NOMEM, "SVD: out of memory for %u x %u factors", ts->n_users, k);
    }
    sr_rng rng;
    sr_rng_seed(&rng, c->seed);
    sr__mf_init_normal(s->pu, ts->n_users, s->k, s->ld, &rng, p[P_INIT_MEAN], p[P_INIT_STD]);
    sr__mf_init_normal(s->qi, ts->n_items, s->k, s->ld, &rng, p[P_INIT_MEAN], p[P_INIT_STD]);

    svd_kernel kern = span_scalar;
#if defined(__x86_64__)
    if (!force_scalar && sr__mf_have_avx512())
        kern = s->ld / 16 <= 16 ? epoch_regs[s->ld / 16] : span_avx512;
#endif
    const int n_epochs = (int)p[P_N_EPOCHS];
    uint32_t T = c->threads < 1 ? 1 : c->threads > MAX_THREADS ? MAX_THREADS : (uint32_t)c->threads;
    if (T > ts->n_users) T = ts->n_users;
    if (T > ts->n_items) T = ts->n_items;
    if (T <= 1) {
        const svd_span all = {.u_lo = 0, .u_hi = ts->n_users};
        for (int e = 0; e < n_epochs; e++) {
            kern(ts, s, &r, &all);
            sr_progress(c->log, "SVD", (uint64_t)e + 1, (uint64_t)n_epochs);
        }
    } else {
        sr_err err = fit_blocked(ts, s, &r, kern, T, n_epochs, c->log);
        if (err) {
            sr__mf_state_free(s);
            return sr_diag_set(d, err, "SVD: out of memory for the parallel schedule");
        }
    }
    sr_err err = sr__mf_finish(s, ts, "SVD", "a smaller lr_all or init_std_dev", d);
    if (err) {
        sr__mf_state_free(s);
        return err;
    }
    *state = s;
    return SR_OK;
}

static sr_err svd_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                      sr_diag *d) {
    return sr__svd_fit(ts, p, c, 0, state, d);
}

static sr_err svd_load(sr_srm *r, const sr_trainset *ts, const double *p, void **state,
                       sr_diag *d) {
    return sr__mf_load(r, ts, (uint32_t)p[P_N_FACTORS], p[P_BIASED] != 0, false, state, d);
}

static sr_err svd_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *u,
                          sr_diag *d) {
    return sr__mf_fold_in(state, ts, sr__mf_or(p[P_REG_BU], p[P_REG_ALL]),
                          sr__mf_or(p[P_REG_PU], p[P_REG_ALL]), u, d);
}

const sr_model_ops sr_model_svd = {
    .name = "svd",
    .surprise = "SVD",
    .summary = "matrix factorisation by SGD, biased (Funk/Koren 2009) or unbiased (PMF)",
    .params = svd_params,
    .n_params = P_COUNT,
    .fit = svd_fit,
    .load = svd_load,
    .fold_in = svd_fold_in,
    .explain = sr__mf_explain,
    SR_MF_OPS_COMMON,
};
