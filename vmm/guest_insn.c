#include "vmm/guest_insn.h"

#include <string.h>

#define PTE_P    1ull
#define PTE_PS   (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull

static bool read_entry(const struct guest_memory *m, uint64_t gpa, uint64_t *e)
{
    if (gpa >= m->size || m->size - gpa < 8)
        return false;
    memcpy(e, m->base + gpa, 8);
    return true;
}

bool guest_translate(const struct guest_memory *m, uint64_t cr3, uint64_t va, uint64_t *gpa)
{
    uint64_t table = cr3 & PTE_ADDR;
    for (int level = 4; level >= 1; level--) {
        unsigned shift = 12 + 9 * (unsigned)(level - 1);
        uint64_t e;
        if (!read_entry(m, table + 8 * ((va >> shift) & 511), &e) || !(e & PTE_P))
            return false;
        if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS))) {
            uint64_t page = 1ull << shift;
            uint64_t frame = e & PTE_ADDR & ~(page - 1);
            *gpa = frame | (va & (page - 1));
            return *gpa < m->size;
        }
        table = e & PTE_ADDR;
    }
    return false;
}

size_t guest_fetch(const struct guest_memory *m, uint64_t cr3, uint64_t va, uint8_t *out,
                   size_t n)
{
    size_t done = 0;
    while (done < n) {
        uint64_t gpa;
        if (!guest_translate(m, cr3, va + done, &gpa))
            break;
        size_t in_page = 4096 - ((va + done) & 4095);
        size_t k = n - done < in_page ? n - done : in_page;
        if (k > m->size - gpa)
            k = (size_t)(m->size - gpa);
        memcpy(out + done, m->base + gpa, k);
        done += k;
    }
    return done;
}

bool insn_decode_mov_ctl(const uint8_t *b, size_t n, struct insn_mov_ctl *out)
{
    size_t i = 0;
    uint8_t rex = 0;
    /* Legacy prefixes (operand/address size, segment, REP, LOCK) change nothing here; at
     * most the architectural 15-byte limit. */
    while (i < n && i < 14) {
        uint8_t p = b[i];
        if (p == 0x66 || p == 0x67 || p == 0xf2 || p == 0xf3 || p == 0xf0 || p == 0x2e ||
            p == 0x36 || p == 0x3e || p == 0x26 || p == 0x64 || p == 0x65) {
            i++;
            continue;
        }
        break;
    }
    if (i < n && (b[i] & 0xf0) == 0x40)
        rex = b[i++];
    if (i + 3 > n || i + 3 > 15 || b[i] != 0x0f || b[i + 1] < 0x20 || b[i + 1] > 0x23)
        return false;
    uint8_t modrm = b[i + 2]; /* mod is ignored: always the register form */
    out->debug = b[i + 1] & 1;
    out->write = b[i + 1] & 2;
    out->reg = (uint8_t)(((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0));
    out->gpr = (uint8_t)((modrm & 7) | ((rex & 1) ? 8 : 0));
    out->len = (uint8_t)(i + 3);
    return true;
}
