/* The VMM console: a 16550 UART (COM1) driven by polling.  kprintf() may be called from every
 * CPU at once; each call's output is written under one lock, so lines never interleave.
 * A CPU that faults while it holds the lock (an exception inside kprintf) still gets its
 * report out: the lock is re-entered by its owner. */
#ifndef VSCHED_VMM_CONSOLE_H
#define VSCHED_VMM_CONSOLE_H

void console_init(void);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The next received byte, or -1 when none is waiting (polled; one CPU reads).  Right after a
 * byte it waits up to 200 us for the next one, so a line that arrives a byte at a time (Bochs)
 * is still read in one go. */
int console_getc(void);
/* Wait until the UART has sent every character (before the machine stops). */
void console_drain(void);

#endif
