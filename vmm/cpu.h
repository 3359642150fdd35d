/* Physical CPUs: per-CPU data, the VMM's GDT (one TSS per CPU), the IDT and its handlers. */
#ifndef VSCHED_VMM_CPU_H
#define VSCHED_VMM_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "sched/limits.h"

/* Every pCPU the scheduler can name (sched_cpumask_t); APs are started with INIT-SIPI by APIC
 * ID, so beyond 255 the firmware must have put the CPUs in x2APIC mode. */
#define MAX_CPUS SCHED_MAX_PCPUS

#define VEC_NMI          2
#define VEC_HALT_IPI     0xf0   /* stop this CPU: the machine is halting */
#define VEC_SPURIOUS     0xff

/* Register state saved by the interrupt stubs (isr.S), lowest address first. */
struct irq_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*irq_handler_fn)(struct irq_frame *frame);

struct percpu {
    struct percpu *self; /* at %gs:0 */
    uint32_t index;      /* 0 = the bootstrap CPU */
    uint32_t apic_id;
    uint64_t stack_top;  /* the stack the CPU runs its C code on */
    volatile bool online;
};

/* Index of the calling CPU (0 until per-CPU data is set up on the bootstrap CPU). */
uint32_t cpu_index(void);
struct percpu *this_cpu(void);
struct percpu *cpu_get(uint32_t index);

/* Build the GDT/IDT and per-CPU data of the bootstrap CPU and load them. */
void cpu_init_bsp(uint32_t apic_id);
/* Allocate the stacks of CPU INDEX, to be started later; NULL when out of memory. */
struct percpu *cpu_prepare(uint32_t index, uint32_t apic_id);
/* Load the GDT, TSS, IDT and GS base on the calling CPU (APs, first thing in C). */
void cpu_load_tables(struct percpu *cpu);

/* The bootstrap CPU, once: remember its CR0, CR4, PAT and MTRRs (as the firmware left them:
 * caches on, write-back RAM).  Each AP then takes the same with cpu_match_bsp: after
 * INIT-SIPI an AP starts with CR0.CD and CR0.NW set, caches disabled (SDM Vol. 3A 10.1.1), and
 * INIT does not touch the MTRRs a firmware may have left different.  Returns the AP's CR0. */
void cpu_record_bsp(void);
uint64_t cpu_match_bsp(void);

/* Install a handler for an interrupt vector (32..255). */
void irq_register(uint8_t vector, irq_handler_fn fn);

/* Run the handler of VECTOR and signal EOI, as if it had arrived through the IDT (for
 * interrupts acknowledged by a VM exit). */
void irq_deliver(uint8_t vector);

/* An NMI for the host, taken through the IDT or reported by a VM exit (VT-x NMI exiting):
 * while the machine halts it stops this CPU; any other NMI is counted and ignored. */
void cpu_host_nmi(void);

/* Raise the self-test exception named by the configuration (CFG_FAULT_*). */
void cpu_inject_fault(int which);

#endif
