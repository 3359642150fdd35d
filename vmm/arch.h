/* The boundary between the VMM and hardware virtualization.  Each backend (vmm/vmx/ for VT-x,
 * vmm/svm/ for AMD-V) provides one `struct arch_ops`; nothing outside those directories knows
 * which one runs.  Exits come back decoded into a `struct vexit` that says what the guest did
 * in the VMM's own terms; the VMM decides what happens and tells the backend through the
 * vcpu_* calls.  The split follows Jailhouse's and BitVisor's vmx.c/svm.c behind one set of
 * hooks, kept smaller. */
#ifndef VSCHED_VMM_ARCH_H
#define VSCHED_VMM_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/vlapic.h"

struct arch_vm;   /* backend's per-VM state: nested page tables, VPID/ASID */
struct arch_vcpu; /* backend's per-vCPU state: VMCS or VMCB, saved registers */

/* General-purpose registers in x86 encoding order (RSP lives in the VMCS/VMCB). */
struct vcpu_gprs {
    uint64_t rax, rcx, rdx, rbx, rsp_unused, rbp, rsi, rdi;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/* A vCPU's first state: 64-bit long mode with paging, flat segments (guest ABI v1,
 * guest/README.md). */
struct vcpu_start {
    uint64_t rip, rsp, cr3, rdi, rsi;
    uint64_t gdt_base;
    uint16_t gdt_limit;
};

enum vexit_reason {
    VEXIT_CPUID,
    VEXIT_RDMSR,        /* ecx = MSR; the VMM sets rax:rdx or injects #GP */
    VEXIT_WRMSR,
    VEXIT_IO,           /* port I/O (see io) */
    VEXIT_HLT,
    VEXIT_HYPERCALL,    /* VMCALL / VMMCALL: number in rax */
    VEXIT_NPF,          /* EPT violation / nested page fault at npf.gpa */
    VEXIT_TRIPLE_FAULT, /* shutdown */
    VEXIT_ENTRY_FAILED, /* the CPU refused to enter the guest; the backend printed why */
    VEXIT_EXTINT,       /* a physical interrupt arrived for the host */
    VEXIT_TIMER,        /* the hypervisor's timer (vcpu_set_timer) expired */
    VEXIT_NMI,
    VEXIT_IRQ_WINDOW,   /* the guest can take an interrupt now (asked for by vcpu_irq_window) */
    VEXIT_UNHANDLED,    /* anything else the guest did: the VM is stopped with a report */
};

struct vexit {
    enum vexit_reason reason;
    uint64_t rip;          /* of the instruction that exited */
    uint32_t insn_len;     /* its length, so the VMM can step over it */
    uint32_t raw_reason;   /* the backend's own exit code, for reports */
    uint64_t raw_qual;     /* exit qualification / EXITINFO1 */
    union {
        struct {
            uint16_t port;
            uint8_t size; /* 1, 2 or 4 */
            bool in, string, rep;
        } io;
        struct {
            uint64_t gpa;
            bool read, write, fetch;
        } npf;
    };
};

struct arch_ops {
    const char *name;
    /* Write the capability report into LINE (a line, or a few separated by '\n').  Returns NULL when guests can run on
     * this backend here, else a short reason why not.  Reads CPUID/MSRs only. */
    const char *(*probe)(char *line, size_t size);
    /* Turn virtualization on for the calling pCPU.  0, or -1 after printing why. */
    int (*cpu_enable)(void);
    /* A VM with empty nested page tables; NULL (after printing why) when out of memory. */
    struct arch_vm *(*vm_create)(uint32_t vm_id);
    /* Map guest-physical [gpa, gpa+size) to host-physical [hpa, hpa+size), RWX, write-back. */
    int (*vm_map)(struct arch_vm *vm, uint64_t gpa, uint64_t hpa, uint64_t size);
    struct arch_vcpu *(*vcpu_create)(struct arch_vm *vm, uint32_t vcpu_id,
                                     const struct vcpu_start *start);
    /* Enter the guest on the calling pCPU and return at its next exit, decoded. */
    void (*vcpu_run)(struct arch_vcpu *vcpu, struct vexit *exit);
    /* The vCPU leaves the calling pCPU: afterwards any pCPU may run it (VT-x: VMCLEAR, so its
     * VMCS is active nowhere; SDM Vol. 3C 25.11.1). */
    void (*vcpu_put)(struct arch_vcpu *vcpu);
    struct vcpu_gprs *(*vcpu_gprs)(struct arch_vcpu *vcpu);
    uint64_t (*vcpu_rip)(struct arch_vcpu *vcpu);
    /* Move RIP (past an emulated instruction).  This also ends an interrupt shadow (STI; HLT
     * exits inside STI's shadow), as executing the instruction would have. */
    void (*vcpu_set_rip)(struct arch_vcpu *vcpu, uint64_t rip);
    /* Deliver an exception at the next entry (e.g. #GP for a refused MSR access). */
    void (*vcpu_inject_exception)(struct arch_vcpu *vcpu, uint8_t vector, bool has_error,
                                  uint32_t error);
    /* Interrupts for the guest.  irq_ready: the guest would take an external interrupt at the
     * next entry (RFLAGS.IF=1, no interrupt shadow, no event already being injected).
     * inject_irq: deliver VECTOR as an external interrupt at the next entry (only when ready).
     * irq_window: while ON, the guest exits with VEXIT_IRQ_WINDOW as soon as it is ready. */
    bool (*vcpu_irq_ready)(struct arch_vcpu *vcpu);
    void (*vcpu_inject_irq)(struct arch_vcpu *vcpu, uint8_t vector);
    void (*vcpu_irq_window)(struct arch_vcpu *vcpu, bool on);
    /* Hardware posted interrupts (VT-x with posted-interrupt processing; NULL elsewhere):
     * posted_init gives the vCPU its descriptor and notification vector and returns whether
     * the CPU will take posted interrupts and deliver pending ones itself.  Then apic_load,
     * before each entry, hands it the vlapic's IRR/ISR/TPR, and apic_save, after each exit,
     * returns them as the CPU left them; injection and interrupt windows are not used. */
    bool (*vcpu_posted_init)(struct arch_vcpu *vcpu, uint64_t pi_desc_pa, uint8_t vector);
    void (*vcpu_apic_load)(struct arch_vcpu *vcpu, const struct vlapic_vectors *in);
    void (*vcpu_apic_save)(struct arch_vcpu *vcpu, struct vlapic_vectors *out);
    /* RFLAGS.IF of the guest (a HLT with IF=0 can never be woken by an interrupt). */
    bool (*vcpu_if_set)(struct arch_vcpu *vcpu);
    /* Arm the hypervisor's timer: a VEXIT_TIMER at TSC value DEADLINE (0 = none).  The
     * backend uses what it has (VMX-preemption timer, else the host LAPIC timer). */
    void (*vcpu_set_timer)(struct arch_vcpu *vcpu, uint64_t deadline_tsc);
    /* Print the guest state for a failure report. */
    void (*vcpu_dump)(struct arch_vcpu *vcpu);
};

extern const struct arch_ops vmx_arch_ops;
extern const struct arch_ops svm_arch_ops;

/* Print every backend's capability line, then the choice; returns the backend guests will
 * use, or NULL when this CPU has none. */
const struct arch_ops *arch_select(void);

#endif
