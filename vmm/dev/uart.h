/* A 16550A UART (National Semiconductor PC16550D data sheet; the registers Linux's 8250 driver
 * uses) for one VM's COM1.  Eight I/O ports from the base:
 *   0 RBR (read) / THR (write), DLL when LCR.DLAB     1 IER, DLM when LCR.DLAB
 *   2 IIR (read) / FCR (write)    3 LCR    4 MCR    5 LSR    6 MSR    7 SCR
 * Transmission is instant: a byte written to THR goes to the transmit sink at once (the VM's
 * console), so THR and the transmitter are always empty (LSR.THRE and TEMT set).  Received bytes
 * come from the VM's console input: uart_input queues them (UART_INPUT_MAX bytes, all of a
 * write or none) and every guest access first moves what fits into the 16-byte receive FIFO
 * (the one-byte holding register when FIFOs are off), so the FIFO refills as the guest drains
 * it and nothing overruns; uart_rx_push feeds the FIFO directly (a full FIFO refuses).  Interrupt identification (IIR) is computed as the chip does, by
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
#define UART_INPUT_MAX  1024   /* console input waiting for the FIFO: 4 full input commands */

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
    uint8_t input[UART_INPUT_MAX]; /* queued console input, a ring */
    uint32_t input_head, input_count;
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

/* Queue N bytes of console input: all of them, then as many as fit go into the FIFO at once,
 * the rest as the guest reads; or none (false) when fewer than N bytes of the queue are free. */
bool uart_input(struct uart *u, const uint8_t *bytes, uint32_t n);
/* Input bytes not yet read by the guest: in the queue and in the FIFO. */
uint32_t uart_input_waiting(const struct uart *u);

/* The chip's INTR output: an interrupt is identified in IIR and MCR.OUT2 gates it onto the PC's
 * IRQ line (the 8250 driver sets OUT2 when it wants interrupts). */
bool uart_irq_pending(const struct uart *u);

#endif
