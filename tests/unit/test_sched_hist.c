/* The log-scale histogram: bucket bounds, percentiles, merge, integer only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>

#include "sched/hist.h"

static void test_buckets_cover_values_in_order(void **state)
{
    (void)state;
    uint64_t prev_upper = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        uint64_t up = hist_bucket_upper(b);
        if (b)
            assert_true(up > prev_upper);
        prev_upper = up;
    }
    for (uint64_t v = 0; v < 100000; v = v * 5 / 4 + 1) {
        unsigned b = hist_bucket_of(v);
        assert_true(v <= hist_bucket_upper(b));
        if (b)
            assert_true(v > hist_bucket_upper(b - 1));
        /* relative width: at most 25% above the value */
        assert_true(hist_bucket_upper(b) <= v + v / 4 + 1);
    }
    assert_int_equal(hist_bucket_of(UINT64_MAX), HIST_BUCKETS - 1);
}

static void test_percentiles_of_a_uniform_distribution(void **state)
{
    (void)state;
    struct hist h;
    hist_clear(&h);
    assert_int_equal(hist_percentile(&h, 500000), 0);
    for (uint64_t v = 1; v <= 10000; v++)
        hist_record(&h, v * 1000);
    assert_int_equal(h.count, 10000);
    assert_int_equal(h.max, 10000000);
    uint64_t p50 = hist_percentile(&h, 500000), p99 = hist_percentile(&h, 990000);
    uint64_t p999 = hist_percentile(&h, 999000);
    assert_true(p50 >= 5000000 && p50 <= 5000000 * 5 / 4);
    assert_true(p99 >= 9900000 && p99 <= 10000000);
    assert_true(p999 >= 9990000 && p999 <= 10000000);
    assert_int_equal(hist_percentile(&h, 1000000), 10000000); /* never above the max */
}

static void test_merge_adds_counts_and_keeps_max(void **state)
{
    (void)state;
    struct hist a, b;
    hist_clear(&a);
    hist_clear(&b);
    for (int i = 0; i < 99; i++)
        hist_record(&a, 10);
    hist_record(&b, 1000000);
    hist_merge(&a, &b);
    assert_int_equal(a.count, 100);
    assert_int_equal(a.max, 1000000);
    assert_int_equal(a.sum, 99 * 10 + 1000000);
    assert_int_equal(hist_percentile(&a, 990000), 11); /* 99 of 100 samples sit in 10's bucket */
    assert_int_equal(hist_percentile(&a, 1000000), 1000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_cover_values_in_order),
        cmocka_unit_test(test_percentiles_of_a_uniform_distribution),
        cmocka_unit_test(test_merge_adds_counts_and_keeps_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
