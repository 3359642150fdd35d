/* Interrupt and exception entry stubs (guest ABI v1.1), one per vector, and rt_irq_stubs[], the
 * table of their addresses that rt/irq.c puts in the IDT's 64-bit interrupt gates.
 *
 * All guest code runs at CPL 0 and the gates have no IST, so the CPU stays on the interrupted
 * stack: it aligns RSP down to 16 bytes, pushes SS, RSP, RFLAGS, CS, RIP (and an error code for
 * some exceptions), clears IF (interrupt gate) and jumps here (SDM Vol. 3A 6.14.2).  Each stub
 * pushes a 0 where the CPU pushed no error code, so all frames look alike (struct rt_irq_frame
 * in rt.h), then its vector.  irq_common saves the caller-saved registers (the C code keeps the
 * callee-saved ones), calls rt_irq_dispatch(vector, frame) and returns with IRETQ.
 *
 * Stack alignment at the CALL: CPU frame 5 * 8 = 40, error code 8, vector 8, 9 registers 72:
 * 128 bytes below a 16-byte boundary, so RSP is 16-byte aligned as the SysV ABI wants. */

/* Vectors whose exceptions push an error code: #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14,
 * #AC 17, #CP 21, #VC 29, #SX 30 (SDM Vol. 3A table 6-1). */
#define HAS_ERROR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || \
                      (v) == 29 || (v) == 30)

#define STUB_SIZE 16

    .text
    .balign STUB_SIZE
    .globl rt_irq_stub0
rt_irq_stub0:
    .set vec, 0
    .rept 256
1:
    .ifeq HAS_ERROR(vec)
    pushq $0
    .endif
    pushq $vec
    jmp irq_common
    .org 1b + STUB_SIZE, 0xcc       /* pads with int3; an error if the stub is longer */
    .set vec, vec + 1
    .endr
    .size rt_irq_stub0, . - rt_irq_stub0

    .balign 16
    .type irq_common, @function
irq_common:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    cld                             /* the ABI wants DF = 0 at calls; IRETQ restores RFLAGS */
    movq 72(%rsp), %rdi             /* vector, pushed by the stub */
    movq %rsp, %rsi                 /* struct rt_irq_frame * */
    call rt_irq_dispatch
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    addq $16, %rsp                  /* vector and error code */
    iretq
    .size irq_common, . - irq_common

/* rt_irq_stubs[v] = the stub of vector v. */
    .section .rodata
    .balign 8
    .globl rt_irq_stubs
rt_irq_stubs:
    .set vec, 0
    .rept 256
    .quad rt_irq_stub0 + vec * STUB_SIZE
    .set vec, vec + 1
    .endr
    .size rt_irq_stubs, . - rt_irq_stubs

    .section .note.GNU-stack,"",@progbits
