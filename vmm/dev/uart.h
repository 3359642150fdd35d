/* A 16550A UART (National Semiconductor PC16550D data sheet; the registers Linux's 8250 driver
 * uses) for one VM's COM1.  Eight I/O ports from the base:
 *   0 RBR (read) / THR (write), DLL when LCR.DLAB     1 IER, DLM when LCR.DLAB
 *   2 IIR (read) / FCR (write)    3 LCR    4 MCR    5 LSR    6 MSR    7 SCR
 * Transmission is instant: a byte written to THR goes to the transmit sink at once (the VM's
 * console), so THR and the transmitter are always empty (LSR.THRE and TEMT set).  Received bytes
 * come from the VM's console input through uart_rx_push, into the 16-byte receive FIFO (or the
 * one-byte holding register when FIFOs are off); a full FIFO refuses bytes, so the caller keeps
 * them and nothing overruns.  Interrupt identification (IIR) is computed as the chip does, by
 * priority: receiver line status, received data (at or above the FIFO trigger level), character
 * timeout (data below it; reported at once: between two guest reads far more than four
 * character times pass), THR empty, modem status.  There is no interrupt line: the DSDT gives
 * COM1 none, and Linux polls IIR; uart_irq_pending says what the line would be.  Loopback
 * (MCR bit 4) sends THR to the receiver and MCR's outputs to MSR's inputs (8250 autoconfig
 * checks it).  Baud divisor and line control are stored, not used.
 * Pure and unlocked: one caller at a time (the VMM takes the VM's lock around each call). */
#ifndef VSCHED_VMM_DEV_UART_H
#define VSCHED_VMM_DEV_UART_H

#include <stdbool.h>
#include <stdint.h>

#define UART_PORTS      8
#define UART_FIFO_SIZE  16

/* Where transmitted bytes go. */
typedef void (*uart_tx_fn)(void *ctx, uint8_t byte);

struct uart {
    uart_tx_fn tx;
    void *tx_ctx;
    uint8_t ier, lcr, mcr, scr, dll, dlm;
    uint8_t fcr;              /* the last FCR write's enable and trigger bits */
    uint8_t msr_delta;        /* MSR bits 3:0, cleared by reading MSR */
    uint8_t msr_inputs;       /* MSR bits 7:4 as last seen, for the deltas */
    bool thre_pending;        /* THR-empty interrupt raised and not yet acknowledged */
    uint8_t rx[UART_FIFO_SIZE];
    uint8_t rx_head, rx_count;
};

/* Reset state (the chip's master reset: everything 0, LSR = THRE|TEMT, FIFOs off). */
void uart_init(struct uart *u, uart_tx_fn tx, void *tx_ctx);

/* A guest access at OFFSET (0..7 from the base).  A write stores the low byte of VALUE and
 * returns 0; a read returns the register's value. */
uint8_t uart_io(struct uart *u, uint8_t offset, bool is_write, uint8_t value);

/* A byte of console input for the guest.  False (and nothing stored) when the receive FIFO is
 * full or the UART is in loopback mode (its receiver listens to THR then). */
bool uart_rx_push(struct uart *u, uint8_t byte);
/* Bytes uart_rx_push would take now. */
uint32_t uart_rx_room(const struct uart *u);

/* The chip's INTR output: an interrupt is identified in IIR and MCR.OUT2 gates it onto the PC's
 * IRQ line (the 8250 driver sets OUT2 when it wants interrupts). */
bool uart_irq_pending(const struct uart *u);

#endif
