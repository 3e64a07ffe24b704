/* What the two section-table containers (.srd datasets, data/srd.c; .srm models,
 * models/srm.c; bytes in docs/formats.md) share: the 64-byte header, the read-only
 * mapping of the whole file and the header's checks. Each format keeps its own section
 * table entries (32 bytes, numbered; 64 bytes, named and typed) and what they mean.
 *
 * Header: magic (8 bytes), version u32 @8, endianness mark 0x01020304 u32 @12, file size
 * u64 @16, section count u32 @24, table offset u64 @32 (always 64 when written), XXH3-64
 * of every byte after the header u64 @40, zeros to 64.
 */
#ifndef SR_IO_SECTFILE_H
#define SR_IO_SECTFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util/err.h"

#define SR_SECTFILE_HEADER 64u
#define SR_SECTFILE_ENDIAN 0x01020304u

/* Little helpers for the header and table fields: native byte order (the endianness
 * mark refuses a file from the other order), any alignment. */
static inline void sr_put32(unsigned char *p, uint32_t v) {
    memcpy(p, &v, 4);
}
static inline void sr_put64(unsigned char *p, uint64_t v) {
    memcpy(p, &v, 8);
}
static inline uint32_t sr_get32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t sr_get64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* One container format. */
typedef struct sr_sectfile_kind {
    const char *magic;     /* 8 bytes */
    uint32_t version;      /* the one this build reads and writes */
    const char *noun;      /* "dataset": "not a songrec dataset", "dataset format version" */
    const char *rewrite;   /* the command that writes a current file: "songrec ingest" */
    uint32_t entry_size;   /* bytes per section table entry */
    uint32_t max_sections; /* a larger count is corrupt */
} sr_sectfile_kind;

/* Fills header (64 bytes) for a file of file_size bytes with n_sections entries from
 * offset 64 and the given checksum of the bytes after the header. */
void sr_sectfile_header(unsigned char *header, const sr_sectfile_kind *k, uint64_t file_size,
                        uint32_t n_sections, uint64_t checksum);

/* Maps path read-only into *map (*size bytes; release with munmap): MAP_PRIVATE when
 * private_map, else MAP_SHARED. Errors: SR_E_IO (open, fstat, mmap), SR_E_CORRUPT (under
 * 8 bytes); *map is NULL then and nothing is left open. */
sr_err sr_sectfile_map(const char *path, const sr_sectfile_kind *k, bool private_map, void **map,
                       uint64_t *size, sr_diag *d);

/* Checks the mapped file b (size >= 8 bytes) in order: magic, size >= 64, endianness,
 * version, file size, checksum, and that the section table (*n_sections entries at
 * *table_off) lies inside the file. Errors (d names path): SR_E_CORRUPT, SR_E_TRUNCATED,
 * SR_E_VERSION. */
sr_err sr_sectfile_check(const unsigned char *b, uint64_t size, const char *path,
                         const sr_sectfile_kind *k, uint32_t *n_sections, uint64_t *table_off,
                         sr_diag *d);

#endif
