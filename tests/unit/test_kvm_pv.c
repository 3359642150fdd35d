/* Unit tests for the KVM paravirtual data (vmm/kvm_pv.c): layouts and numbers against the
 * kernel's UAPI header <asm/kvm_para.h> (linux-libc-dev) and the pvclock ABI's facts, the
 * kvmclock scale (the guest's ns per tick and the TSC rate Linux derives from it), the version
 * protocol under a concurrent reader, steal time, the MSR rules and the CPUID leaves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <asm/kvm_para.h>
#include <pthread.h>
#include <time.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "vmm/kvm_pv.h"

static void test_layouts_match_linux(void **state)
{
    (void)state;
    /* kvm_steal_time: the UAPI struct itself. */
    assert_int_equal(sizeof(struct kvm_steal), sizeof(struct kvm_steal_time));
    assert_int_equal(offsetof(struct kvm_steal, steal), offsetof(struct kvm_steal_time, steal));
    assert_int_equal(offsetof(struct kvm_steal, version), offsetof(struct kvm_steal_time, version));
    assert_int_equal(offsetof(struct kvm_steal, flags), offsetof(struct kvm_steal_time, flags));
    assert_int_equal(offsetof(struct kvm_steal, preempted),
                     offsetof(struct kvm_steal_time, preempted));
    assert_int_equal(KVM_PV_PREEMPTED, KVM_VCPU_PREEMPTED);
    /* pvclock_vcpu_time_info and pvclock_wall_clock (arch/x86/include/asm/pvclock-abi.h, not
     * exported to user space: its documented offsets). */
    assert_int_equal(offsetof(struct kvm_pvclock, version), 0);
    assert_int_equal(offsetof(struct kvm_pvclock, tsc_timestamp), 8);
    assert_int_equal(offsetof(struct kvm_pvclock, system_time), 16);
    assert_int_equal(offsetof(struct kvm_pvclock, tsc_to_system_mul), 24);
    assert_int_equal(offsetof(struct kvm_pvclock, tsc_shift), 28);
    assert_int_equal(offsetof(struct kvm_pvclock, flags), 29);
    assert_int_equal(offsetof(struct kvm_wall_clock, sec), 4);
    assert_int_equal(offsetof(struct kvm_wall_clock, nsec), 8);
    /* Numbers. */
    assert_int_equal(KVM_PV_MSR_WALL_CLOCK, MSR_KVM_WALL_CLOCK_NEW);
    assert_int_equal(KVM_PV_MSR_SYSTEM_TIME, MSR_KVM_SYSTEM_TIME_NEW);
    assert_int_equal(KVM_PV_MSR_STEAL_TIME, MSR_KVM_STEAL_TIME);
    assert_int_equal(KVM_PV_F_NOP_IO_DELAY, KVM_FEATURE_NOP_IO_DELAY);
    assert_int_equal(KVM_PV_F_CLOCKSOURCE2, KVM_FEATURE_CLOCKSOURCE2);
    assert_int_equal(KVM_PV_F_STEAL_TIME, KVM_FEATURE_STEAL_TIME);
    assert_int_equal(KVM_PV_F_CLOCKSOURCE_STABLE, KVM_FEATURE_CLOCKSOURCE_STABLE_BIT);
    assert_int_equal(KVM_PV_FEATURES,
                     (1u << KVM_FEATURE_NOP_IO_DELAY) | (1u << KVM_FEATURE_CLOCKSOURCE2) |
                         (1u << KVM_FEATURE_STEAL_TIME) |
                         (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT));
    assert_int_equal(KVM_CPUID_FEATURES, 0x40000001);
}

static void test_cpuid(void **state)
{
    (void)state;
    struct cpuid_leaf r;
    assert_true(kvm_cpuid(0x40000100, 0x40000100, &r));
    assert_int_equal(r.eax, 0x40000101);
    char sig[13];
    memcpy(sig, &r.ebx, 4);
    memcpy(sig + 4, &r.ecx, 4);
    memcpy(sig + 8, &r.edx, 4);
    sig[12] = 0;
    assert_memory_equal(sig, "KVMKVMKVM\0\0\0", 12);   /* what Linux's kvm_cpuid_base() looks for */
    assert_true(kvm_cpuid(0x40000100, 0x40000101, &r));
    assert_int_equal(r.eax, (1u << 1) | (1u << 3) | (1u << 5) | (1u << 24));
    assert_int_equal(r.edx, 0);                          /* no KVM_HINTS_REALTIME */
    assert_false(kvm_cpuid(0x40000100, 0x40000102, &r));
    assert_false(kvm_cpuid(0x40000100, 0x40000000, &r));
}

/* Linux's pvclock_tsc_khz(): (1e6 << 32) / mul, then shifted back by tsc_shift. */
static uint64_t linux_tsc_khz(uint32_t mul, int8_t shift)
{
    uint64_t khz = (1000000ull << 32) / mul;
    return shift < 0 ? khz << -shift : khz >> shift;
}

static void test_scale(void **state)
{
    (void)state;
    const uint64_t rates[] = { 1000, 1000000, 99999999, 1000000000, 1000000001, 2300000000ull,
                               2465256000ull, 3000000000ull, 4294967296ull, 9999999999ull,
                               (1ull << 32) * 1000 };
    for (unsigned i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        uint64_t hz = rates[i];
        uint32_t mul;
        int8_t shift;
        assert_int_equal(kvm_pvclock_scale(hz, &mul, &shift), 0);
        assert_true(mul >= (1u << 31));
        /* One second of ticks reads as one second, within the scale's 2^-31 precision. */
        struct kvm_pvclock c = { .tsc_timestamp = 1000, .system_time = 5,
                                 .tsc_to_system_mul = mul, .tsc_shift = shift };
        uint64_t ns = kvm_pvclock_read(&c, 1000 + hz) - 5;
        uint64_t err = ns > 1000000000 ? ns - 1000000000 : 1000000000 - ns;
        if (err > 1 + 1000000000 / (1u << 30))
            fail_msg("%lu Hz: 1 s reads %lu ns (mul %u shift %d)", (unsigned long)hz,
                     (unsigned long)ns, mul, shift);
        /* The TSC rate Linux takes from kvmclock (it calibrates nothing else then): its own
         * formula truncates before shifting, so it is exact to 2^-shift kHz. */
        uint64_t khz = linux_tsc_khz(mul, shift), want = hz / 1000;
        uint64_t slack = shift < 0 ? 1ull << -shift : 1;
        if (khz + slack < want || khz > want + 1)
            fail_msg("%lu Hz: Linux would read %lu kHz", (unsigned long)hz, (unsigned long)khz);
    }
    uint32_t mul;
    int8_t shift;
    assert_int_equal(kvm_pvclock_scale(999, &mul, &shift), -1);
    assert_int_equal(kvm_pvclock_scale((1ull << 32) * 1000 + 1, &mul, &shift), -1);
    /* Known value: 1 GHz is 1 ns per tick: mul = 2^31, shift = 1. */
    assert_int_equal(kvm_pvclock_scale(1000000000, &mul, &shift), 0);
    assert_int_equal(mul, 1u << 31);
    assert_int_equal(shift, 1);
}

static void test_pvclock_write(void **state)
{
    (void)state;
    struct kvm_pvclock c;
    memset(&c, 0xff, sizeof(c));
    c.version = 0;
    kvm_pvclock_write(&c, 123456, 789, 0x80000000u, 1, KVM_PV_TSC_STABLE);
    assert_int_equal(c.version, 2);
    assert_int_equal(c.tsc_timestamp, 123456);
    assert_int_equal(c.system_time, 789);
    assert_int_equal(c.tsc_to_system_mul, 0x80000000u);
    assert_int_equal(c.tsc_shift, 1);
    assert_int_equal(c.flags, KVM_PV_TSC_STABLE);
    assert_int_equal(kvm_pvclock_read(&c, 123456 + 1000), 789 + 1000);
    kvm_pvclock_write(&c, 1, 2, 0x80000000u, 1, 0);
    assert_int_equal(c.version, 4);
    c.version = 5; /* a guest-visible odd value left by someone: still ends even and newer */
    kvm_pvclock_write(&c, 1, 2, 0x80000000u, 1, 0);
    assert_int_equal(c.version % 2, 0);
    assert_true(c.version > 5);
    /* The protocol's steps: odd while being written, then the next even value. */
    uint32_t ver = 6;
    kvm_pv_version_begin(&ver);
    assert_int_equal(ver, 7);
    kvm_pv_version_end(&ver);
    assert_int_equal(ver, 8);
    ver = 9;
    kvm_pv_version_begin(&ver);
    assert_int_equal(ver, 11);
    kvm_pv_version_end(&ver);
    assert_int_equal(ver, 12);
    struct kvm_wall_clock w = { 0 };
    kvm_wall_clock_write(&w, 946684800, 5);
    assert_int_equal(w.version, 2);
    assert_int_equal(w.sec, 946684800);
    assert_int_equal(w.nsec, 5);
}

/* A reader following the guest's protocol (version even and unchanged around the read) never
 * sees fields from two different writes; every write has system_time == 3 * tsc_timestamp. */
static struct kvm_pvclock shared_clock;
static atomic_bool stop;

static void *writer(void *arg)
{
    (void)arg;
    for (uint64_t i = 1; !atomic_load(&stop); i++) {
        kvm_pvclock_write(&shared_clock, i, 3 * i, (uint32_t)(0x80000000u + i), 1, 1);
        for (volatile int k = 0; k < 50; k++) /* leave the reader complete records too */
            ;
    }
    return NULL;
}

static void test_version_protocol_threads(void **state)
{
    (void)state;
    pthread_t t;
    atomic_store(&stop, false);
    pthread_create(&t, NULL, writer, NULL);
    /* Bounded by wall time, not by iterations: on a loaded or one-core machine the writer may
     * not run at all during a fixed number of reads (CI saw 0 consistent reads in 2 M). */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned consistent = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (consistent >= 20000 || now.tv_sec - t0.tv_sec > 20)
            break;
        volatile struct kvm_pvclock *c = &shared_clock;
        uint32_t v1 = c->version;
        atomic_thread_fence(memory_order_acquire);
        uint64_t ts = c->tsc_timestamp, sys = c->system_time;
        uint32_t mul = c->tsc_to_system_mul;
        atomic_thread_fence(memory_order_acquire);
        uint32_t v2 = c->version;
        if (v1 != v2 || (v1 & 1))
            continue;
        if (!ts)
            continue; /* before the first write */
        assert_int_equal(sys, 3 * ts);
        assert_int_equal(mul, (uint32_t)(0x80000000u + ts));
        consistent++;
    }
    atomic_store(&stop, true);
    pthread_join(t, NULL);
    assert_true(consistent >= 20000);
}

static void test_steal(void **state)
{
    (void)state;
    struct kvm_steal s;
    memset(&s, 0, sizeof(s));
    kvm_steal_preempted(&s);
    assert_int_equal(s.preempted, 1);
    kvm_steal_update(&s, 5000000);
    assert_int_equal(s.steal, 5000000);
    assert_int_equal(s.preempted, 0);
    assert_int_equal(s.version, 2);
    kvm_steal_update(&s, 7000000);
    assert_int_equal(s.version, 4);
    assert_int_equal(s.steal, 7000000);
    assert_int_equal(s.flags, 0);
}

static void test_msr_rules(void **state)
{
    (void)state;
    const uint64_t mem = 256ull << 20;
    bool en;
    uint64_t gpa;
    assert_true(kvm_msr_handles(MSR_KVM_STEAL_TIME));
    assert_true(kvm_msr_handles(MSR_KVM_SYSTEM_TIME_NEW));
    assert_true(kvm_msr_handles(MSR_KVM_WALL_CLOCK_NEW));
    assert_false(kvm_msr_handles(MSR_KVM_ASYNC_PF_EN)); /* not offered */
    assert_false(kvm_msr_handles(MSR_KVM_SYSTEM_TIME)); /* the old 0x12: not offered either */
    /* steal time: 64-byte aligned address | enable; bits 5:1 reserved (KVM_STEAL_RESERVED_MASK). */
    assert_true(kvm_msr_check(MSR_KVM_STEAL_TIME, 0x1000 | 1, mem, &en, &gpa));
    assert_true(en);
    assert_int_equal(gpa, 0x1000);
    assert_false(kvm_msr_check(MSR_KVM_STEAL_TIME, 0x1000 | 2 | 1, mem, &en, &gpa));
    assert_false(kvm_msr_check(MSR_KVM_STEAL_TIME, 0x1000 | KVM_STEAL_RESERVED_MASK, mem, &en,
                               &gpa));
    assert_true(kvm_msr_check(MSR_KVM_STEAL_TIME, 0x1040 | 1, mem, &en, &gpa));
    assert_int_equal(gpa, 0x1040);
    assert_true(kvm_msr_check(MSR_KVM_STEAL_TIME, (mem - 64) | 1, mem, &en, &gpa));
    assert_false(kvm_msr_check(MSR_KVM_STEAL_TIME, mem | 1, mem, &en, &gpa));
    assert_true(kvm_msr_check(MSR_KVM_STEAL_TIME, 0, mem, &en, &gpa));
    assert_false(en);
    assert_true(kvm_msr_check(MSR_KVM_STEAL_TIME, mem, mem, &en, &gpa)); /* disabled: any address */
    /* system time: enable bit 0, record at value & ~1, 4-byte aligned, inside memory. */
    assert_true(kvm_msr_check(MSR_KVM_SYSTEM_TIME_NEW, 0x2040 | 1, mem, &en, &gpa));
    assert_true(en);
    assert_int_equal(gpa, 0x2040);
    assert_false(kvm_msr_check(MSR_KVM_SYSTEM_TIME_NEW, 0x2042 | 1, mem, &en, &gpa));
    assert_false(kvm_msr_check(MSR_KVM_SYSTEM_TIME_NEW, (mem - 16) | 1, mem, &en, &gpa));
    assert_true(kvm_msr_check(MSR_KVM_SYSTEM_TIME_NEW, (mem - 32) | 1, mem, &en, &gpa));
    assert_true(kvm_msr_check(MSR_KVM_SYSTEM_TIME_NEW, 0, mem, &en, &gpa));
    assert_false(en);
    /* wall clock: the address itself. */
    assert_true(kvm_msr_check(MSR_KVM_WALL_CLOCK_NEW, 0x3000, mem, &en, &gpa));
    assert_int_equal(gpa, 0x3000);
    assert_false(kvm_msr_check(MSR_KVM_WALL_CLOCK_NEW, 0x3001, mem, &en, &gpa));
    assert_false(kvm_msr_check(MSR_KVM_WALL_CLOCK_NEW, mem - 8, mem, &en, &gpa));
    assert_false(kvm_msr_check(0x10, 0, mem, &en, &gpa));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts_match_linux),
        cmocka_unit_test(test_cpuid),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_pvclock_write),
        cmocka_unit_test(test_version_protocol_threads),
        cmocka_unit_test(test_steal),
        cmocka_unit_test(test_msr_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
