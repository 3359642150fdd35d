#include "boot/madt.h"

#include <stdbool.h>
#include <string.h>

#define MADT_HEADER_LEN 44 /* SDT header (36) + local APIC address (4) + flags (4) */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int madt_cpus(const uint8_t *madt, size_t len, uint32_t *apic_ids, uint32_t max)
{
    if (len < MADT_HEADER_LEN || memcmp(madt, "APIC", 4) != 0 || le32(madt + 4) > len ||
        le32(madt + 4) < MADT_HEADER_LEN)
        return -1;
    len = le32(madt + 4);
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += madt[i];
    if (sum)
        return -1;
    int n = 0;
    for (size_t off = MADT_HEADER_LEN; off < len;) {
        if (off + 2 > len)
            return -1;
        uint8_t type = madt[off], elen = madt[off + 1];
        if (elen < 2 || off + elen > len)
            return -1;
        uint32_t id = 0, flags = 0;
        bool cpu = false;
        if (type == 0 && elen >= 8) { /* ACPI processor UID, APIC ID, flags */
            id = madt[off + 3];
            flags = le32(madt + off + 4);
            cpu = true;
        } else if (type == 9 && elen >= 16) { /* reserved, x2APIC ID, flags, UID */
            id = le32(madt + off + 4);
            flags = le32(madt + off + 8);
            cpu = true;
        }
        if (cpu && (flags & 1)) {
            bool dup = false;
            for (int i = 0; i < n && (uint32_t)i < max; i++)
                dup |= apic_ids[i] == id;
            if (!dup) {
                if ((uint32_t)n < max)
                    apic_ids[n] = id;
                n++;
            }
        }
        off += elen;
    }
    return n;
}
