/* VMs and their vCPUs: created from the configuration, run on the pCPUs, their exits handled
 * here in arch-neutral terms (struct vexit from vmm/arch.h).  A VM that misbehaves is stopped
 * alone with a report; the run ends when every VM has ended or [machine] run_ms has passed,
 * with one outcome line per VM. */
#ifndef VSCHED_VMM_VM_H
#define VSCHED_VMM_VM_H

#include "vmm/arch.h"
#include "vmm/bootinfo.h"

struct machine;

/* BSP, once, before any pCPU runs guests: build the machine, every VM of the configuration
 * (memory, image, vCPUs) on backend ARCH.  Stops the boot (status 2) when a VM cannot be
 * built. */
struct machine *vm_create_all(const struct boot_info *bi, const struct arch_ops *arch);
/* Every pCPU: run the vCPUs placed on this pCPU until the run ends.  The last pCPU to finish
 * prints the final report and halts the machine. */
void vm_run_cpu(struct machine *m) __attribute__((noreturn));

#endif
