/* What boot/ hands to the VMM after ExitBootServices: the memory map in the VMM's own terms,
 * the CPUs the firmware described, the parsed configuration and the guest images, Linux
 * kernels and initrds read from the ESP.  Filled once on the bootstrap CPU; read-only
 * afterwards. */
#ifndef VSCHED_VMM_BOOTINFO_H
#define VSCHED_VMM_BOOTINFO_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/config.h"
#include "vmm/cpu.h"

#define BOOT_MAX_MEM_RANGES 512

enum boot_mem_type {
    BOOT_MEM_FREE,      /* usable RAM, given to the page allocator */
    BOOT_MEM_LOADER,    /* the VMM image, its boot-time allocations */
    BOOT_MEM_FIRMWARE,  /* firmware boot/runtime code and data */
    BOOT_MEM_ACPI,      /* ACPI tables and NVS */
    BOOT_MEM_MMIO,      /* device memory */
    BOOT_MEM_RESERVED,
};

struct boot_mem_range {
    uint64_t base, size;
    enum boot_mem_type type;
};

struct boot_image {
    const void *data; /* in BOOT_MEM_LOADER memory, kept after ExitBootServices */
    uint64_t size;
};

struct boot_info {
    struct boot_mem_range mem[BOOT_MAX_MEM_RANGES];
    uint32_t nmem;
    uint32_t firmware_map_entries;
    uint32_t ncpus;                  /* CPUs the firmware describes, BSP first */
    uint32_t apic_ids[MAX_CPUS];
    uint32_t cpus_ignored;           /* described but beyond MAX_CPUS or the configuration */
    bool have_cfg;
    struct cfg cfg;
    struct boot_image images[CFG_MAX_VMS]; /* images[i] belongs to cfg.vms[i] */
    /* Linux VMs (cfg.vms[i].kernel set): the kernel file, checked by lx_inspect and lx_plan
     * for the VM's memory (with the initrd and the longest command line the VMM builds), and
     * the initrd ({NULL, 0} when none).  VMs naming the same file share one copy. */
    struct boot_image kernels[CFG_MAX_VMS];
    struct boot_image initrds[CFG_MAX_VMS];
    struct boot_image meta_profile;  /* [machine] meta_profile ({NULL, 0} when none) */
};

#endif
