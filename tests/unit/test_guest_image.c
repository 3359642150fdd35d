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
#include <sys/mman.h>

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

/* Append a PT_LOAD program header (the file bytes of every segment start at offset 512). */
static void add_segment(uint8_t *b, uint64_t gpa, uint64_t filesz, uint64_t memsz, uint32_t flags)
{
    unsigned n = b[56];
    uint8_t *ph = b + 64 + n * 56;
    put(ph, 1, 4);
    put(ph + 4, flags, 4);
    put(ph + 8, 512, 8);
    put(ph + 16, gpa, 8);
    put(ph + 24, gpa, 8);
    put(ph + 32, filesz, 8);
    put(ph + 40, memsz, 8);
    put(b + 56, n + 1, 2);
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
    n = make_elf(b, 0x100000, 0x100000, 100, 100, 5);
    put(b + 32, UINT64_MAX - 8, 8);                        /* phoff wraps */
    expect_reject(b, n, 16 * MiB, "program headers outside");
    n = make_elf(b, 0x100000, 0x100000, 100, 100, 5);
    put(b + 64 + 40, UINT64_MAX - 0x80000, 8);             /* gpa + memsz wraps */
    expect_reject(b, n, 16 * MiB, "does not fit");
    n = make_elf(b, 0x100000, 0x100000, 100, 100, 5);
    put(b + 64 + 8, UINT64_MAX - 50, 8);                   /* offset + filesz wraps */
    expect_reject(b, n, 16 * MiB, "file bytes outside");
    n = make_elf(b, 0x100000, 0x100000, 100, 100, 5);
    put(b + 64 + 16, 0xffffffff80100000ull, 8);            /* higher-half p_vaddr */
    expect_reject(b, n, 16 * MiB, "differs from physical 0x100000");
    n = make_elf(b, 0x100000, 0x100000, 100, 100, 5);
    put(b + 64, 6, 4);                                     /* PT_PHDR only */
    expect_reject(b, n, 16 * MiB, "no loadable segment");
}

/* Several segments: the entry may be in any executable one; top is the highest end. */
static void test_elf_segments(void **state)
{
    (void)state;
    static uint8_t b[4096];
    size_t n = make_elf(b, 0x300010, 0x200000, 64, 0x3000, 6 /* R+W */);
    add_segment(b, 0x300000, 64, 64, 5);
    add_segment(b, 0x100000, 0, 0x1000, 6);
    put(b + 64 + 56 + 8, 600, 8);                          /* second one's bytes elsewhere */
    b[600] = 0x5a;
    struct elf_info info;
    char err[160];
    assert_int_equal(elf_inspect(b, n + 100, 16 * MiB, &info, err, sizeof(err)), 0);
    assert_int_equal(info.nsegments, 3);
    assert_int_equal(info.top, 0x300040);
    assert_int_equal(info.segments[1].file_off, 600);
    assert_int_equal(info.segments[2].file_size, 0);
    uint8_t *mem = malloc(16 * MiB);
    memset(mem, 0xee, 16 * MiB);
    elf_load(b, &info, mem);
    assert_int_equal(mem[0x200000], 1);
    assert_int_equal(mem[0x200000 + 64], 0);
    assert_int_equal(mem[0x200000 + 0x2fff], 0);
    assert_int_equal(mem[0x300000], 0x5a);
    assert_int_equal(mem[0x100000], 0);                    /* pure .bss */
    assert_int_equal(mem[0x100fff], 0);
    assert_int_equal(mem[0x101000], 0xee);
    free(mem);
    /* The same file whose only executable segment does not hold the entry. */
    put(b + 24, 0x200010, 8);
    expect_reject(b, n + 100, 16 * MiB, "entry point 0x200010");
}

/* The real guests, as built by guest/build.mk. */
static void test_elf_real_guests(void **state)
{
    (void)state;
    const char *dir = getenv("GUEST_DIR") ? getenv("GUEST_DIR") : "build/guest";
    const char *names[] = { "hello.elf", "hog.elf", "bad.elf", "timer.elf", "gang.elf",
                            "ipi.elf" };
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
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
        /* Code and data never share a 4 KiB page; nothing is writable and executable. */
        for (unsigned s = 0; s < info.nsegments; s++) {
            assert_int_equal(info.segments[s].gpa % 4096, 0);
            assert_int_not_equal(info.segments[s].flags & 3, 3);
        }
        assert_int_equal(info.segments[0].flags, 5); /* text: R+X */
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
    assert_int_equal(guest_boot_setup(guest_mem, size, &elf, 0, "a", "", 1, &l, err,
                                      sizeof(err)), -1);
    assert_non_null(strstr(err, "at least one vCPU"));
    free(guest_mem);
}

/* Guest memory reserved but not touched: only the pages the setup writes get memory. */
static uint8_t *lazy_mem(uint64_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* The largest VM (memory_mb = 4096): every 2 MiB identity-mapped, nothing written outside the
 * boot area's pages, long names and arguments cut to their fields. */
static void test_boot_large(void **state)
{
    (void)state;
    const uint64_t size = 4096 * MiB;
    guest_mem = lazy_mem(size);
    if (!guest_mem)
        skip();
    memset(guest_mem, 0xaa, 2 * MiB);
    struct elf_info elf = { .entry = 0x100000, .top = 0x200000, .nsegments = 1 };
    struct guest_layout l;
    char err[160], name[64], args[300];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    memset(args, 'a', sizeof(args) - 1);
    args[sizeof(args) - 1] = '\0';
    assert_int_equal(guest_boot_setup(guest_mem, size, &elf, 64, name, args, 1, &l, err,
                                      sizeof(err)), 0);
    struct pt_mem pm = { no_alloc, mem_table, NULL };
    uint64_t pa, bits, ps;
    for (uint64_t a = 0; a < size; a += PT_SIZE_2M) {
        assert_true(pt_lookup(&pt_format_x86, &pm, GUEST_PML4_GPA, a + 0x1fffff, &pa, &bits,
                              &ps));
        assert_int_equal(pa, a + 0x1fffff);
    }
    const uint64_t beyond[] = { size, size + PT_SIZE_2M, 512ull << 30, 0x00007ffffffff000ull };
    for (unsigned i = 0; i < sizeof(beyond) / sizeof(beyond[0]); i++)
        assert_false(pt_lookup(&pt_format_x86, &pm, GUEST_PML4_GPA, beyond[i], &pa, &bits,
                               &ps));
    /* 1 PML4 + 1 PDPT + 4 PDs from 0x1000 on; then untouched up to the boot-info page. */
    for (uint64_t a = 0; a < 2 * MiB; a++) {
        bool boot_area = (a >= GUEST_PML4_GPA && a < GUEST_PML4_GPA + 6 * 4096) ||
                         (a >= GUEST_BOOT_INFO_GPA &&
                          a < GUEST_BOOT_INFO_GPA + sizeof(struct guest_boot_info)) ||
                         (a >= GUEST_GDT_GPA && a < GUEST_GDT_GPA + 24);
        if (!boot_area && guest_mem[a] != 0xaa)
            fail_msg("byte at 0x%lx written", (unsigned long)a);
    }
    const struct guest_boot_info *bi = (const void *)(guest_mem + GUEST_BOOT_INFO_GPA);
    assert_int_equal(strlen(bi->vm_name), sizeof(bi->vm_name) - 1);
    assert_int_equal(strlen(bi->args), sizeof(bi->args) - 1);
    struct guest_entry e;
    guest_entry_for(&l, 63, &e);
    assert_int_equal(e.rsp, size - 63 * GUEST_STACK_SIZE);
    guest_entry_for(&l, 0, &e);
    assert_int_equal(e.rsp, size);
    munmap(guest_mem, size);
}

/* The boot area holds tables for at most 11 GiB (1 PML4, 1 PDPT, 11 PDs). */
static void test_boot_too_large(void **state)
{
    (void)state;
    const uint64_t size = 12ull << 30;
    guest_mem = lazy_mem(size);
    if (!guest_mem)
        skip();
    struct elf_info elf = { .entry = 0x100000, .top = 0x200000, .nsegments = 1 };
    struct guest_layout l;
    char err[160];
    assert_int_equal(guest_boot_setup(guest_mem, size, &elf, 1, "big", "", 1, &l, err,
                                      sizeof(err)), -1);
    assert_non_null(strstr(err, "too large for the boot area"));
    munmap(guest_mem, size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf_valid_and_load),
        cmocka_unit_test(test_elf_rejects),
        cmocka_unit_test(test_elf_segments),
        cmocka_unit_test(test_elf_real_guests),
        cmocka_unit_test(test_boot_layout),
        cmocka_unit_test(test_boot_rejects),
        cmocka_unit_test(test_boot_large),
        cmocka_unit_test(test_boot_too_large),
    };
    return cmocka_run_group_tests_name("guest_image", tests, NULL, NULL);
}
