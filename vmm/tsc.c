#include "vmm/tsc.h"

#include "vmm/x86.h"

#define PIT_HZ        1193182u
#define PIT_CH2       0x42
#define PIT_CMD       0x43
#define PIT_GATE_PORT 0x61
#define CAL_MS        10u

static uint64_t hz = 1000000000ull; /* until calibrated: a harmless guess */

uint64_t tsc_calibrate(void)
{
    uint16_t count = (uint16_t)(PIT_HZ / (1000 / CAL_MS));
    uint8_t gate = inb(PIT_GATE_PORT);
    /* Channel 2 gate on, speaker off; mode 0 (interrupt on terminal count), lo/hi byte. */
    outb(PIT_GATE_PORT, (uint8_t)((gate & ~0x02) | 0x01));
    outb(PIT_CMD, 0xb0);
    outb(PIT_CH2, (uint8_t)count);
    outb(PIT_CH2, (uint8_t)(count >> 8));
    uint64_t t0 = rdtsc();
    while (!(inb(PIT_GATE_PORT) & 0x20)) /* OUT2 goes high at terminal count */
        cpu_relax();
    uint64_t t1 = rdtsc();
    outb(PIT_GATE_PORT, gate);
    hz = (t1 - t0) * PIT_HZ / count;
    return hz;
}

uint64_t tsc_hz(void)
{
    return hz;
}

uint64_t tsc_to_ns(uint64_t tsc)
{
    /* Split so nothing overflows and no 128-bit division (libgcc) is needed. */
    return tsc / hz * 1000000000u + tsc % hz * 1000000000u / hz;
}

uint64_t tsc_now_ns(void)
{
    return tsc_to_ns(rdtsc());
}

void tsc_delay_us(uint64_t us)
{
    uint64_t end = rdtsc() + us * hz / 1000000u;
    while (rdtsc() < end)
        cpu_relax();
}
