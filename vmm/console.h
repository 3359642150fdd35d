/* The VMM console: a 16550 UART (COM1), polled.
 *
 * Until console_set_async(true) (boot) and again from machine_halt on, kprintf writes
 * synchronously: each call's output reaches the UART before it returns, so nothing is lost
 * if the machine stops.  While the VMs run, nothing that prints ever waits for the UART:
 * kprintf appends to the VMM's ring, guest consoles append whole lines to their VM's
 * channel, and console_poll() -- called from idle loops and exit paths, never spinning --
 * moves at most one transmit FIFO's worth (16 bytes) to the UART when it is ready.  Lines
 * never interleave: the VMM's ring and the channels take turns line by line, so a VM that
 * floods its console fills only its own channel (and loses its own output, counted), never
 * delays the VMM or another VM by more than one line.  When the machine stops, the channels
 * are emptied before the VMM's ring, so the final lines come last.
 *
 * kprintf may be called from every CPU at once; a CPU that faults while it holds the
 * console lock still gets its report out (the lock is re-entered by its owner). */
#ifndef VSCHED_VMM_CONSOLE_H
#define VSCHED_VMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void console_init(void);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Buffered (true) or synchronous (false) output, as described above. */
void console_set_async(bool async);

/* A per-VM output channel: a bounded ring of whole lines in BUF (SIZE bytes, a power of
 * two), drained in turn with the others. */
struct console_chan {
    char *buf;
    uint32_t size;
    uint32_t head, tail;       /* write and read positions, free-running */
    uint64_t dropped_bytes;    /* lines that did not fit, their bytes counted */
    uint64_t dropped_lines;
    struct console_chan *next; /* the drain's list */
};
void console_chan_init(struct console_chan *c, char *buf, uint32_t size);
/* Append LINE (LEN bytes, no newline) and a newline: all of it, or nothing when the channel
 * lacks room (counted in dropped_*).  False when dropped.  Guest lines may fill the channel
 * only up to CONSOLE_CHAN_RESERVE bytes from its end: the rest is for the VMM's own lines
 * about the VM (console_chan_printf), which therefore come out after everything the VM
 * printed before them, and are never dropped for a flood. */
#define CONSOLE_CHAN_RESERVE 512
bool console_chan_put(struct console_chan *c, const char *line, size_t len);
void console_chan_printf(struct console_chan *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Move what the UART has received into the receive ring (at most 64 bytes a call) and what it
 * can take now to it (never waits).  Any CPU, any time interrupts are off. */
void console_poll(void);
/* When console_poll should run again: 0 when nothing waits to be sent or received, else the
 * TSC value at which the transmit FIFO will have drained (16 character times). */
uint64_t console_next_poll_tsc(uint64_t now_tsc);
/* Bytes the VMM's ring can take without dropping (records check it before a round). */
size_t console_room(void);
/* Wait (spinning, feeding the UART) until the ring has BYTES free: only where no vCPU is
 * charged for the wait (the final round, every vCPU parked). */
void console_wait_room(size_t bytes);
/* VMM output dropped because its ring was full. */
uint64_t console_dropped(void);

/* The next received byte from the ring console_poll fills, or -1 when none is waiting (never
 * waits; one CPU reads). */
int console_getc(void);
/* Send everything buffered, waiting for the UART, until it has sent every character (before
 * the machine stops). */
void console_drain(void);

#endif
