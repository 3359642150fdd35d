#include "vmm/halt.h"

#include "vmm/console.h"
#include "vmm/cpu.h"
#include "vmm/tsc.h"
#include "vmm/lapic.h"
#include "vmm/x86.h"

#define DEBUG_EXIT_PORT     0xf4
#define BOCHS_SHUTDOWN_PORT 0x8900

static volatile int halting;
static volatile uint32_t stopped; /* other CPUs that took the halt NMI */

bool machine_halting(void)
{
    return halting != 0;
}

void machine_halt_here(void)
{
    __atomic_fetch_add(&stopped, 1, __ATOMIC_ACQ_REL);
    halt_forever();
}

void machine_halt(enum halt_status status)
{
    irq_disable();
    /* The first CPU to halt stops the others (with an NMI, which reaches them even with
     * interrupts off) and speaks for the machine; a second one just stops. */
    if (__atomic_exchange_n(&halting, 1, __ATOMIC_ACQ_REL))
        machine_halt_here();
    lapic_nmi_others();
    /* Every other CPU says it stopped, in the VMM or in guest mode (VT-x: an NMI exit, SVM:
     * the NMI intercept), before the machine's last line. */
    uint32_t others = 0;
    for (uint32_t i = 0; i < MAX_CPUS; i++) {
        struct percpu *c = cpu_get(i);
        others += c && c->online && i != cpu_index();
    }
    uint64_t give_up = rdtsc() + 50 * (tsc_hz() / 1000);
    while (__atomic_load_n(&stopped, __ATOMIC_ACQUIRE) < others && rdtsc() < give_up)
        cpu_relax();
    /* The console first: a CPU the NMI stopped may hold its lock, and a kprintf would wait
     * for it for ever (seen once: a 4-pCPU run hung mid-record until the emulator's
     * timeout); console_drain waits at most 10 ms and makes this CPU the console's owner. */
    console_drain();
    kprintf("halt: %u of %u other CPUs stopped\n", stopped, others);
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
