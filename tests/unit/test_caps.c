/* Unit tests for the capability decoders (vmm/vmx/vmx_caps.c, vmm/svm/svm_caps.c), fed with
 * the raw values real and emulated CPUs report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "vmm/svm/svm_caps.h"
#include "vmm/vmx/vmx_caps.h"
#include "tests/unit/vmx_fixtures.h"

static void test_vmx_bochs_skylake_x(void **state)
{
    (void)state;
    struct vmx_caps c;
    vmx_caps_decode(&bochs_skylake_x, &c);
    assert_true(c.ept && c.vpid && c.unrestricted && c.preempt_timer && c.apicv && c.vid);
    assert_false(c.posted_intr); /* no Bochs model allows pin-based bit 7 */
    assert_true(c.true_ctls);
    assert_true(c.ept_2m);
    assert_true(c.ept_1g);
    assert_int_equal(c.vmcs_revision, 0x2b);
    assert_int_equal(c.preempt_timer_shift, 0);
    char line[320];
    vmx_caps_format(&c, line, sizeof(line));
    assert_string_equal(line, "vmx: ept=1 vpid=1 unrestricted=1 preempt_timer=1 posted_intr=0 "
                              "apicv=1 tsc_deadline=1 x2apic=1 vid=1 ept_2m=1 ept_1g=1 "
                              "true_ctls=1 vmcs_rev=0x2b feature_control=unlocked");
    assert_null(vmx_caps_unusable(&c));
}

static void test_vmx_posted_and_missing_secondary(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x;
    struct vmx_caps c;
    m.pinbased |= 1ull << (32 + 7);
    vmx_caps_decode(&m, &c);
    assert_true(c.posted_intr);
    /* Without "activate secondary controls" allowed, PROCBASED2 means nothing. */
    m.procbased &= ~(1ull << 63);
    vmx_caps_decode(&m, &c);
    assert_false(c.secondary);
    assert_false(c.ept || c.vpid || c.unrestricted || c.apicv);
    assert_string_equal(vmx_caps_unusable(&c), "no EPT");
}

static void test_vmx_feature_control(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x;
    struct vmx_caps c;
    m.feature_control = 1; /* locked, VMX outside SMX off */
    vmx_caps_decode(&m, &c);
    assert_non_null(strstr(vmx_caps_unusable(&c), "disabled by the firmware"));
    char line[320];
    vmx_caps_format(&c, line, sizeof(line));
    assert_non_null(strstr(line, "feature_control=locked,novmx"));
    m.feature_control = 5; /* locked, VMX allowed */
    vmx_caps_decode(&m, &c);
    assert_null(vmx_caps_unusable(&c));
}

static void test_vmx_cpuid_bit(void **state)
{
    (void)state;
    assert_true(vmx_cpuid_present(1u << 5));
    assert_false(vmx_cpuid_present(~(1u << 5)));
}

/* QEMU 7.2 TCG, -cpu qemu64,+svm,+npt: NP only, 16 ASIDs, revision 1. */
static void test_svm_qemu_tcg(void **state)
{
    (void)state;
    struct svm_cpuid in = { .ext1_ecx = 1u << 2, .a_eax = 1, .a_ebx = 16, .a_edx = 1,
                            .vm_cr_valid = true, .vm_cr = 0, .cpuid1_ecx = 0x80002001u };
    struct svm_caps c;
    svm_caps_decode(&in, &c);
    char line[320];
    svm_caps_format(&c, line, sizeof(line));
    assert_string_equal(line, "svm: npt=1 nrips=0 decode_assists=0 avic=0 asids=16 "
                              "vmcb_clean=0 flush_by_asid=0 pause_filter=0 tsc_deadline=0 "
                              "x2apic=0 rev=1 vm_cr=ok");
    assert_null(svm_caps_unusable(&c));
}

static void test_svm_feature_bits_and_disabled(void **state)
{
    (void)state;
    /* An EPYC-like EDX: NP, LbrVirt, SVML, NRIPS, TscRate, VmcbClean, FlushByAsid,
     * DecodeAssists, PauseFilter, PauseFilterThreshold, AVIC. */
    struct svm_cpuid in = { .ext1_ecx = 1u << 2, .a_eax = 1, .a_ebx = 32768,
                            .a_edx = 0x000034ffu | (1u << 13), .vm_cr_valid = true };
    struct svm_caps c;
    svm_caps_decode(&in, &c);
    assert_true(c.npt && c.nrips && c.vmcb_clean && c.flush_by_asid && c.decode_assists &&
                c.pause_filter && c.avic);
    assert_int_equal(c.asids, 32768);
    in.vm_cr = (1u << 4) | (1u << 3); /* SVMDIS, locked */
    svm_caps_decode(&in, &c);
    assert_non_null(strstr(svm_caps_unusable(&c), "disabled by the firmware"));
    in.vm_cr = 0;
    in.a_edx = 0; /* no nested paging */
    svm_caps_decode(&in, &c);
    assert_string_equal(svm_caps_unusable(&c), "no nested paging");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vmx_bochs_skylake_x),
        cmocka_unit_test(test_vmx_posted_and_missing_secondary),
        cmocka_unit_test(test_vmx_feature_control),
        cmocka_unit_test(test_vmx_cpuid_bit),
        cmocka_unit_test(test_svm_qemu_tcg),
        cmocka_unit_test(test_svm_feature_bits_and_disabled),
    };
    return cmocka_run_group_tests_name("caps", tests, NULL, NULL);
}
