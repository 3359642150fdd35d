/* Unit tests for the 16550A model (vmm/dev/uart.c): reset values, Linux's 8250 autoconfig and
 * THRE test sequences (drivers/tty/serial/8250/8250_port.c, as facts: what it writes, what it
 * expects to read), transmit, receive with the FIFO and its trigger level, interrupt
 * identification by priority, loopback with the modem-status deltas, and a property test:
 * bytes pushed come out of RBR in order, none lost or duplicated, under random interleavings
 * with IER/FCR/IIR/LSR traffic, and LSR/IIR always agree with the FIFO's state; console input
 * (uart_input) queued whole or refused, fed to the FIFO as the guest reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "vmm/dev/uart.h"

enum { RBR = 0, IER = 1, IIR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

static uint8_t sent[4096];
static unsigned nsent;

static void sink(void *ctx, uint8_t b)
{
    assert_ptr_equal(ctx, sent);
    sent[nsent++ % sizeof(sent)] = b;
}

static struct uart u;

static uint8_t in(uint8_t off)
{
    return uart_io(&u, off, false, 0);
}

static void out(uint8_t off, uint8_t v)
{
    assert_int_equal(uart_io(&u, off, true, v), 0);
}

static int setup(void **state)
{
    (void)state;
    nsent = 0;
    uart_init(&u, sink, sent);
    return 0;
}

static void test_reset_values(void **state)
{
    (void)state;
    assert_int_equal(in(IER), 0);
    assert_int_equal(in(IIR), 0x01);
    assert_int_equal(in(LCR), 0);
    assert_int_equal(in(MCR), 0);
    assert_int_equal(in(LSR), 0x60);       /* THRE | TEMT */
    assert_int_equal(in(MSR), 0xb0);       /* DCD | DSR | CTS: a console is attached */
    assert_int_equal(in(SCR), 0);
    assert_int_equal(in(RBR), 0);
    assert_false(uart_irq_pending(&u));
}

/* What Linux's autoconfig() does before it calls a port a 16550A. */
static void test_linux_autoconfig(void **state)
{
    (void)state;
    /* IER test: 0 reads back 0, 0x0F reads back 0x0F. */
    uint8_t saved = in(IER);
    out(IER, 0);
    assert_int_equal(in(IER) & 0x0f, 0);
    out(IER, 0x0f);
    assert_int_equal(in(IER) & 0x0f, 0x0f);
    out(IER, saved);
    /* Loopback: MCR = LOOP | RTS | OUT2 must read MSR bits 7:4 as CTS | DCD. */
    uint8_t save_mcr = in(MCR);
    out(MCR, 0x10 | 0x0a);
    assert_int_equal(in(MSR) & 0xf0, 0x90);
    out(MCR, save_mcr);
    /* FIFO probe: LCR 0xBF, "EFR" (offset 2) = 0, LCR 0, FCR enable: IIR bits 7:6 = 3. */
    out(LCR, 0xbf);
    out(2, 0);
    out(LCR, 0);
    out(IIR, 0x01);
    assert_int_equal(in(IIR) >> 6, 3);
    /* autoconfig_16550a: no EFR behind DLAB (IIR reads nonzero there) ... */
    out(LCR, 0x80);
    assert_int_not_equal(in(2), 0);
    out(LCR, 0);
    /* ... no 64-byte FIFO: with FCR bit 5, IIR bits 7:5 stay 110 (a 16750 would read 111) */
    out(IIR, 0x01 | 0x20);
    assert_int_equal(in(IIR) >> 5, 6);
    /* ... and IER bit 6 (XScale's UUE) does not stick. */
    out(IER, 0x40);
    assert_int_equal(in(IER) & 0x40, 0);
    out(IER, 0);
}

/* Linux's THRE test in serial8250_do_startup: a working 16550 re-asserts THRE whenever THRI
 * is enabled and the transmitter is idle. */
static void test_thre_reasserts(void **state)
{
    (void)state;
    out(IER, 0x02);
    assert_int_equal(in(IIR) & 0x0f, 0x02);   /* raised by enabling THRI */
    assert_int_equal(in(IIR) & 0x0f, 0x01);   /* the read acknowledged it */
    out(IER, 0);
    out(IER, 0x02);
    assert_int_equal(in(IIR) & 0x0f, 0x02);   /* re-asserted */
    assert_int_equal(in(LSR) & 0x40, 0x40);
    /* Every byte sent raises it again (the byte left at once). */
    in(IIR);
    out(RBR, 'x');
    assert_int_equal(in(IIR) & 0x0f, 0x02);
    /* Not while THRI is disabled. */
    out(IER, 0);
    out(RBR, 'y');
    assert_int_equal(in(IIR) & 0x0f, 0x01);
}

static void test_transmit_and_divisor(void **state)
{
    (void)state;
    out(LCR, 0x83);                          /* DLAB, 8N1 */
    out(RBR, 0x01);                          /* DLL: 115200 baud */
    out(IER, 0x00);                          /* DLM */
    assert_int_equal(nsent, 0);              /* the divisor is not data */
    assert_int_equal(in(RBR), 0x01);
    assert_int_equal(in(IER), 0x00);
    out(LCR, 0x03);
    assert_int_equal(in(IER), 0);            /* the real IER again */
    const char *msg = "hello\n";
    for (const char *p = msg; *p; p++) {
        assert_true(in(LSR) & 0x20);
        out(RBR, (uint8_t)*p);
    }
    assert_int_equal(nsent, 6);
    assert_memory_equal(sent, msg, 6);
    out(SCR, 0x5a);
    assert_int_equal(in(SCR), 0x5a);
}

static void test_receive_fifo_and_trigger(void **state)
{
    (void)state;
    /* FIFOs off: one holding register. */
    assert_int_equal(uart_rx_room(&u), 1);
    assert_true(uart_rx_push(&u, 'a'));
    assert_false(uart_rx_push(&u, 'b'));
    assert_int_equal(in(LSR) & 0x01, 1);
    out(IER, 0x01);
    assert_int_equal(in(IIR), 0x04);          /* data available, no FIFO bits */
    assert_int_equal(in(RBR), 'a');
    assert_int_equal(in(LSR) & 0x01, 0);
    assert_int_equal(in(IIR), 0x01);
    /* FIFO on, trigger level 4 (FCR bits 7:6 = 01). */
    out(IIR, 0x41);
    assert_int_equal(uart_rx_room(&u), 16);
    assert_true(uart_rx_push(&u, '1'));
    assert_int_equal(in(IIR), 0xcc);          /* below the trigger: character timeout */
    for (char c = '2'; c <= '4'; c++)
        assert_true(uart_rx_push(&u, (uint8_t)c));
    assert_int_equal(in(IIR), 0xc4);          /* at the trigger: data available */
    for (int i = 4; i < 16; i++)
        assert_true(uart_rx_push(&u, (uint8_t)('a' + i)));
    assert_false(uart_rx_push(&u, 'z'));      /* full: the caller keeps the byte */
    assert_int_equal(uart_rx_room(&u), 0);
    assert_int_equal(in(RBR), '1');
    assert_int_equal(in(RBR), '2');
    /* Data outranks THR empty. */
    out(IER, 0x03);
    assert_int_equal(in(IIR) & 0x0f, 0x04);
    /* FCR clear-receive empties the FIFO; then THRE shows. */
    out(IIR, 0x41 | 0x02);
    assert_int_equal(in(LSR) & 0x01, 0);
    assert_int_equal(in(IIR) & 0x0f, 0x02);
    /* Turning the FIFO off resets it too. */
    assert_true(uart_rx_push(&u, 'q'));
    out(IIR, 0x00);
    assert_int_equal(in(LSR) & 0x01, 0);
}

/* Console input (uart_input): queued whole or refused, fed into the FIFO as the guest drains
 * it, in order; the FIFO never overruns; a full queue refuses and keeps what it has. */
static void test_input_queue_and_flow_control(void **state)
{
    (void)state;
    static uint8_t msg[UART_INPUT_MAX + 32];
    for (unsigned i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 + 1);
    out(IIR, 0xc1);                           /* FIFO on, trigger 14 (what Linux sets) */
    out(IER, 0x05);                           /* RDI | RLSI, as the 8250 driver's startup */
    assert_int_equal(in(IIR), 0xc1);          /* nothing yet */
    assert_true(uart_input(&u, msg, 40));
    assert_int_equal(uart_input_waiting(&u), 40);
    assert_int_equal(uart_rx_room(&u), 0);    /* 16 in the FIFO at once, 24 queued */
    assert_int_equal(in(LSR), 0x61);          /* DR */
    assert_int_equal(in(IIR), 0xc4);          /* 16 >= 14: data available */
    /* The guest reads all 40 in order: the FIFO refills behind each read. */
    for (unsigned i = 0; i < 40; i++) {
        assert_int_equal(in(LSR) & 0x01, 1);
        assert_int_equal(in(RBR), msg[i]);
        assert_int_equal(uart_input_waiting(&u), 40 - i - 1);
    }
    assert_int_equal(in(LSR), 0x60);
    assert_int_equal(in(IIR), 0xc1);
    assert_int_equal(in(RBR), 0);             /* an empty FIFO reads 0, takes nothing */

    /* Full: exactly UART_INPUT_MAX bytes beyond the FIFO's 16 fit; one more is refused and
     * nothing of it is stored. */
    assert_false(uart_input(&u, msg, UART_INPUT_MAX + 17));
    assert_int_equal(uart_input_waiting(&u), 0);
    assert_true(uart_input(&u, msg, 16));     /* straight into the FIFO */
    assert_true(uart_input(&u, msg + 16, UART_INPUT_MAX));
    assert_int_equal(uart_input_waiting(&u), UART_INPUT_MAX + 16);
    assert_false(uart_input(&u, msg, 1));
    assert_int_equal(uart_input_waiting(&u), UART_INPUT_MAX + 16);
    for (unsigned i = 0; i < UART_INPUT_MAX + 16; i++)
        assert_int_equal(in(RBR), msg[i]);
    assert_int_equal(uart_input_waiting(&u), 0);
    assert_true(uart_input(&u, msg, UART_INPUT_MAX));  /* room again */
}

/* FIFOs off: one byte at a time.  Loopback: input waits (the receiver hears THR).  Clearing
 * the FIFO loses only what was in it, as on the chip; the queue's next bytes follow. */
static void test_input_holding_loopback_clear(void **state)
{
    (void)state;
    const uint8_t msg[] = "abcdefghijklmnopqrstuvwxyz";
    assert_true(uart_input(&u, msg, 26));
    assert_int_equal(uart_rx_room(&u), 0);    /* holding register full, 25 queued */
    assert_int_equal(in(RBR), 'a');
    assert_int_equal(in(RBR), 'b');
    out(MCR, 0x10);                           /* loopback */
    assert_int_equal(in(RBR), 'c');           /* already received */
    assert_int_equal(in(LSR) & 0x01, 0);      /* the queue waits */
    out(RBR, 'X');
    assert_int_equal(in(RBR), 'X');
    out(MCR, 0x00);
    assert_int_equal(uart_input_waiting(&u), 23);
    assert_int_equal(in(RBR), 'd');
    out(IIR, 0x01);                           /* FIFO on: resets it ('e' lost); f..u in */
    assert_int_equal(uart_input_waiting(&u), 21);
    assert_int_equal(in(RBR), 'f');           /* and 'v' moves in behind it */
    out(IIR, 0x03);                           /* clear: 'g'..'v' lost, 'w'..'z' come in */
    assert_int_equal(uart_input_waiting(&u), 4);
    for (char c = 'w'; c <= 'z'; c++)
        assert_int_equal(in(RBR), c);
    assert_int_equal(in(LSR) & 0x01, 0);
}

static void test_loopback_and_modem_status(void **state)
{
    (void)state;
    out(MCR, 0x10);                          /* loopback, all outputs off */
    assert_int_equal(in(MSR) & 0xf0, 0);
    assert_false(uart_rx_push(&u, 'x'));     /* the receiver listens to THR now */
    out(RBR, 'L');
    assert_int_equal(nsent, 0);              /* not on the wire */
    assert_int_equal(in(RBR), 'L');
    /* Deltas: DTR -> DSR (DDSR), RTS -> CTS (DCTS), OUT2 -> DCD (DDCD), OUT1 -> RI. */
    in(MSR);
    out(MCR, 0x10 | 0x01 | 0x02 | 0x04 | 0x08);
    assert_int_equal(in(MSR), 0xf0 | 0x0b);  /* no TERI on a leading edge of RI */
    assert_int_equal(in(MSR), 0xf0);         /* read clears the deltas */
    out(MCR, 0x10 | 0x01 | 0x02 | 0x08);     /* RI falls */
    assert_int_equal(in(MSR), 0xb0 | 0x04);
    /* Modem status interrupt, lowest priority, gated onto the line by OUT2. */
    out(IER, 0x08);
    out(MCR, 0x10 | 0x08);                   /* DTR, RTS fall: deltas */
    assert_int_equal(in(IIR) & 0x0f, 0x00);
    assert_true(uart_irq_pending(&u));
    out(MCR, 0x10);
    assert_false(uart_irq_pending(&u));      /* OUT2 off: no line, still identified */
    assert_int_equal(in(IIR) & 0x0f, 0x00);
    in(MSR);
    assert_int_equal(in(IIR) & 0x0f, 0x01);
    /* Leaving loopback: the console's lines again. */
    out(MCR, 0);
    assert_int_equal(in(MSR) & 0xf0, 0xb0);
    assert_true(uart_rx_push(&u, 'x'));
}

static uint64_t rng = 88172645463325252ull;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void test_property_receive_order(void **state)
{
    (void)state;
    uint8_t pushed = 0, expected = 0;  /* the bytes are a running counter */
    unsigned got = 0, queued = 0;
    out(IIR, 0x01);
    for (int step = 0; step < 200000; step++) {
        switch (next() % 8) {
        case 0: case 1: case 2:
            if (uart_rx_push(&u, pushed)) {
                pushed++;
                queued++;
            } else {
                assert_int_equal(queued, 16);
            }
            break;
        case 3: case 4: {
            uint8_t lsr = in(LSR);
            assert_int_equal(lsr & 0x01, queued ? 1 : 0);
            if (lsr & 0x01) {
                assert_int_equal(in(RBR), expected);
                expected++;
                queued--;
                got++;
            }
            break;
        }
        case 5:
            out(IER, (uint8_t)(next() & 0x0f));
            break;
        case 6: {
            /* FIFO stays on; random trigger level, no clearing. */
            uint8_t trig = (uint8_t)(next() & 0xc0);
            out(IIR, (uint8_t)(0x01 | trig));
            uint8_t iir = in(IIR);
            assert_int_equal(iir & 0xc0, 0xc0);
            uint8_t ier = in(IER);
            bool rx = (ier & 0x01) && queued;
            const uint8_t level[4] = { 1, 4, 8, 14 };
            if (rx)
                assert_int_equal(iir & 0x0f, queued >= level[trig >> 6] ? 0x04 : 0x0c);
            else if (!(ier & 0x02) && !(ier & 0x08))
                assert_int_equal(iir & 0x0f, 0x01);
            break;
        }
        case 7:
            out(RBR, (uint8_t)next());           /* transmit in between */
            break;
        }
    }
    assert_true(got > 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reset_values, setup),
        cmocka_unit_test_setup(test_linux_autoconfig, setup),
        cmocka_unit_test_setup(test_thre_reasserts, setup),
        cmocka_unit_test_setup(test_transmit_and_divisor, setup),
        cmocka_unit_test_setup(test_receive_fifo_and_trigger, setup),
        cmocka_unit_test_setup(test_input_queue_and_flow_control, setup),
        cmocka_unit_test_setup(test_input_holding_loopback_clear, setup),
        cmocka_unit_test_setup(test_loopback_and_modem_status, setup),
        cmocka_unit_test_setup(test_property_receive_order, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
