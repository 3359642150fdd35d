/* The VMM's memory: the physical page allocator over the firmware's map, and the VMM's own
 * identity-mapped page tables. */
#ifndef VSCHED_VMM_MEM_H
#define VSCHED_VMM_MEM_H

#include <stdint.h>

#include "vmm/bootinfo.h"
#include "vmm/pagetable.h"

/* Take over memory: free RAM to the allocator, build and load the VMM's page tables, print
 * the memory summary.  BSP only, once. */
void mem_init(const struct boot_info *bi);
/* CR3 of the VMM's page tables (below 4 GiB, so 32-bit start-up code can load it). */
uint64_t mem_vmm_cr3(void);
/* Zeroed pages; 0 when out of memory.  Safe on every CPU. */
uint64_t phys_alloc_pages(uint64_t pages);
uint64_t phys_alloc_pages_below(uint64_t pages, uint64_t limit);
/* Zeroed, ALIGN-aligned (a power of two >= 4096) contiguous pages, e.g. guest memory. */
uint64_t phys_alloc_aligned(uint64_t pages, uint64_t align);
void phys_free_pages(uint64_t pa, uint64_t pages);
/* Table memory for the page-table builder from the allocator (identity-mapped), e.g. for
 * nested page tables. */
extern const struct pt_mem phys_pt_mem;

#endif
