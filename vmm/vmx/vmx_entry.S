/* int vmx_enter(struct vcpu_gprs *gprs, int launched)
 * Load the guest's general registers and VMLAUNCH (launched == 0) or VMRESUME.  Returns 0
 * after a VM exit (guest registers saved to *gprs), 1 on VMfailInvalid, 2 on VMfailValid
 * (SDM Vol. 3C 31.2).  HOST_RSP is set here so the exit lands on this frame; HOST_RIP is
 * vmx_exit_point (set once per VMCS). */
#include "vmm/guest_gprs.inc"

    .text
    .globl vmx_enter, vmx_exit_point
vmx_enter:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdi                      /* gprs: found at (%rsp) after the exit */
    movq $0x6c14, %rax              /* VMCS_HOST_RSP */
    vmwrite %rsp, %rax
    testl %esi, %esi                /* the movs below keep the flags */
    movq 0x00(%rdi), %rax
    LOAD_GUEST_GPRS %rdi
    movq 0x38(%rdi), %rdi
    jnz 1f
    /* Bochs 2.7 misses external-interrupt exits when both host and guest enter with IF=0:
     * enter with IF=1; STI's interrupt shadow covers the VMLAUNCH itself. */
    sti
    vmlaunch
    jmp 2f
1:  sti
    vmresume
2:  cli
    movl $1, %eax
    jc 3f
    movl $2, %eax
3:  popq %rdi
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

vmx_exit_point:
    pushq %rdi                      /* guest rdi */
    movq 8(%rsp), %rdi              /* gprs */
    movq %rax, 0x00(%rdi)
    SAVE_GUEST_GPRS %rdi
    popq %rax
    movq %rax, 0x38(%rdi)
    popq %rdi
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    xorl %eax, %eax
    ret

    .section .note.GNU-stack,"",@progbits
