/* The core API: setup and parameter validation (bad values change nothing), run-time policy
 * switches keep accounting and weights, exact accounting, wake/block races, dump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/sched_testlib.h"

static struct sched_vm_setup two_vms[2] = { { 2, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 },
                                            { 1, 512, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 } };

static void base_setup(struct sched_setup *st)
{
    sched_setup_defaults(st);
    st->npcpus = 2;
    st->nvms = 2;
    st->vms = two_vms;
}

static void test_setup_rejects_bad_values(void **state)
{
    (void)state;
    struct sched_setup st;
    base_setup(&st);
    assert_int_equal(sched_setup_check(&st), SCHED_OK);
    st.timeslice_ns = 99999;
    assert_int_equal(sched_setup_check(&st), SCHED_E_RANGE);
    base_setup(&st);
    st.ratelimit_ns = st.timeslice_ns + 1;
    assert_int_equal(sched_setup_check(&st), SCHED_E_RANGE);
    base_setup(&st);
    st.policy = "nope";
    assert_int_equal(sched_setup_check(&st), SCHED_E_POLICY);
    base_setup(&st);
    st.npcpus = 0;
    assert_int_equal(sched_setup_check(&st), SCHED_E_RANGE);
    struct sched_vm_setup bad[1] = { { 3, 256, 0, SCHED_GANG_STRICT, tmask(0x3), -1, NULL, 0, 0, false, 0 } };
    base_setup(&st);
    st.nvms = 1;
    st.vms = bad;
    assert_int_equal(sched_setup_check(&st), SCHED_E_SETUP); /* 3 members, 2 pCPUs allowed */
    bad[0] = (struct sched_vm_setup){ 1, 70000, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 };
    assert_int_equal(sched_setup_check(&st), SCHED_E_RANGE);
    bad[0] = (struct sched_vm_setup){ 1, 256, 101, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 };
    assert_int_equal(sched_setup_check(&st), SCHED_E_RANGE);
    bad[0] = (struct sched_vm_setup){ 1, 256, 0, SCHED_GANG_NONE, tmask(0x4), -1, NULL, 0, 0, false, 0 }; /* pCPU 2 of 2 */
    assert_int_equal(sched_setup_check(&st), SCHED_E_SETUP);
    base_setup(&st);
    char small[64];
    struct sched *s;
    struct sched_env env = { 0 };
    assert_int_equal(sched_init(&s, small, sizeof(small), &st, &env, 0), SCHED_E_NOMEM);
    assert_true(sched_policy_known("credit") && sched_policy_known("pshare") &&
                sched_policy_known("rr") && sched_policy_known("fifo") &&
                sched_policy_known("lottery") && sched_policy_known("stride") &&
                sched_policy_known("null"));
    assert_false(sched_policy_known("cfs"));
    assert_string_equal(sched_policy_list(0), "credit");
    unsigned n = 0; /* the list is the table: every name known, NULL past its end */
    while (sched_policy_list(n))
        assert_true(sched_policy_known(sched_policy_list(n++)));
    assert_true(n >= 7);
    assert_null(sched_policy_list(n + 1));
}

static void test_change_is_validated_and_atomic(void **state)
{
    (void)state;
    struct sched_setup st;
    base_setup(&st);
    struct sched *s = tsched_new(&st);
    sched_cpumask_t k;
    /* One bad field rejects the whole change: the good fields are not applied either. */
    struct sched_change c = { .set = SCHED_SET_TIMESLICE | SCHED_SET_WEIGHT, .timeslice_ns = 5 * MS,
                              .vm = 0, .weight = 0 };
    assert_int_equal(sched_change(s, &c, 0, &k), SCHED_E_RANGE);
    c = (struct sched_change){ .set = SCHED_SET_TIMESLICE | SCHED_SET_POLICY, .timeslice_ns = 5 * MS,
                               .policy = "bogus" };
    assert_int_equal(sched_change(s, &c, 0, &k), SCHED_E_POLICY);
    assert_string_equal(sched_policy_name(s), "credit");
    c = (struct sched_change){ .set = SCHED_SET_RATELIMIT, .ratelimit_ns = 31 * MS };
    assert_int_equal(sched_change(s, &c, 0, &k), SCHED_E_RANGE); /* above the time slice */
    c = (struct sched_change){ .set = SCHED_SET_CAP, .vm = 9, .cap_pct = 10 };
    assert_int_equal(sched_change(s, &c, 0, &k), SCHED_E_VM);
    c = (struct sched_change){ .set = SCHED_SET_CAP, .vm = 0, .cap_pct = 201 };
    assert_int_equal(sched_change(s, &c, 0, &k), SCHED_E_RANGE);
    c = (struct sched_change){ .set = 1u << 20 };
    assert_int_equal(sched_change(s, &c, 0, &k), SCHED_E_RANGE);
    /* Nothing changed: a single hog still gets 30 ms slices. */
    struct sched_decision d;
    sched_vcpu_wake(s, sched_vcpu_get(s, 1, 0), 0);
    tsched_decide(s, 0, 0, &d);
    assert_int_equal(d.next_event_ns, 10 * MS); /* balance tick comes first */
    c = (struct sched_change){ .set = SCHED_SET_TIMESLICE | SCHED_SET_RATELIMIT |
                                      SCHED_SET_BALANCE,
                               .timeslice_ns = 5 * MS, .ratelimit_ns = 0, .balance_ns = 0 };
    assert_int_equal(sched_change(s, &c, 1000, &k), SCHED_OK);
    assert_mask(k, 3);
    tsched_decide(s, 0, 30 * MS, &d);
    assert_int_equal(d.next_event_ns, 35 * MS);
    tsched_free(s);
}

/* Three hogs on one pCPU under credit; switch through every policy at run time: accounting
 * carries on exactly, weights stay, and the shares after the switch follow the new policy. */
static void test_policy_switch_keeps_accounting_and_weights(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 1, "credit");
    tcfg_vm(&c, "w1", 1, "hog")->weight = 256;
    tcfg_vm(&c, "w3", 1, "hog")->weight = 768;
    struct sim *sim = tsim(&c, NULL);
    struct sched *s = sim_sched(sim);
    const char *order[] = { "pshare", "stride", "rr", "lottery", "fifo", "credit" };
    uint64_t t = 0;
    for (unsigned i = 0; i < 6; i++) {
        t += 2 * SEC;
        tsim_run(sim, t);
        struct sched_acct before;
        tvcpu_acct(sim, 0, 0, &before);
        struct sched_change ch = { .set = SCHED_SET_POLICY, .policy = order[i] };
        sched_cpumask_t k;
        assert_int_equal(sched_change(s, &ch, t, &k), SCHED_OK);
        sim_kick(sim, k);
        assert_string_equal(sched_policy_name(s), order[i]);
        struct sched_acct after;
        tvcpu_acct(sim, 0, 0, &after);
        assert_int_equal(before.running_ns, after.running_ns);
        assert_int_equal(before.runs, after.runs);
    }
    /* Back on credit: weights 1:3 still apply. */
    struct sched_acct a0, a1, b0, b1;
    tvcpu_acct(sim, 0, 0, &a0);
    tvcpu_acct(sim, 1, 0, &a1);
    tsim_run(sim, t + 6 * SEC);
    tvcpu_acct(sim, 0, 0, &b0);
    tvcpu_acct(sim, 1, 0, &b1);
    assert_share(b0.running_ns - a0.running_ns, 6 * SEC, 0.25, 0.01, "w1 after switches");
    assert_share(b1.running_ns - a1.running_ns, 6 * SEC, 0.75, 0.01, "w3 after switches");
    assert_int_equal(b0.running_ns + b0.ready_ns + b0.blocked_ns + b0.costop_ns, b0.lifetime_ns);
    sim_destroy(sim);
}

/* Block then wake before the pCPU reschedules: the vCPU stays that pCPU's current and no other
 * pCPU may take it (its context has not left). */
static void test_wake_before_reschedule_keeps_vcpu_home(void **state)
{
    (void)state;
    struct sched_vm_setup vms[1] = { { 2, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, 0, NULL, 0, 0, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = 2;
    st.nvms = 1;
    st.vms = vms;
    struct sched *s = tsched_new(&st);
    struct sched_vcpu *a = sched_vcpu_get(s, 0, 0);
    struct sched_decision d;
    sched_vcpu_wake(s, a, 0);
    assert_ptr_equal(tsched_decide(s, 0, 0, &d), a);
    assert_mask(sched_vcpu_block(s, a, 1000), 1);
    sched_vcpu_wake(s, a, 2000);
    struct sched_decision d1;
    sched_schedule(s, 1, 2000, &d1); /* an idle pCPU looks for work: a is not stealable */
    assert_null(d1.run);
    assert_ptr_equal(tsched_decide(s, 0, 3000, &d), a);
    struct sched_acct acc;
    sched_vcpu_acct(s, a, 4000, &acc, NULL);
    assert_int_equal(acc.running_ns, 3000);
    assert_int_equal(acc.blocked_ns, 1000);
    assert_int_equal(acc.wakeups, 2);
    char buf[2048];
    size_t n = sched_dump(s, 4000, buf, sizeof(buf));
    assert_true(n > 0 && n < sizeof(buf));
    assert_non_null(strstr(buf, "pcpu 0 curr=0.0"));
    assert_non_null(strstr(buf, "vcpu 0.1 blocked"));
    tsched_free(s);
}

/* A blocked vCPU's timer costs the pCPU 200 us while another vCPU runs there: the runner
 * keeps its running time minus those 200 us (ready instead), the owner's VM pays them
 * (charged_ns; its cap), and the four times still add up. */
static void test_charge_moves_time_to_the_owner(void **state)
{
    (void)state;
    struct sched_vm_setup vms[2] = { { 1, 256, 0, SCHED_GANG_NONE, tmask(1), -1, NULL, 0, 0, false, 0 },
                                     { 1, 256, 50, SCHED_GANG_NONE, tmask(1), -1, NULL, 0, 0, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = 1;
    st.nvms = 2;
    st.vms = vms;
    struct sched *s = tsched_new(&st);
    struct sched_vcpu *runner = sched_vcpu_get(s, 0, 0), *owner = sched_vcpu_get(s, 1, 0);
    struct sched_decision d;
    sched_vcpu_wake(s, runner, 0);
    assert_ptr_equal(tsched_decide(s, 0, 0, &d), runner);
    sched_vcpu_charge(s, owner, 0, 200000, 1 * MS);
    sched_vcpu_charge(s, owner, 0, 300000, 2 * MS);
    /* More than the runner has had since its last cut: only what it had is moved. */
    sched_vcpu_charge(s, owner, 0, 5 * MS, 2 * MS + 100000);
    /* The owner itself current: nothing to move (its own time). */
    struct sched_acct ra, oa;
    sched_vcpu_acct(s, runner, 3 * MS, &ra, NULL);
    sched_vcpu_acct(s, owner, 3 * MS, &oa, NULL);
    assert_int_equal(ra.ready_ns, 200000 + 300000 + 100000);
    assert_int_equal(ra.running_ns, 3 * MS - 600000);
    assert_int_equal(ra.running_ns + ra.ready_ns + ra.blocked_ns + ra.costop_ns, ra.lifetime_ns);
    assert_int_equal(oa.charged_ns, 200000 + 300000 + 5 * MS);
    assert_int_equal(oa.running_ns + oa.ready_ns + oa.blocked_ns + oa.costop_ns, oa.lifetime_ns);
    sched_vcpu_charge(s, owner, 7, 1000, 3 * MS); /* no such pCPU: nothing */
    sched_vcpu_charge(s, owner, 0, 0, 3 * MS);
    sched_vcpu_acct(s, owner, 3 * MS, &oa, NULL);
    assert_int_equal(oa.charged_ns, 200000 + 300000 + 5 * MS);
    tsched_free(s);
}

/* The same charges seen by the policies: the runner is billed only what it ran and nobody's
 * clock of service moves over the cut (the lags of the runnable vCPUs still sum to zero under
 * pshare, the passes' distances under stride), and the blocked owner carries the bill.  Two
 * hogs on one pCPU, A current; the owner's timer costs 50 us every 100 us for 10 ms. */
static void test_charge_reaches_the_policies(void **state)
{
    (void)state;
    const char *policies[] = { "pshare", "stride", "credit" };
    for (unsigned k = 0; k < 3; k++) {
        struct sched_vm_setup vms[3] = { { 1, 256, 0, SCHED_GANG_NONE, tmask(1), -1, NULL, 0, 0, false, 0 },
                                         { 1, 256, 0, SCHED_GANG_NONE, tmask(1), -1, NULL, 0, 0, false, 0 },
                                         { 1, 256, 0, SCHED_GANG_NONE, tmask(1), -1, NULL, 0, 0, false, 0 } };
        struct sched_setup st;
        sched_setup_defaults(&st);
        st.npcpus = 1;
        st.nvms = 3;
        st.vms = vms;
        st.policy = policies[k];
        struct sched *s = tsched_new(&st);
        struct sched_vcpu *a = sched_vcpu_get(s, 0, 0), *b = sched_vcpu_get(s, 1, 0),
                          *owner = sched_vcpu_get(s, 2, 0);
        struct sched_decision d;
        sched_vcpu_wake(s, a, 0);
        sched_vcpu_wake(s, b, 0);
        assert_ptr_equal(tsched_decide(s, 0, 0, &d), a);
        for (uint64_t t = 100000; t <= 10 * MS; t += 100000)
            sched_vcpu_charge(s, owner, 0, 50000, t);
        struct sched_acct aa, ba, oa;
        sched_vcpu_acct(s, a, 10 * MS, &aa, NULL);
        sched_vcpu_acct(s, b, 10 * MS, &ba, NULL);
        sched_vcpu_acct(s, owner, 10 * MS, &oa, NULL);
        assert_int_equal(aa.running_ns, 5 * MS);
        int64_t sum = aa.policy_value + ba.policy_value;
        if (k == 0) { /* lags: A ran 5 ms of the 5 ms served, its fair half is 2.5 */
            assert_true(sum >= -1000 && sum <= 1000);
            assert_true(aa.policy_value >= -2501000 && aa.policy_value <= -2499000);
            assert_int_equal(oa.policy_value, -5 * (int64_t)MS);
        } else if (k == 1) { /* distance ahead of the global pass */
            assert_true(sum >= -1000 && sum <= 1000);
            assert_true(aa.policy_value >= 2499000 && aa.policy_value <= 2501000);
            assert_int_equal(oa.policy_value, 5 * (int64_t)MS);
        } else { /* credit: earned with time (5 ms each), A burnt the 5 ms it ran */
            assert_true(aa.policy_value >= -1000 && aa.policy_value <= 1000);
            assert_int_equal(oa.policy_value, -5 * (int64_t)MS);
        }
        tsched_free(s);
    }
}

/* A policy switch every 1 ms (the metascheduler's slots, faster than the 30 ms slice): the
 * running vCPU's new slice counts from its dispatch, so two hogs on one pCPU still share it
 * (50 % each within 2 points over 1 s); restarted at every switch, the running hog kept the
 * pCPU for ever. */
static void test_frequent_switches_keep_slicing(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 1, "credit");
    tcfg_vm(&c, "a", 1, "hog");
    tcfg_vm(&c, "b", 1, "hog");
    struct sim *sim = tsim(&c, NULL);
    struct sched *s = sim_sched(sim);
    const char *order[] = { "pshare", "credit", "rr", "credit2" };
    for (unsigned i = 1; i <= 1000; i++) {
        struct sched_change ch = { .set = SCHED_SET_POLICY, .policy = order[i % 4] };
        sched_cpumask_t k;
        assert_int_equal(sched_change(s, &ch, sim_now(sim), &k), SCHED_OK);
        sim_kick(sim, k);
        tsim_run(sim, i * MS);
    }
    assert_share(trec_run_ns(sim, 0, 0), SEC, 0.5, 0.02, "hog a under switches");
    assert_share(trec_run_ns(sim, 1, 0), SEC, 0.5, 0.02, "hog b under switches");
    sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setup_rejects_bad_values),
        cmocka_unit_test(test_change_is_validated_and_atomic),
        cmocka_unit_test(test_policy_switch_keeps_accounting_and_weights),
        cmocka_unit_test(test_wake_before_reschedule_keeps_vcpu_home),
        cmocka_unit_test(test_charge_moves_time_to_the_owner),
        cmocka_unit_test(test_frequent_switches_keep_slicing),
        cmocka_unit_test(test_charge_reaches_the_policies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
