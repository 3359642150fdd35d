/* Unit tests for guest images (vmm/elf.c) and the guest's first layout (vmm/guest_boot.c):
 * hand-built ELF files, the real guest images from build/guest, and the boot area. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/elf.h"
#include "vmm/guest_boot.h"
#include "vmm/pagetable.h"

#define MiB (1ull << 20)

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A minimal ELF64 executable: one PT_LOAD segment of FILESZ/MEMSZ bytes at GPA with FLAGS. */
static size_t make_elf(uint8_t *b, uint64_t entry, uint64_t gpa, uint64_t filesz, uint64_t memsz,
                       uint32_t flags)
{
    memset(b, 0, 4096);
    memcpy(b, "\177ELF", 4);
    b[4] = 2; /* 64-bit */
    b[5] = 1; /* little-endian */
    b[6] = 1;
    put(b + 16, 2, 2);      /* ET_EXEC */
    put(b + 18, 62, 2);     /* x86-64 */
    put(b + 24, entry, 8);
    put(b + 32, 64, 8);     /* phoff */
    put(b + 52, 64, 2);
    put(b + 54, 56, 2);     /* phentsize */
    put(b + 56, 1, 2);      /* phnum */
    uint8_t *ph = b + 64;
    put(ph, 1, 4);          /* PT_LOAD */
    put(ph + 4, flags, 4);
    put(ph + 8, 512, 8);    /* offset */
    put(ph + 16, gpa, 8);
    put(ph + 24, gpa, 8);
    put(ph + 32, filesz, 8);
    put(ph + 40, memsz, 8);
    for (unsigned i = 0; i < filesz && 512 + i < 4096; i++)
        b[512 + i] = (uint8_t)(i + 1);
    return 512 + filesz;
}

static void expect_reject(const uint8_t *b, size_t size, uint64_t mem, const char *needle)
{
    struct elf_info info;
    char err[160];
    assert_int_equal(elf_inspect(b, size, mem, &info, err, sizeof(err)), -1);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_elf_valid_and_load(void **state)
{
    (void)state;
    static uint8_t b[4096];
    size_t n = make_elf(b, 0x100010, 0x100000, 100, 300, 5 /* R+X */);
    struct elf_info info;
    char err[160];
    assert_int_equal(elf_inspect(b, n, 16 * MiB, &info, err, sizeof(err)), 0);
    assert_int_equal(info.entry, 0x100010);
    assert_int_equal(info.nsegments, 1);
    assert_int_equal(info.top, 0x100000 + 300);
    uint8_t *mem = malloc(16 * MiB);
    memset(mem, 0xee, 16 * MiB);
    elf_load(b, &info, mem);
    assert_int_equal(mem[0x100000], 1);
    assert_int_equal(mem[0x100000 + 99], 100);
    assert_int_equal(mem[0x100000 + 100], 0);   /* .bss zeroed */
    assert_int_equal(mem[0x100000 + 299], 0);
    assert_int_equal(mem[0x100000 + 300], 0xee); /* nothing beyond */
    free(mem);
}

static void test_elf_rejects(void **state)
{
    (void)state;
    static uint8_t b[4096];
    size_t n = make_elf(b, 0x100000, 0x100000, 100, 100, 5);
    expect_reject(b, 10, 16 * MiB, "not an ELF");
    b[4] = 1;
    expect_reject(b, n, 16 * MiB, "64-bit");
    n = make_elf(b, 0x100000, 0x100000, 100, 100, 5);
    put(b + 18, 3, 2);
    expect_reject(b, n, 16 * MiB, "not an x86-64 executable");
    n = make_elf(b, 0x100000, 0x100000, 100, 100, 5);
    expect_reject(b, 300, 16 * MiB, "file bytes outside"); /* truncated */
    n = make_elf(b, 0x100000, 0x80000, 100, 100, 5);
    expect_reject(b, n, 16 * MiB, "does not fit");         /* below 1 MiB */
    n = make_elf(b, 0x100000, 0x100000, 100, 16 * MiB, 5);
    expect_reject(b, n, 16 * MiB, "does not fit in [1 MiB, 16 MiB)");
    n = make_elf(b, 0x200000, 0x100000, 100, 100, 5);
    expect_reject(b, n, 16 * MiB, "entry point 0x200000");
    n = make_elf(b, 0x100000, 0x100000, 100, 100, 6);      /* not executable */
    expect_reject(b, n, 16 * MiB, "not in an executable segment");
    n = make_elf(b, 0x100000, 0x100000, 100, 50, 5);       /* filesz > memsz */
    expect_reject(b, n, 16 * MiB, "file bytes outside");
    n = make_elf(b, 0x100000, 0x100000, 100, 100, 5);
    put(b + 56, 200, 2);
    expect_reject(b, n, 16 * MiB, "program headers outside");
}

/* The real guests, as built by guest/build.mk. */
static void test_elf_real_guests(void **state)
{
    (void)state;
    const char *dir = getenv("GUEST_DIR") ? getenv("GUEST_DIR") : "build/guest";
    const char *names[] = { "hello.elf", "hog.elf", "bad.elf" };
    for (unsigned i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (!f)
            fail_msg("cannot open %s (build the guests first)", path);
        static uint8_t img[1 << 20];
        size_t n = fread(img, 1, sizeof(img), f);
        fclose(f);
        struct elf_info info;
        char err[160];
        assert_int_equal(elf_inspect(img, n, 16 * MiB, &info, err, sizeof(err)), 0);
        assert_int_equal(info.entry, 0x100000); /* _start is first in .text */
        assert_true(info.nsegments >= 2);
        assert_true(info.top < 2 * MiB);
        /* Code and data never share a 4 KiB page. */
        for (unsigned s = 0; s < info.nsegments; s++)
            assert_int_equal(info.segments[s].gpa % 4096, 0);
    }
}

static uint8_t *guest_mem;

static uint64_t *mem_table(void *ctx, uint64_t pa)
{
    (void)ctx;
    return (uint64_t *)(guest_mem + pa);
}

static uint64_t no_alloc(void *ctx)
{
    (void)ctx;
    return 0;
}

static void test_boot_layout(void **state)
{
    (void)state;
    const uint64_t size = 64 * MiB;
    guest_mem = calloc(1, size);
    struct elf_info elf = { .entry = 0x100040, .top = 0x140000, .nsegments = 1 };
    struct guest_layout l;
    char err[160];
    assert_int_equal(guest_boot_setup(guest_mem, size, &elf, 4, "web", "spin=5", 2000000000ull,
                                      &l, err, sizeof(err)), 0);
    /* Identity map of all guest memory in 2 MiB pages, nothing beyond. */
    struct pt_mem pm = { no_alloc, mem_table, NULL };
    for (uint64_t a = 0; a < size; a += PT_SIZE_2M) {
        uint64_t pa, bits, ps;
        assert_true(pt_lookup(&pt_format_x86, &pm, GUEST_PML4_GPA, a + 0x1234, &pa, &bits, &ps));
        assert_int_equal(pa, a + 0x1234);
        assert_int_equal(ps, PT_SIZE_2M);
        assert_int_equal(bits, PTE_P | PTE_RW);
    }
    uint64_t pa, bits, ps;
    assert_false(pt_lookup(&pt_format_x86, &pm, GUEST_PML4_GPA, size, &pa, &bits, &ps));
    /* GDT and boot info */
    const uint64_t *gdt = (const uint64_t *)(guest_mem + GUEST_GDT_GPA);
    assert_int_equal(gdt[1], 0x00af9b000000ffffull);
    assert_int_equal(gdt[2], 0x00cf93000000ffffull);
    const struct guest_boot_info *bi = (const void *)(guest_mem + GUEST_BOOT_INFO_GPA);
    assert_int_equal(bi->magic, GUEST_BOOT_MAGIC);
    assert_int_equal(bi->vcpus, 4);
    assert_int_equal(bi->memory_bytes, size);
    assert_int_equal(bi->tsc_hz, 2000000000ull);
    assert_string_equal(bi->vm_name, "web");
    assert_string_equal(bi->args, "spin=5");
    /* Entry state per vCPU */
    struct guest_entry e;
    guest_entry_for(&l, 3, &e);
    assert_int_equal(e.rip, 0x100040);
    assert_int_equal(e.rsp, size - 3 * GUEST_STACK_SIZE);
    assert_int_equal(e.rsp % 16, 0);
    assert_int_equal(e.cr3, GUEST_PML4_GPA);
    assert_int_equal(e.rdi, 3);
    assert_int_equal(e.rsi, GUEST_BOOT_INFO_GPA);
    assert_int_equal(e.gdt_base, GUEST_GDT_GPA);
    assert_int_equal(e.gdt_limit, 23);
    free(guest_mem);
}

static void test_boot_rejects(void **state)
{
    (void)state;
    const uint64_t size = 2 * MiB;
    guest_mem = calloc(1, size);
    struct elf_info elf = { .entry = 0x100000, .top = 0x1f0000, .nsegments = 1 };
    struct guest_layout l;
    char err[160];
    /* 0x10000 bytes left above the image: room for one 64 KiB stack, not two. */
    assert_int_equal(guest_boot_setup(guest_mem, size, &elf, 1, "a", "", 1, &l, err,
                                      sizeof(err)), 0);
    assert_int_equal(guest_boot_setup(guest_mem, size, &elf, 2, "a", "", 1, &l, err,
                                      sizeof(err)), -1);
    assert_non_null(strstr(err, "2 vCPU stacks"));
    assert_int_equal(guest_boot_setup(guest_mem, size + 4096, &elf, 1, "a", "", 1, &l, err,
                                      sizeof(err)), -1);
    assert_non_null(strstr(err, "multiple of 2 MiB"));
    free(guest_mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf_valid_and_load),
        cmocka_unit_test(test_elf_rejects),
        cmocka_unit_test(test_elf_real_guests),
        cmocka_unit_test(test_boot_layout),
        cmocka_unit_test(test_boot_rejects),
    };
    return cmocka_run_group_tests_name("guest_image", tests, NULL, NULL);
}
