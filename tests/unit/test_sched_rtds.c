/* rtds: reservations with partitioned EDF.  Budgets that fit every pCPU meet every deadline
 * next to hogs in extratime; a vCPU without extratime gets its budget and no more; misses are
 * counted as defined (runnable and unserved at a deadline, never while blocked); admission
 * refuses what does not fit, at set-up and at run time, and then nothing changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/sched_testlib.h"

/* Deadline misses (the library's count) and periods left over (the simulator's record) of the
 * 1-vCPU VMs 0 .. N-1, each with at least MIN_ARRIVALS arrivals. */
static void rt_totals(struct sim *sim, unsigned n, uint64_t min_arrivals, uint64_t *misses,
                      uint64_t *left_over)
{
    *misses = *left_over = 0;
    for (unsigned vm = 0; vm < n; vm++) {
        struct sched_acct a;
        struct sim_record r;
        tvcpu_acct(sim, vm, 0, &a);
        trec(sim, vm, 0, &r);
        *misses += a.deadline_misses;
        *left_over += r.missed;
        assert_true(r.arrivals >= min_arrivals);
    }
}

static struct cfg_vm *rt_vm(struct cfg *c, const char *name, unsigned budget_us,
                            unsigned period_us, unsigned run_us)
{
    char wl[96];
    snprintf(wl, sizeof(wl), "periodic period_us=%u run_us=%u", period_us, run_us);
    struct cfg_vm *vm = tcfg_vm(c, name, 1, wl);
    vm->rt_budget_us = budget_us;
    vm->rt_period_us = period_us;
    return vm;
}

/* Reservations of 60 + 40 + 30 + 20 % on 2 pCPUs (packed 60+20 / 40+30), each vCPU's periodic
 * work equal to its budget (the 30 % one: 5 of 6 ms), next to 2 hogs in extratime (no
 * reservation): 0 deadline misses (the library's count) and 0 periods whose work was left over
 * at the next arrival (the simulator's own record), over 10 s; the hogs share what is left
 * (2 - 0.6 - 0.4 - 0.25 - 0.2 = 0.55 pCPU, within 1 %).  Same under 100 us .. 30 ms slices
 * for the extratime round robin. */
static void test_reservations_meet_every_deadline_next_to_hogs(void **state)
{
    (void)state;
    const uint32_t slices[] = { 100, 1000, 30000 };
    for (unsigned i = 0; i < 3; i++) {
        struct cfg c;
        tcfg_init(&c, 2, "rtds");
        c.machine.timeslice_us = slices[i];
        c.machine.ratelimit_us = 0;
        rt_vm(&c, "rt60", 3000, 5000, 3000);
        rt_vm(&c, "rt40", 4000, 10000, 4000);
        rt_vm(&c, "rt30", 6000, 20000, 5000);
        rt_vm(&c, "rt20", 2000, 10000, 2000);
        tcfg_vm(&c, "hogs", 2, "hog");
        struct sim *sim = tsim(&c, NULL);
        tsim_run(sim, 10 * SEC);
        uint64_t misses, left_over;
        rt_totals(sim, 4, 10 * SEC / (20 * MS), &misses, &left_over);
        uint64_t hogs = trec_vm_run_ns(sim, 4);
        tfigure("rtds, 60+40+30+20 %% on 2 pCPUs + 2 hogs, %u us slices: %llu deadline misses, "
                "%llu periods left over, hogs %.3f pCPU", slices[i], (unsigned long long)misses,
                (unsigned long long)left_over, (double)hogs / (10.0 * SEC));
        assert_int_equal(misses, 0);
        assert_int_equal(left_over, 0);
        assert_share(hogs, 10 * SEC, 2.0 - 0.6 - 0.4 - 0.25 - 0.2, 0.01, "hogs in extratime");
        sim_destroy(sim);
    }
}

/* EDF at 100 %: 1 of every 2 ms and 5 of every 10 ms on one pCPU, each using its whole
 * budget, next to a hog: 0 misses (any other order than earliest deadline first misses: the
 * 5 ms run would outlast the short period), and the hog gets nothing (under 0.1 %). */
static void test_edf_meets_deadlines_at_full_utilization(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 1, "rtds");
    c.machine.timeslice_us = 1000;
    rt_vm(&c, "short", 1000, 2000, 1000);
    rt_vm(&c, "long", 5000, 10000, 5000);
    tcfg_vm(&c, "hog", 1, "hog");
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 10 * SEC);
    uint64_t misses, left_over;
    rt_totals(sim, 2, 10 * SEC / (10 * MS), &misses, &left_over);
    tfigure("rtds, 50 %% (2 ms) + 50 %% (10 ms) on 1 pCPU + a hog: %llu misses, %llu periods left "
            "over, hog %.4f", (unsigned long long)misses, (unsigned long long)left_over,
            (double)trec_vm_run_ns(sim, 2) / (10.0 * SEC));
    assert_int_equal(misses, 0);
    assert_int_equal(left_over, 0);
    assert_true(trec_vm_run_ns(sim, 2) < 10 * MS);
    sim_destroy(sim);
}

/* Without extratime a reserved hog gets exactly its budget (30 % of 10 s, within 0.1 %) and
 * its pCPU idles the rest; with extratime it takes the idle time (100 %). */
static void test_extratime_is_idle_time_only(void **state)
{
    (void)state;
    for (unsigned extra = 0; extra <= 1; extra++) {
        struct cfg c;
        tcfg_init(&c, 1, "rtds");
        struct cfg_vm *vm = tcfg_vm(&c, "rt", 1, "hog");
        vm->rt_budget_us = 3000;
        vm->rt_period_us = 10000;
        vm->rt_extratime = extra;
        struct sim *sim = tsim(&c, NULL);
        tsim_run(sim, 10 * SEC);
        struct sched_acct a;
        tvcpu_acct(sim, 0, 0, &a);
        assert_share(trec_run_ns(sim, 0, 0), 10 * SEC, extra ? 1.0 : 0.3, 0.001, "reserved hog");
        assert_int_equal(a.deadline_misses, 0);
        sim_destroy(sim);
    }
}

/* The idle time of a pCPU whose reserved vCPU is out of budget (no extratime) goes to vCPUs
 * queued elsewhere, also past a pCPU whose queued vCPUs it may not take: on 3 pCPUs, the
 * reserved hog is pinned to pCPU 0, two hogs may only use pCPU 1, two more start on pCPU 2.
 * Whenever its own vCPU waits for its period, pCPU 0 must steal one of the free hogs (the
 * simulator checks at every instant that no pCPU idles while a vCPU it may run is ready);
 * the free hogs get 2 - 0.3 pCPU between them. */
static void test_idle_time_goes_to_extratime_elsewhere(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 3, "rtds");
    struct cfg_vm *vm = tcfg_vm(&c, "rhog", 1, "hog");
    vm->rt_budget_us = 3000;
    vm->rt_period_us = 10000;
    vm->rt_extratime = 0;
    vm->affinity = tmask(1);
    tcfg_vm(&c, "bound", 2, "hog")->affinity = tmask(2);
    vm = tcfg_vm(&c, "free", 2, "hog");
    vm->start_pcpus = 1;
    vm->start_pcpu[0] = 2;
    vm->affinity = tmask(5);
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 2 * SEC);
    assert_share(trec_run_ns(sim, 0, 0), 2 * SEC, 0.3, 0.005, "reserved hog");
    assert_share(trec_vm_run_ns(sim, 2), 2 * SEC, 1.7, 0.01, "free hogs");
    sim_destroy(sim);
}

/* Misses as defined, on the library directly: a reserved vCPU left runnable and unserved for
 * 3.5 periods missed 3 deadlines (the first with budget left after waiting more than the
 * slack, two more unserved); a period that ends while it is blocked is no miss, nor one it
 * joined too late to use its budget. */
static void test_deadline_misses_counted_as_defined(void **state)
{
    (void)state;
    struct sched_vm_setup vms[1] = { { 1, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL,
                                       2 * MS, 10 * MS, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.policy = "rtds";
    st.nvms = 1;
    st.vms = vms;
    struct sched *s = tsched_new(&st);
    struct sched_vcpu *v = sched_vcpu_get(s, 0, 0);
    struct sched_acct a;
    sched_vcpu_wake(s, v, 0);          /* period [0, 10 ms), never dispatched */
    sched_vcpu_block(s, v, 35 * MS);
    sched_vcpu_acct(s, v, 35 * MS, &a, NULL);
    assert_int_equal(a.deadline_misses, 3);
    sched_vcpu_wake(s, v, 100 * MS);   /* blocked across 40..100 ms: no miss */
    struct sched_decision d;
    assert_ptr_equal(tsched_decide(s, 0, 100 * MS, &d), v);
    assert_int_equal(d.next_event_ns, 102 * MS); /* its budget */
    sched_vcpu_block(s, v, 101 * MS);  /* 1 ms left, blocked at the deadline: no miss */
    assert_null(tsched_decide(s, 0, 101 * MS, &d));
    sched_vcpu_wake(s, v, 115 * MS);
    sched_vcpu_acct(s, v, 115 * MS, &a, NULL);
    assert_int_equal(a.deadline_misses, 3);
    /* Waits 4 ms (within the slack of 8), runs from 119 ms and is still running with budget
     * left when its deadline (120 ms) passes: joined too late to use it, no miss. */
    assert_ptr_equal(tsched_decide(s, 0, 119 * MS, &d), v);
    assert_ptr_equal(tsched_decide(s, 0, 121 * MS, &d), v); /* charged: its period closes */
    sched_vcpu_acct(s, v, 121 * MS, &a, NULL);
    assert_int_equal(a.deadline_misses, 3);
    /* Waits 9.5 ms of a new period [200, 210) unserved (beyond the slack), then blocks with
     * its budget before the deadline: the deadline passes while it is blocked, no miss. */
    sched_vcpu_block(s, v, 122 * MS);
    assert_null(tsched_decide(s, 0, 122 * MS, &d));
    sched_vcpu_wake(s, v, 200 * MS);
    sched_vcpu_block(s, v, 209 * MS + 500000);
    sched_vcpu_wake(s, v, 215 * MS);
    sched_vcpu_acct(s, v, 215 * MS, &a, NULL);
    assert_int_equal(a.deadline_misses, 3);
    tsched_free(s);
}

/* Admission: 3 vCPUs of 60 % on 2 pCPUs sum to 180 % but do not pack: refused at set-up; a
 * run-time change that would not fit, and a switch to rtds that would not, are refused and
 * change nothing; one that fits is applied and pins the reserved vCPU to a pCPU of its own. */
static void test_admission_refuses_what_does_not_fit(void **state)
{
    (void)state;
    struct sched_vm_setup vms[3] = {
        { 1, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 6 * MS, 10 * MS, false, 0 },
        { 1, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 6 * MS, 10 * MS, false, 0 },
        { 1, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 6 * MS, 10 * MS, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.policy = "rtds";
    st.npcpus = 2;
    st.nvms = 3;
    st.vms = vms;
    assert_int_equal(sched_setup_check(&st), SCHED_E_ADMIT);
    vms[2].rt_budget_ns = 4 * MS; /* 60 + 40 on one pCPU, 60 on the other */
    assert_int_equal(sched_setup_check(&st), SCHED_OK);
    vms[2].rt_budget_ns = 11 * MS;
    assert_int_equal(sched_setup_check(&st), SCHED_E_RANGE); /* budget above its period */
    vms[2].rt_budget_ns = 4 * MS;
    struct sched *s = tsched_new(&st);
    struct sched_vcpu_info in;
    for (unsigned vm = 0; vm < 3; vm++) {
        sched_vcpu_info(s, sched_vcpu_get(s, vm, 0), &in);
        assert_true(in.pinned);
    }
    sched_cpumask_t k;
    struct sched_change ch = { .set = SCHED_SET_RESERVATION | SCHED_SET_TIMESLICE, .vm = 2,
                               .rt_budget_ns = 5 * MS, .rt_period_ns = 10 * MS,
                               .timeslice_ns = 5 * MS };
    assert_int_equal(sched_change(s, &ch, 0, &k), SCHED_E_ADMIT);
    ch.rt_budget_ns = 0; /* no reservation: extratime only, free to move */
    assert_int_equal(sched_change(s, &ch, 0, &k), SCHED_OK);
    sched_vcpu_info(s, sched_vcpu_get(s, 2, 0), &in);
    assert_false(in.pinned);
    assert_mask(in.affinity, 3);
    ch = (struct sched_change){ .set = SCHED_SET_POLICY, .policy = "credit" };
    assert_int_equal(sched_change(s, &ch, 0, &k), SCHED_OK);
    sched_vcpu_info(s, sched_vcpu_get(s, 0, 0), &in);
    assert_false(in.pinned); /* pins are rtds's */
    ch = (struct sched_change){ .set = SCHED_SET_RESERVATION, .vm = 2, .rt_budget_ns = 7 * MS,
                                .rt_period_ns = 10 * MS };
    assert_int_equal(sched_change(s, &ch, 0, &k), SCHED_OK); /* not admitted under credit */
    ch = (struct sched_change){ .set = SCHED_SET_POLICY, .policy = "rtds" };
    assert_int_equal(sched_change(s, &ch, 0, &k), SCHED_E_ADMIT);
    assert_string_equal(sched_policy_name(s), "credit");
    tsched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reservations_meet_every_deadline_next_to_hogs),
        cmocka_unit_test(test_edf_meets_deadlines_at_full_utilization),
        cmocka_unit_test(test_extratime_is_idle_time_only),
        cmocka_unit_test(test_idle_time_goes_to_extratime_elsewhere),
        cmocka_unit_test(test_deadline_misses_counted_as_defined),
        cmocka_unit_test(test_admission_refuses_what_does_not_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
