/* Train/test splits (split.h). */
#include "eval/split.h"

#include <math.h>
#include <string.h>

#include "util/mem.h"
#include "util/rng.h"
#include "util/timeparse.h"

unsigned sr_split_count(const sr_split_opts *o) {
    switch (o->kind) {
    case SR_SPLIT_REPEATED_KFOLD:
        return o->n_splits * (o->n_repeats ? o->n_repeats : 1);
    case SR_SPLIT_TIME:
        return 1;
    default:
        return o->n_splits;
    }
}

/* A shuffled permutation of 0..n-1 from seed. */
static uint32_t *permutation(uint64_t n, uint64_t seed) {
    uint32_t *perm = sr_mallocarray(n ? n : 1, sizeof *perm);
    if (!perm) return NULL;
    for (uint64_t k = 0; k < n; k++) perm[k] = (uint32_t)k;
    sr_rng rng;
    sr_rng_seed(&rng, seed);
    sr_rng_shuffle_u32(&rng, perm, n);
    return perm;
}

static sr_err kfold(const sr_ratings *rs, unsigned k, unsigned fold, uint64_t seed, uint8_t *test) {
    if (k < 2) return SR_E_USAGE;
    if (k > rs->n) return SR_E_RANGE; /* more folds than ratings: the data's size */
    uint32_t *perm = permutation(rs->n, seed);
    if (!perm) return SR_E_NOMEM;
    /* Fold sizes: n / k, the first n % k one larger (numpy/Surprise). */
    uint64_t base = rs->n / k, extra = rs->n % k, start = 0;
    for (unsigned f = 0; f < fold; f++) start += base + (f < extra);
    uint64_t len = base + (fold < extra);
    memset(test, 0, rs->n);
    for (uint64_t q = start; q < start + len; q++) test[perm[q]] = 1;
    sr_free(perm);
    return SR_OK;
}

sr_err sr_split_mask(const sr_ratings *rs, const sr_split_opts *o, unsigned s, uint8_t *test) {
    if (s >= sr_split_count(o)) return SR_E_RANGE;
    switch (o->kind) {
    case SR_SPLIT_KFOLD:
        return kfold(rs, o->n_splits, s, o->seed, test);
    case SR_SPLIT_REPEATED_KFOLD:
        return kfold(rs, o->n_splits, s % o->n_splits, o->seed + s / o->n_splits, test);
    case SR_SPLIT_SHUFFLE: {
        if (!(o->test_size > 0)) return SR_E_USAGE;
        if (o->test_size >= (double)rs->n) return SR_E_RANGE; /* (and no overflow below) */
        uint64_t n_test = o->test_size < 1 ? (uint64_t)ceil(o->test_size * (double)rs->n)
                                           : (uint64_t)o->test_size;
        if (n_test == 0 || n_test >= rs->n) return SR_E_RANGE;
        uint32_t *perm = permutation(rs->n, o->seed + s);
        if (!perm) return SR_E_NOMEM;
        memset(test, 0, rs->n);
        for (uint64_t q = 0; q < n_test; q++) test[perm[q]] = 1;
        sr_free(perm);
        return SR_OK;
    }
    case SR_SPLIT_TIME: {
        if (!rs->ts) return SR_E_INPUT; /* the data has no listen times */
        uint64_t n_test = 0;
        for (uint64_t k = 0; k < rs->n; k++) {
            test[k] = rs->ts[k] && (int64_t)rs->ts[k] >= o->time_cut;
            n_test += test[k];
        }
        return n_test && n_test < rs->n ? SR_OK : SR_E_RANGE;
    }
    case SR_SPLIT_LEAVE_ONE_OUT: {
        /* For every user with >= min_n_ratings ratings, one of them picked at random. */
        uint64_t *count = sr_calloc((size_t)rs->n_users + 1, sizeof *count);
        uint64_t *pick = sr_mallocarray((size_t)rs->n_users + 1, sizeof *pick);
        if (!count || !pick) {
            sr_free(count);
            sr_free(pick);
            return SR_E_NOMEM;
        }
        for (uint64_t k = 0; k < rs->n; k++) count[rs->user[k]]++;
        sr_rng rng;
        sr_rng_seed_stream(&rng, o->seed, s);
        for (uint32_t u = 0; u < rs->n_users; u++)
            pick[u] = count[u] && count[u] >= (o->min_n_ratings ? o->min_n_ratings : 1)
                          ? sr_rng_below(&rng, count[u])
                          : UINT64_MAX;
        memset(test, 0, rs->n);
        memset(count, 0, ((size_t)rs->n_users + 1) * sizeof *count);
        for (uint64_t k = 0; k < rs->n; k++) {
            uint32_t u = rs->user[k];
            if (count[u]++ == pick[u]) test[k] = 1;
        }
        sr_free(count);
        sr_free(pick);
        return SR_OK;
    }
    }
    return SR_E_USAGE;
}

/* The cut as people wrote it: a date when it is midnight UTC, else the full time. */
static void format_cut(int64_t cut, char out[21]) {
    if (cut % 86400 == 0)
        sr_time_format_date(cut, out);
    else
        sr_time_format_iso(cut, out);
}

sr_err sr_split_time_check(const sr_ratings *rs, int64_t cut, const char *noun, sr_diag *d) {
    uint64_t n_timed = 0, n_test = 0;
    uint32_t first = UINT32_MAX, last = 0;
    for (uint64_t k = 0; rs->ts && k < rs->n; k++) {
        const uint32_t t = rs->ts[k];
        if (!t) continue; /* unknown time: always trains */
        n_timed++;
        n_test += (int64_t)t >= cut;
        if (t < first) first = t;
        if (t > last) last = t;
    }
    if (!n_timed)
        return sr_diag_set(d, SR_E_INPUT, "a time split needs listen times; the data has none");
    if (n_test && n_test < rs->n) return SR_OK;
    char c[21], a[21], b[21];
    format_cut(cut, c);
    sr_time_format_iso(first, a);
    sr_time_format_iso(last, b);
    if (!n_test)
        return sr_diag_set(d, SR_E_RANGE,
                           "--test-after %s is after the last %s (%s): the test set would be "
                           "empty (%ss first heard from %s to %s)",
                           c, noun, b, noun, a, b);
    return sr_diag_set(d, SR_E_RANGE,
                       "--test-after %s is on or before the first %s (%s): nothing would be left "
                       "to train on (%ss first heard from %s to %s)",
                       c, noun, a, noun, a, b);
}

sr_err sr_split_check(const sr_ratings *rs, const sr_split_opts *o, sr_diag *d) {
    switch (o->kind) {
    case SR_SPLIT_KFOLD:
    case SR_SPLIT_REPEATED_KFOLD:
        if (o->n_splits < 2)
            return sr_diag_set(d, SR_E_USAGE, "--cv %u: K-fold needs at least 2 folds",
                               o->n_splits);
        if (o->n_splits > rs->n)
            return sr_diag_set(d, SR_E_RANGE,
                               "--cv %u asks for more folds than there are ratings (%llu): every "
                               "fold needs at least one; use at most --cv %llu",
                               o->n_splits, (unsigned long long)rs->n, (unsigned long long)rs->n);
        return SR_OK;
    case SR_SPLIT_SHUFFLE: {
        if (!(o->test_size > 0))
            return sr_diag_set(d, SR_E_USAGE, "--test-size %g: the test part must be more than 0",
                               o->test_size);
        /* As sr_split_mask counts it, in doubles: a huge count must not overflow. */
        const double n_test =
            o->test_size < 1 ? ceil(o->test_size * (double)rs->n) : floor(o->test_size);
        if (n_test >= (double)rs->n)
            return sr_diag_set(d, SR_E_RANGE,
                               "--test-size %g would test %.0f of the %llu ratings: nothing would "
                               "be left to train on",
                               o->test_size, n_test, (unsigned long long)rs->n);
        return SR_OK;
    }
    case SR_SPLIT_LEAVE_ONE_OUT:
        return SR_OK;
    case SR_SPLIT_TIME:
        if (o->time_cut == SR_SPLIT_NO_CUT)
            return sr_diag_set(d, SR_E_USAGE,
                               "--split time needs --test-after DATE: ratings first heard on or "
                               "after DATE are tested, the earlier ones train");
        return sr_split_time_check(rs, o->time_cut, "rating", d);
    }
    return sr_diag_set(d, SR_E_USAGE, "unknown split kind %d", (int)o->kind);
}
