#include "vmm/vmx/vmx_exit.h"

#include <string.h>

#include "vmm/vmx/vmcs.h"

void vmx_exit_decode(const struct vmx_exit_raw *raw, struct vexit *e)
{
    uint64_t qual = raw->qual;
    memset(e, 0, sizeof(*e));
    e->raw_reason = raw->reason;
    e->raw_qual = qual;
    e->rip = raw->rip;
    e->insn_len = raw->insn_len;
    if (raw->reason & EXIT_REASON_ENTRY_FAILED_BIT) {
        e->reason = VEXIT_ENTRY_FAILED;
        return;
    }
    switch (raw->reason & 0xffff) {
    case EXIT_REASON_EXCEPTION_NMI: /* interruption type 2 = NMI (SDM Vol. 3C 25.9.2) */
        e->reason = ((raw->intr_info >> 8) & 7) == 2 ? VEXIT_NMI : VEXIT_UNHANDLED;
        break;
    case EXIT_REASON_EXTERNAL_INTR: e->reason = VEXIT_EXTINT; break;
    case EXIT_REASON_TRIPLE_FAULT: e->reason = VEXIT_TRIPLE_FAULT; break;
    case EXIT_REASON_CPUID: e->reason = VEXIT_CPUID; break;
    case EXIT_REASON_HLT: e->reason = VEXIT_HLT; break;
    case EXIT_REASON_VMCALL: e->reason = VEXIT_HYPERCALL; break;
    case EXIT_REASON_RDMSR: e->reason = VEXIT_RDMSR; break;
    case EXIT_REASON_WRMSR: e->reason = VEXIT_WRMSR; break;
    case EXIT_REASON_PREEMPTION_TIMER: e->reason = VEXIT_TIMER; break;
    case EXIT_REASON_INTR_WINDOW:
    case EXIT_REASON_TPR_BELOW: e->reason = VEXIT_IRQ_WINDOW; break;
    case EXIT_REASON_XSETBV: e->reason = VEXIT_XSETBV; break;
    /* Nothing a VM can observe: memory is coherent write-back and the VMM never lets a guest
     * discard or flush the caches other VMs share (INVD would drop dirty lines). */
    case EXIT_REASON_INVD: vexit_skip(e, "invd"); break;
    case EXIT_REASON_WBINVD: vexit_skip(e, "wbinvd"); break;
    /* MONITOR/MWAIT are not in the guest's CPUID; a guest that uses them anyway spins on its
     * own time instead of idling the pCPU. */
    case EXIT_REASON_MONITOR: vexit_skip(e, "monitor"); break;
    case EXIT_REASON_MWAIT: vexit_skip(e, "mwait"); break;
    /* No performance counters for guests (CPUID leaf 0xA is empty): #GP(0) as with ECX out of
     * range (SDM Vol. 2B RDPMC). */
    case EXIT_REASON_RDPMC: vexit_fault(e, 13, "rdpmc"); break;
    /* VMX, SMX and SGX instructions do not exist for the guest (CPUID says so): #UD. */
    case EXIT_REASON_GETSEC: vexit_fault(e, 6, "getsec"); break;
    case EXIT_REASON_INVEPT: vexit_fault(e, 6, "invept"); break;
    case EXIT_REASON_INVVPID: vexit_fault(e, 6, "invvpid"); break;
    case EXIT_REASON_VMFUNC: vexit_fault(e, 6, "vmfunc"); break;
    case EXIT_REASON_ENCLS: vexit_fault(e, 6, "encls"); break;
    case EXIT_REASON_IO: /* SDM Vol. 3C Table 28-5 */
        e->reason = VEXIT_IO;
        e->io.size = (uint8_t)((qual & 7) + 1);
        e->io.in = (qual >> 3) & 1;
        e->io.string = (qual >> 4) & 1;
        e->io.rep = (qual >> 5) & 1;
        e->io.port = (uint16_t)(qual >> 16);
        break;
    case EXIT_REASON_EPT_VIOLATION: /* SDM Vol. 3C Table 28-7 */
        e->reason = VEXIT_NPF;
        e->npf.gpa = raw->gpa;
        e->npf.read = qual & 1;
        e->npf.write = (qual >> 1) & 1;
        e->npf.fetch = (qual >> 2) & 1;
        break;
    default:
        if ((raw->reason & 0xffff) >= EXIT_REASON_VMCLEAR &&
            (raw->reason & 0xffff) <= EXIT_REASON_VMXON)
            vexit_fault(e, 6, "vmx instruction");
        else
            e->reason = VEXIT_UNHANDLED;
        break;
    }
}
