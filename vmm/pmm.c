#include "vmm/pmm.h"

#include <string.h>

void pmm_init(struct pmm *p)
{
    memset(p, 0, sizeof(*p));
}

static void remove_at(struct pmm *p, uint32_t i)
{
    memmove(&p->ranges[i], &p->ranges[i + 1], (p->count - i - 1) * sizeof(p->ranges[0]));
    p->count--;
}

/* Insert free [base, end) keeping the list sorted and merged. */
static int insert(struct pmm *p, uint64_t base, uint64_t end)
{
    uint32_t i = 0;
    while (i < p->count && p->ranges[i].base < base)
        i++;
    if ((i > 0 && p->ranges[i - 1].end > base) || (i < p->count && p->ranges[i].base < end))
        return -1; /* overlaps what is already free */
    bool join_prev = i > 0 && p->ranges[i - 1].end == base;
    bool join_next = i < p->count && p->ranges[i].base == end;
    if (join_prev && join_next) {
        p->ranges[i - 1].end = p->ranges[i].end;
        remove_at(p, i);
    } else if (join_prev) {
        p->ranges[i - 1].end = end;
    } else if (join_next) {
        p->ranges[i].base = base;
    } else {
        if (p->count == PMM_MAX_RANGES)
            return -1;
        memmove(&p->ranges[i + 1], &p->ranges[i], (p->count - i) * sizeof(p->ranges[0]));
        p->ranges[i] = (struct pmm_range){ base, end };
        p->count++;
    }
    p->free_bytes += end - base;
    return 0;
}

int pmm_add(struct pmm *p, uint64_t base, uint64_t len)
{
    uint64_t start = (base + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    uint64_t end = (base + len) & ~(PAGE_SIZE - 1);
    if (len == 0 || base + len < base || end <= start)
        return 0; /* nothing whole to add */
    return insert(p, start, end);
}

uint64_t pmm_alloc(struct pmm *p, uint64_t pages, uint64_t align, uint64_t limit)
{
    if (!pages || align < PAGE_SIZE || (align & (align - 1)))
        return 0;
    uint64_t size = pages * PAGE_SIZE;
    for (uint32_t k = p->count; k > 0; k--) {
        struct pmm_range *r = &p->ranges[k - 1];
        uint64_t top = limit && r->end > limit ? limit : r->end;
        if (top < r->base + size)
            continue;
        uint64_t pa = (top - size) & ~(align - 1);
        if (pa < r->base)
            continue;
        /* Carve [pa, pa+size) out of r: up to two pieces remain. */
        uint64_t old_end = r->end;
        if (pa == r->base && pa + size == old_end) {
            remove_at(p, k - 1);
        } else if (pa == r->base) {
            r->base = pa + size;
        } else if (pa + size == old_end) {
            r->end = pa;
        } else {
            if (p->count == PMM_MAX_RANGES)
                continue; /* cannot split; try another range */
            r->end = pa;
            memmove(&p->ranges[k + 1], &p->ranges[k], (p->count - k) * sizeof(p->ranges[0]));
            p->ranges[k] = (struct pmm_range){ pa + size, old_end };
            p->count++;
        }
        p->free_bytes -= size;
        return pa;
    }
    return 0;
}

int pmm_free(struct pmm *p, uint64_t pa, uint64_t pages)
{
    if (!pages || (pa & (PAGE_SIZE - 1)))
        return -1;
    return insert(p, pa, pa + pages * PAGE_SIZE);
}

uint64_t pmm_largest(const struct pmm *p)
{
    uint64_t best = 0;
    for (uint32_t i = 0; i < p->count; i++)
        if (p->ranges[i].end - p->ranges[i].base > best)
            best = p->ranges[i].end - p->ranges[i].base;
    return best;
}
