/* BPR: Bayesian personalised ranking (Rendle, Freudenthaler, Gantner & Schmidt-Thieme,
 * "BPR: Bayesian personalized ranking from implicit feedback", UAI 2009) with a matrix-
 * factorisation scorer and an item bias, learnt by LearnBPR — SGD on sampled triples —
 * with the parameter names of the `implicit` library's BPR:
 *
 *   score(u, i) = b_i + p_u . q_i                       (b_i = 0 without item_bias)
 *   a sample (u, i, j): a listener u and a song i they played, and a song j drawn
 *   uniformly from the songs the trainset knows, redrawn while u played it
 *   (verify_negatives; at most 32 draws, then the sample is skipped);
 *   x = score(u, i) - score(u, j),  g = sigma(-x) = 1 / (1 + e^x),  d = 1 - lr reg:
 *     p_u <- d p_u + lr g (q_i - q_j)
 *     q_i <- d q_i + lr g p_u,   q_j <- d q_j - lr g p_u        (old p_u)
 *     b_i <- d b_i + lr g,       b_j <- d b_j - lr g            (item_bias only)
 *   an iteration is as many samples as the trainset has pairs, (u, i) drawn by
 *     sampling = uniform   each (u, i) uniformly from all pairs, independently
 *                          (Rendle's bootstrap sampling, as `implicit` does);
 *     sampling = by_user   (the default) the listeners in a random order, each u taking
 *                          |I_u| samples in a row with i drawn uniformly from u's songs:
 *                          every pair is as likely as under uniform and each listener gets
 *                          their expected share exactly; only the order differs. Ranking
 *                          quality is the same (held-out AUC 0.808 both, 2,458 x 10,000
 *                          generated, 20 iterations) and it is about 1.7 times faster with
 *                          a million songs, since p_u and u's song list stay in cache.
 * With transform = none (the default) every pair counts as a positive whatever its play
 * count (BPR ranks played over unplayed). Any other transform weighs a listener's pairs by
 * their confidence c = 1 + alpha f(v), ALS's (implicit.h: linear, log, cap, bm25,
 * quantile): the positive i of a sample is drawn from u's songs with probability
 * c_ui / sum_j c_uj, through an alias table per listener (Walker; util/rng.h) laid out
 * with the pairs — one cache line a draw, as before. Only which of u's songs is the
 * positive changes: how many samples each listener gets does not (uniform: u still comes
 * with a uniformly drawn pair; by_user: |I_u| in a row), so heavy listeners gain no
 * weight over light ones.
 * Factors start uniform in [-0.5/k, 0.5/k) (as `implicit`), row by row from the seed
 * (mf.h), biases at 0; rows of users and songs the trainset does not know are zeroed
 * after the fit (an unknown song has no score, an unknown user scores b_i).
 *
 * Parallel: Hogwild! (Niu, Recht, Re & Wright, NIPS 2011) — ctx->threads threads sample
 * from their own generators (stream t of the seed) and update the shared factors without
 * locks (uniform: each its share of the samples; by_user: listeners handed out in chunks).
 * With one thread a seed gives the same model on a given kernel; with more, the model
 * depends on the seed, the thread count and the threads' timing (runs agree in quality,
 * not bit for bit).
 * Speed: with a million songs nearly every negative's row is a DRAM miss, so samples are
 * drawn ahead and their rows prefetched: by_user draws each negative and positive
 * AHEAD_SONG samples before use; uniform runs a pipeline — a pair is drawn and its slot
 * prefetched AHEAD_PAIR samples before use, then its rows, biases and the cache lines
 * where its negative would sit in u's (ascending) song list, guessed by interpolation,
 * AHEAD_ROWS samples before. The update is an AVX-512F kernel picked at run time (rows
 * padded to 16 floats, 64-byte aligned), else a portable loop agreeing to float rounding.
 *
 * New listeners (fold_in): BPR has no closed form, so their p is found by SGD with the
 * song factors and biases fixed: from p = 0, FOLD_PASSES passes over their songs in
 * order, each song a positive against one negative drawn uniformly from the known songs
 * they did not play, with the fit's learning rate and regularisation; the generator is
 * seeded by a hash of their songs, so the same songs give the same p. Their play counts
 * do not matter (positives, as in the fit) — unless the fit weighed them: then each step's
 * positive is drawn in proportion to its confidence under the fit's transform (bm25 with
 * the trainset's corpus figures, kept in the state), FOLD_PASSES times n steps in all.
 * Since every step adds a vector to a decayed p, p is a sum of one part per song (the
 * steps where that song was the positive, each decayed by the later steps); the state
 * keeps these parts, and explain gives each song part_j . q_i — the contributions sum to
 * p . q_i, the personal part of the score.
 *
 * State: bi (n_items), pu (n_users, ld), qi (n_items, ld), ld = k rounded up to 16 —
 * owned, or borrowed from a model file ("m.bi" f32; "m.pu", "m.qi" factor arrays used
 * in place, float16 included, through the fmat views P and Q); the trainset's corpus
 * figures ("m.conf", implicit.h).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "models/fmat.h"
#include "models/implicit.h"
#include "models/implicit_weight.h"
#include "models/mf.h"
#include "models/model.h"
#include "util/mem.h"
#include "util/rng.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))
#endif

enum {
    P_FACTORS,
    P_LR,
    P_REG,
    P_ITERS,
    P_ITEM_BIAS,
    P_VERIFY,
    P_SAMPLING,
    P_TRANSFORM,
    P_ALPHA,
    P_EPS,
    P_CAP,
    P_BM25_K1,
    P_BM25_B,
    P_NEG_REUSE,
    P_COUNT
};

enum { TRANSFORM_NONE = 0 }; /* then SR_CONF_LINEAR + 1, ... (SR_CONF_CHOICES) */

static const sr_param_def bpr_params[P_COUNT] = {
    [P_FACTORS] = {"factors", SR_PARAM_INT, 64, 1, 1024, NULL, "number of latent factors"},
    [P_LR] = {"learning_rate", SR_PARAM_REAL, 0.01, 0, 10, NULL, "SGD step size"},
    [P_REG] = {"regularization", SR_PARAM_REAL, 0.01, 0, 1e3, NULL,
               "L2 regularisation of factors and biases"},
    [P_ITERS] = {"iterations", SR_PARAM_INT, 100, 0, 100000, NULL,
                 "passes; each draws as many triples as there are pairs"},
    [P_ITEM_BIAS] = {"item_bias", SR_PARAM_BOOL, 1, 0, 1, NULL, "learn a bias per song"},
    [P_VERIFY] = {"verify_negatives", SR_PARAM_BOOL, 1, 0, 1, NULL,
                  "redraw a negative the listener played"},
    [P_SAMPLING] = {"sampling", SR_PARAM_CHOICE, 1, 0, 1, "uniform|by_user",
                    "pairs drawn independently, or listener by listener (faster)"},
    [P_TRANSFORM] = {"transform", SR_PARAM_CHOICE, TRANSFORM_NONE, 0, SR_CONF_QUANTILE + 1,
                     "none|" SR_CONF_CHOICES,
                     "positives of a listener drawn alike (none), or in proportion to "
                     "1 + alpha f(count), f as ALS's transform"},
    [P_ALPHA] = {"alpha", SR_PARAM_REAL, 1, 0, 1e9, NULL,
                 "weight of a positive: 1 + alpha f(play count) (not with none)"},
    [P_EPS] = {"eps", SR_PARAM_REAL, 1, 1e-9, 1e9, NULL, "scale of the log transform"},
    [P_CAP] = {"cap", SR_PARAM_REAL, 10, 1e-9, 1e9, NULL, "the cap of the cap transform"},
    [P_BM25_K1] = {"bm25_k1", SR_PARAM_REAL, 1.2, 0, 1e6, NULL,
                   "BM25 saturation: larger lets more plays count"},
    [P_BM25_B] = {"bm25_b", SR_PARAM_REAL, 0.75, 0, 1, NULL,
                  "BM25 length normalisation, 0 (none) to 1 (full)"},
    [P_NEG_REUSE] = {"neg_reuse", SR_PARAM_INT, 1, 1, 16, NULL,
                     "by_user: each negative drawn serves this many consecutive samples"},
};

#define MAX_THREADS 64
#define MAX_TRIES   32  /* negative draws per sample */
#define AHEAD_PAIR  12  /* samples between drawing a pair and reading it */
#define AHEAD_ROWS  12  /* samples between reading the pair and the update */
#define RING        32  /* slots in flight, a power of two > AHEAD_PAIR + AHEAD_ROWS */
#define AHEAD_SONG  16  /* by_user: samples between drawing a song and the update (2^n) */
#define USER_CHUNK  64  /* by_user: listeners handed to a thread at a time */
#define FOLD_PASSES 100 /* fold-in passes over the listener's songs */

typedef struct bpr_state {
    uint32_t k, ld;
    float *bi; /* (n_items) */
    float *pu; /* (n_users, ld) owned, NULL when loaded */
    float *qi; /* (n_items, ld) owned, NULL when loaded */
    sr_fmat P, Q;
    sr_conf_corpus corpus; /* for the fold-in of bm25 */
    bool mapped;           /* the arrays are borrowed from the model file */
} bpr_state;

/* The confidence of the transform p asks for; false for none. */
static bool confidence_of(const double *p, sr_confidence *c) {
    const double t = p[P_TRANSFORM];
    *c = (sr_confidence){
        .f = t >= 1 && t <= SR_CONF_QUANTILE + 1 ? (sr_conf_transform)(t - 1) : SR_CONF_LINEAR,
        .alpha = p[P_ALPHA],
        .eps = p[P_EPS],
        .cap = p[P_CAP],
        .k1 = p[P_BM25_K1],
        .b = p[P_BM25_B],
    };
    return t != TRANSFORM_NONE;
}

static void bpr_free(void *state) {
    bpr_state *s = state;
    if (!s) return;
    if (!s->mapped) {
        sr_free(s->bi);
        sr__mf_free(s->pu);
        sr__mf_free(s->qi);
    }
    sr_free(s);
}

/* ---- training ---- */

/* A pair in user order with the alias cell of its listener's row (weighted sampling): a
 * draw that lands on the cell keeps the pair's song i when a 32-bit coin is below thresh,
 * else takes the song alt of the row (Walker's alias method, as sr_alias). 16 bytes, four
 * to a cache line. */
typedef struct bpr_pos {
    uint32_t u, i, thresh, alt;
} bpr_pos;

/* A place in [0, n) and a 32-bit coin from one 64-bit draw: the high and low halves of
 * its product with n, as sr_alias_sample (bias < n / 2^64). */
static inline uint64_t draw_cell(sr_rng *r, uint64_t n, uint32_t *coin) {
    const __uint128_t m = (__uint128_t)sr_rng_u64(r) * n;
    *coin = (uint32_t)((uint64_t)m >> 32);
    return (uint64_t)(m >> 64);
}

/* The positive a draw that landed on cell e gives. */
static inline uint32_t cell_song(const bpr_pos *e, uint32_t coin) {
    return coin < e->thresh ? e->i : e->alt;
}

/* What every thread of a fit reads. */
typedef struct bpr_shared {
    const sr_trainset *ts;
    bpr_state *s;
    const uint32_t *pairs; /* uniform, unweighted: (n, 2) user and song of each pair */
    const bpr_pos *pos;    /* weighted: (n) the pairs with their alias cells, else NULL */
    /* The songs negatives are drawn from, those the trainset knows: all of [0, n_items)
     * (both NULL), a bitmap to draw from by rejection (most known), or a list (few). */
    const uint64_t *known_bits; /* (n_items / 64 rounded up) */
    const uint32_t *known_list; /* (n_known) */
    uint32_t n_items, n_known;
    float lr, dec; /* learning rate, 1 - lr reg */
    bool bias, verify;
    uint32_t neg_reuse; /* by_user: samples each drawn negative serves */
    /* by_user: this iteration's order of the known listeners, handed out in chunks. */
    const uint32_t *order; /* (n_order) */
    uint32_t n_order;
    atomic_uint *next;
} bpr_shared;

typedef struct bpr_job {
    const bpr_shared *sh;
    sr_rng rng;
    uint64_t n;       /* samples this iteration */
    uint64_t skipped; /* samples without a negative */
    void (*run)(struct bpr_job *);
    pthread_t tid;
    bool started;
} bpr_job;

typedef struct slot {
    uint64_t q; /* pair */
    uint32_t u, i, j;
    uint32_t coin; /* weighted: the alias coin */
} slot;

/* A known song uniformly. The bitmap (n_items / 8 bytes) stays in cache, where a list
 * of a million songs would cost a miss per sample; it is used when at least 1/16 of the
 * songs are known, so that a draw takes at most 16 tries on average. */
static inline uint32_t draw_negative(const bpr_shared *sh, sr_rng *r) {
    if (sh->known_list) return sh->known_list[sr_rng_below(r, sh->n_known)];
    for (;;) {
        const uint32_t j = (uint32_t)sr_rng_below(r, sh->n_items);
        if (!sh->known_bits || (sh->known_bits[j >> 6] >> (j & 63) & 1)) return j;
    }
}

/* One SGD step on (u, i, j), portable. i != j. */
static inline __attribute__((always_inline)) void step_scalar(const bpr_shared *sh, uint32_t u,
                                                              uint32_t i, uint32_t j) {
    bpr_state *s = sh->s;
    const uint32_t k = s->k, ld = s->ld;
    float *restrict p = s->pu + (size_t)u * ld;
    float *restrict a = s->qi + (size_t)i * ld;
    float *restrict b = s->qi + (size_t)j * ld;
    float x = s->bi[i] - s->bi[j];
    for (uint32_t f = 0; f < k; f++) x += p[f] * (a[f] - b[f]);
    const float gl = sh->lr / (1.0f + expf(x)), dec = sh->dec;
    for (uint32_t f = 0; f < k; f++) {
        const float pf = p[f], af = a[f], bf = b[f];
        p[f] = dec * pf + gl * (af - bf);
        a[f] = dec * af + gl * pf;
        b[f] = dec * bf - gl * pf;
    }
    if (sh->bias) {
        s->bi[i] = dec * s->bi[i] + gl;
        s->bi[j] = dec * s->bi[j] - gl;
    }
}

#if defined(__x86_64__)
/* The same step, AVX-512F: rows of ld floats (a multiple of 16), 64-byte aligned, whose
 * padding is zero and stays zero. */
static inline __attribute__((always_inline)) AVX512 void
step_avx512(const bpr_shared *sh, uint32_t u, uint32_t i, uint32_t j) {
    bpr_state *s = sh->s;
    const uint32_t ld = s->ld;
    float *restrict p = s->pu + (size_t)u * ld;
    float *restrict a = s->qi + (size_t)i * ld;
    float *restrict b = s->qi + (size_t)j * ld;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    uint32_t f = 0;
    for (; f + 32 <= ld; f += 32) {
        const __m512 d0 = _mm512_sub_ps(_mm512_load_ps(a + f), _mm512_load_ps(b + f));
        const __m512 d1 = _mm512_sub_ps(_mm512_load_ps(a + f + 16), _mm512_load_ps(b + f + 16));
        acc0 = _mm512_fmadd_ps(_mm512_load_ps(p + f), d0, acc0);
        acc1 = _mm512_fmadd_ps(_mm512_load_ps(p + f + 16), d1, acc1);
    }
    if (f < ld)
        acc0 = _mm512_fmadd_ps(_mm512_load_ps(p + f),
                               _mm512_sub_ps(_mm512_load_ps(a + f), _mm512_load_ps(b + f)), acc0);
    const float x = s->bi[i] - s->bi[j] + _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    const float gl = sh->lr / (1.0f + expf(x));
    const __m512 vg = _mm512_set1_ps(gl), vd = _mm512_set1_ps(sh->dec);
    for (f = 0; f < ld; f += 16) {
        const __m512 pf = _mm512_load_ps(p + f), af = _mm512_load_ps(a + f);
        const __m512 bf = _mm512_load_ps(b + f);
        _mm512_store_ps(p + f, _mm512_fmadd_ps(vg, _mm512_sub_ps(af, bf), _mm512_mul_ps(vd, pf)));
        _mm512_store_ps(a + f, _mm512_fmadd_ps(vg, pf, _mm512_mul_ps(vd, af)));
        _mm512_store_ps(b + f, _mm512_fnmadd_ps(vg, pf, _mm512_mul_ps(vd, bf)));
    }
    if (sh->bias) {
        s->bi[i] = sh->dec * s->bi[i] + gl;
        s->bi[j] = sh->dec * s->bi[j] - gl;
    }
}
#endif

/* The sample's negative *j checked against the listener's songs (row, L): redrawn while
 * they played it, at most MAX_TRIES draws in all (verify_negatives), else only kept apart
 * from the positive i. False: no negative, skip the sample. */
static inline __attribute__((always_inline)) bool check_negative(const bpr_shared *sh, sr_rng *r,
                                                                 const uint32_t *row, uint64_t L,
                                                                 double inv_n, uint32_t i,
                                                                 uint32_t *j) {
    if (!sh->verify) return *j != i;
    for (int tries = 1; sr__iw_has_near(row, L, *j, sr__iw_window(L, *j, inv_n)); tries++) {
        if (tries == MAX_TRIES) return false;
        *j = draw_negative(sh, r);
    }
    return true;
}

typedef void (*bpr_step)(const bpr_shared *sh, uint32_t u, uint32_t i, uint32_t j);

static inline void prefetch_row(const float *row, uint32_t ld) {
    const char *c = (const char *)row;
    for (uint32_t f = 0; f < ld; f += 16) __builtin_prefetch(c + 4 * f, 1, 3);
}

/* A job's samples through the pipeline (see the top), each update by `step` (inlined
 * into the instances below). weighted (a constant where it is inlined): the pair drawn
 * uniformly brings its listener u, and the alias cell at that place of u's row — a
 * uniform place within the row — gives the positive, from the same cache line. */
static inline __attribute__((always_inline)) void drive(bpr_job *jb, bpr_step step,
                                                        const bool weighted) {
    const bpr_shared *sh = jb->sh;
    const sr_trainset *ts = sh->ts;
    const bpr_state *s = sh->s;
    const uint32_t ld = s->ld;
    const double inv_n = 1.0 / ts->n_items;
    slot ring[RING];
    const uint64_t n = jb->n, total = n + AHEAD_PAIR + AHEAD_ROWS;
    for (uint64_t t = 0; t < total; t++) {
        if (t < n) {
            slot *a = &ring[t % RING];
            if (weighted) {
                a->q = draw_cell(&jb->rng, ts->n, &a->coin);
            } else {
                a->q = sr_rng_below(&jb->rng, ts->n);
            }
            a->j = draw_negative(sh, &jb->rng);
            if (weighted)
                __builtin_prefetch(sh->pos + a->q, 0, 3);
            else
                __builtin_prefetch(sh->pairs + 2 * a->q, 0, 3);
        }
        if (t >= AHEAD_PAIR && t - AHEAD_PAIR < n) {
            slot *b = &ring[(t - AHEAD_PAIR) % RING];
            if (weighted) {
                const bpr_pos e = sh->pos[b->q];
                b->u = e.u;
                b->i = cell_song(&e, b->coin);
            } else {
                b->u = sh->pairs[2 * b->q];
                b->i = sh->pairs[2 * b->q + 1];
            }
            prefetch_row(s->pu + (size_t)b->u * ld, ld);
            prefetch_row(s->qi + (size_t)b->i * ld, ld);
            prefetch_row(s->qi + (size_t)b->j * ld, ld);
            __builtin_prefetch(s->bi + b->i, 1, 3);
            __builtin_prefetch(s->bi + b->j, 1, 3);
            if (sh->verify) {
                const uint64_t a0 = ts->user_ptr[b->u], L = ts->user_ptr[b->u + 1] - a0;
                const sr_iw_window w = sr__iw_window(L, b->j, inv_n);
                __builtin_prefetch(ts->ur_item + a0 + w.lo, 0, 3);
                __builtin_prefetch(ts->ur_item + a0 + w.lo + SR_IW_WINDOW / 2, 0, 3);
                __builtin_prefetch(ts->ur_item + a0 + (w.hi ? w.hi - 1 : 0), 0, 3);
            }
        }
        if (t < AHEAD_PAIR + AHEAD_ROWS) continue;
        const slot *c = &ring[(t - AHEAD_PAIR - AHEAD_ROWS) % RING];
        uint32_t j = c->j;
        const uint64_t a0 = ts->user_ptr[c->u];
        if (!check_negative(sh, &jb->rng, ts->ur_item + a0, ts->user_ptr[c->u + 1] - a0, inv_n,
                            c->i, &j)) {
            jb->skipped++;
            continue;
        }
        step(sh, c->u, c->i, j);
    }
}

/* A negative drawn AHEAD_SONG samples before use, its row and bias fetched meanwhile. */
static inline uint32_t draw_ahead(const bpr_shared *sh, sr_rng *r) {
    const uint32_t j = draw_negative(sh, r);
    prefetch_row(sh->s->qi + (size_t)j * sh->s->ld, sh->s->ld);
    __builtin_prefetch(sh->s->bi + j, 1, 3);
    return j;
}

/* A positive of the listener (row of L songs; weighted: their L pairs with alias cells,
 * prow) drawn ahead the same way. */
static inline __attribute__((always_inline)) uint32_t draw_song(const bpr_shared *sh,
                                                                const uint32_t *row,
                                                                const bpr_pos *prow, uint64_t L,
                                                                sr_rng *r, const bool weighted) {
    uint32_t i;
    if (weighted) {
        uint32_t coin;
        const uint64_t c = draw_cell(r, L, &coin);
        i = cell_song(&prow[c], coin);
    } else {
        i = row[sr_rng_below(r, L)];
    }
    prefetch_row(sh->s->qi + (size_t)i * sh->s->ld, sh->s->ld);
    __builtin_prefetch(sh->s->bi + i, 1, 3);
    return i;
}

/* sampling = by_user: the listeners of this iteration's order, a chunk at a time; each
 * listener u of L songs gets L samples in a row, a positive drawn uniformly from u's
 * songs (weighted: through u's alias cells) and a negative as for uniform sampling. p_u
 * stays in cache for the whole run and u's song list, which the negatives are checked
 * against, too. */
static inline __attribute__((always_inline)) void drive_users(bpr_job *jb, bpr_step step,
                                                              const bool weighted) {
    const bpr_shared *sh = jb->sh;
    const sr_trainset *ts = sh->ts;
    const double inv_n = 1.0 / ts->n_items;
    uint32_t neg[AHEAD_SONG], pos[AHEAD_SONG], served = 0;
    uint64_t tn = 0;
    for (int t = 0; t < AHEAD_SONG; t++) neg[t] = draw_ahead(sh, &jb->rng);
    for (;;) {
        const uint32_t a = atomic_fetch_add(sh->next, USER_CHUNK);
        if (a >= sh->n_order) return;
        const uint32_t b = sh->n_order - a < USER_CHUNK ? sh->n_order : a + USER_CHUNK;
        for (uint32_t x = a; x < b; x++) {
            const uint32_t u = sh->order[x];
            if (x + 1 < b) {
                const uint32_t nu = sh->order[x + 1];
                prefetch_row(sh->s->pu + (size_t)nu * sh->s->ld, sh->s->ld);
                __builtin_prefetch(ts->ur_item + ts->user_ptr[nu], 0, 3);
                if (weighted) __builtin_prefetch(sh->pos + ts->user_ptr[nu], 0, 3);
            }
            const uint64_t a0 = ts->user_ptr[u], L = ts->user_ptr[u + 1] - a0;
            const uint32_t *row = ts->ur_item + a0;
            const bpr_pos *prow = weighted ? sh->pos + a0 : NULL;
            for (uint64_t c = 0; c < L && c < AHEAD_SONG; c++)
                pos[c] = draw_song(sh, row, prow, L, &jb->rng, weighted);
            for (uint64_t c = 0; c < L; c++) {
                const uint32_t i = pos[c % AHEAD_SONG];
                if (c + AHEAD_SONG < L)
                    pos[c % AHEAD_SONG] = draw_song(sh, row, prow, L, &jb->rng, weighted);
                uint32_t j = neg[tn % AHEAD_SONG];
                if (++served >= sh->neg_reuse) {
                    served = 0;
                    neg[tn++ % AHEAD_SONG] = draw_ahead(sh, &jb->rng);
                }
                if (!check_negative(sh, &jb->rng, row, L, inv_n, i, &j)) {
                    jb->skipped++;
                    continue;
                }
                step(sh, u, i, j);
            }
        }
    }
}

/* The four pipelines of a kernel, each with its sampling fixed at compile time (the
 * unweighted ones exactly as before weighting existed). */
static void run_scalar(bpr_job *jb) {
    const bool w = jb->sh->pos != NULL;
    if (jb->sh->order) {
        if (w)
            drive_users(jb, step_scalar, true);
        else
            drive_users(jb, step_scalar, false);
    } else {
        if (w)
            drive(jb, step_scalar, true);
        else
            drive(jb, step_scalar, false);
    }
}

#if defined(__x86_64__)
AVX512 static void run_avx512(bpr_job *jb) {
    const bool w = jb->sh->pos != NULL;
    if (jb->sh->order) {
        if (w)
            drive_users(jb, step_avx512, true);
        else
            drive_users(jb, step_avx512, false);
    } else {
        if (w)
            drive(jb, step_avx512, true);
        else
            drive(jb, step_avx512, false);
    }
}
#endif

static void *job_main(void *arg) {
    bpr_job *jb = arg;
    jb->run(jb);
    return NULL;
}

/* Zeroes the rows (and biases) of users and songs the trainset does not know. */
static void zero_unknown(bpr_state *s, const sr_trainset *ts) {
    for (uint32_t u = 0; u < ts->n_users; u++)
        if (!sr_trainset_knows_user(ts, u)) memset(s->pu + (size_t)u * s->ld, 0, s->ld * 4);
    for (uint32_t i = 0; i < ts->n_items; i++)
        if (!sr_trainset_knows_item(ts, i)) {
            memset(s->qi + (size_t)i * s->ld, 0, s->ld * 4);
            s->bi[i] = 0;
        }
}

static void set_views(bpr_state *s, const sr_trainset *ts) {
    s->P =
        (sr_fmat){.data = s->pu, .rows = ts->n_users, .k = s->k, .ld = s->ld, .type = SR_FMAT_F32};
    s->Q =
        (sr_fmat){.data = s->qi, .rows = ts->n_items, .k = s->k, .ld = s->ld, .type = SR_FMAT_F32};
}

/* The iterations, on T threads; by_user shuffles the listeners' order (order, n_order)
 * before each, from its own stream of the seed. */
static void train(bpr_shared *sh, bpr_job *jobs, uint32_t T, int iters, uint32_t *order,
                  uint64_t seed, const sr_log *log) {
    const uint64_t n = sh->ts->n;
    for (int it = 0; it < iters; it++) {
        for (uint32_t t = 0; t < T; t++) jobs[t].n = n / T + (t < n % T ? 1 : 0);
        if (order) {
            sr_rng g;
            sr_rng_seed_stream(&g, seed, ((uint64_t)1 << 32) + (uint64_t)it);
            sr_rng_shuffle_u32(&g, order, sh->n_order);
            atomic_store(sh->next, 0);
        }
        for (uint32_t t = 1; t < T; t++)
            jobs[t].started = pthread_create(&jobs[t].tid, NULL, job_main, &jobs[t]) == 0;
        job_main(&jobs[0]);
        /* A job whose thread did not start runs here. */
        for (uint32_t t = 1; t < T; t++) {
            if (jobs[t].started)
                pthread_join(jobs[t].tid, NULL);
            else
                job_main(&jobs[t]);
        }
        sr_progress(log, "BPR", (uint64_t)it + 1, (uint64_t)iters);
    }
}

/* The scratch of one fit: what bpr_shared points to. */
typedef struct bpr_scratch {
    uint32_t *pairs; /* uniform: (n, 2) user and song of each pair, on 2 MiB pages */
    bpr_pos *pos;    /* weighted (either sampling): (n) instead of pairs */
    uint32_t *order; /* by_user: (n_order) the known listeners */
    uint32_t n_order;
    uint64_t *bits; /* see bpr_shared */
    uint32_t *list;
} bpr_scratch;

static void scratch_free(bpr_scratch *x) {
    sr__mf_free((float *)x->pairs);
    sr__mf_free((float *)x->pos);
    sr_free(x->order);
    sr_free(x->bits);
    sr_free(x->list);
}

/* The pairs with the alias cells of their listeners' rows, from the confidences
 * 1 + w of the pairs (implicit.h): SR_E_NOMEM, or SR_E_RANGE for weights that overflow. */
static sr_err build_pos(bpr_pos *pos, const sr_trainset *ts, const sr_confidence *conf) {
    float *w;
    sr_err e = sr_confidence_weights(conf, ts, &w, NULL);
    if (e) return e;
    uint64_t longest = 1;
    for (uint32_t u = 0; u < ts->n_users; u++)
        if (ts->user_ptr[u + 1] - ts->user_ptr[u] > longest)
            longest = ts->user_ptr[u + 1] - ts->user_ptr[u];
    double *c = sr_mallocarray(longest, sizeof *c);
    if (!c) e = SR_E_NOMEM;
    for (uint32_t u = 0; u < ts->n_users && !e; u++) {
        const uint64_t a0 = ts->user_ptr[u], L = ts->user_ptr[u + 1] - a0;
        if (!L) continue;
        for (uint64_t q = 0; q < L; q++) c[q] = 1.0 + (double)w[a0 + q];
        sr_alias al;
        if ((e = sr_alias_init(&al, c, L))) break;
        const uint32_t *row = ts->ur_item + a0;
        for (uint64_t q = 0; q < L; q++)
            pos[a0 + q] = (bpr_pos){u, row[q], al.cell[q].thresh, row[al.cell[q].alias]};
        sr_alias_deinit(&al);
    }
    sr_free(c);
    sr_free(w);
    return e;
}

/* conf NULL: unweighted. */
static sr_err scratch_init(bpr_scratch *x, const sr_trainset *ts, bool by_user, uint32_t n_known,
                           const sr_confidence *conf) {
    memset(x, 0, sizeof *x);
    if (conf) { /* 16 bytes a pair, four to a cache line */
        x->pos = (bpr_pos *)sr__mf_alloc(ts->n, 4);
        if (!x->pos) return SR_E_NOMEM;
        sr_err e = build_pos(x->pos, ts, conf);
        if (e) return e;
    }
    if (by_user) {
        x->order = sr_mallocarray(ts->n_users ? ts->n_users : 1, sizeof *x->order);
        if (!x->order) return SR_E_NOMEM;
        for (uint32_t u = 0; u < ts->n_users; u++)
            if (sr_trainset_knows_user(ts, u)) x->order[x->n_order++] = u;
    } else if (!conf) {
        /* 8 bytes a pair: one cache line per sample */
        x->pairs = (uint32_t *)sr__mf_alloc(ts->n, 2);
        if (!x->pairs) return SR_E_NOMEM;
        for (uint32_t u = 0; u < ts->n_users; u++)
            for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++)
                x->pairs[2 * q] = u, x->pairs[2 * q + 1] = ts->ur_item[q];
    }
    if (n_known == ts->n_items) return SR_OK;
    if ((uint64_t)n_known * 16 >= ts->n_items) {
        x->bits = sr_calloc(((size_t)ts->n_items + 63) / 64, sizeof *x->bits);
        if (!x->bits) return SR_E_NOMEM;
    } else {
        x->list = sr_mallocarray(n_known ? n_known : 1, sizeof *x->list);
        if (!x->list) return SR_E_NOMEM;
    }
    for (uint32_t i = 0, m = 0; i < ts->n_items; i++)
        if (sr_trainset_knows_item(ts, i)) {
            if (x->bits) x->bits[i >> 6] |= (uint64_t)1 << (i & 63);
            if (x->list) x->list[m++] = i;
        }
    return SR_OK;
}

sr_err sr__bpr_draw_positives(const sr_trainset *ts, const double *p, bool by_user, uint64_t draws,
                              uint64_t seed, uint64_t *counts) {
    sr_confidence conf;
    if (!confidence_of(p, &conf)) return SR_E_USAGE;
    bpr_scratch x;
    sr_err e = scratch_init(&x, ts, false, sr__iw_known_items(ts), &conf);
    sr_rng r;
    sr_rng_seed(&r, seed);
    memset(counts, 0, (ts->n ? ts->n : 1) * sizeof *counts);
    for (uint64_t t = 0; !e && !by_user && ts->n && t < draws; t++) { /* as drive */
        uint32_t coin;
        const bpr_pos *cell = &x.pos[draw_cell(&r, ts->n, &coin)];
        const uint64_t a0 = ts->user_ptr[cell->u];
        counts[sr__iw_lower_bound(ts->ur_item, a0, ts->user_ptr[cell->u + 1],
                                  cell_song(cell, coin))]++;
    }
    for (uint32_t u = 0; !e && by_user && u < ts->n_users; u++) { /* as draw_song */
        const uint64_t a0 = ts->user_ptr[u], L = ts->user_ptr[u + 1] - a0;
        for (uint64_t t = 0; L && t < draws; t++) {
            uint32_t coin;
            const uint64_t c = draw_cell(&r, L, &coin);
            counts[sr__iw_lower_bound(ts->ur_item, a0, a0 + L, cell_song(&x.pos[a0 + c], coin))]++;
        }
    }
    scratch_free(&x);
    return e;
}

sr_err sr__bpr_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, int force_scalar,
                   void **state, sr_diag *d) {
    *state = NULL;
    const double tf = p[P_TRANSFORM];
    if (!(p[P_FACTORS] >= 1 && p[P_FACTORS] <= 1024) || !(p[P_ITERS] >= 0) || !(p[P_LR] >= 0) ||
        !(p[P_REG] >= 0) || !(p[P_SAMPLING] == 0 || p[P_SAMPLING] == 1) ||
        !(tf >= 0 && tf <= SR_CONF_QUANTILE + 1 && tf == floor(tf)) || !(p[P_ALPHA] >= 0) ||
        !(p[P_EPS] > 0) || !(p[P_CAP] > 0) || !(p[P_BM25_K1] >= 0) ||
        !(p[P_BM25_B] >= 0 && p[P_BM25_B] <= 1))
        return sr_diag_set(d, SR_E_USAGE,
                           "BPR: factors must be in [1, 1024], iterations, learning_rate and "
                           "regularization >= 0, sampling uniform or by_user, transform one of "
                           "none|" SR_CONF_CHOICES ", alpha >= 0, eps and cap > 0, bm25_k1 >= 0, "
                           "bm25_b in [0, 1]");
    const bool by_user = p[P_SAMPLING] == 1;
    sr_confidence conf;
    const bool weighted = confidence_of(p, &conf);
    const uint32_t n_known = sr__iw_known_items(ts);
    bpr_state *s = sr_calloc(1, sizeof *s);
    bpr_scratch x;
    sr_err e = scratch_init(&x, ts, by_user, n_known, weighted ? &conf : NULL);
    if (e == SR_E_RANGE) {
        bpr_free(s);
        scratch_free(&x);
        return sr_diag_set(d, SR_E_USAGE, "BPR: alpha too large: the weights overflow");
    }
    if (s) {
        sr_confidence_corpus(ts, &s->corpus);
        s->k = (uint32_t)p[P_FACTORS];
        s->ld = sr__mf_ld(s->k);
        s->bi = sr_calloc((size_t)ts->n_items + 1, sizeof *s->bi);
        s->pu = sr__mf_alloc(ts->n_users, s->ld);
        s->qi = sr__mf_alloc(ts->n_items, s->ld);
    }
    if (e || !s || !s->bi || !s->pu || !s->qi) {
        bpr_free(s);
        scratch_free(&x);
        return sr_diag_set(d, SR_E_NOMEM, "BPR: out of memory for %u x %u factors", ts->n_users,
                           (uint32_t)p[P_FACTORS]);
    }
    sr_rng rng;
    sr_rng_seed(&rng, c->seed);
    const double r0 = 0.5 / s->k;
    sr__mf_init_uniform(s->pu, ts->n_users, s->k, s->ld, &rng, -r0, r0);
    sr__mf_init_uniform(s->qi, ts->n_items, s->k, s->ld, &rng, -r0, r0);

    const double lr = p[P_LR];
    atomic_uint next;
    atomic_init(&next, 0);
    bpr_shared sh = {.ts = ts,
                     .s = s,
                     .pairs = x.pairs,
                     .pos = x.pos,
                     .known_bits = x.bits,
                     .known_list = x.list,
                     .n_items = ts->n_items,
                     .n_known = n_known,
                     .lr = (float)lr,
                     .dec = (float)(1.0 - lr * p[P_REG]),
                     .bias = p[P_ITEM_BIAS] != 0,
                     .verify = p[P_VERIFY] != 0,
                     .neg_reuse = (uint32_t)p[P_NEG_REUSE],
                     .order = x.order,
                     .n_order = x.n_order,
                     .next = &next};
    void (*run)(bpr_job *) = run_scalar;
#if defined(__x86_64__)
    if (!force_scalar && sr__mf_have_avx512()) run = run_avx512;
#endif
    uint32_t T = c->threads < 1 ? 1 : c->threads > MAX_THREADS ? MAX_THREADS : (uint32_t)c->threads;
    bpr_job jobs[MAX_THREADS];
    for (uint32_t t = 0; t < T; t++) {
        jobs[t] = (bpr_job){.sh = &sh, .run = run};
        sr_rng_seed_stream(&jobs[t].rng, c->seed, t);
    }
    if (ts->n && n_known >= 2) train(&sh, jobs, T, (int)p[P_ITERS], x.order, c->seed, c->log);
    scratch_free(&x);
    zero_unknown(s, ts);
    set_views(s, ts);
    *state = s;
    return SR_OK;
}

static sr_err bpr_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                      sr_diag *d) {
    return sr__bpr_fit(ts, p, c, 0, state, d);
}

/* ---- scores ---- */

static bool bpr_estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                         double *est) {
    const bpr_state *s = state;
    if (!sr_trainset_knows_item(ts, i)) return false;
    double e = s->bi[i];
    if (sr_trainset_knows_user(ts, u)) e += sr_fmat_dot2(&s->P, u, &s->Q, i);
    *est = e;
    return true;
}

/* NaN for the songs of [lo, hi) the trainset does not know. */
static void mark_unknown(const sr_trainset *ts, float *out, uint32_t lo, uint32_t hi) {
    for (uint32_t i = lo; i < hi; i++)
        if (!sr_trainset_knows_item(ts, i)) out[i] = NAN;
}

static void bpr_score_user(const void *state, const sr_trainset *ts, uint32_t u, float *out,
                           uint32_t lo, uint32_t hi) {
    const bpr_state *s = state;
    float *x = sr_calloc(s->ld, sizeof *x);
    if (!x) { /* no room for the widened row: one estimate at a time */
        for (uint32_t i = lo; i < hi; i++) {
            double e;
            out[i] = bpr_estimate(state, ts, u, i, &e) ? (float)e : NAN;
        }
        return;
    }
    if (sr_trainset_knows_user(ts, u)) sr_fmat_row(&s->P, u, x);
    /* Unknown songs get 0 (their rows are zero): callers never rank them (model.h). */
    sr_fmat_scores(&s->Q, x, s->bi, 0, out, lo, hi);
    sr_free(x);
}

/* score_users: the listeners' rows against each block of song rows (fmat.h); an unknown
 * listener's row is zero, as in score_user. */
static void bpr_score_users(const void *state, const sr_trainset *ts, const uint32_t *users,
                            size_t n, float *out, size_t ldo, uint32_t lo, uint32_t hi) {
    const bpr_state *s = state;
    float *X = sr_calloc(n ? n * s->ld : 1, sizeof *X), *add = sr_calloc(n ? n : 1, sizeof *add);
    if (!X || !add) { /* one estimate at a time, into range-sized rows */
        for (size_t x = 0; x < n; x++)
            for (uint32_t i = lo; i < hi; i++) {
                double e;
                out[x * ldo + (i - lo)] = bpr_estimate(state, ts, users[x], i, &e) ? (float)e : NAN;
            }
        sr_free(X), sr_free(add);
        return;
    }
    for (size_t x = 0; x < n; x++)
        if (sr_trainset_knows_user(ts, users[x])) sr_fmat_row(&s->P, users[x], X + x * s->ld);
    sr_fmat_scores_multi(&s->Q, X, n, s->ld, s->bi, add, out, ldo, lo, hi);
    sr_free(X), sr_free(add);
}

static bool bpr_similar(const void *state, const sr_trainset *ts, uint32_t i, float *out) {
    const bpr_state *s = state;
    const uint64_t n = s->Q.rows;
    if (i >= n) return false;
    float *x = sr_calloc(s->ld, sizeof *x);
    if (!x) return false;
    sr_fmat_row(&s->Q, i, x);
    const double nx = sqrt(sr_fmat_dot(&s->Q, i, x));
    sr_fmat_scores(&s->Q, x, NULL, 0, out, 0, n);
    for (uint64_t j = 0; j < n; j++) {
        const double nj = sqrt(sr_fmat_dot2(&s->Q, j, &s->Q, j));
        out[j] = nx > 0 && nj > 0 ? (float)(out[j] / (nx * nj)) : NAN;
    }
    sr_free(x);
    return true;
}

/* ---- model files ---- */

static void bpr_save(const void *state, const sr_trainset *ts, sr_srm_writer *w) {
    const bpr_state *s = state;
    sr_srm_put(w, "m.bi", SR_SRM_F32, s->bi, ts->n_items);
    sr_srm_put_factors(w, "m.pu", s->pu, ts->n_users, s->k, s->ld);
    sr_srm_put_factors(w, "m.qi", s->qi, ts->n_items, s->k, s->ld);
    sr_confidence_save(&s->corpus, w);
}

static sr_err bpr_load(sr_srm *r, const sr_trainset *ts, const double *p, void **state,
                       sr_diag *d) {
    *state = NULL;
    const uint32_t k = (uint32_t)p[P_FACTORS];
    const void *bi;
    sr_fmat P, Q;
    sr_err e = sr_srm_get(r, "m.bi", SR_SRM_F32, ts->n_items, &bi, NULL, d);
    if (!e) e = sr_srm_get_fmat(r, "m.pu", ts->n_users, k, &P, d);
    if (!e) e = sr_srm_get_fmat(r, "m.qi", ts->n_items, k, &Q, d);
    sr_confidence conf;
    confidence_of(p, &conf);
    sr_conf_corpus corpus;
    if (!e) e = sr_confidence_load(r, &conf, ts, &corpus, d);
    if (e) return e;
    bpr_state *s = sr_calloc(1, sizeof *s);
    if (!s) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    s->k = k;
    s->ld = sr__mf_ld(k);
    s->bi = (float *)bi;
    s->P = P;
    s->Q = Q;
    s->corpus = corpus;
    s->mapped = true;
    *state = s;
    return SR_OK;
}

/* ---- new listeners ---- */

typedef struct bpr_user {
    float *x;  /* (ld) p of the listener, padding zero */
    double *c; /* (n, k) each song's part of p */
} bpr_user;

static void bpr_user_free(void *ustate) {
    bpr_user *bu = ustate;
    if (!bu) return;
    sr_free(bu->x);
    sr_free(bu->c);
    sr_free(bu);
}

/* Whether the ascending items (n, ids below n_items) hold j. */
static bool items_have(const uint32_t *items, size_t n, uint32_t j, uint32_t n_items) {
    return sr__iw_has(items, n, j, sr__iw_guess(n, j, n_items));
}

/* A negative for the listener: a known song they did not play, or UINT32_MAX. */
static uint32_t fold_negative(const sr_trainset *ts, const sr_newuser *u, sr_rng *r) {
    for (int t = 0; t < MAX_TRIES * 4; t++) {
        const uint32_t j = (uint32_t)sr_rng_below(r, ts->n_items);
        if (sr_trainset_knows_item(ts, j) && !items_have(u->items, u->n, j, ts->n_items)) return j;
    }
    return UINT32_MAX;
}

/* The listener's positives drawn in proportion to their confidences (a weighted fit): an
 * alias table over their n songs into *al. SR_E_NOMEM, or SR_E_RANGE for weights that
 * overflow. */
static sr_err fold_alias(const bpr_state *s, const sr_trainset *ts, const sr_confidence *conf,
                         const sr_newuser *u, sr_alias *al) {
    const size_t n = u->n;
    float *w = sr_mallocarray(2 * n, sizeof *w); /* (n) weights, (n) scratch */
    double *c = sr_mallocarray(n, sizeof *c);
    sr_err e = SR_E_NOMEM;
    if (w && c) {
        sr_confidence_row(conf, &s->corpus, ts, u->items, u->r, n, w + n, w);
        for (size_t t = 0; t < n; t++) c[t] = 1.0 + (double)w[t];
        e = sr_alias_init(al, c, n);
    }
    sr_free(w), sr_free(c);
    return e;
}

static sr_err bpr_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *u,
                          sr_diag *d) {
    const bpr_state *s = state;
    const uint32_t k = s->k;
    const size_t n = u->n;
    u->state = NULL;
    bpr_user *bu = sr_calloc(1, sizeof *bu);
    float *qa = sr_mallocarray(n ? n * k : 1, sizeof *qa); /* (n, k) the songs' rows */
    float *qb = sr_mallocarray(k, sizeof *qb);
    double *x = sr_calloc(k, sizeof *x);
    if (bu) {
        bu->x = sr_calloc(s->ld, sizeof *bu->x);
        bu->c = sr_calloc(n ? n * k : 1, sizeof *bu->c);
    }
    if (!bu || !bu->x || !bu->c || !qa || !qb || !x) {
        bpr_user_free(bu);
        sr_free(qa), sr_free(qb), sr_free(x);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    sr_confidence conf;
    sr_alias al = {0};
    const bool weighted = confidence_of(p, &conf) && n;
    sr_err e = weighted ? fold_alias(s, ts, &conf, u, &al) : SR_OK;
    if (e) {
        bpr_user_free(bu);
        sr_free(qa), sr_free(qb), sr_free(x);
        return e == SR_E_NOMEM ? sr_diag_set(d, e, "out of memory")
                               : sr_diag_set(d, SR_E_USAGE, "BPR: the weights overflow");
    }
    for (size_t t = 0; t < n; t++) sr_fmat_row(&s->Q, u->items[t], qa + t * k);
    uint64_t h = sr_hash64(n);
    for (size_t t = 0; t < n; t++) h = sr_hash2(h, u->items[t]);
    sr_rng rng;
    sr_rng_seed(&rng, h);
    const double lr = p[P_LR], dec = 1.0 - lr * p[P_REG];
    /* c_t is kept as scale * c~_t, so that the decay of every part is one multiply. */
    double scale = 1;
    for (int pass = 0; pass < FOLD_PASSES && n; pass++)
        for (size_t step_no = 0; step_no < n; step_no++) {
            const size_t t = weighted ? sr_alias_sample(&al, &rng) : step_no;
            const uint32_t i = u->items[t], j = fold_negative(ts, u, &rng);
            if (j == UINT32_MAX) continue;
            sr_fmat_row(&s->Q, j, qb);
            const float *a = qa + t * k;
            double z = (double)s->bi[i] - s->bi[j];
            for (uint32_t f = 0; f < k; f++) z += x[f] * ((double)a[f] - qb[f]);
            const double gl = lr / (1.0 + exp(z));
            scale *= dec;
            double *ct = bu->c + t * k;
            for (uint32_t f = 0; f < k; f++) {
                const double step = gl * ((double)a[f] - qb[f]);
                x[f] = dec * x[f] + step;
                ct[f] += step / scale;
            }
            if (scale < 1e-150) { /* fold the scale in before it underflows */
                for (size_t q = 0; q < n * k; q++) bu->c[q] *= scale;
                scale = 1;
            }
        }
    for (size_t q = 0; q < n * k; q++) bu->c[q] *= scale;
    for (uint32_t f = 0; f < k; f++) bu->x[f] = (float)x[f];
    sr_alias_deinit(&al);
    sr_free(qa), sr_free(qb), sr_free(x);
    u->state = bu;
    return SR_OK;
}

static bool bpr_estimate_new(const void *state, const sr_trainset *ts, const sr_newuser *u,
                             uint32_t i, double *est) {
    const bpr_state *s = state;
    const bpr_user *bu = u->state;
    if (!sr_trainset_knows_item(ts, i)) return false;
    *est = s->bi[i] + sr_fmat_dot(&s->Q, i, bu->x);
    return true;
}

/* Known items score b_i + q_i . x: the recommender may scan an int8 copy of Q (model.h). */
static void bpr_linear(const void *state, const sr_newuser *u, sr_linear *lin) {
    const bpr_state *s = state;
    *lin = (sr_linear){.Q = s->Q, .bias = s->bi};
    if (u) lin->x = ((const bpr_user *)u->state)->x;
}

static void bpr_score_new(const void *state, const sr_trainset *ts, const sr_newuser *u, float *out,
                          uint32_t lo, uint32_t hi) {
    const bpr_state *s = state;
    const bpr_user *bu = u->state;
    sr_fmat_scores(&s->Q, bu->x, s->bi, 0, out, lo, hi);
    mark_unknown(ts, out, lo, hi);
}

/* Each song's part of p, times q_i: they sum to p . q_i, the personal part. */
static bool bpr_explain(const void *state, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                        double *w) {
    const bpr_state *s = state;
    const bpr_user *bu = u->state;
    if (!sr_trainset_knows_item(ts, i)) return false;
    float *q = sr_mallocarray(s->k, sizeof *q);
    if (!q) return false;
    sr_fmat_row(&s->Q, i, q);
    for (size_t t = 0; t < u->n; t++) {
        const double *ct = bu->c + t * s->k;
        double v = 0;
        for (uint32_t f = 0; f < s->k; f++) v += ct[f] * q[f];
        w[t] = v;
    }
    sr_free(q);
    return true;
}

const sr_model_ops sr_model_bpr = {
    .name = "bpr",
    .surprise = "BPR",
    .summary = "Bayesian personalised ranking (Rendle 2009): MF + item bias by sampled-triple SGD",
    .params = bpr_params,
    .n_params = P_COUNT,
    .fit = bpr_fit,
    .estimate = bpr_estimate,
    .free = bpr_free,
    .save = bpr_save,
    .load = bpr_load,
    .fold_in = bpr_fold_in,
    .estimate_new = bpr_estimate_new,
    .score_new = bpr_score_new,
    .linear = bpr_linear,
    .explain = bpr_explain,
    .user_free = bpr_user_free,
    .similar = bpr_similar,
    .score_user = bpr_score_user,
    .score_users = bpr_score_users,
    .implicit = true,
};
