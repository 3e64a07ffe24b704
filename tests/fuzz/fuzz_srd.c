/* libFuzzer target for the .srd loader. The checksum would stop almost every mutation
 * at the door, so the target first repairs the header's size and checksum fields: the
 * fuzzer then exercises the section table and structure checks behind them. A file the
 * loader accepts is walked completely, so an unchecked offset shows up under ASan. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "file_input.h"
#include "data/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_input("srd", data, size, size >= 64 && (data[0] & 1));
    if (!path) return 0;
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
