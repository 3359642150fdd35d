/* void svm_enter(struct vcpu_gprs *gprs, uint64_t vmcb_pa, uint64_t host_save_pa)
 * Run the guest once (APM Vol. 2 15.5): with GIF clear, swap the state VMRUN does not switch
 * (FS, GS, TR, LDTR, KernelGsBase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER_*) with VMSAVE/VMLOAD,
 * load the guest's general registers (RAX is in the VMCB), VMRUN, and save them back.  GIF
 * is set again on return, so a physical interrupt that caused the exit stays pending until
 * the host enables interrupts. */
#include "vmm/guest_gprs.inc"

    .text
    .globl svm_enter
svm_enter:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdi                      /* gprs */
    pushq %rdx                      /* host save area */
    pushq %rsi                      /* VMCB */
    clgi
    /* With V_INTR_MASKING the host's RFLAGS.IF at VMRUN decides whether physical interrupts
     * (the hypervisor's APIC timer) end the guest's run (APM Vol. 2 15.21.1); GIF=0 holds
     * them until VMRUN. */
    sti
    movq %rdx, %rax
    vmsave %rax                     /* host's hidden state */
    movq (%rsp), %rax
    vmload %rax                     /* guest's */
    LOAD_GUEST_GPRS %rdi
    movq 0x38(%rdi), %rdi
    vmrun %rax
    vmsave %rax                     /* guest's hidden state back into its VMCB */
    pushq %rdi                      /* guest rdi */
    movq 0x18(%rsp), %rdi           /* gprs: above guest rdi, VMCB and host save area */
    SAVE_GUEST_GPRS %rdi
    popq %rax
    movq %rax, 0x38(%rdi)
    popq %rax                       /* VMCB */
    popq %rax                       /* host save area */
    vmload %rax
    cli                             /* the exit handler takes a pending interrupt itself */
    stgi
    popq %rdi
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

    .section .note.GNU-stack,"",@progbits
