/* The library driven from several host threads at once, as the VMM drives it from every pCPU:
 * each thread is a pCPU (schedules itself when kicked or when its timer is due, blocks and
 * yields its vCPU), any thread wakes any vCPU, one thread changes parameters and the policy,
 * and (third test) two more switch VMs between gang modes.
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
    uint64_t gang_switches;          /* successful SCHED_SET_GANG changes (atomic) */
    bool switch_gangs;               /* threads 1 and 2 switch VMs' gang modes */
    /* A lower bound of the gang VMs (atomic): raised after a switch to a gang mode returned,
     * lowered before a switch to none starts — so while it is non-zero a gang VM exists. */
    uint32_t gang_vms;
    uint64_t unlocked_in_gang;       /* runqueue locks taken without the machine lock then */
};

static __thread bool holds_machine_lock;

static void lk(void *ctx, unsigned id)
{
    struct machine *m = ctx;
    pthread_spin_lock(&m->locks[id]);
    if (id == NCPU)
        holds_machine_lock = true;
    else if (id < NCPU && !holds_machine_lock && __atomic_load_n(&m->gang_vms, __ATOMIC_SEQ_CST))
        __atomic_fetch_add(&m->unlocked_in_gang, 1, __ATOMIC_SEQ_CST); /* the contract broken */
}

static void ulk(void *ctx, unsigned id)
{
    struct machine *m = ctx;
    if (id == NCPU)
        holds_machine_lock = false;
    pthread_spin_unlock(&m->locks[id]);
}

/* Switches VM to G, keeping m->gang_vms a lower bound of the library's gang VMs. */
static void gang_switch(struct machine *m, unsigned vm, enum sched_gang g, enum sched_gang *cur,
                        uint64_t now)
{
    struct sched_change ch = { .set = SCHED_SET_GANG, .vm = vm, .gang = g };
    sched_cpumask_t k;
    bool off = *cur != SCHED_GANG_NONE && g == SCHED_GANG_NONE;
    bool on = *cur == SCHED_GANG_NONE && g != SCHED_GANG_NONE;
    if (off)
        __atomic_fetch_sub(&m->gang_vms, 1, __ATOMIC_SEQ_CST);
    if (sched_change(m->s, &ch, now, &k)) {
        __atomic_fetch_add(&m->change_errors, 1, __ATOMIC_SEQ_CST);
        return;
    }
    *cur = g;
    if (on)
        __atomic_fetch_add(&m->gang_vms, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&m->gang_switches, 1, __ATOMIC_SEQ_CST);
    cpumask_atomic_or(&m->kicked, &k);
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
    enum sched_gang gang_mode = SCHED_GANG_NONE; /* of the VM this thread switches */
    for (int i = 0; i < ITER; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        uint64_t now = now_ns(m);
        bool due = cpumask_atomic_test_and_clear(&m->kicked, w->cpu) || now >= next_event;
        if (cur && r % 7 == 0) { /* the guest halts or yields */
            sched_cpumask_t k = r % 2 ? sched_vcpu_block(s, cur, now) : sched_vcpu_yield(s, cur, now);
            cpumask_clear(&k, w->cpu);
            cpumask_atomic_or(&m->kicked, &k);
            due = true;
        }
        if (r % 5 == 0) { /* an interrupt for some vCPU */
            unsigned vm = (unsigned)(r >> 8) % 4;
            struct sched_vcpu *v = sched_vcpu_get(s, vm, (unsigned)(r >> 16) % sched_vm_nvcpus(s, vm));
            sched_cpumask_t k = sched_vcpu_wake(s, v, now);
            cpumask_atomic_or(&m->kicked, &k);
        }
        if (w->cpu == 0 && i % 5000 == 4999) {
            const char *pols[] = { "pshare", "stride", "rr", "credit" };
            struct sched_change ch = { .set = SCHED_SET_POLICY | SCHED_SET_WEIGHT,
                                       .policy = pols[(i / 5000) % 4], .vm = 1,
                                       .weight = 100 + (uint32_t)(i % 900) };
            sched_cpumask_t k;
            if (sched_change(s, &ch, now, &k)) /* cmocka asserts belong to the main thread */
                __atomic_fetch_add(&m->change_errors, 1, __ATOMIC_SEQ_CST);
            cpumask_atomic_or(&m->kicked, &k);
        }
        if (m->switch_gangs && w->cpu == 1 && i % 700 == 699) {
            /* VM 1 (4 vCPUs, may be strict) cycles through every transition; while it is the
             * only gang VM, the machine lock comes and goes with it. */
            static const enum sched_gang cycle[] = { SCHED_GANG_STRICT, SCHED_GANG_NONE,
                                                     SCHED_GANG_RELAXED, SCHED_GANG_STRICT,
                                                     SCHED_GANG_RELAXED, SCHED_GANG_NONE };
            gang_switch(m, 1, cycle[(i / 700) % 6], &gang_mode, now);
        }
        if (m->switch_gangs && w->cpu == 2 && i % 900 == 899) {
            /* VM 3 (6 vCPUs on 2 pCPUs): strict is refused; relaxed and none alternate. */
            struct sched_change ch = { .set = SCHED_SET_GANG, .vm = 3, .gang = SCHED_GANG_STRICT };
            sched_cpumask_t k;
            if (sched_change(s, &ch, now, &k) != SCHED_E_SETUP || cpumask_any(&k))
                __atomic_fetch_add(&m->change_errors, 1, __ATOMIC_SEQ_CST);
            gang_switch(m, 3, (i / 900) % 2 ? SCHED_GANG_NONE : SCHED_GANG_RELAXED, &gang_mode, now);
        }
        if (!due)
            continue;
        /* The context of CUR is saved before the decision (a VM exit happened): release it. */
        if (cur)
            __atomic_store_n(&m->owner[sched_vcpu_vm(cur) * 6 + sched_vcpu_index(cur)], -1,
                             __ATOMIC_SEQ_CST);
        struct sched_decision d;
        sched_schedule(s, w->cpu, now_ns(m), &d);
        cpumask_atomic_or(&m->kicked, &d.kick);
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

enum variant { PLAIN, GANG_MODE, GANG_SWITCHES };

static void run_machine(enum variant var)
{
    static struct machine m;
    memset(&m, 0, sizeof(m));
    bool gang = var == GANG_MODE;
    m.switch_gangs = var == GANG_SWITCHES;
    struct sched_vm_setup vms[4] = { { 6, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 },
                                     { 6, 512, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 },
                                     { 6, 256, 150, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 },
                                     { 6, 256, 0, SCHED_GANG_NONE, tmask(0x3), -1, NULL, 0, 0, false, 0 } };
    if (gang) {
        vms[2].vcpus = 6;
        vms[0].gang = SCHED_GANG_RELAXED;
        vms[3] = (struct sched_vm_setup){ 6, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 };
        vms[1].gang = SCHED_GANG_NONE;
    }
    if (m.switch_gangs)
        vms[1].vcpus = 4; /* can be a strict gang on 4 pCPUs */
    m.gang_vms = gang; /* VM 0 is relaxed for the whole run */
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
    if (m.switch_gangs)
        assert_true(m.gang_switches > 100);
    assert_int_equal(m.unlocked_in_gang, 0);
    for (unsigned vm = 0; vm < 4; vm++)
        for (unsigned k = 0; k < sched_vm_nvcpus(m.s, vm); k++) {
            struct sched_acct a;
            sched_vcpu_acct(m.s, sched_vcpu_get(m.s, vm, k), now, &a, NULL);
            assert_int_equal(a.running_ns + a.ready_ns + a.blocked_ns + a.costop_ns, a.lifetime_ns);
            ran += a.running_ns;
            runs += a.runs;
        }
    assert_true(runs > 1000);
    assert_true(ran <= NCPU * now); /* never more running than pCPUs */
    if (m.switch_gangs) { /* quiet now: a last switch to strict pins VM 1 to 4 distinct pCPUs */
        struct sched_change ch = { .set = SCHED_SET_GANG, .vm = 1, .gang = SCHED_GANG_STRICT };
        sched_cpumask_t k, homes = cpumask_none();
        assert_int_equal(sched_change(m.s, &ch, now, &k), SCHED_OK);
        for (unsigned i = 0; i < 4; i++) {
            struct sched_vcpu_info in;
            sched_vcpu_info(m.s, sched_vcpu_get(m.s, 1, i), &in);
            assert_true(in.pinned);
            cpumask_set(&homes, in.pcpu);
        }
        assert_mask(homes, 0xf);
    }
    free(mem);
}

static void test_four_pcpu_threads(void **state)
{
    (void)state;
    run_machine(PLAIN);
}

static void test_four_pcpu_threads_gang_mode(void **state)
{
    (void)state;
    run_machine(GANG_MODE);
}

/* VMs switch gang modes while every thread schedules: the machine lock is taken and dropped
 * by the entry points as gang VMs come and go, concurrent with them. */
static void test_four_pcpu_threads_gang_switches(void **state)
{
    (void)state;
    run_machine(GANG_SWITCHES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_pcpu_threads),
        cmocka_unit_test(test_four_pcpu_threads_gang_mode),
        cmocka_unit_test(test_four_pcpu_threads_gang_switches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
