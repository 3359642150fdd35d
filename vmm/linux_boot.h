/* The Linux x86 64-bit boot protocol (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"):
 * recognise a kernel file (an ELF vmlinux, or a bzImage by its setup header), choose where
 * everything goes in the VM's guest-physical memory, and write it there — kernel, initrd,
 * command line, the zero page (struct boot_params: e820 table, setup header fields, ACPI RSDP
 * address), identity page tables and a GDT — and say what the boot vCPU's registers must be.
 * Pure: inputs in, bytes out; compiled into the VMM and into the host tests and tools.
 *
 * Guest-physical layout (docs/linux.md):
 *   [0, 0x1000)            first page (real-mode IVT; the kernel reserves it)      RAM
 *   [0x1000, 0x7000)       identity page tables, 2 MiB pages, up to 4 GiB           RAM
 *   0x7000                 zero page (boot_params), RSI at entry                    RAM
 *   0x8000                 GDT: 0x10 64-bit code (__BOOT_CS), 0x18 data (__BOOT_DS)  RAM
 *   [0x9000, 0x10000)      boot stack (the kernel sets its own at once)             RAM
 *   0x20000                command line (up to the kernel's cmdline_size)           RAM
 *   [0x20800, 0xA0000)     free low RAM: the kernel's SMP trampoline goes here      RAM
 *   [0xE0000, 0x100000)    ACPI tables (RSDP first, 16-byte aligned)                reserved
 *   kernel                 at its physical load address (vmlinux p_paddr, 16 MiB)   RAM
 *   initrd                 page-aligned, as high as RAM and initrd_addr_max allow   RAM
 * The page tables, zero page, GDT and command line are only read during early boot: the
 * kernel copies what it needs and may reuse that memory. */
#ifndef VSCHED_VMM_LINUX_BOOT_H
#define VSCHED_VMM_LINUX_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LX_PT_GPA          0x1000ull
#define LX_PT_END          0x7000ull
#define LX_ZERO_PAGE_GPA   0x7000ull
#define LX_GDT_GPA         0x8000ull
#define LX_STACK_TOP       0x10000ull
#define LX_CMDLINE_GPA     0x20000ull
#define LX_CMDLINE_MAX     2048u       /* COMMAND_LINE_SIZE of x86 kernels, with the NUL */
#define LX_LOW_RAM_END     0xa0000ull  /* 640 KiB: below the legacy VGA/BIOS window */
#define LX_ACPI_GPA        0xe0000ull
#define LX_ACPI_SIZE       0x20000ull
#define LX_HIGH_RAM_START  0x100000ull
#define LX_MMIO_HOLE       0xfec00000ull /* RAM stops here: IOAPIC/LAPIC addresses are never RAM */
#define LX_MEM_MAX         (4ull << 30)  /* the page tables at [0x1000, 0x7000) cover 4 GiB */

/* The selectors boot.rst requires at the 64-bit entry. */
#define LX_BOOT_CS         0x10
#define LX_BOOT_DS         0x18

/* e820 types (the zero page's boot_e820_entry.type). */
#define LX_E820_RAM        1
#define LX_E820_RESERVED   2
#define LX_E820_MAX        8

#define LX_MAX_SEGMENTS    16

enum lx_kind { LX_VMLINUX, LX_BZIMAGE };

struct lx_segment {
    uint64_t file_off, file_size, gpa, mem_size;
};

/* What lx_inspect found in a kernel file. */
struct lx_kernel {
    enum lx_kind kind;
    uint64_t entry;            /* guest-physical 64-bit entry: startup_64 */
    uint64_t start, end;       /* the guest-physical span the kernel needs, bss and all */
    uint32_t nsegments;        /* the bytes to copy: PT_LOADs, or the bzImage's protected-mode part */
    struct lx_segment segments[LX_MAX_SEGMENTS];
    uint64_t initrd_addr_max;  /* highest address the initrd's last byte may have */
    uint32_t cmdline_max;      /* command-line bytes the kernel takes, the NUL included */
    uint64_t file_end;         /* ELF: bytes of the file the ELF describes (headers, sections) */
    /* bzImage only (0 for a vmlinux): */
    uint16_t protocol;         /* setup header version, e.g. 0x020f */
    uint32_t setup_size;       /* file bytes before the protected-mode code */
    uint32_t payload_offset;   /* compressed kernel, relative to the protected-mode code */
    uint32_t payload_length;
    uint64_t kernel_alignment;
    uint32_t init_size;
    uint16_t kernel_version_off; /* file offset of the version string, 0 = none */
};

/* Check FILE (SIZE bytes): an x86-64 ELF vmlinux (PT_LOADs at their physical addresses, entry
 * the physical startup_64, a Linux or Xen ELF note) or a bzImage (boot sector signature, "HdrS",
 * protocol 2.12 or later with a 64-bit entry).  0 and *OUT, or -1 with a one-line reason that
 * starts "not a Linux kernel" in ERR. */
int lx_inspect(const void *file, size_t size, struct lx_kernel *out, char *err, size_t errlen);

struct lx_e820 {
    uint64_t addr, size;
    uint32_t type;
};

/* Where everything goes (lx_plan). */
struct lx_layout {
    uint64_t mem_size;
    uint64_t entry;
    uint64_t kernel_start, kernel_end;
    uint64_t initrd_gpa, initrd_size;   /* 0, 0: no initrd */
    uint64_t cmdline_gpa;
    uint32_t cmdline_len;               /* without the NUL */
    uint64_t zero_page_gpa;
    uint64_t acpi_gpa, acpi_size;       /* the ACPI window (acpi_build writes there) */
    uint32_t ne820;
    struct lx_e820 e820[LX_E820_MAX];
};

/* Plan a VM of MEM_SIZE bytes (a multiple of 2 MiB, at most LX_MEM_MAX) for kernel K with an
 * initrd of INITRD_SIZE bytes (0 = none) and a command line of CMDLINE_LEN bytes.  0 and *OUT,
 * or -1 with a one-line reason in ERR: memory too small or too large, the kernel does not fit
 * in RAM, the initrd does not fit between the kernel and the top, the command line is too
 * long. */
int lx_plan(const struct lx_kernel *k, uint64_t mem_size, uint64_t initrd_size,
            size_t cmdline_len, struct lx_layout *out, char *err, size_t errlen);

/* Write the plan into MEM (the VMM's view of guest-physical 0, L->mem_size bytes): the kernel's
 * bytes from KFILE (and zeroes for the rest of its span), INITRD, CMDLINE, the zero page (with
 * RSDP_GPA as acpi_rsdp_addr, 0 = none), the page tables and the GDT.  The ACPI window is left
 * to acpi_build.  Nothing outside those ranges is touched. */
void lx_load(void *mem, const struct lx_layout *l, const struct lx_kernel *k, const void *kfile,
             const void *initrd, const char *cmdline, uint64_t rsdp_gpa);

/* The boot vCPU's state at the 64-bit entry (boot.rst): long mode, paging on with the identity
 * map (CR3), CS/DS as below with flat 4 GiB descriptors in the GDT, RFLAGS.IF = 0 (RFLAGS = 2),
 * RSI = the zero page.  The other vCPUs wait for INIT-SIPI-SIPI (they start in real mode at
 * the SIPI vector). */
struct lx_entry {
    uint64_t rip, rsi, rsp, cr3, gdt_base, rflags;
    uint16_t gdt_limit, cs, ds;
};
void lx_entry_bsp(const struct lx_layout *l, struct lx_entry *out);

/* The command line the VMM gives the kernel: its own options, then USER's (so the user's win
 * where the kernel takes the last one).  TSC_KHZ > 0 adds tsc_early_khz= (without it a kernel
 * with no PIT/HPET hangs calibrating); LX_CMD_NOAPIC adds noapic (needed while the VMM does not
 * offer the KVM interface: it keeps the firmware-enabled x2APIC).  Returns the length written
 * (without the NUL), or -1 when it does not fit in SIZE (BUF is then empty). */
#define LX_CMD_NOAPIC 1u
int lx_cmdline(char *buf, size_t size, const char *user, uint32_t tsc_khz, unsigned flags);

#endif
