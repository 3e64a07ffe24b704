/* Accuracy metrics of rating predictions, as Surprise's accuracy module defines them:
 * RMSE, MSE, MAE over all predictions, and FCP (fraction of concordant pairs: per user,
 * pairs ordered the same way by prediction and by truth, Koren 2011), averaged over
 * users before the ratio, exactly as Surprise computes it. */
#ifndef SR_METRICS_H
#define SR_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef enum sr_metric {
    SR_METRIC_RMSE,
    SR_METRIC_MSE,
    SR_METRIC_MAE,
    SR_METRIC_FCP,
    SR_METRIC__COUNT
} sr_metric;

const char *sr_metric_name(sr_metric m); /* "rmse" */
int sr_metric_find(const char *name);    /* -1 when unknown (case-insensitive) */

/* n predictions: user (for FCP), truth r, estimate est. Returns NaN for n == 0. */
double sr_metric_compute(sr_metric m, size_t n, const uint32_t *user, const float *r,
                         const double *est);

#endif
