/* Sessions: songs that are played together, found in listening sessions — the way
 * ListenBrainz finds similar recordings (plays by one user close in time) — as an
 * item-neighbour model for implicit feedback.
 *
 *   sessions   a listener's listens in time order (the trainset's events, trainset.h),
 *              cut wherever the pause since the previous listen exceeds `gap` seconds
 *              (a pause of exactly `gap` stays in the session);
 *   weight     w_S = 2^(-(t_end - t_S) / half_life) with t_S the session's last listen
 *              and t_end the latest listen of the training data (half_life_days = 0:
 *              every w_S = 1, and the counts below are plain session counts);
 *   C(a, b)    the sum of w_S over the sessions S in which a and b (a != b) are played
 *              within `window` listens of each other (positions p, q with
 *              0 < |p - q| < window), each session counted once however often the two
 *              meet in it — the window bounds the work, and keeps a long session from
 *              pairing its first song with its last;
 *   N(a)       the sum of w_S over the sessions holding a;
 *   sim(a, b)  by `similarity`:
 *                conditional  C(a, b) / N(a): the (weighted) share of a's sessions in
 *                             which b was played near a — in (0, 1], not symmetric;
 *                cosine       C(a, b) / sqrt(N(a) N(b)): the cosine of the songs'
 *                             session-incidence vectors (entries sqrt(w_S)), the
 *                             co-occurrence restricted to the window; in (0, 1];
 *                count        C(a, b) itself (unnormalised: popular songs lead);
 *              each song keeps its k most similar songs (ties: lower id).
 * conditional is the default: within a's list it orders like the raw count (a's list is
 * the same), but a listener's songs weigh alike whatever their popularity. The cosine
 * lifts rare songs that met once or twice, and on generated data (`songrec generate`
 * before its listens came in sessions, holdout NDCG@10 on 200 users x 1,500 songs over
 * two months: conditional 0.144, count 0.164, cosine 0.072, popularity 0.148) it ranked
 * far below the other two.
 * Scores, fold-in, explain and similar are ItemKNN's (item_knn.h): a listener's score of
 * i is sum over their songs j of w(j) sim_j(i), w(j) their count weighed by `weighting`
 * (none: the count; tfidf: its square root; bm25: K1 1.2, B 0.75 with the songs'
 * length norms); the model file holds the same sections as ItemKNN's.
 *
 * Fit: the sessions of every listener (serial, O(listens)); each song's occurrences (a
 * counting sort of the listens by song, positions ascending, so a song's occurrences
 * come session by session); then each song's row on its own, in parallel over songs
 * (sr__iknn_build: chunks of songs through an atomic counter, one accumulator, session
 * stamp and touched list per thread): for each occurrence, the listens within the
 * window in its session, a stamp per song holding the last session counted so a pair
 * counts once per session. C is symmetric and a row depends on its song only (the
 * sessions are visited in the same order from either side), so the lists do not depend
 * on the thread count. Work 2 (window - 1) per listen; memory 8 bytes a listen for the
 * trainset's events, 32 more while fitting (each listen's session and place by song, the
 * sessions' starts and weights), 20 bytes a song per thread, and the lists.
 *
 * Without events (a dataset ingested without --keep-listens, or a trainset nobody gave
 * them: sr_trainset_add_events) the fit fails and says so.
 */
#include <math.h>
#include <string.h>

#include "models/item_knn.h"
#include "util/mem.h"

enum { P_K, P_GAP, P_WINDOW, P_HALF_LIFE, P_SIMILARITY, P_WEIGHTING, P_COUNT };
enum { SIM_CONDITIONAL, SIM_COSINE, SIM_COUNT };

static const sr_param_def sess_params[P_COUNT] = {
    [P_K] = {"k", SR_PARAM_INT, 100, 1, 100000, NULL, "neighbours kept per song"},
    [P_GAP] = {"gap", SR_PARAM_INT, 1800, 0, 1e9, NULL,
               "seconds of pause that end a session (exactly gap: the same session)"},
    [P_WINDOW] = {"window", SR_PARAM_INT, 10, 2, 10000, NULL,
                  "songs co-occur when fewer than this many listens apart in a session"},
    [P_HALF_LIFE] = {"half_life_days", SR_PARAM_REAL, 0, 0, 1e6, NULL,
                     "a session's weight halves every this many days before the latest "
                     "listen (0: no decay)"},
    [P_SIMILARITY] = {"similarity", SR_PARAM_CHOICE, SIM_CONDITIONAL, 0, 2,
                      "conditional|cosine|count",
                      "co-occurrence C(a, b) over N(a), over sqrt(N(a) N(b)), or as it is"},
    [P_WEIGHTING] = {"weighting", SR_PARAM_CHOICE, 1, 0, 2, "none|tfidf|bm25",
                     "the listener's weight of a played song: count, sqrt(count), BM25"},
};

/* ---- sessions ---- */

size_t sr__session_starts(const uint32_t *time, size_t n, uint32_t gap, uint64_t *start) {
    size_t ns = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || (uint64_t)time[i] - time[i - 1] > gap) start[ns++] = i;
    return ns;
}

void sr__sessions_free(sr_sessions *S) {
    if (!S) return;
    sr_free(S->start);
    sr_free(S->sess);
    sr_free(S->weight);
    sr_free(S->occ_ptr);
    sr_free(S->occ);
    sr_free(S->mass);
    sr_free(S);
}

/* S->start, S->sess and S->weight from the listens. */
static void split_sessions(sr_sessions *S, uint32_t n_users, uint32_t gap, double half_life_days) {
    const sr_events *ev = S->ev;
    uint64_t n = 0;
    for (uint32_t u = 0; u < n_users; u++) {
        const uint64_t a = ev->ptr[u];
        const size_t ns =
            sr__session_starts(ev->time + a, (size_t)(ev->ptr[u + 1] - a), gap, S->start + n);
        for (size_t k = 0; k < ns; k++) S->start[n + k] += a;
        n += ns;
    }
    S->start[n] = ev->n;
    S->n = n;
    uint32_t t_end = 0;
    for (uint64_t p = 0; p < ev->n; p++) t_end = ev->time[p] > t_end ? ev->time[p] : t_end;
    const double half_s = half_life_days * 86400.0;
    for (uint64_t s = 0; s < n; s++) {
        for (uint64_t p = S->start[s]; p < S->start[s + 1]; p++) S->sess[p] = s;
        const uint32_t t_last = ev->time[S->start[s + 1] - 1];
        S->weight[s] = half_s > 0 ? exp2(-(double)(t_end - t_last) / half_s) : 1.0;
    }
}

/* S->occ_ptr, S->occ (a counting sort of the listens by song) and S->mass. */
static void index_songs(sr_sessions *S) {
    const sr_events *ev = S->ev;
    uint64_t *ptr = S->occ_ptr;
    memset(ptr, 0, ((size_t)S->n_items + 1) * sizeof *ptr);
    for (uint64_t p = 0; p < ev->n; p++) ptr[ev->item[p] + 1]++;
    for (uint32_t a = 0; a < S->n_items; a++) ptr[a + 1] += ptr[a];
    for (uint64_t p = 0; p < ev->n; p++) S->occ[ptr[ev->item[p]]++] = p;
    for (uint32_t a = S->n_items; a > 0; a--) ptr[a] = ptr[a - 1]; /* back to starts */
    ptr[0] = 0;
    for (uint32_t a = 0; a < S->n_items; a++) {
        double m = 0;
        uint64_t prev = UINT64_MAX;
        for (uint64_t o = ptr[a]; o < ptr[a + 1]; o++) {
            const uint64_t s = S->sess[S->occ[o]];
            if (s == prev) continue;
            prev = s;
            if (S->weight[s] > 0) m += S->weight[s];
        }
        S->mass[a] = m;
    }
}

sr_err sr__sessions_new(const sr_trainset *ts, uint32_t gap, uint32_t window, double half_life_days,
                        sr_sessions **out) {
    *out = NULL;
    const sr_events *ev = ts->ev;
    if (!ev) return SR_E_INPUT;
    sr_sessions *S = sr_calloc(1, sizeof *S);
    if (!S) return SR_E_NOMEM;
    S->ev = ev;
    S->n_items = ts->n_items;
    S->window = window < 2 ? 2 : window;
    const size_t n1 = ev->n ? (size_t)ev->n : 1;
    S->start = sr_mallocarray(n1 + 1, sizeof *S->start);
    S->sess = sr_mallocarray(n1, sizeof *S->sess);
    S->weight = sr_mallocarray(n1, sizeof *S->weight);
    S->occ_ptr = sr_mallocarray((size_t)ts->n_items + 1, sizeof *S->occ_ptr);
    S->occ = sr_mallocarray(n1, sizeof *S->occ);
    S->mass = sr_mallocarray(ts->n_items ? ts->n_items : 1, sizeof *S->mass);
    if (!S->start || !S->sess || !S->weight || !S->occ_ptr || !S->occ || !S->mass) {
        sr__sessions_free(S);
        return SR_E_NOMEM;
    }
    split_sessions(S, ts->n_users, gap, half_life_days);
    index_songs(S);
    *out = S;
    return SR_OK;
}

size_t sr__session_row(const sr_sessions *S, uint32_t a, double *acc, uint64_t *stamp,
                       uint32_t *touched) {
    const uint32_t *item = S->ev->item;
    const uint64_t reach = S->window - 1; /* the farthest partner, in listens */
    size_t nt = 0;
    for (uint64_t o = S->occ_ptr[a]; o < S->occ_ptr[a + 1]; o++) {
        const uint64_t p = S->occ[o], s = S->sess[p];
        const double w = S->weight[s];
        if (!(w > 0)) continue; /* decayed to nothing: adds nothing, marks nothing */
        const uint64_t lo = p - S->start[s] > reach ? p - reach : S->start[s];
        const uint64_t hi = S->start[s + 1] - p > reach ? p + reach + 1 : S->start[s + 1];
        for (uint64_t q = lo; q < hi; q++) {
            const uint32_t b = item[q];
            if (b == a || stamp[b] == s + 1) continue; /* itself, or counted in this session */
            stamp[b] = s + 1;
            if (acc[b] == 0) touched[nt++] = b; /* every term is > 0 */
            acc[b] += w;
        }
    }
    for (size_t t = 0; t < nt; t++) stamp[touched[t]] = 0;
    return nt;
}

/* ---- fit ---- */

typedef struct sess_job {
    const sr_sessions *S;
    uint32_t k;
    int similarity; /* SIM_* */
} sess_job;

/* One thread's accumulator (n_items), session stamps (n_items) and touched list. */
typedef struct sess_scratch {
    double *acc;
    uint64_t *stamp;
    uint32_t *touched;
} sess_scratch;

static void scratch_free(void *scratch) {
    sess_scratch *w = scratch;
    if (!w) return;
    sr_free(w->acc);
    sr_free(w->stamp);
    sr_free(w->touched);
    sr_free(w);
}

static void *scratch_new(void *ctx) {
    const sess_job *j = ctx;
    const size_t n1 = j->S->n_items ? j->S->n_items : 1;
    sess_scratch *w = sr_calloc(1, sizeof *w);
    if (!w) return NULL;
    w->acc = sr_calloc(n1, sizeof *w->acc);
    w->stamp = sr_calloc(n1, sizeof *w->stamp);
    w->touched = sr_mallocarray(n1, sizeof *w->touched);
    if (!w->acc || !w->stamp || !w->touched) {
        scratch_free(w);
        return NULL;
    }
    return w;
}

/* Song a's candidates: C(a, b) normalised (sr_iknn_rows.row). */
static void sess_row(void *ctx, void *scratch, uint32_t a, sr_iknn_nb *heap, size_t *nh) {
    const sess_job *j = ctx;
    sess_scratch *w = scratch;
    const double *mass = j->S->mass;
    const size_t nt = sr__session_row(j->S, a, w->acc, w->stamp, w->touched);
    for (size_t t = 0; t < nt; t++) {
        const uint32_t b = w->touched[t];
        const double cnt = w->acc[b];
        const double den = j->similarity == SIM_COUNT    ? 1
                           : j->similarity == SIM_COSINE ? sqrt(mass[a] * mass[b])
                                                         : mass[a];
        const sr_iknn_nb c = {den > 0 ? (float)(cnt / den) : 0.0f, b};
        w->acc[b] = 0;
        if (c.sim > 0) sr__iknn_offer(heap, nh, j->k, c);
    }
}

static sr_iw weighting_of(const double *p) {
    return (sr_iw){(sr_iw_kind)(int)p[P_WEIGHTING], 1.2, 0.75};
}

static sr_err sess_fit(const sr_trainset *ts, const double *p, const sr_fit_ctx *c, void **state,
                       sr_diag *d) {
    *state = NULL;
    if (!(p[P_K] >= 1) || !(p[P_GAP] >= 0 && p[P_GAP] <= 1e9) || !(p[P_WINDOW] >= 2) ||
        !(p[P_HALF_LIFE] >= 0) || !(p[P_SIMILARITY] >= 0 && p[P_SIMILARITY] <= 2) ||
        !(p[P_WEIGHTING] >= 0 && p[P_WEIGHTING] <= 2))
        return sr_diag_set(d, SR_E_USAGE,
                           "sessions: k must be >= 1, gap 0..1e9 s, window >= 2, "
                           "half_life_days >= 0, similarity conditional|cosine|count and "
                           "weighting none|tfidf|bm25");
    if (!ts->ev)
        return sr_diag_set(d, SR_E_INPUT,
                           "sessions needs per-listen times: ingest with --keep-listens");
    if (!ts->ev->n)
        return sr_diag_set(d, SR_E_INPUT,
                           "sessions: the training data has no listens with times (its input "
                           "gave none)");
    const uint32_t k = p[P_K] > 1e9 ? 1000000000u : (uint32_t)p[P_K];
    const uint32_t window = p[P_WINDOW] > 1e9 ? 1000000000u : (uint32_t)p[P_WINDOW];
    sr_sessions *S = NULL;
    sr_iknn_state *s = sr_calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->w = weighting_of(p);
    s->lnorm = sr_mallocarray(ts->n_items ? ts->n_items : 1, sizeof *s->lnorm);
    if (!s->lnorm) goto nomem;
    sr__iw_lnorm(&s->w, ts, s->lnorm);
    if (sr__sessions_new(ts, (uint32_t)p[P_GAP], window, p[P_HALF_LIFE], &S)) goto nomem;
    sess_job j = {.S = S, .k = k, .similarity = (int)p[P_SIMILARITY]};
    const sr_iknn_rows R = {.n_items = ts->n_items,
                            .k = k,
                            .threads = c && c->threads > 0 ? c->threads : 1,
                            .ctx = &j,
                            .scratch_new = scratch_new,
                            .scratch_free = scratch_free,
                            .row = sess_row};
    if (sr__iknn_build(&R, s)) goto nomem;
    sr__sessions_free(S);
    *state = s;
    return SR_OK;
nomem:
    sr__sessions_free(S);
    sr__iknn_free(s);
    return sr_diag_set(d, SR_E_NOMEM, "sessions: out of memory for %llu listens of %u songs",
                       (unsigned long long)ts->ev->n, ts->n_items);
}

static sr_err sess_load(sr_srm *r, const sr_trainset *ts, const double *p, void **state,
                        sr_diag *d) {
    return sr__iknn_load(r, ts, weighting_of(p), state, d);
}

const sr_model_ops sr_model_session_knn = {
    .name = "sessions",
    .surprise = "SessionKNN",
    .summary = "songs played together in listening sessions (co-occurrence within a window, "
               "optional time decay)",
    .params = sess_params,
    .n_params = P_COUNT,
    .fit = sess_fit,
    .load = sess_load,
    SR_IKNN_OPS_COMMON,
    .needs_events = true,
};
