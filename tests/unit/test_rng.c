/* Unit tests for util/rng: determinism, bounded integers (range and uniformity), the
 * continuous distributions' moments, shuffling and alias tables (frequencies, bad
 * weights, allocation failure).
 *
 * Statistical checks use fixed seeds and bounds several standard errors wide, so they
 * are deterministic and far from flaky: e.g. for 200k uniform draws on 10 buckets the
 * chi-square statistic (9 degrees of freedom) is checked against 40, whose p-value is
 * below 1e-5.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/mem.h"
#include "util/rng.h"

static void test_seed_determinism(void **state) {
    (void)state;
    sr_rng a, b, c;
    sr_rng_seed(&a, 7);
    sr_rng_seed(&b, 7);
    sr_rng_seed(&c, 8);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = sr_rng_u64(&a);
        assert_int_equal(x, sr_rng_u64(&b));
        differ += x != sr_rng_u64(&c);
    }
    assert_true(differ > 990);

    /* Streams of one seed differ from each other and are reproducible. */
    sr_rng s1, s2, s1b;
    sr_rng_seed_stream(&s1, 42, 1);
    sr_rng_seed_stream(&s2, 42, 2);
    sr_rng_seed_stream(&s1b, 42, 1);
    uint64_t x1 = sr_rng_u64(&s1);
    assert_int_not_equal(x1, sr_rng_u64(&s2));
    assert_int_equal(x1, sr_rng_u64(&s1b));

    /* Seed 0 is fine (splitmix64 expansion). */
    sr_rng z;
    sr_rng_seed(&z, 0);
    assert_true(sr_rng_u64(&z) != 0 || sr_rng_u64(&z) != 0);
}

static void test_known_values(void **state) {
    (void)state;
    /* splitmix64 reference: the first output for state 0 is 0xe220a8397b1dcdaf. */
    assert_int_equal(sr_hash64(0), 0xe220a8397b1dcdafULL);
    assert_int_not_equal(sr_hash2(1, 2), sr_hash2(2, 1));
}

static void test_below_range(void **state) {
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 1);
    const uint64_t ns[] = {1, 2, 3, 7, 10, 1000, 1ULL << 33, (1ULL << 63) + 1, UINT64_MAX};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
        for (int i = 0; i < 2000; i++) assert_true(sr_rng_below(&r, ns[k]) < ns[k]);
    assert_int_equal(sr_rng_below(&r, 0), 0);
    assert_int_equal(sr_rng_below(&r, 1), 0);

    int seen_lo = 0, seen_hi = 0;
    for (int i = 0; i < 10000; i++) {
        int64_t v = sr_rng_range(&r, -3, 3);
        assert_true(v >= -3 && v <= 3);
        seen_lo |= v == -3;
        seen_hi |= v == 3;
    }
    assert_true(seen_lo && seen_hi);
    assert_int_equal(sr_rng_range(&r, 5, 5), 5);
    (void)sr_rng_range(&r, INT64_MIN, INT64_MAX); /* the full span must not trap */
}

static void test_below_uniform(void **state) {
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 2);
    enum { K = 10, N = 200000 };
    long count[K] = {0};
    for (int i = 0; i < N; i++) count[sr_rng_below(&r, K)]++;
    double chi2 = 0, expect = (double)N / K;
    for (int k = 0; k < K; k++) chi2 += (count[k] - expect) * (count[k] - expect) / expect;
    assert_true(chi2 < 40);

    /* A bound where modulo reduction would be visibly biased: n = 3 * 2^62. Values
     * below 2^62 would get 2 of every 4 residues under "% n"; unbiased they get 1/3. */
    uint64_t n = 3ULL << 62;
    long low = 0;
    for (int i = 0; i < 30000; i++) low += sr_rng_below(&r, n) < (1ULL << 62);
    assert_true(fabs(low / 30000.0 - 1.0 / 3) < 0.02);
}

static void test_double_and_moments(void **state) {
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 3);
    enum { N = 100000 };
    double sum = 0, sn = 0, sn2 = 0, se = 0, ln_sum = 0;
    long pareto_over = 0;
    for (int i = 0; i < N; i++) {
        double u = sr_rng_double(&r);
        assert_true(u >= 0 && u < 1);
        sum += u;
        double z = sr_rng_normal(&r);
        assert_true(isfinite(z));
        sn += z;
        sn2 += z * z;
        double e = sr_rng_exponential(&r, 2.0);
        assert_true(e >= 0 && isfinite(e));
        se += e;
        double l = sr_rng_lognormal(&r, 1.0, 0.5);
        assert_true(l > 0);
        ln_sum += log(l);
        double p = sr_rng_pareto(&r, 2.0, 1.5);
        assert_true(p >= 2.0);
        pareto_over += p > 4.0;
    }
    assert_true(fabs(sum / N - 0.5) < 0.01);
    assert_true(fabs(sn / N) < 0.02);
    assert_true(fabs(sn2 / N - 1.0) < 0.03);
    assert_true(fabs(se / N - 0.5) < 0.01);
    assert_true(fabs(ln_sum / N - 1.0) < 0.01);
    /* P(X > 2 xm) = 2^-1.5 = 0.354 */
    assert_true(fabs((double)pareto_over / N - 0.3536) < 0.01);

    int seen_true = 0, seen_false = 0;
    for (int i = 0; i < 100; i++) {
        assert_false(sr_rng_bernoulli(&r, 0.0));
        assert_true(sr_rng_bernoulli(&r, 1.0));
        if (sr_rng_bernoulli(&r, 0.5))
            seen_true = 1;
        else
            seen_false = 1;
    }
    assert_true(seen_true && seen_false);
}

static void test_shuffle(void **state) {
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 4);
    uint32_t a[100];
    for (uint32_t i = 0; i < 100; i++) a[i] = i;
    sr_rng_shuffle_u32(&r, a, 100);
    int moved = 0, seen[100] = {0};
    for (uint32_t i = 0; i < 100; i++) {
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > 80);
    sr_rng_shuffle_u32(&r, a, 0);
    sr_rng_shuffle_u32(&r, a, 1);
}

static void test_alias_frequencies(void **state) {
    (void)state;
    const double w[] = {1, 2, 3, 4, 0, 10};
    sr_alias a;
    assert_int_equal(sr_alias_init(&a, w, 6), SR_OK);
    sr_rng r;
    sr_rng_seed(&r, 5);
    enum { N = 200000 };
    long count[6] = {0};
    for (int i = 0; i < N; i++) {
        uint32_t j = sr_alias_sample(&a, &r);
        assert_true(j < 6);
        count[j]++;
    }
    assert_int_equal(count[4], 0);
    for (int j = 0; j < 6; j++) {
        double p = w[j] / 20.0, se = sqrt(p * (1 - p) / N);
        assert_true(fabs((double)count[j] / N - p) < 5 * se + 1e-9);
    }
    sr_alias_deinit(&a);
    sr_alias_deinit(&a); /* twice is harmless */

    /* One outcome. */
    const double one = 3.0;
    assert_int_equal(sr_alias_init(&a, &one, 1), SR_OK);
    for (int i = 0; i < 100; i++) assert_int_equal(sr_alias_sample(&a, &r), 0);
    sr_alias_deinit(&a);

    /* Heavily skewed weights over many outcomes keep their total. */
    enum { M = 1000 };
    double big[M];
    for (int i = 0; i < M; i++) big[i] = pow(i + 1.0, -1.2);
    assert_int_equal(sr_alias_init(&a, big, M), SR_OK);
    long first = 0;
    for (int i = 0; i < N; i++) first += sr_alias_sample(&a, &r) == 0;
    double sum = 0;
    for (int i = 0; i < M; i++) sum += big[i];
    assert_true(fabs((double)first / N - 1.0 / sum) < 0.01);
    sr_alias_deinit(&a);
}

static void test_alias_errors(void **state) {
    (void)state;
    sr_alias a;
    const double zero[] = {0, 0}, neg[] = {1, -1}, nan_w[] = {1, NAN}, inf_w[] = {1, INFINITY};
    assert_int_equal(sr_alias_init(&a, zero, 0), SR_E_RANGE);
    assert_int_equal(sr_alias_init(&a, zero, 2), SR_E_RANGE);
    assert_int_equal(sr_alias_init(&a, neg, 2), SR_E_RANGE);
    assert_int_equal(sr_alias_init(&a, nan_w, 2), SR_E_RANGE);
    assert_int_equal(sr_alias_init(&a, inf_w, 2), SR_E_RANGE);
    assert_null(a.cell);

    const double w[] = {1, 2, 3};
    for (long k = 0; k < 4; k++) {
        sr_mem_fail_after(k);
        sr_err e = sr_alias_init(&a, w, 3);
        sr_mem_fail_after(-1);
        if (e == SR_OK) {
            sr_alias_deinit(&a);
            break;
        }
        assert_int_equal(e, SR_E_NOMEM);
        assert_null(a.cell);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_determinism),   cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_below_range),        cmocka_unit_test(test_below_uniform),
        cmocka_unit_test(test_double_and_moments), cmocka_unit_test(test_shuffle),
        cmocka_unit_test(test_alias_frequencies),  cmocka_unit_test(test_alias_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
