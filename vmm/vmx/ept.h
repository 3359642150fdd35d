/* EPT (SDM Vol. 3C 29.3): the format of its entries for the shared page-table builder
 * (vmm/pagetable.h), and the EPT pointer.  Pure; unit-tested. */
#ifndef VSCHED_VMX_EPT_H
#define VSCHED_VMX_EPT_H

#include <stdint.h>

#include "vmm/pagetable.h"

#define EPT_READ    (1ull << 0)
#define EPT_WRITE   (1ull << 1)
#define EPT_EXEC    (1ull << 2)
#define EPT_RWX     (EPT_READ | EPT_WRITE | EPT_EXEC)
#define EPT_MT_WB   (6ull << 3)  /* memory type of a leaf (29.3.7) */
#define EPT_LARGE   (1ull << 7)

extern const struct pt_format ept_format;

/* Leaf bits of guest RAM: readable, writable, executable, write-back. */
#define EPT_LEAF_RAM (EPT_RWX | EPT_MT_WB)

/* EPTP for a 4-level table at ROOT, write-back paging-structure accesses (25.6.11). */
static inline uint64_t ept_pointer(uint64_t root)
{
    return root | 6ull | (3ull << 3);
}

#endif
