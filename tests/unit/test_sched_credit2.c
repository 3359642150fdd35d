/* credit2: Xen credit2 semantics — burn by max_weight / weight, pick by most credit, reset
 * (+10 ms to every vCPU of the runqueue, carry capped at 0.5 ms) when the head runs out,
 * dynamic run time, wakers with more credit preempt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/sched_testlib.h"

#define INIT_NS (10 * MS)
#define CAP_NS (INIT_NS + 500000)

static void test_weights_124(void **state)
{
    (void)state;
    tcheck_weights_124("credit2", 30000);
    tcheck_weights_124("credit2", 1000);
}

static int64_t credit_of(struct sched *s, unsigned vm, uint64_t now)
{
    struct sched_acct a;
    sched_vcpu_acct(s, sched_vcpu_get(s, vm, 0), now, &a, NULL);
    return a.policy_value;
}

/* Burn: weights 256 and 512 on one pCPU (max 512).  Both start with 10 ms; the first picked
 * runs 0.5 ms (equal credit: the shortest run) and loses 0.5 ms if it is the 512 one, 1 ms if
 * it is the 256 one. */
static void test_burn_is_max_weight_over_weight(void **state)
{
    (void)state;
    struct sched_vm_setup vms[2] = { { 1, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 },
                                     { 1, 512, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.policy = "credit2";
    st.balance_ns = 0;
    st.nvms = 2;
    st.vms = vms;
    struct sched *s = tsched_new(&st);
    sched_vcpu_wake(s, sched_vcpu_get(s, 0, 0), 0);
    sched_vcpu_wake(s, sched_vcpu_get(s, 1, 0), 0);
    struct sched_decision d;
    struct sched_vcpu *first = tsched_decide(s, 0, 0, &d);
    assert_int_equal(d.next_event_ns, 500000); /* equal credit: CREDIT2_MIN_SLICE */
    struct sched_vcpu *second = tsched_decide(s, 0, 500000, &d);
    assert_ptr_not_equal(first, second);
    unsigned f = sched_vcpu_vm(first);
    assert_int_equal(credit_of(s, f, 500000), (int64_t)INIT_NS - (f == 0 ? 1000000 : 500000));
    /* The second runs until its credit falls to the first's, at its own burn rate: 1 ms of
     * credit at rate 1 (it is the 512 one), or 0.5 ms at rate 2, 0.25 ms, raised to 0.5 ms. */
    assert_int_equal(d.next_event_ns, f == 0 ? 1500000 : 1000000);
    tsched_free(s);
}

/* Reset: three hogs of one weight and a vCPU blocked for 1 s on one pCPU.  Credits never
 * exceed 10.5 ms (carry capped), resets happen (each hog's credit comes back up after it ran
 * out), and the sleeper wakes with at most 10.5 ms: it cannot hoard the resets it missed. */
static void test_reset_adds_init_and_caps_the_carry(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 1, "credit2");
    tcfg_vm(&c, "hogs", 3, "hog");
    tcfg_vm(&c, "sleeper", 1, "periodic period_us=1000000 run_us=1000");
    struct sim *sim = tsim(&c, NULL);
    struct sched *s = sim_sched(sim);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    unsigned ups = 0;
    int64_t last = credit_of(s, 0, 0);
    for (uint64_t t = MS; t <= 3 * SEC; t += MS) {
        tsim_run(sim, t);
        struct sched_acct a;
        for (unsigned k = 0; k < 3; k++) {
            sched_vcpu_acct(s, sched_vcpu_get(s, 0, k), t, &a, NULL);
            lo = a.policy_value < lo ? a.policy_value : lo;
            hi = a.policy_value > hi ? a.policy_value : hi;
        }
        sched_vcpu_acct(s, sched_vcpu_get(s, 0, 0), t, &a, NULL);
        ups += a.policy_value > last;
        last = a.policy_value;
        assert_true(credit_of(s, 1, t) <= (int64_t)CAP_NS);
    }
    tfigure("credit2, 3 hogs on 1 pCPU, 3 s: credits within [%.2f, %.2f] ms, hog 0's credit rose "
            "%u times (resets)", lo / 1e6, hi / 1e6, ups);
    assert_true(hi <= (int64_t)CAP_NS);
    assert_true(lo > -(int64_t)(31 * MS)); /* a slice of debt at most */
    assert_true(ups >= 30);
    for (unsigned k = 0; k < 3; k++)
        assert_share(trec_run_ns(sim, 0, k), 3 * SEC, (3.0 - 0.003) / 9, 0.01, "hog");
    sim_destroy(sim);
}

/* A waker with credit preempts hogs (after the rate limit): its wake-up p99 is within the rate
 * limit where rr makes it wait for slices (the credit test's scenario). */
static void test_wakers_with_credit_preempt(void **state)
{
    (void)state;
    uint64_t p99 = twaker_p99("credit2", true);
    tfigure("credit2: periodic waker next to 3 hogs, wake-up p99 %.1f us", p99 / 1e3);
    assert_true(p99 <= 1000000 + 1000); /* ratelimit_us = 1000 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_124),
        cmocka_unit_test(test_burn_is_max_weight_over_weight),
        cmocka_unit_test(test_reset_adds_init_and_caps_the_carry),
        cmocka_unit_test(test_wakers_with_credit_preempt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
