/* Factor-matrix views (fmat.h): row access and the scoring scan. */
#include "models/fmat.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "models/srm.h"
#include "util/mem.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define SR_FMAT_X86 1
#endif

#ifdef SR_FMAT_X86
static int have_avx512bw(void);
/* have_avx512bw, asked once. */
static int have_avx512(void) {
    static int known = -1;
    int v = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (v < 0) {
        v = have_avx512bw();
        __atomic_store_n(&known, v, __ATOMIC_RELAXED);
    }
    return v;
}

/* n float16 values to float32 with F16C, 16 at a time. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void widen_f16(const uint16_t *h,
                                                                           uint32_t n, float *out) {
    for (uint32_t f = 0; f < n; f += 16) {
        const __mmask16 mk = n - f >= 16 ? 0xffff : (__mmask16)((1u << (n - f)) - 1);
        _mm512_mask_storeu_ps(out + f, mk, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, h + f)));
    }
}
#endif

static inline const float *row32(const sr_fmat *m, uint64_t r) {
    return (const float *)m->data + r * m->ld;
}
static inline const uint16_t *row16(const sr_fmat *m, uint64_t r) {
    return (const uint16_t *)m->data + r * m->ld;
}
static inline const int8_t *row8(const sr_fmat *m, uint64_t r) {
    return (const int8_t *)m->data + r * m->ld;
}

/* Elements [f0, f0 + n) of row r as float32. */
static void load_part(const sr_fmat *m, uint64_t r, uint32_t f0, uint32_t n, float *out) {
    if (m->type == SR_FMAT_F32) {
        memcpy(out, row32(m, r) + f0, n * sizeof(float));
    } else if (m->type == SR_FMAT_F16) {
        const uint16_t *h = row16(m, r) + f0;
#ifdef SR_FMAT_X86
        if (have_avx512()) {
            widen_f16(h, n, out);
            return;
        }
#endif
        for (uint32_t f = 0; f < n; f++) out[f] = sr_f16_to_f32(h[f]);
    } else {
        const int8_t *q = row8(m, r) + f0;
        const float sc = m->scale[r];
        for (uint32_t f = 0; f < n; f++) out[f] = sc * (float)q[f];
    }
}

/* The largest of n (>= 1) floats; NaNs are passed over. */
static float max_of(const float *v, uint64_t n) {
    float m = -INFINITY;
    for (uint64_t i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

void sr_fmat_row(const sr_fmat *m, uint64_t r, float *out) {
    load_part(m, r, 0, m->k, out);
}

double sr_fmat_dot(const sr_fmat *m, uint64_t r, const float *x) {
    double s = 0;
    if (m->type == SR_FMAT_F32) {
        const float *v = row32(m, r);
        for (uint32_t f = 0; f < m->k; f++) s += (double)v[f] * x[f];
    } else if (m->type == SR_FMAT_F16) {
        const uint16_t *h = row16(m, r);
        for (uint32_t f = 0; f < m->k; f++) s += (double)sr_f16_to_f32(h[f]) * x[f];
    } else {
        const int8_t *q = row8(m, r);
        for (uint32_t f = 0; f < m->k; f++) s += (double)q[f] * x[f];
        s *= m->scale[r];
    }
    return s;
}

double sr_fmat_dot2(const sr_fmat *a, uint64_t ra, const sr_fmat *b, uint64_t rb) {
    if (a->type == SR_FMAT_F32) return sr_fmat_dot(b, rb, row32(a, ra));
    float ca[64], cb[64];
    double s = 0;
    for (uint32_t f0 = 0; f0 < a->k; f0 += 64) {
        uint32_t n = a->k - f0 < 64 ? a->k - f0 : 64;
        load_part(a, ra, f0, n, ca);
        load_part(b, rb, f0, n, cb);
        for (uint32_t f = 0; f < n; f++) s += (double)ca[f] * cb[f];
    }
    return s;
}

void sr_fmat_scores_scalar(const sr_fmat *m, const float *x, const float *bias, float add,
                           float *out, uint64_t lo, uint64_t hi) {
    for (uint64_t i = lo; i < hi; i++) {
        float s = 0;
        if (m->type == SR_FMAT_F32) {
            const float *v = row32(m, i);
            for (uint32_t f = 0; f < m->k; f++) s += v[f] * x[f];
        } else if (m->type == SR_FMAT_F16) {
            const uint16_t *h = row16(m, i);
            for (uint32_t f = 0; f < m->k; f++) s += sr_f16_to_f32(h[f]) * x[f];
        } else {
            const int8_t *q = row8(m, i);
            for (uint32_t f = 0; f < m->k; f++) s += (float)q[f] * x[f];
            s *= m->scale[i];
        }
        out[i] = add + (bias ? bias[i] : 0.0f) + s;
    }
}

#ifdef SR_FMAT_X86
/* Rows of up to 16 * SR_FMAT_MAXV values are done with x held in registers. */
enum { SR_FMAT_MAXV = 32 };

/* What both scan kernels start with: x in nv registers (the last one masked to k), the
 * row geometry. */
#define SCAN_PROLOGUE(m, x)                                                                        \
    const uint32_t k = (m)->k, nv = (k + 15) / 16;                                                 \
    const __mmask16 tail = (__mmask16)((k % 16) ? (1u << (k % 16)) - 1 : 0xffff);                  \
    __m512 xv[SR_FMAT_MAXV];                                                                       \
    for (uint32_t v = 0; v < nv; v++)                                                              \
        xv[v] = _mm512_maskz_loadu_ps(v + 1 == nv ? tail : 0xffff, (x) + 16 * v);                  \
    const int f16 = (m)->type == SR_FMAT_F16, i8 = (m)->type == SR_FMAT_I8;                        \
    const size_t stride = (size_t)(m)->ld * sr_fmat_elem(m);                                       \
    const char *base = (const char *)(m)->data

/* Elements [16 v, 16 v + 16) of a row (masked by mk) widened to float32; int8 rows
 * unscaled. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __m512
load16(const char *row, uint32_t v, __mmask16 mk, int f16, int i8) {
    if (i8) return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mk, row + 16 * v)));
    if (f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, row + 32 * v));
    return _mm512_maskz_loadu_ps(mk, row + 64 * v);
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void
scores_avx512(const sr_fmat *m, const float *x, const float *bias, float add, float *out,
              uint64_t lo, uint64_t hi) {
    SCAN_PROLOGUE(m, x);
    for (uint64_t i = lo; i < hi; i++) {
        const char *row = base + i * stride;
        _mm_prefetch(row + 8 * stride, _MM_HINT_T0);
        _mm_prefetch(row + 8 * stride + 64, _MM_HINT_T0);
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        for (uint32_t v = 0; v < nv; v++) {
            __mmask16 mk = v + 1 == nv ? tail : 0xffff;
            __m512 q = load16(row, v, mk, f16, i8);
            if (v & 1)
                acc1 = _mm512_fmadd_ps(q, xv[v], acc1);
            else
                acc0 = _mm512_fmadd_ps(q, xv[v], acc0);
        }
        float dot = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
        if (i8) dot *= m->scale[i];
        out[i] = add + (bias ? bias[i] : 0.0f) + dot;
    }
}

/* 16 accumulators -> one vector of their 16 horizontal sums (lane r = sum of a[r]). */
__attribute__((target("avx512f,avx512dq"))) static inline __m512 sum16(const __m512 *a) {
    __m512 b[8], c[4];
    for (int r = 0; r < 8; r++)
        b[r] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * r], a[2 * r + 1]),
                             _mm512_unpackhi_ps(a[2 * r], a[2 * r + 1]));
    for (int r = 0; r < 4; r++) {
        __m512d x = _mm512_castps_pd(b[2 * r]), y = _mm512_castps_pd(b[2 * r + 1]);
        c[r] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    __m512 e0 = _mm512_add_ps(_mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(2, 0, 2, 0)),
                              _mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(3, 1, 3, 1)));
    __m512 e1 = _mm512_add_ps(_mm512_shuffle_f32x4(c[2], c[3], _MM_SHUFFLE(2, 0, 2, 0)),
                              _mm512_shuffle_f32x4(c[2], c[3], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(e0, e1, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(e0, e1, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* Sixteen rows at a time: each row's products in one accumulator, then one transposing
 * reduction for all sixteen (a per-row horizontal sum costs as much as the row's FMAs
 * at small k); the rows left over go through scores_avx512. The lane order of the sums
 * differs from the one-row kernel's, so results agree to float rounding. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) static void
scores_rows16(const sr_fmat *m, const float *x, const float *bias, float add, float *out,
              float *max16, uint64_t lo, uint64_t hi) {
    SCAN_PROLOGUE(m, x);
    const __m512 vadd = _mm512_set1_ps(add);
    uint64_t i = lo;
    for (; i + 16 <= hi; i += 16) {
        __m512 a[16];
        for (int r = 0; r < 16; r++) {
            const char *row = base + (i + (uint64_t)r) * stride;
            __m512 acc = _mm512_setzero_ps();
            for (uint32_t v = 0; v < nv; v++) {
                __mmask16 mk = v + 1 == nv ? tail : 0xffff;
                acc = _mm512_fmadd_ps(load16(row, v, mk, f16, i8), xv[v], acc);
            }
            a[r] = acc;
        }
        __m512 s = sum16(a);
        if (i8) s = _mm512_mul_ps(s, _mm512_loadu_ps(m->scale + i));
        s = _mm512_add_ps(s, vadd);
        if (bias) s = _mm512_add_ps(s, _mm512_loadu_ps(bias + i));
        _mm512_storeu_ps(out + i, s);
        if (max16) max16[(i - lo) / 16] = _mm512_reduce_max_ps(s);
    }
    if (i < hi) {
        scores_avx512(m, x, bias, add, out, i, hi);
        if (max16) max16[(i - lo) / 16] = max_of(out + i, hi - i);
    }
}

/* Blocks of 16 rows widened to f32 and transposed once (T[f] holds factor f of the 16
 * rows, one per lane), then each vector costs k broadcast FMAs per block — the 16 scores
 * come out in lanes, no reduction. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void
scores_multi16(const sr_fmat *m, const float *X, size_t nx, size_t ldx, const float *bias,
               const float *add, float *out, size_t ldo, uint64_t lo, uint64_t hi) {
    const uint32_t k = m->k;
    const int f16 = m->type == SR_FMAT_F16;
    const size_t stride = (size_t)m->ld * sr_fmat_elem(m);
    const char *base = (const char *)m->data;
    float T[16 * 16 * SR_FMAT_MAXV] __attribute__((aligned(64))); /* (k, 16) */
    uint64_t i = lo;
    for (; i + 16 <= hi; i += 16) {
        for (int r = 0; r < 16; r++) {
            const char *row = base + (i + (uint64_t)r) * stride;
            if (f16)
                for (uint32_t f = 0; f < k; f++)
                    T[f * 16 + r] = sr_f16_to_f32(((const uint16_t *)row)[f]);
            else if (m->type == SR_FMAT_I8)
                for (uint32_t f = 0; f < k; f++)
                    T[f * 16 + r] = m->scale[i + (uint64_t)r] * (float)((const int8_t *)row)[f];
            else
                for (uint32_t f = 0; f < k; f++) T[f * 16 + r] = ((const float *)row)[f];
        }
        const __m512 vb = bias ? _mm512_loadu_ps(bias + i) : _mm512_setzero_ps();
        for (size_t x = 0; x < nx; x++) {
            const float *xr = X + x * ldx;
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            uint32_t f = 0;
            for (; f + 4 <= k; f += 4) {
                a0 = _mm512_fmadd_ps(_mm512_load_ps(T + (f + 0) * 16), _mm512_set1_ps(xr[f + 0]),
                                     a0);
                a1 = _mm512_fmadd_ps(_mm512_load_ps(T + (f + 1) * 16), _mm512_set1_ps(xr[f + 1]),
                                     a1);
                a2 = _mm512_fmadd_ps(_mm512_load_ps(T + (f + 2) * 16), _mm512_set1_ps(xr[f + 2]),
                                     a2);
                a3 = _mm512_fmadd_ps(_mm512_load_ps(T + (f + 3) * 16), _mm512_set1_ps(xr[f + 3]),
                                     a3);
            }
            for (; f < k; f++)
                a0 = _mm512_fmadd_ps(_mm512_load_ps(T + f * 16), _mm512_set1_ps(xr[f]), a0);
            __m512 sres = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
            sres = _mm512_add_ps(_mm512_add_ps(sres, vb), _mm512_set1_ps(add[x]));
            _mm512_storeu_ps(out + x * ldo + (i - lo), sres);
        }
    }
    for (; i < hi; i++) /* the rows after the last block of 16 */
        for (size_t x = 0; x < nx; x++)
            out[x * ldo + (i - lo)] =
                (float)(add[x] + (bias ? bias[i] : 0.0f) + sr_fmat_dot(m, i, X + x * ldx));
}

static int have_avx512bw(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}
#endif

void sr_fmat_scores_multi(const sr_fmat *m, const float *X, size_t nx, size_t ldx,
                          const float *bias, const float *add, float *out, size_t ldo, uint64_t lo,
                          uint64_t hi) {
#ifdef SR_FMAT_X86
    if (have_avx512bw() && m->k <= 16 * SR_FMAT_MAXV) {
        scores_multi16(m, X, nx, ldx, bias, add, out, ldo, lo, hi);
        return;
    }
#endif
    for (uint64_t i = lo; i < hi; i++)
        for (size_t x = 0; x < nx; x++)
            out[x * ldo + (i - lo)] =
                (float)(add[x] + (bias ? bias[i] : 0.0f) + sr_fmat_dot(m, i, X + x * ldx));
}

void sr_fmat_scores(const sr_fmat *m, const float *x, const float *bias, float add, float *out,
                    uint64_t lo, uint64_t hi) {
    sr_fmat_scores_max16(m, x, bias, add, out, NULL, lo, hi);
}

void sr_fmat_scores_max16(const sr_fmat *m, const float *x, const float *bias, float add,
                          float *out, float *max16, uint64_t lo, uint64_t hi) {
#ifdef SR_FMAT_X86
    if (have_avx512bw() && m->k <= 16 * SR_FMAT_MAXV) {
        scores_rows16(m, x, bias, add, out, max16, lo, hi);
        return;
    }
#endif
    sr_fmat_scores_scalar(m, x, bias, add, out, lo, hi);
    for (uint64_t i = lo; max16 && i < hi; i += 16)
        max16[(i - lo) / 16] = max_of(out + i, hi - i < 16 ? hi - i : 16);
}

/* ---- the int8 copy ------------------------------------------------------------------ */

typedef struct quant_job {
    const sr_fmat *m;
    sr_fmat *q;
    float *err;
    uint64_t lo, hi;
} quant_job;

static void *quant_main(void *arg) {
    const quant_job *j = arg;
    const sr_fmat *m = j->m;
    const uint32_t k = m->k, ld = j->q->ld;
    float *row = sr_mallocarray(k ? k : 1, sizeof *row);
    if (!row) return (void *)1;
    int8_t *data = (int8_t *)j->q->data;
    float *scale = (float *)j->q->scale;
    for (uint64_t r = j->lo; r < j->hi; r++) {
        sr_fmat_row(m, r, row);
        float top = 0;
        for (uint32_t f = 0; f < k; f++) top = fabsf(row[f]) > top ? fabsf(row[f]) : top;
        const float sc = top / 127.0f, inv = sc > 0 ? 127.0f / top : 0.0f;
        int8_t *q = data + r * ld;
        double resid = 0, norm = 0;
        for (uint32_t f = 0; f < k; f++) {
            float y = row[f] * inv + copysignf(0.5f, row[f]); /* nearest, halves away from 0 */
            y = y > 127.0f ? 127.0f : y < -127.0f ? -127.0f : y;
            q[f] = (int8_t)(int)y;
            const double d = (double)row[f] - (double)sc * q[f];
            resid += d * d, norm += (double)row[f] * row[f];
        }
        memset(q + k, 0, ld - k);
        scale[r] = sc;
        j->err[r] = nextafterf((float)(sqrt(resid) + 2.5e-7 * (k + 16) * sqrt(norm)), INFINITY);
    }
    sr_free(row);
    return NULL;
}

bool sr_fmat_quantize(const sr_fmat *m, int threads, sr_fmat *out, float **err) {
    const uint32_t ld = (m->k + 15) / 16 * 16;
    const uint64_t rows = m->rows ? m->rows : 1;
    *out = (sr_fmat){.rows = m->rows, .k = m->k, .ld = ld, .type = SR_FMAT_I8};
    int8_t *data = sr_mallocarray((size_t)rows, ld ? ld : 16);
    float *scale = sr_mallocarray((size_t)rows, sizeof *scale);
    *err = sr_mallocarray((size_t)rows, sizeof **err);
    out->data = data, out->scale = scale;
    if (!data || !scale || !*err) {
        sr_fmat_quantized_free(out, *err);
        *err = NULL;
        return false;
    }
    enum { MAX_T = 16 };
    int T = threads < 1 ? 1 : threads > MAX_T ? MAX_T : threads;
    if (m->rows < 65536) T = 1;
    quant_job jobs[MAX_T];
    pthread_t tid[MAX_T];
    bool started[MAX_T] = {false};
    const uint64_t chunk = (m->rows + (uint64_t)T - 1) / (uint64_t)T;
    for (int t = 0; t < T; t++) {
        uint64_t lo = (uint64_t)t * chunk, hi = lo + chunk;
        jobs[t] =
            (quant_job){m, out, *err, lo < m->rows ? lo : m->rows, hi < m->rows ? hi : m->rows};
    }
    for (int t = 1; t < T; t++) started[t] = !pthread_create(&tid[t], NULL, quant_main, &jobs[t]);
    bool ok = quant_main(&jobs[0]) == NULL;
    for (int t = 1; t < T; t++) {
        void *rv = NULL;
        if (started[t])
            pthread_join(tid[t], &rv);
        else
            rv = quant_main(&jobs[t]);
        ok &= rv == NULL;
    }
    if (!ok) {
        sr_fmat_quantized_free(out, *err);
        *err = NULL;
    }
    return ok;
}

void sr_fmat_quantized_free(sr_fmat *q, float *err) {
    sr_free((void *)q->data), sr_free((void *)q->scale), sr_free(err);
    q->data = NULL, q->scale = NULL;
}
