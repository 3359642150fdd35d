/* Placement and load balancing: a balanced machine is left alone, unbalanced ones converge
 * within a bounded number of balancing periods (10 ms each), equal weights get equal shares
 * machine-wide even where no static placement is fair (3 hogs on 2 pCPUs), and identical
 * periodic VMs do not make the balancer thrash.  Shares come from the simulator's record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>

#include "tests/unit/sched_testlib.h"

static void test_balanced_machine_is_left_alone(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 4, "credit");
    tcfg_vm(&c, "hogs", 8, "hog");
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 5 * SEC);
    assert_int_equal(tmigrations(sim), 0);
    for (unsigned k = 0; k < 8; k++)
        assert_share(tvcpu_run_ns(sim, 0, k), 5 * SEC, 0.5, 0.01, "hog");
    sim_destroy(sim);
}

/* Shares of each vCPU over [FROM, FROM + LEN) must be WANT +- TOL; returns migrations then. */
static uint64_t window(struct sim *sim, unsigned vm, unsigned n, uint64_t from, uint64_t len,
                       double want, double tol)
{
    uint64_t before[64];
    tsim_run(sim, from);
    uint64_t m0 = tmigrations(sim);
    for (unsigned k = 0; k < n; k++)
        before[k] = trec_run_ns(sim, vm, k);
    tsim_run(sim, from + len);
    for (unsigned k = 0; k < n; k++)
        assert_share(trec_run_ns(sim, vm, k) - before[k], len, want, tol, "vCPU in window");
    return tmigrations(sim) - m0;
}

static void test_all_on_pcpu0_converges(void **state)
{
    (void)state;
    struct sim_options o = { .switch_cost_ns = -1, .start_on_pcpu0 = true };
    struct cfg c;
    tcfg_init(&c, 4, "credit");
    tcfg_vm(&c, "hogs", 8, "hog");
    struct sim *sim = tsim(&c, &o);
    /* Converged within 100 ms (10 balancing periods), and then stable. */
    uint64_t m = window(sim, 0, 8, 100 * MS, 2 * SEC, 0.5, 0.02);
    assert_true(m <= 2);
    sim_destroy(sim);

    /* No idle pCPU to steal: 4 hogs on 2 pCPUs start 4:0 -> idle steal 3:1 -> balance 2:2. */
    tcfg_init(&c, 2, "credit");
    tcfg_vm(&c, "hogs", 4, "hog");
    sim = tsim(&c, &o);
    m = window(sim, 0, 4, 100 * MS, 2 * SEC, 0.5, 0.02);
    assert_int_equal(m, 0);
    sim_destroy(sim);
}

static void test_heavy_and_light_converge(void **state)
{
    (void)state;
    struct sim_options o = { .switch_cost_ns = -1, .start_on_pcpu0 = true };
    struct cfg c;
    tcfg_init(&c, 4, "credit");
    tcfg_vm(&c, "heavy", 4, "hog");
    tcfg_vm(&c, "light", 4, "periodic period_us=10000 run_us=1000");
    struct sim *sim = tsim(&c, &o);
    /* Each pCPU ends up with one heavy and (about) one light vCPU: heavies get ~90%. */
    window(sim, 0, 4, 100 * MS, 2 * SEC, 0.9, 0.03);
    struct sched_acct a;
    struct hist h;
    sched_vm_acct(sim_sched(sim), 1, sim_now(sim), &a, &h);
    assert_share(a.running_ns, 4 * sim_now(sim), 0.1, 0.005, "lights get their work done");
    sim_destroy(sim);
}

/* Max/min of the vCPUs' running time per weight in [from, from + len) (record). */
static double spread(struct sim *sim, const uint32_t *weight, uint64_t from, uint64_t len)
{
    uint64_t a[64], b[64];
    tsim_run(sim, from);
    unsigned n = trec_all_run_ns(sim, a, 64);
    tsim_run(sim, from + len);
    trec_all_run_ns(sim, b, 64);
    double lo = 1e30, hi = 0;
    for (unsigned i = 0; i < n; i++) {
        double r = (double)(b[i] - a[i]) / weight[i];
        lo = r < lo ? r : lo;
        hi = r > hi ? r : hi;
    }
    return lo > 0 ? hi / lo : 1e30;
}

/* Machine-wide fairness: N equal hogs on P pCPUs get equal shares — max/min <= 1.05 in every
 * 1 s window after the first second with 10 ms slices — for credit, pshare and stride, at a
 * stated migration rate (Xen credit, credit2 and Linux CFS/EEVDF converge to equal shares
 * too).  With the default 30 ms slices a vCPU's service moves in 30 ms steps, 4.5 % of the
 * 667 ms it gets per second with 3 hogs on 2 pCPUs: one step at each window edge is 1.09 even
 * for a perfect rotation; measured 1.04-1.10 there, bound 1.12.  5 hogs on 2 pCPUs (3 and 2
 * per pCPU) are further from a fair placement: 1.05-1.08 at 10 ms (bound 1.10), up to 1.15 at
 * 30 ms (bound 1.20). */
static void test_equal_weights_equal_shares_machine_wide(void **state)
{
    (void)state;
    const char *pols[] = { "credit", "pshare", "stride" };
    const unsigned shape[][2] = { { 2, 3 }, { 4, 5 }, { 4, 6 }, { 3, 4 }, { 2, 5 } };
    const uint32_t slices[] = { 10000, 30000 };
    uint32_t w[64];
    for (unsigned i = 0; i < 64; i++)
        w[i] = 256;
    int bad = 0;
    for (unsigned si = 0; si < 2; si++)
    for (unsigned p = 0; p < 3; p++)
        for (unsigned k = 0; k < 5; k++) {
            struct cfg c;
            tcfg_init(&c, shape[k][0], pols[p]);
            c.machine.timeslice_us = slices[si];
            tcfg_vm(&c, "hogs", shape[k][1], "hog");
            struct sim *sim = tsim(&c, NULL);
            double worst = 0;
            tsim_run(sim, SEC);
            uint64_t m0 = tmigrations(sim);
            for (unsigned win = 1; win <= 3; win++) {
                double r = spread(sim, w, win * SEC, SEC);
                worst = r > worst ? r : worst;
            }
            double rate = (double)(tmigrations(sim) - m0) / 3.0;
            tfigure("%u equal hogs on %u pCPUs, %s, %u ms slices: max/min %.3f per 1 s window, "
                    "%.1f migrations/s", shape[k][1], shape[k][0], pols[p], slices[si] / 1000,
                    worst, rate);
            /* 5 on 2 (3 and 2 per pCPU, the widest gap): measured up to 1.08 / 1.15. */
            double bound = k == 4 ? (si == 0 ? 0.10 : 0.20) : si == 0 ? 0.05 : 0.12;
            bad += !tnear("max/min", worst, 1.0, bound);
            sim_destroy(sim);
        }
    assert_int_equal(bad, 0);
}

/* Unequal weights, machine-wide: each vCPU's share is its weight's share of the machine
 * (capped at one pCPU), within 2 %: 2:2:1 on 2 pCPUs -> 80/80/40 %; 2:1:1:1 on 3 pCPUs ->
 * 100/66.7/66.7/66.7 %. */
static void test_unequal_weights_proportional_machine_wide(void **state)
{
    (void)state;
    const char *pols[] = { "credit", "pshare", "stride" };
    const struct { unsigned pcpus, n; uint32_t w[4]; double want[4]; } cases[] = {
        { 2, 3, { 512, 512, 256 }, { 0.8, 0.8, 0.4 } },
        { 3, 4, { 512, 256, 256, 256 }, { 1.0, 2.0 / 3, 2.0 / 3, 2.0 / 3 } },
    };
    int bad = 0;
    for (unsigned p = 0; p < 3; p++)
        for (unsigned k = 0; k < 2; k++) {
            struct cfg c;
            tcfg_init(&c, cases[k].pcpus, pols[p]);
            for (unsigned i = 0; i < cases[k].n; i++) {
                char name[8];
                snprintf(name, sizeof(name), "v%u", i);
                tcfg_vm(&c, name, 1, "hog")->weight = cases[k].w[i];
            }
            struct sim *sim = tsim(&c, NULL);
            uint64_t a[4], b[4];
            tsim_run(sim, SEC);
            trec_all_run_ns(sim, a, 4);
            tsim_run(sim, 4 * SEC);
            trec_all_run_ns(sim, b, 4);
            char line[160];
            int n = snprintf(line, sizeof(line), "weights");
            for (unsigned i = 0; i < cases[k].n; i++)
                n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%u", i ? ":" : " ",
                              cases[k].w[i] / 256);
            n += snprintf(line + n, sizeof(line) - (size_t)n, " on %u pCPUs, %s, 1-4 s:",
                          cases[k].pcpus, pols[p]);
            for (unsigned i = 0; i < cases[k].n; i++) {
                double share = (double)(b[i] - a[i]) / (3.0 * SEC);
                n += snprintf(line + n, sizeof(line) - (size_t)n, " %.1f", 100 * share);
                bad += !tnear("weighted share", share / cases[k].want[i], 1.0, 0.02);
            }
            tfigure("%s %%", line);
            sim_destroy(sim);
        }
    assert_int_equal(bad, 0);
}

/* A balanced machine never migrates, for every fair policy: 4 hogs on 2 pCPUs. */
static void test_balanced_machine_never_migrates(void **state)
{
    (void)state;
    const char *pols[] = { "credit", "pshare", "stride" };
    for (unsigned p = 0; p < 3; p++) {
        struct cfg c;
        tcfg_init(&c, 2, pols[p]);
        tcfg_vm(&c, "hogs", 4, "hog");
        struct sim *sim = tsim(&c, NULL);
        tsim_run(sim, 5 * SEC);
        tfigure("4 hogs on 2 pCPUs, %s: %llu migrations in 5 s", pols[p],
                (unsigned long long)tmigrations(sim));
        assert_int_equal(tmigrations(sim), 0);
        sim_destroy(sim);
    }
}

/* 8 identical 40 %-busy periodic VMs on 4 pCPUs: in steady state (2-12 s) fewer than one
 * migration per vCPU per 10 s, for every policy and 6 seeds; the pCPUs stay evenly busy. */
static void test_identical_periodic_vms_do_not_thrash(void **state)
{
    (void)state;
    int bad = 0;
    for (unsigned p = 0; sched_policy_list(p); p++) {
        if (strcmp(sched_policy_list(p), "null") == 0)
            continue; /* refuses 8 vCPUs on 4 pCPUs (test_sched_baselines) */
        char line[200];
        int n = snprintf(line, sizeof(line), "8 periodic 4/10 ms VMs on 4 pCPUs, %s, "
                         "migrations 2-12 s, seeds 1-6:", sched_policy_list(p));
        for (uint64_t seed = 1; seed <= 6; seed++) {
            struct cfg c;
            tcfg_init(&c, 4, sched_policy_list(p));
            c.machine.seed = seed;
            for (unsigned i = 0; i < 8; i++) {
                char name[8];
                snprintf(name, sizeof(name), "p%u", i);
                tcfg_vm(&c, name, 1, "periodic period_us=10000 run_us=4000");
            }
            struct sim *sim = tsim(&c, NULL);
            tsim_run(sim, 2 * SEC);
            uint64_t m0 = tmigrations(sim);
            tsim_run(sim, 12 * SEC);
            uint64_t m = tmigrations(sim) - m0;
            n += snprintf(line + n, sizeof(line) - (size_t)n, " %llu", (unsigned long long)m);
            if (m >= 8) {
                print_message("miss: seed %llu: %llu migrations\n", (unsigned long long)seed,
                              (unsigned long long)m);
                bad++;
            }
            sim_destroy(sim);
        }
        tfigure("%s", line);
    }
    assert_int_equal(bad, 0);
}

/* start_pcpu (config): every vCPU starts where it is told, is not pinned there, and the
 * balancer spreads them (the "all VMs start on pCPU 0" shape, from a vsched.cfg). */
static void test_start_pcpu_places_without_pinning(void **state)
{
    (void)state;
    static const char text[] = "[machine]\npcpus = 4\n"
                               "[vm a]\nvcpus = 4\nstart_pcpu = 0\nworkload = hog\n"
                               "[vm b]\nvcpus = 4\nstart_pcpu = 0,0,1,0\nworkload = hog\n";
    /* The library: where each vCPU starts, before anything runs; the affinity stays all. */
    const int16_t list[4] = { 0, 0, 1, 0 };
    struct sched_vm_setup vms[2] = { { 4, 0, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, 0, NULL, 0, 0, false, 0 },
                                     { 4, 0, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, list, 0, 0, false, 0 } };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = 4;
    st.nvms = 2;
    st.vms = vms;
    struct sched *s = tsched_new(&st);
    for (unsigned vm = 0; vm < 2; vm++)
        for (unsigned k = 0; k < 4; k++) {
            struct sched_vcpu_info in;
            sched_vcpu_info(s, sched_vcpu_get(s, vm, k), &in);
            assert_int_equal(in.pcpu, vm == 1 && k == 2 ? 1 : 0);
            assert_mask(in.affinity, 0xf);
        }
    tsched_free(s);
    vms[1].start_pcpus = (const int16_t[4]){ 0, 0, 4, 0 }; /* no pCPU 4 */
    assert_int_equal(sched_setup_check(&st), SCHED_E_SETUP);
    vms[1].start_pcpus = list;
    vms[1].affinity = tmask(0xd); /* pCPU 1 not allowed */
    assert_int_equal(sched_setup_check(&st), SCHED_E_SETUP);

    /* The same from a vsched.cfg, in the simulator: spread by the balancer, then stable. */
    struct cfg c;
    struct cfg_error e;
    assert_int_equal(cfg_parse(text, sizeof(text) - 1, sched_policy_known, &c, &e), 0);
    struct sim *sim = tsim(&c, NULL);
    uint64_t m = window(sim, 0, 4, 100 * MS, 2 * SEC, 0.5, 0.02);
    m += window(sim, 1, 4, 100 * MS + 2 * SEC, SEC, 0.5, 0.02);
    assert_true(tmigrations(sim) >= 5); /* at least 5 of the 7 on pCPU 0 had to move */
    assert_true(m <= 2);
    sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_balanced_machine_is_left_alone),
        cmocka_unit_test(test_all_on_pcpu0_converges),
        cmocka_unit_test(test_heavy_and_light_converge),
        cmocka_unit_test(test_equal_weights_equal_shares_machine_wide),
        cmocka_unit_test(test_unequal_weights_proportional_machine_wide),
        cmocka_unit_test(test_balanced_machine_never_migrates),
        cmocka_unit_test(test_identical_periodic_vms_do_not_thrash),
        cmocka_unit_test(test_start_pcpu_places_without_pinning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
