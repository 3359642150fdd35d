/* Co-scheduling: strict gangs are never partially running (the simulator checks it at every
 * instant), members get identical service; relaxed gangs keep their skew under the threshold
 * and co-stop the leaders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/sched_testlib.h"

static void test_strict_gang_runs_together(void **state)
{
    (void)state;
    const char *policies[] = { "credit", "pshare", "stride", "rr" };
    for (unsigned i = 0; i < 4; i++) {
        struct cfg c;
        tcfg_init(&c, 4, policies[i]);
        c.machine.timeslice_us = 5000;
        tcfg_vm(&c, "gang", 3, "hog")->gang = CFG_GANG_STRICT;
        tcfg_vm(&c, "gang2", 2, "barrier phase_us=700")->gang = CFG_GANG_STRICT;
        tcfg_vm(&c, "fill", 4, "periodic period_us=3000 run_us=1000");
        struct sim *sim = tsim(&c, NULL);
        tsim_run(sim, 3 * SEC);
        uint64_t r0 = tvcpu_run_ns(sim, 0, 0);
        assert_true(r0 > SEC / 4);
        assert_int_equal(tvcpu_run_ns(sim, 0, 1), r0);
        assert_int_equal(tvcpu_run_ns(sim, 0, 2), r0);
        struct sched_acct a;
        tvcpu_acct(sim, 0, 0, &a);
        assert_int_equal(a.migrations, 0);  /* pinned to their homes */
        sim_destroy(sim);
    }
}

static void test_relaxed_gang_bounds_skew(void **state)
{
    (void)state;
    for (uint32_t skew_us = 500; skew_us <= 8000; skew_us *= 4) {
        struct cfg c;
        tcfg_init(&c, 2, "credit");
        c.machine.gang_skew_us = skew_us;
        tcfg_vm(&c, "par", 4, "hog")->gang = CFG_GANG_RELAXED; /* 4 vCPUs on 2 pCPUs */
        tcfg_vm(&c, "other", 1, "poisson rate_hz=300 service_us=800");
        struct sim *sim = tsim(&c, NULL);
        tsim_run(sim, 3 * SEC); /* the simulator checks the skew at every instant */
        struct sched_acct a;
        tvcpu_acct(sim, 0, 0, &a);
        assert_true(a.costop_ns > 0);
        sim_destroy(sim);
    }
}

/* ---- run-time gang switches (SCHED_SET_GANG) ---- */

/* Locks that count: the machine lock taken by entry points tells whether gang mode is on. */
struct counting {
    unsigned npcpus;
    unsigned taken[SCHED_MAX_PCPUS + 1 + SCHED_MAX_VMS], held[SCHED_MAX_PCPUS + 1 + SCHED_MAX_VMS];
};

static void count_lock(void *ctx, unsigned id)
{
    struct counting *c = ctx;
    assert_int_equal(c->held[id], 0); /* no lock is taken twice */
    c->held[id]++;
    c->taken[id]++;
}

static void count_unlock(void *ctx, unsigned id)
{
    struct counting *c = ctx;
    assert_int_equal(c->held[id], 1);
    c->held[id]--;
}

static struct sched *counted_sched(const struct sched_setup *st, struct counting *cnt)
{
    memset(cnt, 0, sizeof(*cnt));
    cnt->npcpus = st->npcpus;
    size_t size = sched_mem_size(st);
    void *mem = aligned_alloc(16, (size + 15) & ~(size_t)15);
    struct sched_env env = { cnt, count_lock, count_unlock };
    struct sched *s = NULL;
    assert_int_equal(sched_init(&s, mem, size, st, &env, 0), SCHED_OK);
    return s;
}

/* Does an entry point take the machine lock now? */
static bool entry_takes_machine_lock(struct sched *s, struct counting *cnt, uint64_t now)
{
    unsigned before = cnt->taken[cnt->npcpus];
    struct sched_decision d;
    sched_schedule(s, 0, now, &d);
    for (unsigned i = 0; i < SCHED_MAX_PCPUS + 1 + SCHED_MAX_VMS; i++)
        assert_int_equal(cnt->held[i], 0);
    return cnt->taken[cnt->npcpus] != before;
}

struct snapshot {
    struct sched_vcpu_info info[8];
    struct sched_acct acct[8];
    char dump[2048];
    enum sched_gang gang[2];
};

static void snap(struct sched *s, uint64_t now, struct snapshot *out)
{
    memset(out, 0, sizeof(*out));
    unsigned n = 0;
    for (unsigned vm = 0; vm < sched_nvms(s); vm++) {
        out->gang[vm] = sched_vm_gang(s, vm);
        for (unsigned k = 0; k < sched_vm_nvcpus(s, vm); k++, n++) {
            sched_vcpu_info(s, sched_vcpu_get(s, vm, k), &out->info[n]);
            sched_vcpu_acct(s, sched_vcpu_get(s, vm, k), now, &out->acct[n], NULL);
        }
    }
    sched_dump(s, now, out->dump, sizeof(out->dump));
}

static void test_gang_change_validation_changes_nothing(void **state)
{
    (void)state;
    struct sched_vm_setup vms[2] = { { 3, 256, 0, SCHED_GANG_NONE, tmask(0x3), -1, NULL, 0, 0, false, 0 },  /* 2 pCPUs only */
                                     { 2, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = 4;
    st.nvms = 2;
    st.vms = vms;
    struct counting cnt;
    struct sched *s = counted_sched(&st, &cnt);
    for (unsigned vm = 0; vm < 2; vm++)
        for (unsigned k = 0; k < sched_vm_nvcpus(s, vm); k++)
            sched_vcpu_wake(s, sched_vcpu_get(s, vm, k), 1000);
    for (unsigned c = 0; c < 4; c++)
        tsched_decide(s, c, 2000, NULL);
    struct snapshot a, b;
    snap(s, 5000, &a);
    const struct sched_change bad[] = {
        { .set = SCHED_SET_GANG, .vm = 0, .gang = SCHED_GANG_STRICT },  /* 3 vCPUs, 2 pCPUs */
        { .set = SCHED_SET_GANG | SCHED_SET_TIMESLICE | SCHED_SET_WEIGHT, .vm = 0,
          .gang = SCHED_GANG_STRICT, .timeslice_ns = 1000000, .weight = 999 },
        { .set = SCHED_SET_GANG, .vm = 2, .gang = SCHED_GANG_RELAXED },  /* no such VM */
        { .set = SCHED_SET_GANG, .vm = 1, .gang = (enum sched_gang)3 },
        { .set = SCHED_SET_GANG | SCHED_SET_TIMESLICE, .vm = 1, .gang = SCHED_GANG_STRICT,
          .timeslice_ns = 10 },
        { .set = SCHED_SET_GANG | (1u << 20), .vm = 1, .gang = SCHED_GANG_RELAXED },
    };
    const int want[] = { SCHED_E_SETUP, SCHED_E_SETUP, SCHED_E_VM, SCHED_E_RANGE, SCHED_E_RANGE,
                         SCHED_E_RANGE };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sched_cpumask_t kick = tmask(123);
        assert_int_equal(sched_change(s, &bad[i], 3000, &kick), want[i]);
        assert_mask(kick, 0);
        snap(s, 5000, &b);
        assert_memory_equal(&a, &b, sizeof(a));
        /* A rejected switch to a gang mode leaves the machine without gang mode. */
        assert_false(entry_takes_machine_lock(s, &cnt, 4000));
        snap(s, 5000, &a); /* that decision may have charged the current vCPU */
    }
    free(s);
}

/* Gang mode (the machine lock in every entry point) follows the VMs' modes both ways. */
static void test_gang_change_machine_lock_follows_mode(void **state)
{
    (void)state;
    struct sched_vm_setup vms[2] = { { 2, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 },
                                     { 2, 256, 0, SCHED_GANG_RELAXED, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = 2;
    st.nvms = 2;
    st.vms = vms;
    struct counting cnt;
    struct sched *s = counted_sched(&st, &cnt);
    uint64_t t = 1000;
    assert_true(entry_takes_machine_lock(s, &cnt, t));
    const struct { unsigned vm; enum sched_gang g; bool locked; } steps[] = {
        { 0, SCHED_GANG_STRICT, true }, { 1, SCHED_GANG_NONE, true },
        { 0, SCHED_GANG_NONE, false },  { 0, SCHED_GANG_NONE, false },
        { 1, SCHED_GANG_RELAXED, true }, { 1, SCHED_GANG_STRICT, true },
        { 0, SCHED_GANG_RELAXED, true }, { 1, SCHED_GANG_NONE, true },
        { 0, SCHED_GANG_NONE, false },
    };
    for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct sched_change ch = { .set = SCHED_SET_GANG, .vm = steps[i].vm, .gang = steps[i].g };
        sched_cpumask_t kick;
        assert_int_equal(sched_change(s, &ch, t += 1000, &kick), SCHED_OK);
        assert_mask(kick, 0x3);
        assert_int_equal(sched_vm_gang(s, steps[i].vm), steps[i].g);
        assert_int_equal(entry_takes_machine_lock(s, &cnt, t += 1000), steps[i].locked);
    }
    free(s);
}

static void check_acct_exact(struct sched *s, uint64_t now)
{
    for (unsigned vm = 0; vm < sched_nvms(s); vm++)
        for (unsigned k = 0; k < sched_vm_nvcpus(s, vm); k++) {
            struct sched_acct a;
            sched_vcpu_acct(s, sched_vcpu_get(s, vm, k), now, &a, NULL);
            assert_int_equal(a.running_ns + a.ready_ns + a.blocked_ns + a.costop_ns, a.lifetime_ns);
            assert_int_equal(a.lifetime_ns, now);
        }
}

/* Strict pins the members to distinct homes within the affinity (moving blocked ones off a
 * shared pCPU), they then run together; none releases them. */
static void test_gang_change_strict_pins_and_releases(void **state)
{
    (void)state;
    struct sched_vm_setup vms[2] = { { 3, 256, 0, SCHED_GANG_NONE, tmask(0xe), 1, NULL, 0, 0, false, 0 },  /* all on pCPU 1 */
                                     { 1, 256, 0, SCHED_GANG_STRICT, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = 4;
    st.nvms = 2;
    st.vms = vms;
    st.balance_ns = 0;
    struct sched *s = tsched_new(&st);
    struct sched_vcpu_info in;
    sched_vcpu_info(s, sched_vcpu_get(s, 1, 0), &in);
    unsigned other_home = in.pcpu;
    struct sched_change ch = { .set = SCHED_SET_GANG, .vm = 0, .gang = SCHED_GANG_STRICT };
    sched_cpumask_t kick;
    assert_int_equal(sched_change(s, &ch, 1000, &kick), SCHED_OK);
    assert_mask(kick, 0xf);
    sched_cpumask_t homes = cpumask_none();
    uint64_t moved = 0;
    for (unsigned k = 0; k < 3; k++) {
        struct sched_vcpu *v = sched_vcpu_get(s, 0, k);
        struct sched_acct a;
        sched_vcpu_info(s, v, &in);
        sched_vcpu_acct(s, v, 1000, &a, NULL);
        assert_true(in.pinned);
        assert_mask(in.affinity, 1ull << in.pcpu);
        assert_true((0xeull >> in.pcpu) & 1);   /* within the VM's affinity */
        assert_false(cpumask_test(&homes, in.pcpu)); /* distinct */
        cpumask_set(&homes, in.pcpu);
        moved += a.migrations;
    }
    assert_mask(homes, 0xe);
    assert_int_equal(moved, 2); /* one stays on pCPU 1 */
    (void)other_home;
    /* Every member wakes; once each home has decided, all run at the same instant. */
    for (unsigned k = 0; k < 3; k++)
        sched_vcpu_wake(s, sched_vcpu_get(s, 0, k), 2000);
    for (unsigned c = 0; c < 4; c++)
        tsched_decide(s, c, 2000, NULL);
    for (unsigned k = 0; k < 3; k++) {
        sched_vcpu_info(s, sched_vcpu_get(s, 0, k), &in);
        assert_int_equal(in.state, SCHED_RUNNING);
    }
    check_acct_exact(s, 3000);
    /* None: unpinned, affinity back to the VM's, still running where they are. */
    ch.gang = SCHED_GANG_NONE;
    assert_int_equal(sched_change(s, &ch, 4000, &kick), SCHED_OK);
    for (unsigned k = 0; k < 3; k++) {
        sched_vcpu_info(s, sched_vcpu_get(s, 0, k), &in);
        assert_false(in.pinned);
        assert_mask(in.affinity, 0xe);
        assert_int_equal(in.state, SCHED_RUNNING);
    }
    for (unsigned c = 0; c < 4; c++)
        tsched_decide(s, c, 4000, NULL);
    /* One member blocks: the others keep running (not a gang any more). */
    sched_vcpu_block(s, sched_vcpu_get(s, 0, 0), 5000);
    for (unsigned c = 0; c < 4; c++)
        tsched_decide(s, c, 5000, NULL);
    for (unsigned k = 1; k < 3; k++) {
        sched_vcpu_info(s, sched_vcpu_get(s, 0, k), &in);
        assert_int_equal(in.state, SCHED_RUNNING);
    }
    check_acct_exact(s, 6000);
    tsched_free(s);
}

/* Running members keep the pCPU they run on as their home: no vCPU whose context is on one
 * pCPU is handed to another. */
static void test_gang_change_running_members_stay(void **state)
{
    (void)state;
    struct sched_vm_setup vms[1] = { { 3, 256, 0, SCHED_GANG_RELAXED, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = 3;
    st.nvms = 1;
    st.vms = vms;
    struct sched *s = tsched_new(&st);
    for (unsigned k = 0; k < 3; k++)
        sched_vcpu_wake(s, sched_vcpu_get(s, 0, k), 1000);
    for (unsigned c = 0; c < 3; c++)
        tsched_decide(s, c, 1000, NULL);
    unsigned where[3];
    for (unsigned k = 0; k < 3; k++) {
        struct sched_vcpu_info in;
        sched_vcpu_info(s, sched_vcpu_get(s, 0, k), &in);
        assert_int_equal(in.state, SCHED_RUNNING);
        where[k] = in.pcpu;
    }
    struct sched_change ch = { .set = SCHED_SET_GANG, .vm = 0, .gang = SCHED_GANG_STRICT };
    sched_cpumask_t kick;
    assert_int_equal(sched_change(s, &ch, 2000, &kick), SCHED_OK);
    for (unsigned c = 0; c < 3; c++)
        tsched_decide(s, c, 2000, NULL);
    for (unsigned k = 0; k < 3; k++) {
        struct sched_vcpu_info in;
        struct sched_acct a;
        sched_vcpu_info(s, sched_vcpu_get(s, 0, k), &in);
        sched_vcpu_acct(s, sched_vcpu_get(s, 0, k), 2000, &a, NULL);
        assert_true(in.pinned);
        assert_int_equal(in.pcpu, where[k]);
        assert_int_equal(in.state, SCHED_RUNNING); /* the rendezvous completed at once */
        assert_int_equal(a.migrations, 0);
    }
    check_acct_exact(s, 3000);
    tsched_free(s);
}

static void window_runs(struct sim *sim, unsigned vm, unsigned n, uint64_t *prev, uint64_t *delta)
{
    for (unsigned k = 0; k < n; k++) {
        uint64_t r = tvcpu_run_ns(sim, vm, k);
        delta[k] = r - prev[k];
        prev[k] = r;
    }
}

/* A VM switched none -> strict -> relaxed -> none while it runs, under four policies: the
 * simulator checks at every instant the invariants of the mode in force (strict never
 * partial, relaxed skew bounded, exact accounting). */
static void test_gang_change_at_run_time(void **state)
{
    (void)state;
    const char *policies[] = { "credit", "pshare", "stride", "rr" };
    for (unsigned i = 0; i < 4; i++) {
        struct cfg c;
        tcfg_init(&c, 4, policies[i]);
        c.machine.timeslice_us = 5000;
        tcfg_vm(&c, "par", 3, "hog");
        tcfg_vm(&c, "gang2", 2, "barrier phase_us=700")->gang = CFG_GANG_STRICT;
        tcfg_vm(&c, "fill", 4, "periodic period_us=3000 run_us=1000");
        struct sim *sim = tsim(&c, NULL);
        struct sched *s = sim_sched(sim);
        uint64_t prev[3] = { 0 }, d[3];
        const enum sched_gang modes[] = { SCHED_GANG_STRICT, SCHED_GANG_RELAXED,
                                          SCHED_GANG_NONE, SCHED_GANG_STRICT };
        tsim_run(sim, SEC / 2);
        window_runs(sim, 0, 3, prev, d);
        for (unsigned m = 0; m < 4; m++) {
            struct sched_change ch = { .set = SCHED_SET_GANG, .vm = 0, .gang = modes[m] };
            sched_cpumask_t kick;
            assert_int_equal(sched_change(s, &ch, sim_now(sim), &kick), SCHED_OK);
            sim_kick(sim, kick);
            tsim_run(sim, sim_now(sim) + SEC / 2);
            window_runs(sim, 0, 3, prev, d);
            assert_true(d[0] > SEC / 20);
            struct sched_vcpu_info in;
            sched_vcpu_info(s, sched_vcpu_get(s, 0, 0), &in);
            assert_int_equal(in.pinned, modes[m] == SCHED_GANG_STRICT);
            if (modes[m] == SCHED_GANG_STRICT) { /* from the switch on, all ran together */
                assert_int_equal(d[1], d[0]);
                assert_int_equal(d[2], d[0]);
            }
        }
        sim_destroy(sim);
    }
}

/* Strict gangs do not starve the vCPUs that backfill their homes (docs/sched.md gave this as a
 * known limit; the property test exempted every strict-gang machine).  Two hogs and a 2-vCPU
 * strict gang on 3 pCPUs, 100 us slices, no rate limit: the homes' slices end at the same
 * instant, and a hog dispatched there as backfill was preempted by the co-start at once,
 * every round — one hog never ran (lottery: 0 ms in 3 s).  Now a co-start that cut a backfill
 * short waits once for it to run max(rate limit, slice / 8): every hog's longest wait is at
 * most 1 ms (measured 0.1 ms: a slice), both hogs get a third of the machine or more, the gang
 * is never partial (the simulator's check), and the hogs are not bounced between the homes
 * (at most 2000 migrations/s, against ~9900 without the deferral). */
static void test_strict_gang_does_not_starve_backfill(void **state)
{
    (void)state;
    int bad = 0;
    for (unsigned p = 0; sched_policy_list(p); p++) {
        const char *pol = sched_policy_list(p);
        if (strcmp(pol, "fifo") == 0)
            continue; /* runs to completion: starves by design */
        if (strcmp(pol, "null") == 0)
            continue; /* refuses 4 vCPUs on 3 pCPUs (test_sched_baselines) */
        struct cfg c;
        tcfg_init(&c, 3, pol);
        c.machine.timeslice_us = 100;
        c.machine.ratelimit_us = 0;
        tcfg_vm(&c, "hogs", 2, "hog");
        tcfg_vm(&c, "gang", 2, "hog")->gang = CFG_GANG_STRICT;
        struct sim *sim = tsim(&c, NULL);
        tsim_run(sim, 3 * SEC);
        struct sim_record h0, h1;
        trec(sim, 0, 0, &h0);
        trec(sim, 0, 1, &h1);
        uint64_t worst = h0.max_wait_ns > h1.max_wait_ns ? h0.max_wait_ns : h1.max_wait_ns;
        tfigure("2 hogs + strict gang of 2 on 3 pCPUs, %s, 100 us slices: hogs %.0f / %.0f ms of "
                "3 s, longest wait %.2f ms, %.0f migrations/s", pol, h0.running_ns / 1e6,
                h1.running_ns / 1e6, worst / 1e6, (double)tmigrations(sim) / 3);
        bad += worst > 1000000 || h0.running_ns < SEC || h1.running_ns < SEC;
        /* Without the deferral the cut-short hog was stolen back and forth at every round:
         * ~9900 migrations/s for every policy.  Measured 530-950 with it (lottery's random
         * draws: ~9400, not bounded here); bound 2000. */
        bad += strcmp(pol, "lottery") && tmigrations(sim) > 3 * 2000;
        sim_destroy(sim);
    }
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strict_gang_runs_together),
        cmocka_unit_test(test_relaxed_gang_bounds_skew),
        cmocka_unit_test(test_gang_change_validation_changes_nothing),
        cmocka_unit_test(test_gang_change_machine_lock_follows_mode),
        cmocka_unit_test(test_gang_change_strict_pins_and_releases),
        cmocka_unit_test(test_gang_change_running_members_stay),
        cmocka_unit_test(test_gang_change_at_run_time),
        cmocka_unit_test(test_strict_gang_does_not_starve_backfill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
