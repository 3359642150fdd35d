/* sched-bench: cost of one scheduling decision (sched_schedule at a slice end: accounting of
 * the outgoing vCPU, pick_next, dispatch, next-event computation) with N always-runnable
 * vCPUs on M pCPUs.
 *   sched-bench POLICY NVCPUS NPCPUS DECISIONS [trace]   prints ns per decision (host clock);
 *   with "trace", scheduling tracing (sched/trace.h) is on: what its events cost (the rings
 *   are never drained, so they wrap: the writer's steady state).
 *   sched-bench --list                               the policy table, one name a line
 * Under callgrind, --toggle-collect=bench_decision counts only the decisions.  Under rtds every
 * vCPU has a reservation (90 % of the machine in all, 10 ms periods), so that EDF decides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/sched.h"

void sched_assert_failed(const char *cond, const char *file, int line)
{
    fprintf(stderr, "%s:%d: scheduler invariant broken: %s\n", file, line, cond);
    abort();
}

static void nolock(void *ctx, unsigned id)
{
    (void)ctx, (void)id;
}

__attribute__((noinline)) void bench_decision(struct sched *s, unsigned cpu, uint64_t now,
                                              struct sched_decision *d)
{
    sched_schedule(s, cpu, now, d);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (unsigned i = 0; sched_policy_list(i); i++)
            printf("%s\n", sched_policy_list(i));
        return 0;
    }
    bool trace = argc == 6 && strcmp(argv[5], "trace") == 0;
    if (argc != 5 && !trace) {
        fprintf(stderr, "usage: sched-bench POLICY NVCPUS NPCPUS DECISIONS [trace]\n");
        return 2;
    }
    unsigned nv = (unsigned)atoi(argv[2]), np = (unsigned)atoi(argv[3]);
    unsigned long n = strtoul(argv[4], NULL, 10);
    struct sched_vm_setup vm = { nv, 256, 0, SCHED_GANG_NONE, CPUMASK_NONE_INIT, -1, NULL,
                                 0, 0, false, 0 };
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.policy = argv[1];
    st.npcpus = np;
    st.nvms = 1;
    st.vms = &vm;
    st.timeslice_ns = 1000000;
    st.ratelimit_ns = 0;
    if (strcmp(st.policy, "rtds") == 0) {
        vm.rt_period_ns = 10000000;
        uint64_t b = vm.rt_period_ns * 9 / 10 * np / nv;
        vm.rt_budget_ns = b > vm.rt_period_ns ? vm.rt_period_ns : b;
    }
    st.trace_events = SCHED_TRACE_EVENTS_DEFAULT; /* the rings exist in both cases */
    st.trace = trace;
    size_t size = sched_mem_size(&st);
    void *mem = aligned_alloc(16, (size + 15) & ~(size_t)15);
    struct sched_env env = { NULL, nolock, nolock };
    struct sched *s;
    int rc = sched_init(&s, mem, size, &st, &env, 0);
    if (rc) {
        fprintf(stderr, "sched-bench: %s\n", sched_strerror(rc));
        return 2;
    }
    for (unsigned i = 0; i < nv; i++)
        sched_vcpu_wake(s, sched_vcpu_get(s, 0, i), 0);
    /* Each pCPU decides in turn, once per time slice: every call is a slice end. */
    uint64_t step = st.timeslice_ns / np + 1, now = 0;
    struct sched_decision d;
    unsigned long switches = 0;
    for (unsigned long i = 0; i < 4ul * np; i++, now += step)
        bench_decision(s, (unsigned)(i % np), now, &d);
    uint64_t t0 = mono_ns();
    for (unsigned long i = 0; i < n; i++, now += step) {
        bench_decision(s, (unsigned)(i % np), now, &d);
        switches += d.switched;
    }
    uint64_t t1 = mono_ns();
    printf("%s %u %u %lu %.1f %lu\n", argv[1], nv, np, n, (double)(t1 - t0) / (double)n, switches);
    free(mem);
    return 0;
}
