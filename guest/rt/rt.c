#include "guest/rt/rt.h"

#include <stdarg.h>
#include <string.h>

#include "vmm/fmt.h"

#define COM1 0x3f8
#define SPINS_BEFORE_YIELD 4096

static bool amd; /* VMMCALL rather than VMCALL */
static struct rt_spinlock console_lock;
static const struct guest_boot_info *boot_info;

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

void rt_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

void rt_start(uint32_t vcpu, const struct guest_boot_info *bi)
{
    uint32_t r[4];
    rt_cpuid(0, 0, r);
    amd = r[1] == 0x68747541u; /* "Auth"enticAMD; anything else uses VMCALL */
    boot_info = bi;
    rt_irq_init(vcpu);
    int status = guest_main(vcpu, bi);
    if (vcpu == 0)
        hc_exit(status);
}

void rt_spin_lock(struct rt_spinlock *l)
{
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
        unsigned spins = 0;
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED)) {
            rt_pause();
            if (++spins == SPINS_BEFORE_YIELD) {
                hc_yield();
                spins = 0;
            }
        }
    }
}

void rt_spin_unlock(struct rt_spinlock *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

void rt_putc(char c)
{
    __asm__ volatile("outb %0, %1" : : "a"((uint8_t)c), "Nd"((uint16_t)COM1));
}

void rt_puts(const char *s)
{
    rt_spin_lock(&console_lock);
    while (*s)
        rt_putc(*s++);
    rt_spin_unlock(&console_lock);
}

void rt_puts_fatal(const char *s)
{
    /* The lock may be held by this very vCPU (a fault inside rt_puts): take it if it comes
     * free within a few yields, print regardless. */
    bool locked = false;
    for (unsigned i = 0; i < 64 && !locked; i++) {
        for (unsigned spins = 0; spins < SPINS_BEFORE_YIELD && !locked; spins++) {
            locked = !__atomic_exchange_n(&console_lock.locked, 1, __ATOMIC_ACQUIRE);
            rt_pause();
        }
        if (!locked)
            hc_yield();
    }
    while (*s)
        rt_putc(*s++);
    if (locked)
        rt_spin_unlock(&console_lock);
}

void rt_printf(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    rt_puts(buf);
}

int64_t hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    int64_t ret;
    if (amd)
        __asm__ volatile("vmmcall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2) : "memory");
    else
        __asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2) : "memory");
    return ret;
}

int64_t hc_print(const void *buf, uint64_t len)
{
    return hypercall(HC_PRINT, (uint64_t)(uintptr_t)buf, len, 0);
}

void hc_exit(int64_t status)
{
    hypercall(HC_EXIT, (uint64_t)status, 0, 0);
    for (;;)
        __asm__ volatile("cli; hlt");
}

uint64_t hc_time_ns(void)
{
    return (uint64_t)hypercall(HC_TIME_NS, 0, 0, 0);
}

void hc_yield(void)
{
    hypercall(HC_YIELD, 0, 0, 0);
}

bool rt_under_vsched(void)
{
    uint32_t r[4];
    rt_cpuid(VSCHED_CPUID_BASE, 0, r);
    return r[1] == VSCHED_SIG_EBX && r[2] == VSCHED_SIG_ECX && r[3] == VSCHED_SIG_EDX;
}

uint64_t rt_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

uint64_t rt_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

void rt_wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

uint32_t rt_x2apic_id(void)
{
    return (uint32_t)rt_rdmsr(0x802);
}

uint32_t rt_vcpu_index(void)
{
    uint64_t rsp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    return (uint32_t)((boot_info->memory_bytes - rsp) / GUEST_STACK_SIZE);
}

uint64_t rt_tsc_hz(void)
{
    if (boot_info && boot_info->tsc_hz)
        return boot_info->tsc_hz;
    uint32_t r[4];
    rt_cpuid(VSCHED_CPUID_BASE, 0, r);
    if (!rt_under_vsched() || r[0] < VSCHED_CPUID_TIMING)
        return 0;
    rt_cpuid(VSCHED_CPUID_TIMING, 0, r);
    return (uint64_t)r[0] * 1000;
}

uint64_t rt_mul_div(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t lo, hi, q, rem;
    __asm__("mulq %3" : "=a"(lo), "=d"(hi) : "a"(a), "rm"(b) : "cc");
    __asm__("divq %4" : "=a"(q), "=d"(rem) : "a"(lo), "d"(hi), "rm"(c) : "cc");
    (void)rem;
    return q;
}
