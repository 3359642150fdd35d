/* stride, lottery, rr, fifo, null: the reference policies. */
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

/* null: refused unless every vCPU can have a pCPU of its own within its affinity — at set-up
 * and at a run-time switch (nothing changes then). */
static void test_null_refuses_overcommit(void **state)
{
    (void)state;
    struct sched_vm_setup vms[3] = { { 2, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 },
                                     { 1, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 },
                                     { 1, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.policy = "null";
    st.npcpus = 4;
    st.nvms = 3;
    st.vms = vms;
    assert_int_equal(sched_setup_check(&st), SCHED_OK); /* 4 vCPUs, 4 pCPUs */
    st.npcpus = 3;
    assert_int_equal(sched_setup_check(&st), SCHED_E_OVERCOMMIT);
    /* The count fits but the affinities do not: both 1-vCPU VMs may only use pCPU 3. */
    st.npcpus = 4;
    vms[1].affinity = vms[2].affinity = tmask(0x8);
    assert_int_equal(sched_setup_check(&st), SCHED_E_OVERCOMMIT);
    /* One of them may also use pCPU 0: a matching exists (the 2-vCPU VM takes 1 and 2). */
    vms[1].affinity = tmask(0x9);
    assert_int_equal(sched_setup_check(&st), SCHED_OK);
    /* A run-time switch to null on an overcommitted machine: refused, nothing changes. */
    vms[1].affinity = vms[2].affinity = cpumask_none();
    st.policy = "credit";
    st.npcpus = 3;
    struct sched *s = tsched_new(&st);
    struct sched_change ch = { .set = SCHED_SET_POLICY | SCHED_SET_TIMESLICE, .policy = "null",
                               .timeslice_ns = 5 * MS };
    sched_cpumask_t k;
    assert_int_equal(sched_change(s, &ch, 0, &k), SCHED_E_OVERCOMMIT);
    assert_string_equal(sched_policy_name(s), "credit");
    ch = (struct sched_change){ .set = SCHED_SET_POLICY, .policy = "rr" };
    assert_int_equal(sched_change(s, &ch, 0, &k), SCHED_OK);
    tsched_free(s);
}

/* null: no time slicing.  One hog per pCPU (with balancing off) runs with no timer at all, is
 * never preempted and is dispatched once; a periodic vCPU next to hogs never waits. */
static void test_null_never_slices(void **state)
{
    (void)state;
    struct sched_vm_setup vms[2] = { { 2, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 },
                                     { 1, 512, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.policy = "null";
    st.npcpus = 3;
    st.balance_ns = 0;
    st.nvms = 2;
    st.vms = vms;
    struct sched *s = tsched_new(&st);
    struct sched_decision d;
    for (unsigned vm = 0; vm < 2; vm++)
        for (unsigned k = 0; k < sched_vm_nvcpus(s, vm); k++)
            sched_vcpu_wake(s, sched_vcpu_get(s, vm, k), 0);
    for (unsigned c = 0; c < 3; c++) {
        assert_non_null(tsched_decide(s, c, 1000, &d));
        assert_int_equal(d.next_event_ns, SCHED_NO_EVENT); /* nothing to time */
    }
    tsched_free(s);

    struct cfg c;
    tcfg_init(&c, 3, "null");
    tcfg_vm(&c, "hogs", 2, "hog");
    tcfg_vm(&c, "tick", 1, "periodic period_us=1000 run_us=300");
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 2 * SEC);
    for (unsigned k = 0; k < 2; k++) {
        struct sched_acct a;
        tvcpu_acct(sim, 0, k, &a);
        assert_int_equal(a.preemptions, 0);
        assert_int_equal(a.runs, 1);
        assert_share(trec_run_ns(sim, 0, k), 2 * SEC, 1.0, 0.001, "null hog");
    }
    struct sim_record r;
    trec(sim, 1, 0, &r);
    assert_int_equal(r.max_wait_ns, 0);
    assert_int_equal(r.missed, 0);
    sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stride_weights_124),
        cmocka_unit_test(test_lottery_proportional_and_deterministic),
        cmocka_unit_test(test_rr_ignores_weights),
        cmocka_unit_test(test_fifo_runs_to_completion),
        cmocka_unit_test(test_null_refuses_overcommit),
        cmocka_unit_test(test_null_never_slices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
