/* Parameter vectors and the fitted-model wrapper (model.h). */
#include "models/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sr_params_defaults(const sr_model_ops *ops, double *p) {
    for (size_t i = 0; i < ops->n_params; i++) p[i] = ops->params[i].def;
}

int sr_params_index(const sr_model_ops *ops, const char *name) {
    for (size_t i = 0; i < ops->n_params; i++)
        if (!strcmp(ops->params[i].name, name)) return (int)i;
    return -1;
}

/* Index of choice `v` (length n) in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *v, size_t n) {
    int idx = 0;
    const char *p = choices;
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return idx;
        idx++;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

sr_err sr_params_set(const sr_model_ops *ops, double *p, const char *a, sr_diag *d) {
    const char *eq = strchr(a, '=');
    if (!eq) return sr_diag_set(d, SR_E_USAGE, "parameter '%s' is not NAME=VALUE", a);
    char name[64];
    size_t n = (size_t)(eq - a);
    if (n >= sizeof name) n = sizeof name - 1;
    memcpy(name, a, n);
    name[n] = 0;
    int k = sr_params_index(ops, name);
    if (k < 0) {
        char known[512] = "";
        for (size_t i = 0; i < ops->n_params; i++) {
            if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
            strncat(known, ops->params[i].name, sizeof known - strlen(known) - 1);
        }
        return sr_diag_set(d, SR_E_USAGE, "%s has no parameter '%s' (it has: %s)", ops->name, name,
                           known);
    }
    const sr_param_def *def = &ops->params[k];
    const char *v = eq + 1;
    double x;
    if (def->type == SR_PARAM_CHOICE) {
        int c = choice_index(def->choices, v, strlen(v));
        if (c < 0)
            return sr_diag_set(d, SR_E_USAGE, "%s: '%s' is not one of %s", name, v, def->choices);
        x = c;
    } else if (def->type == SR_PARAM_BOOL) {
        if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "1"))
            x = 1;
        else if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "0"))
            x = 0;
        else
            return sr_diag_set(d, SR_E_USAGE, "%s: '%s' is not true or false", name, v);
    } else {
        char *end;
        x = strtod(v, &end);
        if (end == v || *end || !isfinite(x))
            return sr_diag_set(d, SR_E_USAGE, "%s: '%s' is not a number", name, v);
        if (def->type == SR_PARAM_INT && x != floor(x))
            return sr_diag_set(d, SR_E_USAGE, "%s: '%s' is not a whole number", name, v);
        if (x < def->min || x > def->max)
            return sr_diag_set(d, SR_E_USAGE, "%s: %g is outside [%g, %g]", name, x, def->min,
                               def->max);
    }
    p[k] = x;
    return SR_OK;
}

void sr_params_format(const sr_model_ops *ops, const double *p, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < ops->n_params && k < cap; i++) {
        const sr_param_def *def = &ops->params[i];
        char val[64];
        if (isnan(p[i]))
            snprintf(val, sizeof val, "unset");
        else if (def->type == SR_PARAM_BOOL)
            snprintf(val, sizeof val, "%s", p[i] ? "true" : "false");
        else if (def->type == SR_PARAM_CHOICE) {
            const char *c = def->choices;
            for (int j = 0; j < (int)p[i] && c; j++) {
                c = strchr(c, '|');
                if (c) c++;
            }
            size_t len = c ? strcspn(c, "|") : 0;
            snprintf(val, sizeof val, "%.*s", (int)len, c ? c : "");
        } else
            snprintf(val, sizeof val, "%g", p[i]);
        k += (size_t)snprintf(buf + k, cap - k, "%s%s=%s", i ? "," : "", def->name, val);
    }
}

sr_err sr_model_fit(sr_model *m, const sr_model_ops *ops, const double *p, const sr_trainset *ts,
                    const sr_fit_ctx *c, sr_diag *d) {
    memset(m, 0, sizeof *m);
    m->ops = ops;
    if (p)
        memcpy(m->p, p, ops->n_params * sizeof *p);
    else
        sr_params_defaults(ops, m->p);
    m->ts = ts;
    sr_fit_ctx def = {.seed = 0, .threads = 1, .log = NULL};
    return ops->fit(ts, m->p, c ? c : &def, &m->state, d);
}

bool sr_all_finite_f32(const float *x, size_t n) {
    /* A float is NaN or infinite when its exponent bits are all ones. Tested on the bits
     * with integer operations, which the compiler vectorises (a floating-point sum would
     * be one long dependency chain): this pass over a million songs' factors is short. */
    uint32_t bad = 0;
    for (size_t j = 0; j < n; j++) {
        uint32_t b;
        memcpy(&b, &x[j], sizeof b);
        bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u);
    }
    return !bad;
}

bool sr_all_finite_f64(const double *x, size_t n) {
    uint64_t bad = 0;
    for (size_t j = 0; j < n; j++) {
        uint64_t b;
        memcpy(&b, &x[j], sizeof b);
        bad |= (uint64_t)((b & 0x7ff0000000000000u) == 0x7ff0000000000000u);
    }
    return !bad;
}

sr_err sr_fit_diverged(sr_diag *d, const char *algo, const char *what, const char *advice) {
    return sr_diag_set(d, SR_E_DIVERGED, "%s diverged: %s became non-finite (try %s)", algo, what,
                       advice);
}

double sr_model_predict(const sr_model *m, uint32_t u, uint32_t i) {
    double est;
    bool ok = m->ops->estimate(m->state, m->ts, u, i, &est) && isfinite(est);
    if (m->ops->implicit) return ok ? est : 0; /* a score: no evidence scores 0 */
    if (!ok) est = m->ts->global_mean;
    if (est < m->ts->lo) est = m->ts->lo;
    if (est > m->ts->hi) est = m->ts->hi;
    return est;
}

void sr_model_deinit(sr_model *m) {
    if (m->ops && m->state) m->ops->free(m->state);
    m->state = NULL;
}
