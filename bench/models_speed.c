/* bench/models_speed.c — SVD fit speed on generated play-count ratings, and the
 * machine's ceilings for SGD. Driven by bench/models.sh; not part of the build.
 *
 * The data: n_users x n_songs, n ratings, generated deterministically from a seed with
 * util/rng.h in the shape of the origin's capped play counts:
 *   - song popularity is Zipf (weight 1 / rank^1.0), drawn with an alias table; a
 *     random permutation maps rank to song id (ids carry no popularity order, as in
 *     interned data, so popular rows are scattered over the factor matrix);
 *   - user activity is heavy-tailed (lognormal, sigma 1.2), scaled to n ratings in all,
 *     each user capped at n_songs / 4 distinct songs (the excess goes to other users);
 *   - a value is min(play count, 10) with play count = floor(Pareto(1, a)), a =
 *     exp(x_u + y_s), x_u, y_s ~ N(0, 0.3^2) per user and per song (so the values carry
 *     user and song effects a model can learn): about half are 1s, a tenth 10s.
 *
 * Commands (times in seconds, medians of REPS runs, one line of tab-separated output):
 *   svd  USERS SONGS N THREADS REPS [K EPOCHS]   fit SVD (default k 150, 20 epochs)
 *   write USERS SONGS N FILE                     the ratings as `user\titem\trating`
 *   ceiling USERS SONGS N [K]                    the machine's ceilings for SGD:
 *       512-bit FMA GFLOP/s; streaming read of the (n_songs, ld) factor matrix, 1 and 2
 *       threads; a dependent random row read (ns); the share of ratings on the rows
 *       that fit the 32 MB L3; and the SGD step's memory traffic alone (read + write
 *       the item row of each rating, no arithmetic chain) in trainset (user) order with
 *       prefetch 0, 2 and 8 ratings ahead, on 2 MB pages, and in item order (the
 *       random side then being the user matrix) — updates/s nothing can beat.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bench.h"
#include "models/model.h"
#include "models/trainset.h"
#include "util/mem.h"
#include "util/rng.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static void die(const char *what) {
    fprintf(stderr, "models_speed: %s\n", what);
    exit(1);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The generated ratings (see the file comment). Returns new, caller frees. */
static sr_ratings *generate(uint32_t n_users, uint32_t n_songs, uint64_t n, uint64_t seed) {
    sr_rng rng;
    sr_rng_seed(&rng, seed);
    uint64_t *cnt = calloc(n_users, sizeof *cnt);
    uint32_t *user = malloc(n * sizeof *user), *item = malloc(n * sizeof *item);
    float *r = malloc(n * sizeof *r), *ys = malloc((size_t)n_songs * sizeof *ys);
    if (!cnt || !user || !item || !r || !ys) die("out of memory");
    for (uint32_t j = 0; j < n_songs; j++) ys[j] = (float)(0.3 * sr_rng_normal(&rng));
    bench_songs songs;
    bench_songs_init(&songs, &rng, n_songs);
    /* User activity: lognormal shares of n, capped, the excess handed round. */
    const uint64_t cap = n_songs / 4 ? n_songs / 4 : 1;
    if ((uint64_t)n_users * cap < n) die("too many ratings for the users and songs");
    bench_user_counts(&rng, n_users, n, cap, cnt);
    uint64_t q = 0;
    for (uint32_t u = 0; u < n_users; u++) {
        const double xu = 0.3 * sr_rng_normal(&rng);
        for (uint64_t k = 0; k < cnt[u]; k++) {
            const uint32_t s = bench_songs_draw(&songs, &rng, u);
            double plays = floor(sr_rng_pareto(&rng, 1.0, exp(xu + ys[s])));
            user[q] = u, item[q] = s, r[q] = (float)(plays > 10 ? 10 : plays);
            q++;
        }
    }
    sr_ratings *rs;
    if (sr_ratings_new(n_users, n_songs, n, user, item, r, 1, 10, &rs)) die("sr_ratings_new");
    bench_songs_free(&songs);
    free(ys), free(cnt), free(user), free(item), free(r);
    return rs;
}

static sr_trainset *trainset_of(const sr_ratings *rs) {
    sr_trainset *ts;
    if (sr_trainset_new(rs, NULL, &ts)) die("sr_trainset_new");
    return ts;
}

static int cmd_svd(uint32_t nu, uint32_t ns, uint64_t n, int threads, int reps, int k, int ep) {
    sr_ratings *rs = generate(nu, ns, n, 1);
    sr_trainset *ts = trainset_of(rs);
    const sr_model_ops *ops = sr_model_find("svd");
    if (!ops) die("no svd model");
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    char a[64];
    sr_diag d;
    snprintf(a, sizeof a, "n_factors=%d", k);
    if (sr_params_set(ops, p, a, &d)) die(d.msg);
    snprintf(a, sizeof a, "n_epochs=%d", ep);
    if (sr_params_set(ops, p, a, &d)) die(d.msg);
    double t[16];
    if (reps > 16) reps = 16;
    double rmse = 0;
    for (int i = 0; i < reps; i++) {
        sr_model m;
        const sr_fit_ctx c = {.seed = 0, .threads = threads, .log = NULL};
        double t0 = bench_now();
        if (sr_model_fit(&m, ops, p, ts, &c, &d)) die(d.msg);
        t[i] = bench_now() - t0;
        if (i == 0) { /* training RMSE, a check that the fit did its work */
            double se = 0;
            for (uint64_t q = 0; q < rs->n; q += 97) {
                double e = sr_model_predict(&m, rs->user[q], rs->item[q]) - rs->r[q];
                se += e * e;
            }
            rmse = sqrt(se / (double)((rs->n + 96) / 97));
        }
        sr_model_deinit(&m);
    }
    double med = bench_median(t, reps);
    printf("svd\tusers=%u\tsongs=%u\tratings=%llu\tk=%d\tepochs=%d\tthreads=%d\t"
           "median_s=%.3f\tmin_s=%.3f\tmax_s=%.3f\tupdates_per_s=%.1fM\ttrain_rmse=%.3f\n",
           nu, ns, (unsigned long long)n, k, ep, threads, med, t[0], t[reps - 1],
           (double)n * ep / med / 1e6, rmse);
    sr_trainset_free(ts);
    sr_ratings_free(rs);
    return 0;
}

static int cmd_write(uint32_t nu, uint32_t ns, uint64_t n, const char *path) {
    sr_ratings *rs = generate(nu, ns, n, 1);
    FILE *f = fopen(path, "w");
    if (!f) die("cannot write the ratings file");
    for (uint64_t q = 0; q < rs->n; q++)
        fprintf(f, "u%u\ts%u\t%d\n", rs->user[q], rs->item[q], (int)rs->r[q]);
    if (fclose(f)) die("write failed");
    uint64_t ones = 0;
    for (uint64_t q = 0; q < rs->n; q++) ones += rs->r[q] == 1;
    printf("write\t%s\tratings=%llu\tones=%.1f%%\n", path, (unsigned long long)rs->n,
           100.0 * (double)ones / (double)rs->n);
    sr_ratings_free(rs);
    return 0;
}

/* ---- ceilings ---- */

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f")))
#else
#define AVX512
#endif

typedef struct stream_job {
    const float *a;
    size_t n; /* floats, a multiple of 64 */
    double sum;
} stream_job;

/* Reads a once with 512-bit loads (eight independent sums). */
AVX512 static void *stream_read(void *arg) {
    stream_job *j = arg;
    __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
    for (size_t f = 0; f < j->n; f += 64) {
        s[0] = _mm512_add_ps(s[0], _mm512_load_ps(j->a + f));
        s[1] = _mm512_add_ps(s[1], _mm512_load_ps(j->a + f + 16));
        s[2] = _mm512_add_ps(s[2], _mm512_load_ps(j->a + f + 32));
        s[3] = _mm512_add_ps(s[3], _mm512_load_ps(j->a + f + 48));
    }
    j->sum =
        _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3])));
    return NULL;
}

/* GB/s of reading `bytes` with T threads (best of 3). */
static double stream_gbs(const float *a, size_t n, int T) {
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        stream_job job[2];
        pthread_t tid;
        size_t half = (n / T) & ~(size_t)63;
        for (int j = 0; j < T; j++) job[j] = (stream_job){a + (size_t)j * half, half, 0};
        double t0 = bench_now();
        if (T == 2) pthread_create(&tid, NULL, stream_read, &job[1]);
        stream_read(&job[0]);
        if (T == 2) pthread_join(tid, NULL);
        double gbs = (double)half * T * 4 / (bench_now() - t0) / 1e9;
        if (gbs > best) best = gbs;
    }
    return best;
}

/* The memory side of one SVD epoch alone: for each rating in CSR order (idx: the
 * trainset's ur_item, or ir_user for item order), read the other side's row and write
 * it back scaled (what the SGD step does to q_i), without the dot -> err -> update
 * chain; with dist > 0 the row dist ratings ahead is prefetched. Returns updates per
 * second (best of 3). */
AVX512 static double replay(const uint32_t *idx, uint64_t n, float *m, uint32_t ld, int dist) {
    const __m512 d = _mm512_set1_ps(0.999f);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = bench_now();
        for (uint64_t q = 0; q < n; q++) {
            float *v = m + (size_t)idx[q] * ld;
            if (dist && q + (uint64_t)dist < n) {
                const char *nx = (const char *)(m + (size_t)idx[q + (uint64_t)dist] * ld);
                for (uint32_t f = 0; f < ld; f += 16) _mm_prefetch(nx + 4 * f, _MM_HINT_T0);
            }
            for (uint32_t f = 0; f < ld; f += 16)
                _mm512_store_ps(v + f, _mm512_mul_ps(d, _mm512_load_ps(v + f)));
        }
        double ups = (double)n / (bench_now() - t0);
        if (ups > best) best = ups;
    }
    return best;
}

/* Single-thread 512-bit FMA throughput in GFLOP/s (12 independent chains, best of 3). */
AVX512 static double fma_gflops(void) {
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        __m512 a[12];
        const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
        for (int j = 0; j < 12; j++) a[j] = _mm512_set1_ps((float)j);
        const long iters = 20000000;
        double t0 = bench_now();
        for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
            for (int j = 0; j < 12; j++) a[j] = _mm512_fmadd_ps(a[j], m, c);
        }
        double g = (double)iters * 12 * 32 / (bench_now() - t0) / 1e9;
        __m512 sum = a[0];
        for (int j = 1; j < 12; j++) sum = _mm512_add_ps(sum, a[j]);
        if (_mm512_reduce_add_ps(sum) == -1.0f) puts("");
        if (g > best) best = g;
    }
    return best;
}

/* Random read of whole rows (latency chain: each row's first float picks the next). */
static double chase_ns(float *qi, uint32_t n_rows, uint32_t ld) {
    sr_rng rng;
    sr_rng_seed(&rng, 7);
    uint32_t *order = malloc((size_t)n_rows * sizeof *order);
    for (uint32_t i = 0; i < n_rows; i++) order[i] = i;
    sr_rng_shuffle_u32(&rng, order, n_rows);
    for (uint32_t i = 0; i < n_rows; i++)
        memcpy(&qi[(size_t)order[i] * ld], &order[(i + 1) % n_rows], 4);
    uint32_t at = order[0], steps = n_rows < 2000000 ? n_rows : 2000000;
    double t0 = bench_now();
    for (uint32_t s = 0; s < steps; s++) memcpy(&at, &qi[(size_t)at * ld], 4);
    double ns = (bench_now() - t0) / steps * 1e9;
    free(order);
    if (at == 0xffffffffu) puts("");
    return ns;
}

static int cmd_ceiling(uint32_t nu, uint32_t ns, uint64_t n, int k) {
    const uint32_t ld = ((uint32_t)k + 15u) & ~15u;
    sr_ratings *rs = generate(nu, ns, n, 1);
    sr_trainset *ts = trainset_of(rs);
    sr_ratings_free(rs);
    float *qi = aligned_alloc(64, (size_t)ns * ld * 4);
    if (!qi) die("out of memory");
    for (size_t f = 0; f < (size_t)ns * ld; f++) qi[f] = 1.0f;
    /* Item popularity: the share of ratings on the hottest rows that fit a cache. */
    uint64_t *pop = malloc((size_t)ns * sizeof *pop);
    for (uint32_t i = 0; i < ns; i++) pop[i] = ts->item_ptr[i + 1] - ts->item_ptr[i];
    qsort(pop, ns, sizeof *pop, cmp_u64);
    const uint64_t l3_rows = 32u * 1024 * 1024 / (ld * 4);
    uint64_t hot = 0;
    for (uint64_t j = 0; j < l3_rows && j < ns; j++) hot += pop[ns - 1 - j];
    double mb = (double)ns * ld * 4 / 1e6;
    double g1 = stream_gbs(qi, (size_t)ns * ld, 1), g2 = stream_gbs(qi, (size_t)ns * ld, 2);
    double rp = replay(ts->ur_item, ts->n, qi, ld, 0);
    double rp2 = replay(ts->ur_item, ts->n, qi, ld, 2);
    double rp8 = replay(ts->ur_item, ts->n, qi, ld, 8);
    /* Item order: the random side is then the (smaller) user matrix. */
    double rpi = replay(ts->ir_user, ts->n, qi, ld, 8);
    /* The same user-order replay on 2 MB pages (THP is "madvise" on Debian's default). */
    free(qi);
    const size_t hp = (size_t)2 << 20, bytes = ((size_t)ns * ld * 4 + hp - 1) / hp * hp;
    qi = aligned_alloc(hp, bytes);
    if (!qi) die("out of memory");
    madvise(qi, bytes, MADV_HUGEPAGE);
    for (size_t f = 0; f < (size_t)ns * ld; f++) qi[f] = 1.0f;
    double rph = replay(ts->ur_item, ts->n, qi, ld, 8);
    double lat = chase_ns(qi, ns, ld);
    double gf = fma_gflops();
    printf("ceiling\tusers=%u\tsongs=%u\tratings=%llu\tk=%d\tq_MB=%.0f\tfma_GFLOPs_1t=%.0f\t"
           "stream_read_GBs_1t=%.1f\tstream_read_GBs_2t=%.1f\t"
           "rows_chase_ns=%.0f\thot_share_L3=%.1f%%\treplay_user_order_Mups=%.1f\t"
           "prefetch2=%.1f\tprefetch8=%.1f\tprefetch8_hugepages=%.1f\t"
           "replay_item_order_prefetch8_Mups=%.1f\n",
           nu, ns, (unsigned long long)n, k, mb, gf, g1, g2, lat,
           100.0 * (double)hot / (double)ts->n, rp / 1e6, rp2 / 1e6, rp8 / 1e6, rph / 1e6,
           rpi / 1e6);
    free(pop);
    free(qi);
    sr_trainset_free(ts);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 7 && !strcmp(argv[1], "svd"))
        return cmd_svd((uint32_t)atol(argv[2]), (uint32_t)atol(argv[3]), strtoull(argv[4], 0, 10),
                       atoi(argv[5]), atoi(argv[6]), argc > 7 ? atoi(argv[7]) : 150,
                       argc > 8 ? atoi(argv[8]) : 20);
    if (argc == 6 && !strcmp(argv[1], "write"))
        return cmd_write((uint32_t)atol(argv[2]), (uint32_t)atol(argv[3]), strtoull(argv[4], 0, 10),
                         argv[5]);
    if (argc >= 5 && !strcmp(argv[1], "ceiling"))
        return cmd_ceiling((uint32_t)atol(argv[2]), (uint32_t)atol(argv[3]),
                           strtoull(argv[4], 0, 10), argc > 5 ? atoi(argv[5]) : 150);
    fprintf(stderr, "usage: models_speed svd USERS SONGS N THREADS REPS [K EPOCHS]\n"
                    "       models_speed write USERS SONGS N FILE\n"
                    "       models_speed ceiling USERS SONGS N [K]\n");
    return 1;
}
