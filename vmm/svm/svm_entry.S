/* void svm_enter(struct vcpu_gprs *gprs, uint64_t vmcb_pa, uint64_t host_save_pa)
 * Run the guest once (APM Vol. 2 15.5): with GIF clear, swap the state VMRUN does not switch
 * (FS, GS, TR, LDTR, KernelGsBase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER_*) with VMSAVE/VMLOAD,
 * load the guest's general registers (RAX is in the VMCB), VMRUN, and save them back.  GIF
 * is set again on return, so a physical interrupt that caused the exit stays pending until
 * the host enables interrupts. */
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
    movq %rdx, %rax
    vmsave %rax                     /* host's hidden state */
    movq (%rsp), %rax
    vmload %rax                     /* guest's */
    movq 0x08(%rdi), %rcx
    movq 0x10(%rdi), %rdx
    movq 0x18(%rdi), %rbx
    movq 0x28(%rdi), %rbp
    movq 0x30(%rdi), %rsi
    movq 0x40(%rdi), %r8
    movq 0x48(%rdi), %r9
    movq 0x50(%rdi), %r10
    movq 0x58(%rdi), %r11
    movq 0x60(%rdi), %r12
    movq 0x68(%rdi), %r13
    movq 0x70(%rdi), %r14
    movq 0x78(%rdi), %r15
    movq 0x38(%rdi), %rdi
    vmrun %rax
    vmsave %rax                     /* guest's hidden state back into its VMCB */
    pushq %rdi                      /* guest rdi */
    movq 0x18(%rsp), %rdi           /* gprs: above guest rdi, VMCB and host save area */
    movq %rcx, 0x08(%rdi)
    movq %rdx, 0x10(%rdi)
    movq %rbx, 0x18(%rdi)
    movq %rbp, 0x28(%rdi)
    movq %rsi, 0x30(%rdi)
    movq %r8, 0x40(%rdi)
    movq %r9, 0x48(%rdi)
    movq %r10, 0x50(%rdi)
    movq %r11, 0x58(%rdi)
    movq %r12, 0x60(%rdi)
    movq %r13, 0x68(%rdi)
    movq %r14, 0x70(%rdi)
    movq %r15, 0x78(%rdi)
    popq %rax
    movq %rax, 0x38(%rdi)
    popq %rax                       /* VMCB */
    popq %rax                       /* host save area */
    vmload %rax
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
