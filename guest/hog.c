/* hog: spins on every vCPU without exits, printing its progress every `report_ms` (default
 * 100) and ending after `run_ms` (default: never; vCPU 0's end ends the VM).  Time is the
 * guest's TSC at the boot info's tsc_hz, counted from this vCPU's start (descheduled time
 * included); HC_TIME_NS if the VMM gave no TSC rate.  The inner loop has no exits.  The last
 * lines: `hog vcpu N: done after N iterations`, then the machine-readable
 * `hog vcpu=<i> iterations=<n> run_ms=<guest ms this vCPU ran, descheduled time included>`. */
#include "guest/rt/rt.h"

#define CHUNK 100000

static uint64_t now(bool tsc)
{
    return tsc ? rt_rdtsc() : hc_time_ns();
}

int guest_main(uint32_t vcpu, const struct guest_boot_info *bi)
{
    bool tsc = bi->tsc_hz != 0;
    uint64_t per_ms = tsc ? bi->tsc_hz / 1000 : 1000000;
    uint64_t report = rt_arg_u64(bi->args, "report_ms", 100) * per_ms;
    uint64_t run = rt_arg_u64(bi->args, "run_ms", 0) * per_ms;
    uint64_t start = now(tsc), next = start + report, iterations = 0, t;
    for (;;) {
        for (uint32_t i = 0; i < CHUNK; i++) {
            iterations++;
            __asm__ volatile("" ::: "memory");
        }
        t = now(tsc);
        if (report && t >= next) {
            rt_printf("hog vcpu %u: progress %lu iterations\n", vcpu, iterations);
            next += ((t - next) / report + 1) * report; /* one line after a long pause */
        }
        if (run && t - start >= run)
            break;
    }
    rt_printf("hog vcpu %u: done after %lu iterations\n", vcpu, iterations);
    rt_printf("hog vcpu=%u iterations=%lu run_ms=%lu\n", vcpu, iterations, (t - start) / per_ms);
    return 0;
}
