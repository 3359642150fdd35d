/* VT-x backend. */
#include <string.h>

#include "vmm/arch.h"
#include "vmm/fmt.h"
#include "vmm/vmx/vmx_caps.h"
#include "vmm/x86.h"

#define MSR_VMX_PINBASED       0x481
#define MSR_VMX_PROCBASED      0x482
#define MSR_VMX_EXIT           0x483
#define MSR_VMX_ENTRY          0x484
#define MSR_VMX_MISC           0x485
#define MSR_VMX_PROCBASED2     0x48b
#define MSR_VMX_EPT_VPID       0x48c
#define MSR_VMX_TRUE_PINBASED  0x48d

static struct vmx_caps caps;

static uint64_t msr_or_zero(uint32_t msr)
{
    uint64_t v;
    return rdmsr_safe(msr, &v) == 0 ? v : 0;
}

static const char *vmx_probe(char *line, size_t size)
{
    struct vmx_msrs m;
    memset(&m, 0, sizeof(m));
    m.cpuid1_ecx = cpuid(1, 0).ecx;
    if (!vmx_cpuid_present(m.cpuid1_ecx)) {
        fmt_snprintf(line, size, "vmx: absent (CPUID.1:ECX.VMX=0)");
        return "no VMX";
    }
    m.basic = msr_or_zero(MSR_IA32_VMX_BASIC);
    /* The TRUE_* MSRs (when BASIC[55]) report the real default-1 controls; allowed-1 bits
     * are the same in both (SDM Vol. 3D A.2). */
    uint32_t first = (m.basic >> 55) & 1 ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED;
    m.pinbased = msr_or_zero(first);
    m.procbased = msr_or_zero(first + 1);
    m.exit = msr_or_zero(first + 2);
    m.entry = msr_or_zero(first + 3);
    m.misc = msr_or_zero(MSR_VMX_MISC);
    if ((m.procbased >> 63) & 1) {
        m.procbased2 = msr_or_zero(MSR_VMX_PROCBASED2);
        m.ept_vpid = msr_or_zero(MSR_VMX_EPT_VPID);
    }
    m.feature_control = msr_or_zero(MSR_IA32_FEATURE_CONTROL);
    vmx_caps_decode(&m, &caps);
    vmx_caps_format(&caps, line, size);
    return vmx_caps_unusable(&caps);
}

const struct arch_ops vmx_arch_ops = {
    .name = "vmx",
    .probe = vmx_probe,
};
