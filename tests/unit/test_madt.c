/* Unit tests for the MADT parser (boot/madt.c) on tables built here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "boot/madt.h"

struct table {
    uint8_t b[512];
    size_t len;
};

static void begin(struct table *t)
{
    memset(t, 0, sizeof(*t));
    memcpy(t->b, "APIC", 4);
    t->len = 44;
}

static void add(struct table *t, const uint8_t *entry, size_t n)
{
    memcpy(t->b + t->len, entry, n);
    t->len += n;
}

static void add_lapic(struct table *t, uint8_t id, uint32_t flags)
{
    uint8_t e[8] = { 0, 8, id /* UID */, id, (uint8_t)flags, 0, 0, 0 };
    add(t, e, sizeof(e));
}

static void add_x2apic(struct table *t, uint32_t id, uint32_t flags)
{
    uint8_t e[16] = { 9, 16, 0, 0, (uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16),
                      (uint8_t)(id >> 24), (uint8_t)flags };
    add(t, e, sizeof(e));
}

/* Set the length and checksum, as firmware does. */
static void finish(struct table *t)
{
    t->b[4] = (uint8_t)t->len;
    t->b[5] = (uint8_t)(t->len >> 8);
    t->b[9] = 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < t->len; i++)
        sum += t->b[i];
    t->b[9] = (uint8_t)(0x100 - sum);
}

static void test_enabled_cpus_in_order(void **state)
{
    (void)state;
    struct table t;
    begin(&t);
    add_lapic(&t, 0, 1);
    uint8_t ioapic[12] = { 1, 12 };
    add(&t, ioapic, sizeof(ioapic)); /* other entry types are skipped */
    add_lapic(&t, 2, 1);
    add_lapic(&t, 4, 0);             /* disabled */
    add_lapic(&t, 6, 2);             /* online-capable but not enabled */
    add_x2apic(&t, 300, 1);
    add_x2apic(&t, 2, 1);            /* same CPU listed twice: counted once */
    finish(&t);
    uint32_t ids[8];
    assert_int_equal(madt_cpus(t.b, t.len, ids, 8), 3);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 2);
    assert_int_equal(ids[2], 300);
}

static void test_more_cpus_than_room(void **state)
{
    (void)state;
    struct table t;
    begin(&t);
    for (uint8_t i = 0; i < 10; i++)
        add_lapic(&t, i, 1);
    finish(&t);
    uint32_t ids[4];
    assert_int_equal(madt_cpus(t.b, t.len, ids, 4), 10);
    assert_int_equal(ids[3], 3);
}

static void test_malformed_tables(void **state)
{
    (void)state;
    struct table t;
    uint32_t ids[4];
    begin(&t);
    add_lapic(&t, 0, 1);
    finish(&t);
    t.b[9] ^= 1; /* checksum */
    assert_int_equal(madt_cpus(t.b, t.len, ids, 4), -1);
    begin(&t);
    uint8_t bad[2] = { 0, 1 }; /* entry shorter than its header */
    add(&t, bad, 2);
    finish(&t);
    assert_int_equal(madt_cpus(t.b, t.len, ids, 4), -1);
    begin(&t);
    uint8_t overrun[2] = { 0, 40 };
    add(&t, overrun, 2);
    finish(&t);
    assert_int_equal(madt_cpus(t.b, t.len, ids, 4), -1);
    begin(&t);
    finish(&t);
    memcpy(t.b, "FACP", 4);
    assert_int_equal(madt_cpus(t.b, t.len, ids, 4), -1);
    assert_int_equal(madt_cpus(t.b, 10, ids, 4), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enabled_cpus_in_order),
        cmocka_unit_test(test_more_cpus_than_room),
        cmocka_unit_test(test_malformed_tables),
    };
    return cmocka_run_group_tests_name("madt", tests, NULL, NULL);
}
