#include "vmm/halt.h"

#include "vmm/console.h"
#include "vmm/lapic.h"
#include "vmm/x86.h"

#define DEBUG_EXIT_PORT 0xf4

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
    __asm__ volatile("xchg %%bx, %%bx" ::: "memory"); /* Bochs magic breakpoint */
    halt_forever();
}
