/* Unit tests for model files (models/srm.h, models/model_file.h): every registered model
 * survives save -> load with the same predictions, float16 files are half the size and
 * predict within a tolerance, and damaged files are refused with the right error.
 *
 * The data: 30 users x 25 items, each pair rated with probability 0.4 (seeded), ratings
 * 1..5; user 30 and item 25 exist in the id space without ratings (unknown).
 *
 * Tolerance for float16: a stored value keeps 11 significant bits (relative error <=
 * 2^-11 ~ 4.9e-4). An SVD estimate's dot product of 100 factors of size ~0.1 then moves
 * by at most ~100 * 0.01 * 1e-3 = 1e-3; a k-NN estimate is a similarity-weighted mean
 * of ratings in 1..5, which a relative error of 5e-4 on each weight moves by < 5 * 2 *
 * 5e-4 = 5e-3. The test allows 0.02.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "models/model.h"
#include "models/model_file.h"
#include "models/srm.h"
#include "util/mem.h"
#include "util/rng.h"

#define NU      31 /* user 30 unknown */
#define NI      26 /* item 25 unknown */
#define F16_TOL 0.02

static sr_trainset *gen_ts(void) {
    uint32_t u[NU * NI], i[NU * NI];
    float r[NU * NI];
    size_t n = 0;
    sr_rng rng;
    sr_rng_seed(&rng, 7);
    for (uint32_t a = 0; a < NU - 1; a++)
        for (uint32_t b = 0; b < NI - 1; b++)
            if (sr_rng_double(&rng) < 0.4) {
                u[n] = a, i[n] = b;
                r[n++] = (float)(1 + (a * 7 + b * 3 + (uint32_t)(sr_rng_double(&rng) * 3)) % 5);
            }
    sr_ratings *rs = NULL;
    sr_trainset *ts = NULL;
    assert_int_equal(sr_ratings_new(NU, NI, n, u, i, r, 1, 5, &rs), SR_OK);
    assert_int_equal(sr_trainset_new(rs, NULL, &ts), SR_OK);
    sr_ratings_free(rs);
    return ts;
}

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "/tmp/test_srm_%d_%s.srm", (int)getpid(), tag);
}

static uint64_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static const sr_model_meta meta0 = {
    .data_file = "test.srd", .data_meta = "{}", .transform = "raw", .created = 1};

static void fit(sr_model *m, const sr_model_ops *ops, const sr_trainset *ts) {
    sr_fit_ctx c = {.seed = 3, .threads = 1};
    sr_diag d = {{0}};
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    if (sr_params_index(ops, "n_epochs") >= 0) p[sr_params_index(ops, "n_epochs")] = 5;
    if (sr_model_fit(m, ops, p, ts, &c, &d)) fail_msg("%s: %s", ops->name, d.msg);
}

/* Saves m at prec, loads it back and compares predictions over every (u, i), unknown
 * ones included, within tol. */
static void roundtrip(const sr_model *m, sr_srm_precision prec, double tol, uint64_t *size) {
    char path[128];
    tmp_path(path, sizeof path, m->ops->name);
    sr_diag d = {{0}};
    if (sr_model_save(m, &meta0, prec, path, &d)) fail_msg("%s save: %s", m->ops->name, d.msg);
    if (size) *size = file_size(path);
    sr_model_file *f = NULL;
    if (sr_model_load(path, &f, &d)) fail_msg("%s load: %s", m->ops->name, d.msg);
    assert_ptr_equal(f->model.ops, m->ops);
    assert_int_equal(f->precision, m->ops == sr_model_find("svd") ? prec : f->precision);
    assert_int_equal(f->ts.n, m->ts->n);
    assert_true(f->ts.global_mean == m->ts->global_mean);
    for (uint32_t u = 0; u < NU + 1; u++)
        for (uint32_t i = 0; i < NI + 1; i++) {
            double a = sr_model_predict(m, u, i), b = sr_model_predict(&f->model, u, i);
            if (tol == 0 ? a != b : fabs(a - b) > tol)
                fail_msg("%s: (%u, %u) %.17g before, %.17g after", m->ops->name, u, i, a, b);
        }
    sr_model_file_free(f);
    unlink(path);
}

static void test_every_model(void **state) {
    (void)state;
    sr_trainset *ts = gen_ts();
    for (size_t k = 0; k < sr_n_models; k++) {
        if (sr_models[k]->needs_events) continue; /* test_sessions: its own round trips */
        sr_model m;
        fit(&m, sr_models[k], ts);
        roundtrip(&m, SR_SRM_PREC_F32, 0, NULL);
        roundtrip(&m, SR_SRM_PREC_F16, F16_TOL, NULL);
        sr_model_deinit(&m);
    }
    sr_trainset_free(ts);
}

static void test_f16_half(void **state) {
    (void)state;
    sr_trainset *ts = gen_ts();
    sr_model m;
    fit(&m, sr_model_find("svd"), ts);
    uint64_t s32, s16;
    roundtrip(&m, SR_SRM_PREC_F32, 0, &s32);
    roundtrip(&m, SR_SRM_PREC_F16, F16_TOL, &s16);
    /* factors dominate: (30 + 26) x 100 floats (rows stored unpadded) in f32 against as
     * many halves in f16 — half the bytes; the rest (biases, pointers, names) does not
     * shrink and is small */
    assert_true((double)s16 < 0.56 * (double)s32);
    assert_true((double)s16 > 0.48 * (double)s32);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

static void test_f16_convert(void **state) {
    (void)state;
    const float xs[] = {0.0f, -0.0f, 1.0f, -2.5f, 0.1f, 65504.0f, 6.1e-5f, 3e-7f, 1e-9f};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        float y = sr_f16_to_f32(sr_f32_to_f16(xs[i]));
        assert_true(fabsf(y - xs[i]) <= fabsf(xs[i]) * 4.9e-4f + 6e-8f);
    }
    assert_true(isinf(sr_f16_to_f32(sr_f32_to_f16(1e6f))));
    assert_int_equal(sr_f32_to_f16(1.0f), 0x3c00);
}

/* Every finite binary16 through a file: the loader's conversion (F16C where the CPU has
 * it) agrees bit for bit with the portable sr_f16_to_f32. */
static void test_f16_all_values(void **state) {
    (void)state;
    static uint16_t h[65536];
    for (uint32_t i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    char path[128];
    tmp_path(path, sizeof path, "f16all");
    sr_diag d = {{0}};
    sr_srm_writer *w = sr_srm_writer_new(SR_SRM_PREC_F16);
    assert_non_null(w);
    sr_srm_put(w, "h", SR_SRM_F16, h, 65536);
    assert_int_equal(sr_srm_write(w, path, &d), SR_OK);
    sr_srm_writer_free(w);
    sr_srm *r = NULL;
    assert_int_equal(sr_srm_open(path, &r, &d), SR_OK);
    const float *f;
    assert_int_equal(sr_srm_get_factors(r, "h", 65536, 1, 1, &f, &d), SR_OK);
    for (uint32_t i = 0; i < 65536; i++) {
        if (((i >> 10) & 0x1f) == 0x1f) continue; /* inf, NaN */
        float want = sr_f16_to_f32((uint16_t)i);
        assert_memory_equal(&f[i], &want, sizeof want);
        assert_int_equal(sr_f32_to_f16(want), i); /* and back */
    }
    assert_int_equal(sr_srm_get_factors(r, "h", 65535, 1, 1, &f, &d), SR_E_CORRUPT);
    assert_int_equal(sr_srm_get_factors(r, "nope", 1, 1, 1, &f, &d), SR_E_CORRUPT);
    sr_srm_close(r);
    unlink(path);
}

/* Padded factor rows: f32 keeps the padding (used in place), f16 drops it on disk and
 * the loader puts it back as zeros, 64-byte aligned. 3 rows, k = 5, stride 16. */
static void test_factor_padding(void **state) {
    (void)state;
    static float m[3 * 16];
    for (int r = 0; r < 3; r++)
        for (int f = 0; f < 5; f++) m[r * 16 + f] = (float)(r * 10 + f) * 0.5f;
    for (int prec = 0; prec < 2; prec++) {
        char path[128];
        tmp_path(path, sizeof path, prec ? "pad16" : "pad32");
        sr_diag d = {{0}};
        sr_srm_writer *w = sr_srm_writer_new(prec ? SR_SRM_PREC_F16 : SR_SRM_PREC_F32);
        assert_non_null(w);
        sr_srm_put_factors(w, "q", m, 3, 5, 16);
        assert_int_equal(sr_srm_write(w, path, &d), SR_OK);
        sr_srm_writer_free(w);
        sr_srm *r = NULL;
        assert_int_equal(sr_srm_open(path, &r, &d), SR_OK);
        const float *f;
        assert_int_equal(sr_srm_get_factors(r, "q", 3, 5, 16, &f, &d), SR_OK);
        assert_int_equal((uintptr_t)f % 64, 0);
        assert_memory_equal(f, m, sizeof m); /* halves of x.5 values are exact */
        assert_int_equal(sr_srm_get_factors(r, "q", 4, 5, 16, &f, &d), SR_E_CORRUPT);
        sr_srm_close(r);
        unlink(path);
    }
}

/* Writes a copy of src with a change; returns the load error. */
static sr_err load_damaged(const char *src, long cut, long at, unsigned char x, sr_diag *d) {
    char path[128];
    tmp_path(path, sizeof path, "damaged");
    FILE *in = fopen(src, "rb");
    assert_non_null(in);
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    if (cut >= 0) n = (size_t)cut;
    if (at >= 0) buf[at] ^= x;
    FILE *o = fopen(path, "wb");
    assert_non_null(o);
    fwrite(buf, 1, n, o);
    fclose(o);
    sr_model_file *f = NULL;
    sr_err e = sr_model_load(path, &f, d);
    assert_null(f);
    unlink(path);
    return e;
}

static void test_damaged(void **state) {
    (void)state;
    sr_trainset *ts = gen_ts();
    sr_model m;
    fit(&m, sr_model_find("svd"), ts);
    char path[128];
    tmp_path(path, sizeof path, "good");
    sr_diag d = {{0}};
    assert_int_equal(sr_model_save(&m, &meta0, SR_SRM_PREC_F32, path, &d), SR_OK);
    long size = (long)file_size(path);
    assert_int_equal(load_damaged(path, size / 2, -1, 0, &d), SR_E_TRUNCATED);
    assert_non_null(strstr(d.msg, "truncated"));
    assert_int_equal(load_damaged(path, 40, -1, 0, &d), SR_E_TRUNCATED);
    assert_int_equal(load_damaged(path, -1, size / 2, 0x10, &d), SR_E_CORRUPT);
    assert_non_null(strstr(d.msg, "checksum"));
    assert_int_equal(load_damaged(path, -1, 8, 0x02, &d), SR_E_VERSION); /* version 3 */
    assert_non_null(strstr(d.msg, "version"));
    assert_int_equal(load_damaged(path, -1, 0, 0x01, &d), SR_E_CORRUPT);
    assert_non_null(strstr(d.msg, "magic"));
    assert_int_equal(load_damaged(path, 3, -1, 0, &d), SR_E_CORRUPT);
    unlink(path);
    sr_model_file *f = NULL;
    assert_int_equal(sr_model_load("/nonexistent/x.srm", &f, &d), SR_E_IO);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
}

/* Every allocation of save and load failing in turn: SR_E_NOMEM, nothing leaked (ASan). */
static void test_alloc_failures(void **state) {
    (void)state;
    sr_trainset *ts = gen_ts();
    const char *names[] = {"knn_with_zscore", "svd", "co_clustering"};
    for (size_t k = 0; k < 3; k++) {
        sr_model m;
        fit(&m, sr_model_find(names[k]), ts);
        char path[128];
        tmp_path(path, sizeof path, "nomem");
        sr_diag d = {{0}};
        for (long n = 0;; n++) {
            sr_mem_fail_after(n);
            sr_err e = sr_model_save(&m, &meta0, SR_SRM_PREC_F16, path, &d);
            sr_mem_fail_after(-1);
            if (e == SR_OK) break;
            assert_int_equal(e, SR_E_NOMEM);
        }
        for (long n = 0;; n++) {
            sr_model_file *f = NULL;
            sr_mem_fail_after(n);
            sr_err e = sr_model_load(path, &f, &d);
            sr_mem_fail_after(-1);
            if (e == SR_OK) {
                sr_model_file_free(f);
                break;
            }
            assert_int_equal(e, SR_E_NOMEM);
            assert_null(f);
        }
        unlink(path);
        sr_model_deinit(&m);
    }
    sr_trainset_free(ts);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_convert),    cmocka_unit_test(test_f16_all_values),
        cmocka_unit_test(test_factor_padding), cmocka_unit_test(test_every_model),
        cmocka_unit_test(test_f16_half),       cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
