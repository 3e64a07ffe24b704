/* Seedable pseudo-random numbers, stateless hashing and alias tables.
 *
 * sr_rng is xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number
 * generators", 2018): 256 bits of state, period 2^256 - 1, fast and statistically
 * strong for simulation (not for secrets). Its state is filled from a 64-bit seed by
 * splitmix64, as the authors recommend, so any seed (0 included) gives a good state.
 * sr_rng_seed_stream derives independent generators for (seed, stream) pairs, which
 * lets per-user or per-thread work draw its own numbers in any order and still be
 * reproducible.
 *
 * sr_hash64 is the splitmix64 finaliser: a stateless bijective mix of 64 bits, for
 * "random but fixed" properties of an id (a name, a UUID) that need no storage.
 *
 * sr_alias is Walker's alias method in Vose's numerically stable construction (Vose,
 * "A linear algorithm for generating random numbers with a given distribution", 1991):
 * O(n) to build, O(1) per draw from any discrete distribution, 8 bytes per outcome.
 *
 * Nothing here holds global state; a generator is a plain value the caller owns.
 */
#ifndef SR_RNG_H
#define SR_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct sr_rng {
    uint64_t s[4];
} sr_rng;

/* Seeds r from one 64-bit value (splitmix64 expansion). */
void sr_rng_seed(sr_rng *r, uint64_t seed);

/* Seeds r as stream `stream` of `seed`: distinct (seed, stream) pairs give
 * statistically independent sequences. */
void sr_rng_seed_stream(sr_rng *r, uint64_t seed, uint64_t stream);

/* splitmix64 finaliser: a fixed bijective scramble of x. */
static inline uint64_t sr_hash64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Hash of an ordered pair (order matters: sr_hash2(a, b) != sr_hash2(b, a)). */
static inline uint64_t sr_hash2(uint64_t a, uint64_t b) {
    return sr_hash64(sr_hash64(a) ^ (b + 0x632be59bd9b4e019ULL));
}

static inline uint64_t sr__rotl64(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

/* Next 64 uniformly random bits (xoshiro256**). */
static inline uint64_t sr_rng_u64(sr_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = sr__rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sr__rotl64(s[3], 45);
    return result;
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double sr_rng_double(sr_rng *r) {
    return (double)(sr_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n) without modulo bias (Lemire, "Fast random integer
 * generation in an interval", 2019: one multiply, a division only on rare rejects).
 * n == 0 returns 0. */
uint64_t sr_rng_below(sr_rng *r, uint64_t n);

/* Uniform integer in [lo, hi] (inclusive); requires lo <= hi. */
int64_t sr_rng_range(sr_rng *r, int64_t lo, int64_t hi);

/* True with probability p (p <= 0 never, p >= 1 always). */
static inline int sr_rng_bernoulli(sr_rng *r, double p) {
    return sr_rng_double(r) < p;
}

/* Standard normal N(0, 1) (Box-Muller; one draw per call, nothing cached). */
double sr_rng_normal(sr_rng *r);

/* Exponential with the given rate (> 0): mean 1 / rate. */
double sr_rng_exponential(sr_rng *r, double rate);

/* exp(N(mu, sigma^2)): median exp(mu), mean exp(mu + sigma^2 / 2). */
double sr_rng_lognormal(sr_rng *r, double mu, double sigma);

/* Pareto type I: xm * U^(-1/alpha), >= xm; heavy tail P(X > x) = (xm / x)^alpha. */
double sr_rng_pareto(sr_rng *r, double xm, double alpha);

/* Fisher-Yates shuffle of a (n) in place. */
void sr_rng_shuffle_u32(sr_rng *r, uint32_t *a, size_t n);

/* Alias table over outcomes 0..n-1. A cell's two fields sit together so a draw
 * touches one cache line. */
typedef struct sr_alias_cell {
    uint32_t thresh; /* stay in this cell when a 32-bit coin is below thresh */
    uint32_t alias;  /* else take this outcome */
} sr_alias_cell;

typedef struct sr_alias {
    uint32_t n;
    sr_alias_cell *cell; /* (n) */
} sr_alias;

/* Builds a from weights w (n, each finite and >= 0, some > 0; 0 < n < 2^32). Returns
 * SR_E_RANGE for bad weights or n, SR_E_NOMEM; on failure a is left zeroed. O(n). */
sr_err sr_alias_init(sr_alias *a, const double *w, size_t n);
void sr_alias_deinit(sr_alias *a);

/* Draws an outcome with probability w[j] / sum(w). One sr_rng_u64 per draw: the high
 * half of the 128-bit product picks the cell (bias < n / 2^64), the low half is the
 * coin. */
static inline uint32_t sr_alias_sample(const sr_alias *a, sr_rng *r) {
    __uint128_t m = (__uint128_t)sr_rng_u64(r) * a->n;
    uint32_t j = (uint32_t)(m >> 64);
    uint32_t coin = (uint32_t)((uint64_t)m >> 32);
    sr_alias_cell c = a->cell[j];
    return coin < c.thresh ? j : c.alias;
}

#endif
