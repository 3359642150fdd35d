/* The library driven from several host threads at once, as the VMM drives it from every pCPU:
 * each thread is a pCPU (schedules itself when kicked or when its timer is due, blocks and
 * yields its vCPU), any thread wakes any vCPU, one thread changes parameters and the policy.
 * Checks: no vCPU ever runs on two pCPUs at once, accounting stays exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/sched_testlib.h"

#define NCPU 4
#define NVCPU 24
#define ITER 40000

struct machine {
    struct sched *s;
    pthread_spinlock_t locks[NCPU + 1 + 4];
    uint64_t clock;                  /* global time, ns (atomic) */
    sched_cpumask_t kicked;          /* atomic */
    int32_t owner[NVCPU];            /* pCPU running each vCPU, -1 = none (atomic) */
    uint64_t doubles;                /* vCPUs seen on two pCPUs (atomic) */
    uint64_t change_errors;          /* failed sched_change calls (atomic) */
    bool gang;
};

static void lk(void *ctx, unsigned id)
{
    pthread_spin_lock(&((struct machine *)ctx)->locks[id]);
}

static void ulk(void *ctx, unsigned id)
{
    pthread_spin_unlock(&((struct machine *)ctx)->locks[id]);
}

struct worker {
    struct machine *m;
    unsigned cpu;
};

static uint64_t now_ns(struct machine *m)
{
    return __atomic_add_fetch(&m->clock, 1000, __ATOMIC_SEQ_CST);
}

static void *pcpu_thread(void *arg)
{
    struct worker *w = arg;
    struct machine *m = w->m;
    struct sched *s = m->s;
    uint64_t r = 0x1234567ull * (w->cpu + 1), next_event = 0;
    struct sched_vcpu *cur = NULL;
    for (int i = 0; i < ITER; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        uint64_t now = now_ns(m);
        sched_cpumask_t mine = (sched_cpumask_t)1 << w->cpu;
        bool due = (__atomic_fetch_and(&m->kicked, ~mine, __ATOMIC_SEQ_CST) & mine) ||
                   now >= next_event;
        if (cur && r % 7 == 0) { /* the guest halts or yields */
            sched_cpumask_t k = r % 2 ? sched_vcpu_block(s, cur, now) : sched_vcpu_yield(s, cur, now);
            __atomic_fetch_or(&m->kicked, k & ~mine, __ATOMIC_SEQ_CST);
            due = true;
        }
        if (r % 5 == 0) { /* an interrupt for some vCPU */
            struct sched_vcpu *v = sched_vcpu_get(s, (unsigned)(r >> 8) % 4, (unsigned)(r >> 16) % 6);
            __atomic_fetch_or(&m->kicked, sched_vcpu_wake(s, v, now), __ATOMIC_SEQ_CST);
        }
        if (w->cpu == 0 && i % 5000 == 4999) {
            const char *pols[] = { "pshare", "stride", "rr", "credit" };
            struct sched_change ch = { .set = SCHED_SET_POLICY | SCHED_SET_WEIGHT,
                                       .policy = pols[(i / 5000) % 4], .vm = 1,
                                       .weight = 100 + (uint32_t)(i % 900) };
            sched_cpumask_t k;
            if (sched_change(s, &ch, now, &k)) /* cmocka asserts belong to the main thread */
                __atomic_fetch_add(&m->change_errors, 1, __ATOMIC_SEQ_CST);
            __atomic_fetch_or(&m->kicked, k, __ATOMIC_SEQ_CST);
        }
        if (!due)
            continue;
        /* The context of CUR is saved before the decision (a VM exit happened): release it. */
        if (cur)
            __atomic_store_n(&m->owner[sched_vcpu_vm(cur) * 6 + sched_vcpu_index(cur)], -1,
                             __ATOMIC_SEQ_CST);
        struct sched_decision d;
        sched_schedule(s, w->cpu, now_ns(m), &d);
        __atomic_fetch_or(&m->kicked, d.kick, __ATOMIC_SEQ_CST);
        next_event = d.next_event_ns;
        cur = d.run;
        if (cur) {
            int32_t expected = -1;
            if (!__atomic_compare_exchange_n(&m->owner[sched_vcpu_vm(cur) * 6 + sched_vcpu_index(cur)],
                                             &expected, (int32_t)w->cpu, false, __ATOMIC_SEQ_CST,
                                             __ATOMIC_SEQ_CST))
                __atomic_fetch_add(&m->doubles, 1, __ATOMIC_SEQ_CST);
        }
    }
    if (cur)
        __atomic_store_n(&m->owner[sched_vcpu_vm(cur) * 6 + sched_vcpu_index(cur)], -1,
                         __ATOMIC_SEQ_CST);
    return NULL;
}

static void run_machine(bool gang)
{
    static struct machine m;
    memset(&m, 0, sizeof(m));
    struct sched_vm_setup vms[4] = { { 6, 256, 0, SCHED_GANG_NONE, 0, -1 },
                                     { 6, 512, 0, SCHED_GANG_NONE, 0, -1 },
                                     { 6, 256, 150, SCHED_GANG_NONE, 0, -1 },
                                     { 6, 256, 0, SCHED_GANG_NONE, 0x3, -1 } };
    if (gang) {
        vms[2].vcpus = 6;
        vms[0].gang = SCHED_GANG_RELAXED;
        vms[3] = (struct sched_vm_setup){ 6, 256, 0, SCHED_GANG_NONE, 0, -1 };
        vms[1].gang = SCHED_GANG_NONE;
    }
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = NCPU;
    st.nvms = 4;
    st.vms = vms;
    st.timeslice_ns = 200000;
    st.ratelimit_ns = 50000;
    st.balance_ns = 1000000;
    for (unsigned i = 0; i < sched_lock_count(&st); i++)
        pthread_spin_init(&m.locks[i], PTHREAD_PROCESS_PRIVATE);
    for (unsigned i = 0; i < NVCPU; i++)
        m.owner[i] = -1;
    size_t size = sched_mem_size(&st);
    void *mem = aligned_alloc(16, (size + 15) & ~(size_t)15);
    struct sched_env env = { &m, lk, ulk };
    assert_int_equal(sched_init(&m.s, mem, size, &st, &env, 0), 0);
    pthread_t th[NCPU];
    struct worker w[NCPU];
    for (unsigned c = 0; c < NCPU; c++) {
        w[c] = (struct worker){ &m, c };
        pthread_create(&th[c], NULL, pcpu_thread, &w[c]);
    }
    for (unsigned c = 0; c < NCPU; c++)
        pthread_join(th[c], NULL);
    assert_int_equal(m.doubles, 0);
    assert_int_equal(m.change_errors, 0);
    uint64_t now = m.clock + 1, ran = 0, runs = 0;
    for (unsigned vm = 0; vm < 4; vm++)
        for (unsigned k = 0; k < 6; k++) {
            struct sched_acct a;
            sched_vcpu_acct(m.s, sched_vcpu_get(m.s, vm, k), now, &a, NULL);
            assert_int_equal(a.running_ns + a.ready_ns + a.blocked_ns + a.costop_ns, a.lifetime_ns);
            ran += a.running_ns;
            runs += a.runs;
        }
    assert_true(runs > 1000);
    assert_true(ran <= NCPU * now); /* never more running than pCPUs */
    free(mem);
}

static void test_four_pcpu_threads(void **state)
{
    (void)state;
    run_machine(false);
}

static void test_four_pcpu_threads_gang_mode(void **state)
{
    (void)state;
    run_machine(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_pcpu_threads),
        cmocka_unit_test(test_four_pcpu_threads_gang_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
