/* VMX control values from the capability MSRs (SDM Vol. 3D A.3-A.5): a control bit may be 1
 * only where the MSR's allowed-1 half (bits 63:32) says so and must be 1 where its allowed-0
 * half (bits 31:0) says so.  Pure; unit-tested with the MSRs of several CPU models. */
#ifndef VSCHED_VMX_CTLS_H
#define VSCHED_VMX_CTLS_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/vmx/vmx_caps.h"

/* The control value for capability MSR CAP that has every bit of NEED and as many bits of
 * WANT as allowed.  Returns the NEED bits the CPU cannot set (0 = success) in *MISSING. */
uint32_t vmx_ctl_value(uint64_t cap, uint32_t need, uint32_t want, uint32_t *missing);

struct vmx_controls {
    uint32_t pin, proc, proc2, exit, entry;
};

/* The controls vsched runs guests with, for the CPU described by M.  Returns 0, or -1 with
 * *WHICH naming the control field that lacks a required bit and *MISSING the bits. */
int vmx_controls_compute(const struct vmx_msrs *m, struct vmx_controls *out, const char **which,
                         uint32_t *missing);

/* Hardware posted interrupts (SDM Vol. 3C 29.6): process posted interrupts, which needs
 * virtual-interrupt delivery (29.2), the TPR shadow and, for an x2APIC guest, virtualize
 * x2APIC mode (26.2.1.1).  Adds all four to *C when the CPU allows all of them and returns
 * true; else leaves *C alone and returns false (the VMM then posts by software). */
bool vmx_posted_controls(const struct vmx_msrs *m, struct vmx_controls *c);

#endif
