/* Stopping the machine.  The last console line of every run is `halt: status=N`; the
 * emulator then exits by itself (QEMU's isa-debug-exit at port 0xf4, Bochs' shutdown port
 * 0x8900 -- ports no guest can reach), and on real hardware the CPUs stop. */
#ifndef VSCHED_VMM_HALT_H
#define VSCHED_VMM_HALT_H

#include <stdbool.h>

enum halt_status {
    HALT_OK = 0,         /* every VM ended as its configuration expects */
    HALT_VM_FAILED = 1,  /* a VM ended otherwise */
    HALT_CONFIG = 2,     /* bad configuration or missing guest image */
    HALT_EXCEPTION = 3,  /* unexpected exception in the VMM */
    HALT_BOOT = 4,       /* the machine could not be brought up */
};

void machine_halt(enum halt_status status) __attribute__((noreturn));
bool machine_halting(void);
/* The halt NMI reached this CPU (another one halts the machine): say so, and stop. */
void machine_halt_here(void) __attribute__((noreturn));

#endif
