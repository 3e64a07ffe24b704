/* A hash map from 128-bit hashes to 32-bit values, for the hot path of ingest.
 *
 * The dataset builder identifies a raw artist+track spelling by the 128-bit XXH3 hash
 * of its bytes rather than by the bytes: a lookup then touches one slot (one cache
 * miss) instead of a slot, an offset table and the string. With n distinct spellings
 * the chance of any collision is about n^2 / 2^129 — below 10^-22 for 100 million.
 *
 * Open addressing, linear probing, load <= 0.5, 24-byte slots. Not thread-safe.
 */
#ifndef SR_HMAP_H
#define SR_HMAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct sr_h128 {
    uint64_t lo, hi;
} sr_h128;

typedef struct sr_hmap_slot {
    uint64_t lo, hi;
    uint32_t val; /* value + 1; 0 = empty */
    uint32_t pad;
} sr_hmap_slot;

typedef struct sr_hmap {
    sr_hmap_slot *slots; /* (cap) */
    uint64_t cap;        /* power of two */
    uint64_t n;
} sr_hmap;

sr_h128 sr_hash128(const void *p, size_t n);
sr_err sr_hmap_init(sr_hmap *m);
void sr_hmap_deinit(sr_hmap *m);
/* Finds h: returns 1 and *val, or 0. */
int sr_hmap_get(const sr_hmap *m, sr_h128 h, uint32_t *val);
/* Inserts h -> val (h must be absent). */
sr_err sr_hmap_put(sr_hmap *m, sr_h128 h, uint32_t val);
/* Hints the CPU to fetch h's first slot (for pipelined lookups). */
static inline void sr_hmap_prefetch(const sr_hmap *m, sr_h128 h) {
    __builtin_prefetch(&m->slots[h.lo & (m->cap - 1)]);
}

#endif
