/* bad: misbehaves as `mode=` says, so tests can check that the VMM stops it alone with a clear
 * report.  It says what it is about to do first; if it survives, it says so and exits 99. */
#include <string.h>

#include "guest/rt/rt.h"

#define PTE_P  1ull
#define PTE_RW 2ull
#define PTE_PS (1ull << 7)
#define ONE_GIB (1ull << 30)

static uint64_t pd_page[512] __attribute__((aligned(4096)));

/* Map virtual [1 GiB, 1 GiB + 2 MiB) to guest-physical GPA in our own page tables (PML4 at
 * CR3, identity map of our memory below 1 GiB), and return that virtual address. */
static volatile uint64_t *map_at_1g(uint64_t gpa)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    uint64_t *pml4 = (uint64_t *)(cr3 & ~0xfffull);
    uint64_t *pdpt = (uint64_t *)(pml4[0] & 0x000ffffffffff000ull);
    pd_page[0] = gpa | PTE_P | PTE_RW | PTE_PS;
    pdpt[1] = (uint64_t)(uintptr_t)pd_page | PTE_P | PTE_RW;
    __asm__ volatile("invlpg (%0)" : : "r"(ONE_GIB) : "memory");
    return (volatile uint64_t *)ONE_GIB;
}

int guest_main(uint32_t vcpu, const struct guest_boot_info *bi)
{
    char mode[32] = "";
    if (vcpu != 0)
        return 0;
    rt_arg_str(bi->args, "mode", mode, sizeof(mode));
    rt_printf("bad: about to %s\n", mode);
    if (!strcmp(mode, "write_outside")) {
        *map_at_1g(bi->memory_bytes) = 0xbad;          /* just above our memory */
    } else if (!strcmp(mode, "write_vmm")) {
        *map_at_1g(4 * ONE_GIB) = 0xbad;               /* far outside: host memory? */
    } else if (!strcmp(mode, "invalid_insn")) {
        __asm__ volatile("ud2");                        /* no IDT: #UD becomes a triple fault */
    } else if (!strcmp(mode, "bad_hypercall")) {
        hc_print((const void *)(uintptr_t)(bi->memory_bytes + 4096), 16);
    } else if (!strcmp(mode, "bad_hypercall_nr")) {
        hypercall(999, 0, 0, 0);
    } else if (!strcmp(mode, "triple_fault")) {
        struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr = { 0, 0 };
        __asm__ volatile("lidt %0; int3" : : "m"(idtr));
    } else {
        rt_printf("bad: unknown mode '%s'\n", mode);
        return 98;
    }
    rt_printf("bad: still alive after %s\n", mode);
    return 99;
}
