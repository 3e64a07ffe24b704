/* Shared-private parts of the item-neighbour models: ItemKNN over play counts
 * (item_knn.c) and co-occurrence in listening sessions (session_knn.c). Both end in the
 * same state — each song's top-k neighbour list plus the listener weighting — and
 * differ only in how a song's candidate similarities are found, so they share:
 *
 *   - the state (sr_iknn_state) and every op that reads it: estimate, score_user,
 *     score_users, save/load ("m.nb_ptr", "m.nb_idx", "m.nb_sim", "m.lnorm"), fold_in,
 *     estimate_new, score_new, explain, similar (item_knn.c says what each computes);
 *   - the building of the lists (sr__iknn_build): items handed out to threads in chunks
 *     through an atomic counter; for each item the model's row function offers its
 *     candidates to a bounded k-entry heap (best: higher similarity, then lower id);
 *     each list is kept sorted by neighbour id, so that a range of songs is found in it
 *     by bisection (score_users scores a listener range by range). A model file stores
 *     each list best first, as it always has; a loaded state keeps that order (by_id
 *     false) and its range lookups scan. Scores do not depend on the order: a list adds
 *     at most one term to a song's sum, and the terms are added in the listener's song
 *     order either way.
 *
 * Session co-occurrence (session_knn.c) also lives here, for its tests: the sessions of
 * a trainset's listens (sr_sessions) and one song's raw co-occurrence row.
 *
 * Ownership: sr__iknn_build fills the state's arrays with new memory (freed by
 * sr__iknn_free unless mapped); sr__sessions_new returns a new object that borrows the
 * trainset's events; free it with sr__sessions_free.
 */
#ifndef SR_ITEM_KNN_H
#define SR_ITEM_KNN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/implicit_weight.h"
#include "models/model.h"

/* The neighbour lists of every song and how a listener weighs their songs. */
typedef struct sr_iknn_state {
    uint64_t *ptr; /* (n_items + 1) list of song j: [ptr[j], ptr[j+1]) */
    uint32_t *idx; /* (nnz) neighbours: ascending when by_id, else best first */
    float *sim;    /* (nnz) their similarities, > 0 */
    float *lnorm;  /* (n_items) BM25 length norms (ones under the other weightings) */
    sr_iw w;       /* the listener's weight of a song: sr__iw_tf(w, count, lnorm) */
    bool by_id;    /* lists sorted by neighbour id (built), else as stored (loaded) */
    bool mapped;   /* the arrays are borrowed from a model file */
} sr_iknn_state;

/* A candidate neighbour. */
typedef struct sr_iknn_nb {
    float sim;
    uint32_t id;
} sr_iknn_nb;

/* Offers c to the bounded heap h (*nh entries, at most k; the worst at the root). */
void sr__iknn_offer(sr_iknn_nb *h, size_t *nh, uint32_t k, sr_iknn_nb c);

/* How a model finds the candidates of its rows. */
typedef struct sr_iknn_rows {
    uint32_t n_items, k; /* k >= 1 */
    int threads;         /* >= 1 */
    void *ctx;
    /* A thread's scratch (NULL when out of memory) and its release. */
    void *(*scratch_new)(void *ctx);
    void (*scratch_free)(void *scratch);
    /* Offers item i's candidates (ids != i, similarities > 0, each id once) to the heap
     * with sr__iknn_offer(heap, nh, k, ...). Called on any thread; must depend on i only. */
    void (*row)(void *ctx, void *scratch, uint32_t i, sr_iknn_nb *heap, size_t *nh);
} sr_iknn_rows;

/* Every item's list into s->ptr, idx, sim (by_id; s's other fields untouched), on up to
 * R->threads threads; the lists do not depend on the thread count. SR_E_NOMEM (s's
 * arrays are then whatever was allocated: sr__iknn_free frees them). */
sr_err sr__iknn_build(const sr_iknn_rows *R, sr_iknn_state *s);

/* The shared ops (see item_knn.c). load takes the weighting from the caller, who reads
 * it from its parameters. */
void sr__iknn_free(void *state);
bool sr__iknn_estimate(const void *state, const sr_trainset *ts, uint32_t u, uint32_t i,
                       double *est);
void sr__iknn_score_user(const void *state, const sr_trainset *ts, uint32_t u, float *out,
                         uint32_t lo, uint32_t hi);
void sr__iknn_score_users(const void *state, const sr_trainset *ts, const uint32_t *users, size_t n,
                          float *out, size_t ldo, uint32_t lo, uint32_t hi);

/* The sr_model_ops entries both models take from here (their fit and load are their own). */
#define SR_IKNN_OPS_COMMON                                                                         \
    .estimate = sr__iknn_estimate, .free = sr__iknn_free, .ts_keep = SR_TS_BY_USER,                \
    .save = sr__iknn_save, .fold_in = sr__iknn_fold_in, .estimate_new = sr__iknn_estimate_new,     \
    .score_new = sr__iknn_score_new, .explain = sr__iknn_explain, .user_free = sr__iknn_user_free, \
    .similar = sr__iknn_similar, .score_user = sr__iknn_score_user,                                \
    .score_users = sr__iknn_score_users, .implicit = true
void sr__iknn_save(const void *state, const sr_trainset *ts, sr_srm_writer *w);
sr_err sr__iknn_load(sr_srm *r, const sr_trainset *ts, sr_iw w, void **state, sr_diag *d);
sr_err sr__iknn_fold_in(const void *state, const sr_trainset *ts, const double *p, sr_newuser *u,
                        sr_diag *d);
bool sr__iknn_estimate_new(const void *state, const sr_trainset *ts, const sr_newuser *u,
                           uint32_t i, double *est);
void sr__iknn_score_new(const void *state, const sr_trainset *ts, const sr_newuser *u, float *out,
                        uint32_t lo, uint32_t hi);
bool sr__iknn_explain(const void *state, const sr_trainset *ts, const sr_newuser *u, uint32_t i,
                      double *w);
void sr__iknn_user_free(void *ustate);
bool sr__iknn_similar(const void *state, const sr_trainset *ts, uint32_t i, float *out);

/* ---- listening sessions (session_knn.c) ---- */

/* The sessions of n listen times (ascending): a new session starts where the time since
 * the previous listen exceeds gap seconds (exactly gap: the same session). Writes the
 * first listen of each session into start (room for n) and returns their number. */
size_t sr__session_starts(const uint32_t *time, size_t n, uint32_t gap, uint64_t *start);

/* The sessions of a trainset's listens (ts->ev) and each song's occurrences. */
typedef struct sr_sessions {
    const sr_events *ev; /* borrowed */
    uint32_t n_items, window;
    uint64_t n;        /* sessions */
    uint64_t *start;   /* (n + 1) first listen of each session (an index of ev), then ev->n */
    uint64_t *sess;    /* (ev->n) the session of each listen */
    double *weight;    /* (n) 2^(-(t_end - t_last) / half_life), 1 without decay */
    uint64_t *occ_ptr; /* (n_items + 1) occurrences of song a: [occ_ptr[a], occ_ptr[a+1]) */
    uint64_t *occ;     /* (ev->n) listens (indices of ev) by song, ascending */
    double *mass;      /* (n_items) sum of the weights of the sessions holding each song */
} sr_sessions;

/* Sessions of ts->ev with the given gap (s), window (listens, >= 2) and half-life (days,
 * 0: none); t_end is the latest listen. SR_E_INPUT when ts has no events, SR_E_NOMEM. */
sr_err sr__sessions_new(const sr_trainset *ts, uint32_t gap, uint32_t window, double half_life_days,
                        sr_sessions **out);
void sr__sessions_free(sr_sessions *S);

/* Song a's co-occurrence row: for every other song b, C(a, b) = the sum of the weights of
 * the sessions in which a and b are played within `window` listens of each other
 * (positions p, q with 0 < |p - q| < window), each session counted once. Adds C(a, b)
 * into acc[b] and lists each b with C > 0 once in touched (returns how many); stamp (a
 * 0 for every song on entry) is left so; acc must be 0 on entry for every song. */
size_t sr__session_row(const sr_sessions *S, uint32_t a, double *acc, uint64_t *stamp,
                       uint32_t *touched);

#endif
