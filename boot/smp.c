#include "boot/smp.h"

#include <string.h>

#include "vmm/console.h"
#include "vmm/lapic.h"
#include "vmm/mem.h"
#include "vmm/tsc.h"
#include "vmm/vmm.h"

extern char tramp_start[], tramp_end[], tramp_gdt[], tramp_gdtr[], tramp_far32[],
    tramp_far64[], tramp_prot32[], tramp_long[], tramp_cr3[], tramp_stack[], tramp_entry[],
    tramp_arg[];

#define AP_START_TIMEOUT_US 1000000u

/* The copy of trampoline field SYM in the start-up page at BASE. */
#define FIELD(base, sym, type) ((type *)((base) + ((sym) - tramp_start)))

static bool wait_online(struct percpu *cpu, uint64_t us)
{
    uint64_t step = 50;
    for (uint64_t t = 0; t < us; t += step) {
        if (__atomic_load_n(&cpu->online, __ATOMIC_ACQUIRE))
            return true;
        tsc_delay_us(step);
    }
    return __atomic_load_n(&cpu->online, __ATOMIC_ACQUIRE);
}

uint32_t smp_start_aps(const struct boot_info *bi, uint64_t trampoline_pa)
{
    uint8_t *page = (uint8_t *)(uintptr_t)trampoline_pa;
    uint32_t base = (uint32_t)trampoline_pa, started = 0;
    memcpy(page, tramp_start, (size_t)(tramp_end - tramp_start));
    *FIELD(page + 2, tramp_gdtr, uint32_t) = base + (uint32_t)(tramp_gdt - tramp_start);
    *FIELD(page, tramp_far32, uint32_t) = base + (uint32_t)(tramp_prot32 - tramp_start);
    *FIELD(page, tramp_far64, uint32_t) = base + (uint32_t)(tramp_long - tramp_start);
    *FIELD(page, tramp_cr3, uint64_t) = mem_vmm_cr3();
    *FIELD(page, tramp_entry, uint64_t) = (uint64_t)(uintptr_t)vmm_ap_entry;

    for (uint32_t i = 1; i < bi->ncpus; i++) {
        uint32_t apic = bi->apic_ids[i];
        struct percpu *cpu = cpu_prepare(i, apic);
        if (!cpu) {
            kprintf("smp: out of memory for cpu %u's stacks\n", i);
            break;
        }
        *FIELD(page, tramp_stack, uint64_t) = cpu->stack_top;
        *FIELD(page, tramp_arg, uint64_t) = (uint64_t)(uintptr_t)cpu;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        /* INIT, 10 ms, SIPI, 200 us, SIPI (SDM Vol. 3A 8.4.4.1); the second SIPI only if
         * the first did not take. */
        lapic_send_init(apic);
        tsc_delay_us(10000);
        lapic_send_sipi(apic, (uint8_t)(trampoline_pa >> 12));
        if (!wait_online(cpu, 200)) {
            lapic_send_sipi(apic, (uint8_t)(trampoline_pa >> 12));
            if (!wait_online(cpu, AP_START_TIMEOUT_US)) {
                kprintf("smp: cpu %u (apic %u) did not start\n", i, apic);
                continue;
            }
        }
        started++;
    }
    return started;
}
