/* Unit tests for the Linux 64-bit boot protocol (vmm/linux_boot.c): hand-built vmlinux ELF
 * files and bzImage headers, the layout and its invariants (a property test over memory and
 * initrd sizes), and the zero page read back through the kernel's own UAPI definition
 * (<asm/bootparam.h> from linux-libc-dev), so the offsets are checked against Linux, not
 * against ourselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <asm/bootparam.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm/linux_boot.h"
#include "vmm/pagetable.h"

#define MiB (1ull << 20)

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A vmlinux-like ELF: PT_LOADs at physical 16 MiB (text, FILESZ bytes of pattern, MEMSZ in
 * memory, virtual address in the kernel's high half), a PT_NOTE with NOTE_NAME/NOTE_TYPE/DESC. */
static uint8_t elf[16384];

static size_t make_vmlinux(uint64_t entry, uint64_t filesz, uint64_t memsz, const char *note_name,
                           uint32_t note_type, const char *desc)
{
    memset(elf, 0, sizeof(elf));
    memcpy(elf, "\177ELF", 4);
    elf[4] = 2;
    elf[5] = 1;
    elf[6] = 1;
    put(elf + 16, 2, 2);
    put(elf + 18, 62, 2);
    put(elf + 24, entry, 8);
    put(elf + 32, 64, 8);           /* phoff */
    put(elf + 52, 64, 2);
    put(elf + 54, 56, 2);
    put(elf + 56, 2, 2);            /* phnum */
    uint8_t *ph = elf + 64;
    put(ph, 1, 4);                  /* PT_LOAD */
    put(ph + 4, 5, 4);              /* R X */
    put(ph + 8, 4096, 8);
    put(ph + 16, 0xffffffff81000000ull, 8);
    put(ph + 24, 16 * MiB, 8);
    put(ph + 32, filesz, 8);
    put(ph + 40, memsz, 8);
    for (uint64_t i = 0; i < filesz && 4096 + i < sizeof(elf); i++)
        elf[4096 + i] = (uint8_t)(i * 7 + 1);
    ph += 56;
    put(ph, 4, 4);                  /* PT_NOTE */
    put(ph + 8, 1024, 8);
    uint8_t *n = elf + 1024;
    size_t namesz = strlen(note_name) + 1, descsz = strlen(desc) + 1;
    put(n, namesz, 4);
    put(n + 4, descsz, 4);
    put(n + 8, note_type, 4);
    memcpy(n + 12, note_name, namesz);
    memcpy(n + 12 + ((namesz + 3) & ~3u), desc, descsz);
    put(ph + 32, 12 + ((namesz + 3) & ~3u) + ((descsz + 3) & ~3u), 8);
    return 4096 + filesz;
}

static size_t make_linux_vmlinux(uint64_t filesz, uint64_t memsz)
{
    return make_vmlinux(16 * MiB, filesz, memsz, "Xen", 6, "linux");
}

/* A bzImage's first sectors: setup header of protocol VERSION with XLOADFLAGS. */
static uint8_t bz[65536];

static size_t make_bzimage(uint16_t version, uint16_t xloadflags)
{
    memset(bz, 0, sizeof(bz));
    bz[0x1f1] = 3;                          /* setup_sects: protected mode at 4 * 512 */
    put(bz + 0x1fe, 0xaa55, 2);
    bz[0x200] = 0xeb;
    bz[0x201] = 0x6a;                       /* jump over a header ending at 0x26c */
    memcpy(bz + 0x202, "HdrS", 4);
    put(bz + 0x206, version, 2);
    put(bz + 0x20e, 0x100, 2);              /* version string at 0x300 */
    memcpy(bz + 0x300, "6.1.0-test", 11);
    put(bz + 0x22c, 0x7fffffff, 4);
    put(bz + 0x230, 0x200000, 4);
    bz[0x234] = 1;
    put(bz + 0x236, xloadflags, 2);
    put(bz + 0x238, 2047, 4);
    put(bz + 0x248, 0x100, 4);              /* payload at 2048 + 0x100 */
    put(bz + 0x24c, 0x1000, 4);
    put(bz + 0x258, 16 * MiB, 8);
    put(bz + 0x260, 0x3000000, 4);          /* init_size 48 MiB */
    return sizeof(bz);
}

static void expect_inspect_error(const void *f, size_t size, const char *needle)
{
    struct lx_kernel k;
    char err[200];
    assert_int_equal(lx_inspect(f, size, &k, err, sizeof(err)), -1);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
    if (strncmp(err, "not a Linux kernel", 18) != 0)
        fail_msg("error '%s' does not start with 'not a Linux kernel'", err);
}

static void test_vmlinux_accepted(void **state)
{
    (void)state;
    size_t size = make_linux_vmlinux(8192, 3 * MiB);
    struct lx_kernel k;
    char err[200];
    assert_int_equal(lx_inspect(elf, size, &k, err, sizeof(err)), 0);
    assert_int_equal(k.kind, LX_VMLINUX);
    assert_int_equal(k.entry, 16 * MiB);
    assert_int_equal(k.start, 16 * MiB);
    assert_int_equal(k.end, 19 * MiB);
    assert_int_equal(k.nsegments, 1);
    assert_int_equal(k.segments[0].file_off, 4096);
    assert_int_equal(k.segments[0].file_size, 8192);
    assert_int_equal(k.initrd_addr_max, 0x7fffffff);
    assert_int_equal(k.cmdline_max, 2048);
    /* A "Linux" note is as good as Xen's GUEST_OS. */
    size = make_vmlinux(16 * MiB, 8192, 3 * MiB, "Linux", 1, "x");
    assert_int_equal(lx_inspect(elf, size, &k, err, sizeof(err)), 0);
}

static void test_not_a_kernel(void **state)
{
    (void)state;
    expect_inspect_error("hello", 5, "neither an ELF vmlinux nor a bzImage");
    uint8_t zeros[4096] = { 0 };
    expect_inspect_error(zeros, sizeof(zeros), "neither");
    /* An ELF without Linux's notes (one of the test guests, say). */
    size_t size = make_vmlinux(16 * MiB, 8192, 3 * MiB, "GNU", 3, "abc");
    expect_inspect_error(elf, size, "without Linux's ELF notes");
    size = make_vmlinux(16 * MiB, 8192, 3 * MiB, "Xen", 6, "netbsd");
    expect_inspect_error(elf, size, "without Linux's ELF notes");
    /* Entry outside the loaded range: a virtual entry, e.g. */
    size = make_vmlinux(0xffffffff81000000ull, 8192, 3 * MiB, "Xen", 6, "linux");
    expect_inspect_error(elf, size, "entry 0xffffffff81000000");
    /* Truncated: the segment's bytes are not all in the file. */
    size = make_linux_vmlinux(8192, 3 * MiB);
    expect_inspect_error(elf, size - 1, "outside the file");
    elf[18] = 3; /* i386 */
    expect_inspect_error(elf, size, "not an x86-64 ELF executable");
    /* bzImages too old or without a 64-bit entry. */
    expect_inspect_error(bz, make_bzimage(0x020b, 1), "protocol 2.11");
    expect_inspect_error(bz, make_bzimage(0x020f, 0), "no 64-bit entry");
    make_bzimage(0x020f, 1);
    put(bz + 0x24c, sizeof(bz), 4);
    expect_inspect_error(bz, sizeof(bz), "payload outside the file");
}

static void test_bzimage_header(void **state)
{
    (void)state;
    struct lx_kernel k;
    char err[200];
    assert_int_equal(lx_inspect(bz, make_bzimage(0x020f, 3), &k, err, sizeof(err)), 0);
    assert_int_equal(k.kind, LX_BZIMAGE);
    assert_int_equal(k.protocol, 0x020f);
    assert_int_equal(k.setup_size, 2048);
    assert_int_equal(k.payload_offset, 0x100);
    assert_int_equal(k.payload_length, 0x1000);
    assert_int_equal(k.entry, 16 * MiB + 0x200);
    assert_int_equal(k.start, 16 * MiB);
    assert_int_equal(k.end, 16 * MiB + 0x3000000);
    assert_int_equal(k.cmdline_max, 2048);
    assert_int_equal(k.kernel_version_off, 0x300);
    assert_string_equal((const char *)bz + k.kernel_version_off, "6.1.0-test");
    assert_int_equal(k.segments[0].file_off, 2048);
    assert_int_equal(k.segments[0].file_size, sizeof(bz) - 2048);
    /* setup_sects 0 means 4. */
    bz[0x1f1] = 0;
    assert_int_equal(lx_inspect(bz, sizeof(bz), &k, err, sizeof(err)), 0);
    assert_int_equal(k.setup_size, 5 * 512);
}

static uint8_t *guest(uint64_t size)
{
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    assert_true(m != MAP_FAILED);
    return m;
}

static uint64_t *table_at(void *ctx, uint64_t pa)
{
    return (uint64_t *)((uint8_t *)ctx + pa);
}

static void test_load_and_zero_page(void **state)
{
    (void)state;
    const uint64_t mem_size = 128 * MiB;
    size_t size = make_linux_vmlinux(8192, 3 * MiB);
    struct lx_kernel k;
    struct lx_layout l;
    char err[200];
    assert_int_equal(lx_inspect(elf, size, &k, err, sizeof(err)), 0);
    static uint8_t initrd[10000];
    for (size_t i = 0; i < sizeof(initrd); i++)
        initrd[i] = (uint8_t)(i * 13);
    const char *cmd = "console=ttyS0 vsched.run=cpus";
    assert_int_equal(lx_plan(&k, mem_size, sizeof(initrd), strlen(cmd), &l, err, sizeof(err)), 0);
    uint8_t *mem = guest(mem_size);
    memset(mem + 19 * MiB - 4096, 0xee, 4096); /* bss must be cleared */
    lx_load(mem, &l, &k, elf, initrd, cmd, 0xe0000);

    assert_memory_equal(mem + 16 * MiB, elf + 4096, 8192);
    assert_int_equal(mem[19 * MiB - 1], 0);
    assert_memory_equal(mem + l.initrd_gpa, initrd, sizeof(initrd));
    assert_int_equal(l.initrd_gpa, (mem_size - sizeof(initrd)) & ~0xfffull);
    assert_string_equal((char *)mem + l.cmdline_gpa, cmd);

    const struct boot_params *bp = (const struct boot_params *)(mem + LX_ZERO_PAGE_GPA);
    assert_int_equal(bp->hdr.boot_flag, 0xaa55);
    assert_int_equal(bp->hdr.header, 0x53726448);
    assert_true(bp->hdr.version >= 0x020c);
    assert_int_equal(bp->hdr.type_of_loader, 0xff);
    assert_true(bp->hdr.loadflags & LOADED_HIGH);
    assert_int_equal(bp->sentinel, 0);
    assert_int_equal(bp->hdr.cmd_line_ptr, LX_CMDLINE_GPA);
    assert_int_equal(bp->ext_cmd_line_ptr, 0);
    assert_int_equal(bp->hdr.cmdline_size, 2047);
    assert_int_equal(bp->hdr.ramdisk_image, l.initrd_gpa);
    assert_int_equal(bp->hdr.ramdisk_size, sizeof(initrd));
    assert_int_equal(bp->ext_ramdisk_image, 0);
    assert_int_equal(bp->hdr.initrd_addr_max, 0x7fffffff);
    assert_true(bp->hdr.xloadflags & XLF_KERNEL_64);
    assert_int_equal(bp->hdr.setup_data, 0);
    assert_int_equal(bp->acpi_rsdp_addr, 0xe0000);
    assert_int_equal(bp->e820_entries, 3);
    assert_int_equal(bp->e820_table[0].addr, 0);
    assert_int_equal(bp->e820_table[0].size, 0xa0000);
    assert_int_equal(bp->e820_table[0].type, 1);
    assert_int_equal(bp->e820_table[1].addr, 0xe0000);
    assert_int_equal(bp->e820_table[1].size, 0x20000);
    assert_int_equal(bp->e820_table[1].type, 2);
    assert_int_equal(bp->e820_table[2].addr, MiB);
    assert_int_equal(bp->e820_table[2].size, mem_size - MiB);
    assert_int_equal(bp->e820_table[2].type, 1);

    /* Identity map of all memory. */
    struct pt_mem pm = { NULL, table_at, mem };
    uint64_t pa, bits, psize;
    const uint64_t probes[] = { 0, LX_ZERO_PAGE_GPA, LX_CMDLINE_GPA, 16 * MiB, l.initrd_gpa,
                                mem_size - 1 };
    for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        assert_true(pt_lookup(&pt_format_x86, &pm, LX_PT_GPA, probes[i], &pa, &bits, &psize));
        assert_int_equal(pa, probes[i]);
        assert_true(bits & PTE_RW);
    }
    assert_false(pt_lookup(&pt_format_x86, &pm, LX_PT_GPA, mem_size, &pa, &bits, &psize));

    /* Entry state and the GDT's flat descriptors at the selectors boot.rst names. */
    struct lx_entry e;
    lx_entry_bsp(&l, &e);
    assert_int_equal(e.rip, 16 * MiB);
    assert_int_equal(e.rsi, LX_ZERO_PAGE_GPA);
    assert_int_equal(e.cr3, LX_PT_GPA);
    assert_int_equal(e.cs, 0x10);
    assert_int_equal(e.ds, 0x18);
    assert_int_equal(e.rflags & (1u << 9), 0); /* IF = 0 */
    const uint64_t *gdt = (const uint64_t *)(mem + e.gdt_base);
    assert_true(e.gdt_limit >= 0x1f);
    assert_int_equal(gdt[0x10 / 8], 0x00af9b000000ffffull);
    assert_int_equal(gdt[0x18 / 8], 0x00cf93000000ffffull);
    munmap(mem, mem_size);
}

static void test_bzimage_zero_page_copies_header(void **state)
{
    (void)state;
    const uint64_t mem_size = 128 * MiB;
    struct lx_kernel k;
    struct lx_layout l;
    char err[200];
    assert_int_equal(lx_inspect(bz, make_bzimage(0x020f, 3), &k, err, sizeof(err)), 0);
    assert_int_equal(lx_plan(&k, mem_size, 0, 3, &l, err, sizeof(err)), 0);
    uint8_t *mem = guest(mem_size);
    lx_load(mem, &l, &k, bz, NULL, "a=b", 0);
    const struct boot_params *bp = (const struct boot_params *)(mem + LX_ZERO_PAGE_GPA);
    assert_int_equal(bp->hdr.setup_sects, 3);
    assert_int_equal(bp->hdr.init_size, 0x3000000);
    assert_int_equal(bp->hdr.pref_address, 16 * MiB);
    assert_int_equal(bp->hdr.payload_offset, 0x100);
    assert_int_equal(bp->hdr.type_of_loader, 0xff);   /* ours, over the image's */
    assert_int_equal(bp->hdr.ramdisk_image, 0);
    assert_int_equal(bp->acpi_rsdp_addr, 0);
    assert_memory_equal(mem + 16 * MiB, bz + 2048, sizeof(bz) - 2048);
    assert_int_equal(mem[16 * MiB + 0x3000000 - 1], 0);
    munmap(mem, mem_size);
}

static void expect_plan_error(const struct lx_kernel *k, uint64_t mem, uint64_t initrd,
                              size_t cmdlen, const char *needle)
{
    struct lx_layout l;
    char err[200];
    assert_int_equal(lx_plan(k, mem, initrd, cmdlen, &l, err, sizeof(err)), -1);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_plan_errors(void **state)
{
    (void)state;
    struct lx_kernel k;
    char err[200];
    assert_int_equal(lx_inspect(elf, make_linux_vmlinux(8192, 58 * MiB), &k, err, sizeof(err)), 0);
    /* The Debian kernel's span is 16..74 MiB: 64 MiB of memory is too little. */
    expect_plan_error(&k, 64 * MiB, 0, 10, "kernel too large for memory");
    expect_plan_error(&k, 64 * MiB, 0, 10, "[0x1000000, 0x4a00000)");
    expect_plan_error(&k, 75 * MiB, 0, 10, "multiple of 2 MiB");
    expect_plan_error(&k, 8192 * MiB, 0, 10, "at most 4 GiB");
    expect_plan_error(&k, 76 * MiB, 2 * MiB + 1, 10, "initrd too large");
    expect_plan_error(&k, 128 * MiB, 0, 2048, "command line of 2048 bytes");
    struct lx_layout l;
    assert_int_equal(lx_plan(&k, 76 * MiB, 2 * MiB, 2047, &l, err, sizeof(err)), 0);
    assert_int_equal(l.initrd_gpa, 74 * MiB);
    /* A 4 GiB VM: RAM stops below the IOAPIC/LAPIC window, the initrd below that. */
    assert_int_equal(lx_plan(&k, 4096 * MiB, MiB, 10, &l, err, sizeof(err)), 0);
    assert_int_equal(l.e820[l.ne820 - 1].addr + l.e820[l.ne820 - 1].size, 0xfec00000ull);
    assert_int_equal(l.initrd_gpa, 0x7fffffffull + 1 - MiB);
    /* initrd_addr_max limits the initrd's placement, not RAM's top. */
    k.initrd_addr_max = 100 * MiB - 1;
    assert_int_equal(lx_plan(&k, 256 * MiB, MiB, 10, &l, err, sizeof(err)), 0);
    assert_int_equal(l.initrd_gpa, 99 * MiB);
    expect_plan_error(&k, 256 * MiB, 27 * MiB, 10, "initrd too large");
}

/* Property: for any memory size and initrd size that plan, the pieces are disjoint, inside RAM
 * as the e820 table describes it, and the boot structures stay in low memory below 640 KiB
 * with room left there for the SMP trampoline. */
static bool in_ram(const struct lx_layout *l, uint64_t a, uint64_t size)
{
    for (uint32_t i = 0; i < l->ne820; i++)
        if (l->e820[i].type == LX_E820_RAM && a >= l->e820[i].addr &&
            a + size <= l->e820[i].addr + l->e820[i].size)
            return true;
    return false;
}

static bool disjoint(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
    return a + an <= b || b + bn <= a;
}

static void test_plan_property(void **state)
{
    (void)state;
    struct lx_kernel k;
    char err[200];
    assert_int_equal(lx_inspect(elf, make_linux_vmlinux(8192, 58 * MiB), &k, err, sizeof(err)), 0);
    uint64_t seed = 12345;
    unsigned planned = 0;
    for (int iter = 0; iter < 20000; iter++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t mem = ((seed >> 33) % 2048 + 1) * 2 * MiB;     /* 2 MiB .. 4 GiB */
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t initrd = (seed >> 20) % (64 * MiB);
        if (iter % 7 == 0)
            initrd = 0;
        struct lx_layout l;
        if (lx_plan(&k, mem, initrd, 100, &l, err, sizeof(err)) < 0)
            continue;
        planned++;
        /* e820: sorted, disjoint, page-aligned. */
        for (uint32_t i = 0; i + 1 < l.ne820; i++)
            assert_true(l.e820[i].addr + l.e820[i].size <= l.e820[i + 1].addr);
        for (uint32_t i = 0; i < l.ne820; i++)
            assert_int_equal((l.e820[i].addr | l.e820[i].size) & 0xfff, 0);
        assert_true(l.e820[l.ne820 - 1].addr + l.e820[l.ne820 - 1].size <= mem);
        /* Never RAM where the IOAPIC and LAPIC live. */
        for (uint32_t i = 0; i < l.ne820; i++)
            assert_true(l.e820[i].type != LX_E820_RAM ||
                        l.e820[i].addr + l.e820[i].size <= LX_MMIO_HOLE);
        assert_true(in_ram(&l, l.kernel_start, l.kernel_end - l.kernel_start));
        assert_true(in_ram(&l, LX_PT_GPA, LX_PT_END - LX_PT_GPA));
        assert_true(in_ram(&l, LX_ZERO_PAGE_GPA, 4096));
        assert_true(in_ram(&l, LX_GDT_GPA, 32));
        assert_true(in_ram(&l, l.cmdline_gpa, 2048));
        assert_true(l.cmdline_gpa + 2048 + 64 * 1024 <= LX_LOW_RAM_END); /* trampoline room */
        assert_false(in_ram(&l, l.acpi_gpa, 1));                       /* reserved */
        if (initrd) {
            assert_int_equal(l.initrd_gpa & 0xfff, 0);
            assert_true(in_ram(&l, l.initrd_gpa, initrd));
            assert_true(disjoint(l.initrd_gpa, initrd, l.kernel_start,
                                 l.kernel_end - l.kernel_start));
            assert_true(l.initrd_gpa + initrd - 1 <= k.initrd_addr_max);
            /* As high as possible: one more page up would not fit. */
            assert_true(l.initrd_gpa + 4096 + initrd > (mem < LX_MMIO_HOLE ? mem : LX_MMIO_HOLE) ||
                        l.initrd_gpa + 4096 + initrd - 1 > k.initrd_addr_max);
        }
    }
    assert_true(planned > 10000);
}

static void test_cmdline(void **state)
{
    (void)state;
    char buf[256];
    int n = lx_cmdline(buf, sizeof(buf), "vsched.run=cpus", 2400000, LX_CMD_NOAPIC);
    assert_int_equal(n, (int)strlen(buf));
    assert_string_equal(buf, "console=ttyS0 tsc=reliable panic=-1 tsc_early_khz=2400000 noapic "
                             "vsched.run=cpus");
    assert_true(lx_cmdline(buf, sizeof(buf), "", 0, 0) > 0);
    assert_string_equal(buf, "console=ttyS0 tsc=reliable panic=-1");
    assert_int_equal(lx_cmdline(buf, 20, "x", 1, 0), -1);
    assert_string_equal(buf, "");
    /* Exactly fitting needs room for the NUL too. */
    size_t len = strlen("console=ttyS0 tsc=reliable panic=-1 abc");
    assert_int_equal(lx_cmdline(buf, len, "abc", 0, 0), -1);
    assert_int_equal(lx_cmdline(buf, len + 1, "abc", 0, 0), (int)len);
    assert_string_equal(buf, "console=ttyS0 tsc=reliable panic=-1 abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vmlinux_accepted),
        cmocka_unit_test(test_not_a_kernel),
        cmocka_unit_test(test_bzimage_header),
        cmocka_unit_test(test_load_and_zero_page),
        cmocka_unit_test(test_bzimage_zero_page_copies_header),
        cmocka_unit_test(test_plan_errors),
        cmocka_unit_test(test_plan_property),
        cmocka_unit_test(test_cmdline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
