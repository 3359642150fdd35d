/* Unit tests for exit decoding (vmm/vmx/vmx_exit.c, vmm/svm/svm_exit.c): raw exit information
 * as the CPUs report it, and the arch-neutral exit the VMM acts on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "vmm/svm/svm_exit.h"
#include "vmm/vmx/vmcs.h"
#include "vmm/vmx/vmx_exit.h"

static struct vexit vmx(uint32_t reason, uint64_t qual, uint32_t intr, uint32_t len,
                        uint64_t gpa)
{
    struct vmx_exit_raw raw = { reason, qual, intr, len, 0x100123, gpa };
    struct vexit e;
    memset(&e, 0xa5, sizeof(e));
    vmx_exit_decode(&raw, &e);
    return e;
}

static void test_vmx_simple_reasons(void **state)
{
    (void)state;
    struct vexit e = vmx(EXIT_REASON_CPUID, 0, 0, 2, 0);
    assert_int_equal(e.reason, VEXIT_CPUID);
    assert_int_equal(e.insn_len, 2);
    assert_int_equal(e.rip, 0x100123);
    assert_int_equal(vmx(EXIT_REASON_HLT, 0, 0, 1, 0).reason, VEXIT_HLT);
    assert_int_equal(vmx(EXIT_REASON_VMCALL, 0, 0, 3, 0).reason, VEXIT_HYPERCALL);
    assert_int_equal(vmx(EXIT_REASON_RDMSR, 0, 0, 2, 0).reason, VEXIT_RDMSR);
    assert_int_equal(vmx(EXIT_REASON_WRMSR, 0, 0, 2, 0).reason, VEXIT_WRMSR);
    assert_int_equal(vmx(EXIT_REASON_TRIPLE_FAULT, 0, 0, 0, 0).reason, VEXIT_TRIPLE_FAULT);
    assert_int_equal(vmx(EXIT_REASON_PREEMPTION_TIMER, 0, 0, 0, 0).reason, VEXIT_TIMER);
    assert_int_equal(vmx(EXIT_REASON_EXTERNAL_INTR, 0, 0x800000ef, 0, 0).reason, VEXIT_EXTINT);
    assert_int_equal(vmx(EXIT_REASON_INTR_WINDOW, 0, 0, 0, 0).reason, VEXIT_IRQ_WINDOW);
    /* Exception-or-NMI exit: type 2 in the interruption info is an NMI. */
    assert_int_equal(vmx(EXIT_REASON_EXCEPTION_NMI, 0, 0x80000202, 0, 0).reason, VEXIT_NMI);
    assert_int_equal(vmx(EXIT_REASON_EXCEPTION_NMI, 0, 0x80000306, 0, 0).reason,
                     VEXIT_UNHANDLED);
    assert_int_equal(vmx(EXIT_REASON_CR_ACCESS, 0, 0, 3, 0).reason, VEXIT_UNHANDLED);
    /* Entry failure: bit 31 set, basic reason 33 (invalid guest state). */
    e = vmx(EXIT_REASON_ENTRY_FAILED_BIT | EXIT_REASON_INVALID_GUEST, 0, 0, 0, 0);
    assert_int_equal(e.reason, VEXIT_ENTRY_FAILED);
    assert_int_equal(e.raw_reason, 0x80000021u);
}

static void test_vmx_io_and_ept(void **state)
{
    (void)state;
    /* OUT DX, AL to 0x3f8: size-1 = 0, direction out, port in bits 31:16 (Table 28-5). */
    struct vexit e = vmx(EXIT_REASON_IO, 0x03f80000, 0, 1, 0);
    assert_int_equal(e.reason, VEXIT_IO);
    assert_int_equal(e.io.port, 0x3f8);
    assert_int_equal(e.io.size, 1);
    assert_false(e.io.in || e.io.string || e.io.rep);
    /* REP INSD from 0x1f0: size 4, in, string, rep. */
    e = vmx(EXIT_REASON_IO, 0x01f00000 | 3 | 8 | 16 | 32, 0, 2, 0);
    assert_int_equal(e.io.size, 4);
    assert_true(e.io.in && e.io.string && e.io.rep);
    assert_int_equal(e.io.port, 0x1f0);
    /* EPT violation: a write (bit 1) at GPA 0x1000000 (Table 28-7). */
    e = vmx(EXIT_REASON_EPT_VIOLATION, 0x2 | 0x80, 0, 0, 0x1000000);
    assert_int_equal(e.reason, VEXIT_NPF);
    assert_int_equal(e.npf.gpa, 0x1000000);
    assert_true(e.npf.write);
    assert_false(e.npf.read || e.npf.fetch);
    e = vmx(EXIT_REASON_EPT_VIOLATION, 0x4, 0, 0, 0x200000000ull);
    assert_true(e.npf.fetch);
}

static struct vexit svm(uint64_t code, uint64_t info1, uint64_t info2, uint64_t nrip, bool has)
{
    struct svm_exit_raw raw = { code, info1, info2, 0x100200, nrip, has };
    struct vexit e;
    memset(&e, 0xa5, sizeof(e));
    svm_exit_decode(&raw, &e);
    return e;
}

static void test_svm_without_nrip(void **state)
{
    (void)state;
    /* QEMU TCG: no next-RIP save; lengths come from the intercepted instruction. */
    struct vexit e = svm(SVM_EXIT_CPUID, 0, 0, 0, false);
    assert_int_equal(e.reason, VEXIT_CPUID);
    assert_int_equal(e.insn_len, 2);
    assert_int_equal(svm(SVM_EXIT_HLT, 0, 0, 0, false).insn_len, 1);
    assert_int_equal(svm(SVM_EXIT_VMMCALL, 0, 0, 0, false).insn_len, 3);
    assert_int_equal(svm(SVM_EXIT_VMMCALL, 0, 0, 0, false).reason, VEXIT_HYPERCALL);
    e = svm(SVM_EXIT_MSR, 1, 0, 0, false);
    assert_int_equal(e.reason, VEXIT_WRMSR);
    assert_int_equal(e.insn_len, 2);
    assert_int_equal(svm(SVM_EXIT_MSR, 0, 0, 0, false).reason, VEXIT_RDMSR);
    assert_int_equal(svm(SVM_EXIT_SHUTDOWN, 0, 0, 0, false).reason, VEXIT_TRIPLE_FAULT);
    assert_int_equal(svm(SVM_EXIT_INTR, 0, 0, 0, false).reason, VEXIT_EXTINT);
    assert_int_equal(svm(SVM_EXIT_VINTR, 0, 0, 0, false).reason, VEXIT_IRQ_WINDOW);
    assert_int_equal(svm(SVM_EXIT_INVALID, 0, 0, 0, false).reason, VEXIT_ENTRY_FAILED);
    assert_int_equal(svm(0x40 + 6, 0, 0, 0, false).reason, VEXIT_UNHANDLED); /* #UD intercept */
}

/* The lost wake-up of qemu_sched's pshare latency run: QEMU 7.2 exits at `hlt` after `sti`
 * with INT_SHADOW clear; the backend must see that the shadow still holds. */
static void test_svm_shadow_dropped(void **state)
{
    (void)state;
    const uint64_t hlt = 0x100529;
    struct svm_shadow_run r = { .entered_in_shadow = true, .entry_rip = hlt,
                                .exit_code = SVM_EXIT_VINTR, .exit_rip = hlt };
    assert_true(svm_shadow_dropped(&r));
    r.exit_code = SVM_EXIT_INTR;
    assert_true(svm_shadow_dropped(&r));
    r.exit_code = SVM_EXIT_NMI;
    assert_true(svm_shadow_dropped(&r));
    /* The CPU kept it: nothing to do. */
    r.exit_in_shadow = true;
    assert_false(svm_shadow_dropped(&r));
    r.exit_in_shadow = false;
    /* An instruction retired (the RIP moved), or the exit is the instruction itself (HLT,
     * MSR, I/O intercepts end the shadow when the VMM steps over it). */
    r.exit_rip = hlt + 1;
    assert_false(svm_shadow_dropped(&r));
    r.exit_rip = hlt;
    r.exit_code = SVM_EXIT_HLT;
    assert_false(svm_shadow_dropped(&r));
    r.exit_code = SVM_EXIT_MSR;
    assert_false(svm_shadow_dropped(&r));
    r.exit_code = SVM_EXIT_INTR;
    /* Not entered in a shadow; or an event was being delivered (EXITINTINFO). */
    r.entered_in_shadow = false;
    assert_false(svm_shadow_dropped(&r));
    r.entered_in_shadow = true;
    r.exit_int_info = true;
    assert_false(svm_shadow_dropped(&r));
}

static void test_svm_io_npf_and_nrip(void **state)
{
    (void)state;
    /* OUT to 0x3f8, 8-bit (SZ8 = bit 4), next RIP in EXITINFO2 (Figure 15-2). */
    struct vexit e = svm(SVM_EXIT_IOIO, 0x03f80000 | 0x10, 0x100201, 0, false);
    assert_int_equal(e.reason, VEXIT_IO);
    assert_int_equal(e.io.port, 0x3f8);
    assert_int_equal(e.io.size, 1);
    assert_false(e.io.in);
    assert_int_equal(e.insn_len, 1);
    /* IN EAX from 0xcfc: SZ32 (bit 6), type in (bit 0), 1-byte instruction. */
    e = svm(SVM_EXIT_IOIO, 0x0cfc0000 | 0x40 | 1, 0x100201, 0, false);
    assert_int_equal(e.io.size, 4);
    assert_true(e.io.in);
    /* Nested page fault: a write (error code bit 1) to GPA 4 GiB. */
    e = svm(SVM_EXIT_NPF, 0x2 | 0x1, 0x100000000ull, 0, false);
    assert_int_equal(e.reason, VEXIT_NPF);
    assert_int_equal(e.npf.gpa, 0x100000000ull);
    assert_true(e.npf.write);
    e = svm(SVM_EXIT_NPF, 0x10, 0x2000000, 0, false); /* instruction fetch */
    assert_true(e.npf.fetch);
    assert_false(e.npf.read);
    e = svm(SVM_EXIT_NPF, 0x0, 0x2000000, 0, false);
    assert_true(e.npf.read);
    /* With next-RIP save the length comes from it, whatever the instruction. */
    assert_int_equal(svm(SVM_EXIT_CPUID, 0, 0, 0x100205, true).insn_len, 5);
}

/* Instructions the VMM emulates as nothing, refuses with a fault, or validates (XSETBV): the
 * same outcome on both backends. */
static void test_emulated_and_refused_instructions(void **state)
{
    (void)state;
    static const struct {
        uint32_t vmx_reason;
        uint64_t svm_code;
        enum vexit_reason want;
        uint8_t vector;   /* VEXIT_FAULT */
        uint32_t svm_len; /* without next-RIP save */
    } cases[] = {
        { EXIT_REASON_XSETBV, SVM_EXIT_XSETBV, VEXIT_XSETBV, 0, 3 },
        { EXIT_REASON_INVD, SVM_EXIT_INVD, VEXIT_SKIP, 0, 2 },
        { EXIT_REASON_WBINVD, SVM_EXIT_WBINVD, VEXIT_SKIP, 0, 2 },
        { EXIT_REASON_MONITOR, SVM_EXIT_MONITOR, VEXIT_SKIP, 0, 3 },
        { EXIT_REASON_MWAIT, SVM_EXIT_MWAIT, VEXIT_SKIP, 0, 3 },
        { EXIT_REASON_RDPMC, SVM_EXIT_RDPMC, VEXIT_FAULT, 13, 0 },
        { EXIT_REASON_VMXON, SVM_EXIT_VMRUN, VEXIT_FAULT, 6, 0 },
        { EXIT_REASON_VMCLEAR, SVM_EXIT_VMLOAD, VEXIT_FAULT, 6, 0 },
        { EXIT_REASON_INVEPT, SVM_EXIT_STGI, VEXIT_FAULT, 6, 0 },
        { EXIT_REASON_GETSEC, SVM_EXIT_SKINIT, VEXIT_FAULT, 6, 0 },
        { EXIT_REASON_VMFUNC, SVM_EXIT_INVLPGA, VEXIT_FAULT, 6, 0 },
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vexit a = vmx(cases[i].vmx_reason, 0, 0, 3, 0);
        struct vexit b = svm(cases[i].svm_code, 0, 0, 0, false);
        assert_int_equal(a.reason, cases[i].want);
        assert_int_equal(b.reason, cases[i].want);
        assert_int_equal(a.insn_len, 3);
        assert_int_equal(b.insn_len, cases[i].svm_len);
        if (cases[i].want == VEXIT_FAULT) {
            assert_int_equal(a.fault.vector, cases[i].vector);
            assert_int_equal(b.fault.vector, cases[i].vector);
            assert_non_null(a.fault.insn);
        } else if (cases[i].want == VEXIT_SKIP) {
            assert_string_equal(a.skipped, b.skipped);
        }
    }
    /* A guest that lowered its TPR below a held-back interrupt. */
    assert_int_equal(vmx(EXIT_REASON_TPR_BELOW, 0, 0, 0, 0).reason, VEXIT_IRQ_WINDOW);
    /* With next-RIP save the length comes from it, for every intercept. */
    struct svm_exit_raw raw = { SVM_EXIT_WBINVD, 0, 0, 0x100200, 0x100203, true };
    struct vexit e;
    svm_exit_decode(&raw, &e);
    assert_int_equal(e.insn_len, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emulated_and_refused_instructions),
        cmocka_unit_test(test_vmx_simple_reasons),
        cmocka_unit_test(test_vmx_io_and_ept),
        cmocka_unit_test(test_svm_without_nrip),
        cmocka_unit_test(test_svm_io_npf_and_nrip),
        cmocka_unit_test(test_svm_shadow_dropped),
    };
    return cmocka_run_group_tests_name("exit_decode", tests, NULL, NULL);
}
