/* The test guests' runtime: console on COM1, hypercalls, time, CPUID/MSR helpers, arguments.
 * Guest ABI v1 (guest/README.md); nothing here depends on the VMM's code except the shared ABI
 * header (vmm/guest_abi.h) and the formatter (vmm/fmt.c). */
#ifndef VSCHED_GUEST_RT_H
#define VSCHED_GUEST_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_abi.h"

/* Each guest defines this.  vCPU 0's return value is the VM's exit status; the other vCPUs
 * halt when they return. */
int guest_main(uint32_t vcpu, const struct guest_boot_info *bi);

void rt_putc(char c);
void rt_puts(const char *s);
void rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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
uint32_t rt_x2apic_id(void); /* MSR 0x802; needs the VMM's virtual x2APIC */

/* `key=value` words separated by spaces. */
uint64_t rt_arg_u64(const char *args, const char *key, uint64_t dflt);
/* Copies the value of KEY into BUF (NUL-terminated); false when absent. */
bool rt_arg_str(const char *args, const char *key, char *buf, size_t size);

static inline void rt_pause(void)
{
    __asm__ volatile("pause" ::: "memory");
}

#endif
