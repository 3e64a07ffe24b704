/* Accuracy metrics (metrics.h). */
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <strings.h>

#include "util/mem.h"

static const char *const names[SR_METRIC__COUNT] = {"rmse", "mse", "mae", "fcp"};

const char *sr_metric_name(sr_metric m) {
    return (unsigned)m < SR_METRIC__COUNT ? names[m] : "?";
}

int sr_metric_find(const char *name) {
    for (int i = 0; i < SR_METRIC__COUNT; i++)
        if (!strcasecmp(name, names[i])) return i;
    return -1;
}

typedef struct upred {
    uint32_t user;
    float r;
    double est;
} upred;

static int by_user(const void *a, const void *b) {
    const upred *x = a, *y = b;
    return x->user < y->user ? -1 : x->user > y->user;
}

/* FCP as Surprise: nc_u = #(est_i > est_j and r_i > r_j), nd_u = #(est_i >= est_j and
 * r_i < r_j) over ordered pairs of user u's predictions; nc, nd = means over users;
 * fcp = nc / (nc + nd). Quadratic per user, as there. */
static double fcp(size_t n, const uint32_t *user, const float *r, const double *est) {
    upred *p = sr_mallocarray(n, sizeof *p);
    if (!p) return NAN;
    for (size_t k = 0; k < n; k++) p[k] = (upred){user[k], r[k], est[k]};
    qsort(p, n, sizeof *p, by_user);
    double sum_nc = 0, sum_nd = 0;
    size_t users = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && p[b].user == p[a].user) b++;
        double nc = 0, nd = 0;
        for (size_t i = a; i < b; i++)
            for (size_t j = a; j < b; j++) {
                if (p[i].est > p[j].est && p[i].r > p[j].r) nc++;
                if (p[i].est >= p[j].est && p[i].r < p[j].r) nd++;
            }
        sum_nc += nc;
        sum_nd += nd;
        users++;
        a = b;
    }
    sr_free(p);
    double mnc = users ? sum_nc / (double)users : 0, mnd = users ? sum_nd / (double)users : 0;
    return mnc + mnd > 0 ? mnc / (mnc + mnd) : NAN;
}

double sr_metric_compute(sr_metric m, size_t n, const uint32_t *user, const float *r,
                         const double *est) {
    if (!n) return NAN;
    if (m == SR_METRIC_FCP) return fcp(n, user, r, est);
    double s = 0;
    for (size_t k = 0; k < n; k++) {
        double e = (double)r[k] - est[k];
        s += m == SR_METRIC_MAE ? fabs(e) : e * e;
    }
    s /= (double)n;
    return m == SR_METRIC_RMSE ? sqrt(s) : s;
}
