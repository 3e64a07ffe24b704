/* Confidence of play counts for the implicit-feedback models (implicit.h). */
#include "models/implicit.h"

#include "util/mem.h"

float *sr_confidence_weights(const sr_confidence *c, const float *v, uint64_t n) {
    float *w = sr_mallocarray(n ? (size_t)n : 1, sizeof *w);
    if (!w) return NULL;
    for (uint64_t q = 0; q < n; q++) w[q] = sr_confidence_extra(c, v[q]);
    return w;
}
