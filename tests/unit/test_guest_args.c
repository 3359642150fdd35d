/* Unit tests for the guests' `key=value` arguments (guest/rt/args.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "guest/rt/rt.h"

static void test_arg_u64(void **state)
{
    (void)state;
    const char *a = "  run_ms=250 report_ms=0  mask=0xfF status=7 run=9 bad=12x empty= ";
    assert_int_equal(rt_arg_u64(a, "run_ms", 1), 250);
    assert_int_equal(rt_arg_u64(a, "report_ms", 100), 0);
    assert_int_equal(rt_arg_u64(a, "mask", 0), 255);
    assert_int_equal(rt_arg_u64(a, "status", 0), 7);
    assert_int_equal(rt_arg_u64(a, "run", 0), 9);        /* not a prefix of run_ms */
    assert_int_equal(rt_arg_u64(a, "ms", 5), 5);         /* nor a suffix */
    assert_int_equal(rt_arg_u64(a, "bad", 5), 5);        /* malformed */
    assert_int_equal(rt_arg_u64(a, "empty", 5), 5);
    assert_int_equal(rt_arg_u64(a, "absent", 42), 42);
    assert_int_equal(rt_arg_u64("", "status", 3), 3);
    assert_int_equal(rt_arg_u64("status", "status", 3), 3); /* no '=' */
    assert_int_equal(rt_arg_u64("x=0x", "x", 3), 3);
    assert_int_equal(rt_arg_u64("x=1 x=2", "x", 3), 1);    /* the first counts */
    assert_int_equal(rt_arg_u64("x=18446744073709551615", "x", 3), UINT64_MAX);
}

static void test_arg_str(void **state)
{
    (void)state;
    char buf[8];
    assert_true(rt_arg_str("a=1 mode=write_outside", "mode", buf, sizeof(buf)));
    assert_string_equal(buf, "write_o");                 /* cut to the buffer */
    assert_true(rt_arg_str("mode= x=1", "mode", buf, sizeof(buf)));
    assert_string_equal(buf, "");
    assert_true(rt_arg_str("mode=a=b", "mode", buf, sizeof(buf)));
    assert_string_equal(buf, "a=b");
    strcpy(buf, "keep");
    assert_false(rt_arg_str("model=x", "mode", buf, sizeof(buf)));
    assert_string_equal(buf, "keep");
    assert_false(rt_arg_str("mode=x", "mode", buf, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arg_u64),
        cmocka_unit_test(test_arg_str),
    };
    return cmocka_run_group_tests_name("guest_args", tests, NULL, NULL);
}
