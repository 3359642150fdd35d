/* sched/trace.h: the per-pCPU rings (wraparound, lost count, unpublished slots, a concurrent
 * writer and reader), tracing off and without rings, and a simulated run whose trace is
 * checked against the simulator's own record of who ran when. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/runq.h" /* sched_trace_emit and the ring's layout */
#include "tests/unit/sched_testlib.h"

static struct sched *traced(unsigned pcpus, uint32_t events, bool on)
{
    static struct sched_vm_setup vm = { 2, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL, 0, 0, false, 0 };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = pcpus;
    st.nvms = 1;
    st.vms = &vm;
    st.trace_events = events;
    st.trace = on;
    return tsched_new(&st);
}

static void emit_n(struct sched *s, unsigned cpu, uint64_t from, uint64_t n)
{
    struct sched_vcpu *v = sched_vcpu_get(s, 0, 1);
    for (uint64_t i = from; i < from + n; i++)
        sched_trace_emit(s, cpu, SCHED_TR_MIGRATE, v, i, 1000 * i);
}

static void test_wraparound_and_lost(void **state)
{
    (void)state;
    struct sched *s = traced(2, 5, true);
    assert_int_equal(sched_trace_capacity(s), 8); /* rounded up to a power of two */
    struct sched_trace_event ev[64];
    uint64_t lost = 99;
    emit_n(s, 1, 0, 20);
    assert_int_equal(sched_trace_drain(s, 0, ev, 64, &lost), 0); /* the other ring */
    assert_int_equal(lost, 0);
    assert_int_equal(sched_trace_drain(s, 1, ev, 64, &lost), 8);
    assert_int_equal(lost, 12); /* the 12 oldest were overwritten */
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(ev[i].arg, 12 + i);
        assert_int_equal(ev[i].t_ns, 1000 * (12 + i));
        assert_int_equal(ev[i].pcpu, 1);
        assert_int_equal(ev[i].vm, 0);
        assert_int_equal(ev[i].vcpu, 1);
        assert_int_equal(ev[i].type, SCHED_TR_MIGRATE);
    }
    assert_int_equal(sched_trace_drain(s, 1, ev, 64, &lost), 0);
    assert_int_equal(lost, 0);
    /* Partial drains continue where they stopped. */
    emit_n(s, 1, 20, 3);
    assert_int_equal(sched_trace_drain(s, 1, ev, 2, &lost), 2);
    assert_int_equal(ev[0].arg, 20);
    assert_int_equal(ev[1].arg, 21);
    assert_int_equal(sched_trace_drain(s, 1, ev, 2, &lost), 1);
    assert_int_equal(ev[0].arg, 22);
    assert_int_equal(lost, 0);
    /* Exactly full: nothing lost. */
    emit_n(s, 1, 23, 8);
    assert_int_equal(sched_trace_drain(s, 1, ev, 64, &lost), 8);
    assert_int_equal(lost, 0);
    assert_int_equal(ev[7].arg, 30);
    tsched_free(s);
}

/* A slot reserved by a writer that has not published it yet: the reader stops before it
 * (nothing lost) and reads it once it is published. */
static void test_unpublished_slot(void **state)
{
    (void)state;
    struct sched *s = traced(1, 8, true);
    struct sched_trace_event ev[16];
    uint64_t lost;
    emit_n(s, 0, 0, 2);
    uint64_t gap = __atomic_fetch_add(&s->trace[0].head, 1, __ATOMIC_SEQ_CST); /* reserved */
    emit_n(s, 0, 3, 2);
    assert_int_equal(sched_trace_drain(s, 0, ev, 16, &lost), 2);
    assert_int_equal(lost, 0);
    assert_int_equal(ev[1].arg, 1);
    assert_int_equal(sched_trace_drain(s, 0, ev, 16, &lost), 0); /* still waiting for it */
    struct sched_trace_slot *sl = &s->trace[0].slot[gap & 7];
    sl->t_ns = 2000;
    sl->who = (uint64_t)SCHED_TR_WAKE << 56;
    sl->arg = 2;
    __atomic_store_n(&sl->seq, gap + 1, __ATOMIC_RELEASE);
    assert_int_equal(sched_trace_drain(s, 0, ev, 16, &lost), 3);
    assert_int_equal(ev[0].arg, 2);
    assert_int_equal(ev[0].type, SCHED_TR_WAKE);
    assert_int_equal(ev[2].arg, 4);
    /* A slot left unpublished while the ring laps it is lost, not waited for. */
    gap = __atomic_fetch_add(&s->trace[0].head, 1, __ATOMIC_SEQ_CST);
    emit_n(s, 0, 6, 9); /* 9 more: the ring passed the gap */
    assert_int_equal(sched_trace_drain(s, 0, ev, 16, &lost), 8);
    assert_int_equal(lost, 2); /* the gap (its slot reused) and the oldest of the 9 */
    assert_int_equal(ev[0].arg, 7);
    assert_int_equal(ev[7].arg, 14);
    tsched_free(s);
}

static void test_off_and_no_rings(void **state)
{
    (void)state;
    struct sched *s = traced(1, 16, false);
    struct sched_trace_event ev[16];
    uint64_t lost;
    assert_false(sched_trace_enabled(s));
    struct sched_vcpu *v = sched_vcpu_get(s, 0, 0);
    sched_vcpu_wake(s, v, 1000);
    tsched_decide(s, 0, 1000, NULL);
    assert_int_equal(sched_trace_drain(s, 0, ev, 16, &lost), 0); /* off: nothing */
    assert_int_equal(sched_trace_enable(s, true), SCHED_OK);
    sched_vcpu_block(s, v, 2000);
    tsched_decide(s, 0, 2000, NULL);
    unsigned n = sched_trace_drain(s, 0, ev, 16, &lost);
    assert_true(n >= 1);
    assert_int_equal(ev[0].type, SCHED_TR_BLOCK);
    assert_int_equal(ev[0].arg, 1); /* it was running */
    assert_int_equal(ev[0].t_ns, 2000);
    assert_int_equal(sched_trace_enable(s, false), SCHED_OK);
    sched_vcpu_wake(s, v, 3000);
    assert_int_equal(sched_trace_drain(s, 0, ev, 16, &lost), 0);
    tsched_free(s);

    s = traced(1, 0, false);
    assert_int_equal(sched_trace_capacity(s), 0);
    assert_int_equal(sched_trace_enable(s, true), SCHED_E_RANGE);
    assert_false(sched_trace_enabled(s));
    assert_int_equal(sched_trace_drain(s, 0, ev, 16, &lost), 0);
    tsched_free(s);
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.trace = true; /* on, without rings */
    assert_int_equal(sched_setup_check(&st), SCHED_E_SETUP);
    st.trace_events = SCHED_TRACE_EVENTS_MAX + 1;
    assert_int_equal(sched_setup_check(&st), SCHED_E_RANGE);
    for (unsigned t = 0; t < SCHED_TR_TYPES; t++)
        assert_int_equal(sched_trace_type_of(sched_trace_type_name(t)), (int)t);
    assert_null(sched_trace_type_name(SCHED_TR_TYPES));
    assert_int_equal(sched_trace_type_of("nope"), -1);
}

/* One writer, one reader at the same time on a small ring: every event read is whole (its
 * fields agree with each other), in order, and read + lost = written. */
#define STRESS_N 300000
struct stress {
    struct sched *s;
    int done;
    uint64_t drains; /* the reader's progress (__atomic) */
};

static void *writer(void *arg)
{
    struct stress *st = arg;
    struct sched_vcpu *v = sched_vcpu_get(st->s, 0, 1);
    uint64_t seen = 0;
    for (uint64_t i = 0; i < STRESS_N; i++) {
        sched_trace_emit(st->s, 0, (unsigned)(i % SCHED_TR_TYPES), v, i, 3 * i);
        /* Every 1000 events, wait for the reader to drain once: the two overlap for sure,
         * and the ring (64) still laps in between. */
        if (i % 1000 == 999) {
            while (__atomic_load_n(&st->drains, __ATOMIC_SEQ_CST) == seen)
                ;
            seen = __atomic_load_n(&st->drains, __ATOMIC_SEQ_CST);
        }
    }
    __atomic_store_n(&st->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_concurrent_writer_reader(void **state)
{
    (void)state;
    struct stress st = { traced(1, 64, true), 0, 0 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, &st), 0);
    static struct sched_trace_event ev[32];
    uint64_t read = 0, lost_total = 0, lost, next = 0;
    for (;;) {
        int done = __atomic_load_n(&st.done, __ATOMIC_SEQ_CST);
        unsigned n = sched_trace_drain(st.s, 0, ev, 32, &lost);
        lost_total += lost;
        for (unsigned i = 0; i < n; i++) {
            assert_true(ev[i].arg >= next); /* in order, never twice */
            next = ev[i].arg + 1;
            assert_int_equal(ev[i].t_ns, 3 * ev[i].arg);
            assert_int_equal(ev[i].type, ev[i].arg % SCHED_TR_TYPES);
            assert_int_equal(ev[i].vcpu, 1);
        }
        read += n;
        __atomic_fetch_add(&st.drains, 1, __ATOMIC_SEQ_CST);
        if (done && !n && !lost)
            break;
    }
    pthread_join(t, NULL);
    assert_int_equal(read + lost_total, STRESS_N);
    assert_true(read >= STRESS_N / 1000); /* a drain in each of the writer's pauses */
    assert_true(lost_total > 0);           /* and it lapped the ring in between */
    print_message("figure: concurrent ring of 64: %llu read, %llu lost of %u\n",
                  (unsigned long long)read, (unsigned long long)lost_total, STRESS_N);
    tsched_free(st.s);
}

/* ---- a simulated run against the simulator's record ---- */

struct collected {
    struct sched_trace_event *ev;
    size_t n, cap;
    uint64_t lost;
};

static void collect(void *ctx, unsigned pcpu, const struct sched_trace_event *ev, unsigned n,
                    uint64_t lost)
{
    struct collected *c = ctx;
    (void)pcpu;
    c->lost += lost;
    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2;
        c->ev = realloc(c->ev, c->cap * sizeof(*c->ev));
        assert_non_null(c->ev);
    }
    memcpy(c->ev + c->n, ev, n * sizeof(*ev));
    c->n += n;
}

static void check_against_record(const char *policy)
{
    struct cfg c;
    tcfg_init(&c, 3, policy);
    tcfg_vm(&c, "hog", 2, "hog");
    tcfg_vm(&c, "tick", 1, "periodic period_us=1000 run_us=100");
    tcfg_vm(&c, "web", 2, "poisson rate_hz=300 service_us=700");
    tcfg_vm(&c, "capped", 1, "hog")->cap = 30;
    tcfg_vm(&c, "gang", 2, "barrier phase_us=2000")->gang = CFG_GANG_STRICT;
    tcfg_vm(&c, "relax", 2, "hog")->gang = CFG_GANG_RELAXED;
    struct collected col = { 0 };
    struct sim_options o = { .switch_cost_ns = -1, .check = true, .trace_events = 1024,
                             .trace_out = collect, .trace_ctx = &col };
    struct sim *sim = tsim(&c, &o);
    tsim_run(sim, 2 * SEC);
    struct sched *s = sim_sched(sim);
    assert_int_equal(col.lost, 0);
    /* Per vCPU: dispatches and running time from the trace alone. */
    enum { MAXV = 16 };
    uint64_t runs[CFG_MAX_VMS][MAXV] = { { 0 } }, ran[CFG_MAX_VMS][MAXV] = { { 0 } };
    uint64_t starts[CFG_MAX_VMS][MAXV] = { { 0 } }; /* runs + resumes (woke still current) */
    struct { bool on; uint32_t vm, vcpu; uint64_t from, last_end; } cur[SCHED_MAX_PCPUS] = { 0 };
    uint64_t types[SCHED_TR_TYPES] = { 0 }, last_t[SCHED_MAX_PCPUS] = { 0 };
    for (size_t i = 0; i < col.n; i++) {
        const struct sched_trace_event *e = &col.ev[i];
        assert_true(e->pcpu < 3 && e->type < SCHED_TR_TYPES);
        types[e->type]++;
        assert_true(e->t_ns >= last_t[e->pcpu]); /* one clock per ring in the simulator */
        last_t[e->pcpu] = e->t_ns;
        if (e->vm == SCHED_TRACE_NO_VM) {
            assert_int_equal(e->type, SCHED_TR_KICK);
            assert_true(e->arg < 3);
            continue;
        }
        assert_true(e->vm < c.nvms && e->vcpu < c.vms[e->vm].vcpus);
        bool start = e->type == SCHED_TR_DISPATCH || (e->type == SCHED_TR_WAKE && e->arg == 1);
        bool end = e->type == SCHED_TR_PREEMPT || (e->type == SCHED_TR_BLOCK && e->arg == 1);
        if (e->type == SCHED_TR_DISPATCH)
            runs[e->vm][e->vcpu]++;
        if (start) {
            starts[e->vm][e->vcpu]++;
            assert_false(cur[e->pcpu].on); /* a pCPU runs one vCPU at a time */
            assert_true(e->t_ns >= cur[e->pcpu].last_end);
            cur[e->pcpu].on = true;
            cur[e->pcpu].vm = e->vm, cur[e->pcpu].vcpu = e->vcpu, cur[e->pcpu].from = e->t_ns;
        } else if (end) {
            /* The running vCPU stops where it runs (a block of a queued one is no end). */
            assert_true(cur[e->pcpu].on && cur[e->pcpu].vm == e->vm &&
                        cur[e->pcpu].vcpu == e->vcpu);
            ran[e->vm][e->vcpu] += e->t_ns - cur[e->pcpu].from;
            cur[e->pcpu].on = false;
            cur[e->pcpu].last_end = e->t_ns;
        }
    }
    for (unsigned p = 0; p < 3; p++)
        if (cur[p].on)
            ran[cur[p].vm][cur[p].vcpu] += sim_now(sim) - cur[p].from;
    uint64_t total_runs = 0;
    for (unsigned m = 0; m < c.nvms; m++)
        for (unsigned k = 0; k < c.vms[m].vcpus; k++) {
            struct sim_record r;
            struct sched_acct a;
            trec(sim, m, k, &r);
            tvcpu_acct(sim, m, k, &a);
            /* The record counts a vCPU that blocked and woke while still current as
             * started again: the trace's resumes. */
            if (runs[m][k] != a.runs || starts[m][k] != r.dispatches || ran[m][k] != r.running_ns)
                fail_msg("%s: vm %u vcpu %u: trace runs %llu starts %llu ran %llu ns; acct runs "
                         "%llu; record dispatches %llu running %llu ns", policy, m, k,
                         (unsigned long long)runs[m][k], (unsigned long long)starts[m][k],
                         (unsigned long long)ran[m][k],
                         (unsigned long long)a.runs, (unsigned long long)r.dispatches,
                         (unsigned long long)r.running_ns);
            total_runs += runs[m][k];
        }
    /* Every kind of event this machine makes was traced. */
    const unsigned want[] = { SCHED_TR_WAKE, SCHED_TR_BLOCK, SCHED_TR_DISPATCH, SCHED_TR_PREEMPT,
                              SCHED_TR_MIGRATE, SCHED_TR_KICK, SCHED_TR_GANG_START,
                              SCHED_TR_GANG_STOP, SCHED_TR_COSTOP, SCHED_TR_CAP_PARK,
                              SCHED_TR_CAP_UNPARK };
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!types[want[i]])
            fail_msg("%s: no %s event", policy, sched_trace_type_name(want[i]));
    tfigure("trace %s: %zu events, %llu dispatches in 2 s", policy, col.n,
            (unsigned long long)total_runs);
    (void)s;
    free(col.ev);
    sim_destroy(sim);
}

static void test_trace_matches_simulator(void **state)
{
    (void)state;
    check_against_record("credit");
    check_against_record("pshare");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wraparound_and_lost),
        cmocka_unit_test(test_unpublished_slot),
        cmocka_unit_test(test_off_and_no_rings),
        cmocka_unit_test(test_concurrent_writer_reader),
        cmocka_unit_test(test_trace_matches_simulator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
