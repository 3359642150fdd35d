/* stride, lottery, rr, fifo: the reference policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>

#include "tests/unit/sched_testlib.h"

static void test_stride_weights_124(void **state)
{
    (void)state;
    tcheck_weights_124("stride", 30000);
    tcheck_weights_124("stride", 100);
}

static struct sim *three_hogs(const char *policy, uint32_t ts_us, uint64_t seed)
{
    struct cfg c;
    tcfg_init(&c, 1, policy);
    c.machine.timeslice_us = ts_us;
    c.machine.ratelimit_us = 0;
    c.machine.seed = seed;
    tcfg_vm(&c, "w1", 1, "hog")->weight = 256;
    tcfg_vm(&c, "w2", 1, "hog")->weight = 512;
    tcfg_vm(&c, "w4", 1, "hog")->weight = 1024;
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 10 * SEC);
    return sim;
}

/* Lottery is proportional in expectation (10 000 draws: within 2%) and deterministic. */
static void test_lottery_proportional_and_deterministic(void **state)
{
    (void)state;
    struct sim *a = three_hogs("lottery", 1000, 5), *b = three_hogs("lottery", 1000, 5);
    struct sim *c = three_hogs("lottery", 1000, 6);
    assert_share(tvm_run_ns(a, 0), 10 * SEC, 1.0 / 7, 0.02, "lottery w1");
    assert_share(tvm_run_ns(a, 2), 10 * SEC, 4.0 / 7, 0.02, "lottery w4");
    assert_int_equal(tvm_run_ns(a, 0), tvm_run_ns(b, 0));
    assert_int_equal(tvm_run_ns(a, 2), tvm_run_ns(b, 2));
    assert_int_not_equal(tvm_run_ns(a, 0), tvm_run_ns(c, 0));
    sim_destroy(a);
    sim_destroy(b);
    sim_destroy(c);
}

static void test_rr_ignores_weights(void **state)
{
    (void)state;
    struct sim *sim = three_hogs("rr", 30000, 1);
    for (unsigned vm = 0; vm < 3; vm++)
        assert_share(tvm_run_ns(sim, vm), 10 * SEC, 1.0 / 3, 0.01, "rr");
    sim_destroy(sim);
}

static void test_fifo_runs_to_completion(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 1, "fifo");
    tcfg_vm(&c, "first", 1, "barrier phase_us=50000");
    tcfg_vm(&c, "second", 1, "hog");
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 1 * SEC);
    struct sched_acct a, b;
    tvcpu_acct(sim, 0, 0, &a);
    tvcpu_acct(sim, 1, 0, &b);
    /* "first" (a one-vCPU barrier: 50 ms phases without blocking) and the hog never yield:
     * whoever got the pCPU keeps it, with no preemption at all. */
    assert_int_equal(a.preemptions + b.preemptions, 0);
    assert_int_equal(a.runs + b.runs, 1);
    sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stride_weights_124),
        cmocka_unit_test(test_lottery_proportional_and_deterministic),
        cmocka_unit_test(test_rr_ignores_weights),
        cmocka_unit_test(test_fifo_runs_to_completion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
