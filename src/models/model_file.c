/* Model files (model_file.h): the sections around a model's own, and their checks.
 *
 * Section names: "algo", "params" (text), "param_values" (f64, n_params), "scale" (f64,
 * 2), "global_mean", "n_users", "n_items", "n_ratings", "created", "data.file",
 * "data.meta", "data.transform", "eval.cv" (f64: folds, RMSE mean and std, MAE mean and std;
 * only after `train --cv`), "cat.users.off"/"cat.users", "cat.artists.off"/
 * "cat.artists", "cat.tracks.off"/"cat.tracks" (string tables), "cat.item_artist" (u32),
 * "cat.item_mbid" (u8, 16 per item; only when some item has one), "ts.user_ptr", "ts.item_ptr" and,
 * as ops->ts_keep asks, "ts.ur_item", "ts.ur_r", "ts.ir_user", "ts.ir_r" — then the model's "m.*".
 */
#include "models/model_file.h"

#include <math.h>
#include <string.h>

#include "util/csr.h"
#include "util/mem.h"

static void put_strtab(sr_srm_writer *w, const char *off, const char *data, const sr_strtab *t) {
    if (!t->n) return;
    sr_srm_put(w, off, SR_SRM_U64, t->off, (uint64_t)t->n + 1);
    sr_srm_put(w, data, SR_SRM_U8, t->data, t->off[t->n]);
}

sr_err sr_model_save(const sr_model *m, const sr_model_meta *meta, sr_srm_precision prec,
                     const char *path, sr_diag *d) {
    const sr_model_ops *ops = m->ops;
    const sr_trainset *ts = m->ts;
    if (meta->users.n && meta->users.n != ts->n_users)
        return sr_diag_set(d, SR_E_INTERNAL, "catalog has %u users, model %u", meta->users.n,
                           ts->n_users);
    if (meta->tracks.n && (meta->tracks.n != ts->n_items || !meta->item_artist))
        return sr_diag_set(d, SR_E_INTERNAL, "catalog has %u items, model %u", meta->tracks.n,
                           ts->n_items);
    sr_srm_writer *w = sr_srm_writer_new(prec);
    if (!w) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    char params[4096];
    sr_params_format(ops, m->p, params, sizeof params);
    double scale[2] = {ts->lo, ts->hi};
    sr_srm_put_str(w, "algo", ops->name);
    sr_srm_put_str(w, "params", params);
    sr_srm_put(w, "param_values", SR_SRM_F64, m->p, ops->n_params);
    sr_srm_put(w, "scale", SR_SRM_F64, scale, 2);
    sr_srm_put_f64(w, "global_mean", ts->global_mean);
    sr_srm_put_u64(w, "n_users", ts->n_users);
    sr_srm_put_u64(w, "n_items", ts->n_items);
    sr_srm_put_u64(w, "n_ratings", ts->n);
    sr_srm_put_u64(w, "created", meta->created);
    sr_srm_put_str(w, "data.file", meta->data_file);
    sr_srm_put_str(w, "data.meta", meta->data_meta ? meta->data_meta : "{}");
    sr_srm_put_str(w, "data.transform", meta->transform);
    if (meta->eval_folds) {
        double *ev = sr_srm_writer_alloc(w, 5 * sizeof(double));
        if (ev) {
            ev[0] = meta->eval_folds, ev[1] = meta->eval_rmse, ev[2] = meta->eval_rmse_std;
            ev[3] = meta->eval_mae, ev[4] = meta->eval_mae_std;
            sr_srm_put(w, "eval.cv", SR_SRM_F64, ev, 5);
        }
    }
    put_strtab(w, "cat.users.off", "cat.users", &meta->users);
    if (meta->tracks.n) {
        put_strtab(w, "cat.artists.off", "cat.artists", &meta->artists);
        put_strtab(w, "cat.tracks.off", "cat.tracks", &meta->tracks);
        sr_srm_put(w, "cat.item_artist", SR_SRM_U32, meta->item_artist, ts->n_items);
        bool any = false;
        for (uint64_t q = 0; meta->item_mbid && q < (uint64_t)ts->n_items * 16 && !any; q++)
            any = meta->item_mbid[q] != 0;
        if (any)
            sr_srm_put(w, "cat.item_mbid", SR_SRM_U8, meta->item_mbid, (uint64_t)ts->n_items * 16);
    }
    sr_srm_put(w, "ts.user_ptr", SR_SRM_U64, ts->user_ptr, (uint64_t)ts->n_users + 1);
    sr_srm_put(w, "ts.item_ptr", SR_SRM_U64, ts->item_ptr, (uint64_t)ts->n_items + 1);
    if (ops->ts_keep & SR_TS_BY_USER) {
        sr_srm_put(w, "ts.ur_item", SR_SRM_U32, ts->ur_item, ts->n);
        sr_srm_put(w, "ts.ur_r", SR_SRM_F32, ts->ur_r, ts->n);
    }
    if (ops->ts_keep & SR_TS_BY_ITEM) {
        sr_srm_put(w, "ts.ir_user", SR_SRM_U32, ts->ir_user, ts->n);
        sr_srm_put(w, "ts.ir_r", SR_SRM_F32, ts->ir_r, ts->n);
    }
    ops->save(m->state, ts, w);
    sr_err e = sr_srm_write(w, path, d);
    sr_srm_writer_free(w);
    return e;
}

void sr_model_file_free(sr_model_file *f) {
    if (!f) return;
    sr_model_deinit(&f->model);
    sr_srm_close(f->srm);
    sr_free(f);
}

/* A string table of n strings from two sections, or none (n = 0) when absent. */
static sr_err get_strtab(sr_srm *r, const char *off, const char *data, uint32_t n, sr_strtab *t,
                         sr_diag *d) {
    memset(t, 0, sizeof *t);
    if (!sr_srm_has(r, off)) return SR_OK;
    const void *o, *s;
    uint64_t len;
    sr_err e = sr_srm_get(r, off, SR_SRM_U64, (uint64_t)n + 1, &o, NULL, d);
    if (!e) e = sr_srm_get(r, data, SR_SRM_U8, UINT64_MAX, &s, &len, d);
    if (e) return e;
    if (!sr_csr_ptr_ok(o, n, len))
        return sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt string table '%s'", sr_srm_path(r), off);
    *t = (sr_strtab){n, o, s};
    return SR_OK;
}

/* Checks p against the parameter table: finite values in range (or unset), and the
 * stored text is what they format to (so names and order agree) — or, for a file written
 * before parameters were appended to the table (n_stored of them; the rest took their
 * defaults), the start of it. */
static bool params_ok(const sr_model_ops *ops, const double *p, const char *text,
                      uint64_t n_stored) {
    for (size_t i = 0; i < ops->n_params; i++) {
        const sr_param_def *def = &ops->params[i];
        if (isnan(p[i])) {
            if (!isnan(def->def)) return false;
            continue;
        }
        if (!isfinite(p[i]) || (def->type != SR_PARAM_REAL && p[i] != floor(p[i]))) return false;
        if (def->type == SR_PARAM_INT || def->type == SR_PARAM_REAL) {
            if (p[i] < def->min || p[i] > def->max) return false;
        } else if (p[i] < 0 || p[i] > (def->type == SR_PARAM_BOOL ? 1 : def->max)) {
            return false;
        }
    }
    char buf[4096];
    sr_params_format(ops, p, buf, sizeof buf);
    if (n_stored == ops->n_params) return !strcmp(buf, text);
    const size_t len = strlen(text);
    return n_stored > 0 && !strncmp(buf, text, len) && buf[len] == ',';
}

sr_err sr_model_load(const char *path, sr_model_file **out, sr_diag *d) {
    *out = NULL;
    sr_model_file *f = sr_calloc(1, sizeof *f);
    if (!f) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    sr_err e = sr_srm_open(path, &f->srm, d);
    if (e) goto fail;
    sr_srm *r = f->srm;
    const char *algo;
    uint64_t nu, ni, n;
    double scale[2];
    const void *pv, *sc;
    e = sr_srm_get_str(r, "algo", &algo, d);
    if (e) goto fail;
    const sr_model_ops *ops = sr_model_find(algo);
    if (!ops) {
        e = sr_diag_set(d, SR_E_CORRUPT, "%s: unknown algorithm '%.64s'", path, algo);
        goto fail;
    }
    e = sr_srm_get_str(r, "params", &f->params, d);
    /* Parameters appended to an algorithm's table since the file was written take their
     * defaults, which keep the behaviour the file was trained with. */
    uint64_t n_pv = 0;
    if (!e) e = sr_srm_get(r, "param_values", SR_SRM_F64, UINT64_MAX, &pv, &n_pv, d);
    if (!e && n_pv > ops->n_params)
        e = sr_diag_set(d, SR_E_CORRUPT, "%s: %llu parameter values for %s's %zu", path,
                        (unsigned long long)n_pv, ops->name, ops->n_params);
    if (!e) e = sr_srm_get(r, "scale", SR_SRM_F64, 2, &sc, NULL, d);
    if (!e) e = sr_srm_get_f64(r, "global_mean", &f->ts.global_mean, d);
    if (!e) e = sr_srm_get_u64(r, "n_users", &nu, d);
    if (!e) e = sr_srm_get_u64(r, "n_items", &ni, d);
    if (!e) e = sr_srm_get_u64(r, "n_ratings", &n, d);
    if (!e) e = sr_srm_get_u64(r, "created", &f->meta.created, d);
    if (!e) e = sr_srm_get_str(r, "data.file", &f->meta.data_file, d);
    if (!e) e = sr_srm_get_str(r, "data.meta", &f->meta.data_meta, d);
    if (!e) e = sr_srm_get_str(r, "data.transform", &f->meta.transform, d);
    if (!e && sr_srm_has(r, "eval.cv")) {
        const void *ev;
        double v[5];
        e = sr_srm_get(r, "eval.cv", SR_SRM_F64, 5, &ev, NULL, d);
        if (!e) {
            memcpy(v, ev, sizeof v);
            bool ok = v[0] >= 2 && v[0] <= 1000 && v[0] == floor(v[0]);
            for (int q = 1; q < 5; q++) ok = ok && isfinite(v[q]) && v[q] >= 0;
            if (!ok) e = sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt evaluation section", path);
            f->meta.eval_folds = ok ? (uint32_t)v[0] : 0;
            f->meta.eval_rmse = v[1], f->meta.eval_rmse_std = v[2];
            f->meta.eval_mae = v[3], f->meta.eval_mae_std = v[4];
        }
    }
    if (e) goto fail;
    sr_params_defaults(ops, f->model.p);
    memcpy(f->model.p, pv, (size_t)n_pv * sizeof(double));
    memcpy(scale, sc, sizeof scale);
    if (!params_ok(ops, f->model.p, f->params, n_pv)) {
        e = sr_diag_set(d, SR_E_CORRUPT, "%s: parameters do not match %s's table", path, ops->name);
        goto fail;
    }
    if (nu >= UINT32_MAX || ni >= UINT32_MAX || !isfinite(scale[0]) || !isfinite(scale[1]) ||
        scale[0] > scale[1] || !isfinite(f->ts.global_mean)) {
        e = sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt counts or rating scale", path);
        goto fail;
    }
    sr_trainset *ts = &f->ts;
    ts->n_users = (uint32_t)nu;
    ts->n_items = (uint32_t)ni;
    ts->n = n;
    ts->lo = scale[0];
    ts->hi = scale[1];
    const void *a[6] = {0};
    e = sr_srm_get(r, "ts.user_ptr", SR_SRM_U64, nu + 1, &a[0], NULL, d);
    if (!e) e = sr_srm_get(r, "ts.item_ptr", SR_SRM_U64, ni + 1, &a[1], NULL, d);
    if (!e && (ops->ts_keep & SR_TS_BY_USER)) {
        e = sr_srm_get(r, "ts.ur_item", SR_SRM_U32, n, &a[2], NULL, d);
        if (!e) e = sr_srm_get(r, "ts.ur_r", SR_SRM_F32, n, &a[3], NULL, d);
    }
    if (!e && (ops->ts_keep & SR_TS_BY_ITEM)) {
        e = sr_srm_get(r, "ts.ir_user", SR_SRM_U32, n, &a[4], NULL, d);
        if (!e) e = sr_srm_get(r, "ts.ir_r", SR_SRM_F32, n, &a[5], NULL, d);
    }
    if (e) goto fail;
    if (!sr_csr_ptr_ok(a[0], nu, n) || !sr_csr_ptr_ok(a[1], ni, n) ||
        (a[2] && !sr_csr_ids_ok(a[2], n, ni)) || (a[4] && !sr_csr_ids_ok(a[4], n, nu))) {
        e = sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt (inconsistent trainset arrays)", path);
        goto fail;
    }
    ts->user_ptr = (uint64_t *)a[0];
    ts->item_ptr = (uint64_t *)a[1];
    ts->ur_item = (uint32_t *)a[2];
    ts->ur_r = (float *)a[3];
    ts->ir_user = (uint32_t *)a[4];
    ts->ir_r = (float *)a[5];
    e = get_strtab(r, "cat.users.off", "cat.users", ts->n_users, &f->meta.users, d);
    if (!e && sr_srm_has(r, "cat.tracks.off")) {
        uint64_t na;
        const void *ia = NULL, *mb = NULL;
        e = sr_srm_get(r, "cat.artists.off", SR_SRM_U64, UINT64_MAX, &ia, &na, d);
        if (!e && (na < 1 || na - 1 >= UINT32_MAX))
            e = sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt artist table", path);
        if (!e)
            e = get_strtab(r, "cat.artists.off", "cat.artists", (uint32_t)(na - 1),
                           &f->meta.artists, d);
        if (!e) e = get_strtab(r, "cat.tracks.off", "cat.tracks", ts->n_items, &f->meta.tracks, d);
        if (!e) e = sr_srm_get(r, "cat.item_artist", SR_SRM_U32, ts->n_items, &ia, NULL, d);
        if (!e && !sr_csr_ids_ok(ia, ts->n_items, f->meta.artists.n))
            e = sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt song artists", path);
        if (!e && sr_srm_has(r, "cat.item_mbid"))
            e = sr_srm_get(r, "cat.item_mbid", SR_SRM_U8, (uint64_t)ts->n_items * 16, &mb, NULL, d);
        f->meta.item_artist = ia;
        f->meta.item_mbid = mb;
    }
    if (e) goto fail;
    f->precision = sr_srm_precision_of(r);
    f->model.ops = ops;
    f->model.ts = ts;
    e = ops->load(r, ts, f->model.p, &f->model.state, d);
    if (e) goto fail;
    *out = f;
    return SR_OK;
fail:
    sr_model_file_free(f);
    return e;
}
