#include "guest/rt/rt.h"

#include <stdarg.h>
#include <string.h>

#include "vmm/fmt.h"

#define COM1 0x3f8

static bool amd; /* VMMCALL rather than VMCALL */
static const struct guest_boot_info *boot;

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
    amd = r[1] == 0x68747541u; /* "Auth"enticAMD */
    if (vcpu == 0)
        boot = bi;
    int status = guest_main(vcpu, bi);
    if (vcpu == 0)
        hc_exit(status);
}

void rt_putc(char c)
{
    __asm__ volatile("outb %0, %1" : : "a"((uint8_t)c), "Nd"((uint16_t)COM1));
}

void rt_puts(const char *s)
{
    while (*s)
        rt_putc(*s++);
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

/* The value of KEY in ARGS: a pointer into ARGS and its length, or NULL. */
static const char *arg_find(const char *args, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    for (const char *p = args; *p;) {
        while (*p == ' ')
            p++;
        const char *word = p;
        while (*p && *p != ' ')
            p++;
        if ((size_t)(p - word) > klen && memcmp(word, key, klen) == 0 && word[klen] == '=') {
            *len = (size_t)(p - word) - klen - 1;
            return word + klen + 1;
        }
    }
    return NULL;
}

uint64_t rt_arg_u64(const char *args, const char *key, uint64_t dflt)
{
    size_t len;
    const char *v = arg_find(args, key, &len);
    if (!v || !len)
        return dflt;
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return dflt;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    return n;
}

bool rt_arg_str(const char *args, const char *key, char *buf, size_t size)
{
    size_t len;
    const char *v = arg_find(args, key, &len);
    if (!v || !size)
        return false;
    if (len >= size)
        len = size - 1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return true;
}
