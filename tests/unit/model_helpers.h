/* What the model tests share: setting a parameter and fitting a model, failing the test
 * with the library's message when either is refused. Include after cmocka.h and
 * models/model.h. */
#ifndef SR_TEST_MODEL_HELPERS_H
#define SR_TEST_MODEL_HELPERS_H

/* Sets "name=value" in p (the ops' parameter table). */
static inline void set(const sr_model_ops *ops, double *p, const char *a) {
    sr_diag d = {{0}};
    if (sr_params_set(ops, p, a, &d)) fail_msg("%s", d.msg);
}

/* Fits ops with p on ts (seed 42); returns the model's state. */
static inline void *fit(const sr_model_ops *ops, const double *p, const sr_trainset *ts,
                        int threads) {
    sr_fit_ctx c = {.seed = 42, .threads = threads};
    sr_diag d = {{0}};
    void *st = NULL;
    if (ops->fit(ts, p, &c, &st, &d)) fail_msg("%s: %s", ops->name, d.msg);
    assert_non_null(st);
    return st;
}

#endif
