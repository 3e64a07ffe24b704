/* Append-only string list (strvec.h). */
#include "util/strvec.h"

#include <string.h>

#include "util/mem.h"

void sr_strvec_init(sr_strvec *v) {
    memset(v, 0, sizeof *v);
}

void sr_strvec_deinit(sr_strvec *v) {
    sr_free(v->blob);
    sr_free(v->off);
    memset(v, 0, sizeof *v);
}

sr_err sr_strvec_push(sr_strvec *v, sr_str s) {
    if (v->n == UINT32_MAX - 1) return SR_E_NOMEM;
    if (sr_grow((void **)&v->off, &v->off_cap, (size_t)v->n + 2, sizeof *v->off)) return SR_E_NOMEM;
    if (v->len + s.n + 1 > v->cap) {
        uint64_t cap = v->cap ? v->cap : 65536;
        while (cap < v->len + s.n + 1) cap *= 2;
        char *b = sr_realloc(v->blob, cap);
        if (!b) return SR_E_NOMEM;
        v->blob = b;
        v->cap = cap;
    }
    if (s.n) memcpy(v->blob + v->len, s.p, s.n);
    v->off[v->n] = v->len;
    v->len += s.n;
    v->off[++v->n] = v->len;
    return SR_OK;
}
