/* Hyper-parameter search: Surprise's GridSearchCV and RandomizedSearchCV.
 *
 * A search space is a list of axes, one per model parameter, each parsed from
 * "name=SPEC" where SPEC is
 *   v1,v2,...       a list of values (numbers, true/false, or choice names);
 *   lo:hi           a uniform range (integers: uniform over lo..hi inclusive);
 *   log:lo:hi       a log-uniform range (lo > 0).
 * Every value is validated against the model's parameter table (sr_params_set).
 *
 * sr_search_expand turns a space into configurations (full parameter vectors, the
 * model's defaults where no axis applies):
 *   grid     the cartesian product of the lists, in a fixed order: the axes as given,
 *            the last axis varying fastest (as itertools.product); ranges are refused;
 *   random   n configurations, each axis drawn in axis order from one sr_rng seeded
 *            with the seed: lists uniformly, ranges as above. Same seed, same draws.
 *            When every axis is a list, grid points are drawn without replacement
 *            (at most the grid's size), as scikit-learn's ParameterSampler does.
 *
 * sr_search_run cross-validates every configuration with the same splits and the same
 * model seed (so configurations are compared on identical data) and ranks them by the
 * refit measure: lower is better for rmse/mse/mae, higher for fcp. Configurations run
 * in parallel over the threads (each one's folds through sr_cross_validate), which
 * never changes a number: cross-validation results do not depend on the thread count.
 * A configuration whose fit fails for its parameters — it diverged (SR_E_DIVERGED,
 * model.h), or the model refuses the combination: an error of the usage or bad-input
 * kind — is recorded as failed with its words and the search goes on; it is never
 * ranked, let alone chosen. Other errors (I/O, memory, internal) stop the search.
 *
 * Ownership: expand returns a new array (caller frees with sr_free); a result owns its
 * rows (sr_search_result_deinit).
 */
#ifndef SR_SEARCH_H
#define SR_SEARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "eval/cv.h"

typedef enum sr_search_dist {
    SR_SEARCH_LIST,    /* values[0..n_values) */
    SR_SEARCH_UNIFORM, /* [lo, hi] */
    SR_SEARCH_LOG,     /* log-uniform over [lo, hi], lo > 0 */
} sr_search_dist;

typedef struct sr_search_axis {
    int param; /* index into ops->params */
    sr_search_dist dist;
    size_t n_values;
    double *values; /* (n_values) owned; LIST only, each a valid parameter value */
    double lo, hi;  /* ranges */
} sr_search_axis;

typedef struct sr_search_space {
    const sr_model_ops *ops; /* borrowed */
    size_t n_axes;
    sr_search_axis axes[SR_MAX_PARAMS];
} sr_search_space;

void sr_search_space_init(sr_search_space *s, const sr_model_ops *ops);
void sr_search_space_deinit(sr_search_space *s);
/* Adds the axis "name=SPEC" (see above). SR_E_USAGE with words in d for an unknown or
 * repeated parameter, a bad value, an empty list or an empty/inverted range. */
sr_err sr_search_space_add(sr_search_space *s, const char *spec, sr_diag *d);
/* True when every axis is a list (a grid can be expanded). */
bool sr_search_space_is_grid(const sr_search_space *s);
/* Number of grid points (product of list sizes); 0 when some axis is a range. */
size_t sr_search_grid_size(const sr_search_space *s);

/* Configurations: n_random == 0 expands the grid, else draws n_random configurations
 * (fewer for a list-only space smaller than n_random) from seed. base (NULL: the model's defaults)
 * fills parameters no axis sets. Returns *configs, a new (n, SR_MAX_PARAMS) row-major array, and
 * *n. SR_E_USAGE for a grid with a range axis or more than 1M points; SR_E_NOMEM. */
sr_err sr_search_expand(const sr_search_space *s, const double *base, size_t n_random,
                        uint64_t seed, double **configs, size_t *n, sr_diag *d);

typedef struct sr_search_row {
    double p[SR_MAX_PARAMS];
    double mean[SR_METRIC__COUNT], std[SR_METRIC__COUNT]; /* NaN when failed */
    double fit_mean, fit_std, test_mean, test_std;
    sr_err err; /* SR_OK, or why the configuration failed (see above) */
    char *why;  /* owned: the failure's words, NULL when it did not fail */
} sr_search_row;

typedef struct sr_search_result {
    size_t n;
    sr_search_row *rows; /* (n) owned, in configuration order */
    size_t *rank;        /* (n) owned: rank[0] is the best row's index, and so on; the
                            n_failed failed rows come last, in configuration order */
    size_t best;         /* == rank[0], never a failed row */
    size_t n_failed;     /* < n */
    sr_metric refit;
    unsigned n_folds;
} sr_search_result;

/* True when a larger value of m is better (fcp). */
bool sr_metric_higher_is_better(sr_metric m);

/* Cross-validates configs (n, SR_MAX_PARAMS) with o (splits, seed, threads, log) and
 * ranks them by refit (ties: the earlier configuration); failed configurations are kept
 * as failed rows (see above). When every configuration failed, or a fit failed in a way
 * that stops the search, that error is returned with its words (all failed: the first
 * configuration's); nothing is left allocated then. */
sr_err sr_search_run(const sr_ratings *rs, const sr_model_ops *ops, const double *configs, size_t n,
                     const sr_cv_opts *o, sr_metric refit, sr_search_result *out, sr_diag *d);
void sr_search_result_deinit(sr_search_result *r);

/* Formats parameter k's value v as a person writes it ("100", "0.05", "pearson",
 * "true", "unset"). */
void sr_search_format_value(const sr_model_ops *ops, size_t k, double v, char *buf, size_t cap);

#endif
