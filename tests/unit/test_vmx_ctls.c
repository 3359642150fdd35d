/* Unit tests for VMX control computation (vmm/vmx/vmx_ctls.c) from capability MSR values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "vmm/vmx/vmcs.h"
#include "vmm/vmx/vmx_ctls.h"
#include "tests/unit/vmx_fixtures.h"

/* Other Bochs 2.7 models, from the VMM's `vmx: msrs` line. */
static const struct vmx_msrs sandy_bridge = {
    .basic = 0x00d810000000002bull, .pinbased = 0x0000007f00000016ull,
    .procbased = 0xf7f9fffe04006172ull, .procbased2 = 0x000000ff00000000ull,
    .exit = 0x007fffff00036dfbull, .entry = 0x0000ffff000011fbull, .misc = 0x401e0ull,
    .ept_vpid = 0x00000f0106114141ull,
};
static const struct vmx_msrs lynnfield = { /* Nehalem: no unrestricted guest */
    .basic = 0x00d810000000002bull, .pinbased = 0x0000007f00000016ull,
    .procbased = 0xf7f9fffe04006172ull, .procbased2 = 0x0000007f00000000ull,
    .exit = 0x007fffff00036dfbull, .entry = 0x0000ffff000011fbull, .misc = 0x401e0ull,
    .ept_vpid = 0x00000f0106114141ull,
};
static const struct vmx_msrs icelake_u = {
    .basic = 0x00d8100000000004ull, .pinbased = 0x0000007f00000016ull,
    .procbased = 0xfff9fffe04006172ull, .procbased2 = 0x02977fff00000000ull,
    .exit = 0x007fffff00036dfbull, .entry = 0x0000ffff000011fbull, .misc = 0x600401e0ull,
    .ept_vpid = 0x00000f0106334141ull,
};

static void test_other_models(void **state)
{
    (void)state;
    struct vmx_controls c;
    const char *which;
    uint32_t missing;
    assert_int_equal(vmx_controls_compute(&sandy_bridge, &c, &which, &missing), 0);
    assert_int_equal(c.proc2, 0xea); /* EPT, RDTSCP, VPID, WBINVD exiting, unrestricted */
    assert_int_equal(vmx_controls_compute(&lynnfield, &c, &which, &missing), 0);
    assert_int_equal(c.proc2, 0x6a); /* no unrestricted guest: still usable */
    assert_int_equal(vmx_controls_compute(&icelake_u, &c, &which, &missing), 0);
    assert_int_equal(c.proc2, 0x10ea);
    assert_int_equal(c.pin, 0x7f);
    struct vmx_caps caps;
    vmx_caps_decode(&lynnfield, &caps);
    assert_false(caps.unrestricted);
    assert_null(vmx_caps_unusable(&caps));
}

static void test_ctl_value_rules(void **state)
{
    (void)state;
    uint32_t missing;
    /* must-be-1 bits are kept, may-be-1 limits, wanted-but-not-allowed bits are dropped. */
    assert_int_equal(vmx_ctl_value(0x000000f000000030ull, 0x40, 0x100, &missing), 0x70);
    assert_int_equal(missing, 0);
    /* a needed bit that may not be 1 is reported */
    vmx_ctl_value(0x000000f000000030ull, 0x101, 0, &missing);
    assert_int_equal(missing, 0x101 & ~0xf0u);
}

static void test_bochs_skylake_x_controls(void **state)
{
    (void)state;
    struct vmx_controls c;
    const char *which = NULL;
    uint32_t missing = 0;
    assert_int_equal(vmx_controls_compute(&bochs_skylake_x, &c, &which, &missing), 0);
    /* Values worked out by hand from the MSRs above. */
    assert_int_equal(c.pin, 0x7f);        /* ext-int, NMI, virtual NMIs, preemption timer */
    /* + HLT, RDPMC, MWAIT, MONITOR exiting, TPR shadow, I/O and MSR bitmaps, secondary */
    assert_int_equal(c.proc, 0xb6206df2);
    /* EPT, RDTSCP, VPID, WBINVD exiting, unrestricted, INVPCID; never XSAVES */
    assert_int_equal(c.proc2, 0x10ea);
    assert_int_equal(c.exit, 0x3fefff);   /* 64-bit host, ack intr, PAT, EFER, debug save/load */
    assert_int_equal(c.entry, 0xd3ff);    /* IA-32e guest, load PAT, EFER and debug controls */
    assert_false(c.proc & (PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING));
    assert_false(c.pin & PIN_POSTED_INTERRUPTS);
}

/* Bochs 3.0's corei7_skylake_x, as the VMM read it: the hardware path with all four controls
 * on top of the usual ones, and the capability line says so. */
static void test_bochs3_posted(void **state)
{
    (void)state;
    struct vmx_controls c;
    struct vmx_caps caps;
    const char *which;
    uint32_t missing;
    char line[256];
    vmx_caps_decode(&bochs3_skylake_x, &caps);
    assert_true(caps.posted_intr);
    assert_true(caps.vid);
    vmx_caps_format(&caps, line, sizeof(line));
    assert_non_null(strstr(line, " posted_intr=1 "));
    assert_int_equal(vmx_controls_compute(&bochs3_skylake_x, &c, &which, &missing), 0);
    assert_true(vmx_posted_controls(&bochs3_skylake_x, &c));
    assert_int_equal(c.pin, 0xff);
    assert_true(c.proc & PROC_TPR_SHADOW);
    assert_int_equal(c.proc2 & (PROC2_X2APIC_MODE | PROC2_VID | PROC2_EPT),
                     PROC2_X2APIC_MODE | PROC2_VID | PROC2_EPT);
    assert_true(c.exit & EXIT_ACK_INTR);
}

/* Hardware posted interrupts: all four controls or none (SDM Vol. 3C 26.2.1.1). */
static void test_posted_controls(void **state)
{
    (void)state;
    struct vmx_controls c, before;
    const char *which;
    uint32_t missing;
    /* Bochs: virtual-interrupt delivery but no posted-interrupt processing -> software. */
    assert_int_equal(vmx_controls_compute(&bochs_skylake_x, &c, &which, &missing), 0);
    before = c;
    assert_false(vmx_posted_controls(&bochs_skylake_x, &c));
    assert_memory_equal(&c, &before, sizeof(c));
    /* The same CPU with pin-based bit 7 allowed (as real Skylake-X has it) -> hardware. */
    struct vmx_msrs m = bochs_skylake_x;
    m.pinbased |= (uint64_t)PIN_POSTED_INTERRUPTS << 32;
    assert_int_equal(vmx_controls_compute(&m, &c, &which, &missing), 0);
    assert_true(vmx_posted_controls(&m, &c));
    assert_int_equal(c.pin, 0xff);
    assert_true(c.proc & PROC_TPR_SHADOW);
    assert_int_equal(c.proc2 & (PROC2_X2APIC_MODE | PROC2_VID), PROC2_X2APIC_MODE | PROC2_VID);
    /* Any one missing -> none of them. */
    m.procbased2 &= ~((uint64_t)PROC2_VID << 32);
    assert_int_equal(vmx_controls_compute(&m, &c, &which, &missing), 0);
    before = c;
    assert_false(vmx_posted_controls(&m, &c));
    assert_memory_equal(&c, &before, sizeof(c));
    m = bochs_skylake_x;
    m.pinbased |= (uint64_t)PIN_POSTED_INTERRUPTS << 32;
    m.procbased &= ~((uint64_t)PROC_TPR_SHADOW << 32);
    assert_int_equal(vmx_controls_compute(&m, &c, &which, &missing), 0);
    assert_false(vmx_posted_controls(&m, &c));
}

static void test_missing_required_control(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x;
    struct vmx_controls c;
    const char *which = NULL;
    uint32_t missing = 0;
    m.procbased2 &= ~((uint64_t)PROC2_EPT << 32); /* a CPU without EPT */
    assert_int_equal(vmx_controls_compute(&m, &c, &which, &missing), -1);
    assert_string_equal(which, "secondary processor-based");
    assert_int_equal(missing, PROC2_EPT);
    m = bochs_skylake_x;
    m.exit &= ~((uint64_t)EXIT_ACK_INTR << 32);
    assert_int_equal(vmx_controls_compute(&m, &c, &which, &missing), -1);
    assert_string_equal(which, "VM-exit");
    assert_int_equal(missing, EXIT_ACK_INTR);
}

/* Guest CR8 never reaches the physical TPR: the TPR shadow, or else CR8 exits (required). */
static void test_cr8_without_tpr_shadow(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x;
    struct vmx_controls c;
    const char *which = NULL;
    uint32_t missing = 0;
    m.procbased &= ~((uint64_t)PROC_TPR_SHADOW << 32);
    assert_int_equal(vmx_controls_compute(&m, &c, &which, &missing), 0);
    assert_false(c.proc & PROC_TPR_SHADOW);
    assert_int_equal(c.proc & (PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING),
                     PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING);
    m.procbased &= ~((uint64_t)PROC_CR8_LOAD_EXITING << 32);
    assert_int_equal(vmx_controls_compute(&m, &c, &which, &missing), -1);
    assert_string_equal(which, "processor-based");
    assert_int_equal(missing, PROC_CR8_LOAD_EXITING);
}

static void test_optional_controls_dropped(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x;
    struct vmx_controls c;
    const char *which;
    uint32_t missing;
    /* No preemption timer, no VPID, no PAT loading: still usable, those bits stay clear. */
    m.pinbased &= ~((uint64_t)PIN_PREEMPTION_TIMER << 32);
    m.procbased2 &= ~((uint64_t)PROC2_UNRESTRICTED << 32);
    m.procbased2 &= ~((uint64_t)PROC2_VPID << 32);
    m.exit &= ~((uint64_t)(EXIT_SAVE_PAT | EXIT_LOAD_PAT) << 32);
    m.entry &= ~((uint64_t)ENTRY_LOAD_PAT << 32);
    assert_int_equal(vmx_controls_compute(&m, &c, &which, &missing), 0);
    assert_false(c.pin & PIN_PREEMPTION_TIMER);
    assert_false(c.proc2 & PROC2_VPID);
    assert_false(c.proc2 & PROC2_UNRESTRICTED);
    assert_false(c.exit & (EXIT_SAVE_PAT | EXIT_LOAD_PAT));
    assert_false(c.entry & ENTRY_LOAD_PAT);
    assert_true(c.proc2 & PROC2_EPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctl_value_rules),
        cmocka_unit_test(test_other_models),
        cmocka_unit_test(test_bochs_skylake_x_controls),
        cmocka_unit_test(test_posted_controls),
        cmocka_unit_test(test_bochs3_posted),
        cmocka_unit_test(test_missing_required_control),
        cmocka_unit_test(test_cr8_without_tpr_shadow),
        cmocka_unit_test(test_optional_controls_dropped),
    };
    return cmocka_run_group_tests_name("vmx_ctls", tests, NULL, NULL);
}
