/* The pairing heap against a sorted reference, over many seeded random operation sequences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>

#include "sched/heap.h"
#include "sched/list.h"

struct item {
    struct pheap_node node;
    uint64_t key;
    int in;
};

static bool less(const struct pheap_node *a, const struct pheap_node *b)
{
    return SCHED_CONTAINER_OF(a, struct item, node)->key < SCHED_CONTAINER_OF(b, struct item, node)->key;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static void test_random_sequences_match_reference(void **state)
{
    (void)state;
    enum { N = 200 };
    static struct item items[N];
    for (uint64_t seed = 1; seed <= 200; seed++) {
        uint64_t r = seed * 0x9e3779b97f4a7c15ull;
        struct pheap h;
        pheap_init(&h);
        for (int i = 0; i < N; i++)
            items[i].in = 0;
        int count = 0;
        for (int op = 0; op < 2000; op++) {
            int i = (int)(rnd(&r) % N);
            unsigned what = (unsigned)(rnd(&r) % 3);
            if (what == 0 && !items[i].in) {
                items[i].key = rnd(&r) % 1000;
                pheap_insert(&h, &items[i].node, less);
                items[i].in = 1, count++;
            } else if (what == 1 && items[i].in) {
                pheap_remove(&h, &items[i].node, less);
                items[i].in = 0, count--;
            } else if (what == 2 && count) {
                uint64_t want = UINT64_MAX;
                for (int k = 0; k < N; k++)
                    if (items[k].in && items[k].key < want)
                        want = items[k].key;
                struct item *got = SCHED_CONTAINER_OF(pheap_pop(&h, less), struct item, node);
                assert_int_equal(got->key, want);
                got->in = 0, count--;
            }
        }
        uint64_t last = 0;
        while (count--) { /* drains in order */
            struct item *got = SCHED_CONTAINER_OF(pheap_pop(&h, less), struct item, node);
            assert_true(got->key >= last);
            last = got->key;
        }
        assert_null(pheap_min(&h));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_random_sequences_match_reference) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
