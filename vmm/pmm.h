/* Physical page allocator bookkeeping: a sorted list of free ranges.  Pure (no hardware, no
 * locking): mem.c wraps one instance for the VMM under a lock; the unit tests drive it alone.
 * Allocation takes the highest fitting pages below a limit, so low memory (wanted for AP
 * start-up code and 32-bit addresses) is the last to go. */
#ifndef VSCHED_VMM_PMM_H
#define VSCHED_VMM_PMM_H

#include <stdbool.h>
#include <stdint.h>

#define PAGE_SIZE 4096ull
#define PMM_MAX_RANGES 256

struct pmm_range {
    uint64_t base, end; /* free pages [base, end), page-aligned */
};

struct pmm {
    struct pmm_range ranges[PMM_MAX_RANGES];
    uint32_t count;
    uint64_t free_bytes;
};

void pmm_init(struct pmm *p);
/* Add [base, base+len) as free, trimmed inward to whole pages and merged with neighbours.
 * Returns -1 if it overlaps free memory already known or the table is full. */
int pmm_add(struct pmm *p, uint64_t base, uint64_t len);
/* PAGES pages aligned to ALIGN bytes (a power of two >= 4096), wholly below LIMIT (0 = no
 * limit).  Returns the physical address, or 0 when nothing fits. */
uint64_t pmm_alloc(struct pmm *p, uint64_t pages, uint64_t align, uint64_t limit);
/* Give back pages from pmm_alloc (or pmm_add).  Returns -1 on a double free, or when the
 * free list is full (PMM_MAX_RANGES fragments): the pages then stay allocated. */
int pmm_free(struct pmm *p, uint64_t pa, uint64_t pages);
uint64_t pmm_largest(const struct pmm *p);

#endif
