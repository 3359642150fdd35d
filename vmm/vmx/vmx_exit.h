/* VMX exit decoding into the arch-neutral struct vexit (SDM Vol. 3C 28.2, Appendix C).  Pure:
 * vmx.c reads the VMCS fields, this turns them into what the VMM acts on; unit-tested. */
#ifndef VSCHED_VMX_EXIT_H
#define VSCHED_VMX_EXIT_H

#include <stdint.h>

#include "vmm/arch.h"

struct vmx_exit_raw {
    uint32_t reason;      /* VM-exit reason (bit 31: VM-entry failure) */
    uint64_t qual;        /* exit qualification */
    uint32_t intr_info;   /* VM-exit interruption information */
    uint32_t insn_len;    /* VM-exit instruction length */
    uint64_t rip;         /* guest RIP */
    uint64_t gpa;         /* guest-physical address (EPT violations) */
};

void vmx_exit_decode(const struct vmx_exit_raw *raw, struct vexit *e);

#endif
