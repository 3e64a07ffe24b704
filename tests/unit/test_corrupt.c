/* Corrupted files (issue 8): a valid dataset (.srd) and model files (.srm: SVD at f32 and
 * f16, KNNBasic, ALS, ItemKNN, popularity), built here through the library, damaged on
 * purpose thousands of times with a seeded generator, then loaded.
 *
 * Damage: 1..8 bytes XORed with a non-zero byte in one region (the 64-byte header, the
 * section table, or anywhere after the header, where the arrays are); truncation at a
 * random length (every length under 128, then random ones); random bytes appended; the
 * version field rewritten to other values.
 *
 * The rule: a damaged file is refused with an error of the "bad file" kind (SR_E_CORRUPT,
 * SR_E_TRUNCATED or SR_E_VERSION; for a rewritten version, SR_E_VERSION) and a message
 * that names the file, or, only where the damage cannot be seen, it loads and answers
 * exactly as the undamaged file does: every array of the dataset; every prediction of the
 * model over all (user, item) pairs and two unknown ids, its catalog and metadata, and a
 * new listener's fold-in, estimates, scores and similar songs (answers are hashed; the
 * hashes must match). Anything else fails the test, and ASan catches a read out of
 * bounds on the way. (The checksum covers every byte after the header and the header's
 * other fields are checked for the only values a writer puts there, so in practice
 * nothing damaged is accepted; the one exception is a dataset's section count raised a
 * little, whose extra entries read data as unknown sections and are skipped.)
 *
 * A last part goes past the checksum: it damages the section table and the arrays, then
 * repairs the header's checksum, as a buggy writer or a deliberate forgery would. Those
 * files are well-formed as far as the container can tell, so the only rule is that the
 * structural checks refuse them with a message, or that the model answers everything
 * without a crash or an out-of-bounds read.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "data/builder.h"
#include "io/sectfile.h"
#include "models/model_file.h"
#include "util/mem.h"
#include "util/rng.h"

#define N_FLIPS    4000 /* per file */
#define N_TRUNCS   1000 /* random lengths, after every length under 128 */
#define N_APPENDS  100
#define N_VERSIONS 64
#define N_DEEP     1500 /* damage behind a repaired checksum, per file */

/* ---- the files ---- */

typedef struct target {
    const char *name; /* "dataset", "svd-f32", ... */
    bool dataset;
    char path[128];                        /* the undamaged file */
    unsigned char *orig;                   /* its bytes */
    size_t size;                           /* its length in bytes */
    uint64_t answers;                      /* hash of everything it answers */
    uint32_t entry_size;                   /* section table entry size */
    uint64_t table_end;                    /* end of the section table */
    unsigned long refused[4], accepted[4]; /* by kind of damage, for the summary */
} target;

static char work_path[128]; /* the damaged copy, rewritten for every load */

/* Rewrites path in place (no O_TRUNC: ext4 flushes a file truncated to zero on close,
 * which would make every iteration wait for the disk). */
static void write_bytes(const char *path, const unsigned char *b, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(n ? pwrite(fd, b, n, 0) : 0, (ssize_t)n);
    assert_int_equal(ftruncate(fd, (off_t)n), 0);
    assert_int_equal(close(fd), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    assert_true(len > 0);
    rewind(f);
    unsigned char *b = malloc((size_t)len);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* The dataset: 30 users, 12 artists x 4 tracks, about 500 listens over two years, a
 * third of the songs with a recording MBID, one user with a single listen. */
static sr_dataset *make_dataset(void) {
    sr_build_opts o = {.keep_listens = true}; /* the optional event sections too */
    sr_builder *b;
    assert_int_equal(sr_builder_new(&o, &b), SR_OK);
    sr_rng rng;
    sr_rng_seed(&rng, 11);
    char user[32], artist[32], track[32], mbid[40];
    for (int k = 0; k < 500; k++) {
        int u = k < 499 ? (int)sr_rng_below(&rng, 29) : 29;
        int a = (int)sr_rng_below(&rng, 12), t = (int)sr_rng_below(&rng, 4);
        snprintf(user, sizeof user, "user %02d", u);
        snprintf(artist, sizeof artist, "Artist %c%d", 'A' + a, a);
        snprintf(track, sizeof track, "Track %d of %d", t, a);
        snprintf(mbid, sizeof mbid, "%08x-0000-4000-8000-%012x", (unsigned)(a * 4 + t + 1),
                 (unsigned)(a * 7 + t));
        sr_listen l = {.user = sr_str_c(user),
                       .artist = sr_str_c(artist),
                       .track = sr_str_c(track),
                       .ts = 1500000000 + (int64_t)sr_rng_below(&rng, 63000000),
                       .value = 1};
        if ((a * 4 + t) % 3 == 0) l.recording_mbid = sr_str_c(mbid);
        assert_int_equal(sr_builder_add(b, &l, SR_VALUE_PLAYS), SR_OK);
    }
    sr_dataset *ds = NULL;
    sr_diag d = {{0}};
    if (sr_builder_finish(b, "{\"made_by\":\"test_corrupt\"}", &ds, NULL, &d))
        fail_msg("builder: %s", d.msg);
    sr_builder_free(b);
    return ds;
}

/* Fits algo (parameters "name=value" as given) on ds and saves it at prec to path; the
 * catalog and (with cv) an evaluation section go in as `songrec train` writes them. */
static void make_model(const sr_dataset *ds, const char *algo, const char *const *params,
                       sr_srm_precision prec, bool cv, const char *path) {
    const sr_model_ops *ops = sr_model_find(algo);
    assert_non_null(ops);
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    sr_diag d = {{0}};
    for (; params && *params; params++)
        if (sr_params_set(ops, p, *params, &d)) fail_msg("%s: %s", algo, d.msg);
    sr_ratings *rs = NULL;
    sr_trainset *ts = NULL;
    assert_int_equal(
        sr_ratings_from_dataset(ds, ops->implicit ? SR_TRANSFORM_RAW : SR_TRANSFORM_CAP10, &rs),
        SR_OK);
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    if (ops->needs_events) assert_int_equal(sr_trainset_add_events(ts, rs, NULL, 0), SR_OK);
    sr_ratings_free(rs);
    sr_model m;
    sr_fit_ctx c = {.seed = 5, .threads = 1};
    if (sr_model_fit(&m, ops, p, ts, &c, &d)) fail_msg("%s fit: %s", algo, d.msg);
    sr_model_meta meta = {.data_file = "corrupt.srd",
                          .data_meta = ds->meta_json,
                          .transform = ops->implicit ? "raw" : "cap10",
                          .users = ds->users,
                          .artists = ds->artists,
                          .item_artist = ds->song_artist,
                          .tracks = ds->tracks,
                          .item_mbid = ds->song_mbid,
                          .created = 1700000000,
                          .eval_folds = cv ? 3 : 0,
                          .eval_rmse = 1.25,
                          .eval_rmse_std = 0.05,
                          .eval_mae = 0.95,
                          .eval_mae_std = 0.04};
    if (sr_model_save(&m, &meta, prec, path, &d)) fail_msg("%s save: %s", algo, d.msg);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

/* ---- answers ---- */

static void h_add(XXH3_state_t *h, const void *p, size_t n) {
    XXH3_64bits_update(h, p, n);
}
static void h_u64(XXH3_state_t *h, uint64_t v) {
    h_add(h, &v, sizeof v);
}
static void h_f64(XXH3_state_t *h, double v) {
    h_add(h, &v, sizeof v);
}
static void h_str(XXH3_state_t *h, const char *s) {
    h_u64(h, s ? strlen(s) : UINT64_MAX);
    if (s) h_add(h, s, strlen(s));
}
static void h_strtab(XXH3_state_t *h, const sr_strtab *t) {
    h_u64(h, t->n);
    for (uint32_t i = 0; i < t->n; i++) {
        sr_str s = sr_strtab_get(t, i);
        h_u64(h, s.n);
        h_add(h, s.p, s.n);
    }
}

/* Everything a dataset answers: counts, names, both CSR indexes, values and times. */
static uint64_t dataset_answers(const sr_dataset *ds) {
    XXH3_state_t *h = XXH3_createState();
    assert_non_null(h);
    XXH3_64bits_reset(h);
    h_u64(h, ds->kind), h_u64(h, ds->n_users), h_u64(h, ds->n_artists);
    h_u64(h, ds->n_songs), h_u64(h, ds->n_pairs), h_u64(h, ds->n_listens);
    h_u64(h, (uint64_t)ds->ts_min), h_u64(h, (uint64_t)ds->ts_max);
    h_str(h, ds->meta_json);
    h_strtab(h, &ds->users), h_strtab(h, &ds->artists), h_strtab(h, &ds->tracks);
    for (uint32_t u = 0; u < ds->n_users; u++)
        for (uint64_t q = ds->user_ptr[u]; q < ds->user_ptr[u + 1]; q++) {
            h_u64(h, ds->pair_song[q]), h_f64(h, ds->pair_value[q]);
            h_u64(h, ds->pair_first[q]), h_u64(h, ds->pair_last[q]);
        }
    for (uint32_t s = 0; s < ds->n_songs; s++) {
        sr_str a = sr_dataset_artist(ds, ds->song_artist[s]);
        h_add(h, a.p, a.n);
        h_add(h, ds->song_mbid + (size_t)s * 16, 16);
        for (uint64_t q = ds->song_ptr[s]; q < ds->song_ptr[s + 1]; q++)
            h_u64(h, ds->song_user[q]), h_f64(h, ds->pair_value[ds->song_pair[q]]);
    }
    h_u64(h, ds->n_events);
    for (uint32_t u = 0; ds->event_ptr && u < ds->n_users; u++)
        for (uint64_t q = ds->event_ptr[u]; q < ds->event_ptr[u + 1]; q++)
            h_u64(h, ds->event_pair[q]), h_u64(h, ds->event_time[q]);
    uint64_t v = XXH3_64bits_digest(h);
    XXH3_freeState(h);
    return v;
}

/* A new listener of three known songs (the first, the middle and the last known one)
 * folded in: estimates, scores over the catalog, explanations and similar songs. */
static void newuser_answers(XXH3_state_t *h, const sr_model_file *f) {
    const sr_model_ops *ops = f->model.ops;
    const sr_trainset *ts = &f->ts;
    if (!ops->fold_in) return;
    /* the first known item at or after 0, n_items / 2 and n_items - 1, ascending */
    const uint32_t from[3] = {0, ts->n_items / 2, ts->n_items ? ts->n_items - 1 : 0};
    uint32_t items[3];
    size_t n = 0;
    for (int c = 0; c < 3; c++) {
        uint32_t i = from[c];
        while (i < ts->n_items && !sr_trainset_knows_item(ts, i)) i++;
        if (i < ts->n_items && (n == 0 || i > items[n - 1])) items[n++] = i;
    }
    if (n == 0) return;
    const float r[3] = {(float)ts->hi, (float)((ts->lo + ts->hi) / 2), (float)ts->lo};
    sr_newuser nu = {.n = n, .items = items, .r = r};
    sr_diag d = {{0}};
    sr_err e = ops->fold_in(f->model.state, ts, f->model.p, &nu, &d);
    h_u64(h, (uint64_t)e);
    if (e) return;
    float *out = calloc(ts->n_items + 1, sizeof *out);
    double *w = calloc(n, sizeof *w);
    assert_true(out && w);
    for (uint32_t i = 0; i < ts->n_items; i++) {
        double est = 0;
        bool ok = ops->estimate_new(f->model.state, ts, &nu, i, &est);
        h_u64(h, ok), h_f64(h, ok ? est : 0);
        if (ops->explain && ops->explain(f->model.state, ts, &nu, i, w))
            for (size_t k = 0; k < n; k++) h_f64(h, w[k]);
    }
    if (ops->score_new && ts->n_items) {
        ops->score_new(f->model.state, ts, &nu, out, 0, ts->n_items);
        h_add(h, out, ts->n_items * sizeof *out);
    }
    if (ops->similar && ts->n_items && ops->similar(f->model.state, ts, items[0], out))
        h_add(h, out, ts->n_items * sizeof *out);
    ops->user_free(nu.state);
    free(out);
    free(w);
}

/* Everything a model file answers: what it is, its catalog and every prediction. */
static uint64_t model_answers(const sr_model_file *f) {
    XXH3_state_t *h = XXH3_createState();
    assert_non_null(h);
    XXH3_64bits_reset(h);
    const sr_trainset *ts = &f->ts;
    h_str(h, f->model.ops->name), h_str(h, f->params), h_u64(h, f->precision);
    h_str(h, f->meta.data_file), h_str(h, f->meta.data_meta), h_str(h, f->meta.transform);
    h_u64(h, f->meta.created), h_u64(h, f->meta.eval_folds), h_f64(h, f->meta.eval_rmse);
    h_f64(h, f->meta.eval_rmse_std), h_f64(h, f->meta.eval_mae), h_f64(h, f->meta.eval_mae_std);
    h_u64(h, ts->n_users), h_u64(h, ts->n_items), h_u64(h, ts->n);
    h_f64(h, ts->global_mean), h_f64(h, ts->lo), h_f64(h, ts->hi);
    h_strtab(h, &f->meta.users), h_strtab(h, &f->meta.artists), h_strtab(h, &f->meta.tracks);
    for (uint32_t i = 0; i < f->meta.tracks.n; i++) {
        sr_str a = sr_strtab_get(&f->meta.artists, f->meta.item_artist[i]);
        h_add(h, a.p, a.n);
        if (f->meta.item_mbid) h_add(h, f->meta.item_mbid + (size_t)i * 16, 16);
    }
    for (uint32_t u = 0; u <= ts->n_users + 1; u++)
        for (uint32_t i = 0; i <= ts->n_items + 1; i++) h_f64(h, sr_model_predict(&f->model, u, i));
    newuser_answers(h, f);
    uint64_t v = XXH3_64bits_digest(h);
    XXH3_freeState(h);
    return v;
}

/* Loads path as t's kind; on success *answers gets the hash of its answers. */
static sr_err load(const target *t, const char *path, uint64_t *answers, sr_diag *d) {
    if (t->dataset) {
        sr_dataset *ds = NULL;
        sr_err e = sr_dataset_load(path, &ds, d);
        if (!e) *answers = dataset_answers(ds);
        sr_dataset_free(ds);
        return e;
    }
    sr_model_file *f = NULL;
    sr_err e = sr_model_load(path, &f, d);
    if (!e) *answers = model_answers(f);
    sr_model_file_free(f);
    return e;
}

/* ---- checking one damaged copy ---- */

/* Kinds of damage; each allows its kind of refusal. */
enum { ALLOW_BAD_FILE, ALLOW_VERSION, ALLOW_ANY_REFUSAL, ALLOW_LENGTH };

/* Writes b (n bytes) as the damaged copy and loads it: a refusal must be of the allowed
 * kind with a message naming the file; an acceptance must answer as the original (unless
 * deep: then answering at all is enough). what says what was done, for the failure. */
static void try_copy(target *t, const unsigned char *b, size_t n, int allow, bool deep,
                     const char *what) {
    write_bytes(work_path, b, n);
    sr_diag d = {{0}};
    uint64_t answers = 0;
    sr_err e = load(t, work_path, &answers, &d);
    if (e == SR_OK) {
        if (!deep && answers != t->answers)
            fail_msg("%s: %s: accepted, but answers differ from the undamaged file's", t->name,
                     what);
        t->accepted[allow]++;
        return;
    }
    t->refused[allow]++;
    bool kind_ok;
    if (allow == ALLOW_VERSION)
        kind_ok = e == SR_E_VERSION && strstr(d.msg, "version");
    else if (allow == ALLOW_BAD_FILE || allow == ALLOW_LENGTH)
        kind_ok = e == SR_E_CORRUPT || e == SR_E_TRUNCATED || e == SR_E_VERSION;
    else /* behind a valid checksum: any error but an internal one or an I/O one */
        kind_ok = e != SR_E_INTERNAL && e != SR_E_IO;
    if (!kind_ok || !d.msg[0] || !strstr(d.msg, work_path))
        fail_msg("%s: %s: refused with %s \"%s\"", t->name, what, sr_err_name(e), d.msg);
}

/* The region [lo, hi) a flip lands in: the header, the table or the rest. */
static void pick_region(const target *t, sr_rng *rng, uint64_t *lo, uint64_t *hi) {
    uint64_t r = sr_rng_below(rng, 4);
    if (r == 0)
        *lo = 0, *hi = SR_SECTFILE_HEADER;
    else if (r == 1)
        *lo = SR_SECTFILE_HEADER, *hi = t->table_end;
    else
        *lo = SR_SECTFILE_HEADER, *hi = t->size;
}

/* Damages 1..8 bytes of b in [lo, hi): XOR with a non-zero byte, either at scattered
 * places or as one run. Describes the damage into what. */
static void flip(unsigned char *b, uint64_t lo, uint64_t hi, sr_rng *rng, char *what, size_t cap) {
    int k = 1 + (int)sr_rng_below(rng, 8);
    bool run = sr_rng_bernoulli(rng, 0.5);
    uint64_t at = lo + sr_rng_below(rng, hi - lo);
    size_t w = (size_t)snprintf(what, cap, "flip");
    for (int j = 0; j < k; j++) {
        uint64_t o = run ? at + (uint64_t)j : lo + sr_rng_below(rng, hi - lo);
        if (o >= hi) break;
        unsigned char x = (unsigned char)(1 + sr_rng_below(rng, 255));
        b[o] ^= x;
        if (w < cap)
            w += (size_t)snprintf(what + w, cap - w, " @%llu^%02x", (unsigned long long)o, x);
    }
}

static void damage_flips(target *t, sr_rng *rng) {
    unsigned char *b = malloc(t->size);
    assert_non_null(b);
    char what[256];
    for (int it = 0; it < N_FLIPS; it++) {
        memcpy(b, t->orig, t->size);
        uint64_t lo, hi;
        pick_region(t, rng, &lo, &hi);
        flip(b, lo, hi, rng, what, sizeof what);
        try_copy(t, b, t->size, ALLOW_BAD_FILE, false, what);
    }
    free(b);
}

static void damage_lengths(target *t, sr_rng *rng) {
    char what[64];
    for (size_t n = 0; n < 128 && n < t->size; n++) {
        snprintf(what, sizeof what, "truncated to %zu", n);
        try_copy(t, t->orig, n, ALLOW_LENGTH, false, what);
    }
    for (int it = 0; it < N_TRUNCS; it++) {
        size_t n = (size_t)sr_rng_below(rng, t->size);
        snprintf(what, sizeof what, "truncated to %zu", n);
        try_copy(t, t->orig, n, ALLOW_LENGTH, false, what);
    }
    unsigned char *b = malloc(t->size + 256);
    assert_non_null(b);
    memcpy(b, t->orig, t->size);
    for (int it = 0; it < N_APPENDS; it++) {
        size_t k = 1 + (size_t)sr_rng_below(rng, 256);
        for (size_t j = 0; j < k; j++) b[t->size + j] = (unsigned char)sr_rng_below(rng, 256);
        if (it == 0) memset(b + t->size, 0, k); /* zeros, as a filesystem would pad */
        snprintf(what, sizeof what, "%zu bytes appended", k);
        try_copy(t, b, t->size + k, ALLOW_LENGTH, false, what);
    }
    free(b);
}

static void damage_version(target *t, sr_rng *rng) {
    unsigned char *b = malloc(t->size);
    assert_non_null(b);
    memcpy(b, t->orig, t->size);
    uint32_t v = sr_get32(t->orig + 8);
    char what[64];
    for (int it = 0; it < N_VERSIONS; it++) {
        static const uint32_t fixed[] = {0, 1, 2, 3, 0xffffffffu, 0x01000000u, 0x02000000u};
        uint32_t nv = it < 7    ? fixed[it]
                      : it < 12 ? v + (uint32_t)(it - 6)
                                : (uint32_t)sr_rng_u64(rng);
        if (nv == v) continue;
        sr_put32(b + 8, nv);
        snprintf(what, sizeof what, "version %u -> %u", v, nv);
        try_copy(t, b, t->size, ALLOW_VERSION, false, what);
    }
    free(b);
}

/* Damage after the header with the checksum made to match again. */
static void damage_deep(target *t, sr_rng *rng) {
    unsigned char *b = malloc(t->size);
    assert_non_null(b);
    char what[256];
    for (int it = 0; it < N_DEEP; it++) {
        memcpy(b, t->orig, t->size);
        uint64_t lo = SR_SECTFILE_HEADER, hi = sr_rng_bernoulli(rng, 0.5) ? t->table_end : t->size;
        flip(b, lo, hi, rng, what, sizeof what);
        sr_put64(b + 40, XXH3_64bits(b + SR_SECTFILE_HEADER, t->size - SR_SECTFILE_HEADER));
        try_copy(t, b, t->size, ALLOW_ANY_REFUSAL, true, what);
    }
    free(b);
}

/* ---- set-up ---- */

static target targets[8];
static size_t n_targets;

static void add_target(const char *name, bool dataset, const char *path) {
    target *t = &targets[n_targets++];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dataset = dataset;
    snprintf(t->path, sizeof t->path, "%s", path);
    t->orig = read_bytes(path, &t->size);
    sr_diag d = {{0}};
    if (load(t, path, &t->answers, &d)) fail_msg("%s: the undamaged file: %s", name, d.msg);
    t->entry_size = dataset ? 32 : 64;
    t->table_end = sr_get64(t->orig + 32) + (uint64_t)sr_get32(t->orig + 24) * t->entry_size;
    assert_true(t->table_end <= t->size);
}

static int setup(void **state) {
    (void)state;
    char dir[64], path[128];
    snprintf(dir, sizeof dir, "/tmp/test_corrupt_%d", (int)getpid());
    snprintf(work_path, sizeof work_path, "%s_damaged", dir);
    sr_dataset *ds = make_dataset();
    assert_true(ds->n_events == 500);
    snprintf(path, sizeof path, "%s.srd", dir);
    sr_diag d = {{0}};
    if (sr_dataset_save(ds, path, &d)) fail_msg("save: %s", d.msg);
    add_target("dataset", true, path);
    static const char *const svd[] = {"n_factors=8", "n_epochs=5", NULL};
    static const char *const als[] = {"factors=6", "iterations=3", NULL};
    static const char *const iknn[] = {"k=10", NULL};
    static const struct {
        const char *name, *algo;
        const char *const *params;
        sr_srm_precision prec;
        bool cv;
    } models[] = {
        {"svd-f32", "svd", svd, SR_SRM_PREC_F32, true},
        {"svd-f16", "svd", svd, SR_SRM_PREC_F16, false},
        {"knn_basic", "knn_basic", NULL, SR_SRM_PREC_F32, false},
        {"als", "als", als, SR_SRM_PREC_F16, false},
        {"item_knn", "itemknn", iknn, SR_SRM_PREC_F32, false},
        {"popularity", "popularity", NULL, SR_SRM_PREC_F32, false},
        {"sessions", "sessions", NULL, SR_SRM_PREC_F32, false},
    };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        snprintf(path, sizeof path, "%s_%s.srm", dir, models[i].name);
        make_model(ds, models[i].algo, models[i].params, models[i].prec, models[i].cv, path);
        add_target(models[i].name, false, path);
    }
    sr_dataset_free(ds);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (size_t i = 0; i < n_targets; i++) {
        target *t = &targets[i];
        print_message("%-10s %6zu bytes, refused/accepted: flips %lu/%lu, lengths %lu/%lu, "
                      "versions %lu/%lu, behind the checksum %lu/%lu\n",
                      t->name, t->size, t->refused[ALLOW_BAD_FILE], t->accepted[ALLOW_BAD_FILE],
                      t->refused[ALLOW_LENGTH], t->accepted[ALLOW_LENGTH],
                      t->refused[ALLOW_VERSION], t->accepted[ALLOW_VERSION],
                      t->refused[ALLOW_ANY_REFUSAL], t->accepted[ALLOW_ANY_REFUSAL]);
        unlink(t->path);
        free(t->orig);
    }
    unlink(work_path);
    return 0;
}

/* ---- tests ---- */

static void run_all(void (*fn)(target *, sr_rng *), uint64_t seed) {
    for (size_t i = 0; i < n_targets; i++) {
        sr_rng rng;
        sr_rng_seed_stream(&rng, seed, i);
        fn(&targets[i], &rng);
    }
}

static void test_flips(void **state) {
    (void)state;
    run_all(damage_flips, 1);
}

static void test_lengths(void **state) {
    (void)state;
    run_all(damage_lengths, 2);
}

static void test_versions(void **state) {
    (void)state;
    run_all(damage_version, 3);
}

static void test_behind_checksum(void **state) {
    (void)state;
    run_all(damage_deep, 4);
}

/* The damaged-header cases by hand, one byte each, with the expected error: the
 * reserved bytes and the table offset are checked, not only the checksummed part. */
static void test_header_fields(void **state) {
    (void)state;
    for (size_t i = 0; i < n_targets; i++) {
        target *t = &targets[i];
        unsigned char *b = malloc(t->size);
        assert_non_null(b);
        static const struct {
            size_t at;
            sr_err want;
        } cases[] = {{0, SR_E_CORRUPT},  {7, SR_E_CORRUPT},    {8, SR_E_VERSION},
                     {13, SR_E_CORRUPT}, {20, SR_E_TRUNCATED}, {24, SR_E_CORRUPT},
                     {28, SR_E_CORRUPT}, {32, SR_E_CORRUPT},   {40, SR_E_CORRUPT},
                     {47, SR_E_CORRUPT}, {48, SR_E_CORRUPT},   {63, SR_E_CORRUPT}};
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            if (cases[c].at == 24 && t->dataset) continue; /* the .srd count: see flips */
            memcpy(b, t->orig, t->size);
            b[cases[c].at] ^= 0x01;
            write_bytes(work_path, b, t->size);
            sr_diag d = {{0}};
            uint64_t answers;
            sr_err e = load(t, work_path, &answers, &d);
            if (e != cases[c].want)
                fail_msg("%s: byte %zu ^ 1: %s \"%s\", wanted %s", t->name, cases[c].at,
                         sr_err_name(e), d.msg, sr_err_name(cases[c].want));
        }
        /* the other byte order: a refusal that says so */
        memcpy(b, t->orig, t->size);
        sr_put32(b + 12, __builtin_bswap32(SR_SECTFILE_ENDIAN));
        write_bytes(work_path, b, t->size);
        sr_diag d = {{0}};
        uint64_t answers;
        assert_int_equal(load(t, work_path, &answers, &d), SR_E_VERSION);
        assert_non_null(strstr(d.msg, "byte order"));
        free(b);
    }
}

/* The section count, the one header field a reader cannot check against a fixed value:
 * off by 1..3 either way. A model file is always refused (its sections must lie where
 * the writer puts them); a dataset is refused, or loads with the same answers. */
static void test_section_count(void **state) {
    (void)state;
    for (size_t i = 0; i < n_targets; i++) {
        target *t = &targets[i];
        unsigned char *b = malloc(t->size);
        assert_non_null(b);
        memcpy(b, t->orig, t->size);
        uint32_t n = sr_get32(t->orig + 24);
        char what[64];
        for (int delta = -3; delta <= 3; delta++) {
            if (delta == 0) continue;
            sr_put32(b + 24, n + (uint32_t)delta);
            snprintf(what, sizeof what, "section count %u -> %u", n, n + (uint32_t)delta);
            unsigned long before = t->refused[ALLOW_BAD_FILE];
            try_copy(t, b, t->size, ALLOW_BAD_FILE, false, what);
            if (!t->dataset && t->refused[ALLOW_BAD_FILE] == before)
                fail_msg("%s: %s: accepted", t->name, what);
        }
        free(b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_fields), cmocka_unit_test(test_section_count),
        cmocka_unit_test(test_versions),      cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_flips),         cmocka_unit_test(test_behind_checksum),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
