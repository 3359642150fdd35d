#include "vmm/msr_rules.h"

bool msr_canonical(uint64_t va)
{
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

/* Each PAT entry is a memory type: UC 0, WC 1, WT 4, WP 5, WB 6, UC- 7; 2 and 3 are
 * reserved (SDM Vol. 3A 13.12.2). */
static bool pat_valid(uint64_t pat)
{
    for (unsigned i = 0; i < 8; i++) {
        uint8_t t = (uint8_t)(pat >> (8 * i));
        if (t > 7 || t == 2 || t == 3)
            return false;
    }
    return true;
}

bool msr_write_valid(uint32_t msr, uint64_t value)
{
    switch (msr) {
    case MSR_STAR: return true;
    case MSR_LSTAR:
    case MSR_CSTAR:
    case MSR_KERNEL_GS_BASE:
    case MSR_FS_BASE:
    case MSR_FS_BASE + 1: /* GS_BASE */
    case MSR_SYSENTER_ESP:
    case MSR_SYSENTER_EIP: return msr_canonical(value);
    case MSR_SFMASK:
    case MSR_TSC_AUX:
    case MSR_SYSENTER_CS: return (value >> 32) == 0;
    case MSR_PAT: return pat_valid(value);
    default: return false;
    }
}

bool msr_efer_write(uint64_t old, uint64_t value, bool cr0_pg, uint64_t *out)
{
    if (value & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX))
        return false;
    if (cr0_pg && ((old ^ value) & EFER_LME))
        return false;
    *out = (value & ~EFER_LMA) | (old & EFER_LMA);
    return true;
}

bool msr_platform_read(uint32_t msr, uint32_t vcpu_id, uint64_t *value)
{
    switch (msr) {
    case 0x1b: /* APIC_BASE: base, enable (bit 11), x2APIC (bit 10), BSP (bit 8) */
        *value = 0xfee00000u | (1u << 11) | (1u << 10) | (vcpu_id ? 0 : 1u << 8);
        return true;
    case 0x3a: *value = 1; return true;     /* FEATURE_CONTROL: lock, nothing enabled */
    case 0x1a0: *value = 1; return true;    /* MISC_ENABLE: fast strings */
    case 0x8b:                              /* microcode revision */
    case 0xfe:                              /* MTRRcap */
    case 0x33:                              /* TEST_CTRL: no split-lock detection */
    case 0xce:                              /* PLATFORM_INFO: no CPUID faulting */
    case 0x140:                             /* MISC_FEATURE_ENABLES */
    case 0x179:                             /* MCG_CAP: no banks */
    case 0x17a:                             /* MCG_STATUS */
    case 0x19b:                             /* THERM_INTERRUPT */
    case 0x1b2:                             /* PACKAGE_THERM_INTERRUPT */
    case 0x492:                             /* VMX PROCBASED_CTLS3 (VMX hidden) */
    case 0xc0010055:                        /* AMD INT_PENDING_MSG: no C1E */
        *value = 0;
        return true;
    default:
        return false;
    }
}

bool msr_platform_write(uint32_t msr, uint32_t vcpu_id, uint64_t value)
{
    uint64_t now;
    switch (msr) {
    case 0x8b: return true;          /* BIOS_SIGN_ID: the CPU writes the revision here itself */
    case 0x17a: return value == 0;   /* MCG_STATUS: clearing is allowed */
    case 0x1a0:
    case 0x140:
    case 0x19b:
    case 0x1b2:
        return msr_platform_read(msr, vcpu_id, &now) && value == now;
    default:
        return false;
    }
}
