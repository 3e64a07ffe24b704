/* bench/rec_speed.c — in-process recommender latency on a trained model file.
 *
 *   rec_speed MODEL.srm [N_RATED] [REPS]
 *
 * Opens the engine (map + catalog build, timed), then times sr_recommend (fold-in of
 * N_RATED random ratings, scoring every song, top-10 with explanations) for REPS
 * generated listeners, and sr_catalog_search for a mix of 1-3 letter prefixes and
 * two-word queries taken from the catalog. Prints median, p99 and max of each.
 * Built by bench/rec_speed.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "rec/engine.h"
#include "util/mem.h"
#include "util/rng.h"

static void report(const char *what, double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    printf("%s\tmedian %.3f ms\tp99 %.3f ms\tmax %.3f ms\t(%d runs)\n", what, v[n / 2] * 1e3,
           v[(int)(0.99 * (n - 1))] * 1e3, v[n - 1] * 1e3, n);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: rec_speed MODEL.srm [N_RATED] [REPS]\n");
        return 1;
    }
    const int NR = argc > 2 ? atoi(argv[2]) : 10, REPS = argc > 3 ? atoi(argv[3]) : 200;
    sr_diag d = {{0}};
    sr_engine *e;
    double t0 = bench_now();
    if (sr_engine_open(argv[1], &e, &d)) {
        fprintf(stderr, "rec_speed: %s\n", d.msg);
        return 1;
    }
    const uint32_t N = e->mf->ts.n_items;
    printf("open (map, checks, catalog build)\t%.3f s\t%u songs\n", bench_now() - t0, N);
    /* REC_SCAN=exact|int8|auto (default auto, as the server) */
    const char *scan = getenv("REC_SCAN");
    if (scan) {
        t0 = bench_now();
        sr_engine_set_scan(e, !strcmp(scan, "exact")  ? SR_REC_SCAN_EXACT
                              : !strcmp(scan, "int8") ? SR_REC_SCAN_INT8
                                                      : SR_REC_SCAN_AUTO);
        printf("scan %s (quantising)\t%.3f s\n", scan, bench_now() - t0);
    }
    printf("scan in use\t%s\n", e->rec.q8.data ? "int8 + exact re-rank" : "exact");
    sr_rng g;
    sr_rng_seed(&g, 1);
    double *t = sr_mallocarray((size_t)REPS * 4, sizeof *t);
    sr_rec_item out[10];
    sr_rec_rating rr[1000];
    for (int rep = 0; rep < REPS; rep++) {
        for (int a = 0; a < NR; a++)
            rr[a] =
                (sr_rec_rating){(uint32_t)(sr_rng_double(&g) * N),
                                (float)(e->mf->ts.lo + (int)(sr_rng_double(&g) *
                                                             (e->mf->ts.hi - e->mf->ts.lo + 1)))};
        sr_rec_profile p = {.ratings = rr, .n_ratings = (size_t)NR};
        sr_rec_opts o = {.n = 10, .n_because = 3};
        size_t n;
        t0 = bench_now();
        if (sr_recommend(&e->rec, &p, &o, out, &n, NULL, &d)) {
            fprintf(stderr, "rec_speed: %s\n", d.msg);
            return 1;
        }
        t[rep] = bench_now() - t0;
    }
    report("recommend", t, REPS);
    /* search: prefixes of real names */
    sr_catalog_hit hits[20];
    int ns = 0;
    for (int rep = 0; rep < REPS * 4; rep++) {
        uint32_t i = (uint32_t)(sr_rng_double(&g) * N);
        sr_str a = sr_catalog_artist_name(e->cat, sr_catalog_item_artist(e->cat, i));
        sr_str tr = sr_catalog_track_name(e->cat, i);
        char q[128];
        int kind = rep % 4;
        if (kind < 3)
            snprintf(q, sizeof q, "%.*s", kind + 1, a.p);
        else
            snprintf(q, sizeof q, "%.*s %.*s", (int)(a.n < 6 ? a.n : 6), a.p,
                     (int)(tr.n < 3 ? tr.n : 3), tr.p);
        t0 = bench_now();
        sr_catalog_search(e->cat, q, strlen(q), SR_CATALOG_ARTIST | SR_CATALOG_SONG, 20, hits);
        t[ns++] = bench_now() - t0;
    }
    report("search", t, ns);
    sr_free(t);
    sr_engine_free(e);
    return 0;
}
