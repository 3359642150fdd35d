/* Unit tests for the INIT/STARTUP state machine (vmm/sipi.c) and the Linux platform's fixed
 * ports (vmm/platform.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>

#include "vmm/platform.h"
#include "vmm/sipi.h"

/* Linux's wakeup_secondary_cpu_via_init: INIT assert, INIT de-assert, STARTUP, STARTUP. */
static void test_linux_sequence(void **state)
{
    (void)state;
    enum sipi_state s = SIPI_WAIT_INIT;
    assert_int_equal(sipi_event(&s, SIPI_EV_INIT, 0), SIPI_ACT_NONE);
    assert_int_equal(s, SIPI_WAIT_SIPI);
    assert_int_equal(sipi_event(&s, SIPI_EV_INIT_DEASSERT, 0), SIPI_ACT_NONE);
    assert_int_equal(s, SIPI_WAIT_SIPI);
    assert_int_equal(sipi_event(&s, SIPI_EV_STARTUP, 0x9a), SIPI_ACT_START);
    assert_int_equal(s, SIPI_STARTED);
    /* The second STARTUP of the pair finds it started: ignored, it keeps running. */
    assert_int_equal(sipi_event(&s, SIPI_EV_STARTUP, 0x9a), SIPI_ACT_IGNORED);
    assert_int_equal(s, SIPI_STARTED);
}

/* A STARTUP without INIT does nothing: an AP at power-on waits for INIT first. */
static void test_startup_needs_init(void **state)
{
    (void)state;
    enum sipi_state s = SIPI_WAIT_INIT;
    assert_int_equal(sipi_event(&s, SIPI_EV_STARTUP, 0x10), SIPI_ACT_IGNORED);
    assert_int_equal(s, SIPI_WAIT_INIT);
    assert_int_equal(sipi_event(&s, SIPI_EV_INIT_DEASSERT, 0), SIPI_ACT_NONE);
    assert_int_equal(s, SIPI_WAIT_INIT);
}

/* INIT to a running vCPU (the boot vCPU, or a started sibling: an INIT storm) never resets it. */
static void test_init_to_started(void **state)
{
    (void)state;
    enum sipi_state s = SIPI_STARTED;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(sipi_event(&s, SIPI_EV_INIT, 0), SIPI_ACT_IGNORED);
        assert_int_equal(sipi_event(&s, SIPI_EV_STARTUP, 0x08), SIPI_ACT_IGNORED);
    }
    assert_int_equal(s, SIPI_STARTED);
}

/* Reserved STARTUP vectors (0, 0xA0-0xBF) are ignored and leave it waiting for a good one. */
static void test_reserved_vectors(void **state)
{
    (void)state;
    static const uint8_t bad[] = { 0x00, 0xa0, 0xb5, 0xbf };
    for (unsigned i = 0; i < sizeof(bad); i++) {
        enum sipi_state s = SIPI_WAIT_SIPI;
        assert_int_equal(sipi_event(&s, SIPI_EV_STARTUP, bad[i]), SIPI_ACT_IGNORED);
        assert_int_equal(s, SIPI_WAIT_SIPI);
    }
    static const uint8_t good[] = { 0x01, 0x9f, 0xc0, 0xff };
    for (unsigned i = 0; i < sizeof(good); i++) {
        enum sipi_state s = SIPI_WAIT_SIPI;
        assert_int_equal(sipi_event(&s, SIPI_EV_STARTUP, good[i]), SIPI_ACT_START);
    }
    /* A second INIT while waiting keeps it waiting. */
    enum sipi_state s = SIPI_WAIT_SIPI;
    assert_int_equal(sipi_event(&s, SIPI_EV_INIT, 0), SIPI_ACT_NONE);
    assert_int_equal(s, SIPI_WAIT_SIPI);
    assert_string_equal(sipi_state_name(SIPI_WAIT_SIPI), "wait-sipi");
}

static void test_platform_ports(void **state)
{
    (void)state;
    uint32_t v = 0;
    assert_true(platform_port_read(0x21, 1, &v));
    assert_int_equal(v, 0xff);
    assert_true(platform_port_read(0xa1, 1, &v));
    assert_int_equal(v, 0xff);
    assert_true(platform_port_read(0x42, 1, &v));
    assert_int_equal(v, 0);
    assert_true(platform_port_read(0x61, 1, &v));
    assert_int_equal(v, 0);
    assert_true(platform_port_read(0xcf8, 4, &v));
    assert_int_equal(v, 0xffffffffu);
    assert_true(platform_port_read(0xcfc, 2, &v));
    assert_int_equal(v, 0xffffu);
    /* Not the platform's: the VMM's default (all ones, writes ignored). */
    assert_false(platform_port_read(0x40, 1, &v));
    assert_false(platform_port_read(0x3f8, 1, &v));
    assert_false(platform_port_read(0x600, 1, &v));
    assert_false(platform_port_read(0x80, 1, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux_sequence), cmocka_unit_test(test_startup_needs_init),
        cmocka_unit_test(test_init_to_started), cmocka_unit_test(test_reserved_vectors),
        cmocka_unit_test(test_platform_ports),
    };
    return cmocka_run_group_tests_name("sipi", tests, NULL, NULL);
}
