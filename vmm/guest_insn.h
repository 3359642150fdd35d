/* Reading a guest's instructions: translate a linear address through the guest's own page
 * tables (4-level paging, 4 KiB / 2 MiB / 1 GiB pages; SDM Vol. 3A 4.5) and decode the few
 * instructions the VMM emulates without the CPU's decode assists.  Pure: guest memory is a
 * byte array the caller gives (the VM's memory seen from the VMM), so host tests feed their
 * own page tables. */
#ifndef VSCHED_VMM_GUEST_INSN_H
#define VSCHED_VMM_GUEST_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_memory {
    const uint8_t *base; /* guest-physical 0 */
    uint64_t size;
};

/* The guest-physical address of linear VA under CR3 (long mode with paging); false when a
 * level is not present, an entry has reserved bits beyond the VM's memory, or the walk leaves
 * guest memory. */
bool guest_translate(const struct guest_memory *m, uint64_t cr3, uint64_t va, uint64_t *gpa);

/* Copy up to N bytes of the guest's code at linear VA into OUT, page by page; returns how many
 * could be read (fewer at an unmapped page). */
size_t guest_fetch(const struct guest_memory *m, uint64_t cr3, uint64_t va, uint8_t *out,
                   size_t n);

/* MOV to or from a control or debug register (0F 20/22 /r, 0F 21/23 /r; SDM Vol. 2B MOV),
 * with legacy prefixes and a REX prefix in 64-bit mode. */
struct insn_mov_ctl {
    bool debug;        /* DRn (else CRn) */
    bool write;        /* MOV CRn/DRn, reg */
    uint8_t reg;       /* n, 0..15 (REX.R extends it: CR8 is 44 0F 22 /r) */
    uint8_t gpr;       /* 0..15, x86 encoding order */
    uint8_t len;       /* bytes, prefixes included */
};
/* True when BYTES (N of them) start with such an instruction. */
bool insn_decode_mov_ctl(const uint8_t *bytes, size_t n, struct insn_mov_ctl *out);

#endif
