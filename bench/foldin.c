/* bench/foldin.c — does fold-in agree with retraining, and how fast is it?
 *
 *   foldin DATA.srd ALGO K N_RATED [PARAM=VALUE ...]
 *
 * From the dataset's ratings (the origin's transform, min(plays, 10)) K test users with
 * more than N_RATED ratings are set aside; a base model is trained on everyone else.
 * For each test user, N_RATED of their ratings (a seeded random choice) stand for a new
 * listener, and the listener is answered two ways:
 *   fold-in: sr_recommend on the base model (no retraining);
 *   retrain: what the origin did on every click — the model retrained from scratch on
 *            the base ratings plus the listener's, same seed, then predict every song.
 * Printed per user and as medians: the overlap of the two top-10 lists (songs the
 * listener rated excluded) and the Spearman rank correlation of the two prediction
 * vectors over every song the listener did not rate. Then the fold-in speed: the median
 * and p99 time of sr_recommend (fold-in + scoring every song + top-10 with explanations)
 * over 2,000 generated listeners of N_RATED ratings, against the retrain time.
 * Built and run by bench/foldin.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "data/dataset.h"
#include "models/model.h"
#include "models/trainset.h"
#include "rec/recommend.h"
#include "util/mem.h"
#include "util/rng.h"

static void die(const char *what, const sr_diag *d) {
    fprintf(stderr, "foldin: %s: %s\n", what, d ? d->msg : "");
    exit(1);
}

static double quantile(double *v, size_t n, double q) {
    qsort(v, n, sizeof *v, bench_cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

typedef struct vpair {
    float v;
    size_t i;
} vpair;

static int cmp_vpair(const void *a, const void *b) {
    const vpair *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v ? 1 : (x->i > y->i) - (x->i < y->i);
}

/* Ranks of v (n) into r, tied values sharing their average rank. */
static void ranks(const float *v, size_t n, double *r) {
    vpair *p = sr_mallocarray(n, sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (vpair){v[i], i};
    qsort(p, n, sizeof *p, cmp_vpair);
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && p[b].v == p[a].v) b++;
        double avg = (double)(a + b - 1) / 2.0;
        for (size_t c = a; c < b; c++) r[p[c].i] = avg;
        a = b;
    }
    sr_free(p);
}

static double spearman(const float *a, const float *b, size_t n) {
    double *ra = sr_mallocarray(n, sizeof *ra), *rb = sr_mallocarray(n, sizeof *rb);
    ranks(a, n, ra);
    ranks(b, n, rb);
    double ma = 0, mb = 0;
    for (size_t i = 0; i < n; i++) ma += ra[i], mb += rb[i];
    ma /= (double)n, mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        sab += (ra[i] - ma) * (rb[i] - mb);
        saa += (ra[i] - ma) * (ra[i] - ma);
        sbb += (rb[i] - mb) * (rb[i] - mb);
    }
    sr_free(ra), sr_free(rb);
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

/* Indices of the 10 best of s (n) whose mask is 0, into top. */
static void top10(const float *s, const uint8_t *mask, size_t n, uint32_t *top) {
    for (int t = 0; t < 10; t++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t i = 0; i < n; i++) {
            if (mask[i]) continue;
            bool used = false;
            for (int q = 0; q < t; q++) used |= top[q] == i;
            if (!used && (best == UINT32_MAX || s[i] > s[best])) best = i;
        }
        top[t] = best;
    }
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: foldin DATA.srd ALGO K N_RATED [PARAM=VALUE ...]\n");
        return 1;
    }
    sr_diag d = {{0}};
    sr_dataset *ds;
    if (sr_dataset_load(argv[1], &ds, &d)) die("load", &d);
    const sr_model_ops *ops = sr_model_find(argv[2]);
    if (!ops) die("unknown algorithm", NULL);
    const int K = atoi(argv[3]), NR = atoi(argv[4]);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    for (int a = 5; a < argc; a++)
        if (sr_params_set(ops, p, argv[a], &d)) die("param", &d);
    sr_ratings *rs;
    if (sr_ratings_from_dataset(ds, SR_TRANSFORM_CAP10, &rs)) die("ratings", NULL);
    /* Test users: every (n_users / K)-th user with more than NR ratings. */
    uint8_t *test = sr_calloc(rs->n_users, 1);
    uint64_t *cnt = sr_calloc(rs->n_users, sizeof *cnt);
    for (uint64_t q = 0; q < rs->n; q++) cnt[rs->user[q]]++;
    int nt = 0;
    for (uint32_t u = 0; u < rs->n_users && nt < K;
         u += rs->n_users / (uint32_t)K ? rs->n_users / (uint32_t)K : 1)
        for (uint32_t v = u; v < rs->n_users; v++)
            if (!test[v] && cnt[v] > (uint64_t)NR) {
                test[v] = 1, nt++;
                break;
            }
    uint8_t *take = sr_mallocarray(rs->n, 1);
    for (uint64_t q = 0; q < rs->n; q++) take[q] = !test[rs->user[q]];
    sr_trainset *base_ts;
    if (sr_trainset_new(rs, take, &base_ts)) die("trainset", NULL);
    sr_fit_ctx fc = {.seed = 1, .threads = 1};
    sr_model base;
    double t0 = bench_now();
    if (sr_model_fit(&base, ops, p, base_ts, &fc, &d)) die("fit", &d);
    double fit_s = bench_now() - t0;
    printf("# %s on %s: %llu ratings, %u users, %u songs; base fit %.2f s; %d test users x %d "
           "ratings\n",
           ops->name, argv[1], (unsigned long long)base_ts->n, rs->n_users, rs->n_items, fit_s, nt,
           NR);
    sr_recommender R;
    if (sr_recommender_init(&R, &base, ds->song_artist, ds->n_artists, &d)) die("rec", &d);

    const uint32_t N = rs->n_items;
    float *fold = sr_mallocarray(N, sizeof *fold), *retr = sr_mallocarray(N, sizeof *retr);
    float *fa = sr_mallocarray(N, sizeof *fa), *ra = sr_mallocarray(N, sizeof *ra);
    uint8_t *mask = sr_calloc(N, 1);
    double *overlaps = sr_calloc((size_t)nt + 1, sizeof *overlaps);
    double *rhos = sr_calloc((size_t)nt + 1, sizeof *rhos), retrain_s = 0;
    double *rmse_f = sr_calloc((size_t)nt + 1, sizeof *rmse_f);
    double *rmse_r = sr_calloc((size_t)nt + 1, sizeof *rmse_r);
    int done = 0;
    sr_rng g;
    sr_rng_seed(&g, 99);
    printf("user\ttop10_overlap\tspearman\trmse_foldin\trmse_retrain\tretrain_s\n");
    for (uint32_t u = 0; u < rs->n_users; u++) {
        if (!test[u]) continue;
        /* NR of u's ratings, chosen at random: mark their positions. */
        uint64_t *pos = sr_mallocarray(cnt[u], sizeof *pos);
        size_t np = 0;
        for (uint64_t q = 0; q < rs->n; q++)
            if (rs->user[q] == u) pos[np++] = q;
        for (size_t a = 0; a < (size_t)NR; a++) {
            size_t b = a + (size_t)(sr_rng_double(&g) * (double)(np - a));
            uint64_t x = pos[a];
            pos[a] = pos[b], pos[b] = x;
        }
        sr_rec_rating rr[1024];
        uint32_t items[1024];
        float rv[1024];
        memset(mask, 0, N);
        for (int a = 0; a < NR; a++) {
            rr[a] = (sr_rec_rating){rs->item[pos[a]], rs->r[pos[a]]};
            mask[rs->item[pos[a]]] = 1;
        }
        /* fold-in: every song's estimate */
        for (int a = 0; a < NR; a++) items[a] = rr[a].item, rv[a] = rr[a].r;
        for (int a = 0; a < NR; a++) /* ascending for the model */
            for (int b = a + 1; b < NR; b++)
                if (items[b] < items[a]) {
                    uint32_t x = items[a];
                    items[a] = items[b], items[b] = x;
                    float y = rv[a];
                    rv[a] = rv[b], rv[b] = y;
                }
        sr_newuser nu = {.n = (size_t)NR, .items = items, .r = rv};
        if (ops->fold_in(base.state, base_ts, base.p, &nu, &d)) die("fold-in", &d);
        for (uint32_t i = 0; i < N; i++) {
            double e;
            fold[i] = ops->estimate_new(base.state, base_ts, &nu, i, &e)
                          ? (float)e
                          : (float)base_ts->global_mean;
        }
        ops->user_free(nu.state);
        /* retrain with the listener's NR ratings added */
        uint8_t *take2 = sr_mallocarray(rs->n, 1);
        memcpy(take2, take, rs->n);
        for (int a = 0; a < NR; a++) take2[pos[a]] = 1;
        sr_trainset *ts2;
        if (sr_trainset_new(rs, take2, &ts2)) die("trainset", NULL);
        sr_model m2;
        t0 = bench_now();
        if (sr_model_fit(&m2, ops, p, ts2, &fc, &d)) die("fit", &d);
        double rt = bench_now() - t0;
        retrain_s += rt;
        for (uint32_t i = 0; i < N; i++) retr[i] = (float)sr_model_predict(&m2, u, i);
        for (uint32_t i = 0; i < N; i++) { /* clip fold-in like predict */
            float x = fold[i];
            fold[i] = x < ts2->lo ? (float)ts2->lo : x > ts2->hi ? (float)ts2->hi : x;
        }
        uint32_t t1[10], t2[10];
        top10(fold, mask, N, t1);
        top10(retr, mask, N, t2);
        int ov = 0;
        for (int a = 0; a < 10; a++)
            for (int b = 0; b < 10; b++) ov += t1[a] == t2[b];
        size_t m = 0;
        for (uint32_t i = 0; i < N; i++)
            if (!mask[i] && sr_trainset_knows_item(ts2, i)) fa[m] = fold[i], ra[m] = retr[i], m++;
        double rho = spearman(fa, ra, m);
        /* Accuracy on the listener's other ratings (not among the NR shown). */
        double sf = 0, sr = 0;
        size_t nh = 0;
        for (size_t a = (size_t)NR; a < np; a++) {
            const uint32_t i = rs->item[pos[a]];
            const double r = rs->r[pos[a]];
            sf += (fold[i] - r) * (fold[i] - r);
            sr += (retr[i] - r) * (retr[i] - r);
            nh++;
        }
        rmse_f[done] = nh ? sqrt(sf / (double)nh) : 0;
        rmse_r[done] = nh ? sqrt(sr / (double)nh) : 0;
        overlaps[done] = ov / 10.0;
        rhos[done] = rho;
        done++;
        printf("%u\t%.1f\t%.4f\t%.3f\t%.3f\t%.2f\n", u, ov / 10.0, rho, rmse_f[done - 1],
               rmse_r[done - 1], rt);
        fflush(stdout);
        sr_model_deinit(&m2);
        sr_trainset_free(ts2);
        sr_free(take2);
        sr_free(pos);
    }
    double mo = quantile(overlaps, (size_t)done, 0.5), mr = quantile(rhos, (size_t)done, 0.5);
    double lo_o = quantile(overlaps, (size_t)done, 0.0), lo_r = quantile(rhos, (size_t)done, 0.0);
    double mf = 0, mrr = 0;
    for (int a = 0; a < done; a++) mf += rmse_f[a], mrr += rmse_r[a];
    printf("# held-out ratings of the test listeners (all but the %d shown): RMSE fold-in %.3f, "
           "retrain %.3f (mean over listeners)\n",
           NR, done ? mf / done : 0, done ? mrr / done : 0);
    printf("# agreement over %d listeners: top-10 overlap median %.2f (min %.2f), Spearman median "
           "%.3f (min %.3f)\n",
           done, mo, lo_o, mr, lo_r);

    /* Speed: generated listeners of NR random songs with random ratings. */
    enum { REPS = 2000 };
    double *ts_ = sr_mallocarray(REPS, sizeof *ts_);
    sr_rec_item out[10];
    for (int rep = 0; rep < REPS; rep++) {
        sr_rec_rating rr[1024];
        for (int a = 0; a < NR; a++)
            rr[a] = (sr_rec_rating){(uint32_t)(sr_rng_double(&g) * N),
                                    (float)(1 + (int)(sr_rng_double(&g) * 10))};
        sr_rec_profile pr = {.ratings = rr, .n_ratings = (size_t)NR};
        sr_rec_opts o = {.n = 10, .n_because = 3};
        size_t n;
        t0 = bench_now();
        if (sr_recommend(&R, &pr, &o, out, &n, NULL, &d)) die("recommend", &d);
        ts_[rep] = bench_now() - t0;
    }
    double med = quantile(ts_, REPS, 0.5), p99 = quantile(ts_, REPS, 0.99);
    printf("# speed: fold-in + score %u songs + top-10 with explanations: median %.3f ms, p99 %.3f "
           "ms (%d listeners of %d ratings); one retrain + predict: %.2f s mean\n",
           N, med * 1e3, p99 * 1e3, REPS, NR, done ? retrain_s / done : 0);
    sr_recommender_deinit(&R);
    sr_model_deinit(&base);
    sr_trainset_free(base_ts);
    sr_ratings_free(rs);
    sr_dataset_free(ds);
    return 0;
}
