/* The VMM's entry points, called by boot/ (data flows boot -> vmm -> sched). */
#ifndef VSCHED_VMM_VMM_H
#define VSCHED_VMM_VMM_H

#include "vmm/bootinfo.h"
#include "vmm/cpu.h"

/* After ExitBootServices, on the bootstrap CPU: memory, descriptor tables, local APIC,
 * time, capability probe.  BI must stay valid for the whole run. */
void vmm_init_bsp(const struct boot_info *bi);
/* The first C code of an application processor, on its own stack (boot/trampoline.S). */
void vmm_ap_entry(struct percpu *cpu) __attribute__((noreturn));
/* Once boot/ has started the APs: run what the configuration describes, then halt. */
void vmm_main(void) __attribute__((noreturn));

#endif
