/* Trained models as .srm files (srm.h; bytes in docs/formats.md): what `songrec train`
 * writes and `info`, `predict` (and a server) load.
 *
 * Besides the model's own sections ("m.*", ops->save) a file holds: the algorithm name
 * and its parameters (as text "name=value,..." for people and as an f64 vector checked
 * against the parameter table on load), the rating scale and global mean, the counts,
 * the training data's description (file name, meta JSON, transform), the catalog (user
 * names; artists, each song's artist, track name and MBID) and the trainset parts estimate reads
 * (ops->ts_keep; the CSR row pointers always, for "is this user/item known").
 *
 * Loading maps the file (MAP_SHARED, read-only) and rebuilds an sr_trainset and the
 * model state as views into it: nothing is copied but float16 factor arrays, which are
 * converted to float32 once (srm.h). Every array's size is checked against the counts
 * and the row pointers and ids for structure, so a damaged file is an error, never a
 * crash.
 *
 * Ownership: sr_model_load returns a new sr_model_file; sr_model_file_free frees it
 * with everything it lent (model, trainset, catalog).
 */
#ifndef SR_MODEL_FILE_H
#define SR_MODEL_FILE_H

#include "data/dataset.h"
#include "models/model.h"
#include "models/srm.h"

typedef struct sr_model_meta {
    const char *data_file; /* the training dataset's file name */
    const char *data_meta; /* its meta JSON ("{}" when none) */
    const char *transform; /* "cap10" or "raw" */
    sr_strtab users;       /* (n_users) names; n == 0: none kept */
    /* The song catalog (all or none): artists' display names, each item's artist and
     * track name, and recording MBIDs (16 bytes per item, all-zero when unknown; NULL
     * when no item has one). tracks.n == 0: no catalog. */
    sr_strtab artists;           /* (n_artists) */
    const uint32_t *item_artist; /* (n_items) */
    sr_strtab tracks;            /* (n_items) */
    const uint8_t *item_mbid;    /* (n_items, 16) or NULL */
    uint64_t created;            /* Unix seconds */
    /* Cross-validation of the same algorithm and parameters on the same data before
     * the final fit (`train --cv K`): eval_folds == 0 when none was run. */
    uint32_t eval_folds;
    double eval_rmse, eval_rmse_std, eval_mae, eval_mae_std;
} sr_model_meta;

/* Writes m (fitted on m->ts) with meta to path atomically, factor arrays at prec. */
sr_err sr_model_save(const sr_model *m, const sr_model_meta *meta, sr_srm_precision prec,
                     const char *path, sr_diag *d);

typedef struct sr_model_file {
    sr_srm *srm;
    sr_trainset ts;     /* view into the file */
    sr_model model;     /* model.ts == &ts */
    sr_model_meta meta; /* strings and tables borrowed from srm */
    const char *params; /* "name=value,..." */
    sr_srm_precision precision;
} sr_model_file;

sr_err sr_model_load(const char *path, sr_model_file **out, sr_diag *d);
void sr_model_file_free(sr_model_file *f);

#endif
