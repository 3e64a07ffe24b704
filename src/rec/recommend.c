/* The recommender (recommend.h): fold-in, scoring, filters, ranking, explanations. */
#include "rec/recommend.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
    R->known = sr_calloc(((size_t)ts->n_items + 63) / 64 + 1, sizeof *R->known);
    if (!R->known) {
        sr_free(R->pop);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < ts->n_items; i++)
        if (sr_trainset_knows_item(ts, i)) R->known[i / 64] |= 1ull << (i % 64);
    return SR_OK;
}

void sr_recommender_deinit(sr_recommender *R) {
    sr_free(R->pop);
    sr_free(R->known);
    sr_fmat_quantized_free(&R->q8, R->q8_err);
    sr_free(R->q8_err16);
    memset(R, 0, sizeof *R);
}

/* Hands the pages wholly inside [p, p + n) back (see sr_recommender_set_scan). */
static void release_pages(const void *p, size_t n) {
    const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + pg - 1) / pg * pg, b = ((uintptr_t)p + n) / pg * pg;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

void sr_recommender_set_scan(sr_recommender *R, sr_rec_scan scan, bool release_source) {
    sr_fmat_quantized_free(&R->q8, R->q8_err);
    sr_free(R->q8_err16);
    R->q8_err = R->q8_err16 = NULL;
    const sr_model *m = R->model;
    if (scan == SR_REC_SCAN_EXACT || !m->ops->linear) return;
    if (scan == SR_REC_SCAN_AUTO && R->n_items < SR_REC_INT8_MIN) return;
    sr_linear lin = {0};
    m->ops->linear(m->state, NULL, &lin);
    if (lin.Q.rows < R->n_items) return;
    if (!sr_fmat_quantize(&lin.Q, R->threads, &R->q8, &R->q8_err)) return; /* stays exact */
    const size_t nb = ((size_t)R->n_items + 15) / 16;
    if (!(R->q8_err16 = sr_calloc(nb ? nb : 1, sizeof *R->q8_err16))) {
        sr_fmat_quantized_free(&R->q8, R->q8_err);
        R->q8_err = NULL;
        return;
    }
    for (uint32_t i = 0; i < R->n_items; i++)
        if (R->q8_err[i] > R->q8_err16[i / 16]) R->q8_err16[i / 16] = R->q8_err[i];
    R->bias_max = 0;
    for (uint32_t i = 0; lin.bias && i < R->n_items; i++)
        if (fabsf(lin.bias[i]) > R->bias_max) R->bias_max = fabsf(lin.bias[i]);
    if (release_source)
        release_pages(lin.Q.data, (size_t)lin.Q.rows * lin.Q.ld * sr_fmat_elem(&lin.Q));
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

/* Scores of items [lo, hi) into s: the model's own (NaN when impossible), or the int8
 * copy's — within each song's bound of the exact score — when lin is set. */
static void score_range(const sr_recommender *R, const sr_newuser *u, const sr_linear *lin,
                        float *s, float *max16, uint32_t lo, uint32_t hi) {
    const sr_model *m = R->model;
    if (lin) { /* with the best of each 16, for the selection's block test */
        sr_fmat_scores_max16(&R->q8, lin->x, lin->bias, lin->add, s, max16 + lo / 16, lo, hi);
        return;
    }
    if (m->ops->score_new) {
        m->ops->score_new(m->state, m->ts, u, s, lo, hi);
        return;
    }
    for (uint32_t i = lo; i < hi; i++) {
        double e;
        s[i] = m->ops->estimate_new(m->state, m->ts, u, i, &e) ? (float)e : NAN;
    }
}

/* Runs fn(arg + t * size) for t < T on T threads (this one included); a thread that
 * cannot start leaves its part to this one. */
static void run_parallel(void *(*fn)(void *), void *arg, size_t size, int T) {
    pthread_t tid[SR_REC_MAX_THREADS];
    bool started[SR_REC_MAX_THREADS] = {false};
    for (int t = 1; t < T; t++)
        started[t] = !pthread_create(&tid[t], NULL, fn, (char *)arg + (size_t)t * size);
    fn(arg);
    for (int t = 1; t < T; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            fn((char *)arg + (size_t)t * size);
    }
}

/* Threads for a pass over the catalog: R->threads for catalogs of SCAN_SPLIT songs or
 * more (the passes are bound by memory bandwidth, which a second core adds to). Parts
 * are whole multiples of 64 songs (one word of the candidate bitmap). */
#define SCAN_SPLIT 65536
static int pass_threads(const sr_recommender *R) {
    int T = R->threads < 1 ? 1 : R->threads > SR_REC_MAX_THREADS ? SR_REC_MAX_THREADS : R->threads;
    return R->n_items < SCAN_SPLIT ? 1 : T;
}
static void pass_part(const sr_recommender *R, int T, int t, uint32_t *lo, uint32_t *hi) {
    const uint32_t N = R->n_items;
    const uint64_t chunk = ((uint64_t)N + 64u * (uint64_t)T - 1) / (64u * (uint64_t)T) * 64u;
    const uint64_t a = (uint64_t)t * chunk, b = a + chunk;
    *lo = (uint32_t)(a < N ? a : N), *hi = (uint32_t)(b < N ? b : N);
}

typedef struct score_job {
    const sr_recommender *R;
    const sr_newuser *u;
    const sr_linear *lin;
    float *s, *max16;
    uint32_t lo, hi;
} score_job;

static void *score_main(void *arg) {
    score_job *j = arg;
    score_range(j->R, j->u, j->lin, j->s, j->max16, j->lo, j->hi);
    return NULL;
}

/* Every item's score into s (see score_range). */
static void score_all(const sr_recommender *R, const sr_newuser *u, const sr_linear *lin, float *s,
                      float *max16) {
    const int T = pass_threads(R);
    score_job jobs[SR_REC_MAX_THREADS];
    for (int t = 0; t < T; t++) {
        jobs[t] = (score_job){R, u, lin, s, max16, 0, 0};
        pass_part(R, T, t, &jobs[t].lo, &jobs[t].hi);
    }
    run_parallel(score_main, jobs, sizeof *jobs, T);
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

/* What ranking a request's candidates needs, fixed before they are chosen. */
typedef struct rank_ctx {
    const sr_recommender *R;
    float *s;             /* scores; approximate where err is set */
    const float *err;     /* (n_items) int8 bound factors, or NULL: s is exact */
    const float *max16;   /* with err (always): the scan's best of each 16 songs, ... */
    const float *err16;   /* ... and the largest bound factor among them */
    const sr_linear *lin; /* with err: the exact form, to re-score with */
    /* bound of i: err[i] xn (the int8 rows, their sums' rounding included) + slack |s_i| +
     * slack0 (the rounding of adding add and the bias: a few units of |s|, |add|, |b_i|) */
    float xn, slack, slack0;
    const uint64_t *elig; /* candidates: known, not rated, not blocked (song or artist) */
    const uint8_t *art;   /* per artist: 1 rated, 2 blocked */
    bool clip;            /* rating models: predictions clipped to [lo, hi] */
    double lo, hi, shift, fallback;
} rank_ctx;

static inline double clip_pred(const rank_ctx *c, double v) {
    return c->clip ? (v < c->lo ? c->lo : v > c->hi ? c->hi : v) : v;
}

/* rank = clip(pred) - shift (pop_i + known_i) / 2, increasing in pred. */
static inline double rank_of(const rank_ctx *c, uint32_t i, double pred) {
    const sr_recommender *R = c->R;
    double g = R->pop[i];
    if (R->item_artist && (c->art[R->item_artist[i]] & 1)) g += 1.0;
    return clip_pred(c, pred) - c->shift * g / 2;
}

static inline float bound_of(const rank_ctx *c, uint32_t i) {
    return c->err ? c->err[i] * c->xn + c->slack * fabsf(c->s[i]) + c->slack0 : 0.0f;
}

/* The exact score of i into s[i]. */
static void rescore(const rank_ctx *c, uint32_t i) {
    const sr_linear *l = c->lin;
    sr_fmat_scores(&l->Q, l->x, l->bias, l->add, c->s, i, i + 1);
}

/* One thread's part of choosing the candidates: the best cap of [lo, hi) by rank (by the
 * lower end of their rank when scores are approximate), and — approximate scores only —
 * every song whose rank could reach the cap-th best lower end seen so far (more). Groups
 * of 16 songs whose best possible rank is below that are passed over in one test. */
typedef struct sel_job {
    const rank_ctx *c;
    uint32_t lo, hi; /* multiples of 64 but for the catalog's end */
    size_t cap;
    cand *heap;
    size_t nh;
    cand *more;
    size_t n_more, cap_more;
    bool nomem;
} sel_job;

static void more_push(sel_job *j, cand x, double tau) {
    if (j->n_more == j->cap_more) {
        size_t w = 0; /* drop what the heap has since put out of reach */
        for (size_t q = 0; q < j->n_more; q++)
            if (j->more[q].rank >= tau) j->more[w++] = j->more[q];
        j->n_more = w;
        if (w * 2 > j->cap_more || !j->cap_more) {
            size_t nc = j->cap_more ? j->cap_more * 2 : 1024;
            cand *m = sr_reallocarray(j->more, nc, sizeof *m);
            if (!m) {
                j->nomem = true;
                return;
            }
            j->more = m, j->cap_more = nc;
        }
    }
    j->more[j->n_more++] = x;
}

static void *select_main(void *arg) {
    sel_job *j = arg;
    const rank_ctx *c = j->c;
    const float *s = c->s;
    const double up_extra = c->shift < 0 ? -c->shift : 0; /* the most -shift g / 2 adds */
    const double fb_up = clip_pred(c, c->fallback) + up_extra;
    double tau = -INFINITY;
    for (uint32_t b = j->lo; b < j->hi && !j->nomem; b += 16) {
        uint32_t bits = (uint32_t)(c->elig[b / 64] >> (b % 64)) & 0xffffu;
        if (!bits) continue;
        if (tau > -INFINITY && b + 16 <= j->hi) {
            float top = -INFINITY;
            if (c->err) { /* bound_of grows with s: the block's best bounds the rest */
                const float m = c->max16[b / 16];
                top = m + c->slack * fabsf(m) + c->slack0 + c->err16[b / 16] * c->xn;
            } else {
                for (int l = 0; l < 16; l++) top = s[b + l] > top ? s[b + l] : top;
            }
            if (clip_pred(c, top) + up_extra < tau && fb_up < tau) continue;
        }
        for (; bits; bits &= bits - 1) {
            const uint32_t i = b + (uint32_t)__builtin_ctz(bits);
            if (i >= j->hi) break;
            const float v = s[i];
            double plo = c->fallback, pup = c->fallback;
            if (!isnan(v)) {
                const float e = bound_of(c, i);
                plo = (double)v - e, pup = (double)v + e;
            }
            const double rlo = rank_of(c, i, plo);
            if (c->err) {
                const double rup = rank_of(c, i, pup);
                if (rup >= tau) more_push(j, (cand){rup, i}, tau);
            }
            heap_push(j->heap, &j->nh, j->cap, (cand){rlo, i});
            if (j->nh == j->cap) tau = j->heap[0].rank;
        }
    }
    return NULL;
}

/* The best cap candidates by exact rank into *best (sorted, *nb of them); with
 * approximate scores, every song that may be among them is re-scored exactly first. */
static sr_err select_best(const rank_ctx *c, size_t cap, cand **best, size_t *nb, sr_diag *d) {
    const sr_recommender *R = c->R;
    const int T = pass_threads(R);
    sel_job jobs[SR_REC_MAX_THREADS];
    sr_err e = SR_OK;
    *best = NULL, *nb = 0;
    for (int t = 0; t < T; t++) {
        jobs[t] = (sel_job){.c = c, .cap = cap};
        pass_part(R, T, t, &jobs[t].lo, &jobs[t].hi);
        jobs[t].heap = sr_mallocarray(cap ? cap : 1, sizeof(cand));
        if (!jobs[t].heap) jobs[t].nomem = true;
    }
    bool ok = true;
    for (int t = 0; t < T; t++) ok &= !jobs[t].nomem;
    if (ok) run_parallel(select_main, jobs, sizeof *jobs, T);
    size_t total = 0;
    for (int t = 0; t < T; t++) {
        ok &= !jobs[t].nomem;
        total += c->err ? jobs[t].n_more : jobs[t].nh;
    }
    cand *all = ok ? sr_mallocarray(total ? total : 1, sizeof *all) : NULL;
    if (!all) {
        e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
        goto out;
    }
    size_t n = 0;
    if (!c->err) {
        for (int t = 0; t < T; t++)
            for (size_t q = 0; q < jobs[t].nh; q++) all[n++] = jobs[t].heap[q];
    } else {
        /* The cap-th best lower end over all parts bounds what can make the list. */
        size_t nl = 0;
        for (int t = 0; t < T; t++) nl += jobs[t].nh;
        double tau = -INFINITY;
        if (nl >= cap && cap) {
            cand *lows = sr_mallocarray(nl, sizeof *lows);
            if (!lows) {
                e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
                goto out;
            }
            size_t w = 0;
            for (int t = 0; t < T; t++)
                for (size_t q = 0; q < jobs[t].nh; q++) lows[w++] = jobs[t].heap[q];
            qsort(lows, nl, sizeof *lows, cmp_cand);
            tau = lows[cap - 1].rank;
            sr_free(lows);
        }
        for (int t = 0; t < T; t++)
            for (size_t q = 0; q < jobs[t].n_more; q++) {
                if (jobs[t].more[q].rank < tau) continue;
                const uint32_t i = jobs[t].more[q].item;
                rescore(c, i);
                all[n++] = (cand){rank_of(c, i, isnan(c->s[i]) ? c->fallback : c->s[i]), i};
            }
    }
    qsort(all, n, sizeof *all, cmp_cand);
    *best = all, *nb = n < cap ? n : cap;
out:
    for (int t = 0; t < T; t++) sr_free(jobs[t].heap), sr_free(jobs[t].more);
    return e;
}

/* The lowest and highest exact score among the candidates (implicit models' spread):
 * one pass over exact scores; over approximate ones, a pass for the bounds and another
 * that re-scores every song that may hold either end. */
static void score_range_of(const rank_ctx *c, double *lo, double *hi) {
    const uint32_t N = c->R->n_items;
    float l = INFINITY, h = -INFINITY, maxlo = -INFINITY, minhi = INFINITY;
    for (uint32_t w = 0; w < (N + 63) / 64; w++)
        for (uint64_t bits = c->elig[w]; bits; bits &= bits - 1) {
            const uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
            const float v = c->s[i], e = bound_of(c, i);
            if (!(v - v == 0)) continue; /* not finite */
            l = v < l ? v : l, h = v > h ? v : h;
            maxlo = v - e > maxlo ? v - e : maxlo, minhi = v + e < minhi ? v + e : minhi;
        }
    if (c->err) {
        l = INFINITY, h = -INFINITY;
        for (uint32_t w = 0; w < (N + 63) / 64; w++)
            for (uint64_t bits = c->elig[w]; bits; bits &= bits - 1) {
                const uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
                if (!(c->s[i] - c->s[i] == 0)) continue;
                const float e = bound_of(c, i);
                if (c->s[i] + e >= maxlo || c->s[i] - e <= minhi) rescore(c, i);
                l = c->s[i] < l ? c->s[i] : l, h = c->s[i] > h ? c->s[i] : h;
            }
    }
    *lo = l, *hi = h;
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
    const size_t words = ((size_t)N + 63) / 64 + 1;
    sr_err e = SR_OK;
    uint32_t *items = sr_mallocarray(p->n_ratings ? p->n_ratings : 1, sizeof *items);
    float *r = sr_mallocarray(p->n_ratings ? p->n_ratings : 1, sizeof *r);
    float *s = sr_mallocarray(N ? N : 1, sizeof *s), *max16 = NULL;
    uint64_t *elig = sr_mallocarray(words, sizeof *elig);
    uint8_t *art = sr_calloc(R->n_artists ? R->n_artists : 1, 1); /* 1 rated, 2 blocked */
    cand *heap = NULL;
    double *w = NULL;
    sr_newuser u = {0};
    if (!items || !r || !s || !elig || !art) {
        e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
        goto done;
    }
    size_t n = 0;
    if ((e = clean_ratings(R, p, items, r, &n, st, d))) goto done;
    u = (sr_newuser){.n = n, .items = items, .r = r};
    if ((e = fold(R, &u, d))) goto done;
    sr_linear lin = {0};
    const bool approx = R->q8.data && m->ops->linear;
    if (approx) {
        m->ops->linear(m->state, &u, &lin);
        if (!(max16 = sr_mallocarray((size_t)N / 16 + 1, sizeof *max16))) {
            e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
            goto done;
        }
    }
    score_all(R, &u, approx ? &lin : NULL, s, max16);

    /* The candidates: known songs, less the rated and blocked ones and (by artist) the
     * blocked artists' and, for discovery, the rated artists'. */
    memcpy(elig, R->known, words * sizeof *elig);
    for (size_t j = 0; j < n; j++) {
        elig[items[j] / 64] &= ~(1ull << (items[j] % 64));
        if (R->item_artist) art[R->item_artist[items[j]]] |= 1;
    }
    for (size_t j = 0; j < p->n_blocked_items; j++)
        if (p->blocked_items[j] < N)
            elig[p->blocked_items[j] / 64] &= ~(1ull << (p->blocked_items[j] % 64));
    for (size_t j = 0; j < p->n_blocked_artists; j++)
        if (p->blocked_artists[j] < R->n_artists) art[p->blocked_artists[j]] |= 2;
    if (R->item_artist && (p->n_blocked_artists || (o->exclude_rated_artists && n)))
        for (uint32_t i = 0; i < N; i++) {
            const uint8_t a = art[R->item_artist[i]];
            if ((a & 2) || ((a & 1) && o->exclude_rated_artists))
                elig[i / 64] &= ~(1ull << (i % 64));
        }
    st->candidate = 0;
    for (size_t q = 0; q < words; q++) st->candidate += (size_t)__builtin_popcountll(elig[q]);

    /* Rating models rank predicted ratings on the scale; implicit ones rank scores,
     * which the discovery weight measures by the spread of the candidates' scores. */
    const bool implicit = m->ops->implicit;
    rank_ctx c = {.R = R,
                  .s = s,
                  .elig = elig,
                  .art = art,
                  .clip = !implicit,
                  .lo = ts->lo,
                  .hi = ts->hi,
                  .fallback = ts->global_mean};
    if (approx) {
        double xx = 0;
        for (uint32_t f = 0; f < lin.Q.k; f++) xx += (double)lin.x[f] * lin.x[f];
        c.err = R->q8_err, c.lin = &lin, c.xn = (float)(sqrt(xx) * (1 + 1e-6));
        c.max16 = max16, c.err16 = R->q8_err16;
        c.slack = 5e-7f, c.slack0 = 5e-7f * (fabsf(lin.add) + R->bias_max) + 1e-30f;
    }
    if (implicit) {
        /* A linear model's scores are all finite (no fallback: -inf, which lets the
         * selection pass over whole blocks): the spread matters only to discovery. */
        if (!approx || o->discovery != 0) {
            score_range_of(&c, &c.lo, &c.hi);
            if (!(c.hi > c.lo)) c.lo = 0, c.hi = 1;
            c.fallback = approx ? -INFINITY : c.lo;
        } else {
            c.lo = 0, c.hi = 1, c.fallback = -INFINITY;
        }
    }
    c.shift = o->discovery * (c.hi - c.lo) / 2;
    /* The best cap by rank, cap growing until the artist limit leaves n songs (or nothing
     * is left). */
    size_t cap = o->max_per_artist ? o->n * 4 + 16 : o->n;
    for (;;) {
        sr_free(heap);
        size_t nh = 0;
        if ((e = select_best(&c, cap, &heap, &nh, d))) goto done;
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
            it->score = clip_pred(&c, it->fallback ? c.fallback : s[i]);
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
    sr_free(items), sr_free(r), sr_free(s), sr_free(max16), sr_free(elig), sr_free(art);
    sr_free(heap), sr_free(w);
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

bool sr_rec_has_similar(const sr_recommender *R) {
    const sr_model *m = R->model;
    return m->ops->similar || (m->ts->ir_user && m->ts->ur_item);
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
