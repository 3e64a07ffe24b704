/* String interning: a hash map from byte strings to dense 32-bit ids.
 *
 * Strings are copied once into an owned, growing byte blob; id i's bytes are
 * blob[off[i] .. off[i+1]). Lookup is open addressing with linear probing over a
 * power-of-two table of ids, comparing a stored 32-bit hash fragment before the bytes.
 * Hashing is XXH3 (libxxhash). Ids are assigned 0, 1, 2, ... in insertion order.
 *
 * Memory: about 12 bytes per slot at load <= 0.5 plus 12 bytes per string and the
 * string bytes. Not thread-safe.
 */
#ifndef SR_STRMAP_H
#define SR_STRMAP_H

#include <stdint.h>

#include "util/err.h"
#include "util/str.h"

typedef struct sr_strmap_slot {
    uint32_t hash; /* low 32 bits of the string's hash */
    uint32_t id;   /* id + 1; 0 = empty */
} sr_strmap_slot;

typedef struct sr_strmap {
    sr_strmap_slot *slots; /* (cap) */
    uint32_t cap;          /* power of two */
    uint32_t n;            /* strings held */
    uint32_t *hash;        /* (n) low 32 bits of each string's hash, for rehashing */
    uint64_t *off;         /* (n + 1) offsets into blob */
    char *blob;
    uint64_t blob_len, blob_cap;
    size_t arr_cap;
} sr_strmap;

sr_err sr_strmap_init(sr_strmap *m);
void sr_strmap_deinit(sr_strmap *m);
/* Returns the id of s, inserting it when new (*inserted set when given). On failure
 * (out of memory, or 2^32-1 strings) returns SR_E_NOMEM. */
sr_err sr_strmap_intern(sr_strmap *m, sr_str s, uint32_t *id, int *inserted);
/* Like intern with a precomputed 64-bit XXH3 hash of s. */
sr_err sr_strmap_intern_h(sr_strmap *m, sr_str s, uint64_t h, uint32_t *id, int *inserted);
/* Returns 1 and *id when s is present, else 0. */
int sr_strmap_find(const sr_strmap *m, sr_str s, uint32_t *id);
static inline sr_str sr_strmap_get(const sr_strmap *m, uint32_t id) {
    return (sr_str){m->blob + m->off[id], (size_t)(m->off[id + 1] - m->off[id])};
}
uint64_t sr_hash_bytes(const void *p, size_t n);

#endif
