/* The test guests' runtime: console on COM1, hypercalls, time, CPUID/MSR helpers, arguments.
 * Guest ABI v1 (guest/README.md); nothing here depends on the VMM's code except the shared ABI
 * header (vmm/guest_abi.h) and the formatter (vmm/fmt.c). */
#ifndef VSCHED_GUEST_RT_H
#define VSCHED_GUEST_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_abi.h"

/* Each guest defines this.  vCPU 0's return value is the VM's exit status (HC_EXIT); the
 * other vCPUs halt (cli; hlt) when they return. */
int guest_main(uint32_t vcpu, const struct guest_boot_info *bi);
/* Called by crt0.S on every vCPU once .bss is clear: picks the hypercall instruction, runs
 * guest_main, ends the VM with vCPU 0's status. */
void rt_start(uint32_t vcpu, const struct guest_boot_info *bi);

/* A test-and-set lock for a few vCPUs.  A waiter that spins long gives its pCPU away
 * (HC_YIELD): the holder may be a sibling vCPU waiting for that pCPU. */
struct rt_spinlock {
    volatile uint32_t locked;
};
void rt_spin_lock(struct rt_spinlock *l);
void rt_spin_unlock(struct rt_spinlock *l);

/* Console on COM1 (port 0x3F8).  rt_puts and rt_printf hold a console lock, so lines of
 * different vCPUs do not interleave; rt_printf truncates at 255 bytes. */
void rt_putc(char c);
void rt_puts(const char *s);
void rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For a last words before the VM ends (exception reports): takes the console lock if it comes
 * free soon, else prints without it (it may be held by this vCPU, interrupted). */
void rt_puts_fatal(const char *s);

int64_t hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2);
int64_t hc_print(const void *buf, uint64_t len);
void hc_exit(int64_t status) __attribute__((noreturn));
uint64_t hc_time_ns(void);
void hc_yield(void);

bool rt_under_vsched(void);
uint64_t rt_rdtsc(void);
void rt_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]);
uint64_t rt_rdmsr(uint32_t msr);
void rt_wrmsr(uint32_t msr, uint64_t v);
uint32_t rt_x2apic_id(void); /* MSR 0x802; needs the x2APIC (guest ABI v1.1) */

/* `key=value` words separated by spaces; the first KEY counts.  Numbers are decimal or 0x hex;
 * a malformed or empty value gives DFLT. */
uint64_t rt_arg_u64(const char *args, const char *key, uint64_t dflt);
/* Copies the value of KEY into BUF (NUL-terminated); false when absent. */
bool rt_arg_str(const char *args, const char *key, char *buf, size_t size);

/* CR8: the task priority, TPR bits 7:4 (SDM Vol. 3A 11.8.6). */
static inline void rt_write_cr8(uint64_t v)
{
    __asm__ volatile("mov %0, %%cr8" : : "r"(v) : "memory");
}

static inline uint64_t rt_read_cr8(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr8, %0" : "=r"(v));
    return v;
}

static inline void rt_pause(void)
{
    __asm__ volatile("pause" ::: "memory");
}

/* The index of the vCPU running this, from RSP: vCPU i's stack is the 64 KiB below top of
 * memory - i * 64 KiB (guest ABI).  Valid on the stacks the VMM set up, also in interrupt
 * handlers (they run on the interrupted stack). */
uint32_t rt_vcpu_index(void);
/* The guest's TSC rate in Hz: the boot info's tsc_hz, else CPUID 0x40000010 EAX (kHz); 0 if
 * neither says. */
uint64_t rt_tsc_hz(void);
/* A * B / C with a 128-bit intermediate (floor); the quotient must fit in 64 bits (#DE else). */
uint64_t rt_mul_div(uint64_t a, uint64_t b, uint64_t c);

/* ---- Interrupts (guest ABI v1.1) ----
 * rt_start builds an IDT on vCPU 0 (256 64-bit interrupt gates, selector 0x08, DPL 0, no IST)
 * and loads it on every vCPU before guest_main.  Every vector enters through a stub in
 * rt/irq_stubs.S that saves the caller-saved registers and calls rt_irq_dispatch on the interrupted
 * stack, with interrupts off (interrupt gates clear IF).  Vectors 0-31 (exceptions) print one
 * line (`rt: vcpu N: exception V (#XX) error=0x.. rip=0x..`) and end the VM with status
 * RT_EXIT_EXCEPTION + V; a vector >= 32 without a handler prints `rt: vcpu N: stray interrupt
 * V ...` and ends it with RT_EXIT_STRAY_IRQ.  Handlers must not use SSE (the stubs do not save
 * it; guests build with -mgeneral-regs-only) and must not take the console lock. */
#define RT_EXIT_EXCEPTION 100
#define RT_EXIT_STRAY_IRQ 90

/* What the stubs push, lowest address first: the caller-saved registers, then the vector and
 * the error code (0 for vectors without one), then the CPU's frame. */
struct rt_irq_frame {
    uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(sizeof(struct rt_irq_frame) == 16 * 8, "rt/irq_stubs.S frame layout");

/* Expected faults, as XTF tests take them: RT_TRY(BODY) runs the statement BODY; an
 * exception on this vCPU inside it (from CPL 0 or, through the guest's own TSS, from user
 * mode) ends BODY at once and RT_TRY yields its vector, else -1.  rt_fault_error/rip say
 * what the CPU pushed.  One probe per vCPU at a time, not nested; BODY takes no locks. */
#define RT_MAX_VCPUS 64
struct rt_jmp {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip, rflags;
};
int rt_setjmp(struct rt_jmp *j) __attribute__((returns_twice));
void rt_longjmp(struct rt_jmp *j, int value) __attribute__((noreturn));
extern struct rt_jmp *volatile rt_fault_jmp[RT_MAX_VCPUS];
extern volatile uint64_t rt_fault_error[RT_MAX_VCPUS], rt_fault_rip[RT_MAX_VCPUS];
#define RT_TRY(body)                                                                         \
    ({                                                                                       \
        struct rt_jmp rt_j_;                                                                 \
        uint32_t rt_me_ = rt_vcpu_index();                                                   \
        int rt_v_ = rt_setjmp(&rt_j_);                                                       \
        if (rt_v_ == 0) {                                                                    \
            rt_fault_jmp[rt_me_] = &rt_j_;                                                   \
            __asm__ volatile("" ::: "memory");                                               \
            body;                                                                            \
            __asm__ volatile("" ::: "memory");                                               \
            rt_fault_jmp[rt_me_] = 0;                                                        \
            rt_v_ = -1;                                                                      \
        } else {                                                                             \
            rt_v_ -= 1;                                                                      \
        }                                                                                    \
        rt_v_;                                                                               \
    })

typedef void (*rt_irq_fn)(uint8_t vector);
/* Called by rt_start on every vCPU: vCPU 0 builds the IDT, all load it. */
void rt_irq_init(uint32_t vcpu);
/* Called by the entry stubs only. */
void rt_irq_dispatch(uint64_t vector, struct rt_irq_frame *frame);
/* Handler FN for VECTOR (32-255), shared by all vCPUs; NULL removes it.  Exception vectors
 * (0-31) cannot be taken over: asking ends the VM with RT_EXIT_STRAY_IRQ. */
void rt_irq_install(uint8_t vector, rt_irq_fn fn);

static inline void rt_irq_enable(void)
{
    __asm__ volatile("sti" ::: "memory");
}

static inline void rt_irq_disable(void)
{
    __asm__ volatile("cli" ::: "memory");
}

/* Waits for an interrupt: `sti; hlt` back to back, then `cli`, so it returns with interrupts
 * off again (after the handler ran).  Call it with interrupts off, after checking the
 * condition the handler changes:
 *     rt_irq_disable(); while (!done) rt_wait_for_interrupt();
 * That check-then-halt has no lost wake-up: STI holds off interrupts until the end of the next
 * instruction (the STI shadow, SDM Vol. 2B STI), so an interrupt that became pending after the
 * check is taken only once HLT has started, and wakes it (the handler returns to the CLI).
 * Without the shadow, the handler could run between STI and HLT, and HLT would then sleep
 * until some later interrupt.  It may also return after another interrupt: loop. */
static inline void rt_wait_for_interrupt(void)
{
    __asm__ volatile("sti; hlt; cli" ::: "memory");
}

/* x2APIC (MSRs 0x800 + register offset / 16, SDM Vol. 3A 11.12).  Each vCPU programs its own
 * local APIC: call these on the vCPU that wants the interrupts. */
#define RT_APIC_SPURIOUS_VECTOR 0xff
/* CPUID.1:ECX.x2APIC[21] and IA32_APIC_BASE in x2APIC mode (EN and EXTD set). */
bool rt_apic_present(void);
/* CPUID.1:ECX.TSC_DEADLINE[24]. */
bool rt_apic_has_deadline(void);
/* Software-enables this vCPU's APIC: SVR = bit 8 | 0xff, with a handler for the spurious
 * vector 0xff that does not EOI (SDM 11.9).  Ends the VM (status RT_EXIT_STRAY_IRQ, with a
 * line saying why) if rt_apic_present() is false. */
void rt_apic_enable(void);
/* EOI (MSR 0x80B, written with 0): the in-service interrupt is done. */
void rt_apic_eoi(void);
/* The timer's input clock in Hz: CPUID 0x40000010 EBX (kHz) * 1000, else rt_tsc_hz(). */
uint64_t rt_apic_timer_hz(void);
/* The timer, divide-by-1 (0x83E = 0xB), TICKS of rt_apic_timer_hz(): fires once / every
 * TICKS (LVT mode 00 / 01, then the initial count, which starts it; 0 stops it). */
void rt_apic_timer_oneshot(uint8_t vector, uint32_t ticks);
void rt_apic_timer_periodic(uint8_t vector, uint32_t ticks);
/* TSC-deadline mode (LVT mode 10, then IA32_TSC_DEADLINE = TSC; the LVT write comes first,
 * SDM 11.5.4.1): fires once when the TSC reaches TSC (at once if it already has). */
void rt_apic_timer_deadline(uint8_t vector, uint64_t tsc);
/* Disarms the timer in every mode and masks its LVT; an interrupt already pending stays. */
void rt_apic_timer_stop(void);
/* Fixed IPI of VECTOR to the vCPU with x2APIC ID DEST (= its index), physical destination. */
void rt_apic_send_ipi(uint32_t dest, uint8_t vector);
/* Fixed IPI of VECTOR to this vCPU (SELF IPI, MSR 0x83F). */
void rt_apic_self_ipi(uint8_t vector);

#endif
