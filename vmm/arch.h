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

/* Guest state the VMM reads or changes through the backend, wherever the backend keeps it
 * (VMCS, VMCB, or the hardware register while the vCPU owns it). */
enum vcpu_reg {
    VCPU_REG_CR0,
    VCPU_REG_CR3,
    VCPU_REG_CR4,
    VCPU_REG_RSP,
    VCPU_REG_DR7,   /* write: the VMM validated the value */
    VCPU_REG_CPL,   /* current privilege level, 0..3 (read only) */
    VCPU_REG_XCR0,  /* the guest's XCR0 (write: vcpu_set_reg validates, false = #GP) */
};

/* What an MSR access that the backend owns did (vcpu_msr). */
enum arch_msr_result {
    ARCH_MSR_NOT_MINE, /* the backend does not model this MSR: the VMM decides */
    ARCH_MSR_OK,
    ARCH_MSR_GP,       /* refused: the VMM injects #GP(0) */
};

/* A vCPU's first state: 64-bit long mode with paging, flat segments (guest ABI v1,
 * guest/README.md; Linux's 64-bit boot protocol uses other selectors). */
struct vcpu_start {
    uint64_t rip, rsp, cr3, rdi, rsi;
    uint64_t gdt_base;
    uint16_t gdt_limit;
    uint16_t cs, ds;  /* selectors, 0 = guest ABI v1's 0x08 and 0x10 (descriptors flat) */
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
    VEXIT_IRQ_WINDOW,   /* the guest can take an interrupt now (asked for by vcpu_irq_window,
                           or it lowered its TPR below the class vcpu_tpr_load named) */
    VEXIT_XSETBV,       /* XSETBV: XCR index in rcx, value in rdx:rax */
    VEXIT_DR_WRITE,     /* MOV to DR7 (or its DR5 alias), intercepted (see mov below) */
    VEXIT_CR8_WRITE,    /* MOV to CR8, intercepted (mov.reg = 8) */
    VEXIT_SKIP,         /* an instruction the VMM emulates as doing nothing visible (INVD,
                           WBINVD, MONITOR, MWAIT); raw_reason says which */
    VEXIT_FAULT,        /* an instruction the guest may not use: inject fault.vector (#UD for
                           VMX/SVM instructions, #GP for RDPMC) and do not step over it */
    VEXIT_UNHANDLED,    /* anything else the guest did: the VM is stopped with a report */
    VEXIT_HANDLED,      /* the backend emulated it itself (VT-x: MOV to CR0 with paging or
                           CR0.NE owned, for real-mode and long-mode switches); nothing to do */
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
        struct {
            uint8_t vector;
            const char *insn; /* its name, for counters and reports */
        } fault;
        const char *skipped;  /* VEXIT_SKIP: the instruction's name */
        struct {
            uint8_t reg;      /* the DR or CR number */
            int8_t gpr;       /* the source register, -1 when the CPU did not say (no
                                 decode assists: the VMM decodes; insn_len is 0 then too) */
        } mov;
    };
};

/* What the guest may run natively on this backend, for its CPUID (vmm/cpuid.h). */
struct arch_guest_caps {
    bool rdtscp;  /* RDTSCP and RDPID, with the vCPU's own IA32_TSC_AUX */
    bool invpcid;
};

/* For the exit decoders: an instruction done as nothing, or one that faults. */
static inline void vexit_skip(struct vexit *e, const char *name)
{
    e->reason = VEXIT_SKIP;
    e->skipped = name;
}

static inline void vexit_fault(struct vexit *e, uint8_t vector, const char *name)
{
    e->reason = VEXIT_FAULT;
    e->fault.vector = vector;
    e->fault.insn = name;
}

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
    /* The guest's task priority (TPR bits 7:0; CR8 is bits 7:4) while interrupts are injected
     * by the VMM (not with hardware posting, which has apic_load/save): tpr_load before each
     * entry, with BLOCKED_CLASS the priority class (1..15) of the highest interrupt that TPR
     * holds back (0 = none) so the guest exits (VEXIT_IRQ_WINDOW) as soon as it lowers CR8
     * below it; tpr_save after each exit returns what the guest left there.  Guest CR8
     * accesses never reach the physical TPR (SDM Vol. 3C 29.3; APM Vol. 2 15.21.1). */
    void (*vcpu_tpr_load)(struct arch_vcpu *vcpu, uint8_t tpr, uint8_t blocked_class);
    uint8_t (*vcpu_tpr_save)(struct arch_vcpu *vcpu);
    uint64_t (*vcpu_get_reg)(struct arch_vcpu *vcpu, enum vcpu_reg reg);
    bool (*vcpu_set_reg)(struct arch_vcpu *vcpu, enum vcpu_reg reg, uint64_t value);
    /* RDMSR/WRMSR of an MSR whose state the backend switches per vCPU (EFER, PAT, the syscall
     * and SYSENTER MSRs, KERNEL_GS_BASE, TSC_AUX, ...): reads fill *VALUE. */
    enum arch_msr_result (*vcpu_msr)(struct arch_vcpu *vcpu, bool write, uint32_t msr,
                                     uint64_t *value);
    /* Arm the hypervisor's timer: a VEXIT_TIMER at TSC value DEADLINE (0 = none).  The
     * backend uses what it has (VMX-preemption timer, else the host LAPIC timer). */
    void (*vcpu_set_timer)(struct arch_vcpu *vcpu, uint64_t deadline_tsc);
    /* After probe: what the guest may run natively (CPUID follows it). */
    void (*guest_caps)(struct arch_guest_caps *out);
    /* INIT-SIPI-SIPI: from its next entry on, the vCPU (on no pCPU now) is in the state INIT
     * leaves (SDM Vol. 3A 10.1.1 Table 10-1; APM Vol. 2 14.1.3: real mode, CR0 = ET, EFER 0,
     * general registers 0, DR7 0x400) with CS = VECTOR << 8, base VECTOR << 12, IP 0.  VT-x
     * needs "unrestricted guest" for that (probe says so); false when this backend cannot. */
    bool (*vcpu_sipi)(struct arch_vcpu *vcpu, uint8_t vector);
    /* Print the guest state for a failure report. */
    void (*vcpu_dump)(struct arch_vcpu *vcpu);
};

extern const struct arch_ops vmx_arch_ops;
extern const struct arch_ops svm_arch_ops;

/* Print every backend's capability line, then the choice; returns the backend guests will
 * use, or NULL when this CPU has none. */
const struct arch_ops *arch_select(void);

#endif
