#include "vmm/mem.h"

#include <string.h>

#include "vmm/console.h"
#include "vmm/halt.h"
#include "vmm/lapic.h"
#include "vmm/pagetable.h"
#include "vmm/pmm.h"
#include "vmm/spinlock.h"
#include "vmm/x86.h"

#define LOW_MEMORY_END 0x100000ull /* below 1 MiB stays with boot/ (AP start-up code) */
#define FOUR_GIB       0x100000000ul

static struct pmm pmm;
static struct spinlock pmm_lock = SPINLOCK_INIT;
static uint64_t vmm_cr3;
static uint64_t table_pages;

static uint64_t alloc_zeroed(uint64_t pages, uint64_t align, uint64_t limit)
{
    spin_lock(&pmm_lock);
    uint64_t pa = pmm_alloc(&pmm, pages, align, limit);
    spin_unlock(&pmm_lock);
    if (pa)
        memset((void *)(uintptr_t)pa, 0, pages * PAGE_SIZE);
    return pa;
}

uint64_t phys_alloc_pages_below(uint64_t pages, uint64_t limit)
{
    return alloc_zeroed(pages, PAGE_SIZE, limit);
}

uint64_t phys_alloc_aligned(uint64_t pages, uint64_t align)
{
    return alloc_zeroed(pages, align, 0);
}

uint64_t phys_alloc_pages(uint64_t pages)
{
    return phys_alloc_pages_below(pages, 0);
}

void phys_free_pages(uint64_t pa, uint64_t pages)
{
    spin_lock(&pmm_lock);
    int rc = pmm_free(&pmm, pa, pages);
    spin_unlock(&pmm_lock);
    if (rc < 0)
        kprintf("mem: bad free of %lu pages at 0x%lx\n", pages, pa);
}

static uint64_t alloc_table(void *ctx)
{
    (void)ctx;
    uint64_t pa = phys_alloc_pages_below(1, FOUR_GIB);
    table_pages += pa != 0;
    return pa;
}

static uint64_t *table_at(void *ctx, uint64_t pa)
{
    (void)ctx;
    return (uint64_t *)(uintptr_t)pa; /* identity-mapped */
}

static const struct pt_mem vmm_pt_mem = { alloc_table, table_at, NULL };

static uint64_t alloc_any_table(void *ctx)
{
    (void)ctx;
    return phys_alloc_pages(1);
}

const struct pt_mem phys_pt_mem = { alloc_any_table, table_at, NULL };

static bool is_ram(enum boot_mem_type t)
{
    return t == BOOT_MEM_FREE || t == BOOT_MEM_LOADER || t == BOOT_MEM_FIRMWARE ||
           t == BOOT_MEM_ACPI;
}

static bool overlaps_ram(const struct boot_info *bi, uint64_t base, uint64_t size)
{
    for (uint32_t i = 0; i < bi->nmem; i++) {
        const struct boot_mem_range *r = &bi->mem[i];
        if (is_ram(r->type) && r->base < base + size && base < r->base + r->size)
            return true;
    }
    return false;
}

/* Identity map [0, max(4 GiB, top of the map)): RAM write-back, the rest uncached. */
static void build_page_tables(const struct boot_info *bi, uint64_t top)
{
    const uint64_t wb = PTE_P | PTE_RW, uc = PTE_P | PTE_RW | PTE_PCD | PTE_PWT;
    vmm_cr3 = alloc_table(NULL);
    if (!vmm_cr3)
        goto oom;
    for (uint64_t a = 0; a < top; a += PT_SIZE_2M) {
        uint64_t bits = overlaps_ram(bi, a, PT_SIZE_2M) ? wb : uc;
        if (pt_map(&pt_format_x86, &vmm_pt_mem, vmm_cr3, a, a, PT_SIZE_2M, bits, PT_SIZE_2M))
            goto oom;
    }
    /* Device ranges inside a 2 MiB chunk that also holds RAM, and the local APIC. */
    for (uint32_t i = 0; i < bi->nmem; i++) {
        const struct boot_mem_range *r = &bi->mem[i];
        if (r->type == BOOT_MEM_MMIO &&
            pt_map(&pt_format_x86, &vmm_pt_mem, vmm_cr3, r->base, r->base, r->size, uc,
                   PT_SIZE_2M))
            goto oom;
    }
    uint64_t apic = lapic_mmio_base();
    if (!lapic_x2apic_mode() &&
        pt_map(&pt_format_x86, &vmm_pt_mem, vmm_cr3, apic, apic, PT_SIZE_4K, uc, PT_SIZE_4K))
        goto oom;
    write_cr3(vmm_cr3);
    return;
oom:
    kprintf("mem: out of memory building the VMM page tables\n");
    machine_halt(HALT_BOOT);
}

void mem_init(const struct boot_info *bi)
{
    uint64_t top = 0, ram_total = 0;
    uint32_t bad = 0;
    pmm_init(&pmm);
    for (uint32_t i = 0; i < bi->nmem; i++) {
        const struct boot_mem_range *r = &bi->mem[i];
        if (r->base + r->size > top && r->type != BOOT_MEM_MMIO)
            top = r->base + r->size;
        if (is_ram(r->type))
            ram_total += r->size;
        if (r->type != BOOT_MEM_FREE)
            continue;
        uint64_t base = r->base, end = r->base + r->size;
        if (end <= LOW_MEMORY_END)
            continue;
        if (base < LOW_MEMORY_END)
            base = LOW_MEMORY_END;
        bad += pmm_add(&pmm, base, end - base) < 0;
    }
    uint64_t free_bytes = pmm.free_bytes, largest = pmm_largest(&pmm);
    uint32_t free_ranges = pmm.count;
    build_page_tables(bi, top > FOUR_GIB ? (top + PT_SIZE_2M - 1) & ~(PT_SIZE_2M - 1)
                                         : FOUR_GIB);
    kprintf("mem: %u firmware map entries, RAM %lu MiB, free %lu MiB in %u ranges "
            "(largest %lu MiB), top 0x%lx\n",
            bi->firmware_map_entries, ram_total >> 20, free_bytes >> 20, free_ranges,
            largest >> 20, top);
    kprintf("mem: VMM page tables at 0x%lx, %lu pages, identity map of %lu GiB\n", vmm_cr3,
            table_pages, (uint64_t)((top > FOUR_GIB ? top : FOUR_GIB) >> 30));
    if (bad)
        kprintf("mem: %u overlapping or excess free ranges ignored\n", bad);
}

uint64_t mem_vmm_cr3(void)
{
    return vmm_cr3;
}
