/* Unit tests for reading guest instructions (vmm/guest_insn.c): page walks through page tables
 * built here, and MOV CR/DR decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "vmm/guest_insn.h"

#define MEM (8u << 20)
static uint8_t mem[MEM];

static void put64(uint64_t gpa, uint64_t v)
{
    memcpy(mem + gpa, &v, 8);
}

/* PML4 at 0x1000.  VA 0x400000 -> 4 KiB page at GPA 0x300000 (PT at 0x4000), VA 0x401000 ->
 * GPA 0x302000; VA 0x600000 -> 2 MiB page at GPA 0x600000; VA 1 GiB -> a 1 GiB page at GPA 0
 * (beyond 8 MiB for most of it); VA 0x800000 not present. */
static void build(void)
{
    memset(mem, 0, sizeof(mem));
    put64(0x1000, 0x2000 | 3);
    put64(0x2000 + 0 * 8, 0x3000 | 3);
    put64(0x2000 + 1 * 8, 0x0 | 0x83); /* 1 GiB page */
    put64(0x3000 + 2 * 8, 0x4000 | 3);
    put64(0x3000 + 3 * 8, 0x600000 | 0x83);
    put64(0x4000 + 0 * 8, 0x300000 | 3);
    put64(0x4000 + 1 * 8, 0x302000 | 3);
}

static void test_translate(void **state)
{
    (void)state;
    build();
    struct guest_memory m = { mem, MEM };
    uint64_t gpa = 0;
    assert_true(guest_translate(&m, 0x1000, 0x400123, &gpa));
    assert_int_equal(gpa, 0x300123);
    assert_true(guest_translate(&m, 0x1000, 0x401fff, &gpa));
    assert_int_equal(gpa, 0x302fff);
    assert_true(guest_translate(&m, 0x1000, 0x6abcde, &gpa));
    assert_int_equal(gpa, 0x6abcde);
    assert_true(guest_translate(&m, 0x1000, (1ull << 30) + 0x1234, &gpa));
    assert_int_equal(gpa, 0x1234);
    assert_false(guest_translate(&m, 0x1000, (1ull << 30) + MEM, &gpa)); /* beyond memory */
    assert_false(guest_translate(&m, 0x1000, 0x800000, &gpa));
    assert_false(guest_translate(&m, 0x1000, 0x402000, &gpa));
    assert_false(guest_translate(&m, 0x7ff000, 0x400000, &gpa)); /* CR3 at memory's end */
    assert_false(guest_translate(&m, 0x10000000, 0x400000, &gpa)); /* CR3 outside */
}

static void test_fetch_across_pages(void **state)
{
    (void)state;
    build();
    struct guest_memory m = { mem, MEM };
    memcpy(mem + 0x300ffe, "\x44\x0f", 2);
    memcpy(mem + 0x302000, "\x22\xc0", 2);
    uint8_t b[15];
    assert_int_equal(guest_fetch(&m, 0x1000, 0x400ffe, b, 4), 4);
    assert_memory_equal(b, "\x44\x0f\x22\xc0", 4);
    /* The next page is not mapped: only what could be read. */
    assert_int_equal(guest_fetch(&m, 0x1000, 0x401ffe, b, 4), 2);
}

static void test_decode(void **state)
{
    (void)state;
    struct insn_mov_ctl d;
    assert_true(insn_decode_mov_ctl((const uint8_t *)"\x44\x0f\x22\xc0", 4, &d)); /* cr8,rax */
    assert_false(d.debug);
    assert_true(d.write);
    assert_int_equal(d.reg, 8);
    assert_int_equal(d.gpr, 0);
    assert_int_equal(d.len, 4);
    assert_true(insn_decode_mov_ctl((const uint8_t *)"\x41\x0f\x23\xfb", 4, &d)); /* dr7,r11 */
    assert_true(d.debug && d.write);
    assert_int_equal(d.reg, 7);
    assert_int_equal(d.gpr, 11);
    assert_true(insn_decode_mov_ctl((const uint8_t *)"\x0f\x21\xc8", 3, &d)); /* rax,dr1 */
    assert_true(d.debug && !d.write);
    assert_int_equal(d.reg, 1);
    assert_true(insn_decode_mov_ctl((const uint8_t *)"\x66\x2e\x0f\x23\xec", 5, &d));
    assert_int_equal(d.len, 5);
    assert_int_equal(d.reg, 5);
    assert_int_equal(d.gpr, 4);
    assert_false(insn_decode_mov_ctl((const uint8_t *)"\x0f\x22", 2, &d)); /* cut short */
    assert_false(insn_decode_mov_ctl((const uint8_t *)"\x0f\x24\xc0", 3, &d));
    assert_false(insn_decode_mov_ctl((const uint8_t *)"\x90\x0f\x22\xc0", 4, &d));
    uint8_t many[16];
    memset(many, 0x66, sizeof(many));
    assert_false(insn_decode_mov_ctl(many, sizeof(many), &d)); /* beyond 15 bytes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translate), cmocka_unit_test(test_fetch_across_pages),
        cmocka_unit_test(test_decode),
    };
    return cmocka_run_group_tests_name("guest_insn", tests, NULL, NULL);
}
