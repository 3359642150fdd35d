#include "vmm/halt.h"

#include "vmm/console.h"
#include "vmm/lapic.h"
#include "vmm/x86.h"

#define DEBUG_EXIT_PORT     0xf4
#define BOCHS_SHUTDOWN_PORT 0x8900

static volatile int halting;

bool machine_halting(void)
{
    return halting != 0;
}

void machine_halt(enum halt_status status)
{
    irq_disable();
    /* The first CPU to halt stops the others (with an NMI, which reaches them even with
     * interrupts off) and speaks for the machine; a second one just stops. */
    if (__atomic_exchange_n(&halting, 1, __ATOMIC_ACQ_REL))
        halt_forever();
    lapic_nmi_others();
    kprintf("halt: status=%d\n", (int)status);
    console_drain();
    outb(DEBUG_EXIT_PORT, (uint8_t)status);  /* QEMU exits with (status << 1) | 1 */
    /* Bochs (2.7 and 3.0, iodev/unmapped.cc) ends the emulator when the bytes "Shutdown"
     * reach port 0x8900 in a row.  Only the VMM can write there: every guest port access
     * exits to the VMM (VT-x I/O bitmaps, SVM IOPM), which never passes one through.  Not
     * the magic breakpoint `xchg %bx,%bx`, which any guest can execute. */
    for (const char *p = "Shutdown"; *p; p++)
        outb(BOCHS_SHUTDOWN_PORT, (uint8_t)*p);
    halt_forever();
}
