/* CPU pools: disjoint pCPU sets, each with its own policy and parameters.  A pool's VMs run
 * only on its pCPUs (checked against the trace: who was dispatched where), share them fairly
 * among themselves and nobody else (checked against the simulator's own record of running
 * time); a VM or a pCPU moves between pools at run time and the shares follow; bad set-ups and
 * bad moves are refused with the documented error and change nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/sched_testlib.h"

/* ---- set-up checks (the library directly) ------------------------------------------------- */

static struct sched_vm_setup vm1(uint32_t pool, sched_cpumask_t aff)
{
    return (struct sched_vm_setup){ .vcpus = 1, .affinity = aff, .start_pcpu = -1, .pool = pool };
}

static int check(uint32_t npcpus, const struct sched_pool_setup *pools, uint32_t npools,
                 const struct sched_vm_setup *vms, uint32_t nvms)
{
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = npcpus;
    st.pools = pools;
    st.npools = npools;
    st.vms = vms;
    st.nvms = nvms;
    return sched_setup_check(&st);
}

static void test_setup_checks(void **state)
{
    (void)state;
    struct sched_pool_setup two[2] = { { .cpus = tmask(0x3) }, { .cpus = tmask(0xc) } };
    struct sched_vm_setup vms[3] = { vm1(0, cpumask_none()), vm1(1, cpumask_none()),
                                     vm1(1, tmask(0x8)) };
    assert_int_equal(check(4, two, 2, vms, 3), SCHED_OK);
    struct sched_pool_setup overlap[2] = { { .cpus = tmask(0x3) }, { .cpus = tmask(0x6) } };
    assert_int_equal(check(4, overlap, 2, vms, 3), SCHED_E_SETUP);
    struct sched_pool_setup hole[2] = { { .cpus = tmask(0x3) }, { .cpus = tmask(0x4) } };
    assert_int_equal(check(4, hole, 2, vms, 3), SCHED_E_SETUP); /* pCPU 3 in no pool */
    struct sched_pool_setup outside[2] = { { .cpus = tmask(0x3) }, { .cpus = tmask(0x1c) } };
    assert_int_equal(check(4, outside, 2, vms, 3), SCHED_E_SETUP);
    struct sched_vm_setup bad_pool[1] = { vm1(2, cpumask_none()) };
    assert_int_equal(check(4, two, 2, bad_pool, 1), SCHED_E_RANGE);
    struct sched_vm_setup bad_aff[1] = { vm1(0, tmask(0x4)) }; /* pCPU 2 is pool 1's */
    assert_int_equal(check(4, two, 2, bad_aff, 1), SCHED_E_SETUP);
    struct sched_pool_setup unknown[2] = { { .cpus = tmask(0x3) },
                                           { .cpus = tmask(0xc), .policy = "nosuch" } };
    assert_int_equal(check(4, unknown, 2, vms, 3), SCHED_E_POLICY);
    struct sched_pool_setup bad_slice[2] = { { .cpus = tmask(0x3) },
                                             { .cpus = tmask(0xc), .timeslice_ns = 10 } };
    assert_int_equal(check(4, bad_slice, 2, vms, 3), SCHED_E_RANGE);
    /* An empty pool is allowed while no VM is in it. */
    struct sched_pool_setup empty[2] = { { .cpus = tmask(0xf) }, { .cpus = cpumask_none() } };
    assert_int_equal(check(4, empty, 2, vms, 1), SCHED_OK);
    assert_int_equal(check(4, empty, 2, vms, 2), SCHED_E_SETUP);

    /* null admits per pool: pool 1 (null, 2 pCPUs) has 2 vCPUs; pool 0 (credit) 3 on 2. */
    struct sched_pool_setup nul[2] = { { .cpus = tmask(0x3) }, { .cpus = tmask(0xc), .policy = "null" } };
    struct sched_vm_setup five[5] = { vm1(0, cpumask_none()), vm1(0, cpumask_none()),
                                      vm1(0, cpumask_none()), vm1(1, cpumask_none()),
                                      vm1(1, cpumask_none()) };
    assert_int_equal(check(4, nul, 2, five, 5), SCHED_OK);
    five[0].pool = 1; /* 3 vCPUs on null's 2 pCPUs */
    assert_int_equal(check(4, nul, 2, five, 5), SCHED_E_OVERCOMMIT);
    /* rtds admits per pool: 2 x 60 % fit its 2 pCPUs, not 1. */
    struct sched_vm_setup rt[2] = { vm1(1, cpumask_none()), vm1(1, cpumask_none()) };
    for (unsigned i = 0; i < 2; i++)
        rt[i].rt_budget_ns = 6 * MS, rt[i].rt_period_ns = 10 * MS;
    struct sched_pool_setup rt2[2] = { { .cpus = tmask(0x3) }, { .cpus = tmask(0xc), .policy = "rtds" } };
    struct sched_pool_setup rt1[2] = { { .cpus = tmask(0x7) }, { .cpus = tmask(0x8), .policy = "rtds" } };
    assert_int_equal(check(4, rt2, 2, rt, 2), SCHED_OK);
    assert_int_equal(check(4, rt1, 2, rt, 2), SCHED_E_ADMIT);
}

/* ---- runs in the simulator -------------------------------------------------------------- */

#define MAX_EV 400000
struct dispatches {
    unsigned n;
    struct { uint64_t t; uint32_t pcpu, vm; } ev[MAX_EV];
};

static void collect(void *ctx, unsigned pcpu, const struct sched_trace_event *ev, unsigned n,
                    uint64_t lost)
{
    struct dispatches *d = ctx;
    assert_int_equal(lost, 0);
    for (unsigned i = 0; i < n; i++)
        if (ev[i].type == SCHED_TR_DISPATCH && d->n < MAX_EV)
            d->ev[d->n++] = (typeof(d->ev[0])){ ev[i].t_ns, pcpu, ev[i].vm };
}

/* Dispatches of VM on a pCPU of mask CPUS in [FROM, TO). */
static unsigned dispatches_on(const struct dispatches *d, uint32_t vm, sched_cpumask_t cpus,
                              uint64_t from, uint64_t to)
{
    unsigned n = 0;
    for (unsigned i = 0; i < d->n; i++)
        n += d->ev[i].vm == vm && cpumask_test(&cpus, d->ev[i].pcpu) && d->ev[i].t >= from &&
             d->ev[i].t < to;
    return n;
}

/* 4 pCPUs: the default pool {0,1} (credit) and pool "b" {2,3} (pshare, POLICY_B). */
static void two_pools(struct cfg *c, const char *policy_b)
{
    tcfg_init(c, 4, "credit");
    c->npools = 2;
    memset(&c->pools[1], 0, sizeof(c->pools[1]));
    snprintf(c->pools[1].name, sizeof(c->pools[1].name), "b");
    c->pools[1].pcpus = tmask(0xc);
    snprintf(c->pools[1].policy, sizeof(c->pools[1].policy), "%s", policy_b);
    c->pools[1].timeslice_us = c->pools[1].ratelimit_us = CFG_POOL_INHERIT;
    c->pools[1].gang_skew_us = c->pools[1].balance_us = CFG_POOL_INHERIT;
}

/* N 1-vCPU hogs PREFIX0.. in pool POOL. */
static void hogs(struct cfg *c, const char *prefix, unsigned n, uint32_t pool)
{
    for (unsigned i = 0; i < n; i++) {
        char name[8];
        snprintf(name, sizeof(name), "%s%u", prefix, i);
        tcfg_vm(c, name, 1, "hog")->pool = pool;
    }
}

static struct sim *traced(const struct cfg *c, struct dispatches *d)
{
    struct sim_options o = { .check = true, .trace_events = 4096, .trace_out = collect,
                             .trace_ctx = d };
    return tsim(c, &o);
}

/* Running time of VM in [since, now): the simulator's record. */
static uint64_t run_since(struct sim *sim, unsigned vm, uint64_t since_ns)
{
    return trec_vm_run_ns(sim, vm) - since_ns;
}

/* Three hogs in the default pool share its 2 pCPUs (2/3 each), one hog in pool b has a pCPU
 * of its own (all of it) and nobody runs outside its pool.  Without pools the four would have
 * a pCPU each. */
static void test_pools_isolate_and_share_within(void **state)
{
    (void)state;
    static struct cfg c;
    static struct dispatches d;
    d.n = 0;
    two_pools(&c, "pshare");
    hogs(&c, "a", 3, 0);
    hogs(&c, "b", 1, 1);
    struct sim *sim = traced(&c, &d);
    struct sched *s = sim_sched(sim);
    assert_int_equal(sched_npools(s), 2);
    assert_string_equal(sched_pool_policy_name(s, 0), "credit");
    assert_string_equal(sched_pool_policy_name(s, 1), "pshare");
    assert_null(sched_pool_policy_name(s, 2));
    assert_mask(sched_pool_cpus(s, 1), 0xc);
    tsim_run(sim, 6 * SEC);
    for (unsigned i = 0; i < 3; i++)
        assert_share(trec_vm_run_ns(sim, i), 6 * SEC, 2.0 / 3, 0.02, "default-pool hog");
    assert_share(trec_vm_run_ns(sim, 3), 6 * SEC, 1.0, 0.01, "pool b hog");
    unsigned outside = 0;
    for (unsigned vm = 0; vm < 4; vm++)
        outside += dispatches_on(&d, vm, vm < 3 ? tmask(0xc) : tmask(0x3), 0, UINT64_MAX);
    assert_true(d.n > 100);
    assert_int_equal(outside, 0);
    tfigure("pools: default-pool hogs %.3f %.3f %.3f, pool-b hog %.3f of a pCPU (%u dispatches)",
            (double)trec_vm_run_ns(sim, 0) / (6 * SEC), (double)trec_vm_run_ns(sim, 1) / (6 * SEC),
            (double)trec_vm_run_ns(sim, 2) / (6 * SEC), (double)trec_vm_run_ns(sim, 3) / (6 * SEC),
            d.n);
    sim_destroy(sim);
}

static void change_ok(struct sim *sim, const struct sched_change *ch)
{
    sched_cpumask_t kick;
    assert_int_equal(sched_change(sim_sched(sim), ch, sim_now(sim), &kick), SCHED_OK);
    sim_kick(sim, kick);
}

/* At 2 s hog a2 moves from the default pool to pool b: from then on it runs only on b's
 * pCPUs, and the four hogs each have a pCPU (the shares of the window after the move). */
static void test_vm_moves_between_pools(void **state)
{
    (void)state;
    static struct cfg c;
    static struct dispatches d;
    d.n = 0;
    two_pools(&c, "pshare");
    hogs(&c, "a", 3, 0);
    hogs(&c, "b", 1, 1);
    struct sim *sim = traced(&c, &d);
    tsim_run(sim, 2 * SEC);
    uint64_t before[4];
    for (unsigned i = 0; i < 4; i++)
        before[i] = trec_vm_run_ns(sim, i);
    struct sched_change ch = { .set = SCHED_SET_VM_POOL, .vm = 2, .to_pool = 1 };
    change_ok(sim, &ch);
    assert_int_equal(sched_vm_pool(sim_sched(sim), 2), 1);
    uint64_t moved_at = sim_now(sim);
    tsim_run(sim, 3 * SEC);
    for (unsigned i = 0; i < 4; i++)
        before[i] = trec_vm_run_ns(sim, i); /* the window starts once placement settled */
    tsim_run(sim, 6 * SEC);
    for (unsigned i = 0; i < 4; i++)
        assert_share(run_since(sim, i, before[i]), 3 * SEC, 1.0, 0.02, "hog after the move");
    assert_int_equal(dispatches_on(&d, 2, tmask(0x3), moved_at, UINT64_MAX), 0);
    assert_true(dispatches_on(&d, 2, tmask(0xc), moved_at, UINT64_MAX) > 0);
    assert_true(dispatches_on(&d, 2, tmask(0x3), 0, moved_at) > 0);
    for (unsigned vm = 0; vm < 2; vm++)
        assert_int_equal(dispatches_on(&d, vm, tmask(0xc), 0, UINT64_MAX), 0);
    sim_destroy(sim);
}

/* A hog that ran 2 s under credit moves to pool b (pCPU 3, rtds) where another hog runs: it
 * joins rtds afresh, and the two share pCPU 3 evenly from then on (its credit state read as
 * rtds's queue membership would not even be consistent). */
static void test_moved_vm_joins_afresh(void **state)
{
    (void)state;
    static struct cfg c;
    static struct dispatches d;
    d.n = 0;
    two_pools(&c, "rtds"); /* unreserved hogs: extratime round robin */
    c.pools[1].pcpus = tmask(0x8);
    hogs(&c, "a", 3, 0);
    hogs(&c, "b", 1, 1);
    struct sim *sim = traced(&c, &d);
    tsim_run(sim, 2 * SEC);
    struct sched_change ch = { .set = SCHED_SET_VM_POOL, .vm = 2, .to_pool = 1 };
    change_ok(sim, &ch);
    tsim_run(sim, 2500 * MS);
    uint64_t a2 = trec_vm_run_ns(sim, 2), b0 = trec_vm_run_ns(sim, 3);
    tsim_run(sim, 6 * SEC);
    assert_share(trec_vm_run_ns(sim, 2) - a2, 3500 * MS, 0.5, 0.02, "moved hog on pCPU 3");
    assert_share(trec_vm_run_ns(sim, 3) - b0, 3500 * MS, 0.5, 0.02, "pool b's hog on pCPU 3");
    sim_destroy(sim);
}

/* Pool b starts with pCPU 3 only; at 2 s pCPU 2 moves from the default pool to b: the default
 * pool's 3 hogs then share 1 pCPU (1/3 each), b's 2 hogs have one each; after the move no
 * default-pool VM runs on pCPU 2. */
static void test_pcpu_moves_between_pools(void **state)
{
    (void)state;
    static struct cfg c;
    static struct dispatches d;
    d.n = 0;
    two_pools(&c, "credit");
    c.pools[1].pcpus = tmask(0x8);
    hogs(&c, "a", 3, 0);
    for (unsigned i = 0; i < 3; i++)
        c.vms[i].affinity = tmask(0x5); /* pCPUs 0 and 2 */
    hogs(&c, "b", 2, 1);
    struct sim *sim = traced(&c, &d);
    tsim_run(sim, 2 * SEC);
    /* Before: 3 hogs on pCPUs 0 and 2 (2/3 each), 2 hogs on pCPU 3 (1/2 each). */
    for (unsigned i = 0; i < 3; i++)
        assert_share(trec_vm_run_ns(sim, i), 2 * SEC, 2.0 / 3, 0.03, "default hog before");
    struct sched_change ch = { .set = SCHED_SET_PCPU_POOL, .pcpu = 2, .to_pool = 1 };
    change_ok(sim, &ch);
    assert_int_equal(sched_pcpu_pool(sim_sched(sim), 2), 1);
    assert_mask(sched_pool_cpus(sim_sched(sim), 0), 0x3);
    assert_mask(sched_pool_cpus(sim_sched(sim), 1), 0xc);
    uint64_t moved_at = sim_now(sim);
    tsim_run(sim, 3 * SEC);
    uint64_t before[5];
    for (unsigned i = 0; i < 5; i++)
        before[i] = trec_vm_run_ns(sim, i);
    tsim_run(sim, 6 * SEC);
    for (unsigned i = 0; i < 3; i++)
        assert_share(run_since(sim, i, before[i]), 3 * SEC, 1.0 / 3, 0.02, "default hog after");
    for (unsigned i = 3; i < 5; i++)
        assert_share(run_since(sim, i, before[i]), 3 * SEC, 1.0, 0.02, "pool b hog after");
    for (unsigned vm = 0; vm < 3; vm++)
        assert_int_equal(dispatches_on(&d, vm, tmask(0xe), moved_at, UINT64_MAX), 0);
    assert_true(dispatches_on(&d, 3, tmask(0x4), moved_at, UINT64_MAX) +
                    dispatches_on(&d, 4, tmask(0x4), moved_at, UINT64_MAX) > 0);
    sim_destroy(sim);
}

/* A pool's policy switches alone: pool b goes to rr, the default pool stays credit; the run
 * goes on with every invariant (--check) and the shares of both pools hold. */
static void test_pool_policy_switch(void **state)
{
    (void)state;
    static struct cfg c;
    static struct dispatches d;
    d.n = 0;
    two_pools(&c, "pshare");
    hogs(&c, "a", 1, 0);
    hogs(&c, "b", 3, 1);
    struct sim *sim = traced(&c, &d);
    tsim_run(sim, 1 * SEC);
    struct sched_change ch = { .set = SCHED_SET_POLICY | SCHED_SET_TIMESLICE, .pool = 1,
                               .policy = "rr", .timeslice_ns = 5 * MS };
    change_ok(sim, &ch);
    assert_string_equal(sched_pool_policy_name(sim_sched(sim), 1), "rr");
    assert_string_equal(sched_pool_policy_name(sim_sched(sim), 0), "credit");
    tsim_run(sim, 7 * SEC);
    assert_share(trec_vm_run_ns(sim, 0), 7 * SEC, 1.0, 0.01, "default-pool hog");
    for (unsigned i = 1; i < 4; i++)
        assert_share(trec_vm_run_ns(sim, i), 7 * SEC, 2.0 / 3, 0.03, "pool b hog");
    sim_destroy(sim);
}

/* ---- refused moves change nothing (the library directly) ---------------------------------- */

struct snap {
    unsigned vm_pool[4], pcpu_pool[4];
    sched_cpumask_t cpus[2];
    char policy[2][SCHED_NAME_MAX];
};

static void take(struct sched *s, struct snap *o)
{
    memset(o, 0, sizeof(*o));
    for (unsigned i = 0; i < sched_nvms(s); i++)
        o->vm_pool[i] = sched_vm_pool(s, i);
    for (unsigned c = 0; c < 4; c++)
        o->pcpu_pool[c] = sched_pcpu_pool(s, c);
    for (unsigned p = 0; p < 2; p++) {
        o->cpus[p] = sched_pool_cpus(s, p);
        snprintf(o->policy[p], sizeof(o->policy[p]), "%s", sched_pool_policy_name(s, p));
    }
}

static void refused(struct sched *s, const struct sched_change *ch, int want)
{
    struct snap a, b;
    take(s, &a);
    sched_cpumask_t kick = tmask(0x1);
    assert_int_equal(sched_change(s, ch, 1 * MS, &kick), want);
    assert_false(cpumask_any(&kick));
    take(s, &b);
    assert_memory_equal(&a, &b, sizeof(a));
}

static void test_bad_moves_change_nothing(void **state)
{
    (void)state;
    /* Pool 0 {0,1} credit, pool 1 {2,3} rtds: VM 0 strict gang (2 vCPUs), VM 1 pinned to
     * pCPU 1, VMs 2 and 3 in pool 1 with 60 % reservations. */
    struct sched_pool_setup pools[2] = { { .cpus = tmask(0x3) },
                                         { .cpus = tmask(0xc), .policy = "rtds" } };
    struct sched_vm_setup vms[4] = { vm1(0, cpumask_none()), vm1(0, tmask(0x2)),
                                     vm1(1, cpumask_none()), vm1(1, cpumask_none()) };
    vms[0].vcpus = 2;
    vms[0].gang = SCHED_GANG_STRICT;
    for (unsigned i = 2; i < 4; i++)
        vms[i].rt_budget_ns = 6 * MS, vms[i].rt_period_ns = 10 * MS;
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = 4;
    st.pools = pools;
    st.npools = 2;
    st.vms = vms;
    st.nvms = 4;
    struct sched *s = tsched_new(&st);
    struct sched_change strict = { .set = SCHED_SET_VM_POOL, .vm = 0, .to_pool = 1 };
    refused(s, &strict, SCHED_E_SETUP);
    struct sched_change no_cpu = { .set = SCHED_SET_VM_POOL, .vm = 1, .to_pool = 1 };
    refused(s, &no_cpu, SCHED_E_SETUP); /* its affinity {1} has no pCPU of pool 1 */
    struct sched_change no_pool = { .set = SCHED_SET_VM_POOL, .vm = 2, .to_pool = 2 };
    refused(s, &no_pool, SCHED_E_RANGE);
    struct sched_change no_vm = { .set = SCHED_SET_VM_POOL, .vm = 9, .to_pool = 0 };
    refused(s, &no_vm, SCHED_E_VM);
    struct sched_change both = { .set = SCHED_SET_VM_POOL | SCHED_SET_PCPU_POOL, .vm = 2 };
    refused(s, &both, SCHED_E_SETUP);
    struct sched_change with_weight = { .set = SCHED_SET_VM_POOL | SCHED_SET_WEIGHT, .vm = 2,
                                        .weight = 100 };
    refused(s, &with_weight, SCHED_E_SETUP);
    struct sched_change lose_home = { .set = SCHED_SET_PCPU_POOL, .pcpu = 1, .to_pool = 1 };
    refused(s, &lose_home, SCHED_E_SETUP); /* VM 1's only pCPU, and a strict member's home */
    struct sched_change no_pcpu = { .set = SCHED_SET_PCPU_POOL, .pcpu = 4, .to_pool = 1 };
    refused(s, &no_pcpu, SCHED_E_RANGE);
    struct sched_change shrink_rt = { .set = SCHED_SET_PCPU_POOL, .pcpu = 3, .to_pool = 0 };
    refused(s, &shrink_rt, SCHED_E_ADMIT); /* 2 x 60 % on one pCPU */
    struct sched_change to_null = { .set = SCHED_SET_POLICY, .pool = 0, .policy = "null" };
    refused(s, &to_null, SCHED_E_OVERCOMMIT); /* 3 vCPUs on its 2 pCPUs */
    struct sched_change bad_pool = { .set = SCHED_SET_POLICY, .pool = 2, .policy = "rr" };
    refused(s, &bad_pool, SCHED_E_RANGE);
    /* Accepted: VM 3 to pool 0 (pool 1 keeps 60 %, pool 0 is credit). */
    struct sched_change ok = { .set = SCHED_SET_VM_POOL, .vm = 3, .to_pool = 0 };
    sched_cpumask_t kick;
    assert_int_equal(sched_change(s, &ok, 2 * MS, &kick), SCHED_OK);
    assert_int_equal(sched_vm_pool(s, 3), 0);
    struct sched_vcpu_info info;
    sched_vcpu_info(s, sched_vcpu_get(s, 3, 0), &info);
    assert_mask(info.affinity, 0x3);
    assert_true(info.pcpu < 2);
    tsched_free(s);
}

/* A VM moved while its vCPU runs on pCPU 0 (pool 0), and the vCPU halts before pCPU 0 has
 * decided (the VMM: its HLT exit came before the kick): it is blocked on pCPU 0, outside its
 * new affinity; when it wakes it must go to pool 1's pCPU, never run on pCPU 0. */
static void test_blocked_before_its_pcpu_decides(void **state)
{
    (void)state;
    struct sched_pool_setup pools[2] = { { .cpus = tmask(0x1) }, { .cpus = tmask(0x2),
                                                                    .policy = "pshare" } };
    struct sched_vm_setup vms[1] = { vm1(0, cpumask_none()) };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = 2;
    st.pools = pools;
    st.npools = 2;
    st.vms = vms;
    st.nvms = 1;
    struct sched *s = tsched_new(&st);
    struct sched_vcpu *v = sched_vcpu_get(s, 0, 0);
    sched_cpumask_t kick;
    (void)sched_vcpu_wake(s, v, 1 * MS);
    assert_ptr_equal(tsched_decide(s, 0, 1 * MS, NULL), v);
    struct sched_change ch = { .set = SCHED_SET_VM_POOL, .vm = 0, .to_pool = 1 };
    assert_int_equal(sched_change(s, &ch, 2 * MS, &kick), SCHED_OK);
    assert_true(cpumask_test(&kick, 0));
    (void)sched_vcpu_block(s, v, 3 * MS); /* before pCPU 0's decision */
    assert_null(tsched_decide(s, 0, 4 * MS, NULL));
    (void)sched_vcpu_wake(s, v, 5 * MS);
    struct sched_vcpu_info info;
    sched_vcpu_info(s, v, &info);
    assert_int_equal(info.pcpu, 1);
    assert_null(tsched_decide(s, 0, 6 * MS, NULL));
    assert_ptr_equal(tsched_decide(s, 1, 6 * MS, NULL), v);
    tsched_free(s);
}

/* ---- property: random pools, every policy, random run-time moves ------------------------- */

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define MAX_SNAP 16
struct snapshots {
    unsigned n;
    struct { unsigned from_ev; unsigned vm_pool[8]; unsigned pcpu_pool[8]; } s[MAX_SNAP];
};

static void snap(struct sim *sim, struct snapshots *ss, const struct dispatches *d, unsigned nvms,
                 unsigned npcpus)
{
    assert_true(ss->n < MAX_SNAP);
    memset(&ss->s[ss->n], 0, sizeof(ss->s[0]));
    ss->s[ss->n].from_ev = d->n;
    for (unsigned i = 0; i < nvms; i++)
        ss->s[ss->n].vm_pool[i] = sched_vm_pool(sim_sched(sim), i);
    for (unsigned c = 0; c < npcpus; c++)
        ss->s[ss->n].pcpu_pool[c] = sched_pcpu_pool(sim_sched(sim), c);
    ss->n++;
}

/* Random machines of 2..6 pCPUs in 2 or 3 pools under random policies of the table, 3..6 VMs
 * (hogs and periodic wakers) in random pools; five random changes at random instants — a VM
 * moved, a pCPU moved, a pool's policy switched — each accepted or refused.  Every instant the
 * simulator checks its invariants (accounting against its own record, work conservation within
 * affinity); here, every dispatch is of a VM on a pCPU of the VM's pool as it was then, and a
 * refused change left every pool as it was. */
static void test_random_pools_every_policy(void **state)
{
    (void)state;
    static struct cfg c;
    static struct dispatches d;
    static struct snapshots ss;
    unsigned npol = 0, ran = 0, accepted = 0, refused = 0;
    while (sched_policy_list(npol))
        npol++;
    for (uint64_t seed = 1; seed <= 24; seed++) {
        uint64_t r = seed * 7919;
        unsigned npcpus = 2 + (unsigned)(rnd(&r) % 5), npools = 2 + (unsigned)(rnd(&r) % 2);
        if (npools > npcpus)
            npools = npcpus;
        tcfg_init(&c, npcpus, sched_policy_list((unsigned)(rnd(&r) % npol)));
        c.npools = npools;
        for (unsigned p = 1; p < npools; p++) {
            memset(&c.pools[p], 0, sizeof(c.pools[p]));
            snprintf(c.pools[p].name, sizeof(c.pools[p].name), "p%u", p);
            c.pools[p].pcpus = cpumask_of(npcpus - p); /* one pCPU each from the top */
            snprintf(c.pools[p].policy, sizeof(c.pools[p].policy), "%s",
                     sched_policy_list((unsigned)(rnd(&r) % npol)));
            c.pools[p].timeslice_us = c.pools[p].ratelimit_us = CFG_POOL_INHERIT;
            c.pools[p].gang_skew_us = c.pools[p].balance_us = CFG_POOL_INHERIT;
        }
        unsigned nvms = 3 + (unsigned)(rnd(&r) % 4);
        for (unsigned i = 0; i < nvms; i++) {
            char name[8];
            snprintf(name, sizeof(name), "v%u", i);
            struct cfg_vm *vm = tcfg_vm(&c, name, 1 + (unsigned)(rnd(&r) % 2),
                                        rnd(&r) % 2 ? "hog" : "periodic period_us=5000 run_us=1000");
            vm->pool = (uint32_t)(rnd(&r) % npools);
        }
        struct sim_options o = { .check = true, .trace_events = 4096, .trace_out = collect,
                                 .trace_ctx = &d };
        struct sim *sim;
        char err[200];
        if (sim_create(&sim, &c, &o, err, sizeof(err)) < 0)
            continue; /* null or rtds refused this machine: its admission is tested above */
        ran++;
        d.n = 0;
        ss.n = 0;
        snap(sim, &ss, &d, nvms, npcpus);
        struct sched *s = sim_sched(sim);
        uint64_t t = 0;
        for (unsigned k = 0; k < 5; k++) {
            t += 100 * MS + rnd(&r) % (400 * MS);
            tsim_run(sim, t);
            struct sched_change ch = { 0 };
            unsigned kind = (unsigned)(rnd(&r) % 3);
            if (kind == 0)
                ch = (struct sched_change){ .set = SCHED_SET_VM_POOL,
                                            .vm = (uint32_t)(rnd(&r) % nvms),
                                            .to_pool = (uint32_t)(rnd(&r) % npools) };
            else if (kind == 1)
                ch = (struct sched_change){ .set = SCHED_SET_PCPU_POOL,
                                            .pcpu = (uint32_t)(rnd(&r) % npcpus),
                                            .to_pool = (uint32_t)(rnd(&r) % npools) };
            else
                ch = (struct sched_change){ .set = SCHED_SET_POLICY,
                                            .pool = (uint32_t)(rnd(&r) % npools),
                                            .policy = sched_policy_list((unsigned)(rnd(&r) % npol)) };
            unsigned before = ss.n - 1;
            sched_cpumask_t kick;
            int rc = sched_change(s, &ch, sim_now(sim), &kick);
            snap(sim, &ss, &d, nvms, npcpus);
            if (rc) {
                refused++;
                assert_memory_equal(ss.s[before].vm_pool, ss.s[ss.n - 1].vm_pool,
                                    sizeof(ss.s[0].vm_pool));
                assert_memory_equal(ss.s[before].pcpu_pool, ss.s[ss.n - 1].pcpu_pool,
                                    sizeof(ss.s[0].pcpu_pool));
            } else {
                accepted++;
                sim_kick(sim, kick);
            }
        }
        tsim_run(sim, t + 500 * MS);
        for (unsigned i = 0, k = 0; i < d.n; i++) {
            while (k + 1 < ss.n && ss.s[k + 1].from_ev <= i)
                k++;
            if (ss.s[k].vm_pool[d.ev[i].vm] != ss.s[k].pcpu_pool[d.ev[i].pcpu])
                fail_msg("seed %llu: vm %u dispatched on pCPU %u of pool %u, its pool %u",
                         (unsigned long long)seed, d.ev[i].vm, d.ev[i].pcpu,
                         ss.s[k].pcpu_pool[d.ev[i].pcpu], ss.s[k].vm_pool[d.ev[i].vm]);
        }
        sim_destroy(sim);
    }
    tfigure("random pools: %u machines ran, %u changes accepted, %u refused", ran, accepted,
            refused);
    assert_true(ran >= 12 && accepted >= 20 && refused >= 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setup_checks),
        cmocka_unit_test(test_pools_isolate_and_share_within),
        cmocka_unit_test(test_vm_moves_between_pools),
        cmocka_unit_test(test_pcpu_moves_between_pools),
        cmocka_unit_test(test_moved_vm_joins_afresh),
        cmocka_unit_test(test_pool_policy_switch),
        cmocka_unit_test(test_bad_moves_change_nothing),
        cmocka_unit_test(test_blocked_before_its_pcpu_decides),
        cmocka_unit_test(test_random_pools_every_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
