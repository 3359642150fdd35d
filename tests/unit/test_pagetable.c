/* Unit and property tests for the page-table builder (vmm/pagetable.c), with tables in host
 * memory standing in for physical pages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/pagetable.h"
#include "vmm/vmx/ept.h"

/* "Physical" memory for tables: page i lives at fake address (i + 1) * 4096. */
#define MAX_TABLES 4096
static uint64_t (*pages)[512];
static unsigned used, limit;

static uint64_t alloc_table(void *ctx)
{
    (void)ctx;
    if (used >= limit)
        return 0;
    memset(pages[used], 0, sizeof(pages[0]));
    return (uint64_t)(++used) * 4096;
}

static uint64_t *table(void *ctx, uint64_t pa)
{
    (void)ctx;
    assert_true(pa >= 4096 && pa / 4096 <= used && pa % 4096 == 0);
    return pages[pa / 4096 - 1];
}

static const struct pt_mem mem = { alloc_table, table, NULL };

static int setup(void **state)
{
    (void)state;
    pages = calloc(MAX_TABLES, sizeof(pages[0]));
    used = 0;
    limit = MAX_TABLES;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(pages);
    return 0;
}

static void expect_map(uint64_t root, uint64_t va, uint64_t pa, uint64_t bits, uint64_t size)
{
    uint64_t got_pa, got_bits, got_size;
    assert_true(pt_lookup(&pt_format_x86, &mem, root, va, &got_pa, &got_bits, &got_size));
    assert_int_equal(got_pa, pa);
    assert_int_equal(got_bits, bits);
    assert_int_equal(got_size, size);
}

static void test_large_pages_when_aligned(void **state)
{
    (void)state;
    uint64_t root = alloc_table(NULL), rw = PTE_P | PTE_RW;
    /* 4 GiB identity map with 2 MiB pages: 1 PML4 + 1 PDPT + 4 PD tables. */
    assert_int_equal(pt_map(&pt_format_x86, &mem, root, 0, 0, 1ull << 32, rw, PT_SIZE_2M), 0);
    assert_int_equal(used, 6);
    expect_map(root, 0x12345678, 0x12345678, rw, PT_SIZE_2M);
    expect_map(root, 0xfee00abc, 0xfee00abc, rw, PT_SIZE_2M);
    uint64_t pa, bits, size;
    assert_false(pt_lookup(&pt_format_x86, &mem, root, 1ull << 32, &pa, &bits, &size));
    /* With 1 GiB allowed, a fresh 1 GiB-aligned range takes one PDPT entry. */
    assert_int_equal(pt_map(&pt_format_x86, &mem, root, 1ull << 39, 1ull << 32, PT_SIZE_1G, rw,
                            PT_SIZE_1G), 0);
    expect_map(root, (1ull << 39) + 5, (1ull << 32) + 5, rw, PT_SIZE_1G);
}

static void test_unaligned_uses_small_pages(void **state)
{
    (void)state;
    uint64_t root = alloc_table(NULL), rw = PTE_P | PTE_RW;
    /* [2M - 8K, 4M + 8K): two 4K pages, one 2M page, two 4K pages. */
    assert_int_equal(pt_map(&pt_format_x86, &mem, root, 0x1fe000, 0x7fe000, 0x204000, rw,
                            PT_SIZE_2M), 0);
    expect_map(root, 0x1fe000, 0x7fe000, rw, PT_SIZE_4K);
    expect_map(root, 0x1ff123, 0x7ff123, rw, PT_SIZE_4K);
    expect_map(root, 0x200000, 0x800000, rw, PT_SIZE_2M);
    expect_map(root, 0x401fff, 0xa01fff, rw, PT_SIZE_4K);
    uint64_t pa, bits, size;
    assert_false(pt_lookup(&pt_format_x86, &mem, root, 0x402000, &pa, &bits, &size));
    assert_false(pt_lookup(&pt_format_x86, &mem, root, 0x1fd000, &pa, &bits, &size));
}

static void test_split_keeps_rest_of_large_page(void **state)
{
    (void)state;
    uint64_t root = alloc_table(NULL), wb = PTE_P | PTE_RW, uc = wb | PTE_PCD | PTE_PWT;
    assert_int_equal(pt_map(&pt_format_x86, &mem, root, 0xfee00000 & ~(PT_SIZE_2M - 1),
                            0xfee00000 & ~(PT_SIZE_2M - 1), PT_SIZE_2M, wb, PT_SIZE_2M), 0);
    assert_int_equal(pt_map(&pt_format_x86, &mem, root, 0xfee00000, 0xfee00000, PT_SIZE_4K, uc,
                            PT_SIZE_4K), 0);
    expect_map(root, 0xfee00010, 0xfee00010, uc, PT_SIZE_4K);
    expect_map(root, 0xfee01000, 0xfee01000, wb, PT_SIZE_4K);
    expect_map(root, 0xfefff000, 0xfefff000, wb, PT_SIZE_4K);
    /* Remapping the whole 2 MiB again reuses the table, no leak of a new one. */
    unsigned before = used;
    assert_int_equal(pt_map(&pt_format_x86, &mem, root, 0xfee00000 & ~(PT_SIZE_2M - 1), 0,
                            PT_SIZE_2M, wb, PT_SIZE_2M), 0);
    assert_int_equal(used, before);
    expect_map(root, 0xfee00010, 0x10, wb, PT_SIZE_4K);
}

static void test_out_of_memory_reported(void **state)
{
    (void)state;
    uint64_t root = alloc_table(NULL);
    limit = used + 2; /* PDPT and PD only: the 4K table cannot be had */
    assert_int_equal(pt_map(&pt_format_x86, &mem, root, 0x1000, 0x1000, 0x1000, PTE_P,
                            PT_SIZE_2M), -1);
    limit = MAX_TABLES;
}

/* Random maps over a small window agree with a flat model of it, page by page. */
static void test_random_against_model(void **state)
{
    (void)state;
    enum { WINDOW_PAGES = 4 * 512 }; /* 8 MiB at VA 1 GiB - 4 MiB: crosses a PDPT boundary */
    const uint64_t base = (1ull << 30) - 4 * (1ull << 20);
    static uint64_t model_pa[WINDOW_PAGES], model_bits[WINDOW_PAGES];
    srand(11);
    for (int round = 0; round < 30; round++) {
        used = 0;
        uint64_t root = alloc_table(NULL);
        memset(model_pa, 0xff, sizeof(model_pa));
        for (int k = 0; k < 40; k++) {
            uint64_t first = (uint64_t)(rand() % WINDOW_PAGES);
            uint64_t n = 1 + (uint64_t)(rand() % 1024);
            if (rand() % 2) /* often 2 MiB aligned, to exercise large pages and splits */
                first &= ~511ull;
            if (first + n > WINDOW_PAGES)
                n = WINDOW_PAGES - first;
            uint64_t pa = ((uint64_t)(rand() % 64) << 21) + (first % 512) * 4096;
            uint64_t bits = PTE_P | (rand() % 2 ? PTE_RW : 0) | (rand() % 2 ? PTE_PCD : 0);
            uint64_t max = rand() % 2 ? PT_SIZE_2M : PT_SIZE_4K;
            assert_int_equal(pt_map(&pt_format_x86, &mem, root, base + first * 4096, pa,
                                    n * 4096, bits, max), 0);
            for (uint64_t i = 0; i < n; i++) {
                model_pa[first + i] = pa + i * 4096;
                model_bits[first + i] = bits;
            }
        }
        for (uint64_t i = 0; i < WINDOW_PAGES; i++) {
            uint64_t pa, bits, size;
            bool mapped = pt_lookup(&pt_format_x86, &mem, root, base + i * 4096 + 8, &pa, &bits,
                                    &size);
            assert_int_equal(mapped, model_pa[i] != UINT64_MAX);
            if (mapped) {
                assert_int_equal(pa, model_pa[i] + 8);
                assert_int_equal(bits, model_bits[i]);
            }
        }
    }
}

/* EPT for a 16 MiB guest at host 0x40000000: 2 MiB leaves, RWX and write-back, nothing else. */
static void test_ept_guest_memory(void **state)
{
    (void)state;
    uint64_t root = alloc_table(NULL);
    const uint64_t hpa = 0x40000000, size = 16ull << 20;
    assert_int_equal(pt_map(&ept_format, &mem, root, 0, hpa, size, EPT_LEAF_RAM, PT_SIZE_2M), 0);
    assert_int_equal(used, 3); /* the root (PML4), one PDPT, one PD */
    uint64_t *pml4 = table(NULL, root);
    assert_int_equal(pml4[0] & 0xfff, EPT_RWX); /* table entries: RWX, no memory type */
    uint64_t *pdpt = table(NULL, pml4[0] & PTE_ADDR_MASK);
    uint64_t *pd = table(NULL, pdpt[0] & PTE_ADDR_MASK);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(pd[i], (hpa + i * PT_SIZE_2M) | EPT_LEAF_RAM | EPT_LARGE);
    assert_int_equal(pd[8], 0); /* not present: an access there is an EPT violation */
    uint64_t pa, bits, ps;
    assert_true(pt_lookup(&ept_format, &mem, root, 0x123456, &pa, &bits, &ps));
    assert_int_equal(pa, hpa + 0x123456);
    assert_int_equal(bits, EPT_LEAF_RAM);
    assert_false(pt_lookup(&ept_format, &mem, root, size, &pa, &bits, &ps));
    assert_int_equal(ept_pointer(root) & 0xfff, 0x1e); /* WB, 4-level walk */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_large_pages_when_aligned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unaligned_uses_small_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_keeps_rest_of_large_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ept_guest_memory, setup, teardown),
    };
    return cmocka_run_group_tests_name("pagetable", tests, NULL, NULL);
}
