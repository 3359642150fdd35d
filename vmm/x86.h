/* Thin wrappers over x86-64 instructions the VMM uses.  Nothing here keeps state. */
#ifndef VSCHED_VMM_X86_H
#define VSCHED_VMM_X86_H

#include <stdint.h>

#define MSR_IA32_APIC_BASE       0x0000001bu
#define MSR_IA32_FEATURE_CONTROL 0x0000003au
#define MSR_IA32_VMX_BASIC       0x00000480u
#define MSR_EFER                 0xc0000080u
#define MSR_GS_BASE              0xc0000101u
#define MSR_VM_CR                0xc0010114u

#define CR0_PE  (1ull << 0)
#define CR0_WP  (1ull << 16)
#define CR0_PG  (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_NXE (1ull << 11)

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* rdmsr that returns -1 instead of faulting when the MSR does not exist (#GP is fixed up by
 * the exception handler, see cpu.c). */
int rdmsr_safe(uint32_t msr, uint64_t *value);

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid"
                     : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(subleaf));
    return r;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

#define DEFINE_CR_ACCESS(n)                                                                  \
    static inline uint64_t read_cr##n(void)                                                  \
    {                                                                                        \
        uint64_t v;                                                                          \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                                    \
        return v;                                                                            \
    }                                                                                        \
    static inline void write_cr##n(uint64_t v)                                               \
    {                                                                                        \
        __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");                           \
    }
DEFINE_CR_ACCESS(0)
DEFINE_CR_ACCESS(2)
DEFINE_CR_ACCESS(3)
DEFINE_CR_ACCESS(4)
#undef DEFINE_CR_ACCESS

static inline void cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}

static inline void irq_disable(void)
{
    __asm__ volatile("cli" ::: "memory");
}

static inline void irq_enable(void)
{
    __asm__ volatile("sti" ::: "memory");
}

static inline uint64_t irq_save(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
    return flags;
}

static inline void irq_restore(uint64_t flags)
{
    if (flags & (1u << 9))
        irq_enable();
}

static inline __attribute__((noreturn)) void halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

#endif
