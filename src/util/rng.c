/* Random numbers (rng.h): xoshiro256** seeded by splitmix64, unbiased bounded
 * integers, the usual continuous distributions, and Vose's alias tables.
 *
 * Continuous draws take U from (0, 1] (never 0) wherever a log follows, so no -inf
 * or division by zero can come out. The alias construction works on scaled
 * probabilities p_j = w_j * n / sum(w) in doubles; cells left over at the end by
 * rounding are full (thresh = UINT32_MAX and alias = self, so they are exact).
 */
#include "util/rng.h"

#include <math.h>
#include <string.h>

#include "util/mem.h"

static uint64_t splitmix64_next(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sr_rng_seed(sr_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64_next(&x);
    /* splitmix64 is a bijection of a counter, so four consecutive outputs are never all
     * zero; the all-zero state (the one fixed point of xoshiro) cannot occur. */
}

void sr_rng_seed_stream(sr_rng *r, uint64_t seed, uint64_t stream) {
    sr_rng_seed(r, sr_hash2(seed, stream));
}

uint64_t sr_rng_below(sr_rng *r, uint64_t n) {
    if (n == 0) return 0;
    __uint128_t m = (__uint128_t)sr_rng_u64(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
        while (low < threshold) {
            m = (__uint128_t)sr_rng_u64(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

int64_t sr_rng_range(sr_rng *r, int64_t lo, int64_t hi) {
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    if (span == UINT64_MAX) return (int64_t)sr_rng_u64(r);
    return (int64_t)((uint64_t)lo + sr_rng_below(r, span + 1));
}

/* Uniform in (0, 1]: safe under log(). */
static double open_unit(sr_rng *r) {
    return ((double)(sr_rng_u64(r) >> 11) + 1.0) * 0x1.0p-53;
}

double sr_rng_normal(sr_rng *r) {
    double u1 = open_unit(r), u2 = sr_rng_double(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double sr_rng_exponential(sr_rng *r, double rate) {
    return -log(open_unit(r)) / rate;
}

double sr_rng_lognormal(sr_rng *r, double mu, double sigma) {
    return exp(mu + sigma * sr_rng_normal(r));
}

double sr_rng_pareto(sr_rng *r, double xm, double alpha) {
    return xm * pow(open_unit(r), -1.0 / alpha);
}

void sr_rng_shuffle_u32(sr_rng *r, uint32_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)sr_rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void sr_alias_deinit(sr_alias *a) {
    if (!a) return;
    sr_free(a->cell);
    memset(a, 0, sizeof *a);
}

static uint32_t to_thresh(double p) {
    if (p >= 1.0) return UINT32_MAX;
    if (p <= 0.0) return 0;
    return (uint32_t)(p * 4294967296.0);
}

sr_err sr_alias_init(sr_alias *a, const double *w, size_t n) {
    memset(a, 0, sizeof *a);
    if (n == 0 || n > UINT32_MAX - 1) return SR_E_RANGE;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(w[i] >= 0) || !isfinite(w[i])) return SR_E_RANGE;
        sum += w[i];
    }
    if (!(sum > 0) || !isfinite(sum)) return SR_E_RANGE;

    double *p = sr_mallocarray(n, sizeof *p);
    uint32_t *work =
        sr_mallocarray(n, sizeof *work); /* small from the front, large from the back */
    a->cell = sr_mallocarray(n, sizeof *a->cell);
    if (!p || !work || !a->cell) {
        sr_free(p);
        sr_free(work);
        sr_alias_deinit(a);
        return SR_E_NOMEM;
    }
    a->n = (uint32_t)n;
    double scale = (double)n / sum;
    size_t n_small = 0, n_large = 0;
    for (size_t i = 0; i < n; i++) {
        p[i] = w[i] * scale;
        if (p[i] < 1.0)
            work[n_small++] = (uint32_t)i;
        else
            work[n - 1 - n_large++] = (uint32_t)i;
    }
    while (n_small && n_large) {
        uint32_t s = work[--n_small];
        uint32_t l = work[n - n_large]; /* the last pushed large */
        a->cell[s].thresh = to_thresh(p[s]);
        a->cell[s].alias = l;
        p[l] = (p[l] + p[s]) - 1.0;
        if (p[l] < 1.0) {
            n_large--;
            work[n_small++] = l;
        }
    }
    /* What is left is 1 up to rounding: full cells. */
    while (n_large) {
        uint32_t l = work[n - n_large--];
        a->cell[l].thresh = UINT32_MAX;
        a->cell[l].alias = l;
    }
    while (n_small) {
        uint32_t s = work[--n_small];
        a->cell[s].thresh = UINT32_MAX;
        a->cell[s].alias = s;
    }
    sr_free(p);
    sr_free(work);
    return SR_OK;
}
