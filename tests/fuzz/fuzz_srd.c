/* libFuzzer target for the .srd loader. The checksum would stop almost every mutation
 * at the door, so the target first repairs the header's size and checksum fields: the
 * fuzzer then exercises the section table and structure checks behind them. A file the
 * loader accepts is walked completely, so an unchecked offset shows up under ASan. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "data/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/dev/shm/sr-fuzz-srd-%d", (int)getpid());
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (size >= 64 && (data[0] & 1)) {
        uint64_t n = size, h = XXH3_64bits(copy + 64, size - 64);
        memcpy(copy + 16, &n, 8);
        memcpy(copy + 40, &h, 8);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(copy);
        return 0;
    }
    fwrite(copy, 1, size, f);
    fclose(f);
    free(copy);
    sr_dataset *ds;
    sr_diag d;
    if (sr_dataset_load(path, &ds, &d) == SR_OK) {
        volatile uint64_t sink = 0;
        for (uint32_t u = 0; u < ds->n_users; u++) {
            sink += sr_dataset_user(ds, u).n;
            for (uint64_t p = ds->user_ptr[u]; p < ds->user_ptr[u + 1]; p++) {
                uint32_t value_bits; /* any float may be stored: casting it could be UB */
                memcpy(&value_bits, &ds->pair_value[p], sizeof value_bits);
                sink += ds->pair_song[p] + ds->song_artist[ds->pair_song[p]] + value_bits +
                        ds->pair_first[p] + ds->pair_last[p];
            }
        }
        for (uint32_t s = 0; s < ds->n_songs; s++) {
            sink += sr_dataset_track(ds, s).n + sr_dataset_artist(ds, ds->song_artist[s]).n;
            for (uint64_t k = ds->song_ptr[s]; k < ds->song_ptr[s + 1]; k++)
                sink += ds->song_user[k] + ds->pair_song[ds->song_pair[k]];
        }
        (void)sink;
        sr_dataset_free(ds);
    }
    unlink(path);
    return 0;
}
