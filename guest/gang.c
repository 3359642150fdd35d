/* gang: checks co-scheduling, in a VM with >= 2 vCPUs.  Args: `run_ms=1000` (guest TSC time),
 * `gap_us=200`, `stall_us=2000`, `expect=strict|none` (default strict).
 *
 * After a start barrier, each vCPU spins for run_ms, incrementing its own counter (one cache
 * line each) and reading its TSC every round.  Two consecutive readings more than gap_us apart
 * mean this vCPU was not running in between: that ends a window of continuous running (the
 * stall bookkeeping starts over).  Within a window it watches every sibling's counter: one that
 * did not move for more than stall_us of this vCPU's continuous running was descheduled while
 * this one ran, a violation (counted once per stall).  A sibling that has finished is not
 * watched.  At the end, per vCPU, one line:
 *   gang vcpu=<i> windows=<continuous windows> violations=<n> max_stall_us=<longest sibling
 *        stall seen within a window> run_ms=<this vCPU's guest ms>
 * vCPU 0 waits for all, then returns the OR of the vCPUs' failures: with expect=strict, 1 if
 * any had violations; expect=none always 0 (to show that the checker sees violations when the
 * vCPUs are not co-scheduled); 2 when it cannot run (one vCPU, more than 64, no TSC rate). */
#include <string.h>

#include "guest/rt/rt.h"

#define MAX_VCPUS 64

struct slot {
    volatile uint64_t count;
    volatile uint32_t finished; /* set before the counting stops */
} __attribute__((aligned(64)));

static struct slot slots[MAX_VCPUS];
static volatile uint32_t arrived, reported, failures;

/* Start together: spin, and give the pCPU away only after waiting YIELD_AFTER_US (siblings
 * that are co-scheduled arrive within microseconds; ones sharing our pCPU need it). */
#define YIELD_AFTER_US 5000

static void barrier(uint32_t vcpus, uint64_t per_us)
{
    __atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
    uint64_t since = rt_rdtsc();
    while (__atomic_load_n(&arrived, __ATOMIC_SEQ_CST) < vcpus) {
        rt_pause();
        if (rt_rdtsc() - since > YIELD_AFTER_US * per_us) {
            hc_yield();
            since = rt_rdtsc();
        }
    }
}

int guest_main(uint32_t vcpu, const struct guest_boot_info *bi)
{
    uint32_t n = bi->vcpus;
    uint64_t hz = rt_tsc_hz();
    char expect[16] = "strict";
    rt_arg_str(bi->args, "expect", expect, sizeof(expect));
    bool strict = strcmp(expect, "none") != 0;
    if (n < 2 || n > MAX_VCPUS || hz < 1000000) {
        if (vcpu == 0)
            rt_printf("gang: cannot run: %u vCPUs (needs 2 to %u), tsc_hz=%lu\n", n, MAX_VCPUS,
                      hz);
        return 2;
    }
    uint64_t per_us = hz / 1000000;
    uint64_t run = rt_arg_u64(bi->args, "run_ms", 1000) * (hz / 1000);
    uint64_t gap = rt_arg_u64(bi->args, "gap_us", 200) * per_us;
    uint64_t stall_limit = rt_arg_u64(bi->args, "stall_us", 2000) * per_us;
    if (vcpu == 0)
        rt_printf("gang: %u vcpus, run_ms=%lu gap_us=%lu stall_us=%lu expect=%s\n", n,
                  run / (hz / 1000), gap / per_us, stall_limit / per_us,
                  strict ? "strict" : "none");

    uint64_t last_val[MAX_VCPUS], last_change[MAX_VCPUS];
    bool flagged[MAX_VCPUS];
    uint64_t windows = 1, violations = 0, max_stall = 0;
    volatile uint64_t *mine = &slots[vcpu].count;

    barrier(n, per_us);
    uint64_t start = rt_rdtsc(), prev = start, t = start;
    for (uint32_t j = 0; j < n; j++) {
        last_val[j] = slots[j].count;
        last_change[j] = start;
        flagged[j] = false;
    }
    for (;;) {
        *mine = *mine + 1;
        t = rt_rdtsc();
        if (t - prev > gap) {
            /* We were off the CPU: a new window, nothing carried over. */
            windows++;
            for (uint32_t j = 0; j < n; j++) {
                last_val[j] = slots[j].count;
                last_change[j] = t;
                flagged[j] = false;
            }
        } else {
            for (uint32_t j = 0; j < n; j++) {
                if (j == vcpu || slots[j].finished)
                    continue;
                uint64_t v = slots[j].count;
                if (v != last_val[j]) {
                    last_val[j] = v;
                    last_change[j] = t;
                    flagged[j] = false;
                    continue;
                }
                uint64_t stall = t - last_change[j];
                if (stall > max_stall)
                    max_stall = stall;
                if (stall > stall_limit && !flagged[j]) {
                    flagged[j] = true;
                    violations++;
                }
            }
        }
        prev = t;
        if (t - start >= run) {
            slots[vcpu].finished = 1; /* our counter stays as it is from here on */
            break;
        }
    }

    rt_printf("gang vcpu=%u windows=%lu violations=%lu max_stall_us=%lu run_ms=%lu\n", vcpu,
              windows, violations, max_stall / per_us, (t - start) / (hz / 1000));
    if (strict && violations)
        __atomic_fetch_or(&failures, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&reported, 1, __ATOMIC_SEQ_CST);
    if (vcpu != 0)
        return 0;
    while (__atomic_load_n(&reported, __ATOMIC_SEQ_CST) < n)
        hc_yield();
    return (int)__atomic_load_n(&failures, __ATOMIC_SEQ_CST);
}
