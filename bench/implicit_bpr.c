/* bench/implicit_bpr.c — speed of the implicit-feedback models (issue 6) on generated
 * play counts: BPR samples per second, ItemKNN's neighbour lists, BPR fold-in. Not part
 * of the build; build it against the release library as bench/foldin.sh does:
 *
 *   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2
 *   cc -std=c11 -O2 -g -D_GNU_SOURCE -Isrc -o bench/out/implicit_bpr bench/implicit_bpr.c \
 *      build/libsongrec_core.a $(pkg-config --libs libarchive libutf8proc libxxhash \
 *      jansson libzstd libmicrohttpd sqlite3) -lpthread -lm
 *
 * The data: n_users x n_songs, n (user, song) pairs with raw play counts, generated from a
 * seed with util/rng.h, shaped like bench/models_speed.c's set: song popularity Zipf
 * (weight 1 / rank) through an alias table with a random rank -> id permutation (ids carry
 * no popularity order); user activity lognormal (sigma 1.2) scaled to n pairs, each user
 * capped at n_songs / 4 songs; plays floor(Pareto(1, 1.2)).
 *
 * Commands (one tab-separated line each; times are medians of REPS fits):
 *   bpr USERS SONGS N THREADS ITERS REPS [FACTORS [SAMPLING [TRANSFORM]]]  BPR fit (sampling
 *       by_user, the default, or uniform; transform none, the default, or a weighting of
 *       the positives, e.g. log): samples/s = N ITERS / s
 *       (wall), samples per CPU second (all threads; steadier on a shared machine),
 *       and the share of 100,000 random (user, played, unplayed) triples ranked right
 *       (training AUC, a check that the fit learnt)
 *   itemknn USERS SONGS N THREADS REPS [K]           ItemKNN (bm25) fit
 *   foldin USERS SONGS N PLAYS                       BPR (20 iterations) fold-in of a
 *       listener with PLAYS songs, and a whole-catalog score_new, mean of 20
 * e.g. the origin-scale check:  bpr 24580 1000000 12800000 2 5 3
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "models/model.h"
#include "models/trainset.h"
#include "util/rng.h"

extern const sr_model_ops sr_model_bpr, sr_model_item_knn;

static void die(const char *what) {
    fprintf(stderr, "implicit_bpr: %s\n", what);
    exit(1);
}

/* The generated trainset (see the top). Returns new, caller frees. */
static sr_trainset *generate(uint32_t nu, uint32_t ns, uint64_t n, uint64_t seed) {
    sr_rng g;
    sr_rng_seed(&g, seed);
    const uint64_t cap = ns / 4 ? ns / 4 : 1;
    if ((uint64_t)nu * cap < n) die("too many pairs for the users and songs");
    uint64_t *cnt = malloc((size_t)nu * sizeof *cnt);
    uint32_t *user = malloc(n * sizeof *user), *item = malloc(n * sizeof *item);
    float *r = malloc(n * sizeof *r);
    if (!cnt || !user || !item || !r) die("out of memory");
    bench_songs songs;
    bench_songs_init(&songs, &g, ns);
    bench_user_counts(&g, nu, n, cap, cnt);
    uint64_t q = 0;
    for (uint32_t u = 0; u < nu; u++)
        for (uint64_t k = 0; k < cnt[u]; k++) {
            user[q] = u, item[q] = bench_songs_draw(&songs, &g, u);
            r[q++] = (float)floor(sr_rng_pareto(&g, 1.0, 1.2));
        }
    sr_ratings *rs;
    sr_trainset *ts;
    if (sr_ratings_new(nu, ns, n, user, item, r, 1, 1e9, &rs)) die("sr_ratings_new");
    if (sr_trainset_new(rs, NULL, &ts)) die("sr_trainset_new");
    sr_ratings_free(rs);
    bench_songs_free(&songs);
    free(cnt), free(user), free(item), free(r);
    return ts;
}

static void param(const sr_model_ops *ops, double *p, const char *name, double v) {
    char a[96];
    sr_diag d;
    snprintf(a, sizeof a, "%s=%.17g", name, v);
    if (sr_params_set(ops, p, a, &d)) die(d.msg);
}

/* Share of random (user, played, unplayed) triples the model ranks right. */
static double train_auc(const sr_model *m, const sr_trainset *ts) {
    sr_rng g;
    sr_rng_seed(&g, 99);
    uint64_t right = 0, total = 0;
    for (int t = 0; t < 100000; t++) {
        const uint64_t q = sr_rng_below(&g, ts->n);
        uint32_t u = 0, lo = 0, hi = ts->n_users;
        while (lo < hi) { /* the user of pair q */
            const uint32_t mid = lo + (hi - lo) / 2;
            if (ts->user_ptr[mid + 1] <= q)
                lo = mid + 1;
            else
                hi = mid;
        }
        u = lo;
        const uint32_t i = ts->ur_item[q], j = (uint32_t)sr_rng_below(&g, ts->n_items);
        if (!sr_trainset_knows_item(ts, j)) continue;
        double a, b;
        if (!m->ops->estimate(m->state, ts, u, i, &a) || !m->ops->estimate(m->state, ts, u, j, &b))
            continue;
        right += a > b, total++;
    }
    return total ? (double)right / (double)total : NAN;
}

static int cmd_bpr(uint32_t nu, uint32_t ns, uint64_t n, int threads, int iters, int reps, int k,
                   const char *sampling, const char *transform) {
    const double g0 = bench_now();
    sr_trainset *ts = generate(nu, ns, n, 1);
    const double gen_s = bench_now() - g0;
    const sr_model_ops *ops = &sr_model_bpr;
    double p[SR_MAX_PARAMS], t[16], tc[16];
    sr_params_defaults(ops, p);
    param(ops, p, "factors", k);
    param(ops, p, "iterations", iters);
    char a[64];
    sr_diag d0;
    snprintf(a, sizeof a, "sampling=%s", sampling);
    if (sr_params_set(ops, p, a, &d0)) die(d0.msg);
    snprintf(a, sizeof a, "transform=%s", transform);
    if (sr_params_set(ops, p, a, &d0)) die(d0.msg);
    const char *reuse = getenv("NEG_REUSE"); /* samples each negative serves (by_user) */
    if (reuse) param(ops, p, "neg_reuse", atoi(reuse));
    if (reps > 16) reps = 16;
    double auc = NAN;
    for (int r = 0; r < reps; r++) {
        sr_model m;
        sr_diag d;
        const sr_fit_ctx c = {.seed = (uint64_t)r, .threads = threads};
        const double t0 = bench_now(), c0 = bench_cpu();
        if (sr_model_fit(&m, ops, p, ts, &c, &d)) die(d.msg);
        t[r] = bench_now() - t0, tc[r] = bench_cpu() - c0;
        if (r == 0) auc = train_auc(&m, ts);
        sr_model_deinit(&m);
    }
    const double med = bench_median(t, reps), cmed = bench_median(tc, reps);
    printf("bpr\tusers=%u\tsongs=%u\tpairs=%llu\tfactors=%d\tsampling=%s\ttransform=%s\t"
           "iterations=%d\tthreads=%d\t"
           "median_s=%.3f\tmin_s=%.3f\tmax_s=%.3f\tsamples_per_s=%.1fM\t"
           "samples_per_cpu_s=%.1fM\ttrain_auc=%.4f\tgenerate_s=%.1f\n",
           nu, ns, (unsigned long long)n, k, sampling, transform, iters, threads, med, t[0],
           t[reps - 1], (double)n * iters / med / 1e6, (double)n * iters / cmed / 1e6, auc, gen_s);
    sr_trainset_free(ts);
    return 0;
}

static int cmd_itemknn(uint32_t nu, uint32_t ns, uint64_t n, int threads, int reps, int k) {
    sr_trainset *ts = generate(nu, ns, n, 1);
    const sr_model_ops *ops = &sr_model_item_knn;
    double p[SR_MAX_PARAMS], t[16];
    sr_params_defaults(ops, p);
    param(ops, p, "k", k);
    if (reps > 16) reps = 16;
    uint64_t visits = 0;
    for (uint32_t u = 0; u < ts->n_users; u++) {
        const uint64_t c = ts->user_ptr[u + 1] - ts->user_ptr[u];
        visits += c * c;
    }
    for (int r = 0; r < reps; r++) {
        sr_model m;
        sr_diag d;
        const sr_fit_ctx c = {.seed = 0, .threads = threads};
        const double t0 = bench_now();
        if (sr_model_fit(&m, ops, p, ts, &c, &d)) die(d.msg);
        t[r] = bench_now() - t0;
        sr_model_deinit(&m);
    }
    const double med = bench_median(t, reps);
    printf("itemknn\tusers=%u\tsongs=%u\tpairs=%llu\tk=%d\tthreads=%d\tmedian_s=%.3f\t"
           "pair_visits=%.2fG\tvisits_per_s=%.0fM\n",
           nu, ns, (unsigned long long)n, k, threads, med, (double)visits / 1e9,
           (double)visits / med / 1e6);
    sr_trainset_free(ts);
    return 0;
}

static int cmd_foldin(uint32_t nu, uint32_t ns, uint64_t n, uint32_t plays) {
    sr_trainset *ts = generate(nu, ns, n, 1);
    const sr_model_ops *ops = &sr_model_bpr;
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    param(ops, p, "iterations", 20);
    sr_model m;
    sr_diag d;
    const sr_fit_ctx c = {.seed = 0, .threads = 2};
    if (sr_model_fit(&m, ops, p, ts, &c, &d)) die(d.msg);
    /* the listener: the first PLAYS known songs of a stride through the catalog */
    uint32_t *items = malloc(plays * sizeof *items);
    float *r = malloc(plays * sizeof *r), *out = malloc((size_t)ns * sizeof *out);
    if (!items || !r || !out) die("out of memory");
    uint32_t got = 0;
    for (uint32_t i = 0; i < ns && got < plays; i += 7)
        if (sr_trainset_knows_item(ts, i)) items[got] = i, r[got++] = 3;
    double tf = 0, ts_scan = 0;
    for (int rep = 0; rep < 20; rep++) {
        sr_newuser u = {.n = got, .items = items, .r = r};
        const double t0 = bench_now();
        if (ops->fold_in(m.state, ts, m.p, &u, &d)) die(d.msg);
        const double t1 = bench_now();
        ops->score_new(m.state, ts, &u, out, 0, ns);
        tf += t1 - t0, ts_scan += bench_now() - t1;
        ops->user_free(u.state);
    }
    printf("foldin\tsongs=%u\tplays=%u\tfold_in_ms=%.2f\tscore_new_ms=%.2f\n", ns, got,
           tf / 20 * 1e3, ts_scan / 20 * 1e3);
    free(items), free(r), free(out);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 8 && !strcmp(argv[1], "bpr"))
        return cmd_bpr((uint32_t)atol(argv[2]), (uint32_t)atol(argv[3]), (uint64_t)atoll(argv[4]),
                       atoi(argv[5]), atoi(argv[6]), atoi(argv[7]), argc > 8 ? atoi(argv[8]) : 64,
                       argc > 9 ? argv[9] : "by_user", argc > 10 ? argv[10] : "none");
    if (argc >= 7 && !strcmp(argv[1], "itemknn"))
        return cmd_itemknn((uint32_t)atol(argv[2]), (uint32_t)atol(argv[3]),
                           (uint64_t)atoll(argv[4]), atoi(argv[5]), atoi(argv[6]),
                           argc > 7 ? atoi(argv[7]) : 100);
    if (argc >= 6 && !strcmp(argv[1], "foldin"))
        return cmd_foldin((uint32_t)atol(argv[2]), (uint32_t)atol(argv[3]),
                          (uint64_t)atoll(argv[4]), (uint32_t)atol(argv[5]));
    fprintf(stderr,
            "usage: implicit_bpr bpr USERS SONGS N THREADS ITERS REPS [FACTORS [SAMPLING]]\n"
            "       implicit_bpr itemknn USERS SONGS N THREADS REPS [K]\n"
            "       implicit_bpr foldin USERS SONGS N PLAYS\n");
    return 1;
}
