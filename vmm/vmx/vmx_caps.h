/* VT-x capabilities, decoded from the raw capability MSRs and CPUID bits (SDM Vol. 3D
 * Appendix A).  Pure: the probe reads the values, the decoder is unit-tested with the real
 * MSR values of several CPU models. */
#ifndef VSCHED_VMM_VMX_CAPS_H
#define VSCHED_VMM_VMX_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmx_msrs {
    uint64_t basic;          /* IA32_VMX_BASIC 0x480 */
    uint64_t pinbased;       /* 0x481, or IA32_VMX_TRUE_PINBASED_CTLS 0x48d when BASIC[55] */
    uint64_t procbased;      /* 0x482 / 0x48e */
    uint64_t exit;           /* 0x483 / 0x48f */
    uint64_t entry;          /* 0x484 / 0x490 */
    uint64_t misc;           /* 0x485 */
    uint64_t procbased2;     /* 0x48b, 0 when the secondary controls do not exist */
    uint64_t ept_vpid;       /* 0x48c, 0 when neither EPT nor VPID exists */
    uint64_t feature_control;/* IA32_FEATURE_CONTROL 0x3a */
    uint32_t cpuid1_ecx;     /* CPUID.1:ECX */
};

struct vmx_caps {
    bool true_ctls, secondary, ept, ept_2m, ept_1g, ept_wb, vpid, unrestricted,
        preempt_timer, posted_intr, apicv, vid, tsc_deadline, x2apic, fc_locked,
        fc_vmx_outside_smx;
    uint32_t vmcs_revision;
    uint32_t preempt_timer_shift; /* the timer counts down every 2^shift TSC ticks */
};

/* CPUID.1:ECX.VMX (bit 5): without it the MSRs must not be read. */
static inline bool vmx_cpuid_present(uint32_t cpuid1_ecx)
{
    return (cpuid1_ecx >> 5) & 1;
}

void vmx_caps_decode(const struct vmx_msrs *m, struct vmx_caps *c);
/* One line: "vmx: ept=1 vpid=1 unrestricted=1 preempt_timer=1 posted_intr=0 apicv=1
 * tsc_deadline=1 x2apic=1 ..." (no newline).  Returns the length, as snprintf. */
size_t vmx_caps_format(const struct vmx_caps *c, char *buf, size_t size);
/* Why this CPU cannot run the VT-x backend, or NULL when it can. */
const char *vmx_caps_unusable(const struct vmx_caps *c);

#endif
