#include "vmm/console.h"

#include <stdarg.h>
#include <stdint.h>

#include "vmm/cpu.h"
#include "vmm/fmt.h"
#include "vmm/spinlock.h"
#include "vmm/tsc.h"
#include "vmm/x86.h"

#define COM1 0x3f8
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_DR   0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

static struct spinlock console_lock = SPINLOCK_INIT;
static volatile int console_owner = -1; /* CPU index holding the lock, for re-entry */

void console_init(void)
{
    outb(COM1 + UART_IER, 0x00); /* polled: no UART interrupts */
    outb(COM1 + UART_LCR, 0x80); /* DLAB on: divisor 1 = 115200 baud */
    outb(COM1 + 0, 0x01);
    outb(COM1 + 1, 0x00);
    outb(COM1 + UART_LCR, 0x03); /* 8N1; Bochs starts with 5-bit words */
    outb(COM1 + UART_FCR, 0x07); /* FIFO on and cleared */
    outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

static void uart_putc(char c)
{
    while (!(inb(COM1 + UART_LSR) & LSR_THRE))
        cpu_relax();
    outb(COM1 + UART_THR, (uint8_t)c);
}

/* After a byte, wait this long for the next one: two character times at 115200 baud.  Bochs
 * 2.7 (iodev/serial.cc, rx_timer) takes a byte from its socket only while LSR.DR is clear, at
 * most one per receive poll (one character time apart), so a line the host sent at once shows
 * up one byte at a time, each one some microseconds after the previous one was read; without
 * the wait, every call of the caller's drain loop would get a single byte. */
#define RX_GAP_US 200

static bool rx_burst; /* the last call returned a byte */

int console_getc(void)
{
    uint64_t until = rx_burst ? rdtsc() + RX_GAP_US * (tsc_hz() / 1000000) : 0;
    while (!(inb(COM1 + UART_LSR) & LSR_DR)) {
        if (rdtsc() >= until) {
            rx_burst = false;
            return -1;
        }
        cpu_relax();
    }
    rx_burst = true;
    return inb(COM1 + UART_THR); /* RBR: the receive buffer shares the offset */
}

void console_drain(void)
{
    while (!(inb(COM1 + UART_LSR) & LSR_TEMT))
        cpu_relax();
}

void kprintf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    size_t n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= sizeof(buf))
        n = sizeof(buf) - 1;

    uint64_t flags = irq_save();
    int self = (int)cpu_index();
    bool reentered = console_owner == self;
    if (!reentered) {
        spin_lock(&console_lock);
        console_owner = self;
    }
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n')
            uart_putc('\r');
        uart_putc(buf[i]);
    }
    if (!reentered) {
        console_owner = -1;
        spin_unlock(&console_lock);
    }
    irq_restore(flags);
}
