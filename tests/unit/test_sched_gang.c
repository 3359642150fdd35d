/* Co-scheduling: strict gangs are never partially running (the simulator checks it at every
 * instant), members get identical service; relaxed gangs keep their skew under the threshold
 * and co-stop the leaders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strict_gang_runs_together),
        cmocka_unit_test(test_relaxed_gang_bounds_skew),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
