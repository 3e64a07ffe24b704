/* String interning hash map (strmap.h). */
#include "util/strmap.h"

#include <string.h>
#include <xxhash.h>

#include "util/mem.h"

uint64_t sr_hash_bytes(const void *p, size_t n) {
    return XXH3_64bits(p, n);
}

sr_err sr_strmap_init(sr_strmap *m) {
    memset(m, 0, sizeof *m);
    m->cap = 1024;
    m->slots = sr_calloc(m->cap, sizeof *m->slots);
    m->off = sr_mallocarray(1, sizeof *m->off);
    m->blob_cap = 4096;
    m->blob = sr_malloc(m->blob_cap);
    if (!m->slots || !m->off || !m->blob) {
        sr_strmap_deinit(m);
        return SR_E_NOMEM;
    }
    m->off[0] = 0;
    return SR_OK;
}

void sr_strmap_deinit(sr_strmap *m) {
    sr_free(m->slots);
    sr_free(m->hash);
    sr_free(m->off);
    sr_free(m->blob);
    memset(m, 0, sizeof *m);
}

static sr_err rehash(sr_strmap *m) {
    if (m->cap >= (1u << 31)) return SR_E_NOMEM;
    uint32_t cap = m->cap * 2, mask = cap - 1;
    sr_strmap_slot *slots = sr_calloc(cap, sizeof *slots);
    if (!slots) return SR_E_NOMEM;
    for (uint32_t id = 0; id < m->n; id++) {
        /* Positions come from the 32-bit fragment, mixed so the probe start uses all
         * of it. */
        uint32_t i = (m->hash[id] * 2654435761u) & mask;
        while (slots[i].id) i = (i + 1) & mask;
        slots[i] = (sr_strmap_slot){m->hash[id], id + 1};
    }
    sr_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return SR_OK;
}

int sr_strmap_find(const sr_strmap *m, sr_str s, uint32_t *id) {
    uint32_t h = (uint32_t)sr_hash_bytes(s.p, s.n), mask = m->cap - 1;
    for (uint32_t i = (h * 2654435761u) & mask;; i = (i + 1) & mask) {
        sr_strmap_slot v = m->slots[i];
        if (!v.id) return 0;
        uint32_t k = v.id - 1;
        if (v.hash == h && m->off[k + 1] - m->off[k] == s.n &&
            (!s.n || !memcmp(m->blob + m->off[k], s.p, s.n))) {
            *id = k;
            return 1;
        }
    }
}

sr_err sr_strmap_intern_h(sr_strmap *m, sr_str s, uint64_t h64, uint32_t *id, int *inserted) {
    uint32_t h = (uint32_t)h64, mask = m->cap - 1, i;
    for (i = (h * 2654435761u) & mask;; i = (i + 1) & mask) {
        sr_strmap_slot v = m->slots[i];
        if (!v.id) break;
        uint32_t k = v.id - 1;
        if (v.hash == h && m->off[k + 1] - m->off[k] == s.n &&
            (!s.n || !memcmp(m->blob + m->off[k], s.p, s.n))) {
            *id = k;
            if (inserted) *inserted = 0;
            return SR_OK;
        }
    }
    if (m->n == UINT32_MAX - 1) return SR_E_NOMEM;
    if ((size_t)m->n + 2 > m->arr_cap) {
        size_t cap = m->arr_cap ? m->arr_cap * 2 : 1024;
        uint32_t *nh = sr_reallocarray(m->hash, cap, sizeof *nh);
        if (!nh) return SR_E_NOMEM;
        m->hash = nh;
        uint64_t *no = sr_reallocarray(m->off, cap, sizeof *no);
        if (!no) return SR_E_NOMEM;
        m->off = no;
        m->arr_cap = cap;
    }
    if (m->blob_len + s.n > m->blob_cap) {
        uint64_t cap = m->blob_cap ? m->blob_cap : 65536;
        while (cap < m->blob_len + s.n) cap *= 2;
        char *nb = sr_realloc(m->blob, cap);
        if (!nb) return SR_E_NOMEM;
        m->blob = nb;
        m->blob_cap = cap;
    }
    if (s.n) memcpy(m->blob + m->blob_len, s.p, s.n);
    m->blob_len += s.n;
    uint32_t k = m->n++;
    m->hash[k] = h;
    m->off[k + 1] = m->blob_len;
    m->slots[i] = (sr_strmap_slot){h, k + 1};
    *id = k;
    if (inserted) *inserted = 1;
    if ((uint64_t)m->n * 2 > m->cap) return rehash(m);
    return SR_OK;
}

sr_err sr_strmap_intern(sr_strmap *m, sr_str s, uint32_t *id, int *inserted) {
    return sr_strmap_intern_h(m, s, sr_hash_bytes(s.p, s.n), id, inserted);
}
