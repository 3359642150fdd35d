/* The Linux x86 64-bit boot protocol; see linux_boot.h.  Field offsets are those of
 * Documentation/arch/x86/boot.rst and arch/x86/include/uapi/asm/bootparam.h (checked against
 * the installed UAPI header by tests/unit/test_linux_boot.c). */
#include "vmm/linux_boot.h"

#include <string.h>

#include "vmm/elf.h"
#include "vmm/fmt.h"
#include "vmm/le.h"
#include "vmm/pagetable.h"

/* ---- the setup header, at the same offsets in a bzImage's first sectors and in the zero
 * page (boot.rst, "The Real-Mode Kernel Header") ---- */
#define HDR_SETUP_SECTS      0x1f1
#define HDR_BOOT_FLAG        0x1fe   /* 0xAA55 */
#define HDR_HEADER           0x202   /* "HdrS" */
#define HDR_JUMP_END         0x201   /* the byte giving the header's extent: 0x202 + it */
#define HDR_VERSION          0x206
#define HDR_KERNEL_VERSION   0x20e
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS        0x211
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_HEAP_END_PTR     0x224
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE      0x234
#define HDR_XLOADFLAGS       0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_PAYLOAD_OFFSET   0x248
#define HDR_PAYLOAD_LENGTH   0x24c
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE        0x260
#define HDR_END              0x26c   /* end of the 2.15 header */

#define BOOT_FLAG_MAGIC      0xaa55u
#define HDRS_MAGIC           0x53726448u /* "HdrS" */
#define LOADFLAG_LOADED_HIGH 0x01
#define XLF_KERNEL_64        0x01        /* a 64-bit entry at the load address + 0x200 */
#define TYPE_OF_LOADER_OTHER 0xff        /* no registered boot loader ID */
#define ENTRY64_OFFSET       0x200

/* ---- the zero page (struct boot_params) ---- */
#define ZP_ACPI_RSDP_ADDR    0x070
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE  0x0c4
#define ZP_EXT_CMD_LINE_PTR  0x0c8
#define ZP_E820_ENTRIES      0x1e8
#define ZP_SENTINEL          0x1ef
#define ZP_E820_TABLE        0x2d0
#define ZP_E820_ENTRY_SIZE   20
#define ZP_E820_MAX          128
#define ZP_SIZE              4096

/* Setup-header values a vmlinux has no header for: the defaults of an x86-64 kernel. */
#define VMLINUX_PROTOCOL       0x020f
#define VMLINUX_INITRD_MAX     0x7fffffffull
#define VMLINUX_ALIGNMENT      0x200000u   /* CONFIG_PHYSICAL_ALIGN of Debian's kernel */


#define XEN_ELFNOTE_GUEST_OS 6

/* Does the note segment [p, p+n) hold a note owned by "Linux", or Xen's GUEST_OS = "linux"
 * (every x86 vmlinux with PVH or Xen support carries the latter)? */
static bool linux_note(const uint8_t *p, uint64_t n)
{
    uint64_t off = 0;
    while (n - off >= 12) {
        uint64_t namesz = le_get(p + off, 4), descsz = le_get(p + off + 4, 4);
        uint64_t type = le_get(p + off + 8, 4);
        uint64_t name = off + 12, desc = name + ((namesz + 3) & ~3ull);
        uint64_t next = desc + ((descsz + 3) & ~3ull);
        if (namesz > n || descsz > n || next > n)
            return false;
        if (namesz == 6 && memcmp(p + name, "Linux", 6) == 0)
            return true;
        if (namesz == 4 && memcmp(p + name, "Xen", 4) == 0 && type == XEN_ELFNOTE_GUEST_OS &&
            descsz >= 5 && memcmp(p + desc, "linux", 5) == 0)
            return true;
        off = next;
    }
    return false;
}

static int inspect_elf(const uint8_t *b, size_t size, struct lx_kernel *k, char *err,
                       size_t errlen)
{
    if (b[4] != 2 || b[5] != 1 || le_get(b + 16, 2) != ELF_ET_EXEC ||
        le_get(b + 18, 2) != ELF_EM_X86_64) {
        fmt_snprintf(err, errlen, "not a Linux kernel: not an x86-64 ELF executable");
        return -1;
    }
    uint64_t entry = le_get(b + 24, 8), phoff = le_get(b + 32, 8), shoff = le_get(b + 40, 8);
    uint64_t phentsize = le_get(b + 54, 2), phnum = le_get(b + 56, 2);
    uint64_t shentsize = le_get(b + 58, 2), shnum = le_get(b + 60, 2);
    if (phentsize != ELF64_PHDR_SIZE || phoff > size ||
        phnum > (size - phoff) / ELF64_PHDR_SIZE) {
        fmt_snprintf(err, errlen, "not a Linux kernel: program headers outside the file");
        return -1;
    }
    k->kind = LX_VMLINUX;
    k->start = UINT64_MAX;
    k->file_end = phoff + phnum * ELF64_PHDR_SIZE;
    if (shnum && shentsize == ELF64_SHDR_SIZE && shoff <= size &&
        shnum <= (size - shoff) / ELF64_SHDR_SIZE && shoff + shnum * ELF64_SHDR_SIZE > k->file_end)
        k->file_end = shoff + shnum * ELF64_SHDR_SIZE;
    bool note = false, entry_ok = false;
    for (uint64_t i = 0; i < phnum; i++) {
        const uint8_t *ph = b + phoff + i * ELF64_PHDR_SIZE;
        uint64_t type = le_get(ph, 4), off = le_get(ph + 8, 8), paddr = le_get(ph + 24, 8);
        uint64_t filesz = le_get(ph + 32, 8), memsz = le_get(ph + 40, 8);
        if (type != ELF_PT_LOAD && type != ELF_PT_NOTE)
            continue;
        if (off > size || filesz > size - off) {
            fmt_snprintf(err, errlen,
                         "not a Linux kernel: segment %lu outside the file (truncated?)", i);
            return -1;
        }
        if (off + filesz > k->file_end)
            k->file_end = off + filesz;
        if (type == ELF_PT_NOTE) {
            note = note || linux_note(b + off, filesz);
            continue;
        }
        if (filesz > memsz || paddr + memsz < paddr) {
            fmt_snprintf(err, errlen, "not a Linux kernel: segment %lu has bad sizes", i);
            return -1;
        }
        if (k->nsegments == LX_MAX_SEGMENTS) {
            fmt_snprintf(err, errlen, "not a Linux kernel: more than %d loadable segments",
                         LX_MAX_SEGMENTS);
            return -1;
        }
        k->segments[k->nsegments++] =
            (struct lx_segment){ .file_off = off, .file_size = filesz, .gpa = paddr,
                                 .mem_size = memsz };
        if (paddr < k->start)
            k->start = paddr;
        if (paddr + memsz > k->end)
            k->end = paddr + memsz;
        if (entry >= paddr && entry < paddr + memsz)
            entry_ok = true;
    }
    if (!k->nsegments) {
        fmt_snprintf(err, errlen, "not a Linux kernel: no loadable segment");
        return -1;
    }
    if (!note) {
        fmt_snprintf(err, errlen, "not a Linux kernel: an ELF file without Linux's ELF notes");
        return -1;
    }
    if (!entry_ok) {
        fmt_snprintf(err, errlen,
                     "not a Linux kernel: entry 0x%lx is not a physical address inside a "
                     "loadable segment", entry);
        return -1;
    }
    k->entry = entry;
    k->initrd_addr_max = VMLINUX_INITRD_MAX;
    k->cmdline_max = LX_CMDLINE_MAX;
    k->kernel_alignment = VMLINUX_ALIGNMENT;
    return 0;
}

static int inspect_bzimage(const uint8_t *b, size_t size, struct lx_kernel *k, char *err,
                           size_t errlen)
{
    k->kind = LX_BZIMAGE;
    k->protocol = (uint16_t)le_get(b + HDR_VERSION, 2);
    if (k->protocol < 0x020c) {
        fmt_snprintf(err, errlen,
                     "not a Linux kernel for 64-bit boot: bzImage boot protocol %u.%02u (2.12 or "
                     "later needed)", k->protocol >> 8, k->protocol & 0xff);
        return -1;
    }
    if (!(le_get(b + HDR_XLOADFLAGS, 2) & XLF_KERNEL_64)) {
        fmt_snprintf(err, errlen, "not a Linux kernel for 64-bit boot: no 64-bit entry "
                                  "(xloadflags)");
        return -1;
    }
    uint32_t sects = b[HDR_SETUP_SECTS] ? b[HDR_SETUP_SECTS] : 4;
    k->setup_size = (sects + 1) * 512;
    if (k->setup_size >= size) {
        fmt_snprintf(err, errlen, "not a Linux kernel: bzImage truncated in its setup code");
        return -1;
    }
    k->payload_offset = (uint32_t)le_get(b + HDR_PAYLOAD_OFFSET, 4);
    k->payload_length = (uint32_t)le_get(b + HDR_PAYLOAD_LENGTH, 4);
    if (k->payload_offset > size - k->setup_size ||
        k->payload_length > size - k->setup_size - k->payload_offset) {
        fmt_snprintf(err, errlen, "not a Linux kernel: bzImage payload outside the file");
        return -1;
    }
    k->initrd_addr_max = le_get(b + HDR_INITRD_ADDR_MAX, 4);
    k->cmdline_max = (uint32_t)le_get(b + HDR_CMDLINE_SIZE, 4) + 1;
    if (k->cmdline_max > LX_CMDLINE_MAX)
        k->cmdline_max = LX_CMDLINE_MAX;
    k->kernel_alignment = le_get(b + HDR_KERNEL_ALIGNMENT, 4);
    k->init_size = (uint32_t)le_get(b + HDR_INIT_SIZE, 4);
    uint16_t kv = (uint16_t)le_get(b + HDR_KERNEL_VERSION, 2);
    k->kernel_version_off = kv && kv + 0x200u < size ? (uint16_t)(kv + 0x200) : 0;
    /* The protected-mode part runs where the header prefers (pref_address, aligned for a
     * relocatable kernel), its 64-bit entry 0x200 bytes in; the decompressor needs init_size
     * bytes from there. */
    uint64_t load = le_get(b + HDR_PREF_ADDRESS, 8);
    uint64_t pm_size = size - k->setup_size;
    if (!load || !k->init_size) {
        fmt_snprintf(err, errlen, "not a Linux kernel: bzImage without pref_address/init_size");
        return -1;
    }
    k->start = load;
    k->end = load + (k->init_size > pm_size ? k->init_size : pm_size);
    k->entry = load + ENTRY64_OFFSET;
    k->segments[0] = (struct lx_segment){ .file_off = k->setup_size, .file_size = pm_size,
                                          .gpa = load, .mem_size = k->end - load };
    k->nsegments = 1;
    k->file_end = size;
    return 0;
}

int lx_inspect(const void *file, size_t size, struct lx_kernel *out, char *err, size_t errlen)
{
    const uint8_t *b = file;
    memset(out, 0, sizeof(*out));
    if (size >= ELF64_EHDR_SIZE && memcmp(b, "\177ELF", 4) == 0)
        return inspect_elf(b, size, out, err, errlen);
    if (size >= HDR_END && le_get(b + HDR_BOOT_FLAG, 2) == BOOT_FLAG_MAGIC &&
        le_get(b + HDR_HEADER, 4) == HDRS_MAGIC)
        return inspect_bzimage(b, size, out, err, errlen);
    fmt_snprintf(err, errlen, "not a Linux kernel: neither an ELF vmlinux nor a bzImage");
    return -1;
}

/* ---- layout ---- */

static void add_e820(struct lx_layout *l, uint64_t addr, uint64_t size, uint32_t type)
{
    if (size && l->ne820 < LX_E820_MAX)
        l->e820[l->ne820++] = (struct lx_e820){ addr, size, type };
}

int lx_plan(const struct lx_kernel *k, uint64_t mem_size, uint64_t initrd_size,
            size_t cmdline_len, struct lx_layout *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (mem_size % PT_SIZE_2M || mem_size > LX_MEM_MAX) {
        fmt_snprintf(err, errlen, "memory must be a multiple of 2 MiB and at most 4 GiB");
        return -1;
    }
    uint64_t ram_top = mem_size < LX_MMIO_HOLE ? mem_size : LX_MMIO_HOLE;
    if (ram_top <= LX_HIGH_RAM_START) {
        fmt_snprintf(err, errlen, "memory too small for Linux (%lu MiB)", mem_size >> 20);
        return -1;
    }
    if (k->start < LX_HIGH_RAM_START || k->end > ram_top) {
        fmt_snprintf(err, errlen,
                     "kernel too large for memory: it needs [0x%lx, 0x%lx) (%lu MiB), the VM "
                     "has RAM up to 0x%lx (%lu MiB)", k->start, k->end, (k->end + 0xfffff) >> 20,
                     ram_top, mem_size >> 20);
        return -1;
    }
    if (cmdline_len + 1 > k->cmdline_max) {
        fmt_snprintf(err, errlen, "command line of %lu bytes, the kernel takes at most %u",
                     (uint64_t)cmdline_len, k->cmdline_max - 1);
        return -1;
    }
    out->mem_size = mem_size;
    out->entry = k->entry;
    out->kernel_start = k->start;
    out->kernel_end = k->end;
    out->cmdline_gpa = LX_CMDLINE_GPA;
    out->cmdline_len = (uint32_t)cmdline_len;
    out->zero_page_gpa = LX_ZERO_PAGE_GPA;
    out->acpi_gpa = LX_ACPI_GPA;
    out->acpi_size = LX_ACPI_SIZE;
    if (initrd_size) {
        /* As high as possible (boot.rst: below initrd_addr_max), page-aligned, above the
         * kernel. */
        uint64_t limit = ram_top;
        if (k->initrd_addr_max + 1 < limit)
            limit = k->initrd_addr_max + 1;
        uint64_t low = (k->end + 0xfff) & ~0xfffull;
        uint64_t gpa = limit > initrd_size ? (limit - initrd_size) & ~0xfffull : 0;
        if (limit <= initrd_size || gpa < low) {
            fmt_snprintf(err, errlen,
                         "initrd too large: %lu bytes do not fit between the kernel's end 0x%lx "
                         "and 0x%lx", initrd_size, low, limit);
            return -1;
        }
        out->initrd_gpa = gpa;
        out->initrd_size = initrd_size;
    }
    add_e820(out, 0, LX_LOW_RAM_END, LX_E820_RAM);
    add_e820(out, LX_ACPI_GPA, LX_ACPI_SIZE, LX_E820_RESERVED);
    add_e820(out, LX_HIGH_RAM_START, ram_top - LX_HIGH_RAM_START, LX_E820_RAM);
    return 0;
}

/* ---- writing it ---- */

static void write_zero_page(uint8_t *zp, const struct lx_layout *l, const struct lx_kernel *k,
                            const uint8_t *kfile, uint64_t rsdp_gpa)
{
    memset(zp, 0, ZP_SIZE); /* sentinel 0: every field below is meant (sanitize_boot_params) */
    if (k->kind == LX_BZIMAGE) {
        /* boot.rst: the setup header is copied from the image, its size given by the jump. */
        uint64_t end = 0x202 + kfile[HDR_JUMP_END];
        if (end > HDR_END)
            end = HDR_END;
        memcpy(zp + HDR_SETUP_SECTS, kfile + HDR_SETUP_SECTS, end - HDR_SETUP_SECTS);
    } else {
        le_put(zp + HDR_BOOT_FLAG, BOOT_FLAG_MAGIC, 2);
        le_put(zp + HDR_HEADER, HDRS_MAGIC, 4);
        le_put(zp + HDR_VERSION, VMLINUX_PROTOCOL, 2);
        le_put(zp + HDR_INITRD_ADDR_MAX, k->initrd_addr_max, 4);
        le_put(zp + HDR_KERNEL_ALIGNMENT, k->kernel_alignment, 4);
        le_put(zp + HDR_XLOADFLAGS, XLF_KERNEL_64, 2);
        le_put(zp + HDR_CMDLINE_SIZE, k->cmdline_max - 1, 4);
    }
    zp[ZP_SENTINEL] = 0;
    zp[HDR_TYPE_OF_LOADER] = TYPE_OF_LOADER_OTHER;
    zp[HDR_LOADFLAGS] = (uint8_t)(zp[HDR_LOADFLAGS] | LOADFLAG_LOADED_HIGH);
    le_put(zp + HDR_HEAP_END_PTR, 0, 2);
    le_put(zp + HDR_CMD_LINE_PTR, l->cmdline_gpa, 4);
    le_put(zp + ZP_EXT_CMD_LINE_PTR, l->cmdline_gpa >> 32, 4);
    le_put(zp + HDR_RAMDISK_IMAGE, l->initrd_gpa, 4);
    le_put(zp + HDR_RAMDISK_SIZE, l->initrd_size, 4);
    le_put(zp + ZP_EXT_RAMDISK_IMAGE, l->initrd_gpa >> 32, 4);
    le_put(zp + ZP_EXT_RAMDISK_SIZE, l->initrd_size >> 32, 4);
    le_put(zp + ZP_ACPI_RSDP_ADDR, rsdp_gpa, 8);
    zp[ZP_E820_ENTRIES] = (uint8_t)l->ne820;
    for (uint32_t i = 0; i < l->ne820 && i < ZP_E820_MAX; i++) {
        uint8_t *e = zp + ZP_E820_TABLE + i * ZP_E820_ENTRY_SIZE;
        le_put(e, l->e820[i].addr, 8);
        le_put(e + 8, l->e820[i].size, 8);
        le_put(e + 16, l->e820[i].type, 4);
    }
}

void lx_load(void *mem, const struct lx_layout *l, const struct lx_kernel *k, const void *kfile,
             const void *initrd, const char *cmdline, uint64_t rsdp_gpa)
{
    uint8_t *m = mem;
    const uint8_t *f = kfile;
    for (uint32_t i = 0; i < k->nsegments; i++) {
        const struct lx_segment *s = &k->segments[i];
        memcpy(m + s->gpa, f + s->file_off, s->file_size);
        memset(m + s->gpa + s->file_size, 0, s->mem_size - s->file_size);
    }
    if (l->initrd_size)
        memcpy(m + l->initrd_gpa, initrd, l->initrd_size);
    memcpy(m + l->cmdline_gpa, cmdline, l->cmdline_len);
    m[l->cmdline_gpa + l->cmdline_len] = '\0';
    write_zero_page(m + l->zero_page_gpa, l, k, f, rsdp_gpa);

    /* Identity map of all memory, 2 MiB pages (boot.rst: at least the kernel, the zero page
     * and the command line; all of it is simplest).  lx_plan bounds memory so that the
     * tables fit [LX_PT_GPA, LX_PT_END): a PML4, a PDPT and one PD per GiB. */
    struct pt_linear a = { m, LX_PT_GPA, LX_PT_END };
    struct pt_mem pm = pt_linear_mem(&a);
    uint64_t root = pm.alloc_table(pm.ctx);
    pt_map(&pt_format_x86, &pm, root, 0, 0, l->mem_size, PTE_P | PTE_RW, PT_SIZE_2M);

    uint64_t *gdt = (uint64_t *)(m + LX_GDT_GPA);
    memset(gdt, 0, 4 * 8);
    gdt[1] = 0x00af9b000000ffffull; /* 0x08: 64-bit code, for backends that enter with CS=0x08 */
    gdt[LX_BOOT_CS / 8] = 0x00af9b000000ffffull; /* 64-bit code, execute/read, accessed */
    gdt[LX_BOOT_DS / 8] = 0x00cf93000000ffffull; /* flat 4 GiB data, read/write, accessed */
}

void lx_entry_bsp(const struct lx_layout *l, struct lx_entry *out)
{
    *out = (struct lx_entry){
        .rip = l->entry,
        .rsi = l->zero_page_gpa,
        .rsp = LX_STACK_TOP,
        .cr3 = LX_PT_GPA,
        .gdt_base = LX_GDT_GPA,
        .gdt_limit = 4 * 8 - 1,
        .cs = LX_BOOT_CS,
        .ds = LX_BOOT_DS,
        .rflags = 0x2,
    };
}

int lx_cmdline(char *buf, size_t size, const char *user, uint32_t tsc_khz, unsigned flags)
{
    /* console=ttyS0: COM1, the UART the DSDT describes.  tsc=reliable: no watchdog against a
     * second clock (there is none), so the TSC stays the clocksource.  panic=-1: a panic
     * reboots at once, through the FADT reset register, and the VMM sees the VM end. */
    char tsc[32] = "";
    if (tsc_khz)
        fmt_snprintf(tsc, sizeof(tsc), " tsc_early_khz=%u", tsc_khz);
    bool has_user = user && user[0];
    size_t n = fmt_snprintf(buf, size, "console=ttyS0 tsc=reliable panic=-1%s%s%s%s", tsc,
                            (flags & LX_CMD_NOAPIC) ? " noapic" : "", has_user ? " " : "",
                            has_user ? user : "");
    if (n >= size) {
        if (size)
            buf[0] = '\0';
        return -1;
    }
    return (int)n;
}
