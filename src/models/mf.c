/* Shared-private helpers of the matrix-factorisation models (mf.h): aligned factor
 * matrices, their seeded initialisation and the run-time CPU check. */
#include "models/mf.h"

#include <math.h>
#include <string.h>
#include <sys/mman.h>

#include "util/mem.h"

float *sr__mf_alloc(size_t rows, size_t ld) {
    if (rows == 0) rows = 1;
    if (ld && rows > (SIZE_MAX - 128) / sizeof(float) / ld) return NULL;
    size_t bytes = rows * ld * sizeof(float);
    /* Over-allocate one line plus room for the raw pointer just below the aligned one. */
    unsigned char *raw = sr_malloc(bytes + 64 + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    memcpy((void *)(a - sizeof(void *)), &raw, sizeof raw);
    /* Factor matrices of millions of rows are read at random: ask for 2 MiB pages, so
     * that a row costs a cache miss but rarely also a TLB miss (measured: +40 % on the
     * memory-bound part of SGD over 1 M songs). Done before the pages are first touched. */
    if (bytes >= (8u << 20)) {
        uintptr_t lo = (a + 4095) & ~(uintptr_t)4095, hi = (a + bytes) & ~(uintptr_t)4095;
        if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* a hint: errors ignored */
    }
    memset((void *)a, 0, bytes);
    return (float *)a;
}

void sr__mf_free(float *m) {
    if (!m) return;
    void *raw;
    memcpy(&raw, (unsigned char *)m - sizeof(void *), sizeof raw);
    sr_free(raw);
}

void sr__mf_init_normal(float *m, size_t rows, uint32_t k, uint32_t ld, sr_rng *r, double mean,
                        double sd) {
    /* Box-Muller, both outputs of each pair used: the k draws of all rows form one
     * stream (row-major, padding skipped), consumed two at a time. */
    double spare = 0;
    int have = 0;
    for (size_t u = 0; u < rows; u++)
        for (uint32_t f = 0; f < k; f++) {
            double z;
            if (have) {
                z = spare, have = 0;
            } else {
                double u1 = 1.0 - sr_rng_double(r), u2 = sr_rng_double(r); /* u1 in (0, 1] */
                double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
                z = rad * cos(th), spare = rad * sin(th), have = 1;
            }
            m[u * ld + f] = (float)(mean + sd * z);
        }
}

void sr__mf_init_uniform(float *m, size_t rows, uint32_t k, uint32_t ld, sr_rng *r, double lo,
                         double hi) {
    for (size_t u = 0; u < rows; u++)
        for (uint32_t f = 0; f < k; f++) m[u * ld + f] = (float)(lo + (hi - lo) * sr_rng_double(r));
}

double sr__mf_or(double p, double def) {
    return isnan(p) ? def : p;
}

int sr__mf_have_avx512(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
    return 0;
#endif
}

void sr__mf_state_free(void *state) {
    sr_mf_state *s = state;
    if (!s) return;
    if (!s->mapped) {
        sr_free(s->bu);
        sr_free(s->bi);
        sr__mf_free(s->pu);
        sr__mf_free(s->qi);
    }
    sr_free(s);
}

bool sr__mf_estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                     double *est) {
    const sr_mf_state *s = state;
    bool ku = sr_trainset_knows_user(ts, u), ki = sr_trainset_knows_item(ts, i);
    double e = 0;
    if (s->biased) {
        e = ts->global_mean;
        if (ku) e += s->bu[u];
        if (ki) e += s->bi[i];
    } else if (!ku || !ki) {
        return false;
    }
    if (ku && ki) {
        const float *pr = s->pu + (size_t)u * s->ld, *qr = s->qi + (size_t)i * s->ld;
        double dot = 0;
        for (uint32_t f = 0; f < s->k; f++) dot += (double)pr[f] * qr[f];
        e += dot;
    }
    *est = e;
    return true;
}

void sr__mf_save(const void *state, const sr_trainset *ts, sr_srm_writer *w) {
    const sr_mf_state *s = state;
    sr_srm_put(w, "m.bu", SR_SRM_F32, s->bu, ts->n_users);
    sr_srm_put(w, "m.bi", SR_SRM_F32, s->bi, ts->n_items);
    sr_srm_put_factors(w, "m.pu", s->pu, ts->n_users, s->k, s->ld);
    sr_srm_put_factors(w, "m.qi", s->qi, ts->n_items, s->k, s->ld);
}

sr_err sr__mf_load(sr_srm *r, const sr_trainset *ts, uint32_t k, int biased, void **state,
                   sr_diag *d) {
    *state = NULL;
    const uint32_t ld = sr__mf_ld(k);
    const void *bu, *bi;
    const float *pu, *qi;
    sr_err e = sr_srm_get(r, "m.bu", SR_SRM_F32, ts->n_users, &bu, NULL, d);
    if (!e) e = sr_srm_get(r, "m.bi", SR_SRM_F32, ts->n_items, &bi, NULL, d);
    if (!e) e = sr_srm_get_factors(r, "m.pu", ts->n_users, k, ld, &pu, d);
    if (!e) e = sr_srm_get_factors(r, "m.qi", ts->n_items, k, ld, &qi, d);
    if (e) return e;
    sr_mf_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    s->k = k;
    s->ld = ld;
    s->biased = biased;
    s->bu = (float *)bu;
    s->bi = (float *)bi;
    s->pu = (float *)pu;
    s->qi = (float *)qi;
    s->mapped = true;
    *state = s;
    return SR_OK;
}
