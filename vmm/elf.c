#include "vmm/elf.h"

#include <stdbool.h>
#include <string.h>

#include "vmm/fmt.h"
#include "vmm/le.h"

/* ELF64 files are read field by field (vmm/le.h), no alignment assumed. */

int elf_inspect(const void *image, size_t size, uint64_t mem_size, struct elf_info *out,
                char *err, size_t errlen)
{
    const uint8_t *b = image;
    memset(out, 0, sizeof(*out));
    if (size < ELF64_EHDR_SIZE || memcmp(b, "\177ELF", 4) != 0) {
        fmt_snprintf(err, errlen, "not an ELF file");
        return -1;
    }
    if (b[4] != 2 || b[5] != 1) {
        fmt_snprintf(err, errlen, "not a 64-bit little-endian ELF file");
        return -1;
    }
    if (le_get(b + 16, 2) != ELF_ET_EXEC || le_get(b + 18, 2) != ELF_EM_X86_64) {
        fmt_snprintf(err, errlen, "not an x86-64 executable (type %lu, machine %lu)",
                     le_get(b + 16, 2), le_get(b + 18, 2));
        return -1;
    }
    uint64_t entry = le_get(b + 24, 8), phoff = le_get(b + 32, 8);
    uint64_t phentsize = le_get(b + 54, 2), phnum = le_get(b + 56, 2);
    if (phentsize != ELF64_PHDR_SIZE || phoff > size || phnum > (size - phoff) / ELF64_PHDR_SIZE) {
        fmt_snprintf(err, errlen, "program headers outside the file");
        return -1;
    }
    bool entry_ok = false;
    for (uint64_t i = 0; i < phnum; i++) {
        const uint8_t *ph = b + phoff + i * ELF64_PHDR_SIZE;
        if (le_get(ph, 4) != ELF_PT_LOAD)
            continue;
        struct elf_segment s = {
            .flags = (uint32_t)le_get(ph + 4, 4),
            .file_off = le_get(ph + 8, 8),
            .gpa = le_get(ph + 24, 8), /* p_paddr; p_vaddr at ph + 16 */
            .file_size = le_get(ph + 32, 8),
            .mem_size = le_get(ph + 40, 8),
        };
        if (s.file_size > s.mem_size || s.file_off > size || s.file_size > size - s.file_off) {
            fmt_snprintf(err, errlen, "segment %lu: file bytes outside the file", i);
            return -1;
        }
        if (le_get(ph + 16, 8) != s.gpa) {
            fmt_snprintf(err, errlen,
                         "segment %lu: virtual address 0x%lx differs from physical 0x%lx "
                         "(guests start identity-mapped)", i, le_get(ph + 16, 8), s.gpa);
            return -1;
        }
        if (s.gpa < GUEST_LOAD_MIN || s.gpa > mem_size || s.mem_size > mem_size - s.gpa) {
            fmt_snprintf(err, errlen,
                         "segment %lu [0x%lx, 0x%lx) does not fit in [1 MiB, %lu MiB) of guest "
                         "memory", i, s.gpa, s.gpa + s.mem_size, mem_size >> 20);
            return -1;
        }
        if (out->nsegments == ELF_MAX_SEGMENTS) {
            fmt_snprintf(err, errlen, "more than %d loadable segments", ELF_MAX_SEGMENTS);
            return -1;
        }
        out->segments[out->nsegments++] = s;
        if (s.gpa + s.mem_size > out->top)
            out->top = s.gpa + s.mem_size;
        if ((s.flags & ELF_PF_X) && entry >= s.gpa && entry < s.gpa + s.mem_size)
            entry_ok = true;
    }
    if (!out->nsegments) {
        fmt_snprintf(err, errlen, "no loadable segment");
        return -1;
    }
    if (!entry_ok) {
        fmt_snprintf(err, errlen, "entry point 0x%lx is not in an executable segment", entry);
        return -1;
    }
    out->entry = entry;
    return 0;
}

void elf_load(const void *image, const struct elf_info *info, void *guest_mem)
{
    uint8_t *mem = guest_mem;
    for (uint32_t i = 0; i < info->nsegments; i++) {
        const struct elf_segment *s = &info->segments[i];
        memcpy(mem + s->gpa, (const uint8_t *)image + s->file_off, s->file_size);
        memset(mem + s->gpa + s->file_size, 0, s->mem_size - s->file_size);
    }
}
