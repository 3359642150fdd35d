#include "vmm/svm/svm_caps.h"

#include "vmm/fmt.h"

void svm_caps_decode(const struct svm_cpuid *in, struct svm_caps *c)
{
    *c = (struct svm_caps){ 0 };
    c->revision = in->a_eax & 0xff;
    c->asids = in->a_ebx;
    c->npt = in->a_edx & 1;
    c->nrips = (in->a_edx >> 3) & 1;
    c->vmcb_clean = (in->a_edx >> 5) & 1;
    c->flush_by_asid = (in->a_edx >> 6) & 1;
    c->decode_assists = (in->a_edx >> 7) & 1;
    c->pause_filter = (in->a_edx >> 10) & 1;
    c->avic = (in->a_edx >> 13) & 1;
    c->tsc_deadline = (in->cpuid1_ecx >> 24) & 1;
    c->x2apic = (in->cpuid1_ecx >> 21) & 1;
    /* VM_CR.SVMDIS (bit 4): EFER.SVME cannot be set; LOCK (bit 3) means it stays so. */
    c->disabled = in->vm_cr_valid && ((in->vm_cr >> 4) & 1);
    c->disabled_locked = c->disabled && ((in->vm_cr >> 3) & 1);
}

size_t svm_caps_format(const struct svm_caps *c, char *buf, size_t size)
{
    return fmt_snprintf(buf, size,
                        "svm: npt=%d nrips=%d decode_assists=%d avic=%d asids=%u "
                        "vmcb_clean=%d flush_by_asid=%d pause_filter=%d tsc_deadline=%d "
                        "x2apic=%d rev=%u vm_cr=%s",
                        c->npt, c->nrips, c->decode_assists, c->avic, c->asids, c->vmcb_clean,
                        c->flush_by_asid, c->pause_filter, c->tsc_deadline, c->x2apic,
                        c->revision, c->disabled ? "svmdis" : "ok");
}

const char *svm_caps_unusable(const struct svm_caps *c)
{
    if (c->disabled)
        return c->disabled_locked ? "SVM is disabled by the firmware (VM_CR.SVMDIS, locked)"
                                  : "SVM is disabled (VM_CR.SVMDIS)";
    if (!c->npt)
        return "no nested paging";
    if (c->asids < 2)
        return "fewer than 2 ASIDs";
    return NULL;
}
