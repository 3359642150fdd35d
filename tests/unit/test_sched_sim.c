/* The simulator: workload strings (errors name the VM), pcpus = 0, determinism, switch cost,
 * and a config file parsed by the real configuration parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/sched_testlib.h"

static void test_workload_strings(void **state)
{
    (void)state;
    struct sim_workload w;
    char err[160];
    assert_int_equal(sim_workload_parse("", &w, err, sizeof(err)), 0);
    assert_int_equal(w.kind, WL_HOG);
    assert_int_equal(sim_workload_parse("periodic period_us=100 run_us=20", &w, err, sizeof(err)), 0);
    assert_int_equal(w.period_ns, 100000);
    assert_int_equal(w.run_ns, 20000);
    assert_int_equal(sim_workload_parse("poisson rate_hz=50 service_us=7", &w, err, sizeof(err)), 0);
    assert_int_equal(w.rate_hz, 50);
    assert_int_equal(sim_workload_parse("periodic period_us=100 run_us=20 missed=drop", &w, err,
                                        sizeof(err)), 0);
    assert_int_equal(w.drop_missed, 1);
    assert_int_equal(sim_workload_parse("yield run_us=7", &w, err, sizeof(err)), 0);
    assert_int_equal(w.kind, WL_YIELD);
    assert_int_equal(w.run_ns, 7000);
    assert_int_equal(sim_workload_parse("timer sleep_us=1000 run_us=30 busy=2", &w, err, sizeof(err)), 0);
    assert_int_equal(w.kind, WL_TIMER);
    assert_int_equal(w.period_ns, 1000000);
    assert_int_equal(w.busy_vcpus, 2);
    assert_int_equal(sim_workload_parse("attack period_us=10000 run_pct=95 action=yield", &w, err,
                                        sizeof(err)), 0);
    assert_int_equal(w.kind, WL_ATTACK);
    assert_int_equal(w.run_pct, 95);
    assert_int_equal(w.attack_yield, 1);
    assert_int_equal(sim_workload_parse("attack period_us=10000 run_pct=95", &w, err, sizeof(err)), 0);
    assert_int_equal(w.attack_yield, 0); /* sleep is the default */
    const char *bad[] = { "spin", "periodic period_us=10", "periodic period_us=0 run_us=1",
                          "barrier phase_us=5 phase_us=6", "hog x=1", "poisson rate_hz=abc service_us=1",
                          "barrier phase_us", "periodic period_us=10 run_us=1 missed=later",
                          "attack period_us=1000 run_pct=100", "attack period_us=1000",
                          "attack period_us=1000 run_pct=50 action=run", "hog busy=0",
                          "timer run_us=5", "yield run_us=-1", "idle busy=1" };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sim_workload_parse(bad[i], &w, err, sizeof(err)), -1);
    struct cfg c;
    tcfg_init(&c, 2, "credit");
    tcfg_vm(&c, "good", 1, "hog");
    tcfg_vm(&c, "webserver", 1, "periodic every=5");
    struct sim *sim;
    struct sim_options o = { .switch_cost_ns = -1 };
    assert_int_equal(sim_create(&sim, &c, &o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "vm 'webserver'"));
    assert_non_null(strstr(err, "periodic"));
    /* A guest image without a workload is refused, not simulated as a hog. */
    tcfg_init(&c, 2, "credit");
    tcfg_vm(&c, "good", 1, "hog");
    snprintf(tcfg_vm(&c, "guest", 1, "")->image, CFG_PATH_MAX, "%s", "hog.elf");
    assert_int_equal(sim_create(&sim, &c, &o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "vm 'guest'"));
    assert_non_null(strstr(err, "image = hog.elf has no workload"));
    snprintf(c.vms[1].workload, CFG_TEXT_MAX, "%s", "hog"); /* with one it runs */
    assert_int_equal(sim_create(&sim, &c, &o, err, sizeof(err)), 0);
    sim_destroy(sim);
}

static void test_pcpus_zero_means_four(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 0, "credit");
    tcfg_vm(&c, "hogs", 8, "hog");
    struct sim *sim = tsim(&c, NULL);
    assert_int_equal(sched_npcpus(sim_sched(sim)), 4);
    tsim_run(sim, SEC);
    assert_share(tvm_run_ns(sim, 0), SEC, 4.0, 0.001, "4 pCPUs busy");
    sim_destroy(sim);
    struct sim_options o = { .pcpus = 2, .switch_cost_ns = -1 };
    sim = tsim(&c, &o);
    assert_int_equal(sched_npcpus(sim_sched(sim)), 2);
    sim_destroy(sim);
}

static const char cfg_text[] =
    "[machine]\npcpus = 3\npolicy = pshare\nseed = 11\nswitch_cost_ns = 5000\n"
    "[vm a]\nvcpus = 2\nworkload = poisson rate_hz=400 service_us=900\n"
    "[vm b]\nvcpus = 3\ngang = relaxed\nworkload = barrier phase_us=1500\n"
    "[vm c]\nweight = 1024\nworkload = periodic period_us=5000 run_us=1000\n";

static void run_text(uint64_t seed, struct sched_acct out[6])
{
    struct cfg c;
    struct cfg_error e;
    assert_int_equal(cfg_parse(cfg_text, sizeof(cfg_text) - 1, sched_policy_known, &c, &e), 0);
    struct sim_options o = { .switch_cost_ns = -1, .seed = seed, .seed_set = seed != 0 };
    struct sim *sim = tsim(&c, &o);
    tsim_run(sim, 2 * SEC);
    unsigned id = 0;
    for (unsigned vm = 0; vm < 3; vm++)
        for (unsigned k = 0; k < sched_vm_nvcpus(sim_sched(sim), vm); k++)
            tvcpu_acct(sim, vm, k, &out[id++]);
    sim_destroy(sim);
}

static void test_same_input_same_output(void **state)
{
    (void)state;
    struct sched_acct a[6], b[6], c[6];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    memset(c, 0, sizeof(c));
    run_text(0, a);
    run_text(0, b);
    run_text(12, c);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, c, sizeof(a)); /* the seed drives the Poisson arrivals */
}

/* Switch cost: a vCPU makes progress only after the switch, so the same work takes longer
 * (more running time is charged) when switches cost 50 us. */
static void test_switch_cost_is_charged(void **state)
{
    (void)state;
    uint64_t run[2];
    for (int i = 0; i < 2; i++) {
        struct cfg c;
        tcfg_init(&c, 1, "rr");
        c.machine.timeslice_us = 1000;
        c.machine.switch_cost_ns = i ? 50000 : 0;
        tcfg_vm(&c, "p", 2, "periodic period_us=4000 run_us=1000");
        struct sim *sim = tsim(&c, NULL);
        tsim_run(sim, SEC);
        run[i] = tvm_run_ns(sim, 0);
        sim_destroy(sim);
    }
    assert_share(run[0], SEC, 0.5, 0.001, "no switch cost");
    assert_true(run[1] > run[0] + 250 * 2 * 40000ull); /* >= 500 switches of 50 us */
}

/* The 2009 Xen credit attack as a config (tests/sim/xen2009-attack.cfg): run 95 % of every
 * 10 ms accounting period, sleep (or yield) just before the boundary.  Timestamp accounting
 * keeps it at its share, 50 % next to one victim, within 1 point, under credit and pshare
 * (the old hand-written API driver in test_sched_credit.c checked yields only). */
static void test_xen_2009_attack_gets_its_share_only(void **state)
{
    (void)state;
    static const char *actions[2] = { "sleep", "yield" };
    int bad = 0;
    for (int pol = 0; pol < 2; pol++)
        for (int a = 0; a < 2; a++) {
            struct cfg c;
            char wl[80];
            tcfg_init(&c, 1, pol ? "pshare" : "credit");
            snprintf(wl, sizeof(wl), "attack period_us=10000 run_pct=95 action=%s", actions[a]);
            tcfg_vm(&c, "attacker", 1, wl);
            tcfg_vm(&c, "victim", 1, "hog");
            struct sim *sim = tsim(&c, NULL);
            tsim_run(sim, 4 * SEC);
            double share = (double)trec_run_ns(sim, 0, 0) / (4.0 * SEC);
            struct sim_record r;
            trec(sim, 0, 0, &r);
            tfigure("2009 attack (95 %% of each 10 ms period, then %s), %s: attacker %.2f %%, "
                    "%llu yields", actions[a], pol ? "pshare" : "credit", 100 * share,
                    (unsigned long long)r.yields);
            bad += share > 0.51 || share < 0.45;
            bad += a == 1 && r.yields < 150; /* it yielded at the boundaries where it ran */
            sim_destroy(sim);
        }
    assert_int_equal(bad, 0);
    /* The shipped config is the same attack. */
    struct cfg c;
    struct cfg_error e;
    FILE *f = fopen("tests/sim/xen2009-attack.cfg", "rb");
    if (!f)
        fail_msg("tests/sim/xen2009-attack.cfg: run from the repository root");
    char text[4096];
    size_t n = fread(text, 1, sizeof(text), f);
    fclose(f);
    assert_int_equal(cfg_parse(text, n, sched_policy_known, &c, &e), 0);
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 4 * SEC);
    assert_share(trec_vm_run_ns(sim, 0), 4 * SEC, 0.50, 0.01, "attacker from the config");
    sim_destroy(sim);
}

/* periodic missed=bank keeps work it could not do (under contention it never sleeps);
 * missed=drop throws it away at the next arrival, so it sleeps and counts misses. */
static void test_periodic_missed_work_banked_or_dropped(void **state)
{
    (void)state;
    struct sim_record r[2];
    for (int drop = 0; drop < 2; drop++) {
        struct cfg c;
        tcfg_init(&c, 1, "credit");
        tcfg_vm(&c, "p", 1, drop ? "periodic period_us=10000 run_us=6000 missed=drop"
                                 : "periodic period_us=10000 run_us=6000");
        tcfg_vm(&c, "hog", 1, "hog");
        struct sim *sim = tsim(&c, NULL);
        tsim_run(sim, 2 * SEC);
        trec(sim, 0, 0, &r[drop]);
        sim_destroy(sim);
    }
    tfigure("60 %%-busy periodic next to a hog: bank blocked %.1f ms, drop blocked %.1f ms, "
            "%llu of %llu periods missed", r[0].blocked_ns / 1e6, r[1].blocked_ns / 1e6,
            (unsigned long long)r[1].missed, (unsigned long long)r[1].arrivals);
    assert_true(r[0].blocked_ns < 5 * MS);        /* banked: never sleeps after the start */
    assert_true(r[1].blocked_ns > 300 * MS);      /* dropped: sleeps when it gives up */
    assert_true(r[1].missed > r[1].arrivals / 10); /* measured 42 of 200 */
    assert_true(r[0].missed > r[0].arrivals / 2); /* both see the misses */
}

/* yield: run_us of work, then sched_vcpu_yield, forever runnable.  rr sends a yielder to the
 * back of the queue (0.3 % next to a hog with 30 ms slices); credit and pshare charge the run
 * time and keep it at its share. */
static void test_yield_workload(void **state)
{
    (void)state;
    const char *pols[3] = { "rr", "credit", "pshare" };
    const double want[3] = { 0.0033, 0.495, 0.495 };
    for (int i = 0; i < 3; i++) {
        struct cfg c;
        tcfg_init(&c, 1, pols[i]);
        tcfg_vm(&c, "y", 1, "yield run_us=100");
        tcfg_vm(&c, "hog", 1, "hog");
        struct sim *sim = tsim(&c, NULL);
        tsim_run(sim, 2 * SEC);
        struct sim_record r;
        trec(sim, 0, 0, &r);
        assert_true(r.yields > 50);
        assert_int_equal(r.blocked_ns, 0);
        assert_share(r.running_ns, 2 * SEC, want[i], 0.002, pols[i]);
        sim_destroy(sim);
    }
}

/* timer: sleeps sleep_us from the end of each run_us burst (guest/timer.c's shape); busy=N:
 * only the first N vCPUs of the VM work. */
static void test_timer_and_busy_workloads(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 2, "credit");
    tcfg_vm(&c, "tick", 3, "timer sleep_us=1000 run_us=30 busy=2");
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, SEC);
    struct sim_record r;
    for (unsigned k = 0; k < 2; k++) {
        trec(sim, 0, k, &r);
        assert_in_range(r.dispatches, 960, 972); /* one per 1.03 ms */
        assert_true(r.running_ns >= 960 * 30000 && r.running_ns <= 972 * 30000);
    }
    trec(sim, 0, 2, &r);
    assert_int_equal(r.running_ns, 0);
    assert_int_equal(r.dispatches, 0);
    sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workload_strings),
        cmocka_unit_test(test_pcpus_zero_means_four),
        cmocka_unit_test(test_same_input_same_output),
        cmocka_unit_test(test_switch_cost_is_charged),
        cmocka_unit_test(test_xen_2009_attack_gets_its_share_only),
        cmocka_unit_test(test_periodic_missed_work_banked_or_dropped),
        cmocka_unit_test(test_yield_workload),
        cmocka_unit_test(test_timer_and_busy_workloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
