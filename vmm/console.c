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

#define UART_FIFO   16           /* 16550A transmit FIFO: THRE means it is empty */
#define CHAR_NS     86806        /* one 8N1 character at 115200 baud: 10 bits */
#define RX_BURST_NS 2000000      /* after a received byte, poll at character rate this long */
#define VMM_RING    (128 * 1024) /* two rounds of 16 VMs x 4 vCPUs at their largest */
#define RX_RING     1024         /* received, not yet read by console_getc: 2 command lines */
#define RX_PER_POLL 64           /* bytes one console_poll takes from the UART at most */

static struct spinlock console_lock = SPINLOCK_INIT;
static volatile int console_owner = -1; /* CPU index holding the lock, for re-entry */
static volatile bool async;

/* The VMM's own ring (kprintf), then the channels. */
static char vmm_buf[VMM_RING];
static struct console_chan vmm_chan = { vmm_buf, VMM_RING, 0, 0, 0, 0, NULL };
static struct console_chan *chans;       /* registered channels, a list */
static struct console_chan *turn;        /* the next channel to send a line */
static struct console_chan *current;     /* whose line is being sent, NULL between lines */
static bool cr_sent;                     /* "\r" of the current "\r\n" already out */
static uint64_t last_rx_tsc;
/* Received bytes: written under the lock by whichever CPU polls, read by one CPU
 * (console_getc) without it; free-running positions. */
static uint8_t rx_buf[RX_RING];
static uint32_t rx_head, rx_tail;

void console_init(void)
{
    outb(COM1 + UART_IER, 0x00); /* polled: no UART interrupts */
    outb(COM1 + UART_LCR, 0x80); /* DLAB on: divisor 1 = 115200 baud */
    outb(COM1 + 0, 0x01);
    outb(COM1 + 1, 0x00);
    outb(COM1 + UART_LCR, 0x03); /* 8N1; Bochs starts with 5-bit words */
    /* FIFO on and cleared, receive trigger level 1 (level 14 was measured slower under QEMU:
     * a 289-byte command took 228 ms instead of 48, median of 20 round trips). */
    outb(COM1 + UART_FCR, 0x07);
    outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

static uint32_t used(const struct console_chan *c)
{
    return c->head - c->tail;
}

static void put_bytes(struct console_chan *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        c->buf[(c->head + i) & (c->size - 1)] = p[i];
    c->head += (uint32_t)n;
}

static bool final_order; /* machine stopping: the channels first, the VMM's ring last */

/* Under the lock: the source of the next line.  The VMM's ring is the first in the ring of
 * sources (vmm_chan.next = the channels), so it takes its turn like each VM. */
static struct console_chan *next_source(void)
{
    if (final_order) {
        for (struct console_chan *c = chans; c; c = c->next)
            if (used(c))
                return c;
        return used(&vmm_chan) ? &vmm_chan : NULL;
    }
    struct console_chan *first = turn ? turn : &vmm_chan;
    for (struct console_chan *c = first; c;) {
        struct console_chan *after = c->next ? c->next : &vmm_chan;
        if (used(c)) {
            turn = after;
            return c;
        }
        c = after;
        if (c == first)
            break;
    }
    return NULL;
}

/* Under the lock: send up to BUDGET bytes ("\n" goes out as "\r\n"); returns what is left of
 * the budget.  A line is finished before another source starts, except that the VMM's ring
 * may run dry in the middle of one (a kprintf without a newline). */
static unsigned send(unsigned budget)
{
    while (budget) {
        if (!current || !used(current)) {
            current = next_source();
            if (!current)
                break;
        }
        char ch = current->buf[current->tail & (current->size - 1)];
        if (ch == '\n' && !cr_sent) {
            outb(COM1 + UART_THR, '\r');
            cr_sent = true;
            budget--;
            continue;
        }
        outb(COM1 + UART_THR, (uint8_t)ch);
        budget--;
        cr_sent = false;
        current->tail++;
        if (ch == '\n')
            current = NULL;
    }
    return budget;
}

static bool pending(void)
{
    if (used(&vmm_chan))
        return true;
    for (struct console_chan *c = chans; c; c = c->next)
        if (used(c))
            return true;
    return false;
}

/* Under the lock: everything out, waiting for the UART. */
static void send_all(void)
{
    while (pending()) {
        while (!(inb(COM1 + UART_LSR) & LSR_THRE))
            cpu_relax();
        send(UART_FIFO);
    }
}

static bool try_lock(void)
{
    uint32_t owner = __atomic_load_n(&console_lock.owner, __ATOMIC_ACQUIRE);
    uint32_t want = owner;
    return __atomic_compare_exchange_n(&console_lock.next, &want, owner + 1, false,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/* Under the lock: what the UART has received, up to RX_PER_POLL bytes and the ring's room (what
 * does not fit stays in the UART, or in the emulator's backend, for the next poll); LSR as read
 * last. */
static uint8_t receive(void)
{
    uint8_t lsr = inb(COM1 + UART_LSR);
    uint32_t room = RX_RING - (rx_head - __atomic_load_n(&rx_tail, __ATOMIC_ACQUIRE));
    for (unsigned n = 0; (lsr & LSR_DR) && n < RX_PER_POLL && room; n++, room--) {
        rx_buf[rx_head % RX_RING] = inb(COM1 + UART_THR); /* RBR shares the offset */
        __atomic_store_n(&rx_head, rx_head + 1, __ATOMIC_RELEASE);
        last_rx_tsc = rdtsc();
        lsr = inb(COM1 + UART_LSR);
    }
    return lsr;
}

void console_poll(void)
{
    /* pCPU 0 reads the commands, so it looks for input each time; the others only when they
     * have output to send (their LSR read serves both), so an idle console costs them
     * nothing. */
    int self = (int)cpu_index();
    if (console_owner == self || (self != 0 && !pending()))
        return;
    uint64_t flags = irq_save();
    if (try_lock()) {
        console_owner = self;
        if ((receive() & LSR_THRE) && pending())
            send(UART_FIFO);
        console_owner = -1;
        spin_unlock(&console_lock);
    }
    irq_restore(flags);
}

uint64_t console_next_poll_tsc(uint64_t now_tsc)
{
    uint64_t char_tsc = CHAR_NS * (tsc_hz() / 1000) / 1000000;
    if (pending())
        return now_tsc + UART_FIFO * char_tsc;
    if (last_rx_tsc && now_tsc - last_rx_tsc < RX_BURST_NS * (tsc_hz() / 1000) / 1000000)
        return now_tsc + char_tsc;
    return 0;
}

void console_set_async(bool on)
{
    async = on;
}

void console_chan_init(struct console_chan *c, char *buf, uint32_t size)
{
    *c = (struct console_chan){ .buf = buf, .size = size };
    uint64_t flags = irq_save();
    spin_lock(&console_lock);
    c->next = chans;
    chans = c;
    vmm_chan.next = chans;
    turn = &vmm_chan;
    spin_unlock(&console_lock);
    irq_restore(flags);
}

static bool chan_put(struct console_chan *c, const char *line, size_t len, uint32_t keep)
{
    uint64_t flags = irq_save();
    spin_lock(&console_lock);
    bool fits = len + 1 + keep <= c->size - used(c);
    if (fits) {
        put_bytes(c, line, len);
        put_bytes(c, "\n", 1);
    } else {
        c->dropped_bytes += len + 1;
        c->dropped_lines++;
    }
    if (!async)
        send_all();
    spin_unlock(&console_lock);
    irq_restore(flags);
    return fits;
}

bool console_chan_put(struct console_chan *c, const char *line, size_t len)
{
    return chan_put(c, line, len, CONSOLE_CHAN_RESERVE);
}

void console_chan_printf(struct console_chan *c, const char *fmt, ...)
{
    char buf[CONSOLE_CHAN_RESERVE / 2];
    va_list ap;
    va_start(ap, fmt);
    size_t n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= sizeof(buf))
        n = sizeof(buf) - 1;
    if (n && buf[n - 1] == '\n')
        n--;
    chan_put(c, buf, n, 0);
}

size_t console_room(void)
{
    return VMM_RING - used(&vmm_chan);
}

void console_wait_room(size_t bytes)
{
    while (console_room() < bytes && console_room() < VMM_RING) {
        console_poll();
        cpu_relax();
    }
}

uint64_t console_dropped(void)
{
    return vmm_chan.dropped_bytes;
}

int console_getc(void)
{
    uint32_t tail = rx_tail;
    if (tail == __atomic_load_n(&rx_head, __ATOMIC_ACQUIRE))
        return -1;
    int ch = rx_buf[tail % RX_RING];
    __atomic_store_n(&rx_tail, tail + 1, __ATOMIC_RELEASE);
    return ch;
}

void console_drain(void)
{
    uint64_t flags = irq_save();
    async = false;
    final_order = true;
    /* The machine is stopping: a CPU stopped by the halt NMI may hold the lock (for a few
     * instructions' worth of copying); after 10 ms this CPU goes on without it. */
    uint64_t give_up = rdtsc() + 10 * (tsc_hz() / 1000);
    bool locked = console_owner == (int)cpu_index();
    while (!locked && !(locked = try_lock()) && rdtsc() < give_up)
        cpu_relax();
    console_owner = (int)cpu_index(); /* its kprintfs from now on: out at once, no lock */
    send_all();
    while (!(inb(COM1 + UART_LSR) & LSR_TEMT))
        cpu_relax();
    irq_restore(flags);
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
    if (n <= VMM_RING - used(&vmm_chan))
        put_bytes(&vmm_chan, buf, n);
    else
        vmm_chan.dropped_bytes += n;
    /* Synchronous, or re-entered by a CPU that faulted while printing: out now. */
    if (!async || reentered)
        send_all();
    if (!reentered) {
        console_owner = -1;
        spin_unlock(&console_lock);
    }
    irq_restore(flags);
}
