/* Structure checks for compressed-sparse-row arrays read from a file (the .srd dataset
 * and the .srm model's trainset and string tables): a loader runs them before any index
 * from the file is trusted. Both are O(n) and read every element.
 */
#ifndef SR_UTIL_CSR_H
#define SR_UTIL_CSR_H

#include <stdbool.h>
#include <stdint.h>

/* ptr (n + 1): starts at 0, never decreases, ends at total. */
static inline bool sr_csr_ptr_ok(const uint64_t *ptr, uint64_t n, uint64_t total) {
    if (ptr[0] != 0 || ptr[n] != total) return false;
    for (uint64_t i = 0; i < n; i++)
        if (ptr[i + 1] < ptr[i]) return false;
    return true;
}

/* ids (n): every one below bound (branch-free, so the loop vectorises). */
static inline bool sr_csr_ids_ok(const uint32_t *ids, uint64_t n, uint64_t bound) {
    uint32_t bad = 0;
    for (uint64_t i = 0; i < n; i++) bad |= ids[i] >= bound;
    return !bad;
}

#endif
