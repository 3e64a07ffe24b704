/* ItemKNN: item-item neighbours over play counts, in the manner of the `implicit`
 * library's item-item recommenders (CosineRecommender, TFIDFRecommender,
 * BM25Recommender; Sarwar et al., "Item-based collaborative filtering recommendation
 * algorithms", WWW 2001).
 *
 *   W          the item-by-listener play counts, weighted (implicit_weight.h: none,
 *              tfidf — the default: the square root of the count times the song's idf,
 *              best on both the generated sets of BENCHMARKS.md — or bm25 with K1 =
 *              1.2, B = 0.75)
 *   sim(i, j)  cosine of rows i and j of W; each item keeps its k most similar items
 *              with sim > 0 (ties: the lower id), sorted by similarity, descending
 *   score(u, i) = sum over the songs j that u played of w(u, j) sim_j(i)
 * where sim_j(i) is i's similarity in j's list (0 when i is not among j's k neighbours —
 * `implicit`'s liked-vector times similarity-matrix product), and w(u, j) is the
 * listener's weight of j: W_ju without the listener's idf (a factor common to all their
 * terms, which changes no ranking and would zero the list of a listener who played
 * nearly everything): the count, its square root, or its BM25 term weight. Unlike
 * `implicit`'s BM25Recommender (a plain dot product of BM25 rows) the similarity is
 * always the cosine, as the issue asks. Scores are >= 0; an item nobody played, or that
 * is in none of the listener's songs' lists, scores 0.
 *
 * Fit: each item's row of similarities on its own — for every listener u of i, for
 * every other song j of u, acc[j] += W_iu W_ju — into per-thread accumulators reset
 * through a touched list, items handed out in chunks through an atomic counter. The
 * songs j are taken in ranges of XBLOCK (2^18) so that the accumulator stays in the L2
 * cache (each listener's list is cut at the range bounds once, block_offsets). Work
 * sum_u |I_u|^2 as for `implicit`'s all_pairs_knn: 28.8 G terms for 12.8 M pairs of
 * 24,580 listeners over a million songs, 170 s on 2 threads (bench/implicit_bpr.c);
 * memory the lists (8 bytes a neighbour, twice while they are gathered) plus 2 MiB per
 * thread. A row's values do not depend on the thread or the blocks, so the model does
 * not depend on the thread count. The threads, the heaps and the lists are shared with
 * the session model (item_knn.h: sr__iknn_build); this file keeps the cosine rows.
 *
 * New listeners (fold_in): their weights w(j) of their songs, everything else fixed —
 * the same formula as for a trained listener, so a listener folded in with a trained
 * listener's plays gets that listener's scores exactly. explain splits a score into its
 * natural terms, one per played song: w(j) sim_j(i). similar(i) is i's neighbour list.
 *
 * score_users (ranking evaluation) is score_user for a block of listeners into
 * range-sized rows, the same float operations in the same order, so the two agree
 * exactly; with lists sorted by id (a fitted model) each list's part in the range is
 * found by bisection instead of a scan.
 *
 * State (item_knn.h, sr_iknn_state): ptr (n_items + 1), idx and sim (nnz: each item's
 * list, by neighbour id when fitted), lnorm (n_items, BM25 length norms, ones otherwise)
 * — owned, or borrowed from a model file ("m.nb_ptr", "m.nb_idx", "m.nb_sim" as a factor
 * array: float16 in an f16 file, converted once at load; "m.lnorm"), where each list is
 * stored best first (similarity descending, then id ascending).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "models/item_knn.h"
#include "util/csr.h"
#include "util/mem.h"

enum { P_K, P_WEIGHTING, P_K1, P_B, P_COUNT };

static const sr_param_def knn_params[P_COUNT] = {
    [P_K] = {"k", SR_PARAM_INT, 100, 1, 100000, NULL, "neighbours kept per song"},
    [P_WEIGHTING] = {"weighting", SR_PARAM_CHOICE, 1, 0, 2, "none|tfidf|bm25",
                     "weighting of the play counts before the cosine"},
    [P_K1] = {"bm25_k1", SR_PARAM_REAL, 1.2, 0, 1e3, NULL, "BM25 term saturation K1"},
    [P_B] = {"bm25_b", SR_PARAM_REAL, 0.75, 0, 1, NULL, "BM25 length normalisation B"},
};

#define MAX_THREADS 64
#define ITEM_CHUNK  16
#define XBLOCK      (1u << 18) /* songs per accumulator block: 1 MiB of floats, within L2 */

static sr_iw weighting_of(const double *p) {
    return (sr_iw){(sr_iw_kind)(int)p[P_WEIGHTING], p[P_K1], p[P_B]};
}

void sr__iknn_free(void *state) {
    sr_iknn_state *s = state;
    if (!s) return;
    if (!s->mapped) {
        sr_free(s->ptr);
        sr_free(s->idx);
        sr_free(s->sim);
        sr_free(s->lnorm);
    }
    sr_free(s);
}

/* ---- building the lists (shared) ---- */

/* a is a worse neighbour than b: lower similarity, or equal and a higher id. */
static inline bool worse(sr_iknn_nb a, sr_iknn_nb b) {
    return a.sim < b.sim || (a.sim == b.sim && a.id > b.id);
}

/* Bounded min-heap (the worst at the root) of the best neighbours seen. */
static void heap_down(sr_iknn_nb *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(h[l], h[m])) m = l;
        if (r < n && worse(h[r], h[m])) m = r;
        if (m == i) return;
        sr_iknn_nb t = h[i];
        h[i] = h[m], h[m] = t;
        i = m;
    }
}

static void heap_up(sr_iknn_nb *h, size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!worse(h[i], h[p])) return;
        sr_iknn_nb t = h[i];
        h[i] = h[p], h[p] = t;
        i = p;
    }
}

void sr__iknn_offer(sr_iknn_nb *h, size_t *nh, uint32_t k, sr_iknn_nb c) {
    if (*nh < k) {
        h[*nh] = c;
        heap_up(h, (*nh)++);
    } else if (worse(h[0], c)) {
        h[0] = c;
        heap_down(h, *nh, 0);
    }
}

static int cmp_best_first(const void *a, const void *b) {
    const sr_iknn_nb x = *(const sr_iknn_nb *)a, y = *(const sr_iknn_nb *)b;
    return worse(y, x) ? -1 : worse(x, y) ? 1 : 0;
}

static int cmp_by_id(const void *a, const void *b) {
    const uint32_t x = ((const sr_iknn_nb *)a)->id, y = ((const sr_iknn_nb *)b)->id;
    return x < y ? -1 : x > y;
}

/* What the building threads share. */
typedef struct build_job {
    const sr_iknn_rows *R;
    uint32_t *cnt;     /* (n_items) list lengths */
    uint64_t *off;     /* (n_items) start of each list in its thread's buffer */
    uint8_t *owner;    /* (n_items) the thread that computed it */
    atomic_uint next;  /* next item to hand out */
    atomic_int failed; /* a thread ran out of memory */
} build_job;

/* One thread's scratch (allocated before the threads start) and its output. */
typedef struct build_worker {
    build_job *j;
    uint8_t id;
    void *scratch;    /* the model's */
    sr_iknn_nb *heap; /* (min(k, n_items)) */
    sr_iknn_nb *out;  /* this thread's lists, one after another */
    size_t n_out, cap_out;
    pthread_t tid;
    bool started;
} build_worker;

/* Item i's list into w->out, by id; false when out of memory. */
static bool build_row(build_worker *w, uint32_t i) {
    const build_job *j = w->j;
    const sr_iknn_rows *R = j->R;
    size_t nh = 0;
    R->row(R->ctx, w->scratch, i, w->heap, &nh);
    qsort(w->heap, nh, sizeof *w->heap, cmp_by_id);
    j->owner[i] = w->id;
    j->off[i] = w->n_out;
    j->cnt[i] = 0;
    if (sr_grow((void **)&w->out, &w->cap_out, w->n_out + nh, sizeof *w->out)) return false;
    if (nh) memcpy(w->out + w->n_out, w->heap, nh * sizeof *w->heap);
    w->n_out += nh;
    j->cnt[i] = (uint32_t)nh;
    return true;
}

static void *build_main(void *arg) {
    build_worker *w = arg;
    build_job *j = w->j;
    const uint32_t n = j->R->n_items;
    for (;;) {
        if (atomic_load(&j->failed)) return NULL;
        const uint32_t a = atomic_fetch_add(&j->next, ITEM_CHUNK);
        if (a >= n) return NULL;
        const uint32_t b = n - a < ITEM_CHUNK ? n : a + ITEM_CHUNK;
        for (uint32_t i = a; i < b; i++)
            if (!build_row(w, i)) {
                atomic_store(&j->failed, 1);
                return NULL;
            }
    }
}

/* The threads' lists gathered into s->ptr, idx, sim by item. */
static sr_err gather(uint32_t ni, sr_iknn_state *s, const build_job *j, const build_worker *ws) {
    s->ptr = sr_mallocarray((size_t)ni + 1, sizeof *s->ptr);
    if (!s->ptr) return SR_E_NOMEM;
    s->ptr[0] = 0;
    for (uint32_t i = 0; i < ni; i++) s->ptr[i + 1] = s->ptr[i] + j->cnt[i];
    const uint64_t nnz = s->ptr[ni];
    s->idx = sr_mallocarray(nnz ? nnz : 1, sizeof *s->idx);
    s->sim = sr_mallocarray(nnz ? nnz : 1, sizeof *s->sim);
    if (!s->idx || !s->sim) return SR_E_NOMEM;
    for (uint32_t i = 0; i < ni; i++) {
        if (!j->cnt[i]) continue; /* its thread may have no buffer at all */
        const sr_iknn_nb *src = ws[j->owner[i]].out + j->off[i];
        for (uint32_t t = 0; t < j->cnt[i]; t++)
            s->idx[s->ptr[i] + t] = src[t].id, s->sim[s->ptr[i] + t] = src[t].sim;
    }
    s->by_id = true;
    return SR_OK;
}

sr_err sr__iknn_build(const sr_iknn_rows *R, sr_iknn_state *s) {
    const uint32_t ni = R->n_items;
    const size_t n1 = ni ? ni : 1;
    uint32_t T = R->threads < 1 ? 1 : R->threads > MAX_THREADS ? MAX_THREADS : (uint32_t)R->threads;
    if (T > ni / ITEM_CHUNK + 1) T = ni / ITEM_CHUNK + 1;
    sr_err e = SR_E_NOMEM;
    build_worker ws[MAX_THREADS];
    memset(ws, 0, sizeof ws);
    build_job j = {.R = R};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    j.cnt = sr_mallocarray(n1, sizeof *j.cnt);
    j.off = sr_mallocarray(n1, sizeof *j.off);
    j.owner = sr_mallocarray(n1, sizeof *j.owner);
    if (!j.cnt || !j.off || !j.owner) goto done;
    for (uint32_t t = 0; t < T; t++) {
        build_worker *w = &ws[t];
        w->j = &j;
        w->id = (uint8_t)t;
        w->scratch = R->scratch_new(R->ctx);
        w->heap = sr_mallocarray(R->k < n1 ? R->k : n1, sizeof *w->heap);
        if (!w->scratch || !w->heap) goto done;
    }
    /* Worker 0 is this thread; a thread that cannot start leaves its items to the rest. */
    for (uint32_t t = 1; t < T; t++)
        ws[t].started = pthread_create(&ws[t].tid, NULL, build_main, &ws[t]) == 0;
    build_main(&ws[0]);
    for (uint32_t t = 1; t < T; t++)
        if (ws[t].started) pthread_join(ws[t].tid, NULL);
    if (atomic_load(&j.failed)) goto done;
    e = gather(ni, s, &j, ws);
done:
    for (uint32_t t = 0; t < T; t++) {
        if (ws[t].scratch) R->scratch_free(ws[t].scratch);
        sr_free(ws[t].heap);
        sr_free(ws[t].out);
    }
    sr_free(j.cnt), sr_free(j.off), sr_free(j.owner);
    return e;
}

/* ---- fit: cosine rows ---- */

/* What the cosine rows share. */
typedef struct knn_job {
    const sr_trainset *ts;
    const float *wu;    /* (n) W of each pair, by-user order */
    const float *wi;    /* (n) W of each pair, by-item order */
    const double *norm; /* (n_items) |W_i| */
    uint32_t k;
    /* Accumulator blocks: the songs in XBLOCK-sized ranges, and where each range starts
     * in each user's (ascending) list, or NULL with one block. */
    uint32_t n_blocks;
    const uint64_t *xoff; /* (n_users, n_blocks + 1) */
} knn_job;

/* One thread's accumulators. */
typedef struct knn_scratch {
    float *acc;        /* (min(n_items, XBLOCK)) zero between uses */
    uint32_t *touched; /* (min(n_items, XBLOCK)) */
} knn_scratch;

static void scratch_free(void *scratch) {
    knn_scratch *w = scratch;
    if (!w) return;
    sr_free(w->acc);
    sr_free(w->touched);
    sr_free(w);
}

static void *scratch_new(void *ctx) {
    const knn_job *j = ctx;
    const size_t n1 = j->ts->n_items ? j->ts->n_items : 1, m = n1 < XBLOCK ? n1 : XBLOCK;
    knn_scratch *w = sr_calloc(1, sizeof *w);
    if (!w) return NULL;
    w->acc = sr_calloc(m, sizeof *w->acc);
    w->touched = sr_mallocarray(m, sizeof *w->touched);
    if (!w->acc || !w->touched) {
        scratch_free(w);
        return NULL;
    }
    return w;
}

/* Block b of item i's similarities: the sums over i's listeners for the songs of
 * [b XBLOCK, (b + 1) XBLOCK), offered to the heap. A slot is untouched while 0: every
 * term added is > 0 (weights of positive counts, zero weights skipped). */
static void item_block(const knn_job *j, knn_scratch *w, uint32_t i, uint32_t b, sr_iknn_nb *heap,
                       size_t *nh) {
    const sr_trainset *ts = j->ts;
    const uint32_t base = b * XBLOCK, stride = j->n_blocks + 1;
    size_t nt = 0;
    for (uint64_t q = ts->item_ptr[i]; q < ts->item_ptr[i + 1]; q++) {
        const float a = j->wi[q];
        if (a == 0) continue;
        const uint32_t u = ts->ir_user[q];
        uint64_t r = ts->user_ptr[u], end = ts->user_ptr[u + 1];
        if (j->xoff) r = j->xoff[(size_t)u * stride + b], end = j->xoff[(size_t)u * stride + b + 1];
        for (; r < end; r++) {
            const uint32_t x = ts->ur_item[r];
            const float v = j->wu[r];
            if (x == i || v == 0) continue;
            float *acc = w->acc + (x - base);
            if (*acc == 0) w->touched[nt++] = x;
            *acc += a * v;
        }
    }
    for (size_t t = 0; t < nt; t++) {
        const uint32_t x = w->touched[t];
        const double den = j->norm[i] * j->norm[x];
        const sr_iknn_nb c = {den > 0 ? (float)(w->acc[x - base] / den) : 0.0f, x};
        w->acc[x - base] = 0;
        if (c.sim > 0) sr__iknn_offer(heap, nh, j->k, c);
    }
}

/* Item i's candidates (sr_iknn_rows.row). */
static void item_row(void *ctx, void *scratch, uint32_t i, sr_iknn_nb *heap, size_t *nh) {
    const knn_job *j = ctx;
    if (!(j->norm[i] > 0)) return;
    for (uint32_t b = 0; b < j->n_blocks; b++) item_block(j, scratch, i, b, heap, nh);
}

/* The weighted values of every pair in both orders and each item's norm. */
static sr_err weigh(const sr_trainset *ts, const sr_iknn_state *s, float *wu, float *wi,
                    double *norm) {
    float *idf = sr_mallocarray(ts->n_users ? ts->n_users : 1, sizeof *idf);
    if (!idf) return SR_E_NOMEM;
    sr__iw_idf(&s->w, ts, idf);
    for (uint32_t u = 0; u < ts->n_users; u++)
        for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++) {
            const uint32_t i = ts->ur_item[q];
            wu[q] = (float)(sr__iw_tf(&s->w, ts->ur_r[q], s->lnorm[i]) * idf[u]);
        }
    for (uint32_t i = 0; i < ts->n_items; i++) {
        double nn = 0;
        for (uint64_t q = ts->item_ptr[i]; q < ts->item_ptr[i + 1]; q++) {
            const uint32_t u = ts->ir_user[q];
            wi[q] = (float)(sr__iw_tf(&s->w, ts->ir_r[q], s->lnorm[i]) * idf[u]);
            nn += (double)wi[q] * wi[q];
        }
        norm[i] = sqrt(nn);
    }
    sr_free(idf);
    return SR_OK;
}

/* Where each XBLOCK range of songs starts in each user's list: (n_users, B + 1). Returns
 * new, NULL when out of memory. */
static uint64_t *block_offsets(const sr_trainset *ts, uint32_t B) {
    uint64_t *off = sr_mallocarray((size_t)ts->n_users * (B + 1) + 1, sizeof *off);
    if (!off) return NULL;
    for (uint32_t u = 0; u < ts->n_users; u++) {
        uint64_t q = ts->user_ptr[u];
        for (uint32_t b = 0; b < B; b++) {
            while (q < ts->user_ptr[u + 1] && ts->ur_item[q] < (uint64_t)b * XBLOCK) q++;
            off[(size_t)u * (B + 1) + b] = q;
        }
        off[(size_t)u * (B + 1) + B] = ts->user_ptr[u + 1];
    }
    return off;
}

/* Every item's list into s->ptr, idx, sim, on up to `threads` threads. */
static sr_err neighbours(const sr_trainset *ts, sr_iknn_state *s, uint32_t k, int threads) {
    const uint32_t ni = ts->n_items;
    sr_err e = SR_E_NOMEM;
    knn_job j = {.ts = ts, .k = k, .n_blocks = ni > XBLOCK ? (ni - 1) / XBLOCK + 1 : 1};
    uint64_t *xoff = NULL;
    float *wu = sr_mallocarray(ts->n ? ts->n : 1, sizeof *wu);
    float *wi = sr_mallocarray(ts->n ? ts->n : 1, sizeof *wi);
    double *norm = sr_mallocarray(ni ? ni : 1, sizeof *norm);
    if (j.n_blocks > 1) j.xoff = xoff = block_offsets(ts, j.n_blocks);
    if (!wu || !wi || !norm || (j.n_blocks > 1 && !xoff) || weigh(ts, s, wu, wi, norm)) goto done;
    j.wu = wu, j.wi = wi, j.norm = norm;
    const sr_iknn_rows R = {.n_items = ni,
                            .k = k,
                            .threads = threads,
                            .ctx = &j,
                            .scratch_new = scratch_new,
                            .scratch_free = scratch_free,
                            .row = item_row};
    e = sr__iknn_build(&R, s);
done:
    sr_free(wu), sr_free(wi), sr_free(norm), sr_free(xoff);
    return e;
}

static sr_err knn_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                      sr_diag *d) {
    *state = NULL;
    if (!(p[P_K] >= 1) || !(p[P_WEIGHTING] >= 0 && p[P_WEIGHTING] <= 2) || !(p[P_K1] >= 0) ||
        !(p[P_B] >= 0 && p[P_B] <= 1))
        return sr_diag_set(d, SR_E_USAGE,
                           "ItemKNN: k must be >= 1, weighting none|tfidf|bm25, bm25_k1 >= 0 "
                           "and bm25_b in [0, 1]");
    sr_iknn_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "ItemKNN: out of memory");
    s->w = weighting_of(p);
    s->lnorm = sr_mallocarray(ts->n_items ? ts->n_items : 1, sizeof *s->lnorm);
    if (!s->lnorm) {
        sr__iknn_free(s);
        return sr_diag_set(d, SR_E_NOMEM, "ItemKNN: out of memory");
    }
    sr__iw_lnorm(&s->w, ts, s->lnorm);
    const uint32_t k = p[P_K] > 1e9 ? 1000000000u : (uint32_t)p[P_K];
    sr_err e = neighbours(ts, s, k, c ? c->threads : 1);
    if (e) {
        sr__iknn_free(s);
        return sr_diag_set(d, e, "ItemKNN: out of memory for the neighbour lists of %u songs",
                           ts->n_items);
    }
    *state = s;
    return SR_OK;
}

/* ---- scores (shared) ---- */

/* sim_j(i): i's similarity in j's list, 0 when absent. */
static double sim_in(const sr_iknn_state *s, uint32_t j, uint32_t i) {
    if (s->by_id) {
        const uint64_t t = sr__iw_lower_bound(s->idx, s->ptr[j], s->ptr[j + 1], i);
        return t < s->ptr[j + 1] && s->idx[t] == i ? s->sim[t] : 0;
    }
    for (uint64_t t = s->ptr[j]; t < s->ptr[j + 1]; t++)
        if (s->idx[t] == i) return s->sim[t];
    return 0;
}

/* The listener's weight of a song with count c. */
static inline double user_weight(const sr_iknn_state *s, uint32_t j, double c) {
    return sr__iw_tf(&s->w, c, s->lnorm[j]);
}

/* out[i - lo] for i in [lo, hi) = sum over the n songs items[] with weights wt[] (or
 * counts r[] weighed here when wt is NULL) of w sim_j(i), the songs taken in order. The
 * one kernel of score_user, score_users and score_new, so that they agree exactly. */
static void scatter(const sr_iknn_state *s, const uint32_t *items, const float *wt, const float *r,
                    size_t n, float *out, uint32_t lo, uint32_t hi) {
    for (uint32_t i = lo; i < hi; i++) out[i - lo] = 0;
    for (size_t q = 0; q < n; q++) {
        const uint32_t j = items[q];
        const float w = wt ? wt[q] : (float)user_weight(s, j, r[q]);
        const uint64_t end = s->ptr[j + 1];
        if (s->by_id) { /* the part of the list in [lo, hi): one bisection */
            for (uint64_t t = sr__iw_lower_bound(s->idx, s->ptr[j], end, lo);
                 t < end && s->idx[t] < hi; t++)
                out[s->idx[t] - lo] += w * s->sim[t];
            continue;
        }
        for (uint64_t t = s->ptr[j]; t < end; t++) {
            const uint32_t i = s->idx[t];
            if (i >= lo && i < hi) out[i - lo] += w * s->sim[t];
        }
    }
}

bool sr__iknn_estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                       double *est) {
    const sr_iknn_state *s = state;
    double e = 0;
    if (u < ts->n_users && i < ts->n_items)
        for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++) {
            const uint32_t j = ts->ur_item[q];
            e += user_weight(s, j, ts->ur_r[q]) * sim_in(s, j, i);
        }
    *est = e;
    return true;
}

/* A trained listener's scores of [lo, hi) into out[0 .. hi - lo). */
static void user_scores(const sr_iknn_state *s, const sr_trainset *ts, uint32_t u, float *out,
                        uint32_t lo, uint32_t hi) {
    if (u >= ts->n_users) {
        for (uint32_t i = lo; i < hi; i++) out[i - lo] = 0;
        return;
    }
    const uint64_t a = ts->user_ptr[u];
    scatter(s, ts->ur_item + a, NULL, ts->ur_r + a, (size_t)(ts->user_ptr[u + 1] - a), out, lo, hi);
}

void sr__iknn_score_user(const void *state, const sr_trainset *ts, uint32_t u, float *out,
                         uint32_t lo, uint32_t hi) {
    user_scores(state, ts, u, out + lo, lo, hi);
}

void sr__iknn_score_users(const void *state, const sr_trainset *ts, const uint32_t *users, size_t n,
                          float *out, size_t ldo, uint32_t lo, uint32_t hi) {
    for (size_t x = 0; x < n; x++) user_scores(state, ts, users[x], out + x * ldo, lo, hi);
}

/* ---- model files (shared) ---- */

/* Stored best first: each list is copied into writer-owned memory and sorted there when
 * the state keeps it by id. */
void sr__iknn_save(const void *state, const sr_trainset *ts, sr_srm_writer *w) {
    const sr_iknn_state *s = state;
    const uint64_t nnz = s->ptr[ts->n_items];
    const uint32_t *idx = s->idx;
    const float *sim = s->sim;
    if (s->by_id) {
        uint64_t longest = 0;
        for (uint32_t j = 0; j < ts->n_items; j++)
            if (s->ptr[j + 1] - s->ptr[j] > longest) longest = s->ptr[j + 1] - s->ptr[j];
        uint32_t *bi = sr_srm_writer_alloc(w, (size_t)(nnz ? nnz : 1) * sizeof *bi);
        float *bs = sr_srm_writer_alloc(w, (size_t)(nnz ? nnz : 1) * sizeof *bs);
        sr_iknn_nb *row = sr_srm_writer_alloc(w, (size_t)(longest ? longest : 1) * sizeof *row);
        if (!bi || !bs || !row) return; /* the writer's error is sticky */
        for (uint32_t j = 0; j < ts->n_items; j++) {
            const uint64_t a = s->ptr[j], L = s->ptr[j + 1] - a;
            for (uint64_t t = 0; t < L; t++) row[t] = (sr_iknn_nb){s->sim[a + t], s->idx[a + t]};
            qsort(row, (size_t)L, sizeof *row, cmp_best_first);
            for (uint64_t t = 0; t < L; t++) bi[a + t] = row[t].id, bs[a + t] = row[t].sim;
        }
        idx = bi, sim = bs;
    }
    sr_srm_put(w, "m.nb_ptr", SR_SRM_U64, s->ptr, (uint64_t)ts->n_items + 1);
    sr_srm_put(w, "m.nb_idx", SR_SRM_U32, idx, nnz);
    sr_srm_put_factors(w, "m.nb_sim", sim, nnz, 1, 1);
    sr_srm_put(w, "m.lnorm", SR_SRM_F32, s->lnorm, ts->n_items);
}

sr_err sr__iknn_load(sr_srm *r, const sr_trainset *ts, sr_iw iw, void **state, sr_diag *d) {
    *state = NULL;
    const void *ptr, *idx, *lnorm;
    const float *sim = NULL;
    uint64_t nnz = 0;
    sr_err e = sr_srm_get(r, "m.nb_idx", SR_SRM_U32, UINT64_MAX, &idx, &nnz, d);
    if (!e) e = sr_srm_get(r, "m.nb_ptr", SR_SRM_U64, (uint64_t)ts->n_items + 1, &ptr, NULL, d);
    if (!e) e = sr_srm_get(r, "m.lnorm", SR_SRM_F32, ts->n_items, &lnorm, NULL, d);
    if (e) return e;
    bool ok = sr_csr_ptr_ok(ptr, ts->n_items, nnz) && sr_csr_ids_ok(idx, nnz, ts->n_items);
    for (uint32_t i = 0; ok && i < ts->n_items; i++) {
        const float L = ((const float *)lnorm)[i];
        ok = L >= 0 && L < 1e30f;
    }
    if (!ok) return sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt neighbour lists", sr_srm_path(r));
    e = sr_srm_get_factors(r, "m.nb_sim", nnz, 1, 1, &sim, d);
    if (e) return e;
    sr_iknn_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    s->ptr = (uint64_t *)ptr;
    s->idx = (uint32_t *)idx;
    s->sim = (float *)sim;
    s->lnorm = (float *)lnorm;
    s->w = iw;
    s->mapped = true;
    *state = s;
    return SR_OK;
}

static sr_err knn_load(sr_srm *r, const sr_trainset *ts, const double *p, void **state,
                       sr_diag *d) {
    return sr__iknn_load(r, ts, weighting_of(p), state, d);
}

/* ---- new listeners (shared) ---- */

/* A folded-in listener: the weight of each of their songs (parallel to the newuser's). */
typedef struct knn_user {
    float *w; /* (n) */
} knn_user;

void sr__iknn_user_free(void *ustate) {
    knn_user *ku = ustate;
    if (!ku) return;
    sr_free(ku->w);
    sr_free(ku);
}

sr_err sr__iknn_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *u,
                        sr_diag *d) {
    const sr_iknn_state *s = state;
    u->state = NULL;
    knn_user *ku = sr_calloc(1, sizeof *ku);
    if (!ku || !(ku->w = sr_mallocarray(u->n ? u->n : 1, sizeof *ku->w))) {
        sr_free(ku);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    for (size_t q = 0; q < u->n; q++) ku->w[q] = (float)user_weight(s, u->items[q], u->r[q]);
    u->state = ku;
    return SR_OK;
}

bool sr__iknn_estimate_new(const void *state, const sr_trainset *ts, const sr_newuser *u,
                           uint32_t i, double *est) {
    const sr_iknn_state *s = state;
    const knn_user *ku = u->state;
    double e = 0;
    if (i < ts->n_items)
        for (size_t q = 0; q < u->n; q++) e += (double)ku->w[q] * sim_in(s, u->items[q], i);
    *est = e;
    return true;
}

void sr__iknn_score_new(const void *state, const sr_trainset *ts, const sr_newuser *u, float *out,
                        uint32_t lo, uint32_t hi) {
    const knn_user *ku = u->state;
    scatter(state, u->items, ku->w, NULL, u->n, out + lo, lo, hi);
}

/* Each played song's term w(j) sim_j(i); they sum to the score, all of it personal. */
bool sr__iknn_explain(const void *state, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                      double *w) {
    const sr_iknn_state *s = state;
    const knn_user *ku = u->state;
    for (size_t q = 0; q < u->n; q++)
        w[q] = i < ts->n_items ? (double)ku->w[q] * sim_in(s, u->items[q], i) : 0;
    return true;
}

/* i's neighbour list; NaN for the songs not on it. */
bool sr__iknn_similar(const void *state, const sr_trainset *ts, uint32_t i, float *out) {
    const sr_iknn_state *s = state;
    if (i >= ts->n_items) return false;
    for (uint32_t j = 0; j < ts->n_items; j++) out[j] = NAN;
    for (uint64_t t = s->ptr[i]; t < s->ptr[i + 1]; t++) out[s->idx[t]] = s->sim[t];
    return true;
}

const sr_model_ops sr_model_item_knn = {
    .name = "itemknn",
    .surprise = "ItemKNN",
    .summary = "item-item neighbours over play counts (cosine of none/tf-idf/BM25 weights)",
    .params = knn_params,
    .n_params = P_COUNT,
    .fit = knn_fit,
    .load = knn_load,
    SR_IKNN_OPS_COMMON,
};
