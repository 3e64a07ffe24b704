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

#endif
