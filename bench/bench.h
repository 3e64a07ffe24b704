/* What the benchmark drivers share (header only: each driver is one program built by its
 * script against the release library): clocks, the ordering of doubles for medians. */
#ifndef SR_BENCH_H
#define SR_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/rng.h"

/* Wall-clock seconds (monotonic). */
static inline double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU seconds of the whole process, all threads: with T threads on an idle machine about
 * T times the wall time; on a shared one steadier than the wall clock. */
static inline double bench_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* qsort order of doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v (n >= 1), which it sorts. */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The generated sets' user activity: per-user pair counts, lognormal (sigma 1.2) shares
 * of n, each in [1, cap], the excess and the shortfall handed round so they sum to n.
 * Draws nu lognormals from g, nothing else. */
static inline void bench_user_counts(sr_rng *g, uint32_t nu, uint64_t n, uint64_t cap,
                                     uint64_t *cnt) {
    double *w = malloc((size_t)nu * sizeof *w), tot = 0;
    if (!w) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (uint32_t u = 0; u < nu; u++) tot += w[u] = sr_rng_lognormal(g, 0, 1.2);
    uint64_t given = 0;
    for (uint32_t u = 0; u < nu; u++) {
        const uint64_t c = (uint64_t)(w[u] / tot * (double)n);
        cnt[u] = c < 1 ? 1 : c > cap ? cap : c;
        given += cnt[u];
    }
    for (uint32_t u = 0; given < n; u = (u + 1) % nu)
        if (cnt[u] < cap) cnt[u]++, given++;
    for (uint32_t u = 0; given > n; u = (u + 1) % nu)
        if (cnt[u] > 1) cnt[u]--, given--;
    free(w);
}

/* The generated sets' songs: Zipf popularity (weight 1 / rank) drawn with an alias
 * table, ranks mapped to ids by a random permutation (ids carry no popularity order),
 * and no song twice for one user. */
typedef struct bench_songs {
    sr_alias alias;
    uint32_t *perm, *seen; /* (ns) rank -> id; the last user + 1 that drew the id */
} bench_songs;

/* Draws the permutation from g (a shuffle, nothing else). Exits when out of memory. */
static inline void bench_songs_init(bench_songs *b, sr_rng *g, uint32_t ns) {
    double *w = malloc((size_t)ns * sizeof *w);
    b->perm = malloc((size_t)ns * sizeof *b->perm);
    b->seen = calloc(ns, sizeof *b->seen);
    if (!w || !b->perm || !b->seen) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (uint32_t j = 0; j < ns; j++) w[j] = 1.0 / (j + 1.0), b->perm[j] = j;
    sr_rng_shuffle_u32(g, b->perm, ns);
    if (sr_alias_init(&b->alias, w, ns)) {
        fprintf(stderr, "bench: out of memory for the alias table\n");
        exit(1);
    }
    free(w);
}

/* A song user u has not drawn yet (users are drawn for in increasing order). */
static inline uint32_t bench_songs_draw(bench_songs *b, sr_rng *g, uint32_t u) {
    uint32_t s;
    do s = b->perm[sr_alias_sample(&b->alias, g)];
    while (b->seen[s] == u + 1);
    b->seen[s] = u + 1;
    return s;
}

static inline void bench_songs_free(bench_songs *b) {
    sr_alias_deinit(&b->alias);
    free(b->perm), free(b->seen);
}

#endif
