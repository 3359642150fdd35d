/* Unit tests for the vsched.cfg parser (vmm/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config.h"

static bool known_policy(const char *name)
{
    return strcmp(name, "credit") == 0 || strcmp(name, "pshare") == 0 ||
           strcmp(name, "rr") == 0;
}

static int parse(const char *text, struct cfg *c, struct cfg_error *e)
{
    return cfg_parse(text, strlen(text), known_policy, c, e);
}

/* Parsing TEXT must fail on LINE with a message containing NEEDLE, and leave the output as it
 * was (all-or-nothing). */
static void expect_error(const char *text, uint32_t line, const char *needle)
{
    struct cfg c, before;
    struct cfg_error e;
    memset(&c, 0xA5, sizeof(c));
    before = c;
    assert_int_equal(parse(text, &c, &e), -1);
    assert_int_equal(e.line, line);
    if (!strstr(e.msg, needle))
        fail_msg("error '%s' does not contain '%s'", e.msg, needle);
    assert_memory_equal(&c, &before, sizeof(c));
}

static void test_empty_file_gives_defaults(void **state)
{
    (void)state;
    struct cfg c, d;
    struct cfg_error e;
    assert_int_equal(parse("", &c, &e), 0);
    cfg_defaults(&d);
    assert_memory_equal(&c, &d, sizeof(c));
    assert_int_equal(c.nvms, 0);
    assert_string_equal(c.machine.policy, "credit");
    assert_int_equal(c.machine.timeslice_us, 30000);
    assert_int_equal(c.machine.balance_us, 10000);
    assert_int_equal(c.machine.pcpus, 0);
}

static void test_full_example(void **state)
{
    (void)state;
    const char *text = "# the machine\n"
                       "[machine]\n"
                       "pcpus = 4              # how many physical CPUs\n"
                       "policy = pshare\n"
                       "run_ms = 2000\n"
                       "seed = 18446744073709551615\n"
                       "\n"
                       "[vm web]\n"
                       "vcpus = 2\r\n"
                       "memory_mb = 16\n"
                       "weight = 512 ; semicolon comment\n"
                       "cap = 150\n"
                       "gang = relaxed\n"
                       "affinity = 0-1,3\n"
                       "image = hog.elf\n"
                       "args = spin=5 say=a#b\n"
                       "expect = stopped\n"
                       "request_us = 500\n"
                       "rt_budget_us = 300\n"
                       "rt_period_us = 1000\n"
                       "rt_extratime = 0\n"
                       "selftest = bad_entry\n"
                       "[vm db]\n"
                       "workload = periodic period_us=1000 run_us=200\n";
    struct cfg c;
    struct cfg_error e;
    assert_int_equal(parse(text, &c, &e), 0);
    assert_int_equal(c.machine.pcpus, 4);
    assert_string_equal(c.machine.policy, "pshare");
    assert_int_equal(c.machine.run_ms, 2000);
    assert_true(c.machine.seed == UINT64_MAX);
    assert_int_equal(c.nvms, 2);
    assert_string_equal(c.vms[0].name, "web");
    assert_int_equal(c.vms[0].line, 8);
    assert_int_equal(c.vms[0].vcpus, 2);
    assert_int_equal(c.vms[0].weight, 512);
    assert_int_equal(c.vms[0].cap, 150);
    assert_int_equal(c.vms[0].gang, CFG_GANG_RELAXED);
    sched_cpumask_t want = cpumask_of(0);
    cpumask_set(&want, 1);
    cpumask_set(&want, 3);
    assert_true(cpumask_equal(&c.vms[0].affinity, &want));
    assert_string_equal(c.vms[0].image, "hog.elf");
    assert_string_equal(c.vms[0].args, "spin=5 say=a#b");
    assert_int_equal(c.vms[0].expect, CFG_EXPECT_STOPPED);
    assert_int_equal(c.vms[0].request_us, 500);
    assert_int_equal(c.vms[0].rt_budget_us, 300);
    assert_int_equal(c.vms[0].rt_period_us, 1000);
    assert_int_equal(c.vms[0].rt_extratime, 0);
    assert_int_equal(c.vms[1].rt_budget_us, 0);
    assert_int_equal(c.vms[1].rt_extratime, 1); /* the default */
    assert_int_equal(c.vms[1].meta_weight, 0); /* not given: 1 in the VMM */
    assert_string_equal(c.vms[1].meta_policy, "");
    assert_int_equal(c.vms[0].selftest, CFG_SELFTEST_BAD_ENTRY);
    assert_int_equal(c.vms[1].selftest, CFG_SELFTEST_NONE);
    /* defaults for the second VM */
    assert_string_equal(c.vms[1].name, "db");
    assert_int_equal(c.vms[1].vcpus, 1);
    assert_int_equal(c.vms[1].memory_mb, 16);
    assert_int_equal(c.vms[1].weight, 256);
    assert_int_equal(c.vms[1].cap, 0);
    sched_cpumask_t all = cpumask_below(CFG_MAX_PCPUS);
    assert_true(cpumask_equal(&c.vms[1].affinity, &all));
    assert_string_equal(c.vms[1].workload, "periodic period_us=1000 run_us=200");
    assert_string_equal(c.vms[1].image, "");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_error("pcpus = 4\n", 1, "before any [section]");
    expect_error("[machine\n", 1, "without ']'");
    expect_error("[machine]\n[machine]\n", 2, "second [machine]");
    expect_error("[bogus]\n", 1, "unknown section [bogus]");
    expect_error("[vm]\n", 1, "unknown section");
    expect_error("[machine]\npcpus 4\n", 2, "key = value");
    expect_error("[machine]\n\n\nfrobs = 1\n", 4, "unknown key 'frobs' in [machine]");
    expect_error("[vm a]\npolicy = credit\n", 2, "unknown key 'policy' in [vm]");
    expect_error("[machine]\npcpus = 2\npcpus = 3\n", 3, "set twice");
    expect_error("[machine]\npcpus =\n", 2, "has no value");
    expect_error("[vm a]\n[vm a]\n", 2, "duplicate VM name 'a'");
    expect_error("[vm a/b]\n", 1, "bad VM name");
    expect_error("[vm abcdefghijklmnopqrstuvwxyz]\n", 1, "1 to 23");
}

/* [pool NAME]: named pools after the default one, VMs by name, the default pool's pCPUs are
 * the rest; every error names its line. */
static void test_pools(void **state)
{
    (void)state;
    struct cfg c;
    struct cfg_error e;
    const char *text = "[machine]\npcpus = 4\ntimeslice_us = 20000\n"
                       "[pool rt]\npcpus = 2-3\npolicy = rr\nratelimit_us = 0\n"
                       "[vm a]\n[vm b]\npool = rt\naffinity = 3\n[vm c]\npool = default\n";
    assert_int_equal(parse(text, &c, &e), 0);
    assert_int_equal(c.npools, 2);
    assert_string_equal(c.pools[0].name, "default");
    assert_string_equal(c.pools[1].name, "rt");
    assert_string_equal(c.pools[1].policy, "rr");
    assert_int_equal(c.vms[0].pool, 0);
    assert_int_equal(c.vms[1].pool, 1);
    assert_int_equal(c.vms[2].pool, 0);
    sched_cpumask_t d = cfg_pool_cpus(&c, 0, 4), r = cfg_pool_cpus(&c, 1, 4);
    assert_true(cpumask_test(&d, 0) && cpumask_test(&d, 1) && cpumask_count(&d) == 2);
    assert_true(cpumask_test(&r, 2) && cpumask_test(&r, 3) && cpumask_count(&r) == 2);
    uint32_t ts, rl, skew, bal;
    cfg_pool_params(&c, 1, &ts, &rl, &skew, &bal);
    assert_int_equal(ts, 20000); /* inherited */
    assert_int_equal(rl, 0);     /* its own, 0 */
    assert_int_equal(bal, 10000);
    assert_int_equal(cfg_pool_find(&c, "rt", 2), 1);
    assert_int_equal(cfg_pool_find(&c, "r", 1), -1);
    /* No pools: one, default, with everything. */
    assert_int_equal(parse("[vm a]\n", &c, &e), 0);
    assert_int_equal(c.npools, 1);
    sched_cpumask_t all = cfg_pool_cpus(&c, 0, 8);
    assert_int_equal(cpumask_count(&all), 8);

    expect_error("[pool rt]\n", 1, "[pool rt]: pcpus is required");
    expect_error("[pool rt]\npcpus = 1\n[pool rt]\n", 3, "duplicate pool 'rt'");
    expect_error("[pool default]\npcpus = 1\n", 1, "is the default pool's");
    expect_error("[pool a/b]\n", 1, "bad pool name");
    expect_error("[pool rt]\nweight = 3\n", 2, "unknown key 'weight' in [pool]");
    expect_error("[pool rt]\npcpus = 1\npolicy = nosuch\n", 3, "unknown policy 'nosuch'");
    expect_error("[pool a]\npcpus = 0-1\n[pool b]\npcpus = 1-2\n", 3,
                 "[pool b]: pcpus overlaps an earlier pool's");
    expect_error("[machine]\npcpus = 2\n[pool a]\npcpus = 2\n", 3,
                 "[pool a]: pcpus names a CPU not below pcpus");
    expect_error("[pool a]\npcpus = 1\ntimeslice_us = 1000\nratelimit_us = 2000\n", 1,
                 "[pool a]: ratelimit_us is larger than timeslice_us");
    expect_error("[pool a]\npcpus = 1\nbalance_us = 50\n", 1, "balance_us must be 0");
    expect_error("[vm x]\npool = nosuch\n", 1, "unknown pool 'nosuch'");
    expect_error("[pool a]\npcpus = 1\n[vm x]\npool = a\naffinity = 0\n", 3,
                 "[vm x]: affinity names no CPU of its pool");
}

static void test_nul_byte_rejected(void **state)
{
    (void)state;
    static const char t[] = "[machine]\npcpus = 4\0x\n";
    struct cfg c;
    struct cfg_error e;
    assert_int_equal(cfg_parse(t, sizeof(t) - 1, known_policy, &c, &e), -1);
    assert_int_equal(e.line, 2);
    assert_non_null(strstr(e.msg, "NUL"));
}

static void test_value_errors(void **state)
{
    (void)state;
    expect_error("[machine]\npcpus = 257\n", 2, "'pcpus' is out of range");
    expect_error("[machine]\npcpus = 4x\n", 2, "'pcpus' is not a decimal");
    expect_error("[machine]\npcpus = -1\n", 2, "not a decimal");
    expect_error("[machine]\nseed = 18446744073709551616\n", 2, "not a decimal");
    expect_error("[machine]\npolicy = lottery9\n", 2, "unknown policy 'lottery9'");
    expect_error("[machine]\ntimeslice_us = 99\n", 2, "out of range");
    expect_error("[vm a]\nweight = 0\n", 2, "'weight' is out of range");
    expect_error("[vm a]\nweight = 65536\n", 2, "out of range");
    expect_error("[vm a]\nvcpus = 0\n", 2, "out of range");
    expect_error("[vm a]\ngang = loose\n", 2, "bad value 'loose'");
    expect_error("[vm a]\nexpect = maybe\n", 2, "bad value");
    expect_error("[vm a]\naffinity = 3-1\n", 2, "bad CPU list");
    expect_error("[vm a]\naffinity = 256\n", 2, "bad CPU list");
    expect_error("[vm a]\naffinity = 1,\n", 2, "bad CPU list");
    expect_error("[vm a]\naffinity = ,1\n", 2, "bad CPU list");
    expect_error("[vm a]\nimage = ../x.elf\n", 2, "bad file name");
    expect_error("[vm a]\nimage = a b\n", 2, "bad file name");
    expect_error("[machine]\ninject_fault = gp\n", 2, "bad value");
    expect_error("[vm a]\nselftest = crash\n", 2, "bad value 'crash'");
}

static void test_cross_checks(void **state)
{
    (void)state;
    expect_error("[vm a]\nvcpus = 1\ncap = 101\n", 1, "cap is above 100 * vcpus");
    expect_error("[machine]\npcpus = 2\n[vm a]\naffinity = 2-3\n", 3, "affinity names no CPU");
    expect_error("[machine]\npcpus = 4\n[vm g]\nvcpus = 3\ngang = strict\naffinity = 0-1\n", 3,
                 "strict gang");
    expect_error("[machine]\ntimeslice_us = 1000\nratelimit_us = 2000\n", 0, "ratelimit_us");
    expect_error("[machine]\nbalance_us = 50\n", 0, "balance_us must be 0");
    expect_error("[vm a]\nrequest_us = 99\n", 1, "request_us must be 0");
    expect_error("[vm a]\nrt_budget_us = 500\nrt_period_us = 400\n", 1, "rt_budget_us needs");
    expect_error("[vm a]\nrt_budget_us = 50\nrt_period_us = 99\n", 1, "rt_budget_us needs");
    expect_error("[vm a]\nrt_budget_us = 50\n", 1, "rt_budget_us needs");
    expect_error("[vm a]\nrt_period_us = 1000\n", 1, "rt_period_us without rt_budget_us");
    expect_error("[vm a]\nrt_extratime = 2\n", 2, "rt_extratime");
    expect_error("[machine]\nmeta_tb_us = 1000\n[vm a]\n", 0, "meta_tb_us needs a [vm]");
    expect_error("[vm a]\nmeta_policy = rr\n", 1, "meta_policy needs [machine] meta_tb_us");
    expect_error("[machine]\nmeta_tb_us = 1000\n[vm a]\nmeta_policy = rr\nmeta_weight = 0\n", 5,
                 "meta_weight");
    expect_error("[machine]\npcpus = 2\ninject_fault = ud\ninject_fault_cpu = 2\n", 0,
                 "inject_fault_cpu");
    expect_error("[machine]\nmeta_profile = m.prof\n", 0,
                 "meta_profile, meta_general and meta_pool need meta_tb_us");
    expect_error("[machine]\nmeta_tb_us = 1000\nmeta_rule = best\n", 3, "bad value 'best'");
    expect_error("[machine]\nmeta_tb_us = 1000\nmeta_profile = m.prof\n[vm a]\n"
                 "meta_policy = rr\nmeta_weight = 3\n", 4,
                 "[vm a]: meta_weight comes from [machine] meta_profile");
    {
        struct cfg m;
        struct cfg_error me;
        const char *text = "[machine]\nmeta_tb_us = 1000\nmeta_profile = m.prof\n"
                           "meta_rule = delta-benefit\nmeta_general = pshare\n[vm a]\nmeta_policy = rr\n";
        assert_int_equal(parse(text, &m, &me), 0);
        assert_string_equal(m.machine.meta_profile, "m.prof");
        assert_int_equal(m.machine.meta_rule, 3);
        assert_string_equal(m.machine.meta_general, "pshare");
        assert_int_equal(m.machine.meta_pool, 0);
        const char *pooled = "[machine]\nmeta_tb_us = 1000\nmeta_pool = p\n[pool p]\npcpus = 1\n"
                             "[vm a]\npool = p\nmeta_policy = rr\n";
        assert_int_equal(parse(pooled, &m, &me), 0);
        assert_int_equal(m.machine.meta_pool, 1);
    }
    expect_error("[machine]\nmeta_tb_us = 1000\nmeta_pool = q\n[vm a]\nmeta_policy = rr\n", 0,
                 "meta_pool: unknown pool 'q'");
    expect_error("[machine]\nmeta_tb_us = 1000\nmeta_pool = p\n[pool p]\npcpus = 1\n[vm a]\n"
                 "meta_policy = rr\n", 6, "[vm a]: meta_policy needs the VM in [machine] meta_pool's pool");

    struct cfg c;
    struct cfg_error e;
    assert_int_equal(parse("[vm a]\nvcpus = 2\ncap = 200\n", &c, &e), 0);
    assert_int_equal(parse("[machine]\nbalance_us = 0\n[vm a]\nrequest_us = 0\n", &c, &e), 0);
    assert_int_equal(parse("[machine]\npcpus = 64\n[vm a]\naffinity = 63\n", &c, &e), 0);
    sched_cpumask_t only = cpumask_of(63);
    assert_true(cpumask_equal(&c.vms[0].affinity, &only));
    /* The whole width of a pCPU set, across its word boundaries. */
    assert_int_equal(parse("[machine]\npcpus = 256\n[vm a]\nvcpus = 3\naffinity = 63-64,255\n"
                           "start_pcpu = 255\n", &c, &e), 0);
    assert_int_equal(cpumask_count(&c.vms[0].affinity), 3);
    assert_true(cpumask_test(&c.vms[0].affinity, 64) && cpumask_test(&c.vms[0].affinity, 255));
    assert_int_equal(c.vms[0].start_pcpu[0], 255);
}

/* A Linux VM: kernel, initrd, cmdline (docs/config.md, docs/linux.md). */
static void test_linux_keys(void **state)
{
    (void)state;
    struct cfg c;
    struct cfg_error e;
    assert_int_equal(parse("[vm lx]\nvcpus = 2\nmemory_mb = 256\nkernel = vmlinux\n"
                           "initrd = initramfs.cpio.gz\n"
                           "cmdline = vsched.run=cpus,cyclictest vsched.cyclictest=\"-l 200\"\n",
                           &c, &e), 0);
    assert_string_equal(c.vms[0].kernel, "vmlinux");
    assert_string_equal(c.vms[0].initrd, "initramfs.cpio.gz");
    assert_string_equal(c.vms[0].cmdline,
                        "vsched.run=cpus,cyclictest vsched.cyclictest=\"-l 200\"");
    assert_string_equal(c.vms[0].image, "");
    /* Only the kernel is required. */
    assert_int_equal(parse("[vm lx]\nkernel = bzImage\n", &c, &e), 0);
    assert_string_equal(c.vms[0].initrd, "");
    assert_string_equal(c.vms[0].cmdline, "");
    /* A test guest's VM has none of them. */
    assert_int_equal(parse("[vm t]\nimage = hello.elf\n", &c, &e), 0);
    assert_string_equal(c.vms[0].kernel, "");

    expect_error("[vm lx]\nimage = hello.elf\nkernel = vmlinux\n", 1,
                 "[vm lx]: image and kernel are exclusive");
    expect_error("[vm lx]\ninitrd = initramfs.cpio.gz\n", 1, "[vm lx]: initrd needs kernel");
    expect_error("[vm lx]\ncmdline = quiet\n", 1, "[vm lx]: cmdline needs kernel");
    expect_error("[vm lx]\nkernel = vmlinux\nargs = a=1\n", 1, "Linux takes cmdline");
    expect_error("[vm lx]\nkernel = ../vmlinux\n", 2, "bad file name");
    expect_error("[vm lx]\nkernel =\n", 2, "has no value");
    expect_error("[vm lx]\nkernel = vmlinux\nkernel = bzImage\n", 3, "set twice");
    expect_error("[vm lx]\nkernel = vmlinux\ninitrd = a b\n", 3, "bad file name");

    /* cmdline: up to CFG_CMDLINE_MAX - 1 characters. */
    char text[CFG_CMDLINE_MAX + 64], value[CFG_CMDLINE_MAX + 1];
    memset(value, 'c', CFG_CMDLINE_MAX - 1);
    value[CFG_CMDLINE_MAX - 1] = 0;
    snprintf(text, sizeof(text), "[vm lx]\nkernel = k\ncmdline = %s\n", value);
    assert_int_equal(parse(text, &c, &e), 0);
    assert_int_equal(strlen(c.vms[0].cmdline), CFG_CMDLINE_MAX - 1);
    value[CFG_CMDLINE_MAX - 1] = 'c';
    value[CFG_CMDLINE_MAX] = 0;
    snprintf(text, sizeof(text), "[vm lx]\nkernel = k\ncmdline = %s\n", value);
    expect_error(text, 3, "'cmdline' is too long");
}

/* weight_per and start_pcpu (docs/config.md): names from sched/limits.h, one start pCPU for
 * all vCPUs or one per vCPU, inside the affinity, not for strict gangs. */
static void test_weight_per_and_start_pcpu(void **state)
{
    (void)state;
    struct cfg c;
    struct cfg_error e;
    assert_int_equal(parse("", &c, &e), 0);
    assert_int_equal(c.machine.weight_per, CFG_WEIGHT_PER_VCPU);
    assert_int_equal(parse("[machine]\nweight_per = vm\n", &c, &e), 0);
    assert_int_equal(c.machine.weight_per, CFG_WEIGHT_PER_VM);
    assert_int_equal(parse("[machine]\nweight_per = vcpu\n", &c, &e), 0);
    assert_int_equal(c.machine.weight_per, CFG_WEIGHT_PER_VCPU);
    expect_error("[machine]\nweight_per = domain\n", 2, "bad value 'domain'");

    assert_int_equal(parse("[vm a]\nvcpus = 3\nstart_pcpu = 2\n", &c, &e), 0);
    assert_int_equal(c.vms[0].start_pcpus, 1);
    assert_int_equal(c.vms[0].start_pcpu[0], 2);
    assert_int_equal(parse("[vm a]\nvcpus = 3\nstart_pcpu = 0, 5,63\n", &c, &e), 0);
    assert_int_equal(c.vms[0].start_pcpus, 3);
    assert_int_equal(c.vms[0].start_pcpu[1], 5);
    assert_int_equal(c.vms[0].start_pcpu[2], 63);
    assert_int_equal(parse("[vm a]\n", &c, &e), 0);
    assert_int_equal(c.vms[0].start_pcpus, 0); /* spread by load */
    expect_error("[vm a]\nstart_pcpu = 256\n", 2, "bad pCPU list '256'");
    expect_error("[vm a]\nstart_pcpu = 1,\n", 2, "bad pCPU list");
    expect_error("[vm a]\nstart_pcpu = 0-3\n", 2, "bad pCPU list");
    expect_error("[vm a]\nvcpus = 3\nstart_pcpu = 0,1\n", 1, "one pCPU for all vCPUs or one per");
    expect_error("[machine]\npcpus = 2\n[vm a]\nstart_pcpu = 2\n", 3, "outside affinity");
    expect_error("[vm a]\naffinity = 1-2\nstart_pcpu = 0\n", 1, "outside affinity");
    expect_error("[vm g]\nvcpus = 2\ngang = strict\nstart_pcpu = 0,1\n", 1, "gang = strict");
}

static void test_too_many_vms(void **state)
{
    (void)state;
    char text[1024] = "";
    for (int i = 0; i < CFG_MAX_VMS + 1; i++) {
        char line[32];
        snprintf(line, sizeof(line), "[vm v%d]\n", i);
        strcat(text, line);
    }
    expect_error(text, CFG_MAX_VMS + 1, "too many VMs");
}

static void test_text_limits(void **state)
{
    (void)state;
    char text[512];
    char args[CFG_TEXT_MAX + 1];
    memset(args, 'x', sizeof(args) - 1);
    args[CFG_TEXT_MAX] = '\0';
    snprintf(text, sizeof(text), "[vm a]\nargs = %s\n", args);
    expect_error(text, 2, "too long");
    args[CFG_TEXT_MAX - 1] = '\0'; /* exactly fits with its NUL */
    snprintf(text, sizeof(text), "[vm a]\nargs = %s\n", args);
    struct cfg c;
    struct cfg_error e;
    assert_int_equal(parse(text, &c, &e), 0);
    assert_int_equal(strlen(c.vms[0].args), CFG_TEXT_MAX - 1);
    /* An empty text value is allowed and means "none". */
    assert_int_equal(parse("[vm a]\nargs =\n", &c, &e), 0);
    assert_string_equal(c.vms[0].args, "");
}

static void test_null_policy_callback_accepts_any(void **state)
{
    (void)state;
    struct cfg c;
    struct cfg_error e;
    const char *t = "[machine]\npolicy = anything\n";
    assert_int_equal(cfg_parse(t, strlen(t), NULL, &c, &e), 0);
    assert_string_equal(c.machine.policy, "anything");
}

static void test_no_trailing_newline(void **state)
{
    (void)state;
    struct cfg c;
    struct cfg_error e;
    const char *t = "[vm a]\nvcpus = 3";
    assert_int_equal(parse(t, &c, &e), 0);
    assert_int_equal(c.vms[0].vcpus, 3);
    /* Length is honoured: bytes past LEN are not read. */
    assert_int_equal(cfg_parse(t, strlen(t) - 1, known_policy, &c, &e), -1);
    assert_int_equal(e.line, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_file_gives_defaults),
        cmocka_unit_test(test_full_example),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_nul_byte_rejected),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_cross_checks),
        cmocka_unit_test(test_linux_keys),
        cmocka_unit_test(test_weight_per_and_start_pcpu),
        cmocka_unit_test(test_too_many_vms),
        cmocka_unit_test(test_text_limits),
        cmocka_unit_test(test_null_policy_callback_accepts_any),
        cmocka_unit_test(test_no_trailing_newline),
        cmocka_unit_test(test_pools),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
