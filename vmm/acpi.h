/* Hardware-reduced ACPI for a VM (ACPI 6.x, sections 4.1 "Hardware-Reduced ACPI", 5.2): the
 * smallest set of tables Linux accepts as its platform description when there is no PC chipset
 * to probe:
 *   RSDP (revision 2) -> XSDT -> FADT, MADT;  FADT -> DSDT
 *   FADT  revision 6: HW_REDUCED_ACPI, a reset register, sleep control/status registers (so
 *         `poweroff` reaches the VMM), IA-PC boot flags "no VGA, no CMOS RTC" and no 8042, no
 *         FACS, no PM1/GPE blocks, no SCI
 *   MADT  one Local x2APIC entry per vCPU (x2APIC ID = ACPI UID = vCPU index), no 8259
 *         (PCAT_COMPAT clear), no I/O APIC
 *   DSDT  \_SB.COM1 (PNP0501, I/O 0x3F8-0x3FF, no interrupt: Linux's 8250 driver polls) and
 *         \_S5 (the sleep type the sleep control register receives for soft-off)
 * The tables are built for a given guest-physical address into a caller-given buffer; nothing
 * else.  Pure: compiled into the VMM and into the host tests. */
#ifndef VSCHED_VMM_ACPI_H
#define VSCHED_VMM_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The VM's power-management I/O ports, named by the FADT. */
#define ACPI_PM_PORT        0x600
#define ACPI_SLEEP_CTL_PORT (ACPI_PM_PORT + 0) /* SLP_TYP bits 4:2, SLP_EN bit 5 (ACPI 4.8.3.7) */
#define ACPI_SLEEP_STS_PORT (ACPI_PM_PORT + 1) /* WAK_STS bit 7 (ACPI 4.8.3.8) */
#define ACPI_RESET_PORT     (ACPI_PM_PORT + 2) /* the FADT reset register */
#define ACPI_PM_PORTS       3
#define ACPI_RESET_VALUE    0x01
#define ACPI_S5_SLP_TYP     5                  /* \_S5's SLP_TYPa */

#define ACPI_COM1_PORT      0x3f8
#define ACPI_LAPIC_ADDR     0xfee00000u        /* the MADT's local APIC address field */

struct acpi_tables {
    uint64_t rsdp_gpa, xsdt_gpa, fadt_gpa, dsdt_gpa, madt_gpa;
    uint32_t size;  /* bytes written from the buffer's start */
};

/* Bytes acpi_build needs for VCPUS vCPUs. */
uint32_t acpi_size(uint32_t vcpus);

/* Build the tables for a VM of VCPUS vCPUs (1..255) into BUF (SIZE bytes), which the guest
 * sees at guest-physical GPA (16-byte aligned; below 4 GiB: the FADT's 32-bit DSDT field holds
 * it too).  The RSDP comes first, at GPA.  Returns 0 and fills *OUT, or -1 with a one-line
 * reason in ERR (buffer too small, bad vCPU count, misaligned address). */
int acpi_build(void *buf, size_t size, uint64_t gpa, uint32_t vcpus, struct acpi_tables *out,
               char *err, size_t errlen);

/* What a guest's write to one of the power-management ports asks for. */
enum acpi_pm_action {
    ACPI_PM_NONE,      /* nothing (status clears, other values): the write is ignored */
    ACPI_PM_POWEROFF,  /* SLP_EN with SLP_TYP = ACPI_S5_SLP_TYP: soft-off, the VM ends */
    ACPI_PM_RESET,     /* the reset value to the reset register: the VM resets */
};

bool acpi_pm_port(uint16_t port);
/* A write of VALUE (the low byte counts) to PORT (acpi_pm_port(PORT) true). */
enum acpi_pm_action acpi_pm_write(uint16_t port, uint32_t value);
/* A read of PORT: the sleep status reads 0 (no wake event ever), the others 0. */
uint8_t acpi_pm_read(uint16_t port);

#endif
