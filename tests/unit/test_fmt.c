/* Unit tests for vmm/fmt.c: every supported conversion is compared with the host's snprintf,
 * plus truncation and the return value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vmm/fmt.h"

#define SAME(...)                                                                            \
    do {                                                                                     \
        char want[256], got[256];                                                            \
        int wn = snprintf(want, sizeof(want), __VA_ARGS__);                                  \
        size_t gn = fmt_snprintf(got, sizeof(got), __VA_ARGS__);                             \
        assert_string_equal(got, want);                                                      \
        assert_int_equal(gn, (size_t)wn);                                                    \
    } while (0)

/* No format attribute: lets the tests pass formats the compiler would reject. */
static size_t raw(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void test_integers_match_libc(void **state)
{
    (void)state;
    const long long values[] = { 0, 1, -1, 9, 10, 255, -255, 4096, 2147483647, -2147483647 - 1,
                                 INT64_MAX, INT64_MIN, 123456789012345LL };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        long long v = values[i];
        SAME("%d|%i|%5d|%-5d|%05d", (int)v, (int)v, (int)v, (int)v, (int)v);
        SAME("%lld|%20lld|%-20lld|%020lld", v, v, v, v);
        SAME("%ld|%lu|%lx|%lX", (long)v, (unsigned long)v, (unsigned long)v, (unsigned long)v);
        SAME("%u|%x|%X|%08x|%-8x|", (unsigned)v, (unsigned)v, (unsigned)v, (unsigned)v,
             (unsigned)v);
        SAME("%llu|%llx|%016llx", (unsigned long long)v, (unsigned long long)v,
             (unsigned long long)v);
        SAME("%zu|%zx", (size_t)v, (size_t)v);
        SAME("%hhu|%hu|%hhd|%hd", (unsigned char)v, (unsigned short)v, (signed char)v, (short)v);
    }
}

static void test_strings_chars_pointers(void **state)
{
    (void)state;
    SAME("[%s] [%10s] [%-10s] [%c] [%3c] %%", "abc", "abc", "abc", 'x', 'y');
    SAME("%s=%s", "", "v");
    SAME("%p %p", (void *)0x1234, (void *)0xffff800000001000ull);
    char got[32];
    char *volatile null_string = NULL;
    fmt_snprintf(got, sizeof(got), "%s", null_string);
    assert_string_equal(got, "(null)");
}

static void test_truncation(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'Z', sizeof(buf));
    size_t n = fmt_snprintf(buf, sizeof(buf), "hello %s", "world");
    assert_int_equal(n, 11);
    assert_string_equal(buf, "hello w");
    n = fmt_snprintf(buf, 1, "abc");
    assert_int_equal(n, 3);
    assert_int_equal(buf[0], '\0');
    buf[0] = 'Q';
    n = fmt_snprintf(buf, 0, "abc");
    assert_int_equal(n, 3);
    assert_int_equal(buf[0], 'Q'); /* size 0: nothing written */
}

static void test_unknown_and_trailing_percent(void **state)
{
    (void)state;
    char buf[32];
    raw(buf, sizeof(buf), "a%qb");
    assert_string_equal(buf, "a%qb");
    raw(buf, sizeof(buf), "end%");
    assert_string_equal(buf, "end");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_match_libc),
        cmocka_unit_test(test_strings_chars_pointers),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_unknown_and_trailing_percent),
    };
    return cmocka_run_group_tests_name("fmt", tests, NULL, NULL);
}
