/* libFuzzer target for the .srm model loader (models/model_file.h). As in fuzz_srd.c,
 * the target first repairs the header's size and checksum fields (for half of the
 * inputs) so that mutations reach the section table, the per-section type and size
 * checks, the trainset structure checks and every model's load. A model the loader
 * accepts predicts for every (user, item) pair and two unknown ids, so an unchecked
 * size or index shows up under ASan. */
#include <stdint.h>
#include <unistd.h>

#include "file_input.h"
#include "models/model_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_input("srm", data, size, size >= 64 && !(data[size / 2] & 1));
    if (!path) return 0;
    sr_model_file *m;
    sr_diag d;
    if (sr_model_load(path, &m, &d) == SR_OK) {
        volatile double sink = 0;
        const sr_trainset *ts = &m->ts;
        uint32_t nu = ts->n_users < 64 ? ts->n_users : 64, ni = ts->n_items < 64 ? ts->n_items : 64;
        for (uint32_t u = 0; u <= nu + 1; u++)
            for (uint32_t i = 0; i <= ni + 1; i++) sink += sr_model_predict(&m->model, u, i);
        for (uint32_t u = 0; u < m->meta.users.n; u++) sink += sr_strtab_get(&m->meta.users, u).n;
        for (uint32_t i = 0; i < m->meta.tracks.n; i++)
            sink += sr_strtab_get(&m->meta.tracks, i).n +
                    sr_strtab_get(&m->meta.artists, m->meta.item_artist[i]).n;
        /* A new listener folded in, scored over the catalog. */
        if (m->model.ops->fold_in && ts->n_items) {
            const uint32_t items[2] = {0, ts->n_items - 1};
            const float r[2] = {(float)ts->hi, (float)ts->lo};
            sr_newuser u = {.n = ts->n_items > 1 ? 2 : 1, .items = items, .r = r};
            if (m->model.ops->fold_in(m->model.state, ts, m->model.p, &u, &d) == SR_OK) {
                double e;
                for (uint32_t i = 0; i < ni; i++)
                    if (m->model.ops->estimate_new(m->model.state, ts, &u, i, &e)) sink += e;
                m->model.ops->user_free(u.state);
            }
        }
        (void)sink;
        sr_model_file_free(m);
    }
    unlink(path);
    return 0;
}
