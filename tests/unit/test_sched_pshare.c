/* pshare (EEVDF): weights, lag-preserving wake-up placement, request sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>

#include "tests/unit/sched_testlib.h"

static void test_weights_124_share_one_pcpu(void **state)
{
    (void)state;
    tcheck_weights_124("pshare", 30000);
    tcheck_weights_124("pshare", 100);
}

/* A vCPU that sleeps and wakes is placed with its (bounded) lag: it gets what it asks for
 * with latency of about one request, and the hogs keep equal shares of the rest. */
static void test_wakeup_neither_starves_nor_is_starved(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 1, "pshare");
    c.machine.timeslice_us = 4000;
    tcfg_vm(&c, "hogs", 2, "hog");
    tcfg_vm(&c, "io", 1, "periodic period_us=10000 run_us=1000");
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 10 * SEC);
    struct sched_acct a;
    struct hist h;
    sched_vm_acct(sim_sched(sim), 1, sim_now(sim), &a, &h);
    assert_share(a.running_ns, 10 * SEC, 0.10, 0.002, "io gets its 10%");
    /* EEVDF bounds lag, not latency: a waker may wait for the current request and for one
     * other request with an earlier deadline. */
    assert_true(hist_percentile(&h, 990000) <= 2 * 4000000 + 100000);
    uint64_t h0 = tvcpu_run_ns(sim, 0, 0), h1 = tvcpu_run_ns(sim, 0, 1);
    assert_share(h0, h0 + h1, 0.5, 0.01, "hogs split the rest");
    sim_destroy(sim);
}

/* A long sleeper comes back with at most one request of positive lag: it cannot take the
 * pCPU for longer than that in one go. */
static void test_long_sleeper_cannot_bank_service(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 1, "pshare");
    c.machine.timeslice_us = 3000;
    tcfg_vm(&c, "hog", 1, "hog");
    tcfg_vm(&c, "burst", 1, "periodic period_us=1000000 run_us=200000");
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 5 * SEC);
    /* Each second the burst needs 200 ms; with equal weights it must share 50/50 while
     * runnable, so it takes about 400 ms of wall time and the hog keeps running meanwhile. */
    struct sched_acct a;
    tvcpu_acct(sim, 0, 0, &a);
    assert_true(a.ready_ns < 5 * SEC * 25 / 100);
    assert_share(tvm_run_ns(sim, 1), 5 * SEC, 0.20, 0.01, "burst gets its work done");
    sim_destroy(sim);
}

/* Smaller requests mean earlier deadlines: lower wake-up latency at the same weight. */
static void test_smaller_request_lowers_latency(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 1, "pshare");
    tcfg_vm(&c, "hogs", 3, "hog");
    tcfg_vm(&c, "io", 1, "poisson rate_hz=100 service_us=300");
    uint64_t p99[2];
    for (int i = 0; i < 2; i++) {
        struct sim *sim = tsim(&c, NULL);
        if (i) {
            struct sched_change ch = { .set = SCHED_SET_REQUEST, .vm = 1, .request_ns = 500000 };
            sched_cpumask_t k;
            assert_int_equal(sched_change(sim_sched(sim), &ch, 0, &k), 0);
        }
        tsim_run(sim, 5 * SEC);
        struct sched_acct a;
        struct hist h;
        sched_vm_acct(sim_sched(sim), 1, sim_now(sim), &a, &h);
        p99[i] = hist_percentile(&h, 990000);
        sim_destroy(sim);
    }
    if (!(p99[1] * 4 < p99[0]))
        fail_msg("p99 with 0.5 ms requests %llu ns, with 30 ms requests %llu ns",
                 (unsigned long long)p99[1], (unsigned long long)p99[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_124_share_one_pcpu),
        cmocka_unit_test(test_wakeup_neither_starves_nor_is_starved),
        cmocka_unit_test(test_long_sleeper_cannot_bank_service),
        cmocka_unit_test(test_smaller_request_lowers_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
