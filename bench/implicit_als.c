/* bench/implicit_als.c — ALS (implicit feedback, models/als.c) fit speed on generated
 * play counts, with the machine's 512-bit FMA ceiling for context. Not part of the
 * build (CMake does not glob bench/); build it against a release library:
 *
 *   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSONGREC_TESTS=OFF   (or: make build)
 *   cmake --build build -j2 --target songrec_core
 *   mkdir -p bench/out
 *   cc -std=c11 -O2 -g -D_GNU_SOURCE -Isrc -o bench/out/implicit_als bench/implicit_als.c \
 *      build/libsongrec_core.a $(pkg-config --libs libarchive libutf8proc libxxhash jansson \
 *      libzstd libmicrohttpd sqlite3) -lpthread -lm
 *
 * Commands (one tab-separated line of results each):
 *   als USERS SONGS PAIRS THREADS REPS [K ITERS SOLVER CG_STEPS]
 *       fit ALS (default k 64, 15 iterations, cg, 3 steps; SOLVER cg or cholesky) REPS
 *       times on the generated set and print the median wall time, the seconds per
 *       iteration of the first run, the fit's CPU seconds (all threads, least of the
 *       runs: about THREADS x the wall time when nothing else had the cores), the work
 *       in GFLOP (the solves' and Gram matrices' multiply-adds x 2, counted from the
 *       data) and the rate, and a check that the fit learnt something: the AUC of
 *       training pairs against random pairs (0.5: nothing learnt).
 *   fma
 *       the machine's 512-bit FMA peak, 1 and 2 threads (GFLOP/s, 12 chains).
 * The figure: `als 24580 1000000 12800000 2 1` (12.8 M (user, song) pairs over
 * 1 M songs, the size of the aggregated origin-scale set of 37.8 M listens), target
 * under 60 s.
 *
 * The data, deterministic from seed 1 (util/rng.h), in the shape of bench/models_speed.c's
 * set but with raw play counts: song popularity Zipf (1 / rank) through an alias table,
 * a random permutation from rank to id; user activity lognormal (sigma 1.2) scaled to
 * PAIRS in all, at most SONGS / 4 songs each; a pair's count floor(Pareto(1, a)), a =
 * 2.1 exp(x_u + y_s), x_u, y_s ~ N(0, 0.3^2), capped at 5,000: a mean of 2.9 plays, so
 * 12.8 M pairs hold about 37 M listens, as the origin's 37.8 M.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "models/model.h"
#include "models/trainset.h"
#include "util/rng.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

extern const sr_model_ops sr_model_als;

static void die(const char *what) {
    fprintf(stderr, "implicit_als: %s\n", what);
    exit(1);
}

/* The generated play counts (see the top). Returns a new trainset. */
static sr_trainset *generate(uint32_t n_users, uint32_t n_songs, uint64_t n, uint64_t seed) {
    sr_rng rng;
    sr_rng_seed(&rng, seed);
    uint64_t *cnt = calloc(n_users, sizeof *cnt);
    float *ys = malloc((size_t)n_songs * sizeof *ys);
    uint32_t *user = malloc(n * sizeof *user), *item = malloc(n * sizeof *item);
    float *r = malloc(n * sizeof *r);
    if (!cnt || !ys || !user || !item || !r) die("out of memory");
    for (uint32_t j = 0; j < n_songs; j++) ys[j] = (float)(0.3 * sr_rng_normal(&rng));
    bench_songs songs;
    bench_songs_init(&songs, &rng, n_songs);
    const uint64_t cap = n_songs / 4 ? n_songs / 4 : 1;
    if ((uint64_t)n_users * cap < n) die("too many pairs for the users and songs");
    bench_user_counts(&rng, n_users, n, cap, cnt);
    uint64_t q = 0;
    for (uint32_t u = 0; u < n_users; u++) {
        const double xu = 0.3 * sr_rng_normal(&rng);
        for (uint64_t k = 0; k < cnt[u]; k++) {
            const uint32_t s = bench_songs_draw(&songs, &rng, u);
            const double plays = floor(sr_rng_pareto(&rng, 1.0, 2.1 * exp(xu + ys[s])));
            user[q] = u, item[q] = s, r[q] = (float)(plays > 5000 ? 5000 : plays);
            q++;
        }
    }
    sr_ratings *rs;
    if (sr_ratings_new(n_users, n_songs, n, user, item, r, 1, 5000, &rs)) die("sr_ratings_new");
    sr_trainset *ts;
    if (sr_trainset_new(rs, NULL, &ts)) die("sr_trainset_new");
    sr_ratings_free(rs);
    bench_songs_free(&songs);
    free(cnt), free(ys), free(user), free(item), free(r);
    return ts;
}

/* Per-iteration times of a fit, through the progress hook. */
typedef struct iter_clock {
    double t0, t[64];
    int n;
} iter_clock;

static void on_progress(void *user, const char *what, uint64_t done, uint64_t total) {
    iter_clock *c = user;
    if (c->n < 64) c->t[c->n++] = bench_now() - c->t0;
}

/* Multiply-adds of one CG iteration (both sides) and of one exact one, counted as the
 * kernels do them: per row (steps + 1) k x k products and (steps + 1) sparse passes of
 * 2 k per pair; the Gram matrices about k^2 / 2 + 8 k per row. */
static double iteration_flops(const sr_trainset *ts, uint32_t k, int chol, int steps) {
    const double kk = (double)k * k, nnz = (double)ts->n;
    const double rows = (double)ts->n_users + ts->n_items;
    const double gram = rows * (kk / 2 + 8.0 * k);
    if (chol) return 2 * (gram + nnz * (kk / 2 + k) + rows * (kk * k / 3 + kk));
    return 2 * (gram + (steps + 1) * (rows * kk + nnz * 2.0 * k));
}

/* P(score of a training pair > score of a random pair), on 200,000 of each. */
static double auc(const void *st, const sr_trainset *ts) {
    sr_rng rng;
    sr_rng_seed(&rng, 99);
    uint64_t wins = 0, ties = 0, tot = 0;
    for (int s = 0; s < 200000; s++) {
        const uint64_t q = sr_rng_u64(&rng) % ts->n;
        uint32_t u = 0, lo = 0, hi = ts->n_users;
        while (lo < hi) { /* the user of pair q */
            const uint32_t mid = lo + (hi - lo) / 2;
            if (ts->user_ptr[mid + 1] <= q)
                lo = mid + 1;
            else
                hi = mid;
        }
        u = lo;
        const uint32_t j = (uint32_t)(sr_rng_u64(&rng) % ts->n_items);
        double a, b;
        if (!sr_model_als.estimate(st, ts, u, ts->ur_item[q], &a) ||
            !sr_model_als.estimate(st, ts, u, j, &b))
            continue;
        wins += a > b, ties += a == b, tot++;
    }
    return tot ? ((double)wins + 0.5 * (double)ties) / (double)tot : NAN;
}

static int cmd_als(uint32_t nu, uint32_t ns, uint64_t n, int threads, int reps, int k, int iters,
                   const char *solver, int steps) {
    double g0 = bench_now();
    sr_trainset *ts = generate(nu, ns, n, 1);
    const double gen_s = bench_now() - g0;
    uint32_t known = 0;
    for (uint32_t i = 0; i < ts->n_items; i++) known += sr_trainset_knows_item(ts, i);
    double plays = 0;
    for (uint64_t q = 0; q < ts->n; q++) plays += ts->ur_r[q];
    double p[SR_MAX_PARAMS];
    sr_params_defaults(&sr_model_als, p);
    char a[64];
    sr_diag d;
    snprintf(a, sizeof a, "factors=%d", k);
    if (sr_params_set(&sr_model_als, p, a, &d)) die(d.msg);
    snprintf(a, sizeof a, "iterations=%d", iters);
    if (sr_params_set(&sr_model_als, p, a, &d)) die(d.msg);
    snprintf(a, sizeof a, "solver=%s", solver);
    if (sr_params_set(&sr_model_als, p, a, &d)) die(d.msg);
    snprintf(a, sizeof a, "cg_steps=%d", steps);
    if (sr_params_set(&sr_model_als, p, a, &d)) die(d.msg);
    double t[16] = {0}, cpu[16] = {0}, first[64], check = NAN;
    int n_first = 0;
    reps = reps < 1 ? 1 : reps > 16 ? 16 : reps;
    for (int r = 0; r < reps; r++) {
        iter_clock ck = {.n = 0};
        const sr_log log = {.progress = on_progress, .user = &ck};
        const sr_fit_ctx c = {.seed = 0, .threads = threads, .log = &log};
        sr_model m;
        const double c0 = bench_cpu();
        ck.t0 = bench_now();
        if (sr_model_fit(&m, &sr_model_als, p, ts, &c, &d)) die(d.msg);
        t[r] = bench_now() - ck.t0;
        cpu[r] = bench_cpu() - c0;
        if (r == 0) {
            n_first = ck.n;
            for (int i = 0; i < ck.n; i++) first[i] = ck.t[i] - (i ? ck.t[i - 1] : 0);
            check = auc(m.state, ts);
        }
        sr_model_deinit(&m);
    }
    double cpu_min = cpu[0];
    for (int r = 1; r < reps; r++) cpu_min = fmin(cpu_min, cpu[r]);
    qsort(t, (size_t)reps, sizeof *t, bench_cmp_double);
    const double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    const double gf =
        iteration_flops(ts, (uint32_t)k, !strcmp(solver, "cholesky"), steps) * iters / 1e9;
    printf(
        "als\tusers=%u\tsongs=%u\tsongs_played=%u\tpairs=%llu\tplays=%.1fM\tk=%d\titerations=%d\t"
        "solver=%s\tcg_steps=%d\tthreads=%d\tmedian_s=%.2f\tmin_s=%.2f\tmax_s=%.2f\tcpu_s=%.2f\t"
        "work_GFLOP=%.0f\tGFLOPs=%.1f\tauc=%.4f\tgenerate_s=%.1f\tper_iteration_s=",
        nu, ns, known, (unsigned long long)ts->n, plays / 1e6, k, iters, solver, steps, threads,
        med, t[0], t[reps - 1], cpu_min, gf, gf / med, check, gen_s);
    for (int i = 0; i < n_first; i++) printf("%s%.2f", i ? "," : "", first[i]);
    printf("\n");
    sr_trainset_free(ts);
    return 0;
}

/* ---- the FMA ceiling ---- */

#if defined(__x86_64__)
typedef struct fma_job {
    double gflops;
} fma_job;

/* 12 independent chains of 512-bit FMAs, best of 3 runs. */
__attribute__((target("avx512f"))) static void *fma_run(void *arg) {
    fma_job *j = arg;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        __m512 acc[12];
        const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
        for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
        const long iters = 20000000;
        const double t0 = bench_now();
        for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
            for (int q = 0; q < 12; q++) acc[q] = _mm512_fmadd_ps(acc[q], m, c);
        }
        const double g = (double)iters * 12 * 32 / (bench_now() - t0) / 1e9;
        __m512 s = acc[0];
        for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, acc[i]);
        if (_mm512_reduce_add_ps(s) == -1.0f) puts("");
        if (g > best) best = g;
    }
    j->gflops = best;
    return NULL;
}

static int cmd_fma(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) die("no AVX-512F on this CPU");
    fma_job one, two[2];
    fma_run(&one);
    pthread_t tid;
    if (pthread_create(&tid, NULL, fma_run, &two[1])) die("pthread_create");
    fma_run(&two[0]);
    pthread_join(tid, NULL);
    printf("fma\tfma512_GFLOPs_1t=%.0f\tfma512_GFLOPs_2t=%.0f\n", one.gflops,
           two[0].gflops + two[1].gflops);
    return 0;
}
#else
static int cmd_fma(void) {
    die("the FMA ceiling is measured on x86-64 only");
    return 1;
}
#endif

int main(int argc, char **argv) {
    if (argc >= 7 && !strcmp(argv[1], "als"))
        return cmd_als((uint32_t)atol(argv[2]), (uint32_t)atol(argv[3]), strtoull(argv[4], 0, 10),
                       atoi(argv[5]), atoi(argv[6]), argc > 7 ? atoi(argv[7]) : 64,
                       argc > 8 ? atoi(argv[8]) : 15, argc > 9 ? argv[9] : "cg",
                       argc > 10 ? atoi(argv[10]) : 3);
    if (argc == 2 && !strcmp(argv[1], "fma")) return cmd_fma();
    fprintf(stderr, "usage: implicit_als als USERS SONGS PAIRS THREADS REPS [K ITERS SOLVER "
                    "CG_STEPS]\n"
                    "       implicit_als fma\n");
    return 1;
}
