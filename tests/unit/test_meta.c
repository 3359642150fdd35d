/* The metascheduler's rules (sched/meta.c) against weights worked out by hand, and the VMM's
 * profile reader (vmm/meta_profile.c): the lines tools/vsched-meta writes, and every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "sched/meta.h"
#include "vmm/config.h"
#include "vmm/meta_profile.h"

/* Two VMs: A's p99 under the general scheduler 3 ms, its preferred policy gives it 10 % more
 * throughput; B's p99 1 ms, 30 % more.  delta 3:1, benefit 1:3, delta-benefit 1:1. */
static void test_rules_by_hand(void **state)
{
    (void)state;
    const struct sched_meta_vm v[2] = {
        { .general_p99_ns = 2999999, .general_thr_ppm = 500000, .preferred_thr_ppm = 550000 },
        { .general_p99_ns = 999999, .general_thr_ppm = 400000, .preferred_thr_ppm = 520000 },
    };
    uint32_t w[2];
    sched_meta_weights(SCHED_META_ROUND_ROBIN, 2, v, w);
    assert_int_equal(w[0], 500000);
    assert_int_equal(w[1], 500000);
    sched_meta_weights(SCHED_META_DELTA, 2, v, w);
    assert_int_equal(w[0], 750000);
    assert_int_equal(w[1], 250000);
    sched_meta_weights(SCHED_META_BENEFIT, 2, v, w);
    assert_int_equal(w[0], 250000);
    assert_int_equal(w[1], 750000);
    sched_meta_weights(SCHED_META_DELTA_BENEFIT, 2, v, w);
    assert_int_equal(w[0], 500000);
    assert_int_equal(w[1], 500000);
    /* No gain, a loss, or no throughput under the general scheduler: 0.1 %; every weight >= 1. */
    const struct sched_meta_vm z[3] = {
        { .general_p99_ns = 0, .general_thr_ppm = 100, .preferred_thr_ppm = 100 },
        { .general_p99_ns = 0, .general_thr_ppm = 100, .preferred_thr_ppm = 50 },
        { .general_p99_ns = 0, .general_thr_ppm = 0, .preferred_thr_ppm = 7 },
    };
    sched_meta_weights(SCHED_META_BENEFIT, 3, z, w);
    assert_true(w[0] == 333333 && w[1] == 333333);
    const struct sched_meta_vm big[2] = {
        { .general_p99_ns = 100000000000ull, .general_thr_ppm = 1, .preferred_thr_ppm = 2000000 },
        { .general_p99_ns = 0, .general_thr_ppm = 1000000, .preferred_thr_ppm = 1000000 },
    };
    sched_meta_weights(SCHED_META_DELTA_BENEFIT, 2, big, w); /* no overflow: 1e11 * 2e12 */
    assert_int_equal(w[0], 1000000);
    assert_int_equal(w[1], 1);
}

static void two_vm_cfg(struct cfg *c)
{
    cfg_defaults(c);
    c->nvms = 2;
    snprintf(c->vms[0].name, sizeof(c->vms[0].name), "tick");
    snprintf(c->vms[0].meta_policy, sizeof(c->vms[0].meta_policy), "pshare");
    snprintf(c->vms[1].name, sizeof(c->vms[1].name), "bulk");
    snprintf(c->vms[1].meta_policy, sizeof(c->vms[1].meta_policy), "rr");
}

static int parse(const char *text, const struct cfg *c, struct sched_meta_vm *out, char *err)
{
    return meta_profile_parse(text, strlen(text), c, "credit", out, err, 160);
}

static void test_profile_lines(void **state)
{
    (void)state;
    struct cfg c;
    two_vm_cfg(&c);
    struct sched_meta_vm out[CFG_MAX_VMS];
    char err[160];
    const char *good = "# from vsched-meta\n"
                       "vm=tick policy=credit throughput_ppm=84000 p99_ns=131071\n"
                       "vm=bulk policy=credit throughput_ppm=586840 p99_ns=0\n"
                       "\n"
                       "vm=tick policy=pshare throughput_ppm=84100 p99_ns=99\r\n"
                       "vm=bulk policy=pshare throughput_ppm=621320 p99_ns=0\n"
                       "vm=bulk policy=rr throughput_ppm=479680 p99_ns=0";
    assert_int_equal(parse(good, &c, out, err), 0);
    assert_int_equal(out[0].general_p99_ns, 131071);
    assert_int_equal(out[0].general_thr_ppm, 84000);
    assert_int_equal(out[0].preferred_thr_ppm, 84100);
    assert_int_equal(out[1].general_thr_ppm, 586840);
    assert_int_equal(out[1].preferred_thr_ppm, 479680);

    const struct { const char *text, *msg; } bad[] = {
        { "vm=tick policy=credit throughput_ppm=1 p99_ns=1\nvm=tick policy=credit "
          "throughput_ppm=1 p99_ns=1\n", "line 2: vm tick under credit given twice" },
        { "vm=web policy=credit throughput_ppm=1 p99_ns=1\n", "line 1: no [vm] named web" },
        { "vm=tick policy=credit throughput_ppm=x p99_ns=1\n", "line 1: bad value of throughput_ppm" },
        { "vm=tick policy=credit throughput_ppm=1\n",
          "line 1: needs vm=, policy=, throughput_ppm= and p99_ns=" },
        { "vm=tick policy=credit prio=1 throughput_ppm=1 p99_ns=1\n", "line 1: unknown key" },
        { "vm=tick vm=bulk\n", "line 1: key given twice" },
        { "junk\n", "line 1: expected key=value" },
        { "vm=tick policy=credit throughput_ppm=1 p99_ns=1\n"
          "vm=tick policy=pshare throughput_ppm=1 p99_ns=1\n"
          "vm=bulk policy=credit throughput_ppm=1 p99_ns=1\n", "no line for vm bulk under rr" },
        { "", "no line for vm tick under credit" },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sched_meta_vm keep[CFG_MAX_VMS];
        memset(keep, 0x5a, sizeof(keep));
        memcpy(out, keep, sizeof(keep));
        assert_int_equal(parse(bad[i].text, &c, out, err), -1);
        if (strcmp(err, bad[i].msg))
            fail_msg("profile %u: error '%s', want '%s'", i, err, bad[i].msg);
        assert_memory_equal(out, keep, sizeof(keep)); /* nothing written */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_by_hand),
        cmocka_unit_test(test_profile_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
