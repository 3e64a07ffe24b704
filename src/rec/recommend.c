/* The recommender (recommend.h): fold-in, scoring, filters, ranking, explanations. */
#include "rec/recommend.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* Leave-one-out explanations refold once per rating: at most this many ratings take
 * part (the ones furthest from the listener's mean); the rest get weight 0. */
#define LOO_MAX 64

sr_err sr_recommender_init(sr_recommender *R, const sr_model *m, const uint32_t *item_artist,
                           uint32_t n_artists, sr_diag *d) {
    memset(R, 0, sizeof *R);
    const sr_trainset *ts = m->ts;
    if (!m->ops->fold_in || !m->ops->estimate_new)
        return sr_diag_set(d, SR_E_USAGE, "%s cannot fold a new listener in", m->ops->name);
    R->model = m;
    R->n_items = ts->n_items;
    R->item_artist = item_artist;
    R->n_artists = item_artist ? n_artists : 0;
    if (item_artist)
        for (uint32_t i = 0; i < ts->n_items; i++)
            if (item_artist[i] >= n_artists)
                return sr_diag_set(d, SR_E_CORRUPT, "song %u has artist %u of %u", i,
                                   item_artist[i], n_artists);
    R->pop = sr_mallocarray(ts->n_items ? ts->n_items : 1, sizeof *R->pop);
    if (!R->pop) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    uint64_t most = 0;
    for (uint32_t i = 0; i < ts->n_items; i++) {
        uint64_t c = ts->item_ptr[i + 1] - ts->item_ptr[i];
        if (c > most) most = c;
    }
    const double lm = log1p((double)most);
    for (uint32_t i = 0; i < ts->n_items; i++) {
        uint64_t c = ts->item_ptr[i + 1] - ts->item_ptr[i];
        R->pop[i] = lm > 0 ? (float)(log1p((double)c) / lm) : 0.0f;
    }
    return SR_OK;
}

void sr_recommender_deinit(sr_recommender *R) {
    sr_free(R->pop);
    memset(R, 0, sizeof *R);
}

typedef struct pos_rating {
    uint32_t item, pos;
    float r;
} pos_rating;

/* By item, then by position in the input. */
static int cmp_pos_rating(const void *a, const void *b) {
    const pos_rating *x = a, *y = b;
    if (x->item != y->item) return x->item < y->item ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The listener's ratings as the model takes them: known items, ascending, unique (a
 * repeated item keeps its later rating). items/r have room for p->n_ratings. */
static sr_err clean_ratings(const sr_recommender *R, const sr_rec_profile *p, uint32_t *items,
                            float *r, size_t *n, sr_rec_stats *st, sr_diag *d) {
    const sr_trainset *ts = R->model->ts;
    pos_rating *t = sr_mallocarray(p->n_ratings ? p->n_ratings : 1, sizeof *t);
    if (!t) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    size_t m = 0;
    for (size_t j = 0; j < p->n_ratings; j++) {
        const sr_rec_rating x = p->ratings[j];
        /* implicit models take values as play counts: any positive number */
        bool ok =
            R->model->ops->implicit ? x.r > 0 && isfinite(x.r) : x.r >= ts->lo && x.r <= ts->hi;
        if (!ok) {
            sr_free(t);
            return sr_diag_set(d, SR_E_RANGE, "rating %g is outside the scale %g..%g", x.r, ts->lo,
                               ts->hi);
        }
        if (!sr_trainset_knows_item(ts, x.item)) {
            st->unknown++;
            continue;
        }
        t[m++] = (pos_rating){x.item, (uint32_t)j, x.r};
    }
    qsort(t, m, sizeof *t, cmp_pos_rating);
    size_t out = 0;
    for (size_t j = 0; j < m; j++) {
        if (j + 1 < m && t[j + 1].item == t[j].item) {
            st->repeated++;
            continue;
        }
        items[out] = t[j].item;
        r[out] = t[j].r;
        out++;
    }
    *n = out;
    st->used = out;
    sr_free(t);
    return SR_OK;
}

/* Folds u in; u->items, u->r set by the caller. */
static sr_err fold(const sr_recommender *R, sr_newuser *u, sr_diag *d) {
    const sr_model *m = R->model;
    return m->ops->fold_in(m->state, m->ts, m->p, u, d);
}

static void unfold(const sr_recommender *R, sr_newuser *u) {
    if (u->state && R->model->ops->user_free) R->model->ops->user_free(u->state);
    u->state = NULL;
}

/* Unclipped estimates of every item into s (NaN when impossible). */
/* Scores of items [lo, hi). */
static void score_range(const sr_recommender *R, const sr_newuser *u, float *s, uint32_t lo,
                        uint32_t hi) {
    const sr_model *m = R->model;
    if (m->ops->score_new) {
        m->ops->score_new(m->state, m->ts, u, s, lo, hi);
        return;
    }
    for (uint32_t i = lo; i < hi; i++) {
        double e;
        s[i] = m->ops->estimate_new(m->state, m->ts, u, i, &e) ? (float)e : NAN;
    }
}

typedef struct score_job {
    const sr_recommender *R;
    const sr_newuser *u;
    float *s;
    uint32_t lo, hi;
} score_job;

static void *score_main(void *arg) {
    score_job *j = arg;
    score_range(j->R, j->u, j->s, j->lo, j->hi);
    return NULL;
}

/* Unclipped estimates of every item into s (NaN when impossible), on R->threads threads
 * for catalogs of SCAN_SPLIT songs or more (the scan is bound by memory bandwidth, which
 * a second core adds to); a thread that cannot start leaves its part to this one. */
#define SCAN_SPLIT 65536
static void score_all(const sr_recommender *R, const sr_newuser *u, float *s) {
    int T = R->threads < 1 ? 1 : R->threads > SR_REC_MAX_THREADS ? SR_REC_MAX_THREADS : R->threads;
    if (R->n_items < SCAN_SPLIT) T = 1;
    score_job jobs[SR_REC_MAX_THREADS];
    pthread_t tid[SR_REC_MAX_THREADS];
    bool started[SR_REC_MAX_THREADS] = {false};
    const uint32_t N = R->n_items, chunk = (uint32_t)((N + (uint32_t)T - 1) / (uint32_t)T);
    for (int t = 0; t < T; t++) {
        uint32_t lo = (uint32_t)t * chunk;
        jobs[t] = (score_job){R, u, s, lo < N ? lo : N, lo + chunk < N ? lo + chunk : N};
    }
    for (int t = 1; t < T; t++) started[t] = !pthread_create(&tid[t], NULL, score_main, &jobs[t]);
    score_main(&jobs[0]);
    for (int t = 1; t < T; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            score_main(&jobs[t]);
    }
}

typedef struct cand {
    double rank;
    uint32_t item;
} cand;

/* a ranks before b: higher rank, then lower id. */
static inline bool before(cand a, cand b) {
    return a.rank > b.rank || (a.rank == b.rank && a.item < b.item);
}

static int cmp_cand(const void *a, const void *b) {
    const cand *x = a, *y = b;
    return before(*x, *y) ? -1 : before(*y, *x) ? 1 : 0;
}

/* A min-heap (worst at the root) of the best `cap` candidates. */
static void heap_push(cand *h, size_t *n, size_t cap, cand c) {
    if (*n < cap) {
        size_t i = (*n)++;
        h[i] = c;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!before(h[p], h[i])) break;
            cand t = h[p];
            h[p] = h[i];
            h[i] = t;
            i = p;
        }
        return;
    }
    if (!cap || !before(c, h[0])) return;
    h[0] = c;
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < *n && before(h[w], h[l])) w = l;
        if (r < *n && before(h[w], h[r])) w = r;
        if (w == i) break;
        cand t = h[w];
        h[w] = h[i];
        h[i] = t;
        i = w;
    }
}

/* Explanations: w[t * n + j] = contribution of rating j to the estimate of picks[t]. */
static sr_err explain(const sr_recommender *R, sr_newuser *u, const uint32_t *picks, size_t np,
                      const float *est, double *w, sr_diag *d) {
    const sr_model *m = R->model;
    const size_t n = u->n;
    bool done = true;
    for (size_t t = 0; t < np; t++) {
        if (m->ops->explain && m->ops->explain(m->state, m->ts, u, picks[t], w + t * n)) continue;
        done = false;
        for (size_t j = 0; j < n; j++) w[t * n + j] = 0;
    }
    if (done || n < 2) return SR_OK;
    /* Leave one out: the drop in each pick's estimate when rating j is left out. */
    double mean = 0;
    for (size_t j = 0; j < n; j++) mean += u->r[j];
    mean /= (double)n;
    uint32_t *sel = sr_mallocarray(n, sizeof *sel);
    uint32_t *items = sr_mallocarray(n, sizeof *items);
    float *r = sr_mallocarray(n, sizeof *r);
    if (!sel || !items || !r) {
        sr_free(sel), sr_free(items), sr_free(r);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    size_t ns = 0;
    for (size_t j = 0; j < n; j++) sel[ns++] = (uint32_t)j;
    if (ns > LOO_MAX) { /* the LOO_MAX ratings furthest from the mean */
        for (size_t a = 0; a < LOO_MAX; a++)
            for (size_t b = a + 1; b < ns; b++)
                if (fabs(u->r[sel[b]] - mean) > fabs(u->r[sel[a]] - mean)) {
                    uint32_t x = sel[a];
                    sel[a] = sel[b];
                    sel[b] = x;
                }
        ns = LOO_MAX;
    }
    sr_err e = SR_OK;
    for (size_t s = 0; s < ns && !e; s++) {
        const size_t j = sel[s];
        size_t k = 0;
        for (size_t q = 0; q < n; q++)
            if (q != j) items[k] = u->items[q], r[k] = u->r[q], k++;
        sr_newuser v = {.n = k, .items = items, .r = r};
        e = fold(R, &v, d);
        if (e) break;
        for (size_t t = 0; t < np; t++) {
            if (m->ops->explain && w[t * n + j] != 0) continue; /* explained by the model */
            double ev;
            if (m->ops->estimate_new(m->state, m->ts, &v, picks[t], &ev) && isfinite(est[t]))
                w[t * n + j] = est[t] - ev;
        }
        unfold(R, &v);
    }
    sr_free(sel), sr_free(items), sr_free(r);
    return e;
}

/* Fills support, weak and the top reasons of it from its contributions w (n). */
static void describe(sr_rec_item *it, const sr_newuser *u, const double *w, size_t n_because) {
    double top = 0;
    for (size_t j = 0; j < u->n; j++)
        if (w[j] > top) top = w[j];
    size_t backers = 0;
    for (size_t j = 0; j < u->n; j++)
        if (w[j] > 0 && w[j] >= 0.1 * top) backers++;
    it->support = backers >= 5 ? 1.0 : (double)backers / 5.0;
    it->weak = it->fallback || backers < 2;
    it->n_because = 0;
    for (size_t b = 0; b < n_because && b < SR_REC_MAX_BECAUSE; b++) {
        size_t best = SIZE_MAX;
        for (size_t j = 0; j < u->n; j++) {
            if (!(w[j] > 0)) continue;
            bool used = false;
            for (size_t q = 0; q < it->n_because; q++) used |= it->because[q].item == u->items[j];
            if (!used && (best == SIZE_MAX || w[j] > w[best])) best = j;
        }
        if (best == SIZE_MAX) break;
        it->because[it->n_because++] = (sr_rec_because){u->items[best], u->r[best], w[best]};
    }
}

sr_err sr_recommend(const sr_recommender *R, const sr_rec_profile *p, const sr_rec_opts *o,
                    sr_rec_item *out, size_t *n_out, sr_rec_stats *stats, sr_diag *d) {
    *n_out = 0;
    sr_rec_stats st_local, *st = stats ? stats : &st_local;
    memset(st, 0, sizeof *st);
    if (o->n < 1 || o->n > SR_REC_MAX_N)
        return sr_diag_set(d, SR_E_RANGE, "n must be in 1..%d", SR_REC_MAX_N);
    if (!(o->discovery >= -1 && o->discovery <= 1))
        return sr_diag_set(d, SR_E_RANGE, "discovery must be in -1..1");
    const sr_model *m = R->model;
    const sr_trainset *ts = m->ts;
    const uint32_t N = R->n_items;
    sr_err e = SR_OK;
    uint32_t *items = sr_mallocarray(p->n_ratings ? p->n_ratings : 1, sizeof *items);
    float *r = sr_mallocarray(p->n_ratings ? p->n_ratings : 1, sizeof *r);
    float *s = sr_mallocarray(N ? N : 1, sizeof *s);
    uint8_t *skip = sr_calloc(N ? N : 1, 1);
    uint8_t *art = sr_calloc(R->n_artists ? R->n_artists : 1, 1); /* 1 rated, 2 blocked */
    cand *heap = NULL;
    double *w = NULL;
    sr_newuser u = {0};
    if (!items || !r || !s || !skip || !art) {
        e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
        goto done;
    }
    size_t n = 0;
    if ((e = clean_ratings(R, p, items, r, &n, st, d))) goto done;
    u = (sr_newuser){.n = n, .items = items, .r = r};
    if ((e = fold(R, &u, d))) goto done;
    score_all(R, &u, s);

    for (size_t j = 0; j < n; j++) {
        skip[items[j]] = 1;
        if (R->item_artist) art[R->item_artist[items[j]]] |= 1;
    }
    for (size_t j = 0; j < p->n_blocked_items; j++)
        if (p->blocked_items[j] < N) skip[p->blocked_items[j]] = 1;
    for (size_t j = 0; j < p->n_blocked_artists; j++)
        if (p->blocked_artists[j] < R->n_artists) art[p->blocked_artists[j]] |= 2;

    /* Rating models rank predicted ratings on the scale; implicit ones rank scores,
     * which the discovery weight measures by the spread of the candidates' scores. */
    const bool implicit = m->ops->implicit;
    double lo = ts->lo, hi = ts->hi;
    if (implicit) {
        lo = INFINITY, hi = -INFINITY;
        for (uint32_t i = 0; i < N; i++)
            if (!skip[i] && isfinite(s[i])) lo = s[i] < lo ? s[i] : lo, hi = s[i] > hi ? s[i] : hi;
        if (!(hi > lo)) lo = 0, hi = 1;
    }
    const double shift = o->discovery * (hi - lo) / 2;
    const double fallback = implicit ? lo : ts->global_mean;
    /* Candidates with their clipped predictions in s; the best cap by rank in a heap,
     * cap growing until the artist limit leaves n songs (or nothing is left). */
    size_t cap = o->max_per_artist ? o->n * 4 + 16 : o->n;
    for (;;) {
        sr_free(heap);
        heap = sr_mallocarray(cap, sizeof *heap);
        if (!heap) {
            e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
            goto done;
        }
        size_t nh = 0;
        st->candidate = 0;
        for (uint32_t i = 0; i < N; i++) {
            if (skip[i] || !sr_trainset_knows_item(ts, i)) continue;
            uint8_t a = R->item_artist ? art[R->item_artist[i]] : 0;
            if ((a & 2) || ((a & 1) && o->exclude_rated_artists)) continue;
            st->candidate++;
            double pred = isfinite(s[i]) ? s[i] : fallback;
            if (!implicit) pred = pred < lo ? lo : pred > hi ? hi : pred;
            double rank = pred - shift * (R->pop[i] + ((a & 1) ? 1.0 : 0.0)) / 2;
            heap_push(heap, &nh, cap, (cand){rank, i});
        }
        qsort(heap, nh, sizeof *heap, cmp_cand);
        /* Greedy fill under the artist limit. */
        size_t got = 0;
        uint32_t *per = NULL;
        if (o->max_per_artist && R->n_artists) {
            per = sr_calloc(R->n_artists, sizeof *per);
            if (!per) {
                e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
                goto done;
            }
        }
        for (size_t t = 0; t < nh && got < o->n; t++) {
            const uint32_t i = heap[t].item;
            if (per && per[R->item_artist[i]]++ >= o->max_per_artist) continue;
            sr_rec_item *it = &out[got++];
            memset(it, 0, sizeof *it);
            it->item = i;
            it->fallback = !isfinite(s[i]);
            double pred = it->fallback ? fallback : s[i];
            it->score = implicit ? pred : pred < lo ? lo : pred > hi ? hi : pred;
            it->rank_score = heap[t].rank;
        }
        sr_free(per);
        if (got == o->n || nh < cap || cap >= st->candidate) {
            *n_out = got;
            break;
        }
        cap *= 4;
    }

    /* Explanations and support for the picks. */
    if (*n_out) {
        w = sr_mallocarray(*n_out * (n ? n : 1), sizeof *w);
        uint32_t *picks = sr_mallocarray(*n_out, sizeof *picks);
        float *est = sr_mallocarray(*n_out, sizeof *est);
        if (!w || !picks || !est) {
            sr_free(picks), sr_free(est);
            e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
            goto done;
        }
        for (size_t t = 0; t < *n_out; t++) picks[t] = out[t].item, est[t] = s[out[t].item];
        e = n ? explain(R, &u, picks, *n_out, est, w, d) : SR_OK;
        sr_free(picks), sr_free(est);
        if (e) goto done;
        for (size_t t = 0; t < *n_out; t++) describe(&out[t], &u, w + t * n, o->n_because);
    }
done:
    if (e) *n_out = 0;
    unfold(R, &u);
    sr_free(items), sr_free(r), sr_free(s), sr_free(skip), sr_free(art), sr_free(heap), sr_free(w);
    return e;
}

/* The cosine of the rater sets of i and every item, from the trainset's CSR both ways. */
static bool corated(const sr_trainset *ts, uint32_t i, float *out) {
    if (!ts->ir_user || !ts->ur_item) return false;
    uint32_t *cnt = sr_calloc(ts->n_items ? ts->n_items : 1, sizeof *cnt);
    if (!cnt) return false;
    for (uint64_t q = ts->item_ptr[i]; q < ts->item_ptr[i + 1]; q++) {
        const uint32_t v = ts->ir_user[q];
        for (uint64_t t = ts->user_ptr[v]; t < ts->user_ptr[v + 1]; t++) cnt[ts->ur_item[t]]++;
    }
    const double ni = (double)(ts->item_ptr[i + 1] - ts->item_ptr[i]);
    for (uint32_t j = 0; j < ts->n_items; j++) {
        const double nj = (double)(ts->item_ptr[j + 1] - ts->item_ptr[j]);
        out[j] = cnt[j] && ni > 0 && nj > 0 ? (float)(cnt[j] / sqrt(ni * nj)) : NAN;
    }
    sr_free(cnt);
    return true;
}

/* The similarity of item to every item into s (R->n_items), or SR_E_USAGE. */
static sr_err item_sims(const sr_recommender *R, uint32_t item, float *s, sr_diag *d) {
    const sr_model *m = R->model;
    if ((m->ops->similar && m->ops->similar(m->state, m->ts, item, s)) || corated(m->ts, item, s))
        return SR_OK;
    return sr_diag_set(d, SR_E_USAGE,
                       "%s has no notion of song similarity (try svd or an item-based knn)",
                       m->ops->name);
}

sr_err sr_rec_similar(const sr_recommender *R, uint32_t item, size_t n, uint32_t *ids, float *sims,
                      size_t *n_out, sr_diag *d) {
    *n_out = 0;
    const sr_trainset *ts = R->model->ts;
    if (item >= R->n_items) return sr_diag_set(d, SR_E_NOTFOUND, "no song %u", item);
    if (n < 1 || n > SR_REC_MAX_N)
        return sr_diag_set(d, SR_E_RANGE, "n must be in 1..%d", SR_REC_MAX_N);
    float *s = sr_mallocarray(R->n_items ? R->n_items : 1, sizeof *s);
    cand *heap = sr_mallocarray(n, sizeof *heap);
    if (!s || !heap) {
        sr_free(s), sr_free(heap);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    sr_err e = item_sims(R, item, s, d);
    if (e) {
        sr_free(s), sr_free(heap);
        return e;
    }
    size_t nh = 0;
    for (uint32_t j = 0; j < R->n_items; j++)
        if (j != item && isfinite(s[j]) && sr_trainset_knows_item(ts, j))
            heap_push(heap, &nh, n, (cand){s[j], j});
    qsort(heap, nh, sizeof *heap, cmp_cand);
    for (size_t t = 0; t < nh; t++) ids[t] = heap[t].item, sims[t] = (float)heap[t].rank;
    *n_out = nh;
    sr_free(s), sr_free(heap);
    return SR_OK;
}

sr_err sr_rec_similar_artists(const sr_recommender *R, uint32_t artist, size_t n, uint32_t *ids,
                              float *sims, size_t *n_out, sr_diag *d) {
    *n_out = 0;
    const sr_trainset *ts = R->model->ts;
    if (!R->item_artist) return sr_diag_set(d, SR_E_USAGE, "the model has no song catalog");
    if (artist >= R->n_artists) return sr_diag_set(d, SR_E_NOTFOUND, "no artist %u", artist);
    if (n < 1 || n > SR_REC_MAX_N)
        return sr_diag_set(d, SR_E_RANGE, "n must be in 1..%d", SR_REC_MAX_N);
    /* The artist's most popular songs (by raters) are the seeds. */
    uint32_t seed[SR_REC_ARTIST_SEEDS];
    uint64_t seed_pop[SR_REC_ARTIST_SEEDS];
    size_t ns = 0;
    for (uint32_t i = 0; i < R->n_items; i++) {
        if (R->item_artist[i] != artist || !sr_trainset_knows_item(ts, i)) continue;
        uint64_t pop = ts->item_ptr[i + 1] - ts->item_ptr[i];
        size_t at = ns < SR_REC_ARTIST_SEEDS ? ns++ : SR_REC_ARTIST_SEEDS;
        if (at == SR_REC_ARTIST_SEEDS && pop <= seed_pop[SR_REC_ARTIST_SEEDS - 1]) continue;
        if (at == SR_REC_ARTIST_SEEDS) at = SR_REC_ARTIST_SEEDS - 1;
        while (at > 0 && seed_pop[at - 1] < pop) {
            seed[at] = seed[at - 1], seed_pop[at] = seed_pop[at - 1];
            at--;
        }
        seed[at] = i, seed_pop[at] = pop;
    }
    if (!ns) return SR_OK;
    float *s = sr_mallocarray(R->n_items ? R->n_items : 1, sizeof *s);
    float *best = sr_mallocarray(R->n_artists, sizeof *best);
    double *sum = sr_calloc(R->n_artists, sizeof *sum);
    cand *heap = sr_mallocarray(n, sizeof *heap);
    sr_err e = !s || !best || !sum || !heap ? sr_diag_set(d, SR_E_NOMEM, "out of memory") : SR_OK;
    /* score(B) = mean over the seeds of the best similarity of a song of B to the seed */
    for (size_t t = 0; t < ns && !e; t++) {
        if ((e = item_sims(R, seed[t], s, d))) break;
        for (uint32_t a = 0; a < R->n_artists; a++) best[a] = NAN;
        for (uint32_t j = 0; j < R->n_items; j++) {
            const uint32_t a = R->item_artist[j];
            if (isfinite(s[j]) && sr_trainset_knows_item(ts, j) && !(best[a] >= s[j]))
                best[a] = s[j];
        }
        for (uint32_t a = 0; a < R->n_artists; a++)
            if (isfinite(best[a])) sum[a] += best[a];
    }
    size_t nh = 0;
    if (!e) {
        for (uint32_t a = 0; a < R->n_artists; a++)
            if (a != artist && sum[a] != 0) heap_push(heap, &nh, n, (cand){sum[a] / (double)ns, a});
        qsort(heap, nh, sizeof *heap, cmp_cand);
        for (size_t t = 0; t < nh; t++) ids[t] = heap[t].item, sims[t] = (float)heap[t].rank;
        *n_out = nh;
    }
    sr_free(s), sr_free(best), sr_free(sum), sr_free(heap);
    return e;
}

sr_err sr_rec_starter(const sr_recommender *R, size_t n, uint32_t *ids, size_t *n_out, sr_diag *d) {
    enum { CANDS = 400, USERS = 64 };
    *n_out = 0;
    if (n < 1 || n > SR_REC_MAX_STARTER)
        return sr_diag_set(d, SR_E_RANGE, "n must be in 1..%d", SR_REC_MAX_STARTER);
    const sr_model *m = R->model;
    const sr_trainset *ts = m->ts;
    /* Candidates: the most played songs, the most played one of each artist. */
    cand *heap = sr_mallocarray(CANDS, sizeof *heap);
    uint8_t *seen = sr_calloc(R->n_artists ? R->n_artists : 1, 1);
    float *E = sr_mallocarray((size_t)CANDS * USERS, sizeof *E);
    double *spread = sr_mallocarray(CANDS, sizeof *spread),
           *near = sr_mallocarray(CANDS, sizeof(double));
    uint32_t *users = sr_mallocarray(USERS, sizeof *users);
    if (!heap || !seen || !E || !spread || !near || !users) {
        sr_free(heap), sr_free(seen), sr_free(E), sr_free(spread), sr_free(near), sr_free(users);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    size_t nh = 0;
    for (uint32_t i = 0; i < R->n_items; i++)
        if (sr_trainset_knows_item(ts, i))
            heap_push(heap, &nh, CANDS, (cand){(double)(ts->item_ptr[i + 1] - ts->item_ptr[i]), i});
    qsort(heap, nh, sizeof *heap, cmp_cand);
    size_t nc = 0;
    for (size_t t = 0; t < nh; t++) {
        const uint32_t i = heap[t].item;
        if (R->item_artist) {
            if (seen[R->item_artist[i]]) continue;
            seen[R->item_artist[i]] = 1;
        }
        heap[nc++] = heap[t];
    }
    /* Trained users, evenly spaced. */
    size_t nu = 0;
    uint32_t known = 0;
    for (uint32_t u = 0; u < ts->n_users; u++) known += sr_trainset_knows_user(ts, u);
    for (uint32_t u = 0, k = 0; u < ts->n_users && nu < USERS; u++) {
        if (!sr_trainset_knows_user(ts, u)) continue;
        if ((uint64_t)k++ * USERS / (known ? known : 1) >= nu) users[nu++] = u;
    }
    /* Each candidate's centred prediction vector over those users. */
    for (size_t c = 0; c < nc; c++) {
        float *e = E + c * USERS;
        double mean = 0, ss = 0;
        for (size_t q = 0; q < nu; q++)
            mean += e[q] = (float)sr_model_predict(m, users[q], heap[c].item);
        mean = nu ? mean / (double)nu : 0;
        for (size_t q = 0; q < nu; q++) e[q] = (float)(e[q] - mean), ss += (double)e[q] * e[q];
        spread[c] = nu ? sqrt(ss / (double)nu) : 0;
        near[c] = 0;
    }
    const double top = nc ? heap[0].rank : 1;
    while (*n_out < n && *n_out < nc) {
        size_t best = SIZE_MAX;
        double bv = -1;
        for (size_t c = 0; c < nc; c++) {
            if (near[c] > 1.5) continue; /* chosen */
            double v = (spread[c] + 1e-9) * sqrt(heap[c].rank / top) * (1 - near[c]);
            if (v > bv) bv = v, best = c;
        }
        if (best == SIZE_MAX) break;
        ids[(*n_out)++] = heap[best].item;
        near[best] = 2;
        const float *b = E + best * USERS;
        for (size_t c = 0; c < nc; c++) {
            if (near[c] > 1.5) continue;
            const float *e = E + c * USERS;
            double dot = 0;
            for (size_t q = 0; q < nu; q++) dot += (double)e[q] * b[q];
            double den = spread[c] * spread[best] * (double)nu;
            double corr = den > 0 ? fabs(dot / den) : 0;
            if (corr > near[c]) near[c] = corr > 1 ? 1 : corr;
        }
    }
    sr_free(heap), sr_free(seen), sr_free(E), sr_free(spread), sr_free(near), sr_free(users);
    return SR_OK;
}
