/* Property tests: random machines and workloads (seeded, deterministic), every policy of the
 * table, with run-time parameter, policy and gang-mode changes.  The simulator checks at every
 * instant: the library's accounting against its own record of who ran when, work conservation
 * (except strict gangs and caps), strict gangs never partial, relaxed skew under its
 * threshold.  Here: no vCPU waits longer than a bound computed from the machine (below), and
 * determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "tests/unit/sched_testlib.h"

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The policies of the table (sched/policies.c): a new one is property-tested as it is added. */
static unsigned npolicies(void)
{
    unsigned n = 0;
    while (sched_policy_list(n))
        n++;
    return n;
}

/* A weight: one in eight anywhere in 1..65535 (precision, extreme ratios), the others within
 * 64..2048, log-uniformly (ratios a researcher uses; the starvation bound bites there). */
static uint32_t random_weight(uint64_t *r)
{
    if (rnd(r) % 8 == 0)
        return 1 + (uint32_t)(rnd(r) % 65535);
    return (uint32_t)(64u << (rnd(r) % 5)) + (uint32_t)(rnd(r) % 64);
}

/* The machine's pCPUs (at most 6 here) of M as the bits of a word, for the oracles below. */
static uint64_t low_bits(const sched_cpumask_t *m, unsigned pcpus)
{
    uint64_t b = 0;
    for (unsigned p = 0; p < pcpus && p < 64; p++)
        b |= (uint64_t)cpumask_test(m, p) << p;
    return b;
}

/* Brute force (a different algorithm from null.c's matching): may vCPUs K.. each take a pCPU
 * of their own within their VM's affinity, the pCPUs in USED being taken? */
static bool one_each(const struct cfg *c, const unsigned *vm_of, unsigned n, unsigned k,
                     uint64_t used)
{
    if (k == n)
        return true;
    uint64_t all = (1ull << c->machine.pcpus) - 1,
             aff = low_bits(&c->vms[vm_of[k]].affinity, c->machine.pcpus);
    for (unsigned p = 0; p < c->machine.pcpus; p++)
        if (((aff ? aff : all) >> p & 1) && !(used >> p & 1) &&
            one_each(c, vm_of, n, k + 1, used | 1ull << p))
            return true;
    return false;
}

/* Exhaustive search (not reserve.c's worst fit): may the reserved vCPUs K.. of U[] (ppm, each
 * with affinity AFF[]) go on pCPUs with LOAD so that no pCPU exceeds 10^6? */
static bool packs(const struct cfg *c, const uint32_t *u, const uint64_t *aff, unsigned n,
                  unsigned k, uint32_t *load)
{
    if (k == n)
        return true;
    for (unsigned p = 0; p < c->machine.pcpus; p++) {
        if (!(aff[k] >> p & 1) || load[p] + u[k] > 1000000)
            continue;
        load[p] += u[k];
        bool ok = packs(c, u, aff, n, k + 1, load);
        load[p] -= u[k];
        if (ok)
            return true;
    }
    return false;
}

#define VERDICT_EITHER 1 /* a packing exists, but the library may refuse it (worst fit, or a
                            running vCPU that must keep its pCPU): SCHED_OK or SCHED_E_ADMIT */

/* What set-up or a switch to POLICY must answer for machine C: the policies that refuse
 * machines refuse exactly these (null: no pCPU of its own for every vCPU; rtds: no packing of
 * the reservations with every pCPU at most 100 %, and the sum at most the pCPUs). */
static int policy_verdict(const struct cfg *c, const char *policy)
{
    if (strcmp(policy, "rtds") == 0) {
        uint32_t u[64], load[64] = { 0 };
        uint64_t aff[64], all = (1ull << c->machine.pcpus) - 1, sum = 0;
        unsigned n = 0;
        for (unsigned i = 0; i < c->nvms; i++) {
            const struct cfg_vm *vm = &c->vms[i];
            if (!vm->rt_budget_us)
                continue;
            uint32_t ppm = (uint32_t)(((uint64_t)vm->rt_budget_us * 1000000 + vm->rt_period_us - 1) /
                                      vm->rt_period_us);
            sum += (uint64_t)ppm * vm->vcpus;
            for (unsigned k = 0; k < vm->vcpus && vm->gang != CFG_GANG_STRICT && n < 64; k++) {
                u[n] = ppm;
                aff[n++] = low_bits(&vm->affinity, c->machine.pcpus) ? low_bits(&vm->affinity, c->machine.pcpus) : all;
            }
        }
        if (sum > 1000000ull * c->machine.pcpus || !packs(c, u, aff, n, 0, load))
            return SCHED_E_ADMIT;
        return n ? VERDICT_EITHER : SCHED_OK;
    }
    if (strcmp(policy, "null") == 0) {
        unsigned vm_of[64], n = 0;
        for (unsigned i = 0; i < c->nvms; i++)
            for (unsigned k = 0; k < c->vms[i].vcpus; k++)
                if (n < 64)
                    vm_of[n++] = i;
        return n <= c->machine.pcpus && one_each(c, vm_of, n, 0, 0) ? SCHED_OK
                                                                     : SCHED_E_OVERCOMMIT;
    }
    return SCHED_OK;
}

/* Switches a random VM to a random co-scheduling mode at the simulator's now (strict only
 * where the VM has as many allowed pCPUs as vCPUs, else the switch must be refused).  The
 * simulator asks the library for each VM's mode, so it checks the new mode's invariants. */
static void gang_switch(struct sim *sim, struct cfg *c, uint64_t *r)
{
    struct sched *s = sim_sched(sim);
    struct sched_change ch = { .set = SCHED_SET_GANG, .vm = (uint32_t)(rnd(r) % c->nvms),
                               .gang = (enum sched_gang)(rnd(r) % 3) };
    struct cfg_vm *vm = &c->vms[ch.vm];
    sched_cpumask_t aff = vm->affinity, all = cpumask_below(c->machine.pcpus);
    cpumask_and(&aff, &all);
    unsigned allowed = cpumask_count(cpumask_any(&aff) ? &aff : &all);
    bool ok = ch.gang != SCHED_GANG_STRICT || allowed >= vm->vcpus;
    int want = ok ? SCHED_OK : SCHED_E_SETUP;
    if (ok) { /* rtds: the reservations must still pack with the VM's new mode */
        struct cfg after = *c;
        after.vms[ch.vm].gang = (enum cfg_gang)ch.gang;
        want = policy_verdict(&after, sched_policy_name(s));
    }
    sched_cpumask_t k = cpumask_none();
    int got = sched_change(s, &ch, sim_now(sim), &k);
    if (want == VERDICT_EITHER)
        want = got == SCHED_E_ADMIT ? SCHED_E_ADMIT : SCHED_OK;
    assert_int_equal(got, want);
    ok = want == SCHED_OK;
    assert_int_equal(sched_vm_gang(s, ch.vm), ok ? ch.gang : (enum sched_gang)vm->gang);
    if (ok)
        vm->gang = (enum cfg_gang)ch.gang;
    sim_kick(sim, k);
}

/* Seeds above RT_SEEDS_FROM draw rtds machines without gangs or caps (the reservations'
 * 0-miss property needs them; drawn from the whole table they are too rare). */
#define RT_SEEDS_FROM 400

static void random_machine(uint64_t seed, struct cfg *c)
{
    uint64_t r = seed;
    const char *pol = sched_policy_list((unsigned)(rnd(&r) % npolicies()));
    bool rt_only = seed > RT_SEEDS_FROM;
    if (rt_only)
        pol = "rtds";
    unsigned pcpus = 1 + (unsigned)(rnd(&r) % 6);
    tcfg_init(c, pcpus, pol);
    c->machine.seed = seed;
    const uint32_t slices[] = { 100, 1000, 5000, 5000 };
    c->machine.timeslice_us = slices[rnd(&r) % 4];
    c->machine.ratelimit_us = (uint32_t)(rnd(&r) % (c->machine.timeslice_us + 1));
    c->machine.gang_skew_us = 500 + (uint32_t)(rnd(&r) % 5000);
    c->machine.switch_cost_ns = (uint32_t)(rnd(&r) % 3) * 1000;
    unsigned nvms = 1 + (unsigned)(rnd(&r) % 5);
    for (unsigned i = 0; i < nvms; i++) {
        char name[16], wl[96];
        snprintf(name, sizeof(name), "vm%u", i);
        switch (rnd(&r) % 5) {
        case 0: snprintf(wl, sizeof(wl), "hog"); break;
        case 1: snprintf(wl, sizeof(wl), "periodic period_us=%u run_us=%u",
                         1000 + (unsigned)(rnd(&r) % 20000), 100 + (unsigned)(rnd(&r) % 5000)); break;
        case 2: snprintf(wl, sizeof(wl), "poisson rate_hz=%u service_us=%u",
                         10 + (unsigned)(rnd(&r) % 500), 50 + (unsigned)(rnd(&r) % 3000)); break;
        case 3: snprintf(wl, sizeof(wl), "barrier phase_us=%u", 200 + (unsigned)(rnd(&r) % 5000)); break;
        default: snprintf(wl, sizeof(wl), "idle"); break;
        }
        struct cfg_vm *vm = tcfg_vm(c, name, 1 + (unsigned)(rnd(&r) % 4), wl);
        vm->weight = random_weight(&r);
        if (rnd(&r) % 4 == 0)
            vm->cap = rt_only ? 0 : 10 + (uint32_t)(rnd(&r) % (100 * vm->vcpus - 9));
        if (rnd(&r) % 3 == 0)
            vm->affinity = tmask((rnd(&r) % ((1ull << pcpus) - 1)) + 1);
        unsigned g = rt_only ? 0 : (unsigned)(rnd(&r) % 4);
        if (g == 1 && vm->vcpus <= pcpus) {
            vm->gang = CFG_GANG_STRICT;
            vm->affinity = cpumask_below(CFG_MAX_PCPUS);
        } else if (g == 2) {
            vm->gang = CFG_GANG_RELAXED;
        }
    }
    /* Reservations (rtds; other policies keep them unused), from a stream of their own so
     * that the machines above stay those of the seeds before rtds: up to 2 VMs, 5-90 % of a
     * 1-20 ms period each vCPU, extratime or not. */
    uint64_t r2 = seed * 0x9e3779b97f4a7c15ull + 0x52545344;
    for (unsigned i = 0, n = 0; i < nvms && n < (rt_only ? 3u : 2u); i++) {
        struct cfg_vm *vm = &c->vms[i];
        if (rnd(&r2) % 3 != 0)
            continue;
        n++;
        vm->rt_period_us = 1000 + (uint32_t)(rnd(&r2) % 19000);
        vm->rt_budget_us = vm->rt_period_us * (5 + (uint32_t)(rnd(&r2) % 86)) / 100;
        vm->rt_extratime = rnd(&r2) % 2 == 0;
    }
    /* A machine the drawn policy refuses (null, overcommitted): set-up must say so; the
     * machine then runs under credit (switches to the policy are refused again later). */
    int want = policy_verdict(c, pol);
    if (want != SCHED_OK) {
        char err[160];
        struct sim *sim = NULL;
        int rc = sim_create(&sim, c, &(struct sim_options){ .switch_cost_ns = -1 }, err,
                            sizeof(err));
        if (want == VERDICT_EITHER && rc == 0) {
            sim_destroy(sim);
            return;
        }
        assert_int_equal(rc, -1);
        assert_non_null(strstr(err, sched_strerror(want == VERDICT_EITHER ? SCHED_E_ADMIT : want)));
        snprintf(c->machine.policy, sizeof(c->machine.policy), "credit");
    }
}

/* How long vCPU-of-VM I may wait (runnable, not running) at most, on machine C under POLICY.
 * A proportional-share policy serves a waiting vCPU within (1 + the weight of the vCPUs that
 * may share its pCPUs / its weight) slices plus rate limits: all of them may be on its pCPU
 * and run their share first (x3 margin; rr
 * counts every vCPU as weight 1; lottery draws: x25, so that missing that many draws in a row
 * has a chance below e^-25).  A capped VM is parked until its budget earns a quota back
 * (10 ms) and its vCPUs share the budget: + (its vCPUs + 1) x (10 ms + a slice).  A strict
 * member waits for a rendezvous on all its homes, each home's policy picking it in its turn —
 * after forced runs (co-start, joining a running gang) its debt there may be larger: x 2 (its
 * vCPUs + 1).  A relaxed member held for leading waits for its slowest sibling's turns and its
 * catching up by half the skew at its share (or, capped, at its part of the cap): x (its
 * vCPUs + 1) + 3 x share x skew.  A vCPU
 * that backfills strict gangs' homes has no extra term: a co-start may not cut it short twice
 * (gang.c).  Returns UINT64_MAX for fifo (run to completion starves by design). null (one pCPU each):
 * its cap, else two slices. */
static uint64_t wait_bound(const struct cfg *c, const char *policy, unsigned i)
{
    if (strcmp(policy, "fifo") == 0)
        return UINT64_MAX;
    const struct cfg_machine *m = &c->machine;
    const struct cfg_vm *vm = &c->vms[i];
    if (strcmp(policy, "null") == 0) {
        /* One pCPU each, never preempted: nobody waits but for a move to an idle pCPU and
         * its cap.  With gangs, a home's occupant is never displaced: exempt, like fifo. */
        for (unsigned j = 0; j < c->nvms; j++)
            if (c->vms[j].gang != CFG_GANG_NONE)
                return UINT64_MAX;
        double slice = (double)m->timeslice_us * 1000 + (double)m->ratelimit_us * 1000;
        return (uint64_t)(2 * slice + (vm->cap ? (vm->vcpus + 1) * (10e6 + slice) : 0));
    }
    /* rtds without reservations (none here): every vCPU in extratime, round robin */
    bool rr = strcmp(policy, "rr") == 0 || strcmp(policy, "rtds") == 0;
    double slice = (double)m->timeslice_us * 1000 + (double)m->ratelimit_us * 1000;
    double w = rr ? 1 : vm->weight, others = -w;
    sched_cpumask_t mine = vm->affinity, all = cpumask_below(m->pcpus);
    cpumask_and(&mine, &all);
    for (unsigned j = 0; j < c->nvms; j++) /* who may share its pCPUs (idle VMs never run) */
        if (cpumask_intersects(&c->vms[j].affinity, &mine) && strcmp(c->vms[j].workload, "idle") != 0)
            others += (rr ? 1.0 : (double)c->vms[j].weight) * c->vms[j].vcpus;
    double share = 1 + others / w, b = (strcmp(policy, "lottery") == 0 ? 25 : 3) * share * slice;
    /* rtds: extratime (every unreserved vCPU, and reserved ones beyond their budget) is round
     * robin in what the reservations leave: the bound over the idle fraction 1 - U (U: the
     * reservations that may share its pCPUs, all on its pCPU at worst; exempt from 95 %) plus
     * their budgets run in one go, twice.  A reserved vCPU gets its budget in every period:
     * at most two periods' wait (plus strict gangs' forced slices); the smaller of both if it
     * has both. */
    if (strcmp(policy, "rtds") == 0) {
        double u = 0, budgets = 0;
        for (unsigned j = 0; j < c->nvms; j++)
            if (c->vms[j].rt_budget_us && cpumask_intersects(&c->vms[j].affinity, &mine) &&
                strcmp(c->vms[j].workload, "idle") != 0) {
                u += (double)c->vms[j].vcpus * c->vms[j].rt_budget_us / c->vms[j].rt_period_us;
                budgets += 1000.0 * c->vms[j].vcpus * c->vms[j].rt_budget_us;
            }
        /* A strict gang's co-start is forced past EDF (gang.c): its slices come on top. */
        double gangs = 0;
        for (unsigned j = 0; j < c->nvms; j++)
            if (c->vms[j].gang == CFG_GANG_STRICT && cpumask_intersects(&c->vms[j].affinity, &mine))
                gangs += 2 * slice;
        double extra = u >= 0.95 ? 1e19 : b / (1 - u) + 2 * budgets;
        b = vm->rt_budget_us ? 2000.0 * vm->rt_period_us + gangs : extra;
        if (vm->rt_budget_us && vm->rt_extratime && extra < b)
            b = extra;
    }
    if (vm->gang == CFG_GANG_STRICT) /* every home's turn, and debt run up by forced joins */
        b *= 2 * (vm->vcpus + 1);
    /* Capped, the slowest catches up at most at its part of the cap, not at its share. */
    double catchup = vm->cap ? (double)vm->vcpus * 100 / vm->cap : 0;
    catchup = catchup > share ? catchup : share;
    if (vm->gang == CFG_GANG_RELAXED) /* the slowest's turns, and its catching up by skew/2 */
        b = b * (vm->vcpus + 1) + 3 * catchup * m->gang_skew_us * 1000.0;
    /* x 3: measured up to 119.6 ms against 50.5 (seed 189: 4 poisson vCPUs asking 4.5 x their
     * cap of 51 %, pshare; the margin is 1.25 over that) */
    if (vm->cap)
        b += 3 * (vm->vcpus + 1) * (10e6 + slice);
    return b > 1e18 ? UINT64_MAX : (uint64_t)b;
}

struct starve_stats {
    uint64_t windows, checked, fifo, over_window, starved;
    uint64_t refused;           /* set-ups and switches a policy refused, as policy_verdict says */
    uint64_t rt_windows, rt_misses; /* reserved vCPU-windows held to 0 misses, and misses */
    uint64_t by_policy[16];     /* vCPU-windows that ended under each policy of the table */
};

/* Runs SEED for 3 s in 1 s windows with a random change between windows.  In every window,
 * every vCPU's longest wait (the simulator's record) must be within the larger of its bounds
 * before and after the change (wait_bound); fifo windows are the only exemption. */
static void run_one(uint64_t seed, struct sched_acct *final, struct starve_stats *st)
{
    struct cfg c;
    random_machine(seed, &c);
    struct sim *sim = tsim(&c, NULL);
    struct sched *s = sim_sched(sim);
    uint64_t r = seed ^ 0xabcdef, win = 1 * SEC;
    struct cfg before = c;
    char pol_before[SCHED_NAME_MAX];
    snprintf(pol_before, sizeof(pol_before), "%s", sched_policy_name(s));
    uint64_t misses0[64] = { 0 };
    for (unsigned w = 1; w <= 3; w++) {
        sim_reset_max_wait(sim);
        sim_run(sim, w * win);
        /* rtds all window long, no gang and no cap anywhere: an admitted reservation alone
         * among the reservations of its pCPU meets every deadline (the window's first period
         * aside: a switch to rtds starts periods mid-way, and the last change may have cut
         * one).  Several deferrable servers on one pCPU may miss even within 100 % when
         * wake-ups are not aligned with their periods (docs/sched.md; test_sched_rtds checks
         * aligned periodic work there). */
        bool rt_clean = strcmp(pol_before, "rtds") == 0 && strcmp(sched_policy_name(s), "rtds") == 0;
        for (unsigned i = 0; i < c.nvms; i++)
            rt_clean = rt_clean && c.vms[i].gang == CFG_GANG_NONE && !c.vms[i].cap &&
                       before.vms[i].gang == CFG_GANG_NONE && !before.vms[i].cap;
        if (sim_violations(sim))
            fail_msg("seed %llu (%s): %llu invariant violations, first: %s", (unsigned long long)seed,
                     sched_policy_name(s), (unsigned long long)sim_violations(sim),
                     sim_first_violation(sim));
        unsigned id = 0;
        for (unsigned i = 0; i < c.nvms; i++)
            for (unsigned k = 0; k < c.vms[i].vcpus; k++, id++) {
                struct sched_acct a;
                struct sim_record rec;
                tvcpu_acct(sim, i, k, &a);
                trec(sim, i, k, &rec);
                uint64_t b0 = wait_bound(&before, pol_before, i);
                uint64_t b1 = wait_bound(&c, sched_policy_name(s), i);
                uint64_t bound = b0 > b1 ? b0 : b1;
                if (st) {
                    for (unsigned q = 0; q < 16 && sched_policy_list(q); q++)
                        st->by_policy[q] += strcmp(sched_policy_list(q), sched_policy_name(s)) == 0;
                    st->windows++;
                    st->fifo += bound == UINT64_MAX;
                    st->over_window += bound != UINT64_MAX && bound >= win;
                    st->checked += bound < win;
                }
                if (rec.max_wait_ns > bound) {
                    if (!st || st->starved++ < 40)
                        print_message("miss: seed %llu (%s): vm %u vcpu %u (%s%s) waited %.1f ms in "
                                      "window %u, bound %.1f ms\n", (unsigned long long)seed,
                                      sched_policy_name(s), i, k, c.vms[i].workload,
                                      c.vms[i].gang == CFG_GANG_STRICT ? ", strict" :
                                      c.vms[i].gang == CFG_GANG_RELAXED ? ", relaxed" : "",
                                      rec.max_wait_ns / 1e6, w, bound / 1e6);
                    if (!st)
                        fail_msg("starved");
                }
                if (final)
                    final[id] = a;
                if (id < 64) {
                    uint64_t d = a.deadline_misses - misses0[id];
                    misses0[id] = a.deadline_misses;
                    struct sched_vcpu_info in, other;
                    sched_vcpu_info(s, sched_vcpu_get(s, i, k), &in);
                    bool alone = in.pinned;
                    for (unsigned j = 0; j < c.nvms && alone; j++)
                        for (unsigned l = 0; l < c.vms[j].vcpus && c.vms[j].rt_budget_us; l++) {
                            if (j == i && l == k)
                                continue;
                            sched_vcpu_info(s, sched_vcpu_get(s, j, l), &other);
                            alone = alone && other.pcpu != in.pcpu;
                        }
                    if (st && rt_clean && c.vms[i].rt_budget_us && alone) {
                        st->rt_windows++;
                        st->rt_misses += d > 1 ? d - 1 : 0;
                        if (d > 1)
                            print_message("deadline misses: seed %llu vm %u vcpu %u: %llu in window %u\n",
                                          (unsigned long long)seed, i, k, (unsigned long long)d, w);
                    }
                }
            }
        before = c;
        snprintf(pol_before, sizeof(pol_before), "%s", sched_policy_name(s));
        struct sched_change ch = { 0 };
        switch (rnd(&r) % 4) {
        case 0: ch.set = SCHED_SET_POLICY;
                ch.policy = sched_policy_list((unsigned)(rnd(&r) % npolicies())); break;
        case 1: ch.set = SCHED_SET_WEIGHT; ch.vm = (uint32_t)(rnd(&r) % c.nvms);
                ch.weight = random_weight(&r);
                c.vms[ch.vm].weight = ch.weight; break;
        case 2: ch.set = SCHED_SET_TIMESLICE | SCHED_SET_RATELIMIT;
                ch.timeslice_ns = 100000 + rnd(&r) % 5000000; ch.ratelimit_ns = 0;
                c.machine.timeslice_us = (uint32_t)(ch.timeslice_ns / 1000) + 1;
                c.machine.ratelimit_us = 0; break;
        default: ch.set = SCHED_SET_CAP; ch.vm = (uint32_t)(rnd(&r) % c.nvms); ch.cap_pct = 0; break;
        }
        sched_cpumask_t k;
        int want = ch.set == SCHED_SET_POLICY ? policy_verdict(&c, ch.policy)
                                              : policy_verdict(&c, sched_policy_name(s));
        int got = sched_change(s, &ch, sim_now(sim), &k);
        if (want == VERDICT_EITHER)
            want = got == SCHED_E_ADMIT ? SCHED_E_ADMIT : SCHED_OK;
        assert_int_equal(got, want);
        if (st && want != SCHED_OK)
            st->refused++;
        if (want != SCHED_OK && ch.set == SCHED_SET_WEIGHT)
            c.vms[ch.vm].weight = before.vms[ch.vm].weight;
        if (ch.set == SCHED_SET_CAP && want == SCHED_OK)
            c.vms[ch.vm].cap = 0;
        sim_kick(sim, k);
        if (rnd(&r) % 3 != 0)
            gang_switch(sim, &c, &r);
        /* The bound before the change applies to what it left behind: the larger of both. */
        for (unsigned i = 0; i < c.nvms; i++) {
            before.vms[i].weight = before.vms[i].weight < c.vms[i].weight ? before.vms[i].weight
                                                                           : c.vms[i].weight;
            if (c.vms[i].gang != CFG_GANG_NONE)
                before.vms[i].gang = c.vms[i].gang;
        }
    }
    sim_destroy(sim);
}

static void test_random_machines_keep_every_invariant(void **state)
{
    (void)state;
    struct starve_stats st = { 0 };
    for (uint64_t seed = 1; seed <= RT_SEEDS_FROM + 60; seed++) {
        if (getenv("PROPS_SEED") && seed != (uint64_t)atoi(getenv("PROPS_SEED")))
            continue;
        if (getenv("PROPS_SEED")) {
            struct cfg c;
            random_machine(seed, &c);
            fprintf(stderr, "policy %s pcpus %u ts %u rl %u\n", c.machine.policy, c.machine.pcpus, c.machine.timeslice_us, c.machine.ratelimit_us);
            for (unsigned i = 0; i < c.nvms; i++)
                fprintf(stderr, " vm%u vcpus %u w %u cap %u aff %llx gang %d rt %u/%u extra %u %s\n", i, c.vms[i].vcpus, c.vms[i].weight, c.vms[i].cap, (unsigned long long)low_bits(&c.vms[i].affinity, c.machine.pcpus), c.vms[i].gang, c.vms[i].rt_budget_us, c.vms[i].rt_period_us, c.vms[i].rt_extratime, c.vms[i].workload);
        }
        run_one(seed, NULL, &st);
    }
    tfigure("starvation bound: %llu vCPU-windows, %llu checked (bound < 1 s), %llu fifo, %llu with a "
            "bound of 1 s or more (exempt: fifo; null with gangs; rtds extratime under >= 95 %% "
            "reservations)", (unsigned long long)st.windows, (unsigned long long)st.checked,
            (unsigned long long)st.fifo, (unsigned long long)st.over_window);
    char per[256];
    int n = 0;
    for (unsigned q = 0; q < 16 && sched_policy_list(q) && n >= 0 && n < (int)sizeof(per); q++)
        n += snprintf(per + n, sizeof(per) - (size_t)n, " %s %llu", sched_policy_list(q),
                      (unsigned long long)st.by_policy[q]);
    tfigure("vCPU-windows per policy:%s; run-time switches refused as predicted: %llu", per,
            (unsigned long long)st.refused);
    tfigure("rtds: %llu reserved vCPU-windows without gangs or caps, alone among the reservations "
            "of their pCPU, %llu deadline misses beyond one per window", (unsigned long long)st.rt_windows, (unsigned long long)st.rt_misses);
    assert_true(st.rt_windows > 0);
    assert_int_equal(st.rt_misses, 0);
    for (unsigned q = 0; q < 16 && sched_policy_list(q); q++)
        assert_true(st.by_policy[q] > 0); /* every policy of the table was exercised */
    assert_int_equal(st.starved, 0);
    /* The check must bite: most vCPU-windows have a bound below the window (measured 55 %;
     * the rest: fifo 23 %, weights that make a share tiny 22 %). */
    assert_true(st.checked * 2 >= st.windows);
}

static void test_same_seed_same_result(void **state)
{
    (void)state;
    for (uint64_t seed = 1000; seed < 1010; seed++) {
        struct sched_acct a[64], b[64];
        memset(a, 0, sizeof(a));
        memset(b, 0, sizeof(b));
        run_one(seed, a, NULL);
        run_one(seed, b, NULL);
        assert_memory_equal(a, b, sizeof(a));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_machines_keep_every_invariant),
        cmocka_unit_test(test_same_seed_same_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
