/* Unit tests for the MSR write rules (vmm/msr_rules.c) both backends apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>

#include "vmm/msr_rules.h"

static void test_canonical(void **state)
{
    (void)state;
    assert_true(msr_canonical(0));
    assert_true(msr_canonical(0x00007fffffffffffull));
    assert_true(msr_canonical(0xffff800000000000ull));
    assert_false(msr_canonical(0x0000800000000000ull));
    assert_false(msr_canonical(0xfff0000000000000ull));
}

static void test_values(void **state)
{
    (void)state;
    assert_true(msr_write_valid(MSR_STAR, ~0ull));
    assert_true(msr_write_valid(MSR_LSTAR, 0xffffffff81000000ull));
    assert_false(msr_write_valid(MSR_LSTAR, 0x0000800000000000ull));
    assert_false(msr_write_valid(MSR_CSTAR, 0x8000000000000000ull));
    assert_false(msr_write_valid(MSR_KERNEL_GS_BASE, 0x0001000000000000ull));
    assert_false(msr_write_valid(MSR_SYSENTER_EIP, 0x0001000000000000ull));
    assert_true(msr_write_valid(MSR_SFMASK, 0x47700));
    assert_false(msr_write_valid(MSR_SFMASK, 1ull << 32));
    assert_false(msr_write_valid(MSR_TSC_AUX, 1ull << 32));
    assert_true(msr_write_valid(MSR_TSC_AUX, 0xffffffffull));
    assert_true(msr_write_valid(MSR_PAT, PAT_RESET));
    assert_false(msr_write_valid(MSR_PAT, 0x0007040600070402ull)); /* type 2 */
    assert_false(msr_write_valid(MSR_PAT, 0x0807040600070406ull)); /* type 8 */
    assert_false(msr_write_valid(0x10, 0)); /* not one of these: refused */
}

static void test_efer(void **state)
{
    (void)state;
    uint64_t lm = EFER_LME | EFER_LMA | EFER_NX, out = 0;
    assert_true(msr_efer_write(lm, lm | EFER_SCE, true, &out));
    assert_int_equal(out, lm | EFER_SCE);
    /* LMA is read-only: a written value is ignored. */
    assert_true(msr_efer_write(lm, (lm | EFER_SCE) & ~EFER_LMA, true, &out));
    assert_int_equal(out, lm | EFER_SCE);
    assert_false(msr_efer_write(lm, lm & ~EFER_LME, true, &out));   /* LME with paging on */
    assert_true(msr_efer_write(EFER_NX, EFER_NX | EFER_LME, false, &out));
    assert_int_equal(out, EFER_NX | EFER_LME);
    assert_false(msr_efer_write(lm, lm | EFER_SVME_BIT, true, &out)); /* SVME: not offered */
    assert_false(msr_efer_write(lm, lm | (1ull << 14), true, &out));  /* FFXSR */
    assert_false(msr_efer_write(lm, lm | (1ull << 63), true, &out));
    /* An AP's trampoline: EFER 0 after INIT, LME set with paging off; LMA stays 0 (the CPU
     * sets it when paging goes on). */
    assert_true(msr_efer_write(0, EFER_LME | EFER_NX | EFER_SCE, false, &out));
    assert_int_equal(out, EFER_LME | EFER_NX | EFER_SCE);
}

/* The platform MSRs Linux reads at boot: fixed values, BSP bit on vCPU 0 only. */
static void test_platform_read(void **state)
{
    (void)state;
    uint64_t v = 1234;
    assert_true(msr_platform_read(0x1b, 0, &v));
    assert_int_equal(v, 0xfee00000u | (1u << 11) | (1u << 10) | (1u << 8));
    assert_true(msr_platform_read(0x1b, 3, &v));
    assert_int_equal(v, 0xfee00000u | (1u << 11) | (1u << 10));
    assert_true(msr_platform_read(0x3a, 1, &v));
    assert_int_equal(v, 1); /* locked, VMX off */
    assert_true(msr_platform_read(0x1a0, 1, &v));
    assert_int_equal(v, 1);
    static const uint32_t zero[] = { 0x8b, 0xfe, 0x33, 0xce, 0x140, 0x179, 0x17a, 0x19b, 0x1b2,
                                     0x492, 0xc0010055 };
    for (unsigned i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
        v = 99;
        assert_true(msr_platform_read(zero[i], 0, &v));
        assert_int_equal(v, 0);
    }
    /* Unknown MSRs stay #GP: the machine-check banks, the MTRRs, speculation control. */
    assert_false(msr_platform_read(0x400, 0, &v));
    assert_false(msr_platform_read(0x2ff, 0, &v));
    assert_false(msr_platform_read(0x48, 0, &v));
    assert_false(msr_platform_read(0x10, 0, &v)); /* the TSC is the VMM's, not the table's */
}

static void test_platform_write(void **state)
{
    (void)state;
    assert_true(msr_platform_write(0x8b, 0, 0));          /* Linux clears it before CPUID */
    assert_true(msr_platform_write(0x8b, 0, ~0ull));
    assert_true(msr_platform_write(0x17a, 0, 0));
    assert_false(msr_platform_write(0x17a, 0, 1));        /* MCG_STATUS: only clearing */
    assert_true(msr_platform_write(0x1a0, 0, 1));         /* the value it reads */
    assert_false(msr_platform_write(0x1a0, 0, 1 | (1ull << 22))); /* limit CPUID: refused */
    assert_true(msr_platform_write(0x140, 0, 0));
    assert_false(msr_platform_write(0x140, 0, 1));        /* CPUID faulting: not offered */
    assert_false(msr_platform_write(0x33, 0, 1ull << 29)); /* split-lock detection */
    assert_false(msr_platform_write(0x1b, 0, 0xfee00d00)); /* APIC base: fixed */
    assert_false(msr_platform_write(0x3a, 0, 5));          /* FEATURE_CONTROL: locked */
    assert_false(msr_platform_write(0x179, 0, 0));         /* MCG_CAP: read-only */
    assert_false(msr_platform_write(0x400, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical), cmocka_unit_test(test_values),
        cmocka_unit_test(test_efer), cmocka_unit_test(test_platform_read),
        cmocka_unit_test(test_platform_write),
    };
    return cmocka_run_group_tests_name("msr_rules", tests, NULL, NULL);
}
