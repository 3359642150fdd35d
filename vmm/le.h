/* Little-endian loads and stores of N (1..8) bytes at any alignment: the byte layouts of
 * firmware tables, ELF files and boot protocols, read and written field by field. */
#ifndef VSCHED_VMM_LE_H
#define VSCHED_VMM_LE_H

#include <stdint.h>

static inline uint64_t le_get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void le_put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#endif
