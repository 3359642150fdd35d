/* Interrupts (guest ABI v1.1): the IDT, the C side of the entry stubs (rt/irq_stubs.S), and the
 * x2APIC helpers (SDM Vol. 3A 11.12 for the MSR interface, 11.5.4 for the timer). */
#include "guest/rt/rt.h"

#include "vmm/fmt.h"

#define KERNEL_CS  0x08
#define GATE_INTR  0x8eull /* P=1, DPL=0, type 0xE: 64-bit interrupt gate */
#define NR_VECTORS 256

/* x2APIC MSRs */
#define MSR_APIC_BASE    0x1b
#define APIC_BASE_EXTD   (1ull << 10)
#define APIC_BASE_EN     (1ull << 11)
#define MSR_TSC_DEADLINE 0x6e0
#define X2APIC_EOI       0x80b
#define X2APIC_SVR       0x80f
#define X2APIC_ICR       0x830
#define X2APIC_LVT_TIMER 0x832
#define X2APIC_TMICT     0x838 /* initial count */
#define X2APIC_TDCR      0x83e /* divide configuration */
#define X2APIC_SELF_IPI  0x83f

#define SVR_APIC_ENABLE  (1u << 8)
#define LVT_MASKED       (1u << 16)
#define LVT_ONESHOT      (0u << 17)
#define LVT_PERIODIC     (1u << 17)
#define LVT_TSC_DEADLINE (2u << 17)
#define TDCR_DIV_1       0xbu
#define ICR_LEVEL_ASSERT (1u << 14) /* fixed delivery (000), physical, edge */

struct idt_gate {
    uint64_t lo, hi;
};

extern const uint64_t rt_irq_stubs[NR_VECTORS]; /* rt/irq_stubs.S */

static struct idt_gate idt[NR_VECTORS] __attribute__((aligned(4096)));
static volatile uint32_t idt_ready;
static rt_irq_fn handlers[NR_VECTORS];

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP",
    "#SS", "#GP", "#PF", "res", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "res", "res",
    "res", "res", "res", "res", "#HV", "#VC", "#SX", "res",
};

static void idt_build(void)
{
    for (unsigned v = 0; v < NR_VECTORS; v++) {
        uint64_t off = rt_irq_stubs[v];
        idt[v].lo = (off & 0xffff) | (uint64_t)KERNEL_CS << 16 | GATE_INTR << 40 |
                    ((off >> 16) & 0xffff) << 48;
        idt[v].hi = off >> 32;
    }
}

void rt_irq_init(uint32_t vcpu)
{
    if (vcpu == 0) {
        idt_build();
        __atomic_store_n(&idt_ready, 1, __ATOMIC_RELEASE);
    } else {
        /* vCPU 0 may be waiting for our pCPU: give it away now and then. */
        for (unsigned spins = 0; !__atomic_load_n(&idt_ready, __ATOMIC_ACQUIRE);) {
            rt_pause();
            if (++spins == 4096) {
                hc_yield();
                spins = 0;
            }
        }
    }
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

struct rt_jmp *volatile rt_fault_jmp[RT_MAX_VCPUS];
volatile uint64_t rt_fault_error[RT_MAX_VCPUS], rt_fault_rip[RT_MAX_VCPUS];

/* Vectors 0-31: back into RT_TRY if one expects it; else one line, then the VM ends. */
static void __attribute__((noreturn)) exception(uint64_t vector, const struct rt_irq_frame *f)
{
    uint32_t me = rt_vcpu_index();
    struct rt_jmp *j = me < RT_MAX_VCPUS ? rt_fault_jmp[me] : 0;
    if (j) {
        rt_fault_jmp[me] = 0;
        rt_fault_error[me] = f->error;
        rt_fault_rip[me] = f->rip;
        rt_longjmp(j, (int)vector + 1);
    }
    char line[160];
    size_t n = fmt_snprintf(line, sizeof(line), "rt: vcpu %u: exception %lu (%s) error=0x%lx "
                            "rip=0x%lx", rt_vcpu_index(), vector, exception_names[vector],
                            f->error, f->rip);
    if (vector == 14 && n < sizeof(line)) {
        uint64_t cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        n += fmt_snprintf(line + n, sizeof(line) - n, " cr2=0x%lx", cr2);
    }
    if (n < sizeof(line))
        fmt_snprintf(line + n, sizeof(line) - n, ", exit status %lu\n",
                     RT_EXIT_EXCEPTION + vector);
    rt_puts_fatal(line);
    hc_exit((int64_t)(RT_EXIT_EXCEPTION + vector));
}

static void __attribute__((noreturn)) stray(uint64_t vector, const struct rt_irq_frame *f)
{
    char line[128];
    fmt_snprintf(line, sizeof(line), "rt: vcpu %u: stray interrupt %lu (no handler) rip=0x%lx, "
                 "exit status %d\n", rt_vcpu_index(), vector, f->rip, RT_EXIT_STRAY_IRQ);
    rt_puts_fatal(line);
    hc_exit(RT_EXIT_STRAY_IRQ);
}

void rt_irq_dispatch(uint64_t vector, struct rt_irq_frame *frame)
{
    vector &= 0xff;
    if (vector < 32)
        exception(vector, frame);
    rt_irq_fn fn = __atomic_load_n(&handlers[vector], __ATOMIC_ACQUIRE);
    if (!fn)
        stray(vector, frame);
    fn((uint8_t)vector);
}

void rt_irq_install(uint8_t vector, rt_irq_fn fn)
{
    if (vector < 32) {
        char line[96];
        fmt_snprintf(line, sizeof(line), "rt: vcpu %u: rt_irq_install: vector %u is an "
                     "exception\n", rt_vcpu_index(), vector);
        rt_puts_fatal(line);
        hc_exit(RT_EXIT_STRAY_IRQ);
    }
    __atomic_store_n(&handlers[vector], fn, __ATOMIC_RELEASE);
}

/* ---- x2APIC ---- */

bool rt_apic_present(void)
{
    uint32_t r[4];
    rt_cpuid(1, 0, r);
    if (!(r[2] & (1u << 21)))
        return false;
    uint64_t base = rt_rdmsr(MSR_APIC_BASE);
    return (base & (APIC_BASE_EN | APIC_BASE_EXTD)) == (APIC_BASE_EN | APIC_BASE_EXTD);
}

bool rt_apic_has_deadline(void)
{
    uint32_t r[4];
    rt_cpuid(1, 0, r);
    return r[2] & (1u << 24);
}

static void spurious(uint8_t vector)
{
    (void)vector; /* SDM 11.9: a spurious interrupt is not in service: no EOI */
}

void rt_apic_enable(void)
{
    if (!rt_apic_present()) {
        char line[96];
        fmt_snprintf(line, sizeof(line), "rt: vcpu %u: no x2APIC (the VMM lacks guest ABI "
                     "v1.1), exit status %d\n", rt_vcpu_index(), RT_EXIT_STRAY_IRQ);
        rt_puts_fatal(line);
        hc_exit(RT_EXIT_STRAY_IRQ);
    }
    rt_irq_install(RT_APIC_SPURIOUS_VECTOR, spurious);
    rt_wrmsr(X2APIC_SVR, SVR_APIC_ENABLE | RT_APIC_SPURIOUS_VECTOR);
}

void rt_apic_eoi(void)
{
    rt_wrmsr(X2APIC_EOI, 0); /* x2APIC: a non-zero EOI write is a #GP */
}

uint64_t rt_apic_timer_hz(void)
{
    uint32_t r[4];
    rt_cpuid(VSCHED_CPUID_BASE, 0, r);
    if (rt_under_vsched() && r[0] >= VSCHED_CPUID_TIMING) {
        rt_cpuid(VSCHED_CPUID_TIMING, 0, r);
        if (r[1])
            return (uint64_t)r[1] * 1000;
    }
    return rt_tsc_hz();
}

static void timer_count(uint32_t lvt, uint32_t ticks)
{
    rt_wrmsr(X2APIC_TDCR, TDCR_DIV_1);
    rt_wrmsr(X2APIC_LVT_TIMER, lvt);
    rt_wrmsr(X2APIC_TMICT, ticks); /* starts the count-down */
}

void rt_apic_timer_oneshot(uint8_t vector, uint32_t ticks)
{
    timer_count(LVT_ONESHOT | vector, ticks);
}

void rt_apic_timer_periodic(uint8_t vector, uint32_t ticks)
{
    timer_count(LVT_PERIODIC | vector, ticks);
}

void rt_apic_timer_deadline(uint8_t vector, uint64_t tsc)
{
    rt_wrmsr(X2APIC_LVT_TIMER, LVT_TSC_DEADLINE | vector);
    /* SDM 11.5.4.1: a deadline written before the LVT is in TSC-deadline mode is ignored.
     * Both are WRMSRs here; the fence keeps the order explicit (required for the xAPIC's
     * memory-mapped LVT, harmless for x2APIC). */
    __asm__ volatile("mfence" ::: "memory");
    rt_wrmsr(MSR_TSC_DEADLINE, tsc);
}

void rt_apic_timer_stop(void)
{
    static int deadline = -1; /* the MSR is a #GP without CPUID.1:ECX[24] */
    if (deadline < 0)
        deadline = rt_apic_has_deadline();
    if (deadline)
        rt_wrmsr(MSR_TSC_DEADLINE, 0);           /* disarms deadline mode (ignored otherwise) */
    rt_wrmsr(X2APIC_LVT_TIMER, LVT_MASKED | RT_APIC_SPURIOUS_VECTOR); /* one-shot, masked */
    rt_wrmsr(X2APIC_TMICT, 0);                   /* stops one-shot and periodic counting */
}

void rt_apic_send_ipi(uint32_t dest, uint8_t vector)
{
    rt_wrmsr(X2APIC_ICR, (uint64_t)dest << 32 | ICR_LEVEL_ASSERT | vector);
}

void rt_apic_self_ipi(uint8_t vector)
{
    rt_wrmsr(X2APIC_SELF_IPI, vector);
}
