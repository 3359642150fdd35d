/* The 16550A register model; see uart.h.  Register bits from the PC16550D data sheet
 * (Table II "Summary of Registers"). */
#include "vmm/dev/uart.h"

#include <string.h>

enum { RBR = 0, IER = 1, IIR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDI      0x01   /* received data available */
#define IER_THRI     0x02   /* THR empty */
#define IER_RLSI     0x04   /* receiver line status */
#define IER_MSI      0x08   /* modem status */
#define IER_MASK     0x0f   /* bits 7:4 read 0 on a 16550A (not an XScale, not a 16750) */

#define IIR_NO_INT   0x01
#define IIR_MSI      0x00
#define IIR_THRI     0x02
#define IIR_RDI      0x04
#define IIR_RLSI     0x06
#define IIR_TIMEOUT  0x0c
#define IIR_FIFO_ON  0xc0   /* bits 7:6 with FIFOs enabled; bit 5 (64-byte FIFO) stays 0 */

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_TRIGGER  0xc0   /* receive trigger level 1, 4, 8, 14 bytes */

#define LCR_DLAB     0x80

#define MCR_DTR      0x01
#define MCR_RTS      0x02
#define MCR_OUT1     0x04
#define MCR_OUT2     0x08
#define MCR_LOOP     0x10
#define MCR_MASK     0x1f

#define LSR_DR       0x01
#define LSR_THRE     0x20
#define LSR_TEMT     0x40

#define MSR_DCTS     0x01
#define MSR_DDSR     0x02
#define MSR_TERI     0x04
#define MSR_DDCD     0x08
#define MSR_CTS      0x10
#define MSR_DSR      0x20
#define MSR_RI       0x40
#define MSR_DCD      0x80
/* Outside loopback the other end is a console that is always there: CTS, DSR and DCD on. */
#define MSR_CONNECTED (MSR_CTS | MSR_DSR | MSR_DCD)

static const uint8_t trigger_level[4] = { 1, 4, 8, 14 };

static bool fifo_on(const struct uart *u)
{
    return u->fcr & FCR_ENABLE;
}

static uint32_t rx_capacity(const struct uart *u)
{
    return fifo_on(u) ? UART_FIFO_SIZE : 1;
}

/* MSR bits 7:4 as the modem inputs are now: in loopback DTR->DSR, RTS->CTS, OUT1->RI,
 * OUT2->DCD. */
static uint8_t msr_inputs(const struct uart *u)
{
    if (!(u->mcr & MCR_LOOP))
        return MSR_CONNECTED;
    uint8_t m = 0;
    if (u->mcr & MCR_RTS)
        m |= MSR_CTS;
    if (u->mcr & MCR_DTR)
        m |= MSR_DSR;
    if (u->mcr & MCR_OUT1)
        m |= MSR_RI;
    if (u->mcr & MCR_OUT2)
        m |= MSR_DCD;
    return m;
}

/* Inputs changed: set the delta bits the data sheet defines (TERI on RI's trailing edge). */
static void update_msr(struct uart *u)
{
    uint8_t now = msr_inputs(u), old = u->msr_inputs, changed = now ^ old;
    if (changed & MSR_CTS)
        u->msr_delta |= MSR_DCTS;
    if (changed & MSR_DSR)
        u->msr_delta |= MSR_DDSR;
    if ((old & MSR_RI) && !(now & MSR_RI))
        u->msr_delta |= MSR_TERI;
    if (changed & MSR_DCD)
        u->msr_delta |= MSR_DDCD;
    u->msr_inputs = now;
}

void uart_init(struct uart *u, uart_tx_fn tx, void *tx_ctx)
{
    memset(u, 0, sizeof(*u));
    u->tx = tx;
    u->tx_ctx = tx_ctx;
    u->msr_inputs = msr_inputs(u);
}

static void rx_put(struct uart *u, uint8_t byte)
{
    u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
    u->rx_count++;
}

uint32_t uart_rx_room(const struct uart *u)
{
    if (u->mcr & MCR_LOOP)
        return 0;
    return rx_capacity(u) - u->rx_count;
}

bool uart_rx_push(struct uart *u, uint8_t byte)
{
    if (!uart_rx_room(u))
        return false;
    rx_put(u, byte);
    return true;
}

/* Queued input into the FIFO, as much as it takes (none in loopback: the receiver listens to
 * THR then, and the input waits). */
static void refill(struct uart *u)
{
    while (u->input_count && uart_rx_room(u)) {
        rx_put(u, u->input[u->input_head]);
        u->input_head = (u->input_head + 1) % UART_INPUT_MAX;
        u->input_count--;
    }
}

bool uart_input(struct uart *u, const uint8_t *bytes, uint32_t n)
{
    if (n > UART_INPUT_MAX - u->input_count)
        return false;
    for (uint32_t i = 0; i < n; i++)
        u->input[(u->input_head + u->input_count + i) % UART_INPUT_MAX] = bytes[i];
    u->input_count += n;
    refill(u);
    return true;
}

uint32_t uart_input_waiting(const struct uart *u)
{
    return u->input_count + ((u->mcr & MCR_LOOP) ? 0 : u->rx_count);
}

/* The highest-priority pending interrupt's IIR bits 3:0 (IIR_NO_INT when none). */
static uint8_t pending_id(const struct uart *u)
{
    /* Receiver line status: never (no parity/framing errors, no break, no overrun). */
    if ((u->ier & IER_RDI) && u->rx_count) {
        if (!fifo_on(u) || u->rx_count >= trigger_level[u->fcr >> 6])
            return IIR_RDI;
        return IIR_TIMEOUT;
    }
    if ((u->ier & IER_THRI) && u->thre_pending)
        return IIR_THRI;
    if ((u->ier & IER_MSI) && u->msr_delta)
        return IIR_MSI;
    return IIR_NO_INT;
}

bool uart_irq_pending(const struct uart *u)
{
    return pending_id(u) != IIR_NO_INT && (u->mcr & MCR_OUT2);
}

static void write_reg(struct uart *u, uint8_t offset, uint8_t v)
{
    bool dlab = u->lcr & LCR_DLAB;
    switch (offset) {
    case RBR:
        if (dlab) {
            u->dll = v;
            break;
        }
        if (u->mcr & MCR_LOOP) {
            if (u->rx_count < rx_capacity(u))   /* else an overrun: the byte is lost */
                rx_put(u, v);
        } else if (u->tx) {
            u->tx(u->tx_ctx, v);
        }
        /* The byte left at once: THR is empty again, and says so (data sheet: THRE
         * interrupt on THR empty; a THR write clears the old one). */
        u->thre_pending = true;
        break;
    case IER:
        if (dlab) {
            u->dlm = v;
            break;
        }
        /* Enabling THRI while THR is empty raises the interrupt (the 8250 driver's THRE
         * test relies on it). */
        if ((v & IER_THRI) && !(u->ier & IER_THRI))
            u->thre_pending = true;
        u->ier = v & IER_MASK;
        break;
    case IIR: { /* FCR */
        uint8_t was_on = u->fcr & FCR_ENABLE;
        /* Changing the enable bit resets both FIFOs (data sheet, FCR bit 0). */
        if ((v & FCR_ENABLE) != was_on || (v & FCR_CLEAR_RX)) {
            u->rx_count = 0;
            u->rx_head = 0;
        }
        u->fcr = v & (FCR_ENABLE | FCR_TRIGGER);
        break;
    }
    case LCR:
        u->lcr = v;
        break;
    case MCR:
        u->mcr = v & MCR_MASK;
        update_msr(u);
        break;
    case LSR: /* factory test register on real parts: ignored */
    case MSR:
        break;
    case SCR:
        u->scr = v;
        break;
    }
}

static uint8_t read_reg(struct uart *u, uint8_t offset)
{
    bool dlab = u->lcr & LCR_DLAB;
    switch (offset) {
    case RBR: {
        if (dlab)
            return u->dll;
        if (!u->rx_count)
            return 0;
        uint8_t b = u->rx[u->rx_head];
        u->rx_head = (uint8_t)((u->rx_head + 1) % UART_FIFO_SIZE);
        u->rx_count--;
        return b;
    }
    case IER:
        return dlab ? u->dlm : u->ier;
    case IIR: {
        uint8_t id = pending_id(u);
        /* Reading IIR while it reports THR empty acknowledges that interrupt. */
        if (id == IIR_THRI)
            u->thre_pending = false;
        return (uint8_t)(id | (fifo_on(u) ? IIR_FIFO_ON : 0));
    }
    case LCR:
        return u->lcr;
    case MCR:
        return u->mcr;
    case LSR:
        return (uint8_t)(LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0));
    case MSR: {
        uint8_t v = (uint8_t)(u->msr_inputs | u->msr_delta);
        u->msr_delta = 0;
        return v;
    }
    case SCR:
        return u->scr;
    }
    return 0xff;
}

uint8_t uart_io(struct uart *u, uint8_t offset, bool is_write, uint8_t value)
{
    offset &= UART_PORTS - 1;
    /* Before: what the guest sees includes the input queued since its last access; after:
     * the byte it just read (or a FIFO it just cleared, or loopback ended) makes room. */
    refill(u);
    uint8_t r = 0;
    if (is_write)
        write_reg(u, offset, value);
    else
        r = read_reg(u, offset);
    refill(u);
    return r;
}
