/* AMD-V capabilities, decoded from CPUID 0x80000001 / 0x8000000A and VM_CR (APM Vol. 2 15.4,
 * 15.30.1; CPUID Fn8000_000A).  Pure, like vmx_caps. */
#ifndef VSCHED_VMM_SVM_CAPS_H
#define VSCHED_VMM_SVM_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct svm_cpuid {
    uint32_t ext1_ecx;   /* CPUID 0x80000001 ECX (bit 2: SVM) */
    uint32_t a_eax;      /* CPUID 0x8000000A EAX: SVM revision */
    uint32_t a_ebx;      /* EBX: number of ASIDs */
    uint32_t a_edx;      /* EDX: feature bits */
    bool vm_cr_valid;    /* VM_CR could be read */
    uint64_t vm_cr;      /* MSR 0xC0010114 */
    uint32_t cpuid1_ecx; /* CPUID.1:ECX, for tsc_deadline and x2apic */
};

struct svm_caps {
    bool npt, nrips, decode_assists, avic, vmcb_clean, flush_by_asid, pause_filter,
        tsc_deadline, x2apic, disabled, disabled_locked;
    uint32_t revision, asids;
};

static inline bool svm_cpuid_present(uint32_t ext1_ecx)
{
    return (ext1_ecx >> 2) & 1;
}

void svm_caps_decode(const struct svm_cpuid *in, struct svm_caps *c);
size_t svm_caps_format(const struct svm_caps *c, char *buf, size_t size);
const char *svm_caps_unusable(const struct svm_caps *c);

#endif
