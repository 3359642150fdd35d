/* A guest's first memory layout and registers (guest ABI v1, guest/README.md).  The VMM's
 * boot area is guest-physical [0x1000, 0x100000): identity-mapped page tables for all of guest
 * memory (2 MiB pages, PML4 at 0x1000), the boot-info page at 0xE000, a GDT at 0xF000.  Each
 * vCPU starts in 64-bit mode at the ELF entry with RSP at the top of memory minus 64 KiB per
 * vCPU index, RDI = vCPU index, RSI = the boot-info page.  Pure: unit-tested on the host. */
#ifndef VSCHED_VMM_GUEST_BOOT_H
#define VSCHED_VMM_GUEST_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/elf.h"
#include "vmm/guest_abi.h"

struct guest_layout {
    uint64_t mem_size;
    uint64_t entry;
    uint32_t vcpus;
};

struct guest_entry {
    uint64_t rip, rsp, cr3, rdi, rsi, gdt_base, gdt_limit;
};

/* Write the boot area into MEM (the VMM's view of guest-physical 0, MEM_SIZE bytes, a
 * multiple of 2 MiB) for ELF.  Returns 0, or -1 with a one-line reason in ERR (too many vCPUs
 * for the stacks, memory too large for the boot area's tables). */
int guest_boot_setup(void *mem, uint64_t mem_size, const struct elf_info *elf, uint32_t vcpus,
                     const char *vm_name, const char *args, uint64_t tsc_hz,
                     struct guest_layout *out, char *err, size_t errlen);
void guest_entry_for(const struct guest_layout *l, uint32_t vcpu, struct guest_entry *out);

#endif
