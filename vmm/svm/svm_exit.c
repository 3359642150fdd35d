#include "vmm/svm/svm_exit.h"

#include <string.h>

/* Length of the intercepted instruction: from next RIP when the CPU saves it, else known per
 * intercept (CPUID 0f a2, HLT f4, RDMSR/WRMSR 0f 32/30, VMMCALL 0f 01 d9, INVD 0f 08, WBINVD
 * 0f 09, MONITOR 0f 01 c8, MWAIT 0f 01 c9, XSETBV 0f 01 d1; for IOIO the CPU always stores
 * the next RIP in EXITINFO2, APM Vol. 2 15.10.2).  A guest that adds redundant prefixes to
 * these only misleads itself: RIP lands inside its own instruction. */
static uint32_t insn_length(const struct svm_exit_raw *raw)
{
    if (raw->code == SVM_EXIT_IOIO)
        return (uint32_t)(raw->info2 - raw->rip);
    if (raw->has_nrip && raw->nrip)
        return (uint32_t)(raw->nrip - raw->rip);
    switch (raw->code) {
    case SVM_EXIT_CPUID: return 2;
    case SVM_EXIT_HLT: return 1;
    case SVM_EXIT_MSR: return 2;
    case SVM_EXIT_VMMCALL:
    case SVM_EXIT_MONITOR:
    case SVM_EXIT_MWAIT:
    case SVM_EXIT_MWAIT_COND:
    case SVM_EXIT_XSETBV: return 3;
    case SVM_EXIT_INVD:
    case SVM_EXIT_WBINVD: return 2;
    default: return 0;
    }
}

void svm_exit_decode(const struct svm_exit_raw *raw, struct vexit *e)
{
    uint64_t info1 = raw->info1;
    memset(e, 0, sizeof(*e));
    e->raw_reason = (uint32_t)raw->code;
    e->raw_qual = info1;
    e->rip = raw->rip;
    e->insn_len = insn_length(raw);
    switch ((uint32_t)raw->code) {
    case SVM_EXIT_INTR: e->reason = VEXIT_EXTINT; break;
    case SVM_EXIT_NMI: e->reason = VEXIT_NMI; break;
    case SVM_EXIT_VINTR: e->reason = VEXIT_IRQ_WINDOW; break;
    case SVM_EXIT_CPUID: e->reason = VEXIT_CPUID; break;
    case SVM_EXIT_HLT: e->reason = VEXIT_HLT; break;
    case SVM_EXIT_VMMCALL: e->reason = VEXIT_HYPERCALL; break;
    case SVM_EXIT_SHUTDOWN: e->reason = VEXIT_TRIPLE_FAULT; break;
    case SVM_EXIT_MSR: e->reason = info1 ? VEXIT_WRMSR : VEXIT_RDMSR; break;
    case SVM_EXIT_IOIO: /* APM Vol. 2 Figure 15-2 */
        e->reason = VEXIT_IO;
        e->io.in = info1 & 1;
        e->io.string = (info1 >> 2) & 1;
        e->io.rep = (info1 >> 3) & 1;
        e->io.size = (info1 >> 4) & 1 ? 1 : (info1 >> 5) & 1 ? 2 : 4;
        e->io.port = (uint16_t)(info1 >> 16);
        break;
    case SVM_EXIT_NPF: /* EXITINFO1: page-fault error code; EXITINFO2: the GPA (15.25.6) */
        e->reason = VEXIT_NPF;
        e->npf.gpa = raw->info2;
        e->npf.write = (info1 >> 1) & 1;
        e->npf.fetch = (info1 >> 4) & 1;
        e->npf.read = !e->npf.write && !e->npf.fetch;
        break;
    case SVM_EXIT_INVALID: e->reason = VEXIT_ENTRY_FAILED; break;
    case SVM_EXIT_XSETBV: e->reason = VEXIT_XSETBV; break;
    case SVM_EXIT_WRITE_CR8:
    case SVM_EXIT_WRITE_DR5:
    case SVM_EXIT_WRITE_DR7:
        /* EXITINFO1 names the register only with decode assists (bit 63 valid, APM 15.33). */
        e->reason = raw->code == SVM_EXIT_WRITE_CR8 ? VEXIT_CR8_WRITE : VEXIT_DR_WRITE;
        e->mov.reg = (uint8_t)(raw->code & 0xf);
        e->mov.gpr = (info1 >> 63) ? (int8_t)(info1 & 15) : -1;
        if (e->mov.gpr < 0)
            e->insn_len = 0;
        break;
    /* As on VT-x (vmx_exit.c): cache control and MONITOR/MWAIT do nothing visible, RDPMC
     * has no counters (#GP), and the SVM instructions do not exist for the guest (#UD). */
    case SVM_EXIT_INVD: vexit_skip(e, "invd"); break;
    case SVM_EXIT_WBINVD: vexit_skip(e, "wbinvd"); break;
    case SVM_EXIT_MONITOR: vexit_skip(e, "monitor"); break;
    case SVM_EXIT_MWAIT:
    case SVM_EXIT_MWAIT_COND: vexit_skip(e, "mwait"); break;
    case SVM_EXIT_RDPMC: vexit_fault(e, 13, "rdpmc"); break;
    case SVM_EXIT_RDPRU: vexit_fault(e, 6, "rdpru"); break;
    case SVM_EXIT_INVLPGA:
    case SVM_EXIT_VMRUN:
    case SVM_EXIT_VMLOAD:
    case SVM_EXIT_VMSAVE:
    case SVM_EXIT_STGI:
    case SVM_EXIT_CLGI:
    case SVM_EXIT_SKINIT: vexit_fault(e, 6, "svm instruction"); break;
    default: e->reason = VEXIT_UNHANDLED; break;
    }
}

bool svm_shadow_dropped(const struct svm_shadow_run *r)
{
    bool between = r->exit_code == SVM_EXIT_INTR || r->exit_code == SVM_EXIT_NMI ||
                   r->exit_code == SVM_EXIT_VINTR;
    return r->entered_in_shadow && between && r->exit_rip == r->entry_rip &&
           !r->exit_in_shadow && !r->exit_int_info;
}
