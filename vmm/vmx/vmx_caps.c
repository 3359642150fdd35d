#include "vmm/vmx/vmx_caps.h"

#include "vmm/fmt.h"

/* A control is usable when its allowed-1 bit (high half of the capability MSR) is set. */
static bool allowed1(uint64_t msr, unsigned bit)
{
    return (msr >> (32 + bit)) & 1;
}

void vmx_caps_decode(const struct vmx_msrs *m, struct vmx_caps *c)
{
    *c = (struct vmx_caps){ 0 };
    c->vmcs_revision = (uint32_t)m->basic & 0x7fffffff;
    c->true_ctls = (m->basic >> 55) & 1;
    c->secondary = allowed1(m->procbased, 31);
    uint64_t p2 = c->secondary ? m->procbased2 : 0;
    c->ept = allowed1(p2, 1);
    c->vpid = allowed1(p2, 5);
    c->unrestricted = allowed1(p2, 7);
    c->apicv = allowed1(p2, 8);  /* APIC-register virtualization */
    c->vid = allowed1(p2, 9);    /* virtual-interrupt delivery */
    c->preempt_timer = allowed1(m->pinbased, 6);
    c->posted_intr = allowed1(m->pinbased, 7);
    c->preempt_timer_shift = (uint32_t)(m->misc & 0x1f);
    if (c->ept) {
        c->ept_wb = (m->ept_vpid >> 14) & 1;
        c->ept_2m = (m->ept_vpid >> 16) & 1;
        c->ept_1g = (m->ept_vpid >> 17) & 1;
    }
    c->tsc_deadline = (m->cpuid1_ecx >> 24) & 1;
    c->x2apic = (m->cpuid1_ecx >> 21) & 1;
    c->fc_locked = m->feature_control & 1;
    c->fc_vmx_outside_smx = (m->feature_control >> 2) & 1;
}

size_t vmx_caps_format(const struct vmx_caps *c, char *buf, size_t size)
{
    return fmt_snprintf(buf, size,
                        "vmx: ept=%d vpid=%d unrestricted=%d preempt_timer=%d posted_intr=%d "
                        "apicv=%d tsc_deadline=%d x2apic=%d vid=%d ept_2m=%d ept_1g=%d "
                        "true_ctls=%d vmcs_rev=0x%x feature_control=%s",
                        c->ept, c->vpid, c->unrestricted, c->preempt_timer, c->posted_intr,
                        c->apicv, c->tsc_deadline, c->x2apic, c->vid, c->ept_2m, c->ept_1g,
                        c->true_ctls, c->vmcs_revision,
                        !c->fc_locked            ? "unlocked"
                        : c->fc_vmx_outside_smx  ? "locked,vmx"
                                                 : "locked,novmx");
}

const char *vmx_caps_unusable(const struct vmx_caps *c)
{
    if (c->fc_locked && !c->fc_vmx_outside_smx)
        return "VMX is disabled by the firmware (IA32_FEATURE_CONTROL locked with VMX off)";
    if (!c->ept)
        return "no EPT";
    return NULL;
}
