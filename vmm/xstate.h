/* A vCPU's x86 register state that neither VT-x nor AMD-V switches on VM entry and exit: the
 * x87/SSE/AVX state (XSAVE, SDM Vol. 1 chapter 13), XCR0, and the debug address registers
 * DR0-DR3.  Both backends call xstate_enter before each entry and xstate_leave when the vCPU
 * leaves its pCPU (vcpu_put), so another pCPU can load it next.
 *
 * Switching is exact and lazy: while a vCPU is in the VMM its state stays in the pCPU's
 * registers (the VMM never uses floating point: -mgeneral-regs-only); leaving the pCPU saves
 * it (XSAVEOPT/XSAVE/FXSAVE); entering restores it only when another vCPU's state was loaded
 * there since, or this vCPU ran elsewhere.  XCR0 and DR0-3 are written only when they differ
 * from what the pCPU holds. */
#ifndef VSCHED_VMM_XSTATE_H
#define VSCHED_VMM_XSTATE_H

#include <stdbool.h>
#include <stdint.h>

struct xstate {
    uint8_t *area;       /* XSAVE (or FXSAVE) image, 64-byte aligned */
    uint64_t xcr0;       /* the guest's XCR0 */
    uint64_t dr[4];      /* DR0-DR3 */
    int32_t loaded_on;   /* pCPU whose registers hold this state, -1 = none */
    uint64_t restores;   /* times the state was loaded into a pCPU (counters for reports) */
};

/* Every pCPU, once: CR4.OSFXSR/OSXMMEXCPT, and CR4.OSXSAVE with XCR0 = every switched
 * component, so the VMM can save and restore all of them. */
void xstate_cpu_init(void);
/* The BSP, once, after xstate_cpu_init: choose the save instruction and area size; a line for
 * the console in LINE. */
void xstate_global_init(char *line, unsigned size);
/* A vCPU's state at power-on: x87/SSE/AVX in their initial configuration, XCR0 = x87 only,
 * DR0-3 zero.  -1 when out of memory. */
int xstate_init(struct xstate *xs);
/* Before each entry, on the pCPU that runs the vCPU, interrupts off. */
void xstate_enter(struct xstate *xs);
/* When the vCPU leaves the pCPU (its state goes to memory). */
void xstate_leave(struct xstate *xs);
/* After an exit, where the guest's XSETBV may not have exited: take its XCR0 from the
 * register (QEMU's TCG ignores the SVM XSETBV intercept; its XSETBV checks the value against
 * its own CPUID first).  Nothing changes where the intercept works. */
void xstate_sync_xcr0(struct xstate *xs);
/* XSETBV from the guest: false = #GP(0), nothing changed (cpuid_xsetbv_valid). */
bool xstate_set_xcr0(struct xstate *xs, uint32_t index, uint64_t value);
/* The components guests may enable (0 without XSAVE: then FXSAVE switches x87/SSE). */
uint64_t xstate_xcr0_allowed(void);

#endif
