/* A builder for 4-level radix page tables, shared by every table format the VMM writes: its
 * own x86-64 page tables (SDM Vol. 3A 4.5), and later EPT (SDM Vol. 3C 29.3) and NPT (APM
 * Vol. 2 15.25, the same format as x86-64).  The format says which bits mean what; memory for
 * tables comes through callbacks, so the builder is pure and is unit-tested on the host. */
#ifndef VSCHED_VMM_PAGETABLE_H
#define VSCHED_VMM_PAGETABLE_H

#include <stdbool.h>
#include <stdint.h>

#define PT_SIZE_4K (1ull << 12)
#define PT_SIZE_2M (1ull << 21)
#define PT_SIZE_1G (1ull << 30)

/* x86-64 entry bits */
#define PTE_P   (1ull << 0)
#define PTE_RW  (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS  (1ull << 7)
#define PTE_NX  (1ull << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ull

struct pt_format {
    uint64_t table_bits;   /* bits of an entry that points to a next-level table */
    uint64_t present_mask; /* an entry is present if any of these bits is set */
    uint64_t large_bit;    /* marks a 2 MiB / 1 GiB leaf */
};

struct pt_mem {
    /* A zeroed 4 KiB page for a table: its physical address, or 0 when out of memory. */
    uint64_t (*alloc_table)(void *ctx);
    /* The table at physical address PA, as a pointer. */
    uint64_t *(*table)(void *ctx, uint64_t pa);
    void *ctx;
};

extern const struct pt_format pt_format_x86;

/* Tables handed out in order from [next, end) of a memory image MEM whose byte 0 is physical
 * address 0 (a guest's memory, where the guest's own first page tables go). */
struct pt_linear {
    uint8_t *mem;
    uint64_t next, end;
};
/* The pt_mem over A (A must outlive it). */
struct pt_mem pt_linear_mem(struct pt_linear *a);

/* Map [va, va+size) to [pa, pa+size) with leaf bits LEAF_BITS (the large bit is added by the
 * builder), using pages up to MAX_PAGE (PT_SIZE_4K, _2M or _1G).  Existing mappings in the
 * range are replaced; a large leaf that is only partly covered is split first, keeping the
 * rest of its mapping.  va, pa and size must be 4 KiB aligned.  Returns 0, or -1 when a table
 * could not be allocated (the range may then be partly mapped). */
int pt_map(const struct pt_format *fmt, const struct pt_mem *mem, uint64_t root, uint64_t va,
           uint64_t pa, uint64_t size, uint64_t leaf_bits, uint64_t max_page);

/* Translate VA.  Returns true and the physical address, leaf bits (address removed) and page
 * size when mapped. */
bool pt_lookup(const struct pt_format *fmt, const struct pt_mem *mem, uint64_t root,
               uint64_t va, uint64_t *pa, uint64_t *leaf_bits, uint64_t *page_size);

#endif
