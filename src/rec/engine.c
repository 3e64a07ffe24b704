/* The engine (engine.h): a model file with its catalog and recommender. */
#include "rec/engine.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/ingest.h"
#include "util/mem.h"

void sr_engine_free(sr_engine *e) {
    if (!e) return;
    sr_recommender_deinit(&e->rec);
    sr_catalog_free(e->cat);
    sr_free(e->item_pop);
    sr_model_file_free(e->mf);
    sr_free(e);
}

sr_err sr_engine_catalog(const sr_model_file *mf, uint32_t **item_pop, sr_catalog **cat,
                         sr_diag *d) {
    *item_pop = NULL;
    *cat = NULL;
    const sr_trainset *ts = &mf->ts;
    const sr_model_meta *m = &mf->meta;
    uint32_t *pop = sr_mallocarray(ts->n_items ? ts->n_items : 1, sizeof *pop);
    if (!pop) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < ts->n_items; i++) {
        uint64_t c = ts->item_ptr[i + 1] - ts->item_ptr[i];
        pop[i] = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
    }
    if (m->tracks.n) {
        sr_catalog_src src = {m->artists, m->item_artist, m->tracks, pop};
        sr_err err = sr_catalog_build(&src, cat, d);
        if (err) {
            sr_free(pop);
            return err;
        }
    }
    *item_pop = pop;
    return SR_OK;
}

sr_err sr_engine_open(const char *path, sr_engine **out, sr_diag *d) {
    *out = NULL;
    sr_engine *e = sr_calloc(1, sizeof *e);
    if (!e) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    e->path = path;
    sr_err err = sr_model_load(path, &e->mf, d);
    if (err) goto fail;
    const sr_model_meta *m = &e->mf->meta;
    if ((err = sr_engine_catalog(e->mf, &e->item_pop, &e->cat, d))) goto fail;
    err = sr_recommender_init(&e->rec, &e->mf->model, m->tracks.n ? m->item_artist : NULL,
                              m->artists.n, d);
    if (err) goto fail;
    /* Scanning a large catalog is bound by memory bandwidth: two threads per request,
     * and the int8 copy of the factors for large catalogs. */
    e->rec.threads = 2;
    sr_engine_set_scan(e, SR_REC_SCAN_AUTO);
    *out = e;
    return SR_OK;
fail:
    sr_engine_free(e);
    return err;
}

void sr_engine_set_scan(sr_engine *e, sr_rec_scan scan) {
    const sr_model *m = &e->mf->model;
    bool mapped = false;
    if (m->ops->linear) {
        sr_linear lin = {0};
        m->ops->linear(m->state, NULL, &lin);
        mapped = sr_srm_maps(e->mf->srm, lin.Q.data,
                             (size_t)lin.Q.rows * lin.Q.ld * sr_fmat_elem(&lin.Q));
    }
    sr_recommender_set_scan(&e->rec, scan, mapped);
}

void sr_engine_rating_range(const sr_engine *e, double *lo, double *hi) {
    const sr_trainset *ts = &e->mf->ts;
    if (e->mf->model.ops->implicit) {
        *lo = 1;
        *hi = ts->hi > 10 ? ts->hi : 10;
    } else {
        *lo = ts->lo;
        *hi = ts->hi;
    }
}

sr_err sr_engine_parse_rating(const sr_engine *e, const char *spec, sr_rec_rating *out,
                              sr_diag *d) {
    double lo, hi;
    sr_engine_rating_range(e, &lo, &hi);
    const char *eq = strrchr(spec, '=');
    if (!eq) return sr_diag_set(d, SR_E_INPUT, "'%s': want \"Artist - Track=RATING\"", spec);
    char *end;
    errno = 0;
    double r = strtod(eq + 1, &end);
    if (end == eq + 1 || *end || errno || !isfinite(r))
        return sr_diag_set(d, SR_E_INPUT, "'%s': the rating is not a number", spec);
    if (r < lo || r > hi)
        return sr_diag_set(d, SR_E_INPUT, "'%s': rating %g is outside the model's scale %g..%g",
                           spec, r, lo, hi);
    if (!e->cat) return sr_diag_set(d, SR_E_INPUT, "%s has no song catalog", e->path);
    uint32_t item;
    sr_err err = sr_catalog_find_song_text(e->cat, spec, (size_t)(eq - spec), &item);
    if (err == SR_E_NOTFOUND)
        return sr_diag_set(d, SR_E_NOTFOUND, "'%.*s': no such song in the model's catalog",
                           (int)(eq - spec), spec);
    if (err) return sr_diag_set(d, err, "%s", sr_err_message(err));
    *out = (sr_rec_rating){item, (float)r};
    return SR_OK;
}

/* ---- histories ---- */

typedef struct hist {
    const sr_engine *e;
    uint32_t *items; /* one per matched listen (or aggregated row) */
    float *plays;
    size_t n, cap;
    sr_history_stats *st;
} hist;

static sr_err hist_accept(void *user, const sr_listen *l, sr_value_kind kind) {
    (void)kind;
    hist *h = user;
    h->st->listens++;
    uint32_t item;
    sr_err e =
        sr_catalog_find_song(h->e->cat, l->artist.p, l->artist.n, l->track.p, l->track.n, &item);
    if (e == SR_E_NOTFOUND) {
        h->st->unmatched++;
        return SR_OK;
    }
    if (e) return e;
    h->st->matched++;
    size_t cap = h->cap;
    if (sr_grow((void **)&h->items, &cap, h->n + 1, sizeof *h->items)) return SR_E_NOMEM;
    if (sr_grow((void **)&h->plays, &h->cap, h->n + 1, sizeof *h->plays)) return SR_E_NOMEM;
    h->items[h->n] = item;
    h->plays[h->n] = (float)(l->value > 0 ? l->value : 1);
    h->n++;
    return SR_OK;
}

/* Keeps the first problem the readers report (a bad record, or a file that cannot be
 * opened or recognised), which is what to say when no listen could be read. */
typedef struct first_problem {
    char text[1024];
} first_problem;

static void keep_first(void *user, sr_log_level level, const char *text) {
    first_problem *fp = user;
    if (level <= SR_LOG_WARN && !fp->text[0]) snprintf(fp->text, sizeof fp->text, "%s", text);
}

/* The error for a history of which no listen was read: nothing in it (SR_E_EMPTY), a file
 * that could not be opened (SR_E_IO), or only bad records, e.g. another format than the
 * one given (SR_E_INPUT). The words name the file once, as the readers do, so that the
 * server can replace its spooled upload's name. */
static sr_err no_listens(const char *path, const sr_read_stats *rs, const first_problem *fp,
                         sr_diag *d) {
    if (!rs->skipped_total) return sr_diag_set(d, SR_E_EMPTY, "%s: no listens found", path);
    if (!rs->files && rs->skipped[SR_SKIP_UNREADABLE])
        return sr_diag_set(d, SR_E_IO, "%s", fp->text[0] ? fp->text : path);
    const unsigned long long n = (unsigned long long)rs->skipped_total;
    if (!fp->text[0])
        return sr_diag_set(d, SR_E_INPUT, "%s: no listen could be read (%llu bad record%s skipped)",
                           path, n, n == 1 ? "" : "s");
    return sr_diag_set(d, SR_E_INPUT, "%s; no listen could be read (%llu bad record%s skipped)",
                       fp->text, n, n == 1 ? "" : "s");
}

static int cmp_u32f(const void *a, const void *b) {
    const sr_rec_rating *x = a, *y = b;
    return x->item < y->item ? -1 : x->item > y->item;
}

sr_err sr_engine_history(const sr_engine *e, const char *path, const char *format,
                         sr_history_song **out, size_t *n, sr_history_stats *st, sr_diag *d) {
    *out = NULL;
    *n = 0;
    memset(st, 0, sizeof *st);
    if (!e->cat) return sr_diag_set(d, SR_E_INPUT, "%s has no song catalog", e->path);
    hist h = {.e = e, .st = st};
    /* One listener's history: formats without a user name (Spotify, Last.fm, a user-less
     * CSV) need none, so every record without one is theirs. */
    first_problem fp = {{0}};
    const sr_log log = {.message = keep_first, .user = &fp};
    sr_ingest_opts o = {
        .read = {.user = "listener", .min_ms_played = 30000, .report_first = 1, .log = &log},
        .format = format};
    sr_read_stats rs = {0};
    char *paths[1] = {(char *)path};
    sr_err err = sr_ingest_paths(paths, 1, &o, hist_accept, &h, &rs, d);
    st->skipped = rs.skipped_total;
    if (!err && st->listens == 0) err = no_listens(path, &rs, &fp, d);
    sr_rec_rating *r = NULL;
    sr_history_song *songs = NULL;
    if (!err && h.n) {
        r = sr_mallocarray(h.n, sizeof *r);
        songs = sr_mallocarray(h.n, sizeof *songs);
        if (!r || !songs) err = sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    size_t m = 0;
    if (!err && h.n) {
        for (size_t j = 0; j < h.n; j++) r[j] = (sr_rec_rating){h.items[j], h.plays[j]};
        qsort(r, h.n, sizeof *r, cmp_u32f);
        /* Sum plays per song, then the model's transform. */
        double lo, hi;
        sr_engine_rating_range(e, &lo, &hi);
        const bool cap10 = !strcmp(e->mf->meta.transform, "cap10");
        for (size_t j = 0; j < h.n;) {
            size_t k = j;
            double plays = 0;
            for (; k < h.n && r[k].item == r[j].item; k++) plays += r[k].r;
            double v = cap10 ? fmin(plays, 10) : plays;
            v = v < lo ? lo : v > hi ? hi : v;
            songs[m++] = (sr_history_song){r[j].item, (float)v,
                                           plays >= UINT32_MAX ? UINT32_MAX : (uint32_t)plays};
            j = k;
        }
    }
    sr_free(h.items);
    sr_free(h.plays);
    sr_free(r);
    if (err) {
        sr_free(songs);
        return err;
    }
    st->songs = m;
    *out = songs;
    *n = m;
    return SR_OK;
}

/* ---- exports ---- */

sr_err sr_engine_export(const sr_engine *e, sr_export_format f, const char *title,
                        const sr_rec_item *items, size_t n, sr_buf *out, sr_diag *d) {
    if (!e->cat) return sr_diag_set(d, SR_E_INPUT, "%s has no song catalog", e->path);
    sr_export_item *x = sr_calloc(n ? n : 1, sizeof *x);
    sr_export_because *b = sr_calloc(n * SR_REC_MAX_BECAUSE + 1, sizeof *b);
    if (!x || !b) {
        sr_free(x), sr_free(b);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    const sr_catalog *c = e->cat;
    const uint8_t *mbid = e->mf->meta.item_mbid;
    for (size_t t = 0; t < n; t++) {
        const uint32_t i = items[t].item;
        sr_export_because *bt = b + t * SR_REC_MAX_BECAUSE;
        for (size_t q = 0; q < items[t].n_because; q++) {
            const uint32_t j = items[t].because[q].item;
            bt[q] = (sr_export_because){sr_catalog_artist_name(c, sr_catalog_item_artist(c, j)),
                                        sr_catalog_track_name(c, j), items[t].because[q].weight};
        }
        static const uint8_t zero[16];
        const uint8_t *mb = mbid ? mbid + (size_t)i * 16 : NULL;
        if (mb && !memcmp(mb, zero, 16)) mb = NULL;
        x[t] = (sr_export_item){.id = i,
                                .artist = sr_catalog_artist_name(c, sr_catalog_item_artist(c, i)),
                                .track = sr_catalog_track_name(c, i),
                                .mbid = mb,
                                .score = items[t].score,
                                .support = items[t].support,
                                .weak = items[t].weak,
                                .because = bt,
                                .n_because = items[t].n_because};
    }
    char annotation[4200];
    snprintf(annotation, sizeof annotation, "%s (%s) from %s", e->mf->model.ops->surprise,
             e->mf->params, e->mf->meta.data_file);
    sr_export_meta meta = {.title = title ? title : "songrec recommendations",
                           .creator = "songrec",
                           .annotation = annotation,
                           .date = (int64_t)time(NULL)};
    sr_err err = sr_export_write(f, &meta, x, n, out, d);
    sr_free(x), sr_free(b);
    return err;
}
