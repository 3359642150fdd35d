/* The ACPI MADT (ACPI 6.4 5.2.12): which local APICs the firmware says exist.  Pure. */
#ifndef VSCHED_BOOT_MADT_H
#define VSCHED_BOOT_MADT_H

#include <stddef.h>
#include <stdint.h>

/* Collect the APIC IDs of enabled processors (Processor Local APIC, type 0, and Processor
 * Local x2APIC, type 9; flag bit 0 = enabled), in table order, at most MAX of them.  Returns
 * how many enabled processors the table lists (may exceed MAX), or -1 if it is malformed. */
int madt_cpus(const uint8_t *madt, size_t len, uint32_t *apic_ids, uint32_t max);

#endif
