/* int rt_setjmp(struct rt_jmp *j); void rt_longjmp(struct rt_jmp *j, int value)
 * The callee-saved registers, RSP, the return address and RFLAGS (for IF), so an exception
 * handler can resume the code that expected the fault (RT_TRY in rt.h).  Layout: rbx, rbp,
 * r12, r13, r14, r15, rsp, rip, rflags. */
    .text
    .globl rt_setjmp, rt_longjmp
    .type rt_setjmp, @function
rt_setjmp:
    movq %rbx, 0x00(%rdi)
    movq %rbp, 0x08(%rdi)
    movq %r12, 0x10(%rdi)
    movq %r13, 0x18(%rdi)
    movq %r14, 0x20(%rdi)
    movq %r15, 0x28(%rdi)
    leaq 8(%rsp), %rax              /* RSP after the return */
    movq %rax, 0x30(%rdi)
    movq (%rsp), %rax
    movq %rax, 0x38(%rdi)
    pushfq
    popq 0x40(%rdi)
    xorl %eax, %eax
    ret
    .size rt_setjmp, . - rt_setjmp

    .type rt_longjmp, @function
rt_longjmp:
    movq 0x00(%rdi), %rbx
    movq 0x08(%rdi), %rbp
    movq 0x10(%rdi), %r12
    movq 0x18(%rdi), %r13
    movq 0x20(%rdi), %r14
    movq 0x28(%rdi), %r15
    movq 0x30(%rdi), %rsp
    pushq 0x40(%rdi)
    popfq
    movl %esi, %eax
    jmpq *0x38(%rdi)
    .size rt_longjmp, . - rt_longjmp

    .section .note.GNU-stack,"",@progbits
