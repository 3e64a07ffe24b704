/* Cross-validation (cv.h). */
#include "eval/cv.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "util/mem.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct job {
    const sr_ratings *rs;
    const sr_model_ops *ops;
    const double *params;
    const sr_cv_opts *o;
    sr_cv_fold *folds;
    unsigned n_folds;
    unsigned fit_threads;
    atomic_uint next;
    atomic_int err;
    sr_diag diag; /* first error's words (written by the failing worker only) */
    atomic_flag diag_taken;
} job;

static sr_err run_fold(job *J, unsigned f, sr_diag *d) {
    const sr_ratings *rs = J->rs;
    uint8_t *test = sr_malloc(rs->n ? rs->n : 1);
    if (!test) return SR_E_NOMEM;
    sr_err e = sr_split_mask(rs, &J->o->split, f, test);
    if (e) { /* sr_split_check passed: memory, or a split that checks cannot foresee */
        sr_free(test);
        return e == SR_E_NOMEM
                   ? sr_diag_set(d, e, "out of memory")
                   : sr_diag_set(d, e, "cannot make split %u: %s", f + 1, sr_err_message(e));
    }
    /* The train part is the complement of the test mask. */
    for (uint64_t k = 0; k < rs->n; k++) test[k] = !test[k];
    sr_trainset *ts = NULL;
    if ((e = sr_trainset_new(rs, test, &ts))) {
        sr_free(test);
        return sr_diag_set(d, e, "out of memory");
    }
    sr_cv_fold *F = &J->folds[f];
    F->n_train = ts->n;
    F->n_test = rs->n - ts->n;
    sr_model m;
    sr_fit_ctx c = {.seed = J->o->seed, .threads = (int)J->fit_threads, .log = J->o->log};
    double t0 = now_s();
    e = sr_model_fit(&m, J->ops, J->params, ts, &c, d);
    F->fit_s = now_s() - t0;
    if (e) {
        sr_model_deinit(&m);
        sr_trainset_free(ts);
        sr_free(test);
        return e;
    }
    uint32_t *tu = sr_mallocarray(F->n_test + 1, sizeof *tu);
    float *tr = sr_mallocarray(F->n_test + 1, sizeof *tr);
    double *est = sr_mallocarray(F->n_test + 1, sizeof *est);
    if (!tu || !tr || !est) e = SR_E_NOMEM;
    if (!e) {
        t0 = now_s();
        uint64_t q = 0;
        for (uint64_t k = 0; k < rs->n; k++) {
            if (test[k]) continue; /* test[] now marks the train part */
            tu[q] = rs->user[k];
            tr[q] = rs->r[k];
            est[q] = sr_model_predict(&m, rs->user[k], rs->item[k]);
            q++;
        }
        F->test_s = now_s() - t0;
        for (int mt = 0; mt < SR_METRIC__COUNT; mt++)
            F->metric[mt] = sr_metric_compute((sr_metric)mt, q, tu, tr, est);
    }
    sr_free(tu);
    sr_free(tr);
    sr_free(est);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
    sr_free(test);
    return e;
}

static void *worker(void *arg) {
    job *J = arg;
    for (;;) {
        if (atomic_load(&J->err)) return NULL;
        unsigned f = atomic_fetch_add(&J->next, 1);
        if (f >= J->n_folds) return NULL;
        sr_diag d = {{0}};
        sr_err e = run_fold(J, f, &d);
        if (e) {
            int expected = 0;
            if (atomic_compare_exchange_strong(&J->err, &expected, e) &&
                !atomic_flag_test_and_set(&J->diag_taken))
                J->diag = d;
            return NULL;
        }
        sr_progress(J->o->log, "folds", f + 1, J->n_folds);
    }
}

static void mean_std(const double *x, unsigned n, double *mean, double *std) {
    double s = 0, s2 = 0;
    for (unsigned i = 0; i < n; i++) s += x[i];
    *mean = s / n;
    for (unsigned i = 0; i < n; i++) s2 += (x[i] - *mean) * (x[i] - *mean);
    *std = sqrt(s2 / n);
}

sr_err sr_cross_validate(const sr_ratings *rs, const sr_model_ops *ops, const double *params,
                         const sr_cv_opts *o, sr_cv_result *out, sr_diag *d) {
    memset(out, 0, sizeof *out);
    unsigned n = sr_split_count(&o->split);
    if (n == 0) return sr_diag_set(d, SR_E_USAGE, "no splits");
    /* Options the data cannot satisfy are said once, in words, before any fit. */
    sr_err ce = sr_split_check(rs, &o->split, d);
    if (ce) return ce;
    out->folds = sr_calloc(n, sizeof *out->folds);
    if (!out->folds) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    out->n_folds = n;
    unsigned workers = o->threads ? o->threads : 1;
    if (workers > n) workers = n;
    job J = {.rs = rs, .ops = ops, .params = params, .o = o, .folds = out->folds, .n_folds = n};
    /* Threads left over after one per split go to each fit. */
    J.fit_threads = (o->threads ? o->threads : 1) / workers;
    if (J.fit_threads < 1) J.fit_threads = 1;
    atomic_init(&J.next, 0);
    atomic_init(&J.err, 0);
    atomic_flag_clear(&J.diag_taken);
    pthread_t th[64];
    if (workers > 64) workers = 64;
    unsigned started = 0;
    for (unsigned w = 1; w < workers; w++)
        if (pthread_create(&th[w], NULL, worker, &J) == 0)
            started = w;
        else
            break;
    worker(&J);
    for (unsigned w = 1; w <= started; w++) pthread_join(th[w], NULL);
    sr_err e = atomic_load(&J.err);
    if (e) {
        if (d) *d = J.diag;
        sr_cv_result_deinit(out);
        return e;
    }
    double *x = sr_mallocarray(n, sizeof *x);
    if (!x) {
        sr_cv_result_deinit(out);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    for (int mt = 0; mt < SR_METRIC__COUNT; mt++) {
        for (unsigned f = 0; f < n; f++) x[f] = out->folds[f].metric[mt];
        mean_std(x, n, &out->mean[mt], &out->std[mt]);
    }
    for (unsigned f = 0; f < n; f++) x[f] = out->folds[f].fit_s;
    mean_std(x, n, &out->fit_mean, &out->fit_std);
    for (unsigned f = 0; f < n; f++) x[f] = out->folds[f].test_s;
    mean_std(x, n, &out->test_mean, &out->test_std);
    sr_free(x);
    return SR_OK;
}

void sr_cv_result_deinit(sr_cv_result *r) {
    sr_free(r->folds);
    memset(r, 0, sizeof *r);
}
