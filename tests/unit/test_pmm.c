/* Unit and property tests for the physical page allocator bookkeeping (vmm/pmm.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/pmm.h"

#define MiB (1ull << 20)

static struct pmm p;

static void check_sorted_merged(void)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < p.count; i++) {
        assert_true(p.ranges[i].base < p.ranges[i].end);
        assert_int_equal(p.ranges[i].base % PAGE_SIZE, 0);
        assert_int_equal(p.ranges[i].end % PAGE_SIZE, 0);
        if (i)
            assert_true(p.ranges[i - 1].end < p.ranges[i].base); /* sorted, not touching */
        sum += p.ranges[i].end - p.ranges[i].base;
    }
    assert_int_equal(sum, p.free_bytes);
}

static void test_add_trims_and_merges(void **state)
{
    (void)state;
    pmm_init(&p);
    assert_int_equal(pmm_add(&p, 0x1001, 0x3000), 0); /* -> [0x2000, 0x4000) */
    assert_int_equal(p.count, 1);
    assert_int_equal(p.ranges[0].base, 0x2000);
    assert_int_equal(p.ranges[0].end, 0x4000);
    assert_int_equal(pmm_add(&p, 0x4000, 0x1000), 0); /* joins on the right */
    assert_int_equal(pmm_add(&p, 0x8000, 0x1000), 0); /* separate */
    assert_int_equal(pmm_add(&p, 0x5000, 0x3000), 0); /* bridges both */
    assert_int_equal(p.count, 1);
    assert_int_equal(p.ranges[0].end, 0x9000);
    assert_int_equal(pmm_add(&p, 0x100, 0x200), 0); /* no whole page: ignored */
    assert_int_equal(pmm_add(&p, 0x3000, 0x1000), -1); /* overlap */
    assert_int_equal(p.free_bytes, 0x7000);
    check_sorted_merged();
}

static void test_alloc_from_top_below_limit(void **state)
{
    (void)state;
    pmm_init(&p);
    pmm_add(&p, 1 * MiB, 3 * MiB);   /* [1, 4) MiB */
    pmm_add(&p, 8 * MiB, 8 * MiB);   /* [8, 16) MiB */
    assert_int_equal(pmm_alloc(&p, 1, PAGE_SIZE, 0), 16 * MiB - PAGE_SIZE);
    assert_int_equal(pmm_alloc(&p, 1, PAGE_SIZE, 4 * MiB), 4 * MiB - PAGE_SIZE);
    /* 2 MiB aligned, 2 MiB long, below 16 MiB: [12, 14) MiB (14-16 is no longer whole). */
    assert_int_equal(pmm_alloc(&p, 512, 2 * MiB, 0), 12 * MiB);
    /* Nothing of 8 MiB is left. */
    assert_int_equal(pmm_alloc(&p, 2048, PAGE_SIZE, 0), 0);
    /* Bad arguments. */
    assert_int_equal(pmm_alloc(&p, 0, PAGE_SIZE, 0), 0);
    assert_int_equal(pmm_alloc(&p, 1, 3 * PAGE_SIZE, 0), 0);
    assert_int_equal(pmm_alloc(&p, 1, 1024, 0), 0);
    check_sorted_merged();
}

static void test_free_and_double_free(void **state)
{
    (void)state;
    pmm_init(&p);
    pmm_add(&p, 0, 16 * PAGE_SIZE);
    uint64_t a = pmm_alloc(&p, 4, PAGE_SIZE, 0);
    uint64_t b = pmm_alloc(&p, 4, PAGE_SIZE, 0);
    assert_int_equal(a, 12 * PAGE_SIZE);
    assert_int_equal(b, 8 * PAGE_SIZE);
    assert_int_equal(pmm_free(&p, a, 4), 0);
    assert_int_equal(pmm_free(&p, a, 4), -1); /* double free */
    assert_int_equal(pmm_free(&p, a + 1, 1), -1); /* unaligned */
    assert_int_equal(pmm_free(&p, b, 4), 0);
    assert_int_equal(p.count, 1);
    assert_int_equal(p.free_bytes, 16 * PAGE_SIZE);
    check_sorted_merged();
}

/* Random allocations and frees never hand out a page twice and give everything back. */
static void test_random_alloc_free(void **state)
{
    (void)state;
    enum { N = PMM_MAX_RANGES - 16 }; /* fragments stay below the table size */
    struct { uint64_t pa, pages; } live[N];
    int nlive = 0;
    srand(7);
    for (int seed = 0; seed < 20; seed++) {
        pmm_init(&p);
        for (int r = 0; r < 8; r++)
            pmm_add(&p, (uint64_t)(r * 64 + (rand() % 16)) * MiB, (uint64_t)(1 + rand() % 32) * MiB);
        uint64_t total = p.free_bytes;
        nlive = 0;
        for (int step = 0; step < 3000; step++) {
            if (nlive < N && (rand() % 3 || nlive == 0)) {
                uint64_t pages = 1 + (uint64_t)(rand() % 64);
                uint64_t align = PAGE_SIZE << (rand() % 4);
                uint64_t limit = rand() % 4 ? 0 : (uint64_t)(rand() % 600) * MiB;
                uint64_t pa = pmm_alloc(&p, pages, align, limit);
                if (!pa)
                    continue;
                assert_int_equal(pa % align, 0);
                if (limit)
                    assert_true(pa + pages * PAGE_SIZE <= limit);
                for (int i = 0; i < nlive; i++) /* no overlap with anything live */
                    assert_true(pa + pages * PAGE_SIZE <= live[i].pa ||
                                live[i].pa + live[i].pages * PAGE_SIZE <= pa);
                live[nlive].pa = pa;
                live[nlive++].pages = pages;
            } else {
                int k = rand() % nlive;
                assert_int_equal(pmm_free(&p, live[k].pa, live[k].pages), 0);
                live[k] = live[--nlive];
            }
            check_sorted_merged();
        }
        while (nlive) {
            nlive--;
            assert_int_equal(pmm_free(&p, live[nlive].pa, live[nlive].pages), 0);
        }
        assert_int_equal(p.free_bytes, total);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_trims_and_merges),
        cmocka_unit_test(test_alloc_from_top_below_limit),
        cmocka_unit_test(test_free_and_double_free),
        cmocka_unit_test(test_random_alloc_free),
    };
    return cmocka_run_group_tests_name("pmm", tests, NULL, NULL);
}
