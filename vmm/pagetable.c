#include "vmm/pagetable.h"

#include <string.h>

const struct pt_format pt_format_x86 = {
    .table_bits = PTE_P | PTE_RW,
    .present_mask = PTE_P,
    .large_bit = PTE_PS,
};

static uint64_t level_size(int level) /* level 1 = 4K entries ... 4 = PML4 entries */
{
    return 1ull << (12 + 9 * (level - 1));
}

static unsigned index_at(uint64_t va, int level)
{
    return (unsigned)((va >> (12 + 9 * (level - 1))) & 511);
}

static bool present(const struct pt_format *f, uint64_t e)
{
    return (e & f->present_mask) != 0;
}

static bool is_leaf(const struct pt_format *f, uint64_t e, int level)
{
    return level == 1 || (e & f->large_bit);
}

/* Replace the large leaf *E (at LEVEL) by a table of 512 entries mapping the same memory. */
static int split(const struct pt_format *f, const struct pt_mem *m, uint64_t *e, int level)
{
    uint64_t t = m->alloc_table(m->ctx);
    if (!t)
        return -1;
    uint64_t *child = m->table(m->ctx, t);
    uint64_t base = *e & PTE_ADDR_MASK & ~(level_size(level) - 1);
    uint64_t bits = *e & ~PTE_ADDR_MASK;
    if (level - 1 == 1)
        bits &= ~f->large_bit;
    for (unsigned i = 0; i < 512; i++)
        child[i] = (base + i * level_size(level - 1)) | bits;
    *e = t | f->table_bits;
    return 0;
}

int pt_map(const struct pt_format *f, const struct pt_mem *m, uint64_t root, uint64_t va,
           uint64_t pa, uint64_t size, uint64_t leaf_bits, uint64_t max_page)
{
    while (size) {
        uint64_t *table = m->table(m->ctx, root);
        for (int level = 4;; level--) {
            uint64_t *e = &table[index_at(va, level)];
            uint64_t ls = level_size(level);
            bool fits = level <= 3 && ls <= max_page && !(va & (ls - 1)) && !(pa & (ls - 1)) &&
                        size >= ls;
            /* A whole-page leaf goes here unless a table already hangs from this entry. */
            if (fits && (!present(f, *e) || is_leaf(f, *e, level))) {
                *e = pa | leaf_bits | (level > 1 ? f->large_bit : 0);
                va += ls;
                pa += ls;
                size -= ls;
                break;
            }
            if (!present(f, *e)) {
                uint64_t t = m->alloc_table(m->ctx);
                if (!t)
                    return -1;
                *e = t | f->table_bits;
            } else if (is_leaf(f, *e, level) && split(f, m, e, level) < 0) {
                return -1;
            }
            table = m->table(m->ctx, *e & PTE_ADDR_MASK);
        }
    }
    return 0;
}

bool pt_lookup(const struct pt_format *f, const struct pt_mem *m, uint64_t root, uint64_t va,
               uint64_t *pa, uint64_t *leaf_bits, uint64_t *page_size)
{
    uint64_t *table = m->table(m->ctx, root);
    for (int level = 4; level >= 1; level--) {
        uint64_t e = table[index_at(va, level)];
        if (!present(f, e))
            return false;
        if (is_leaf(f, e, level)) {
            uint64_t ls = level_size(level);
            *pa = (e & PTE_ADDR_MASK & ~(ls - 1)) | (va & (ls - 1));
            *leaf_bits = e & ~PTE_ADDR_MASK & ~(level > 1 ? f->large_bit : 0);
            *page_size = ls;
            return true;
        }
        table = m->table(m->ctx, e & PTE_ADDR_MASK);
    }
    return false;
}

static uint64_t linear_alloc(void *ctx)
{
    struct pt_linear *a = ctx;
    if (a->next + PT_SIZE_4K > a->end)
        return 0;
    uint64_t pa = a->next;
    a->next += PT_SIZE_4K;
    memset(a->mem + pa, 0, PT_SIZE_4K);
    return pa;
}

static uint64_t *linear_table(void *ctx, uint64_t pa)
{
    return (uint64_t *)(((struct pt_linear *)ctx)->mem + pa);
}

struct pt_mem pt_linear_mem(struct pt_linear *a)
{
    return (struct pt_mem){ linear_alloc, linear_table, a };
}
