/* Ranking evaluation: how good are a model's top-k lists, for any model of the registry.
 *
 * A split (a test mask over the ratings, as split.h makes for rating splits) keeps some
 * of each listener's pairs back; the model is fitted on the rest; every listener with a
 * held-back pair gets a list of the k best-scored songs that the model knows and the
 * listener has not played in training (exactly the candidates the recommender offers,
 * rec/recommend.c), and the list is judged against the held-back pairs. Splits:
 *   holdout  per listener, a random round(holdout * n) of their n pairs (at least one,
 *            at most n - 1; drawn by selection sampling from hash(seed, user, position),
 *            so the mask depends on the seed and the ratings' order only);
 *   last_n   per listener, the last_n most recent pairs by first listen (rs->ts; pairs
 *            of unknown time count as oldest; equal times: the later pair in rs wins);
 *            needs listen times (SR_E_INPUT without);
 *   time     every pair first listened at or after time_cut is tested, the rest (and
 *            pairs of unknown time) train; listeners with no training pair are not
 *            evaluated and songs first heard after the cut are unknown to the model;
 *            needs listen times too.
 * For holdout and last_n a listener with fewer than max(min_pairs, 2) (holdout) or
 * max(min_pairs, last_n + 1) (last_n) pairs keeps all of them in training.
 *
 * Scores: ops->score_user when the model has it, else ops->estimate per song, both
 * taken with sr_model_predict's meaning: a rating model's impossible estimate becomes
 * the global mean and every estimate is clipped to the scale (rating models are ranked
 * by predicted rating); an implicit model's score is used as it is (impossible: 0).
 * Ties go to the lower song id, as in the recommender. A held-back pair whose song the
 * trainset does not know cannot be recommended and is not counted as relevant (it is
 * counted in test_unknown); a listener left with no relevant pair is not evaluated.
 *
 * Metrics of one list L (n <= k songs) against the relevant set T (binary relevance),
 * h = |L ∩ T|, rank r = 1..n:
 *   precision = h / k          recall = h / |T|          hit = (h > 0)
 *   NDCG      = sum_{hits} 1/log2(r + 1) / sum_{r=1..min(k,|T|)} 1/log2(r + 1)
 *   AP        = sum_{hits} (hits in the first r) / r, divided by min(k, |T|)
 * each averaged over the evaluated listeners (MAP is the mean AP), and over all lists:
 *   coverage     distinct recommended songs / songs known to the trainset;
 *   novelty      mean over listeners of the mean self-information -log2(pop_i / U) of
 *                their list (pop_i: training listeners of song i, U: training listeners);
 *   diversity    mean over listeners of (distinct artists in the list) / k;
 *   new_artists  mean over listeners of the share of the list's distinct artists that
 *                are not among the artists of the listener's training songs;
 *   hits         recommended songs the listener did play in the test part, summed over
 *                all lists (with a time split: how many they played next).
 * diversity and new_artists need item_artist (NaN without).
 *
 * Speed: listeners run in parallel (blocks of listeners, an atomic counter); scoring
 * goes song range by song range for a block of listeners at a time, so a block shares
 * each range of the model's song factors while it is in cache; a list is kept in a
 * k-entry heap, O(n_items log k) worst case per listener, O(n_items) typically (runs
 * of 16 scores below the list's worst are skipped by one vectorised test). The time is
 * then the model's: score_user over every song for every listener; a model without
 * score_user is asked one estimate at a time (use max_users on large data).
 * Per-listener figures are kept in an array and summed in listener order, so a result
 * does not depend on the thread count.
 *
 * Ownership: nothing returned needs freeing; opts->item_artist is borrowed.
 */
#ifndef SR_RANKING_H
#define SR_RANKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eval/split.h"
#include "models/model.h"

typedef enum sr_rank_split {
    SR_RANK_HOLDOUT,
    SR_RANK_LAST_N,
    SR_RANK_TIME,
} sr_rank_split;

typedef enum sr_rank_metric {
    SR_RANK_PRECISION,
    SR_RANK_RECALL,
    SR_RANK_NDCG,
    SR_RANK_MAP,
    SR_RANK_HIT_RATE,
    SR_RANK_COVERAGE,
    SR_RANK_NOVELTY,
    SR_RANK_DIVERSITY,
    SR_RANK_NEW_ARTISTS,
    SR_RANK_HITS,
    SR_RANK__COUNT
} sr_rank_metric;

#define SR_RANK_MAX_K  10000
#define SR_RANK_NO_CUT SR_SPLIT_NO_CUT /* the rating splits' "no --test-after" */

typedef struct sr_rank_opts {
    sr_rank_split split;
    double holdout;              /* holdout: share of each listener's pairs tested, in (0, 1) */
    unsigned last_n;             /* last_n: pairs tested per listener, >= 1 */
    int64_t time_cut;            /* time: Unix s; pairs first listened at or after it are tested;
                                    SR_RANK_NO_CUT: not given (a time split refuses it) */
    unsigned min_pairs;          /* holdout, last_n: listeners with fewer pairs are not tested */
    unsigned k;                  /* list length, 1..SR_RANK_MAX_K */
    uint64_t seed;               /* the split, the listener sample and the model's random_state */
    unsigned threads;            /* fit and evaluation; 0 = 1 */
    uint32_t max_users;          /* 0: every test listener; else a seeded sample of that many */
    const uint32_t *item_artist; /* (rs->n_items) artist of each song, or NULL */
    const sr_log *log;           /* progress ("ranking"); may be NULL */
} sr_rank_opts;

typedef struct sr_rank_result {
    unsigned k;
    uint32_t users;               /* listeners evaluated */
    uint32_t users_skipped;       /* with test pairs but unknown to the trainset or none relevant */
    uint64_t n_train, n_test;     /* pairs on each side of the split */
    uint64_t test_unknown;        /* test pairs whose song the trainset does not know */
    double value[SR_RANK__COUNT]; /* the metrics above (NaN when they do not apply) */
    uint64_t hits;                /* = value[SR_RANK_HITS] */
    uint64_t recommended;         /* songs in all lists */
    double fit_s, eval_s;
} sr_rank_result;

/* holdout 0.2, last_n 1, k 10, seed 0, threads 1, no artists, no time cut
 * (SR_RANK_NO_CUT), everything else 0. */
void sr_rank_opts_default(sr_rank_opts *o);

/* The split's test mask: test[j] = 1 when pair j is tested (rs->n bytes). SR_E_USAGE
 * for bad options (a time split without its cut included), SR_E_INPUT for last_n or
 * time without listen times, SR_E_RANGE when the split tests nothing or everything (a
 * time split's words then name the cut and the data's time range: split.h's
 * sr_split_time_check), SR_E_NOMEM; words in d. */
sr_err sr_rank_split_mask(const sr_ratings *rs, const sr_rank_opts *o, uint8_t *test, sr_diag *d);

/* Fits ops (params: a full vector, NULL for the defaults) on the training part of the
 * split and evaluates its top-k lists, as described above. Fills *out (zeroed first).
 * Errors of the split, of the fit, SR_E_RANGE when no listener can be evaluated,
 * SR_E_NOMEM; words in d. Nothing is left allocated on failure. */
sr_err sr_rank_evaluate(const sr_ratings *rs, const sr_model_ops *ops, const double *params,
                        const sr_rank_opts *o, sr_rank_result *out, sr_diag *d);

/* Evaluates a fitted model m on the test part of rs (test[j] != 0: pair j is tested;
 * rs->n bytes). m->ts must be the trainset of the other pairs (sr_trainset_new with the
 * complement of test); o's split fields are not used (k, threads, max_users, seed for
 * the sample, item_artist and log are). For evaluating a model fitted elsewhere, or
 * several evaluations of one fit. The result does not depend on o->threads (a fit with
 * several threads may: SVD's parallel schedule differs from its serial one). fit_s = 0. */
sr_err sr_rank_evaluate_fitted(const sr_ratings *rs, const uint8_t *test, const sr_model *m,
                               const sr_rank_opts *o, sr_rank_result *out, sr_diag *d);

/* The metrics of one list. */
typedef struct sr_rank_list {
    double precision, recall, ndcg, ap, hit;
    unsigned hits;
} sr_rank_list;

/* list (n songs, best first, n <= k, distinct), rel (n_rel >= 1 songs, ascending,
 * distinct): the formulas above. Pure. */
void sr_rank_metrics_of_list(const uint32_t *list, size_t n, unsigned k, const uint32_t *rel,
                             size_t n_rel, sr_rank_list *out);
/* Mean self-information -log2(pop[i] / n_users) of the list's songs (each pop >= 1);
 * 0 for an empty list. Pure. */
double sr_rank_novelty_of_list(const uint32_t *list, size_t n, const uint32_t *pop,
                               uint32_t n_users);

/* Names: "precision", "recall", "ndcg", "map", "hit_rate", "coverage", "novelty",
 * "diversity", "new_artists", "hits". */
const char *sr_rank_metric_name(sr_rank_metric m);
/* Parses a measure name, optionally "@k" ("ndcg@10", "precision@5", "MAP", "hit_rate");
 * case-insensitive; also "prec", "hr", "hitrate", "played_next" (= hits). *k gets the
 * number after '@', or 0 when none was given (use the evaluation's k). SR_E_USAGE for
 * anything else (an empty, zero or oversized k included). */
sr_err sr_rank_metric_parse(const char *s, sr_rank_metric *m, unsigned *k);
/* Whether a larger value is better — true for every ranking measure (a search ranks
 * configurations by it, best first). */
bool sr_rank_metric_higher_better(sr_rank_metric m);

/* "holdout", "last_n" (also "last"), "time" -> the split; -1 when unknown. */
int sr_rank_split_find(const char *name);
const char *sr_rank_split_name(sr_rank_split s);

#endif
