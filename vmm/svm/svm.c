/* AMD-V (SVM) backend. */
#include "vmm/arch.h"
#include "vmm/fmt.h"
#include "vmm/svm/svm_caps.h"
#include "vmm/x86.h"

static struct svm_caps caps;

static const char *svm_probe(char *line, size_t size)
{
    struct svm_cpuid in = { 0 };
    in.cpuid1_ecx = cpuid(1, 0).ecx;
    if (cpuid(0x80000000u, 0).eax >= 0x80000001u)
        in.ext1_ecx = cpuid(0x80000001u, 0).ecx;
    if (!svm_cpuid_present(in.ext1_ecx)) {
        fmt_snprintf(line, size, "svm: absent (CPUID 0x80000001:ECX.SVM=0)");
        return "no SVM";
    }
    struct cpuid_regs a = cpuid(0x8000000au, 0);
    in.a_eax = a.eax;
    in.a_ebx = a.ebx;
    in.a_edx = a.edx;
    in.vm_cr_valid = rdmsr_safe(MSR_VM_CR, &in.vm_cr) == 0;
    svm_caps_decode(&in, &caps);
    svm_caps_format(&caps, line, size);
    return svm_caps_unusable(&caps);
}

const struct arch_ops svm_arch_ops = {
    .name = "svm",
    .probe = svm_probe,
};
