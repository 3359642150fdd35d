/* bad: misbehaves as `mode=` says, so tests can check that the VMM stops it alone with a clear
 * report.  It says what it is about to do first; if it survives, it says so and exits 99. */
#include <string.h>

#include "guest/rt/rt.h"

#define PTE_P    1ull
#define PTE_RW   2ull
#define PTE_PS   (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull
#define ONE_GIB  (1ull << 30)
#define SPARE_VA (1ull << 39) /* PML4 slot 1: beyond any guest memory (at most 4 GiB) */

static uint64_t spare_pdpt[512] __attribute__((aligned(4096)));
static uint64_t spare_pd[512] __attribute__((aligned(4096)));

/* Map the 2 MiB page at guest-physical GPA (2 MiB aligned) at SPARE_VA, through tables added to
 * our own page tables (PML4 at CR3, in our memory; the identity map of our memory stays as it
 * is), and return that virtual address. */
static volatile uint64_t *map_spare(uint64_t gpa)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    uint64_t *pml4 = (uint64_t *)(uintptr_t)(cr3 & PTE_ADDR);
    spare_pd[0] = gpa | PTE_P | PTE_RW | PTE_PS;
    spare_pdpt[0] = (uint64_t)(uintptr_t)spare_pd | PTE_P | PTE_RW;
    pml4[1] = (uint64_t)(uintptr_t)spare_pdpt | PTE_P | PTE_RW;
    __asm__ volatile("invlpg (%0)" : : "r"(SPARE_VA) : "memory");
    return (volatile uint64_t *)SPARE_VA;
}

int guest_main(uint32_t vcpu, const struct guest_boot_info *bi)
{
    char mode[32] = "";
    if (vcpu != 0)
        return 0;
    rt_arg_str(bi->args, "mode", mode, sizeof(mode));
    rt_printf("bad: about to %s\n", mode);
    if (!strcmp(mode, "write_outside")) {
        *map_spare(bi->memory_bytes) = 0xbad;           /* just above our memory */
    } else if (!strcmp(mode, "write_vmm")) {
        *map_spare(4 * ONE_GIB) = 0xbad;                /* GPA 4 GiB: the VMM's side */
    } else if (!strcmp(mode, "invalid_insn")) {
        /* No IDT (drop the runtime's): #UD cannot be delivered (#DF neither), so the VMM sees
         * a triple fault (shutdown) and stops the VM; it does not emulate or skip the
         * instruction. */
        struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr = { 0, 0 };
        __asm__ volatile("lidt %0; ud2" : : "m"(idtr));
    } else if (!strcmp(mode, "exception")) {
        /* With the runtime's IDT: its handler reports the #UD and exits 106. */
        __asm__ volatile("ud2");
    } else if (!strcmp(mode, "bad_hypercall")) {
        hc_print((const void *)(uintptr_t)(bi->memory_bytes + 4096), 16);
    } else if (!strcmp(mode, "bad_hypercall_nr")) {
        hypercall(999, 0, 0, 0);
    } else if (!strcmp(mode, "magic_break")) {
        /* Bochs' magic breakpoint: with magic_break on, Bochs stops the whole machine in its
         * debugger.  Under the VMM it must be a plain no-op, so this guest survives. */
        __asm__ volatile("xchg %%bx, %%bx" ::: "memory");
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
