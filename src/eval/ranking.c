/* Ranking evaluation (ranking.h): splits, top-k lists, metrics.
 *
 * The evaluation runs in three steps on the calling thread and `threads - 1` workers:
 *   1. the split mask, the trainset of its complement, the fit;
 *   2. the relevant songs of every listener (a CSR of their test pairs: sorted, unique,
 *      known to the trainset, not also in their training pairs) and the listeners to
 *      evaluate (known to the trainset, at least one relevant song; maybe a sample);
 *   3. blocks of listeners: for each range of songs, every listener of the block is
 *      scored on the range and the range is offered to their k-entry heap (their
 *      training songs and unknown songs skipped); then each list is judged.
 * Each thread owns its buffers (allocated before any thread starts, so a worker cannot
 * fail); per-listener figures go to one array, indexed by the listener's position, and
 * are summed in that order at the end.
 */
#include "eval/ranking.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval/split.h"
#include "util/mem.h"
#include "util/rng.h"

#define MAX_THREADS  64
#define BLOCK_MAX    16                  /* listeners scored together */
#define BLOCK_MULTI  256                 /* ... by a model with score_users */
#define CHUNK        1024                /* songs per range: 256 KiB of 64 float factors */
#define SCORE_BUDGET ((size_t)256 << 20) /* bytes of score buffers, all threads */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- options and names ---------------------------------------------------------- */

void sr_rank_opts_default(sr_rank_opts *o) {
    memset(o, 0, sizeof *o);
    o->split = SR_RANK_HOLDOUT;
    o->holdout = 0.2;
    o->last_n = 1;
    o->k = 10;
    o->threads = 1;
    o->time_cut = SR_RANK_NO_CUT;
}

static const char *const split_names[] = {"holdout", "last_n", "time"};

const char *sr_rank_split_name(sr_rank_split s) {
    return (unsigned)s < 3 ? split_names[s] : "?";
}

int sr_rank_split_find(const char *name) {
    for (int s = 0; s < 3; s++)
        if (!strcmp(name, split_names[s])) return s;
    if (!strcmp(name, "last")) return SR_RANK_LAST_N;
    return -1;
}

static const char *const metric_names[SR_RANK__COUNT] = {
    "precision", "recall",  "ndcg",      "map",         "hit_rate",
    "coverage",  "novelty", "diversity", "new_artists", "hits",
};

const char *sr_rank_metric_name(sr_rank_metric m) {
    return (unsigned)m < SR_RANK__COUNT ? metric_names[m] : "?";
}

bool sr_rank_metric_higher_better(sr_rank_metric m) {
    (void)m;
    return true;
}

static const struct {
    const char *name;
    sr_rank_metric m;
} metric_aliases[] = {
    {"prec", SR_RANK_PRECISION},         {"hr", SR_RANK_HIT_RATE},
    {"hitrate", SR_RANK_HIT_RATE},       {"played_next", SR_RANK_HITS},
    {"newartists", SR_RANK_NEW_ARTISTS},
};

sr_err sr_rank_metric_parse(const char *s, sr_rank_metric *m, unsigned *k) {
    char name[32];
    size_t n = strcspn(s, "@");
    if (n == 0 || n >= sizeof name) return SR_E_USAGE;
    for (size_t j = 0; j < n; j++) name[j] = (char)tolower((unsigned char)s[j]);
    name[n] = 0;
    int found = -1;
    for (int j = 0; j < SR_RANK__COUNT; j++)
        if (!strcmp(name, metric_names[j])) found = j;
    for (size_t j = 0; j < sizeof metric_aliases / sizeof *metric_aliases; j++)
        if (!strcmp(name, metric_aliases[j].name)) found = (int)metric_aliases[j].m;
    if (found < 0) return SR_E_USAGE;
    unsigned long kv = 0;
    if (s[n] == '@') {
        const char *p = s + n + 1;
        if (!*p) return SR_E_USAGE;
        for (; *p; p++) {
            if (!isdigit((unsigned char)*p)) return SR_E_USAGE;
            kv = kv * 10 + (unsigned long)(*p - '0');
            if (kv > SR_RANK_MAX_K) return SR_E_USAGE;
        }
        if (kv == 0) return SR_E_USAGE;
    }
    *m = (sr_rank_metric)found;
    if (k) *k = (unsigned)kv;
    return SR_OK;
}

static sr_err check_k(const sr_rank_opts *o, sr_diag *d) {
    if (o->k < 1 || o->k > SR_RANK_MAX_K)
        return sr_diag_set(d, SR_E_USAGE, "k must be 1..%d (got %u)", SR_RANK_MAX_K, o->k);
    return SR_OK;
}

static sr_err check_opts(const sr_rank_opts *o, sr_diag *d) {
    sr_err e = check_k(o, d);
    if (e) return e;
    switch (o->split) {
    case SR_RANK_HOLDOUT:
        if (!(o->holdout > 0 && o->holdout < 1))
            return sr_diag_set(d, SR_E_USAGE, "the holdout share must be in (0, 1) (got %g)",
                               o->holdout);
        return SR_OK;
    case SR_RANK_LAST_N:
        if (o->last_n < 1) return sr_diag_set(d, SR_E_USAGE, "last_n must be at least 1");
        return SR_OK;
    case SR_RANK_TIME:
        if (o->time_cut == SR_RANK_NO_CUT)
            return sr_diag_set(d, SR_E_USAGE,
                               "a time split needs its cut: --test-after DATE (pairs first heard "
                               "on or after DATE are tested)");
        return SR_OK;
    }
    return sr_diag_set(d, SR_E_USAGE, "unknown ranking split %d", (int)o->split);
}

/* ---- splits ------------------------------------------------------------------- */

/* Per user, round(holdout * n) of n pairs by selection sampling (Knuth's algorithm S):
 * the pair seen with `left` pairs of the user still to come is taken with probability
 * need / left, the uniform draw coming from hash(seed, user, left). */
static sr_err mask_holdout(const sr_ratings *rs, const sr_rank_opts *o, uint8_t *test) {
    uint64_t *left = sr_calloc((size_t)rs->n_users + 1, sizeof *left);
    uint64_t *need = sr_mallocarray((size_t)rs->n_users + 1, sizeof *need);
    if (!left || !need) {
        sr_free(left), sr_free(need);
        return SR_E_NOMEM;
    }
    for (uint64_t j = 0; j < rs->n; j++) left[rs->user[j]]++;
    const uint64_t floor_n = o->min_pairs > 2 ? o->min_pairs : 2;
    for (uint32_t u = 0; u < rs->n_users; u++) {
        need[u] = 0;
        if (left[u] < floor_n) continue;
        double want = floor(o->holdout * (double)left[u] + 0.5);
        uint64_t t = want < 1 ? 1 : (uint64_t)want;
        need[u] = t < left[u] ? t : left[u] - 1;
    }
    const uint64_t useed = sr_hash64(o->seed ^ 0x686f6c646f7574ULL); /* "holdout" */
    for (uint64_t j = 0; j < rs->n; j++) {
        uint32_t u = rs->user[j];
        test[j] = 0;
        if (need[u]) {
            uint64_t h = sr_hash2(sr_hash2(useed, u), left[u]);
            uint64_t draw = (uint64_t)(((__uint128_t)h * left[u]) >> 64); /* [0, left) */
            if (draw < need[u]) test[j] = 1, need[u]--;
        }
        left[u]--;
    }
    sr_free(left), sr_free(need);
    return SR_OK;
}

/* (ts, index) order: a later first listen, or the later pair at equal times. */
static inline bool later(const uint32_t *ts, uint64_t a, uint64_t b) {
    return ts[a] > ts[b] || (ts[a] == ts[b] && a > b);
}

/* Per user, a min-heap (earliest at the root) of the last_n latest pairs. */
static sr_err mask_last_n(const sr_ratings *rs, const sr_rank_opts *o, uint8_t *test) {
    const uint64_t N = o->last_n;
    uint64_t *cnt = sr_calloc((size_t)rs->n_users + 1, sizeof *cnt);
    uint64_t *heap = sr_mallocarray(((size_t)rs->n_users + 1), N * sizeof *heap);
    uint32_t *fill = sr_calloc((size_t)rs->n_users + 1, sizeof *fill);
    if (!cnt || !heap || !fill || N > UINT32_MAX) {
        sr_free(cnt), sr_free(heap), sr_free(fill);
        return SR_E_NOMEM;
    }
    for (uint64_t j = 0; j < rs->n; j++) cnt[rs->user[j]]++;
    const uint64_t floor_n = o->min_pairs > N + 1 ? o->min_pairs : N + 1;
    const uint32_t *ts = rs->ts;
    for (uint64_t j = 0; j < rs->n; j++) {
        uint32_t u = rs->user[j];
        test[j] = 0;
        if (cnt[u] < floor_n) continue;
        uint64_t *h = heap + (size_t)u * N;
        uint64_t n = fill[u], c;
        if (n < N) { /* push, sift up */
            c = n;
            fill[u]++;
        } else if (later(ts, j, h[0])) { /* replace the root, sift down */
            c = 0;
            for (;;) {
                uint64_t l = 2 * c + 1, r = l + 1, m = c, mv = j;
                if (l < N && later(ts, mv, h[l])) m = l, mv = h[l];
                if (r < N && later(ts, mv, h[r])) m = r;
                if (m == c) break;
                h[c] = h[m];
                c = m;
            }
            h[c] = j;
            continue;
        } else
            continue;
        while (c > 0 && later(ts, h[(c - 1) / 2], j)) {
            h[c] = h[(c - 1) / 2];
            c = (c - 1) / 2;
        }
        h[c] = j;
    }
    for (uint32_t u = 0; u < rs->n_users; u++)
        for (uint32_t q = 0; q < fill[u]; q++) test[heap[(size_t)u * N + q]] = 1;
    sr_free(cnt), sr_free(heap), sr_free(fill);
    return SR_OK;
}

sr_err sr_rank_split_mask(const sr_ratings *rs, const sr_rank_opts *o, uint8_t *test, sr_diag *d) {
    sr_err e = check_opts(o, d);
    if (e) return e;
    if (o->split == SR_RANK_LAST_N && !rs->ts)
        return sr_diag_set(d, SR_E_INPUT, "a last-N split needs listen times; the data has none");
    /* A cut outside the data's times: said with the range (split.h), before the mask. */
    if (o->split == SR_RANK_TIME && (e = sr_split_time_check(rs, o->time_cut, "pair", d))) return e;
    if (o->split == SR_RANK_HOLDOUT)
        e = mask_holdout(rs, o, test);
    else if (o->split == SR_RANK_LAST_N)
        e = mask_last_n(rs, o, test);
    else
        for (uint64_t j = 0; j < rs->n; j++)
            test[j] = rs->ts[j] && (int64_t)rs->ts[j] >= o->time_cut;
    if (e) return sr_diag_set(d, e, "out of memory");
    uint64_t n_test = 0;
    for (uint64_t j = 0; j < rs->n; j++) n_test += test[j];
    if (n_test == 0)
        return sr_diag_set(d, SR_E_RANGE, "the %s split tests nothing (too few pairs per listener)",
                           sr_rank_split_name(o->split));
    if (n_test == rs->n)
        return sr_diag_set(d, SR_E_RANGE, "the %s split leaves nothing to train on",
                           sr_rank_split_name(o->split));
    return SR_OK;
}

/* ---- metrics of one list ----------------------------------------------------------- */

static bool contains(const uint32_t *a, size_t n, uint32_t x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == x;
}

void sr_rank_metrics_of_list(const uint32_t *list, size_t n, unsigned k, const uint32_t *rel,
                             size_t n_rel, sr_rank_list *out) {
    memset(out, 0, sizeof *out);
    if (k == 0 || n_rel == 0) return;
    if (n > k) n = k;
    unsigned h = 0;
    double dcg = 0, ap = 0;
    for (size_t r = 0; r < n; r++)
        if (contains(rel, n_rel, list[r])) {
            h++;
            dcg += 1 / log2((double)r + 2);
            ap += (double)h / (double)(r + 1);
        }
    size_t ideal = n_rel < k ? n_rel : k;
    double idcg = 0;
    for (size_t r = 0; r < ideal; r++) idcg += 1 / log2((double)r + 2);
    out->hits = h;
    out->precision = (double)h / k;
    out->recall = (double)h / (double)n_rel;
    out->ndcg = dcg / idcg;
    out->ap = ap / (double)ideal;
    out->hit = h > 0;
}

double sr_rank_novelty_of_list(const uint32_t *list, size_t n, const uint32_t *pop,
                               uint32_t n_users) {
    if (n == 0) return 0;
    double s = 0;
    for (size_t r = 0; r < n; r++) s -= log2((double)pop[list[r]] / (double)n_users);
    return s / (double)n;
}

/* ---- top-k heap ------------------------------------------------------------------ */

typedef struct hent {
    float s;
    uint32_t i;
} hent;

/* a ranks before b: higher score, then lower id. */
static inline bool before(hent a, hent b) {
    return a.s > b.s || (a.s == b.s && a.i < b.i);
}

typedef struct topk {
    hent *h; /* (k) worst at the root */
    unsigned n, k;
} topk;

static void sift_down(hent *h, unsigned n, unsigned c) {
    hent x = h[c];
    for (;;) {
        unsigned l = 2 * c + 1, r = l + 1, m = c;
        hent mv = x;
        if (l < n && before(mv, h[l])) m = l, mv = h[l];
        if (r < n && before(mv, h[r])) m = r;
        if (m == c) break;
        h[c] = h[m];
        c = m;
    }
    h[c] = x;
}

static inline void topk_offer(topk *t, float s, uint32_t i) {
    hent x = {s, i};
    if (t->n == t->k) {
        if (!before(x, t->h[0])) return;
        t->h[0] = x;
        sift_down(t->h, t->n, 0);
        return;
    }
    unsigned c = t->n++;
    while (c > 0 && before(t->h[(c - 1) / 2], x)) {
        t->h[c] = t->h[(c - 1) / 2];
        c = (c - 1) / 2;
    }
    t->h[c] = x;
}

/* Heap sort in place: best first. */
static void topk_sort(topk *t) {
    for (unsigned m = t->n; m > 1; m--) {
        hent w = t->h[0];
        t->h[0] = t->h[m - 1];
        t->h[m - 1] = w;
        sift_down(t->h, m - 1, 0);
    }
}

/* ---- evaluation ------------------------------------------------------------------ */

typedef struct ufig {
    double precision, recall, ndcg, ap, hit, novelty, diversity, new_artists;
    uint32_t hits, n, distinct;
} ufig;

typedef struct job {
    const sr_model *m;
    const sr_trainset *ts;
    const uint64_t *tptr; /* (n_users + 1) relevant songs of each user */
    const uint32_t *titem;
    const uint32_t *users; /* (n_eval) ascending */
    uint32_t n_eval;
    const uint8_t *known; /* (n_items) */
    const uint32_t *pop;  /* (n_items) training listeners */
    uint32_t n_train_users;
    const uint32_t *item_artist;
    unsigned k, block;
    float fallback, lo, hi;
    bool clip;
    ufig *fig; /* (n_eval) */
    const sr_log *log;
    atomic_uint next;
    atomic_uint done;
} job;

typedef struct wstate {
    job *J;
    float *buf;      /* (block, n_items) */
    hent *heap;      /* (block, k) */
    topk *tk;        /* (block) */
    uint64_t *cur;   /* (block) cursor into each user's training songs */
    uint32_t *list;  /* (k) */
    uint8_t *cov;    /* (n_items) recommended by this thread */
    uint32_t *umark; /* (n_artists) artists of the user's training songs, by stamp */
    uint32_t *lmark; /* (n_artists) artists of the list, by stamp */
    bool main;
} wstate;

/* Raw estimates of u for songs [lo, hi) (NaN: impossible). */
static void fill(const job *J, uint32_t u, float *buf, uint32_t lo, uint32_t hi) {
    const sr_model *m = J->m;
    if (m->ops->score_user) {
        m->ops->score_user(m->state, m->ts, u, buf, lo, hi);
        return;
    }
    for (uint32_t i = lo; i < hi; i++) {
        double e;
        buf[i] = J->known[i] && m->ops->estimate(m->state, m->ts, u, i, &e) ? (float)e : NAN;
    }
}

/* sr_model_predict's meaning of a raw estimate. */
static inline float rank_score(const job *J, float s) {
    if (!isfinite(s)) return J->fallback;
    if (J->clip) s = s < J->lo ? J->lo : s > J->hi ? J->hi : s;
    return s;
}

/* Offers songs [lo, hi) (scores in buf[0 .. hi - lo)) but the user's training songs
 * (train[*cur..end), ascending) and songs unknown to the trainset. Once the heap is full, a raw
 * score below its worst cannot enter: clipping to [lo, hi] cannot lift it past a worst that is
 * itself on the scale (a tie loses to the earlier, lower id), so only finite scores below the worst
 * are skipped unread; a non-finite one still goes through rank_score's fallback. */
static void offer_range(const job *J, topk *t, const float *buf, uint32_t lo, uint32_t hi,
                        uint64_t *cur, uint64_t end) {
    const uint32_t *train = J->ts->ur_item;
    uint32_t i = lo;
    while (i < hi) {
        while (*cur < end && train[*cur] < i) (*cur)++;
        uint32_t stop = *cur < end && train[*cur] < hi ? train[*cur] : hi;
        if (t->n == t->k) /* skip runs of 16 that cannot enter (a loop that vectorises) */
            for (float worst = t->h[0].s; i + 16 <= stop; i += 16) {
                const float *v = buf + (i - lo);
                int below = 0; /* finite or +inf, and below the worst */
                for (int q = 0; q < 16; q++) below += (v[q] < worst) & (v[q] > -INFINITY);
                if (below != 16) break;
            }
        for (; i < stop; i++) {
            const float raw = buf[i - lo];
            if (t->n == t->k && raw < t->h[0].s && raw > -INFINITY) continue; /* most songs */
            if (!J->known[i]) continue;
            topk_offer(t, rank_score(J, raw), i);
        }
        if (stop < hi) i = stop + 1;
    }
}

/* Judges the list of evaluated user number x. */
static void judge(const job *J, wstate *w, uint32_t x, topk *t) {
    const sr_trainset *ts = J->ts;
    const uint32_t u = J->users[x];
    topk_sort(t);
    for (unsigned r = 0; r < t->n; r++) w->list[r] = t->h[r].i;
    const uint32_t *rel = J->titem + J->tptr[u];
    const size_t n_rel = (size_t)(J->tptr[u + 1] - J->tptr[u]);
    sr_rank_list L;
    sr_rank_metrics_of_list(w->list, t->n, J->k, rel, n_rel, &L);
    ufig *f = &J->fig[x];
    f->precision = L.precision, f->recall = L.recall, f->ndcg = L.ndcg, f->ap = L.ap;
    f->hit = L.hit, f->hits = L.hits, f->n = t->n;
    f->novelty = sr_rank_novelty_of_list(w->list, t->n, J->pop, J->n_train_users);
    for (unsigned r = 0; r < t->n; r++) w->cov[w->list[r]] = 1;
    if (!J->item_artist) return;
    const uint32_t stamp = x + 1;
    for (uint64_t p = ts->user_ptr[u]; p < ts->user_ptr[u + 1]; p++)
        w->umark[J->item_artist[ts->ur_item[p]]] = stamp;
    uint32_t distinct = 0, fresh = 0;
    for (unsigned r = 0; r < t->n; r++) {
        uint32_t a = J->item_artist[w->list[r]];
        if (w->lmark[a] == stamp) continue;
        w->lmark[a] = stamp;
        distinct++;
        fresh += w->umark[a] != stamp;
    }
    f->distinct = distinct;
    f->diversity = (double)distinct / J->k;
    f->new_artists = distinct ? (double)fresh / distinct : 0;
}

static void run_block(job *J, wstate *w, uint32_t x0, uint32_t nb) {
    const sr_trainset *ts = J->ts;
    const uint32_t N = ts->n_items;
    for (uint32_t b = 0; b < nb; b++) {
        w->tk[b] = (topk){w->heap + (size_t)b * J->k, 0, J->k};
        w->cur[b] = ts->user_ptr[J->users[x0 + b]];
    }
    for (uint32_t lo = 0, hi; lo < N; lo = hi) {
        hi = N - lo > CHUNK ? lo + CHUNK : N;
        const sr_model *m = J->m;
        /* score_users: one pass over the range's song parameters for the whole block,
         * into range-sized rows (CHUNK floats per listener); else whole-catalog rows */
        const bool multi = m->ops->score_users != NULL;
        if (multi) m->ops->score_users(m->state, ts, J->users + x0, nb, w->buf, CHUNK, lo, hi);
        for (uint32_t b = 0; b < nb; b++) {
            const uint32_t u = J->users[x0 + b];
            const float *buf = w->buf + (size_t)b * CHUNK;
            if (!multi) {
                float *row = w->buf + (size_t)b * N;
                fill(J, u, row, lo, hi);
                buf = row + lo;
            }
            offer_range(J, &w->tk[b], buf, lo, hi, &w->cur[b], ts->user_ptr[u + 1]);
        }
    }
    for (uint32_t b = 0; b < nb; b++) judge(J, w, x0 + b, &w->tk[b]);
}

static void *worker(void *arg) {
    wstate *w = arg;
    job *J = w->J;
    for (;;) {
        uint32_t blk = atomic_fetch_add(&J->next, 1);
        if ((uint64_t)blk * J->block >= J->n_eval) return NULL;
        uint32_t x0 = blk * J->block;
        uint32_t nb = J->n_eval - x0 < J->block ? J->n_eval - x0 : J->block;
        run_block(J, w, x0, nb);
        unsigned done = atomic_fetch_add(&J->done, nb) + nb;
        if (w->main && done < J->n_eval) sr_progress(J->log, "ranking", done, J->n_eval);
    }
}

static void wstate_free(wstate *w) {
    sr_free(w->buf), sr_free(w->heap), sr_free(w->tk), sr_free(w->cur), sr_free(w->list);
    sr_free(w->cov), sr_free(w->umark), sr_free(w->lmark);
    memset(w, 0, sizeof *w);
}

static sr_err wstate_init(wstate *w, job *J, uint32_t n_artists) {
    const size_t B = J->block, N = J->ts->n_items ? J->ts->n_items : 1;
    const size_t row = J->m->ops->score_users ? CHUNK : N; /* floats of one listener's scores */
    w->J = J;
    w->buf = sr_mallocarray(B, row * sizeof *w->buf);
    w->heap = sr_mallocarray(B, (size_t)J->k * sizeof *w->heap);
    w->tk = sr_mallocarray(B, sizeof *w->tk);
    w->cur = sr_mallocarray(B, sizeof *w->cur);
    w->list = sr_mallocarray(J->k, sizeof *w->list);
    w->cov = sr_calloc(N, 1);
    if (J->item_artist) {
        w->umark = sr_calloc(n_artists ? n_artists : 1, sizeof *w->umark);
        w->lmark = sr_calloc(n_artists ? n_artists : 1, sizeof *w->lmark);
    }
    if (!w->buf || !w->heap || !w->tk || !w->cur || !w->list || !w->cov ||
        (J->item_artist && (!w->umark || !w->lmark))) {
        wstate_free(w);
        return SR_E_NOMEM;
    }
    return SR_OK;
}

/* The relevant songs of every user, compacted in place: sorted, unique, known to the
 * trainset, not among the user's training songs. Counts unknown ones in *unknown. */
static void compact_relevant(const sr_trainset *ts, uint64_t *tptr, uint32_t *titem,
                             uint32_t n_users, uint64_t *unknown) {
    uint64_t w = 0, start = 0;
    for (uint32_t u = 0; u < n_users; u++) {
        uint64_t end = tptr[u + 1];
        qsort(titem + start, (size_t)(end - start), sizeof *titem, cmp_u32);
        const uint32_t *train = ts->ur_item + ts->user_ptr[u];
        size_t n_train = (size_t)(ts->user_ptr[u + 1] - ts->user_ptr[u]);
        uint64_t first = w;
        for (uint64_t p = start; p < end; p++) {
            uint32_t i = titem[p];
            if (!sr_trainset_knows_item(ts, i)) {
                (*unknown)++;
                continue;
            }
            if (w > first && titem[w - 1] == i) continue;
            if (contains(train, n_train, i)) continue;
            titem[w++] = i;
        }
        tptr[u] = first;
        start = end;
    }
    tptr[n_users] = w;
}

/* Sums the per-user figures in user order. */
static void reduce(const job *J, const uint8_t *cov, uint32_t n_known, sr_rank_result *out) {
    double s[SR_RANK__COUNT] = {0};
    uint64_t with_list = 0, with_artists = 0;
    for (uint32_t x = 0; x < J->n_eval; x++) {
        const ufig *f = &J->fig[x];
        s[SR_RANK_PRECISION] += f->precision;
        s[SR_RANK_RECALL] += f->recall;
        s[SR_RANK_NDCG] += f->ndcg;
        s[SR_RANK_MAP] += f->ap;
        s[SR_RANK_HIT_RATE] += f->hit;
        out->hits += f->hits;
        out->recommended += f->n;
        if (f->n) {
            with_list++;
            s[SR_RANK_NOVELTY] += f->novelty;
            s[SR_RANK_DIVERSITY] += f->diversity;
        }
        if (f->distinct) {
            with_artists++;
            s[SR_RANK_NEW_ARTISTS] += f->new_artists;
        }
    }
    const double n = J->n_eval;
    for (int m = SR_RANK_PRECISION; m <= SR_RANK_HIT_RATE; m++) out->value[m] = s[m] / n;
    uint64_t c = 0;
    for (uint32_t i = 0; i < J->ts->n_items; i++) c += cov[i];
    out->value[SR_RANK_COVERAGE] = n_known ? (double)c / n_known : NAN;
    out->value[SR_RANK_NOVELTY] = with_list ? s[SR_RANK_NOVELTY] / (double)with_list : NAN;
    out->value[SR_RANK_DIVERSITY] =
        J->item_artist && with_list ? s[SR_RANK_DIVERSITY] / (double)with_list : NAN;
    out->value[SR_RANK_NEW_ARTISTS] =
        J->item_artist && with_artists ? s[SR_RANK_NEW_ARTISTS] / (double)with_artists : NAN;
    out->value[SR_RANK_HITS] = (double)out->hits;
}

/* The users to evaluate, ascending: known to the trainset with a relevant song, or a
 * seeded sample of max_users of them. */
static sr_err pick_users(const sr_trainset *ts, const uint64_t *tptr, const sr_rank_opts *o,
                         uint32_t **users, uint32_t *n_eval, uint32_t *n_usable) {
    uint32_t n = 0;
    for (uint32_t u = 0; u < ts->n_users; u++)
        n += sr_trainset_knows_user(ts, u) && tptr[u + 1] > tptr[u];
    *users = sr_mallocarray(n ? n : 1, sizeof **users);
    if (!*users) return SR_E_NOMEM;
    n = 0;
    for (uint32_t u = 0; u < ts->n_users; u++)
        if (sr_trainset_knows_user(ts, u) && tptr[u + 1] > tptr[u]) (*users)[n++] = u;
    *n_usable = n;
    if (o->max_users && o->max_users < n) {
        sr_rng r;
        sr_rng_seed_stream(&r, o->seed, 0x75736572ULL); /* "user" */
        sr_rng_shuffle_u32(&r, *users, n);
        n = o->max_users;
        qsort(*users, n, sizeof **users, cmp_u32);
    }
    *n_eval = n;
    return SR_OK;
}

/* Step 3: per-thread buffers, the workers, the sums. */
static sr_err run_lists(job *J, const sr_rank_opts *o, sr_rank_result *out) {
    const sr_trainset *ts = J->ts;
    const size_t N = ts->n_items ? ts->n_items : 1;
    unsigned threads = o->threads ? o->threads : 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    /* Range-sized rows (score_users) let a block hold many listeners, so the song
     * factors are read once per BLOCK_MULTI listeners; whole-catalog rows take memory. */
    const bool multi = J->m->ops->score_users != NULL;
    size_t b = SCORE_BUDGET / (threads * (multi ? CHUNK : N) * sizeof(float));
    b = b < 1 ? 1 : b > (multi ? BLOCK_MULTI : BLOCK_MAX) ? (multi ? BLOCK_MULTI : BLOCK_MAX) : b;
    uint32_t per_thread = (J->n_eval + threads - 1) / threads;
    J->block = (unsigned)(b < per_thread ? b : per_thread ? per_thread : 1);
    uint32_t n_blocks = (J->n_eval + J->block - 1) / J->block;
    if (threads > n_blocks) threads = n_blocks ? n_blocks : 1;
    uint32_t n_artists = 0;
    if (J->item_artist)
        for (uint32_t i = 0; i < ts->n_items; i++)
            if (J->item_artist[i] >= n_artists) n_artists = J->item_artist[i] + 1;
    wstate ws[MAX_THREADS];
    memset(ws, 0, sizeof ws);
    sr_err e = SR_OK;
    for (unsigned t = 0; t < threads && !e; t++) e = wstate_init(&ws[t], J, n_artists);
    if (!e) {
        ws[0].main = true;
        pthread_t th[MAX_THREADS];
        unsigned started = 0;
        for (unsigned t = 1; t < threads; t++)
            if (pthread_create(&th[t], NULL, worker, &ws[t]) == 0)
                started = t;
            else
                break;
        worker(&ws[0]);
        for (unsigned t = 1; t <= started; t++) pthread_join(th[t], NULL);
        sr_progress(J->log, "ranking", J->n_eval, J->n_eval);
        for (unsigned t = 1; t < threads; t++)
            for (size_t i = 0; i < ts->n_items; i++) ws[0].cov[i] |= ws[t].cov[i];
        uint32_t n_known = 0;
        for (uint32_t i = 0; i < ts->n_items; i++) n_known += J->known[i];
        reduce(J, ws[0].cov, n_known, out);
    }
    for (unsigned t = 0; t < threads; t++) wstate_free(&ws[t]);
    return e;
}

static void result_reset(sr_rank_result *out, unsigned k) {
    memset(out, 0, sizeof *out);
    for (int m = 0; m < SR_RANK__COUNT; m++) out->value[m] = NAN;
    out->k = k;
}

sr_err sr_rank_evaluate_fitted(const sr_ratings *rs, const uint8_t *test, const sr_model *m,
                               const sr_rank_opts *o, sr_rank_result *out, sr_diag *d) {
    result_reset(out, o->k);
    sr_err e = check_k(o, d);
    if (e) return e;
    const sr_trainset *ts = m->ts;
    if (ts->n_users != rs->n_users || ts->n_items != rs->n_items)
        return sr_diag_set(d, SR_E_USAGE, "the model was not fitted on these ratings");
    const double t0 = now_s();
    uint64_t *tptr = NULL;
    uint32_t *titem = NULL, *users = NULL, *pop = NULL;
    uint8_t *known = NULL;
    ufig *fig = NULL;
    for (uint64_t j = 0; j < rs->n; j++) out->n_test += test[j] != 0;
    out->n_train = ts->n;

    /* Relevant songs and the users to evaluate. */
    tptr = sr_calloc((size_t)rs->n_users + 1, sizeof *tptr);
    titem = sr_mallocarray(out->n_test ? out->n_test : 1, sizeof *titem);
    known = sr_malloc(ts->n_items ? ts->n_items : 1);
    pop = sr_mallocarray(ts->n_items ? ts->n_items : 1, sizeof *pop);
    if (!tptr || !titem || !known || !pop) goto nomem;
    for (uint64_t j = 0; j < rs->n; j++)
        if (test[j]) tptr[rs->user[j] + 1]++;
    for (uint32_t u = 0; u < rs->n_users; u++) tptr[u + 1] += tptr[u];
    for (uint64_t j = 0; j < rs->n; j++)
        if (test[j]) titem[tptr[rs->user[j]]++] = rs->item[j];
    for (uint32_t u = rs->n_users; u > 0; u--) tptr[u] = tptr[u - 1]; /* back to starts */
    tptr[0] = 0;
    uint32_t with_test = 0;
    for (uint32_t u = 0; u < rs->n_users; u++) with_test += tptr[u + 1] > tptr[u];
    compact_relevant(ts, tptr, titem, rs->n_users, &out->test_unknown);
    uint32_t n_train_users = 0;
    for (uint32_t u = 0; u < ts->n_users; u++) n_train_users += sr_trainset_knows_user(ts, u);
    for (uint32_t i = 0; i < ts->n_items; i++) {
        pop[i] = (uint32_t)(ts->item_ptr[i + 1] - ts->item_ptr[i]);
        known[i] = pop[i] > 0;
    }
    uint32_t n_eval, n_usable;
    if ((e = pick_users(ts, tptr, o, &users, &n_eval, &n_usable))) goto nomem;
    out->users = n_eval;
    out->users_skipped = with_test - n_usable;
    if (n_eval == 0) {
        e = sr_diag_set(d, SR_E_RANGE,
                        "no listener can be evaluated (none with a training pair and a tested "
                        "song the model knows)");
        goto done;
    }

    /* The lists. */
    fig = sr_calloc(n_eval, sizeof *fig);
    if (!fig) goto nomem;
    job J = {.m = m,
             .ts = ts,
             .tptr = tptr,
             .titem = titem,
             .users = users,
             .n_eval = n_eval,
             .known = known,
             .pop = pop,
             .n_train_users = n_train_users,
             .item_artist = o->item_artist,
             .k = o->k,
             .fallback = m->ops->implicit ? 0.0f : (float)ts->global_mean,
             .lo = (float)ts->lo,
             .hi = (float)ts->hi,
             .clip = !m->ops->implicit,
             .fig = fig,
             .log = o->log};
    atomic_init(&J.next, 0);
    atomic_init(&J.done, 0);
    if ((e = run_lists(&J, o, out))) goto nomem;
    out->eval_s = now_s() - t0;
    goto done;
nomem:
    e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
done:
    if (e) result_reset(out, o->k);
    sr_free(fig), sr_free(users), sr_free(pop), sr_free(known), sr_free(titem), sr_free(tptr);
    return e;
}

sr_err sr_rank_evaluate(const sr_ratings *rs, const sr_model_ops *ops, const double *params,
                        const sr_rank_opts *o, sr_rank_result *out, sr_diag *d) {
    result_reset(out, o->k);
    sr_err e = check_opts(o, d);
    if (e) return e;
    uint8_t *mask = sr_malloc(rs->n ? rs->n : 1);
    if (!mask) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    sr_trainset *ts = NULL;
    sr_model m = {0};
    if ((e = sr_rank_split_mask(rs, o, mask, d))) goto done;
    for (uint64_t j = 0; j < rs->n; j++) mask[j] = !mask[j]; /* the training part */
    if ((e = sr_trainset_new(rs, mask, &ts))) {
        e = sr_diag_set(d, e, "out of memory");
        goto done;
    }
    /* A model of listening sessions trains on the listens of the training pairs and, with
     * a time split, only on those before the cut (a training pair's later plays are the
     * future too). */
    if (ops->needs_events &&
        (e = sr_trainset_add_events(ts, rs, mask, o->split == SR_RANK_TIME ? o->time_cut : 0))) {
        e = sr_diag_set(d, e, "out of memory");
        goto done;
    }
    for (uint64_t j = 0; j < rs->n; j++) mask[j] = !mask[j]; /* the test part again */
    sr_fit_ctx c = {.seed = o->seed, .threads = (int)(o->threads ? o->threads : 1), .log = o->log};
    double t0 = now_s();
    e = sr_model_fit(&m, ops, params, ts, &c, d);
    double fit_s = now_s() - t0;
    if (!e) e = sr_rank_evaluate_fitted(rs, mask, &m, o, out, d);
    out->fit_s = fit_s;
done:
    sr_model_deinit(&m);
    sr_trainset_free(ts);
    sr_free(mask);
    return e;
}
