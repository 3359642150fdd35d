#include "vmm/vmx/vmx_ctls.h"

#include "vmm/vmx/vmcs.h"

uint32_t vmx_ctl_value(uint64_t cap, uint32_t need, uint32_t want, uint32_t *missing)
{
    uint32_t must1 = (uint32_t)cap, may1 = (uint32_t)(cap >> 32);
    *missing = need & ~may1;
    return (must1 | need | want) & may1;
}

int vmx_controls_compute(const struct vmx_msrs *m, struct vmx_controls *out, const char **which,
                         uint32_t *missing)
{
    /* Required: exits for what the VMM must see or emulate (HLT, I/O and MSR bitmaps,
     * RDPMC, MONITOR/MWAIT, the debug registers switched by the VMCS), and EPT, which isolates
     * guest memory.  Wanted: what is used when present (guests start in 64-bit paged mode, so
     * unrestricted guest is not needed).  The TPR shadow keeps guest CR8 off the physical
     * TPR (SDM Vol. 3C 29.3); without it CR8 loads and stores must exit instead. */
    struct {
        const char *name;
        uint64_t cap;
        uint32_t need, want;
        uint32_t *out;
    } f[] = {
        { "pin-based", m->pinbased, PIN_EXT_INTR_EXITING | PIN_NMI_EXITING,
          PIN_VIRTUAL_NMIS | PIN_PREEMPTION_TIMER, &out->pin },
        { "processor-based", m->procbased,
          PROC_HLT_EXITING | PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS | PROC_SECONDARY |
              PROC_RDPMC_EXITING | PROC_MWAIT_EXITING | PROC_MONITOR_EXITING,
          PROC_TPR_SHADOW, &out->proc },
        { "secondary processor-based", m->procbased2, PROC2_EPT,
          PROC2_UNRESTRICTED | PROC2_VPID | PROC2_RDTSCP | PROC2_INVPCID | PROC2_WBINVD_EXITING,
          &out->proc2 },
        { "VM-exit", m->exit,
          EXIT_HOST_64BIT | EXIT_ACK_INTR | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_DEBUG,
          EXIT_SAVE_PAT | EXIT_LOAD_PAT, &out->exit },
        { "VM-entry", m->entry, ENTRY_IA32E_GUEST | ENTRY_LOAD_EFER | ENTRY_LOAD_DEBUG,
          ENTRY_LOAD_PAT, &out->entry },
    };
    for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i].out == &out->proc && !((m->procbased >> 32) & PROC_TPR_SHADOW))
            f[i].need |= PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING;
        *f[i].out = vmx_ctl_value(f[i].cap, f[i].need, f[i].want, missing);
        if (*missing) {
            *which = f[i].name;
            return -1;
        }
    }
    return 0;
}

bool vmx_posted_controls(const struct vmx_msrs *m, struct vmx_controls *c)
{
    uint32_t pin = PIN_POSTED_INTERRUPTS, proc = PROC_TPR_SHADOW,
             proc2 = PROC2_X2APIC_MODE | PROC2_VID;
    bool allowed = ((m->pinbased >> 32) & pin) == pin && ((m->procbased >> 32) & proc) == proc &&
                   ((m->procbased2 >> 32) & proc2) == proc2 &&
                   (c->pin & PIN_EXT_INTR_EXITING) && (c->exit & EXIT_ACK_INTR);
    if (!allowed)
        return false;
    c->pin |= pin;
    c->proc |= proc;
    c->proc2 |= proc2;
    return true;
}
