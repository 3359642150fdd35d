/* Guest images: ELF64 x86-64 executables (guest ABI v1), checked against the VM's memory and
 * copied into it.  Pure: the VMM and the unit tests share it. */
#ifndef VSCHED_VMM_ELF_H
#define VSCHED_VMM_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_abi.h"

#define ELF_MAX_SEGMENTS 16

/* ELF64 layout facts (System V ABI, x86-64 supplement), shared with vmm/linux_boot.c. */
#define ELF64_EHDR_SIZE 64
#define ELF64_PHDR_SIZE 56
#define ELF64_SHDR_SIZE 64
#define ELF_ET_EXEC     2
#define ELF_EM_X86_64   62
#define ELF_PT_LOAD     1
#define ELF_PT_NOTE     4
#define ELF_PF_X        1

struct elf_segment {
    uint64_t file_off, file_size, gpa, mem_size;
    uint32_t flags; /* PF_X 1, PF_W 2, PF_R 4 */
};

struct elf_info {
    uint64_t entry;
    uint64_t top;   /* first guest-physical byte above every loaded segment */
    uint32_t nsegments;
    struct elf_segment segments[ELF_MAX_SEGMENTS];
};

/* Check IMAGE (SIZE bytes) for a VM with MEM_SIZE bytes of memory.  Returns 0 and fills *OUT,
 * or -1 with a one-line reason in ERR. */
int elf_inspect(const void *image, size_t size, uint64_t mem_size, struct elf_info *out,
                char *err, size_t errlen);
/* Copy the segments into GUEST_MEM (guest-physical 0) and zero their tails (.bss). */
void elf_load(const void *image, const struct elf_info *info, void *guest_mem);

#endif
