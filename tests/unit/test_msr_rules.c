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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical), cmocka_unit_test(test_values),
        cmocka_unit_test(test_efer),
    };
    return cmocka_run_group_tests_name("msr_rules", tests, NULL, NULL);
}
