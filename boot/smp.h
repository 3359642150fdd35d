/* Starting the application processors after ExitBootServices. */
#ifndef VSCHED_BOOT_SMP_H
#define VSCHED_BOOT_SMP_H

#include <stdint.h>

#include "vmm/bootinfo.h"

/* Bring up bi->apic_ids[1..ncpus-1] one by one, with INIT-SIPI-SIPI through the start-up
 * page TRAMPOLINE_PA (below 1 MiB, reserved before ExitBootServices).  Returns how many
 * started. */
uint32_t smp_start_aps(const struct boot_info *bi, uint64_t trampoline_pa);

#endif
