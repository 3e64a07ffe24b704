/* An append-only list of byte strings: one growing blob plus offsets. String i is
 * blob[off[i] .. off[i+1]). For strings that are stored once and read back by index
 * (no lookup by content: that is sr_strmap). */
#ifndef SR_STRVEC_H
#define SR_STRVEC_H

#include <stdint.h>

#include "util/err.h"
#include "util/str.h"

typedef struct sr_strvec {
    char *blob;
    uint64_t len, cap;
    uint64_t *off; /* (n + 1) */
    uint32_t n;
    size_t off_cap;
} sr_strvec;

void sr_strvec_init(sr_strvec *v);
void sr_strvec_deinit(sr_strvec *v);
/* Appends s; its index is the previous v->n. */
sr_err sr_strvec_push(sr_strvec *v, sr_str s);
static inline sr_str sr_strvec_get(const sr_strvec *v, uint32_t i) {
    return (sr_str){v->blob + v->off[i], (size_t)(v->off[i + 1] - v->off[i])};
}

#endif
