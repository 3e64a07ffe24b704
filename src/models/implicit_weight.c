/* Play-count weightings of the implicit-feedback models (implicit_weight.h). */
#include "models/implicit_weight.h"

uint32_t sr__iw_known_items(const sr_trainset *ts) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < ts->n_items; i++) n += sr_trainset_knows_item(ts, i);
    return n;
}

void sr__iw_idf(const sr_iw *w, const sr_trainset *ts, float *idf) {
    if (w->kind == SR_IW_NONE) {
        for (uint32_t u = 0; u < ts->n_users; u++) idf[u] = 1;
        return;
    }
    const uint64_t known = sr__iw_known_items(ts);
    for (uint32_t u = 0; u < ts->n_users; u++) {
        const uint64_t n = ts->user_ptr[u + 1] - ts->user_ptr[u];
        idf[u] = n ? (float)sr__iw_idf_of(n, known) : 0.0f;
    }
}

/* Total plays of item i. */
static double item_len(const sr_trainset *ts, uint32_t i) {
    double s = 0;
    for (uint64_t q = ts->item_ptr[i]; q < ts->item_ptr[i + 1]; q++) s += ts->ir_r[q];
    return s;
}

void sr__iw_lnorm(const sr_iw *w, const sr_trainset *ts, float *L) {
    double tot = 0;
    uint64_t known = 0;
    if (w->kind == SR_IW_BM25)
        for (uint32_t i = 0; i < ts->n_items; i++)
            if (sr_trainset_knows_item(ts, i)) tot += item_len(ts, i), known++;
    const double avg = known ? tot / (double)known : 0;
    for (uint32_t i = 0; i < ts->n_items; i++) {
        if (w->kind != SR_IW_BM25 || !sr_trainset_knows_item(ts, i) || !(avg > 0)) {
            L[i] = 1;
            continue;
        }
        L[i] = (float)((1.0 - w->b) + w->b * item_len(ts, i) / avg);
    }
}
