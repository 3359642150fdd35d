#include "vmm/lapic.h"

#include "vmm/cpu.h"
#include "vmm/tsc.h"
#include "vmm/x86.h"

#define APIC_BASE_X2APIC (1ull << 10)
#define APIC_BASE_ENABLE (1ull << 11)

/* Register offsets in xAPIC MMIO; the x2APIC MSR is 0x800 + offset / 16. */
#define REG_ID    0x020
#define REG_EOI   0x0b0
#define REG_SVR   0x0f0
#define REG_ICR   0x300
#define REG_ICR2  0x310
#define REG_LVT_TIMER 0x320
#define REG_TIMER_INIT 0x380
#define REG_TIMER_CUR  0x390
#define REG_TIMER_DIV  0x3e0
#define LVT_MASKED (1u << 16)

#define ICR_FIXED    (0u << 8)
#define ICR_NMI      (4u << 8)
#define ICR_INIT     (5u << 8)
#define ICR_STARTUP  (6u << 8)
#define ICR_PENDING  (1u << 12)
#define ICR_ASSERT   (1u << 14)
#define ICR_LEVEL    (1u << 15)
#define ICR_ALL_BUT_SELF (3u << 18)

static volatile uint32_t *mmio;
static bool x2apic;
static bool detected;

void lapic_detect(void)
{
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    x2apic = (base & APIC_BASE_X2APIC) != 0;
    mmio = (volatile uint32_t *)(uintptr_t)(base & ~0xfffull & 0x000ffffffffff000ull);
    detected = true;
}

bool lapic_x2apic_mode(void)
{
    return x2apic;
}

uint64_t lapic_mmio_base(void)
{
    return (uint64_t)(uintptr_t)mmio;
}

static uint32_t lapic_read(uint32_t reg)
{
    return x2apic ? (uint32_t)rdmsr(0x800 + reg / 16) : mmio[reg / 4];
}

static void lapic_write(uint32_t reg, uint32_t v)
{
    if (x2apic)
        wrmsr(0x800 + reg / 16, v);
    else
        mmio[reg / 4] = v;
}

void lapic_enable_this(void)
{
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    if (!(base & APIC_BASE_ENABLE))
        wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_ENABLE);
    lapic_write(REG_SVR, 0x100 | 0xff); /* software enable, spurious vector 0xff */
}

uint32_t lapic_id(void)
{
    uint32_t id = lapic_read(REG_ID);
    return x2apic ? id : id >> 24;
}

void lapic_eoi(void)
{
    lapic_write(REG_EOI, 0);
}

static void send_icr(uint32_t dest, uint32_t low)
{
    if (x2apic) {
        wrmsr(0x800 + REG_ICR / 16, ((uint64_t)dest << 32) | low);
        return;
    }
    while (mmio[REG_ICR / 4] & ICR_PENDING)
        cpu_relax();
    mmio[REG_ICR2 / 4] = dest << 24;
    mmio[REG_ICR / 4] = low;
    while (mmio[REG_ICR / 4] & ICR_PENDING)
        cpu_relax();
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
    send_icr(apic_id, ICR_FIXED | ICR_ASSERT | vector);
}

void lapic_send_init(uint32_t apic_id)
{
    send_icr(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
}

void lapic_send_sipi(uint32_t apic_id, uint8_t page)
{
    send_icr(apic_id, ICR_STARTUP | ICR_ASSERT | page);
}

void lapic_nmi_others(void)
{
    if (detected)
        send_icr(0, ICR_NMI | ICR_ASSERT | ICR_ALL_BUT_SELF);
}

/* ---- one-shot timer ---- */

static uint64_t timer_hz;
static volatile bool timer_expired[MAX_CPUS];

static void timer_irq(struct irq_frame *f)
{
    (void)f;
    timer_expired[cpu_index()] = true;
}

/* TSC-deadline mode (SDM Vol. 3A 11.5.4.1), when the CPU has it: the deadline is the TSC
 * value itself, no conversion and no range limit. */
#define LVT_TSC_DEADLINE (2u << 17)
#define MSR_TSC_DEADLINE 0x6e0u
static bool tsc_deadline_mode;

bool lapic_timer_tsc_deadline(void)
{
    return tsc_deadline_mode;
}

void lapic_timer_calibrate(void)
{
    tsc_deadline_mode = (cpuid(1, 0).ecx >> 24) & 1;
    lapic_write(REG_TIMER_DIV, 0xb); /* divide by 1 (SDM Vol. 3A 11.5.4) */
    lapic_write(REG_LVT_TIMER, LVT_MASKED | VEC_APIC_TIMER);
    lapic_write(REG_TIMER_INIT, 0xffffffffu);
    tsc_delay_us(10000);
    uint32_t elapsed = 0xffffffffu - lapic_read(REG_TIMER_CUR);
    lapic_write(REG_TIMER_INIT, 0);
    timer_hz = (uint64_t)elapsed * 100;
    irq_register(VEC_APIC_TIMER, timer_irq);
}

uint64_t lapic_timer_hz(void)
{
    return timer_hz;
}

void lapic_timer_arm(uint64_t deadline_tsc)
{
    timer_expired[cpu_index()] = false;
    if (tsc_deadline_mode) {
        /* The LVT write comes first; a deadline already past fires at once; 0 disarms. */
        lapic_write(REG_LVT_TIMER, LVT_TSC_DEADLINE | VEC_APIC_TIMER);
        wrmsr(MSR_TSC_DEADLINE, deadline_tsc);
        return;
    }
    if (!deadline_tsc || !timer_hz) {
        lapic_write(REG_TIMER_INIT, 0);
        return;
    }
    uint64_t now = rdtsc();
    uint64_t tsc = deadline_tsc > now ? deadline_tsc - now : 1;
    uint64_t ticks = tsc / (tsc_hz() / 1000000 ? tsc_hz() / 1000000 : 1) * timer_hz / 1000000;
    if (ticks == 0)
        ticks = 1;
    if (ticks > 0xffffffffu)
        ticks = 0xffffffffu;
    lapic_write(REG_LVT_TIMER, VEC_APIC_TIMER); /* one-shot, unmasked */
    lapic_write(REG_TIMER_INIT, (uint32_t)ticks);
}

bool lapic_timer_take_expired(void)
{
    uint32_t cpu = cpu_index();
    bool fired = timer_expired[cpu];
    timer_expired[cpu] = false;
    return fired;
}
