/* The legacy PC ports a Linux guest touches on a machine without a chipset (hardware-reduced
 * ACPI: no PIT, no 8259, no PCI), and what they read there, so the probes of Linux 6.1 find
 * "nothing" quickly instead of waiting:
 *   0x21, 0xA1   8259 interrupt mask registers: 0xFF (all masked: Linux's probe writes a mask
 *                and reads it back; reading 0xFF, not what it wrote, says "no PIC")
 *   0x42, 0x61   PIT channel 2 and the NMI status/speaker gate port: 0 (the PIT calibration
 *                loop never sees its output go high; tsc_early_khz makes it unneeded)
 *   0xCF8, 0xCFC PCI configuration mechanism #1: all ones (no host bridge)
 * Every other port: not claimed (writes ignored, reads all ones, as before).  Pure. */
#ifndef VSCHED_VMM_PLATFORM_H
#define VSCHED_VMM_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

/* A read of SIZE bytes (1, 2, 4) at PORT: true and *VALUE when the platform claims it. */
bool platform_port_read(uint16_t port, uint8_t size, uint32_t *value);

#endif
