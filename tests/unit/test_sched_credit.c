/* credit: weights, caps, BOOST, rate limit, small time slices, timestamp accounting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/sched_testlib.h"

static void test_weights_124_share_one_pcpu(void **state)
{
    (void)state;
    tcheck_weights_124("credit", 30000);
}

static void test_weights_hold_with_100us_slices(void **state)
{
    (void)state;
    tcheck_weights_124("credit", 100);
}

static void test_cap_50_holds_a_hog_to_half_a_pcpu(void **state)
{
    (void)state;
    for (int competitor = 0; competitor < 2; competitor++) {
        struct cfg c;
        tcfg_init(&c, 1, "credit");
        tcfg_vm(&c, "capped", 1, "hog")->cap = 50;
        if (competitor)
            tcfg_vm(&c, "other", 1, "periodic period_us=10000 run_us=3000");
        struct sim *sim = tsim(&c, NULL);
        tsim_run(sim, 10 * SEC);
        assert_share(tvm_run_ns(sim, 0), 10 * SEC, 0.50, 0.01, "capped hog");
        sim_destroy(sim);
    }
}

static void test_cap_spans_the_vcpus_of_a_vm(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 4, "credit");
    tcfg_vm(&c, "capped", 3, "hog")->cap = 150;
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 5 * SEC);
    assert_share(tvm_run_ns(sim, 0), 5 * SEC, 1.50, 0.02, "3 vCPUs capped at 150%");
    sim_destroy(sim);
}

/* BOOST: a vCPU that wakes with credit left runs ahead of hogs: its wake-up latency is
 * bounded by the rate limit, not by the hogs' 30 ms slices. */
static void test_boost_gives_wakers_low_latency(void **state)
{
    (void)state;
    assert_true(twaker_p99("credit", true) <= 1000000 + 1000); /* ratelimit_us = 1000 */
    /* Without BOOST-style preemption (rr), the same waker waits for slices. */
    assert_true(twaker_p99("rr", false) > 30000000);
}

/* The rate limit: a waking vCPU does not preempt one that has run less than ratelimit. */
static void test_ratelimit_defers_preemption(void **state)
{
    (void)state;
    struct sched_vm_setup vms[3] = { { 1, 0, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 },
                                     { 1, 0, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 },
                                     { 1, 0, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.nvms = 3;
    st.vms = vms;
    st.ratelimit_ns = 2 * MS;
    st.balance_ns = 0; /* one pCPU: keep the timer free of balancing ticks */
    struct sched *s = tsched_new(&st);
    struct sched_vcpu *a = sched_vcpu_get(s, 0, 0), *c = sched_vcpu_get(s, 1, 0);
    struct sched_vcpu *b = sched_vcpu_get(s, 2, 0);
    struct sched_decision d;
    sched_vcpu_wake(s, a, 0);
    sched_vcpu_wake(s, c, 0);
    assert_ptr_equal(tsched_decide(s, 0, 0, &d), a);
    assert_int_equal(d.next_event_ns, 30 * MS);
    assert_ptr_equal(tsched_decide(s, 0, 30 * MS, &d), c); /* slice end */
    assert_ptr_equal(tsched_decide(s, 0, 60 * MS, &d), a); /* a again, no longer boosted */
    sched_cpumask_t k = sched_vcpu_wake(s, b, 60500000);   /* b wakes boosted: wants pCPU 0 */
    assert_mask(k, 1);
    assert_ptr_equal(tsched_decide(s, 0, 60500000, &d), a); /* a keeps it until 62 ms */
    assert_int_equal(d.next_event_ns, 62 * MS);
    assert_ptr_equal(tsched_decide(s, 0, 62 * MS, &d), b);
    tsched_free(s);
}

/* A vCPU that always yields just before its slice ends is charged for every ns it ran. */
static void test_yield_before_tick_is_charged(void **state)
{
    (void)state;
    struct sched_vm_setup vms[2] = { { 1, 0, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 },
                                     { 1, 0, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.nvms = 2;
    st.vms = vms;
    st.timeslice_ns = 10 * MS;
    struct sched *s = tsched_new(&st);
    struct sched_vcpu *sneaky = sched_vcpu_get(s, 0, 0), *honest = sched_vcpu_get(s, 1, 0);
    struct sched_decision d;
    sched_vcpu_wake(s, sneaky, 0);
    sched_vcpu_wake(s, honest, 0);
    uint64_t now = 0;
    struct sched_vcpu *cur = tsched_decide(s, 0, now, &d);
    while (now < 2 * SEC) {
        if (cur == sneaky) { /* runs 9.99 ms of its 10 ms slice, then yields */
            now += 9990000;
            sched_vcpu_yield(s, sneaky, now);
        } else {
            now = d.next_event_ns;
        }
        cur = tsched_decide(s, 0, now, &d);
    }
    struct sched_acct as, ah;
    sched_vcpu_acct(s, sneaky, now, &as, NULL);
    sched_vcpu_acct(s, honest, now, &ah, NULL);
    /* Equal weights: equal shares although one never reaches the end of a slice. */
    assert_share(as.running_ns, as.running_ns + ah.running_ns, 0.5, 0.01, "yielder");
    assert_true(as.policy_value < 20 * (int64_t)MS && as.policy_value > -20 * (int64_t)MS);
    assert_int_equal(as.running_ns + as.ready_ns + as.blocked_ns + as.costop_ns, as.lifetime_ns);
    tsched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_124_share_one_pcpu),
        cmocka_unit_test(test_weights_hold_with_100us_slices),
        cmocka_unit_test(test_cap_50_holds_a_hog_to_half_a_pcpu),
        cmocka_unit_test(test_cap_spans_the_vcpus_of_a_vm),
        cmocka_unit_test(test_boost_gives_wakers_low_latency),
        cmocka_unit_test(test_ratelimit_defers_preemption),
        cmocka_unit_test(test_yield_before_tick_is_charged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
