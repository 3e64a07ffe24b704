/* Grid and randomised search (search.h).
 *
 * Scheduling: a configuration's folds go to sr_cross_validate with up to n_folds
 * threads, and as many configurations run at once as the remaining threads allow
 * (16 threads, 5 folds: 3 configurations x 5 folds). Workers take configurations from
 * an atomic counter and write only their own row, so the order in which they finish
 * cannot change a result.
 */
#include "eval/search.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "util/rng.h"

#define MAX_GRID 1000000

void sr_search_space_init(sr_search_space *s, const sr_model_ops *ops) {
    memset(s, 0, sizeof *s);
    s->ops = ops;
}

void sr_search_space_deinit(sr_search_space *s) {
    for (size_t a = 0; a < s->n_axes; a++) sr_free(s->axes[a].values);
    s->n_axes = 0;
}

/* Parses a whole finite number. */
static bool parse_num(const char *s, size_t n, double *out) {
    char buf[64];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (end == buf || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

static sr_err add_range(sr_search_space *s, sr_search_axis *ax, const char *name, const char *v,
                        sr_diag *d) {
    const sr_param_def *def = &s->ops->params[ax->param];
    ax->dist = SR_SEARCH_UNIFORM;
    if (!strncmp(v, "log:", 4)) ax->dist = SR_SEARCH_LOG, v += 4;
    const char *colon = strchr(v, ':');
    if (def->type != SR_PARAM_INT && def->type != SR_PARAM_REAL)
        return sr_diag_set(d, SR_E_USAGE, "%s: a range needs a numeric parameter; list values",
                           name);
    if (!colon || !parse_num(v, (size_t)(colon - v), &ax->lo) ||
        !parse_num(colon + 1, strlen(colon + 1), &ax->hi))
        return sr_diag_set(d, SR_E_USAGE, "%s: '%s' is not a range LO:HI or log:LO:HI", name, v);
    if (!(ax->lo <= ax->hi))
        return sr_diag_set(d, SR_E_USAGE, "%s: empty range %g:%g", name, ax->lo, ax->hi);
    if (ax->lo < def->min || ax->hi > def->max)
        return sr_diag_set(d, SR_E_USAGE, "%s: range %g:%g is outside [%g, %g]", name, ax->lo,
                           ax->hi, def->min, def->max);
    if (ax->dist == SR_SEARCH_LOG && !(ax->lo > 0))
        return sr_diag_set(d, SR_E_USAGE, "%s: a log range needs LO > 0", name);
    if (def->type == SR_PARAM_INT && ceil(ax->lo) > floor(ax->hi))
        return sr_diag_set(d, SR_E_USAGE, "%s: no whole number in %g:%g", name, ax->lo, ax->hi);
    return SR_OK;
}

sr_err sr_search_space_add(sr_search_space *s, const char *spec, sr_diag *d) {
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec)
        return sr_diag_set(d, SR_E_USAGE, "grid axis '%s' is not NAME=V1,V2,... or NAME=LO:HI",
                           spec);
    char name[64];
    size_t nl = (size_t)(eq - spec);
    if (nl >= sizeof name) nl = sizeof name - 1;
    memcpy(name, spec, nl);
    name[nl] = 0;
    double scratch[SR_MAX_PARAMS];
    sr_params_defaults(s->ops, scratch);
    /* sr_params_set words an unknown parameter with the list of known ones. */
    char probe[80];
    snprintf(probe, sizeof probe, "%s=", name);
    int k = sr_params_index(s->ops, name);
    if (k < 0) return sr_params_set(s->ops, scratch, probe, d);
    for (size_t a = 0; a < s->n_axes; a++)
        if (s->axes[a].param == k)
            return sr_diag_set(d, SR_E_USAGE, "%s is given twice; list its values once", name);
    if (s->n_axes == SR_MAX_PARAMS) return sr_diag_set(d, SR_E_USAGE, "too many grid axes");
    sr_search_axis ax = {.param = k, .dist = SR_SEARCH_LIST};
    const char *v = eq + 1;
    if (!*v) return sr_diag_set(d, SR_E_USAGE, "%s: no values", name);
    if (strchr(v, ':')) {
        sr_err e = add_range(s, &ax, name, v, d);
        if (e) return e;
        s->axes[s->n_axes++] = ax;
        return SR_OK;
    }
    size_t cap = 1;
    for (const char *q = v; *q; q++) cap += *q == ',';
    ax.values = sr_mallocarray(cap, sizeof *ax.values);
    if (!ax.values) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    for (const char *q = v;;) {
        size_t len = strcspn(q, ",");
        char buf[128];
        if (len == 0) {
            sr_free(ax.values);
            return sr_diag_set(d, SR_E_USAGE, "%s: empty value in '%s'", name, v);
        }
        snprintf(buf, sizeof buf, "%s=%.*s", name, (int)len, q);
        sr_err e = sr_params_set(s->ops, scratch, buf, d);
        if (e) {
            sr_free(ax.values);
            return e;
        }
        ax.values[ax.n_values++] = scratch[k];
        if (!q[len]) break;
        q += len + 1;
    }
    s->axes[s->n_axes++] = ax;
    return SR_OK;
}

bool sr_search_space_is_grid(const sr_search_space *s) {
    for (size_t a = 0; a < s->n_axes; a++)
        if (s->axes[a].dist != SR_SEARCH_LIST) return false;
    return true;
}

size_t sr_search_grid_size(const sr_search_space *s) {
    if (!sr_search_space_is_grid(s)) return 0;
    size_t n = 1;
    for (size_t a = 0; a < s->n_axes; a++) {
        n *= s->axes[a].n_values;
        if (n > MAX_GRID) return MAX_GRID + 1; /* saturate: the caller refuses it */
    }
    return n;
}

static double draw(const sr_search_axis *ax, const sr_param_def *def, sr_rng *r) {
    if (ax->dist == SR_SEARCH_LIST) return ax->values[sr_rng_below(r, ax->n_values)];
    bool is_int = def->type == SR_PARAM_INT;
    if (ax->dist == SR_SEARCH_UNIFORM) {
        if (is_int) return (double)sr_rng_range(r, (int64_t)ceil(ax->lo), (int64_t)floor(ax->hi));
        return ax->lo + (ax->hi - ax->lo) * sr_rng_double(r);
    }
    double lo = log(ax->lo), hi = log(is_int ? floor(ax->hi) + 1 : ax->hi);
    double x = exp(lo + (hi - lo) * sr_rng_double(r));
    if (is_int) {
        x = floor(x);
        if (x < ceil(ax->lo)) x = ceil(ax->lo);
        if (x > floor(ax->hi)) x = floor(ax->hi);
    } else if (x > ax->hi) {
        x = ax->hi; /* exp(log(hi)) may round a hair above hi */
    } else if (x < ax->lo) {
        x = ax->lo;
    }
    return x;
}

sr_err sr_search_expand(const sr_search_space *s, const double *base, size_t n_random,
                        uint64_t seed, double **configs, size_t *n, sr_diag *d) {
    *configs = NULL;
    *n = 0;
    double def[SR_MAX_PARAMS] = {0};
    if (base)
        memcpy(def, base, s->ops->n_params * sizeof *def);
    else
        sr_params_defaults(s->ops, def);
    size_t count = n_random;
    size_t *pick = NULL; /* random over lists only: distinct grid points, drawn order */
    if (n_random && sr_search_space_is_grid(s) && sr_search_grid_size(s) <= MAX_GRID) {
        size_t g = sr_search_grid_size(s);
        if (count > g) count = g;
        pick = sr_mallocarray(g, sizeof *pick);
        if (!pick) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
        for (size_t j = 0; j < g; j++) pick[j] = j;
    }
    if (n_random == 0) {
        if (!sr_search_space_is_grid(s))
            return sr_diag_set(d, SR_E_USAGE, "a range (LO:HI) needs --random N");
        count = sr_search_grid_size(s);
        if (count > MAX_GRID)
            return sr_diag_set(d, SR_E_USAGE, "the grid has more than %d points", MAX_GRID);
    }
    if (count > MAX_GRID) {
        sr_free(pick);
        return sr_diag_set(d, SR_E_USAGE, "more than %d configurations", MAX_GRID);
    }
    double *c = sr_mallocarray(count * SR_MAX_PARAMS, sizeof *c);
    if (!c) {
        sr_free(pick);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    sr_rng r;
    sr_rng_seed(&r, seed);
    for (size_t j = 0; j < count; j++) {
        double *p = c + j * SR_MAX_PARAMS;
        memcpy(p, def, sizeof def);
        size_t point = j;
        if (pick) {
            /* Partial Fisher-Yates: sampling without replacement, as scikit-learn's
             * ParameterSampler does when every axis is a list. */
            size_t g = sr_search_grid_size(s);
            size_t k = j + (size_t)sr_rng_below(&r, g - j), t = pick[j];
            pick[j] = pick[k];
            pick[k] = t;
            point = pick[j];
        }
        if (n_random && !pick) {
            for (size_t a = 0; a < s->n_axes; a++)
                p[s->axes[a].param] = draw(&s->axes[a], &s->ops->params[s->axes[a].param], &r);
        } else {
            /* Mixed-radix digits of the grid point, the last axis least significant. */
            size_t rest = point;
            for (size_t a = s->n_axes; a-- > 0;) {
                const sr_search_axis *ax = &s->axes[a];
                p[ax->param] = ax->values[rest % ax->n_values];
                rest /= ax->n_values;
            }
        }
    }
    sr_free(pick);
    *configs = c;
    *n = count;
    return SR_OK;
}

bool sr_metric_higher_is_better(sr_metric m) {
    return m == SR_METRIC_FCP;
}

typedef struct work {
    const sr_ratings *rs;
    const sr_model_ops *ops;
    const double *configs;
    size_t n;
    sr_cv_opts inner; /* threads per configuration, progress muted */
    const sr_log *log;
    sr_search_row *rows;
    unsigned n_folds;
    atomic_size_t next, done;
    atomic_int err;
    sr_diag diag;
    atomic_flag diag_taken;
    pthread_mutex_t progress_lock;
} work;

/* Forwards messages, drops the per-configuration fold progress (search reports its own). */
static void fwd_message(void *user, sr_log_level level, const char *text) {
    const sr_log *l = user;
    if (l && l->message) l->message(l->user, level, text);
}

/* Whether a configuration's error is the configuration's own (its fit diverged, or the
 * model refuses its parameters: usage and bad-input kinds), so that the search records it
 * and goes on, rather than a fault that stops it (I/O, memory, internal). */
static bool config_failure(sr_err e) {
    const int code = sr_err_exit_code(e);
    return code == 1 || code == 2;
}

/* Marks row R failed with error e and words d; false when out of memory for them. */
static bool mark_failed(sr_search_row *R, sr_err e, const sr_diag *d) {
    R->err = e;
    R->why = sr_strdup(d->msg[0] ? d->msg : sr_err_message(e));
    for (int m = 0; m < SR_METRIC__COUNT; m++) R->mean[m] = R->std[m] = NAN;
    R->fit_mean = R->fit_std = R->test_mean = R->test_std = NAN;
    return R->why != NULL;
}

static void *worker(void *arg) {
    work *W = arg;
    for (;;) {
        if (atomic_load(&W->err)) return NULL;
        size_t j = atomic_fetch_add(&W->next, 1);
        if (j >= W->n) return NULL;
        sr_cv_result res;
        sr_diag d = {{0}};
        sr_search_row *R = &W->rows[j];
        memcpy(R->p, W->configs + j * SR_MAX_PARAMS, sizeof R->p);
        sr_err e =
            sr_cross_validate(W->rs, W->ops, W->configs + j * SR_MAX_PARAMS, &W->inner, &res, &d);
        if (e && config_failure(e) && !mark_failed(R, e, &d))
            e = sr_diag_set(&d, SR_E_NOMEM, "out of memory");
        else if (e && config_failure(e))
            e = SR_OK; /* recorded; the search goes on */
        if (e) {
            int expected = 0;
            if (atomic_compare_exchange_strong(&W->err, &expected, e) &&
                !atomic_flag_test_and_set(&W->diag_taken))
                W->diag = d;
            return NULL;
        }
        if (!R->err) {
            memcpy(R->mean, res.mean, sizeof R->mean);
            memcpy(R->std, res.std, sizeof R->std);
            R->fit_mean = res.fit_mean, R->fit_std = res.fit_std;
            R->test_mean = res.test_mean, R->test_std = res.test_std;
            sr_cv_result_deinit(&res);
        }
        size_t done = atomic_fetch_add(&W->done, 1) + 1;
        pthread_mutex_lock(&W->progress_lock);
        sr_progress(W->log, "search", done, W->n);
        pthread_mutex_unlock(&W->progress_lock);
    }
}

typedef struct rank_key {
    int failed; /* failed configurations sort last, */
    int nan;    /* then NaN measures */
    double key; /* the measure, negated when higher is better */
    size_t i;
} rank_key;

/* Ties keep configuration order (indices compared last). */
static int cmp_rank(const void *a, const void *b) {
    const rank_key *x = a, *y = b;
    if (x->failed != y->failed) return x->failed - y->failed;
    if (x->nan != y->nan) return x->nan - y->nan;
    if (!x->nan && x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

sr_err sr_search_run(const sr_ratings *rs, const sr_model_ops *ops, const double *configs, size_t n,
                     const sr_cv_opts *o, sr_metric refit, sr_search_result *out, sr_diag *d) {
    memset(out, 0, sizeof *out);
    unsigned n_folds = sr_split_count(&o->split);
    if (n == 0 || n_folds == 0) return sr_diag_set(d, SR_E_USAGE, "nothing to search");
    out->rows = sr_calloc(n, sizeof *out->rows);
    out->rank = sr_mallocarray(n, sizeof *out->rank);
    if (!out->rows || !out->rank) {
        sr_search_result_deinit(out);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    out->n = n;
    out->refit = refit;
    out->n_folds = n_folds;
    unsigned threads = o->threads ? o->threads : 1;
    unsigned per = threads < n_folds ? threads : n_folds;
    unsigned workers = threads / per;
    if (workers > n) workers = (unsigned)n;
    if (workers > 64) workers = 64;
    sr_log inner_log = {.message = fwd_message, .progress = NULL, .user = (void *)o->log};
    work W = {.rs = rs,
              .ops = ops,
              .configs = configs,
              .n = n,
              .inner = *o,
              .log = o->log,
              .rows = out->rows,
              .n_folds = n_folds};
    W.inner.threads = per;
    W.inner.log = &inner_log;
    atomic_init(&W.next, 0);
    atomic_init(&W.done, 0);
    atomic_init(&W.err, 0);
    atomic_flag_clear(&W.diag_taken);
    pthread_mutex_init(&W.progress_lock, NULL);
    pthread_t th[64];
    unsigned started = 0;
    for (unsigned w = 1; w < workers; w++)
        if (pthread_create(&th[w], NULL, worker, &W) == 0)
            started = w;
        else
            break;
    worker(&W);
    for (unsigned w = 1; w <= started; w++) pthread_join(th[w], NULL);
    pthread_mutex_destroy(&W.progress_lock);
    sr_err e = atomic_load(&W.err);
    if (e) {
        if (d) *d = W.diag;
        sr_search_result_deinit(out);
        return e;
    }
    for (size_t j = 0; j < n; j++) out->n_failed += out->rows[j].err != SR_OK;
    if (out->n_failed == n) { /* nothing to choose from: the first one's error */
        e = out->rows[0].err;
        if (n == 1)
            sr_diag_set(d, e, "%s", out->rows[0].why);
        else
            sr_diag_set(d, e, "all %zu configurations failed; the first: %s", n, out->rows[0].why);
        sr_search_result_deinit(out);
        return e;
    }
    rank_key *keys = sr_mallocarray(n, sizeof *keys);
    if (!keys) {
        sr_search_result_deinit(out);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    for (size_t j = 0; j < n; j++) {
        double x = out->rows[j].mean[refit];
        keys[j] = (rank_key){out->rows[j].err != SR_OK, isnan(x),
                             sr_metric_higher_is_better(refit) ? -x : x, j};
    }
    qsort(keys, n, sizeof *keys, cmp_rank);
    for (size_t j = 0; j < n; j++) out->rank[j] = keys[j].i;
    sr_free(keys);
    out->best = out->rank[0];
    return SR_OK;
}

void sr_search_result_deinit(sr_search_result *r) {
    for (size_t j = 0; r->rows && j < r->n; j++) sr_free(r->rows[j].why);
    sr_free(r->rows);
    sr_free(r->rank);
    memset(r, 0, sizeof *r);
}

void sr_search_format_value(const sr_model_ops *ops, size_t k, double v, char *buf, size_t cap) {
    const sr_param_def *def = &ops->params[k];
    if (isnan(v)) {
        snprintf(buf, cap, "unset");
    } else if (def->type == SR_PARAM_BOOL) {
        snprintf(buf, cap, "%s", v != 0 ? "true" : "false");
    } else if (def->type == SR_PARAM_CHOICE) {
        const char *c = def->choices;
        for (int j = 0; j < (int)v && c; j++) {
            c = strchr(c, '|');
            if (c) c++;
        }
        snprintf(buf, cap, "%.*s", c ? (int)strcspn(c, "|") : 0, c ? c : "");
    } else {
        snprintf(buf, cap, "%g", v);
    }
}
