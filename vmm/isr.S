/* Interrupt entry stubs: 256 of them, 16 bytes apart, so the IDT can be filled by arithmetic
 * (no absolute addresses to relocate).  Each pushes a dummy error code where the CPU does not
 * push one (SDM Vol. 3A 6.13), then its vector, and joins isr_common. */
    .text
    .globl isr_stubs
    .balign 16
isr_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp isr_common
    .set vec, vec + 1
    .endr

isr_common:
    cld
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    call isr_dispatch
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq

/* int rdmsr_safe(uint32_t msr, uint64_t *value): 0, or -1 when RDMSR raised #GP (the #GP
 * handler moves RIP from rdmsr_safe_insn to rdmsr_safe_fail). */
    .globl rdmsr_safe, rdmsr_safe_insn, rdmsr_safe_fail
rdmsr_safe:
    movl %edi, %ecx
rdmsr_safe_insn:
    rdmsr
    shlq $32, %rdx
    movl %eax, %eax
    orq %rdx, %rax
    movq %rax, (%rsi)
    xorl %eax, %eax
    ret
rdmsr_safe_fail:
    movl $-1, %eax
    ret

/* void cpu_load_gdt(const void *gdtr, uint16_t code_sel, uint16_t data_sel, uint16_t tss_sel) */
    .globl cpu_load_gdt
cpu_load_gdt:
    lgdt (%rdi)
    pushq %rsi
    leaq 1f(%rip), %rax
    pushq %rax
    lretq
1:  movw %dx, %ds
    movw %dx, %es
    movw %dx, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    ltr %cx
    ret

    .section .note.GNU-stack,"",@progbits
