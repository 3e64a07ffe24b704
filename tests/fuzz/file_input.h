/* Shared front half of the container-file fuzz targets (fuzz_srd.c, fuzz_srm.c): the
 * loaders take a path, so the input is written to a per-process file under /dev/shm.
 * The header's checksum would stop almost every mutation at the door, so when asked the
 * helper first repairs the size (bytes 16..24) and XXH3-64 checksum (bytes 40..48, over
 * everything after the 64-byte header) fields, zeroes the reserved bytes (28..32, 48..64)
 * and sets the table offset (32..40) to 64, and the mutations reach the section table
 * and structure checks behind them. The caller unlinks the path when done. */
#ifndef SR_FUZZ_FILE_INPUT_H
#define SR_FUZZ_FILE_INPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

/* Writes data[0, size) to /dev/shm/sr-fuzz-<tag>-<pid>, repairing the header fields
 * when repair is set and size >= 64. Returns the path (static storage), or NULL when
 * the file could not be written. */
static const char *fuzz_write_input(const char *tag, const uint8_t *data, size_t size,
                                    bool repair) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/dev/shm/sr-fuzz-%s-%d", tag, (int)getpid());
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return NULL;
    memcpy(copy, data, size);
    if (size >= 64 && repair) {
        /* and the fields only one value passes: reserved bytes zero, the table at 64 */
        uint64_t n = size, h = XXH3_64bits(copy + 64, size - 64), toff = 64;
        memset(copy + 28, 0, 4);
        memcpy(copy + 32, &toff, 8);
        memset(copy + 48, 0, 16);
        memcpy(copy + 16, &n, 8);
        memcpy(copy + 40, &h, 8);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(copy);
        return NULL;
    }
    fwrite(copy, 1, size, f);
    fclose(f);
    free(copy);
    return path;
}

#endif
