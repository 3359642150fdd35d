/* SVM exit decoding into the arch-neutral struct vexit (AMD64 APM Vol. 2 15.6, Appendix C),
 * including the length of the intercepted instruction when the CPU has no next-RIP save.
 * Pure; unit-tested. */
#ifndef VSCHED_SVM_EXIT_H
#define VSCHED_SVM_EXIT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/arch.h"

#define SVM_EXIT_WRITE_CR8 0x018
#define SVM_EXIT_WRITE_DR5 0x035
#define SVM_EXIT_WRITE_DR7 0x037
#define SVM_EXIT_INTR     0x060
#define SVM_EXIT_NMI      0x061
#define SVM_EXIT_VINTR    0x064
#define SVM_EXIT_RDPMC    0x06f
#define SVM_EXIT_CPUID    0x072
#define SVM_EXIT_INVD     0x076
#define SVM_EXIT_HLT      0x078
#define SVM_EXIT_INVLPGA  0x07a
#define SVM_EXIT_IOIO     0x07b
#define SVM_EXIT_MSR      0x07c
#define SVM_EXIT_SHUTDOWN 0x07f
#define SVM_EXIT_VMRUN    0x080
#define SVM_EXIT_VMMCALL  0x081
#define SVM_EXIT_VMLOAD   0x082
#define SVM_EXIT_VMSAVE   0x083
#define SVM_EXIT_STGI     0x084
#define SVM_EXIT_CLGI     0x085
#define SVM_EXIT_SKINIT   0x086
#define SVM_EXIT_WBINVD   0x089
#define SVM_EXIT_MONITOR  0x08a
#define SVM_EXIT_MWAIT    0x08b
#define SVM_EXIT_MWAIT_COND 0x08c
#define SVM_EXIT_XSETBV   0x08d
#define SVM_EXIT_RDPRU    0x08e
#define SVM_EXIT_NPF      0x400
#define SVM_EXIT_INVALID  0xffffffffu

struct svm_exit_raw {
    uint64_t code;       /* EXITCODE */
    uint64_t info1;      /* EXITINFO1 */
    uint64_t info2;      /* EXITINFO2 */
    uint64_t rip;        /* guest RIP at the exit */
    uint64_t nrip;       /* next RIP, when has_nrip */
    bool has_nrip;       /* the CPU saves next RIP (CPUID 8000000A EDX[3]) */
};

/* INTR exits decode to VEXIT_EXTINT; the backend decides whether it was its timer. */
void svm_exit_decode(const struct svm_exit_raw *raw, struct vexit *e);

/* One VMRUN as the interrupt shadow sees it (VMCB INTERRUPT_SHADOW bit 0, APM Vol. 2 15.21.5). */
struct svm_shadow_run {
    bool entered_in_shadow; /* INT_SHADOW was set at VMRUN */
    uint64_t entry_rip;
    uint64_t exit_code;
    uint64_t exit_rip;
    bool exit_in_shadow;    /* INT_SHADOW as the #VMEXIT left it */
    bool exit_int_info;     /* EXITINTINFO valid: an event's delivery was interrupted */
};

/* True when the CPU dropped a shadow it should have kept: the run entered in one and ended
 * by an exit that comes between instructions (INTR, NMI, VINTR) at the RIP it entered at,
 * so no instruction retired and the shadow still holds, yet INT_SHADOW is clear.  QEMU
 * before 9.1 (TCG) does not load INT_SHADOW at VMRUN; an interrupt then injected lands
 * before the STI-shadowed instruction: after `sti; hlt` the handler returns to the HLT, which
 * sleeps with nothing left to wake it. */
bool svm_shadow_dropped(const struct svm_shadow_run *r);

#endif
