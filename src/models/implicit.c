/* Confidence of play counts for the implicit-feedback models (implicit.h): the per-value
 * transforms inline there, the per-row ones (bm25, quantile) here, the weights of a whole
 * trainset in both orders, and the corpus figures a model file keeps. */
#include "models/implicit.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

void sr_confidence_corpus(const sr_trainset *ts, sr_conf_corpus *k) {
    double plays = 0;
    uint32_t docs = 0;
    for (uint32_t u = 0; u < ts->n_users; u++) {
        if (!sr_trainset_knows_user(ts, u)) continue;
        docs++;
        for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++)
            if (ts->ur_r[q] > 0) plays += ts->ur_r[q];
    }
    k->n_docs = docs;
    k->avglen = docs ? plays / docs : 0;
}

static int cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Values of sorted (n ascending) that are <= v: the end of v's run of ties. */
static size_t count_le(const float *sorted, size_t n, float v) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        const size_t m = lo + (hi - lo) / 2;
        if (sorted[m] <= v)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

static void row_quantile(const sr_confidence *c, const float *v, size_t n, float *scratch,
                         float *w) {
    size_t m = 0;
    for (size_t q = 0; q < n; q++)
        if (v[q] > 0) scratch[m++] = v[q];
    qsort(scratch, m, sizeof *scratch, cmp_float);
    for (size_t q = 0; q < n; q++)
        w[q] = v[q] > 0 ? (float)(c->alpha * (double)count_le(scratch, m, v[q]) / (double)m) : 0;
}

static void row_bm25(const sr_confidence *c, const sr_conf_corpus *k, const sr_trainset *ts,
                     const uint32_t *items, const float *v, size_t n, float *w) {
    double len = 0;
    for (size_t q = 0; q < n; q++)
        if (v[q] > 0) len += v[q];
    /* No plays anywhere (avglen 0): every document counts as of average length. */
    const double rel = k->avglen > 0 ? len / k->avglen : 1;
    const double norm = c->k1 * (1 - c->b + c->b * rel);
    for (size_t q = 0; q < n; q++) {
        if (!(v[q] > 0)) {
            w[q] = 0;
            continue;
        }
        const uint32_t i = items[q];
        const double tf = v[q] * (c->k1 + 1) / (v[q] + norm);
        const double idf = sr_confidence_idf(ts->item_ptr[i + 1] - ts->item_ptr[i], k->n_docs);
        w[q] = (float)(c->alpha * tf * idf);
    }
}

void sr_confidence_row(const sr_confidence *c, const sr_conf_corpus *k, const sr_trainset *ts,
                       const uint32_t *items, const float *v, size_t n, float *scratch, float *w) {
    if (c->f == SR_CONF_QUANTILE)
        row_quantile(c, v, n, scratch, w);
    else if (c->f == SR_CONF_BM25)
        row_bm25(c, k, ts, items, v, n, w);
    else
        for (size_t q = 0; q < n; q++) w[q] = sr_confidence_extra(c, v[q]);
}

/* wi from wu: the pairs of item i in item order are its users ascending, which is the
 * order a walk of the users meets them in, so each item's cursor fills its slice. */
static sr_err scatter_by_item(const sr_trainset *ts, const float *wu, float *wi) {
    uint64_t *next = sr_mallocarray((size_t)ts->n_items + 1, sizeof *next);
    if (!next) return SR_E_NOMEM;
    memcpy(next, ts->item_ptr, ((size_t)ts->n_items + 1) * sizeof *next);
    for (uint32_t u = 0; u < ts->n_users; u++)
        for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++)
            wi[next[ts->ur_item[q]]++] = wu[q];
    sr_free(next);
    return SR_OK;
}

/* The weights of every row of ts in user order. */
static sr_err weights_by_row(const sr_confidence *c, const sr_trainset *ts, float *wu) {
    sr_conf_corpus k;
    sr_confidence_corpus(ts, &k);
    uint64_t longest = 0;
    for (uint32_t u = 0; u < ts->n_users; u++)
        if (ts->user_ptr[u + 1] - ts->user_ptr[u] > longest)
            longest = ts->user_ptr[u + 1] - ts->user_ptr[u];
    float *scratch = NULL;
    if (c->f == SR_CONF_QUANTILE && !(scratch = sr_mallocarray(longest ? longest : 1, 4)))
        return SR_E_NOMEM;
    for (uint32_t u = 0; u < ts->n_users; u++) {
        const uint64_t a = ts->user_ptr[u];
        sr_confidence_row(c, &k, ts, ts->ur_item + a, ts->ur_r + a, ts->user_ptr[u + 1] - a,
                          scratch, wu + a);
    }
    sr_free(scratch);
    return SR_OK;
}

sr_err sr_confidence_weights(const sr_confidence *c, const sr_trainset *ts, float **wu,
                             float **wi) {
    const size_t n = ts->n ? (size_t)ts->n : 1;
    *wu = sr_mallocarray(n, sizeof **wu);
    if (wi) *wi = sr_mallocarray(n, sizeof **wi);
    sr_err e = !*wu || (wi && !*wi) ? SR_E_NOMEM : SR_OK;
    if (!e && sr_confidence_by_row(c)) {
        e = weights_by_row(c, ts, *wu);
        if (!e && wi) e = scatter_by_item(ts, *wu, *wi);
    } else if (!e) { /* v alone: each order from its own values, no scatter */
        for (uint64_t q = 0; q < ts->n; q++) (*wu)[q] = sr_confidence_extra(c, ts->ur_r[q]);
        for (uint64_t q = 0; wi && q < ts->n; q++) (*wi)[q] = sr_confidence_extra(c, ts->ir_r[q]);
    }
    if (e) {
        sr_free(*wu), *wu = NULL;
        if (wi) sr_free(*wi), *wi = NULL;
    }
    return e;
}

void sr_confidence_save(const sr_conf_corpus *k, sr_srm_writer *w) {
    double *v = sr_srm_writer_alloc(w, 2 * sizeof *v); /* borrowed until the write */
    if (!v) return;                                    /* sticky in w */
    v[0] = k->avglen, v[1] = (double)k->n_docs;
    sr_srm_put(w, "m.conf", SR_SRM_F64, v, 2);
}

sr_err sr_confidence_load(sr_srm *r, const sr_confidence *c, const sr_trainset *ts,
                          sr_conf_corpus *k, sr_diag *d) {
    k->avglen = 0;
    k->n_docs = 0;
    for (uint32_t u = 0; u < ts->n_users; u++) k->n_docs += sr_trainset_knows_user(ts, u);
    if (!sr_srm_has(r, "m.conf")) {
        if (c->f == SR_CONF_BM25)
            return sr_diag_set(d, SR_E_CORRUPT, "%s: no section 'm.conf' for bm25", sr_srm_path(r));
        return SR_OK;
    }
    const void *p;
    sr_err e = sr_srm_get(r, "m.conf", SR_SRM_F64, 2, &p, NULL, d);
    if (e) return e;
    const double *v = p;
    /* The listener count must be the trainset's; the mean length any finite figure. */
    if (!(v[0] >= 0 && isfinite(v[0])) || v[1] != (double)k->n_docs)
        return sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt section 'm.conf'", sr_srm_path(r));
    k->avglen = v[0];
    return SR_OK;
}
