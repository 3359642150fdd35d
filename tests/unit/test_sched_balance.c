/* Placement and load balancing: a balanced machine is left alone, unbalanced ones converge
 * within a bounded number of balancing periods (10 ms each). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>

#include "tests/unit/sched_testlib.h"

static uint64_t total_migrations(struct sim *sim)
{
    struct sched *s = sim_sched(sim);
    uint64_t m = 0;
    for (unsigned vm = 0; vm < sched_nvms(s); vm++) {
        struct sched_acct a;
        sched_vm_acct(s, vm, sim_now(sim), &a, NULL);
        m += a.migrations;
    }
    return m;
}

static void test_balanced_machine_is_left_alone(void **state)
{
    (void)state;
    struct cfg c;
    tcfg_init(&c, 4, "credit");
    tcfg_vm(&c, "hogs", 8, "hog");
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 5 * SEC);
    assert_int_equal(total_migrations(sim), 0);
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
    uint64_t m0 = total_migrations(sim);
    for (unsigned k = 0; k < n; k++)
        before[k] = tvcpu_run_ns(sim, vm, k);
    tsim_run(sim, from + len);
    for (unsigned k = 0; k < n; k++)
        assert_share(tvcpu_run_ns(sim, vm, k) - before[k], len, want, tol, "vCPU in window");
    return total_migrations(sim) - m0;
}

static void test_all_on_pcpu0_converges(void **state)
{
    (void)state;
    struct sim_options o = { .switch_cost_ns = -1, .start_on_pcpu0 = true };
    struct cfg c;
    tcfg_init(&c, 4, "credit");
    tcfg_vm(&c, "hogs", 8, "hog");
    struct sim *sim = tsim(&c, &o);
    /* Converged by 30 balancing periods, and then stable. */
    uint64_t m = window(sim, 0, 8, 300 * MS, 2 * SEC, 0.5, 0.02);
    assert_true(m <= 2);
    sim_destroy(sim);

    /* No idle pCPU to steal: 4 hogs on 2 pCPUs start 4:0 -> idle steal 3:1 -> balance 2:2. */
    tcfg_init(&c, 2, "credit");
    tcfg_vm(&c, "hogs", 4, "hog");
    sim = tsim(&c, &o);
    m = window(sim, 0, 4, 300 * MS, 2 * SEC, 0.5, 0.02);
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
    window(sim, 0, 4, 300 * MS, 2 * SEC, 0.9, 0.03);
    struct sched_acct a;
    struct hist h;
    sched_vm_acct(sim_sched(sim), 1, sim_now(sim), &a, &h);
    assert_share(a.running_ns, 4 * sim_now(sim), 0.1, 0.005, "lights get their work done");
    sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_balanced_machine_is_left_alone),
        cmocka_unit_test(test_all_on_pcpu0_converges),
        cmocka_unit_test(test_heavy_and_light_converge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
