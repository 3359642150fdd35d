/* The simulator: workload strings (errors name the VM), pcpus = 0, determinism, switch cost,
 * and a config file parsed by the real configuration parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
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
    const char *bad[] = { "spin", "periodic period_us=10", "periodic period_us=0 run_us=1",
                          "barrier phase_us=5 phase_us=6", "hog x=1", "poisson rate_hz=abc service_us=1",
                          "barrier phase_us" };
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workload_strings),
        cmocka_unit_test(test_pcpus_zero_means_four),
        cmocka_unit_test(test_same_input_same_output),
        cmocka_unit_test(test_switch_cost_is_charged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
