/* sched/cpumask.h: pCPU sets of SCHED_MAX_PCPUS bits.  Each function against a plain bool
 * array (the model), at the word boundaries and the ends of the range, and in random sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sched/cpumask.h"

/* The pCPUs where the words meet and the range ends: every operation is tried on these. */
static const unsigned edges[] = { 0, 1, 62, 63, 64, 65, 127, 128, 191, 192, 254, 255 };
#define NEDGES (sizeof(edges) / sizeof(edges[0]))

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A random set (density 1/DIV) and its model. */
static sched_cpumask_t random_set(uint64_t *r, unsigned div, bool *model)
{
    sched_cpumask_t m = cpumask_none();
    for (unsigned c = 0; c < SCHED_MAX_PCPUS; c++) {
        model[c] = rnd(r) % div == 0;
        if (model[c])
            cpumask_set(&m, c);
    }
    return m;
}

static void check_model(const sched_cpumask_t *m, const bool *model)
{
    unsigned n = 0;
    int first = -1;
    for (unsigned c = 0; c < SCHED_MAX_PCPUS; c++) {
        assert_int_equal(cpumask_test(m, c), model[c]);
        n += model[c];
        if (model[c] && first < 0)
            first = (int)c;
    }
    assert_int_equal(cpumask_count(m), n);
    assert_int_equal(cpumask_any(m), n != 0);
    assert_int_equal(cpumask_first(m), first);
    /* for-each visits exactly the members, in increasing order. */
    unsigned seen = 0;
    int last = -1;
    cpumask_for_each(c, m) {
        assert_true(c > last && c < SCHED_MAX_PCPUS);
        assert_true(model[c]);
        last = c;
        seen++;
    }
    assert_int_equal(seen, n);
}

static void test_width(void **state)
{
    (void)state;
    assert_int_equal(SCHED_MAX_PCPUS, 256);
    assert_int_equal(sizeof(sched_cpumask_t) * 8, SCHED_MAX_PCPUS);
}

static void test_single_bits(void **state)
{
    (void)state;
    bool model[SCHED_MAX_PCPUS];
    for (unsigned i = 0; i < NEDGES; i++) {
        unsigned c = edges[i];
        sched_cpumask_t m = cpumask_of(c);
        memset(model, 0, sizeof(model));
        model[c] = true;
        check_model(&m, model);
        assert_int_equal(cpumask_next(&m, (int)c), -1);
        assert_int_equal(cpumask_next(&m, (int)c - 1), (int)c);
        assert_false(cpumask_any_but(&m, c));
        assert_true(cpumask_any_but(&m, c ^ 1));
        cpumask_clear(&m, c);
        assert_false(cpumask_any(&m));
        cpumask_set(&m, c);
        cpumask_set(&m, c); /* idempotent */
        assert_int_equal(cpumask_count(&m), 1);
    }
    /* Out of range: ignored, never a member. */
    sched_cpumask_t m = cpumask_none();
    cpumask_set(&m, SCHED_MAX_PCPUS);
    cpumask_set(&m, 1000);
    assert_false(cpumask_any(&m));
    assert_false(cpumask_test(&m, SCHED_MAX_PCPUS));
    assert_int_equal(cpumask_next(&m, SCHED_MAX_PCPUS - 1), -1);
    assert_int_equal(cpumask_next(&m, SCHED_MAX_PCPUS + 5), -1);
    assert_int_equal(cpumask_next(&m, -7), -1);
}

static void test_below(void **state)
{
    (void)state;
    bool model[SCHED_MAX_PCPUS];
    const unsigned ns[] = { 0, 1, 2, 63, 64, 65, 128, 200, 255, 256 };
    for (unsigned i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        for (unsigned c = 0; c < SCHED_MAX_PCPUS; c++)
            model[c] = c < ns[i];
        sched_cpumask_t m = cpumask_below(ns[i]);
        check_model(&m, model);
    }
}

/* and/or/andnot/intersects/equal/next against the model, on random sets of several
 * densities (sparse sets exercise next's word skipping). */
static void test_random_sets(void **state)
{
    (void)state;
    uint64_t r = 42;
    static const unsigned divs[] = { 2, 7, 60, 250 };
    for (int round = 0; round < 400; round++) {
        bool ma[SCHED_MAX_PCPUS], mb[SCHED_MAX_PCPUS], mr[SCHED_MAX_PCPUS];
        sched_cpumask_t a = random_set(&r, divs[round % 4], ma);
        sched_cpumask_t b = random_set(&r, divs[(round / 4) % 4], mb);
        check_model(&a, ma);
        bool meet = false, same = true;
        for (unsigned c = 0; c < SCHED_MAX_PCPUS; c++) {
            meet |= ma[c] && mb[c];
            same &= ma[c] == mb[c];
        }
        assert_int_equal(cpumask_intersects(&a, &b), meet);
        assert_int_equal(cpumask_equal(&a, &b), same);
        assert_true(cpumask_equal(&a, &a));

        sched_cpumask_t x = a;
        cpumask_and(&x, &b);
        for (unsigned c = 0; c < SCHED_MAX_PCPUS; c++)
            mr[c] = ma[c] && mb[c];
        check_model(&x, mr);
        x = a;
        cpumask_or(&x, &b);
        for (unsigned c = 0; c < SCHED_MAX_PCPUS; c++)
            mr[c] = ma[c] || mb[c];
        check_model(&x, mr);
        x = a;
        cpumask_andnot(&x, &b);
        for (unsigned c = 0; c < SCHED_MAX_PCPUS; c++)
            mr[c] = ma[c] && !mb[c];
        check_model(&x, mr);

        for (unsigned i = 0; i < NEDGES; i++) {
            int after = (int)edges[i], want = -1;
            for (unsigned c = (unsigned)after + 1; c < SCHED_MAX_PCPUS && want < 0; c++)
                if (ma[c])
                    want = (int)c;
            assert_int_equal(cpumask_next(&a, after), want);
            bool other = false;
            for (unsigned c = 0; c < SCHED_MAX_PCPUS; c++)
                other |= ma[c] && c != edges[i];
            assert_int_equal(cpumask_any_but(&a, edges[i]), other);
        }
    }
}

static void test_atomic(void **state)
{
    (void)state;
    sched_cpumask_t m = cpumask_none(), add = cpumask_of(3);
    for (unsigned i = 0; i < NEDGES; i++)
        cpumask_atomic_set(&m, edges[i]);
    assert_int_equal(cpumask_count(&m), NEDGES);
    sched_cpumask_t copy = cpumask_atomic_load(&m);
    assert_true(cpumask_equal(&copy, &m));
    assert_true(cpumask_atomic_test_and_clear(&m, 128));
    assert_false(cpumask_atomic_test_and_clear(&m, 128)); /* only one caller wins */
    assert_false(cpumask_test(&m, 128));
    cpumask_atomic_clear(&m, 255);
    assert_false(cpumask_test(&m, 255));
    cpumask_set(&add, 200);
    cpumask_atomic_or(&m, &add);
    assert_true(cpumask_test(&m, 3) && cpumask_test(&m, 200) && cpumask_test(&m, 254));
    assert_int_equal(cpumask_count(&m), NEDGES - 2 + 2);
}

static void test_format(void **state)
{
    (void)state;
    char buf[64];
    sched_cpumask_t m = cpumask_none();
    assert_int_equal(cpumask_format(&m, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    m = cpumask_below(4);
    cpumask_set(&m, 8);
    cpumask_set(&m, 63);
    cpumask_set(&m, 64);
    cpumask_set(&m, 255);
    assert_int_equal(cpumask_format(&m, buf, sizeof(buf)), strlen("0-3,8,63-64,255"));
    assert_string_equal(buf, "0-3,8,63-64,255");
    m = cpumask_below(SCHED_MAX_PCPUS);
    cpumask_format(&m, buf, sizeof(buf));
    assert_string_equal(buf, "0-255");
    /* Truncated to fit, NUL-terminated, the wanted length returned (like snprintf). */
    m = cpumask_below(4);
    cpumask_set(&m, 100);
    char small[5];
    memset(small, 'x', sizeof(small));
    assert_int_equal(cpumask_format(&m, small, sizeof(small)), strlen("0-3,100"));
    assert_string_equal(small, "0-3,");
    assert_int_equal(cpumask_format(&m, NULL, 0), strlen("0-3,100"));
    /* Every even pCPU: the longest kind of list. */
    m = cpumask_none();
    for (unsigned c = 0; c < SCHED_MAX_PCPUS; c += 2)
        cpumask_set(&m, c);
    char big[1024];
    size_t n = cpumask_format(&m, big, sizeof(big));
    assert_int_equal(n, strlen(big));
    assert_true(strncmp(big, "0,2,4,", 6) == 0);
    assert_string_equal(big + n - 8, ",252,254");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_width),     cmocka_unit_test(test_single_bits),
        cmocka_unit_test(test_below),     cmocka_unit_test(test_random_sets),
        cmocka_unit_test(test_atomic),    cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
