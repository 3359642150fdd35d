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
