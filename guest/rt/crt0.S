/* Guest entry (guest ABI v1): 64-bit mode, RSP set, RDI = vCPU index, RSI = boot info.
 * vCPU 0 clears .bss and lets the others go on; then rt_start(vcpu, boot_info). */
    .section .text.start, "ax"
    .globl _start
_start:
    movq %rdi, %r12
    movq %rsi, %r13
    testl %edi, %edi
    jnz 2f
    leaq __bss_start(%rip), %rdi
    leaq __bss_end(%rip), %rcx
    subq %rdi, %rcx
    xorl %eax, %eax
    cld
    rep stosb
    movl $1, bss_ready(%rip)
    jmp 3f
2:  pause
    cmpl $0, bss_ready(%rip)
    je 2b
3:  movq %r12, %rdi
    movq %r13, %rsi
    call rt_start
1:  cli
    hlt
    jmp 1b

    .data
    .balign 4
bss_ready:
    .long 0

    .section .note.GNU-stack,"",@progbits
