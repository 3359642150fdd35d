/* Application-processor start-up code (SDM Vol. 3A 8.4.4, 9.8-9.9).  boot/smp.c copies
 * [tramp_start, tramp_end) to a page below 1 MiB, fills in the fields marked "patched", and
 * sends INIT-SIPI-SIPI with that page as the start vector.  The AP arrives in real mode at
 * CS:IP = page:0, goes to 32-bit protected mode, enables PAE and long mode with the VMM's page
 * tables, and calls tramp_entry(tramp_arg) on tramp_stack. */
    .section .text
    .globl tramp_start, tramp_end, tramp_gdt, tramp_gdtr, tramp_far32, tramp_far64
    .globl tramp_prot32, tramp_long, tramp_cr3, tramp_stack, tramp_entry, tramp_arg

    .code16
    .balign 16
tramp_start:
    cli
    cld
    xorl %ebx, %ebx
    movw %cs, %bx
    shll $4, %ebx                   /* ebx = linear address of this page */
    movw %cs, %ax
    movw %ax, %ds
    lgdtl (tramp_gdtr - tramp_start)
    movl %cr0, %eax
    orl $1, %eax                    /* CR0.PE */
    movl %eax, %cr0
    ljmpl *(tramp_far32 - tramp_start)

    .code32
tramp_prot32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $0x20, %eax                 /* CR4.PAE */
    movl %eax, %cr4
    movl (tramp_cr3 - tramp_start)(%ebx), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx          /* EFER: LME | NXE */
    rdmsr
    orl $0x900, %eax
    wrmsr
    movl %cr0, %eax
    andl $0x9fffffff, %eax          /* CR0.CD, CR0.NW: caches on (INIT sets both) */
    orl $0x80010000, %eax           /* CR0.PG | CR0.WP */
    movl %eax, %cr0
    ljmpl *(tramp_far64 - tramp_start)(%ebx)

    .code64
tramp_long:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movq tramp_stack(%rip), %rsp
    movq tramp_arg(%rip), %rdi
    movq tramp_entry(%rip), %rax
    xorl %ebp, %ebp
    callq *%rax
1:  cli
    hlt
    jmp 1b

    .balign 16
tramp_gdt:
    .quad 0
    .quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
    .quad 0x00cf9a000000ffff        /* 0x18: 32-bit code */
tramp_gdtr:
    .word 4 * 8 - 1
    .long 0                         /* patched: linear address of tramp_gdt */
tramp_far32:
    .long 0                         /* patched: linear address of tramp_prot32 */
    .word 0x18
tramp_far64:
    .long 0                         /* patched: linear address of tramp_long */
    .word 0x08
    .balign 8
tramp_cr3:
    .quad 0                         /* patched: the VMM's page tables (below 4 GiB) */
tramp_stack:
    .quad 0                         /* patched per AP */
tramp_entry:
    .quad 0
tramp_arg:
    .quad 0
tramp_end:

    .section .note.GNU-stack,"",@progbits
