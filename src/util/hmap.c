/* 128-bit-hash map (hmap.h). */
#include "util/hmap.h"

#include <xxhash.h>

#include "util/mem.h"

sr_h128 sr_hash128(const void *p, size_t n) {
    XXH128_hash_t h = XXH3_128bits(p, n);
    return (sr_h128){h.low64, h.high64};
}

sr_err sr_hmap_init(sr_hmap *m) {
    m->cap = 1024;
    m->n = 0;
    m->slots = sr_calloc(m->cap, sizeof *m->slots);
    return m->slots ? SR_OK : SR_E_NOMEM;
}

void sr_hmap_deinit(sr_hmap *m) {
    sr_free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

int sr_hmap_get(const sr_hmap *m, sr_h128 h, uint32_t *val) {
    uint64_t mask = m->cap - 1;
    for (uint64_t i = h.lo & mask;; i = (i + 1) & mask) {
        const sr_hmap_slot *s = &m->slots[i];
        if (!s->val) return 0;
        if (s->lo == h.lo && s->hi == h.hi) {
            *val = s->val - 1;
            return 1;
        }
    }
}

static void place(sr_hmap_slot *slots, uint64_t mask, sr_h128 h, uint32_t stored) {
    uint64_t i = h.lo & mask;
    while (slots[i].val) i = (i + 1) & mask;
    slots[i] = (sr_hmap_slot){h.lo, h.hi, stored, 0};
}

sr_err sr_hmap_put(sr_hmap *m, sr_h128 h, uint32_t val) {
    if (val == UINT32_MAX) return SR_E_NOMEM;
    if ((m->n + 1) * 2 > m->cap) {
        uint64_t cap = m->cap * 2;
        sr_hmap_slot *slots = sr_calloc(cap, sizeof *slots);
        if (!slots) return SR_E_NOMEM;
        for (uint64_t i = 0; i < m->cap; i++)
            if (m->slots[i].val)
                place(slots, cap - 1, (sr_h128){m->slots[i].lo, m->slots[i].hi}, m->slots[i].val);
        sr_free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    place(m->slots, m->cap - 1, h, val + 1);
    m->n++;
    return SR_OK;
}
