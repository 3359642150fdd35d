/* The VMM console: a 16550 UART (COM1) driven by polling.  kprintf() may be called from every
 * CPU at once; each call's output is written under one lock, so lines never interleave.
 * A CPU that faults while it holds the lock (an exception inside kprintf) still gets its
 * report out: the lock is re-entered by its owner. */
#ifndef VSCHED_VMM_CONSOLE_H
#define VSCHED_VMM_CONSOLE_H

void console_init(void);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Wait until the UART has sent every character (before the machine stops). */
void console_drain(void);

#endif
