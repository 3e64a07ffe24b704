/* Similarity matrices (similarity.h), as Surprise's similarities.pyx computes them.
 *
 * Surprise walks every y and, for every pair of x's that rated it, adds to n x n
 * accumulator matrices. Here each row x is computed on its own: for every y that x
 * rated, for every x' that rated y, add to per-thread accumulators of length n (one
 * slot per x', reset through a list of touched slots). The sums of row x and of row x'
 * visit the common ys in the same (ascending) order with commutative products, so the
 * matrix comes out exactly symmetric, and a row's values do not depend on which thread
 * computed it: rows are handed out in chunks through an atomic counter, each thread
 * writes only its own rows, and nothing needs a lock. Work: sum over ys of |U_y|^2
 * pair visits; memory: the (n, n) float matrix plus (6 doubles + 2 ints) * n per thread.
 */
#include "models/similarity.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "util/mem.h"

#define ROW_CHUNK 16

/* Accumulators of one thread for one row: slot x' of each array. */
typedef struct scratch {
    uint32_t *freq;    /* (n) number of common ys */
    uint32_t *touched; /* (n) slots with freq > 0, in first-touch order */
    double *acc;       /* (n, 5) per slot: prods, sq_x, sq_x2, s_x, s_x2 (or sq_diff) */
} scratch;

typedef struct job {
    const sr_trainset *ts;
    const sr_sim_opts *o;
    const double *bx, *by; /* baselines of the x side and the y side (pearson_baseline) */
    sr_sim *sim;
    atomic_uint next; /* next row to hand out */
} job;

typedef struct worker {
    job *j;
    scratch sc;
    pthread_t tid;
    bool started;
} worker;

/* The x side's lists (ratings of x) and the y side's lists (raters of y). */
typedef struct sides {
    const uint64_t *xptr, *yptr;
    const uint32_t *xidx, *yidx; /* ys of each x; xs of each y */
    const float *xr, *yr;
} sides;

static sides sides_of(const sr_trainset *ts, bool user_based) {
    sides s;
    if (user_based) {
        s = (sides){ts->user_ptr, ts->item_ptr, ts->ur_item, ts->ir_user, ts->ur_r, ts->ir_r};
    } else {
        s = (sides){ts->item_ptr, ts->user_ptr, ts->ir_user, ts->ur_item, ts->ir_r, ts->ur_r};
    }
    return s;
}

/* The similarity of a pair from its accumulators (a: prods, sq_x, sq_x2, s_x, s_x2). */
static float pair_sim(const sr_sim_opts *o, uint32_t freq, const double *a) {
    double f = freq, den, v;
    switch (o->measure) {
    case SR_SIM_MSD:
        if (freq < (uint32_t)o->min_support) return 0;
        return (float)(1.0 / (a[0] / f + 1.0));
    case SR_SIM_COSINE:
        if (freq < (uint32_t)o->min_support) return 0;
        den = sqrt(a[1] * a[2]);
        return den > 0 ? (float)(a[0] / den) : 0.0f; /* only all-zero ratings give 0 */
    case SR_SIM_PEARSON:
        if (freq < (uint32_t)o->min_support) return 0;
        den = sqrt((f * a[1] - a[3] * a[3]) * (f * a[2] - a[4] * a[4]));
        return den > 0 ? (float)((f * a[0] - a[3] * a[4]) / den) : 0.0f;
    case SR_SIM_PEARSON_BASELINE:
        if (freq < 2 || freq < (uint32_t)o->min_support) return 0;
        den = sqrt(a[1] * a[2]);
        if (!(den > 0)) return 0; /* residuals all zero: no correlation to speak of */
        v = a[0] / den;
        return (float)(v * (f - 1) / (f - 1 + o->shrinkage));
    }
    return 0;
}

static void compute_row(const job *j, const sides *sd, scratch *sc, uint32_t x) {
    const sr_sim_opts *o = j->o;
    const uint32_t n = j->sim->n;
    float *row = j->sim->s + (uint64_t)x * n;
    memset(row, 0, (size_t)n * sizeof *row);
    uint32_t nt = 0;
    const double mu = j->ts->global_mean;
    for (uint64_t p = sd->xptr[x]; p < sd->xptr[x + 1]; p++) {
        const uint32_t y = sd->xidx[p];
        const double r = sd->xr[p];
        const double base = o->measure == SR_SIM_PEARSON_BASELINE ? mu + j->by[y] : 0;
        const double dx = r - (base + (j->bx ? j->bx[x] : 0));
        for (uint64_t q = sd->yptr[y]; q < sd->yptr[y + 1]; q++) {
            const uint32_t x2 = sd->yidx[q];
            const double r2 = sd->yr[q];
            double *a = sc->acc + (size_t)x2 * 5;
            if (sc->freq[x2]++ == 0) {
                sc->touched[nt++] = x2;
                a[0] = a[1] = a[2] = a[3] = a[4] = 0;
            }
            switch (o->measure) {
            case SR_SIM_MSD:
                a[0] += (r - r2) * (r - r2);
                break;
            case SR_SIM_PEARSON:
                a[3] += r;
                a[4] += r2;
                /* fall through */
            case SR_SIM_COSINE:
                a[0] += r * r2;
                a[1] += r * r;
                a[2] += r2 * r2;
                break;
            case SR_SIM_PEARSON_BASELINE: {
                const double d2 = r2 - (base + j->bx[x2]);
                a[0] += dx * d2;
                a[1] += dx * dx;
                a[2] += d2 * d2;
                break;
            }
            }
        }
    }
    for (uint32_t t = 0; t < nt; t++) {
        const uint32_t x2 = sc->touched[t];
        row[x2] = pair_sim(o, sc->freq[x2], sc->acc + (size_t)x2 * 5);
        sc->freq[x2] = 0;
    }
    row[x] = 1;
}

static void scratch_free(scratch *sc) {
    sr_free(sc->freq);
    sr_free(sc->touched);
    sr_free(sc->acc);
}

sr_err sr_sim_new_row(const sr_trainset *ts, const sr_sim_opts *o, const double *bx,
                      const double *by, double bx_new, const uint32_t *ys, const float *r, size_t n,
                      float *row) {
    const sides sd = sides_of(ts, o->user_based);
    const uint32_t nx = o->user_based ? ts->n_users : ts->n_items;
    const uint32_t ny = o->user_based ? ts->n_items : ts->n_users;
    if (o->measure == SR_SIM_PEARSON_BASELINE && (!bx || !by)) return SR_E_INTERNAL;
    scratch sc = {sr_calloc(nx ? nx : 1, sizeof *sc.freq),
                  sr_mallocarray(nx ? nx : 1, sizeof *sc.touched),
                  sr_mallocarray((size_t)(nx ? nx : 1) * 5, sizeof *sc.acc)};
    if (!sc.freq || !sc.touched || !sc.acc) {
        scratch_free(&sc);
        return SR_E_NOMEM;
    }
    memset(row, 0, (size_t)nx * sizeof *row);
    uint32_t nt = 0;
    const double mu = ts->global_mean;
    for (size_t p = 0; p < n; p++) {
        const uint32_t y = ys[p];
        if (y >= ny) continue;
        const double rv = r[p];
        const double base = o->measure == SR_SIM_PEARSON_BASELINE ? mu + by[y] : 0;
        const double dx = rv - (base + bx_new);
        for (uint64_t q = sd.yptr[y]; q < sd.yptr[y + 1]; q++) {
            const uint32_t x2 = sd.yidx[q];
            const double r2 = sd.yr[q];
            double *a = sc.acc + (size_t)x2 * 5;
            if (sc.freq[x2]++ == 0) {
                sc.touched[nt++] = x2;
                a[0] = a[1] = a[2] = a[3] = a[4] = 0;
            }
            switch (o->measure) {
            case SR_SIM_MSD:
                a[0] += (rv - r2) * (rv - r2);
                break;
            case SR_SIM_PEARSON:
                a[3] += rv;
                a[4] += r2;
                /* fall through */
            case SR_SIM_COSINE:
                a[0] += rv * r2;
                a[1] += rv * rv;
                a[2] += r2 * r2;
                break;
            case SR_SIM_PEARSON_BASELINE: {
                const double d2 = r2 - (base + bx[x2]);
                a[0] += dx * d2;
                a[1] += dx * dx;
                a[2] += d2 * d2;
                break;
            }
            }
        }
    }
    for (uint32_t t = 0; t < nt; t++) {
        const uint32_t x2 = sc.touched[t];
        row[x2] = pair_sim(o, sc.freq[x2], sc.acc + (size_t)x2 * 5);
    }
    scratch_free(&sc);
    return SR_OK;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    job *j = w->j;
    const sides sd = sides_of(j->ts, j->o->user_based);
    const uint32_t n = j->sim->n;
    for (;;) {
        uint32_t a = atomic_fetch_add(&j->next, ROW_CHUNK);
        if (a >= n) break;
        uint32_t b = n - a < ROW_CHUNK ? n : a + ROW_CHUNK;
        for (uint32_t x = a; x < b; x++) compute_row(j, &sd, &w->sc, x);
    }
    return NULL;
}

void sr_sim_free(sr_sim *s) {
    if (!s) return;
    sr_free(s->s);
    sr_free(s);
}

sr_err sr_sim_compute(const sr_trainset *ts, const sr_sim_opts *o, const double *bu,
                      const double *bi, int threads, sr_sim **out, sr_diag *d) {
    *out = NULL;
    const uint32_t n = o->user_based ? ts->n_users : ts->n_items;
    const char *what = o->user_based ? "users" : "items";
    if (n > SR_SIM_MAX_N)
        return sr_diag_set(d, SR_E_RANGE,
                           "a %s-based similarity matrix over %u %s is too large (at most %u; "
                           "it is dense, n x n)",
                           o->user_based ? "user" : "item", n, what, SR_SIM_MAX_N);
    if ((unsigned)o->measure > SR_SIM_PEARSON_BASELINE)
        return sr_diag_set(d, SR_E_USAGE, "unknown similarity measure %d", (int)o->measure);
    if (o->min_support < 0 || !(o->shrinkage >= 0))
        return sr_diag_set(d, SR_E_RANGE, "min_support and shrinkage must not be negative");
    if (o->measure == SR_SIM_PEARSON_BASELINE && (!bu || !bi))
        return sr_diag_set(d, SR_E_INTERNAL, "pearson_baseline needs baselines");
    if (threads < 1) threads = 1;
    if ((uint32_t)threads > n / ROW_CHUNK + 1) threads = (int)(n / ROW_CHUNK + 1);

    sr_err e = SR_E_NOMEM;
    worker *ws = NULL;
    sr_sim *sim = sr_calloc(1, sizeof *sim);
    if (!sim) goto fail;
    sim->n = n;
    if (n) {
        sim->s = sr_mallocarray((size_t)n * n, sizeof *sim->s);
        if (!sim->s) goto fail;
    }
    ws = sr_calloc((size_t)threads, sizeof *ws);
    if (!ws) goto fail;
    job j = {.ts = ts, .o = o, .sim = sim};
    if (o->measure == SR_SIM_PEARSON_BASELINE) {
        j.bx = o->user_based ? bu : bi;
        j.by = o->user_based ? bi : bu;
    }
    atomic_init(&j.next, 0);
    for (int t = 0; t < threads; t++) {
        ws[t].j = &j;
        ws[t].sc.freq = sr_calloc(n ? n : 1, sizeof *ws[t].sc.freq);
        ws[t].sc.touched = sr_mallocarray(n ? n : 1, sizeof *ws[t].sc.touched);
        ws[t].sc.acc = sr_mallocarray((size_t)(n ? n : 1) * 5, sizeof *ws[t].sc.acc);
        if (!ws[t].sc.freq || !ws[t].sc.touched || !ws[t].sc.acc) goto fail;
    }
    /* Worker 0 is this thread; a thread that cannot start leaves its rows to the rest. */
    for (int t = 1; t < threads; t++)
        ws[t].started = pthread_create(&ws[t].tid, NULL, worker_main, &ws[t]) == 0;
    worker_main(&ws[0]);
    for (int t = 1; t < threads; t++)
        if (ws[t].started) pthread_join(ws[t].tid, NULL);
    for (int t = 0; t < threads; t++) scratch_free(&ws[t].sc);
    sr_free(ws);
    *out = sim;
    return SR_OK;

fail:
    if (ws)
        for (int t = 0; t < threads; t++) scratch_free(&ws[t].sc);
    sr_free(ws);
    sr_sim_free(sim);
    return sr_diag_set(d, e, "out of memory for a %u x %u similarity matrix", n, n);
}
